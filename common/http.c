/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The HTTP servers: the only module that speaks libmicrohttpd (with
 * http_service.c). A route server (ocrq_http_start) has one internal
 * polling thread, so its handlers are serialized, and exact paths; a
 * service (ocrq_http_serve) has a thread pool, and its requests are handled
 * in http_service.c. Here: listening, starting and stopping both, and MHD's
 * own messages, which go to our log.
 */
#include "ocrq/http.h"

#include <microhttpd.h>

#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_internal.h"
#include "ocrq/log.h"
#include "ocrq/status.h"

#define CONNECTION_LIMIT 64
#define CONNECTION_TIMEOUT_S 10
#define HOST_MAX 256
#define PORT_MAX 8 /* "65535" */
#define ALLOW_MAX 128

/* MHD's messages end with a newline; ours do not. */
static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct ocrq_http *h = cls;
    char msg[sizeof h->start_err];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t len = strlen(msg);
    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
        msg[--len] = '\0';

    pthread_mutex_lock(&h->mu);
    int keep = h->starting;
    if (keep && !h->start_err[0])
        snprintf(h->start_err, sizeof h->start_err, "%s", msg);
    pthread_mutex_unlock(&h->mu);
    if (!keep)
        log_warn(NULL, "http: %s", msg);
}

/* Answer a short text (static). allow: an Allow header, or NULL. */
static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text,
                                  const char *allow)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, DEFAULT_TYPE);
    if (allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Run a route's handler and queue what it answered. */
static enum MHD_Result run_route(struct ocrq_http *h, const struct ocrq_http_route *rt,
                                 struct MHD_Connection *c, const char *method, const char *url)
{
    struct ocrq_http_reply r = {.status = 200, .content_type = DEFAULT_TYPE};
    int st = rt->fn(h->arg, &r);
    if (st == OCRQ_OK && (r.status < 100 || r.status > 599 || (r.len > 0 && !r.body)))
        st = OCRQ_ERR_INVALID;
    if (st != OCRQ_OK) {
        free(r.body);
        log_error(NULL, "http: %s %s: %s", method, url, ocrq_strerror(st));
        return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n", NULL);
    }

    struct MHD_Response *resp;
    if (r.body)
        resp = MHD_create_response_from_buffer(r.len, r.body, MHD_RESPMEM_MUST_FREE);
    else
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(r.body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            r.content_type ? r.content_type : DEFAULT_TYPE);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)r.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/*
 * MHD calls this at least twice per request: first with the headers only
 * (*req NULL: mark it and wait), then once per piece of body (none of our
 * routes takes one: dropped), then with *upload_size 0, when we answer.
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **req)
{
    static int seen;
    struct ocrq_http *h = cls;
    (void)version;
    (void)upload;

    if (!*req) {
        *req = &seen;
        return MHD_YES;
    }
    if (*upload_size != 0) {
        *upload_size = 0;
        return MHD_YES;
    }

    int is_head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    char allow[ALLOW_MAX] = "";
    size_t alen = 0;
    for (size_t i = 0; i < h->n; i++) {
        const struct ocrq_http_route *rt = &h->routes[i];
        if (strcmp(rt->path, url) != 0)
            continue;
        int is_get = strcmp(rt->method, MHD_HTTP_METHOD_GET) == 0;
        if (strcmp(rt->method, method) == 0 || (is_head && is_get))
            return run_route(h, rt, c, method, url);
        int w = snprintf(allow + alen, sizeof allow - alen, "%s%s%s", alen ? ", " : "", rt->method,
                         is_get ? ", HEAD" : "");
        if (w > 0 && (size_t)w < sizeof allow - alen)
            alen += (size_t)w;
    }
    if (alen == 0)
        return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n", NULL);
    return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n", allow);
}

/* Split "host:port" or "[v6]:port" into host and port. */
static int split_listen(const char *listen_at, char host[HOST_MAX], char port[PORT_MAX])
{
    const char *colon;
    size_t hlen;
    if (listen_at[0] == '[') {
        const char *rb = strchr(listen_at, ']');
        if (!rb || rb[1] != ':')
            return OCRQ_ERR_CONFIG;
        colon = rb + 1;
        listen_at++;
        hlen = (size_t)(rb - listen_at);
    } else {
        colon = strrchr(listen_at, ':');
        if (!colon || memchr(listen_at, ':', (size_t)(colon - listen_at)))
            return OCRQ_ERR_CONFIG; /* no port, or an IPv6 address without brackets */
        hlen = (size_t)(colon - listen_at);
    }
    const char *p = colon + 1;
    size_t plen = strlen(p);
    if (hlen == 0 || hlen >= HOST_MAX || plen == 0 || plen >= PORT_MAX ||
        strspn(p, "0123456789") != plen || atoi(p) > 65535)
        return OCRQ_ERR_CONFIG;
    memcpy(host, listen_at, hlen);
    host[hlen] = '\0';
    memcpy(port, p, plen + 1);
    return OCRQ_OK;
}

/* The first address of host:port, numeric host first. */
static int resolve(const char *host, const char *port, struct sockaddr_storage *ss, char *err,
                   size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc == EAI_NONAME) {
        hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
        rc = getaddrinfo(host, port, &hints, &res);
    }
    if (rc != 0 || !res) {
        snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
        return OCRQ_ERR_CONFIG;
    }
    int st = OCRQ_OK;
    if ((res->ai_family == AF_INET || res->ai_family == AF_INET6) && res->ai_addrlen <= sizeof *ss)
        memcpy(ss, res->ai_addr, res->ai_addrlen);
    else {
        snprintf(err, errlen, "%s: not an IPv4 or IPv6 address", host);
        st = OCRQ_ERR_CONFIG;
    }
    freeaddrinfo(res);
    return st;
}

/* Start MHD with every signal blocked, so its threads inherit a full mask. */
static struct MHD_Daemon *start_daemon(struct ocrq_http *h, const struct sockaddr_storage *ss,
                                       int port)
{
    unsigned v6 = ss->ss_family == AF_INET6 ? MHD_USE_IPv6 : 0;
    struct MHD_Daemon *d;
    sigset_t all, old;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    if (!h->is_service) {
        unsigned flags =
            MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG | MHD_USE_ITC | v6;
        d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, h,
                             MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h, MHD_OPTION_SOCK_ADDR,
                             (const struct sockaddr *)ss, MHD_OPTION_CONNECTION_LIMIT,
                             (unsigned)CONNECTION_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
                             (unsigned)CONNECTION_TIMEOUT_S, MHD_OPTION_END);
    } else {
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
                         MHD_ALLOW_SUSPEND_RESUME | v6;
        unsigned limit = h->svc.connection_limit ? h->svc.connection_limit : 1024;
        unsigned idle = h->svc.idle_timeout_s ? h->svc.idle_timeout_s : 30;
        unsigned threads = h->svc.threads ? h->svc.threads : 1;
        d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, ocrq_http_svc_access, h,
                             MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h, MHD_OPTION_SOCK_ADDR,
                             (const struct sockaddr *)ss, MHD_OPTION_CONNECTION_LIMIT, limit,
                             MHD_OPTION_CONNECTION_TIMEOUT, idle, MHD_OPTION_NOTIFY_COMPLETED,
                             ocrq_http_svc_completed, h, MHD_OPTION_THREAD_POOL_SIZE,
                             threads > 1 ? threads : 0u, MHD_OPTION_END);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return d;
}

/* Parse listen_at, allocate the server (routes copied) and start it. */
static int start(const char *listen_at, const struct ocrq_http_route *routes, size_t n, void *arg,
                 const struct ocrq_http_service *svc, struct ocrq_http **out, char *err,
                 size_t errlen)
{
    struct ocrq_http *h = NULL;
    struct sockaddr_storage ss;
    char host[HOST_MAX], port[PORT_MAX];
    int st;

    *out = NULL;
    if (errlen > 0)
        err[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (!routes[i].method || !routes[i].path || !routes[i].fn) {
            snprintf(err, errlen, "route %zu: method, path and handler are required", i);
            return OCRQ_ERR_INVALID;
        }
    }
    if (svc && !svc->request) {
        snprintf(err, errlen, "a service needs a request handler");
        return OCRQ_ERR_INVALID;
    }
    if (!listen_at || split_listen(listen_at, host, port) != OCRQ_OK) {
        snprintf(err, errlen, "bad listen address '%s': want host:port or [v6]:port",
                 listen_at ? listen_at : "");
        return OCRQ_ERR_CONFIG;
    }
    memset(&ss, 0, sizeof ss);
    st = resolve(host, port, &ss, err, errlen);
    if (st != OCRQ_OK)
        return st;

    h = calloc(1, sizeof *h);
    if (!h || (n > 0 && !(h->routes = calloc(n, sizeof *h->routes)))) {
        free(h);
        snprintf(err, errlen, "out of memory");
        return OCRQ_ERR_NOMEM;
    }
    if (n > 0)
        memcpy(h->routes, routes, n * sizeof *routes);
    h->n = n;
    h->arg = arg;
    h->listen_fd = -1;
    if (svc) {
        h->is_service = 1;
        h->svc = *svc;
    }
    pthread_mutex_init(&h->mu, NULL);
    h->starting = 1;

    h->d = start_daemon(h, &ss, atoi(port));

    pthread_mutex_lock(&h->mu);
    h->starting = 0;
    pthread_mutex_unlock(&h->mu);
    if (!h->d) {
        snprintf(err, errlen, "cannot listen on %s: %s", listen_at,
                 h->start_err[0] ? h->start_err : "libmicrohttpd failed to start");
        ocrq_http_stop(h);
        return OCRQ_ERR_IO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : 0;
    *out = h;
    return OCRQ_OK;
}

int ocrq_http_start(const char *listen_at, const struct ocrq_http_route *routes, size_t n,
                    void *arg, struct ocrq_http **out, char *err, size_t errlen)
{
    return start(listen_at, routes, n, arg, NULL, out, err, errlen);
}

int ocrq_http_serve(const struct ocrq_http_service *svc, struct ocrq_http **out, char *err,
                    size_t errlen)
{
    return start(svc->listen, NULL, 0, svc->arg, svc, out, err, errlen);
}

int ocrq_http_port(const struct ocrq_http *h)
{
    return h ? h->port : 0;
}

void ocrq_http_stop(struct ocrq_http *h)
{
    if (!h)
        return;
    if (h->d)
        MHD_stop_daemon(h->d);
    if (h->listen_fd >= 0)
        close(h->listen_fd);
    pthread_mutex_destroy(&h->mu);
    free(h->routes);
    free(h);
}
