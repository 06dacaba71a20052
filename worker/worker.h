/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * One worker: the main thread owns the AMQP connection, takes jobs by the
 * take rule, hands them to the pipeline thread and carries out verdicts.
 */
#ifndef OCRQ_WORKER_WORKER_H
#define OCRQ_WORKER_WORKER_H

#include <signal.h>

#include "engine.h"

struct ocrq_config;
struct ocrq_child_slot;

struct ocrq_worker_opts {
    const char *name;             /* shown in logs and ocr_jobs.worker */
    long max_jobs;                /* stop after this many jobs; 0 = never */
    struct ocrq_device device;    /* where the engines run */
    struct ocrq_child_slot *slot; /* the supervisor's view of this process; NULL: none */
};

enum ocrq_worker_end {
    OCRQ_WORKER_STOPPED = 0, /* *stop was set, or max_jobs jobs were done */
    OCRQ_WORKER_RECYCLE,     /* worker.max_jobs_per_child or worker.max_rss_mb reached */
};

/*
 * Run until *stop is set (the current job is finished and acked first),
 * max_jobs jobs are done, or it is time to recycle the process (checked
 * between jobs). Reconnects to the broker and waits for the database as
 * needed. Returns OCRQ_OK with *end saying why it stopped, or an error that
 * prevents starting.
 */
int ocrq_worker_run(const struct ocrq_config *cfg, const struct ocrq_worker_opts *opts,
                    volatile sig_atomic_t *stop, enum ocrq_worker_end *end);

#endif
