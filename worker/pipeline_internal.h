/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Private to the pipeline and the page tasks (pipeline*.c, pages*.c): the
 * pipeline's state and the steps both kinds of message share.
 */
#ifndef OCRQ_WORKER_PIPELINE_INTERNAL_H
#define OCRQ_WORKER_PIPELINE_INTERNAL_H

#include <stddef.h>

#include "document.h"
#include "engine.h"
#include "pipeline.h"

struct ocrq_db;
struct ocrq_db_page;
struct ocrq_doc_cache;
struct ocrq_engines;
struct ocrq_job;
struct ocrq_outputs;

struct ocrq_pipeline {
    const struct ocrq_config *cfg;
    char *worker;
    struct ocrq_db *db;
    struct ocrq_engines *engines;
    enum ocrq_pdf_text pdf_text;
    char options[256];         /* what besides document and language shapes the text (dedupe key) */
    char options_formats[272]; /* the same for a job with output formats */
    struct ocrq_doc_cache *docs; /* stored documents (doc_cache.h) */
};

/* What a document gave: its pages, and their texts joined by form feeds. */
struct doc_result {
    struct ocrq_db_page *pages; /* n of them; each text malloc'd */
    int n;
    int n_ocr;              /* pages the engine recognized */
    char *text;             /* pages joined by '\f', as Tesseract separates pages */
    double mean_confidence; /* over the recognized pages; 100 when none was */
    struct ocrq_artifact arts[OCRQ_MAX_ARTIFACTS]; /* the job's formats beside txt */
    int n_arts;
    int progress_failed; /* a page's progress write failed (logged once) */
};

/* Set the verdict with its code and message (either may be NULL). */
void ocrq_pipeline_verdict(struct ocrq_outcome *out, enum ocrq_verdict v, const char *code,
                           const char *message);

/*
 * Record a permanent failure of out->job_id and dead-letter the message;
 * requeue it instead if the failure cannot be committed. job may be NULL.
 */
void ocrq_pipeline_fail(struct ocrq_pipeline *p, const struct ocrq_job *job,
                        struct ocrq_outcome *out, const char *code, const char *message);

/* ---- pipeline_pages.c: the page loop ---- */

/*
 * Every page of doc, in order, into *r (pages recorded as they are done).
 * Returns OCRQ_OK, or an error with its code in *code and the reason in why.
 */
int ocrq_pipeline_recognize(struct ocrq_pipeline *p, const struct ocrq_job *job,
                            struct ocrq_document *doc, struct doc_result *r, const char **code,
                            char *why, size_t whylen);

/* Free what r holds and clear it. */
void ocrq_pipeline_doc_result_cleanup(struct doc_result *r);

/*
 * One page of doc (the current one, described by page) into pg: its text
 * layer or its OCR, within deadline (a ocrq_now_ms() value; 0: none),
 * added to outputs (NULL: none). Returns OCRQ_OK or an error with *code and why.
 */
int ocrq_pipeline_page(struct ocrq_pipeline *p, const struct ocrq_job *job,
                       struct ocrq_document *doc, const struct ocrq_doc_page *page,
                       long long deadline, struct ocrq_outputs *outputs, struct ocrq_db_page *pg,
                       const char **code, char *why, size_t whylen);

/*
 * Send the message back through the delay queues for another try: the
 * verdict RETRY with code and message, as attempt number attempt failed.
 * Records nothing (the caller has).
 */
void ocrq_pipeline_retry_later(const struct ocrq_pipeline *p, struct ocrq_outcome *out, int attempt,
                               const char *code, const char *message);

/* ---- pipeline_dedupe.c ---- */

/*
 * dedupe.enabled: commit the result of a recent identical job (same sha,
 * language and options) as job's. Returns 1 if *out holds the verdict, 0 to
 * go on and recognize the document.
 */
int ocrq_pipeline_take_copy(struct ocrq_pipeline *p, const struct ocrq_job *job, const char *sha,
                            struct ocrq_outcome *out);

/* ---- pipeline.c ---- */

/* When the soft time limit of work starting now runs out (worker.job_timeout_s); 0: none. */
long long ocrq_pipeline_deadline(const struct ocrq_pipeline *p);

/* The deduplication key besides document and language for job. */
const char *ocrq_pipeline_options(const struct ocrq_pipeline *p, const struct ocrq_job *job);

/* The document limits of the configuration. */
struct ocrq_doc_limits ocrq_pipeline_limits(const struct ocrq_pipeline *p);

#endif
