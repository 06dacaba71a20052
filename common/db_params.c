/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Input checks of the db module: what a caller (or a foreign producer's
 * message) hands in is made a safe statement parameter before any round
 * trip: job ids, timestamps, priorities and capped error messages.
 */
#include <stdio.h>
#include <string.h>

#include "db_internal.h"
#include "ocrq/log.h"
#include "ocrq/status.h"
#include "ocrq/uuid.h"

static int digits(const char *s, int n, int *val)
{
    *val = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        *val = *val * 10 + (s[i] - '0');
    }
    return 1;
}

/*
 * Nonzero if s is an RFC 3339 timestamp that PostgreSQL will accept, so a
 * foreign producer's bad submitted_at is replaced by now() instead of making
 * every statement about its job fail.
 */
int ocrq_db_timestamp_ok(const char *s)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, sec, oh, om, n;

    if (!s || strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
        s[7] != '-' || !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &sec))
        return 0;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 59)
        return 0;
    if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return 0;
    s += 19;
    if (*s == '.') {
        for (n = 0, s++; *s >= '0' && *s <= '9'; s++)
            n++;
        if (n < 1 || n > 9)
            return 0;
    }
    if ((s[0] == 'Z' || s[0] == 'z') && s[1] == '\0')
        return 1;
    return (s[0] == '+' || s[0] == '-') && digits(s + 1, 2, &oh) && s[3] == ':' &&
           digits(s + 4, 2, &om) && s[6] == '\0' && oh <= 14 && om <= 59;
}

/* The priority as text, clamped to 0-9 so a foreign producer's value cannot break the CHECK. */
const char *ocrq_db_priority_text(int priority, char *buf, size_t len)
{
    snprintf(buf, len, "%d", priority < 0 ? 0 : priority > 9 ? 9 : priority);
    return buf;
}

/* OCRQ_OK if id is a UUID, else log and return OCRQ_ERR_INVALID (no round trip). */
int ocrq_db_id_ok(const char *id, const char *what)
{
    if (id && ocrq_uuid_valid(id))
        return OCRQ_OK;
    log_error(NULL, "db: %s: invalid job id", what);
    return OCRQ_ERR_INVALID;
}

/* Copy msg into buf (cap bytes), cut at a UTF-8 character boundary. NULL stays NULL. */
const char *ocrq_db_capped(const char *msg, char *buf, size_t cap)
{
    size_t n;

    if (!msg || strlen(msg) < cap)
        return msg;
    n = cap - 1;
    while (n > 0 && ((unsigned char)msg[n] & 0xC0) == 0x80)
        n--;
    memcpy(buf, msg, n);
    buf[n] = '\0';
    return buf;
}
