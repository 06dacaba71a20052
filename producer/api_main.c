/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * ocrq-api: parse the command line, load the configuration, start the
 * pipeline and the HTTP service, and run until SIGTERM or SIGINT. Then stop
 * accepting connections, let the requests in progress finish (up to
 * api.shutdown_timeout_s), and exit 0.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "ocrq/clock.h"
#include "ocrq/config.h"
#include "ocrq/db.h"
#include "ocrq/http.h"
#include "ocrq/log.h"
#include "ocrq/notify.h"
#include "ocrq/status.h"

enum { EXIT_FAIL = 1, EXIT_USAGE = 2 };

static const char usage_text[] =
    "Usage: ocrq-api [-c FILE] [--listen HOST:PORT]\n"
    "Serve the ocrq HTTP API in the foreground (docs/api.md):\n"
    "  POST /v1/jobs                 submit an image (raw, multipart) or {\"url\": ...}\n"
    "  GET  /v1/jobs/{id}[?include=text], /v1/jobs/{id}/text, /v1/batches/{batch}\n"
    "  GET  /v1/jobs/{id}/artifacts/{format}   hocr, alto, tsv, pdf or words\n"
    "  GET  /healthz, /readyz, /metrics   (no key needed)\n"
    "Requests carry \"Authorization: Bearer KEY\" (ocrq-admin apikey create NAME).\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE     config file (else $OCRQ_CONFIG, else built-in defaults);\n"
    "                        the api section sets limits, threads and rate limits\n"
    "  -l, --listen ADDR     host:port to listen on (overrides api.listen and\n"
    "                        $OCRQ_API_LISTEN)\n"
    "  -h, --help            show this help and exit\n"
    "  -V, --version         show the version and exit\n"
    "\n"
    "Environment:\n"
    "  OCRQ_CONFIG        the config file, when -c is not given\n"
    "  OCRQ_API_LISTEN    overrides api.listen (host:port)\n"
    "  OCRQ_AMQP_URL      overrides amqp.url\n"
    "  OCRQ_DATABASE_URL  overrides database.url\n"
    "\n"
    "Signals: SIGTERM or SIGINT stops accepting connections, answers the requests\n"
    "in progress (at most api.shutdown_timeout_s) and exits 0.\n"
    "\n"
    "Exit codes: 0 stopped by a signal; 1 cannot listen; 2 usage or configuration error.\n";

static const struct option long_opts[] = {
    {"config", required_argument, NULL, 'c'},
    {"listen", required_argument, NULL, 'l'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void free_thread_db(void *db)
{
    ocrq_db_free(db);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Wait until no request is in progress, or deadline (monotonic us); 1 if none is left. */
static int drain(struct api *api, int64_t deadline)
{
    while (ocrq_http_active(api->http) > 0) {
        if (ocrq_now_us() >= deadline)
            return 0;
        sleep_ms(10);
    }
    return 1;
}

/*
 * Wait for SIGTERM or SIGINT; meanwhile feed systemd's watchdog, if there is
 * one, as long as the pipeline thread, which every accepted job goes
 * through, keeps going round its loop.
 */
static int wait_for_stop(struct api *api, const sigset_t *stop_sigs)
{
    long long every_ms = ocrq_notify_watchdog_ms();
    int64_t seen = -1;
    int sig = 0;

    for (;;) {
        if (every_ms <= 0) {
            if (sigwait(stop_sigs, &sig) != 0)
                continue;
        } else {
            struct timespec ts = {every_ms / 1000, (every_ms % 1000) * 1000000L};
            sig = sigtimedwait(stop_sigs, NULL, &ts);
            int64_t beat = api_pipeline_beat(api->pipe);
            if (beat != seen) {
                ocrq_notify_watchdog();
                seen = beat;
            }
        }
        if (sig == SIGTERM || sig == SIGINT)
            return sig;
    }
}

int main(int argc, char **argv)
{
    const char *config_path = NULL, *listen_at = NULL;
    struct ocrq_config *cfg = NULL;
    struct api *api = NULL;
    char err[512];
    int c, sig = 0, rc = 0;

    while ((c = getopt_long(argc, argv, "c:l:hV", long_opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'l':
            listen_at = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        case 'V':
            puts("ocrq-api " OCRQ_VERSION);
            return 0;
        default:
            fputs("Try 'ocrq-api --help'.\n", stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ocrq-api: unexpected argument '%s'\nTry 'ocrq-api --help'.\n",
                argv[optind]);
        return EXIT_USAGE;
    }
    if (ocrq_config_load(config_path, &cfg, err, sizeof err) != OCRQ_OK) {
        fprintf(stderr, "ocrq-api: %s\n", err);
        return EXIT_USAGE;
    }
    ocrq_log_init("api", ocrq_log_level_parse(cfg->log_level));

    /* Signals are taken by sigwait() here; every thread started below inherits the mask. */
    sigset_t stop_sigs;
    sigemptyset(&stop_sigs);
    sigaddset(&stop_sigs, SIGTERM);
    sigaddset(&stop_sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    api = calloc(1, sizeof *api);
    if (!api) {
        fprintf(stderr, "ocrq-api: out of memory\n");
        ocrq_config_free(cfg);
        return EXIT_FAIL;
    }
    api->cfg = cfg;
    pthread_mutex_init(&api->keys_mu, NULL);
    pthread_key_create(&api->db_key, free_thread_db);
    if (api_pipeline_start(api, &api->pipe) != OCRQ_OK) {
        fprintf(stderr, "ocrq-api: cannot start the pipeline thread\n");
        rc = EXIT_FAIL;
        goto out;
    }
    struct ocrq_http_service svc = {
        .listen = listen_at ? listen_at : cfg->api_listen,
        .threads = (unsigned)cfg->api_threads,
        .max_body = (size_t)cfg->api_max_body_bytes,
        .connection_limit = (unsigned)cfg->api_max_connections,
        .headers = api_on_headers,
        .body = api_on_body,
        .request = api_on_request,
        .done = api_on_done,
        .arg = api,
    };
    int st = ocrq_http_serve(&svc, &api->http, err, sizeof err);
    if (st != OCRQ_OK) {
        log_error(NULL, "api: %s", err);
        rc = st == OCRQ_ERR_CONFIG ? EXIT_USAGE : EXIT_FAIL;
        goto out;
    }
    log_info(NULL, "api: listening on %s (port %d), %d threads", svc.listen,
             ocrq_http_port(api->http), cfg->api_threads);
    ocrq_notify_ready("listening on %s", svc.listen);

    sig = wait_for_stop(api, &stop_sigs);
    ocrq_notify_stopping("stopping: finishing the requests in progress");
    log_info(NULL, "api: %s: no new connections; finishing %u requests in progress",
             sig == SIGTERM ? "SIGTERM" : "SIGINT", ocrq_http_active(api->http));
    ocrq_http_quiesce(api->http);
    int64_t deadline = ocrq_now_us() + (int64_t)cfg->api_shutdown_timeout_s * 1000000;
    if (!drain(api, deadline))
        log_warn(NULL, "api: %u requests still in progress after %d s: stopping anyway",
                 ocrq_http_active(api->http), cfg->api_shutdown_timeout_s);
out:
    /* the pipeline answers what it holds, then the last replies go out */
    api_pipeline_stop(api->pipe);
    if (api->http)
        drain(api, ocrq_now_us() + 1000000);
    ocrq_http_stop(api->http);
    struct ocrq_db *db = pthread_getspecific(api->db_key);
    ocrq_db_free(db);
    pthread_key_delete(api->db_key);
    pthread_mutex_destroy(&api->keys_mu);
    free(api);
    ocrq_config_free(cfg);
    if (rc == 0)
        log_info(NULL, "api: stopped");
    return rc;
}
