# SPDX-License-Identifier: GPL-3.0-or-later
"""The man pages (docs/man, scripts/mangen): each page in the build tree is
what scripts/mangen makes now from its prose file and the freshly built
program's --help (or conf/ocrq.conf), so none is stale; every option the
program's --help prints is in the page's OPTIONS or COMMANDS, every setting
of conf/ocrq.conf (as section.key, with its default) in ocrq.conf(5); every
page renders with no groff warning; and the hand-written prose names no
option, setting, variable or page that does not exist. Needs no services."""

import os
import re
import subprocess
import sys
import tempfile

ROOT = os.environ.get("OCRQ_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BUILD = os.environ.get("OCRQ_BIN_DIR") or os.path.join(ROOT, "build")
PROGRAMS = {"ocrq-submit": 1, "ocrq-worker": 8, "ocrq-api": 8, "ocrq-admin": 8}
PAGES = [f"{p}.{s}" for p, s in PROGRAMS.items()] + ["ocrq.conf.5"]
CONF = os.path.join(ROOT, "conf", "ocrq.conf")
OPTION = r"(?<![\w/-])(--[a-z][a-z0-9-]*|-[A-Za-z])(?![\w-])"
VERSION = re.search(r"project\(ocrq VERSION ([0-9.]+)",
                    open(os.path.join(ROOT, "CMakeLists.txt")).read()).group(1)
failed = passed = 0


def check(ok, what, detail=""):
    global failed, passed
    print(("PASS" if ok else "FAIL") + ": " + what + (f" ({detail})" if detail and not ok else ""))
    failed, passed = failed + (not ok), passed + bool(ok)


def sections(roff):
    """A page's sections as plain text: {title: text}."""
    out, cur = {}, None
    for line in roff.split("\n"):
        m = re.match(r'\.SH "?([^"]*)"?$', line)
        if m:
            cur = m.group(1)
            out[cur] = ""
        elif cur and not line.startswith((".", "'")):
            text = re.sub(r"\\f[BIRP]|\\&", "", line).replace("\\-", "-").replace("\\e", "\\")
            out[cur] += text + "\n"
    return out


def conf_keys():
    """conf/ocrq.conf read on its own: {section.key: default} and string values."""
    keys, values, group = {}, set(), None
    for line in open(CONF, encoding="utf-8"):
        s = line.split("#")[0].strip() if not line.lstrip().startswith("#") else ""
        if re.fullmatch(r"\w+:", s):
            group = s[:-1]
        m = re.fullmatch(r"(\w+)\s*=\s*(.*?);", s)
        if m and group:
            keys[f"{group}.{m.group(1)}"] = m.group(2)
            values.update(re.findall(r'"([^"]*)"', m.group(2)))
    return keys, values


def main():
    helps = {}
    for prog in PROGRAMS:
        r = subprocess.run([os.path.join(BUILD, "bin", prog), "--help"], capture_output=True,
                           text=True)
        check(r.returncode == 0 and r.stdout, f"{prog} --help works", r.stderr)
        helps[prog] = r.stdout
    keys, values = conf_keys()
    check(len(keys) > 50, f"conf/ocrq.conf has settings ({len(keys)})")

    with tempfile.TemporaryDirectory() as tmp:
        for page in PAGES:
            path = os.path.join(BUILD, "man", page)
            if not os.path.exists(path):
                check(False, f"{page} was built", path)
                continue
            built = open(path, encoding="ascii").read()
            prog = page.rsplit(".", 1)[0]
            src = ["--conf", CONF] if prog == "ocrq.conf" else [
                "--help-of", os.path.join(BUILD, "bin", prog)]
            fresh = os.path.join(tmp, page)
            subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "mangen")] + src
                           + ["--version", VERSION, "-o", fresh,
                              os.path.join(ROOT, "docs", "man", page + ".in")], check=True)
            check(built == open(fresh, encoding="ascii").read(),
                  f"{page} is up to date with its sources (rebuild to regenerate it)")
            r = subprocess.run(["groff", "-man", "-ww", "-z", "-Tutf8", path],
                               capture_output=True, text=True)
            check(r.returncode == 0 and not r.stderr, f"{page} renders with no warning",
                  r.stderr.strip()[:500])
            secs = sections(built)
            if prog in helps:
                text = secs.get("OPTIONS", "") + secs.get("COMMANDS", "")
                opts = sorted(set(re.findall(OPTION, helps[prog])))
                missing = [o for o in opts
                           if not re.search(r"(?<![\w/-])%s(?![\w-])" % re.escape(o), text)]
                check(len(opts) >= 5 and not missing,
                      f"{page}: the {len(opts)} options of --help are in OPTIONS/COMMANDS",
                      f"missing {missing}")
            else:
                text = secs.get("SETTINGS", "")
                missing = [k for k, v in keys.items() if f"{k} = {v}" not in text]
                check(not missing, f"{page}: the {len(keys)} settings of conf/ocrq.conf are "
                      "in SETTINGS with their defaults", f"missing {missing[:10]}")
    check_prose(helps, keys, values)
    print(f"test_man_pages: {passed} passed, {failed} failed")
    return 1 if failed else 0


def check_prose(helps, keys, values):
    """What docs/man/*.in names must exist: options (of the program before them
    on an example line, else of the page's own program), section.key settings,
    OCRQ_ variables and ocrq pages."""
    allopts = set(re.findall(OPTION, "".join(helps.values())))
    alltext = "".join(helps.values()) + open(CONF, encoding="utf-8").read()
    groups = "|".join(sorted({k.split(".")[0] for k in keys}))
    for page in PAGES:
        own = page.rsplit(".", 1)[0]
        bad = []
        for line in open(os.path.join(ROOT, "docs", "man", page + ".in"), encoding="utf-8"):
            if line.startswith("#"):
                continue
            if line.startswith("    "):  # an example: each ocrq command on it
                for seg in re.split(r"[|;&()`]", line):
                    m = re.search(r"\b(ocrq-(?:submit|worker|api|admin))\b(.*)", seg)
                    if m:
                        bad += [f"{m.group(1)} {o}" for o in re.findall(OPTION, m.group(2))
                                if o not in re.findall(OPTION, helps[m.group(1)])]
                for g, body in re.findall(r"(\w+):\s*\{(.*?)\}", line):  # config examples
                    bad += [f"{g}.{k}" for k in re.findall(r"(\w+)\s*=", body)
                            if f"{g}.{k}" not in keys]
            else:
                known = set(re.findall(OPTION, helps[own])) if own in helps else allopts
                bad += [o for o in re.findall(OPTION, line) if o not in known]
            for k in re.findall(r"(?<![\w/.-])((?:%s)\.\w+)\b(?!\.\w)" % groups, line):
                if k not in keys and k not in values:
                    bad.append(k)
            bad += [v for v in re.findall(r"\bOCRQ_[A-Z_]+\b", line) if v not in alltext]
            bad += [f"{n}({s})" for n, s in re.findall(r"\b(ocrq[\w.-]*)\((\d)\)", line)
                    if f"{n}.{s}" not in PAGES]
        check(not bad, f"docs/man/{page}.in names only options, settings, variables and "
              "pages that exist", f"unknown: {sorted(set(bad))}")


if __name__ == "__main__":
    sys.exit(main())
