/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * URLs: the one check of the URLs ocrq takes (documents and webhooks by
 * http(s), brokers by amqp), on curl's URL parser, and URLs shown to people
 * in logs and messages without their secrets. (common/url.c)
 */
#ifndef OCRQ_URL_H
#define OCRQ_URL_H

#include <stddef.h>

/* What ocrq_url_redact() hides besides a password. */
enum {
    OCRQ_URL_SECRETS = 1 /* also the user name and the query and fragment (tokens live there) */
};

/*
 * url into buf (len bytes, always terminated) with its password shown as
 * "***" (amqp URL: "guest:***@host"); with OCRQ_URL_SECRETS the whole user
 * part and everything from '?' or '#' on as well
 * (then "***@hooks.example/path?***"). A URL of a third party, such as a
 * webhook's, is logged this way.
 */
void ocrq_url_redact(const char *url, char *buf, size_t len, int flags);

/* The schemes a URL may have, for ocrq_url_scheme_is() and ocrq_url_check(). */
enum {
    OCRQ_URL_HTTP = 2, /* http:// or https://, with a host: documents, webhooks */
    OCRQ_URL_AMQP = 4  /* amqp://, the host may be left out; amqps:// (TLS) is not supported */
};

/*
 * Nonzero if url starts with a scheme of kinds (any case) and "://": what
 * the user meant, before the URL is checked. Thread-safe.
 */
int ocrq_url_scheme_is(const char *url, unsigned kinds);

/*
 * Check url: a scheme of kinds (any case), then curl's URL parser (CURLU)
 * must take it: a host (for http and https), a port in range, no spaces or
 * control characters. A user part (user:password@) is allowed. Length caps
 * are the caller's. Returns OCRQ_OK, OCRQ_ERR_INVALID with a reason in *why
 * (a static string that reads after the name of the setting, e.g. "must be
 * an http:// or https:// URL"), or OCRQ_ERR_NOMEM. Thread-safe.
 */
int ocrq_url_check(const char *url, unsigned kinds, const char **why);

#endif
