/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests for common/prom.c: the Prometheus text format 0.0.4 as
 * Prometheus parses it: HELP and TYPE once per family, escaped label values
 * and help text, number formats, cumulative histogram buckets with +Inf,
 * _sum and _count, and errors that stick until finish.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocrq/prom.h"
#include "ocrq/status.h"

/* Finish p, expect OCRQ_OK and exactly want. */
static void expect_text(struct ocrq_prom *p, const char *want)
{
    char *text = NULL;
    size_t len = 99;
    assert_int_equal(ocrq_prom_finish(p, &text, &len), OCRQ_OK);
    assert_non_null(text);
    assert_string_equal(text, want);
    assert_int_equal(len, strlen(want));
    free(text);
}

/* Finish p, expect the error st and no text. */
static void expect_error(struct ocrq_prom *p, int st)
{
    char *text = (char *)"x";
    size_t len = 99;
    assert_int_equal(ocrq_prom_finish(p, &text, &len), st);
    assert_null(text);
    assert_int_equal(len, 0);
}

static void counter_and_gauge(void **state)
{
    (void)state;
    struct ocrq_prom p;
    ocrq_prom_init(&p);
    struct ocrq_prom_label ok = {"outcome", "succeeded"};
    struct ocrq_prom_label bad = {"outcome", "failed"};
    ocrq_prom_family(&p, "ocrq_jobs_total", OCRQ_PROM_COUNTER, "Jobs finished.");
    ocrq_prom_uint(&p, &ok, 1, 18446744073709551615ull);
    ocrq_prom_uint(&p, &bad, 1, 0);
    ocrq_prom_family(&p, "ocrq_children", OCRQ_PROM_GAUGE, "Running.");
    ocrq_prom_int(&p, NULL, 0, -3);
    expect_text(&p, "# HELP ocrq_jobs_total Jobs finished.\n"
                    "# TYPE ocrq_jobs_total counter\n"
                    "ocrq_jobs_total{outcome=\"succeeded\"} 18446744073709551615\n"
                    "ocrq_jobs_total{outcome=\"failed\"} 0\n"
                    "# HELP ocrq_children Running.\n"
                    "# TYPE ocrq_children gauge\n"
                    "ocrq_children -3\n");
}

static void help_type_once_per_family(void **state)
{
    (void)state;
    struct ocrq_prom p;
    ocrq_prom_init(&p);
    ocrq_prom_family(&p, "a", OCRQ_PROM_GAUGE, "A.");
    for (int i = 0; i < 3; i++)
        ocrq_prom_int(&p, NULL, 0, i);
    ocrq_prom_family(&p, "b", OCRQ_PROM_GAUGE, NULL); /* no HELP line */
    ocrq_prom_int(&p, NULL, 0, 7);
    expect_text(&p, "# HELP a A.\n# TYPE a gauge\na 0\na 1\na 2\n# TYPE b gauge\nb 7\n");

    /* a family declared again would split its samples: refused */
    ocrq_prom_init(&p);
    ocrq_prom_family(&p, "a", OCRQ_PROM_GAUGE, "A.");
    ocrq_prom_family(&p, "b", OCRQ_PROM_GAUGE, "B.");
    ocrq_prom_family(&p, "a", OCRQ_PROM_GAUGE, "A.");
    assert_int_equal(ocrq_prom_status(&p), OCRQ_ERR_INVALID);
    expect_error(&p, OCRQ_ERR_INVALID);
}

static void label_values_escaped(void **state)
{
    (void)state;
    struct ocrq_prom p;
    ocrq_prom_init(&p);
    struct ocrq_prom_label l[2] = {{"queue", "a\\b\"c\nd"}, {"empty", NULL}};
    ocrq_prom_family(&p, "q", OCRQ_PROM_GAUGE, "Back\\slash \"quotes\"\nnewline.");
    ocrq_prom_int(&p, l, 2, 1);
    /* HELP escapes backslash and newline only; label values also the double quote */
    expect_text(&p, "# HELP q Back\\\\slash \"quotes\"\\nnewline.\n"
                    "# TYPE q gauge\n"
                    "q{queue=\"a\\\\b\\\"c\\nd\",empty=\"\"} 1\n");
}

/* The value column of the one sample written for v. */
static void expect_double(double v, const char *want)
{
    struct ocrq_prom p;
    char *text = NULL;
    size_t len = 0;
    ocrq_prom_init(&p);
    ocrq_prom_family(&p, "x", OCRQ_PROM_GAUGE, NULL);
    ocrq_prom_double(&p, NULL, 0, v);
    assert_int_equal(ocrq_prom_finish(&p, &text, &len), OCRQ_OK);
    const char *prefix = "# TYPE x gauge\nx ";
    assert_int_equal(strncmp(text, prefix, strlen(prefix)), 0);
    char *value = text + strlen(prefix);
    value[strcspn(value, "\n")] = '\0';
    assert_string_equal(value, want);
    free(text);
}

static void numbers(void **state)
{
    (void)state;
    expect_double(0, "0");
    expect_double(-0.0, "0");
    expect_double(1, "1");
    expect_double(-42, "-42");
    expect_double(1e17, "100000000000000000"); /* integral: no exponent */
    expect_double(9007199254740993.0, "9007199254740992");
    expect_double(0.05, "0.05");
    expect_double(2.5, "2.5");
    expect_double(0.1 + 0.2, "0.30000000000000004"); /* shortest that reads back */
    expect_double(1.0 / 3, "0.3333333333333333");
    expect_double(1e-7, "1e-07");
    expect_double(1e300, "1e+300");
    expect_double(1e21, "1e+21");
    expect_double(123456.75, "123456.75");
    expect_double(INFINITY, "+Inf");
    expect_double(-INFINITY, "-Inf");
    expect_double(NAN, "NaN");
}

static const double bounds[3] = {0.05, 1, 2.5};

static void histogram_cumulative(void **state)
{
    (void)state;
    struct ocrq_prom p;
    const uint64_t buckets[4] = {2, 0, 3, 1}; /* not cumulative; last is +Inf */
    struct ocrq_prom_hist h = {.bounds = bounds, .n_bounds = 3, .buckets = buckets, .sum = 12.25};
    ocrq_prom_init(&p);
    ocrq_prom_family(&p, "d_seconds", OCRQ_PROM_HISTOGRAM, "D.");
    ocrq_prom_histogram(&p, NULL, 0, &h);
    expect_text(&p, "# HELP d_seconds D.\n"
                    "# TYPE d_seconds histogram\n"
                    "d_seconds_bucket{le=\"0.05\"} 2\n"
                    "d_seconds_bucket{le=\"1\"} 2\n"
                    "d_seconds_bucket{le=\"2.5\"} 5\n"
                    "d_seconds_bucket{le=\"+Inf\"} 6\n"
                    "d_seconds_sum 12.25\n"
                    "d_seconds_count 6\n");
}

static void histogram_labels_on_every_line(void **state)
{
    (void)state;
    struct ocrq_prom p;
    const uint64_t buckets[4] = {0, 0, 0, 0};
    struct ocrq_prom_hist h = {.bounds = bounds, .n_bounds = 3, .buckets = buckets, .sum = 0};
    struct ocrq_prom_label l = {"child", "0"};
    ocrq_prom_init(&p);
    ocrq_prom_family(&p, "d", OCRQ_PROM_HISTOGRAM, NULL);
    ocrq_prom_histogram(&p, &l, 1, &h);
    l.value = "1";
    ocrq_prom_histogram(&p, &l, 1, &h);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(ocrq_prom_finish(&p, &text, &len), OCRQ_OK);
    assert_non_null(strstr(text, "d_bucket{child=\"0\",le=\"0.05\"} 0\n"));
    assert_non_null(strstr(text, "d_bucket{child=\"1\",le=\"+Inf\"} 0\n"));
    assert_non_null(strstr(text, "d_sum{child=\"0\"} 0\nd_count{child=\"0\"} 0\n"));
    assert_non_null(strstr(text, "d_sum{child=\"1\"} 0\nd_count{child=\"1\"} 0\n"));
    /* 1 TYPE line + 2 × (4 buckets + sum + count) */
    int lines = 0;
    for (const char *c = text; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, 13);
    free(text);
}

static void invalid_uses_stick(void **state)
{
    (void)state;
    struct ocrq_prom p;
    struct ocrq_prom_label le = {"le", "1"};
    struct ocrq_prom_label dunder = {"__name", "1"};
    struct ocrq_prom_label dash = {"a-b", "1"};
    const uint64_t buckets[4] = {0};
    struct ocrq_prom_hist h = {.bounds = bounds, .n_bounds = 3, .buckets = buckets};

    ocrq_prom_init(&p); /* a sample before any family */
    ocrq_prom_int(&p, NULL, 0, 1);
    expect_error(&p, OCRQ_ERR_INVALID);

    ocrq_prom_init(&p); /* bad metric name; later calls do nothing */
    ocrq_prom_family(&p, "9lives", OCRQ_PROM_GAUGE, NULL);
    ocrq_prom_family(&p, "fine", OCRQ_PROM_GAUGE, NULL);
    ocrq_prom_int(&p, NULL, 0, 1);
    expect_error(&p, OCRQ_ERR_INVALID);

    ocrq_prom_init(&p); /* reserved and malformed label names */
    ocrq_prom_family(&p, "g", OCRQ_PROM_GAUGE, NULL);
    ocrq_prom_int(&p, &dunder, 1, 1);
    expect_error(&p, OCRQ_ERR_INVALID);
    ocrq_prom_init(&p);
    ocrq_prom_family(&p, "g", OCRQ_PROM_GAUGE, NULL);
    ocrq_prom_int(&p, &dash, 1, 1);
    expect_error(&p, OCRQ_ERR_INVALID);

    ocrq_prom_init(&p); /* le is the histogram's own label */
    ocrq_prom_family(&p, "h", OCRQ_PROM_HISTOGRAM, NULL);
    ocrq_prom_histogram(&p, &le, 1, &h);
    expect_error(&p, OCRQ_ERR_INVALID);

    ocrq_prom_init(&p); /* a histogram sample in a gauge family, and the reverse */
    ocrq_prom_family(&p, "g", OCRQ_PROM_GAUGE, NULL);
    ocrq_prom_histogram(&p, NULL, 0, &h);
    expect_error(&p, OCRQ_ERR_INVALID);
    ocrq_prom_init(&p);
    ocrq_prom_family(&p, "h", OCRQ_PROM_HISTOGRAM, NULL);
    ocrq_prom_double(&p, NULL, 0, 1);
    expect_error(&p, OCRQ_ERR_INVALID);

    ocrq_prom_init(&p); /* bounds must ascend */
    const double down[3] = {1, 0.5, 2};
    h.bounds = down;
    ocrq_prom_family(&p, "h", OCRQ_PROM_HISTOGRAM, NULL);
    ocrq_prom_histogram(&p, NULL, 0, &h);
    expect_error(&p, OCRQ_ERR_INVALID);
}

static void empty_and_large(void **state)
{
    (void)state;
    struct ocrq_prom p;
    ocrq_prom_init(&p);
    expect_text(&p, ""); /* an empty page is still a string */

    /* many samples: the buffer grows past its first size, the text stays whole */
    ocrq_prom_init(&p);
    ocrq_prom_family(&p, "ocrq_child_rss_bytes", OCRQ_PROM_GAUGE, NULL);
    char child[16];
    struct ocrq_prom_label l = {"child", child};
    for (int k = 0; k < 2000; k++) {
        snprintf(child, sizeof child, "%d", k);
        ocrq_prom_int(&p, &l, 1, (int64_t)k * 4096);
    }
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(ocrq_prom_finish(&p, &text, &len), OCRQ_OK);
    assert_int_equal(strlen(text), len);
    assert_non_null(strstr(text, "ocrq_child_rss_bytes{child=\"0\"} 0\n"));
    assert_non_null(strstr(text, "ocrq_child_rss_bytes{child=\"1999\"} 8187904\n"));
    free(text);

    ocrq_prom_init(&p); /* cleanup frees an unfinished builder (ASan/valgrind check it) */
    ocrq_prom_family(&p, "g", OCRQ_PROM_GAUGE, "G.");
    ocrq_prom_cleanup(&p);
    ocrq_prom_cleanup(NULL);
}

int main(void)
{
    /* clang-format off */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counter_and_gauge),
        cmocka_unit_test(help_type_once_per_family),
        cmocka_unit_test(label_values_escaped),
        cmocka_unit_test(numbers),
        cmocka_unit_test(histogram_cumulative),
        cmocka_unit_test(histogram_labels_on_every_line),
        cmocka_unit_test(invalid_uses_stick),
        cmocka_unit_test(empty_and_large),
    };
    /* clang-format on */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
