/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests for common/json.c: the exact bytes ocrq's JSON output is made
 * of (compact, members in the order added), strings that are not UTF-8, and
 * what the parser refuses and says.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ocrq/json.h"
#include "ocrq/status.h"

/* Dump o (freed) and compare with want. */
static void expect_dump(struct ocrq_json *o, unsigned flags, const char *want)
{
    char *s = ocrq_json_dump(o, flags);
    assert_non_null(s);
    assert_string_equal(s, want);
    free(s);
    ocrq_json_free(o);
}

static void test_build_compact_in_order(void **state)
{
    (void)state;
    struct ocrq_json *o = ocrq_json_object(), *inner = ocrq_json_object(), *arr = ocrq_json_array();
    int bad = ocrq_json_set_str(o, "z", "last\"first\\");
    bad |= ocrq_json_set_int(o, "a", -42);
    bad |= ocrq_json_set_bool(o, "t", 1);
    bad |= ocrq_json_set_null(o, "n");
    bad |= ocrq_json_set_str(o, "s", NULL);
    bad |= ocrq_json_set_str(inner, "k", "v\n");
    bad |= ocrq_json_set(o, "inner", inner);
    bad |= ocrq_json_append_str(arr, "x");
    bad |= ocrq_json_append(arr, ocrq_json_object());
    bad |= ocrq_json_set(o, "arr", arr);
    assert_int_equal(bad, 0);
    expect_dump(o, 0,
                "{\"z\":\"last\\\"first\\\\\",\"a\":-42,\"t\":true,\"n\":null,\"s\":null,"
                "\"inner\":{\"k\":\"v\\n\"},\"arr\":[\"x\",{}]}");
}

static void test_reals(void **state)
{
    (void)state;
    struct ocrq_json *o = ocrq_json_object();
    assert_int_equal(ocrq_json_set_real(o, "x", 0.1), OCRQ_OK);
    assert_int_equal(ocrq_json_set_real(o, "y", 2), OCRQ_OK);
    expect_dump(o, OCRQ_JSON_FOR_PEOPLE, "{\"x\":0.1,\"y\":2.0}");
    o = ocrq_json_object();
    assert_int_equal(ocrq_json_set_real(o, "x", 0.1), OCRQ_OK);
    expect_dump(o, 0, "{\"x\":0.10000000000000001}"); /* reads back the same double */
}

/* Bytes that are not UTF-8 become U+FFFD instead of failing the whole output. */
static void test_not_utf8(void **state)
{
    (void)state;
    struct ocrq_json *o = ocrq_json_object();
    assert_int_equal(ocrq_json_set_str(o, "f", "caf\xc3\xa9-\xff.png"), OCRQ_OK);
    expect_dump(o, 0, "{\"f\":\"caf\xc3\xa9-\xef\xbf\xbd.png\"}");
    char *q = ocrq_json_quote("a\"\x01\xc3");
    assert_string_equal(q, "\"a\\\"\\u0001\xef\xbf\xbd\"");
    free(q);
    q = ocrq_json_quote(NULL);
    assert_string_equal(q, "null");
    free(q);
}

/* A failed allocation shows at the first add, and the value added is not leaked. */
static void test_null_containers(void **state)
{
    (void)state;
    assert_int_equal(ocrq_json_set_str(NULL, "k", "v"), OCRQ_ERR_NOMEM);
    assert_int_equal(ocrq_json_set(NULL, "k", ocrq_json_object()), OCRQ_ERR_NOMEM);
    assert_int_equal(ocrq_json_append(NULL, ocrq_json_array()), OCRQ_ERR_NOMEM);
    struct ocrq_json *o = ocrq_json_object();
    assert_int_equal(ocrq_json_set(o, "k", NULL), OCRQ_ERR_NOMEM);
    assert_null(ocrq_json_dump(NULL, 0));
    ocrq_json_free(o);
    ocrq_json_free(NULL);
}

static void test_parse_and_read(void **state)
{
    (void)state;
    static const char text[] = "{\"s\":\"ab\",\"i\":7,\"a\":[\"x\",1],\"n\":null,\"o\":{}}";
    static const char *const known[] = {"s", "i", "a", "n"};
    struct ocrq_json *v = NULL;
    size_t len = 0;
    char why[200];

    assert_int_equal(
        ocrq_json_parse(text, strlen(text), OCRQ_JSON_UNIQUE_KEYS, &v, why, sizeof why), OCRQ_OK);
    assert_int_equal(ocrq_json_type(v), OCRQ_JSON_OBJECT);
    assert_string_equal(ocrq_json_str(ocrq_json_get(v, "s"), &len), "ab");
    assert_int_equal(len, 2);
    assert_int_equal(ocrq_json_int(ocrq_json_get(v, "i")), 7);
    assert_null(ocrq_json_str(ocrq_json_get(v, "i"), NULL));
    assert_int_equal(ocrq_json_type(ocrq_json_get(v, "n")), OCRQ_JSON_NULL);
    assert_int_equal(ocrq_json_type(ocrq_json_get(v, "missing")), OCRQ_JSON_NONE);
    assert_int_equal(ocrq_json_size(ocrq_json_get(v, "a")), 2);
    assert_string_equal(ocrq_json_str(ocrq_json_at(ocrq_json_get(v, "a"), 0), NULL), "x");
    assert_null(ocrq_json_at(ocrq_json_get(v, "a"), 2));
    assert_string_equal(ocrq_json_key_not_in(v, known, 4), "o");
    assert_string_equal(ocrq_json_key_not_in(v, known, 0), "s"); /* none known: the first */
    ocrq_json_free(v);
}

static void test_parse_refused(void **state)
{
    (void)state;
    struct ocrq_json *v = (struct ocrq_json *)&v; /* must be cleared */
    char why[200];
    const char *dup = "{\"a\":1,\"a\":2}";

    assert_int_equal(ocrq_json_parse(dup, strlen(dup), OCRQ_JSON_UNIQUE_KEYS, &v, why, sizeof why),
                     OCRQ_ERR_INVALID);
    assert_null(v);
    assert_non_null(strstr(why, "duplicate object key"));
    assert_int_equal(ocrq_json_parse(dup, strlen(dup), 0, &v, NULL, 0), OCRQ_OK); /* last wins */
    assert_int_equal(ocrq_json_int(ocrq_json_get(v, "a")), 2);
    ocrq_json_free(v);
    assert_int_equal(ocrq_json_parse("x", 1, OCRQ_JSON_WHY_AT, &v, why, sizeof why),
                     OCRQ_ERR_INVALID);
    assert_string_equal(why, "byte 1: '[' or '{' expected near 'x'");
    assert_int_equal(ocrq_json_parse("\"s\"", 3, 0, &v, why, sizeof why), OCRQ_ERR_INVALID);
    assert_true(ocrq_json_is_object("{\"a\": [1]}"));
    assert_false(ocrq_json_is_object("[]"));
    assert_false(ocrq_json_is_object(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_compact_in_order),
        cmocka_unit_test(test_reals),
        cmocka_unit_test(test_not_utf8),
        cmocka_unit_test(test_null_containers),
        cmocka_unit_test(test_parse_and_read),
        cmocka_unit_test(test_parse_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
