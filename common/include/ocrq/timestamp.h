/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Wall-clock timestamps in RFC 3339, as job messages carry them
 * (submitted_at). (common/timestamp.c) For durations use ocrq/clock.h.
 */
#ifndef OCRQ_TIMESTAMP_H
#define OCRQ_TIMESTAMP_H

#include <stddef.h>

/* Write the current UTC time as RFC 3339 with milliseconds into out (>= 32 bytes). */
void ocrq_timestamp_now(char *out, size_t outlen);

/*
 * Nonzero if s is an RFC 3339 date-time as the job codec accepts it:
 * YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM), real calendar ranges, an
 * offset within +-15:59. Thread-safe.
 */
int ocrq_timestamp_valid(const char *s);

/*
 * Milliseconds since the epoch of an RFC 3339 timestamp as the codec accepts
 * it (submitted_at). Returns OCRQ_OK, or OCRQ_ERR_INVALID for anything else.
 */
int ocrq_timestamp_parse_ms(const char *s, long long *ms);

#endif
