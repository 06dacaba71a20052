/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Status codes: the one table that names each ocrq_status, describes it for
 * people, and gives the stable error code stored in ocr_jobs.error_code.
 */
#include "ocrq/status.h"

#include <stddef.h>

struct status_info {
    int st;
    const char *text; /* for people */
    const char *code; /* for ocr_jobs.error_code */
};

static const struct status_info statuses[] = {
    {OCRQ_OK, "success", "internal"},
    {OCRQ_ERR_NOMEM, "out of memory", "internal"},
    {OCRQ_ERR_INVALID, "invalid argument", "internal"},
    {OCRQ_ERR_CONFIG, "bad configuration", "internal"},
    {OCRQ_ERR_IO, "input/output error", "internal"},
    {OCRQ_ERR_MQ, "broker unavailable", "internal"},
    {OCRQ_ERR_DB, "database unavailable", "internal"},
    {OCRQ_ERR_BAD_JOB, "malformed job message", "bad_message"},
    {OCRQ_ERR_TOO_LARGE, "document too large", "too_large"},
    {OCRQ_ERR_DECODE, "document could not be decoded", "decode"},
    {OCRQ_ERR_LANG, "language not installed", "language"},
    {OCRQ_ERR_FETCH, "document fetch failed", "fetch"},
    {OCRQ_ERR_PATH, "document path refused", "path"},
    {OCRQ_ERR_TIMEOUT, "timed out", "timeout"},
    {OCRQ_ERR_NACKED, "publish not confirmed by the broker", "internal"},
    {OCRQ_ERR_EMPTY, "nothing there", "internal"},
    {OCRQ_ERR_OCR, "OCR engine failed", "ocr"},
    {OCRQ_ERR_NOT_FOUND, "not found", "internal"},
    {OCRQ_ERR_FETCH_PERM, "document fetch refused", "fetch_failed"},
};

static const struct status_info *find(int st)
{
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        if (statuses[i].st == st)
            return &statuses[i];
    return NULL;
}

/* A short static description of st; never NULL. Thread-safe. */
const char *ocrq_strerror(int st)
{
    const struct status_info *si = find(st);
    return si ? si->text : "unknown error";
}

/*
 * The stable error code for ocr_jobs.error_code; "internal" for statuses that
 * are not a job's fault. Never NULL. Thread-safe.
 */
const char *ocrq_error_code(int st)
{
    const struct status_info *si = find(st);
    return si ? si->code : "internal";
}
