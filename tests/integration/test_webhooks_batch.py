# SPDX-License-Identifier: GPL-3.0-or-later
"""Every job of a batch of 50 produces exactly one delivered event
(docs/webhooks.md), checked by a real HTTP receiver on 127.0.0.1 that answers
200 at once:

* 50 small images submitted with `ocrq-submit --webhook URL --batch B
  --metadata JSON`, plus one corrupt file (a job.failed event), to a
  supervisor with 2 OCR processes and its webhook dispatcher.
* The receiver sees each job exactly once (one POST, one webhook-id per job),
  and nothing else; every webhook-id is the event_id of that job's delivery.
* Signatures: OCRQ_WEBHOOK_SECRETS (two secrets, space-separated) replaces
  webhooks.secrets of the config; every request carries one v1 signature per
  secret, each verifies on its own with Python's hmac (the verify example of
  docs/webhooks.md, not our C code), the config's secret verifies none, and
  webhook-timestamp is within 5 minutes of now.
* The request: POST, Content-Type application/json, User-Agent ocrq-webhooks/.
* The payload: type, timestamp (the job's finished_at, UTC, milliseconds),
  data with exactly the documented keys: job_id, status, batch, metadata (the
  object submitted), mean_confidence (ocr_results'), error_code and
  error_message (null; set for job.failed), text (== ocr_results.text; null
  for job.failed), text_truncated false. The body received is byte for byte
  the body in the outbox.
* ocr_webhook_deliveries: one row per job, all 'delivered' after 1 attempt;
  ocr_webhook_attempts: one row each, HTTP 200.
* webhooks.text_max_chars = 10 (a second supervisor): a longer text arrives
  cut to exactly 10 characters (the first 10 of ocr_results.text), with
  text_truncated true."""

import json
import re
import shutil
import time
from datetime import datetime, timezone

import harness as h

N_JOBS = 50
BATCH = "wh-batch-50"
METADATA = {"customer": 42, "tags": ["a", "b"], "note": "Grüße"}
DATA_KEYS = {"job_id", "status", "batch", "metadata", "mean_confidence", "error_code",
             "error_message", "text", "text_truncated"}
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def parse_ts(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def check_requests(t, reqs, secrets, wrong_secret, url_path):
    bad_sig = [(r.id, h.verify_webhook(secrets, r.headers, r.body)) for r in reqs
               if h.verify_webhook(secrets, r.headers, r.body)]
    t.check(not bad_sig, f"all {len(reqs)} signatures verify (Python hmac, within 5 minutes)",
            bad_sig[:3])
    per_secret = [(r.id, i) for r in reqs for i, s in enumerate(secrets)
                  if h.verify_webhook([s], r.headers, r.body)]
    t.check(not per_secret, "each of the two secrets verifies every request on its own",
            per_secret[:3])
    counts = [len(r.headers.get("webhook-signature", "").split()) for r in reqs]
    t.check(all(c == len(secrets) for c in counts),
            f"webhook-signature holds {len(secrets)} space-separated v1 signatures",
            sorted(set(counts)))
    leaked = [r.id for r in reqs if not h.verify_webhook([wrong_secret], r.headers, r.body)]
    t.check(not leaked, "the config's secret (replaced by OCRQ_WEBHOOK_SECRETS) signs nothing",
            leaked[:3])
    wrong = [(r.method, r.path, r.headers.get("content-type"), r.headers.get("user-agent"))
             for r in reqs
             if r.method != "POST" or r.path != url_path
             or not (r.headers.get("content-type") or "").startswith("application/json")
             or not (r.headers.get("user-agent") or "").startswith("ocrq-webhooks/")]
    t.check(not wrong, "every request: POST to the URL's path, application/json, "
            "User-Agent ocrq-webhooks/<version>", wrong[:3])


def main(t):
    sec1, sec2, config_secret = (h.make_webhook_secret(n) for n in (32, 24, 64))
    imgs = [h.make_image(f"Webhook batch\nimage number {k}", h.tmpdir() / f"src-{k}.png")
            for k in range(5)]
    inputs = []
    for i in range(N_JOBS):
        p = h.tmpdir() / "batch" / f"job-{i:02d}.png"
        p.parent.mkdir(exist_ok=True)
        shutil.copyfile(imgs[i % len(imgs)], p)
        inputs.append(p)
    corrupt = h.tmpdir() / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG not really" * 300)

    with h.Receiver() as rc:
        conf = h.webhook_config({"worker.processes": 2}, secrets=[config_secret])
        w = h.start_worker(conf,
                           environ=h.webhook_env(OCRQ_WEBHOOK_SECRETS=f" {sec1}  {sec2} "))
        common = ["--webhook", rc.url("/hook"), "--batch", BATCH, "--metadata",
                  json.dumps(METADATA)]
        ids = [o["job_id"] for o in h.submit_json([*common, *inputs])]
        t.require(len(ids) == N_JOBS and all(h.is_uuid(i) for i in ids),
                  f"{N_JOBS} jobs submitted", ids)
        bad_id = h.submit_json([*common, corrupt])[0]["job_id"]
        all_ids = set(ids) | {bad_id}

        rows = {r["job_id"]: r for r in h.wait_finished(all_ids, what=f"{N_JOBS + 1} jobs")}
        t.require(all(rows[i]["status"] == "succeeded" for i in ids),
                  f"the {N_JOBS} jobs succeeded",
                  [(r["status"], r["error_code"]) for r in rows.values()])
        t.check(rows[bad_id]["status"] == "failed" and rows[bad_id]["error_code"],
                "the corrupt file's job failed", rows[bad_id])
        rc.wait_for(lambda s: all_ids <= set(rc.by_job()), timeout=60,
                    what=f"an event for each of the {N_JOBS + 1} jobs")
        h.wait_until(lambda: all(d["status"] != "pending" for d in h.webhook_deliveries()),
                     timeout=30, what="no delivery pending")
        time.sleep(1.5)  # a repeat would arrive within this (the receiver answered 200 at once)
        reqs = rc.snapshot()

    by_job = {}
    for r in reqs:
        by_job.setdefault(r.json()["data"]["job_id"], []).append(r)
    t.check(set(by_job) == all_ids, "the receiver got events for exactly the submitted jobs",
            set(by_job) ^ all_ids)
    repeats = {j: [r.id for r in rs] for j, rs in by_job.items() if len(rs) != 1}
    t.check(not repeats and len(reqs) == len(all_ids),
            f"exactly one POST per job ({len(reqs)} requests for {len(all_ids)} jobs)", repeats)
    ids_seen = [r.id for r in reqs]
    t.check(len(set(ids_seen)) == len(ids_seen) and all(ids_seen),
            "every event has its own webhook-id", ids_seen[:5])
    check_requests(t, reqs, [sec1, sec2], config_secret, "/hook")

    deliveries = {d["job_id"]: d for d in h.webhook_deliveries()}
    t.check(set(deliveries) == all_ids and len(h.webhook_deliveries()) == len(all_ids),
            "ocr_webhook_deliveries: one row per job", len(deliveries))
    not_done = {j: (d["status"], d["attempts"]) for j, d in deliveries.items()
                if d["status"] != "delivered" or d["attempts"] != 1}
    t.check(not not_done, "every delivery is 'delivered' after 1 attempt", not_done)
    mismatch = {j: (d["event_id"], [r.id for r in by_job.get(j, [])])
                for j, d in deliveries.items()
                if not by_job.get(j) or by_job[j][0].id != d["event_id"]}
    t.check(not mismatch, "each webhook-id is the event_id of the job's delivery", mismatch)
    same_body = [j for j, d in deliveries.items()
                 if by_job.get(j) and by_job[j][0].body != d["body"].encode()]
    t.check(not same_body, "the body received is byte for byte the outbox's body", same_body[:3])
    attempts = h.webhook_attempts()
    t.check(len(attempts) == len(all_ids) and all(a["http_status"] == 200 and a["attempt"] == 1
                                                  for a in attempts),
            "ocr_webhook_attempts: one attempt per delivery, HTTP 200",
            [(a["delivery_id"], a["attempt"], a["http_status"], a["error"]) for a in attempts
             if a["http_status"] != 200][:5])
    types = {j: d["event_type"] for j, d in deliveries.items()}
    t.check(all(types[i] == "job.succeeded" for i in ids) and types.get(bad_id) == "job.failed",
            "event types: job.succeeded, and job.failed for the corrupt file", set(types.values()))

    # The payloads.
    results = {r["job_id"]: r for r in h.result_rows(ids)}
    problems = []
    for j in ids:
        if not by_job.get(j):
            continue
        ev = by_job[j][0].json()
        d, res, row = ev.get("data", {}), results[j], rows[j]
        want = {"job_id": j, "status": "succeeded", "batch": BATCH, "metadata": METADATA,
                "error_code": None, "error_message": None, "text": res["text"],
                "text_truncated": False}
        got = {k: d.get(k) for k in want}
        if set(ev) != {"type", "timestamp", "data"} or ev.get("type") != "job.succeeded":
            problems.append((j, "envelope", sorted(ev), ev.get("type")))
        if set(d) != DATA_KEYS:
            problems.append((j, "data keys", sorted(d)))
        if got != want:
            problems.append((j, "data", {k: (got[k], want[k]) for k in want if got[k] != want[k]}))
        mc = d.get("mean_confidence")
        if not isinstance(mc, (int, float)) or isinstance(mc, bool) or not 0 <= mc <= 100 \
                or abs(mc - res["mean_confidence"]) > 0.5:
            problems.append((j, "mean_confidence", mc, res["mean_confidence"]))
        ts = ev.get("timestamp", "")
        if not TS_RE.match(ts) or abs((parse_ts(ts) - row["finished_at"]).total_seconds()) > 0.0011:
            problems.append((j, "timestamp", ts, row["finished_at"].isoformat()))
    t.check(not problems, f"the {N_JOBS} job.succeeded payloads are as documented", problems[:3])

    if by_job.get(bad_id):
        ev = by_job[bad_id][0].json()
        d = ev.get("data", {})
        row = rows[bad_id]
        want = {"job_id": bad_id, "status": "failed", "batch": BATCH, "metadata": METADATA,
                "mean_confidence": None, "error_code": row["error_code"],
                "error_message": row["error_message"], "text": None, "text_truncated": False}
        got = {k: d.get(k) for k in want}
        t.check(ev.get("type") == "job.failed" and set(d) == DATA_KEYS and got == want
                and TS_RE.match(ev.get("timestamp", "")),
                "the job.failed payload: status failed, error_code and error_message of the"
                " job, text and mean_confidence null", ev)

    # text_max_chars: a second supervisor that cuts the text at 10 characters.
    h.stop_worker(w)
    cap = 10
    long_img = h.make_image("A longer line of text\nfor the cut", h.tmpdir() / "long.png")
    with h.Receiver() as rc2:
        conf2 = h.webhook_config({"worker.processes": 1, "webhooks.text_max_chars": cap},
                                 secrets=[sec1])
        h.start_worker(conf2, environ=h.webhook_env())
        job = h.submit_json(["--webhook", rc2.url(), long_img])[0]["job_id"]
        h.wait_finished([job])
        got = rc2.wait_for(lambda s: s, timeout=60, what="the event of the cut job")[0]
    full = (h.result_rows([job]) or [{"text": ""}])[0]["text"]
    t.require(len(full) > cap, f"the job's text is longer than {cap} characters", full)
    d = got.json()["data"]
    t.check(h.verify_webhook([sec1], got.headers, got.body) is None,
            "the cut job's event verifies", got.headers)
    t.check(d.get("text_truncated") is True, "text_truncated is true", d)
    t.check(isinstance(d.get("text"), str) and len(d["text"]) == cap and d["text"] == full[:cap],
            f"text is the first {cap} characters of ocr_results.text",
            (d.get("text"), full[:cap]))


if __name__ == "__main__":
    h.run(main)
