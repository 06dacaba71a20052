/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The db module's error translation: a libpq failure (a result's SQLSTATE
 * and message, or the connection's error) is logged here once, on one line,
 * and becomes OCRQ_ERR_DB; server notices go to the debug log.
 */
#include <libpq-fe.h>
#include <stddef.h>

#include "db_internal.h"
#include "ocrq/log.h"
#include "ocrq/status.h"

#define MAX_LOG_DETAIL 400 /* libpq message quoted in a log line */

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
void ocrq_db_log_failure(const char *job, const char *what, const PGconn *conn, const PGresult *res)
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
void ocrq_db_log_connect_failure(const PGconn *conn)
{
    char detail[MAX_LOG_DETAIL + 1];

    one_line(detail, sizeof detail, conn ? PQerrorMessage(conn) : "out of memory");
    log_error(NULL, "db: cannot connect to %s:%s/%s: %s", conn ? PQhost(conn) : "?",
              conn ? PQport(conn) : "?", conn ? PQdb(conn) : "?", detail);
}

/* OCRQ_OK if res has status want, else log it (once) and return OCRQ_ERR_DB. */
int ocrq_db_check(const struct ocrq_db *db, const PGresult *res, ExecStatusType want,
                  const char *what, const char *job)
{
    if (res && PQresultStatus(res) == want)
        return OCRQ_OK;
    ocrq_db_log_failure(job, what, db->conn, res);
    return OCRQ_ERR_DB;
}

/* Server notices (e.g. "already exists, skipping") go to the debug log, not stderr. */
void ocrq_db_notice_to_log(void *arg, const char *message)
{
    char detail[MAX_LOG_DETAIL + 1];

    (void)arg;
    if (!ocrq_log_enabled(OCRQ_LOG_DEBUG))
        return;
    one_line(detail, sizeof detail, message);
    log_debug(NULL, "db: %s", detail);
}
