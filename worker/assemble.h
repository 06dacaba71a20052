/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The artifacts of a document OCRed as page tasks: each page was rendered by
 * the worker's Tesseract outputs (tess_outputs.c) as a one-page document, and
 * ocrq_assemble() makes from those the whole document's artifact, as if
 * Tesseract had rendered all pages in one go. docs/results.md describes the
 * result.
 */
#ifndef OCRQ_WORKER_ASSEMBLE_H
#define OCRQ_WORKER_ASSEMBLE_H

#include <stddef.h>

/*
 * Fetch page page_no's (1-based) one-page artifact into *data (malloc'd; the
 * assembler frees it) and *len. Returns OCRQ_OK or an error status
 * (ocrq/status.h), which stops the assembly and is returned by it.
 */
typedef int (*ocrq_assemble_page_fn)(void *arg, int page_no, unsigned char **data, size_t *len);

/*
 * Write the whole document's artifact of format (one OCRQ_FMT_* bit of
 * ocrq/formats.h: HOCR, ALTO, TSV, PDF or WORDS) for pages 1..n_pages,
 * fetched one at a time through fn(arg, ...), to out_fd from its current
 * offset.
 *
 * hOCR, ALTO, TSV and words are streamed: memory stays at one page's
 * artifact (plus two ints a page for the words' page sizes). The PDF is
 * merged by libqpdf from the one-page PDFs, written to a private directory
 * under $TMPDIR (else /tmp) that is removed before returning; qpdf reads
 * them lazily, so memory is qpdf's object tables, not the page images, but
 * the disk holds the pages and the merged file at once.
 *
 * Returns OCRQ_OK; OCRQ_ERR_INVALID (bad format or n_pages < 1),
 * OCRQ_ERR_IO, OCRQ_ERR_NOMEM, OCRQ_ERR_DECODE (a page's artifact is not
 * what Tesseract writes for one page; why names the page) or what fn
 * returned; why gets the reason. After an error out_fd holds a partial
 * artifact: the caller discards it.
 *
 * Thread-safe: no shared state (fn must be safe for the caller's use).
 */
int ocrq_assemble(unsigned format, int n_pages, ocrq_assemble_page_fn fn, void *arg, int out_fd,
                  char *why, size_t whylen);

#endif
