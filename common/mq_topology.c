/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The broker topology every component declares (docs/design.md): the two job
 * queues, their retry delay queues, the dead-letter exchange and the failed
 * queue, as classic or quorum queues (amqp.queue_type).
 *
 * Classic: the job queues carry x-max-priority, so priority levels order the
 * ready messages inside each queue.
 *
 * Quorum (replicated over a cluster by Raft; RabbitMQ 3.x has no priorities
 * inside one): every queue is a quorum queue, and
 * - the job queues carry x-delivery-limit: a message handed back that many
 *   times (a worker killed mid-job, again and again) is dead-lettered by the
 *   broker, a second guard behind worker.max_attempts;
 * - every queue that dead-letters does so at-least-once (which needs
 *   x-overflow reject-publish), so the copy on its way to ocr.failed, or from
 *   a retry delay queue back to its job queue, cannot be lost between nodes.
 * Strict priority comes from the two job queues either way: workers take
 * from queue_priority first.
 *
 * A queue that exists with other arguments makes the broker refuse the
 * declaration (406 PRECONDITION_FAILED); that is reported with what to do.
 * The queue operations themselves (declare, bind, inspect, delete) and the
 * queue names for a priority or a retry delay are here too.
 */
#include <stdio.h>
#include <string.h>

#include "mq_internal.h"
#include "ocrq/log.h"
#include "ocrq/mq.h"
#include "ocrq/status.h"

#define PRECONDITION_FAILED 406
#define MAX_ARGS 8

int ocrq_mq_topo_init(struct ocrq_mq_topo *t, const struct ocrq_config *cfg)
{
    const char *names[] = {cfg->queue_jobs, cfg->queue_priority, cfg->queue_failed,
                           cfg->exchange_dlx};
    char *dst[] = {t->q_jobs, t->q_prio, t->q_failed, t->x_dlx};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!names[i] || strlen(names[i]) > OCRQ_MQ_SHORTSTR_MAX) {
            log_error(NULL, "amqp: queue or exchange name missing or longer than %d bytes",
                      OCRQ_MQ_SHORTSTR_MAX);
            return OCRQ_ERR_CONFIG;
        }
        snprintf(dst[i], OCRQ_MQ_SHORTSTR_MAX + 1, "%s", names[i]);
    }
    t->quorum = cfg->queue_type && strcmp(cfg->queue_type, "quorum") == 0;
    t->max_priority = cfg->max_priority;
    t->delivery_limit = cfg->delivery_limit;
    t->n_delays = cfg->n_retry_delays < 0                       ? 0
                  : cfg->n_retry_delays > OCRQ_MAX_RETRY_DELAYS ? OCRQ_MAX_RETRY_DELAYS
                                                                : cfg->n_retry_delays;
    memcpy(t->delays, cfg->retry_delays_s, sizeof(t->delays));
    return OCRQ_OK;
}

/* The arguments of a quorum queue that dead-letters; n grows. */
static void quorum_dlx(amqp_table_entry_t *a, int *n)
{
    a[(*n)++] = ocrq_mq_str_entry("x-dead-letter-strategy", "at-least-once");
    a[(*n)++] = ocrq_mq_str_entry("x-overflow", "reject-publish");
}

/* Declare q; a refusal for other arguments says what to do about it. */
static int declare(struct ocrq_mq *mq, const char *q, amqp_table_entry_t *a, int n, int advise)
{
    char why[OCRQ_MQ_SHORTSTR_MAX + 1];
    int st = ocrq_mq_declare_queue(mq, q, a, n);

    if (st != OCRQ_OK && ocrq_mq_last_refusal(mq, why, sizeof why) == PRECONDITION_FAILED) {
        if (advise)
            log_error(NULL,
                      "amqp: queue %s exists with other arguments than this configuration declares"
                      " (amqp.queue_type \"%s\"): %s. Drain it and declare it again, or run"
                      " \"ocrq-admin queues convert\" (docs/operations.md, \"Changing the queue"
                      " type\")",
                      q, ocrq_mq_topo_of(mq)->quorum ? "quorum" : "classic", why);
        return OCRQ_ERR_CONFIG;
    }
    return st;
}

/*
 * The arguments of topology queue q: the failed queue, a job queue, or a
 * retry delay queue "<job queue>.retry.<D>s". 0 if q is none of them.
 */
static int queue_args(const struct ocrq_mq_topo *t, const char *q, amqp_table_entry_t *a, int *n,
                      char *buf)
{
    const char *jobq[] = {t->q_jobs, t->q_prio};

    *n = 0;
    if (strcmp(q, t->q_failed) == 0) {
        if (t->quorum)
            a[(*n)++] = ocrq_mq_str_entry("x-queue-type", "quorum");
        return 1;
    }
    for (int i = 0; i < 2; i++) {
        if (strcmp(q, jobq[i]) == 0) {
            a[(*n)++] = ocrq_mq_str_entry("x-dead-letter-exchange", t->x_dlx);
            if (t->quorum) {
                a[(*n)++] = ocrq_mq_str_entry("x-queue-type", "quorum");
                a[(*n)++] = ocrq_mq_int_entry("x-delivery-limit", t->delivery_limit);
                quorum_dlx(a, n);
            } else {
                a[(*n)++] = ocrq_mq_int_entry("x-max-priority", t->max_priority);
            }
            return 1;
        }
        for (int d = 0; d < t->n_delays; d++) {
            snprintf(buf, OCRQ_MQ_SHORTSTR_MAX + 2, "%s.retry.%ds", jobq[i], t->delays[d]);
            if (strcmp(q, buf) != 0)
                continue;
            a[(*n)++] = ocrq_mq_int_entry("x-message-ttl", t->delays[d] * 1000);
            a[(*n)++] = ocrq_mq_str_entry("x-dead-letter-exchange", "");
            a[(*n)++] = ocrq_mq_str_entry("x-dead-letter-routing-key", jobq[i]);
            if (t->quorum) {
                a[(*n)++] = ocrq_mq_str_entry("x-queue-type", "quorum");
                quorum_dlx(a, n);
            }
            return 1;
        }
    }
    return 0;
}

int ocrq_mq_topology_queues(struct ocrq_mq *mq, char (*names)[256], int max)
{
    const struct ocrq_mq_topo *t;
    const char *jobq[2];
    int n = 0;

    if (!mq || max < 1)
        return 0;
    t = ocrq_mq_topo_of(mq);
    jobq[0] = t->q_jobs;
    jobq[1] = t->q_prio;
    snprintf(names[n++], 256, "%s", t->q_failed);
    for (int i = 0; i < 2; i++) {
        if (n < max)
            snprintf(names[n++], 256, "%s", jobq[i]);
        for (int d = 0; d < t->n_delays && n < max; d++) {
            char rq[OCRQ_MQ_SHORTSTR_MAX + 2];
            int len = snprintf(rq, sizeof rq, "%s.retry.%ds", jobq[i], t->delays[d]);
            if (len > 0 && len <= OCRQ_MQ_SHORTSTR_MAX)
                memcpy(names[n++], rq, (size_t)len + 1);
        }
    }
    return n;
}

int ocrq_mq_declare_one(struct ocrq_mq *mq, const char *q, int advise)
{
    amqp_table_entry_t a[MAX_ARGS];
    char buf[OCRQ_MQ_SHORTSTR_MAX + 2];
    int n = 0;

    if (!mq || !q)
        return OCRQ_ERR_INVALID;
    if (!queue_args(ocrq_mq_topo_of(mq), q, a, &n, buf))
        return OCRQ_ERR_INVALID;
    return declare(mq, q, a, n, advise);
}

int ocrq_mq_declare_holding(struct ocrq_mq *mq, const char *q)
{
    amqp_table_entry_t a[1];
    int n = 0;

    if (!mq || !q)
        return OCRQ_ERR_INVALID;
    /* always classic: it must be declarable whatever the type converted to */
    return declare(mq, q, a, n, 1);
}

int ocrq_mq_declare_topology(struct ocrq_mq *mq)
{
    char names[OCRQ_MQ_MAX_QUEUES][256];
    int n = ocrq_mq_topology_queues(mq, names, OCRQ_MQ_MAX_QUEUES);
    int st = OCRQ_OK;

    if (!mq)
        return OCRQ_ERR_MQ;
    if (n != 3 + 2 * ocrq_mq_topo_of(mq)->n_delays) {
        log_error(NULL, "amqp: a retry queue name (<job queue>.retry.<D>s) is longer than %d bytes",
                  OCRQ_MQ_SHORTSTR_MAX);
        return OCRQ_ERR_CONFIG;
    }

    /* the failed queue first: the exchange that feeds it is bound to it next */
    for (int i = 0; i < n && st == OCRQ_OK; i++) {
        st = ocrq_mq_declare_one(mq, names[i], 1);
        if (st == OCRQ_OK && i == 0)
            st = ocrq_mq_declare_fanout(mq, ocrq_mq_topo_of(mq)->x_dlx, names[0]);
    }
    return st;
}

/* ---- declaring, inspecting and deleting queues ----------------------------- */

int ocrq_mq_declare_queue(struct ocrq_mq *mq, const char *q, amqp_table_entry_t *args, int n)
{
    amqp_table_t t = {n, n ? args : NULL};
    if (!usable(mq))
        return OCRQ_ERR_MQ;
    if (!shortstr_ok(q))
        return OCRQ_ERR_INVALID;
    release(mq);
    (void)amqp_queue_declare(mq->conn, CHAN, amqp_cstring_bytes(q), 0, 1, 0, 0, t);
    int st = ocrq_mq_rpc_status(mq, amqp_get_rpc_reply(mq->conn), "queue.declare", q);
    return st == OCRQ_OK ? OCRQ_OK : OCRQ_ERR_MQ;
}

int ocrq_mq_declare_fanout(struct ocrq_mq *mq, const char *x, const char *q)
{
    if (!usable(mq))
        return OCRQ_ERR_MQ;
    if (!shortstr_ok(x) || !shortstr_ok(q))
        return OCRQ_ERR_INVALID;
    release(mq);
    (void)amqp_exchange_declare(mq->conn, CHAN, amqp_cstring_bytes(x), amqp_cstring_bytes("fanout"),
                                0, 1, 0, 0, amqp_empty_table);
    int st = ocrq_mq_rpc_status(mq, amqp_get_rpc_reply(mq->conn), "exchange.declare", x);
    if (st != OCRQ_OK)
        return OCRQ_ERR_MQ;
    (void)amqp_queue_bind(mq->conn, CHAN, amqp_cstring_bytes(q), amqp_cstring_bytes(x),
                          amqp_cstring_bytes(""), amqp_empty_table);
    st = ocrq_mq_rpc_status(mq, amqp_get_rpc_reply(mq->conn), "queue.bind", q);
    return st == OCRQ_OK ? OCRQ_OK : OCRQ_ERR_MQ;
}

const char *ocrq_mq_queue_for(const struct ocrq_config *cfg, int priority)
{
    return priority >= cfg->priority_threshold ? cfg->queue_priority : cfg->queue_jobs;
}

void ocrq_mq_retry_queue(const struct ocrq_config *cfg, const char *q, int idx, char *buf,
                         size_t buflen)
{
    if (!buf || buflen == 0)
        return;
    buf[0] = '\0';
    if (!cfg || !q || idx < 0 || idx >= cfg->n_retry_delays || idx >= OCRQ_MAX_RETRY_DELAYS)
        return;
    snprintf(buf, buflen, "%s.retry.%ds", q, cfg->retry_delays_s[idx]);
}

int ocrq_mq_queue_delete(struct ocrq_mq *mq, const char *queue, int if_empty)
{
    if (!usable(mq))
        return OCRQ_ERR_MQ;
    if (!shortstr_ok(queue))
        return OCRQ_ERR_INVALID;
    release(mq);
    (void)amqp_queue_delete(mq->conn, CHAN, amqp_cstring_bytes(queue), 0, if_empty ? 1 : 0);
    int st = ocrq_mq_rpc_status(mq, amqp_get_rpc_reply(mq->conn), "queue.delete", queue);
    return st == OCRQ_OK || st == OCRQ_ERR_NOT_FOUND ? st : OCRQ_ERR_MQ;
}

int ocrq_mq_queue_info(struct ocrq_mq *mq, const char *queue, unsigned *ready, unsigned *consumers)
{
    if (ready)
        *ready = 0;
    if (consumers)
        *consumers = 0;
    if (!usable(mq))
        return OCRQ_ERR_MQ;
    if (!shortstr_ok(queue))
        return OCRQ_ERR_INVALID;
    release(mq);
    amqp_queue_declare_ok_t *ok =
        amqp_queue_declare(mq->conn, CHAN, amqp_cstring_bytes(queue), 1, 0, 0, 0, amqp_empty_table);
    int st = ocrq_mq_rpc_status(mq, amqp_get_rpc_reply(mq->conn), "queue.declare (passive)", queue);
    if (st != OCRQ_OK)
        return st == OCRQ_ERR_NOT_FOUND ? st : OCRQ_ERR_MQ;
    if (ready)
        *ready = ok->message_count;
    if (consumers)
        *consumers = ok->consumer_count;
    return OCRQ_OK;
}
