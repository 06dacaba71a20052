/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The PostgreSQL store: jobs, results and schema migrations, over libpq.
 * One connection per struct; a connection belongs to one thread at a time.
 * Every function returns OCRQ_OK, or OCRQ_ERR_DB when the database is
 * unreachable or a query fails (logged once here); out-parameters are
 * cleared on entry.
 */
#ifndef OCRQ_DB_H
#define OCRQ_DB_H

#include <stddef.h>

#include "ocrq/uuid.h"

struct ocrq_config;
struct ocrq_job;
struct ocrq_db;

/* Connect to cfg->database_url. Returns OCRQ_OK or OCRQ_ERR_DB; *out is NULL on error. */
int ocrq_db_connect(const struct ocrq_config *cfg, struct ocrq_db **out);

/* Close and free; NULL is fine. */
void ocrq_db_free(struct ocrq_db *db);

/* Nonzero if the connection is up (PQstatus, no round trip). */
int ocrq_db_alive(struct ocrq_db *db);

/* Re-establish a broken connection (PQreset) and check it with a round trip. */
int ocrq_db_reconnect(struct ocrq_db *db);

/*
 * Nonzero if the connection goes through a transaction pool (database.pool_mode
 * "transaction", or "auto" and a pooler was seen): LISTEN cannot work there.
 */
int ocrq_db_pooled(const struct ocrq_db *db);

/*
 * The longest wait for one call on db, in ms (0: none); it starts as
 * database.statement_timeout_ms. A call that outlives it drops the
 * connection and fails with OCRQ_ERR_DB. (common/db_session.c)
 */
void ocrq_db_set_timeout(struct ocrq_db *db, int timeout_ms);
int ocrq_db_timeout(const struct ocrq_db *db);

/*
 * Apply the pending schema migrations, each in its own transaction, under an
 * advisory lock so concurrent callers are safe. Idempotent. *applied gets the
 * number applied now, *version the schema version after (either may be NULL).
 */
int ocrq_db_migrate(struct ocrq_db *db, int *applied, int *version);

/* Current schema version (0 if no migration applied). */
int ocrq_db_schema_version(struct ocrq_db *db, int *version);

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
    char *text;           /* malloc'd; free with ocrq_db_dedupe_cleanup() */
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
    int succeeded;             /* 1 succeeded, 0 failed or canceled */
    int canceled;              /* 1 canceled (ocrq-admin cancel) */
    const char *text;          /* NULL unless want_text and succeeded */
    const char *error_code;    /* NULL if succeeded */
    const char *error_message;
    int pages;                 /* pages with a result (pages_done); 0 if none */
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

/* ---- the webhook outbox (docs/webhooks.md) ------------------------------ */

/* A delivery claimed for sending. url and body are malloc'd (ocrq_db_hooks_free). */
struct ocrq_db_hook {
    long long id;
    char event_id[64];   /* webhook-id */
    char *url;
    char *body;
    int attempt;         /* this attempt's number, over the delivery's whole life */
    int round_attempt;   /* ... and since the latest ocrq-admin webhooks retry (1 = first) */
    char *secret;        /* the submitting API key's whsec_ secret; NULL: webhooks.secrets */
    char *secret_prev;   /* its previous one, while the rotation's overlap lasts; or NULL */
};

/*
 * Claim up to max due deliveries for lease_s seconds (FOR UPDATE SKIP LOCKED,
 * then a lease): *out gets *n of them (free with ocrq_db_hooks_free), counting
 * the attempt. Returns OCRQ_OK or OCRQ_ERR_DB.
 */
int ocrq_db_hooks_claim(struct ocrq_db *db, int lease_s, int max, struct ocrq_db_hook **out,
                        int *n);
void ocrq_db_hooks_free(struct ocrq_db_hook *hooks, int n);

/* What became of one attempt. */
struct ocrq_db_hook_outcome {
    double started_at;   /* seconds since the epoch */
    int http_status;     /* 0: no response */
    const char *error;   /* NULL if delivered */
    int duration_ms;
    const char *status;  /* "delivered", "pending" (again, in retry_in_s) or "failed" */
    double retry_in_s;
};

/* Record the attempt and the delivery's new state in one statement. */
int ocrq_db_hook_done(struct ocrq_db *db, const struct ocrq_db_hook *hook,
                      const struct ocrq_db_hook_outcome *o);

/* One delivery for ocrq-admin webhooks list. Strings are borrowed for the call. */
struct ocrq_db_hook_info {
    long long id;
    const char *event_id, *job_id, *event_type, *url, *status;
    int attempts;
    int last_http_status; /* 0: none */
    const char *last_error, *created_at, *next_attempt_at, *delivered_at; /* may be NULL */
};

typedef void (*ocrq_db_hook_info_fn)(void *arg, const struct ocrq_db_hook_info *h);

/* The newest limit deliveries (only failed ones with failed_only), newest first. */
int ocrq_db_hooks_list(struct ocrq_db *db, int failed_only, int limit, ocrq_db_hook_info_fn fn,
                       void *arg);

/*
 * Make delivery id (0: every failed one) due now with the whole retry schedule
 * again; a delivered one is left alone. *count gets how many changed.
 */
int ocrq_db_hooks_retry(struct ocrq_db *db, long long id, long long *count);

/* The connection's socket, to poll beside others; -1 if none. */
int ocrq_db_socket(const struct ocrq_db *db);

/* LISTEN on channel (again after a reconnect). */
int ocrq_db_listen(struct ocrq_db *db, const char *channel);

/*
 * Wait up to timeout_ms for a notification on a channel listened to.
 * Returns OCRQ_OK (one or more came; all are consumed), OCRQ_ERR_TIMEOUT, or
 * OCRQ_ERR_DB (the connection broke).
 */
int ocrq_db_wait_notify(struct ocrq_db *db, int timeout_ms);

/* ---- dead letters and cancel (db_failed.c; ocrq-admin failed, cancel) ---- */

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
int ocrq_db_jobs_info(struct ocrq_db *db, const char *const *ids, size_t n,
                      ocrq_db_job_info_fn fn, void *arg);

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
int ocrq_db_cancel(struct ocrq_db *db, const char *job_id, const char *batch,
                   ocrq_db_cancel_fn fn, void *arg);

/* ---- API keys (ocrq-admin apikey, ocrq-api) ---------------------------- */

/*
 * Store a new key's name, public id, hash and webhook signing secret (whsec_;
 * NULL: the global ones); *created = 0 if the name is taken.
 */
int ocrq_db_key_create(struct ocrq_db *db, const char *name, const char *key_id,
                       const char *key_hash, const char *webhook_secret, int *created);

/*
 * Give key name a new webhook signing secret; the one it had keeps signing
 * beside it for overlap_s seconds (0: not at all). *found = 0 if no active key
 * has that name. (common/db_key_secrets.c)
 */
int ocrq_db_key_rotate_secret(struct ocrq_db *db, const char *name, const char *secret,
                              long long overlap_s, int *found);

/* One key for ocrq-admin apikey list; strings borrowed for the call, NULL if unset. */
struct ocrq_db_key {
    const char *name, *key_id, *created_at, *revoked_at, *last_used_at;
};
typedef void (*ocrq_db_key_fn)(void *arg, const struct ocrq_db_key *k);

/* Every key, by name. */
int ocrq_db_keys_list(struct ocrq_db *db, ocrq_db_key_fn fn, void *arg);

/* Revoke the key called name; *revoked = 0 if there is none not revoked already. */
int ocrq_db_key_revoke(struct ocrq_db *db, const char *name, int *revoked);

/* ---- ocrq-api (db_api.c) ------------------------------------------------ */

/*
 * Find the key with public id key_id (and note it was used): *found = 0 if
 * none; else name (nmax bytes), hash (hex SHA-256, 65 bytes) and *revoked.
 */
int ocrq_db_api_key(struct ocrq_db *db, const char *key_id, int *found, char *name, size_t nmax,
                    char hash[65], int *revoked);

enum ocrq_accept_outcome {
    OCRQ_ACCEPT_NEW = 0,   /* recorded as queued: publish it */
    OCRQ_ACCEPT_REPLAY,    /* a repeated Idempotency-Key whose job was accepted: answer it */
    OCRQ_ACCEPT_REPUBLISH, /* a repeated key whose job was never confirmed: publish it again */
    OCRQ_ACCEPT_MISMATCH,  /* the key was used for another request */
    OCRQ_ACCEPT_BUSY,      /* the key is being used by a request in progress elsewhere */
};

/* One request of ocrq_db_api_accept(). */
struct ocrq_db_accept {
    const struct ocrq_job *job; /* in */
    const char *api_key;        /* in: the key's name, recorded as the job's owner */
    const char *idem_key;       /* in: Idempotency-Key, or NULL */
    const char *fingerprint;    /* in: with idem_key, the request's hash */
    int outcome;                /* out: enum ocrq_accept_outcome */
    char job_id[OCRQ_UUID_LEN + 1]; /* out: repeats: the original job */
    char status[16];            /* out: repeats: its status */
    char doc_blob_id[OCRQ_UUID_LEN + 1]; /* out: repeats: its stored document; "" if none */
};

/*
 * Record the jobs of a[0..n-1] as queued, owned by their key, claiming
 * their Idempotency-Keys, in one statement (one commit). Sets each outcome.
 * A job whose document is stored (OCRQ_DOC_STORED) records its blob as
 * ocr_jobs.doc_blob_id.
 */
int ocrq_db_api_accept(struct ocrq_db *db, struct ocrq_db_accept *a, size_t n);

/* The broker confirmed these jobs: their Idempotency-Keys now replay them. */
int ocrq_db_api_confirmed(struct ocrq_db *db, const char *const *ids, size_t n);

/* The broker refused these new jobs: remove their queued rows and keys. */
int ocrq_db_api_rejected(struct ocrq_db *db, const char *const *ids, size_t n);

/*
 * GET /v1/jobs/{id} for key api_key: *json gets the job as a JSON object
 * (malloc'd), with the result's text if with_text. OCRQ_ERR_NOT_FOUND if the
 * key has no such job.
 */
int ocrq_db_api_job(struct ocrq_db *db, const char *id, const char *api_key, int with_text,
                    char **json);

/* What GET /v1/jobs/{id}/artifacts/{format} found. */
struct ocrq_db_api_artifact {
    char status[16];     /* the job's */
    int found;           /* the job has a row for the format */
    unsigned char *data; /* malloc'd; NULL when not stored here (error says why, or blob_id) */
    size_t len;
    char *error;         /* malloc'd or NULL */
    char blob_id[OCRQ_UUID_LEN + 1]; /* in the document store (ocrq/blob.h) instead; else "" */
    long long blob_size;             /* with blob_id: the blob's bytes; -1 if the blob is gone */
};

/*
 * The artifact format ("hocr") of job id, if the key owns the job: its
 * bytes when they are in the row, or the blob that holds them (blob_id,
 * blob_size; read it with ocrq_blob_chunk()); *out is cleared on entry,
 * its buffers freed by ocrq_db_api_artifact_cleanup().
 * OCRQ_OK, OCRQ_ERR_NOT_FOUND (no such job for the key), OCRQ_ERR_NOMEM or
 * OCRQ_ERR_DB.
 */
int ocrq_db_api_artifact(struct ocrq_db *db, const char *id, const char *api_key,
                         const char *format, struct ocrq_db_api_artifact *out);
void ocrq_db_api_artifact_cleanup(struct ocrq_db_api_artifact *a);

/*
 * GET /v1/jobs/{id}/text: *status gets the job's status (16 bytes) and, when
 * succeeded, *text its text (malloc'd). OCRQ_ERR_NOT_FOUND if none.
 */
int ocrq_db_api_text(struct ocrq_db *db, const char *id, const char *api_key, char status[16],
                     char **text, size_t *len);

/* GET /v1/batches/{batch}: counts by status as JSON. OCRQ_ERR_NOT_FOUND if no job. */
int ocrq_db_api_batch(struct ocrq_db *db, const char *batch, const char *api_key, char **json);

/*
 * DELETE /v1/jobs/{id}: cancel the key's job if it is still queued (as
 * ocrq-admin cancel does). *status gets its status after the call (16
 * bytes), *canceled_now whether this call canceled it. OCRQ_ERR_NOT_FOUND
 * if the key has no such job.
 */
int ocrq_db_api_cancel(struct ocrq_db *db, const char *id, const char *api_key, char status[16],
                       int *canceled_now);

/* ---- retention (common/db_purge.c, docs/operations.md) ---- */

#define OCRQ_DB_PURGE_SCHEMA 12     /* migration 12: the indexes purge goes by */
#define OCRQ_DB_PURGE_BATCH 1000    /* jobs per transaction by default */
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
    char cutoff[64];           /* jobs that finished before this (server time, text) */
    long long jobs, succeeded, failed, canceled;
    long long results, pages, artifacts, page_tasks, page_artifacts;
    long long deliveries, attempts, idempotency_keys;
    long long blobs, blob_bytes; /* stored documents and artifacts (ocr_blobs) */
    long long dedupe_cleared;  /* jobs whose dedupe_of named a deleted job: now NULL */
    long long kept_pending;    /* old enough but a webhook delivery is pending: kept */
    long long batches;         /* transactions that deleted jobs */
    int busy;                  /* try_lock: another purge was running; this one ended */
    int stopped;               /* the progress callback asked to stop */
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

/* A trivial query: is the database there? */
int ocrq_db_ping(struct ocrq_db *db);

#endif
