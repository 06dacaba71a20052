/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The messages of ocrq-submit waiting for their confirm (submit_flight.h): a
 * ring of positions in the order the jobs were added, so that one connection's
 * sequence numbers map to positions by an offset, and a rewind keeps the
 * order when the held messages are published again.
 */
#include "submit_flight.h"

#include <stdlib.h>
#include <string.h>

#include "ocrq/status.h"

int flight_init(struct submit_flight *f, size_t cap, size_t max_bytes)
{
    memset(f, 0, sizeof *f);
    f->cap = cap ? cap : 1;
    f->max_bytes = max_bytes;
    f->v = calloc(f->cap, sizeof *f->v);
    return f->v ? OCRQ_OK : OCRQ_ERR_NOMEM;
}

void flight_cleanup(struct submit_flight *f)
{
    if (!f->v)
        return;
    for (size_t k = 0; k < f->cap; k++)
        free(f->v[k].body);
    free(f->v);
    memset(f, 0, sizeof *f);
}

static struct flight_msg *at(const struct submit_flight *f, uint64_t p)
{
    return &f->v[p % f->cap];
}

const struct flight_msg *flight_slot(const struct submit_flight *f, uint64_t p)
{
    return at(f, p);
}

int flight_full(const struct submit_flight *f)
{
    return f->tail - f->head >= f->cap || (f->held > 0 && f->bytes >= f->max_bytes);
}

size_t flight_held(const struct submit_flight *f)
{
    return f->held;
}

void flight_add(struct submit_flight *f, size_t idx, unsigned char *body, size_t len)
{
    struct flight_msg *m = at(f, f->tail++);

    m->idx = idx;
    m->body = body;
    m->len = len;
    m->losses = 0;
    f->held++;
    f->bytes += len;
}

const struct flight_msg *flight_next(const struct submit_flight *f)
{
    return f->sent < f->tail ? at(f, f->sent) : NULL;
}

int flight_published(struct submit_flight *f, uint64_t seq)
{
    if (!f->numbered) {
        f->numbered = 1;
        f->pos0 = f->sent;
        f->seq0 = seq;
    } else if (seq != f->seq0 + (f->sent - f->pos0)) {
        return OCRQ_ERR_INVALID;
    }
    f->sent++;
    return OCRQ_OK;
}

struct flight_msg *flight_find(struct submit_flight *f, uint64_t seq)
{
    if (!f->numbered || seq < f->seq0)
        return NULL;
    uint64_t p = f->pos0 + (seq - f->seq0);
    if (p < f->head || p >= f->sent)
        return NULL;
    struct flight_msg *m = at(f, p);
    return m->body ? m : NULL;
}

void flight_settle(struct submit_flight *f, struct flight_msg *m)
{
    free(m->body);
    m->body = NULL;
    f->held--;
    f->bytes -= m->len;
    m->len = 0;
    while (f->head < f->tail && !at(f, f->head)->body)
        f->head++;
}

size_t flight_rewind(struct submit_flight *f)
{
    uint64_t w = f->head;

    for (uint64_t p = f->head; p < f->tail; p++) { /* close the holes, keeping the order */
        struct flight_msg *m = at(f, p);
        if (!m->body)
            continue;
        if (w != p) {
            *at(f, w) = *m;
            memset(m, 0, sizeof *m);
        }
        w++;
    }
    f->tail = w;
    f->sent = f->head;
    f->numbered = 0;
    return f->held;
}
