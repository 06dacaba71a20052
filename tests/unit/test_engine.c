/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests of the engine set (worker/engine.c) on a fake backend: one
 * handle per language set, the least recently used one dropped when the
 * cache is full, the cache size's limits, a handle that cannot be made,
 * the orientation handle kept apart, and every handle destroyed at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <leptonica/allheaders.h>

#include "engine.h"
#include "ocrq/status.h"

/* What the fake backend was asked to do, in order. */
struct fake {
    char log[4096];   /* "+eng -deu ..." : created and destroyed handles */
    int live;         /* handles made and not destroyed */
    int made;         /* handles made */
    char datadir[64]; /* the last datadir it was given */
};

static struct fake fk;

struct handle {
    char lang[64];
    int serial; /* which creation made it */
};

static void note(char op, const char *lang)
{
    size_t n = strlen(fk.log);
    snprintf(fk.log + n, sizeof fk.log - n, "%s%c%s", n ? " " : "", op, lang);
}

static int fake_supports(const struct ocrq_device *dev)
{
    return dev->kind == OCRQ_DEVICE_CPU;
}

/* "bad" and "gone" are not installed */
static int fake_check_langs(const char *datadir, const char *langs, char *why, size_t whylen)
{
    snprintf(fk.datadir, sizeof fk.datadir, "%s", datadir);
    if (strcmp(langs, "bad") == 0 || strcmp(langs, "gone") == 0) {
        snprintf(why, whylen, "%s is not installed", langs);
        return OCRQ_ERR_LANG;
    }
    return OCRQ_OK;
}

static int fake_create(const struct ocrq_device *dev, const char *datadir, const char *langs,
                       void **out, char *why, size_t whylen)
{
    (void)dev;
    *out = NULL;
    if (fake_check_langs(datadir, langs, why, whylen) != OCRQ_OK)
        return OCRQ_ERR_LANG;
    struct handle *h = calloc(1, sizeof *h);
    if (h == NULL)
        return OCRQ_ERR_NOMEM;
    snprintf(h->lang, sizeof h->lang, "%s", langs);
    h->serial = ++fk.made;
    fk.live++;
    note('+', langs);
    *out = h;
    return OCRQ_OK;
}

/* The text says which handle did it: "<lang>#<serial>"; a page 13 pixels wide fails. */
static int fake_recognize(void *handle, struct Pix *pix, int timeout_ms,
                          struct ocrq_outputs *outputs, struct ocrq_ocr_result *res, char *why,
                          size_t whylen)
{
    struct handle *h = handle;
    (void)timeout_ms;
    (void)outputs;
    if (asprintf(&res->text, "%s#%d", h->lang, h->serial) < 0)
        return OCRQ_ERR_NOMEM;
    res->mean_confidence = 90;
    if (pixGetWidth(pix) == 13) {
        snprintf(why, whylen, "unlucky page");
        return OCRQ_ERR_OCR; /* with text set: the set must free it */
    }
    return OCRQ_OK;
}

static int fake_orient(void *handle, struct Pix *pix, int *rotate_cw, double *conf, char *why,
                       size_t whylen)
{
    struct handle *h = handle;
    (void)pix;
    (void)why;
    (void)whylen;
    *rotate_cw = strcmp(h->lang, OCRQ_OSD_LANG) == 0 ? 90 : -1;
    *conf = h->serial;
    return OCRQ_OK;
}

static void fake_destroy(void *handle)
{
    struct handle *h = handle;
    note('-', h->lang);
    fk.live--;
    free(h);
}

static const char *fake_version(void)
{
    return "fake 1.0";
}

static const struct ocrq_engine_ops fake_ops = {
    .name = "fake",
    .supports = fake_supports,
    .check_langs = fake_check_langs,
    .create = fake_create,
    .recognize = fake_recognize,
    .orient = fake_orient,
    .destroy = fake_destroy,
    .version = fake_version,
};

static const struct ocrq_device cpu = {OCRQ_DEVICE_CPU, -1};

/* The state of one test: a set of the fake backend and a page to recognize. */
struct fixture {
    struct ocrq_engines *set;
    PIX *page;
};

static struct fixture *fixture_new(int cache_size, const struct ocrq_engine_ops *ops)
{
    struct fixture *f = calloc(1, sizeof *f);
    memset(&fk, 0, sizeof fk);
    assert_non_null(f);
    assert_int_equal(ocrq_engines_new(ops, &cpu, "/data/tess", cache_size, &f->set), OCRQ_OK);
    f->page = pixCreate(40, 30, 1);
    assert_non_null(f->page);
    return f;
}

static int setup_cache2(void **state)
{
    *state = fixture_new(2, &fake_ops);
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    ocrq_engines_free(f->set);
    pixDestroy(&f->page);
    free(f);
    /* every handle made was destroyed, whatever the test did */
    assert_int_equal(fk.live, 0);
    return 0;
}

/* Recognize f's page in lang; returns the text ("<lang>#<serial>"), "" on error. */
static const char *ocr(struct fixture *f, const char *lang)
{
    static char text[128];
    struct ocrq_ocr_result res;
    char why[128] = "";

    text[0] = '\0';
    if (ocrq_engines_recognize(f->set, lang, f->page, 0, NULL, &res, why, sizeof why) == OCRQ_OK)
        snprintf(text, sizeof text, "%s", res.text);
    ocrq_ocr_result_cleanup(&res);
    return text;
}

static void unsupported_device_refused(void **state)
{
    struct ocrq_engines *set = (struct ocrq_engines *)&set;
    const struct ocrq_device gpu = {OCRQ_DEVICE_GPU, 0};
    (void)state;
    assert_int_equal(ocrq_engines_new(&fake_ops, &gpu, "/d", 2, &set), OCRQ_ERR_INVALID);
    assert_null(set);
    ocrq_engines_free(NULL); /* NULL is fine */
}

static void one_handle_per_language(void **state)
{
    struct fixture *f = *state;
    assert_string_equal(ocr(f, "eng"), "eng#1");
    assert_string_equal(ocr(f, "eng"), "eng#1"); /* the same handle again */
    assert_string_equal(ocr(f, "eng+deu"), "eng+deu#2");
    assert_string_equal(ocr(f, "eng"), "eng#1");
    assert_string_equal(fk.log, "+eng +eng+deu");
    assert_string_equal(ocrq_engines_version(f->set), "fake 1.0");
}

static void least_recently_used_goes_first(void **state)
{
    struct fixture *f = *state;
    assert_string_equal(ocr(f, "eng"), "eng#1");
    assert_string_equal(ocr(f, "deu"), "deu#2");
    assert_string_equal(ocr(f, "eng"), "eng#1"); /* deu is now the least recently used */
    assert_string_equal(ocr(f, "fra"), "fra#3");
    assert_string_equal(fk.log, "+eng +deu -deu +fra");
    assert_string_equal(ocr(f, "eng"), "eng#1"); /* kept */
    assert_string_equal(ocr(f, "deu"), "deu#4"); /* made again, in place of fra */
    assert_string_equal(fk.log, "+eng +deu -deu +fra -fra +deu");
    assert_int_equal(fk.live, 2);
}

static void cache_size_at_least_one(void **state)
{
    struct fixture *f = fixture_new(0, &fake_ops);
    (void)state;
    assert_string_equal(ocr(f, "eng"), "eng#1");
    assert_string_equal(ocr(f, "deu"), "deu#2");
    assert_string_equal(ocr(f, "eng"), "eng#3");
    assert_string_equal(fk.log, "+eng -eng +deu -deu +eng");
    void *keep = f;
    teardown(&keep);
}

static void cache_size_at_most_32(void **state)
{
    struct fixture *f = fixture_new(1000, &fake_ops);
    char lang[16];
    (void)state;
    for (int i = 0; i < 32; i++) {
        snprintf(lang, sizeof lang, "l%d", i);
        assert_true(ocr(f, lang)[0] != '\0');
    }
    assert_int_equal(fk.live, 32);
    assert_null(strchr(fk.log, '-')); /* 32 fit */
    assert_string_equal(ocr(f, "l32"), "l32#33");
    assert_int_equal(fk.live, 32);
    assert_non_null(strstr(fk.log, "-l0 +l32")); /* the 33rd drops the first */
    void *keep = f;
    teardown(&keep);
}

static void a_language_that_fails_takes_no_slot(void **state)
{
    struct fixture *f = *state;
    struct ocrq_ocr_result res;
    char why[128] = "";

    assert_string_equal(ocr(f, "eng"), "eng#1");
    assert_int_equal(ocrq_engines_recognize(f->set, "bad", f->page, 0, NULL, &res, why, sizeof why),
                     OCRQ_ERR_LANG);
    assert_string_equal(why, "bad is not installed");
    assert_null(res.text);
    /* the failed one left no slot behind: deu fits beside eng, nothing dropped */
    assert_string_equal(ocr(f, "deu"), "deu#2");
    assert_string_equal(ocr(f, "eng"), "eng#1");
    assert_string_equal(fk.log, "+eng +deu");
    assert_string_equal(fk.datadir, "/data/tess");
}

static void recognize_result(void **state)
{
    struct fixture *f = *state;
    struct ocrq_ocr_result res;
    char why[128] = "";

    assert_int_equal(ocrq_engines_recognize(f->set, "eng", f->page, 0, NULL, &res, why, sizeof why),
                     OCRQ_OK);
    assert_string_equal(res.text, "eng#1");
    assert_int_equal(res.width, 40); /* the page's size */
    assert_int_equal(res.height, 30);
    ocrq_ocr_result_cleanup(&res);
    assert_null(res.text);

    PIX *unlucky = pixCreate(13, 10, 1);
    assert_int_equal(ocrq_engines_recognize(f->set, "eng", unlucky, 0, NULL, &res, why, sizeof why),
                     OCRQ_ERR_OCR);
    pixDestroy(&unlucky);
    assert_null(res.text); /* freed and cleared on error */
    assert_int_equal(res.width, 0);
    assert_string_equal(why, "unlucky page");
}

static void check_lang_asks_the_backend(void **state)
{
    struct fixture *f = *state;
    char why[128] = "";
    assert_int_equal(ocrq_engines_check_lang(f->set, "eng", why, sizeof why), OCRQ_OK);
    assert_string_equal(fk.datadir, "/data/tess");
    assert_int_equal(ocrq_engines_check_lang(f->set, "gone", why, sizeof why), OCRQ_ERR_LANG);
    assert_string_equal(why, "gone is not installed");
    assert_string_equal(fk.log, ""); /* checking makes no handle */
}

static void orientation_handle_apart(void **state)
{
    struct fixture *f = *state;
    int rot = 0;
    double conf = 0;
    char why[128] = "";

    assert_string_equal(ocr(f, "eng"), "eng#1");
    assert_string_equal(ocr(f, "deu"), "deu#2");
    assert_int_equal(ocrq_engines_orient(f->set, f->page, &rot, &conf, why, sizeof why), OCRQ_OK);
    assert_int_equal(rot, 90);
    assert_true(conf == 3.0); /* made once */
    assert_int_equal(ocrq_engines_orient(f->set, f->page, &rot, &conf, why, sizeof why), OCRQ_OK);
    assert_true(conf == 3.0); /* ... and kept */
    /* it takes none of the language slots: both are still cached */
    assert_string_equal(ocr(f, "eng"), "eng#1");
    assert_string_equal(ocr(f, "deu"), "deu#2");
    assert_string_equal(fk.log, "+eng +deu +osd");
}

static void orientation_without_backend_support(void **state)
{
    struct fixture *f;
    struct ocrq_engine_ops no_orient = fake_ops;
    int rot = 7;
    double conf = 7;
    char why[128] = "";
    (void)state;

    no_orient.orient = NULL;
    f = fixture_new(2, &no_orient);
    assert_int_equal(ocrq_engines_orient(f->set, f->page, &rot, &conf, why, sizeof why),
                     OCRQ_ERR_LANG);
    assert_int_equal(rot, 0); /* cleared on entry */
    assert_true(conf == 0);
    assert_string_equal(why, "the fake engine cannot detect orientation");
    assert_string_equal(fk.log, "");
    void *keep = f;
    teardown(&keep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unsupported_device_refused),
        cmocka_unit_test_setup_teardown(one_handle_per_language, setup_cache2, teardown),
        cmocka_unit_test_setup_teardown(least_recently_used_goes_first, setup_cache2, teardown),
        cmocka_unit_test(cache_size_at_least_one),
        cmocka_unit_test(cache_size_at_most_32),
        cmocka_unit_test_setup_teardown(a_language_that_fails_takes_no_slot, setup_cache2,
                                        teardown),
        cmocka_unit_test_setup_teardown(recognize_result, setup_cache2, teardown),
        cmocka_unit_test_setup_teardown(check_lang_asks_the_backend, setup_cache2, teardown),
        cmocka_unit_test_setup_teardown(orientation_handle_apart, setup_cache2, teardown),
        cmocka_unit_test(orientation_without_backend_support),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
