/*
 * Private to the db module: the connection structure and a parameterized
 * query helper, for statement files beside db.c (one topic per file) that
 * need libpq. Nothing outside common/ includes this header.
 */
#ifndef OCRQ_DB_INTERNAL_H
#define OCRQ_DB_INTERNAL_H

#include <libpq-fe.h>

struct ocrq_db {
    PGconn *conn;
    unsigned prepared; /* bit i set: stmts[i] of db.c is prepared on this connection */
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

#endif
