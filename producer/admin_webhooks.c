/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * ocrq-admin webhooks list|retry: the operator's view of the webhook outbox
 * (docs/webhooks.md). The dispatchers of ocrq-worker do the sending.
 */
#include "admin.h"

#include <stdio.h>

#include "ocrq/config.h"
#include "ocrq/db.h"
#include "ocrq/db_hooks.h"
#include "ocrq/json.h"
#include "ocrq/status.h"

static void print_json(void *arg, const struct ocrq_db_hook_info *h)
{
    (void)arg;
    struct ocrq_json *o = ocrq_json_object();
    int bad = ocrq_json_set_int(o, "id", h->id);

    bad |= ocrq_json_set_str(o, "event_id", h->event_id);
    bad |= ocrq_json_set_str(o, "job_id", h->job_id);
    bad |= ocrq_json_set_str(o, "type", h->event_type);
    bad |= ocrq_json_set_str(o, "url", h->url);
    bad |= ocrq_json_set_str(o, "status", h->status);
    bad |= ocrq_json_set_int(o, "attempts", h->attempts);
    if (h->last_http_status)
        bad |= ocrq_json_set_int(o, "last_http_status", h->last_http_status);
    else
        bad |= ocrq_json_set_null(o, "last_http_status");
    bad |= ocrq_json_set_str(o, "last_error", h->last_error);
    bad |= ocrq_json_set_str(o, "created_at", h->created_at);
    bad |= ocrq_json_set_str(o, "next_attempt_at",
                             h->status && h->status[0] == 'p' ? h->next_attempt_at : NULL);
    bad |= ocrq_json_set_str(o, "delivered_at", h->delivered_at);
    admin_json_print(o, bad);
}

static void print_row(void *arg, const struct ocrq_db_hook_info *h)
{
    int *rows = arg;
    char last[64];

    if ((*rows)++ == 0)
        printf("%-8s %-10s %-14s %8s  %-20s %-36s %s\n", "ID", "STATUS", "TYPE", "ATTEMPTS", "LAST",
               "JOB", "URL");
    if (h->last_http_status)
        snprintf(last, sizeof(last), "HTTP %d", h->last_http_status);
    else
        snprintf(last, sizeof(last), "%.20s", h->last_error ? h->last_error : "-");
    printf("%-8lld %-10s %-14s %8d  %-20s %-36s %s\n", h->id, h->status, h->event_type, h->attempts,
           last, h->job_id, h->url);
}

int admin_webhooks_list(const struct ocrq_config *cfg, int failed_only, int json, int limit)
{
    struct ocrq_db *db = NULL;
    int rows = 0, st = admin_db_open(cfg, 2, "webhook outbox", &db);

    if (st == OCRQ_OK)
        st = ocrq_db_hooks_list(db, failed_only, limit, json ? print_json : print_row, &rows);
    if (st == OCRQ_OK && !json && rows == 0)
        printf("no %swebhook deliveries\n", failed_only ? "failed " : "");
    if (st != OCRQ_OK && db != NULL)
        admin_report("cannot list the deliveries", st);
    ocrq_db_free(db);
    return st == OCRQ_OK ? OCRQ_OK : OCRQ_ERR_DB;
}

int admin_webhooks_retry(const struct ocrq_config *cfg, long long id)
{
    struct ocrq_db *db = NULL;
    long long n = 0;
    int st = admin_db_open(cfg, 2, "webhook outbox", &db);

    if (st == OCRQ_OK)
        st = ocrq_db_hooks_retry(db, id, &n);
    if (st != OCRQ_OK) {
        if (db != NULL)
            admin_report("cannot schedule the retry", st);
        ocrq_db_free(db);
        return OCRQ_ERR_DB;
    }
    ocrq_db_free(db);
    if (id > 0 && n == 0) {
        fprintf(stderr,
                "ocrq-admin: webhooks retry: no delivery %lld that is not delivered "
                "already\n",
                id);
        return OCRQ_ERR_NOT_FOUND;
    }
    if (id > 0)
        printf("delivery %lld is due again now\n", id);
    else
        printf("%lld failed deliver%s due again now\n", n, n == 1 ? "y is" : "ies are");
    return OCRQ_OK;
}
