/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The pipeline of ocrq-api: one thread owns a broker connection (confirm
 * mode) and a database connection. Pool threads hand it parsed jobs. It
 * keeps up to amqp.confirm_window publishes unconfirmed all the time, as
 * ocrq-submit does, instead of waiting for each round's confirms before
 * taking the next:
 *
 *   1. it takes the jobs that are waiting (up to api.batch_max, and as many
 *      as the window has room for) and records them as queued with their
 *      Idempotency-Keys: one statement, one commit (ocrq_db_api_accept);
 *   2. publishes the new ones (persistent, mandatory) without waiting;
 *   3. reads the confirms that have come, and answers each job as its own
 *      arrives: 202 once confirmed, 503 if refused (a full queue nacks), if
 *      the broker went away, or if no confirm came within
 *      api.publish_timeout_s;
 *   4. marks the confirmed Idempotency-Keys and removes the refused jobs.
 *
 * So no 202 is ever sent for a job that is not both recorded and durable
 * in the broker, while the next batch is recorded and published as the
 * broker confirms the last. With nothing to take it waits for whichever
 * comes first, a job or a confirm; with nothing in flight either it
 * services heartbeats and samples the job queues' depth for the
 * backpressure check of the pool threads.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "api.h"
#include "ocrq/clock.h"
#include "ocrq/config.h"
#include "ocrq/db.h"
#include "ocrq/db_api.h"
#include "ocrq/http.h"
#include "ocrq/job.h"
#include "ocrq/log.h"
#include "ocrq/mq.h"
#include "ocrq/status.h"

#define DEPTH_EVERY_MS 250
#define DB_IDLE_CHECK_MS 1000    /* an idle database connection is pinged before use */
#define DASH_DEPTH_EVERY_MS 2000 /* the retry and failed queues, for the dashboard */
#define IDLE_WAIT_MS 250
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_RELAXED)

struct api_pipeline {
    struct api *api;
    pthread_t thread;
    int started;
    int efd; /* eventfd: work arrived or stop */

    pthread_mutex_t mu; /* guards the list and stop */
    struct api_job *head, **tail;
    int stop;

    /* the thread's own */
    struct ocrq_mq *mq;
    struct ocrq_db *db;
    int url_idx;
    int connects;
    int backoff_ms;
    int64_t retry_at_ms, depth_at_ms;
    int64_t dash_depth_at_ms; /* when sample_dash_depth() last ran */
    /* the publishes not yet confirmed: fl[(fl_head + i) % fl_cap] has sequence number seq0 + i */
    struct api_job **fl;
    size_t fl_cap, fl_head, fl_n;
    uint64_t seq0;
    size_t n_answered, ans_cap; /* jobs answered since the last settle_keys(), room for */
    const char **confirmed, **rejected;
    char (*ids)[OCRQ_UUID_LEN + 1];
    size_t n_conf, n_rej;
    int64_t beat_ms;    /* the loop's last turn (atomic): the watchdog's sign of life */
    int64_t db_used_ms; /* when db last answered */
};

/* Answer j's request (already replied to) and free j. */
static void finish(struct api_job *j)
{
    struct ocrq_http_req *req = j->req;
    api_job_free(j);
    ocrq_http_resume(req);
}

static void fail_job(struct api_pipeline *p, struct api_job *j, const char *code, const char *msg)
{
    api_error_retry(j->req, 503, p->api->cfg->api_retry_after_s, code, "%s", msg);
    finish(j);
}

static void answer(struct api_pipeline *p, struct api_job *j, int acked);
static void settle_keys(struct api_pipeline *p);

/* The connection is gone: every publish in flight is answered as not confirmed. */
static void drop_mq(struct api_pipeline *p)
{
    while (p->fl_n > 0) {
        struct api_job *j = p->fl[p->fl_head];
        p->fl[p->fl_head] = NULL;
        p->fl_head = (p->fl_head + 1) % p->fl_cap;
        p->fl_n--;
        p->seq0++;
        if (j)
            answer(p, j, -1);
    }
    if (p->n_answered > 0)
        settle_keys(p);
    if (!p->mq)
        return;
    ocrq_mq_free(p->mq);
    p->mq = NULL;
    __atomic_store_n(&p->api->broker_up, 0, __ATOMIC_RELEASE);
    p->retry_at_ms = 0;
}

/* Connect to the next broker (amqp.urls in turn) unless backing off. */
static int connect_mq(struct api_pipeline *p)
{
    const struct ocrq_config *cfg = p->api->cfg;
    int64_t now = ocrq_now_ms();

    if (p->mq)
        return OCRQ_OK;
    if (now < p->retry_at_ms)
        return OCRQ_ERR_MQ;
    const char *url =
        cfg->n_amqp_urls > 0 ? cfg->amqp_urls[p->url_idx % cfg->n_amqp_urls] : cfg->amqp_url;
    struct ocrq_mq *mq = NULL;
    int st = ocrq_mq_connect_to(cfg, url, "ocrq-api", &mq);
    if (st == OCRQ_OK)
        st = ocrq_mq_declare_topology(mq);
    if (st == OCRQ_OK)
        st = ocrq_mq_confirm_select(mq);
    if (st != OCRQ_OK) {
        ocrq_mq_free(mq);
        p->url_idx++;
        p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : BACKOFF_MIN_MS;
        if (p->backoff_ms > BACKOFF_MAX_MS)
            p->backoff_ms = BACKOFF_MAX_MS;
        p->retry_at_ms = now + p->backoff_ms;
        return OCRQ_ERR_MQ;
    }
    if (p->connects++ > 0) {
        ADD(&p->api->stats.reconnects, 1);
        log_info(NULL, "api: connected to the broker again");
    }
    p->mq = mq;
    p->backoff_ms = 0;
    p->depth_at_ms = 0;
    __atomic_store_n(&p->api->broker_up, 1, __ATOMIC_RELEASE);
    return OCRQ_OK;
}

/*
 * The pipeline's database connection, checked with a round trip when it was
 * idle for DB_IDLE_CHECK_MS: a server restarted meanwhile leaves a
 * connection that looks up until it is used, and the first batch after an
 * outage would otherwise be answered 503.
 */
static int connect_db(struct api_pipeline *p)
{
    int64_t now = ocrq_now_ms();

    if (p->db && ocrq_db_alive(p->db) &&
        (now - p->db_used_ms < DB_IDLE_CHECK_MS || ocrq_db_ping(p->db) == OCRQ_OK)) {
        p->db_used_ms = now;
        return OCRQ_OK;
    }
    ocrq_db_free(p->db);
    p->db = NULL;
    int st = ocrq_db_connect(p->api->cfg, &p->db);
    if (st == OCRQ_OK)
        p->db_used_ms = now;
    return st;
}

/*
 * For the dashboard (api_ui.c): the messages waiting in all retry delay
 * queues into depth[2], the failed queue's into depth[3]. OCRQ_ERR_MQ if
 * the connection broke.
 */
static int sample_dash_depth(struct api_pipeline *p)
{
    const struct ocrq_config *cfg = p->api->cfg;
    const char *queues[2] = {cfg->queue_jobs, cfg->queue_priority};
    unsigned retry = 0, failed = 0, ready;
    char name[256];

    for (int i = 0; i < 2; i++)
        for (int d = 0; d < cfg->n_retry_delays && d < OCRQ_MAX_RETRY_DELAYS; d++) {
            ocrq_mq_retry_queue(cfg, queues[i], d, name, sizeof name);
            ready = 0;
            if (ocrq_mq_queue_info(p->mq, name, &ready, NULL) == OCRQ_ERR_MQ)
                return OCRQ_ERR_MQ;
            retry += ready;
        }
    if (ocrq_mq_queue_info(p->mq, cfg->queue_failed, &failed, NULL) == OCRQ_ERR_MQ)
        return OCRQ_ERR_MQ;
    __atomic_store_n(&p->api->depth[2], retry, __ATOMIC_RELAXED);
    __atomic_store_n(&p->api->depth[3], failed, __ATOMIC_RELAXED);
    return OCRQ_OK;
}

/* Sample the ready count of both job queues for the pool threads' 503 check. */
static void sample_depth(struct api_pipeline *p)
{
    const struct ocrq_config *cfg = p->api->cfg;
    const char *queues[2] = {cfg->queue_jobs, cfg->queue_priority};
    int64_t now = ocrq_now_ms();

    if (!p->mq || now - p->depth_at_ms < DEPTH_EVERY_MS)
        return;
    p->depth_at_ms = now;
    if (now - p->dash_depth_at_ms >= DASH_DEPTH_EVERY_MS) {
        p->dash_depth_at_ms = now;
        if (sample_dash_depth(p) == OCRQ_ERR_MQ) {
            drop_mq(p);
            return;
        }
    }
    for (int i = 0; i < 2; i++) {
        unsigned ready = 0;
        int st = ocrq_mq_queue_info(p->mq, queues[i], &ready, NULL);
        if (st == OCRQ_ERR_MQ) {
            drop_mq(p);
            return;
        }
        __atomic_store_n(&p->api->depth[i], ready, __ATOMIC_RELAXED);
    }
}

/*
 * Answer a job whose publish is settled: acked 1 (confirmed), 0 (refused)
 * or -1 (unknown: the connection went, or no confirm in time). The keys to
 * mark wait in p->confirmed / p->rejected for settle_keys().
 */
static void answer(struct api_pipeline *p, struct api_job *j, int acked)
{
    struct api *api = p->api;

    if (p->n_answered == p->ans_cap)
        settle_keys(p); /* so that ids[] has room */
    char *id = p->ids[p->n_answered++];

    memcpy(id, j->job->job_id, OCRQ_UUID_LEN + 1);
    /* confirmed, or maybe in the queue (or recorded, to be published again): keep its blob */
    if (j->own_blob && acked != 0)
        api_upload_keep(j->up);
    if (acked == 1) {
        if (j->idem_key[0])
            p->confirmed[p->n_conf++] = id;
        if (j->outcome == OCRQ_ACCEPT_NEW)
            ADD(&api->stats.accepted, 1);
        else
            ADD(&api->stats.replayed, 1);
        api_accepted(j->req, id, "queued", j->outcome != OCRQ_ACCEPT_NEW);
        finish(j);
    } else if (acked == 0) {
        ADD(&api->stats.nacked, 1);
        if (j->outcome == OCRQ_ACCEPT_NEW)
            p->rejected[p->n_rej++] = id;
        fail_job(p, j, "queue_full", "the broker refused the job: the job queue is full");
    } else {
        /* unknown: the row stays queued; a repeat with its Idempotency-Key publishes it again */
        fail_job(p, j, "broker_unavailable",
                 "the message broker is unavailable: the job was not accepted");
    }
}

/* Mark the Idempotency-Keys of the jobs answered since the last call. */
static void settle_keys(struct api_pipeline *p)
{
    if (p->n_conf > 0 && (connect_db(p) != OCRQ_OK ||
                          ocrq_db_api_confirmed(p->db, p->confirmed, p->n_conf) != OCRQ_OK))
        log_warn(NULL,
                 "api: cannot mark %zu Idempotency-Keys confirmed (repeats will"
                 " publish their jobs again, which workers run once)",
                 p->n_conf);
    if (p->n_rej > 0 &&
        (connect_db(p) != OCRQ_OK || ocrq_db_api_rejected(p->db, p->rejected, p->n_rej) != OCRQ_OK))
        log_warn(NULL, "api: cannot remove %zu refused jobs: they stay queued", p->n_rej);
    p->n_conf = p->n_rej = p->n_answered = 0;
}

static void on_confirm(void *arg, uint64_t seq, int ok)
{
    struct api_pipeline *p = arg;
    if (seq < p->seq0 || seq - p->seq0 >= p->fl_n)
        return;
    size_t k = (p->fl_head + (size_t)(seq - p->seq0)) % p->fl_cap;
    struct api_job *j = p->fl[k];
    if (!j)
        return;
    p->fl[k] = NULL;
    answer(p, j, ok == 1 ? 1 : 0);
}

/* Drop the answered publishes from the front of the window. */
static void advance(struct api_pipeline *p)
{
    while (p->fl_n > 0 && p->fl[p->fl_head] == NULL) {
        p->fl_head = (p->fl_head + 1) % p->fl_cap;
        p->fl_n--;
        p->seq0++;
    }
}

/*
 * Read the confirms that came, waiting up to wait_ms (0: none) for the
 * first, and answer their jobs. A lost connection or a publish older than
 * api.publish_timeout_s answers everything in flight as not confirmed.
 */
static void collect(struct api_pipeline *p, int wait_ms)
{
    int64_t timeout_ms = (int64_t)p->api->cfg->api_publish_timeout_s * 1000;

    if (!p->mq || p->fl_n == 0)
        return;
    int st = ocrq_mq_wait_confirms(p->mq, 0, wait_ms, on_confirm, p);
    advance(p);
    if (st == OCRQ_ERR_MQ) {
        log_warn(NULL, "api: lost the broker connection with %zu publishes unconfirmed", p->fl_n);
        drop_mq(p);
    } else if (p->fl_n > 0 && ocrq_now_ms() - p->fl[p->fl_head]->published_ms > timeout_ms) {
        log_warn(NULL, "api: no confirm from the broker in %d s: reconnecting",
                 p->api->cfg->api_publish_timeout_s);
        drop_mq(p);
    }
    if (p->n_answered > 0)
        settle_keys(p);
}

/*
 * Publish round[0..n-1] into the window (which has room). Returns OCRQ_OK,
 * or OCRQ_ERR_MQ: the connection broke, and round[i..n-1] are not in the
 * window (the caller answers them).
 */
static int publish(struct api_pipeline *p, struct api_job **round, size_t n, size_t *done)
{
    const struct ocrq_config *cfg = p->api->cfg;
    int64_t now = ocrq_now_ms();

    *done = 0;
    ocrq_mq_cork(p->mq, 1); /* the batch goes out in full segments */
    for (size_t i = 0; i < n; i++) {
        struct api_job *j = round[i];
        struct ocrq_mq_pub pub = {
            .exchange = "",
            .routing_key = ocrq_mq_queue_for(cfg, j->job->priority),
            .message_id = j->job->job_id,
            .content_type = OCRQ_CONTENT_TYPE,
            .priority = j->job->priority,
            .body = j->msg,
            .len = j->msg_len,
        };
        uint64_t seq = 0;
        if (ocrq_mq_publish(p->mq, &pub, &seq) != OCRQ_OK)
            return OCRQ_ERR_MQ;
        if (p->fl_n == 0)
            p->seq0 = seq;
        else if (seq != p->seq0 + p->fl_n) { /* never: one channel numbers publishes in order */
            log_error(NULL, "api: confirm sequence out of order (%llu after %llu + %zu)",
                      (unsigned long long)seq, (unsigned long long)p->seq0, p->fl_n);
            return OCRQ_ERR_MQ;
        }
        j->published_ms = now;
        p->fl[(p->fl_head + p->fl_n++) % p->fl_cap] = j;
        (*done)++;
    }
    ocrq_mq_cork(p->mq, 0);
    return OCRQ_OK;
}

/*
 * A repeat whose job was never confirmed: publish it again under the
 * original job_id (workers run one job id once), from this request's body,
 * which the fingerprint showed to be the same. A stored document is the
 * original job's blob (kept for it), not this request's copy.
 */
static int reencode(struct api_job *j, const struct ocrq_db_accept *acc)
{
    char why[256];
    unsigned char *msg = NULL;
    size_t len = 0;

    snprintf(j->job->job_id, sizeof j->job->job_id, "%s", acc->job_id);
    if (j->job->doc_kind == OCRQ_DOC_STORED && acc->doc_blob_id[0]) {
        char *ref = strdup(acc->doc_blob_id);
        if (!ref)
            return OCRQ_ERR_NOMEM;
        free(j->job->doc_ref);
        j->job->doc_ref = ref;
        j->own_blob = 0;
    }
    if (ocrq_job_encode(j->job, &msg, &len, why, sizeof why) != OCRQ_OK)
        return OCRQ_ERR_INVALID;
    free(j->msg);
    j->msg = msg;
    j->msg_len = len;
    return OCRQ_OK;
}

/* Record jobs[0..n-1], answer those that need no publish, publish the rest into the window. */
static void run_round(struct api_pipeline *p, struct api_job **jobs, size_t n)
{
    struct api *api = p->api;
    struct ocrq_db_accept *acc = calloc(n, sizeof *acc);
    struct api_job **in_db = calloc(n, sizeof *in_db);
    struct api_job **round = calloc(n, sizeof *round);
    size_t n_acc = 0, n_round = 0, done = 0;

    if (!acc || !in_db || !round) {
        for (size_t i = 0; i < n; i++)
            fail_job(p, jobs[i], "internal", "out of memory");
        goto out;
    }
    ADD(&api->stats.batches, 1);
    ADD(&api->stats.batched_jobs, n);

    /* the same Idempotency-Key twice in one round: the later one waits for the first */
    for (size_t i = 0; i < n; i++) {
        struct api_job *j = jobs[i];
        int dup = 0;
        for (size_t k = 0; j->idem_key[0] && k < n_acc && !dup; k++)
            dup = in_db[k]->idem_key[0] && strcmp(in_db[k]->idem_key, j->idem_key) == 0 &&
                  strcmp(in_db[k]->key_name, j->key_name) == 0;
        if (dup) {
            api_error_retry(j->req, 409, 1, "idempotency_key_in_use",
                            "a request with this Idempotency-Key is in progress");
            finish(j);
            continue;
        }
        acc[n_acc] = (struct ocrq_db_accept){.job = j->job,
                                             .api_key = j->key_name,
                                             .idem_key = j->idem_key[0] ? j->idem_key : NULL,
                                             .fingerprint = j->fingerprint};
        in_db[n_acc++] = j;
    }
    if (n_acc == 0)
        goto out;

    if (connect_db(p) != OCRQ_OK || ocrq_db_api_accept(p->db, acc, n_acc) != OCRQ_OK) {
        for (size_t i = 0; i < n_acc; i++) {
            /* a commit whose answer was lost would leave a job that needs it: the sweeper
             * deletes a document without a job a day later */
            if (in_db[i]->own_blob)
                api_upload_keep(in_db[i]->up);
            fail_job(p, in_db[i], "database_unavailable", "the database is unavailable");
        }
        if (p->db && !ocrq_db_alive(p->db)) {
            ocrq_db_free(p->db);
            p->db = NULL;
        }
        goto out;
    }

    /* answer what needs no publish; keep the rest, in order, for the window */
    for (size_t i = 0; i < n_acc; i++) {
        struct api_job *j = in_db[i];
        j->outcome = acc[i].outcome;
        switch (acc[i].outcome) {
        case OCRQ_ACCEPT_REPLAY:
            ADD(&api->stats.replayed, 1);
            api_accepted(j->req, acc[i].job_id, acc[i].status, 1);
            finish(j);
            break;
        case OCRQ_ACCEPT_MISMATCH:
            api_error(j->req, 422, "idempotency_key_reused",
                      "this Idempotency-Key was used for another request (job %s)", acc[i].job_id);
            finish(j);
            break;
        case OCRQ_ACCEPT_BUSY:
            api_error_retry(j->req, 409, 1, "idempotency_key_in_use",
                            "a request with this Idempotency-Key is in progress");
            finish(j);
            break;
        case OCRQ_ACCEPT_REPUBLISH:
            if (reencode(j, &acc[i]) != OCRQ_OK) {
                api_error(j->req, 500, "internal", "cannot encode the job again");
                finish(j);
                break;
            }
            round[n_round++] = j;
            break;
        default:
            round[n_round++] = j;
        }
    }
    if (n_round == 0)
        goto out;
    if (connect_mq(p) != OCRQ_OK || publish(p, round, n_round, &done) != OCRQ_OK) {
        for (size_t i = done; i < n_round; i++)
            answer(p, round[i], -1); /* never published, or maybe: unknown */
        drop_mq(p);                  /* and those in the window */
        settle_keys(p);
    }
out:
    free(acc);
    free(in_db);
    free(round);
}

/* Take up to max waiting jobs into out; *stop gets the stop flag. */
static size_t take(struct api_pipeline *p, struct api_job **out, size_t max, int *stop)
{
    size_t n = 0;
    pthread_mutex_lock(&p->mu);
    while (n < max && p->head) {
        out[n++] = p->head;
        p->head = p->head->next;
    }
    if (!p->head)
        p->tail = &p->head;
    *stop = p->stop;
    pthread_mutex_unlock(&p->mu);
    return n;
}

/* Wait for work, servicing the broker connection meanwhile. */
static void idle(struct api_pipeline *p)
{
    struct pollfd fds[2] = {{.fd = p->efd, .events = POLLIN}, {.fd = -1, .events = POLLIN}};
    int nfds = 1;

    if (p->mq && (fds[1].fd = ocrq_mq_fd(p->mq)) >= 0)
        nfds = 2;
    int rc = poll(fds, (nfds_t)nfds, IDLE_WAIT_MS);
    if (rc > 0 && (fds[0].revents & POLLIN)) {
        uint64_t v;
        ssize_t r = read(p->efd, &v, sizeof v);
        (void)r;
    }
    if (p->mq && ocrq_mq_service(p->mq, 0) != OCRQ_OK) {
        log_warn(NULL, "api: lost the broker connection");
        drop_mq(p);
    }
    if (!p->mq)
        connect_mq(p);
    sample_depth(p);
}

/*
 * Nothing to take, publishes in flight: wait for a confirm or a new job,
 * whichever comes first (wait_ms at most), and read the confirms.
 */
static void await(struct api_pipeline *p, int wait_ms)
{
    collect(p, 0); /* what the library has read already: the socket may show nothing */
    if (p->fl_n == 0)
        return;
    struct pollfd fds[2] = {{.fd = p->efd, .events = POLLIN},
                            {.fd = ocrq_mq_fd(p->mq), .events = POLLIN}};
    int rc = poll(fds, 2, wait_ms);
    if (rc > 0 && (fds[0].revents & POLLIN)) {
        uint64_t v;
        ssize_t r = read(p->efd, &v, sizeof v);
        (void)r;
    }
    collect(p, 0);
}

static void *pipeline_main(void *arg)
{
    struct api_pipeline *p = arg;
    const struct ocrq_config *cfg = p->api->cfg;
    size_t max = (size_t)cfg->api_batch_max;
    struct api_job **batch = calloc(max, sizeof *batch);
    int stop = 0;

    p->fl_cap = (size_t)cfg->amqp_confirm_window;
    p->fl = calloc(p->fl_cap, sizeof *p->fl);
    p->ans_cap = p->fl_cap + max;
    p->confirmed = calloc(p->ans_cap, sizeof *p->confirmed);
    p->rejected = calloc(p->ans_cap, sizeof *p->rejected);
    p->ids = calloc(p->ans_cap, sizeof *p->ids);
    if (!batch || !p->fl || !p->confirmed || !p->rejected || !p->ids) {
        log_error(NULL, "api: pipeline: out of memory");
        abort();
    }
    connect_mq(p);
    connect_db(p);
    for (;;) {
        __atomic_store_n(&p->beat_ms, ocrq_now_ms(), __ATOMIC_RELAXED);
        size_t room = p->fl_cap - p->fl_n;
        size_t n = take(p, batch, room < max ? room : max, &stop);
        if (n > 0)
            run_round(p, batch, n);
        if (p->fl_n > 0) {
            /* new work goes out at once; else wait, for a confirm or a job */
            if (n > 0 && p->fl_n < p->fl_cap)
                collect(p, 0);
            else
                await(p, DEPTH_EVERY_MS);
        } else if (n == 0) {
            if (stop)
                break;
            idle(p);
            continue;
        }
        sample_depth(p);
    }
    free(batch);
    drop_mq(p);
    free(p->fl);
    free(p->confirmed);
    free(p->rejected);
    free(p->ids);
    p->fl = NULL;
    ocrq_db_free(p->db);
    p->db = NULL;
    return NULL;
}

int api_pipeline_start(struct api *api, struct api_pipeline **out)
{
    struct api_pipeline *p = calloc(1, sizeof *p);

    *out = NULL;
    if (!p)
        return OCRQ_ERR_NOMEM;
    p->api = api;
    p->tail = &p->head;
    pthread_mutex_init(&p->mu, NULL);
    p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (p->efd < 0 || pthread_create(&p->thread, NULL, pipeline_main, p) != 0) {
        if (p->efd >= 0)
            close(p->efd);
        pthread_mutex_destroy(&p->mu);
        free(p);
        return OCRQ_ERR_IO;
    }
    p->started = 1;
    *out = p;
    return OCRQ_OK;
}

static void wake(struct api_pipeline *p)
{
    uint64_t one = 1;
    ssize_t r = write(p->efd, &one, sizeof one);
    (void)r; /* a full counter already wakes the thread */
}

void api_pipeline_submit(struct api_pipeline *p, struct api_job *j)
{
    int was_empty;

    j->next = NULL;
    pthread_mutex_lock(&p->mu);
    was_empty = p->head == NULL;
    *p->tail = j;
    p->tail = &j->next;
    pthread_mutex_unlock(&p->mu);
    /* a list that was not empty is taken whole once the round in progress ends */
    if (was_empty)
        wake(p);
}

int64_t api_pipeline_beat(const struct api_pipeline *p)
{
    return __atomic_load_n(&p->beat_ms, __ATOMIC_RELAXED);
}

void api_pipeline_stop(struct api_pipeline *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_mutex_unlock(&p->mu);
    wake(p);
    if (p->started)
        pthread_join(p->thread, NULL);
    close(p->efd);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
