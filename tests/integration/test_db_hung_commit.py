# SPDX-License-Identifier: GPL-3.0-or-later
"""No hung worker (database.statement_timeout_ms): a PostgreSQL whose commits
cannot finish. synchronous_standby_names is set while no standby exists, so
every COMMIT waits forever for a standby that never answers, as on a
promoted server that still waits for its old peer.

10 small jobs are queued while the worker is paused; the wait for a standby
is switched on; the worker resumes. With a 2 s statement timeout each commit
is given up after 2 s: the connection is dropped, the job goes back to the
queue, and the worker goes on with the next one instead of waiting forever.
Checked while the commits hang: the worker logs the timeout again and again
(it kept working, it did not stop at the first), its OCR child is the same
process, its metrics endpoint answers, and no job is counted succeeded.
Then the wait is switched off: every job ends succeeded exactly once, with
one result each, and the queues drain. Finally the worker stops on SIGTERM
within its normal time (no call of it still waits on the database).

The setting is always reset in a finally, so later tests get a normal
server."""

import time

import harness as h

N_JOBS = 10
TIMEOUT_MS = 2000


def superuser_query(sql):
    import psycopg2
    url = h.DATABASE_URL.replace("://ocrq@", "://postgres@", 1)
    conn = psycopg2.connect(url, connect_timeout=10)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def set_sync_wait(on):
    superuser_query("ALTER SYSTEM SET synchronous_standby_names = 'ocrq_no_such_standby'" if on
                    else "ALTER SYSTEM RESET synchronous_standby_names")
    superuser_query("SELECT pg_reload_conf()")


def main(t):
    img = h.make_image("Hung commit job 5521", h.tmpdir() / "job.png", width=900)
    port = h.free_port()
    w = h.start_worker(h.fleet_config({"worker.processes": 1,
                                       "database.statement_timeout_ms": TIMEOUT_MS,
                                       "worker.metrics_listen": f"127.0.0.1:{port}"}))
    kids = h.wait_children(w, 1)
    h.pause_worker(w)
    ids = [o["job_id"] for o in h.submit_json(h.copies(img, N_JOBS))]
    t.require(len(ids) == N_JOBS, f"{N_JOBS} jobs submitted", len(ids))
    try:
        set_sync_wait(True)
        h.resume_worker(w)
        h.check_eventually(t, lambda: h.log_text(w).count("statement_timeout_ms"),
                           "each hung commit is given up after the statement timeout, again and"
                           " again (three log lines naming statement_timeout_ms)",
                           ok=lambda n: n >= 3, timeout=60)
        lines = [ln for ln in h.log_text(w).splitlines() if "statement_timeout_ms" in ln]
        print("\n".join(lines[:3]), flush=True)
        t.check(w.poll() is None and h.worker_children(w) == kids,
                "the worker and its OCR child run on", f"{kids} -> {h.worker_children(w)}")
        status, _, _ = h.http_get(port, "/healthz")
        t.check(status == 200, "the worker's /healthz answers while commits hang", status)
        done = h.db_query("SELECT count(*) AS n FROM ocr_jobs WHERE status = 'succeeded'"
                          " AND job_id = ANY(%s::uuid[])", (ids,))[0]["n"]
        t.check(done == 0, "no job is seen succeeded while its commit cannot finish", done)
    finally:
        set_sync_wait(False)

    h.check_succeeded_once(t, ids, timeout=200)
    t.check(len(h.result_rows(ids)) == N_JOBS, "one result each", len(h.result_rows(ids)))
    h.check_queues_empty(t, timeout=60)
    t0 = time.monotonic()
    rc = h.stop_worker(w)
    t.check(rc == 0, f"the worker stops cleanly on SIGTERM ({time.monotonic() - t0:.1f} s)", rc)


if __name__ == "__main__":
    h.run(main)
