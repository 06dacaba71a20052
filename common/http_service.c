/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A service's requests (ocrq_http_serve): the access handler that MHD calls
 * with the headers, each piece of body and the end of the request; bodies
 * kept whole up to a per-request limit or streamed to the application;
 * replies set from any thread and queued on the connection's own thread,
 * with bodies in memory or produced piece by piece while they are sent.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http_internal.h"
#include "ocrq/dynbuf.h"
#include "ocrq/log.h"
#include "ocrq/status.h"

#define REPLY_HEADERS_MAX 8
#define STREAM_BLOCK (64 * 1024)        /* what a streamed reply body is produced in */
#define DRAIN_MAX (16ULL * 1024 * 1024) /* body read and dropped after a refusal, at most */
#define RAW_REPLY_MAX 4096
#define REFUSED_TIMEOUT_S 2u /* a refused connection is closed after this long idle */
#define LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)

/* A streamed reply body: the application's reader and what frees its argument. */
struct stream {
    ocrq_http_reader read;
    void *arg;
    void (*free_arg)(void *arg);
    unsigned long long size;
};

struct ocrq_http_req {
    struct ocrq_http *h;
    struct MHD_Connection *c;
    const char *method, *path;   /* MHD's, valid until the request is over */
    struct ocrq_dynbuf body;     /* the body kept, capped at limit */
    unsigned long long limit;    /* the largest body */
    unsigned long long received; /* body bytes so far */
    int streaming;               /* the body goes to svc.body */
    int called;                  /* svc.request was called */
    int suspended;               /* waiting for ocrq_http_resume() */
    int queued;                  /* the reply is queued: further body is dropped */
    int replied;                 /* a reply was set */
    int aborted;                 /* over without its reply sent in full */
    int sent_raw;                /* refused while the body arrived: written to the socket */
    unsigned long long drained;  /* body bytes dropped since */
    int status;
    char *ctype;
    char *rbody;
    size_t rlen;
    struct stream *stream; /* a streamed reply body, or NULL */
    int nh;
    char *hname[REPLY_HEADERS_MAX], *hval[REPLY_HEADERS_MAX];
    void *user;
};

void ocrq_http_quiesce(struct ocrq_http *h)
{
    if (!h || !h->d || !h->is_service)
        return;
    __atomic_store_n(&h->closing, 1, __ATOMIC_RELEASE);
    if (h->listen_fd < 0) {
        MHD_socket fd = MHD_quiesce_daemon(h->d);
        h->listen_fd = fd == MHD_INVALID_SOCKET ? -1 : (int)fd;
    }
}

unsigned ocrq_http_active(const struct ocrq_http *h)
{
    return h ? LOAD(&h->active) : 0;
}

const char *ocrq_http_method(const struct ocrq_http_req *req)
{
    return req->method;
}
const char *ocrq_http_path(const struct ocrq_http_req *req)
{
    return req->path;
}

const char *ocrq_http_header(const struct ocrq_http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->c, MHD_HEADER_KIND, name);
}

const char *ocrq_http_query(const struct ocrq_http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->c, MHD_GET_ARGUMENT_KIND, name);
}

const unsigned char *ocrq_http_body(const struct ocrq_http_req *req, size_t *len)
{
    const char *body = ocrq_dynbuf_ptr(&req->body);

    *len = ocrq_dynbuf_len(&req->body);
    return body ? (const unsigned char *)body : (const unsigned char *)"";
}

void ocrq_http_set_body_limit(struct ocrq_http_req *req, unsigned long long limit)
{
    req->limit = limit;
}

void ocrq_http_stream_body(struct ocrq_http_req *req)
{
    req->streaming = 1;
}
unsigned long long ocrq_http_received(const struct ocrq_http_req *req)
{
    return req->received;
}
int ocrq_http_aborted(const struct ocrq_http_req *req)
{
    return req->aborted;
}
int ocrq_http_status(const struct ocrq_http_req *req)
{
    return req->replied ? req->status : 0;
}

void ocrq_http_set_user(struct ocrq_http_req *req, void *user)
{
    req->user = user;
}
void *ocrq_http_user(const struct ocrq_http_req *req)
{
    return req->user;
}

int ocrq_http_add_header(struct ocrq_http_req *req, const char *name, const char *value)
{
    if (req->nh >= REPLY_HEADERS_MAX)
        return OCRQ_ERR_TOO_LARGE;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return OCRQ_ERR_NOMEM;
    }
    req->hname[req->nh] = n;
    req->hval[req->nh++] = v;
    return OCRQ_OK;
}

void ocrq_http_reply(struct ocrq_http_req *req, int status, const char *content_type, char *body,
                     size_t len)
{
    if (req->replied) {
        free(body);
        return;
    }
    req->replied = 1;
    req->status = status;
    req->ctype = content_type ? strdup(content_type) : NULL;
    req->rbody = body;
    req->rlen = body ? len : 0;
}

static void stream_free(void *cls)
{
    struct stream *s = cls;
    if (!s)
        return;
    if (s->free_arg)
        s->free_arg(s->arg);
    free(s);
}

void ocrq_http_reply_stream(struct ocrq_http_req *req, int status, const char *content_type,
                            unsigned long long size, ocrq_http_reader reader, void *arg,
                            void (*free_arg)(void *arg))
{
    struct stream *s = req->replied ? NULL : calloc(1, sizeof *s);

    if (!s) {
        if (free_arg)
            free_arg(arg);
        if (!req->replied)
            ocrq_http_reply(req, 500, DEFAULT_TYPE, NULL, 0);
        return;
    }
    *s = (struct stream){.read = reader, .arg = arg, .free_arg = free_arg, .size = size};
    ocrq_http_reply(req, status, content_type, NULL, 0);
    req->stream = s;
}

void ocrq_http_suspend(struct ocrq_http_req *req)
{
    req->suspended = 1;
    MHD_suspend_connection(req->c);
}

void ocrq_http_resume(struct ocrq_http_req *req)
{
    MHD_resume_connection(req->c);
}

/* MHD asks for the next block of a streamed body. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream *s = cls;
    ssize_t n = s->read(s->arg, (unsigned long long)pos, buf, max);
    return n > 0 ? n : MHD_CONTENT_READER_END_WITH_ERROR;
}

/* Queue the reply set with ocrq_http_reply() (500 if none was). */
static enum MHD_Result queue_reply(struct ocrq_http_req *r)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    if (!r->replied) {
        log_error(NULL, "http: %s %s: no reply from the handler", r->method, r->path);
        ocrq_http_reply(r, 500, "text/plain; charset=utf-8", NULL, 0);
    }
    r->queued = 1;
    if (r->stream) {
        resp = MHD_create_response_from_callback(r->stream->size, STREAM_BLOCK, stream_read,
                                                 r->stream, stream_free);
        if (resp)
            r->stream = NULL; /* MHD frees it now */
    } else if (r->rbody) {
        resp = MHD_create_response_from_buffer(r->rlen, r->rbody, MHD_RESPMEM_MUST_FREE);
        if (resp)
            r->rbody = NULL;
    } else {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->ctype ? r->ctype : DEFAULT_TYPE);
    for (int i = 0; i < r->nh; i++)
        MHD_add_response_header(resp, r->hname[i], r->hval[i]);
    if (LOAD(&r->h->closing))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    ret = MHD_queue_response(r->c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void reply_too_large(struct ocrq_http_req *r)
{
    char msg[160];
    int n = snprintf(msg, sizeof msg,
                     "{\"error\":{\"code\":\"too_large\",\"message\":\"request body too large:"
                     " the limit is %llu bytes\"}}",
                     r->limit);
    char *b = n > 0 ? strdup(msg) : NULL;
    ocrq_http_reply(r, MHD_HTTP_CONTENT_TOO_LARGE, "application/json", b, b ? strlen(b) : 0);
}

/* The headers are in: a new request, its early refusals and its body limit. */
static enum MHD_Result begin(struct ocrq_http *h, struct MHD_Connection *c, const char *url,
                             const char *method, void **req_cls)
{
    struct ocrq_http_req *r = calloc(1, sizeof *r);
    if (!r)
        return MHD_NO;
    r->h = h;
    r->c = c;
    r->method = method;
    r->path = url;
    r->limit = h->svc.max_body;
    *req_cls = r;
    __atomic_add_fetch(&h->active, 1, __ATOMIC_ACQ_REL);
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    unsigned long long length = cl ? strtoull(cl, NULL, 10) : 0;

    if (h->svc.headers)
        h->svc.headers(h->svc.arg, r);
    ocrq_dynbuf_init(&r->body, (size_t)r->limit); /* the limit is final once headers returned */
    if (!r->replied && length > r->limit)
        reply_too_large(r);
    if (r->streaming && !h->svc.body && !r->replied)
        ocrq_http_reply(r, 500, DEFAULT_TYPE, NULL, 0);
    /*
     * A refusal is sent at once when a body would follow (MHD then closes
     * the connection instead of reading it); without a body it waits for
     * the end of the request, so the connection stays open for the next.
     */
    if (r->replied && (length > 0 || te))
        return queue_reply(r);
    return MHD_YES;
}

/*
 * libmicrohttpd 0.9.75 queues a reply only once the headers are in or the
 * body is over, not while the body arrives. A refusal then (a body past its
 * limit, or svc.body said no) is written to the socket here, on the
 * connection's thread, with "Connection: close"; the rest of the body is
 * read and dropped, so that no reset destroys the reply before the client
 * reads it, until the client closes (clients stop sending once answered),
 * DRAIN_MAX bytes came, or it is idle REFUSED_TIMEOUT_S; then the
 * connection is closed. If the reply cannot
 * be written whole at once, the connection is closed without it.
 */
static enum MHD_Result refuse_mid_body(struct ocrq_http_req *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->c, MHD_CONNECTION_INFO_CONNECTION_FD);
    const char *reason;
    char head[RAW_REPLY_MAX];
    size_t n = 0;
    int w;

    if (!r->replied) {
        log_error(NULL, "http: %s %s: no reply from the handler", r->method, r->path);
        ocrq_http_reply(r, 500, DEFAULT_TYPE, NULL, 0);
    }
    r->queued = 1;
    reason = MHD_get_reason_phrase_for((unsigned)r->status);
    w = snprintf(head, sizeof head,
                 "HTTP/1.1 %d %s\r\nConnection: close\r\nContent-Type: %s\r\n"
                 "Content-Length: %zu\r\n",
                 r->status, reason ? reason : "", r->ctype ? r->ctype : DEFAULT_TYPE, r->rlen);
    for (int i = 0; w > 0 && (size_t)w < sizeof head - n && i < r->nh; i++) {
        n += (size_t)w;
        w = snprintf(head + n, sizeof head - n, "%s: %s\r\n", r->hname[i], r->hval[i]);
    }
    if (w < 0 || (size_t)w + 2 >= sizeof head - n || !ci)
        return MHD_NO;
    n += (size_t)w;
    memcpy(head + n, "\r\n", 2);
    n += 2;
    int fd = (int)ci->connect_fd;
    ssize_t a = send(fd, head, n, MSG_NOSIGNAL | MSG_MORE);
    ssize_t b = r->rlen ? send(fd, r->rbody, r->rlen, MSG_NOSIGNAL) : 0;
    if (a != (ssize_t)n || b != (ssize_t)r->rlen) {
        log_warn(NULL, "http: %s %s: cannot send the %d reply during the body: %s", r->method,
                 r->path, r->status, a < 0 || b < 0 ? strerror(errno) : "short write");
        return MHD_NO;
    }
    r->sent_raw = 1;
    /* a client that stops mid-chunk leaves MHD waiting for the rest: not for long */
    MHD_set_connection_option(r->c, MHD_CONNECTION_OPTION_TIMEOUT, REFUSED_TIMEOUT_S);
    log_debug(NULL, "http: %s %s: answered %d after %llu body bytes; reading no more", r->method,
              r->path, r->status, r->received);
    return MHD_YES;
}

/* A piece of body: kept, or handed to svc.body; refused past the limit. */
static enum MHD_Result body_piece(struct ocrq_http *h, struct ocrq_http_req *r, const char *data,
                                  size_t n)
{
    if (r->queued) { /* refused already: drop the rest, up to a point */
        r->drained += n;
        return !r->sent_raw || r->drained <= DRAIN_MAX ? MHD_YES : MHD_NO;
    }
    if (r->received + n > r->limit) {
        reply_too_large(r);
        return refuse_mid_body(r);
    }
    r->received += n;
    if (r->streaming) {
        if (h->svc.body(h->svc.arg, r, (const unsigned char *)data, n) != OCRQ_OK)
            return refuse_mid_body(r);
        return MHD_YES;
    }
    if (ocrq_dynbuf_add(&r->body, data, n) != OCRQ_OK)
        return MHD_NO;
    return MHD_YES;
}

/*
 * MHD calls this once with the headers (*req_cls NULL), once per piece of
 * body, then with *upload_size 0: the request is complete. A suspended
 * request is called once more after ocrq_http_resume(), to queue the reply.
 */
enum MHD_Result ocrq_http_svc_access(void *cls, struct MHD_Connection *c, const char *url,
                                     const char *method, const char *version, const char *upload,
                                     size_t *upload_size, void **req_cls)
{
    struct ocrq_http *h = cls;
    struct ocrq_http_req *r = *req_cls;
    (void)version;

    if (!r)
        return begin(h, c, url, method, req_cls);
    if (*upload_size != 0) {
        size_t n = *upload_size;
        *upload_size = 0;
        return body_piece(h, r, upload, n);
    }
    if (r->sent_raw)
        return MHD_NO; /* the body ended after a refusal written already: close */
    if (r->queued)
        return MHD_YES;
    if (!r->called) {
        r->called = 1;
        if (!r->replied) /* not refused by svc.headers */
            h->svc.request(h->svc.arg, r);
        if (r->suspended)
            return MHD_YES;
    }
    r->suspended = 0;
    return queue_reply(r);
}

void ocrq_http_svc_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                             enum MHD_RequestTerminationCode toe)
{
    struct ocrq_http *h = cls;
    struct ocrq_http_req *r = *req_cls;
    (void)c;

    if (!r)
        return;
    *req_cls = NULL;
    /* READ_ERROR or CLIENT_ABORT: the client went away, e.g. in the middle of its body */
    r->aborted = toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && !r->sent_raw;
    if (h->svc.done)
        h->svc.done(h->svc.arg, r);
    ocrq_dynbuf_free(&r->body);
    free(r->ctype);
    free(r->rbody);
    stream_free(r->stream);
    for (int i = 0; i < r->nh; i++) {
        free(r->hname[i]);
        free(r->hval[i]);
    }
    free(r);
    __atomic_sub_fetch(&h->active, 1, __ATOMIC_ACQ_REL);
}
