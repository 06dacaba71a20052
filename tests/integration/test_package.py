# SPDX-License-Identifier: GPL-3.0-or-later
"""The Debian package (packaging/, issue 17), as a user meets it.

`cmake --build BUILD --target package` makes build/ocrq_VERSION_ARCH.deb;
lintian finds no error and no warning in it (its info tags are printed).
Then, in a fresh Debian 12 root (`debootstrap --variant=minbase bookworm`,
kept in /var/tmp/ocrq-deb/pristine and copied for each run, or
OCRQ_DEB_ROOT_CACHE), `dpkg -i` of the package stops on its dependencies and
`apt-get -f install` brings them from the Debian mirror, as a user would do.
Checked there: the ocrq system user exists, /etc/ocrq/ocrq.conf is a
conffile readable by root and ocrq only, the units and man pages are in
place, `ocrq-admin --help` runs; a worker started from the package's own
config as user ocrq (the root shares this machine's network, so it reaches
the test services) OCRs one job that the package's ocrq-submit submits and
waits for; `dpkg --purge` removes the user and the config. Labelled
"package": scripts/test --asan leaves it out (a sanitized build is not a
package anyone installs).
"""

import os
import shutil
import signal
import subprocess

import harness as h

CACHE = os.environ.get("OCRQ_DEB_ROOT_CACHE", "/var/tmp/ocrq-deb/pristine")
MIRROR = "http://deb.debian.org/debian"
TIMEOUT = 900


def run(cmd, t=None, what=None, timeout=TIMEOUT, env=None, ok=(0,)):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=timeout, env=env)
    if t is not None:
        t.check(r.returncode in ok, what or " ".join(map(str, cmd)),
                f"exit {r.returncode}: {r.stdout[-1500:]}")
    return r


def pristine_root():
    """A fresh bookworm minbase root, made once per machine."""
    if os.path.exists(os.path.join(CACHE, "etc", "debian_version")):
        return CACHE
    if not shutil.which("debootstrap"):
        raise h.TestFailure("debootstrap is missing (scripts/install-deps installs it)")
    tmp = CACHE + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.dirname(CACHE), exist_ok=True)
    r = run(["debootstrap", "--variant=minbase", "bookworm", tmp, MIRROR])
    if r.returncode != 0:
        raise h.TestFailure(f"debootstrap failed: {r.stdout[-1500:]}")
    os.rename(tmp, CACHE)
    return CACHE


def in_root(root, args, env=None, user=None):
    cmd = ["chroot"] + ([f"--userspec={user}:{user}"] if user else []) + [root] + args
    e = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
         "DEBIAN_FRONTEND": "noninteractive"}
    e.update(env or {})
    return cmd, e


def main(t):
    build = h.BUILD_DIR
    for old in build.glob("ocrq_*.deb"):
        old.unlink()
    r = run(["cmake", "--build", str(build), "--target", "package"], t,
            "cmake --build --target package makes the .deb")
    debs = sorted(build.glob("ocrq_*.deb"))
    t.check(len(debs) == 1, "one ocrq_*.deb in the build directory", debs)
    deb = debs[0]
    fields = run(["dpkg-deb", "-f", str(deb), "Package", "Depends", "Architecture"]).stdout
    t.check("Package: ocrq" in fields and "libtesseract5" in fields and "libpq5" in fields
            and "tesseract-ocr-eng" in fields,
            "its Depends name the runtime libraries (dpkg-shlibdeps) and the language data", fields)
    files = run(["dpkg-deb", "-c", str(deb)]).stdout
    for path in ("./usr/bin/ocrq-worker", "./usr/bin/ocrq-submit", "./usr/bin/ocrq-api",
                 "./usr/bin/ocrq-admin", "./etc/ocrq/ocrq.conf",
                 "./lib/systemd/system/ocrq-worker.service",
                 "./lib/systemd/system/ocrq-worker@.service",
                 "./lib/systemd/system/ocrq-api.service", "./usr/share/man/man1/ocrq-submit.1.gz",
                 "./usr/share/man/man5/ocrq.conf.5.gz", "./usr/share/man/man8/ocrq-worker.8.gz",
                 "./usr/share/doc/ocrq/copyright", "./usr/share/doc/ocrq/changelog.gz"):
        t.check(path in files, f"the package holds {path}")

    if not shutil.which("lintian"):
        raise h.TestFailure("lintian is missing (scripts/install-deps installs it)")
    r = run(["lintian", "--allow-root", "-I", "--pedantic", str(deb)])
    tags = [line for line in r.stdout.splitlines() if line[:2] in ("E:", "W:", "I:", "P:")]
    for line in tags:
        print(f"lintian: {line}")
    bad = [line for line in tags if line[:2] in ("E:", "W:")]
    t.check(r.returncode == 0 and not bad, "lintian: no error, no warning", "\n".join(bad))

    # a fresh Debian root, with this machine's network (the mirror, the test services)
    root = str(h.tmpdir() / "root")
    run(["cp", "-a", pristine_root(), root], t, "a copy of the fresh bookworm root")
    shutil.copy("/etc/resolv.conf", os.path.join(root, "etc", "resolv.conf"))
    with open(os.path.join(root, "usr", "sbin", "policy-rc.d"), "w") as f:
        f.write("#!/bin/sh\nexit 101\n")   # start no daemon in the root
    os.chmod(os.path.join(root, "usr", "sbin", "policy-rc.d"), 0o755)
    shutil.copy(deb, os.path.join(root, "tmp", deb.name))
    mounts = []
    worker = None
    try:
        for what, args in (("proc", ["-t", "proc", "proc"]), ("dev", ["--bind", "/dev"])):
            target = os.path.join(root, what)
            run(["mount", *args, target], t, f"mount /{what} in the root")
            mounts.append(target)
        cmd, env = in_root(root, ["apt-get", "update", "-qq"])
        run(cmd, t, "apt-get update in the root", env=env)
        cmd, env = in_root(root, ["dpkg", "-i", f"/tmp/{deb.name}"])
        r = run(cmd, env=env)
        t.check(r.returncode != 0 and "dependency problems" in r.stdout,
                "dpkg -i alone stops on the missing libraries", r.stdout[-800:])
        cmd, env = in_root(root, ["apt-get", "-y", "-q", "-f", "install",
                                  "--no-install-recommends"])
        run(cmd, t, "apt-get -f install brings the dependencies and configures ocrq", env=env)
        cmd, env = in_root(root, ["dpkg-query", "-W", "-f=${Status}", "ocrq"])
        t.check(run(cmd, env=env).stdout == "install ok installed", "ocrq is installed")

        passwd = open(os.path.join(root, "etc", "passwd")).read()
        t.check("\nocrq:" in "\n" + passwd, "postinst made the ocrq system user")
        conf = os.path.join(root, "etc", "ocrq", "ocrq.conf")
        st = os.stat(conf)
        group = [line.split(":") for line in open(os.path.join(root, "etc", "group"))
                 if line.startswith("ocrq:")]
        t.check(oct(st.st_mode & 0o777) == "0o640" and st.st_uid == 0 and group
                and st.st_gid == int(group[0][2]),
                "/etc/ocrq/ocrq.conf is root:ocrq 0640", (oct(st.st_mode), st.st_uid, st.st_gid))
        conffiles = open(os.path.join(root, "var", "lib", "dpkg", "info", "ocrq.conffiles")).read()
        t.check("/etc/ocrq/ocrq.conf" in conffiles, "it is a conffile")
        cmd, env = in_root(root, ["ocrq-admin", "--help"])
        r = run(cmd, env=env)
        t.check(r.returncode == 0 and "ocrq-admin" in r.stdout, "ocrq-admin --help runs in the root",
                r.stdout[-400:])

        # a worker from the package, as user ocrq with the package's config
        port = h.free_port()
        services = {"OCRQ_AMQP_URL": h.AMQP_URL, "OCRQ_DATABASE_URL": h.DATABASE_URL}
        cmd, env = in_root(root, ["/usr/bin/ocrq-worker", "--config", "/etc/ocrq/ocrq.conf",
                                  "--processes", "1", "--name", "packaged"], user="ocrq",
                           env=dict(services, OMP_THREAD_LIMIT="1",
                                    OCRQ_METRICS_LISTEN=f"127.0.0.1:{port}"))
        log = open(h.tmpdir() / "packaged-worker.log", "w")
        worker = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        text = "Installed from the package"
        h.make_image(text, os.path.join(root, "tmp", "job.png"))
        cmd, env = in_root(root, ["ocrq-submit", "--wait", "--json", "--timeout", "120",
                                  "/tmp/job.png"], env=services)
        r = run(cmd, env=env, timeout=300)
        t.check(r.returncode == 0 and '"status":"succeeded"' in r.stdout,
                "the package's ocrq-submit --wait: the package's worker OCRed the job",
                r.stdout[-600:])
        rows = h.db_query("SELECT j.worker, r.text FROM ocr_jobs j JOIN ocr_results r USING"
                          " (job_id)")
        t.check(len(rows) == 1 and rows[0]["worker"].startswith("packaged") and text in rows[0]["text"],
                "its result, by the packaged worker, holds the text", rows)
        worker.send_signal(signal.SIGTERM)
        t.check(worker.wait(60) == 0, "the packaged worker exits 0 on SIGTERM")
        worker = None

        cmd, env = in_root(root, ["dpkg", "--purge", "ocrq"])
        run(cmd, t, "dpkg --purge ocrq", env=env)
        passwd = open(os.path.join(root, "etc", "passwd")).read()
        t.check("\nocrq:" not in "\n" + passwd and not os.path.exists(conf),
                "the purge removed the user and the config")
    finally:
        if worker is not None:
            worker.kill()
            worker.wait()
        for target in reversed(mounts):
            subprocess.run(["umount", "-l", target])
        if not any(os.path.ismount(m) for m in mounts):
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    h.run(main)
