# SPDX-License-Identifier: GPL-3.0-or-later
"""A receiver that takes 5 s per request does not hold back OCR
(docs/webhooks.md: the dispatcher "never slows OCR"):

One supervisor with 2 OCR processes and its dispatcher. After a warm-up job,
the same batch of 12 small multi-line images is submitted twice: first with
the webhook of a receiver that answers at once, then with that of a receiver
that sleeps 5 s before answering. For each batch the OCR span is measured in
the database: last ocr_jobs.finished_at minus first submitted_at.

* slow span / fast span < 2.0: a ratio within the same test, not an absolute
  time (were the deliveries in the OCR path, 12 jobs x 5 s on 2 processes
  would take >= 30 s against a fast span of a few seconds).
* The slow receiver was really slow for this batch: when its last job was
  finished, fewer than all 12 of its events had been answered.
* Every event of both batches still arrives (bounded wait), each job's once,
  validly signed, and every delivery ends 'delivered'."""

import shutil
import threading
import time

import harness as h

N_JOBS = 12
SLOW_S = 5.0
MAX_RATIO = 2.0
TEXT = ("The slow receiver must not\nhold back the OCR of a batch:\n"
        "deliveries run in their own\nprocess, beside the workers.\nLine five of six\nand six.")


def run_batch(t, rc, imgs, batch):
    """Submit imgs with rc's webhook; returns (job ids, OCR span in s, answered at the end)."""
    ids = [o["job_id"] for o in h.submit_json(["--webhook", rc.url(f"/{batch}"),
                                               "--batch", batch, *imgs])]
    h.wait_until(lambda: (lambda c: c["succeeded"] + c["failed"] == len(ids))(
        h.count_by_status(ids)), timeout=120, what=f"batch {batch} to finish", interval=0.02)
    answered = sum(1 for r in rc.snapshot() if r.status is not None)
    rows = h.job_rows(ids)
    t.check(all(r["status"] == "succeeded" for r in rows),
            f"batch {batch}: {N_JOBS} jobs succeeded",
            [(r["status"], r["error_code"]) for r in rows])
    span = (max(r["finished_at"] for r in rows) - min(r["submitted_at"] for r in rows))
    return ids, span.total_seconds(), answered


def main(t):
    secret = h.make_webhook_secret()
    src = h.make_image(TEXT, h.tmpdir() / "src.png", pointsize=36)
    imgs = []
    for i in range(N_JOBS):
        p = h.tmpdir() / f"page-{i:02d}.png"
        shutil.copyfile(src, p)
        imgs.append(p)

    release = threading.Event()  # set at the end: no sleeping handler outlives the test

    def slow(req):
        release.wait(SLOW_S)
        return 200

    with h.Receiver() as fast, h.Receiver(slow) as slow_rc:
        w = h.start_worker(h.webhook_config({"worker.processes": 2}, secrets=[secret]),
                           environ=h.webhook_env())
        h.wait_idle_consumers(2)
        warm = h.submit_json(["--webhook", fast.url("/warm-up"), src])[0]["job_id"]
        h.wait_finished([warm])

        fast_ids, fast_span, _ = run_batch(t, fast, imgs, "fast")
        fast.wait_for(lambda s: len(s) >= N_JOBS + 1, timeout=60, what="the fast batch's events")
        slow_ids, slow_span, answered = run_batch(t, slow_rc, imgs, "slow")
        ratio = slow_span / fast_span if fast_span > 0 else float("inf")
        print(f"OCR span: fast receiver {fast_span:.2f} s, slow receiver {slow_span:.2f} s,"
              f" ratio {ratio:.2f}", flush=True)
        t.check(answered < N_JOBS, "the slow receiver had not answered every event when the"
                f" batch was finished ({answered} of {N_JOBS})", answered)
        t.check(ratio < MAX_RATIO, f"OCR is not held back by a slow receiver: span"
                f" {slow_span:.2f} s against {fast_span:.2f} s, ratio {ratio:.2f} < {MAX_RATIO}",
                ratio)

        # With webhooks.concurrency 8, 12 events at 5 s take about 10 s.
        slow_rc.wait_for(lambda s: set(slow_ids) <= set(slow_rc.by_job())
                         and all(r.status is not None for r in s),
                         timeout=90, what="every event at the slow receiver")
        h.wait_until(lambda: all(d["status"] != "pending"
                                 for d in h.webhook_deliveries(fast_ids + slow_ids)),
                     timeout=30, what="every delivery to end")
        release.set()
        time.sleep(0.5)
        for name, rc, ids in (("fast", fast, fast_ids), ("slow", slow_rc, slow_ids)):
            by_job = rc.by_job()
            t.check(all(len(by_job.get(j, [])) == 1 for j in ids),
                    f"{name}: each job's event arrived exactly once",
                    {j: len(by_job.get(j, [])) for j in ids if len(by_job.get(j, [])) != 1})
            bad = [h.verify_webhook([secret], r.headers, r.body) for j in ids
                   for r in by_job.get(j, [])]
            t.check(not any(bad), f"{name}: every signature verifies", [b for b in bad if b][:3])
            dels = h.webhook_deliveries(ids)
            t.check(len(dels) == N_JOBS and all(d["status"] == "delivered" for d in dels),
                    f"{name}: every delivery 'delivered'",
                    [(d["id"], d["status"], d["attempts"], d["last_error"]) for d in dels
                     if d["status"] != "delivered"])
        h.stop_worker(w)


if __name__ == "__main__":
    h.run(main)
