/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The one source of randomness of libocrq: the kernel's CSPRNG through
 * getrandom(2), for UUIDs, webhook ids, API keys and signing secrets.
 */
#ifndef OCRQ_RANDOM_H
#define OCRQ_RANDOM_H

#include <stddef.h>

/*
 * Fill buf with n random bytes, retrying when interrupted or short.
 * Returns OCRQ_OK, or OCRQ_ERR_IO if the kernel gave none. Thread-safe.
 */
int ocrq_random_bytes(void *buf, size_t n);

/* n random characters of [0-9A-Za-z] (no NUL), without bias: OCRQ_OK or OCRQ_ERR_IO. Thread-safe.
 */
int ocrq_random_base62(char *out, size_t n);

#endif
