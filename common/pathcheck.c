/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Documents passed by file path: refuse relative paths and ".." components,
 * and open the file once, beneath one of the configured roots, so that
 * nothing on the way can lead out of it, even if swapped meanwhile; then
 * accept only what was opened if it is a regular file.
 */
#include "ocrq/pathcheck.h"

#include "ocrq/status.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>
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

/*
 * The part of path below root (configured, or as realpath resolves it: both
 * are accepted), or NULL if path does not start with it. Leading slashes are
 * skipped: "sub/b.txt".
 */
static const char *below(const char *path, const char *root)
{
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/')
        n--;
    if (n == 1 && root[0] == '/')
        n = 0;
    else if (strncmp(path, root, n) != 0 || path[n] != '/')
        return NULL;
    path += n;
    while (*path == '/')
        path++;
    return path;
}

/*
 * Open rel beneath dirfd, read-only, never leaving dirfd: openat2 with
 * RESOLVE_BENEATH, so that no symlink or ".." resolved on the way, even one
 * swapped in meanwhile, leads out. Without openat2 (a kernel before 5.6, or a
 * seccomp filter), every component is opened with O_NOFOLLOW: then no
 * symlink at all is followed. O_NONBLOCK: a FIFO does not hang the open.
 */
static int open_beneath(int dirfd, const char *rel)
{
    struct open_how how = {
        .flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    int fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
    if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
        return fd;

    char comp[NAME_MAX + 1];
    int cur = dup(dirfd);
    while (cur >= 0) {
        while (*rel == '/')
            rel++;
        size_t n = strcspn(rel, "/");
        if (n == 0 || n > NAME_MAX) {
            close(cur);
            errno = n == 0 ? EISDIR : ENAMETOOLONG;
            return -1;
        }
        memcpy(comp, rel, n);
        comp[n] = '\0';
        rel += n;
        while (*rel == '/')
            rel++;
        int last = *rel == '\0';
        int next = openat(cur, comp,
                          (last ? O_RDONLY | O_NONBLOCK | O_NOCTTY : O_PATH | O_DIRECTORY) |
                              O_NOFOLLOW | O_CLOEXEC);
        int saved = errno;
        close(cur);
        errno = saved;
        if (last || next < 0)
            return next;
        cur = next;
    }
    return -1;
}

int ocrq_path_open(const char *path, const char *const *roots, size_t nroots, int *fd,
                   char **resolved, char *why, size_t whylen)
{
    char link[64], real[PATH_MAX];
    struct stat sb;
    int st = OCRQ_ERR_PATH, f = -1, opened = 0;

    *fd = -1;
    if (resolved)
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
    for (size_t i = 0; i < nroots && !opened; i++) {
        if (!roots[i] || roots[i][0] == '\0')
            continue;
        char *root = realpath(roots[i], NULL); /* the roots are configuration: trusted */
        const char *rel = below(path, roots[i]);
        if (!root)
            continue; /* a root that does not exist never matches */
        if (!rel)
            rel = below(path, root);
        if (rel && *rel) {
            int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
            if (rootfd >= 0) {
                f = open_beneath(rootfd, rel);
                if (f < 0)
                    set_why(why, whylen, "cannot open path: %s",
                            errno == EXDEV || errno == ELOOP
                                ? "it leads outside the file roots or through a symlink"
                                : strerror(errno));
                close(rootfd);
                opened = 1;
            }
        }
        free(root);
    }
    if (!opened) {
        set_why(why, whylen, "path is outside the file roots");
        goto out;
    }
    if (f < 0)
        goto out;
    /* what was opened is what is checked and read: no second lookup by name */
    if (fstat(f, &sb) != 0) {
        set_why(why, whylen, "cannot stat path: %s", strerror(errno));
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        set_why(why, whylen, "not a regular file");
        goto out;
    }
    if (resolved) {
        snprintf(link, sizeof link, "/proc/self/fd/%d", f);
        ssize_t n = readlink(link, real, sizeof real - 1);
        if (n > 0)
            real[n] = '\0';
        *resolved = strdup(n > 0 ? real : path);
        if (!*resolved) {
            st = OCRQ_ERR_NOMEM;
            set_why(why, whylen, "out of memory");
            goto out;
        }
    }
    *fd = f;
    f = -1;
    st = OCRQ_OK;
out:
    if (f >= 0)
        close(f);
    return st;
}

int ocrq_path_check(const char *path, const char *const *roots, size_t nroots, char **resolved,
                    char *why, size_t whylen)
{
    int fd = -1;
    int st = ocrq_path_open(path, roots, nroots, &fd, resolved, why, whylen);
    if (fd >= 0)
        close(fd);
    return st;
}
