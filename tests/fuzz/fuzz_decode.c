/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * libFuzzer: decoding, up to the pixel cap (worker/document.c with
 * Leptonica and poppler): open any bytes and render the first page that
 * passes the size checks. A cap of 1 M pixels keeps each decode small: a
 * decoder that allocates past what the header said shows up as a leak or
 * an out-of-memory under the sanitizers.
 */
#include <stdint.h>

#include <leptonica/allheaders.h>

#include "document.h"
#include "ocrq/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct ocrq_doc_limits lim = {.max_pixels = 1000000, .max_pages = 4, .dpi = 36};
    struct ocrq_document *doc = NULL;
    struct ocrq_doc_page page;
    const char *code = NULL;
    char why[512];

    setMsgSeverity(L_SEVERITY_NONE);
    if (ocrq_document_open(data, size, &lim, &doc, &code, why, sizeof why) != OCRQ_OK)
        return 0;
    if (ocrq_document_next(doc, &page, &code, why, sizeof why) == OCRQ_OK) {
        PIX *pix = NULL;
        if (ocrq_document_render(doc, &pix, &code, why, sizeof why) == OCRQ_OK && pix) {
            if ((long long)pixGetWidth(pix) * pixGetHeight(pix) > 4LL * lim.max_pixels)
                __builtin_trap(); /* decoded far past what the header checks allowed */
            pixDestroy(&pix);
        }
    }
    ocrq_document_free(doc);
    return 0;
}
