/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * multipart/form-data (RFC 7578) over a body held in memory: the boundary
 * from the Content-Type, then the parts, each pointing into the body.
 */
#ifndef OCRQ_MULTIPART_H
#define OCRQ_MULTIPART_H

#include <stddef.h>

#define OCRQ_MULTIPART_BOUNDARY_MAX 70 /* RFC 2046 */

struct ocrq_multipart_part {
    char name[128];         /* Content-Disposition name; "" if none */
    char filename[256];     /* Content-Disposition filename; "" if none */
    char content_type[128]; /* the part's Content-Type; "" if none */
    int has_filename;
    const unsigned char *data; /* into the body */
    size_t len;
};

/*
 * The boundary parameter of a "multipart/form-data; boundary=..." header
 * value (quoted or not) into out (OCRQ_MULTIPART_BOUNDARY_MAX + 1 bytes). Returns
 * OCRQ_OK, or OCRQ_ERR_INVALID if it is not multipart/form-data or has no
 * valid boundary.
 */
int ocrq_multipart_boundary(const char *content_type, char *out);

/*
 * Split body into at most max parts. Returns OCRQ_OK with *n parts,
 * OCRQ_ERR_TOO_LARGE if there are more than max, or OCRQ_ERR_INVALID if the
 * body is not well-formed (no opening or closing delimiter, a part without
 * the blank line after its headers).
 */
int ocrq_multipart_parse(const unsigned char *body, size_t len, const char *boundary,
                         struct ocrq_multipart_part *parts, size_t max, size_t *n);

/*
 * Read a part's header block (len bytes of CRLF-separated lines, without the
 * blank line that ends it) into part's name, filename, has_filename and
 * content_type; part->data and part->len are left alone. Only
 * Content-Disposition and Content-Type are read. Thread-safe.
 */
void ocrq_multipart_part_headers(const char *headers, size_t len, struct ocrq_multipart_part *part);

#endif
