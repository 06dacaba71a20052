/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Dead letters and cancel in the PostgreSQL store (ocrq/db.h; ocrq-admin
 * failed, cancel; common/db_failed.c). Same rules as db.h.
 */
#ifndef OCRQ_DB_FAILED_H
#define OCRQ_DB_FAILED_H

#include <stddef.h>

struct ocrq_db;

/* A job's row as ocrq-admin failed shows it. Strings are borrowed for the call; NULL if unset. */
struct ocrq_db_job_info {
    const char *job_id, *status, *batch, *source, *error_code, *error_message;
    int attempts;
    int priority;
    double finished_at; /* seconds since the epoch; 0 if not finished */
};
typedef void (*ocrq_db_job_info_fn)(void *arg, const struct ocrq_db_job_info *j);

/*
 * Call fn for each of ids[0..n-1] (valid UUIDs, n <= 10000) that has a row,
 * in no particular order, in one round trip. Returns OCRQ_OK,
 * OCRQ_ERR_INVALID (a bad id, logged) or OCRQ_ERR_DB.
 */
int ocrq_db_jobs_info(struct ocrq_db *db, const char *const *ids, size_t n, ocrq_db_job_info_fn fn,
                      void *arg);

/*
 * ocrq-admin failed requeue, before the job is published again: if the row is
 * 'failed' (or 'queued': a requeue that stopped half way), set it 'queued'
 * with attempts 0 and no error, start or finish, in one statement. before
 * gets the status it had ("" if there is no row); *reset = 1 if it was reset.
 * A running, succeeded or canceled row is left alone. Returns OCRQ_OK,
 * OCRQ_ERR_INVALID or OCRQ_ERR_DB.
 */
int ocrq_db_job_requeue(struct ocrq_db *db, const char *job_id, char *before, size_t beforelen,
                        int *reset);

/* One job that ocrq_db_cancel() looked at. Strings are borrowed for the call. */
struct ocrq_db_cancel_info {
    const char *job_id;
    const char *status; /* after the call: "canceled", or what kept it from being canceled */
    int canceled_now;   /* 1 if this call canceled it */
};
typedef void (*ocrq_db_cancel_fn)(void *arg, const struct ocrq_db_cancel_info *c);

/*
 * Cancel job job_id, or every job of batch (exactly one of the two non-NULL):
 * the queued ones become 'canceled' with finished_at = now(), in one
 * statement; running and final ones are left alone. fn is called for every
 * job that matched, canceled now or not, oldest first. Returns OCRQ_OK,
 * OCRQ_ERR_INVALID or OCRQ_ERR_DB.
 */
int ocrq_db_cancel(struct ocrq_db *db, const char *job_id, const char *batch, ocrq_db_cancel_fn fn,
                   void *arg);

#endif
