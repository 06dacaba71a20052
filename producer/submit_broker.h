/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The broker connection of ocrq-submit: the brokers of amqp.urls in turn, the
 * run's queue checked, confirm mode, and a channel the broker closes reported
 * as lost rather than refused. After a lost connection it connects again, to
 * the next broker of the list, with backoff, for up to SUBMIT_RECONNECT_MS.
 */
#ifndef OCRQ_PRODUCER_SUBMIT_BROKER_H
#define OCRQ_PRODUCER_SUBMIT_BROKER_H

#include <stddef.h>

struct ocrq_config;
struct ocrq_mq;
struct submit_run;

struct submit_broker {
    const struct ocrq_config *cfg;
    const char *queue;  /* the run's job queue, borrowed */
    struct ocrq_mq *mq; /* NULL while not connected */
    size_t url_idx;     /* the amqp.urls entry connected to, or tried last */
};

/*
 * Connect to the first broker of amqp.urls (or amqp.url) that answers, each
 * tried once, and check that b->queue exists. Why the last one failed is
 * said on stderr (submit_report). Returns OCRQ_OK with b->mq, or OCRQ_ERR_MQ.
 */
int submit_broker_connect(struct submit_broker *b, struct submit_run *run);

/*
 * b->mq was lost: free it and connect again, to the next of amqp.urls, first
 * at once, then with backoff (0.1 s doubling to 2 s) until SUBMIT_RECONNECT_MS
 * have passed. One line on stderr when the broker is lost, one when it is back
 * or given up; held (jobs to publish again) is only for those lines. Returns
 * OCRQ_OK with b->mq, or OCRQ_ERR_MQ (b->mq NULL). Sleeps: not for a thread
 * with other work.
 */
int submit_broker_reconnect(struct submit_broker *b, struct submit_run *run, size_t held);

/* Close the connection, if any. */
void submit_broker_close(struct submit_broker *b);

/* "scheme://user:***@host..." for messages: url without its password. */
void submit_redact_url(const char *url, char *buf, size_t len);

#endif
