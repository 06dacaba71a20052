/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Private to the mq module, the only one that speaks rabbitmq-c: the
 * connection structure and what its files share. One file per concept:
 * mq_conn.c (connect, reply translation, broker closes), mq_frames.c (the
 * frame pump), mq_confirm.c (publishing and the confirm ring), mq_headers.c
 * (the property and x-death codec), mq_consume.c (get, consume, ack) and
 * mq_topology.c (declaring the topology). Nothing outside common/ includes
 * this header.
 */
#ifndef OCRQ_MQ_INTERNAL_H
#define OCRQ_MQ_INTERNAL_H

#include <amqp.h>
#include <amqp_framing.h>

#include <stdint.h>
#include <string.h>

#include "ocrq/clock.h"
#include "ocrq/config.h"
#include "ocrq/mq.h"

#define OCRQ_MQ_SHORTSTR_MAX 255 /* AMQP short string: names, tags, ids */

#define CHAN 1
#define CONTENT_TIMEOUT_MS 30000 /* between the frames of one message */
#define SHORTSTR_MAX OCRQ_MQ_SHORTSTR_MAX
#define MAX_CONSUMERS 8

/* The topology every component declares, copied from the config at connect. */
struct ocrq_mq_topo {
    char q_jobs[OCRQ_MQ_SHORTSTR_MAX + 1], q_prio[OCRQ_MQ_SHORTSTR_MAX + 1];
    char q_failed[OCRQ_MQ_SHORTSTR_MAX + 1], x_dlx[OCRQ_MQ_SHORTSTR_MAX + 1];
    int quorum;         /* amqp.queue_type "quorum" */
    int max_priority;   /* classic: x-max-priority */
    int delivery_limit; /* quorum: x-delivery-limit */
    int delays[OCRQ_MAX_RETRY_DELAYS];
    int n_delays;
};

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

/* ---- small helpers, for every file of the module ---- */

static inline long long deadline_of(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : ocrq_now_ms() + timeout_ms;
}

static inline int shortstr_ok(const char *s)
{
    return s && strlen(s) <= SHORTSTR_MAX;
}

static inline void copy_bytes(char *dst, size_t cap, amqp_bytes_t b)
{
    size_t n = b.len < cap - 1 ? b.len : cap - 1;
    if (n)
        memcpy(dst, b.bytes, n);
    dst[n] = '\0';
}

static inline int bytes_len(amqp_bytes_t b)
{
    return b.len > SHORTSTR_MAX ? SHORTSTR_MAX : (int)b.len;
}

static inline void release(struct ocrq_mq *mq)
{
    amqp_maybe_release_buffers_on_channel(mq->conn, CHAN);
    amqp_maybe_release_buffers_on_channel(mq->conn, 0);
}

static inline int usable(const struct ocrq_mq *mq)
{
    return mq && mq->conn && !mq->broken;
}

/* Copy cfg's topology into t. OCRQ_OK or OCRQ_ERR_CONFIG (logged). (mq_topology.c) */
int ocrq_mq_topo_init(struct ocrq_mq_topo *t, const struct ocrq_config *cfg);

/* The topology mq was connected with. (mq_conn.c) */
const struct ocrq_mq_topo *ocrq_mq_topo_of(const struct ocrq_mq *mq);

/*
 * Declare durable queue q with args, or the fanout exchange x with queue q
 * bound to it. OCRQ_OK, or OCRQ_ERR_MQ (logged; the broker's reply code and
 * text, e.g. 406 for arguments that differ from the existing queue's, are
 * kept for ocrq_mq_last_refusal()). (mq_topology.c)
 */
int ocrq_mq_declare_queue(struct ocrq_mq *mq, const char *q, amqp_table_entry_t *args, int n);
int ocrq_mq_declare_fanout(struct ocrq_mq *mq, const char *x, const char *q);

/* The code and text of the broker's last channel close (0 and "" if none). (mq_conn.c) */
int ocrq_mq_last_refusal(const struct ocrq_mq *mq, char *text, size_t len);

static inline amqp_table_entry_t ocrq_mq_int_entry(const char *k, int v)
{
    amqp_table_entry_t e = {amqp_cstring_bytes(k), {.kind = AMQP_FIELD_KIND_I32}};
    e.value.value.i32 = v;
    return e;
}

static inline amqp_table_entry_t ocrq_mq_str_entry(const char *k, const char *v)
{
    amqp_table_entry_t e = {amqp_cstring_bytes(k), {.kind = AMQP_FIELD_KIND_UTF8}};
    e.value.value.bytes = amqp_cstring_bytes(v);
    return e;
}

/* ---- mq_conn.c: the connection and the broker's closes ---- */

/* Log a rabbitmq-c error for what (obj), mark the connection lost; OCRQ_ERR_MQ. */
int ocrq_mq_lib_fail(struct ocrq_mq *mq, int err, const char *what, const char *obj);

/*
 * Translate one RPC reply, once: log it, handle the close it may carry, and
 * return our status (OCRQ_OK, OCRQ_ERR_NOT_FOUND for a 404 channel close,
 * else OCRQ_ERR_MQ). Frames queued while waiting are folded into our state.
 */
int ocrq_mq_rpc_status(struct ocrq_mq *mq, amqp_rpc_reply_t r, const char *what, const char *obj);

/* The broker closed the connection: answer close-ok; every call fails from now on. */
void ocrq_mq_on_connection_close(struct ocrq_mq *mq, const amqp_connection_close_t *c,
                                 const char *what, const char *obj);

/* The broker closed channel 1: open it again with the same settings. */
void ocrq_mq_on_channel_close(struct ocrq_mq *mq, const amqp_channel_close_t *c, const char *what,
                              const char *obj);

/* ---- mq_frames.c: the frame pump ---- */

/* One frame, queued ones first; OCRQ_ERR_TIMEOUT at the deadline (-1: none). */
int ocrq_mq_read_frame(struct ocrq_mq *mq, long long deadline, amqp_frame_t *f);

/*
 * Read the content (header and body frames) that follows a basic.deliver,
 * basic.get-ok or basic.return into *c; keep = 0 drops the body. c->body is
 * malloc'd: release *c with ocrq_mq_content_cleanup().
 */
int ocrq_mq_read_content(struct ocrq_mq *mq, int keep, struct content *c);
void ocrq_mq_content_cleanup(struct content *c);

/* Fold one frame into our state. OCRQ_ERR_MQ when the channel or connection closed. */
int ocrq_mq_handle_frame(struct ocrq_mq *mq, amqp_frame_t *f);

/* Read and handle one frame (OCRQ_ERR_TIMEOUT at the deadline). */
int ocrq_mq_pump(struct ocrq_mq *mq, long long deadline);

/* Handle the frames the library queued while it waited for a reply. */
void ocrq_mq_drain(struct ocrq_mq *mq);

/* ---- mq_confirm.c: publishing and the confirm ring ---- */

/* basic.ack (ok 1) or basic.nack (ok 0) for a broker delivery tag. */
void ocrq_mq_on_confirm(struct ocrq_mq *mq, uint64_t tag, int multiple, int ok);

/* basic.return: read the returned message and fail its publish. */
int ocrq_mq_on_return(struct ocrq_mq *mq, const amqp_basic_return_t *r);

/* The channel is gone: fail every publish still unconfirmed. */
void ocrq_mq_fail_unconfirmed(struct ocrq_mq *mq);

/* ---- mq_headers.c: the property and header codec ---- */

/* Field names of an x-death entry, as RabbitMQ writes them. */
enum { XD_QUEUE, XD_REASON, XD_EXCHANGE, XD_COUNT, XD_TIME, XD_N };

/* The properties of one publish and the storage its headers point into. */
struct ocrq_mq_props {
    amqp_basic_properties_t p;
    amqp_table_entry_t h[4];
    amqp_table_entry_t death_entries[OCRQ_MQ_MAX_DEATHS][XD_N];
    amqp_field_value_t death_tables[OCRQ_MQ_MAX_DEATHS];
};

/* Fill props from pub (already checked); props->p borrows pub's strings. */
void ocrq_mq_props_build(struct ocrq_mq_props *props, const struct ocrq_mq_pub *pub);

/* The properties and headers of a message read off the wire, into c (malloc'd copies). */
void ocrq_mq_read_props(const amqp_basic_properties_t *p, struct content *c);

/* ---- mq_consume.c: get, consume, ack ---- */

/* basic.deliver: read the message and buffer it for ocrq_mq_next(). */
int ocrq_mq_on_deliver(struct ocrq_mq *mq, const amqp_basic_deliver_t *d);

/* Drop (and free) every buffered delivery. */
void ocrq_mq_dq_clear(struct ocrq_mq *mq);

/* The broker cancelled consumer tag, or we did: forget it. */
void ocrq_mq_consumer_forget(struct ocrq_mq *mq, const char *tag);

#endif
