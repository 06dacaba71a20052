/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The fleet registry's statements (ocrq/db_fleet.h): a supervisor's beat,
 * which upserts its ocr_workers row and its ocr_worker_processes rows in
 * one pipelined transaction, and the list that ocrq-admin workers prints.
 * Unprepared: a beat every few seconds gains nothing from a named statement.
 */
#include "ocrq/db_fleet.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"
#include "ocrq/status.h"
#include "ocrq/uuid.h"

/* A timestamptz column as RFC 3339 UTC, to the second. */
#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* started_at stays while the same process (pid and host) beats under the name. */
static const char upsert_worker[] =
    "INSERT INTO ocr_workers AS w"
    " (name, host, pid, processes, version, started_at, heartbeat_at, stopped_at)"
    " VALUES ($1::text, $2::text, $3::integer, $4::integer, $5::text,"
    "  now() - $6::bigint * interval '1 millisecond', now(),"
    "  CASE WHEN $7::boolean THEN now() END)"
    " ON CONFLICT (name) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid,"
    "  processes = EXCLUDED.processes, version = EXCLUDED.version,"
    "  started_at = CASE WHEN w.pid = EXCLUDED.pid AND w.host = EXCLUDED.host"
    "   THEN w.started_at ELSE EXCLUDED.started_at END,"
    "  heartbeat_at = EXCLUDED.heartbeat_at, stopped_at = EXCLUDED.stopped_at";

/* Slots beyond the processes the supervisor runs now (an earlier start ran more). */
static const char delete_extra[] =
    "DELETE FROM ocr_worker_processes WHERE worker = $1::text AND slot >= $2::integer";

/* job_started_at stays while the same process runs the same job. */
static const char upsert_proc[] =
    "INSERT INTO ocr_worker_processes AS p"
    " (worker, slot, pid, state, job_id, job_started_at, jobs_done, updated_at)"
    " VALUES ($1::text, $2::integer, $3::integer, $4::text, $5::uuid,"
    "  CASE WHEN $5::uuid IS NOT NULL THEN now() - $6::bigint * interval '1 millisecond' END,"
    "  $7::bigint, now())"
    " ON CONFLICT (worker, slot) DO UPDATE SET pid = EXCLUDED.pid, state = EXCLUDED.state,"
    "  job_id = EXCLUDED.job_id,"
    "  job_started_at = CASE WHEN p.job_id = EXCLUDED.job_id AND p.pid = EXCLUDED.pid"
    "   THEN p.job_started_at ELSE EXCLUDED.job_started_at END,"
    "  jobs_done = EXCLUDED.jobs_done, updated_at = EXCLUDED.updated_at";

static const char list_sql[] = "SELECT w.name, w.host, w.pid, w.processes, w.version, " TS(
    "w.started_at") ","
                    " " TS("w.heartbeat_at") ", " TS(
                        "w.stopped_at") ","
                                        " extract(epoch FROM now() - w.heartbeat_at)::float8,"
                                        " p.slot, p.pid, p.state, p.job_id::text,"
                                        " (extract(epoch FROM now() - p.job_started_at) * "
                                        "1000)::bigint, p.jobs_done,"
                                        " " TS("p.updated_at") ""
                                                               " FROM ocr_workers w LEFT JOIN "
                                                               "ocr_worker_processes p ON p.worker "
                                                               "= w.name"
                                                               " WHERE $1::boolean"
                                                               "  OR (w.stopped_at IS NULL AND "
                                                               "w.heartbeat_at > now() - "
                                                               "$2::integer * interval '1 second')"
                                                               " ORDER BY w.name, p.slot";

static int state_ok(const char *s)
{
    static const char *const states[] = {"idle", "busy", "starting", "stopped"};

    for (size_t i = 0; s && i < sizeof(states) / sizeof(states[0]); i++)
        if (strcmp(s, states[i]) == 0)
            return 1;
    return 0;
}

/* One process row of the beat, in the batch. */
static int put_proc(struct ocrq_db *db, const char *worker, const struct ocrq_db_fleet_proc *p)
{
    char slot[16], pid[16], job_ms[32], done[32];
    const char *job = p->job_id && ocrq_uuid_valid(p->job_id) ? p->job_id : NULL;
    const char *params[7] = {worker, slot, p->pid > 0 ? pid : NULL, p->state, job, job_ms, done};

    snprintf(slot, sizeof(slot), "%d", p->slot);
    snprintf(pid, sizeof(pid), "%d", p->pid);
    snprintf(job_ms, sizeof(job_ms), "%lld", p->job_ms > 0 ? p->job_ms : 0);
    snprintf(done, sizeof(done), "%lld", p->jobs_done > 0 ? p->jobs_done : 0);
    return ocrq_db_params(db, "fleet: process", upsert_proc, 7, params, 0, NULL);
}

int ocrq_db_fleet_beat(struct ocrq_db *db, const struct ocrq_db_fleet_beat *b)
{
    char pid[16], procs[16], up[32];
    int st;

    if (!db || !b || !b->name || !*b->name || !b->host || !b->version || b->n_procs < 0 ||
        (b->n_procs > 0 && !b->procs))
        return OCRQ_ERR_INVALID;
    for (int i = 0; i < b->n_procs; i++)
        if (!state_ok(b->procs[i].state))
            return OCRQ_ERR_INVALID;
    snprintf(pid, sizeof(pid), "%d", b->pid);
    snprintf(procs, sizeof(procs), "%d", b->n_procs);
    snprintf(up, sizeof(up), "%lld", b->up_ms > 0 ? b->up_ms : 0);
    const char *wparams[7] = {
        b->name, b->host, pid, procs, b->version, up, b->stopped ? "true" : "false"};
    const char *dparams[2] = {b->name, procs};

    st = ocrq_db_batch_begin(db);
    if (st != OCRQ_OK)
        return st;
    st = ocrq_db_params(db, "fleet: worker", upsert_worker, 7, wparams, 0, NULL);
    if (st == OCRQ_OK)
        st = ocrq_db_params(db, "fleet: extra slots", delete_extra, 2, dparams, 0, NULL);
    for (int i = 0; st == OCRQ_OK && i < b->n_procs; i++)
        st = put_proc(db, b->name, &b->procs[i]);
    if (st != OCRQ_OK) {
        ocrq_db_batch_end(db, 0);
        return st;
    }
    return ocrq_db_batch_end(db, 1);
}

static const char *opt_value(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

int ocrq_db_fleet_list(struct ocrq_db *db, int all, ocrq_db_fleet_fn fn, void *arg)
{
    char hide[16];
    const char *params[2] = {all ? "true" : "false", hide};
    PGresult *res = NULL;
    struct ocrq_db_fleet_proc *procs = NULL;
    int st, n;

    if (!db || !fn)
        return OCRQ_ERR_INVALID;
    snprintf(hide, sizeof(hide), "%d", OCRQ_FLEET_HIDE_S);
    st = ocrq_db_params(db, "fleet: list", list_sql, 2, params, 1, &res);
    if (st != OCRQ_OK)
        return st;
    n = PQntuples(res);
    if (n > 0 && !(procs = calloc((size_t)n, sizeof(*procs)))) {
        PQclear(res);
        return OCRQ_ERR_NOMEM;
    }
    /* one row per process (or one for a worker without any): grouped by worker */
    for (int i = 0; i < n;) {
        const char *stopped_at = opt_value(res, i, 7);
        double age = atof(PQgetvalue(res, i, 8));
        struct ocrq_db_fleet_worker w = {
            .name = PQgetvalue(res, i, 0),
            .host = PQgetvalue(res, i, 1),
            .pid = atoi(PQgetvalue(res, i, 2)),
            .processes = atoi(PQgetvalue(res, i, 3)),
            .version = PQgetvalue(res, i, 4),
            .started_at = PQgetvalue(res, i, 5),
            .heartbeat_at = PQgetvalue(res, i, 6),
            .stopped_at = stopped_at,
            .heartbeat_age_s = age,
            .stale = !stopped_at && age > OCRQ_FLEET_STALE_S,
            .procs = procs,
        };
        int j = i;

        for (; j < n && strcmp(PQgetvalue(res, j, 0), w.name) == 0; j++) {
            const char *job_ms = opt_value(res, j, 13);

            if (PQgetisnull(res, j, 9))
                continue; /* the worker has no process rows */
            procs[w.n_procs++] = (struct ocrq_db_fleet_proc){
                .slot = atoi(PQgetvalue(res, j, 9)),
                .pid = PQgetisnull(res, j, 10) ? 0 : atoi(PQgetvalue(res, j, 10)),
                .state = PQgetvalue(res, j, 11),
                .job_id = opt_value(res, j, 12),
                .job_ms = job_ms ? atoll(job_ms) : 0,
                .jobs_done = atoll(PQgetvalue(res, j, 14)),
                .updated_at = PQgetvalue(res, j, 15),
            };
        }
        fn(arg, &w);
        i = j;
    }
    free(procs);
    PQclear(res);
    return OCRQ_OK;
}
