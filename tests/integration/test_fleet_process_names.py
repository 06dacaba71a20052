# SPDX-License-Identifier: GPL-3.0-or-later
"""The worker's processes as ps and top show them, and how many there are by
default (docs/fleet.md, "Processes"; issue 15).

* Names: a supervisor with worker.processes = 2 and the webhook dispatcher.
  Every child (both OCR processes and the dispatcher) has /proc/PID/comm
  "ocrq-worker", not "exe" (they are executed through /proc/self/exe), and
  argv that says what it is (--child K, --dispatcher). So has a
  --no-supervisor worker, which executes itself again to set OMP_THREAD_LIMIT.
* Default count: without worker.processes and --processes, the supervisor
  runs one OCR process per CPU of its affinity mask (len(os.sched_getaffinity)
  of the supervisor), and says so in its log. Started with an affinity of one
  CPU (where this machine has two or more), it runs one. With worker.cpus
  set, one per CPU of that list. worker.processes = 1 still runs one.
"""

import os
import re

import harness as h


def comm(pid):
    try:
        return open(f"/proc/{pid}/comm").read().strip()
    except OSError:
        return None


def wait_logged(w, pids, what):
    """Wait until each of pids has logged a line (so it is past its start-up,
    where it names itself)."""
    h.wait_until(lambda: all(re.search(rf"\[{pid}\]", h.log_text(w)) for pid in pids),
                 what=what)


def names(t):
    w = h.start_worker(h.fleet_config({"worker.processes": 2}))
    kids = h.wait_children(w, 2, what="2 OCR processes")
    disp = h.wait_until(lambda: h.dispatcher_pid(w), what="the webhook dispatcher")
    wait_logged(w, kids + [disp], "the children and the dispatcher to log their start")
    everyone = [k for k in h.proc_children(w.pid) if h.proc_alive(k)]
    t.check(sorted(everyone) == sorted(kids + [disp]),
            "the supervisor's children are the 2 OCR processes and the dispatcher",
            (everyone, kids, disp))
    got = {k: comm(k) for k in everyone}
    t.check(len(got) == 3 and all(c == "ocrq-worker" for c in got.values()),
            "/proc/PID/comm of every child is ocrq-worker (not exe)", got)
    t.check(comm(w.pid) == "ocrq-worker", "the supervisor's comm is ocrq-worker", comm(w.pid))
    argvs = sorted(" ".join(h.proc_cmdline(k)[:3]) for k in kids)
    t.check(argvs == ["ocrq-worker --child 0", "ocrq-worker --child 1"],
            "the OCR processes' argv says what they are", argvs)
    t.check(h.proc_cmdline(disp)[:2] == ["ocrq-worker", "--dispatcher"],
            "the dispatcher's argv says what it is", h.proc_cmdline(disp))
    h.stop_worker(w)

    # --no-supervisor executes itself again without OMP_THREAD_LIMIT in the environment
    w = h.start_worker(h.fleet_config({}), extra_args=["--no-supervisor"],
                       environ=h.env(OMP_THREAD_LIMIT=None))
    h.wait_until(lambda: "OMP_THREAD_LIMIT" in h.proc_environ(w.pid),
                 what="the --no-supervisor worker to execute itself again")
    wait_logged(w, [w.pid], "the --no-supervisor worker to log its start")
    t.check(comm(w.pid) == "ocrq-worker", "a --no-supervisor worker's comm is ocrq-worker",
            comm(w.pid))
    h.stop_worker(w)


def count_logged(t, w, n, why):
    """Check that supervisor w logs how many OCR processes it starts and why;
    the detail is the supervisor's lines that say how many."""
    line = f"supervisor: {n} OCR process{'' if n == 1 else 'es'} ({why})"
    h.check_eventually(t, lambda: [ln for ln in h.log_text(w).splitlines()
                                   if "supervisor:" in ln and "OCR process" in ln],
                       f"the supervisor logs how many and why: '{line}'",
                       ok=lambda lines: any(line in ln for ln in lines))


def default_count(t):
    # the worker's own default: no worker.processes in the file, no --processes
    w = h.start_worker(h.fleet_config({}), processes=None)
    cpus = len(os.sched_getaffinity(w.pid))
    h.check_children(t, w, cpus, f"without worker.processes: {cpus} OCR processes ="
                     " len(sched_getaffinity) of the supervisor")
    count_logged(t, w, cpus, "one per CPU this process may run on")
    h.stop_worker(w)

    # worker.processes = 1 still means one
    w = h.start_worker(h.fleet_config({"worker.processes": 1}), processes=None)
    h.check_children(t, w, 1, "worker.processes = 1: one OCR process")
    count_logged(t, w, 1, "worker.processes")
    h.stop_worker(w)

    # worker.cpus: one per CPU of the list
    first = min(os.sched_getaffinity(0))
    w = h.start_worker(h.fleet_config({"worker.cpus": str(first)}), processes=None)
    h.check_children(t, w, 1, f"worker.cpus = \"{first}\": one OCR process")
    count_logged(t, w, 1, "one per CPU of worker.cpus")
    h.stop_worker(w)

    # a narrower affinity (taskset): fewer processes, whatever the machine has
    mine = os.sched_getaffinity(0)
    if len(mine) < 2:
        print(f"skipped: a narrower affinity needs 2 CPUs, this test may use {sorted(mine)}")
        return
    os.sched_setaffinity(0, {first})
    try:
        w = h.start_worker(h.fleet_config({}), processes=None)
    finally:
        os.sched_setaffinity(0, mine)
    t.check(os.sched_getaffinity(w.pid) == {first}, "the worker started with one CPU",
            os.sched_getaffinity(w.pid))
    h.check_children(t, w, 1, f"affinity {{{first}}} on a machine with {len(mine)}: one OCR"
                     " process")
    count_logged(t, w, 1, "one per CPU this process may run on")
    h.stop_worker(w)


def main(t):
    names(t)
    default_count(t)


if __name__ == "__main__":
    h.run(main)
