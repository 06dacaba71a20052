/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The monotonic clock (ocrq/clock.h). */
#include "ocrq/clock.h"

#include <time.h>

int64_t ocrq_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t ocrq_now_ms(void)
{
    return ocrq_now_us() / 1000;
}
