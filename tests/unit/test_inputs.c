/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests of ocrq-submit's inputs (producer/inputs.c) on a scratch tree:
 * files, URLs and directories (-r) in a fixed order, what the walk skips,
 * arguments that cannot be used, and the --output names with their clashes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "inputs.h"
#include "ocrq/status.h"
#include "unit_files.h"

/* A scratch directory and the inputs expanded in a test. */
struct fixture {
    char dir[64];
    int cwd; /* the directory the test started in, back in teardown */
    struct input_list list;
    char **names;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/ocrq-test-inputs-XXXXXX");
    f->cwd = open(".", O_RDONLY | O_DIRECTORY);
    if (f->cwd < 0 || !mkdtemp(f->dir))
        return -1;
    /*
     * tree/  Z.png a.png b.txt .hidden.png fifo link-file -> a.png link-dir -> sub
     *        sub/c.png sub/.git/config sub/deeper/d.png empty/
     */
    if (unit_sh(f->dir, "mkdir -p tree/sub/.git tree/sub/deeper tree/empty && cd tree && "
                        "touch Z.png a.png b.txt .hidden.png sub/c.png sub/.git/config "
                        "sub/deeper/d.png && mkfifo fifo && ln -s a.png link-file && "
                        "ln -s sub link-dir") != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->names)
        inputs_free_names(f->names, f->list.n);
    inputs_free(&f->list);
    if (fchdir(f->cwd) != 0)
        return -1;
    close(f->cwd);
    unit_rm_tree(f->dir);
    free(f);
    return 0;
}

/* Expand args (NULL-terminated) in f's directory; returns the status. */
static int expand(struct fixture *f, int recursive, const char **args)
{
    size_t n = 0;
    while (args[n])
        n++;
    assert_int_equal(chdir(f->dir), 0);
    inputs_free(&f->list);
    return inputs_expand((char *const *)args, n, recursive, &f->list);
}

/* Input i is source, of kind, with that error (NULL: none). */
static void assert_input(const struct fixture *f, size_t i, const char *source,
                         enum input_kind kind, const char *error)
{
    assert_true(i < f->list.n);
    assert_string_equal(f->list.items[i].source, source);
    assert_int_equal(f->list.items[i].kind, kind);
    if (error)
        assert_string_equal(f->list.items[i].error ? f->list.items[i].error : "(none)", error);
    else
        assert_null(f->list.items[i].error);
}

static void recognizes_urls(void **state)
{
    (void)state;
    assert_true(inputs_is_url("http://h/x.png"));
    assert_true(inputs_is_url("HTTPS://h/x.png"));
    assert_false(inputs_is_url("ftp://h/x.png"));
    assert_false(inputs_is_url("http:/h"));
    assert_false(inputs_is_url("x.png"));
}

static void walks_a_directory_in_order(void **state)
{
    struct fixture *f = *state;
    const char *args[] = {"tree", NULL};

    assert_int_equal(expand(f, 1, args), OCRQ_OK);
    /* bytewise order in each directory; hidden entries, the fifo and the
     * link to a directory skipped; the link to a file kept */
    assert_int_equal(f->list.n, 6);
    assert_input(f, 0, "tree/Z.png", INPUT_FILE, NULL);
    assert_input(f, 1, "tree/a.png", INPUT_FILE, NULL);
    assert_input(f, 2, "tree/b.txt", INPUT_FILE, NULL);
    assert_input(f, 3, "tree/link-file", INPUT_FILE, NULL);
    assert_input(f, 4, "tree/sub/c.png", INPUT_FILE, NULL);
    assert_input(f, 5, "tree/sub/deeper/d.png", INPUT_FILE, NULL);
}

static void trailing_slash_not_doubled(void **state)
{
    struct fixture *f = *state;
    const char *args[] = {"tree/sub//", NULL};

    assert_int_equal(expand(f, 1, args), OCRQ_OK);
    assert_int_equal(f->list.n, 2);
    assert_input(f, 0, "tree/sub/c.png", INPUT_FILE, NULL);
    assert_input(f, 1, "tree/sub/deeper/d.png", INPUT_FILE, NULL);
}

static void directory_needs_r(void **state)
{
    struct fixture *f = *state;
    const char *args[] = {"tree", "tree/empty", NULL};

    assert_int_equal(expand(f, 0, args), OCRQ_OK);
    assert_int_equal(f->list.n, 2);
    assert_input(f, 0, "tree", INPUT_FILE, "is a directory (use -r to submit its files)");
    assert_input(f, 1, "tree/empty", INPUT_FILE, "is a directory (use -r to submit its files)");
    assert_int_equal(expand(f, 1, args + 1), OCRQ_OK); /* an empty directory gives nothing */
    assert_int_equal(f->list.n, 0);
}

static void arguments_in_their_order_with_errors_in_place(void **state)
{
    struct fixture *f = *state;
    const char *args[] = {"https://example.com/scan.png",
                          "tree/a.png",
                          "missing.png",
                          "",
                          "tree/fifo",
                          "tree/link-dir",
                          "tree/.hidden.png",
                          NULL};

    assert_int_equal(expand(f, 0, args), OCRQ_OK);
    assert_int_equal(f->list.n, 7);
    assert_input(f, 0, "https://example.com/scan.png", INPUT_URL, NULL);
    assert_input(f, 1, "tree/a.png", INPUT_FILE, NULL);
    assert_input(f, 2, "missing.png", INPUT_FILE, "No such file or directory");
    assert_input(f, 3, "", INPUT_FILE, "empty file name");
    assert_input(f, 4, "tree/fifo", INPUT_FILE, "not a regular file");
    /* named on the command line, a link to a directory is a directory, a hidden file a file */
    assert_input(f, 5, "tree/link-dir", INPUT_FILE, "is a directory (use -r to submit its files)");
    assert_input(f, 6, "tree/.hidden.png", INPUT_FILE, NULL);
}

static void nesting_has_a_limit(void **state)
{
    struct fixture *f = *state;
    const char *args[] = {"deep", NULL};
    char cmd[INPUTS_MAX_DEPTH * 2 + 64] = "mkdir -p deep";

    /* deep/d/d/.../d with INPUTS_MAX_DEPTH + 1 levels of d, a file at the bottom */
    for (int i = 0; i <= INPUTS_MAX_DEPTH; i++)
        strcat(cmd, "/d");
    assert_int_equal(unit_sh(f->dir, "%s && touch deep/top.png", cmd), 0);
    assert_int_equal(expand(f, 1, args), OCRQ_OK);
    assert_int_equal(f->list.n, 2);
    assert_string_equal(f->list.items[0].error, "directory nested too deep");
    assert_int_equal(strlen(f->list.items[0].source), strlen("deep") + 2 * (INPUTS_MAX_DEPTH + 1));
    assert_input(f, 1, "deep/top.png", INPUT_FILE, NULL);
}

static void output_names(void **state)
{
    struct fixture *f = *state;
    const char *args[] = {"http://h/a.png",          /* a */
                          "http://h/a-2.png",        /* a-2: taken as it is */
                          "https://h/x/a.jpg?v=1#p", /* a: taken, a-2 too: a-3 */
                          "missing.png",             /* an error: no name */
                          "http://h/scans/",         /* the last segment */
                          "http://h/x/..",           /* none: output */
                          "tree/.hidden.png",        /* a leading dot is no extension */
                          "http://h/book.tar.gz",    /* the last extension only */
                          "tree/a.png",              /* a-4 */
                          NULL};

    assert_int_equal(expand(f, 0, args), OCRQ_OK);
    assert_int_equal(inputs_output_names(&f->list, &f->names), OCRQ_OK);
    const char *want[] = {"a", "a-2", "a-3", NULL, "scans", "output", ".hidden", "book.tar", "a-4"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (want[i])
            assert_string_equal(f->names[i], want[i]);
        else
            assert_null(f->names[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(recognizes_urls),
        cmocka_unit_test_setup_teardown(walks_a_directory_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(trailing_slash_not_doubled, setup, teardown),
        cmocka_unit_test_setup_teardown(directory_needs_r, setup, teardown),
        cmocka_unit_test_setup_teardown(arguments_in_their_order_with_errors_in_place, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(nesting_has_a_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(output_names, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
