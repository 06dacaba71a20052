/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The broker: one rabbitmq-c connection with one channel, owned by one
 * thread. Declares the topology, publishes with pipelined confirms, and takes
 * jobs with basic.get or a short-lived consumer. Nothing here is thread-safe:
 * the thread that connected makes every call.
 */
#ifndef OCRQ_MQ_H
#define OCRQ_MQ_H

#include <stddef.h>
#include <stdint.h>

#include "ocrq/config.h"

struct ocrq_config;
struct ocrq_mq;

/*
 * One entry of a message's x-death header: RabbitMQ adds (or counts up) one
 * each time it dead-letters the message from a queue for a reason.
 */
struct ocrq_mq_death {
    char queue[256];    /* the queue it left */
    char reason[32];    /* rejected, expired, maxlen, delivery_limit */
    char exchange[256]; /* the exchange it had been published to ("" default) */
    long long count;    /* how many times, for this queue and reason */
    long long time;     /* seconds since the epoch, as the broker recorded it; 0 if absent */
};

#define OCRQ_MQ_MAX_DEATHS 16 /* x-death entries kept per message; more are dropped */

/* A message taken from a queue. Owns its body and the header copies below. */
struct ocrq_mq_msg {
    uint64_t delivery_tag;
    int redelivered;
    char queue[256];              /* queue it came from ("" if unknown) */
    char message_id[128];         /* properties.message_id, "" if absent */
    int priority;                 /* properties.priority, -1 if absent */
    int attempt;                  /* header x-ocrq-attempt, 0 if absent */
    long long death_count;        /* sum of the counts in header x-death, 0 if absent */
    long long timestamp;          /* properties.timestamp, seconds since the epoch; 0 if absent */
    char *error_code;             /* header x-ocrq-error-code; NULL if absent */
    char *error_message;          /* header x-ocrq-error-message; NULL if absent */
    struct ocrq_mq_death *deaths; /* header x-death in the broker's order (latest first); */
    int n_deaths;                 /* NULL and 0 if absent */
    unsigned char *body;
    size_t len;
};

/* Free a message; NULL is fine. */
void ocrq_mq_msg_free(struct ocrq_mq_msg *msg);

/* What to publish. Every message is persistent (delivery_mode 2). */
struct ocrq_mq_pub {
    const char *exchange; /* "" for the default exchange */
    const char *routing_key;
    const char *message_id;   /* NULL: none */
    const char *content_type; /* NULL: none */
    int priority;             /* -1: none */
    int attempt;              /* > 0: header x-ocrq-attempt */
    const char *error_code;   /* non-NULL: headers x-ocrq-error-code, x-ocrq-error-message */
    const char *error_message;
    long long timestamp;                /* > 0: properties.timestamp (seconds since the epoch) */
    const struct ocrq_mq_death *deaths; /* n_deaths > 0: header x-death, carried over */
    int n_deaths;                       /* from the message this one is a copy of */
    const void *body;
    size_t len;
};

/*
 * Connect to cfg->amqp_url, or to the first of cfg->amqp_urls that answers
 * when that list is set (amqp://user:pass@host:port/vhost; the vhost is
 * URL-decoded; "/" when the path is empty), open channel 1, with the configured
 * heartbeat and frame_max. name is shown in the management UI as
 * connection_name. Returns OCRQ_OK or OCRQ_ERR_MQ (logged; OCRQ_ERR_CONFIG if the
 * URL or a topology name is invalid). *out is NULL on error.
 */
int ocrq_mq_connect(const struct ocrq_config *cfg, const char *name, struct ocrq_mq **out);

/* The same with the broker URL given (one of amqp.urls) instead of cfg->amqp_url. */
int ocrq_mq_connect_to(const struct ocrq_config *cfg, const char *url, const char *name,
                       struct ocrq_mq **out);

/* Close the connection politely and free; NULL is fine. */
void ocrq_mq_free(struct ocrq_mq *mq);

/*
 * Declare the whole topology exactly as every component declares it:
 *  - fanout exchange exchange_dlx (durable) bound to durable queue_failed;
 *  - durable queue_jobs and queue_priority with x-max-priority = max_priority
 *    and x-dead-letter-exchange = exchange_dlx;
 *  - for each job queue Q and each retry delay D seconds a durable queue
 *    "Q.retry.<D>s" with x-message-ttl = D*1000, x-dead-letter-exchange = ""
 *    and x-dead-letter-routing-key = Q.
 * Idempotent. Returns OCRQ_OK or OCRQ_ERR_MQ (e.g. PRECONDITION_FAILED, logged).
 */
int ocrq_mq_declare_topology(struct ocrq_mq *mq);

/*
 * How many queues the topology has at most: the failed queue, and each of
 * the two job queues with one retry delay queue per delay.
 */
#define OCRQ_MQ_MAX_QUEUES (1 + 2 * (1 + OCRQ_MAX_RETRY_DELAYS))

/*
 * The names of every queue of the topology into names (at most max, which
 * OCRQ_MQ_MAX_QUEUES always suffices for): the failed queue first, then each
 * job queue followed by its retry delay queues. Returns how many.
 * (common/mq_topology.c)
 */
int ocrq_mq_topology_queues(struct ocrq_mq *mq, char (*names)[256], int max);

/*
 * Declare one queue of the topology (named as ocrq_mq_topology_queues()
 * names it) with the arguments of the configured amqp.queue_type, or a
 * plain durable classic queue to hold messages while queues are converted. OCRQ_ERR_CONFIG: the
 * queue exists with other arguments (the broker refused; with advise, logged with what to do);
 * OCRQ_ERR_MQ otherwise.
 */
int ocrq_mq_declare_one(struct ocrq_mq *mq, const char *queue, int advise);
int ocrq_mq_declare_holding(struct ocrq_mq *mq, const char *queue);

/*
 * Delete queue (only if it holds no message when if_empty). OCRQ_OK,
 * OCRQ_ERR_NOT_FOUND or OCRQ_ERR_MQ (a non-empty queue with if_empty, too).
 */
int ocrq_mq_queue_delete(struct ocrq_mq *mq, const char *queue, int if_empty);

/* The job queue for a priority: queue_priority if priority >= threshold, else queue_jobs. */
const char *ocrq_mq_queue_for(const struct ocrq_config *cfg, int priority);

/* Name of retry queue number idx (0-based) for job queue q into buf. */
void ocrq_mq_retry_queue(const struct ocrq_config *cfg, const char *q, int idx, char *buf,
                         size_t buflen);

/* Put the channel into confirm mode (confirm.select). */
int ocrq_mq_confirm_select(struct ocrq_mq *mq);

/*
 * Publish one message (mandatory, so an unroutable message comes back as a
 * failed confirm). In confirm mode *seq gets its sequence number (1, 2, ...).
 * Does not wait. Returns OCRQ_OK or OCRQ_ERR_MQ.
 */
int ocrq_mq_publish(struct ocrq_mq *mq, const struct ocrq_mq_pub *pub, uint64_t *seq);

/*
 * Called once per confirmed sequence number: ok is 1 for basic.ack, 0 for nack
 * or return, and OCRQ_MQ_LOST (only after ocrq_mq_report_lost()) when the
 * broker closed the channel before it confirmed.
 */
typedef void (*ocrq_mq_confirm_fn)(void *arg, uint64_t seq, int ok);

#define OCRQ_MQ_LOST (-1)

/*
 * on: report a publish that a broker's channel close left unconfirmed with
 * ok = OCRQ_MQ_LOST, so that the caller can publish it again; off (the
 * default): with ok = 0, as refused. A returned publish stays ok = 0.
 */
void ocrq_mq_report_lost(struct ocrq_mq *mq, int on);

/*
 * Read confirms until at most max_pending publishes are unconfirmed (0: all),
 * calling fn for each (cumulative acks expanded). timeout_ms < 0 waits forever.
 * Returns OCRQ_OK, OCRQ_ERR_TIMEOUT, or OCRQ_ERR_MQ if the connection is lost.
 */
int ocrq_mq_wait_confirms(struct ocrq_mq *mq, size_t max_pending, int timeout_ms,
                          ocrq_mq_confirm_fn fn, void *arg);

/* Number of publishes not yet confirmed. */
size_t ocrq_mq_pending(const struct ocrq_mq *mq);

/* basic.qos with prefetch_count = n; global applies it to the whole channel. */
int ocrq_mq_qos(struct ocrq_mq *mq, int n, int global);

/*
 * basic.get (no_ack = false). Returns OCRQ_OK with *out, OCRQ_ERR_EMPTY,
 * OCRQ_ERR_NOT_FOUND (no such queue), or OCRQ_ERR_MQ.
 */
int ocrq_mq_get(struct ocrq_mq *mq, const char *queue, struct ocrq_mq_msg **out);

/*
 * Two basic.gets in one round trip: both are sent, then both replies read;
 * the broker takes them in this order. *st1 and *st2 are each get's result
 * as ocrq_mq_get() gives it (OCRQ_ERR_TOO_LARGE: the message was
 * dead-lettered). Returns OCRQ_OK when both replies were read, else the
 * error that broke the channel or the connection (*out1 may then hold a
 * message, which is redelivered once the channel is gone).
 */
int ocrq_mq_get_two(struct ocrq_mq *mq, const char *first, const char *second,
                    struct ocrq_mq_msg **out1, int *st1, struct ocrq_mq_msg **out2, int *st2);

/* Start a consumer on queue with the given tag (no_ack = false). */
int ocrq_mq_consume(struct ocrq_mq *mq, const char *queue, const char *tag);

/* Cancel a consumer; waits for cancel-ok (a delivery that arrives first is kept for ocrq_mq_next).
 */
int ocrq_mq_cancel(struct ocrq_mq *mq, const char *tag);

/*
 * Wait up to timeout_ms for one delivery from any consumer, servicing
 * heartbeats. Returns OCRQ_OK with *out, OCRQ_ERR_TIMEOUT, or OCRQ_ERR_MQ.
 */
int ocrq_mq_next(struct ocrq_mq *mq, int timeout_ms, struct ocrq_mq_msg **out);

/* basic.ack / basic.reject of one delivery. */
int ocrq_mq_ack(struct ocrq_mq *mq, uint64_t tag);
int ocrq_mq_reject(struct ocrq_mq *mq, uint64_t tag, int requeue);

/*
 * Service the connection for up to timeout_ms without taking messages:
 * sends and checks heartbeats, notices a closed connection. Frames that are
 * not heartbeats are kept for later calls. Returns OCRQ_OK or OCRQ_ERR_MQ.
 */
int ocrq_mq_service(struct ocrq_mq *mq, int timeout_ms);

/* Hold back (on) or send (off) what is written: TCP_CORK. OCRQ_OK or an error. */
int ocrq_mq_cork(struct ocrq_mq *mq, int on);

/* The socket's file descriptor, for poll(2). */
int ocrq_mq_fd(const struct ocrq_mq *mq);

/* Passive queue.declare: ready messages and consumers. OCRQ_ERR_NOT_FOUND if absent. */
int ocrq_mq_queue_info(struct ocrq_mq *mq, const char *queue, unsigned *ready, unsigned *consumers);

#endif
