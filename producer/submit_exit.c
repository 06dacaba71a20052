/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * ocrq-submit's exit code from the outcome of its run (submit_exit.h): what
 * stopped the run comes first, then a --timeout, then inputs or jobs that
 * did not make it.
 */
#include "submit_exit.h"

#include "ocrq/status.h"
#include "submit.h"

int submit_exit_code(const struct submit_result *r)
{
    if (r->fatal == OCRQ_ERR_MQ || r->fatal == OCRQ_ERR_DB)
        return EXIT_UNAVAILABLE;
    if (r->fatal == OCRQ_ERR_IO)
        return EXIT_USAGE;
    if (r->fatal != OCRQ_OK)
        return EXIT_PARTIAL;
    if (r->timed_out)
        return EXIT_TIMEOUT;
    return r->errors || r->failed || r->canceled ? EXIT_PARTIAL : 0;
}
