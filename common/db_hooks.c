/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The webhook outbox (docs/webhooks.md): the webhook sender claims due
 * deliveries and records each attempt's outcome; ocrq-admin webhooks lists
 * and retries them. And LISTEN: the sender waits for the notify trigger of
 * new deliveries on the connection's socket.
 */
#include "ocrq/db_hooks.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"
#include "migrations.h"
#include "ocrq/log.h"
#include "ocrq/status.h"

/* Deliveries for ocrq-admin webhooks list, newest first, at most $1. */
#define HOOK_LIST_SQL(where)                                                                       \
    "SELECT d.id, d.event_id, d.job_id, d.event_type, d.url, d.status, d.attempts,"                \
    " d.last_http_status, d.last_error,"                                                           \
    " to_char(d.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"                 \
    " to_char(d.next_attempt_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"            \
    " to_char(d.delivered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"                \
    " FROM ocr_webhook_deliveries AS d WHERE " where " ORDER BY d.id DESC LIMIT $1::integer"

/*
 * Webhook dispatchers: take up to $2 due deliveries for $1 seconds. SKIP
 * LOCKED lets dispatchers on many machines claim side by side; the lease
 * (locked_until) keeps a claimed one from being sent twice at once, and
 * lets another dispatcher take it over if this one dies.
 */
static const struct ocrq_db_stmt st_hook_claim = {
    ST_HOOK_CLAIM, "ocrq_hook_claim", 2,
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
    "  AND k.webhook_secret_prev_until > now())"};

/* One attempt's outcome: the attempt row, and the delivery's new state, together. */
static const struct ocrq_db_stmt st_hook_done = {
    ST_HOOK_DONE, "ocrq_hook_done", 8,
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
    " WHERE id = $1::bigint"};

static const struct ocrq_db_stmt st_hook_list = {ST_HOOK_LIST, "ocrq_hook_list", 1,
                                                 HOOK_LIST_SQL("TRUE")};

static const struct ocrq_db_stmt st_hook_list_failed = {
    ST_HOOK_LIST_FAILED, "ocrq_hook_list_failed", 1, HOOK_LIST_SQL("d.status = 'failed'")};

/* ocrq-admin webhooks retry: due now, with the whole schedule again */
static const struct ocrq_db_stmt st_hook_retry = {
    ST_HOOK_RETRY, "ocrq_hook_retry", 1,
    "UPDATE ocr_webhook_deliveries SET status = 'pending',"
    " next_attempt_at = now(), retry_base = attempts, locked_until = NULL"
    " WHERE id = $1::bigint AND status <> 'delivered' RETURNING id"};

static const struct ocrq_db_stmt st_hook_retry_failed = {
    ST_HOOK_RETRY_FAILED, "ocrq_hook_retry_failed", 0,
    "UPDATE ocr_webhook_deliveries SET status = 'pending',"
    " next_attempt_at = now(), retry_base = attempts,"
    " locked_until = NULL WHERE status = 'failed' RETURNING id"};

static char *dup_value(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : strdup(PQgetvalue(res, row, col));
}

int ocrq_db_hooks_claim(struct ocrq_db *db, int lease_s, int max, struct ocrq_db_hook **out, int *n)
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
    st = ocrq_db_stmt_run(db, &st_hook_claim, params, PGRES_TUPLES_OK, NULL, &res);
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
    const char *params[8] = {id,
                             attempt,
                             started,
                             o->http_status ? http : NULL,
                             o->error ? ocrq_db_capped(o->error, err, sizeof err) : NULL,
                             ms,
                             o->status,
                             retry};
    PGresult *res = NULL;

    snprintf(id, sizeof id, "%lld", hook->id);
    snprintf(attempt, sizeof attempt, "%d", hook->attempt);
    snprintf(started, sizeof started, "%.3f", o->started_at);
    snprintf(http, sizeof http, "%d", o->http_status);
    snprintf(ms, sizeof ms, "%d", o->duration_ms);
    snprintf(retry, sizeof retry, "%.3f", o->retry_in_s > 0 ? o->retry_in_s : 0.0);
    int st = ocrq_db_stmt_run(db, &st_hook_done, params, PGRES_COMMAND_OK, NULL, &res);
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
    int st = ocrq_db_stmt_run(db, failed_only ? &st_hook_list_failed : &st_hook_list, params,
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
    int st = ocrq_db_stmt_run(db, id > 0 ? &st_hook_retry : &st_hook_retry_failed, params,
                              PGRES_TUPLES_OK, NULL, &res);
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
            ocrq_db_log_failure(NULL, "wait for notifications", db->conn, NULL);
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
