/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests of ocrq-submit's exit code (producer/submit_exit.c) from the
 * outcome of a run, as docs/design.md lists them: what stopped the run
 * first, then --timeout, then inputs or jobs that did not make it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ocrq/status.h"
#include "submit.h"
#include "submit_exit.h"

static void all_done_is_0(void **state)
{
    struct submit_result r = {.total = 3, .submitted = 3, .succeeded = 3};
    (void)state;
    assert_int_equal(submit_exit_code(&r), 0);
    r.succeeded = 0; /* without --wait: submitted is enough */
    assert_int_equal(submit_exit_code(&r), 0);
}

static void something_missing_is_1(void **state)
{
    struct submit_result r = {.total = 3, .submitted = 3, .succeeded = 2};
    (void)state;
    r.failed = 1;
    assert_int_equal(submit_exit_code(&r), EXIT_PARTIAL);
    r.failed = 0;
    r.canceled = 1;
    assert_int_equal(submit_exit_code(&r), EXIT_PARTIAL);
    r.canceled = 0;
    r.errors = 1; /* an input that could not be submitted */
    assert_int_equal(submit_exit_code(&r), EXIT_PARTIAL);
    assert_int_equal(EXIT_PARTIAL, 1);
}

static void timeout_is_4(void **state)
{
    struct submit_result r = {.total = 3, .submitted = 3, .succeeded = 1, .pending = 2};
    (void)state;
    r.timed_out = 1;
    assert_int_equal(submit_exit_code(&r), EXIT_TIMEOUT);
    r.failed = 1; /* a timeout says more than a failed job */
    assert_int_equal(submit_exit_code(&r), EXIT_TIMEOUT);
    assert_int_equal(EXIT_TIMEOUT, 4);
}

static void fatal_comes_first(void **state)
{
    struct submit_result r = {.timed_out = 1, .failed = 1, .errors = 1};
    (void)state;
    r.fatal = OCRQ_ERR_MQ; /* broker or database lost: 3 */
    assert_int_equal(submit_exit_code(&r), EXIT_UNAVAILABLE);
    r.fatal = OCRQ_ERR_DB;
    assert_int_equal(submit_exit_code(&r), EXIT_UNAVAILABLE);
    r.fatal = OCRQ_ERR_IO; /* a local file: 2, as a usage error */
    assert_int_equal(submit_exit_code(&r), EXIT_USAGE);
    r.fatal = OCRQ_ERR_NOMEM; /* anything else: 1 */
    assert_int_equal(submit_exit_code(&r), EXIT_PARTIAL);
    assert_int_equal(EXIT_UNAVAILABLE, 3);
    assert_int_equal(EXIT_USAGE, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(all_done_is_0),
        cmocka_unit_test(something_missing_is_1),
        cmocka_unit_test(timeout_is_4),
        cmocka_unit_test(fatal_comes_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
