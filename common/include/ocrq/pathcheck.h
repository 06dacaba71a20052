/*
 * Checks for documents passed by file path: the path must resolve, after
 * following every symlink, to a regular file under one of the configured roots.
 */
#ifndef OCRQ_PATHCHECK_H
#define OCRQ_PATHCHECK_H

#include <stddef.h>

/*
 * Resolve path and check that it lies under one of roots[0..nroots-1]
 * (each root is itself resolved with realpath; a root that does not exist
 * never matches). Refuses relative paths, any ".." component, and a resolved
 * path outside every root (so a symlink cannot escape), and anything that is
 * not a regular file.
 * Returns OCRQ_OK with *resolved (malloc'd, caller frees) or OCRQ_ERR_PATH
 * with a reason in why. *resolved is NULL on error.
 */
int ocrq_path_check(const char *path, const char *const *roots, size_t nroots, char **resolved,
                    char *why, size_t whylen);

#endif
