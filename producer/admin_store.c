/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * ocrq-admin store: the document store (ocrq/blob.h) seen by an operator.
 * store sweep deletes the documents that are no longer needed, as each
 * worker also does on its own; the sizes status shows are written here too.
 */
#include <stdio.h>

#include "admin.h"
#include "ocrq/blob.h"
#include "ocrq/config.h"
#include "ocrq/db.h"
#include "ocrq/status.h"
#include "ocrq/units.h"

#define STORE_SCHEMA 9 /* migration 9 made the store */

/* Sweep the store; see admin.h. */
int admin_store_sweep(const struct ocrq_config *cfg)
{
    struct ocrq_db *db = NULL;
    long long deleted = 0, artifacts = 0;
    int st = admin_db_open(cfg, STORE_SCHEMA, "document store", &db);

    if (st != OCRQ_OK)
        goto out;
    st = ocrq_blob_sweep(db, cfg->doc_retention_s, &deleted, &artifacts);
    if (st != OCRQ_OK) {
        admin_report("cannot sweep the document store", st);
        st = OCRQ_ERR_DB;
        goto out;
    }
    printf("%lld stored document%s deleted (documents.retention_s = %d)\n", deleted,
           deleted == 1 ? "" : "s", cfg->doc_retention_s);
    if (artifacts > 0)
        printf("%lld orphaned artifact%s deleted (stored more than a day ago, named by no job)\n",
               artifacts, artifacts == 1 ? "" : "s");
out:
    ocrq_db_free(db);
    return st;
}
