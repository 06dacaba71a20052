/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The job message codec, wire format v1 (docs/protocol.md): one compact JSON
 * line, then for inline documents a LF and the raw bytes. The only module that
 * knows jansson. It also owns the field rules (caps, syntax) that the encoder
 * and the decoder both enforce, so what one writes the other accepts.
 */
#include "ocrq/job.h"

#include "ocrq/formats.h"
#include "ocrq/json.h"
#include "ocrq/status.h"
#include "ocrq/utf8.h"
#include "ocrq/uuid.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define CAP_SOURCE 1024
#define CAP_URL 4096
#define CAP_PATH 4096
#define CAP_BATCH 256
#define CAP_CONTENT_TYPE 255
#define CAP_TIMESTAMP 64

/* Write a reason into why (may be NULL) and return st. */
__attribute__((format(printf, 4, 5))) static int fail(char *why, size_t whylen, int st,
                                                      const char *fmt, ...)
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

/* Parse exactly n ASCII digits at s into *v; stops at a NUL, so never over-reads. */
static int digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        *v = *v * 10 + (s[i] - '0');
    }
    return 1;
}

/*
 * RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM), with real
 * calendar ranges and an offset within +-15:59 (what PostgreSQL's timestamptz
 * accepts, so a value that passes here never fails the INSERT).
 */
static int rfc3339_valid(const char *s)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, sec, oh, om, dmax;

    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) ||
        s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec))
        return 0;
    s += 19;
    if (*s == '.') {
        int n = 0;
        for (s++; *s >= '0' && *s <= '9'; s++)
            n++;
        if (n < 1 || n > 9)
            return 0;
    }
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        if (!digits(s + 1, 2, &oh) || s[3] != ':' || !digits(s + 4, 2, &om) || oh > 15 || om > 59)
            return 0;
        s += 6;
    } else {
        return 0;
    }
    if (*s != '\0' || y < 1 || mo < 1 || mo > 12 || h > 23 || mi > 59 || sec > 60)
        return 0;
    dmax = mdays[mo - 1];
    if (mo == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        dmax = 29;
    return d >= 1 && d <= dmax;
}

/* Nonzero if s starts with http:// or https:// (scheme in any case) and a host. */
static int http_url_valid(const char *s)
{
    size_t skip;

    if (strncasecmp(s, "http://", 7) == 0)
        skip = 7;
    else if (strncasecmp(s, "https://", 8) == 0)
        skip = 8;
    else
        return 0;
    return s[skip] != '\0' && s[skip] != '/' && !has_ctl(s) && !strchr(s, ' ');
}

static int abs_path_valid(const char *s)
{
    return s[0] == '/' && !has_ctl(s);
}

/* The optional and required top-level strings: one table for encode, decode and checks. */
struct str_field {
    const char *name;
    size_t off; /* of the char * in struct ocrq_job */
    size_t cap; /* bytes */
    int required;
    int (*check)(const char *s); /* NULL: any UTF-8 text */
    const char *rule;            /* the reason when check fails */
};

static const struct str_field str_fields[] = {
    {"language", offsetof(struct ocrq_job, language), OCRQ_MAX_LANG_LEN, 1, ocrq_lang_valid,
     "must be language names of [A-Za-z0-9_] joined by '+', e.g. \"eng+deu\""},
    {"submitted_at", offsetof(struct ocrq_job, submitted_at), CAP_TIMESTAMP, 1, rfc3339_valid,
     "must be an RFC 3339 date-time, e.g. \"2026-11-23T10:00:00.123Z\""},
    {"source", offsetof(struct ocrq_job, source), CAP_SOURCE, 0, NULL, NULL},
    {"webhook_url", offsetof(struct ocrq_job, webhook_url), CAP_URL, 0, http_url_valid,
     "must be an http:// or https:// URL"},
    {"batch", offsetof(struct ocrq_job, batch), CAP_BATCH, 0, NULL, NULL},
};
#define N_STR_FIELDS (sizeof str_fields / sizeof str_fields[0])

static char **str_slot(struct ocrq_job *job, const struct str_field *f)
{
    return (char **)((char *)job + f->off);
}

static const char *str_value(const struct ocrq_job *job, const struct str_field *f)
{
    return *(char *const *)((const char *)job + f->off);
}

/* Check one string value against its cap, UTF-8 and its rule. NULL is "missing". */
static int check_str(const char *name, const char *v, size_t cap, int required,
                     int (*check)(const char *), const char *rule, char *why, size_t whylen)
{
    if (!v) {
        if (required)
            return fail(why, whylen, OCRQ_ERR_BAD_JOB, "%s: missing", name);
        return OCRQ_OK;
    }
    if (strlen(v) > cap)
        return fail(why, whylen, OCRQ_ERR_BAD_JOB, "%s: longer than %zu bytes", name, cap);
    if (!ocrq_utf8_valid(v))
        return fail(why, whylen, OCRQ_ERR_BAD_JOB, "%s: not valid UTF-8", name);
    if (check && !check(v))
        return fail(why, whylen, OCRQ_ERR_BAD_JOB, "%s: %s", name, rule);
    return OCRQ_OK;
}

/* Page task fields: 0, or page_no 1..pages_total of a document with a window >= 1. */
static int page_valid(const struct ocrq_job *job, char *why, size_t whylen)
{
    if (job->page_no == 0 && job->pages_total == 0 && job->page_window == 0)
        return OCRQ_OK;
    if (job->doc_kind != OCRQ_DOC_STORED)
        return fail(why, whylen, OCRQ_ERR_BAD_JOB, "page: only a stored document has page tasks");
    if (job->pages_total < 1 || job->page_no < 1 || job->page_no > job->pages_total ||
        job->page_window < 1)
        return fail(why, whylen, OCRQ_ERR_BAD_JOB,
                    "page: must be {\"no\": 1..of, \"of\": >= 1, \"window\": >= 1}");
    return OCRQ_OK;
}

/* The value checks shared by encode and decode; metadata is reparsed only if asked. */
static int validate(const struct ocrq_job *job, int check_metadata, char *why, size_t whylen)
{
    int st;

    if (job->schema_version != OCRQ_SCHEMA_VERSION)
        return fail(why, whylen, OCRQ_ERR_BAD_JOB, "schema_version: %d is not supported (only %d)",
                    job->schema_version, OCRQ_SCHEMA_VERSION);
    if (!ocrq_uuid_valid(job->job_id))
        return fail(why, whylen, OCRQ_ERR_BAD_JOB, "job_id: not a UUID (8-4-4-4-12 hex digits)");
    if (job->priority < 0 || job->priority > 9)
        return fail(why, whylen, OCRQ_ERR_BAD_JOB, "priority: must be an integer 0-9");
    for (size_t i = 0; i < N_STR_FIELDS; i++) {
        const struct str_field *f = &str_fields[i];
        st = check_str(f->name, str_value(job, f), f->cap, f->required, f->check, f->rule, why,
                       whylen);
        if (st != OCRQ_OK)
            return st;
    }
    if (job->formats & ~OCRQ_FMT_ALL)
        return fail(why, whylen, OCRQ_ERR_BAD_JOB, "formats: unknown format bits 0x%x",
                    job->formats & ~OCRQ_FMT_ALL);
    if (check_metadata && job->metadata && !ocrq_json_is_object(job->metadata))
        return fail(why, whylen, OCRQ_ERR_BAD_JOB, "metadata: must be a JSON object");
    st = check_str("document.content_type", job->doc_content_type, CAP_CONTENT_TYPE, 0, NULL, NULL,
                   why, whylen);
    if (st == OCRQ_OK)
        st = page_valid(job, why, whylen);
    if (st != OCRQ_OK)
        return st;
    switch (job->doc_kind) {
    case OCRQ_DOC_INLINE:
        if (!job->doc_data && job->doc_len > 0)
            return fail(why, whylen, OCRQ_ERR_BAD_JOB, "document: inline bytes missing");
        return OCRQ_OK;
    case OCRQ_DOC_URL:
        return check_str("document.url", job->doc_ref, CAP_URL, 1, http_url_valid,
                         "must be an http:// or https:// URL", why, whylen);
    case OCRQ_DOC_PATH:
        return check_str("document.path", job->doc_ref, CAP_PATH, 1, abs_path_valid,
                         "must be an absolute path", why, whylen);
    case OCRQ_DOC_STORED:
        if (!job->doc_ref || !ocrq_uuid_valid(job->doc_ref))
            return fail(why, whylen, OCRQ_ERR_BAD_JOB, "document.blob_id: must be a UUID");
        if (job->doc_size < 0)
            return fail(why, whylen, OCRQ_ERR_BAD_JOB, "document.size: must be an integer >= 0");
        return OCRQ_OK;
    }
    return fail(why, whylen, OCRQ_ERR_BAD_JOB,
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
        return fail(why, whylen, OCRQ_ERR_BAD_JOB, "job: NULL");
    return validate(job, 1, why, whylen);
}

/*
 * Write the current UTC time as RFC 3339 with milliseconds, e.g.
 * "2026-11-23T10:00:00.123Z", into out (>= 32 bytes). Thread-safe.
 */
void ocrq_timestamp_now(char *out, size_t outlen)
{
    struct timespec ts;
    struct tm tm;

    if (!out || outlen == 0)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L);
}

/* Days from 1970-01-01 to the civil date y-m-d (proleptic Gregorian). */
static long long days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153LL * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int ocrq_timestamp_parse_ms(const char *s, long long *ms)
{
    int y, mo, d, h, mi, sec, frac_ms = 0, sign = 0, oh = 0, om = 0, n;
    const char *p;

    if (!ms || !s || !rfc3339_valid(s))
        return OCRQ_ERR_INVALID;
    if (sscanf(s, "%4d-%2d-%2d%*1[Tt]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
        return OCRQ_ERR_INVALID;
    p = s + n;
    if (*p == '.') {
        int scale = 100;
        for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
            frac_ms += (*p - '0') * scale;
    }
    if (*p == '+' || *p == '-') {
        sign = *p == '+' ? 1 : -1;
        oh = (p[1] - '0') * 10 + (p[2] - '0');
        om = (p[4] - '0') * 10 + (p[5] - '0');
    }
    long long secs = days_from_civil(y, mo, d) * 86400LL + h * 3600LL + mi * 60LL + sec -
                     sign * (oh * 3600LL + om * 60LL);
    *ms = secs * 1000 + frac_ms;
    return OCRQ_OK;
}

/*
 * A new job: schema_version 1, a fresh job_id, priority 0, submitted_at now,
 * everything else empty (doc_kind 0 must be set before encoding). Returns NULL
 * on allocation failure or when no UUID could be made. Free with ocrq_job_free().
 */
struct ocrq_job *ocrq_job_new(void)
{
    char now[32];
    struct ocrq_job *job = calloc(1, sizeof *job);

    if (!job)
        return NULL;
    job->schema_version = OCRQ_SCHEMA_VERSION;
    ocrq_timestamp_now(now, sizeof now);
    job->submitted_at = strdup(now);
    if (!job->submitted_at || ocrq_uuid_new(job->job_id) != OCRQ_OK) {
        ocrq_job_free(job);
        return NULL;
    }
    return job;
}

/* Free a job and its strings; doc_data is borrowed and left alone. NULL is fine. */
void ocrq_job_free(struct ocrq_job *job)
{
    if (!job)
        return;
    for (size_t i = 0; i < N_STR_FIELDS; i++)
        free(*str_slot(job, &str_fields[i]));
    free(job->metadata);
    free(job->doc_ref);
    free(job->doc_content_type);
    free(job);
}

static const char *kind_name(enum ocrq_doc_kind k)
{
    switch (k) {
    case OCRQ_DOC_INLINE: return "inline";
    case OCRQ_DOC_URL: return "url";
    case OCRQ_DOC_PATH: return "path";
    case OCRQ_DOC_STORED: return "stored";
    }
    return "?";
}


/* The JSON object of a validated job. NULL only on allocation failure. */
static json_t *job_to_json(const struct ocrq_job *job)
{
    json_t *root = json_object(), *doc = json_object(), *meta = NULL;
    int bad = !root || !doc;

    bad |= json_object_set_new(root, "schema_version", json_integer(job->schema_version));
    bad |= json_object_set_new(root, "job_id", json_string(job->job_id));
    bad |= json_object_set_new(root, "priority", json_integer(job->priority));
    for (size_t i = 0; i < N_STR_FIELDS; i++) {
        const char *v = str_value(job, &str_fields[i]);
        if (v)
            bad |= json_object_set_new(root, str_fields[i].name, json_string(v));
    }
    if (job->metadata) {
        meta = json_loads(job->metadata, 0, NULL);
        bad |= json_object_set_new(root, "metadata", meta);
    }
    /* absent means plain text only, so a job that asks for no more stays as it was */
    if (job->formats & OCRQ_FMT_ARTIFACTS) {
        json_t *list = json_array();
        bad |= !list;
        for (unsigned bit = 1; list && bit <= OCRQ_FMT_ALL; bit <<= 1)
            if (job->formats & bit)
                bad |= json_array_append_new(list, json_string(ocrq_format_name(bit)));
        bad |= json_object_set_new(root, "formats", list);
    }
    bad |= json_object_set_new(doc, "kind", json_string(kind_name(job->doc_kind)));
    if (job->doc_kind == OCRQ_DOC_INLINE)
        bad |= json_object_set_new(doc, "size", json_integer((json_int_t)job->doc_len));
    else if (job->doc_kind == OCRQ_DOC_STORED) {
        bad |= json_object_set_new(doc, "blob_id", json_string(job->doc_ref));
        bad |= json_object_set_new(doc, "size", json_integer((json_int_t)job->doc_size));
    } else
        bad |= json_object_set_new(doc, job->doc_kind == OCRQ_DOC_URL ? "url" : "path",
                                   json_string(job->doc_ref));
    if (job->doc_content_type)
        bad |= json_object_set_new(doc, "content_type", json_string(job->doc_content_type));
    bad |= json_object_set(root, "document", doc);
    json_decref(doc);
    if (job->page_no > 0) {
        json_t *page = json_pack("{s:i, s:i, s:i}", "no", job->page_no, "of", job->pages_total,
                                 "window", job->page_window);
        bad |= !page || json_object_set_new(root, "page", page);
    }
    if (bad) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/*
 * Encode job into a new body: the compact JSON line, and for inline documents
 * LF + doc_len bytes. Validates first. The caller frees *body with free().
 * Returns OCRQ_OK, OCRQ_ERR_BAD_JOB (reason in why) or OCRQ_ERR_NOMEM.
 * Thread-safe.
 */
int ocrq_job_encode(const struct ocrq_job *job, unsigned char **body, size_t *len, char *why,
                    size_t whylen)
{
    json_t *root = NULL;
    char *line = NULL;
    unsigned char *buf = NULL;
    size_t jlen, total;
    int st;

    *body = NULL;
    *len = 0;
    st = ocrq_job_validate(job, why, whylen);
    if (st != OCRQ_OK)
        goto out;
    st = OCRQ_ERR_NOMEM;
    root = job_to_json(job);
    if (!root)
        goto out;
    line = json_dumps(root, JSON_COMPACT);
    if (!line)
        goto out;
    jlen = strlen(line);
    if (jlen >= OCRQ_MAX_META_BYTES) {
        st = fail(why, whylen, OCRQ_ERR_BAD_JOB, "metadata: the JSON line is %zu bytes, over %d",
                  jlen, OCRQ_MAX_META_BYTES - 1);
        goto out;
    }
    total = jlen + (job->doc_kind == OCRQ_DOC_INLINE ? 1 + job->doc_len : 0);
    buf = malloc(total ? total : 1);
    if (!buf)
        goto out;
    memcpy(buf, line, jlen);
    if (job->doc_kind == OCRQ_DOC_INLINE) {
        buf[jlen] = '\n';
        if (job->doc_len > 0)
            memcpy(buf + jlen + 1, job->doc_data, job->doc_len);
    }
    *body = buf;
    *len = total;
    buf = NULL;
    st = OCRQ_OK;
out:
    free(buf);
    free(line);
    json_decref(root);
    return st;
}

/* Copy an optional string member (null/absent = none) with its cap into *dst. */
static int take_str(json_t *obj, const char *key, const char *name, size_t cap, char **dst,
                    char *why, size_t whylen)
{
    json_t *v = json_object_get(obj, key);

    if (!v || json_is_null(v))
        return OCRQ_OK; /* required fields are caught by validate() */
    if (!json_is_string(v))
        return fail(why, whylen, OCRQ_ERR_BAD_JOB, "%s: must be a string", name);
    if (json_string_length(v) > cap)
        return fail(why, whylen, OCRQ_ERR_BAD_JOB, "%s: longer than %zu bytes", name, cap);
    *dst = strdup(json_string_value(v)); /* jansson refuses \u0000, so no embedded NUL */
    return *dst ? OCRQ_OK : OCRQ_ERR_NOMEM;
}

/* job_id, lowercased into job and id_hint. */
static int take_id(json_t *root, struct ocrq_job *job, char *id_hint, char *why, size_t whylen)
{
    json_t *v = json_object_get(root, "job_id");
    const char *s;

    if (!v)
        return fail(why, whylen, OCRQ_ERR_BAD_JOB, "job_id: missing");
    s = json_string_value(v);
    if (!s || !ocrq_uuid_valid(s))
        return fail(why, whylen, OCRQ_ERR_BAD_JOB,
                    "job_id: must be a UUID string (8-4-4-4-12 hex digits)");
    for (int i = 0; i <= OCRQ_UUID_LEN; i++)
        job->job_id[i] = (char)tolower((unsigned char)s[i]);
    if (id_hint)
        memcpy(id_hint, job->job_id, OCRQ_UUID_LEN + 1);
    return OCRQ_OK;
}

/*
 * A required integer member in [lo, hi]. name is the field as reasons show it
 * ("document.size"); the member's key is its last segment. rule is the reason
 * when the value is not such an integer.
 */
static int take_int(json_t *obj, const char *name, json_int_t lo, json_int_t hi, json_int_t *dst,
                    const char *rule, char *why, size_t whylen)
{
    const char *dot = strrchr(name, '.');
    json_t *v = json_object_get(obj, dot ? dot + 1 : name);

    if (!v)
        return fail(why, whylen, OCRQ_ERR_BAD_JOB, "%s: missing", name);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return fail(why, whylen, OCRQ_ERR_BAD_JOB, "%s", rule);
    *dst = json_integer_value(v);
    return OCRQ_OK;
}

/* The "document" object; the inline size is checked against the tail by the caller. */
static int take_doc(json_t *root, struct ocrq_job *job, json_int_t *size, char *why, size_t whylen)
{
    json_t *doc = json_object_get(root, "document");
    const char *kind;
    int st;

    if (!doc)
        return fail(why, whylen, OCRQ_ERR_BAD_JOB, "document: missing");
    if (!json_is_object(doc))
        return fail(why, whylen, OCRQ_ERR_BAD_JOB, "document: must be an object");
    kind = json_string_value(json_object_get(doc, "kind"));
    if (!kind)
        return fail(why, whylen, OCRQ_ERR_BAD_JOB,
                    "document.kind: must be \"inline\", \"url\", \"path\" or \"stored\"");
    st = take_str(doc, "content_type", "document.content_type", CAP_CONTENT_TYPE,
                  &job->doc_content_type, why, whylen);
    if (st != OCRQ_OK)
        return st;
    if (strcmp(kind, "inline") == 0) {
        job->doc_kind = OCRQ_DOC_INLINE;
        return take_int(doc, "document.size", 0, INT64_MAX, size,
                        "document.size: must be an integer >= 0", why, whylen);
    }
    if (strcmp(kind, "url") == 0) {
        job->doc_kind = OCRQ_DOC_URL;
        return take_str(doc, "url", "document.url", CAP_URL, &job->doc_ref, why, whylen);
    }
    if (strcmp(kind, "path") == 0) {
        job->doc_kind = OCRQ_DOC_PATH;
        return take_str(doc, "path", "document.path", CAP_PATH, &job->doc_ref, why, whylen);
    }
    if (strcmp(kind, "stored") == 0) {
        json_int_t n;
        job->doc_kind = OCRQ_DOC_STORED;
        st = take_int(doc, "document.size", 0, INT64_MAX, &n,
                      "document.size: must be an integer >= 0", why, whylen);
        if (st != OCRQ_OK)
            return st;
        job->doc_size = (long long)n;
        return take_str(doc, "blob_id", "document.blob_id", OCRQ_UUID_LEN, &job->doc_ref, why,
                        whylen);
    }
    return fail(why, whylen, OCRQ_ERR_BAD_JOB,
                "document.kind: must be \"inline\", \"url\", \"path\" or \"stored\"");
}

/* The optional "formats": an array of format names; absent, null or [] is plain text only. */
static int take_formats(json_t *root, struct ocrq_job *job, char *why, size_t whylen)
{
    json_t *list = json_object_get(root, "formats"), *v;
    size_t i;

    if (!list || json_is_null(list))
        return OCRQ_OK;
    if (!json_is_array(list))
        return fail(why, whylen, OCRQ_ERR_BAD_JOB,
                    "formats: must be an array of format names, e.g. [\"hocr\", \"pdf\"]");
    json_array_foreach(list, i, v) {
        unsigned bit = ocrq_format_from_name(json_string_value(v));
        if (bit == 0)
            return fail(why, whylen, OCRQ_ERR_BAD_JOB,
                        "formats: item %zu must be one of \"txt\", \"hocr\", \"alto\","
                        " \"tsv\", \"pdf\", \"words\"", i);
        job->formats |= bit;
    }
    return OCRQ_OK;
}

/* The optional "page" of a page task: {"no": N, "of": T, "window": K}; absent or null: none. */
static int take_page(json_t *root, struct ocrq_job *job, char *why, size_t whylen)
{
    json_t *page = json_object_get(root, "page");
    json_int_t no, of, win;
    int st;

    if (!page || json_is_null(page))
        return OCRQ_OK;
    if (!json_is_object(page))
        return fail(why, whylen, OCRQ_ERR_BAD_JOB, "page: must be an object");
    st = take_int(page, "page.no", 1, INT32_MAX, &no, "page.no: must be an integer >= 1", why,
                  whylen);
    if (st == OCRQ_OK)
        st = take_int(page, "page.of", 1, INT32_MAX, &of, "page.of: must be an integer >= 1", why,
                      whylen);
    if (st == OCRQ_OK)
        st = take_int(page, "page.window", 1, INT32_MAX, &win,
                      "page.window: must be an integer >= 1", why, whylen);
    if (st != OCRQ_OK)
        return st;
    job->page_no = (int)no;
    job->pages_total = (int)of;
    job->page_window = (int)win;
    return OCRQ_OK;
}

/* Every field of the parsed JSON line into job (types and caps; values by validate()). */
static int take_fields(json_t *root, struct ocrq_job *job, json_int_t *size, char *id_hint,
                       char *why, size_t whylen)
{
    json_int_t n;
    json_t *meta;
    int st;

    st = take_id(root, job, id_hint, why, whylen);
    if (st != OCRQ_OK)
        return st;
    st = take_int(root, "schema_version", INT32_MIN, INT32_MAX, &n,
                  "schema_version: must be the integer 1", why, whylen);
    if (st != OCRQ_OK)
        return st;
    job->schema_version = (int)n;
    if (n != OCRQ_SCHEMA_VERSION)
        return fail(why, whylen, OCRQ_ERR_BAD_JOB, "schema_version: %d is not supported (only %d)",
                    (int)n, OCRQ_SCHEMA_VERSION);
    st = take_int(root, "priority", 0, 9, &n, "priority: must be an integer 0-9", why, whylen);
    if (st != OCRQ_OK)
        return st;
    job->priority = (int)n;
    for (size_t i = 0; i < N_STR_FIELDS; i++) {
        const struct str_field *f = &str_fields[i];
        st = take_str(root, f->name, f->name, f->cap, str_slot(job, f), why, whylen);
        if (st != OCRQ_OK)
            return st;
    }
    meta = json_object_get(root, "metadata");
    if (meta && !json_is_null(meta)) {
        if (!json_is_object(meta))
            return fail(why, whylen, OCRQ_ERR_BAD_JOB, "metadata: must be a JSON object");
        job->metadata = json_dumps(meta, JSON_COMPACT);
        if (!job->metadata)
            return OCRQ_ERR_NOMEM;
    }
    st = take_formats(root, job, why, whylen);
    if (st != OCRQ_OK)
        return st;
    st = take_page(root, job, why, whylen);
    if (st != OCRQ_OK)
        return st;
    return take_doc(root, job, size, why, whylen);
}

/* Where the bytes after the JSON line go: doc_data for inline, nothing otherwise. */
static int take_tail(struct ocrq_job *job, json_int_t size, size_t max_inline,
                     const unsigned char *tail, size_t tail_len, int has_lf, char *why,
                     size_t whylen)
{
    if (job->doc_kind != OCRQ_DOC_INLINE) {
        if (tail_len > 0)
            return fail(why, whylen, OCRQ_ERR_BAD_JOB,
                        "document: kind %s carries no bytes, but %zu follow the JSON line",
                        kind_name(job->doc_kind), tail_len);
        return OCRQ_OK;
    }
    if ((uint64_t)size > (uint64_t)max_inline)
        return fail(why, whylen, OCRQ_ERR_TOO_LARGE,
                    "document.size: %lld bytes is over the inline limit of %zu bytes",
                    (long long)size, max_inline);
    if (!has_lf)
        return fail(why, whylen, OCRQ_ERR_BAD_JOB,
                    "document.size says %lld but no LF and no bytes follow the JSON line",
                    (long long)size);
    if ((uint64_t)size != (uint64_t)tail_len)
        return fail(why, whylen, OCRQ_ERR_BAD_JOB, "document.size says %lld but %zu bytes follow",
                    (long long)size, tail_len);
    job->doc_data = tail;
    job->doc_len = tail_len;
    return OCRQ_OK;
}

/*
 * Decode a message body (see job.h). Returns OCRQ_OK with *out (caller frees;
 * doc_data points into body), OCRQ_ERR_BAD_JOB or OCRQ_ERR_TOO_LARGE (reason in
 * why, *out NULL, id_hint the job_id if it was a valid UUID, else ""), or
 * OCRQ_ERR_NOMEM. Thread-safe.
 */
int ocrq_job_decode(const void *body, size_t len, size_t max_inline, struct ocrq_job **out,
                    char *id_hint, char *why, size_t whylen)
{
    const unsigned char *b = body;
    const unsigned char *lf;
    struct ocrq_job *job = NULL;
    json_t *root = NULL;
    json_error_t jerr;
    json_int_t size = 0;
    size_t jlen;
    int st;

    *out = NULL;
    if (id_hint)
        id_hint[0] = '\0';
    if (why && whylen > 0)
        why[0] = '\0';
    lf = b ? memchr(b, '\n', len < OCRQ_MAX_META_BYTES ? len : OCRQ_MAX_META_BYTES) : NULL;
    if (!lf && len > OCRQ_MAX_META_BYTES) {
        st = fail(why, whylen, OCRQ_ERR_BAD_JOB,
                  "body: metadata line too long (no LF in the "
                  "first %d bytes)",
                  OCRQ_MAX_META_BYTES);
        goto out;
    }
    jlen = lf ? (size_t)(lf - b) : len;
    root = json_loadb((const char *)b, jlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        st = fail(why, whylen, OCRQ_ERR_BAD_JOB,
                  "body: the JSON line is not valid JSON "
                  "(byte %d: %s)",
                  jerr.position, jerr.text);
        goto out;
    }
    if (!json_is_object(root)) {
        st = fail(why, whylen, OCRQ_ERR_BAD_JOB, "body: the JSON line must be an object");
        goto out;
    }
    st = OCRQ_ERR_NOMEM;
    job = calloc(1, sizeof *job);
    if (!job)
        goto out;
    st = take_fields(root, job, &size, id_hint, why, whylen);
    if (st != OCRQ_OK)
        goto out;
    st = validate(job, 0, why, whylen);
    if (st != OCRQ_OK)
        goto out;
    st = take_tail(job, size, max_inline, lf ? lf + 1 : b + len, lf ? len - jlen - 1 : 0,
                   lf != NULL, why, whylen);
    if (st != OCRQ_OK)
        goto out;
    *out = job;
    job = NULL;
out:
    ocrq_job_free(job);
    json_decref(root);
    return st;
}

/*
 * {"job_id":..,"source":..,"status":..[,"error":..]} as one compact JSON line
 * without a newline; NULL strings are left out, and bytes that are not UTF-8
 * (e.g. in a file name) become U+FFFD. Returns a malloc'd string (caller
 * frees) or NULL on allocation failure. Thread-safe.
 */
char *ocrq_job_status_json(const char *job_id, const char *source, const char *status,
                           const char *error)
{
    const char *keys[4] = {"job_id", "source", "status", "error"};
    const char *vals[4] = {job_id, source, status, error};
    struct ocrq_json *obj = ocrq_json_object();
    char *res = NULL;
    int bad = !obj;

    for (int i = 0; i < 4 && !bad; i++)
        if (vals[i])
            bad |= ocrq_json_set_str(obj, keys[i], vals[i]);
    if (!bad)
        res = ocrq_json_dump(obj, 0);
    ocrq_json_free(obj);
    return res;
}
