/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Scratch files for the unit tests (tests/unit/test_*.c): a shell command
 * run in a directory, a file read whole, a directory tree removed. Header
 * only: each test executable includes it once, after defining _GNU_SOURCE
 * or _XOPEN_SOURCE 500 (for nftw).
 */
#ifndef OCRQ_UNIT_FILES_H
#define OCRQ_UNIT_FILES_H

#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* A file's bytes, NUL-terminated (data NULL when it could not be read); free(data). */
struct unit_file {
    unsigned char *data;
    size_t len;
};

/* Run a shell command (printf-style) in dir; 0 if it succeeded, else says which failed. */
static inline int unit_sh(const char *dir, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static inline int unit_sh(const char *dir, const char *fmt, ...)
{
    char cmd[4096];
    int n = snprintf(cmd, sizeof(cmd), "cd '%s' && ", dir);
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    if (rc != 0)
        fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
    return rc;
}

/* The whole of dir/rel. */
static inline struct unit_file unit_load(const char *dir, const char *rel)
{
    char p[8192];
    struct unit_file b = {0};

    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *f = fopen(p, "rb");
    if (!f)
        return b;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        rewind(f);
        b.data = n >= 0 ? malloc((size_t)n + 1) : NULL;
        if (b.data && fread(b.data, 1, (size_t)n, f) == (size_t)n) {
            b.len = (size_t)n;
            b.data[n] = '\0';
        } else {
            free(b.data);
            b.data = NULL;
        }
    }
    fclose(f);
    return b;
}

static inline int unit_remove_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* Remove dir and everything under it (symbolic links are not followed); 0 if done. */
static inline int unit_rm_tree(const char *dir)
{
    return dir[0] ? nftw(dir, unit_remove_one, 16, FTW_DEPTH | FTW_PHYS) : -1;
}

#endif
