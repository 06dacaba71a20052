/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * libFuzzer: the URL and address checks: allow-list entries
 * (ocrq_netguard_parse_cidr), the guard's verdict on any IPv4 or IPv6
 * address (ocrq_netguard_check), the one URL check (ocrq_url_check) and the
 * URL shown in logs (ocrq_url_redact).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ocrq/netguard.h"
#include "ocrq/status.h"
#include "ocrq/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[1024], why[256], shown[512];
    struct ocrq_cidr cidr;
    const char *reason = NULL, *bad;
    size_t n = size < sizeof s - 1 ? size : sizeof s - 1;

    memcpy(s, data, n);
    s[n] = '\0';
    (void)ocrq_netguard_parse_cidr(s, &cidr, &reason);
    if (ocrq_url_check(s, OCRQ_URL_HTTP, &bad) == OCRQ_ERR_INVALID && bad == NULL)
        abort(); /* a refusal always says why */
    (void)ocrq_url_check(s, OCRQ_URL_AMQP, &bad);
    ocrq_url_redact(s, shown, sizeof shown, 0);
    ocrq_url_redact(s, shown, sizeof shown, OCRQ_URL_SECRETS);
    if (strlen(shown) >= sizeof shown)
        abort();

    if (size >= 16) {
        struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
        memcpy(&a6.sin6_addr, data, 16);
        (void)ocrq_netguard_check(NULL, (const struct sockaddr *)&a6, sizeof a6, why, sizeof why);
    }
    if (size >= 4) {
        struct sockaddr_in a4 = {.sin_family = AF_INET};
        memcpy(&a4.sin_addr, data, 4);
        (void)ocrq_netguard_check(NULL, (const struct sockaddr *)&a4, sizeof a4, why, sizeof why);
    }
    return 0;
}
