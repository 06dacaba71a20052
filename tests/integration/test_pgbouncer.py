# SPDX-License-Identifier: GPL-3.0-or-later
"""Every ocrq program through PgBouncer in transaction pooling mode, with
OCRQ_DATABASE_URL alone pointing at it (docs/scaling.md): PgBouncer 1.18
(Debian's) keeps no prepared statement across transactions and cannot carry
LISTEN, so ocrq must use neither.

PgBouncer (scripts/cluster pgbouncer-start) serves the PostgreSQL of
scripts/services with a pool of 4 server connections. Through it:
- `ocrq-admin setup` and `ocrq-admin status` work;
- three supervisors (1 OCR process and a webhook dispatcher each), started
  with only OCRQ_DATABASE_URL changed, say they found a pooler;
- 150 jobs come from ocrq-submit and 50 from ocrq-api, every one with a
  webhook URL to a receiver on 127.0.0.1.
All 200 jobs succeed exactly once, the receiver gets exactly one event per
job (200 distinct webhook-ids, every delivery 'delivered'), no log shows a
prepared-statement error, and PostgreSQL never saw more than 4 connections
from PgBouncer."""

import threading
import time
import urllib.parse

import cluster
import harness as h

N_CLI, N_API, POOL = 150, 50, 4


def main(t):
    cluster.pgbouncer_start(pool=POOL)
    url = cluster.pgbouncer_url()
    e = h.webhook_env(OCRQ_DATABASE_URL=url)

    r = h.admin(["setup"], environ=e)
    t.check(r.returncode == 0, "ocrq-admin setup through PgBouncer", r.stderr[-400:])
    r = h.admin(["status"], environ=e)
    t.check(r.returncode == 0 and "JOBS" in r.stdout, "ocrq-admin status through PgBouncer",
            r.stderr[-400:])

    # the server connections PgBouncer opens, sampled while the jobs run
    peak = [0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            try:
                # ocrq's connections say application_name "ocrq"; the test's own do not
                n = h.db_query("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = 'ocrq'"
                               " AND application_name = 'ocrq'")[0]["n"]
                peak[0] = max(peak[0], n)
            except Exception:
                pass
            stop.wait(0.2)

    with h.Receiver() as rx:
        cfg = h.webhook_config({"worker.processes": 1})
        workers = [h.start_worker(cfg, environ=e) for _ in range(3)]
        for w in workers:
            h.wait_children(w, 1)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        api = h.start_api({"api.rate_limit_per_s": 0}, environ=e)
        _, key = h.api_key()

        img = h.make_image("Pooled job 8812", h.tmpdir() / "job.png", width=900)
        r = h.submit(["--json", "-q", "--webhook", rx.url(), *h.copies(img, N_CLI)], environ=e)
        t.require(r.returncode == 0, f"{N_CLI} jobs through ocrq-submit", r.stderr[-400:])
        ids = [o["job_id"] for o in h.json_lines(r.stdout)]
        body = img.read_bytes()
        answers = [h.api_post_image(api, key, body,
                                    "webhook_url=" + urllib.parse.quote(rx.url(), safe=""))
                   for _ in range(N_API)]
        t.require(all(st == 202 for st, _, _ in answers), f"ocrq-api accepts {N_API} jobs",
                  [(st, o) for st, _, o in answers if st != 202][:3])
        ids += [o["job_id"] for _, _, o in answers]
        t.require(len(set(ids)) == N_CLI + N_API, f"{N_CLI + N_API} jobs submitted", len(ids))

        h.check_succeeded_once(t, ids, timeout=300)
        rx.wait_for(lambda reqs: len({q.id for q in reqs}) >= len(ids), timeout=120,
                    what=f"{len(ids)} webhook events")
        time.sleep(1)  # a duplicate would come now
        reqs = rx.snapshot()
        stop.set()
        sampler.join()
        by_job = {}
        for q in reqs:
            by_job.setdefault(q.json()["data"]["job_id"], []).append(q.id)
        t.check(sorted(by_job) == sorted(ids) and all(len(v) == 1 for v in by_job.values()),
                f"exactly one webhook per job ({len(reqs)} requests for {len(ids)} jobs)",
                [k for k, v in by_job.items() if len(v) != 1][:5])
        rows = h.webhook_deliveries(ids)
        t.check(len(rows) == len(ids) and all(d["status"] == "delivered" for d in rows),
                "every delivery is recorded delivered", len(rows))

        h.stop_api(api)
        logs = "".join(h.log_text(w) for w in workers) + api.log_path.read_text()
        t.check(all("connected through a pooler" in h.log_text(w) for w in workers),
                "each supervisor's processes found the pooler (database.pool_mode auto)")
        bad = [ln for ln in logs.splitlines() if "prepared statement" in ln or "26000" in ln
               or "42P05" in ln]
        t.check(not bad, "no prepared-statement error in any log", bad[:3])
        for w in workers:
            h.stop_worker(w)
    t.check(0 < peak[0] <= POOL, f"PostgreSQL saw at most {POOL} connections from PgBouncer"
            f" (peak {peak[0]})", peak[0])


if __name__ == "__main__":
    h.run(main)
