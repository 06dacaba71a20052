/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The PostgreSQL store over libpq: the connection and the job statements of
 * ocrq-submit, ocrq-worker and ocrq-admin (the schema is in migrations.c). The statements
 * in stmts[] are prepared once per connection, on first use, and again after
 * a reconnect; behind a transaction pool they go unnamed instead. Every call
 * waits under the connection's deadline (db_session.c). Every libpq error is
 * logged here once and returned as OCRQ_ERR_DB; libpq types stay in the db
 * files.
 */
#include "ocrq/db.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"
#include "migrations.h"
#include "ocrq/config.h"
#include "ocrq/job.h"
#include "ocrq/log.h"
#include "ocrq/status.h"
#include "ocrq/uuid.h"

#define MAX_PARAM_BYTES (256u << 20) /* one array parameter of jobs_queue / poll */
#define MAX_ERROR_MESSAGE 2048       /* error_message stored per job */
#define MAX_LOG_DETAIL 400           /* libpq message quoted in a log line */

enum stmt_id {
    ST_QUEUE,
    ST_START,
    ST_SUCCEED,
    ST_SUCCEED_FIRST,
    ST_FAIL,
    ST_RETRY,
    ST_COUNTS,
    ST_COUNTS_BATCH,
    ST_POLL,
    ST_POLL_TEXT,
    ST_POLL_PAGES,
    ST_HOOK_CLAIM,
    ST_HOOK_DONE,
    ST_HOOK_LIST,
    ST_HOOK_LIST_FAILED,
    ST_HOOK_RETRY,
    ST_HOOK_RETRY_FAILED,
    ST_KEY_CREATE,
    ST_KEY_LIST,
    ST_KEY_REVOKE,
    ST_N
};

struct stmt {
    const char *name; /* prepared statement name; also names the operation in logs */
    int nparams;
    const char *sql; /* every parameter has an explicit cast, so no paramTypes */
};

/*
 * Final rows ('succeeded', 'failed', 'canceled') are never reopened by start,
 * fail or retry; only ocrq-admin failed requeue (db_failed.c) resets a failed one.
 */
#define FINAL "j.status IN ('succeeded', 'failed', 'canceled')"

/*
 * The webhook event of a finished job, inserted by the statement that
 * finishes it (the transactional outbox): at most one per job and type, to
 * the job's webhook_url or else the default URL (none: no event). The body
 * is built here, once, and sent unchanged on every attempt (docs/webhooks.md).
 * It is JSON built in SQL, not with ocrq/json.h: the database is its natural
 * author, as the job's row is at hand in the statement that finishes it.
 */
/* Deliveries for ocrq-admin webhooks list, newest first, at most $1. */
#define HOOK_LIST_SQL(where)                                                                       \
    "SELECT d.id, d.event_id, d.job_id, d.event_type, d.url, d.status, d.attempts,"               \
    " d.last_http_status, d.last_error,"                                                         \
    " to_char(d.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"                \
    " to_char(d.next_attempt_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"           \
    " to_char(d.delivered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"               \
    " FROM ocr_webhook_deliveries AS d WHERE " where " ORDER BY d.id DESC LIMIT $1::integer"

#define HOOK_INSERT(type, status, code, message, conf, text, cut, default_url)                    \
    " INSERT INTO ocr_webhook_deliveries (event_id, job_id, event_type, url, body)"              \
    " SELECT 'msg_' || replace(gen_random_uuid()::text, '-', ''), job.job_id, '" type "',"       \
    " coalesce(job.webhook_url, " default_url "),"                                               \
    " jsonb_build_object('type', '" type "', 'timestamp',"                                        \
    " to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), 'data',"             \
    " jsonb_build_object('job_id', job.job_id, 'status', '" status "', 'batch', job.batch,"       \
    " 'metadata', job.metadata, 'mean_confidence', " conf ", 'error_code', " code ","            \
    " 'error_message', " message ", 'text', " text ", 'text_truncated', " cut "))::text"         \
    " FROM job WHERE coalesce(job.webhook_url, " default_url ") IS NOT NULL"                     \
    " ON CONFLICT (job_id, event_type) DO NOTHING"

/*
 * The result and first page of a succeeded job (ST_SUCCEED, ST_SUCCEED_FIRST),
 * after their job CTE: $2 worker, $3 text, $4 confidence, $5 OCR ms, $6
 * engine version, $13-$21 the first page (none when $13 is NULL).
 */
#define SUCCEED_RESULT                                                                             \
    " result AS ("                                                                                 \
    " INSERT INTO ocr_results (job_id, text, mean_confidence, duration_ms, engine_version, worker)" \
    " SELECT job.job_id, $3::text, $4::real, $5::integer, $6::text, $2::text FROM job"             \
    " ON CONFLICT (job_id) DO UPDATE SET text = EXCLUDED.text,"                                    \
    " mean_confidence = EXCLUDED.mean_confidence, duration_ms = EXCLUDED.duration_ms,"             \
    " engine_version = EXCLUDED.engine_version, worker = EXCLUDED.worker, created_at = now()),"    \
    " page AS ("                                                                                   \
    " INSERT INTO ocr_pages (" PAGE_COLS ")"                                                        \
    " SELECT job.job_id, $13::integer, $14::text, $15::real, $16::integer, $17::integer,"          \
    " $18::smallint, $19::integer, $20::text, $21::real"                                           \
    " FROM job WHERE $13::integer IS NOT NULL" PAGE_UPDATE ")"

static const struct stmt stmts[ST_N] = {
    [ST_QUEUE] = {"ocrq_jobs_queue", 8,
                  "INSERT INTO ocr_jobs (job_id, status, priority, language, source, batch,"
                  " webhook_url, metadata, submitted_at)"
                  " SELECT u.id, 'queued', u.pri, u.lang, u.src, u.bat, u.hook, u.meta::jsonb,"
                  " coalesce(u.sub, now())"
                  " FROM unnest($1::uuid[], $2::smallint[], $3::text[], $4::text[], $5::text[],"
                  " $6::text[], $7::text[], $8::timestamptz[])"
                  " AS u(id, pri, lang, src, bat, hook, meta, sub)"
                  " ON CONFLICT (job_id) DO NOTHING"},
    /*
     * The start commits asynchronously (set_config(..., true) lasts until
     * the end of this statement's transaction): no WAL flush to wait for.
     * Losing it in a database crash only makes a redelivery count one
     * attempt fewer. The outcome statements below commit synchronously, and
     * their flush covers every start written before them.
     */
    [ST_START] = {"ocrq_job_start", 9,
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
                  " RETURNING j.status, j.attempts"},
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
    [ST_SUCCEED] = {"ocrq_job_succeed", 21,
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
                    " RETURNING j.job_id, j.batch, j.metadata, j.webhook_url),"
                    SUCCEED_RESULT HOOK_INSERT("job.succeeded", "succeeded", "NULL::text",
                                               "NULL::text", "$4::real",
                                               "left($3::text, $8::integer)",
                                               "length($3::text) > $8::integer", "$7::text")},
    /*
     * A first attempt with no start before it (a small image: pipeline.c):
     * the start and the outcome in one statement. $1-$21 as for ST_SUCCEED,
     * $22-$28 the job's fields as for ST_START. Only a job that is not final
     * yet is recorded; its one row is the count of jobs recorded (0: a
     * repeat, or canceled).
     */
    [ST_SUCCEED_FIRST] = {"ocrq_job_succeed_first", 28,
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
                          " RETURNING j.job_id, j.batch, j.metadata, j.webhook_url),"
                          SUCCEED_RESULT ", hook AS ("
                          HOOK_INSERT("job.succeeded", "succeeded", "NULL::text", "NULL::text",
                                      "$4::real", "left($3::text, $8::integer)",
                                      "length($3::text) > $8::integer", "$7::text")
                          ") SELECT count(*) FROM job"},
    /*
     * A succeeded row stays succeeded (its result row is the truth); a
     * canceled one canceled. The pages a document recorded as it went
     * (progress) go with the failure: a job has all its pages or none.
     */
    [ST_FAIL] = {"ocrq_job_fail", 12,
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
                 " gone AS (DELETE FROM ocr_pages AS p USING job WHERE p.job_id = job.job_id)"
                 HOOK_INSERT("job.failed", "failed", "job.error_code", "job.error_message",
                             "NULL::real", "NULL::text", "false", "$12::text")},
    /* as for fail: the pages recorded so far go; the next attempt records them again */
    [ST_RETRY] = {"ocrq_job_retry", 3,
                  "WITH job AS (UPDATE ocr_jobs AS j SET status = 'queued', error_code = $2::text,"
                  " error_message = $3::text, updated_at = now(), pages_done = NULL,"
                  " pages_total = NULL"
                  " WHERE j.job_id = $1::uuid AND NOT (" FINAL ") RETURNING j.job_id)"
                  " DELETE FROM ocr_pages AS p USING job WHERE p.job_id = job.job_id"},
    /* jobs and their pages by status (pages: of documents read so far; NULL counts 0) */
    [ST_COUNTS] = {"ocrq_counts", 0,
                   "SELECT status, count(*), coalesce(sum(pages_done), 0),"
                   " coalesce(sum(pages_total), 0) FROM ocr_jobs GROUP BY status"},
    [ST_COUNTS_BATCH] = {"ocrq_counts_batch", 1,
                         "SELECT status, count(*), coalesce(sum(pages_done), 0),"
                         " coalesce(sum(pages_total), 0) FROM ocr_jobs WHERE batch = $1::text"
                         " GROUP BY status"},
    [ST_POLL] = {"ocrq_poll_finished", 1,
                 "SELECT j.job_id, j.status, j.error_code, j.error_message,"
                 " NULL::text, j.pages_done FROM ocr_jobs AS j"
                 " WHERE j.job_id = ANY ($1::uuid[]) AND " FINAL},
    [ST_POLL_TEXT] = {"ocrq_poll_finished_text", 1,
                      "SELECT j.job_id, j.status, j.error_code, j.error_message,"
                      " r.text, j.pages_done FROM ocr_jobs AS j LEFT JOIN ocr_results AS r"
                      " ON r.job_id = j.job_id"
                      " WHERE j.job_id = ANY ($1::uuid[]) AND " FINAL},
    /* the pages of the jobs still under way (--wait's progress line) */
    [ST_POLL_PAGES] = {"ocrq_poll_pages", 1,
                       "SELECT coalesce(sum(j.pages_done), 0), coalesce(sum(j.pages_total), 0)"
                       " FROM ocr_jobs AS j WHERE j.job_id = ANY ($1::uuid[]) AND NOT (" FINAL
                       ")"},
    /*
     * Webhook dispatchers: take up to $2 due deliveries for $1 seconds. SKIP
     * LOCKED lets dispatchers on many machines claim side by side; the lease
     * (locked_until) keeps a claimed one from being sent twice at once, and
     * lets another dispatcher take it over if this one dies.
     */
    [ST_HOOK_CLAIM] = {"ocrq_hook_claim", 2,
                       "UPDATE ocr_webhook_deliveries AS d"
                       " SET locked_until = now() + make_interval(secs => $1::integer),"
                       " attempts = d.attempts + 1"
                       " WHERE d.id IN (SELECT id FROM ocr_webhook_deliveries"
                       " WHERE status = 'pending' AND next_attempt_at <= now()"
                       " AND (locked_until IS NULL OR locked_until <= now())"
                       " ORDER BY next_attempt_at LIMIT $2::integer FOR UPDATE SKIP LOCKED)"
                       " RETURNING d.id, d.event_id, d.url, d.body, d.attempts,"
                       " d.attempts - d.retry_base,"
                       /* the secrets of the key that submitted the job (NULL: the global ones) */
                       " (SELECT k.webhook_secret FROM ocr_jobs AS j"
                       "  JOIN ocr_api_keys AS k ON k.name = j.api_key WHERE j.job_id = d.job_id),"
                       " (SELECT k.webhook_secret_prev FROM ocr_jobs AS j"
                       "  JOIN ocr_api_keys AS k ON k.name = j.api_key WHERE j.job_id = d.job_id"
                       "  AND k.webhook_secret_prev_until > now())"},
    /* One attempt's outcome: the attempt row, and the delivery's new state, together. */
    [ST_HOOK_DONE] = {"ocrq_hook_done", 8,
                      "WITH attempt AS (INSERT INTO ocr_webhook_attempts"
                      " (delivery_id, attempt, started_at, http_status, error, duration_ms)"
                      " VALUES ($1::bigint, $2::integer, to_timestamp($3::double precision),"
                      " $4::integer, $5::text, $6::integer))"
                      " UPDATE ocr_webhook_deliveries SET status = $7::text,"
                      " last_http_status = $4::integer, last_error = $5::text,"
                      " next_attempt_at = CASE WHEN $7::text = 'pending'"
                      " THEN now() + make_interval(secs => $8::double precision)"
                      " ELSE next_attempt_at END,"
                      " delivered_at = CASE WHEN $7::text = 'delivered' THEN now() END,"
                      " locked_until = NULL"
                      " WHERE id = $1::bigint"},
    [ST_HOOK_LIST] = {"ocrq_hook_list", 1, HOOK_LIST_SQL("TRUE")},
    [ST_HOOK_LIST_FAILED] = {"ocrq_hook_list_failed", 1, HOOK_LIST_SQL("d.status = 'failed'")},
    /* ocrq-admin webhooks retry: due now, with the whole schedule again */
    [ST_HOOK_RETRY] = {"ocrq_hook_retry", 1,
                       "UPDATE ocr_webhook_deliveries SET status = 'pending',"
                       " next_attempt_at = now(), retry_base = attempts, locked_until = NULL"
                       " WHERE id = $1::bigint AND status <> 'delivered' RETURNING id"},
    [ST_HOOK_RETRY_FAILED] = {"ocrq_hook_retry_failed", 0,
                              "UPDATE ocr_webhook_deliveries SET status = 'pending',"
                              " next_attempt_at = now(), retry_base = attempts,"
                              " locked_until = NULL WHERE status = 'failed' RETURNING id"},
    /* API keys: a name is taken once (a revoked name stays taken) */
    [ST_KEY_CREATE] = {"ocrq_key_create", 4,
                       "INSERT INTO ocr_api_keys (name, key_id, key_hash, webhook_secret)"
                       " VALUES ($1::text, $2::text, $3::text, $4::text)"
                       " ON CONFLICT (name) DO NOTHING RETURNING name"},
    [ST_KEY_LIST] = {"ocrq_key_list", 0,
                     "SELECT name, key_id,"
                     " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                     " to_char(revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                     " to_char(last_used_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                     " FROM ocr_api_keys ORDER BY name"},
    [ST_KEY_REVOKE] = {"ocrq_key_revoke", 1,
                       "UPDATE ocr_api_keys SET revoked_at = now()"
                       " WHERE name = $1::text AND revoked_at IS NULL RETURNING name"},
};


/* ---- errors and logging ------------------------------------------------- */

/* Copy msg into out as one line: runs of control characters and blanks become one space. */
static void one_line(char *out, size_t outlen, const char *msg)
{
    size_t i = 0;

    for (; msg && *msg && i + 1 < outlen; msg++) {
        int blank = (unsigned char)*msg <= ' ';

        if (!blank)
            out[i++] = *msg;
        else if (i > 0 && out[i - 1] != ' ')
            out[i++] = ' ';
    }
    while (i > 0 && out[i - 1] == ' ')
        i--;
    out[i] = '\0';
}

/* Log a failed operation once: SQLSTATE and primary message, or the connection's error. */
static void log_failure(const char *job, const char *what, const PGconn *conn, const PGresult *res)
{
    char detail[MAX_LOG_DETAIL + 1];
    const char *msg = NULL;
    const char *state = NULL;

    if (res) {
        msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (!msg && PQresultStatus(res) != PGRES_FATAL_ERROR)
            msg = PQresStatus(PQresultStatus(res));
    }
    if (!msg || !*msg)
        msg = conn ? PQerrorMessage(conn) : "out of memory";
    one_line(detail, sizeof detail, msg);
    log_error(job, "db: %s failed%s%s: %s", what, state ? ": SQLSTATE " : "", state ? state : "",
              detail);
}

/* Log a failed connection attempt, naming the server but never the password. */
static void log_connect_failure(const PGconn *conn)
{
    char detail[MAX_LOG_DETAIL + 1];

    one_line(detail, sizeof detail, conn ? PQerrorMessage(conn) : "out of memory");
    log_error(NULL, "db: cannot connect to %s:%s/%s: %s", conn ? PQhost(conn) : "?",
              conn ? PQport(conn) : "?", conn ? PQdb(conn) : "?", detail);
}

/* OCRQ_OK if res has status want, else log it (once) and return OCRQ_ERR_DB. */
static int check(const struct ocrq_db *db, const PGresult *res, ExecStatusType want,
                 const char *what, const char *job)
{
    if (res && PQresultStatus(res) == want)
        return OCRQ_OK;
    log_failure(job, what, db->conn, res);
    return OCRQ_ERR_DB;
}

/* Server notices (e.g. "already exists, skipping") go to the debug log, not stderr. */
static void notice_to_log(void *arg, const char *message)
{
    char detail[MAX_LOG_DETAIL + 1];

    (void)arg;
    if (!ocrq_log_enabled(OCRQ_LOG_DEBUG))
        return;
    one_line(detail, sizeof detail, message);
    log_debug(NULL, "db: %s", detail);
}

/* ---- statements --------------------------------------------------------- */

/* Prepare stmts[id] on this connection (not inside a batch, never when pooled). */
static int prepare(struct ocrq_db *db, enum stmt_id id, const char *job)
{
    const struct stmt *s = &stmts[id];
    PGresult *res = NULL;

    ocrq_db_arm(db);
    if (PQsendPrepare(db->conn, s->name, s->sql, s->nparams, NULL))
        res = ocrq_db_last(db, s->name);
    int st = check(db, res, PGRES_COMMAND_OK, s->name, job);
    PQclear(res);
    if (st == OCRQ_OK)
        db->prepared |= 1u << id;
    return st;
}

/*
 * Send stmts[id] with params without waiting for the reply, preparing it
 * first if this connection has not. The server runs (and commits) it at once.
 */
static int stmt_send(struct ocrq_db *db, enum stmt_id id, const char *const *params,
                     const char *job)
{
    const struct stmt *s = &stmts[id];
    int st;

    if (db->pooled) { /* a transaction pool: the statement goes unnamed, every time */
        if (!db->batching)
            ocrq_db_arm(db);
        if (!PQsendQueryParams(db->conn, s->sql, s->nparams, NULL, params, NULL, NULL, 0)) {
            log_failure(job, s->name, db->conn, NULL);
            return OCRQ_ERR_DB;
        }
        return OCRQ_OK;
    }
    if (!(db->prepared & (1u << id))) {
        if (db->batching) { /* a synchronous prepare cannot run inside a pipeline */
            log_error(job, "db: %s: not prepared before the batch", s->name);
            return OCRQ_ERR_INVALID;
        }
        st = prepare(db, id, job);
        if (st != OCRQ_OK)
            return st;
    }
    if (!db->batching)
        ocrq_db_arm(db);
    if (!PQsendQueryPrepared(db->conn, s->name, s->nparams, params, NULL, NULL, 0)) {
        log_failure(job, s->name, db->conn, NULL);
        return OCRQ_ERR_DB;
    }
    return OCRQ_OK;
}

/*
 * Wait for the reply to the statement sent by stmt_send(). On OCRQ_OK *out
 * holds a result of status want, which the caller clears.
 */
static int stmt_recv(struct ocrq_db *db, enum stmt_id id, ExecStatusType want, const char *job,
                     PGresult **out)
{
    PGresult *res = NULL, *extra;
    int st;

    *out = NULL;
    res = ocrq_db_result(db, stmts[id].name);
    /* drain to the end of this query, so the connection is ready for the next */
    while ((extra = ocrq_db_result(db, stmts[id].name)) != NULL)
        PQclear(extra);
    st = check(db, res, want, stmts[id].name, job);
    if (st != OCRQ_OK) {
        PQclear(res);
        return st;
    }
    *out = res;
    return OCRQ_OK;
}

/*
 * Run stmts[id] with params and wait for it (stmt_send + stmt_recv).
 * On OCRQ_OK *out holds a result of status want, which the caller clears.
 */
static int stmt_run(struct ocrq_db *db, enum stmt_id id, const char *const *params,
                    ExecStatusType want, const char *job, PGresult **out)
{
    int st;

    *out = NULL;
    st = stmt_send(db, id, params, job);
    if (st != OCRQ_OK)
        return st;
    if (db->batching) { /* its result is checked by ocrq_db_batch_end() */
        db->batch_sent++;
        return OCRQ_OK;
    }
    return stmt_recv(db, id, want, job, out);
}

/* ---- growable text parameters (PostgreSQL array literals) --------------- */

struct sbuf {
    char *p;
    size_t len, cap;
    int st; /* first error: OCRQ_ERR_NOMEM or OCRQ_ERR_TOO_LARGE */
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->st != OCRQ_OK)
        return;
    if (n >= MAX_PARAM_BYTES - b->len) {
        b->st = OCRQ_ERR_TOO_LARGE;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *p;

        while (cap < b->len + n + 1)
            cap *= 2;
        p = realloc(b->p, cap);
        if (!p) {
            b->st = OCRQ_ERR_NOMEM;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* Append one array element: NULL unquoted, anything else double-quoted with \ and " escaped. */
static void sb_elem(struct sbuf *b, const char *s)
{
    const char *run;

    if (!s) {
        sb_str(b, "NULL");
        return;
    }
    sb_add(b, "\"", 1);
    for (run = s; *s; s++) {
        if (*s == '"' || *s == '\\') {
            sb_add(b, run, (size_t)(s - run));
            sb_add(b, "\\", 1);
            run = s;
        }
    }
    sb_add(b, run, (size_t)(s - run));
    sb_add(b, "\"", 1);
}

/* ---- input checks ------------------------------------------------------- */

static int digits(const char *s, int n, int *val)
{
    *val = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        *val = *val * 10 + (s[i] - '0');
    }
    return 1;
}

/*
 * Nonzero if s is an RFC 3339 timestamp that PostgreSQL will accept, so a
 * foreign producer's bad submitted_at is replaced by now() instead of making
 * every statement about its job fail.
 */
static int timestamp_ok(const char *s)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, sec, oh, om, n;

    if (!s || strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
        s[7] != '-' || !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &sec))
        return 0;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 59)
        return 0;
    if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return 0;
    s += 19;
    if (*s == '.') {
        for (n = 0, s++; *s >= '0' && *s <= '9'; s++)
            n++;
        if (n < 1 || n > 9)
            return 0;
    }
    if ((s[0] == 'Z' || s[0] == 'z') && s[1] == '\0')
        return 1;
    return (s[0] == '+' || s[0] == '-') && digits(s + 1, 2, &oh) && s[3] == ':' &&
           digits(s + 4, 2, &om) && s[6] == '\0' && oh <= 14 && om <= 59;
}

/* The priority as text, clamped to 0-9 so a foreign producer's value cannot break the CHECK. */
static const char *priority_text(int priority, char *buf, size_t len)
{
    snprintf(buf, len, "%d", priority < 0 ? 0 : priority > 9 ? 9 : priority);
    return buf;
}

/* OCRQ_OK if id is a UUID, else log and return OCRQ_ERR_INVALID (no round trip). */
static int id_ok(const char *id, const char *what)
{
    if (id && ocrq_uuid_valid(id))
        return OCRQ_OK;
    log_error(NULL, "db: %s: invalid job id", what);
    return OCRQ_ERR_INVALID;
}

/* Copy msg into buf (cap bytes), cut at a UTF-8 character boundary. NULL stays NULL. */
static const char *capped(const char *msg, char *buf, size_t cap)
{
    size_t n;

    if (!msg || strlen(msg) < cap)
        return msg;
    n = cap - 1;
    while (n > 0 && ((unsigned char)msg[n] & 0xC0) == 0x80)
        n--;
    memcpy(buf, msg, n);
    buf[n] = '\0';
    return buf;
}

/* ---- connection --------------------------------------------------------- */

/*
 * Connect to cfg->database_url (a libpq URI or key=value string) with
 * cfg->db_connect_timeout_s and application_name "ocrq". Returns OCRQ_OK,
 * OCRQ_ERR_INVALID, OCRQ_ERR_NOMEM or OCRQ_ERR_DB (logged once, without the
 * password); *out is NULL on error. The caller frees *out with ocrq_db_free().
 */
int ocrq_db_connect(const struct ocrq_config *cfg, struct ocrq_db **out)
{
    /* keys before dbname are defaults its URL may override; those after win */
    static const char *const keys[] = {"keepalives_idle", "tcp_user_timeout", "dbname",
                                       "connect_timeout", "application_name",
                                       "client_encoding", NULL};
    const char *vals[7];
    char timeout[16], user_timeout[16];
    struct ocrq_db *db = NULL;
    int st = OCRQ_OK;

    if (out)
        *out = NULL;
    if (!cfg || !out || !cfg->database_url)
        return OCRQ_ERR_INVALID;
    snprintf(timeout, sizeof timeout, "%d",
             cfg->db_connect_timeout_s > 0 ? cfg->db_connect_timeout_s : 0);
    /* a peer gone without a word is noticed within the statement timeout, too */
    snprintf(user_timeout, sizeof user_timeout, "%d",
             cfg->db_statement_timeout_ms > 0 ? cfg->db_statement_timeout_ms : 0);
    vals[0] = "30";
    vals[1] = user_timeout;
    vals[2] = cfg->database_url;
    vals[3] = timeout;
    vals[4] = "ocrq";
    vals[5] = "UTF8";
    vals[6] = NULL;

    db = calloc(1, sizeof *db);
    if (!db || (cfg->webhook_default_url && !(db->hook_url = strdup(cfg->webhook_default_url)))) {
        st = OCRQ_ERR_NOMEM;
        goto out;
    }
    snprintf(db->hook_cap, sizeof db->hook_cap, "%d", cfg->webhook_text_max_chars);
    db->timeout_ms = cfg->db_statement_timeout_ms > 0 ? cfg->db_statement_timeout_ms : 0;
    db->pool_mode = strcmp(cfg->db_pool_mode ? cfg->db_pool_mode : "auto", "session") == 0
                        ? OCRQ_DB_POOL_SESSION
                    : strcmp(cfg->db_pool_mode ? cfg->db_pool_mode : "auto", "transaction") == 0
                        ? OCRQ_DB_POOL_TRANSACTION
                        : OCRQ_DB_POOL_AUTO;
    db->conn = PQconnectdbParams(keys, vals, 1);
    if (!db->conn || PQstatus(db->conn) != CONNECTION_OK) {
        log_connect_failure(db->conn);
        st = OCRQ_ERR_DB;
        goto out;
    }
    PQsetNoticeProcessor(db->conn, notice_to_log, NULL);
    st = ocrq_db_session_init(db);
    if (st != OCRQ_OK)
        goto out;
    *out = db;
    db = NULL;
out:
    ocrq_db_free(db);
    return st;
}

/* Close the connection and free db; NULL is fine. */
void ocrq_db_free(struct ocrq_db *db)
{
    if (!db)
        return;
    PQfinish(db->conn);
    free(db->hook_url);
    free(db);
}

/* Nonzero if the connection is up, as libpq last saw it (no round trip). */
int ocrq_db_alive(struct ocrq_db *db)
{
    return db && db->conn && PQstatus(db->conn) == CONNECTION_OK;
}

/*
 * Reset the connection (PQreset, blocking up to the connect timeout) and
 * check it with SELECT 1. Statements are prepared again on next use.
 * Returns OCRQ_OK or OCRQ_ERR_DB (logged once).
 */
int ocrq_db_reconnect(struct ocrq_db *db)
{
    if (!db || !db->conn)
        return OCRQ_ERR_INVALID;
    PQreset(db->conn);
    db->prepared = 0;
    if (PQstatus(db->conn) != CONNECTION_OK) {
        log_connect_failure(db->conn);
        return OCRQ_ERR_DB;
    }
    return ocrq_db_session_init(db); /* also the round trip that checks it (after a failover
                                        the pool may be another) */
}

/* ---- helpers for migrations.c (declared in migrations.h) --------------- */

/*
 * Run sql (one or more statements, no parameters) with the simple protocol.
 * The last statement must return rows if rows is nonzero, else none.
 * Returns OCRQ_OK or OCRQ_ERR_DB (logged once, as what).
 */
int ocrq_db_exec(struct ocrq_db *db, const char *sql, int rows, const char *what)
{
    PGresult *res = NULL;

    ocrq_db_arm(db);
    if (PQsendQuery(db->conn, sql)) /* the simple protocol: several statements may go */
        res = ocrq_db_last(db, what);
    int st = check(db, res, rows ? PGRES_TUPLES_OK : PGRES_COMMAND_OK, what, NULL);

    PQclear(res);
    return st;
}

/*
 * Run sql with up to two text parameters (NULL entries of params count only
 * up to nparams) and put the first cell of its first row in *val (0 when
 * there is no row or it is NULL). Returns OCRQ_OK or OCRQ_ERR_DB (logged once).
 */
int ocrq_db_query_int(struct ocrq_db *db, const char *sql, int nparams, const char *const *params,
                      const char *what, int *val)
{
    PGresult *res = ocrq_db_call(db, what, sql, nparams, params, NULL, NULL, 0);
    int st = check(db, res, PGRES_TUPLES_OK, what, NULL);

    *val = 0;
    if (st == OCRQ_OK && PQntuples(res) > 0 && PQnfields(res) > 0 && !PQgetisnull(res, 0, 0))
        *val = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return st;
}

/*
 * Run sql with nparams text parameters (unprepared, extended protocol) for
 * the statement files beside this one (db_internal.h). want_rows: the result
 * must have rows (SELECT, RETURNING), else it must be a command. On OCRQ_OK
 * *out (if not NULL) holds the result, which the caller clears.
 */
int ocrq_db_params(struct ocrq_db *db, const char *what, const char *sql, int nparams,
                   const char *const *params, int want_rows, PGresult **out)
{
    return ocrq_db_params_fmt(db, what, sql, nparams, params, NULL, NULL, 0, want_rows, out);
}

int ocrq_db_params_fmt(struct ocrq_db *db, const char *what, const char *sql, int nparams,
                       const char *const *params, const int *lengths, const int *formats,
                       int result_binary, int want_rows, PGresult **out)
{
    if (db->batching) {
        if (out) { /* no result to hand back before the batch ends */
            *out = NULL;
            return OCRQ_ERR_INVALID;
        }
        if (!PQsendQueryParams(db->conn, sql, nparams, NULL, params, lengths, formats, 0)) {
            log_failure(NULL, what, db->conn, NULL);
            return OCRQ_ERR_DB;
        }
        db->batch_sent++;
        return OCRQ_OK;
    }
    PGresult *res =
        ocrq_db_call(db, what, sql, nparams, params, lengths, formats, result_binary);
    int st = check(db, res, want_rows ? PGRES_TUPLES_OK : PGRES_COMMAND_OK, what, NULL);

    if (out && st == OCRQ_OK)
        *out = res;
    else
        PQclear(res);
    if (out && st != OCRQ_OK)
        *out = NULL;
    return st;
}

/*
 * Batches (db_internal.h): one transaction sent as a libpq pipeline, so its
 * statements cost one round trip together instead of one each. The job
 * outcome statement is prepared first: a prepare cannot run inside.
 */
int ocrq_db_batch_begin(struct ocrq_db *db)
{
    if (db->batching)
        return OCRQ_ERR_INVALID;
    if (!db->pooled && !(db->prepared & (1u << ST_SUCCEED))) {
        int st = prepare(db, ST_SUCCEED, NULL);
        if (st != OCRQ_OK)
            return st;
    }
    if (!PQenterPipelineMode(db->conn)) {
        log_failure(NULL, "batch: pipeline", db->conn, NULL);
        return OCRQ_ERR_DB;
    }
    db->batching = 1;
    db->batch_sent = 0;
    if (!PQsendQueryParams(db->conn, "BEGIN", 0, NULL, NULL, NULL, NULL, 0)) {
        log_failure(NULL, "batch: begin", db->conn, NULL);
        ocrq_db_batch_end(db, 0);
        return OCRQ_ERR_DB;
    }
    db->batch_sent++;
    return OCRQ_OK;
}

int ocrq_db_batch_end(struct ocrq_db *db, int commit)
{
    int st = OCRQ_OK;

    if (!db->batching)
        return OCRQ_ERR_INVALID;
    if (commit) {
        if (PQsendQueryParams(db->conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 0))
            db->batch_sent++;
        else
            st = OCRQ_ERR_DB;
    }
    if (!PQpipelineSync(db->conn))
        st = OCRQ_ERR_DB;
    ocrq_db_arm(db); /* the whole batch answers within one deadline */
    /* each statement: its result, then NULL; then the sync point */
    for (int i = 0; i < db->batch_sent; i++) {
        PGresult *res = ocrq_db_result(db, "batch");
        ExecStatusType rs = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

        if (!res) {
            log_failure(NULL, "batch", db->conn, NULL);
            st = OCRQ_ERR_DB;
            break;
        }
        if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK) {
            if (rs != PGRES_PIPELINE_ABORTED) /* the first error; the rest were skipped */
                log_failure(NULL, "batch statement", db->conn, res);
            st = OCRQ_ERR_DB;
        }
        PQclear(res);
        res = ocrq_db_result(db, "batch");
        if (res) { /* not the end of this statement's results: the stream is off */
            PQclear(res);
            st = OCRQ_ERR_DB;
            break;
        }
    }
    for (;;) { /* up to the sync point (or the end of a broken connection) */
        PGresult *res = ocrq_db_result(db, "batch");
        if (!res)
            break;
        int sync = PQresultStatus(res) == PGRES_PIPELINE_SYNC;
        PQclear(res);
        if (sync)
            break;
    }
    PQexitPipelineMode(db->conn);
    db->batching = 0;
    db->batch_sent = 0;
    if (st != OCRQ_OK || !commit)
        ocrq_db_rollback(db);
    return commit ? st : OCRQ_OK;
}

/* Roll back the open or failed transaction, if any, after an error; best effort. */
void ocrq_db_rollback(struct ocrq_db *db)
{
    PGTransactionStatusType ts = PQtransactionStatus(db->conn);

    if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR)
        PQclear(ocrq_db_call(db, "rollback", "ROLLBACK", 0, NULL, NULL, NULL, 0));
}

/* ---- jobs --------------------------------------------------------------- */

/*
 * Insert jobs[0..n-1] as 'queued' with one statement: each column goes as
 * one array-literal parameter, unnested server-side. Existing rows are left
 * alone. Returns OCRQ_OK, OCRQ_ERR_INVALID (a bad job id), OCRQ_ERR_NOMEM,
 * OCRQ_ERR_TOO_LARGE (a column over MAX_PARAM_BYTES) or OCRQ_ERR_DB.
 */
int ocrq_db_jobs_queue(struct ocrq_db *db, const struct ocrq_job *const *jobs, size_t n)
{
    struct sbuf col[8];
    const char *params[8];
    PGresult *res = NULL;
    int st = OCRQ_OK;

    memset(col, 0, sizeof col);
    if (!db || (n > 0 && !jobs))
        return OCRQ_ERR_INVALID;
    if (n == 0)
        return OCRQ_OK;
    for (int c = 0; c < 8; c++)
        sb_add(&col[c], "{", 1);
    for (size_t i = 0; i < n; i++) {
        const struct ocrq_job *job = jobs[i];
        char pri[8];

        if (!job || (st = id_ok(job->job_id, stmts[ST_QUEUE].name)) != OCRQ_OK) {
            st = OCRQ_ERR_INVALID;
            goto out;
        }
        for (int c = 0; c < 8 && i > 0; c++)
            sb_add(&col[c], ",", 1);
        sb_elem(&col[0], job->job_id);
        sb_elem(&col[1], priority_text(job->priority, pri, sizeof pri));
        sb_elem(&col[2], job->language ? job->language : "");
        sb_elem(&col[3], job->source);
        sb_elem(&col[4], job->batch);
        sb_elem(&col[5], job->webhook_url);
        sb_elem(&col[6], job->metadata);
        sb_elem(&col[7], timestamp_ok(job->submitted_at) ? job->submitted_at : NULL);
    }
    for (int c = 0; c < 8; c++) {
        sb_add(&col[c], "}", 1);
        if (col[c].st != OCRQ_OK) {
            st = col[c].st;
            log_error(NULL, "db: %s: %zu jobs: %s", stmts[ST_QUEUE].name, n, ocrq_strerror(st));
            goto out;
        }
        params[c] = col[c].p;
    }
    st = stmt_run(db, ST_QUEUE, params, PGRES_COMMAND_OK, NULL, &res);
out:
    PQclear(res);
    for (int c = 0; c < 8; c++)
        free(col[c].p);
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
    st = id_ok(job->job_id, stmts[ST_START].name);
    if (st != OCRQ_OK)
        return st;
    params[0] = job->job_id;
    params[1] = priority_text(job->priority, pri, sizeof pri);
    params[2] = job->language ? job->language : "";
    params[3] = job->source;
    params[4] = job->batch;
    params[5] = job->webhook_url;
    params[6] = job->metadata;
    params[7] = timestamp_ok(job->submitted_at) ? job->submitted_at : NULL;
    params[8] = worker;
    return stmt_send(db, ST_START, params, job->job_id);
}

int ocrq_db_job_start_recv(struct ocrq_db *db, const char *job_id, struct ocrq_db_start *out)
{
    PGresult *res = NULL;
    int st;

    if (out)
        memset(out, 0, sizeof *out);
    if (!db || !out)
        return OCRQ_ERR_INVALID;
    st = stmt_recv(db, ST_START, PGRES_TUPLES_OK, job_id, &res);
    if (st != OCRQ_OK)
        goto out;
    if (PQntuples(res) != 1) {
        log_failure(job_id, stmts[ST_START].name, db->conn, NULL);
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
    st = id_ok(job_id, stmts[ST_SUCCEED].name);
    if (st != OCRQ_OK)
        return st;
    succeed_params(job_id, worker, db, res, pages, first, &b, params);
    st = stmt_run(db, ST_SUCCEED, params, PGRES_COMMAND_OK, job_id, &pr);
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
    st = id_ok(job->job_id, stmts[ST_SUCCEED_FIRST].name);
    if (st != OCRQ_OK)
        return st;
    succeed_params(job->job_id, worker, db, res, 1, page, &b, params);
    params[21] = priority_text(job->priority, pri, sizeof pri);
    params[22] = job->language ? job->language : "";
    params[23] = job->source;
    params[24] = job->batch;
    params[25] = job->webhook_url;
    params[26] = job->metadata;
    params[27] = timestamp_ok(job->submitted_at) ? job->submitted_at : NULL;
    st = stmt_run(db, ST_SUCCEED_FIRST, params, PGRES_TUPLES_OK, job->job_id, &pr);
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
    st = id_ok(job_id, stmts[ST_FAIL].name);
    if (st != OCRQ_OK)
        return st;
    params[0] = job_id;
    if (job) {
        params[1] = priority_text(job->priority, pri, sizeof pri);
        params[2] = job->language;
        params[3] = job->source;
        params[4] = job->batch;
        params[5] = job->webhook_url;
        params[6] = job->metadata;
        params[7] = timestamp_ok(job->submitted_at) ? job->submitted_at : NULL;
    }
    params[8] = worker;
    params[9] = code;
    params[10] = capped(message, msg, sizeof msg);
    params[11] = db->hook_url;
    st = stmt_run(db, ST_FAIL, params, PGRES_COMMAND_OK, job_id, &res);
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
    st = id_ok(job_id, stmts[ST_RETRY].name);
    if (st != OCRQ_OK)
        return st;
    params[0] = job_id;
    params[1] = code;
    params[2] = capped(message, msg, sizeof msg);
    st = stmt_run(db, ST_RETRY, params, PGRES_COMMAND_OK, job_id, &res);
    PQclear(res);
    return st;
}

/* ---- queries ------------------------------------------------------------ */

/* Job counts by status, of all jobs or of one batch. Returns OCRQ_OK or OCRQ_ERR_DB. */
int ocrq_db_counts(struct ocrq_db *db, const char *batch, struct ocrq_db_counts *out)
{
    const char *params[1] = {batch};
    PGresult *res = NULL;
    int st;

    if (out)
        memset(out, 0, sizeof *out);
    if (!db || !out)
        return OCRQ_ERR_INVALID;
    st = stmt_run(db, batch ? ST_COUNTS_BATCH : ST_COUNTS, params, PGRES_TUPLES_OK, NULL, &res);
    if (st != OCRQ_OK)
        goto out;
    for (int i = 0; i < PQntuples(res); i++) {
        const char *status = PQgetvalue(res, i, 0);
        long long count = strtoll(PQgetvalue(res, i, 1), NULL, 10);

        out->pages_done += strtoll(PQgetvalue(res, i, 2), NULL, 10);
        if (strcmp(status, "running") == 0) {
            out->running_pages_done = strtoll(PQgetvalue(res, i, 2), NULL, 10);
            out->running_pages_total = strtoll(PQgetvalue(res, i, 3), NULL, 10);
        }

        if (strcmp(status, "queued") == 0)
            out->queued = count;
        else if (strcmp(status, "running") == 0)
            out->running = count;
        else if (strcmp(status, "succeeded") == 0)
            out->succeeded = count;
        else if (strcmp(status, "failed") == 0)
            out->failed = count;
        else if (strcmp(status, "canceled") == 0)
            out->canceled = count;
    }
out:
    PQclear(res);
    return st;
}

/* The value of a cell, NULL for SQL NULL. */
static const char *cell(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/*
 * Call fn for each of ids[0..n-1] that is finished, in one round trip. The
 * strings passed to fn live until fn returns; job ids come back lowercase.
 * Returns OCRQ_OK, OCRQ_ERR_INVALID (a bad id), OCRQ_ERR_NOMEM,
 * OCRQ_ERR_TOO_LARGE or OCRQ_ERR_DB.
 */
/* ids[0..n-1] as a uuid[] literal into *arr (the caller frees arr->p). */
static int ids_array(const char *const *ids, size_t n, const char *what, struct sbuf *arr)
{
    memset(arr, 0, sizeof(*arr));
    sb_add(arr, "{", 1);
    for (size_t i = 0; i < n; i++) {
        int st = id_ok(ids[i], what);
        if (st != OCRQ_OK)
            return st;
        if (i > 0)
            sb_add(arr, ",", 1);
        sb_str(arr, ids[i]);
    }
    sb_add(arr, "}", 1);
    if (arr->st != OCRQ_OK)
        log_error(NULL, "db: %s: %zu ids: %s", what, n, ocrq_strerror(arr->st));
    return arr->st;
}

int ocrq_db_poll_finished(struct ocrq_db *db, const char *const *ids, size_t n, int want_text,
                          ocrq_db_finished_fn fn, void *arg)
{
    struct sbuf arr = {0};
    const char *params[1];
    PGresult *res = NULL;
    int st = OCRQ_OK;

    if (!db || !fn || (n > 0 && !ids))
        return OCRQ_ERR_INVALID;
    if (n == 0)
        return OCRQ_OK;
    st = ids_array(ids, n, stmts[ST_POLL].name, &arr);
    if (st != OCRQ_OK)
        goto out;
    params[0] = arr.p;
    st = stmt_run(db, want_text ? ST_POLL_TEXT : ST_POLL, params, PGRES_TUPLES_OK, NULL, &res);
    if (st != OCRQ_OK)
        goto out;
    for (int i = 0; i < PQntuples(res); i++) {
        struct ocrq_db_finished f;

        f.job_id = PQgetvalue(res, i, 0);
        f.succeeded = strcmp(PQgetvalue(res, i, 1), "succeeded") == 0;
        f.canceled = strcmp(PQgetvalue(res, i, 1), "canceled") == 0;
        f.error_code = f.succeeded ? NULL : cell(res, i, 2);
        f.error_message = f.succeeded ? NULL : cell(res, i, 3);
        f.text = f.succeeded ? cell(res, i, 4) : NULL;
        f.pages = PQgetisnull(res, i, 5) ? 0 : atoi(PQgetvalue(res, i, 5));
        fn(arg, &f);
    }
out:
    PQclear(res);
    free(arr.p);
    return st;
}

/*
 * Pages done and pages known (summed) of those of ids[0..n-1] that are not
 * final, in one round trip. Returns OCRQ_OK, OCRQ_ERR_INVALID, OCRQ_ERR_NOMEM,
 * OCRQ_ERR_TOO_LARGE or OCRQ_ERR_DB.
 */
int ocrq_db_poll_pages(struct ocrq_db *db, const char *const *ids, size_t n, long long *done,
                       long long *total)
{
    struct sbuf arr = {0};
    const char *params[1];
    PGresult *res = NULL;
    int st;

    *done = *total = 0;
    if (!db || (n > 0 && !ids))
        return OCRQ_ERR_INVALID;
    if (n == 0)
        return OCRQ_OK;
    st = ids_array(ids, n, stmts[ST_POLL_PAGES].name, &arr);
    if (st != OCRQ_OK)
        goto out;
    params[0] = arr.p;
    st = stmt_run(db, ST_POLL_PAGES, params, PGRES_TUPLES_OK, NULL, &res);
    if (st != OCRQ_OK || PQntuples(res) != 1)
        goto out;
    *done = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    *total = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
out:
    PQclear(res);
    free(arr.p);
    return st;
}

/* ---- the webhook outbox --------------------------------------------------- */

static char *dup_value(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : strdup(PQgetvalue(res, row, col));
}

int ocrq_db_hooks_claim(struct ocrq_db *db, int lease_s, int max, struct ocrq_db_hook **out,
                        int *n)
{
    char lease[16], limit[16];
    const char *params[2] = {lease, limit};
    PGresult *res = NULL;
    struct ocrq_db_hook *hooks = NULL;
    int st, rows;

    *out = NULL;
    *n = 0;
    if (!db || lease_s < 1 || max < 1)
        return OCRQ_ERR_INVALID;
    snprintf(lease, sizeof lease, "%d", lease_s);
    snprintf(limit, sizeof limit, "%d", max);
    st = stmt_run(db, ST_HOOK_CLAIM, params, PGRES_TUPLES_OK, NULL, &res);
    if (st != OCRQ_OK)
        return st;
    rows = PQntuples(res);
    if (rows > 0 && !(hooks = calloc((size_t)rows, sizeof *hooks))) {
        PQclear(res);
        return OCRQ_ERR_NOMEM; /* the leases run out and the rows are claimed again */
    }
    for (int i = 0; i < rows; i++) {
        struct ocrq_db_hook *h = &hooks[i];
        h->id = atoll(PQgetvalue(res, i, 0));
        snprintf(h->event_id, sizeof h->event_id, "%s", PQgetvalue(res, i, 1));
        h->url = dup_value(res, i, 2);
        h->body = dup_value(res, i, 3);
        h->attempt = atoi(PQgetvalue(res, i, 4));
        h->round_attempt = atoi(PQgetvalue(res, i, 5));
        h->secret = PQgetisnull(res, i, 6) ? NULL : dup_value(res, i, 6);
        h->secret_prev = PQgetisnull(res, i, 7) ? NULL : dup_value(res, i, 7);
        if (!h->url || !h->body) {
            ocrq_db_hooks_free(hooks, rows);
            PQclear(res);
            return OCRQ_ERR_NOMEM;
        }
    }
    PQclear(res);
    *out = hooks;
    *n = rows;
    return OCRQ_OK;
}

void ocrq_db_hooks_free(struct ocrq_db_hook *hooks, int n)
{
    for (int i = 0; hooks && i < n; i++) {
        free(hooks[i].url);
        free(hooks[i].body);
        free(hooks[i].secret);
        free(hooks[i].secret_prev);
    }
    free(hooks);
}

int ocrq_db_hook_done(struct ocrq_db *db, const struct ocrq_db_hook *hook,
                      const struct ocrq_db_hook_outcome *o)
{
    char id[24], attempt[16], started[32], http[16], ms[16], retry[32], err[MAX_ERROR_MESSAGE];
    const char *params[8] = {id, attempt, started, o->http_status ? http : NULL,
                             o->error ? capped(o->error, err, sizeof err) : NULL, ms, o->status,
                             retry};
    PGresult *res = NULL;

    snprintf(id, sizeof id, "%lld", hook->id);
    snprintf(attempt, sizeof attempt, "%d", hook->attempt);
    snprintf(started, sizeof started, "%.3f", o->started_at);
    snprintf(http, sizeof http, "%d", o->http_status);
    snprintf(ms, sizeof ms, "%d", o->duration_ms);
    snprintf(retry, sizeof retry, "%.3f", o->retry_in_s > 0 ? o->retry_in_s : 0.0);
    int st = stmt_run(db, ST_HOOK_DONE, params, PGRES_COMMAND_OK, NULL, &res);
    PQclear(res);
    return st;
}

int ocrq_db_hooks_list(struct ocrq_db *db, int failed_only, int limit, ocrq_db_hook_info_fn fn,
                       void *arg)
{
    char lim[16];
    const char *params[1] = {lim};
    PGresult *res = NULL;

    snprintf(lim, sizeof lim, "%d", limit > 0 ? limit : 100);
    int st = stmt_run(db, failed_only ? ST_HOOK_LIST_FAILED : ST_HOOK_LIST, params,
                      PGRES_TUPLES_OK, NULL, &res);
    if (st != OCRQ_OK)
        return st;
    for (int i = 0; i < PQntuples(res); i++) {
#define COL(c) (PQgetisnull(res, i, c) ? NULL : PQgetvalue(res, i, c))
        struct ocrq_db_hook_info h = {
            .id = atoll(PQgetvalue(res, i, 0)),
            .event_id = COL(1),
            .job_id = COL(2),
            .event_type = COL(3),
            .url = COL(4),
            .status = COL(5),
            .attempts = atoi(PQgetvalue(res, i, 6)),
            .last_http_status = PQgetisnull(res, i, 7) ? 0 : atoi(PQgetvalue(res, i, 7)),
            .last_error = COL(8),
            .created_at = COL(9),
            .next_attempt_at = COL(10),
            .delivered_at = COL(11),
        };
#undef COL
        fn(arg, &h);
    }
    PQclear(res);
    return OCRQ_OK;
}

int ocrq_db_hooks_retry(struct ocrq_db *db, long long id, long long *count)
{
    char idbuf[24];
    const char *params[1] = {idbuf};
    PGresult *res = NULL;

    *count = 0;
    snprintf(idbuf, sizeof idbuf, "%lld", id);
    int st = stmt_run(db, id > 0 ? ST_HOOK_RETRY : ST_HOOK_RETRY_FAILED, params, PGRES_TUPLES_OK,
                      NULL, &res);
    if (st == OCRQ_OK)
        *count = PQntuples(res);
    PQclear(res);
    return st;
}

int ocrq_db_socket(const struct ocrq_db *db)
{
    return db && db->conn ? PQsocket(db->conn) : -1;
}

int ocrq_db_listen(struct ocrq_db *db, const char *channel)
{
    char sql[128];

    if (!db || !channel)
        return OCRQ_ERR_INVALID;
    snprintf(sql, sizeof sql, "LISTEN %s", channel); /* a fixed identifier of ours */
    return ocrq_db_exec(db, sql, 0, "listen");
}

int ocrq_db_wait_notify(struct ocrq_db *db, int timeout_ms)
{
    PGnotify *nt;
    int got = 0;

    if (!db || !db->conn)
        return OCRQ_ERR_INVALID;
    for (;;) {
        if (PQconsumeInput(db->conn) == 0) {
            log_failure(NULL, "wait for notifications", db->conn, NULL);
            return OCRQ_ERR_DB;
        }
        while ((nt = PQnotifies(db->conn)) != NULL) {
            PQfreemem(nt);
            got = 1;
        }
        if (got)
            return OCRQ_OK;
        if (timeout_ms <= 0)
            return OCRQ_ERR_TIMEOUT;
        struct pollfd pf = {.fd = PQsocket(db->conn), .events = POLLIN};
        int r = poll(&pf, 1, timeout_ms);
        if (r == 0)
            return OCRQ_ERR_TIMEOUT;
        if (r < 0 && errno != EINTR)
            return OCRQ_ERR_DB;
        timeout_ms = 0; /* read what came, then return */
        if (r < 0)
            return OCRQ_ERR_TIMEOUT;
    }
}

/* ---- API keys ------------------------------------------------------------ */

int ocrq_db_key_create(struct ocrq_db *db, const char *name, const char *key_id,
                       const char *key_hash, const char *webhook_secret, int *created)
{
    const char *params[4] = {name, key_id, key_hash, webhook_secret};
    PGresult *res = NULL;
    int st = stmt_run(db, ST_KEY_CREATE, params, PGRES_TUPLES_OK, NULL, &res);

    *created = st == OCRQ_OK && PQntuples(res) == 1;
    PQclear(res);
    return st;
}

int ocrq_db_keys_list(struct ocrq_db *db, ocrq_db_key_fn fn, void *arg)
{
    PGresult *res = NULL;
    int st = stmt_run(db, ST_KEY_LIST, NULL, PGRES_TUPLES_OK, NULL, &res);

    for (int i = 0; st == OCRQ_OK && i < PQntuples(res); i++) {
        struct ocrq_db_key k = {
            .name = PQgetvalue(res, i, 0),
            .key_id = PQgetvalue(res, i, 1),
            .created_at = PQgetvalue(res, i, 2),
            .revoked_at = PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3),
            .last_used_at = PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4),
        };
        fn(arg, &k);
    }
    PQclear(res);
    return st;
}

int ocrq_db_key_revoke(struct ocrq_db *db, const char *name, int *revoked)
{
    const char *params[1] = {name};
    PGresult *res = NULL;
    int st = stmt_run(db, ST_KEY_REVOKE, params, PGRES_TUPLES_OK, NULL, &res);

    *revoked = st == OCRQ_OK && PQntuples(res) == 1;
    PQclear(res);
    return st;
}
