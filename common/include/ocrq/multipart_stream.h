/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * multipart/form-data (RFC 7578) parsed as it arrives: the body is fed in
 * pieces of any size and each part's headers and data are handed to
 * callbacks, so a part of any size passes through without being held. Only
 * a part's header block (at most OCRQ_MULTIPART_HEADERS_MAX bytes) is buffered.
 */
#ifndef OCRQ_MULTIPART_STREAM_H
#define OCRQ_MULTIPART_STREAM_H

#include <stddef.h>

#include "ocrq/multipart.h"

#define OCRQ_MULTIPART_HEADERS_MAX (16 * 1024) /* a part's header block, blank line included */

struct ocrq_multipart_stream;

/*
 * What the parser calls, in order, for each part: begin once its headers
 * are in (part's name, filename, has_filename and content_type are set;
 * data and len are NULL and 0; part is borrowed for the call), data zero or
 * more times with consecutive pieces of its bytes (borrowed for the call),
 * end once its closing delimiter was seen. Each returns OCRQ_OK to go on;
 * any other status stops the parser, and ocrq_multipart_stream_feed() returns it.
 * Any callback may be NULL.
 */
struct ocrq_multipart_callbacks {
    int (*begin)(void *arg, const struct ocrq_multipart_part *part);
    int (*data)(void *arg, const unsigned char *data, size_t len);
    int (*end)(void *arg);
};

/*
 * A parser for a body with this boundary (from ocrq_multipart_boundary(); copied),
 * calling cb (copied) with arg, and allowing at most max_parts parts.
 * Returns OCRQ_OK with *out, OCRQ_ERR_INVALID (a bad boundary) or
 * OCRQ_ERR_NOMEM; *out is NULL on error. Free with ocrq_multipart_stream_free().
 * A parser belongs to one thread at a time.
 */
int ocrq_multipart_stream_new(const char *boundary, const struct ocrq_multipart_callbacks *cb,
                              void *arg, size_t max_parts, struct ocrq_multipart_stream **out);

/*
 * Feed the next len bytes of the body (borrowed for the call). Returns
 * OCRQ_OK; OCRQ_ERR_INVALID (malformed: no blank line after a part's
 * headers, headers over OCRQ_MULTIPART_HEADERS_MAX, junk after a delimiter);
 * OCRQ_ERR_TOO_LARGE (more than max_parts parts); or what a callback
 * returned. After an error every later call returns that error again.
 * Bytes after the closing delimiter (the epilogue) are ignored.
 */
int ocrq_multipart_stream_feed(struct ocrq_multipart_stream *s, const unsigned char *data,
                               size_t len);

/*
 * The body is over: OCRQ_OK if the closing delimiter was seen, else the
 * error of an earlier feed, or OCRQ_ERR_INVALID (the body stopped early).
 */
int ocrq_multipart_stream_finish(struct ocrq_multipart_stream *s);

/* Parts begun so far. */
size_t ocrq_multipart_stream_parts(const struct ocrq_multipart_stream *s);

/* Free the parser; NULL is fine. Calls no callback. */
void ocrq_multipart_stream_free(struct ocrq_multipart_stream *s);

#endif
