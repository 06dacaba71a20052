/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The statements of split documents (docs/design.md, "Page tasks"): the
 * split recorded on the job, which page tasks are released, each page task's
 * start and its stored page, and what the assembly of the whole document
 * reads back. Part of the db module (libpq stays inside common/).
 *
 * A document of N pages split with window K releases pages 1..K at once,
 * and each page p, once stored, releases page p + K. So the page tasks in
 * the queues or in flight are never more than K, and which ones they are
 * follows from the stored pages alone: a crash at any point is repaired by
 * releasing them again (ocrq_db_split_released), and a task that comes twice
 * finds its page stored and does nothing.
 */
#ifndef OCRQ_DB_TASKS_H
#define OCRQ_DB_TASKS_H

#include <stddef.h>

struct ocrq_db;
struct ocrq_db_page;
struct ocrq_db_artifact;

/* A job's split, as recorded. */
struct ocrq_db_split {
    int pages_total; /* 0: not split */
    int pages_done;  /* pages stored */
    int window;
    char sha256[65];  /* the document's, hex; "" unknown */
    char blob_id[37]; /* the stored document */
    char status[16];  /* the job's status */
};

/*
 * The split of job_id, if any, into *out (cleared on entry; pages_total 0
 * when the job was not split). OCRQ_OK, OCRQ_ERR_NOT_FOUND (no job row) or
 * OCRQ_ERR_DB.
 */
int ocrq_db_split_get(struct ocrq_db *db, const char *job_id, struct ocrq_db_split *out);

/*
 * Record that the running job_id is split into pages_total page tasks with
 * window, its document stored as blob_id (and its SHA-256, 64 hex digits,
 * may be NULL). A split recorded before stays as it was. Returns OCRQ_OK,
 * or OCRQ_ERR_NOT_FOUND when the job is not running (canceled meanwhile),
 * or OCRQ_ERR_DB.
 */
int ocrq_db_split_record(struct ocrq_db *db, const char *job_id, int pages_total, int window,
                         const char *blob_id, const char *sha256);

/*
 * The pages of a split that are released but not stored, ascending, into
 * pages[0..*n-1] (at most max of them; window is enough): p <= window, or
 * page p - window stored. OCRQ_OK or OCRQ_ERR_DB.
 */
int ocrq_db_split_released(struct ocrq_db *db, const char *job_id, int pages_total, int window,
                           int *pages, int max, int *n);

/* What a page task's start found. */
struct ocrq_db_page_start {
    char status[16]; /* the job's status ("" if no row) */
    int stored;      /* the page is stored already */
    int attempts;    /* deliveries of this page so far, this one included; 0 if not counted */
};

/*
 * Count a delivery of page page_no of job_id (asynchronously committed, as
 * the job start), unless the job is not running or the page is stored.
 * OCRQ_OK or OCRQ_ERR_DB; *out cleared on entry.
 */
int ocrq_db_page_start(struct ocrq_db *db, const char *job_id, int page_no, const char *worker,
                       struct ocrq_db_page_start *out);

/*
 * Store one page of a running split job, with its one-page artifacts (may
 * be none), in one transaction, and count it once in pages_done. *done and
 * *total get the job's counts after it; *done is -1 when the job is no
 * longer running (canceled or failed: the page is not kept). OCRQ_OK or
 * OCRQ_ERR_DB (nothing stored).
 */
int ocrq_db_page_store(struct ocrq_db *db, const char *job_id, const struct ocrq_db_page *pg,
                       const struct ocrq_db_artifact *arts, int n_arts, int *done, int *total);

/*
 * Called by ocrq_db_pages_text() for each stored page in order; the text
 * is borrowed for the call. Return OCRQ_OK to go on.
 */
typedef int (*ocrq_db_page_text_fn)(void *arg, int page_no, const char *text,
                                    double mean_confidence, int ocr, int duration_ms);

/*
 * The stored pages of job_id in order through fn, reading a bounded number
 * of rows at a time. Returns OCRQ_OK, OCRQ_ERR_DB or what fn returned.
 */
int ocrq_db_pages_text(struct ocrq_db *db, const char *job_id, ocrq_db_page_text_fn fn, void *arg);

/*
 * Page page_no's one-page artifact of format ("hocr", ...) into *data
 * (malloc'd, the caller frees it) and *len. OCRQ_OK, OCRQ_ERR_NOT_FOUND or
 * OCRQ_ERR_DB.
 */
int ocrq_db_page_artifact(struct ocrq_db *db, const char *job_id, int page_no, const char *format,
                          unsigned char **data, size_t *len);

struct ocrq_db_result;

/*
 * Mark the split job_id succeeded with res (its artifacts included, which
 * for a split document name blobs) in one transaction; its pages are
 * already stored. As ocrq_db_job_succeed(): one event, a canceled job left
 * alone. OCRQ_OK or OCRQ_ERR_DB.
 */
int ocrq_db_split_succeed(struct ocrq_db *db, const char *job_id, const char *worker,
                          const struct ocrq_db_result *res);

/*
 * Start the failure of a split job: BEGIN, then lock its row; *running says
 * whether it is still running (a page that fails at the same time as
 * another, or after a cancel, must find out before it fails the job). On
 * OCRQ_OK the transaction is open: fail the job in it (ocrq_db_job_fail())
 * and end it with ocrq_db_split_unlock(). OCRQ_ERR_DB otherwise.
 */
int ocrq_db_split_lock(struct ocrq_db *db, const char *job_id, int *running);

/* COMMIT (commit nonzero) or ROLLBACK what ocrq_db_split_lock() began. OCRQ_OK or OCRQ_ERR_DB. */
int ocrq_db_split_unlock(struct ocrq_db *db, int commit);

/*
 * Drop what only the assembly needed (the pages' one-page outputs) of a
 * job that is final; the task rows stay (attempts per page, for operators).
 * OCRQ_OK or OCRQ_ERR_DB.
 */
int ocrq_db_split_cleanup(struct ocrq_db *db, const char *job_id);

#endif
