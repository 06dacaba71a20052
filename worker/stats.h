/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What the supervisor and its OCR processes share: one slot per child, in a
 * memfd that both map. A child writes only its own slot; the supervisor
 * reads every slot (hard time limit, /readyz, /metrics) and writes only the
 * fields marked "supervisor". Every field is read and written with the
 * __atomic builtins; a slot outlives the processes that used it, so its
 * counters keep counting across restarts.
 */
#ifndef OCRQ_WORKER_STATS_H
#define OCRQ_WORKER_STATS_H

#include <stdint.h>

#include "ocrq/uuid.h"

#define OCRQ_STATS_MAGIC 0x6f637271u /* "ocrq" */
#define OCRQ_HIST_BOUNDS 12          /* finite bucket bounds; one more bucket for +Inf */

/* Upper bounds of the histogram buckets, in seconds (docs/fleet.md). */
extern const double ocrq_hist_bounds_s[OCRQ_HIST_BOUNDS];

enum ocrq_job_kind {
    OCRQ_JOB_SUCCEEDED,
    OCRQ_JOB_FAILED,   /* failed and dead-lettered */
    OCRQ_JOB_RETRIED,  /* sent to a delay queue */
    OCRQ_JOB_REQUEUED, /* handed back unacked (database down) */
    OCRQ_JOB_REPEAT,   /* a repeat delivery of a finished job, acked */
    OCRQ_JOB_KINDS
};

enum ocrq_restart_reason {
    OCRQ_RESTART_CRASH,
    OCRQ_RESTART_HARD_TIMEOUT,
    OCRQ_RESTART_RECYCLE,
    OCRQ_RESTART_REASONS
};

struct ocrq_hist {
    uint64_t bucket[OCRQ_HIST_BOUNDS + 1]; /* not cumulative; the last is +Inf */
    uint64_t count;
    uint64_t sum_us; /* sum of the observations, microseconds */
};

struct ocrq_child_slot {
    /* supervisor */
    int32_t pid; /* the child running in this slot, 0 when none */
    uint64_t restarts[OCRQ_RESTART_REASONS];

    /* child */
    int64_t job_started_ms; /* CLOCK_MONOTONIC ms at the start of the current job; 0: none */
    /*
     * The current job: written before job_started_ms is stored (release); a
     * reader loads job_started_ms (acquire), copies job_id, and trusts the
     * copy only if job_started_ms still holds the same value.
     */
    char job_id[OCRQ_UUID_LEN + 1];
    int32_t mq_up; /* connected to a broker */
    int32_t db_up; /* the last database statement or check succeeded */
    uint64_t jobs[OCRQ_JOB_KINDS];
    uint64_t reconnects_mq; /* connections made after a lost one */
    uint64_t reconnects_db; /* times the database came back after being unreachable */
    struct ocrq_hist ocr_duration;
    struct ocrq_hist queue_wait;
};

struct ocrq_stats {
    uint32_t magic;
    uint32_t n; /* slots */
    struct ocrq_child_slot slot[];
};

/* A new zeroed region of n slots in a memfd (*fd, inherited across exec). */
int ocrq_stats_create(int n, struct ocrq_stats **out, int *fd);

/* Map the region whose memfd is fd (a child, after exec). Checks magic and size. */
int ocrq_stats_attach(int fd, struct ocrq_stats **out);

/* Unmap; NULL is fine. */
void ocrq_stats_unmap(struct ocrq_stats *s);

/* Add one observation of seconds to h (atomic adds; safe against a reader). */
void ocrq_hist_observe(struct ocrq_hist *h, double seconds);

/* Resident set size in bytes of process pid (0: this one), from /proc; -1 if unknown. */
long long ocrq_stats_rss_bytes(int pid);

#endif
