# SPDX-License-Identifier: GPL-3.0-or-later
"""ocrq-api against the real broker and database, every request made with curl:
every endpoint, every
client error path with its JSON error, keys (missing, malformed, unknown,
revoked, another key's job), the three POST forms recorded as ocrq-submit
records them, Idempotency-Key (one job for a repeat, 422 for another request
under the same key), the rate limit (429 with Retry-After), the body limit of
a JSON body (413, nothing recorded), and one job all the way through a worker to
GET /v1/jobs/{id}?include=text."""

import json
import time

import harness as h



def error_ok(t, status, obj, want_status, want_code, what):
    err = obj.get("error") if isinstance(obj, dict) else None
    t.check(status == want_status and isinstance(err, dict) and err.get("code") == want_code
            and isinstance(err.get("message"), str) and err["message"],
            f"{what}: {want_status} {want_code} with a message", (status, obj))


def main(t):
    img = h.make_image("Hello from the API", h.tmpdir() / "hello.png").read_bytes()
    name, key = h.api_key()
    name2, key2 = h.api_key()
    api = h.start_api({"api.max_body_bytes": 200000, "api.rate_limit_per_s": 1000,
                       "api.rate_limit_burst": 1000})

    # health, readiness, metrics need no key
    st, _, obj = h.api_json(api, "GET", "/healthz")
    t.check(st == 200 and obj.get("status") == "ok", "/healthz: 200 ok", obj)
    h.wait_until(lambda: h.api_json(api, "GET", "/readyz")[0] == 200, timeout=30,
                 what="/readyz 200")
    st, _, obj = h.api_json(api, "GET", "/readyz")
    t.check(obj == {"status": "ready", "broker": "up", "database": "up"}, "/readyz: both up", obj)

    # keys
    st, _, obj = h.api_post_image(api, None, img)
    error_ok(t, st, obj, 401, "unauthorized", "POST without a key")
    st, _, obj = h.api_json(api, "GET", "/v1/jobs/x", headers={"Authorization": "Bearer nope"})
    error_ok(t, st, obj, 401, "unauthorized", "a malformed key")
    forged = key[:16] + ("A" if key[16] != "A" else "B") + key[17:]
    st, _, obj = h.api_post_image(api, forged, img)
    error_ok(t, st, obj, 401, "unauthorized", "a known key id with a wrong secret")
    unknown = "ocrq_" + "Z" * 10 + key[15:]
    st, _, obj = h.api_post_image(api, unknown, img)
    error_ok(t, st, obj, 401, "unauthorized", "an unknown key id")

    # POST: raw image, parameters in the query
    st, hdr, obj = h.api_post_image(api, key, img, "priority=3&batch=api-b&language=eng&"
                                    "metadata=%7B%22n%22%3A1%7D&filename=hello.png")
    t.require(st == 202 and h.is_uuid(obj.get("job_id")), "raw image: 202 with a job_id",
              (st, obj))
    raw_id = obj["job_id"]
    t.check(obj.get("status") == "queued"
            and obj.get("links") == {"self": f"/v1/jobs/{raw_id}",
                                     "text": f"/v1/jobs/{raw_id}/text"},
            "202 body: status queued and links", obj)
    t.check(hdr.get("location") == f"/v1/jobs/{raw_id}", "202 has a Location header", hdr)
    row = h.job_row(raw_id)
    t.check(row and row["status"] == "queued" and row["priority"] == 3 and row["batch"] == "api-b"
            and row["metadata"] == {"n": 1} and row["source"] == "hello.png"
            and row["api_key"] == name,
            "the job is recorded queued with its parameters and its key", row)
    t.check(raw_id in h.queue_message_ids(h.JOB_QUEUE), "its message is in ocr.jobs (confirmed before 202)")

    # multipart with form fields; priority 8 goes to the priority queue
    body, ctype = h.multipart({"priority": "8", "batch": "api-b", "metadata": '{"m": true}',
                               "language": "eng+deu"}, img, filename="scan.png")
    st, _, obj = h.api_json(api, "POST", "/v1/jobs", body, {"Content-Type": ctype}, key)
    t.require(st == 202, "multipart: 202", (st, obj))
    mp_id = obj["job_id"]
    row = h.job_row(mp_id)
    t.check(row["priority"] == 8 and row["language"] == "eng+deu" and row["metadata"] == {"m": True}
            and row["source"] == "scan.png", "multipart fields are recorded", row)
    t.check(mp_id in h.queue_message_ids(h.PRIORITY_QUEUE), "priority 8 is in ocr.jobs.priority")

    # JSON {"url"}
    st, _, obj = h.api_json(api, "POST", "/v1/jobs",
                            json.dumps({"url": "http://127.0.0.1:9/page.png", "batch": "api-b",
                                        "metadata": {"k": "v"}, "priority": 2}).encode(),
                            {"Content-Type": "application/json"}, key)
    t.require(st == 202, "JSON url: 202", (st, obj))
    row = h.job_row(obj["job_id"])
    t.check(row["source"] == "http://127.0.0.1:9/page.png" and row["priority"] == 2,
            "JSON url job recorded with the URL as source", row)

    # a PDF, detected from its bytes
    pdf = h.tmpdir() / "hello.pdf"
    r = h.run_cmd(["img2pdf", str(h.tmpdir() / "hello.png"), "-o", str(pdf)])
    t.require(r.returncode == 0, "img2pdf makes a PDF", r.stderr)
    st, _, obj = h.api_post_image(api, key, pdf.read_bytes(), content_type="application/pdf")
    t.check(st == 202, "application/pdf: 202", (st, obj))

    # a refusal without a body keeps the connection open for the next request
    r = h.run_cmd(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{num_connects}\\n",
                   "-H", "Authorization: Bearer nope", f"http://127.0.0.1:{api.port}/v1/jobs/{raw_id}",
                   "--next", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{num_connects}\\n",
                   "-H", f"Authorization: Bearer {key}",
                   f"http://127.0.0.1:{api.port}/v1/jobs/{raw_id}"])
    t.check(r.returncode == 0 and r.stdout.split() == ["401", "1", "200", "0"],
            "after a 401 curl reuses the keep-alive connection for the next request",
            (r.returncode, r.stdout, r.stderr))

    # client errors, each a JSON error, none recorded
    before = len(h.job_rows())
    cases = [
        ("text/plain", b"hello", "", 415, "unsupported_media_type", "a text body"),
        (None, img, "", 415, "unsupported_media_type", "no Content-Type"),
        ("image/png", b"not an image at all", "", 415, "unsupported_media_type",
         "image/png that is not an image"),
        ("image/png", b"", "", 400, "empty_document", "an empty body"),
        ("image/png", img, "priority=10", 400, "invalid_parameter", "priority 10"),
        ("image/png", img, "priority=x", 400, "invalid_parameter", "priority x"),
        ("image/png", img, "language=..", 400, "invalid_parameter", "a bad language"),
        ("image/png", img, "metadata=%5B1%5D", 400, "invalid_parameter", "metadata not an object"),
        ("image/png", img, "webhook_url=ftp%3A%2F%2Fx", 400, "invalid_parameter",
         "a webhook_url that is not http(s)"),
        ("application/json", b"{nope", "", 400, "invalid_json", "malformed JSON"),
        ("application/json", b'{"batch": "x"}', "", 400, "invalid_parameter", "JSON without url"),
        ("application/json", b'{"url": "http://x/", "colour": 1}', "", 400, "invalid_parameter",
         "an unknown JSON field"),
        ("multipart/form-data", b"x", "", 400, "invalid_multipart", "multipart without boundary"),
        ("application/json", b'{"url": "http://x/", "batch": "' + b"x" * 300000 + b'"}', "", 413,
         "too_large", "a JSON body over api.max_body_bytes (uploads: test_api_upload.py)"),
    ]
    for ctype, data, query, want, code, what in cases:
        hdrs = {"Content-Type": ctype} if ctype else {}
        st, _, obj = h.api_json(api, "POST", "/v1/jobs" + (f"?{query}" if query else ""), data,
                                hdrs, key)
        error_ok(t, st, obj, want, code, what)
    body, ctype = h.multipart({"batch": "x"})
    st, _, obj = h.api_json(api, "POST", "/v1/jobs", body, {"Content-Type": ctype}, key)
    error_ok(t, st, obj, 400, "invalid_multipart", "multipart without a file part")
    t.check(len(h.job_rows()) == before, "no refused request recorded a job",
            (before, len(h.job_rows())))

    # routing
    st, _, obj = h.api_json(api, "GET", "/v2/nothing", key=key)
    error_ok(t, st, obj, 404, "not_found", "an unknown path")
    st, hdr, obj = h.api_json(api, "DELETE", "/v1/jobs", key=key)
    error_ok(t, st, obj, 405, "method_not_allowed", "DELETE /v1/jobs")
    t.check(hdr.get("allow") == "POST", "405 names the allowed method", hdr)
    st, hdr, obj = h.api_json(api, "POST", f"/v1/jobs/{raw_id}/text", key=key)
    error_ok(t, st, obj, 405, "method_not_allowed", "POST to a job's text")
    st, _, obj = h.api_json(api, "GET", f"/v1/jobs/{raw_id}", key=key2)
    error_ok(t, st, obj, 404, "not_found", "another key's job")
    st, _, obj = h.api_json(api, "GET", "/v1/jobs/00000000-0000-4000-8000-000000000000", key=key)
    error_ok(t, st, obj, 404, "not_found", "a job that does not exist")
    st, _, obj = h.api_json(api, "GET", "/v1/jobs/not-a-uuid", key=key)
    error_ok(t, st, obj, 404, "not_found", "a job id that is not a uuid")
    st, _, obj = h.api_json(api, "GET", f"/v1/jobs/{raw_id}?include=everything", key=key)
    error_ok(t, st, obj, 400, "invalid_parameter", "include=everything")
    st, _, obj = h.api_json(api, "GET", "/v1/batches/no-such-batch", key=key)
    error_ok(t, st, obj, 404, "not_found", "an unknown batch")

    # reads before the worker
    st, _, obj = h.api_json(api, "GET", f"/v1/jobs/{raw_id}", key=key)
    t.check(st == 200 and obj.get("status") == "queued" and obj.get("job_id") == raw_id
            and obj.get("batch") == "api-b" and "result" not in obj and "submitted_at" in obj,
            "GET job: queued, no result yet", obj)
    st, _, obj = h.api_json(api, "GET", f"/v1/jobs/{raw_id}/text", key=key)
    error_ok(t, st, obj, 409, "not_ready", "text of a queued job")

    # Idempotency-Key: one job for a repeat; another request under the key is refused
    idem = {"Idempotency-Key": "order-42"}
    st1, _, o1 = h.api_post_image(api, key, img, "batch=idem", headers=idem)
    st2, hdr2, o2 = h.api_post_image(api, key, img, "batch=idem", headers=idem)
    t.check(st1 == 202 and st2 == 202 and o1.get("job_id") == o2.get("job_id"),
            "the same Idempotency-Key twice gives the same job", (o1, o2))
    t.check(hdr2.get("idempotent-replayed") == "true", "the repeat says Idempotent-Replayed", hdr2)
    rows = h.db_query("SELECT count(*) AS n FROM ocr_jobs WHERE batch = 'idem'")
    t.check(rows[0]["n"] == 1, "one job row for the repeated key", rows)
    t.check(h.queue_message_ids(h.JOB_QUEUE).count(o1["job_id"]) == 1, "one message for the repeated key")
    st, _, obj = h.api_post_image(api, key, img, "batch=idem-other", headers=idem)
    error_ok(t, st, obj, 422, "idempotency_key_reused", "the key with another request")
    st, _, o3 = h.api_post_image(api, key2, img, "batch=idem", headers=idem)
    t.check(st == 202 and o3.get("job_id") != o1.get("job_id"),
            "another API key's Idempotency-Key is its own", (st, o3))

    # DELETE cancels a queued job (the worker then acks it without OCR)
    st, _, obj = h.api_post_image(api, key, img, "batch=cancel-me")
    t.require(st == 202, "a job to cancel", (st, obj))
    victim = obj["job_id"]
    st, _, obj = h.api_json(api, "DELETE", f"/v1/jobs/{victim}", key=key2)
    error_ok(t, st, obj, 404, "not_found", "DELETE of another key's job")
    st, _, obj = h.api_json(api, "DELETE", f"/v1/jobs/{victim}", key=key)
    t.check(st == 200 and obj == {"job_id": victim, "status": "canceled", "canceled_now": True},
            "DELETE of a queued job: 200 canceled", (st, obj))
    st, _, obj = h.api_json(api, "DELETE", f"/v1/jobs/{victim}", key=key)
    t.check(st == 200 and obj.get("canceled_now") is False, "DELETE again: 200, not again",
            (st, obj))
    st, _, obj = h.api_json(api, "GET", f"/v1/jobs/{victim}/text", key=key)
    error_ok(t, st, obj, 409, "job_canceled", "text of a canceled job")

    # one job all the way through a worker
    sample = h.SAMPLES_DIR / "invoice.eng.png"
    expected = (h.SAMPLES_DIR / "invoice.eng.expected.txt").read_text()
    st, _, obj = h.api_post_image(api, key, sample.read_bytes(), "batch=e2e")
    t.require(st == 202, "the sample is accepted", (st, obj))
    e2e = obj["job_id"]
    w = h.start_worker(h.fleet_config())
    h.wait_finished([e2e])
    st, _, obj = h.api_json(api, "GET", f"/v1/jobs/{e2e}?include=text", key=key)
    text = (obj.get("result") or {}).get("text", "")
    t.check(st == 200 and obj.get("status") == "succeeded" and "finished_at" in obj,
            "GET job after the worker: succeeded", obj)
    t.check(h.cer(expected, text) < 0.02, "the result text matches the sample (CER < 2%)",
            h.cer(expected, text))
    st, hdr, data = h.api_request(api, "GET", f"/v1/jobs/{e2e}/text", key=key)
    t.check(st == 200 and hdr.get("content-type", "").startswith("text/plain")
            and data.decode() == text, "GET /text: the same text as text/plain", (st, hdr))
    st, _, obj = h.api_json(api, "DELETE", f"/v1/jobs/{e2e}", key=key)
    error_ok(t, st, obj, 409, "not_cancelable", "DELETE of a succeeded job")
    st, _, obj = h.api_json(api, "GET", f"/v1/jobs/{e2e}", key=key)
    t.check("text" not in obj.get("result", {}) and obj["result"].get("characters") == len(text),
            "without include=text the result has no text", obj.get("result"))
    h.wait_until(lambda: h.count_by_status()["queued"] + h.count_by_status()["running"] == 0,
                 what="every job finished")
    st, _, obj = h.api_json(api, "GET", "/v1/batches/api-b", key=key)
    counts = obj.get("counts", {})
    t.check(st == 200 and obj.get("total") == 3 and sum(counts.values()) == 3
            and set(counts) >= {"queued", "running", "succeeded", "failed"},
            "GET batch: counts by status", obj)
    st, _, obj = h.api_json(api, "GET", f"/v1/jobs/{victim}", key=key)
    t.check(obj.get("status") == "canceled" and not h.result_rows([victim]),
            "the canceled job stayed canceled through the worker, with no result", obj)
    h.stop_worker(w)

    # revocation takes effect within the key cache time (1 s)
    r = h.admin(["apikey", "revoke", name2])
    t.check(r.returncode == 0, "revoke the second key", r.stderr)
    time.sleep(1.2)
    st, _, obj = h.api_json(api, "GET", f"/v1/jobs/{o3['job_id']}", key=key2)
    error_ok(t, st, obj, 401, "unauthorized", "a revoked key")

    # metrics count what happened
    st, _, data = h.api_request(api, "GET", "/metrics")
    m = h.parse_metrics(data.decode())
    t.check((h.metric(m, "ocrq_api_requests_total", route="post_jobs", code="202") or 0) >= 8
            and h.metric(m, "ocrq_api_requests_total", route="post_jobs", code="415") == 3
            and h.metric(m, "ocrq_api_jobs_replayed_total") == 1
            and h.metric(m, "ocrq_api_broker_up") == 1,
            "/metrics counts requests by route and code, replays, broker up",
            {k: v for k, v in m.items() if "api" in str(k)})
    t.check(h.stop_api(api) == 0, "ocrq-api exits 0 on SIGTERM")

    # the rate limit: a burst over the bucket gets 429 with Retry-After
    api = h.start_api({"api.rate_limit_per_s": 1, "api.rate_limit_burst": 3})
    statuses, retry = [], []
    for _ in range(8):
        st, hdr, obj = h.api_json(api, "GET", f"/v1/jobs/{raw_id}", key=key)
        statuses.append(st)
        if st == 429:
            retry.append(hdr.get("retry-after"))
            error_ok(t, st, obj, 429, "rate_limited", "over the rate limit") if len(retry) == 1 \
                else None
    t.check(statuses[:3] == [200, 200, 200] and 429 in statuses[3:],
            "a burst of 8 against a bucket of 3 (1/s): the first 3 pass, then 429", statuses)
    t.check(retry and all(r and r.isdigit() and int(r) >= 1 for r in retry),
            "429 carries Retry-After in seconds", retry)
    st, _, _ = h.api_json(api, "GET", "/healthz")
    t.check(st == 200, "health needs no key and no token", st)


if __name__ == "__main__":
    h.run(main)
