/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Submit polling: job counts by status (ocrq-submit --wait, ocrq-admin
 * status) and the finished jobs and pages of a set of ids, each in one
 * round trip.
 */
#include "ocrq/db_poll.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"
#include "ocrq/dynbuf.h"
#include "ocrq/log.h"
#include "ocrq/status.h"

/* jobs and their pages by status (pages: of documents read so far; NULL counts 0) */
static const struct ocrq_db_stmt st_counts = {
    ST_COUNTS, "ocrq_counts", 0,
    "SELECT status, count(*), coalesce(sum(pages_done), 0),"
    " coalesce(sum(pages_total), 0) FROM ocr_jobs GROUP BY status"};

static const struct ocrq_db_stmt st_counts_batch = {
    ST_COUNTS_BATCH, "ocrq_counts_batch", 1,
    "SELECT status, count(*), coalesce(sum(pages_done), 0),"
    " coalesce(sum(pages_total), 0) FROM ocr_jobs WHERE batch = $1::text"
    " GROUP BY status"};

static const struct ocrq_db_stmt st_poll = {
    ST_POLL, "ocrq_poll_finished", 1,
    "SELECT j.job_id, j.status, j.error_code, j.error_message,"
    " NULL::text, j.pages_done FROM ocr_jobs AS j"
    " WHERE j.job_id = ANY ($1::uuid[]) AND " FINAL};

static const struct ocrq_db_stmt st_poll_text = {
    ST_POLL_TEXT, "ocrq_poll_finished_text", 1,
    "SELECT j.job_id, j.status, j.error_code, j.error_message,"
    " r.text, j.pages_done FROM ocr_jobs AS j LEFT JOIN ocr_results AS r"
    " ON r.job_id = j.job_id"
    " WHERE j.job_id = ANY ($1::uuid[]) AND " FINAL};

/* the pages of the jobs still under way (--wait's progress line) */
static const struct ocrq_db_stmt st_poll_pages = {
    ST_POLL_PAGES, "ocrq_poll_pages", 1,
    "SELECT coalesce(sum(j.pages_done), 0), coalesce(sum(j.pages_total), 0)"
    " FROM ocr_jobs AS j WHERE j.job_id = ANY ($1::uuid[]) AND NOT (" FINAL ")"};

/* Job counts by status, of all jobs or of one batch. Returns OCRQ_OK or OCRQ_ERR_DB. */
int ocrq_db_counts(struct ocrq_db *db, const char *batch, struct ocrq_db_counts *out)
{
    const char *params[1] = {batch};
    PGresult *res = NULL;
    int st;

    if (out)
        memset(out, 0, sizeof *out);
    if (!db || !out)
        return OCRQ_ERR_INVALID;
    st = ocrq_db_stmt_run(db, batch ? &st_counts_batch : &st_counts, params, PGRES_TUPLES_OK, NULL,
                          &res);
    if (st != OCRQ_OK)
        goto out;
    for (int i = 0; i < PQntuples(res); i++) {
        const char *status = PQgetvalue(res, i, 0);
        long long count = strtoll(PQgetvalue(res, i, 1), NULL, 10);

        out->pages_done += strtoll(PQgetvalue(res, i, 2), NULL, 10);
        if (strcmp(status, "running") == 0) {
            out->running_pages_done = strtoll(PQgetvalue(res, i, 2), NULL, 10);
            out->running_pages_total = strtoll(PQgetvalue(res, i, 3), NULL, 10);
        }

        if (strcmp(status, "queued") == 0)
            out->queued = count;
        else if (strcmp(status, "running") == 0)
            out->running = count;
        else if (strcmp(status, "succeeded") == 0)
            out->succeeded = count;
        else if (strcmp(status, "failed") == 0)
            out->failed = count;
        else if (strcmp(status, "canceled") == 0)
            out->canceled = count;
    }
out:
    PQclear(res);
    return st;
}

/* The value of a cell, NULL for SQL NULL. */
static const char *cell(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/*
 * Call fn for each of ids[0..n-1] that is finished, in one round trip. The
 * strings passed to fn live until fn returns; job ids come back lowercase.
 * Returns OCRQ_OK, OCRQ_ERR_INVALID (a bad id), OCRQ_ERR_NOMEM,
 * OCRQ_ERR_TOO_LARGE or OCRQ_ERR_DB.
 */
/* ids[0..n-1] as a uuid[] literal into *arr (the caller frees it with ocrq_dynbuf_free()). */
static int ids_array(const char *const *ids, size_t n, const char *what, struct ocrq_dynbuf *arr)
{
    ocrq_db_array_init(arr);
    ocrq_dynbuf_add(arr, "{", 1);
    for (size_t i = 0; i < n; i++) {
        int st = ocrq_db_id_ok(ids[i], what);
        if (st != OCRQ_OK)
            return st;
        if (i > 0)
            ocrq_dynbuf_add(arr, ",", 1);
        ocrq_dynbuf_addstr(arr, ids[i]);
    }
    ocrq_dynbuf_add(arr, "}", 1);
    if (ocrq_dynbuf_status(arr) != OCRQ_OK)
        log_error(NULL, "db: %s: %zu ids: %s", what, n, ocrq_strerror(ocrq_dynbuf_status(arr)));
    return ocrq_dynbuf_status(arr);
}

int ocrq_db_poll_finished(struct ocrq_db *db, const char *const *ids, size_t n, int want_text,
                          ocrq_db_finished_fn fn, void *arg)
{
    struct ocrq_dynbuf arr = {0};
    const char *params[1];
    PGresult *res = NULL;
    int st = OCRQ_OK;

    if (!db || !fn || (n > 0 && !ids))
        return OCRQ_ERR_INVALID;
    if (n == 0)
        return OCRQ_OK;
    st = ids_array(ids, n, st_poll.name, &arr);
    if (st != OCRQ_OK)
        goto out;
    params[0] = ocrq_dynbuf_ptr(&arr);
    st = ocrq_db_stmt_run(db, want_text ? &st_poll_text : &st_poll, params, PGRES_TUPLES_OK, NULL,
                          &res);
    if (st != OCRQ_OK)
        goto out;
    for (int i = 0; i < PQntuples(res); i++) {
        struct ocrq_db_finished f;

        f.job_id = PQgetvalue(res, i, 0);
        f.succeeded = strcmp(PQgetvalue(res, i, 1), "succeeded") == 0;
        f.canceled = strcmp(PQgetvalue(res, i, 1), "canceled") == 0;
        f.error_code = f.succeeded ? NULL : cell(res, i, 2);
        f.error_message = f.succeeded ? NULL : cell(res, i, 3);
        f.text = f.succeeded ? cell(res, i, 4) : NULL;
        f.pages = PQgetisnull(res, i, 5) ? 0 : atoi(PQgetvalue(res, i, 5));
        fn(arg, &f);
    }
out:
    PQclear(res);
    ocrq_dynbuf_free(&arr);
    return st;
}

/*
 * Pages done and pages known (summed) of those of ids[0..n-1] that are not
 * final, in one round trip. Returns OCRQ_OK, OCRQ_ERR_INVALID, OCRQ_ERR_NOMEM,
 * OCRQ_ERR_TOO_LARGE or OCRQ_ERR_DB.
 */
int ocrq_db_poll_pages(struct ocrq_db *db, const char *const *ids, size_t n, long long *done,
                       long long *total)
{
    struct ocrq_dynbuf arr = {0};
    const char *params[1];
    PGresult *res = NULL;
    int st;

    *done = *total = 0;
    if (!db || (n > 0 && !ids))
        return OCRQ_ERR_INVALID;
    if (n == 0)
        return OCRQ_OK;
    st = ids_array(ids, n, st_poll_pages.name, &arr);
    if (st != OCRQ_OK)
        goto out;
    params[0] = ocrq_dynbuf_ptr(&arr);
    st = ocrq_db_stmt_run(db, &st_poll_pages, params, PGRES_TUPLES_OK, NULL, &res);
    if (st != OCRQ_OK || PQntuples(res) != 1)
        goto out;
    *done = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    *total = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
out:
    PQclear(res);
    ocrq_dynbuf_free(&arr);
    return st;
}
