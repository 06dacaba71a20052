/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Retention (docs/operations.md, "Retention"): ocrq_db_purge() deletes
 * finished jobs and everything that hangs off them, in batches that are
 * each a short transaction of their own, for ocrq-admin purge and for the
 * supervisor's hourly pass (retention.days). Beside db_jobs.c, through
 * ocrq_db_params(); libpq types stay in the db module.
 */
#include "ocrq/db_purge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"
#include "migrations.h"
#include "ocrq/log.h"
#include "ocrq/status.h"
#include "ocrq/units.h"
#include "ocrq/uuid.h"

/*
 * One purge batch at a time in the whole fleet: every supervisor runs the
 * hourly pass, and ocrq-admin purge may run beside them. Concurrent passes
 * would be harmless (SKIP LOCKED gives each batch rows no other holds) but
 * would only add load at the same moment. A transaction lock (two-key form:
 * "ocrq", 1), because a session lock does not survive a transaction pool.
 */
#define LOCK_KEY "1868788337, 1"
#define BLOB_TX_BYTES (64LL * 1024 * 1024) /* stored blobs deleted per transaction */

/* clang-format off */
/*
 * Whether job j is one to purge: finished, matching the filter (statuses
 * $S, cutoff $C, batch $B or NULL) and without a webhook delivery pending.
 * The literal status list keeps queued and running jobs out whatever $S
 * says, and lets the planner use ocr_jobs_finished_idx (migration 12).
 */
#define ELIGIBLE(j, S, C, B)                                                                       \
    j ".status IN ('succeeded', 'failed', 'canceled') AND " j ".status = ANY (" S "::text[])"     \
    " AND " j ".finished_at < " C "::timestamptz AND (" B "::text IS NULL OR " j ".batch = " B    \
    "::text) AND NOT EXISTS (SELECT 1 FROM ocr_webhook_deliveries AS d"                            \
    "  WHERE d.job_id = " j ".job_id AND d.status = 'pending')"

/* The batch: the oldest jobs to purge after the keyset cursor ($4, $5); $6 of them. */
#define SELECT_BATCH                                                                               \
    "SELECT j.job_id::text, j.finished_at::text, j.status FROM ocr_jobs AS j"                      \
    " WHERE " ELIGIBLE("j", "$1", "$2", "$3")                                                      \
    " AND ($4::timestamptz IS NULL OR (j.finished_at, j.job_id) > ($4::timestamptz, $5::uuid))"    \
    " ORDER BY j.finished_at, j.job_id LIMIT $6::integer"

/*
 * SKIP LOCKED: a finished job row that someone holds (a duplicate delivery
 * being started, a dedupe copy naming it) is left for the next pass rather
 * than waited for, and nobody waits on the rows this batch holds but for
 * those same rare cases.
 */
static const char select_lock_sql[] = SELECT_BATCH " FOR UPDATE OF j SKIP LOCKED";
static const char select_read_sql[] = SELECT_BATCH;

/* Old enough and matching, but kept because a webhook delivery is pending. */
static const char pending_sql[] =
    "SELECT count(DISTINCT j.job_id) FROM ocr_webhook_deliveries AS p"
    " JOIN ocr_jobs AS j ON j.job_id = p.job_id WHERE p.status = 'pending'"
    " AND j.status IN ('succeeded', 'failed', 'canceled') AND j.status = ANY ($1::text[])"
    " AND j.finished_at < $2::timestamptz AND ($3::text IS NULL OR j.batch = $3::text)";

/*
 * What hangs off a job, children before parents; each removed by job id
 * ($1, the batch's ids). Deleting them here rather than through ON DELETE
 * CASCADE counts them, and reaches the tables without a foreign key
 * (idempotency keys; blobs, below).
 */
struct step {
    const char *name; /* for the log */
    size_t field;     /* its count in struct ocrq_db_purge_counts */
    int nparams;      /* $1 the ids; $2-$4 the filter as in ELIGIBLE */
    const char *del;  /* deletes, and returns one row: how many */
    const char *dry;  /* counts the same rows */
};

#define IDS "ANY ($1::uuid[])"
#define BY_JOB(name, field, table)                                                                 \
    {name, offsetof(struct ocrq_db_purge_counts, field), 1,                                        \
     "WITH d AS (DELETE FROM " table " WHERE job_id = " IDS " RETURNING 1) SELECT count(*) FROM d", \
     "SELECT count(*) FROM " table " WHERE job_id = " IDS}

/*
 * The jobs that took their result from one of the batch (dedupe_of) and
 * stay: their reference is cleared and counted. Those that go too, in a
 * later batch of this run, are left to ON DELETE SET NULL, so that the
 * count says how many kept jobs lost their link.
 */
#define DEDUPE_KEPT                                                                                \
    " WHERE c.dedupe_of = " IDS " AND c.job_id <> ALL ($1::uuid[])"                               \
    " AND NOT coalesce(" ELIGIBLE("c", "$2", "$3", "$4") ", false)"

/* clang-format on */

static const struct step steps[] = {
    {"webhook attempts", offsetof(struct ocrq_db_purge_counts, attempts), 1,
     "WITH d AS (DELETE FROM ocr_webhook_attempts WHERE delivery_id IN"
     " (SELECT id FROM ocr_webhook_deliveries WHERE job_id = " IDS ") RETURNING 1)"
     " SELECT count(*) FROM d",
     "SELECT count(*) FROM ocr_webhook_attempts WHERE delivery_id IN"
     " (SELECT id FROM ocr_webhook_deliveries WHERE job_id = " IDS ")"},
    BY_JOB("webhook deliveries", deliveries, "ocr_webhook_deliveries"),
    BY_JOB("results", results, "ocr_results"),
    BY_JOB("pages", pages, "ocr_pages"),
    BY_JOB("artifacts", artifacts, "ocr_artifacts"),
    BY_JOB("page tasks", page_tasks, "ocr_page_tasks"),
    BY_JOB("page artifacts", page_artifacts, "ocr_page_artifacts"),
    BY_JOB("idempotency keys", idempotency_keys, "ocr_idempotency_keys"),
    /* by ocr_jobs_dedupe_of_idx */
    {"dedupe references", offsetof(struct ocrq_db_purge_counts, dedupe_cleared), 4,
     "WITH d AS (UPDATE ocr_jobs AS c SET dedupe_of = NULL" DEDUPE_KEPT " RETURNING 1)"
     " SELECT count(*) FROM d",
     "SELECT count(*) FROM ocr_jobs AS c" DEDUPE_KEPT},
    BY_JOB("jobs", jobs, "ocr_jobs"),
};

/*
 * The stored blobs (documents, large artifacts) of jobs deleted already:
 * up to BLOB_TX_BYTES of them per transaction (at least one), so that a
 * store of big documents never makes one huge transaction; their chunks go
 * by ON DELETE CASCADE. Blobs someone holds are skipped: the store sweep
 * (ocrq_blob_sweep) deletes any blob whose job is gone a day later, as it
 * does for those of a purge that stopped between the two steps.
 */
static const char blobs_sql[] =
    "WITH c AS (SELECT blob_id FROM (SELECT blob_id, bytes,"
    "  sum(bytes) OVER (ORDER BY blob_id) AS running FROM ocr_blobs WHERE job_id = " IDS ") AS x"
    "  WHERE running - bytes < $2::bigint),"
    " l AS (SELECT blob_id FROM ocr_blobs WHERE blob_id IN (SELECT blob_id FROM c)"
    "  FOR UPDATE SKIP LOCKED),"
    " d AS (DELETE FROM ocr_blobs WHERE blob_id IN (SELECT blob_id FROM l) RETURNING bytes)"
    " SELECT count(*), coalesce(sum(bytes), 0) FROM d";
static const char blobs_dry_sql[] =
    "SELECT count(*), coalesce(sum(bytes), 0) FROM ocr_blobs WHERE job_id = " IDS;

/* Where the next batch starts: after this job (empty: at the oldest). */
struct cursor {
    char finished_at[64];
    char job_id[OCRQ_UUID_LEN + 1];
};

/* The parameters every selection shares. */
struct sel {
    char statuses[40]; /* "{succeeded,failed,canceled}" */
    char cutoff[64];
    const char *batch;
    char limit[16];
};

static long long cell_ll(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static void statuses_array(unsigned bits, char *buf, size_t len)
{
    static const char *const names[] = {"succeeded", "failed", "canceled"};
    size_t off = 0;

    if ((bits & OCRQ_PURGE_FINISHED) == 0)
        bits = OCRQ_PURGE_FINISHED;
    off += (size_t)snprintf(buf, len, "{");
    for (int i = 0; i < 3; i++)
        if (bits & (1u << i))
            off += (size_t)snprintf(buf + off, len - off, "%s%s", off > 1 ? "," : "", names[i]);
    snprintf(buf + off, len - off, "}");
}

/* now() - seconds on the server, as text: every batch of the run uses the same. */
static int cutoff_at(struct ocrq_db *db, long long seconds, char *buf, size_t len)
{
    char secs[24];
    const char *params[1] = {secs};
    PGresult *res = NULL;

    snprintf(secs, sizeof(secs), "%lld", seconds);
    int st = ocrq_db_params(db, "purge: cutoff",
                            "SELECT (now() - make_interval(secs => $1::bigint))::text", 1, params,
                            1, &res);
    if (st == OCRQ_OK)
        snprintf(buf, len, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return st;
}

/*
 * Select the next batch (locking its rows unless dry): *ids gets "{id,...}"
 * (malloc'd; NULL with no row), the statuses are counted into out, and cur
 * moves past the last row. *n gets the number of jobs.
 */
static int select_batch(struct ocrq_db *db, const struct sel *s, int dry, struct cursor *cur,
                        struct ocrq_db_purge_counts *out, char **ids, int *n)
{
    const char *params[6] = {s->statuses,
                             s->cutoff,
                             s->batch,
                             cur->finished_at[0] ? cur->finished_at : NULL,
                             cur->job_id[0] ? cur->job_id : NULL,
                             s->limit};
    PGresult *res = NULL;
    int st, rows;

    *ids = NULL;
    *n = 0;
    st = ocrq_db_params(db, "purge: select a batch", dry ? select_read_sql : select_lock_sql, 6,
                        params, 1, &res);
    if (st != OCRQ_OK)
        return st;
    rows = PQntuples(res);
    if (rows > 0 && !(*ids = malloc((size_t)rows * (OCRQ_UUID_LEN + 1) + 3)))
        st = OCRQ_ERR_NOMEM;
    for (int i = 0; st == OCRQ_OK && i < rows; i++) {
        const char *status = PQgetvalue(res, i, 2);
        memcpy(*ids + 1 + (size_t)i * (OCRQ_UUID_LEN + 1), PQgetvalue(res, i, 0), OCRQ_UUID_LEN);
        (*ids)[(size_t)i * (OCRQ_UUID_LEN + 1)] = i == 0 ? '{' : ',';
        if (strcmp(status, "succeeded") == 0)
            out->succeeded++;
        else if (strcmp(status, "failed") == 0)
            out->failed++;
        else
            out->canceled++;
    }
    if (st == OCRQ_OK && rows > 0) {
        size_t end = (size_t)rows * (OCRQ_UUID_LEN + 1);
        (*ids)[end] = '}';
        (*ids)[end + 1] = '\0';
        snprintf(cur->finished_at, sizeof(cur->finished_at), "%s", PQgetvalue(res, rows - 1, 1));
        snprintf(cur->job_id, sizeof(cur->job_id), "%s", PQgetvalue(res, rows - 1, 0));
        *n = rows;
    }
    PQclear(res);
    return st;
}

/* Run each step over ids (deleting, or counting when dry), adding to out. */
static int run_steps(struct ocrq_db *db, const struct sel *s, const char *ids, int dry,
                     struct ocrq_db_purge_counts *out)
{
    const char *params[4] = {ids, s->statuses, s->cutoff, s->batch};

    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        PGresult *res = NULL;
        char what[64];

        snprintf(what, sizeof(what), "purge: %s", steps[i].name);
        int st = ocrq_db_params(db, what, dry ? steps[i].dry : steps[i].del, steps[i].nparams,
                                params, 1, &res);
        if (st != OCRQ_OK)
            return st;
        *(long long *)((char *)out + steps[i].field) += cell_ll(res, 0, 0);
        PQclear(res);
    }
    return OCRQ_OK;
}

/* The stored blobs of the jobs ids, in transactions of BLOB_TX_BYTES (counted only when dry). */
static int purge_blobs(struct ocrq_db *db, const char *ids, int dry,
                       struct ocrq_db_purge_counts *out)
{
    char cap[24];
    const char *params[2] = {ids, cap};
    long long n;

    snprintf(cap, sizeof(cap), "%lld", BLOB_TX_BYTES);
    do {
        PGresult *res = NULL;
        int st = ocrq_db_params(db, "purge: stored blobs", dry ? blobs_dry_sql : blobs_sql,
                                dry ? 1 : 2, params, 1, &res);
        if (st != OCRQ_OK)
            return st;
        n = cell_ll(res, 0, 0);
        out->blobs += n;
        out->blob_bytes += cell_ll(res, 0, 1);
        PQclear(res);
    } while (n > 0 && !dry);
    return OCRQ_OK;
}

/* The counts of a committed batch b added to the totals. */
static void add_counts(struct ocrq_db_purge_counts *out, const struct ocrq_db_purge_counts *b)
{
    out->succeeded += b->succeeded;
    out->failed += b->failed;
    out->canceled += b->canceled;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
        *(long long *)((char *)out + steps[i].field) +=
            *(const long long *)((const char *)b + steps[i].field);
}

/*
 * One transaction: lock, select, delete, commit; then the blobs. *n: jobs
 * in the batch. Its counts are added to out once committed.
 */
static int one_batch(struct ocrq_db *db, const struct ocrq_db_purge_filter *f, const struct sel *s,
                     struct cursor *cur, struct ocrq_db_purge_counts *out, int *n)
{
    struct ocrq_db_purge_counts b;
    char *ids = NULL;
    int locked = 1, st;

    *n = 0;
    memset(&b, 0, sizeof(b));
    if (f->dry_run) {
        st = select_batch(db, s, 1, cur, &b, &ids, n);
        if (st == OCRQ_OK && *n > 0)
            st = run_steps(db, s, ids, 1, &b);
        if (st == OCRQ_OK)
            add_counts(out, &b);
        if (st == OCRQ_OK && *n > 0)
            st = purge_blobs(db, ids, 1, out);
        goto out;
    }
    st = ocrq_db_exec(db, "BEGIN", 0, "purge: begin");
    if (st != OCRQ_OK)
        goto out;
    st = ocrq_db_query_int(db,
                           f->try_lock ? "SELECT pg_try_advisory_xact_lock(" LOCK_KEY ")::int"
                                       : "SELECT 1 FROM pg_advisory_xact_lock(" LOCK_KEY ")",
                           0, NULL, "purge: lock", &locked);
    if (st == OCRQ_OK && !locked) {
        out->busy = 1;
        goto out;
    }
    if (st == OCRQ_OK)
        st = select_batch(db, s, 0, cur, &b, &ids, n);
    if (st == OCRQ_OK && *n > 0)
        st = run_steps(db, s, ids, 0, &b);
    if (st == OCRQ_OK)
        st = ocrq_db_exec(db, "COMMIT", 0, "purge: commit");
    if (st == OCRQ_OK)
        add_counts(out, &b);
    if (st == OCRQ_OK && *n > 0)
        st = purge_blobs(db, ids, 0, out);
out:
    ocrq_db_rollback(db); /* nothing open after a commit; the lock's empty transaction else */
    free(ids);
    return st;
}

int ocrq_db_purge(struct ocrq_db *db, const struct ocrq_db_purge_filter *f,
                  ocrq_db_purge_fn progress, void *arg, struct ocrq_db_purge_counts *out)
{
    struct cursor cur = {{0}, {0}};
    struct sel s = {.batch = NULL};
    int size, n = 0, st;

    if (out)
        memset(out, 0, sizeof(*out));
    if (!db || !f || !out || f->finished_before_s < 0 || f->batch_size < 0 ||
        f->batch_size > OCRQ_DB_PURGE_BATCH_MAX)
        return OCRQ_ERR_INVALID;
    size = f->batch_size ? f->batch_size : OCRQ_DB_PURGE_BATCH;
    statuses_array(f->statuses, s.statuses, sizeof(s.statuses));
    s.batch = f->batch;
    snprintf(s.limit, sizeof(s.limit), "%d", size);
    st = cutoff_at(db, f->finished_before_s, s.cutoff, sizeof(s.cutoff));
    if (st != OCRQ_OK)
        return st;
    snprintf(out->cutoff, sizeof(out->cutoff), "%s", s.cutoff);
    do {
        st = one_batch(db, f, &s, &cur, out, &n);
        if (st != OCRQ_OK || out->busy || n == 0)
            break;
        out->batches++;
        if (progress && progress(arg, out)) {
            out->stopped = 1;
            break;
        }
    } while (n == size); /* fewer: nothing matched beyond the last one */
    if (st == OCRQ_OK) {
        const char *params[3] = {s.statuses, s.cutoff, s.batch};
        PGresult *res = NULL;

        st = ocrq_db_params(db, "purge: pending webhooks", pending_sql, 3, params, 1, &res);
        if (st == OCRQ_OK)
            out->kept_pending = cell_ll(res, 0, 0);
        PQclear(res);
    }
    return st;
}

void ocrq_db_purge_summary(const struct ocrq_db_purge_counts *c, char *buf, size_t len)
{
    char bytes[32];

    ocrq_bytes_human(c->blob_bytes, bytes, sizeof(bytes));
    snprintf(buf, len,
             "%lld jobs (%lld succeeded, %lld failed, %lld canceled), %lld results, %lld pages,"
             " %lld artifacts, %lld page tasks, %lld page artifacts, %lld webhook deliveries,"
             " %lld webhook attempts, %lld idempotency keys, %lld stored blobs (%s),"
             " %lld dedupe references cleared",
             c->jobs, c->succeeded, c->failed, c->canceled, c->results, c->pages, c->artifacts,
             c->page_tasks, c->page_artifacts, c->deliveries, c->attempts, c->idempotency_keys,
             c->blobs, bytes, c->dedupe_cleared);
}
