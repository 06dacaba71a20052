/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A document upload to POST /v1/jobs (a raw image or PDF body, or the
 * "file" part of multipart/form-data), taken piece by piece as it arrives:
 * up to documents.inline_max_bytes it stays in memory and travels inline;
 * past that it goes into the document store over a connection of its own,
 * one blob written in one transaction, so memory stays bounded whatever
 * the size. A refused or broken upload rolls its blob back; a stored blob
 * whose job was not accepted is deleted when the request ends.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "ocrq/blob.h"
#include "ocrq/config.h"
#include "ocrq/db.h"
#include "ocrq/http.h"
#include "ocrq/job.h"
#include "ocrq/log.h"
#include "ocrq/multipart_stream.h"
#include "ocrq/status.h"
#include "ocrq/uuid.h"

#define HEAD_MAX (1024 + 5)           /* the bytes known_document() looks at */
#define FIELD_CAP OCRQ_MAX_META_BYTES /* a form field; api_jobs.c checks each name's own cap */

struct field {
    char name[128];
    char *value; /* NUL-terminated; for the file part its filename, or NULL */
    size_t len;
};

struct api_upload {
    struct api *api;
    struct ocrq_http_req *req; /* during a feed: for the multipart callbacks' answers */
    char doc_type[128];
    unsigned char head[HEAD_MAX]; /* the document's first bytes, to know its type early */
    size_t head_len;
    int checked; /* the type was checked */
    long long size;
    /* in memory, up to inline_max_bytes */
    unsigned char *buf;
    size_t len, cap;
    int spill_now; /* a raw body announced over inline_max_bytes: straight to the store */
    /* in the store */
    struct ocrq_db *db; /* this upload's own connection */
    struct ocrq_blob_writer *w;
    char blob_id[OCRQ_UUID_LEN + 1], job_id[OCRQ_UUID_LEN + 1];
    char sha256[65];
    int committed;
    int keep; /* the job's message refers to the blob (atomic: set by the pipeline) */
    /* multipart */
    struct ocrq_multipart_stream *mp;
    struct field fields[API_MAX_PARTS];
    size_t n_fields;
    struct field *cur; /* the field being read; NULL in the file part */
    int have_file, in_file;
};

static const char *const known_types =
    "the document is not a PDF or a PNG, JPEG, TIFF, GIF, WebP, BMP, PNM or JPEG 2000 image";

/* The document types the workers decode, by their first bytes (docs/documents.md). */
static int known_document(const unsigned char *d, size_t n)
{
    /* a PDF may have up to 1 KiB of junk before its header, as readers allow */
    if (n >= 5 && memmem(d, n < HEAD_MAX ? n : HEAD_MAX, "%PDF-", 5))
        return 1;
    if (n >= 8 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0)
        return 1;
    if (n >= 3 && memcmp(d, "\xff\xd8\xff", 3) == 0)
        return 1;
    if (n >= 4 && (memcmp(d, "II*\0", 4) == 0 || memcmp(d, "MM\0*", 4) == 0))
        return 1;
    if (n >= 6 && (memcmp(d, "GIF87a", 6) == 0 || memcmp(d, "GIF89a", 6) == 0))
        return 1;
    if (n >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0)
        return 1;
    if (n >= 2 && d[0] == 'B' && d[1] == 'M')
        return 1;
    if (n >= 3 && d[0] == 'P' && d[1] >= '1' && d[1] <= '6' && isspace(d[2]))
        return 1;
    if (n >= 12 && memcmp(d, "\0\0\0\x0cjP  \r\n\x87\n", 12) == 0)
        return 1;
    return 0;
}

static int check_type(struct api_upload *u)
{
    u->checked = 1;
    if (known_document(u->head, u->head_len))
        return OCRQ_OK;
    api_error(u->req, 415, "unsupported_media_type", "%s", known_types);
    return OCRQ_ERR_INVALID;
}

static int db_unavailable(struct api_upload *u)
{
    api_error_retry(u->req, 503, u->api->cfg->api_retry_after_s, "database_unavailable",
                    "the database is unavailable: the document cannot be stored");
    return OCRQ_ERR_DB;
}

/* A store error: roll the blob back at once and answer (unless answered). */
static int store_failed(struct api_upload *u, int st)
{
    ocrq_blob_abort(u->w);
    u->w = NULL;
    if (ocrq_http_status(u->req))
        return st;
    if (st == OCRQ_ERR_TOO_LARGE)
        api_error(u->req, 413, "too_large", "the document is over %lld bytes",
                  u->api->cfg->api_max_upload_bytes);
    else if (st == OCRQ_ERR_NOMEM)
        api_error(u->req, 500, "internal", "out of memory");
    else
        db_unavailable(u);
    return st;
}

/* Let go of the body kept in memory, and of its share of api.max_buffered_bytes. */
static void unbuffer(struct api_upload *u)
{
    if (u->cap > 0)
        __atomic_sub_fetch(&u->api->buffered, (long long)u->cap, __ATOMIC_RELAXED);
    free(u->buf);
    u->buf = NULL;
    u->len = u->cap = 0;
}

/* Open this upload's connection and blob, and move what is in memory there. */
static int spill(struct api_upload *u)
{
    const struct ocrq_config *cfg = u->api->cfg;
    int st;

    if (ocrq_uuid_new(u->blob_id) != OCRQ_OK || ocrq_uuid_new(u->job_id) != OCRQ_OK) {
        api_error(u->req, 500, "internal", "cannot make an id");
        return OCRQ_ERR_NOMEM;
    }
    if (ocrq_db_connect(cfg, &u->db) != OCRQ_OK ||
        ocrq_blob_begin(u->db, u->blob_id, u->job_id, "document", cfg->api_max_upload_bytes,
                        &u->w) != OCRQ_OK)
        return db_unavailable(u);
    log_info(u->job_id, "api: the upload goes to the document store (blob %s)", u->blob_id);
    st = u->len > 0 ? ocrq_blob_write(u->w, u->buf, u->len) : OCRQ_OK;
    unbuffer(u);
    return st == OCRQ_OK ? st : store_failed(u, st);
}

/* Keep n more bytes in memory (the buffer grows geometrically up to inline_max_bytes). */
static int keep_inline(struct api_upload *u, const unsigned char *data, size_t n)
{
    if (u->len + n > u->cap) {
        size_t cap = u->cap ? u->cap : 64 * 1024;
        size_t max = (size_t)u->api->cfg->inline_max_bytes;
        while (cap < u->len + n)
            cap *= 2;
        if (cap > max)
            cap = max;
        /* all uploads together hold at most api.max_buffered_bytes in memory */
        long long more = (long long)(cap - u->cap);
        if (__atomic_add_fetch(&u->api->buffered, more, __ATOMIC_RELAXED) >
            u->api->cfg->api_max_buffered_bytes) {
            __atomic_sub_fetch(&u->api->buffered, more, __ATOMIC_RELAXED);
            api_error_retry(u->req, 503, u->api->cfg->api_retry_after_s, "server_busy",
                            "too many uploads in progress (api.max_buffered_bytes): try again"
                            " later");
            return OCRQ_ERR_TOO_LARGE;
        }
        unsigned char *p = realloc(u->buf, cap);
        if (!p) {
            __atomic_sub_fetch(&u->api->buffered, more, __ATOMIC_RELAXED);
            api_error(u->req, 500, "internal", "out of memory");
            return OCRQ_ERR_NOMEM;
        }
        u->buf = p;
        u->cap = cap;
    }
    memcpy(u->buf + u->len, data, n);
    u->len += n;
    return OCRQ_OK;
}

/* The next n bytes of the document. */
static int doc_bytes(struct api_upload *u, const unsigned char *data, size_t n)
{
    int st;

    if (!u->checked) {
        size_t k = n < HEAD_MAX - u->head_len ? n : HEAD_MAX - u->head_len;
        memcpy(u->head + u->head_len, data, k);
        u->head_len += k;
        if (u->head_len == HEAD_MAX && (st = check_type(u)) != OCRQ_OK)
            return st;
    }
    u->size += (long long)n;
    if (!u->w && (u->spill_now || u->len + n > (size_t)u->api->cfg->inline_max_bytes) &&
        (st = spill(u)) != OCRQ_OK)
        return st;
    if (!u->w)
        return keep_inline(u, data, n);
    st = ocrq_blob_write(u->w, data, n);
    return st == OCRQ_OK ? st : store_failed(u, st);
}

/* ---- multipart ------------------------------------------------------------- */

static int part_begin(void *arg, const struct ocrq_multipart_part *part)
{
    struct api_upload *u = arg;
    struct field *f = &u->fields[u->n_fields++]; /* the parser allows API_MAX_PARTS */

    snprintf(f->name, sizeof f->name, "%s", part->name);
    u->cur = NULL;
    u->in_file = strcmp(part->name, "file") == 0;
    if (!u->in_file) {
        u->cur = f;
        return (f->value = calloc(1, 1)) ? OCRQ_OK : OCRQ_ERR_NOMEM;
    }
    if (u->have_file) {
        api_error(u->req, 400, "invalid_multipart", "one \"file\" part per request");
        return OCRQ_ERR_INVALID;
    }
    u->have_file = 1;
    snprintf(u->doc_type, sizeof u->doc_type, "%s", part->content_type);
    if (part->has_filename && part->filename[0] && !(f->value = strdup(part->filename)))
        return OCRQ_ERR_NOMEM;
    return OCRQ_OK;
}

static int part_data(void *arg, const unsigned char *data, size_t n)
{
    struct api_upload *u = arg;
    struct field *f = u->cur;

    if (u->in_file)
        return doc_bytes(u, data, n);
    if (f->len + n > FIELD_CAP) {
        api_error(u->req, 400, "invalid_parameter", "%.64s: too long", f->name);
        return OCRQ_ERR_INVALID;
    }
    char *v = realloc(f->value, f->len + n + 1);
    if (!v)
        return OCRQ_ERR_NOMEM;
    memcpy(v + f->len, data, n);
    f->len += n;
    v[f->len] = '\0';
    f->value = v;
    return OCRQ_OK;
}

static int part_end(void *arg)
{
    struct api_upload *u = arg;
    u->in_file = 0;
    u->cur = NULL;
    return OCRQ_OK;
}

static const struct ocrq_multipart_callbacks mp_callbacks = {part_begin, part_data, part_end};

/* A parser's error as the answer (unless a callback answered already). */
static int multipart_error(struct api_upload *u, int st)
{
    if (ocrq_http_status(u->req))
        return st;
    if (st == OCRQ_ERR_NOMEM)
        api_error(u->req, 500, "internal", "out of memory");
    else if (st == OCRQ_ERR_TOO_LARGE)
        api_error(u->req, 400, "invalid_multipart", "more than %d parts", API_MAX_PARTS);
    else
        api_error(u->req, 400, "invalid_multipart", "the multipart body is malformed");
    return st;
}

/* ---- the upload --------------------------------------------------------------- */

int api_upload_is(const char *ctype)
{
    return ctype && (strncasecmp(ctype, "image/", 6) == 0 ||
                     strncasecmp(ctype, "application/pdf", 15) == 0 ||
                     strncasecmp(ctype, "multipart/form-data", 19) == 0);
}

int api_upload_begin(struct api *api, struct ocrq_http_req *req, const char *ctype,
                     struct api_upload **out)
{
    struct api_upload *u = calloc(1, sizeof *u);
    const char *cl = ocrq_http_header(req, "Content-Length");
    unsigned long long length = cl ? strtoull(cl, NULL, 10) : 0;

    *out = NULL;
    if (!u) {
        api_error(req, 500, "internal", "out of memory");
        return -1;
    }
    u->api = api;
    u->req = req;
    if (strncasecmp(ctype, "multipart/form-data", 19) == 0) {
        char boundary[OCRQ_MULTIPART_BOUNDARY_MAX + 1];
        if (ocrq_multipart_boundary(ctype, boundary) != OCRQ_OK ||
            ocrq_multipart_stream_new(boundary, &mp_callbacks, u, API_MAX_PARTS, &u->mp) !=
                OCRQ_OK) {
            api_error(req, 400, "invalid_multipart",
                      "multipart/form-data without a valid boundary");
            free(u);
            return -1;
        }
    } else {
        snprintf(u->doc_type, sizeof u->doc_type, "%.*s", (int)strcspn(ctype, "; "), ctype);
        u->spill_now = cl && length > (unsigned long long)api->cfg->inline_max_bytes;
    }
    ocrq_http_set_body_limit(req, (unsigned long long)api->cfg->api_max_upload_bytes);
    ocrq_http_stream_body(req);
    *out = u;
    return 0;
}

int api_upload_feed(struct api_upload *u, struct ocrq_http_req *req, const unsigned char *data,
                    size_t len)
{
    int st;

    u->req = req;
    if (!u->mp)
        return doc_bytes(u, data, len);
    st = ocrq_multipart_stream_feed(u->mp, data, len);
    return st == OCRQ_OK ? OCRQ_OK : multipart_error(u, st);
}

int api_upload_finish(struct api_upload *u, struct ocrq_http_req *req)
{
    long long size = 0;
    int st;

    u->req = req;
    if (u->mp && (st = ocrq_multipart_stream_finish(u->mp)) != OCRQ_OK)
        return multipart_error(u, st);
    if (u->mp && !u->have_file) {
        api_error(req, 400, "invalid_multipart", "no \"file\" part");
        return OCRQ_ERR_INVALID;
    }
    if (u->size == 0) {
        api_error(req, 400, "empty_document", "the document is empty");
        return OCRQ_ERR_INVALID;
    }
    if (!u->checked && (st = check_type(u)) != OCRQ_OK)
        return st;
    if (!u->w)
        return OCRQ_OK;
    st = ocrq_blob_commit(u->w, u->sha256, &size);
    u->w = NULL;
    if (st != OCRQ_OK)
        return db_unavailable(u);
    u->committed = 1;
    log_info(u->job_id, "api: stored the document: %lld bytes (blob %s)", size, u->blob_id);
    return OCRQ_OK;
}

void api_upload_doc(const struct api_upload *u, struct api_upload_doc *out)
{
    memset(out, 0, sizeof *out);
    out->size = u->size;
    out->content_type = u->doc_type;
    if (u->committed) {
        out->blob_id = u->blob_id;
        out->job_id = u->job_id;
        out->sha256 = u->sha256;
    } else {
        out->data = u->buf;
        out->len = u->len;
    }
}

int api_upload_field(const struct api_upload *u, size_t i, const char **name, const char **value,
                     size_t *len)
{
    if (i >= u->n_fields)
        return 0;
    *name = u->fields[i].name;
    *value = u->fields[i].value;
    *len = u->fields[i].len;
    return 1;
}

void api_upload_keep(struct api_upload *u)
{
    if (u)
        __atomic_store_n(&u->keep, 1, __ATOMIC_RELEASE);
}

void api_upload_end(struct api_upload *u, int aborted)
{
    if (!u)
        return;
    if (u->w) {
        ocrq_blob_abort(u->w);
        log_info(u->job_id, "api: upload %s after %lld bytes: nothing stored",
                 aborted ? "broken off by the client" : "refused", u->size);
    }
    if (u->committed && !__atomic_load_n(&u->keep, __ATOMIC_ACQUIRE)) {
        if (ocrq_blob_delete(u->db, u->blob_id) == OCRQ_OK)
            log_info(u->job_id, "api: the job was not accepted: deleted its document (blob %s)",
                     u->blob_id);
        else
            log_warn(u->job_id,
                     "api: cannot delete blob %s of a job not accepted: left to the"
                     " sweeper",
                     u->blob_id);
    }
    ocrq_db_free(u->db);
    ocrq_multipart_stream_free(u->mp);
    for (size_t i = 0; i < u->n_fields; i++)
        free(u->fields[i].value);
    unbuffer(u);
    free(u);
}
