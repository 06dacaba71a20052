/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The job message codec, wire format v1 (docs/protocol.md): one compact JSON
 * line, then for inline documents a LF and the raw bytes. It builds and reads
 * the line with ocrq/json.h; the field rules it enforces both ways are in
 * job_rules.c.
 */
#include "job_internal.h"

#include "ocrq/formats.h"
#include "ocrq/json.h"
#include "ocrq/status.h"
#include "ocrq/timestamp.h"
#include "ocrq/uuid.h"

#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    for (size_t i = 0; i < job_n_str_fields; i++)
        free(*job_str_slot(job, &job_str_fields[i]));
    free(job->metadata);
    free(job->doc_ref);
    free(job->doc_content_type);
    free(job);
}

static const char *kind_name(enum ocrq_doc_kind k)
{
    switch (k) {
    case OCRQ_DOC_INLINE:
        return "inline";
    case OCRQ_DOC_URL:
        return "url";
    case OCRQ_DOC_PATH:
        return "path";
    case OCRQ_DOC_STORED:
        return "stored";
    }
    return "?";
}

/* The "document" object of a validated job. NULL only on allocation failure. */
static struct ocrq_json *doc_to_json(const struct ocrq_job *job)
{
    struct ocrq_json *doc = ocrq_json_object();
    int bad = ocrq_json_set_str(doc, "kind", kind_name(job->doc_kind));

    if (job->doc_kind == OCRQ_DOC_INLINE)
        bad |= ocrq_json_set_int(doc, "size", (long long)job->doc_len);
    else if (job->doc_kind == OCRQ_DOC_STORED) {
        bad |= ocrq_json_set_str(doc, "blob_id", job->doc_ref);
        bad |= ocrq_json_set_int(doc, "size", job->doc_size);
    } else
        bad |= ocrq_json_set_str(doc, job->doc_kind == OCRQ_DOC_URL ? "url" : "path", job->doc_ref);
    if (job->doc_content_type)
        bad |= ocrq_json_set_str(doc, "content_type", job->doc_content_type);
    if (bad) {
        ocrq_json_free(doc);
        return NULL;
    }
    return doc;
}

/* The JSON object of a validated job. NULL only on allocation failure. */
static struct ocrq_json *job_to_json(const struct ocrq_job *job)
{
    struct ocrq_json *root = ocrq_json_object(), *meta = NULL;
    int bad = ocrq_json_set_int(root, "schema_version", job->schema_version);

    bad |= ocrq_json_set_str(root, "job_id", job->job_id);
    bad |= ocrq_json_set_int(root, "priority", job->priority);
    for (size_t i = 0; i < job_n_str_fields; i++) {
        const char *v = job_str_value(job, &job_str_fields[i]);
        if (v)
            bad |= ocrq_json_set_str(root, job_str_fields[i].name, v);
    }
    if (job->metadata) {
        bad |= ocrq_json_parse(job->metadata, strlen(job->metadata), 0, &meta, NULL, 0);
        bad |= ocrq_json_set(root, "metadata", meta);
    }
    /* absent means plain text only, so a job that asks for no more stays as it was */
    if (job->formats & OCRQ_FMT_ARTIFACTS) {
        struct ocrq_json *list = ocrq_json_array();
        bad |= !list;
        for (unsigned bit = 1; list && bit <= OCRQ_FMT_ALL; bit <<= 1)
            if (job->formats & bit)
                bad |= ocrq_json_append_str(list, ocrq_format_name(bit));
        bad |= ocrq_json_set(root, "formats", list);
    }
    bad |= ocrq_json_set(root, "document", doc_to_json(job));
    if (job->page_no > 0) {
        struct ocrq_json *page = ocrq_json_object();
        bad |= ocrq_json_set_int(page, "no", job->page_no);
        bad |= ocrq_json_set_int(page, "of", job->pages_total);
        bad |= ocrq_json_set_int(page, "window", job->page_window);
        bad |= ocrq_json_set(root, "page", page);
    }
    if (bad) {
        ocrq_json_free(root);
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
    struct ocrq_json *root = NULL;
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
    line = ocrq_json_dump(root, 0);
    if (!line)
        goto out;
    jlen = strlen(line);
    if (jlen >= OCRQ_MAX_META_BYTES) {
        st =
            job_fail(why, whylen, OCRQ_ERR_BAD_JOB, "metadata: the JSON line is %zu bytes, over %d",
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
    ocrq_json_free(root);
    return st;
}

/* Nonzero if v is absent or null. */
static int none(const struct ocrq_json *v)
{
    return ocrq_json_type(v) == OCRQ_JSON_NONE || ocrq_json_type(v) == OCRQ_JSON_NULL;
}

/* Copy an optional string member (null/absent = none) with its cap into *dst. */
static int take_str(const struct ocrq_json *obj, const char *key, const char *name, size_t cap,
                    char **dst, char *why, size_t whylen)
{
    const struct ocrq_json *v = ocrq_json_get(obj, key);
    const char *s;
    size_t n;

    if (none(v))
        return OCRQ_OK; /* required fields are caught by job_validate() */
    s = ocrq_json_str(v, &n);
    if (!s)
        return job_fail(why, whylen, OCRQ_ERR_BAD_JOB, "%s: must be a string", name);
    if (n > cap)
        return job_fail(why, whylen, OCRQ_ERR_BAD_JOB, "%s: longer than %zu bytes", name, cap);
    *dst = strdup(s); /* the parser refuses \u0000, so no embedded NUL */
    return *dst ? OCRQ_OK : OCRQ_ERR_NOMEM;
}

/* job_id, lowercased into job and id_hint. */
static int take_id(const struct ocrq_json *root, struct ocrq_job *job, char *id_hint, char *why,
                   size_t whylen)
{
    const struct ocrq_json *v = ocrq_json_get(root, "job_id");
    const char *s;

    if (!v)
        return job_fail(why, whylen, OCRQ_ERR_BAD_JOB, "job_id: missing");
    s = ocrq_json_str(v, NULL);
    if (!s || !ocrq_uuid_valid(s))
        return job_fail(why, whylen, OCRQ_ERR_BAD_JOB,
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
static int take_int(const struct ocrq_json *obj, const char *name, long long lo, long long hi,
                    long long *dst, const char *rule, char *why, size_t whylen)
{
    const char *dot = strrchr(name, '.');
    const struct ocrq_json *v = ocrq_json_get(obj, dot ? dot + 1 : name);

    if (!v)
        return job_fail(why, whylen, OCRQ_ERR_BAD_JOB, "%s: missing", name);
    if (ocrq_json_type(v) != OCRQ_JSON_INTEGER || ocrq_json_int(v) < lo || ocrq_json_int(v) > hi)
        return job_fail(why, whylen, OCRQ_ERR_BAD_JOB, "%s", rule);
    *dst = ocrq_json_int(v);
    return OCRQ_OK;
}

/* The "document" object; the inline size is checked against the tail by the caller. */
static int take_doc(const struct ocrq_json *root, struct ocrq_job *job, long long *size, char *why,
                    size_t whylen)
{
    const struct ocrq_json *doc = ocrq_json_get(root, "document");
    const char *kind;
    int st;

    if (!doc)
        return job_fail(why, whylen, OCRQ_ERR_BAD_JOB, "document: missing");
    if (ocrq_json_type(doc) != OCRQ_JSON_OBJECT)
        return job_fail(why, whylen, OCRQ_ERR_BAD_JOB, "document: must be an object");
    kind = ocrq_json_str(ocrq_json_get(doc, "kind"), NULL);
    if (!kind)
        return job_fail(why, whylen, OCRQ_ERR_BAD_JOB,
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
        long long n;
        job->doc_kind = OCRQ_DOC_STORED;
        st = take_int(doc, "document.size", 0, INT64_MAX, &n,
                      "document.size: must be an integer >= 0", why, whylen);
        if (st != OCRQ_OK)
            return st;
        job->doc_size = n;
        return take_str(doc, "blob_id", "document.blob_id", OCRQ_UUID_LEN, &job->doc_ref, why,
                        whylen);
    }
    return job_fail(why, whylen, OCRQ_ERR_BAD_JOB,
                    "document.kind: must be \"inline\", \"url\", \"path\" or \"stored\"");
}

/* The optional "formats": an array of format names; absent, null or [] is plain text only. */
static int take_formats(const struct ocrq_json *root, struct ocrq_job *job, char *why,
                        size_t whylen)
{
    const struct ocrq_json *list = ocrq_json_get(root, "formats");

    if (none(list))
        return OCRQ_OK;
    if (ocrq_json_type(list) != OCRQ_JSON_ARRAY)
        return job_fail(why, whylen, OCRQ_ERR_BAD_JOB,
                        "formats: must be an array of format names, e.g. [\"hocr\", \"pdf\"]");
    for (size_t i = 0; i < ocrq_json_size(list); i++) {
        unsigned bit = ocrq_format_from_name(ocrq_json_str(ocrq_json_at(list, i), NULL));
        if (bit == 0)
            return job_fail(why, whylen, OCRQ_ERR_BAD_JOB,
                            "formats: item %zu must be one of \"txt\", \"hocr\", \"alto\","
                            " \"tsv\", \"pdf\", \"words\"",
                            i);
        job->formats |= bit;
    }
    return OCRQ_OK;
}

/* The optional "page" of a page task: {"no": N, "of": T, "window": K}; absent or null: none. */
static int take_page(const struct ocrq_json *root, struct ocrq_job *job, char *why, size_t whylen)
{
    const struct ocrq_json *page = ocrq_json_get(root, "page");
    long long no, of, win;
    int st;

    if (none(page))
        return OCRQ_OK;
    if (ocrq_json_type(page) != OCRQ_JSON_OBJECT)
        return job_fail(why, whylen, OCRQ_ERR_BAD_JOB, "page: must be an object");
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

/* Every field of the parsed JSON line into job (types and caps; values by job_validate()). */
static int take_fields(const struct ocrq_json *root, struct ocrq_job *job, long long *size,
                       char *id_hint, char *why, size_t whylen)
{
    const struct ocrq_json *meta;
    long long n;
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
        return job_fail(why, whylen, OCRQ_ERR_BAD_JOB,
                        "schema_version: %d is not supported (only %d)", (int)n,
                        OCRQ_SCHEMA_VERSION);
    st = take_int(root, "priority", 0, 9, &n, "priority: must be an integer 0-9", why, whylen);
    if (st != OCRQ_OK)
        return st;
    job->priority = (int)n;
    for (size_t i = 0; i < job_n_str_fields; i++) {
        const struct str_field *f = &job_str_fields[i];
        st = take_str(root, f->name, f->name, f->cap, job_str_slot(job, f), why, whylen);
        if (st != OCRQ_OK)
            return st;
    }
    meta = ocrq_json_get(root, "metadata");
    if (!none(meta)) {
        if (ocrq_json_type(meta) != OCRQ_JSON_OBJECT)
            return job_fail(why, whylen, OCRQ_ERR_BAD_JOB, "metadata: must be a JSON object");
        job->metadata = ocrq_json_dump(meta, 0);
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
static int take_tail(struct ocrq_job *job, long long size, size_t max_inline,
                     const unsigned char *tail, size_t tail_len, int has_lf, char *why,
                     size_t whylen)
{
    if (job->doc_kind != OCRQ_DOC_INLINE) {
        if (tail_len > 0)
            return job_fail(why, whylen, OCRQ_ERR_BAD_JOB,
                            "document: kind %s carries no bytes, but %zu follow the JSON line",
                            kind_name(job->doc_kind), tail_len);
        return OCRQ_OK;
    }
    if ((uint64_t)size > (uint64_t)max_inline)
        return job_fail(why, whylen, OCRQ_ERR_TOO_LARGE,
                        "document.size: %lld bytes is over the inline limit of %zu bytes",
                        (long long)size, max_inline);
    if (!has_lf)
        return job_fail(why, whylen, OCRQ_ERR_BAD_JOB,
                        "document.size says %lld but no LF and no bytes follow the JSON line",
                        (long long)size);
    if ((uint64_t)size != (uint64_t)tail_len)
        return job_fail(why, whylen, OCRQ_ERR_BAD_JOB,
                        "document.size says %lld but %zu bytes follow", (long long)size, tail_len);
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
    struct ocrq_json *root = NULL;
    char jerr[200];
    long long size = 0;
    size_t jlen;
    int st;

    *out = NULL;
    if (id_hint)
        id_hint[0] = '\0';
    if (why && whylen > 0)
        why[0] = '\0';
    lf = b ? memchr(b, '\n', len < OCRQ_MAX_META_BYTES ? len : OCRQ_MAX_META_BYTES) : NULL;
    if (!lf && len > OCRQ_MAX_META_BYTES) {
        st = job_fail(why, whylen, OCRQ_ERR_BAD_JOB,
                      "body: metadata line too long (no LF in the "
                      "first %d bytes)",
                      OCRQ_MAX_META_BYTES);
        goto out;
    }
    jlen = lf ? (size_t)(lf - b) : len;
    if (ocrq_json_parse((const char *)b, jlen, OCRQ_JSON_UNIQUE_KEYS | OCRQ_JSON_WHY_AT, &root,
                        jerr, sizeof jerr) != OCRQ_OK) {
        st = job_fail(why, whylen, OCRQ_ERR_BAD_JOB, "body: the JSON line is not valid JSON (%s)",
                      jerr);
        goto out;
    }
    if (ocrq_json_type(root) != OCRQ_JSON_OBJECT) {
        st = job_fail(why, whylen, OCRQ_ERR_BAD_JOB, "body: the JSON line must be an object");
        goto out;
    }
    st = OCRQ_ERR_NOMEM;
    job = calloc(1, sizeof *job);
    if (!job)
        goto out;
    st = take_fields(root, job, &size, id_hint, why, whylen);
    if (st != OCRQ_OK)
        goto out;
    st = job_validate(job, 0, why, whylen);
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
    ocrq_json_free(root);
    return st;
}
