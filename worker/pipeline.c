/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * One job, top to bottom: decode, start, load, take a recent identical
 * result (dedupe, pipeline_dedupe.c) or OCR each page (the page loop,
 * pipeline_pages.c), commit. Every exit produces exactly one verdict for the
 * message, and a verdict that lets the message go (ack) is only given after
 * the outcome is committed.
 *
 * Committing an outcome also writes its webhook event: the statement of
 * common/db.c that records a job's success or failure inserts the event
 * into ocr_webhook_deliveries (HOOK_INSERT) when the job has a webhook URL,
 * so the event commits with the outcome or not at all; a row trigger on that
 * table NOTIFYs the webhook dispatcher (webhooks.c), which sends it. Nothing
 * here sends a webhook.
 */
#include "pipeline.h"
#include "pipeline_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "doc_cache.h"
#include "document.h"
#include "engine.h"
#include "fetch.h"
#include "pages.h"
#include "ocrq/clock.h"
#include "ocrq/config.h"
#include "ocrq/db.h"
#include "ocrq/db_jobs.h"
#include "ocrq/formats.h"
#include "ocrq/job.h"
#include "ocrq/log.h"
#include "ocrq/mq.h"
#include "ocrq/sign.h"
#include "ocrq/status.h"
#include "ocrq/timestamp.h"

/*
 * An image this small (about a tenth of a page, 50 ms of OCR or less) has
 * no start of its own on its first attempt (ocrq_pipeline_run).
 */
#define SMALL_MAX_PIXELS 1000000LL
#define SMALL_MAX_BYTES (4u << 20)

/* A document's bytes: borrowed from the message (inline) or owned (fetched). */
struct doc {
    const unsigned char *data;
    size_t len;
    unsigned char *owned;
};

int ocrq_pipeline_new(const struct ocrq_config *cfg, const char *worker,
                      const struct ocrq_device *dev, struct ocrq_pipeline **out)
{
    struct ocrq_pipeline *p;
    int st;

    *out = NULL;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return OCRQ_ERR_NOMEM;
    p->cfg = cfg;
    if (ocrq_pdf_text_parse(cfg->pdf_text, &p->pdf_text) != OCRQ_OK)
        p->pdf_text = OCRQ_PDF_TEXT_SKIP; /* config.c checked it */
    p->worker = strdup(worker);
    if (p->worker == NULL) {
        free(p);
        return OCRQ_ERR_NOMEM;
    }
    st = ocrq_doc_cache_new(2, &p->docs);
    if (st == OCRQ_OK)
        st = ocrq_engines_new(&ocrq_tesseract_engine, dev, cfg->tessdata_dir, cfg->engine_cache,
                              &p->engines);
    if (st == OCRQ_OK && cfg->auto_rotate) {
        char why[512];
        st = ocrq_engines_check_lang(p->engines, OCRQ_OSD_LANG, why, sizeof(why));
        if (st != OCRQ_OK)
            log_error(NULL,
                      "ocr.auto_rotate needs the orientation model (package "
                      "tesseract-ocr-osd): %s",
                      why);
    }
    if (st != OCRQ_OK) {
        ocrq_pipeline_free(p);
        return st;
    }
    /*
     * Every worker option that changes the text of a document goes here, so
     * that deduplication never hands out a result made otherwise. Options a
     * job carries itself belong in the key too (ocrq_pipeline_options()): asking for
     * output formats OCRs every page, text layer or not (docs/results.md).
     */
    snprintf(p->options, sizeof(p->options), "pdf_text=%s;pdf_dpi=%d;auto_rotate=%d;deskew=%d;%s",
             cfg->pdf_text, cfg->pdf_dpi, cfg->auto_rotate, cfg->deskew,
             ocrq_engines_version(p->engines));
    snprintf(p->options_formats, sizeof(p->options_formats), "%s;formats", p->options);
    *out = p;
    return OCRQ_OK;
}

void ocrq_pipeline_free(struct ocrq_pipeline *p)
{
    if (p == NULL)
        return;
    ocrq_engines_free(p->engines);
    ocrq_doc_cache_free(p->docs);
    ocrq_db_free(p->db);
    free(p->worker);
    free(p);
}

int ocrq_pipeline_db_check(struct ocrq_pipeline *p)
{
    if (p->db == NULL)
        return ocrq_db_connect(p->cfg, &p->db);
    if (ocrq_db_alive(p->db))
        return OCRQ_OK;
    return ocrq_db_reconnect(p->db);
}

/* Milliseconds from the job's submitted_at to now, by the wall clock; -1 if unknown. */
static long long queue_wait_ms(const struct ocrq_job *job)
{
    struct timespec ts;
    long long at;

    if (ocrq_timestamp_parse_ms(job->submitted_at, &at) != OCRQ_OK)
        return -1;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long wait = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - at;
    return wait < 0 ? 0 : wait; /* clocks of other machines may run ahead */
}

void ocrq_pipeline_verdict(struct ocrq_outcome *out, enum ocrq_verdict v, const char *code,
                           const char *message)
{
    out->verdict = v;
    snprintf(out->code, sizeof(out->code), "%s", code ? code : "");
    snprintf(out->message, sizeof(out->message), "%s", message ? message : "");
}

/*
 * Record a permanent failure and dead-letter the message. If the failure
 * cannot be committed the message goes back to the queue instead: it must
 * not disappear without a record.
 */
void ocrq_pipeline_fail(struct ocrq_pipeline *p, const struct ocrq_job *job,
                        struct ocrq_outcome *out, const char *code, const char *message)
{
    log_warn(out->job_id[0] ? out->job_id : NULL, "failed: %s: %s", code, message);
    if (out->job_id[0] != '\0' &&
        ocrq_db_job_fail(p->db, out->job_id, job, p->worker, code, message) != OCRQ_OK) {
        ocrq_pipeline_verdict(out, OCRQ_VERDICT_REQUEUE, "database",
                              "could not record the failure");
        return;
    }
    ocrq_pipeline_verdict(out, OCRQ_VERDICT_DEADLETTER, code, message);
}

/* A transient failure: retry through the delay queues, or give up after max_attempts. */
static void retry_job(struct ocrq_pipeline *p, const struct ocrq_job *job, int attempt,
                      struct ocrq_outcome *out, const char *code, const char *message)
{
    if (attempt >= p->cfg->max_attempts) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s (gave up after %d attempts)", message, attempt);
        ocrq_pipeline_fail(p, job, out, code, msg);
        return;
    }
    log_warn(out->job_id, "attempt %d failed, will retry: %s: %s", attempt, code, message);
    if (ocrq_db_job_retry(p->db, out->job_id, code, message) != OCRQ_OK) {
        ocrq_pipeline_verdict(out, OCRQ_VERDICT_REQUEUE, "database", "could not record the retry");
        return;
    }
    ocrq_pipeline_retry_later(p, out, attempt, code, message);
}

void ocrq_pipeline_retry_later(const struct ocrq_pipeline *p, struct ocrq_outcome *out, int attempt,
                               const char *code, const char *message)
{
    ocrq_pipeline_verdict(out, OCRQ_VERDICT_RETRY, code, message);
    out->next_attempt = attempt + 1;
    out->retry_index =
        attempt - 1 < p->cfg->n_retry_delays ? attempt - 1 : p->cfg->n_retry_delays - 1;
}

long long ocrq_pipeline_deadline(const struct ocrq_pipeline *p)
{
    return p->cfg->job_timeout_s > 0 ? ocrq_now_ms() + p->cfg->job_timeout_s * 1000LL : 0;
}

/* Get the document's bytes, whichever way it travels. */
static int load_document(struct ocrq_pipeline *p, const struct ocrq_job *job, struct doc *doc,
                         const char **code, char *why, size_t whylen)
{
    int st = OCRQ_OK;

    memset(doc, 0, sizeof(*doc));
    switch (job->doc_kind) {
    case OCRQ_DOC_INLINE:
        doc->data = job->doc_data;
        doc->len = job->doc_len;
        break;
    case OCRQ_DOC_URL:
        st = ocrq_fetch_url(p->cfg, job->doc_ref, &doc->owned, &doc->len, why, whylen);
        doc->data = doc->owned;
        break;
    case OCRQ_DOC_PATH:
        st = ocrq_fetch_path(p->cfg, job->doc_ref, &doc->owned, &doc->len, why, whylen);
        doc->data = doc->owned;
        break;
    case OCRQ_DOC_STORED: /* borrowed from the cache until its next use */
        st = ocrq_doc_cache_get(p->docs, p->db, job->doc_ref, &doc->data, &doc->len, code, why,
                                whylen);
        break;
    }
    return st;
}

static int is_transient(int st)
{
    return st == OCRQ_ERR_FETCH || st == OCRQ_ERR_IO;
}

struct ocrq_doc_limits ocrq_pipeline_limits(const struct ocrq_pipeline *p)
{
    const struct ocrq_doc_limits lim = {
        .max_pixels = p->cfg->max_pixels,
        .max_pages = p->cfg->max_pages,
        .dpi = p->cfg->pdf_dpi,
    };
    return lim;
}

/*
 * The first half of the document part of a job, which touches no database:
 * check the language and load the bytes into *doc (the caller frees
 * doc->owned). Returns OCRQ_OK, or an error with its code in *code and the
 * reason in why.
 */
static int prepare(struct ocrq_pipeline *p, const struct ocrq_job *job, struct doc *doc,
                   const char **code, char *why, size_t whylen)
{
    int st;

    *code = NULL;
    memset(doc, 0, sizeof(*doc));
    if (!ocrq_lang_valid(job->language) ||
        ocrq_engines_check_lang(p->engines, job->language, why, whylen) != OCRQ_OK) {
        st = OCRQ_ERR_LANG;
        goto out;
    }
    st = load_document(p, job, doc, code, why, whylen);
    if (st == OCRQ_OK && doc->len == 0) {
        snprintf(why, whylen, "the document is empty (0 bytes)");
        *code = "empty";
        st = OCRQ_ERR_DECODE;
    }
out:
    if (st != OCRQ_OK && *code == NULL)
        *code = ocrq_error_code(st);
    return st;
}

/* The ocr_artifacts row of art: its bytes, or why it was not kept (logged). */
static void artifact_row(const struct ocrq_pipeline *p, const struct ocrq_job *job,
                         const struct ocrq_artifact *art, struct ocrq_db_artifact *row, char *err,
                         size_t errlen)
{
    row->format = ocrq_format_name(art->format);
    row->data = art->data;
    row->len = art->len;
    row->error = NULL;
    row->blob_id = NULL;
    if (art->data == NULL) {
        snprintf(err, errlen, "%zu bytes, over artifacts.max_bytes = %lld", art->len,
                 p->cfg->artifacts_max_bytes);
        row->error = err;
        log_warn(job->job_id, "%s not stored: %s", row->format, err);
    }
}

/*
 * Collect the reply of the start record; *attempt gets this delivery's
 * attempt number (see docs/design.md). Returns 1 if the job should go on;
 * 0 if *out already holds the verdict (database down, repeat delivery of a
 * finished job, a canceled job, too many attempts).
 */
static int started(struct ocrq_pipeline *p, const struct ocrq_job *job,
                   const struct ocrq_mq_msg *msg, int *attempt, struct ocrq_outcome *out)
{
    struct ocrq_db_start start;
    char why[256];

    if (ocrq_db_job_start_recv(p->db, job->job_id, &start) != OCRQ_OK) {
        if (ocrq_db_alive(p->db)) {
            /* the database is up but refused this job's fields (e.g. \u0000 in metadata) */
            ocrq_pipeline_fail(p, NULL, out, ocrq_error_code(OCRQ_ERR_BAD_JOB),
                               "the database refused the job's fields");
            return 0;
        }
        ocrq_pipeline_verdict(out, OCRQ_VERDICT_REQUEUE, "database", "could not record the start");
        return 0;
    }
    if (strcmp(start.status, "canceled") == 0) {
        log_info(job->job_id, "canceled: acknowledging without OCR");
        ocrq_pipeline_verdict(out, OCRQ_VERDICT_ACK, NULL, NULL);
        out->repeat = 1;
        out->ocr_ms = -1; /* the document may have been loaded, but not recognized */
        return 0;
    }
    if (strcmp(start.status, "running") != 0) {
        log_info(job->job_id, "already %s: acknowledging the repeat delivery", start.status);
        ocrq_pipeline_verdict(out, OCRQ_VERDICT_ACK, NULL, NULL);
        out->repeat = 1;
        out->ocr_ms = -1;
        return 0;
    }
    *attempt = start.attempts > msg->attempt ? start.attempts : msg->attempt;
    if (*attempt > p->cfg->max_attempts) {
        snprintf(why, sizeof(why), "delivered %d times, more than worker.max_attempts = %d",
                 *attempt, p->cfg->max_attempts);
        ocrq_pipeline_fail(p, job, out, "attempts", why);
        return 0;
    }
    return 1;
}

/* The deduplication key besides document and language: the worker's options (see _new). */
const char *ocrq_pipeline_options(const struct ocrq_pipeline *p, const struct ocrq_job *job)
{
    return job->formats ? p->options_formats : p->options;
}

/*
 * Whether the document is one small image (step 2 of ocrq_pipeline_run).
 * If so *opened holds it, opened.
 */
static int small_image(struct ocrq_pipeline *p, const struct doc *doc,
                       struct ocrq_document **opened)
{
    const struct ocrq_doc_limits lim = ocrq_pipeline_limits(p);
    const char *code;
    char why[64];

    if (doc->len > SMALL_MAX_BYTES ||
        ocrq_document_open(doc->data, doc->len, &lim, opened, &code, why, sizeof(why)) != OCRQ_OK)
        return 0;
    if (ocrq_document_page_count(*opened) == 1 &&
        ocrq_document_first_pixels(*opened) <= SMALL_MAX_PIXELS)
        return 1;
    ocrq_document_free(*opened);
    *opened = NULL;
    return 0;
}

void ocrq_pipeline_run(struct ocrq_pipeline *p, const struct ocrq_mq_msg *msg,
                       struct ocrq_outcome *out)
{
    char sha[65] = "";
    struct ocrq_job *job = NULL;
    struct doc_result rec = {0};
    struct doc doc = {0};
    struct ocrq_document *opened = NULL;
    const char *code = NULL;
    char why[512] = "";
    int overlap, may_fuse, fused = 0, st, attempt = 0;
    long long t0;

    memset(out, 0, sizeof(*out));
    out->ocr_ms = -1;
    out->queue_wait_ms = -1;
    if (ocrq_pipeline_db_check(p) != OCRQ_OK) {
        ocrq_pipeline_verdict(out, OCRQ_VERDICT_REQUEUE, "database", "database unreachable");
        return;
    }

    /* 1. Decode. A message we cannot read is failed under the id it carries, if any. */
    st = ocrq_job_decode(msg->body, msg->len, (size_t)p->cfg->inline_max_bytes, &job, out->job_id,
                         why, sizeof(why));
    if (st != OCRQ_OK) {
        if (out->job_id[0] == '\0' && ocrq_uuid_valid(msg->message_id)) {
            memcpy(out->job_id, msg->message_id, OCRQ_UUID_LEN);
            out->job_id[OCRQ_UUID_LEN] = '\0';
        }
        ocrq_pipeline_fail(p, NULL, out, ocrq_error_code(st), why);
        return;
    }
    memcpy(out->job_id, job->job_id, sizeof(out->job_id));
    out->queue_wait_ms = queue_wait_ms(job);
    if (job->page_no > 0) { /* one page of a split document: pages.c */
        ocrq_pages_task(p, job, out);
        goto out;
    }

    /*
     * 2. Start: running, attempts + 1; a final row means a repeat delivery
     * (or a canceled job). On a first delivery the start's round trip and
     * commit overlap loading the document: the server records it at once, so
     * a crash still counts the attempt. Its reply is read before any OCR, so
     * a canceled job is never recognized. A redelivered message may be one
     * that keeps killing workers, so its attempt count is checked before the
     * document is even loaded.
     *
     * A small image carried in its message, on its first attempt, has no
     * start: for a job of 15 ms the start would cost more than it tells. Its
     * outcome statement records the start with it (ocrq_db_job_succeed_first)
     * and leaves a job that is final already as it is, so a repeat or a
     * canceled job is recognized for nothing but never recorded twice. Such
     * a job goes from queued to succeeded; a crash during its OCR counts no
     * attempt, as a database crash could lose an asynchronous start anyway.
     */
    overlap = !msg->redelivered && job->doc_kind != OCRQ_DOC_STORED; /* the store needs p->db */
    may_fuse = overlap && job->doc_kind == OCRQ_DOC_INLINE && msg->attempt <= 1 && !job->formats &&
               !p->cfg->dedupe_enabled;
    if (!may_fuse) {
        if (ocrq_db_job_start_send(p->db, job, p->worker) != OCRQ_OK) {
            ocrq_pipeline_verdict(out, OCRQ_VERDICT_REQUEUE, "database",
                                  "could not record the start");
            goto out;
        }
        if (!overlap && !started(p, job, msg, &attempt, out))
            goto out;
    }

    /* 3. Load the document; then, unless the start says otherwise, recognize it. */
    t0 = ocrq_now_ms();
    st = prepare(p, job, &doc, &code, why, sizeof(why));
    if (may_fuse) {
        fused = st == OCRQ_OK && small_image(p, &doc, &opened);
        if (fused)
            attempt = 1;
        else if (ocrq_db_job_start_send(p->db, job, p->worker) != OCRQ_OK) {
            ocrq_pipeline_verdict(out, OCRQ_VERDICT_REQUEUE, "database",
                                  "could not record the start");
            goto out;
        }
    }
    out->ocr_ms = (int)(ocrq_now_ms() - t0);
    if (overlap && !fused && !started(p, job, msg, &attempt, out))
        goto out;
    /* the job records its document's hash (no round trip: it goes with the result) */
    if (st == OCRQ_OK && ocrq_sha256_hex(doc.data, doc.len, sha) != OCRQ_OK)
        sha[0] = '\0';
    /* a copy carries text and pages, not artifacts: a job with formats is always OCRed */
    if (st == OCRQ_OK && p->cfg->dedupe_enabled && !job->formats && sha[0] != '\0' &&
        ocrq_pipeline_take_copy(p, job, sha, out))
        goto out;
    if (st == OCRQ_OK) {
        const struct ocrq_doc_limits lim = ocrq_pipeline_limits(p);
        t0 = ocrq_now_ms();
        if (opened == NULL)
            st = ocrq_document_open(doc.data, doc.len, &lim, &opened, &code, why, sizeof(why));
        /* a document of many pages goes over the fleet as page tasks (pages.c) */
        if (st == OCRQ_OK && ocrq_document_page_count(opened) >= p->cfg->split_min_pages) {
            ocrq_pages_split(p, job, doc.data, doc.len, ocrq_document_page_count(opened), sha, out);
            goto out;
        }
        if (st == OCRQ_OK)
            st = ocrq_pipeline_recognize(p, job, opened, &rec, &code, why, sizeof(why));
        out->ocr_ms += (int)(ocrq_now_ms() - t0);
    }
    if (st == OCRQ_ERR_DB) {
        ocrq_pipeline_verdict(out, OCRQ_VERDICT_REQUEUE, "database", why);
        goto out;
    }
    if (st != OCRQ_OK) {
        if (is_transient(st))
            retry_job(p, job, attempt, out, code, why);
        else
            ocrq_pipeline_fail(p, job, out, code, why);
        goto out;
    }

    /*
     * 4. Commit the result and its artifacts; only then may the message be
     * acked. The statement that records the success also writes the
     * job.succeeded webhook event (HOOK_INSERT in common/db.c), which the
     * dispatcher then sends.
     */
    struct ocrq_db_artifact arts[OCRQ_MAX_ARTIFACTS];
    char art_errors[OCRQ_MAX_ARTIFACTS][96];
    for (int i = 0; i < rec.n_arts; i++)
        artifact_row(p, job, &rec.arts[i], &arts[i], art_errors[i], sizeof(art_errors[i]));
    struct ocrq_db_result res = {
        .text = rec.text,
        .mean_confidence = rec.mean_confidence,
        .duration_ms = out->ocr_ms,
        .engine_version = ocrq_engines_version(p->engines),
        .artifacts = arts,
        .n_artifacts = rec.n_arts,
        .doc_sha256 = sha[0] != '\0' ? sha : NULL,
        .options = ocrq_pipeline_options(p, job),
    };
    if (fused) {
        int recorded = 0;
        if (ocrq_db_job_succeed_first(p->db, job, p->worker, &res, &rec.pages[0], &recorded) !=
            OCRQ_OK) {
            ocrq_pipeline_verdict(out, OCRQ_VERDICT_REQUEUE, "database",
                                  "could not commit the result");
            goto out;
        }
        if (!recorded) {
            log_info(job->job_id, "already final (a repeat, or canceled): its text is dropped");
            ocrq_pipeline_verdict(out, OCRQ_VERDICT_ACK, NULL, NULL);
            out->repeat = 1;
            goto out;
        }
    } else if (ocrq_db_job_succeed_pages(p->db, job->job_id, p->worker, &res, rec.pages, rec.n) !=
               OCRQ_OK) {
        ocrq_pipeline_verdict(out, OCRQ_VERDICT_REQUEUE, "database", "could not commit the result");
        goto out;
    }
    log_info(job->job_id,
             "succeeded in %d ms (%d pages, %d OCRed, first %dx%d, confidence %.0f, %s, "
             "attempt %d)",
             res.duration_ms, rec.n, rec.n_ocr, rec.pages[0].width, rec.pages[0].height,
             rec.mean_confidence, job->language, attempt);
    ocrq_pipeline_verdict(out, OCRQ_VERDICT_ACK, NULL, NULL);
out:
    /* a stored document goes once its job is over (documents.retention_s) */
    if (job && job->page_no == 0 && job->doc_kind == OCRQ_DOC_STORED && out->n_pubs == 0 &&
        (out->verdict == OCRQ_VERDICT_ACK || out->verdict == OCRQ_VERDICT_DEADLETTER))
        ocrq_pages_sweep(p); /* page tasks sweep when their document ends (pages.c) */
    ocrq_document_free(opened);
    ocrq_pipeline_doc_result_cleanup(&rec);
    free(doc.owned);
    ocrq_job_free(job);
}

void ocrq_outcome_cleanup(struct ocrq_outcome *o)
{
    for (int i = 0; i < o->n_pubs; i++)
        free(o->pubs[i].body);
    free(o->pubs);
    free(o->dead_body);
    o->pubs = NULL;
    o->n_pubs = 0;
    o->dead_body = NULL;
    o->dead_len = 0;
}
