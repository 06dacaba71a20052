/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * ocrq-admin purge: delete the finished jobs that ended before a duration
 * ago, with everything that hangs off them, in short batches
 * (ocrq_db_purge(), common/db_purge.c: the supervisor's retention pass runs
 * the same), and report what went and how long it took: a table, or one
 * JSON object with --json; progress on stderr while it runs long.
 */
#include "admin.h"

#include <stddef.h>
#include <stdio.h>

#include "ocrq/clock.h"
#include "ocrq/config.h"
#include "ocrq/db.h"
#include "ocrq/db_purge.h"
#include "ocrq/json.h"
#include "ocrq/status.h"
#include "ocrq/units.h"

#define PROGRESS_MS 2000 /* a line on stderr at most this often, from then on */

/* The counts of the report, in its order: the label, the JSON name, the field. */
static const struct {
    const char *label, *key;
    size_t field;
} rows[] = {
/* clang-format off */
#define ROW(label, key, field) {label, key, offsetof(struct ocrq_db_purge_counts, field)}
    /* clang-format on */
    ROW("jobs", "jobs", jobs),
    ROW("results", "results", results),
    ROW("pages", "pages", pages),
    ROW("artifacts", "artifacts", artifacts),
    ROW("page tasks", "page_tasks", page_tasks),
    ROW("page artifacts", "page_artifacts", page_artifacts),
    ROW("webhook deliveries", "webhook_deliveries", deliveries),
    ROW("webhook attempts", "webhook_attempts", attempts),
    ROW("idempotency keys", "idempotency_keys", idempotency_keys),
    ROW("stored blobs", "blobs", blobs),
    ROW("dedupe references cleared", "dedupe_cleared", dedupe_cleared),
#undef ROW
};

static long long count_of(const struct ocrq_db_purge_counts *c, size_t field)
{
    return *(const long long *)((const char *)c + field);
}

struct progress {
    int dry_run;
    long long t0_ms, last_ms;
};

static int on_batch(void *arg, const struct ocrq_db_purge_counts *c)
{
    struct progress *p = arg;
    long long now = ocrq_now_ms();

    if (now - p->last_ms >= PROGRESS_MS) {
        fprintf(stderr, "ocrq-admin: purge: %lld jobs %s so far, %lld batches, %.1f s\n", c->jobs,
                p->dry_run ? "counted" : "deleted", c->batches, (now - p->t0_ms) / 1000.0);
        p->last_ms = now;
    }
    return 0;
}

static void report_json(const struct admin_purge_opts *o, const struct ocrq_db_purge_counts *c,
                        double secs)
{
    struct ocrq_json *j = ocrq_json_object();
    int bad = ocrq_json_set_bool(j, "dry_run", o->dry_run);

    bad |= ocrq_json_set_str(j, "cutoff", c->cutoff);
    bad |= ocrq_json_set_int(j, "finished_before_s", o->finished_before_s);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        bad |= ocrq_json_set_int(j, rows[i].key, count_of(c, rows[i].field));
    bad |= ocrq_json_set_int(j, "succeeded", c->succeeded);
    bad |= ocrq_json_set_int(j, "failed", c->failed);
    bad |= ocrq_json_set_int(j, "canceled", c->canceled);
    bad |= ocrq_json_set_int(j, "blob_bytes", c->blob_bytes);
    bad |= ocrq_json_set_int(j, "kept_pending", c->kept_pending);
    bad |= ocrq_json_set_int(j, "batches", c->batches);
    bad |= ocrq_json_set_int(j, "batch_size", o->batch_size ? o->batch_size : OCRQ_DB_PURGE_BATCH);
    /* to the millisecond: it is for people */
    bad |= ocrq_json_set_real(j, "seconds", (double)(long long)(secs * 1000 + 0.5) / 1000);
    admin_json_print(j, bad);
}

static void report_text(const struct admin_purge_opts *o, const struct ocrq_db_purge_counts *c,
                        double secs)
{
    char bytes[32];

    printf("%s jobs that finished before %s%s%s:\n", o->dry_run ? "would purge" : "purged",
           c->cutoff, o->batch ? ", of batch " : "", o->batch ? o->batch : "");
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        printf("  %-26s %9lld", rows[i].label, count_of(c, rows[i].field));
        if (rows[i].field == offsetof(struct ocrq_db_purge_counts, jobs))
            printf("  (%lld succeeded, %lld failed, %lld canceled)", c->succeeded, c->failed,
                   c->canceled);
        if (rows[i].field == offsetof(struct ocrq_db_purge_counts, blobs)) {
            ocrq_bytes_human(c->blob_bytes, bytes, sizeof(bytes));
            printf("  (%s)", bytes);
        }
        printf("\n");
    }
    if (c->kept_pending > 0)
        printf("kept %lld job%s whose webhook delivery is still pending\n", c->kept_pending,
               c->kept_pending == 1 ? "" : "s");
    printf("%lld batch%s of at most %d jobs in %.2f s%s\n", c->batches, c->batches == 1 ? "" : "es",
           o->batch_size ? o->batch_size : OCRQ_DB_PURGE_BATCH, secs,
           o->dry_run ? "; --dry-run: nothing was deleted" : "");
}

int admin_purge(const struct ocrq_config *cfg, const struct admin_purge_opts *o)
{
    struct ocrq_db_purge_filter f = {
        .finished_before_s = o->finished_before_s,
        .statuses = o->statuses,
        .batch = o->batch,
        .batch_size = o->batch_size,
        .dry_run = o->dry_run,
    };
    struct ocrq_db_purge_counts c = {.jobs = 0};
    struct progress p = {.dry_run = o->dry_run};
    struct ocrq_db *db = NULL;
    int st = admin_db_open(cfg, OCRQ_DB_PURGE_SCHEMA, "retention indexes (migration 12)", &db);

    if (st != OCRQ_OK)
        goto out;
    p.t0_ms = p.last_ms = ocrq_now_ms();
    st = ocrq_db_purge(db, &f, on_batch, &p, &c);
    double secs = (ocrq_now_ms() - p.t0_ms) / 1000.0;
    if (st == OCRQ_OK || c.jobs > 0) { /* after a failure: what was committed before it */
        if (o->json)
            report_json(o, &c, secs);
        else
            report_text(o, &c, secs);
    }
    if (st != OCRQ_OK) {
        admin_report(c.jobs > 0 ? "purge stopped part way" : "cannot purge", st);
        st = st == OCRQ_ERR_INVALID ? st : OCRQ_ERR_DB;
    }
out:
    ocrq_db_free(db);
    return st;
}
