/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PDF pages with poppler-glib: open from memory without a copy, refuse
 * encrypted, truncated and page-less files, size each page before
 * rendering it, and render with cairo straight into a Leptonica PIX.
 * Poppler's own messages go to our debug log.
 */
#include "document_pdf.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo.h>
#include <leptonica/allheaders.h>
#include <poppler.h>

#include "ocrq/log.h"
#include "ocrq/status.h"

/* Readers look for %%EOF in the last KiB, as they look for %PDF- in the first. */
#define EOF_WINDOW 1024

struct ocrq_pdf {
    GBytes *bytes;
    PopplerDocument *doc;
    PopplerPage *page;     /* the current page */
    double page_w, page_h; /* its size in points, /Rotate applied */
};

static void poppler_to_log(const gchar *domain, GLogLevelFlags level, const gchar *msg,
                           gpointer data)
{
    (void)domain;
    (void)level;
    (void)data;
    log_debug(NULL, "poppler: %s", msg);
}

static void route_log(void)
{
    g_log_set_handler("Poppler", G_LOG_LEVEL_MASK, poppler_to_log, NULL);
}

/* A file cut short has lost its trailer and %%EOF: poppler would rebuild what is left. */
static int has_eof_marker(const unsigned char *data, size_t len)
{
    size_t from = len > EOF_WINDOW ? len - EOF_WINDOW : 0;
    return memmem(data + from, len - from, "%%EOF", 5) != NULL;
}

int ocrq_pdf_open(const void *data, size_t len, struct ocrq_pdf **out, int *n_pages,
                  const char **code, char *why, size_t whylen)
{
    static pthread_once_t log_once = PTHREAD_ONCE_INIT;
    struct ocrq_pdf *pdf = NULL;
    GError *err = NULL;
    int st = OCRQ_ERR_DECODE;

    *out = NULL;
    *n_pages = 0;
    *code = "pdf_damaged";
    pthread_once(&log_once, route_log);
    if (!has_eof_marker(data, len)) {
        snprintf(why, whylen, "the PDF is truncated: no %%%%EOF in its last %d bytes", EOF_WINDOW);
        return OCRQ_ERR_DECODE;
    }
    pdf = calloc(1, sizeof(*pdf));
    if (pdf == NULL) {
        *code = "internal";
        return OCRQ_ERR_NOMEM;
    }
    pdf->bytes = g_bytes_new_static(data, len); /* no copy: data outlives the PDF */
    pdf->doc = poppler_document_new_from_bytes(pdf->bytes, NULL, &err);
    if (pdf->doc == NULL) {
        if (err != NULL && err->domain == POPPLER_ERROR && err->code == POPPLER_ERROR_ENCRYPTED) {
            *code = "pdf_encrypted";
            snprintf(why, whylen, "the PDF is encrypted: it needs a password to be read");
        } else {
            snprintf(why, whylen, "the PDF is damaged: %s",
                     err != NULL ? err->message : "poppler cannot read it");
        }
        goto out;
    }
    *n_pages = poppler_document_get_n_pages(pdf->doc);
    if (*n_pages <= 0) {
        *n_pages = 0;
        *code = "pdf_no_pages";
        snprintf(why, whylen, "the PDF has no pages");
        goto out;
    }
    st = OCRQ_OK;
    *code = NULL;
    *out = pdf;
    pdf = NULL;
out:
    if (err != NULL)
        g_error_free(err);
    ocrq_pdf_free(pdf);
    return st;
}

void ocrq_pdf_free(struct ocrq_pdf *pdf)
{
    if (pdf == NULL)
        return;
    if (pdf->page != NULL)
        g_object_unref(pdf->page);
    if (pdf->doc != NULL)
        g_object_unref(pdf->doc);
    if (pdf->bytes != NULL)
        g_bytes_unref(pdf->bytes);
    free(pdf);
}

int ocrq_pdf_page(struct ocrq_pdf *pdf, int index, int dpi, long long max_pixels, int *width,
                  int *height, int *over, const char **code, char *why, size_t whylen)
{
    double w, h;

    *width = *height = *over = 0;
    if (pdf->page != NULL)
        g_object_unref(pdf->page);
    pdf->page = poppler_document_get_page(pdf->doc, index);
    if (pdf->page == NULL) {
        *code = "pdf_damaged";
        snprintf(why, whylen, "page %d of the PDF cannot be read", index + 1);
        return OCRQ_ERR_DECODE;
    }
    poppler_page_get_size(pdf->page, &pdf->page_w, &pdf->page_h);
    w = round(pdf->page_w * dpi / 72.0);
    h = round(pdf->page_h * dpi / 72.0);
    if (!(w >= 1 && h >= 1)) { /* also NaN */
        *code = "pdf_damaged";
        snprintf(why, whylen, "page %d of the PDF has no size (%gx%g pt)", index + 1, pdf->page_w,
                 pdf->page_h);
        return OCRQ_ERR_DECODE;
    }
    /* in doubles first: a page of 10^6 x 10^6 pt must not overflow an int */
    *over = w * h > (double)max_pixels;
    *width = w > INT32_MAX ? INT32_MAX : (int)w;
    *height = h > INT32_MAX ? INT32_MAX : (int)h;
    return OCRQ_OK;
}

static int blank(const char *s)
{
    for (; *s != '\0'; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r' && *s != '\f' && *s != '\v')
            return 0;
    return 1;
}

int ocrq_pdf_text(struct ocrq_pdf *pdf, char **text)
{
    char *t;
    int st = OCRQ_OK;

    *text = NULL;
    if (pdf->page == NULL)
        return OCRQ_ERR_INVALID;
    t = poppler_page_get_text(pdf->page);
    if (t != NULL && !blank(t)) {
        *text = strdup(t);
        if (*text == NULL)
            st = OCRQ_ERR_NOMEM;
    }
    g_free(t);
    return st;
}

/*
 * cairo's RGB24 pixel is a native uint32 0x00RRGGBB; Leptonica's 32 bpp
 * pixel is a native uint32 0xRRGGBBAA. One shift per word, in place.
 */
static void cairo_to_lept(PIX *pix)
{
    l_uint32 *p = pixGetData(pix);
    size_t n = (size_t)pixGetWpl(pix) * (size_t)pixGetHeight(pix);

    for (size_t i = 0; i < n; i++)
        p[i] <<= 8;
}

int ocrq_pdf_render(struct ocrq_pdf *pdf, int width, int height, int dpi, struct Pix **out,
                    const char **code, char *why, size_t whylen)
{
    PIX *pix = NULL;
    cairo_surface_t *surface = NULL;
    cairo_t *cr = NULL;
    cairo_status_t cs;
    int st = OCRQ_ERR_DECODE;

    *out = NULL;
    if (pdf->page == NULL)
        return OCRQ_ERR_INVALID;
    pix = pixCreateNoInit(width, height, 32);
    if (pix == NULL) {
        *code = "internal";
        snprintf(why, whylen, "out of memory for a %dx%d page", width, height);
        return OCRQ_ERR_NOMEM;
    }
    surface = cairo_image_surface_create_for_data(
        (unsigned char *)pixGetData(pix), CAIRO_FORMAT_RGB24, width, height, pixGetWpl(pix) * 4);
    cr = cairo_create(surface); /* an error surface gives an error context: checked below */
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_scale(cr, width / pdf->page_w, height / pdf->page_h);
    poppler_page_render(pdf->page, cr);
    cs = cairo_status(cr);
    cairo_destroy(cr);
    cairo_surface_flush(surface);
    cairo_surface_destroy(surface);
    if (cs != CAIRO_STATUS_SUCCESS) {
        *code = cs == CAIRO_STATUS_NO_MEMORY ? "internal" : "pdf_damaged";
        snprintf(why, whylen, "the page could not be rendered: %s", cairo_status_to_string(cs));
        st = cs == CAIRO_STATUS_NO_MEMORY ? OCRQ_ERR_NOMEM : OCRQ_ERR_DECODE;
        goto out;
    }
    cairo_to_lept(pix);
    pixSetResolution(pix, dpi, dpi);
    *out = pix;
    pix = NULL;
    st = OCRQ_OK;
out:
    pixDestroy(&pix);
    return st;
}
