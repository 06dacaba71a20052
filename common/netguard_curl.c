/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The SSRF guard on a libcurl easy handle: CURLOPT_OPENSOCKETFUNCTION asks
 * ocrq_netguard_check() about every address libcurl is about to connect to
 * (after DNS), and the handle is held to http/https, no redirects, no proxy.
 * Shared by the worker's document fetch and the webhook dispatcher.
 */
#include "ocrq/netguard.h"

#include "ocrq/status.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <curl/curl.h>

/* libcurl wants a socket for address a: open one only if the guard allows a. */
static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct ocrq_netguard_result *res = clientp;
    struct sockaddr_storage ss;
    char why[OCRQ_NETGUARD_WHY_LEN];
    int ok;

    if (purpose != CURLSOCKTYPE_IPCXN) {
        snprintf(why, sizeof why, "not an outgoing connection");
        ok = 0;
    } else if (a->addrlen > sizeof ss) {
        snprintf(why, sizeof why, "address of unknown size");
        ok = 0;
    } else {
        memset(&ss, 0, sizeof ss);
        memcpy(&ss, &a->addr, a->addrlen); /* libcurl's storage is larger than the member */
        ok = ocrq_netguard_check(res->guard, (const struct sockaddr *)&ss, a->addrlen, why,
                                 sizeof why) == OCRQ_OK;
    }
    if (!ok) {
        if (res->refused++ == 0)
            snprintf(res->why, sizeof res->why, "%s", why);
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* Install the guard on easy; see netguard.h. */
int ocrq_netguard_curl_apply(void *easy, const struct ocrq_netguard *g,
                             struct ocrq_netguard_result *res)
{
    CURL *h = easy;

    memset(res, 0, sizeof *res);
    res->guard = g;
    if (!h)
        return OCRQ_ERR_INVALID;
    if (curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, res) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_PROXY, "") != CURLE_OK)
        return OCRQ_ERR_INVALID;
    return OCRQ_OK;
}
