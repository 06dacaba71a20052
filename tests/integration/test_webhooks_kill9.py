# SPDX-License-Identifier: GPL-3.0-or-later
"""kill -9 of the worker between the job's commit and the webhook's delivery:
the event is delivered after a restart (docs/webhooks.md: the transactional
outbox; docs/fleet.md: children die with a supervisor killed outright).

1. Committed, never sent: a supervisor with webhooks.dispatcher = false OCRs
   a job whose receiver is up. In the same snapshot as the job's row says
   'succeeded', its delivery row exists ('pending', 0 attempts): written in
   the transaction that finished the job. Nothing reaches the receiver. The
   supervisor gets SIGKILL; its OCR process dies with it. A new supervisor
   (dispatcher on) delivers the event exactly once, with the event_id
   written at the commit, validly signed; the job is not OCRed again.
2. Killed between failed attempts: the receiver is down (nothing listens on
   its port), the dispatcher has recorded a failed attempt; the supervisor
   gets SIGKILL and its dispatcher process dies with it. The receiver comes
   up and a new supervisor delivers the event exactly once, same webhook-id.
3. Killed during an attempt: the receiver holds the request without
   answering; the supervisor gets SIGKILL (the dispatcher with it) while the
   delivery is claimed (locked_until = the lease, webhooks.timeout_s + 30 s).
   A new supervisor sends it again with the same webhook-id, not before the
   lease ran out, and it ends 'delivered'. (At least once: the receiver saw
   the unanswered request too, which is why the id must be the same.)"""

import signal
import threading
import time

import harness as h

SCHEDULE = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]


def kill_supervisor(t, w, what):
    """SIGKILL supervisor w; check that its children (OCR and dispatcher) die with it."""
    kids = h.proc_children(w.pid)
    disp = h.dispatcher_pids(w)
    h.kill_worker(w, signal.SIGKILL)
    alive = h.check_eventually(t, lambda: [k for k in kids if h.proc_alive(k)],
                               f"{what}: the supervisor's children {kids} died with it"
                               f" (dispatcher {disp})", ok=lambda pids: not pids, timeout=30)
    h.signal_pids(alive, signal.SIGKILL)


def main(t):
    secret = h.make_webhook_secret()

    def start(settings):
        return h.start_worker(h.webhook_config(settings, secrets=[secret]),
                              environ=h.webhook_env())

    img = h.make_image("Killed after\nthe commit", h.tmpdir() / "kill.png")
    base = {"worker.processes": 1, "webhooks.retry_schedule_s": SCHEDULE,
            "webhooks.connect_timeout_s": 1, "webhooks.timeout_s": 2}

    # 1. The dispatcher off: the event is only in the outbox when the worker dies.
    with h.Receiver() as rc:
        w = start({**base, "webhooks.dispatcher": False})
        job = h.submit_json(["--webhook", rc.url("/one"), img])[0]["job_id"]
        h.wait_finished([job])
        snap = h.db_query(
            "SELECT j.status, d.status AS d_status, d.attempts, d.event_id"
            " FROM ocr_jobs j LEFT JOIN ocr_webhook_deliveries d USING (job_id)"
            " WHERE j.job_id = %s", (job,))
        t.require(len(snap) == 1 and snap[0]["status"] == "succeeded"
                  and snap[0]["d_status"] == "pending" and snap[0]["attempts"] == 0,
                  "1: the job succeeded and, in the same snapshot, its event is in the outbox,"
                  " pending, never attempted", snap)
        event_id = snap[0]["event_id"]
        t.check(not h.dispatcher_pids(w), "1: no dispatcher process with webhooks.dispatcher ="
                " false", h.dispatcher_pids(w))
        time.sleep(1.0)
        t.check(not rc.snapshot(), "1: nothing was sent before the kill",
                [r.path for r in rc.snapshot()])
        kill_supervisor(t, w, "1")
        w2 = start(base)
        got = rc.wait_for(lambda s: s, timeout=60, what="the event after the restart")
        h.wait_until(lambda: h.webhook_deliveries([job])[0]["status"] != "pending", timeout=30,
                     what="the delivery to be recorded")
        time.sleep(1.0)
        got = rc.snapshot()
        t.check(len(got) == 1 and got[0].id == event_id,
                "1: after the restart the event arrived exactly once, with the event_id written"
                " at the commit", [(r.path, r.id) for r in got])
        t.check(got and h.verify_webhook([secret], got[0].headers, got[0].body) is None,
                "1: its signature verifies")
        d = h.webhook_deliveries([job])[0]
        t.check(d["status"] == "delivered" and d["attempts"] == 1,
                "1: the delivery is 'delivered' after 1 attempt", (d["status"], d["attempts"]))
        t.check(h.job_row(job)["attempts"] == 1, "1: the job was not OCRed again",
                h.job_row(job)["attempts"])
        h.stop_worker(w2)

    # 2. Killed while the receiver is down, between failed attempts.
    port = h.free_port()
    w = start(base)
    job = h.submit_json(["--webhook", f"http://127.0.0.1:{port}/two", img])[0]["job_id"]
    h.wait_finished([job])
    h.wait_until(lambda: (h.webhook_deliveries([job]) or [{}])[0].get("last_error"),
                 timeout=30, what="a failed attempt")
    t.check(len(h.dispatcher_pids(w)) == 1, "2: the supervisor runs one dispatcher",
            h.dispatcher_pids(w))
    kill_supervisor(t, w, "2")
    before = h.webhook_deliveries([job])[0]
    t.check(before["status"] == "pending" and before["attempts"] >= 1,
            "2: when killed, the delivery was pending after >= 1 failed attempt",
            (before["status"], before["attempts"], before["last_error"]))
    with h.Receiver(port=port) as rc:
        w = start(base)
        rc.wait_for(lambda s: s, timeout=60, what="the event after the restart")
        h.wait_until(lambda: h.webhook_deliveries([job])[0]["status"] != "pending", timeout=30,
                     what="the delivery to be recorded")
        time.sleep(1.0)
        got = rc.snapshot()
    t.check(len(got) == 1 and got[0].id == before["event_id"]
            and h.verify_webhook([secret], got[0].headers, got[0].body) is None,
            "2: after the restart the event arrived exactly once, same webhook-id, signed",
            [(r.path, r.id) for r in got])
    t.check(h.webhook_deliveries([job])[0]["status"] == "delivered", "2: 'delivered'")
    h.stop_worker(w)

    # 3. Killed during an attempt: the claim's lease runs out, then it is sent again.
    held = threading.Event()
    release = threading.Event()

    def hold_first(req):
        if not held.is_set():
            held.set()
            release.wait(30)  # never answered in time: the worker is killed meanwhile
        return 200

    with h.Receiver(hold_first) as rc:
        w = start(base)
        job = h.submit_json(["--webhook", rc.url("/three"), img])[0]["job_id"]
        h.wait_until(held.is_set, timeout=60, what="the first attempt to reach the receiver")
        claimed = h.webhook_deliveries([job])[0]
        kill_supervisor(t, w, "3")
        killed_at = time.time()
        t.check(claimed["status"] == "pending" and claimed["locked_until"] is not None,
                "3: killed while the delivery was claimed (locked_until set)",
                (claimed["status"], claimed["locked_until"]))
        release.set()
        w = start(base)
        h.wait_until(lambda: h.webhook_deliveries([job])[0]["status"] != "pending", timeout=90,
                     what="the delivery to end after the lease ran out")
        time.sleep(1.0)
        got = rc.snapshot()
    d = h.webhook_deliveries([job])[0]
    t.check(d["status"] == "delivered", "3: the event was delivered after the restart",
            (d["status"], d["attempts"], d["last_error"]))
    t.check(len(got) == 2 and got[0].id == got[1].id == d["event_id"],
            "3: the receiver saw it twice (the unanswered attempt and the retry), same"
            " webhook-id", [(r.at, r.id) for r in got])
    if len(got) == 2 and claimed["locked_until"] is not None:
        lease_end = claimed["locked_until"].timestamp()
        t.check(got[1].at >= lease_end - 0.5,
                "3: not sent again before the lease ran out"
                f" ({got[1].at - killed_at:.1f} s after the kill)",
                (got[1].at, lease_end))
    h.stop_worker(w)


if __name__ == "__main__":
    h.run(main)
