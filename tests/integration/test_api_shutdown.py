# SPDX-License-Identifier: GPL-3.0-or-later
"""Graceful shutdown of ocrq-api: SIGTERM while three POSTs wait for their
broker confirms (the broker is paused with SIGSTOP) closes the listening
socket at once (new connections are refused) but lets those requests
finish: when the broker resumes they get their 202, their jobs are in the
queue, and ocrq-api exits 0. A second case: SIGTERM with nothing in
progress exits 0 at once."""

import os
import signal
import threading
import time

import harness as h


def main(t):
    img = h.make_image("Shutdown", h.tmpdir() / "s.png").read_bytes()
    _, key = h.api_key()
    api = h.start_api({"api.rate_limit_per_s": 0, "api.publish_timeout_s": 120,
                       "api.shutdown_timeout_s": 60})
    pid = h.broker_pid()
    t.require(pid, "found the broker's pid")
    results = [None] * 3

    def post(i):
        results[i] = h.api_post_image(api, key, img, f"batch=term-{i}")

    threads = [threading.Thread(target=post, args=(i,)) for i in range(3)]
    os.kill(pid, signal.SIGSTOP)
    try:
        for th in threads:
            th.start()
        h.wait_until(lambda: h.api_in_progress(api) >= 3, timeout=30,
                     what="three POSTs waiting for confirms")
        api.send_signal(signal.SIGTERM)

        def healthz():
            """The answer to a new GET /healthz, or the error that refused it."""
            try:
                return h.api_request(api, "GET", "/healthz", timeout=2)
            except OSError as e:
                return e
        h.check_eventually(t, healthz, "after SIGTERM new connections are refused",
                           ok=lambda r: isinstance(r, OSError), timeout=30)
        time.sleep(0.5)
        t.check(api.poll() is None, "ocrq-api waits for the requests in progress")
    finally:
        os.kill(pid, signal.SIGCONT)
    for th in threads:
        th.join(120)
    t.check(all(r is not None and r[0] == 202 for r in results),
            "the three requests in progress finish with 202",
            [r[0] if r else None for r in results])
    try:
        rc = api.wait(60)
    except Exception:
        rc = None
    t.check(rc == 0, "ocrq-api exits 0 once they are answered", rc)
    ids = [r[2]["job_id"] for r in results if r and r[0] == 202]
    rows = h.job_rows(ids)
    t.check(len(rows) == 3 and all(r["status"] == "queued" for r in rows),
            "their jobs are recorded queued", rows)
    counts = h.queue_counts([h.JOB_QUEUE])
    t.check(counts.get(h.JOB_QUEUE) == 3, "and their messages are in ocr.jobs", counts)

    # with an hour of shutdown time, waiting for it would mean being killed by stop_api()
    api = h.start_api({"api.shutdown_timeout_s": 3600})
    t.check(h.stop_api(api) == 0 and not api.hung,
            "SIGTERM with nothing in progress: exit 0 without waiting out the shutdown time")


if __name__ == "__main__":
    h.run(main)
