/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * When a webhook delivery that failed is tried again: the retry schedule of
 * webhooks.retry_schedule_s with jitter, or the receiver's Retry-After when
 * that asks for longer. Pure but for random(); see docs/webhooks.md.
 */
#ifndef OCRQ_WORKER_WEBHOOK_SCHEDULE_H
#define OCRQ_WORKER_WEBHOOK_SCHEDULE_H

struct ocrq_config;

/* A Retry-After longer than this (a week) is not followed. */
#define OCRQ_WEBHOOK_MAX_RETRY_AFTER_S (7 * 86400)

/*
 * Seconds before retry number round_attempt (1 = the first retry; 1 to
 * cfg->n_webhook_retry_s, the caller gives up after the last): the entry of
 * webhooks.retry_schedule_s for it (past the end of the list, the last
 * entry) with ±10% jitter from random(), or retry_after_s (the response's
 * Retry-After; 0: none) when that is longer and at most
 * OCRQ_WEBHOOK_MAX_RETRY_AFTER_S. Thread-safe as far as random() is.
 */
double ocrq_webhook_retry_in_s(const struct ocrq_config *cfg, int round_attempt,
                               long long retry_after_s);

#endif
