/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The supervisor's entry in the fleet registry (registry.h, docs/fleet.md):
 * a thread with its own database connection that writes the supervisor's
 * ocr_workers row and its processes' rows (ocrq_db_fleet_beat()) at once,
 * then every OCRQ_FLEET_BEAT_S seconds, and a last time, stopped, when the
 * supervisor stops. What each process does comes from the shared stats
 * slots (stats.h), read the way the hard time limit reads them. A thread,
 * not the supervisor's loop, so that a database that is slow or away never
 * delays restarts, the hard time limit or a stop: a failed beat is logged
 * once and tried again on the next beat, then less often (at most a minute
 * apart) while the database stays away.
 */
#include "registry.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stats.h"
#include "stopper.h"
#include "ocrq/clock.h"
#include "ocrq/config.h"
#include "ocrq/db.h"
#include "ocrq/db_fleet.h"
#include "ocrq/log.h"
#include "ocrq/status.h"

#define BEAT_MS (OCRQ_FLEET_BEAT_S * 1000LL)
#define RETRY_MAX_MS 60000LL /* the longest wait between tries while the database is away */
#define LAST_BEAT_MS 2000    /* the stopped beat waits on the database no longer than this */

struct ocrq_registry {
    const struct ocrq_config *cfg;
    const struct ocrq_stats *stats;
    int n;
    char name[300], host[256];
    int pid;
    long long started_ms;
    struct ocrq_db *db; /* the thread's own; NULL until it first connects */
    struct ocrq_db_fleet_proc *procs;
    char (*jobs)[OCRQ_UUID_LEN + 1]; /* the job id of each process, for procs */
    int schema_ok;                   /* the schema has the registry's tables */
    int failing;                     /* the last beat failed (and was logged) */
    pthread_t thread;
    struct ocrq_stopper stop; /* set by ocrq_registry_free() */
};

/* Process k as its slot shows it now; stopped: the supervisor's last beat. */
static void read_slot(struct ocrq_registry *r, int k, long long now, int stopped)
{
    const struct ocrq_child_slot *slot = &r->stats->slot[k];
    struct ocrq_db_fleet_proc *p = &r->procs[k];
    int pid = __atomic_load_n(&slot->pid, __ATOMIC_RELAXED);
    long long t0 = __atomic_load_n(&slot->job_started_ms, __ATOMIC_ACQUIRE);

    *p = (struct ocrq_db_fleet_proc){
        .slot = k,
        .pid = stopped ? 0 : pid,
        .jobs_done =
            (long long)(__atomic_load_n(&slot->jobs[OCRQ_JOB_SUCCEEDED], __ATOMIC_RELAXED) +
                        __atomic_load_n(&slot->jobs[OCRQ_JOB_FAILED], __ATOMIC_RELAXED)),
    };
    if (p->pid <= 0) {
        p->state = "stopped";
        return;
    }
    if (t0 != 0) {
        /* the job id is trusted only if the job did not change while it was copied */
        memcpy(r->jobs[k], slot->job_id, sizeof(r->jobs[k]));
        r->jobs[k][OCRQ_UUID_LEN] = '\0';
        if (__atomic_load_n(&slot->job_started_ms, __ATOMIC_ACQUIRE) == t0) {
            p->state = "busy";
            p->job_id = r->jobs[k];
            p->job_ms = now - t0;
            return;
        }
    }
    p->state = __atomic_load_n(&slot->mq_up, __ATOMIC_RELAXED) ? "idle" : "starting";
}

/*
 * A connection that works, made or mended; at the last beat (stopped) only
 * the one there is, and a short wait on it.
 */
static int connected(struct ocrq_registry *r, int stopped, const char **why)
{
    int version = 0, st;

    *why = "the database cannot be reached";
    if (r->db == NULL)
        st = stopped ? OCRQ_ERR_DB : ocrq_db_connect(r->cfg, &r->db);
    else if (ocrq_db_alive(r->db))
        st = OCRQ_OK;
    else
        st = stopped ? OCRQ_ERR_DB : ocrq_db_reconnect(r->db);
    if (st != OCRQ_OK)
        return st;
    /* a beat never waits past the next one */
    ocrq_db_set_timeout(r->db, stopped ? LAST_BEAT_MS : (int)BEAT_MS);
    if (r->schema_ok)
        return OCRQ_OK;
    st = ocrq_db_schema_version(r->db, &version);
    if (st == OCRQ_OK && version < OCRQ_DB_FLEET_SCHEMA) {
        *why = "the database schema has no fleet registry yet (run ocrq-admin setup)";
        st = OCRQ_ERR_DB;
    }
    r->schema_ok = st == OCRQ_OK;
    return st;
}

/* One beat; stopped: the last one, over the connection there is, quickly. */
static int beat(struct ocrq_registry *r, int stopped)
{
    const char *why;
    long long now = ocrq_now_ms();
    int st = connected(r, stopped, &why);

    if (st == OCRQ_OK) {
        for (int k = 0; k < r->n; k++)
            read_slot(r, k, now, stopped);
        struct ocrq_db_fleet_beat b = {
            .name = r->name,
            .host = r->host,
            .version = OCRQ_VERSION,
            .pid = r->pid,
            .up_ms = now - r->started_ms,
            .stopped = stopped,
            .procs = r->procs,
            .n_procs = r->n,
        };
        why = "the beat failed";
        st = ocrq_db_fleet_beat(r->db, &b);
    }
    if (st != OCRQ_OK && !r->failing && !stopped)
        log_warn(NULL,
                 "registry: cannot record worker %s in the fleet registry: %s; trying again "
                 "on the next beat, then at most every %lld s",
                 r->name, why, RETRY_MAX_MS / 1000);
    else if (st == OCRQ_OK && r->failing)
        log_info(NULL, "registry: worker %s is recorded in the fleet registry again", r->name);
    if (!stopped)
        r->failing = st != OCRQ_OK;
    return st;
}

static void *run(void *arg)
{
    struct ocrq_registry *r = arg;
    long long wait = 0, retry = BEAT_MS;

    while (!ocrq_stopper_wait_ms(&r->stop, wait)) {
        if (beat(r, 0) == OCRQ_OK) {
            wait = retry = BEAT_MS;
        } else {
            wait = retry;
            retry = retry * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : retry * 2;
        }
    }
    if (beat(r, 1) == OCRQ_OK)
        log_info(NULL, "registry: worker %s recorded as stopped", r->name);
    return NULL;
}

int ocrq_registry_new(const struct ocrq_config *cfg, const char *name,
                      const struct ocrq_stats *stats, int n, struct ocrq_registry **out)
{
    struct ocrq_registry *r;

    *out = NULL;
    if (!(r = calloc(1, sizeof(*r))) || !(r->procs = calloc((size_t)n, sizeof(*r->procs))) ||
        !(r->jobs = calloc((size_t)n, sizeof(*r->jobs)))) {
        if (r)
            free(r->procs);
        free(r);
        return OCRQ_ERR_NOMEM;
    }
    r->cfg = cfg;
    r->stats = stats;
    r->n = n;
    r->pid = (int)getpid();
    r->started_ms = ocrq_now_ms();
    if (gethostname(r->host, sizeof(r->host)) != 0)
        snprintf(r->host, sizeof(r->host), "localhost");
    r->host[sizeof(r->host) - 1] = '\0';
    if (name)
        snprintf(r->name, sizeof(r->name), "%s", name);
    else
        snprintf(r->name, sizeof(r->name), "%s:%d", r->host, r->pid);
    ocrq_stopper_init(&r->stop);
    if (pthread_create(&r->thread, NULL, run, r) != 0) {
        ocrq_stopper_destroy(&r->stop);
        free(r->jobs);
        free(r->procs);
        free(r);
        return OCRQ_ERR_IO;
    }
    *out = r;
    return OCRQ_OK;
}

void ocrq_registry_free(struct ocrq_registry *r)
{
    if (r == NULL)
        return;
    ocrq_stopper_stop(&r->stop);
    pthread_join(r->thread, NULL);
    ocrq_db_free(r->db);
    ocrq_stopper_destroy(&r->stop);
    free(r->jobs);
    free(r->procs);
    free(r);
}
