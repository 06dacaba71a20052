/*
 * POST /v1/jobs: the three request forms turned into one job, checked by
 * the same rules as ocrq-submit (ocrq_job_validate) and encoded into the
 * same message (ocrq_job_encode):
 *   - a raw document body (Content-Type image/... or application/pdf),
 *     parameters in the query;
 *   - multipart/form-data with a "file" part, parameters as form fields
 *     (or in the query);
 *   - JSON {"url": ..., "priority": ..., ...}: the worker fetches the URL.
 */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "ocrq/config.h"
#include "ocrq/formats.h"
#include "ocrq/http.h"
#include "ocrq/job.h"
#include "ocrq/multipart.h"
#include "ocrq/sign.h"
#include "ocrq/status.h"

#define MAX_PARTS 16
#define MAX_BATCH_CHARS 255
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

/* The document types the workers decode, by their first bytes (docs/documents.md). */
static int known_document(const unsigned char *d, size_t n)
{
    /* a PDF may have up to 1 KiB of junk before its header, as readers allow */
    if (n >= 5 && memmem(d, n < 1024 + 5 ? n : 1024 + 5, "%PDF-", 5))
        return 1;
    if (n >= 8 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0)
        return 1;
    if (n >= 3 && memcmp(d, "\xff\xd8\xff", 3) == 0)
        return 1;
    if (n >= 4 && (memcmp(d, "II*\0", 4) == 0 || memcmp(d, "MM\0*", 4) == 0))
        return 1;
    if (n >= 6 && (memcmp(d, "GIF87a", 6) == 0 || memcmp(d, "GIF89a", 6) == 0))
        return 1;
    if (n >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0)
        return 1;
    if (n >= 2 && d[0] == 'B' && d[1] == 'M')
        return 1;
    if (n >= 3 && d[0] == 'P' && d[1] >= '1' && d[1] <= '6' && isspace(d[2]))
        return 1;
    if (n >= 12 && memcmp(d, "\0\0\0\x0cjP  \r\n\x87\n", 12) == 0)
        return 1;
    return 0;
}

static const char supported_types[] =
    "send an image or a PDF (Content-Type image/png, image/tiff, application/pdf, ...),"
    " multipart/form-data"
    " with a \"file\" part, or application/json with {\"url\": ...}";

/* A JSON value of a parameter as text: strings as they are, numbers printed. */
static int json_param(json_t *o, const char *key, char **dst)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return OCRQ_OK;
    if (json_is_string(v))
        return set(dst, json_string_value(v), json_string_length(v));
    if (json_is_integer(v)) {
        char b[32];
        snprintf(b, sizeof b, "%lld", (long long)json_integer_value(v));
        return set(dst, b, strlen(b));
    }
    if (json_is_array(v) && strcmp(key, "formats") == 0) {
        /* ["hocr", "pdf"] as "hocr,pdf"; apply_params() checks the names */
        char list[OCRQ_FMT_LIST_MAX + 2] = "";
        size_t i, used = 0;
        json_t *item;
        json_array_foreach(v, i, item)
        {
            const char *name = json_string_value(item);
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
    if (json_is_object(v) && strcmp(key, "metadata") == 0) {
        char *t = json_dumps(v, JSON_COMPACT);
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
    json_error_t jerr;
    json_t *o = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *k;
    json_t *v;
    int st = OCRQ_OK;

    if (!o || !json_is_object(o)) {
        api_error(req, 400, "invalid_json", "the body is not a JSON object%s%s", o ? "" : ": ",
                  o ? "" : jerr.text);
        json_decref(o);
        return OCRQ_ERR_INVALID;
    }
    json_object_foreach(o, k, v)
    {
        size_t i = 0;
        while (i < sizeof keys / sizeof keys[0] && strcmp(k, keys[i]) != 0)
            i++;
        if (i == sizeof keys / sizeof keys[0]) {
            api_error(req, 400, "invalid_parameter",
                      "unknown field \"%.64s\": want url, priority, language, webhook_url,"
                      " batch, metadata, formats",
                      k);
            st = OCRQ_ERR_INVALID;
            goto out;
        }
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
    json_decref(o);
    return st;
}

/* multipart/form-data: the "file" part and the fields. */
static int parse_multipart(struct ocrq_http_req *req, const char *ctype, const unsigned char *body,
                           size_t len, struct params *p, const unsigned char **doc, size_t *doc_len,
                           char *doc_type, size_t typelen)
{
    char boundary[OCRQ_MP_BOUNDARY_MAX + 1];
    struct ocrq_mp_part parts[MAX_PARTS];
    size_t n = 0;
    int st;

    if (ocrq_mp_boundary(ctype, boundary) != OCRQ_OK) {
        api_error(req, 400, "invalid_multipart", "multipart/form-data without a valid boundary");
        return OCRQ_ERR_INVALID;
    }
    st = ocrq_mp_parse(body, len, boundary, parts, MAX_PARTS, &n);
    if (st != OCRQ_OK) {
        api_error(req, 400, "invalid_multipart",
                  st == OCRQ_ERR_TOO_LARGE ? "more than %d parts"
                                           : "the multipart body is malformed (%d)",
                  MAX_PARTS);
        return OCRQ_ERR_INVALID;
    }
    *doc = NULL;
    for (size_t i = 0; i < n; i++) {
        struct ocrq_mp_part *pt = &parts[i];
        if (strcmp(pt->name, "file") == 0) {
            if (*doc) {
                api_error(req, 400, "invalid_multipart", "one \"file\" part per request");
                return OCRQ_ERR_INVALID;
            }
            *doc = pt->data;
            *doc_len = pt->len;
            snprintf(doc_type, typelen, "%s", pt->content_type);
            if (pt->has_filename && pt->filename[0] && !p->source &&
                set(&p->source, pt->filename, strlen(pt->filename)) != OCRQ_OK)
                return OCRQ_ERR_NOMEM;
            continue;
        }
        char **slot = param_slot(p, pt->name);
        if (!slot) {
            api_error(req, 400, "invalid_parameter",
                      "unknown form field \"%.64s\": want file, priority, language,"
                      " webhook_url, batch, metadata, formats",
                      pt->name);
            return OCRQ_ERR_INVALID;
        }
        if (pt->len > (strcmp(pt->name, "metadata") == 0 ? OCRQ_MAX_META_BYTES : FIELD_MAX)) {
            api_error(req, 400, "invalid_parameter", "%s: too long", pt->name);
            return OCRQ_ERR_INVALID;
        }
        if (set(slot, (const char *)pt->data, pt->len) != OCRQ_OK)
            return OCRQ_ERR_NOMEM;
    }
    if (!*doc) {
        api_error(req, 400, "invalid_multipart", "no \"file\" part");
        return OCRQ_ERR_INVALID;
    }
    return OCRQ_OK;
}

static int printable(const char *s, size_t max)
{
    size_t n = 0;
    for (; *s; s++, n++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f || n >= max)
            return 0;
    return n > 0;
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
    if (p->batch && (!printable(p->batch, MAX_BATCH_CHARS))) {
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
    if (p->source && !printable(p->source, MAX_SOURCE_CHARS)) {
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

/* SHA-256 over the parameters and the document: a repeated Idempotency-Key must match it. */
static void fingerprint(const struct ocrq_job *job, const unsigned char *doc, size_t len,
                        const char *url, char out[65])
{
    char dh[65] = "", fmts[OCRQ_FMT_LIST_MAX + 2] = "", *s = NULL;
    size_t n;

    if (doc)
        ocrq_sha256_hex(doc, len, dh);
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

void api_job_free(struct api_job *j)
{
    if (!j)
        return;
    ocrq_job_free(j->job);
    free(j->msg);
    free(j);
}

int api_parse_job(struct api *api, struct ocrq_http_req *req, const char *key_name,
                  struct api_job **out)
{
    const char *ctype = ocrq_http_header(req, "Content-Type");
    const char *idem = ocrq_http_header(req, "Idempotency-Key");
    struct params p = {0};
    const unsigned char *body, *doc = NULL;
    size_t len, doc_len = 0;
    char doc_type[128] = "", why[256];
    struct api_job *j = NULL;
    int st = OCRQ_ERR_INVALID;

    *out = NULL;
    body = ocrq_http_body(req, &len);
    if (idem && (!printable(idem, API_IDEM_KEY_MAX) || strlen(idem) > API_IDEM_KEY_MAX)) {
        api_error(req, 400, "invalid_parameter", "Idempotency-Key: 1-%d printable characters",
                  API_IDEM_KEY_MAX);
        goto out;
    }
    if (from_query(req, &p) != OCRQ_OK) {
        api_error(req, 500, "internal", "out of memory");
        goto out;
    }
    if (!ctype) {
        api_error(req, 415, "unsupported_media_type", "no Content-Type: %s", supported_types);
        goto out;
    } else if (strncasecmp(ctype, "image/", 6) == 0 ||
               strncasecmp(ctype, "application/pdf", 15) == 0) {
        doc = body;
        doc_len = len;
        size_t tl = strcspn(ctype, "; ");
        snprintf(doc_type, sizeof doc_type, "%.*s", (int)tl, ctype);
    } else if (strncasecmp(ctype, "multipart/form-data", 19) == 0) {
        if (parse_multipart(req, ctype, body, len, &p, &doc, &doc_len, doc_type, sizeof doc_type) !=
            OCRQ_OK)
            goto out;
    } else if (strncasecmp(ctype, "application/json", 16) == 0) {
        if (parse_json(req, body, len, &p) != OCRQ_OK)
            goto out;
    } else {
        api_error(req, 415, "unsupported_media_type", "Content-Type %.100s: %s", ctype,
                  supported_types);
        goto out;
    }
    if (!p.url) {
        if (doc_len == 0) {
            api_error(req, 400, "empty_document", "the document is empty");
            goto out;
        }
        if ((long long)doc_len > api->cfg->inline_max_bytes) {
            api_error(req, 413, "too_large", "the document is %zu bytes; the limit is %lld",
                      doc_len, api->cfg->inline_max_bytes);
            goto out;
        }
        if (!known_document(doc, doc_len)) {
            api_error(req, 415, "unsupported_media_type",
                      "the document is not a PDF or a PNG, JPEG, TIFF, GIF, WebP, BMP, PNM or"
                      " JPEG 2000 image");
            goto out;
        }
    }

    j = calloc(1, sizeof *j);
    if (!j || !(j->job = ocrq_job_new())) {
        api_error(req, 500, "internal", "out of memory");
        goto out;
    }
    if (apply_params(api, req, &p, j->job) != OCRQ_OK)
        goto out;
    if (p.url) {
        j->job->doc_kind = OCRQ_DOC_URL;
        if (!(j->job->doc_ref = strdup(p.url)) ||
            (!j->job->source && !(j->job->source = strdup(p.url)))) {
            api_error(req, 500, "internal", "out of memory");
            goto out;
        }
    } else {
        j->job->doc_kind = OCRQ_DOC_INLINE;
        j->job->doc_data = doc;
        j->job->doc_len = doc_len;
        if (doc_type[0] && !(j->job->doc_content_type = strdup(doc_type))) {
            api_error(req, 500, "internal", "out of memory");
            goto out;
        }
    }
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
        fingerprint(j->job, doc, doc_len, p.url, j->fingerprint);
    }
    /* doc_data stays borrowed from the request body, which lives until the answer */
    snprintf(j->key_name, sizeof j->key_name, "%s", key_name);
    j->req = req;
    j->acked = -1;
    *out = j;
    j = NULL;
    st = OCRQ_OK;
out:
    api_job_free(j);
    params_free(&p);
    return st;
}
