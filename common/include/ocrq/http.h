/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * HTTP servers over libmicrohttpd, in two shapes:
 *
 *  - ocrq_http_start(): a small server for the supervisor's /healthz,
 *    /readyz and /metrics: a table of exact routes served by ONE background
 *    thread, so handlers run one at a time and never concurrently with each
 *    other (a handler may keep state of its own, such as a broker
 *    connection, without locks). Handlers do run concurrently with the
 *    thread that started the server.
 *
 *  - ocrq_http_serve(): a service (ocrq-api): a pool of threads, whole
 *    requests with headers, query and body (or the body streamed to the
 *    application piece by piece), replies with headers, replies given later
 *    from another thread (suspend, reply, resume), and reply bodies produced
 *    piece by piece as they are sent.
 */
#ifndef OCRQ_HTTP_H
#define OCRQ_HTTP_H

#include <stddef.h>
#include <sys/types.h>

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

/* ---- services ------------------------------------------------------------ */

struct ocrq_http_req; /* one request: from its headers until its reply is sent */

struct ocrq_http_service {
    const char *listen;        /* as for ocrq_http_start() */
    unsigned threads;          /* threads answering connections: 1 or more */
    size_t max_body;           /* a larger body is answered 413 by the server itself, unless
                                  headers set another limit (ocrq_http_set_body_limit()) */
    unsigned connection_limit; /* 0: 1024 */
    unsigned idle_timeout_s;   /* an idle connection is closed after this: 0 means 30 */
    /*
     * Called on a pool thread once the headers are in, before any body is
     * read; may reply (ocrq_http_reply()) to refuse the request early (the
     * body is then not read and the connection is closed). May set the
     * request's body limit and ask for its body to be streamed. After it,
     * a Content-Length over the limit is answered 413. May be NULL.
     */
    void (*headers)(void *arg, struct ocrq_http_req *req);
    /*
     * For a request that asked for it (ocrq_http_stream_body()): called on
     * the pool thread serving the request with each piece of the body as it
     * arrives (borrowed for the call), in order, instead of keeping it.
     * Returns OCRQ_OK to go on; anything else refuses the request: the
     * reply set with ocrq_http_reply() (500 if none) is sent at once, the
     * rest of the body is not read and the connection is closed. May be
     * NULL if no request streams.
     */
    int (*body)(void *arg, struct ocrq_http_req *req, const unsigned char *data, size_t len);
    /*
     * Called on a pool thread once the whole request is in, unless headers
     * replied: must either reply, or call ocrq_http_suspend() and have some
     * thread call ocrq_http_reply() and then ocrq_http_resume() later.
     */
    void (*request)(void *arg, struct ocrq_http_req *req);
    /*
     * Called when the request is over: replied, or the client went away
     * (ocrq_http_aborted() says which). Always called once for every request
     * headers was called for. May be NULL.
     */
    void (*done)(void *arg, struct ocrq_http_req *req);
    void *arg;
};

/*
 * Start a service on svc->listen (the struct is copied, the strings are
 * borrowed). Replies 413 (JSON error body) for bodies over max_body. Returns
 * as ocrq_http_start().
 */
int ocrq_http_serve(const struct ocrq_http_service *svc, struct ocrq_http **out, char *err,
                    size_t errlen);

/* Stop accepting connections (the listening socket closes); requests in progress go on. */
void ocrq_http_quiesce(struct ocrq_http *h);

/* Requests begun and not yet over (suspended ones included). */
unsigned ocrq_http_active(const struct ocrq_http *h);

/* The request: method ("GET"), path without the query string ("/v1/jobs"). */
const char *ocrq_http_method(const struct ocrq_http_req *req);
const char *ocrq_http_path(const struct ocrq_http_req *req);

/* A request header (case-insensitive name) or query argument (decoded); NULL if absent. */
const char *ocrq_http_header(const struct ocrq_http_req *req, const char *name);
const char *ocrq_http_query(const struct ocrq_http_req *req, const char *name);

/*
 * The body read so far (all of it in svc->request); never NULL, may be
 * empty. Always empty for a request whose body is streamed.
 */
const unsigned char *ocrq_http_body(const struct ocrq_http_req *req, size_t *len);

/*
 * From svc->headers: the largest body this request may have (instead of
 * svc->max_body), checked against Content-Length once headers returns and
 * against the bytes received while the body arrives (413 beyond).
 */
void ocrq_http_set_body_limit(struct ocrq_http_req *req, unsigned long long limit);

/* From svc->headers: hand this request's body to svc->body piece by piece, never keeping it. */
void ocrq_http_stream_body(struct ocrq_http_req *req);

/* Body bytes received so far. */
unsigned long long ocrq_http_received(const struct ocrq_http_req *req);

/*
 * In svc->done: nonzero when the request ended without its reply sent in
 * full (the client closed the connection, a read or write error, a time-out,
 * the server stopping); 0 when it completed.
 */
int ocrq_http_aborted(const struct ocrq_http_req *req);

/* The status of the reply set so far; 0 if none. */
int ocrq_http_status(const struct ocrq_http_req *req);

/* A pointer the application keeps with the request (NULL at first). */
void ocrq_http_set_user(struct ocrq_http_req *req, void *user);
void *ocrq_http_user(const struct ocrq_http_req *req);

/*
 * Add a reply header (both strings copied; at most 8 per reply). Call before
 * ocrq_http_reply(). OCRQ_OK, or OCRQ_ERR_NOMEM / OCRQ_ERR_TOO_LARGE.
 */
int ocrq_http_add_header(struct ocrq_http_req *req, const char *name, const char *value);

/*
 * Set the reply: status, content type (copied), body (malloc'd, taken; NULL
 * with len 0 for none). Only the first call counts (later bodies are freed).
 */
void ocrq_http_reply(struct ocrq_http_req *req, int status, const char *content_type, char *body,
                     size_t len);

/*
 * Fills buf (max bytes at most) with the next bytes of a streamed reply
 * body, which starts at offset pos. Returns the bytes written (1 or more),
 * or -1 on an error: the connection is then closed, and the client sees a
 * body shorter than its Content-Length. Called on the thread serving the
 * request, one call at a time.
 */
typedef ssize_t (*ocrq_http_reader)(void *arg, unsigned long long pos, char *buf, size_t max);

/*
 * Set a reply whose body of size bytes is produced by reader(arg, ...) while
 * it is sent, so it is never held whole. free_arg(arg) (may be NULL) runs
 * once the server is done with it, also when the reply is never sent; arg
 * is owned by the server from this call on. Only the first reply counts (a
 * later one has its arg freed at once).
 */
void ocrq_http_reply_stream(struct ocrq_http_req *req, int status, const char *content_type,
                            unsigned long long size, ocrq_http_reader reader, void *arg,
                            void (*free_arg)(void *arg));

/* From svc->request: answer later. The request must then be replied to and resumed. */
void ocrq_http_suspend(struct ocrq_http_req *req);

/* From any thread, after ocrq_http_reply(): send the reply of a suspended request. */
void ocrq_http_resume(struct ocrq_http_req *req);

#endif
