/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * ocrq-submit: parse the command line, load the configuration, expand the
 * inputs, run the submission engine (submit.c), and turn its outcome into
 * the exit code that docs/design.md promises (submit_exit.c).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inputs.h"
#include "ocrq/config.h"
#include "ocrq/formats.h"
#include "ocrq/job.h"
#include "ocrq/json.h"
#include "ocrq/log.h"
#include "ocrq/status.h"
#include "ocrq/url.h"
#include "submit.h"
#include "submit_exit.h"

enum { OPT_BY_PATH = 256, OPT_JSON, OPT_WAIT, OPT_TIMEOUT };

static const char usage_text[] =
    "Usage: ocrq-submit [OPTIONS] INPUT...\n"
    "Submit documents for OCR: each INPUT becomes one job.\n"
    "\n"
    "  INPUT                 a file, a directory (needs -r), or an http(s):// URL;\n"
    "                        a file over documents.inline_max_bytes (8 MiB) goes\n"
    "                        into the document store and its job by reference, one\n"
    "                        over documents.max_bytes (1 GiB) is refused\n"
    "  -c, --config FILE     config file (else $OCRQ_CONFIG, else built-in defaults)\n"
    "  -r, --recursive       submit every regular file under each directory\n"
    "                        (sorted by name, hidden files and directories skipped)\n"
    "  -p, --priority N      0-9 (default 0); 7-9 go to the priority queue\n"
    "  -l, --lang LANG       e.g. eng, deu, eng+deu (default: ocr.default_language)\n"
    "  -w, --webhook URL     webhook_url of each job\n"
    "  -b, --batch NAME      batch name (default: a new id per run)\n"
    "  -m, --metadata JSON   a JSON object attached to each job\n"
    "      --by-path         send files as path references, not inline\n"
    "                        (they must lie under the worker's documents.file_roots,\n"
    "                        or its OCRQ_FILE_ROOTS)\n"
    "      --json            one JSON line per input on stdout\n"
    "      --wait            wait until every job is finished (succeeded, failed\n"
    "                        or canceled)\n"
    "      --timeout S       with --wait: give up S seconds after the last job was\n"
    "                        submitted (exit 4)\n"
    "  -f, --format LIST     outputs beside the text, comma-separated: txt, hocr, alto,\n"
    "                        tsv, pdf (searchable PDF), words (JSON word list);\n"
    "                        the text is always stored (default: txt)\n"
    "  -o, --output DIR      implies --wait; write DIR/<name>.<ext> per succeeded input\n"
    "                        and format: txt, hocr, xml (ALTO), tsv, pdf, words.json\n"
    "                        (<name>: file name without extension; clashes get -2, -3...)\n"
    "  -q, --quiet           no progress bar and no summary\n"
    "  -h, --help            show this help and exit\n"
    "  -V, --version         show the version and exit\n"
    "\n"
    "Brokers: each of amqp.urls is tried in turn. A broker lost during the run is\n"
    "reconnected to (the next of amqp.urls) for up to 60 s, and the jobs it had\n"
    "not confirmed are published again (same job ids); after that, exit 3.\n"
    "\n"
    "Environment:\n"
    "  OCRQ_CONFIG        the config file, when -c is not given\n"
    "  OCRQ_AMQP_URL      overrides amqp.url (amqp://user:pass@host:port/vhost)\n"
    "  OCRQ_DATABASE_URL  overrides database.url (a libpq URI)\n"
    "\n"
    "Exit codes:\n"
    "  0  all inputs submitted (with --wait: all jobs succeeded)\n"
    "  1  some inputs could not be submitted, or some jobs failed or were canceled\n"
    "  2  usage or configuration error\n"
    "  3  broker or database unavailable (or the queues are not set up)\n"
    "  4  --wait --timeout expired\n";

static const struct option long_opts[] = {
    {"config", required_argument, NULL, 'c'},
    {"recursive", no_argument, NULL, 'r'},
    {"priority", required_argument, NULL, 'p'},
    {"lang", required_argument, NULL, 'l'},
    {"webhook", required_argument, NULL, 'w'},
    {"batch", required_argument, NULL, 'b'},
    {"metadata", required_argument, NULL, 'm'},
    {"by-path", no_argument, NULL, OPT_BY_PATH},
    {"json", no_argument, NULL, OPT_JSON},
    {"wait", no_argument, NULL, OPT_WAIT},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"output", required_argument, NULL, 'o'},
    {"format", required_argument, NULL, 'f'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ocrq-submit: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'ocrq-submit --help'.\n", stderr);
    return EXIT_USAGE;
}

/* Check the option values that do not depend on the configuration. */
static int check_opts(const struct submit_opts *o)
{
    const char *why;

    if (o->language && !ocrq_lang_valid(o->language))
        return usage_error("--lang: '%s' is not a language (e.g. eng, deu, eng+deu)", o->language);
    if (o->webhook && ocrq_url_check(o->webhook, OCRQ_URL_HTTP, &why) != OCRQ_OK)
        return usage_error("--webhook: '%s' %s", o->webhook, why);
    if (o->batch && (!*o->batch || strlen(o->batch) >= sizeof((struct submit_result *)0)->batch))
        return usage_error("--batch: '%s' must be 1 to 127 bytes", o->batch);
    if (o->metadata && strlen(o->metadata) > OCRQ_MAX_META_BYTES / 2)
        return usage_error("--metadata: %s", "longer than 32 KiB");
    if (o->metadata && !ocrq_json_is_object(o->metadata))
        return usage_error("--metadata: '%s' is not a JSON object", o->metadata);
    if (o->timeout_s > 0 && !o->wait)
        return usage_error("%s", "--timeout needs --wait or --output");
    return 0;
}

static int parse_priority(const char *s, int *out)
{
    if (s[0] < '0' || s[0] > '9' || s[1] != '\0')
        return -1;
    *out = s[0] - '0';
    return 0;
}

static int parse_timeout(const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v <= 0 || v > 1e7)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    struct submit_opts o = {0};
    struct submit_result res;
    struct input_list inputs = {0};
    struct ocrq_config *cfg = NULL;
    const char *config_path = NULL;
    int recursive = 0, c, rc;
    char err[1024];

    while ((c = getopt_long(argc, argv, "c:rp:l:w:b:m:o:f:qhV", long_opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'r':
            recursive = 1;
            break;
        case 'p':
            if (parse_priority(optarg, &o.priority) != 0)
                return usage_error("--priority: '%s' is not a number from 0 to 9", optarg);
            break;
        case 'l':
            o.language = optarg;
            break;
        case 'w':
            o.webhook = optarg;
            break;
        case 'b':
            o.batch = optarg;
            break;
        case 'm':
            o.metadata = optarg;
            break;
        case OPT_BY_PATH:
            o.by_path = 1;
            break;
        case OPT_JSON:
            o.json = 1;
            break;
        case OPT_WAIT:
            o.wait = 1;
            break;
        case OPT_TIMEOUT:
            if (parse_timeout(optarg, &o.timeout_s) != 0)
                return usage_error("--timeout: '%s' is not a positive number of seconds", optarg);
            break;
        case 'o':
            o.output_dir = optarg;
            o.wait = 1;
            break;
        case 'f': {
            char why[128];
            if (ocrq_formats_parse(optarg, &o.formats, why, sizeof why) != OCRQ_OK)
                return usage_error("--format: %s", why);
            break;
        }
        case 'q':
            o.quiet = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        case 'V':
            puts("ocrq-submit " OCRQ_VERSION);
            return 0;
        default:
            fputs("Try 'ocrq-submit --help'.\n", stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc)
        return usage_error("%s", "no input given");
    if ((rc = check_opts(&o)) != 0)
        return rc;

    if (ocrq_config_load(config_path, &cfg, err, sizeof err) != OCRQ_OK) {
        fprintf(stderr, "ocrq-submit: %s\n", err);
        return EXIT_USAGE;
    }
    /* The tool reports errors itself; library log lines only for errors, or when debugging. */
    int level = ocrq_log_level_parse(cfg->log_level);
    ocrq_log_init("ocrq-submit", level == OCRQ_LOG_DEBUG ? level : OCRQ_LOG_ERROR);

    rc = inputs_expand(argv + optind, (size_t)(argc - optind), recursive, &inputs);
    if (rc == OCRQ_ERR_TOO_LARGE) {
        fprintf(stderr, "ocrq-submit: too many inputs (more than %u)\n", INPUTS_MAX);
        rc = EXIT_USAGE;
    } else if (rc != OCRQ_OK) {
        fprintf(stderr, "ocrq-submit: %s\n", ocrq_strerror(rc));
        rc = EXIT_PARTIAL;
    } else {
        submit_run(cfg, &o, &inputs, &res);
        rc = submit_exit_code(&res);
    }
    inputs_free(&inputs);
    ocrq_config_free(cfg);
    return rc;
}
