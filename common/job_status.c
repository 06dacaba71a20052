/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A job's outcome as one JSON line, for the output of ocrq-submit --json
 * (ocrq_job_status_json() in ocrq/job.h).
 */
#include "ocrq/job.h"

#include "ocrq/json.h"

#include <stddef.h>

/*
 * {"job_id":..,"source":..,"status":..[,"error":..]} as one compact JSON line
 * without a newline; NULL strings are left out, and bytes that are not UTF-8
 * (e.g. in a file name) become U+FFFD. Returns a malloc'd string (caller
 * frees) or NULL on allocation failure. Thread-safe.
 */
char *ocrq_job_status_json(const char *job_id, const char *source, const char *status,
                           const char *error)
{
    const char *keys[4] = {"job_id", "source", "status", "error"};
    const char *vals[4] = {job_id, source, status, error};
    struct ocrq_json *obj = ocrq_json_object();
    char *res = NULL;
    int bad = !obj;

    for (int i = 0; i < 4 && !bad; i++)
        if (vals[i])
            bad |= ocrq_json_set_str(obj, keys[i], vals[i]);
    if (!bad)
        res = ocrq_json_dump(obj, 0);
    ocrq_json_free(obj);
    return res;
}
