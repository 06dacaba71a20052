/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * ocrq-admin workers: the fleet as the supervisors record it in the fleet
 * registry (ocr_workers, ocr_worker_processes; ocrq/db_fleet.h,
 * docs/fleet.md): each worker with its host, pid, version, start and last
 * heartbeat (stale when older than 30 s, or stopped), and its OCR
 * processes: state, current job and for how long, jobs done. A block per
 * worker, or one JSON object per worker with --json.
 */
#include "admin.h"

#include <stdio.h>

#include "ocrq/config.h"
#include "ocrq/db.h"
#include "ocrq/db_fleet.h"
#include "ocrq/json.h"
#include "ocrq/status.h"

struct listing {
    int json;
    int shown;
};

/* "up", "stale" or "stopped". */
static const char *worker_state(const struct ocrq_db_fleet_worker *w)
{
    return w->stopped_at ? "stopped" : w->stale ? "stale" : "up";
}

/* A duration for people: "4 s", "12 min", "3 h", "2 d". */
static const char *human_s(double s, char *buf, size_t len)
{
    if (s < 0)
        s = 0;
    if (s < 10)
        snprintf(buf, len, "%.1f s", s);
    else if (s < 120)
        snprintf(buf, len, "%.0f s", s);
    else if (s < 7200)
        snprintf(buf, len, "%.0f min", s / 60);
    else if (s < 172800)
        snprintf(buf, len, "%.0f h", s / 3600);
    else
        snprintf(buf, len, "%.0f d", s / 86400);
    return buf;
}

/* To the tenth of a second: it is for people. */
static double tenths(double s)
{
    return (double)(long long)(s * 10 + 0.5) / 10;
}

static void print_json(const struct ocrq_db_fleet_worker *w)
{
    struct ocrq_json *o = ocrq_json_object(), *slots = ocrq_json_array();
    int bad = !o || !slots;

    bad |= ocrq_json_set_str(o, "name", w->name);
    bad |= ocrq_json_set_str(o, "host", w->host);
    bad |= ocrq_json_set_int(o, "pid", w->pid);
    bad |= ocrq_json_set_int(o, "processes", w->processes);
    bad |= ocrq_json_set_str(o, "version", w->version);
    bad |= ocrq_json_set_str(o, "state", worker_state(w));
    bad |= ocrq_json_set_str(o, "started_at", w->started_at);
    bad |= ocrq_json_set_str(o, "heartbeat_at", w->heartbeat_at);
    bad |= ocrq_json_set_real(o, "heartbeat_age_s", tenths(w->heartbeat_age_s));
    bad |= ocrq_json_set_bool(o, "stale", w->stale);
    bad |= ocrq_json_set_str(o, "stopped_at", w->stopped_at); /* NULL: null */
    for (int i = 0; i < w->n_procs && !bad; i++) {
        const struct ocrq_db_fleet_proc *p = &w->procs[i];
        struct ocrq_json *s = ocrq_json_object();

        bad |= ocrq_json_set_int(s, "slot", p->slot);
        bad |= p->pid > 0 ? ocrq_json_set_int(s, "pid", p->pid) : ocrq_json_set_null(s, "pid");
        bad |= ocrq_json_set_str(s, "state", p->state);
        bad |= ocrq_json_set_str(s, "job_id", p->job_id);
        bad |= p->job_id ? ocrq_json_set_real(s, "job_s", tenths(p->job_ms / 1000.0))
                         : ocrq_json_set_null(s, "job_s");
        bad |= ocrq_json_set_int(s, "jobs_done", p->jobs_done);
        bad |= ocrq_json_set_str(s, "updated_at", p->updated_at);
        bad |= ocrq_json_append(slots, s);
    }
    bad |= ocrq_json_set(o, "slots", slots);
    admin_json_print(o, bad);
}

static void print_text(const struct ocrq_db_fleet_worker *w)
{
    char ago[32], took[32];

    printf("%s on %s (pid %d), %d OCR process%s, ocrq %s: %s\n", w->name, w->host, w->pid,
           w->processes, w->processes == 1 ? "" : "es", w->version, worker_state(w));
    printf("  started %s, last heartbeat %s (%s ago)", w->started_at, w->heartbeat_at,
           human_s(w->heartbeat_age_s, ago, sizeof(ago)));
    if (w->stopped_at)
        printf(", stopped %s", w->stopped_at);
    printf("\n");
    if (w->n_procs == 0)
        return;
    printf("  %-5s %-8s %-9s %9s  %s\n", "SLOT", "PID", "STATE", "JOBS DONE", "CURRENT JOB");
    for (int i = 0; i < w->n_procs; i++) {
        const struct ocrq_db_fleet_proc *p = &w->procs[i];
        char pid[16];

        snprintf(pid, sizeof(pid), "%d", p->pid);
        printf("  %-5d %-8s %-9s %9lld  ", p->slot, p->pid > 0 ? pid : "-", p->state, p->jobs_done);
        if (p->job_id)
            printf("%s (for %s)\n", p->job_id, human_s(p->job_ms / 1000.0, took, sizeof(took)));
        else
            printf("-\n");
    }
}

static void print_worker(void *arg, const struct ocrq_db_fleet_worker *w)
{
    struct listing *l = arg;

    if (l->json) {
        print_json(w);
    } else {
        if (l->shown)
            printf("\n");
        print_text(w);
    }
    l->shown++;
}

int admin_workers(const struct ocrq_config *cfg, int json, int all)
{
    struct listing l = {.json = json};
    struct ocrq_db *db = NULL;
    int st = admin_db_open(cfg, OCRQ_DB_FLEET_SCHEMA, "fleet registry", &db);

    if (st == OCRQ_OK)
        st = ocrq_db_fleet_list(db, all, print_worker, &l);
    if (st == OCRQ_OK && l.shown == 0 && !json)
        printf(all ? "no worker has recorded itself\n"
                   : "no worker running (ocrq-admin workers --all shows the stopped and the "
                     "long silent ones)\n");
    ocrq_db_free(db);
    if (st == OCRQ_ERR_NOMEM)
        admin_report("workers", st);
    return st == OCRQ_OK || st == OCRQ_ERR_NOMEM ? st : OCRQ_ERR_DB;
}
