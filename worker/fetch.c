/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Documents by reference. URLs go through libcurl with hard caps on size and
 * time, no redirects, and the SSRF guard (netguard.h) on every address
 * connected to; paths must resolve under the configured roots.
 */
#include "fetch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "ocrq/config.h"
#include "ocrq/dynbuf.h"
#include "ocrq/log.h"
#include "ocrq/netguard.h"
#include "ocrq/pathcheck.h"
#include "ocrq/status.h"
#include "ocrq/url.h"

struct sink {
    struct ocrq_dynbuf buf; /* capped at fetch.max_bytes */
    int too_large;
};

int ocrq_fetch_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? OCRQ_OK : OCRQ_ERR_NOMEM;
}

void ocrq_fetch_global_cleanup(void)
{
    curl_global_cleanup();
}

static size_t sink_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct sink *s = arg;
    size_t n = size * nmemb;

    int st = ocrq_dynbuf_add(&s->buf, ptr, n);
    if (st != OCRQ_OK) {
        s->too_large = st == OCRQ_ERR_TOO_LARGE;
        return 0; /* aborts the transfer */
    }
    return n;
}

int ocrq_fetch_url(const struct ocrq_config *cfg, const char *url, unsigned char **data,
                   size_t *len, char *why, size_t whylen)
{
    struct sink s = {0};
    struct ocrq_netguard guard;
    struct ocrq_netguard_result guarded;
    CURL *h = NULL;
    CURLcode rc;
    long code = 0;
    const char *bad;
    int st;

    *data = NULL;
    *len = 0;
    ocrq_dynbuf_init(&s.buf, (size_t)cfg->fetch_max_bytes);
    st = ocrq_url_check(url, OCRQ_URL_HTTP, &bad);
    if (st != OCRQ_OK) {
        snprintf(why, whylen, "only well-formed http and https URLs are fetched: the URL %s", bad);
        return st == OCRQ_ERR_NOMEM ? st : OCRQ_ERR_FETCH_PERM;
    }
    if (ocrq_netguard_init(&guard, (const char *const *)cfg->url_allowlist, cfg->n_url_allowlist,
                           why, whylen) != OCRQ_OK)
        return OCRQ_ERR_FETCH_PERM; /* not reached: the config checked the list */
    h = curl_easy_init();
    if (h == NULL)
        return OCRQ_ERR_NOMEM;
    if (ocrq_netguard_curl_apply(h, &guard, &guarded) != OCRQ_OK) {
        snprintf(why, whylen, "cannot set up the address guard");
        curl_easy_cleanup(h);
        return OCRQ_ERR_FETCH_PERM;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)cfg->fetch_connect_timeout_s);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)cfg->fetch_timeout_s);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cfg->fetch_max_bytes);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "ocrq-worker/" OCRQ_VERSION);
    rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (s.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        snprintf(why, whylen, "document at URL is larger than %lld bytes", cfg->fetch_max_bytes);
        st = OCRQ_ERR_TOO_LARGE;
    } else if (rc == CURLE_COULDNT_CONNECT && guarded.refused > 0) {
        /* permanent: the host's addresses will not turn into allowed ones */
        /* the address it resolved to is for the log, not for the job's owner */
        log_warn(NULL, "fetch: refused by the SSRF guard: %s", guarded.why);
        snprintf(why, whylen,
                 "URL refused: its host resolves to an address that is not"
                 " allowed (security.url_allowlist)");
        st = OCRQ_ERR_FETCH_PERM;
    } else if (rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_COULDNT_CONNECT ||
               rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_RECV_ERROR ||
               rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING || rc == CURLE_PARTIAL_FILE) {
        snprintf(why, whylen, "fetch failed: %s", curl_easy_strerror(rc));
        st = OCRQ_ERR_FETCH;
    } else if (rc != CURLE_OK) {
        snprintf(why, whylen, "fetch failed: %s", curl_easy_strerror(rc));
        st = OCRQ_ERR_FETCH_PERM;
    } else if (code >= 500 || code == 429 || code == 408) {
        snprintf(why, whylen, "fetch failed: HTTP %ld", code);
        st = OCRQ_ERR_FETCH;
    } else if (code != 200) {
        snprintf(why, whylen, "fetch failed: HTTP %ld%s", code,
                 code >= 300 && code < 400 ? " (redirects are not followed)" : "");
        st = OCRQ_ERR_FETCH_PERM;
    }
    curl_easy_cleanup(h);
    if (st != OCRQ_OK) {
        ocrq_dynbuf_free(&s.buf);
        return st;
    }
    *data = (unsigned char *)ocrq_dynbuf_take(&s.buf, len);
    return *data ? OCRQ_OK : OCRQ_ERR_NOMEM;
}

int ocrq_fetch_path(const struct ocrq_config *cfg, const char *path, unsigned char **data,
                    size_t *len, char *why, size_t whylen)
{
    char *real = NULL;
    unsigned char *buf = NULL;
    FILE *f = NULL;
    struct stat sb;
    int st;

    *data = NULL;
    *len = 0;
    int fd = -1;
    /* opened once, beneath a root, and that descriptor is what is checked and read */
    st = ocrq_path_open(path, (const char *const *)cfg->file_roots, (size_t)cfg->n_file_roots, &fd,
                        &real, why, whylen);
    if (st != OCRQ_OK)
        goto out;
    f = fdopen(fd, "rb");
    if (f == NULL)
        close(fd);
    if (f == NULL || fstat(fileno(f), &sb) != 0) {
        snprintf(why, whylen, "cannot read %s: %s", path, strerror(errno));
        st = OCRQ_ERR_IO;
        goto out;
    }
    if (sb.st_size > cfg->fetch_max_bytes) {
        snprintf(why, whylen, "file is %lld bytes, over the cap of %lld", (long long)sb.st_size,
                 cfg->fetch_max_bytes);
        st = OCRQ_ERR_TOO_LARGE;
        goto out;
    }
    buf = malloc(sb.st_size > 0 ? (size_t)sb.st_size : 1);
    if (buf == NULL) {
        st = OCRQ_ERR_NOMEM;
        goto out;
    }
    if (sb.st_size > 0 && fread(buf, 1, (size_t)sb.st_size, f) != (size_t)sb.st_size) {
        snprintf(why, whylen, "short read on %s", path);
        st = OCRQ_ERR_IO;
        goto out;
    }
    *data = buf;
    *len = (size_t)sb.st_size;
    buf = NULL;
out:
    if (f != NULL)
        fclose(f);
    free(buf);
    free(real);
    return st;
}
