# SPDX-License-Identifier: GPL-3.0-or-later
"""Failed attempts, retried (docs/webhooks.md, "Delivery and retries"), with
webhooks.retry_schedule_s = [1, 1, 1], one job per receiver behaviour:

* /fail-twice answers 500, 500, then 200: three attempts recorded in
  ocr_webhook_attempts (HTTP 500, 500, 200, numbered 1, 2, 3), one delivery,
  'delivered' with attempts 3; the receiver got 3 POSTs with the same
  webhook-id and the same body, each signed validly for its own
  webhook-timestamp.
* /retry-after answers 503 with `Retry-After: 3` once, then 200: the second
  attempt starts at least 3 s after the first (longer than the schedule's
  1 s: Retry-After is honoured when it asks for longer). This is a lower
  bound on a wait, not a speed threshold.
* /retry-after-date: the same with an HTTP date 5 s ahead (>= 3.5 s: the date
  has whole seconds).
* /redirect answers 302 to another path once, then 200: the redirect is not
  followed (nothing arrives at the other path), the attempt is recorded as
  failed with HTTP 302, and the retry delivers."""

import email.utils
import threading
import time

import harness as h

SCHEDULE = [1, 1, 1]


def main(t):
    secret = h.make_webhook_secret()
    counts = {}
    lock = threading.Lock()
    rc = None

    def answer(req):
        with lock:
            n = counts[req.id] = counts.get(req.id, 0) + 1
        if req.path == "/fail-twice":
            return 500 if n <= 2 else 200
        if req.path == "/retry-after":
            return (503, {"Retry-After": "3"}) if n == 1 else 200
        if req.path == "/retry-after-date":
            return (503, {"Retry-After": email.utils.formatdate(time.time() + 5, usegmt=True)}) \
                if n == 1 else 200
        if req.path == "/redirect":
            return (302, {"Location": rc.url("/elsewhere")}) if n == 1 else 200
        return 404

    paths = ["/fail-twice", "/retry-after", "/retry-after-date", "/redirect"]
    img = h.make_image("Try again", h.tmpdir() / "again.png")
    with h.Receiver(answer) as rc:
        h.start_worker(h.webhook_config({"worker.processes": 1,
                                         "webhooks.retry_schedule_s": SCHEDULE},
                                        secrets=[secret]), environ=h.webhook_env())
        jobs = {p: h.submit_json(["--webhook", rc.url(p), img])[0]["job_id"] for p in paths}
        h.wait_finished(jobs.values())
        h.wait_until(lambda: all(d["status"] != "pending"
                                 for d in h.webhook_deliveries(jobs.values())),
                     timeout=60, what="the four deliveries to end")
        time.sleep(1.5)  # a further attempt would come within this
        reqs = rc.snapshot()

    dels = {d["job_id"]: d for d in h.webhook_deliveries(jobs.values())}
    t.require(set(dels) == set(jobs.values()) and len(h.webhook_deliveries()) == len(paths),
              "one delivery per job", list(dels))
    by_path = {p: [r for r in reqs if r.path == p] for p in paths + ["/elsewhere"]}

    # 500, 500, 200
    d = dels[jobs["/fail-twice"]]
    att = h.webhook_attempts(d["id"])
    t.check([(a["attempt"], a["http_status"]) for a in att] == [(1, 500), (2, 500), (3, 200)],
            "/fail-twice: three attempts recorded: HTTP 500, 500, 200",
            [(a["attempt"], a["http_status"], a["error"]) for a in att])
    t.check(d["status"] == "delivered" and d["attempts"] == 3 and d["last_http_status"] == 200
            and d["delivered_at"] is not None,
            "/fail-twice: the delivery is 'delivered' with attempts 3",
            {k: d[k] for k in ("status", "attempts", "last_http_status", "delivered_at")})
    got = by_path["/fail-twice"]
    t.check(len(got) == 3 and {r.id for r in got} == {d["event_id"]},
            "/fail-twice: the receiver got 3 POSTs, all with the delivery's webhook-id",
            [r.id for r in got])
    t.check(len({r.body for r in got}) == 1, "/fail-twice: the same body every time")
    bad = [h.verify_webhook([secret], r.headers, r.body) for r in got]
    t.check(not any(bad), "/fail-twice: each attempt's signature verifies", bad)
    t.check(all(a["error"] for a in att[:2]) and att[-1]["error"] is None,
            "/fail-twice: the failed attempts have an error, the last none",
            [a["error"] for a in att])

    # Retry-After
    for path, least in (("/retry-after", 3.0), ("/retry-after-date", 3.5)):
        d = dels[jobs[path]]
        att = h.webhook_attempts(d["id"])
        t.check([a["http_status"] for a in att] == [503, 200] and d["status"] == "delivered",
                f"{path}: 503, then 200: delivered", [(a["http_status"], a["error"]) for a in att])
        if len(att) >= 2:
            gap = (att[1]["started_at"] - att[0]["started_at"]).total_seconds()
            t.check(gap >= least, f"{path}: the retry waited >= {least} s for Retry-After"
                    f" (schedule: {SCHEDULE[0]} s), took {gap:.2f} s", gap)
        got = by_path[path]
        if len(got) >= 2:
            t.check(got[1].at - got[0].at >= least - 0.1 and got[0].id == got[1].id,
                    f"{path}: at the receiver too, >= {least} s between the two, same id",
                    (got[1].at - got[0].at, got[0].id, got[1].id))

    # No redirects
    d = dels[jobs["/redirect"]]
    att = h.webhook_attempts(d["id"])
    t.check([a["http_status"] for a in att] == [302, 200] and att[0]["error"]
            and d["status"] == "delivered",
            "/redirect: a 302 is a failed attempt (recorded with its status), then delivered",
            [(a["http_status"], a["error"]) for a in att])
    t.check(not by_path["/elsewhere"], "/redirect: the redirect was not followed",
            [r.path for r in by_path["/elsewhere"]])
    t.check(len(by_path["/redirect"]) == 2, "/redirect: two POSTs in all",
            len(by_path["/redirect"]))


if __name__ == "__main__":
    h.run(main)
