/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * ocrq-worker: parse argv, load the config, then either run the supervisor
 * (the default), or the job loop in this process: as a child of the
 * supervisor (--child, internal) or alone (--no-supervisor). OpenMP is
 * limited before Tesseract loads.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "fetch.h"
#include "placement.h"
#include "stats.h"
#include "supervisor.h"
#include "webhooks.h"
#include "worker.h"
#include "ocrq/config.h"
#include "ocrq/log.h"
#include "ocrq/status.h"

static volatile sig_atomic_t stop_requested;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ocrq-worker [OPTIONS]\n"
            "\n"
            "Take OCR jobs from RabbitMQ (priority queue strictly first), run Tesseract,\n"
            "store results in PostgreSQL, ack only after the commit. Runs in the\n"
            "foreground and logs to stderr: a supervisor and worker.processes OCR\n"
            "processes, each with its own broker and database connection (docs/fleet.md).\n"
            "\n"
            "  -c, --config FILE      config file (default: $OCRQ_CONFIG, else built-in defaults)\n"
            "  -p, --processes N      OCR processes (default: worker.processes; if that is 0\n"
            "                         or unset, one per CPU this process may run on, or per\n"
            "                         CPU of worker.cpus when that is set)\n"
            "  -n, --name NAME        worker name in logs and ocr_jobs.worker; several\n"
            "                         processes are NAME/0, NAME/1, ... (default: host:pid\n"
            "                         of each process)\n"
            "  -L, --log-level LEVEL  debug, info, warn or error (default: log.level)\n"
            "      --max-jobs N       each process exits after N jobs and is not replaced\n"
            "      --no-supervisor    one OCR process in this process: no restarts, no hard\n"
            "                         time limit, no recycling, no HTTP (debugging, valgrind)\n"
            "  -h, --help             show this help\n"
            "  -V, --version          show the version\n"
            "\n"
            "Signals: SIGTERM or SIGINT lets every process finish and ack its current job,\n"
            "then exits 0 (within worker.shutdown_timeout_s); a second signal stops at once\n"
            "(the broker requeues the jobs in flight) and exits 1.\n"
            "\n"
            "HTTP (worker.metrics_listen, default 127.0.0.1:9464): GET /healthz, /readyz,\n"
            "/metrics (Prometheus). If that address is taken (say, by another worker on\n"
            "this host) the worker does not start: give each its own port, or \"\" for none.\n"
            "\n"
            "Environment (each override, when set and not empty, wins over the file):\n"
            "  OCRQ_CONFIG          the config file, when -c is not given\n"
            "  OCRQ_AMQP_URL        amqp.url (and replaces amqp.urls)\n"
            "  OCRQ_DATABASE_URL    database.url\n"
            "  OCRQ_METRICS_LISTEN  worker.metrics_listen, host:port\n"
            "  OCRQ_FILE_ROOTS      documents.file_roots, colon-separated (/srv/scans:/data)\n"
            "  OCRQ_WEBHOOK_SECRETS webhooks.secrets, space-separated\n"
            "  OCRQ_URL_ALLOWLIST   security.url_allowlist, comma-separated\n"
            "  OMP_THREAD_LIMIT     if set, kept instead of the computed per-process limit\n"
            "\n"
            "Exit codes: 0 stopped cleanly, 1 processes had to be killed to stop,\n"
            "2 usage or configuration error (worker.metrics_listen taken included),\n"
            "3 start-up failure.\n");
}

/*
 * libgomp reads OMP_THREAD_LIMIT once, when it is loaded, which is before
 * main(): set it and execute ourselves again so the new image sees it.
 * (Children of the supervisor get it in the environment they start with.)
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

static int parse_count(const char *opt, const char *arg, long min, long *out)
{
    char *end;

    errno = 0;
    *out = strtol(arg, &end, 10);
    if (errno || *end != '\0' || end == arg || *out < min) {
        fprintf(stderr, "ocrq-worker: %s: not a count: %s\n", opt, arg);
        return -1;
    }
    return 0;
}

/* --device of a child: "cpu" or "gpu:N" (the GPU the supervisor assigned it). */
static int parse_device(const char *arg, struct ocrq_device *dev)
{
    char *end;

    dev->kind = OCRQ_DEVICE_CPU;
    dev->id = -1;
    if (strcmp(arg, "cpu") == 0)
        return 0;
    if (strncmp(arg, "gpu:", 4) != 0)
        return -1;
    dev->kind = OCRQ_DEVICE_GPU;
    dev->id = (int)strtol(arg + 4, &end, 10);
    return *end == '\0' && end != arg + 4 ? 0 : -1;
}

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1; /* SA_RESETHAND: a second signal ends the process at once */
}

/* SIGTERM/SIGINT set stop_requested; the supervisor starts children with them blocked. */
static void install_stop_handlers(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* the supervisor starts children with these blocked until now: one that came is handled */
    sigset_t stops;
    sigemptyset(&stops);
    sigaddset(&stops, SIGTERM);
    sigaddset(&stops, SIGINT);
    sigprocmask(SIG_UNBLOCK, &stops, NULL);
}

/* Run the job loop in this process (a child of the supervisor, or --no-supervisor). */
static int run_worker(const struct ocrq_config *cfg, struct ocrq_worker_opts *opts, int child)
{
    enum ocrq_worker_end end = OCRQ_WORKER_STOPPED;
    int st;

    install_stop_handlers();
    if (ocrq_fetch_global_init() != OCRQ_OK) {
        fprintf(stderr, "ocrq-worker: cannot initialize libcurl\n");
        return 3;
    }
    st = ocrq_worker_run(cfg, opts, &stop_requested, &end);
    if (st != OCRQ_OK)
        fprintf(stderr, "ocrq-worker: %s\n", ocrq_strerror(st));
    ocrq_fetch_global_cleanup();
    if (st != OCRQ_OK)
        return 3;
    return child && end == OCRQ_WORKER_RECYCLE ? OCRQ_EXIT_RECYCLE : 0;
}

int main(int argc, char **argv)
{
    enum {
        OPT_MAX_JOBS = 256,
        OPT_NO_SUPERVISOR,
        OPT_CHILD,
        OPT_STATS_FD,
        OPT_DEVICE,
        OPT_DISPATCHER
    };
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"processes", required_argument, NULL, 'p'},
        {"name", required_argument, NULL, 'n'},
        {"log-level", required_argument, NULL, 'L'},
        {"max-jobs", required_argument, NULL, OPT_MAX_JOBS},
        {"no-supervisor", no_argument, NULL, OPT_NO_SUPERVISOR},
        {"child", required_argument, NULL, OPT_CHILD}, /* internal: set by the supervisor */
        {"stats-fd", required_argument, NULL, OPT_STATS_FD},
        {"device", required_argument, NULL, OPT_DEVICE},
        {"dispatcher", no_argument, NULL, OPT_DISPATCHER}, /* internal: the webhook dispatcher */
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL, *name = NULL, *level_arg = NULL, *device_arg = "cpu";
    struct ocrq_config *cfg = NULL;
    struct ocrq_worker_opts opts = {0};
    struct ocrq_stats *stats = NULL;
    char err[1024], default_name[300], host[256];
    long processes = 0, child = -1, stats_fd = -1;
    int c, level, rc, no_supervisor = 0, fallback = 0, dispatcher = 0;

    while ((c = getopt_long(argc, argv, "c:p:n:L:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'L':
            level_arg = optarg;
            break;
        case 'p':
            if (parse_count("--processes", optarg, 1, &processes) != 0)
                return 2;
            break;
        case OPT_MAX_JOBS:
            if (parse_count("--max-jobs", optarg, 0, &opts.max_jobs) != 0)
                return 2;
            break;
        case OPT_NO_SUPERVISOR:
            no_supervisor = 1;
            break;
        case OPT_CHILD:
            if (parse_count("--child", optarg, 0, &child) != 0)
                return 2;
            break;
        case OPT_STATS_FD:
            if (parse_count("--stats-fd", optarg, 0, &stats_fd) != 0)
                return 2;
            break;
        case OPT_DEVICE:
            device_arg = optarg;
            break;
        case OPT_DISPATCHER:
            dispatcher = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("ocrq-worker %s\n", OCRQ_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ocrq-worker: unexpected argument: %s\n", argv[optind]);
        return 2;
    }
    /* executed through /proc/self/exe, these would be "exe" in ps, top and pgrep */
    if (child >= 0 || dispatcher || no_supervisor)
        prctl(PR_SET_NAME, "ocrq-worker", 0, 0, 0);
    if (parse_device(device_arg, &opts.device) != 0) {
        fprintf(stderr, "ocrq-worker: --device: not cpu or gpu:N: %s\n", device_arg);
        return 2;
    }
    if (ocrq_config_load(config_path, &cfg, err, sizeof(err)) != OCRQ_OK) {
        fprintf(stderr, "ocrq-worker: %s\n", err);
        return 2;
    }
    if (child >= 0 || no_supervisor)
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

    if (dispatcher) {
        install_stop_handlers();
        if (ocrq_fetch_global_init() != OCRQ_OK) {
            fprintf(stderr, "ocrq-worker: cannot initialize libcurl\n");
            ocrq_config_free(cfg);
            return 3;
        }
        rc = ocrq_dispatcher_run(cfg, name ? name : "webhooks", &stop_requested);
        ocrq_fetch_global_cleanup();
        ocrq_config_free(cfg);
        return rc == OCRQ_OK ? 0 : rc == OCRQ_ERR_CONFIG ? 2 : 3;
    }

    /* the engine must be able to run where the configuration asks */
    if (ocrq_placement_check_device(cfg, &ocrq_tesseract_engine, &fallback, err, sizeof(err)) !=
        OCRQ_OK) {
        fprintf(stderr, "ocrq-worker: %s\n", err);
        ocrq_config_free(cfg);
        return 2;
    }
    if (fallback && child < 0)
        log_warn(NULL,
                 "worker.device = \"gpu\": the %s engine has no GPU backend; running "
                 "on the CPU (worker.gpu_fallback_cpu = true)",
                 ocrq_tesseract_engine.name);
    if (child < 0 && !no_supervisor) {
        struct ocrq_supervisor_opts so = {
            .processes = (int)(processes > 0 ? processes : cfg->processes),
            .processes_from = processes > 0 ? "--processes" : "worker.processes",
            .max_jobs = opts.max_jobs,
            .name = name,
            .config = config_path,
            .log_level = level_arg,
        };
        rc = ocrq_supervisor_run(cfg, &so);
        ocrq_config_free(cfg);
        return rc;
    }

    if (processes > 0)
        cfg->processes = (int)processes; /* an OCR process: how many the supervisor runs */
    if (name == NULL) {
        if (gethostname(host, sizeof(host)) != 0)
            snprintf(host, sizeof(host), "localhost");
        host[sizeof(host) - 1] = '\0';
        snprintf(default_name, sizeof(default_name), "%s:%d", host, (int)getpid());
        name = default_name;
    }
    opts.name = name;
    if (child >= 0) {
        if (stats_fd < 0 || ocrq_stats_attach((int)stats_fd, &stats) != OCRQ_OK ||
            child >= (long)stats->n) {
            fprintf(stderr, "ocrq-worker: --child needs the supervisor's --stats-fd\n");
            ocrq_config_free(cfg);
            return 2;
        }
        opts.slot = &stats->slot[child];
    } else {
        opts.device = ocrq_placement_device(cfg, 0);
    }
    if (opts.device.kind == OCRQ_DEVICE_GPU && fallback) {
        const char *cuda = getenv("CUDA_VISIBLE_DEVICES");
        log_info(NULL,
                 "assigned GPU %d (CUDA_VISIBLE_DEVICES=%s); the %s engine has no GPU "
                 "backend: running on the CPU (worker.gpu_fallback_cpu)",
                 opts.device.id, cuda ? cuda : "unset", ocrq_tesseract_engine.name);
        opts.device.kind = OCRQ_DEVICE_CPU;
        opts.device.id = -1;
    }
    rc = run_worker(cfg, &opts, child >= 0);
    ocrq_stats_unmap(stats);
    ocrq_config_free(cfg);
    return rc;
}
