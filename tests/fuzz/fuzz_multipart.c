/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * libFuzzer: the multipart parsers (common/multipart.c, multipart_stream.c)
 * and the header parameters. The first byte picks how the body is cut into
 * pieces for the push parser; the rest is the body, boundary "XyZ".
 */
#include <stdint.h>
#include <string.h>

#include "ocrq/multipart.h"
#include "ocrq/multipart_stream.h"
#include "ocrq/status.h"

static int on_part(void *arg, const struct ocrq_multipart_part *part)
{
    (void)arg;
    (void)part;
    return OCRQ_OK;
}

static int on_end(void *arg)
{
    (void)arg;
    return OCRQ_OK;
}

static int on_data(void *arg, const unsigned char *data, size_t len)
{
    (void)arg;
    (void)data;
    (void)len;
    return OCRQ_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ocrq_multipart_part parts[16], part;
    size_t n = 0;
    char boundary[OCRQ_MULTIPART_BOUNDARY_MAX + 1], ctype[512];

    if (size < 1)
        return 0;
    size_t step = (size_t)data[0] % 64 + 1;
    data++, size--;
    (void)ocrq_multipart_parse(data, size, "XyZ", parts, 16, &n);
    memset(&part, 0, sizeof part);
    ocrq_multipart_part_headers((const char *)data, size, &part);
    size_t c = size < sizeof ctype - 1 ? size : sizeof ctype - 1;
    memcpy(ctype, data, c);
    ctype[c] = '\0';
    (void)ocrq_multipart_boundary(ctype, boundary);

    struct ocrq_multipart_callbacks cb = {.begin = on_part, .data = on_data, .end = on_end};
    struct ocrq_multipart_stream *s = NULL;
    if (ocrq_multipart_stream_new("XyZ", &cb, NULL, 16, &s) != OCRQ_OK)
        return 0;
    int st = OCRQ_OK;
    for (size_t at = 0; at < size && st == OCRQ_OK; at += step)
        st = ocrq_multipart_stream_feed(s, data + at, size - at < step ? size - at : step);
    if (st == OCRQ_OK)
        (void)ocrq_multipart_stream_finish(s);
    ocrq_multipart_stream_free(s);
    return 0;
}
