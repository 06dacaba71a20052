/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * ocrq-admin's command line as read (struct admin_args), the exit codes, and
 * the per-command argument checks of admin_args.c.
 */
#ifndef OCRQ_PRODUCER_ADMIN_ARGS_H
#define OCRQ_PRODUCER_ADMIN_ARGS_H

/* The exit codes docs/design.md promises (0: ok). */
enum { EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_UNAVAILABLE = 3 };

struct admin_command;

struct admin_args {
    const struct admin_command *cmd; /* the row of commands[] that runs */
    const char *config_path;
    const char *command;
    int json;
    const char *batch;
    const char *sub;  /* webhooks: list or retry; apikey: create, list or revoke; store: sweep */
    const char *name; /* apikey create|revoke NAME */
    long long id;     /* webhooks retry ID */
    int failed, all_failed;
    int limit;
    const char *reason;          /* failed list|requeue */
    int all;                     /* failed requeue --all; workers --all */
    long long older_than_s;      /* failed purge --older-than; -1: not given */
    long long overlap_s;         /* apikey rotate-secret --overlap; -1: not given */
    long long finished_before_s; /* purge --finished-before; -1: not given */
    unsigned statuses;           /* purge --status: OCRQ_PURGE_* bits; 0: not given */
    int batch_size;              /* purge --batch-size; 0: not given */
    int dry_run;                 /* purge --dry-run */
    const char *role;            /* apikey create --role: "submit" or "admin"; NULL: not given */
};

/* "ocrq-admin: what[: arg]" and a pointer to --help on stderr; returns EXIT_USAGE. */
int admin_usage_error(const char *what, const char *arg);

/* 1 if the command table has a row for command name with subcommand sub (admin_main.c). */
int admin_command_known(const char *name, const char *sub);

/*
 * The rest of one command's line, from argv[optind] on (getopt has read the
 * options into a): each checks that the options given go with the command,
 * reads its subcommand and arguments into a, and returns -1 to go on, else
 * the exit code (a usage error, reported).
 */
int admin_parse_apikey(int argc, char **argv, struct admin_args *a);
int admin_parse_failed(int argc, char **argv, struct admin_args *a);
int admin_parse_cancel(int argc, char **argv, struct admin_args *a);
int admin_parse_purge(int argc, char **argv, struct admin_args *a);
int admin_parse_queues(int argc, char **argv, struct admin_args *a);
int admin_parse_store(int argc, char **argv, struct admin_args *a);
int admin_parse_webhooks(int argc, char **argv, struct admin_args *a);
int admin_parse_plain(int argc, char **argv, struct admin_args *a); /* setup, migrate */
int admin_parse_status(int argc, char **argv, struct admin_args *a);
int admin_parse_workers(int argc, char **argv, struct admin_args *a);

/* Seconds in a duration such as 30s, 10m, 2h or 7d (a bare number: seconds); -1 if bad. */
long long admin_duration_s(const char *s);

/* --status S[,S...] of purge into OCRQ_PURGE_* bits; 0 (reported) if a name is not final. */
unsigned admin_purge_statuses(const char *arg);

#endif
