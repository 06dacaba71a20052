/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests for worker/assemble.c (and assemble_words.c, assemble_pdf.c).
 * At start three one-line page images of three sizes are made with
 * ImageMagick, and tesseract renders each one alone (d1..d3/page.*: what a
 * page task stores) and the three as one multi-page TIFF (m/doc.*: what the
 * assembled artifacts must equal). The words pages are written here by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "assemble.h"
#include "ocrq/formats.h"
#include "ocrq/status.h"
#include "unit_files.h"

static char tmp[PATH_MAX], scratch[PATH_MAX + 16];
static char why[512];

static const char *const page_text[3] = {"The first page says alpha", "The second page says bravo",
                                         "The third page says charlie"};
static const int page_w[3] = {1000, 1100, 900}, page_h[3] = {200, 240, 180};

/* The hand-written words pages: what tess_outputs.c writes for each page alone. */
static const char *const words_page[3] = {
    "{\"words\":[{\"text\":\"say \\\"hi\\\",\",\"confidence\":95.50,\"box\":[1,2,3,4],"
    "\"page\":1,\"line\":1},{\"text\":\"caf\xc3\xa9\\\\\\u0001\",\"confidence\":-1.00,"
    "\"box\":[5,6,7,8],\"page\":1,\"line\":2}],\"pages\":[{\"page\":1,\"width\":1000,"
    "\"height\":200}]}\n",
    "{\"words\":[],\"pages\":[{\"page\":1,\"width\":1100,\"height\":240}]}\n",
    "{\"words\":[{\"text\":\"charlie\",\"confidence\":90.00,\"box\":[10,20,30,40],\"page\":1,"
    "\"line\":1}],\"pages\":[{\"page\":1,\"width\":900,\"height\":180}]}\n",
};

static const char words_whole[] =
    "{\"words\":[{\"text\":\"say \\\"hi\\\",\",\"confidence\":95.50,\"box\":[1,2,3,4],"
    "\"page\":1,\"line\":1},{\"text\":\"caf\xc3\xa9\\\\\\u0001\",\"confidence\":-1.00,"
    "\"box\":[5,6,7,8],\"page\":1,\"line\":2},{\"text\":\"charlie\",\"confidence\":90.00,"
    "\"box\":[10,20,30,40],\"page\":3,\"line\":1}],\"pages\":[{\"page\":1,\"width\":1000,"
    "\"height\":200},{\"page\":2,\"width\":1100,\"height\":240},{\"page\":3,\"width\":900,"
    "\"height\":180}]}\n";

struct blob {
    unsigned char *data;
    size_t len;
};

#define sh(...) unit_sh(tmp, __VA_ARGS__)

/* The whole of file rel (under tmp), NUL-terminated; data NULL if it cannot be read. */
static struct blob load(const char *rel)
{
    struct unit_file f = unit_load(tmp, rel);
    struct blob b = {f.data, f.len};
    return b;
}

static int write_file(const char *rel, const void *data, size_t len)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", tmp, rel);
    FILE *f = fopen(p, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, len, f);
    return fclose(f) == 0 && w == len ? 0 : -1;
}

/* The pages the assembler fetches: dK/page.<ext>, cycling over the three. */
struct pages {
    const char *ext;
    int bad_page; /* this page gets bad_file instead (0: none) */
    const char *bad_file;
    int fail_page; /* fetching this page fails with OCRQ_ERR_IO (0: none) */
    int fetched;
};

static int fetch(void *arg, int k, unsigned char **data, size_t *len)
{
    struct pages *pg = arg;
    char rel[64];

    pg->fetched++;
    if (k == pg->fail_page)
        return OCRQ_ERR_IO;
    if (k == pg->bad_page)
        snprintf(rel, sizeof rel, "%s", pg->bad_file);
    else
        snprintf(rel, sizeof rel, "d%d/page.%s", (k - 1) % 3 + 1, pg->ext);
    struct blob b = load(rel);
    if (!b.data)
        return OCRQ_ERR_NOT_FOUND;
    *data = b.data;
    *len = b.len;
    return OCRQ_OK;
}

/* Assemble n pages of format into tmp/out; returns the status. */
static int assemble(unsigned format, int n, struct pages *pg)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/out", tmp);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    memset(why, 'x', sizeof why);
    int st = ocrq_assemble(format, n, fetch, pg, fd, why, sizeof why);
    assert_int_equal(close(fd), 0);
    return st;
}

/* Nonzero if the private directories of the PDF merges are all gone. */
static int scratch_is_empty(void)
{
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s')\"", scratch);
    return system(cmd) == 0;
}

/* Every value of attribute attr ("id='") in s, as one "\n"-separated list; nonzero if one repeats.
 */
static int ids_repeat(const char *s, const char *attr, int *count)
{
    size_t al = strlen(attr);
    char quote = attr[al - 1];
    const char *vals[4096];
    size_t lens[4096];
    int n = 0, dup = 0;

    for (const char *a = strstr(s, attr); a && n < 4096; a = strstr(a + 1, attr)) {
        const char *v = a + al, *q = strchr(v, quote);
        assert_non_null(q);
        for (int i = 0; i < n; i++)
            if (lens[i] == (size_t)(q - v) && memcmp(vals[i], v, lens[i]) == 0)
                dup = 1;
        vals[n] = v;
        lens[n++] = (size_t)(q - v);
    }
    *count = n;
    return dup;
}

/* needles appear in s in this order. */
static void assert_in_order(const char *s, const char *const *needles, int n)
{
    const char *at = s;
    for (int i = 0; i < n; i++) {
        const char *f = strstr(at, needles[i]);
        if (!f)
            fail_msg("\"%s\" is missing or out of order", needles[i]);
        at = f + strlen(needles[i]);
    }
}

/* ALTO as Tesseract 5.3 numbers it: <name>_<page>_<n> back to <name>_<n>. */
static void alto_53_ids(char *s)
{
    char *w = s;
    for (const char *r = s; *r;) {
        if (strncmp(r, " ID=\"", 5) == 0) {
            size_t pre = strspn(r + 5, "abcdefghijklmnopqrstuvwxyz_");
            size_t d = strspn(r + 5 + pre, "0123456789");
            if (pre > 0 && d > 0 && r[5 + pre + d] == '_') {
                memmove(w, r, 5 + pre);
                w += 5 + pre;
                r += 5 + pre + d + 1;
                continue;
            }
        }
        *w++ = *r++;
    }
    *w = '\0';
}

static int setup(void **state)
{
    (void)state;
    char templ[] = "/tmp/ocrq-assemble-test-XXXXXX";
    if (!mkdtemp(templ) || !realpath(templ, tmp))
        return -1;
    /* the merges' private directories go here, to see them removed */
    snprintf(scratch, sizeof scratch, "%s/scratch", tmp);
    if (mkdir(scratch, 0700) != 0 || setenv("TMPDIR", scratch, 1) != 0 ||
        setenv("OMP_THREAD_LIMIT", "1", 1) != 0)
        return -1;
    for (int i = 0; i < 3; i++) {
        char rel[32];
        if (sh("convert -size %dx%d xc:white -font DejaVu-Sans -pointsize 36 -fill black "
               "-annotate +40+%d '%s' -colorspace Gray -units PixelsPerInch -density 150 "
               "p%d.png",
               page_w[i], page_h[i], page_h[i] / 2 + 12, page_text[i], i + 1) ||
            sh("mkdir d%d && convert p%d.png -compress lzw d%d/doc.tif", i + 1, i + 1, i + 1) ||
            sh("cd d%d && tesseract doc.tif page -l eng hocr alto tsv pdf >/dev/null 2>&1", i + 1))
            return -1;
        snprintf(rel, sizeof rel, "d%d/page.words", i + 1);
        if (write_file(rel, words_page[i], strlen(words_page[i])))
            return -1;
    }
    if (sh("mkdir m && convert p1.png p2.png p3.png -compress lzw m/doc.tif") ||
        sh("cd m && tesseract doc.tif doc -l eng hocr alto tsv >/dev/null 2>&1") ||
        sh("head -c $(( $(stat -c %%s d2/page.hocr) / 2 )) d2/page.hocr > cut.hocr") ||
        sh("head -c $(( $(stat -c %%s d2/page.xml) / 2 )) d2/page.xml > cut.xml") ||
        sh("head -c $(( $(stat -c %%s d2/page.tsv) - 1 )) d2/page.tsv > cut.tsv") ||
        sh("head -c $(( $(stat -c %%s d2/page.pdf) / 2 )) d2/page.pdf > cut.pdf") ||
        sh("sed 's/ppageno 0/ppageno 1/' d2/page.hocr > ppageno.hocr") ||
        sh("sed 's/word_1_2/word_2_2/' d2/page.hocr > wordid.hocr") ||
        sh("printf '%%%%PDF-1.5\\nno objects here\\n%%%%%%%%EOF\\n' > hollow.pdf") ||
        sh("printf '<?xml version=\"1.0\"?>\\n<html><body><div class='\\''ocr_page'\\'' "
           "title='\\''ppageno 0'\\''></div></body></html>\\n' > oneline.hocr") ||
        sh("printf '{\"words\":[{\"text\":1}],\"pages\":[]}\\n' > bad.words"))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return unit_rm_tree(tmp);
}

static void test_hocr_is_tesseracts_multipage(void **state)
{
    (void)state;
    struct pages pg = {.ext = "hocr"};
    const char *order[] = {"id='page_1'", "ppageno 0",   "alpha",     "id='page_2'", "ppageno 1",
                           "bravo",       "id='page_3'", "ppageno 2", "charlie",     "</html>"};
    int n;

    assert_int_equal(assemble(OCRQ_FMT_HOCR, 3, &pg), OCRQ_OK);
    assert_int_equal(pg.fetched, 3);
    assert_int_equal(sh("xmllint --noout out"), 0);
    struct blob got = load("out"), want = load("m/doc.hocr");
    assert_non_null(got.data);
    assert_non_null(want.data);
    assert_string_equal((char *)got.data, (char *)want.data);
    assert_false(ids_repeat((char *)got.data, " id='", &n));
    assert_true(n > 3 * 5); /* a page, block, par, line and the words on each */
    assert_in_order((char *)got.data, order, 10);
    assert_non_null(strstr((char *)got.data, "id='word_3_1'"));
    assert_null(strstr((char *)got.data, "id='word_1_6'")); /* page 1 has 5 words */
    free(got.data);
    free(want.data);
}

static void test_alto_pages_and_ids(void **state)
{
    (void)state;
    struct pages pg = {.ext = "xml"};
    const char *order[] = {"<alto ",
                           "PHYSICAL_IMG_NR=\"0\" ID=\"page_0\"",
                           "alpha",
                           "PHYSICAL_IMG_NR=\"1\" ID=\"page_1\"",
                           "ID=\"string_1_0\"",
                           "bravo",
                           "PHYSICAL_IMG_NR=\"2\" ID=\"page_2\"",
                           "ID=\"cblock_2_0\"",
                           "charlie",
                           "</alto>"};
    int n;

    assert_int_equal(assemble(OCRQ_FMT_ALTO, 3, &pg), OCRQ_OK);
    assert_int_equal(sh("xmllint --noout out"), 0);
    struct blob got = load("out"), want = load("m/doc.xml");
    assert_non_null(got.data);
    assert_non_null(want.data);
    assert_false(ids_repeat((char *)got.data, " ID=\"", &n));
    assert_true(n > 3 * 5);
    assert_in_order((char *)got.data, order, 10);
    assert_non_null(strstr((char *)got.data, "ID=\"string_0\"")); /* page 1 as 5.3 writes it */
    /* the same as Tesseract 5.3's multi-page ALTO but for its repeated ids */
    alto_53_ids((char *)got.data);
    assert_string_equal((char *)got.data, (char *)want.data);
    free(got.data);
    free(want.data);
}

static void test_tsv_one_header_page_nums(void **state)
{
    (void)state;
    struct pages pg = {.ext = "tsv"};
    int headers = 0, last = 0;

    assert_int_equal(assemble(OCRQ_FMT_TSV, 3, &pg), OCRQ_OK);
    struct blob got = load("out"), want = load("m/doc.tsv");
    assert_non_null(got.data);
    assert_non_null(want.data);
    assert_string_equal((char *)got.data, (char *)want.data);
    for (char *line = strtok((char *)got.data, "\n"); line; line = strtok(NULL, "\n")) {
        int level, page;
        if (strncmp(line, "level\t", 6) == 0) {
            headers++;
            continue;
        }
        assert_int_equal(sscanf(line, "%d\t%d\t", &level, &page), 2);
        assert_true(page == last || page == last + 1);
        last = page;
    }
    assert_int_equal(headers, 1);
    assert_int_equal(last, 3);
    free(got.data);
    free(want.data);
}

static void test_words_json(void **state)
{
    (void)state;
    struct pages pg = {.ext = "words"};
    json_error_t err;

    assert_int_equal(assemble(OCRQ_FMT_WORDS, 3, &pg), OCRQ_OK);
    struct blob got = load("out");
    assert_non_null(got.data);
    assert_string_equal((char *)got.data, words_whole);
    json_t *doc = json_loadb((char *)got.data, got.len, 0, &err);
    if (!doc)
        fail_msg("the words JSON does not parse: %s", err.text);
    json_t *words = json_object_get(doc, "words"), *pages = json_object_get(doc, "pages");
    assert_int_equal(json_array_size(words), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(words, 0), "text")),
                        "say \"hi\",");
    assert_string_equal(json_string_value(json_object_get(json_array_get(words, 1), "text")),
                        "caf\xc3\xa9\\\x01");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(words, 2), "page")), 3);
    assert_int_equal(json_array_size(pages), 3);
    for (int i = 0; i < 3; i++) {
        json_t *p = json_array_get(pages, (size_t)i);
        assert_int_equal(json_integer_value(json_object_get(p, "page")), i + 1);
        assert_int_equal(json_integer_value(json_object_get(p, "width")), page_w[i]);
        assert_int_equal(json_integer_value(json_object_get(p, "height")), page_h[i]);
    }
    json_decref(doc);
    free(got.data);
}

static void test_pdf_merged_in_order(void **state)
{
    (void)state;
    struct pages pg = {.ext = "pdf"};
    const char *order[] = {"alpha", "bravo", "charlie"};

    assert_int_equal(assemble(OCRQ_FMT_PDF, 3, &pg), OCRQ_OK);
    assert_true(scratch_is_empty());
    assert_int_equal(sh("pdfinfo out | grep -qx 'Pages: *3'"), 0);
    assert_int_equal(sh("pdfinfo out | grep -q '^Producer: *Tesseract'"), 0);
    assert_int_equal(sh("test $(pdfimages -list out | grep -c ' image ') -eq 3"), 0);
    assert_int_equal(sh("pdftotext -raw out out.txt"), 0);
    struct blob text = load("out.txt");
    assert_non_null(text.data);
    assert_in_order((char *)text.data, order, 3);
    free(text.data);
}

/* More pages than qpdf keeps open at once (200): it must reopen them. */
static void test_pdf_many_pages(void **state)
{
    (void)state;
    struct pages pg = {.ext = "pdf"};

    assert_int_equal(assemble(OCRQ_FMT_PDF, 250, &pg), OCRQ_OK);
    assert_int_equal(pg.fetched, 250);
    assert_true(scratch_is_empty());
    assert_int_equal(sh("pdfinfo out | grep -qx 'Pages: *250'"), 0);
    assert_int_equal(sh("pdftotext -raw -f 250 -l 250 out - | grep -q alpha"), 0);
    assert_int_equal(sh("pdftotext -raw -f 248 -l 248 out - | grep -q bravo"), 0);
}

/* Hundreds of pages stream through as well; the ids keep counting. */
static void test_hocr_many_pages(void **state)
{
    (void)state;
    struct pages pg = {.ext = "hocr"};
    int n;

    assert_int_equal(assemble(OCRQ_FMT_HOCR, 300, &pg), OCRQ_OK);
    assert_int_equal(sh("xmllint --noout out"), 0);
    struct blob got = load("out");
    assert_non_null(got.data);
    assert_false(ids_repeat((char *)got.data, " id='", &n));
    assert_non_null(strstr((char *)got.data, "id='page_300'"));
    assert_non_null(strstr((char *)got.data, "ppageno 299;"));
    free(got.data);
}

static void test_malformed_page_is_decode(void **state)
{
    (void)state;
    static const struct {
        unsigned format;
        const char *ext, *bad;
    } cases[] = {
        {OCRQ_FMT_HOCR, "hocr", "cut.hocr"},     {OCRQ_FMT_HOCR, "hocr", "m/doc.hocr"},
        {OCRQ_FMT_HOCR, "hocr", "ppageno.hocr"}, {OCRQ_FMT_HOCR, "hocr", "wordid.hocr"},
        {OCRQ_FMT_HOCR, "hocr", "d2/page.xml"},  {OCRQ_FMT_HOCR, "hocr", "oneline.hocr"},
        {OCRQ_FMT_ALTO, "xml", "cut.xml"},       {OCRQ_FMT_ALTO, "xml", "m/doc.xml"},
        {OCRQ_FMT_ALTO, "xml", "d2/page.hocr"},  {OCRQ_FMT_TSV, "tsv", "cut.tsv"},
        {OCRQ_FMT_TSV, "tsv", "m/doc.tsv"},      {OCRQ_FMT_TSV, "tsv", "d2/page.hocr"},
        {OCRQ_FMT_WORDS, "words", "bad.words"},  {OCRQ_FMT_WORDS, "words", "d2/page.tsv"},
        {OCRQ_FMT_PDF, "pdf", "cut.pdf"},        {OCRQ_FMT_PDF, "pdf", "hollow.pdf"},
        {OCRQ_FMT_PDF, "pdf", "d2/page.hocr"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct pages pg = {.ext = cases[i].ext, .bad_page = 2, .bad_file = cases[i].bad};
        int st = assemble(cases[i].format, 3, &pg);
        if (st != OCRQ_ERR_DECODE || !strstr(why, "page 2"))
            fail_msg("%s as page 2 of %s: %s (%s)", cases[i].bad, cases[i].ext, ocrq_strerror(st),
                     why);
        assert_null(strstr(why, scratch)); /* no private paths */
        assert_true(scratch_is_empty());
    }
}

static void test_fetch_error_is_returned(void **state)
{
    (void)state;
    static const unsigned formats[] = {OCRQ_FMT_HOCR, OCRQ_FMT_ALTO, OCRQ_FMT_TSV, OCRQ_FMT_WORDS,
                                       OCRQ_FMT_PDF};
    static const char *const exts[] = {"hocr", "xml", "tsv", "words", "pdf"};

    for (int i = 0; i < 5; i++) {
        struct pages pg = {.ext = exts[i], .fail_page = 2};
        assert_int_equal(assemble(formats[i], 3, &pg), OCRQ_ERR_IO);
        assert_non_null(strstr(why, "page 2"));
        assert_int_equal(pg.fetched, 2); /* stops there */
        assert_true(scratch_is_empty());
    }
}

static void test_bad_arguments(void **state)
{
    (void)state;
    struct pages pg = {.ext = "hocr"};

    assert_int_equal(assemble(OCRQ_FMT_HOCR, 0, &pg), OCRQ_ERR_INVALID);
    assert_int_equal(assemble(OCRQ_FMT_TXT, 3, &pg), OCRQ_ERR_INVALID);
    assert_int_equal(assemble(OCRQ_FMT_HOCR | OCRQ_FMT_ALTO, 3, &pg), OCRQ_ERR_INVALID);
    assert_int_equal(pg.fetched, 0);
    assert_true(why[0] != '\0' && strlen(why) < sizeof why);
}

static void test_write_error_is_io(void **state)
{
    (void)state;
    static const unsigned formats[] = {OCRQ_FMT_HOCR, OCRQ_FMT_PDF};
    static const char *const exts[] = {"hocr", "pdf"};

    for (int i = 0; i < 2; i++) {
        struct pages pg = {.ext = exts[i]};
        int fd = open("/dev/null", O_RDONLY);
        assert_true(fd >= 0);
        assert_int_equal(ocrq_assemble(formats[i], 3, fetch, &pg, fd, why, sizeof why),
                         OCRQ_ERR_IO);
        close(fd);
        assert_non_null(strstr(why, "cannot write"));
        assert_true(scratch_is_empty());
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hocr_is_tesseracts_multipage),
        cmocka_unit_test(test_alto_pages_and_ids),
        cmocka_unit_test(test_tsv_one_header_page_nums),
        cmocka_unit_test(test_words_json),
        cmocka_unit_test(test_pdf_merged_in_order),
        cmocka_unit_test(test_pdf_many_pages),
        cmocka_unit_test(test_hocr_many_pages),
        cmocka_unit_test(test_malformed_page_is_decode),
        cmocka_unit_test(test_fetch_error_is_returned),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_write_error_is_io),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
