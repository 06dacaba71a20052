/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The retry schedule of webhook deliveries (webhook_schedule.h): the wait
 * before the next attempt of a delivery whose attempt failed, as the
 * dispatcher (webhooks.c) records it in the outbox.
 */
#include "webhook_schedule.h"

#include <stdlib.h>

#include "ocrq/config.h"

/* Seconds before retry number `round_attempt` (1 = the first retry), with ±10% jitter. */
static double schedule_s(const struct ocrq_config *cfg, int round_attempt)
{
    int i = round_attempt - 1;
    double base = cfg->webhook_retry_s[i < cfg->n_webhook_retry_s ? i : cfg->n_webhook_retry_s - 1];
    double jitter = ((double)(random() % 2001) / 1000.0 - 1.0) * 0.1; /* -0.1 .. +0.1 */
    return base * (1.0 + jitter);
}

double ocrq_webhook_retry_in_s(const struct ocrq_config *cfg, int round_attempt,
                               long long retry_after_s)
{
    double in_s = schedule_s(cfg, round_attempt);

    if (retry_after_s > 0 && retry_after_s <= OCRQ_WEBHOOK_MAX_RETRY_AFTER_S &&
        (double)retry_after_s > in_s)
        in_s = (double)retry_after_s;
    return in_s;
}
