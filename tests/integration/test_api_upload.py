# SPDX-License-Identifier: GPL-3.0-or-later
"""POST /v1/jobs with documents larger than a message: a raw PDF over
documents.inline_max_bytes (8 MiB) and the same as multipart are accepted,
stored in the document store (ocr_blobs: exact size and SHA-256) and sent as
a small message that refers to the blob; a small upload still travels inline;
a stored copy that no job keeps (an Idempotency-Key repeat, a 503) is deleted.
api.max_upload_bytes: 413 from Content-Length before the body is read (curl
with Expect: 100-continue sends nothing), 413 for a chunked upload as soon as
it passes the limit, and nothing stored then, nor after a client that goes
away midway (the blob's transaction is rolled back). ocrq-api's resident
memory grows by less than 32 MB over a 200 MB upload. A stored artifact is
served by GET .../artifacts/{format} byte for byte. No worker runs: these
check the API's side only."""

import hashlib
import json
import os
import socket
import threading
import time
import uuid

import harness as h

MiB = 1024 * 1024
RSS_UPLOAD_BYTES = 200 * 1000 * 1000
RSS_GROWTH_MAX_KB = 32 * 1024

def make_big_pdf(path, pages=4):
    """A real PDF over 8 MiB: pages of random-noise JPEGs (they do not compress)."""
    jpgs = []
    for i in range(pages):
        jpg = path.parent / f"noise-{i}.jpg"
        r = h.run_cmd([h.CONVERT, "-size", "1700x1700", "xc:gray", "+noise", "Random",
                       "-quality", "95", str(jpg)])
        if r.returncode != 0:
            raise h.TestFailure(f"convert: {r.stderr}")
        jpgs.append(str(jpg))
    r = h.run_cmd(["img2pdf", *jpgs, "-o", str(path)])
    if r.returncode != 0:
        raise h.TestFailure(f"img2pdf: {r.stderr}")
    return path

def split_message(body):
    """(the JSON line as an object, the bytes after it)."""
    line, _, rest = body.partition(b"\n")
    return json.loads(line), rest

def blob_rows():
    return h.db_query("SELECT blob_id::text, job_id::text, kind, bytes, encode(sha256, 'hex') AS sha"
                      " FROM ocr_blobs ORDER BY created_at")

def open_blob_transactions():
    """Backends in the middle of writing a blob (its transaction open)."""
    return h.db_query("SELECT pid FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'"
                      " AND query LIKE 'INSERT INTO ocr_blob_chunks%'")

def curl_upload(api, key, path, content_type, extra=(), query=""):
    """POST path's bytes (streamed from the file by curl); returns
    (curl exit status, HTTP status, bytes curl sent, response body)."""
    out = h.tmpdir() / f"curl-{uuid.uuid4().hex}.out"
    argv = ["curl", "-sS", "-X", "POST", "--max-time", "300", "-o", str(out),
            "-w", "%{http_code} %{size_upload}", "-H", f"Authorization: Bearer {key}",
            "-H", f"Content-Type: {content_type}", *extra, "-T", str(path),
            f"http://127.0.0.1:{api.port}/v1/jobs{('?' + query) if query else ''}"]
    r = h.run_cmd(argv)
    code, sent = (r.stdout.split() + ["0", "0"])[:2]
    body = out.read_bytes() if out.exists() else b""
    return r.returncode, int(code), int(float(sent)), body

def check_stored(t, what, job_id, data, source=None):
    """The job is queued, its message small and by reference, its blob exact."""
    sha = hashlib.sha256(data).hexdigest()
    row = h.job_row(job_id)
    t.check(row and row["status"] == "queued", f"{what}: the job row is queued", row)
    if source:
        t.check(row and row["source"] == source, f"{what}: source is the file name", row)
    msgs = h.peek_messages()
    body = msgs.get(job_id)
    t.require(body is not None, f"{what}: its message is in ocr.jobs", list(msgs))
    meta, rest = split_message(body)
    doc = meta.get("document", {})
    t.check(len(body) < 4096 and rest == b"", f"{what}: the message is small ({len(body)} bytes),"
            " with no document bytes after the JSON line", len(body))
    t.check(doc.get("kind") == "stored" and doc.get("size") == len(data)
            and h.is_uuid(doc.get("blob_id")),
            f"{what}: document is {{kind: stored, blob_id, size: {len(data)}}}", doc)
    blobs = [b for b in blob_rows() if b["blob_id"] == doc.get("blob_id")]
    t.check(len(blobs) == 1 and blobs[0]["bytes"] == len(data) and blobs[0]["sha"] == sha
            and blobs[0]["kind"] == "document" and blobs[0]["job_id"] == job_id,
            f"{what}: ocr_blobs holds a document blob of the job, exactly {len(data)} bytes,"
            " with the file's SHA-256", blobs)
    chunks = h.db_query("SELECT count(*) AS n, max(seq) AS last, sum(length(data)) AS bytes"
                        " FROM ocr_blob_chunks WHERE blob_id = %s", (doc.get("blob_id"),))[0]
    t.check(chunks["n"] == (len(data) + MiB - 1) // MiB and chunks["last"] == chunks["n"] - 1
            and chunks["bytes"] == len(data), f"{what}: in 1 MiB chunks numbered from 0", chunks)
    t.check(str(row.get("doc_blob_id")) == doc.get("blob_id"),
            f"{what}: ocr_jobs.doc_blob_id names the blob", row.get("doc_blob_id"))
    return doc.get("blob_id")

def uploads(t, api, key, pdf):
    data = pdf.read_bytes()
    t.require(len(data) > 8 * MiB, f"the test PDF is over 8 MiB ({len(data)} bytes)")

    rc, st, sent, body = curl_upload(api, key, pdf, "application/pdf", query="batch=big")
    obj = json.loads(body or b"{}")
    t.require(st == 202 and h.is_uuid(obj.get("job_id")), "a raw PDF over 8 MiB: 202",
              (rc, st, body[:300]))
    check_stored(t, "raw PDF", obj["job_id"], data)

    body, ctype = h.multipart({"batch": "big-mp", "priority": "2"}, data, filename="big.pdf",
                              file_type="application/pdf")
    mp_path = h.tmpdir() / "big.multipart"
    mp_path.write_bytes(body)
    rc, st, sent, out = curl_upload(api, key, mp_path, ctype)
    obj = json.loads(out or b"{}")
    t.require(st == 202 and h.is_uuid(obj.get("job_id")), "the same PDF as multipart: 202",
              (rc, st, out[:300]))
    check_stored(t, "multipart", obj["job_id"], data, source="big.pdf")
    t.check(h.job_row(obj["job_id"])["priority"] == 2, "multipart: its form fields are applied")

    # a repeated Idempotency-Key: the repeat's copy of the document is deleted again
    idem = ["-H", "Idempotency-Key: big-once"]
    blobs0 = len(blob_rows())
    _, st1, _, b1 = curl_upload(api, key, pdf, "application/pdf", idem)
    _, st2, _, b2 = curl_upload(api, key, pdf, "application/pdf", idem)
    j1, j2 = json.loads(b1 or b"{}"), json.loads(b2 or b"{}")
    t.check(st1 == 202 and st2 == 202 and j1.get("job_id") == j2.get("job_id"),
            "the same upload twice under one Idempotency-Key: one job", (st1, st2, b1, b2))
    h.wait_until(lambda: "deleted its document" in h.log_text(api), timeout=30,
                 what="the repeat's blob to be deleted")
    t.check(len(blob_rows()) == blobs0 + 1, "... and one blob: the repeat's copy is deleted",
            (blobs0, blob_rows()))

    # refused after it was stored (503 queue_full): the blob goes again
    full = h.start_api({"api.max_queue_depth": 1})
    h.wait_until(lambda: (h.metric(h.get_metrics(full.port), "ocrq_api_queue_ready",
                                   queue=h.JOB_QUEUE) or 0) >= 1, timeout=30,
                 what="the second server to see the queue's depth")
    blobs0 = len(blob_rows())
    _, st, _, b = curl_upload(full, key, pdf, "application/pdf")
    t.check(st == 503 and json.loads(b or b"{}").get("error", {}).get("code") == "queue_full",
            "a large upload to a full queue: 503 queue_full", (st, b))
    h.wait_until(lambda: "deleted its document" in h.log_text(full), timeout=30,
                 what="the refused job's blob to be deleted")
    t.check(len(blob_rows()) == blobs0, "... and its stored document is deleted",
            (blobs0, len(blob_rows())))
    h.stop_api(full)

    small = h.make_image("small upload", h.tmpdir() / "small.png").read_bytes()
    before = len(blob_rows())
    st, _, obj = h.api_post_image(api, key, small)
    t.require(st == 202, "a small upload: 202", (st, obj))
    meta, rest = split_message(h.peek_messages()[obj["job_id"]])
    t.check(meta["document"].get("kind") == "inline" and rest == small,
            "a small upload still travels inline in its message", meta["document"])
    t.check(len(blob_rows()) == before, "... and stores no blob")

def limits(t, key, pdf):
    """A server with api.max_upload_bytes = 4 MiB and inline_max_bytes = 1 MiB."""
    api = h.start_api({"api.max_upload_bytes": 4 * MiB, "documents.inline_max_bytes": MiB})
    size = pdf.stat().st_size
    blobs0, jobs0 = len(blob_rows()), len(h.job_rows())

    # Content-Length over the limit: 413 before the body, which curl then never sends
    rc, st, sent, body = curl_upload(api, key, pdf, "application/pdf",
                                     ["-H", "Expect: 100-continue"])
    err = json.loads(body or b"{}").get("error", {})
    t.check(st == 413 and err.get("code") == "too_large",
            "Content-Length over api.max_upload_bytes: 413 too_large", (rc, st, body[:300]))
    t.check(sent == 0, "... answered from the headers: not one byte of the body was sent",
            (sent, size))

    # chunked, no Content-Length: 413 once past the limit; the blob begun at 1 MiB rolled back
    rc, st, sent, body = curl_upload(api, key, pdf, "application/pdf",
                                     ["-H", "Transfer-Encoding: chunked"])
    err = json.loads(body or b"{}").get("error", {})
    t.check(st == 413 and err.get("code") == "too_large",
            "a chunked upload over the limit: 413 too_large", (rc, st, body[:300]))
    t.check(sent < size, "... answered before the upload was over", (sent, size))
    h.wait_until(lambda: not open_blob_transactions(), timeout=30,
                 what="the refused upload's blob transaction to end")
    h.wait_until(lambda: "refused after" in h.log_text(api), timeout=30,
                 what="the API to log the refused upload")
    t.check(len(blob_rows()) == blobs0 and len(h.job_rows()) == jobs0,
            "the refused chunked upload stored nothing: no blob, no job",
            (blobs0, len(blob_rows()), jobs0, len(h.job_rows())))

    # a client that goes away midway, once its blob is being written
    s = socket.create_connection(("127.0.0.1", api.port))
    s.sendall((f"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
               f"Content-Type: application/pdf\r\nContent-Length: {3 * MiB}\r\n\r\n").encode())
    data = pdf.read_bytes()
    s.sendall(data[:2 * MiB])
    h.wait_until(lambda: open_blob_transactions(), timeout=60,
                 what="the upload's blob to be written (its transaction open)")
    s.close()
    h.wait_until(lambda: not open_blob_transactions(), timeout=60,
                 what="the broken upload's blob transaction to end")
    h.wait_until(lambda: "broken off by the client" in h.log_text(api), timeout=30,
                 what="the API to log the broken upload")
    t.check(len(blob_rows()) == blobs0 and len(h.job_rows()) == jobs0,
            "a client gone midway leaves nothing stored: no blob, no job",
            (blobs0, len(blob_rows()), jobs0, len(h.job_rows())))

    # the limit is on uploads only: a JSON body keeps api.max_body_bytes
    big_json = h.tmpdir() / "big.json"
    big_json.write_bytes(b'{"url": "http://x/", "batch": "' + b"x" * (9 * MiB) + b'"}')
    rc, st, sent, body = curl_upload(api, key, big_json, "application/json",
                                     ["-H", "Expect: 100-continue"])
    t.check(st == 413 and json.loads(body or b"{}").get("error", {}).get("code") == "too_large"
            and sent == 0, "a JSON body over api.max_body_bytes: 413 from its headers",
            (rc, st, sent, body[:300]))
    h.stop_api(api)

def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0

def rss(t, key):
    """200 MB through a fresh server: its VmRSS, sampled during and after, grows < 32 MB."""
    path = h.tmpdir() / "random.pdf"
    with open(path, "wb") as f:
        f.write(b"%PDF-1.7\n")
        left = RSS_UPLOAD_BYTES - 9
        while left > 0:
            n = min(left, 8 * MiB)
            f.write(os.urandom(n))
            left -= n
    api = h.start_api()
    small = h.make_image("warm up", h.tmpdir() / "warm.png").read_bytes()
    st, _, _ = h.api_post_image(api, key, small)  # warm up: connections, pools, first job
    t.check(st == 202, "warm-up upload: 202", st)
    base = rss_kb(api.pid)
    samples, stop = [], threading.Event()

    def sample():
        while not stop.is_set():
            samples.append(rss_kb(api.pid))
            time.sleep(0.05)
    th = threading.Thread(target=sample)
    th.start()
    try:
        rc, st, sent, body = curl_upload(api, key, path, "application/pdf", query="batch=rss")
        time.sleep(1)  # and a little after
    finally:
        stop.set()
        th.join()
    samples.append(rss_kb(api.pid))
    obj = json.loads(body or b"{}")
    t.check(st == 202 and sent == RSS_UPLOAD_BYTES, "a 200 MB upload: 202", (rc, st, sent, body[:300]))
    growth = max(samples) - base
    print(f"      ocrq-api VmRSS: {base} kB before, {max(samples)} kB at most"
          f" ({len(samples)} samples), {samples[-1]} kB after: grew {growth} kB", flush=True)
    t.check(growth < RSS_GROWTH_MAX_KB,
            f"ocrq-api's RSS grew by less than 32 MB over a 200 MB upload ({growth} kB)",
            (base, max(samples), samples[-1]))
    job_id = obj.get("job_id")
    if job_id:
        blob = h.job_row(job_id)["doc_blob_id"]
        t.check(h.db_query("SELECT bytes FROM ocr_blobs WHERE blob_id = %s", (str(blob),))
                == [{"bytes": RSS_UPLOAD_BYTES}], "the 200 MB blob is stored whole")
        # keep the database small: the job, its blob and its message go
        h.db_query("DELETE FROM ocr_blobs WHERE blob_id = %s", (str(blob),))
        h.db_query("DELETE FROM ocr_jobs WHERE job_id = %s", (job_id,))
    h.purge_queues()
    path.unlink()
    h.stop_api(api)

def put_artifact_blob(job_id, data):
    """A stored artifact the way workers write one: ocr_blobs + 1 MiB chunks from seq 0."""
    blob_id = str(uuid.uuid4())
    h.db_query("INSERT INTO ocr_blobs (blob_id, job_id, kind, bytes, sha256)"
               " VALUES (%s, %s, 'artifact', %s, decode(%s, 'hex'))",
               (blob_id, job_id, len(data), hashlib.sha256(data).hexdigest()))
    for seq, off in enumerate(range(0, len(data), MiB)):
        h.db_query("INSERT INTO ocr_blob_chunks (blob_id, seq, data) VALUES (%s, %s, %s)",
                   (blob_id, seq, data[off:off + MiB]))
    return blob_id

def artifacts(t, api, key, name):
    job_id = str(uuid.uuid4())
    h.db_query("INSERT INTO ocr_jobs (job_id, status, language, api_key, finished_at)"
               " VALUES (%s, 'succeeded', 'eng', %s, now())", (job_id, name))
    pdf = b"%PDF-1.5\n" + os.urandom(5 * 1000 * 1000 + 12345)
    blob_id = put_artifact_blob(job_id, pdf)
    hocr = b"<html>small hocr</html>"
    h.db_query("INSERT INTO ocr_artifacts (job_id, format, bytes, blob_id)"
               " VALUES (%s, 'pdf', %s, %s)", (job_id, len(pdf), blob_id))
    h.db_query("INSERT INTO ocr_artifacts (job_id, format, bytes, content)"
               " VALUES (%s, 'hocr', %s, %s)", (job_id, len(hocr), hocr))

    st, hdr, data = h.api_request(api, "GET", f"/v1/jobs/{job_id}/artifacts/pdf", key=key)
    t.check(st == 200 and data == pdf, f"a stored {len(pdf)}-byte artifact comes back identical",
            (st, len(data), hashlib.sha256(data).hexdigest()[:16]))
    t.check(hdr.get("content-type") == "application/pdf"
            and hdr.get("content-length") == str(len(pdf)),
            "... as application/pdf with its Content-Length", hdr)
    r = h.run_cmd(["curl", "-sS", "-I", "-H", f"Authorization: Bearer {key}",
                   f"http://127.0.0.1:{api.port}/v1/jobs/{job_id}/artifacts/pdf"])
    t.check(r.returncode == 0 and r.stdout.startswith("HTTP/1.1 200")
            and f"Content-Length: {len(pdf)}" in r.stdout, "HEAD: the headers only",
            (r.returncode, r.stdout, r.stderr))
    st, _, obj = h.api_json(api, "GET", f"/v1/jobs/{job_id}", key=key)
    t.check(obj.get("artifacts", {}).get("pdf", {}).get("stored") is True
            and obj["artifacts"]["pdf"].get("bytes") == len(pdf),
            "GET job lists the stored artifact as stored, with its size", obj.get("artifacts"))
    st, _, data = h.api_request(api, "GET", f"/v1/jobs/{job_id}/artifacts/hocr", key=key)
    t.check(st == 200 and data == hocr, "an artifact in its row still comes from the row", st)

    # a chunk gone: the body is cut short, never padded or wrong
    h.db_query("DELETE FROM ocr_blob_chunks WHERE blob_id = %s AND seq = 2", (blob_id,))
    r = h.run_cmd(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                   "-H", f"Authorization: Bearer {key}",
                   f"http://127.0.0.1:{api.port}/v1/jobs/{job_id}/artifacts/pdf"])
    t.check(r.returncode == 18 and r.stdout.split()[0] == "200"
            and int(float(r.stdout.split()[1])) <= 2 * MiB,
            "a missing chunk cuts the body short (curl: transfer closed, exit 18)",
            (r.returncode, r.stdout, r.stderr))
    h.db_query("DELETE FROM ocr_blobs WHERE blob_id = %s", (blob_id,))
    st, _, obj = h.api_json(api, "GET", f"/v1/jobs/{job_id}/artifacts/pdf", key=key)
    t.check(st == 409 and obj.get("error", {}).get("code") == "artifact_not_stored",
            "a stored artifact whose blob is gone: 409 artifact_not_stored", (st, obj))

def main(t):
    h.db_query("TRUNCATE ocr_blobs CASCADE")
    name, key = h.api_key()
    pdf = make_big_pdf(h.tmpdir() / "big.pdf")
    api = h.start_api()
    uploads(t, api, key, pdf)
    artifacts(t, api, key, name)
    h.stop_api(api)
    h.purge_queues()
    h.db_query("TRUNCATE ocr_blobs CASCADE")
    limits(t, key, pdf)
    rss(t, key)
    h.db_query("TRUNCATE ocr_blobs CASCADE")

if __name__ == "__main__":
    h.run(main)
