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

/* The group's fixture: the input files, made once for every test. */
static int make_inputs(void **state)
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

static int remove_inputs(void **state)
{
    (void)state;
    return unit_rm_tree(tmp);
}

static const struct ocrq_doc_limits limits300 = {
    .max_pixels = 100000000, .max_pages = 100, .dpi = 300};

/*
 * Each test's fixture: the document it opened (from a file's bytes, or from
 * its own), the page it stepped onto, the page it rendered, and what the
 * last call said (code, why). doc_teardown frees whatever is left.
 */
struct opened {
    struct blob b; /* the file's bytes, when opened from a file */
    struct ocrq_document *doc;
    struct ocrq_doc_page page;
    PIX *pix;
    const char *code;
    char why[256];
    int cleared; /* the last open cleared its out-parameter on entry */
};

static int doc_setup(void **state)
{
    *state = calloc(1, sizeof(struct opened));
    return *state ? 0 : -1;
}

static int doc_teardown(void **state)
{
    struct opened *o = *state;
    pixDestroy(&o->pix);
    ocrq_document_free(o->doc);
    free(o->b.data);
    free(o);
    return 0;
}

/* Open data (borrowed; it must outlive o->doc) under lim, in place of o's last document. */
static int open_bytes(struct opened *o, const void *data, size_t len,
                      const struct ocrq_doc_limits *lim)
{
    struct ocrq_document *doc = (struct ocrq_document *)o; /* not NULL: the open clears it */

    pixDestroy(&o->pix);
    ocrq_document_free(o->doc);
    o->doc = NULL;
    o->code = NULL;
    o->why[0] = '\0';
    int st = ocrq_document_open(data, len, lim, &doc, &o->code, o->why, sizeof(o->why));
    o->cleared = doc != (struct ocrq_document *)o;
    if (o->cleared)
        o->doc = doc;
    return st;
}

/* Open the input file rel under lim: the status, with o->code and o->why. */
static int open_file(struct opened *o, const char *rel, const struct ocrq_doc_limits *lim)
{
    ocrq_document_free(o->doc); /* before the bytes it borrows */
    o->doc = NULL;
    free(o->b.data);
    o->b = load(rel);
    return open_bytes(o, o->b.data, o->b.len, lim);
}

/* Step onto the next page, into o->page. */
static int next_page(struct opened *o)
{
    return ocrq_document_next(o->doc, &o->page, &o->code, o->why, sizeof(o->why));
}

/* Render the page stepped onto, into o->pix. */
static int render(struct opened *o)
{
    pixDestroy(&o->pix);
    return ocrq_document_render(o->doc, &o->pix, &o->code, o->why, sizeof(o->why));
}

/* Open rel, expecting it to fail with st and code. */
static void expect_open_failure(struct opened *o, const char *rel,
                                const struct ocrq_doc_limits *lim, int st, const char *code)
{
    assert_int_equal(open_file(o, rel, lim), st);
    assert_true(o->cleared);
    assert_null(o->doc);
    assert_non_null(o->code);
    assert_string_equal(o->code, code);
    assert_true(o->why[0] != '\0');
}

static void test_detect_by_content(void **state)
{
    struct opened *o = *state;
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
    assert_int_equal(open_file(o, "scan3-named.png", &limits300), OCRQ_OK);
    assert_int_equal(ocrq_document_detect(o->b.data, o->b.len), OCRQ_DOC_PDF);
    assert_int_equal(ocrq_document_type(o->doc), OCRQ_DOC_PDF);
    assert_int_equal(ocrq_document_page_count(o->doc), 3);
    assert_string_equal(ocrq_doc_type_name(OCRQ_DOC_TIFF), "tiff");
}

static void test_unknown_is_decode(void **state)
{
    struct opened *o = *state;
    assert_int_equal(open_bytes(o, "just some text", 14, &limits300), OCRQ_ERR_DECODE);
    assert_true(o->cleared);
    assert_null(o->doc);
    assert_string_equal(o->code, "decode");
}

/* Walk every page of o's document: sizes (and rendered sizes) must be w[i] x h[i]. */
static void expect_pages(struct opened *o, const int *w, const int *h, int n, int expect_text)
{
    for (int i = 0; i < n; i++) {
        char *text = (char *)"x";
        assert_int_equal(next_page(o), OCRQ_OK);
        assert_int_equal(o->page.page_no, i + 1);
        assert_int_equal(o->page.width, w[i]);
        assert_int_equal(o->page.height, h[i]);
        assert_int_equal(ocrq_document_text(o->doc, &text), OCRQ_OK);
        if (expect_text)
            assert_non_null(text);
        else
            assert_null(text);
        free(text);
        assert_int_equal(render(o), OCRQ_OK);
        assert_non_null(o->pix);
        assert_int_equal(pixGetWidth(o->pix), w[i]);
        assert_int_equal(pixGetHeight(o->pix), h[i]);
        assert_true(pixGetXRes(o->pix) >= 50);
    }
    assert_int_equal(next_page(o), OCRQ_ERR_EMPTY);
    assert_int_equal(o->page.page_no, 0);
}

static void test_tiff_three_pages_in_order(void **state)
{
    struct opened *o = *state;
    assert_int_equal(open_file(o, "three.tif", &limits300), OCRQ_OK);
    assert_int_equal(ocrq_document_type(o->doc), OCRQ_DOC_TIFF);
    assert_int_equal(ocrq_document_page_count(o->doc), 3);
    expect_pages(o, page_w, page_h, 3, 0);
}

/* Pages skipped without rendering: the next render still gives the right page. */
static void test_tiff_page_skipped(void **state)
{
    struct opened *o = *state;
    assert_int_equal(open_file(o, "three.tif", &limits300), OCRQ_OK);
    assert_int_equal(next_page(o), OCRQ_OK);
    assert_int_equal(next_page(o), OCRQ_OK);
    assert_int_equal(render(o), OCRQ_OK);
    assert_int_equal(pixGetWidth(o->pix), page_w[1]);
    assert_int_equal(next_page(o), OCRQ_OK);
    assert_int_equal(render(o), OCRQ_OK);
    assert_int_equal(pixGetWidth(o->pix), page_w[2]);
}

static void test_pdf_pages_at_dpi(void **state)
{
    struct opened *o = *state;
    static const int dpis[] = {300, 100};
    for (size_t k = 0; k < sizeof(dpis) / sizeof(dpis[0]); k++) {
        struct ocrq_doc_limits lim = limits300;
        int w[3], h[3];

        lim.dpi = dpis[k];
        for (int i = 0; i < 3; i++) { /* the images are 150 dpi */
            w[i] = (page_w[i] * dpis[k] + 75) / 150;
            h[i] = (page_h[i] * dpis[k] + 75) / 150;
        }
        assert_int_equal(open_file(o, "scan3.pdf", &lim), OCRQ_OK);
        assert_int_equal(ocrq_document_page_count(o->doc), 3);
        expect_pages(o, w, h, 3, 0);
    }
}

/* A page with /Rotate 90 is sized and rendered turned: landscape. */
static void test_pdf_rotated_page(void **state)
{
    struct opened *o = *state;
    int w[3] = {page_h[0] * 2, page_w[1] * 2, page_w[2] * 2};
    int h[3] = {page_w[0] * 2, page_h[1] * 2, page_h[2] * 2};

    assert_int_equal(open_file(o, "rotated.pdf", &limits300), OCRQ_OK);
    expect_pages(o, w, h, 3, 0);
}

static void test_pdf_leading_junk(void **state)
{
    struct opened *o = *state;
    assert_int_equal(open_file(o, "junk-first.pdf", &limits300), OCRQ_OK);
    assert_int_equal(ocrq_document_page_count(o->doc), 3);
}

/* A rendered page shows what is on it: dark text on white. */
static void test_pdf_render_content(void **state)
{
    struct opened *o = *state;
    l_uint32 corner = 0;
    l_int32 r, g, bl, dark = 0;

    assert_int_equal(open_file(o, "scan3.pdf", &limits300), OCRQ_OK);
    assert_int_equal(next_page(o), OCRQ_OK);
    assert_int_equal(render(o), OCRQ_OK);
    PIX *pix = o->pix;
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
}

static void test_max_pages(void **state)
{
    struct opened *o = *state;
    struct ocrq_doc_limits lim = limits300;
    lim.max_pages = 2;
    expect_open_failure(o, "scan3.pdf", &lim, OCRQ_ERR_TOO_LARGE, "too_many_pages");
    expect_open_failure(o, "three.tif", &lim, OCRQ_ERR_TOO_LARGE, "too_many_pages");
    lim.max_pages = 3; /* exactly at the cap is fine */
    assert_int_equal(open_file(o, "three.tif", &lim), OCRQ_OK);
}

static void test_pdf_failures(void **state)
{
    struct opened *o = *state;
    expect_open_failure(o, "encrypted.pdf", &limits300, OCRQ_ERR_DECODE, "pdf_encrypted");
    expect_open_failure(o, "truncated.pdf", &limits300, OCRQ_ERR_DECODE, "pdf_damaged");
    expect_open_failure(o, "garbage.pdf", &limits300, OCRQ_ERR_DECODE, "pdf_damaged");
    expect_open_failure(o, "zero.pdf", &limits300, OCRQ_ERR_DECODE, "pdf_no_pages");
}

/* The pixel cap applies to each page, before it is rendered or decoded. */
static void test_page_pixel_cap(void **state)
{
    struct opened *o = *state;
    static const char *files[] = {"scan3.pdf", "three.tif"};
    for (size_t k = 0; k < 2; k++) {
        struct ocrq_doc_limits lim = limits300;

        /* the PDF's first page is 2480x3508 at 300 dpi, the TIFF's 1240x1754 */
        lim.max_pixels = k == 0 ? 2480LL * 3508 - 1 : 1240LL * 1754 - 1;
        assert_int_equal(open_file(o, files[k], &lim), OCRQ_OK);
        assert_int_equal(next_page(o), OCRQ_ERR_TOO_LARGE);
        assert_string_equal(o->code, "too_large");
        assert_non_null(strstr(o->why, "page 1"));
        /* the next page is smaller and passes */
        assert_int_equal(next_page(o), OCRQ_OK);
        assert_int_equal(o->page.page_no, 2);
    }
}

/* A BMP header claiming 60000 x 60000: refused from the header, nothing decoded. */
static void test_bmp_cap_from_header(void **state)
{
    struct opened *o = *state;
    static unsigned char bmp[64] = "BM"; /* outlives the test: the document borrows it */

    bmp[14] = 40;                   /* BITMAPINFOHEADER */
    bmp[18] = 0x60, bmp[19] = 0xea; /* width 60000 */
    bmp[22] = 0x60, bmp[23] = 0xea; /* height 60000 */
    bmp[26] = 1, bmp[28] = 24;
    assert_int_equal(open_bytes(o, bmp, sizeof(bmp), &limits300), OCRQ_OK);
    assert_int_equal(next_page(o), OCRQ_ERR_TOO_LARGE);
    assert_string_equal(o->code, "too_large");
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

/* Open data, then step onto its first page: that status, with o->code and o->why. */
static int first_page(struct opened *o, const void *data, size_t len,
                      const struct ocrq_doc_limits *lim)
{
    int st = open_bytes(o, data, len, lim);

    if (st == OCRQ_OK)
        st = next_page(o);
    ocrq_document_free(o->doc); /* data is the test's: done with it here */
    o->doc = NULL;
    return st;
}

static const struct ocrq_doc_limits limits4m = {
    .max_pixels = 4000000, .max_pages = 100, .dpi = 300};

/* Finding 1: the decoder allocates each frame at its own size, not the screen's. */
static void test_gif_frame_bigger_than_screen(void **state)
{
    struct opened *o = *state;
    unsigned char g[64];
    size_t len = make_gif(g, sizeof(g), 1, 1, 1, 3000, 3000);

    assert_int_equal(first_page(o, g, len, &limits4m), OCRQ_ERR_TOO_LARGE);
    assert_string_equal(o->code, "too_large");
    assert_non_null(strstr(o->why, "3000x3000"));
}

/* Finding 1: every frame is kept, so the frames add up; and their number is capped. */
static void test_gif_frames_add_up(void **state)
{
    struct opened *o = *state;
    static unsigned char g[16 * 1024];
    size_t len = make_gif(g, sizeof(g), 1000, 1000, 8, 1000, 1000); /* 8 x 1 M pixels */

    assert_int_equal(first_page(o, g, len, &limits4m), OCRQ_ERR_TOO_LARGE);
    assert_non_null(strstr(o->why, "8 frames"));
    len = make_gif(g, sizeof(g), 10, 10, 1001, 1, 1);
    assert_int_equal(first_page(o, g, len, &limits4m), OCRQ_ERR_TOO_LARGE);
    assert_non_null(strstr(o->why, "frames"));
    len = make_gif(g, sizeof(g), 10, 10, 3, 10, 10); /* a small animation is fine */
    assert_int_equal(first_page(o, g, len, &limits4m), OCRQ_OK);
    assert_int_equal(o->page.width, 10);
    assert_int_equal(o->page.height, 10);
    len = make_gif(g, sizeof(g), 10, 10, 1, 10, 10);
    assert_int_equal(first_page(o, g, len - 3, &limits4m),
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
    be32(siz + n, sw), be32(siz + n + 4, sh);                /* Xsiz, Ysiz; offsets 0 */
    jp2_box(j, &at, "jp2c", siz, sizeof(siz));
    return at;
}

/* Finding 2: the first "ihdr" bytes anywhere are not the size; the codestream's SIZ is. */
static void test_jp2_fake_ihdr_box(void **state)
{
    struct opened *o = *state;
    unsigned char j[256];
    size_t len = make_jp2(j, 1, 3000, 3000, 3000, 3000);
    l_int32 w = 0, h = 0, format, bps, spp, cmap;

    assert_int_equal(ocrq_document_detect(j, len), OCRQ_DOC_JP2);
    if (pixReadHeaderMem(j, len, &format, &w, &h, &bps, &spp, &cmap) == 0)
        print_message("Leptonica's header reader says %dx%d\n", w, h);
    assert_int_equal(first_page(o, j, len, &limits4m), OCRQ_ERR_TOO_LARGE);
    assert_non_null(strstr(o->why, "3000x3000"));
    len = make_jp2(j, 1, 1, 1, 3000, 3000); /* the header box itself lies */
    assert_int_equal(first_page(o, j, len, &limits4m), OCRQ_ERR_DECODE);
    len = make_jp2(j, 1, 100, 50, 100, 50);
    assert_int_equal(first_page(o, j, len, &limits4m), OCRQ_OK);
    assert_int_equal(o->page.width, 100);
    assert_int_equal(o->page.height, 50);
}

/* Finding 3: a TIFF shorter than its 8-byte header is damaged, and nothing past it is read. */
static void test_tiff_short_header(void **state)
{
    struct opened *o = *state;
    unsigned char *t = malloc(5); /* exactly 5 bytes, so that ASan sees an over-read */

    assert_non_null(t);
    memcpy(t, "II*\0\x01", 5);
    o->b.data = t; /* freed by the fixture */
    assert_int_equal(open_bytes(o, t, 5, &limits300), OCRQ_ERR_DECODE);
    assert_string_equal(o->code, "decode");
}

/* A TIFF whose directory chain points back at itself is damaged, not endless. */
static void test_tiff_ifd_loop(void **state)
{
    struct opened *o = *state;
    unsigned char t[32] = "II*\0\x08\0\0\0";

    t[8] = 0;  /* IFD at 8 with no entries ... */
    t[10] = 8; /* ... whose next IFD is itself */
    assert_int_equal(open_bytes(o, t, sizeof(t), &limits300), OCRQ_ERR_DECODE);
    assert_string_equal(o->code, "decode");
}

static void test_text_layer(void **state)
{
    struct opened *o = *state;
    char *text = NULL;

    assert_int_equal(open_file(o, "text1.pdf", &limits300), OCRQ_OK);
    assert_int_equal(ocrq_document_page_count(o->doc), 1);
    assert_int_equal(ocrq_document_text(o->doc, &text), OCRQ_ERR_INVALID); /* no page yet */
    assert_int_equal(next_page(o), OCRQ_OK);
    assert_int_equal(ocrq_document_text(o->doc, &text), OCRQ_OK);
    assert_non_null(text);
    assert_non_null(strstr(text, "test document"));
    free(text);
    /* the scanned PDF (no text) is checked page by page in test_pdf_pages_at_dpi */
}

static void test_single_image(void **state)
{
    struct opened *o = *state;
    assert_int_equal(open_file(o, "p2.png", &limits300), OCRQ_OK);
    assert_int_equal(ocrq_document_type(o->doc), OCRQ_DOC_PNG);
    assert_int_equal(ocrq_document_page_count(o->doc), 1);
    expect_pages(o, &page_w[1], &page_h[1], 1, 0);
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
#define DOC_TEST(f) cmocka_unit_test_setup_teardown(f, doc_setup, doc_teardown)
    const struct CMUnitTest tests[] = {
        DOC_TEST(test_detect_by_content),
        DOC_TEST(test_unknown_is_decode),
        DOC_TEST(test_tiff_three_pages_in_order),
        DOC_TEST(test_tiff_page_skipped),
        DOC_TEST(test_pdf_pages_at_dpi),
        DOC_TEST(test_pdf_rotated_page),
        DOC_TEST(test_pdf_leading_junk),
        DOC_TEST(test_pdf_render_content),
        DOC_TEST(test_max_pages),
        DOC_TEST(test_pdf_failures),
        DOC_TEST(test_page_pixel_cap),
        DOC_TEST(test_bmp_cap_from_header),
        DOC_TEST(test_tiff_ifd_loop),
        DOC_TEST(test_gif_frame_bigger_than_screen),
        DOC_TEST(test_gif_frames_add_up),
        DOC_TEST(test_jp2_fake_ihdr_box),
        DOC_TEST(test_tiff_short_header),
        DOC_TEST(test_text_layer),
        DOC_TEST(test_single_image),
        cmocka_unit_test(test_pdf_text_parse),
    };
#undef DOC_TEST
    return cmocka_run_group_tests(tests, make_inputs, remove_inputs);
}
