/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The ocrq-admin commands: set up the broker topology and the database
 * schema, apply migrations, and show queue depths and job counts.
 */
#ifndef OCRQ_PRODUCER_ADMIN_H
#define OCRQ_PRODUCER_ADMIN_H

#include <stddef.h>

struct ocrq_config;
struct ocrq_db;

/* "ocrq-admin: <what>: <the status in words>" on stderr. */
void admin_report(const char *what, int st);

/*
 * Connect to the database (a failure is reported) and, when min_version > 0,
 * check that the schema has reached it (else "the database has no <missing>
 * yet: run ocrq-admin setup"). Returns OCRQ_OK or OCRQ_ERR_DB; *db is to be
 * freed either way (ocrq_db_free takes NULL).
 */
int admin_db_open(const struct ocrq_config *cfg, int min_version, const char *missing,
                  struct ocrq_db **db);

struct ocrq_mq;

/* Declare the broker topology; a refusal is reported. OCRQ_OK or OCRQ_ERR_MQ. */
int admin_declare_topology(struct ocrq_mq *mq);

/*
 * Declare the whole topology and apply pending migrations; idempotent.
 * Reports on stdout, errors on stderr. Returns OCRQ_OK, OCRQ_ERR_MQ or OCRQ_ERR_DB.
 */
int admin_setup(const struct ocrq_config *cfg);

/*
 * Declare every queue again with the configured amqp.queue_type, keeping its
 * messages (producer/admin_queues.c). Refuses while a queue has consumers.
 */
int admin_queues_convert(const struct ocrq_config *cfg);

/* Apply pending migrations only. Returns OCRQ_OK or OCRQ_ERR_DB. */
int admin_migrate(const struct ocrq_config *cfg);

/*
 * Print ready messages and consumers of every ocrq queue (a missing queue is
 * shown as not declared), job counts by status, for one batch when batch
 * is non-NULL, and what the document store holds (of every batch); as one
 * JSON object with json. Returns OCRQ_OK, OCRQ_ERR_MQ,
 * OCRQ_ERR_DB or OCRQ_ERR_NOMEM.
 */
int admin_status(const struct ocrq_config *cfg, int json, const char *batch);

/*
 * Print the newest limit webhook deliveries (only failed ones with
 * failed_only), a table or one JSON object per line. Returns OCRQ_OK or
 * OCRQ_ERR_DB.
 */
int admin_webhooks_list(const struct ocrq_config *cfg, int failed_only, int json, int limit);

/*
 * Make delivery id (0: every failed one) due again now with the whole retry
 * schedule. Returns OCRQ_OK, OCRQ_ERR_NOT_FOUND (id unknown or delivered) or
 * OCRQ_ERR_DB.
 */
int admin_webhooks_retry(const struct ocrq_config *cfg, long long id);

/* 1 if name is a valid API key name: [A-Za-z0-9][A-Za-z0-9._-]*, at most 64 characters. */
int admin_apikey_name_ok(const char *name);

/* Create a key called name and print it once, alone on the last line of stdout. */
int admin_apikey_create(const struct ocrq_config *cfg, const char *name, const char *role);

/* Print every key (never the key itself): a table, or one JSON object per line. */
int admin_apikey_list(const struct ocrq_config *cfg, int json);

/* Revoke the key called name: OCRQ_OK, OCRQ_ERR_NOT_FOUND or OCRQ_ERR_DB. */
int admin_apikey_revoke(const struct ocrq_config *cfg, const char *name);

/* A new webhook signing secret for key name; the old one signs too for overlap_s seconds. */
int admin_apikey_rotate_secret(const struct ocrq_config *cfg, const char *name,
                               long long overlap_s);

/* What ocrq-admin failed is asked to do. */
struct admin_failed_opts {
    const char *sub;        /* list, show, requeue or purge */
    const char *job_id;     /* show, requeue: this job's messages only; NULL: all (--all) */
    const char *reason;     /* list, requeue --all: only this reason (error code); NULL: any */
    const char *batch;      /* list: only this batch; NULL: any */
    int json;               /* list, show: one JSON object per line */
    long long older_than_s; /* purge: only those that died before now - this; -1: all */
};

/*
 * Look into ocr.failed (docs/operations.md): list the messages with their
 * job records, show one job's messages in full, requeue jobs (row reset,
 * confirmed publish to the job queue, then the old copy acked), or purge.
 * Messages that are not settled go back into the queue in their place.
 * Returns OCRQ_OK, OCRQ_ERR_NOT_FOUND (show or requeue: nothing matched or
 * nothing requeued), OCRQ_ERR_MQ or OCRQ_ERR_DB.
 */
int admin_failed(const struct ocrq_config *cfg, const struct admin_failed_opts *o);

/*
 * Cancel job job_id or the jobs of batch (one of them NULL): the queued ones
 * become canceled; running and finished ones are reported and left alone.
 * Returns OCRQ_OK (at least one canceled), OCRQ_ERR_NOT_FOUND (none) or OCRQ_ERR_DB.
 */
int admin_cancel(const struct ocrq_config *cfg, const char *job_id, const char *batch);

/*
 * Delete the stored documents whose job ended at least documents.retention_s
 * ago, and those of submissions that died more than a day ago
 * (ocrq_blob_sweep()); print how many. Returns OCRQ_OK or OCRQ_ERR_DB.
 */
int admin_store_sweep(const struct ocrq_config *cfg);

/* What ocrq-admin purge is asked to do. */
struct admin_purge_opts {
    long long finished_before_s; /* jobs that finished at least this long ago */
    unsigned statuses;           /* OCRQ_PURGE_* bits (ocrq/db_purge.h); 0: every finished status */
    const char *batch;           /* only the jobs of this batch; NULL: any */
    int batch_size;              /* jobs per transaction; 0: OCRQ_DB_PURGE_BATCH */
    int dry_run;                 /* count only */
    int json;                    /* the report as one JSON object */
};

/*
 * Delete the finished jobs that match o, with everything that hangs off
 * them, in short transactions (producer/admin_purge.c, ocrq_db_purge());
 * print what went (would go, with dry_run) and how long it took, progress
 * on stderr for long runs. Returns OCRQ_OK (also when nothing matched) or
 * OCRQ_ERR_DB.
 */
int admin_purge(const struct ocrq_config *cfg, const struct admin_purge_opts *o);

/*
 * Print the fleet from the fleet registry (producer/admin_workers.c): each
 * worker and its OCR processes, a block each or one JSON object per worker
 * with json; without all, the stopped workers and those silent for over a
 * day are left out. Returns OCRQ_OK, OCRQ_ERR_NOMEM or OCRQ_ERR_DB.
 */
int admin_workers(const struct ocrq_config *cfg, int json, int all);

struct ocrq_json;

/*
 * Print the object o (taken and freed) as one compact JSON line on stdout,
 * reals rounded for people (ocrq/json.h). bad: an add to o failed. Returns
 * OCRQ_OK, or OCRQ_ERR_NOMEM with nothing printed and a message on stderr.
 */
int admin_json_print(struct ocrq_json *o, int bad);

#endif
