/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The PostgreSQL connection over libpq: connect, reconnect and free, the
 * unprepared calls of the statement files and migrations.c (ocrq_db_exec,
 * ocrq_db_query_int, ocrq_db_params), and batches (one transaction sent as
 * a libpq pipeline). Every call waits under the connection's deadline
 * (db_session.c); libpq types stay in the db files.
 */
#include "ocrq/db.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"
#include "migrations.h"
#include "ocrq/config.h"
#include "ocrq/log.h"
#include "ocrq/status.h"

/*
 * Connect to cfg->database_url (a libpq URI or key=value string) with
 * cfg->db_connect_timeout_s and application_name "ocrq". Returns OCRQ_OK,
 * OCRQ_ERR_INVALID, OCRQ_ERR_NOMEM or OCRQ_ERR_DB (logged once, without the
 * password); *out is NULL on error. The caller frees *out with ocrq_db_free().
 */
int ocrq_db_connect(const struct ocrq_config *cfg, struct ocrq_db **out)
{
    /* keys before dbname are defaults its URL may override; those after win */
    static const char *const keys[] = {
        "keepalives_idle",  "tcp_user_timeout", "dbname", "connect_timeout",
        "application_name", "client_encoding",  NULL};
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
        ocrq_db_log_connect_failure(db->conn);
        st = OCRQ_ERR_DB;
        goto out;
    }
    PQsetNoticeProcessor(db->conn, ocrq_db_notice_to_log, NULL);
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
        ocrq_db_log_connect_failure(db->conn);
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
    int st = ocrq_db_check(db, res, rows ? PGRES_TUPLES_OK : PGRES_COMMAND_OK, what, NULL);

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
    int st = ocrq_db_check(db, res, PGRES_TUPLES_OK, what, NULL);

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
int ocrq_db_text_one(struct ocrq_db *db, const char *what, const char *sql, int nparams,
                     const char *const *params, char **out)
{
    PGresult *res = NULL;
    int st = ocrq_db_params(db, what, sql, nparams, params, 1, &res);

    *out = NULL;
    if (st != OCRQ_OK)
        return st;
    if (PQntuples(res) < 1 || PQgetisnull(res, 0, 0))
        st = OCRQ_ERR_NOT_FOUND;
    else if (!(*out = strdup(PQgetvalue(res, 0, 0))))
        st = OCRQ_ERR_NOMEM;
    PQclear(res);
    return st;
}

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
            ocrq_db_log_failure(NULL, what, db->conn, NULL);
            return OCRQ_ERR_DB;
        }
        db->batch_sent++;
        return OCRQ_OK;
    }
    PGresult *res = ocrq_db_call(db, what, sql, nparams, params, lengths, formats, result_binary);
    int st = ocrq_db_check(db, res, want_rows ? PGRES_TUPLES_OK : PGRES_COMMAND_OK, what, NULL);

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
    if (!db->pooled && !(db->prepared & (1u << ocrq_db_st_succeed.slot))) {
        int st = ocrq_db_prepare(db, &ocrq_db_st_succeed, NULL);
        if (st != OCRQ_OK)
            return st;
    }
    if (!PQenterPipelineMode(db->conn)) {
        ocrq_db_log_failure(NULL, "batch: pipeline", db->conn, NULL);
        return OCRQ_ERR_DB;
    }
    db->batching = 1;
    db->batch_sent = 0;
    if (!PQsendQueryParams(db->conn, "BEGIN", 0, NULL, NULL, NULL, NULL, 0)) {
        ocrq_db_log_failure(NULL, "batch: begin", db->conn, NULL);
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
            ocrq_db_log_failure(NULL, "batch", db->conn, NULL);
            st = OCRQ_ERR_DB;
            break;
        }
        if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK) {
            if (rs != PGRES_PIPELINE_ABORTED) /* the first error; the rest were skipped */
                ocrq_db_log_failure(NULL, "batch statement", db->conn, res);
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
