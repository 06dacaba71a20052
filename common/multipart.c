/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * multipart/form-data parsing for ocrq-api: delimiters are "--boundary" at
 * the start of the body or after CRLF, the last one is followed by "--".
 * Part headers end at the first blank line; only Content-Disposition and
 * Content-Type are read. Data is never copied.
 */
#include "ocrq/multipart.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ocrq/status.h"

#define HEADER_LINE_MAX 1024

/*
 * Copy the value of parameter param from a header value ("type; a=b;
 * c=\"d; e=f\""), walking the parameters in order as RFC 2183 and RFC 7578
 * say: each is a token, '=', and a token or a quoted string, so text inside
 * a quoted value is never taken for a parameter. The first one named param
 * wins; a value that does not fit is cut.
 */
static void param_value(const char *v, size_t vlen, const char *param, char *out, size_t outlen,
                        int *found)
{
    const char *p = v, *end = v + vlen;
    size_t plen = strlen(param);

    out[0] = '\0';
    if (found)
        *found = 0;
    p = memchr(v, ';', vlen); /* past the type ("form-data", "multipart/form-data") */
    while (p && p < end) {
        while (p < end && (*p == ';' || *p == ' ' || *p == '\t'))
            p++;
        const char *name = p;
        while (p < end && *p != '=' && *p != ';' && *p != ' ' && *p != '\t')
            p++;
        size_t nlen = (size_t)(p - name);
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p >= end || *p != '=') /* a parameter without a value: skip it */
            continue;
        p++;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        int match = nlen == plen && strncasecmp(name, param, plen) == 0 && !(found && *found);
        size_t o = 0;
        if (p < end && *p == '"') {
            for (p++; p < end && *p != '"'; p++) {
                if (*p == '\\' && p + 1 < end)
                    p++;
                if (match && o + 1 < outlen)
                    out[o++] = *p;
            }
            if (p < end)
                p++; /* the closing quote */
        } else {
            for (; p < end && *p != ';' && *p != ' ' && *p != '\t'; p++)
                if (match && o + 1 < outlen)
                    out[o++] = *p;
        }
        if (match) {
            out[o] = '\0';
            if (found)
                *found = 1;
            return;
        }
    }
}

int ocrq_multipart_boundary(const char *content_type, char *out)
{
    static const char type[] = "multipart/form-data";
    char b[OCRQ_MULTIPART_BOUNDARY_MAX + 2];

    out[0] = '\0';
    if (!content_type || strncasecmp(content_type, type, sizeof type - 1) != 0)
        return OCRQ_ERR_INVALID;
    param_value(content_type, strlen(content_type), "boundary", b, sizeof b, NULL);
    size_t n = strlen(b);
    if (n == 0 || n > OCRQ_MULTIPART_BOUNDARY_MAX)
        return OCRQ_ERR_INVALID;
    memcpy(out, b, n + 1);
    return OCRQ_OK;
}

void ocrq_multipart_part_headers(const char *p, size_t len, struct ocrq_multipart_part *part)
{
    const char *end = p + len;

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;
        size_t n = (size_t)(le - p);
        if (n > 0 && p[n - 1] == '\r')
            n--;
        const char *colon = memchr(p, ':', n);
        if (colon) {
            size_t name_len = (size_t)(colon - p);
            const char *v = colon + 1;
            while (v < p + n && (*v == ' ' || *v == '\t'))
                v++;
            size_t vlen = (size_t)(p + n - v);
            if (name_len == 19 && strncasecmp(p, "Content-Disposition", 19) == 0) {
                param_value(v, vlen, "name", part->name, sizeof part->name, NULL);
                param_value(v, vlen, "filename", part->filename, sizeof part->filename,
                            &part->has_filename);
            } else if (name_len == 12 && strncasecmp(p, "Content-Type", 12) == 0) {
                size_t c =
                    vlen < sizeof part->content_type - 1 ? vlen : sizeof part->content_type - 1;
                memcpy(part->content_type, v, c);
                part->content_type[c] = '\0';
            }
        }
        p = eol ? eol + 1 : end;
    }
}

int ocrq_multipart_parse(const unsigned char *body, size_t len, const char *boundary,
                         struct ocrq_multipart_part *parts, size_t max, size_t *n)
{
    char delim[OCRQ_MULTIPART_BOUNDARY_MAX + 5]; /* "\r\n--" boundary */
    size_t blen = strlen(boundary);
    const char *b = (const char *)body, *end = b + len, *p;

    *n = 0;
    if (blen == 0 || blen > OCRQ_MULTIPART_BOUNDARY_MAX)
        return OCRQ_ERR_INVALID;
    snprintf(delim, sizeof delim, "\r\n--%s", boundary);
    size_t dlen = blen + 4;

    /* the first delimiter may open the body without the CRLF (a preamble may precede it) */
    if (len >= dlen - 2 && memcmp(b, delim + 2, dlen - 2) == 0)
        p = b + dlen - 2;
    else {
        const char *d = memmem(b, len, delim, dlen);
        if (!d)
            return OCRQ_ERR_INVALID;
        p = d + dlen;
    }
    for (;;) {
        /* after a delimiter: "--" closes, else optional blanks and CRLF */
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            return OCRQ_OK;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
            return OCRQ_ERR_INVALID;
        p += 2;
        const char *hend;
        if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
            hend = p; /* no headers at all */
        else {
            hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
            if (!hend || hend - p > 16 * HEADER_LINE_MAX)
                return OCRQ_ERR_INVALID;
            hend += 2;
        }
        const char *data = hend + 2;
        const char *next = memmem(data, (size_t)(end - data), delim, dlen);
        if (!next)
            return OCRQ_ERR_INVALID; /* no closing delimiter */
        if (*n >= max)
            return OCRQ_ERR_TOO_LARGE;
        struct ocrq_multipart_part *part = &parts[(*n)++];
        memset(part, 0, sizeof *part);
        ocrq_multipart_part_headers(p, (size_t)(hend - p), part);
        part->data = (const unsigned char *)data;
        part->len = (size_t)(next - data);
        p = next + dlen;
    }
}
