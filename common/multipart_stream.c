/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * multipart/form-data as a push parser for ocrq-api's streamed uploads. The
 * body is scanned for "\r\nboundary-delimiter" as it comes; since the
 * delimiter's only CR is its first byte, a partial match that fails holds
 * no other candidate, so only the count of matched bytes is carried from
 * one piece to the next. The first delimiter may open the body without CRLF.
 */
#include "ocrq/multipart_stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocrq/status.h"

enum state {
    S_BODY,    /* a part's data, or the preamble before the first delimiter */
    S_AFTER,   /* just after a delimiter: "--", or blanks and CRLF */
    S_DASH,    /* one '-' of the closing "--" seen */
    S_BLANKS,  /* blanks after a delimiter */
    S_CR,      /* the CR of the CRLF after a delimiter */
    S_HEADERS, /* a part's header block, up to its blank line */
    S_DONE,    /* after the closing delimiter: the epilogue is ignored */
};

struct ocrq_multipart_stream {
    struct ocrq_multipart_callbacks cb;
    void *arg;
    size_t max_parts, parts;
    char delim[OCRQ_MULTIPART_BOUNDARY_MAX + 5]; /* "\r\n--" boundary */
    size_t dlen;
    enum state state;
    size_t m;    /* S_BODY: bytes of delim matched at the end of what was fed */
    int in_part; /* S_BODY: a part's data (else the preamble, dropped) */
    int err;     /* the first error; every later feed returns it */
    size_t hlen;
    char headers[OCRQ_MULTIPART_HEADERS_MAX];
};

int ocrq_multipart_stream_new(const char *boundary, const struct ocrq_multipart_callbacks *cb,
                              void *arg, size_t max_parts, struct ocrq_multipart_stream **out)
{
    struct ocrq_multipart_stream *s;
    size_t blen = boundary ? strlen(boundary) : 0;

    *out = NULL;
    if (blen == 0 || blen > OCRQ_MULTIPART_BOUNDARY_MAX || strpbrk(boundary, "\r\n"))
        return OCRQ_ERR_INVALID;
    s = calloc(1, sizeof *s);
    if (!s)
        return OCRQ_ERR_NOMEM;
    if (cb)
        s->cb = *cb;
    s->arg = arg;
    s->max_parts = max_parts;
    s->dlen = (size_t)snprintf(s->delim, sizeof s->delim, "\r\n--%s", boundary);
    s->state = S_BODY;
    s->m = 2; /* as if the body began with CRLF: "--boundary" may open it */
    *out = s;
    return OCRQ_OK;
}

void ocrq_multipart_stream_free(struct ocrq_multipart_stream *s)
{
    free(s);
}

size_t ocrq_multipart_stream_parts(const struct ocrq_multipart_stream *s)
{
    return s ? s->parts : 0;
}

/* Part data (dropped in the preamble). */
static int emit(struct ocrq_multipart_stream *s, const void *p, size_t n)
{
    if (n == 0 || !s->in_part || !s->cb.data)
        return OCRQ_OK;
    return s->cb.data(s->arg, p, n);
}

/* S_BODY: pass data on up to the next delimiter; *used gets the bytes taken (at least 1). */
static int scan_body(struct ocrq_multipart_stream *s, const unsigned char *p, size_t n,
                     size_t *used)
{
    size_t i = 0;
    int st = OCRQ_OK;

    while (i < n) {
        if (s->m == 0) {
            const unsigned char *cr = memchr(p + i, '\r', n - i);
            size_t stop = cr ? (size_t)(cr - p) : n;
            if ((st = emit(s, p + i, stop - i)) != OCRQ_OK)
                break;
            i = stop;
            if (cr) {
                s->m = 1;
                i++;
            }
            continue;
        }
        if (p[i] != (unsigned char)s->delim[s->m]) {
            /* no delimiter after all: what was matched is data; p[i] is looked at again */
            st = emit(s, s->delim, s->m);
            s->m = 0;
            if (st != OCRQ_OK)
                break;
            continue;
        }
        i++;
        if (++s->m < s->dlen)
            continue;
        s->m = 0;
        if (s->in_part && s->cb.end)
            st = s->cb.end(s->arg);
        s->in_part = 0;
        s->state = S_AFTER;
        break;
    }
    *used = i;
    return st;
}

/* The header block is complete (hlen bytes, ending with the blank line): begin a part. */
static int begin_part(struct ocrq_multipart_stream *s)
{
    struct ocrq_multipart_part part;

    if (s->parts >= s->max_parts)
        return OCRQ_ERR_TOO_LARGE;
    s->parts++;
    memset(&part, 0, sizeof part);
    ocrq_multipart_part_headers(s->headers, s->hlen - 2, &part);
    s->state = S_BODY;
    s->in_part = 1;
    s->m = 0;
    return s->cb.begin ? s->cb.begin(s->arg, &part) : OCRQ_OK;
}

/* S_HEADERS: take bytes up to the blank line; *used gets the bytes taken. */
static int scan_headers(struct ocrq_multipart_stream *s, const unsigned char *p, size_t n,
                        size_t *used)
{
    size_t i = 0;

    while (i < n) {
        if (s->hlen == sizeof s->headers)
            return OCRQ_ERR_INVALID;
        s->headers[s->hlen++] = (char)p[i++];
        if ((s->hlen == 2 && memcmp(s->headers, "\r\n", 2) == 0) ||
            (s->hlen >= 4 && memcmp(s->headers + s->hlen - 4, "\r\n\r\n", 4) == 0)) {
            *used = i;
            return begin_part(s);
        }
    }
    *used = i;
    return OCRQ_OK;
}

/* One byte after a delimiter: "--" closes the body, else blanks then CRLF open a part. */
static int after_delimiter(struct ocrq_multipart_stream *s, unsigned char c)
{
    int blank = c == ' ' || c == '\t';

    switch (s->state) {
    case S_AFTER:
        if (c == '-') {
            s->state = S_DASH;
            return OCRQ_OK;
        }
        /* fall through */
    case S_BLANKS:
        if (blank)
            s->state = S_BLANKS;
        else if (c == '\r')
            s->state = S_CR;
        else
            return OCRQ_ERR_INVALID;
        return OCRQ_OK;
    case S_DASH:
        if (c != '-')
            return OCRQ_ERR_INVALID;
        s->state = S_DONE;
        return OCRQ_OK;
    case S_CR:
        if (c != '\n')
            return OCRQ_ERR_INVALID;
        s->state = S_HEADERS;
        s->hlen = 0;
        return OCRQ_OK;
    default:
        return OCRQ_ERR_INVALID;
    }
}

int ocrq_multipart_stream_feed(struct ocrq_multipart_stream *s, const unsigned char *data,
                               size_t len)
{
    size_t i = 0;
    int st = OCRQ_OK;

    if (s->err)
        return s->err;
    while (i < len && s->state != S_DONE && st == OCRQ_OK) {
        size_t used = 1;
        if (s->state == S_BODY)
            st = scan_body(s, data + i, len - i, &used);
        else if (s->state == S_HEADERS)
            st = scan_headers(s, data + i, len - i, &used);
        else
            st = after_delimiter(s, data[i]);
        i += used;
    }
    if (st != OCRQ_OK)
        s->err = st;
    return st;
}

int ocrq_multipart_stream_finish(struct ocrq_multipart_stream *s)
{
    if (s->err)
        return s->err;
    return s->state == S_DONE ? OCRQ_OK : OCRQ_ERR_INVALID;
}
