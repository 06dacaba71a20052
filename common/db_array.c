/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Growable text parameters of the db module: PostgreSQL array literals
 * (one column of ocrq_db_jobs_queue, the ids of a poll), each capped at
 * MAX_PARAM_BYTES. The first error is remembered and reported at the end.
 */
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"
#include "ocrq/status.h"

void ocrq_db_sb_add(struct ocrq_db_sbuf *b, const char *s, size_t n)
{
    if (b->st != OCRQ_OK)
        return;
    if (n >= MAX_PARAM_BYTES - b->len) {
        b->st = OCRQ_ERR_TOO_LARGE;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *p;

        while (cap < b->len + n + 1)
            cap *= 2;
        p = realloc(b->p, cap);
        if (!p) {
            b->st = OCRQ_ERR_NOMEM;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void ocrq_db_sb_str(struct ocrq_db_sbuf *b, const char *s)
{
    ocrq_db_sb_add(b, s, strlen(s));
}

/* Append one array element: NULL unquoted, anything else double-quoted with \ and " escaped. */
void ocrq_db_sb_elem(struct ocrq_db_sbuf *b, const char *s)
{
    const char *run;

    if (!s) {
        ocrq_db_sb_str(b, "NULL");
        return;
    }
    ocrq_db_sb_add(b, "\"", 1);
    for (run = s; *s; s++) {
        if (*s == '"' || *s == '\\') {
            ocrq_db_sb_add(b, run, (size_t)(s - run));
            ocrq_db_sb_add(b, "\\", 1);
            run = s;
        }
    }
    ocrq_db_sb_add(b, run, (size_t)(s - run));
    ocrq_db_sb_add(b, "\"", 1);
}
