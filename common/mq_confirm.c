/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Publishing and publisher confirms: every publish gets a sequence number in
 * a ring of pending publishes, settled by the broker's acks, nacks and
 * returns (or failed by a lost channel), and reported to the caller in
 * sequence order by ocrq_mq_wait_confirms().
 */
#include "ocrq/mq.h"

#include <amqp.h>
#include <amqp_framing.h>

#include <stdlib.h>
#include <string.h>

#include "mq_internal.h"
#include "ocrq/log.h"
#include "ocrq/status.h"

#define MAX_UNCONFIRMED ((size_t)1 << 16)

/* Confirm state of one publish. FREE doubles as "reported to the caller". */
enum { P_FREE = 0, P_PENDING, P_RETURNED, P_DONE_OK, P_DONE_FAIL, P_DONE_LOST };

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
void ocrq_mq_on_confirm(struct ocrq_mq *mq, uint64_t tag, int multiple, int ok)
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
void ocrq_mq_fail_unconfirmed(struct ocrq_mq *mq)
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

int ocrq_mq_on_return(struct ocrq_mq *mq, const amqp_basic_return_t *r)
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
    int st = ocrq_mq_read_content(mq, 0, &c);
    if (st != OCRQ_OK)
        return st;
    ocrq_mq_content_cleanup(&c);
    on_return_key(mq, route_key(x, strlen(x), rk, strlen(rk), c.message_id));
    return OCRQ_OK;
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
    int st = ocrq_mq_rpc_status(mq, amqp_get_rpc_reply(mq->conn), "confirm.select", NULL);
    if (st != OCRQ_OK)
        return OCRQ_ERR_MQ;
    mq->confirm = 1;
    mq->seq_offset = mq->next_seq - 1;
    return OCRQ_OK;
}

int ocrq_mq_publish(struct ocrq_mq *mq, const struct ocrq_mq_pub *pub, uint64_t *seq)
{
    struct ocrq_mq_props props;

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

    ocrq_mq_props_build(&props, pub);
    amqp_bytes_t body = {pub->len, (void *)pub->body};
    int rc = amqp_basic_publish(mq->conn, CHAN, amqp_cstring_bytes(x),
                                amqp_cstring_bytes(pub->routing_key), 1, 0, &props.p, body);
    if (rc != AMQP_STATUS_OK)
        return ocrq_mq_lib_fail(mq, rc, "basic.publish", pub->routing_key);
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
        int st = ocrq_mq_pump(mq, deadline);
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
