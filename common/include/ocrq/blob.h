/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The document store: documents too large for a message, and artifacts too
 * large for a row, stored once where every worker can read them without a
 * shared filesystem. The default (and today only) store is PostgreSQL: a blob
 * is a row of ocr_blobs and its bytes are rows of ocr_blob_chunks, each
 * OCRQ_BLOB_CHUNK bytes but the last (migration 9). A blob is written in one
 * transaction, so it is either whole or absent: a refused or broken upload
 * leaves nothing. docs/documents.md says how an S3-compatible store would take
 * the place of these functions.
 *
 * A blob belongs to a job (job_id) and has a kind: "document" (the job's
 * input; deleted documents.retention_s after the job ended, see
 * ocrq_blob_sweep()) or "artifact" (an output, kept with the job).
 *
 * Not thread-safe: a writer and its connection belong to one thread.
 */
#ifndef OCRQ_BLOB_H
#define OCRQ_BLOB_H

#include <stddef.h>

struct ocrq_db;
struct ocrq_blob_writer;

#define OCRQ_BLOB_CHUNK (1024 * 1024) /* bytes of every chunk but the last */

/*
 * Start storing a new blob blob_id (a UUID, the caller's choice, e.g. from
 * ocrq_uuid_new()) for job_id (a UUID; the job row need not exist yet) of
 * kind "document" or "artifact". Opens a transaction on db, which belongs
 * to the writer until ocrq_blob_commit() or ocrq_blob_abort(): nothing else
 * may run on db meanwhile. max_bytes > 0: a blob that grows past it is
 * refused (OCRQ_ERR_TOO_LARGE from ocrq_blob_write()). Returns OCRQ_OK,
 * OCRQ_ERR_INVALID, OCRQ_ERR_DB or OCRQ_ERR_NOMEM; *out NULL on error.
 */
int ocrq_blob_begin(struct ocrq_db *db, const char *blob_id, const char *job_id, const char *kind,
                    long long max_bytes, struct ocrq_blob_writer **out);

/*
 * Add len bytes (copied) to the blob. Full chunks go to the database as
 * they fill, so memory stays at one chunk whatever the blob's size.
 * Returns OCRQ_OK, OCRQ_ERR_TOO_LARGE (past max_bytes), OCRQ_ERR_DB or
 * OCRQ_ERR_NOMEM. After an error only ocrq_blob_abort() may follow.
 */
int ocrq_blob_write(struct ocrq_blob_writer *w, const void *data, size_t len);

/* Bytes written so far. */
long long ocrq_blob_written(const struct ocrq_blob_writer *w);

/*
 * Write the last chunk, record the size and SHA-256, and commit. Frees w
 * in every case. sha256_hex (65 bytes, may be NULL) gets the digest and
 * *size (may be NULL) the size. Returns OCRQ_OK or OCRQ_ERR_DB (nothing
 * stored).
 */
int ocrq_blob_commit(struct ocrq_blob_writer *w, char *sha256_hex, long long *size);

/* Roll back: nothing of the blob is stored. Frees w; NULL is fine. */
void ocrq_blob_abort(struct ocrq_blob_writer *w);

/*
 * Store len bytes from memory as one blob (begin, write, commit).
 * Returns as those do.
 */
int ocrq_blob_put(struct ocrq_db *db, const char *blob_id, const char *job_id, const char *kind,
                  const void *data, size_t len, char *sha256_hex);

/*
 * Store what fd holds from its current offset to its end as one blob, as
 * begin, write and commit do, reading OCRQ_BLOB_CHUNK bytes at a time;
 * between (may be NULL) is called with arg after each piece (to keep a
 * broker connection serviced, say). *size (may be NULL) gets the bytes
 * read, also when they were refused as over max_bytes. Returns OCRQ_OK,
 * OCRQ_ERR_TOO_LARGE, OCRQ_ERR_IO (a read failed; errno says why),
 * OCRQ_ERR_INVALID, OCRQ_ERR_DB or OCRQ_ERR_NOMEM; on error nothing is stored.
 */
int ocrq_blob_put_fd(struct ocrq_db *db, const char *blob_id, const char *job_id, const char *kind,
                     int fd, long long max_bytes, void (*between)(void *arg), void *arg,
                     long long *size);

/* A stored blob as ocrq_blob_stat() sees it. */
struct ocrq_blob_info {
    long long size;  /* bytes */
    int chunks;      /* chunks, numbered 0 .. chunks - 1 */
    char sha256[65]; /* hex */
    char kind[16];   /* "document" or "artifact" */
};

/*
 * The blob's size, chunk count and digest. Returns OCRQ_OK,
 * OCRQ_ERR_NOT_FOUND (no such blob: never stored, or deleted) or
 * OCRQ_ERR_DB. *out is cleared on entry.
 */
int ocrq_blob_stat(struct ocrq_db *db, const char *blob_id, struct ocrq_blob_info *out);

/*
 * Chunk seq (0-based) of the blob into *data (malloc'd, the caller frees
 * it) and *len. Returns OCRQ_OK, OCRQ_ERR_NOT_FOUND or OCRQ_ERR_DB.
 */
int ocrq_blob_chunk(struct ocrq_db *db, const char *blob_id, int seq, unsigned char **data,
                    size_t *len);

/*
 * Called by ocrq_blob_read() with each chunk in order; data is borrowed for
 * the call. Return OCRQ_OK to go on, anything else to stop with it.
 */
typedef int (*ocrq_blob_fn)(void *arg, const unsigned char *data, size_t len);

/*
 * Every chunk of the blob in order through fn, holding one chunk in memory
 * at a time. Returns OCRQ_OK, OCRQ_ERR_NOT_FOUND, OCRQ_ERR_DB, or what fn
 * returned.
 */
int ocrq_blob_read(struct ocrq_db *db, const char *blob_id, ocrq_blob_fn fn, void *arg);

/*
 * The whole blob into the file descriptor fd (written from its current
 * offset); *size gets the bytes written. Returns as ocrq_blob_read(), or
 * OCRQ_ERR_IO when a write fails.
 */
int ocrq_blob_read_fd(struct ocrq_db *db, const char *blob_id, int fd, long long *size);

/* Delete one blob and its chunks (nothing if absent). OCRQ_OK or OCRQ_ERR_DB. */
int ocrq_blob_delete(struct ocrq_db *db, const char *blob_id);

/*
 * Delete the documents whose job ended (succeeded, failed or canceled) at
 * least retention_s seconds ago, documents of no job stored more than a
 * day ago (a submission that died before recording its job), and artifacts
 * no ocr_artifacts row names stored more than a day ago (an assembly that
 * was repeated or failed midway). *deleted and *artifacts (either may be
 * NULL) get the numbers of documents and of artifacts deleted. OCRQ_OK or
 * OCRQ_ERR_DB.
 */
int ocrq_blob_sweep(struct ocrq_db *db, int retention_s, long long *deleted, long long *artifacts);

/* What the store holds, for ocrq-admin status. */
struct ocrq_blob_totals {
    long long documents, document_bytes;
    long long artifacts, artifact_bytes;
};

/* Totals of the store. OCRQ_OK or OCRQ_ERR_DB; *out cleared on entry. */
int ocrq_blob_totals(struct ocrq_db *db, struct ocrq_blob_totals *out);

#endif
