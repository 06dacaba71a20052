/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PDF pages for document.c, through poppler-glib and cairo: the only module
 * that sees their types. Private to the worker's document module.
 * Not thread-safe: one PDF belongs to one thread.
 */
#ifndef OCRQ_WORKER_DOCUMENT_PDF_H
#define OCRQ_WORKER_DOCUMENT_PDF_H

#include <stddef.h>

struct Pix;
struct ocrq_pdf;

/*
 * Open the PDF in data (borrowed: it must outlive the PDF). *n_pages gets
 * its page count. Returns OCRQ_OK or OCRQ_ERR_DECODE with *code
 * "pdf_encrypted" (a password is needed to read it), "pdf_damaged" (cut
 * short, or poppler cannot read it) or "pdf_no_pages"; OCRQ_ERR_NOMEM.
 * Free *out with ocrq_pdf_free().
 */
int ocrq_pdf_open(const void *data, size_t len, struct ocrq_pdf **out, int *n_pages,
                  const char **code, char *why, size_t whylen);

void ocrq_pdf_free(struct ocrq_pdf *pdf);

/*
 * Make page index (0-based) the current page and give its size in pixels
 * at dpi, its /Rotate applied, without rendering it. *over = 1 when
 * width * height is over max_pixels (the sizes are then only approximate).
 * Returns OCRQ_OK or OCRQ_ERR_DECODE ("pdf_damaged").
 */
int ocrq_pdf_page(struct ocrq_pdf *pdf, int index, int dpi, long long max_pixels, int *width,
                  int *height, int *over, const char **code, char *why, size_t whylen);

/* The current page's text (malloc'd) in *text; NULL when it has none or only blanks. */
int ocrq_pdf_text(struct ocrq_pdf *pdf, char **text);

/*
 * Render the current page, width x height pixels as ocrq_pdf_page() gave
 * them, on white into a new 32 bpp PIX (cairo draws straight into the PIX's
 * own buffer). Returns OCRQ_OK, OCRQ_ERR_DECODE ("pdf_damaged") or
 * OCRQ_ERR_NOMEM.
 */
int ocrq_pdf_render(struct ocrq_pdf *pdf, int width, int height, int dpi, struct Pix **pix,
                    const char **code, char *why, size_t whylen);

#endif
