/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * ocrq-admin queues convert: declare every queue of the topology again with
 * the configured amqp.queue_type (classic <-> quorum), keeping the messages.
 *
 * A queue's type and arguments are fixed when it is declared, so each queue
 * that differs is emptied into a holding queue "<queue>.converting" of the
 * new type, deleted, declared anew, and refilled. Every move is confirmed by
 * the broker before the source copy is acked, so a crash midway loses
 * nothing: it leaves a message in both queues at worst (workers run a job id
 * once), and running the command again finishes the work. Nothing may use
 * the queues meanwhile: it refuses while a queue has consumers, and the
 * submitters must be stopped too (docs/operations.md).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "ocrq/config.h"
#include "ocrq/job.h"
#include "ocrq/mq.h"
#include "ocrq/status.h"

#define MOVE_BATCH 256
#define CONFIRM_TIMEOUT_MS 30000
#define HOLDING_SUFFIX ".converting"
#define SETTLE_TRIES 100 /* 10 s */
#define SETTLE_WAIT_MS 100

struct move {
    int ok; /* every confirm so far was an ack */
};

static void on_confirm(void *arg, uint64_t seq, int ok)
{
    struct move *m = arg;
    (void)seq;
    if (!ok)
        m->ok = 0;
}

/*
 * Move every message of from into to (the default exchange), up to
 * MOVE_BATCH at a time: published, confirmed, then acked. *moved counts.
 */
static int move_all(struct ocrq_mq *mq, const char *from, const char *to, long long *moved)
{
    struct ocrq_mq_msg *batch[MOVE_BATCH];
    int st = OCRQ_OK;

    *moved = 0;
    for (;;) {
        int n = 0;
        struct move m = {.ok = 1};

        while (n < MOVE_BATCH && (st = ocrq_mq_get(mq, from, &batch[n])) == OCRQ_OK)
            n++;
        if (st == OCRQ_ERR_EMPTY)
            st = OCRQ_OK;
        for (int i = 0; i < n && st == OCRQ_OK; i++) {
            const struct ocrq_mq_msg *msg = batch[i];
            struct ocrq_mq_pub pub = {
                .exchange = "",
                .routing_key = to,
                .message_id = msg->message_id[0] ? msg->message_id : NULL,
                .content_type = OCRQ_CONTENT_TYPE,
                .priority = msg->priority,
                .attempt = msg->attempt,
                .error_code = msg->error_code,
                .error_message = msg->error_code ? msg->error_message : NULL,
                .timestamp = msg->timestamp,
                .deaths = msg->deaths,
                .n_deaths = msg->n_deaths,
                .body = msg->body,
                .len = msg->len,
            };
            uint64_t seq = 0;
            st = ocrq_mq_publish(mq, &pub, &seq);
        }
        if (st == OCRQ_OK && n > 0)
            st = ocrq_mq_wait_confirms(mq, 0, CONFIRM_TIMEOUT_MS, on_confirm, &m);
        if (st == OCRQ_OK && !m.ok)
            st = OCRQ_ERR_NACKED;
        /* only what is confirmed in its new queue leaves the old one */
        for (int i = 0; i < n; i++) {
            if (st == OCRQ_OK)
                st = ocrq_mq_ack(mq, batch[i]->delivery_tag);
            ocrq_mq_msg_free(batch[i]);
        }
        if (st != OCRQ_OK) {
            fprintf(stderr,
                    "ocrq-admin: moving %s to %s failed: %s (the messages not moved stay"
                    " in %s: run the command again)\n",
                    from, to, ocrq_strerror(st), from);
            return st;
        }
        *moved += n;
        if (n < MOVE_BATCH)
            return OCRQ_OK;
    }
}

/* The holding queue of q into hold (256 bytes). */
static int holding_name(const char *q, char *hold)
{
    size_t len = strlen(q);

    if (len + sizeof HOLDING_SUFFIX > 256) {
        fprintf(stderr, "ocrq-admin: %s: the name is too long for a holding queue\n", q);
        return OCRQ_ERR_INVALID;
    }
    memcpy(hold, q, len);
    memcpy(hold + len, HOLDING_SUFFIX, sizeof HOLDING_SUFFIX);
    return OCRQ_OK;
}

/*
 * Delete q once it is empty. Quorum queues refuse if-empty deletes, so the
 * count is asked first; nothing publishes meanwhile (see the top). A quorum
 * queue settles acks through its log a moment later, and counts a get not
 * yet settled as a consumer: ask again for a while.
 */
static int delete_empty(struct ocrq_mq *mq, const char *q)
{
    unsigned ready = 0, consumers = 0;
    int st = OCRQ_OK;

    for (int i = 0; i < SETTLE_TRIES; i++) {
        st = ocrq_mq_queue_info(mq, q, &ready, &consumers);
        if (st != OCRQ_OK || (ready == 0 && consumers == 0))
            break;
        struct timespec ts = {0, SETTLE_WAIT_MS * 1000000L};
        nanosleep(&ts, NULL);
    }

    if (st == OCRQ_ERR_NOT_FOUND)
        return OCRQ_OK;
    if (st == OCRQ_OK && (ready > 0 || consumers > 0)) {
        fprintf(stderr,
                "ocrq-admin: %s is not empty now (%u ready, %u consumers): stop the"
                " workers and submitters and run the command again\n",
                q, ready, consumers);
        return OCRQ_ERR_INVALID;
    }
    if (st == OCRQ_OK)
        st = ocrq_mq_queue_delete(mq, q, 0);
    if (st != OCRQ_OK && st != OCRQ_ERR_NOT_FOUND) {
        fprintf(stderr, "ocrq-admin: cannot delete %s: %s\n", q, ocrq_strerror(st));
        return OCRQ_ERR_MQ;
    }
    return OCRQ_OK;
}

/*
 * Whatever waits in q's holding queue (emptied into it just now, or by a run
 * that stopped midway) goes back into q, declared as configured by now.
 */
static int refill(struct ocrq_mq *mq, const char *q, const char *type)
{
    char hold[256];
    long long back = 0;
    unsigned ready = 0;
    int st = holding_name(q, hold);

    if (st == OCRQ_OK)
        st = ocrq_mq_queue_info(mq, hold, &ready, NULL);
    if (st == OCRQ_ERR_NOT_FOUND)
        return OCRQ_OK;
    if (st == OCRQ_OK)
        st = move_all(mq, hold, q, &back);
    if (st == OCRQ_OK)
        st = delete_empty(mq, hold);
    if (st == OCRQ_OK)
        printf("%-32s %s, %lld message%s moved back in\n", q, type, back, back == 1 ? "" : "s");
    return st;
}

/* Empty q, which exists with other arguments, into its holding queue, and delete it. */
static int empty_out(struct ocrq_mq *mq, const char *q)
{
    char hold[256];
    long long out = 0;
    int st = holding_name(q, hold);

    if (st != OCRQ_OK)
        return st;
    st = ocrq_mq_declare_holding(mq, hold);
    if (st != OCRQ_OK) {
        admin_report("cannot declare the holding queue (see the log line above)", st);
        return OCRQ_ERR_MQ;
    }
    if ((st = move_all(mq, q, hold, &out)) != OCRQ_OK)
        return st;
    if ((st = delete_empty(mq, q)) != OCRQ_OK)
        return st;
    printf("%-32s differs: %lld message%s kept in %s, queue deleted\n", q, out, out == 1 ? "" : "s",
           hold);
    return OCRQ_OK;
}

static int connect(const struct ocrq_config *cfg, struct ocrq_mq **mq)
{
    int st = ocrq_mq_connect(cfg, "ocrq-admin", mq);

    if (st == OCRQ_OK)
        st = ocrq_mq_confirm_select(*mq);
    if (st != OCRQ_OK) {
        admin_report("cannot connect to the broker", st);
        return OCRQ_ERR_MQ;
    }
    return OCRQ_OK;
}

/*
 * Two passes, on two connections: first every queue that differs is emptied
 * and deleted; then the topology is declared as configured and the held
 * messages go back. (RabbitMQ 3.10 breaks a channel that publishes to a
 * queue deleted and declared again as another type, so the second pass
 * starts afresh.)
 */
int admin_queues_convert(const struct ocrq_config *cfg)
{
    char names[OCRQ_MQ_MAX_QUEUES][256];
    struct ocrq_mq *mq = NULL;
    int differed = 0, n;
    int st = connect(cfg, &mq);

    if (st != OCRQ_OK)
        goto out;
    n = ocrq_mq_topology_queues(mq, names, OCRQ_MQ_MAX_QUEUES);
    for (int i = 0; i < n; i++) { /* nothing may consume meanwhile */
        unsigned ready = 0, consumers = 0;
        st = ocrq_mq_queue_info(mq, names[i], &ready, &consumers);
        if (st == OCRQ_ERR_NOT_FOUND)
            continue;
        if (st != OCRQ_OK) {
            admin_report("cannot inspect the queues", st);
            st = OCRQ_ERR_MQ;
            goto out;
        }
        if (consumers > 0) {
            fprintf(stderr,
                    "ocrq-admin: %s has %u consumer%s: stop the workers (and ocrq-api,"
                    " ocrq-submit) before converting the queues\n",
                    names[i], consumers, consumers == 1 ? "" : "s");
            st = OCRQ_ERR_INVALID;
            goto out;
        }
    }
    for (int i = 0; i < n; i++) {
        st = ocrq_mq_declare_one(mq, names[i], 0); /* as configured already, or new: kept */
        if (st == OCRQ_OK)
            continue;
        if (st != OCRQ_ERR_CONFIG) {
            admin_report("cannot declare the queues", st);
            st = OCRQ_ERR_MQ;
            goto out;
        }
        if ((st = empty_out(mq, names[i])) != OCRQ_OK)
            goto out;
        differed++;
    }
    ocrq_mq_free(mq);
    mq = NULL;
    if ((st = connect(cfg, &mq)) != OCRQ_OK)
        goto out;
    if ((st = admin_declare_topology(mq)) != OCRQ_OK)
        goto out;
    for (int i = 0; i < n && st == OCRQ_OK; i++)
        st = refill(mq, names[i], cfg->queue_type);
    if (st == OCRQ_OK)
        printf("%d queue%s converted; every queue is %s now\n", differed, differed == 1 ? "" : "s",
               cfg->queue_type);
out:
    ocrq_mq_free(mq);
    return st;
}
