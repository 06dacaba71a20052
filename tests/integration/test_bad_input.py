# SPDX-License-Identifier: GPL-3.0-or-later
"""Documents that cannot be read fail permanently, and the worker lives on:
with ocr.max_pixels = 1000000, a .png of random bytes fails with 'decode', a
zero-byte file with 'empty', and a 2000x2000 image with 'too_large'. Each
gets a message in ocr.failed (header x-ocrq-error-code, message_id = job_id),
the worker is still running, and a good document after them succeeds."""

import random

import harness as h

EXPECTED = {"corrupt.png": "decode", "empty.png": "empty", "huge.png": "too_large"}


def main(t):
    corrupt = h.tmpdir() / "corrupt.png"
    corrupt.write_bytes(random.Random(4711).randbytes(8192))
    empty = h.tmpdir() / "empty.png"
    empty.write_bytes(b"")
    huge = h.make_image("Too many pixels", h.tmpdir() / "huge.png", width=2000, height=2000)
    good_text = "This one is fine"
    good = h.make_image(good_text, h.tmpdir() / "good.png")

    config = h.write_config({"ocr.max_pixels": 1000000})
    w = h.start_worker(config=config)

    r = h.submit(["--wait", "--json", "-q", "-c", config, corrupt, empty, huge])
    t.check(r.returncode == 1, "ocrq-submit --wait exits 1 when jobs failed",
            f"exit {r.returncode}; stderr: {r.stderr.strip()}")
    lines = h.json_lines(r.stdout)
    by_name = {str(o.get("source", "")).rsplit("/", 1)[-1]: o for o in lines}
    for name in EXPECTED:
        o = by_name.get(name, {})
        t.check(o.get("status") == "failed" and o.get("error"),
                f"{name}: --json says failed with an error", o)
    ids = {name: by_name[name]["job_id"] for name in EXPECTED if h.is_uuid(by_name.get(name, {}).get("job_id"))}
    t.require(len(ids) == len(EXPECTED), "every bad input was submitted as a job", by_name)

    rows = {r["job_id"]: r for r in h.job_rows(ids.values())}
    for name, code in EXPECTED.items():
        row = rows.get(ids[name], {})
        t.check(row.get("status") == "failed" and row.get("error_code") == code
                and row.get("error_message"),
                f"{name}: job failed with error_code {code} and a message",
                {k: row.get(k) for k in ("status", "error_code", "error_message")})
    t.check(not h.result_rows(ids.values()), "no ocr_results rows for the failed jobs")

    # The dead-letter copy is published after the row is final: wait for all three.
    failed = {}

    def all_dead_lettered():
        for m in h.get_failed_messages():
            failed[m["message_id"]] = m
        return all(i in failed for i in ids.values())
    h.wait_until(all_dead_lettered, what="3 messages in ocr.failed")
    for name, code in EXPECTED.items():
        m = failed[ids[name]]
        t.check(m["headers"].get("x-ocrq-error-code") == code,
                f"{name}: ocr.failed message has x-ocrq-error-code {code} and message_id = job_id",
                m["headers"])
        t.check(m["headers"].get("x-ocrq-error-message"), f"{name}: x-ocrq-error-message set",
                m["headers"])
    t.check(len(failed) == len(EXPECTED), "nothing else in ocr.failed", list(failed))

    t.check(w.poll() is None, f"worker {w.pid} is still running after the bad inputs")
    r = h.submit(["--wait", "--json", "-q", "-c", config, good])
    lines = h.json_lines(r.stdout)
    t.check(r.returncode == 0 and lines and lines[0].get("status") == "succeeded",
            "a good document after them succeeds", f"exit {r.returncode}: {r.stdout} {r.stderr}")
    if lines and h.is_uuid(lines[0].get("job_id")):
        res = h.result_rows([lines[0]["job_id"]])
        t.check(res and h.cer(good_text, res[0]["text"]) < 0.1, "and its text is right",
                res and res[0]["text"])
    t.check(h.stop_worker(w) == 0, "worker exits 0 on SIGTERM")


if __name__ == "__main__":
    h.run(main)
