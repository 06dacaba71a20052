/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The worker's /metrics page: sums the counters and histograms of every
 * child slot in shared memory and writes them, with the supervisor's own
 * gauges, in the Prometheus text format (common/prom.c).
 */
#include "metrics.h"

#include <stdint.h>
#include <stdio.h>

#include "ocrq/log.h"
#include "ocrq/prom.h"
#include "ocrq/status.h"
#include "stats.h"

#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)

static const char *const outcome_names[OCRQ_JOB_KINDS] = {
    [OCRQ_JOB_SUCCEEDED] = "succeeded", [OCRQ_JOB_FAILED] = "failed",
    [OCRQ_JOB_RETRIED] = "retried",     [OCRQ_JOB_REQUEUED] = "requeued",
    [OCRQ_JOB_REPEAT] = "repeat",
};

static const char *const reason_names[OCRQ_RESTART_REASONS] = {
    [OCRQ_RESTART_CRASH] = "crash",
    [OCRQ_RESTART_HARD_TIMEOUT] = "hard_timeout",
    [OCRQ_RESTART_RECYCLE] = "recycle",
};

/* One histogram of every slot, summed; which is its offset in a slot. */
static void hist_family(struct ocrq_prom *p, const struct ocrq_stats *s, size_t which,
                        const char *name, const char *help)
{
    uint64_t buckets[OCRQ_HIST_BOUNDS + 1] = {0};
    uint64_t sum_us = 0;
    for (uint32_t k = 0; k < s->n; k++) {
        const struct ocrq_hist *h = (const struct ocrq_hist *)((const char *)&s->slot[k] + which);
        for (int i = 0; i <= OCRQ_HIST_BOUNDS; i++)
            buckets[i] += LOAD(&h->bucket[i]);
        sum_us += LOAD(&h->sum_us);
    }
    struct ocrq_prom_hist ph = {.bounds = ocrq_hist_bounds_s,
                                .n_bounds = OCRQ_HIST_BOUNDS,
                                .buckets = buckets,
                                .sum = (double)sum_us / 1e6};
    ocrq_prom_family(p, name, OCRQ_PROM_HISTOGRAM, help);
    ocrq_prom_histogram(p, NULL, 0, &ph);
}

static void jobs(struct ocrq_prom *p, const struct ocrq_stats *s)
{
    ocrq_prom_family(p, "ocrq_jobs_total", OCRQ_PROM_COUNTER, "Jobs finished, by outcome.");
    for (int kind = 0; kind < OCRQ_JOB_KINDS; kind++) {
        uint64_t total = 0;
        for (uint32_t k = 0; k < s->n; k++)
            total += LOAD(&s->slot[k].jobs[kind]);
        struct ocrq_prom_label l = {"outcome", outcome_names[kind]};
        ocrq_prom_uint(p, &l, 1, total);
    }
}

static void in_flight(struct ocrq_prom *p, const struct ocrq_stats *s)
{
    int64_t running = 0;
    for (uint32_t k = 0; k < s->n; k++)
        if (LOAD(&s->slot[k].job_started_ms) != 0)
            running++;
    ocrq_prom_family(p, "ocrq_jobs_in_flight", OCRQ_PROM_GAUGE, "Jobs being processed now.");
    ocrq_prom_int(p, NULL, 0, running);
}

static void restarts(struct ocrq_prom *p, const struct ocrq_stats *s)
{
    ocrq_prom_family(p, "ocrq_child_restarts_total", OCRQ_PROM_COUNTER,
                     "OCR processes started again, by reason.");
    for (int r = 0; r < OCRQ_RESTART_REASONS; r++) {
        uint64_t total = 0;
        for (uint32_t k = 0; k < s->n; k++)
            total += LOAD(&s->slot[k].restarts[r]);
        struct ocrq_prom_label l = {"reason", reason_names[r]};
        ocrq_prom_uint(p, &l, 1, total);
    }
}

static void reconnects(struct ocrq_prom *p, const struct ocrq_stats *s)
{
    uint64_t mq = 0, db = 0;
    for (uint32_t k = 0; k < s->n; k++) {
        mq += LOAD(&s->slot[k].reconnects_mq);
        db += LOAD(&s->slot[k].reconnects_db);
    }
    ocrq_prom_family(p, "ocrq_reconnects_total", OCRQ_PROM_COUNTER,
                     "Connections made again after an outage, by target.");
    struct ocrq_prom_label l = {"target", "amqp"};
    ocrq_prom_uint(p, &l, 1, mq);
    l.value = "database";
    ocrq_prom_uint(p, &l, 1, db);
}

static void queues(struct ocrq_prom *p, const struct ocrq_metrics_view *v)
{
    ocrq_prom_family(p, "ocrq_queue_ready_messages", OCRQ_PROM_GAUGE,
                     "Messages ready in a job queue, as last queried.");
    for (int i = 0; i < v->n_queues; i++) {
        if (v->queues[i].ready < 0)
            continue;
        struct ocrq_prom_label l = {"queue", v->queues[i].queue};
        ocrq_prom_int(p, &l, 1, v->queues[i].ready);
    }
}

static void rss(struct ocrq_prom *p, const struct ocrq_metrics_view *v)
{
    ocrq_prom_family(p, "ocrq_child_rss_bytes", OCRQ_PROM_GAUGE,
                     "Resident set size of each OCR process.");
    if (!v->child_rss_bytes)
        return;
    for (uint32_t k = 0; k < v->stats->n; k++) {
        if (v->child_rss_bytes[k] < 0)
            continue;
        char child[16];
        snprintf(child, sizeof child, "%u", (unsigned)k);
        struct ocrq_prom_label l = {"child", child};
        ocrq_prom_int(p, &l, 1, v->child_rss_bytes[k]);
    }
}

char *ocrq_worker_metrics_render(const struct ocrq_metrics_view *v, size_t *len)
{
    const struct ocrq_stats *s = v->stats;
    struct ocrq_prom p;
    char *text = NULL;

    *len = 0;
    ocrq_prom_init(&p);
    jobs(&p, s);
    hist_family(&p, s, offsetof(struct ocrq_child_slot, ocr_duration), "ocrq_ocr_duration_seconds",
                "Time to recognize one document.");
    hist_family(&p, s, offsetof(struct ocrq_child_slot, queue_wait), "ocrq_queue_wait_seconds",
                "Time from a job's submission to the start of its processing.");
    in_flight(&p, s);
    ocrq_prom_family(&p, "ocrq_children", OCRQ_PROM_GAUGE, "OCR processes running now.");
    ocrq_prom_int(&p, NULL, 0, v->children_running);
    restarts(&p, s);
    reconnects(&p, s);
    queues(&p, v);
    rss(&p, v);

    int st = ocrq_prom_finish(&p, &text, len);
    if (st != OCRQ_OK)
        log_error(NULL, "metrics: cannot render: %s", ocrq_strerror(st));
    return text;
}
