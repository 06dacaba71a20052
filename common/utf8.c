/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * UTF-8 validation and repair: the job codec's field rules refuse text that
 * is not UTF-8, and JSON output replaces its bad bytes with U+FFFD.
 */
#include "ocrq/utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 if invalid. */
size_t ocrq_utf8_seq(const unsigned char *s, size_t n)
{
    size_t len;
    uint32_t cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2, cp = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3, cp = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4, cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0; /* overlong, out of range, or a surrogate */
    return len;
}

int ocrq_utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);

    for (size_t i = 0, k; i < n; i += k) {
        k = ocrq_utf8_seq(p + i, n - i);
        if (k == 0)
            return 0;
    }
    return 1;
}

/* A copy of s with each invalid UTF-8 byte replaced by U+FFFD, for display. */
char *ocrq_utf8_sanitize(const char *s)
{
    size_t n = strlen(s), o = 0;
    char *r = malloc(n * 3 + 1);

    if (!r)
        return NULL;
    for (size_t i = 0, k; i < n; i += k) {
        k = ocrq_utf8_seq((const unsigned char *)s + i, n - i);
        if (k == 0) {
            memcpy(r + o, "\xef\xbf\xbd", 3);
            o += 3;
            k = 1;
        } else {
            memcpy(r + o, s + i, k);
            o += k;
        }
    }
    r[o] = '\0';
    return r;
}
