/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The assembler's PDF: the one-page PDFs of Tesseract's PDF renderer are
 * written to a private directory and merged in page order by libqpdf's job
 * interface, as `qpdf page-1 --pages page-1 ... page-n -- out` would (the
 * first page's document keeps its /Info: producer, title); qpdf reads the
 * pages lazily. The merged file is then copied to the output. libqpdf is
 * used here only.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qpdf/Constants.h>
#include <qpdf/qpdfjob-c.h>
#include <qpdf/qpdflogger-c.h>

#include "assemble_internal.h"
#include "ocrq/log.h"
#include "ocrq/status.h"

#define PAGE_NAME "page-%06d.pdf"
#define COPY_BUF (64 * 1024)

/* The merge's private directory and the files in it. */
struct merge {
    char dir[PATH_MAX];
    size_t pathlen;  /* room for one path below dir */
    char *paths;     /* n_pages + 1 paths of pathlen: the pages, then the output */
    const char *out; /* the merged file: the last of paths */
    int written;     /* pages written so far */
    struct said {
        char text[512]; /* the start of what qpdf said at one level */
        size_t len;
    } warned, failed;
};

static char *page_path(struct merge *m, int k)
{
    return m->paths + (size_t)(k - 1) * m->pathlen;
}

static int write_file(const char *path, const unsigned char *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600), err = 0;

    if (fd < 0)
        return -1;
    while (n > 0 && !err) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            err = errno ? errno : EIO;
            break;
        }
        p += w;
        n -= (size_t)w;
    }
    if (close(fd) != 0 && !err)
        err = errno;
    if (err)
        unlink(path); /* not counted as written: gone before the directory is */
    errno = err;
    return err ? -1 : 0;
}

/* A PDF file as written whole: its header, and %%EOF at its end. */
static int looks_like_pdf(const unsigned char *p, size_t len)
{
    size_t tail = len < 64 ? len : 64;

    return len >= 8 && memcmp(p, "%PDF-", 5) == 0 && memmem(p + len - tail, tail, "%%EOF", 5);
}

/* Fetch every page and write it to the directory. */
static int write_pages(struct merge *m, int n_pages, ocrq_assemble_page_fn fn, void *arg, char *why,
                       size_t whylen)
{
    for (int k = 1; k <= n_pages; k++) {
        unsigned char *data = NULL;
        size_t len = 0;
        int st = fn(arg, k, &data, &len);
        if (st != OCRQ_OK) {
            snprintf(why, whylen, "cannot fetch page %d: %s", k, ocrq_strerror(st));
        } else if (!data || !looks_like_pdf(data, len)) {
            snprintf(why, whylen, "page %d's pdf artifact: not a whole PDF file", k);
            st = OCRQ_ERR_DECODE;
        } else if (write_file(page_path(m, k), data, len) != 0) {
            snprintf(why, whylen, "cannot write page %d to %s: %s", k, m->dir, strerror(errno));
            st = OCRQ_ERR_IO;
        } else {
            m->written = k;
        }
        free(data);
        if (st != OCRQ_OK)
            return st;
    }
    return OCRQ_OK;
}

/* qpdf's logger: keep the start of what it says, the first thing first. */
static int keep(char const *data, size_t len, void *udata)
{
    struct said *said = udata;
    size_t room = sizeof said->text - 1 - said->len;

    if (len > room)
        len = room;
    memcpy(said->text + said->len, data, len);
    said->len += len;
    said->text[said->len] = '\0';
    return 0;
}

/* The first line of what qpdf said, its file names without the private directory. */
static void said_line(const struct merge *m, char *out, size_t outlen)
{
    const char *s = m->failed.len ? m->failed.text : m->warned.text;
    size_t dl = strlen(m->dir), i = 0;

    while (*s && *s != '\n' && i + 1 < outlen) {
        if (strncmp(s, m->dir, dl) == 0 && s[dl] == '/')
            s += dl + 1;
        else
            out[i++] = *s++;
    }
    out[i] = '\0';
}

/*
 * The error of a failed merge: OCRQ_ERR_IO when qpdf could not write the
 * output, else OCRQ_ERR_DECODE, naming the page qpdf names if it names one
 * (a warning fails the merge too: the page is not as Tesseract wrote it).
 */
static int merge_error(const struct merge *m, int rc, char *why, size_t whylen)
{
    const char *said = m->failed.len ? m->failed.text : m->warned.text;
    const char *name = strstr(said, m->dir);
    size_t dl = strlen(m->dir);
    char line[256];
    int k = 0;

    said_line(m, line, sizeof line);
    if (strstr(said, m->out)) {
        snprintf(why, whylen, "qpdf cannot write the merged PDF: %s", line);
        return OCRQ_ERR_IO;
    }
    if (name && strncmp(name + dl, "/page-", 6) == 0)
        k = atoi(name + dl + 6);
    if (k > 0)
        snprintf(why, whylen, "page %d's pdf artifact: qpdf %s: %s", k,
                 rc == qpdf_exit_warning ? "warns" : "fails", line);
    else
        snprintf(why, whylen, "qpdf cannot merge the pages (exit %d): %s", rc, line);
    return OCRQ_ERR_DECODE;
}

/* qpdf FIRST --pages FIRST ... LAST -- OUT */
static int merge_pages(struct merge *m, int n_pages, char *why, size_t whylen)
{
    const char **argv = calloc((size_t)n_pages + 6, sizeof *argv);
    qpdfjob_handle j = NULL;
    qpdflogger_handle l = NULL;
    int i = 0, rc, st = OCRQ_OK;

    if (!argv) {
        snprintf(why, whylen, "out of memory merging %d pages", n_pages);
        return OCRQ_ERR_NOMEM;
    }
    argv[i++] = "qpdf";
    argv[i++] = page_path(m, 1);
    argv[i++] = "--pages";
    for (int k = 1; k <= n_pages; k++)
        argv[i++] = page_path(m, k);
    argv[i++] = "--";
    argv[i++] = m->out;
    j = qpdfjob_init();
    l = qpdflogger_create();
    qpdflogger_set_info(l, qpdf_log_dest_discard, NULL, NULL);
    qpdflogger_set_warn(l, qpdf_log_dest_custom, keep, &m->warned);
    qpdflogger_set_error(l, qpdf_log_dest_custom, keep, &m->failed);
    qpdfjob_set_logger(j, l);
    rc = qpdfjob_initialize_from_argv(j, argv);
    if (rc == qpdf_exit_success)
        rc = qpdfjob_run(j);
    if (rc != qpdf_exit_success)
        st = merge_error(m, rc, why, whylen);
    qpdfjob_cleanup(&j);
    qpdflogger_cleanup(&l);
    free(argv);
    return st;
}

static int copy_out(const char *path, int out_fd, char *why, size_t whylen)
{
    char *buf = malloc(COPY_BUF);
    int fd = open(path, O_RDONLY | O_CLOEXEC), st = OCRQ_OK;
    ssize_t r = 0;

    if (!buf) {
        st = OCRQ_ERR_NOMEM;
        goto out;
    }
    if (fd < 0) {
        snprintf(why, whylen, "cannot read the merged PDF: %s", strerror(errno));
        st = OCRQ_ERR_IO;
        goto out;
    }
    while ((r = read(fd, buf, COPY_BUF)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(why, whylen, "cannot read the merged PDF: %s", strerror(errno));
            st = OCRQ_ERR_IO;
            goto out;
        }
        for (ssize_t off = 0; off < r;) {
            ssize_t w = write(out_fd, buf + off, (size_t)(r - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                snprintf(why, whylen, "cannot write the assembled artifact: %s",
                         w < 0 ? strerror(errno) : "no progress");
                st = OCRQ_ERR_IO;
                goto out;
            }
            off += w;
        }
    }
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    return st;
}

static void merge_cleanup(struct merge *m)
{
    if (!m->dir[0])
        return;
    for (int k = 1; k <= m->written; k++)
        unlink(page_path(m, k));
    if (m->out)
        unlink(m->out);
    if (rmdir(m->dir) != 0)
        log_warn(NULL, "assemble: cannot remove %s: %s", m->dir, strerror(errno));
    free(m->paths);
}

int asm_pdf(int n_pages, ocrq_assemble_page_fn fn, void *arg, int out_fd, char *why, size_t whylen)
{
    struct merge m = {0};
    const char *tmp = getenv("TMPDIR");
    int st;

    if (!tmp || !*tmp)
        tmp = "/tmp";
    snprintf(m.dir, sizeof m.dir, "%s/ocrq-assemble-XXXXXX", tmp);
    if (!mkdtemp(m.dir)) {
        snprintf(why, whylen, "cannot make a temporary directory in %s: %s", tmp, strerror(errno));
        m.dir[0] = '\0';
        return OCRQ_ERR_IO;
    }
    m.pathlen = strlen(m.dir) + sizeof "/" PAGE_NAME + 8;
    m.paths = calloc((size_t)n_pages + 1, m.pathlen);
    if (!m.paths) {
        snprintf(why, whylen, "out of memory merging %d pages", n_pages);
        st = OCRQ_ERR_NOMEM;
        goto out;
    }
    for (int k = 1; k <= n_pages; k++)
        snprintf(page_path(&m, k), m.pathlen, "%s/" PAGE_NAME, m.dir, k);
    m.out = page_path(&m, n_pages + 1);
    snprintf(page_path(&m, n_pages + 1), m.pathlen, "%s/merged.pdf", m.dir);
    log_debug(NULL, "assemble: merging %d pages in %s", n_pages, m.dir);
    st = write_pages(&m, n_pages, fn, arg, why, whylen);
    if (st == OCRQ_OK)
        st = merge_pages(&m, n_pages, why, whylen);
    if (st == OCRQ_OK)
        st = copy_out(m.out, out_fd, why, whylen);
out:
    merge_cleanup(&m);
    return st;
}
