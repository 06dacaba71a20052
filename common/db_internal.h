/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Private to the db module: the connection structure and a parameterized
 * query helper, for statement files beside db.c (one topic per file) that
 * need libpq. Nothing outside common/ includes this header.
 */
#ifndef OCRQ_DB_INTERNAL_H
#define OCRQ_DB_INTERNAL_H

#include <libpq-fe.h>

#include <stdint.h>

enum { OCRQ_DB_POOL_AUTO, OCRQ_DB_POOL_SESSION, OCRQ_DB_POOL_TRANSACTION };

struct ocrq_db {
    PGconn *conn;
    unsigned prepared; /* bit i set: stmts[i] of db.c is prepared on this connection */
    int pool_mode;     /* OCRQ_DB_POOL_*, from database.pool_mode */
    int pooled;        /* a transaction pool: no named statements, no LISTEN */
    int timeout_ms;    /* database.statement_timeout_ms; 0: none */
    int64_t deadline_ms; /* of the call in progress (ocrq_now_ms()); 0: none */
    char *hook_url;    /* webhooks.default_url; NULL: none */
    char hook_cap[16]; /* webhooks.text_max_chars, as a parameter */
    int batching;      /* between ocrq_db_batch_begin() and _end() */
    int batch_sent;    /* statements sent in the batch, BEGIN included */
};

/*
 * Run sql with nparams text parameters ($1::type casts in the SQL). want_rows:
 * the result must carry rows, else be a plain command. Errors are logged once
 * (as what) and returned as OCRQ_ERR_DB. On OCRQ_OK *out, if not NULL, holds
 * the result for the caller to PQclear().
 */
int ocrq_db_params(struct ocrq_db *db, const char *what, const char *sql, int nparams,
                   const char *const *params, int want_rows, PGresult **out);

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
 * same statement. (common/db.c)
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
