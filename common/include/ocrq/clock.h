/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The monotonic clock (CLOCK_MONOTONIC): for durations, deadlines and
 * timeouts; it never goes back and says nothing about the date. Thread-safe.
 */
#ifndef OCRQ_CLOCK_H
#define OCRQ_CLOCK_H

#include <stdint.h>

int64_t ocrq_now_ms(void);
int64_t ocrq_now_us(void);

#endif
