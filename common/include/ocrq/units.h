/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Quantities for people: byte counts as "13.2 MiB". Thread-safe.
 */
#ifndef OCRQ_UNITS_H
#define OCRQ_UNITS_H

#include <stddef.h>

/* n bytes into buf: "1 byte", "512 bytes", "13.2 MiB" (binary units up to PiB). */
void ocrq_bytes_human(long long n, char *buf, size_t len);

#endif
