/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Pages as they were scanned: lying on their side, upside down, or a degree
 * or two askew. Before a page is recognized, orientation detection (the
 * engine's OSD model) turns it upright, and Leptonica's skew search
 * straightens it (ocr.auto_rotate, ocr.deskew; docs/documents.md).
 * Not thread-safe: it uses the caller's engine set.
 */
#ifndef OCRQ_WORKER_STRAIGHTEN_H
#define OCRQ_WORKER_STRAIGHTEN_H

#include <stddef.h>

struct Pix;
struct ocrq_engines;

/* Orientation confidence below which a page is left as it is (Tesseract's OSD scale). */
#define OCRQ_ROTATE_MIN_CONF 5.0

/* What was done to a page. */
struct ocrq_straightened {
    int rotation; /* degrees turned clockwise: 0, 90, 180 or 270 */
    double skew;  /* degrees turned clockwise to straighten it; 0 if it was not */
};

/*
 * Turn *pix upright (auto_rotate) and straighten it (deskew), in that order:
 * the skew search looks for horizontal lines of text. *pix is replaced by
 * the turned page (the old one destroyed) when anything was done. A page on
 * which orientation detection finds too little text, or is unsure, is left
 * as it is. Returns OCRQ_OK, OCRQ_ERR_LANG (no orientation model) or
 * OCRQ_ERR_NOMEM, with why.
 */
int ocrq_straighten(struct ocrq_engines *set, int auto_rotate, int deskew, struct Pix **pix,
                    struct ocrq_straightened *out, char *why, size_t whylen);

#endif
