/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * POST /v1/jobs: the three request forms turned into one job, checked by
 * the same rules as ocrq-submit (ocrq_job_validate) and encoded into the
 * same message (ocrq_job_encode):
 *   - a raw document body (Content-Type image/... or application/pdf),
 *     parameters in the query;
 *   - multipart/form-data with a "file" part, parameters as form fields
 *     (or in the query);
 *   - JSON {"url": ..., "priority": ..., ...}: the worker fetches the URL.
 * The first two arrive as uploads (api_upload.c): the document is inline
 * in the message, or a reference to the document store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "ocrq/config.h"
#include "ocrq/formats.h"
#include "ocrq/http.h"
#include "ocrq/job.h"
#include "ocrq/json.h"
#include "ocrq/sign.h"
#include "ocrq/status.h"
#include "ocrq/utf8.h"

#define MAX_SOURCE_CHARS 1024
#define FIELD_MAX 4096

/* The parameters of a request, as text (NULL: not given). */
struct params {
    char *priority, *language, *webhook_url, *batch, *metadata, *source, *url;
    char *formats; /* "hocr,pdf" */
};

static void params_free(struct params *p)
{
    free(p->priority);
    free(p->language);
    free(p->webhook_url);
    free(p->batch);
    free(p->metadata);
    free(p->source);
    free(p->url);
    free(p->formats);
}

/* Set *dst to a copy of n bytes of s (replacing what was there). */
static int set(char **dst, const char *s, size_t n)
{
    char *c = malloc(n + 1);
    if (!c)
        return OCRQ_ERR_NOMEM;
    memcpy(c, s, n);
    c[n] = '\0';
    free(*dst);
    *dst = c;
    return OCRQ_OK;
}

static const char *const param_names[] = {"priority", "language", "webhook_url", "batch",
                                          "metadata", "filename", "formats"};

static char **param_slot(struct params *p, const char *name)
{
    char **slots[] = {&p->priority, &p->language, &p->webhook_url, &p->batch,
                      &p->metadata, &p->source,   &p->formats};
    for (size_t i = 0; i < sizeof param_names / sizeof param_names[0]; i++)
        if (strcmp(name, param_names[i]) == 0)
            return slots[i];
    return NULL;
}

static int from_query(struct ocrq_http_req *req, struct params *p)
{
    for (size_t i = 0; i < sizeof param_names / sizeof param_names[0]; i++) {
        const char *v = ocrq_http_query(req, param_names[i]);
        if (v && set(param_slot(p, param_names[i]), v, strlen(v)) != OCRQ_OK)
            return OCRQ_ERR_NOMEM;
    }
    return OCRQ_OK;
}

static const char supported_types[] =
    "send an image or a PDF (Content-Type image/png, image/tiff, application/pdf, ...),"
    " multipart/form-data"
    " with a \"file\" part, or application/json with {\"url\": ...}";

/* A JSON value of a parameter as text: strings as they are, numbers printed. */
static int json_param(const struct ocrq_json *o, const char *key, char **dst)
{
    const struct ocrq_json *v = ocrq_json_get(o, key);
    enum ocrq_json_type type = ocrq_json_type(v);
    if (type == OCRQ_JSON_NONE || type == OCRQ_JSON_NULL)
        return OCRQ_OK;
    if (type == OCRQ_JSON_STRING) {
        size_t len;
        const char *s = ocrq_json_str(v, &len);
        return set(dst, s, len);
    }
    if (type == OCRQ_JSON_INTEGER) {
        char b[32];
        snprintf(b, sizeof b, "%lld", ocrq_json_int(v));
        return set(dst, b, strlen(b));
    }
    if (type == OCRQ_JSON_ARRAY && strcmp(key, "formats") == 0) {
        /* ["hocr", "pdf"] as "hocr,pdf"; apply_params() checks the names */
        char list[OCRQ_FMT_LIST_MAX + 2] = "";
        size_t used = 0;
        for (size_t i = 0; i < ocrq_json_size(v); i++) {
            const char *name = ocrq_json_str(ocrq_json_at(v, i), NULL);
            int w;
            if (!name || strchr(name, ','))
                return OCRQ_ERR_INVALID;
            w = snprintf(list + used, sizeof list - used, "%s%s", i ? "," : "", name);
            if (w < 0 || (size_t)w >= sizeof list - used)
                return OCRQ_ERR_INVALID;
            used += (size_t)w;
        }
        return set(dst, list, used);
    }
    if (type == OCRQ_JSON_OBJECT && strcmp(key, "metadata") == 0) {
        char *t = ocrq_json_dump(v, 0);
        if (!t)
            return OCRQ_ERR_NOMEM;
        free(*dst);
        *dst = t;
        return OCRQ_OK;
    }
    return OCRQ_ERR_INVALID;
}

/* JSON body: {"url": ...} and the parameters. Answers the request on a client error. */
static int parse_json(struct ocrq_http_req *req, const unsigned char *body, size_t len,
                      struct params *p)
{
    static const char *const keys[] = {"url",   "priority", "language", "webhook_url",
                                       "batch", "metadata", "formats"};
    struct ocrq_json *o = NULL;
    char jerr[160] = "";
    const char *k;
    int st = ocrq_json_parse((const char *)body, len, OCRQ_JSON_UNIQUE_KEYS, &o, jerr, sizeof jerr);

    if (st != OCRQ_OK || ocrq_json_type(o) != OCRQ_JSON_OBJECT) {
        api_error(req, 400, "invalid_json", "the body is not a JSON object%s%s", o ? "" : ": ",
                  o ? "" : jerr);
        ocrq_json_free(o);
        return OCRQ_ERR_INVALID;
    }
    k = ocrq_json_key_not_in(o, keys, sizeof keys / sizeof keys[0]);
    if (k) {
        api_error(req, 400, "invalid_parameter",
                  "unknown field \"%.64s\": want url, priority, language, webhook_url,"
                  " batch, metadata, formats",
                  k);
        st = OCRQ_ERR_INVALID;
        goto out;
    }
    char **dst[] = {&p->url,   &p->priority, &p->language, &p->webhook_url,
                    &p->batch, &p->metadata, &p->formats};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        st = json_param(o, keys[i], dst[i]);
        if (st == OCRQ_ERR_INVALID)
            api_error(req, 400, "invalid_parameter", "%s: wrong JSON type", keys[i]);
        if (st != OCRQ_OK)
            goto out;
    }
    if (!p->url) {
        api_error(req, 400, "invalid_parameter", "url is required in a JSON request");
        st = OCRQ_ERR_INVALID;
    }
out:
    ocrq_json_free(o);
    return st;
}

/* The form fields of a multipart upload, in order, onto p. Answers on a client error. */
static int form_fields(struct ocrq_http_req *req, const struct api_upload *up, struct params *p)
{
    const char *name, *value;
    size_t len;

    for (size_t i = 0; api_upload_field(up, i, &name, &value, &len); i++) {
        if (strcmp(name, "file") == 0) {
            if (value && !p->source && set(&p->source, value, strlen(value)) != OCRQ_OK)
                return OCRQ_ERR_NOMEM;
            continue;
        }
        char **slot = param_slot(p, name);
        if (!slot) {
            api_error(req, 400, "invalid_parameter",
                      "unknown form field \"%.64s\": want file, priority, language,"
                      " webhook_url, batch, metadata, formats",
                      name);
            return OCRQ_ERR_INVALID;
        }
        if (len > (strcmp(name, "metadata") == 0 ? OCRQ_MAX_META_BYTES : FIELD_MAX)) {
            api_error(req, 400, "invalid_parameter", "%s: too long", name);
            return OCRQ_ERR_INVALID;
        }
        if (set(slot, value, len) != OCRQ_OK)
            return OCRQ_ERR_NOMEM;
    }
    return OCRQ_OK;
}

int api_printable(const char *s, size_t max)
{
    size_t n = 0;
    for (const char *c = s; *c; c++, n++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f || n >= max)
            return 0;
    return n > 0 && ocrq_utf8_valid(s); /* else it could be neither stored nor answered */
}

/* Check the parameters and put them on job. Answers the request on a client error. */
static int apply_params(struct api *api, struct ocrq_http_req *req, struct params *p,
                        struct ocrq_job *job)
{
    if (p->priority) {
        char *end;
        long v = strtol(p->priority, &end, 10);
        if (!*p->priority || *end || v < 0 || v > 9) {
            api_error(req, 400, "invalid_parameter", "priority: want an integer 0-9");
            return OCRQ_ERR_INVALID;
        }
        job->priority = (int)v;
    }
    const char *lang = p->language && *p->language ? p->language : api->cfg->default_language;
    if (!ocrq_lang_valid(lang)) {
        api_error(req, 400, "invalid_parameter",
                  "language: want Tesseract language codes joined by '+', e.g. eng or eng+deu");
        return OCRQ_ERR_INVALID;
    }
    if (p->batch && (!api_printable(p->batch, MAX_BATCH_CHARS))) {
        api_error(req, 400, "invalid_parameter", "batch: 1-%d printable characters",
                  MAX_BATCH_CHARS);
        return OCRQ_ERR_INVALID;
    }
    if (p->metadata && !ocrq_json_is_object(p->metadata)) {
        api_error(req, 400, "invalid_parameter", "metadata: want a JSON object");
        return OCRQ_ERR_INVALID;
    }
    if (p->formats && *p->formats) {
        char why[128];
        if (ocrq_formats_parse(p->formats, &job->formats, why, sizeof why) != OCRQ_OK) {
            api_error(req, 400, "invalid_parameter", "formats: %s", why);
            return OCRQ_ERR_INVALID;
        }
    }
    if (p->source && !api_printable(p->source, MAX_SOURCE_CHARS)) {
        free(p->source);
        p->source = NULL;
    }
    if (!(job->language = strdup(lang)) ||
        (p->webhook_url && *p->webhook_url && !(job->webhook_url = strdup(p->webhook_url))) ||
        (p->batch && !(job->batch = strdup(p->batch))) ||
        (p->metadata && !(job->metadata = strdup(p->metadata))) ||
        (p->source && !(job->source = strdup(p->source)))) {
        api_error(req, 500, "internal", "out of memory");
        return OCRQ_ERR_NOMEM;
    }
    return OCRQ_OK;
}

/*
 * SHA-256 over the parameters and the document (its SHA-256 in hex, doc_sha,
 * "" for a URL): a repeated Idempotency-Key must match it.
 */
static void fingerprint(const struct ocrq_job *job, const char *doc_sha, const char *url,
                        char out[65])
{
    char fmts[OCRQ_FMT_LIST_MAX + 2] = "", *s = NULL;
    const char *dh = doc_sha;
    size_t n;

    /* only a job that asks for more than text adds its formats: older keys still match */
    if (job->formats & OCRQ_FMT_ARTIFACTS) {
        fmts[0] = '\n';
        ocrq_formats_str(job->formats, fmts + 1, sizeof fmts - 1);
    }
    n = (size_t)snprintf(NULL, 0, "%d\n%s\n%s\n%s\n%s\n%s\n%s%s", job->priority, job->language,
                         job->webhook_url ? job->webhook_url : "", job->batch ? job->batch : "",
                         job->metadata ? job->metadata : "", url ? url : "", dh, fmts);
    s = malloc(n + 1);
    if (!s ||
        snprintf(s, n + 1, "%d\n%s\n%s\n%s\n%s\n%s\n%s%s", job->priority, job->language,
                 job->webhook_url ? job->webhook_url : "", job->batch ? job->batch : "",
                 job->metadata ? job->metadata : "", url ? url : "", dh, fmts) < 0 ||
        ocrq_sha256_hex(s, n, out) != OCRQ_OK)
        out[0] = '\0';
    free(s);
}

/* The job's document from the upload: inline bytes, or the stored blob under its job id. */
static int set_document(struct ocrq_job *job, const struct api_upload_doc *d)
{
    if (d->content_type[0] && !(job->doc_content_type = strdup(d->content_type)))
        return OCRQ_ERR_NOMEM;
    if (!d->blob_id) {
        job->doc_kind = OCRQ_DOC_INLINE;
        job->doc_data = d->data; /* borrowed from the upload, which lives until the answer */
        job->doc_len = d->len;
        return OCRQ_OK;
    }
    snprintf(job->job_id, sizeof job->job_id, "%s", d->job_id); /* the blob's owner */
    job->doc_kind = OCRQ_DOC_STORED;
    job->doc_size = d->size;
    return (job->doc_ref = strdup(d->blob_id)) ? OCRQ_OK : OCRQ_ERR_NOMEM;
}

void api_job_free(struct api_job *j)
{
    if (!j)
        return;
    ocrq_job_free(j->job);
    free(j->msg);
    free(j);
}

int api_parse_job(struct api *api, struct ocrq_http_req *req, const char *key_name,
                  struct api_upload *up, struct api_job **out)
{
    const char *ctype = ocrq_http_header(req, "Content-Type");
    const char *idem = ocrq_http_header(req, "Idempotency-Key");
    struct params p = {0};
    struct api_upload_doc doc = {0};
    char why[256], doc_sha[65] = "";
    struct api_job *j = NULL;
    int st = OCRQ_ERR_INVALID;

    *out = NULL;
    if (idem && (!api_printable(idem, API_IDEM_KEY_MAX) || strlen(idem) > API_IDEM_KEY_MAX)) {
        api_error(req, 400, "invalid_parameter", "Idempotency-Key: 1-%d printable characters",
                  API_IDEM_KEY_MAX);
        goto out;
    }
    if (from_query(req, &p) != OCRQ_OK) {
        api_error(req, 500, "internal", "out of memory");
        goto out;
    }
    if (up) {
        api_upload_doc(up, &doc);
        if (form_fields(req, up, &p) != OCRQ_OK)
            goto out;
    } else if (!ctype) {
        api_error(req, 415, "unsupported_media_type", "no Content-Type: %s", supported_types);
        goto out;
    } else if (strncasecmp(ctype, "application/json", 16) == 0) {
        size_t len;
        const unsigned char *body = ocrq_http_body(req, &len);
        if (parse_json(req, body, len, &p) != OCRQ_OK)
            goto out;
    } else {
        api_error(req, 415, "unsupported_media_type", "Content-Type %.100s: %s", ctype,
                  supported_types);
        goto out;
    }

    j = calloc(1, sizeof *j);
    if (!j || !(j->job = ocrq_job_new())) {
        api_error(req, 500, "internal", "out of memory");
        goto out;
    }
    if (apply_params(api, req, &p, j->job) != OCRQ_OK)
        goto out;
    if (up)
        st = set_document(j->job, &doc);
    else if (!(j->job->doc_ref = strdup(p.url)) ||
             (!j->job->source && !(j->job->source = strdup(p.url))))
        st = OCRQ_ERR_NOMEM;
    else {
        j->job->doc_kind = OCRQ_DOC_URL;
        st = OCRQ_OK;
    }
    if (st != OCRQ_OK) {
        api_error(req, 500, "internal", "out of memory");
        goto out;
    }
    st = OCRQ_ERR_INVALID;
    if (ocrq_job_validate(j->job, why, sizeof why) != OCRQ_OK) {
        api_error(req, 400, "invalid_parameter", "%s", why);
        goto out;
    }
    if (ocrq_job_encode(j->job, &j->msg, &j->msg_len, why, sizeof why) != OCRQ_OK) {
        api_error(req, 400, "invalid_parameter", "%s", why);
        goto out;
    }
    if (idem) {
        snprintf(j->idem_key, sizeof j->idem_key, "%s", idem);
        if (doc.sha256)
            snprintf(doc_sha, sizeof doc_sha, "%s", doc.sha256);
        else if (doc.data)
            ocrq_sha256_hex(doc.data, doc.len, doc_sha);
        fingerprint(j->job, doc_sha, p.url, j->fingerprint);
    }
    snprintf(j->key_name, sizeof j->key_name, "%s", key_name);
    j->req = req;
    j->up = up;
    j->own_blob = doc.blob_id != NULL;
    *out = j;
    j = NULL;
    st = OCRQ_OK;
out:
    if (st != OCRQ_OK && !ocrq_http_status(req))
        api_error(req, 500, "internal", "out of memory");
    api_job_free(j);
    params_free(&p);
    return st;
}
