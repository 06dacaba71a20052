/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Orientation and skew of a page before OCR: the engine's orientation
 * detection says how far to turn it (pixRotateOrth, quarter turns), then
 * Leptonica's skew search straightens it (pixFindSkewAndDeskew).
 */
#include "straighten.h"

#include <stdio.h>
#include <string.h>

#include <leptonica/allheaders.h>

#include "engine.h"
#include "ocrq/log.h"
#include "ocrq/status.h"

/* Leptonica's skew search: reduce by 2 before searching (its default speed/accuracy trade). */
#define DESKEW_REDUCTION 2

static int rotate(struct ocrq_engines *set, PIX **pix, struct ocrq_straightened *out, char *why,
                  size_t whylen)
{
    double conf = 0;
    int cw = 0, st;
    PIX *turned;

    st = ocrq_engines_orient(set, *pix, &cw, &conf, why, whylen);
    if (st == OCRQ_ERR_OCR) { /* too little text to tell: leave it */
        log_debug(NULL, "orientation: %s", why);
        return OCRQ_OK;
    }
    if (st != OCRQ_OK)
        return st;
    if (cw == 0 || conf < OCRQ_ROTATE_MIN_CONF) {
        if (cw != 0)
            log_debug(NULL, "orientation: %d degrees at confidence %.1f: left as it is", cw, conf);
        return OCRQ_OK;
    }
    turned = pixRotateOrth(*pix, cw / 90);
    if (turned == NULL) {
        snprintf(why, whylen, "out of memory turning a page");
        return OCRQ_ERR_NOMEM;
    }
    pixDestroy(pix);
    *pix = turned;
    out->rotation = cw;
    return OCRQ_OK;
}

static int straighten(PIX **pix, struct ocrq_straightened *out, char *why, size_t whylen)
{
    l_float32 angle = 0, conf = 0;
    PIX *d = pixFindSkewAndDeskew(*pix, DESKEW_REDUCTION, &angle, &conf);

    if (d == NULL) {
        snprintf(why, whylen, "out of memory straightening a page");
        return OCRQ_ERR_NOMEM;
    }
    if (d == *pix) { /* a clone: the skew was too small or too unsure to correct */
        pixDestroy(&d);
        return OCRQ_OK;
    }
    pixDestroy(pix);
    *pix = d;
    out->skew = angle;
    return OCRQ_OK;
}

int ocrq_straighten(struct ocrq_engines *set, int auto_rotate, int deskew, PIX **pix,
                    struct ocrq_straightened *out, char *why, size_t whylen)
{
    int st = OCRQ_OK;

    memset(out, 0, sizeof(*out));
    if (auto_rotate)
        st = rotate(set, pix, out, why, whylen);
    if (st == OCRQ_OK && deskew)
        st = straighten(pix, out, why, whylen);
    return st;
}
