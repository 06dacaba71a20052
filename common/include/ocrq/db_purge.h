/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Retention in the PostgreSQL store (ocrq/db.h, common/db_purge.c,
 * docs/operations.md): deleting finished jobs in batches. Same rules as db.h.
 */
#ifndef OCRQ_DB_PURGE_H
#define OCRQ_DB_PURGE_H

#include <stddef.h>

struct ocrq_db;

#define OCRQ_DB_PURGE_SCHEMA 12  /* migration 12: the indexes purge goes by */
#define OCRQ_DB_PURGE_BATCH 1000 /* jobs per transaction by default */
#define OCRQ_DB_PURGE_BATCH_MAX 10000

/* Finished statuses, for ocrq_db_purge_filter.statuses. */
enum {
    OCRQ_PURGE_SUCCEEDED = 1,
    OCRQ_PURGE_FAILED = 2,
    OCRQ_PURGE_CANCELED = 4,
    OCRQ_PURGE_FINISHED = 7,
};

/* Which jobs ocrq_db_purge() deletes, and how. */
struct ocrq_db_purge_filter {
    long long finished_before_s; /* jobs that ended at least this many seconds ago (>= 0) */
    unsigned statuses;           /* OCRQ_PURGE_* bits; 0: all three */
    const char *batch;           /* only the jobs of this batch; NULL: any */
    int batch_size;              /* jobs per transaction; 0: OCRQ_DB_PURGE_BATCH */
    int dry_run;                 /* count what would go, delete nothing */
    int try_lock;                /* another purge's batch holds the lock: end (busy) instead
                                    of waiting for it */
};

/* What ocrq_db_purge() deleted (with dry_run: would delete). */
struct ocrq_db_purge_counts {
    char cutoff[64]; /* jobs that finished before this (server time, text) */
    long long jobs, succeeded, failed, canceled;
    long long results, pages, artifacts, page_tasks, page_artifacts;
    long long deliveries, attempts, idempotency_keys;
    long long blobs, blob_bytes; /* stored documents and artifacts (ocr_blobs) */
    long long dedupe_cleared;    /* jobs whose dedupe_of named a deleted job: now NULL */
    long long kept_pending;      /* old enough but a webhook delivery is pending: kept */
    long long batches;           /* transactions that deleted jobs */
    int busy;                    /* try_lock: another purge was running; this one ended */
    int stopped;                 /* the progress callback asked to stop */
};

/* Called after each batch with the totals so far; nonzero stops the purge there. */
typedef int (*ocrq_db_purge_fn)(void *arg, const struct ocrq_db_purge_counts *so_far);

/*
 * Delete the finished jobs (succeeded, failed, canceled; never queued or
 * running) that match f and ended before now - f->finished_before_s, with
 * everything that hangs off them: results, pages, artifacts, page tasks,
 * webhook deliveries and attempts, idempotency keys and stored blobs; the
 * dedupe_of of jobs that named one is cleared. A job with a webhook
 * delivery still pending is kept. Batches of f->batch_size jobs, oldest
 * first, each its own short transaction that skips rows others hold locked,
 * then the batch's blobs in transactions of at most 64 MiB; so workers never
 * wait long on it. progress (may be NULL) is called after each batch. *out
 * gets the totals, also on error (what was committed). Returns OCRQ_OK
 * (also when busy or stopped), OCRQ_ERR_INVALID or OCRQ_ERR_DB (logged
 * once). Needs schema OCRQ_DB_PURGE_SCHEMA. Not thread-safe on one db.
 */
int ocrq_db_purge(struct ocrq_db *db, const struct ocrq_db_purge_filter *f,
                  ocrq_db_purge_fn progress, void *arg, struct ocrq_db_purge_counts *out);

/*
 * The counts of c in one line for a log or a report: "12 jobs (10 succeeded,
 * 1 failed, 1 canceled), 10 results, ..., 2 stored blobs (3.1 MiB), 0 dedupe
 * references cleared". Thread-safe.
 */
void ocrq_db_purge_summary(const struct ocrq_db_purge_counts *c, char *buf, size_t len);

#endif
