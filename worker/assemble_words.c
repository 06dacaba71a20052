/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The assembler's words JSON: each page's word list, exactly as
 * tess_outputs.c writes it for a one-page document, is checked by a strict
 * scanner of that shape and streamed out with "page" made the real page;
 * the "pages" list (each page's size) is written after the last page.
 */
#include <string.h>

#include "assemble_internal.h"
#include "ocrq/status.h"

/* A cursor over one page's JSON; every step returns 0 on a mismatch. */
struct scan {
    const char *p, *e;
};

static int lit(struct scan *s, const char *l)
{
    size_t n = strlen(l);

    if ((size_t)(s->e - s->p) < n || memcmp(s->p, l, n) != 0)
        return 0;
    s->p += n;
    return 1;
}

static int digit_run(struct scan *s)
{
    const char *start = s->p;

    while (s->p < s->e && *s->p >= '0' && *s->p <= '9')
        s->p++;
    return s->p > start;
}

/* An integer of at most 18 digits into *v (may be NULL). */
static int integer(struct scan *s, long long *v)
{
    const char *start = s->p;
    int neg = lit(s, "-");

    if (!digit_run(s) || s->p - start - neg > 18)
        return 0;
    if (v) {
        *v = 0;
        for (const char *d = start + neg; d < s->p; d++)
            *v = *v * 10 + (*d - '0');
        if (neg)
            *v = -*v;
    }
    return 1;
}

/* A JSON number as printf's %.2f writes one: -?digits.digits */
static int fixed(struct scan *s)
{
    lit(s, "-");
    return digit_run(s) && lit(s, ".") && digit_run(s);
}

static int hex4(struct scan *s)
{
    if (s->e - s->p < 4)
        return 0;
    for (int i = 0; i < 4; i++, s->p++)
        if (!*s->p || !strchr("0123456789abcdefABCDEF", *s->p))
            return 0;
    return 1;
}

/* A JSON string: no raw control characters, every backslash escaping one character. */
static int string(struct scan *s)
{
    if (!lit(s, "\""))
        return 0;
    while (s->p < s->e) {
        unsigned char ch = (unsigned char)*s->p++;
        if (ch == '"')
            return 1;
        if (ch < 0x20)
            return 0;
        if (ch == '\\') {
            if (s->p == s->e || !*s->p || !strchr("\"\\/bfnrtu", *s->p))
                return 0;
            if (*s->p++ == 'u' && !hex4(s))
                return 0;
        }
    }
    return 0;
}

/* One word; written with "page" made k. */
static int word(struct asm_ctx *c, struct scan *s, int k)
{
    const char *start = s->p, *page, *line;

    if (!(lit(s, "{\"text\":") && string(s) && lit(s, ",\"confidence\":") && fixed(s) &&
          lit(s, ",\"box\":[") && integer(s, NULL) && lit(s, ",") && integer(s, NULL) &&
          lit(s, ",") && integer(s, NULL) && lit(s, ",") && integer(s, NULL) && lit(s, "]")))
        return 0;
    page = s->p;
    if (!lit(s, ",\"page\":1"))
        return 0;
    line = s->p;
    if (!(lit(s, ",\"line\":") && integer(s, NULL) && lit(s, "}")))
        return 0;
    if (c->words++ > 0)
        asm_write(c, ",", 1);
    asm_write(c, start, (size_t)(page - start));
    asm_puts(c, ",\"page\":");
    asm_int(c, k);
    asm_write(c, line, (size_t)(s->p - line));
    return 1;
}

int asm_words_page(struct asm_ctx *c, int k, const char *p, size_t len)
{
    struct scan s = {p, p + len};
    long long w, h;

    if (!lit(&s, "{\"words\":["))
        return asm_bad(c, k, "words", "no word list");
    if (k == 1)
        asm_puts(c, "{\"words\":[");
    if (!lit(&s, "]")) {
        do {
            if (!word(c, &s, k))
                return asm_bad(c, k, "words", "a word that is not as tess_outputs writes it");
        } while (lit(&s, ","));
        if (!lit(&s, "]"))
            return asm_bad(c, k, "words", "the word list does not end");
    }
    if (!(lit(&s, ",\"pages\":[{\"page\":1,\"width\":") && integer(&s, &w) &&
          lit(&s, ",\"height\":") && integer(&s, &h) && lit(&s, "}]}")))
        return asm_bad(c, k, "words", "no size of page 1");
    lit(&s, "\n");
    if (s.p != s.e)
        return asm_bad(c, k, "words", "more after the end");
    if (w < 0 || h < 0 || w > 0x7fffffff || h > 0x7fffffff)
        return asm_bad(c, k, "words", "a page size out of range");
    c->sizes[k - 1][0] = (int)w;
    c->sizes[k - 1][1] = (int)h;
    if (k < c->n_pages)
        return c->st;
    asm_puts(c, "],\"pages\":[");
    for (int i = 0; i < c->n_pages; i++) {
        asm_puts(c, i > 0 ? ",{\"page\":" : "{\"page\":");
        asm_int(c, i + 1);
        asm_puts(c, ",\"width\":");
        asm_int(c, c->sizes[i][0]);
        asm_puts(c, ",\"height\":");
        asm_int(c, c->sizes[i][1]);
        asm_puts(c, "}");
    }
    asm_puts(c, "]}\n");
    return c->st;
}
