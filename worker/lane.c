/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The pipeline thread: waits for a task under a mutex, runs it without any
 * lock held, posts the result and signals an eventfd.
 */
#include "lane.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ocrq/status.h"

enum task { TASK_NONE, TASK_JOB, TASK_DB_CHECK, TASK_QUIT };

struct ocrq_lane {
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int efd;
    enum task task;
    int done;
    const struct ocrq_mq_msg *msg;
    struct ocrq_outcome outcome;
    int db_status;
    struct ocrq_pipeline *pipeline;
};

static void *lane_main(void *arg)
{
    struct ocrq_lane *l = arg;
    uint64_t one = 1;

    for (;;) {
        pthread_mutex_lock(&l->mu);
        while (l->task == TASK_NONE)
            pthread_cond_wait(&l->cv, &l->mu);
        enum task t = l->task;
        pthread_mutex_unlock(&l->mu);
        if (t == TASK_QUIT)
            return NULL;

        struct ocrq_outcome outcome;
        int db_status = OCRQ_OK;
        memset(&outcome, 0, sizeof(outcome));
        if (t == TASK_JOB)
            ocrq_pipeline_run(l->pipeline, l->msg, &outcome);
        else
            db_status = ocrq_pipeline_db_check(l->pipeline);

        pthread_mutex_lock(&l->mu);
        l->outcome = outcome;
        l->db_status = db_status;
        l->task = TASK_NONE;
        l->done = 1;
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
        /* eventfd writes only fail on counter overflow, which one-at-a-time tasks never reach */
        while (write(l->efd, &one, sizeof(one)) < 0 && errno == EINTR)
            ;
    }
}

int ocrq_lane_new(struct ocrq_pipeline *p, struct ocrq_lane **out)
{
    struct ocrq_lane *l;

    *out = NULL;
    l = calloc(1, sizeof(*l));
    if (l == NULL)
        return OCRQ_ERR_NOMEM;
    l->pipeline = p;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    l->efd = eventfd(0, EFD_CLOEXEC);
    if (l->efd < 0 || pthread_create(&l->thread, NULL, lane_main, l) != 0) {
        ocrq_lane_free(l);
        return OCRQ_ERR_IO;
    }
    l->started = 1;
    *out = l;
    return OCRQ_OK;
}

static void post(struct ocrq_lane *l, enum task t)
{
    pthread_mutex_lock(&l->mu);
    l->task = t;
    l->done = 0;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

void ocrq_lane_free(struct ocrq_lane *l)
{
    if (l == NULL)
        return;
    if (l->started) {
        /* wait for a running task to finish first: never abandon a job mid-commit */
        pthread_mutex_lock(&l->mu);
        while (l->task != TASK_NONE)
            pthread_cond_wait(&l->cv, &l->mu);
        pthread_mutex_unlock(&l->mu);
        post(l, TASK_QUIT);
        pthread_join(l->thread, NULL);
    }
    if (l->efd >= 0)
        close(l->efd);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    ocrq_pipeline_free(l->pipeline);
    free(l);
}

void ocrq_lane_start_job(struct ocrq_lane *l, const struct ocrq_mq_msg *msg)
{
    l->msg = msg;
    post(l, TASK_JOB);
}

void ocrq_lane_start_db_check(struct ocrq_lane *l)
{
    post(l, TASK_DB_CHECK);
}

int ocrq_lane_fd(const struct ocrq_lane *l)
{
    return l->efd;
}

int ocrq_lane_collect(struct ocrq_lane *l, struct ocrq_outcome *outcome, int *db_status)
{
    uint64_t n;
    int done;

    if (read(l->efd, &n, sizeof(n)) != sizeof(n))
        return 0;
    pthread_mutex_lock(&l->mu);
    done = l->done;
    if (done) {
        if (outcome != NULL)
            *outcome = l->outcome;
        if (db_status != NULL)
            *db_status = l->db_status;
        l->done = 0;
    }
    pthread_mutex_unlock(&l->mu);
    return done;
}
