/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * --wait and --output: follow the submitted jobs in PostgreSQL until each is
 * finished, writing result files and --json lines as they finish.
 */
#ifndef OCRQ_PRODUCER_WAIT_H
#define OCRQ_PRODUCER_WAIT_H

#include <stddef.h>

#define WAIT_POLL_IDS_MAX 5000 /* job ids per poll query */

struct ocrq_db;
struct submit_run;

/*
 * Create dir and its missing parents (mkdir -p). Returns OCRQ_OK, or
 * OCRQ_ERR_IO with errno set (the path component that failed is not named).
 */
int wait_make_dir(const char *dir);

/*
 * Poll db every cfg->wait_poll_ms over the items still queued (ITEM_QUEUED)
 * until none is left or opts->timeout_s (counted from this call) expires.
 * Each job that finishes is marked ITEM_SUCCEEDED or ITEM_FAILED; with
 * --output its text goes to <dir>/<name>.txt and each artifact of --format
 * to <dir>/<name>.<ext>, read back from ocr_artifacts (a failure is reported
 * on stderr and fails the input), with --json its line goes to stdout. Updates res->succeeded,
 * failed and pending, and res->timed_out. Returns OCRQ_OK or OCRQ_ERR_DB.
 */
int wait_run(struct submit_run *run, struct ocrq_db *db);

#endif
