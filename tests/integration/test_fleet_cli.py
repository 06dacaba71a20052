# SPDX-License-Identifier: GPL-3.0-or-later
"""The supervisor's command line (docs/fleet.md, "Processes"):

* --processes 2 overrides worker.processes = 1: two OCR children, named
  NAME/0 and NAME/1 in ocr_jobs.worker.
* --max-jobs 2 with 2 processes and 4 jobs: each child does 2 jobs, exits 0
  and is not replaced; the supervisor then exits 0 by itself.
* --no-supervisor: one OCR process in the ocrq-worker process itself: no
  children, no HTTP (even with worker.metrics_listen set), the job is done
  under the given name, SIGTERM exits 0."""

import subprocess
from collections import Counter

import harness as h


def images(n, stem):
    return h.copies(h.make_image("Command line job", h.tmpdir() / f"{stem}.png"), n, stem)


def main(t):
    # --processes overrides the file.
    w = h.start_worker(h.fleet_config({"worker.processes": 1}), extra_args=["--processes", "2"],
                       name="cli-procs")
    h.check_children(t, w, 2, "--processes 2 overrides worker.processes = 1: two children")
    h.wait_idle_consumers(2)
    ids = [o["job_id"] for o in h.submit_json(images(6, "procs"))]
    rows = h.wait_finished(ids, what="6 jobs (--processes 2)")
    t.check(all(r["status"] == "succeeded" for r in rows), "6 jobs succeeded (--processes 2)",
            [(r["status"], r["error_code"]) for r in rows])
    names = {r["worker"] for r in rows}
    t.check(names <= {"cli-procs/0", "cli-procs/1"},
            "ocr_jobs.worker is NAME/0 or NAME/1", sorted(names))
    t.check(h.stop_worker(w) == 0, "the supervisor exits 0 on SIGTERM (--processes 2)")

    # --max-jobs: children exit 0 after N jobs, are not replaced, the supervisor ends.
    w = h.start_worker(h.fleet_config({"worker.processes": 2}), extra_args=["--max-jobs", "2"],
                       name="cli-max")
    h.wait_children(w, 2)
    h.forget_worker(w)  # it is expected to exit by itself
    ids = [o["job_id"] for o in h.submit_json(images(4, "max"))]
    rows = h.wait_finished(ids, what="4 jobs (--max-jobs 2)")
    t.check(all(r["status"] == "succeeded" for r in rows), "4 jobs succeeded (--max-jobs 2)",
            [(r["status"], r["error_code"]) for r in rows])
    per_worker = Counter(r["worker"] for r in rows)
    t.check(sorted(per_worker.values()) == [2, 2], "each child did 2 jobs", dict(per_worker))
    try:
        rc = w.wait(60)
    except subprocess.TimeoutExpired:
        rc = None
        h.stop_worker(w)
    t.check(rc == 0, "the supervisor exits 0 once both children are done (--max-jobs 2)",
            f"status {rc}; {h.log_tail(w, 10)}")
    t.check(not any(h.queue_counts().values()), "the queues are empty", h.queue_counts())

    # --no-supervisor: no children, no HTTP.
    port = h.free_port()
    w = h.start_worker(h.fleet_config({"worker.processes": 2,
                                       "worker.metrics_listen": f"127.0.0.1:{port}"}),
                       extra_args=["--no-supervisor"], name="cli-nosup")
    h.wait_idle_consumers(1)
    job_id = h.submit_json(images(1, "nosup"))[0]["job_id"]
    row = h.wait_finished([job_id], what="the job (--no-supervisor)")[0]
    t.check(row["status"] == "succeeded" and row["worker"] == "cli-nosup",
            "the job succeeded in the one process (--no-supervisor)",
            {k: row[k] for k in ("status", "worker", "error_code")})
    t.check(h.proc_children(w.pid) == [], "no child processes (--no-supervisor)",
            h.proc_children(w.pid))
    try:
        h.http_get(port, "/healthz", timeout=5)
        served = True
    except OSError:
        served = False
    t.check(not served, "no HTTP endpoints (--no-supervisor)")
    t.check(h.stop_worker(w) == 0, "it exits 0 on SIGTERM (--no-supervisor)")


if __name__ == "__main__":
    h.run(main)
