/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests for common/multipart_stream.c: the same parts and bytes as the
 * in-memory parser whatever the pieces the body is fed in (every split of a
 * small body, 1-byte feeds), a large binary part full of CRs, CRLFs and
 * near-delimiters passed through exactly, a preamble and an epilogue,
 * malformed bodies, too many parts, headers over the cap, and a callback's
 * error stopping the parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocrq/multipart.h"
#include "ocrq/multipart_stream.h"
#include "ocrq/status.h"

#define MAX_PARTS 8

/* What the callbacks saw. */
struct seen {
    size_t n;
    struct ocrq_multipart_part part[MAX_PARTS];
    unsigned char *data[MAX_PARTS];
    size_t len[MAX_PARTS], cap[MAX_PARTS];
    int ended[MAX_PARTS];
    int fail_on_data; /* return this from data (0: go on) */
};

static int on_begin(void *arg, const struct ocrq_multipart_part *p)
{
    struct seen *s = arg;
    assert_true(s->n < MAX_PARTS);
    assert_null(p->data);
    s->part[s->n] = *p;
    s->data[s->n] = NULL;
    s->len[s->n] = 0;
    s->cap[s->n] = 0;
    s->ended[s->n] = 0;
    s->n++;
    return OCRQ_OK;
}

static int on_data(void *arg, const unsigned char *d, size_t n)
{
    struct seen *s = arg;
    size_t i = s->n - 1;
    assert_true(s->n > 0 && !s->ended[i] && n > 0);
    if (s->fail_on_data)
        return s->fail_on_data;
    if (s->len[i] + n > s->cap[i]) { /* geometric: 1-byte feeds stay linear */
        s->cap[i] = (s->len[i] + n) * 2;
        s->data[i] = realloc(s->data[i], s->cap[i]);
        assert_non_null(s->data[i]);
    }
    memcpy(s->data[i] + s->len[i], d, n);
    s->len[i] += n;
    return OCRQ_OK;
}

static int on_end(void *arg)
{
    struct seen *s = arg;
    assert_true(s->n > 0);
    s->ended[s->n - 1] = 1;
    return OCRQ_OK;
}

static const struct ocrq_multipart_callbacks cbs = {on_begin, on_data, on_end};

static void seen_free(struct seen *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->data[i]);
    memset(s, 0, sizeof *s);
}

/* Feed body in pieces of step bytes (the first piece first_len); the status of finish. */
static int feed(const unsigned char *body, size_t len, const char *boundary, size_t first_len,
                size_t step, struct seen *s, size_t max_parts)
{
    struct ocrq_multipart_stream *mp = NULL;
    int st;

    assert_int_equal(ocrq_multipart_stream_new(boundary, &cbs, s, max_parts, &mp), OCRQ_OK);
    size_t off = 0, piece = first_len;
    while (off < len) {
        size_t n = piece < len - off ? piece : len - off;
        st = ocrq_multipart_stream_feed(mp, body + off, n);
        if (st != OCRQ_OK) {
            assert_int_equal(ocrq_multipart_stream_finish(mp), st);
            ocrq_multipart_stream_free(mp);
            return st;
        }
        off += n;
        piece = step;
    }
    st = ocrq_multipart_stream_finish(mp);
    ocrq_multipart_stream_free(mp);
    return st;
}

static const unsigned char bin[] = {0x89, 'P',  'N',  'G',  '\r', '\n', '-', '-',  'X',
                                    0,    '\n', 0xff, '\r', '\r', '\n', '-', '\r', '\n'};

static size_t build(unsigned char *out, const char *boundary, int preamble, int close)
{
    size_t n = 0;
    n += (size_t)sprintf((char *)out + n, "%s--%s\r\n", preamble ? "ignored\r\n--X\r\n" : "",
                         boundary);
    n += (size_t)sprintf((char *)out + n,
                         "Content-Disposition: form-data; name=\"priority\"\r\n\r\n8\r\n--%s\r\n",
                         boundary);
    n += (size_t)sprintf((char *)out + n, "content-disposition: form-data; name=file;"
                                          " filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n");
    memcpy(out + n, bin, sizeof bin);
    n += sizeof bin;
    n += (size_t)sprintf((char *)out + n, "\r\n--%s  \r\n\r\n\r\n--%s%s", boundary, boundary,
                         close ? "--\r\nepilogue --XyZ junk" : "");
    return n;
}

/* The streamed parts equal the in-memory parser's, for every way of cutting the body. */
static void same_as_in_memory(void **state)
{
    (void)state;
    unsigned char body[1024];
    struct ocrq_multipart_part ref[MAX_PARTS];
    size_t nref = 0;

    for (int preamble = 0; preamble <= 1; preamble++) {
        size_t len = build(body, "XyZ", preamble, 1);
        assert_int_equal(ocrq_multipart_parse(body, len, "XyZ", ref, MAX_PARTS, &nref), OCRQ_OK);
        assert_int_equal(nref, 3);
        for (size_t first = 1; first <= len; first++) {
            for (size_t step = 1; step <= 3; step++) {
                struct seen s = {0};
                assert_int_equal(
                    feed(body, len, "XyZ", first, step == 3 ? len : step, &s, MAX_PARTS), OCRQ_OK);
                assert_int_equal(s.n, nref);
                for (size_t i = 0; i < nref; i++) {
                    assert_string_equal(s.part[i].name, ref[i].name);
                    assert_string_equal(s.part[i].filename, ref[i].filename);
                    assert_string_equal(s.part[i].content_type, ref[i].content_type);
                    assert_int_equal(s.part[i].has_filename, ref[i].has_filename);
                    assert_int_equal(s.len[i], ref[i].len);
                    if (ref[i].len)
                        assert_memory_equal(s.data[i], ref[i].data, ref[i].len);
                    assert_true(s.ended[i]);
                }
                seen_free(&s);
            }
        }
    }
}

/* 3 MB of data made of CRs, CRLFs and delimiters cut short, fed in odd pieces. */
static void large_binary_part(void **state)
{
    (void)state;
    const char *boundary = "----ocrqBoundary7MA4YWxkTrZu0gW";
    size_t data_len = 3 * 1000 * 1000, cap = data_len + 1024, n = 0;
    unsigned char *data = malloc(data_len), *body = malloc(cap);
    char near[128];
    unsigned seed = 12345;

    assert_non_null(data);
    assert_non_null(body);
    snprintf(near, sizeof near, "\r\n--%s", boundary);
    for (size_t i = 0; i < data_len;) {
        seed = seed * 1103515245u + 12345u;
        unsigned r = (seed >> 16) % 100;
        if (r < 5 && i + strlen(near) < data_len) { /* a delimiter cut short, then a CR */
            size_t k = strlen(near) - 1 - (seed >> 8) % 3;
            memcpy(data + i, near, k);
            i += k;
            data[i++] = '\r';
        } else {
            data[i++] = r < 20 ? '\r' : r < 30 ? '\n' : (unsigned char)(seed >> 3);
        }
    }
    n += (size_t)sprintf((char *)body,
                         "--%s\r\nContent-Disposition: form-data; name=\"file\";"
                         " filename=\"big.bin\"\r\n\r\n",
                         boundary);
    memcpy(body + n, data, data_len);
    n += data_len;
    n += (size_t)sprintf((char *)body + n, "\r\n--%s--\r\n", boundary);

    const size_t steps[] = {1, 7, 32768, 65537, cap};
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        struct seen s = {0};
        assert_int_equal(feed(body, n, boundary, steps[k], steps[k], &s, 4), OCRQ_OK);
        assert_int_equal(s.n, 1);
        assert_string_equal(s.part[0].filename, "big.bin");
        assert_int_equal(s.len[0], data_len);
        assert_memory_equal(s.data[0], data, data_len);
        seen_free(&s);
    }
    free(data);
    free(body);
}

static int feed_str(const char *body, const char *boundary, size_t max_parts)
{
    struct seen s = {0};
    int st = feed((const unsigned char *)body, strlen(body), boundary, 1, 1, &s, max_parts);
    seen_free(&s);
    return st;
}

static void malformed(void **state)
{
    (void)state;
    unsigned char body[1024];
    struct seen s = {0};
    size_t len = build(body, "XyZ", 0, 0);

    /* no closing delimiter */
    assert_int_equal(feed(body, len, "XyZ", 5, 5, &s, MAX_PARTS), OCRQ_ERR_INVALID);
    seen_free(&s);
    /* another boundary: never a delimiter */
    len = build(body, "XyZ", 0, 1);
    assert_int_equal(feed(body, len, "Other", 5, 5, &s, MAX_PARTS), OCRQ_ERR_INVALID);
    assert_int_equal(s.n, 0);
    seen_free(&s);
    /* too many parts */
    assert_int_equal(feed(body, len, "XyZ", len, len, &s, 2), OCRQ_ERR_TOO_LARGE);
    seen_free(&s);
    /* headers without the blank line, junk after a delimiter, an empty body */
    assert_int_equal(feed_str("--b\r\nContent-Disposition: form-data; name=x\r\n--b--\r\n", "b", 4),
                     OCRQ_ERR_INVALID);
    assert_int_equal(feed_str("--b\r\n\r\nx\r\n--bjunk\r\n--b--", "b", 4), OCRQ_ERR_INVALID);
    assert_int_equal(feed_str("--b -x", "b", 4), OCRQ_ERR_INVALID);
    assert_int_equal(feed_str("", "b", 4), OCRQ_ERR_INVALID);
    /* a closing delimiter alone: no parts, well-formed */
    assert_int_equal(feed_str("--b--\r\n", "b", 4), OCRQ_OK);
    /* bad boundaries */
    struct ocrq_multipart_stream *mp = NULL;
    assert_int_equal(ocrq_multipart_stream_new("", &cbs, NULL, 4, &mp), OCRQ_ERR_INVALID);
    assert_int_equal(ocrq_multipart_stream_new("a\r\nb", &cbs, NULL, 4, &mp), OCRQ_ERR_INVALID);
    assert_null(mp);
}

static void headers_capped(void **state)
{
    (void)state;
    size_t cap = OCRQ_MULTIPART_HEADERS_MAX + 100;
    char *body = malloc(cap);

    assert_non_null(body);
    int n = snprintf(body, cap, "--b\r\nX-Long: ");
    memset(body + n, 'a', cap - (size_t)n - 1);
    body[cap - 1] = '\0';
    assert_int_equal(feed_str(body, "b", 4), OCRQ_ERR_INVALID);
    free(body);
}

/* A callback's status stops the parser and sticks. */
static void callback_error(void **state)
{
    (void)state;
    unsigned char body[1024];
    size_t len = build(body, "XyZ", 0, 1);
    struct seen s = {.fail_on_data = OCRQ_ERR_DB};
    struct ocrq_multipart_stream *mp = NULL;

    assert_int_equal(ocrq_multipart_stream_new("XyZ", &cbs, &s, MAX_PARTS, &mp), OCRQ_OK);
    assert_int_equal(ocrq_multipart_stream_feed(mp, body, len), OCRQ_ERR_DB);
    assert_int_equal(ocrq_multipart_stream_feed(mp, body, 1), OCRQ_ERR_DB);
    assert_int_equal(ocrq_multipart_stream_finish(mp), OCRQ_ERR_DB);
    assert_int_equal(ocrq_multipart_stream_parts(mp), 1);
    ocrq_multipart_stream_free(mp);
    seen_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_as_in_memory), cmocka_unit_test(large_binary_part),
        cmocka_unit_test(malformed),         cmocka_unit_test(headers_capped),
        cmocka_unit_test(callback_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
