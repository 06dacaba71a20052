# SPDX-License-Identifier: GPL-3.0-or-later
"""The command-line contracts of docs/design.md: help, usage errors, exit
codes for a missing file (1), an unreachable broker (3) and an expired
--wait --timeout (4); ocrq-admin setup is idempotent and status lists the
queues; a config file with an unknown key is refused with exit 2 and a
"file:line: key: reason" message."""

import json
import re

import harness as h


def main(t):
    img = h.make_image("Command line", h.tmpdir() / "cli.png")

    r = h.submit(["--help"])
    missing = [o for o in ("--priority", "--lang", "--wait", "--timeout", "--output", "--json",
                           "--config", "--recursive") if o not in r.stdout + r.stderr]
    t.check(r.returncode == 0 and not missing, "ocrq-submit --help exits 0 and lists the options",
            f"exit {r.returncode}, missing {missing}")
    r = h.submit(["--version"])
    t.check(r.returncode == 0 and re.search(r"\d+\.\d+", r.stdout + r.stderr),
            "ocrq-submit --version exits 0 and prints a version", r.stdout + r.stderr)

    for bad in ("10", "-1", "high"):
        r = h.submit(["-p", bad, img])
        t.check(r.returncode == 2 and r.stderr.strip(), f"--priority {bad} exits 2 with a message",
                f"exit {r.returncode}; stderr: {r.stderr.strip()!r}")
    r = h.submit(["--no-such-option", img])
    t.check(r.returncode == 2, "an unknown option exits 2", f"exit {r.returncode}")
    r = h.submit([])
    t.check(r.returncode == 2, "no input exits 2", f"exit {r.returncode}")

    nofile = h.tmpdir() / "does-not-exist.png"
    r = h.submit([nofile])
    t.check(r.returncode == 1 and "does-not-exist.png" in r.stderr,
            "a missing file exits 1 and names the file",
            f"exit {r.returncode}; stderr: {r.stderr.strip()!r}")

    down = h.env(OCRQ_AMQP_URL="amqp://guest:guest@127.0.0.1:1/")
    r = h.submit([img], environ=down, timeout=120)
    t.check(r.returncode == 3 and r.stderr.strip(), "an unreachable broker exits 3 with a message",
            f"exit {r.returncode}; stderr: {r.stderr.strip()!r}")
    h.purge_queues()

    # No worker runs: the job stays queued and --wait gives up.
    r = h.submit(["--wait", "--timeout", "2", "-q", img], timeout=120)
    t.check(r.returncode == 4, "--wait --timeout 2 with no worker exits 4",
            f"exit {r.returncode}; stderr: {r.stderr.strip()!r}")
    h.purge_queues()

    for i in (1, 2):
        r = h.admin(["setup"])
        t.check(r.returncode == 0, f"ocrq-admin setup run {i} exits 0",
                f"exit {r.returncode}; stderr: {r.stderr.strip()!r}")
    r = h.admin(["status"])
    missing = [q for q in (h.JOB_QUEUE, h.PRIORITY_QUEUE, h.FAILED_QUEUE) if q not in r.stdout]
    t.check(r.returncode == 0 and not missing, "ocrq-admin status exits 0 and shows the queues",
            f"exit {r.returncode}, missing {missing}; stdout: {r.stdout!r}")
    r = h.admin(["status", "--json"])
    try:
        names = [q["name"] for q in json.loads(r.stdout)["queues"]]
    except (ValueError, KeyError, TypeError):
        names = []
    t.check(r.returncode == 0 and set(h.ALL_QUEUES) <= set(names),
            "ocrq-admin status --json exits 0 and lists every queue", r.stdout)
    r = h.admin(["no-such-command"])
    t.check(r.returncode == 2, "ocrq-admin with an unknown command exits 2", f"exit {r.returncode}")

    conf = h.tmpdir() / "bad.conf"
    conf.write_text("# a comment\n"
                    "ocr = {\n"
                    "    max_pixels = 1000000;\n"
                    "    no_such_key = 1;\n"
                    "};\n")
    pattern = re.compile(re.escape(str(conf)) + r":4: (ocr\.)?no_such_key: ")
    r = h.admin(["-c", conf, "status"])
    t.check(r.returncode == 2 and pattern.search(r.stderr),
            "ocrq-admin: a config with an unknown key exits 2 with 'file:4: key: reason'",
            f"exit {r.returncode}; stderr: {r.stderr.strip()!r}")
    r = h.submit(["-c", conf, img])
    t.check(r.returncode == 2 and pattern.search(r.stderr),
            "ocrq-submit: the same config exits 2 with 'file:4: key: reason'",
            f"exit {r.returncode}; stderr: {r.stderr.strip()!r}")
    r = h.run_cmd([h.WORKER, "-c", conf], timeout=60)
    t.check(r.returncode == 2 and pattern.search(r.stderr),
            "ocrq-worker: the same config exits 2 with 'file:4: key: reason'",
            f"exit {r.returncode}; stderr: {r.stderr.strip()[-300:]!r}")


if __name__ == "__main__":
    h.run(main)
