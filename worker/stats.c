/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The shared-memory region of worker/stats.h: a memfd made by the
 * supervisor, inherited by every child across exec and mapped by both, and
 * the histogram that children write into it with atomic adds.
 */
#include "stats.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ocrq/log.h"
#include "ocrq/status.h"

#define MAX_SLOTS 4096                 /* far more children than any machine runs */
#define MAX_SUM_US (UINT64_C(1) << 60) /* one observation; keeps the sum from wrapping */

const double ocrq_hist_bounds_s[OCRQ_HIST_BOUNDS] = {0.05, 0.1, 0.25, 0.5, 1,   2.5,
                                                     5,    10,  30,   60,  120, 300};

static size_t region_size(uint32_t n)
{
    return sizeof(struct ocrq_stats) + (size_t)n * sizeof(struct ocrq_child_slot);
}

/*
 * A new zeroed region of n slots in a memfd. The fd is NOT close-on-exec, so
 * a child executed by the supervisor inherits it (and is told its number).
 * Returns OCRQ_OK with *out and *fd, OCRQ_ERR_INVALID for a bad n, or
 * OCRQ_ERR_IO (logged). *out is NULL and *fd -1 on error. Not thread-safe.
 */
int ocrq_stats_create(int n, struct ocrq_stats **out, int *fd)
{
    int st = OCRQ_OK;
    int mfd = -1;
    void *p = MAP_FAILED;

    *out = NULL;
    *fd = -1;
    if (n < 1 || n > MAX_SLOTS)
        return OCRQ_ERR_INVALID;
    size_t size = region_size((uint32_t)n);
    mfd = memfd_create("ocrq-stats", 0); /* no MFD_CLOEXEC: children inherit it */
    if (mfd < 0) {
        log_error(NULL, "stats: memfd_create: %s", strerror(errno));
        st = OCRQ_ERR_IO;
        goto out;
    }
    if (ftruncate(mfd, (off_t)size) != 0) {
        log_error(NULL, "stats: ftruncate %zu bytes: %s", size, strerror(errno));
        st = OCRQ_ERR_IO;
        goto out;
    }
    p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
    if (p == MAP_FAILED) {
        log_error(NULL, "stats: mmap %zu bytes: %s", size, strerror(errno));
        st = OCRQ_ERR_IO;
        goto out;
    }
    struct ocrq_stats *s = p; /* a fresh memfd reads as zeros */
    s->n = (uint32_t)n;
    __atomic_store_n(&s->magic, OCRQ_STATS_MAGIC, __ATOMIC_RELEASE);
    *out = s;
    *fd = mfd;
    mfd = -1;
out:
    if (mfd >= 0)
        close(mfd);
    return st;
}

/*
 * Map the region whose memfd is fd (a child after exec; fd stays open and
 * the caller's). Checks the magic and that the size matches the slot count.
 * Returns OCRQ_OK with *out, or OCRQ_ERR_IO / OCRQ_ERR_INVALID (logged).
 */
int ocrq_stats_attach(int fd, struct ocrq_stats **out)
{
    struct stat sb;
    *out = NULL;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        log_error(NULL, "stats: fd %d: %s", fd, fd < 0 ? "invalid" : strerror(errno));
        return OCRQ_ERR_IO;
    }
    if (sb.st_size < (off_t)region_size(1) || sb.st_size > (off_t)region_size(MAX_SLOTS)) {
        log_error(NULL, "stats: fd %d: %lld bytes is not a stats region", fd,
                  (long long)sb.st_size);
        return OCRQ_ERR_INVALID;
    }
    size_t size = (size_t)sb.st_size;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        log_error(NULL, "stats: mmap fd %d: %s", fd, strerror(errno));
        return OCRQ_ERR_IO;
    }
    struct ocrq_stats *s = p;
    uint32_t magic = __atomic_load_n(&s->magic, __ATOMIC_ACQUIRE);
    uint32_t n = s->n;
    if (magic != OCRQ_STATS_MAGIC || n < 1 || n > MAX_SLOTS || region_size(n) != size) {
        log_error(NULL, "stats: fd %d: bad region (magic %#x, %u slots, %zu bytes)", fd,
                  (unsigned)magic, (unsigned)n, size);
        munmap(p, size);
        return OCRQ_ERR_INVALID;
    }
    *out = s;
    return OCRQ_OK;
}

void ocrq_stats_unmap(struct ocrq_stats *s)
{
    if (s)
        munmap(s, region_size(s->n));
}

/*
 * The bucket is the first whose bound is >= seconds (Prometheus' le is
 * inclusive). Negative and NaN observations count as 0. Lock-free: relaxed
 * atomic adds, so a reader may see the bucket before the count and sum.
 */
void ocrq_hist_observe(struct ocrq_hist *h, double seconds)
{
    if (!(seconds > 0))
        seconds = 0;
    int i = 0;
    while (i < OCRQ_HIST_BOUNDS && seconds > ocrq_hist_bounds_s[i])
        i++;
    double us = seconds * 1e6;
    uint64_t add = us >= (double)MAX_SUM_US ? MAX_SUM_US : (uint64_t)llround(us);
    __atomic_fetch_add(&h->bucket[i], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&h->sum_us, add, __ATOMIC_RELAXED);
    __atomic_fetch_add(&h->count, 1, __ATOMIC_RELAXED);
}

long long ocrq_stats_rss_bytes(int pid)
{
    char path[64];
    long pages_total, pages_rss;
    FILE *f;
    int n;

    if (pid < 0)
        return -1;
    if (pid == 0)
        snprintf(path, sizeof(path), "/proc/self/statm");
    else
        snprintf(path, sizeof(path), "/proc/%d/statm", pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    n = fscanf(f, "%ld %ld", &pages_total, &pages_rss);
    fclose(f);
    return n == 2 ? (long long)pages_rss * sysconf(_SC_PAGESIZE) : -1;
}
