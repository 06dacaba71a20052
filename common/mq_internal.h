/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Private to the mq module: what mq.c (the connection, the frame pump,
 * confirms, get/consume/ack) shares with the files beside it that speak
 * AMQP too (mq_topology.c). Nothing outside common/ includes this header.
 */
#ifndef OCRQ_MQ_INTERNAL_H
#define OCRQ_MQ_INTERNAL_H

#include <amqp.h>

#include "ocrq/config.h"

struct ocrq_mq;

#define OCRQ_MQ_SHORTSTR_MAX 255 /* AMQP short string: names, tags, ids */

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

/* Copy cfg's topology into t. OCRQ_OK or OCRQ_ERR_CONFIG (logged). (mq_topology.c) */
int ocrq_mq_topo_init(struct ocrq_mq_topo *t, const struct ocrq_config *cfg);

/* The topology mq was connected with. (mq.c) */
const struct ocrq_mq_topo *ocrq_mq_topo_of(const struct ocrq_mq *mq);

/*
 * Declare durable queue q with args, or the fanout exchange x with queue q
 * bound to it. OCRQ_OK, or OCRQ_ERR_MQ (logged; the broker's reply code and
 * text, e.g. 406 for arguments that differ from the existing queue's, are
 * kept for ocrq_mq_last_refusal()). (mq.c)
 */
int ocrq_mq_declare_queue(struct ocrq_mq *mq, const char *q, amqp_table_entry_t *args, int n);
int ocrq_mq_declare_fanout(struct ocrq_mq *mq, const char *x, const char *q);

/* The code and text of the broker's last channel close (0 and "" if none). (mq.c) */
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

#endif
