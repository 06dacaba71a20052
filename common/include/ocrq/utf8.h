/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * UTF-8 checks for text that goes into JSON or the database: what the job
 * codec, the API and the CLI output accept or repair. (common/utf8.c)
 */
#ifndef OCRQ_UTF8_H
#define OCRQ_UTF8_H

#include <stddef.h>

/*
 * Length of the valid UTF-8 sequence at s (n >= 1 bytes left), or 0 if it
 * is not one (overlong, surrogate, past U+10FFFF, cut short). Thread-safe.
 */
size_t ocrq_utf8_seq(const unsigned char *s, size_t n);

/* Nonzero if s is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
 */
int ocrq_utf8_valid(const char *s);

/*
 * A copy of s with each byte that is not part of valid UTF-8 replaced by
 * U+FFFD, for display. Returns a malloc'd string (caller frees) or NULL on
 * allocation failure. Thread-safe.
 */
char *ocrq_utf8_sanitize(const char *s);

#endif
