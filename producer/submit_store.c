/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The document of one file input of ocrq-submit: small files go inline in
 * the message as before; larger ones are streamed into the document store a
 * piece at a time and go by reference; files past documents.max_bytes are
 * refused before anything is stored. Keeps the blob ids of the run so that
 * a job that is never published does not leave its document behind.
 */
#include "submit_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ocrq/blob.h"
#include "ocrq/config.h"
#include "ocrq/mq.h"
#include "ocrq/status.h"
#include "ocrq/units.h"

static void too_large(long long size, long long max, char *why, size_t whylen)
{
    char hs[32], hm[32];

    ocrq_bytes_human(size, hs, sizeof hs);
    ocrq_bytes_human(max, hm, sizeof hm);
    snprintf(why, whylen,
             "file too large: %lld bytes (%s), over the limit of %lld bytes (%s) that "
             "documents.max_bytes sets",
             size, hs, max, hm);
}

/* read(2) that retries on EINTR. */
static ssize_t read_some(int fd, void *buf, size_t len)
{
    ssize_t r;

    do
        r = read(fd, buf, len);
    while (r < 0 && errno == EINTR);
    return r;
}

/* Read the size bytes of fd into out->data (a file that shrank meanwhile is sent as it is). */
static int read_inline(int fd, size_t size, struct submit_doc *out, char *why, size_t whylen)
{
    unsigned char *buf = malloc(size ? size : 1);
    size_t got = 0;

    if (!buf)
        return OCRQ_ERR_NOMEM;
    while (got < size) {
        ssize_t r = read_some(fd, buf + got, size - got);
        if (r < 0) {
            snprintf(why, whylen, "%s", strerror(errno));
            free(buf);
            return OCRQ_ERR_IO;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    out->data = buf;
    out->len = got;
    return OCRQ_OK;
}

/* Between two pieces of a large file: heartbeats (a lost broker shows at the next publish). */
static void service(void *mq)
{
    (void)ocrq_mq_service(mq, 0);
}

/*
 * Stream fd to its end into a new blob of job_id, at most max bytes (a file
 * that grew past it meanwhile is refused), servicing mq between pieces.
 */
static int store(struct ocrq_db *db, struct ocrq_mq *mq, int fd, const char *job_id, long long max,
                 struct submit_doc *out, char *why, size_t whylen)
{
    char blob_id[OCRQ_UUID_LEN + 1];
    long long size = 0;
    int st;

    ocrq_uuid_new(blob_id);
    st = ocrq_blob_put_fd(db, blob_id, job_id, "document", fd, max, mq ? service : NULL, mq, &size);
    if (st == OCRQ_ERR_IO)
        snprintf(why, whylen, "%s", strerror(errno));
    else if (st == OCRQ_ERR_TOO_LARGE)
        too_large(size, max, why, whylen);
    else if (st == OCRQ_OK) {
        memcpy(out->blob_id, blob_id, sizeof blob_id);
        out->size = size;
    } else if (st == OCRQ_ERR_DB || st == OCRQ_ERR_INVALID)
        snprintf(why, whylen, "cannot store the document: %s", ocrq_strerror(st));
    return st == OCRQ_ERR_INVALID ? OCRQ_ERR_DB : st;
}

/* Load a file's document; see submit_store.h. */
int submit_store_load(struct ocrq_db *db, struct ocrq_mq *mq, const struct ocrq_config *cfg,
                      const char *path, const char *job_id, struct submit_doc *out, char *why,
                      size_t whylen)
{
    struct stat sb;
    int fd, st;

    memset(out, 0, sizeof *out);
    why[0] = '\0';
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &sb) != 0) {
        snprintf(why, whylen, "%s", strerror(errno));
        st = OCRQ_ERR_IO;
    } else if (!S_ISREG(sb.st_mode)) {
        snprintf(why, whylen, "not a regular file");
        st = OCRQ_ERR_IO;
    } else if ((long long)sb.st_size > cfg->max_bytes) {
        too_large((long long)sb.st_size, cfg->max_bytes, why, whylen);
        st = OCRQ_ERR_TOO_LARGE;
    } else if ((long long)sb.st_size <= cfg->inline_max_bytes) {
        st = read_inline(fd, (size_t)sb.st_size, out, why, whylen);
    } else {
        st = store(db, mq, fd, job_id, cfg->max_bytes, out, why, whylen);
    }
    if (fd >= 0)
        close(fd);
    return st;
}

int submit_stored_add(struct submit_stored *s, size_t idx, const char *blob_id)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        struct submit_stored_doc *v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return OCRQ_ERR_NOMEM;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n].idx = idx;
    snprintf(s->v[s->n].blob_id, sizeof s->v[s->n].blob_id, "%s", blob_id);
    s->n++;
    return OCRQ_OK;
}

void submit_stored_drop(struct submit_stored *s, struct ocrq_db *db, size_t idx)
{
    size_t lo = 0, hi = s->n;

    while (lo < hi) { /* added in input order: sorted by idx */
        size_t mid = lo + (hi - lo) / 2;
        if (s->v[mid].idx < idx)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == s->n || s->v[lo].idx != idx || !s->v[lo].blob_id[0])
        return;
    if (ocrq_blob_delete(db, s->v[lo].blob_id) == OCRQ_OK)
        s->v[lo].blob_id[0] = '\0';
}

void submit_stored_cleanup(struct submit_stored *s)
{
    if (!s)
        return;
    free(s->v);
    memset(s, 0, sizeof *s);
}
