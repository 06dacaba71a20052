/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests for common/pathcheck.c on a temporary tree made with mkdtemp:
 *   T/root/{a.txt, sub/b.txt, dir/, in_link -> sub/b.txt, out_link -> ../outside/secret.txt,
 *           outdir_link -> ../outside}
 *   T/rootx/c.txt (a sibling whose name starts with the root's), T/outside/secret.txt,
 *   T/root_alias -> root
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ocrq/pathcheck.h"
#include "ocrq/status.h"
#include "unit_files.h"

static char tmp[PATH_MAX];  /* T, resolved */
static char root[PATH_MAX]; /* T/root */

static void pathf(char *buf, const char *rel)
{
    int n = snprintf(buf, PATH_MAX, "%s/%s", tmp, rel);
    assert_true(n > 0 && n < PATH_MAX);
}

static int make_file(const char *rel)
{
    char p[PATH_MAX];
    pathf(p, rel);
    FILE *f = fopen(p, "w");
    if (!f)
        return -1;
    fputs("document\n", f);
    return fclose(f);
}

static int make_dir(const char *rel)
{
    char p[PATH_MAX];
    pathf(p, rel);
    return mkdir(p, 0700);
}

static int make_link(const char *target, const char *rel)
{
    char p[PATH_MAX];
    pathf(p, rel);
    return symlink(target, p);
}

static int setup(void **state)
{
    (void)state;
    char templ[] = "/tmp/ocrq-pathcheck-XXXXXX";
    if (!mkdtemp(templ) || !realpath(templ, tmp))
        return -1;
    pathf(root, "root");
    if (make_dir("root") || make_dir("root/sub") || make_dir("root/dir") || make_dir("rootx") ||
        make_dir("outside") || make_file("root/a.txt") || make_file("root/sub/b.txt") ||
        make_file("rootx/c.txt") || make_file("outside/secret.txt") ||
        make_link("sub/b.txt", "root/in_link") ||
        make_link("../outside/secret.txt", "root/out_link") ||
        make_link("../outside", "root/outdir_link") || make_link("root", "root_alias"))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (tmp[0] == '\0')
        return -1;
    return unit_rm_tree(tmp);
}

/* Check path against roots; expect st, and on success the resolved path want (relative to T). */
static void expect(const char *path, const char *const *roots, size_t nroots, int st,
                   const char *want)
{
    char *resolved = (char *)"sentinel";
    char why[256] = "sentinel";
    int rc = ocrq_path_check(path, roots, nroots, &resolved, why, sizeof why);
    assert_int_equal(rc, st);
    if (st == OCRQ_OK) {
        char full[PATH_MAX];
        pathf(full, want);
        assert_non_null(resolved);
        assert_string_equal(resolved, full);
        free(resolved);
    } else {
        assert_null(resolved);
        assert_true(why[0] != '\0' && strcmp(why, "sentinel") != 0);
    }
}

static void file_inside_root_ok(void **state)
{
    (void)state;
    const char *roots[] = {root};
    char p[PATH_MAX];
    pathf(p, "root/a.txt");
    expect(p, roots, 1, OCRQ_OK, "root/a.txt");
    pathf(p, "root/sub/b.txt");
    expect(p, roots, 1, OCRQ_OK, "root/sub/b.txt");
    pathf(p, "root//sub/./b.txt");
    expect(p, roots, 1, OCRQ_OK, "root/sub/b.txt");
}

static void second_root_and_aliased_root_ok(void **state)
{
    (void)state;
    char other[PATH_MAX], alias[PATH_MAX], p[PATH_MAX];
    pathf(other, "rootx");
    pathf(alias, "root_alias");
    const char *roots[] = {"/nonexistent-ocrq-root", other, alias};
    pathf(p, "root/a.txt");
    expect(p, roots, 3, OCRQ_OK, "root/a.txt"); /* the root is resolved too */
    pathf(p, "rootx/c.txt");
    expect(p, roots, 3, OCRQ_OK, "rootx/c.txt");
}

static void relative_path_refused(void **state)
{
    (void)state;
    const char *roots[] = {root};
    expect("a.txt", roots, 1, OCRQ_ERR_PATH, NULL);
    expect("./a.txt", roots, 1, OCRQ_ERR_PATH, NULL);
    expect("", roots, 1, OCRQ_ERR_PATH, NULL);
    assert_int_equal(chdir(root), 0);
    expect("a.txt", roots, 1, OCRQ_ERR_PATH, NULL); /* even where it would resolve inside */
    assert_int_equal(chdir("/"), 0);
}

static void dotdot_refused(void **state)
{
    (void)state;
    const char *roots[] = {root};
    char p[PATH_MAX];
    pathf(p, "root/sub/../a.txt"); /* resolves inside the root, still refused */
    expect(p, roots, 1, OCRQ_ERR_PATH, NULL);
    pathf(p, "root/../outside/secret.txt");
    expect(p, roots, 1, OCRQ_ERR_PATH, NULL);
    pathf(p, "root/sub/..");
    expect(p, roots, 1, OCRQ_ERR_PATH, NULL);
}

static void dots_in_names_ok(void **state)
{
    (void)state;
    const char *roots[] = {root};
    char p[PATH_MAX];
    assert_int_equal(make_file("root/..data"), 0);
    pathf(p, "root/..data");
    expect(p, roots, 1, OCRQ_OK, "root/..data");
}

static void symlink_escaping_root_refused(void **state)
{
    (void)state;
    const char *roots[] = {root};
    char p[PATH_MAX];
    pathf(p, "root/out_link");
    expect(p, roots, 1, OCRQ_ERR_PATH, NULL);
    pathf(p, "root/outdir_link/secret.txt");
    expect(p, roots, 1, OCRQ_ERR_PATH, NULL);
}

static void symlink_inside_root_ok(void **state)
{
    (void)state;
    const char *roots[] = {root};
    char p[PATH_MAX];
    pathf(p, "root/in_link");
    expect(p, roots, 1, OCRQ_OK, "root/sub/b.txt");
}

static void sibling_with_root_prefix_refused(void **state)
{
    (void)state;
    const char *roots[] = {root};
    char p[PATH_MAX];
    pathf(p, "rootx/c.txt"); /* ".../rootx" starts with ".../root" but is not under it */
    expect(p, roots, 1, OCRQ_ERR_PATH, NULL);
}

static void directory_refused(void **state)
{
    (void)state;
    const char *roots[] = {root};
    char p[PATH_MAX];
    pathf(p, "root/dir");
    expect(p, roots, 1, OCRQ_ERR_PATH, NULL);
    expect(root, roots, 1, OCRQ_ERR_PATH, NULL); /* the root itself */
}

static void nonexistent_refused(void **state)
{
    (void)state;
    const char *roots[] = {root};
    char p[PATH_MAX];
    pathf(p, "root/missing.txt");
    expect(p, roots, 1, OCRQ_ERR_PATH, NULL);
    pathf(p, "root/a.txt/x");
    expect(p, roots, 1, OCRQ_ERR_PATH, NULL);
}

static void no_roots_refused(void **state)
{
    (void)state;
    char p[PATH_MAX];
    pathf(p, "root/a.txt");
    expect(p, NULL, 0, OCRQ_ERR_PATH, NULL);
    const char *missing[] = {"/nonexistent-ocrq-root", ""};
    expect(p, missing, 2, OCRQ_ERR_PATH, NULL); /* roots that do not exist never match */
}

/* Issue 14, finding 4: a FIFO in a root is refused at once, not waited on. */
static void path_check_race_fifo_refused(void **state)
{
    (void)state;
    const char *roots[] = {root};
    char p[PATH_MAX];
    pathf(p, "root/fifo");
    assert_int_equal(mkfifo(p, 0600), 0);
    expect(p, roots, 1, OCRQ_ERR_PATH, NULL); /* would block forever in fopen() */
    unlink(p);
}

/*
 * Issue 14, finding 4: what is checked is the descriptor that is read. Once
 * opened, swapping the name for a symlink to a secret outside changes nothing.
 */
static void path_check_race_swap_after_open(void **state)
{
    (void)state;
    const char *roots[] = {root};
    char p[PATH_MAX], secret[PATH_MAX], buf[64] = "";
    int fd = -1;
    char *resolved = NULL, why[256];

    assert_int_equal(make_file("root/swap.txt"), 0);
    pathf(p, "root/swap.txt");
    pathf(secret, "outside/secret.txt");
    assert_int_equal(ocrq_path_open(p, roots, 1, &fd, &resolved, why, sizeof why), OCRQ_OK);
    assert_true(fd >= 0);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(symlink(secret, p), 0); /* the swap, too late */
    assert_true(read(fd, buf, sizeof buf - 1) > 0);
    assert_string_equal(buf, "document\n");
    close(fd);
    free(resolved);
    expect(p, roots, 1, OCRQ_ERR_PATH, NULL); /* and opened now, the symlink is refused */
    unlink(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(file_inside_root_ok),
        cmocka_unit_test(second_root_and_aliased_root_ok),
        cmocka_unit_test(relative_path_refused),
        cmocka_unit_test(dotdot_refused),
        cmocka_unit_test(dots_in_names_ok),
        cmocka_unit_test(symlink_escaping_root_refused),
        cmocka_unit_test(symlink_inside_root_ok),
        cmocka_unit_test(sibling_with_root_prefix_refused),
        cmocka_unit_test(directory_refused),
        cmocka_unit_test(nonexistent_refused),
        cmocka_unit_test(no_roots_refused),
        cmocka_unit_test(path_check_race_fifo_refused),
        cmocka_unit_test(path_check_race_swap_after_open),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
