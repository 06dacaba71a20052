/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests for common/multipart.c: the boundary from a Content-Type
 * (quoted or not, refused when missing or too long), parts with their name,
 * filename, content type and exact bytes (binary data with CR, LF and "--"
 * inside), a preamble, a body without the closing delimiter, more parts
 * than room, and a part without the blank line after its headers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "ocrq/multipart.h"
#include "ocrq/status.h"

static void boundary_forms(void **state)
{
    (void)state;
    char b[OCRQ_MULTIPART_BOUNDARY_MAX + 1];
    char longer[200];

    assert_int_equal(ocrq_multipart_boundary("multipart/form-data; boundary=abc123", b), OCRQ_OK);
    assert_string_equal(b, "abc123");
    assert_int_equal(ocrq_multipart_boundary("Multipart/Form-Data;boundary=\"a b:c\"", b), OCRQ_OK);
    assert_string_equal(b, "a b:c");
    assert_int_equal(ocrq_multipart_boundary("multipart/form-data; charset=x; boundary=z9; q=1", b),
                     OCRQ_OK);
    assert_string_equal(b, "z9");
    assert_int_equal(ocrq_multipart_boundary("multipart/form-data", b), OCRQ_ERR_INVALID);
    assert_int_equal(ocrq_multipart_boundary("multipart/mixed; boundary=x", b), OCRQ_ERR_INVALID);
    assert_int_equal(ocrq_multipart_boundary("multipart/form-data; boundary=", b),
                     OCRQ_ERR_INVALID);
    assert_int_equal(ocrq_multipart_boundary(NULL, b), OCRQ_ERR_INVALID);
    snprintf(longer, sizeof longer, "multipart/form-data; boundary=%071d", 0);
    assert_int_equal(ocrq_multipart_boundary(longer, b), OCRQ_ERR_INVALID);
    /* a parameter whose name ends in "boundary" is not the boundary */
    assert_int_equal(ocrq_multipart_boundary("multipart/form-data; xboundary=no", b),
                     OCRQ_ERR_INVALID);
}

static const unsigned char bin[] = {0x89, 'P', 'N', 'G', '\r', '\n', '-', '-', 'X', 0, '\n', 0xff};

static size_t build(unsigned char *out, const char *boundary, int preamble, int close)
{
    size_t n = 0;
    n += (size_t)sprintf((char *)out + n, "%s--%s\r\n", preamble ? "ignored preamble\r\n" : "",
                         boundary);
    n += (size_t)sprintf((char *)out + n,
                         "Content-Disposition: form-data; name=\"priority\"\r\n\r\n8\r\n--%s\r\n",
                         boundary);
    n += (size_t)sprintf((char *)out + n,
                         "content-disposition: form-data; name=file; filename=\"a \\\"b\\\".png\""
                         "\r\nContent-Type: image/png\r\n\r\n");
    memcpy(out + n, bin, sizeof bin);
    n += sizeof bin;
    n += (size_t)sprintf((char *)out + n, "\r\n--%s\r\n\r\nno headers\r\n--%s%s", boundary,
                         boundary, close ? "--\r\n" : "");
    return n;
}

static void parts_and_bytes(void **state)
{
    (void)state;
    unsigned char body[1024];
    struct ocrq_multipart_part parts[4];
    size_t n = 0;

    for (int preamble = 0; preamble <= 1; preamble++) {
        size_t len = build(body, "XyZ", preamble, 1);
        assert_int_equal(ocrq_multipart_parse(body, len, "XyZ", parts, 4, &n), OCRQ_OK);
        assert_int_equal(n, 3);
        assert_string_equal(parts[0].name, "priority");
        assert_int_equal(parts[0].len, 1);
        assert_memory_equal(parts[0].data, "8", 1);
        assert_false(parts[0].has_filename);
        assert_string_equal(parts[1].name, "file");
        assert_true(parts[1].has_filename);
        assert_string_equal(parts[1].filename, "a \"b\".png");
        assert_string_equal(parts[1].content_type, "image/png");
        assert_int_equal(parts[1].len, sizeof bin);
        assert_memory_equal(parts[1].data, bin, sizeof bin);
        assert_string_equal(parts[2].name, "");
        assert_int_equal(parts[2].len, 10);
    }
}

/*
 * Issue 14, finding 9: a quoted value is one value. "name=file" inside the
 * filename's quotes is not the part's name, as in every other parser.
 */
static void multipart_quoted_param(void **state)
{
    (void)state;
    static const char hdr[] =
        "Content-Disposition: form-data; filename=\" name=file;\"; name=\"batch\"\r\n"
        "Content-Type: text/plain\r\n";
    struct ocrq_multipart_part part;

    memset(&part, 0, sizeof part);
    ocrq_multipart_part_headers(hdr, sizeof hdr - 1, &part);
    assert_string_equal(part.name, "batch");
    assert_true(part.has_filename);
    assert_string_equal(part.filename, " name=file;");

    static const char hdr2[] = "Content-Disposition: form-data; xname=\"file\"; NAME = \"a\\\"b\"; "
                               "name=second\r\n";
    memset(&part, 0, sizeof part);
    ocrq_multipart_part_headers(hdr2, sizeof hdr2 - 1, &part);
    assert_string_equal(part.name, "a\"b"); /* case and blanks as RFC 2183 allows; the first wins */
    assert_false(part.has_filename);

    char b[OCRQ_MULTIPART_BOUNDARY_MAX + 1];
    assert_int_equal(ocrq_multipart_boundary("multipart/form-data; charset=\"x; boundary=no\"; "
                                             "boundary=yes",
                                             b),
                     OCRQ_OK);
    assert_string_equal(b, "yes");
}

static void malformed(void **state)
{
    (void)state;
    unsigned char body[1024];
    struct ocrq_multipart_part parts[4];
    size_t n = 0, len;

    /* the last part never ends: no closing delimiter after it */
    len = build(body, "XyZ", 0, 0);
    len -= strlen("--XyZ") + 2; /* cut the final delimiter */
    assert_int_equal(ocrq_multipart_parse(body, len, "XyZ", parts, 4, &n), OCRQ_ERR_INVALID);
    /* another boundary */
    len = build(body, "XyZ", 0, 1);
    assert_int_equal(ocrq_multipart_parse(body, len, "Other", parts, 4, &n), OCRQ_ERR_INVALID);
    /* too many parts for the room given */
    assert_int_equal(ocrq_multipart_parse(body, len, "XyZ", parts, 2, &n), OCRQ_ERR_TOO_LARGE);
    /* headers without the blank line */
    const char *bad = "--b\r\nContent-Disposition: form-data; name=x\r\n--b--\r\n";
    assert_int_equal(
        ocrq_multipart_parse((const unsigned char *)bad, strlen(bad), "b", parts, 4, &n),
        OCRQ_ERR_INVALID);
    /* empty body, empty boundary */
    assert_int_equal(ocrq_multipart_parse((const unsigned char *)"", 0, "b", parts, 4, &n),
                     OCRQ_ERR_INVALID);
    assert_int_equal(ocrq_multipart_parse(body, len, "", parts, 4, &n), OCRQ_ERR_INVALID);
    /* a closing delimiter alone: no parts, well-formed */
    const char *none = "--b--\r\n";
    assert_int_equal(
        ocrq_multipart_parse((const unsigned char *)none, strlen(none), "b", parts, 4, &n),
        OCRQ_OK);
    assert_int_equal(n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(boundary_forms),
        cmocka_unit_test(parts_and_bytes),
        cmocka_unit_test(malformed),
        cmocka_unit_test(multipart_quoted_param),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
