/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Logging: one line per event on stderr, written with a single write(2) so
 * lines from several threads or processes never interleave. Lines are built
 * in a fixed buffer and truncated past OCRQ_LOG_LINE_MAX bytes.
 */
#include "ocrq/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define OCRQ_LOG_LINE_MAX 2048

/* Set once at startup by ocrq_log_init(); read by every thread. */
static _Atomic(const char *) log_component = "ocrq";
static atomic_int log_level = OCRQ_LOG_INFO;

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
static const char *const level_words[] = {"debug", "info", "warn", "error"};

/*
 * Set the component shown on each line (borrowed; NULL keeps "ocrq") and the
 * level. Call before starting threads; safe to call again later.
 */
void ocrq_log_init(const char *component, int level)
{
    if (component)
        atomic_store(&log_component, component);
    if (level < OCRQ_LOG_DEBUG)
        level = OCRQ_LOG_DEBUG;
    if (level > OCRQ_LOG_ERROR)
        level = OCRQ_LOG_ERROR;
    atomic_store(&log_level, level);
}

/* Parse "debug", "info", "warn" (or "warning"), "error", any case; -1 otherwise. */
int ocrq_log_level_parse(const char *s)
{
    if (!s)
        return -1;
    for (int i = 0; i < (int)(sizeof level_words / sizeof level_words[0]); i++)
        if (strcasecmp(s, level_words[i]) == 0)
            return i;
    if (strcasecmp(s, "warning") == 0)
        return OCRQ_LOG_WARN;
    return -1;
}

/* Nonzero if a message at level would be written. Thread-safe. */
int ocrq_log_enabled(int level)
{
    return level >= atomic_load(&log_level);
}

/* Append to line[*len..cap) with vsnprintf, truncating; *len stays below cap. */
static void appendv(char *line, size_t cap, size_t *len, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static void appendv(char *line, size_t cap, size_t *len, const char *fmt, va_list ap)
{
    if (*len + 1 >= cap)
        return;
    int n = vsnprintf(line + *len, cap - *len, fmt, ap);
    if (n > 0)
        *len += (size_t)n < cap - *len ? (size_t)n : cap - *len - 1;
}

static void append(char *line, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void append(char *line, size_t cap, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    appendv(line, cap, len, fmt, ap);
    va_end(ap);
}

/*
 * Write one line "TIME LEVEL component[pid] job=ID message" to stderr; job
 * may be NULL. Newlines inside the message become spaces so an event stays
 * on one line. Thread-safe: one write(2) per line.
 */
void ocrq_log_write(int level, const char *job, const char *fmt, ...)
{
    char line[OCRQ_LOG_LINE_MAX];
    size_t cap = sizeof line - 1; /* room for the final '\n' */
    size_t len = 0;
    int saved_errno = errno; /* callers often log, then look at errno */
    struct timespec ts;
    struct tm tm;
    va_list ap;

    if (level < OCRQ_LOG_DEBUG || level > OCRQ_LOG_ERROR)
        level = OCRQ_LOG_ERROR;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    append(line, cap, &len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s[%ld] ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L,
           level_names[level], atomic_load(&log_component), (long)getpid());
    if (job && *job)
        append(line, cap, &len, "job=%s ", job);
    size_t msg_start = len;
    va_start(ap, fmt);
    appendv(line, cap, &len, fmt, ap);
    va_end(ap);
    for (size_t i = msg_start; i < len; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[len++] = '\n';

    const char *p = line;
    while (len > 0) {
        ssize_t w = write(STDERR_FILENO, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        p += w;
        len -= (size_t)w;
    }
    errno = saved_errno;
}
