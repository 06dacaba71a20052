# SPDX-License-Identifier: GPL-3.0-or-later
"""OCRQ_FILE_ROOTS: documents.file_roots from the environment (docs/design.md,
"Environment"; issue 15: the roots needed a config file).

A worker whose config allows one directory (elsewhere/) runs with
OCRQ_FILE_ROOTS="<a root that does not exist>:<scans/>". The variable replaces
the list: a document submitted by path under scans/, a root given only
through the environment, succeeds with its text; one under elsewhere/ fails
with the error code path, as one outside every root does.
"""

import harness as h


def main(t):
    scans = h.tmpdir() / "scans"
    elsewhere = h.tmpdir() / "elsewhere"
    scans.mkdir()
    elsewhere.mkdir()
    inside = h.make_image("Roots from the environment", scans / "inside.png")
    replaced = h.make_image("The file's root is replaced", elsewhere / "replaced.png")

    conf = h.fleet_config({"documents.file_roots": [str(elsewhere)]})
    w = h.start_worker(conf, environ=h.env(OCRQ_FILE_ROOTS=f"/nonexistent-ocrq-root:{scans}"))
    ok = h.submit_json(["--by-path", inside])[0]["job_id"]
    refused = h.submit_json(["--by-path", replaced])[0]["job_id"]
    rows = {r["job_id"]: r for r in h.wait_finished([ok, refused])}

    t.check(rows[ok]["status"] == "succeeded",
            "a document by path under the root from OCRQ_FILE_ROOTS succeeds",
            {k: rows[ok].get(k) for k in ("status", "error_code", "error_message")})
    res = h.result_rows([ok])
    t.check(len(res) == 1 and h.cer("Roots from the environment", res[0]["text"]) < 0.1,
            "its text was read from that file", [r["text"] for r in res])
    t.check(rows[refused]["status"] == "failed" and rows[refused]["error_code"] == "path",
            "under the config's root, which OCRQ_FILE_ROOTS replaced: failed with code path",
            {k: rows[refused].get(k) for k in ("status", "error_code", "error_message")})
    h.stop_worker(w)


if __name__ == "__main__":
    h.run(main)
