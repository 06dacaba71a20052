/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The outputs of one document beside its text, for the Tesseract backend:
 * Tesseract's hOCR, ALTO, TSV and PDF renderers, which write files, into a
 * private temporary directory that is read back and removed at the end; and
 * the words JSON, built in memory from the result iterator.
 */
#include "tess_outputs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <leptonica/allheaders.h>

#include "ocrq/dynbuf.h"
#include "ocrq/formats.h"
#include "ocrq/json.h"
#include "ocrq/log.h"
#include "ocrq/status.h"

#define N_RENDERERS 4

/* A capped dynbuf that stops keeping bytes past its cap but goes on counting them. */
struct buf {
    struct ocrq_dynbuf d;
    size_t total; /* bytes appended, kept or not */
    int nomem;    /* a string could not be quoted for want of memory */
};

struct ocrq_outputs {
    unsigned formats;
    long long max_bytes;
    char dir[PATH_MAX]; /* the renderers' private directory; "" when none was needed */
    TessResultRenderer *r[N_RENDERERS];
    int pages;
    struct buf words; /* {"words":[...  */
    struct buf sizes; /* ,"pages":[...  (small) */
};

/* The renderers, in the order of r[]: format, file extension Tesseract gives. */
static const struct {
    unsigned format;
    const char *ext;
} renderers[N_RENDERERS] = {
    {OCRQ_FMT_HOCR, "hocr"},
    {OCRQ_FMT_ALTO, "xml"},
    {OCRQ_FMT_TSV, "tsv"},
    {OCRQ_FMT_PDF, "pdf"},
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
    b->total += n;
    ocrq_dynbuf_add(&b->d, s, n); /* over the cap it frees what it had: only the size is reported */
}

static int buf_nomem(const struct buf *b)
{
    return b->nomem || ocrq_dynbuf_status(&b->d) == OCRQ_ERR_NOMEM;
}

__attribute__((format(printf, 2, 3))) static void buf_printf(struct buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        buf_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* s as a JSON string (ocrq_json_quote()): bytes that are not UTF-8 become U+FFFD. */
static void buf_json_str(struct buf *b, const char *s)
{
    char *q = ocrq_json_quote(s);

    if (!q) {
        b->nomem = 1;
        return;
    }
    buf_add(b, q, strlen(q));
    free(q);
}

/* The title Tesseract writes into the documents' headers unescaped: keep it markup-free. */
static void safe_title(const char *title, char *out, size_t len)
{
    size_t i = 0;

    for (; title && *title && i + 1 < len; title++)
        out[i++] = strchr("<>&\"'", *title) || (unsigned char)*title < 0x20 ? '_' : *title;
    out[i] = '\0';
}

static TessResultRenderer *renderer_new(unsigned format, const char *base, const char *datadir)
{
    switch (format) {
    case OCRQ_FMT_HOCR:
        return TessHOcrRendererCreate(base);
    case OCRQ_FMT_ALTO:
        return TessAltoRendererCreate(base);
    case OCRQ_FMT_TSV:
        return TessTsvRendererCreate(base);
    case OCRQ_FMT_PDF:
        return TessPDFRendererCreate(base, datadir, 0);
    }
    return NULL;
}

int ocrq_tess_outputs_begin(const char *datadir, unsigned formats, const char *title,
                            long long max_bytes, struct ocrq_outputs **out, char *why,
                            size_t whylen)
{
    struct ocrq_outputs *o = NULL;
    char base[PATH_MAX + 8], clean[256];
    const char *tmp = getenv("TMPDIR");
    int st = OCRQ_ERR_NOMEM;

    *out = NULL;
    o = calloc(1, sizeof *o);
    if (!o)
        goto out;
    o->formats = formats;
    o->max_bytes = max_bytes;
    ocrq_dynbuf_init(&o->words.d, (size_t)max_bytes);
    ocrq_dynbuf_init(&o->sizes.d, (size_t)max_bytes);
    safe_title(title, clean, sizeof clean);
    if (formats & (OCRQ_FMT_HOCR | OCRQ_FMT_ALTO | OCRQ_FMT_TSV | OCRQ_FMT_PDF)) {
        snprintf(o->dir, sizeof o->dir, "%s/ocrq-outputs-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(o->dir)) {
            snprintf(why, whylen, "cannot make a temporary directory in %s: %s",
                     tmp && *tmp ? tmp : "/tmp", strerror(errno));
            o->dir[0] = '\0';
            st = OCRQ_ERR_IO;
            goto out;
        }
        snprintf(base, sizeof base, "%s/out", o->dir);
        log_debug(NULL, "outputs: tesseract's renderers write in %s", o->dir);
    }
    for (int i = 0; i < N_RENDERERS; i++) {
        if (!(formats & renderers[i].format))
            continue;
        o->r[i] = renderer_new(renderers[i].format, base, datadir);
        /* the renderer opened its file when made; Begin says whether that worked */
        if (!o->r[i] || !TessResultRendererBeginDocument(o->r[i], clean)) {
            snprintf(why, whylen, "tesseract's %s renderer cannot write to %s",
                     ocrq_format_name(renderers[i].format), o->dir);
            st = OCRQ_ERR_IO;
            goto out;
        }
    }
    if (formats & OCRQ_FMT_WORDS) {
        buf_add(&o->words, "{\"words\":[", 10);
        buf_add(&o->sizes, "],\"pages\":[", 11);
    }
    *out = o;
    o = NULL;
    st = OCRQ_OK;
out:
    ocrq_tess_outputs_free(o);
    return st;
}

/* The words of the page api holds, appended to o->words; lines counted from 1 on each page. */
static void page_words(struct ocrq_outputs *o, TessBaseAPI *api, int page)
{
    TessResultIterator *it = TessBaseAPIGetIterator(api);
    TessPageIterator *pi;
    int line = 0;

    if (!it)
        return;
    pi = TessResultIteratorGetPageIterator(it); /* the same object: not freed apart */
    do {
        int x0, y0, x1, y1;
        if (TessPageIteratorIsAtBeginningOf(pi, RIL_TEXTLINE))
            line++;
        char *text = TessResultIteratorGetUTF8Text(it, RIL_WORD);
        if (!text)
            continue;
        if (text[0] && TessPageIteratorBoundingBox(pi, RIL_WORD, &x0, &y0, &x1, &y1)) {
            if (o->words.total > 10) /* past {"words":[ */
                buf_add(&o->words, ",", 1);
            buf_add(&o->words, "{\"text\":", 8);
            buf_json_str(&o->words, text);
            buf_printf(&o->words,
                       ",\"confidence\":%.2f,\"box\":[%d,%d,%d,%d],\"page\":%d,"
                       "\"line\":%d}",
                       TessResultIteratorConfidence(it, RIL_WORD), x0, y0, x1, y1, page, line);
        }
        TessDeleteText(text);
    } while (TessPageIteratorNext(pi, RIL_WORD));
    TessResultIteratorDelete(it);
}

int ocrq_tess_outputs_page(struct ocrq_outputs *o, TessBaseAPI *api, struct Pix *pix, char *why,
                           size_t whylen)
{
    o->pages++;
    for (int i = 0; i < N_RENDERERS; i++) {
        if (o->r[i] && !TessResultRendererAddImage(o->r[i], api)) {
            snprintf(why, whylen, "tesseract's %s renderer failed on page %d",
                     ocrq_format_name(renderers[i].format), o->pages);
            return OCRQ_ERR_OCR;
        }
    }
    if (o->formats & OCRQ_FMT_WORDS) {
        page_words(o, api, o->pages);
        buf_printf(&o->sizes, "%s{\"page\":%d,\"width\":%d,\"height\":%d}", o->pages > 1 ? "," : "",
                   o->pages, pixGetWidth(pix), pixGetHeight(pix));
        if (buf_nomem(&o->words) || buf_nomem(&o->sizes)) {
            snprintf(why, whylen, "out of memory building the word list");
            return OCRQ_ERR_NOMEM;
        }
    }
    return OCRQ_OK;
}

/* Read path into *art unless it is larger than max: then only its size. */
static int read_back(const char *path, long long max, struct ocrq_artifact *art, char *why,
                     size_t whylen)
{
    struct stat sb;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC), st = OCRQ_OK;

    if (fd < 0 || fstat(fd, &sb) != 0) {
        snprintf(why, whylen, "cannot read back %s: %s", path, strerror(errno));
        st = OCRQ_ERR_IO;
        goto out;
    }
    art->len = (size_t)sb.st_size;
    if ((long long)sb.st_size > max)
        goto out;
    art->data = malloc(art->len ? art->len : 1);
    if (!art->data) {
        st = OCRQ_ERR_NOMEM;
        goto out;
    }
    while (got < art->len) {
        ssize_t r = read(fd, art->data + got, art->len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            snprintf(why, whylen, "cannot read back %s: %s", path,
                     r < 0 ? strerror(errno) : "shorter than it was");
            st = OCRQ_ERR_IO;
            goto out;
        }
        got += (size_t)r;
    }
out:
    if (st != OCRQ_OK) {
        free(art->data);
        art->data = NULL;
    }
    if (fd >= 0)
        close(fd);
    return st;
}

int ocrq_tess_outputs_end(struct ocrq_outputs *o, struct ocrq_artifact *arts, int *n, char *why,
                          size_t whylen)
{
    char path[PATH_MAX + 16];
    int st = OCRQ_OK;

    *n = 0;
    for (int i = 0; i < N_RENDERERS && st == OCRQ_OK; i++) {
        if (!o->r[i])
            continue;
        int ok = TessResultRendererEndDocument(o->r[i]);
        TessDeleteResultRenderer(o->r[i]); /* closes its file */
        o->r[i] = NULL;
        if (!ok) {
            snprintf(why, whylen, "tesseract's %s renderer could not finish",
                     ocrq_format_name(renderers[i].format));
            st = OCRQ_ERR_OCR;
            break;
        }
        snprintf(path, sizeof path, "%s/out.%s", o->dir, renderers[i].ext);
        memset(&arts[*n], 0, sizeof arts[*n]);
        arts[*n].format = renderers[i].format;
        st = read_back(path, o->max_bytes, &arts[*n], why, whylen);
        if (st == OCRQ_OK)
            (*n)++;
    }
    if (st == OCRQ_OK && (o->formats & OCRQ_FMT_WORDS)) {
        const char *sizes = ocrq_dynbuf_ptr(&o->sizes.d);
        buf_add(&o->words, sizes ? sizes : "", ocrq_dynbuf_len(&o->sizes.d));
        buf_add(&o->words, "]}\n", 3);
        if (buf_nomem(&o->words) || buf_nomem(&o->sizes)) {
            snprintf(why, whylen, "out of memory building the word list");
            st = OCRQ_ERR_NOMEM;
        } else {
            arts[*n].format = OCRQ_FMT_WORDS;
            /* NULL when over the cap */
            arts[*n].data = (unsigned char *)ocrq_dynbuf_take(&o->words.d, NULL);
            arts[*n].len = o->words.total;
            (*n)++;
        }
    }
    if (st != OCRQ_OK) {
        for (int i = 0; i < *n; i++)
            free(arts[i].data);
        *n = 0;
    }
    return st;
}

void ocrq_tess_outputs_free(struct ocrq_outputs *o)
{
    char path[PATH_MAX + 16];

    if (!o)
        return;
    for (int i = 0; i < N_RENDERERS; i++)
        if (o->r[i])
            TessDeleteResultRenderer(o->r[i]);
    if (o->dir[0]) {
        for (int i = 0; i < N_RENDERERS; i++) {
            snprintf(path, sizeof path, "%s/out.%s", o->dir, renderers[i].ext);
            unlink(path);
        }
        rmdir(o->dir);
    }
    ocrq_dynbuf_free(&o->words.d);
    ocrq_dynbuf_free(&o->sizes.d);
    free(o);
}
