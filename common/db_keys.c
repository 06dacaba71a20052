/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * API keys (ocrq-admin apikey): create, list and revoke. A key's secret
 * rotation is in db_key_secrets.c, its lookup by ocrq-api in db_api.c.
 */
#include "ocrq/db_keys.h"

#include <libpq-fe.h>
#include <stddef.h>

#include "db_internal.h"
#include "ocrq/status.h"

/* API keys: a name is taken once (a revoked name stays taken) */
static const struct ocrq_db_stmt st_key_create = {
    ST_KEY_CREATE, "ocrq_key_create", 5,
    "INSERT INTO ocr_api_keys (name, key_id, key_hash, webhook_secret, role)"
    " VALUES ($1::text, $2::text, $3::text, $4::text, $5::text)"
    " ON CONFLICT (name) DO NOTHING RETURNING name"};

static const struct ocrq_db_stmt st_key_list = {
    ST_KEY_LIST, "ocrq_key_list", 0,
    "SELECT name, key_id,"
    " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
    " to_char(revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
    " to_char(last_used_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), role"
    " FROM ocr_api_keys ORDER BY name"};

static const struct ocrq_db_stmt st_key_revoke = {
    ST_KEY_REVOKE, "ocrq_key_revoke", 1,
    "UPDATE ocr_api_keys SET revoked_at = now()"
    " WHERE name = $1::text AND revoked_at IS NULL RETURNING name"};

int ocrq_db_key_create(struct ocrq_db *db, const char *name, const char *key_id,
                       const char *key_hash, const char *webhook_secret, const char *role,
                       int *created)
{
    const char *params[5] = {name, key_id, key_hash, webhook_secret, role};
    PGresult *res = NULL;
    int st = ocrq_db_stmt_run(db, &st_key_create, params, PGRES_TUPLES_OK, NULL, &res);

    *created = st == OCRQ_OK && PQntuples(res) == 1;
    PQclear(res);
    return st;
}

int ocrq_db_keys_list(struct ocrq_db *db, ocrq_db_key_fn fn, void *arg)
{
    PGresult *res = NULL;
    int st = ocrq_db_stmt_run(db, &st_key_list, NULL, PGRES_TUPLES_OK, NULL, &res);

    for (int i = 0; st == OCRQ_OK && i < PQntuples(res); i++) {
        struct ocrq_db_key k = {
            .name = PQgetvalue(res, i, 0),
            .key_id = PQgetvalue(res, i, 1),
            .created_at = PQgetvalue(res, i, 2),
            .revoked_at = PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3),
            .last_used_at = PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4),
            .role = PQgetvalue(res, i, 5),
        };
        fn(arg, &k);
    }
    PQclear(res);
    return st;
}

int ocrq_db_key_revoke(struct ocrq_db *db, const char *name, int *revoked)
{
    const char *params[1] = {name};
    PGresult *res = NULL;
    int st = ocrq_db_stmt_run(db, &st_key_revoke, params, PGRES_TUPLES_OK, NULL, &res);

    *revoked = st == OCRQ_OK && PQntuples(res) == 1;
    PQclear(res);
    return st;
}
