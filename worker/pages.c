/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Page tasks (pages.h): the split of a document into one task per page, and
 * one page task top to bottom: count the delivery, open the stored document
 * (cached per process), OCR the page within the page's time limit, store it
 * with its one-page outputs, then release the next page or, for the last
 * page, assemble the document (pages_assemble.c).
 */
#include "pages.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc_cache.h"
#include "document.h"
#include "engine.h"
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

/* documents.page_window, or twice the processes of this machine's fleet (at least 2). */
static int window_of(const struct ocrq_pipeline *p)
{
    int procs = p->cfg->processes > 0 ? p->cfg->processes : 1;

    return p->cfg->page_window > 0 ? p->cfg->page_window : 2 * procs;
}

/* Page task page_no of job's document (stored as blob_id, size bytes) added to out->pubs. */
static int add_task(struct ocrq_outcome *out, const struct ocrq_job *job, const char *blob_id,
                    long long size, int page_no, int total, int window)
{
    struct ocrq_job t = *job; /* shallow: nothing of it is freed */
    struct ocrq_outcome_pub *grown;
    char why[256];
    int st;

    t.doc_kind = OCRQ_DOC_STORED;
    t.doc_ref = (char *)blob_id;
    t.doc_size = size;
    t.doc_data = NULL;
    t.doc_len = 0;
    t.page_no = page_no;
    t.pages_total = total;
    t.page_window = window;
    grown = realloc(out->pubs, (size_t)(out->n_pubs + 1) * sizeof(out->pubs[0]));
    if (!grown)
        return OCRQ_ERR_NOMEM;
    out->pubs = grown;
    st = ocrq_job_encode(&t, &out->pubs[out->n_pubs].body, &out->pubs[out->n_pubs].len, why,
                         sizeof(why));
    if (st != OCRQ_OK) {
        log_error(job->job_id, "cannot encode page task %d: %s", page_no, why);
        return st;
    }
    out->pubs[out->n_pubs++].priority = job->priority;
    return OCRQ_OK;
}

/* The released pages of a split that are not stored, ascending, into *pages (malloc'd). */
static int released(struct ocrq_pipeline *p, const char *job_id, int total, int window, int **pages,
                    int *n)
{
    *n = 0;
    *pages = calloc((size_t)window, sizeof(int));
    if (!*pages)
        return OCRQ_ERR_NOMEM;
    return ocrq_db_split_released(p->db, job_id, total, window, *pages, window, n);
}

/* Page next of job, released again if it is released and not stored (a repeat). */
static int release_one(struct ocrq_pipeline *p, const struct ocrq_job *job, int next,
                       struct ocrq_outcome *out)
{
    int *pages = NULL, n = 0;
    int st = released(p, job->job_id, job->pages_total, job->page_window, &pages, &n);

    for (int i = 0; st == OCRQ_OK && i < n; i++)
        if (pages[i] == next)
            st = add_task(out, job, job->doc_ref, job->doc_size, next, job->pages_total,
                          job->page_window);
    free(pages);
    return st;
}

void ocrq_pages_split(struct ocrq_pipeline *p, const struct ocrq_job *job,
                      const unsigned char *data, size_t len, int n_pages, const char *sha,
                      struct ocrq_outcome *out)
{
    struct ocrq_db_split split;
    char blob_id[OCRQ_UUID_LEN + 1] = "";
    int stored_now = 0, window = window_of(p), total = n_pages, st, *pages = NULL, n = 0;

    st = ocrq_db_split_get(p->db, job->job_id, &split);
    if (st == OCRQ_OK && split.pages_total > 0 && split.window > 0 && split.blob_id[0]) {
        /* split before (this is a redelivery): release what was released again */
        snprintf(blob_id, sizeof(blob_id), "%s", split.blob_id);
        total = split.pages_total;
        window = split.window;
        log_info(job->job_id, "split before into %d page tasks: releasing them again", total);
    } else if (st == OCRQ_OK) {
        if (job->doc_kind == OCRQ_DOC_STORED)
            snprintf(blob_id, sizeof(blob_id), "%s", job->doc_ref);
        else if ((st = ocrq_uuid_new(blob_id)) == OCRQ_OK &&
                 (st = ocrq_blob_put(p->db, blob_id, job->job_id, "document", data, len, NULL)) ==
                     OCRQ_OK)
            stored_now = 1;
        if (st == OCRQ_OK)
            st = ocrq_db_split_record(p->db, job->job_id, total, window, blob_id, sha);
        if (st == OCRQ_ERR_NOT_FOUND) { /* canceled while it was read */
            log_info(job->job_id, "no longer running: not split");
            if (stored_now)
                ocrq_blob_delete(p->db, blob_id);
            ocrq_pipeline_verdict(out, OCRQ_VERDICT_ACK, NULL, NULL);
            out->repeat = 1;
            return;
        }
    }
    if (st == OCRQ_OK)
        st = released(p, job->job_id, total, window, &pages, &n);
    for (int i = 0; st == OCRQ_OK && i < n; i++)
        st = add_task(out, job, blob_id, (long long)len, pages[i], total, window);
    free(pages);
    if (st != OCRQ_OK) {
        ocrq_outcome_cleanup(out);
        ocrq_pipeline_verdict(out, OCRQ_VERDICT_REQUEUE, "database",
                              "could not split the document");
        return;
    }
    log_info(job->job_id, "split into %d page tasks (window %d): %d released", total, window, n);
    ocrq_pipeline_verdict(out, OCRQ_VERDICT_ACK, NULL, NULL);
}

/*
 * A page that cannot be read: the document fails with the page number in
 * the message, and the copy dead-lettered is the document's job, not the
 * page task, so that ocrq-admin failed requeue runs the whole document.
 */
static void fail_page(struct ocrq_pipeline *p, const struct ocrq_job *job, struct ocrq_outcome *out,
                      const char *code, const char *why)
{
    struct ocrq_job t = *job;
    char msg[600], err[256];
    int running = 0;

    /*
     * Another page may be failing the document at the same moment, or a
     * cancel ended it (and its stored copy went): the job row's lock lets
     * exactly one failure through.
     */
    if (ocrq_db_split_lock(p->db, job->job_id, &running) != OCRQ_OK) {
        ocrq_pipeline_verdict(out, OCRQ_VERDICT_REQUEUE, "database", "could not fail the job");
        return;
    }
    if (!running) {
        ocrq_db_split_unlock(p->db, 0);
        log_info(job->job_id, "page %d: %s, but the job is over already: nothing to fail",
                 job->page_no, why);
        ocrq_pipeline_verdict(out, OCRQ_VERDICT_ACK, NULL, NULL);
        out->repeat = 1;
        return;
    }
    snprintf(msg, sizeof(msg), "page %d of %d: %s", job->page_no, job->pages_total, why);
    t.page_no = t.pages_total = t.page_window = 0;
    if (ocrq_job_encode(&t, &out->dead_body, &out->dead_len, err, sizeof(err)) != OCRQ_OK)
        out->dead_body = NULL; /* the page task goes instead */
    ocrq_pipeline_fail(p, job, out, code, msg);
    if (ocrq_db_split_unlock(p->db, out->verdict == OCRQ_VERDICT_DEADLETTER) != OCRQ_OK)
        ocrq_pipeline_verdict(out, OCRQ_VERDICT_REQUEUE, "database", "could not fail the job");
    if (out->verdict == OCRQ_VERDICT_DEADLETTER) {
        ocrq_db_split_cleanup(p->db, job->job_id);
        ocrq_doc_cache_drop(p->docs, job->doc_ref);
        ocrq_pages_sweep(p);
    }
}

/* A page found stored already: release its successor if need be, or assemble. */
static void repeat_page(struct ocrq_pipeline *p, const struct ocrq_job *job,
                        struct ocrq_outcome *out)
{
    struct ocrq_db_split split;
    int next = job->page_no + job->page_window, st;

    st = ocrq_db_split_get(p->db, job->job_id, &split);
    if (st == OCRQ_OK && strcmp(split.status, "running") == 0 && split.pages_total > 0 &&
        split.pages_done >= split.pages_total) {
        log_info(job->job_id, "page %d again, every page stored: assembling", job->page_no);
        ocrq_pages_assemble(p, job, split.pages_total, out);
        return;
    }
    out->repeat = 1;
    if (st == OCRQ_OK && next <= job->pages_total)
        st = release_one(p, job, next, out);
    if (st != OCRQ_OK) {
        ocrq_outcome_cleanup(out);
        ocrq_pipeline_verdict(out, OCRQ_VERDICT_REQUEUE, "database", "could not release a page");
        return;
    }
    ocrq_pipeline_verdict(out, OCRQ_VERDICT_ACK, NULL, NULL);
}

/* The page's one-page outputs as ocr_page_artifacts rows (borrowing arts). */
static void artifact_rows(const struct ocrq_artifact *arts, int n, struct ocrq_db_artifact *rows)
{
    for (int i = 0; i < n; i++) {
        memset(&rows[i], 0, sizeof(rows[i]));
        rows[i].format = ocrq_format_name(arts[i].format);
        rows[i].data = arts[i].data;
        rows[i].len = arts[i].len;
    }
}

/*
 * Render and recognize the page into *pg, with its one-page outputs in
 * arts[0..*n_arts-1] when the job asks for formats. Errors with *code, why.
 */
static int read_page(struct ocrq_pipeline *p, const struct ocrq_job *job, struct ocrq_db_page *pg,
                     struct ocrq_artifact *arts, int *n_arts, const char **code, char *why,
                     size_t whylen)
{
    const struct ocrq_doc_limits lim = ocrq_pipeline_limits(p);
    struct ocrq_document *doc = NULL;
    struct ocrq_outputs *outputs = NULL;
    struct ocrq_doc_page page;
    long long deadline = ocrq_pipeline_deadline(p);
    int st;

    *n_arts = 0;
    st = ocrq_doc_cache_open(p->docs, p->db, job->doc_ref, &lim, &doc, code, why, whylen);
    if (st == OCRQ_OK && ocrq_document_page_count(doc) != job->pages_total) {
        *code = "decode";
        snprintf(why, whylen, "the stored document has %d pages, the task says %d",
                 ocrq_document_page_count(doc), job->pages_total);
        st = OCRQ_ERR_DECODE;
    }
    if (st == OCRQ_OK)
        st = ocrq_document_goto(doc, job->page_no, &page, code, why, whylen);
    /* one page's outputs: the assembly joins them; the store's cap applies to the whole */
    if (st == OCRQ_OK && (job->formats & OCRQ_FMT_ARTIFACTS))
        st = ocrq_engines_outputs_begin(p->engines, job->formats & OCRQ_FMT_ARTIFACTS,
                                        job->source ? job->source : job->job_id, p->cfg->max_bytes,
                                        &outputs, why, whylen);
    if (st == OCRQ_OK)
        st = ocrq_pipeline_page(p, job, doc, &page, deadline, outputs, pg, code, why, whylen);
    if (st == OCRQ_OK && outputs)
        st = ocrq_engines_outputs_end(p->engines, outputs, arts, n_arts, why, whylen);
    for (int i = 0; st == OCRQ_OK && i < *n_arts; i++)
        if (!arts[i].data) {
            snprintf(why, whylen, "the page's %s output is over %lld bytes",
                     ocrq_format_name(arts[i].format), p->cfg->max_bytes);
            st = OCRQ_ERR_TOO_LARGE;
        }
    if (outputs)
        ocrq_engines_outputs_free(p->engines, outputs);
    if (st != OCRQ_OK && *code == NULL)
        *code = ocrq_error_code(st);
    return st;
}

void ocrq_pages_task(struct ocrq_pipeline *p, const struct ocrq_job *job, struct ocrq_outcome *out)
{
    struct ocrq_db_page_start ps;
    struct ocrq_db_page pg = {0};
    struct ocrq_artifact arts[OCRQ_MAX_ARTIFACTS];
    struct ocrq_db_artifact rows[OCRQ_MAX_ARTIFACTS];
    const char *code = NULL;
    char why[512] = "";
    int n_arts = 0, done = -1, total = 0, st;
    long long t0 = ocrq_now_ms();

    if (ocrq_db_page_start(p->db, job->job_id, job->page_no, p->worker, &ps) != OCRQ_OK) {
        ocrq_pipeline_verdict(out, OCRQ_VERDICT_REQUEUE, "database", "could not record the start");
        return;
    }
    if (strcmp(ps.status, "running") != 0) {
        log_info(job->job_id, "page %d: the job is %s: nothing to do", job->page_no,
                 ps.status[0] ? ps.status : "gone");
        ocrq_pipeline_verdict(out, OCRQ_VERDICT_ACK, NULL, NULL);
        out->repeat = 1;
        ocrq_doc_cache_drop(p->docs, job->doc_ref);
        ocrq_pages_sweep(p); /* canceled or failed: its stored document may go */
        return;
    }
    if (ps.stored) {
        repeat_page(p, job, out);
        return;
    }
    if (ps.attempts > p->cfg->max_attempts) {
        snprintf(why, sizeof(why), "delivered %d times, more than worker.max_attempts = %d",
                 ps.attempts, p->cfg->max_attempts);
        fail_page(p, job, out, "attempts", why);
        return;
    }
    st = read_page(p, job, &pg, arts, &n_arts, &code, why, sizeof(why));
    out->ocr_ms = (int)(ocrq_now_ms() - t0);
    if (st == OCRQ_ERR_DB) {
        ocrq_pipeline_verdict(out, OCRQ_VERDICT_REQUEUE, "database", why);
        goto out;
    }
    if (st == OCRQ_ERR_IO || st == OCRQ_ERR_FETCH) { /* this machine's trouble: another try */
        log_warn(job->job_id, "page %d, attempt %d failed, will retry: %s", job->page_no,
                 ps.attempts, why);
        ocrq_pipeline_retry_later(p, out, ps.attempts, code, why);
        goto out;
    }
    if (st != OCRQ_OK) {
        fail_page(p, job, out, code, why);
        goto out;
    }
    artifact_rows(arts, n_arts, rows);
    if (ocrq_db_page_store(p->db, job->job_id, &pg, rows, n_arts, &done, &total) != OCRQ_OK) {
        ocrq_pipeline_verdict(out, OCRQ_VERDICT_REQUEUE, "database", "could not store the page");
        goto out;
    }
    if (done < 0) {
        log_info(job->job_id, "page %d done, but the job is over: not kept", job->page_no);
        ocrq_pipeline_verdict(out, OCRQ_VERDICT_ACK, NULL, NULL);
        goto out;
    }
    log_info(job->job_id, "page %d of %d in %d ms (%dx%d, confidence %.0f), %d stored",
             job->page_no, job->pages_total, pg.duration_ms, pg.width, pg.height,
             pg.mean_confidence, done);
    if (done >= total) {
        ocrq_pages_assemble(p, job, total, out);
        goto out;
    }
    st = OCRQ_OK;
    if (job->page_no + job->page_window <= job->pages_total)
        st = add_task(out, job, job->doc_ref, job->doc_size, job->page_no + job->page_window,
                      job->pages_total, job->page_window);
    if (st != OCRQ_OK) /* stored: a redelivery releases the next page */
        ocrq_pipeline_verdict(out, OCRQ_VERDICT_REQUEUE, "internal", "could not release a page");
    else
        ocrq_pipeline_verdict(out, OCRQ_VERDICT_ACK, NULL, NULL);
out:
    free((char *)pg.text);
    for (int i = 0; i < n_arts; i++)
        free(arts[i].data);
}

void ocrq_pages_sweep(struct ocrq_pipeline *p)
{
    long long n = 0, arts = 0;

    if (ocrq_blob_sweep(p->db, p->cfg->doc_retention_s, &n, &arts) != OCRQ_OK)
        log_warn(NULL, "could not delete the stored documents of finished jobs; next time");
    else if (n + arts > 0)
        log_info(NULL, "deleted %lld stored document%s of finished jobs, %lld orphaned artifact%s",
                 n, n == 1 ? "" : "s", arts, arts == 1 ? "" : "s");
}
