# SPDX-License-Identifier: GPL-3.0-or-later
"""Outputs beside the text (docs/results.md): the job option formats.

A 2-page scanned PDF (img2pdf, 300 dpi) and a PNG are submitted with
`--format txt,hocr,alto,tsv,pdf,words --output DIR`:
* DIR gets <stem>.txt, .hocr, .xml, .tsv, .pdf and .words.json for each;
* hOCR and ALTO are well-formed XML (xmllint), with one ocr_page div and one
  ALTO Page element per page;
* the TSV has Tesseract's 12 columns and a level-5 row per word;
* the searchable PDF has the document's pages, and its text layer read back
  with pdftotext matches the OCR text (CER < 2%);
* words.json parses, and its words joined, page by page, match the text;
* ocr_artifacts holds exactly one row per format, the same bytes as the files.
Also: a job without --format stores no artifacts; the same message delivered
twice, then run again after a reset to queued, leaves one row per format; a
PDF whose page carries text is OCRed when outputs are asked for, even under
ocr.pdf_text = "skip"; an artifact over artifacts.max_bytes is not stored,
its row says why, the job succeeds and ocrq-submit --output exits 1."""

import json
import re
import subprocess
import xml.etree.ElementTree as ET

import harness as h

PAGES = ["The warehouse in Leeds received forty\ncrates of printer paper on Monday.",
         "Each crate was checked against the\ndelivery note by the night shift."]
SNIPPET = "Invoice number 4711 is due\nat the end of the month."
FORMATS = "txt,hocr,alto,tsv,pdf,words"
EXTS = {"hocr": "hocr", "alto": "xml", "tsv": "tsv", "pdf": "pdf", "words": "words.json"}
MAX_CER = 0.02


def make_inputs(d):
    pngs = [h.make_image(text, d / f"page{i + 1}.png") for i, text in enumerate(PAGES)]
    r = h.run_cmd(["img2pdf", "-s", "300dpi", *map(str, pngs), "-o", str(d / "two.pdf")],
                  timeout=120)
    if r.returncode != 0:
        raise h.TestFailure(f"img2pdf failed: {r.stderr.strip()}")
    h.make_image(SNIPPET, d / "snippet.png")
    r = h.run_cmd(["tesseract", str(pngs[0]), str(d / "layer"), "--dpi", "300", "-l", "eng",
                   "pdf"], timeout=120)
    if r.returncode != 0:
        raise h.TestFailure(f"tesseract pdf failed: {r.stderr.strip()}")
    return d / "two.pdf", d / "snippet.png", d / "layer.pdf"


def submit(t, args, expect_rc=0):
    r = h.submit(["--json", "-q", *map(str, args)], timeout=300)
    t.check(r.returncode == expect_rc, f"ocrq-submit {' '.join(map(str, args[:4]))} ..."
            f" exits {expect_rc}", f"exit {r.returncode}; stderr: {r.stderr.strip()}")
    return r, {o.get("source", "").rsplit("/", 1)[-1]: o.get("job_id")
               for o in h.json_lines(r.stdout)}


def artifacts(job_id):
    return {row["format"]: row for row in h.db_query(
        "SELECT format, content, bytes, error, created_at FROM ocr_artifacts"
        " WHERE job_id = %s::uuid", (job_id,))}


def xmllint(t, path):
    r = h.run_cmd(["xmllint", "--noout", str(path)])
    t.check(r.returncode == 0, f"{path.name} is well-formed XML (xmllint)", r.stderr.strip())


def check_outputs(t, out, stem, job_id, page_texts):
    """Every file of --output for one job, against its OCR text and its rows."""
    text = (out / f"{stem}.txt").read_text()
    n = len(page_texts)
    res = h.result_rows([job_id])
    t.check(res and res[0]["text"] == text, f"{stem}.txt is the job's text")

    hocr = out / f"{stem}.hocr"
    xmllint(t, hocr)
    pages = re.findall(r"class='ocr_page'", hocr.read_text())
    t.check(len(pages) == n, f"{stem}.hocr has {n} ocr_page divs", len(pages))

    alto = out / f"{stem}.xml"
    xmllint(t, alto)
    root = ET.parse(alto).getroot()
    t.check(root.tag.endswith("alto"), f"{stem}.xml is an ALTO document", root.tag)
    alto_pages = [e for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "Page"]
    t.check(len(alto_pages) == n, f"{stem}.xml has {n} Page elements", len(alto_pages))
    strings = [e.get("CONTENT") for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "String"]
    t.check(h.cer(text, " ".join(strings)) < MAX_CER, f"{stem}.xml: its String contents are the"
            " text", " ".join(strings))

    rows = [line.split("\t") for line in (out / f"{stem}.tsv").read_text().splitlines()]
    t.check(rows and rows[0] == ["level", "page_num", "block_num", "par_num", "line_num",
                                 "word_num", "left", "top", "width", "height", "conf", "text"],
            f"{stem}.tsv starts with Tesseract's 12 column names", rows[:1])
    t.check(all(len(r) == 12 for r in rows), f"{stem}.tsv: every row has 12 columns")
    tsv_words = [r for r in rows[1:] if r[0] == "5"]
    t.check(sorted({int(r[1]) for r in tsv_words}) == list(range(1, n + 1)),
            f"{stem}.tsv has level-5 word rows on pages 1-{n}")

    pdf = out / f"{stem}.pdf"
    info = h.run_cmd(["pdfinfo", str(pdf)])
    m = re.search(r"^Pages:\s+(\d+)", info.stdout, re.M)
    t.check(info.returncode == 0 and m and int(m.group(1)) == n,
            f"{stem}.pdf is a PDF of {n} pages", info.stdout + info.stderr)
    layer = h.run_cmd(["pdftotext", str(pdf), "-"]).stdout
    rate = h.cer(text.replace("\f", " "), layer.replace("\f", " "))
    t.check(rate < MAX_CER, f"{stem}.pdf: its text layer (pdftotext) matches the OCR text,"
            f" CER {rate:.2%}", f"{h.normalize(layer)!r} vs {h.normalize(text)!r}")
    images = h.run_cmd(["pdfimages", "-list", str(pdf)]).stdout.splitlines()[2:]
    t.check(len(images) == n, f"{stem}.pdf keeps the {n} page images", images)

    words = json.loads((out / f"{stem}.words.json").read_text())
    t.check(isinstance(words.get("words"), list) and len(words.get("pages", [])) == n,
            f"{stem}.words.json: a words list and {n} pages", list(words))
    w0 = words["words"][0] if words["words"] else {}
    t.check(set(w0) == {"text", "confidence", "box", "page", "line"} and len(w0["box"]) == 4
            and 0 <= w0["confidence"] <= 100 and w0["page"] == 1 and w0["line"] == 1,
            f"{stem}.words.json: a word has text, confidence, box, page, line", w0)
    for p, part in enumerate(text.split("\f"), 1):
        joined = " ".join(w["text"] for w in words["words"] if w["page"] == p)
        t.check(h.cer(part, joined) < MAX_CER, f"{stem}.words.json page {p}: the words joined"
                " are the page's text", f"{joined!r} vs {h.normalize(part)!r}")
        lines = [w["line"] for w in words["words"] if w["page"] == p]
        t.check(lines == sorted(lines) and lines[0] == 1, f"page {p}: lines count up from 1")
    t.check(len(tsv_words) == len(words["words"]), f"{stem}: as many TSV word rows as words",
            (len(tsv_words), len(words["words"])))

    rows = artifacts(job_id)
    t.check(sorted(rows) == sorted(EXTS), f"{stem}: one ocr_artifacts row per format",
            sorted(rows))
    for fmt, ext in EXTS.items():
        row = rows.get(fmt, {})
        data = (out / f"{stem}.{ext}").read_bytes()
        t.check(row.get("content") is not None and bytes(row["content"]) == data
                and row["bytes"] == len(data) and row["error"] is None,
                f"{stem}: the {fmt} row holds the file's {len(data)} bytes")


def check_api(t, snippet):
    """POST /v1/jobs with formats; GET /v1/jobs/{id} lists the artifacts, and
    /v1/jobs/{id}/artifacts/{format} serves each with its content type."""
    api = h.start_api()
    _, key = h.api_key()
    status, _, bad = h.api_post_image(api, key, snippet.read_bytes(), "formats=hocr,docx")
    t.check(status == 400 and "formats" in bad.get("error", {}).get("message", ""),
            "POST with formats=hocr,docx: 400 naming formats", bad)
    status, _, job = h.api_post_image(api, key, snippet.read_bytes(), "formats=hocr,pdf")
    t.require(status == 202, "POST /v1/jobs?formats=hocr,pdf: 202", job)
    job_id = job["job_id"]
    h.wait_until(lambda: (h.job_row(job_id) or {}).get("status") == "succeeded",
                 what="the API job to succeed")
    status, _, body = h.api_json(api, "GET", f"/v1/jobs/{job_id}", key=key)
    arts = body.get("artifacts", {})
    t.check(status == 200 and sorted(arts) == ["hocr", "pdf"] and arts["pdf"]["stored"]
            and arts["pdf"]["href"] == f"/v1/jobs/{job_id}/artifacts/pdf",
            "GET /v1/jobs/{id} lists the hocr and pdf artifacts", body)
    rows = artifacts(job_id)
    for fmt, ctype in (("hocr", "text/html; charset=utf-8"), ("pdf", "application/pdf")):
        status, hdrs, data = h.api_request(api, "GET", f"/v1/jobs/{job_id}/artifacts/{fmt}",
                                           key=key)
        t.check(status == 200 and hdrs.get("content-type") == ctype
                and data == bytes(rows[fmt]["content"]),
                f"GET .../artifacts/{fmt}: 200, {ctype}, the stored bytes",
                (status, hdrs.get("content-type"), len(data)))
    status, _, body = h.api_json(api, "GET", f"/v1/jobs/{job_id}/artifacts/alto", key=key)
    t.check(status == 404 and body.get("error", {}).get("code") == "no_artifact",
            "GET .../artifacts/alto of a job that did not ask for it: 404 no_artifact", body)
    status, hdrs, data = h.api_request(api, "GET", f"/v1/jobs/{job_id}/artifacts/txt", key=key)
    t.check(status == 200 and h.cer(SNIPPET, data.decode()) < MAX_CER,
            "GET .../artifacts/txt is the text", (status, data[:80]))
    status, _, _ = h.api_request(api, "GET", f"/v1/jobs/{job_id}/artifacts/docx", key=key)
    t.check(status == 404, "GET .../artifacts/docx: 404", status)
    _, other = h.api_key()
    status, _, _ = h.api_request(api, "GET", f"/v1/jobs/{job_id}/artifacts/pdf", key=other)
    t.check(status == 404, "another key's GET .../artifacts/pdf: 404", status)
    body = json.dumps({"url": "http://127.0.0.1:9/x.png", "formats": ["words", "tsv"]})
    status, _, job = h.api_json(api, "POST", "/v1/jobs", body,
                                {"Content-Type": "application/json"}, key)
    t.check(status == 202, "POST JSON with \"formats\": [\"words\", \"tsv\"]: 202", job)
    t.check(h.stop_api(api) == 0, "ocrq-api exits 0 on SIGTERM")


def main(t):
    d = h.tmpdir()
    two, snippet, layer = make_inputs(d)
    conf = h.write_config({"ocr.pdf_text": "skip"})
    renderer_tmp = d / "renderer-tmp"  # where the worker's renderers write (TMPDIR)
    renderer_tmp.mkdir()
    w = h.start_worker(config=conf, environ=h.env(TMPDIR=renderer_tmp))

    out = d / "out"
    r, ids = submit(t, ["-c", conf, "--format", FORMATS, "--output", out, two, snippet])
    t.require(h.is_uuid(ids.get("two.pdf")) and h.is_uuid(ids.get("snippet.png")),
              "both inputs were submitted", r.stdout)
    t.check(sorted(p.name for p in out.iterdir()) == sorted(
        f"{s}.{e}" for s in ("two", "snippet") for e in ["txt", *EXTS.values()]),
        "--output wrote txt, hocr, xml, tsv, pdf and words.json for each input",
        sorted(p.name for p in out.iterdir()))
    check_outputs(t, out, "two", ids["two.pdf"], PAGES)
    check_outputs(t, out, "snippet", ids["snippet.png"], [SNIPPET])
    t.check(f"renderers write in {renderer_tmp}/ocrq-outputs-" in w.log_path.read_text(),
            "the renderers wrote in a private directory under $TMPDIR")
    t.check(not list(renderer_tmp.iterdir()), "and it is gone", list(renderer_tmp.iterdir()))

    # Without --format: text as before, no artifacts.
    plain_out = d / "plain"
    r, plain = submit(t, ["-c", conf, "--output", plain_out, snippet])
    t.check(sorted(p.name for p in plain_out.iterdir()) == ["snippet.txt"],
            "without --format, --output writes the text only")
    t.check(not artifacts(plain["snippet.png"]), "and the job has no ocr_artifacts rows")

    # Only some formats: only those files and rows.
    some_out = d / "some"
    r, some = submit(t, ["-c", conf, "--format", "pdf", "--output", some_out, snippet])
    t.check(sorted(p.name for p in some_out.iterdir()) == ["snippet.pdf"],
            "--format pdf writes snippet.pdf alone", sorted(p.name for p in some_out.iterdir()))
    t.check(sorted(artifacts(some["snippet.png"])) == ["pdf"], "and stores one pdf row")

    # Bad --format: a usage error, nothing submitted.
    r = h.submit(["-c", conf, "--format", "txt,docx", str(snippet)])
    t.check(r.returncode == 2 and "unknown format 'docx'" in r.stderr,
            "--format txt,docx is a usage error (exit 2) naming docx", r.stderr.strip())

    # A page with a text layer is OCRed when outputs are asked for, even under skip.
    r, lay = submit(t, ["-c", conf, "--format", "words", "--wait", layer])
    pages = h.db_query("SELECT method FROM ocr_pages WHERE job_id = %s::uuid",
                       (lay["layer.pdf"],))
    t.check([p["method"] for p in pages] == ["ocr"], "layer.pdf with --format words under"
            " pdf_text skip: its page is OCRed (method ocr)", pages)
    words = json.loads(bytes(artifacts(lay["layer.pdf"])["words"]["content"]))
    t.check(h.cer(PAGES[0], " ".join(x["text"] for x in words["words"])) < MAX_CER,
            "and its words are the page's")
    r, lay2 = submit(t, ["-c", conf, "--wait", layer])
    pages = h.db_query("SELECT method FROM ocr_pages WHERE job_id = %s::uuid",
                       (lay2["layer.pdf"],))
    t.check([p["method"] for p in pages] == ["text_layer"],
            "without --format the same PDF keeps its text layer (method text_layer)", pages)

    # The same message twice, then again after a reset to queued: one row per format.
    body, props = h.inline_job(snippet.read_bytes(), source="snippet.png",
                               formats=["hocr", "alto", "tsv", "pdf", "words"])
    job_id = props.message_id
    h.publish_raw(body, props)
    h.publish_raw(body, props)
    h.wait_until(lambda: (h.job_row(job_id) or {}).get("status") == "succeeded",
                 what="the job delivered twice to succeed")
    h.wait_until(lambda: h.queue_counts([h.JOB_QUEUE]).get(h.JOB_QUEUE) == 0,
                 what="the second copy to be taken")
    first = artifacts(job_id)
    t.check(sorted(first) == sorted(EXTS), "delivered twice: one row per format", sorted(first))
    h.db_query("UPDATE ocr_jobs SET status = 'queued' WHERE job_id = %s::uuid", (job_id,))
    h.publish_raw(body, props)
    h.wait_until(lambda: (h.job_row(job_id) or {}).get("status") == "succeeded"
                 and h.queue_counts([h.JOB_QUEUE]).get(h.JOB_QUEUE) == 0,
                 what="the job run again to succeed")
    count = h.db_query("SELECT format, count(*) AS n FROM ocr_artifacts WHERE job_id = %s::uuid"
                       " GROUP BY format", (job_id,))
    t.check(sorted(c["format"] for c in count) == sorted(EXTS) and all(c["n"] == 1 for c in count),
            "run again: still one row per format (upserted)", count)
    again = artifacts(job_id)
    t.check(all(again[f]["created_at"] > first[f]["created_at"] for f in EXTS),
            "and every row was rewritten by the second run")
    check_api(t, snippet)
    t.check(h.stop_worker(w) == 0, "worker exits 0 on SIGTERM")

    # Over artifacts.max_bytes: not stored, the reason kept, the job succeeded, submit exits 1.
    small = h.write_config({"artifacts.max_bytes": 6000})
    w = h.start_worker(config=small)
    cap_out = d / "cap"
    r, cap = submit(t, ["-c", small, "--format", "txt,hocr,pdf", "--output", cap_out, snippet],
                    expect_rc=1)
    rows = artifacts(cap["snippet.png"])
    pdf = rows.get("pdf", {})
    t.check(pdf.get("content") is None and pdf.get("bytes", 0) > 6000
            and "artifacts.max_bytes" in (pdf.get("error") or ""),
            "a PDF over artifacts.max_bytes: no content, its size and the reason",
            {k: pdf.get(k) for k in ("bytes", "error")})
    t.check(rows.get("hocr", {}).get("content") is not None, "the hOCR under the cap is stored")
    t.check(h.job_row(cap["snippet.png"])["status"] == "succeeded", "the job still succeeded")
    t.check("pdf was not stored" in r.stderr and "artifacts.max_bytes" in r.stderr,
            "ocrq-submit says the pdf was not stored, and why", r.stderr.strip())
    t.check(sorted(p.name for p in cap_out.iterdir()) == ["snippet.hocr", "snippet.txt"],
            "and writes the text and the hOCR", sorted(p.name for p in cap_out.iterdir()))
    t.check(h.stop_worker(w) == 0, "worker exits 0 on SIGTERM")


if __name__ == "__main__":
    h.run(main)
