/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The dashboard's reads (ocrq/db_ui.h): one statement each, PostgreSQL
 * building the JSON document, as common/db_api.c does for /v1. The
 * per-minute and percentile figures read the last hour through
 * ocr_jobs_finished_idx (migration 12); the webhook counts through the
 * partial indexes on pending and failed deliveries. The workers come from
 * the fleet registry (ocrq/db_fleet.h, migration 14).
 */
#include "ocrq/db_ui.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"
#include "ocrq/db_fleet.h"
#include "ocrq/status.h"
#include "ocrq/uuid.h"

/* After a timestamptz column in to_char(: the column as RFC 3339 UTC (NULL stays NULL). */
#define UTC " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

static const char overview_sql[] =
    "SELECT json_build_object("
    " 'queues', json_build_object('normal', $1::int, 'priority', $2::int, 'retry', $3::int,"
    "   'failed', $4::int),"
    " 'jobs', (SELECT coalesce(json_object_agg(status, n), '{}'::json)"
    "   FROM (SELECT status, count(*) AS n FROM ocr_jobs GROUP BY status) AS s),"
    " 'jobs_per_minute', (SELECT json_agg(json_build_object('minute', to_char(m.m" UTC ","
    "     'succeeded', coalesce(f.succeeded, 0), 'failed', coalesce(f.failed, 0),"
    "     'canceled', coalesce(f.canceled, 0)) ORDER BY m.m)"
    "   FROM generate_series(date_trunc('minute', now()) - interval '59 minutes',"
    "     date_trunc('minute', now()), interval '1 minute') AS m (m)"
    "   LEFT JOIN (SELECT date_trunc('minute', finished_at) AS m,"
    "       count(*) FILTER (WHERE status = 'succeeded') AS succeeded,"
    "       count(*) FILTER (WHERE status = 'failed') AS failed,"
    "       count(*) FILTER (WHERE status = 'canceled') AS canceled"
    "     FROM ocr_jobs WHERE finished_at >= date_trunc('minute', now()) - interval '59 minutes'"
    "       AND status IN ('succeeded', 'failed', 'canceled')"
    "     GROUP BY 1) AS f ON f.m = m.m),"
    " 'ocr_ms', (SELECT json_build_object("
    "     'p50', percentile_cont(0.5) WITHIN GROUP (ORDER BY r.duration_ms),"
    "     'p90', percentile_cont(0.9) WITHIN GROUP (ORDER BY r.duration_ms),"
    "     'p99', percentile_cont(0.99) WITHIN GROUP (ORDER BY r.duration_ms),"
    "     'n', count(r.duration_ms))"
    "   FROM ocr_jobs AS j JOIN ocr_results AS r ON r.job_id = j.job_id"
    "   WHERE j.finished_at >= now() - interval '1 hour'"
    "     AND j.status IN ('succeeded', 'failed', 'canceled') AND r.duration_ms IS NOT NULL),"
    " 'webhooks', json_build_object("
    "   'pending', (SELECT count(*) FROM ocr_webhook_deliveries WHERE status = 'pending'),"
    "   'failed', (SELECT count(*) FROM ocr_webhook_deliveries WHERE status = 'failed'))"
    ")::text";

/* $1 status, $2 batch, $3 error code, $4 since, $5 until: each NULL for no filter */
#define JOBS_WHERE                                                                                 \
    " WHERE ($1::text IS NULL OR status = $1::text) AND ($2::text IS NULL OR batch = $2::text)"    \
    " AND ($3::text IS NULL OR error_code = $3::text)"                                             \
    " AND ($4::timestamptz IS NULL OR submitted_at >= $4::timestamptz)"                            \
    " AND ($5::timestamptz IS NULL OR submitted_at < $5::timestamptz)"

static const char jobs_sql[] =
    "SELECT json_build_object("
    " 'jobs', (SELECT coalesce(json_agg(json_build_object('job_id', job_id, 'status', status,"
    "     'batch', batch, 'priority', priority, 'language', language, 'source', source,"
    "     'error_code', error_code, 'submitted_at', to_char(submitted_at" UTC ","
    "     'started_at', to_char(started_at" UTC ", 'finished_at', to_char(finished_at" UTC ")"
    "     ORDER BY submitted_at DESC, job_id DESC), '[]'::json)"
    "   FROM (SELECT * FROM ocr_jobs" JOBS_WHERE
    "     ORDER BY submitted_at DESC, job_id DESC LIMIT $6::int OFFSET $7::int) AS x),"
    " 'page', $8::int, 'per_page', $6::int,"
    " 'total', (SELECT count(*) FROM ocr_jobs" JOBS_WHERE "))::text";

static const char job_sql[] =
    "SELECT json_build_object("
    " 'job', json_build_object('job_id', j.job_id, 'status', j.status, 'batch', j.batch,"
    "   'priority', j.priority, 'language', j.language, 'source', j.source,"
    "   'api_key', j.api_key, 'attempts', j.attempts, 'worker', j.worker,"
    "   'error_code', j.error_code, 'error_message', j.error_message,"
    "   'pages_total', j.pages_total, 'pages_done', j.pages_done,"
    "   'submitted_at', to_char(j.submitted_at" UTC ","
    "   'started_at', to_char(j.started_at" UTC ","
    "   'finished_at', to_char(j.finished_at" UTC "),"
    " 'timeline', (SELECT coalesce(json_agg(json_build_object('at', to_char(t.ts" UTC ","
    "     'event', t.event, 'detail', t.detail) ORDER BY t.ts, t.ord), '[]'::json)"
    "   FROM (SELECT j.submitted_at AS ts, 1 AS ord, 'submitted' AS event,"
    "       coalesce('batch ' || j.batch, '') AS detail"
    "     UNION ALL SELECT j.started_at, 2, 'started',"
    "       coalesce('worker ' || j.worker, '') || ' attempt ' || j.attempts"
    "       WHERE j.started_at IS NOT NULL"
    "     UNION ALL SELECT j.finished_at, 3, 'finished',"
    "       j.status || coalesce(': ' || j.error_code, '') WHERE j.finished_at IS NOT NULL"
    "     UNION ALL SELECT a.started_at, 4, 'webhook_attempt',"
    "       d.event_type || ' attempt ' || a.attempt || ': '"
    "       || coalesce('HTTP ' || a.http_status, a.error, 'no answer')"
    "     FROM ocr_webhook_attempts AS a JOIN ocr_webhook_deliveries AS d ON d.id = a.delivery_id"
    "     WHERE d.job_id = j.job_id) AS t),"
    " 'pages', (SELECT coalesce(json_agg(json_build_object('page_no', p.page_no,"
    "     'mean_conf', p.mean_conf, 'width', p.width, 'height', p.height,"
    "     'duration_ms', p.duration_ms, 'method', p.method) ORDER BY p.page_no), '[]'::json)"
    "   FROM ocr_pages AS p WHERE p.job_id = j.job_id),"
    " 'webhooks', (SELECT coalesce(json_agg(json_build_object('id', d.id,"
    "     'event_type', d.event_type, 'url', d.url, 'status', d.status, 'attempts', d.attempts,"
    "     'last_http_status', d.last_http_status, 'last_error', d.last_error) ORDER BY d.id),"
    "     '[]'::json) FROM ocr_webhook_deliveries AS d WHERE d.job_id = j.job_id),"
    " 'text', (SELECT r.text FROM ocr_results AS r WHERE r.job_id = j.job_id)"
    ")::text FROM ocr_jobs AS j WHERE j.job_id = $1::uuid";

/* $1 stale after, $2 left out after (seconds): running workers by name, their slots by slot */
static const char workers_sql[] =
    "SELECT json_build_object('workers', coalesce(json_agg(json_build_object("
    " 'name', w.name, 'host', w.host, 'pid', w.pid, 'processes', w.processes,"
    " 'version', w.version, 'started_at', to_char(w.started_at" UTC ","
    " 'heartbeat_at', to_char(w.heartbeat_at" UTC ","
    " 'stopped_at', to_char(w.stopped_at" UTC ","
    " 'heartbeat_age_s', round(extract(epoch FROM now() - w.heartbeat_at)::numeric, 1),"
    " 'stale', w.heartbeat_at < now() - $1::int * interval '1 second',"
    " 'slots', (SELECT coalesce(json_agg(json_build_object('slot', p.slot, 'pid', p.pid,"
    "     'state', p.state, 'job_id', p.job_id, 'job_started_at', to_char(p.job_started_at" UTC ","
    "     'jobs_done', p.jobs_done) ORDER BY p.slot), '[]'::json)"
    "   FROM ocr_worker_processes AS p WHERE p.worker = w.name)"
    ") ORDER BY w.name), '[]'::json))::text"
    " FROM ocr_workers AS w"
    " WHERE w.stopped_at IS NULL AND w.heartbeat_at > now() - $2::int * interval '1 second'";

static const char admin_sql[] = "SELECT count(*)::int FROM ocr_api_keys"
                                " WHERE name = $1::text AND role = 'admin' AND revoked_at IS NULL";

int ocrq_db_ui_overview(struct ocrq_db *db, const unsigned depth[4], char **json)
{
    char v[4][16];
    const char *params[4];

    for (int i = 0; i < 4; i++) {
        snprintf(v[i], sizeof v[i], "%u", depth[i]);
        params[i] = v[i];
    }
    return ocrq_db_text_one(db, "ui_overview", overview_sql, 4, params, json);
}

int ocrq_db_ui_jobs(struct ocrq_db *db, const struct ocrq_db_ui_filter *f, char **json)
{
    char limit[16], offset[24], page[16];
    const char *params[8] = {f->status, f->batch, f->code, f->since, f->until, limit, offset, page};

    snprintf(limit, sizeof limit, "%d", f->per_page);
    snprintf(offset, sizeof offset, "%lld", (long long)(f->page - 1) * f->per_page);
    snprintf(page, sizeof page, "%d", f->page);
    return ocrq_db_text_one(db, "ui_jobs", jobs_sql, 8, params, json);
}

int ocrq_db_ui_job(struct ocrq_db *db, const char *id, char **json)
{
    const char *params[1] = {id};

    *json = NULL;
    if (!ocrq_uuid_valid(id))
        return OCRQ_ERR_NOT_FOUND;
    return ocrq_db_text_one(db, "ui_job", job_sql, 1, params, json);
}

int ocrq_db_ui_workers(struct ocrq_db *db, char **json)
{
    char stale[16], hide[16];
    const char *params[2] = {stale, hide};

    snprintf(stale, sizeof stale, "%d", OCRQ_FLEET_STALE_S);
    snprintf(hide, sizeof hide, "%d", OCRQ_FLEET_HIDE_S);
    return ocrq_db_text_one(db, "ui_workers", workers_sql, 2, params, json);
}

int ocrq_db_ui_admin_active(struct ocrq_db *db, const char *name, int *active)
{
    const char *params[1] = {name};
    PGresult *res = NULL;
    int st = ocrq_db_params(db, "ui_admin_active", admin_sql, 1, params, 1, &res);

    *active = st == OCRQ_OK && PQntuples(res) == 1 && atoi(PQgetvalue(res, 0, 0)) > 0;
    PQclear(res);
    return st;
}
