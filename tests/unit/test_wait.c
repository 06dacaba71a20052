/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests of the part of ocrq-submit's --wait (producer/wait.c) that
 * needs no database: the --output directory made with its parents.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "ocrq/status.h"
#include "unit_files.h"
#include "wait.h"

static int setup(void **state)
{
    static char dir[64];
    snprintf(dir, sizeof dir, "/tmp/ocrq-test-wait-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    *state = dir;
    return 0;
}

static int teardown(void **state)
{
    unit_rm_tree(*state);
    return 0;
}

/* dir/rel is a directory. */
static int is_dir(const char *dir, const char *rel)
{
    char p[PATH_MAX];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static void makes_missing_parents(void **state)
{
    const char *dir = *state;
    char p[PATH_MAX];

    snprintf(p, sizeof p, "%s/a/b/c", dir);
    assert_int_equal(wait_make_dir(p), OCRQ_OK);
    assert_true(is_dir(dir, "a/b/c"));
    assert_int_equal(wait_make_dir(p), OCRQ_OK); /* there already: fine */
    snprintf(p, sizeof p, "%s/a/b/d/", dir);     /* a trailing slash */
    assert_int_equal(wait_make_dir(p), OCRQ_OK);
    assert_true(is_dir(dir, "a/b/d"));
}

static void refuses_a_file(void **state)
{
    const char *dir = *state;
    char p[PATH_MAX];

    assert_int_equal(unit_sh(dir, "touch file"), 0);
    snprintf(p, sizeof p, "%s/file", dir);
    errno = 0;
    assert_int_equal(wait_make_dir(p), OCRQ_ERR_IO);
    assert_int_equal(errno, ENOTDIR);
    snprintf(p, sizeof p, "%s/file/below", dir); /* a file in the way of a parent */
    errno = 0;
    assert_int_equal(wait_make_dir(p), OCRQ_ERR_IO);
    assert_int_equal(errno, ENOTDIR);
}

static void refuses_empty_and_too_long(void **state)
{
    static char longer[PATH_MAX + 2];
    (void)state;
    errno = 0;
    assert_int_equal(wait_make_dir(""), OCRQ_ERR_IO);
    assert_int_equal(errno, ENOENT);
    memset(longer, 'x', sizeof longer - 1);
    errno = 0;
    assert_int_equal(wait_make_dir(longer), OCRQ_ERR_IO);
    assert_int_equal(errno, ENAMETOOLONG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(makes_missing_parents, setup, teardown),
        cmocka_unit_test_setup_teardown(refuses_a_file, setup, teardown),
        cmocka_unit_test(refuses_empty_and_too_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
