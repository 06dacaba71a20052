/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The one module that talks to libsystemd (ocrq/notify.h): the service
 * notification protocol of a Type=notify unit. A failed send is not the
 * service's failure: systemd notices a missing READY=1 or ping by itself.
 */
#include "ocrq/notify.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include <systemd/sd-daemon.h>

#define STATUS_MAX 256

static void send_with_status(const char *head, const char *fmt, va_list ap)
{
    char status[STATUS_MAX];

    vsnprintf(status, sizeof(status), fmt, ap);
    (void)sd_notifyf(0, "%sSTATUS=%s", head, status);
}

void ocrq_notify_ready(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    send_with_status("READY=1\n", fmt, ap);
    va_end(ap);
}

void ocrq_notify_status(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    send_with_status("", fmt, ap);
    va_end(ap);
}

void ocrq_notify_stopping(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    send_with_status("STOPPING=1\n", fmt, ap);
    va_end(ap);
}

long long ocrq_notify_watchdog_ms(void)
{
    uint64_t usec = 0;

    /* > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID, if set, is this process */
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
        return 0;
    return (long long)(usec / 2000); /* twice per interval, as sd_watchdog_enabled(3) advises */
}

void ocrq_notify_watchdog(void)
{
    (void)sd_notify(0, "WATCHDOG=1");
}
