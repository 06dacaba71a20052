/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Standard Webhooks 1.0 signing with OpenSSL: secrets "whsec_<base64>",
 * HMAC-SHA256 over "{id}.{timestamp}.{body}" sent as "v1,<base64>" per key,
 * a constant-time check of such a header, and random "msg_..." event ids.
 */
#include "ocrq/sign.h"

#include "ocrq/random.h"
#include "ocrq/status.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#define MAC_BYTES 32   /* SHA-256 */
#define MAC_B64_LEN 44 /* base64 of 32 bytes, padded */

static const char prefix[] = "whsec_";

/* Value of one standard base64 character, or -1. */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/*
 * Decode standard base64 (padding optional, nothing else allowed) into
 * out[0..cap-1]. Returns the byte count, -1 on bad input, -2 if over cap.
 */
static long b64_decode(const char *s, unsigned char *out, size_t cap)
{
    size_t n = strlen(s), pad = 0, len = 0;
    unsigned acc = 0;
    int bits = 0;

    if (n >= 1 && s[n - 1] == '=')
        pad++;
    if (n >= 2 && s[n - 2] == '=')
        pad++;
    if (pad && n % 4 != 0)
        return -1;
    n -= pad;
    if (n % 4 == 1)
        return -1; /* 6 bits cannot end a byte */
    for (size_t i = 0; i < n; i++) {
        int v = b64_value((unsigned char)s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (len == cap)
                return -2;
            out[len++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return (long)len;
}

/* Parse "whsec_<base64>" into *out; *why gets a static reason on error. Thread-safe. */
int ocrq_sign_parse_secret(const char *s, struct ocrq_secret *out, const char **why)
{
    long n;

    memset(out, 0, sizeof *out);
    *why = NULL;
    if (!s || strncmp(s, prefix, sizeof prefix - 1) != 0) {
        *why = "must start with \"whsec_\"";
        return OCRQ_ERR_INVALID;
    }
    s += sizeof prefix - 1;
    n = b64_decode(s, out->key, sizeof out->key);
    if (s[0] == '\0') {
        *why = "the key after \"whsec_\" is empty";
    } else if (n == -2) {
        *why = "the key must be at most 64 bytes";
    } else if (n < 0) {
        *why = "the part after \"whsec_\" must be base64";
    } else if (n < OCRQ_SECRET_MIN_BYTES) {
        *why = "the key must be at least 24 bytes (32 base64 characters)";
    } else {
        out->len = (size_t)n;
        return OCRQ_OK;
    }
    memset(out, 0, sizeof *out);
    return OCRQ_ERR_INVALID;
}

/* HMAC-SHA256 of "<id>.<ts>.<body>" under each key, base64 into sig[i] (45 bytes each). */
static int compute(const struct ocrq_secret *keys, int n, const char *msg_id, long long timestamp,
                   const char *body, size_t len, char (*sig)[MAC_B64_LEN + 1])
{
    char digest[] = OSSL_DIGEST_NAME_SHA2_256;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    EVP_MAC *mac = NULL;
    EVP_MAC_CTX *ctx = NULL;
    char ts[32];
    unsigned char md[MAC_BYTES];
    size_t mdlen;
    int st = OCRQ_ERR_NOMEM;

    snprintf(ts, sizeof ts, ".%lld.", timestamp);
    mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
    if (!mac)
        goto out;
    ctx = EVP_MAC_CTX_new(mac);
    if (!ctx)
        goto out;
    for (int i = 0; i < n; i++) {
        if (!EVP_MAC_init(ctx, keys[i].key, keys[i].len, params) ||
            !EVP_MAC_update(ctx, (const unsigned char *)msg_id, strlen(msg_id)) ||
            !EVP_MAC_update(ctx, (const unsigned char *)ts, strlen(ts)) ||
            (len > 0 && !EVP_MAC_update(ctx, (const unsigned char *)body, len)) ||
            !EVP_MAC_final(ctx, md, &mdlen, sizeof md) || mdlen != MAC_BYTES)
            goto out;
        EVP_EncodeBlock((unsigned char *)sig[i], md, MAC_BYTES);
    }
    st = OCRQ_OK;
out:
    OPENSSL_cleanse(md, sizeof md);
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return st;
}

/* Write "v1,<sig> v1,<sig>..." for keys[0..n-1] into out. Thread-safe. */
int ocrq_sign(const struct ocrq_secret *keys, int n, const char *msg_id, long long timestamp,
              const char *body, size_t len, char *out, size_t outlen)
{
    char sig[OCRQ_SIGN_MAX_KEYS][MAC_B64_LEN + 1];
    size_t used = 0;
    int st;

    if (out && outlen)
        out[0] = '\0';
    if (!keys || n < 1 || n > OCRQ_SIGN_MAX_KEYS || !msg_id || (!body && len > 0) || !out ||
        outlen < OCRQ_SIGNATURE_MAX(n))
        return OCRQ_ERR_INVALID;
    st = compute(keys, n, msg_id, timestamp, body, len, sig);
    if (st != OCRQ_OK)
        return st;
    for (int i = 0; i < n; i++)
        used += (size_t)snprintf(out + used, outlen - used, "%sv1,%s", i ? " " : "", sig[i]);
    return OCRQ_OK;
}

/* OCRQ_OK if one "v1,<sig>" entry of header matches one of the keys. Thread-safe. */
int ocrq_sign_verify(const struct ocrq_secret *keys, int n, const char *msg_id, long long timestamp,
                     const char *body, size_t len, const char *header)
{
    char sig[OCRQ_SIGN_MAX_KEYS][MAC_B64_LEN + 1];
    int found = 0;

    if (!keys || n < 1 || n > OCRQ_SIGN_MAX_KEYS || !msg_id || (!body && len > 0) || !header)
        return OCRQ_ERR_INVALID;
    if (compute(keys, n, msg_id, timestamp, body, len, sig) != OCRQ_OK)
        return OCRQ_ERR_INVALID;
    for (const char *p = header; *p;) {
        while (*p == ' ')
            p++;
        const char *end = strchrnul(p, ' ');
        if (end - p == 3 + MAC_B64_LEN && strncmp(p, "v1,", 3) == 0)
            for (int i = 0; i < n; i++)
                found |= CRYPTO_memcmp(p + 3, sig[i], MAC_B64_LEN) == 0;
        p = end;
    }
    return found ? OCRQ_OK : OCRQ_ERR_INVALID;
}

int ocrq_sign_new_secret(char out[OCRQ_NEW_SECRET_SIZE])
{
    unsigned char key[32];

    out[0] = '\0';
    if (ocrq_random_bytes(key, sizeof key) != OCRQ_OK)
        return OCRQ_ERR_IO;
    memcpy(out, prefix, sizeof prefix - 1);
    EVP_EncodeBlock((unsigned char *)out + sizeof prefix - 1, key, (int)sizeof key);
    OPENSSL_cleanse(key, sizeof key);
    return OCRQ_OK;
}

int ocrq_sign_event_id(char *out, size_t outlen)
{
    if (out && outlen)
        out[0] = '\0';
    if (!out || outlen < OCRQ_EVENT_ID_SIZE)
        return OCRQ_ERR_INVALID;
    memcpy(out, "msg_", 4);
    if (ocrq_random_base62(out + 4, OCRQ_EVENT_ID_CHARS) != OCRQ_OK) {
        out[0] = '\0';
        return OCRQ_ERR_IO;
    }
    out[4 + OCRQ_EVENT_ID_CHARS] = '\0';
    return OCRQ_OK;
}

int ocrq_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;

    out[0] = '\0';
    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != sizeof md)
        return OCRQ_ERR_NOMEM;
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return OCRQ_OK;
}

struct ocrq_sha256 *ocrq_sha256_new(void)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        ctx = NULL;
    }
    return (struct ocrq_sha256 *)ctx;
}

int ocrq_sha256_update(struct ocrq_sha256 *ctx, const void *data, size_t len)
{
    return EVP_DigestUpdate((EVP_MD_CTX *)ctx, data, len) == 1 ? OCRQ_OK : OCRQ_ERR_NOMEM;
}

int ocrq_sha256_final(struct ocrq_sha256 *ctx, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    int st = OCRQ_ERR_NOMEM;

    out[0] = '\0';
    if (EVP_DigestFinal_ex((EVP_MD_CTX *)ctx, md, &mdlen) == 1 && mdlen == sizeof md) {
        for (unsigned i = 0; i < mdlen; i++)
            snprintf(out + 2 * i, 3, "%02x", md[i]);
        st = OCRQ_OK;
    }
    EVP_MD_CTX_free((EVP_MD_CTX *)ctx);
    return st;
}

void ocrq_sha256_free(struct ocrq_sha256 *ctx)
{
    EVP_MD_CTX_free((EVP_MD_CTX *)ctx);
}

static int is_base62(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]))
            return 0;
    return 1;
}

int ocrq_apikey_new(char *key, char *id, char hash[65])
{
    memcpy(key, "ocrq_", 5);
    key[5 + OCRQ_KEY_ID_CHARS] = '_';
    key[OCRQ_KEY_CHARS] = '\0';
    if (ocrq_random_base62(key + 5, OCRQ_KEY_ID_CHARS) != OCRQ_OK ||
        ocrq_random_base62(key + 6 + OCRQ_KEY_ID_CHARS, OCRQ_KEY_SECRET_CHARS) != OCRQ_OK)
        return OCRQ_ERR_IO;
    memcpy(id, key + 5, OCRQ_KEY_ID_CHARS);
    id[OCRQ_KEY_ID_CHARS] = '\0';
    return ocrq_sha256_hex(key, OCRQ_KEY_CHARS, hash);
}

int ocrq_apikey_parse(const char *key, size_t len, char *id)
{
    if (len != OCRQ_KEY_CHARS || memcmp(key, "ocrq_", 5) != 0 ||
        key[5 + OCRQ_KEY_ID_CHARS] != '_' || !is_base62(key + 5, OCRQ_KEY_ID_CHARS) ||
        !is_base62(key + 6 + OCRQ_KEY_ID_CHARS, OCRQ_KEY_SECRET_CHARS))
        return 0;
    memcpy(id, key + 5, OCRQ_KEY_ID_CHARS);
    id[OCRQ_KEY_ID_CHARS] = '\0';
    return 1;
}

int ocrq_equal_ct(const char *a, const char *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}
