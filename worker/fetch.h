/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fetching documents given by reference: http(s) URLs with libcurl, and
 * file paths under the configured roots.
 */
#ifndef OCRQ_WORKER_FETCH_H
#define OCRQ_WORKER_FETCH_H

#include <stddef.h>

struct ocrq_config;

/* Call once per process before any thread starts (curl_global_init). */
int ocrq_fetch_global_init(void);
void ocrq_fetch_global_cleanup(void);

/*
 * GET url (http or https only, no redirects, no proxy, TLS verified) into a
 * malloc'd buffer of at most cfg->fetch_max_bytes, with the configured
 * connect and total time-outs. Every address connected to must pass the SSRF
 * guard (netguard.h) with cfg->url_allowlist. Returns OCRQ_OK, OCRQ_ERR_FETCH
 * (transient: time-out, connection failure, HTTP 5xx or 429),
 * OCRQ_ERR_FETCH_PERM (other HTTP errors, 3xx, bad URL, an address refused by
 * the guard: "URL refused: 127.0.0.1 is a loopback address ...") or
 * OCRQ_ERR_TOO_LARGE, with a reason in why.
 * The caller frees *data. Thread-safe (one easy handle per call).
 */
int ocrq_fetch_url(const struct ocrq_config *cfg, const char *url, unsigned char **data,
                   size_t *len, char *why, size_t whylen);

/*
 * Read the file at path, which must resolve under one of cfg->file_roots
 * (see pathcheck.h), into a malloc'd buffer of at most cfg->fetch_max_bytes.
 * Returns OCRQ_OK, OCRQ_ERR_PATH, OCRQ_ERR_TOO_LARGE or OCRQ_ERR_IO (transient).
 */
int ocrq_fetch_path(const struct ocrq_config *cfg, const char *path, unsigned char **data,
                    size_t *len, char *why, size_t whylen);

#endif
