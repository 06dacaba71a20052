/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * ocrq-api: the HTTP submission service. Pool threads (libmicrohttpd, via
 * common/http.c) route, authenticate and parse requests, and answer the
 * read endpoints from their own database connections; one pipeline thread
 * records accepted jobs and publishes them in batches, and answers each
 * POST only after the broker's confirm (api_pipeline.c).
 */
#ifndef OCRQ_PRODUCER_API_H
#define OCRQ_PRODUCER_API_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "ocrq/uuid.h"

struct ocrq_config;
struct ocrq_http;
struct ocrq_http_req;
struct ocrq_job;
struct api_pipeline;

#define API_KEY_NAME_MAX 128
#define API_IDEM_KEY_MAX 255
#define API_MAX_PARTS 16 /* parts of a multipart/form-data body */

struct api_upload;

/* Routes, for metrics; API_R_OTHER covers 404s. */
enum api_route {
    API_R_JOBS_POST,
    API_R_JOB_GET, /* GET or DELETE */
    API_R_JOB_TEXT,
    API_R_JOB_ARTIFACT, /* GET /v1/jobs/{id}/artifacts/{format} */
    API_R_BATCH_GET,
    API_R_HEALTHZ,
    API_R_READYZ,
    API_R_METRICS,
    API_R_UI, /* /ui/...: the dashboard (api_ui.c) */
    API_R_OTHER,
    API_ROUTES
};

/* Status codes counted per route; the last slot takes the others. */
#define API_CODES 16
extern const int api_codes[API_CODES - 1];

#define API_HIST_BOUNDS 12
extern const double api_hist_bounds_s[API_HIST_BOUNDS];

/* Counters, updated with atomics from every thread. */
struct api_stats {
    uint64_t requests[API_ROUTES][API_CODES];
    uint64_t post_hist[API_HIST_BOUNDS + 1]; /* POST /v1/jobs duration */
    uint64_t post_sum_us;
    uint64_t accepted;     /* new jobs confirmed by the broker */
    uint64_t replayed;     /* Idempotency-Key repeats answered */
    uint64_t batches;      /* pipeline rounds */
    uint64_t batched_jobs; /* jobs in those rounds */
    uint64_t nacked;       /* publishes the broker refused */
    uint64_t reconnects;   /* broker connections made after the first */
};

/* One API key as cached (api_keys.c). */
struct api_key_entry {
    char key_id[16];
    char name[API_KEY_NAME_MAX];
    char hash[65];
    char role[8]; /* "submit" or "admin" */
    int revoked;
    int64_t fetched_ms; /* when it was read from the database */
    double tokens;      /* rate limit bucket */
    int64_t refill_ms;
};

#define API_KEY_CACHE 256
#define API_UNKNOWN_CACHE 64 /* key ids the database did not know, asked again after a TTL */

struct api_unknown_key {
    char key_id[16];
    int64_t fetched_ms;
};

struct api {
    const struct ocrq_config *cfg;
    struct ocrq_http *http;
    struct api_pipeline *pipe;
    pthread_key_t db_key; /* each pool thread's database connection */

    pthread_mutex_t keys_mu;
    struct api_key_entry keys[API_KEY_CACHE];
    int n_keys;
    struct api_unknown_key unknown[API_UNKNOWN_CACHE]; /* a ring */
    int next_unknown;
    long long buffered; /* bytes of request bodies in memory, all uploads (atomic) */

    /* set by the pipeline thread, read by the pool threads (atomics) */
    int broker_up;
    /* ready messages: [0] queue_jobs, [1] queue_priority, [2] the retry queues, [3] queue_failed */
    unsigned depth[4];

    struct api_stats stats;
};

/* A POST /v1/jobs on its way through the pipeline. */
struct api_job {
    struct api_job *next;
    struct ocrq_http_req *req;
    struct api_upload *up; /* the request's upload (borrowed), or NULL */
    struct ocrq_job *job;  /* owned; its document is in msg, or in the store (doc_ref) */
    unsigned char *msg;    /* the message body */
    size_t msg_len;
    char key_name[API_KEY_NAME_MAX];
    char idem_key[API_IDEM_KEY_MAX + 1]; /* "" if none */
    char fingerprint[65];
    int own_blob; /* the message refers to the upload's stored blob */
    /* filled by the pipeline */
    int outcome;
    int64_t published_ms; /* when it went into the confirm window (ocrq_now_ms()) */
};

/* What a request carries for the application (ocrq_http_user()). */
struct api_req {
    enum api_route route;
    int status; /* the status answered, for metrics */
    int64_t start_us;
    char key_name[API_KEY_NAME_MAX]; /* the authenticated key */
    char key_role[8];                /* its role: "submit" or "admin" */
    char id[128];                    /* path parameter: job id or batch */
    unsigned format;                 /* API_R_JOB_ARTIFACT: the OCRQ_FMT_* bit asked for */
    struct api_upload *up;           /* POST /v1/jobs with a document: its upload, or NULL */
};

/* ---- api_routes.c -------------------------------------------------------- */

void api_on_headers(void *arg, struct ocrq_http_req *req);
int api_on_body(void *arg, struct ocrq_http_req *req, const unsigned char *data, size_t len);
void api_on_request(void *arg, struct ocrq_http_req *req);
void api_on_done(void *arg, struct ocrq_http_req *req);

/*
 * Answer a JSON error {"error": {"code", "message"}}; retry_after > 0 adds
 * Retry-After. Safe from any thread before the reply is sent.
 */
void api_error(struct ocrq_http_req *req, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void api_error_retry(struct ocrq_http_req *req, int status, int retry_after, const char *code,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Answer 202 (or a replay) for job_id with status; replayed adds Idempotent-Replayed. */
void api_accepted(struct ocrq_http_req *req, const char *job_id, const char *status, int replayed);

/* ---- api_jobs.c ---------------------------------------------------------- */

/*
 * Turn a complete POST /v1/jobs into *out: a finished upload up (a raw
 * document or a multipart form: api_upload_finish() returned OCRQ_OK), or,
 * with up NULL, the JSON {"url"} body. On a client error answers it (400,
 * 415) and returns a nonzero status; OCRQ_OK with *out to go on. *out
 * borrows the inline document from up, which must outlive it.
 */
int api_parse_job(struct api *api, struct ocrq_http_req *req, const char *key_name,
                  struct api_upload *up, struct api_job **out);

/* Free a job of the pipeline; NULL is fine. */
void api_job_free(struct api_job *j);

/* ---- api_upload.c -------------------------------------------------------- */

/* What an upload brought (api_upload_doc()); every pointer borrowed from the upload. */
struct api_upload_doc {
    const unsigned char *data; /* in memory: the bytes; NULL when stored */
    size_t len;
    const char *blob_id;      /* in the store: the committed blob; NULL in memory */
    const char *job_id;       /* in the store: the job id the blob belongs to */
    const char *sha256;       /* in the store: the bytes' SHA-256 (hex) */
    long long size;           /* the document's bytes */
    const char *content_type; /* "image/png", the file part's type; "" if none */
};

/* Nonzero if a POST /v1/jobs with this Content-Type uploads a document. */
int api_upload_is(const char *ctype);

/*
 * From the headers of such a POST: start its upload into *out (the body
 * limit becomes api.max_upload_bytes and the body is streamed to
 * api_upload_feed()). Returns 0, or -1 after answering (400 a multipart
 * type without a valid boundary, 500).
 */
int api_upload_begin(struct api *api, struct ocrq_http_req *req, const char *ctype,
                     struct api_upload **out);

/*
 * The next piece of body, on the request's pool thread: kept in memory up
 * to documents.inline_max_bytes, then written to the document store over a
 * connection of the upload's own. OCRQ_OK, or another status after
 * answering (400 malformed multipart or fields, 415 not a document, 503
 * the store failed); the blob is then rolled back.
 */
int api_upload_feed(struct api_upload *u, struct ocrq_http_req *req, const unsigned char *data,
                    size_t len);

/*
 * The body is over: check the document (present, not empty, a known type)
 * and commit its blob if it went to the store. OCRQ_OK, or another status
 * after answering (400, 415, 503).
 */
int api_upload_finish(struct api_upload *u, struct ocrq_http_req *req);

/* The document of a finished upload into *out. */
void api_upload_doc(const struct api_upload *u, struct api_upload_doc *out);

/*
 * The i-th part of a multipart upload other than the document, in order:
 * its name and value (NUL-terminated, len bytes; borrowed). The "file" part
 * is among them with its filename as value (NULL without one). 0 past the
 * last.
 */
int api_upload_field(const struct api_upload *u, size_t i, const char **name, const char **value,
                     size_t *len);

/*
 * The job's message may refer to the stored blob (a 202, or an outcome the
 * broker did not settle): api_upload_end() keeps it. Any thread. NULL is fine.
 */
void api_upload_keep(struct api_upload *u);

/*
 * The request is over (aborted: the client went away): roll back a blob
 * still being written, delete a committed one nobody kept, close the
 * upload's connection and free it. On the request's pool thread. NULL is fine.
 */
void api_upload_end(struct api_upload *u, int aborted);

/* ---- api_keys.c ---------------------------------------------------------- */

/*
 * Check "Authorization: Bearer <key>" (or NULL): on success copies the key
 * name and role ("submit" or "admin") and returns 0; else answers 401 (or
 * 503 if the database is down) and returns -1. Then takes one token of the
 * key's bucket: -1 and 429 if empty.
 */
int api_authenticate(struct api *api, struct ocrq_http_req *req, const char *authorization,
                     char *name, size_t namelen, char role[8]);

/* ---- api_pipeline.c ------------------------------------------------------ */

/* Start the pipeline thread (connects lazily, and again after failures). */
int api_pipeline_start(struct api *api, struct api_pipeline **out);

/* Hand over a parsed job; the pipeline answers it (202 after the confirm, or an error). */
void api_pipeline_submit(struct api_pipeline *p, struct api_job *j);

/* Answer what is pending with 503, stop the thread and free. */
void api_pipeline_stop(struct api_pipeline *p);

/* When the pipeline thread last went round its loop (ocrq_now_ms()); 0 before it started. */
int64_t api_pipeline_beat(const struct api_pipeline *p);

/* ---- per-thread database connection (api_routes.c) ---------------------- */

struct ocrq_db *api_db(struct api *api);

/*
 * After a statement on db (this thread's connection) failed: if the
 * connection is dead (the server closed it, e.g. a PostgreSQL restart since
 * it was last used), drop it and return a new one to try once more; else,
 * or when no new one can be made, NULL.
 */
struct ocrq_db *api_db_again(struct api *api, struct ocrq_db *db);

/* Answer 503 database_unavailable, dropping db (may be NULL) if its connection broke. */
void api_db_unavailable(struct api *api, struct ocrq_http_req *req, struct ocrq_db *db);

/* ---- api_artifacts.c ----------------------------------------------------- */

/*
 * GET /v1/jobs/{id}/artifacts/{format}: an artifact from its row, or
 * streamed from the document store a chunk at a time over a connection of
 * the reply's own. On the pool thread; answers in every case.
 */
void api_get_artifact(struct api *api, struct ocrq_http_req *req, struct api_req *ar);

/* Batch names: at most this many bytes. */
#define MAX_BATCH_CHARS 255

/*
 * Nonzero if s is 1 to max bytes of well-formed UTF-8 without control
 * characters: what a batch name or a source must be. (api_jobs.c)
 */
int api_printable(const char *s, size_t max);

#endif
