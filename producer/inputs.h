/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The inputs of one ocrq-submit run: command-line arguments expanded into
 * files and URLs, in a deterministic order, and the output file name each
 * one gets with --output.
 */
#ifndef OCRQ_PRODUCER_INPUTS_H
#define OCRQ_PRODUCER_INPUTS_H

#include <stddef.h>

#define INPUTS_MAX 10000000u /* inputs in one run */
#define INPUTS_MAX_DEPTH 64  /* directory levels below an argument with -r */

enum input_kind {
    INPUT_FILE = 1, /* a regular file, source is its path as given or as walked */
    INPUT_URL = 2,  /* an http(s) URL, source is the URL */
};

struct input {
    char *source; /* path as given (or built by the walk) or URL; owned */
    enum input_kind kind;
    char *error; /* non-NULL: why this argument cannot be submitted; owned */
};

struct input_list {
    struct input *items;
    size_t n, cap;
};

/* Nonzero if arg looks like an http:// or https:// URL (scheme in any case). */
int inputs_is_url(const char *arg);

/*
 * Expand args[0..nargs-1] into *out, in argument order. A file or URL gives
 * one input; a directory, with recursive, gives every regular file below it
 * (names sorted bytewise in each directory, hidden entries skipped, symlinks
 * to directories not followed); without recursive it gives one input with an
 * error. An argument that cannot be used (missing, unreadable directory, not
 * a regular file) becomes an input with an error, so that it is reported in
 * its place. Returns OCRQ_OK, OCRQ_ERR_NOMEM, or OCRQ_ERR_TOO_LARGE past
 * INPUTS_MAX inputs. *out is cleared on entry; free it with inputs_free().
 */
int inputs_expand(char *const *args, size_t nargs, int recursive, struct input_list *out);

/* Free the inputs and their strings; the list is left empty. NULL is fine. */
void inputs_free(struct input_list *list);

/*
 * Decide the --output name (without directory and without ".txt") of every
 * input, in input order: the file name without its extension, for a URL the
 * last path segment without its extension; a name already taken gets "-2",
 * "-3", ... Inputs with an error get NULL. Returns OCRQ_OK or OCRQ_ERR_NOMEM;
 * *names (list->n entries) is NULL on error; free with inputs_free_names().
 */
int inputs_output_names(const struct input_list *list, char ***names);

/* Free what inputs_output_names() returned; NULL is fine. */
void inputs_free_names(char **names, size_t n);

#endif
