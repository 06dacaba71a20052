# SPDX-License-Identifier: GPL-3.0-or-later
"""Recognized text: five generated images and the three bundled samples go
through ocrq-submit --wait --output --json and one worker; every job succeeds,
each input gets DIR/<name>.txt with its text (CER < 2%), the --json lines are
well formed, and each job has one ocr_results row."""

import harness as h

SNIPPETS = {
    "order-line": "Order 4417 shipped to Leeds on 12 May",
    "address": "Harbour Street 27\nBristol BS1 4QA\nUnited Kingdom",
    "notice": "Please keep this receipt\nfor your records",
    "numbers": "Reference 90210 paid 345.67 EUR",
    "sentence": "The quick brown fox jumps over the lazy dog",
}
MAX_CER = 0.02


def check_json(t, lines, inputs):
    t.check(len(lines) == len(inputs), f"--json printed one line per input ({len(inputs)})",
            f"got {len(lines)} lines")
    by_source = {}
    for obj in lines:
        ok = (h.is_uuid(obj.get("job_id")) and isinstance(obj.get("source"), str)
              and obj.get("status") in ("succeeded", "failed", "error"))
        t.check(ok, f"--json line has job_id, source and status: {obj.get('source')}", obj)
        by_source[str(obj.get("source", "")).rsplit("/", 1)[-1]] = obj
    for path in inputs:
        obj = by_source.get(path.name)
        t.check(obj is not None and obj.get("status") == "succeeded",
                f"{path.name}: --json status succeeded", obj)
    return [o["job_id"] for o in lines if h.is_uuid(o.get("job_id"))]


def main(t):
    out = h.tmpdir() / "out"
    cases = []  # (input path, language, expected text)
    for name, text in SNIPPETS.items():
        cases.append((h.make_image(text, h.tmpdir() / f"{name}.png", width=1200), "eng", text))
    cases += h.sample_files()

    h.start_worker()
    job_ids = []
    for lang in sorted({lang for _, lang, _ in cases}):
        inputs = [p for p, l, _ in cases if l == lang]
        r = h.submit(["--wait", "--json", "-q", "--lang", lang, "--output", out, *inputs])
        t.check(r.returncode == 0, f"ocrq-submit --lang {lang} ({len(inputs)} inputs) exits 0",
                f"exit {r.returncode}; stderr: {r.stderr.strip()}")
        job_ids += check_json(t, h.json_lines(r.stdout), inputs)

    for path, lang, expected in cases:
        txt = out / (path.name[:-len(".png")] + ".txt")
        if not t.check(txt.is_file(), f"{txt.name} written for {path.name}"):
            continue
        got = txt.read_text(encoding="utf-8")
        rate = h.cer(expected, got)
        t.check(rate < MAX_CER, f"{path.name} ({lang}): CER {rate:.2%} < {MAX_CER:.0%}",
                f"expected {h.normalize(expected)!r}, got {h.normalize(got)!r}")
    extra = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    t.check(len(extra) == len(cases), f"exactly {len(cases)} files in the output directory", extra)

    rows = h.job_rows(job_ids)
    t.check(len(rows) == len(cases) and all(r["status"] == "succeeded" for r in rows),
            f"all {len(cases)} jobs succeeded in ocr_jobs",
            [(r["source"], r["status"], r["error_code"]) for r in rows])
    results = h.result_rows(job_ids)
    t.check(sorted(r["job_id"] for r in results) == sorted(job_ids),
            "exactly one ocr_results row per job", f"{len(results)} rows for {len(job_ids)} jobs")
    deu = [r for r in rows if r["source"] and r["source"].endswith(".deu.png")]
    t.check(deu and all(r["language"] == "deu" for r in deu), "German sample recorded with language deu",
            [(r["source"], r["language"]) for r in deu])


if __name__ == "__main__":
    h.run(main)
