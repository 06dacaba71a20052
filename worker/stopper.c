/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A background thread's stop flag and its interruptible sleep (stopper.h):
 * a mutex, a condition variable on the monotonic clock, and the flag.
 */
#include "stopper.h"

#include <time.h>

void ocrq_stopper_init(struct ocrq_stopper *s)
{
    pthread_condattr_t ca;

    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    s->stop = 0;
}

void ocrq_stopper_destroy(struct ocrq_stopper *s)
{
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
}

void ocrq_stopper_stop(struct ocrq_stopper *s)
{
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

int ocrq_stopper_stopped(struct ocrq_stopper *s)
{
    pthread_mutex_lock(&s->mu);
    int stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

int ocrq_stopper_wait_ms(struct ocrq_stopper *s, long long ms)
{
    struct timespec until;
    int stop;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)(ms / 1000);
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    while (!s->stop && pthread_cond_timedwait(&s->cv, &s->mu, &until) == 0)
        ;
    stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}
