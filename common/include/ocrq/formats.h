/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The output formats a job can ask for (job option "formats", docs/results.md):
 * one table of names, file extensions and content types that the codec, the
 * worker, ocrq-submit and ocrq-api share. Plain text is always produced.
 */
#ifndef OCRQ_FORMATS_H
#define OCRQ_FORMATS_H

#include <stddef.h>

enum ocrq_format {
    OCRQ_FMT_TXT = 1u << 0,   /* ocr_results.text: always stored */
    OCRQ_FMT_HOCR = 1u << 1,  /* Tesseract's hOCR renderer */
    OCRQ_FMT_ALTO = 1u << 2,  /* Tesseract's ALTO renderer */
    OCRQ_FMT_TSV = 1u << 3,   /* Tesseract's TSV renderer */
    OCRQ_FMT_PDF = 1u << 4,   /* Tesseract's PDF renderer: page images with a text layer */
    OCRQ_FMT_WORDS = 1u << 5, /* the JSON word list, from the result iterator */
};

#define OCRQ_FMT_ALL 0x3fu
/* The formats stored in ocr_artifacts: everything but plain text. */
#define OCRQ_FMT_ARTIFACTS (OCRQ_FMT_ALL & ~OCRQ_FMT_TXT)
#define OCRQ_FMT_LIST_MAX 64 /* "txt,hocr,alto,tsv,pdf,words" fits */

/* "hocr" for OCRQ_FMT_HOCR (one bit), NULL for anything else. Static, thread-safe. */
const char *ocrq_format_name(unsigned format);

/* The bit of a format name ("hocr"), or 0 for an unknown one. */
unsigned ocrq_format_from_name(const char *name);

/* File extension without the dot: "txt", "hocr", "xml" (ALTO), "tsv", "pdf", "words.json". */
const char *ocrq_format_ext(unsigned format);

/* Content type for HTTP, e.g. "application/pdf". */
const char *ocrq_format_content_type(unsigned format);

/*
 * A comma-separated list ("txt,hocr,pdf"; blanks around names allowed) into
 * a set of OCRQ_FMT_* bits in *out. Repeats are fine. Returns OCRQ_OK, or
 * OCRQ_ERR_INVALID with a reason in why (an empty list or name, an unknown
 * name, longer than OCRQ_FMT_LIST_MAX). Thread-safe.
 */
int ocrq_formats_parse(const char *list, unsigned *out, char *why, size_t whylen);

/* The names of the set formats, comma-separated, into buf ("" for none). */
const char *ocrq_formats_str(unsigned formats, char *buf, size_t len);

#endif
