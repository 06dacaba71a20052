/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Private to the assembler (assemble.c, assemble_words.c, assemble_pdf.c):
 * the buffered writer to the output descriptor and the per-format steps.
 */
#ifndef OCRQ_WORKER_ASSEMBLE_INTERNAL_H
#define OCRQ_WORKER_ASSEMBLE_INTERNAL_H

#include <stddef.h>

#include "assemble.h"

#define ASM_OUT_BUF (64 * 1024)

/* One assembly: where it writes, how far it got, and why it stopped. */
struct asm_ctx {
    int fd;
    unsigned format;
    int n_pages;
    int st; /* the first write error; later writes do nothing */
    char *why;
    size_t whylen;
    size_t len;
    char buf[ASM_OUT_BUF];
    /* words: what has been written, and each page's size for "pages" */
    long long words;
    int (*sizes)[2];
};

/* Append n bytes to the output; errors stick in c->st (OCRQ_ERR_IO, with why). */
void asm_write(struct asm_ctx *c, const void *p, size_t n);
void asm_puts(struct asm_ctx *c, const char *s);
void asm_int(struct asm_ctx *c, long long v);

/* Write out what is buffered. Returns c->st. */
int asm_flush(struct asm_ctx *c);

/* OCRQ_ERR_DECODE with "page k's <format> artifact: <reason>" in c->why. */
int asm_bad(struct asm_ctx *c, int k, const char *format, const char *reason);

/*
 * Stream one page k (of c->n_pages) of the words JSON into the output: the
 * opening on page 1, the closing "pages" list after the last. Returns
 * OCRQ_OK, OCRQ_ERR_DECODE or c->st.
 */
int asm_words_page(struct asm_ctx *c, int k, const char *p, size_t len);

/* The whole PDF: see ocrq_assemble(). */
int asm_pdf(int n_pages, ocrq_assemble_page_fn fn, void *arg, int out_fd, char *why, size_t whylen);

#endif
