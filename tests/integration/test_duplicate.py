# SPDX-License-Identifier: GPL-3.0-or-later
"""A job delivered more than once is done once: the same message (same
job_id) is published twice before the worker starts, and once more after the
job succeeded (a producer retrying after a lost confirm). The worker acks
every copy, and there is exactly one ocr_jobs row and one ocr_results row,
status succeeded."""

import uuid

import harness as h


def main(t):
    text = "Duplicate delivery test"
    img = h.make_image(text, h.tmpdir() / "dup.png").read_bytes()
    job_id = str(uuid.uuid4())
    body, props = h.inline_job(img, job_id=job_id, source="dup.png")
    h.publish_raw(body, props)
    h.publish_raw(body, props)
    t.check(h.queue_counts([h.JOB_QUEUE]).get(h.JOB_QUEUE) == 2, "two copies queued")

    w = h.start_worker()
    h.wait_until(lambda: (h.job_row(job_id) or {}).get("status") == "succeeded",
                 what="the job to succeed")
    h.wait_until(lambda: h.queue_counts([h.JOB_QUEUE])[h.JOB_QUEUE] == 0,
                 what="the second copy to be taken")
    h.publish_raw(body, props)
    h.wait_until(lambda: h.queue_counts([h.JOB_QUEUE])[h.JOB_QUEUE] == 0,
                 what="the third copy to be taken")
    # A copy the worker holds unacked returns to the queue when it exits.
    t.check(h.stop_worker(w) == 0, "worker exits 0 on SIGTERM")
    counts = h.queue_counts()
    t.check(not any(counts.values()), "every copy was acked: all queues empty", counts)

    rows = h.job_rows()
    t.check(len(rows) == 1 and rows[0]["job_id"] == job_id and rows[0]["status"] == "succeeded",
            "exactly one ocr_jobs row, succeeded", [(r["job_id"], r["status"]) for r in rows])
    results = h.result_rows()
    t.check(len(results) == 1 and results[0]["job_id"] == job_id, "exactly one ocr_results row",
            [r["job_id"] for r in results])
    if results:
        t.check(h.cer(text, results[0]["text"]) < 0.1, "its text is right", results[0]["text"])


if __name__ == "__main__":
    h.run(main)
