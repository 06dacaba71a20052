# SPDX-License-Identifier: GPL-3.0-or-later
"""CPU pinning and device placement of the OCR processes (docs/fleet.md,
"Pinning and devices"), read from /proc for every direct child of the
supervisor once it has executed itself:

* processes = 2, cpus = "0-1": each child on a CPU of its own ({0} and {1}),
  OMP_THREAD_LIMIT = 1 (worker.omp_thread_limit defaults to 1); a job succeeds.
* processes = 2, cpus = "1": more children than CPUs, both on CPU 1.
* processes = 1, cpus = "0-1", omp_thread_limit = 4: the child has both CPUs
  and OMP_THREAD_LIMIT = 2 (its CPUs, under the cap).
* processes = 2, cpus = "" (default): no pinning; each child may use every CPU
  the supervisor may.
* device = "gpu", gpus = [0], no fallback: exits 2 and says why (GPU).
* device = "gpu", gpus = [0], gpu_fallback_cpu = true, cpus = "0-1", 2
  processes: runs; each child has CUDA_VISIBLE_DEVICES=0 and is pinned; each
  child logs the fallback once; a job succeeds.

The test's own environment has no OMP_THREAD_LIMIT or CUDA_VISIBLE_DEVICES
(the worker keeps an inherited OMP_THREAD_LIMIT)."""

import os
import re
import subprocess

import harness as h

ENVIRON = None  # set in main(): h.env() without OMP_THREAD_LIMIT and CUDA_VISIBLE_DEVICES
LINE_PID = re.compile(r"^\S+ \S+ \S+\[(\d+)\] ")


def children(conf, n, what):
    """Start a supervisor with conf, wait for its n children; returns (p, {pid: (cpus, env)})."""
    p = h.start_worker(conf, environ=ENVIRON)
    kids = h.wait_children(p, n, what=f"{n} OCR children ({what})")
    h.wait_idle_consumers(n)  # connected and idle: a SIGTERM now is an ordinary stop
    info = {}
    for k in kids:
        info[k] = (h.cpu_list(h.proc_status(k)["Cpus_allowed_list"]), h.proc_environ(k))
    print(f"{what}: " + ", ".join(f"pid {k} cpus {sorted(c)} OMP_THREAD_LIMIT="
                                   f"{e.get('OMP_THREAD_LIMIT')} CUDA_VISIBLE_DEVICES="
                                   f"{e.get('CUDA_VISIBLE_DEVICES')}" for k, (c, e) in info.items()),
          flush=True)
    return p, info


def run_one_job(t, what):
    img = h.make_image("Pinned worker job", h.tmpdir() / "pinned.png")
    job_id = h.submit_json([img])[0]["job_id"]
    row = h.wait_finished([job_id], what=f"the job ({what})")[0]
    t.check(row["status"] == "succeeded", f"a job succeeds ({what})",
            {k: row[k] for k in ("status", "error_code", "error_message")})


def stop(t, p, what):
    t.check(h.stop_worker(p) == 0, f"the supervisor exits 0 on SIGTERM ({what})", h.log_tail(p))


def main(t):
    global ENVIRON
    ENVIRON = h.env(OMP_THREAD_LIMIT=None, CUDA_VISIBLE_DEVICES=None)
    allowed = os.sched_getaffinity(0)
    t.require({0, 1} <= allowed, "this test may run on CPUs 0 and 1", sorted(allowed))

    # 2 processes on "0-1": one CPU each.
    what = 'processes 2, cpus "0-1"'
    p, info = children(h.fleet_config({"worker.processes": 2, "worker.cpus": "0-1"}), 2, what)
    t.check(sorted(sorted(c) for c, _ in info.values()) == [[0], [1]],
            f"each child has a CPU of its own, {{0}} and {{1}} ({what})",
            {k: sorted(c) for k, (c, _) in info.items()})
    t.check(all(e.get("OMP_THREAD_LIMIT") == "1" for _, e in info.values()),
            f"OMP_THREAD_LIMIT=1 in each child's environment ({what})",
            {k: e.get("OMP_THREAD_LIMIT") for k, (_, e) in info.items()})
    run_one_job(t, what)
    stop(t, p, what)

    # More processes than CPUs: both on CPU 1.
    what = 'processes 2, cpus "1"'
    p, info = children(h.fleet_config({"worker.processes": 2, "worker.cpus": "1"}), 2, what)
    t.check(all(c == {1} for c, _ in info.values()), f"both children on CPU 1 only ({what})",
            {k: sorted(c) for k, (c, _) in info.items()})
    t.check(all(e.get("OMP_THREAD_LIMIT") == "1" for _, e in info.values()),
            f"OMP_THREAD_LIMIT=1 in each child's environment ({what})",
            {k: e.get("OMP_THREAD_LIMIT") for k, (_, e) in info.items()})
    stop(t, p, what)

    # One process with two CPUs and a cap above that: OMP_THREAD_LIMIT is its CPU count.
    what = 'processes 1, cpus "0-1", omp_thread_limit 4'
    p, info = children(h.fleet_config({"worker.processes": 1, "worker.cpus": "0-1",
                                       "worker.omp_thread_limit": 4}), 1, what)
    (cpus, environ), = info.values()
    t.check(cpus == {0, 1}, f"the child may run on CPUs 0 and 1 ({what})", sorted(cpus))
    t.check(environ.get("OMP_THREAD_LIMIT") == "2",
            f"OMP_THREAD_LIMIT=2, its number of CPUs ({what})", environ.get("OMP_THREAD_LIMIT"))
    stop(t, p, what)

    # cpus = "" (the default): no pinning, every child may use every CPU the supervisor may.
    what = 'processes 2, cpus ""'
    p, info = children(h.fleet_config({"worker.processes": 2, "worker.cpus": ""}), 2, what)
    sets = [c for c, _ in info.values()]
    t.check(all(c == allowed for c in sets),
            f"the children are not pinned: each may use the supervisor's CPUs {sorted(allowed)}"
            f" ({what})", {k: sorted(c) for k, (c, _) in info.items()})
    stop(t, p, what)

    # GPU without fallback: start-up fails with exit 2 and says why.
    what = 'device "gpu", gpus [0], no fallback'
    p = h.start_worker(h.fleet_config({"worker.device": "gpu", "worker.gpus": [0],
                                       "worker.processes": 1}), environ=ENVIRON)
    h.forget_worker(p)  # it is expected to exit
    try:
        rc = p.wait(60)
    except subprocess.TimeoutExpired:
        rc = None
        h.stop_worker(p)
    log = h.log_text(p)
    t.check(rc == 2, f"ocrq-worker exits 2 ({what})", f"exit status {rc}; log:\n{h.log_tail(p)}")
    t.check(re.search(r"gpu", log, re.I) and not re.search(r"unknown setting", log, re.I),
            f"it says the engine cannot use a GPU ({what})", h.log_tail(p))

    # GPU with the CPU fallback: runs, children get the GPU id, pinning still applies.
    what = 'device "gpu", gpus [0], gpu_fallback_cpu, cpus "0-1"'
    p, info = children(h.fleet_config({"worker.device": "gpu", "worker.gpus": [0],
                                       "worker.gpu_fallback_cpu": True, "worker.processes": 2,
                                       "worker.cpus": "0-1"}), 2, what)
    t.check(all(e.get("CUDA_VISIBLE_DEVICES") == "0" for _, e in info.values()),
            f"CUDA_VISIBLE_DEVICES=0 in each child's environment ({what})",
            {k: e.get("CUDA_VISIBLE_DEVICES") for k, (_, e) in info.items()})
    t.check(sorted(sorted(c) for c, _ in info.values()) == [[0], [1]],
            f"the children are pinned to {{0}} and {{1}} in GPU mode too ({what})",
            {k: sorted(c) for k, (c, _) in info.items()})
    run_one_job(t, what)

    def fallback_lines():
        lines = {k: [] for k in info}
        for line in h.log_text(p).splitlines():
            m = LINE_PID.match(line)
            if (m and int(m.group(1)) in lines and re.search(r"gpu", line, re.I)
                    and re.search(r"cpu", line, re.I)):
                lines[int(m.group(1))].append(line)
        return lines
    try:
        lines = h.wait_until(lambda: (lambda d: d if all(d.values()) else None)(fallback_lines()),
                             timeout=30, what="each child to log the CPU fallback")
    except h.TestFailure:
        lines = fallback_lines()
    t.check(all(len(v) == 1 for v in lines.values()),
            f"each child logs the fallback to the CPU once ({what})", lines)
    stop(t, p, what)
    t.check(not any(h.queue_counts().values()), "the queues are empty", h.queue_counts())


if __name__ == "__main__":
    h.run(main)
