/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Prometheus text exposition format 0.0.4: HELP and TYPE once per family,
 * samples with escaped label values, histograms turned cumulative. Errors
 * are sticky so a renderer can write every line and check once at the end.
 */
#include "ocrq/prom.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocrq/dynbuf.h"
#include "ocrq/status.h"

#define NUM_MAX 64 /* a formatted number; "%.0f" of anything below 1e21 fits */

static const char *const type_names[] = {"counter", "gauge", "histogram"};

void ocrq_prom_init(struct ocrq_prom *p)
{
    memset(p, 0, sizeof *p);
    ocrq_dynbuf_init(&p->out, OCRQ_PROM_MAX_BYTES - 1); /* a NUL after it within the cap */
    ocrq_dynbuf_init(&p->names, OCRQ_PROM_MAX_BYTES - 1);
    p->cur_type = -1;
    p->st = OCRQ_OK;
}

void ocrq_prom_cleanup(struct ocrq_prom *p)
{
    if (!p)
        return;
    ocrq_dynbuf_free(&p->out);
    ocrq_dynbuf_free(&p->names);
    ocrq_prom_init(p);
}

int ocrq_prom_status(const struct ocrq_prom *p)
{
    return p->st;
}

static void fail(struct ocrq_prom *p, int st)
{
    if (p->st == OCRQ_OK)
        p->st = st;
}

/* Append n bytes of s to b; an error of b becomes the sticky error. Nonzero if appended. */
static int append(struct ocrq_prom *p, struct ocrq_dynbuf *b, const char *s, size_t n)
{
    if (p->st != OCRQ_OK)
        return 0;
    int st = ocrq_dynbuf_add(b, s, n);
    if (st != OCRQ_OK) {
        fail(p, st);
        return 0;
    }
    return 1;
}

static void put(struct ocrq_prom *p, const char *s, size_t n)
{
    append(p, &p->out, s, n);
}

static void put_str(struct ocrq_prom *p, const char *s)
{
    put(p, s, strlen(s));
}

/* s with backslash and newline escaped, and double quote too when quote is set. */
static void put_escaped(struct ocrq_prom *p, const char *s, int quote)
{
    const char *run = s;
    for (; *s; s++) {
        const char *esc = NULL;
        if (*s == '\\')
            esc = "\\\\";
        else if (*s == '\n')
            esc = "\\n";
        else if (*s == '"' && quote)
            esc = "\\\"";
        if (!esc)
            continue;
        put(p, run, (size_t)(s - run));
        put_str(p, esc);
        run = s + 1;
    }
    put(p, run, (size_t)(s - run));
}

static int name_ok(const char *s, int colon)
{
    if (!s || !*s || (s[0] >= '0' && s[0] <= '9'))
        return 0;
    for (; *s; s++) {
        char c = *s;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || (colon && c == ':');
        if (!ok)
            return 0;
    }
    return 1;
}

static int labels_ok(const struct ocrq_prom_label *labels, size_t n, int histogram)
{
    if (n > 0 && !labels)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = labels[i].name;
        if (!name_ok(name, 0) || strncmp(name, "__", 2) == 0)
            return 0;
        if (histogram && strcmp(name, "le") == 0)
            return 0;
    }
    return 1;
}

/*
 * v as Prometheus reads it: integral values without an exponent, others in
 * the shortest "%g" form that reads back as the same double. Assumes the C
 * locale's decimal point (ocrq never calls setlocale for LC_NUMERIC).
 */
static void fmt_double(char out[NUM_MAX], double v)
{
    if (isnan(v)) {
        strcpy(out, "NaN");
        return;
    }
    if (isinf(v)) {
        strcpy(out, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == 0) {
        strcpy(out, "0"); /* also -0 */
        return;
    }
    if (v == trunc(v) && fabs(v) < 1e21) {
        snprintf(out, NUM_MAX, "%.0f", v);
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, NUM_MAX, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

void ocrq_prom_family(struct ocrq_prom *p, const char *name, enum ocrq_prom_type type,
                      const char *help)
{
    if (p->st != OCRQ_OK)
        return;
    if (!name_ok(name, 1) || (int)type < 0 || type > OCRQ_PROM_HISTOGRAM) {
        fail(p, OCRQ_ERR_INVALID);
        return;
    }
    const char *names = ocrq_dynbuf_ptr(&p->names);
    size_t names_len = ocrq_dynbuf_len(&p->names);
    for (size_t off = 0; off < names_len; off += strlen(names + off) + 1) {
        if (strcmp(names + off, name) == 0) {
            fail(p, OCRQ_ERR_INVALID);
            return;
        }
    }
    size_t at = names_len;
    if (!append(p, &p->names, name, strlen(name) + 1)) /* with its NUL */
        return;
    p->cur = at;
    p->cur_type = (int)type;

    if (help) {
        put_str(p, "# HELP ");
        put_str(p, name);
        put_str(p, " ");
        put_escaped(p, help, 0);
        put_str(p, "\n");
    }
    put_str(p, "# TYPE ");
    put_str(p, name);
    put_str(p, " ");
    put_str(p, type_names[type]);
    put_str(p, "\n");
}

/* The current family's name; the pointer is good until the next declaration. */
static const char *family(const struct ocrq_prom *p)
{
    return ocrq_dynbuf_ptr(&p->names) + p->cur;
}

/* One line: family name + suffix, {labels and le}, value. le may be NULL. */
static void put_line(struct ocrq_prom *p, const char *suffix, const struct ocrq_prom_label *labels,
                     size_t n, const char *le, const char *value)
{
    put_str(p, family(p));
    put_str(p, suffix);
    if (n > 0 || le) {
        put_str(p, "{");
        for (size_t i = 0; i < n; i++) {
            if (i > 0)
                put_str(p, ",");
            put_str(p, labels[i].name);
            put_str(p, "=\"");
            put_escaped(p, labels[i].value ? labels[i].value : "", 1);
            put_str(p, "\"");
        }
        if (le) {
            put_str(p, n > 0 ? ",le=\"" : "le=\"");
            put_str(p, le);
            put_str(p, "\"");
        }
        put_str(p, "}");
    }
    put_str(p, " ");
    put_str(p, value);
    put_str(p, "\n");
}

/* A counter or gauge sample with its value already formatted. */
static void scalar(struct ocrq_prom *p, const struct ocrq_prom_label *labels, size_t n,
                   const char *value)
{
    if (p->st != OCRQ_OK)
        return;
    if (p->cur_type != OCRQ_PROM_COUNTER && p->cur_type != OCRQ_PROM_GAUGE) {
        fail(p, OCRQ_ERR_INVALID);
        return;
    }
    if (!labels_ok(labels, n, 0)) {
        fail(p, OCRQ_ERR_INVALID);
        return;
    }
    put_line(p, "", labels, n, NULL, value);
}

void ocrq_prom_uint(struct ocrq_prom *p, const struct ocrq_prom_label *labels, size_t n, uint64_t v)
{
    char num[NUM_MAX];
    snprintf(num, sizeof num, "%llu", (unsigned long long)v);
    scalar(p, labels, n, num);
}

void ocrq_prom_int(struct ocrq_prom *p, const struct ocrq_prom_label *labels, size_t n, int64_t v)
{
    char num[NUM_MAX];
    snprintf(num, sizeof num, "%lld", (long long)v);
    scalar(p, labels, n, num);
}

void ocrq_prom_double(struct ocrq_prom *p, const struct ocrq_prom_label *labels, size_t n, double v)
{
    char num[NUM_MAX];
    fmt_double(num, v);
    scalar(p, labels, n, num);
}

void ocrq_prom_histogram(struct ocrq_prom *p, const struct ocrq_prom_label *labels, size_t n,
                         const struct ocrq_prom_hist *h)
{
    if (p->st != OCRQ_OK)
        return;
    if (p->cur_type != OCRQ_PROM_HISTOGRAM || !h || !h->buckets ||
        (h->n_bounds > 0 && !h->bounds) || !labels_ok(labels, n, 1)) {
        fail(p, OCRQ_ERR_INVALID);
        return;
    }
    for (size_t i = 0; i < h->n_bounds; i++) {
        if (!isfinite(h->bounds[i]) || (i > 0 && !(h->bounds[i] > h->bounds[i - 1]))) {
            fail(p, OCRQ_ERR_INVALID);
            return;
        }
    }

    char le[NUM_MAX], num[NUM_MAX];
    uint64_t total = 0;
    for (size_t i = 0; i <= h->n_bounds; i++) {
        total += h->buckets[i];
        if (i < h->n_bounds)
            fmt_double(le, h->bounds[i]);
        else
            strcpy(le, "+Inf");
        snprintf(num, sizeof num, "%llu", (unsigned long long)total);
        put_line(p, "_bucket", labels, n, le, num);
    }
    fmt_double(num, h->sum);
    put_line(p, "_sum", labels, n, NULL, num);
    snprintf(num, sizeof num, "%llu", (unsigned long long)total);
    put_line(p, "_count", labels, n, NULL, num);
}

int ocrq_prom_finish(struct ocrq_prom *p, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    int st = p->st;
    if (st == OCRQ_OK) {
        *out = ocrq_dynbuf_take(&p->out, len); /* an empty text is still a string */
        if (!*out)
            st = OCRQ_ERR_NOMEM;
    }
    ocrq_prom_cleanup(p);
    return st;
}
