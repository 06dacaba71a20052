/*
 * The progress line of ocrq-submit on stderr:
 *   [####......] 1234/10000 submitted  100 done  2 failed  850/s  ETA 0:10
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
    double t_start; /* monotonic seconds when the current phase began */
    double t_drawn; /* when the line was last drawn */
};

/* Monotonic clock in seconds. Thread-safe. */
double progress_now(void);

/* Start; enabled only if want and stderr is a TTY. Never fails. */
void progress_init(struct progress *p, int want, size_t total);

/* Enter the --wait phase: from now on rate and ETA follow finished jobs. */
void progress_start_wait(struct progress *p);

/* Set the counts and redraw if the last draw is older than 1/PROGRESS_HZ s. */
void progress_update(struct progress *p, size_t submitted, size_t done, size_t failed);

/* Erase the line (before other output on the terminal); it comes back on the next update. */
void progress_clear(struct progress *p);

#endif
