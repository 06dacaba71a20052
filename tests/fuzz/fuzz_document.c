/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * libFuzzer: the document sniffer and the size readers of every format
 * (worker/document.c, image_size.c, document_pdf.c): open any bytes and
 * step through the pages' sizes, decoding nothing.
 */
#include <stdint.h>

#include <leptonica/allheaders.h>

#include "document.h"
#include "ocrq/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct ocrq_doc_limits lim = {.max_pixels = 4000000, .max_pages = 50, .dpi = 72};
    struct ocrq_document *doc = NULL;
    struct ocrq_doc_page page;
    const char *code = NULL;
    char why[512];

    setMsgSeverity(L_SEVERITY_NONE);
    (void)ocrq_document_detect(data, size);
    if (ocrq_document_open(data, size, &lim, &doc, &code, why, sizeof why) != OCRQ_OK)
        return 0;
    for (int i = 0; i < 50; i++) {
        int st = ocrq_document_next(doc, &page, &code, why, sizeof why);
        if (st == OCRQ_ERR_EMPTY)
            break;
    }
    ocrq_document_free(doc);
    return 0;
}
