/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The capped growable buffer of ocrq/dynbuf.h: the block doubles from a
 * small start up to the cap (plus its NUL), and the first error frees it
 * and sticks.
 */
#include "ocrq/dynbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocrq/status.h"

#define FIRST_ALLOC 256

void ocrq_dynbuf_init(struct ocrq_dynbuf *b, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max < SIZE_MAX ? max : SIZE_MAX - 1; /* room for the NUL */
    b->st = OCRQ_OK;
}

/* Free the contents and remember st, unless an error is there already. */
static int fail(struct ocrq_dynbuf *b, int st)
{
    free(b->p);
    b->p = NULL;
    b->len = b->alloc = 0;
    if (b->st == OCRQ_OK)
        b->st = st;
    return b->st;
}

/* Room for n more bytes and a NUL. */
static int grow(struct ocrq_dynbuf *b, size_t n)
{
    if (b->st != OCRQ_OK)
        return b->st;
    if (n > b->max - b->len)
        return fail(b, OCRQ_ERR_TOO_LARGE);
    size_t need = b->len + n + 1, limit = b->max + 1;
    if (need <= b->alloc)
        return OCRQ_OK;
    size_t a = b->alloc ? b->alloc : FIRST_ALLOC;
    while (a < need)
        a = a > limit / 2 ? limit : a * 2;
    if (a > limit)
        a = limit;
    char *p = realloc(b->p, a);
    if (!p)
        return fail(b, OCRQ_ERR_NOMEM);
    b->p = p;
    b->alloc = a;
    return OCRQ_OK;
}

int ocrq_dynbuf_add(struct ocrq_dynbuf *b, const void *data, size_t n)
{
    int st = grow(b, n);
    if (st != OCRQ_OK)
        return st;
    if (n > 0)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return OCRQ_OK;
}

int ocrq_dynbuf_addstr(struct ocrq_dynbuf *b, const char *s)
{
    return ocrq_dynbuf_add(b, s, strlen(s));
}

int ocrq_dynbuf_printf(struct ocrq_dynbuf *b, const char *fmt, ...)
{
    va_list ap;

    if (b->st != OCRQ_OK)
        return b->st;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return fail(b, OCRQ_ERR_INVALID);
    int st = grow(b, (size_t)n);
    if (st != OCRQ_OK)
        return st;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return OCRQ_OK;
}

const char *ocrq_dynbuf_ptr(const struct ocrq_dynbuf *b)
{
    return b->p;
}

size_t ocrq_dynbuf_len(const struct ocrq_dynbuf *b)
{
    return b->len;
}

int ocrq_dynbuf_status(const struct ocrq_dynbuf *b)
{
    return b->st;
}

char *ocrq_dynbuf_take(struct ocrq_dynbuf *b, size_t *len)
{
    char *p = b->st == OCRQ_OK ? b->p : NULL;
    size_t n = p ? b->len : 0;

    if (b->st == OCRQ_OK && !p)
        p = calloc(1, 1); /* nothing added: still a string */
    if (len)
        *len = n;
    if (p == b->p)
        b->p = NULL;
    ocrq_dynbuf_free(b);
    return p;
}

void ocrq_dynbuf_free(struct ocrq_dynbuf *b)
{
    if (!b)
        return;
    free(b->p);
    b->p = NULL;
    b->len = b->alloc = 0;
    b->st = OCRQ_OK;
}
