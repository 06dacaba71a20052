/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The messages of ocrq-submit that wait for their broker confirm. Each body is
 * kept until its confirm comes, so that after a lost connection every job not
 * yet confirmed is published again, with the same job id, on the next one;
 * and the confirm sequence numbers of the current connection map back to the
 * inputs. At most cap messages and about max_bytes of bodies are held.
 */
#ifndef OCRQ_PRODUCER_SUBMIT_FLIGHT_H
#define OCRQ_PRODUCER_SUBMIT_FLIGHT_H

#include <stddef.h>
#include <stdint.h>

/* One message held: the input it is for and its encoded job. */
struct flight_msg {
    size_t idx;          /* input index */
    unsigned char *body; /* owned; NULL once settled (the slot is free) */
    size_t len;
    unsigned losses; /* times the broker closed the channel before confirming it */
};

/*
 * Messages by position, in the order they were added. Positions [head, sent)
 * are published on the current connection, [sent, tail) wait to be published
 * (again, after a rewind); in [head, tail) a settled message leaves a hole
 * until head passes it. On the current connection the message at position p
 * went out with sequence number seq0 + (p - pos0). Zeroed is not valid: use
 * flight_init().
 */
struct submit_flight {
    struct flight_msg *v; /* cap slots: position p is v[p % cap] */
    size_t cap, max_bytes;
    uint64_t head, sent, tail;
    uint64_t pos0, seq0;
    int numbered;       /* pos0 and seq0 are set: something went out on this connection */
    size_t held, bytes; /* messages held and the bytes of their bodies */
};

/* Room for cap messages (at least 1). Returns OCRQ_OK or OCRQ_ERR_NOMEM. */
int flight_init(struct submit_flight *f, size_t cap, size_t max_bytes);

/* Free every body held and the slots. Safe on a zeroed or half-built one. */
void flight_cleanup(struct submit_flight *f);

/*
 * Whether the next message has to wait for a confirm: cap positions from the
 * oldest held on are in use, or max_bytes are held. A single message larger
 * than max_bytes still fits into an empty flight.
 */
int flight_full(const struct submit_flight *f);

/* Messages held: published and unconfirmed, or waiting to be published. */
size_t flight_held(const struct submit_flight *f);

/*
 * Take body (owned from now on) for input idx at the tail, to be published.
 * The caller checked !flight_full().
 */
void flight_add(struct submit_flight *f, size_t idx, unsigned char *body, size_t len);

/* The next message to publish on this connection, or NULL when all went out. */
const struct flight_msg *flight_next(const struct submit_flight *f);

/*
 * The message flight_next() returned went out with sequence number seq.
 * Returns OCRQ_OK, or OCRQ_ERR_INVALID if seq does not follow the previous
 * one's (never: a channel numbers its publishes one by one).
 */
int flight_published(struct submit_flight *f, uint64_t seq);

/* The message published as seq on this connection and held; NULL if none. */
struct flight_msg *flight_find(struct submit_flight *f, uint64_t seq);

/* m's confirm came: free its body and its slot. */
void flight_settle(struct submit_flight *f, struct flight_msg *m);

/*
 * The connection is gone: every message held is to be published again on the
 * next one, in the order they were first added. Returns how many.
 */
size_t flight_rewind(struct submit_flight *f);

/* The slot of position p, for walking [f->head, f->tail); its body is NULL if free. */
const struct flight_msg *flight_slot(const struct submit_flight *f, uint64_t p);

#endif
