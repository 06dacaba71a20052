/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The configuration of every ocrq binary. One table below declares each key:
 * its path in the file, type, place in struct ocrq_config, default and limits.
 * Loading = defaults, then the libconfig file (every setting must be known and
 * valid), then the environment overrides, then the checks across fields.
 */
#include "ocrq/config.h"

#include "ocrq/cpulist.h"
#include "ocrq/log.h"
#include "ocrq/netguard.h"
#include "ocrq/sign.h"
#include "ocrq/status.h"
#include "ocrq/url.h"

#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_FILE_BYTES (1024 * 1024) /* a config file is a few KiB */
#define MAX_KEY_LEN 128
#define MAX_URL_LEN 4096
#define MAX_PATH_LEN 4096
#define MAX_NAME_LEN 255   /* AMQP short strings: queue and exchange names */
#define MAX_CIDR_LEN 64    /* "ffff:...:ffff/128" is 43 */
#define MAX_SECRET_LEN 128 /* "whsec_" + base64 of 64 bytes is 94 */

_Static_assert(OCRQ_MAX_URL_ALLOWLIST <= OCRQ_NETGUARD_MAX_ALLOW, "allow-list over the guard's");
_Static_assert(OCRQ_MAX_WEBHOOK_SECRETS <= OCRQ_SIGN_MAX_KEYS, "more secrets than ocrq_sign takes");

enum stype { T_STRING, T_INT, T_INT64, T_BOOL, T_STRLIST, T_INTLIST };

#define F_EMPTY_IS_NULL 1u /* a string "" in the file means "not set" (NULL) */

struct setting {
    const char *path; /* "group.key" */
    enum stype type;
    size_t off;          /* the field in struct ocrq_config */
    size_t n_off;        /* lists: the element count field */
    long long def;       /* numbers */
    const char *def_s;   /* strings; NULL: the field stays NULL */
    const int *def_list; /* int lists; string lists start empty */
    int def_n;
    long long min, max; /* numbers: the value (each element of a list); strings: the length */
    int min_n, max_n;   /* lists: how many elements */
    unsigned flags;
    const char *(*check)(const char *s); /* strings: NULL if fine, else why not */
    const char *doc;
};

static const char *check_level(const char *s);
static const char *check_lang(const char *s);
static const char *check_absolute(const char *s);
static const char *check_url(const char *s);
static const char *check_http_url(const char *s);
static const char *check_cpus(const char *s);
static const char *check_device(const char *s);
static const char *check_queue_type(const char *s);
static const char *check_pool_mode(const char *s);
static const char *check_listen(const char *s);
static const char *check_cidr(const char *s);
static const char *check_secret(const char *s);
static const char *check_pdf_text(const char *s);

static const int default_retry_delays[3] = {5, 30, 120};
/* the Standard Webhooks example: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h */
static const int default_webhook_retries[9] = {5,     300,   1800,  7200, 18000,
                                               36000, 50400, 72000, 86400};

/* clang-format off */
#define FIELD(f) offsetof(struct ocrq_config, f)
#define STR(p, f, d, lo, hi, fl, chk, doc_) {.path = p, .type = T_STRING, .off = FIELD(f), \
    .def_s = d, .min = lo, .max = hi, .flags = fl, .check = chk, .doc = doc_}
#define INT(p, f, d, lo, hi, doc_) {.path = p, .type = T_INT, .off = FIELD(f), .def = d, \
    .min = lo, .max = hi, .doc = doc_}
#define BOOL(p, f, d, doc_) {.path = p, .type = T_BOOL, .off = FIELD(f), .def = d, .min = 0, \
    .max = 1, .doc = doc_}
#define INT64(p, f, d, lo, hi, doc_) {.path = p, .type = T_INT64, .off = FIELD(f), .def = d, \
    .min = lo, .max = hi, .doc = doc_}
/* lists: defaults (an int array, or none for strings), each element's limits, how many */
#define LIST(p, t, f, nf, defs, ndefs, lo, hi, nlo, nhi, chk, doc_) {.path = p, .type = t, \
    .off = FIELD(f), .n_off = FIELD(nf), .def_list = defs, .def_n = ndefs, .min = lo, .max = hi, \
    .min_n = nlo, .max_n = nhi, .check = chk, .doc = doc_}
/* clang-format on */

static const struct setting settings[] = {
    STR("amqp.url", amqp_url, "amqp://guest:guest@127.0.0.1:5682/", 1, MAX_URL_LEN, 0, check_url,
        "broker address, amqp:// (no TLS: amqps:// is refused); the vhost is the URL-encoded path"),
    LIST("amqp.urls", T_STRLIST, amqp_urls, n_amqp_urls, NULL, 0, 1, MAX_URL_LEN, 0,
         OCRQ_MAX_AMQP_URLS, check_url, "brokers tried in turn; empty: amqp.url"),
    INT("amqp.heartbeat_s", amqp_heartbeat_s, 30, 0, 3600, "AMQP heartbeat; 0 disables"),
    INT("amqp.confirm_window", amqp_confirm_window, 256, 1, 65535,
        "publishes in flight before waiting for confirms"),
    INT("amqp.frame_max", amqp_frame_max, 131072, 4096, 16777216, "largest AMQP frame"),
    STR("amqp.queue_jobs", queue_jobs, "ocr.jobs", 1, MAX_NAME_LEN, 0, NULL, "normal job queue"),
    STR("amqp.queue_priority", queue_priority, "ocr.jobs.priority", 1, MAX_NAME_LEN, 0, NULL,
        "priority job queue"),
    STR("amqp.queue_failed", queue_failed, "ocr.failed", 1, MAX_NAME_LEN, 0, NULL,
        "dead-lettered jobs"),
    STR("amqp.exchange_dlx", exchange_dlx, "ocr.dlx", 1, MAX_NAME_LEN, 0, NULL,
        "fanout dead-letter exchange bound to queue_failed"),
    INT("amqp.max_priority", max_priority, 9, 1, 255, "x-max-priority of the job queues"),
    STR("amqp.queue_type", queue_type, "classic", 1, 16, 0, check_queue_type,
        "classic or quorum (replicated over a cluster)"),
    INT("amqp.delivery_limit", delivery_limit, 20, 1, 1000,
        "quorum: deliveries of one message before the broker dead-letters it"),
    INT("amqp.priority_threshold", priority_threshold, 7, 0, 255,
        "priority >= this goes to queue_priority"),
    LIST("amqp.retry_delays_s", T_INTLIST, retry_delays_s, n_retry_delays, default_retry_delays, 3,
         1, 86400, 1, OCRQ_MAX_RETRY_DELAYS, NULL,
         "delays before the retries of a transient failure"),

    STR("database.url", database_url, "postgresql://ocrq@127.0.0.1:5442/ocrq", 1, MAX_URL_LEN, 0,
        NULL, "libpq connection URI"),
    INT("database.connect_timeout_s", db_connect_timeout_s, 5, 1, 3600, "connect timeout"),
    INT("database.statement_timeout_ms", db_statement_timeout_ms, 30000, 0, 86400000,
        "longest wait for one database call; 0: no limit"),
    STR("database.pool_mode", db_pool_mode, "auto", 1, 16, 0, check_pool_mode,
        "auto, session or transaction: how the connection is pooled"),

    STR("worker.name", worker_name, NULL, 0, MAX_NAME_LEN, F_EMPTY_IS_NULL, NULL,
        "worker name; empty: <hostname>:<pid>"),
    INT("worker.max_attempts", max_attempts, 3, 1, 100, "deliveries before dead-lettering"),
    INT("worker.omp_thread_limit", omp_thread_limit, 1, 1, 1024, "OMP_THREAD_LIMIT"),
    INT("worker.idle_wait_ms", idle_wait_ms, 1000, 10, 60000,
        "how long an idle worker waits on the broker between checks"),
    INT("worker.processes", processes, 0, 0, 1024,
        "OCR processes under the supervisor; 0: one per CPU it may run on (of worker.cpus)"),
    STR("worker.cpus", cpus, NULL, 0, 1024, F_EMPTY_IS_NULL, check_cpus,
        "CPUs the children are spread over, e.g. \"0-3,6\"; empty: all allowed"),
    STR("worker.device", device, "cpu", 1, 8, 0, check_device, "cpu or gpu"),
    LIST("worker.gpus", T_INTLIST, gpus, n_gpus, NULL, 0, 0, 4095, 0, OCRQ_MAX_GPUS, NULL,
         "GPU ids handed out to the children in turn (device gpu)"),
    BOOL("worker.gpu_fallback_cpu", gpu_fallback_cpu, 0,
         "device gpu with no GPU engine: run on the CPU instead of refusing to start"),
    INT("worker.job_timeout_s", job_timeout_s, 300, 0, 86400,
        "soft time limit per job (engine monitor); 0 none"),
    INT("worker.hard_timeout_s", hard_timeout_s, 600, 0, 86400,
        "the supervisor kills a child whose job runs longer; 0 none"),
    INT("worker.max_jobs_per_child", max_jobs_per_child, 0, 0, 100000000,
        "a child is replaced after this many jobs; 0 never"),
    INT("worker.max_rss_mb", max_rss_mb, 2048, 0, 1048576,
        "a child is replaced once its resident set is larger; 0 never"),
    INT("worker.shutdown_timeout_s", shutdown_timeout_s, 60, 1, 86400,
        "on SIGTERM, how long children may take to finish their job"),
    STR("worker.metrics_listen", metrics_listen, "127.0.0.1:9464", 0, 300, F_EMPTY_IS_NULL,
        check_listen, "host:port of /healthz, /readyz and /metrics; empty: none"),

    STR("ocr.default_language", default_language, "eng", 1, 64, 0, check_lang,
        "language when a job names none"),
    STR("ocr.tessdata_dir", tessdata_dir, "/usr/share/tesseract-ocr/5/tessdata", 1, MAX_PATH_LEN, 0,
        NULL, "Tesseract traineddata directory"),
    INT64("ocr.max_pixels", max_pixels, 100000000LL, 1, 10000000000LL,
          "width * height cap per image"),
    INT("ocr.engine_cache", engine_cache, 4, 1, 64, "engines kept per process"),
    INT("ocr.max_pages", max_pages, 10000, 1, 1000000, "pages of one document (TIFF, PDF)"),
    INT("ocr.pdf_dpi", pdf_dpi, 300, 36, 1200, "resolution PDF pages are rendered at"),
    STR("ocr.pdf_text", pdf_text, "skip", 1, 8, 0, check_pdf_text,
        "PDF pages that carry text: skip (take it), redo or force (OCR them)"),
    BOOL("ocr.auto_rotate", auto_rotate, 0,
         "detect each page's orientation (OSD) and turn pages on their side or upside down"),
    BOOL("ocr.deskew", deskew, 0, "straighten slightly rotated pages before OCR"),

    BOOL("dedupe.enabled", dedupe_enabled, 0,
         "a job whose document, language and options match a recent success takes its result"),
    INT("dedupe.ttl_s", dedupe_ttl_s, 86400, 1, 365 * 86400,
        "how recent that success must be, in seconds"),

    INT64("artifacts.max_bytes", artifacts_max_bytes, 50LL * 1024 * 1024, 1, 512LL * 1024 * 1024,
          "largest artifact (hOCR, ALTO, TSV, PDF, words) stored; larger ones are not kept"),

    INT64("documents.inline_max_bytes", inline_max_bytes, 8LL * 1024 * 1024, 1, 120LL * 1024 * 1024,
          "largest document carried in the message"),
    INT64("documents.max_bytes", max_bytes, 1024LL * 1024 * 1024, 1, 64LL * 1024 * 1024 * 1024,
          "largest document ocrq-submit stores (larger ones are refused)"),
    INT("documents.retention_s", doc_retention_s, 0, 0, 365 * 86400,
        "a stored document is deleted this long after its job ended"),
    INT("documents.split_min_pages", split_min_pages, 2, 2, 1000000,
        "documents of at least this many pages become page tasks"),
    INT("documents.page_window", page_window, 0, 0, 100000,
        "page tasks of one document in the queues at once; 0: 2 x the OCR processes"),
    INT64("documents.fetch_max_bytes", fetch_max_bytes, 64LL * 1024 * 1024, 1,
          4LL * 1024 * 1024 * 1024, "largest document fetched by URL"),
    INT("documents.fetch_connect_timeout_s", fetch_connect_timeout_s, 10, 1, 600,
        "URL fetch connect timeout"),
    INT("documents.fetch_timeout_s", fetch_timeout_s, 60, 1, 3600, "URL fetch total timeout"),
    LIST("documents.file_roots", T_STRLIST, file_roots, n_file_roots, NULL, 0, 1, MAX_PATH_LEN, 0,
         OCRQ_MAX_FILE_ROOTS, check_absolute, "directories file-path documents may come from"),

    INT("retention.days", retention_days, 0, 0, 36500,
        "the supervisor deletes jobs that finished this many days ago, hourly; 0: never"),

    LIST("security.url_allowlist", T_STRLIST, url_allowlist, n_url_allowlist, NULL, 0, 1,
         MAX_CIDR_LEN, 0, OCRQ_MAX_URL_ALLOWLIST, check_cidr,
         "addresses and CIDR ranges that URL fetches and webhooks may reach although internal"),

    LIST("webhooks.secrets", T_STRLIST, webhook_secrets, n_webhook_secrets, NULL, 0, 1,
         MAX_SECRET_LEN, 0, OCRQ_MAX_WEBHOOK_SECRETS, check_secret,
         "whsec_ signing secrets; each one signs every webhook"),
    STR("webhooks.default_url", webhook_default_url, NULL, 0, MAX_URL_LEN, F_EMPTY_IS_NULL,
        check_http_url, "events of jobs without a webhook_url go here; empty: none"),
    BOOL("webhooks.dispatcher", webhook_dispatcher, 1,
         "ocrq-worker runs a webhook dispatcher beside its OCR processes"),
    INT("webhooks.concurrency", webhook_concurrency, 8, 1, 256, "deliveries in flight"),
    INT("webhooks.connect_timeout_s", webhook_connect_timeout_s, 5, 1, 300, "connect timeout"),
    INT("webhooks.timeout_s", webhook_timeout_s, 15, 1, 3600, "time limit of one attempt"),
    INT("webhooks.max_response_bytes", webhook_max_response_bytes, 65536, 0, 16777216,
        "bytes of a receiver's answer read"),
    INT("webhooks.text_max_chars", webhook_text_max_chars, 65536, 0, 100000000,
        "text in a payload; cut beyond, with text_truncated"),
    LIST("webhooks.retry_schedule_s", T_INTLIST, webhook_retry_s, n_webhook_retry_s,
         default_webhook_retries, 9, 1, 7 * 86400, 0, OCRQ_MAX_WEBHOOK_RETRIES, NULL,
         "waits before the retries of a delivery"),

    INT("submit.batch_size", submit_batch_size, 500, 1, 5000, "jobs recorded in one INSERT"),
    INT("submit.wait_poll_ms", wait_poll_ms, 250, 10, 60000, "--wait polling interval"),

    STR("api.listen", api_listen, "127.0.0.1:8080", 1, 300, 0, check_listen,
        "host:port ocrq-api listens on"),
    INT("api.threads", api_threads, 2, 1, 64, "threads answering HTTP connections"),
    INT("api.max_connections", api_max_connections, 1024, 1, 65536, "open connections at most"),
    INT64("api.max_body_bytes", api_max_body_bytes, 8LL * 1024 * 1024, 1024, 120LL * 1024 * 1024,
          "largest request body (413 beyond)"),
    INT64("api.max_upload_bytes", api_max_upload_bytes, 1024LL * 1024 * 1024, 1024,
          64LL * 1024 * 1024 * 1024, "largest document upload (POST /v1/jobs; 413 beyond)"),
    INT64("api.max_buffered_bytes", api_max_buffered_bytes, 512LL * 1024 * 1024, 1024 * 1024,
          1024LL * 1024 * 1024 * 1024,
          "request bodies held in memory at once, all uploads together (503 beyond)"),
    INT("api.rate_limit_per_s", api_rate_per_s, 100, 0, 1000000,
        "requests per second per key (token bucket refill); 0: no limit"),
    INT("api.rate_limit_burst", api_rate_burst, 200, 1, 1000000, "token bucket size per key"),
    INT("api.max_queue_depth", api_max_queue_depth, 100000, 0, 100000000,
        "ready jobs in a job queue above which POST /v1/jobs answers 503; 0: no check"),
    INT("api.retry_after_s", api_retry_after_s, 5, 1, 3600, "Retry-After of a 503"),
    INT("api.batch_max", api_batch_max, 256, 1, 5000,
        "accepted jobs recorded and published together at most"),
    INT("api.publish_timeout_s", api_publish_timeout_s, 10, 1, 600,
        "wait for broker confirms this long, then answer 503"),
    INT("api.shutdown_timeout_s", api_shutdown_timeout_s, 30, 1, 3600,
        "on SIGTERM, how long requests in progress may take"),

    STR("log.level", log_level, "info", 1, 16, 0, check_level, "debug, info, warn or error"),
};

#define N_SETTINGS (sizeof settings / sizeof settings[0])

/* Environment variables that override a setting (addresses, paths and secrets only). */
static const struct {
    const char *var;
    const char *path;
    const char *seps; /* lists: the characters between values (blanks around them are dropped) */
} env_overrides[] = {
    {"OCRQ_AMQP_URL", "amqp.url", NULL},
    {"OCRQ_DATABASE_URL", "database.url", NULL},
    {"OCRQ_API_LISTEN", "api.listen", NULL},
    {"OCRQ_METRICS_LISTEN", "worker.metrics_listen", NULL},
    {"OCRQ_FILE_ROOTS", "documents.file_roots", ":"},
    {"OCRQ_URL_ALLOWLIST", "security.url_allowlist", ","},
    {"OCRQ_WEBHOOK_SECRETS", "webhooks.secrets", " \t\n"},
};

/* Where an error is reported: the file (or "defaults"/the variable) and the caller's buffer. */
struct ctx {
    const char *where;
    char *err;
    size_t errlen;
};

static const char *check_level(const char *s)
{
    return ocrq_log_level_parse(s) < 0 ? "must be one of debug, info, warn, error" : NULL;
}

/* Same syntax as ocrq_lang_valid(): [A-Za-z0-9_] names joined by '+'. */
static const char *check_lang(const char *s)
{
    static const char *why = "must be language names like eng or eng+deu";
    int in_name = 0;
    for (const char *p = s; *p; p++) {
        if (isalnum((unsigned char)*p) || *p == '_')
            in_name = 1;
        else if (*p == '+' && in_name)
            in_name = 0;
        else
            return why;
    }
    return in_name ? NULL : why;
}

static const char *check_http_url(const char *s)
{
    const char *why;
    return ocrq_url_check(s, OCRQ_URL_HTTP, &why) == OCRQ_OK ? NULL : why;
}

/* A broker: amqp:// only, since the connection has no TLS (common/mq.c would refuse amqps://). */
static const char *check_url(const char *s)
{
    const char *why;
    return ocrq_url_check(s, OCRQ_URL_AMQP, &why) == OCRQ_OK ? NULL : why;
}

static const char *check_cpus(const char *s)
{
    return ocrq_cpulist_parse(s, NULL, 0) < 0 ? "must be a CPU list such as \"0-3,6\"" : NULL;
}

static const char *check_device(const char *s)
{
    return strcmp(s, "cpu") == 0 || strcmp(s, "gpu") == 0 ? NULL : "must be \"cpu\" or \"gpu\"";
}

static const char *check_queue_type(const char *s)
{
    return strcmp(s, "classic") == 0 || strcmp(s, "quorum") == 0
               ? NULL
               : "must be \"classic\" or \"quorum\"";
}

static const char *check_pool_mode(const char *s)
{
    return strcmp(s, "auto") == 0 || strcmp(s, "session") == 0 || strcmp(s, "transaction") == 0
               ? NULL
               : "must be \"auto\", \"session\" or \"transaction\"";
}

static const char *check_listen(const char *s)
{
    const char *colon = strrchr(s, ':');
    char *end;
    long port;

    if (!colon || colon == s)
        return "must be host:port, e.g. \"127.0.0.1:9464\"";
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (errno || *end || colon[1] == '\0' || port < 1 || port > 65535)
        return "the port must be between 1 and 65535";
    return NULL;
}

static const char *check_absolute(const char *s)
{
    return s[0] == '/' ? NULL : "must be absolute paths";
}

static const char *check_cidr(const char *s)
{
    struct ocrq_cidr cidr;
    const char *why;
    return ocrq_netguard_parse_cidr(s, &cidr, &why) == OCRQ_OK ? NULL : why;
}

/* The same names as ocrq_pdf_text_parse() in worker/document.c. */
static const char *check_pdf_text(const char *s)
{
    return strcmp(s, "skip") == 0 || strcmp(s, "redo") == 0 || strcmp(s, "force") == 0
               ? NULL
               : "must be \"skip\", \"redo\" or \"force\"";
}

/* The reason never quotes the secret. */
static const char *check_secret(const char *s)
{
    struct ocrq_secret key;
    const char *why;
    int rc = ocrq_sign_parse_secret(s, &key, &why);
    memset(&key, 0, sizeof key);
    return rc == OCRQ_OK ? NULL : why;
}

/* Write "where:line: key: reason" (line omitted when <= 0) into the caller's buffer. */
static int fail(const struct ctx *c, const char *file, int line, const char *key, const char *fmt,
                ...) __attribute__((format(printf, 5, 6)));

static int fail(const struct ctx *c, const char *file, int line, const char *key, const char *fmt,
                ...)
{
    char reason[512];
    va_list ap;

    if (!c->err || c->errlen == 0)
        return OCRQ_ERR_CONFIG;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (!file)
        file = c->where;
    if (line > 0 && key)
        snprintf(c->err, c->errlen, "%s:%d: %s: %s", file, line, key, reason);
    else if (line > 0)
        snprintf(c->err, c->errlen, "%s:%d: %s", file, line, reason);
    else if (key)
        snprintf(c->err, c->errlen, "%s: %s: %s", file, key, reason);
    else
        snprintf(c->err, c->errlen, "%s: %s", file, reason);
    return OCRQ_ERR_CONFIG;
}

/* Fail about libconfig setting s (its own file and line). */
static int fail_at(const struct ctx *c, const config_setting_t *s, const char *key,
                   const char *reason)
{
    return fail(c, config_setting_source_file(s), (int)config_setting_source_line(s), key, "%s",
                reason);
}

static const struct setting *find_setting(const char *path)
{
    for (size_t i = 0; i < N_SETTINGS; i++)
        if (strcmp(settings[i].path, path) == 0)
            return &settings[i];
    return NULL;
}

/* Nonzero if name is the group part of some setting's path. */
static int is_group(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < N_SETTINGS; i++)
        if (strncmp(settings[i].path, name, n) == 0 && settings[i].path[n] == '.')
            return 1;
    return 0;
}

static void *field(struct ocrq_config *cfg, size_t off)
{
    return (char *)cfg + off;
}

/* Free whatever the table says cfg owns for setting st, leaving it empty. */
static void clear_value(struct ocrq_config *cfg, const struct setting *st)
{
    if (st->type == T_STRING) {
        char **p = field(cfg, st->off);
        free(*p);
        *p = NULL;
    } else if (st->type == T_STRLIST || st->type == T_INTLIST) {
        int *n = field(cfg, st->n_off);
        if (st->type == T_STRLIST) {
            char **arr = field(cfg, st->off);
            for (int i = 0; i < *n; i++) {
                free(arr[i]);
                arr[i] = NULL;
            }
        }
        *n = 0;
    }
}

/* NULL if s is an acceptable value for string setting st (or a list element), else why not. */
static const char *string_problem(const struct setting *st, const char *s, char *buf, size_t len)
{
    size_t n = strnlen(s, (size_t)st->max + 1);
    if ((long long)n < st->min || (long long)n > st->max) {
        if (st->min == 1 && n == 0)
            return "must not be empty";
        snprintf(buf, len, "must be between %lld and %lld characters long", st->min, st->max);
        return buf;
    }
    if (n == 0 && (st->flags & F_EMPTY_IS_NULL))
        return NULL;
    return st->check ? st->check(s) : NULL;
}

/* Store a copy of s (already checked) into string setting st. */
static int set_string(struct ocrq_config *cfg, const struct setting *st, const char *s)
{
    char **p = field(cfg, st->off);
    char *copy = NULL;
    if (s && !(s[0] == '\0' && (st->flags & F_EMPTY_IS_NULL))) {
        copy = strdup(s);
        if (!copy)
            return OCRQ_ERR_NOMEM;
    }
    free(*p);
    *p = copy;
    return OCRQ_OK;
}

static void set_number(struct ocrq_config *cfg, const struct setting *st, long long v)
{
    if (st->type == T_INT || st->type == T_BOOL)
        *(int *)field(cfg, st->off) = (int)v;
    else
        *(long long *)field(cfg, st->off) = v;
}

static int apply_defaults(struct ocrq_config *cfg)
{
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const struct setting *st = &settings[i];
        int *n;
        switch (st->type) {
        case T_STRING:
            if (set_string(cfg, st, st->def_s) != OCRQ_OK)
                return OCRQ_ERR_NOMEM;
            break;
        case T_INT:
        case T_INT64:
        case T_BOOL:
            set_number(cfg, st, st->def);
            break;
        case T_INTLIST:
            n = field(cfg, st->n_off);
            if (st->def_n > 0)
                memcpy(field(cfg, st->off), st->def_list, (size_t)st->def_n * sizeof(int));
            *n = st->def_n;
            break;
        case T_STRLIST: /* calloc'd empty */
            break;
        }
    }
    return OCRQ_OK;
}

/* Read an integer setting (or list element) and check its range. */
static int read_number(const struct ctx *c, const struct setting *st, const config_setting_t *s,
                       const char *what, long long *v)
{
    char reason[160];
    int t = config_setting_type(s);
    if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) {
        snprintf(reason, sizeof reason, "expected %s", what);
        return fail_at(c, s, st->path, reason);
    }
    *v = config_setting_get_int64(s);
    if (*v < st->min || *v > st->max) {
        snprintf(reason, sizeof reason, "%s between %lld and %lld",
                 st->type == T_INTLIST ? "each value must be" : "must be", st->min, st->max);
        return fail_at(c, s, st->path, reason);
    }
    return OCRQ_OK;
}

/* Read a string setting (or list element) and check it. */
static int read_string(const struct ctx *c, const struct setting *st, const config_setting_t *s,
                       const char *what, const char **v)
{
    char reason[160];
    const char *why;
    if (config_setting_type(s) != CONFIG_TYPE_STRING) {
        snprintf(reason, sizeof reason, "expected %s", what);
        return fail_at(c, s, st->path, reason);
    }
    *v = config_setting_get_string(s);
    why = string_problem(st, *v, reason, sizeof reason);
    return why ? fail_at(c, s, st->path, why) : OCRQ_OK;
}

/* Check the shape of a list setting: a list or an array, with a permitted length. */
static int read_list_shape(const struct ctx *c, const struct setting *st, const config_setting_t *s,
                           const char *what, int *len)
{
    char reason[160];
    if (!config_setting_is_list(s) && !config_setting_is_array(s)) {
        snprintf(reason, sizeof reason, "expected %s", what);
        return fail_at(c, s, st->path, reason);
    }
    *len = config_setting_length(s);
    if (*len < st->min_n || *len > st->max_n) {
        snprintf(reason, sizeof reason, "must have between %d and %d values", st->min_n, st->max_n);
        return fail_at(c, s, st->path, reason);
    }
    return OCRQ_OK;
}

/* Apply one setting from the file to cfg, after checking it. */
static int apply_setting(const struct ctx *c, struct ocrq_config *cfg, const struct setting *st,
                         const config_setting_t *s)
{
    int st_code = OCRQ_OK;
    long long num;
    const char *str;
    int len, i;

    switch (st->type) {
    case T_STRING:
        st_code = read_string(c, st, s, "a string", &str);
        if (st_code == OCRQ_OK)
            st_code = set_string(cfg, st, str);
        break;
    case T_INT:
    case T_INT64:
        st_code = read_number(c, st, s, "an integer", &num);
        if (st_code == OCRQ_OK)
            set_number(cfg, st, num);
        break;
    case T_BOOL:
        if (config_setting_type(s) != CONFIG_TYPE_BOOL)
            st_code = fail_at(c, s, st->path, "expected true or false");
        else
            set_number(cfg, st, config_setting_get_bool(s));
        break;
    case T_INTLIST:
        st_code = read_list_shape(c, st, s, "a list of integers", &len);
        clear_value(cfg, st);
        for (i = 0; st_code == OCRQ_OK && i < len; i++) {
            st_code = read_number(c, st, config_setting_get_elem(s, (unsigned)i),
                                  "a list of integers", &num);
            if (st_code == OCRQ_OK) {
                ((int *)field(cfg, st->off))[i] = (int)num;
                (*(int *)field(cfg, st->n_off))++;
            }
        }
        break;
    case T_STRLIST:
        st_code = read_list_shape(c, st, s, "a list of strings", &len);
        clear_value(cfg, st);
        for (i = 0; st_code == OCRQ_OK && i < len; i++) {
            st_code = read_string(c, st, config_setting_get_elem(s, (unsigned)i),
                                  "a list of strings", &str);
            if (st_code == OCRQ_OK) {
                char **arr = field(cfg, st->off);
                arr[i] = strdup(str);
                if (!arr[i])
                    st_code = OCRQ_ERR_NOMEM;
                else
                    (*(int *)field(cfg, st->n_off))++;
            }
        }
        break;
    }
    return st_code;
}

/* Walk one top-level group of the file: every setting in it must be known. */
static int apply_group(const struct ctx *c, struct ocrq_config *cfg, const config_setting_t *g)
{
    const char *gname = config_setting_name(g);
    int n = config_setting_length(g);

    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        char key[MAX_KEY_LEN];
        snprintf(key, sizeof key, "%s.%s", gname, config_setting_name(s));
        const struct setting *st = find_setting(key);
        if (!st)
            return fail_at(c, s, key, "unknown setting");
        int rc = apply_setting(c, cfg, st, s);
        if (rc != OCRQ_OK)
            return rc;
    }
    return OCRQ_OK;
}

/* Refuse what libconfig would read badly: a missing, unreadable, odd or huge file. */
static int check_file(const struct ctx *c, const char *path)
{
    struct stat sb;
    FILE *f = fopen(path, "r");
    int rc = OCRQ_OK;

    if (!f)
        return fail(c, path, 0, NULL, "cannot read: %s", strerror(errno));
    if (fstat(fileno(f), &sb) != 0)
        rc = fail(c, path, 0, NULL, "cannot read: %s", strerror(errno));
    else if (!S_ISREG(sb.st_mode))
        rc = fail(c, path, 0, NULL, "cannot read: not a regular file");
    else if (sb.st_size > MAX_FILE_BYTES)
        rc = fail(c, path, 0, NULL, "cannot read: larger than %d bytes", MAX_FILE_BYTES);
    fclose(f);
    return rc;
}

/* Line of key in the file, or 0 if it is not there (for checks across fields). */
static int line_of(const config_t *lc, const char *key)
{
    const config_setting_t *s = lc ? config_lookup(lc, key) : NULL;
    return s ? (int)config_setting_source_line(s) : 0;
}

/* Checks that involve more than one setting. lc may be NULL (no file). */
static int cross_check(const struct ctx *c, const struct ocrq_config *cfg, const config_t *lc)
{
    if (cfg->priority_threshold > cfg->max_priority)
        return fail(c, NULL, line_of(lc, "amqp.priority_threshold"), "amqp.priority_threshold",
                    "must not be greater than amqp.max_priority (%d)", cfg->max_priority);
    if (cfg->fetch_connect_timeout_s > cfg->fetch_timeout_s)
        return fail(c, NULL, line_of(lc, "documents.fetch_connect_timeout_s"),
                    "documents.fetch_connect_timeout_s",
                    "must not be greater than documents.fetch_timeout_s (%d)",
                    cfg->fetch_timeout_s);
    if (strcmp(cfg->queue_jobs, cfg->queue_priority) == 0 ||
        strcmp(cfg->queue_jobs, cfg->queue_failed) == 0 ||
        strcmp(cfg->queue_priority, cfg->queue_failed) == 0)
        return fail(c, NULL, 0, "amqp", "queue_jobs, queue_priority and queue_failed must differ");
    if (cfg->hard_timeout_s > 0 && cfg->job_timeout_s > 0 &&
        cfg->hard_timeout_s <= cfg->job_timeout_s)
        return fail(c, NULL, line_of(lc, "worker.hard_timeout_s"), "worker.hard_timeout_s",
                    "must be greater than worker.job_timeout_s (%d), or 0", cfg->job_timeout_s);
    if (strcmp(cfg->device, "gpu") == 0 && cfg->n_gpus == 0)
        return fail(c, NULL, line_of(lc, "worker.gpus"), "worker.gpus",
                    "must list at least one GPU id when worker.device is \"gpu\"");
    return OCRQ_OK;
}

/* Read the file into cfg (over the defaults) and run the checks across fields. */
static int load_file(const struct ctx *c, struct ocrq_config *cfg, const char *path)
{
    config_t lc;
    int rc;

    rc = check_file(c, path);
    if (rc != OCRQ_OK)
        return rc;
    config_init(&lc);
    if (!config_read_file(&lc, path)) {
        if (config_error_type(&lc) == CONFIG_ERR_FILE_IO)
            rc = fail(c, path, 0, NULL, "cannot read: %s", strerror(errno));
        else
            rc = fail(c, config_error_file(&lc), config_error_line(&lc), NULL, "%s",
                      config_error_text(&lc));
        goto out;
    }
    const config_setting_t *root = config_root_setting(&lc);
    int n = config_setting_length(root);
    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
        const char *name = config_setting_name(s);
        if (!is_group(name)) {
            rc = fail_at(c, s, name, "unknown setting");
            goto out;
        }
        if (!config_setting_is_group(s)) {
            rc = fail_at(c, s, name, "expected a group { ... }");
            goto out;
        }
        rc = apply_group(c, cfg, s);
        if (rc != OCRQ_OK)
            goto out;
    }
    rc = cross_check(c, cfg, &lc);
out:
    config_destroy(&lc);
    return rc;
}

/*
 * Replace string list st with the values in v: split at any of seps, blanks
 * around each value dropped, empty values skipped. On error cfg is left
 * half-set (the caller discards it). Errors name the value by its position,
 * never by its text (it may be a secret).
 */
static int apply_env_list(const struct ctx *c, struct ocrq_config *cfg, const struct setting *st,
                          const char *v, const char *seps)
{
    char *copy = strdup(v), *save = NULL, buf[160];
    char **arr = field(cfg, st->off);
    int *n = field(cfg, st->n_off);
    int pos = 0, rc = OCRQ_OK;

    if (!copy)
        return OCRQ_ERR_NOMEM;
    clear_value(cfg, st);
    for (char *tok = strtok_r(copy, seps, &save); tok; tok = strtok_r(NULL, seps, &save)) {
        char *end = tok + strlen(tok);
        while (isspace((unsigned char)*tok))
            tok++;
        while (end > tok && isspace((unsigned char)end[-1]))
            *--end = '\0';
        if (*tok == '\0')
            continue;
        pos++;
        if (*n >= st->max_n) {
            rc = fail(c, NULL, 0, st->path, "must have between %d and %d values", st->min_n,
                      st->max_n);
            goto out;
        }
        const char *why = string_problem(st, tok, buf, sizeof buf);
        if (why) {
            rc = fail(c, NULL, 0, st->path, "value %d: %s", pos, why);
            goto out;
        }
        arr[*n] = strdup(tok);
        if (!arr[*n]) {
            rc = OCRQ_ERR_NOMEM;
            goto out;
        }
        (*n)++;
    }
    if (*n < st->min_n)
        rc = fail(c, NULL, 0, st->path, "must have between %d and %d values", st->min_n, st->max_n);
out:
    memset(copy, 0, strlen(v)); /* it may hold secrets */
    free(copy);
    return rc;
}

/* Apply OCRQ_AMQP_URL and friends when set and non-empty. */
static int apply_env(char *err, size_t errlen, struct ocrq_config *cfg)
{
    for (size_t i = 0; i < sizeof env_overrides / sizeof env_overrides[0]; i++) {
        const char *v = getenv(env_overrides[i].var);
        const struct setting *st = find_setting(env_overrides[i].path);
        struct ctx c = {env_overrides[i].var, err, errlen};
        char buf[160];
        if (!v || !*v || !st)
            continue;
        if (env_overrides[i].seps) {
            int rc = apply_env_list(&c, cfg, st, v, env_overrides[i].seps);
            if (rc != OCRQ_OK)
                return rc;
            continue;
        }
        const char *why = string_problem(st, v, buf, sizeof buf);
        if (why)
            return fail(&c, NULL, 0, st->path, "%s", why);
        if (set_string(cfg, st, v) != OCRQ_OK)
            return OCRQ_ERR_NOMEM;
        if (strcmp(st->path, "amqp.url") == 0)
            clear_value(cfg, find_setting("amqp.urls")); /* the one broker named */
    }
    return OCRQ_OK;
}

/*
 * Load the configuration: defaults, then the file (path, else $OCRQ_CONFIG
 * when set and non-empty, else none), then the environment overrides.
 * Returns OCRQ_OK, OCRQ_ERR_CONFIG with "file:line: key: reason" in err, or
 * OCRQ_ERR_NOMEM. The caller owns *out (NULL on error) and frees it with
 * ocrq_config_free(). Reads the environment: call it before starting threads.
 */
int ocrq_config_load(const char *path, struct ocrq_config **out, char *err, size_t errlen)
{
    struct ocrq_config *cfg = NULL;
    int rc;

    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!path) {
        const char *env = getenv("OCRQ_CONFIG");
        if (env && *env)
            path = env;
    }
    rc = OCRQ_ERR_NOMEM;
    cfg = calloc(1, sizeof *cfg);
    if (!cfg || apply_defaults(cfg) != OCRQ_OK)
        goto out;
    if (path) {
        struct ctx c = {path, err, errlen};
        cfg->path = strdup(path);
        if (!cfg->path)
            goto out;
        rc = load_file(&c, cfg, path);
    } else {
        struct ctx c = {"defaults", err, errlen};
        rc = cross_check(&c, cfg, NULL);
    }
    if (rc != OCRQ_OK)
        goto out;
    rc = apply_env(err, errlen, cfg);
    if (rc != OCRQ_OK)
        goto out;
    *out = cfg;
    cfg = NULL;
out:
    if (rc == OCRQ_ERR_NOMEM && err && errlen)
        snprintf(err, errlen, "%s", ocrq_strerror(rc));
    ocrq_config_free(cfg);
    return rc;
}

/* Free a configuration and every string the table says it owns; NULL is fine. */
void ocrq_config_free(struct ocrq_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < N_SETTINGS; i++)
        clear_value(cfg, &settings[i]);
    free(cfg->path);
    free(cfg);
}
