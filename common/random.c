/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Random bytes from getrandom(2), and random base62 characters made from
 * them (webhook ids, API keys): see ocrq/random.h.
 */
#include "ocrq/random.h"

#include <errno.h>
#include <sys/random.h>

#include "ocrq/status.h"

/* getrandom may be interrupted or return short. */
int ocrq_random_bytes(void *buf, size_t n)
{
    unsigned char *p = buf;
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(p + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return OCRQ_ERR_IO;
        }
        got += (size_t)r;
    }
    return OCRQ_OK;
}

/* Rejection sampling: no bias. */
int ocrq_random_base62(char *out, size_t n)
{
    static const char base62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    unsigned char rnd[64];
    size_t have = 0;

    while (have < n) {
        if (ocrq_random_bytes(rnd, sizeof rnd) != OCRQ_OK)
            return OCRQ_ERR_IO;
        for (size_t i = 0; i < sizeof rnd && have < n; i++)
            if (rnd[i] < 248) /* 248 = 4 * 62: no bias */
                out[have++] = base62[rnd[i] % 62];
    }
    return OCRQ_OK;
}
