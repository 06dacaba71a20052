/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The TTY progress line of ocrq-submit. It is drawn with one write(2) per
 * redraw, rate-limited, and erased before anything else is printed so that
 * error messages and the summary never land in the middle of it.
 */
#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 20

/* Monotonic clock in seconds. Thread-safe. */
double progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Start; enabled only if want and stderr is a TTY. */
void progress_init(struct progress *p, int want, size_t total)
{
    memset(p, 0, sizeof *p);
    p->enabled = want && isatty(STDERR_FILENO);
    p->total = total;
    p->t_start = progress_now();
}

/* Enter the --wait phase. */
void progress_start_wait(struct progress *p)
{
    p->waiting = 1;
    p->t_start = progress_now();
}

static void put(const char *s, size_t len)
{
    while (len > 0) {
        ssize_t w = write(STDERR_FILENO, s, len);
        if (w <= 0)
            return; /* a progress line is not worth retrying */
        s += w;
        len -= (size_t)w;
    }
}

static void eta_text(double seconds, char *buf, size_t len)
{
    long s = (long)(seconds + 0.5);

    if (s >= 3600)
        snprintf(buf, len, "  ETA %ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, len, "  ETA %ld:%02ld", s / 60, s % 60);
}

/*
 * "37/120 pages  0.6 pages/s  " and an ETA in pages. Pages are what takes
 * the time when documents are long, so the ETA follows them once seen.
 */
static void pages_text(const struct progress *p, double now, char *buf, size_t len, char *eta,
                       size_t etalen)
{
    double elapsed = now - p->t_pages;
    double rate = elapsed > 0.5 ? (double)(p->pages_done - p->pages_start) / elapsed : 0.0;

    snprintf(buf, len, "%lld/%lld pages  %.1f pages/s  ", p->pages_done, p->pages_total, rate);
    if (rate > 0 && p->pages_done < p->pages_total)
        eta_text((double)(p->pages_total - p->pages_done) / rate, eta, etalen);
}

void progress_pages(struct progress *p, long long done, long long total)
{
    if (p->pages_total == 0 && total > 0) {
        p->t_pages = progress_now();
        p->pages_start = done;
    }
    p->pages_done = done;
    p->pages_total = total;
}

static void draw(struct progress *p, double now)
{
    char line[256];
    char eta[32] = "";
    /* failed holds the inputs that could not be submitted too: they are dealt with */
    size_t count = p->waiting ? p->done + p->failed : p->submitted + p->failed;
    double frac = p->total ? (double)count / (double)p->total : 1.0;
    double elapsed = now - p->t_start;
    double rate = elapsed > 0.05 ? (double)count / elapsed : 0.0;
    int filled = (int)(frac * BAR_WIDTH); /* full only when all are */
    char bar[BAR_WIDTH + 1];

    if (filled > BAR_WIDTH)
        filled = BAR_WIDTH;
    memset(bar, '#', (size_t)filled);
    memset(bar + filled, '.', (size_t)(BAR_WIDTH - filled));
    bar[BAR_WIDTH] = '\0';
    if (rate > 0 && count < p->total)
        eta_text((double)(p->total - count) / rate, eta, sizeof eta);
    char pages[96] = "";
    if (p->waiting && p->pages_total > 0)
        pages_text(p, now, pages, sizeof pages, eta, sizeof eta);
    int n = snprintf(line, sizeof line,
                     "\r[%s] %zu/%zu submitted  %zu done  %zu failed  %s%.0f/s%s\033[K", bar,
                     p->submitted, p->total, p->done, p->failed, pages, rate, eta);
    if (n > 0)
        put(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    p->shown = 1;
    p->t_drawn = now;
}

/* Set the counts and redraw at most PROGRESS_HZ times a second. */
void progress_update(struct progress *p, size_t submitted, size_t done, size_t failed)
{
    p->submitted = submitted;
    p->done = done;
    p->failed = failed;
    if (!p->enabled)
        return;
    double now = progress_now();
    if (!p->shown || now - p->t_drawn >= 1.0 / PROGRESS_HZ)
        draw(p, now);
}

/* Erase the line; the next update draws it again. */
void progress_clear(struct progress *p)
{
    if (!p->enabled || !p->shown)
        return;
    put("\r\033[K", 4);
    p->shown = 0;
}
