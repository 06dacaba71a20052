# SPDX-License-Identifier: GPL-3.0-or-later
"""ocrq-api when its services fail, with the real servers stopped: the
database down gives 503 database_unavailable (POST and GET) and /readyz 503;
the broker killed while POSTs wait for their confirms gives those requests
503 broker_unavailable, never 202; while it is down POST is 503 at once and
/readyz says so; when each comes back the API serves again by itself, and
every job ever answered 202 is in the queue (durable)."""

import os
import signal
import threading

import harness as h



def code(obj):
    return (obj.get("error") or {}).get("code") if isinstance(obj, dict) else None


def main(t):
    img = h.make_image("Outage", h.tmpdir() / "o.png").read_bytes()
    _, key = h.api_key()
    api = h.start_api({"api.rate_limit_per_s": 0, "api.publish_timeout_s": 120,
                       "api.retry_after_s": 2})
    accepted = []

    st, _, obj = h.api_post_image(api, key, img)
    t.require(st == 202, "a job is accepted while all is well", (st, obj))
    accepted.append(obj["job_id"])

    # --- the database stops
    h.services("pg-stop")
    try:
        st, hdr, obj = h.api_post_image(api, key, img)
        t.check(st == 503 and code(obj) == "database_unavailable" and hdr.get("retry-after") == "2",
                "database down: POST is 503 database_unavailable with Retry-After", (st, obj))
        st, _, obj = h.api_json(api, "GET", f"/v1/jobs/{accepted[0]}", key=key)
        t.check(st == 503 and code(obj) == "database_unavailable",
                "database down: GET job is 503", (st, obj))
        st, _, obj = h.api_json(api, "GET", "/readyz")
        t.check(st == 503 and obj.get("database") == "down" and obj.get("broker") == "up",
                "database down: /readyz 503, database down", (st, obj))
    finally:
        h.services("pg-start")
    h.wait_until(lambda: h.api_json(api, "GET", "/readyz")[0] == 200, timeout=60,
                 what="/readyz 200 after the database is back")
    st, _, obj = h.api_post_image(api, key, img)
    t.check(st == 202, "database back: POST is 202 again", (st, obj))
    if st == 202:
        accepted.append(obj["job_id"])

    # --- the broker dies while three POSTs wait for their confirms
    pid = h.broker_pid()
    t.require(pid, "found the broker's pid")
    os.kill(pid, signal.SIGSTOP)  # publishes are read by the kernel, never confirmed
    results = [None] * 3

    def post(i):
        results[i] = h.api_post_image(api, key, img, f"batch=mid-{i}")

    threads = [threading.Thread(target=post, args=(i,)) for i in range(3)]
    try:
        for th in threads:
            th.start()
        h.wait_until(lambda: h.api_in_progress(api) >= 3, timeout=30,
                     what="three POSTs waiting in ocrq-api")
    finally:
        os.kill(pid, signal.SIGKILL)  # the broker crashes before confirming them
    for th in threads:
        th.join(60)
    t.check(all(r is not None for r in results), "the waiting POSTs were answered")
    t.check(all(r and r[0] == 503 and code(r[2]) == "broker_unavailable" for r in results),
            "broker killed mid-request: 503 broker_unavailable, not 202",
            [(r[0], code(r[2])) if r else None for r in results])
    h.wait_until(lambda: h.api_json(api, "GET", "/readyz")[2].get("broker") == "down",
                 timeout=30, what="/readyz sees the broker down")
    st, _, obj = h.api_json(api, "GET", "/readyz")
    t.check(st == 503, "broker down: /readyz 503", (st, obj))
    st, _, obj = h.api_post_image(api, key, img)
    t.check(st == 503 and code(obj) == "broker_unavailable",
            "broker down: POST is 503 broker_unavailable at once", (st, obj))

    h.services("mq-start")
    h.wait_until(lambda: h.api_json(api, "GET", "/readyz")[0] == 200, timeout=120,
                 what="/readyz 200 after the broker is back")
    st, _, obj = h.api_post_image(api, key, img)
    t.check(st == 202, "broker back: POST is 202 again (the API reconnected)", (st, obj))
    if st == 202:
        accepted.append(obj["job_id"])
    in_queue = set(h.queue_message_ids(h.JOB_QUEUE))
    t.check(set(accepted) <= in_queue, "every job answered 202 is in the queue",
            (accepted, sorted(in_queue)))
    m = h.parse_metrics(h.api_request(api, "GET", "/metrics")[2].decode())
    t.check((h.metric(m, "ocrq_api_broker_reconnects_total") or 0) >= 1,
            "/metrics counts the reconnect", h.metric(m, "ocrq_api_broker_reconnects_total"))
    t.check(h.stop_api(api) == 0, "ocrq-api exits 0 on SIGTERM")


if __name__ == "__main__":
    h.run(main)
