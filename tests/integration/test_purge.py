# SPDX-License-Identifier: GPL-3.0-or-later
"""ocrq-admin purge and retention.days (docs/operations.md, "Retention").

Jobs in every state:

* real ones, run by a worker (batch "real"): two snippets stored in the
  document store (documents.inline_max_bytes = 1, the worker keeping stored
  documents for 100 days), one of them with a webhook that is delivered, one
  inline with formats hocr (an artifact row), a file that is no image
  (failed), and one canceled before any worker ran. Their finished_at is then
  moved 40 days back;
* about 2,000 made up in SQL: succeeded, failed and canceled in batches "pa"
  and "pb", finished 40 days ago (old) or 10 days ago (recent), with results,
  pages, artifacts (in a row and in the store), page tasks and page artifacts,
  idempotency keys, stored documents with chunks, and webhook deliveries that
  were delivered or failed (with attempts) or are still pending; copies
  (dedupe_of) of old jobs, recent and old; queued and running jobs (some with
  a stale finished_at), with page tasks, idempotency keys and documents of
  their own; and blobs of no job.

Each run is checked against the same model: the jobs to go are those
finished (by status) before the cutoff, of the batch if one was given,
without a pending delivery; exactly their rows go from every table (the
blobs' chunks too), the kept copies of a deleted job lose their dedupe_of,
every other row is left as it was, and the report's counts (--json) are the
numbers of rows that went. In order: --dry-run (nothing changes, the counts
of a full purge), --status failed --batch pa --batch-size 7, --status
succeeded,canceled --batch-size 50, everything older than 30 days (the table
report), and last a worker with retention.days = 5, which deletes the recent
ones too, logging what it removed. Usage errors exit 2: no
--finished-before, a bad duration, --status queued or running, a batch size
out of range, a purge option on another command.
"""

import datetime
import json
import uuid

import psycopg2
from psycopg2.extras import execute_values

import harness as h

DAY = 86400
OLD_S, RECENT_S = 40 * DAY, 10 * DAY
STATUSES = ("succeeded", "failed", "canceled")
N_MADE = 1800

# Every table, with the columns that identify a row and the job (or blob, or
# delivery) it belongs to.
TABLES = {
    "ocr_jobs": ("job_id::text", "job_id::text"),
    "ocr_results": ("job_id::text", "job_id::text"),
    "ocr_pages": ("job_id::text || '/' || page_no", "job_id::text"),
    "ocr_artifacts": ("job_id::text || '/' || format", "job_id::text"),
    "ocr_page_tasks": ("job_id::text || '/' || page_no", "job_id::text"),
    "ocr_page_artifacts": ("job_id::text || '/' || page_no || '/' || format", "job_id::text"),
    "ocr_webhook_deliveries": ("id::text", "job_id::text"),
    "ocr_webhook_attempts": ("delivery_id || '/' || attempt", "delivery_id::text"),
    "ocr_idempotency_keys": ("api_key || '/' || idem_key", "job_id::text"),
    "ocr_blobs": ("blob_id::text", "job_id::text"),
    "ocr_blob_chunks": ("blob_id::text || '/' || seq", "blob_id::text"),
}
REPORT = {  # report key -> table
    "jobs": "ocr_jobs", "results": "ocr_results", "pages": "ocr_pages",
    "artifacts": "ocr_artifacts", "page_tasks": "ocr_page_tasks",
    "page_artifacts": "ocr_page_artifacts", "webhook_deliveries": "ocr_webhook_deliveries",
    "webhook_attempts": "ocr_webhook_attempts", "idempotency_keys": "ocr_idempotency_keys",
    "blobs": "ocr_blobs",
}


def snapshot():
    """{table: {key: owner}}, the jobs' full rows, and the blobs' sizes."""
    snap = {}
    for table, (key, owner) in TABLES.items():
        rows = h.db_query(f"SELECT {key} AS k, {owner} AS o FROM {table}")
        snap[table] = {r["k"]: r["o"] for r in rows}
    jobs = {r["job_id"]: r for r in h.db_query(
        "SELECT job_id::text, status, batch, finished_at, submitted_at, started_at, attempts,"
        " dedupe_of::text, updated_at, worker, error_code FROM ocr_jobs")}
    pending = {r["j"] for r in h.db_query(
        "SELECT DISTINCT job_id::text AS j FROM ocr_webhook_deliveries WHERE status = 'pending'")}
    sizes = {r["b"]: r["bytes"] for r in h.db_query("SELECT blob_id::text AS b, bytes FROM ocr_blobs")}
    return snap, jobs, pending, sizes


def model(before, statuses, age_s, batch=None):
    """What a purge must remove from the state `before`: {table: keys}, the jobs that lose
    their dedupe_of, the kept jobs with a pending delivery, and the status counts."""
    snap, jobs, pending, sizes = before
    now = h.db_query("SELECT now() AS n")[0]["n"]
    cutoff = now - datetime.timedelta(seconds=age_s)

    def matches(j):
        return (j["status"] in statuses and j["finished_at"] is not None
                and j["finished_at"] < cutoff and (batch is None or j["batch"] == batch))
    purged = {i for i, j in jobs.items() if matches(j) and i not in pending}
    kept_pending = {i for i, j in jobs.items() if matches(j) and i in pending}
    gone = {}
    for table, rows in snap.items():
        if table == "ocr_webhook_attempts":
            continue
        if table == "ocr_blob_chunks":
            continue
        gone[table] = {k for k, o in rows.items() if o in purged}
    deliveries = gone["ocr_webhook_deliveries"]
    gone["ocr_webhook_attempts"] = {k for k, o in snap["ocr_webhook_attempts"].items()
                                    if o in deliveries}
    gone["ocr_blob_chunks"] = {k for k, o in snap["ocr_blob_chunks"].items()
                               if o in gone["ocr_blobs"]}
    cleared = {i for i, j in jobs.items() if i not in purged and j["dedupe_of"] in purged}
    by_status = {s: sum(1 for i in purged if jobs[i]["status"] == s) for s in STATUSES}
    blob_bytes = sum(sizes[b] for b in gone["ocr_blobs"])
    return {"gone": gone, "cleared": cleared, "kept_pending": kept_pending,
            "by_status": by_status, "blob_bytes": blob_bytes, "purged": purged}


def check_run(t, what, before, expect, report, dry=False):
    """The rows that went are exactly those of expect (none with dry), every other job row
    is as it was (but a cleared dedupe_of), and the report counts what went."""
    after = snapshot()
    snap0, jobs0, _, _ = before
    snap1, jobs1, _, _ = after
    for table in TABLES:
        went = set(snap0[table]) - set(snap1[table])
        came = set(snap1[table]) - set(snap0[table])
        want = set() if dry else expect["gone"][table]
        t.check(went == want and not came,
                f"{what}: {table}: exactly {len(want)} rows went",
                f"went {len(went)} (unexpected {sorted(went - want)[:3]}, kept"
                f" {sorted(want - went)[:3]}), came {len(came)}")
    cleared = set() if dry else expect["cleared"]
    changed = {i for i in jobs1 if jobs1[i] != jobs0[i]}
    t.check(changed == cleared and all(jobs1[i]["dedupe_of"] is None for i in cleared),
            f"{what}: the jobs left are as they were, but {len(cleared)} copies of a deleted job"
            " without their dedupe_of", sorted(changed ^ cleared)[:3])
    unfinished = [i for i, j in jobs0.items() if j["status"] in ("queued", "running")]
    t.check(all(i in jobs1 and jobs1[i] == jobs0[i] for i in unfinished),
            f"{what}: none of the {len(unfinished)} queued and running jobs was touched")
    if report is None:
        return
    want = {k: len(expect["gone"][tab]) for k, tab in REPORT.items()}
    want.update(expect["by_status"])
    want.update(dedupe_cleared=len(expect["cleared"]), kept_pending=len(expect["kept_pending"]),
                blob_bytes=expect["blob_bytes"], dry_run=dry)
    got = {k: report.get(k) for k in want}
    t.check(got == want, f"{what}: the report counts what {'would go' if dry else 'went'}",
            f"got {got}\n      want {want}")


def purge(t, args, what):
    r = h.admin(["purge", "--json", *args])
    t.require(r.returncode == 0, f"{what}: exit 0", f"exit {r.returncode}: {r.stderr.strip()}")
    lines = h.json_lines(r.stdout)
    t.require(len(lines) == 1, f"{what}: one JSON object", r.stdout)
    return lines[0]


# --------------------------------------------------------------------------
# The jobs

def real_jobs(t):
    """A few jobs through a worker, in batch "real"; returns their ids."""
    junk = h.tmpdir() / "junk.png"
    junk.write_bytes(b"this is not an image at all\n" * 40)
    stored_conf = h.write_config({"documents.inline_max_bytes": 1})
    canceled = h.submit_json(["--batch", "real", h.make_image("Canceled", h.tmpdir() / "c.png")])
    t.require(h.admin(["cancel", canceled[0]["job_id"]]).returncode == 0,
              "a job canceled before any worker ran")
    with h.Receiver() as rc:
        conf = h.webhook_config({"worker.processes": 1, "documents.retention_s": 100 * DAY},
                                secrets=[h.make_webhook_secret()])
        w = h.start_worker(conf, environ=h.webhook_env())
        ids = [canceled[0]["job_id"]]
        ids += [o["job_id"] for o in h.submit_json(
            ["-c", stored_conf, "--batch", "real", "--webhook", rc.url(),
             h.make_image("Stored with a webhook", h.tmpdir() / "s1.png")])]
        ids += [o["job_id"] for o in h.submit_json(
            ["-c", stored_conf, "--batch", "real",
             h.make_image("Stored quietly", h.tmpdir() / "s2.png")])]
        ids += [o["job_id"] for o in h.submit_json(
            ["--batch", "real", "--format", "txt,hocr",
             h.make_image("With hOCR", h.tmpdir() / "hocr.png")])]
        ids += [o["job_id"] for o in h.submit_json(["--batch", "real", junk])]
        h.wait_finished(ids)
        h.wait_until(lambda: [d["status"] for d in h.webhook_deliveries(ids)] == ["delivered"],
                     what="the webhook delivered")
        h.stop_worker(w)
    c = h.count_by_status(ids)
    t.require(c["succeeded"] == 3 and c["failed"] == 1 and c["canceled"] == 1,
              "real jobs: 3 succeeded, 1 failed, 1 canceled", c)
    docs = h.db_query("SELECT count(*) AS n FROM ocr_blobs WHERE kind = 'document'"
                      " AND job_id = ANY(%s::uuid[])", (ids,))[0]["n"]
    arts = h.db_query("SELECT count(*) AS n FROM ocr_artifacts WHERE job_id = ANY(%s::uuid[])",
                      (ids,))[0]["n"]
    t.require(docs == 2 and arts == 1, "real jobs: 2 stored documents kept, 1 artifact row",
              (docs, arts))
    h.db_query("UPDATE ocr_jobs SET finished_at = finished_at - interval '40 days'"
               " WHERE job_id = ANY(%s::uuid[])", (ids,))
    return ids


def made_up_jobs(conn, now):
    """The made-up jobs and everything hanging off them (see the module's comment)."""
    jobs, results, pages, arts, tasks, page_arts, keys, blobs, chunks = ([] for _ in range(9))
    deliveries = []   # (job, status, attempts)

    def ago(s):
        return now - datetime.timedelta(seconds=s)

    def blob(job, kind, size):
        b = str(uuid.uuid4())
        blobs.append((b, job, kind, size))
        for seq in range((size + 1023) // 1024):
            chunks.append((b, seq, psycopg2.Binary(b"x" * min(1024, size - seq * 1024))))
        return b

    old_succeeded = []
    for i in range(N_MADE):
        j = str(uuid.uuid4())
        status = STATUSES[i % 3]
        age = (OLD_S if i % 4 != 3 else RECENT_S) - i   # distinct finished_at, old first
        batch = ("pa", "pb")[i % 2]
        jobs.append((j, status, batch, ago(age + 60), ago(age + 30), ago(age), None))
        if status == "succeeded":
            results.append((j, f"text {i}"))
            pages += [(j, 1, f"page 1 of {i}"), (j, 2, f"page 2 of {i}")]
            if age > RECENT_S:
                old_succeeded.append(j)
        if status == "succeeded" and i % 10 == 0:
            arts.append((j, "hocr", psycopg2.Binary(b"<html/>"), 7, None))
            arts.append((j, "pdf", None, 1500, blob(j, "artifact", 1500)))
        if i % 10 == 5:
            blob(j, "document", 2048)
        if i % 20 == 0:
            tasks += [(j, 1), (j, 2)]
            page_arts.append((j, 1, "hocr", psycopg2.Binary(b"<p/>")))
        if i % 6 == 0:
            keys.append(("key-a", f"idem-{i}", j))
        if i % 50 == 1:
            deliveries.append((j, "pending", 1))
        elif i % 5 == 0:
            deliveries.append((j, "delivered", 2))
        elif i % 7 == 0:
            deliveries.append((j, "failed", 3))
    # queued and running jobs, some with a stale finished_at: never purged
    for i in range(180):
        j = str(uuid.uuid4())
        status = ("queued", "running")[i % 2]
        stale = ago(60 * DAY) if i % 9 == 0 else None
        started = ago(50 * DAY) if status == "running" else None
        jobs.append((j, status, ("pa", "pb")[i % 2], ago(60 * DAY), started, stale, None))
        if status == "running" and i % 3 == 1:
            tasks += [(j, 1), (j, 2)]
            page_arts.append((j, 1, "hocr", psycopg2.Binary(b"<p/>")))
        if i % 4 == 0:
            keys.append(("key-b", f"live-{i}", j))
        if i % 5 == 0:
            blob(j, "document", 3000)
    # copies of old succeeded jobs: 20 recent ones (kept: lose dedupe_of), 5 old ones
    copies = []
    for k in range(25):
        j = str(uuid.uuid4())
        age = RECENT_S - 1000 - k if k < 20 else OLD_S - 5000 - k
        copies.append((j, "succeeded", ("pa", "pb")[k % 2], ago(age + 60), ago(age + 30), ago(age),
                       old_succeeded[k * 7]))
        results.append((j, "copied"))
        pages.append((j, 1, "copied"))
    # blobs of no job (the store sweep's, never purge's)
    blob(str(uuid.uuid4()), "document", 500)
    blob(str(uuid.uuid4()), "artifact", 500)

    with conn.cursor() as cur:
        cols = "(job_id, status, language, batch, submitted_at, started_at, finished_at, dedupe_of)"
        tmpl = "(%s::uuid, %s, 'eng', %s, %s, %s, %s, %s::uuid)"
        execute_values(cur, f"INSERT INTO ocr_jobs {cols} VALUES %s", jobs, template=tmpl)
        execute_values(cur, f"INSERT INTO ocr_jobs {cols} VALUES %s", copies, template=tmpl)
        execute_values(cur, "INSERT INTO ocr_results (job_id, text) VALUES %s", results)
        execute_values(cur, "INSERT INTO ocr_pages (job_id, page_no, text, width, height,"
                       " duration_ms) VALUES %s", pages, template="(%s, %s, %s, 600, 80, 20)")
        execute_values(cur, "INSERT INTO ocr_blobs (blob_id, job_id, kind, bytes) VALUES %s", blobs)
        execute_values(cur, "INSERT INTO ocr_blob_chunks (blob_id, seq, data) VALUES %s", chunks)
        execute_values(cur, "INSERT INTO ocr_artifacts (job_id, format, content, bytes, blob_id)"
                       " VALUES %s", arts)
        execute_values(cur, "INSERT INTO ocr_page_tasks (job_id, page_no) VALUES %s", tasks)
        execute_values(cur, "INSERT INTO ocr_page_artifacts (job_id, page_no, format, content)"
                       " VALUES %s", page_arts)
        execute_values(cur, "INSERT INTO ocr_idempotency_keys (api_key, idem_key, job_id,"
                       " fingerprint, confirmed) VALUES %s", keys,
                       template="(%s, %s, %s, 'fp', true)")
        rows = [(f"msg_{uuid.uuid4().hex}", j, s, n) for j, s, n in deliveries]
        made = execute_values(cur, "INSERT INTO ocr_webhook_deliveries (event_id, job_id,"
                              " event_type, url, body, status, attempts, next_attempt_at)"
                              " VALUES %s RETURNING id, attempts", rows,
                              template="(%s, %s, 'job.succeeded', 'http://127.0.0.1:9/hook', '{}',"
                                       " %s, %s, now() + interval '1 day')", fetch=True)
        attempts = [(d, a, now) for d, n in made for a in range(1, n + 1)]
        execute_values(cur, "INSERT INTO ocr_webhook_attempts (delivery_id, attempt, started_at,"
                       " http_status, duration_ms) VALUES %s", attempts,
                       template="(%s, %s, %s, 500, 3)")
    conn.commit()
    return len(jobs) + len(copies)


def usage_errors(t):
    for args, what in ((["purge"], "purge without --finished-before"),
                       (["purge", "--finished-before", "30x"], "a bad duration"),
                       (["purge", "--finished-before", "30d", "--status", "queued"],
                        "--status queued"),
                       (["purge", "--finished-before", "30d", "--status", "failed,running"],
                        "--status failed,running"),
                       (["purge", "--finished-before", "30d", "--batch-size", "0"],
                        "--batch-size 0"),
                       (["purge", "--finished-before", "30d", "--batch-size", "10001"],
                        "--batch-size 10001"),
                       (["purge", "--finished-before", "30d", "extra"], "an extra argument"),
                       (["status", "--dry-run"], "--dry-run on status"),
                       (["cancel", "--batch", "pa", "--finished-before", "1d"],
                        "--finished-before on cancel")):
        r = h.admin(args)
        t.check(r.returncode == 2, f"usage error: {what} (exit 2)",
                f"exit {r.returncode}: {r.stdout} {r.stderr}")
    r = h.admin(["--help"])
    t.check(r.returncode == 0 and "purge --finished-before DUR" in r.stdout
            and "--dry-run" in r.stdout, "ocrq-admin --help shows purge")


def main(t):
    usage_errors(t)
    real = real_jobs(t)
    conn = psycopg2.connect(h.DATABASE_URL, connect_timeout=10)
    try:
        now = h.db_query("SELECT now() AS n")[0]["n"]
        n = made_up_jobs(conn, now)
    finally:
        conn.close()
    t.check(len(h.job_rows()) == n + len(real), f"{n} made-up jobs beside the real ones")

    before = snapshot()
    expect = model(before, STATUSES, 30 * DAY)
    t.require(len(expect["purged"]) > 1000 and expect["kept_pending"] and expect["cleared"]
              and set(real) <= expect["purged"], "the data covers every case",
              (len(expect["purged"]), len(expect["kept_pending"]), len(expect["cleared"])))
    report = purge(t, ["--finished-before", "30d", "--dry-run"], "dry run")
    check_run(t, "--dry-run", before, expect, report, dry=True)

    before = snapshot()
    expect = model(before, ("failed",), 30 * DAY, batch="pa")
    report = purge(t, ["--finished-before", "30d", "--status", "failed", "--batch", "pa",
                       "--batch-size", "7"], "failed of batch pa")
    check_run(t, "--status failed --batch pa", before, expect, report)
    t.check(report.get("batches") == -(-len(expect["purged"]) // 7),
            "--batch-size 7: a transaction per 7 jobs", report.get("batches"))

    before = snapshot()
    expect = model(before, ("succeeded", "canceled"), 720 * 3600)
    report = purge(t, ["--finished-before", "720h", "--status", "succeeded,canceled",
                       "--batch-size", "50"], "succeeded and canceled")
    check_run(t, "--status succeeded,canceled", before, expect, report)

    before = snapshot()
    expect = model(before, STATUSES, 30 * DAY)
    r = h.admin(["purge", "--finished-before", "43200m"])
    t.check(r.returncode == 0, "purge --finished-before 43200m: exit 0", r.stderr)
    check_run(t, "the rest older than 30 days", before, expect, None)
    t.check(f"purged jobs that finished before" in r.stdout
            and f"kept {len(expect['kept_pending'])} jobs whose webhook delivery is still pending"
            in r.stdout and f" {len(expect['purged'])}  (" in r.stdout,
            "the table report: what went, what was kept", r.stdout)
    left = h.db_query("SELECT (SELECT count(*) FROM ocr_jobs WHERE job_id = ANY(%s::uuid[]))"
                      " + (SELECT count(*) FROM ocr_blobs WHERE job_id = ANY(%s::uuid[])) AS n",
                      (real, real))[0]["n"]
    t.check(left == 0, "every real job is gone, with its stored documents", left)

    before = snapshot()
    expect = model(before, STATUSES, 5 * DAY)
    w = h.start_worker(h.fleet_config({"retention.days": 5, "worker.processes": 1,
                                       "webhooks.dispatcher": False}))
    h.wait_until(lambda: "retention: deleted" in h.log_text(w), timeout=120,
                 what="the supervisor's first retention pass")
    h.stop_worker(w)
    line = next(ln for ln in h.log_text(w).splitlines() if "retention: deleted" in ln)
    check_run(t, "retention.days = 5", before, expect, None)
    t.check(f"deleted {len(expect['purged'])} jobs" in line
            and f"{len(expect['kept_pending'])} kept with a webhook delivery pending" in line,
            "the supervisor logs what it removed", line)
    r = h.admin(["purge", "--finished-before", "0", "--json", "--dry-run"])
    left = h.json_lines(r.stdout)[0] if r.returncode == 0 else {}
    t.check(left.get("jobs") == 0 and left.get("kept_pending") == len(expect["kept_pending"]),
            "afterwards only the jobs with a pending delivery are left of the finished ones",
            json.dumps(left))


if __name__ == "__main__":
    h.run(main)
