/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The PostgreSQL store over libpq: the connection and schema migrations.
 * One connection per struct; a connection belongs to one thread at a time.
 * Every function of the store returns OCRQ_OK, or OCRQ_ERR_DB when the
 * database is unreachable or a query fails (logged once); out-parameters
 * are cleared on entry. The statements are declared by topic beside this
 * header: ocrq/db_jobs.h (job outcomes), db_poll.h (counts and polling),
 * db_hooks.h (the webhook outbox and LISTEN), db_failed.h (dead letters and
 * cancel), db_keys.h (API keys), db_api.h (ocrq-api), db_purge.h
 * (retention), db_tasks.h (page tasks), db_fleet.h (the fleet registry).
 */
#ifndef OCRQ_DB_H
#define OCRQ_DB_H

struct ocrq_config;
struct ocrq_db;

/* Connect to cfg->database_url. Returns OCRQ_OK or OCRQ_ERR_DB; *out is NULL on error. */
int ocrq_db_connect(const struct ocrq_config *cfg, struct ocrq_db **out);

/* Close and free; NULL is fine. */
void ocrq_db_free(struct ocrq_db *db);

/* Nonzero if the connection is up (PQstatus, no round trip). */
int ocrq_db_alive(struct ocrq_db *db);

/* Re-establish a broken connection (PQreset) and check it with a round trip. */
int ocrq_db_reconnect(struct ocrq_db *db);

/*
 * Nonzero if the connection goes through a transaction pool (database.pool_mode
 * "transaction", or "auto" and a pooler was seen): LISTEN cannot work there.
 */
int ocrq_db_pooled(const struct ocrq_db *db);

/*
 * The longest wait for one call on db, in ms (0: none); it starts as
 * database.statement_timeout_ms. A call that outlives it drops the
 * connection and fails with OCRQ_ERR_DB. (common/db_session.c)
 */
void ocrq_db_set_timeout(struct ocrq_db *db, int timeout_ms);
int ocrq_db_timeout(const struct ocrq_db *db);

/*
 * Apply the pending schema migrations, each in its own transaction, under an
 * advisory lock so concurrent callers are safe. Idempotent. *applied gets the
 * number applied now, *version the schema version after (either may be NULL).
 */
int ocrq_db_migrate(struct ocrq_db *db, int *applied, int *version);

/* Current schema version (0 if no migration applied). */
int ocrq_db_schema_version(struct ocrq_db *db, int *version);

/* A trivial query: is the database there? */
int ocrq_db_ping(struct ocrq_db *db);

#endif
