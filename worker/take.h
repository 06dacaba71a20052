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

/* What the rule makes of the two gets of one round trip. */
enum ocrq_take_pick {
    OCRQ_TAKE_IDLE,     /* both queues empty: wait on consumers */
    OCRQ_TAKE_AGAIN,    /* nothing to start, but one was dead-lettered for size: look again */
    OCRQ_TAKE_NORMAL,   /* start the normal message */
    OCRQ_TAKE_PRIORITY, /* start the priority message */
};

/*
 * The rule for one round trip, with no I/O: normal and prio are what the
 * gets on the normal and the priority queue returned (NULL: none), st_normal
 * and st_prio their statuses (OCRQ_OK, OCRQ_ERR_EMPTY or OCRQ_ERR_TOO_LARGE).
 * Returns which message to start, or why none. *hand_back is set to 1 when
 * the normal message must go back to its queue (a priority one is started
 * instead), else 0. Borrows both messages.
 */
enum ocrq_take_pick ocrq_take_choose(const struct ocrq_mq_msg *normal, int st_normal,
                                     const struct ocrq_mq_msg *prio, int st_prio, int *hand_back);

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
