/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests of the webhook retry schedule (worker/webhook_schedule.c): which
 * entry of webhooks.retry_schedule_s each retry waits, the ±10% jitter, and
 * when the receiver's Retry-After wins.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "ocrq/config.h"
#include "webhook_schedule.h"

#define DRAWS 2000 /* calls per case: the jitter's range shows */

/* A config whose schedule is waits[0..n-1]. */
static struct ocrq_config schedule(const int *waits, int n)
{
    struct ocrq_config cfg = {0};
    for (int i = 0; i < n; i++)
        cfg.webhook_retry_s[i] = waits[i];
    cfg.n_webhook_retry_s = n;
    return cfg;
}

/* Retry round_attempt waits base ±10% (and both ends of that range come up). */
static void assert_jittered(const struct ocrq_config *cfg, int round_attempt, double base)
{
    double lo = base * 2, hi = 0;
    for (int k = 0; k < DRAWS; k++) {
        double s = ocrq_webhook_retry_in_s(cfg, round_attempt, 0);
        assert_true(s >= base * 0.9 - 1e-9);
        assert_true(s <= base * 1.1 + 1e-9);
        lo = s < lo ? s : lo;
        hi = s > hi ? s : hi;
    }
    /* not a constant: the jitter spreads retries over most of the range */
    assert_true(lo < base * 0.95);
    assert_true(hi > base * 1.05);
}

static void each_retry_waits_its_entry(void **state)
{
    const int waits[] = {10, 60, 300, 1800};
    struct ocrq_config cfg = schedule(waits, 4);
    (void)state;
    srandom(1);
    for (int r = 1; r <= 4; r++)
        assert_jittered(&cfg, r, waits[r - 1]);
}

static void past_the_list_the_last_entry(void **state)
{
    const int waits[] = {5, 7};
    struct ocrq_config cfg = schedule(waits, 2);
    (void)state;
    srandom(2);
    assert_jittered(&cfg, 3, 7);
    assert_jittered(&cfg, 30, 7);
    const int one[] = {42};
    cfg = schedule(one, 1);
    assert_jittered(&cfg, 1, 42);
    assert_jittered(&cfg, 2, 42);
}

static void longer_retry_after_wins(void **state)
{
    const int waits[] = {10};
    struct ocrq_config cfg = schedule(waits, 1);
    (void)state;
    srandom(3);
    assert_true(ocrq_webhook_retry_in_s(&cfg, 1, 120) == 120.0);
    assert_true(ocrq_webhook_retry_in_s(&cfg, 1, OCRQ_WEBHOOK_MAX_RETRY_AFTER_S) ==
                (double)OCRQ_WEBHOOK_MAX_RETRY_AFTER_S);
    /* 12 s is longer than any jittered 10 s (9 to 11 s): always 12 s */
    for (int k = 0; k < DRAWS; k++)
        assert_true(ocrq_webhook_retry_in_s(&cfg, 1, 12) == 12.0);
    /* 10 s is longer than some of them: the longer of the two */
    for (int k = 0; k < DRAWS; k++) {
        double s = ocrq_webhook_retry_in_s(&cfg, 1, 10);
        assert_true(s >= 10.0);
        assert_true(s <= 11.0 + 1e-9);
    }
}

static void shorter_or_absurd_retry_after_ignored(void **state)
{
    const int waits[] = {100};
    struct ocrq_config cfg = schedule(waits, 1);
    (void)state;
    srandom(4);
    for (int k = 0; k < DRAWS; k++) {
        /* shorter than the schedule, none, negative, more than a week: the schedule's wait */
        const long long after[] = {1, 89, 0, -5, OCRQ_WEBHOOK_MAX_RETRY_AFTER_S + 1, 1LL << 40};
        for (size_t i = 0; i < sizeof after / sizeof after[0]; i++) {
            double s = ocrq_webhook_retry_in_s(&cfg, 1, after[i]);
            assert_true(s >= 90.0 - 1e-9);
            assert_true(s <= 110.0 + 1e-9);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_retry_waits_its_entry),
        cmocka_unit_test(past_the_list_the_last_entry),
        cmocka_unit_test(longer_retry_after_wins),
        cmocka_unit_test(shorter_or_absurd_retry_after_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
