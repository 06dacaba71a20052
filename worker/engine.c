/*
 * Tesseract and Leptonica behind the engine interface of engine.h: header
 * check against the pixel cap, decode, recognize with a cached engine per
 * language set. Leptonica's and Tesseract's own chatter goes to our log.
 */
#include "engine.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leptonica/allheaders.h>
#include <tesseract/capi.h>

#include "ocrq/log.h"
#include "ocrq/status.h"

#define MAX_ENGINES 32

struct engine {
    char *lang;
    TessBaseAPI *api;
    unsigned long last_used;
};

struct ocrq_engines {
    char *tessdata_dir;
    int cap;
    int n;
    unsigned long clock;
    struct engine slot[MAX_ENGINES];
};

static void lept_to_log(const char *msg)
{
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        n--;
    log_debug(NULL, "leptonica: %.*s", (int)n, msg);
}

int ocrq_engines_new(const char *tessdata_dir, int cache_size, struct ocrq_engines **out)
{
    struct ocrq_engines *set;

    *out = NULL;
    set = calloc(1, sizeof(*set));
    if (set == NULL)
        return OCRQ_ERR_NOMEM;
    set->tessdata_dir = strdup(tessdata_dir ? tessdata_dir : "");
    if (set->tessdata_dir == NULL) {
        free(set);
        return OCRQ_ERR_NOMEM;
    }
    set->cap = cache_size < 1 ? 1 : cache_size > MAX_ENGINES ? MAX_ENGINES : cache_size;
    leptSetStderrHandler(lept_to_log);
    *out = set;
    return OCRQ_OK;
}

static void engine_drop(struct engine *e)
{
    if (e->api != NULL) {
        TessBaseAPIEnd(e->api);
        TessBaseAPIDelete(e->api);
    }
    free(e->lang);
    memset(e, 0, sizeof(*e));
}

void ocrq_engines_free(struct ocrq_engines *set)
{
    if (set == NULL)
        return;
    for (int i = 0; i < set->n; i++)
        engine_drop(&set->slot[i]);
    free(set->tessdata_dir);
    free(set);
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

int ocrq_engines_check_lang(struct ocrq_engines *set, const char *lang, char *why,
                            size_t whylen)
{
    const char *p = lang;

    while (*p != '\0') {
        size_t len = strcspn(p, "+");
        if (len == 0 || !lang_installed(set->tessdata_dir, p, len)) {
            char installed[512];
            list_installed(set->tessdata_dir, installed, sizeof(installed));
            snprintf(why, whylen, "language '%.*s' is not installed; installed: %s", (int)len,
                     p, installed);
            return OCRQ_ERR_LANG;
        }
        p += len;
        if (*p == '+')
            p++;
    }
    return OCRQ_OK;
}

/* The cached engine for lang, creating it (and evicting the least recently used) if needed. */
static TessBaseAPI *engine_get(struct ocrq_engines *set, const char *lang, char *why,
                               size_t whylen)
{
    struct engine *e = NULL;

    for (int i = 0; i < set->n; i++) {
        if (strcmp(set->slot[i].lang, lang) == 0) {
            e = &set->slot[i];
            e->last_used = ++set->clock;
            return e->api;
        }
    }
    if (set->n < set->cap) {
        e = &set->slot[set->n++];
    } else {
        e = &set->slot[0];
        for (int i = 1; i < set->n; i++)
            if (set->slot[i].last_used < e->last_used)
                e = &set->slot[i];
        log_info(NULL, "engine cache full: dropping %s", e->lang);
        engine_drop(e);
    }
    e->lang = strdup(lang);
    e->api = TessBaseAPICreate();
    if (e->lang == NULL || e->api == NULL ||
        TessBaseAPIInit3(e->api, set->tessdata_dir, lang) != 0) {
        snprintf(why, whylen, "tesseract could not load language '%s' from %s", lang,
                 set->tessdata_dir);
        engine_drop(e);
        /* keep the slots dense */
        *e = set->slot[--set->n];
        memset(&set->slot[set->n], 0, sizeof(set->slot[0]));
        return NULL;
    }
    /* Tesseract's tprintf chatter ("Invalid resolution") is not for our log. */
    TessBaseAPISetVariable(e->api, "debug_file", "/dev/null");
    e->last_used = ++set->clock;
    log_info(NULL, "engine ready: %s", lang);
    return e->api;
}

int ocrq_engines_recognize(struct ocrq_engines *set, const char *lang, const void *data,
                           size_t len, long long max_pixels, struct ocrq_ocr_result *res,
                           char *why, size_t whylen)
{
    l_int32 format = 0, w = 0, h = 0, bps = 0, spp = 0, iscmap = 0;
    PIX *pix = NULL;
    TessBaseAPI *api;
    char *text = NULL;
    int st = OCRQ_OK;

    memset(res, 0, sizeof(*res));
    if (pixReadHeaderMem(data, len, &format, &w, &h, &bps, &spp, &iscmap) != 0) {
        snprintf(why, whylen, "not a readable image (%zu bytes)", len);
        return OCRQ_ERR_DECODE;
    }
    if (w <= 0 || h <= 0) {
        snprintf(why, whylen, "image header gives no size (%dx%d)", w, h);
        return OCRQ_ERR_DECODE;
    }
    if ((long long)w * h > max_pixels) {
        snprintf(why, whylen, "image is %dx%d = %lld pixels, over the cap of %lld", w, h,
                 (long long)w * h, max_pixels);
        return OCRQ_ERR_TOO_LARGE;
    }
    pix = pixReadMem(data, len);
    if (pix == NULL) {
        snprintf(why, whylen, "image data is damaged (%dx%d header, %zu bytes)", w, h, len);
        return OCRQ_ERR_DECODE;
    }
    api = engine_get(set, lang, why, whylen);
    if (api == NULL) {
        st = OCRQ_ERR_LANG;
        goto out;
    }
    if (pixGetXRes(pix) < 50)
        pixSetResolution(pix, 300, 300); /* no DPI in the file: assume a scan, not 70 dpi */
    TessBaseAPISetImage2(api, pix);
    if (TessBaseAPIRecognize(api, NULL) != 0) {
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
    res->width = w;
    res->height = h;
out:
    if (text != NULL)
        TessDeleteText(text);
    if (api != NULL)
        TessBaseAPIClear(api);
    pixDestroy(&pix);
    return st;
}

void ocrq_ocr_result_cleanup(struct ocrq_ocr_result *res)
{
    free(res->text);
    memset(res, 0, sizeof(*res));
}

static char version_buf[64];

static void version_init(void)
{
    snprintf(version_buf, sizeof(version_buf), "tesseract %s", TessVersion());
}

const char *ocrq_engine_version(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;

    pthread_once(&once, version_init);
    return version_buf;
}
