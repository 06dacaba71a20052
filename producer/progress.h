/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The progress line of ocrq-submit on stderr:
 *   [####......] 1234/10000 submitted  100 done  2 failed  850/s  ETA 0:10
 * and, while waiting for documents of several pages, their pages:
 *   [##........] 2/10 submitted  1 done  0 failed  37/120 pages  0.6 pages/s  ETA 2:18
 * redrawn in place with '\r', at most PROGRESS_HZ times a second, and only
 * when enabled (stderr is a TTY and not --quiet).
 */
#ifndef OCRQ_PRODUCER_PROGRESS_H
#define OCRQ_PRODUCER_PROGRESS_H

#include <stddef.h>

#define PROGRESS_HZ 10

struct progress {
    int enabled;
    int shown;   /* a line is on the screen */
    int waiting; /* in the --wait phase: rate and ETA count finished jobs */
    size_t total;
    size_t submitted, done, failed;
    long long pages_done, pages_total; /* --wait: pages of the jobs seen so far; 0: unknown */
    double t_pages;                    /* when pages were first seen */
    long long pages_start;             /* pages_done then */
    double t_start;                    /* monotonic seconds when the current phase began */
    double t_drawn;                    /* when the line was last drawn */
};

/* Monotonic clock in seconds. Thread-safe. */
double progress_now(void);

/* Start; enabled only if want and stderr is a TTY. Never fails. */
void progress_init(struct progress *p, int want, size_t total);

/* Enter the --wait phase: from now on rate and ETA follow finished jobs. */
void progress_start_wait(struct progress *p);

/* Set the counts and redraw if the last draw is older than 1/PROGRESS_HZ s. */
void progress_update(struct progress *p, size_t submitted, size_t done, size_t failed);

/*
 * --wait: pages done and pages known of the run's jobs (finished ones and
 * those under way). Once any are known the line shows them, with a rate and
 * ETA in pages (ETA over the pages known so far). Drawn by the next update.
 */
void progress_pages(struct progress *p, long long done, long long total);

/* Erase the line (before other output on the terminal); it comes back on the next update. */
void progress_clear(struct progress *p);

#endif
