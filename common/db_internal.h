/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Private to the db module: the connection structure, the named statements,
 * error translation, input checks and a parameterized query helper, for the
 * statement files (one topic per file) that need libpq. Nothing outside
 * common/ includes this header.
 */
#ifndef OCRQ_DB_INTERNAL_H
#define OCRQ_DB_INTERNAL_H

#include <libpq-fe.h>

#include <stddef.h>
#include <stdint.h>

enum { OCRQ_DB_POOL_AUTO, OCRQ_DB_POOL_SESSION, OCRQ_DB_POOL_TRANSACTION };

struct ocrq_db {
    PGconn *conn;
    unsigned prepared;   /* bit i set: the statement of slot i is prepared on this connection */
    int pool_mode;       /* OCRQ_DB_POOL_*, from database.pool_mode */
    int pooled;          /* a transaction pool: no named statements, no LISTEN */
    int timeout_ms;      /* database.statement_timeout_ms; 0: none */
    int64_t deadline_ms; /* of the call in progress (ocrq_now_ms()); 0: none */
    char *hook_url;      /* webhooks.default_url; NULL: none */
    char hook_cap[16];   /* webhooks.text_max_chars, as a parameter */
    int batching;        /* between ocrq_db_batch_begin() and _end() */
    int batch_sent;      /* statements sent in the batch, BEGIN included */
};

#define MAX_ERROR_MESSAGE 2048 /* error_message stored per job, and a webhook attempt's error */

/*
 * Final rows ('succeeded', 'failed', 'canceled') are never reopened by start,
 * fail or retry; only ocrq-admin failed requeue (db_failed.c) resets a failed one.
 */
#define FINAL "j.status IN ('succeeded', 'failed', 'canceled')"

/* ---- db_stmt.c: the named statements ---- */

/*
 * The slots of the named statements in struct ocrq_db's prepared bitmask,
 * one per statement of db_jobs.c, db_poll.c, db_hooks.c and db_keys.c.
 */
enum ocrq_db_slot {
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
_Static_assert(ST_N <= 32, "one bit per statement in struct ocrq_db's prepared");

/* A named statement. */
struct ocrq_db_stmt {
    int slot;         /* enum ocrq_db_slot: its bit in struct ocrq_db's prepared */
    const char *name; /* prepared statement name; also names the operation in logs */
    int nparams;
    const char *sql; /* every parameter has an explicit cast, so no paramTypes */
};

/* Prepare s on this connection (not inside a batch, never when pooled). */
int ocrq_db_prepare(struct ocrq_db *db, const struct ocrq_db_stmt *s, const char *job);

/*
 * Send s with params without waiting for the reply, preparing it first if
 * this connection has not. The server runs (and commits) it at once.
 */
int ocrq_db_stmt_send(struct ocrq_db *db, const struct ocrq_db_stmt *s, const char *const *params,
                      const char *job);

/*
 * Wait for the reply to the statement sent by ocrq_db_stmt_send(). On
 * OCRQ_OK *out holds a result of status want, which the caller clears.
 */
int ocrq_db_stmt_recv(struct ocrq_db *db, const struct ocrq_db_stmt *s, ExecStatusType want,
                      const char *job, PGresult **out);

/*
 * Run s with params and wait for it (send + recv); in a batch only send it.
 * On OCRQ_OK *out holds a result of status want, which the caller clears.
 */
int ocrq_db_stmt_run(struct ocrq_db *db, const struct ocrq_db_stmt *s, const char *const *params,
                     ExecStatusType want, const char *job, PGresult **out);

/* The job outcome statement a batch prepares before it begins. (common/db_jobs.c) */
extern const struct ocrq_db_stmt ocrq_db_st_succeed;

/* ---- db_error.c: error translation ---- */

/* Log a failed operation once: SQLSTATE and primary message, or the connection's error. */
void ocrq_db_log_failure(const char *job, const char *what, const PGconn *conn,
                         const PGresult *res);

/* Log a failed connection attempt, naming the server but never the password. */
void ocrq_db_log_connect_failure(const PGconn *conn);

/* OCRQ_OK if res has status want, else log it (once) and return OCRQ_ERR_DB. */
int ocrq_db_check(const struct ocrq_db *db, const PGresult *res, ExecStatusType want,
                  const char *what, const char *job);

/* A libpq notice processor: server notices go to the debug log, not stderr. */
void ocrq_db_notice_to_log(void *arg, const char *message);

/* ---- db_params.c: input checks ---- */

/*
 * Nonzero if s is an RFC 3339 timestamp that PostgreSQL will accept, so a
 * foreign producer's bad submitted_at is replaced by now().
 */
int ocrq_db_timestamp_ok(const char *s);

/* The priority as text (in buf), clamped to 0-9. */
const char *ocrq_db_priority_text(int priority, char *buf, size_t len);

/* OCRQ_OK if id is a UUID, else log and return OCRQ_ERR_INVALID (no round trip). */
int ocrq_db_id_ok(const char *id, const char *what);

/* msg, or its copy in buf (cap bytes) cut at a UTF-8 character boundary. NULL stays NULL. */
const char *ocrq_db_capped(const char *msg, char *buf, size_t cap);

/* ---- db_array.c: PostgreSQL array literals as text parameters ---- */

struct ocrq_dynbuf;

/* An empty array parameter: a dynbuf capped at 256 MiB (its NUL included). */
void ocrq_db_array_init(struct ocrq_dynbuf *b);

/* Append one array element: NULL unquoted, anything else double-quoted with \ and " escaped. */
void ocrq_db_array_elem(struct ocrq_dynbuf *b, const char *s);

/* ---- db_conn.c: unprepared calls ---- */

/*
 * Run sql with nparams text parameters ($1::type casts in the SQL). want_rows:
 * the result must carry rows, else be a plain command. Errors are logged once
 * (as what) and returned as OCRQ_ERR_DB. On OCRQ_OK *out, if not NULL, holds
 * the result for the caller to PQclear().
 */
int ocrq_db_params(struct ocrq_db *db, const char *what, const char *sql, int nparams,
                   const char *const *params, int want_rows, PGresult **out);

/*
 * Run sql, which reads one row of one text column (a JSON document built by
 * the database, for ocrq-api), into *out (malloc'd, the caller frees it).
 * Returns OCRQ_OK, OCRQ_ERR_NOT_FOUND (no row, or NULL), OCRQ_ERR_DB or
 * OCRQ_ERR_NOMEM. (common/db_conn.c)
 */
int ocrq_db_text_one(struct ocrq_db *db, const char *what, const char *sql, int nparams,
                     const char *const *params, char **out);

/*
 * ocrq_db_params() with per-parameter lengths and formats (1: binary, as for
 * bytea; NULL arrays: all text) and the result format (1: binary).
 */
int ocrq_db_params_fmt(struct ocrq_db *db, const char *what, const char *sql, int nparams,
                       const char *const *params, const int *lengths, const int *formats,
                       int result_binary, int want_rows, PGresult **out);

/* ---- db_session.c: deadlines and pooling ---- */

/* Start the deadline of a call about to be sent (timeout_ms from now). */
void ocrq_db_arm(struct ocrq_db *db);

/* PQgetResult(), waiting no longer than the armed deadline (what: for the log). */
PGresult *ocrq_db_result(struct ocrq_db *db, const char *what);

/* Every result of the call in progress: the first error, else the last; NULL if none. */
PGresult *ocrq_db_last(struct ocrq_db *db, const char *what);

/*
 * Send sql as an unnamed statement and wait for it under the deadline, like
 * PQexecParams. NULL if it could not be sent.
 */
PGresult *ocrq_db_call(struct ocrq_db *db, const char *what, const char *sql, int nparams,
                       const char *const *params, const int *lengths, const int *formats,
                       int result_binary);

/* After a (re)connect: whether this connection is pooled (pool_mode auto asks). */
int ocrq_db_session_init(struct ocrq_db *db);

struct ocrq_db_artifact;

/*
 * Upsert one artifact of job_id into ocr_artifacts on (job_id, format),
 * only while the job is 'succeeded'. For db_pages.c, inside its
 * transaction. (common/db_artifacts.c)
 */
int ocrq_db_artifact_put(struct ocrq_db *db, const char *job_id, const struct ocrq_db_artifact *a);

/*
 * A batch: BEGIN now, then every statement run through this module
 * (ocrq_db_params*, the job outcome statements) is only sent, not waited
 * for (they cannot hand back rows: *out must be NULL), and
 * ocrq_db_batch_end() sends COMMIT (commit nonzero) or nothing, waits once
 * for every result and checks them all. One round trip for the whole
 * transaction. On any error the transaction is rolled back and end returns
 * OCRQ_ERR_DB (the first failure is logged). Not for statements that read.
 */
int ocrq_db_batch_begin(struct ocrq_db *db);
int ocrq_db_batch_end(struct ocrq_db *db, int commit);

/*
 * Run sql (binary results), which reads at most one row of one bytea
 * column, into *data (malloc'd, the caller frees it) and *len. Returns
 * OCRQ_OK, OCRQ_ERR_NOT_FOUND (no row), OCRQ_ERR_DB or OCRQ_ERR_NOMEM.
 * (common/db_tasks.c)
 */
int ocrq_db_bytea_one(struct ocrq_db *db, const char *what, const char *sql, int nparams,
                      const char *const *params, unsigned char **data, size_t *len);

struct ocrq_db_page;

/* The columns of a page in ocr_pages: $1 the job and $2-$10 the page. */
#define PAGE_COLS                                                                                  \
    "job_id, page_no, text, mean_conf, width, height, rotation, duration_ms, method, skew"
#define PAGE_VALS                                                                                  \
    "$1::uuid, $2::integer, $3::text, $4::real, $5::integer, $6::integer, $7::smallint,"           \
    " $8::integer, $9::text, $10::real"
#define PAGE_UPDATE                                                                                \
    " ON CONFLICT (job_id, page_no) DO UPDATE SET text = EXCLUDED.text,"                           \
    " mean_conf = EXCLUDED.mean_conf, width = EXCLUDED.width, height = EXCLUDED.height,"           \
    " rotation = EXCLUDED.rotation, duration_ms = EXCLUDED.duration_ms,"                           \
    " method = EXCLUDED.method, skew = EXCLUDED.skew"

struct ocrq_db_result;

/*
 * ocrq_db_job_succeed() that also sets the job's page count (pages >= 0;
 * -1: left as it is) and writes its first page (first; NULL: none) in the
 * same statement. (common/db_jobs.c)
 */
int ocrq_db_job_succeed_with(struct ocrq_db *db, const char *job_id, const char *worker,
                             const struct ocrq_db_result *res, int pages,
                             const struct ocrq_db_page *first);

/* Text values of a page's $2-$10 (PAGE_VALS), filled by ocrq_db_page_params(). */
struct ocrq_db_page_text {
    char no[16], conf[32], w[16], h[16], rot[8], ms[16], skew[32];
};

/* A page's $2-$10 into params[1..9]; b holds the text. (common/db_pages.c) */
void ocrq_db_page_params(const struct ocrq_db_page *pg, struct ocrq_db_page_text *b,
                         const char **params);

#endif
