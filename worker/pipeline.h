/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The life of one job inside a worker, top to bottom: decode the message,
 * record the start, load the document, OCR it, commit the outcome. It
 * decides what should happen to the message but never touches the broker:
 * the thread that owns the AMQP connection carries out the verdict.
 */
#ifndef OCRQ_WORKER_PIPELINE_H
#define OCRQ_WORKER_PIPELINE_H

#include <stddef.h>

#include "ocrq/uuid.h"

struct ocrq_config;
struct ocrq_device;
struct ocrq_mq_msg;
struct ocrq_pipeline;

enum ocrq_verdict {
    OCRQ_VERDICT_ACK = 1,    /* outcome committed (or already final): ack */
    OCRQ_VERDICT_DEADLETTER, /* failure committed: copy to the dead-letter exchange, then ack */
    OCRQ_VERDICT_RETRY,      /* transient failure committed: copy to a retry queue, then ack */
    OCRQ_VERDICT_REQUEUE,    /* nothing could be committed (database down): reject, requeue */
};

/* A message to publish (confirmed) before the verdict is carried out: a page task. */
struct ocrq_outcome_pub {
    unsigned char *body; /* malloc'd; freed by ocrq_outcome_cleanup() */
    size_t len;
    int priority; /* the job's: it picks the queue */
};

struct ocrq_outcome {
    enum ocrq_verdict verdict;
    char job_id[OCRQ_UUID_LEN + 1]; /* "" if the message had none */
    char code[32];                  /* error code for DEADLETTER / RETRY */
    char message[512];
    int next_attempt;        /* RETRY: attempt number the retried copy carries */
    int retry_index;         /* RETRY: which of amqp.retry_delays_s */
    int repeat;              /* ACK of a repeat delivery of a finished job */
    int ocr_ms;              /* time in loading and recognizing the document; -1: none */
    long long queue_wait_ms; /* from submitted_at to the start; -1: unknown */
    /* ACK only: page tasks to publish first (a split, a page releasing the next) */
    struct ocrq_outcome_pub *pubs; /* malloc'd */
    int n_pubs;
    /* DEADLETTER: the body of the copy, instead of the message's (a page task's document) */
    unsigned char *dead_body; /* malloc'd; NULL: the message's own */
    size_t dead_len;
};

/* Free what an outcome holds (pubs, dead_body); the struct itself stays. */
void ocrq_outcome_cleanup(struct ocrq_outcome *o);

/*
 * A pipeline for one worker thread: its own database connection (made
 * lazily, so a worker can start while the database is down) and its own
 * engines on dev. cfg is borrowed and must outlive it; worker is copied.
 * Returns OCRQ_OK, OCRQ_ERR_INVALID (no engine for dev) or OCRQ_ERR_NOMEM.
 */
int ocrq_pipeline_new(const struct ocrq_config *cfg, const char *worker,
                      const struct ocrq_device *dev, struct ocrq_pipeline **out);

/* Free; NULL is fine. */
void ocrq_pipeline_free(struct ocrq_pipeline *p);

/* Run one message through the pipeline; *out says what to do with it. Never fails. */
void ocrq_pipeline_run(struct ocrq_pipeline *p, const struct ocrq_mq_msg *msg,
                       struct ocrq_outcome *out);

/* Make sure the database answers, reconnecting if needed. OCRQ_OK or OCRQ_ERR_DB. */
int ocrq_pipeline_db_check(struct ocrq_pipeline *p);

#endif
