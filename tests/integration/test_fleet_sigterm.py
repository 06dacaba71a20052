# SPDX-License-Identifier: GPL-3.0-or-later
"""Shutdown of the supervisor (docs/fleet.md, "What the supervisor does"):

1. SIGTERM mid-job: the child finishes the job and acks it (succeeded,
   attempts 1, one result, queue empty), then the supervisor exits 0 and no
   child is left.
2. A second SIGTERM stops at once: the child is killed, the supervisor exits
   1, the job in flight goes back to ocr.jobs (not lost, not finished).
3. worker.shutdown_timeout_s = 1 with a child that does not finish: it is
   killed after the timeout, the supervisor exits 1, the job goes back.
4. The jobs of 2 and 3 are completed exactly once (attempts 2), by the
   supervisor of 3 (job 2 is back in the queue ahead of job 3) or by a new one.
5. A SIGTERM just after start-up, before any job: exit 0 too.

To make "mid-job" certain however fast the machine is, the child is paused
(SIGSTOP) once the job's row says 'running', the SIGTERM is sent to the
supervisor, and the test waits until the supervisor's SIGTERM is pending in
the paused child (/proc/<pid>/status ShdPnd) before resuming it (case 1) or
sending the second signal (case 2)."""

import signal
import subprocess

import harness as h


def sig_pending(pid, sig):
    """True if sig is pending for pid (process-wide or for its main thread)."""
    try:
        st = h.proc_status(pid)
    except OSError:
        return False
    bit = 1 << (sig - 1)
    return any(int(st.get(f, "0"), 16) & bit for f in ("ShdPnd", "SigPnd"))


def exit_status(p, timeout=120):
    """Wait for supervisor p to exit; its status, or None if it did not (then it is stopped)."""
    h.forget_worker(p)  # its exit is expected now
    try:
        return p.wait(timeout)
    except subprocess.TimeoutExpired:
        h.stop_worker(p)
        return None


def start_with_job(conf, page, what):
    """A supervisor with one child, which is paused in the middle of a new job.
    Returns (p, child pid, job id)."""
    p = h.start_worker(conf)
    child = h.wait_children(p, 1)[0]
    job_id = h.submit_json([page])[0]["job_id"]
    h.wait_until(lambda: (h.job_row(job_id) or {}).get("status") in ("running", "succeeded"),
                 what=f"the child to start the job ({what})")
    h.signal_pids([child], signal.SIGSTOP)
    row = h.job_row(job_id)
    if row["status"] != "running":
        h.signal_pids([child], signal.SIGCONT)
        raise h.TestFailure(f"the job is not running when paused ({what}): {row['status']}")
    return p, child, job_id


def sigterm_and_wait_forwarded(p, child, what):
    p.send_signal(signal.SIGTERM)
    h.wait_until(lambda: sig_pending(child, signal.SIGTERM) or not h.proc_alive(child),
                 timeout=30, what=f"the supervisor to send SIGTERM to its child ({what})")


def main(t):
    page, text = h.make_a4_page(h.tmpdir() / "page.png")
    conf = h.fleet_config({"worker.processes": 1, "worker.shutdown_timeout_s": 120})

    # 1. SIGTERM mid-job: finish, ack, exit 0.
    what = "one SIGTERM"
    p, child, job1 = start_with_job(conf, page, what)
    try:
        sigterm_and_wait_forwarded(p, child, what)
    finally:
        h.signal_pids([child], signal.SIGCONT)
    rc = exit_status(p)
    t.check(rc == 0, f"the supervisor exits 0 ({what})", f"status {rc}; {h.log_tail(p, 15)}")
    t.check(not h.proc_alive(child), f"its child is gone ({what})")
    row = h.job_row(job1)
    t.check(row["status"] == "succeeded" and row["attempts"] == 1,
            f"the job in flight finished: succeeded, attempts 1 ({what})",
            {k: row[k] for k in ("status", "attempts", "error_code", "error_message")})
    t.check(len(h.result_rows([job1])) == 1, f"exactly one ocr_results row ({what})")
    counts = h.queue_counts()
    t.check(not any(counts.values()), f"the job was acked: the queues are empty ({what})", counts)

    # 2. A second SIGTERM: kill at once, exit 1, the job goes back to its queue.
    what = "two SIGTERMs"
    p, child, job2 = start_with_job(conf, page, what)
    try:
        sigterm_and_wait_forwarded(p, child, what)
        p.send_signal(signal.SIGTERM)
        rc = exit_status(p, timeout=30)  # "at once": far less than shutdown_timeout_s
    finally:
        h.signal_pids([child], signal.SIGCONT)
    t.check(rc == 1, f"the supervisor exits 1, without waiting for the job ({what})",
            f"status {rc}; {h.log_tail(p, 15)}")
    h.check_eventually(t, lambda: h.proc_alive(child), f"its child {child} is gone ({what})",
                       ok=lambda alive: not alive, timeout=30)
    row = h.job_row(job2)
    t.check(row["status"] == "running" and row["attempts"] == 1,
            f"the job did not finish ({what})", {k: row[k] for k in ("status", "attempts")})
    h.check_eventually(t, lambda: h.queue_counts([h.JOB_QUEUE]),
                       f"the job's message is back in ocr.jobs ({what})",
                       ok=lambda c: c.get(h.JOB_QUEUE) == 1, timeout=60)

    # 3. shutdown_timeout_s passes: the child is killed, exit 1, the job goes back.
    what = "shutdown_timeout_s = 1"
    conf_short = h.fleet_config({"worker.processes": 1, "worker.shutdown_timeout_s": 1})
    p, child, job3 = start_with_job(conf_short, page, what)
    try:
        p.send_signal(signal.SIGTERM)
        rc = exit_status(p, timeout=60)
    finally:
        h.signal_pids([child], signal.SIGCONT)
    t.check(rc == 1, f"the supervisor kills the child that did not stop in time, exits 1 ({what})",
            f"status {rc}; {h.log_tail(p, 15)}")
    h.wait_until(lambda: not h.proc_alive(child), timeout=30, what=f"child {child} to be gone")
    row = h.job_row(job3)
    t.check(row["status"] == "running", f"the job did not finish ({what})", row["status"])
    # The child may have finished job 2 (back in the queue ahead of job 3) first.
    unfinished = [j for j in (job2, job3) if h.job_row(j)["status"] == "running"]
    t.check(job3 in unfinished, f"job 3 is unfinished ({what})")
    h.check_eventually(t, lambda: h.queue_counts([h.JOB_QUEUE]),
                       f"the job's message is back in ocr.jobs, with those of all"
                       f" {len(unfinished)} unfinished jobs ({what})",
                       ok=lambda c: c.get(h.JOB_QUEUE) == len(unfinished), timeout=60)

    # 4. A new supervisor completes both, exactly once.
    w = h.start_worker(h.fleet_config({"worker.processes": 2}))
    rows = h.wait_finished([job2, job3], what="the requeued jobs to finish")
    t.check(len(rows) == 2 and all(r["status"] == "succeeded" and r["attempts"] == 2 for r in rows),
            "the requeued jobs succeeded on their second attempt",
            [(r["job_id"], r["status"], r["attempts"]) for r in rows])
    per_job = {r["job_id"] for r in h.result_rows([job2, job3])}
    t.check(len(h.result_rows([job2, job3])) == 2 and per_job == {job2, job3},
            "exactly one ocr_results row each", h.result_rows([job2, job3]))
    t.check(h.stop_worker(w) == 0, "the new supervisor exits 0 on SIGTERM (idle)")
    counts = h.queue_counts()
    t.check(not any(counts.values()), "the queues are empty", counts)

    # 5. SIGTERM right after start-up, while the children may still be starting.
    what = "SIGTERM at start-up"
    p = h.start_worker(h.fleet_config({"worker.processes": 2}))
    kids = h.wait_children(p, 2)
    p.send_signal(signal.SIGTERM)
    rc = exit_status(p, timeout=60)
    t.check(rc == 0, f"the supervisor exits 0: its children stop cleanly ({what})",
            f"status {rc}; {h.log_tail(p, 15)}")
    h.wait_until(lambda: not any(h.proc_alive(k) for k in kids), timeout=30,
                 what="the children to be gone")


if __name__ == "__main__":
    h.run(main)
