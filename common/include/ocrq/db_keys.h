/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * API keys in the PostgreSQL store (ocrq/db.h; ocrq-admin apikey,
 * ocrq-api). Same rules as db.h.
 */
#ifndef OCRQ_DB_KEYS_H
#define OCRQ_DB_KEYS_H

struct ocrq_db;

/*
 * Store a new key's name, public id, hash and webhook signing secret (whsec_;
 * NULL: the global ones) and role ("submit" or "admin", migration 13);
 * *created = 0 if the name is taken.
 */
int ocrq_db_key_create(struct ocrq_db *db, const char *name, const char *key_id,
                       const char *key_hash, const char *webhook_secret, const char *role,
                       int *created);

/*
 * Give key name a new webhook signing secret; the one it had keeps signing
 * beside it for overlap_s seconds (0: not at all). *found = 0 if no active key
 * has that name. (common/db_key_secrets.c)
 */
int ocrq_db_key_rotate_secret(struct ocrq_db *db, const char *name, const char *secret,
                              long long overlap_s, int *found);

/* One key for ocrq-admin apikey list; strings borrowed for the call, NULL if unset. */
struct ocrq_db_key {
    const char *name, *key_id, *created_at, *revoked_at, *last_used_at;
    const char *role; /* "submit" or "admin" */
};
typedef void (*ocrq_db_key_fn)(void *arg, const struct ocrq_db_key *k);

/* Every key, by name. */
int ocrq_db_keys_list(struct ocrq_db *db, ocrq_db_key_fn fn, void *arg);

/* Revoke the key called name; *revoked = 0 if there is none not revoked already. */
int ocrq_db_key_revoke(struct ocrq_db *db, const char *name, int *revoked);

#endif
