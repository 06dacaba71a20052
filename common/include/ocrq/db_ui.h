/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The dashboard's reads (ocrq-api's /ui/api/ routes, producer/api_ui.c): each
 * answer is one JSON document that PostgreSQL builds (json_build_object),
 * returned as a malloc'd string for the caller to free(). Fleet-wide: no
 * API key filter (the dashboard needs an admin key).
 */
#ifndef OCRQ_DB_UI_H
#define OCRQ_DB_UI_H

struct ocrq_db;

/*
 * GET /ui/api/overview: queues (ready messages: normal, priority, retry,
 * failed, as given in depth[]), jobs (count per status), jobs_per_minute
 * (the last 60 minutes by finished_at: succeeded, failed, canceled),
 * ocr_ms (p50, p90, p99, n of the last hour's results) and webhooks
 * (pending, failed). OCRQ_OK or OCRQ_ERR_DB.
 */
int ocrq_db_ui_overview(struct ocrq_db *db, const unsigned depth[4], char **json);

/* What GET /ui/api/jobs filters on; NULL: no filter. Timestamps RFC 3339. */
struct ocrq_db_ui_filter {
    const char *status, *batch, *code, *since, *until;
    int page;     /* 1, 2, ... */
    int per_page; /* 1-200 */
};

/* {"jobs": [...], "page", "per_page", "total"}, newest first. OCRQ_OK or OCRQ_ERR_DB. */
int ocrq_db_ui_jobs(struct ocrq_db *db, const struct ocrq_db_ui_filter *f, char **json);

/*
 * GET /ui/api/jobs/{id}: {"job", "timeline", "pages", "webhooks", "text"}. id must be a
 * UUID. OCRQ_OK, OCRQ_ERR_NOT_FOUND or OCRQ_ERR_DB.
 */
int ocrq_db_ui_job(struct ocrq_db *db, const char *id, char **json);

/*
 * GET /ui/api/workers: {"workers": [...]}, the fleet registry's running
 * workers by name (ocrq/db_fleet.h; stopped ones and those silent for over
 * OCRQ_FLEET_HIDE_S left out, as ocrq-admin workers without --all): name,
 * host, pid, processes, version, started_at, heartbeat_at, stopped_at,
 * heartbeat_age_s (by the database's clock), stale (silent for over
 * OCRQ_FLEET_STALE_S) and slots [{slot, pid, state, job_id, job_started_at,
 * jobs_done}] by slot. OCRQ_OK or OCRQ_ERR_DB.
 */
int ocrq_db_ui_workers(struct ocrq_db *db, char **json);

/*
 * *active = 1 if key name is still an admin key and not revoked: a
 * dashboard session asks on every request. OCRQ_OK or OCRQ_ERR_DB.
 */
int ocrq_db_ui_admin_active(struct ocrq_db *db, const char *name, int *active);

#endif
