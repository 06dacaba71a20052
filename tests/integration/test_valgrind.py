# SPDX-License-Identifier: GPL-3.0-or-later
"""The OCR process under valgrind's memcheck: three jobs (inline, by path,
and a corrupt one that fails) and a 3-page PDF asking for a searchable PDF,
hOCR and the word list (split into page tasks: the document stored, each
page read from the store, the outputs assembled with qpdf; 1 + 3 messages)
go through `ocrq-worker --no-supervisor --max-jobs 7`, which must then exit
0 with no memory errors and no leaked block (definitely or indirectly lost)
of its own or its libraries'.

OMP_THREAD_LIMIT is set beforehand so that the worker does not re-execute
itself (under valgrind /proc/self/exe is valgrind's own tool). The ctest
label `valgrind` keeps this test out of the AddressSanitizer run."""

import re
import shutil

import bigdoc
import harness as h

VALGRIND = shutil.which("valgrind") or "/usr/bin/valgrind"


def main(t):
    t.require(shutil.which("valgrind") is not None, "valgrind is installed (scripts/install-deps)")
    root = h.tmpdir() / "docs"
    root.mkdir()
    conf = h.write_config({"documents.file_roots": [str(root)]})
    good = h.make_image("Valgrind sees no leak", root / "inline.png")
    by_path = h.make_image("Nothing is lost here", root / "bypath.png")
    bad = root / "corrupt.png"
    bad.write_bytes(good.read_bytes()[:200])

    ids = []
    for args in ([good], ["--by-path", by_path], [bad]):
        lines = h.submit_json(["-c", conf, *args])
        ids += [o["job_id"] for o in lines]
    pdf = bigdoc.pdf_of(bigdoc.page_images(3, stem="vg"), h.tmpdir() / "three.pdf")
    doc = h.submit_json(["-c", conf, "--format", "pdf,hocr,words", pdf])[0]["job_id"]
    t.require(len(ids) == 3, "three jobs queued", ids)

    log = h.tmpdir() / "valgrind.log"
    r = h.run_cmd([VALGRIND, "--leak-check=full", "--show-leak-kinds=definite,indirect",
                   "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99",
                   f"--log-file={log}", h.WORKER, "-c", conf, "--no-supervisor",
                   "--max-jobs", "7", "--name", "valgrind"],
                  environ=h.env(OMP_THREAD_LIMIT=1), timeout=600)
    report = log.read_text(errors="replace")
    summary = "\n".join(line for line in report.splitlines()
                        if re.search(r"ERROR SUMMARY|lost:|reachable:", line))
    t.check(r.returncode == 0, "the worker exits 0 under memcheck (99: errors or leaks)",
            f"exit {r.returncode}\n{summary}\n{r.stderr[-2000:]}")
    t.check(re.search(r"ERROR SUMMARY: 0 errors", report) is not None, "no memory errors", summary)
    for kind in ("definitely", "indirectly"):
        m = re.search(kind + r" lost: ([\d,]+) bytes", report)
        t.check(m is None or m.group(1) == "0", f"nothing {kind} lost", summary)

    counts = h.count_by_status(ids)
    t.check(counts["succeeded"] == 2 and counts["failed"] == 1,
            "two jobs succeeded and the corrupt one failed", counts)
    row = h.job_row(doc)
    t.check(row["status"] == "succeeded" and row["pages_done"] == 3,
            "the 3-page PDF succeeded through its page tasks", (row["status"], row["pages_done"]))
    arts = h.db_query("SELECT format FROM ocr_artifacts WHERE job_id = %s ORDER BY format", (doc,))
    t.check([a["format"] for a in arts] == ["hocr", "pdf", "words"],
            "its outputs were assembled", arts)


if __name__ == "__main__":
    h.run(main)
