/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Submit polling in the PostgreSQL store (ocrq/db.h): job counts by status,
 * and the finished jobs and pages of a set of ids. Same rules as db.h.
 */
#ifndef OCRQ_DB_POLL_H
#define OCRQ_DB_POLL_H

#include <stddef.h>

struct ocrq_db;

/* Job counts by status. */
struct ocrq_db_counts {
    long long queued, running, succeeded, failed, canceled;
    long long pages_done;          /* pages with a result, of every job counted */
    long long running_pages_done;  /* ... of the running jobs */
    long long running_pages_total; /* pages of the running jobs' documents read so far */
};

/* Counts for all jobs, or for one batch when batch is non-NULL. */
int ocrq_db_counts(struct ocrq_db *db, const char *batch, struct ocrq_db_counts *out);

/* One finished job, as seen by ocrq_db_poll_finished(). Strings are borrowed for the call. */
struct ocrq_db_finished {
    const char *job_id;
    int succeeded;          /* 1 succeeded, 0 failed or canceled */
    int canceled;           /* 1 canceled (ocrq-admin cancel) */
    const char *text;       /* NULL unless want_text and succeeded */
    const char *error_code; /* NULL if succeeded */
    const char *error_message;
    int pages; /* pages with a result (pages_done); 0 if none */
};

typedef void (*ocrq_db_finished_fn)(void *arg, const struct ocrq_db_finished *f);

/*
 * Of the jobs ids[0..n-1], call fn for each that is final: 'succeeded', 'failed' or 'canceled'
 * (one round trip: job_id = ANY($1::uuid[])). With want_text, the result text
 * is fetched too.
 */
int ocrq_db_poll_finished(struct ocrq_db *db, const char *const *ids, size_t n, int want_text,
                          ocrq_db_finished_fn fn, void *arg);

/*
 * Of the jobs ids[0..n-1] that are not final, the sum of pages_done into
 * *done and of pages_total into *total (a document's pages are known once
 * a worker has opened it and finished a page), one round trip.
 */
int ocrq_db_poll_pages(struct ocrq_db *db, const char *const *ids, size_t n, long long *done,
                       long long *total);

#endif
