/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * API keys and rate limits of ocrq-api. A key "ocrq_<id>_<secret>" is found
 * by its public id; its SHA-256 is compared with the stored one in constant
 * time. Keys are cached for KEY_TTL_MS, so a revoked key stops working
 * within that time on every server; so are the ids the database does not
 * know, so that made-up keys do not cost a query each time. Whether an id
 * exists is not told: an unknown key and a wrong or revoked one get the same
 * answer. Each key has a token bucket, refilled
 * at api.rate_limit_per_s up to api.rate_limit_burst, shared by the pool
 * threads of this process.
 */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "ocrq/clock.h"
#include "ocrq/config.h"
#include "ocrq/db_api.h"
#include "ocrq/log.h"
#include "ocrq/sign.h"
#include "ocrq/status.h"

#define KEY_TTL_MS 1000

/* The key of "Bearer <key>" (ocrq/sign.h), its id into key_id; NULL if it is not one. */
static const char *bearer_key(const char *authorization, char *key_id)
{
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return NULL;
    const char *k = authorization + 7;
    while (*k == ' ')
        k++;
    size_t n = strlen(k);
    while (n > 0 && k[n - 1] == ' ')
        n--;
    return ocrq_apikey_parse(k, n, key_id) ? k : NULL;
}

/* The cache slot of key_id (under keys_mu); NULL if absent. */
static struct api_key_entry *find(struct api *api, const char *key_id)
{
    for (int i = 0; i < api->n_keys; i++)
        if (strcmp(api->keys[i].key_id, key_id) == 0)
            return &api->keys[i];
    return NULL;
}

/* Store what the database said about key_id (under keys_mu); the bucket is kept. */
static struct api_key_entry *store(struct api *api, const char *key_id, const char *name,
                                   const char *hash, const char *role, int revoked, int64_t now)
{
    struct api_key_entry *e = find(api, key_id);

    if (!e) {
        if (api->n_keys < API_KEY_CACHE) {
            e = &api->keys[api->n_keys++];
        } else { /* replace the stalest */
            e = &api->keys[0];
            for (int i = 1; i < api->n_keys; i++)
                if (api->keys[i].fetched_ms < e->fetched_ms)
                    e = &api->keys[i];
        }
        memset(e, 0, sizeof *e);
        snprintf(e->key_id, sizeof e->key_id, "%s", key_id);
        e->tokens = api->cfg->api_rate_burst;
        e->refill_ms = now;
    }
    snprintf(e->name, sizeof e->name, "%s", name);
    snprintf(e->hash, sizeof e->hash, "%s", hash);
    snprintf(e->role, sizeof e->role, "%s", role);
    e->revoked = revoked;
    e->fetched_ms = now;
    return e;
}

/* Nonzero if key_id was unknown to the database less than KEY_TTL_MS ago (under keys_mu). */
static int known_unknown(const struct api *api, const char *key_id, int64_t now)
{
    for (int i = 0; i < API_UNKNOWN_CACHE; i++)
        if (api->unknown[i].fetched_ms != 0 && now - api->unknown[i].fetched_ms < KEY_TTL_MS &&
            strcmp(api->unknown[i].key_id, key_id) == 0)
            return 1;
    return 0;
}

static void remember_unknown(struct api *api, const char *key_id, int64_t now)
{
    pthread_mutex_lock(&api->keys_mu);
    struct api_unknown_key *u = &api->unknown[api->next_unknown];
    api->next_unknown = (api->next_unknown + 1) % API_UNKNOWN_CACHE;
    snprintf(u->key_id, sizeof u->key_id, "%s", key_id);
    u->fetched_ms = now;
    pthread_mutex_unlock(&api->keys_mu);
}

/* Take a token from e's bucket (under keys_mu): 0, or the seconds until one is there. */
static int take_token(const struct api *api, struct api_key_entry *e, int64_t now)
{
    double rate = api->cfg->api_rate_per_s;
    double burst = api->cfg->api_rate_burst;

    if (rate <= 0)
        return 0;
    e->tokens += (double)(now - e->refill_ms) * rate / 1000.0;
    if (e->tokens > burst)
        e->tokens = burst;
    e->refill_ms = now;
    if (e->tokens >= 1.0) {
        e->tokens -= 1.0;
        return 0;
    }
    int wait = (int)((1.0 - e->tokens) / rate + 0.999);
    return wait < 1 ? 1 : wait;
}

int api_authenticate(struct api *api, struct ocrq_http_req *req, const char *authorization,
                     char *name, size_t namelen, char role[8])
{
    char key_id[OCRQ_KEY_ID_CHARS + 1], hash[65], db_name[API_KEY_NAME_MAX], db_hash[65] = "";
    char db_role[8] = "submit";
    const char *key = bearer_key(authorization, key_id);
    int64_t now = ocrq_now_us() / 1000;
    int found = 0, revoked = 0, ok, wait;
    struct api_key_entry *e;

    if (!key) {
        api_error(req, 401, "unauthorized",
                  authorization ? "malformed API key: want \"Authorization: Bearer ocrq_...\""
                                : "an API key is required: \"Authorization: Bearer ocrq_...\"");
        return -1;
    }
    if (ocrq_sha256_hex(key, OCRQ_KEY_CHARS, hash) != OCRQ_OK) {
        api_error(req, 500, "internal", "cannot hash the key");
        return -1;
    }

    pthread_mutex_lock(&api->keys_mu);
    e = find(api, key_id);
    if (!e && known_unknown(api, key_id, now)) {
        pthread_mutex_unlock(&api->keys_mu);
        api_error(req, 401, "unauthorized", "invalid or revoked API key");
        return -1;
    }
    if (!e || now - e->fetched_ms >= KEY_TTL_MS) {
        /* read it without holding the lock: the query takes a round trip */
        pthread_mutex_unlock(&api->keys_mu);
        struct ocrq_db *db = api_db(api);
        int st = db ? ocrq_db_api_key(db, key_id, &found, db_name, sizeof db_name, db_hash,
                                      &revoked, db_role)
                    : OCRQ_ERR_DB;
        if (st != OCRQ_OK && (db = api_db_again(api, db)) != NULL)
            st = ocrq_db_api_key(db, key_id, &found, db_name, sizeof db_name, db_hash, &revoked,
                                 db_role);
        if (st != OCRQ_OK) {
            api_error_retry(req, 503, api->cfg->api_retry_after_s, "database_unavailable",
                            "cannot check the API key: the database is unavailable");
            return -1;
        }
        if (!found) { /* the same answer as a wrong key: whether the id exists is not told */
            remember_unknown(api, key_id, now);
            api_error(req, 401, "unauthorized", "invalid or revoked API key");
            return -1;
        }
        pthread_mutex_lock(&api->keys_mu);
        e = store(api, key_id, db_name, db_hash, db_role, revoked, now);
    }
    ok = !e->revoked && strlen(e->hash) == 64 && ocrq_equal_ct(e->hash, hash, 64);
    wait = ok ? take_token(api, e, now) : 0;
    if (ok) {
        snprintf(name, namelen, "%s", e->name);
        snprintf(role, 8, "%s", e->role);
    }
    pthread_mutex_unlock(&api->keys_mu);

    if (!ok) {
        api_error(req, 401, "unauthorized", "invalid or revoked API key");
        return -1;
    }
    if (wait > 0) {
        api_error_retry(req, 429, wait, "rate_limited",
                        "rate limit of %d requests/s (burst %d) exceeded for this key",
                        api->cfg->api_rate_per_s, api->cfg->api_rate_burst);
        return -1;
    }
    return 0;
}
