/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * --wait and --output: poll PostgreSQL for the jobs of this run that are
 * still pending, a slice of ids per query, and act on each one as it
 * finishes: its result files (artifacts in the document store streamed to
 * theirs), its --json line, its failure message. With a progress line, the
 * pages of the jobs under way are polled too.
 */
#include "wait.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ocrq/blob.h"
#include "ocrq/config.h"
#include "ocrq/db_jobs.h"
#include "ocrq/db_poll.h"
#include "ocrq/formats.h"
#include "ocrq/status.h"
#include "submit.h"

/* Create dir and its missing parents. */
int wait_make_dir(const char *dir)
{
    char path[PATH_MAX];
    size_t len = strlen(dir);

    if (len == 0 || len >= sizeof path) {
        errno = len ? ENAMETOOLONG : ENOENT;
        return OCRQ_ERR_IO;
    }
    memcpy(path, dir, len + 1);
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return OCRQ_ERR_IO;
        *p = c;
        if (!c)
            break;
    }
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return OCRQ_ERR_IO;
    if (!S_ISDIR(sb.st_mode)) {
        errno = ENOTDIR;
        return OCRQ_ERR_IO;
    }
    return OCRQ_OK;
}

/* The poll state: pending input indices, sorted by job id for lookups. */
struct waiter {
    struct submit_run *run;
    size_t *pending;
    size_t npending;
    const char **ids; /* job ids of one slice */
    size_t *slice;    /* the slice being polled: a part of pending */
    size_t nslice;
    struct ocrq_db *db;
    long long pages_finished; /* pages of the finished jobs */
};

static int cmp_by_id(const void *a, const void *b, void *arg)
{
    const struct submit_item *items = arg;
    return strcmp(items[*(const size_t *)a].job_id, items[*(const size_t *)b].job_id);
}

/*
 * Open the temporary file of dir/name.ext (path gets the final name, tmp the
 * temporary one). Returns the descriptor, or -1 with errno set.
 */
static int output_open(const char *dir, const char *name, const char *ext, char *path,
                       size_t pathlen, char *tmp, size_t tmplen)
{
    if ((size_t)snprintf(path, pathlen, "%s/%s.%s", dir, name, ext) >= pathlen ||
        (size_t)snprintf(tmp, tmplen, "%s/.%s.%s.tmp", dir, name, ext) >= tmplen) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
}

/* Close fd and move tmp to path when st is OCRQ_OK, else drop tmp; errno says why on error. */
static int output_finish(int fd, const char *tmp, const char *path, int st)
{
    int saved = errno;

    if (close(fd) != 0 && st == OCRQ_OK) {
        saved = errno;
        st = OCRQ_ERR_IO;
    }
    if (st == OCRQ_OK && rename(tmp, path) != 0) {
        saved = errno;
        st = OCRQ_ERR_IO;
    }
    if (st != OCRQ_OK)
        unlink(tmp);
    errno = saved;
    return st;
}

/* Write len bytes of data to dir/name.ext through a temporary file, so a reader never sees half. */
static int write_output(const char *dir, const char *name, const char *ext, const void *data,
                        size_t len, char *path, size_t pathlen)
{
    const char *text = data;
    char tmp[PATH_MAX];
    int fd = output_open(dir, name, ext, path, pathlen, tmp, sizeof tmp), st = OCRQ_OK;

    if (fd < 0)
        return OCRQ_ERR_IO;
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            st = OCRQ_ERR_IO;
            break;
        }
        off += (size_t)w;
    }
    return output_finish(fd, tmp, path, st);
}

/*
 * Write the stored blob blob_id to dir/name.ext the same way, streamed from
 * the store a chunk (1 MiB) at a time: never whole in memory. Returns
 * OCRQ_OK, OCRQ_ERR_IO (errno set), or the store's error (OCRQ_ERR_NOT_FOUND,
 * OCRQ_ERR_DB).
 */
static int write_stored_output(struct ocrq_db *db, const char *blob_id, const char *dir,
                               const char *name, const char *ext, char *path, size_t pathlen)
{
    char tmp[PATH_MAX];
    long long size = 0;
    int fd = output_open(dir, name, ext, path, pathlen, tmp, sizeof tmp);

    if (fd < 0)
        return OCRQ_ERR_IO;
    return output_finish(fd, tmp, path, ocrq_blob_read_fd(db, blob_id, fd, &size));
}

/* --output of one job's artifacts: what was asked, what was written, the first problem. */
struct art_out {
    struct submit_run *run;
    struct ocrq_db *db;
    size_t idx; /* input */
    unsigned want, written;
    int failed;
};

static void on_artifact(void *arg, const struct ocrq_db_artifact *a)
{
    struct art_out *ao = arg;
    struct submit_run *run = ao->run;
    const char *source = run->inputs->items[ao->idx].source;
    unsigned bit = ocrq_format_from_name(a->format);
    char path[PATH_MAX];

    if (!(ao->want & bit))
        return;
    ao->written |= bit;
    if (a->blob_id) {
        /*
         * In the store: read it chunk by chunk now. The artifacts' result is
         * complete in memory (PQexecParams), so the connection is free for
         * these queries while it is held.
         */
        int st =
            write_stored_output(ao->db, a->blob_id, run->opts->output_dir, run->out_names[ao->idx],
                                ocrq_format_ext(bit), path, sizeof path);
        if (st == OCRQ_ERR_IO)
            submit_report(run, source, "cannot write %s: %s", path, strerror(errno));
        else if (st != OCRQ_OK)
            submit_report(run, source, "cannot read the stored %s (blob %s): %s", a->format,
                          a->blob_id, ocrq_strerror(st));
        ao->failed |= st != OCRQ_OK;
        return;
    }
    if (!a->data) {
        submit_report(run, source, "%s was not stored: %s", a->format,
                      a->error ? a->error : "no reason given");
        ao->failed = 1;
        return;
    }
    if (write_output(run->opts->output_dir, run->out_names[ao->idx], ocrq_format_ext(bit), a->data,
                     a->len, path, sizeof path) != OCRQ_OK) {
        submit_report(run, source, "cannot write %s: %s", path, strerror(errno));
        ao->failed = 1;
    }
}

/*
 * --output: the files of a succeeded job, one per format asked for.
 * Returns 0 when every one was written, else -1 (each problem reported).
 */
static int write_outputs(struct waiter *w, size_t idx, const struct ocrq_db_finished *f)
{
    struct submit_run *run = w->run;
    const char *source = run->inputs->items[idx].source;
    struct art_out ao = {run, w->db, idx, run->opts->formats ? run->opts->formats : OCRQ_FMT_TXT,
                         0,   0};
    char path[PATH_MAX];

    if ((ao.want & OCRQ_FMT_TXT) &&
        write_output(run->opts->output_dir, run->out_names[idx], ocrq_format_ext(OCRQ_FMT_TXT),
                     f->text, f->text ? strlen(f->text) : 0, path, sizeof path) != OCRQ_OK) {
        submit_report(run, source, "cannot write %s: %s", path, strerror(errno));
        ao.failed = 1;
    }
    if (!(ao.want & OCRQ_FMT_ARTIFACTS))
        return ao.failed ? -1 : 0;
    /* the poll's result is already read whole, so the connection is free for this */
    int st = ocrq_db_artifacts_get(w->db, f->job_id, on_artifact, &ao);
    if (st != OCRQ_OK) {
        submit_report(run, source, "database: cannot read the artifacts: %s", ocrq_strerror(st));
        return -1;
    }
    for (unsigned bit = 1; bit <= OCRQ_FMT_ALL; bit <<= 1) {
        if ((ao.want & OCRQ_FMT_ARTIFACTS & bit) && !(ao.written & bit)) {
            submit_report(run, source, "no %s was stored for job %s", ocrq_format_name(bit),
                          f->job_id);
            ao.failed = 1;
        }
    }
    return ao.failed ? -1 : 0;
}

/* One job of the slice is finished. */
static void on_finished(void *arg, const struct ocrq_db_finished *f)
{
    struct waiter *w = arg;
    struct submit_run *run = w->run;
    struct submit_result *res = run->res;
    const size_t *hit = NULL;
    char err[1024];

    /* The slice is sorted by job id. */
    size_t lo = 0, hi = w->nslice;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(run->items[w->slice[mid]].job_id, f->job_id);
        if (c == 0) {
            hit = &w->slice[mid];
            break;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (!hit)
        return;
    size_t key_idx = *hit;
    struct submit_item *it = &run->items[key_idx];
    const char *source = run->inputs->items[key_idx].source;
    if (it->state != ITEM_QUEUED)
        return;

    w->pages_finished += f->pages;
    if (f->succeeded) {
        it->state = ITEM_SUCCEEDED;
        res->succeeded++;
        if (run->opts->output_dir && write_outputs(w, key_idx, f) != 0) {
            it->state = ITEM_FAILED; /* the user does not have the result */
            res->succeeded--;
            res->failed++;
        }
        if (run->opts->json)
            submit_json(run, key_idx, it->job_id, "succeeded", NULL);
        return;
    }
    if (f->canceled) {
        it->state = ITEM_CANCELED;
        res->canceled++;
        submit_report(run, source, "canceled");
        if (run->opts->json)
            submit_json(run, key_idx, it->job_id, "canceled", NULL);
        return;
    }
    it->state = ITEM_FAILED;
    res->failed++;
    snprintf(err, sizeof err, "%s: %s", f->error_code ? f->error_code : "unknown",
             f->error_message ? f->error_message : "");
    submit_report(run, source, "failed: %s", err);
    if (run->opts->json)
        submit_json(run, key_idx, it->job_id, "failed", err);
}

/* Poll every slice of pending once, then drop the finished from pending. */
static int poll_once(struct waiter *w, int want_text)
{
    struct submit_run *run = w->run;

    for (size_t off = 0; off < w->npending; off += WAIT_POLL_IDS_MAX) {
        w->slice = w->pending + off;
        w->nslice = w->npending - off < WAIT_POLL_IDS_MAX ? w->npending - off : WAIT_POLL_IDS_MAX;
        for (size_t k = 0; k < w->nslice; k++)
            w->ids[k] = run->items[w->slice[k]].job_id;
        int st = ocrq_db_poll_finished(w->db, w->ids, w->nslice, want_text, on_finished, w);
        if (st != OCRQ_OK)
            return st;
    }
    size_t kept = 0;
    for (size_t k = 0; k < w->npending; k++)
        if (run->items[w->pending[k]].state == ITEM_QUEUED)
            w->pending[kept++] = w->pending[k];
    w->npending = kept;
    return OCRQ_OK;
}

/*
 * Pages of the run for the progress line: those of the finished jobs and
 * those done and known of the jobs under way (one query per slice, only
 * when the line is shown). A failed query only leaves the line as it was.
 */
static void poll_pages(struct waiter *w)
{
    struct submit_run *run = w->run;
    long long done = 0, total = 0;

    for (size_t off = 0; off < w->npending; off += WAIT_POLL_IDS_MAX) {
        size_t n = w->npending - off < WAIT_POLL_IDS_MAX ? w->npending - off : WAIT_POLL_IDS_MAX;
        long long d, t;

        for (size_t k = 0; k < n; k++)
            w->ids[k] = run->items[w->pending[off + k]].job_id;
        if (ocrq_db_poll_pages(w->db, w->ids, n, &d, &t) != OCRQ_OK)
            return;
        done += d;
        total += t;
    }
    progress_pages(&run->progress, w->pages_finished + done, w->pages_finished + total);
}

static void sleep_ms(double ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {(time_t)(ms / 1000),
                          (long)((ms - (double)(long)(ms / 1000) * 1000) * 1e6)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Follow the queued jobs to the end; see wait.h. */
int wait_run(struct submit_run *run, struct ocrq_db *db)
{
    struct waiter w = {run, NULL, 0, NULL, NULL, 0, db, 0};
    struct submit_result *res = run->res;
    const struct submit_opts *o = run->opts;
    double deadline = o->timeout_s > 0 ? progress_now() + o->timeout_s : 0;
    int poll_ms = run->cfg->wait_poll_ms > 0 ? run->cfg->wait_poll_ms : 250;
    int st = OCRQ_OK;

    w.pending = malloc((run->inputs->n ? run->inputs->n : 1) * sizeof *w.pending);
    w.ids = malloc(WAIT_POLL_IDS_MAX * sizeof *w.ids);
    if (!w.pending || !w.ids) {
        submit_report(run, NULL, "%s", ocrq_strerror(OCRQ_ERR_NOMEM));
        st = OCRQ_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < run->inputs->n; i++)
        if (run->items[i].state == ITEM_QUEUED)
            w.pending[w.npending++] = i;
    qsort_r(w.pending, w.npending, sizeof *w.pending, cmp_by_id, run->items);

    while (w.npending > 0) {
        st = poll_once(&w, o->output_dir != NULL);
        if (st != OCRQ_OK) {
            submit_report(run, NULL, "database: cannot poll the jobs: %s", ocrq_strerror(st));
            st = OCRQ_ERR_DB;
            break;
        }
        if (run->progress.enabled)
            poll_pages(&w);
        progress_update(&run->progress, res->submitted, res->succeeded,
                        res->errors + res->failed + res->canceled);
        fflush(stdout);
        if (w.npending == 0)
            break;
        double now = progress_now();
        if (deadline > 0 && now >= deadline) {
            res->timed_out = 1;
            break;
        }
        double ms = poll_ms;
        if (deadline > 0 && (deadline - now) * 1000 < ms)
            ms = (deadline - now) * 1000;
        sleep_ms(ms);
    }
    res->pending = w.npending;
    if (res->timed_out) {
        submit_report(run, NULL, "timed out after %g s: %zu jobs still pending", o->timeout_s,
                      w.npending);
        if (o->json) /* one line per input, even for those still pending */
            for (size_t k = 0; k < w.npending; k++)
                submit_json(run, w.pending[k], run->items[w.pending[k]].job_id, "queued", NULL);
    }
out:
    free(w.ids);
    free(w.pending);
    return st;
}
