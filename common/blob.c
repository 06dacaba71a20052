/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The document store on PostgreSQL (ocrq/blob.h, migration 9): a blob is a
 * row of ocr_blobs and OCRQ_BLOB_CHUNK-sized rows of ocr_blob_chunks,
 * written in one transaction so that it is whole or absent, and read back
 * one chunk at a time so that no reader holds more than a chunk.
 */
#include "ocrq/blob.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db_internal.h"
#include "ocrq/log.h"
#include "ocrq/sign.h"
#include "ocrq/status.h"
#include "ocrq/uuid.h"

struct ocrq_blob_writer {
    struct ocrq_db *db;
    char blob_id[OCRQ_UUID_LEN + 1];
    long long max_bytes; /* 0: no cap */
    long long written;
    int seq;            /* the next chunk's number */
    unsigned char *buf; /* the chunk being filled: OCRQ_BLOB_CHUNK bytes */
    size_t fill;
    struct ocrq_sha256 *sha;
};

static const char blob_insert[] = "INSERT INTO ocr_blobs (blob_id, job_id, kind)"
                                  " VALUES ($1::uuid, $2::uuid, $3::text)";
static const char chunk_insert[] = "INSERT INTO ocr_blob_chunks (blob_id, seq, data)"
                                   " VALUES ($1::uuid, $2::integer, $3::bytea)";
static const char blob_finish[] = "UPDATE ocr_blobs SET bytes = $2::bigint,"
                                  " sha256 = decode($3::text, 'hex') WHERE blob_id = $1::uuid";

static int run(struct ocrq_db *db, const char *what, const char *sql)
{
    return ocrq_db_params(db, what, sql, 0, NULL, 0, NULL);
}

int ocrq_blob_begin(struct ocrq_db *db, const char *blob_id, const char *job_id, const char *kind,
                    long long max_bytes, struct ocrq_blob_writer **out)
{
    struct ocrq_blob_writer *w = NULL;
    const char *params[3] = {blob_id, job_id, kind};
    int st;

    *out = NULL;
    if (!db || !ocrq_uuid_valid(blob_id) || !ocrq_uuid_valid(job_id) || !kind ||
        (strcmp(kind, "document") != 0 && strcmp(kind, "artifact") != 0))
        return OCRQ_ERR_INVALID;
    w = calloc(1, sizeof(*w));
    if (!w || !(w->buf = malloc(OCRQ_BLOB_CHUNK)) || !(w->sha = ocrq_sha256_new())) {
        st = OCRQ_ERR_NOMEM;
        goto out;
    }
    w->db = db;
    w->max_bytes = max_bytes;
    snprintf(w->blob_id, sizeof(w->blob_id), "%s", blob_id);
    st = run(db, "blob begin", "BEGIN");
    if (st != OCRQ_OK)
        goto out;
    st = ocrq_db_params(db, "blob insert", blob_insert, 3, params, 0, NULL);
    if (st != OCRQ_OK) {
        run(db, "blob rollback", "ROLLBACK");
        goto out;
    }
    *out = w;
    w = NULL;
out:
    if (w) {
        ocrq_sha256_free(w->sha);
        free(w->buf);
        free(w);
    }
    return st;
}

/* The filled part of the buffer as the next chunk. */
static int flush_chunk(struct ocrq_blob_writer *w)
{
    char seq[16];
    const char *params[3] = {w->blob_id, seq, (const char *)w->buf};
    const int lengths[3] = {0, 0, (int)w->fill};
    const int formats[3] = {0, 0, 1};
    int st;

    snprintf(seq, sizeof(seq), "%d", w->seq);
    st = ocrq_db_params_fmt(w->db, "blob chunk", chunk_insert, 3, params, lengths, formats, 0, 0,
                            NULL);
    if (st == OCRQ_OK) {
        w->seq++;
        w->fill = 0;
    }
    return st;
}

int ocrq_blob_write(struct ocrq_blob_writer *w, const void *data, size_t len)
{
    const unsigned char *p = data;

    if (w->max_bytes > 0 && w->written + (long long)len > w->max_bytes)
        return OCRQ_ERR_TOO_LARGE;
    if (ocrq_sha256_update(w->sha, data, len) != OCRQ_OK)
        return OCRQ_ERR_NOMEM;
    w->written += (long long)len;
    while (len > 0) {
        size_t n = OCRQ_BLOB_CHUNK - w->fill;
        if (n > len)
            n = len;
        memcpy(w->buf + w->fill, p, n);
        w->fill += n;
        p += n;
        len -= n;
        if (w->fill == OCRQ_BLOB_CHUNK) {
            int st = flush_chunk(w);
            if (st != OCRQ_OK)
                return st;
        }
    }
    return OCRQ_OK;
}

long long ocrq_blob_written(const struct ocrq_blob_writer *w)
{
    return w ? w->written : 0;
}

static void writer_free(struct ocrq_blob_writer *w)
{
    ocrq_sha256_free(w->sha);
    free(w->buf);
    free(w);
}

int ocrq_blob_commit(struct ocrq_blob_writer *w, char *sha256_hex, long long *size)
{
    char hex[65], bytes[32];
    const char *params[3] = {w->blob_id, bytes, hex};
    int st = OCRQ_OK;

    if (sha256_hex)
        sha256_hex[0] = '\0';
    if (size)
        *size = 0;
    if (w->fill > 0 || w->seq == 0)
        st = flush_chunk(w); /* an empty blob still has its one (empty) chunk */
    if (st == OCRQ_OK) {
        st = ocrq_sha256_final(w->sha, hex);
        w->sha = NULL;
    }
    snprintf(bytes, sizeof(bytes), "%lld", w->written);
    if (st == OCRQ_OK)
        st = ocrq_db_params(w->db, "blob finish", blob_finish, 3, params, 0, NULL);
    if (st == OCRQ_OK)
        st = run(w->db, "blob commit", "COMMIT");
    if (st != OCRQ_OK)
        run(w->db, "blob rollback", "ROLLBACK");
    else {
        if (sha256_hex)
            memcpy(sha256_hex, hex, 65);
        if (size)
            *size = w->written;
    }
    writer_free(w);
    return st;
}

void ocrq_blob_abort(struct ocrq_blob_writer *w)
{
    if (!w)
        return;
    run(w->db, "blob rollback", "ROLLBACK");
    writer_free(w);
}

int ocrq_blob_put(struct ocrq_db *db, const char *blob_id, const char *job_id, const char *kind,
                  const void *data, size_t len, char *sha256_hex)
{
    struct ocrq_blob_writer *w;
    int st = ocrq_blob_begin(db, blob_id, job_id, kind, 0, &w);

    if (st != OCRQ_OK)
        return st;
    st = ocrq_blob_write(w, data, len);
    if (st != OCRQ_OK) {
        ocrq_blob_abort(w);
        return st;
    }
    return ocrq_blob_commit(w, sha256_hex, NULL);
}

int ocrq_blob_put_fd(struct ocrq_db *db, const char *blob_id, const char *job_id, const char *kind,
                     int fd, long long max_bytes, void (*between)(void *arg), void *arg,
                     long long *size)
{
    struct ocrq_blob_writer *w = NULL;
    unsigned char *piece = malloc(OCRQ_BLOB_CHUNK);
    long long got = 0;
    int st = piece ? ocrq_blob_begin(db, blob_id, job_id, kind, max_bytes, &w) : OCRQ_ERR_NOMEM;
    int saved_errno = 0;

    while (st == OCRQ_OK) {
        ssize_t n = read(fd, piece, OCRQ_BLOB_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            saved_errno = errno;
            st = OCRQ_ERR_IO;
        }
        if (n <= 0)
            break;
        got += n;
        st = ocrq_blob_write(w, piece, (size_t)n);
        if (between)
            between(arg);
    }
    if (st == OCRQ_OK) {
        st = ocrq_blob_commit(w, NULL, NULL);
        w = NULL;
    }
    ocrq_blob_abort(w);
    free(piece);
    if (size)
        *size = got;
    if (saved_errno)
        errno = saved_errno; /* the ROLLBACK may have changed it */
    return st;
}

int ocrq_blob_stat(struct ocrq_db *db, const char *blob_id, struct ocrq_blob_info *out)
{
    static const char sql[] =
        "SELECT b.bytes, (SELECT count(*) FROM ocr_blob_chunks c WHERE c.blob_id = b.blob_id),"
        " encode(b.sha256, 'hex'), b.kind FROM ocr_blobs b WHERE b.blob_id = $1::uuid";
    const char *params[1] = {blob_id};
    PGresult *res = NULL;
    int st;

    memset(out, 0, sizeof(*out));
    if (!ocrq_uuid_valid(blob_id))
        return OCRQ_ERR_NOT_FOUND;
    st = ocrq_db_params(db, "blob stat", sql, 1, params, 1, &res);
    if (st != OCRQ_OK)
        return st;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return OCRQ_ERR_NOT_FOUND;
    }
    out->size = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    out->chunks = atoi(PQgetvalue(res, 0, 1));
    snprintf(out->sha256, sizeof(out->sha256), "%s", PQgetvalue(res, 0, 2));
    snprintf(out->kind, sizeof(out->kind), "%s", PQgetvalue(res, 0, 3));
    PQclear(res);
    return OCRQ_OK;
}

int ocrq_blob_chunk(struct ocrq_db *db, const char *blob_id, int seq, unsigned char **data,
                    size_t *len)
{
    static const char sql[] =
        "SELECT data FROM ocr_blob_chunks WHERE blob_id = $1::uuid AND seq = $2::integer";
    char no[16];
    const char *params[2] = {blob_id, no};

    snprintf(no, sizeof(no), "%d", seq);
    return ocrq_db_bytea_one(db, "blob chunk read", sql, 2, params, data, len);
}

int ocrq_blob_read(struct ocrq_db *db, const char *blob_id, ocrq_blob_fn fn, void *arg)
{
    struct ocrq_blob_info info;
    int st = ocrq_blob_stat(db, blob_id, &info);

    for (int seq = 0; st == OCRQ_OK && seq < info.chunks; seq++) {
        unsigned char *data;
        size_t len;
        st = ocrq_blob_chunk(db, blob_id, seq, &data, &len);
        if (st == OCRQ_ERR_NOT_FOUND)
            st = OCRQ_ERR_DB; /* deleted while it was read */
        if (st == OCRQ_OK) {
            st = fn(arg, data, len);
            free(data);
        }
    }
    return st;
}

struct fd_sink {
    int fd;
    long long written;
};

static int to_fd(void *arg, const unsigned char *data, size_t len)
{
    struct fd_sink *s = arg;

    while (len > 0) {
        ssize_t n = write(s->fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            log_error(NULL, "writing a stored blob out: %s", strerror(errno));
            return OCRQ_ERR_IO;
        }
        data += n;
        len -= (size_t)n;
        s->written += n;
    }
    return OCRQ_OK;
}

int ocrq_blob_read_fd(struct ocrq_db *db, const char *blob_id, int fd, long long *size)
{
    struct fd_sink s = {fd, 0};
    int st = ocrq_blob_read(db, blob_id, to_fd, &s);

    if (size)
        *size = s.written;
    return st;
}

int ocrq_blob_delete(struct ocrq_db *db, const char *blob_id)
{
    const char *params[1] = {blob_id};

    return ocrq_db_params(db, "blob delete", "DELETE FROM ocr_blobs WHERE blob_id = $1::uuid", 1,
                          params, 0, NULL);
}

int ocrq_blob_sweep(struct ocrq_db *db, int retention_s, long long *deleted, long long *artifacts)
{
    static const char sql[] =
        "WITH gone AS (DELETE FROM ocr_blobs b WHERE (b.kind = 'document' AND ("
        " EXISTS (SELECT 1 FROM ocr_jobs j WHERE j.job_id = b.job_id"
        "  AND j.status IN ('succeeded', 'failed', 'canceled')"
        "  AND j.finished_at <= now() - make_interval(secs => $1::integer))"
        " OR (b.created_at < now() - interval '1 day'"
        "  AND NOT EXISTS (SELECT 1 FROM ocr_jobs j WHERE j.job_id = b.job_id))))"
        /* an artifact no row names (an assembly that was repeated or failed) */
        " OR (b.kind = 'artifact' AND b.created_at < now() - interval '1 day'"
        "  AND NOT EXISTS (SELECT 1 FROM ocr_artifacts a WHERE a.blob_id = b.blob_id))"
        " RETURNING b.kind)"
        " SELECT count(*) FILTER (WHERE kind = 'document'), count(*) FILTER (WHERE kind <> "
        "'document')"
        " FROM gone";
    char ret[16];
    const char *params[1] = {ret};
    PGresult *res = NULL;
    int st;

    if (deleted)
        *deleted = 0;
    if (artifacts)
        *artifacts = 0;
    snprintf(ret, sizeof(ret), "%d", retention_s);
    st = ocrq_db_params(db, "blob sweep", sql, 1, params, 1, &res);
    if (st == OCRQ_OK && deleted)
        *deleted = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    if (st == OCRQ_OK && artifacts)
        *artifacts = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    PQclear(res);
    return st;
}

int ocrq_blob_totals(struct ocrq_db *db, struct ocrq_blob_totals *out)
{
    static const char sql[] =
        "SELECT count(*) FILTER (WHERE kind = 'document'),"
        " coalesce(sum(bytes) FILTER (WHERE kind = 'document'), 0),"
        " count(*) FILTER (WHERE kind = 'artifact'),"
        " coalesce(sum(bytes) FILTER (WHERE kind = 'artifact'), 0) FROM ocr_blobs";
    PGresult *res = NULL;
    int st;

    memset(out, 0, sizeof(*out));
    st = ocrq_db_params(db, "blob totals", sql, 0, NULL, 1, &res);
    if (st != OCRQ_OK)
        return st;
    out->documents = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    out->document_bytes = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    out->artifacts = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    out->artifact_bytes = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
    PQclear(res);
    return OCRQ_OK;
}
