/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The table of output formats (formats.h): names on the wire and on the
 * command line, file extensions of ocrq-submit --output, and HTTP content
 * types of ocrq-api.
 */
#include "ocrq/formats.h"

#include <stdio.h>
#include <string.h>

#include "ocrq/status.h"

struct format {
    unsigned bit;
    const char *name;
    const char *ext;
    const char *content_type;
};

static const struct format formats[] = {
    {OCRQ_FMT_TXT, "txt", "txt", "text/plain; charset=utf-8"},
    {OCRQ_FMT_HOCR, "hocr", "hocr", "text/html; charset=utf-8"},
    {OCRQ_FMT_ALTO, "alto", "xml", "application/xml"},
    {OCRQ_FMT_TSV, "tsv", "tsv", "text/tab-separated-values; charset=utf-8"},
    {OCRQ_FMT_PDF, "pdf", "pdf", "application/pdf"},
    {OCRQ_FMT_WORDS, "words", "words.json", "application/json"},
};
#define N_FORMATS (sizeof formats / sizeof formats[0])
#define WANT "want txt, hocr, alto, tsv, pdf or words"

static const struct format *by_bit(unsigned bit)
{
    for (size_t i = 0; i < N_FORMATS; i++)
        if (formats[i].bit == bit)
            return &formats[i];
    return NULL;
}

const char *ocrq_format_name(unsigned format)
{
    const struct format *f = by_bit(format);
    return f ? f->name : NULL;
}

const char *ocrq_format_ext(unsigned format)
{
    const struct format *f = by_bit(format);
    return f ? f->ext : NULL;
}

const char *ocrq_format_content_type(unsigned format)
{
    const struct format *f = by_bit(format);
    return f ? f->content_type : NULL;
}

unsigned ocrq_format_from_name(const char *name)
{
    for (size_t i = 0; name && i < N_FORMATS; i++)
        if (strcmp(name, formats[i].name) == 0)
            return formats[i].bit;
    return 0;
}

int ocrq_formats_parse(const char *list, unsigned *out, char *why, size_t whylen)
{
    unsigned set = 0;
    const char *p = list;

    *out = 0;
    if (!list || strlen(list) > OCRQ_FMT_LIST_MAX) {
        snprintf(why, whylen, "want a comma-separated list of at most %d bytes", OCRQ_FMT_LIST_MAX);
        return OCRQ_ERR_INVALID;
    }
    for (;;) {
        char name[OCRQ_FMT_LIST_MAX + 1];
        size_t n;

        p += strspn(p, " \t");
        n = strcspn(p, ",");
        memcpy(name, p, n);
        while (n > 0 && (name[n - 1] == ' ' || name[n - 1] == '\t'))
            n--;
        name[n] = '\0';
        unsigned bit = ocrq_format_from_name(name);
        if (bit == 0) {
            if (n == 0)
                snprintf(why, whylen, "an empty format name: " WANT);
            else
                snprintf(why, whylen, "unknown format '%s': " WANT, name);
            return OCRQ_ERR_INVALID;
        }
        set |= bit;
        p += strcspn(p, ",");
        if (*p == '\0')
            break;
        p++;
    }
    *out = set;
    return OCRQ_OK;
}

const char *ocrq_formats_str(unsigned set, char *buf, size_t len)
{
    size_t used = 0;

    if (len == 0)
        return buf;
    buf[0] = '\0';
    for (size_t i = 0; i < N_FORMATS; i++) {
        if (!(set & formats[i].bit))
            continue;
        int w = snprintf(buf + used, len - used, "%s%s", used ? "," : "", formats[i].name);
        if (w < 0 || (size_t)w >= len - used)
            break;
        used += (size_t)w;
    }
    return buf;
}
