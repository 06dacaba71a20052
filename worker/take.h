/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Taking the next job, priority queue strictly first (docs/design.md,
 * "Strict priority when a worker takes a job").
 */
#ifndef OCRQ_WORKER_TAKE_H
#define OCRQ_WORKER_TAKE_H

#include <signal.h>

struct ocrq_config;
struct ocrq_mq;
struct ocrq_mq_msg;

/*
 * Take the next job to start: from the priority queue if it has one ready,
 * else from the normal queue, but a normal job is handed out only after a
 * check made once it was taken found the priority queue empty. With both
 * queues empty, wait on consumers (prefetch 1 for the channel) until a job
 * arrives or *stop is set, checking *stop at least every idle_wait_ms.
 * *last_was_priority carries state between calls (start it at 1): it only
 * changes the order of the checks, to save a round trip per job.
 * Returns OCRQ_OK with *out, OCRQ_ERR_EMPTY when stopped, or OCRQ_ERR_MQ.
 */
int ocrq_take_next(struct ocrq_mq *mq, const struct ocrq_config *cfg, volatile sig_atomic_t *stop,
                   int *last_was_priority, struct ocrq_mq_msg **out);

#endif
