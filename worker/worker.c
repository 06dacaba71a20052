/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The worker loop. The main thread owns the AMQP connection: it takes jobs,
 * keeps the connection serviced (heartbeats) while the pipeline thread works,
 * and turns each verdict into ack, dead-letter, retry or requeue.
 */
#include "worker.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "take.h"
#include "lane.h"
#include "pipeline.h"
#include "stats.h"
#include "ocrq/clock.h"
#include "ocrq/config.h"
#include "ocrq/job.h"
#include "ocrq/log.h"
#include "ocrq/mq.h"
#include "ocrq/status.h"

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
#define QUICK_LOSS_MS 5000 /* a connection lost sooner keeps the backoff growing */
#define CONFIRM_TIMEOUT_MS 30000

struct loop {
    const struct ocrq_config *cfg;
    const struct ocrq_worker_opts *opts;
    volatile sig_atomic_t *stop;
    struct ocrq_mq *mq;
    struct ocrq_lane *lane;
    struct ocrq_child_slot *slot; /* NULL without a supervisor */
    int service_ms;               /* how often the connection must be called into */
    int url_next;                 /* the broker of amqp.urls to try next */
    int connected_before;
};

/* Stats for the supervisor: plain stores and adds on the shared slot, if any. */
static void slot_set(int32_t *field, int v)
{
    __atomic_store_n(field, v, __ATOMIC_RELAXED);
}

static void slot_add(uint64_t *field)
{
    __atomic_fetch_add(field, 1, __ATOMIC_RELAXED);
}

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
    if (l->slot)
        slot_set(&l->slot->mq_up, 0);
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

/*
 * Connect to the next broker of amqp.urls (or amqp.url), declare the
 * topology and set prefetch 1. *round_done tells the caller that every broker
 * has now been tried once since the last success: time to back off.
 */
static int connect_mq(struct loop *l, int *round_done)
{
    const struct ocrq_config *cfg = l->cfg;
    int n = cfg->n_amqp_urls > 0 ? cfg->n_amqp_urls : 1;
    int i = l->url_next % n;
    const char *url = cfg->n_amqp_urls > 0 ? cfg->amqp_urls[i] : cfg->amqp_url;

    l->url_next = (i + 1) % n;
    *round_done = l->url_next == 0;
    int st = ocrq_mq_connect_to(cfg, url, l->opts->name, &l->mq);
    if (st == OCRQ_OK)
        st = ocrq_mq_declare_topology(l->mq);
    if (st == OCRQ_OK)
        st = ocrq_mq_qos(l->mq, 1, 0);
    if (st == OCRQ_OK && strcmp(cfg->queue_type, "quorum") != 0)
        st = ocrq_mq_qos(l->mq, 1, 1); /* quorum queues refuse a global prefetch: take.c */
    if (st == OCRQ_OK)
        st = ocrq_mq_confirm_select(l->mq);
    if (st != OCRQ_OK) {
        drop_mq(l);
        return st;
    }
    l->url_next = i; /* stay with this broker until it fails */
    if (l->slot) {
        slot_set(&l->slot->mq_up, 1);
        if (l->connected_before)
            slot_add(&l->slot->reconnects_mq);
    }
    l->connected_before = 1;
    return OCRQ_OK;
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

/* arg: an int that stays 1 only while every confirm is an ack. */
static void on_confirm_all(void *arg, uint64_t seq, int ok)
{
    (void)seq;
    *(int *)arg &= ok;
}

/*
 * Publish a copy of msg (confirmed) with the given routing and headers. The
 * copy carries msg's x-death (its history through the retry queues) and the
 * time it was made, for ocrq-admin failed list|show|purge.
 */
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
        .timestamp = (long long)time(NULL),
        .deaths = msg->deaths,
        .n_deaths = msg->n_deaths,
        .body = o->dead_body && with_error ? o->dead_body : msg->body,
        .len = o->dead_body && with_error ? o->dead_len : msg->len,
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

/*
 * The page tasks the outcome releases, published and confirmed before the
 * message that released them is acked: a crash in between leaves that
 * message, whose redelivery releases them again (docs/design.md).
 */
static int publish_pubs(struct loop *l, const struct ocrq_outcome *o)
{
    int ok = 1, st = OCRQ_OK;

    for (int i = 0; i < o->n_pubs && st == OCRQ_OK; i++) {
        struct ocrq_mq_pub pub = {
            .exchange = "",
            .routing_key = ocrq_mq_queue_for(l->cfg, o->pubs[i].priority),
            .message_id = o->job_id,
            .content_type = OCRQ_CONTENT_TYPE,
            .priority = o->pubs[i].priority,
            .timestamp = (long long)time(NULL),
            .body = o->pubs[i].body,
            .len = o->pubs[i].len,
        };
        uint64_t seq = 0;
        st = ocrq_mq_publish(l->mq, &pub, &seq);
    }
    if (st == OCRQ_OK && o->n_pubs > 0)
        st = ocrq_mq_wait_confirms(l->mq, 0, CONFIRM_TIMEOUT_MS, on_confirm_all, &ok);
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
        st = publish_pubs(l, o);
        if (st == OCRQ_ERR_NACKED) { /* not released: the message must come again */
            log_warn(job, "the broker refused a page task: returning the message");
            return ocrq_mq_reject(l->mq, msg->delivery_tag, 1);
        }
        if (st != OCRQ_OK)
            return st;
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
        ocrq_mq_retry_queue(l->cfg, msg->queue, o->retry_index, retry_queue, sizeof(retry_queue));
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
    if (l->slot)
        slot_set(&l->slot->db_up, 0);
    while (!*l->stop) {
        ocrq_lane_start_db_check(l->lane);
        wait_lane(l, NULL, &db_status);
        if (db_status == OCRQ_OK) {
            log_info(NULL, "database is back: taking jobs again");
            if (l->slot) {
                slot_set(&l->slot->db_up, 1);
                slot_add(&l->slot->reconnects_db);
            }
            return;
        }
        pause_serviced(l, jitter(backoff));
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
}

/* The job in flight, for the supervisor's hard time limit; job_id NULL: none. */
static void slot_job(struct loop *l, const char *job_id)
{
    struct ocrq_child_slot *s = l->slot;

    if (s == NULL)
        return;
    if (job_id == NULL) {
        __atomic_store_n(&s->job_started_ms, 0, __ATOMIC_RELEASE);
        return;
    }
    snprintf(s->job_id, sizeof(s->job_id), "%.*s", OCRQ_UUID_LEN, job_id);
    __atomic_store_n(&s->job_started_ms, ocrq_now_ms(), __ATOMIC_RELEASE);
}

/* Count a settled job by kind, with its OCR time and queue wait. */
static void slot_outcome(struct loop *l, const struct ocrq_outcome *o)
{
    struct ocrq_child_slot *s = l->slot;
    enum ocrq_job_kind kind;

    if (s == NULL)
        return;
    switch (o->verdict) {
    case OCRQ_VERDICT_ACK:
        kind = o->repeat ? OCRQ_JOB_REPEAT : OCRQ_JOB_SUCCEEDED;
        break;
    case OCRQ_VERDICT_DEADLETTER:
        kind = OCRQ_JOB_FAILED;
        break;
    case OCRQ_VERDICT_RETRY:
        kind = OCRQ_JOB_RETRIED;
        break;
    default:
        kind = OCRQ_JOB_REQUEUED;
        break;
    }
    slot_add(&s->jobs[kind]);
    if (o->ocr_ms >= 0 && kind != OCRQ_JOB_REQUEUED)
        ocrq_hist_observe(&s->ocr_duration, o->ocr_ms / 1000.0);
    if (o->queue_wait_ms >= 0 && kind != OCRQ_JOB_REQUEUED && kind != OCRQ_JOB_REPEAT)
        ocrq_hist_observe(&s->queue_wait, (double)o->queue_wait_ms / 1000.0);
    slot_set(&s->db_up, kind != OCRQ_JOB_REQUEUED);
}

/* Run one job through the pipeline thread and carry out its verdict. */
static void run_job(struct loop *l, struct ocrq_mq_msg *msg, int *db_down)
{
    struct ocrq_outcome o;

    memset(&o, 0, sizeof(o));
    slot_job(l, msg->message_id[0] ? msg->message_id : "-");
    ocrq_lane_start_job(l->lane, msg);
    wait_lane(l, &o, NULL);
    if (l->mq != NULL && carry_out(l, msg, &o) != OCRQ_OK) {
        log_warn(o.job_id[0] ? o.job_id : NULL, "broker error while settling the job");
        drop_mq(l);
    }
    /* with the connection lost the broker redelivers it; a committed outcome makes that an ack */
    slot_job(l, NULL);
    slot_outcome(l, &o);
    ocrq_outcome_cleanup(&o);
    if (o.verdict == OCRQ_VERDICT_REQUEUE)
        *db_down = 1;
}

/* Between jobs: has this process done its share (worker.max_jobs_per_child, max_rss_mb)? */
static int time_to_recycle(const struct ocrq_config *cfg, long done)
{
    long long rss;

    if (cfg->max_jobs_per_child > 0 && done >= cfg->max_jobs_per_child) {
        log_info(NULL, "recycling after %ld jobs (worker.max_jobs_per_child)", done);
        return 1;
    }
    if (cfg->max_rss_mb > 0 && (rss = ocrq_stats_rss_bytes(0) / (1024 * 1024)) > cfg->max_rss_mb) {
        log_info(NULL, "recycling at %lld MiB resident (worker.max_rss_mb = %d)", rss,
                 cfg->max_rss_mb);
        return 1;
    }
    return 0;
}

int ocrq_worker_run(const struct ocrq_config *cfg, const struct ocrq_worker_opts *opts,
                    volatile sig_atomic_t *stop, enum ocrq_worker_end *end)
{
    struct loop l = {.cfg = cfg, .opts = opts, .stop = stop, .slot = opts->slot};
    struct ocrq_pipeline *p = NULL;
    int st, backoff = BACKOFF_MIN_MS, db_down = 1, last_was_priority = 1, round_done;
    int quick_loss = 0;       /* the last connection broke within QUICK_LOSS_MS */
    int64_t connected_at = 0; /* of the connection in use, or lost and not yet retried */
    long done = 0, handled = 0;

    *end = OCRQ_WORKER_STOPPED;
    l.service_ms = cfg->amqp_heartbeat_s > 0 ? cfg->amqp_heartbeat_s * 1000 / 4 : 1000;
    if (l.service_ms < 100)
        l.service_ms = 100;
    if (l.service_ms > 1000)
        l.service_ms = 1000;
    st = ocrq_pipeline_new(cfg, opts->name, &opts->device, &p);
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
            /* a connection that breaks as soon as it is made must not spin */
            if (connected_at != 0) {
                int64_t lived = ocrq_now_ms() - connected_at;
                connected_at = 0;
                quick_loss = lived < QUICK_LOSS_MS;
                if (quick_loss) {
                    log_warn(NULL,
                             "the broker connection broke %lld ms after it was made:"
                             " retrying in about %d ms",
                             (long long)lived, backoff);
                    pause_serviced(&l, jitter(backoff));
                    backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
                    continue;
                }
            }
            if (connect_mq(&l, &round_done) != OCRQ_OK) {
                if (!round_done)
                    continue; /* the next broker of amqp.urls at once */
                log_warn(NULL, "broker unavailable: retrying in about %d ms", backoff);
                pause_serviced(&l, jitter(backoff));
                backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
                continue;
            }
            if (!quick_loss)
                backoff = BACKOFF_MIN_MS;
            connected_at = ocrq_now_ms();
            log_info(NULL, "connected to the broker");
        }
        if (db_down) {
            /* at start, and after the database went away: no job until it answers */
            int db_status = OCRQ_ERR_DB;
            ocrq_lane_start_db_check(l.lane);
            wait_lane(&l, NULL, &db_status);
            if (db_status != OCRQ_OK)
                wait_for_db(&l);
            else if (l.slot)
                slot_set(&l.slot->db_up, 1);
            db_down = 0;
            continue;
        }
        st = ocrq_take_next(l.mq, cfg, stop, &last_was_priority, &msg);
        if (st == OCRQ_ERR_EMPTY)
            continue;
        if (st != OCRQ_OK) {
            log_warn(NULL, "broker error while taking a job: reconnecting");
            drop_mq(&l);
            continue;
        }
        if (*stop) {
            /* told to stop while taking it: it never started, so it goes back as it was */
            if (ocrq_mq_reject(l.mq, msg->delivery_tag, 1) != OCRQ_OK)
                drop_mq(&l);
            ocrq_mq_msg_free(msg);
            break;
        }
        run_job(&l, msg, &db_down);
        ocrq_mq_msg_free(msg);
        handled++;
        if (!db_down)
            done++; /* a job handed back to its queue does not count */
        if (!*stop && time_to_recycle(cfg, handled)) {
            *end = OCRQ_WORKER_RECYCLE;
            break;
        }
    }
    log_info(NULL, "worker %s stopping after %ld job%s", opts->name, done, done == 1 ? "" : "s");
    ocrq_lane_free(l.lane);
    ocrq_mq_free(l.mq);
    return OCRQ_OK;
}
