/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests for common/url.c: what a logged URL still shows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ocrq/url.h"

static void expect(const char *url, int flags, const char *want)
{
    char buf[256];
    ocrq_url_redact(url, buf, sizeof buf, flags);
    assert_string_equal(buf, want);
}

static void test_password_only(void **state)
{
    (void)state;
    expect("amqp://guest:guest@127.0.0.1:5682/", 0, "amqp://guest:***@127.0.0.1:5682/");
    expect("postgresql://ocrq@db:5432/ocrq", 0, "postgresql://ocrq@db:5432/ocrq");
    expect("postgresql://db/ocrq?password=x", 0, "postgresql://db/ocrq?password=x");
    expect("http://h/p@q", 0, "http://h/p@q"); /* an @ after the host is not a user part */
}

/* Issue 14, finding 8: a webhook URL is logged without its credentials or tokens. */
static void test_webhook_url_logged_redacted(void **state)
{
    (void)state;
    expect("https://user:s3cret@hooks.example/in?token=abc#frag", OCRQ_URL_SECRETS,
           "https://***@hooks.example/in?***");
    expect("https://tok3n@hooks.example/in", OCRQ_URL_SECRETS, "https://***@hooks.example/in");
    expect("https://hooks.example/in#k=v", OCRQ_URL_SECRETS, "https://hooks.example/in#***");
    expect("https://hooks.example/in", OCRQ_URL_SECRETS, "https://hooks.example/in");
    expect("https://hooks.example?x=1", OCRQ_URL_SECRETS, "https://hooks.example?***");
}

static void test_small_buffer(void **state)
{
    (void)state;
    char buf[12];
    ocrq_url_redact("https://user:pw@hooks.example/in?token=abc", buf, sizeof buf,
                    OCRQ_URL_SECRETS);
    assert_int_equal(strlen(buf), sizeof buf - 1);
    assert_null(strstr(buf, "pw"));
    ocrq_url_redact(NULL, buf, sizeof buf, 0);
    assert_string_equal(buf, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_only),
        cmocka_unit_test(test_webhook_url_logged_redacted),
        cmocka_unit_test(test_small_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
