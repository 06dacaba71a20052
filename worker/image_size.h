/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The size of a GIF or a JPEG 2000 image as its decoder will see it, from
 * the file's structure, before anything is decoded (worker/image_size.c).
 */
#ifndef OCRQ_WORKER_IMAGE_SIZE_H
#define OCRQ_WORKER_IMAGE_SIZE_H

#include <stddef.h>
#include <stdint.h>

enum {
    OCRQ_IMG_OK = 0,
    OCRQ_IMG_DAMAGED = -1,  /* the structure does not hold together */
    OCRQ_IMG_TOO_MANY = -2, /* a GIF with more frames than allowed */
    OCRQ_IMG_LYING = -3     /* a JPEG 2000 header that disagrees with its codestream */
};

struct ocrq_img_size {
    int w, h;         /* the largest frame (GIF: or the logical screen) */
    long long pixels; /* what decoding allocates: every frame of a GIF */
    int frames;
};

/* Every frame of a GIF (at most max_frames). OCRQ_IMG_OK with *out, or an error above. */
int ocrq_gif_size(const unsigned char *d, size_t len, int max_frames, struct ocrq_img_size *out);

/* A JP2 file (boxes) or a bare J2K codestream: the codestream's SIZ size. */
int ocrq_jp2_size(const unsigned char *d, size_t len, struct ocrq_img_size *out);

#endif
