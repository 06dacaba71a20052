/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * GET /v1/jobs/{id}/artifacts/{format}: one output of a succeeded job, as it
 * was stored. A small artifact is in its ocr_artifacts row and answered from
 * memory; a large one is in the document store, and its reply body is read
 * a chunk at a time while it is sent, over a database connection opened for
 * that reply, so no artifact is ever held whole.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "ocrq/blob.h"
#include "ocrq/db.h"
#include "ocrq/db_api.h"
#include "ocrq/formats.h"
#include "ocrq/http.h"
#include "ocrq/log.h"
#include "ocrq/status.h"
#include "ocrq/uuid.h"

/* A stored artifact being sent: its own connection and the chunk in hand. */
struct blob_reply {
    struct ocrq_db *db;
    char job_id[OCRQ_UUID_LEN + 1];
    char blob_id[OCRQ_UUID_LEN + 1];
    int seq;                 /* the next chunk */
    unsigned char *chunk;    /* the chunk being sent */
    size_t len, off;         /* its bytes, and those sent */
    unsigned long long sent; /* body bytes produced so far */
};

static void blob_reply_free(void *arg)
{
    struct blob_reply *b = arg;
    if (!b)
        return;
    ocrq_db_free(b->db);
    free(b->chunk);
    free(b);
}

/* The server wants the next bytes: from the chunk in hand, else the next chunk. */
static ssize_t blob_read(void *arg, unsigned long long pos, char *buf, size_t max)
{
    struct blob_reply *b = arg;

    if (pos != b->sent)
        return -1; /* never: the body is produced once, in order */
    if (b->off == b->len) {
        free(b->chunk);
        b->chunk = NULL;
        b->len = b->off = 0;
        int st = ocrq_blob_chunk(b->db, b->blob_id, b->seq, &b->chunk, &b->len);
        if (st != OCRQ_OK || b->len == 0) {
            log_warn(b->job_id, "api: artifact blob %s: chunk %d: %s: the reply is cut short",
                     b->blob_id, b->seq, st != OCRQ_OK ? ocrq_strerror(st) : "empty");
            return -1;
        }
        b->seq++;
    }
    size_t n = b->len - b->off < max ? b->len - b->off : max;
    memcpy(buf, b->chunk + b->off, n);
    b->off += n;
    b->sent += n;
    return (ssize_t)n;
}

/* Answer the stored artifact a with a streamed body. */
static void reply_blob(struct api *api, struct ocrq_http_req *req, struct api_req *ar,
                       const struct ocrq_db_api_artifact *a)
{
    struct blob_reply *b = calloc(1, sizeof *b);

    if (!b) {
        api_error(req, 500, "internal", "out of memory");
        return;
    }
    if (ocrq_db_connect(api->cfg, &b->db) != OCRQ_OK) {
        blob_reply_free(b);
        api_db_unavailable(api, req, NULL);
        return;
    }
    snprintf(b->job_id, sizeof b->job_id, "%.36s", ar->id);
    snprintf(b->blob_id, sizeof b->blob_id, "%s", a->blob_id);
    ar->status = 200;
    ocrq_http_reply_stream(req, 200, ocrq_format_content_type(ar->format),
                           (unsigned long long)a->blob_size, blob_read, b, blob_reply_free);
}

void api_get_artifact(struct api *api, struct ocrq_http_req *req, struct api_req *ar)
{
    struct ocrq_db_api_artifact a = {0}; /* cleaned up also when there is no db */
    const char *name = ocrq_format_name(ar->format);
    struct ocrq_db *db = api_db(api);
    int st = db ? ocrq_db_api_artifact(db, ar->id, ar->key_name, name, &a) : OCRQ_ERR_DB;

    if (st == OCRQ_ERR_NOT_FOUND)
        api_error(req, 404, "not_found", "no job %.64s for this key", ar->id);
    else if (st != OCRQ_OK)
        api_db_unavailable(api, req, db);
    else if (strcmp(a.status, "succeeded") != 0)
        api_error(req, 409,
                  strcmp(a.status, "failed") == 0     ? "job_failed"
                  : strcmp(a.status, "canceled") == 0 ? "job_canceled"
                                                      : "not_ready",
                  "the job is %s: artifacts are there once it has succeeded", a.status);
    else if (!a.found)
        api_error(req, 404, "no_artifact",
                  "the job has no %s artifact: it was not among the job's formats", name);
    else if (a.blob_id[0] && a.blob_size >= 0)
        reply_blob(api, req, ar, &a);
    else if (a.blob_id[0])
        api_error(req, 409, "artifact_not_stored",
                  "the %s artifact is missing from the document store", name);
    else if (!a.data)
        api_error(req, 409, "artifact_not_stored", "the %s artifact was not stored: %s", name,
                  a.error ? a.error : "no reason given");
    else {
        ar->status = 200;
        ocrq_http_reply(req, 200, ocrq_format_content_type(ar->format), (char *)a.data, a.len);
        a.data = NULL;
    }
    ocrq_db_api_artifact_cleanup(&a);
}
