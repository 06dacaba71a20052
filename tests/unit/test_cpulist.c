/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Unit tests of CPU lists: parsing, sharing among children, formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ocrq/cpulist.h"

static void parse_lists(void **state)
{
    int cpus[16];
    (void)state;
    assert_int_equal(ocrq_cpulist_parse("0-3,6", cpus, 16), 5);
    assert_int_equal(cpus[3], 3);
    assert_int_equal(cpus[4], 6);
    assert_int_equal(ocrq_cpulist_parse(" 6 , 1-2,2 ", cpus, 16), 3); /* sorted, distinct */
    assert_int_equal(cpus[0], 1);
    assert_int_equal(cpus[2], 6);
    assert_int_equal(ocrq_cpulist_parse("7", NULL, 0), 1);
    assert_int_equal(ocrq_cpulist_parse("0-1023", cpus, 2), 1024); /* counts past max */
}

static void parse_refuses(void **state)
{
    (void)state;
    const char *bad[] = {"", " ", "a", "1-", "-1", "3-1", "1,,2", "1,", "1024", "1 2", "0x1", NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_equal(ocrq_cpulist_parse(bad[i], NULL, 0), -1);
    assert_int_equal(ocrq_cpulist_parse(NULL, NULL, 0), -1);
}

static void share_among_children(void **state)
{
    int first, n;
    (void)state;
    /* 5 CPUs, 2 children: 3 + 2, contiguous, covering all */
    n = ocrq_cpulist_share(5, 2, 0, &first);
    assert_int_equal(first, 0);
    assert_int_equal(n, 3);
    n = ocrq_cpulist_share(5, 2, 1, &first);
    assert_int_equal(first, 3);
    assert_int_equal(n, 2);
    /* more children than CPUs: one CPU each, in turn */
    n = ocrq_cpulist_share(2, 5, 4, &first);
    assert_int_equal(first, 0);
    assert_int_equal(n, 1);
    n = ocrq_cpulist_share(2, 5, 3, &first);
    assert_int_equal(first, 1);
    /* every CPU given out exactly once when children <= CPUs */
    for (int c = 1; c <= 9; c++) {
        int next = 0;
        for (int k = 0; k < c; k++) {
            n = ocrq_cpulist_share(9, c, k, &first);
            assert_int_equal(first, next);
            assert_true(n >= 1);
            next += n;
        }
        assert_int_equal(next, 9);
    }
}

static void format_lists(void **state)
{
    char buf[64];
    int a[] = {0, 1, 2, 3, 6, 8, 9};
    (void)state;
    assert_string_equal(ocrq_cpulist_format(a, 7, buf, sizeof buf), "0-3,6,8-9");
    assert_string_equal(ocrq_cpulist_format(a + 4, 1, buf, sizeof buf), "6");
    assert_string_equal(ocrq_cpulist_format(a, 0, buf, sizeof buf), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_lists),
        cmocka_unit_test(parse_refuses),
        cmocka_unit_test(share_among_children),
        cmocka_unit_test(format_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
