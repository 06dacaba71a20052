# SPDX-License-Identifier: GPL-3.0-or-later
"""Time limits (docs/fleet.md, "Time limits"), on a page of three stacked A4
pages (several seconds of Tesseract; one A4 page takes ~1.5-2 s):

Soft, worker.job_timeout_s = 1: Tesseract is stopped through its monitor; the
job is failed with error_code 'timeout' (attempts 1, no result row) and its
message is in ocr.failed with x-ocrq-error-code 'timeout'. The same child
(not restarted) then runs a small job normally.

Hard, worker.job_timeout_s = 0, worker.hard_timeout_s = 1,
worker.max_attempts = 2: the supervisor kills the child each time the job
runs past 1 s (ocrq_child_restarts_total{reason="hard_timeout"} counts
max_attempts kills, the child pid changes); the delivery after max_attempts
is failed with error_code 'attempts' before any OCR, and the message is in
ocr.failed with x-ocrq-error-code 'attempts'. A small job afterwards succeeds.

Also: hard_timeout_s not above job_timeout_s is a configuration error (exit 2)."""

import harness as h

MAX_ATTEMPTS = 2


def failed_copies(job_id):
    """Take every message from ocr.failed: (those of job_id, all of them)."""
    msgs = h.get_failed_messages()
    return [m for m in msgs if m["message_id"] == job_id], msgs


def small_job(t, what):
    img = h.make_image("After the time limit", h.tmpdir() / "small.png")
    job_id = h.submit_json([img])[0]["job_id"]
    row = h.wait_finished([job_id], what=f"the small job ({what})")[0]
    t.check(row["status"] == "succeeded", f"the next small job succeeds ({what})",
            {k: row[k] for k in ("status", "error_code", "error_message")})


def main(t):
    page, _ = h.make_long_page(h.tmpdir() / "long.png", pages=3)

    # --- soft limit
    what = "soft limit"
    port = h.free_port()
    w = h.start_worker(h.fleet_config({"worker.processes": 1, "worker.job_timeout_s": 1,
                                       "worker.metrics_listen": f"127.0.0.1:{port}"}))
    child = h.wait_children(w, 1)[0]
    job_id = h.submit_json([page])[0]["job_id"]
    row = h.wait_finished([job_id], what="the long job to end")[0]
    t.check(row["status"] == "failed" and row["error_code"] == "timeout",
            f"the long job failed with error_code 'timeout' ({what})",
            {k: row[k] for k in ("status", "error_code", "error_message")})
    t.check(row["attempts"] == 1, f"attempts == 1: a timeout is not retried ({what})",
            row["attempts"])
    t.check(not h.result_rows([job_id]), f"no ocr_results row ({what})")
    h.wait_until(lambda: h.queue_counts([h.FAILED_QUEUE])[h.FAILED_QUEUE] >= 1, timeout=30,
                 what="the message in ocr.failed")
    mine, msgs = failed_copies(job_id)
    t.check(len(mine) == 1 and len(msgs) == 1
            and mine[0]["headers"].get("x-ocrq-error-code") == "timeout",
            f"its message is in ocr.failed once, with x-ocrq-error-code 'timeout' ({what})",
            [(m["message_id"], m["headers"]) for m in msgs])
    small_job(t, what)
    t.check(h.worker_children(w) == [child], f"the same child ran on: not restarted ({what})",
            f"{child} -> {h.worker_children(w)}")
    metrics = h.get_metrics(port)
    t.check(h.metric(metrics, "ocrq_jobs_total", outcome="failed") == 1
            and h.metric(metrics, "ocrq_jobs_total", outcome="succeeded") == 1,
            f'ocrq_jobs_total: failed 1, succeeded 1 ({what})',
            h.metric_series(metrics, "ocrq_jobs_total"))
    t.check(h.stop_worker(w) == 0, f"the supervisor exits 0 on SIGTERM ({what})")
    counts = h.queue_counts()
    t.check(not any(counts.values()), f"the queues are empty ({what})", counts)

    # --- hard limit must be above the soft one
    r = h.run_cmd([h.WORKER, "-c", h.fleet_config({"worker.job_timeout_s": 5,
                                                   "worker.hard_timeout_s": 1})], timeout=60)
    t.check(r.returncode == 2 and "hard_timeout_s" in r.stderr,
            "hard_timeout_s = 1 with job_timeout_s = 5 is a configuration error (exit 2)",
            f"exit {r.returncode}: {r.stderr.strip()[-500:]}")

    # --- hard limit
    what = "hard limit"
    port = h.free_port()
    w = h.start_worker(h.fleet_config({"worker.processes": 1, "worker.job_timeout_s": 0,
                                       "worker.hard_timeout_s": 1,
                                       "worker.max_attempts": MAX_ATTEMPTS,
                                       "worker.metrics_listen": f"127.0.0.1:{port}"}))
    first = h.wait_children(w, 1)[0]
    job_id = h.submit_json([page])[0]["job_id"]
    row = h.wait_finished([job_id], what="the poison job to be dead-lettered")[0]
    t.check(row["status"] == "failed" and row["error_code"] == "attempts",
            f"the job failed with error_code 'attempts' ({what})",
            {k: row[k] for k in ("status", "error_code", "error_message", "attempts")})
    t.check(row["attempts"] >= MAX_ATTEMPTS,
            f"attempts >= worker.max_attempts = {MAX_ATTEMPTS} ({what})", row["attempts"])
    t.check(not h.result_rows([job_id]), f"no ocr_results row ({what})")
    h.wait_until(lambda: h.queue_counts([h.FAILED_QUEUE])[h.FAILED_QUEUE] >= 1, timeout=30,
                 what="the message in ocr.failed")
    mine, msgs = failed_copies(job_id)
    t.check(len(mine) == 1 and len(msgs) == 1
            and mine[0]["headers"].get("x-ocrq-error-code") == "attempts",
            f"its message is in ocr.failed once, with x-ocrq-error-code 'attempts' ({what})",
            [(m["message_id"], m["headers"]) for m in msgs])
    metrics = h.get_metrics(port)
    kills = h.metric(metrics, "ocrq_child_restarts_total", reason="hard_timeout")
    t.check(kills == MAX_ATTEMPTS,
            f'ocrq_child_restarts_total{{reason="hard_timeout"}} == {MAX_ATTEMPTS}: the child was'
            f' killed on each of the {MAX_ATTEMPTS} deliveries ({what})',
            h.metric_series(metrics, "ocrq_child_restarts_total"))
    t.check(not h.metric(metrics, "ocrq_child_restarts_total", reason="crash"),
            f"no restart counted as a crash ({what})",
            h.metric_series(metrics, "ocrq_child_restarts_total"))
    now = h.wait_children(w, 1)
    t.check(now != [first], f"the child was replaced ({first} -> {now})")
    sup_lines = [line for line in h.log_text(w).splitlines()
                 if f"[{w.pid}] job={job_id} " in line]
    t.check(len(sup_lines) >= MAX_ATTEMPTS,
            f"the supervisor logs the job id of each kill ({what})", h.log_tail(w))
    small_job(t, what)
    t.check(h.stop_worker(w) == 0, f"the supervisor exits 0 on SIGTERM ({what})")
    counts = h.queue_counts()
    t.check(not any(counts.values()), f"the queues are empty ({what})", counts)


if __name__ == "__main__":
    h.run(main)
