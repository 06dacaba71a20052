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
#include "ocrq/timestamp.h"
#include "ocrq/uuid.h"

/*
 * Nonzero if s is an RFC 3339 timestamp that PostgreSQL will accept, so a
 * foreign producer's bad submitted_at is replaced by now() instead of making
 * every statement about its job fail: the job codec's own rule.
 */
int ocrq_db_timestamp_ok(const char *s)
{
    return s != NULL && ocrq_timestamp_valid(s);
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
