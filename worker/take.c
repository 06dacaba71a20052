/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The take rule: a worker never starts a normal job while a priority job
 * is ready. basic.get makes the check happen at the moment of the decision;
 * consumers are used only to wake an idle worker.
 */
#include "take.h"

#include <string.h>

#include "ocrq/config.h"
#include "ocrq/log.h"
#include "ocrq/mq.h"
#include "ocrq/status.h"

#define TAG_PRIORITY "ocrq.priority"
#define TAG_NORMAL "ocrq.normal"

/*
 * msg was taken from the normal queue: look at the priority queue once more.
 * If a priority job is there, put msg back (not counted as an attempt: it
 * never started) and hand out the priority job instead.
 */
static int prefer_priority(struct ocrq_mq *mq, const struct ocrq_config *cfg,
                           struct ocrq_mq_msg **msg)
{
    struct ocrq_mq_msg *prio = NULL;
    int st = ocrq_mq_get(mq, cfg->queue_priority, &prio);

    if (st == OCRQ_ERR_EMPTY)
        return OCRQ_OK;
    if (st != OCRQ_OK)
        return st;
    log_debug(NULL, "priority job arrived: returning the normal job to its queue");
    st = ocrq_mq_reject(mq, (*msg)->delivery_tag, 1);
    ocrq_mq_msg_free(*msg);
    *msg = prio;
    return st;
}

/*
 * A global prefetch of 1 lets the broker push one message to both consumers
 * together. Quorum queues refuse a global prefetch (RabbitMQ 3.x), so there
 * each consumer has its own, and both may push before they are cancelled:
 * the deliveries that came before the cancel-oks are all buffered by now.
 * Keep one, a priority job if there is one, and hand the other back.
 */
static int one_delivery(struct ocrq_mq *mq, const struct ocrq_config *cfg, struct ocrq_mq_msg **msg)
{
    struct ocrq_mq_msg *extra = NULL;
    int st = OCRQ_OK;

    while (st == OCRQ_OK && ocrq_mq_next(mq, 0, &extra) == OCRQ_OK) {
        struct ocrq_mq_msg **back = &extra;
        if (strcmp(extra->queue, cfg->queue_priority) == 0 &&
            strcmp((*msg)->queue, cfg->queue_priority) != 0)
            back = msg; /* the priority job goes first */
        log_debug(NULL, "two jobs pushed at once: returning the one from %s", (*back)->queue);
        st = ocrq_mq_reject(mq, (*back)->delivery_tag, 1);
        ocrq_mq_msg_free(*back);
        if (back == msg)
            *msg = extra;
        extra = NULL;
    }
    return st;
}

/* Both queues were empty: wait for a push on either, then stop consuming. */
static int wait_idle(struct ocrq_mq *mq, const struct ocrq_config *cfg, volatile sig_atomic_t *stop,
                     struct ocrq_mq_msg **out)
{
    struct ocrq_mq_msg *msg = NULL;
    int st, st2;

    st = ocrq_mq_consume(mq, cfg->queue_priority, TAG_PRIORITY);
    if (st == OCRQ_OK)
        st = ocrq_mq_consume(mq, cfg->queue_jobs, TAG_NORMAL);
    while (st == OCRQ_OK && !*stop) {
        st = ocrq_mq_next(mq, cfg->idle_wait_ms, &msg);
        if (st == OCRQ_OK)
            break;
        if (st == OCRQ_ERR_TIMEOUT)
            st = OCRQ_OK;
    }
    /* Cancel both whatever happened. */
    st2 = ocrq_mq_cancel(mq, TAG_PRIORITY);
    if (st2 == OCRQ_OK)
        st2 = ocrq_mq_cancel(mq, TAG_NORMAL);
    if (st == OCRQ_OK && st2 != OCRQ_OK)
        st = st2;
    if (st == OCRQ_OK && msg)
        st = one_delivery(mq, cfg, &msg);
    if (st != OCRQ_OK) {
        ocrq_mq_msg_free(msg);
        return st;
    }
    if (msg == NULL)
        return OCRQ_ERR_EMPTY;
    *out = msg;
    return OCRQ_OK;
}

enum ocrq_take_pick ocrq_take_choose(const struct ocrq_mq_msg *normal, int st_normal,
                                     const struct ocrq_mq_msg *prio, int st_prio, int *hand_back)
{
    *hand_back = 0;
    if (prio != NULL) {
        *hand_back = normal != NULL;
        return OCRQ_TAKE_PRIORITY;
    }
    if (normal != NULL)
        return OCRQ_TAKE_NORMAL;
    if (st_normal == OCRQ_ERR_TOO_LARGE || st_prio == OCRQ_ERR_TOO_LARGE)
        return OCRQ_TAKE_AGAIN; /* one was dead-lettered: there may be more */
    return OCRQ_TAKE_IDLE;
}

/*
 * Take the next job by the rule. Both gets go in one round trip, the normal
 * queue's first: the broker takes them in that order, so the priority queue
 * is looked at after the normal job was taken, and a priority job found
 * there sends the normal one back (not counted as an attempt: it never
 * started). After a priority job the priority queue is asked alone first,
 * as another one is likely.
 */
int ocrq_take_next(struct ocrq_mq *mq, const struct ocrq_config *cfg, volatile sig_atomic_t *stop,
                   int *last_was_priority, struct ocrq_mq_msg **out)
{
    struct ocrq_mq_msg *msg = NULL, *normal = NULL, *prio = NULL;
    int st, st_n, st_p, hand_back;
    enum ocrq_take_pick pick;

    *out = NULL;
    while (!*stop) {
        if (*last_was_priority) {
            st = ocrq_mq_get(mq, cfg->queue_priority, &msg);
            if (st == OCRQ_OK)
                break;
            if (st != OCRQ_ERR_EMPTY && st != OCRQ_ERR_TOO_LARGE)
                return st;
        }
        st =
            ocrq_mq_get_two(mq, cfg->queue_jobs, cfg->queue_priority, &normal, &st_n, &prio, &st_p);
        if (st != OCRQ_OK) {
            ocrq_mq_msg_free(normal);
            ocrq_mq_msg_free(prio);
            return st;
        }
        pick = ocrq_take_choose(normal, st_n, prio, st_p, &hand_back);
        if (hand_back) {
            log_debug(NULL, "priority job ready: returning the normal job to its queue");
            st = ocrq_mq_reject(mq, normal->delivery_tag, 1);
            ocrq_mq_msg_free(normal);
            if (st != OCRQ_OK) {
                ocrq_mq_msg_free(prio);
                return st;
            }
        }
        if (pick == OCRQ_TAKE_PRIORITY || pick == OCRQ_TAKE_NORMAL) {
            msg = pick == OCRQ_TAKE_PRIORITY ? prio : normal;
            break;
        }
        if (pick == OCRQ_TAKE_AGAIN)
            continue;
        st = wait_idle(mq, cfg, stop, &msg);
        if (st == OCRQ_ERR_EMPTY)
            continue;
        if (st != OCRQ_OK)
            return st;
        if (strcmp(msg->queue, cfg->queue_priority) != 0) {
            st = prefer_priority(mq, cfg, &msg);
            if (st != OCRQ_OK) {
                ocrq_mq_msg_free(msg);
                return st;
            }
        }
        break;
    }
    if (msg == NULL)
        return OCRQ_ERR_EMPTY;
    *last_was_priority = strcmp(msg->queue, cfg->queue_priority) == 0;
    *out = msg;
    return OCRQ_OK;
}
