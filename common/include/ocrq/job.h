/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The job message codec (wire format v1, see docs/protocol.md).
 *
 * Body = one line of compact UTF-8 JSON (the metadata, no raw LF inside),
 * then, for inline documents only, a single LF byte followed by exactly
 * document.size raw bytes. The document is never base64-encoded.
 * The codec is common/job.c, the field rules it enforces common/job_rules.c.
 */
#ifndef OCRQ_JOB_H
#define OCRQ_JOB_H

#include <stddef.h>
#include "ocrq/uuid.h"

#define OCRQ_SCHEMA_VERSION 1
#define OCRQ_CONTENT_TYPE "application/vnd.ocrq.job"
#define OCRQ_MAX_META_BYTES (64 * 1024) /* the JSON line, metadata included */
#define OCRQ_MAX_LANG_LEN 64

enum ocrq_doc_kind {
    OCRQ_DOC_INLINE = 1, /* bytes follow the JSON line */
    OCRQ_DOC_URL = 2,    /* http(s) URL fetched by the worker */
    OCRQ_DOC_PATH = 3,   /* absolute path under the worker's file roots */
    OCRQ_DOC_STORED = 4, /* a blob in the document store (ocrq/blob.h), by blob id */
};

struct ocrq_job {
    int schema_version;
    char job_id[OCRQ_UUID_LEN + 1];
    int priority;       /* 0-9 */
    char *language;     /* "eng", "eng+deu" */
    char *submitted_at; /* RFC 3339 UTC, e.g. "2026-11-23T10:00:00.123Z" */
    char *source;       /* display name (file name or URL); may be NULL */
    char *webhook_url;  /* may be NULL */
    char *batch;        /* may be NULL */
    char *metadata;     /* compact JSON text of an object; may be NULL */
    enum ocrq_doc_kind doc_kind;
    char *doc_ref;                 /* URL, path or blob id (a UUID); NULL for inline */
    long long doc_size;            /* stored: the blob's size in bytes */
    char *doc_content_type;        /* optional hint, e.g. "image/png"; may be NULL */
    const unsigned char *doc_data; /* inline bytes: borrowed, never freed by the codec */
    size_t doc_len;
    unsigned formats; /* OCRQ_FMT_* bits (ocrq/formats.h); 0: plain text only */
    /*
     * A page task (docs/protocol.md, "Page tasks"): one page of a stored
     * document that a worker split. page_no 0: the whole document (a job).
     */
    int page_no;     /* 1 .. pages_total */
    int pages_total; /* pages of the document */
    int page_window; /* page tasks of the document in the queues at once */
};

/*
 * A new zeroed job with schema_version set, a fresh job_id, priority 0 and
 * submitted_at = now. Returns NULL on allocation failure. Free with ocrq_job_free().
 */
struct ocrq_job *ocrq_job_new(void);

/* Free a job and its strings (not doc_data, which is borrowed). NULL is fine. */
void ocrq_job_free(struct ocrq_job *job);

/*
 * Check a job for encoding: valid job_id, priority 0-9, language syntax,
 * document kind and reference, metadata is a JSON object, URL scheme http(s),
 * path absolute. Returns OCRQ_OK or OCRQ_ERR_BAD_JOB with a reason in why.
 */
int ocrq_job_validate(const struct ocrq_job *job, char *why, size_t whylen);

/*
 * Encode job into a new message body (JSON line, and for inline documents
 * LF + the bytes). Validates first. The caller frees *body with free().
 * Returns OCRQ_OK, OCRQ_ERR_BAD_JOB (reason in why) or OCRQ_ERR_NOMEM.
 */
int ocrq_job_encode(const struct ocrq_job *job, unsigned char **body, size_t *len, char *why,
                    size_t whylen);

/*
 * Decode a message body. Inline documents larger than max_inline bytes are
 * refused with OCRQ_ERR_TOO_LARGE. On success the caller owns *out; its doc_data
 * points into body, which must outlive it. On OCRQ_ERR_BAD_JOB or
 * OCRQ_ERR_TOO_LARGE the reason is in why, *out is NULL, and id_hint
 * (OCRQ_UUID_LEN + 1 bytes, may be NULL) holds the job_id if one could be
 * read, else "".
 */
int ocrq_job_decode(const void *body, size_t len, size_t max_inline, struct ocrq_job **out,
                    char *id_hint, char *why, size_t whylen);

/* Nonzero if lang is a language spec: 1-64 chars, [A-Za-z0-9_] names joined by '+'. */
int ocrq_lang_valid(const char *lang);

/*
 * One compact JSON object (no trailing newline) describing a job's outcome for
 * CLI output: {"job_id":..,"source":..,"status":..[,"error":..]}. Any string may
 * be NULL and is then omitted. Returns a malloc'd string or NULL.
 */
char *ocrq_job_status_json(const char *job_id, const char *source, const char *status,
                           const char *error);

#endif
