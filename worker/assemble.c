/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The assembler's entry point and its text formats: hOCR, ALTO and TSV are
 * streamed page by page, keeping the first page's header and the last page's
 * footer and renumbering each page's ids the way Tesseract numbers them in a
 * multi-page document. The words JSON is in assemble_words.c, the PDF in
 * assemble_pdf.c.
 */
#include "assemble.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "assemble_internal.h"
#include "ocrq/formats.h"
#include "ocrq/status.h"

/*
 * What tells a page's part apart in Tesseract's XML renderers, and how its
 * ids change with the page. page_open starts the one page element (its
 * line starts the page's part); the footer starts on end_tag's line; a 0
 * after number, in the page's start tag, is the 0-based page number.
 */
struct xml_fmt {
    const char *name;
    const char *page_open;
    const char *end_tag;
    const char *root_close;
    const char *number;
    const char *id; /* the id attribute up to its value, ending in the quote */
    int (*fix_id)(struct asm_ctx *c, const struct xml_fmt *f, int k, const char *v, size_t n);
};

static int hocr_id(struct asm_ctx *c, const struct xml_fmt *f, int k, const char *v, size_t n);
static int alto_id(struct asm_ctx *c, const struct xml_fmt *f, int k, const char *v, size_t n);

/* hOCR (hocrrenderer.cpp): ids are <prefix><page, 1-based>[_<count>...], "ppageno 0". */
static const struct xml_fmt hocr = {
    "hocr", "<div class='ocr_page'", "</body>", "</html>", "; ppageno ", " id='", hocr_id,
};

/*
 * ALTO (altorenderer.cpp): the Page is "page_<page, 0-based>" with
 * PHYSICAL_IMG_NR the same; the other ids are <prefix>_<count>, counted
 * afresh on every page. Tesseract 5.3 writes those unchanged on every page,
 * so a multi-page document repeats them. Upstream fixed that after 5.5.0
 * (tesseract-ocr/tesseract#4386, January 2025): the pages after the first
 * get <prefix>_<page, 0-based>_<count>, unique as ALTO's schema (xsd:ID)
 * requires, page 1 unchanged. That is what is written.
 */
static const struct xml_fmt alto = {
    "alto", "<Page ", "</Layout>", "</alto>", " PHYSICAL_IMG_NR=\"", " ID=\"", alto_id,
};

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int asm_flush(struct asm_ctx *c)
{
    if (c->st == OCRQ_OK && c->len > 0 && write_all(c->fd, c->buf, c->len) != 0) {
        snprintf(c->why, c->whylen, "cannot write the assembled artifact: %s", strerror(errno));
        c->st = OCRQ_ERR_IO;
    }
    c->len = 0;
    return c->st;
}

void asm_write(struct asm_ctx *c, const void *p, size_t n)
{
    if (c->st != OCRQ_OK)
        return;
    if (c->len + n > sizeof c->buf && asm_flush(c) != OCRQ_OK)
        return;
    if (n > sizeof c->buf) {
        if (write_all(c->fd, p, n) != 0) {
            snprintf(c->why, c->whylen, "cannot write the assembled artifact: %s", strerror(errno));
            c->st = OCRQ_ERR_IO;
        }
        return;
    }
    memcpy(c->buf + c->len, p, n);
    c->len += n;
}

void asm_puts(struct asm_ctx *c, const char *s)
{
    asm_write(c, s, strlen(s));
}

void asm_int(struct asm_ctx *c, long long v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%lld", v);

    asm_write(c, num, (size_t)n);
}

int asm_bad(struct asm_ctx *c, int k, const char *format, const char *reason)
{
    snprintf(c->why, c->whylen, "page %d's %s artifact: %s", k, format, reason);
    return OCRQ_ERR_DECODE;
}

/* The last occurrence of needle in p[0..len), or NULL. */
static const char *rfind(const char *p, size_t len, const char *needle)
{
    size_t nl = strlen(needle);
    const char *last = NULL, *at;

    while ((at = memmem(p, len, needle, nl)) != NULL) {
        last = at;
        len -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    return last;
}

static const char *line_start(const char *p, const char *at)
{
    while (at > p && at[-1] != '\n')
        at--;
    return at;
}

static size_t digits(const char *v, size_t n)
{
    size_t i = 0;

    while (i < n && v[i] >= '0' && v[i] <= '9')
        i++;
    return i;
}

static size_t letters(const char *v, size_t n)
{
    size_t i = 0;

    while (i < n && ((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') || v[i] == '_'))
        i++;
    return i;
}

/* "word_1_4" on page k: "word_k_4". The page is the first number, 1 on a one-page document. */
static int hocr_id(struct asm_ctx *c, const struct xml_fmt *f, int k, const char *v, size_t n)
{
    size_t pre = letters(v, n), d = digits(v + pre, n - pre);

    if (d != 1 || v[pre] != '1' || (pre + 1 < n && v[pre + 1] != '_'))
        return asm_bad(c, k, f->name, "an id that is not of page 1");
    asm_write(c, v, pre);
    asm_int(c, k);
    asm_write(c, v + pre + 1, n - pre - 1);
    return c->st;
}

/* "page_0" on page k: "page_<k-1>"; "line_3": "line_3" on page 1, "line_<k-1>_3" after. */
static int alto_id(struct asm_ctx *c, const struct xml_fmt *f, int k, const char *v, size_t n)
{
    size_t pre = letters(v, n), d = digits(v + pre, n - pre);

    if (pre < 2 || v[pre - 1] != '_' || d == 0 || pre + d != n)
        return asm_bad(c, k, f->name, "an ID that is not <name>_<number>");
    if (pre == 5 && memcmp(v, "page_", 5) == 0) {
        if (d != 1 || v[pre] != '0')
            return asm_bad(c, k, f->name, "a Page ID that is not page_0");
        asm_write(c, v, pre);
        asm_int(c, k - 1);
        return c->st;
    }
    asm_write(c, v, pre);
    if (k > 1) {
        asm_int(c, k - 1);
        asm_write(c, "_", 1);
    }
    asm_write(c, v + pre, d);
    return c->st;
}

/* Copy s..e to the output with every id's value as f->fix_id makes it. */
static int rewrite_ids(struct asm_ctx *c, const struct xml_fmt *f, int k, const char *s,
                       const char *e)
{
    size_t ml = strlen(f->id);
    char quote = f->id[ml - 1];

    while (s < e) {
        const char *a = memmem(s, (size_t)(e - s), f->id, ml), *v, *q;
        if (!a) {
            asm_write(c, s, (size_t)(e - s));
            break;
        }
        v = a + ml;
        q = memchr(v, quote, (size_t)(e - v));
        if (!q)
            return asm_bad(c, k, f->name, "an id without its closing quote");
        asm_write(c, s, (size_t)(v - s));
        int st = f->fix_id(c, f, k, v, (size_t)(q - v));
        if (st != OCRQ_OK)
            return st;
        s = q;
    }
    return c->st;
}

/*
 * One page of hOCR or ALTO: header (page 1) | page element | footer (last
 * page). The page element is copied with its ids renumbered and the 0 after
 * f->number in its start tag (the last one there: an hOCR image name comes
 * first and may hold anything but quotes and markup) made k-1.
 */
static int xml_page(struct asm_ctx *c, const struct xml_fmt *f, int k, const char *p, size_t len)
{
    const char *end = p + len, *open, *ls, *endt, *lb, *tag_end, *num;

    if (len < 6 || memcmp(p, "<?xml ", 6) != 0)
        return asm_bad(c, k, f->name, "no XML declaration");
    open = memmem(p, len, f->page_open, strlen(f->page_open));
    if (!open)
        return asm_bad(c, k, f->name, "no page");
    if (memmem(open + 1, (size_t)(end - open - 1), f->page_open, strlen(f->page_open)))
        return asm_bad(c, k, f->name, "more than one page");
    endt = rfind(open, (size_t)(end - open), f->end_tag);
    if (!endt || !rfind(endt, (size_t)(end - endt), f->root_close))
        return asm_bad(c, k, f->name, "cut short");
    ls = line_start(p, open);
    lb = line_start(p, endt);
    if (lb <= open)
        return asm_bad(c, k, f->name, "the page and the end on one line");
    tag_end = memchr(open, '>', (size_t)(lb - open));
    num = tag_end ? rfind(open, (size_t)(tag_end - open), f->number) : NULL;
    if (!num)
        return asm_bad(c, k, f->name, "no page number in the page's start tag");
    num += strlen(f->number);
    if (num[0] != '0' || (num[1] >= '0' && num[1] <= '9'))
        return asm_bad(c, k, f->name, "a page number that is not 0");
    if (k == 1)
        asm_write(c, p, (size_t)(ls - p));
    int st = rewrite_ids(c, f, k, ls, num);
    if (st != OCRQ_OK)
        return st;
    asm_int(c, k - 1);
    st = rewrite_ids(c, f, k, num + 1, lb);
    if (st != OCRQ_OK)
        return st;
    if (k == c->n_pages)
        asm_write(c, lb, (size_t)(end - lb));
    return c->st;
}

static int hocr_page(struct asm_ctx *c, int k, const char *p, size_t len)
{
    return xml_page(c, &hocr, k, p, len);
}

static int alto_page(struct asm_ctx *c, int k, const char *p, size_t len)
{
    return xml_page(c, &alto, k, p, len);
}

/* TSV (TessTsvRenderer): the header once, then each row with page_num (column 2) made k. */
static int tsv_page(struct asm_ctx *c, int k, const char *p, size_t len)
{
    static const char header[] = "level\tpage_num\t";
    const char *end = p + len, *nl = memchr(p, '\n', len);

    if (len < sizeof header - 1 || memcmp(p, header, sizeof header - 1) != 0 || !nl)
        return asm_bad(c, k, "tsv", "no header line");
    if (k == 1)
        asm_write(c, p, (size_t)(nl + 1 - p));
    for (const char *row = nl + 1; row < end; row = nl + 1) {
        nl = memchr(row, '\n', (size_t)(end - row));
        if (!nl)
            return asm_bad(c, k, "tsv", "a row without its newline (cut short?)");
        size_t lvl = digits(row, (size_t)(nl - row));
        if (lvl == 0 || row + lvl + 3 > nl || memcmp(row + lvl, "\t1\t", 3) != 0)
            return asm_bad(c, k, "tsv", "a row that is not <level> TAB 1 TAB ...");
        asm_write(c, row, lvl + 1);
        asm_int(c, k);
        asm_write(c, row + lvl + 2, (size_t)(nl + 1 - (row + lvl + 2)));
    }
    return c->st;
}

/* The streamed formats, each a page at a time. */
static const struct {
    unsigned format;
    int (*page)(struct asm_ctx *c, int k, const char *p, size_t len);
} streamed[] = {
    {OCRQ_FMT_HOCR, hocr_page},
    {OCRQ_FMT_ALTO, alto_page},
    {OCRQ_FMT_TSV, tsv_page},
    {OCRQ_FMT_WORDS, asm_words_page},
};

static int assemble_streamed(int (*page)(struct asm_ctx *, int, const char *, size_t),
                             struct asm_ctx *c, ocrq_assemble_page_fn fn, void *arg)
{
    int st = OCRQ_OK;

    for (int k = 1; k <= c->n_pages && st == OCRQ_OK; k++) {
        unsigned char *data = NULL;
        size_t len = 0;
        st = fn(arg, k, &data, &len);
        if (st != OCRQ_OK) {
            snprintf(c->why, c->whylen, "cannot fetch page %d: %s", k, ocrq_strerror(st));
        } else if (!data) {
            st = asm_bad(c, k, ocrq_format_name(c->format), "missing");
        } else {
            st = page(c, k, (const char *)data, len);
        }
        free(data);
    }
    if (st == OCRQ_OK)
        st = asm_flush(c);
    return st;
}

int ocrq_assemble(unsigned format, int n_pages, ocrq_assemble_page_fn fn, void *arg, int out_fd,
                  char *why, size_t whylen)
{
    char ignored[256];
    struct asm_ctx *c = NULL;
    int st = OCRQ_ERR_INVALID;

    if (!why || whylen == 0) {
        why = ignored;
        whylen = sizeof ignored;
    }
    why[0] = '\0';
    if (n_pages < 1 || !fn) {
        snprintf(why, whylen, "nothing to assemble: %d pages", n_pages);
        goto out;
    }
    if (format == OCRQ_FMT_PDF) {
        st = asm_pdf(n_pages, fn, arg, out_fd, why, whylen);
        goto out;
    }
    for (size_t i = 0; i < sizeof streamed / sizeof streamed[0]; i++) {
        if (streamed[i].format != format)
            continue;
        st = OCRQ_ERR_NOMEM;
        c = calloc(1, sizeof *c);
        if (!c || (format == OCRQ_FMT_WORDS &&
                   !(c->sizes = calloc((size_t)n_pages, sizeof c->sizes[0])))) {
            snprintf(why, whylen, "out of memory assembling %d pages", n_pages);
            goto out;
        }
        c->fd = out_fd;
        c->n_pages = n_pages;
        c->format = format;
        c->why = why;
        c->whylen = whylen;
        st = assemble_streamed(streamed[i].page, c, fn, arg);
        goto out;
    }
    snprintf(why, whylen, "no assembly for format %#x", format);
out:
    if (c)
        free(c->sizes);
    free(c);
    return st;
}
