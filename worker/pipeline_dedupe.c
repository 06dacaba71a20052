/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Deduplication (dedupe.enabled): a job whose document, language and options
 * were recognized by another job within dedupe.ttl_s takes that job's result
 * instead of OCR. The key besides document and language is
 * ocrq_pipeline_options() (pipeline.c).
 */
#include "pipeline_internal.h"

#include "ocrq/config.h"
#include "ocrq/db_jobs.h"
#include "ocrq/job.h"
#include "ocrq/log.h"
#include "ocrq/status.h"

/*
 * dedupe.enabled: give the job the result of a job that recognized the same
 * document, language and options within dedupe.ttl_s. Returns 1 if *out
 * holds the verdict (the copy was committed, or could not be: requeue), 0 to
 * go on and recognize the document (no such job, or the lookup failed:
 * deduplication only saves work, it never decides an outcome).
 */
int ocrq_pipeline_take_copy(struct ocrq_pipeline *p, const struct ocrq_job *job, const char *sha,
                            struct ocrq_outcome *out)
{
    struct ocrq_db_dedupe hit;
    int st = ocrq_db_dedupe_find(p->db, sha, job->language, ocrq_pipeline_options(p, job),
                                 p->cfg->dedupe_ttl_s, &hit);

    if (st != OCRQ_OK) {
        if (st != OCRQ_ERR_NOT_FOUND)
            log_warn(job->job_id, "dedupe lookup failed (%s): recognizing the document",
                     ocrq_strerror(st));
        return 0;
    }
    struct ocrq_db_result res = {
        .text = hit.text,
        .mean_confidence = hit.mean_confidence,
        .duration_ms = out->ocr_ms,
        .engine_version = hit.engine_version,
        .doc_sha256 = sha,
        .options = ocrq_pipeline_options(p, job),
        .dedupe_of = hit.job_id,
    };
    /* like every outcome, the commit writes the webhook event too (pipeline.c) */
    if (ocrq_db_job_succeed_dedupe(p->db, job->job_id, p->worker, &res) != OCRQ_OK)
        ocrq_pipeline_verdict(out, OCRQ_VERDICT_REQUEUE, "database", "could not commit the result");
    else {
        log_info(job->job_id, "succeeded without OCR: the result of job %s (dedupe, %s)",
                 hit.job_id, job->language);
        ocrq_pipeline_verdict(out, OCRQ_VERDICT_ACK, NULL, NULL);
    }
    ocrq_db_dedupe_cleanup(&hit);
    return 1;
}
