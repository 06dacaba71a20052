/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The statements of ocrq-api: API key lookup, accepting jobs with their
 * Idempotency-Keys in one statement, and the JSON of the read endpoints,
 * built by PostgreSQL itself. The schema is migration 4 (migrations.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"
#include "ocrq/db.h"
#include "ocrq/db_api.h"
#include "ocrq/job.h"
#include "ocrq/json.h"
#include "ocrq/log.h"
#include "ocrq/status.h"
#include "ocrq/uuid.h"

/* RFC 3339 UTC with milliseconds, as the job codec writes them. */
#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/*
 * The requests come as one JSON array (jsonb_to_recordset), n = their index.
 * A key claimed here makes its job new; a job without a key is always new;
 * a key already there is a repeat, answered from the row it points to. A key
 * that is neither (claimed by a transaction not yet committed) is busy.
 */
static const char accept_sql[] =
    "WITH req AS ("
    "  SELECT * FROM jsonb_to_recordset($1::jsonb) AS u(n int, id uuid, pri smallint, lang text,"
    "  src text, bat text, hook text, meta jsonb, sub timestamptz, akey text, ikey text, fp text,"
    "  blob uuid)),"
    " claimed AS ("
    "  INSERT INTO ocr_idempotency_keys (api_key, idem_key, job_id, fingerprint)"
    "  SELECT akey, ikey, id, fp FROM req WHERE ikey IS NOT NULL"
    "  ON CONFLICT DO NOTHING RETURNING job_id),"
    " ins AS ("
    "  INSERT INTO ocr_jobs (job_id, status, priority, language, source, batch, webhook_url,"
    "  metadata, submitted_at, api_key, doc_blob_id)"
    "  SELECT id, 'queued', pri, lang, src, bat, hook, meta, coalesce(sub, now()), akey, blob"
    "  FROM req"
    "  WHERE ikey IS NULL OR id IN (SELECT job_id FROM claimed)"
    "  ON CONFLICT (job_id) DO NOTHING RETURNING job_id)"
    " SELECT r.n, k.job_id, k.fingerprint = r.fp, k.confirmed, coalesce(j.status, 'queued'),"
    "  (SELECT count(*) FROM ins), j.doc_blob_id"
    " FROM req AS r"
    " LEFT JOIN ocr_idempotency_keys AS k ON k.api_key = r.akey AND k.idem_key = r.ikey"
    " LEFT JOIN ocr_jobs AS j ON j.job_id = k.job_id"
    " WHERE r.ikey IS NOT NULL AND r.id NOT IN (SELECT job_id FROM claimed)";

/*
 * The owner alone sees a job; every statement below filters on api_key = $2.
 * The replies of the read endpoints are built here in SQL, not with
 * ocrq/json.h: the database is their natural author (a row, its artifacts
 * and its timestamps in one jsonb), and clients know jsonb's key order.
 */
static const char job_sql[] =
    "SELECT jsonb_strip_nulls(jsonb_build_object("
    " 'job_id', j.job_id, 'status', j.status, 'priority', j.priority, 'language', j.language,"
    " 'source', j.source, 'batch', j.batch, 'webhook_url', j.webhook_url, 'metadata', j.metadata,"
    " 'attempts', j.attempts,"
    " 'pages', CASE WHEN j.pages_total IS NOT NULL THEN"
    "  jsonb_build_object('done', coalesce(j.pages_done, 0), 'total', j.pages_total) END,"
    " 'submitted_at', " TS("j.submitted_at") ", 'started_at', " TS(
        "j.started_at") ","
                        " 'finished_at', " TS(
                            "j.finished_at") ","
                                             " 'error', CASE WHEN j.error_code IS NOT NULL AND "
                                             "j.status <> 'succeeded' THEN"
                                             "  jsonb_build_object('code', j.error_code, "
                                             "'message', j.error_message) END,"
                                             " 'result', CASE WHEN r.job_id IS NOT NULL THEN "
                                             "jsonb_build_object("
                                             "  'mean_confidence', r.mean_confidence, "
                                             "'duration_ms', r.duration_ms,"
                                             "  'characters', length(r.text), 'text', CASE WHEN "
                                             "$3::boolean THEN r.text END) END,"
                                             " 'artifacts', (SELECT jsonb_object_agg(a.format, "
                                             "jsonb_build_object('bytes', a.bytes,"
                                             "  'stored', a.content IS NOT NULL OR a.blob_id IS "
                                             "NOT NULL, 'error', a.error,"
                                             "  'href', '/v1/jobs/' || j.job_id || '/artifacts/' "
                                             "|| a.format))"
                                             "  FROM ocr_artifacts AS a WHERE a.job_id = j.job_id),"
                                             " 'links', jsonb_build_object('self', '/v1/jobs/' || "
                                             "j.job_id,"
                                             "  'text', '/v1/jobs/' || j.job_id || '/text')))::text"
                                             " FROM ocr_jobs AS j LEFT JOIN ocr_results AS r ON "
                                             "r.job_id = j.job_id"
                                             " WHERE j.job_id = $1::uuid AND j.api_key = $2::text";

static const char text_sql[] =
    "SELECT j.status, r.text FROM ocr_jobs AS j LEFT JOIN ocr_results AS r"
    " ON r.job_id = j.job_id WHERE j.job_id = $1::uuid AND j.api_key = $2::text";

/* Binary results: content is the raw bytes; found a one-byte boolean; the rest text. */
static const char artifact_sql[] =
    "SELECT j.status, a.job_id IS NOT NULL, a.content, a.error, a.blob_id::text,"
    " coalesce(b.bytes, -1)::text FROM ocr_jobs AS j"
    " LEFT JOIN ocr_artifacts AS a ON a.job_id = j.job_id AND a.format = $3::text"
    " LEFT JOIN ocr_blobs AS b ON b.blob_id = a.blob_id"
    " WHERE j.job_id = $1::uuid AND j.api_key = $2::text";

static const char batch_sql[] =
    "SELECT jsonb_build_object('batch', $1::text, 'total', sum(c.n),"
    " 'counts', '{\"queued\": 0, \"running\": 0, \"succeeded\": 0, \"failed\": 0,"
    " \"canceled\": 0}'::jsonb"
    "  || jsonb_object_agg(c.status, c.n))::text"
    " FROM (SELECT status, count(*) AS n FROM ocr_jobs"
    "  WHERE batch = $1::text AND api_key = $2::text GROUP BY status) AS c"
    " HAVING count(*) > 0";

/* Marks last_used_at without waiting for a WAL flush: losing it costs nothing. */
static const char key_sql[] =
    "UPDATE ocr_api_keys SET last_used_at = now()"
    " FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async"
    " WHERE key_id = $1::text RETURNING name, key_hash, revoked_at IS NOT NULL, role";

static const char confirmed_sql[] = "UPDATE ocr_idempotency_keys SET confirmed = true"
                                    " WHERE job_id = ANY ($1::uuid[]) AND NOT confirmed";

static const char rejected_sql[] =
    "WITH keys AS (DELETE FROM ocr_idempotency_keys"
    "  WHERE job_id = ANY ($1::uuid[]) AND NOT confirmed RETURNING job_id)"
    " DELETE FROM ocr_jobs WHERE job_id = ANY ($1::uuid[]) AND status = 'queued'";

/* "{id,id,...}" of valid uuids; NULL if one is not (never quoted: uuids need no quotes). */
static char *uuid_array(const char *const *ids, size_t n)
{
    char *s = malloc(n * (OCRQ_UUID_LEN + 1) + 3);
    size_t len = 0;

    if (!s)
        return NULL;
    s[len++] = '{';
    for (size_t i = 0; i < n; i++) {
        if (!ocrq_uuid_valid(ids[i])) {
            free(s);
            return NULL;
        }
        if (i > 0)
            s[len++] = ',';
        memcpy(s + len, ids[i], OCRQ_UUID_LEN);
        len += OCRQ_UUID_LEN;
    }
    s[len++] = '}';
    s[len] = '\0';
    return s;
}

static int ids_stmt(struct ocrq_db *db, const char *what, const char *sql, const char *const *ids,
                    size_t n)
{
    if (n == 0)
        return OCRQ_OK;
    char *arr = uuid_array(ids, n);
    if (!arr)
        return OCRQ_ERR_INVALID;
    const char *params[1] = {arr};
    int st = ocrq_db_params(db, what, sql, 1, params, 0, NULL);
    free(arr);
    return st;
}

int ocrq_db_api_confirmed(struct ocrq_db *db, const char *const *ids, size_t n)
{
    return ids_stmt(db, "api_confirmed", confirmed_sql, ids, n);
}

int ocrq_db_api_rejected(struct ocrq_db *db, const char *const *ids, size_t n)
{
    return ids_stmt(db, "api_rejected", rejected_sql, ids, n);
}

int ocrq_db_api_key(struct ocrq_db *db, const char *key_id, int *found, char *name, size_t nmax,
                    char hash[65], int *revoked, char role[8])
{
    const char *params[1] = {key_id};
    PGresult *res = NULL;
    int st = ocrq_db_params(db, "api_key", key_sql, 1, params, 1, &res);

    *found = 0;
    if (st != OCRQ_OK)
        return st;
    if (PQntuples(res) == 1) {
        *found = 1;
        snprintf(name, nmax, "%s", PQgetvalue(res, 0, 0));
        snprintf(hash, 65, "%s", PQgetvalue(res, 0, 1));
        *revoked = PQgetvalue(res, 0, 2)[0] == 't';
        snprintf(role, 8, "%s", PQgetvalue(res, 0, 3));
    }
    PQclear(res);
    return OCRQ_OK;
}

/* One request of accept_json(): n is its index. Returns the object or NULL (out of memory). */
static struct ocrq_json *accept_item(const struct ocrq_db_accept *a, size_t n)
{
    const struct ocrq_job *j = a->job;
    struct ocrq_json *o = ocrq_json_object(), *meta = NULL;
    const char *blob = j->doc_kind == OCRQ_DOC_STORED ? j->doc_ref : NULL;
    /* the optional members are left out when NULL, as jsonb_to_recordset reads a null */
    const char *const opt_keys[] = {"src", "bat", "hook"};
    const char *const opt_vals[] = {j->source, j->batch, j->webhook_url};
    const char *const tail_keys[] = {"akey", "ikey", "fp", "blob"};
    const char *const tail_vals[] = {a->api_key, a->idem_key, a->fingerprint, blob};
    int bad = ocrq_json_set_int(o, "n", (long long)n);

    bad |= ocrq_json_set_str(o, "id", j->job_id);
    bad |= ocrq_json_set_int(o, "pri", j->priority);
    bad |= ocrq_json_set_str(o, "lang", j->language ? j->language : "");
    for (size_t i = 0; i < 3; i++)
        if (opt_vals[i])
            bad |= ocrq_json_set_str(o, opt_keys[i], opt_vals[i]);
    if (j->metadata) {
        bad |= ocrq_json_parse(j->metadata, strlen(j->metadata), 0, &meta, NULL, 0);
        bad |= ocrq_json_set(o, "meta", meta);
    }
    bad |= ocrq_json_set_str(o, "sub", j->submitted_at);
    for (size_t i = 0; i < 4; i++)
        if (tail_vals[i])
            bad |= ocrq_json_set_str(o, tail_keys[i], tail_vals[i]);
    if (bad) {
        ocrq_json_free(o);
        return NULL;
    }
    return o;
}

/* The JSON array of the requests (see accept_sql); NULL when out of memory. */
static char *accept_json(const struct ocrq_db_accept *a, size_t n)
{
    struct ocrq_json *arr = ocrq_json_array();
    char *text = NULL;

    if (!arr)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (ocrq_json_append(arr, accept_item(&a[i], i)) != OCRQ_OK)
            goto out;
    text = ocrq_json_dump(arr, 0);
out:
    ocrq_json_free(arr);
    return text;
}

int ocrq_db_api_accept(struct ocrq_db *db, struct ocrq_db_accept *a, size_t n)
{
    PGresult *res = NULL;
    char *arr;
    int st;

    for (size_t i = 0; i < n; i++) {
        a[i].outcome = OCRQ_ACCEPT_NEW;
        a[i].doc_blob_id[0] = '\0';
        memcpy(a[i].job_id, a[i].job->job_id, sizeof a[i].job_id);
        snprintf(a[i].status, sizeof a[i].status, "queued");
    }
    if (n == 0)
        return OCRQ_OK;
    arr = accept_json(a, n);
    if (!arr)
        return OCRQ_ERR_NOMEM;
    const char *params[1] = {arr};
    st = ocrq_db_params(db, "api_accept", accept_sql, 1, params, 1, &res);
    free(arr);
    if (st != OCRQ_OK)
        return st;
    for (int r = 0; r < PQntuples(res); r++) {
        long i = strtol(PQgetvalue(res, r, 0), NULL, 10);
        struct ocrq_db_accept *x;

        if (i < 0 || (size_t)i >= n)
            continue;
        x = &a[i];
        if (PQgetisnull(res, r, 1)) {
            x->outcome = OCRQ_ACCEPT_BUSY;
            continue;
        }
        snprintf(x->job_id, sizeof x->job_id, "%s", PQgetvalue(res, r, 1));
        snprintf(x->status, sizeof x->status, "%s", PQgetvalue(res, r, 4));
        snprintf(x->doc_blob_id, sizeof x->doc_blob_id, "%s", PQgetvalue(res, r, 6));
        if (PQgetvalue(res, r, 2)[0] != 't')
            x->outcome = OCRQ_ACCEPT_MISMATCH;
        else if (PQgetvalue(res, r, 3)[0] == 't' || strcmp(x->status, "queued") != 0)
            x->outcome = OCRQ_ACCEPT_REPLAY;
        else
            x->outcome = OCRQ_ACCEPT_REPUBLISH;
    }
    PQclear(res);
    return OCRQ_OK;
}

int ocrq_db_api_job(struct ocrq_db *db, const char *id, const char *api_key, int with_text,
                    char **json)
{
    const char *params[3] = {id, api_key, with_text ? "true" : "false"};

    *json = NULL;
    if (!ocrq_uuid_valid(id))
        return OCRQ_ERR_NOT_FOUND;
    return ocrq_db_text_one(db, "api_job", job_sql, 3, params, json);
}

/*
 * One job of the key: sql with $1 the job id and $2 the key (more parameters
 * after them), its row in *res (for the caller to PQclear) and its status,
 * the first column, in status. OCRQ_ERR_NOT_FOUND if the key has no such job.
 */
static int job_row(struct ocrq_db *db, const char *what, const char *sql, int nparams,
                   const char *const *params, int binary, char status[16], PGresult **res)
{
    int st;

    *res = NULL;
    status[0] = '\0';
    if (!ocrq_uuid_valid(params[0]))
        return OCRQ_ERR_NOT_FOUND;
    st = ocrq_db_params_fmt(db, what, sql, nparams, params, NULL, NULL, binary, 1, res);
    if (st != OCRQ_OK)
        return st;
    if (PQntuples(*res) < 1) {
        PQclear(*res);
        *res = NULL;
        return OCRQ_ERR_NOT_FOUND;
    }
    snprintf(status, 16, "%.*s", PQgetlength(*res, 0, 0), PQgetvalue(*res, 0, 0));
    return OCRQ_OK;
}

int ocrq_db_api_text(struct ocrq_db *db, const char *id, const char *api_key, char status[16],
                     char **text, size_t *len)
{
    const char *params[2] = {id, api_key};
    PGresult *res = NULL;
    int st;

    *text = NULL;
    *len = 0;
    st = job_row(db, "api_text", text_sql, 2, params, 0, status, &res);
    if (st != OCRQ_OK)
        return st;
    if (!PQgetisnull(res, 0, 1)) {
        *len = (size_t)PQgetlength(res, 0, 1);
        if (!(*text = malloc(*len + 1)))
            st = OCRQ_ERR_NOMEM;
        else
            memcpy(*text, PQgetvalue(res, 0, 1), *len + 1);
    }
    PQclear(res);
    return st;
}

int ocrq_db_api_artifact(struct ocrq_db *db, const char *id, const char *api_key,
                         const char *format, struct ocrq_db_api_artifact *out)
{
    const char *params[3] = {id, api_key, format};
    PGresult *res = NULL;
    int st;

    memset(out, 0, sizeof *out);
    st = job_row(db, "api_artifact", artifact_sql, 3, params, 1, out->status, &res);
    if (st != OCRQ_OK)
        return st;
    out->found = PQgetvalue(res, 0, 1)[0] != 0;
    if (!PQgetisnull(res, 0, 2)) {
        out->len = (size_t)PQgetlength(res, 0, 2);
        if (!(out->data = malloc(out->len ? out->len : 1))) {
            st = OCRQ_ERR_NOMEM;
            goto out;
        }
        memcpy(out->data, PQgetvalue(res, 0, 2), out->len);
    }
    if (!PQgetisnull(res, 0, 3) && !(out->error = strdup(PQgetvalue(res, 0, 3))))
        st = OCRQ_ERR_NOMEM;
    if (!PQgetisnull(res, 0, 4)) {
        snprintf(out->blob_id, sizeof out->blob_id, "%.*s", PQgetlength(res, 0, 4),
                 PQgetvalue(res, 0, 4));
        out->blob_size = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
    }
out:
    PQclear(res);
    if (st != OCRQ_OK)
        ocrq_db_api_artifact_cleanup(out);
    return st;
}

void ocrq_db_api_artifact_cleanup(struct ocrq_db_api_artifact *a)
{
    free(a->data);
    free(a->error);
    memset(a, 0, sizeof *a);
}

int ocrq_db_api_batch(struct ocrq_db *db, const char *batch, const char *api_key, char **json)
{
    const char *params[2] = {batch, api_key};
    return ocrq_db_text_one(db, "api_batch", batch_sql, 2, params, json);
}

/*
 * Cancel a queued job of the key (or a split document whose pages run); the
 * status after, and whether this call canceled it.
 */
static const char cancel_sql[] =
    "WITH c AS (UPDATE ocr_jobs SET status = 'canceled', finished_at = now(), updated_at = now()"
    "  WHERE job_id = $1::uuid AND api_key = $2::text AND (status = 'queued'"
    "  OR (status = 'running' AND page_window IS NOT NULL)) RETURNING job_id)"
    " SELECT CASE WHEN c.job_id IS NULL THEN j.status ELSE 'canceled' END, c.job_id IS NOT NULL"
    " FROM ocr_jobs AS j LEFT JOIN c ON c.job_id = j.job_id"
    " WHERE j.job_id = $1::uuid AND j.api_key = $2::text";

int ocrq_db_api_cancel(struct ocrq_db *db, const char *id, const char *api_key, char status[16],
                       int *canceled_now)
{
    const char *params[2] = {id, api_key};
    PGresult *res = NULL;
    int st;

    *canceled_now = 0;
    st = job_row(db, "api_cancel", cancel_sql, 2, params, 0, status, &res);
    if (st != OCRQ_OK)
        return st;
    *canceled_now = PQgetvalue(res, 0, 1)[0] == 't';
    PQclear(res);
    return OCRQ_OK;
}

int ocrq_db_ping(struct ocrq_db *db)
{
    return ocrq_db_params(db, "ping", "SELECT 1", 0, NULL, 1, NULL);
}
