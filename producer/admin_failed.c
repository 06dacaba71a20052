/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * ocrq-admin failed list|show|requeue|purge: the operator's work list of
 * dead-lettered jobs (docs/operations.md). Messages are read from
 * ocr.failed with basic.get and kept unacked until each is settled: acked
 * when it is requeued (after the confirm) or purged, otherwise rejected back
 * into the queue at the end, in its place. If this process dies, the broker
 * puts every unacked message back, so reading the queue never loses one.
 */
#include "admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ocrq/config.h"
#include "ocrq/db.h"
#include "ocrq/db_failed.h"
#include "ocrq/job.h"
#include "ocrq/json.h"
#include "ocrq/mq.h"
#include "ocrq/status.h"
#include "ocrq/uuid.h"

#define CHUNK 256                /* messages read before their rows are fetched */
#define CONFIRM_TIMEOUT_MS 30000 /* a requeue waits this long for the broker's confirm */

/* One dead-lettered message with its job row (if any); the strings are owned. */
struct dead {
    struct ocrq_mq_msg *msg;
    int has_row;
    char status[16];
    char *batch, *source, *error_code, *error_message;
    int attempts, priority;
    double finished_at;
    double died_at;     /* best knowledge of when it was dead-lettered; 0: unknown */
    const char *reason; /* x-ocrq-error-code, else the row's error code, else the x-death reason */
};

/* What a command does with each message: HOLD it (released at the end), or it settled it. */
enum { SETTLED = 0, HOLD = 1 };
struct scan;
typedef int (*dead_fn)(struct scan *s, struct dead *d);

struct scan {
    const struct ocrq_config *cfg;
    const struct admin_failed_opts *o;
    struct ocrq_mq *mq;
    struct ocrq_db *db;
    uint64_t *held;
    size_t nheld, capheld;
    char (*ids)[OCRQ_UUID_LEN + 1]; /* requeue: the jobs requeued so far (open addressing) */
    size_t nids, capids;
    size_t seen, matched, done, skipped; /* per command: see each command */
};

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void dead_cleanup(struct dead *d)
{
    ocrq_mq_msg_free(d->msg);
    free(d->batch);
    free(d->source);
    free(d->error_code);
    free(d->error_message);
    memset(d, 0, sizeof(*d));
}

/* Copy a row into the dead message of the chunk with the same job id. */
static void on_row(void *arg, const struct ocrq_db_job_info *j)
{
    struct dead *chunk = arg;

    for (int i = 0; i < CHUNK && chunk[i].msg; i++) {
        struct dead *d = &chunk[i];
        if (d->has_row || strcasecmp(d->msg->message_id, j->job_id) != 0)
            continue;
        d->has_row = 1;
        snprintf(d->status, sizeof(d->status), "%s", j->status);
        d->batch = dup_or_null(j->batch);
        d->source = dup_or_null(j->source);
        d->error_code = dup_or_null(j->error_code);
        d->error_message = dup_or_null(j->error_message);
        d->attempts = j->attempts;
        d->priority = j->priority;
        d->finished_at = j->finished_at;
    }
}

/* died_at and reason from what the message and its row say. */
static void derive(struct dead *d)
{
    const struct ocrq_mq_msg *m = d->msg;
    double t = (double)m->timestamp;

    for (int i = 0; i < m->n_deaths; i++)
        if ((double)m->deaths[i].time > t)
            t = (double)m->deaths[i].time;
    d->died_at = t > 0 ? t : d->finished_at;
    d->reason = m->error_code                               ? m->error_code
                : d->error_code                             ? d->error_code
                : m->n_deaths > 0 && m->deaths[0].reason[0] ? m->deaths[0].reason
                                                            : "unknown";
}

static int hold(struct scan *s, uint64_t tag)
{
    if (s->nheld == s->capheld) {
        size_t cap = s->capheld ? s->capheld * 2 : 256;
        uint64_t *h = realloc(s->held, cap * sizeof(*h));
        if (!h)
            return OCRQ_ERR_NOMEM;
        s->held = h;
        s->capheld = cap;
    }
    s->held[s->nheld++] = tag;
    return OCRQ_OK;
}

/* Put every held message back into ocr.failed, in its place. */
static int release(struct scan *s)
{
    int st = OCRQ_OK;

    for (size_t i = 0; i < s->nheld && st == OCRQ_OK; i++)
        st = ocrq_mq_reject(s->mq, s->held[i], 1);
    s->nheld = 0;
    return st; /* on a broken connection the broker puts them back by itself */
}

/* Fetch the rows of a chunk of messages, in one round trip. */
static int chunk_rows(struct scan *s, struct dead *chunk, int n)
{
    const char *ids[CHUNK];
    size_t k = 0;

    for (int i = 0; i < n; i++)
        if (ocrq_uuid_valid(chunk[i].msg->message_id))
            ids[k++] = chunk[i].msg->message_id;
    return ocrq_db_jobs_info(s->db, ids, k, on_row, chunk);
}

/*
 * Read what is in ocr.failed now (its ready count when we start: messages
 * that arrive meanwhile, or that we put back, are not read twice), CHUNK at
 * a time, and hand each message with its row to fn. Every message fn holds,
 * and the rest of a chunk after an error, go back at the end.
 */
static int scan_failed(struct scan *s, dead_fn fn)
{
    struct dead *chunk = calloc(CHUNK, sizeof(*chunk));
    unsigned ready = 0;
    size_t taken = 0;
    int st, st2;

    if (!chunk)
        return OCRQ_ERR_NOMEM;
    st = ocrq_mq_queue_info(s->mq, s->cfg->queue_failed, &ready, NULL);
    if (st != OCRQ_OK)
        admin_report(s->cfg->queue_failed, st);
    while (st == OCRQ_OK && taken < ready) {
        int n = 0;
        while (n < CHUNK && taken < ready) {
            st = ocrq_mq_get(s->mq, s->cfg->queue_failed, &chunk[n].msg);
            if (st != OCRQ_OK)
                break;
            taken++;
            n++;
        }
        if (st == OCRQ_ERR_EMPTY)
            st = OCRQ_OK;
        if (st != OCRQ_OK)
            admin_report("cannot read the dead-lettered messages", st);
        else if ((st = chunk_rows(s, chunk, n)) != OCRQ_OK)
            admin_report("cannot read the job records", st);
        for (int i = 0; i < n; i++) {
            int r = HOLD;
            if (st == OCRQ_OK) {
                derive(&chunk[i]);
                s->seen++;
                r = fn(s, &chunk[i]);
                if (r < 0) {
                    st = r;
                    r = HOLD;
                }
            }
            if (r == HOLD && (st2 = hold(s, chunk[i].msg->delivery_tag)) != OCRQ_OK &&
                st == OCRQ_OK)
                st = st2;
            dead_cleanup(&chunk[i]);
        }
        if (n < CHUNK)
            break; /* the queue ran dry before its ready count: someone else took some */
    }
    st2 = release(s);
    if (st == OCRQ_OK && st2 != OCRQ_OK) {
        admin_report("cannot put the messages back (the broker does so when we disconnect)", st2);
        st = st2;
    }
    free(chunk);
    return st;
}

/* ---- printing -------------------------------------------------------------- */

static void iso_time(double t, char *buf, size_t len)
{
    time_t secs = (time_t)t;
    struct tm tm;

    if (t <= 0 || !gmtime_r(&secs, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, len, "-");
}

/* Add key to o: t as an ISO time, or null when there is none. */
static int json_time(struct ocrq_json *o, const char *key, double t)
{
    char buf[32];

    iso_time(t, buf, sizeof(buf));
    return ocrq_json_set_str(o, key, t > 0 ? buf : NULL);
}

static const char *job_id_of(const struct dead *d)
{
    return d->msg->message_id[0] ? d->msg->message_id : NULL;
}

static int attempts_of(const struct dead *d)
{
    return d->has_row ? d->attempts : d->msg->attempt;
}

static void print_json_line(const struct dead *d)
{
    const struct ocrq_mq_msg *m = d->msg;

    struct ocrq_json *o = ocrq_json_object();
    int bad = ocrq_json_set_str(o, "job_id", job_id_of(d));

    bad |= ocrq_json_set_str(o, "reason", d->reason);
    bad |= ocrq_json_set_str(o, "batch", d->batch);
    bad |= ocrq_json_set_str(o, "source", d->source);
    bad |= json_time(o, "died_at", d->died_at);
    bad |= ocrq_json_set_int(o, "attempts", attempts_of(d));
    bad |= ocrq_json_set_str(o, "status", d->has_row ? d->status : NULL);
    bad |= ocrq_json_set_str(o, "error_code", d->has_row ? d->error_code : m->error_code);
    bad |= ocrq_json_set_str(o, "error_message", d->has_row ? d->error_message : m->error_message);
    bad |= ocrq_json_set_int(o, "priority", m->priority);
    bad |= ocrq_json_set_int(o, "x_death_count", m->death_count);
    admin_json_print(o, bad);
}

/* ---- failed list ------------------------------------------------------------- */

static int matches(const struct scan *s, const struct dead *d)
{
    const struct admin_failed_opts *o = s->o;

    if (o->job_id && strcasecmp(d->msg->message_id, o->job_id) != 0)
        return 0;
    if (o->reason && strcmp(d->reason, o->reason) != 0)
        return 0;
    if (o->batch && (!d->batch || strcmp(d->batch, o->batch) != 0))
        return 0;
    return 1;
}

static int list_one(struct scan *s, struct dead *d)
{
    char died[32];

    if (!matches(s, d))
        return HOLD;
    if (s->o->json) {
        print_json_line(d);
    } else {
        if (s->matched == 0)
            printf("%-36s %-12s %-20s %-20s %8s  %s\n", "JOB", "REASON", "BATCH", "DIED",
                   "ATTEMPTS", "ERROR");
        iso_time(d->died_at, died, sizeof(died));
        printf("%-36s %-12s %-20.20s %-20s %8d  %.100s\n", job_id_of(d) ? job_id_of(d) : "-",
               d->reason, d->batch ? d->batch : "-", died, attempts_of(d),
               d->error_message        ? d->error_message
               : d->msg->error_message ? d->msg->error_message
                                       : "-");
    }
    s->matched++;
    return HOLD;
}

/* ---- failed show ------------------------------------------------------------- */

static int show_one(struct scan *s, struct dead *d)
{
    const struct ocrq_mq_msg *m = d->msg;
    char t[32];

    if (!matches(s, d))
        return HOLD;
    if (s->o->json) {
        print_json_line(d);
        s->matched++;
        return HOLD;
    }
    if (s->matched++ > 0)
        putchar('\n');
    printf("message %zu in %s\n", s->seen, s->cfg->queue_failed);
    printf("  message_id            %s\n", m->message_id[0] ? m->message_id : "-");
    printf("  priority              %d\n", m->priority);
    iso_time((double)m->timestamp, t, sizeof(t));
    printf("  timestamp             %s\n", t);
    printf("  body                  %zu bytes\n", m->len);
    printf("  x-ocrq-attempt        %d\n", m->attempt);
    printf("  x-ocrq-error-code     %s\n", m->error_code ? m->error_code : "-");
    printf("  x-ocrq-error-message  %s\n", m->error_message ? m->error_message : "-");
    if (m->n_deaths == 0)
        printf("  x-death               none (the worker dead-lettered it with a confirmed "
               "publish, not the broker)\n");
    for (int i = 0; i < m->n_deaths; i++) {
        iso_time((double)m->deaths[i].time, t, sizeof(t));
        printf("  x-death[%d]            queue %s, reason %s, count %lld, time %s%s%s\n", i,
               m->deaths[i].queue, m->deaths[i].reason, m->deaths[i].count, t,
               m->deaths[i].exchange[0] ? ", exchange " : "", m->deaths[i].exchange);
    }
    if (!d->has_row) {
        printf("job\n  no record in the database\n");
        return HOLD;
    }
    iso_time(d->finished_at, t, sizeof(t));
    printf(
        "job\n  status                %s\n  batch                 %s\n  source                %s\n"
        "  attempts              %d\n  finished_at           %s\n  error_code            %s\n"
        "  error_message         %s\n",
        d->status, d->batch ? d->batch : "-", d->source ? d->source : "-", d->attempts, t,
        d->error_code ? d->error_code : "-", d->error_message ? d->error_message : "-");
    return HOLD;
}

/* ---- failed requeue ---------------------------------------------------------- */

static size_t id_hash(const char *id, size_t cap)
{
    size_t h = 5381;
    for (; *id; id++)
        h = h * 33 + (unsigned char)(*id | 0x20);
    return h & (cap - 1);
}

/* 1 if id is in the set of jobs requeued in this run; with add, put it there. */
static int requeued_before(struct scan *s, const char *id, int add)
{
    if (!add && s->nids == 0)
        return 0;
    if (add && 2 * (s->nids + 1) > s->capids) {
        size_t cap = s->capids ? s->capids * 2 : 1024;
        char(*ids)[OCRQ_UUID_LEN + 1] = calloc(cap, sizeof(*ids));
        if (!ids)
            return 0; /* only costs a duplicate copy, which the worker tolerates */
        for (size_t i = 0; i < s->capids; i++) {
            if (!s->ids[i][0])
                continue;
            size_t k = id_hash(s->ids[i], cap);
            while (ids[k][0])
                k = (k + 1) & (cap - 1);
            memcpy(ids[k], s->ids[i], sizeof(ids[k]));
        }
        free(s->ids);
        s->ids = ids;
        s->capids = cap;
    }
    if (s->capids == 0)
        return 0;
    size_t k = id_hash(id, s->capids);
    for (; s->ids[k][0]; k = (k + 1) & (s->capids - 1))
        if (strcasecmp(s->ids[k], id) == 0)
            return 1;
    if (add) {
        snprintf(s->ids[k], sizeof(s->ids[k]), "%.*s", OCRQ_UUID_LEN, id);
        s->nids++;
    }
    return 0;
}

static void on_confirm(void *arg, uint64_t seq, int ok)
{
    (void)seq;
    *(int *)arg = ok;
}

/*
 * Reset the row first, so that the worker that takes the new copy does not
 * find it final and drop it; publish with a confirm; only then ack the old
 * copy. A crash after the reset leaves the row queued and the old copy in
 * ocr.failed (requeue it again); after the publish, two copies, which the
 * worker's final-row check turns into one result.
 */
static int requeue_one(struct scan *s, struct dead *d)
{
    const struct ocrq_mq_msg *m = d->msg;
    const char *id = job_id_of(d);
    char before[16];
    int reset = 0, ok = 0, st;

    if (!matches(s, d))
        return HOLD;
    s->matched++;
    if (!ocrq_uuid_valid(m->message_id)) {
        fprintf(stderr, "ocrq-admin: a message without a job id (message_id '%s') is left in %s\n",
                m->message_id, s->cfg->queue_failed);
        s->skipped++;
        return HOLD;
    }
    if (requeued_before(s, id, 0)) {
        /* a second copy of a job requeued (and confirmed) a moment ago: drop it */
        st = ocrq_mq_ack(s->mq, m->delivery_tag);
        if (st != OCRQ_OK)
            return OCRQ_ERR_MQ;
        printf("dropped a second copy of %s\n", id);
        return SETTLED;
    }
    st = ocrq_db_job_requeue(s->db, id, before, sizeof(before), &reset);
    if (st != OCRQ_OK) {
        admin_report("cannot reset the job record", st);
        return OCRQ_ERR_DB;
    }
    if (!reset && before[0]) {
        fprintf(stderr, "ocrq-admin: job %s is %s: not requeued (left in %s)\n", id, before,
                s->cfg->queue_failed);
        s->skipped++;
        return HOLD;
    }
    int priority = m->priority >= 0 ? m->priority : d->has_row ? d->priority : 0;
    const char *queue = ocrq_mq_queue_for(s->cfg, priority);
    struct ocrq_mq_pub pub = {
        .exchange = "",
        .routing_key = queue,
        .message_id = id,
        .content_type = OCRQ_CONTENT_TYPE,
        .priority = priority,
        .body = m->body,
        .len = m->len,
    };
    uint64_t seq = 0;
    st = ocrq_mq_publish(s->mq, &pub, &seq);
    if (st == OCRQ_OK)
        st = ocrq_mq_wait_confirms(s->mq, 0, CONFIRM_TIMEOUT_MS, on_confirm, &ok);
    if (st != OCRQ_OK || !ok) {
        fprintf(stderr, "ocrq-admin: job %s: the broker did not confirm the publish to %s%s%s\n",
                id, queue, st != OCRQ_OK ? ": " : "", st != OCRQ_OK ? ocrq_strerror(st) : "");
        return st == OCRQ_OK || st == OCRQ_ERR_TIMEOUT ? OCRQ_ERR_NACKED : OCRQ_ERR_MQ;
    }
    st = ocrq_mq_ack(s->mq, m->delivery_tag);
    if (st != OCRQ_OK) {
        admin_report(
            "cannot remove the old copy from the failed queue (it stays: requeue it again)", st);
        return OCRQ_ERR_MQ;
    }
    printf("requeued %s to %s\n", id, queue);
    (void)requeued_before(s, id, 1);
    s->done++;
    return SETTLED;
}

/* ---- failed purge ------------------------------------------------------------ */

static int purge_one(struct scan *s, struct dead *d)
{
    /* with --older-than, a message whose time of death is unknown is kept */
    if (s->o->older_than_s >= 0 &&
        (d->died_at <= 0 || d->died_at >= (double)time(NULL) - (double)s->o->older_than_s))
        return HOLD;
    s->matched++;
    int st = ocrq_mq_ack(s->mq, d->msg->delivery_tag);
    if (st != OCRQ_OK) {
        admin_report("cannot drop a message", st);
        return OCRQ_ERR_MQ;
    }
    s->done++;
    return SETTLED;
}

/* ---- the commands -------------------------------------------------------------- */

static const struct {
    const char *name;
    dead_fn fn;
    int publishes;
} commands[] = {
    {"list", list_one, 0},
    {"show", show_one, 0},
    {"requeue", requeue_one, 1},
    {"purge", purge_one, 0},
};

int admin_failed(const struct ocrq_config *cfg, const struct admin_failed_opts *o)
{
    struct scan s = {.cfg = cfg, .o = o};
    size_t c = 0;
    int st;

    while (c < sizeof(commands) / sizeof(commands[0]) && strcmp(commands[c].name, o->sub) != 0)
        c++;
    if (c == sizeof(commands) / sizeof(commands[0]))
        return OCRQ_ERR_INVALID;
    st = admin_db_open(cfg, 1, "schema", &s.db);
    if (st != OCRQ_OK)
        goto out;
    st = ocrq_mq_connect(cfg, "ocrq-admin failed", &s.mq);
    if (st == OCRQ_OK && commands[c].publishes)
        st = ocrq_mq_confirm_select(s.mq);
    if (st != OCRQ_OK) {
        admin_report("cannot connect to the broker", st);
        st = OCRQ_ERR_MQ;
        goto out;
    }
    st = scan_failed(&s, commands[c].fn);
    if (st == OCRQ_ERR_NOT_FOUND) {
        fprintf(stderr, "ocrq-admin: %s is not declared: run ocrq-admin setup\n",
                cfg->queue_failed);
        st = OCRQ_ERR_MQ;
    }
    if (st != OCRQ_OK) {
        st = st == OCRQ_ERR_DB ? OCRQ_ERR_DB : OCRQ_ERR_MQ;
        goto out;
    }
    if (strcmp(o->sub, "list") == 0) {
        if (!o->json && s.matched == 0)
            printf("no dead-lettered messages%s\n", s.seen ? " match" : "");
    } else if (strcmp(o->sub, "show") == 0) {
        if (s.matched == 0) {
            fprintf(stderr, "ocrq-admin: no message of job %s in %s\n", o->job_id,
                    cfg->queue_failed);
            st = OCRQ_ERR_NOT_FOUND;
        }
    } else if (strcmp(o->sub, "requeue") == 0) {
        printf("%zu requeued, %zu left in %s\n", s.done, s.skipped, cfg->queue_failed);
        if (s.done == 0)
            st = OCRQ_ERR_NOT_FOUND;
        if (s.matched == 0)
            fprintf(stderr, "ocrq-admin: no dead-lettered message matches\n");
    } else {
        printf("%zu purged\n", s.done);
    }
out:
    free(s.ids);
    free(s.held);
    ocrq_mq_free(s.mq);
    ocrq_db_free(s.db);
    return st;
}
