/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The db module's named statements: each statement file (db_jobs.c,
 * db_poll.c, db_hooks.c, db_keys.c) defines its own struct ocrq_db_stmt
 * beside the functions that run it, and runs it through here. A statement
 * is prepared once per connection, on first use, and again after a
 * reconnect; behind a transaction pool it goes unnamed instead. Which
 * statements a connection has prepared is a bitmask in struct ocrq_db, one
 * bit per statement (its slot, enum ocrq_db_slot in db_internal.h): the
 * statements are shared read-only by every connection of a process, so the
 * bookkeeping belongs to the connection, and one enum of slots is the
 * simplest way to give each statement its bit.
 */
#include <libpq-fe.h>

#include "db_internal.h"
#include "ocrq/log.h"
#include "ocrq/status.h"

/* Prepare s on this connection (not inside a batch, never when pooled). */
int ocrq_db_prepare(struct ocrq_db *db, const struct ocrq_db_stmt *s, const char *job)
{
    PGresult *res = NULL;

    ocrq_db_arm(db);
    if (PQsendPrepare(db->conn, s->name, s->sql, s->nparams, NULL))
        res = ocrq_db_last(db, s->name);
    int st = ocrq_db_check(db, res, PGRES_COMMAND_OK, s->name, job);
    PQclear(res);
    if (st == OCRQ_OK)
        db->prepared |= 1u << s->slot;
    return st;
}

/*
 * Send s with params without waiting for the reply, preparing it
 * first if this connection has not. The server runs (and commits) it at once.
 */
int ocrq_db_stmt_send(struct ocrq_db *db, const struct ocrq_db_stmt *s, const char *const *params,
                      const char *job)
{
    int st;

    if (db->pooled) { /* a transaction pool: the statement goes unnamed, every time */
        if (!db->batching)
            ocrq_db_arm(db);
        if (!PQsendQueryParams(db->conn, s->sql, s->nparams, NULL, params, NULL, NULL, 0)) {
            ocrq_db_log_failure(job, s->name, db->conn, NULL);
            return OCRQ_ERR_DB;
        }
        return OCRQ_OK;
    }
    if (!(db->prepared & (1u << s->slot))) {
        if (db->batching) { /* a synchronous prepare cannot run inside a pipeline */
            log_error(job, "db: %s: not prepared before the batch", s->name);
            return OCRQ_ERR_INVALID;
        }
        st = ocrq_db_prepare(db, s, job);
        if (st != OCRQ_OK)
            return st;
    }
    if (!db->batching)
        ocrq_db_arm(db);
    if (!PQsendQueryPrepared(db->conn, s->name, s->nparams, params, NULL, NULL, 0)) {
        ocrq_db_log_failure(job, s->name, db->conn, NULL);
        return OCRQ_ERR_DB;
    }
    return OCRQ_OK;
}

/*
 * Wait for the reply to the statement sent by ocrq_db_stmt_send(). On OCRQ_OK *out
 * holds a result of status want, which the caller clears.
 */
int ocrq_db_stmt_recv(struct ocrq_db *db, const struct ocrq_db_stmt *s, ExecStatusType want,
                      const char *job, PGresult **out)
{
    PGresult *res = NULL, *extra;
    int st;

    *out = NULL;
    res = ocrq_db_result(db, s->name);
    /* drain to the end of this query, so the connection is ready for the next */
    while ((extra = ocrq_db_result(db, s->name)) != NULL)
        PQclear(extra);
    st = ocrq_db_check(db, res, want, s->name, job);
    if (st != OCRQ_OK) {
        PQclear(res);
        return st;
    }
    *out = res;
    return OCRQ_OK;
}

/*
 * Run s with params and wait for it (stmt_send + stmt_recv).
 * On OCRQ_OK *out holds a result of status want, which the caller clears.
 */
int ocrq_db_stmt_run(struct ocrq_db *db, const struct ocrq_db_stmt *s, const char *const *params,
                     ExecStatusType want, const char *job, PGresult **out)
{
    int st;

    *out = NULL;
    st = ocrq_db_stmt_send(db, s, params, job);
    if (st != OCRQ_OK)
        return st;
    if (db->batching) { /* its result is checked by ocrq_db_batch_end() */
        db->batch_sent++;
        return OCRQ_OK;
    }
    return ocrq_db_stmt_recv(db, s, want, job, out);
}
