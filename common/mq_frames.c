/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The frame pump: read one frame (queued ones first, under a deadline), read
 * the content of a message, and fold every frame that arrives out of turn
 * (confirms, returns, deliveries, closes) into our state, so no caller ever
 * loses a frame.
 */
#include "ocrq/mq.h"

#include <amqp.h>
#include <amqp_framing.h>

#include <stdlib.h>
#include <string.h>

#include "mq_internal.h"
#include "ocrq/clock.h"
#include "ocrq/log.h"
#include "ocrq/status.h"

#define MAX_BODY ((size_t)128 << 20) /* RabbitMQ's default max_message_size */

void ocrq_mq_content_cleanup(struct content *c)
{
    free(c->error_code);
    free(c->error_message);
    free(c->deaths);
    free(c->body);
    c->error_code = c->error_message = NULL;
    c->deaths = NULL;
    c->body = NULL;
}

/* Drain the library's queue into our state (frames that arrived before the current one). */
void ocrq_mq_drain(struct ocrq_mq *mq)
{
    while (!mq->broken && amqp_frames_enqueued(mq->conn)) {
        amqp_frame_t f;
        struct timeval tv = {0, 0};
        int rc = amqp_simple_wait_frame_noblock(mq->conn, &f, &tv);
        if (rc != AMQP_STATUS_OK) {
            (void)ocrq_mq_lib_fail(mq, rc, "read", NULL);
            return;
        }
        (void)ocrq_mq_handle_frame(mq, &f);
    }
}

/* ---- reading frames and message content ----------------------------------- */

/* One frame, queued ones first; OCRQ_ERR_TIMEOUT at the deadline (-1: none). */
int ocrq_mq_read_frame(struct ocrq_mq *mq, long long deadline, amqp_frame_t *f)
{
    struct timeval tv, *tvp = NULL;
    if (deadline >= 0) {
        long long left = deadline - ocrq_now_ms();
        if (left <= 0) {
            tv.tv_sec = 0; /* not "immediate": a tiny wait still notices a missed heartbeat */
            tv.tv_usec = 1;
        } else {
            tv.tv_sec = left / 1000;
            tv.tv_usec = (left % 1000) * 1000;
        }
        tvp = &tv;
    }
    int rc = amqp_simple_wait_frame_noblock(mq->conn, f, tvp);
    if (rc == AMQP_STATUS_TIMEOUT)
        return OCRQ_ERR_TIMEOUT;
    if (rc != AMQP_STATUS_OK)
        return ocrq_mq_lib_fail(mq, rc, "read", NULL);
    return OCRQ_OK;
}

/* A content frame of the message being read; a close instead is handled and fails. */
static int content_frame(struct ocrq_mq *mq, long long deadline, uint8_t type, amqp_frame_t *f)
{
    for (;;) {
        int st = ocrq_mq_read_frame(mq, deadline, f);
        if (st == OCRQ_ERR_TIMEOUT)
            return ocrq_mq_lib_fail(mq, AMQP_STATUS_TIMEOUT, "read message content", NULL);
        if (st != OCRQ_OK)
            return st;
        if (f->frame_type == AMQP_FRAME_HEARTBEAT)
            continue;
        if (f->frame_type == type && f->channel == CHAN)
            return OCRQ_OK;
        if (f->frame_type == AMQP_FRAME_METHOD &&
            (f->payload.method.id == AMQP_CONNECTION_CLOSE_METHOD ||
             f->payload.method.id == AMQP_CHANNEL_CLOSE_METHOD)) {
            (void)ocrq_mq_handle_frame(mq, f);
            return OCRQ_ERR_MQ;
        }
        log_error(NULL, "amqp: unexpected frame type %u inside a message", f->frame_type);
        mq->broken = 1;
        return OCRQ_ERR_MQ;
    }
}

/*
 * Read the content header and body frames that follow a basic.deliver,
 * basic.get-ok or basic.return. keep = 0 reads and drops the body; so does a
 * body over MAX_BODY (c->too_large set). c->body is malloc'd (NUL-terminated).
 */
int ocrq_mq_read_content(struct ocrq_mq *mq, int keep, struct content *c)
{
    amqp_frame_t f;
    long long deadline = deadline_of(CONTENT_TIMEOUT_MS);
    memset(c, 0, sizeof(*c));
    c->priority = -1;
    int st = content_frame(mq, deadline, AMQP_FRAME_HEADER, &f);
    if (st != OCRQ_OK)
        return st;
    uint64_t size = f.payload.properties.body_size;
    ocrq_mq_read_props(f.payload.properties.decoded, c);
    if (size > MAX_BODY) {
        c->too_large = 1;
        keep = 0;
    }
    if (keep) {
        c->body = malloc((size_t)size + 1);
        if (!c->body) {
            ocrq_mq_content_cleanup(c);
            return OCRQ_ERR_NOMEM; /* the stream is now out of step */
        }
        c->body[size] = '\0';
    }
    uint64_t got = 0;
    while (got < size) {
        st = content_frame(mq, deadline, AMQP_FRAME_BODY, &f);
        if (st != OCRQ_OK)
            goto out;
        amqp_bytes_t b = f.payload.body_fragment;
        if (b.len > size - got) {
            log_error(NULL, "amqp: message body longer than announced");
            mq->broken = 1;
            st = OCRQ_ERR_MQ;
            goto out;
        }
        if (c->body && b.len)
            memcpy(c->body + got, b.bytes, b.len);
        got += b.len;
    }
    c->len = keep ? (size_t)size : 0;
out:
    if (st != OCRQ_OK)
        ocrq_mq_content_cleanup(c);
    return st;
}

/* ---- the frame dispatcher ------------------------------------------------ */

/* Fold one frame into our state. OCRQ_ERR_MQ when the channel or connection closed. */
int ocrq_mq_handle_frame(struct ocrq_mq *mq, amqp_frame_t *f)
{
    if (f->frame_type == AMQP_FRAME_HEARTBEAT)
        return OCRQ_OK; /* queued by the library while it was sending */
    if (f->frame_type != AMQP_FRAME_METHOD) {
        log_error(NULL, "amqp: content frame outside a message");
        mq->broken = 1;
        return OCRQ_ERR_MQ;
    }
    void *m = f->payload.method.decoded;
    switch (f->payload.method.id) {
    case AMQP_BASIC_ACK_METHOD: {
        const amqp_basic_ack_t *a = m;
        ocrq_mq_on_confirm(mq, a->delivery_tag, a->multiple, 1);
        return OCRQ_OK;
    }
    case AMQP_BASIC_NACK_METHOD: {
        const amqp_basic_nack_t *n = m;
        ocrq_mq_on_confirm(mq, n->delivery_tag, n->multiple, 0);
        return OCRQ_OK;
    }
    case AMQP_BASIC_RETURN_METHOD:
        return ocrq_mq_on_return(mq, m);
    case AMQP_BASIC_DELIVER_METHOD:
        return ocrq_mq_on_deliver(mq, m);
    case AMQP_BASIC_CANCEL_METHOD: {
        char tag[SHORTSTR_MAX + 1];
        copy_bytes(tag, sizeof(tag), ((const amqp_basic_cancel_t *)m)->consumer_tag);
        log_warn(NULL, "amqp: broker cancelled consumer %s", tag);
        ocrq_mq_consumer_forget(mq, tag);
        return OCRQ_OK;
    }
    case AMQP_CHANNEL_CLOSE_METHOD:
        ocrq_mq_on_channel_close(mq, m, "channel", NULL);
        return OCRQ_ERR_MQ;
    case AMQP_CONNECTION_CLOSE_METHOD:
        ocrq_mq_on_connection_close(mq, m, "connection", NULL);
        return OCRQ_ERR_MQ;
    case AMQP_CONNECTION_BLOCKED_METHOD:
        log_warn(NULL, "amqp: broker blocked publishing");
        return OCRQ_OK;
    default:
        log_debug(NULL, "amqp: method 0x%08x on channel %u ignored", (unsigned)f->payload.method.id,
                  f->channel);
        return OCRQ_OK;
    }
}

/* Read and handle one frame. */
int ocrq_mq_pump(struct ocrq_mq *mq, long long deadline)
{
    amqp_frame_t f;
    int st = ocrq_mq_read_frame(mq, deadline, &f);
    if (st != OCRQ_OK)
        return st;
    st = ocrq_mq_handle_frame(mq, &f);
    release(mq);
    return st;
}

/*
 * rabbitmq-c answers heartbeats inside its frame reads and drops incoming
 * heartbeat frames there; every other frame is folded into our state
 * (confirms, returns, deliveries for ocrq_mq_next).
 */
int ocrq_mq_service(struct ocrq_mq *mq, int timeout_ms)
{
    if (!usable(mq))
        return OCRQ_ERR_MQ;
    release(mq);
    long long deadline = ocrq_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        int st = ocrq_mq_pump(mq, deadline);
        if (st == OCRQ_ERR_TIMEOUT)
            return OCRQ_OK;
        if (mq->broken)
            return OCRQ_ERR_MQ;
        if (st != OCRQ_OK)
            return st;
    }
}
