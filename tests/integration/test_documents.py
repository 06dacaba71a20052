# SPDX-License-Identifier: GPL-3.0-or-later
"""Documents of several pages (docs/documents.md). Three pages of known text
are made with ImageMagick; from them a 3-page TIFF, a scanned 3-page PDF
(img2pdf, 300 dpi), a 4-page PDF, an encrypted copy (qpdf), a truncated copy,
and a PDF with a text layer (tesseract ... pdf, checked with pdftotext).

With ocr.max_pages = 3 and ocr.pdf_text = "skip":
* the scanned PDF and the TIFF succeed with three ocr_pages rows each, in
  order, every page's text within 2% CER, pages_total = pages_done = 3, and
  the job's text is the pages joined by form feeds;
* the PDF with a text layer takes that text without OCR (method text_layer,
  no confidence, a fraction of an OCRed page's time);
* the encrypted, truncated and 4-page PDFs fail with pdf_encrypted,
  pdf_damaged and too_many_pages, are dead-lettered, and the worker serves on;
* a second delivery of a finished TIFF job adds no page rows.
With ocr.pdf_text = "force" the PDF with a text layer is OCRed (method ocr)."""

import textwrap

import harness as h

PAGES = [textwrap.fill(p, width=56) for p in h.A4_TEXT[:3]]
MAX_CER = 0.02


def make_inputs(d):
    pngs = [h.make_image(text, d / f"page{i + 1}.png", pointsize=40) for i, text in enumerate(PAGES)]
    names = [str(p) for p in pngs]

    def run(argv, what):
        r = h.run_cmd(argv, timeout=120)
        if r.returncode != 0:
            raise h.TestFailure(f"{what} failed: {r.stderr.strip()}")
    run([h.CONVERT, *names, "-compress", "lzw", str(d / "three.tif")], "convert to TIFF")
    run(["img2pdf", "-s", "300dpi", *names, "-o", str(d / "scan3.pdf")], "img2pdf")
    run(["img2pdf", "-s", "300dpi", *names, names[0], "-o", str(d / "scan4.pdf")], "img2pdf")
    run(["qpdf", "--encrypt", "user-pw", "owner-pw", "256", "--", str(d / "scan3.pdf"),
         str(d / "encrypted.pdf")], "qpdf --encrypt")
    data = (d / "scan3.pdf").read_bytes()
    (d / "truncated.pdf").write_bytes(data[:len(data) // 2])
    run(["tesseract", names[0], str(d / "layer"), "--dpi", "300", "-l", "eng", "pdf"],
        "tesseract pdf")
    r = h.run_cmd(["pdftotext", str(d / "layer.pdf"), "-"], timeout=60)
    if r.returncode != 0 or h.cer(PAGES[0], r.stdout) > 0.05:
        raise h.TestFailure(f"layer.pdf has no usable text layer: {r.stdout!r} {r.stderr!r}")
    return d / "scan3.pdf", d / "three.tif", d / "layer.pdf"


def page_rows(job_id):
    return h.db_query("SELECT page_no, text, mean_conf, width, height, rotation, duration_ms,"
                      " method FROM ocr_pages WHERE job_id = %s::uuid ORDER BY page_no", (job_id,))


def submit(t, config, paths, expect_rc=0):
    r = h.submit(["--wait", "--json", "-q", "-c", config, *paths])
    t.check(r.returncode == expect_rc, f"ocrq-submit {len(paths)} documents exits {expect_rc}",
            f"exit {r.returncode}; stderr: {r.stderr.strip()}")
    by_name = {str(o.get("source", "")).rsplit("/", 1)[-1]: o for o in h.json_lines(r.stdout)}
    for p in paths:
        t.require(h.is_uuid(by_name.get(p.name, {}).get("job_id")), f"{p.name} was submitted",
                  by_name)
    return {name: o["job_id"] for name, o in by_name.items()}


def check_pages(t, name, job_id, widths=None):
    row = h.job_row(job_id)
    t.check(row["status"] == "succeeded" and row["pages_total"] == 3 and row["pages_done"] == 3,
            f"{name}: succeeded, pages_total = pages_done = 3",
            {k: row[k] for k in ("status", "error_code", "error_message", "pages_total",
                                 "pages_done")})
    pages = page_rows(job_id)
    t.check([p["page_no"] for p in pages] == [1, 2, 3], f"{name}: ocr_pages rows 1, 2, 3",
            [p["page_no"] for p in pages])
    for p, expected, width in zip(pages, PAGES, widths or [None] * 3):
        rate = h.cer(expected, p["text"])
        t.check(rate < MAX_CER, f"{name} page {p['page_no']}: CER {rate:.2%} < {MAX_CER:.0%}",
                f"expected {h.normalize(expected)!r}, got {h.normalize(p['text'])!r}")
        t.check(p["method"] == "ocr" and p["mean_conf"] is not None and p["rotation"] == 0,
                f"{name} page {p['page_no']}: OCRed, with a confidence, not rotated", p)
        if width:
            t.check(p["width"] == width, f"{name} page {p['page_no']}: {width} pixels wide", p)
    res = h.result_rows([job_id])
    parts = res[0]["text"].split("\f") if res else []
    t.check(len(parts) == 3 and all(h.cer(e, g) < MAX_CER for e, g in zip(PAGES, parts)),
            f"{name}: the job's text is its 3 pages joined by form feeds, in order",
            [h.normalize(x)[:40] for x in parts])
    return pages


def main(t):
    d = h.tmpdir()
    scan3, tif, layer = make_inputs(d)
    png_widths = [int(h.run_cmd(["identify", "-format", "%w", str(d / f"page{i}.png")]).stdout)
                  for i in (1, 2, 3)]
    bad = {"encrypted.pdf": "pdf_encrypted", "truncated.pdf": "pdf_damaged",
           "scan4.pdf": "too_many_pages"}

    skip_conf = h.write_config({"ocr.max_pages": 3, "ocr.pdf_text": "skip"})
    w = h.start_worker(config=skip_conf)
    ids = submit(t, skip_conf, [scan3, tif, layer])
    check_pages(t, "scan3.pdf", ids["scan3.pdf"], widths=png_widths)  # 300 dpi, as scanned
    check_pages(t, "three.tif", ids["three.tif"])
    ocr_ms = max(p["duration_ms"] for p in page_rows(ids["three.tif"]))

    skipped = page_rows(ids["layer.pdf"])
    t.check(len(skipped) == 1 and skipped[0]["method"] == "text_layer"
            and skipped[0]["mean_conf"] is None,
            "layer.pdf under skip: its text layer taken (method text_layer, no confidence)",
            skipped)
    if skipped:
        t.check(h.cer(PAGES[0], skipped[0]["text"]) < MAX_CER, "and that text is the page's",
                skipped[0]["text"])
        t.check(skipped[0]["duration_ms"] * 5 < ocr_ms,
                f"and it took a fraction of an OCRed page ({skipped[0]['duration_ms']} ms vs"
                f" {ocr_ms} ms)")

    # A second delivery of the finished TIFF job: acked, no second set of pages.
    body, props = h.inline_job(tif.read_bytes(), job_id=ids["three.tif"], source="three.tif")
    h.publish_raw(body, props)
    h.wait_until(lambda: h.queue_counts([h.JOB_QUEUE]).get(h.JOB_QUEUE) == 0,
                 what="the repeat delivery to be taken")
    h.wait_until(lambda: "already succeeded" in w.log_path.read_text(errors="replace"),
                 what="the worker to acknowledge the repeat")
    t.check(len(page_rows(ids["three.tif"])) == 3, "a repeat delivery adds no page rows")

    failed_ids = submit(t, skip_conf, [d / n for n in bad], expect_rc=1)
    for name, code in bad.items():
        row = h.job_row(failed_ids[name])
        t.check(row["status"] == "failed" and row["error_code"] == code and row["error_message"],
                f"{name}: failed with {code}",
                {k: row[k] for k in ("status", "error_code", "error_message")})
        t.check(not page_rows(failed_ids[name]), f"{name}: no page rows")
    dead = {}

    def all_dead_lettered():
        for m in h.get_failed_messages():
            dead[m["message_id"]] = m
        return all(i in dead for i in failed_ids.values())
    h.wait_until(all_dead_lettered, what="3 messages in ocr.failed")
    for name, code in bad.items():
        t.check(dead[failed_ids[name]]["headers"].get("x-ocrq-error-code") == code,
                f"{name}: dead-lettered with x-ocrq-error-code {code}",
                dead[failed_ids[name]]["headers"])
    t.check(w.poll() is None, "the worker is still running after the bad documents")
    again = submit(t, skip_conf, [scan3])
    t.check(h.job_row(again["scan3.pdf"])["status"] == "succeeded",
            "and a good document after them succeeds")
    t.check(h.stop_worker(w) == 0, "worker exits 0 on SIGTERM")

    force_conf = h.write_config({"ocr.pdf_text": "force"})
    w = h.start_worker(config=force_conf)
    forced = submit(t, force_conf, [layer])
    pages = page_rows(forced["layer.pdf"])
    t.check(len(pages) == 1 and pages[0]["method"] == "ocr" and pages[0]["mean_conf"] is not None,
            "layer.pdf under force: OCRed (method ocr, with a confidence)", pages)
    if pages:
        t.check(h.cer(PAGES[0], pages[0]["text"]) < MAX_CER, "and its text is right",
                pages[0]["text"])
    t.check(h.stop_worker(w) == 0, "worker exits 0 on SIGTERM")


if __name__ == "__main__":
    h.run(main)
