# SPDX-License-Identifier: GPL-3.0-or-later
"""The receiver is down for the first part of a run, then up
(docs/webhooks.md, "Delivery and retries"):

* webhooks.retry_schedule_s = [1, 1, 2, 2, 3, 3, 5, 5] and a webhook URL on a
  free port of 127.0.0.1 where nothing listens yet. 6 jobs are OCRed all the
  same (OCR does not wait for webhooks).
* While it is down every delivery stays 'pending' and is attempted at least
  twice: each attempt is in ocr_webhook_attempts with an error and no HTTP
  status, the waits between attempts are not shorter than the schedule
  (1 s - 10% jitter), and the event_id of each delivery stays what it was
  when the outbox row was written.
* Then the receiver starts on that port: every event arrives, each job's
  exactly once, with the webhook-id its delivery had from the start (so every
  attempt of an event carried the same id), a valid signature, and the
  delivery ends 'delivered' with its last attempt HTTP 200 after >= 2 failed
  ones."""

import time

import harness as h

N_JOBS = 6
SCHEDULE = [1, 1, 2, 2, 3, 3, 5, 5]


def main(t):
    secret = h.make_webhook_secret()
    port = h.free_port()
    url = f"http://127.0.0.1:{port}/down"
    img = h.make_image("The receiver\nis down", h.tmpdir() / "down.png")
    conf = h.webhook_config({"worker.processes": 2, "webhooks.retry_schedule_s": SCHEDULE,
                             "webhooks.connect_timeout_s": 1, "webhooks.timeout_s": 5},
                            secrets=[secret])
    h.start_worker(conf, environ=h.webhook_env())
    ids = [o["job_id"] for o in h.submit_json(["--webhook", url, *[img] * N_JOBS])]
    rows = h.wait_finished(ids, what=f"{N_JOBS} jobs while the receiver is down")
    t.check(all(r["status"] == "succeeded" for r in rows),
            f"the {N_JOBS} jobs succeeded while the receiver was down",
            [(r["status"], r["error_code"]) for r in rows])

    first_ids = {d["job_id"]: d["event_id"] for d in h.webhook_deliveries(ids)}
    t.require(set(first_ids) == set(ids), "each job has a delivery in the outbox", first_ids)
    h.wait_until(lambda: all(d["attempts"] >= 2 and d["last_error"]
                             for d in h.webhook_deliveries(ids)),
                 timeout=60, what="every delivery to have failed at least twice")
    down = h.webhook_deliveries(ids)
    t.check(all(d["status"] == "pending" for d in down),
            "while the receiver is down the deliveries stay pending",
            [(d["id"], d["status"], d["attempts"]) for d in down])
    t.check({d["job_id"]: d["event_id"] for d in down} == first_ids,
            "the event_ids did not change between attempts")
    failed_attempts = [a for d in down for a in h.webhook_attempts(d["id"])]
    t.check(len(failed_attempts) >= 2 * N_JOBS
            and all(a["error"] and a["http_status"] is None for a in failed_attempts),
            "every attempt while down is recorded with an error and no HTTP status",
            [(a["delivery_id"], a["attempt"], a["http_status"], a["error"])
             for a in failed_attempts][:6])
    early = []
    for d in down:
        att = h.webhook_attempts(d["id"])
        for a, b in zip(att, att[1:]):
            gap = (b["started_at"] - a["started_at"]).total_seconds()
            want = SCHEDULE[min(a["attempt"], len(SCHEDULE)) - 1] * 0.9 - 0.05
            if gap < want:
                early.append((d["id"], a["attempt"], round(gap, 3), want))
    t.check(not early, "no retry came earlier than its wait in the schedule (-10% jitter)", early)

    with h.Receiver(port=port) as rc:
        rc.wait_for(lambda s: set(ids) <= set(rc.by_job()), timeout=60,
                    what="every event once the receiver is up")
        h.wait_until(lambda: all(d["status"] != "pending" for d in h.webhook_deliveries(ids)),
                     timeout=30, what="the deliveries to be recorded")
        time.sleep(1.0)  # a repeat would come within this
        reqs = rc.snapshot()

    by_job = rc.by_job()
    t.check(all(len(by_job.get(j, [])) == 1 for j in ids) and len(reqs) == N_JOBS,
            "each job's event arrived exactly once",
            {j: len(by_job.get(j, [])) for j in ids})
    t.check(all(by_job[j][0].id == first_ids[j] for j in ids if by_job.get(j)),
            "each arrived with the webhook-id its delivery had from the first attempt",
            [(by_job[j][0].id, first_ids[j]) for j in ids if by_job.get(j)])
    bad = [(r.id, h.verify_webhook([secret], r.headers, r.body)) for r in reqs
           if h.verify_webhook([secret], r.headers, r.body)]
    t.check(not bad, "every signature verifies (with a fresh webhook-timestamp)", bad)
    final = h.webhook_deliveries(ids)
    t.check(all(d["status"] == "delivered" and d["last_http_status"] == 200 for d in final),
            "every delivery ends 'delivered'",
            [(d["id"], d["status"], d["last_http_status"], d["last_error"]) for d in final])
    shape = {}
    for d in final:
        att = h.webhook_attempts(d["id"])
        ok = (len(att) >= 3 and len(att) == d["attempts"]
              and [a["attempt"] for a in att] == list(range(1, len(att) + 1))
              and all(a["http_status"] is None and a["error"] for a in att[:-1])
              and att[-1]["http_status"] == 200 and att[-1]["error"] is None)
        if not ok:
            shape[d["id"]] = [(a["attempt"], a["http_status"], a["error"]) for a in att]
    t.check(not shape, "each delivery: >= 2 failed attempts, then one with HTTP 200, all"
            " recorded and numbered 1..n", shape)


if __name__ == "__main__":
    h.run(main)
