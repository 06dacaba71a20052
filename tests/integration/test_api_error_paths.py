# SPDX-License-Identifier: GPL-3.0-or-later
"""ocrq-api's error paths for names it cannot use (issue 14, finding 10):
every answer is a JSON error with the right status, none is a 500 "out of
memory" or a 503 "database unavailable", and nothing is logged as an error.

* GET /v1/batches/%FF (not UTF-8): 400 invalid_parameter.
* GET /v1/jobs/%FF, /v1/jobs/not-a-uuid/text, DELETE /v1/jobs/nope: 404
  not_found, without asking the database.
* GET /v1/batches/<30 three-byte characters> (valid, absent): 404, with the
  name cut in its message at a character boundary, not inside one.
* POST /v1/jobs?batch=%FF: 400 invalid_parameter; nothing recorded.
* api.max_buffered_bytes (finding 7): with a ceiling of 1 MiB, a 1.5 MiB
  body that would be kept in memory is answered 503 server_busy, and small
  uploads after it are accepted (what it held was given back).
* An unknown key id, asked twice, and a known id with a wrong secret get
  the same 401 answer (finding 6: the answer does not tell which ids exist).
* The API's log holds no ERROR line from any of these."""

import json

import harness as h


def main(t):
    api = h.start_api({"api.rate_limit_per_s": 0})
    _, key = h.api_key()
    img = h.make_image("Error paths 1234", h.tmpdir() / "e.png").read_bytes()

    def answer(method, path, body=None, headers=None):
        st, hd, raw = h.api_request(api, method, path, body, headers, key)
        try:
            obj = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            obj = None
        return st, obj

    cases = [
        ("GET", "/v1/batches/%FF", 400, "invalid_parameter"),
        ("GET", "/v1/batches/ab%FFcd", 400, "invalid_parameter"),
        ("GET", "/v1/jobs/%FF", 404, "not_found"),
        ("GET", "/v1/jobs/not-a-uuid/text", 404, "not_found"),
        ("GET", "/v1/jobs/%FF%FE/artifacts/hocr", 404, "not_found"),
        ("DELETE", "/v1/jobs/nope", 404, "not_found"),
        ("GET", "/v1/batches/" + "%E2%82%AC" * 30, 404, "not_found"),
    ]
    for method, path, want, code in cases:
        st, obj = answer(method, path)
        t.check(st == want and obj and obj.get("error", {}).get("code") == code,
                f"{method} {path[:40]}: {want} {code}, as JSON", (st, obj))
    rows_before = len(h.db_query("SELECT 1 FROM ocr_jobs"))
    st, obj = answer("POST", "/v1/jobs?batch=%FF", img, {"Content-Type": "image/png"})
    t.check(st == 400 and obj and obj["error"]["code"] == "invalid_parameter",
            "POST with a batch that is not UTF-8: 400 invalid_parameter", (st, obj))
    t.check(len(h.db_query("SELECT 1 FROM ocr_jobs")) == rows_before, "nothing recorded")

    # finding 6: an unknown key id and a known id with a wrong secret are answered alike
    unknown = "ocrq_" + "Z" * 10 + key[15:]
    wrong = key[:16] + ("A" if key[16] != "A" else "B") + key[17:]  # the secret changed
    answers = {}
    for name, k in (("unknown", unknown), ("wrong", wrong), ("unknown again", unknown)):
        st, _, raw = h.api_request(api, "GET", "/v1/batches/x", key=k)
        answers[name] = (st, raw)
    t.check(answers["unknown"] == answers["wrong"] == answers["unknown again"]
            and answers["unknown"][0] == 401,
            "an unknown key id and a wrong secret get the same 401", answers)
    h.stop_api(api)
    errors = [ln for ln in api.log_path.read_text(errors="replace").splitlines()
              if " ERROR " in ln]
    t.check(not errors, "no ERROR in the API's log", errors[:3])

    # finding 7: bodies in memory have a ceiling (api.max_buffered_bytes), and it is given back
    api = h.start_api({"api.rate_limit_per_s": 0, "api.max_buffered_bytes": 1024 * 1024,
                       "documents.inline_max_bytes": 8 * 1024 * 1024})
    big = img + b"\0" * (1536 * 1024)  # a PNG with trailing bytes: 1.5 MiB, kept in memory
    st, hd, raw = h.api_request(api, "POST", "/v1/jobs", big, {"Content-Type": "image/png"}, key)
    obj = json.loads(raw.decode()) if raw else {}
    t.check(st == 503 and obj.get("error", {}).get("code") == "server_busy"
            and hd.get("retry-after", "").isdigit(),
            "a body past api.max_buffered_bytes: 503 server_busy with Retry-After", (st, obj))
    # the refused body's memory is given back when its request ends, which may be just
    # after the client read the 503: the first small upload may still find it held
    first = []
    h.wait_until(lambda: first.append(h.api_post_image(api, key, img)) or first[-1][0] == 202,
                 what="a small upload accepted after the refused body")
    t.check(first[-1][0] == 202 and all(a[0] in (202, 503) for a in first),
            "a small upload after it is accepted: the memory was given back",
            [a[0] for a in first])
    for i in range(2):
        st, _, obj = h.api_post_image(api, key, img)
        t.check(st == 202, f"and the next one too ({i + 1})", (st, obj))
    h.stop_api(api)


if __name__ == "__main__":
    h.run(main)
