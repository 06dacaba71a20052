/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Private to the job message modules: the field rules (job_rules.c) that
 * the codec (job.c) enforces when it encodes and when it decodes.
 */
#ifndef OCRQ_JOB_INTERNAL_H
#define OCRQ_JOB_INTERNAL_H

#include <stddef.h>

#include "ocrq/job.h"

/* Caps of the string fields, in bytes (the language's is OCRQ_MAX_LANG_LEN). */
#define CAP_SOURCE 1024
#define CAP_URL 4096
#define CAP_PATH 4096
#define CAP_BATCH 256
#define CAP_CONTENT_TYPE 255
#define CAP_TIMESTAMP 64

/* The optional and required top-level strings: one table for encode, decode and checks. */
struct str_field {
    const char *name;
    size_t off; /* of the char * in struct ocrq_job */
    size_t cap; /* bytes */
    int required;
    int (*check)(const char *s); /* NULL: any UTF-8 text */
    const char *rule;            /* the reason when check fails */
};

extern const struct str_field job_str_fields[];
extern const size_t job_n_str_fields;

static inline char **job_str_slot(struct ocrq_job *job, const struct str_field *f)
{
    return (char **)((char *)job + f->off);
}

static inline const char *job_str_value(const struct ocrq_job *job, const struct str_field *f)
{
    return *(char *const *)((const char *)job + f->off);
}

/* Write a reason into why (may be NULL) and return st. */
__attribute__((format(printf, 4, 5))) int job_fail(char *why, size_t whylen, int st,
                                                   const char *fmt, ...);

/*
 * The value checks shared by encode and decode; metadata is reparsed only if
 * check_metadata. Returns OCRQ_OK or OCRQ_ERR_BAD_JOB with a reason in why.
 */
int job_validate(const struct ocrq_job *job, int check_metadata, char *why, size_t whylen);

#endif
