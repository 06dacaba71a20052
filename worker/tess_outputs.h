/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Private to the Tesseract backend (engine_tesseract.c): the outputs of one
 * document beside its text, made page by page from a recognized TessBaseAPI
 * with Tesseract's own renderers (hOCR, ALTO, TSV, PDF) and its result
 * iterator (the words JSON). docs/results.md describes what they contain.
 */
#ifndef OCRQ_WORKER_TESS_OUTPUTS_H
#define OCRQ_WORKER_TESS_OUTPUTS_H

#include <stddef.h>

#include <tesseract/capi.h>

#include "engine.h"

/* See ocrq_engine_ops.outputs_begin. */
int ocrq_tess_outputs_begin(const char *datadir, unsigned formats, const char *title,
                            long long max_bytes, struct ocrq_outputs **out, char *why,
                            size_t whylen);

/*
 * Add the page api has just recognized (pix, borrowed, is its image) to
 * every output. Returns OCRQ_OK, OCRQ_ERR_OCR (a renderer failed) or
 * OCRQ_ERR_NOMEM, with why.
 */
int ocrq_tess_outputs_page(struct ocrq_outputs *o, TessBaseAPI *api, struct Pix *pix, char *why,
                           size_t whylen);

/* See ocrq_engine_ops.outputs_end and outputs_free. */
int ocrq_tess_outputs_end(struct ocrq_outputs *o, struct ocrq_artifact *arts, int *n, char *why,
                          size_t whylen);
void ocrq_tess_outputs_free(struct ocrq_outputs *o);

#endif
