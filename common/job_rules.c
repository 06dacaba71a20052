/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The field rules of a job message (docs/protocol.md): caps, UTF-8, syntax
 * of language, timestamps, URLs and paths, page tasks. The encoder and the
 * decoder (job.c) both enforce them, so what one writes the other accepts.
 */
#include "job_internal.h"

#include "ocrq/formats.h"
#include "ocrq/json.h"
#include "ocrq/status.h"
#include "ocrq/timestamp.h"
#include "ocrq/url.h"
#include "ocrq/utf8.h"
#include "ocrq/uuid.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Write a reason into why (may be NULL) and return st. */
int job_fail(char *why, size_t whylen, int st, const char *fmt, ...)
{
    va_list ap;

    if (why && whylen > 0) {
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return st;
}

/* Nonzero if s contains an ASCII control character (URLs and paths must not). */
static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/*
 * Nonzero if lang is a language spec: 1-64 chars, [A-Za-z0-9_] names joined
 * by '+' (no empty name). Thread-safe.
 */
int ocrq_lang_valid(const char *lang)
{
    size_t n, name = 0;

    if (!lang)
        return 0;
    n = strlen(lang);
    if (n == 0 || n > OCRQ_MAX_LANG_LEN)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)lang[i];
        if (c == '+') {
            if (name == 0)
                return 0;
            name = 0;
        } else if (isalnum(c) || c == '_') {
            name++;
        } else {
            return 0;
        }
    }
    return name > 0;
}

/* Nonzero if s is an http:// or https:// URL (scheme in any case) with a host: ocrq_url_check(). */
static int http_url_valid(const char *s)
{
    const char *why;

    return ocrq_url_check(s, OCRQ_URL_HTTP, &why) == OCRQ_OK;
}

static int abs_path_valid(const char *s)
{
    return s[0] == '/' && !has_ctl(s);
}

/* The optional and required top-level strings: one table for encode, decode and checks. */
const struct str_field job_str_fields[] = {
    {"language", offsetof(struct ocrq_job, language), OCRQ_MAX_LANG_LEN, 1, ocrq_lang_valid,
     "must be language names of [A-Za-z0-9_] joined by '+', e.g. \"eng+deu\""},
    {"submitted_at", offsetof(struct ocrq_job, submitted_at), CAP_TIMESTAMP, 1,
     ocrq_timestamp_valid, "must be an RFC 3339 date-time, e.g. \"2026-11-23T10:00:00.123Z\""},
    {"source", offsetof(struct ocrq_job, source), CAP_SOURCE, 0, NULL, NULL},
    {"webhook_url", offsetof(struct ocrq_job, webhook_url), CAP_URL, 0, http_url_valid,
     "must be an http:// or https:// URL"},
    {"batch", offsetof(struct ocrq_job, batch), CAP_BATCH, 0, NULL, NULL},
};
const size_t job_n_str_fields = sizeof job_str_fields / sizeof job_str_fields[0];

/* Check one string value against its cap, UTF-8 and its rule. NULL is "missing". */
static int check_str(const char *name, const char *v, size_t cap, int required,
                     int (*check)(const char *), const char *rule, char *why, size_t whylen)
{
    if (!v) {
        if (required)
            return job_fail(why, whylen, OCRQ_ERR_BAD_JOB, "%s: missing", name);
        return OCRQ_OK;
    }
    if (strlen(v) > cap)
        return job_fail(why, whylen, OCRQ_ERR_BAD_JOB, "%s: longer than %zu bytes", name, cap);
    if (!ocrq_utf8_valid(v))
        return job_fail(why, whylen, OCRQ_ERR_BAD_JOB, "%s: not valid UTF-8", name);
    if (check && !check(v))
        return job_fail(why, whylen, OCRQ_ERR_BAD_JOB, "%s: %s", name, rule);
    return OCRQ_OK;
}

/* Page task fields: 0, or page_no 1..pages_total of a document with a window >= 1. */
static int page_valid(const struct ocrq_job *job, char *why, size_t whylen)
{
    if (job->page_no == 0 && job->pages_total == 0 && job->page_window == 0)
        return OCRQ_OK;
    if (job->doc_kind != OCRQ_DOC_STORED)
        return job_fail(why, whylen, OCRQ_ERR_BAD_JOB,
                        "page: only a stored document has page tasks");
    if (job->pages_total < 1 || job->page_no < 1 || job->page_no > job->pages_total ||
        job->page_window < 1)
        return job_fail(why, whylen, OCRQ_ERR_BAD_JOB,
                        "page: must be {\"no\": 1..of, \"of\": >= 1, \"window\": >= 1}");
    return OCRQ_OK;
}

/* The value checks shared by encode and decode; metadata is reparsed only if asked. */
int job_validate(const struct ocrq_job *job, int check_metadata, char *why, size_t whylen)
{
    int st;

    if (job->schema_version != OCRQ_SCHEMA_VERSION)
        return job_fail(why, whylen, OCRQ_ERR_BAD_JOB,
                        "schema_version: %d is not supported (only %d)", job->schema_version,
                        OCRQ_SCHEMA_VERSION);
    if (!ocrq_uuid_valid(job->job_id))
        return job_fail(why, whylen, OCRQ_ERR_BAD_JOB,
                        "job_id: not a UUID (8-4-4-4-12 hex digits)");
    if (job->priority < 0 || job->priority > 9)
        return job_fail(why, whylen, OCRQ_ERR_BAD_JOB, "priority: must be an integer 0-9");
    for (size_t i = 0; i < job_n_str_fields; i++) {
        const struct str_field *f = &job_str_fields[i];
        st = check_str(f->name, job_str_value(job, f), f->cap, f->required, f->check, f->rule, why,
                       whylen);
        if (st != OCRQ_OK)
            return st;
    }
    if (job->formats & ~OCRQ_FMT_ALL)
        return job_fail(why, whylen, OCRQ_ERR_BAD_JOB, "formats: unknown format bits 0x%x",
                        job->formats & ~OCRQ_FMT_ALL);
    if (check_metadata && job->metadata && !ocrq_json_is_object(job->metadata))
        return job_fail(why, whylen, OCRQ_ERR_BAD_JOB, "metadata: must be a JSON object");
    st = check_str("document.content_type", job->doc_content_type, CAP_CONTENT_TYPE, 0, NULL, NULL,
                   why, whylen);
    if (st == OCRQ_OK)
        st = page_valid(job, why, whylen);
    if (st != OCRQ_OK)
        return st;
    switch (job->doc_kind) {
    case OCRQ_DOC_INLINE:
        if (!job->doc_data && job->doc_len > 0)
            return job_fail(why, whylen, OCRQ_ERR_BAD_JOB, "document: inline bytes missing");
        return OCRQ_OK;
    case OCRQ_DOC_URL:
        return check_str("document.url", job->doc_ref, CAP_URL, 1, http_url_valid,
                         "must be an http:// or https:// URL", why, whylen);
    case OCRQ_DOC_PATH:
        return check_str("document.path", job->doc_ref, CAP_PATH, 1, abs_path_valid,
                         "must be an absolute path", why, whylen);
    case OCRQ_DOC_STORED:
        if (!job->doc_ref || !ocrq_uuid_valid(job->doc_ref))
            return job_fail(why, whylen, OCRQ_ERR_BAD_JOB, "document.blob_id: must be a UUID");
        if (job->doc_size < 0)
            return job_fail(why, whylen, OCRQ_ERR_BAD_JOB,
                            "document.size: must be an integer >= 0");
        return OCRQ_OK;
    }
    return job_fail(why, whylen, OCRQ_ERR_BAD_JOB,
                    "document.kind: must be inline, url, path or stored");
}

/*
 * Check a job for encoding (see job.h for the rules). Returns OCRQ_OK or
 * OCRQ_ERR_BAD_JOB with a reason naming the field in why. Thread-safe.
 */
int ocrq_job_validate(const struct ocrq_job *job, char *why, size_t whylen)
{
    if (why && whylen > 0)
        why[0] = '\0';
    if (!job)
        return job_fail(why, whylen, OCRQ_ERR_BAD_JOB, "job: NULL");
    return job_validate(job, 1, why, whylen);
}
