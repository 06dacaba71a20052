/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A job's outputs beside its text (ocr_artifacts, migration 7): written in
 * the transaction that marks the job succeeded (db_pages.c), read back by
 * ocrq-submit --output. Contents go to and from the server as binary bytea.
 */
#include "ocrq/db_jobs.h"

#include <stdio.h>
#include <string.h>

#include "db_internal.h"
#include "ocrq/status.h"
#include "ocrq/uuid.h"

static const char artifact_upsert[] =
    "INSERT INTO ocr_artifacts (job_id, format, content, bytes, error, blob_id)"
    " SELECT $1::uuid, $2::text, $3::bytea, $4::bigint, $5::text, $6::uuid"
    /* as for the pages: a job canceled while it was recognized keeps nothing */
    " WHERE EXISTS (SELECT 1 FROM ocr_jobs WHERE job_id = $1::uuid AND status = 'succeeded')"
    " ON CONFLICT (job_id, format) DO UPDATE SET content = EXCLUDED.content,"
    " bytes = EXCLUDED.bytes, error = EXCLUDED.error, blob_id = EXCLUDED.blob_id,"
    " created_at = now()";

static const char artifacts_select[] =
    "SELECT format, content, bytes, error, blob_id::text FROM ocr_artifacts"
    " WHERE job_id = $1::uuid"
    " ORDER BY format";

int ocrq_db_artifact_put(struct ocrq_db *db, const char *job_id, const struct ocrq_db_artifact *a)
{
    char bytes[32];
    const char *params[6] = {job_id, a->format, (const char *)a->data, bytes, a->error, a->blob_id};
    int lengths[6] = {0, 0, (int)a->len, 0, 0, 0};
    int formats[6] = {0, 0, 1, 0, 0, 0};

    /* exactly one of: the bytes, the blob holding them, why there are none */
    if ((a->data != NULL) + (a->error != NULL) + (a->blob_id != NULL) != 1 ||
        (a->data && a->len > (size_t)0x7fffffff))
        return OCRQ_ERR_INVALID;
    if (a->data == NULL)
        lengths[2] = 0;
    snprintf(bytes, sizeof bytes, "%zu", a->len);
    return ocrq_db_params_fmt(db, "ocrq_artifact_upsert", artifact_upsert, 6, params, lengths,
                              formats, 0, 0, NULL);
}

/* A bigint in binary (network order) from a binary result. */
static long long be64(const char *p)
{
    unsigned long long v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | (unsigned char)p[i];
    return (long long)v;
}

int ocrq_db_artifacts_get(struct ocrq_db *db, const char *job_id, ocrq_db_artifact_fn fn, void *arg)
{
    const char *params[1] = {job_id};
    PGresult *res = NULL;
    int st;

    if (!db || !fn || !ocrq_uuid_valid(job_id))
        return OCRQ_ERR_INVALID;
    st = ocrq_db_params_fmt(db, "ocrq_artifacts_select", artifacts_select, 1, params, NULL, NULL, 1,
                            1, &res);
    if (st != OCRQ_OK)
        return st;
    for (int i = 0; i < PQntuples(res); i++) {
        /* binary results: text as its bytes, NUL-terminated by libpq */
        struct ocrq_db_artifact a = {
            .format = PQgetvalue(res, i, 0),
            .data = PQgetisnull(res, i, 1) ? NULL : (const unsigned char *)PQgetvalue(res, i, 1),
            .len = PQgetisnull(res, i, 1) ? (size_t)be64(PQgetvalue(res, i, 2))
                                          : (size_t)PQgetlength(res, i, 1),
            .error = PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3),
            .blob_id = PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4),
        };
        fn(arg, &a);
    }
    PQclear(res);
    return OCRQ_OK;
}
