/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What one database connection may rely on: how long a call may take, and
 * whether the connection keeps its own server session.
 *
 * Deadline. Every call through the db module is sent, then waited for here
 * up to database.statement_timeout_ms. A call still unanswered then (a
 * COMMIT waiting for a synchronous standby that is gone, a server that
 * stopped answering, a lock held forever) ends the connection: its socket is
 * shut down, so libpq reports the call failed and the connection bad. The
 * caller sees OCRQ_ERR_DB as for any lost connection (a worker hands its job
 * back and reconnects), and nothing waits longer than the limit. A server
 * statement_timeout would not do: it cannot be SET through a transaction
 * pool, and it ends nothing when the server is unreachable.
 *
 * Pooling. Behind a transaction pool (PgBouncer pool_mode = transaction)
 * each transaction may run on another server connection, so nothing may
 * outlive a transaction: no named prepared statement, no LISTEN, no session
 * SET or advisory lock. "auto" detects a pooler at connect: PostgreSQL
 * hands out the backend's pid as the cancel key, a pooler its own.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "db_internal.h"
#include "ocrq/clock.h"
#include "ocrq/db.h"
#include "ocrq/log.h"
#include "ocrq/status.h"

void ocrq_db_arm(struct ocrq_db *db)
{
    db->deadline_ms = db->timeout_ms > 0 ? ocrq_now_ms() + db->timeout_ms : 0;
}

/* The call outlived its deadline: end the connection, so libpq stops waiting. */
static void expire(struct ocrq_db *db, const char *what)
{
    int fd = PQsocket(db->conn);

    log_error(NULL,
              "db: %s did not finish within %d ms (database.statement_timeout_ms):"
              " dropping the connection",
              what, db->timeout_ms);
    if (fd >= 0)
        (void)shutdown(fd, SHUT_RDWR);
    (void)PQconsumeInput(db->conn); /* reads the end: the connection is bad now */
    db->deadline_ms = 0;
}

/* Wait until PQgetResult() will not block, up to the armed deadline. */
static void await(struct ocrq_db *db, const char *what)
{
    if (db->deadline_ms == 0)
        return;
    while (PQisBusy(db->conn)) {
        int64_t left = db->deadline_ms - ocrq_now_ms();
        if (left <= 0) {
            expire(db, what);
            return;
        }
        struct pollfd pf = {.fd = PQsocket(db->conn), .events = POLLIN};
        if (pf.fd < 0)
            return;
        int r = poll(&pf, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (r < 0 && errno != EINTR)
            return;
        if (r > 0 && !PQconsumeInput(db->conn))
            return; /* broken: PQgetResult() says so */
    }
}

PGresult *ocrq_db_result(struct ocrq_db *db, const char *what)
{
    await(db, what);
    return PQgetResult(db->conn);
}

/*
 * Every result of the call in progress, up to the end; hands back the first
 * error, else the last result (as PQexec does). NULL if there was none.
 */
PGresult *ocrq_db_last(struct ocrq_db *db, const char *what)
{
    PGresult *keep = NULL, *res;

    while ((res = ocrq_db_result(db, what)) != NULL) {
        ExecStatusType rs = PQresultStatus(keep);
        if (keep && (rs == PGRES_FATAL_ERROR || rs == PGRES_BAD_RESPONSE)) {
            PQclear(res);
            continue;
        }
        PQclear(keep);
        keep = res;
    }
    return keep;
}

PGresult *ocrq_db_call(struct ocrq_db *db, const char *what, const char *sql, int nparams,
                       const char *const *params, const int *lengths, const int *formats,
                       int result_binary)
{
    ocrq_db_arm(db);
    if (!PQsendQueryParams(db->conn, sql, nparams, NULL, params, lengths, formats,
                           result_binary ? 1 : 0))
        return NULL; /* the caller logs PQerrorMessage() */
    return ocrq_db_last(db, what);
}

int ocrq_db_session_init(struct ocrq_db *db)
{
    static int told;

    db->pooled = db->pool_mode == OCRQ_DB_POOL_TRANSACTION;
    if (db->pool_mode == OCRQ_DB_POOL_AUTO) {
        PGresult *res =
            ocrq_db_call(db, "pool check", "SELECT pg_backend_pid()", 0, NULL, NULL, NULL, 0);
        int ok = res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;

        if (ok)
            db->pooled = atoi(PQgetvalue(res, 0, 0)) != PQbackendPID(db->conn);
        PQclear(res);
        if (!ok) {
            log_error(NULL, "db: pool check failed: %s", PQerrorMessage(db->conn));
            return OCRQ_ERR_DB;
        }
    }
    if (db->pooled && !__atomic_exchange_n(&told, 1, __ATOMIC_RELAXED)) {
        log_info(NULL,
                 "db: connected through a pooler (database.pool_mode %s): unnamed"
                 " statements, no LISTEN",
                 db->pool_mode == OCRQ_DB_POOL_AUTO ? "auto" : "transaction");
    }
    return OCRQ_OK;
}

int ocrq_db_pooled(const struct ocrq_db *db)
{
    return db && db->pooled;
}

void ocrq_db_set_timeout(struct ocrq_db *db, int timeout_ms)
{
    if (db)
        db->timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
}

int ocrq_db_timeout(const struct ocrq_db *db)
{
    return db ? db->timeout_ms : 0;
}
