/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests for worker/document.c. The inputs are made at start in a
 * temporary directory with ImageMagick (pages of three sizes, so their order
 * shows), img2pdf (a scanned PDF without text), tesseract (a PDF with a text
 * layer) and qpdf (an encrypted copy); the page-less PDF is written here.
 * Page sizes at 150 dpi: 1240x1754, 1000x1400, 800x1100.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <leptonica/allheaders.h>

#include "document.h"
#include "ocrq/status.h"
#include "unit_files.h"

static char tmp[PATH_MAX];

static const int page_w[3] = {1240, 1000, 800}, page_h[3] = {1754, 1400, 1100};

struct blob {
    unsigned char *data;
    size_t len;
};

static void pathf(char *buf, const char *rel)
{
    int n = snprintf(buf, PATH_MAX, "%s/%s", tmp, rel);
    assert_true(n > 0 && n < PATH_MAX);
}

#define sh(...) unit_sh(tmp, __VA_ARGS__)

static struct blob load(const char *rel)
{
    struct unit_file f = unit_load(tmp, rel);
    struct blob b = {f.data, f.len};
    assert_non_null(b.data);
    return b;
}

static int write_file(const char *rel, const void *data, size_t len)
{
    char p[PATH_MAX];
    pathf(p, rel);
    FILE *f = fopen(p, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, len, f);
    return fclose(f) == 0 && w == len ? 0 : -1;
}

/* A well-formed PDF whose page tree is empty, with a correct xref table. */
static int write_zero_page_pdf(const char *rel)
{
    char buf[1024];
    int o1, o2, x, n;

    n = snprintf(buf, sizeof(buf), "%%PDF-1.4\n");
    o1 = n;
    n += snprintf(buf + n, sizeof(buf) - (size_t)n,
                  "1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n");
    o2 = n;
    n += snprintf(buf + n, sizeof(buf) - (size_t)n,
                  "2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n");
    x = n;
    n += snprintf(buf + n, sizeof(buf) - (size_t)n,
                  "xref\n0 3\n0000000000 65535 f \n%010d 00000 n \n%010d 00000 n \n"
                  "trailer\n<< /Size 3 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n",
                  o1, o2, x);
    return write_file(rel, buf, (size_t)n);
}

/* Complete (it ends in %%EOF) but nothing poppler can read. */
static const char garbage_pdf[] = "%PDF-1.4\nnot a PDF body\n%%EOF\n";

static int setup(void **state)
{
    (void)state;
    char templ[] = "/tmp/ocrq-document-XXXXXX";
    if (!mkdtemp(templ) || !realpath(templ, tmp))
        return -1;
    for (int i = 0; i < 3; i++)
        if (sh("convert -size %dx%d xc:white -font DejaVu-Sans -pointsize 36 -fill black "
               "-annotate +60+120 'Page %d of the test document' -colorspace Gray "
               "-units PixelsPerInch -density 150 p%d.png",
               page_w[i], page_h[i], i + 1, i + 1))
            return -1;
    if (sh("convert p1.png p2.png p3.png -compress lzw three.tif") ||
        sh("img2pdf p1.png p2.png p3.png -o scan3.pdf") ||
        sh("tesseract p1.png text1 -l eng pdf >/dev/null 2>&1") ||
        sh("qpdf --encrypt user-pw owner-pw 256 -- scan3.pdf encrypted.pdf") ||
        sh("head -c $(( $(stat -c %%s scan3.pdf) / 2 )) scan3.pdf > truncated.pdf") ||
        sh("qpdf --rotate=+90:1 scan3.pdf rotated.pdf") || sh("cp scan3.pdf scan3-named.png") ||
        sh("(head -c 700 /dev/zero | tr '\\0' 'j'; cat scan3.pdf) > junk-first.pdf") ||
        write_zero_page_pdf("zero.pdf") ||
        write_file("garbage.pdf", garbage_pdf, strlen(garbage_pdf)))
        return -1;
    return 0;
}


static int teardown(void **state)
{
    (void)state;
    return unit_rm_tree(tmp);
}

static const struct ocrq_doc_limits limits300 = {
    .max_pixels = 100000000, .max_pages = 100, .dpi = 300};

/* Open rel under lim: the status, with *code and why. */
static int open_file(const char *rel, const struct ocrq_doc_limits *lim, struct blob *b,
                     struct ocrq_document **doc, const char **code, char *why, size_t whylen)
{
    *b = load(rel);
    return ocrq_document_open(b->data, b->len, lim, doc, code, why, whylen);
}

/* Open rel, expecting it to fail with st and code. */
static void expect_open_failure(const char *rel, const struct ocrq_doc_limits *lim, int st,
                                const char *code)
{
    struct blob b;
    struct ocrq_document *doc = (void *)1;
    const char *got = NULL;
    char why[256] = "";

    assert_int_equal(open_file(rel, lim, &b, &doc, &got, why, sizeof(why)), st);
    assert_null(doc);
    assert_non_null(got);
    assert_string_equal(got, code);
    assert_true(why[0] != '\0');
    free(b.data);
}

static void test_detect_by_content(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t n;
        enum ocrq_doc_type type;
    } cases[] = {
        {"\x89PNG\r\n\x1a\n\0\0", 10, OCRQ_DOC_PNG},
        {"\xff\xd8\xff\xe0\0\x10JFIF", 10, OCRQ_DOC_JPEG},
        {"II*\0\x08\0\0\0", 8, OCRQ_DOC_TIFF},
        {"MM\0*\0\0\0\x08", 8, OCRQ_DOC_TIFF},
        {"%PDF-1.7\n", 9, OCRQ_DOC_PDF},
        {"BM\x36\0\0\0", 6, OCRQ_DOC_BMP},
        {"P5\n10 10\n255\n", 13, OCRQ_DOC_PNM},
        {"GIF89a\x01\0\x01\0", 10, OCRQ_DOC_GIF},
        {"RIFF\0\0\0\0WEBPVP8 ", 16, OCRQ_DOC_WEBP},
        {"RIFF\0\0\0\0WAVEfmt ", 16, OCRQ_DOC_UNKNOWN},
        {"\0\0\0\x0cjP  \r\n\x87\n", 12, OCRQ_DOC_JP2},
        {"hello, world", 12, OCRQ_DOC_UNKNOWN},
        {"PK\x03\x04", 4, OCRQ_DOC_UNKNOWN},
        {"", 0, OCRQ_DOC_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(ocrq_document_detect(cases[i].bytes, cases[i].n), cases[i].type);

    /* %PDF- after junk: within 1 KiB it is a PDF, beyond it is not */
    unsigned char buf[2048];
    memset(buf, 'x', sizeof(buf));
    memcpy(buf + 1000, "%PDF-1.4", 8);
    assert_int_equal(ocrq_document_detect(buf, sizeof(buf)), OCRQ_DOC_PDF);
    memset(buf, 'x', sizeof(buf));
    memcpy(buf + 1100, "%PDF-1.4", 8);
    assert_int_equal(ocrq_document_detect(buf, sizeof(buf)), OCRQ_DOC_UNKNOWN);

    /* the name says nothing: a PDF called .png is a PDF, and opens as one */
    struct blob b = load("scan3-named.png");
    assert_int_equal(ocrq_document_detect(b.data, b.len), OCRQ_DOC_PDF);
    struct ocrq_document *doc = NULL;
    const char *code = NULL;
    char why[256];
    assert_int_equal(ocrq_document_open(b.data, b.len, &limits300, &doc, &code, why, sizeof(why)),
                     OCRQ_OK);
    assert_int_equal(ocrq_document_type(doc), OCRQ_DOC_PDF);
    assert_int_equal(ocrq_document_page_count(doc), 3);
    ocrq_document_free(doc);
    free(b.data);
    assert_string_equal(ocrq_doc_type_name(OCRQ_DOC_TIFF), "tiff");
}

static void test_unknown_is_decode(void **state)
{
    (void)state;
    struct ocrq_document *doc = NULL;
    const char *code = NULL;
    char why[256];
    assert_int_equal(
        ocrq_document_open("just some text", 14, &limits300, &doc, &code, why, sizeof(why)),
        OCRQ_ERR_DECODE);
    assert_null(doc);
    assert_string_equal(code, "decode");
}

/* Walk every page of doc: sizes (and rendered sizes) must be w[i] x h[i]. */
static void expect_pages(struct ocrq_document *doc, const int *w, const int *h, int n,
                         int expect_text)
{
    struct ocrq_doc_page page;
    const char *code;
    char why[256];

    for (int i = 0; i < n; i++) {
        PIX *pix = NULL;
        char *text = (char *)"x";
        assert_int_equal(ocrq_document_next(doc, &page, &code, why, sizeof(why)), OCRQ_OK);
        assert_int_equal(page.page_no, i + 1);
        assert_int_equal(page.width, w[i]);
        assert_int_equal(page.height, h[i]);
        assert_int_equal(ocrq_document_text(doc, &text), OCRQ_OK);
        if (expect_text)
            assert_non_null(text);
        else
            assert_null(text);
        free(text);
        assert_int_equal(ocrq_document_render(doc, &pix, &code, why, sizeof(why)), OCRQ_OK);
        assert_non_null(pix);
        assert_int_equal(pixGetWidth(pix), w[i]);
        assert_int_equal(pixGetHeight(pix), h[i]);
        assert_true(pixGetXRes(pix) >= 50);
        pixDestroy(&pix);
    }
    assert_int_equal(ocrq_document_next(doc, &page, &code, why, sizeof(why)), OCRQ_ERR_EMPTY);
    assert_int_equal(page.page_no, 0);
}

static void test_tiff_three_pages_in_order(void **state)
{
    (void)state;
    struct blob b;
    struct ocrq_document *doc = NULL;
    const char *code = NULL;
    char why[256];

    assert_int_equal(open_file("three.tif", &limits300, &b, &doc, &code, why, sizeof(why)),
                     OCRQ_OK);
    assert_int_equal(ocrq_document_type(doc), OCRQ_DOC_TIFF);
    assert_int_equal(ocrq_document_page_count(doc), 3);
    expect_pages(doc, page_w, page_h, 3, 0);
    ocrq_document_free(doc);
    free(b.data);
}

/* Pages skipped without rendering: the next render still gives the right page. */
static void test_tiff_page_skipped(void **state)
{
    (void)state;
    struct blob b;
    struct ocrq_document *doc = NULL;
    struct ocrq_doc_page page;
    const char *code = NULL;
    char why[256];
    PIX *pix = NULL;

    assert_int_equal(open_file("three.tif", &limits300, &b, &doc, &code, why, sizeof(why)),
                     OCRQ_OK);
    assert_int_equal(ocrq_document_next(doc, &page, &code, why, sizeof(why)), OCRQ_OK);
    assert_int_equal(ocrq_document_next(doc, &page, &code, why, sizeof(why)), OCRQ_OK);
    assert_int_equal(ocrq_document_render(doc, &pix, &code, why, sizeof(why)), OCRQ_OK);
    assert_int_equal(pixGetWidth(pix), page_w[1]);
    pixDestroy(&pix);
    assert_int_equal(ocrq_document_next(doc, &page, &code, why, sizeof(why)), OCRQ_OK);
    assert_int_equal(ocrq_document_render(doc, &pix, &code, why, sizeof(why)), OCRQ_OK);
    assert_int_equal(pixGetWidth(pix), page_w[2]);
    pixDestroy(&pix);
    ocrq_document_free(doc);
    free(b.data);
}

static void test_pdf_pages_at_dpi(void **state)
{
    (void)state;
    static const int dpis[] = {300, 100};
    for (size_t k = 0; k < sizeof(dpis) / sizeof(dpis[0]); k++) {
        struct ocrq_doc_limits lim = limits300;
        struct blob b;
        struct ocrq_document *doc = NULL;
        const char *code = NULL;
        char why[256];
        int w[3], h[3];

        lim.dpi = dpis[k];
        for (int i = 0; i < 3; i++) { /* the images are 150 dpi */
            w[i] = (page_w[i] * dpis[k] + 75) / 150;
            h[i] = (page_h[i] * dpis[k] + 75) / 150;
        }
        assert_int_equal(open_file("scan3.pdf", &lim, &b, &doc, &code, why, sizeof(why)), OCRQ_OK);
        assert_int_equal(ocrq_document_page_count(doc), 3);
        expect_pages(doc, w, h, 3, 0);
        ocrq_document_free(doc);
        free(b.data);
    }
}

/* A page with /Rotate 90 is sized and rendered turned: landscape. */
static void test_pdf_rotated_page(void **state)
{
    (void)state;
    struct blob b;
    struct ocrq_document *doc = NULL;
    const char *code = NULL;
    char why[256];
    int w[3] = {page_h[0] * 2, page_w[1] * 2, page_w[2] * 2};
    int h[3] = {page_w[0] * 2, page_h[1] * 2, page_h[2] * 2};

    assert_int_equal(open_file("rotated.pdf", &limits300, &b, &doc, &code, why, sizeof(why)),
                     OCRQ_OK);
    expect_pages(doc, w, h, 3, 0);
    ocrq_document_free(doc);
    free(b.data);
}

static void test_pdf_leading_junk(void **state)
{
    (void)state;
    struct blob b;
    struct ocrq_document *doc = NULL;
    const char *code = NULL;
    char why[256];

    assert_int_equal(open_file("junk-first.pdf", &limits300, &b, &doc, &code, why, sizeof(why)),
                     OCRQ_OK);
    assert_int_equal(ocrq_document_page_count(doc), 3);
    ocrq_document_free(doc);
    free(b.data);
}

/* A rendered page shows what is on it: dark text on white. */
static void test_pdf_render_content(void **state)
{
    (void)state;
    struct blob b;
    struct ocrq_document *doc = NULL;
    struct ocrq_doc_page page;
    const char *code = NULL;
    char why[256];
    PIX *pix = NULL;
    l_uint32 corner = 0;
    l_int32 r, g, bl, dark = 0;

    assert_int_equal(open_file("scan3.pdf", &limits300, &b, &doc, &code, why, sizeof(why)),
                     OCRQ_OK);
    assert_int_equal(ocrq_document_next(doc, &page, &code, why, sizeof(why)), OCRQ_OK);
    assert_int_equal(ocrq_document_render(doc, &pix, &code, why, sizeof(why)), OCRQ_OK);
    assert_int_equal(pixGetDepth(pix), 32);
    assert_int_equal(pixGetXRes(pix), 300);
    pixGetPixel(pix, 5, 5, &corner);
    extractRGBValues(corner, &r, &g, &bl);
    assert_true(r > 240 && g > 240 && bl > 240);
    /* the text line: x 60..900, y 90..130 at 150 dpi, so twice that here */
    for (int y = 180; y < 260; y++)
        for (int x = 120; x < 1800; x += 2) {
            l_uint32 v;
            pixGetPixel(pix, x, y, &v);
            extractRGBValues(v, &r, &g, &bl);
            dark += r < 100 && g < 100 && bl < 100;
        }
    assert_true(dark > 500);
    pixDestroy(&pix);
    ocrq_document_free(doc);
    free(b.data);
}

static void test_max_pages(void **state)
{
    (void)state;
    struct ocrq_doc_limits lim = limits300;
    lim.max_pages = 2;
    expect_open_failure("scan3.pdf", &lim, OCRQ_ERR_TOO_LARGE, "too_many_pages");
    expect_open_failure("three.tif", &lim, OCRQ_ERR_TOO_LARGE, "too_many_pages");
    lim.max_pages = 3; /* exactly at the cap is fine */
    struct blob b;
    struct ocrq_document *doc = NULL;
    const char *code = NULL;
    char why[256];
    assert_int_equal(open_file("three.tif", &lim, &b, &doc, &code, why, sizeof(why)), OCRQ_OK);
    ocrq_document_free(doc);
    free(b.data);
}

static void test_pdf_failures(void **state)
{
    (void)state;
    expect_open_failure("encrypted.pdf", &limits300, OCRQ_ERR_DECODE, "pdf_encrypted");
    expect_open_failure("truncated.pdf", &limits300, OCRQ_ERR_DECODE, "pdf_damaged");
    expect_open_failure("garbage.pdf", &limits300, OCRQ_ERR_DECODE, "pdf_damaged");
    expect_open_failure("zero.pdf", &limits300, OCRQ_ERR_DECODE, "pdf_no_pages");
}

/* The pixel cap applies to each page, before it is rendered or decoded. */
static void test_page_pixel_cap(void **state)
{
    (void)state;
    static const char *files[] = {"scan3.pdf", "three.tif"};
    for (size_t k = 0; k < 2; k++) {
        struct ocrq_doc_limits lim = limits300;
        struct blob b;
        struct ocrq_document *doc = NULL;
        struct ocrq_doc_page page;
        const char *code = NULL;
        char why[256];

        /* the PDF's first page is 2480x3508 at 300 dpi, the TIFF's 1240x1754 */
        lim.max_pixels = k == 0 ? 2480LL * 3508 - 1 : 1240LL * 1754 - 1;
        assert_int_equal(open_file(files[k], &lim, &b, &doc, &code, why, sizeof(why)), OCRQ_OK);
        assert_int_equal(ocrq_document_next(doc, &page, &code, why, sizeof(why)),
                         OCRQ_ERR_TOO_LARGE);
        assert_string_equal(code, "too_large");
        assert_non_null(strstr(why, "page 1"));
        /* the next page is smaller and passes */
        assert_int_equal(ocrq_document_next(doc, &page, &code, why, sizeof(why)), OCRQ_OK);
        assert_int_equal(page.page_no, 2);
        ocrq_document_free(doc);
        free(b.data);
    }
}

/* A BMP header claiming 60000 x 60000: refused from the header, nothing decoded. */
static void test_bmp_cap_from_header(void **state)
{
    (void)state;
    unsigned char bmp[64] = "BM";
    struct ocrq_document *doc = NULL;
    struct ocrq_doc_page page;
    const char *code = NULL;
    char why[256];

    bmp[14] = 40;                   /* BITMAPINFOHEADER */
    bmp[18] = 0x60, bmp[19] = 0xea; /* width 60000 */
    bmp[22] = 0x60, bmp[23] = 0xea; /* height 60000 */
    bmp[26] = 1, bmp[28] = 24;
    assert_int_equal(
        ocrq_document_open(bmp, sizeof(bmp), &limits300, &doc, &code, why, sizeof(why)), OCRQ_OK);
    assert_int_equal(ocrq_document_next(doc, &page, &code, why, sizeof(why)), OCRQ_ERR_TOO_LARGE);
    assert_string_equal(code, "too_large");
    ocrq_document_free(doc);
}

/* A GIF: a screen of sw x sh, n frames of fw x fh each (no colour tables, token image data). */
static size_t make_gif(unsigned char *g, size_t cap, int sw, int sh, int n, int fw, int fh)
{
    size_t at = 0;

    assert_true(cap >= 14 + (size_t)n * 15);
    memcpy(g, "GIF89a", 6);
    g[6] = (unsigned char)sw, g[7] = (unsigned char)(sw >> 8);
    g[8] = (unsigned char)sh, g[9] = (unsigned char)(sh >> 8);
    g[10] = 0, g[11] = 0, g[12] = 0;
    at = 13;
    for (int i = 0; i < n; i++) {
        static const unsigned char data[] = {2, 2, 0x4c, 0x01, 0}; /* code size, a block, end */
        g[at++] = 0x2c;
        memset(g + at, 0, 4), at += 4; /* left, top */
        g[at++] = (unsigned char)fw, g[at++] = (unsigned char)(fw >> 8);
        g[at++] = (unsigned char)fh, g[at++] = (unsigned char)(fh >> 8);
        g[at++] = 0; /* no local colour table */
        memcpy(g + at, data, sizeof(data)), at += sizeof(data);
    }
    g[at++] = 0x3b;
    return at;
}

/* Open data, then step onto its first page: that status, with code and why. */
static int first_page(const void *data, size_t len, const struct ocrq_doc_limits *lim,
                      struct ocrq_doc_page *page, const char **code, char *why, size_t whylen)
{
    struct ocrq_document *doc = NULL;
    int st = ocrq_document_open(data, len, lim, &doc, code, why, whylen);

    if (st == OCRQ_OK)
        st = ocrq_document_next(doc, page, code, why, whylen);
    ocrq_document_free(doc);
    return st;
}

static const struct ocrq_doc_limits limits4m = {
    .max_pixels = 4000000, .max_pages = 100, .dpi = 300};

/* Finding 1: the decoder allocates each frame at its own size, not the screen's. */
static void test_gif_frame_bigger_than_screen(void **state)
{
    (void)state;
    unsigned char g[64];
    struct ocrq_doc_page page;
    const char *code = NULL;
    char why[256];
    size_t len = make_gif(g, sizeof(g), 1, 1, 1, 3000, 3000);

    assert_int_equal(first_page(g, len, &limits4m, &page, &code, why, sizeof(why)),
                     OCRQ_ERR_TOO_LARGE);
    assert_string_equal(code, "too_large");
    assert_non_null(strstr(why, "3000x3000"));
}

/* Finding 1: every frame is kept, so the frames add up; and their number is capped. */
static void test_gif_frames_add_up(void **state)
{
    (void)state;
    static unsigned char g[16 * 1024];
    struct ocrq_doc_page page;
    const char *code = NULL;
    char why[256];
    size_t len = make_gif(g, sizeof(g), 1000, 1000, 8, 1000, 1000); /* 8 x 1 M pixels */

    assert_int_equal(first_page(g, len, &limits4m, &page, &code, why, sizeof(why)),
                     OCRQ_ERR_TOO_LARGE);
    assert_non_null(strstr(why, "8 frames"));
    len = make_gif(g, sizeof(g), 10, 10, 1001, 1, 1);
    assert_int_equal(first_page(g, len, &limits4m, &page, &code, why, sizeof(why)),
                     OCRQ_ERR_TOO_LARGE);
    assert_non_null(strstr(why, "frames"));
    len = make_gif(g, sizeof(g), 10, 10, 3, 10, 10); /* a small animation is fine */
    assert_int_equal(first_page(g, len, &limits4m, &page, &code, why, sizeof(why)), OCRQ_OK);
    assert_int_equal(page.width, 10);
    assert_int_equal(page.height, 10);
    len = make_gif(g, sizeof(g), 10, 10, 1, 10, 10);
    assert_int_equal(first_page(g, len - 3, &limits4m, &page, &code, why, sizeof(why)),
                     OCRQ_ERR_DECODE); /* cut inside the image data */
}

/* A JP2 box of type t (4 chars) with body b of n bytes at j[*at]. */
static void jp2_box(unsigned char *j, size_t *at, const char *t, const void *b, size_t n)
{
    uint32_t size = (uint32_t)(8 + n);
    j[*at] = (unsigned char)(size >> 24), j[*at + 1] = (unsigned char)(size >> 16);
    j[*at + 2] = (unsigned char)(size >> 8), j[*at + 3] = (unsigned char)size;
    memcpy(j + *at + 4, t, 4);
    memcpy(j + *at + 8, b, n);
    *at += 8 + n;
}

static void be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

/* A JP2 file: a decoy box holding "ihdr" 1x1, then jp2h with ihdr ih x iw, then SIZ sw x sh. */
static size_t make_jp2(unsigned char *j, int decoy, uint32_t iw, uint32_t ih, uint32_t sw,
                       uint32_t sh)
{
    static const unsigned char sig[] = {0x0d, 0x0a, 0x87, 0x0a};
    unsigned char ihdr[14] = {0}, fake[18] = {0}, jp2h[22], siz[4 + 2 + 2 + 16 + 16] = {0};
    size_t at = 0, n = 0;

    jp2_box(j, &at, "jP  ", sig, sizeof(sig));
    jp2_box(j, &at, "ftyp", "jp2 \0\0\0\0jp2 ", 12);
    if (decoy) { /* a box of another type whose bytes spell an ihdr of 1x1 */
        memcpy(fake, "ihdr", 4);
        be32(fake + 4, 1), be32(fake + 8, 1);
        fake[13] = 1, fake[14] = 7, fake[15] = 7; /* 1 component, 8 bits */
        jp2_box(j, &at, "uuid", fake, sizeof(fake));
    }
    be32(ihdr, ih), be32(ihdr + 4, iw);
    ihdr[8] = 0, ihdr[9] = 1, ihdr[10] = 7, ihdr[11] = 7; /* 1 component, 8 bits */
    be32(jp2h, 22), memcpy(jp2h + 4, "ihdr", 4), memcpy(jp2h + 8, ihdr, 14);
    jp2_box(j, &at, "jp2h", jp2h, sizeof(jp2h));
    siz[n++] = 0xff, siz[n++] = 0x4f, siz[n++] = 0xff, siz[n++] = 0x51;
    siz[n++] = 0, siz[n++] = 41, siz[n++] = 0, siz[n++] = 0; /* Lsiz, Rsiz */
    be32(siz + n, sw), be32(siz + n + 4, sh); /* Xsiz, Ysiz; offsets 0 */
    jp2_box(j, &at, "jp2c", siz, sizeof(siz));
    return at;
}

/* Finding 2: the first "ihdr" bytes anywhere are not the size; the codestream's SIZ is. */
static void test_jp2_fake_ihdr_box(void **state)
{
    (void)state;
    unsigned char j[256];
    struct ocrq_doc_page page;
    const char *code = NULL;
    char why[256];
    size_t len = make_jp2(j, 1, 3000, 3000, 3000, 3000);
    l_int32 w = 0, h = 0, format, bps, spp, cmap;

    assert_int_equal(ocrq_document_detect(j, len), OCRQ_DOC_JP2);
    if (pixReadHeaderMem(j, len, &format, &w, &h, &bps, &spp, &cmap) == 0)
        print_message("Leptonica's header reader says %dx%d\n", w, h);
    assert_int_equal(first_page(j, len, &limits4m, &page, &code, why, sizeof(why)),
                     OCRQ_ERR_TOO_LARGE);
    assert_non_null(strstr(why, "3000x3000"));
    len = make_jp2(j, 1, 1, 1, 3000, 3000); /* the header box itself lies */
    assert_int_equal(first_page(j, len, &limits4m, &page, &code, why, sizeof(why)),
                     OCRQ_ERR_DECODE);
    len = make_jp2(j, 1, 100, 50, 100, 50);
    assert_int_equal(first_page(j, len, &limits4m, &page, &code, why, sizeof(why)), OCRQ_OK);
    assert_int_equal(page.width, 100);
    assert_int_equal(page.height, 50);
}

/* Finding 3: a TIFF shorter than its 8-byte header is damaged, and nothing past it is read. */
static void test_tiff_short_header(void **state)
{
    (void)state;
    struct ocrq_document *doc = NULL;
    const char *code = NULL;
    char why[256];
    unsigned char *t = malloc(5); /* exactly 5 bytes, so that ASan sees an over-read */

    assert_non_null(t);
    memcpy(t, "II*\0\x01", 5);
    assert_int_equal(ocrq_document_open(t, 5, &limits300, &doc, &code, why, sizeof(why)),
                     OCRQ_ERR_DECODE);
    assert_string_equal(code, "decode");
    free(t);
}

/* A TIFF whose directory chain points back at itself is damaged, not endless. */
static void test_tiff_ifd_loop(void **state)
{
    (void)state;
    unsigned char t[32] = "II*\0\x08\0\0\0";
    struct ocrq_document *doc = NULL;
    const char *code = NULL;
    char why[256];

    t[8] = 0;  /* IFD at 8 with no entries ... */
    t[10] = 8; /* ... whose next IFD is itself */
    assert_int_equal(ocrq_document_open(t, sizeof(t), &limits300, &doc, &code, why, sizeof(why)),
                     OCRQ_ERR_DECODE);
    assert_string_equal(code, "decode");
}

static void test_text_layer(void **state)
{
    (void)state;
    struct blob b;
    struct ocrq_document *doc = NULL;
    struct ocrq_doc_page page;
    const char *code = NULL;
    char why[256], *text = NULL;

    assert_int_equal(open_file("text1.pdf", &limits300, &b, &doc, &code, why, sizeof(why)),
                     OCRQ_OK);
    assert_int_equal(ocrq_document_page_count(doc), 1);
    assert_int_equal(ocrq_document_text(doc, &text), OCRQ_ERR_INVALID); /* no page yet */
    assert_int_equal(ocrq_document_next(doc, &page, &code, why, sizeof(why)), OCRQ_OK);
    assert_int_equal(ocrq_document_text(doc, &text), OCRQ_OK);
    assert_non_null(text);
    assert_non_null(strstr(text, "test document"));
    free(text);
    ocrq_document_free(doc);
    free(b.data);
    /* the scanned PDF (no text) is checked page by page in test_pdf_pages_at_dpi */
}

static void test_single_image(void **state)
{
    (void)state;
    struct blob b;
    struct ocrq_document *doc = NULL;
    const char *code = NULL;
    char why[256];

    assert_int_equal(open_file("p2.png", &limits300, &b, &doc, &code, why, sizeof(why)), OCRQ_OK);
    assert_int_equal(ocrq_document_type(doc), OCRQ_DOC_PNG);
    assert_int_equal(ocrq_document_page_count(doc), 1);
    expect_pages(doc, &page_w[1], &page_h[1], 1, 0);
    ocrq_document_free(doc);
    free(b.data);
}

static void test_pdf_text_parse(void **state)
{
    (void)state;
    enum ocrq_pdf_text m;
    assert_int_equal(ocrq_pdf_text_parse("skip", &m), OCRQ_OK);
    assert_int_equal(m, OCRQ_PDF_TEXT_SKIP);
    assert_int_equal(ocrq_pdf_text_parse("redo", &m), OCRQ_OK);
    assert_int_equal(m, OCRQ_PDF_TEXT_REDO);
    assert_int_equal(ocrq_pdf_text_parse("force", &m), OCRQ_OK);
    assert_int_equal(m, OCRQ_PDF_TEXT_FORCE);
    assert_int_equal(ocrq_pdf_text_parse("Force", &m), OCRQ_ERR_INVALID);
    assert_int_equal(ocrq_pdf_text_parse(NULL, &m), OCRQ_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect_by_content),
        cmocka_unit_test(test_unknown_is_decode),
        cmocka_unit_test(test_tiff_three_pages_in_order),
        cmocka_unit_test(test_tiff_page_skipped),
        cmocka_unit_test(test_pdf_pages_at_dpi),
        cmocka_unit_test(test_pdf_rotated_page),
        cmocka_unit_test(test_pdf_leading_junk),
        cmocka_unit_test(test_pdf_render_content),
        cmocka_unit_test(test_max_pages),
        cmocka_unit_test(test_pdf_failures),
        cmocka_unit_test(test_page_pixel_cap),
        cmocka_unit_test(test_bmp_cap_from_header),
        cmocka_unit_test(test_tiff_ifd_loop),
        cmocka_unit_test(test_gif_frame_bigger_than_screen),
        cmocka_unit_test(test_gif_frames_add_up),
        cmocka_unit_test(test_jp2_fake_ihdr_box),
        cmocka_unit_test(test_tiff_short_header),
        cmocka_unit_test(test_text_layer),
        cmocka_unit_test(test_single_image),
        cmocka_unit_test(test_pdf_text_parse),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
