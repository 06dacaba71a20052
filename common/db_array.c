/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Growable text parameters of the db module: PostgreSQL array literals
 * (one column of ocrq_db_jobs_queue, the ids of a poll) in a dynbuf capped
 * at MAX_PARAM_BYTES. The first error is remembered and reported at the end.
 */
#include "db_internal.h"
#include "ocrq/dynbuf.h"

#define MAX_PARAM_BYTES (256u << 20) /* one array parameter, its NUL included */

void ocrq_db_array_init(struct ocrq_dynbuf *b)
{
    ocrq_dynbuf_init(b, MAX_PARAM_BYTES - 1);
}

/* Append one array element: NULL unquoted, anything else double-quoted with \ and " escaped. */
void ocrq_db_array_elem(struct ocrq_dynbuf *b, const char *s)
{
    const char *run;

    if (!s) {
        ocrq_dynbuf_addstr(b, "NULL");
        return;
    }
    ocrq_dynbuf_add(b, "\"", 1);
    for (run = s; *s; s++) {
        if (*s == '"' || *s == '\\') {
            ocrq_dynbuf_add(b, run, (size_t)(s - run));
            ocrq_dynbuf_add(b, "\\", 1);
            run = s;
        }
    }
    ocrq_dynbuf_add(b, run, (size_t)(s - run));
    ocrq_dynbuf_add(b, "\"", 1);
}
