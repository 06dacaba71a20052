/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The statements of ocrq-api in the PostgreSQL store (ocrq/db.h,
 * common/db_api.c): keys, accepting jobs, and what the routes read. Same
 * rules as db.h.
 */
#ifndef OCRQ_DB_API_H
#define OCRQ_DB_API_H

#include <stddef.h>

#include "ocrq/uuid.h"

struct ocrq_db;
struct ocrq_job;

/*
 * Find the key with public id key_id (and note it was used): *found = 0 if
 * none; else name (nmax bytes), hash (hex SHA-256, 65 bytes), *revoked and
 * role ("submit" or "admin").
 */
int ocrq_db_api_key(struct ocrq_db *db, const char *key_id, int *found, char *name, size_t nmax,
                    char hash[65], int *revoked, char role[8]);

enum ocrq_accept_outcome {
    OCRQ_ACCEPT_NEW = 0,   /* recorded as queued: publish it */
    OCRQ_ACCEPT_REPLAY,    /* a repeated Idempotency-Key whose job was accepted: answer it */
    OCRQ_ACCEPT_REPUBLISH, /* a repeated key whose job was never confirmed: publish it again */
    OCRQ_ACCEPT_MISMATCH,  /* the key was used for another request */
    OCRQ_ACCEPT_BUSY,      /* the key is being used by a request in progress elsewhere */
};

/* One request of ocrq_db_api_accept(). */
struct ocrq_db_accept {
    const struct ocrq_job *job;          /* in */
    const char *api_key;                 /* in: the key's name, recorded as the job's owner */
    const char *idem_key;                /* in: Idempotency-Key, or NULL */
    const char *fingerprint;             /* in: with idem_key, the request's hash */
    int outcome;                         /* out: enum ocrq_accept_outcome */
    char job_id[OCRQ_UUID_LEN + 1];      /* out: repeats: the original job */
    char status[16];                     /* out: repeats: its status */
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
    char *error;                     /* malloc'd or NULL */
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

#endif
