/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The supervisor's HTTP endpoints, on a thread of their own: /healthz,
 * /readyz (some OCR process is connected to the broker and the database) and
 * /metrics (the shared stats of docs/fleet.md, and the job queues' depths
 * from a broker connection of this thread). They only read the supervisor's
 * state.
 */
#include "supervisor.h"

#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "stats.h"
#include "supervisor_internal.h"
#include "ocrq/clock.h"
#include "ocrq/config.h"
#include "ocrq/http.h"
#include "ocrq/log.h"
#include "ocrq/mq.h"
#include "ocrq/status.h"

#define DEPTH_CACHE_MS 1000 /* queue depths are asked for at most once a second */

static int reply_text(struct ocrq_http_reply *r, int status, const char *text)
{
    r->status = status;
    r->body = strdup(text);
    if (r->body == NULL)
        return OCRQ_ERR_NOMEM;
    r->len = strlen(text);
    return OCRQ_OK;
}

static int on_healthz(void *arg, struct ocrq_http_reply *r)
{
    (void)arg;
    return reply_text(r, 200, "ok\n");
}

static int on_readyz(void *arg, struct ocrq_http_reply *r)
{
    struct sup *s = arg;
    int mq = 0, both = 0;

    for (int k = 0; k < s->n; k++) {
        const struct ocrq_child_slot *slot = &s->stats->slot[k];
        if (__atomic_load_n(&slot->pid, __ATOMIC_RELAXED) <= 0 ||
            !__atomic_load_n(&slot->mq_up, __ATOMIC_RELAXED))
            continue;
        mq = 1;
        if (__atomic_load_n(&slot->db_up, __ATOMIC_RELAXED))
            both = 1;
    }
    if (both)
        return reply_text(r, 200, "ready\n");
    return reply_text(r, 503,
                      mq ? "not ready: the database is unreachable\n"
                         : "not ready: no OCR process is connected to the broker\n");
}

/* Ready messages per job queue, from a broker connection of the HTTP thread. */
static void refresh_depths(struct sup *s)
{
    const char *queues[2] = {s->cfg->queue_jobs, s->cfg->queue_priority};
    long long now = ocrq_now_ms();

    if (now - s->depth_at_ms < DEPTH_CACHE_MS && s->depth_at_ms != 0)
        return;
    s->depth_at_ms = now;
    if (s->mq == NULL && ocrq_mq_connect(s->cfg, "ocrq-worker metrics", &s->mq) != OCRQ_OK)
        s->mq = NULL; /* the first of amqp.urls that answers */
    for (int i = 0; i < 2; i++) {
        unsigned ready = 0, consumers = 0;
        s->depth[i] = -1;
        if (s->mq != NULL && ocrq_mq_queue_info(s->mq, queues[i], &ready, &consumers) == OCRQ_OK)
            s->depth[i] = ready;
    }
    if (s->mq != NULL && s->depth[0] < 0 && s->depth[1] < 0) {
        ocrq_mq_free(s->mq); /* broken, or the queues are gone: a new connection next time */
        s->mq = NULL;
    }
}

static int on_metrics(void *arg, struct ocrq_http_reply *r)
{
    struct sup *s = arg;
    struct ocrq_queue_depth q[2];
    long long *rss = calloc((size_t)s->n, sizeof(long long));

    if (rss == NULL)
        return OCRQ_ERR_NOMEM;
    refresh_depths(s);
    q[0].queue = s->cfg->queue_jobs;
    q[0].ready = s->depth[0];
    q[1].queue = s->cfg->queue_priority;
    q[1].ready = s->depth[1];
    for (int k = 0; k < s->n; k++) {
        int pid = __atomic_load_n(&s->stats->slot[k].pid, __ATOMIC_RELAXED);
        rss[k] = pid > 0 ? ocrq_stats_rss_bytes(pid) : -1;
    }
    struct ocrq_metrics_view v = {
        .stats = s->stats,
        .child_rss_bytes = rss,
        .children_running = __atomic_load_n(&s->running, __ATOMIC_RELAXED),
        .queues = q,
        .n_queues = 2,
    };
    r->body = ocrq_worker_metrics_render(&v, &r->len);
    free(rss);
    if (r->body == NULL)
        return OCRQ_ERR_NOMEM;
    r->content_type = "text/plain; version=0.0.4; charset=utf-8";
    return OCRQ_OK;
}

static const struct ocrq_http_route routes[] = {
    {"GET", "/healthz", on_healthz},
    {"GET", "/readyz", on_readyz},
    {"GET", "/metrics", on_metrics},
};

int ocrq_supervisor_http_start(struct sup *s, struct ocrq_http **http)
{
    const char *at = s->cfg->metrics_listen, *env = getenv("OCRQ_METRICS_LISTEN");
    char why[512];
    int st;

    if (at == NULL)
        return 0;
    st = ocrq_http_start(at, routes, sizeof(routes) / sizeof(routes[0]), s, http, why, sizeof(why));
    if (st == OCRQ_ERR_NOMEM) {
        log_error(NULL, "supervisor: no HTTP endpoints: %s", why);
        return 3;
    }
    if (st != OCRQ_OK) {
        log_error(NULL,
                  "supervisor: %s: %s (is another ocrq-worker running on this host?). "
                  "Give each worker its own address: set worker.metrics_listen to another "
                  "host:port, or to \"\" for no HTTP endpoints; or set "
                  "OCRQ_METRICS_LISTEN=host:port in its environment",
                  env && *env ? "OCRQ_METRICS_LISTEN" : "worker.metrics_listen", why);
        return 2;
    }
    log_info(NULL, "supervisor: /healthz /readyz /metrics on %s", at);
    return 0;
}
