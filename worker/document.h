/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A document as people have them: one image, a multi-page TIFF or a PDF,
 * recognized by its content (never by its name), handed out one page at a
 * time as a Leptonica PIX. Every size is checked before anything is decoded:
 * the page count against max_pages when the document is opened, each page's
 * pixels against max_pixels before it is decoded or rendered. PDF pages also
 * expose the text they already carry, so the caller can decide whether to
 * OCR them (ocr.pdf_text). docs/documents.md has the whole contract.
 *
 * Not thread-safe: one document belongs to one thread.
 */
#ifndef OCRQ_WORKER_DOCUMENT_H
#define OCRQ_WORKER_DOCUMENT_H

#include <stddef.h>

struct Pix;
struct ocrq_document;

enum ocrq_doc_type {
    OCRQ_DOC_UNKNOWN = 0,
    OCRQ_DOC_PNG,
    OCRQ_DOC_JPEG,
    OCRQ_DOC_TIFF,
    OCRQ_DOC_PDF,
    OCRQ_DOC_BMP,
    OCRQ_DOC_PNM,
    OCRQ_DOC_GIF,
    OCRQ_DOC_WEBP,
    OCRQ_DOC_JP2,
};

/* What ocr.pdf_text asks for a PDF page that already carries text. */
enum ocrq_pdf_text {
    OCRQ_PDF_TEXT_SKIP = 0, /* take the page's text, no OCR */
    OCRQ_PDF_TEXT_REDO,     /* OCR the page; its existing text is ignored */
    OCRQ_PDF_TEXT_FORCE,    /* OCR every page, rasterized whole */
};

struct ocrq_doc_limits {
    long long max_pixels; /* width * height of one page (ocr.max_pixels) */
    int max_pages;        /* pages of one document (ocr.max_pages) */
    int dpi;              /* PDF rendering resolution (ocr.pdf_dpi) */
};

/* One page: its number and its size in pixels (for a PDF page, at the limits' dpi). */
struct ocrq_doc_page {
    int page_no; /* 1, 2, ... */
    int width, height;
};

/* The type of data by its first bytes (a PDF may have up to 1 KiB of junk before "%PDF-"). */
enum ocrq_doc_type ocrq_document_detect(const void *data, size_t len);

/* "png", "pdf", ... ("unknown"); static. */
const char *ocrq_doc_type_name(enum ocrq_doc_type type);

/*
 * "skip", "redo" or "force" into *mode: OCRQ_OK, or OCRQ_ERR_INVALID for
 * anything else (*mode then skip).
 */
int ocrq_pdf_text_parse(const char *s, enum ocrq_pdf_text *mode);

/*
 * Open the document in data (borrowed: it must outlive the document) under
 * lim (copied). Counts the pages; more than lim->max_pages is refused.
 * Returns OCRQ_OK, OCRQ_ERR_DECODE (not a type we read, damaged, encrypted,
 * no pages), OCRQ_ERR_TOO_LARGE (too many pages) or OCRQ_ERR_NOMEM. On error
 * *code is the stable error code ("decode", "pdf_encrypted", "pdf_damaged",
 * "pdf_no_pages", "too_many_pages") and why the reason. The caller frees
 * *out with ocrq_document_free().
 */
int ocrq_document_open(const void *data, size_t len, const struct ocrq_doc_limits *lim,
                       struct ocrq_document **out, const char **code, char *why, size_t whylen);

/* Free the document; NULL is fine. */
void ocrq_document_free(struct ocrq_document *doc);

enum ocrq_doc_type ocrq_document_type(const struct ocrq_document *doc);

/* Pages in the document, known from ocrq_document_open(): 1 for a single image. */
int ocrq_document_page_count(const struct ocrq_document *doc);

/*
 * Go to the next page (the first one on the first call) and describe it in
 * *page, decoding nothing. Returns OCRQ_OK, OCRQ_ERR_EMPTY after the last
 * page, OCRQ_ERR_TOO_LARGE (the page is over max_pixels: *code "too_large")
 * or OCRQ_ERR_DECODE (its header cannot be read: *code "decode" or
 * "pdf_damaged"), with the reason in why. *page is cleared on entry.
 */
int ocrq_document_next(struct ocrq_document *doc, struct ocrq_doc_page *page, const char **code,
                       char *why, size_t whylen);

/*
 * Go to page page_no (1 .. the page count) and describe it in *page, as
 * ocrq_document_next() does for the next one; the pages may be visited in
 * any order. Returns as ocrq_document_next(), and OCRQ_ERR_INVALID for a
 * page_no out of range.
 */
int ocrq_document_goto(struct ocrq_document *doc, int page_no, struct ocrq_doc_page *page,
                       const char **code, char *why, size_t whylen);

/*
 * The text layer of the current page as UTF-8 in *text (malloc'd, the
 * caller frees it), or NULL when the page has none: images never have one,
 * a PDF page has one when it carries any text that is not blank. Returns
 * OCRQ_OK, OCRQ_ERR_INVALID (no current page) or OCRQ_ERR_NOMEM.
 */
int ocrq_document_text(struct ocrq_document *doc, char **text);

/*
 * Decode (an image) or render (a PDF page, at the limits' dpi, on white)
 * the current page into *pix, 32 bpp RGB for a PDF page, as the file has it
 * for an image; its resolution is set (300 dpi when an image names none).
 * Returns OCRQ_OK, OCRQ_ERR_INVALID (no current page), OCRQ_ERR_DECODE
 * (*code "decode" or "pdf_damaged") or OCRQ_ERR_NOMEM, with the reason in
 * why. The caller frees *pix with pixDestroy().
 */
int ocrq_document_render(struct ocrq_document *doc, struct Pix **pix, const char **code, char *why,
                         size_t whylen);

/*
 * The pixels of page 1 of an image (not a PDF) from its header, decoding
 * nothing and leaving the position as it was; 0 when unknown.
 */
long long ocrq_document_first_pixels(struct ocrq_document *doc);

#endif
