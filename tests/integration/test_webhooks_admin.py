# SPDX-License-Identifier: GPL-3.0-or-later
"""ocrq-admin webhooks list|retry (docs/webhooks.md; exit codes of
`ocrq-admin --help`: 0 ok, 1 retry of no such or an already delivered
delivery, 2 usage, 3 database error).

With webhooks.retry_schedule_s = [1] (one retry) and a receiver that answers
500 on /bad and 200 on /good: two jobs to /bad end 'failed' after 2 attempts,
one to /good is 'delivered'.

* `webhooks list`: a table with a header and one line per delivery (its id,
  status, type, job); `--json`: one object per line with the documented
  fields, newest first; `--failed`: only the two failed ones; `--limit 1`: the
  newest only.
* `webhooks retry ID` of a failed one while /bad still answers 500: due again
  with the whole schedule (2 more attempts: 4 in all), then 'failed' again.
* /bad answers 200 from now on. `webhooks retry ID`: delivered (5 attempts),
  with the same webhook-id as every earlier attempt. `webhooks retry ID` of a
  delivered one, or of an ID that does not exist: exit 1.
  `webhooks retry --all-failed`: the other one is delivered too; then
  `webhooks list --failed` says there are none.
* Usage errors exit 2: no subcommand, an unknown one, retry without an ID,
  with a non-numeric ID, with both an ID and --all-failed, list with an
  extra argument. An unreachable database: exit 3."""

import threading
import time

import harness as h

FIELDS = {"id", "event_id", "job_id", "type", "url", "status", "attempts", "last_http_status",
          "last_error", "created_at", "next_attempt_at", "delivered_at"}


def admin_json(t, args, what):
    r = h.admin(["webhooks", "list", "--json", *args])
    t.check(r.returncode == 0, f"{what}: exit 0", (r.returncode, r.stderr.strip()))
    return h.json_lines(r.stdout)


def main(t):
    secret = h.make_webhook_secret()
    bad_fixed = threading.Event()

    def answer(req):
        if req.path == "/good" or bad_fixed.is_set():
            return 200
        return 500

    with h.Receiver(answer) as rc:
        conf = h.webhook_config({"worker.processes": 1, "webhooks.retry_schedule_s": [1]},
                                secrets=[secret])
        h.start_worker(conf, environ=h.webhook_env())
        img = h.make_image("Admin", h.tmpdir() / "admin.png")
        bad1 = h.submit_json(["--webhook", rc.url("/bad"), img])[0]["job_id"]
        bad2 = h.submit_json(["--webhook", rc.url("/bad"), img])[0]["job_id"]
        good = h.submit_json(["--webhook", rc.url("/good"), img])[0]["job_id"]
        jobs = [bad1, bad2, good]
        h.wait_finished(jobs)
        h.wait_until(lambda: len(h.webhook_deliveries(jobs)) == 3
                     and all(d["status"] != "pending" for d in h.webhook_deliveries(jobs)),
                     timeout=60, what="two deliveries failed, one delivered")
        dels = {d["job_id"]: d for d in h.webhook_deliveries(jobs)}
        t.require(dels[bad1]["status"] == dels[bad2]["status"] == "failed"
                  and dels[good]["status"] == "delivered",
                  "set-up: /bad deliveries 'failed' after the 1-entry schedule, /good delivered",
                  {j: (d["status"], d["attempts"]) for j, d in dels.items()})
        t.check(dels[bad1]["attempts"] == 2 and dels[bad2]["attempts"] == 2,
                "with retry_schedule_s = [1]: 2 attempts before 'failed'",
                (dels[bad1]["attempts"], dels[bad2]["attempts"]))
        id1, id2, idg = dels[bad1]["id"], dels[bad2]["id"], dels[good]["id"]

        # list, table
        r = h.admin(["webhooks", "list"])
        t.check(r.returncode == 0, "webhooks list: exit 0", (r.returncode, r.stderr.strip()))
        lines = [l for l in r.stdout.splitlines() if l.strip()]
        rows = {}
        for l in lines[1:]:
            f = l.split()
            if f and f[0].isdigit():
                rows[int(f[0])] = l
        t.check(len(lines) == 4 and set(rows) == {id1, id2, idg},
                "webhooks list: a header and one line per delivery", r.stdout)
        t.check(all(j in rows.get(i, "") and st in rows.get(i, "")
                    for i, j, st in ((id1, bad1, "failed"), (id2, bad2, "failed"),
                                     (idg, good, "delivered"))),
                "webhooks list: each line has the status and the job", r.stdout)

        # list --json
        objs = admin_json(t, [], "webhooks list --json")
        t.check([o.get("id") for o in objs] == sorted([id1, id2, idg], reverse=True),
                "webhooks list --json: every delivery, newest first", [o.get("id") for o in objs])
        t.check(all(set(o) == FIELDS for o in objs), "webhooks list --json: the documented"
                " fields", [sorted(o) for o in objs if set(o) != FIELDS][:1])
        by_id = {o.get("id"): o for o in objs}
        o = by_id.get(id1, {})
        want = {"event_id": dels[bad1]["event_id"], "job_id": bad1, "type": "job.succeeded",
                "url": rc.url("/bad"), "status": "failed", "attempts": 2,
                "last_http_status": 500, "next_attempt_at": None, "delivered_at": None}
        t.check({k: o.get(k) for k in want} == want and o.get("created_at"),
                "webhooks list --json: a failed delivery's fields", o)
        o = by_id.get(idg, {})
        t.check(o.get("status") == "delivered" and o.get("last_http_status") == 200
                and o.get("delivered_at") and o.get("last_error") is None,
                "webhooks list --json: the delivered one's fields", o)
        objs = admin_json(t, ["--failed"], "webhooks list --failed --json")
        t.check(sorted(o.get("id") for o in objs) == sorted([id1, id2]),
                "webhooks list --failed: only the two failed ones", [o.get("id") for o in objs])
        objs = admin_json(t, ["--limit", "1"], "webhooks list --json --limit 1")
        t.check([o.get("id") for o in objs] == [max(id1, id2, idg)],
                "webhooks list --limit 1: the newest only", [o.get("id") for o in objs])

        # retry while the receiver still fails: the whole schedule again, then failed again
        r = h.admin(["webhooks", "retry", str(id1)])
        t.check(r.returncode == 0, f"webhooks retry {id1} (still failing): exit 0",
                (r.returncode, r.stdout.strip(), r.stderr.strip()))
        try:
            h.wait_until(lambda: (lambda d: d["status"] == "failed" and d["attempts"] >= 4)(
                h.webhook_deliveries([bad1])[0]), timeout=30,
                what="the retried delivery to fail again after the whole schedule")
        except h.TestFailure as e:
            t.check(False, "retry with the receiver still failing", e)
        d = h.webhook_deliveries([bad1])[0]
        t.check(d["status"] == "failed" and d["attempts"] == 4,
                "retry gives the whole schedule again: 2 more attempts, then 'failed' again",
                (d["status"], d["attempts"]))

        # the receiver is fixed: retry ID delivers
        bad_fixed.set()
        r = h.admin(["webhooks", "retry", str(id1)])
        t.check(r.returncode == 0, f"webhooks retry {id1}: exit 0",
                (r.returncode, r.stderr.strip()))
        h.wait_until(lambda: h.webhook_deliveries([bad1])[0]["status"] == "delivered",
                     timeout=30, what="the retried delivery to be delivered")
        d = h.webhook_deliveries([bad1])[0]
        t.check(d["attempts"] == 5 and d["last_http_status"] == 200,
                "after retry: delivered on the 5th attempt", (d["attempts"], d["last_http_status"]))
        seen = [r for r in rc.snapshot() if r.json()["data"]["job_id"] == bad1]
        t.check(len(seen) == 5 and {r.id for r in seen} == {dels[bad1]["event_id"]},
                "every one of its 5 POSTs had the same webhook-id", [r.id for r in seen])
        t.check(all(h.verify_webhook([secret], r.headers, r.body) is None for r in seen),
                "every one of them is validly signed")
        att = h.webhook_attempts(id1)
        t.check([a["http_status"] for a in att] == [500, 500, 500, 500, 200],
                "ocr_webhook_attempts: 500 x 4, then 200", [a["http_status"] for a in att])

        r = h.admin(["webhooks", "retry", str(id1)])
        t.check(r.returncode == 1, "webhooks retry of a delivered one: exit 1",
                (r.returncode, r.stderr.strip()))
        r = h.admin(["webhooks", "retry", "999999999"])
        t.check(r.returncode == 1, "webhooks retry of an ID that does not exist: exit 1",
                (r.returncode, r.stderr.strip()))

        r = h.admin(["webhooks", "retry", "--all-failed"])
        t.check(r.returncode == 0, "webhooks retry --all-failed: exit 0",
                (r.returncode, r.stdout.strip(), r.stderr.strip()))
        h.check_eventually(t, lambda: h.webhook_deliveries([bad2])[0]["status"],
                           "webhooks retry --all-failed: the other failed delivery is delivered",
                           ok=lambda status: status == "delivered", timeout=30)
        d = h.webhook_deliveries([good])[0]
        t.check(d["attempts"] == 1, "the delivered one was not sent again", d["attempts"])
        r = h.admin(["webhooks", "list", "--failed"])
        t.check(r.returncode == 0 and not [l for l in r.stdout.splitlines()
                                            if l.split() and l.split()[0].isdigit()],
                "webhooks list --failed: none left", r.stdout)
        time.sleep(0.5)
        t.check(len([r for r in rc.snapshot() if r.path == "/good"]) == 1,
                "the /good event arrived once in all")

    # usage errors and an unreachable database
    for args in (["webhooks"], ["webhooks", "frob"], ["webhooks", "retry"],
                 ["webhooks", "retry", "abc"], ["webhooks", "retry", "0"],
                 ["webhooks", "retry", str(id1), "--all-failed"],
                 ["webhooks", "list", "extra"], ["webhooks", "list", "--all-failed"]):
        r = h.admin(args)
        t.check(r.returncode == 2 and r.stderr.strip(),
                f"ocrq-admin {' '.join(args)}: exit 2 with a message",
                (r.returncode, r.stderr.strip()))
    dead = f"postgresql://ocrq@127.0.0.1:{h.free_port()}/ocrq?connect_timeout=3"
    for args in (["webhooks", "list"], ["webhooks", "retry", "--all-failed"]):
        r = h.admin(args, environ=h.env(OCRQ_DATABASE_URL=dead))
        t.check(r.returncode == 3, f"ocrq-admin {' '.join(args)} without a database: exit 3",
                (r.returncode, r.stderr.strip()))


if __name__ == "__main__":
    h.run(main)
