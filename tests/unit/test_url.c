/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests for common/url.c: which URLs the one URL check takes, and
 * what a logged URL still shows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ocrq/status.h"
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

/* ocrq_url_check(url, kinds) is OCRQ_OK, or refused with the reason want. */
static void check(const char *url, unsigned kinds, const char *want)
{
    const char *why = "not cleared";
    int st = ocrq_url_check(url, kinds, &why);
    if (!want) {
        if (st != OCRQ_OK)
            fail_msg("%s refused: %s", url, why);
        assert_null(why);
        return;
    }
    if (st != OCRQ_ERR_INVALID)
        fail_msg("%s accepted, want refused (%s)", url, want);
    assert_string_equal(why, want);
}

#define HTTP_RULE "must be an http:// or https:// URL"
#define MALFORMED "is not a well-formed URL (no spaces or control characters, a valid host)"

static void test_check_http(void **state)
{
    (void)state;
    check("http://example.com/doc.png", OCRQ_URL_HTTP, NULL);
    check("HTTPS://example.com", OCRQ_URL_HTTP, NULL); /* the scheme in any case, as curl */
    check("https://user:pw@hooks.example:8443/in?token=a#f", OCRQ_URL_HTTP, NULL);
    check("http://[::1]:8080/x", OCRQ_URL_HTTP, NULL);
    check("http://127.0.0.1/caf\xc3\xa9.png", OCRQ_URL_HTTP, NULL);
    check("ftp://example.com/x", OCRQ_URL_HTTP, HTTP_RULE);
    check("example.com/x", OCRQ_URL_HTTP, HTTP_RULE);
    check("", OCRQ_URL_HTTP, HTTP_RULE);
    check(NULL, OCRQ_URL_HTTP, HTTP_RULE);
    check("amqp://h/", OCRQ_URL_HTTP, HTTP_RULE);
    check("http://", OCRQ_URL_HTTP, "must name a host, e.g. http://host/path");
    check("http:///path", OCRQ_URL_HTTP, "must name a host, e.g. http://host/path");
    check("http://h:99999/", OCRQ_URL_HTTP, "has a port that is not a number up to 65535");
    check("http://h/a b", OCRQ_URL_HTTP, MALFORMED);
    check("http://h/a\nb", OCRQ_URL_HTTP, MALFORMED);
    check("http://h/\x7f", OCRQ_URL_HTTP, MALFORMED);
}

/* Issue 16: amqps:// is refused where the config is checked, not at connect time. */
static void test_check_amqp(void **state)
{
    (void)state;
    check("amqp://guest:guest@127.0.0.1:5682/", OCRQ_URL_AMQP, NULL);
    check("amqp://a:b@10.0.0.1:5672/%2F", OCRQ_URL_AMQP, NULL);
    check("amqp://", OCRQ_URL_AMQP, NULL); /* rabbitmq-c: localhost */
    check("amqps://guest:guest@mq:5671/", OCRQ_URL_AMQP,
          "amqps:// (TLS to the broker) is not supported: use amqp://");
    check("http://mq/", OCRQ_URL_AMQP, "must be an amqp:// URL");
    check("amqp://mq:65536/", OCRQ_URL_AMQP, "has a port that is not a number up to 65535");
}

static void test_scheme_is(void **state)
{
    (void)state;
    assert_true(ocrq_url_scheme_is("http://x", OCRQ_URL_HTTP));
    assert_true(ocrq_url_scheme_is("Https://", OCRQ_URL_HTTP));
    assert_false(ocrq_url_scheme_is("http:/x", OCRQ_URL_HTTP));
    assert_false(ocrq_url_scheme_is("./http://x", OCRQ_URL_HTTP));
    assert_false(ocrq_url_scheme_is("amqp://x", OCRQ_URL_HTTP));
    assert_true(ocrq_url_scheme_is("amqp://x", OCRQ_URL_AMQP));
    assert_false(ocrq_url_scheme_is(NULL, OCRQ_URL_HTTP));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_http),
        cmocka_unit_test(test_check_amqp),
        cmocka_unit_test(test_scheme_is),
        cmocka_unit_test(test_password_only),
        cmocka_unit_test(test_webhook_url_logged_redacted),
        cmocka_unit_test(test_small_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
