/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests for worker/take.c: the take rule's decision for one round trip
 * (ocrq_take_choose), given what the gets on the normal and the priority
 * queue returned. The broker calls around it are covered by test_priority.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ocrq/mq.h"
#include "ocrq/status.h"
#include "take.h"

static struct ocrq_mq_msg normal_msg = {.queue = "ocr.jobs"};
static struct ocrq_mq_msg prio_msg = {.queue = "ocr.jobs.priority"};

/* ocrq_take_choose() with hand_back preset to a value it must overwrite. */
static enum ocrq_take_pick choose(const struct ocrq_mq_msg *normal, int st_normal,
                                  const struct ocrq_mq_msg *prio, int st_prio, int *hand_back)
{
    *hand_back = -1;
    return ocrq_take_choose(normal, st_normal, prio, st_prio, hand_back);
}

static void only_normal_starts_normal(void **state)
{
    (void)state;
    int back;
    assert_int_equal(choose(&normal_msg, OCRQ_OK, NULL, OCRQ_ERR_EMPTY, &back), OCRQ_TAKE_NORMAL);
    assert_int_equal(back, 0);
}

static void only_priority_starts_priority(void **state)
{
    (void)state;
    int back;
    assert_int_equal(choose(NULL, OCRQ_ERR_EMPTY, &prio_msg, OCRQ_OK, &back), OCRQ_TAKE_PRIORITY);
    assert_int_equal(back, 0);
}

static void both_start_priority_and_hand_back_normal(void **state)
{
    (void)state;
    int back;
    assert_int_equal(choose(&normal_msg, OCRQ_OK, &prio_msg, OCRQ_OK, &back), OCRQ_TAKE_PRIORITY);
    assert_int_equal(back, 1);
}

static void neither_goes_idle(void **state)
{
    (void)state;
    int back;
    assert_int_equal(choose(NULL, OCRQ_ERR_EMPTY, NULL, OCRQ_ERR_EMPTY, &back), OCRQ_TAKE_IDLE);
    assert_int_equal(back, 0);
}

/* A message over the size cap was dead-lettered by the get: more may be behind it. */
static void too_large_looks_again(void **state)
{
    (void)state;
    int back;
    assert_int_equal(choose(NULL, OCRQ_ERR_TOO_LARGE, NULL, OCRQ_ERR_EMPTY, &back),
                     OCRQ_TAKE_AGAIN);
    assert_int_equal(back, 0);
    assert_int_equal(choose(NULL, OCRQ_ERR_EMPTY, NULL, OCRQ_ERR_TOO_LARGE, &back),
                     OCRQ_TAKE_AGAIN);
    assert_int_equal(back, 0);
    assert_int_equal(choose(NULL, OCRQ_ERR_TOO_LARGE, NULL, OCRQ_ERR_TOO_LARGE, &back),
                     OCRQ_TAKE_AGAIN);
    assert_int_equal(back, 0);
}

/* A message taken beside one dead-lettered for size is started at once. */
static void too_large_beside_a_message_starts_it(void **state)
{
    (void)state;
    int back;
    assert_int_equal(choose(&normal_msg, OCRQ_OK, NULL, OCRQ_ERR_TOO_LARGE, &back),
                     OCRQ_TAKE_NORMAL);
    assert_int_equal(back, 0);
    assert_int_equal(choose(NULL, OCRQ_ERR_TOO_LARGE, &prio_msg, OCRQ_OK, &back),
                     OCRQ_TAKE_PRIORITY);
    assert_int_equal(back, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(only_normal_starts_normal),
        cmocka_unit_test(only_priority_starts_priority),
        cmocka_unit_test(both_start_priority_and_hand_back_normal),
        cmocka_unit_test(neither_goes_idle),
        cmocka_unit_test(too_large_looks_again),
        cmocka_unit_test(too_large_beside_a_message_starts_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
