/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The AMQP header codec: the properties and headers of a message read off the
 * wire (x-ocrq-attempt, x-ocrq-error-*, the x-death array), and the properties
 * and headers of a publish, x-death rebuilt so that the broker counts on.
 */
#include "ocrq/mq.h"

#include <amqp.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "mq_internal.h"

#define HEADER_TEXT_MAX 1024 /* x-ocrq-error-message */

static int field_int(const amqp_field_value_t *v, long long *out)
{
    switch (v->kind) {
    case AMQP_FIELD_KIND_I8:
        *out = v->value.i8;
        return 1;
    case AMQP_FIELD_KIND_U8:
        *out = v->value.u8;
        return 1;
    case AMQP_FIELD_KIND_I16:
        *out = v->value.i16;
        return 1;
    case AMQP_FIELD_KIND_U16:
        *out = v->value.u16;
        return 1;
    case AMQP_FIELD_KIND_I32:
        *out = v->value.i32;
        return 1;
    case AMQP_FIELD_KIND_U32:
        *out = v->value.u32;
        return 1;
    case AMQP_FIELD_KIND_I64:
        *out = v->value.i64;
        return 1;
    case AMQP_FIELD_KIND_U64:
    case AMQP_FIELD_KIND_TIMESTAMP:
        *out = v->value.u64 > LLONG_MAX ? LLONG_MAX : (long long)v->value.u64;
        return 1;
    default:
        return 0;
    }
}

static const amqp_field_value_t *table_get(const amqp_table_t *t, const char *key)
{
    size_t kl = strlen(key);
    for (int i = 0; i < t->num_entries; i++) {
        const amqp_table_entry_t *e = &t->entries[i];
        if (e->key.len == kl && memcmp(e->key.bytes, key, kl) == 0)
            return &e->value;
    }
    return NULL;
}

/* Sum of the "count" fields of the x-death array of tables. */
static long long death_count(const amqp_field_value_t *v)
{
    long long sum = 0, n;
    if (!v || v->kind != AMQP_FIELD_KIND_ARRAY)
        return 0;
    for (int i = 0; i < v->value.array.num_entries; i++) {
        const amqp_field_value_t *e = &v->value.array.entries[i];
        if (e->kind != AMQP_FIELD_KIND_TABLE)
            continue;
        const amqp_field_value_t *c = table_get(&e->value.table, "count");
        if (c && field_int(c, &n) && n > 0)
            sum += n;
    }
    return sum;
}

/* A malloc'd copy of a string header (longstr or bytes), capped; NULL if absent or not text. */
static char *header_text(const amqp_table_t *t, const char *key, size_t cap)
{
    const amqp_field_value_t *v = table_get(t, key);
    if (!v || (v->kind != AMQP_FIELD_KIND_UTF8 && v->kind != AMQP_FIELD_KIND_BYTES))
        return NULL;
    size_t n = v->value.bytes.len < cap ? v->value.bytes.len : cap;
    char *s = malloc(n + 1);
    if (s) {
        if (n)
            memcpy(s, v->value.bytes.bytes, n);
        s[n] = '\0';
    }
    return s;
}

static void table_text(const amqp_table_t *t, const char *key, char *dst, size_t cap)
{
    const amqp_field_value_t *v = table_get(t, key);
    dst[0] = '\0';
    if (v && (v->kind == AMQP_FIELD_KIND_UTF8 || v->kind == AMQP_FIELD_KIND_BYTES))
        copy_bytes(dst, cap, v->value.bytes);
}

/* The entries of the x-death array (at most OCRQ_MQ_MAX_DEATHS), malloc'd; NULL if none. */
static struct ocrq_mq_death *read_deaths(const amqp_field_value_t *v, int *n)
{
    struct ocrq_mq_death *d;
    *n = 0;
    if (!v || v->kind != AMQP_FIELD_KIND_ARRAY || v->value.array.num_entries <= 0)
        return NULL;
    int max = v->value.array.num_entries < OCRQ_MQ_MAX_DEATHS ? v->value.array.num_entries
                                                              : OCRQ_MQ_MAX_DEATHS;
    d = calloc((size_t)max, sizeof(*d));
    for (int i = 0; d && i < v->value.array.num_entries && *n < max; i++) {
        const amqp_field_value_t *e = &v->value.array.entries[i];
        if (e->kind != AMQP_FIELD_KIND_TABLE)
            continue;
        struct ocrq_mq_death *x = &d[(*n)++];
        const amqp_field_value_t *f;
        table_text(&e->value.table, "queue", x->queue, sizeof(x->queue));
        table_text(&e->value.table, "reason", x->reason, sizeof(x->reason));
        table_text(&e->value.table, "exchange", x->exchange, sizeof(x->exchange));
        if ((f = table_get(&e->value.table, "count")) && !field_int(f, &x->count))
            x->count = 0;
        if ((f = table_get(&e->value.table, "time")) && !field_int(f, &x->time))
            x->time = 0;
    }
    if (d && *n == 0) {
        free(d);
        d = NULL;
    }
    return d;
}

void ocrq_mq_read_props(const amqp_basic_properties_t *p, struct content *c)
{
    long long n;
    c->priority = -1;
    if (p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG)
        copy_bytes(c->message_id, sizeof(c->message_id), p->message_id);
    if (p->_flags & AMQP_BASIC_PRIORITY_FLAG)
        c->priority = p->priority;
    if (p->_flags & AMQP_BASIC_TIMESTAMP_FLAG)
        c->timestamp = p->timestamp > LLONG_MAX ? LLONG_MAX : (long long)p->timestamp;
    if (!(p->_flags & AMQP_BASIC_HEADERS_FLAG))
        return;
    const amqp_field_value_t *a = table_get(&p->headers, "x-ocrq-attempt");
    if (a && field_int(a, &n))
        c->attempt = n < 0 ? 0 : n > INT_MAX ? INT_MAX : (int)n;
    const amqp_field_value_t *xd = table_get(&p->headers, "x-death");
    c->death_count = death_count(xd);
    /* copies of the rarer headers, for the operator tools and for carrying them over */
    c->error_code = header_text(&p->headers, "x-ocrq-error-code", SHORTSTR_MAX);
    c->error_message = header_text(&p->headers, "x-ocrq-error-message", HEADER_TEXT_MAX);
    c->deaths = read_deaths(xd, &c->n_deaths);
}

/* Longest prefix of s, at most cap bytes, that does not split a UTF-8 sequence. */
static amqp_bytes_t capped_text(const char *s, size_t cap)
{
    size_t n = strlen(s);
    if (n > cap) {
        n = cap;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    amqp_bytes_t b = {n, (void *)s};
    return b;
}

/*
 * The x-death header rebuilt from deaths[0..n-1] into v, using the caller's
 * storage (entries[n][XD_N], tables[n]): the entries keep the broker's order
 * and field types (count long, time timestamp), so that the broker counts on
 * when it dead-letters the copy again.
 */
static void build_deaths(const struct ocrq_mq_death *deaths, int n,
                         amqp_table_entry_t (*entries)[XD_N], amqp_field_value_t *tables,
                         amqp_table_entry_t *h)
{
    for (int i = 0; i < n; i++) {
        amqp_table_entry_t *e = entries[i];
        e[XD_QUEUE] = ocrq_mq_str_entry("queue", deaths[i].queue);
        e[XD_REASON] = ocrq_mq_str_entry("reason", deaths[i].reason);
        e[XD_EXCHANGE] = ocrq_mq_str_entry("exchange", deaths[i].exchange);
        e[XD_COUNT] =
            (amqp_table_entry_t){amqp_cstring_bytes("count"), {.kind = AMQP_FIELD_KIND_I64}};
        e[XD_COUNT].value.value.i64 = deaths[i].count;
        e[XD_TIME] =
            (amqp_table_entry_t){amqp_cstring_bytes("time"), {.kind = AMQP_FIELD_KIND_TIMESTAMP}};
        e[XD_TIME].value.value.u64 = deaths[i].time > 0 ? (uint64_t)deaths[i].time : 0;
        tables[i].kind = AMQP_FIELD_KIND_TABLE;
        tables[i].value.table.num_entries = XD_N;
        tables[i].value.table.entries = e;
    }
    h->key = amqp_cstring_bytes("x-death");
    h->value.kind = AMQP_FIELD_KIND_ARRAY;
    h->value.value.array.num_entries = n;
    h->value.value.array.entries = tables;
}

void ocrq_mq_props_build(struct ocrq_mq_props *props, const struct ocrq_mq_pub *pub)
{
    amqp_basic_properties_t p;
    amqp_table_entry_t *h = props->h;
    amqp_table_entry_t(*death_entries)[XD_N] = props->death_entries;
    amqp_field_value_t *death_tables = props->death_tables;
    int nh = 0;

    memset(&p, 0, sizeof(p));
    p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
    p.delivery_mode = AMQP_DELIVERY_PERSISTENT;
    if (pub->content_type) {
        p._flags |= AMQP_BASIC_CONTENT_TYPE_FLAG;
        p.content_type = amqp_cstring_bytes(pub->content_type);
    }
    if (pub->message_id) {
        p._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
        p.message_id = amqp_cstring_bytes(pub->message_id);
    }
    if (pub->priority >= 0) {
        p._flags |= AMQP_BASIC_PRIORITY_FLAG;
        p.priority = (uint8_t)pub->priority;
    }
    if (pub->timestamp > 0) {
        p._flags |= AMQP_BASIC_TIMESTAMP_FLAG;
        p.timestamp = (uint64_t)pub->timestamp;
    }
    if (pub->attempt > 0)
        h[nh++] = ocrq_mq_int_entry("x-ocrq-attempt", pub->attempt);
    if (pub->error_code) {
        h[nh] = ocrq_mq_str_entry("x-ocrq-error-code", "");
        h[nh++].value.value.bytes = capped_text(pub->error_code, SHORTSTR_MAX);
        h[nh] = ocrq_mq_str_entry("x-ocrq-error-message", "");
        h[nh++].value.value.bytes =
            capped_text(pub->error_message ? pub->error_message : "", HEADER_TEXT_MAX);
    }
    if (pub->n_deaths > 0)
        build_deaths(pub->deaths,
                     pub->n_deaths < OCRQ_MQ_MAX_DEATHS ? pub->n_deaths : OCRQ_MQ_MAX_DEATHS,
                     death_entries, death_tables, &h[nh++]);
    if (nh) {
        p._flags |= AMQP_BASIC_HEADERS_FLAG;
        p.headers.num_entries = nh;
        p.headers.entries = h;
    }
    props->p = p;
}
