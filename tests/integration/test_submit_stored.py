# SPDX-License-Identifier: GPL-3.0-or-later
"""ocrq-submit and large documents (docs/design.md, docs/protocol.md "stored"):
the CLI's side only, no worker runs.

* A 4-page PDF of random-noise JPEG pages (over documents.inline_max_bytes,
  8 MiB) submitted with no flags: exit 0, one queued job, one "document" blob
  in ocr_blobs of exactly the file's size whose recorded SHA-256, and that of
  its chunks joined in order, is the file's; chunks of 1 MiB but the last;
  the message in ocr.jobs is small and says document.kind "stored" with that
  blob_id and size, and nothing follows the JSON line.
* documents.max_bytes lowered below the file's size: the file is refused
  (exit 1, the message names the file, its size, the limit and the key) and
  nothing is recorded for it (no blob, no job row, no message), while a small
  file of the same run still goes.
* A 64 MiB file is stored without being held in memory: ocrq-submit's peak
  resident set stays below the file's size.
* --wait --output with artifacts in the store: the test marks two submitted
  jobs succeeded itself, one with its pdf in the store (3 MiB and a bit,
  written into ocr_blobs and ocr_blob_chunks here) and one whose pdf blob is
  missing: the first file has the blob's bytes; the second is reported, no
  file (and no temporary file) is left, exit 1.
* ocrq-admin store sweep deletes the document of a job that ended (canceled,
  finished an hour ago) and keeps those of queued jobs and the artifact;
  ocrq-admin status shows the store's counts and bytes, in text and --json.
"""

import hashlib
import json
import os
import subprocess
import uuid

import harness as h
from PIL import Image

MIB = 1024 * 1024
INLINE_MAX = 8 * MIB  # documents.inline_max_bytes default

# argv[1:] run as a child; prints "<its peak RSS in KiB> <its exit code>" last.
PEAK_RSS = ("import os, sys\n"
            "pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ)\n"
            "_, status, usage = os.wait4(pid, 0)\n"
            "sys.stdout.flush()\n"
            "print(usage.ru_maxrss, os.waitstatus_to_exitcode(status))\n")


def noise_pdf(path, pages=4, side=2000):
    """A PDF of `pages` random-noise JPEG pages (about 3 MB each): large, not OCR-able."""
    jpgs = []
    for i in range(pages):
        jpg = h.tmpdir() / f"noise{i}.jpg"
        Image.frombytes("L", (side, side), os.urandom(side * side)).save(jpg, "JPEG", quality=90)
        jpgs.append(str(jpg))
    r = h.run_cmd(["img2pdf", "-s", "300dpi", *jpgs, "-o", str(path)], timeout=120)
    if r.returncode != 0:
        raise h.TestFailure(f"img2pdf failed: {r.stderr.strip()}")
    return path


def sha256_file(path):
    d = hashlib.sha256()
    with open(path, "rb") as f:
        for piece in iter(lambda: f.read(MIB), b""):
            d.update(piece)
    return d.hexdigest()


def blobs(job_id=None):
    """ocr_blobs rows (all, or of one job) with the digest of their chunks joined in order."""
    sql = ("SELECT b.blob_id::text AS blob_id, b.job_id::text AS job_id, b.kind, b.bytes,"
           " encode(b.sha256, 'hex') AS sha256,"
           " (SELECT encode(sha256(string_agg(c.data, ''::bytea ORDER BY c.seq)), 'hex')"
           "  FROM ocr_blob_chunks c WHERE c.blob_id = b.blob_id) AS chunks_sha256,"
           " (SELECT array_agg(length(c.data) ORDER BY c.seq) FROM ocr_blob_chunks c"
           "  WHERE c.blob_id = b.blob_id) AS chunk_sizes"
           " FROM ocr_blobs b")
    if job_id:
        return h.db_query(sql + " WHERE b.job_id = %s::uuid", (job_id,))
    return h.db_query(sql)


def chunk_count(blob_id):
    return h.db_query("SELECT count(*) AS n FROM ocr_blob_chunks WHERE blob_id = %s::uuid",
                      (blob_id,))[0]["n"]


def submit_one(t, path, what, args=()):
    r = h.submit(["--json", "-q", *args, path], timeout=600)
    lines = h.json_lines(r.stdout) if r.returncode == 0 else []
    t.require(r.returncode == 0 and len(lines) == 1 and lines[0].get("status") == "queued",
              f"{what}: ocrq-submit with no flags exits 0, job queued",
              f"exit {r.returncode}; stdout {r.stdout!r}; stderr {r.stderr.strip()!r}")
    return lines[0]["job_id"]


def check_stored(t, path, job_id, what):
    """The job is queued and its document is one blob equal to the file; returns the blob."""
    size = path.stat().st_size
    row = h.job_row(job_id)
    t.check(row and row["status"] == "queued", f"{what}: a queued job row",
            row and row["status"])
    rows = blobs(job_id)
    t.require(len(rows) == 1, f"{what}: one blob of the job in ocr_blobs", rows)
    b = rows[0]
    digest = sha256_file(path)
    t.check(b["kind"] == "document" and b["bytes"] == size,
            f"{what}: a 'document' blob of exactly the file's size ({size} bytes)",
            f"kind {b['kind']}, {b['bytes']} bytes")
    t.check(b["sha256"] == digest, f"{what}: the blob's recorded SHA-256 is the file's",
            f"{b['sha256']} != {digest}")
    t.check(b["chunks_sha256"] == digest, f"{what}: its chunks joined in order are the file",
            f"{b['chunks_sha256']} != {digest}")
    sizes = b["chunk_sizes"] or []
    t.check(len(sizes) == -(-size // MIB) and all(n == MIB for n in sizes[:-1]),
            f"{what}: chunks of 1 MiB, the last one the rest", sizes)
    return b


def check_message(t, job_id, blob, size):
    body = h.peek_messages().get(job_id)
    t.require(body is not None, "the job's message is in ocr.jobs")
    t.check(len(body) < 4096, f"the message is small ({len(body)} bytes)", len(body))
    line, _, rest = body.partition(b"\n")
    try:
        doc = json.loads(line)["document"]
    except (ValueError, KeyError) as e:
        doc = {"error": repr(e)}
    t.check(doc.get("kind") == "stored" and doc.get("blob_id") == blob["blob_id"]
            and doc.get("size") == size,
            "the message's document is kind 'stored' with the blob's id and size", doc)
    t.check(rest == b"", "nothing follows the JSON line of a stored document",
            f"{len(rest)} bytes")


def test_over_limit(t, pdf, small):
    """documents.max_bytes below the file's size: refused, nothing of it recorded."""
    size = pdf.stat().st_size
    limit = size - 1
    conf = h.write_config({"documents.max_bytes": limit})
    h.purge_queues()
    blobs_before = len(blobs())
    jobs_before = {x["job_id"] for x in h.job_rows()}
    r = h.submit(["-c", conf, "--json", "-q", small, pdf], timeout=300)
    err = r.stderr
    t.check(r.returncode == 1, "a file over documents.max_bytes: exit 1",
            f"exit {r.returncode}; stderr {err.strip()!r}")
    t.check(str(pdf) in err and str(size) in err and str(limit) in err
            and "documents.max_bytes" in err,
            "the message names the file, its size, the limit and documents.max_bytes",
            err.strip())
    lines = {o.get("source"): o for o in h.json_lines(r.stdout)}
    t.check(lines.get(str(pdf), {}).get("status") == "error"
            and lines.get(str(small), {}).get("status") == "queued",
            "--json: the large file 'error', the small one 'queued'", lines)
    t.check(len(blobs()) == blobs_before, "no blob stored for the refused file",
            f"{blobs_before} -> {len(blobs())}")
    new = [(x["source"], x["status"]) for x in h.job_rows() if x["job_id"] not in jobs_before]
    t.check(new == [(str(small), "queued")],
            "no job row for the refused file (one for the small file)", new)
    msgs = h.peek_messages()
    small_id = lines.get(str(small), {}).get("job_id")
    t.check(list(msgs) == [small_id], "ocr.jobs holds the small file's message only",
            list(msgs))
    h.purge_queues()


def test_memory(t):
    """A 64 MiB file goes into the store without being held whole in memory."""
    big = h.tmpdir() / "random64.bin"
    with open(big, "wb") as f:
        for _ in range(64):
            f.write(os.urandom(MIB))
    # A small fresh interpreter starts it and reports its peak resident set: a child's
    # ru_maxrss also counts what it was before exec (this test's whole process, forked).
    r = h.run_cmd(["/usr/bin/python3", "-I", "-S", "-c", PEAK_RSS, h.SUBMIT, "--json", "-q", big])
    lines = r.stdout.splitlines()
    peak_kib, rc = map(int, lines[-1].split()) if lines else (0, -1)
    t.require(rc == 0, "a 64 MiB file: ocrq-submit exits 0", r.stderr.strip())
    job_id = h.json_lines(lines[0])[0]["job_id"]
    check_stored(t, big, job_id, "64 MiB file")
    t.check(peak_kib * 1024 < 64 * MIB, f"ocrq-submit's peak RSS stays under the file's size"
            f" ({peak_kib / 1024:.1f} MiB for 64 MiB)", f"peak {peak_kib} KiB")
    h.purge_queues()
    return job_id, 64 * MIB


def test_output(t):
    """--wait --output: an artifact in the store is written to its file."""
    a = h.make_image("Stored artifact", h.tmpdir() / "alpha.png")
    b = h.make_image("Missing blob", h.tmpdir() / "beta.png")
    out = h.tmpdir() / "out"
    p = subprocess.Popen([str(h.SUBMIT), "--json", "-q", "--format", "txt,pdf,hocr", "--output",
                          str(out), "--timeout", "240", str(a), str(b)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=h.env())
    try:
        rows = h.wait_until(lambda: (lambda r: r if len(r) == 2 else None)(
            [x for x in h.job_rows() if x["source"] in (str(a), str(b))]),
            what="both jobs recorded")
        ids = {x["source"]: x["job_id"] for x in rows}
        pdf = os.urandom(3 * MIB + 12345)
        blob_id, missing = str(uuid.uuid4()), str(uuid.uuid4())
        hocr = {s: f"<html><body>hocr of {s}</body></html>".encode() for s in ids}
        conn = h.psycopg2.connect(h.DATABASE_URL, connect_timeout=10)
        try:
            with conn, conn.cursor() as cur:  # one transaction, as a worker would write it
                cur.execute("INSERT INTO ocr_blobs (blob_id, job_id, kind, bytes, sha256)"
                            " VALUES (%s, %s, 'artifact', %s, %s)",
                            (blob_id, ids[str(a)], len(pdf), hashlib.sha256(pdf).digest()))
                for seq, off in enumerate(range(0, len(pdf), MIB)):
                    cur.execute("INSERT INTO ocr_blob_chunks (blob_id, seq, data)"
                                " VALUES (%s, %s, %s)", (blob_id, seq, pdf[off:off + MIB]))
                for src, job in ids.items():
                    cur.execute("INSERT INTO ocr_results (job_id, text) VALUES (%s, %s)",
                                (job, f"text of {os.path.basename(src)}"))
                    cur.execute("INSERT INTO ocr_artifacts (job_id, format, content, bytes)"
                                " VALUES (%s, 'hocr', %s, %s)", (job, hocr[src], len(hocr[src])))
                cur.execute("INSERT INTO ocr_artifacts (job_id, format, bytes, blob_id)"
                            " VALUES (%s, 'pdf', %s, %s)", (ids[str(a)], len(pdf), blob_id))
                cur.execute("INSERT INTO ocr_artifacts (job_id, format, bytes, blob_id)"
                            " VALUES (%s, 'pdf', 4242, %s)", (ids[str(b)], missing))
                cur.execute("UPDATE ocr_jobs SET status = 'succeeded', finished_at = now()"
                            " WHERE job_id = ANY(%s::uuid[])", (list(ids.values()),))
        finally:
            conn.close()
        stdout, stderr = p.communicate(timeout=h.CMD_TIMEOUT_S)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    t.check(p.returncode == 1, "--output with one stored artifact missing: exit 1",
            f"exit {p.returncode}; stderr {stderr.strip()!r}")
    written = (out / "alpha.pdf").read_bytes() if (out / "alpha.pdf").exists() else b""
    t.check(written == pdf, f"alpha.pdf is the stored artifact ({len(pdf)} bytes)",
            f"{len(written)} bytes, sha256 {hashlib.sha256(written).hexdigest()}")
    t.check((out / "alpha.hocr").exists() and (out / "alpha.hocr").read_bytes() == hocr[str(a)],
            "alpha.hocr (kept in its row) is written as before")
    t.check((out / "alpha.txt").exists() and (out / "alpha.txt").read_text() == "text of alpha.png",
            "alpha.txt is written")
    t.check(not (out / "beta.pdf").exists(), "no beta.pdf for the missing blob")
    left = [f.name for f in out.iterdir() if f.name.startswith(".")] if out.exists() else []
    t.check(not left, "no temporary file is left in the output directory", left)
    t.check("beta.png" in stderr and "stored pdf" in stderr and missing in stderr,
            "the missing stored artifact is reported with its input and blob", stderr.strip())
    h.purge_queues()
    return len(pdf)


def test_sweep(t, pdf, keep_ids):
    """store sweep: the document of a job that ended goes, the others stay."""
    copy = h.tmpdir() / "second.pdf"
    copy.write_bytes(pdf.read_bytes())
    job_id = submit_one(t, copy, "a second large PDF")
    gone = check_stored(t, copy, job_id, "second PDF")
    h.db_query("UPDATE ocr_jobs SET status = 'canceled', finished_at = now() - interval '1 hour'"
               " WHERE job_id = %s::uuid", (job_id,))
    artifacts_before = [b for b in blobs() if b["kind"] == "artifact"]
    orphan = str(h.uuid.uuid4())  # an artifact no row names, from an assembly two days ago
    h.db_query("INSERT INTO ocr_blobs (blob_id, job_id, kind, bytes, created_at)"
               " VALUES (%s, %s, 'artifact', 0, now() - interval '2 days')", (orphan, job_id))
    r = h.admin(["store", "sweep"])
    t.check(r.returncode == 0 and "1 stored document deleted" in r.stdout,
            "ocrq-admin store sweep exits 0 and says it deleted 1 document",
            f"exit {r.returncode}; stdout {r.stdout!r}; stderr {r.stderr!r}")
    t.check(not blobs(job_id) and chunk_count(gone["blob_id"]) == 0,
            "the canceled job's document and its chunks are deleted")
    kept = [j for j in keep_ids if len(blobs(j)) == 1]
    t.check(kept == list(keep_ids), "the documents of queued jobs are kept", kept)
    t.check([b for b in blobs() if b["kind"] == "artifact"] == artifacts_before,
            "the artifact in the store is kept, the orphaned one deleted")
    t.check("1 orphaned artifact deleted" in r.stdout, "the sweep names the orphaned artifact",
            r.stdout)
    r = h.admin(["store", "sweep"])
    t.check(r.returncode == 0 and "0 stored documents deleted" in r.stdout,
            "a second sweep deletes nothing", r.stdout)
    h.purge_queues()


def test_status(t, doc_bytes, art_bytes):
    r = h.admin(["status", "--json"])
    try:
        store = json.loads(r.stdout)["store"]
    except (ValueError, KeyError, TypeError):
        store = None
    want = {"documents": 2, "document_bytes": doc_bytes, "artifacts": 1,
            "artifact_bytes": art_bytes}
    t.check(r.returncode == 0 and store == want, "ocrq-admin status --json: the store's totals",
            f"{store} != {want}")
    r = h.admin(["status"])
    docs = f"stored documents: 2 ({doc_bytes / MIB:.1f} MiB)"
    arts = f"stored artifacts: 1 ({art_bytes / MIB:.1f} MiB)"
    t.check(r.returncode == 0 and docs in r.stdout and arts in r.stdout,
            f"ocrq-admin status: '{docs}', '{arts}'", r.stdout)


def main(t):
    h.db_query("TRUNCATE ocr_blobs CASCADE")  # reset() leaves the store alone
    pdf = noise_pdf(h.tmpdir() / "scan.pdf")
    size = pdf.stat().st_size
    t.require(size > INLINE_MAX, f"the PDF is over documents.inline_max_bytes ({size} bytes)")

    job_id = submit_one(t, pdf, "a 4-page PDF over 8 MiB")
    blob = check_stored(t, pdf, job_id, "PDF")
    check_message(t, job_id, blob, size)
    h.purge_queues()

    test_over_limit(t, pdf, h.make_image("Small", h.tmpdir() / "small.png"))
    big_job, big = test_memory(t)
    art_bytes = test_output(t)
    test_sweep(t, pdf, [job_id, big_job])
    test_status(t, size + big, art_bytes)


if __name__ == "__main__":
    h.run(main)
