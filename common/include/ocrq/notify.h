/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Telling systemd how a service is doing (a Type=notify unit, sd_notify(3)):
 * ready, its status line, the watchdog's ping, stopping. libsystemd sends
 * each to the socket in NOTIFY_SOCKET; without one (no systemd, a shell)
 * every call does nothing. Only the main process of a unit calls these.
 */
#ifndef OCRQ_NOTIFY_H
#define OCRQ_NOTIFY_H

/* READY=1, with STATUS= from fmt (printf). */
void ocrq_notify_ready(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* STATUS= from fmt (printf): what `systemctl status` shows. */
void ocrq_notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* STOPPING=1, with STATUS= from fmt (printf). */
void ocrq_notify_stopping(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The watchdog (WatchdogSec=): how often to ping it, in ms (half its
 * interval), or 0 when this process has none.
 */
long long ocrq_notify_watchdog_ms(void);

/* WATCHDOG=1: this process is alive and doing its work. */
void ocrq_notify_watchdog(void);

#endif
