/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The one configuration of every ocrq binary. Loaded from a libconfig file
 * (-c FILE, else $OCRQ_CONFIG, else built-in defaults), then overridden by
 * the environment for addresses, paths and secrets:
 *   OCRQ_AMQP_URL         -> amqp.url
 *   OCRQ_DATABASE_URL     -> database.url
 *   OCRQ_API_LISTEN       -> api.listen
 *   OCRQ_METRICS_LISTEN   -> worker.metrics_listen
 *   OCRQ_FILE_ROOTS       -> documents.file_roots (colon-separated; replaces the list)
 *   OCRQ_URL_ALLOWLIST    -> security.url_allowlist (comma-separated; replaces the list)
 *   OCRQ_WEBHOOK_SECRETS  -> webhooks.secrets (space-separated; replaces the list)
 * Every key is declared once in a table in config.c with its type, default
 * and limits; conf/ocrq.conf documents them all.
 */
#ifndef OCRQ_CONFIG_H
#define OCRQ_CONFIG_H

#include <stddef.h>

#define OCRQ_MAX_RETRY_DELAYS 16
#define OCRQ_MAX_FILE_ROOTS 16
#define OCRQ_MAX_AMQP_URLS 16
#define OCRQ_MAX_GPUS 64
#define OCRQ_MAX_WEBHOOK_RETRIES 32
#define OCRQ_MAX_URL_ALLOWLIST 64
#define OCRQ_MAX_WEBHOOK_SECRETS 8

struct ocrq_config {
    char *path; /* the file loaded, or NULL for built-in defaults */

    /* amqp */
    char *amqp_url;                      /* "amqp://guest:guest@127.0.0.1:5682/" */
    char *amqp_urls[OCRQ_MAX_AMQP_URLS]; /* brokers tried in turn; none: amqp_url alone */
    int n_amqp_urls;                     /* 0 after OCRQ_AMQP_URL, which names the one broker */
    int amqp_heartbeat_s;                /* 30; 0 disables */
    int amqp_confirm_window;             /* publishes in flight before waiting for confirms: 256 */
    int amqp_frame_max;                  /* 131072 */

    /* topology: names and arguments; every component declares the same */
    char *queue_jobs;       /* "ocr.jobs" */
    char *queue_priority;   /* "ocr.jobs.priority" */
    char *queue_failed;     /* "ocr.failed" */
    char *exchange_dlx;     /* "ocr.dlx" (fanout to queue_failed) */
    int max_priority;       /* x-max-priority of the job queues: 9 (classic only) */
    char *queue_type;       /* "classic" or "quorum" */
    int delivery_limit;     /* quorum: x-delivery-limit of the job queues: 20 */
    int priority_threshold; /* priority >= this goes to queue_priority: 7 */
    int retry_delays_s[OCRQ_MAX_RETRY_DELAYS]; /* {5, 30, 120} */
    int n_retry_delays;

    /* database */
    char *database_url;          /* "postgresql://ocrq@127.0.0.1:5442/ocrq" */
    int db_connect_timeout_s;    /* 5 */
    int db_statement_timeout_ms; /* every database call ends within this: 30000; 0 none */
    char *db_pool_mode;          /* "auto", "session" or "transaction" (a transaction pool) */

    /* worker */
    char *worker_name;       /* NULL ("" in the file): "<hostname>:<pid>" */
    int max_attempts;        /* deliveries before dead-lettering: 3 */
    int omp_thread_limit;    /* OMP_THREAD_LIMIT for tesseract: 1 */
    int idle_wait_ms;        /* how long an idle worker waits on the broker between checks: 1000 */
    int processes;           /* OCR processes under the supervisor; 0 (default): one per CPU */
    char *cpus;              /* "0-3,6"; NULL ("" in the file): the supervisor's own CPUs */
    char *device;            /* "cpu" or "gpu" */
    int gpus[OCRQ_MAX_GPUS]; /* device "gpu": ids handed out to the children in turn */
    int n_gpus;
    int gpu_fallback_cpu;   /* device "gpu" without a GPU engine: run on the CPU (logged) */
    int job_timeout_s;      /* soft limit through the engine's monitor: 300; 0 none */
    int hard_timeout_s;     /* the supervisor kills a child whose job runs longer: 600; 0 none */
    int max_jobs_per_child; /* a child recycles itself after this many jobs: 0 never */
    int max_rss_mb;         /* ... or once its resident set is larger: 2048; 0 never */
    int shutdown_timeout_s; /* SIGTERM: how long children may take to finish their job: 60 */
    char *metrics_listen;   /* "127.0.0.1:9464"; NULL ("" in the file): no HTTP */

    /* ocr */
    char *default_language; /* "eng" */
    char *tessdata_dir;     /* "/usr/share/tesseract-ocr/5/tessdata" */
    long long max_pixels;   /* width * height cap per image: 100000000 */
    int engine_cache;       /* engines kept per process, one per language set: 4 */
    int max_pages;          /* pages of one document (TIFF, PDF): 10000 */
    int pdf_dpi;            /* PDF pages are rendered at this resolution: 300 */
    char *pdf_text;         /* PDF pages with text: "skip", "redo" or "force" (docs/documents.md) */
    int auto_rotate;        /* orientation detection turns pages upright: 0 */
    int deskew;             /* Leptonica straightens slightly rotated pages: 0 */

    /* dedupe */
    int dedupe_enabled; /* take the result of a recent job on the same document: 0 */
    int dedupe_ttl_s;   /* ... that succeeded at most this long ago: 86400 */

    /* artifacts */
    long long artifacts_max_bytes; /* largest artifact stored (docs/results.md): 50 MiB */

    /* documents */
    long long inline_max_bytes;  /* largest document carried in the message: 8 MiB */
    long long max_bytes;         /* largest document stored (ocrq-submit): 1 GiB */
    int doc_retention_s;         /* stored document kept after its job ended: 0 s */
    int split_min_pages;         /* documents of this many pages become page tasks: 2 */
    int page_window;             /* page tasks of a document queued at once; 0: 2 x processes */
    long long fetch_max_bytes;   /* largest document fetched by URL: 64 MiB */
    int fetch_connect_timeout_s; /* 10 */
    int fetch_timeout_s;         /* 60 */
    char *file_roots[OCRQ_MAX_FILE_ROOTS]; /* directories file-path documents may come from: none */
    int n_file_roots;

    /* retention */
    int retention_days; /* the supervisor deletes jobs finished this long ago: 0 never */

    /* security */
    char *url_allowlist[OCRQ_MAX_URL_ALLOWLIST]; /* addresses and CIDR ranges the SSRF guard
                                                    lets through (netguard.h): none */
    int n_url_allowlist;

    /* webhooks */
    char *webhook_secrets[OCRQ_MAX_WEBHOOK_SECRETS]; /* "whsec_..." (sign.h); each one signs */
    int n_webhook_secrets;
    char *webhook_default_url;      /* events of jobs without webhook_url go here; NULL: none */
    int webhook_dispatcher;         /* ocrq-worker runs a dispatcher beside the OCR processes: 1 */
    int webhook_concurrency;        /* deliveries in flight per dispatcher: 8 */
    int webhook_connect_timeout_s;  /* 5 */
    int webhook_timeout_s;          /* a whole attempt: 15 */
    int webhook_max_response_bytes; /* read of the receiver's answer: 65536 */
    int webhook_text_max_chars;     /* text in a payload, cut beyond (text_truncated): 65536 */
    int webhook_retry_s[OCRQ_MAX_WEBHOOK_RETRIES]; /* waits before the retries */
    int n_webhook_retry_s;

    /* submit */
    int submit_batch_size; /* jobs recorded in one INSERT: 500 */
    int wait_poll_ms;      /* --wait polling interval: 250 */

    /* api (ocrq-api) */
    char *api_listen;                 /* "127.0.0.1:8080" */
    int api_threads;                  /* 2 */
    int api_max_connections;          /* 1024 */
    long long api_max_body_bytes;     /* 8 MiB: a request that is not a document upload */
    long long api_max_upload_bytes;   /* a document upload (streamed to the store): 1 GiB */
    long long api_max_buffered_bytes; /* bodies held in memory, all uploads: 512 MiB */
    int api_rate_per_s;               /* token bucket refill per key: 100; 0 no limit */
    int api_rate_burst;               /* 200 */
    int api_max_queue_depth;          /* 503 above this many ready jobs: 100000; 0 no check */
    int api_retry_after_s;            /* 5 */
    int api_batch_max;                /* 256 */
    int api_publish_timeout_s;        /* 10 */
    int api_shutdown_timeout_s;       /* 30 */

    /* log */
    char *log_level; /* "info" */
};

/*
 * Load the configuration. path may be NULL: then $OCRQ_CONFIG if set, else
 * the built-in defaults (no file). Environment overrides are applied after the
 * file. On error returns OCRQ_ERR_CONFIG and writes "file:line: key: reason"
 * into err. The caller owns *out and frees it with ocrq_config_free().
 */
int ocrq_config_load(const char *path, struct ocrq_config **out, char *err, size_t errlen);

/* Free a configuration; NULL is fine. */
void ocrq_config_free(struct ocrq_config *cfg);

#endif
