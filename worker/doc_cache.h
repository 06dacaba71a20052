/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Stored documents (ocrq/blob.h) as a worker process reads them: fetched
 * once from the store into an unlinked temporary file, mapped, and opened
 * once, then kept for the next page tasks of the same document. A few
 * documents are kept (least recently used goes first), so pages of
 * documents that take turns do not fetch them again and again.
 *
 * Not thread-safe: a cache belongs to the pipeline thread.
 */
#ifndef OCRQ_WORKER_DOC_CACHE_H
#define OCRQ_WORKER_DOC_CACHE_H

#include <stddef.h>

struct ocrq_db;
struct ocrq_doc_cache;
struct ocrq_doc_limits;
struct ocrq_document;

/* A cache of at most entries documents. OCRQ_OK or OCRQ_ERR_NOMEM. */
int ocrq_doc_cache_new(int entries, struct ocrq_doc_cache **out);

/* Unmap, close and free everything; NULL is fine. */
void ocrq_doc_cache_free(struct ocrq_doc_cache *c);

/*
 * The bytes of stored document blob_id: fetched through db unless cached.
 * *data and *len stay valid until the next call on the cache (borrowed).
 * Returns OCRQ_OK, OCRQ_ERR_NOT_FOUND (no such blob: *code "document_missing"),
 * OCRQ_ERR_DB (the store could not be read: transient) or OCRQ_ERR_IO (no
 * room for the temporary file), with the reason in why.
 */
int ocrq_doc_cache_get(struct ocrq_doc_cache *c, struct ocrq_db *db, const char *blob_id,
                       const unsigned char **data, size_t *len, const char **code, char *why,
                       size_t whylen);

/*
 * The stored document blob_id opened under lim (ocrq_document_open()), as
 * for ocrq_doc_cache_get(); *doc is borrowed until the next call. Errors as
 * ocrq_doc_cache_get() and ocrq_document_open().
 */
int ocrq_doc_cache_open(struct ocrq_doc_cache *c, struct ocrq_db *db, const char *blob_id,
                        const struct ocrq_doc_limits *lim, struct ocrq_document **doc,
                        const char **code, char *why, size_t whylen);

/* Forget blob_id if cached (its job is over). */
void ocrq_doc_cache_drop(struct ocrq_doc_cache *c, const char *blob_id);

#endif
