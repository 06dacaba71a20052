/*
 * ocrq-worker: parse argv, load the config, make sure OpenMP is limited
 * before Tesseract loads, run one worker in the foreground, exit.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fetch.h"
#include "worker.h"
#include "ocrq/config.h"
#include "ocrq/log.h"
#include "ocrq/status.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1; /* SA_RESETHAND: a second signal ends the process at once */
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ocrq-worker [OPTIONS]\n"
            "\n"
            "Take OCR jobs from RabbitMQ (priority queue strictly first), run Tesseract,\n"
            "store results in PostgreSQL, ack only after the commit. Runs in the\n"
            "foreground and logs to stderr.\n"
            "\n"
            "  -c, --config FILE      config file (default: $OCRQ_CONFIG, else built-in defaults)\n"
            "  -n, --name NAME        worker name in logs and ocr_jobs.worker (default host:pid)\n"
            "  -L, --log-level LEVEL  debug, info, warn or error (default: log.level)\n"
            "      --max-jobs N       exit after N jobs (default: run until signalled)\n"
            "  -h, --help             show this help\n"
            "  -V, --version          show the version\n"
            "\n"
            "Signals: SIGTERM or SIGINT finishes and acks the current job, then exits 0;\n"
            "a second signal exits at once (the broker requeues the job in flight).\n"
            "\n"
            "Environment: OCRQ_CONFIG, OCRQ_AMQP_URL, OCRQ_DATABASE_URL override the file;\n"
            "OMP_THREAD_LIMIT, if set, is kept instead of worker.omp_thread_limit.\n"
            "\n"
            "Exit codes: 0 stopped cleanly, 2 usage or configuration error, 3 start-up failure.\n");
}

/*
 * libgomp reads OMP_THREAD_LIMIT once, when it is loaded, which is before
 * main(): set it and execute ourselves again so the new image sees it.
 */
static void limit_openmp(const struct ocrq_config *cfg, char **argv)
{
    char val[16];

    if (getenv("OMP_THREAD_LIMIT") != NULL)
        return;
    snprintf(val, sizeof(val), "%d", cfg->omp_thread_limit);
    setenv("OMP_THREAD_LIMIT", val, 1);
    execv("/proc/self/exe", argv);
    fprintf(stderr, "ocrq-worker: warning: could not re-execute with OMP_THREAD_LIMIT=%s\n", val);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},   {"name", required_argument, NULL, 'n'},
        {"log-level", required_argument, NULL, 'L'}, {"max-jobs", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},           {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL, *name = NULL, *level_arg = NULL;
    struct ocrq_config *cfg = NULL;
    struct ocrq_worker_opts opts = {0};
    char err[1024], default_name[300], host[256];
    int c, level, st;

    while ((c = getopt_long(argc, argv, "c:n:L:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'n': name = optarg; break;
        case 'L': level_arg = optarg; break;
        case 'm': {
            char *end;
            opts.max_jobs = strtol(optarg, &end, 10);
            if (*end != '\0' || opts.max_jobs < 0) {
                fprintf(stderr, "ocrq-worker: --max-jobs: not a count: %s\n", optarg);
                return 2;
            }
            break;
        }
        case 'h': usage(stdout); return 0;
        case 'V': printf("ocrq-worker %s\n", OCRQ_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ocrq-worker: unexpected argument: %s\n", argv[optind]);
        return 2;
    }
    if (ocrq_config_load(config_path, &cfg, err, sizeof(err)) != OCRQ_OK) {
        fprintf(stderr, "ocrq-worker: %s\n", err);
        return 2;
    }
    limit_openmp(cfg, argv);
    level = ocrq_log_level_parse(level_arg ? level_arg : cfg->log_level);
    if (level < 0) {
        fprintf(stderr, "ocrq-worker: --log-level: unknown level: %s\n", level_arg);
        ocrq_config_free(cfg);
        return 2;
    }
    ocrq_log_init("worker", level);
    if (name == NULL)
        name = cfg->worker_name;
    if (name == NULL) {
        if (gethostname(host, sizeof(host)) != 0)
            snprintf(host, sizeof(host), "localhost");
        host[sizeof(host) - 1] = '\0';
        snprintf(default_name, sizeof(default_name), "%s:%d", host, (int)getpid());
        name = default_name;
    }
    opts.name = name;

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (ocrq_fetch_global_init() != OCRQ_OK) {
        fprintf(stderr, "ocrq-worker: cannot initialize libcurl\n");
        ocrq_config_free(cfg);
        return 3;
    }
    st = ocrq_worker_run(cfg, &opts, &stop_requested);
    if (st != OCRQ_OK)
        fprintf(stderr, "ocrq-worker: %s\n", ocrq_strerror(st));
    ocrq_fetch_global_cleanup();
    ocrq_config_free(cfg);
    return st == OCRQ_OK ? 0 : 3;
}
