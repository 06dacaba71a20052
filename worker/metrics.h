/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The supervisor's /metrics page: Prometheus text built from the shared
 * per-child stats (worker/stats.h) and the few numbers only the supervisor
 * knows. Names, types and labels are those of docs/fleet.md.
 */
#ifndef OCRQ_WORKER_METRICS_H
#define OCRQ_WORKER_METRICS_H

#include <stddef.h>

struct ocrq_stats;

/* The ready count of one queue, as last queried. */
struct ocrq_queue_depth {
    const char *queue;
    long long ready; /* -1: unknown, the sample is left out */
};

/* Everything one page shows; all borrowed. */
struct ocrq_metrics_view {
    const struct ocrq_stats *stats;
    const long long *child_rss_bytes; /* stats->n entries, -1: unknown (left out); NULL: none */
    int children_running;
    const struct ocrq_queue_depth *queues; /* n_queues entries; NULL when 0 */
    int n_queues;
};

/*
 * Render the page. Counters and histograms are summed over every slot; every
 * shared field is read with __atomic_load_n, so children may write meanwhile.
 * Returns the malloc'd, NUL-terminated text (the caller frees it; *len its
 * length), or NULL when out of memory (logged). Thread-safe given v.
 */
char *ocrq_worker_metrics_render(const struct ocrq_metrics_view *v, size_t *len);

#endif
