/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests for common/uuid.c: generated UUIDs are well-formed lowercase
 * version 4 UUIDs and do not repeat; the syntax check accepts exactly 8-4-4-4-12.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ocrq/status.h"
#include "ocrq/uuid.h"

#define N_MANY 1000

static void new_is_lowercase_v4(void **state)
{
    (void)state;
    char id[OCRQ_UUID_LEN + 1];
    for (int n = 0; n < 100; n++) {
        memset(id, 'x', sizeof id);
        assert_int_equal(ocrq_uuid_new(id), OCRQ_OK);
        assert_int_equal(strlen(id), OCRQ_UUID_LEN);
        assert_true(ocrq_uuid_valid(id));
        for (int i = 0; i < OCRQ_UUID_LEN; i++)
            assert_null(strchr("ABCDEF", id[i]));
        assert_int_equal(id[14], '4');           /* version */
        assert_non_null(strchr("89ab", id[19])); /* RFC 4122 variant */
    }
}

static int cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void new_does_not_repeat(void **state)
{
    (void)state;
    char(*ids)[OCRQ_UUID_LEN + 1] = calloc(N_MANY, sizeof *ids);
    assert_non_null(ids);
    for (int i = 0; i < N_MANY; i++)
        assert_int_equal(ocrq_uuid_new(ids[i]), OCRQ_OK);
    qsort(ids, N_MANY, sizeof *ids, cmp);
    for (int i = 1; i < N_MANY; i++)
        assert_string_not_equal(ids[i - 1], ids[i]);
    free(ids);
}

static void valid_accepts_any_version_and_case(void **state)
{
    (void)state;
    assert_true(ocrq_uuid_valid("123e4567-e89b-12d3-a456-426614174000")); /* v1 */
    assert_true(ocrq_uuid_valid("00000000-0000-0000-0000-000000000000"));
    assert_true(ocrq_uuid_valid("F47AC10B-58CC-4372-A567-0E02B2C3D479"));
    assert_true(ocrq_uuid_valid("f47ac10b-58cc-4372-a567-0e02b2c3d479"));
}

static void valid_rejects_malformed(void **state)
{
    (void)state;
    assert_false(ocrq_uuid_valid(NULL));
    assert_false(ocrq_uuid_valid(""));
    assert_false(ocrq_uuid_valid("f47ac10b-58cc-4372-a567-0e02b2c3d47"));   /* short */
    assert_false(ocrq_uuid_valid("f47ac10b-58cc-4372-a567-0e02b2c3d4790")); /* long */
    assert_false(ocrq_uuid_valid("f47ac10b-58cc-4372-a567-0e02b2c3d47 "));
    assert_false(ocrq_uuid_valid("f47ac10b58cc-4372-a567-0e02b2c3d479-")); /* dash moved */
    assert_false(ocrq_uuid_valid("f47ac10bx58cc-4372-a567-0e02b2c3d479"));
    assert_false(ocrq_uuid_valid("g47ac10b-58cc-4372-a567-0e02b2c3d479")); /* not hex */
    assert_false(ocrq_uuid_valid("{f47ac10b-58cc-4372-a567-0e02b2c3d47}"));
    assert_false(ocrq_uuid_valid("f47ac10b58cc4372a5670e02b2c3d479")); /* no dashes */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(new_is_lowercase_v4),
        cmocka_unit_test(new_does_not_repeat),
        cmocka_unit_test(valid_accepts_any_version_and_case),
        cmocka_unit_test(valid_rejects_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
