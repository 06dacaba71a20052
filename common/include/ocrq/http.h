/*
 * A small HTTP server for the supervisor's /healthz, /readyz and /metrics:
 * a table of exact routes served by ONE background thread, so handlers run
 * one at a time and never concurrently with each other (a handler may keep
 * state of its own, such as a broker connection, without locks). Handlers
 * do run concurrently with the thread that started the server.
 */
#ifndef OCRQ_HTTP_H
#define OCRQ_HTTP_H

#include <stddef.h>

struct ocrq_http;

/* What a handler answers. */
struct ocrq_http_reply {
    int status;               /* 200 on entry */
    const char *content_type; /* "text/plain; charset=utf-8" on entry; a string literal */
    char *body;               /* NULL on entry; malloc'd, taken by the server */
    size_t len;               /* bytes of body */
};

/*
 * Fill r and return OCRQ_OK; any other status answers 500 (body freed,
 * the status logged). Called on the server thread, one call at a time;
 * arg is the one given to ocrq_http_start(). HEAD requests to a GET route
 * call the handler too and send its headers only.
 */
typedef int (*ocrq_http_handler)(void *arg, struct ocrq_http_reply *r);

struct ocrq_http_route {
    const char *method; /* "GET" */
    const char *path;   /* exact, without the query string: "/metrics" */
    ocrq_http_handler fn;
};

/*
 * Listen on listen_at ("host:port" or "[v6addr]:port"; numeric hosts are
 * preferred, a name is resolved and its first address used; port 0 picks a
 * free one, see ocrq_http_port()) and serve routes[0..n-1] (the array is
 * copied, its strings are borrowed and must outlive the server). Unknown
 * paths get 404; a known path with another method gets 405 with Allow.
 * At most 64 connections, each closed after 10 s idle. The server thread
 * blocks every signal, so signals reach the caller's threads.
 * Returns OCRQ_OK with *out, or OCRQ_ERR_CONFIG (bad listen_at string),
 * OCRQ_ERR_IO (cannot bind, e.g. address in use), OCRQ_ERR_NOMEM, with a
 * one-line reason in err (errlen bytes). Logs nothing itself: the caller
 * logs err. *out is NULL on error.
 */
int ocrq_http_start(const char *listen_at, const struct ocrq_http_route *routes, size_t n,
                    void *arg, struct ocrq_http **out, char *err, size_t errlen);

/* The port the server listens on (useful after port 0); 0 if unknown. */
int ocrq_http_port(const struct ocrq_http *h);

/*
 * Stop: close the listening socket and every connection, wait for a
 * handler in progress to return, join the thread and free. NULL is fine.
 * Call from the thread that started the server, never from a handler.
 */
void ocrq_http_stop(struct ocrq_http *h);

#endif
