/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The exit codes of ocrq-submit (docs/design.md) and the one a run's
 * outcome ends with.
 */
#ifndef OCRQ_PRODUCER_SUBMIT_EXIT_H
#define OCRQ_PRODUCER_SUBMIT_EXIT_H

struct submit_result;

enum {
    EXIT_PARTIAL = 1, /* some inputs not submitted, or some jobs failed */
    EXIT_USAGE = 2,
    EXIT_UNAVAILABLE = 3,
    EXIT_TIMEOUT = 4,
};

/*
 * The exit code of a run that ended with *r: EXIT_UNAVAILABLE when the
 * broker or the database was lost, EXIT_USAGE for a local I/O error,
 * EXIT_PARTIAL for another fatal error, EXIT_TIMEOUT when --timeout
 * expired, EXIT_PARTIAL when some inputs were not submitted or some jobs
 * failed or were canceled, else 0.
 */
int submit_exit_code(const struct submit_result *r);

#endif
