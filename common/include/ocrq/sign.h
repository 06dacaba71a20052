/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Standard Webhooks 1.0 signatures: "whsec_<base64>" secrets, the
 * webhook-signature header ("v1,<base64 HMAC-SHA256>" per secret, space-
 * separated) over "{webhook-id}.{webhook-timestamp}.{body}", its check, and
 * webhook-id generation. OpenSSL is wrapped here; no OpenSSL type leaks out.
 */
#ifndef OCRQ_SIGN_H
#define OCRQ_SIGN_H

#include <stddef.h>

/* The spec allows keys of 24 to 64 bytes (192 to 512 bits). */
#define OCRQ_SECRET_MIN_BYTES 24
#define OCRQ_SECRET_MAX_BYTES 64

/* Secrets signed with at once (rotation needs two or three). */
#define OCRQ_SIGN_MAX_KEYS 16

/* One signature: "v1," + 44 base64 characters, plus a separating space or the NUL. */
#define OCRQ_SIGNATURE_LEN 48
/* Room for the header value signed with n secrets, NUL included. */
#define OCRQ_SIGNATURE_MAX(n) ((size_t)(n)*OCRQ_SIGNATURE_LEN)

/* "msg_" + 24 base62 characters (about 143 random bits), plus the NUL. */
#define OCRQ_EVENT_ID_CHARS 24
#define OCRQ_EVENT_ID_SIZE (4 + OCRQ_EVENT_ID_CHARS + 1)

/* A decoded signing key. Plain bytes: copy it freely; nothing to free. */
struct ocrq_secret {
    unsigned char key[OCRQ_SECRET_MAX_BYTES];
    size_t len;
};

/*
 * Parse "whsec_<base64>" (standard alphabet, padding optional) into *out.
 * Returns OCRQ_OK, or OCRQ_ERR_INVALID with *why set to a static reason that
 * never quotes the secret (wrong prefix, bad base64, key shorter than 24 or
 * longer than 64 bytes, empty). *out is zeroed on entry. Thread-safe.
 */
int ocrq_sign_parse_secret(const char *s, struct ocrq_secret *out, const char **why);

/* A new secret: "whsec_" and the base64 of 32 random bytes (50 characters, NUL). */
#define OCRQ_NEW_SECRET_SIZE 51
int ocrq_sign_new_secret(char out[OCRQ_NEW_SECRET_SIZE]);

/*
 * Write the webhook-signature header value for one message into out:
 * "v1,<sig>" for each of keys[0..n-1], in that order, separated by one space.
 * The signed content is "<msg_id>.<timestamp>.<body>"; body is len bytes and
 * need not be NUL-terminated. out needs OCRQ_SIGNATURE_MAX(n) bytes.
 * Returns OCRQ_OK; OCRQ_ERR_INVALID (n not in 1..OCRQ_SIGN_MAX_KEYS, no msg_id,
 * out too small: out is then "") or OCRQ_ERR_NOMEM (OpenSSL failed). Thread-safe.
 */
int ocrq_sign(const struct ocrq_secret *keys, int n, const char *msg_id, long long timestamp,
              const char *body, size_t len, char *out, size_t outlen);

/*
 * Check a webhook-signature header value as a receiver would: OCRQ_OK if one
 * of its space-separated "v1,<sig>" entries is the signature of the message
 * under one of keys[0..n-1] (n in 1..OCRQ_SIGN_MAX_KEYS; compared in
 * constant time), else OCRQ_ERR_INVALID. Entries of other versions are ignored. The timestamp's
 * freshness is the caller's to check. Thread-safe.
 */
int ocrq_sign_verify(const struct ocrq_secret *keys, int n, const char *msg_id, long long timestamp,
                     const char *body, size_t len, const char *header);

/*
 * Write a new webhook-id, "msg_" + OCRQ_EVENT_ID_CHARS random base62
 * characters from the kernel's CSPRNG (ocrq/random.h), into out (OCRQ_EVENT_ID_SIZE bytes).
 * Returns OCRQ_OK, OCRQ_ERR_INVALID (out too small) or OCRQ_ERR_IO (no
 * randomness); out is "" on error. Thread-safe.
 */
int ocrq_sign_event_id(char *out, size_t outlen);

/* SHA-256 of data as 64 lowercase hex digits and a NUL: OCRQ_OK or OCRQ_ERR_NOMEM. */
int ocrq_sha256_hex(const void *data, size_t len, char out[65]);

/*
 * SHA-256 of data that comes in pieces: _new, _update for each piece, then
 * _final writes the hex digest into out (65 bytes) and frees the context.
 * _new returns NULL on allocation failure; _free (NULL is fine) drops one
 * without a digest. Not thread-safe per context.
 */
struct ocrq_sha256;
struct ocrq_sha256 *ocrq_sha256_new(void);
int ocrq_sha256_update(struct ocrq_sha256 *ctx, const void *data, size_t len);
int ocrq_sha256_final(struct ocrq_sha256 *ctx, char out[65]);
void ocrq_sha256_free(struct ocrq_sha256 *ctx);

/*
 * API keys of ocrq-api: "ocrq_" + OCRQ_KEY_ID_CHARS base62 characters (the
 * public id that finds the key's row) + "_" + OCRQ_KEY_SECRET_CHARS base62
 * characters (≈190 random bits). Only the SHA-256 of the whole key is kept.
 */
#define OCRQ_KEY_ID_CHARS 10
#define OCRQ_KEY_SECRET_CHARS 32
#define OCRQ_KEY_CHARS (5 + OCRQ_KEY_ID_CHARS + 1 + OCRQ_KEY_SECRET_CHARS)

/*
 * A new key into key (OCRQ_KEY_CHARS + 1 bytes), its id into id
 * (OCRQ_KEY_ID_CHARS + 1) and its hex SHA-256 into hash: OCRQ_OK, or
 * OCRQ_ERR_IO / OCRQ_ERR_NOMEM. Thread-safe.
 */
int ocrq_apikey_new(char *key, char *id, char hash[65]);

/*
 * Nonzero if the len bytes at key have the shape of a key; then its id goes
 * into id (OCRQ_KEY_ID_CHARS + 1 bytes).
 */
int ocrq_apikey_parse(const char *key, size_t len, char *id);

/* Nonzero if the len bytes at a and b are equal, compared in constant time. */
int ocrq_equal_ct(const char *a, const char *b, size_t len);

#endif
