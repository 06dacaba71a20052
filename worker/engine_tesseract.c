/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The Tesseract backend of engine.h, through its C API. CPU only: upstream
 * removed the OpenCL code, so there is no GPU path to offer.
 */
#include "engine.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tesseract/capi.h>

#include "ocrq/clock.h"
#include "ocrq/status.h"
#include "tess_outputs.h"

static int tess_supports(const struct ocrq_device *dev)
{
    return dev->kind == OCRQ_DEVICE_CPU;
}

static int lang_installed(const char *dir, const char *name, size_t len)
{
    char path[4096];
    FILE *f;

    if (snprintf(path, sizeof(path), "%s/%.*s.traineddata", dir, (int)len, name) >=
        (int)sizeof(path))
        return 0;
    f = fopen(path, "rb");
    if (f == NULL)
        return 0;
    fclose(f);
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "deu, eng, osd": the installed languages, sorted, for error messages. */
static void list_installed(const char *dir, char *buf, size_t buflen)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char *names[128];
    size_t n = 0, used = 0;

    buf[0] = '\0';
    if (d == NULL) {
        snprintf(buf, buflen, "none (cannot read %s)", dir);
        return;
    }
    while ((de = readdir(d)) != NULL && n < sizeof(names) / sizeof(names[0])) {
        const char *dot = strstr(de->d_name, ".traineddata");
        if (dot == NULL || dot[12] != '\0' || dot == de->d_name)
            continue;
        names[n] = strndup(de->d_name, (size_t)(dot - de->d_name));
        if (names[n] != NULL)
            n++;
    }
    closedir(d);
    qsort(names, n, sizeof(names[0]), cmp_str);
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(buf + used, buflen - used, "%s%s", used ? ", " : "", names[i]);
        if (w > 0 && (size_t)w < buflen - used)
            used += (size_t)w;
        free(names[i]);
    }
}

static int tess_check_langs(const char *datadir, const char *langs, char *why, size_t whylen)
{
    const char *p = langs;

    while (*p != '\0') {
        size_t len = strcspn(p, "+");
        if (len == 0 || !lang_installed(datadir, p, len)) {
            char installed[512];
            list_installed(datadir, installed, sizeof(installed));
            snprintf(why, whylen, "language '%.*s' is not installed; installed: %s", (int)len, p,
                     installed);
            return OCRQ_ERR_LANG;
        }
        p += len;
        if (*p == '+')
            p++;
    }
    return OCRQ_OK;
}

static int tess_create(const struct ocrq_device *dev, const char *datadir, const char *langs,
                       void **out, char *why, size_t whylen)
{
    TessBaseAPI *api;

    *out = NULL;
    if (!tess_supports(dev)) {
        snprintf(why, whylen, "tesseract has no GPU backend");
        return OCRQ_ERR_INVALID;
    }
    api = TessBaseAPICreate();
    if (api == NULL) {
        snprintf(why, whylen, "out of memory creating a tesseract engine");
        return OCRQ_ERR_NOMEM;
    }
    if (TessBaseAPIInit3(api, datadir, langs) != 0) {
        snprintf(why, whylen, "tesseract could not load language '%s' from %s", langs, datadir);
        TessBaseAPIDelete(api);
        return OCRQ_ERR_LANG;
    }
    /* Tesseract's tprintf chatter ("Invalid resolution") is not for our log. */
    TessBaseAPISetVariable(api, "debug_file", "/dev/null");
    *out = api;
    return OCRQ_OK;
}

/*
 * The monitor's deadline is checked between words and phases; past it,
 * Recognize stops early. Whatever Recognize returns, a job that ran past its
 * deadline is a timeout: its text may be partial.
 */
static int tess_recognize(void *handle, struct Pix *pix, int timeout_ms,
                          struct ocrq_outputs *outputs, struct ocrq_ocr_result *res, char *why,
                          size_t whylen)
{
    TessBaseAPI *api = handle;
    ETEXT_DESC *monitor = NULL;
    char *text = NULL;
    long long t0 = ocrq_now_ms();
    int rc, st = OCRQ_OK;

    if (timeout_ms > 0) {
        monitor = TessMonitorCreate();
        if (monitor == NULL) {
            snprintf(why, whylen, "out of memory creating a tesseract monitor");
            return OCRQ_ERR_NOMEM;
        }
        TessMonitorSetDeadlineMSecs(monitor, timeout_ms);
    }
    TessBaseAPISetImage2(api, pix);
    rc = TessBaseAPIRecognize(api, monitor);
    if (timeout_ms > 0 && ocrq_now_ms() - t0 >= timeout_ms) {
        snprintf(why, whylen,
                 "recognition stopped at the time limit of %d ms "
                 "(worker.job_timeout_s)",
                 timeout_ms);
        st = OCRQ_ERR_TIMEOUT;
        goto out;
    }
    if (rc != 0) {
        snprintf(why, whylen, "tesseract failed to recognize the image");
        st = OCRQ_ERR_OCR;
        goto out;
    }
    text = TessBaseAPIGetUTF8Text(api);
    if (text == NULL) {
        snprintf(why, whylen, "tesseract returned no text");
        st = OCRQ_ERR_OCR;
        goto out;
    }
    res->text = strdup(text);
    if (res->text == NULL) {
        st = OCRQ_ERR_NOMEM;
        goto out;
    }
    res->mean_confidence = TessBaseAPIMeanTextConf(api);
    /* the renderers read the recognized page from api: before it is cleared */
    if (outputs != NULL)
        st = ocrq_tess_outputs_page(outputs, api, pix, why, whylen);
out:
    if (text != NULL)
        TessDeleteText(text);
    TessBaseAPIClear(api);
    if (monitor != NULL)
        TessMonitorDelete(monitor);
    return st;
}

/*
 * Tesseract's orient_deg is how far the text is turned counter-clockwise
 * (its "Orientation in degrees"); the page goes upright when it is turned
 * that much clockwise back, i.e. (360 - orient_deg) % 360 clockwise, what
 * `tesseract --psm 0` prints as "Rotate".
 */
static int tess_orient(void *handle, struct Pix *pix, int *rotate_cw, double *conf, char *why,
                       size_t whylen)
{
    TessBaseAPI *api = handle;
    const char *script = NULL;
    float oconf = 0, sconf = 0;
    int deg = 0, st = OCRQ_OK;

    TessBaseAPISetImage2(api, pix);
    if (!TessBaseAPIDetectOrientationScript(api, &deg, &oconf, &script, &sconf)) {
        snprintf(why, whylen, "orientation detection found too little text");
        st = OCRQ_ERR_OCR;
        goto out;
    }
    *rotate_cw = ((360 - deg) % 360 + 360) % 360;
    *conf = oconf;
out:
    TessBaseAPIClear(api);
    return st;
}

static void tess_destroy(void *handle)
{
    TessBaseAPI *api = handle;

    if (api == NULL)
        return;
    TessBaseAPIEnd(api);
    TessBaseAPIDelete(api);
}

static char version_buf[64];

static void version_init(void)
{
    snprintf(version_buf, sizeof(version_buf), "tesseract %s", TessVersion());
}

static const char *tess_version(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;

    pthread_once(&once, version_init);
    return version_buf;
}

const struct ocrq_engine_ops ocrq_tesseract_engine = {
    .name = "tesseract",
    .supports = tess_supports,
    .check_langs = tess_check_langs,
    .create = tess_create,
    .recognize = tess_recognize,
    .outputs_begin = ocrq_tess_outputs_begin,
    .outputs_end = ocrq_tess_outputs_end,
    .outputs_free = ocrq_tess_outputs_free,
    .orient = tess_orient,
    .destroy = tess_destroy,
    .version = tess_version,
};
