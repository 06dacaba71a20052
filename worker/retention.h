/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The supervisor's retention pass (retention.days): a thread of its own
 * that deletes the jobs finished longer ago than that, shortly after the
 * supervisor starts and then once an hour, with ocrq_db_purge() (the code
 * of ocrq-admin purge), and logs what it removed. See docs/operations.md.
 */
#ifndef OCRQ_WORKER_RETENTION_H
#define OCRQ_WORKER_RETENTION_H

struct ocrq_config;
struct ocrq_retention;

/*
 * Start the retention thread if cfg->retention_days > 0; *out is NULL when
 * it is off (and on error). cfg is borrowed until ocrq_retention_free().
 * Returns OCRQ_OK, OCRQ_ERR_NOMEM or OCRQ_ERR_IO (the thread did not start).
 */
int ocrq_retention_new(const struct ocrq_config *cfg, struct ocrq_retention **out);

/*
 * Ask the thread to stop, without waiting: a pass in progress ends after
 * its current batch. NULL is fine. Thread-safe.
 */
void ocrq_retention_stop(struct ocrq_retention *r);

/* Stop the thread, wait for it (at most one batch) and free r; NULL is fine. */
void ocrq_retention_free(struct ocrq_retention *r);

#endif
