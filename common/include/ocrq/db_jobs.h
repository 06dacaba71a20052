/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The job statements of the PostgreSQL store (ocrq/db.h): a job queued,
 * started, succeeded (with its pages, artifacts, or a deduplicated copy),
 * failed or put back for a retry, and its progress. Same rules as db.h.
 */
#ifndef OCRQ_DB_JOBS_H
#define OCRQ_DB_JOBS_H

#include <stddef.h>

struct ocrq_db;
struct ocrq_job;

/*
 * Record jobs[0..n-1] as 'queued' in one statement (one round trip, one
 * transaction). Rows that already exist are left alone (ON CONFLICT DO NOTHING).
 */
int ocrq_db_jobs_queue(struct ocrq_db *db, const struct ocrq_job *const *jobs, size_t n);

/* What ocrq_db_job_start() found and did. */
struct ocrq_db_start {
    char status[16]; /* status after the call: "running", or "succeeded", "failed" or
                        "canceled" if already final */
    int attempts;    /* attempts after the call (deliveries counted so far) */
};

/*
 * A worker starts job: upsert its row (creating it for jobs published by other
 * producers), and unless it is already final (succeeded, failed, canceled) set status 'running',
 * started_at = now(), worker, and attempts + 1. A final row is left as it is
 * (and not counted as an attempt), so the caller can skip a duplicate delivery.
 */
int ocrq_db_job_start(struct ocrq_db *db, const struct ocrq_job *job, const char *worker,
                      struct ocrq_db_start *out);

/*
 * ocrq_db_job_start() in two halves, so that its round trip and commit
 * overlap other work: _send hands the statement to the server, which runs
 * and commits it at once (even if this process dies right after); _recv
 * waits for the reply. Nothing else may use db between the two.
 */
int ocrq_db_job_start_send(struct ocrq_db *db, const struct ocrq_job *job, const char *worker);
int ocrq_db_job_start_recv(struct ocrq_db *db, const char *job_id, struct ocrq_db_start *out);

/* One output of a job beside its text (ocr_artifacts, docs/results.md). */
struct ocrq_db_artifact {
    const char *format;        /* "hocr", "alto", "tsv", "pdf", "words" */
    const unsigned char *data; /* len bytes; NULL when not kept (error says why) */
    size_t len;                /* the artifact's size, also when not kept */
    const char *error;         /* NULL when data is stored */
    const char *blob_id;       /* the artifact is in the document store (ocrq/blob.h) under
                                  this blob instead of data (large documents); else NULL */
};

/* A result to store. */
struct ocrq_db_result {
    const char *text;
    double mean_confidence; /* 0-100 */
    int duration_ms;        /* OCR time */
    const char *engine_version;
    /* written by ocrq_db_job_succeed_pages() only; none: NULL, 0 */
    const struct ocrq_db_artifact *artifacts;
    int n_artifacts;
    const char *doc_sha256; /* the document's SHA-256, 64 hex digits; NULL: unknown */
    const char *options;    /* what besides document and language shaped the text (dedupe) */
    const char *dedupe_of;  /* the job whose result this is a copy of; NULL: none */
};

/*
 * In one transaction (one statement): upsert the ocr_results row keyed on
 * job_id and set the job 'succeeded' with finished_at = now(). Returns only
 * after COMMIT. A canceled job is left as it is (no result row, no event).
 */
int ocrq_db_job_succeed(struct ocrq_db *db, const char *job_id, const char *worker,
                        const struct ocrq_db_result *res);

struct ocrq_db_page;

/*
 * A first attempt recorded with its outcome, with no start before it: the
 * job row (created from job if missing) goes straight to succeeded with
 * attempts + 1, its started_at res->duration_ms before now, its result and
 * its one page, in one statement. A job already final (a repeat, or
 * canceled) is left as it is: *recorded is then 0, else 1. Returns
 * OCRQ_OK, OCRQ_ERR_INVALID or OCRQ_ERR_DB.
 */
int ocrq_db_job_succeed_first(struct ocrq_db *db, const struct ocrq_job *job, const char *worker,
                              const struct ocrq_db_result *res, const struct ocrq_db_page *page,
                              int *recorded);

/* One page of a document's result (ocr_pages). */
struct ocrq_db_page {
    int page_no; /* 1, 2, ... */
    const char *text;
    double mean_confidence; /* 0-100; < 0: none (the page's text layer was taken) */
    int width, height;
    int rotation;    /* 0, 90, 180 or 270 */
    double skew;     /* degrees turned clockwise to straighten it (ocr.deskew); 0: not */
    int duration_ms; /* rendering and OCR of this page */
    int ocr;         /* 1: recognized by the engine; 0: the page's own text layer */
};

/*
 * ocrq_db_job_succeed() for a document of n pages, in one transaction with
 * it: each page upserted into ocr_pages on (job_id, page_no), so a repeat
 * writes no second row, and pages_total = pages_done = n on the job; each of
 * res->artifacts upserted into ocr_artifacts on (job_id, format) likewise.
 * Returns only after COMMIT; on error nothing is written. Returns OCRQ_OK,
 * OCRQ_ERR_INVALID or OCRQ_ERR_DB (logged once). (common/db_pages.c)
 */
int ocrq_db_job_succeed_pages(struct ocrq_db *db, const char *job_id, const char *worker,
                              const struct ocrq_db_result *res, const struct ocrq_db_page *pages,
                              int n);

/* Called by ocrq_db_artifacts_get() for each artifact; a's strings live until it returns. */
typedef void (*ocrq_db_artifact_fn)(void *arg, const struct ocrq_db_artifact *a);

/*
 * Call fn for each ocr_artifacts row of job_id, in one round trip. Returns
 * OCRQ_OK (also when there is none), OCRQ_ERR_INVALID (a bad id) or
 * OCRQ_ERR_DB. (common/db_artifacts.c)
 */
int ocrq_db_artifacts_get(struct ocrq_db *db, const char *job_id, ocrq_db_artifact_fn fn,
                          void *arg);

/*
 * Progress of a document of several pages, while its job runs: upsert page
 * pg into ocr_pages and set pages_done = done, pages_total = total on the
 * job, in one statement committed asynchronously (no WAL flush waited for;
 * the final ocrq_db_job_succeed_pages() rewrites the same rows and its flush
 * covers these). Only a 'running' job is written. Returns OCRQ_OK,
 * OCRQ_ERR_INVALID or OCRQ_ERR_DB (logged once). (common/db_pages.c)
 */
int ocrq_db_page_progress(struct ocrq_db *db, const char *job_id, const struct ocrq_db_page *pg,
                          int done, int total);

/* A succeeded job whose result a new job may take (deduplication). */
struct ocrq_db_dedupe {
    char job_id[37];
    char *text; /* malloc'd; free with ocrq_db_dedupe_cleanup() */
    double mean_confidence;
    char *engine_version; /* malloc'd; may be NULL */
};

/*
 * The latest job that succeeded within ttl_s seconds, by OCR (not itself a
 * copy), for the same document (doc_sha256, hex), language and options:
 * one lookup on a partial index. OCRQ_OK with *out filled, OCRQ_ERR_NOT_FOUND
 * if none, OCRQ_ERR_NOMEM or OCRQ_ERR_DB. (common/db_dedupe.c)
 */
int ocrq_db_dedupe_find(struct ocrq_db *db, const char *doc_sha256, const char *language,
                        const char *options, int ttl_s, struct ocrq_db_dedupe *out);

/* Free what a hit holds and clear it; NULL is fine. */
void ocrq_db_dedupe_cleanup(struct ocrq_db_dedupe *hit);

/*
 * Mark job_id succeeded with a copy of hit's result, in one transaction:
 * the succeed statement of ocrq_db_job_succeed() (its result row and its
 * webhook event) with res->dedupe_of = hit, and a copy of hit's ocr_pages
 * (method 'dedupe'), pages_total and pages_done. Returns OCRQ_OK,
 * OCRQ_ERR_INVALID or OCRQ_ERR_DB. (common/db_dedupe.c)
 */
int ocrq_db_job_succeed_dedupe(struct ocrq_db *db, const char *job_id, const char *worker,
                               const struct ocrq_db_result *res);

/*
 * Mark a job 'failed' with error code and message, finished_at = now(), in
 * one transaction. job may be NULL when the message could not be decoded: the
 * row is then created with what is known (language '', source NULL). A
 * succeeded or canceled job is left as it is.
 */
int ocrq_db_job_fail(struct ocrq_db *db, const char *job_id, const struct ocrq_job *job,
                     const char *worker, const char *code, const char *message);

/* Put a job back to 'queued' after a transient failure, keeping the error for display. */
int ocrq_db_job_retry(struct ocrq_db *db, const char *job_id, const char *code,
                      const char *message);

#endif
