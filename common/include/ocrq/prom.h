/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A builder for the Prometheus text exposition format 0.0.4 in a growable
 * malloc'd buffer. Declare a family (HELP and TYPE, once), then write its
 * samples; the first error (out of memory, a bad name, a family declared
 * twice) sticks, later calls do nothing, and ocrq_prom_finish() reports it,
 * like a stream. Not thread-safe: one builder per thread.
 *
 *   struct ocrq_prom p;
 *   ocrq_prom_init(&p);
 *   ocrq_prom_family(&p, "ocrq_children", OCRQ_PROM_GAUGE, "OCR processes running now.");
 *   ocrq_prom_int(&p, NULL, 0, 4);
 *   int st = ocrq_prom_finish(&p, &text, &len);
 */
#ifndef OCRQ_PROM_H
#define OCRQ_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "ocrq/dynbuf.h"

/* The most text one builder makes; past it, OCRQ_ERR_TOO_LARGE. */
#define OCRQ_PROM_MAX_BYTES ((size_t)16 << 20)

enum ocrq_prom_type {
    OCRQ_PROM_COUNTER,
    OCRQ_PROM_GAUGE,
    OCRQ_PROM_HISTOGRAM,
};

/* One label of a sample; both borrowed. The value is escaped on output. */
struct ocrq_prom_label {
    const char *name;  /* [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" */
    const char *value; /* any UTF-8 text; NULL reads as "" */
};

/* One histogram, as the caller keeps it: bucket counts that are NOT cumulative. */
struct ocrq_prom_hist {
    const double *bounds; /* n_bounds finite upper bounds (inclusive), ascending */
    size_t n_bounds;
    const uint64_t *buckets; /* n_bounds + 1 counts; the last one is the +Inf bucket */
    double sum;              /* sum of the observations, in the metric's unit (seconds) */
};

/* The builder: set up with ocrq_prom_init(); its fields are private. */
struct ocrq_prom {
    struct ocrq_dynbuf out;   /* the text so far */
    struct ocrq_dynbuf names; /* families declared so far, each NUL-terminated */
    size_t cur;               /* offset in names of the current family */
    int cur_type;             /* its enum ocrq_prom_type; -1: none declared yet */
    int st;                   /* the first error, sticky; OCRQ_OK while none */
};

/* An empty builder. Allocates nothing. */
void ocrq_prom_init(struct ocrq_prom *p);

/* Free what p holds (when not handed over by ocrq_prom_finish()); p can be reused after init. */
void ocrq_prom_cleanup(struct ocrq_prom *p);

/*
 * Start the family name ([a-zA-Z_:][a-zA-Z0-9_:]*): writes its HELP line
 * (help escaped; NULL: no HELP line) and its TYPE line. The samples that
 * follow belong to it. Declaring a name a second time fails with
 * OCRQ_ERR_INVALID: the format wants a family's samples together.
 */
void ocrq_prom_family(struct ocrq_prom *p, const char *name, enum ocrq_prom_type type,
                      const char *help);

/*
 * One sample of the current counter or gauge family, with n labels (labels
 * may be NULL when n is 0). Three spellings of the value; doubles print in
 * their shortest exact form, integral ones without an exponent, and NaN and
 * infinities as NaN, +Inf, -Inf.
 */
void ocrq_prom_uint(struct ocrq_prom *p, const struct ocrq_prom_label *labels, size_t n,
                    uint64_t v);
void ocrq_prom_int(struct ocrq_prom *p, const struct ocrq_prom_label *labels, size_t n, int64_t v);
void ocrq_prom_double(struct ocrq_prom *p, const struct ocrq_prom_label *labels, size_t n,
                      double v);

/*
 * One histogram of the current histogram family: `_bucket` lines with
 * cumulative counts for each bound and for le="+Inf", then `_sum` and
 * `_count` (the +Inf total, so the two always agree). The n labels go on
 * every line, before le; a label named "le" fails with OCRQ_ERR_INVALID.
 */
void ocrq_prom_histogram(struct ocrq_prom *p, const struct ocrq_prom_label *labels, size_t n,
                         const struct ocrq_prom_hist *h);

/* The sticky status so far: OCRQ_OK, OCRQ_ERR_NOMEM, OCRQ_ERR_INVALID or OCRQ_ERR_TOO_LARGE. */
int ocrq_prom_status(const struct ocrq_prom *p);

/*
 * End the text. On OCRQ_OK, *out is the malloc'd, NUL-terminated text (the
 * caller frees it) and *len its length without the NUL; otherwise the sticky
 * error comes back, *out is NULL and *len 0. Either way p is left empty.
 */
int ocrq_prom_finish(struct ocrq_prom *p, char **out, size_t *len);

#endif
