/*
 * The pages of a document's result (ocr_pages, migration 6) and its
 * artifacts (db_artifacts.c), written in the transaction of the statement
 * that marks the job succeeded (db.c), so a job has all its pages or none,
 * and a repeat overwrites instead of adding rows.
 */
#include "ocrq/db.h"

#include <stdio.h>

#include "db_internal.h"
#include "migrations.h"
#include "ocrq/status.h"

static const char page_upsert[] =
    "INSERT INTO ocr_pages (job_id, page_no, text, mean_conf, width, height, rotation,"
    " duration_ms, method)"
    " SELECT $1::uuid, $2::integer, $3::text, $4::real, $5::integer, $6::integer,"
    " $7::smallint, $8::integer, $9::text"
    /* a job canceled while it was recognized keeps no pages (its result was refused too) */
    " WHERE EXISTS (SELECT 1 FROM ocr_jobs WHERE job_id = $1::uuid AND status = 'succeeded')"
    " ON CONFLICT (job_id, page_no) DO UPDATE SET text = EXCLUDED.text,"
    " mean_conf = EXCLUDED.mean_conf, width = EXCLUDED.width, height = EXCLUDED.height,"
    " rotation = EXCLUDED.rotation, duration_ms = EXCLUDED.duration_ms,"
    " method = EXCLUDED.method";

static const char page_counts[] =
    "UPDATE ocr_jobs SET pages_total = $2::integer, pages_done = $2::integer"
    " WHERE job_id = $1::uuid AND status = 'succeeded'";

static int page_put(struct ocrq_db *db, const char *job_id, const struct ocrq_db_page *pg)
{
    char no[16], conf[32], w[16], h[16], rot[8], ms[16];
    const char *params[9] = {job_id, no, pg->text ? pg->text : "",      NULL, w, h,
                             rot,    ms, pg->ocr ? "ocr" : "text_layer"};

    snprintf(no, sizeof(no), "%d", pg->page_no);
    if (pg->mean_confidence >= 0) {
        snprintf(conf, sizeof(conf), "%.3f", pg->mean_confidence);
        params[3] = conf;
    }
    snprintf(w, sizeof(w), "%d", pg->width);
    snprintf(h, sizeof(h), "%d", pg->height);
    snprintf(rot, sizeof(rot), "%d", pg->rotation);
    snprintf(ms, sizeof(ms), "%d", pg->duration_ms);
    return ocrq_db_params(db, "ocrq_page_upsert", page_upsert, 9, params, 0, NULL);
}

int ocrq_db_job_succeed_pages(struct ocrq_db *db, const char *job_id, const char *worker,
                              const struct ocrq_db_result *res, const struct ocrq_db_page *pages,
                              int n)
{
    char count[16];
    const char *params[2] = {job_id, count};
    int st;

    if (!db || !res || n < 0 || (n > 0 && !pages) || res->n_artifacts < 0 ||
        (res->n_artifacts > 0 && !res->artifacts))
        return OCRQ_ERR_INVALID;
    /* one round trip for the whole transaction (a pipeline) */
    st = ocrq_db_batch_begin(db);
    if (st != OCRQ_OK)
        return st;
    /* first: it creates the job row should it be missing, which the pages refer to */
    st = ocrq_db_job_succeed(db, job_id, worker, res);
    for (int i = 0; st == OCRQ_OK && i < n; i++)
        st = page_put(db, job_id, &pages[i]);
    for (int i = 0; st == OCRQ_OK && i < res->n_artifacts; i++)
        st = ocrq_db_artifact_put(db, job_id, &res->artifacts[i]);
    snprintf(count, sizeof(count), "%d", n);
    if (st == OCRQ_OK)
        st = ocrq_db_params(db, "ocrq_page_counts", page_counts, 2, params, 0, NULL);
    if (st != OCRQ_OK) {
        ocrq_db_batch_end(db, 0);
        return st;
    }
    return ocrq_db_batch_end(db, 1);
}
