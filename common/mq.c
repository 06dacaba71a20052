/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The broker connection: the only module that speaks rabbitmq-c. One
 * connection, channel 1, publisher confirms tracked per sequence number, and
 * every frame that arrives out of turn (acks, returns, deliveries) folded into
 * our own state so no caller ever sees a rabbitmq-c type or loses a frame.
 */
#include "ocrq/clock.h"
#include "ocrq/mq.h"

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>

#include "mq_internal.h"
#include "ocrq/config.h"
#include "ocrq/log.h"
#include "ocrq/status.h"

#define CHAN 1
#define CONNECT_TIMEOUT_S 10
#define CONTENT_TIMEOUT_MS 30000     /* between the frames of one message */
#define SHORTSTR_MAX OCRQ_MQ_SHORTSTR_MAX
#define MAX_BODY ((size_t)128 << 20) /* RabbitMQ's default max_message_size */
#define HEADER_TEXT_MAX 1024         /* x-ocrq-error-message */
#define MAX_CONSUMERS 8
#define MAX_BUFFERED_DELIVERIES 1024 /* more only without basic.qos */
#define MAX_UNCONFIRMED ((size_t)1 << 16)
#define TAG_GEN_SHIFT 48 /* delivery tags carry the channel generation */

/* Confirm state of one publish. FREE doubles as "reported to the caller". */
enum { P_FREE = 0, P_PENDING, P_RETURNED, P_DONE_OK, P_DONE_FAIL, P_DONE_LOST };

struct pending {
    uint64_t key; /* hash of exchange, routing key, message_id: matches a basic.return */
    unsigned char st;
};

struct consumer {
    char tag[SHORTSTR_MAX + 1];
    char queue[SHORTSTR_MAX + 1];
};

struct delivery {
    struct ocrq_mq_msg *msg;
    struct delivery *next;
};

/* Properties and body of one message as read off the wire. */
struct content {
    char message_id[sizeof(((struct ocrq_mq_msg *)0)->message_id)];
    int priority;
    int attempt;
    long long death_count;
    long long timestamp;
    char *error_code, *error_message;
    struct ocrq_mq_death *deaths;
    int n_deaths;
    unsigned char *body;
    size_t len;
    int too_large;
};

struct ocrq_mq {
    amqp_connection_state_t conn;
    int broken;   /* connection lost: every call fails */
    unsigned gen; /* channel generation, bumped on each reopen */

    struct ocrq_mq_topo topo; /* copied from the config at connect */
    int refusal_code;         /* the broker's last channel close */
    char refusal_text[SHORTSTR_MAX + 1];

    /* channel settings to re-apply after the broker closes the channel */
    int confirm;
    int report_lost; /* ocrq_mq_report_lost(): a channel close fails publishes as lost */
    int qos_set, qos_n, qos_global;

    /* publisher confirms: seqs [base, next_seq) live in ring */
    uint64_t next_seq, base, seq_offset; /* broker tag = seq - seq_offset */
    struct pending *ring;
    size_t ring_cap; /* power of two */
    size_t n_unconfirmed, n_unreported;
    int fail_next_ack; /* a return we could not match: fail the next acked tag */
    unsigned long long n_returns;

    struct consumer consumers[MAX_CONSUMERS];
    int n_consumers;
    struct delivery *dq_head, *dq_tail;
    size_t dq_len;
};

static int handle_frame(struct ocrq_mq *mq, amqp_frame_t *f);
static int rpc_status(struct ocrq_mq *mq, amqp_rpc_reply_t r, const char *what, const char *obj);

/* ---- small helpers ------------------------------------------------------ */

static long long deadline_of(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : ocrq_now_ms() + timeout_ms;
}

static int shortstr_ok(const char *s)
{
    return s && strlen(s) <= SHORTSTR_MAX;
}

static void copy_bytes(char *dst, size_t cap, amqp_bytes_t b)
{
    size_t n = b.len < cap - 1 ? b.len : cap - 1;
    if (n)
        memcpy(dst, b.bytes, n);
    dst[n] = '\0';
}

static int bytes_len(amqp_bytes_t b)
{
    return b.len > SHORTSTR_MAX ? SHORTSTR_MAX : (int)b.len;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 1099511628211ULL;
    return (h ^ 0xff) * 1099511628211ULL; /* separator */
}

static uint64_t route_key(const void *x, size_t xl, const void *rk, size_t rkl, const char *id)
{
    uint64_t h = fnv(14695981039346656037ULL, x, xl);
    h = fnv(h, rk, rkl);
    return fnv(h, id, strlen(id));
}

static void release(struct ocrq_mq *mq)
{
    amqp_maybe_release_buffers_on_channel(mq->conn, CHAN);
    amqp_maybe_release_buffers_on_channel(mq->conn, 0);
}

static int usable(const struct ocrq_mq *mq)
{
    return mq && mq->conn && !mq->broken;
}

static int lib_fail(struct ocrq_mq *mq, int err, const char *what, const char *obj)
{
    log_error(NULL, "amqp: %s%s%s: %s", what, obj ? " " : "", obj ? obj : "",
              amqp_error_string2(err));
    mq->broken = 1;
    return OCRQ_ERR_MQ;
}

/* ---- publisher confirm bookkeeping -------------------------------------- */

static struct pending *slot(struct ocrq_mq *mq, uint64_t seq)
{
    return &mq->ring[seq & (mq->ring_cap - 1)];
}

static int ring_reserve(struct ocrq_mq *mq)
{
    uint64_t used = mq->next_seq - mq->base;
    if (used < mq->ring_cap)
        return OCRQ_OK;
    if (mq->ring_cap >= MAX_UNCONFIRMED) {
        log_error(NULL, "amqp: more than %zu publishes unconfirmed", MAX_UNCONFIRMED);
        return OCRQ_ERR_INVALID;
    }
    size_t cap = mq->ring_cap ? mq->ring_cap * 2 : 256;
    struct pending *r = calloc(cap, sizeof(*r));
    if (!r)
        return OCRQ_ERR_NOMEM;
    for (uint64_t s = mq->base; s < mq->next_seq; s++)
        r[s & (cap - 1)] = *slot(mq, s);
    free(mq->ring);
    mq->ring = r;
    mq->ring_cap = cap;
    return OCRQ_OK;
}

static void settle(struct ocrq_mq *mq, uint64_t seq, int ok)
{
    struct pending *p = slot(mq, seq);
    if (p->st != P_PENDING && p->st != P_RETURNED)
        return;
    p->st = (ok && p->st == P_PENDING) ? P_DONE_OK : P_DONE_FAIL;
    mq->n_unconfirmed--;
    mq->n_unreported++;
}

/* basic.ack / basic.nack with a broker delivery tag; multiple covers all below. */
static void on_confirm(struct ocrq_mq *mq, uint64_t tag, int multiple, int ok)
{
    uint64_t seq = tag + mq->seq_offset;
    if (!mq->confirm || tag == 0 || seq < mq->base || seq >= mq->next_seq) {
        log_debug(NULL, "amqp: confirm for unknown tag %llu ignored", (unsigned long long)tag);
        return;
    }
    for (uint64_t s = multiple ? mq->base : seq; s <= seq; s++)
        settle(mq, s, ok);
    if (mq->fail_next_ack) {
        struct pending *p = slot(mq, seq);
        if (p->st == P_DONE_OK)
            p->st = P_DONE_FAIL;
        mq->fail_next_ack = 0;
    }
}

/*
 * A basic.return does not carry the sequence number of its publish. RabbitMQ
 * returns an unroutable message while routing it, so returns come in publish
 * order and each before the ack of its own publish; but acks of earlier
 * publishes routed to durable queues may still be outstanding (they wait for
 * fsync), so "the lowest unconfirmed seq" would blame the wrong message. We
 * therefore match on what the return does carry: the lowest unconfirmed,
 * unreturned seq published with the same exchange, routing key and
 * message_id. With unique message ids (every ocrq job has one) this is exact;
 * without, it is the oldest publish to that same route, which is right unless
 * the route changed from routable to unroutable while both were in flight.
 * If nothing matches, the next ack's own tag is taken as the returned one.
 */
static void on_return_key(struct ocrq_mq *mq, uint64_t key)
{
    if (!mq->confirm)
        return;
    for (uint64_t s = mq->base; s < mq->next_seq; s++) {
        struct pending *p = slot(mq, s);
        if (p->st == P_PENDING && p->key == key) {
            p->st = P_RETURNED;
            return;
        }
    }
    mq->fail_next_ack = 1;
}

/* The channel is gone: no confirm will come for what is still unconfirmed. */
static void fail_unconfirmed(struct ocrq_mq *mq)
{
    for (uint64_t s = mq->base; s < mq->next_seq; s++) {
        int lost = mq->report_lost && slot(mq, s)->st == P_PENDING; /* not returned */
        settle(mq, s, 0);
        if (lost)
            slot(mq, s)->st = P_DONE_LOST;
    }
    mq->fail_next_ack = 0;
}

/* Report what is settled (only the acks with acks_only), in sequence order. */
static void report(struct ocrq_mq *mq, ocrq_mq_confirm_fn fn, void *arg, int acks_only)
{
    for (uint64_t s = mq->base; s < mq->next_seq && mq->n_unreported > 0; s++) {
        struct pending *p = slot(mq, s);
        if (p->st != P_DONE_OK && (acks_only || (p->st != P_DONE_FAIL && p->st != P_DONE_LOST)))
            continue;
        int ok = p->st == P_DONE_OK ? 1 : p->st == P_DONE_LOST ? OCRQ_MQ_LOST : 0;
        p->st = P_FREE;
        mq->n_unreported--;
        if (fn)
            fn(arg, s, ok);
    }
    while (mq->base < mq->next_seq && slot(mq, mq->base)->st == P_FREE)
        mq->base++;
}

/* ---- deliveries and consumers -------------------------------------------- */

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

static void content_cleanup(struct content *c)
{
    free(c->error_code);
    free(c->error_message);
    free(c->deaths);
    free(c->body);
    c->error_code = c->error_message = NULL;
    c->deaths = NULL;
    c->body = NULL;
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

static void dq_clear(struct ocrq_mq *mq)
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

static void consumer_forget(struct ocrq_mq *mq, const char *tag)
{
    struct consumer *c = consumer_find(mq, tag);
    if (c)
        *c = mq->consumers[--mq->n_consumers];
}

static uint64_t user_tag(const struct ocrq_mq *mq, uint64_t tag)
{
    return ((uint64_t)(mq->gen & 0xffff) << TAG_GEN_SHIFT) | tag;
}

/* ---- closes from the broker ---------------------------------------------- */

static void on_connection_close(struct ocrq_mq *mq, const amqp_connection_close_t *c,
                                const char *what, const char *obj)
{
    amqp_connection_close_ok_t ok = {0};
    log_error(NULL, "amqp: %s%s%s: connection closed by broker: %u %.*s", what, obj ? " " : "",
              obj ? obj : "", c->reply_code, bytes_len(c->reply_text),
              (const char *)c->reply_text.bytes);
    (void)amqp_send_method(mq->conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
    mq->broken = 1;
}

/* One RPC while reopening the channel: anything but the expected reply is fatal. */
static int reopen_step(struct ocrq_mq *mq, const char *what)
{
    amqp_rpc_reply_t r = amqp_get_rpc_reply(mq->conn);
    if (r.reply_type == AMQP_RESPONSE_NORMAL)
        return OCRQ_OK;
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
        return lib_fail(mq, r.library_error, what, "(reopening channel)");
    log_error(NULL, "amqp: %s (reopening channel): refused by broker", what);
    mq->broken = 1;
    return OCRQ_ERR_MQ;
}

/* Drain the library's queue into our state (frames that arrived before the current one). */
static void drain(struct ocrq_mq *mq)
{
    while (!mq->broken && amqp_frames_enqueued(mq->conn)) {
        amqp_frame_t f;
        struct timeval tv = {0, 0};
        int rc = amqp_simple_wait_frame_noblock(mq->conn, &f, &tv);
        if (rc != AMQP_STATUS_OK) {
            (void)lib_fail(mq, rc, "read", NULL);
            return;
        }
        (void)handle_frame(mq, &f);
    }
}

/*
 * The broker closed channel 1: answer close-ok and open it again with the same
 * settings. Unconfirmed publishes fail, buffered deliveries are dropped (the
 * broker requeues them) and consumers are gone.
 */
static void on_channel_close(struct ocrq_mq *mq, const amqp_channel_close_t *c, const char *what,
                             const char *obj)
{
    amqp_channel_close_ok_t ok = {0};
    int lvl = c->reply_code == AMQP_NOT_FOUND ? OCRQ_LOG_WARN : OCRQ_LOG_ERROR;
    ocrq_log(lvl, NULL, "amqp: %s%s%s: channel closed by broker: %u %.*s", what, obj ? " " : "",
             obj ? obj : "", c->reply_code, bytes_len(c->reply_text),
             (const char *)c->reply_text.bytes);
    mq->refusal_code = c->reply_code;
    copy_bytes(mq->refusal_text, sizeof mq->refusal_text, c->reply_text);
    drain(mq);
    fail_unconfirmed(mq);
    dq_clear(mq);
    mq->n_consumers = 0;
    mq->gen++;
    if (mq->broken)
        return;
    int rc = amqp_send_method(mq->conn, CHAN, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
    if (rc != AMQP_STATUS_OK) {
        (void)lib_fail(mq, rc, "channel.close-ok", NULL);
        return;
    }
    (void)amqp_channel_open(mq->conn, CHAN);
    if (reopen_step(mq, "channel.open") != OCRQ_OK)
        return;
    if (mq->confirm) {
        (void)amqp_confirm_select(mq->conn, CHAN);
        if (reopen_step(mq, "confirm.select") != OCRQ_OK)
            return;
        mq->seq_offset = mq->next_seq - 1;
    }
    if (mq->qos_set) {
        (void)amqp_basic_qos(mq->conn, CHAN, 0, (uint16_t)mq->qos_n,
                             (amqp_boolean_t)mq->qos_global);
        (void)reopen_step(mq, "basic.qos");
    }
}

/*
 * Translate one RPC reply, once: log it, handle the close it may carry, and
 * return our status. Frames the library queued while waiting are folded into
 * our state before the caller goes on.
 */
static int rpc_status(struct ocrq_mq *mq, amqp_rpc_reply_t r, const char *what, const char *obj)
{
    switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
        drain(mq);
        return mq->broken ? OCRQ_ERR_MQ : OCRQ_OK;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        return lib_fail(mq, r.library_error, what, obj);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
            on_connection_close(mq, r.reply.decoded, what, obj);
            return OCRQ_ERR_MQ;
        }
        if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            const amqp_channel_close_t *c = r.reply.decoded;
            int st = c->reply_code == AMQP_NOT_FOUND ? OCRQ_ERR_NOT_FOUND : OCRQ_ERR_MQ;
            on_channel_close(mq, c, what, obj);
            return mq->broken ? OCRQ_ERR_MQ : st;
        }
        log_error(NULL, "amqp: %s: unexpected reply method 0x%08x", what, (unsigned)r.reply.id);
        mq->broken = 1;
        return OCRQ_ERR_MQ;
    default:
        log_error(NULL, "amqp: %s: no reply", what);
        mq->broken = 1;
        return OCRQ_ERR_MQ;
    }
}

/* ---- reading frames and message content ----------------------------------- */

/* One frame, queued ones first; OCRQ_ERR_TIMEOUT at the deadline (-1: none). */
static int read_frame(struct ocrq_mq *mq, long long deadline, amqp_frame_t *f)
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
        return lib_fail(mq, rc, "read", NULL);
    return OCRQ_OK;
}

/* A content frame of the message being read; a close instead is handled and fails. */
static int content_frame(struct ocrq_mq *mq, long long deadline, uint8_t type, amqp_frame_t *f)
{
    for (;;) {
        int st = read_frame(mq, deadline, f);
        if (st == OCRQ_ERR_TIMEOUT)
            return lib_fail(mq, AMQP_STATUS_TIMEOUT, "read message content", NULL);
        if (st != OCRQ_OK)
            return st;
        if (f->frame_type == AMQP_FRAME_HEARTBEAT)
            continue;
        if (f->frame_type == type && f->channel == CHAN)
            return OCRQ_OK;
        if (f->frame_type == AMQP_FRAME_METHOD &&
            (f->payload.method.id == AMQP_CONNECTION_CLOSE_METHOD ||
             f->payload.method.id == AMQP_CHANNEL_CLOSE_METHOD)) {
            (void)handle_frame(mq, f);
            return OCRQ_ERR_MQ;
        }
        log_error(NULL, "amqp: unexpected frame type %u inside a message", f->frame_type);
        mq->broken = 1;
        return OCRQ_ERR_MQ;
    }
}

static int field_int(const amqp_field_value_t *v, long long *out)
{
    switch (v->kind) {
    case AMQP_FIELD_KIND_I8:
        *out = v->value.i8;
        return 1;
    case AMQP_FIELD_KIND_U8:
        *out = v->value.u8;
        return 1;
    case AMQP_FIELD_KIND_I16:
        *out = v->value.i16;
        return 1;
    case AMQP_FIELD_KIND_U16:
        *out = v->value.u16;
        return 1;
    case AMQP_FIELD_KIND_I32:
        *out = v->value.i32;
        return 1;
    case AMQP_FIELD_KIND_U32:
        *out = v->value.u32;
        return 1;
    case AMQP_FIELD_KIND_I64:
        *out = v->value.i64;
        return 1;
    case AMQP_FIELD_KIND_U64:
    case AMQP_FIELD_KIND_TIMESTAMP:
        *out = v->value.u64 > LLONG_MAX ? LLONG_MAX : (long long)v->value.u64;
        return 1;
    default:
        return 0;
    }
}

static const amqp_field_value_t *table_get(const amqp_table_t *t, const char *key)
{
    size_t kl = strlen(key);
    for (int i = 0; i < t->num_entries; i++) {
        const amqp_table_entry_t *e = &t->entries[i];
        if (e->key.len == kl && memcmp(e->key.bytes, key, kl) == 0)
            return &e->value;
    }
    return NULL;
}

/* Sum of the "count" fields of the x-death array of tables. */
static long long death_count(const amqp_field_value_t *v)
{
    long long sum = 0, n;
    if (!v || v->kind != AMQP_FIELD_KIND_ARRAY)
        return 0;
    for (int i = 0; i < v->value.array.num_entries; i++) {
        const amqp_field_value_t *e = &v->value.array.entries[i];
        if (e->kind != AMQP_FIELD_KIND_TABLE)
            continue;
        const amqp_field_value_t *c = table_get(&e->value.table, "count");
        if (c && field_int(c, &n) && n > 0)
            sum += n;
    }
    return sum;
}

/* A malloc'd copy of a string header (longstr or bytes), capped; NULL if absent or not text. */
static char *header_text(const amqp_table_t *t, const char *key, size_t cap)
{
    const amqp_field_value_t *v = table_get(t, key);
    if (!v || (v->kind != AMQP_FIELD_KIND_UTF8 && v->kind != AMQP_FIELD_KIND_BYTES))
        return NULL;
    size_t n = v->value.bytes.len < cap ? v->value.bytes.len : cap;
    char *s = malloc(n + 1);
    if (s) {
        if (n)
            memcpy(s, v->value.bytes.bytes, n);
        s[n] = '\0';
    }
    return s;
}

static void table_text(const amqp_table_t *t, const char *key, char *dst, size_t cap)
{
    const amqp_field_value_t *v = table_get(t, key);
    dst[0] = '\0';
    if (v && (v->kind == AMQP_FIELD_KIND_UTF8 || v->kind == AMQP_FIELD_KIND_BYTES))
        copy_bytes(dst, cap, v->value.bytes);
}

/* The entries of the x-death array (at most OCRQ_MQ_MAX_DEATHS), malloc'd; NULL if none. */
static struct ocrq_mq_death *read_deaths(const amqp_field_value_t *v, int *n)
{
    struct ocrq_mq_death *d;
    *n = 0;
    if (!v || v->kind != AMQP_FIELD_KIND_ARRAY || v->value.array.num_entries <= 0)
        return NULL;
    int max = v->value.array.num_entries < OCRQ_MQ_MAX_DEATHS ? v->value.array.num_entries
                                                              : OCRQ_MQ_MAX_DEATHS;
    d = calloc((size_t)max, sizeof(*d));
    for (int i = 0; d && i < v->value.array.num_entries && *n < max; i++) {
        const amqp_field_value_t *e = &v->value.array.entries[i];
        if (e->kind != AMQP_FIELD_KIND_TABLE)
            continue;
        struct ocrq_mq_death *x = &d[(*n)++];
        const amqp_field_value_t *f;
        table_text(&e->value.table, "queue", x->queue, sizeof(x->queue));
        table_text(&e->value.table, "reason", x->reason, sizeof(x->reason));
        table_text(&e->value.table, "exchange", x->exchange, sizeof(x->exchange));
        if ((f = table_get(&e->value.table, "count")) && !field_int(f, &x->count))
            x->count = 0;
        if ((f = table_get(&e->value.table, "time")) && !field_int(f, &x->time))
            x->time = 0;
    }
    if (d && *n == 0) {
        free(d);
        d = NULL;
    }
    return d;
}

static void read_props(const amqp_basic_properties_t *p, struct content *c)
{
    long long n;
    c->priority = -1;
    if (p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG)
        copy_bytes(c->message_id, sizeof(c->message_id), p->message_id);
    if (p->_flags & AMQP_BASIC_PRIORITY_FLAG)
        c->priority = p->priority;
    if (p->_flags & AMQP_BASIC_TIMESTAMP_FLAG)
        c->timestamp = p->timestamp > LLONG_MAX ? LLONG_MAX : (long long)p->timestamp;
    if (!(p->_flags & AMQP_BASIC_HEADERS_FLAG))
        return;
    const amqp_field_value_t *a = table_get(&p->headers, "x-ocrq-attempt");
    if (a && field_int(a, &n))
        c->attempt = n < 0 ? 0 : n > INT_MAX ? INT_MAX : (int)n;
    const amqp_field_value_t *xd = table_get(&p->headers, "x-death");
    c->death_count = death_count(xd);
    /* copies of the rarer headers, for the operator tools and for carrying them over */
    c->error_code = header_text(&p->headers, "x-ocrq-error-code", SHORTSTR_MAX);
    c->error_message = header_text(&p->headers, "x-ocrq-error-message", HEADER_TEXT_MAX);
    c->deaths = read_deaths(xd, &c->n_deaths);
}

/*
 * Read the content header and body frames that follow a basic.deliver,
 * basic.get-ok or basic.return. keep = 0 reads and drops the body; so does a
 * body over MAX_BODY (c->too_large set). c->body is malloc'd (NUL-terminated).
 */
static int read_content(struct ocrq_mq *mq, int keep, struct content *c)
{
    amqp_frame_t f;
    long long deadline = deadline_of(CONTENT_TIMEOUT_MS);
    memset(c, 0, sizeof(*c));
    c->priority = -1;
    int st = content_frame(mq, deadline, AMQP_FRAME_HEADER, &f);
    if (st != OCRQ_OK)
        return st;
    uint64_t size = f.payload.properties.body_size;
    read_props(f.payload.properties.decoded, c);
    if (size > MAX_BODY) {
        c->too_large = 1;
        keep = 0;
    }
    if (keep) {
        c->body = malloc((size_t)size + 1);
        if (!c->body) {
            content_cleanup(c);
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
        content_cleanup(c);
    return st;
}

static int send_reject(struct ocrq_mq *mq, uint64_t tag, int requeue)
{
    int rc = amqp_basic_reject(mq->conn, CHAN, tag, (amqp_boolean_t)requeue);
    return rc == AMQP_STATUS_OK ? OCRQ_OK : lib_fail(mq, rc, "basic.reject", NULL);
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

/* ---- the frame dispatcher ------------------------------------------------ */

static int on_deliver(struct ocrq_mq *mq, const amqp_basic_deliver_t *d)
{
    char ctag[SHORTSTR_MAX + 1];
    struct content c;
    uint64_t tag = d->delivery_tag;
    int redelivered = d->redelivered;
    copy_bytes(ctag, sizeof(ctag), d->consumer_tag);
    int st = read_content(mq, 1, &c);
    if (st != OCRQ_OK)
        return st;
    if (c.too_large || mq->dq_len >= MAX_BUFFERED_DELIVERIES) {
        log_error(NULL, "amqp: delivery %s, %s",
                  c.too_large ? "over the size cap" : "not buffered (no basic.qos?)",
                  c.too_large ? "dead-lettered" : "requeued");
        content_cleanup(&c);
        return send_reject(mq, tag, !c.too_large);
    }
    const struct consumer *k = consumer_find(mq, ctag);
    struct delivery *dl = calloc(1, sizeof(*dl));
    struct ocrq_mq_msg *m =
        dl ? msg_from(&c, user_tag(mq, tag), redelivered, k ? k->queue : "") : NULL;
    if (!m) {
        free(dl);
        content_cleanup(&c);
        (void)send_reject(mq, tag, 1);
        return OCRQ_ERR_NOMEM;
    }
    dl->msg = m;
    dq_push(mq, dl);
    return OCRQ_OK;
}

static int on_return(struct ocrq_mq *mq, const amqp_basic_return_t *r)
{
    char x[SHORTSTR_MAX + 1], rk[SHORTSTR_MAX + 1];
    struct content c;
    copy_bytes(x, sizeof(x), r->exchange);
    copy_bytes(rk, sizeof(rk), r->routing_key);
    /* a missing queue returns every publish: log the 1st, 2nd, 4th, 8th... */
    unsigned long long n = ++mq->n_returns;
    if ((n & (n - 1)) == 0)
        log_warn(
            NULL, "amqp: publish to exchange '%s' routing key '%s' returned: %u %.*s (%llu so far)",
            x, rk, r->reply_code, bytes_len(r->reply_text), (const char *)r->reply_text.bytes, n);
    int st = read_content(mq, 0, &c);
    if (st != OCRQ_OK)
        return st;
    content_cleanup(&c);
    on_return_key(mq, route_key(x, strlen(x), rk, strlen(rk), c.message_id));
    return OCRQ_OK;
}

/* Fold one frame into our state. OCRQ_ERR_MQ when the channel or connection closed. */
static int handle_frame(struct ocrq_mq *mq, amqp_frame_t *f)
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
        on_confirm(mq, a->delivery_tag, a->multiple, 1);
        return OCRQ_OK;
    }
    case AMQP_BASIC_NACK_METHOD: {
        const amqp_basic_nack_t *n = m;
        on_confirm(mq, n->delivery_tag, n->multiple, 0);
        return OCRQ_OK;
    }
    case AMQP_BASIC_RETURN_METHOD:
        return on_return(mq, m);
    case AMQP_BASIC_DELIVER_METHOD:
        return on_deliver(mq, m);
    case AMQP_BASIC_CANCEL_METHOD: {
        char tag[SHORTSTR_MAX + 1];
        copy_bytes(tag, sizeof(tag), ((const amqp_basic_cancel_t *)m)->consumer_tag);
        log_warn(NULL, "amqp: broker cancelled consumer %s", tag);
        consumer_forget(mq, tag);
        return OCRQ_OK;
    }
    case AMQP_CHANNEL_CLOSE_METHOD:
        on_channel_close(mq, m, "channel", NULL);
        return OCRQ_ERR_MQ;
    case AMQP_CONNECTION_CLOSE_METHOD:
        on_connection_close(mq, m, "connection", NULL);
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
static int pump(struct ocrq_mq *mq, long long deadline)
{
    amqp_frame_t f;
    int st = read_frame(mq, deadline, &f);
    if (st != OCRQ_OK)
        return st;
    st = handle_frame(mq, &f);
    release(mq);
    return st;
}

/* ---- connection ---------------------------------------------------------- */

int ocrq_mq_connect(const struct ocrq_config *cfg, const char *name, struct ocrq_mq **out)
{
    int st = OCRQ_ERR_MQ;

    if (!cfg || cfg->n_amqp_urls == 0)
        return ocrq_mq_connect_to(cfg, cfg ? cfg->amqp_url : NULL, name, out);
    /* a cluster: the first node that answers */
    for (int i = 0; i < cfg->n_amqp_urls; i++) {
        st = ocrq_mq_connect_to(cfg, cfg->amqp_urls[i], name, out);
        if (st == OCRQ_OK || st == OCRQ_ERR_CONFIG)
            break;
    }
    return st;
}

int ocrq_mq_connect_to(const struct ocrq_config *cfg, const char *broker, const char *name,
                       struct ocrq_mq **out)
{
    struct ocrq_mq *mq = NULL;
    char *url = NULL;
    struct amqp_connection_info ci;
    int st = OCRQ_ERR_MQ;

    if (out)
        *out = NULL;
    if (!cfg || !broker || !out)
        return OCRQ_ERR_INVALID;
    mq = calloc(1, sizeof(*mq));
    url = strdup(broker);
    if (!mq || !url) {
        st = OCRQ_ERR_NOMEM;
        goto out;
    }
    mq->next_seq = mq->base = 1;
    st = ocrq_mq_topo_init(&mq->topo, cfg);
    if (st != OCRQ_OK)
        goto out;
    amqp_default_connection_info(&ci);
    if (amqp_parse_url(url, &ci) != AMQP_STATUS_OK || ci.ssl) {
        log_error(NULL, "amqp: not an amqp://user:pass@host:port/vhost URL (amqp.url, amqp.urls)");
        st = OCRQ_ERR_CONFIG;
        goto out;
    }
    const char *vhost = ci.vhost && ci.vhost[0] ? ci.vhost : "/";
    mq->conn = amqp_new_connection();
    amqp_socket_t *sock = mq->conn ? amqp_tcp_socket_new(mq->conn) : NULL;
    if (!sock) {
        st = OCRQ_ERR_NOMEM;
        goto out;
    }
    struct timeval tv = {CONNECT_TIMEOUT_S, 0};
    int rc = amqp_socket_open_noblock(sock, ci.host, ci.port, &tv);
    if (rc != AMQP_STATUS_OK) {
        log_error(NULL, "amqp: connect %s:%d: %s", ci.host, ci.port, amqp_error_string2(rc));
        st = OCRQ_ERR_MQ;
        goto out;
    }
    (void)amqp_set_handshake_timeout(mq->conn, &tv);

    amqp_table_entry_t caps[] = {{amqp_cstring_bytes("consumer_cancel_notify"),
                                  {.kind = AMQP_FIELD_KIND_BOOLEAN, .value.boolean = 1}}};
    amqp_table_entry_t props[] = {
        {amqp_cstring_bytes("connection_name"),
         {.kind = AMQP_FIELD_KIND_UTF8, .value.bytes = amqp_cstring_bytes(name ? name : "ocrq")}},
        {amqp_cstring_bytes("capabilities"),
         {.kind = AMQP_FIELD_KIND_TABLE, .value.table = {1, caps}}},
    };
    amqp_table_t ptable = {2, props};
    amqp_rpc_reply_t r =
        amqp_login_with_properties(mq->conn, vhost, 0, cfg->amqp_frame_max, cfg->amqp_heartbeat_s,
                                   &ptable, AMQP_SASL_METHOD_PLAIN, ci.user, ci.password);
    char where[SHORTSTR_MAX + 64];
    snprintf(where, sizeof(where), "%s:%d vhost %s", ci.host, ci.port, vhost);
    st = rpc_status(mq, r, "login", where);
    if (st != OCRQ_OK)
        goto out;
    (void)amqp_channel_open(mq->conn, CHAN);
    st = rpc_status(mq, amqp_get_rpc_reply(mq->conn), "channel.open", NULL);
    if (st != OCRQ_OK)
        goto out;
    log_debug(NULL, "amqp: connected to %s as %s", where, name ? name : "ocrq");
    *out = mq;
    mq = NULL;
out:
    if (mq)
        mq->broken = 1; /* no polite close on a half-built connection */
    ocrq_mq_free(mq);
    free(url);
    return st == OCRQ_OK ? OCRQ_OK
                         : (st == OCRQ_ERR_CONFIG || st == OCRQ_ERR_NOMEM ? st : OCRQ_ERR_MQ);
}

void ocrq_mq_free(struct ocrq_mq *mq)
{
    if (!mq)
        return;
    if (mq->conn) {
        if (!mq->broken) {
            (void)amqp_channel_close(mq->conn, CHAN, AMQP_REPLY_SUCCESS);
            (void)amqp_connection_close(mq->conn, AMQP_REPLY_SUCCESS);
        }
        amqp_destroy_connection(mq->conn);
    }
    dq_clear(mq);
    free(mq->ring);
    free(mq);
}

/* ---- topology ------------------------------------------------------------- */

int ocrq_mq_declare_queue(struct ocrq_mq *mq, const char *q, amqp_table_entry_t *args, int n)
{
    amqp_table_t t = {n, n ? args : NULL};
    if (!usable(mq))
        return OCRQ_ERR_MQ;
    if (!shortstr_ok(q))
        return OCRQ_ERR_INVALID;
    release(mq);
    (void)amqp_queue_declare(mq->conn, CHAN, amqp_cstring_bytes(q), 0, 1, 0, 0, t);
    int st = rpc_status(mq, amqp_get_rpc_reply(mq->conn), "queue.declare", q);
    return st == OCRQ_OK ? OCRQ_OK : OCRQ_ERR_MQ;
}

int ocrq_mq_declare_fanout(struct ocrq_mq *mq, const char *x, const char *q)
{
    if (!usable(mq))
        return OCRQ_ERR_MQ;
    if (!shortstr_ok(x) || !shortstr_ok(q))
        return OCRQ_ERR_INVALID;
    release(mq);
    (void)amqp_exchange_declare(mq->conn, CHAN, amqp_cstring_bytes(x),
                                amqp_cstring_bytes("fanout"), 0, 1, 0, 0, amqp_empty_table);
    int st = rpc_status(mq, amqp_get_rpc_reply(mq->conn), "exchange.declare", x);
    if (st != OCRQ_OK)
        return OCRQ_ERR_MQ;
    (void)amqp_queue_bind(mq->conn, CHAN, amqp_cstring_bytes(q), amqp_cstring_bytes(x),
                          amqp_cstring_bytes(""), amqp_empty_table);
    st = rpc_status(mq, amqp_get_rpc_reply(mq->conn), "queue.bind", q);
    return st == OCRQ_OK ? OCRQ_OK : OCRQ_ERR_MQ;
}

const struct ocrq_mq_topo *ocrq_mq_topo_of(const struct ocrq_mq *mq)
{
    return &mq->topo;
}

int ocrq_mq_last_refusal(const struct ocrq_mq *mq, char *text, size_t len)
{
    if (text && len)
        snprintf(text, len, "%s", mq ? mq->refusal_text : "");
    return mq ? mq->refusal_code : 0;
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

/* ---- publishing ------------------------------------------------------------ */

int ocrq_mq_confirm_select(struct ocrq_mq *mq)
{
    if (!usable(mq))
        return OCRQ_ERR_MQ;
    if (mq->confirm)
        return OCRQ_OK;
    release(mq);
    (void)amqp_confirm_select(mq->conn, CHAN);
    int st = rpc_status(mq, amqp_get_rpc_reply(mq->conn), "confirm.select", NULL);
    if (st != OCRQ_OK)
        return OCRQ_ERR_MQ;
    mq->confirm = 1;
    mq->seq_offset = mq->next_seq - 1;
    return OCRQ_OK;
}

/* Longest prefix of s, at most cap bytes, that does not split a UTF-8 sequence. */
static amqp_bytes_t capped_text(const char *s, size_t cap)
{
    size_t n = strlen(s);
    if (n > cap) {
        n = cap;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    amqp_bytes_t b = {n, (void *)s};
    return b;
}

/* Field names of an x-death entry, as RabbitMQ writes them. */
enum { XD_QUEUE, XD_REASON, XD_EXCHANGE, XD_COUNT, XD_TIME, XD_N };

/*
 * The x-death header rebuilt from deaths[0..n-1] into v, using the caller's
 * storage (entries[n][XD_N], tables[n]): the entries keep the broker's order
 * and field types (count long, time timestamp), so that the broker counts on
 * when it dead-letters the copy again.
 */
static void build_deaths(const struct ocrq_mq_death *deaths, int n,
                         amqp_table_entry_t (*entries)[XD_N], amqp_field_value_t *tables,
                         amqp_table_entry_t *h)
{
    for (int i = 0; i < n; i++) {
        amqp_table_entry_t *e = entries[i];
        e[XD_QUEUE] = ocrq_mq_str_entry("queue", deaths[i].queue);
        e[XD_REASON] = ocrq_mq_str_entry("reason", deaths[i].reason);
        e[XD_EXCHANGE] = ocrq_mq_str_entry("exchange", deaths[i].exchange);
        e[XD_COUNT] =
            (amqp_table_entry_t){amqp_cstring_bytes("count"), {.kind = AMQP_FIELD_KIND_I64}};
        e[XD_COUNT].value.value.i64 = deaths[i].count;
        e[XD_TIME] =
            (amqp_table_entry_t){amqp_cstring_bytes("time"), {.kind = AMQP_FIELD_KIND_TIMESTAMP}};
        e[XD_TIME].value.value.u64 = deaths[i].time > 0 ? (uint64_t)deaths[i].time : 0;
        tables[i].kind = AMQP_FIELD_KIND_TABLE;
        tables[i].value.table.num_entries = XD_N;
        tables[i].value.table.entries = e;
    }
    h->key = amqp_cstring_bytes("x-death");
    h->value.kind = AMQP_FIELD_KIND_ARRAY;
    h->value.value.array.num_entries = n;
    h->value.value.array.entries = tables;
}

int ocrq_mq_publish(struct ocrq_mq *mq, const struct ocrq_mq_pub *pub, uint64_t *seq)
{
    amqp_basic_properties_t p;
    amqp_table_entry_t h[4];
    amqp_table_entry_t death_entries[OCRQ_MQ_MAX_DEATHS][XD_N];
    amqp_field_value_t death_tables[OCRQ_MQ_MAX_DEATHS];
    int nh = 0;

    if (seq)
        *seq = 0;
    if (!usable(mq))
        return OCRQ_ERR_MQ;
    const char *x = pub && pub->exchange ? pub->exchange : "";
    const char *mid = pub && pub->message_id ? pub->message_id : "";
    if (!pub || !shortstr_ok(x) || !shortstr_ok(pub->routing_key) || !shortstr_ok(mid) ||
        (pub->content_type && !shortstr_ok(pub->content_type)) || pub->priority > 255 ||
        (pub->len && !pub->body) || pub->n_deaths < 0 || (pub->n_deaths > 0 && !pub->deaths))
        return OCRQ_ERR_INVALID;
    if (mq->confirm && ring_reserve(mq) != OCRQ_OK)
        return OCRQ_ERR_INVALID;

    memset(&p, 0, sizeof(p));
    p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
    p.delivery_mode = AMQP_DELIVERY_PERSISTENT;
    if (pub->content_type) {
        p._flags |= AMQP_BASIC_CONTENT_TYPE_FLAG;
        p.content_type = amqp_cstring_bytes(pub->content_type);
    }
    if (pub->message_id) {
        p._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
        p.message_id = amqp_cstring_bytes(pub->message_id);
    }
    if (pub->priority >= 0) {
        p._flags |= AMQP_BASIC_PRIORITY_FLAG;
        p.priority = (uint8_t)pub->priority;
    }
    if (pub->timestamp > 0) {
        p._flags |= AMQP_BASIC_TIMESTAMP_FLAG;
        p.timestamp = (uint64_t)pub->timestamp;
    }
    if (pub->attempt > 0)
        h[nh++] = ocrq_mq_int_entry("x-ocrq-attempt", pub->attempt);
    if (pub->error_code) {
        h[nh] = ocrq_mq_str_entry("x-ocrq-error-code", "");
        h[nh++].value.value.bytes = capped_text(pub->error_code, SHORTSTR_MAX);
        h[nh] = ocrq_mq_str_entry("x-ocrq-error-message", "");
        h[nh++].value.value.bytes =
            capped_text(pub->error_message ? pub->error_message : "", HEADER_TEXT_MAX);
    }
    if (pub->n_deaths > 0)
        build_deaths(pub->deaths,
                     pub->n_deaths < OCRQ_MQ_MAX_DEATHS ? pub->n_deaths : OCRQ_MQ_MAX_DEATHS,
                     death_entries, death_tables, &h[nh++]);
    if (nh) {
        p._flags |= AMQP_BASIC_HEADERS_FLAG;
        p.headers.num_entries = nh;
        p.headers.entries = h;
    }
    amqp_bytes_t body = {pub->len, (void *)pub->body};
    int rc = amqp_basic_publish(mq->conn, CHAN, amqp_cstring_bytes(x),
                                amqp_cstring_bytes(pub->routing_key), 1, 0, &p, body);
    if (rc != AMQP_STATUS_OK)
        return lib_fail(mq, rc, "basic.publish", pub->routing_key);
    if (mq->confirm) {
        uint64_t s = mq->next_seq++;
        struct pending *sl = slot(mq, s);
        sl->key = route_key(x, strlen(x), pub->routing_key, strlen(pub->routing_key), mid);
        sl->st = P_PENDING;
        mq->n_unconfirmed++;
        if (seq)
            *seq = s;
    }
    return OCRQ_OK;
}

/*
 * fn is called in sequence order of what has been settled so far (an ack for a
 * later publish may be reported before an earlier one still outstanding). fn
 * must not call back into this mq.
 */
int ocrq_mq_wait_confirms(struct ocrq_mq *mq, size_t max_pending, int timeout_ms,
                          ocrq_mq_confirm_fn fn, void *arg)
{
    if (!usable(mq))
        return OCRQ_ERR_MQ;
    long long deadline = deadline_of(timeout_ms);
    for (;;) {
        report(mq, fn, arg, 0);
        if (ocrq_mq_pending(mq) <= max_pending)
            return OCRQ_OK;
        int st = pump(mq, deadline);
        if (st == OCRQ_ERR_TIMEOUT || mq->broken)
            report(mq, fn, arg, 1); /* the acks read before stand; the rest stay unknown */
        if (st == OCRQ_ERR_TIMEOUT)
            return st;
        if (mq->broken)
            return OCRQ_ERR_MQ;
        /* a lost channel failed every pending publish: report them and go on */
    }
}

void ocrq_mq_report_lost(struct ocrq_mq *mq, int on)
{
    if (mq)
        mq->report_lost = on ? 1 : 0;
}

size_t ocrq_mq_pending(const struct ocrq_mq *mq)
{
    return mq ? mq->n_unconfirmed + mq->n_unreported : 0;
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
    int st = rpc_status(mq, amqp_get_rpc_reply(mq->conn), "basic.qos", NULL);
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
    return rc == AMQP_STATUS_OK ? OCRQ_OK : lib_fail(mq, rc, "basic.get", queue);
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
        st = read_frame(mq, deadline, &f);
        if (st == OCRQ_ERR_TIMEOUT)
            return lib_fail(mq, AMQP_STATUS_TIMEOUT, "basic.get", queue);
        if (st != OCRQ_OK)
            return OCRQ_ERR_MQ;
        if (f.frame_type != AMQP_FRAME_METHOD || f.channel != CHAN)
            st = handle_frame(mq, &f);
        else if (f.payload.method.id == AMQP_BASIC_GET_OK_METHOD)
            break;
        else if (f.payload.method.id == AMQP_BASIC_GET_EMPTY_METHOD)
            return OCRQ_ERR_EMPTY;
        else if (f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
                 f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
            amqp_rpc_reply_t r = {.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION,
                                  .reply = f.payload.method};
            st = rpc_status(mq, r, "basic.get", queue);
            return st == OCRQ_ERR_NOT_FOUND ? st : OCRQ_ERR_MQ;
        } else
            st = handle_frame(mq, &f);
        if (st != OCRQ_OK || mq->broken)
            return OCRQ_ERR_MQ;
    }
    const amqp_basic_get_ok_t *ok = f.payload.method.decoded;
    uint64_t tag = ok->delivery_tag;
    int redelivered = ok->redelivered;
    st = read_content(mq, 1, &c);
    if (st != OCRQ_OK)
        return st == OCRQ_ERR_NOMEM ? st : OCRQ_ERR_MQ;
    if (c.too_large) {
        log_error(NULL, "amqp: message from %s over the size cap, dead-lettered", queue);
        content_cleanup(&c);
        st = send_reject(mq, tag, 0);
        return st == OCRQ_OK ? OCRQ_ERR_TOO_LARGE : st;
    }
    *out = msg_from(&c, user_tag(mq, tag), redelivered, queue);
    if (!*out) {
        content_cleanup(&c);
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
    /* a get that fails for its queue alone (empty, too large) leaves the other one's reply to read */
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
    int st = rpc_status(mq, amqp_get_rpc_reply(mq->conn), "basic.consume", queue);
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
    int st = rpc_status(mq, amqp_get_rpc_reply(mq->conn), "basic.cancel", tag);
    if (st != OCRQ_OK)
        return OCRQ_ERR_MQ;
    consumer_forget(mq, tag);
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
        int st = pump(mq, deadline);
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
    return rc == AMQP_STATUS_OK ? OCRQ_OK
                                : lib_fail(mq, rc, ack ? "basic.ack" : "basic.reject", NULL);
}

int ocrq_mq_ack(struct ocrq_mq *mq, uint64_t tag)
{
    return ack_or_reject(mq, tag, 1, 0);
}

int ocrq_mq_reject(struct ocrq_mq *mq, uint64_t tag, int requeue)
{
    return ack_or_reject(mq, tag, 0, requeue);
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
        int st = pump(mq, deadline);
        if (st == OCRQ_ERR_TIMEOUT)
            return OCRQ_OK;
        if (mq->broken)
            return OCRQ_ERR_MQ;
        if (st != OCRQ_OK)
            return st;
    }
}

/*
 * Frames may already sit in rabbitmq-c's buffer when the socket is quiet, so
 * a caller that polls this fd must still call ocrq_mq_service() (or _next)
 * at least every heartbeat/2 seconds. -1 once the connection is lost.
 */
/*
 * TCP_CORK on the connection's socket: while on, frames written are held
 * back and sent in full segments; turning it off sends what is held. A
 * burst of publishes then reaches the broker in a few large reads.
 */
int ocrq_mq_cork(struct ocrq_mq *mq, int on)
{
    int fd = ocrq_mq_fd(mq), v = on ? 1 : 0;

    if (fd < 0)
        return OCRQ_ERR_MQ;
    return setsockopt(fd, IPPROTO_TCP, TCP_CORK, &v, sizeof v) == 0 ? OCRQ_OK : OCRQ_ERR_IO;
}

int ocrq_mq_fd(const struct ocrq_mq *mq)
{
    return usable(mq) ? amqp_get_sockfd(mq->conn) : -1;
}

int ocrq_mq_queue_delete(struct ocrq_mq *mq, const char *queue, int if_empty)
{
    if (!usable(mq))
        return OCRQ_ERR_MQ;
    if (!shortstr_ok(queue))
        return OCRQ_ERR_INVALID;
    release(mq);
    (void)amqp_queue_delete(mq->conn, CHAN, amqp_cstring_bytes(queue), 0, if_empty ? 1 : 0);
    int st = rpc_status(mq, amqp_get_rpc_reply(mq->conn), "queue.delete", queue);
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
    int st = rpc_status(mq, amqp_get_rpc_reply(mq->conn), "queue.declare (passive)", queue);
    if (st != OCRQ_OK)
        return st == OCRQ_ERR_NOT_FOUND ? st : OCRQ_ERR_MQ;
    if (ready)
        *ready = ok->message_count;
    if (consumers)
        *consumers = ok->consumer_count;
    return OCRQ_OK;
}
