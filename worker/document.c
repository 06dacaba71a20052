/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Documents page by page (document.h): the type from the first bytes, one
 * table entry per type saying how to read a page's size without decoding
 * it; images and TIFF pages through Leptonica from memory, PDF pages
 * through document_pdf.c.
 */
#include "document.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leptonica/allheaders.h>

#include "document_pdf.h"
#include "image_size.h"
#include "ocrq/status.h"

#define PDF_JUNK_MAX 1024 /* bytes before %PDF- that readers accept */

struct ocrq_document {
    enum ocrq_doc_type type;
    const unsigned char *data;
    size_t len;
    struct ocrq_doc_limits lim;
    int n_pages;
    int cur; /* index of the current page; -1 before the first */
    int cur_w, cur_h;
    long long cur_pixels; /* what decoding the page allocates (a GIF: all its frames) */
    int cur_frames;
    size_t tiff_offset; /* where page tiff_offset_page starts, for pixReadMemFromMultipageTiff */
    int tiff_offset_page;
    struct ocrq_pdf *pdf;
};

/* Signatures at fixed offsets; a second one (WebP's "WEBP" at 8) when n2 > 0. */
static const struct magic {
    enum ocrq_doc_type type;
    const char *sig;
    size_t n;
    size_t off2;
    const char *sig2;
    size_t n2;
} magics[] = {
    {OCRQ_DOC_PNG, "\x89PNG\r\n\x1a\n", 8, 0, NULL, 0},
    {OCRQ_DOC_JPEG, "\xff\xd8\xff", 3, 0, NULL, 0},
    {OCRQ_DOC_TIFF, "II*\0", 4, 0, NULL, 0},
    {OCRQ_DOC_TIFF, "MM\0*", 4, 0, NULL, 0},
    {OCRQ_DOC_GIF, "GIF87a", 6, 0, NULL, 0},
    {OCRQ_DOC_GIF, "GIF89a", 6, 0, NULL, 0},
    {OCRQ_DOC_WEBP, "RIFF", 4, 8, "WEBP", 4},
    {OCRQ_DOC_JP2, "\0\0\0\x0cjP  \r\n\x87\n", 12, 0, NULL, 0},
    {OCRQ_DOC_JP2, "\xff\x4f\xff\x51", 4, 0, NULL, 0}, /* a bare JPEG 2000 codestream */
    {OCRQ_DOC_BMP, "BM", 2, 0, NULL, 0},
};

static int is_pnm(const unsigned char *d, size_t len)
{
    return len >= 3 && d[0] == 'P' && d[1] >= '1' && d[1] <= '7' &&
           (d[2] == ' ' || d[2] == '\t' || d[2] == '\n' || d[2] == '\r');
}

static int is_pdf(const unsigned char *d, size_t len)
{
    size_t window = len < PDF_JUNK_MAX + 5 ? len : PDF_JUNK_MAX + 5;
    return memmem(d, window, "%PDF-", 5) != NULL;
}

enum ocrq_doc_type ocrq_document_detect(const void *data, size_t len)
{
    const unsigned char *d = data;

    for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++) {
        const struct magic *m = &magics[i];
        if (len >= m->n && memcmp(d, m->sig, m->n) == 0 &&
            (m->n2 == 0 || (len >= m->off2 + m->n2 && memcmp(d + m->off2, m->sig2, m->n2) == 0)))
            return m->type;
    }
    if (is_pnm(d, len))
        return OCRQ_DOC_PNM;
    if (is_pdf(d, len))
        return OCRQ_DOC_PDF;
    return OCRQ_DOC_UNKNOWN;
}

static uint32_t rd16(const unsigned char *p, int be)
{
    return be ? (uint32_t)p[0] << 8 | p[1] : (uint32_t)p[1] << 8 | p[0];
}

static uint32_t rd32(const unsigned char *p, int be)
{
    return be ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
              : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/*
 * Leptonica's header readers decode the whole image for BMP and GIF
 * ("cheating: read the pix"), so their sizes come from their headers here.
 * Returns 0 with *w, *h, or -1.
 */
static int bmp_size(const unsigned char *d, size_t len, int *w, int *h)
{
    uint32_t hdr;

    if (len < 26)
        return -1;
    hdr = rd32(d + 14, 0);
    if (hdr == 12) { /* OS/2 BITMAPCOREHEADER: 16-bit sizes */
        *w = (int)rd16(d + 18, 0);
        *h = (int)rd16(d + 20, 0);
        return 0;
    }
    int32_t sw = (int32_t)rd32(d + 18, 0), sh = (int32_t)rd32(d + 22, 0);
    if (hdr < 40 || sw == INT32_MIN || sh == INT32_MIN)
        return -1;
    *w = sw < 0 ? -sw : sw;
    *h = sh < 0 ? -sh : sh; /* negative: rows top-down */
    return 0;
}

#define GIF_MAX_FRAMES 1000 /* giflib keeps every frame of a GIF in memory */

/*
 * Size of page n of an image, read from its header only, into doc->cur_w,
 * cur_h and cur_pixels (what decoding allocates). 0, or -1 with *code and why.
 */
static int image_size(struct ocrq_document *doc, int n, const char **code, char *why, size_t whylen)
{
    l_int32 lw = 0, lh = 0, bps = 0, spp = 0, res = 0, cmap = 0, format = 0;
    struct ocrq_img_size sz;
    int rc;

    doc->cur_frames = 1;
    switch (doc->type) {
    case OCRQ_DOC_BMP:
        if (bmp_size(doc->data, doc->len, &lw, &lh) != 0)
            goto damaged;
        break;
    case OCRQ_DOC_GIF:
    case OCRQ_DOC_JP2:
        rc = doc->type == OCRQ_DOC_GIF ? ocrq_gif_size(doc->data, doc->len, GIF_MAX_FRAMES, &sz)
                                       : ocrq_jp2_size(doc->data, doc->len, &sz);
        if (rc == OCRQ_IMG_TOO_MANY) {
            *code = "too_large";
            snprintf(why, whylen, "the GIF has more than %d frames", GIF_MAX_FRAMES);
            return -1;
        }
        if (rc == OCRQ_IMG_LYING) {
            *code = "decode";
            snprintf(why, whylen, "the JPEG 2000 header box and its codestream give two sizes");
            return -1;
        }
        if (rc != OCRQ_IMG_OK)
            goto damaged;
        doc->cur_w = sz.w;
        doc->cur_h = sz.h;
        doc->cur_pixels = sz.pixels;
        doc->cur_frames = sz.frames;
        return 0;
    case OCRQ_DOC_TIFF:
        if (readHeaderMemTiff(doc->data, doc->len, n, &lw, &lh, &bps, &spp, &res, &cmap, &format))
            goto damaged;
        break;
    default:
        if (pixReadHeaderMem(doc->data, doc->len, &format, &lw, &lh, &bps, &spp, &cmap))
            goto damaged;
        break;
    }
    doc->cur_w = lw;
    doc->cur_h = lh;
    doc->cur_pixels = (long long)lw * lh;
    if (lw > 0 && lh > 0)
        return 0;
damaged:
    *code = "decode";
    snprintf(why, whylen, "not a readable %s: no size in the header of page %d",
             ocrq_doc_type_name(doc->type), n + 1);
    return -1;
}

/*
 * Count the pages of a TIFF by walking its chain of image directories
 * (IFDs), reading nothing else. Stops once past cap. Returns 0 with *n, or
 * -1 if the chain leaves the file or loops.
 */
static int tiff_count(const unsigned char *d, size_t len, int cap, int *n)
{
    int be = d[0] == 'M';
    uint32_t off;
    uint32_t *seen = NULL;
    int count = 0, rc = -1;

    *n = 0;
    if (len < 8) /* the header: byte order, 42, the first directory's offset */
        return -1;
    off = rd32(d + 4, be);
    seen = calloc((size_t)cap + 1, sizeof(*seen));
    if (seen == NULL)
        return -1;
    while (off != 0 && count <= cap) {
        if (off < 8 || (size_t)off + 2 > len)
            goto out;
        size_t next_at = (size_t)off + 2 + 12 * (size_t)rd16(d + off, be);
        if (next_at + 4 > len)
            goto out;
        for (int i = 0; i < count; i++)
            if (seen[i] == off)
                goto out;
        seen[count++] = off;
        off = rd32(d + next_at, be);
    }
    *n = count;
    rc = 0;
out:
    free(seen);
    return rc;
}

static const char *type_names[] = {
    [OCRQ_DOC_UNKNOWN] = "unknown", [OCRQ_DOC_PNG] = "png", [OCRQ_DOC_JPEG] = "jpeg",
    [OCRQ_DOC_TIFF] = "tiff",       [OCRQ_DOC_PDF] = "pdf", [OCRQ_DOC_BMP] = "bmp",
    [OCRQ_DOC_PNM] = "pnm",         [OCRQ_DOC_GIF] = "gif", [OCRQ_DOC_WEBP] = "webp",
    [OCRQ_DOC_JP2] = "jp2",
};

const char *ocrq_doc_type_name(enum ocrq_doc_type type)
{
    if ((unsigned)type >= sizeof(type_names) / sizeof(type_names[0]) || !type_names[type])
        return "unknown";
    return type_names[type];
}

static const char *pdf_text_names[] = {
    [OCRQ_PDF_TEXT_SKIP] = "skip", [OCRQ_PDF_TEXT_REDO] = "redo", [OCRQ_PDF_TEXT_FORCE] = "force"};

int ocrq_pdf_text_parse(const char *s, enum ocrq_pdf_text *mode)
{
    *mode = OCRQ_PDF_TEXT_SKIP;
    for (size_t i = 0; i < sizeof(pdf_text_names) / sizeof(pdf_text_names[0]); i++) {
        if (s != NULL && strcmp(s, pdf_text_names[i]) == 0) {
            *mode = (enum ocrq_pdf_text)i;
            return OCRQ_OK;
        }
    }
    return OCRQ_ERR_INVALID;
}

/* exact = 0: n is only where counting stopped, past the cap */
static int too_many_pages(const struct ocrq_document *doc, int n, int exact, const char **code,
                          char *why, size_t whylen)
{
    *code = "too_many_pages";
    if (exact)
        snprintf(why, whylen, "the %s has %d pages, more than ocr.max_pages = %d",
                 ocrq_doc_type_name(doc->type), n, doc->lim.max_pages);
    else
        snprintf(why, whylen, "the %s has more than ocr.max_pages = %d pages",
                 ocrq_doc_type_name(doc->type), doc->lim.max_pages);
    return OCRQ_ERR_TOO_LARGE;
}

/* Count the pages of doc; Leptonica and poppler are only asked once they are known to fit. */
static int count_pages(struct ocrq_document *doc, const char **code, char *why, size_t whylen)
{
    int st, n = 1;

    switch (doc->type) {
    case OCRQ_DOC_PDF:
        st = ocrq_pdf_open(doc->data, doc->len, &doc->pdf, &n, code, why, whylen);
        if (st != OCRQ_OK)
            return st;
        break;
    case OCRQ_DOC_TIFF:
        if (tiff_count(doc->data, doc->len, doc->lim.max_pages, &n) != 0 || n == 0) {
            *code = "decode";
            snprintf(why, whylen, "the TIFF is damaged: its image directories do not add up");
            return OCRQ_ERR_DECODE;
        }
        break;
    default:
        break;
    }
    doc->n_pages = n;
    if (n > doc->lim.max_pages)
        return too_many_pages(doc, n, doc->type != OCRQ_DOC_TIFF, code, why, whylen);
    return OCRQ_OK;
}

int ocrq_document_open(const void *data, size_t len, const struct ocrq_doc_limits *lim,
                       struct ocrq_document **out, const char **code, char *why, size_t whylen)
{
    struct ocrq_document *doc;
    int st;

    *out = NULL;
    *code = NULL;
    doc = calloc(1, sizeof(*doc));
    if (doc == NULL) {
        *code = "internal";
        return OCRQ_ERR_NOMEM;
    }
    doc->data = data;
    doc->len = len;
    doc->lim = *lim;
    doc->cur = -1;
    doc->tiff_offset_page = 0; /* page 0 starts at offset 0 */
    doc->type = ocrq_document_detect(data, len);
    if (doc->type == OCRQ_DOC_UNKNOWN) {
        *code = "decode";
        snprintf(why, whylen,
                 "not a document type we read (%zu bytes): PNG, JPEG, TIFF, PDF, "
                 "BMP, PNM, GIF, WebP or JPEG 2000",
                 len);
        st = OCRQ_ERR_DECODE;
        goto out;
    }
    st = count_pages(doc, code, why, whylen);
out:
    if (st != OCRQ_OK)
        ocrq_document_free(doc);
    else
        *out = doc;
    return st;
}

void ocrq_document_free(struct ocrq_document *doc)
{
    if (doc == NULL)
        return;
    ocrq_pdf_free(doc->pdf);
    free(doc);
}

enum ocrq_doc_type ocrq_document_type(const struct ocrq_document *doc)
{
    return doc->type;
}

int ocrq_document_page_count(const struct ocrq_document *doc)
{
    return doc->n_pages;
}

long long ocrq_document_first_pixels(struct ocrq_document *doc)
{
    struct ocrq_document saved = *doc; /* an image keeps its whole position here */
    struct ocrq_doc_page page;
    const char *code;
    char why[64];
    long long px = 0;

    if (doc->type == OCRQ_DOC_PDF || doc->n_pages < 1)
        return 0;
    if (ocrq_document_goto(doc, 1, &page, &code, why, sizeof(why)) == OCRQ_OK)
        px = (long long)page.width * page.height;
    *doc = saved;
    return px;
}

static int over_cap(const struct ocrq_document *doc, const char **code, char *why, size_t whylen)
{
    *code = "too_large";
    if (doc->cur_frames > 1)
        snprintf(why, whylen,
                 "the GIF's %d frames (the largest %dx%d) decode to %lld pixels,"
                 " over the cap of %lld",
                 doc->cur_frames, doc->cur_w, doc->cur_h, doc->cur_pixels, doc->lim.max_pixels);
    else
        snprintf(why, whylen, "page %d is %dx%d = %lld pixels, over the cap of %lld", doc->cur + 1,
                 doc->cur_w, doc->cur_h, (long long)doc->cur_w * doc->cur_h, doc->lim.max_pixels);
    return OCRQ_ERR_TOO_LARGE;
}

int ocrq_document_next(struct ocrq_document *doc, struct ocrq_doc_page *page, const char **code,
                       char *why, size_t whylen)
{
    int over = 0, st;

    memset(page, 0, sizeof(*page));
    *code = NULL;
    if (doc->cur + 1 >= doc->n_pages)
        return OCRQ_ERR_EMPTY;
    doc->cur++;
    doc->cur_w = doc->cur_h = 0;
    doc->cur_pixels = 0;
    doc->cur_frames = 1;
    if (doc->type == OCRQ_DOC_PDF) {
        st = ocrq_pdf_page(doc->pdf, doc->cur, doc->lim.dpi, doc->lim.max_pixels, &doc->cur_w,
                           &doc->cur_h, &over, code, why, whylen);
        if (st != OCRQ_OK)
            return st;
    } else {
        if (image_size(doc, doc->cur, code, why, whylen) != 0)
            return strcmp(*code, "too_large") == 0 ? OCRQ_ERR_TOO_LARGE : OCRQ_ERR_DECODE;
        if (doc->cur_w <= 0 || doc->cur_h <= 0) {
            *code = "decode";
            snprintf(why, whylen, "not a readable %s: no size in the header of page %d",
                     ocrq_doc_type_name(doc->type), doc->cur + 1);
            return OCRQ_ERR_DECODE;
        }
        over = doc->cur_pixels > doc->lim.max_pixels;
    }
    if (over)
        return over_cap(doc, code, why, whylen);
    page->page_no = doc->cur + 1;
    page->width = doc->cur_w;
    page->height = doc->cur_h;
    return OCRQ_OK;
}

int ocrq_document_goto(struct ocrq_document *doc, int page_no, struct ocrq_doc_page *page,
                       const char **code, char *why, size_t whylen)
{
    if (page_no < 1 || page_no > doc->n_pages) {
        memset(page, 0, sizeof(*page));
        *code = "internal";
        snprintf(why, whylen, "page %d of a document of %d pages", page_no, doc->n_pages);
        return OCRQ_ERR_INVALID;
    }
    doc->cur = page_no - 2; /* ocrq_document_next() steps onto it */
    return ocrq_document_next(doc, page, code, why, whylen);
}

int ocrq_document_text(struct ocrq_document *doc, char **text)
{
    *text = NULL;
    if (doc->cur < 0)
        return OCRQ_ERR_INVALID;
    if (doc->type != OCRQ_DOC_PDF)
        return OCRQ_OK;
    return ocrq_pdf_text(doc->pdf, text);
}

/* Page cur of a TIFF: from the offset the previous page left, else by its number. */
static PIX *read_tiff_page(struct ocrq_document *doc)
{
    PIX *pix;

    if (doc->tiff_offset_page != doc->cur)
        return pixReadMemTiff(doc->data, doc->len, doc->cur);
    pix = pixReadMemFromMultipageTiff(doc->data, doc->len, &doc->tiff_offset);
    doc->tiff_offset_page = pix != NULL && doc->tiff_offset != 0 ? doc->cur + 1 : -1;
    return pix;
}

int ocrq_document_render(struct ocrq_document *doc, struct Pix **out, const char **code, char *why,
                         size_t whylen)
{
    PIX *pix;

    *out = NULL;
    *code = NULL;
    if (doc->cur < 0 || doc->cur >= doc->n_pages)
        return OCRQ_ERR_INVALID;
    if (doc->type == OCRQ_DOC_PDF)
        return ocrq_pdf_render(doc->pdf, doc->cur_w, doc->cur_h, doc->lim.dpi, out, code, why,
                               whylen);
    pix = doc->type == OCRQ_DOC_TIFF ? read_tiff_page(doc) : pixReadMem(doc->data, doc->len);
    if (pix == NULL) {
        *code = "decode";
        snprintf(why, whylen, "the %s is damaged: page %d (%dx%d) cannot be decoded",
                 ocrq_doc_type_name(doc->type), doc->cur + 1, doc->cur_w, doc->cur_h);
        return OCRQ_ERR_DECODE;
    }
    if (pixGetXRes(pix) < 50)
        pixSetResolution(pix, 300, 300); /* no DPI in the file: assume a scan, not 70 dpi */
    *out = pix;
    return OCRQ_OK;
}
