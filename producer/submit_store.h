/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The document of a file input for ocrq-submit: read into memory when it fits
 * in the message (documents.inline_max_bytes), else streamed into the document
 * store (ocrq/blob.h) and sent by reference; refused past documents.max_bytes.
 * Also the run's list of stored documents, so that a job that is never
 * published can take its blob with it.
 */
#ifndef OCRQ_PRODUCER_SUBMIT_STORE_H
#define OCRQ_PRODUCER_SUBMIT_STORE_H

#include <stddef.h>

#include "ocrq/uuid.h"

struct ocrq_config;
struct ocrq_db;
struct ocrq_mq;

/* What a file's document became: inline bytes, or a blob in the store. */
struct submit_doc {
    unsigned char *data; /* inline: the bytes (malloc'd, the caller frees them); else NULL */
    size_t len;          /* inline: bytes in data */
    char blob_id[OCRQ_UUID_LEN + 1]; /* stored: the blob; "" when inline */
    long long size;                  /* stored: the blob's size in bytes */
};

/*
 * Load the document of the file at path for job job_id. A regular file of
 * at most cfg->inline_max_bytes is read whole into out->data; a larger one
 * of at most cfg->max_bytes is streamed into a new blob (kind "document",
 * committed before this returns) a chunk at a time (ocrq_blob_put_fd()), so
 * memory stays at a few MiB whatever its size. mq (may be NULL) is serviced
 * between pieces so that its heartbeats go on during a long store; no
 * confirm callback runs meanwhile. *out is cleared on entry.
 * Returns OCRQ_OK; OCRQ_ERR_IO or OCRQ_ERR_TOO_LARGE with the reason in why
 * (an input that cannot be submitted, nothing stored); OCRQ_ERR_DB (the
 * store failed, reason in why) or OCRQ_ERR_NOMEM. Not thread-safe: db is
 * used for the whole store.
 */
int submit_store_load(struct ocrq_db *db, struct ocrq_mq *mq, const struct ocrq_config *cfg,
                      const char *path, const char *job_id, struct submit_doc *out, char *why,
                      size_t whylen);

/* One stored document of the run: input idx, its blob ("" once deleted). */
struct submit_stored_doc {
    size_t idx;
    char blob_id[OCRQ_UUID_LEN + 1];
};

/* The stored documents of a run, in input order. Zeroed is empty. */
struct submit_stored {
    struct submit_stored_doc *v;
    size_t n, cap;
};

/*
 * Remember that input idx (greater than every idx added before) went as blob
 * blob_id. Returns OCRQ_OK or OCRQ_ERR_NOMEM.
 */
int submit_stored_add(struct submit_stored *s, size_t idx, const char *blob_id);

/*
 * The job of input idx will not run (its publish failed, or it was never
 * recorded): delete its blob, if it has one not yet deleted. Best effort: a
 * blob that cannot be deleted now is left to ocrq_blob_sweep(). Must not be
 * called while a blob is being written on db.
 */
void submit_stored_drop(struct submit_stored *s, struct ocrq_db *db, size_t idx);

/* Free the list (the blobs stay). NULL-safe; the list is left empty. */
void submit_stored_cleanup(struct submit_stored *s);

#endif
