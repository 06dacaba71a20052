/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The SSRF guard: which resolved addresses an outgoing HTTP request (a
 * document fetch, a webhook delivery) may connect to. Loopback, private,
 * link-local, unique-local, multicast and other special addresses, including
 * IPv6 forms that embed such an IPv4 address, are refused unless an
 * allow-list (security.url_allowlist) names them. The decision is pure code;
 * ocrq_netguard_curl_apply() makes libcurl ask it for every connection.
 */
#ifndef OCRQ_NETGUARD_H
#define OCRQ_NETGUARD_H

#include <stddef.h>
#include <sys/socket.h>

#define OCRQ_NETGUARD_MAX_ALLOW 64
#define OCRQ_NETGUARD_WHY_LEN 160

/* An address or CIDR range; IPv4 is held as IPv4-mapped IPv6 (::ffff:a.b.c.d, bits + 96). */
struct ocrq_cidr {
    unsigned char addr[16];
    int bits;
};

/* The guard: the allow-list. Plain data: nothing to free; share it read-only between threads. */
struct ocrq_netguard {
    struct ocrq_cidr allow[OCRQ_NETGUARD_MAX_ALLOW];
    int n_allow;
};

/*
 * Parse one allow-list entry: an IPv4 or IPv6 address ("127.0.0.1", "::1")
 * or a CIDR range ("10.0.0.0/8", "fd00::/8") whose address has no bits set
 * past the prefix. Addresses must be in their plain form (inet_pton): no
 * brackets, spaces, zone ids or odd IPv4 spellings. Returns OCRQ_OK, or
 * OCRQ_ERR_INVALID with *why set to a static reason. *out is zeroed on
 * entry. Thread-safe.
 */
int ocrq_netguard_parse_cidr(const char *s, struct ocrq_cidr *out, const char **why);

/*
 * Build a guard from entries[0..n-1] (see ocrq_netguard_parse_cidr; n may be
 * 0: nothing special is let through). Returns OCRQ_OK, or OCRQ_ERR_INVALID
 * with "entry: reason" in why (n over OCRQ_NETGUARD_MAX_ALLOW, a bad entry).
 * *g is zeroed on entry and holds no resources. Thread-safe.
 */
int ocrq_netguard_init(struct ocrq_netguard *g, const char *const *entries, int n, char *why,
                       size_t whylen);

/*
 * Decide whether sa (AF_INET or AF_INET6; len its size) may be connected to.
 * Returns OCRQ_OK when the allow-list holds it (or, for an IPv6 form of an
 * IPv4 address, the IPv4 address) or when it is an ordinary public address;
 * else OCRQ_ERR_INVALID with a reason for the logs in why, e.g.
 * "127.0.0.1 is a loopback address" or
 * "::ffff:10.0.0.1 is a private address (IPv4-mapped 10.0.0.1)".
 * Other families are refused. g may be NULL (an empty allow-list).
 * Opens nothing. Thread-safe.
 */
int ocrq_netguard_check(const struct ocrq_netguard *g, const struct sockaddr *sa, socklen_t len,
                        char *why, size_t whylen);

/* What the guard did during one libcurl transfer; see ocrq_netguard_curl_apply(). */
struct ocrq_netguard_result {
    const struct ocrq_netguard *guard; /* borrowed */
    int refused;                       /* connections refused */
    char why[OCRQ_NETGUARD_WHY_LEN];   /* the first refusal's reason; "" if none */
};

/*
 * Guard the libcurl easy handle easy (a CURL *): every socket libcurl opens
 * to connect is first checked with ocrq_netguard_check() on the address it
 * resolved (CURLOPT_OPENSOCKETFUNCTION), so DNS rebinding and odd spellings
 * of an address cannot get past; a refused address makes libcurl try the
 * next one or fail with CURLE_COULDNT_CONNECT, and is counted in *res. Also
 * restricts the handle to http and https, turns redirects off and turns off
 * proxies (a proxy's address would be the one checked, and the proxy would
 * reach the target unchecked). *res is cleared here, must outlive the
 * transfer, and belongs to this one handle; g is borrowed the same way.
 * After a failed transfer, res->refused > 0 means the guard refused: a
 * permanent failure, reason in res->why.
 * Returns OCRQ_OK, or OCRQ_ERR_INVALID if libcurl refused an option.
 */
int ocrq_netguard_curl_apply(void *easy, const struct ocrq_netguard *g,
                             struct ocrq_netguard_result *res);

#endif
