/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The supervisor: starts worker.processes OCR processes (this program again,
 * with --child), restarts them, enforces the hard time limit, stops them in
 * order, serves /healthz, /readyz and /metrics, applies retention.days
 * (retention.c) and records itself in the fleet registry (registry.c).
 * See docs/fleet.md.
 */
#ifndef OCRQ_WORKER_SUPERVISOR_H
#define OCRQ_WORKER_SUPERVISOR_H

struct ocrq_config;

#define OCRQ_EXIT_RECYCLE 75 /* a child that recycled itself (EX_TEMPFAIL) */

struct ocrq_supervisor_opts {
    int processes;              /* children to run; 0: one per CPU, see placement.h */
    const char *processes_from; /* "--processes" or "worker.processes", for the log */
    long max_jobs;              /* --max-jobs for each child; 0: none */
    const char *name;           /* worker name; with several children "<name>/<k>" */
    const char *config;         /* -c FILE, handed on to the children; NULL: none */
    const char *log_level;      /* --log-level, handed on; NULL: none */
};

/*
 * Run in the foreground until told to stop (SIGTERM, SIGINT) or until every
 * child has finished its --max-jobs. Returns the process exit status: 0 if
 * every child stopped cleanly, 1 if some had to be killed, 2 if the
 * configuration cannot work here (worker.cpus outside this process's CPUs,
 * worker.metrics_listen taken or not an address to listen on: nothing is
 * started then), 3 if it could not start.
 */
int ocrq_supervisor_run(const struct ocrq_config *cfg, const struct ocrq_supervisor_opts *opts);

#endif
