/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The job outcome statements of ocrq-submit and ocrq-worker: queue, start,
 * succeed (also a first attempt with no start before it), fail and retry.
 * The statements that finish a job also write its webhook event
 * (HOOK_INSERT, the transactional outbox; docs/webhooks.md).
 */
#include "ocrq/db_jobs.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"
#include "ocrq/dynbuf.h"
#include "ocrq/job.h"
#include "ocrq/log.h"
#include "ocrq/status.h"

/*
 * The webhook event of a finished job, inserted by the statement that
 * finishes it (the transactional outbox): at most one per job and type, to
 * the job's webhook_url or else the default URL (none: no event). The body
 * is built here, once, and sent unchanged on every attempt (docs/webhooks.md).
 * It is JSON built in SQL, not with ocrq/json.h: the database is its natural
 * author, as the job's row is at hand in the statement that finishes it.
 */
#define HOOK_INSERT(type, status, code, message, conf, text, cut, default_url)                     \
    " INSERT INTO ocr_webhook_deliveries (event_id, job_id, event_type, url, body)"                \
    " SELECT 'msg_' || replace(gen_random_uuid()::text, '-', ''), job.job_id, '" type "',"         \
    " coalesce(job.webhook_url, " default_url "),"                                                 \
    " jsonb_build_object('type', '" type "', 'timestamp',"                                         \
    " to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), 'data',"             \
    " jsonb_build_object('job_id', job.job_id, 'status', '" status "', 'batch', job.batch,"        \
    " 'metadata', job.metadata, 'mean_confidence', " conf ", 'error_code', " code ","              \
    " 'error_message', " message ", 'text', " text ", 'text_truncated', " cut "))::text"           \
    " FROM job WHERE coalesce(job.webhook_url, " default_url ") IS NOT NULL"                       \
    " ON CONFLICT (job_id, event_type) DO NOTHING"

/*
 * The result and first page of a succeeded job (ST_SUCCEED, ST_SUCCEED_FIRST),
 * after their job CTE: $2 worker, $3 text, $4 confidence, $5 OCR ms, $6
 * engine version, $13-$21 the first page (none when $13 is NULL).
 */
#define SUCCEED_RESULT                                                                             \
    " result AS ("                                                                                 \
    " INSERT INTO ocr_results (job_id, text, mean_confidence, duration_ms, engine_version, "       \
    "worker)"                                                                                      \
    " SELECT job.job_id, $3::text, $4::real, $5::integer, $6::text, $2::text FROM job"             \
    " ON CONFLICT (job_id) DO UPDATE SET text = EXCLUDED.text,"                                    \
    " mean_confidence = EXCLUDED.mean_confidence, duration_ms = EXCLUDED.duration_ms,"             \
    " engine_version = EXCLUDED.engine_version, worker = EXCLUDED.worker, created_at = now()),"    \
    " page AS ("                                                                                   \
    " INSERT INTO ocr_pages (" PAGE_COLS ")"                                                       \
    " SELECT job.job_id, $13::integer, $14::text, $15::real, $16::integer, $17::integer,"          \
    " $18::smallint, $19::integer, $20::text, $21::real"                                           \
    " FROM job WHERE $13::integer IS NOT NULL" PAGE_UPDATE ")"

static const struct ocrq_db_stmt st_queue = {
    ST_QUEUE, "ocrq_jobs_queue", 8,
    "INSERT INTO ocr_jobs (job_id, status, priority, language, source, batch,"
    " webhook_url, metadata, submitted_at)"
    " SELECT u.id, 'queued', u.pri, u.lang, u.src, u.bat, u.hook, u.meta::jsonb,"
    " coalesce(u.sub, now())"
    " FROM unnest($1::uuid[], $2::smallint[], $3::text[], $4::text[], $5::text[],"
    " $6::text[], $7::text[], $8::timestamptz[])"
    " AS u(id, pri, lang, src, bat, hook, meta, sub)"
    " ON CONFLICT (job_id) DO NOTHING"};

/*
 * The start commits asynchronously (set_config(..., true) lasts until
 * the end of this statement's transaction): no WAL flush to wait for.
 * Losing it in a database crash only makes a redelivery count one
 * attempt fewer. The outcome statements below commit synchronously, and
 * their flush covers every start written before them.
 */
static const struct ocrq_db_stmt st_start = {
    ST_START, "ocrq_job_start", 9,
    "INSERT INTO ocr_jobs AS j (job_id, status, priority, language, source, batch,"
    " webhook_url, metadata, attempts, submitted_at, started_at, worker)"
    " SELECT $1::uuid, 'running', $2::smallint, $3::text, $4::text, $5::text,"
    " $6::text, $7::jsonb, 1, coalesce($8::timestamptz, now()), now(), $9::text"
    " FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async"
    " ON CONFLICT (job_id) DO UPDATE SET"
    " status = CASE WHEN " FINAL " THEN j.status ELSE 'running' END,"
    " attempts = CASE WHEN " FINAL " THEN j.attempts ELSE j.attempts + 1 END,"
    " started_at = CASE WHEN " FINAL " THEN j.started_at ELSE now() END,"
    " worker = CASE WHEN " FINAL " THEN j.worker ELSE EXCLUDED.worker END,"
    " updated_at = CASE WHEN " FINAL " THEN j.updated_at ELSE now() END"
    " RETURNING j.status, j.attempts"};

/*
 * The job row normally exists (ocrq_db_job_start ran first). Should it
 * not, the upsert creates it (language ''), so the result row's foreign
 * key always holds and the outcome is never lost. A canceled row stays
 * canceled: no result row and no event are written for it.
 */
/*
 * $12, when not NULL, is the document's page count (pages_total and
 * pages_done); $13-$21, when $13 is not NULL, its first page (PAGE_VALS
 * less the job), so that a one-page result is one statement, one round
 * trip and one commit (db_pages.c).
 */
const struct ocrq_db_stmt ocrq_db_st_succeed = {
    ST_SUCCEED, "ocrq_job_succeed", 21,
    "WITH job AS ("
    " INSERT INTO ocr_jobs AS j (job_id, status, language, finished_at, worker,"
    " doc_sha256, ocr_options, dedupe_of, pages_total, pages_done)"
    " VALUES ($1::uuid, 'succeeded', '', now(), $2::text,"
    " decode($9::text, 'hex'), $10::text, $11::uuid, $12::integer, $12::integer)"
    " ON CONFLICT (job_id) DO UPDATE SET status = 'succeeded',"
    " finished_at = now(), worker = coalesce(EXCLUDED.worker, j.worker),"
    " error_code = NULL, error_message = NULL, updated_at = now(),"
    " doc_sha256 = EXCLUDED.doc_sha256, ocr_options = EXCLUDED.ocr_options,"
    " dedupe_of = EXCLUDED.dedupe_of,"
    " pages_total = coalesce($12::integer, j.pages_total),"
    " pages_done = coalesce($12::integer, j.pages_done)"
    " WHERE j.status <> 'canceled'"
    " RETURNING j.job_id, j.batch, j.metadata, j.webhook_url)," SUCCEED_RESULT HOOK_INSERT(
        "job.succeeded", "succeeded", "NULL::text", "NULL::text", "$4::real",
        "left($3::text, $8::integer)", "length($3::text) > $8::integer", "$7::text")};

/*
 * A first attempt with no start before it (a small image: pipeline.c):
 * the start and the outcome in one statement. $1-$21 as for ST_SUCCEED,
 * $22-$28 the job's fields as for ST_START. Only a job that is not final
 * yet is recorded; its one row is the count of jobs recorded (0: a
 * repeat, or canceled).
 */
static const struct ocrq_db_stmt st_succeed_first = {
    ST_SUCCEED_FIRST, "ocrq_job_succeed_first", 28,
    "WITH job AS ("
    " INSERT INTO ocr_jobs AS j (job_id, status, priority, language, source,"
    " batch, webhook_url, metadata, attempts, submitted_at, started_at,"
    " finished_at, worker, doc_sha256, ocr_options, dedupe_of, pages_total,"
    " pages_done)"
    " VALUES ($1::uuid, 'succeeded', $22::smallint, $23::text, $24::text,"
    " $25::text, $26::text, $27::jsonb, 1, coalesce($28::timestamptz, now()),"
    " now() - make_interval(secs => $5::integer / 1000.0), now(), $2::text,"
    " decode($9::text, 'hex'), $10::text, $11::uuid, $12::integer,"
    " $12::integer)"
    " ON CONFLICT (job_id) DO UPDATE SET status = 'succeeded',"
    " attempts = j.attempts + 1, started_at = EXCLUDED.started_at,"
    " finished_at = now(), worker = EXCLUDED.worker, error_code = NULL,"
    " error_message = NULL, updated_at = now(),"
    " doc_sha256 = EXCLUDED.doc_sha256, ocr_options = EXCLUDED.ocr_options,"
    " dedupe_of = EXCLUDED.dedupe_of, pages_total = EXCLUDED.pages_total,"
    " pages_done = EXCLUDED.pages_done"
    " WHERE NOT (" FINAL ")"
    " RETURNING j.job_id, j.batch, j.metadata, j.webhook_url)," SUCCEED_RESULT
    ", hook AS (" HOOK_INSERT("job.succeeded", "succeeded", "NULL::text", "NULL::text", "$4::real",
                              "left($3::text, $8::integer)", "length($3::text) > $8::integer",
                              "$7::text") ") SELECT count(*) FROM job"};

/*
 * A succeeded row stays succeeded (its result row is the truth); a
 * canceled one canceled. The pages a document recorded as it went
 * (progress) go with the failure: a job has all its pages or none.
 */
static const struct ocrq_db_stmt st_fail = {
    ST_FAIL, "ocrq_job_fail", 12,
    "WITH job AS ("
    " INSERT INTO ocr_jobs AS j (job_id, status, priority, language, source, batch,"
    " webhook_url, metadata, submitted_at, finished_at, worker, error_code,"
    " error_message)"
    " VALUES ($1::uuid, 'failed', coalesce($2::smallint, 0), coalesce($3::text, ''),"
    " $4::text, $5::text, $6::text, $7::jsonb, coalesce($8::timestamptz, now()),"
    " now(), $9::text, $10::text, $11::text)"
    " ON CONFLICT (job_id) DO UPDATE SET status = 'failed', finished_at = now(),"
    " worker = coalesce(EXCLUDED.worker, j.worker),"
    " error_code = EXCLUDED.error_code, error_message = EXCLUDED.error_message,"
    " updated_at = now(), pages_done = NULL, pages_total = NULL"
    " WHERE j.status NOT IN ('succeeded', 'canceled')"
    " RETURNING j.job_id, j.batch, j.metadata, j.webhook_url, j.error_code,"
    " j.error_message),"
    " gone AS (DELETE FROM ocr_pages AS p USING job WHERE p.job_id = job.job_id)" HOOK_INSERT(
        "job.failed", "failed", "job.error_code", "job.error_message", "NULL::real", "NULL::text",
        "false", "$12::text")};

/* as for fail: the pages recorded so far go; the next attempt records them again */
static const struct ocrq_db_stmt st_retry = {
    ST_RETRY, "ocrq_job_retry", 3,
    "WITH job AS (UPDATE ocr_jobs AS j SET status = 'queued', error_code = $2::text,"
    " error_message = $3::text, updated_at = now(), pages_done = NULL,"
    " pages_total = NULL"
    " WHERE j.job_id = $1::uuid AND NOT (" FINAL ") RETURNING j.job_id)"
    " DELETE FROM ocr_pages AS p USING job WHERE p.job_id = job.job_id"};

/*
 * A job's own fields as text parameters, in the order of ST_START's $2-$8:
 * priority, language, source, batch, webhook_url, metadata, submitted_at.
 * pri holds the priority's text.
 */
static void job_fields(const struct ocrq_job *job, char *pri, size_t prilen, const char **p)
{
    p[0] = ocrq_db_priority_text(job->priority, pri, prilen);
    p[1] = job->language ? job->language : "";
    p[2] = job->source;
    p[3] = job->batch;
    p[4] = job->webhook_url;
    p[5] = job->metadata;
    p[6] = ocrq_db_timestamp_ok(job->submitted_at) ? job->submitted_at : NULL;
}

/*
 * Insert jobs[0..n-1] as 'queued' with one statement: each column goes as
 * one array-literal parameter, unnested server-side. Existing rows are left
 * alone. Returns OCRQ_OK, OCRQ_ERR_INVALID (a bad job id), OCRQ_ERR_NOMEM,
 * OCRQ_ERR_TOO_LARGE (a column over MAX_PARAM_BYTES) or OCRQ_ERR_DB.
 */
int ocrq_db_jobs_queue(struct ocrq_db *db, const struct ocrq_job *const *jobs, size_t n)
{
    struct ocrq_dynbuf col[8];
    const char *params[8];
    PGresult *res = NULL;
    int st = OCRQ_OK;

    for (int c = 0; c < 8; c++)
        ocrq_db_array_init(&col[c]);
    if (!db || (n > 0 && !jobs))
        return OCRQ_ERR_INVALID;
    if (n == 0)
        return OCRQ_OK;
    for (int c = 0; c < 8; c++)
        ocrq_dynbuf_add(&col[c], "{", 1);
    for (size_t i = 0; i < n; i++) {
        const struct ocrq_job *job = jobs[i];
        char pri[8];

        if (!job || (st = ocrq_db_id_ok(job->job_id, st_queue.name)) != OCRQ_OK) {
            st = OCRQ_ERR_INVALID;
            goto out;
        }
        for (int c = 0; c < 8 && i > 0; c++)
            ocrq_dynbuf_add(&col[c], ",", 1);
        const char *fields[7];
        job_fields(job, pri, sizeof pri, fields);
        ocrq_db_array_elem(&col[0], job->job_id);
        for (int c = 0; c < 7; c++)
            ocrq_db_array_elem(&col[c + 1], fields[c]);
    }
    for (int c = 0; c < 8; c++) {
        ocrq_dynbuf_add(&col[c], "}", 1);
        if (ocrq_dynbuf_status(&col[c]) != OCRQ_OK) {
            st = ocrq_dynbuf_status(&col[c]);
            log_error(NULL, "db: %s: %zu jobs: %s", st_queue.name, n, ocrq_strerror(st));
            goto out;
        }
        params[c] = ocrq_dynbuf_ptr(&col[c]);
    }
    st = ocrq_db_stmt_run(db, &st_queue, params, PGRES_COMMAND_OK, NULL, &res);
out:
    PQclear(res);
    for (int c = 0; c < 8; c++)
        ocrq_dynbuf_free(&col[c]);
    return st;
}

/*
 * Upsert job as started by worker in one round trip; see db.h. out gets the
 * status and attempts after the call. Returns OCRQ_OK, OCRQ_ERR_INVALID or
 * OCRQ_ERR_DB (logged once with the job id).
 */
int ocrq_db_job_start_send(struct ocrq_db *db, const struct ocrq_job *job, const char *worker)
{
    const char *params[9];
    char pri[8];
    int st;

    if (!db || !job)
        return OCRQ_ERR_INVALID;
    st = ocrq_db_id_ok(job->job_id, st_start.name);
    if (st != OCRQ_OK)
        return st;
    params[0] = job->job_id;
    job_fields(job, pri, sizeof pri, params + 1);
    params[8] = worker;
    return ocrq_db_stmt_send(db, &st_start, params, job->job_id);
}

int ocrq_db_job_start_recv(struct ocrq_db *db, const char *job_id, struct ocrq_db_start *out)
{
    PGresult *res = NULL;
    int st;

    if (out)
        memset(out, 0, sizeof *out);
    if (!db || !out)
        return OCRQ_ERR_INVALID;
    st = ocrq_db_stmt_recv(db, &st_start, PGRES_TUPLES_OK, job_id, &res);
    if (st != OCRQ_OK)
        goto out;
    if (PQntuples(res) != 1) {
        ocrq_db_log_failure(job_id, st_start.name, db->conn, NULL);
        st = OCRQ_ERR_DB;
        goto out;
    }
    snprintf(out->status, sizeof out->status, "%s", PQgetvalue(res, 0, 0));
    out->attempts = atoi(PQgetvalue(res, 0, 1));
out:
    PQclear(res);
    return st;
}

int ocrq_db_job_start(struct ocrq_db *db, const struct ocrq_job *job, const char *worker,
                      struct ocrq_db_start *out)
{
    int st;

    if (out)
        memset(out, 0, sizeof *out);
    if (!db || !job || !out)
        return OCRQ_ERR_INVALID;
    st = ocrq_db_job_start_send(db, job, worker);
    if (st != OCRQ_OK)
        return st;
    return ocrq_db_job_start_recv(db, job->job_id, out);
}

/*
 * Store res and mark job_id succeeded in one statement (one implicit
 * transaction); returns after COMMIT. Returns OCRQ_OK, OCRQ_ERR_INVALID or
 * OCRQ_ERR_DB (logged once with the job id).
 */
int ocrq_db_job_succeed(struct ocrq_db *db, const char *job_id, const char *worker,
                        const struct ocrq_db_result *res)
{
    return ocrq_db_job_succeed_with(db, job_id, worker, res, -1, NULL);
}

/* $1-$21 of ST_SUCCEED and ST_SUCCEED_FIRST into params; the buffers hold the numbers. */
struct succeed_text {
    char conf[32], ms[16], count[16];
    struct ocrq_db_page_text page;
};

static void succeed_params(const char *job_id, const char *worker, const struct ocrq_db *db,
                           const struct ocrq_db_result *res, int pages,
                           const struct ocrq_db_page *first, struct succeed_text *b,
                           const char **params)
{
    snprintf(b->conf, sizeof b->conf, "%.3f", res->mean_confidence);
    snprintf(b->ms, sizeof b->ms, "%d", res->duration_ms);
    params[0] = job_id;
    params[1] = worker;
    params[2] = res->text ? res->text : "";
    params[3] = b->conf;
    params[4] = b->ms;
    params[5] = res->engine_version;
    params[6] = db->hook_url;
    params[7] = db->hook_cap;
    params[8] = res->doc_sha256;
    params[9] = res->options;
    params[10] = res->dedupe_of;
    params[11] = NULL;
    if (pages >= 0) {
        snprintf(b->count, sizeof b->count, "%d", pages);
        params[11] = b->count;
    }
    for (int i = 12; i < 21; i++)
        params[i] = NULL;
    if (first) { /* PAGE_VALS' $2-$10 into $13-$21 */
        const char *pp[10];
        ocrq_db_page_params(first, &b->page, pp);
        for (int i = 1; i < 10; i++)
            params[11 + i] = pp[i];
    }
}

int ocrq_db_job_succeed_with(struct ocrq_db *db, const char *job_id, const char *worker,
                             const struct ocrq_db_result *res, int pages,
                             const struct ocrq_db_page *first)
{
    const char *params[21];
    struct succeed_text b;
    PGresult *pr = NULL;
    int st;

    if (!db || !res)
        return OCRQ_ERR_INVALID;
    st = ocrq_db_id_ok(job_id, ocrq_db_st_succeed.name);
    if (st != OCRQ_OK)
        return st;
    succeed_params(job_id, worker, db, res, pages, first, &b, params);
    st = ocrq_db_stmt_run(db, &ocrq_db_st_succeed, params, PGRES_COMMAND_OK, job_id, &pr);
    PQclear(pr);
    return st;
}

int ocrq_db_job_succeed_first(struct ocrq_db *db, const struct ocrq_job *job, const char *worker,
                              const struct ocrq_db_result *res, const struct ocrq_db_page *page,
                              int *recorded)
{
    const char *params[28];
    struct succeed_text b;
    char pri[8];
    PGresult *pr = NULL;
    int st;

    *recorded = 0;
    if (!db || !job || !res || !page || db->batching)
        return OCRQ_ERR_INVALID;
    st = ocrq_db_id_ok(job->job_id, st_succeed_first.name);
    if (st != OCRQ_OK)
        return st;
    succeed_params(job->job_id, worker, db, res, 1, page, &b, params);
    job_fields(job, pri, sizeof pri, params + 21);
    st = ocrq_db_stmt_run(db, &st_succeed_first, params, PGRES_TUPLES_OK, job->job_id, &pr);
    if (st == OCRQ_OK && PQntuples(pr) == 1)
        *recorded = atoi(PQgetvalue(pr, 0, 0)) > 0;
    PQclear(pr);
    return st;
}

/*
 * Mark job_id failed with code and message (message capped at
 * MAX_ERROR_MESSAGE bytes), creating the row from job (or from nothing when
 * job is NULL). A succeeded row is left as it is. Returns OCRQ_OK,
 * OCRQ_ERR_INVALID or OCRQ_ERR_DB (logged once with the job id).
 */
int ocrq_db_job_fail(struct ocrq_db *db, const char *job_id, const struct ocrq_job *job,
                     const char *worker, const char *code, const char *message)
{
    const char *params[12] = {0};
    char pri[8];
    char msg[MAX_ERROR_MESSAGE];
    PGresult *res = NULL;
    int st;

    if (!db)
        return OCRQ_ERR_INVALID;
    st = ocrq_db_id_ok(job_id, st_fail.name);
    if (st != OCRQ_OK)
        return st;
    params[0] = job_id;
    if (job)
        job_fields(job, pri, sizeof pri, params + 1);
    params[8] = worker;
    params[9] = code;
    params[10] = ocrq_db_capped(message, msg, sizeof msg);
    params[11] = db->hook_url;
    st = ocrq_db_stmt_run(db, &st_fail, params, PGRES_COMMAND_OK, job_id, &res);
    PQclear(res);
    return st;
}

/*
 * Put job_id back to 'queued' with the error for display, unless it is
 * final (or has no row: then nothing changes). Returns OCRQ_OK,
 * OCRQ_ERR_INVALID or OCRQ_ERR_DB (logged once with the job id).
 */
int ocrq_db_job_retry(struct ocrq_db *db, const char *job_id, const char *code, const char *message)
{
    const char *params[3];
    char msg[MAX_ERROR_MESSAGE];
    PGresult *res = NULL;
    int st;

    if (!db)
        return OCRQ_ERR_INVALID;
    st = ocrq_db_id_ok(job_id, st_retry.name);
    if (st != OCRQ_OK)
        return st;
    params[0] = job_id;
    params[1] = code;
    params[2] = ocrq_db_capped(message, msg, sizeof msg);
    st = ocrq_db_stmt_run(db, &st_retry, params, PGRES_COMMAND_OK, job_id, &res);
    PQclear(res);
    return st;
}
