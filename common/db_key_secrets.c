/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The webhook signing secret of an ocrq-api key: rotated with an overlap,
 * during which the dispatcher signs with both (Standard Webhooks allows
 * several signatures). The secret is made with the key (db_keys.c, key create).
 */
#include <libpq-fe.h>
#include <stdio.h>

#include "db_internal.h"
#include "ocrq/db_keys.h"
#include "ocrq/status.h"

static const char rotate_sql[] =
    "UPDATE ocr_api_keys SET webhook_secret_prev = webhook_secret,"
    " webhook_secret_prev_until = CASE WHEN webhook_secret IS NULL THEN NULL"
    "  ELSE now() + make_interval(secs => $3::bigint) END,"
    " webhook_secret = $2::text"
    " WHERE name = $1::text AND revoked_at IS NULL RETURNING name";

int ocrq_db_key_rotate_secret(struct ocrq_db *db, const char *name, const char *secret,
                              long long overlap_s, int *found)
{
    char overlap[24];
    const char *params[3] = {name, secret, overlap};
    PGresult *res = NULL;

    *found = 0;
    snprintf(overlap, sizeof overlap, "%lld", overlap_s > 0 ? overlap_s : 0);
    int st = ocrq_db_params(db, "key secret rotation", rotate_sql, 3, params, 1, &res);
    if (st == OCRQ_OK)
        *found = PQntuples(res) == 1;
    PQclear(res);
    return st;
}
