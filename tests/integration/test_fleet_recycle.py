# SPDX-License-Identifier: GPL-3.0-or-later
"""Recycling (docs/fleet.md): with worker.max_jobs_per_child = 5 and one OCR
process, 20 small jobs all succeed exactly once (20 rows succeeded, 20 result
rows, queues empty), each child process does at most 5 of them (read from
the pids on the "succeeded" log lines), at least 4 different child pids did
them (the child was replaced at least 3 times), and /metrics counts
ocrq_child_restarts_total{reason="recycle"} >= 3 and no crash.

Then by memory: worker.max_rss_mb = 1 (every OCR process is over 1 MiB after a
job), max_jobs_per_child = 0: 3 jobs succeed, each in a child of its own,
and the recycles are counted."""

import re
from collections import Counter

import harness as h

N_JOBS = 20
PER_CHILD = 5


def main(t):
    img = h.make_image("Recycled worker\nsnippet job", h.tmpdir() / "job.png")
    inputs = h.copies(img, N_JOBS)
    port = h.free_port()
    w = h.start_worker(h.fleet_config({"worker.processes": 1,
                                       "worker.max_jobs_per_child": PER_CHILD,
                                       "worker.metrics_listen": f"127.0.0.1:{port}"}))
    first = h.wait_children(w, 1)[0]
    ids = [o["job_id"] for o in h.submit_json(inputs)]
    t.require(len(ids) == N_JOBS, f"{N_JOBS} jobs submitted", len(ids))
    rows = h.wait_finished(ids, what=f"the {N_JOBS} jobs to finish", timeout=150)
    bad = [(r["job_id"], r["status"], r["error_code"]) for r in rows if r["status"] != "succeeded"]
    t.check(not bad, f"all {N_JOBS} jobs succeeded", bad)
    t.check(all(r["attempts"] == 1 for r in rows), "each job ran once (attempts 1)",
            [(r["job_id"], r["attempts"]) for r in rows if r["attempts"] != 1])
    results = h.result_rows(ids)
    per_job = Counter(r["job_id"] for r in results)
    t.check(len(results) == N_JOBS and set(per_job) == set(ids),
            f"exactly one ocr_results row per job ({len(results)} rows)",
            [j for j, n in per_job.items() if n != 1])

    jobs_by_pid = Counter()
    for m in re.finditer(r"\[(\d+)\] job=(\S+) succeeded in \d+ ms", h.log_text(w)):
        if m.group(2) in ids:
            jobs_by_pid[int(m.group(1))] += 1
    print(f"jobs per child pid: {dict(jobs_by_pid)}", flush=True)
    t.check(sum(jobs_by_pid.values()) == N_JOBS, f"{N_JOBS} 'succeeded' log lines",
            dict(jobs_by_pid))
    t.check(w.pid not in jobs_by_pid, "no job ran in the supervisor itself", dict(jobs_by_pid))
    t.check(all(n <= PER_CHILD for n in jobs_by_pid.values()),
            f"no child did more than {PER_CHILD} jobs", dict(jobs_by_pid))
    t.check(len(jobs_by_pid) >= 4, "at least 4 different child pids did the jobs"
            " (the child was replaced at least 3 times)", dict(jobs_by_pid))

    metrics = h.get_metrics(port)
    recycled = h.metric(metrics, "ocrq_child_restarts_total", reason="recycle") or 0
    t.check(recycled >= 3, f'ocrq_child_restarts_total{{reason="recycle"}} >= 3 ({recycled})',
            h.metric_series(metrics, "ocrq_child_restarts_total"))
    t.check(not h.metric(metrics, "ocrq_child_restarts_total", reason="crash"),
            "no restart counted as a crash", h.metric_series(metrics, "ocrq_child_restarts_total"))
    t.check(h.metric(metrics, "ocrq_jobs_total", outcome="succeeded") == N_JOBS,
            f'ocrq_jobs_total{{outcome="succeeded"}} == {N_JOBS} across the recycled children',
            h.metric_series(metrics, "ocrq_jobs_total"))
    now = h.wait_children(w, 1, what="a child to be running after the last recycle")
    t.check(now != [first], f"the running child is not the first one ({first} -> {now})")
    t.check(h.stop_worker(w) == 0, "the supervisor exits 0 on SIGTERM")
    counts = h.queue_counts()
    t.check(not any(counts.values()), "the queues are empty", counts)

    # --- by resident set size
    what = "max_rss_mb = 1"
    port = h.free_port()
    w = h.start_worker(h.fleet_config({"worker.processes": 1, "worker.max_jobs_per_child": 0,
                                       "worker.max_rss_mb": 1,
                                       "worker.metrics_listen": f"127.0.0.1:{port}"}))
    h.wait_children(w, 1)
    ids = [o["job_id"] for o in h.submit_json(inputs[:3])]
    rows = h.wait_finished(ids, what=f"3 jobs to finish ({what})", timeout=120)
    t.check(all(r["status"] == "succeeded" for r in rows) and len(h.result_rows(ids)) == 3,
            f"3 jobs succeeded, one result row each ({what})",
            [(r["status"], r["error_code"]) for r in rows])
    jobs_by_pid = Counter()
    for m in re.finditer(r"\[(\d+)\] job=(\S+) succeeded in \d+ ms", h.log_text(w)):
        if m.group(2) in ids:
            jobs_by_pid[int(m.group(1))] += 1
    t.check(len(jobs_by_pid) == 3 and set(jobs_by_pid.values()) == {1},
            f"each job ran in a child of its own ({what})", dict(jobs_by_pid))
    metrics = h.get_metrics(port)
    recycled = h.metric(metrics, "ocrq_child_restarts_total", reason="recycle") or 0
    t.check(recycled >= 2, f'ocrq_child_restarts_total{{reason="recycle"}} >= 2 ({what})',
            h.metric_series(metrics, "ocrq_child_restarts_total"))
    t.check(h.stop_worker(w) == 0, f"the supervisor exits 0 on SIGTERM ({what})")
    counts = h.queue_counts()
    t.check(not any(counts.values()), f"the queues are empty ({what})", counts)


if __name__ == "__main__":
    h.run(main)
