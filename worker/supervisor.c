/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The supervisor of docs/fleet.md. One thread runs the loop below: signals
 * arrive through a self-pipe, children are reaped on SIGCHLD, and a tick of
 * POLL_MS drives restarts, the hard time limit and the shutdown deadline.
 * The HTTP server (supervisor_http.c) runs on a thread of its own and only
 * reads the shared stats (and keeps its own broker connection for queue
 * depths); the retention pass (retention.c) and the fleet registry
 * (registry.c) have a thread and a database connection of their own too.
 */
#define _GNU_SOURCE 1
#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "placement.h"
#include "registry.h"
#include "retention.h"
#include "stats.h"
#include "supervisor_internal.h"
#include "ocrq/clock.h"
#include "ocrq/config.h"
#include "ocrq/http.h"
#include "ocrq/log.h"
#include "ocrq/notify.h"
#include "ocrq/mq.h"
#include "ocrq/status.h"

#define POLL_MS 200
#define RESTART_MIN_MS 1000
#define RESTART_MAX_MS 30000
#define STABLE_MS 60000         /* a child that ran this long resets its slot's backoff */
#define CONSUMER_TIMEOUT_S 1800 /* RabbitMQ's default consumer_timeout */

extern char **environ;

static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    unsigned char b = (unsigned char)sig;
    int saved = errno;
    ssize_t w = write(sig_pipe[1], &b, 1); /* a full pipe loses nothing: SIGCHLD reaps all */
    (void)w;
    errno = saved;
}

static void set_running(struct sup *s, int delta)
{
    __atomic_add_fetch(&s->running, delta, __ATOMIC_RELAXED);
}

/* ---- starting a child ---------------------------------------------------- */

/* A copy of environ with name=value set (replacing it), for execve. */
static char **env_with(char **base, const char *const *sets, int nsets)
{
    int n = 0;
    while (base[n])
        n++;
    char **env = calloc((size_t)(n + nsets + 1), sizeof(char *));
    if (env == NULL)
        return NULL;
    int m = 0;
    for (int i = 0; i < n; i++) {
        int replaced = 0;
        for (int j = 0; j < nsets; j++) {
            size_t klen = strcspn(sets[j], "=") + 1;
            if (strncmp(base[i], sets[j], klen) == 0)
                replaced = 1;
        }
        if (!replaced)
            env[m++] = base[i];
    }
    for (int j = 0; j < nsets; j++)
        env[m++] = (char *)sets[j];
    return env;
}

/*
 * Fork and execute child k. Everything the child needs is built before the
 * fork: between fork and exec it only makes system calls (the HTTP thread
 * may hold locks that the forked copy would never release).
 */
static int is_dispatcher(const struct sup *s, int k)
{
    return k >= s->n;
}

static int spawn(struct sup *s, int k)
{
    const struct ocrq_config *cfg = s->cfg;
    struct ocrq_device dev = ocrq_placement_device(cfg, k);
    char kbuf[16], nbuf[16], fdbuf[16], devbuf[32], jobsbuf[32], namebuf[300], omp[48], cuda[64];
    const char *argv[20];
    const char *sets[2];
    int argc = 0, nsets = 0;
    cpu_set_t cpus;
    pid_t parent = getpid();

    snprintf(kbuf, sizeof(kbuf), "%d", k);
    snprintf(nbuf, sizeof(nbuf), "%d", s->n);
    snprintf(fdbuf, sizeof(fdbuf), "%d", s->stats_fd);
    if (dev.kind == OCRQ_DEVICE_GPU)
        snprintf(devbuf, sizeof(devbuf), "gpu:%d", dev.id);
    else
        snprintf(devbuf, sizeof(devbuf), "cpu");
    argv[argc++] = "ocrq-worker";
    if (is_dispatcher(s, k)) {
        argv[argc++] = "--dispatcher";
    } else {
        argv[argc++] = "--child";
        argv[argc++] = kbuf;
        argv[argc++] = "--stats-fd";
        argv[argc++] = fdbuf;
        argv[argc++] = "--device";
        argv[argc++] = devbuf;
        argv[argc++] = "--processes"; /* the fleet on this machine: the page window's default */
        argv[argc++] = nbuf;
    }
    if (s->opts->config) {
        argv[argc++] = "--config";
        argv[argc++] = s->opts->config;
    }
    if (s->opts->log_level) {
        argv[argc++] = "--log-level";
        argv[argc++] = s->opts->log_level;
    }
    if (s->opts->max_jobs > 0 && !is_dispatcher(s, k)) {
        snprintf(jobsbuf, sizeof(jobsbuf), "%ld", s->opts->max_jobs);
        argv[argc++] = "--max-jobs";
        argv[argc++] = jobsbuf;
    }
    if (s->opts->name) {
        if (is_dispatcher(s, k))
            snprintf(namebuf, sizeof(namebuf), "%s/webhooks", s->opts->name);
        else if (s->n == 1)
            snprintf(namebuf, sizeof(namebuf), "%s", s->opts->name);
        else
            snprintf(namebuf, sizeof(namebuf), "%s/%d", s->opts->name, k);
        argv[argc++] = "--name";
        argv[argc++] = namebuf;
    }
    argv[argc] = NULL;

    CPU_ZERO(&cpus);
    if (!is_dispatcher(s, k))
        ocrq_placement_child_cpus(&s->pl, s->n, k, &cpus);
    if (getenv("OMP_THREAD_LIMIT") == NULL && !is_dispatcher(s, k)) {
        snprintf(omp, sizeof(omp), "OMP_THREAD_LIMIT=%d",
                 ocrq_placement_threads(cfg, &s->pl, s->n, k));
        sets[nsets++] = omp;
    }
    if (dev.kind == OCRQ_DEVICE_GPU) {
        snprintf(cuda, sizeof(cuda), "CUDA_VISIBLE_DEVICES=%d", dev.id);
        sets[nsets++] = cuda;
    }
    char **env = env_with(environ, sets, nsets);
    if (env == NULL)
        return OCRQ_ERR_NOMEM;

    /*
     * SIGTERM and SIGINT are blocked from before the fork through the exec:
     * the child unblocks them once its handlers are in place, so a stop that
     * comes while it starts is a clean stop, not a death by the default
     * action, and never runs the supervisor's handler in the forked copy
     * (which would write a second stop into the supervisor's signal pipe).
     */
    sigset_t stops, old;
    sigemptyset(&stops);
    sigaddset(&stops, SIGTERM);
    sigaddset(&stops, SIGINT);
    sigprocmask(SIG_BLOCK, &stops, &old);
    pid_t pid = fork();
    if (pid < 0) {
        log_error(NULL, "supervisor: fork: %s", strerror(errno));
        sigprocmask(SIG_SETMASK, &old, NULL);
        free(env);
        return OCRQ_ERR_IO;
    }
    if (pid == 0) {
        sigprocmask(SIG_SETMASK, &stops, NULL);
        setpgid(0, 0); /* terminal signals go to the supervisor only */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1); /* the supervisor is already gone */
        if (s->pl.pin && !is_dispatcher(s, k))
            sched_setaffinity(0, sizeof(cpus), &cpus);
        execve("/proc/self/exe", (char *const *)argv, env);
        _exit(127);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    free(env);
    s->kids[k].pid = pid;
    s->kids[k].started_ms = ocrq_now_ms();
    s->kids[k].restart_at_ms = 0;
    s->kids[k].killed_for_time = 0;
    if (is_dispatcher(s, k)) {
        log_info(NULL, "supervisor: started the webhook dispatcher (pid %d)", (int)pid);
        return OCRQ_OK;
    }
    __atomic_store_n(&s->stats->slot[k].pid, pid, __ATOMIC_RELAXED);
    __atomic_store_n(&s->stats->slot[k].job_started_ms, 0, __ATOMIC_RELAXED);
    set_running(s, 1);
    log_info(NULL, "supervisor: started child %d (pid %d, %s%s%s)", k, (int)pid, devbuf,
             s->pl.pin ? ", cpus " : "", s->pl.pin ? "pinned" : "");
    return OCRQ_OK;
}

/* ---- children ending --------------------------------------------------------- */

static void count_restart(struct sup *s, int k, enum ocrq_restart_reason why)
{
    if (is_dispatcher(s, k))
        return;
    __atomic_fetch_add(&s->stats->slot[k].restarts[why], 1, __ATOMIC_RELAXED);
}

/* Child k (pid) ended with status; decide what comes next for its slot. */
static void ended(struct sup *s, int k, int status)
{
    struct child *c = &s->kids[k];
    pid_t pid = c->pid;
    long long now = ocrq_now_ms(), lived = now - c->started_ms;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;

    c->pid = 0;
    if (!is_dispatcher(s, k)) {
        __atomic_store_n(&s->stats->slot[k].pid, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&s->stats->slot[k].job_started_ms, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&s->stats->slot[k].mq_up, 0, __ATOMIC_RELAXED);
        set_running(s, -1);
    }

    if (s->stopping) {
        if (code != 0 && code != OCRQ_EXIT_RECYCLE)
            s->unclean = 1;
        log_info(NULL, "supervisor: child %d stopped (%s %d)", k, sig ? "signal" : "exit",
                 sig ? sig : code);
        c->done = 1;
        return;
    }
    if (code == 0) {
        log_info(NULL,
                 is_dispatcher(s, k) ? "supervisor: the webhook dispatcher stopped"
                                     : "supervisor: child %d finished its jobs",
                 k);
        c->done = 1;
        return;
    }
    if (c->killed_for_time) {
        count_restart(s, k, OCRQ_RESTART_HARD_TIMEOUT);
        c->restart_at_ms = now;
        return;
    }
    if (code == OCRQ_EXIT_RECYCLE) {
        count_restart(s, k, OCRQ_RESTART_RECYCLE);
        c->restart_at_ms = now;
        return;
    }
    if (lived >= STABLE_MS)
        c->backoff_ms = 0;
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : RESTART_MIN_MS;
    if (c->backoff_ms > RESTART_MAX_MS)
        c->backoff_ms = RESTART_MAX_MS;
    count_restart(s, k, OCRQ_RESTART_CRASH);
    log_warn(NULL,
             "supervisor: child %d (pid %d, up %lld ms) ended with %s %d: restarting in "
             "%d ms",
             k, (int)pid, lived, sig ? "signal" : "exit status", sig ? sig : code, c->backoff_ms);
    c->restart_at_ms = now + c->backoff_ms;
}

static void reap(struct sup *s)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int k = 0; k < s->n_kids; k++) {
            if (s->kids[k].pid == pid) {
                ended(s, k, status);
                break;
            }
        }
    }
}

/* Kill children whose job has run past worker.hard_timeout_s. */
static void enforce_hard_limit(struct sup *s)
{
    long long now = ocrq_now_ms(), limit = (long long)s->cfg->hard_timeout_s * 1000;

    if (limit <= 0)
        return;
    for (int k = 0; k < s->n; k++) {
        struct child *c = &s->kids[k];
        struct ocrq_child_slot *slot = &s->stats->slot[k];
        long long t0 = __atomic_load_n(&slot->job_started_ms, __ATOMIC_ACQUIRE);
        if (c->pid <= 0 || c->killed_for_time || t0 == 0 || now - t0 <= limit)
            continue;
        char job[OCRQ_UUID_LEN + 1];
        memcpy(job, slot->job_id, sizeof(job));
        job[OCRQ_UUID_LEN] = '\0';
        if (__atomic_load_n(&slot->job_started_ms, __ATOMIC_ACQUIRE) != t0)
            continue; /* that job ended while we looked; the next one is young */
        log_error(job,
                  "supervisor: job has run %lld s, over worker.hard_timeout_s = %d: "
                  "killing child %d (pid %d); the broker redelivers the job",
                  (now - t0) / 1000, s->cfg->hard_timeout_s, k, (int)c->pid);
        c->killed_for_time = 1;
        kill(c->pid, SIGKILL);
    }
}

static void signal_children(struct sup *s, int sig)
{
    for (int k = 0; k < s->n_kids; k++)
        if (s->kids[k].pid > 0)
            kill(s->kids[k].pid, sig);
}

static void on_stop_signal(struct sup *s, int sig)
{
    if (s->stopping == 0) {
        s->stopping = 1;
        s->stop_deadline_ms = ocrq_now_ms() + (long long)s->cfg->shutdown_timeout_s * 1000;
        log_info(NULL,
                 "supervisor: %s: children finish their current job, then stop "
                 "(at most %d s; a second signal stops at once)",
                 sig == SIGINT ? "SIGINT" : "SIGTERM", s->cfg->shutdown_timeout_s);
        signal_children(s, SIGTERM);
        ocrq_retention_stop(s->retention); /* ends after its batch, while the children finish */
        ocrq_notify_stopping("stopping: the OCR processes finish their current job");
        return;
    }
    if (s->stopping == 1) {
        s->stopping = 2;
        s->unclean = 1;
        log_warn(NULL, "supervisor: second signal: stopping at once; the broker requeues "
                       "the jobs in flight");
        signal_children(s, SIGKILL);
    }
}

/* Some OCR process runs or is to be started again (the dispatcher does not count). */
static int ocr_alive(const struct sup *s)
{
    for (int k = 0; k < s->n; k++)
        if (s->kids[k].pid > 0 || (!s->kids[k].done && !s->stopping))
            return 1;
    return 0;
}

static int alive(struct sup *s)
{
    if (ocr_alive(s))
        return 1;
    for (int k = s->n; k < s->n_kids; k++) {
        struct child *c = &s->kids[k];
        if (c->pid > 0 && !c->done && !s->stopping) {
            /* every OCR process is done (--max-jobs): the dispatcher stops too (when the
             * supervisor is stopping it was told already: a second SIGTERM would kill it) */
            log_info(NULL, "supervisor: no OCR process left: stopping the webhook dispatcher");
            c->done = 1;
            kill(c->pid, SIGTERM);
        }
        if (c->pid > 0)
            return 1;
    }
    return 0;
}

/* ---- the loop ------------------------------------------------------------------ */

static int setup_signals(void)
{
    struct sigaction sa;

    if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        return OCRQ_ERR_IO;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGCHLD, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return OCRQ_OK;
}

static void loop(struct sup *s)
{
    while (alive(s)) {
        struct pollfd pf = {.fd = sig_pipe[0], .events = POLLIN};
        unsigned char sigs[64];
        ssize_t n;

        if (poll(&pf, 1, POLL_MS) > 0) {
            while ((n = read(sig_pipe[0], sigs, sizeof(sigs))) > 0) {
                for (ssize_t i = 0; i < n; i++)
                    if (sigs[i] == SIGTERM || sigs[i] == SIGINT)
                        on_stop_signal(s, sigs[i]);
            }
        }
        reap(s);
        long long now = ocrq_now_ms();
        /* the loop's beat is the watchdog's: a supervisor stuck anywhere stops feeding it */
        if (s->watchdog_ms > 0 && now - s->pinged_ms >= s->watchdog_ms) {
            ocrq_notify_watchdog();
            s->pinged_ms = now;
        }
        if (s->stopping == 1 && now >= s->stop_deadline_ms) {
            log_warn(NULL,
                     "supervisor: worker.shutdown_timeout_s (%d s) passed: killing the "
                     "children left; the broker requeues their jobs",
                     s->cfg->shutdown_timeout_s);
            s->stopping = 2;
            s->unclean = 1;
            signal_children(s, SIGKILL);
        }
        if (!s->stopping) {
            enforce_hard_limit(s);
            for (int k = 0; k < s->n_kids; k++) {
                struct child *c = &s->kids[k];
                if (c->pid == 0 && !c->done && c->restart_at_ms > 0 && now >= c->restart_at_ms &&
                    spawn(s, k) != OCRQ_OK)
                    c->restart_at_ms = now + RESTART_MAX_MS;
            }
        }
    }
}

int ocrq_supervisor_run(const struct ocrq_config *cfg, const struct ocrq_supervisor_opts *opts)
{
    struct sup s = {.cfg = cfg, .opts = opts, .n = opts->processes, .stats_fd = -1};
    struct ocrq_http *http = NULL;
    const char *from = opts->processes_from;
    char why[512], list[256];
    int rc = 3;

    if (ocrq_placement_init(cfg, &s.pl, why, sizeof(why)) != OCRQ_OK) {
        log_error(NULL, "supervisor: %s", why);
        return 2;
    }
    if (s.n <= 0) {
        s.n = ocrq_placement_default_processes(&s.pl);
        from = s.pl.pin ? "one per CPU of worker.cpus" : "one per CPU this process may run on";
    }
    s.n_kids = s.n + (cfg->webhook_dispatcher ? 1 : 0);
    s.kids = calloc((size_t)s.n_kids, sizeof(*s.kids));
    if (s.kids == NULL || ocrq_stats_create(s.n, &s.stats, &s.stats_fd) != OCRQ_OK ||
        setup_signals() != OCRQ_OK) {
        log_error(NULL, "supervisor: cannot set up (%s)", strerror(errno));
        goto out;
    }
    if (cfg->hard_timeout_s == 0 || cfg->hard_timeout_s >= CONSUMER_TIMEOUT_S)
        log_warn(NULL,
                 "supervisor: worker.hard_timeout_s = %d: keep it above 0 and below the "
                 "broker's consumer_timeout (30 min by default), or a stuck job is redelivered "
                 "while it still runs",
                 cfg->hard_timeout_s);
    rc = ocrq_supervisor_http_start(&s, &http);
    if (rc != 0)
        goto out;
    log_info(NULL, "supervisor: %d OCR process%s (%s), %s cpus %s", s.n, s.n == 1 ? "" : "es",
             from ? from : "worker.processes", s.pl.pin ? "pinned to" : "unpinned, sharing",
             ocrq_cpulist_format(s.pl.cpus, s.pl.n_cpus, list, sizeof(list)));
    for (int k = 0; k < s.n_kids; k++)
        if (spawn(&s, k) != OCRQ_OK)
            s.kids[k].restart_at_ms = ocrq_now_ms() + RESTART_MIN_MS;
    if (ocrq_retention_new(cfg, &s.retention) != OCRQ_OK)
        log_error(NULL, "supervisor: cannot start the retention thread: retention.days is not "
                        "applied");
    if (ocrq_registry_new(cfg, opts->name, s.stats, s.n, &s.registry) != OCRQ_OK)
        log_error(NULL, "supervisor: cannot start the fleet registry thread: this worker is not "
                        "recorded in ocr_workers");
    /* systemd (Type=notify): started; the children connect on their own */
    s.watchdog_ms = ocrq_notify_watchdog_ms();
    ocrq_notify_ready("%d OCR process%s%s", s.n, s.n == 1 ? "" : "es",
                      cfg->webhook_dispatcher ? " and the webhook dispatcher" : "");
    loop(&s);
    rc = s.unclean ? 1 : 0;
    log_info(NULL, "supervisor: stopped (%s)", rc == 0 ? "clean" : "some children were killed");
out:
    ocrq_registry_free(s.registry); /* its last beat: stopped (the children are gone) */
    ocrq_retention_free(s.retention);
    ocrq_http_stop(http);
    ocrq_mq_free(s.mq);
    ocrq_stats_unmap(s.stats);
    if (s.stats_fd >= 0)
        close(s.stats_fd);
    free(s.kids);
    return rc;
}
