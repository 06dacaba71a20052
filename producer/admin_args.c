/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * ocrq-admin's argument checks, one parser per command (the rows of
 * admin_main.c's command table name them): what each command takes after
 * its name, which options go with it, and the usage error when they do not
 * fit; and the values of the options that need reading (durations, statuses).
 */
#include "admin_args.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "ocrq/db.h"
#include "ocrq/db_purge.h"
#include "ocrq/uuid.h"

int admin_usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "ocrq-admin: %s%s%s\nTry 'ocrq-admin --help'.\n", what, arg ? ": " : "",
            arg ? arg : "");
    return EXIT_USAGE;
}

/* The rest of "apikey create NAME | list | revoke NAME". */
int admin_parse_apikey(int argc, char **argv, struct admin_args *a)
{
    if (optind >= argc)
        return admin_usage_error("apikey: say create, list, revoke or rotate-secret", NULL);
    a->sub = argv[optind++];
    if (a->failed || a->all_failed || a->limit || a->batch)
        return admin_usage_error("apikey takes a NAME (create, revoke) or --json (list)", NULL);
    if (strcmp(a->sub, "list") == 0) {
        if (a->role)
            return admin_usage_error("--role goes with apikey create only", NULL);
        if (optind < argc)
            return admin_usage_error("unexpected argument", argv[optind]);
        return -1;
    }
    if (!admin_command_known(a->command, a->sub))
        return admin_usage_error("apikey: unknown command", a->sub);
    if (a->overlap_s >= 0 && strcmp(a->sub, "rotate-secret") != 0)
        return admin_usage_error("--overlap goes with apikey rotate-secret only", NULL);
    if (a->json)
        return admin_usage_error("--json goes with apikey list only", NULL);
    if (a->role && strcmp(a->sub, "create") != 0)
        return admin_usage_error("--role goes with apikey create only", NULL);
    if (a->role && strcmp(a->role, "submit") != 0 && strcmp(a->role, "admin") != 0)
        return admin_usage_error("--role: submit or admin", a->role);
    if (optind >= argc)
        return admin_usage_error("apikey: which key? (a NAME)", NULL);
    a->name = argv[optind++];
    if (!admin_apikey_name_ok(a->name))
        return admin_usage_error(
            "apikey: a NAME is 1-64 of A-Z a-z 0-9 . _ -, starting with a letter "
            "or digit",
            a->name);
    if (optind < argc)
        return admin_usage_error("unexpected argument", argv[optind]);
    return -1;
}

/* Seconds in a duration such as 30s, 10m, 2h or 7d (a bare number: seconds); -1 if bad. */
long long admin_duration_s(const char *s)
{
    static const char units[] = "smhd";
    static const long long unit_s[] = {1, 60, 3600, 86400};
    char *end;
    long long v = strtoll(s, &end, 10);
    const char *u = *end ? strchr(units, *end) : units;

    if (end == s || v < 0 || v > 100LL * 365 * 86400 || !u || (*end && end[1]))
        return -1;
    return v * unit_s[u - units];
}

/* The rest of "failed list|show|requeue|purge ...". */
int admin_parse_failed(int argc, char **argv, struct admin_args *a)
{
    if (optind >= argc)
        return admin_usage_error("failed: say list, show, requeue or purge", NULL);
    a->sub = argv[optind++];
    if (a->failed || a->all_failed || a->limit)
        return admin_usage_error("--failed, --all-failed and --limit go with webhooks only", NULL);
    if (strcmp(a->sub, "list") == 0) {
        if (a->all || a->older_than_s >= 0)
            return admin_usage_error("failed list takes --reason, --batch and --json", NULL);
    } else if (strcmp(a->sub, "show") == 0) {
        if (a->all || a->older_than_s >= 0 || a->reason || a->batch)
            return admin_usage_error("failed show takes an ID (and --json)", NULL);
        if (optind >= argc)
            return admin_usage_error("failed show: which job? (an ID)", NULL);
        a->name = argv[optind++];
    } else if (strcmp(a->sub, "requeue") == 0) {
        if (a->json || a->batch || a->older_than_s >= 0)
            return admin_usage_error("failed requeue takes an ID, or --all [--reason CODE]", NULL);
        if (a->all == (optind < argc))
            return admin_usage_error("failed requeue: an ID or --all (one of the two)", NULL);
        if (!a->all && a->reason)
            return admin_usage_error("--reason goes with failed requeue --all", NULL);
        if (!a->all)
            a->name = argv[optind++];
    } else if (strcmp(a->sub, "purge") == 0) {
        if (a->json || a->batch || a->reason || a->all)
            return admin_usage_error("failed purge takes --older-than DUR only", NULL);
    } else {
        return admin_usage_error("failed: unknown command", a->sub);
    }
    if (a->name && !ocrq_uuid_valid(a->name))
        return admin_usage_error("not a job ID", a->name);
    if (a->reason && !*a->reason)
        return admin_usage_error("--reason", "empty reason");
    if (a->batch && !*a->batch)
        return admin_usage_error("--batch", "empty batch name");
    if (optind < argc)
        return admin_usage_error("unexpected argument", argv[optind]);
    return -1;
}

/* The rest of "cancel ID | --batch B". */
int admin_parse_cancel(int argc, char **argv, struct admin_args *a)
{
    if (a->json || a->failed || a->all_failed || a->limit || a->reason || a->all ||
        a->older_than_s >= 0)
        return admin_usage_error("cancel takes an ID or --batch B", NULL);
    if (!a->batch == !(optind < argc))
        return admin_usage_error("cancel: a job ID or --batch B (one of the two)", NULL);
    if (a->batch && !*a->batch)
        return admin_usage_error("--batch", "empty batch name");
    if (!a->batch) {
        a->name = argv[optind++];
        if (!ocrq_uuid_valid(a->name))
            return admin_usage_error("not a job ID", a->name);
    }
    if (optind < argc)
        return admin_usage_error("unexpected argument", argv[optind]);
    return -1;
}

/* --status S[,S...] of purge into OCRQ_PURGE_* bits; 0 (reported) if a name is not final. */
unsigned admin_purge_statuses(const char *arg)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"succeeded", OCRQ_PURGE_SUCCEEDED},
                 {"failed", OCRQ_PURGE_FAILED},
                 {"canceled", OCRQ_PURGE_CANCELED}};
    unsigned bits = 0;
    const char *p = arg;

    while (*p) {
        size_t len = strcspn(p, ",");
        unsigned bit = 0;

        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            if (len == strlen(names[i].name) && strncmp(p, names[i].name, len) == 0)
                bit = names[i].bit;
        if (!bit) {
            admin_usage_error("--status: purge deletes finished jobs only: succeeded, failed or "
                              "canceled (comma-separated)",
                              arg);
            return 0;
        }
        bits |= bit;
        p += len + (p[len] == ',');
    }
    if (!bits)
        admin_usage_error("--status", "empty");
    return bits;
}

/* The rest of "purge --finished-before DUR ...". */
int admin_parse_purge(int argc, char **argv, struct admin_args *a)
{
    if (a->failed || a->all_failed || a->limit || a->overlap_s >= 0)
        return admin_usage_error("purge takes --finished-before, --status, --batch, --batch-size, "
                                 "--dry-run and --json",
                                 NULL);
    if (a->finished_before_s < 0)
        return admin_usage_error("purge: how old? --finished-before DUR (e.g. 30d, 12h, 90m)",
                                 NULL);
    if (a->batch && !*a->batch)
        return admin_usage_error("--batch", "empty batch name");
    if (optind < argc)
        return admin_usage_error("unexpected argument", argv[optind]);
    return -1;
}

/* The rest of "queues convert". */
int admin_parse_queues(int argc, char **argv, struct admin_args *a)
{
    if (optind >= argc)
        return admin_usage_error("queues: say convert", NULL);
    a->sub = argv[optind++];
    if (!admin_command_known(a->command, a->sub))
        return admin_usage_error("queues: unknown command", a->sub);
    if (a->json || a->batch || a->failed || a->all_failed || a->limit)
        return admin_usage_error("queues convert takes no options", NULL);
    if (optind < argc)
        return admin_usage_error("unexpected argument", argv[optind]);
    return -1;
}

/* The rest of "store sweep". */
int admin_parse_store(int argc, char **argv, struct admin_args *a)
{
    if (optind >= argc)
        return admin_usage_error("store: say sweep", NULL);
    a->sub = argv[optind++];
    if (!admin_command_known(a->command, a->sub))
        return admin_usage_error("store: unknown command", a->sub);
    if (a->json || a->batch || a->failed || a->all_failed || a->limit)
        return admin_usage_error("store sweep takes no options", NULL);
    if (optind < argc)
        return admin_usage_error("unexpected argument", argv[optind]);
    return -1;
}

/* The rest of "webhooks list|retry ...". */
int admin_parse_webhooks(int argc, char **argv, struct admin_args *a)
{
    if (optind >= argc)
        return admin_usage_error("webhooks: say list or retry", NULL);
    a->sub = argv[optind++];
    if (strcmp(a->sub, "list") == 0) {
        if (a->role)
            return admin_usage_error("--role goes with apikey create only", NULL);
        if (optind < argc)
            return admin_usage_error("unexpected argument", argv[optind]);
        if (a->all_failed || a->batch)
            return admin_usage_error("webhooks list takes --failed, --json and --limit", NULL);
        return -1;
    }
    if (!admin_command_known(a->command, a->sub))
        return admin_usage_error("webhooks: unknown command", a->sub);
    if (a->failed || a->json || a->limit || a->batch)
        return admin_usage_error("webhooks retry takes an ID or --all-failed", NULL);
    if (a->all_failed) {
        if (optind < argc)
            return admin_usage_error("webhooks retry: an ID or --all-failed, not both",
                                     argv[optind]);
        return -1;
    }
    if (optind >= argc)
        return admin_usage_error("webhooks retry: which delivery? (an ID, or --all-failed)", NULL);
    char *end;
    a->id = strtoll(argv[optind], &end, 10);
    if (*end || end == argv[optind] || a->id < 1)
        return admin_usage_error("webhooks retry: not a delivery ID", argv[optind]);
    if (++optind < argc)
        return admin_usage_error("unexpected argument", argv[optind]);
    return -1;
}

/* The rest of "setup" or "migrate": nothing. */
int admin_parse_plain(int argc, char **argv, struct admin_args *a)
{
    if (optind < argc)
        return admin_usage_error("unexpected argument", argv[optind]);
    if (a->json || a->batch)
        return admin_usage_error("--json and --batch go with status only", NULL);
    if (a->failed || a->all_failed || a->limit)
        return admin_usage_error("--failed, --all-failed and --limit go with webhooks only", NULL);
    return -1;
}

/* The rest of "status [--json] [--batch B]". */
int admin_parse_status(int argc, char **argv, struct admin_args *a)
{
    if (optind < argc)
        return admin_usage_error("unexpected argument", argv[optind]);
    if (a->failed || a->all_failed || a->limit)
        return admin_usage_error("--failed, --all-failed and --limit go with webhooks only", NULL);
    if (a->batch && !*a->batch)
        return admin_usage_error("--batch", "empty batch name");
    return -1;
}

/* The rest of "workers [--json] [--all]". */
int admin_parse_workers(int argc, char **argv, struct admin_args *a)
{
    if (optind < argc)
        return admin_usage_error("unexpected argument", argv[optind]);
    if (a->batch || a->failed || a->all_failed || a->limit || a->overlap_s >= 0)
        return admin_usage_error("workers takes --json and --all", NULL);
    return -1;
}
