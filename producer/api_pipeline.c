/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The pipeline of ocrq-api: one thread owns a broker connection (confirm
 * mode) and a database connection. Pool threads hand it parsed jobs; it
 * takes all that are waiting (up to api.batch_max) and, per round:
 *
 *   1. records them as queued with their Idempotency-Keys: one statement,
 *      one commit (ocrq_db_api_accept);
 *   2. publishes the new ones (persistent, mandatory) and waits for the
 *      broker's confirms of the whole round;
 *   3. answers each request: 202 once confirmed, 503 if refused (a full
 *      queue nacks) or if the broker went away before confirming;
 *   4. marks the confirmed Idempotency-Keys and removes the refused jobs.
 *
 * So no 202 is ever sent for a job that is not both recorded and durable
 * in the broker, and a busy server answers many requests per commit and per
 * confirm wait. Between rounds the thread services heartbeats and samples
 * the job queues' depth for the backpressure check of the pool threads.
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
#include "ocrq/http.h"
#include "ocrq/job.h"
#include "ocrq/log.h"
#include "ocrq/mq.h"
#include "ocrq/status.h"

#define DEPTH_EVERY_MS 250
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
    struct api_job **round; /* the jobs of the round being published */
    size_t n_round;
    uint64_t seq0; /* sequence number of round[0] */
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

static void drop_mq(struct api_pipeline *p)
{
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

static int connect_db(struct api_pipeline *p)
{
    if (p->db && ocrq_db_alive(p->db))
        return OCRQ_OK;
    ocrq_db_free(p->db);
    p->db = NULL;
    return ocrq_db_connect(p->api->cfg, &p->db);
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

static void on_confirm(void *arg, uint64_t seq, int ok)
{
    struct api_pipeline *p = arg;
    if (seq < p->seq0 || seq - p->seq0 >= p->n_round)
        return;
    p->round[seq - p->seq0]->acked = ok ? 1 : 0;
}

/* Publish round[0..n_round-1] and wait for their confirms. OCRQ_ERR_MQ: connection lost. */
static int publish_round(struct api_pipeline *p)
{
    const struct ocrq_config *cfg = p->api->cfg;
    int st = OCRQ_OK;

    ocrq_mq_cork(p->mq, 1); /* the round goes out in full segments */
    for (size_t i = 0; i < p->n_round; i++) {
        struct api_job *j = p->round[i];
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
        st = ocrq_mq_publish(p->mq, &pub, &seq);
        if (st != OCRQ_OK)
            return OCRQ_ERR_MQ;
        if (i == 0)
            p->seq0 = seq;
        else if (seq != p->seq0 + i) { /* never: one channel numbers publishes in order */
            log_error(NULL, "api: confirm sequence out of order (%llu after %llu)",
                      (unsigned long long)seq, (unsigned long long)p->seq0);
            return OCRQ_ERR_MQ;
        }
    }
    ocrq_mq_cork(p->mq, 0);
    st = ocrq_mq_wait_confirms(p->mq, 0, cfg->api_publish_timeout_s * 1000, on_confirm, p);
    return st == OCRQ_OK ? OCRQ_OK : OCRQ_ERR_MQ;
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

static void run_round(struct api_pipeline *p, struct api_job **jobs, size_t n)
{
    struct api *api = p->api;
    struct ocrq_db_accept *acc = calloc(n, sizeof *acc);
    const char **confirmed = calloc(n, sizeof *confirmed);
    const char **rejected = calloc(n, sizeof *rejected);
    char(*ids)[OCRQ_UUID_LEN + 1] = calloc(n, sizeof *ids);
    size_t n_acc = 0, n_conf = 0, n_rej = 0;
    struct api_job **in_db = calloc(n, sizeof *in_db);
    int mq_ok;

    if (!acc || !confirmed || !rejected || !ids || !in_db) {
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

    /* answer what needs no publish; keep the rest, in order, for the round */
    p->n_round = 0;
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
            p->round[p->n_round++] = j;
            break;
        default:
            p->round[p->n_round++] = j;
        }
    }
    if (p->n_round == 0)
        goto out;

    mq_ok = connect_mq(p) == OCRQ_OK && publish_round(p) == OCRQ_OK;
    if (!mq_ok)
        drop_mq(p);
    for (size_t i = 0; i < p->n_round; i++) {
        struct api_job *j = p->round[i];
        memcpy(ids[i], j->job->job_id, sizeof ids[i]);
        /* confirmed, or maybe in the queue (or recorded, to be published again): keep its blob */
        if (j->own_blob && j->acked != 0)
            api_upload_keep(j->up);
        if (j->acked == 1) {
            if (j->idem_key[0])
                confirmed[n_conf++] = ids[i];
            if (j->outcome == OCRQ_ACCEPT_NEW)
                ADD(&api->stats.accepted, 1);
            else
                ADD(&api->stats.replayed, 1);
            api_accepted(j->req, ids[i], "queued", j->outcome != OCRQ_ACCEPT_NEW);
            finish(j);
        } else if (j->acked == 0) {
            ADD(&api->stats.nacked, 1);
            if (j->outcome == OCRQ_ACCEPT_NEW)
                rejected[n_rej++] = ids[i];
            fail_job(p, j, "queue_full", "the broker refused the job: the job queue is full");
        } else {
            /* unknown: the row stays queued; a repeat with its Idempotency-Key publishes it again
             */
            fail_job(p, j, "broker_unavailable",
                     "the message broker is unavailable: the job was not accepted");
        }
    }
    p->n_round = 0;
    if (n_conf > 0 && ocrq_db_api_confirmed(p->db, confirmed, n_conf) != OCRQ_OK)
        log_warn(NULL,
                 "api: cannot mark %zu Idempotency-Keys confirmed (repeats will"
                 " publish their jobs again, which workers run once)",
                 n_conf);
    if (n_rej > 0 && ocrq_db_api_rejected(p->db, rejected, n_rej) != OCRQ_OK)
        log_warn(NULL, "api: cannot remove %zu refused jobs: they stay queued", n_rej);
out:
    free(acc);
    free(confirmed);
    free(rejected);
    free(ids);
    free(in_db);
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

static void *pipeline_main(void *arg)
{
    struct api_pipeline *p = arg;
    size_t max = (size_t)p->api->cfg->api_batch_max;
    struct api_job **batch = calloc(max, sizeof *batch);
    int stop = 0;

    p->round = calloc(max, sizeof *p->round);
    if (!batch || !p->round) {
        log_error(NULL, "api: pipeline: out of memory");
        abort();
    }
    connect_mq(p);
    connect_db(p);
    for (;;) {
        size_t n = take(p, batch, max, &stop);
        if (n == 0) {
            if (stop)
                break;
            idle(p);
            continue;
        }
        run_round(p, batch, n);
        sample_depth(p);
    }
    free(batch);
    free(p->round);
    p->round = NULL;
    drop_mq(p);
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
