# SPDX-License-Identifier: GPL-3.0-or-later
"""PostgreSQL failover as a tested promise (docs/fleet.md, docs/scaling.md):
a primary with a synchronous standby, the primary killed mid-run, the
standby promoted, and the promoted server still waiting for a synchronous
standby of its own.

synchronous_standby_names = '*' is set on the primary of scripts/services;
a standby is made with pg_basebackup (scripts/cluster pg-standby-start), so
it carries the same setting, and streams synchronously: a commit the
primary acknowledges is on the standby too. Two supervisors (1 OCR process
each) and ocrq-submit use one libpq multi-host URL, primary then standby,
with target_session_attrs=read-write; database.statement_timeout_ms = 3000.

300 jobs are queued. Once 30 have succeeded, the primary is killed
(immediate) and the standby promoted, with the workers paused; the promoted
server is made to wait for a synchronous standby (as one set up like its old
primary does), and the workers go on. It waits for a synchronous
standby that does not exist, so every commit hangs: the workers must give
each one up after the statement timeout and go on (no hung worker). Then
the wait is switched off on the promoted server, as an operator would.

Checked: the workers found the promoted server (the multi-host URL), they
logged commits given up while it waited, and they ran on; every job queued
before the crash is on the promoted server (nothing confirmed was lost),
and every one ends succeeded exactly once with one result. The primary of
scripts/services is started again when the test ends (cluster.py)."""

import re

import cluster
import harness as h

N_JOBS = 300
TIMEOUT_MS = 3000


def main(t):
    cluster.pg_sync(h.PG_PORT, True)
    standby_url = cluster.pg_standby_start()
    standby_port = int(re.search(r":(\d+)/", standby_url).group(1))
    url = cluster.pg_failover_url()
    print(f"failover URL {h.redact(url)}", flush=True)
    sync = h.db_query("SELECT application_name, sync_state FROM pg_stat_replication")
    t.require(len(sync) == 1, "the standby streams from the primary", sync)

    e = h.env(OCRQ_DATABASE_URL=url)
    cfg = h.fleet_config({"worker.processes": 1, "database.statement_timeout_ms": TIMEOUT_MS})
    workers = [h.start_worker(cfg, environ=e) for _ in range(2)]
    kids = [h.wait_children(w, 1) for w in workers]
    img = h.make_image("Failover job 2718", h.tmpdir() / "job.png", width=900)
    r = h.submit(["--json", "-q", *h.copies(img, N_JOBS)], environ=e)
    t.require(r.returncode == 0, f"{N_JOBS} jobs queued through the failover URL", r.stderr)
    ids = [o["job_id"] for o in h.json_lines(r.stdout)]
    h.wait_until(lambda: h.count_by_status(ids)["succeeded"] >= 30, timeout=120,
                 what="30 jobs to succeed", interval=0.05)

    # paused, so that jobs are certainly left for the promoted server, however fast this is
    for w in workers:
        h.pause_worker(w)
    try:
        cluster.pg_kill_primary(immediate=True)
        cluster.pg_promote()
        h.DATABASE_URL = standby_url  # the harness reads the promoted server from now on
        # the promoted server waits for a synchronous standby of its own, which is gone
        cluster.pg_sync(standby_port, True)
        left = N_JOBS - h.count_by_status(ids)["succeeded"]
        print(f"{left} jobs left for the promoted server", flush=True)
    finally:
        for w in workers:
            h.resume_worker(w)
    marks = {id(w): h.log_text(w).count("statement_timeout_ms") for w in workers}
    try:
        h.check_eventually(t, lambda: sum(h.log_text(w).count("statement_timeout_ms") - marks[id(w)]
                                          for w in workers),
                           "commits that wait for a synchronous standby are given up (two new"
                           " log lines naming statement_timeout_ms)", ok=lambda n: n >= 2,
                           timeout=120)
        t.check(all(w.poll() is None for w in workers)
                and [h.worker_children(w) for w in workers] == kids,
                "the supervisors and their OCR processes run on")
    finally:
        cluster.pg_sync(standby_port, False)

    rows = h.job_rows(ids)
    t.check(len(rows) == N_JOBS, f"all {N_JOBS} jobs confirmed before the crash are on the"
            " promoted server", len(rows))
    h.check_succeeded_once(t, ids, timeout=300)
    for w in workers:
        t.check(h.stop_worker(w) == 0, "a worker stops cleanly")


if __name__ == "__main__":
    h.run(main)
