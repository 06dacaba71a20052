/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * ocrq-submit's broker connection and its reconnect after a loss
 * (submit_broker.h). What is published on it, and published again after a
 * reconnect, is submit.c's and submit_flight.c's business.
 */
#include "submit_broker.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ocrq/clock.h"
#include "ocrq/config.h"
#include "ocrq/mq.h"
#include "ocrq/status.h"
#include "ocrq/url.h"
#include "submit.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define SHOWN_MAX 512

void submit_redact_url(const char *url, char *buf, size_t len)
{
    ocrq_url_redact(url, buf, len, 0);
}

/* Entry k of amqp.urls, taken in turn; amqp.url when the list is empty. */
static const char *broker_url(const struct ocrq_config *cfg, size_t k)
{
    return cfg->n_amqp_urls > 0 ? cfg->amqp_urls[k % (size_t)cfg->n_amqp_urls] : cfg->amqp_url;
}

/*
 * Connect to broker_url(b->url_idx), check the queue and enter confirm mode.
 * Returns OCRQ_OK with b->mq, OCRQ_ERR_NOT_FOUND (no queue) or another
 * status, said on stderr unless run is NULL.
 */
static int connect_one(struct submit_broker *b, struct submit_run *run)
{
    const char *url = broker_url(b->cfg, b->url_idx);
    struct ocrq_mq *mq = NULL;
    char shown[SHOWN_MAX];
    int st = ocrq_mq_connect_to(b->cfg, url, "ocrq-submit", &mq);

    if (st != OCRQ_OK) {
        submit_redact_url(url, shown, sizeof shown);
        if (run)
            submit_report(run, NULL, "cannot connect to the broker at %s: %s", shown,
                          ocrq_strerror(st));
        return st;
    }
    st = ocrq_mq_queue_info(mq, b->queue, NULL, NULL);
    if (st == OCRQ_OK)
        st = ocrq_mq_confirm_select(mq);
    if (st == OCRQ_ERR_NOT_FOUND && run)
        submit_report(run, NULL, "queue %s does not exist: run ocrq-admin setup", b->queue);
    else if (st != OCRQ_OK && run)
        submit_report(run, NULL, "broker: %s", ocrq_strerror(st));
    if (st != OCRQ_OK) {
        ocrq_mq_free(mq);
        return st;
    }
    ocrq_mq_report_lost(mq, 1); /* a closed channel's publishes go again, not fail */
    b->mq = mq;
    return OCRQ_OK;
}

int submit_broker_connect(struct submit_broker *b, struct submit_run *run)
{
    size_t n = b->cfg->n_amqp_urls > 0 ? (size_t)b->cfg->n_amqp_urls : 1;
    int st = OCRQ_ERR_MQ;

    for (b->url_idx = 0; b->url_idx < n; b->url_idx++) {
        st = connect_one(b, b->url_idx + 1 == n ? run : NULL); /* said: why the last failed */
        if (st == OCRQ_OK || st == OCRQ_ERR_NOT_FOUND) /* a missing queue: every broker agrees */
            break;
    }
    return st == OCRQ_OK ? OCRQ_OK : OCRQ_ERR_MQ;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int submit_broker_reconnect(struct submit_broker *b, struct submit_run *run, size_t held)
{
    int64_t give_up = ocrq_now_ms() + SUBMIT_RECONNECT_MS;
    int backoff_ms = BACKOFF_MIN_MS;
    char shown[SHOWN_MAX];
    int st;

    submit_broker_close(b);
    submit_report(run, NULL,
                  "broker: connection lost with %zu jobs unconfirmed; reconnecting for up to %d s",
                  held, SUBMIT_RECONNECT_MS / 1000);
    for (;;) {
        b->url_idx++; /* the next broker, when amqp.urls names several */
        st = connect_one(b, NULL);
        if (st == OCRQ_OK)
            break;
        if (ocrq_now_ms() + backoff_ms > give_up) {
            submit_report(run, NULL, "broker: not back within %d s%s: giving up",
                          SUBMIT_RECONNECT_MS / 1000,
                          st == OCRQ_ERR_NOT_FOUND ? " (its queue is missing)" : "");
            return OCRQ_ERR_MQ;
        }
        sleep_ms(backoff_ms);
        backoff_ms = backoff_ms * 2 < BACKOFF_MAX_MS ? backoff_ms * 2 : BACKOFF_MAX_MS;
    }
    submit_redact_url(broker_url(b->cfg, b->url_idx), shown, sizeof shown);
    submit_report(run, NULL, "broker: connected again to %s; publishing %zu jobs again", shown,
                  held);
    return OCRQ_OK;
}

void submit_broker_close(struct submit_broker *b)
{
    ocrq_mq_free(b->mq);
    b->mq = NULL;
}
