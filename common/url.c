/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * URLs: the one check of a URL ocrq takes (ocrq_url_check(), on curl's URL
 * API, for the job codec, the config, the fetcher and the CLI), and URLs
 * shown to people, without what they must not see: passwords always; for a
 * third party's URL (a webhook's), the user part and the query and fragment
 * too, where services put their tokens.
 */
#include "ocrq/url.h"

#include "ocrq/status.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *prefix;
    size_t len;
    unsigned kind;
} schemes[] = {
    {"http://", 7, OCRQ_URL_HTTP},
    {"https://", 8, OCRQ_URL_HTTP},
    {"amqp://", 7, OCRQ_URL_AMQP},
};

/* The kind of url's scheme among kinds, or 0; *len the length of its "scheme://". */
static unsigned scheme_kind(const char *url, unsigned kinds, size_t *len)
{
    for (size_t i = 0; url && i < sizeof schemes / sizeof schemes[0]; i++) {
        if ((kinds & schemes[i].kind) && strncasecmp(url, schemes[i].prefix, schemes[i].len) == 0) {
            *len = schemes[i].len;
            return schemes[i].kind;
        }
    }
    return 0;
}

int ocrq_url_scheme_is(const char *url, unsigned kinds)
{
    size_t len;

    return scheme_kind(url, kinds, &len) != 0;
}

/* Why a URL without one of the schemes of kinds is refused. */
static const char *scheme_rule(const char *url, unsigned kinds)
{
    if (kinds & OCRQ_URL_AMQP) {
        if (url && strncasecmp(url, "amqps://", 8) == 0)
            return "amqps:// (TLS to the broker) is not supported: use amqp://";
        if (!(kinds & OCRQ_URL_HTTP))
            return "must be an amqp:// URL";
    }
    return "must be an http:// or https:// URL";
}

int ocrq_url_check(const char *url, unsigned kinds, const char **why)
{
    size_t skip = 0;
    unsigned kind = scheme_kind(url, kinds, &skip);
    CURLU *u = NULL;
    CURLUcode rc;
    int st = OCRQ_ERR_INVALID;

    *why = NULL;
    if (kind == 0) {
        *why = scheme_rule(url, kinds);
        return st;
    }
    if (kind == OCRQ_URL_HTTP && url[skip] == '/') {
        *why = "must name a host, e.g. http://host/path"; /* curl would take "http:///h" as h */
        return st;
    }
    u = curl_url();
    if (!u) {
        *why = "out of memory";
        return OCRQ_ERR_NOMEM;
    }
    /* curl knows no amqp: let it parse the URL anyway; a broker URL may leave out the host */
    rc = curl_url_set(u, CURLUPART_URL, url,
                      kind == OCRQ_URL_AMQP ? CURLU_NON_SUPPORT_SCHEME | CURLU_NO_AUTHORITY : 0);
    if (rc == CURLUE_OUT_OF_MEMORY) {
        *why = "out of memory";
        st = OCRQ_ERR_NOMEM;
    } else if (rc == CURLUE_NO_HOST) {
        *why = "must name a host, e.g. http://host/path";
    } else if (rc == CURLUE_BAD_PORT_NUMBER) {
        *why = "has a port that is not a number up to 65535";
    } else if (rc != CURLUE_OK) {
        *why = "is not a well-formed URL (no spaces or control characters, a valid host)";
    } else {
        st = OCRQ_OK;
    }
    curl_url_cleanup(u);
    return st;
}

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
