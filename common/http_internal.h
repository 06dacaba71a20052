/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Private to the http module: the server structure shared by the route
 * server and the daemon setup (http.c) and the service's request handling
 * (http_service.c). Nothing outside common/ includes this header.
 */
#ifndef OCRQ_HTTP_INTERNAL_H
#define OCRQ_HTTP_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>

#include "ocrq/http.h"

#define DEFAULT_TYPE "text/plain; charset=utf-8"

struct ocrq_http {
    struct MHD_Daemon *d;
    struct ocrq_http_route *routes;
    size_t n;
    void *arg;
    int port;
    /* While starting, MHD's messages are kept for err instead of logged. */
    pthread_mutex_t mu;
    int starting;
    char start_err[512];
    /* services only */
    int is_service;
    struct ocrq_http_service svc;
    unsigned active; /* requests begun, not yet over (atomic) */
    int closing;     /* quiesced: replies close their connection (atomic) */
    int listen_fd;   /* returned by MHD_quiesce_daemon, closed by us; -1 */
};

/* MHD's access handler and request-completed callback of a service (http_service.c). */
enum MHD_Result ocrq_http_svc_access(void *cls, struct MHD_Connection *c, const char *url,
                                     const char *method, const char *version, const char *upload,
                                     size_t *upload_size, void **req_cls);
void ocrq_http_svc_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                             enum MHD_RequestTerminationCode toe);

#endif
