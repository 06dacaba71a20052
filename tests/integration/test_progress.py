# SPDX-License-Identifier: GPL-3.0-or-later
"""Progress by page (docs/documents.md).

A 4-page scanned PDF of full A4 pages: while its job runs, pages_done
counts up (seen at a value between 1 and 3 with status running), each page
done has its ocr_pages row already, `ocrq-admin status --json` counts the
running job's pages, and `ocrq-submit --wait` on a terminal shows
"N/4 pages" on its progress line. At the end pages_total = pages_done = 4.
A 3-page TIFF whose third page is over ocr.max_pixels fails on that page
after two pages were recorded: the failed job keeps no pages (a job has all
its pages or none) and its counts are NULL."""

import json
import os
import pty
import re
import select
import subprocess
import time

import harness as h


def make_pdf(d):
    pngs = [str(h.make_a4_page(d / f"a4-{i}.png", paragraphs=h.A4_TEXT[i:i + 3])[0])
            for i in range(4)]
    r = h.run_cmd(["img2pdf", "-s", "300dpi", *pngs, "-o", str(d / "four.pdf")], timeout=120)
    if r.returncode != 0:
        raise h.TestFailure(f"img2pdf failed: {r.stderr.strip()}")
    return d / "four.pdf"


def make_bad_tiff(d):
    small = [str(h.make_image(f"Page {n} is small", d / f"s{n}.png")) for n in (1, 2)]
    big = h.make_image("Page 3 is far too large", d / "big.png", width=3200, height=3200)
    r = h.run_cmd([h.CONVERT, *small, str(big), "-compress", "lzw", str(d / "bad.tif")])
    if r.returncode != 0:
        raise h.TestFailure(f"convert to TIFF failed: {r.stderr.strip()}")
    return d / "bad.tif"


def pages_deleted():
    return h.db_query("SELECT n_tup_del FROM pg_stat_user_tables"
                      " WHERE relname = 'ocr_pages'")[0]["n_tup_del"]


def submit_on_tty(config, path):
    """ocrq-submit --wait with stderr on a pseudo-terminal; returns (Popen, master fd)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([str(h.SUBMIT), "--wait", "--json", "-c", str(config), str(path)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
                         env=h.env())
    os.close(slave)
    return p, master


def read_available(fd):
    out = b""
    while select.select([fd], [], [], 0)[0]:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    return out


def main(t):
    d = h.tmpdir()
    pdf = make_pdf(d)
    conf = h.write_config({"ocr.max_pixels": 9000000})  # an A4 page at 300 dpi is 8.7 million
    w = h.start_worker(config=conf)

    p, master = submit_on_tty(conf, pdf)
    seen, admin_seen, tty = [], [], b""
    rows_when_running = []
    deadline = time.monotonic() + h.WAIT_TIMEOUT_S
    while p.poll() is None and time.monotonic() < deadline:
        tty += read_available(master)
        rows = h.db_query("SELECT job_id::text, status, pages_done, pages_total FROM ocr_jobs")
        for r in rows:
            if r["status"] == "running" and r["pages_done"]:
                seen.append((r["pages_done"], r["pages_total"]))
                n = h.db_query("SELECT count(*) AS n FROM ocr_pages WHERE job_id = %s::uuid",
                               (r["job_id"],))[0]["n"]
                rows_when_running.append((r["pages_done"], n))
                if len(admin_seen) < 2:
                    s = h.admin(["status", "--json"])
                    if s.returncode == 0:
                        admin_seen.append(json.loads(s.stdout)["jobs"]["pages"])
        time.sleep(0.1)
    out, _ = p.communicate(timeout=60)
    tty += read_available(master)
    os.close(master)
    text = tty.decode(errors="replace")
    t.check(p.returncode == 0, "ocrq-submit --wait on a terminal exits 0", p.returncode)
    job = h.json_lines(out.decode())[0]["job_id"]
    t.check(any(1 <= done <= 3 and total == 4 for done, total in seen),
            "pages_done counts up while the job runs (seen between 1 and 3 of 4)", seen)
    t.check(rows_when_running and all(n >= done for done, n in rows_when_running),
            "each page done already has its ocr_pages row", rows_when_running)
    t.check(any(a["running_total"] == 4 and 1 <= a["running_done"] <= 3 for a in admin_seen),
            "ocrq-admin status --json counts the running job's pages", admin_seen)
    shown = sorted(set(re.findall(r"(\d+)/4 pages", text)))
    t.check("4" in shown and len(shown) >= 2,
            "the --wait progress line counts the pages up to 4/4", shown or text[-300:])
    row = h.job_row(job)
    t.check(row["status"] == "succeeded" and row["pages_total"] == 4 and row["pages_done"] == 4,
            "the job succeeds with pages_total = pages_done = 4",
            {k: row[k] for k in ("status", "pages_total", "pages_done", "error_message")})
    n = h.db_query("SELECT count(*) AS n FROM ocr_pages WHERE job_id = %s::uuid", (job,))[0]["n"]
    t.check(n == 4, "and exactly 4 page rows", n)
    s = h.admin(["status"])
    t.check(s.returncode == 0 and re.search(r"PAGES\s+done\s+4\b", s.stdout),
            "ocrq-admin status shows the pages done", s.stdout[-200:])

    bad = make_bad_tiff(d)
    deleted = pages_deleted()
    r = h.submit(["--wait", "--json", "-q", "-c", conf, str(bad)])
    job = h.json_lines(r.stdout)[0]["job_id"]
    row = h.job_row(job)
    t.check(row["status"] == "failed" and row["error_code"] == "too_large",
            "a TIFF whose third page is too large fails with too_large",
            {k: row[k] for k in ("status", "error_code", "error_message")})
    try:  # the statistics reach pg_stat a moment after the transaction
        h.wait_until(lambda: pages_deleted() >= deleted + 2, timeout=30,
                     what="2 ocr_pages rows deleted")
        dropped = True
    except h.TestFailure:
        dropped = False
    t.check(dropped and "could not record the progress" not in h.log_text(w),
            "its first two pages were recorded as they were done, and dropped with the failure",
            (deleted, pages_deleted()))
    n = h.db_query("SELECT count(*) AS n FROM ocr_pages WHERE job_id = %s::uuid", (job,))[0]["n"]
    t.check(n == 0 and row["pages_done"] is None and row["pages_total"] is None,
            "the failed job keeps none of the pages recorded before (and no counts)",
            (n, row["pages_done"], row["pages_total"]))
    t.check(h.stop_worker(w) == 0, "worker exits 0 on SIGTERM")


if __name__ == "__main__":
    h.run(main)
