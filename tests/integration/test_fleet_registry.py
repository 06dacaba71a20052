# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet registry (docs/fleet.md, "The fleet registry"): each supervisor
records itself in ocr_workers and its OCR processes in ocr_worker_processes,
and ocrq-admin workers shows them.

1. A supervisor with 2 OCR processes: its row (host, pid, 2 processes,
   version, not stopped) and 2 process rows with the children's pids, which
   become idle; its heartbeat moves on.
2. A job paused in a child (SIGSTOP once its row is running) shows as that
   process busy with that job; 3 jobs later the processes' jobs_done add up
   to 4 (none counted twice).
3. ocrq-admin workers --json: the worker, up, with its 2 processes and their
   counts; a second supervisor with another --name is a second worker.
4. PostgreSQL restarted (scripts/services pg-stop, pg-start), down for more
   than a beat: the supervisor runs on, logs the lost beats once, and beats
   again after.
5. SIGTERM: the supervisor exits 0 with its row stopped (stopped_at set) and
   its processes stopped; ocrq-admin workers leaves it out, --all shows it.
6. Rows written by hand: a worker silent for 40 s is shown stale, one
   silent for two days only with --all.
7. Usage errors: workers takes --json and --all only; --all goes with
   failed requeue and workers only.
8. A supervisor started while PostgreSQL is down starts its processes, and
   records itself once the database is back (its registry retries)."""

import json
import signal
import time

import harness as h


def worker_row(name):
    rows = h.db_query("SELECT *, heartbeat_at > now() - interval '30 seconds' AS fresh"
                      " FROM ocr_workers WHERE name = %s", (name,))
    return rows[0] if rows else None


def proc_rows(name):
    return h.db_query("SELECT *, job_id::text AS job_id FROM ocr_worker_processes"
                      " WHERE worker = %s ORDER BY slot", (name,))


def heartbeat(name):
    return (worker_row(name) or {}).get("heartbeat_at")


def admin_workers(*args):
    r = h.admin(["workers", "--json", *args])
    if r.returncode != 0:
        raise h.TestFailure(f"ocrq-admin workers exited {r.returncode}: {r.stderr.strip()}")
    return {w["name"]: w for w in (json.loads(line) for line in r.stdout.splitlines() if line)}


def check_beat(t, name, after, what):
    """Check that name's heartbeat comes later than after (a timestamptz of the database)."""
    h.check_eventually(t, lambda: heartbeat(name), what,
                       ok=lambda beat: beat is not None and beat > after, timeout=90,
                       interval=0.5, ignore=(Exception,))


def main(t):
    h.db_query("DELETE FROM ocr_workers")  # the harness's reset leaves the registry alone

    # 1. a supervisor with 2 processes records itself
    w = h.start_worker(processes=2)
    name = w.worker_name
    kids = h.wait_children(w, 2)
    h.wait_until(lambda: worker_row(name) and len(proc_rows(name)) == 2, timeout=60,
                 what="the worker's row and its 2 process rows")
    row = worker_row(name)
    t.check(row["pid"] == w.pid and row["processes"] == 2 and row["stopped_at"] is None
            and row["fresh"] and row["host"] and row["version"],
            "ocr_workers: the supervisor's pid, 2 processes, a fresh heartbeat, not stopped", row)
    h.check_eventually(t, lambda: [(p["pid"], p["state"]) for p in proc_rows(name)],
                       "ocr_worker_processes: the children's pids, idle once connected",
                       ok=lambda ps: sorted(ps) == sorted((k, "idle") for k in kids), timeout=60)
    first = heartbeat(name)
    check_beat(t, name, first, "the heartbeat moves on")

    # 2. a busy process (an A4 page: about 1.5 s of OCR), then jobs_done
    page, _ = h.make_a4_page(h.tmpdir() / "page.png")
    img = h.make_image("Fleet registry job 5120", h.tmpdir() / "job.png", width=900)
    job = h.submit_json([page])[0]["job_id"]
    h.wait_until(lambda: (h.job_row(job) or {}).get("status") in ("running", "succeeded"),
                 what="a child to start the job")
    h.signal_pids(kids, signal.SIGSTOP)
    try:
        t.require(h.job_row(job)["status"] == "running", "the job is running when paused")
        procs = h.wait_until(
            lambda: (lambda ps: ps if any(p["state"] == "busy" for p in ps) else None)(
                proc_rows(name)), timeout=60, interval=0.5, what="a process row busy")
        busy = [p for p in procs if p["state"] == "busy"]
        t.check(len(busy) == 1 and busy[0]["job_id"] == job
                and busy[0]["job_started_at"] is not None,
                "the process running the job is busy with it, since when", procs)
    finally:
        h.signal_pids(kids, signal.SIGCONT)
    more = [o["job_id"] for o in h.submit_json([str(img)] * 3)]
    h.check_succeeded_once(t, [job, *more])
    h.check_eventually(t, lambda: [p["jobs_done"] for p in proc_rows(name)],
                       "jobs_done of the 2 processes add up to the 4 jobs",
                       ok=lambda done: sum(done) == 4 and max(done) > 0, timeout=60)
    procs = proc_rows(name)
    t.check(all(p["state"] == "idle" and p["job_id"] is None for p in procs),
            "both processes idle again, no current job", procs)

    # 3. ocrq-admin workers, and a second supervisor
    w2 = h.start_worker(processes=1, name=f"{name}-second")
    h.wait_until(lambda: len(proc_rows(w2.worker_name)) == 1, timeout=60,
                 what="the second worker's process row")
    fleet = admin_workers()
    me = fleet.get(name, {})
    slots = me.get("slots", [])
    t.check(me.get("state") == "up" and me.get("processes") == 2 and len(slots) == 2
            and me.get("pid") == w.pid and me.get("stopped_at") is None and not me.get("stale"),
            "ocrq-admin workers --json: the worker, up, with 2 processes", me)
    t.check(sorted(s["pid"] for s in slots) == sorted(kids)
            and sum(s["jobs_done"] for s in slots) == 4,
            "ocrq-admin workers --json: its processes' pids and jobs done (4)", slots)
    t.check(set(fleet) == {name, w2.worker_name} and fleet[w2.worker_name]["processes"] == 1,
            "ocrq-admin workers --json: the second worker is a second row", sorted(fleet))
    text = h.admin(["workers"])
    t.check(text.returncode == 0 and name in text.stdout and w2.worker_name in text.stdout
            and "idle" in text.stdout, "ocrq-admin workers: both workers in the text", text.stdout)

    # 4. a PostgreSQL restart
    before = heartbeat(name)
    h.services("pg-stop")
    try:
        time.sleep(6)  # past a beat: one fails
        t.check(w.poll() is None and w2.poll() is None,
                "the supervisors run on while PostgreSQL is down")
    finally:
        h.services("pg-start")
    restarted = h.wait_until(lambda: h.db_query("SELECT now() AS now")[0]["now"], timeout=60,
                             what="PostgreSQL to answer", ignore=(Exception,))
    check_beat(t, name, max(before, restarted), "the supervisor beats again after the restart")
    log = h.log_text(w)
    warned = log.count("cannot record worker")
    t.check(warned == 1 and "recorded in the fleet registry again" in log,
            "the lost beats are logged once, and the beats that work again", warned)

    # 5. a clean stop
    t.check(h.stop_worker(w) == 0, "the supervisor exits 0 on SIGTERM")
    row, procs = worker_row(name), proc_rows(name)
    t.check(row["stopped_at"] is not None, "ocr_workers: stopped_at set at the stop", row)
    t.check(len(procs) == 2 and all(p["state"] == "stopped" and p["pid"] is None for p in procs),
            "ocr_worker_processes: both processes stopped", procs)
    fleet, every = admin_workers(), admin_workers("--all")
    t.check(name not in fleet and w2.worker_name in fleet,
            "ocrq-admin workers leaves the stopped worker out", sorted(fleet))
    t.check(every.get(name, {}).get("state") == "stopped"
            and all(s["state"] == "stopped" for s in every.get(name, {}).get("slots", [])),
            "ocrq-admin workers --all shows it stopped", every.get(name))

    # 6. stale and long silent workers (rows as a supervisor would have left them)
    for ghost, age in (("ghost-stale", "40 seconds"), ("ghost-old", "2 days")):
        h.db_query("INSERT INTO ocr_workers (name, host, pid, processes, version, started_at,"
                   " heartbeat_at) VALUES (%s, 'elsewhere', 1, 0, '0', now() - interval '3 days',"
                   " now() - %s::interval)", (ghost, age))
    fleet, every = admin_workers(), admin_workers("--all")
    t.check(fleet.get("ghost-stale", {}).get("state") == "stale"
            and fleet["ghost-stale"].get("stale") is True,
            "a worker silent for 40 s is stale", fleet.get("ghost-stale"))
    t.check("ghost-old" not in fleet and every.get("ghost-old", {}).get("state") == "stale",
            "a worker silent for two days shows with --all only", sorted(fleet))
    text = h.admin(["workers"])
    t.check("stale" in text.stdout, "ocrq-admin workers: the text says stale", text.stdout)
    t.check(h.stop_worker(w2) == 0, "the second supervisor exits 0 on SIGTERM")

    # 7. usage errors
    for args in (["workers", "extra"], ["workers", "--batch", "b"], ["workers", "--limit", "3"],
                 ["status", "--all"], ["purge", "--finished-before", "1d", "--all"]):
        r = h.admin(args)
        t.check(r.returncode == 2, f"ocrq-admin {' '.join(args)} is a usage error (exit 2)",
                f"exit {r.returncode}: {r.stderr}")

    # 8. a supervisor started while PostgreSQL is down
    h.services("pg-stop")
    try:
        w3 = h.start_worker(processes=2, name=f"{name}-third")
        t.check(len(h.wait_children(w3, 2)) == 2 and w3.poll() is None,
                "a supervisor starts its processes while PostgreSQL is down")
    finally:
        h.services("pg-start")
    h.wait_until(lambda: len(proc_rows(w3.worker_name)) == 2, timeout=120, interval=0.5,
                 what="its rows once PostgreSQL is back", ignore=(Exception,))
    t.check(worker_row(w3.worker_name)["pid"] == w3.pid,
            "once PostgreSQL is back it records itself", worker_row(w3.worker_name))
    t.check(h.stop_worker(w3) == 0, "it exits 0 on SIGTERM")


if __name__ == "__main__":
    h.run(main)
