/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Taking messages: basic.get (one queue, or two in one round trip), consumers
 * and the deliveries buffered for ocrq_mq_next(), and their ack or reject.
 * Delivery tags carry the channel generation, so that a tag from a channel
 * since closed is refused rather than acking another message.
 */
#include "ocrq/mq.h"

#include <amqp.h>
#include <amqp_framing.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mq_internal.h"
#include "ocrq/log.h"
#include "ocrq/status.h"

#define MAX_BUFFERED_DELIVERIES 1024 /* more only without basic.qos */
#define TAG_GEN_SHIFT 48             /* delivery tags carry the channel generation */

void ocrq_mq_msg_free(struct ocrq_mq_msg *msg)
{
    if (!msg)
        return;
    free(msg->error_code);
    free(msg->error_message);
    free(msg->deaths);
    free(msg->body);
    free(msg);
}

static void dq_push(struct ocrq_mq *mq, struct delivery *d)
{
    d->next = NULL;
    if (mq->dq_tail)
        mq->dq_tail->next = d;
    else
        mq->dq_head = d;
    mq->dq_tail = d;
    mq->dq_len++;
}

static struct ocrq_mq_msg *dq_pop(struct ocrq_mq *mq)
{
    struct delivery *d = mq->dq_head;
    if (!d)
        return NULL;
    mq->dq_head = d->next;
    if (!mq->dq_head)
        mq->dq_tail = NULL;
    mq->dq_len--;
    struct ocrq_mq_msg *m = d->msg;
    free(d);
    return m;
}

void ocrq_mq_dq_clear(struct ocrq_mq *mq)
{
    struct ocrq_mq_msg *m;
    while ((m = dq_pop(mq)) != NULL)
        ocrq_mq_msg_free(m);
}

static struct consumer *consumer_find(struct ocrq_mq *mq, const char *tag)
{
    for (int i = 0; i < mq->n_consumers; i++)
        if (strcmp(mq->consumers[i].tag, tag) == 0)
            return &mq->consumers[i];
    return NULL;
}

void ocrq_mq_consumer_forget(struct ocrq_mq *mq, const char *tag)
{
    struct consumer *c = consumer_find(mq, tag);
    if (c)
        *c = mq->consumers[--mq->n_consumers];
}

static uint64_t user_tag(const struct ocrq_mq *mq, uint64_t tag)
{
    return ((uint64_t)(mq->gen & 0xffff) << TAG_GEN_SHIFT) | tag;
}

static int send_reject(struct ocrq_mq *mq, uint64_t tag, int requeue)
{
    int rc = amqp_basic_reject(mq->conn, CHAN, tag, (amqp_boolean_t)requeue);
    return rc == AMQP_STATUS_OK ? OCRQ_OK : ocrq_mq_lib_fail(mq, rc, "basic.reject", NULL);
}

static struct ocrq_mq_msg *msg_from(struct content *c, uint64_t tag, int redelivered,
                                    const char *queue)
{
    struct ocrq_mq_msg *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->delivery_tag = tag;
    m->redelivered = redelivered ? 1 : 0;
    snprintf(m->queue, sizeof(m->queue), "%s", queue ? queue : "");
    memcpy(m->message_id, c->message_id, sizeof(m->message_id));
    m->priority = c->priority;
    m->attempt = c->attempt;
    m->death_count = c->death_count;
    m->timestamp = c->timestamp;
    m->error_code = c->error_code;
    m->error_message = c->error_message;
    m->deaths = c->deaths;
    m->n_deaths = c->n_deaths;
    m->body = c->body;
    m->len = c->len;
    c->error_code = c->error_message = NULL;
    c->deaths = NULL;
    c->body = NULL;
    return m;
}

int ocrq_mq_on_deliver(struct ocrq_mq *mq, const amqp_basic_deliver_t *d)
{
    char ctag[SHORTSTR_MAX + 1];
    struct content c;
    uint64_t tag = d->delivery_tag;
    int redelivered = d->redelivered;
    copy_bytes(ctag, sizeof(ctag), d->consumer_tag);
    int st = ocrq_mq_read_content(mq, 1, &c);
    if (st != OCRQ_OK)
        return st;
    if (c.too_large || mq->dq_len >= MAX_BUFFERED_DELIVERIES) {
        log_error(NULL, "amqp: delivery %s, %s",
                  c.too_large ? "over the size cap" : "not buffered (no basic.qos?)",
                  c.too_large ? "dead-lettered" : "requeued");
        ocrq_mq_content_cleanup(&c);
        return send_reject(mq, tag, !c.too_large);
    }
    const struct consumer *k = consumer_find(mq, ctag);
    struct delivery *dl = calloc(1, sizeof(*dl));
    struct ocrq_mq_msg *m =
        dl ? msg_from(&c, user_tag(mq, tag), redelivered, k ? k->queue : "") : NULL;
    if (!m) {
        free(dl);
        ocrq_mq_content_cleanup(&c);
        (void)send_reject(mq, tag, 1);
        return OCRQ_ERR_NOMEM;
    }
    dl->msg = m;
    dq_push(mq, dl);
    return OCRQ_OK;
}

/* ---- consuming -------------------------------------------------------------- */

int ocrq_mq_qos(struct ocrq_mq *mq, int n, int global)
{
    if (!usable(mq))
        return OCRQ_ERR_MQ;
    if (n < 0 || n > UINT16_MAX)
        return OCRQ_ERR_INVALID;
    release(mq);
    (void)amqp_basic_qos(mq->conn, CHAN, 0, (uint16_t)n, (amqp_boolean_t)(global != 0));
    int st = ocrq_mq_rpc_status(mq, amqp_get_rpc_reply(mq->conn), "basic.qos", NULL);
    if (st != OCRQ_OK)
        return OCRQ_ERR_MQ;
    mq->qos_set = 1;
    mq->qos_n = n;
    mq->qos_global = global != 0;
    return OCRQ_OK;
}

/* Send basic.get on queue without waiting for its reply (get_reply reads it). */
static int get_send(struct ocrq_mq *mq, const char *queue)
{
    amqp_basic_get_t req = {.queue = amqp_cstring_bytes(queue), .no_ack = 0};
    int rc = amqp_send_method(mq->conn, CHAN, AMQP_BASIC_GET_METHOD, &req);
    return rc == AMQP_STATUS_OK ? OCRQ_OK : ocrq_mq_lib_fail(mq, rc, "basic.get", queue);
}

/*
 * Read the reply to one basic.get sent by get_send: get-empty, or get-ok and
 * its message. What comes before it (a late delivery, a confirm) is handled
 * as anywhere else; a close fails as the RPC would have.
 */
static int get_reply(struct ocrq_mq *mq, const char *queue, struct ocrq_mq_msg **out)
{
    long long deadline = deadline_of(CONTENT_TIMEOUT_MS);
    amqp_frame_t f;
    struct content c;
    int st;

    for (;;) {
        st = ocrq_mq_read_frame(mq, deadline, &f);
        if (st == OCRQ_ERR_TIMEOUT)
            return ocrq_mq_lib_fail(mq, AMQP_STATUS_TIMEOUT, "basic.get", queue);
        if (st != OCRQ_OK)
            return OCRQ_ERR_MQ;
        if (f.frame_type != AMQP_FRAME_METHOD || f.channel != CHAN)
            st = ocrq_mq_handle_frame(mq, &f);
        else if (f.payload.method.id == AMQP_BASIC_GET_OK_METHOD)
            break;
        else if (f.payload.method.id == AMQP_BASIC_GET_EMPTY_METHOD)
            return OCRQ_ERR_EMPTY;
        else if (f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
                 f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
            amqp_rpc_reply_t r = {.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION,
                                  .reply = f.payload.method};
            st = ocrq_mq_rpc_status(mq, r, "basic.get", queue);
            return st == OCRQ_ERR_NOT_FOUND ? st : OCRQ_ERR_MQ;
        } else
            st = ocrq_mq_handle_frame(mq, &f);
        if (st != OCRQ_OK || mq->broken)
            return OCRQ_ERR_MQ;
    }
    const amqp_basic_get_ok_t *ok = f.payload.method.decoded;
    uint64_t tag = ok->delivery_tag;
    int redelivered = ok->redelivered;
    st = ocrq_mq_read_content(mq, 1, &c);
    if (st != OCRQ_OK)
        return st == OCRQ_ERR_NOMEM ? st : OCRQ_ERR_MQ;
    if (c.too_large) {
        log_error(NULL, "amqp: message from %s over the size cap, dead-lettered", queue);
        ocrq_mq_content_cleanup(&c);
        st = send_reject(mq, tag, 0);
        return st == OCRQ_OK ? OCRQ_ERR_TOO_LARGE : st;
    }
    *out = msg_from(&c, user_tag(mq, tag), redelivered, queue);
    if (!*out) {
        ocrq_mq_content_cleanup(&c);
        (void)send_reject(mq, tag, 1);
        return OCRQ_ERR_NOMEM;
    }
    return OCRQ_OK;
}

int ocrq_mq_get(struct ocrq_mq *mq, const char *queue, struct ocrq_mq_msg **out)
{
    if (out)
        *out = NULL;
    if (!usable(mq))
        return OCRQ_ERR_MQ;
    if (!out || !shortstr_ok(queue))
        return OCRQ_ERR_INVALID;
    release(mq);
    int st = get_send(mq, queue);
    return st == OCRQ_OK ? get_reply(mq, queue, out) : st;
}

int ocrq_mq_get_two(struct ocrq_mq *mq, const char *first, const char *second,
                    struct ocrq_mq_msg **out1, int *st1, struct ocrq_mq_msg **out2, int *st2)
{
    *out1 = *out2 = NULL;
    *st1 = *st2 = OCRQ_ERR_MQ;
    if (!usable(mq))
        return OCRQ_ERR_MQ;
    if (!shortstr_ok(first) || !shortstr_ok(second))
        return OCRQ_ERR_INVALID;
    release(mq);
    int st = get_send(mq, first);
    if (st == OCRQ_OK)
        st = get_send(mq, second);
    if (st != OCRQ_OK)
        return st;
    /* a get that fails for its queue alone (empty, too large) leaves the other one's reply to read
     */
    *st1 = get_reply(mq, first, out1);
    if (*st1 != OCRQ_OK && *st1 != OCRQ_ERR_EMPTY && *st1 != OCRQ_ERR_TOO_LARGE)
        return *st1;
    *st2 = get_reply(mq, second, out2);
    if (*st2 != OCRQ_OK && *st2 != OCRQ_ERR_EMPTY && *st2 != OCRQ_ERR_TOO_LARGE)
        return *st2;
    return OCRQ_OK;
}

int ocrq_mq_consume(struct ocrq_mq *mq, const char *queue, const char *tag)
{
    if (!usable(mq))
        return OCRQ_ERR_MQ;
    if (!shortstr_ok(queue) || (tag && !shortstr_ok(tag)))
        return OCRQ_ERR_INVALID;
    if (mq->n_consumers >= MAX_CONSUMERS) {
        log_error(NULL, "amqp: more than %d consumers", MAX_CONSUMERS);
        return OCRQ_ERR_INVALID;
    }
    release(mq);
    amqp_basic_consume_ok_t *ok =
        amqp_basic_consume(mq->conn, CHAN, amqp_cstring_bytes(queue),
                           amqp_cstring_bytes(tag ? tag : ""), 0, 0, 0, amqp_empty_table);
    int st = ocrq_mq_rpc_status(mq, amqp_get_rpc_reply(mq->conn), "basic.consume", queue);
    if (st != OCRQ_OK)
        return st == OCRQ_ERR_NOT_FOUND ? st : OCRQ_ERR_MQ;
    struct consumer *c = &mq->consumers[mq->n_consumers++];
    copy_bytes(c->tag, sizeof(c->tag), ok->consumer_tag);
    snprintf(c->queue, sizeof(c->queue), "%s", queue);
    return OCRQ_OK;
}

int ocrq_mq_cancel(struct ocrq_mq *mq, const char *tag)
{
    if (!usable(mq))
        return OCRQ_ERR_MQ;
    if (!shortstr_ok(tag))
        return OCRQ_ERR_INVALID;
    release(mq);
    (void)amqp_basic_cancel(mq->conn, CHAN, amqp_cstring_bytes(tag));
    /* deliveries that came before cancel-ok are drained into our queue here */
    int st = ocrq_mq_rpc_status(mq, amqp_get_rpc_reply(mq->conn), "basic.cancel", tag);
    if (st != OCRQ_OK)
        return OCRQ_ERR_MQ;
    ocrq_mq_consumer_forget(mq, tag);
    return OCRQ_OK;
}

int ocrq_mq_next(struct ocrq_mq *mq, int timeout_ms, struct ocrq_mq_msg **out)
{
    if (out)
        *out = NULL;
    if (!usable(mq))
        return OCRQ_ERR_MQ;
    if (!out)
        return OCRQ_ERR_INVALID;
    release(mq);
    long long deadline = deadline_of(timeout_ms);
    for (;;) {
        *out = dq_pop(mq);
        if (*out)
            return OCRQ_OK;
        int st = ocrq_mq_pump(mq, deadline);
        if (st == OCRQ_ERR_TIMEOUT)
            return st;
        if (st != OCRQ_OK && (mq->broken || st == OCRQ_ERR_MQ))
            return OCRQ_ERR_MQ; /* connection lost, or the channel and its consumers */
    }
}

static int ack_or_reject(struct ocrq_mq *mq, uint64_t tag, int ack, int requeue)
{
    if (!usable(mq))
        return OCRQ_ERR_MQ;
    if ((tag >> TAG_GEN_SHIFT) != (mq->gen & 0xffff)) {
        log_warn(NULL, "amqp: delivery %llu came on a channel since closed; the broker requeued it",
                 (unsigned long long)(tag & ((1ULL << TAG_GEN_SHIFT) - 1)));
        return OCRQ_ERR_MQ;
    }
    tag &= (1ULL << TAG_GEN_SHIFT) - 1;
    int rc = ack ? amqp_basic_ack(mq->conn, CHAN, tag, 0)
                 : amqp_basic_reject(mq->conn, CHAN, tag, (amqp_boolean_t)(requeue != 0));
    return rc == AMQP_STATUS_OK
               ? OCRQ_OK
               : ocrq_mq_lib_fail(mq, rc, ack ? "basic.ack" : "basic.reject", NULL);
}

int ocrq_mq_ack(struct ocrq_mq *mq, uint64_t tag)
{
    return ack_or_reject(mq, tag, 1, 0);
}

int ocrq_mq_reject(struct ocrq_mq *mq, uint64_t tag, int requeue)
{
    return ack_or_reject(mq, tag, 0, requeue);
}
