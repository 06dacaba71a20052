/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * ocrq-admin apikey create|list|revoke|rotate-secret: the keys of ocrq-api.
 * A key is "ocrq_<key id>_<secret>"; only its SHA-256 is stored, with the key
 * id to find the row. Each key has its own webhook signing secret (whsec_),
 * stored as it is (the dispatcher signs with it). create prints both once:
 * the signing secret on the line before the last, the key alone on the last.
 */
#include "admin.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "ocrq/config.h"
#include "ocrq/db.h"
#include "ocrq/db_keys.h"
#include "ocrq/json.h"
#include "ocrq/sign.h"
#include "ocrq/status.h"

#define NAME_MAX_CHARS 64
#define KEY_ROLES_SCHEMA 13 /* migration 13: a role per key (and 10: a webhook secret each) */

int admin_apikey_name_ok(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > NAME_MAX_CHARS || !isalnum((unsigned char)name[0]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
            return 0;
    return 1;
}

int admin_apikey_create(const struct ocrq_config *cfg, const char *name, const char *role)
{
    char key[OCRQ_KEY_CHARS + 1], key_id[OCRQ_KEY_ID_CHARS + 1], hash[65];
    char secret[OCRQ_NEW_SECRET_SIZE];
    struct ocrq_db *db = NULL;
    int created = 0, st;

    if (ocrq_apikey_new(key, key_id, hash) != OCRQ_OK || ocrq_sign_new_secret(secret) != OCRQ_OK) {
        fprintf(stderr, "ocrq-admin: apikey create: no randomness or hash available\n");
        return OCRQ_ERR_IO;
    }
    st = admin_db_open(cfg, KEY_ROLES_SCHEMA, "API key roles", &db);
    if (st == OCRQ_OK)
        st = ocrq_db_key_create(db, name, key_id, hash, secret, role, &created);
    ocrq_db_free(db);
    if (st != OCRQ_OK)
        return OCRQ_ERR_DB;
    if (!created) {
        fprintf(stderr,
                "ocrq-admin: apikey create: a key called '%s' exists already (revoked "
                "names stay taken)\n",
                name);
        return OCRQ_ERR_INVALID;
    }
    printf("API key '%s' (role %s) created (id %s). Both are shown this once; keep them"
           " secret.\n",
           name, role, key_id);
    printf("webhook signing secret (verifies the webhooks of this key's jobs): %s\n", secret);
    printf("%s\n", key);
    return OCRQ_OK;
}

int admin_apikey_rotate_secret(const struct ocrq_config *cfg, const char *name, long long overlap_s)
{
    char secret[OCRQ_NEW_SECRET_SIZE];
    struct ocrq_db *db = NULL;
    int found = 0, st;

    if (ocrq_sign_new_secret(secret) != OCRQ_OK) {
        fprintf(stderr, "ocrq-admin: apikey rotate-secret: no randomness available\n");
        return OCRQ_ERR_IO;
    }
    st = admin_db_open(cfg, 10, "webhook secrets per API key", &db);
    if (st == OCRQ_OK)
        st = ocrq_db_key_rotate_secret(db, name, secret, overlap_s, &found);
    ocrq_db_free(db);
    if (st != OCRQ_OK)
        return OCRQ_ERR_DB;
    if (!found) {
        fprintf(stderr, "ocrq-admin: apikey rotate-secret: no active key called '%s'\n", name);
        return OCRQ_ERR_NOT_FOUND;
    }
    printf("webhook signing secret of '%s' replaced; the old one signs too for %lld s more."
           " The new one is shown this once:\n",
           name, overlap_s);
    printf("%s\n", secret);
    return OCRQ_OK;
}

static void print_key(void *arg, const struct ocrq_db_key *k)
{
    int *json = arg;

    if (*json) {
        struct ocrq_json *o = ocrq_json_object();
        int bad = ocrq_json_set_str(o, "name", k->name);
        bad |= ocrq_json_set_str(o, "key_id", k->key_id);
        bad |= ocrq_json_set_str(o, "role", k->role);
        bad |= ocrq_json_set_str(o, "created_at", k->created_at);
        bad |= ocrq_json_set_str(o, "revoked_at", k->revoked_at);
        bad |= ocrq_json_set_str(o, "last_used_at", k->last_used_at);
        admin_json_print(o, bad);
        return;
    }
    printf("%-24s %-12s %-7s %-20s %s\n", k->name, k->key_id, k->role, k->created_at,
           k->revoked_at ? "revoked" : "active");
}

int admin_apikey_list(const struct ocrq_config *cfg, int json)
{
    struct ocrq_db *db = NULL;
    int st = admin_db_open(cfg, KEY_ROLES_SCHEMA, "API key roles", &db);

    if (st == OCRQ_OK && !json)
        printf("%-24s %-12s %-7s %-20s %s\n", "NAME", "ID", "ROLE", "CREATED", "STATE");
    if (st == OCRQ_OK)
        st = ocrq_db_keys_list(db, print_key, &json);
    ocrq_db_free(db);
    return st == OCRQ_OK ? OCRQ_OK : OCRQ_ERR_DB;
}

int admin_apikey_revoke(const struct ocrq_config *cfg, const char *name)
{
    struct ocrq_db *db = NULL;
    int revoked = 0, st = admin_db_open(cfg, 3, "API keys table", &db);

    if (st == OCRQ_OK)
        st = ocrq_db_key_revoke(db, name, &revoked);
    ocrq_db_free(db);
    if (st != OCRQ_OK)
        return OCRQ_ERR_DB;
    if (!revoked) {
        fprintf(stderr, "ocrq-admin: apikey revoke: no active key called '%s'\n", name);
        return OCRQ_ERR_NOT_FOUND;
    }
    printf("API key '%s' revoked\n", name);
    return OCRQ_OK;
}
