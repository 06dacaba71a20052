/*
 * The worker loop. The main thread owns the AMQP connection: it dispatches,
 * keeps the connection serviced (heartbeats) while the pipeline thread works,
 * and turns each verdict into ack, dead-letter, retry or requeue.
 */
#include "worker.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dispatch.h"
#include "lane.h"
#include "pipeline.h"
#include "ocrq/config.h"
#include "ocrq/job.h"
#include "ocrq/log.h"
#include "ocrq/mq.h"
#include "ocrq/status.h"

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
#define CONFIRM_TIMEOUT_MS 30000

struct loop {
    const struct ocrq_config *cfg;
    const struct ocrq_worker_opts *opts;
    volatile sig_atomic_t *stop;
    struct ocrq_mq *mq;
    struct ocrq_lane *lane;
    int service_ms; /* how often the connection must be called into */
};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int jitter(int ms)
{
    return ms / 2 + (int)(random() % (ms / 2 + 1));
}

static void drop_mq(struct loop *l)
{
    ocrq_mq_free(l->mq);
    l->mq = NULL;
}

/* Wait ms, keeping the connection (if any) serviced; returns early on stop. */
static void pause_serviced(struct loop *l, int ms)
{
    while (ms > 0 && !*l->stop) {
        int step = ms < l->service_ms ? ms : l->service_ms;
        if (l->mq != NULL) {
            if (ocrq_mq_service(l->mq, step) != OCRQ_OK)
                drop_mq(l);
        } else {
            sleep_ms(step);
        }
        ms -= step;
    }
}

static int connect_mq(struct loop *l)
{
    int st = ocrq_mq_connect(l->cfg, l->opts->name, &l->mq);
    if (st == OCRQ_OK)
        st = ocrq_mq_declare_topology(l->mq);
    if (st == OCRQ_OK)
        st = ocrq_mq_qos(l->mq, 1, 0);
    if (st == OCRQ_OK)
        st = ocrq_mq_qos(l->mq, 1, 1);
    if (st == OCRQ_OK)
        st = ocrq_mq_confirm_select(l->mq);
    if (st != OCRQ_OK)
        drop_mq(l);
    return st;
}

/*
 * Wait for the pipeline thread to finish its task while calling into the
 * connection often enough for heartbeats. A connection that breaks meanwhile
 * is dropped; the task is still waited for.
 */
static void wait_lane(struct loop *l, struct ocrq_outcome *outcome, int *db_status)
{
    for (;;) {
        struct pollfd pf[2] = {
            {.fd = ocrq_lane_fd(l->lane), .events = POLLIN},
            {.fd = l->mq ? ocrq_mq_fd(l->mq) : -1, .events = POLLIN},
        };
        int n = poll(pf, l->mq ? 2 : 1, l->service_ms);
        if (n < 0 && errno != EINTR)
            sleep_ms(10);
        if (n > 0 && (pf[0].revents & POLLIN) && ocrq_lane_collect(l->lane, outcome, db_status))
            return;
        if (l->mq != NULL && ocrq_mq_service(l->mq, 0) != OCRQ_OK) {
            log_warn(NULL, "broker connection lost during a job; its message will be redelivered");
            drop_mq(l);
        }
    }
}

static void on_confirm(void *arg, uint64_t seq, int ok)
{
    (void)seq;
    *(int *)arg = ok;
}

/* Publish a copy of msg (confirmed) with the given routing and headers. */
static int republish(struct loop *l, const struct ocrq_mq_msg *msg, const char *exchange,
                     const char *routing_key, int attempt, const struct ocrq_outcome *o,
                     int with_error)
{
    struct ocrq_mq_pub pub = {
        .exchange = exchange,
        .routing_key = routing_key,
        .message_id = o->job_id[0] ? o->job_id : msg->message_id,
        .content_type = OCRQ_CONTENT_TYPE,
        .priority = msg->priority,
        .attempt = attempt,
        .error_code = with_error ? o->code : NULL,
        .error_message = with_error ? o->message : NULL,
        .body = msg->body,
        .len = msg->len,
    };
    uint64_t seq = 0;
    int ok = 0;
    int st = ocrq_mq_publish(l->mq, &pub, &seq);
    if (st == OCRQ_OK)
        st = ocrq_mq_wait_confirms(l->mq, 0, CONFIRM_TIMEOUT_MS, on_confirm, &ok);
    if (st == OCRQ_OK && !ok)
        st = OCRQ_ERR_NACKED;
    return st;
}

/* Carry out the pipeline's verdict on the message. */
static int carry_out(struct loop *l, const struct ocrq_mq_msg *msg, const struct ocrq_outcome *o)
{
    const char *job = o->job_id[0] ? o->job_id : NULL;
    char retry_queue[512];
    int st;

    switch (o->verdict) {
    case OCRQ_VERDICT_ACK:
        return ocrq_mq_ack(l->mq, msg->delivery_tag);
    case OCRQ_VERDICT_DEADLETTER:
        st = republish(l, msg, l->cfg->exchange_dlx, msg->queue, msg->attempt, o, 1);
        if (st == OCRQ_OK)
            return ocrq_mq_ack(l->mq, msg->delivery_tag);
        if (st == OCRQ_ERR_MQ)
            return st;
        /* the broker's own dead-lettering still lands it in the failed queue */
        log_warn(job, "could not publish to %s: rejecting instead", l->cfg->exchange_dlx);
        return ocrq_mq_reject(l->mq, msg->delivery_tag, 0);
    case OCRQ_VERDICT_RETRY:
        ocrq_mq_retry_queue(l->cfg, msg->queue, o->retry_index, retry_queue,
                            sizeof(retry_queue));
        st = republish(l, msg, "", retry_queue, o->next_attempt, o, 1);
        if (st == OCRQ_OK) {
            log_info(job, "retry %d scheduled via %s", o->next_attempt, retry_queue);
            return ocrq_mq_ack(l->mq, msg->delivery_tag);
        }
        if (st == OCRQ_ERR_MQ)
            return st;
        return ocrq_mq_reject(l->mq, msg->delivery_tag, 1);
    case OCRQ_VERDICT_REQUEUE:
        log_warn(job, "%s: returning the job to its queue", o->message);
        return ocrq_mq_reject(l->mq, msg->delivery_tag, 1);
    }
    return OCRQ_ERR_INVALID;
}

/* Block until the database answers again, with backoff; the connection stays serviced. */
static void wait_for_db(struct loop *l)
{
    int backoff = BACKOFF_MIN_MS, db_status = OCRQ_ERR_DB;

    log_warn(NULL, "database unavailable: taking no jobs until it answers");
    while (!*l->stop) {
        ocrq_lane_start_db_check(l->lane);
        wait_lane(l, NULL, &db_status);
        if (db_status == OCRQ_OK) {
            log_info(NULL, "database is back: taking jobs again");
            return;
        }
        pause_serviced(l, jitter(backoff));
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
}

/* Run one job through the pipeline thread and carry out its verdict. */
static void run_job(struct loop *l, struct ocrq_mq_msg *msg, int *db_down)
{
    struct ocrq_outcome o;

    memset(&o, 0, sizeof(o));
    ocrq_lane_start_job(l->lane, msg);
    wait_lane(l, &o, NULL);
    if (l->mq == NULL)
        return; /* the broker redelivers it; a committed outcome makes that an ack */
    if (carry_out(l, msg, &o) != OCRQ_OK) {
        log_warn(o.job_id[0] ? o.job_id : NULL, "broker error while settling the job");
        drop_mq(l);
    }
    if (o.verdict == OCRQ_VERDICT_REQUEUE)
        *db_down = 1;
}

int ocrq_worker_run(const struct ocrq_config *cfg, const struct ocrq_worker_opts *opts,
                    volatile sig_atomic_t *stop)
{
    struct loop l = {.cfg = cfg, .opts = opts, .stop = stop};
    struct ocrq_pipeline *p = NULL;
    int st, backoff = BACKOFF_MIN_MS, db_down = 0, last_was_priority = 1;
    long done = 0;

    l.service_ms = cfg->amqp_heartbeat_s > 0 ? cfg->amqp_heartbeat_s * 1000 / 4 : 1000;
    if (l.service_ms < 100)
        l.service_ms = 100;
    if (l.service_ms > 1000)
        l.service_ms = 1000;
    st = ocrq_pipeline_new(cfg, opts->name, &p);
    if (st == OCRQ_OK)
        st = ocrq_lane_new(p, &l.lane);
    if (st != OCRQ_OK) {
        if (l.lane == NULL)
            ocrq_pipeline_free(p);
        return st;
    }
    srandom((unsigned)time(NULL) ^ (unsigned)getpid());
    log_info(NULL, "worker %s starting (queues %s > %s)", opts->name, cfg->queue_priority,
             cfg->queue_jobs);

    while (!*stop && (opts->max_jobs == 0 || done < opts->max_jobs)) {
        struct ocrq_mq_msg *msg = NULL;

        if (l.mq == NULL) {
            if (connect_mq(&l) != OCRQ_OK) {
                log_warn(NULL, "broker unavailable: retrying in about %d ms", backoff);
                pause_serviced(&l, jitter(backoff));
                backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
                continue;
            }
            backoff = BACKOFF_MIN_MS;
            log_info(NULL, "connected to the broker");
        }
        if (db_down) {
            wait_for_db(&l);
            db_down = 0;
            continue;
        }
        st = ocrq_dispatch_next(l.mq, cfg, stop, &last_was_priority, &msg);
        if (st == OCRQ_ERR_EMPTY)
            continue;
        if (st != OCRQ_OK) {
            log_warn(NULL, "broker error while taking a job: reconnecting");
            drop_mq(&l);
            continue;
        }
        run_job(&l, msg, &db_down);
        ocrq_mq_msg_free(msg);
        if (!db_down)
            done++; /* a job handed back to its queue does not count */
    }
    log_info(NULL, "worker %s stopping after %ld jobs", opts->name, done);
    ocrq_lane_free(l.lane);
    ocrq_mq_free(l.mq);
    return OCRQ_OK;
}
