# SPDX-License-Identifier: GPL-3.0-or-later
"""The systemd units (systemd/*.service) and the sd_notify protocol (issue 17).

Units: the build is installed (cmake --install) into a scratch root beside a
copy of this machine's own unit directory, and each unit (ocrq-worker,
ocrq-worker@NAME, ocrq-api) must pass `systemd-analyze verify --root` with
no complaint (ExecStart binaries, directives, man pages of Documentation=)
and get an exposure level of "OK" from `systemd-analyze security
--offline=true`; the scores are printed. PID 1 is not systemd here, so
nothing is started by systemd.

Protocol: this test is systemd. It binds a datagram socket of its own,
starts ocrq-worker (2 OCR processes) with NOTIFY_SOCKET naming it and
WATCHDOG_USEC=1 s, and reads what comes, with the sender's pid
(SCM_CREDENTIALS): READY=1 with a STATUS naming the OCR processes, then
WATCHDOG=1 pings, all from the supervisor, none from its children
(NotifyAccess=main). While the supervisor is stopped (SIGSTOP) no ping comes,
so a stuck supervisor would be restarted; after SIGCONT they come again. A
job still succeeds meanwhile. On SIGTERM: STOPPING=1 and exit 0. ocrq-api
the same: READY=1 once it listens, pings, STOPPING=1 on SIGTERM.
"""

import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import time

import harness as h

UNITS = ["ocrq-worker.service", "ocrq-worker@a.service", "ocrq-api.service"]


class NotifySocket:
    """A stand-in for systemd's notification socket: datagrams with their sender's pid."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(self.path)
        self.sock.setblocking(False)
        self.got = []   # (pid, {key: value})

    def read(self):
        while True:
            try:
                data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
            except BlockingIOError:
                return self.got
            pid = None
            for level, kind, blob in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("iII", blob[:12])[0]
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            self.got.append((pid, fields))

    def count(self, key):
        return sum(1 for _, f in self.read() if key in f)

    def close(self):
        self.sock.close()


def check_units(t):
    for tool in ("systemd-analyze",):
        if not shutil.which(tool):
            raise h.TestFailure(f"{tool} is missing (scripts/install-deps installs systemd)")
    root = h.tmpdir() / "root"
    r = subprocess.run(["cmake", "--install", str(h.BUILD_DIR), "--prefix", str(root / "usr")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    t.check(r.returncode == 0, "cmake --install puts the build into a scratch root", r.stdout[-500:])
    (root / "lib" / "systemd").mkdir(parents=True)
    shutil.copytree("/lib/systemd/system", root / "lib" / "systemd" / "system", symlinks=True)
    units = root / "etc" / "systemd" / "system"
    units.mkdir(parents=True)
    for u in ("ocrq-worker.service", "ocrq-worker@.service", "ocrq-api.service"):
        shutil.copy(h.SOURCE_DIR / "systemd" / u, units / u)
    env = dict(os.environ, MANPATH=str(root / "usr" / "share" / "man"))
    for u in UNITS:
        r = subprocess.run(["systemd-analyze", "verify", f"--root={root}", u], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        t.check(r.returncode == 0 and r.stdout.strip() == "",
                f"systemd-analyze verify {u}: no complaint", r.stdout)
        r = subprocess.run(["systemd-analyze", "security", "--offline=true", f"--root={root}", u],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        m = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", r.stdout)
        print(f"systemd-analyze security {u}: {m.group(1) + ' ' + m.group(2) if m else '?'}")
        t.check(m is not None and m.group(2) == "OK",
                f"systemd-analyze security {u}: exposure level OK", r.stdout[-600:])
    for u in ("ocrq-worker.service", "ocrq-api.service"):
        text = (h.SOURCE_DIR / "systemd" / u).read_text()
        for line in ("Type=notify", "NotifyAccess=main", "ProtectSystem=strict",
                     "NoNewPrivileges=yes", "PrivateTmp=yes", "CapabilityBoundingSet=\n"):
            t.check(line in text, f"{u} has {line.strip()}")
    t.check("OMP_THREAD_LIMIT=1" in (h.SOURCE_DIR / "systemd" / "ocrq-worker.service").read_text(),
            "ocrq-worker.service sets OMP_THREAD_LIMIT=1")


def check_worker(t):
    ns = NotifySocket(h.tmpdir() / "notify-worker")
    w = h.start_worker(processes=2, environ=h.env(NOTIFY_SOCKET=ns.path, WATCHDOG_USEC=1000000))
    h.wait_until(lambda: ns.count("READY") == 1, what="READY=1 from the worker")
    ready = [f for _, f in ns.got if "READY" in f][0]
    t.check("2 OCR processes" in ready.get("STATUS", ""), "READY=1 comes with a STATUS naming the "
            "OCR processes", ready)
    h.wait_until(lambda: ns.count("WATCHDOG") >= 3, what="three watchdog pings")
    kids = h.worker_pids(w)[1:]
    pids = {pid for pid, _ in ns.read()}
    t.check(pids == {w.pid} and len(kids) >= 2,
            "every message comes from the supervisor, none from its children", (pids, w.pid, kids))

    # a supervisor that does not go round its loop does not feed the watchdog
    os.kill(w.pid, signal.SIGSTOP)
    time.sleep(0.3)             # a ping already on its way
    before = ns.count("WATCHDOG")
    time.sleep(2.5)             # five intervals of 0.5 s
    during = ns.count("WATCHDOG") - before
    os.kill(w.pid, signal.SIGCONT)
    t.check(during == 0, "no ping while the supervisor is stopped", during)
    h.wait_until(lambda: ns.count("WATCHDOG") > before + 1, what="pings again after SIGCONT")
    t.check(ns.count("WATCHDOG") > before + 1, "the pings resume after SIGCONT")

    img = h.make_image("Told systemd", h.tmpdir() / "notify.png")
    r = h.submit(["--wait", "--json", str(img)])
    t.check(r.returncode == 0 and '"status":"succeeded"' in r.stdout, "a job succeeds meanwhile",
            r.stdout[-300:] + r.stderr[-300:])

    t.check(h.stop_worker(w) == 0, "the worker exits 0 on SIGTERM")
    stopping = [f for _, f in ns.read() if "STOPPING" in f]
    t.check(len(stopping) == 1, "STOPPING=1 on SIGTERM, once", ns.got[-3:])
    ns.close()


def check_api(t):
    ns = NotifySocket(h.tmpdir() / "notify-api")
    a = h.start_api(environ=h.env(NOTIFY_SOCKET=ns.path, WATCHDOG_USEC=1000000))
    h.wait_until(lambda: ns.count("READY") == 1, what="READY=1 from ocrq-api")
    ready = [f for _, f in ns.got if "READY" in f][0]
    t.check(f":{a.port}" in ready.get("STATUS", ""), "READY=1 says where it listens", ready)
    h.wait_until(lambda: ns.count("WATCHDOG") >= 3, what="three watchdog pings from ocrq-api")
    t.check({pid for pid, _ in ns.read()} == {a.pid}, "every message comes from ocrq-api")
    t.check(h.stop_api(a) == 0, "ocrq-api exits 0 on SIGTERM")
    t.check(ns.count("STOPPING") == 1, "STOPPING=1 on SIGTERM", ns.got[-3:])
    ns.close()


def main(t):
    check_units(t)
    check_worker(t)
    check_api(t)


if __name__ == "__main__":
    h.run(main)
