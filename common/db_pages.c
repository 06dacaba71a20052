/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The pages of a document's result (ocr_pages, migrations 6 and 8) and its
 * artifacts (db_artifacts.c), written in the transaction of the statement
 * that marks the job succeeded (db_jobs.c; a one-page result without artifacts
 * is that statement alone), so a job has all its pages or none,
 * and a repeat overwrites instead of adding rows; for a document of several
 * pages also each page as it is done (progress; the fail and retry
 * statements of db_jobs.c drop those again).
 */
#include "ocrq/db_jobs.h"

#include <stdio.h>

#include "db_internal.h"
#include "migrations.h"
#include "ocrq/status.h"

static const char page_upsert[] =
    "INSERT INTO ocr_pages (" PAGE_COLS ") SELECT " PAGE_VALS
    /* a job canceled while it was recognized keeps no pages (its result was refused too) */
    " WHERE EXISTS (SELECT 1 FROM ocr_jobs WHERE job_id = $1::uuid AND status = "
    "'succeeded')" PAGE_UPDATE;

/*
 * A page while the job runs, with the job's counts, committed asynchronously
 * (set_config(..., true) lasts until the end of this transaction). The
 * UPDATE runs whatever refers to it; the INSERT only for a running job.
 */
static const char page_progress[] =
    "WITH async AS (SELECT set_config('synchronous_commit', 'off', true)),"
    " job AS (UPDATE ocr_jobs SET pages_done = $11::integer, pages_total = $12::integer,"
    " updated_at = now() WHERE job_id = $1::uuid AND status = 'running' RETURNING job_id)"
    " INSERT INTO ocr_pages (" PAGE_COLS ") SELECT " PAGE_VALS " FROM job, async" PAGE_UPDATE;

void ocrq_db_page_params(const struct ocrq_db_page *pg, struct ocrq_db_page_text *b,
                         const char **params)
{
    snprintf(b->no, sizeof(b->no), "%d", pg->page_no);
    snprintf(b->conf, sizeof(b->conf), "%.3f", pg->mean_confidence);
    snprintf(b->w, sizeof(b->w), "%d", pg->width);
    snprintf(b->h, sizeof(b->h), "%d", pg->height);
    snprintf(b->rot, sizeof(b->rot), "%d", pg->rotation);
    snprintf(b->ms, sizeof(b->ms), "%d", pg->duration_ms);
    snprintf(b->skew, sizeof(b->skew), "%.2f", pg->skew);
    params[1] = b->no;
    params[2] = pg->text ? pg->text : "";
    params[3] = pg->mean_confidence >= 0 ? b->conf : NULL;
    params[4] = b->w;
    params[5] = b->h;
    params[6] = b->rot;
    params[7] = b->ms;
    params[8] = pg->ocr ? "ocr" : "text_layer";
    params[9] = b->skew;
}

static int page_put(struct ocrq_db *db, const char *job_id, const struct ocrq_db_page *pg)
{
    struct ocrq_db_page_text b;
    const char *params[10] = {job_id};

    ocrq_db_page_params(pg, &b, params);
    return ocrq_db_params(db, "ocrq_page_upsert", page_upsert, 10, params, 0, NULL);
}

int ocrq_db_page_progress(struct ocrq_db *db, const char *job_id, const struct ocrq_db_page *pg,
                          int done, int total)
{
    struct ocrq_db_page_text b;
    char d[16], t[16];
    const char *params[12] = {job_id};

    if (!db || !job_id || !pg)
        return OCRQ_ERR_INVALID;
    ocrq_db_page_params(pg, &b, params);
    snprintf(d, sizeof(d), "%d", done);
    snprintf(t, sizeof(t), "%d", total);
    params[10] = d;
    params[11] = t;
    return ocrq_db_params(db, "ocrq_page_progress", page_progress, 12, params, 0, NULL);
}

int ocrq_db_job_succeed_pages(struct ocrq_db *db, const char *job_id, const char *worker,
                              const struct ocrq_db_result *res, const struct ocrq_db_page *pages,
                              int n)
{
    int st;

    if (!db || !res || n < 0 || (n > 0 && !pages) || res->n_artifacts < 0 ||
        (res->n_artifacts > 0 && !res->artifacts))
        return OCRQ_ERR_INVALID;
    /* the common case, one page and no artifacts: one statement, one round trip */
    if (n <= 1 && res->n_artifacts == 0)
        return ocrq_db_job_succeed_with(db, job_id, worker, res, n, n ? &pages[0] : NULL);
    /* else one round trip for the whole transaction (a pipeline) */
    st = ocrq_db_batch_begin(db);
    if (st != OCRQ_OK)
        return st;
    /* first: it creates the job row should it be missing, which the pages refer to */
    st = ocrq_db_job_succeed_with(db, job_id, worker, res, n, n ? &pages[0] : NULL);
    for (int i = 1; st == OCRQ_OK && i < n; i++)
        st = page_put(db, job_id, &pages[i]);
    for (int i = 0; st == OCRQ_OK && i < res->n_artifacts; i++)
        st = ocrq_db_artifact_put(db, job_id, &res->artifacts[i]);
    if (st != OCRQ_OK) {
        ocrq_db_batch_end(db, 0);
        return st;
    }
    return ocrq_db_batch_end(db, 1);
}
