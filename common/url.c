/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * URLs shown to people, without what they must not see: passwords always;
 * for a third party's URL (a webhook's), the user part and the query and
 * fragment too, where services put their tokens.
 */
#include "ocrq/url.h"

#include <stdio.h>
#include <string.h>

void ocrq_url_redact(const char *url, char *buf, size_t len, int flags)
{
    const char *auth, *at, *colon, *end, *rest;
    size_t host_len;

    if (len == 0)
        return;
    if (url == NULL) {
        buf[0] = '\0';
        return;
    }
    auth = strstr(url, "://");
    auth = auth ? auth + 3 : url;
    host_len = strcspn(auth, "/?#");
    at = memchr(auth, '@', host_len);
    if (at != NULL) {
        /* scheme:// (user[:***] or ***)@ */
        if (flags & OCRQ_URL_SECRETS) {
            snprintf(buf, len, "%.*s***", (int)(auth - url), url);
        } else if ((colon = memchr(auth, ':', (size_t)(at - auth))) != NULL) {
            snprintf(buf, len, "%.*s:***", (int)(colon - url), url);
        } else {
            snprintf(buf, len, "%.*s", (int)(at - url), url);
        }
        rest = at;
    } else {
        buf[0] = '\0';
        rest = url;
    }
    end = rest + strcspn(rest, (flags & OCRQ_URL_SECRETS) ? "?#" : "");
    size_t have = strlen(buf);
    if (have < len)
        snprintf(buf + have, len - have, "%.*s%s", (int)(end - rest), rest,
                 *end ? (*end == '?' ? "?***" : "#***") : "");
}
