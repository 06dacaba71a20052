/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The stop flag of a background thread of the supervisor (retention.c,
 * registry.c) and the sleep it cuts short: the thread sleeps between its
 * passes with ocrq_stopper_wait_ms(), and ocrq_stopper_stop() from any
 * thread wakes it at once.
 */
#ifndef OCRQ_WORKER_STOPPER_H
#define OCRQ_WORKER_STOPPER_H

#include <pthread.h>

struct ocrq_stopper {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* on CLOCK_MONOTONIC */
    int stop;          /* under mu */
};

/* Set up s (not stopped). */
void ocrq_stopper_init(struct ocrq_stopper *s);

/* Release what init took; the thread that waits must be gone. */
void ocrq_stopper_destroy(struct ocrq_stopper *s);

/* Tell the thread to stop; wakes its wait. */
void ocrq_stopper_stop(struct ocrq_stopper *s);

/* Nonzero once told to stop. */
int ocrq_stopper_stopped(struct ocrq_stopper *s);

/* Sleep ms, or less if told to stop; returns nonzero when told to stop. */
int ocrq_stopper_wait_ms(struct ocrq_stopper *s, long long ms);

#endif
