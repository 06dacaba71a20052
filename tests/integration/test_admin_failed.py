# SPDX-License-Identifier: GPL-3.0-or-later
"""The dead-letter workflow of ocrq-admin failed (docs/operations.md).

Three jobs fail for a real, fixable cause: their documents are URLs on a
local HTTP server that answers 503. With amqp.retry_delays_s = [1] and
worker.max_attempts = 2 each goes once through ocr.jobs.retry.1s (the broker
adds x-death) and is then dead-lettered with code fetch. A fourth job, a
corrupt PNG, fails with decode. Then:
  - failed list shows the four with job id, reason, batch, attempts and the
    error message from the job record; --reason and --batch filter; --json;
    listing leaves every message in ocr.failed, in the same order;
  - failed show ID prints the headers and x-death (queue, reason, count) of
    one job, and its error; an unknown ID exits 1;
  - the server is fixed; failed requeue ID requeues one job, then requeue
    --all --reason fetch the other two; all three succeed, with attempts
    counted from 0 again; only the decode job is left in ocr.failed;
  - failed purge --older-than 7d drops nothing; --older-than 1s drops it;
    its job record stays failed.
"""

import http.server
import json
import random
import threading

import harness as h

BATCH = "failed-workflow"


class Docs:
    """An HTTP server for the documents: 503 until fixed, then the PNG."""

    def __init__(self, png):
        self.png = png
        self.fixed = False
        self.requests = 0
        docs = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                docs.requests += 1
                body = docs.png if docs.fixed else b"try later\n"
                self.send_response(200 if docs.fixed else 503)
                self.send_header("Content-Type", "image/png" if docs.fixed else "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, name):
        return f"http://127.0.0.1:{self.port}/{name}.png"


def failed_count():
    return h.queue_counts([h.FAILED_QUEUE]).get(h.FAILED_QUEUE)


def list_json(*args):
    r = h.admin(["failed", "list", "--json", *args])
    if r.returncode != 0:
        raise h.TestFailure(f"failed list {args} exited {r.returncode}: {r.stderr.strip()}")
    return h.json_lines(r.stdout)


def main(t):
    text = "Dead letters come back"
    png = h.make_image(text, h.tmpdir() / "good.png").read_bytes()
    docs = Docs(png)
    corrupt = h.tmpdir() / "corrupt.png"
    corrupt.write_bytes(random.Random(7).randbytes(4096))

    config = h.write_config({"amqp.retry_delays_s": [1], "worker.max_attempts": 2,
                             "security.url_allowlist": ["127.0.0.1"]})
    worker_env = h.env(OCRQ_URL_ALLOWLIST=None)
    w = h.start_worker(config=config, environ=worker_env)

    urls = [docs.url(f"scan{i}") for i in range(3)]
    lines = h.submit_json(["-c", config, "--batch", BATCH, *urls])
    fetch_ids = [o["job_id"] for o in lines if h.is_uuid(o.get("job_id"))]
    t.require(len(fetch_ids) == 3, "three URL jobs submitted", lines)
    lines = h.submit_json(["-c", config, "--batch", "other-batch", corrupt])
    t.require(len(lines) == 1 and h.is_uuid(lines[0].get("job_id")), "a corrupt PNG submitted",
              lines)
    decode_id = lines[0]["job_id"]
    all_ids = fetch_ids + [decode_id]

    h.wait_finished(all_ids, what="the four jobs to fail")
    h.wait_until(lambda: failed_count() == 4, what="4 messages in ocr.failed")
    rows = {r["job_id"]: r for r in h.job_rows(all_ids)}
    t.check(all(rows[i]["status"] == "failed" and rows[i]["error_code"] == "fetch"
                and rows[i]["attempts"] == 2 for i in fetch_ids),
            "the URL jobs failed with fetch after 2 attempts",
            [(r["status"], r["error_code"], r["attempts"]) for r in rows.values()])
    t.check(docs.requests >= 6, "the server was asked twice per URL job", docs.requests)

    # failed list: text, then JSON with every field; the messages stay, in order
    r = h.admin(["failed", "list"])
    t.check(r.returncode == 0 and all(i in r.stdout for i in all_ids)
            and "fetch" in r.stdout and "decode" in r.stdout and BATCH in r.stdout,
            "failed list shows the four jobs with reason and batch",
            f"exit {r.returncode}: {r.stdout} {r.stderr}")
    listed = list_json()
    by_id = {o["job_id"]: o for o in listed}
    t.check(sorted(by_id) == sorted(all_ids) and len(listed) == 4,
            "failed list --json: one line per dead-lettered job", listed)
    o = by_id.get(fetch_ids[0], {})
    t.check(o.get("reason") == "fetch" and o.get("batch") == BATCH and o.get("attempts") == 2
            and o.get("status") == "failed" and "503" in (o.get("error_message") or "")
            and o.get("died_at") and o.get("x_death_count", 0) >= 1,
            "a fetch line has reason, batch, attempts, died_at, x-death and the record's error",
            o)
    t.check(by_id.get(decode_id, {}).get("reason") == "decode", "the corrupt PNG's reason is decode",
            by_id.get(decode_id))
    again = list_json()
    t.check([x["job_id"] for x in again] == [x["job_id"] for x in listed],
            "listing again gives the same messages in the same order", again)
    t.check(failed_count() == 4, "listing leaves every message in ocr.failed", failed_count())
    t.check(sorted(x["job_id"] for x in list_json("--reason", "fetch")) == sorted(fetch_ids),
            "--reason fetch lists the three URL jobs")
    t.check([x["job_id"] for x in list_json("--batch", "other-batch")] == [decode_id],
            "--batch other-batch lists the corrupt PNG only")
    t.check(list_json("--reason", "nosuchcode") == [], "an unknown reason lists nothing")

    # failed show: headers, x-death, the record's error
    r = h.admin(["failed", "show", fetch_ids[0]])
    out = r.stdout
    t.check(r.returncode == 0 and "x-death[0]" in out and "ocr.jobs.retry.1s" in out
            and "reason expired" in out and "count 1" in out,
            "failed show prints x-death: the retry queue, reason expired, count 1", out)
    t.check("x-ocrq-error-code     fetch" in out and "503" in out and BATCH in out,
            "failed show prints the error code header and the record's error", out)
    r = h.admin(["failed", "show", "00000000-0000-4000-8000-000000000000"])
    t.check(r.returncode == 1 and "no message" in r.stderr, "failed show of an unknown id exits 1",
            f"exit {r.returncode}: {r.stderr}")
    t.check(failed_count() == 4, "show leaves every message in ocr.failed", failed_count())

    # usage errors
    for args in (["failed"], ["failed", "requeue"], ["failed", "requeue", "--all", fetch_ids[0]],
                 ["failed", "requeue", "not-an-id"], ["failed", "purge", "--older-than", "5x"],
                 ["failed", "list", "--all"], ["status", "--reason", "x"]):
        r = h.admin(args)
        t.check(r.returncode == 2, f"ocrq-admin {' '.join(args)} is a usage error (exit 2)",
                f"exit {r.returncode}: {r.stderr}")

    # fix the cause, requeue one by id, then the rest of the fetch failures
    docs.fixed = True
    r = h.admin(["failed", "requeue", fetch_ids[0]])
    t.check(r.returncode == 0 and f"requeued {fetch_ids[0]} to ocr.jobs" in r.stdout,
            "failed requeue ID requeues it to ocr.jobs", f"exit {r.returncode}: {r.stdout} {r.stderr}")
    h.wait_finished(fetch_ids[:1], what="the requeued job")
    r = h.admin(["failed", "requeue", "--all", "--reason", "fetch"])
    t.check(r.returncode == 0 and "2 requeued" in r.stdout,
            "failed requeue --all --reason fetch requeues the other two",
            f"exit {r.returncode}: {r.stdout} {r.stderr}")
    rows = h.wait_finished(fetch_ids, what="the requeued jobs")
    t.check(all(x["status"] == "succeeded" for x in rows), "all three requeued jobs succeed",
            [(x["status"], x["error_code"]) for x in rows])
    t.check(all(x["attempts"] == 1 and x["error_code"] is None for x in rows),
            "their attempts were reset (1 now) and the error cleared",
            [(x["attempts"], x["error_code"]) for x in rows])
    res = h.result_rows(fetch_ids)
    t.check(len(res) == 3 and all(h.cer(text, x["text"]) < 0.1 for x in res),
            "each has one result with the right text", [x["text"] for x in res])
    remaining = list_json()
    t.check([x["job_id"] for x in remaining] == [decode_id] and failed_count() == 1,
            "only the decode job is left in ocr.failed", remaining)
    r = h.admin(["failed", "requeue", fetch_ids[1]])
    t.check(r.returncode == 1, "requeue of a job not in ocr.failed exits 1",
            f"exit {r.returncode}: {r.stdout} {r.stderr}")

    # purge: nothing older than 7 days; then (once a second has passed) the decode job
    r = h.admin(["failed", "purge", "--older-than", "7d"])
    t.check(r.returncode == 0 and "0 purged" in r.stdout and failed_count() == 1,
            "purge --older-than 7d drops nothing", f"{r.stdout} {r.stderr}")
    h.wait_until(lambda: "1 purged" in h.admin(["failed", "purge", "--older-than", "1s"]).stdout,
                 what="purge --older-than 1s to drop the decode job")
    t.check(failed_count() == 0, "ocr.failed is empty", failed_count())
    row = h.job_row(decode_id)
    t.check(row["status"] == "failed" and row["error_code"] == "decode",
            "the purged job's record stays failed", row)
    r = h.admin(["failed", "list"])
    t.check(r.returncode == 0 and "no dead-lettered messages" in r.stdout,
            "failed list of an empty queue says so and exits 0", r.stdout)

    counts = h.queue_counts()
    t.check(all(counts.get(q, 0) == 0 for q in h.JOB_QUEUES), "the job queues are drained", counts)
    t.check(h.stop_worker(w) == 0, "worker exits 0 on SIGTERM")
    docs.server.shutdown()


if __name__ == "__main__":
    h.run(main)
