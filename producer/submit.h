/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The ocrq-submit engine: turns a list of inputs into jobs, records them as
 * queued in PostgreSQL chunk by chunk, publishes them with pipelined
 * confirms, and with --wait follows them until they are finished.
 */
#ifndef OCRQ_PRODUCER_SUBMIT_H
#define OCRQ_PRODUCER_SUBMIT_H

#include <stdio.h>

#include "inputs.h"
#include "ocrq/uuid.h"
#include "progress.h"

#define SUBMIT_CHUNK_MAX_BYTES (64 * 1024 * 1024)  /* message bodies held per chunk */
#define SUBMIT_FLIGHT_MAX_BYTES (64 * 1024 * 1024) /* ... and kept until confirmed */
#define SUBMIT_CONFIRM_TIMEOUT_MS 60000            /* broker silent this long: give up */
#define SUBMIT_RECONNECT_MS 60000                  /* a lost broker not back this long: give up */
#define SUBMIT_MAX_CHANNEL_LOSSES 3 /* a job lost with a closed channel this often: refused */

struct ocrq_config;

/* What the command line asked for. Strings are borrowed from argv. */
struct submit_opts {
    int priority;         /* 0-9 */
    const char *language; /* NULL: cfg->default_language */
    const char *webhook;  /* may be NULL */
    const char *batch;    /* NULL: a new uuid per run */
    const char *metadata; /* a JSON object or NULL */
    int by_path;
    int json;
    int wait;
    double timeout_s;       /* with wait: 0 means none */
    const char *output_dir; /* implies wait */
    unsigned formats;       /* --format: OCRQ_FMT_* bits; 0: txt only */
    int quiet;
};

/* Where one input stands. */
enum item_state {
    ITEM_TODO = 0,  /* not yet published */
    ITEM_SENT,      /* published, confirm not yet seen */
    ITEM_QUEUED,    /* confirmed by the broker */
    ITEM_ERROR,     /* could not be submitted */
    ITEM_SUCCEEDED, /* --wait: finished */
    ITEM_FAILED,
    ITEM_CANCELED, /* --wait: canceled by ocrq-admin cancel */
};

struct submit_item {
    char job_id[OCRQ_UUID_LEN + 1];
    unsigned char state; /* enum item_state */
};

/* The outcome of a run, from which main picks the exit code. */
struct submit_result {
    int fatal;        /* OCRQ_OK, or why the run stopped: OCRQ_ERR_MQ / _DB (3), _IO (2) */
    int timed_out;    /* --wait --timeout expired */
    size_t total;     /* inputs */
    size_t submitted; /* confirmed by the broker */
    size_t errors;    /* inputs that could not be submitted */
    size_t succeeded, failed, canceled, pending; /* --wait */
    double seconds;                              /* submission time */
    char batch[128];
};

/* The state of a run that the submit and wait phases share. */
struct submit_run {
    const struct ocrq_config *cfg;
    const struct submit_opts *opts;
    const struct input_list *inputs;
    struct submit_item *items; /* one per input */
    char **out_names;          /* --output: one per input, NULL where none */
    struct progress progress;
    int stdout_tty; /* --json lines must clear the progress line too */
    struct submit_result *res;
};

/*
 * Submit every input of inputs as opts says, and with opts->wait follow the
 * jobs to the end. Progress and messages go to stderr, --json lines to
 * stdout. Fills *res (cleared on entry). Returns OCRQ_OK when the run went to
 * its end (individual inputs may still have failed: see res), else the fatal
 * status also stored in res->fatal.
 */
int submit_run(const struct ocrq_config *cfg, const struct submit_opts *opts,
               const struct input_list *inputs, struct submit_result *res);

/* Print "ocrq-submit: <source>: <message>" on stderr, clearing the progress line first. */
void submit_report(struct submit_run *run, const char *source, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Write one --json line for input i to stdout; job_id and error may be NULL. */
void submit_json(struct submit_run *run, size_t i, const char *job_id, const char *status,
                 const char *error);

#endif
