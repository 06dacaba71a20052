/*
 * One worker: the main thread owns the AMQP connection, takes jobs by the
 * dispatch rule, hands them to the pipeline thread and carries out verdicts.
 */
#ifndef OCRQ_WORKER_WORKER_H
#define OCRQ_WORKER_WORKER_H

#include <signal.h>

struct ocrq_config;

struct ocrq_worker_opts {
    const char *name; /* shown in logs and ocr_jobs.worker */
    long max_jobs;    /* stop after this many jobs; 0 = never */
};

/*
 * Run until *stop is set (the current job is finished and acked first) or
 * max_jobs jobs are done. Reconnects to the broker and waits for the
 * database as needed. Returns OCRQ_OK, or an error that prevents starting.
 */
int ocrq_worker_run(const struct ocrq_config *cfg, const struct ocrq_worker_opts *opts,
                    volatile sig_atomic_t *stop);

#endif
