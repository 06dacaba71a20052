/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The supervisor's retention pass (retention.days, docs/operations.md): a
 * thread with its own database connection that runs ocrq_db_purge() 10 s
 * after the supervisor starts and then every hour, and logs what went. A
 * thread, not the supervisor's loop, so that a slow database never delays
 * restarts, the hard time limit or a stop. Every supervisor of a fleet runs
 * it; the batches take a transaction advisory lock (db_purge.c), and a pass
 * that finds it taken by another ends, so one does the work at a time.
 */
#include "retention.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ocrq/clock.h"
#include "ocrq/config.h"
#include "ocrq/db.h"
#include "ocrq/db_purge.h"
#include "ocrq/log.h"
#include "ocrq/status.h"
#include "stopper.h"

#define FIRST_PASS_MS 10000LL   /* after start: the OCR processes connect first */
#define PASS_EVERY_MS 3600000LL /* then once an hour */
#define RETRY_MS 300000LL       /* after a pass that failed (the database was away) */

struct ocrq_retention {
    const struct ocrq_config *cfg;
    struct ocrq_db *db; /* the thread's own; NULL until the first pass connects */
    pthread_t thread;
    struct ocrq_stopper stop; /* set by ocrq_retention_stop() */
};

/* ocrq_db_purge()'s progress callback: stop between batches when the supervisor stops. */
static int keep_going(void *arg, const struct ocrq_db_purge_counts *so_far)
{
    (void)so_far;
    return ocrq_stopper_stopped(&((struct ocrq_retention *)arg)->stop);
}

/* A connection that works, made or mended; OCRQ_OK or OCRQ_ERR_DB (logged). */
static int connected(struct ocrq_retention *r)
{
    int version = 0, st;

    if (r->db == NULL)
        st = ocrq_db_connect(r->cfg, &r->db);
    else
        st = ocrq_db_alive(r->db) ? OCRQ_OK : ocrq_db_reconnect(r->db);
    if (st == OCRQ_OK)
        st = ocrq_db_schema_version(r->db, &version);
    if (st != OCRQ_OK) {
        log_warn(NULL, "retention: the database cannot be reached; trying again in %lld min",
                 RETRY_MS / 60000);
        return OCRQ_ERR_DB;
    }
    if (version < OCRQ_DB_PURGE_SCHEMA) {
        log_warn(NULL,
                 "retention: the database schema is at version %d, retention needs %d: "
                 "run ocrq-admin setup",
                 version, OCRQ_DB_PURGE_SCHEMA);
        return OCRQ_ERR_DB;
    }
    return OCRQ_OK;
}

/* One pass; OCRQ_OK, or OCRQ_ERR_DB when it should be tried again soon. */
static int pass(struct ocrq_retention *r)
{
    struct ocrq_db_purge_filter f = {
        .finished_before_s = (long long)r->cfg->retention_days * 86400,
        .try_lock = 1,
    };
    struct ocrq_db_purge_counts c;
    char summary[512];
    long long t0 = ocrq_now_ms();
    int st = connected(r);

    if (st != OCRQ_OK)
        return st;
    st = ocrq_db_purge(r->db, &f, keep_going, r, &c);
    ocrq_db_purge_summary(&c, summary, sizeof(summary));
    if (c.jobs > 0 || (st == OCRQ_OK && !c.busy))
        log_info(NULL,
                 "retention: deleted %s, finished before %s (retention.days = %d), "
                 "in %.2f s, %lld batch%s%s; %lld kept with a webhook delivery pending",
                 summary, c.cutoff, r->cfg->retention_days, (ocrq_now_ms() - t0) / 1000.0,
                 c.batches, c.batches == 1 ? "" : "es",
                 c.stopped ? "; stopped with the supervisor" : "", c.kept_pending);
    if (c.busy)
        log_info(NULL, "retention: another purge holds the lock (another supervisor's pass, or "
                       "ocrq-admin purge): this pass ends here; the next in an hour");
    if (st != OCRQ_OK)
        log_warn(NULL, "retention: the pass failed (%s); trying again in %lld min",
                 ocrq_strerror(st), RETRY_MS / 60000);
    return st;
}

static void *run(void *arg)
{
    struct ocrq_retention *r = arg;
    long long wait = FIRST_PASS_MS;

    while (!ocrq_stopper_wait_ms(&r->stop, wait))
        wait = pass(r) == OCRQ_OK ? PASS_EVERY_MS : RETRY_MS;
    return NULL;
}

int ocrq_retention_new(const struct ocrq_config *cfg, struct ocrq_retention **out)
{
    struct ocrq_retention *r;

    *out = NULL;
    if (cfg->retention_days <= 0)
        return OCRQ_OK;
    if (!(r = calloc(1, sizeof(*r))))
        return OCRQ_ERR_NOMEM;
    r->cfg = cfg;
    ocrq_stopper_init(&r->stop);
    if (pthread_create(&r->thread, NULL, run, r) != 0) {
        ocrq_stopper_destroy(&r->stop);
        free(r);
        return OCRQ_ERR_IO;
    }
    if (cfg->dedupe_enabled && (long long)cfg->retention_days * 86400 <= cfg->dedupe_ttl_s)
        log_warn(NULL,
                 "retention: retention.days = %d is within dedupe.ttl_s = %d s: a job "
                 "taking a result from a job being deleted is retried",
                 cfg->retention_days, cfg->dedupe_ttl_s);
    log_info(NULL,
             "retention: jobs finished over %d day%s ago are deleted in %lld s, then "
             "hourly",
             cfg->retention_days, cfg->retention_days == 1 ? "" : "s", FIRST_PASS_MS / 1000);
    *out = r;
    return OCRQ_OK;
}

void ocrq_retention_stop(struct ocrq_retention *r)
{
    if (r == NULL)
        return;
    ocrq_stopper_stop(&r->stop);
}

void ocrq_retention_free(struct ocrq_retention *r)
{
    if (r == NULL)
        return;
    ocrq_retention_stop(r);
    pthread_join(r->thread, NULL);
    ocrq_db_free(r->db);
    ocrq_stopper_destroy(&r->stop);
    free(r);
}
