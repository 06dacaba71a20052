/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The ocrq-admin commands. setup declares the topology through
 * mq_topology.c (the one definition every component shares) and migrates
 * the database; status asks the broker about each queue with a passive
 * declare and the database for job counts and the document store's totals.
 */
#include "admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocrq/blob.h"
#include "ocrq/config.h"
#include "ocrq/db.h"
#include "ocrq/db_poll.h"
#include "ocrq/json.h"
#include "ocrq/mq.h"
#include "ocrq/status.h"
#include "ocrq/units.h"

#define QUEUE_NAME_MAX 256
#define STATUS_QUEUES_MAX (3 + 2 * OCRQ_MAX_RETRY_DELAYS)
#define STORE_SCHEMA 9 /* migration 9 made the document store */

struct queue_row {
    char name[QUEUE_NAME_MAX];
    int declared;
    unsigned ready, consumers;
};

void admin_report(const char *what, int st)
{
    fprintf(stderr, "ocrq-admin: %s: %s\n", what, ocrq_strerror(st));
}

int admin_db_open(const struct ocrq_config *cfg, int min_version, const char *missing,
                  struct ocrq_db **db)
{
    int version = 0, st = ocrq_db_connect(cfg, db);

    if (st == OCRQ_OK && min_version > 0)
        st = ocrq_db_schema_version(*db, &version);
    if (st != OCRQ_OK) {
        admin_report("cannot connect to the database", st);
        return OCRQ_ERR_DB;
    }
    if (version < min_version) {
        fprintf(stderr, "ocrq-admin: the database has no %s yet: run ocrq-admin setup\n", missing);
        return OCRQ_ERR_DB;
    }
    return OCRQ_OK;
}

static int mq_open(const struct ocrq_config *cfg, struct ocrq_mq **mq)
{
    int st = ocrq_mq_connect(cfg, "ocrq-admin", mq);
    if (st != OCRQ_OK) {
        admin_report("cannot connect to the broker", st);
        return OCRQ_ERR_MQ;
    }
    return OCRQ_OK;
}

static int migrate(struct ocrq_db *db)
{
    int applied = 0, version = 0;
    int st = ocrq_db_migrate(db, &applied, &version);
    if (st != OCRQ_OK) {
        admin_report("database migration failed", st);
        return OCRQ_ERR_DB;
    }
    printf("database schema at version %d (%d migration%s applied now)\n", version, applied,
           applied == 1 ? "" : "s");
    return OCRQ_OK;
}

/* Declare the topology and migrate; see admin.h. */
/* Declare the whole topology; see admin.h. */
int admin_declare_topology(struct ocrq_mq *mq)
{
    int st = ocrq_mq_declare_topology(mq);

    if (st != OCRQ_OK) {
        admin_report("cannot declare the topology (see the log line above)", st);
        return OCRQ_ERR_MQ;
    }
    return OCRQ_OK;
}

int admin_setup(const struct ocrq_config *cfg)
{
    struct ocrq_mq *mq = NULL;
    struct ocrq_db *db = NULL;
    int st = mq_open(cfg, &mq);

    if (st != OCRQ_OK)
        goto out;
    if ((st = admin_declare_topology(mq)) != OCRQ_OK)
        goto out;
    printf("topology declared: %s, %s, %s, %d retry queue%s each\n", cfg->queue_jobs,
           cfg->queue_priority, cfg->queue_failed, cfg->n_retry_delays,
           cfg->n_retry_delays == 1 ? "" : "s");
    if ((st = admin_db_open(cfg, 0, NULL, &db)) != OCRQ_OK)
        goto out;
    st = migrate(db);
out:
    ocrq_db_free(db);
    ocrq_mq_free(mq);
    return st;
}

/* Apply pending migrations only; see admin.h. */
int admin_migrate(const struct ocrq_config *cfg)
{
    struct ocrq_db *db = NULL;
    int st = admin_db_open(cfg, 0, NULL, &db);

    if (st == OCRQ_OK)
        st = migrate(db);
    ocrq_db_free(db);
    return st;
}

/* The queues status shows, in display order. */
static size_t queue_names(const struct ocrq_config *cfg, struct queue_row *rows)
{
    const char *job_queues[2] = {cfg->queue_jobs, cfg->queue_priority};
    size_t n = 0;

    for (int q = 0; q < 2; q++)
        snprintf(rows[n++].name, QUEUE_NAME_MAX, "%s", job_queues[q]);
    for (int q = 0; q < 2; q++)
        for (int d = 0; d < cfg->n_retry_delays && d < OCRQ_MAX_RETRY_DELAYS; d++)
            ocrq_mq_retry_queue(cfg, job_queues[q], d, rows[n++].name, QUEUE_NAME_MAX);
    snprintf(rows[n++].name, QUEUE_NAME_MAX, "%s", cfg->queue_failed);
    return n;
}

/*
 * Ask the broker about each queue with a passive declare. A missing queue
 * closes the channel; mq_conn.c opens it again, so one connection serves all.
 */
static int query_queues(const struct ocrq_config *cfg, struct queue_row *rows, size_t n)
{
    struct ocrq_mq *mq = NULL;
    int st = mq_open(cfg, &mq);

    for (size_t i = 0; i < n && st == OCRQ_OK; i++) {
        st = ocrq_mq_queue_info(mq, rows[i].name, &rows[i].ready, &rows[i].consumers);
        if (st == OCRQ_ERR_NOT_FOUND) {
            rows[i].declared = 0;
            st = OCRQ_OK;
            continue;
        }
        if (st != OCRQ_OK) {
            admin_report(rows[i].name, st);
            st = OCRQ_ERR_MQ;
            goto out;
        }
        rows[i].declared = 1;
    }
out:
    ocrq_mq_free(mq);
    return st;
}

int admin_json_print(struct ocrq_json *o, int bad)
{
    char *line = bad ? NULL : ocrq_json_dump(o, OCRQ_JSON_FOR_PEOPLE);

    ocrq_json_free(o);
    if (!line) {
        fprintf(stderr, "ocrq-admin: out of memory\n");
        return OCRQ_ERR_NOMEM;
    }
    printf("%s\n", line);
    free(line);
    return OCRQ_OK;
}

/* The queues of the status as a JSON array (NULL: out of memory). */
static struct ocrq_json *queues_json(const struct queue_row *rows, size_t n)
{
    struct ocrq_json *arr = ocrq_json_array();
    int bad = !arr;

    for (size_t i = 0; i < n && !bad; i++) {
        struct ocrq_json *q = ocrq_json_object();
        bad |= ocrq_json_set_str(q, "name", rows[i].name);
        bad |= ocrq_json_set_bool(q, "declared", rows[i].declared);
        if (rows[i].declared) {
            bad |= ocrq_json_set_int(q, "ready", rows[i].ready);
            bad |= ocrq_json_set_int(q, "consumers", rows[i].consumers);
        }
        bad |= ocrq_json_append(arr, q);
    }
    if (bad) {
        ocrq_json_free(arr);
        return NULL;
    }
    return arr;
}

/* The job counts of the status as a JSON object (NULL: out of memory). */
static struct ocrq_json *jobs_json(const char *batch, const struct ocrq_db_counts *c)
{
    struct ocrq_json *jobs = ocrq_json_object(), *pages = ocrq_json_object();
    int bad = ocrq_json_set_str(jobs, "batch", batch);

    bad |= ocrq_json_set_int(jobs, "queued", c->queued);
    bad |= ocrq_json_set_int(jobs, "running", c->running);
    bad |= ocrq_json_set_int(jobs, "succeeded", c->succeeded);
    bad |= ocrq_json_set_int(jobs, "failed", c->failed);
    bad |= ocrq_json_set_int(jobs, "canceled", c->canceled);
    bad |= ocrq_json_set_int(pages, "done", c->pages_done);
    bad |= ocrq_json_set_int(pages, "running_done", c->running_pages_done);
    bad |= ocrq_json_set_int(pages, "running_total", c->running_pages_total);
    bad |= ocrq_json_set(jobs, "pages", pages);
    if (bad) {
        ocrq_json_free(jobs);
        return NULL;
    }
    return jobs;
}

/* c is NULL when the schema is not set up, store when it has no document store yet. */
static void print_json(const struct queue_row *rows, size_t n, const char *batch,
                       const struct ocrq_db_counts *c, const struct ocrq_blob_totals *store)
{
    struct ocrq_json *o = ocrq_json_object(), *s = NULL;
    int bad = ocrq_json_set(o, "queues", queues_json(rows, n));

    if (!c) {
        bad |= ocrq_json_set_null(o, "jobs");
        bad |= ocrq_json_set_null(o, "store");
        admin_json_print(o, bad);
        return;
    }
    bad |= ocrq_json_set(o, "jobs", jobs_json(batch, c));
    if (store) {
        s = ocrq_json_object();
        bad |= ocrq_json_set_int(s, "documents", store->documents);
        bad |= ocrq_json_set_int(s, "document_bytes", store->document_bytes);
        bad |= ocrq_json_set_int(s, "artifacts", store->artifacts);
        bad |= ocrq_json_set_int(s, "artifact_bytes", store->artifact_bytes);
        bad |= ocrq_json_set(o, "store", s);
    } else {
        bad |= ocrq_json_set_null(o, "store");
    }
    admin_json_print(o, bad);
}

static void print_text(const struct queue_row *rows, size_t n, const char *batch,
                       const struct ocrq_db_counts *c, const struct ocrq_blob_totals *store)
{
    char docs[32], arts[32];

    printf("%-32s %10s %10s\n", "QUEUE", "READY", "CONSUMERS");
    for (size_t i = 0; i < n; i++) {
        if (rows[i].declared)
            printf("%-32s %10u %10u\n", rows[i].name, rows[i].ready, rows[i].consumers);
        else
            printf("%-32s not declared: run ocrq-admin setup\n", rows[i].name);
    }
    if (!c) {
        printf("\nJOBS: database schema not set up: run ocrq-admin setup\n");
        return;
    }
    printf("\nJOBS (%s%s)\n", batch ? "batch " : "all", batch ? batch : "");
    printf("  queued     %lld\n  running    %lld\n  succeeded  %lld\n  failed     %lld\n"
           "  canceled   %lld\n",
           c->queued, c->running, c->succeeded, c->failed, c->canceled);
    printf("\nPAGES\n  done       %lld\n  running    %lld of %lld done\n", c->pages_done,
           c->running_pages_done, c->running_pages_total);
    if (!store)
        return;
    ocrq_bytes_human(store->document_bytes, docs, sizeof docs);
    ocrq_bytes_human(store->artifact_bytes, arts, sizeof arts);
    printf("\nSTORE (all batches)\n  stored documents: %lld (%s)\n  stored artifacts: %lld (%s)\n",
           store->documents, docs, store->artifacts, arts);
}

/* Show queues and job counts; see admin.h. */
int admin_status(const struct ocrq_config *cfg, int json, const char *batch)
{
    struct queue_row *rows = NULL;
    struct ocrq_db *db = NULL;
    struct ocrq_db_counts counts;
    struct ocrq_blob_totals store;
    size_t n;
    int version = 0, st = OCRQ_ERR_NOMEM;

    memset(&counts, 0, sizeof counts);
    memset(&store, 0, sizeof store);
    rows = calloc(STATUS_QUEUES_MAX, sizeof *rows);
    if (!rows) {
        admin_report("status", st);
        goto out;
    }
    n = queue_names(cfg, rows);
    if ((st = query_queues(cfg, rows, n)) != OCRQ_OK)
        goto out;
    if ((st = admin_db_open(cfg, 0, NULL, &db)) != OCRQ_OK)
        goto out;
    if ((st = ocrq_db_schema_version(db, &version)) == OCRQ_OK && version > 0)
        st = ocrq_db_counts(db, batch, &counts);
    if (st == OCRQ_OK && version >= STORE_SCHEMA)
        st = ocrq_blob_totals(db, &store);
    if (st != OCRQ_OK) {
        admin_report("cannot count the jobs", st);
        st = OCRQ_ERR_DB;
        goto out;
    }
    const struct ocrq_blob_totals *sp = version >= STORE_SCHEMA ? &store : NULL;
    if (json)
        print_json(rows, n, batch, version > 0 ? &counts : NULL, sp);
    else
        print_text(rows, n, batch, version > 0 ? &counts : NULL, sp);
out:
    ocrq_db_free(db);
    free(rows);
    return st;
}
