/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The pipeline thread and its mailbox. The main thread hands it one task at
 * a time and learns of completion through an eventfd it can poll(2) beside
 * the AMQP socket, so the connection keeps being serviced during OCR.
 */
#ifndef OCRQ_WORKER_LANE_H
#define OCRQ_WORKER_LANE_H

#include "pipeline.h"

struct ocrq_lane;
struct ocrq_mq_msg;

/* Start the thread; it owns p from now on and frees it in ocrq_lane_free(). */
int ocrq_lane_new(struct ocrq_pipeline *p, struct ocrq_lane **out);

/* Stop the thread (after its current task) and free everything; NULL is fine. */
void ocrq_lane_free(struct ocrq_lane *lane);

/* Hand over one job; msg is borrowed until the task is done. */
void ocrq_lane_start_job(struct ocrq_lane *lane, const struct ocrq_mq_msg *msg);

/* Hand over a database check (ocrq_pipeline_db_check). */
void ocrq_lane_start_db_check(struct ocrq_lane *lane);

/* The eventfd that becomes readable when the task is done. */
int ocrq_lane_fd(const struct ocrq_lane *lane);

/*
 * Collect a finished task: its outcome (jobs) or status (database checks).
 * Call once the fd was readable. Returns 1 if the task was done, else 0.
 */
int ocrq_lane_collect(struct ocrq_lane *lane, struct ocrq_outcome *outcome, int *db_status);

#endif
