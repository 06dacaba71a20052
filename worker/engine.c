/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The engine set of engine.h: a cache keeps one backend handle per language
 * set, and recognizes the pages document.c decoded. Leptonica's own chatter
 * goes to our log.
 */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leptonica/allheaders.h>

#include "ocrq/log.h"
#include "ocrq/status.h"

#define MAX_ENGINES 32

struct engine {
    char *lang;
    void *handle;
    unsigned long last_used;
};

struct ocrq_engines {
    const struct ocrq_engine_ops *ops;
    struct ocrq_device dev;
    char *datadir;
    int cap;
    int n;
    unsigned long clock;
    struct engine slot[MAX_ENGINES];
    void *osd; /* the orientation handle, made on first use */
};

static void lept_to_log(const char *msg)
{
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        n--;
    log_debug(NULL, "leptonica: %.*s", (int)n, msg);
}

const char *ocrq_device_name(const struct ocrq_device *dev, char *buf, size_t len)
{
    if (dev->kind == OCRQ_DEVICE_GPU)
        snprintf(buf, len, "gpu %d", dev->id);
    else
        snprintf(buf, len, "cpu");
    return buf;
}

int ocrq_engines_new(const struct ocrq_engine_ops *ops, const struct ocrq_device *dev,
                     const char *datadir, int cache_size, struct ocrq_engines **out)
{
    struct ocrq_engines *set;

    *out = NULL;
    if (!ops->supports(dev))
        return OCRQ_ERR_INVALID;
    set = calloc(1, sizeof(*set));
    if (set == NULL)
        return OCRQ_ERR_NOMEM;
    set->datadir = strdup(datadir ? datadir : "");
    if (set->datadir == NULL) {
        free(set);
        return OCRQ_ERR_NOMEM;
    }
    set->ops = ops;
    set->dev = *dev;
    set->cap = cache_size < 1 ? 1 : cache_size > MAX_ENGINES ? MAX_ENGINES : cache_size;
    leptSetStderrHandler(lept_to_log);
    *out = set;
    return OCRQ_OK;
}

static void engine_drop(const struct ocrq_engines *set, struct engine *e)
{
    if (e->handle != NULL)
        set->ops->destroy(e->handle);
    free(e->lang);
    memset(e, 0, sizeof(*e));
}

void ocrq_engines_free(struct ocrq_engines *set)
{
    if (set == NULL)
        return;
    for (int i = 0; i < set->n; i++)
        engine_drop(set, &set->slot[i]);
    if (set->osd != NULL)
        set->ops->destroy(set->osd);
    free(set->datadir);
    free(set);
}

int ocrq_engines_check_lang(struct ocrq_engines *set, const char *lang, char *why, size_t whylen)
{
    return set->ops->check_langs(set->datadir, lang, why, whylen);
}

const char *ocrq_engines_version(const struct ocrq_engines *set)
{
    return set->ops->version();
}

/* The cached handle for lang, creating it (and evicting the least recently used) if needed. */
static void *engine_get(struct ocrq_engines *set, const char *lang, char *why, size_t whylen)
{
    struct engine *e = NULL;
    char dev[32];

    for (int i = 0; i < set->n; i++) {
        if (strcmp(set->slot[i].lang, lang) == 0) {
            e = &set->slot[i];
            e->last_used = ++set->clock;
            return e->handle;
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
        engine_drop(set, e);
    }
    e->lang = strdup(lang);
    if (e->lang == NULL ||
        set->ops->create(&set->dev, set->datadir, lang, &e->handle, why, whylen) != OCRQ_OK) {
        if (e->lang == NULL)
            snprintf(why, whylen, "out of memory");
        engine_drop(set, e);
        /* keep the slots dense */
        *e = set->slot[--set->n];
        memset(&set->slot[set->n], 0, sizeof(set->slot[0]));
        return NULL;
    }
    e->last_used = ++set->clock;
    log_info(NULL, "engine ready: %s %s on %s", set->ops->name, lang,
             ocrq_device_name(&set->dev, dev, sizeof(dev)));
    return e->handle;
}

int ocrq_engines_recognize(struct ocrq_engines *set, const char *lang, struct Pix *pix,
                           int timeout_ms, struct ocrq_outputs *outputs,
                           struct ocrq_ocr_result *res, char *why, size_t whylen)
{
    void *handle;
    int st;

    memset(res, 0, sizeof(*res));
    handle = engine_get(set, lang, why, whylen);
    if (handle == NULL)
        return OCRQ_ERR_LANG;
    st = set->ops->recognize(handle, pix, timeout_ms, outputs, res, why, whylen);
    if (st != OCRQ_OK) {
        ocrq_ocr_result_cleanup(res);
        return st;
    }
    res->width = pixGetWidth(pix);
    res->height = pixGetHeight(pix);
    return OCRQ_OK;
}

int ocrq_engines_outputs_begin(struct ocrq_engines *set, unsigned formats, const char *title,
                               long long max_bytes, struct ocrq_outputs **out, char *why,
                               size_t whylen)
{
    return set->ops->outputs_begin(set->datadir, formats, title, max_bytes, out, why, whylen);
}

int ocrq_engines_outputs_end(struct ocrq_engines *set, struct ocrq_outputs *outputs,
                             struct ocrq_artifact *arts, int *n, char *why, size_t whylen)
{
    return set->ops->outputs_end(outputs, arts, n, why, whylen);
}

void ocrq_engines_outputs_free(struct ocrq_engines *set, struct ocrq_outputs *outputs)
{
    set->ops->outputs_free(outputs);
}

int ocrq_engines_orient(struct ocrq_engines *set, struct Pix *pix, int *rotate_cw, double *conf,
                        char *why, size_t whylen)
{
    int st;

    *rotate_cw = 0;
    *conf = 0;
    if (set->ops->orient == NULL) {
        snprintf(why, whylen, "the %s engine cannot detect orientation", set->ops->name);
        return OCRQ_ERR_LANG;
    }
    if (set->osd == NULL) {
        st = set->ops->check_langs(set->datadir, OCRQ_OSD_LANG, why, whylen);
        if (st == OCRQ_OK)
            st = set->ops->create(&set->dev, set->datadir, OCRQ_OSD_LANG, &set->osd, why, whylen);
        if (st != OCRQ_OK)
            return st == OCRQ_ERR_NOMEM ? st : OCRQ_ERR_LANG;
        log_info(NULL, "engine ready: %s orientation detection", set->ops->name);
    }
    return set->ops->orient(set->osd, pix, rotate_cw, conf, why, whylen);
}

void ocrq_ocr_result_cleanup(struct ocrq_ocr_result *res)
{
    free(res->text);
    memset(res, 0, sizeof(*res));
}
