/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * URLs shown to people: in logs, in messages. (common/url.c)
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

#endif
