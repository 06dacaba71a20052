/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Private to the db module: the few libpq-free helpers of db_conn.c that
 * migrations.c applies the schema migrations with.
 */
#ifndef OCRQ_MIGRATIONS_H
#define OCRQ_MIGRATIONS_H

struct ocrq_db;

/*
 * Run sql (one or more statements, no parameters); the last statement must
 * return rows if rows is nonzero, else none. OCRQ_OK or OCRQ_ERR_DB (logged
 * once, as what). Same thread rules as db.h.
 */
int ocrq_db_exec(struct ocrq_db *db, const char *sql, int rows, const char *what);

/*
 * Run sql with nparams text parameters and put the first cell of the first
 * row into *val (0 if no row or NULL). OCRQ_OK or OCRQ_ERR_DB (logged once).
 */
int ocrq_db_query_int(struct ocrq_db *db, const char *sql, int nparams, const char *const *params,
                      const char *what, int *val);

/* Roll back the open or failed transaction, if any; best effort, never fails. */
void ocrq_db_rollback(struct ocrq_db *db);

#endif
