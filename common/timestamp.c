/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Wall-clock timestamps as the job messages carry them (submitted_at): RFC
 * 3339 in UTC with milliseconds, written now, checked, and read back as
 * milliseconds since the epoch. Durations use the monotonic clock (ocrq/clock.h).
 */
#include "ocrq/timestamp.h"

#include "ocrq/status.h"

#include <stdio.h>
#include <time.h>

/* Parse exactly n ASCII digits at s into *v; stops at a NUL, so never over-reads. */
static int digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        *v = *v * 10 + (s[i] - '0');
    }
    return 1;
}

/*
 * RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM), with real
 * calendar ranges and an offset within +-15:59 (what PostgreSQL's timestamptz
 * accepts, so a value that passes here never fails the INSERT).
 */
int ocrq_timestamp_valid(const char *s)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, sec, oh, om, dmax;

    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) ||
        s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec))
        return 0;
    s += 19;
    if (*s == '.') {
        int n = 0;
        for (s++; *s >= '0' && *s <= '9'; s++)
            n++;
        if (n < 1 || n > 9)
            return 0;
    }
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        if (!digits(s + 1, 2, &oh) || s[3] != ':' || !digits(s + 4, 2, &om) || oh > 15 || om > 59)
            return 0;
        s += 6;
    } else {
        return 0;
    }
    if (*s != '\0' || y < 1 || mo < 1 || mo > 12 || h > 23 || mi > 59 || sec > 60)
        return 0;
    dmax = mdays[mo - 1];
    if (mo == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        dmax = 29;
    return d >= 1 && d <= dmax;
}

/*
 * Write the current UTC time as RFC 3339 with milliseconds, e.g.
 * "2026-11-23T10:00:00.123Z", into out (>= 32 bytes). Thread-safe.
 */
void ocrq_timestamp_now(char *out, size_t outlen)
{
    struct timespec ts;
    struct tm tm;

    if (!out || outlen == 0)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L);
}

/* Days from 1970-01-01 to the civil date y-m-d (proleptic Gregorian). */
static long long days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153LL * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int ocrq_timestamp_parse_ms(const char *s, long long *ms)
{
    int y, mo, d, h, mi, sec, frac_ms = 0, sign = 0, oh = 0, om = 0, n;
    const char *p;

    if (!ms || !s || !ocrq_timestamp_valid(s))
        return OCRQ_ERR_INVALID;
    if (sscanf(s, "%4d-%2d-%2d%*1[Tt]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
        return OCRQ_ERR_INVALID;
    p = s + n;
    if (*p == '.') {
        int scale = 100;
        for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
            frac_ms += (*p - '0') * scale;
    }
    if (*p == '+' || *p == '-') {
        sign = *p == '+' ? 1 : -1;
        oh = (p[1] - '0') * 10 + (p[2] - '0');
        om = (p[4] - '0') * 10 + (p[5] - '0');
    }
    long long secs = days_from_civil(y, mo, d) * 86400LL + h * 3600LL + mi * 60LL + sec -
                     sign * (oh * 3600LL + om * 60LL);
    *ms = secs * 1000 + frac_ms;
    return OCRQ_OK;
}
