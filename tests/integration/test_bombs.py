# SPDX-License-Identifier: GPL-3.0-or-later
"""The bomb corpus (issue 14): one decompression bomb or lying header per
supported format, each a few bytes to a few MB that would take gigabytes, or
forever, if believed:

  PNG, JPEG, BMP, PNM, TIFF, WebP: headers that say 60000x60000 or so;
  GIF: a 1x1 screen with one 30000x30000 frame;
  JPEG 2000: a decoy "ihdr" of 1x1 before a 20000x20000 codestream;
  TIFF: 10,001 pages (one more than ocr.max_pages);
  PDF: a page with a 200000-point MediaBox; a PDF with 100,000 pages.

Each is submitted to one worker with one OCR process and the default limits.
Each must end `failed` with the error code its limit gives (too_large or
too_many_pages; a WebP whose header Leptonica will not read may be decode),
with a copy in ocr.failed; the OCR process must be the same one throughout
(nothing crashed), its peak resident memory (VmHWM) must stay under
MAX_RSS_MB, and a normal job after them must succeed. The peak is printed."""

import struct
import subprocess
import zlib

import harness as h

MAX_RSS_MB = 512  # measured 2026-12-03: the OCR process peaked at 45 MB over these bombs


def magick(path, fmt):
    subprocess.run(["convert", "-size", "16x8", "xc:white", f"{fmt}:{path}"], check=True)
    return bytearray(path.read_bytes())


def png_bomb(d):
    b = magick(d / "t.png", "png")
    ihdr = bytearray(b[12:29])  # type + 13 bytes of IHDR
    ihdr[4:12] = struct.pack(">II", 60000, 60000)
    b[12:29] = ihdr
    b[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(b)


def jpeg_bomb(d):
    b = magick(d / "t.jpg", "jpg")
    i = b.find(b"\xff\xc0")
    if i < 0:
        i = b.find(b"\xff\xc2")
    b[i + 5:i + 9] = struct.pack(">HH", 65000, 65000)  # height, width
    return bytes(b)


def bmp_bomb(d):
    b = magick(d / "t.bmp", "bmp")
    b[18:26] = struct.pack("<ii", 60000, 60000)
    return bytes(b)


def pnm_bomb(_d):
    return b"P5\n60000 60000\n255\n" + b"\0" * 64


def tiff_bomb(d):
    b = magick(d / "t.tif", "tiff")
    le = b[:2] == b"II"
    e = "<" if le else ">"
    off = struct.unpack(e + "I", b[4:8])[0]
    n = struct.unpack(e + "H", b[off:off + 2])[0]
    for k in range(n):
        at = off + 2 + 12 * k
        tag, typ = struct.unpack(e + "HH", b[at:at + 4])
        if tag in (256, 257):  # ImageWidth, ImageLength
            if typ == 3:
                b[at + 8:at + 10] = struct.pack(e + "H", 60000)
            else:
                b[at + 8:at + 12] = struct.pack(e + "I", 60000)
    return bytes(b)


def tiff_pages_bomb(_d, pages=10001):
    out = bytearray(b"II*\0" + struct.pack("<I", 8))
    for k in range(pages):  # empty directories, chained
        nxt = 8 + 6 * (k + 1) if k + 1 < pages else 0
        out += struct.pack("<HI", 0, nxt)
    return bytes(out)


def gif_bomb(_d):
    g = bytearray(b"GIF89a" + struct.pack("<HH", 1, 1) + b"\0\0\0")
    g += b"\x2c" + struct.pack("<HHHH", 0, 0, 30000, 30000) + b"\0"
    g += b"\x02\x02\x4c\x01\x00\x3b"
    return bytes(g)


def webp_bomb(_d):
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\0\0\0\0" + (16383).to_bytes(3, "little") * 2
    return b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x


def jp2_bomb(_d):
    def box(t, body):
        return struct.pack(">I", 8 + len(body)) + t + body
    decoy = b"ihdr" + struct.pack(">II", 1, 1) + b"\0\x01\x07\x07\0\0"
    ihdr = box(b"ihdr", struct.pack(">II", 20000, 20000) + b"\0\x01\x07\x07\0\0")
    siz = b"\xff\x4f\xff\x51" + struct.pack(">HH", 41, 0) + struct.pack(">IIII", 20000, 20000,
                                                                         0, 0) + b"\0" * 16
    return (box(b"jP  ", b"\r\n\x87\n") + box(b"ftyp", b"jp2 \0\0\0\0jp2 ")
            + box(b"uuid", decoy) + box(b"jp2h", ihdr) + box(b"jp2c", siz))


def pdf(objs):
    """A PDF of these objects (1-based), with a correct xref."""
    out, offs = bytearray(b"%PDF-1.4\n"), []
    for i, o in enumerate(objs, 1):
        offs.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    x = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offs)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, x)
    return bytes(out)


def pdf_mediabox_bomb(_d):
    return pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200000 200000] >>"])


def pdf_pages_bomb(_d, pages=100000):
    kids = b" ".join(b"%d 0 R" % (3 + k) for k in range(pages))
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages]
    objs += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>"] * pages
    return pdf(objs)


BOMBS = [  # name, maker, file name, error codes accepted
    ("png 60000x60000", png_bomb, "bomb.png", {"too_large"}),
    ("jpeg 65000x65000", jpeg_bomb, "bomb.jpg", {"too_large"}),
    ("bmp 60000x60000", bmp_bomb, "bomb.bmp", {"too_large"}),
    ("pnm 60000x60000", pnm_bomb, "bomb.pgm", {"too_large"}),
    ("tiff 60000x60000", tiff_bomb, "bomb.tif", {"too_large"}),
    ("tiff 10001 pages", tiff_pages_bomb, "pages.tif", {"too_many_pages"}),
    ("gif frame 30000x30000 on a 1x1 screen", gif_bomb, "bomb.gif", {"too_large"}),
    ("webp canvas 16384x16384", webp_bomb, "bomb.webp", {"too_large", "decode"}),
    ("jp2 decoy ihdr, 20000x20000 codestream", jp2_bomb, "bomb.jp2", {"too_large"}),
    ("pdf MediaBox 200000 pt", pdf_mediabox_bomb, "mediabox.pdf", {"too_large"}),
    ("pdf 100000 pages", pdf_pages_bomb, "pages.pdf", {"too_many_pages"}),
]


def main(t):
    d = h.tmpdir()
    files = []
    for name, make, fname, _ in BOMBS:
        p = d / fname
        p.write_bytes(make(d))
        files.append(p)
    w = h.start_worker(h.fleet_config({"worker.processes": 1}))
    kid = h.wait_children(w, 1)
    lines = h.submit_json([str(p) for p in files])
    by_source = {o["source"]: o["job_id"] for o in lines}  # not in input order: the big one
    ids = [by_source.get(str(p)) for p in files]              # goes through the store
    t.require(None not in ids and len(set(ids)) == len(BOMBS), f"{len(BOMBS)} bombs submitted",
              lines)
    rows = {r["job_id"]: r for r in h.wait_finished(ids, timeout=300)}
    for (name, _, fname, codes), job in zip(BOMBS, ids):
        r = rows[job]
        t.check(r["status"] == "failed" and r["error_code"] in codes,
                f"{name} ({(d / fname).stat().st_size} bytes): failed, {r['error_code']}",
                (r["status"], r["error_code"], r["error_message"]))
    # the copy is published once the failure is recorded: it may come a moment after the row
    dead = set()

    def not_dead():
        dead.update(m["message_id"] for m in h.get_failed_messages())
        return sorted(set(ids) - dead)
    h.check_eventually(t, not_dead, "every bomb's message is in ocr.failed (the detail: the"
                       " jobs whose message is not)", ok=lambda missing: not missing, timeout=60)
    t.check(w.poll() is None and h.worker_children(w) == kid,
            "the same OCR process served them all: nothing crashed",
            f"{kid} -> {h.worker_children(w)}")
    hwm = int(h.proc_status(kid[0])["VmHWM"].split()[0]) // 1024
    print(f"peak resident memory of the OCR process: {hwm} MB", flush=True)
    t.check(hwm < MAX_RSS_MB, f"its peak resident memory stayed under {MAX_RSS_MB} MB ({hwm} MB)",
            hwm)
    img = h.make_image("After the bombs", d / "ok.png")
    ok = h.submit_json([str(img)])[0]["job_id"]
    h.check_succeeded_once(t, [ok])


if __name__ == "__main__":
    h.run(main)
