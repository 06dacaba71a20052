"""The OCR process under valgrind's memcheck: three jobs (inline, by path,
and a corrupt one that fails) go through `ocrq-worker --no-supervisor
--max-jobs 3`, which must then exit 0 with no memory errors and no leaked
block (definitely or indirectly lost) of its own or its libraries'.

OMP_THREAD_LIMIT is set beforehand so that the worker does not re-execute
itself (under valgrind /proc/self/exe is valgrind's own tool). The ctest
label `valgrind` keeps this test out of the AddressSanitizer run."""

import re
import shutil

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
    t.require(len(ids) == 3, "three jobs queued", ids)

    log = h.tmpdir() / "valgrind.log"
    r = h.run_cmd([VALGRIND, "--leak-check=full", "--show-leak-kinds=definite,indirect",
                   "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99",
                   f"--log-file={log}", h.WORKER, "-c", conf, "--no-supervisor",
                   "--max-jobs", "3", "--name", "valgrind"],
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


if __name__ == "__main__":
    h.run(main)
