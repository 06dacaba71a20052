/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer: the job codec (common/job.c): decode any bytes; what decodes must encode. */
#include <stdint.h>
#include <stdlib.h>

#include "ocrq/job.h"
#include "ocrq/status.h"
#include "ocrq/uuid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ocrq_job *job = NULL;
    char hint[OCRQ_UUID_LEN + 1], why[512];

    if (ocrq_job_decode(data, size, 64 * 1024, &job, hint, why, sizeof why) != OCRQ_OK)
        return 0;
    unsigned char *out = NULL;
    size_t len = 0;
    if (ocrq_job_encode(job, &out, &len, why, sizeof why) != OCRQ_OK)
        abort(); /* a job that decodes must encode again */
    free(out);
    ocrq_job_free(job);
    return 0;
}
