# SPDX-License-Identifier: GPL-3.0-or-later
"""The worker rides out a PostgreSQL outage: 30 jobs, one worker; after about 5
succeeded, PostgreSQL is stopped (scripts/services pg-stop) for ~5 s and
started again. All 30 jobs end succeeded with exactly one result row each,
the queues are empty, and the worker never exited.

This stops the shared PostgreSQL of scripts/services (ctest runs integration
tests one at a time); it is always started again in a finally. The worker is
paused (SIGSTOP to the supervisor and its OCR processes) while the server goes down so that jobs are certainly left
for the outage, however fast this machine is. The waits add up to less than
ctest's TIMEOUT (400 s), so the finally that restarts the server always runs."""

import signal
import subprocess
import time
import urllib.parse

import harness as h

N_JOBS = 30
OUTAGE_S = 5
SERVICES = h.SOURCE_DIR / "scripts" / "services"


def services(cmd):
    r = subprocess.run([str(SERVICES), cmd], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise h.TestFailure(f"scripts/services {cmd} exited {r.returncode}: {r.stderr.strip()}")


def main(t):
    port = urllib.parse.urlsplit(h.DATABASE_URL).port or 5432
    t.require(port == h.PG_PORT,
              f"OCRQ_DATABASE_URL points at the scripts/services PostgreSQL (port {h.PG_PORT})",
              f"its port is {port}: set OCRQ_PG_PORT, or this test would stop another server")

    text = "Invoice 5521 for the\nmonthly office supplies\nwas paid in full on\nthe second of April"
    img = h.make_image(text, h.tmpdir() / "job.png", width=1000)
    inputs = h.copies(img, N_JOBS)

    w = h.start_worker()
    ids = [o["job_id"] for o in h.submit_json(inputs)]
    t.require(len(ids) == N_JOBS, f"{N_JOBS} jobs submitted", len(ids))
    h.wait_until(lambda: h.count_by_status(ids)["succeeded"] >= 5, what="5 jobs to succeed",
                 timeout=120, interval=0.05)
    h.pause_worker(w)
    try:
        before = h.count_by_status(ids)["succeeded"]
        t.require(before < N_JOBS, "jobs are left for the outage", f"{before} already succeeded")
        print(f"{before} jobs succeeded before the outage", flush=True)
        services("pg-stop")
        h.resume_worker(w)
        time.sleep(OUTAGE_S)
        t.check(w.poll() is None, "worker is running during the outage")
    finally:
        if w.poll() is None:
            h.resume_worker(w)
        services("pg-start")

    rows = h.wait_finished(ids, what=f"all {N_JOBS} jobs to finish after the outage",
                           timeout=200)
    bad = [(r["source"], r["status"], r["error_code"]) for r in rows if r["status"] != "succeeded"]
    t.check(not bad, f"all {N_JOBS} jobs succeeded", bad)
    per_job = h.db_query("SELECT j.job_id::text AS job_id, count(r.job_id) AS n FROM ocr_jobs j"
                         " LEFT JOIN ocr_results r USING (job_id) GROUP BY j.job_id")
    t.check(len(per_job) == N_JOBS and all(r["n"] == 1 for r in per_job),
            "exactly one ocr_results row per job",
            [r for r in per_job if r["n"] != 1] or f"{len(per_job)} jobs")
    t.check(w.poll() is None, "the worker survived the outage", w.returncode)
    t.check(h.stop_worker(w) == 0, "worker exits 0 on SIGTERM")
    counts = h.queue_counts()
    t.check(not any(counts.values()), "the queues are empty", counts)


if __name__ == "__main__":
    h.run(main)
