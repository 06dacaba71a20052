/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The ocrq-submit engine. Inputs go in chunks of submit.batch_size: build and
 * encode each job (a large file's document is stored first, submit_store.c),
 * record the chunk as queued with one INSERT, then publish it with at most
 * amqp.confirm_window unconfirmed (submit_flight.c). A job counts as submitted
 * once the broker confirmed it; a lost broker is reconnected to and the
 * unconfirmed jobs are published again. With --wait, wait.c takes over.
 */
#include "submit.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ocrq/blob.h"
#include "ocrq/config.h"
#include "ocrq/db.h"
#include "ocrq/db_jobs.h"
#include "ocrq/job.h"
#include "ocrq/mq.h"
#include "ocrq/status.h"
#include "submit_broker.h"
#include "submit_flight.h"
#include "submit_store.h"
#include "wait.h"

#define WHY_MAX 512

/* One chunk of built jobs, arrays of submit.batch_size entries. */
struct chunk {
    struct ocrq_job **jobs;
    unsigned char **bodies;
    size_t *lens;
    size_t *idx; /* input index of each job */
    size_t n, cap, bytes;
    long long stored; /* bytes of the chunk's documents put into the store */
    size_t sent;      /* jobs handed to the flight so far (their bodies with them) */
};

struct engine {
    struct submit_run *run;
    struct ocrq_db *db;
    struct submit_broker broker; /* .mq: the connection, NULL before and after */
    const char *queue;           /* where this run's jobs go */
    const char *language;
    struct chunk chunk;
    struct submit_flight flight; /* the jobs published or due, not yet confirmed */
    struct submit_stored stored; /* the run's documents in the store */
    size_t next_input;           /* first input not yet in a chunk */
    int lost;                    /* a confirm said the broker closed the channel */
    size_t nacked;
    int queue_checked; /* after a nack: whether the queue still exists was asked */
    int queue_missing;
};

/* Print "ocrq-submit: <source>: <message>" on stderr. */
void submit_report(struct submit_run *run, const char *source, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    progress_clear(&run->progress);
    fflush(stdout);
    if (source)
        fprintf(stderr, "ocrq-submit: %s: %s\n", source, msg);
    else
        fprintf(stderr, "ocrq-submit: %s\n", msg);
}

/* Write one --json line for input i. */
void submit_json(struct submit_run *run, size_t i, const char *job_id, const char *status,
                 const char *error)
{
    char *line = ocrq_job_status_json(job_id, run->inputs->items[i].source, status, error);
    if (!line)
        return;
    if (run->stdout_tty)
        progress_clear(&run->progress);
    fputs(line, stdout);
    fputc('\n', stdout);
    free(line);
}

static void show_progress(struct submit_run *run)
{
    const struct submit_result *r = run->res;
    progress_update(&run->progress, r->submitted, r->succeeded,
                    r->errors + r->failed + r->canceled);
}

/* Input i cannot be submitted: say why on stderr and in --json. */
static void input_error(struct submit_run *run, size_t i, const char *why)
{
    run->items[i].state = ITEM_ERROR;
    run->res->errors++;
    submit_report(run, run->inputs->items[i].source, "%s", why);
    if (run->opts->json)
        submit_json(run, i, NULL, "error", why);
    show_progress(run);
}

static int dup_opt(char **dst, const char *src)
{
    if (!src)
        return OCRQ_OK;
    *dst = strdup(src);
    return *dst ? OCRQ_OK : OCRQ_ERR_NOMEM;
}

/*
 * The document of file input i: inline bytes (*data, the caller frees them)
 * or a blob just stored (job->doc_ref). Returns as submit_store_load().
 */
static int file_doc(struct engine *e, size_t i, struct ocrq_job *job, unsigned char **data,
                    char *why, size_t whylen)
{
    struct submit_doc doc;
    int st = submit_store_load(e->db, e->broker.mq, e->run->cfg, e->run->inputs->items[i].source,
                               job->job_id, &doc, why, whylen);

    *data = doc.data;
    if (st != OCRQ_OK || !doc.blob_id[0]) {
        job->doc_kind = OCRQ_DOC_INLINE;
        job->doc_data = doc.data;
        job->doc_len = doc.len;
        return st;
    }
    job->doc_kind = OCRQ_DOC_STORED;
    job->doc_size = doc.size;
    if (!(job->doc_ref = strdup(doc.blob_id))) {
        ocrq_blob_delete(e->db, doc.blob_id);
        return OCRQ_ERR_NOMEM;
    }
    return OCRQ_OK;
}

/*
 * Build and encode the job of input i. Returns OCRQ_OK with *jobp and *body,
 * OCRQ_ERR_NOMEM or OCRQ_ERR_DB (the run stops), or another status with the
 * reason in why (an input error). A document stored for a job that is not
 * built is deleted again.
 */
static int build(struct engine *e, size_t i, struct ocrq_job **jobp, unsigned char **body,
                 size_t *len, char *why, size_t whylen)
{
    const struct submit_opts *o = e->run->opts;
    const struct input *in = &e->run->inputs->items[i];
    struct ocrq_job *job = NULL;
    unsigned char *data = NULL;
    int st = OCRQ_ERR_NOMEM;

    *jobp = NULL;
    *body = NULL;
    *len = 0;
    why[0] = '\0';
    if (!(job = ocrq_job_new()))
        goto out;
    job->priority = o->priority;
    job->formats = o->formats;
    if (dup_opt(&job->language, e->language) || dup_opt(&job->source, in->source) ||
        dup_opt(&job->webhook_url, o->webhook) || dup_opt(&job->batch, e->run->res->batch) ||
        dup_opt(&job->metadata, o->metadata))
        goto out;
    if (in->kind == INPUT_URL) {
        job->doc_kind = OCRQ_DOC_URL;
        if (dup_opt(&job->doc_ref, in->source))
            goto out;
    } else if (o->by_path) {
        job->doc_kind = OCRQ_DOC_PATH;
        if (!(job->doc_ref = realpath(in->source, NULL))) {
            st = errno == ENOMEM ? OCRQ_ERR_NOMEM : OCRQ_ERR_IO;
            snprintf(why, whylen, "%s", strerror(errno));
            goto out;
        }
    } else if ((st = file_doc(e, i, job, &data, why, whylen)) != OCRQ_OK) {
        goto out;
    }
    st = ocrq_job_encode(job, body, len, why, whylen);
    if (st == OCRQ_ERR_BAD_JOB && !why[0])
        snprintf(why, whylen, "%s", ocrq_strerror(st));
    if (st == OCRQ_OK && job->doc_kind == OCRQ_DOC_STORED)
        st = submit_stored_add(&e->stored, i, job->doc_ref);
    if (st != OCRQ_OK)
        goto out;
    job->doc_data = NULL; /* borrowed: freed below */
    *jobp = job;
    job = NULL;
out:
    if (st == OCRQ_ERR_NOMEM)
        snprintf(why, whylen, "%s", ocrq_strerror(st));
    if (job && job->doc_kind == OCRQ_DOC_STORED && job->doc_ref)
        ocrq_blob_delete(e->db, job->doc_ref); /* not built: never referenced */
    if (*body && st != OCRQ_OK) {
        free(*body);
        *body = NULL;
        *len = 0;
    }
    ocrq_job_free(job);
    free(data);
    return st;
}

/*
 * Confirm of one publish: the input is submitted, or it failed. A publish the
 * broker's close of the channel left unconfirmed goes out again after a
 * reconnect, unless that happened to it SUBMIT_MAX_CHANNEL_LOSSES times: a
 * message the broker will not take (over its max_message_size, say) closes
 * the channel each time, and then fails as refused instead of forever.
 */
static void on_confirm(void *arg, uint64_t seq, int ok)
{
    struct engine *e = arg;
    struct submit_run *run = e->run;
    struct flight_msg *m = flight_find(&e->flight, seq);

    if (!m)
        return; /* not one of ours */
    if (ok == OCRQ_MQ_LOST && !e->queue_missing && ++m->losses < SUBMIT_MAX_CHANNEL_LOSSES) {
        e->lost = 1;
        return;
    }
    size_t i = m->idx;
    struct submit_item *it = &run->items[i];
    flight_settle(&e->flight, m);
    if (it->state != ITEM_SENT)
        return;
    if (ok > 0) {
        it->state = ITEM_QUEUED;
        run->res->submitted++;
        if (run->opts->json && !run->opts->wait)
            submit_json(run, i, it->job_id, "queued", NULL);
        show_progress(run);
        return;
    }
    e->nacked++;
    /* The row was recorded as queued: mark it failed so it does not stay queued forever. */
    ocrq_db_job_fail(e->db, it->job_id, NULL, "ocrq-submit", ocrq_error_code(OCRQ_ERR_NACKED),
                     "broker refused the message");
    submit_stored_drop(&e->stored, e->db, i);
    input_error(run, i, "broker refused the message");
}

/*
 * Read confirms until at most max_pending are outstanding. Returns OCRQ_OK;
 * OCRQ_ERR_MQ when the connection or the channel was lost (to reconnect); or,
 * said on stderr, OCRQ_ERR_TIMEOUT (the broker went silent) or
 * OCRQ_ERR_NOT_FOUND (the queue is gone).
 */
static int wait_confirms(struct engine *e, size_t max_pending)
{
    int st =
        ocrq_mq_wait_confirms(e->broker.mq, max_pending, SUBMIT_CONFIRM_TIMEOUT_MS, on_confirm, e);
    if (st == OCRQ_ERR_TIMEOUT) {
        submit_report(e->run, NULL, "broker: no confirm within %d s",
                      SUBMIT_CONFIRM_TIMEOUT_MS / 1000);
        return st;
    }
    if (st != OCRQ_OK || e->lost)
        return OCRQ_ERR_MQ;
    if (e->nacked && !e->queue_checked) {
        /* A publish that comes back is most often a queue deleted meanwhile: stop then. */
        e->queue_checked = 1;
        if (ocrq_mq_queue_info(e->broker.mq, e->queue, NULL, NULL) == OCRQ_ERR_NOT_FOUND) {
            submit_report(e->run, NULL, "queue %s does not exist: run ocrq-admin setup", e->queue);
            e->queue_missing = 1;
            return OCRQ_ERR_NOT_FOUND;
        }
    }
    return OCRQ_OK;
}

static void chunk_clear(struct chunk *c)
{
    for (size_t k = 0; k < c->n; k++) {
        ocrq_job_free(c->jobs[k]);
        c->jobs[k] = NULL;
        free(c->bodies[k]);
        c->bodies[k] = NULL;
    }
    c->n = 0;
    c->sent = 0;
    c->bytes = 0;
    c->stored = 0;
}

/*
 * Build the chunk that starts at input e->next_input and record it as queued
 * with one INSERT; e->next_input moves past it. Returns OCRQ_OK (the chunk may
 * be empty at the end of the inputs), OCRQ_ERR_NOMEM or OCRQ_ERR_DB.
 */
static int prepare(struct engine *e, struct chunk *c)
{
    struct submit_run *run = e->run;
    char why[WHY_MAX];
    size_t i = e->next_input;
    int st = OCRQ_OK;

    chunk_clear(c);
    /* a chunk also ends after as many bytes stored: its jobs then go out before the next store */
    for (; i < run->inputs->n && c->n < c->cap &&
           c->bytes + (unsigned long long)c->stored < SUBMIT_CHUNK_MAX_BYTES;
         i++) {
        if (run->inputs->items[i].error) {
            input_error(run, i, run->inputs->items[i].error);
            continue;
        }
        st = build(e, i, &c->jobs[c->n], &c->bodies[c->n], &c->lens[c->n], why, sizeof why);
        if (st == OCRQ_ERR_NOMEM || st == OCRQ_ERR_DB) {
            submit_report(run, run->inputs->items[i].source, "%s", why);
            goto out;
        }
        if (st != OCRQ_OK) {
            input_error(run, i, why);
            st = OCRQ_OK;
            continue;
        }
        memcpy(run->items[i].job_id, c->jobs[c->n]->job_id, sizeof run->items[i].job_id);
        c->idx[c->n] = i;
        c->bytes += c->lens[c->n];
        if (c->jobs[c->n]->doc_kind == OCRQ_DOC_STORED)
            c->stored += c->jobs[c->n]->doc_size;
        c->n++;
    }
    e->next_input = i;
    if (c->n == 0)
        goto out;
    st = ocrq_db_jobs_queue(e->db, (const struct ocrq_job *const *)c->jobs, c->n);
    if (st != OCRQ_OK) {
        submit_report(run, NULL, "database: cannot record jobs: %s", ocrq_strerror(st));
        st = OCRQ_ERR_DB;
        goto out;
    }
    for (size_t k = 0; k < c->n; k++) { /* recorded: only the bodies are needed now */
        ocrq_job_free(c->jobs[k]);
        c->jobs[k] = NULL;
    }
out:
    if (st != OCRQ_OK) {
        for (size_t k = 0; k < c->n; k++) /* never recorded: their documents go */
            submit_stored_drop(&e->stored, e->db, c->idx[k]);
        chunk_clear(c);
    }
    return st;
}

/* Publish the next job of the flight. OCRQ_OK, OCRQ_ERR_MQ (connection lost) or another error. */
static int send_next(struct engine *e)
{
    const struct flight_msg *m = flight_next(&e->flight);
    struct submit_item *it = &e->run->items[m->idx];
    struct ocrq_mq_pub pub = {
        .exchange = "",
        .routing_key = e->queue,
        .message_id = it->job_id,
        .content_type = OCRQ_CONTENT_TYPE,
        .priority = e->run->opts->priority,
        .body = m->body,
        .len = m->len,
    };
    uint64_t seq = 0;

    int st = ocrq_mq_publish(e->broker.mq, &pub, &seq);
    if (st == OCRQ_ERR_MQ)
        return st;
    if (st == OCRQ_OK) {
        it->state = ITEM_SENT;
        st = flight_published(&e->flight, seq);
    }
    if (st != OCRQ_OK)
        submit_report(e->run, NULL, "broker: publish failed: %s", ocrq_strerror(st));
    return st;
}

/*
 * Publish what the flight holds unpublished, then read confirms until it has
 * room for another job (all: until every job is confirmed), reconnecting to a
 * lost broker on the way. Returns OCRQ_OK, or OCRQ_ERR_MQ when the broker is
 * gone for good, went silent, or lost the queue (said on stderr).
 */
static int advance(struct engine *e, int all)
{
    for (;;) {
        int st = OCRQ_OK;
        while (st == OCRQ_OK && flight_next(&e->flight))
            st = send_next(e);
        if (st == OCRQ_OK) {
            if (all ? flight_held(&e->flight) == 0 : !flight_full(&e->flight))
                return OCRQ_OK;
            size_t pending = ocrq_mq_pending(e->broker.mq);
            if (pending == 0) { /* never: the broker owes a confirm for each job held */
                submit_report(e->run, NULL, "broker: %zu publishes not tracked",
                              flight_held(&e->flight));
                return OCRQ_ERR_MQ;
            }
            st = wait_confirms(e, all ? 0 : pending - 1);
        }
        if (st == OCRQ_ERR_MQ) {
            e->lost = 0;
            st = submit_broker_reconnect(&e->broker, e->run, flight_rewind(&e->flight));
        }
        if (st != OCRQ_OK)
            return OCRQ_ERR_MQ;
    }
}

/*
 * Record and publish the inputs chunk by chunk, each job's body going into
 * the flight until its confirm, then wait for every confirm.
 */
static int publish_all(struct engine *e)
{
    struct chunk *c = &e->chunk;
    int st = OCRQ_OK;

    while (st == OCRQ_OK && (c->sent < c->n || e->next_input < e->run->inputs->n)) {
        if (c->sent == c->n) {
            st = prepare(e, c);
            continue;
        }
        st = advance(e, 0);
        if (st == OCRQ_OK) {
            size_t k = c->sent++;
            flight_add(&e->flight, c->idx[k], c->bodies[k], c->lens[k]);
            c->bodies[k] = NULL;
        }
    }
    return st == OCRQ_OK ? advance(e, 1) : st;
}

static int chunk_init(struct chunk *c, size_t cap)
{
    memset(c, 0, sizeof *c);
    c->jobs = calloc(cap, sizeof *c->jobs);
    c->bodies = calloc(cap, sizeof *c->bodies);
    c->lens = calloc(cap, sizeof *c->lens);
    c->idx = calloc(cap, sizeof *c->idx);
    c->cap = cap;
    return c->jobs && c->bodies && c->lens && c->idx ? OCRQ_OK : OCRQ_ERR_NOMEM;
}

static void chunk_cleanup(struct chunk *c)
{
    if (c->jobs)
        chunk_clear(c);
    free(c->jobs);
    free(c->bodies);
    free(c->lens);
    free(c->idx);
}

/* Connect to both services and check that this run's queue exists. */
static int connect_all(struct engine *e)
{
    const struct ocrq_config *cfg = e->run->cfg;
    char url[512];
    int st = ocrq_db_connect(cfg, &e->db);

    if (st != OCRQ_OK) {
        submit_redact_url(cfg->database_url, url, sizeof url);
        submit_report(e->run, NULL, "cannot connect to the database at %s: %s", url,
                      ocrq_strerror(st));
        return OCRQ_ERR_DB;
    }
    return submit_broker_connect(&e->broker, e->run);
}

/* Mark one recorded but unpublished job failed, so that its row does not stay queued. */
static void abandon_job(struct engine *e, size_t i, const char *why)
{
    struct submit_item *it = &e->run->items[i];
    if (it->state != ITEM_TODO)
        return;
    ocrq_db_job_fail(e->db, it->job_id, NULL, "ocrq-submit", ocrq_error_code(OCRQ_ERR_MQ), why);
    submit_stored_drop(&e->stored, e->db, i);
    input_error(e->run, i, why);
}

/*
 * The broker failed: the jobs recorded but never published (in the chunk or
 * in the flight) never will be. Returns how many jobs were published but
 * not confirmed: their rows stay queued, their messages may be in the queue.
 */
static size_t abandon(struct engine *e, const char *why)
{
    size_t unconfirmed = 0;

    for (size_t k = 0; k < e->chunk.n; k++) /* the published are no longer ITEM_TODO */
        abandon_job(e, e->chunk.idx[k], why);
    for (uint64_t p = e->flight.head; p < e->flight.tail; p++) {
        const struct flight_msg *m = flight_slot(&e->flight, p);
        if (!m->body)
            continue;
        abandon_job(e, m->idx, why);
        unconfirmed += e->run->items[m->idx].state == ITEM_SENT;
    }
    return unconfirmed;
}

/* Submit every input, then wait for the confirms of all. */
static int submit_all(struct engine *e)
{
    int st = connect_all(e);
    int mq_st = OCRQ_OK; /* whether the broker took every job recorded */

    if (st == OCRQ_OK)
        st = publish_all(e);
    if (st == OCRQ_ERR_MQ)
        mq_st = st;
    else if (st == OCRQ_ERR_DB && e->broker.mq)
        mq_st = advance(e, 1); /* what was recorded still goes out, and gets its --json line */
    if (mq_st == OCRQ_OK)
        return st;
    if (e->queue_missing && e->broker.mq)
        (void)wait_confirms(e, 0); /* the publishes in flight come back failed: record them so */
    size_t unconfirmed = abandon(e, e->queue_missing ? "not published: queue missing"
                                                     : "not published: broker unavailable");
    if (unconfirmed)
        submit_report(e->run, NULL, "%zu published jobs were not confirmed", unconfirmed);
    return st;
}

static void summary(const struct submit_run *run)
{
    const struct submit_result *r = run->res;
    double s = r->seconds > 1e-6 ? r->seconds : 1e-6;

    fprintf(stderr, "submitted %zu jobs in %.2f s (%.0f jobs/s), batch %s\n", r->submitted,
            r->seconds, (double)r->submitted / s, r->batch);
    if (r->errors)
        fprintf(stderr, "%zu inputs could not be submitted\n", r->errors);
    if (run->opts->wait && !r->fatal)
        fprintf(stderr, "%zu succeeded, %zu failed, %zu canceled%s\n", r->succeeded, r->failed,
                r->canceled, r->timed_out ? " (timed out)" : "");
}

/* Submit the inputs; see submit.h. */
int submit_run(const struct ocrq_config *cfg, const struct submit_opts *opts,
               const struct input_list *inputs, struct submit_result *res)
{
    struct submit_run run = {cfg, opts, inputs, NULL, NULL, {0}, 0, res};
    struct engine e;
    int st = OCRQ_OK;

    memset(res, 0, sizeof *res);
    memset(&e, 0, sizeof e);
    e.run = &run;
    e.queue = ocrq_mq_queue_for(cfg, opts->priority);
    e.broker.cfg = cfg;
    e.broker.queue = e.queue;
    e.language = opts->language ? opts->language : cfg->default_language;
    res->total = inputs->n;
    if (opts->batch)
        snprintf(res->batch, sizeof res->batch, "%s", opts->batch);
    else
        ocrq_uuid_new(res->batch);
    progress_init(&run.progress, !opts->quiet, inputs->n);
    run.stdout_tty = isatty(STDOUT_FILENO);

    run.items = calloc(inputs->n ? inputs->n : 1, sizeof *run.items);
    if (!run.items ||
        chunk_init(&e.chunk, cfg->submit_batch_size > 0 ? (size_t)cfg->submit_batch_size : 1) ||
        flight_init(&e.flight, cfg->amqp_confirm_window > 0 ? (size_t)cfg->amqp_confirm_window : 1,
                    SUBMIT_FLIGHT_MAX_BYTES)) {
        st = OCRQ_ERR_NOMEM;
        submit_report(&run, NULL, "%s", ocrq_strerror(st));
        goto out;
    }
    if (opts->output_dir) {
        if (wait_make_dir(opts->output_dir) != OCRQ_OK) {
            submit_report(&run, opts->output_dir, "cannot create the output directory: %s",
                          strerror(errno));
            st = OCRQ_ERR_IO;
            goto out;
        }
        if ((st = inputs_output_names(inputs, &run.out_names)) != OCRQ_OK) {
            submit_report(&run, NULL, "%s", ocrq_strerror(st));
            goto out;
        }
    }

    st = submit_all(&e);
    res->seconds = progress_now() - run.progress.t_start;
    show_progress(&run);
    if (st == OCRQ_OK && opts->wait) {
        progress_start_wait(&run.progress);
        st = wait_run(&run, e.db);
    }
out:
    progress_clear(&run.progress);
    fflush(stdout);
    res->fatal = st;
    if (!opts->quiet && st != OCRQ_ERR_NOMEM && st != OCRQ_ERR_IO &&
        (st == OCRQ_OK || res->submitted))
        summary(&run);
    chunk_cleanup(&e.chunk);
    flight_cleanup(&e.flight);
    submit_stored_cleanup(&e.stored);
    submit_broker_close(&e.broker);
    ocrq_db_free(e.db);
    inputs_free_names(run.out_names, inputs->n);
    free(run.items);
    return st;
}
