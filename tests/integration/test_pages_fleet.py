# SPDX-License-Identifier: GPL-3.0-or-later
"""A big document goes over the fleet as page tasks (docs/design.md, "Page
tasks"): a PDF of 200 pages and over 60 MB, made here (one line of text a
page, and a 61 MB attachment of random bytes), submitted three ways to a
supervisor with 2 OCR processes and a real webhook receiver:

* `ocrq-submit --wait --output DIR FILE` with no other flag and no
  documents.file_roots: exit 0, DIR/<stem>.txt holds the 200 pages in order;
* POST /v1/jobs with Content-Type application/pdf (202), then GET
  /v1/jobs/{id}?include=text gives the whole text;
* a pika client that stores the document itself (ocr_blobs and
  ocr_blob_chunks, docs/protocol.md) and publishes a "stored" job message.

Each job: succeeded once; the message it travelled in was small; 200 rows
in ocr_pages, page k's text reading "Page k of"; the text in page order;
both processes took pages (the document was spread); exactly one job.succeeded
webhook, which verifies; and its stored document gone from the store once the
job ended (documents.retention_s = 0)."""

import json
import uuid

import bigdoc
import harness as h

PAGES = 200
ATTACHMENT = 61 * 1024 * 1024
CHUNK = 1024 * 1024


def check_job(t, label, job_id, rc):
    rows = h.wait_finished([job_id], timeout=300, what=f"{label}: the document to finish")
    t.check(rows[0]["status"] == "succeeded", f"{label}: the job succeeded",
            (rows[0]["status"], rows[0]["error_code"], rows[0]["error_message"]))
    t.check(rows[0]["pages_done"] == PAGES and rows[0]["pages_total"] == PAGES,
            f"{label}: pages_done = pages_total = {PAGES}",
            (rows[0]["pages_done"], rows[0]["pages_total"]))
    pages = bigdoc.page_rows(job_id)
    t.check([p["page_no"] for p in pages] == list(range(1, PAGES + 1)),
            f"{label}: one ocr_pages row per page", len(pages))
    wrong = [p["page_no"] for p in pages if f"Page {p['page_no']} of" not in p["text"]]
    t.check(not wrong, f"{label}: each page row holds its own page's text", wrong[:5])
    text = h.result_rows([job_id])[0]["text"]
    bad = bigdoc.pages_in_order(text, PAGES)
    t.check(not bad, f"{label}: the result is the {PAGES} pages in order", bad[:5])
    tasks = bigdoc.task_rows(job_id)
    t.check(len(tasks) == PAGES and all(a == 1 for a, _ in tasks.values()),
            f"{label}: each page task was delivered once", len(tasks))
    left = h.db_query("SELECT count(*) AS n FROM ocr_page_artifacts WHERE job_id = %s",
                      (job_id,))[0]["n"]
    t.check(left == 0, f"{label}: nothing of the pages' outputs is left after assembly", left)
    try:
        h.wait_until(lambda: bigdoc.stored_documents(job_id) == 0, timeout=60,
                     what=f"{label}: the stored document to be deleted")
    except h.TestFailure:
        pass
    left = bigdoc.stored_documents(job_id)
    t.check(left == 0, f"{label}: the stored document is gone from the store after the job ended",
            f"{left} left")
    return text


def processes_that_took_pages(w, job_id):
    """The OCR processes (pids in the worker's log) that stored a page of job_id."""
    pids = set()
    for line in w.log_path.read_text(errors="replace").splitlines():
        if f"job={job_id}" in line and " page " in line and " stored" in line:
            pids.add(line.split("worker[", 1)[1].split("]", 1)[0])
    return pids


def publish_stored(pdf, job_id):
    """What a pika client does for a document too large for a message: store it
    in one transaction (docs/protocol.md), then publish a small message."""
    blob_id = str(uuid.uuid4())
    data = pdf.read_bytes()
    conn = h.psycopg2.connect(h.DATABASE_URL)
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO ocr_blobs (blob_id, job_id, kind) VALUES (%s, %s, 'document')",
                    (blob_id, job_id))
        for seq, at in enumerate(range(0, len(data), CHUNK)):
            cur.execute("INSERT INTO ocr_blob_chunks (blob_id, seq, data) VALUES (%s, %s, %s)",
                        (blob_id, seq, h.psycopg2.Binary(data[at:at + CHUNK])))
        cur.execute("UPDATE ocr_blobs SET bytes = %s, sha256 = sha256(%s) WHERE blob_id = %s",
                    (len(data), h.psycopg2.Binary(data), blob_id))
    conn.close()
    meta = {"schema_version": 1, "job_id": job_id, "priority": 0, "language": "eng",
            "submitted_at": "2026-12-01T10:00:00.000Z", "source": "pika.pdf",
            "document": {"kind": "stored", "blob_id": blob_id, "size": len(data)}}
    body = json.dumps(meta, separators=(",", ":")).encode() + b"\n"
    h.publish_raw(body, props={"message_id": job_id})
    return len(body)


def main(t):
    pdf = bigdoc.pdf_of(bigdoc.page_images(PAGES), h.tmpdir() / "long-document.pdf",
                        attachment_bytes=ATTACHMENT)
    size = pdf.stat().st_size
    t.require(size > 60 * 1024 * 1024, f"the test PDF is over 60 MB ({size} bytes)")
    with h.Receiver() as rc:
        conf = h.webhook_config({"worker.processes": 2, "webhooks.default_url": rc.url()},
                                secrets=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])
        w = h.start_worker(conf, environ=h.webhook_env())
        jobs = {}

        # 1. the CLI, no flags
        out = h.tmpdir() / "out"
        r = h.submit(["--wait", "--json", "--output", str(out), str(pdf)], timeout=400)
        t.check(r.returncode == 0, "ocrq-submit --wait --output exits 0", r.stderr[-500:])
        lines = h.json_lines(r.stdout)
        t.require(len(lines) == 1 and lines[0].get("job_id"), "one job line", r.stdout[-300:])
        jobs["cli"] = lines[0]["job_id"]
        text = check_job(t, "cli", jobs["cli"], r)
        written = (out / "long-document.txt").read_text() if (out / "long-document.txt").exists() \
            else ""
        t.check(written == text, "--output wrote DIR/long-document.txt, the result's text",
                (len(written), len(text)))

        # 2. a pika client storing the document itself
        jobs["pika"] = str(uuid.uuid4())
        n = publish_stored(pdf, jobs["pika"])
        t.check(n < 4096, f"the pika client's message is small ({n} bytes)")
        check_job(t, "pika", jobs["pika"], None)
        t.check(len(processes_that_took_pages(w, jobs["pika"])) == 2,
                "both OCR processes took pages of the one document",
                processes_that_took_pages(w, jobs["pika"]))

        # 3. the HTTP API
        name, key, key_secret = h.api_key_with_secret()
        api = h.start_api({"api.max_upload_bytes": 200 * 1024 * 1024})
        st, _, body = h.api_json(api, "POST", "/v1/jobs", body=pdf.read_bytes(),
                                 headers={"Content-Type": "application/pdf"}, key=key)
        t.check(st == 202, "POST /v1/jobs of the 64 MB PDF answers 202", (st, body))
        if st == 202:
            jobs["api"] = body["job_id"]
            text = check_job(t, "api", jobs["api"], None)
            st, _, got = h.api_json(api, "GET", f"/v1/jobs/{jobs['api']}?include=text", key=key)
            got_text = (got.get("result") or {}).get("text") or ""
            t.check(st == 200 and got_text == text,
                    "GET /v1/jobs/{id}?include=text gives the whole document's text",
                    (st, len(got_text)))
            t.check(got.get("pages") == {"done": PAGES, "total": PAGES},
                    "GET /v1/jobs/{id} counts its pages", got.get("pages"))

        # one event per document, received once, signed
        ids = list(jobs.values())
        got = rc.wait_for(lambda reqs: all(j in {json.loads(r.body)["data"]["job_id"]
                                                 for r in reqs} for j in ids),
                          timeout=120, what="one webhook per document")
        per_job = {j: [r for r in got if json.loads(r.body)["data"]["job_id"] == j] for j in ids}
        t.check(all(len(v) == 1 for v in per_job.values()),
                "exactly one webhook request per document",
                {j: len(v) for j, v in per_job.items()})
        t.check(all(json.loads(v[0].body)["type"] == "job.succeeded" for v in per_job.values()),
                "each is job.succeeded")
        # the API's job is signed with its key's secret, the others with the global one
        bad = [r.id for r in got if h.verify_webhook(["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                                       key_secret], r.headers, r.body)]
        t.check(not bad, "every webhook signature verifies", bad)
        h.stop_worker(w)
    h.check_workers()


if __name__ == "__main__":
    h.run(main)
