# SPDX-License-Identifier: GPL-3.0-or-later
"""Documents of many pages for the page-task tests (test_pages_*.py), made at
test time: small pages (a line or a few of known text each) so that hundreds
of them OCR in seconds, as a PDF (img2pdf; qpdf adds an attachment of random
bytes where a test needs a document over some size) or a multi-page TIFF, and
a TIFF with one page broken on purpose."""

import os
import struct
import subprocess
from pathlib import Path

import harness as h


def page_text(n, lines=1):
    """The text of page n: its number first, so that the page can be found."""
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    out = [f"Page {n} of the long document"]
    for i in range(1, lines):
        out.append(f"line {i} {words[(n + i) % len(words)]} {words[(n * i) % len(words)]} text")
    return "\n".join(out)


def page_images(n, stem="page", lines=1, width=1000, pointsize=36):
    """n page images (PNG, 300 dpi) in the test's temp dir, page k showing
    page_text(k, lines); drawn as a few tall images and cut, so that it takes
    a few ImageMagick runs however large n is. Returns the paths in page order."""
    line_h = int(pointsize * 1.6)
    page_h = 60 + lines * line_h
    d = h.tmpdir() / f"{stem}-pages"
    d.mkdir(exist_ok=True)
    per = max(1, 8000 // page_h)  # ImageMagick's policy caps an image's height
    for first in range(1, n + 1, per):
        count = min(per, n - first + 1)
        tall = d / "tall.png"
        args = ["-size", f"{width}x{page_h * count}", "xc:white", "-font", h.FONT,
                "-pointsize", str(pointsize), "-fill", "black"]
        for k in range(first, first + count):
            args += ["-annotate", f"+40+{(k - first) * page_h + 30 + pointsize}",
                     page_text(k, lines)]
        h._convert(args, tall)
        subprocess.run([h.CONVERT, str(tall), "-crop", f"{width}x{page_h}", "+repage",
                        "-units", "PixelsPerInch", "-density", "300", "-scene", str(first),
                        str(d / f"{stem}-%04d.png")], check=True, capture_output=True)
        tall.unlink()
    pages = sorted(d.glob(f"{stem}-*.png"))
    if len(pages) != n:
        raise h.TestFailure(f"made {len(pages)} page images, wanted {n}")
    return pages


def pdf_of(pngs, out, attachment_bytes=0):
    """A PDF of the images, one per page (img2pdf); with attachment_bytes, an
    attachment of that many random bytes (qpdf) makes it that much larger."""
    out = Path(out)
    plain = out.with_suffix(".plain.pdf") if attachment_bytes else out
    subprocess.run(["img2pdf", *map(str, pngs), "-o", str(plain)], check=True,
                   capture_output=True)
    if attachment_bytes:
        blob = out.with_suffix(".bin")
        with open(blob, "wb") as f:
            left = attachment_bytes
            while left > 0:
                chunk = min(left, 1 << 20)
                f.write(os.urandom(chunk))
                left -= chunk
        subprocess.run(["qpdf", str(plain), "--add-attachment", str(blob), "--", str(out)],
                       check=True, capture_output=True)
        plain.unlink()
        blob.unlink()
    return out


def tiff_of(pngs, out):
    """A multi-page TIFF of the images (one ImageMagick run)."""
    subprocess.run([h.CONVERT, *map(str, pngs), "-compress", "lzw", str(out)], check=True,
                   capture_output=True)
    return Path(out)


def break_tiff_page(path, page_no):
    """Point the strips of page page_no (1-based) of the TIFF at path past the
    end of the file, so that the page's header reads but its pixels cannot be
    decoded: a corrupt page in an otherwise good document."""
    data = bytearray(Path(path).read_bytes())
    le = data[:2] == b"II"
    e = "<" if le else ">"
    off = struct.unpack(e + "I", data[4:8])[0]
    for k in range(1, page_no + 1):
        n = struct.unpack(e + "H", data[off:off + 2])[0]
        if k == page_no:
            for i in range(n):
                ent = off + 2 + 12 * i
                tag, typ, count = struct.unpack(e + "HHI", data[ent:ent + 8])
                if tag == 273:  # StripOffsets
                    bad = len(data) + 1_000_000
                    if count == 1:
                        fmt = e + ("H" if typ == 3 else "I")
                        data[ent + 8:ent + 8 + struct.calcsize(fmt)] = struct.pack(fmt, bad)
                    else:
                        at = struct.unpack(e + "I", data[ent + 8:ent + 12])[0]
                        size = 2 if typ == 3 else 4
                        for j in range(count):
                            data[at + j * size:at + (j + 1) * size] = struct.pack(
                                e + ("H" if typ == 3 else "I"), min(bad, 0xFFFF if typ == 3 else bad))
                    Path(path).write_bytes(bytes(data))
                    return
            raise h.TestFailure(f"page {page_no} of {path} has no StripOffsets")
        off = struct.unpack(e + "I", data[off + 2 + 12 * n:off + 6 + 12 * n])[0]
    raise h.TestFailure(f"{path} has fewer than {page_no} pages")


def pages_in_order(text, n):
    """The problems of a document's text against page_text(): the pages (form
    feed separated) must be n, page k starting with "Page k". [] when right."""
    pages = text.split("\f")
    bad = []
    if len(pages) != n:
        bad.append(f"{len(pages)} pages in the text, expected {n}")
    for k, p in enumerate(pages[:n], 1):
        if f"Page {k} of" not in p:
            bad.append(f"page {k}: {p.strip()[:60]!r}")
    return bad


def page_rows(job_id):
    """ocr_pages of job_id: [{page_no, text}] in order."""
    return h.db_query("SELECT page_no, text FROM ocr_pages WHERE job_id = %s ORDER BY page_no",
                      (job_id,))


def task_rows(job_id):
    """ocr_page_tasks of job_id: {page_no: (attempts, started_at)}."""
    return {r["page_no"]: (r["attempts"], r["started_at"]) for r in h.db_query(
        "SELECT page_no, attempts, started_at FROM ocr_page_tasks WHERE job_id = %s", (job_id,))}


def stored_documents(job_id):
    """Document blobs of job_id still in the store."""
    return h.db_query("SELECT count(*) AS n FROM ocr_blobs WHERE job_id = %s"
                      " AND kind = 'document'", (job_id,))[0]["n"]
