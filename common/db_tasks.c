/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The statements of split documents (ocrq/db_tasks.h): the split on the
 * job row, the released pages, a page task's start, a stored page with its
 * one-page artifacts, and the reads of the assembly. Unnamed statements
 * only, so that they work through a transaction pooler.
 */
#include "ocrq/db_tasks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"
#include "ocrq/db.h"
#include "ocrq/db_jobs.h"
#include "ocrq/status.h"
#include "ocrq/uuid.h"

/* Pages read back per round trip by ocrq_db_pages_text(). */
#define TEXT_ROWS 200

int ocrq_db_split_get(struct ocrq_db *db, const char *job_id, struct ocrq_db_split *out)
{
    static const char sql[] =
        "SELECT coalesce(page_window, 0), coalesce(pages_total, 0), coalesce(doc_blob_id::text, "
        "''),"
        " status, coalesce(pages_done, 0), coalesce(encode(doc_sha256, 'hex'), '') FROM ocr_jobs"
        " WHERE job_id = $1::uuid";
    const char *params[1] = {job_id};
    PGresult *res = NULL;
    int st;

    memset(out, 0, sizeof(*out));
    st = ocrq_db_params(db, "split get", sql, 1, params, 1, &res);
    if (st != OCRQ_OK)
        return st;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return OCRQ_ERR_NOT_FOUND;
    }
    out->window = atoi(PQgetvalue(res, 0, 0));
    out->pages_total = out->window > 0 ? atoi(PQgetvalue(res, 0, 1)) : 0;
    snprintf(out->blob_id, sizeof(out->blob_id), "%s", PQgetvalue(res, 0, 2));
    snprintf(out->status, sizeof(out->status), "%s", PQgetvalue(res, 0, 3));
    out->pages_done = atoi(PQgetvalue(res, 0, 4));
    snprintf(out->sha256, sizeof(out->sha256), "%s", PQgetvalue(res, 0, 5));
    PQclear(res);
    return OCRQ_OK;
}

int ocrq_db_split_record(struct ocrq_db *db, const char *job_id, int pages_total, int window,
                         const char *blob_id, const char *sha256)
{
    static const char sql[] =
        "UPDATE ocr_jobs SET page_window = coalesce(page_window, $3::integer),"
        " pages_total = coalesce(pages_total, $2::integer), pages_done = coalesce(pages_done, 0),"
        " doc_blob_id = coalesce(doc_blob_id, $4::uuid),"
        " doc_sha256 = coalesce(decode($5::text, 'hex'), doc_sha256), updated_at = now()"
        " WHERE job_id = $1::uuid AND status = 'running' RETURNING job_id";
    char total[16], win[16];
    const char *params[5] = {job_id, total, win, blob_id, sha256 && *sha256 ? sha256 : NULL};
    PGresult *res = NULL;
    int st;

    snprintf(total, sizeof(total), "%d", pages_total);
    snprintf(win, sizeof(win), "%d", window);
    st = ocrq_db_params(db, "split record", sql, 5, params, 1, &res);
    if (st == OCRQ_OK && PQntuples(res) != 1)
        st = OCRQ_ERR_NOT_FOUND;
    PQclear(res);
    return st;
}

int ocrq_db_split_released(struct ocrq_db *db, const char *job_id, int pages_total, int window,
                           int *pages, int max, int *n)
{
    static const char sql[] =
        "WITH stored AS (SELECT page_no FROM ocr_pages WHERE job_id = $1::uuid)"
        " SELECT p FROM generate_series(1, $2::integer) AS p"
        " WHERE (p <= $3::integer OR p - $3::integer IN (SELECT page_no FROM stored))"
        " AND p NOT IN (SELECT page_no FROM stored) ORDER BY p LIMIT $4::integer";
    char total[16], win[16], lim[16];
    const char *params[4] = {job_id, total, win, lim};
    PGresult *res = NULL;
    int st;

    *n = 0;
    snprintf(total, sizeof(total), "%d", pages_total);
    snprintf(win, sizeof(win), "%d", window);
    snprintf(lim, sizeof(lim), "%d", max);
    st = ocrq_db_params(db, "split released", sql, 4, params, 1, &res);
    for (int i = 0; st == OCRQ_OK && i < PQntuples(res) && i < max; i++)
        pages[(*n)++] = atoi(PQgetvalue(res, i, 0));
    PQclear(res);
    return st;
}

int ocrq_db_page_start(struct ocrq_db *db, const char *job_id, int page_no, const char *worker,
                       struct ocrq_db_page_start *out)
{
    /* committed asynchronously, as the job start (docs/design.md) */
    static const char sql[] =
        "WITH async AS (SELECT set_config('synchronous_commit', 'off', true)),"
        /* FOR SHARE: a cancel (an UPDATE of the row) either waits for this start
           or is seen by it, so no page starts once a cancel has returned */
        " j AS (SELECT status FROM ocr_jobs WHERE job_id = $1::uuid FOR SHARE),"
        " d AS (SELECT 1 FROM ocr_pages WHERE job_id = $1::uuid AND page_no = $2::integer),"
        " t AS (INSERT INTO ocr_page_tasks AS t (job_id, page_no, attempts, worker, started_at)"
        "  SELECT $1::uuid, $2::integer, 1, $3::text, now() FROM async"
        "  WHERE (SELECT status FROM j) = 'running' AND NOT EXISTS (SELECT 1 FROM d)"
        "  ON CONFLICT (job_id, page_no) DO UPDATE SET attempts = t.attempts + 1,"
        "  worker = EXCLUDED.worker, started_at = now() RETURNING t.attempts)"
        " SELECT coalesce((SELECT status FROM j), ''), EXISTS (SELECT 1 FROM d),"
        " coalesce((SELECT attempts FROM t), 0)";
    char no[16];
    const char *params[3] = {job_id, no, worker};
    PGresult *res = NULL;
    int st;

    memset(out, 0, sizeof(*out));
    snprintf(no, sizeof(no), "%d", page_no);
    st = ocrq_db_params(db, "page start", sql, 3, params, 1, &res);
    if (st != OCRQ_OK)
        return st;
    snprintf(out->status, sizeof(out->status), "%s", PQgetvalue(res, 0, 0));
    out->stored = PQgetvalue(res, 0, 1)[0] == 't';
    out->attempts = atoi(PQgetvalue(res, 0, 2));
    PQclear(res);
    return OCRQ_OK;
}

/* One page's one-page artifact, inside the page's transaction; a repeat keeps the first. */
static int page_artifact_put(struct ocrq_db *db, const char *job_id, int page_no,
                             const struct ocrq_db_artifact *a)
{
    static const char sql[] = "INSERT INTO ocr_page_artifacts (job_id, page_no, format, content)"
                              " VALUES ($1::uuid, $2::integer, $3::text, $4::bytea)"
                              " ON CONFLICT DO NOTHING";
    char no[16];
    const char *params[4] = {job_id, no, a->format, (const char *)a->data};
    const int lengths[4] = {0, 0, 0, (int)a->len};
    const int formats[4] = {0, 0, 0, 1};

    if (!a->data || a->len > (size_t)0x7fffffff)
        return OCRQ_ERR_INVALID;
    snprintf(no, sizeof(no), "%d", page_no);
    return ocrq_db_params_fmt(db, "page artifact", sql, 4, params, lengths, formats, 0, 0, NULL);
}

int ocrq_db_page_store(struct ocrq_db *db, const char *job_id, const struct ocrq_db_page *pg,
                       const struct ocrq_db_artifact *arts, int n_arts, int *done, int *total)
{
    /*
     * The page counts once: pages_done grows by the rows the INSERT made,
     * and the job row's lock orders concurrent pages, so exactly one of
     * them sees the last page.
     */
    static const char sql[] =
        "WITH ins AS (INSERT INTO ocr_pages (" PAGE_COLS ") SELECT " PAGE_VALS
        "  WHERE EXISTS (SELECT 1 FROM ocr_jobs WHERE job_id = $1::uuid AND status = 'running')"
        "  ON CONFLICT (job_id, page_no) DO NOTHING RETURNING 1)"
        " UPDATE ocr_jobs SET pages_done = coalesce(pages_done, 0) + (SELECT count(*) FROM ins),"
        " updated_at = now() WHERE job_id = $1::uuid AND status = 'running'"
        " RETURNING pages_done, pages_total";
    struct ocrq_db_page_text b;
    const char *params[10] = {job_id};
    PGresult *res = NULL;
    int st;

    *done = -1;
    *total = 0;
    ocrq_db_page_params(pg, &b, params);
    st = ocrq_db_params(db, "page store begin", "BEGIN", 0, NULL, 0, NULL);
    if (st != OCRQ_OK)
        return st;
    for (int i = 0; st == OCRQ_OK && i < n_arts; i++)
        st = page_artifact_put(db, job_id, pg->page_no, &arts[i]);
    if (st == OCRQ_OK)
        st = ocrq_db_params(db, "page store", sql, 10, params, 1, &res);
    if (st == OCRQ_OK && PQntuples(res) == 1) {
        *done = atoi(PQgetvalue(res, 0, 0));
        *total = atoi(PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    if (st == OCRQ_OK && *done < 0) /* the job is over: keep none of it */
        return ocrq_db_params(db, "page store rollback", "ROLLBACK", 0, NULL, 0, NULL);
    if (st == OCRQ_OK)
        st = ocrq_db_params(db, "page store commit", "COMMIT", 0, NULL, 0, NULL);
    if (st != OCRQ_OK) {
        *done = -1;
        if (ocrq_db_alive(db))
            ocrq_db_params(db, "page store rollback", "ROLLBACK", 0, NULL, 0, NULL);
    }
    return st;
}

int ocrq_db_pages_text(struct ocrq_db *db, const char *job_id, ocrq_db_page_text_fn fn, void *arg)
{
    static const char sql[] =
        "SELECT page_no, text, coalesce(mean_conf, -1), method = 'ocr', duration_ms FROM ocr_pages"
        " WHERE job_id = $1::uuid AND page_no > $2::integer ORDER BY page_no LIMIT $3::integer";
    char after[16], lim[16];
    const char *params[3] = {job_id, after, lim};
    int last = 0, st = OCRQ_OK, rows;

    snprintf(lim, sizeof(lim), "%d", TEXT_ROWS);
    do {
        PGresult *res = NULL;
        snprintf(after, sizeof(after), "%d", last);
        st = ocrq_db_params(db, "pages text", sql, 3, params, 1, &res);
        if (st != OCRQ_OK)
            return st;
        rows = PQntuples(res);
        for (int i = 0; st == OCRQ_OK && i < rows; i++) {
            last = atoi(PQgetvalue(res, i, 0));
            st = fn(arg, last, PQgetvalue(res, i, 1), atof(PQgetvalue(res, i, 2)),
                    PQgetvalue(res, i, 3)[0] == 't', atoi(PQgetvalue(res, i, 4)));
        }
        PQclear(res);
    } while (st == OCRQ_OK && rows == TEXT_ROWS);
    return st;
}

int ocrq_db_page_artifact(struct ocrq_db *db, const char *job_id, int page_no, const char *format,
                          unsigned char **data, size_t *len)
{
    static const char sql[] = "SELECT content FROM ocr_page_artifacts WHERE job_id = $1::uuid"
                              " AND page_no = $2::integer AND format = $3::text";
    char no[16];
    const char *params[3] = {job_id, no, format};

    snprintf(no, sizeof(no), "%d", page_no);
    return ocrq_db_bytea_one(db, "page artifact read", sql, 3, params, data, len);
}

int ocrq_db_bytea_one(struct ocrq_db *db, const char *what, const char *sql, int nparams,
                      const char *const *params, unsigned char **data, size_t *len)
{
    PGresult *res = NULL;
    int st;

    *data = NULL;
    *len = 0;
    st = ocrq_db_params_fmt(db, what, sql, nparams, params, NULL, NULL, 1, 1, &res);
    if (st != OCRQ_OK)
        return st;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return OCRQ_ERR_NOT_FOUND;
    }
    *len = (size_t)PQgetlength(res, 0, 0);
    *data = malloc(*len ? *len : 1);
    if (*data)
        memcpy(*data, PQgetvalue(res, 0, 0), *len);
    else {
        *len = 0;
        st = OCRQ_ERR_NOMEM;
    }
    PQclear(res);
    return st;
}

int ocrq_db_split_cleanup(struct ocrq_db *db, const char *job_id)
{
    static const char sql[] = "DELETE FROM ocr_page_artifacts WHERE job_id = $1::uuid"
                              " AND EXISTS (SELECT 1 FROM ocr_jobs WHERE job_id = $1::uuid"
                              " AND status IN ('succeeded', 'failed', 'canceled'))";
    const char *params[1] = {job_id};

    return ocrq_db_params(db, "split cleanup", sql, 1, params, 0, NULL);
}

int ocrq_db_split_succeed(struct ocrq_db *db, const char *job_id, const char *worker,
                          const struct ocrq_db_result *res)
{
    int st = ocrq_db_batch_begin(db);

    if (st != OCRQ_OK)
        return st;
    st = ocrq_db_job_succeed(db, job_id, worker, res);
    for (int i = 0; st == OCRQ_OK && i < res->n_artifacts; i++)
        st = ocrq_db_artifact_put(db, job_id, &res->artifacts[i]);
    return ocrq_db_batch_end(db, st == OCRQ_OK);
}

int ocrq_db_split_lock(struct ocrq_db *db, const char *job_id, int *running)
{
    static const char sql[] = "SELECT status = 'running' FROM ocr_jobs WHERE job_id = $1::uuid"
                              " FOR UPDATE";
    const char *params[1] = {job_id};
    PGresult *res = NULL;
    int st;

    *running = 0;
    st = ocrq_db_params(db, "split lock begin", "BEGIN", 0, NULL, 0, NULL);
    if (st == OCRQ_OK)
        st = ocrq_db_params(db, "split lock", sql, 1, params, 1, &res);
    if (st == OCRQ_OK)
        *running = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (st != OCRQ_OK && ocrq_db_alive(db))
        ocrq_db_params(db, "split lock rollback", "ROLLBACK", 0, NULL, 0, NULL);
    return st;
}

int ocrq_db_split_unlock(struct ocrq_db *db, int commit)
{
    int st = ocrq_db_params(db, commit ? "split commit" : "split rollback",
                            commit ? "COMMIT" : "ROLLBACK", 0, NULL, 0, NULL);

    if (st != OCRQ_OK && commit && ocrq_db_alive(db))
        ocrq_db_params(db, "split rollback", "ROLLBACK", 0, NULL, 0, NULL);
    return st;
}
