/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Random (version 4) UUIDs (ocrq/random.h), and a syntax check for UUIDs
 * of any version in their 8-4-4-4-12 text form.
 */
#include "ocrq/uuid.h"

#include "ocrq/random.h"
#include "ocrq/status.h"

#include <ctype.h>

/*
 * Write a new lowercase v4 UUID and a NUL into out (>= OCRQ_UUID_LEN + 1
 * bytes). Returns OCRQ_OK, or OCRQ_ERR_IO if the kernel gave no randomness
 * (out is then ""). Thread-safe.
 */
int ocrq_uuid_new(char *out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    int st;

    out[0] = '\0';
    st = ocrq_random_bytes(b, sizeof b);
    if (st != OCRQ_OK)
        goto out;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[b[i] >> 4];
        *p++ = hex[b[i] & 0x0f];
    }
    *p = '\0';
out:
    return st;
}

/* Nonzero if s is 8-4-4-4-12 hex digits (either case) and nothing more. */
int ocrq_uuid_valid(const char *s)
{
    if (!s)
        return 0;
    for (int i = 0; i < OCRQ_UUID_LEN; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return 0;
        } else if (!isxdigit(c)) {
            return 0;
        }
    }
    return s[OCRQ_UUID_LEN] == '\0';
}
