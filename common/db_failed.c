/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The job statements of the dead-letter and cancel workflow (ocrq-admin failed
 * and cancel, docs/operations.md): the rows behind the messages of ocr.failed,
 * the reset of a job that is requeued, and cancel. Beside db_jobs.c, through
 * ocrq_db_params(); libpq types stay in the db module.
 */
#include "ocrq/db_failed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"
#include "ocrq/log.h"
#include "ocrq/status.h"
#include "ocrq/uuid.h"

#define INFO_IDS_MAX 10000 /* ids per ocrq_db_jobs_info() call */

/* The value of a cell, NULL for SQL NULL. */
static const char *cell(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/* "{id,id,...}" of ids[0..n-1], malloc'd; NULL (logged) on a bad id or no memory. */
static char *id_array(const char *const *ids, size_t n)
{
    char *arr = malloc(n * (OCRQ_UUID_LEN + 1) + 3);
    size_t off = 0;

    if (!arr) {
        log_error(NULL, "db: job ids: %s", ocrq_strerror(OCRQ_ERR_NOMEM));
        return NULL;
    }
    arr[off++] = '{';
    for (size_t i = 0; i < n; i++) {
        if (!ocrq_uuid_valid(ids[i])) {
            log_error(NULL, "db: job ids: not a UUID: %.64s", ids[i] ? ids[i] : "(null)");
            free(arr);
            return NULL;
        }
        if (i > 0)
            arr[off++] = ',';
        memcpy(arr + off, ids[i], OCRQ_UUID_LEN);
        off += OCRQ_UUID_LEN;
    }
    arr[off++] = '}';
    arr[off] = '\0';
    return arr;
}

int ocrq_db_jobs_info(struct ocrq_db *db, const char *const *ids, size_t n, ocrq_db_job_info_fn fn,
                      void *arg)
{
    PGresult *res = NULL;
    const char *params[1];
    char *arr;
    int st;

    if (!db || !fn || (n > 0 && !ids) || n > INFO_IDS_MAX)
        return OCRQ_ERR_INVALID;
    if (n == 0)
        return OCRQ_OK;
    if (!(arr = id_array(ids, n)))
        return OCRQ_ERR_INVALID;
    params[0] = arr;
    st = ocrq_db_params(db, "jobs info",
                        "SELECT job_id, status, batch, source, attempts, priority, error_code,"
                        " error_message, coalesce(extract(epoch FROM finished_at), 0)"
                        " FROM ocr_jobs WHERE job_id = ANY ($1::uuid[])",
                        1, params, 1, &res);
    for (int i = 0; st == OCRQ_OK && i < PQntuples(res); i++) {
        struct ocrq_db_job_info j = {
            .job_id = PQgetvalue(res, i, 0),
            .status = PQgetvalue(res, i, 1),
            .batch = cell(res, i, 2),
            .source = cell(res, i, 3),
            .attempts = atoi(PQgetvalue(res, i, 4)),
            .priority = atoi(PQgetvalue(res, i, 5)),
            .error_code = cell(res, i, 6),
            .error_message = cell(res, i, 7),
            .finished_at = strtod(PQgetvalue(res, i, 8), NULL),
        };
        fn(arg, &j);
    }
    PQclear(res);
    free(arr);
    return st;
}

/*
 * One statement: the row's status before, and the reset if it was failed or
 * queued (a queued row may be one whose requeue stopped half way). The CTEs
 * see the same snapshot, so "before" is the status the reset saw.
 */
int ocrq_db_job_requeue(struct ocrq_db *db, const char *job_id, char *before, size_t beforelen,
                        int *reset)
{
    const char *params[1] = {job_id};
    PGresult *res = NULL;
    int st;

    if (before && beforelen)
        before[0] = '\0';
    if (reset)
        *reset = 0;
    if (!db || !before || !reset || !ocrq_uuid_valid(job_id))
        return OCRQ_ERR_INVALID;
    st = ocrq_db_params(db, "requeue job",
                        "WITH old AS (SELECT status FROM ocr_jobs WHERE job_id = $1::uuid),"
                        " upd AS (UPDATE ocr_jobs SET status = 'queued', attempts = 0,"
                        " error_code = NULL, error_message = NULL, started_at = NULL,"
                        " finished_at = NULL, worker = NULL, updated_at = now()"
                        " WHERE job_id = $1::uuid AND status IN ('failed', 'queued')"
                        " RETURNING 1)"
                        " SELECT (SELECT status FROM old), (SELECT count(*) FROM upd)",
                        1, params, 1, &res);
    if (st == OCRQ_OK && PQntuples(res) == 1) {
        snprintf(before, beforelen, "%s", PQgetisnull(res, 0, 0) ? "" : PQgetvalue(res, 0, 0));
        *reset = atoi(PQgetvalue(res, 0, 1)) > 0;
    }
    PQclear(res);
    return st;
}

int ocrq_db_cancel(struct ocrq_db *db, const char *job_id, const char *batch, ocrq_db_cancel_fn fn,
                   void *arg)
{
    const char *params[2] = {job_id, batch};
    PGresult *res = NULL;
    int st;

    if (!db || !fn || (!job_id == !batch) || (job_id && !ocrq_uuid_valid(job_id)))
        return OCRQ_ERR_INVALID;
    /*
     * Only queued jobs, and split documents while their pages run (the pages
     * not yet started are then never OCRed): any other running job is in a
     * worker's hands already. The
     * outer SELECT sees the rows as they were before the UPDATE (one
     * snapshot), so the CTE's ids say which ones this statement canceled.
     */
    st = ocrq_db_params(db, "cancel",
                        "WITH c AS (UPDATE ocr_jobs SET status = 'canceled',"
                        " finished_at = now(), updated_at = now()"
                        " WHERE (job_id = $1::uuid OR batch = $2::text) AND (status = 'queued'"
                        " OR (status = 'running' AND page_window IS NOT NULL))"
                        " RETURNING job_id)"
                        " SELECT j.job_id, j.status, c.job_id IS NOT NULL FROM ocr_jobs AS j"
                        " LEFT JOIN c ON c.job_id = j.job_id"
                        " WHERE j.job_id = $1::uuid OR j.batch = $2::text ORDER BY j.submitted_at",
                        2, params, 1, &res);
    for (int i = 0; st == OCRQ_OK && i < PQntuples(res); i++) {
        int now = strcmp(PQgetvalue(res, i, 2), "t") == 0;
        struct ocrq_db_cancel_info c = {
            .job_id = PQgetvalue(res, i, 0),
            .status = now ? "canceled" : PQgetvalue(res, i, 1),
            .canceled_now = now,
        };
        fn(arg, &c);
    }
    PQclear(res);
    return st;
}
