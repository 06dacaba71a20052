/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * One status code for all of libocrq: OCRQ_OK is 0, errors are negative.
 * Wrappers translate their library's errors into these once, log the
 * detail once, and return the code.
 */
#ifndef OCRQ_STATUS_H
#define OCRQ_STATUS_H

enum ocrq_status {
    OCRQ_OK = 0,
    OCRQ_ERR_NOMEM = -1,       /* allocation failed */
    OCRQ_ERR_INVALID = -2,     /* bad argument or input */
    OCRQ_ERR_CONFIG = -3,      /* bad configuration */
    OCRQ_ERR_IO = -4,          /* local file or system call failed */
    OCRQ_ERR_MQ = -5,          /* broker unreachable, connection or channel lost */
    OCRQ_ERR_DB = -6,          /* database unreachable or query failed */
    OCRQ_ERR_BAD_JOB = -7,     /* malformed job message */
    OCRQ_ERR_TOO_LARGE = -8,   /* over a configured size or pixel cap */
    OCRQ_ERR_DECODE = -9,      /* document could not be decoded */
    OCRQ_ERR_LANG = -10,       /* language not installed */
    OCRQ_ERR_FETCH = -11,      /* document fetch failed (transient) */
    OCRQ_ERR_PATH = -12,       /* path refused: outside roots, escape, not a file */
    OCRQ_ERR_TIMEOUT = -13,    /* an operation ran past its deadline */
    OCRQ_ERR_NACKED = -14,     /* broker nacked or returned a publish */
    OCRQ_ERR_EMPTY = -15,      /* nothing there: empty queue, no row */
    OCRQ_ERR_OCR = -16,        /* the OCR engine failed */
    OCRQ_ERR_NOT_FOUND = -17,  /* no such thing */
    OCRQ_ERR_FETCH_PERM = -18, /* document fetch failed permanently (4xx, refused URL) */
};

/* A short static description of st; never NULL. Thread-safe. */
const char *ocrq_strerror(int st);

/*
 * The stable error code stored in ocr_jobs.error_code for st
 * ("decode", "too_large", ...); never NULL. Thread-safe.
 */
const char *ocrq_error_code(int st);

#endif
