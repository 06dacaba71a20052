# SPDX-License-Identifier: GPL-3.0-or-later
"""The SSRF guard (docs/webhooks.md, "The SSRF guard"), with
security.url_allowlist empty: every case of a corpus of webhook and document
URLs is refused, and a listener on 127.0.0.1:PORT (and [::1]:PORT) sees no
connection at all.

Only loopback traffic: 10.0.0.1 and 169.254.169.254 must be refused before
connecting, so nothing leaves the machine; were the guard broken, the attempt
would try them, bounded by webhooks.connect_timeout_s = 1.

* Webhook URLs, each the --webhook of one job (submitted before the worker
  starts): 127.0.0.1, localhost, 0x7f.1, 2130706433, 127.1, 017700000001,
  [::ffff:127.0.0.1], [::ffff:7f00:1], [0:0:0:0:0:ffff:127.0.0.1], [::1],
  [::], 0.0.0.0 (all on PORT), 10.0.0.1:PORT, 169.254.169.254/latest/meta-data/.
  Each delivery ends 'failed' after exactly 1 attempt (a refused address is
  not retried, although webhooks.retry_schedule_s = [1] would allow one
  retry), with a last_error naming the SSRF guard and no HTTP status.
* Other schemes: file:///etc/passwd, ftp://127.0.0.1:PORT/,
  gopher://127.0.0.1:PORT/ are refused by ocrq-submit --webhook (exit 2), by
  the worker in a job message (the job fails as bad_message, no delivery to
  that URL), and by the dispatcher when such a URL is in the outbox anyway
  (written into the queued job's row behind ocrq-submit's back): 'failed'
  after 1 attempt, an error about the protocol.
* Document URLs (ocrq-submit URL inputs) http://127.0.0.1:PORT/x.png,
  http://localhost:PORT/x.png, http://0x7f.1:PORT/x.png, http://[::1]:PORT/x.png:
  each job fails for good (error_code fetch_failed, 1 attempt, a message
  naming the refusal).
* Control, so that the listener check means something: a second worker with
  url_allowlist = ["127.0.0.1"] and one webhook to 127.0.0.1:PORT: now the
  listener sees a connection."""

import errno
import time

import harness as h

GUARD_WORDS = ("ssrf", "guard")
SCHEME_WORDS = ("protocol", "scheme", "http")


def listeners():
    """A Listener on 127.0.0.1:P and, if the machine has IPv6, on [::1]:P (same P)."""
    for _ in range(20):
        v4 = h.Listener("127.0.0.1", 0)
        try:
            v6 = h.Listener("::1", v4.port)
            return v4, v6
        except OSError as e:
            if e.errno != errno.EADDRINUSE:  # no IPv6 here
                return v4, None
            v4.close()
    raise h.TestFailure("no port free on both 127.0.0.1 and ::1")


def main(t):
    v4, v6 = listeners()
    P = v4.port
    bound = [(lst.sock.getsockname()[:2], lst.thread.is_alive(), lst.connections)
             for lst in (v4, v6) if lst]
    t.check(bound == [(("127.0.0.1", P), True, [])] + ([(("::1", P), True, [])] if v6 else []),
            f"listening on 127.0.0.1:{P}" + (f" and [::1]:{P}" if v6 else " (no IPv6)")
            + ", no connection yet", bound)
    img = h.make_image("SSRF", h.tmpdir() / "ssrf.png")

    hooks = [f"http://127.0.0.1:{P}/", f"http://localhost:{P}/", f"http://0x7f.1:{P}/",
             f"http://2130706433:{P}/", f"http://127.1:{P}/", f"http://017700000001:{P}/",
             f"http://[::ffff:127.0.0.1]:{P}/", f"http://[::ffff:7f00:1]:{P}/",
             f"http://[0:0:0:0:0:ffff:127.0.0.1]:{P}/", f"http://[::1]:{P}/",
             f"http://[::]:{P}/", f"http://0.0.0.0:{P}/", f"http://10.0.0.1:{P}/",
             "http://169.254.169.254/latest/meta-data/"]
    schemes = ["file:///etc/passwd", f"ftp://127.0.0.1:{P}/", f"gopher://127.0.0.1:{P}/"]
    docs = [f"http://127.0.0.1:{P}/x.png", f"http://localhost:{P}/x.png",
            f"http://0x7f.1:{P}/x.png", f"http://[::1]:{P}/x.png"]

    # ocrq-submit refuses other schemes outright.
    for url in schemes:
        r = h.submit(["--webhook", url, img])
        t.check(r.returncode == 2, f"ocrq-submit --webhook {url}: exit 2 (usage)",
                (r.returncode, r.stderr.strip()))

    # Everything is queued before the worker starts.
    hook_jobs = {url: h.submit_json(["--webhook", url, img])[0]["job_id"] for url in hooks}
    scheme_jobs = {}
    for url in schemes:
        job = h.submit_json(["--webhook", f"http://127.0.0.1:{P}/placeholder", img])[0]["job_id"]
        h.db_query("UPDATE ocr_jobs SET webhook_url = %s WHERE job_id = %s AND status = 'queued'",
                   (url, job))
        scheme_jobs[url] = job
    t.require(all(h.job_row(j)["webhook_url"] == u for u, j in scheme_jobs.items()),
              "the scheme cases' job rows carry the non-http URLs")
    raw_jobs = {}
    for url in schemes:
        body, props = h.inline_job(img.read_bytes(), webhook_url=url)
        h.publish_raw(body, props)
        raw_jobs[url] = props.message_id
    doc_jobs = {url: h.submit_json([url])[0]["job_id"] for url in docs}

    conf = h.webhook_config({"worker.processes": 1, "webhooks.retry_schedule_s": [1],
                             "webhooks.connect_timeout_s": 1, "webhooks.timeout_s": 3},
                            secrets=[h.make_webhook_secret()], allow=())
    w = h.start_worker(conf, environ=h.webhook_env())
    everything = [*hook_jobs.values(), *scheme_jobs.values(), *raw_jobs.values(),
                  *doc_jobs.values()]
    h.wait_finished(everything, timeout=120, what="every job of the corpus to finish")
    delivery_jobs = [*hook_jobs.values(), *scheme_jobs.values()]
    h.wait_until(lambda: len(h.webhook_deliveries(delivery_jobs)) == len(delivery_jobs)
                 and all(d["status"] != "pending" for d in h.webhook_deliveries(delivery_jobs)),
                 timeout=60, what="every delivery of the corpus to end")
    time.sleep(2.5)  # longer than the 1 s retry: a retry would show now

    dels = {d["job_id"]: d for d in h.webhook_deliveries(delivery_jobs)}
    for url, job in hook_jobs.items():
        d = dels.get(job)
        err = (d or {}).get("last_error") or ""
        t.check(d and d["status"] == "failed" and d["attempts"] == 1
                and len(h.webhook_attempts(d["id"])) == 1 and d["last_http_status"] is None
                and any(wd in err.lower() for wd in GUARD_WORDS),
                f"webhook {url}: refused by the guard, 'failed' after 1 attempt",
                d and {k: d[k] for k in ("status", "attempts", "last_http_status", "last_error")})
    for url, job in scheme_jobs.items():
        d = dels.get(job)
        err = (d or {}).get("last_error") or ""
        t.check(d and d["status"] == "failed" and d["url"] == url
                and any(wd in err.lower() for wd in SCHEME_WORDS),
                f"webhook {url} in the outbox: 'failed', refused as a scheme",
                d and {k: d[k] for k in ("url", "status", "attempts", "last_error")})
        t.check(d and d["attempts"] == 1,
                f"webhook {url} in the outbox: not retried (1 attempt)",
                d and (d["attempts"], [a["error"] for a in h.webhook_attempts(d["id"])]))
    for url, job in raw_jobs.items():
        row = h.job_row(job) or {}
        t.check(row.get("status") == "failed" and row.get("error_code") == "bad_message",
                f"a job message with webhook_url {url}: fails as bad_message",
                {k: row.get(k) for k in ("status", "error_code", "error_message", "webhook_url")})
    stray = [d["url"] for d in h.webhook_deliveries(list(raw_jobs.values()))]
    t.check(not stray or all(u.startswith("http") for u in stray),
            "no outbox row for a non-http URL from a job message", stray)
    for url, job in doc_jobs.items():
        row = h.job_row(job) or {}
        msg = (row.get("error_message") or "").lower()
        t.check(row.get("status") == "failed" and row.get("error_code") == "fetch_failed"
                and row.get("attempts") == 1 and ("refused" in msg or "allowlist" in msg),
                f"document {url}: failed for good (fetch_failed, 1 attempt), refused",
                {k: row.get(k) for k in ("status", "error_code", "error_message", "attempts")})

    t.check(not v4.connections, f"the listener on 127.0.0.1:{P} saw no connection",
            v4.connections)
    if v6:
        t.check(not v6.connections, f"the listener on [::1]:{P} saw no connection",
                v6.connections)
    h.stop_worker(w)

    # Control: with 127.0.0.1 allowed the same listener does see the connection.
    conf = h.webhook_config({"worker.processes": 1, "webhooks.retry_schedule_s": [1],
                             "webhooks.connect_timeout_s": 1, "webhooks.timeout_s": 3},
                            allow=["127.0.0.1"])
    h.start_worker(conf, environ=h.webhook_env())
    job = h.submit_json(["--webhook", f"http://127.0.0.1:{P}/control", img])[0]["job_id"]
    h.wait_finished([job])
    h.check_eventually(t, lambda: list(v4.connections), "control: with url_allowlist ="
                       " [\"127.0.0.1\"] the listener sees the connection", timeout=30)
    v4.close()
    if v6:
        v6.close()


if __name__ == "__main__":
    h.run(main)
