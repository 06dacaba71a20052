/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The SSRF guard's decision, pure code: parse the allow-list (addresses and
 * CIDR ranges) and classify an AF_INET/AF_INET6 address against two tables of
 * special ranges. IPv6 forms that carry an IPv4 address (mapped, compatible,
 * NAT64, 6to4) are judged by the IPv4 address they carry.
 */
#include "ocrq/netguard.h"

#include "ocrq/status.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* Special IPv4 ranges, first match wins. */
static const struct {
    unsigned char net[4];
    int bits;
    const char *what;
} v4_ranges[] = {
    {{0}, 8, "an unspecified address"},
    {{10}, 8, "a private address"},
    {{100, 64}, 10, "a shared (CGNAT) address"},
    {{127}, 8, "a loopback address"},
    {{169, 254}, 16, "a link-local address"},
    {{172, 16}, 12, "a private address"},
    {{192, 0, 0}, 24, "a reserved address"},
    {{192, 0, 2}, 24, "a documentation address"},
    {{192, 168}, 16, "a private address"},
    {{198, 18}, 15, "a benchmarking address"},
    {{198, 51, 100}, 24, "a documentation address"},
    {{203, 0, 113}, 24, "a documentation address"},
    {{224}, 4, "a multicast address"},
    {{255, 255, 255, 255}, 32, "the broadcast address"},
    {{240}, 4, "a reserved address"},
};

/*
 * Special IPv6 ranges, first match wins. A range either is refused (what) or
 * carries an IPv4 address at byte v4_at, which is then judged instead.
 */
static const struct {
    unsigned char net[16];
    int bits;
    const char *what; /* NULL: judge the IPv4 address carried */
    int v4_at;
    const char *form; /* the name of that IPv6 form */
} v6_ranges[] = {
    {{0}, 128, "an unspecified address", 0, NULL},               /* :: */
    {{[15] = 1}, 128, "a loopback address", 0, NULL},            /* ::1 */
    {{[10] = 0xff, [11] = 0xff}, 96, NULL, 12, "IPv4-mapped"},   /* ::ffff:0:0/96 */
    {{[8] = 0xff, [9] = 0xff}, 96, NULL, 12, "IPv4-translated"}, /* ::ffff:0:0:0/96 */
    {{0}, 96, NULL, 12, "IPv4-compatible"},                      /* ::/96 */
    {{0x00, 0x64, 0xff, 0x9b}, 96, NULL, 12, "NAT64"},           /* 64:ff9b::/96 */
    {{0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}, 48, "a local NAT64 address", 0, NULL},
    {{0x01, 0x00}, 64, "a discard-only address", 0, NULL},              /* 100::/64 */
    {{0x20, 0x01, 0x0d, 0xb8}, 32, "a documentation address", 0, NULL}, /* 2001:db8::/32 */
    {{0x20, 0x01}, 32, "a Teredo address", 0, NULL},                    /* 2001::/32 */
    {{0x20, 0x02}, 16, NULL, 2, "6to4"},                                /* 2002::/16 */
    {{0xfc}, 7, "a unique-local address", 0, NULL},                     /* fc00::/7 */
    {{0xfe, 0x80}, 10, "a link-local address", 0, NULL},                /* fe80::/10 */
    {{0xfe, 0xc0}, 10, "a site-local address", 0, NULL},                /* fec0::/10 */
    {{0xff}, 8, "a multicast address", 0, NULL},                        /* ff00::/8 */
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char bad_entry[] =
    "must be an IP address or CIDR range, e.g. \"127.0.0.1\", \"10.0.0.0/8\" or \"fd00::/8\"";

/* Nonzero if the first bits bits of a and net are equal. */
static int prefix_match(const unsigned char *a, const unsigned char *net, int bits)
{
    int whole = bits / 8, rest = bits % 8;
    if (memcmp(a, net, (size_t)whole) != 0)
        return 0;
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xff00u >> rest);
    return (a[whole] & mask) == (net[whole] & mask);
}

/* a (16 bytes) := ::ffff:v4 */
static void map_v4(unsigned char *a, const unsigned char *v4)
{
    memset(a, 0, 10);
    a[10] = a[11] = 0xff;
    memcpy(a + 12, v4, 4);
}

/* Parse a prefix length of 0..max: plain decimal digits, nothing else. */
static int parse_bits(const char *s, int max, int *bits)
{
    int v = 0;
    if (*s == '\0')
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > max)
            return -1;
        v = v * 10 + (*s - '0');
    }
    if (v > max)
        return -1;
    *bits = v;
    return 0;
}

/* Parse "address" or "address/bits"; *why gets a static reason. Thread-safe. */
int ocrq_netguard_parse_cidr(const char *s, struct ocrq_cidr *out, const char **why)
{
    char addr[INET6_ADDRSTRLEN];
    unsigned char v4[4];
    const char *slash;
    size_t alen;
    int max, bits;

    memset(out, 0, sizeof *out);
    *why = bad_entry;
    if (!s)
        return OCRQ_ERR_INVALID;
    slash = strchr(s, '/');
    alen = slash ? (size_t)(slash - s) : strlen(s);
    if (alen == 0 || alen >= sizeof addr)
        return OCRQ_ERR_INVALID;
    memcpy(addr, s, alen);
    addr[alen] = '\0';
    if (inet_pton(AF_INET, addr, v4) == 1) {
        map_v4(out->addr, v4);
        max = 32;
    } else if (inet_pton(AF_INET6, addr, out->addr) == 1) {
        max = 128;
    } else {
        memset(out, 0, sizeof *out);
        return OCRQ_ERR_INVALID;
    }
    bits = max;
    if (slash && parse_bits(slash + 1, max, &bits) != 0) {
        memset(out, 0, sizeof *out);
        *why = max == 32 ? "the prefix length after '/' must be 0 to 32 for IPv4"
                         : "the prefix length after '/' must be 0 to 128 for IPv6";
        return OCRQ_ERR_INVALID;
    }
    out->bits = bits + (max == 32 ? 96 : 0);
    for (int i = out->bits; i < 128; i++) {
        if (out->addr[i / 8] & (0x80u >> (i % 8))) {
            memset(out, 0, sizeof *out);
            *why = "the address has bits set past the prefix length "
                   "(e.g. \"10.0.0.0/8\", not \"10.1.2.3/8\")";
            return OCRQ_ERR_INVALID;
        }
    }
    *why = NULL;
    return OCRQ_OK;
}

/* Build a guard from the allow-list entries. Thread-safe. */
int ocrq_netguard_init(struct ocrq_netguard *g, const char *const *entries, int n, char *why,
                       size_t whylen)
{
    const char *reason;

    memset(g, 0, sizeof *g);
    if (why && whylen)
        why[0] = '\0';
    if (n < 0 || n > OCRQ_NETGUARD_MAX_ALLOW || (n > 0 && !entries)) {
        if (why && whylen)
            snprintf(why, whylen, "the allow-list holds at most %d entries",
                     OCRQ_NETGUARD_MAX_ALLOW);
        return OCRQ_ERR_INVALID;
    }
    for (int i = 0; i < n; i++) {
        if (ocrq_netguard_parse_cidr(entries[i], &g->allow[i], &reason) != OCRQ_OK) {
            if (why && whylen)
                snprintf(why, whylen, "%s: %s", entries[i] ? entries[i] : "(null)", reason);
            memset(g, 0, sizeof *g);
            return OCRQ_ERR_INVALID;
        }
    }
    g->n_allow = n;
    return OCRQ_OK;
}

static int allowed(const struct ocrq_netguard *g, const unsigned char *a)
{
    for (int i = 0; g && i < g->n_allow; i++)
        if (prefix_match(a, g->allow[i].addr, g->allow[i].bits))
            return 1;
    return 0;
}

/* What the IPv4 address v4 is, if special; NULL for an ordinary address. */
static const char *v4_special(const unsigned char *v4)
{
    for (size_t i = 0; i < N(v4_ranges); i++)
        if (prefix_match(v4, v4_ranges[i].net, v4_ranges[i].bits))
            return v4_ranges[i].what;
    return NULL;
}

static void set_why(char *why, size_t whylen, const char *addr, const char *what, const char *form,
                    const char *v4)
{
    if (!why || whylen == 0)
        return;
    if (form)
        snprintf(why, whylen, "%s is %s (the %s form of %s)", addr, what, form, v4);
    else
        snprintf(why, whylen, "%s is %s", addr, what);
}

/* Decide whether sa may be connected to; see netguard.h. Thread-safe. */
int ocrq_netguard_check(const struct ocrq_netguard *g, const struct sockaddr *sa, socklen_t len,
                        char *why, size_t whylen)
{
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    unsigned char a[16];
    char text[INET6_ADDRSTRLEN], v4text[INET_ADDRSTRLEN];
    int from_v4;

    if (why && whylen)
        why[0] = '\0';
    if (sa && sa->sa_family == AF_INET && len >= sizeof sin) {
        memcpy(&sin, sa, sizeof sin);
        map_v4(a, (const unsigned char *)&sin.sin_addr);
        inet_ntop(AF_INET, &sin.sin_addr, text, sizeof text);
        from_v4 = 1;
    } else if (sa && sa->sa_family == AF_INET6 && len >= sizeof sin6) {
        memcpy(&sin6, sa, sizeof sin6);
        memcpy(a, &sin6.sin6_addr, 16);
        inet_ntop(AF_INET6, &sin6.sin6_addr, text, sizeof text);
        from_v4 = 0;
    } else {
        if (why && whylen)
            snprintf(why, whylen, "address family %d is neither IPv4 nor IPv6",
                     sa ? sa->sa_family : -1);
        return OCRQ_ERR_INVALID;
    }
    if (allowed(g, a))
        return OCRQ_OK;
    for (size_t i = 0; i < N(v6_ranges); i++) {
        if (!prefix_match(a, v6_ranges[i].net, v6_ranges[i].bits))
            continue;
        if (v6_ranges[i].what) {
            set_why(why, whylen, text, v6_ranges[i].what, NULL, NULL);
            return OCRQ_ERR_INVALID;
        }
        const unsigned char *v4 = a + v6_ranges[i].v4_at;
        unsigned char mapped[16];
        map_v4(mapped, v4);
        if (allowed(g, mapped))
            return OCRQ_OK;
        const char *what = v4_special(v4);
        if (!what)
            return OCRQ_OK;
        inet_ntop(AF_INET, v4, v4text, sizeof v4text);
        set_why(why, whylen, text, what, from_v4 ? NULL : v6_ranges[i].form, v4text);
        return OCRQ_ERR_INVALID;
    }
    return OCRQ_OK;
}
