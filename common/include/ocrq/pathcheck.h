/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Checks for documents passed by file path: the path must resolve, after
 * following every symlink, to a regular file under one of the configured roots.
 */
#ifndef OCRQ_PATHCHECK_H
#define OCRQ_PATHCHECK_H

#include <stddef.h>

/*
 * Check that path opens as a regular file beneath one of roots[0..nroots-1]
 * (each root is itself resolved with realpath; a root that does not exist
 * never matches). Refuses relative paths, any ".." component, a path that
 * leads outside every root (so a symlink cannot escape), and anything that
 * is not a regular file.
 * Returns OCRQ_OK with *resolved (malloc'd, caller frees) or OCRQ_ERR_PATH
 * with a reason in why. *resolved is NULL on error.
 */
int ocrq_path_check(const char *path, const char *const *roots, size_t nroots, char **resolved,
                    char *why, size_t whylen);

/*
 * Open path read-only, at once beneath one of roots (openat2
 * RESOLVE_BENEATH: no symlink or ".." leads out, even one swapped in while it
 * is opened; without openat2 no symlink is followed at all) and without
 * blocking on a FIFO; accept it only if the descriptor is a regular file.
 * path must start with a root as configured or as it resolves. Returns
 * OCRQ_OK with *fd (the caller reads and closes it) and, if resolved is not
 * NULL, *resolved (malloc'd: the path of what was opened); else
 * OCRQ_ERR_PATH or OCRQ_ERR_NOMEM with a reason in why and *fd = -1.
 * ocrq_path_check() is the same, closing the file.
 */
int ocrq_path_open(const char *path, const char *const *roots, size_t nroots, int *fd,
                   char **resolved, char *why, size_t whylen);

#endif
