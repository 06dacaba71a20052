/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests for common/netguard.c and netguard_curl.c: the SSRF corpus at the
 * address level, the allow-list and its syntax, and the guard on a libcurl
 * handle. The libcurl cases use numeric hosts only (no DNS) and a listener
 * of our own on 127.0.0.1 to show which connections are made.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <curl/curl.h>

#include "ocrq/netguard.h"
#include "ocrq/status.h"

/* Check the address text addr against g; the reason, if any, goes to why. */
static int check(const struct ocrq_netguard *g, const char *addr, char *why, size_t whylen)
{
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;

    memset(&sin, 0, sizeof sin);
    memset(&sin6, 0, sizeof sin6);
    if (inet_pton(AF_INET, addr, &sin.sin_addr) == 1) {
        sin.sin_family = AF_INET;
        sin.sin_port = htons(80);
        return ocrq_netguard_check(g, (const struct sockaddr *)&sin, sizeof sin, why, whylen);
    }
    if (inet_pton(AF_INET6, addr, &sin6.sin6_addr) == 1) {
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons(80);
        return ocrq_netguard_check(g, (const struct sockaddr *)&sin6, sizeof sin6, why, whylen);
    }
    fail_msg("test bug: %s is not an address", addr);
    return -1;
}

static void expect_refused(const struct ocrq_netguard *g, const char *addr)
{
    char why[OCRQ_NETGUARD_WHY_LEN] = "";
    if (check(g, addr, why, sizeof why) != OCRQ_ERR_INVALID)
        fail_msg("%s was allowed", addr);
    /* the reason starts with the address: "<addr> is ..." */
    if (strncmp(why, addr, strlen(addr)) != 0 || strncmp(why + strlen(addr), " is ", 4) != 0)
        fail_msg("%s: odd reason \"%s\"", addr, why);
}

static void expect_allowed(const struct ocrq_netguard *g, const char *addr)
{
    char why[OCRQ_NETGUARD_WHY_LEN] = "sentinel";
    if (check(g, addr, why, sizeof why) != OCRQ_OK)
        fail_msg("%s was refused: %s", addr, why);
    assert_string_equal(why, "");
}

static void expect_reason(const struct ocrq_netguard *g, const char *addr, const char *want)
{
    char why[OCRQ_NETGUARD_WHY_LEN] = "";
    assert_int_equal(check(g, addr, why, sizeof why), OCRQ_ERR_INVALID);
    assert_string_equal(why, want);
}

static void guard_of(struct ocrq_netguard *g, const char *const *entries, int n)
{
    char why[256];
    if (ocrq_netguard_init(g, entries, n, why, sizeof why) != OCRQ_OK)
        fail_msg("allow-list refused: %s", why);
}

/* Every form of an internal address in the corpus is refused with no allow-list. */
static void ssrf_corpus_refused(void **state)
{
    (void)state;
    static const char *const corpus[] = {
        "127.0.0.1",
        "127.1.2.3",
        "127.255.255.255",
        "0.0.0.0",
        "0.1.2.3",
        "10.1.2.3",
        "10.0.0.0",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "169.254.0.1",
        "100.64.0.1",
        "100.127.255.255",
        "224.0.0.1",
        "239.255.255.250",
        "255.255.255.255",
        "240.0.0.1",
        "192.0.2.1",
        "198.51.100.7",
        "203.0.113.9",
        "198.18.0.1",
        "192.0.0.8",
        "::1",
        "::",
        "fe80::1",
        "febf::1",
        "fec0::1",
        "fc00::1",
        "fd12::1",
        "fdff:ffff::1",
        "ff02::1",
        "ff0e::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "::ffff:0.0.0.0",
        "::127.0.0.1",
        "::10.0.0.1",
        "::2",
        "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b:1::1",
        "::ffff:0:7f00:1",
        "2002:7f00:1::1",
        "2002:a00:1::",
        "2001::1",
        "2001:db8::1",
        "100::1",
    };
    for (size_t i = 0; i < sizeof corpus / sizeof corpus[0]; i++) {
        expect_refused(NULL, corpus[i]);
        struct ocrq_netguard empty;
        guard_of(&empty, NULL, 0);
        expect_refused(&empty, corpus[i]);
    }
}

static void public_addresses_allowed(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "8.8.8.8",
        "1.1.1.1",
        "2606:4700::1111",
        "172.32.0.1",
        "172.15.255.255",
        "100.128.0.1",
        "100.63.255.255",
        "169.255.0.1",
        "11.0.0.1",
        "192.169.0.1",
        "223.255.255.255",
        "126.255.255.255",
        "128.0.0.1",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
        "2001:4860:4860::8888",
        "2a00:1450::1",
        "fbff::1",
        "fe7f::1",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        expect_allowed(NULL, ok[i]);
}

/* The reasons the logs show. */
static void reasons(void **state)
{
    (void)state;
    expect_reason(NULL, "127.0.0.1", "127.0.0.1 is a loopback address");
    expect_reason(NULL, "::1", "::1 is a loopback address");
    expect_reason(NULL, "169.254.169.254", "169.254.169.254 is a link-local address");
    expect_reason(NULL, "10.1.2.3", "10.1.2.3 is a private address");
    expect_reason(NULL, "100.64.0.1", "100.64.0.1 is a shared (CGNAT) address");
    expect_reason(NULL, "255.255.255.255", "255.255.255.255 is the broadcast address");
    expect_reason(NULL, "224.0.0.1", "224.0.0.1 is a multicast address");
    expect_reason(NULL, "0.0.0.0", "0.0.0.0 is an unspecified address");
    expect_reason(NULL, "::", ":: is an unspecified address");
    expect_reason(NULL, "fd12::1", "fd12::1 is a unique-local address");
    expect_reason(NULL, "fe80::1", "fe80::1 is a link-local address");
    expect_reason(NULL, "ff02::1", "ff02::1 is a multicast address");
    expect_reason(NULL, "::ffff:127.0.0.1",
                  "::ffff:127.0.0.1 is a loopback address (the IPv4-mapped form of 127.0.0.1)");
    expect_reason(NULL, "::127.0.0.1",
                  "::127.0.0.1 is a loopback address (the IPv4-compatible form of 127.0.0.1)");
    expect_reason(NULL, "64:ff9b::7f00:1",
                  "64:ff9b::7f00:1 is a loopback address (the NAT64 form of 127.0.0.1)");
    expect_reason(NULL, "2002:a9fe:a9fe::1",
                  "2002:a9fe:a9fe::1 is a link-local address (the 6to4 form of 169.254.169.254)");
}

static void allow_one_address(void **state)
{
    (void)state;
    static const char *const list[] = {"127.0.0.1"};
    struct ocrq_netguard g;
    guard_of(&g, list, 1);
    expect_allowed(&g, "127.0.0.1");
    expect_allowed(&g, "::ffff:127.0.0.1"); /* the same address */
    expect_allowed(&g, "::127.0.0.1");      /* carries it */
    expect_refused(&g, "127.0.0.2");
    expect_refused(&g, "127.0.1.1");
    expect_refused(&g, "::1");
    expect_refused(&g, "10.0.0.1");
    expect_refused(&g, "169.254.169.254");
    expect_allowed(&g, "8.8.8.8");
}

static void allow_ranges(void **state)
{
    (void)state;
    static const char *const list[] = {"10.0.0.0/8", "::1", "fd00::/8", "192.168.1.0/24"};
    struct ocrq_netguard g;
    guard_of(&g, list, 4);
    expect_allowed(&g, "10.0.0.0");
    expect_allowed(&g, "10.1.2.3");
    expect_allowed(&g, "10.255.255.255");
    expect_allowed(&g, "::ffff:10.9.8.7");
    expect_allowed(&g, "::1");
    expect_allowed(&g, "fd00::1");
    expect_allowed(&g, "fdff:ffff::1");
    expect_allowed(&g, "192.168.1.200");
    expect_refused(&g, "192.168.2.1");
    expect_refused(&g, "fc00::1");
    expect_refused(&g, "172.16.0.1");
    expect_refused(&g, "127.0.0.1");
    expect_refused(&g, "::2"); /* ::0.0.0.2 */

    static const char *const everything[] = {"0.0.0.0/0", "::/0"};
    guard_of(&g, everything, 2);
    expect_allowed(&g, "127.0.0.1");
    expect_allowed(&g, "ff02::1");
    expect_allowed(&g, "169.254.169.254");
}

static void expect_bad_entry(const char *s)
{
    struct ocrq_cidr c;
    const char *why = NULL;
    memset(&c, 0xa5, sizeof c);
    if (ocrq_netguard_parse_cidr(s, &c, &why) != OCRQ_ERR_INVALID)
        fail_msg("allow-list entry \"%s\" was accepted", s ? s : "(null)");
    assert_non_null(why);
    assert_int_equal(c.bits, 0);
    assert_int_equal(c.addr[0], 0);
}

static void bad_entries_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "10.0.0.0/33",
        "abc",
        "1.2.3.4/",
        "::1/129",
        "",
        "/8",
        "10.1.2.3/8",
        "fd12::1/8",
        "0x7f.1",
        "2130706433",
        "127.1",
        "[::1]",
        " 127.0.0.1",
        "127.0.0.1 ",
        "1.2.3.4/-1",
        "1.2.3.4/+8",
        "1.2.3.4/8x",
        "1.2.3.4/ 8",
        "1.2.3.4/32/1",
        "fe80::1%eth0",
        "1.2.3.4/99999999999",
        "localhost",
        "1.2.3.4.5",
        "256.0.0.1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_bad_entry(bad[i]);
    expect_bad_entry(NULL);

    const char *why = NULL;
    struct ocrq_cidr c;
    assert_int_equal(ocrq_netguard_parse_cidr("10.0.0.0/33", &c, &why), OCRQ_ERR_INVALID);
    assert_string_equal(why, "the prefix length after '/' must be 0 to 32 for IPv4");
    assert_int_equal(ocrq_netguard_parse_cidr("::1/129", &c, &why), OCRQ_ERR_INVALID);
    assert_string_equal(why, "the prefix length after '/' must be 0 to 128 for IPv6");
}

static void good_entries_accepted(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int bits; /* IPv4: + 96 */
    } good[] = {
        {"127.0.0.1", 128},
        {"10.0.0.0/8", 104},
        {"0.0.0.0/0", 96},
        {"1.2.3.4/32", 128},
        {"::1", 128},
        {"fd00::/8", 8},
        {"::/0", 0},
        {"::1/128", 128},
        {"fe80::/10", 10},
        {"10.0.0.0/08", 104},
        {"::ffff:10.0.0.0/104", 104},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        struct ocrq_cidr c;
        const char *why = "sentinel";
        if (ocrq_netguard_parse_cidr(good[i].s, &c, &why) != OCRQ_OK)
            fail_msg("%s refused: %s", good[i].s, why);
        assert_null(why);
        assert_int_equal(c.bits, good[i].bits);
    }
}

static void init_errors(void **state)
{
    (void)state;
    struct ocrq_netguard g;
    char why[256];
    static const char *const list[] = {"127.0.0.1", "abc"};
    assert_int_equal(ocrq_netguard_init(&g, list, 2, why, sizeof why), OCRQ_ERR_INVALID);
    assert_int_equal(g.n_allow, 0);
    assert_string_equal(why, "abc: must be an IP address or CIDR range, e.g. \"127.0.0.1\", "
                             "\"10.0.0.0/8\" or \"fd00::/8\"");

    const char *many[OCRQ_NETGUARD_MAX_ALLOW + 1];
    for (int i = 0; i <= OCRQ_NETGUARD_MAX_ALLOW; i++)
        many[i] = "10.0.0.0/8";
    assert_int_equal(ocrq_netguard_init(&g, many, OCRQ_NETGUARD_MAX_ALLOW, why, sizeof why),
                     OCRQ_OK);
    assert_int_equal(g.n_allow, OCRQ_NETGUARD_MAX_ALLOW);
    assert_int_equal(ocrq_netguard_init(&g, many, OCRQ_NETGUARD_MAX_ALLOW + 1, why, sizeof why),
                     OCRQ_ERR_INVALID);
    assert_int_equal(g.n_allow, 0);
}

static void other_families_refused(void **state)
{
    (void)state;
    struct sockaddr_un sun;
    struct sockaddr_in sin;
    char why[OCRQ_NETGUARD_WHY_LEN];

    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    assert_int_equal(
        ocrq_netguard_check(NULL, (const struct sockaddr *)&sun, sizeof sun, why, sizeof why),
        OCRQ_ERR_INVALID);
    assert_true(why[0] != '\0');
    /* a sockaddr shorter than its family needs */
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    inet_pton(AF_INET, "8.8.8.8", &sin.sin_addr);
    assert_int_equal(ocrq_netguard_check(NULL, (const struct sockaddr *)&sin, 4, why, sizeof why),
                     OCRQ_ERR_INVALID);
    assert_int_equal(ocrq_netguard_check(NULL, NULL, 0, why, sizeof why), OCRQ_ERR_INVALID);
}

/* A listening TCP socket on 127.0.0.1 (non-blocking accept); its port in *port. */
static int listener(int *port)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(fd >= 0);
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(listen(fd, 8), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    *port = ntohs(sin.sin_port);
    return fd;
}

/* Connections that reached the listener so far. */
static int accepted(int fd)
{
    int n = 0, c;
    while ((c = accept(fd, NULL, NULL)) >= 0) {
        close(c);
        n++;
    }
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    return n;
}

/* Connect (only) to url through a guarded handle; returns the libcurl result. */
static CURLcode guarded_connect(const struct ocrq_netguard *g, const char *url,
                                struct ocrq_netguard_result *res)
{
    CURL *h = curl_easy_init();
    assert_non_null(h);
    assert_int_equal(ocrq_netguard_curl_apply(h, g, res), OCRQ_OK);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_cleanup(h);
    return rc;
}

/*
 * Through libcurl: every spelling of a loopback host is refused at the socket,
 * a listener on 127.0.0.1 sees no connection, and with the allow-list it does.
 */
static void curl_handle_guarded(void **state)
{
    (void)state;
    struct ocrq_netguard_result res;
    char url[128];
    int port;
    int fd = listener(&port);
    static const char *const hosts[] = {"127.0.0.1",  "2130706433", "0x7f.1",
                                        "0177.0.0.1", "127.1",      "[::ffff:127.0.0.1]"};

    for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
        snprintf(url, sizeof url, "http://%s:%d/", hosts[i], port);
        CURLcode rc = guarded_connect(NULL, url, &res);
        if (rc != CURLE_COULDNT_CONNECT || res.refused < 1)
            fail_msg("%s: curl %d, %d refused", url, (int)rc, res.refused);
        assert_string_equal(res.why, strchr(hosts[i], '[')
                                         ? "::ffff:127.0.0.1 is a loopback address (the "
                                           "IPv4-mapped form of 127.0.0.1)"
                                         : "127.0.0.1 is a loopback address");
    }
    assert_int_equal(accepted(fd), 0);

    static const char *const list[] = {"127.0.0.1"};
    struct ocrq_netguard g;
    guard_of(&g, list, 1);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    assert_int_equal(guarded_connect(&g, url, &res), CURLE_OK);
    assert_int_equal(res.refused, 0);
    assert_string_equal(res.why, "");
    assert_int_equal(accepted(fd), 1);
    close(fd);
}

/* Proxies from the environment are not used: the target itself is checked. */
static void curl_ignores_proxy_variables(void **state)
{
    (void)state;
    struct ocrq_netguard_result res;
    setenv("http_proxy", "http://127.0.0.2:1", 1);
    setenv("HTTPS_PROXY", "http://127.0.0.2:1", 1);
    setenv("ALL_PROXY", "http://127.0.0.2:1", 1);
    assert_int_equal(guarded_connect(NULL, "http://127.0.0.1:1/", &res), CURLE_COULDNT_CONNECT);
    assert_string_equal(res.why, "127.0.0.1 is a loopback address");
    unsetenv("http_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("ALL_PROXY");
}

static void curl_only_http(void **state)
{
    (void)state;
    struct ocrq_netguard_result res;
    static const char *const urls[] = {"file:///etc/passwd", "ftp://8.8.8.8/",
                                       "gopher://127.0.0.1:70/", "dict://127.0.0.1:11211/"};
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        CURLcode rc = guarded_connect(NULL, urls[i], &res);
        if (rc != CURLE_UNSUPPORTED_PROTOCOL)
            fail_msg("%s: curl %d", urls[i], (int)rc);
        assert_int_equal(res.refused, 0);
    }
}

static int setup(void **state)
{
    (void)state;
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    curl_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ssrf_corpus_refused),
        cmocka_unit_test(public_addresses_allowed),
        cmocka_unit_test(reasons),
        cmocka_unit_test(allow_one_address),
        cmocka_unit_test(allow_ranges),
        cmocka_unit_test(bad_entries_refused),
        cmocka_unit_test(good_entries_accepted),
        cmocka_unit_test(init_errors),
        cmocka_unit_test(other_families_refused),
        cmocka_unit_test(curl_handle_guarded),
        cmocka_unit_test(curl_ignores_proxy_variables),
        cmocka_unit_test(curl_only_http),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
