/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A growable buffer with a hard cap, after curl's dynbuf: bytes, strings
 * and printf output appended to a malloc'd, always NUL-terminated block
 * that never holds more than its cap. The first error (over the cap, out
 * of memory) frees the contents and sticks: later appends do nothing and
 * return it, so a builder can append everything and check once at the end.
 * Not thread-safe; one buffer belongs to one thread at a time.
 */
#ifndef OCRQ_DYNBUF_H
#define OCRQ_DYNBUF_H

#include <stddef.h>

/* Set up with ocrq_dynbuf_init(); its fields are private. All zero is an empty buffer of cap 0. */
struct ocrq_dynbuf {
    char *p;      /* the contents and a NUL; NULL while empty */
    size_t len;   /* bytes of contents */
    size_t alloc; /* bytes allocated at p */
    size_t max;   /* the cap: the most bytes of contents */
    int st;       /* the first error: OCRQ_OK, OCRQ_ERR_TOO_LARGE or OCRQ_ERR_NOMEM */
};

/* An empty buffer that holds at most max bytes (besides its NUL). Allocates nothing. */
void ocrq_dynbuf_init(struct ocrq_dynbuf *b, size_t max);

/*
 * Append n bytes of data (which may hold NULs). Returns OCRQ_OK, or the
 * buffer's first error: OCRQ_ERR_TOO_LARGE (the contents would pass the
 * cap) or OCRQ_ERR_NOMEM; on an error the contents are freed.
 */
int ocrq_dynbuf_add(struct ocrq_dynbuf *b, const void *data, size_t n);

/* ocrq_dynbuf_add() of the string s, without its NUL. */
int ocrq_dynbuf_addstr(struct ocrq_dynbuf *b, const char *s);

/* ocrq_dynbuf_add() of printf's output; a format error is OCRQ_ERR_INVALID (sticky too). */
int ocrq_dynbuf_printf(struct ocrq_dynbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The contents, NUL-terminated and owned by b; NULL while empty or after an error. */
const char *ocrq_dynbuf_ptr(const struct ocrq_dynbuf *b);

/* The length of the contents (0 after an error). */
size_t ocrq_dynbuf_len(const struct ocrq_dynbuf *b);

/* OCRQ_OK, or the first error. */
int ocrq_dynbuf_status(const struct ocrq_dynbuf *b);

/*
 * Hand over the contents: a malloc'd, NUL-terminated string ("" when
 * nothing was added) that the caller frees, its length in *len (if not
 * NULL). NULL (and *len 0) after an error, or if "" cannot be allocated.
 * b is left empty, with its cap and no error.
 */
char *ocrq_dynbuf_take(struct ocrq_dynbuf *b, size_t *len);

/* Free the contents and forget the error; b keeps its cap. NULL is fine. */
void ocrq_dynbuf_free(struct ocrq_dynbuf *b);

#endif
