# SPDX-License-Identifier: GPL-3.0-or-later
"""A worker killed with SIGKILL in the middle of a job loses nothing: its
unacked message goes back to the queue, a second worker finishes the job,
which ends succeeded with exactly one result row and attempts == 2, and no
message is left in any queue.

Worker 1 is paused (SIGSTOP to the supervisor and its OCR processes) as soon as the job's row says 'running', and the
row is checked again while it is paused, so the kill certainly lands while the
job is in flight, however fast this machine is."""

import signal

import harness as h


def main(t):
    page, text = h.make_a4_page(h.tmpdir() / "page.png")
    w1 = h.start_worker(name="kill9-first")
    job_id = h.submit_json([page])[0]["job_id"]
    h.wait_until(lambda: (h.job_row(job_id) or {}).get("status") in ("running", "succeeded"),
                 what="worker 1 to start the job")
    h.pause_worker(w1)
    row = h.job_row(job_id)
    t.require(row["status"] == "running" and row["attempts"] == 1,
              "the job is running (attempt 1) when worker 1 is killed",
              {k: row[k] for k in ("status", "attempts", "worker")})
    h.kill_worker(w1, signal.SIGKILL)
    t.check(w1.returncode == -signal.SIGKILL, "worker 1 died of SIGKILL", w1.returncode)

    w2 = h.start_worker(name="kill9-second")
    h.wait_until(lambda: h.job_row(job_id)["status"] in ("succeeded", "failed"),
                 what="worker 2 to finish the job")
    row = h.job_row(job_id)
    t.check(row["status"] == "succeeded", "the job succeeded",
            {k: row[k] for k in ("status", "error_code", "error_message")})
    t.check(row["attempts"] == 2, "attempts == 2", row["attempts"])
    t.check(row["worker"] == "kill9-second", "worker 2 finished it", row["worker"])
    results = h.result_rows([job_id])
    t.check(len(results) == 1, "exactly one ocr_results row", len(results))
    if results:
        rate = h.cer(text, results[0]["text"])
        t.check(rate < 0.02, f"the page's text is right (CER {rate:.2%})")
    t.check(h.stop_worker(w2) == 0, "worker 2 exits 0 on SIGTERM")
    counts = h.queue_counts()
    t.check(not any(counts.values()), "nothing left in the queues", counts)


if __name__ == "__main__":
    h.run(main)
