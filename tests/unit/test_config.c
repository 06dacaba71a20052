/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests for common/config.c: built-in defaults, the shipped
 * conf/ocrq.conf (every key present, equal to the defaults), $OCRQ_CONFIG and
 * the environment overrides (strings and lists), and the "file:line: key:
 * reason" errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ocrq/config.h"
#include "ocrq/status.h"
#include "unit_files.h"

static char tmp[64];        /* a mkdtemp directory for the test files */
static char file[PATH_MAX]; /* tmp/test.conf */
static char shipped[PATH_MAX];

/* Every key of the table, for the check that the shipped file shows them all. */
static const char *const all_keys[] = {
    "amqp.url",
    "amqp.heartbeat_s",
    "amqp.confirm_window",
    "amqp.frame_max",
    "amqp.queue_jobs",
    "amqp.queue_priority",
    "amqp.queue_failed",
    "amqp.exchange_dlx",
    "amqp.max_priority",
    "amqp.queue_type",
    "amqp.delivery_limit",
    "amqp.priority_threshold",
    "amqp.retry_delays_s",
    "database.url",
    "database.connect_timeout_s",
    "database.statement_timeout_ms",
    "database.pool_mode",
    "worker.name",
    "worker.max_attempts",
    "worker.omp_thread_limit",
    "worker.idle_wait_ms",
    "ocr.default_language",
    "ocr.tessdata_dir",
    "ocr.max_pixels",
    "ocr.engine_cache",
    "ocr.max_pages",
    "ocr.pdf_dpi",
    "ocr.pdf_text",
    "ocr.auto_rotate",
    "ocr.deskew",
    "dedupe.enabled",
    "dedupe.ttl_s",
    "documents.inline_max_bytes",
    "documents.max_bytes",
    "documents.retention_s",
    "documents.split_min_pages",
    "documents.page_window",
    "documents.fetch_max_bytes",
    "documents.fetch_connect_timeout_s",
    "documents.fetch_timeout_s",
    "documents.file_roots",
    "retention.days",
    "security.url_allowlist",
    "webhooks.secrets",
    "submit.batch_size",
    "submit.wait_poll_ms",
    "log.level",
};

static void clear_env(void)
{
    unsetenv("OCRQ_CONFIG");
    unsetenv("OCRQ_AMQP_URL");
    unsetenv("OCRQ_DATABASE_URL");
    unsetenv("OCRQ_URL_ALLOWLIST");
    unsetenv("OCRQ_WEBHOOK_SECRETS");
    unsetenv("OCRQ_API_LISTEN");
    unsetenv("OCRQ_METRICS_LISTEN");
    unsetenv("OCRQ_FILE_ROOTS");
}

static int setup(void **state)
{
    (void)state;
    char templ[] = "/tmp/ocrq-config-XXXXXX";
    const char *src = getenv("OCRQ_SOURCE_DIR");
    if (!mkdtemp(templ))
        return -1;
    snprintf(tmp, sizeof tmp, "%s", templ);
    snprintf(file, sizeof file, "%s/test.conf", tmp);
    if (src && *src)
        snprintf(shipped, sizeof shipped, "%s/conf/ocrq.conf", src);
    else /* run by hand from the source tree */
        snprintf(shipped, sizeof shipped, "conf/ocrq.conf");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    clear_env();
    return tmp[0] ? unit_rm_tree(tmp) : -1;
}

static int each_setup(void **state)
{
    (void)state;
    clear_env();
    return 0;
}

static void write_file(const char *text)
{
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

/* Load path; expect it to fail with exactly "<path><suffix>" (suffix starts with ':'). */
static void expect_error(const char *path, const char *suffix)
{
    struct ocrq_config *cfg = (struct ocrq_config *)&cfg; /* must be cleared */
    char err[512], want[PATH_MAX + 256];
    assert_int_equal(ocrq_config_load(path, &cfg, err, sizeof err), OCRQ_ERR_CONFIG);
    assert_null(cfg);
    snprintf(want, sizeof want, "%s%s", path, suffix);
    assert_string_equal(err, want);
}

/* Write text to the test file and expect "<file><suffix>". */
static void expect_file_error(const char *text, const char *suffix)
{
    write_file(text);
    expect_error(file, suffix);
}

static struct ocrq_config *load_ok(const char *path)
{
    struct ocrq_config *cfg = NULL;
    char err[512] = "";
    int rc = ocrq_config_load(path, &cfg, err, sizeof err);
    if (rc != OCRQ_OK)
        fail_msg("loading %s: %s", path ? path : "(defaults)", err);
    assert_non_null(cfg);
    return cfg;
}

static void assert_str_or_null_equal(const char *a, const char *b)
{
    if (!a || !b)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

/* Every field but path equal. */
static void assert_config_equal(const struct ocrq_config *a, const struct ocrq_config *b)
{
    assert_string_equal(a->amqp_url, b->amqp_url);
    assert_int_equal(a->amqp_heartbeat_s, b->amqp_heartbeat_s);
    assert_int_equal(a->amqp_confirm_window, b->amqp_confirm_window);
    assert_int_equal(a->amqp_frame_max, b->amqp_frame_max);
    assert_string_equal(a->queue_jobs, b->queue_jobs);
    assert_string_equal(a->queue_priority, b->queue_priority);
    assert_string_equal(a->queue_failed, b->queue_failed);
    assert_string_equal(a->exchange_dlx, b->exchange_dlx);
    assert_int_equal(a->max_priority, b->max_priority);
    assert_string_equal(a->queue_type, b->queue_type);
    assert_int_equal(a->delivery_limit, b->delivery_limit);
    assert_int_equal(a->priority_threshold, b->priority_threshold);
    assert_int_equal(a->n_retry_delays, b->n_retry_delays);
    for (int i = 0; i < a->n_retry_delays; i++)
        assert_int_equal(a->retry_delays_s[i], b->retry_delays_s[i]);
    assert_string_equal(a->database_url, b->database_url);
    assert_int_equal(a->db_connect_timeout_s, b->db_connect_timeout_s);
    assert_int_equal(a->db_statement_timeout_ms, b->db_statement_timeout_ms);
    assert_string_equal(a->db_pool_mode, b->db_pool_mode);
    assert_str_or_null_equal(a->worker_name, b->worker_name);
    assert_int_equal(a->max_attempts, b->max_attempts);
    assert_int_equal(a->omp_thread_limit, b->omp_thread_limit);
    assert_int_equal(a->idle_wait_ms, b->idle_wait_ms);
    assert_int_equal(a->processes, b->processes);
    assert_str_or_null_equal(a->cpus, b->cpus);
    assert_string_equal(a->device, b->device);
    assert_int_equal(a->n_gpus, b->n_gpus);
    assert_int_equal(a->gpu_fallback_cpu, b->gpu_fallback_cpu);
    assert_int_equal(a->job_timeout_s, b->job_timeout_s);
    assert_int_equal(a->hard_timeout_s, b->hard_timeout_s);
    assert_int_equal(a->max_jobs_per_child, b->max_jobs_per_child);
    assert_int_equal(a->max_rss_mb, b->max_rss_mb);
    assert_int_equal(a->shutdown_timeout_s, b->shutdown_timeout_s);
    assert_str_or_null_equal(a->metrics_listen, b->metrics_listen);
    assert_string_equal(a->default_language, b->default_language);
    assert_string_equal(a->tessdata_dir, b->tessdata_dir);
    assert_int_equal(a->max_pixels, b->max_pixels);
    assert_int_equal(a->engine_cache, b->engine_cache);
    assert_int_equal(a->max_pages, b->max_pages);
    assert_int_equal(a->pdf_dpi, b->pdf_dpi);
    assert_string_equal(a->pdf_text, b->pdf_text);
    assert_int_equal(a->auto_rotate, b->auto_rotate);
    assert_int_equal(a->deskew, b->deskew);
    assert_int_equal(a->dedupe_enabled, b->dedupe_enabled);
    assert_int_equal(a->dedupe_ttl_s, b->dedupe_ttl_s);
    assert_int_equal(a->inline_max_bytes, b->inline_max_bytes);
    assert_int_equal(a->max_bytes, b->max_bytes);
    assert_int_equal(a->doc_retention_s, b->doc_retention_s);
    assert_int_equal(a->split_min_pages, b->split_min_pages);
    assert_int_equal(a->page_window, b->page_window);
    assert_int_equal(a->api_max_upload_bytes, b->api_max_upload_bytes);
    assert_int_equal(a->api_max_buffered_bytes, b->api_max_buffered_bytes);
    assert_int_equal(a->fetch_max_bytes, b->fetch_max_bytes);
    assert_int_equal(a->fetch_connect_timeout_s, b->fetch_connect_timeout_s);
    assert_int_equal(a->fetch_timeout_s, b->fetch_timeout_s);
    assert_int_equal(a->retention_days, b->retention_days);
    assert_int_equal(a->n_file_roots, b->n_file_roots);
    for (int i = 0; i < a->n_file_roots; i++)
        assert_string_equal(a->file_roots[i], b->file_roots[i]);
    assert_int_equal(a->n_url_allowlist, b->n_url_allowlist);
    for (int i = 0; i < a->n_url_allowlist; i++)
        assert_string_equal(a->url_allowlist[i], b->url_allowlist[i]);
    assert_int_equal(a->n_webhook_secrets, b->n_webhook_secrets);
    for (int i = 0; i < a->n_webhook_secrets; i++)
        assert_string_equal(a->webhook_secrets[i], b->webhook_secrets[i]);
    assert_int_equal(a->submit_batch_size, b->submit_batch_size);
    assert_int_equal(a->wait_poll_ms, b->wait_poll_ms);
    assert_string_equal(a->log_level, b->log_level);
}

static void defaults(void **state)
{
    (void)state;
    struct ocrq_config *cfg = load_ok(NULL);
    assert_null(cfg->path);
    assert_string_equal(cfg->amqp_url, "amqp://guest:guest@127.0.0.1:5682/");
    assert_int_equal(cfg->amqp_heartbeat_s, 30);
    assert_int_equal(cfg->amqp_confirm_window, 256);
    assert_int_equal(cfg->amqp_frame_max, 131072);
    assert_string_equal(cfg->queue_jobs, "ocr.jobs");
    assert_string_equal(cfg->queue_priority, "ocr.jobs.priority");
    assert_string_equal(cfg->queue_failed, "ocr.failed");
    assert_string_equal(cfg->exchange_dlx, "ocr.dlx");
    assert_int_equal(cfg->max_priority, 9);
    assert_string_equal(cfg->queue_type, "classic");
    assert_int_equal(cfg->delivery_limit, 20);
    assert_int_equal(cfg->db_statement_timeout_ms, 30000);
    assert_string_equal(cfg->db_pool_mode, "auto");
    assert_int_equal(cfg->priority_threshold, 7);
    assert_int_equal(cfg->n_retry_delays, 3);
    assert_int_equal(cfg->retry_delays_s[0], 5);
    assert_int_equal(cfg->retry_delays_s[1], 30);
    assert_int_equal(cfg->retry_delays_s[2], 120);
    assert_string_equal(cfg->database_url, "postgresql://ocrq@127.0.0.1:5442/ocrq");
    assert_int_equal(cfg->db_connect_timeout_s, 5);
    assert_null(cfg->worker_name);
    assert_int_equal(cfg->max_attempts, 3);
    assert_int_equal(cfg->omp_thread_limit, 1);
    assert_int_equal(cfg->idle_wait_ms, 1000);
    assert_int_equal(cfg->processes, 0); /* one per CPU, decided by the supervisor */
    assert_null(cfg->cpus);
    assert_string_equal(cfg->metrics_listen, "127.0.0.1:9464");
    assert_string_equal(cfg->default_language, "eng");
    assert_string_equal(cfg->tessdata_dir, "/usr/share/tesseract-ocr/5/tessdata");
    assert_int_equal(cfg->max_pixels, 100000000LL);
    assert_int_equal(cfg->engine_cache, 4);
    assert_int_equal(cfg->max_pages, 10000);
    assert_int_equal(cfg->pdf_dpi, 300);
    assert_string_equal(cfg->pdf_text, "skip");
    assert_int_equal(cfg->auto_rotate, 0);
    assert_int_equal(cfg->deskew, 0);
    assert_int_equal(cfg->dedupe_enabled, 0);
    assert_int_equal(cfg->dedupe_ttl_s, 86400);
    assert_int_equal(cfg->retention_days, 0);
    assert_int_equal(cfg->inline_max_bytes, 8LL * 1024 * 1024);
    assert_int_equal(cfg->fetch_max_bytes, 64LL * 1024 * 1024);
    assert_int_equal(cfg->fetch_connect_timeout_s, 10);
    assert_int_equal(cfg->fetch_timeout_s, 60);
    assert_int_equal(cfg->n_file_roots, 0);
    assert_int_equal(cfg->n_url_allowlist, 0);
    assert_int_equal(cfg->n_webhook_secrets, 0);
    assert_int_equal(cfg->submit_batch_size, 500);
    assert_int_equal(cfg->wait_poll_ms, 250);
    assert_string_equal(cfg->log_level, "info");
    ocrq_config_free(cfg);
    ocrq_config_free(NULL);
}

static void shipped_file_equals_defaults(void **state)
{
    (void)state;
    struct ocrq_config *def = load_ok(NULL);
    struct ocrq_config *cfg = load_ok(shipped);
    assert_string_equal(cfg->path, shipped);
    assert_config_equal(cfg, def);
    ocrq_config_free(cfg);
    ocrq_config_free(def);
}

/* The shipped file documents every key: each "group.key" appears as "key =" inside "group:". */
static void shipped_file_shows_every_key(void **state)
{
    (void)state;
    char text[64 * 1024];
    FILE *f = fopen(shipped, "r");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    for (size_t i = 0; i < sizeof all_keys / sizeof all_keys[0]; i++) {
        char group[64], head[80], key[80];
        const char *dot = strchr(all_keys[i], '.');
        assert_non_null(dot);
        snprintf(group, sizeof group, "%.*s", (int)(dot - all_keys[i]), all_keys[i]);
        snprintf(head, sizeof head, "\n%s:\n{", group);
        snprintf(key, sizeof key, "\n  %s = ", dot + 1);
        const char *g = strstr(text, head);
        if (!g)
            fail_msg("group %s missing from %s", group, shipped);
        const char *end = strstr(g, "\n};");
        const char *k = strstr(g, key);
        if (!k || !end || k > end)
            fail_msg("%s missing from %s", all_keys[i], shipped);
    }
}

/* A misspelled key or group is refused, wherever it is. */
static void misspelled_keys_refused(void **state)
{
    (void)state;
    expect_file_error("amqp:\n{\n  uris = \"x\";\n};\n", ":3: amqp.uris: unknown setting");
    expect_file_error("database = { url = \"x\"; timeout = 3; };\n",
                      ":1: database.timeout: unknown setting");
    expect_file_error("worker = {};\nworkers = {};\n", ":2: workers: unknown setting");
    expect_file_error("level = \"debug\";\n", ":1: level: unknown setting");
}

static void file_values_are_loaded(void **state)
{
    (void)state;
    write_file("# comment\n"
               "amqp = { url = \"amqp://u:p@h:1/v\"; max_priority = 5; priority_threshold = 5;\n"
               "         retry_delays_s = (1, 2, 3, 4); };\n"
               "worker = { name = \"w1\"; };\n"
               "ocr = { max_pixels = 5000000000L; default_language = \"eng+deu\"; };\n"
               "documents = { file_roots = [\"/srv/a\", \"/srv/b\"]; fetch_max_bytes = 1; };\n"
               "log = { level = \"debug\"; };\n");
    struct ocrq_config *cfg = load_ok(file);
    assert_string_equal(cfg->path, file);
    assert_string_equal(cfg->amqp_url, "amqp://u:p@h:1/v");
    assert_int_equal(cfg->max_priority, 5);
    assert_int_equal(cfg->priority_threshold, 5);
    assert_int_equal(cfg->n_retry_delays, 4);
    assert_int_equal(cfg->retry_delays_s[3], 4);
    assert_string_equal(cfg->worker_name, "w1");
    assert_int_equal(cfg->max_pixels, 5000000000LL);
    assert_string_equal(cfg->default_language, "eng+deu");
    assert_int_equal(cfg->n_file_roots, 2);
    assert_string_equal(cfg->file_roots[0], "/srv/a");
    assert_string_equal(cfg->file_roots[1], "/srv/b");
    assert_int_equal(cfg->fetch_max_bytes, 1);
    assert_string_equal(cfg->log_level, "debug");
    assert_string_equal(cfg->queue_jobs, "ocr.jobs"); /* untouched keys keep their defaults */
    assert_int_equal(cfg->amqp_heartbeat_s, 30);
    ocrq_config_free(cfg);
}

static void env_overrides(void **state)
{
    (void)state;
    setenv("OCRQ_AMQP_URL", "amqp://a:b@10.0.0.1:5672/%2F", 1);
    setenv("OCRQ_DATABASE_URL", "postgresql://x@10.0.0.2/db", 1);
    struct ocrq_config *cfg = load_ok(NULL);
    assert_string_equal(cfg->amqp_url, "amqp://a:b@10.0.0.1:5672/%2F");
    assert_string_equal(cfg->database_url, "postgresql://x@10.0.0.2/db");
    ocrq_config_free(cfg);

    write_file("amqp = { url = \"amqp://from-file/\"; };\n"); /* the environment wins */
    cfg = load_ok(file);
    assert_string_equal(cfg->amqp_url, "amqp://a:b@10.0.0.1:5672/%2F");
    ocrq_config_free(cfg);

    setenv("OCRQ_AMQP_URL", "", 1); /* empty: not an override */
    cfg = load_ok(file);
    assert_string_equal(cfg->amqp_url, "amqp://from-file/");
    ocrq_config_free(cfg);

    /* the variable names the one broker: the file's list of brokers is dropped */
    write_file("amqp = { urls = [\"amqp://a/\", \"amqp://b/\"]; };\n");
    cfg = load_ok(file);
    assert_int_equal(cfg->n_amqp_urls, 2);
    assert_string_equal(cfg->amqp_urls[1], "amqp://b/");
    ocrq_config_free(cfg);
    setenv("OCRQ_AMQP_URL", "amqp://env/", 1);
    cfg = load_ok(file);
    assert_int_equal(cfg->n_amqp_urls, 0);
    assert_string_equal(cfg->amqp_url, "amqp://env/");
    ocrq_config_free(cfg);
}

static void expect_env_error(const char *want);

/* OCRQ_METRICS_LISTEN and OCRQ_FILE_ROOTS: over the file, checked like it, empty ignored. */
static void worker_env_overrides(void **state)
{
    (void)state;
    write_file("worker = { metrics_listen = \"127.0.0.1:9464\"; processes = 1; };\n"
               "documents = { file_roots = [\"/srv/scans\"]; };\n");
    setenv("OCRQ_METRICS_LISTEN", "127.0.0.1:19464", 1);
    setenv("OCRQ_FILE_ROOTS", " /data/inbox : /srv/a b::/tmp ", 1);
    struct ocrq_config *cfg = load_ok(file);
    assert_string_equal(cfg->metrics_listen, "127.0.0.1:19464");
    assert_int_equal(cfg->n_file_roots, 3);
    assert_string_equal(cfg->file_roots[0], "/data/inbox");
    assert_string_equal(cfg->file_roots[1], "/srv/a b");
    assert_string_equal(cfg->file_roots[2], "/tmp");
    assert_int_equal(cfg->processes, 1);
    ocrq_config_free(cfg);

    cfg = load_ok(NULL); /* without a file too */
    assert_string_equal(cfg->metrics_listen, "127.0.0.1:19464");
    assert_int_equal(cfg->n_file_roots, 3);
    ocrq_config_free(cfg);

    write_file("worker = { metrics_listen = \"\"; };\n"); /* the variable turns it back on */
    cfg = load_ok(file);
    assert_string_equal(cfg->metrics_listen, "127.0.0.1:19464");
    ocrq_config_free(cfg);

    setenv("OCRQ_METRICS_LISTEN", "", 1); /* empty: not an override */
    setenv("OCRQ_FILE_ROOTS", "", 1);
    write_file("worker = { metrics_listen = \"127.0.0.1:9500\"; };\n"
               "documents = { file_roots = [\"/srv/scans\"]; };\n");
    cfg = load_ok(file);
    assert_string_equal(cfg->metrics_listen, "127.0.0.1:9500");
    assert_int_equal(cfg->n_file_roots, 1);
    assert_string_equal(cfg->file_roots[0], "/srv/scans");
    ocrq_config_free(cfg);

    setenv("OCRQ_METRICS_LISTEN", "9464", 1);
    expect_env_error("OCRQ_METRICS_LISTEN: worker.metrics_listen: must be host:port, e.g. "
                     "\"127.0.0.1:9464\"");
    setenv("OCRQ_METRICS_LISTEN", "127.0.0.1:0", 1);
    expect_env_error("OCRQ_METRICS_LISTEN: worker.metrics_listen: the port must be between 1 "
                     "and 65535");
    unsetenv("OCRQ_METRICS_LISTEN");
    setenv("OCRQ_FILE_ROOTS", "/srv:scans", 1);
    expect_env_error("OCRQ_FILE_ROOTS: documents.file_roots: value 2: must be absolute paths");
    setenv("OCRQ_FILE_ROOTS", "/1:/2:/3:/4:/5:/6:/7:/8:/9:/10:/11:/12:/13:/14:/15:/16:/17", 1);
    expect_env_error("OCRQ_FILE_ROOTS: documents.file_roots: must have between 0 and 16 values");
}

/* The fleet's settings: types, syntax and the checks across them. */
static void fleet_settings(void **state)
{
    (void)state;
    write_file("worker = { processes = 4; cpus = \"0-1, 3\"; device = \"gpu\"; gpus = [0, 1];\n"
               "  gpu_fallback_cpu = true; job_timeout_s = 10; hard_timeout_s = 20;\n"
               "  metrics_listen = \"\"; };\n");
    struct ocrq_config *cfg = load_ok(file);
    assert_int_equal(cfg->processes, 4);
    assert_string_equal(cfg->cpus, "0-1, 3");
    assert_string_equal(cfg->device, "gpu");
    assert_int_equal(cfg->n_gpus, 2);
    assert_int_equal(cfg->gpu_fallback_cpu, 1);
    assert_null(cfg->metrics_listen);
    ocrq_config_free(cfg);

    write_file("worker = { processes = 0; };\n"); /* 0: the default, one per CPU */
    cfg = load_ok(file);
    assert_int_equal(cfg->processes, 0);
    ocrq_config_free(cfg);
    expect_file_error("worker = {\n  processes = -1;\n};\n",
                      ":2: worker.processes: must be between 0 and 1024");
    expect_file_error("worker = {\n  gpu_fallback_cpu = 1;\n};\n",
                      ":2: worker.gpu_fallback_cpu: expected true or false");
    expect_file_error("worker = {\n  cpus = \"0-\";\n};\n",
                      ":2: worker.cpus: must be a CPU list such as \"0-3,6\"");
    expect_file_error("worker = {\n  cpus = \"3-1\";\n};\n",
                      ":2: worker.cpus: must be a CPU list such as \"0-3,6\"");
    expect_file_error("worker = {\n  device = \"tpu\";\n};\n",
                      ":2: worker.device: must be \"cpu\" or \"gpu\"");
    expect_file_error("worker = {\n  device = \"gpu\";\n};\n",
                      ": worker.gpus: must list at least one GPU id when worker.device is \"gpu\"");
    expect_file_error(
        "worker = {\n  job_timeout_s = 30;\n  hard_timeout_s = 30;\n};\n",
        ":3: worker.hard_timeout_s: must be greater than worker.job_timeout_s (30), or 0");
    expect_file_error("worker = {\n  metrics_listen = \"9464\";\n};\n",
                      ":2: worker.metrics_listen: must be host:port, e.g. \"127.0.0.1:9464\"");
    expect_file_error("worker = {\n  metrics_listen = \"[::1]:99999\";\n};\n",
                      ":2: worker.metrics_listen: the port must be between 1 and 65535");
    expect_file_error("amqp = {\n  urls = [\"http://x/\"];\n};\n",
                      ":2: amqp.urls: must be an amqp:// URL");
    expect_file_error("amqp = {\n  queue_type = \"stream\";\n};\n",
                      ":2: amqp.queue_type: must be \"classic\" or \"quorum\"");
    expect_file_error("database = {\n  pool_mode = \"statement\";\n};\n",
                      ":2: database.pool_mode: must be \"auto\", \"session\" or \"transaction\"");
}

#define SECRET_A "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SECRET_B "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

/* security.url_allowlist and webhooks.secrets: loaded, checked, and replaced by the environment. */
static void allowlist_and_secrets(void **state)
{
    (void)state;
    write_file("security = { url_allowlist = [\"127.0.0.1\", \"10.0.0.0/8\", \"::1\", "
               "\"fd00::/8\"]; };\n"
               "webhooks = { secrets = [\"" SECRET_A "\", \"" SECRET_B "\"]; };\n");
    struct ocrq_config *cfg = load_ok(file);
    assert_int_equal(cfg->n_url_allowlist, 4);
    assert_string_equal(cfg->url_allowlist[0], "127.0.0.1");
    assert_string_equal(cfg->url_allowlist[3], "fd00::/8");
    assert_int_equal(cfg->n_webhook_secrets, 2);
    assert_string_equal(cfg->webhook_secrets[0], SECRET_A);
    assert_string_equal(cfg->webhook_secrets[1], SECRET_B);
    ocrq_config_free(cfg);

    /* the variables replace the lists; blanks around values and empty values are dropped */
    setenv("OCRQ_URL_ALLOWLIST", " 192.168.0.0/16 ,, 8.8.8.8,", 1);
    setenv("OCRQ_WEBHOOK_SECRETS", "  " SECRET_B " \t" SECRET_A "\n" SECRET_B " ", 1);
    cfg = load_ok(file);
    assert_int_equal(cfg->n_url_allowlist, 2);
    assert_string_equal(cfg->url_allowlist[0], "192.168.0.0/16");
    assert_string_equal(cfg->url_allowlist[1], "8.8.8.8");
    assert_int_equal(cfg->n_webhook_secrets, 3);
    assert_string_equal(cfg->webhook_secrets[0], SECRET_B);
    assert_string_equal(cfg->webhook_secrets[1], SECRET_A);
    assert_string_equal(cfg->webhook_secrets[2], SECRET_B);
    ocrq_config_free(cfg);

    setenv("OCRQ_URL_ALLOWLIST", "127.0.0.1", 1); /* without a file too */
    unsetenv("OCRQ_WEBHOOK_SECRETS");
    cfg = load_ok(NULL);
    assert_int_equal(cfg->n_url_allowlist, 1);
    assert_string_equal(cfg->url_allowlist[0], "127.0.0.1");
    assert_int_equal(cfg->n_webhook_secrets, 0);
    ocrq_config_free(cfg);

    setenv("OCRQ_URL_ALLOWLIST", "", 1); /* empty: not an override */
    cfg = load_ok(file);
    assert_int_equal(cfg->n_url_allowlist, 4);
    ocrq_config_free(cfg);
}

/* Load with the environment as set; expect exactly err. */
static void expect_env_error(const char *want)
{
    struct ocrq_config *cfg = (struct ocrq_config *)&cfg;
    char err[512];
    assert_int_equal(ocrq_config_load(NULL, &cfg, err, sizeof err), OCRQ_ERR_CONFIG);
    assert_null(cfg);
    assert_string_equal(err, want);
}

static void allowlist_and_secrets_refused(void **state)
{
    (void)state;
    expect_file_error("security = {\n  url_allowlist = [\"10.0.0.0/33\"];\n};\n",
                      ":2: security.url_allowlist: the prefix length after '/' must be 0 to 32 "
                      "for IPv4");
    expect_file_error("security = {\n  url_allowlist = [\"127.0.0.1\", \"abc\"];\n};\n",
                      ":2: security.url_allowlist: must be an IP address or CIDR range, e.g. "
                      "\"127.0.0.1\", \"10.0.0.0/8\" or \"fd00::/8\"");
    expect_file_error("security = {\n  url_allowlist = [\"10.1.2.3/8\"];\n};\n",
                      ":2: security.url_allowlist: the address has bits set past the prefix "
                      "length (e.g. \"10.0.0.0/8\", not \"10.1.2.3/8\")");
    expect_file_error("security = {\n  url_allowlist = \"127.0.0.1\";\n};\n",
                      ":2: security.url_allowlist: expected a list of strings");
    expect_file_error("webhooks = {\n  secrets = [\"hunter2\"];\n};\n",
                      ":2: webhooks.secrets: must start with \"whsec_\"");
    expect_file_error("webhooks = {\n  secrets = [\"whsec_c2VjcmV0\"];\n};\n",
                      ":2: webhooks.secrets: the key must be at least 24 bytes (32 base64 "
                      "characters)");
    expect_file_error("webhooks = {\n  secrets = [\"whsec_!!!!\"];\n};\n",
                      ":2: webhooks.secrets: the part after \"whsec_\" must be base64");
    expect_file_error("webhooks = {\n  secret = [];\n};\n", ":2: webhooks.secret: unknown setting");

    setenv("OCRQ_URL_ALLOWLIST", "127.0.0.1, ::1/129", 1);
    expect_env_error("OCRQ_URL_ALLOWLIST: security.url_allowlist: value 2: the prefix length "
                     "after '/' must be 0 to 128 for IPv6");
    setenv("OCRQ_URL_ALLOWLIST", "0x7f.1", 1);
    expect_env_error("OCRQ_URL_ALLOWLIST: security.url_allowlist: value 1: must be an IP address "
                     "or CIDR range, e.g. \"127.0.0.1\", \"10.0.0.0/8\" or \"fd00::/8\"");
    unsetenv("OCRQ_URL_ALLOWLIST");

    /* the message never shows the secret */
    setenv("OCRQ_WEBHOOK_SECRETS", SECRET_A " whsec_hunter2", 1);
    expect_env_error("OCRQ_WEBHOOK_SECRETS: webhooks.secrets: value 2: the key must be at least 24 "
                     "bytes (32 base64 characters)");
    setenv("OCRQ_WEBHOOK_SECRETS", SECRET_A "," SECRET_B, 1); /* commas do not separate secrets */
    expect_env_error("OCRQ_WEBHOOK_SECRETS: webhooks.secrets: value 1: the part after \"whsec_\" "
                     "must be base64");
    setenv("OCRQ_WEBHOOK_SECRETS",
           SECRET_A " " SECRET_A " " SECRET_A " " SECRET_A " " SECRET_A " " SECRET_A " " SECRET_A
                    " " SECRET_A " " SECRET_A,
           1);
    expect_env_error("OCRQ_WEBHOOK_SECRETS: webhooks.secrets: must have between 0 and 8 values");
}

static void env_config_file(void **state)
{
    (void)state;
    write_file("worker = { max_attempts = 7; };\n");
    setenv("OCRQ_CONFIG", file, 1);
    struct ocrq_config *cfg = load_ok(NULL);
    assert_string_equal(cfg->path, file);
    assert_int_equal(cfg->max_attempts, 7);
    ocrq_config_free(cfg);

    cfg = load_ok(shipped); /* an explicit path wins over $OCRQ_CONFIG */
    assert_int_equal(cfg->max_attempts, 3);
    ocrq_config_free(cfg);

    setenv("OCRQ_CONFIG", "", 1); /* empty: defaults */
    cfg = load_ok(NULL);
    assert_null(cfg->path);
    ocrq_config_free(cfg);
}

static void unknown_key(void **state)
{
    (void)state;
    expect_file_error("amqp:\n{\n  url = \"amqp://x/\";\n\n  heartbeat = 10;\n};\n",
                      ":5: amqp.heartbeat: unknown setting");
    expect_file_error("# top\n\nspool = { dir = \"/x\"; };\n", ":3: spool: unknown setting");
    expect_file_error("amqp = { nested = { url = \"x\"; }; };\n",
                      ":1: amqp.nested: unknown setting");
}

static void wrong_type(void **state)
{
    (void)state;
    expect_file_error("amqp = {\n  heartbeat_s = \"30\";\n};\n",
                      ":2: amqp.heartbeat_s: expected an integer");
    expect_file_error("amqp = {\n  heartbeat_s = 30.0;\n};\n",
                      ":2: amqp.heartbeat_s: expected an integer");
    expect_file_error("ocr = {\n  max_pixels = true;\n};\n",
                      ":2: ocr.max_pixels: expected an integer");
    expect_file_error("amqp = {\n  url = 5;\n};\n", ":2: amqp.url: expected a string");
    expect_file_error("amqp = {\n  retry_delays_s = 5;\n};\n",
                      ":2: amqp.retry_delays_s: expected a list of integers");
    expect_file_error("amqp = {\n  retry_delays_s = (5, \"x\");\n};\n",
                      ":2: amqp.retry_delays_s: expected a list of integers");
    expect_file_error("documents = {\n  file_roots = \"/srv\";\n};\n",
                      ":2: documents.file_roots: expected a list of strings");
    expect_file_error("log = \"debug\";\n", ":1: log: expected a group { ... }");
}

static void out_of_range(void **state)
{
    (void)state;
    expect_file_error("amqp = {\n  heartbeat_s = -1;\n};\n",
                      ":2: amqp.heartbeat_s: must be between 0 and 3600");
    expect_file_error("amqp = {\n  max_priority = 256;\n};\n",
                      ":2: amqp.max_priority: must be between 1 and 255");
    expect_file_error("ocr = {\n  max_pixels = 10000000001L;\n};\n",
                      ":2: ocr.max_pixels: must be between 1 and 10000000000");
    expect_file_error("worker = { max_attempts = 5000000000L; };\n",
                      ":1: worker.max_attempts: must be between 1 and 100");
    expect_file_error("amqp = {\n  retry_delays_s = [5, 0];\n};\n",
                      ":2: amqp.retry_delays_s: each value must be between 1 and 86400");
    expect_file_error("amqp = {\n  retry_delays_s = [];\n};\n",
                      ":2: amqp.retry_delays_s: must have between 1 and 16 values");
    expect_file_error("amqp = {\n  url = \"\";\n};\n", ":2: amqp.url: must not be empty");
    expect_file_error("log = {\n  level = \"loud\";\n};\n",
                      ":2: log.level: must be one of debug, info, warn, error");
    expect_file_error("ocr = {\n  default_language = \"eng+\";\n};\n",
                      ":2: ocr.default_language: must be language names like eng or eng+deu");
    expect_file_error("documents = {\n  file_roots = [\"srv\"];\n};\n",
                      ":2: documents.file_roots: must be absolute paths");
    expect_file_error("ocr = {\n  pdf_text = \"ignore\";\n};\n",
                      ":2: ocr.pdf_text: must be \"skip\", \"redo\" or \"force\"");
    expect_file_error("ocr = {\n  pdf_dpi = 20;\n};\n",
                      ":2: ocr.pdf_dpi: must be between 36 and 1200");
    expect_file_error("ocr = {\n  max_pages = 0;\n};\n",
                      ":2: ocr.max_pages: must be between 1 and 1000000");
    expect_file_error(
        "amqp = {\n  max_priority = 5;\n  priority_threshold = 6;\n};\n",
        ":3: amqp.priority_threshold: must not be greater than amqp.max_priority (5)");
}

static void syntax_error(void **state)
{
    (void)state;
    expect_file_error("amqp = {\n  url = ;\n};\n", ":2: syntax error");
    expect_file_error("amqp = {\n  url = \"a\";\n  url = \"b\";\n};\n",
                      ":3: duplicate setting name");
}

static void missing_file(void **state)
{
    (void)state;
    char missing[PATH_MAX + 16];
    snprintf(missing, sizeof missing, "%s/missing.conf", tmp);
    expect_error(missing, ": cannot read: No such file or directory");
    setenv("OCRQ_CONFIG", missing, 1); /* a file named by $OCRQ_CONFIG must exist too */
    struct ocrq_config *cfg = NULL;
    char err[512];
    assert_int_equal(ocrq_config_load(NULL, &cfg, err, sizeof err), OCRQ_ERR_CONFIG);
    assert_null(cfg);
    assert_non_null(strstr(err, ": cannot read: No such file or directory"));
    expect_error(tmp, ": cannot read: not a regular file");
}

static void bad_env_value(void **state)
{
    (void)state;
    char big[5000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    setenv("OCRQ_DATABASE_URL", big, 1);
    struct ocrq_config *cfg = NULL;
    char err[512];
    assert_int_equal(ocrq_config_load(NULL, &cfg, err, sizeof err), OCRQ_ERR_CONFIG);
    assert_null(cfg);
    assert_string_equal(err, "OCRQ_DATABASE_URL: database.url: must be between 1 and 4096 "
                             "characters long");
}

/*
 * Issue 16: amqps:// passed the start-up check while common/mq.c refused it
 * at connect time. The broker connection has no TLS, so the loader refuses
 * it, in amqp.url, amqp.urls and OCRQ_AMQP_URL alike; a broker URL must
 * parse as one, and a webhook URL must have a host.
 */
static void amqps_refused(void **state)
{
    (void)state;
    expect_file_error("amqp = {\n  url = \"amqps://u:p@mq.example:5671/\";\n};\n",
                      ":2: amqp.url: amqps:// (TLS to the broker) is not supported: use amqp://");
    expect_file_error("amqp = {\n  urls = [\"amqp://a/\", \"AMQPS://b/\"];\n};\n",
                      ":2: amqp.urls: amqps:// (TLS to the broker) is not supported: use amqp://");
    expect_file_error("amqp = {\n  url = \"rabbit:5672\";\n};\n",
                      ":2: amqp.url: must be an amqp:// URL");
    expect_file_error("amqp = {\n  url = \"amqp://h:99999/\";\n};\n",
                      ":2: amqp.url: has a port that is not a number up to 65535");
    expect_file_error("webhooks = {\n  default_url = \"https:///in\";\n};\n",
                      ":2: webhooks.default_url: must name a host, e.g. http://host/path");

    setenv("OCRQ_AMQP_URL", "amqps://guest:guest@127.0.0.1:5671/", 1);
    struct ocrq_config *cfg = NULL;
    char err[512];
    assert_int_equal(ocrq_config_load(NULL, &cfg, err, sizeof err), OCRQ_ERR_CONFIG);
    assert_null(cfg);
    assert_string_equal(err, "OCRQ_AMQP_URL: amqp.url: amqps:// (TLS to the broker) is not"
                             " supported: use amqp://");

    setenv("OCRQ_AMQP_URL", "AMQP://guest:guest@[::1]:5672/%2F", 1); /* the scheme in any case */
    cfg = load_ok(NULL);
    ocrq_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(defaults, each_setup),
        cmocka_unit_test_setup(shipped_file_equals_defaults, each_setup),
        cmocka_unit_test_setup(shipped_file_shows_every_key, each_setup),
        cmocka_unit_test_setup(misspelled_keys_refused, each_setup),
        cmocka_unit_test_setup(file_values_are_loaded, each_setup),
        cmocka_unit_test_setup(env_overrides, each_setup),
        cmocka_unit_test_setup(worker_env_overrides, each_setup),
        cmocka_unit_test_setup(fleet_settings, each_setup),
        cmocka_unit_test_setup(allowlist_and_secrets, each_setup),
        cmocka_unit_test_setup(allowlist_and_secrets_refused, each_setup),
        cmocka_unit_test_setup(env_config_file, each_setup),
        cmocka_unit_test_setup(unknown_key, each_setup),
        cmocka_unit_test_setup(wrong_type, each_setup),
        cmocka_unit_test_setup(out_of_range, each_setup),
        cmocka_unit_test_setup(syntax_error, each_setup),
        cmocka_unit_test_setup(missing_file, each_setup),
        cmocka_unit_test_setup(bad_env_value, each_setup),
        cmocka_unit_test_setup(amqps_refused, each_setup),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
