/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The webhook dispatcher: a process of its own beside the OCR processes
 * (ocrq-worker --dispatcher, started by the supervisor). It claims due
 * deliveries from the outbox, POSTs them with libcurl (several at once),
 * signs them (Standard Webhooks), records every attempt and schedules
 * retries. See docs/webhooks.md.
 */
#ifndef OCRQ_WORKER_WEBHOOKS_H
#define OCRQ_WORKER_WEBHOOKS_H

#include <signal.h>

struct ocrq_config;

/*
 * Run until *stop is set; deliveries in flight are finished (within
 * webhooks.timeout_s) and recorded first. Returns OCRQ_OK, or an error that
 * prevents starting (bad secrets or allow-list: OCRQ_ERR_CONFIG).
 */
int ocrq_dispatcher_run(const struct ocrq_config *cfg, const char *name,
                        volatile sig_atomic_t *stop);

#endif
