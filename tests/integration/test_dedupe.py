# SPDX-License-Identifier: GPL-3.0-or-later
"""Deduplication (dedupe.enabled, dedupe.ttl_s; docs/documents.md).

With dedupe on, the same file submitted twice is OCRed once: both jobs
succeed with the same text, the second has dedupe_of = the first, its pages
are copies (method dedupe), the worker logs that it took the result without
OCR, and both jobs get their own webhook event. A 3-page TIFF is copied with
its three pages. Another language is OCRed again. With dedupe off both are
OCRed; with ttl_s = 1, a second submission 2 s later is OCRed again.
Every job records its document's SHA-256."""

import hashlib
import time

import harness as h

HOOK_URL = "http://127.0.0.1:9/hook"  # never called: the dispatcher is off


def submit_one(t, config, path, lang="eng"):
    r = h.submit(["--wait", "--json", "-q", "-c", config, "-l", lang, str(path)])
    t.check(r.returncode == 0, f"ocrq-submit {path.name} ({lang}) exits 0",
            f"exit {r.returncode}; stderr: {r.stderr.strip()}")
    lines = h.json_lines(r.stdout)
    t.require(len(lines) == 1 and h.is_uuid(lines[0].get("job_id")), "one job submitted", lines)
    return lines[0]["job_id"]


def text_of(job_id):
    rows = h.result_rows([job_id])
    return rows[0]["text"] if rows else None


def pages_of(job_id):
    return h.db_query("SELECT page_no, text, method, duration_ms FROM ocr_pages"
                      " WHERE job_id = %s::uuid ORDER BY page_no", (job_id,))


def copies_logged(w):
    return w.log_path.read_text(errors="replace").count("succeeded without OCR")


def make_tiff(d):
    names = [str(h.make_image(text, d / f"p{i}.png")) for i, text in
             enumerate(["First page of the copy", "Second page of it", "Third and last page"])]
    r = h.run_cmd([h.CONVERT, *names, "-compress", "lzw", str(d / "three.tif")])
    if r.returncode != 0:
        raise h.TestFailure(f"convert to TIFF failed: {r.stderr.strip()}")
    return d / "three.tif"


def main(t):
    d = h.tmpdir()
    png, _, expected = next(s for s in h.sample_files() if s[1] == "eng")
    sha = hashlib.sha256(png.read_bytes()).hexdigest()
    tif = make_tiff(d)

    on = h.write_config({"dedupe.enabled": True, "dedupe.ttl_s": 86400,
                         "webhooks.default_url": HOOK_URL, "webhooks.dispatcher": False})
    w = h.start_worker(config=on)
    first = submit_one(t, on, png)
    second = submit_one(t, on, png)
    rows = {r["job_id"]: r for r in h.job_rows([first, second])}
    t.check(all(r["status"] == "succeeded" for r in rows.values()), "both jobs succeed",
            {k: r["status"] for k, r in rows.items()})
    t.check(text_of(first) == text_of(second) and h.cer(expected, text_of(first)) < 0.05,
            "both have the same, right text")
    t.check(rows[first]["dedupe_of"] is None, "the first was OCRed (dedupe_of NULL)")
    t.check(str(rows[second]["dedupe_of"]) == first, "the second has dedupe_of = the first",
            rows[second]["dedupe_of"])
    t.check(all(bytes(r["doc_sha256"]).hex() == sha for r in rows.values()),
            "both record the document's SHA-256")
    p1, p2 = pages_of(first), pages_of(second)
    t.check([p["method"] for p in p1] == ["ocr"] and [p["method"] for p in p2] == ["dedupe"]
            and p2[0]["text"] == p1[0]["text"] and p2[0]["duration_ms"] == 0,
            "the first page was OCRed; the second job's page is a copy (method dedupe)",
            (p1, p2))
    t.check(copies_logged(w) == 1, "the worker logged one result taken without OCR",
            copies_logged(w))
    hooks = {str(r["job_id"]) for r in h.webhook_deliveries([first, second])
             if r["event_type"] == "job.succeeded"}
    t.check(hooks == {first, second}, "each job has its own job.succeeded event", hooks)

    deu = submit_one(t, on, png, lang="deu")
    t.check(h.job_row(deu)["dedupe_of"] is None and pages_of(deu)[0]["method"] == "ocr",
            "the same file in another language is OCRed")

    tif1 = submit_one(t, on, tif)
    tif2 = submit_one(t, on, tif)
    t1, t2 = pages_of(tif1), pages_of(tif2)
    row2 = h.job_row(tif2)
    t.check(str(row2["dedupe_of"]) == tif1 and len(t1) == 3
            and [p["method"] for p in t2] == ["dedupe"] * 3
            and [p["text"] for p in t2] == [p["text"] for p in t1]
            and row2["pages_total"] == 3 and row2["pages_done"] == 3,
            "a 3-page TIFF: the copy has the original's 3 pages, pages_total = pages_done = 3",
            (row2["dedupe_of"], t2))
    t.check(text_of(tif1) == text_of(tif2), "and the same text")
    t.check(h.stop_worker(w) == 0, "worker exits 0 on SIGTERM")

    off = h.write_config({"dedupe.enabled": False})
    w = h.start_worker(config=off)
    a, b = submit_one(t, off, png), submit_one(t, off, png)
    t.check(all(h.job_row(j)["dedupe_of"] is None and pages_of(j)[0]["method"] == "ocr"
                for j in (a, b)) and copies_logged(w) == 0,
            "dedupe off: both submissions are OCRed")
    t.check(h.stop_worker(w) == 0, "worker exits 0 on SIGTERM")

    short = h.write_config({"dedupe.enabled": True, "dedupe.ttl_s": 1})
    w = h.start_worker(config=short)
    a = submit_one(t, short, tif)
    time.sleep(2.5)  # past the TTL; the earlier TIFF jobs finished before too
    b = submit_one(t, short, tif)
    t.check(h.job_row(b)["dedupe_of"] is None and pages_of(b)[0]["method"] == "ocr"
            and copies_logged(w) == 0, "ttl_s = 1: a submission 2.5 s later is OCRed again")
    t.check(h.stop_worker(w) == 0, "worker exits 0 on SIGTERM")


if __name__ == "__main__":
    h.run(main)
