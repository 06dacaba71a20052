/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * CPU lists: parsing "0-3,6", sharing a list among children, formatting.
 * Pure code, no system calls: the supervisor applies the result.
 */
#include "ocrq/cpulist.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One number at *p, advancing *p; -1 if there is none or it is out of range. */
static long number(const char **p)
{
    char *end;
    long v;

    while (**p == ' ')
        (*p)++;
    if (!isdigit((unsigned char)**p))
        return -1;
    errno = 0;
    v = strtol(*p, &end, 10);
    if (errno || v >= OCRQ_MAX_CPUS)
        return -1;
    *p = end;
    while (**p == ' ')
        (*p)++;
    return v;
}

int ocrq_cpulist_parse(const char *s, int *cpus, int max)
{
    unsigned char seen[OCRQ_MAX_CPUS] = {0};
    const char *p = s;
    int n = 0;

    if (s == NULL)
        return -1;
    for (;;) {
        long lo = number(&p), hi;
        if (lo < 0)
            return -1;
        hi = lo;
        if (*p == '-') {
            p++;
            hi = number(&p);
            if (hi < lo)
                return -1;
        }
        for (long c = lo; c <= hi; c++)
            seen[c] = 1;
        if (*p == '\0')
            break;
        if (*p != ',')
            return -1;
        p++;
    }
    for (int c = 0; c < OCRQ_MAX_CPUS; c++) {
        if (!seen[c])
            continue;
        if (cpus != NULL && n < max)
            cpus[n] = c;
        n++;
    }
    return n;
}

int ocrq_cpulist_share(int n_cpus, int n, int k, int *first)
{
    if (n_cpus <= 0 || n <= 0 || k < 0) {
        *first = 0;
        return 1;
    }
    if (n > n_cpus) {
        *first = k % n_cpus;
        return 1;
    }
    /* the first n_cpus % n children get one CPU more */
    int base = n_cpus / n, extra = n_cpus % n;
    *first = k * base + (k < extra ? k : extra);
    return base + (k < extra ? 1 : 0);
}

char *ocrq_cpulist_format(const int *cpus, int n, char *buf, unsigned long buflen)
{
    size_t used = 0;

    if (buflen == 0)
        return buf;
    buf[0] = '\0';
    for (int i = 0; i < n && used < buflen; i++) {
        int j = i;
        while (j + 1 < n && cpus[j + 1] == cpus[j] + 1)
            j++;
        int w = j > i
                    ? snprintf(buf + used, buflen - used, "%s%d-%d", i ? "," : "", cpus[i], cpus[j])
                    : snprintf(buf + used, buflen - used, "%s%d", i ? "," : "", cpus[i]);
        if (w < 0)
            break;
        used += (size_t)w;
        i = j;
    }
    return buf;
}
