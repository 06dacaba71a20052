/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Quantities for people (ocrq/units.h): what the command-line tools print
 * about sizes.
 */
#include "ocrq/units.h"

#include <stdio.h>

void ocrq_bytes_human(long long n, char *buf, size_t len)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)n;
    int u = -1;

    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u < 0)
        snprintf(buf, len, "%lld byte%s", n, n == 1 ? "" : "s");
    else
        snprintf(buf, len, "%.1f %s", v, units[u]);
}
