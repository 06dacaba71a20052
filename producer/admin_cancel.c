/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * ocrq-admin cancel ID | --batch B: the queued jobs become canceled (one
 * statement, ocrq_db_cancel()), and a worker that receives one acks it
 * without OCR; running and finished jobs are reported and left alone.
 */
#include "admin.h"

#include <stdio.h>
#include <string.h>

#include "ocrq/db.h"
#include "ocrq/db_failed.h"
#include "ocrq/status.h"

struct cancel_tally {
    size_t canceled, running, final, total;
};

static void on_cancel(void *arg, const struct ocrq_db_cancel_info *c)
{
    struct cancel_tally *t = arg;

    t->total++;
    if (c->canceled_now) {
        t->canceled++;
        printf("canceled %s\n", c->job_id);
    } else if (strcmp(c->status, "running") == 0) {
        t->running++;
        fprintf(stderr, "ocrq-admin: job %s is running: it cannot be canceled\n", c->job_id);
    } else {
        t->final++;
        if (strcmp(c->status, "canceled") != 0)
            fprintf(stderr, "ocrq-admin: job %s is %s already\n", c->job_id, c->status);
    }
}

int admin_cancel(const struct ocrq_config *cfg, const char *job_id, const char *batch)
{
    struct ocrq_db *db = NULL;
    struct cancel_tally t = {0};
    int st = ocrq_db_connect(cfg, &db);

    if (st == OCRQ_OK)
        st = ocrq_db_cancel(db, job_id, batch, on_cancel, &t);
    ocrq_db_free(db);
    if (st != OCRQ_OK) {
        admin_report("cannot cancel", st);
        return OCRQ_ERR_DB;
    }
    if (t.total == 0) {
        fprintf(stderr, "ocrq-admin: no job %s%s\n", job_id ? job_id : "in batch ",
                job_id ? "" : batch);
        return OCRQ_ERR_NOT_FOUND;
    }
    printf("%zu canceled, %zu running (not canceled), %zu finished already\n", t.canceled,
           t.running, t.final);
    return t.canceled > 0 ? OCRQ_OK : OCRQ_ERR_NOT_FOUND;
}
