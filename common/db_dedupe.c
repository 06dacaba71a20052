/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Deduplication (dedupe.enabled): find a job that already recognized the
 * same document with the same language and options, and give a new job a
 * copy of its result: its own result row, pages and webhook event, marked
 * dedupe_of. The lookup goes by the partial index of migration 8.
 */
#include "ocrq/db_jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"
#include "migrations.h"
#include "ocrq/status.h"

/* Only originals (dedupe_of IS NULL): a chain of copies would outlive the TTL. */
static const char find_sql[] =
    "SELECT j.job_id, r.text, r.mean_confidence, r.engine_version"
    " FROM ocr_jobs AS j JOIN ocr_results AS r ON r.job_id = j.job_id"
    " WHERE j.doc_sha256 = decode($1::text, 'hex') AND j.language = $2::text"
    " AND j.ocr_options = $3::text AND j.status = 'succeeded' AND j.dedupe_of IS NULL"
    " AND j.finished_at > now() - make_interval(secs => $4::integer)"
    " ORDER BY j.finished_at DESC LIMIT 1";

/* The original's pages, for a job that the succeed statement just marked succeeded. */
static const char copy_pages_sql[] =
    "WITH copied AS (INSERT INTO ocr_pages (job_id, page_no, text, mean_conf, width, height,"
    " rotation, skew, duration_ms, method)"
    " SELECT $1::uuid, p.page_no, p.text, p.mean_conf, p.width, p.height, p.rotation, p.skew,"
    " 0, 'dedupe' FROM ocr_pages AS p WHERE p.job_id = $2::uuid"
    " AND EXISTS (SELECT 1 FROM ocr_jobs WHERE job_id = $1::uuid AND status = 'succeeded')"
    " ON CONFLICT (job_id, page_no) DO UPDATE SET text = EXCLUDED.text,"
    " mean_conf = EXCLUDED.mean_conf, width = EXCLUDED.width, height = EXCLUDED.height,"
    " rotation = EXCLUDED.rotation, skew = EXCLUDED.skew, duration_ms = EXCLUDED.duration_ms,"
    " method = EXCLUDED.method RETURNING 1)"
    " UPDATE ocr_jobs SET pages_total = (SELECT count(*) FROM copied),"
    " pages_done = (SELECT count(*) FROM copied)"
    " WHERE job_id = $1::uuid AND status = 'succeeded'";

int ocrq_db_dedupe_find(struct ocrq_db *db, const char *doc_sha256, const char *language,
                        const char *options, int ttl_s, struct ocrq_db_dedupe *out)
{
    char ttl[16];
    const char *params[4] = {doc_sha256, language, options, ttl};
    PGresult *res = NULL;
    int st;

    if (out)
        memset(out, 0, sizeof(*out));
    if (!db || !doc_sha256 || !language || !options || !out)
        return OCRQ_ERR_INVALID;
    snprintf(ttl, sizeof(ttl), "%d", ttl_s);
    st = ocrq_db_params(db, "dedupe lookup", find_sql, 4, params, 1, &res);
    if (st != OCRQ_OK)
        goto out;
    if (PQntuples(res) == 0) {
        st = OCRQ_ERR_NOT_FOUND;
        goto out;
    }
    snprintf(out->job_id, sizeof(out->job_id), "%s", PQgetvalue(res, 0, 0));
    out->text = strdup(PQgetvalue(res, 0, 1));
    out->mean_confidence = PQgetisnull(res, 0, 2) ? 0 : atof(PQgetvalue(res, 0, 2));
    if (!PQgetisnull(res, 0, 3))
        out->engine_version = strdup(PQgetvalue(res, 0, 3));
    if (!out->text || (!PQgetisnull(res, 0, 3) && !out->engine_version)) {
        ocrq_db_dedupe_cleanup(out);
        st = OCRQ_ERR_NOMEM;
    }
out:
    PQclear(res);
    return st;
}

void ocrq_db_dedupe_cleanup(struct ocrq_db_dedupe *hit)
{
    if (hit == NULL)
        return;
    free(hit->text);
    free(hit->engine_version);
    memset(hit, 0, sizeof(*hit));
}

int ocrq_db_job_succeed_dedupe(struct ocrq_db *db, const char *job_id, const char *worker,
                               const struct ocrq_db_result *res)
{
    const char *params[2] = {job_id, res ? res->dedupe_of : NULL};
    int st;

    if (!db || !res || !res->dedupe_of)
        return OCRQ_ERR_INVALID;
    st = ocrq_db_exec(db, "BEGIN", 0, "dedupe: begin");
    if (st != OCRQ_OK)
        return st;
    st = ocrq_db_job_succeed(db, job_id, worker, res);
    if (st == OCRQ_OK)
        st = ocrq_db_params(db, "dedupe: copy pages", copy_pages_sql, 2, params, 0, NULL);
    if (st == OCRQ_OK)
        st = ocrq_db_exec(db, "COMMIT", 0, "dedupe: commit");
    if (st != OCRQ_OK)
        ocrq_db_rollback(db);
    return st;
}
