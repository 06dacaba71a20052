/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Private to the supervisor: its state, shared by the loop (supervisor.c)
 * and the HTTP endpoints on their own thread (supervisor_http.c).
 */
#ifndef OCRQ_WORKER_SUPERVISOR_INTERNAL_H
#define OCRQ_WORKER_SUPERVISOR_INTERNAL_H

#include <sys/types.h>

#include "placement.h"

struct ocrq_config;
struct ocrq_http;
struct ocrq_mq;
struct ocrq_registry;
struct ocrq_retention;
struct ocrq_stats;
struct ocrq_supervisor_opts;

struct child {
    pid_t pid;
    long long started_ms;
    long long restart_at_ms; /* > 0: start again at this time */
    int backoff_ms;
    int killed_for_time; /* we sent SIGKILL for the hard limit */
    int done;            /* exited after --max-jobs, or stopped: not restarted */
};

/* The supervisor: written by its loop; the HTTP thread reads it (and owns the last three). */
struct sup {
    const struct ocrq_config *cfg;
    const struct ocrq_supervisor_opts *opts;
    struct ocrq_placement pl;
    struct ocrq_stats *stats;
    int stats_fd;
    struct child *kids; /* the OCR processes, then the webhook dispatcher if any */
    int n;              /* OCR processes */
    int n_kids;         /* n, plus 1 with the dispatcher */
    int stopping;       /* 1 after the first signal, 2 after the second */
    long long stop_deadline_ms;
    int unclean;                      /* some child had to be killed, or failed */
    int running;                      /* children alive (read by the HTTP thread) */
    struct ocrq_retention *retention; /* retention.days: its own thread; NULL when off */
    struct ocrq_registry *registry;   /* the fleet registry: its own thread; NULL if it failed */
    long long watchdog_ms, pinged_ms; /* systemd's watchdog (WatchdogSec=): 0 when none */

    /* HTTP thread only */
    struct ocrq_mq *mq;
    long long depth_at_ms;
    long long depth[2];
};

/*
 * Serve /healthz, /readyz and /metrics on worker.metrics_listen (none when
 * it is NULL). A port that is taken, most often by another ocrq-worker on
 * this host (both default to 127.0.0.1:9464), refuses the start: a worker
 * without its endpoints would look dead to whatever probes them.
 * Returns 0, or the exit status (2: the configuration, 3: no memory).
 * (supervisor_http.c)
 */
int ocrq_supervisor_http_start(struct sup *s, struct ocrq_http **http);

#endif
