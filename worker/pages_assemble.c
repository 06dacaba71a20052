/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The result of a split document, made once its last page is stored: the
 * pages' texts joined in page order, each output format assembled from the
 * pages' one-page outputs (assemble.h) into the document store, and the
 * result committed with its one webhook event.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "assemble.h"
#include "doc_cache.h"
#include "engine.h"
#include "pages.h"
#include "pipeline.h"
#include "pipeline_internal.h"
#include "ocrq/blob.h"
#include "ocrq/clock.h"
#include "ocrq/config.h"
#include "ocrq/db_jobs.h"
#include "ocrq/db_tasks.h"
#include "ocrq/formats.h"
#include "ocrq/job.h"
#include "ocrq/log.h"
#include "ocrq/status.h"
#include "ocrq/uuid.h"

/* The pages' texts joined by form feeds, as Tesseract separates pages. */
struct joined {
    char *text;
    size_t len, cap;
    int pages, ocr;
    double conf;  /* sum over the OCRed pages */
    long long ms; /* sum of the pages' times */
    int nomem;
};

static int join_page(void *arg, int page_no, const char *text, double conf, int ocr,
                     int duration_ms)
{
    struct joined *j = arg;
    size_t n = strlen(text);

    (void)page_no;
    if (j->len + n + 2 > j->cap) {
        size_t cap = (j->cap ? j->cap * 2 : 65536) + n + 2;
        char *grown = realloc(j->text, cap);
        if (!grown)
            return OCRQ_ERR_NOMEM;
        j->text = grown;
        j->cap = cap;
    }
    if (j->pages > 0)
        j->text[j->len++] = '\f';
    memcpy(j->text + j->len, text, n);
    j->len += n;
    j->text[j->len] = '\0';
    j->pages++;
    if (ocr && conf >= 0) {
        j->ocr++;
        j->conf += conf;
    }
    j->ms += duration_ms;
    return OCRQ_OK;
}

/* What the assembler asks for: one page's output of one format, from ocr_page_artifacts. */
struct page_source {
    struct ocrq_pipeline *p;
    const char *job_id;
    const char *format;
};

static int page_output(void *arg, int page_no, unsigned char **data, size_t *len)
{
    struct page_source *src = arg;
    int st = ocrq_db_page_artifact(src->p->db, src->job_id, page_no, src->format, data, len);

    if (st == OCRQ_ERR_NOT_FOUND)
        log_error(src->job_id, "page %d has no %s output", page_no, src->format);
    return st;
}

/* The file fd (from its start) into a new artifact blob of job; its id in blob_id. */
static int store_file(struct ocrq_pipeline *p, const char *job_id, int fd, char *blob_id,
                      long long *size)
{
    int st = ocrq_uuid_new(blob_id);

    if (st == OCRQ_OK && lseek(fd, 0, SEEK_SET) != 0)
        st = OCRQ_ERR_IO;
    if (st == OCRQ_OK)
        st = ocrq_blob_put_fd(p->db, blob_id, job_id, "artifact", fd, 0, NULL, NULL, size);
    return st;
}

/* The whole file fd, from its start, into *data (malloc'd), *len bytes. */
static int read_whole(int fd, unsigned char **data, size_t *len)
{
    off_t end = lseek(fd, 0, SEEK_END);
    size_t got = 0;

    *data = NULL;
    *len = 0;
    if (end < 0 || lseek(fd, 0, SEEK_SET) != 0)
        return OCRQ_ERR_IO;
    if (!(*data = malloc(end > 0 ? (size_t)end : 1)))
        return OCRQ_ERR_NOMEM;
    while (got < (size_t)end) {
        ssize_t n = read(fd, *data + got, (size_t)end - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(*data);
            *data = NULL;
            return OCRQ_ERR_IO;
        }
        got += (size_t)n;
    }
    *len = got;
    return OCRQ_OK;
}

/*
 * Format fmt of the whole document; its ocr_artifacts row into *row: in the
 * row itself (row->data, malloc'd) up to artifacts.max_bytes, as for a
 * document read in one piece, else in the document store (blob_id).
 */
static int assemble_format(struct ocrq_pipeline *p, const struct ocrq_job *job, int total,
                           unsigned fmt, char *blob_id, struct ocrq_db_artifact *row, char *why,
                           size_t whylen)
{
    struct page_source src = {p, job->job_id, ocrq_format_name(fmt)};
    const char *tmp = getenv("TMPDIR");
    char path[4096];
    long long size = 0;
    int fd, st;

    memset(row, 0, sizeof(*row));
    row->format = src.format;
    snprintf(path, sizeof(path), "%s/ocrq-assemble-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    fd = mkstemp(path);
    if (fd < 0) {
        snprintf(why, whylen, "cannot make a temporary file: %s", strerror(errno));
        return OCRQ_ERR_IO;
    }
    unlink(path);
    st = ocrq_assemble(fmt, total, page_output, &src, fd, why, whylen);
    size = st == OCRQ_OK ? (long long)lseek(fd, 0, SEEK_END) : 0;
    if (st == OCRQ_OK && size >= 0 && size <= p->cfg->artifacts_max_bytes) {
        unsigned char *data;
        size_t len;
        st = read_whole(fd, &data, &len);
        row->data = data;
        row->len = len;
    } else if (st == OCRQ_OK) {
        st = store_file(p, job->job_id, fd, blob_id, &size);
        if (st != OCRQ_OK)
            snprintf(why, whylen, "cannot store the %s output", src.format);
        row->blob_id = blob_id;
        row->len = (size_t)size;
    }
    close(fd);
    return st;
}

void ocrq_pages_assemble(struct ocrq_pipeline *p, const struct ocrq_job *job, int pages_total,
                         struct ocrq_outcome *out)
{
    struct joined j = {0};
    struct ocrq_db_split split;
    struct ocrq_db_artifact rows[OCRQ_MAX_ARTIFACTS];
    char blobs[OCRQ_MAX_ARTIFACTS][OCRQ_UUID_LEN + 1], why[512] = "";
    long long t0 = ocrq_now_ms();
    int n_rows = 0, st;

    st = ocrq_db_split_get(p->db, job->job_id, &split);
    if (st == OCRQ_OK)
        st = ocrq_db_pages_text(p->db, job->job_id, join_page, &j);
    if (st == OCRQ_OK && j.pages != pages_total) {
        log_error(job->job_id, "%d of %d pages stored at the assembly", j.pages, pages_total);
        st = OCRQ_ERR_DB;
    }
    for (unsigned fmt = 1; st == OCRQ_OK && fmt <= OCRQ_FMT_ALL; fmt <<= 1) {
        if (!(job->formats & OCRQ_FMT_ARTIFACTS & fmt))
            continue;
        st = assemble_format(p, job, pages_total, fmt, blobs[n_rows], &rows[n_rows], why,
                             sizeof(why));
        n_rows++; /* its data, if any, is freed at the end */
        if (st != OCRQ_OK && st != OCRQ_ERR_DB) {
            ocrq_pipeline_fail(p, job, out, "ocr", why);
            goto out;
        }
    }
    if (st == OCRQ_OK) {
        struct ocrq_db_result res = {
            .text = j.text ? j.text : "",
            .mean_confidence = j.ocr > 0 ? j.conf / j.ocr : 100,
            .duration_ms = (int)(j.ms > 0x7fffffff ? 0x7fffffff : j.ms),
            .engine_version = ocrq_engines_version(p->engines),
            .artifacts = rows,
            .n_artifacts = n_rows,
            .doc_sha256 = split.sha256[0] ? split.sha256 : NULL,
            .options = ocrq_pipeline_options(p, job),
        };
        st = ocrq_db_split_succeed(p->db, job->job_id, p->worker, &res);
    }
    if (st != OCRQ_OK) {
        /* the last page is stored: its redelivery assembles again */
        ocrq_pipeline_verdict(out, OCRQ_VERDICT_REQUEUE, "database",
                              "could not assemble the result");
        goto out;
    }
    log_info(job->job_id,
             "succeeded: %d pages assembled in %lld ms (%d OCRed, %d outputs, %s, %d ms of OCR)",
             pages_total, ocrq_now_ms() - t0, j.ocr, n_rows, job->language, (int)j.ms);
    ocrq_db_split_cleanup(p->db, job->job_id);
    ocrq_doc_cache_drop(p->docs, job->doc_ref);
    ocrq_pages_sweep(p);
    ocrq_pipeline_verdict(out, OCRQ_VERDICT_ACK, NULL, NULL);
out:
    for (int i = 0; i < n_rows; i++)
        free((unsigned char *)rows[i].data);
    free(j.text);
}
