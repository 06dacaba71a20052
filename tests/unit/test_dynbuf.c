/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests for common/dynbuf.c: appends of bytes, strings and printf
 * output, the cap to the byte, the first error that frees the contents and
 * sticks, and handing the contents over.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ocrq/dynbuf.h"
#include "ocrq/status.h"

static void appends_and_takes(void **state)
{
    struct ocrq_dynbuf b;
    size_t len = 99;
    (void)state;

    ocrq_dynbuf_init(&b, 1000);
    assert_null(ocrq_dynbuf_ptr(&b));
    assert_int_equal(ocrq_dynbuf_add(&b, "ab\0c", 4), OCRQ_OK);
    assert_int_equal(ocrq_dynbuf_addstr(&b, "de"), OCRQ_OK);
    assert_int_equal(ocrq_dynbuf_printf(&b, "[%d:%s]", 42, "x"), OCRQ_OK);
    assert_int_equal(ocrq_dynbuf_add(&b, NULL, 0), OCRQ_OK);
    assert_int_equal(ocrq_dynbuf_len(&b), 12);
    assert_memory_equal(ocrq_dynbuf_ptr(&b), "ab\0cde[42:x]", 13); /* with its NUL */
    char *p = ocrq_dynbuf_take(&b, &len);
    assert_non_null(p);
    assert_int_equal(len, 12);
    assert_memory_equal(p, "ab\0cde[42:x]", 13);
    free(p);
    /* left empty, with its cap */
    assert_null(ocrq_dynbuf_ptr(&b));
    assert_int_equal(ocrq_dynbuf_len(&b), 0);
    assert_int_equal(ocrq_dynbuf_addstr(&b, "again"), OCRQ_OK);
    assert_string_equal(ocrq_dynbuf_ptr(&b), "again");
    ocrq_dynbuf_free(&b);
    ocrq_dynbuf_free(NULL);
}

static void empty_take_is_a_string(void **state)
{
    struct ocrq_dynbuf b;
    size_t len = 99;
    (void)state;

    ocrq_dynbuf_init(&b, 0);
    char *p = ocrq_dynbuf_take(&b, &len);
    assert_non_null(p);
    assert_string_equal(p, "");
    assert_int_equal(len, 0);
    free(p);
}

static void cap_to_the_byte(void **state)
{
    struct ocrq_dynbuf b;
    (void)state;

    ocrq_dynbuf_init(&b, 5);
    assert_int_equal(ocrq_dynbuf_addstr(&b, "abc"), OCRQ_OK);
    assert_int_equal(ocrq_dynbuf_addstr(&b, "de"), OCRQ_OK); /* exactly the cap */
    assert_string_equal(ocrq_dynbuf_ptr(&b), "abcde");
    assert_int_equal(ocrq_dynbuf_add(&b, "f", 1), OCRQ_ERR_TOO_LARGE);
    ocrq_dynbuf_free(&b);

    ocrq_dynbuf_init(&b, 5);
    assert_int_equal(ocrq_dynbuf_printf(&b, "%s", "123456"), OCRQ_ERR_TOO_LARGE);
    ocrq_dynbuf_free(&b);

    ocrq_dynbuf_init(&b, 5); /* a length that would wrap around size_t */
    assert_int_equal(ocrq_dynbuf_add(&b, "x", 1), OCRQ_OK);
    assert_int_equal(ocrq_dynbuf_add(&b, "y", SIZE_MAX), OCRQ_ERR_TOO_LARGE);
    ocrq_dynbuf_free(&b);
}

static void first_error_sticks(void **state)
{
    struct ocrq_dynbuf b;
    size_t len = 99;
    (void)state;

    ocrq_dynbuf_init(&b, 4);
    assert_int_equal(ocrq_dynbuf_addstr(&b, "abc"), OCRQ_OK);
    assert_int_equal(ocrq_dynbuf_addstr(&b, "de"), OCRQ_ERR_TOO_LARGE);
    /* the contents are gone, and a later append that would fit fails too */
    assert_null(ocrq_dynbuf_ptr(&b));
    assert_int_equal(ocrq_dynbuf_len(&b), 0);
    assert_int_equal(ocrq_dynbuf_add(&b, "x", 1), OCRQ_ERR_TOO_LARGE);
    assert_int_equal(ocrq_dynbuf_printf(&b, "%d", 1), OCRQ_ERR_TOO_LARGE);
    assert_int_equal(ocrq_dynbuf_status(&b), OCRQ_ERR_TOO_LARGE);
    assert_null(ocrq_dynbuf_take(&b, &len));
    assert_int_equal(len, 0);
    /* take (like free) forgets the error */
    assert_int_equal(ocrq_dynbuf_status(&b), OCRQ_OK);
    assert_int_equal(ocrq_dynbuf_addstr(&b, "ok"), OCRQ_OK);
    assert_string_equal(ocrq_dynbuf_ptr(&b), "ok");
    ocrq_dynbuf_free(&b);
}

static void out_of_memory(void **state)
{
    struct ocrq_dynbuf b;
    (void)state;

#ifdef __SANITIZE_ADDRESS__
    skip(); /* ASan reports an allocation this large instead of failing it */
#endif
    ocrq_dynbuf_init(&b, SIZE_MAX); /* no cap to speak of: the allocation fails */
    assert_int_equal(ocrq_dynbuf_addstr(&b, "abc"), OCRQ_OK);
    assert_int_equal(ocrq_dynbuf_add(&b, "x", SIZE_MAX / 2), OCRQ_ERR_NOMEM);
    assert_null(ocrq_dynbuf_ptr(&b));
    assert_int_equal(ocrq_dynbuf_addstr(&b, "y"), OCRQ_ERR_NOMEM);
    ocrq_dynbuf_free(&b);
}

static void grows_past_its_first_block(void **state)
{
    struct ocrq_dynbuf b;
    char chunk[100];
    (void)state;

    memset(chunk, 'z', sizeof chunk);
    ocrq_dynbuf_init(&b, 100000);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(ocrq_dynbuf_add(&b, chunk, sizeof chunk), OCRQ_OK);
    assert_int_equal(ocrq_dynbuf_len(&b), 100000);
    assert_int_equal(strlen(ocrq_dynbuf_ptr(&b)), 100000);
    assert_int_equal(ocrq_dynbuf_add(&b, "z", 1), OCRQ_ERR_TOO_LARGE);
    ocrq_dynbuf_free(&b);
}

int main(void)
{
    /* clang-format off */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(appends_and_takes),
        cmocka_unit_test(empty_take_is_a_string),
        cmocka_unit_test(cap_to_the_byte),
        cmocka_unit_test(first_error_sticks),
        cmocka_unit_test(out_of_memory),
        cmocka_unit_test(grows_past_its_first_block),
    };
    /* clang-format on */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
