# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet rides out a PostgreSQL restart (docs/fleet.md, "Outages"): 300
small inline jobs, a supervisor with 2 OCR processes; once some have
succeeded, PostgreSQL is stopped (scripts/services pg-stop), left down a few
seconds and started again. All 300 end succeeded exactly once (300 rows
succeeded, one ocr_results row each, ocrq_jobs_total{outcome="succeeded"}
300), the queues are empty, the supervisor and the same two children still
run (no restart) and consume again, each child got its database back
(ocrq_reconnects_total{target="database"} >= 2), /readyz was 503 during the
outage and is 200 again, and no child spun the CPU while it waited (each
used less CPU time than half the outage).

This stops the PostgreSQL of scripts/services (ctest runs integration tests
one at a time); it is always started again in a finally. The supervisor and
its children are paused (SIGSTOP) while the server goes down, so jobs are
certainly left for the outage and some are in flight when it stops, however
fast this machine is. The waits add up to less than ctest's TIMEOUT (400 s),
so the finally that restarts the server always runs."""

import os
import time

import harness as h

N_JOBS = 300
PROCESSES = 2
OUTAGE_S = 5


def cpu_seconds(pid):
    """utime + stime of pid, in seconds."""
    f = h.proc_stat_fields(pid)
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def main(t):
    img = h.make_image("Database restart job 4410", h.tmpdir() / "job.png", width=900)
    inputs = h.copies(img, N_JOBS)

    port = h.free_port()
    w = h.start_worker(h.fleet_config({"worker.processes": PROCESSES,
                                       "worker.metrics_listen": f"127.0.0.1:{port}"}))
    kids = h.wait_children(w, PROCESSES)
    ids = [o["job_id"] for o in h.submit_json(inputs)]
    t.require(len(ids) == N_JOBS, f"{N_JOBS} jobs submitted", len(ids))
    h.wait_until(lambda: h.count_by_status(ids)["succeeded"] >= 20, what="20 jobs to succeed",
                 timeout=120, interval=0.05)
    h.pause_worker(w)
    try:
        before = h.count_by_status(ids)["succeeded"]
        t.require(before < N_JOBS, "jobs are left for the outage", f"{before} already succeeded")
        print(f"{before} jobs succeeded before PostgreSQL stopped", flush=True)
        h.services("pg-stop")
        h.resume_worker(w)
        status, _, reason = h.wait_until(
            lambda: (lambda r: r if r[0] != 200 else None)(h.http_get(port, "/readyz")),
            timeout=60, ignore=(OSError,), what="GET /readyz to stop answering 200")
        t.check(status == 503, "GET /readyz: 503 while PostgreSQL is down", (status, reason))
        cpu0 = {k: cpu_seconds(k) for k in kids}
        time.sleep(OUTAGE_S)
        spent = {k: cpu_seconds(k) - cpu0[k] for k in kids}
        t.check(all(s < OUTAGE_S / 2 for s in spent.values()),
                f"the children do not spin while the database is down (CPU seconds in"
                f" {OUTAGE_S} s: {', '.join(f'{s:.2f}' for s in spent.values())})", spent)
        t.check(w.poll() is None and h.worker_children(w) == kids,
                "the supervisor and its children run on while the database is down",
                f"{kids} -> {h.worker_children(w)}")
    finally:
        if w.poll() is None:
            h.resume_worker(w)
        h.services("pg-start")

    h.check_succeeded_once(t, ids, timeout=200)  # after the restart
    h.check_queues_empty(t, timeout=60)

    t.check(w.poll() is None and h.worker_children(w) == kids,
            "the supervisor and the same children still run", f"{kids} -> {h.worker_children(w)}")
    h.check_eventually(t, h.consumer_count, f"both children consume from {h.JOB_QUEUE} again",
                       ok=lambda n: n == PROCESSES, timeout=90)
    h.check_eventually(t, lambda: h.http_get(port, "/readyz"), "GET /readyz: 200 after the restart",
                       ok=lambda r: r[0] == 200, timeout=60, ignore=(OSError,))
    metrics = h.get_metrics(port)
    t.check(h.metric(metrics, "ocrq_jobs_total", outcome="succeeded") == N_JOBS,
            f'ocrq_jobs_total{{outcome="succeeded"}} == {N_JOBS}: none recorded twice',
            h.metric_series(metrics, "ocrq_jobs_total"))
    t.check((h.metric(metrics, "ocrq_reconnects_total", target="database") or 0) >= PROCESSES,
            f'ocrq_reconnects_total{{target="database"}} >= {PROCESSES}: each child got the'
            f' database back', h.metric_series(metrics, "ocrq_reconnects_total"))
    t.check(not any(v for _, v in h.metric_series(metrics, "ocrq_child_restarts_total")),
            "no child was restarted", h.metric_series(metrics, "ocrq_child_restarts_total"))
    t.check(h.stop_worker(w) == 0, "the supervisor exits 0 on SIGTERM")


if __name__ == "__main__":
    h.run(main)
