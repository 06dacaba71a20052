/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests for common/random.c: random bytes of any length (zero, odd,
 * larger than one getrandom call needs) and base62 characters, no two
 * draws alike.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ocrq/random.h"
#include "ocrq/status.h"

static void bytes(void **state)
{
    unsigned char a[33], b[33], zero[33] = {0};
    (void)state;

    assert_int_equal(ocrq_random_bytes(a, 0), OCRQ_OK);
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    assert_int_equal(ocrq_random_bytes(a, sizeof a), OCRQ_OK);
    assert_int_equal(ocrq_random_bytes(b, sizeof b), OCRQ_OK);
    /* 264 bits: all zero or equal only with probability 2^-264 */
    assert_memory_not_equal(a, zero, sizeof a);
    assert_memory_not_equal(a, b, sizeof a);

    size_t big = 1 << 20; /* a large buffer is filled to its end */
    unsigned char *p = calloc(1, big);
    assert_non_null(p);
    assert_int_equal(ocrq_random_bytes(p, big), OCRQ_OK);
    assert_memory_not_equal(p + big - sizeof zero, zero, sizeof zero);
    free(p);
}

static void base62(void **state)
{
    char a[200], b[200];
    (void)state;

    assert_int_equal(ocrq_random_base62(a, 0), OCRQ_OK);
    assert_int_equal(ocrq_random_base62(a, sizeof a), OCRQ_OK);
    assert_int_equal(ocrq_random_base62(b, sizeof b), OCRQ_OK);
    int seen_digit = 0, seen_upper = 0, seen_lower = 0;
    for (size_t i = 0; i < sizeof a; i++) {
        char c = a[i];
        assert_true((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'));
        seen_digit |= c >= '0' && c <= '9';
        seen_upper |= c >= 'A' && c <= 'Z';
        seen_lower |= c >= 'a' && c <= 'z';
    }
    /* 200 draws miss a class of 10 of 62 with probability below 1e-15 */
    assert_true(seen_digit && seen_upper && seen_lower);
    assert_memory_not_equal(a, b, sizeof a);
}

int main(void)
{
    /* clang-format off */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bytes),
        cmocka_unit_test(base62),
    };
    /* clang-format on */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
