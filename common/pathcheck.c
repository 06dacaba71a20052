/*
 * Checks for documents passed by file path: refuse relative paths and ".."
 * components, resolve every symlink with realpath(3), and accept only a
 * regular file that ends up under one of the configured (resolved) roots.
 */
#include "ocrq/pathcheck.h"

#include "ocrq/status.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void set_why(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_why(char *why, size_t whylen, const char *fmt, ...)
{
    if (!why || whylen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

/* Nonzero if some '/'-separated component of path is exactly "..". */
static int has_dotdot(const char *path)
{
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        const char *end = strchrnul(p, '/');
        if (end - p == 2 && p[0] == '.' && p[1] == '.')
            return 1;
        p = end;
    }
    return 0;
}

/* Nonzero if the resolved path lies under root, itself resolved ("/" holds everything). */
static int under_root(const char *resolved, const char *root)
{
    size_t n = strlen(root);
    if (n == 1 && root[0] == '/')
        return 1;
    return strncmp(resolved, root, n) == 0 && resolved[n] == '/';
}

/* Nonzero if resolved lies under one of the roots that exist. */
static int under_any_root(const char *resolved, const char *const *roots, size_t nroots)
{
    for (size_t i = 0; i < nroots; i++) {
        if (!roots[i] || roots[i][0] == '\0')
            continue;
        char *root = realpath(roots[i], NULL);
        if (!root)
            continue; /* a root that does not exist never matches */
        int ok = under_root(resolved, root);
        free(root);
        if (ok)
            return 1;
    }
    return 0;
}

/*
 * Resolve path and check it is a regular file under one of roots[0..nroots-1].
 * Returns OCRQ_OK with *resolved (malloc'd, caller frees), OCRQ_ERR_PATH with a
 * reason in why, or OCRQ_ERR_NOMEM. *resolved is NULL on error. Thread-safe.
 */
int ocrq_path_check(const char *path, const char *const *roots, size_t nroots, char **resolved,
                    char *why, size_t whylen)
{
    char *real = NULL;
    struct stat sb;
    int st = OCRQ_ERR_PATH;

    *resolved = NULL;
    if (why && whylen)
        why[0] = '\0';

    if (!path || path[0] == '\0') {
        set_why(why, whylen, "empty path");
        goto out;
    }
    if (strnlen(path, PATH_MAX) >= PATH_MAX) {
        set_why(why, whylen, "path too long");
        goto out;
    }
    if (path[0] != '/') {
        set_why(why, whylen, "not an absolute path");
        goto out;
    }
    if (has_dotdot(path)) {
        set_why(why, whylen, "path contains a '..' component");
        goto out;
    }
    if (nroots == 0 || !roots) {
        set_why(why, whylen, "no file roots configured (documents.file_roots)");
        goto out;
    }
    real = realpath(path, NULL);
    if (!real) {
        if (errno == ENOMEM) {
            st = OCRQ_ERR_NOMEM;
            set_why(why, whylen, "out of memory");
        } else {
            set_why(why, whylen, "cannot resolve path: %s", strerror(errno));
        }
        goto out;
    }
    if (!under_any_root(real, roots, nroots)) {
        set_why(why, whylen, "path is outside the file roots");
        goto out;
    }
    if (stat(real, &sb) != 0) {
        set_why(why, whylen, "cannot stat path: %s", strerror(errno));
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        set_why(why, whylen, "not a regular file");
        goto out;
    }
    *resolved = real;
    real = NULL;
    st = OCRQ_OK;
out:
    free(real);
    return st;
}
