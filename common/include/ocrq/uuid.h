/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Random (version 4) UUIDs in their 36-character text form. */
#ifndef OCRQ_UUID_H
#define OCRQ_UUID_H

#define OCRQ_UUID_LEN 36

/* Fill out (at least OCRQ_UUID_LEN + 1 bytes) with a new lowercase v4 UUID. Thread-safe. */
int ocrq_uuid_new(char *out);

/* Nonzero if s is a well-formed UUID (any version, either case, 8-4-4-4-12 hex). */
int ocrq_uuid_valid(const char *s);

#endif
