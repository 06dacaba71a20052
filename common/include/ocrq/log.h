/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Logging: one line per event on stderr,
 *   2026-11-23T10:00:00.123Z INFO worker[1234] job=<uuid> message
 * The level is checked before anything is formatted.
 */
#ifndef OCRQ_LOG_H
#define OCRQ_LOG_H

enum ocrq_log_level {
    OCRQ_LOG_DEBUG = 0,
    OCRQ_LOG_INFO = 1,
    OCRQ_LOG_WARN = 2,
    OCRQ_LOG_ERROR = 3,
};

/* Set the component name shown on each line (borrowed, must outlive logging) and the level. */
void ocrq_log_init(const char *component, int level);

/* Parse "debug", "info", "warn", "error"; returns the level or -1. */
int ocrq_log_level_parse(const char *s);

/* Nonzero if a message at level would be written. Thread-safe. */
int ocrq_log_enabled(int level);

/* Write one line; job may be NULL. Thread-safe (one write(2) per line). */
void ocrq_log_write(int level, const char *job, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define ocrq_log(level, job, ...)                                                                  \
    do {                                                                                           \
        if (ocrq_log_enabled(level))                                                               \
            ocrq_log_write(level, job, __VA_ARGS__);                                               \
    } while (0)

#define log_debug(job, ...) ocrq_log(OCRQ_LOG_DEBUG, job, __VA_ARGS__)
#define log_info(job, ...) ocrq_log(OCRQ_LOG_INFO, job, __VA_ARGS__)
#define log_warn(job, ...) ocrq_log(OCRQ_LOG_WARN, job, __VA_ARGS__)
#define log_error(job, ...) ocrq_log(OCRQ_LOG_ERROR, job, __VA_ARGS__)

#endif
