/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The fleet registry in the PostgreSQL store (ocrq/db.h, common/db_fleet.c,
 * docs/fleet.md): each supervisor records itself and its OCR processes in
 * ocr_workers and ocr_worker_processes (worker/registry.c), and ocrq-admin
 * workers (and the dashboard) read them back. Same rules as db.h.
 */
#ifndef OCRQ_DB_FLEET_H
#define OCRQ_DB_FLEET_H

struct ocrq_db;

#define OCRQ_DB_FLEET_SCHEMA 14 /* migration 14: ocr_workers, ocr_worker_processes */
#define OCRQ_FLEET_BEAT_S 5     /* a supervisor records itself this often */
#define OCRQ_FLEET_STALE_S 30   /* a heartbeat older than this: stale */
#define OCRQ_FLEET_HIDE_S 86400 /* without --all, workers silent this long are left out */

/* One OCR process (a slot of the supervisor), as written and as read back. */
struct ocrq_db_fleet_proc {
    int slot;
    int pid;            /* 0: none runs in the slot */
    const char *state;  /* "idle", "busy", "starting" or "stopped" */
    const char *job_id; /* the job it runs; NULL: none */
    long long job_ms;   /* how long that job has run, ms */
    long long jobs_done;
    const char *updated_at; /* read back only: its supervisor's last beat that wrote it */
};

/* What a supervisor records about itself on each beat. */
struct ocrq_db_fleet_beat {
    const char *name, *host, *version;
    int pid;
    long long up_ms; /* since it started (its started_at is now() minus this) */
    int stopped;     /* its last beat: stopped_at is set */
    const struct ocrq_db_fleet_proc *procs;
    int n_procs; /* also its processes; rows of higher slots are deleted */
};

/*
 * Upsert the supervisor's ocr_workers row (heartbeat_at now(); stopped_at
 * now() with b->stopped, else NULL) and its process rows, in one
 * transaction of one round trip. A new pid or host under the name starts
 * it over (started_at). Returns OCRQ_OK, OCRQ_ERR_INVALID or OCRQ_ERR_DB
 * (logged once). Needs schema OCRQ_DB_FLEET_SCHEMA.
 */
int ocrq_db_fleet_beat(struct ocrq_db *db, const struct ocrq_db_fleet_beat *b);

/* One worker as read back; strings borrowed for the call. Times RFC 3339 UTC. */
struct ocrq_db_fleet_worker {
    const char *name, *host, *version;
    int pid, processes;
    const char *started_at, *heartbeat_at;
    const char *stopped_at; /* NULL: running */
    double heartbeat_age_s; /* how long ago its last beat was (the database's clock) */
    int stale;              /* not stopped, and silent for over OCRQ_FLEET_STALE_S */
    const struct ocrq_db_fleet_proc *procs; /* by slot; job_ms up to the database's now() */
    int n_procs;
};
typedef void (*ocrq_db_fleet_fn)(void *arg, const struct ocrq_db_fleet_worker *w);

/*
 * Call fn for each worker, by name: all of them with all, else those not
 * stopped whose last beat is under OCRQ_FLEET_HIDE_S old. Returns OCRQ_OK,
 * OCRQ_ERR_NOMEM or OCRQ_ERR_DB (logged once).
 */
int ocrq_db_fleet_list(struct ocrq_db *db, int all, ocrq_db_fleet_fn fn, void *arg);

#endif
