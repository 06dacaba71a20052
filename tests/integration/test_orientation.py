# SPDX-License-Identifier: GPL-3.0-or-later
"""Orientation and skew (ocr.auto_rotate, ocr.deskew; docs/documents.md).

A full A4 page of known text (OSD needs a page of text, not a snippet),
turned 90 and 180 degrees clockwise with ImageMagick, and one turned 3
degrees. With auto_rotate on, both turned pages give the right text (CER
under 2%) and ocr_pages.rotation says how far each was turned back (270 and
180). With it off the upside-down page gives garbage and rotation 0: the
check can fail. With deskew on, the page 3 degrees askew reports a skew of
about -3 degrees (turned back counter-clockwise) and the right text."""

import harness as h

MAX_CER = 0.02


def submit(t, config, paths):
    r = h.submit(["--wait", "--json", "-q", "-c", config, *map(str, paths)])
    t.check(r.returncode == 0, f"ocrq-submit {len(paths)} pages exits 0",
            f"exit {r.returncode}; stderr: {r.stderr.strip()}")
    by_name = {str(o.get("source", "")).rsplit("/", 1)[-1]: o["job_id"]
               for o in h.json_lines(r.stdout)}
    t.require(all(p.name in by_name for p in paths), "every page was submitted", by_name)
    return by_name


def page(job_id):
    rows = h.db_query("SELECT text, rotation, skew, width, height FROM ocr_pages"
                      " WHERE job_id = %s::uuid", (job_id,))
    if len(rows) != 1:
        raise h.TestFailure(f"job {job_id}: {len(rows)} page rows")
    return rows[0]


def turned(src, path, degrees):
    r = h.run_cmd([h.CONVERT, str(src), "-background", "white", "-rotate", str(degrees),
                   str(path)], timeout=120)
    if r.returncode != 0:
        raise h.TestFailure(f"convert -rotate {degrees} failed: {r.stderr.strip()}")
    return path


def main(t):
    d = h.tmpdir()
    a4, text = h.make_a4_page(d / "upright.png")
    r90 = turned(a4, d / "turned90.png", 90)
    r180 = turned(a4, d / "turned180.png", 180)
    askew = turned(a4, d / "askew3.png", 3)

    on = h.write_config({"ocr.auto_rotate": True})
    w = h.start_worker(config=on)
    ids = submit(t, on, [r90, r180, a4])
    for name, want in (("turned90.png", 270), ("turned180.png", 180), ("upright.png", 0)):
        p = page(ids[name])
        rate = h.cer(text, p["text"])
        t.check(rate < MAX_CER, f"auto_rotate: {name}: CER {rate:.2%} < {MAX_CER:.0%}",
                h.normalize(p["text"])[:120])
        t.check(p["rotation"] == want, f"auto_rotate: {name}: rotation {want}", p["rotation"])
    p = page(ids["turned90.png"])
    t.check((p["width"], p["height"]) == (h.A4_WIDTH, h.A4_HEIGHT),
            "the page turned back is OCRed upright (width and height of the upright page)",
            (p["width"], p["height"]))
    t.check(h.stop_worker(w) == 0, "worker exits 0 on SIGTERM")

    off = h.write_config({"ocr.auto_rotate": False})
    w = h.start_worker(config=off)
    ids = submit(t, off, [r180])
    p = page(ids["turned180.png"])
    rate = h.cer(text, p["text"])
    t.check(rate > 0.5 and p["rotation"] == 0,
            f"auto_rotate off: the upside-down page is garbage (CER {rate:.0%}), rotation 0")
    t.check(h.stop_worker(w) == 0, "worker exits 0 on SIGTERM")

    skew = h.write_config({"ocr.deskew": True})
    w = h.start_worker(config=skew)
    ids = submit(t, skew, [askew, a4])
    p = page(ids["askew3.png"])
    rate = h.cer(text, p["text"])
    t.check(-3.5 < p["skew"] < -2.5 and p["rotation"] == 0,
            "deskew: a page 3 degrees askew is turned back about 3 degrees", p["skew"])
    t.check(rate < MAX_CER, f"deskew: and its text is right (CER {rate:.2%})")
    p = page(ids["upright.png"])
    t.check(abs(p["skew"]) < 0.5, "deskew: a straight page is left (about) as it is", p["skew"])
    t.check(h.stop_worker(w) == 0, "worker exits 0 on SIGTERM")


if __name__ == "__main__":
    h.run(main)
