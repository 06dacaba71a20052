/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests for common/sign.c: the Standard Webhooks 1.0 test vector, signing
 * with several secrets, secret parsing, the constant-time check and event ids.
 * Expected signatures other than the spec's were computed with Python's hmac
 * module, independently of OpenSSL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "ocrq/sign.h"
#include "ocrq/status.h"

/* The spec's example. */
static const char spec_secret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
static const char spec_id[] = "msg_p5jXN8AQM9LWM0D4loKWxJek";
static const long long spec_ts = 1614265330;
static const char spec_body[] = "{\"test\": 2432232314}";
static const char spec_sig[] = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

/* A second secret: the bytes 0x00..0x1f. */
static const char other_secret[] = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
/* python3: base64.b64encode(hmac.new(bytes(range(32)), b"msg_p5jXN8AQM9LWM0D4loKWxJek."
 *          b"1614265330." b'{"test": 2432232314}', hashlib.sha256).digest()) */
static const char other_sig[] = "v1,O4Gjv1HqPqsMrjmczoggs/sWA8gZD0VyHG+fLh4+ktI=";

static struct ocrq_secret parse_ok(const char *s)
{
    struct ocrq_secret k;
    const char *why = "sentinel";
    int rc = ocrq_sign_parse_secret(s, &k, &why);
    if (rc != OCRQ_OK)
        fail_msg("%s: %s", s, why);
    assert_null(why);
    return k;
}

static void spec_vector(void **state)
{
    (void)state;
    struct ocrq_secret k = parse_ok(spec_secret);
    char out[OCRQ_SIGNATURE_MAX(1)];
    assert_int_equal(k.len, 24);
    assert_int_equal(
        ocrq_sign(&k, 1, spec_id, spec_ts, spec_body, strlen(spec_body), out, sizeof out), OCRQ_OK);
    assert_string_equal(out, spec_sig);
}

static void two_secrets_two_signatures_in_order(void **state)
{
    (void)state;
    struct ocrq_secret k[2] = {parse_ok(spec_secret), parse_ok(other_secret)};
    char out[OCRQ_SIGNATURE_MAX(2)], want[2 * OCRQ_SIGNATURE_LEN];

    assert_int_equal(k[1].len, 32);
    assert_int_equal(
        ocrq_sign(k, 2, spec_id, spec_ts, spec_body, strlen(spec_body), out, sizeof out), OCRQ_OK);
    snprintf(want, sizeof want, "%s %s", spec_sig, other_sig);
    assert_string_equal(out, want);

    struct ocrq_secret swapped[2] = {k[1], k[0]};
    assert_int_equal(
        ocrq_sign(swapped, 2, spec_id, spec_ts, spec_body, strlen(spec_body), out, sizeof out),
        OCRQ_OK);
    snprintf(want, sizeof want, "%s %s", other_sig, spec_sig);
    assert_string_equal(out, want);
}

/* The buffer must hold every signature; a short one gets "" and an error, never a cut header. */
static void sign_refuses_bad_arguments(void **state)
{
    (void)state;
    struct ocrq_secret k[2] = {parse_ok(spec_secret), parse_ok(other_secret)};
    char out[OCRQ_SIGNATURE_MAX(2)];
    size_t blen = strlen(spec_body);

    memset(out, 'x', sizeof out);
    assert_int_equal(ocrq_sign(k, 2, spec_id, spec_ts, spec_body, blen, out, sizeof out - 1),
                     OCRQ_ERR_INVALID);
    assert_string_equal(out, "");
    assert_int_equal(ocrq_sign(k, 0, spec_id, spec_ts, spec_body, blen, out, sizeof out),
                     OCRQ_ERR_INVALID);
    assert_int_equal(
        ocrq_sign(k, OCRQ_SIGN_MAX_KEYS + 1, spec_id, spec_ts, spec_body, blen, out, sizeof out),
        OCRQ_ERR_INVALID);
    assert_int_equal(ocrq_sign(k, 1, NULL, spec_ts, spec_body, blen, out, sizeof out),
                     OCRQ_ERR_INVALID);
    assert_int_equal(ocrq_sign(k, 1, spec_id, spec_ts, NULL, 5, out, sizeof out), OCRQ_ERR_INVALID);
    /* an empty body is fine */
    assert_int_equal(ocrq_sign(k, 1, spec_id, spec_ts, NULL, 0, out, sizeof out), OCRQ_OK);
    assert_int_equal(strlen(out), OCRQ_SIGNATURE_LEN - 1);
}

static void expect_bad_secret(const char *s)
{
    struct ocrq_secret k;
    const char *why = NULL;
    memset(&k, 0xa5, sizeof k);
    if (ocrq_sign_parse_secret(s, &k, &why) != OCRQ_ERR_INVALID)
        fail_msg("secret \"%s\" was accepted", s ? s : "(null)");
    assert_non_null(why);
    assert_int_equal(k.len, 0);
    assert_int_equal(k.key[0], 0);
    /* the reason never quotes the secret */
    if (s && strlen(s) > 6)
        assert_null(strstr(why, s + 6));
}

static void bad_secrets_refused(void **state)
{
    (void)state;
    expect_bad_secret(NULL);
    expect_bad_secret("");
    expect_bad_secret("whsec_");                                 /* empty */
    expect_bad_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");       /* no prefix */
    expect_bad_secret("WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"); /* prefix is lowercase */
    expect_bad_secret("whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    expect_bad_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!");  /* not base64 */
    expect_bad_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw "); /* trailing space */
    expect_bad_secret("whsec_ MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    expect_bad_secret("whsec_MfKQ9r8GKYqr=TwjUPD8ILPZIo2LaLaSw");  /* '=' inside */
    expect_bad_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwA");  /* 33 characters: 6 bits left */
    expect_bad_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS==");  /* padding at a wrong length */
    expect_bad_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw-_"); /* base64url is not base64 */
    expect_bad_secret("whsec_c2VjcmV0");                           /* "secret": too short */
    expect_bad_secret("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRY=");   /* 23 bytes: one too few */
    /* 65 bytes: one too many */
    expect_bad_secret("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEy"
                      "MzQ1Njc4OTo7PD0+P0A=");
}

static void good_secrets_accepted(void **state)
{
    (void)state;
    struct ocrq_secret k;
    /* 64 bytes, the most the spec allows */
    k = parse_ok("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1"
                 "Njc4OTo7PD0+Pw==");
    assert_int_equal(k.len, 64);
    assert_int_equal(k.key[63], 63);
    /* 25 bytes, with and without padding: the same key */
    k = parse_ok("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGA==");
    assert_int_equal(k.len, 25);
    assert_int_equal(k.key[24], 24);
    k = parse_ok("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGA");
    assert_int_equal(k.len, 25);
    assert_int_equal(k.key[24], 24);
    k = parse_ok(other_secret);
    for (int i = 0; i < 32; i++)
        assert_int_equal(k.key[i], i);
}

static int verify(const struct ocrq_secret *keys, int n, const char *id, long long ts,
                  const char *body, const char *header)
{
    return ocrq_sign_verify(keys, n, id, ts, body, strlen(body), header);
}

static void verify_accepts_and_rejects(void **state)
{
    (void)state;
    struct ocrq_secret spec = parse_ok(spec_secret), other = parse_ok(other_secret);
    struct ocrq_secret both[2] = {spec, other};
    char header[OCRQ_SIGNATURE_MAX(2)];

    assert_int_equal(verify(&spec, 1, spec_id, spec_ts, spec_body, spec_sig), OCRQ_OK);
    assert_int_equal(verify(&other, 1, spec_id, spec_ts, spec_body, other_sig), OCRQ_OK);

    /* rotation: a header signed with both keys satisfies a receiver with either */
    assert_int_equal(
        ocrq_sign(both, 2, spec_id, spec_ts, spec_body, strlen(spec_body), header, sizeof header),
        OCRQ_OK);
    assert_int_equal(verify(&spec, 1, spec_id, spec_ts, spec_body, header), OCRQ_OK);
    assert_int_equal(verify(&other, 1, spec_id, spec_ts, spec_body, header), OCRQ_OK);
    /* and a receiver holding both keys accepts a header signed with one */
    assert_int_equal(verify(both, 2, spec_id, spec_ts, spec_body, other_sig), OCRQ_OK);
    /* other versions and extra blanks are skipped */
    assert_int_equal(verify(&spec, 1, spec_id, spec_ts, spec_body,
                            "v1a,abc  v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= "
                            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= "),
                     OCRQ_OK);

    /* tampered body, other key, other timestamp, other id */
    assert_int_equal(verify(&spec, 1, spec_id, spec_ts, "{\"test\": 2432232315}", spec_sig),
                     OCRQ_ERR_INVALID);
    assert_int_equal(verify(&spec, 1, spec_id, spec_ts, "", spec_sig), OCRQ_ERR_INVALID);
    assert_int_equal(verify(&other, 1, spec_id, spec_ts, spec_body, spec_sig), OCRQ_ERR_INVALID);
    assert_int_equal(verify(&spec, 1, spec_id, spec_ts + 1, spec_body, spec_sig), OCRQ_ERR_INVALID);
    assert_int_equal(verify(&spec, 1, "msg_p5jXN8AQM9LWM0D4loKWxJel", spec_ts, spec_body, spec_sig),
                     OCRQ_ERR_INVALID);
    /* bytes after a NUL in the body count */
    assert_int_equal(
        ocrq_sign_verify(&spec, 1, spec_id, spec_ts, "{\"test\": 2432232314}\0x", 22, spec_sig),
        OCRQ_ERR_INVALID);

    /* malformed headers */
    assert_int_equal(verify(&spec, 1, spec_id, spec_ts, spec_body, ""), OCRQ_ERR_INVALID);
    assert_int_equal(verify(&spec, 1, spec_id, spec_ts, spec_body, "v1,"), OCRQ_ERR_INVALID);
    assert_int_equal(verify(&spec, 1, spec_id, spec_ts, spec_body, spec_sig + 3),
                     OCRQ_ERR_INVALID); /* no "v1," */
    assert_int_equal(verify(&spec, 1, spec_id, spec_ts, spec_body,
                            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE"),
                     OCRQ_ERR_INVALID); /* cut short */
    assert_int_equal(verify(&spec, 1, spec_id, spec_ts, spec_body,
                            "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
                     OCRQ_ERR_INVALID); /* other version */
    assert_int_equal(verify(&spec, 1, spec_id, spec_ts, spec_body,
                            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=x"),
                     OCRQ_ERR_INVALID); /* one too many */
    assert_int_equal(
        ocrq_sign_verify(&spec, 1, spec_id, spec_ts, spec_body, strlen(spec_body), NULL),
        OCRQ_ERR_INVALID);
    assert_int_equal(verify(&spec, 0, spec_id, spec_ts, spec_body, spec_sig), OCRQ_ERR_INVALID);
}

static int is_base62(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static void event_ids(void **state)
{
    (void)state;
    char a[OCRQ_EVENT_ID_SIZE], b[OCRQ_EVENT_ID_SIZE];
    int seen[62] = {0};

    assert_int_equal(ocrq_sign_event_id(a, sizeof a), OCRQ_OK);
    assert_int_equal(strlen(a), 4 + OCRQ_EVENT_ID_CHARS);
    assert_true(OCRQ_EVENT_ID_CHARS >= 24);
    assert_memory_equal(a, "msg_", 4);
    for (int round = 0; round < 200; round++) {
        assert_int_equal(ocrq_sign_event_id(b, sizeof b), OCRQ_OK);
        assert_string_not_equal(a, b);
        assert_memory_equal(b, "msg_", 4);
        for (size_t i = 4; b[i]; i++) {
            assert_true(is_base62(b[i]));
            const char *digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
            seen[strchr(digits, b[i]) - digits] = 1;
        }
    }
    /* 4,800 draws: every one of the 62 characters turns up (a test of the alphabet, not of chance)
     */
    for (int i = 0; i < 62; i++)
        assert_true(seen[i]);

    memset(b, 'x', sizeof b);
    assert_int_equal(ocrq_sign_event_id(b, sizeof b - 1), OCRQ_ERR_INVALID);
    assert_string_equal(b, "");
}

/* API keys: a new key has the shape parse accepts, its id, and the SHA-256 of the whole key. */
static void apikey_new_and_parse(void **state)
{
    (void)state;
    char key[OCRQ_KEY_CHARS + 1], id[OCRQ_KEY_ID_CHARS + 1], hash[65], id2[OCRQ_KEY_ID_CHARS + 1];
    char key2[OCRQ_KEY_CHARS + 1], hash2[65], bad[OCRQ_KEY_CHARS + 1];

    assert_int_equal(ocrq_apikey_new(key, id, hash), OCRQ_OK);
    assert_int_equal(strlen(key), OCRQ_KEY_CHARS);
    assert_memory_equal(key, "ocrq_", 5);
    assert_memory_equal(key + 5, id, OCRQ_KEY_ID_CHARS);
    assert_int_equal(ocrq_sha256_hex(key, strlen(key), hash2), OCRQ_OK);
    assert_string_equal(hash, hash2);
    assert_true(ocrq_apikey_parse(key, strlen(key), id2));
    assert_string_equal(id, id2);
    assert_int_equal(ocrq_apikey_new(key2, id2, hash2), OCRQ_OK);
    assert_string_not_equal(key, key2);

    assert_false(ocrq_apikey_parse(key, strlen(key) - 1, id2)); /* too short */
    memcpy(bad, key, sizeof bad);
    bad[0] = 'x'; /* prefix */
    assert_false(ocrq_apikey_parse(bad, strlen(bad), id2));
    memcpy(bad, key, sizeof bad);
    bad[5 + OCRQ_KEY_ID_CHARS] = '-'; /* separator */
    assert_false(ocrq_apikey_parse(bad, strlen(bad), id2));
    memcpy(bad, key, sizeof bad);
    bad[OCRQ_KEY_CHARS - 1] = '+'; /* not base62 */
    assert_false(ocrq_apikey_parse(bad, strlen(bad), id2));
}

/* The secret apikey create and rotate-secret make: well formed, and new each time. */
static void test_new_secret(void **state)
{
    (void)state;
    char a[OCRQ_NEW_SECRET_SIZE], b[OCRQ_NEW_SECRET_SIZE];
    struct ocrq_secret k;
    const char *why = NULL;

    assert_int_equal(ocrq_sign_new_secret(a), OCRQ_OK);
    assert_int_equal(ocrq_sign_new_secret(b), OCRQ_OK);
    assert_int_equal(strlen(a), OCRQ_NEW_SECRET_SIZE - 1);
    assert_memory_equal(a, "whsec_", 6);
    assert_string_not_equal(a, b);
    assert_int_equal(ocrq_sign_parse_secret(a, &k, &why), OCRQ_OK);
    assert_int_equal(k.len, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(apikey_new_and_parse),
        cmocka_unit_test(spec_vector),
        cmocka_unit_test(two_secrets_two_signatures_in_order),
        cmocka_unit_test(sign_refuses_bad_arguments),
        cmocka_unit_test(bad_secrets_refused),
        cmocka_unit_test(good_secrets_accepted),
        cmocka_unit_test(verify_accepts_and_rejects),
        cmocka_unit_test(event_ids),
        cmocka_unit_test(test_new_secret),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
