/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The page loop of one job: every page of an opened document in order, each
 * from its text layer or recognized (turned upright and straightened when
 * configured), its progress recorded as it is done, then the pages' texts
 * joined and the job's output formats finished. Page tasks (pages.c) use
 * ocrq_pipeline_page() for their one page.
 */
#include "pipeline_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leptonica/allheaders.h>

#include "document.h"
#include "engine.h"
#include "ocrq/clock.h"
#include "ocrq/config.h"
#include "ocrq/db_jobs.h"
#include "ocrq/formats.h"
#include "ocrq/job.h"
#include "ocrq/log.h"
#include "ocrq/status.h"
#include "straighten.h"

void ocrq_pipeline_doc_result_cleanup(struct doc_result *r)
{
    for (int i = 0; i < r->n; i++)
        free((char *)r->pages[i].text);
    free(r->pages);
    free(r->text);
    for (int i = 0; i < r->n_arts; i++)
        free(r->arts[i].data);
    memset(r, 0, sizeof(*r));
}

/* r->text: the pages' texts joined by form feeds; mean confidence over the OCRed pages. */
static int join_pages(struct doc_result *r)
{
    size_t len = 0, at = 0;
    double conf = 0;

    for (int i = 0; i < r->n; i++)
        len += strlen(r->pages[i].text) + 1;
    r->text = malloc(len + 1);
    if (r->text == NULL)
        return OCRQ_ERR_NOMEM;
    for (int i = 0; i < r->n; i++) {
        size_t n = strlen(r->pages[i].text);
        if (i > 0)
            r->text[at++] = '\f';
        memcpy(r->text + at, r->pages[i].text, n);
        at += n;
        if (r->pages[i].ocr)
            conf += r->pages[i].mean_confidence;
    }
    r->text[at] = '\0';
    r->mean_confidence = r->n_ocr > 0 ? conf / r->n_ocr : 100;
    return OCRQ_OK;
}

/*
 * One page into pg: its text layer when ocr.pdf_text is skip and it has
 * one, else rendered and recognized within what is left of the job's time
 * (deadline, a ocrq_now_ms() value; 0: none). A job with outputs beside the text
 * has every page recognized and added to them (docs/results.md).
 */
int ocrq_pipeline_page(struct ocrq_pipeline *p, const struct ocrq_job *job,
                       struct ocrq_document *doc, const struct ocrq_doc_page *page,
                       long long deadline, struct ocrq_outputs *outputs, struct ocrq_db_page *pg,
                       const char **code, char *why, size_t whylen)
{
    struct ocrq_ocr_result ocr = {0};
    char *layer = NULL;
    PIX *pix = NULL;
    long long t0 = ocrq_now_ms();
    int timeout_ms = 0, st;

    pg->page_no = page->page_no;
    pg->width = page->width;
    pg->height = page->height;
    pg->mean_confidence = -1;
    if (p->pdf_text == OCRQ_PDF_TEXT_SKIP && outputs == NULL) {
        st = ocrq_document_text(doc, &layer);
        if (st != OCRQ_OK)
            goto out;
        if (layer != NULL) {
            pg->text = layer;
            layer = NULL;
            goto out;
        }
    }
    st = ocrq_document_render(doc, &pix, code, why, whylen);
    if (st != OCRQ_OK)
        goto out;
    if (p->cfg->auto_rotate || p->cfg->deskew) {
        struct ocrq_straightened turn;
        st = ocrq_straighten(p->engines, p->cfg->auto_rotate, p->cfg->deskew, &pix, &turn, why,
                             whylen);
        if (st != OCRQ_OK)
            goto out;
        pg->rotation = turn.rotation;
        pg->skew = turn.skew;
        pg->width = pixGetWidth(pix);
        pg->height = pixGetHeight(pix);
    }
    if (deadline > 0) {
        timeout_ms = (int)(deadline - ocrq_now_ms());
        if (timeout_ms <= 0) {
            snprintf(why, whylen,
                     "the time limit of %d s (worker.job_timeout_s) ran out "
                     "before page %d",
                     p->cfg->job_timeout_s, page->page_no);
            st = OCRQ_ERR_TIMEOUT;
            goto out;
        }
    }
    st = ocrq_engines_recognize(p->engines, job->language, pix, timeout_ms, outputs, &ocr, why,
                                whylen);
    if (st != OCRQ_OK)
        goto out;
    pg->text = ocr.text;
    ocr.text = NULL;
    pg->mean_confidence = ocr.mean_confidence;
    pg->ocr = 1;
out:
    pg->duration_ms = (int)(ocrq_now_ms() - t0);
    free(layer);
    pixDestroy(&pix);
    ocrq_ocr_result_cleanup(&ocr);
    return st;
}

/*
 * Record the page just done and pages_done, so that a document of several
 * pages shows its progress (one asynchronously committed statement; a
 * one-page document never comes here). A failed write is not the job's
 * failure: the final commit writes every page again, or fails itself.
 */
static void progress(struct ocrq_pipeline *p, const struct ocrq_job *job, struct doc_result *r,
                     int total)
{
    if (r->progress_failed)
        return;
    if (ocrq_db_page_progress(p->db, job->job_id, &r->pages[r->n - 1], r->n, total) != OCRQ_OK) {
        log_warn(job->job_id, "could not record the progress of page %d; going on",
                 r->pages[r->n - 1].page_no);
        r->progress_failed = 1;
    }
}

/*
 * The second half of the document part of a job (after prepare() in
 * pipeline.c and opening it): every page of doc, in order, into *r. Errors as for prepare().
 */
int ocrq_pipeline_recognize(struct ocrq_pipeline *p, const struct ocrq_job *job,
                            struct ocrq_document *doc, struct doc_result *r, const char **code,
                            char *why, size_t whylen)
{
    struct ocrq_outputs *outputs = NULL;
    struct ocrq_doc_page page;
    long long deadline = ocrq_pipeline_deadline(p);
    int st;

    *code = NULL;
    r->pages = calloc((size_t)ocrq_document_page_count(doc), sizeof(r->pages[0]));
    if (r->pages == NULL) {
        st = OCRQ_ERR_NOMEM;
        goto out;
    }
    if (job->formats & OCRQ_FMT_ARTIFACTS) {
        st = ocrq_engines_outputs_begin(p->engines, job->formats & OCRQ_FMT_ARTIFACTS,
                                        job->source ? job->source : job->job_id,
                                        p->cfg->artifacts_max_bytes, &outputs, why, whylen);
        if (st != OCRQ_OK)
            goto out;
    }
    while ((st = ocrq_document_next(doc, &page, code, why, whylen)) == OCRQ_OK) {
        /* on error the page holds no text: nothing to free */
        st = ocrq_pipeline_page(p, job, doc, &page, deadline, outputs, &r->pages[r->n], code, why,
                                whylen);
        if (st != OCRQ_OK)
            goto out;
        r->n_ocr += r->pages[r->n].ocr;
        r->n++;
        if (ocrq_document_page_count(doc) > 1)
            progress(p, job, r, ocrq_document_page_count(doc));
    }
    if (st != OCRQ_ERR_EMPTY)
        goto out;
    *code = NULL;
    st = join_pages(r);
    if (st == OCRQ_OK && outputs != NULL)
        st = ocrq_engines_outputs_end(p->engines, outputs, r->arts, &r->n_arts, why, whylen);
out:
    if (outputs != NULL)
        ocrq_engines_outputs_free(p->engines, outputs);
    if (st != OCRQ_OK && *code == NULL)
        *code = ocrq_error_code(st);
    return st;
}
