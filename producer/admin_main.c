/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * ocrq-admin: parse the command line (the options here, each command's
 * arguments in admin_args.c), load the configuration, run one command
 * (admin.c: setup, migrate, status; admin_webhooks.c, admin_apikeys.c,
 * admin_failed.c: failed; admin_cancel.c: cancel; admin_store.c: store sweep;
 * admin_purge.c: purge; admin_workers.c: workers), and map its status to the exit code that
 * docs/design.md promises. One table (commands[]) names every command: its
 * parser, its handler and its --help lines, so that help and dispatch agree.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "admin_args.h"
#include "ocrq/config.h"
#include "ocrq/db_purge.h"
#include "ocrq/log.h"
#include "ocrq/status.h"

enum {
    OPT_JSON = 256,
    OPT_BATCH,
    OPT_FAILED,
    OPT_ALL_FAILED,
    OPT_LIMIT,
    OPT_REASON,
    OPT_ALL,
    OPT_OLDER_THAN,
    OPT_OVERLAP,
    OPT_FINISHED_BEFORE,
    OPT_STATUS,
    OPT_BATCH_SIZE,
    OPT_DRY_RUN,
    OPT_ROLE
};

/* --help, before and after the command list that print_usage() makes from commands[]. */
static const char usage_head[] = "Usage: ocrq-admin [-c FILE] COMMAND [OPTIONS]\n"
                                 "Set up and inspect an ocrq installation.\n"
                                 "\n"
                                 "Commands:\n";

static const char usage_tail[] =
    "\n"
    "Options:\n"
    "  -c, --config FILE     config file (else $OCRQ_CONFIG, else built-in defaults)\n"
    "      --json            status, purge: one JSON object; webhooks list, apikey\n"
    "                        list, failed list|show, workers: one JSON line each\n"
    "      --batch B         status: count the jobs of batch B only; failed list: the\n"
    "                        messages of batch B only; cancel: the jobs of batch B;\n"
    "                        purge: only the jobs of batch B\n"
    "      --reason CODE     failed list|requeue --all: only messages whose reason is\n"
    "                        CODE (x-ocrq-error-code, e.g. language, fetch, decode)\n"
    "      --all             failed requeue: every dead-lettered message (of --reason)\n"
    "                        workers: the stopped and long silent workers too\n"
    "      --older-than DUR  failed purge: only messages that died more than DUR ago\n"
    "      --finished-before DUR\n"
    "                        purge: jobs that finished more than DUR ago (a number\n"
    "                        with s, m, h or d; a bare number is seconds)\n"
    "      --status S        purge: only jobs in status S: succeeded, failed or\n"
    "                        canceled, or several comma-separated (default: all three)\n"
    "      --batch-size N    purge: jobs per transaction, 1-10000 (default 1000)\n"
    "      --dry-run         purge: count what would be deleted, delete nothing\n"
    "      --role ROLE       apikey create: submit (default: submit jobs, read its\n"
    "                        own) or admin (also the dashboard at /ui/)\n"
    "  -h, --help            show this help and exit\n"
    "  -V, --version         show the version and exit\n"
    "\n"
    "Environment:\n"
    "  OCRQ_CONFIG        the config file, when -c is not given\n"
    "  OCRQ_AMQP_URL      overrides amqp.url (amqp://user:pass@host:port/vhost)\n"
    "  OCRQ_DATABASE_URL  overrides database.url (a libpq URI)\n"
    "\n"
    "Exit codes:\n"
    "  0  ok\n"
    "  1  webhooks retry: no such delivery, or it was delivered already;\n"
    "     apikey create: the name is taken; apikey revoke: no such active key;\n"
    "     failed show: no message of that job; failed requeue: nothing requeued;\n"
    "     cancel: no such job, or none of them was queued (running or finished)\n"
    "  2  usage or configuration error\n"
    "  3  broker or database error\n";

static const struct option long_opts[] = {
    {"config", required_argument, NULL, 'c'},
    {"json", no_argument, NULL, OPT_JSON},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"help", no_argument, NULL, 'h'},
    {"failed", no_argument, NULL, OPT_FAILED},
    {"all-failed", no_argument, NULL, OPT_ALL_FAILED},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"reason", required_argument, NULL, OPT_REASON},
    {"all", no_argument, NULL, OPT_ALL},
    {"older-than", required_argument, NULL, OPT_OLDER_THAN},
    {"overlap", required_argument, NULL, OPT_OVERLAP},
    {"finished-before", required_argument, NULL, OPT_FINISHED_BEFORE},
    {"status", required_argument, NULL, OPT_STATUS},
    {"batch-size", required_argument, NULL, OPT_BATCH_SIZE},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"role", required_argument, NULL, OPT_ROLE},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void print_usage(FILE *f);

/* "help": the help, whatever the options. */
static int parse_help(int argc, char **argv, struct admin_args *a)
{
    (void)a;
    if (optind < argc)
        return admin_usage_error("unexpected argument", argv[optind]);
    print_usage(stdout);
    return 0;
}

/* ---- the handlers: each runs one row of commands[] ---------------------------- */

static int run_setup(const struct ocrq_config *cfg, const struct admin_args *a)
{
    (void)a;
    return admin_setup(cfg);
}

static int run_migrate(const struct ocrq_config *cfg, const struct admin_args *a)
{
    (void)a;
    return admin_migrate(cfg);
}

static int run_status(const struct ocrq_config *cfg, const struct admin_args *a)
{
    return admin_status(cfg, a->json, a->batch);
}

static int run_webhooks_list(const struct ocrq_config *cfg, const struct admin_args *a)
{
    return admin_webhooks_list(cfg, a->failed, a->json, a->limit ? a->limit : 50);
}

static int run_webhooks_retry(const struct ocrq_config *cfg, const struct admin_args *a)
{
    return admin_webhooks_retry(cfg, a->all_failed ? 0 : a->id);
}

static int run_apikey_create(const struct ocrq_config *cfg, const struct admin_args *a)
{
    return admin_apikey_create(cfg, a->name, a->role ? a->role : "submit");
}

static int run_apikey_rotate_secret(const struct ocrq_config *cfg, const struct admin_args *a)
{
    return admin_apikey_rotate_secret(cfg, a->name, a->overlap_s >= 0 ? a->overlap_s : 86400);
}

static int run_apikey_list(const struct ocrq_config *cfg, const struct admin_args *a)
{
    return admin_apikey_list(cfg, a->json);
}

static int run_apikey_revoke(const struct ocrq_config *cfg, const struct admin_args *a)
{
    return admin_apikey_revoke(cfg, a->name);
}

/* failed list|show|requeue|purge: admin_failed() tells them apart by a->sub. */
static int run_failed(const struct ocrq_config *cfg, const struct admin_args *a)
{
    struct admin_failed_opts fo = {
        .sub = a->sub,
        .job_id = a->name,
        .reason = a->reason,
        .batch = a->batch,
        .json = a->json,
        .older_than_s = a->older_than_s,
    };
    return admin_failed(cfg, &fo);
}

static int run_cancel(const struct ocrq_config *cfg, const struct admin_args *a)
{
    return admin_cancel(cfg, a->name, a->batch);
}

static int run_queues_convert(const struct ocrq_config *cfg, const struct admin_args *a)
{
    (void)a;
    return admin_queues_convert(cfg);
}

static int run_store_sweep(const struct ocrq_config *cfg, const struct admin_args *a)
{
    (void)a;
    return admin_store_sweep(cfg);
}

static int run_workers(const struct ocrq_config *cfg, const struct admin_args *a)
{
    return admin_workers(cfg, a->json, a->all);
}

static int run_purge(const struct ocrq_config *cfg, const struct admin_args *a)
{
    struct admin_purge_opts po = {
        .finished_before_s = a->finished_before_s,
        .statuses = a->statuses,
        .batch = a->batch,
        .batch_size = a->batch_size,
        .dry_run = a->dry_run,
        .json = a->json,
    };
    return admin_purge(cfg, &po);
}

/* ---- the command table ------------------------------------------------------- */

/* Option groups a command takes; the others are refused before its parser runs. */
enum {
    TAKES_PURGE_OPTS = 1,  /* --finished-before, --status, --batch-size, --dry-run */
    TAKES_FAILED_OPTS = 2, /* --reason, --all, --older-than (cancel refuses them itself) */
    TAKES_ALL = 4,         /* --all alone of those */
};

/*
 * One row per command line "name [sub] args". The rows of one name share a
 * parser: it reads the rest of the line (sub included) into struct
 * admin_args, and returns -1 to go on, else the exit code. run then does the
 * work of the row that name and sub select, and returns an OCRQ_* status.
 * --help lists the rows in this order: "  name sub args", then help, one
 * line after another, from column HELP_COL (on the same line when the
 * command fits before it).
 */
struct admin_command {
    const char *name;
    const char *sub;  /* NULL: none */
    const char *args; /* after name and sub in --help; NULL: none */
    const char *help; /* lines separated by '\n' */
    int (*parse)(int argc, char **argv, struct admin_args *a);
    int (*run)(const struct ocrq_config *cfg, const struct admin_args *a);
    unsigned takes; /* TAKES_* */
};

#define HELP_COL 24

static const struct admin_command commands[] = {
    {"setup", NULL, NULL,
     "declare the broker topology and apply database\n"
     "migrations (idempotent: safe to run again)",
     admin_parse_plain, run_setup, 0},
    {"migrate", NULL, NULL, "apply database migrations only", admin_parse_plain, run_migrate, 0},
    {"status", NULL, "[--json] [--batch B]",
     "ready messages and consumers per queue, jobs by status\n"
     "(of batch B only with --batch), and the documents and\n"
     "artifacts in the document store: count and bytes",
     admin_parse_status, run_status, 0},
    {"webhooks", "list", "[--failed] [--json] [--limit N]",
     "webhook deliveries, newest first (default 50): status,\n"
     "attempts, last HTTP status or error",
     admin_parse_webhooks, run_webhooks_list, 0},
    {"webhooks", "retry", "ID | --all-failed",
     "send delivery ID (or every failed one) again now, with the\n"
     "whole retry schedule; a delivered one is left alone",
     admin_parse_webhooks, run_webhooks_retry, 0},
    {"apikey", "create", "NAME [--role submit|admin]",
     "make an ocrq-api key called NAME and its webhook signing\n"
     "secret; both are printed once: the secret on the line\n"
     "before the last, the key alone on the last line",
     admin_parse_apikey, run_apikey_create, 0},
    {"apikey", "rotate-secret", "NAME [--overlap DUR]",
     "a new webhook signing secret for key NAME, printed once;\n"
     "the old one signs too for DUR more (default 24h; 0: no)",
     admin_parse_apikey, run_apikey_rotate_secret, 0},
    {"apikey", "list", "[--json]", "the keys: name, id, role, created, active or revoked",
     admin_parse_apikey, run_apikey_list, 0},
    {"apikey", "revoke", "NAME", "the key stops working (within 1 s: ocrq-api caches keys)",
     admin_parse_apikey, run_apikey_revoke, 0},
    {"failed", "list", "[--reason CODE] [--batch B] [--json]",
     "the dead-lettered messages in ocr.failed: job, reason\n"
     "(error code), batch, when it died, attempts, error",
     admin_parse_failed, run_failed, TAKES_FAILED_OPTS},
    {"failed", "show", "ID [--json]",
     "job ID's messages in ocr.failed: headers, x-death, and\n"
     "the job record's error",
     admin_parse_failed, run_failed, TAKES_FAILED_OPTS},
    {"failed", "requeue", "ID | --all [--reason CODE]",
     "reset the job to queued (attempts 0), publish it again\n"
     "(confirmed, to its job queue by priority, fresh headers),\n"
     "then remove it from ocr.failed; running, succeeded and\n"
     "canceled jobs are left there",
     admin_parse_failed, run_failed, TAKES_FAILED_OPTS},
    {"failed", "purge", "[--older-than DUR]",
     "drop the messages in ocr.failed (those that died more\n"
     "than DUR ago: 30s, 10m, 2h, 7d); job records stay failed",
     admin_parse_failed, run_failed, TAKES_FAILED_OPTS},
    {"cancel", NULL, "ID | --batch B",
     "cancel a queued job, or the queued jobs of batch B: a\n"
     "worker acks a canceled job without OCR; a running job\n"
     "cannot be canceled",
     admin_parse_cancel, run_cancel, TAKES_FAILED_OPTS},
    {"queues", "convert", NULL,
     "declare every queue again as amqp.queue_type says\n"
     "(classic or quorum), keeping its messages: each\n"
     "queue that differs is emptied into a holding queue,\n"
     "deleted, declared anew and refilled, every move\n"
     "confirmed; stop the workers and submitters first",
     admin_parse_queues, run_queues_convert, 0},
    {"store", "sweep", NULL,
     "delete the stored documents that are no longer needed:\n"
     "those of jobs that ended documents.retention_s ago or\n"
     "more, and those of submissions that died more than a\n"
     "day ago (workers sweep too); prints how many",
     admin_parse_store, run_store_sweep, 0},
    {"purge", NULL,
     "--finished-before DUR [--status S] [--batch B] [--batch-size N]\n"
     "[--dry-run] [--json]",
     "delete the finished jobs (succeeded, failed, canceled;\n"
     "never queued or running) that ended more than DUR ago\n"
     "(30d, 12h, 90m), with their results, pages, artifacts,\n"
     "webhook deliveries and attempts, idempotency keys and\n"
     "stored documents, oldest first, N jobs (default 1000)\n"
     "per short transaction; a job whose webhook delivery is\n"
     "still pending is kept; prints what went and how long\n"
     "it took (progress on stderr); retention.days does the\n"
     "same hourly in the worker",
     admin_parse_purge, run_purge, TAKES_PURGE_OPTS},
    {"workers", NULL, "[--json] [--all]",
     "the fleet, as each supervisor records itself every 5 s:\n"
     "name, host, pid, version, started, last heartbeat (stale\n"
     "when over 30 s old) or stopped, and each OCR process:\n"
     "state, current job and for how long, jobs done; without\n"
     "--all, stopped workers and those silent for over a day\n"
     "are left out",
     admin_parse_workers, run_workers, TAKES_ALL},
    {"help", NULL, NULL, "show this help", parse_help, NULL, 0},
};

/* The row of command name with subcommand sub; sub NULL: the first row of name. */
static const struct admin_command *find_command(const char *name, const char *sub)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        const struct admin_command *c = &commands[i];
        if (strcmp(c->name, name) == 0 && (!sub || (c->sub && strcmp(c->sub, sub) == 0)))
            return c;
    }
    return NULL;
}

/* One line of --help's command list: "  COMMAND", then from column HELP_COL the help. */
static void print_command(FILE *f, const struct admin_command *c)
{
    char line[256];
    const char *h = c->help;
    int n = snprintf(line, sizeof line, "  %s%s%s%s%s", c->name, c->sub ? " " : "",
                     c->sub ? c->sub : "", c->args ? " " : "", c->args ? c->args : "");
    int col = n;

    /* the command: a '\n' in args goes on indented by 8 */
    for (const char *p = line; *p; p++) {
        if (*p == '\n') {
            fputs("\n        ", f);
            col = HELP_COL; /* a continued command line has its own line */
        } else {
            fputc(*p, f);
        }
    }
    if (col > HELP_COL - 2) {
        fputc('\n', f);
        col = 0;
    }
    while (*h) {
        size_t len = strcspn(h, "\n");
        fprintf(f, "%*s%.*s\n", HELP_COL - col, "", (int)len, h);
        col = 0;
        h += len + (h[len] == '\n');
    }
}

int admin_command_known(const char *name, const char *sub)
{
    return find_command(name, sub) != NULL;
}

static void print_usage(FILE *f)
{
    fputs(usage_head, f);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        print_command(f, &commands[i]);
    fputs(usage_tail, f);
}

/*
 * Options may come before or after the command. Returns -1 to go on,
 * else the exit code (help, version, usage error).
 */
static int parse(int argc, char **argv, struct admin_args *a)
{
    int c;

    while ((c = getopt_long(argc, argv, "c:hV", long_opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            a->config_path = optarg;
            break;
        case OPT_JSON:
            a->json = 1;
            break;
        case OPT_BATCH:
            a->batch = optarg;
            break;
        case OPT_FAILED:
            a->failed = 1;
            break;
        case OPT_ALL_FAILED:
            a->all_failed = 1;
            break;
        case OPT_REASON:
            a->reason = optarg;
            break;
        case OPT_ALL:
            a->all = 1;
            break;
        case OPT_OVERLAP:
            a->overlap_s = admin_duration_s(optarg);
            if (a->overlap_s < 0)
                return admin_usage_error("--overlap: not a duration such as 0, 30m, 24h or 7d",
                                         optarg);
            break;
        case OPT_FINISHED_BEFORE:
            a->finished_before_s = admin_duration_s(optarg);
            if (a->finished_before_s < 0)
                return admin_usage_error(
                    "--finished-before: not a duration such as 30d, 12h or 90m", optarg);
            break;
        case OPT_STATUS:
            if (!(a->statuses = admin_purge_statuses(optarg)))
                return EXIT_USAGE;
            break;
        case OPT_BATCH_SIZE: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 1 || v > OCRQ_DB_PURGE_BATCH_MAX)
                return admin_usage_error("--batch-size: not a count between 1 and 10000", optarg);
            a->batch_size = (int)v;
            break;
        }
        case OPT_DRY_RUN:
            a->dry_run = 1;
            break;
        case OPT_ROLE:
            a->role = optarg;
            break;
        case OPT_OLDER_THAN:
            a->older_than_s = admin_duration_s(optarg);
            if (a->older_than_s < 0)
                return admin_usage_error("--older-than: not a duration such as 30s, 10m, 2h or 7d",
                                         optarg);
            break;
        case OPT_LIMIT: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 1 || v > 100000)
                return admin_usage_error("--limit: not a count between 1 and 100000", optarg);
            a->limit = (int)v;
            break;
        }
        case 'h':
            print_usage(stdout);
            return 0;
        case 'V':
            puts("ocrq-admin " OCRQ_VERSION);
            return 0;
        default:
            fputs("Try 'ocrq-admin --help'.\n", stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc)
        return admin_usage_error("no command given", NULL);
    a->command = argv[optind++];
    const struct admin_command *cmd = find_command(a->command, NULL);
    unsigned takes = cmd ? cmd->takes : 0;
    if (!(takes & TAKES_PURGE_OPTS) &&
        (a->finished_before_s >= 0 || a->statuses || a->batch_size || a->dry_run))
        return admin_usage_error("--finished-before, --status, --batch-size and --dry-run go with "
                                 "purge only",
                                 NULL);
    if (!(takes & TAKES_FAILED_OPTS) && (a->reason || a->older_than_s >= 0))
        return admin_usage_error("--reason and --older-than go with failed only", NULL);
    if (!(takes & (TAKES_FAILED_OPTS | TAKES_ALL)) && a->all)
        return admin_usage_error("--all goes with failed requeue and workers only", NULL);
    if (!cmd && optind < argc)
        return admin_usage_error("unexpected argument", argv[optind]);
    if (!cmd)
        return admin_usage_error("unknown command", a->command);
    int rc = cmd->parse(argc, argv, a);
    if (rc < 0 && !(a->cmd = find_command(a->command, a->sub)))
        return admin_usage_error("unknown command", a->sub); /* a parser let an unknown sub by */
    return rc;
}

int main(int argc, char **argv)
{
    struct admin_args a = {.older_than_s = -1, .overlap_s = -1, .finished_before_s = -1};
    struct ocrq_config *cfg = NULL;
    char err[1024];
    int st;

    int rc = parse(argc, argv, &a);
    if (rc >= 0)
        return rc;
    if (ocrq_config_load(a.config_path, &cfg, err, sizeof err) != OCRQ_OK) {
        fprintf(stderr, "ocrq-admin: %s\n", err);
        return EXIT_USAGE;
    }
    /* The tool reports errors itself; library log lines only for errors, or when debugging. */
    int level = ocrq_log_level_parse(cfg->log_level);
    ocrq_log_init("ocrq-admin", level == OCRQ_LOG_DEBUG ? level : OCRQ_LOG_ERROR);

    st = a.cmd->run(cfg, &a);
    ocrq_config_free(cfg);
    if (st == OCRQ_ERR_MQ || st == OCRQ_ERR_DB)
        return EXIT_UNAVAILABLE;
    return st == OCRQ_OK ? 0 : EXIT_FAIL;
}
