/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests for the job codec (common/job.c): round trips of the three
 * document kinds, every rejection path of the decoder and the encoder, the
 * language syntax, the CLI status line, and the optional "formats" field
 * with the format table (common/formats.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ocrq/formats.h"
#include "ocrq/job.h"
#include "ocrq/timestamp.h"
#include "ocrq/json.h"
#include "ocrq/status.h"
#include "ocrq/uuid.h"

#define ID "123e4567-e89b-42d3-a456-426614174000"
#define MAX_INLINE (1024 * 1024)

/* The fields of a valid url job; obj_with() replaces, drops or adds one. */
static const char *const base[][2] = {
    {"schema_version", "1"},
    {"job_id", "\"" ID "\""},
    {"priority", "3"},
    {"language", "\"eng\""},
    {"submitted_at", "\"2026-11-23T10:00:00.123Z\""},
    {"document", "{\"kind\":\"url\",\"url\":\"https://example.com/a.png\"}"},
};

static char objbuf[2 * OCRQ_MAX_META_BYTES];

/* The base object with key set to value (NULL: key left out; unknown key: appended). */
static const char *obj_with(const char *key, const char *value)
{
    size_t o = 0;
    int found = 0;

    objbuf[o++] = '{';
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++) {
        const char *v = base[i][1];
        if (strcmp(base[i][0], key) == 0) {
            found = 1;
            v = value;
            if (!v)
                continue;
        }
        o += (size_t)snprintf(objbuf + o, sizeof objbuf - o, "%s\"%s\":%s", o > 1 ? "," : "",
                              base[i][0], v);
    }
    if (!found && value)
        o += (size_t)snprintf(objbuf + o, sizeof objbuf - o, ",\"%s\":%s", key, value);
    snprintf(objbuf + o, sizeof objbuf - o, "}");
    return objbuf;
}

/* The outcome of one decode. */
struct res {
    int st;
    struct ocrq_job *job;
    char hint[OCRQ_UUID_LEN + 1];
    char why[512];
};

static struct res dec_bytes(const void *body, size_t len, size_t max_inline)
{
    struct res r;

    memset(r.hint, 'x', sizeof r.hint); /* must be cleared by the decoder */
    memset(r.why, 'x', sizeof r.why);
    r.job = (struct ocrq_job *)&r; /* must be cleared too */
    r.st = ocrq_job_decode(body, len, max_inline, &r.job, r.hint, r.why, sizeof r.why);
    return r;
}

static struct res dec(const char *body)
{
    return dec_bytes(body, strlen(body), MAX_INLINE);
}

/* Expect a rejection with st whose reason starts with prefix and whose id_hint is hint. */
static void expect_reject(struct res r, int st, const char *prefix, const char *hint)
{
    if (r.st != st || strncmp(r.why, prefix, strlen(prefix)) != 0)
        print_error("st=%d why=\"%s\", wanted %d \"%s...\"\n", r.st, r.why, st, prefix);
    assert_int_equal(r.st, st);
    assert_null(r.job);
    assert_true(strncmp(r.why, prefix, strlen(prefix)) == 0);
    assert_string_equal(r.hint, hint);
}

static void expect_bad(const char *body, const char *prefix)
{
    expect_reject(dec(body), OCRQ_ERR_BAD_JOB, prefix, ID);
}

static void test_roundtrip_inline_binary(void **state)
{
    static const unsigned char bytes[] = {0x89, 'P', 'N', 'G',  '\r', '\n', 0x1a,
                                          '\n', 0,   0,   '\n', 0xff, 0,    '\n'};
    struct ocrq_job *job = ocrq_job_new();
    unsigned char *body = NULL;
    size_t len = 0, jlen;
    char why[256];
    (void)state;

    assert_non_null(job);
    job->language = strdup("eng+deu");
    job->source = strdup("scan \"1\"\n.png");
    job->webhook_url = strdup("https://hooks.example.com/ocr");
    job->batch = strdup("b-1");
    job->metadata = strdup("{ \"customer\" : 42, \"tags\": [\"a\", \"b\"] }");
    job->priority = 8;
    job->doc_kind = OCRQ_DOC_INLINE;
    job->doc_content_type = strdup("image/png");
    job->doc_data = bytes;
    job->doc_len = sizeof bytes;
    assert_int_equal(ocrq_job_encode(job, &body, &len, why, sizeof why), OCRQ_OK);

    jlen = (size_t)((unsigned char *)memchr(body, '\n', len) - body);
    assert_int_equal(len, jlen + 1 + sizeof bytes);
    assert_memory_equal(body + jlen + 1, bytes, sizeof bytes);
    assert_int_equal(body[0], '{');
    assert_int_equal(body[jlen - 1], '}');

    struct res r = dec_bytes(body, len, MAX_INLINE);
    assert_int_equal(r.st, OCRQ_OK);
    assert_string_equal(r.hint, job->job_id);
    assert_string_equal(r.job->job_id, job->job_id);
    assert_int_equal(r.job->schema_version, 1);
    assert_int_equal(r.job->priority, 8);
    assert_string_equal(r.job->language, "eng+deu");
    assert_string_equal(r.job->submitted_at, job->submitted_at);
    assert_string_equal(r.job->source, "scan \"1\"\n.png");
    assert_string_equal(r.job->webhook_url, "https://hooks.example.com/ocr");
    assert_string_equal(r.job->batch, "b-1");
    assert_string_equal(r.job->metadata, "{\"customer\":42,\"tags\":[\"a\",\"b\"]}");
    assert_int_equal(r.job->doc_kind, OCRQ_DOC_INLINE);
    assert_null(r.job->doc_ref);
    assert_string_equal(r.job->doc_content_type, "image/png");
    assert_ptr_equal(r.job->doc_data, body + jlen + 1); /* borrowed, not copied */
    assert_int_equal(r.job->doc_len, sizeof bytes);

    ocrq_job_free(r.job);
    ocrq_job_free(job);
    free(body);
}

static void roundtrip_ref(enum ocrq_doc_kind kind, const char *ref)
{
    struct ocrq_job *job = ocrq_job_new();
    unsigned char *body = NULL, *withlf;
    size_t len = 0;
    char why[256];

    job->language = strdup("eng");
    job->doc_kind = kind;
    job->doc_ref = strdup(ref);
    assert_int_equal(ocrq_job_encode(job, &body, &len, why, sizeof why), OCRQ_OK);
    assert_null(memchr(body, '\n', len)); /* no LF, no bytes */

    struct res r = dec_bytes(body, len, MAX_INLINE);
    assert_int_equal(r.st, OCRQ_OK);
    assert_int_equal(r.job->doc_kind, kind);
    assert_string_equal(r.job->doc_ref, ref);
    assert_null(r.job->source);
    assert_null(r.job->webhook_url);
    assert_null(r.job->batch);
    assert_null(r.job->metadata);
    assert_null(r.job->doc_content_type);
    assert_int_equal(r.job->doc_len, 0);
    ocrq_job_free(r.job);

    /* A trailing LF with nothing after it is fine for url and path. */
    withlf = malloc(len + 1);
    memcpy(withlf, body, len);
    withlf[len] = '\n';
    r = dec_bytes(withlf, len + 1, MAX_INLINE);
    assert_int_equal(r.st, OCRQ_OK);
    assert_string_equal(r.job->doc_ref, ref);
    ocrq_job_free(r.job);

    free(withlf);
    free(body);
    ocrq_job_free(job);
}

static void test_roundtrip_url(void **state)
{
    (void)state;
    roundtrip_ref(OCRQ_DOC_URL, "https://example.com/scans/a%20b.png?x=1&y=\xc3\xa9");
    roundtrip_ref(OCRQ_DOC_URL, "HTTP://example.com/a.png");
}

static void test_roundtrip_path(void **state)
{
    (void)state;
    roundtrip_ref(OCRQ_DOC_PATH, "/srv/scans/\xc3\xa9t\xc3\xa9 \"1\".png");
}

static void test_job_new(void **state)
{
    struct ocrq_job *a = ocrq_job_new(), *b = ocrq_job_new();
    (void)state;

    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(a->schema_version, OCRQ_SCHEMA_VERSION);
    assert_true(ocrq_uuid_valid(a->job_id));
    assert_string_not_equal(a->job_id, b->job_id);
    assert_int_equal(a->priority, 0);
    assert_non_null(a->submitted_at);
    assert_null(a->language);
    ocrq_job_free(a);
    ocrq_job_free(b);
    ocrq_job_free(NULL);
}

static void test_timestamp_now(void **state)
{
    char ts[32];
    const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    (void)state;

    ocrq_timestamp_now(ts, sizeof ts);
    assert_int_equal(strlen(ts), strlen(shape));
    for (size_t i = 0; shape[i]; i++) {
        if (shape[i] == 'd')
            assert_true(ts[i] >= '0' && ts[i] <= '9');
        else
            assert_int_equal(ts[i], shape[i]);
    }
    assert_true(strncmp(ts, "2020", 4) > 0);
}

static void test_decode_minimal_and_lowercase(void **state)
{
    (void)state;
    struct res r = dec(obj_with("job_id", "\"123E4567-E89B-42D3-A456-426614174000\""));
    assert_int_equal(r.st, OCRQ_OK);
    assert_string_equal(r.job->job_id, ID);
    assert_string_equal(r.hint, ID);
    assert_int_equal(r.job->priority, 3);
    ocrq_job_free(r.job);
}

static void test_decode_ignores_unknown_and_nulls(void **state)
{
    (void)state;
    struct res r = dec(obj_with("future_field", "{\"anything\":[1,2,{}]}"));
    assert_int_equal(r.st, OCRQ_OK);
    ocrq_job_free(r.job);

    r = dec(obj_with("source", "null"));
    assert_int_equal(r.st, OCRQ_OK);
    assert_null(r.job->source);
    ocrq_job_free(r.job);
    r = dec(obj_with("metadata", "null"));
    assert_int_equal(r.st, OCRQ_OK);
    assert_null(r.job->metadata);
    ocrq_job_free(r.job);
    r = dec(obj_with("document", "{\"kind\":\"path\",\"path\":\"/a\",\"extra\":1}"));
    assert_int_equal(r.st, OCRQ_OK);
    ocrq_job_free(r.job);
}

static void test_reject_bad_json(void **state)
{
    (void)state;
    expect_reject(dec("{not json"), OCRQ_ERR_BAD_JOB, "body: the JSON line is not valid", "");
    expect_reject(dec(""), OCRQ_ERR_BAD_JOB, "body: the JSON line is not valid", "");
    expect_reject(dec_bytes(NULL, 0, MAX_INLINE), OCRQ_ERR_BAD_JOB, "body:", "");
    expect_reject(dec("[1,2]"), OCRQ_ERR_BAD_JOB, "body: the JSON line must be an object", "");
    expect_reject(dec("\"x\""), OCRQ_ERR_BAD_JOB, "body:", "");
    /* Trailing garbage on the line, a raw NUL, invalid UTF-8, duplicate keys. */
    expect_reject(dec("{\"a\":1} x"), OCRQ_ERR_BAD_JOB, "body: the JSON line is not valid", "");
    expect_reject(dec_bytes("{\"a\":\0}", 7, MAX_INLINE), OCRQ_ERR_BAD_JOB, "body:", "");
    expect_reject(dec("{\"a\":\"\xff\"}"), OCRQ_ERR_BAD_JOB, "body:", "");
    expect_reject(dec("{\"priority\":1,\"priority\":2}"), OCRQ_ERR_BAD_JOB, "body:", "");
}

static void test_reject_missing(void **state)
{
    (void)state;
    expect_reject(dec(obj_with("job_id", NULL)), OCRQ_ERR_BAD_JOB, "job_id: missing", "");
    expect_bad(obj_with("schema_version", NULL), "schema_version: missing");
    expect_bad(obj_with("priority", NULL), "priority: missing");
    expect_bad(obj_with("language", NULL), "language: missing");
    expect_bad(obj_with("language", "null"), "language: missing");
    expect_bad(obj_with("submitted_at", NULL), "submitted_at: missing");
    expect_bad(obj_with("document", NULL), "document: missing");
    expect_bad(obj_with("document", "{\"url\":\"https://a/b\"}"), "document.kind:");
    expect_bad(obj_with("document", "{\"kind\":\"url\"}"), "document.url: missing");
    expect_bad(obj_with("document", "{\"kind\":\"path\"}"), "document.path: missing");
    expect_bad(obj_with("document", "{\"kind\":\"inline\"}"), "document.size: missing");
}

static void test_reject_wrong_types(void **state)
{
    (void)state;
    expect_bad(obj_with("priority", "\"5\""), "priority: must be an integer 0-9");
    expect_bad(obj_with("priority", "5.0"), "priority: must be an integer 0-9");
    expect_bad(obj_with("priority", "true"), "priority: must be an integer 0-9");
    expect_bad(obj_with("priority", "10"), "priority: must be an integer 0-9");
    expect_bad(obj_with("priority", "-1"), "priority: must be an integer 0-9");
    expect_bad(obj_with("schema_version", "\"1\""), "schema_version: must be the integer 1");
    expect_bad(obj_with("language", "5"), "language: must be a string");
    expect_bad(obj_with("language", "\"eng-deu\""), "language: must be language names");
    expect_bad(obj_with("submitted_at", "1700000000"), "submitted_at: must be a string");
    expect_bad(obj_with("submitted_at", "\"yesterday\""), "submitted_at: must be an RFC 3339");
    expect_bad(obj_with("submitted_at", "\"2026-02-29T00:00:00Z\""), "submitted_at:");
    expect_bad(obj_with("submitted_at", "\"2026-11-23T10:00:00\""), "submitted_at:");
    expect_bad(obj_with("submitted_at", "\"2026-11-23T10:00:00+16:00\""), "submitted_at:");
    expect_bad(obj_with("submitted_at", "\"2026-11-23T24:00:00Z\""), "submitted_at:");
    expect_bad(obj_with("submitted_at", "\"2026-11-23T10:00:00.Z\""), "submitted_at:");
    expect_bad(obj_with("source", "5"), "source: must be a string");
    expect_bad(obj_with("webhook_url", "7"), "webhook_url: must be a string");
    expect_bad(obj_with("webhook_url", "\"ftp://x/y\""), "webhook_url: must be an http");
    expect_bad(obj_with("batch", "[]"), "batch: must be a string");
    expect_bad(obj_with("metadata", "\"x\""), "metadata: must be a JSON object");
    expect_bad(obj_with("metadata", "[1]"), "metadata: must be a JSON object");
    expect_bad(obj_with("document", "\"x\""), "document: must be an object");
    expect_bad(obj_with("document", "{\"kind\":\"ftp\"}"), "document.kind:");
    expect_bad(obj_with("document", "{\"kind\":1}"), "document.kind:");
    expect_bad(obj_with("document", "{\"kind\":\"inline\",\"size\":\"3\"}"), "document.size:");
    expect_bad(obj_with("document", "{\"kind\":\"inline\",\"size\":-1}"), "document.size:");
    expect_bad(obj_with("document", "{\"kind\":\"url\",\"url\":\"ftp://h/a.png\"}"),
               "document.url: must be an http:// or https:// URL");
    expect_bad(obj_with("document", "{\"kind\":\"url\",\"url\":\"https://\"}"), "document.url:");
    expect_bad(obj_with("document", "{\"kind\":\"url\",\"url\":\"http://a/\\nb\"}"),
               "document.url:");
    expect_bad(obj_with("document", "{\"kind\":\"path\",\"path\":\"scans/a.png\"}"),
               "document.path: must be an absolute path");
    expect_bad(obj_with("document", "{\"kind\":\"path\",\"path\":7}"), "document.path:");
    expect_bad(obj_with("document", "{\"kind\":\"inline\",\"size\":0,\"content_type\":1}"),
               "document.content_type:");
}

static void test_reject_caps(void **state)
{
    char big[8192];
    (void)state;

    snprintf(big, sizeof big, "\"%065d\"", 0);
    expect_bad(obj_with("language", big), "language: longer than 64 bytes");
    snprintf(big, sizeof big, "\"%01025d\"", 0);
    expect_bad(obj_with("source", big), "source: longer than 1024 bytes");
    snprintf(big, sizeof big, "\"%0257d\"", 0);
    expect_bad(obj_with("batch", big), "batch: longer than 256 bytes");
    snprintf(big, sizeof big, "{\"kind\":\"path\",\"path\":\"/%04096d\"}", 0);
    expect_bad(obj_with("document", big), "document.path: longer than 4096 bytes");
    /* At the cap is fine. */
    snprintf(big, sizeof big, "\"%01024d\"", 0);
    struct res r = dec(obj_with("source", big));
    assert_int_equal(r.st, OCRQ_OK);
    ocrq_job_free(r.job);
}

static void test_schema_version_2(void **state)
{
    (void)state;
    expect_bad(obj_with("schema_version", "2"), "schema_version: 2 is not supported");
}

static void test_id_hint(void **state)
{
    (void)state;
    /* A bad uuid gives an empty hint; a bad later field keeps it. */
    expect_reject(dec(obj_with("job_id", "\"123e4567-e89b-42d3-a456-42661417400\"")),
                  OCRQ_ERR_BAD_JOB, "job_id: must be a UUID", "");
    expect_reject(dec(obj_with("job_id", "\"123e4567-e89b-42d3-a456-42661417400g\"")),
                  OCRQ_ERR_BAD_JOB, "job_id: must be a UUID", "");
    expect_reject(dec(obj_with("job_id", "42")), OCRQ_ERR_BAD_JOB, "job_id: must be a UUID", "");
    expect_reject(dec(obj_with("priority", "12")), OCRQ_ERR_BAD_JOB, "priority:", ID);
    expect_reject(dec(obj_with("job_id", "\"123E4567-E89B-42D3-A456-426614174000\",\"priority\":"
                                         "null")),
                  OCRQ_ERR_BAD_JOB, "body:", ""); /* duplicate key: no hint from bad JSON */
}

/* A body: the JSON line of an inline document of declared size, LF, then n bytes. */
static size_t inline_body(unsigned char *buf, size_t cap, long long size, size_t n, int lf)
{
    char doc[128];
    size_t o;

    snprintf(doc, sizeof doc, "{\"kind\":\"inline\",\"size\":%lld}", size);
    o = (size_t)snprintf((char *)buf, cap, "%s", obj_with("document", doc));
    if (lf)
        buf[o++] = '\n';
    memset(buf + o, '\n', n); /* LF bytes in the document must not confuse anything */
    return o + n;
}

static void test_inline_sizes(void **state)
{
    static unsigned char buf[4096];
    size_t len;
    struct res r;
    (void)state;

    len = inline_body(buf, sizeof buf, 3, 3, 1);
    r = dec_bytes(buf, len, MAX_INLINE);
    assert_int_equal(r.st, OCRQ_OK);
    assert_int_equal(r.job->doc_len, 3);
    assert_memory_equal(r.job->doc_data, "\n\n\n", 3);
    ocrq_job_free(r.job);

    len = inline_body(buf, sizeof buf, 0, 0, 1); /* empty: the worker reports "empty" */
    r = dec_bytes(buf, len, MAX_INLINE);
    assert_int_equal(r.st, OCRQ_OK);
    assert_int_equal(r.job->doc_len, 0);
    ocrq_job_free(r.job);

    len = inline_body(buf, sizeof buf, 5, 3, 1);
    expect_reject(dec_bytes(buf, len, MAX_INLINE), OCRQ_ERR_BAD_JOB,
                  "document.size says 5 but 3 bytes follow", ID);
    len = inline_body(buf, sizeof buf, 2, 3, 1);
    expect_reject(dec_bytes(buf, len, MAX_INLINE), OCRQ_ERR_BAD_JOB,
                  "document.size says 2 but 3 bytes follow", ID);
    len = inline_body(buf, sizeof buf, 0, 0, 0);
    expect_reject(dec_bytes(buf, len, MAX_INLINE), OCRQ_ERR_BAD_JOB, "document.size says 0", ID);

    len = inline_body(buf, sizeof buf, 11, 11, 1);
    expect_reject(dec_bytes(buf, len, 10), OCRQ_ERR_TOO_LARGE, "document.size: 11 bytes", ID);
    r = dec_bytes(buf, len, 11);
    assert_int_equal(r.st, OCRQ_OK);
    ocrq_job_free(r.job);
    len = inline_body(buf, sizeof buf, 1LL << 40, 1, 1);
    expect_reject(dec_bytes(buf, len, MAX_INLINE), OCRQ_ERR_TOO_LARGE, "document.size:", ID);
}

static void test_ref_with_bytes(void **state)
{
    char buf[1024];
    (void)state;

    snprintf(buf, sizeof buf, "%s\nxyz", obj_with("priority", "1"));
    expect_bad(buf, "document: kind url carries no bytes, but 3 follow");
    snprintf(buf, sizeof buf, "%s\n\n", obj_with("priority", "1"));
    expect_bad(buf, "document: kind url carries no bytes, but 1 follow");
}

static void test_line_too_long(void **state)
{
    size_t n = OCRQ_MAX_META_BYTES + 10;
    char *big = malloc(n + 1);
    (void)state;

    memset(big, ' ', n);
    big[n] = '\0';
    expect_reject(dec_bytes(big, n, MAX_INLINE), OCRQ_ERR_BAD_JOB, "body: metadata line too long",
                  "");
    /* A valid line padded (JSON whitespace) past the cap before its LF. */
    const char *obj = obj_with("priority", "1");
    memcpy(big, obj, strlen(obj));
    big[n - 1] = '\n';
    expect_reject(dec_bytes(big, n, MAX_INLINE), OCRQ_ERR_BAD_JOB, "body: metadata line too long",
                  "");
    /* The same line within the cap is fine. */
    big[OCRQ_MAX_META_BYTES - 1] = '\n';
    struct res r = dec_bytes(big, OCRQ_MAX_META_BYTES, MAX_INLINE);
    assert_int_equal(r.st, OCRQ_OK);
    ocrq_job_free(r.job);
    free(big);
}

/* A valid url job for the encoder tests. */
static struct ocrq_job *url_job(void)
{
    struct ocrq_job *job = ocrq_job_new();
    job->language = strdup("eng");
    job->doc_kind = OCRQ_DOC_URL;
    job->doc_ref = strdup("http://example.com/x.png");
    return job;
}

/* Encoding (and, unless only_encode, validating) job fails with a reason starting with prefix. */
static void encode_bad(struct ocrq_job *job, const char *prefix, int only_encode)
{
    unsigned char *body = (unsigned char *)"x";
    size_t len = 99;
    char why[256];

    if (!only_encode)
        assert_int_equal(ocrq_job_validate(job, why, sizeof why), OCRQ_ERR_BAD_JOB);
    assert_int_equal(ocrq_job_encode(job, &body, &len, why, sizeof why), OCRQ_ERR_BAD_JOB);
    if (strncmp(why, prefix, strlen(prefix)) != 0)
        print_error("why=\"%s\", wanted \"%s...\"\n", why, prefix);
    assert_true(strncmp(why, prefix, strlen(prefix)) == 0);
    assert_null(body);
    assert_int_equal(len, 0);
    ocrq_job_free(job);
}

static void expect_encode_bad(struct ocrq_job *job, const char *prefix)
{
    encode_bad(job, prefix, 0);
}

static void test_encode_rejects(void **state)
{
    struct ocrq_job *job;
    (void)state;

    job = url_job();
    assert_int_equal(ocrq_job_validate(job, NULL, 0), OCRQ_OK);
    ocrq_job_free(job);

    job = url_job();
    strcpy(job->job_id, "not-a-uuid");
    expect_encode_bad(job, "job_id:");
    job = url_job();
    job->priority = 10;
    expect_encode_bad(job, "priority: must be an integer 0-9");
    job = url_job();
    free(job->language);
    job->language = NULL;
    expect_encode_bad(job, "language: missing");
    job = url_job();
    job->metadata = strdup("[1,2]");
    expect_encode_bad(job, "metadata: must be a JSON object");
    job = url_job();
    job->metadata = strdup("{\"a\":");
    expect_encode_bad(job, "metadata: must be a JSON object");
    job = url_job();
    free(job->doc_ref);
    job->doc_ref = strdup("ftp://example.com/x.png");
    expect_encode_bad(job, "document.url: must be an http:// or https:// URL");
    job = url_job();
    job->doc_kind = OCRQ_DOC_PATH;
    free(job->doc_ref);
    job->doc_ref = strdup("relative/x.png");
    expect_encode_bad(job, "document.path: must be an absolute path");
    job = url_job();
    job->doc_kind = 0;
    expect_encode_bad(job, "document.kind:");
    job = url_job();
    job->doc_kind = OCRQ_DOC_INLINE;
    job->doc_len = 5;
    expect_encode_bad(job, "document: inline bytes missing");
    job = url_job();
    job->source = strdup("bad \xff utf-8");
    expect_encode_bad(job, "source: not valid UTF-8");
    job = url_job();
    job->schema_version = 2;
    expect_encode_bad(job, "schema_version:");
    job = url_job();
    free(job->submitted_at);
    job->submitted_at = strdup("2026-13-01T00:00:00Z");
    expect_encode_bad(job, "submitted_at:");

    /* A JSON line over the cap. */
    job = url_job();
    job->metadata = malloc(OCRQ_MAX_META_BYTES + 16);
    memset(job->metadata, ' ', OCRQ_MAX_META_BYTES + 15);
    memcpy(job->metadata, "{\"k\":\"", 6);
    memset(job->metadata + 6, 'a', OCRQ_MAX_META_BYTES);
    strcpy(job->metadata + 6 + OCRQ_MAX_META_BYTES, "\"}");
    encode_bad(job, "metadata: the JSON line is", 1);
}

/* formats: a list round-trips; txt only (or none) leaves the field out, as old messages are. */
static void test_formats_roundtrip(void **state)
{
    static const unsigned sets[] = {0, OCRQ_FMT_TXT, OCRQ_FMT_HOCR, OCRQ_FMT_ALL,
                                    OCRQ_FMT_PDF | OCRQ_FMT_WORDS};
    (void)state;
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        struct ocrq_job *job = url_job();
        unsigned char *body = NULL;
        size_t len = 0;
        char why[256];

        job->formats = sets[i];
        assert_int_equal(ocrq_job_encode(job, &body, &len, why, sizeof why), OCRQ_OK);
        int has_field = memmem(body, len, "\"formats\"", 9) != NULL;
        assert_int_equal(has_field, (sets[i] & OCRQ_FMT_ARTIFACTS) != 0);
        struct res r = dec_bytes(body, len, MAX_INLINE);
        assert_int_equal(r.st, OCRQ_OK);
        /* without artifacts the decoder sees plain text only: 0 */
        assert_int_equal(r.job->formats, sets[i] & OCRQ_FMT_ARTIFACTS ? sets[i] : 0);
        ocrq_job_free(r.job);
        free(body);
        ocrq_job_free(job);
    }
}

static void test_formats_decode(void **state)
{
    (void)state;
    struct res r = dec(obj_with("formats", "[\"hocr\",\"pdf\",\"hocr\",\"txt\"]"));
    assert_int_equal(r.st, OCRQ_OK);
    assert_int_equal(r.job->formats, OCRQ_FMT_HOCR | OCRQ_FMT_PDF | OCRQ_FMT_TXT);
    ocrq_job_free(r.job);
    /* absent (an old message), null and [] all mean plain text only */
    const char *none[] = {NULL, "null", "[]"};
    for (size_t i = 0; i < 3; i++) {
        r = dec(obj_with("formats", none[i]));
        assert_int_equal(r.st, OCRQ_OK);
        assert_int_equal(r.job->formats, 0);
        ocrq_job_free(r.job);
    }
    expect_bad(obj_with("formats", "\"hocr\""), "formats: must be an array");
    expect_bad(obj_with("formats", "{}"), "formats: must be an array");
    expect_bad(obj_with("formats", "[\"docx\"]"), "formats: item 0 must be one of");
    expect_bad(obj_with("formats", "[\"hocr\",1]"), "formats: item 1 must be one of");
    expect_bad(obj_with("formats", "[\"HOCR\"]"), "formats: item 0 must be one of");
}

static void test_formats_encode_rejects(void **state)
{
    (void)state;
    struct ocrq_job *job = url_job();
    job->formats = 1u << 9;
    expect_encode_bad(job, "formats: unknown format bits");
}

static void test_formats_table(void **state)
{
    unsigned set = 99;
    char why[128], buf[OCRQ_FMT_LIST_MAX + 1];
    (void)state;

    assert_int_equal(ocrq_formats_parse("txt,hocr,alto,tsv,pdf,words", &set, why, sizeof why),
                     OCRQ_OK);
    assert_int_equal(set, OCRQ_FMT_ALL);
    assert_string_equal(ocrq_formats_str(set, buf, sizeof buf), "txt,hocr,alto,tsv,pdf,words");
    assert_int_equal(ocrq_formats_parse(" pdf , words", &set, why, sizeof why), OCRQ_OK);
    assert_int_equal(set, OCRQ_FMT_PDF | OCRQ_FMT_WORDS);
    assert_int_equal(ocrq_formats_parse("hocr,hocr", &set, why, sizeof why), OCRQ_OK);
    assert_int_equal(set, OCRQ_FMT_HOCR);
    assert_int_equal(ocrq_formats_parse("hocr,docx", &set, why, sizeof why), OCRQ_ERR_INVALID);
    assert_int_equal(set, 0);
    assert_string_equal(why, "unknown format 'docx': want txt, hocr, alto, tsv, pdf or words");
    assert_int_equal(ocrq_formats_parse("hocr,", &set, why, sizeof why), OCRQ_ERR_INVALID);
    assert_int_equal(ocrq_formats_parse("", &set, why, sizeof why), OCRQ_ERR_INVALID);
    assert_int_equal(ocrq_formats_parse(",pdf", &set, why, sizeof why), OCRQ_ERR_INVALID);
    char longlist[200];
    memset(longlist, 'a', sizeof longlist - 1);
    longlist[sizeof longlist - 1] = '\0';
    assert_int_equal(ocrq_formats_parse(longlist, &set, why, sizeof why), OCRQ_ERR_INVALID);
    assert_string_equal(ocrq_format_ext(OCRQ_FMT_ALTO), "xml");
    assert_string_equal(ocrq_format_ext(OCRQ_FMT_WORDS), "words.json");
    assert_string_equal(ocrq_format_content_type(OCRQ_FMT_PDF), "application/pdf");
    assert_string_equal(ocrq_format_name(OCRQ_FMT_TSV), "tsv");
    assert_null(ocrq_format_name(OCRQ_FMT_TSV | OCRQ_FMT_PDF));
    assert_int_equal(ocrq_format_from_name("words"), OCRQ_FMT_WORDS);
    assert_int_equal(ocrq_format_from_name("Words"), 0);
    assert_int_equal(ocrq_format_from_name(NULL), 0);
}

static void test_lang_valid(void **state)
{
    char s[80];
    (void)state;

    assert_true(ocrq_lang_valid("eng"));
    assert_true(ocrq_lang_valid("eng+deu"));
    assert_true(ocrq_lang_valid("chi_sim+eng+Fraktur"));
    assert_true(ocrq_lang_valid("a"));
    assert_false(ocrq_lang_valid(NULL));
    assert_false(ocrq_lang_valid(""));
    assert_false(ocrq_lang_valid("+"));
    assert_false(ocrq_lang_valid("eng+"));
    assert_false(ocrq_lang_valid("+eng"));
    assert_false(ocrq_lang_valid("eng++deu"));
    assert_false(ocrq_lang_valid("en g"));
    assert_false(ocrq_lang_valid("eng-deu"));
    assert_false(ocrq_lang_valid("../eng"));
    assert_false(ocrq_lang_valid("\xc3\xa9ng"));
    memset(s, 'a', 64);
    s[64] = '\0';
    assert_true(ocrq_lang_valid(s));
    s[64] = 'a';
    s[65] = '\0';
    assert_false(ocrq_lang_valid(s));
}

static void test_status_json(void **state)
{
    char *s;
    (void)state;

    s = ocrq_job_status_json(ID, "a \"b\"\\c\nd\x01.png", "failed", "bad\tthing");
    assert_string_equal(s, "{\"job_id\":\"" ID "\",\"source\":\"a \\\"b\\\"\\\\c\\nd\\u0001.png\","
                           "\"status\":\"failed\",\"error\":\"bad\\tthing\"}");
    free(s);
    s = ocrq_job_status_json(NULL, "x.png", "error", NULL);
    assert_string_equal(s, "{\"source\":\"x.png\",\"status\":\"error\"}");
    free(s);
    s = ocrq_job_status_json(ID, "caf\xc3\xa9-\xff.png", "queued", NULL);
    assert_string_equal(s, "{\"job_id\":\"" ID "\",\"source\":\"caf\xc3\xa9-\xef\xbf\xbd.png\","
                           "\"status\":\"queued\"}");
    free(s);
    s = ocrq_job_status_json(NULL, NULL, NULL, NULL);
    assert_string_equal(s, "{}");
    free(s);
}

static void test_json_is_object(void **state)
{
    (void)state;
    assert_true(ocrq_json_is_object("{}"));
    assert_true(ocrq_json_is_object(" {\"a\": [1, {\"b\": null}]} "));
    assert_false(ocrq_json_is_object(NULL));
    assert_false(ocrq_json_is_object(""));
    assert_false(ocrq_json_is_object("[]"));
    assert_false(ocrq_json_is_object("\"{}\""));
    assert_false(ocrq_json_is_object("{\"a\":1"));
    assert_false(ocrq_json_is_object("{} {}"));
}

/* submitted_at to epoch milliseconds, time zones and fractions included. */
static void timestamp_parse(void **state)
{
    long long ms = 0;
    (void)state;
    assert_int_equal(ocrq_timestamp_parse_ms("1970-01-01T00:00:00Z", &ms), OCRQ_OK);
    assert_true(ms == 0);
    assert_int_equal(ocrq_timestamp_parse_ms("2026-11-23T10:00:00.123Z", &ms), OCRQ_OK);
    assert_true(ms == 1795428000123LL);
    assert_int_equal(ocrq_timestamp_parse_ms("2026-11-23T12:00:00.1234+02:00", &ms), OCRQ_OK);
    assert_true(ms == 1795428000123LL);
    assert_int_equal(ocrq_timestamp_parse_ms("2026-11-23T09:30:00.5-00:30", &ms), OCRQ_OK);
    assert_true(ms == 1795428000500LL);
    assert_int_equal(ocrq_timestamp_parse_ms("2024-02-29T00:00:00Z", &ms), OCRQ_OK);
    assert_true(ms == 1709164800000LL);
    assert_int_equal(ocrq_timestamp_parse_ms("2023-02-29T00:00:00Z", &ms), OCRQ_ERR_INVALID);
    assert_int_equal(ocrq_timestamp_parse_ms("2026-11-23 10:00:00Z", &ms), OCRQ_ERR_INVALID);
    assert_int_equal(ocrq_timestamp_parse_ms(NULL, &ms), OCRQ_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(timestamp_parse),
        cmocka_unit_test(test_roundtrip_inline_binary),
        cmocka_unit_test(test_roundtrip_url),
        cmocka_unit_test(test_roundtrip_path),
        cmocka_unit_test(test_job_new),
        cmocka_unit_test(test_timestamp_now),
        cmocka_unit_test(test_decode_minimal_and_lowercase),
        cmocka_unit_test(test_decode_ignores_unknown_and_nulls),
        cmocka_unit_test(test_reject_bad_json),
        cmocka_unit_test(test_reject_missing),
        cmocka_unit_test(test_reject_wrong_types),
        cmocka_unit_test(test_reject_caps),
        cmocka_unit_test(test_schema_version_2),
        cmocka_unit_test(test_id_hint),
        cmocka_unit_test(test_inline_sizes),
        cmocka_unit_test(test_ref_with_bytes),
        cmocka_unit_test(test_line_too_long),
        cmocka_unit_test(test_encode_rejects),
        cmocka_unit_test(test_lang_valid),
        cmocka_unit_test(test_status_json),
        cmocka_unit_test(test_json_is_object),
        cmocka_unit_test(test_formats_roundtrip),
        cmocka_unit_test(test_formats_decode),
        cmocka_unit_test(test_formats_encode_rejects),
        cmocka_unit_test(test_formats_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
