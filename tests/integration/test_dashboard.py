# SPDX-License-Identifier: GPL-3.0-or-later
"""The dashboard at /ui/ (docs/dashboard.md) in a real browser: starts ocrq-api
and a worker, makes an admin key (ocrq-admin apikey create --role admin) and a
submit key, and runs tests/ui/dashboard.test.js (Debian's chromium, headless,
driven by puppeteer-core, which it installs into tests/ui/node_modules on
first use). Its "PASS:"/"FAIL:" lines become this test's checks: log in, the
overview, a job submitted through the API appears in the list and succeeds,
its page shows its text, the overview lists the worker (OCRQ_UI_WORKER, its --name)
and its process; a submit key's login is 403, /ui/api/overview
without a session 401, a POST without the CSRF header 403. Its screenshots
(its "SCREENSHOT:" lines) are in the test's temp dir and copied to
<build>/test-screenshots/dashboard/. Also checks the headers of /ui/ answers,
/ui/api/workers (401 without a session, the worker and its slot with one)
and the role in apikey list with curl-free HTTP from here."""

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request

import harness as h

NODE_TIMEOUT_S = 600


def admin_key(name):
    r = h.admin(["apikey", "create", name, "--role", "admin"])
    if r.returncode != 0:
        raise h.TestFailure(f"apikey create --role admin exited {r.returncode}: {r.stderr}")
    return r.stdout.rstrip("\n").split("\n")[-1]


def get(port, path, headers=None, data=None, method=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data,
                                 headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def main(t):
    name = f"dash-admin-{os.getpid()}"
    akey = admin_key(name)
    sname, skey = h.api_key()
    keys = {k["name"]: k for k in h.json_lines(h.admin(["apikey", "list", "--json"]).stdout)}
    t.check(keys.get(name, {}).get("role") == "admin"
            and keys.get(sname, {}).get("role") == "submit",
            "apikey list --json: the roles", keys)
    r = h.admin(["apikey", "create", "dash-bad", "--role", "root"])
    t.check(r.returncode == 2 and "--role" in r.stderr, "apikey create --role root: usage error",
            (r.returncode, r.stderr))

    api = h.start_api({"api.rate_limit_per_s": 1000, "api.rate_limit_burst": 1000})
    # a job that stays queued until the browser test has canceled it: no worker yet
    st, _, obj = h.api_post_image(api, skey, h.make_image("Never run", h.tmpdir() / "q.png")
                                  .read_bytes(), "batch=ui-cancel")
    t.require(st == 202, "a job to cancel: 202", (st, obj))
    queued = obj["job_id"]

    # the headers every /ui answer carries, and the JSON ones never cached
    st, hdr, _ = get(api.port, "/ui/app.js")
    t.check(st == 200 and hdr.get("Content-Type", "").startswith("text/javascript")
            and "frame-ancestors 'none'" in hdr.get("Content-Security-Policy", "")
            and hdr.get("X-Content-Type-Options") == "nosniff"
            and hdr.get("Referrer-Policy") == "no-referrer", "/ui/app.js: type, CSP and headers",
            hdr)
    st, hdr, body = get(api.port, "/ui/login", {"Content-Type": "application/json"},
                        json.dumps({"key": akey}).encode(), "POST")
    obj = json.loads(body or b"{}")
    cookie = hdr.get("Set-Cookie", "")
    t.check(st == 200 and obj.get("key") == name and obj.get("role") == "admin"
            and len(obj.get("csrf", "")) == 64 and "HttpOnly" in cookie
            and "SameSite=Strict" in cookie and "Max-Age=43200" in cookie,
            "POST /ui/login with the admin key: 200, a CSRF token and the cookie", (st, obj, cookie))
    sid = cookie.split(";")[0]
    st, hdr, body = get(api.port, "/ui/api/overview", {"Cookie": sid})
    ov = json.loads(body or b"{}")
    t.check(st == 200 and hdr.get("Cache-Control") == "no-store"
            and set(ov.get("queues", {})) == {"normal", "priority", "retry", "failed"}
            and len(ov.get("jobs_per_minute", [])) == 60 and "p50" in ov.get("ocr_ms", {})
            and set(ov.get("webhooks", {})) == {"pending", "failed"},
            "GET /ui/api/overview: its parts, no-store", (st, hdr.get("Cache-Control"), ov))
    st, _, _ = get(api.port, "/ui/api/jobs?per_page=201", {"Cookie": sid})
    t.check(st == 400, "per_page above 200: 400", st)
    st, _, _ = get(api.port, "/ui/login", {"Content-Type": "application/json"},
                   json.dumps({"key": "ocrq_nope"}).encode(), "POST")
    t.check(st == 401, "POST /ui/login with a wrong key: 401", st)

    chromium = shutil.which("chromium")
    node = shutil.which("node")
    t.require(chromium and node, "chromium and node are installed (scripts/install-deps)",
              (chromium, node))
    word = "Dashboard"
    wname = f"dash-worker-{os.getpid()}"
    doc = h.make_image(f"{word} test page", h.tmpdir() / "dash.png")
    e = h.env(OCRQ_UI_URL=f"http://127.0.0.1:{api.port}", OCRQ_UI_ADMIN_KEY=akey,
              OCRQ_UI_SUBMIT_KEY=skey, OCRQ_UI_DOC=str(doc), OCRQ_UI_WORD=word,
              OCRQ_UI_QUEUED_JOB=queued, OCRQ_UI_WORKER=wname,
              OCRQ_UI_OUT=str(h.tmpdir()), OCRQ_CHROMIUM=chromium)
    script = h.SOURCE_DIR / "tests" / "ui" / "dashboard.test.js"
    err_path = h.tmpdir() / "dashboard-stderr.log"
    hooked = None
    receiver = h.Receiver()  # answers 200: the retried delivery is delivered
    receiver.start()
    checks = shots = 0
    keep = h.BUILD_DIR / "test-screenshots" / "dashboard"
    with open(err_path, "w") as err:
        p = subprocess.Popen([node, str(script)], env=e, stdout=subprocess.PIPE, stderr=err,
                             text=True, cwd=h.SOURCE_DIR)
        try:
            lines = []
            for line in p.stdout:
                print(line, end="", flush=True)
                lines.append(line.rstrip("\n"))
                if line.startswith("NEED: worker"):
                    # its dispatcher may reach the receiver on 127.0.0.1
                    h.start_worker(h.webhook_config(), name=wname, environ=h.webhook_env())
                elif line.startswith("NEED: failed-webhook "):
                    hooked = line.split()[-1]
                    h.db_query("INSERT INTO ocr_webhook_deliveries (event_id, job_id, event_type,"
                               " url, body, status, attempts, last_error) VALUES (%s, %s,"
                               " 'job.succeeded', %s, '{}', 'failed', 3,"
                               " 'test: HTTP 500 three times') RETURNING id",
                               (f"ui-test-{hooked}", hooked, receiver.url()))
                    (h.tmpdir() / "webhook-ready").touch()
            p.wait(timeout=NODE_TIMEOUT_S)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    if err_path.stat().st_size:
        print("dashboard.test.js stderr:\n" + err_path.read_text()[-4000:], flush=True)
    for line in lines:
        if line.startswith(("PASS: ", "FAIL: ")):
            checks += 1
            t.check(line.startswith("PASS"), "browser: " + line[6:], line)
        elif line.startswith("SCREENSHOT: "):
            shots += 1
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(line[12:], keep)
    t.check(p.returncode == 0 and checks >= 15, "dashboard.test.js: every check ran and passed",
            (p.returncode, checks))
    t.check(shots >= 4, f"screenshots taken (copies in {keep})", shots)
    if hooked:
        h.wait_until(lambda: h.db_query("SELECT status FROM ocr_webhook_deliveries"
                                        " WHERE event_id = %s", (f"ui-test-{hooked}",))[0]["status"]
                     == "delivered", timeout=30, what="the retried delivery delivered")
        t.check(any(r.path == "/hook" for r in receiver.requests),
                "the retried webhook reached the receiver", len(receiver.requests))
    receiver.stop()
    row = h.job_row(queued)
    t.check(row and row["status"] == "canceled", "the job canceled in the browser is canceled",
            row)
    log = api.log_path.read_text(errors="replace")
    t.check(f"ui: key '{name}' logged in" in log and f"ui: key '{name}' logged out" in log
            and f"ui: key '{name}' canceled job {queued}: canceled" in log
            and f"ui: login of key '{sname}' refused: role submit" in log
            and f"ui: key '{name}' retried webhook delivery" in log,
            "the API log records the logins, the refusal, the cancel, the retry and the logout",
            "\n".join(x for x in log.splitlines() if " ui: " in x))

    # the fleet registry through /ui/api/workers: the running worker and its one process
    st, _, _ = get(api.port, "/ui/api/workers")
    t.check(st == 401, "GET /ui/api/workers without a session: 401", st)

    def workers():
        st, hdr, body = get(api.port, "/ui/api/workers", {"Cookie": sid})
        return st, hdr, json.loads(body or b"{}")

    def listed():
        st, _, w = workers()
        return st == 200 and any(x.get("name") == wname and x.get("slots")
                                 for x in w.get("workers", []))

    h.wait_until(listed, timeout=30, what="the worker listed by /ui/api/workers")
    st, hdr, w = workers()
    mine = [x for x in w.get("workers", []) if x.get("name") == wname]
    slots = mine[0].get("slots", []) if mine else []
    t.check(st == 200 and hdr.get("Cache-Control") == "no-store" and len(mine) == 1
            and mine[0].get("stale") is False and mine[0].get("stopped_at") is None
            and mine[0].get("processes") == 1 and mine[0].get("pid", 0) > 0
            and mine[0].get("heartbeat_at") and mine[0].get("host")
            and [p.get("slot") for p in slots] == [0]
            and slots[0].get("state") in ("idle", "busy", "starting")
            and set(slots[0]) == {"slot", "pid", "state", "job_id", "job_started_at", "jobs_done"}
            and slots[0].get("jobs_done", 0) >= 1,
            "GET /ui/api/workers: the worker, not stale, with its slot and the job it did",
            (st, w))

    # revoking the admin key ends its sessions at their next request
    st, hdr, _ = get(api.port, "/ui/login", {"Content-Type": "application/json"},
                     json.dumps({"key": akey}).encode(), "POST")
    sid = hdr.get("Set-Cookie", "").split(";")[0]
    st1, _, _ = get(api.port, "/ui/api/overview", {"Cookie": sid})
    r = h.admin(["apikey", "revoke", name])
    st2, _, body = get(api.port, "/ui/api/overview", {"Cookie": sid})
    t.check(st1 == 200 and r.returncode == 0 and st2 == 401,
            "a session of a revoked key: 401 at its next request", (st1, r.returncode, st2, body))
    h.check_eventually(t, lambda: "the key is revoked" in api.log_path.read_text(errors="replace"),
                       "the API log says the revoked key's session ended", timeout=10)

if __name__ == "__main__":
    h.run(main)
