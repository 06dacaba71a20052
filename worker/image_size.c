/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The size of a GIF or a JPEG 2000 image as its decoder will see it, read by
 * walking the file's own structure, never by trusting one field found
 * somewhere in it. The pixel cap (ocr.max_pixels) is checked against these
 * before a decoder allocates anything.
 *
 * GIF: giflib (under Leptonica) decodes every frame at the frame's own size,
 * whatever the logical screen says, and keeps them all. So every image
 * descriptor is visited, skipping the data sub-blocks between them, and what
 * decoding costs is the sum of the frames.
 *
 * JPEG 2000: OpenJPEG decodes at the size of the codestream's SIZ marker.
 * Leptonica's header reader takes the first "ihdr" bytes found anywhere, so
 * a fake box can claim 1x1 in front of a large codestream. The boxes are
 * walked from the start (the jp2h header box and its ihdr, the jp2c
 * codestream box), and the size is the SIZ one; an ihdr that says otherwise
 * makes the file refused.
 */
#include "image_size.h"

#include <string.h>

static unsigned rd16le(const unsigned char *p)
{
    return (unsigned)p[0] | (unsigned)p[1] << 8;
}

static uint32_t rd32be(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Skip GIF data sub-blocks from *at up to their terminator. 0, or -1 past the end. */
static int gif_skip_blocks(const unsigned char *d, size_t len, size_t *at)
{
    for (;;) {
        if (*at >= len)
            return -1;
        size_t n = d[(*at)++];
        if (n == 0)
            return 0;
        if (n > len - *at)
            return -1;
        *at += n;
    }
}

int ocrq_gif_size(const unsigned char *d, size_t len, int max_frames, struct ocrq_img_size *out)
{
    size_t at = 13;

    memset(out, 0, sizeof(*out));
    if (len < 13 || memcmp(d, "GIF8", 4) != 0)
        return OCRQ_IMG_DAMAGED;
    out->w = (int)rd16le(d + 6); /* the logical screen, a floor */
    out->h = (int)rd16le(d + 8);
    if (d[10] & 0x80) /* a global colour table */
        at += 3u << ((d[10] & 7) + 1);
    for (;;) {
        if (at >= len)
            return out->frames > 0 ? OCRQ_IMG_OK : OCRQ_IMG_DAMAGED; /* no trailer: as giflib */
        unsigned char kind = d[at++];
        if (kind == 0x3B) /* trailer */
            break;
        if (kind == 0x21) { /* an extension: its label, then sub-blocks */
            at++;
            if (gif_skip_blocks(d, len, &at) != 0)
                return OCRQ_IMG_DAMAGED;
            continue;
        }
        if (kind != 0x2C || len - at < 9)
            return OCRQ_IMG_DAMAGED;
        int fw = (int)rd16le(d + at + 4), fh = (int)rd16le(d + at + 6);
        unsigned char packed = d[at + 8];
        at += 9;
        if (packed & 0x80) /* a local colour table */
            at += 3u << ((packed & 7) + 1);
        at++; /* LZW minimum code size */
        if (gif_skip_blocks(d, len, &at) != 0)
            return OCRQ_IMG_DAMAGED;
        if (++out->frames > max_frames)
            return OCRQ_IMG_TOO_MANY;
        if (fw > out->w)
            out->w = fw;
        if (fh > out->h)
            out->h = fh;
        out->pixels += (long long)fw * fh;
    }
    if (out->frames == 0)
        return OCRQ_IMG_DAMAGED;
    if (out->pixels < (long long)out->w * out->h)
        out->pixels = (long long)out->w * out->h; /* the screen, drawn once */
    return OCRQ_IMG_OK;
}

/* The SIZ marker right after SOC at c[0..n): the image area. */
static int j2k_siz(const unsigned char *c, size_t n, int *w, int *h)
{
    if (n < 4 + 2 + 2 + 16 || c[0] != 0xFF || c[1] != 0x4F || c[2] != 0xFF || c[3] != 0x51)
        return -1;
    uint32_t xsiz = rd32be(c + 8), ysiz = rd32be(c + 12);
    uint32_t xo = rd32be(c + 16), yo = rd32be(c + 20);
    if (xo >= xsiz || yo >= ysiz || xsiz - xo > 0x7fffffffu || ysiz - yo > 0x7fffffffu)
        return -1;
    *w = (int)(xsiz - xo);
    *h = (int)(ysiz - yo);
    return 0;
}

/*
 * The box at d[*at]: its type into *type, its contents into [*body, *end).
 * 0, or -1 if it does not fit in [*at, lim).
 */
static int jp2_box(const unsigned char *d, size_t lim, size_t *at, uint32_t *type, size_t *body,
                   size_t *end)
{
    if (lim - *at < 8)
        return -1;
    uint64_t size = rd32be(d + *at);
    size_t hdr = 8;
    *type = rd32be(d + *at + 4);
    if (size == 1) { /* a 64-bit length follows */
        if (lim - *at < 16)
            return -1;
        size = (uint64_t)rd32be(d + *at + 8) << 32 | rd32be(d + *at + 12);
        hdr = 16;
    } else if (size == 0) { /* to the end of the file */
        size = lim - *at;
    }
    if (size < hdr || size > lim - *at)
        return -1;
    *body = *at + hdr;
    *end = *at + (size_t)size;
    *at = *end;
    return 0;
}

#define BOX(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

int ocrq_jp2_size(const unsigned char *d, size_t len, struct ocrq_img_size *out)
{
    size_t at = 0, body, end;
    uint32_t type;
    int iw = -1, ih = -1;

    memset(out, 0, sizeof(*out));
    if (len >= 4 && d[0] == 0xFF && d[1] == 0x4F) { /* a bare codestream */
        if (j2k_siz(d, len, &out->w, &out->h) != 0)
            return OCRQ_IMG_DAMAGED;
    } else {
        int have = 0;
        while (at < len && !have) {
            if (jp2_box(d, len, &at, &type, &body, &end) != 0)
                return OCRQ_IMG_DAMAGED;
            if (type == BOX('j', 'p', '2', 'h')) {
                size_t in = body, ibody, iend;
                uint32_t itype;
                while (in < end) {
                    if (jp2_box(d, end, &in, &itype, &ibody, &iend) != 0)
                        return OCRQ_IMG_DAMAGED;
                    if (itype == BOX('i', 'h', 'd', 'r') && iend - ibody >= 8 && ih < 0) {
                        uint32_t hh = rd32be(d + ibody), ww = rd32be(d + ibody + 4);
                        if (hh > 0x7fffffffu || ww > 0x7fffffffu)
                            return OCRQ_IMG_DAMAGED;
                        ih = (int)hh;
                        iw = (int)ww;
                    }
                }
            } else if (type == BOX('j', 'p', '2', 'c')) {
                if (j2k_siz(d + body, end - body, &out->w, &out->h) != 0)
                    return OCRQ_IMG_DAMAGED;
                have = 1;
            }
        }
        if (!have)
            return OCRQ_IMG_DAMAGED;
        if (iw >= 0 && (iw != out->w || ih != out->h))
            return OCRQ_IMG_LYING; /* the header box and the codestream disagree */
    }
    out->frames = 1;
    out->pixels = (long long)out->w * out->h;
    return OCRQ_IMG_OK;
}
