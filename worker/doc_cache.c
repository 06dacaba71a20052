/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Stored documents kept by a worker process (doc_cache.h): each one fetched
 * into an unlinked temporary file and mapped read-only, so the kernel may
 * drop its pages under memory pressure, and opened once for the page tasks
 * that follow.
 */
#include "doc_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "document.h"
#include "ocrq/blob.h"
#include "ocrq/log.h"
#include "ocrq/status.h"

struct entry {
    char blob_id[37]; /* "": free */
    unsigned char *map;
    size_t len;
    struct ocrq_document *doc; /* opened on demand */
    unsigned long used;        /* when last handed out (the cache's clock) */
};

struct ocrq_doc_cache {
    struct entry *e;
    int n;
    unsigned long clock;
};

int ocrq_doc_cache_new(int entries, struct ocrq_doc_cache **out)
{
    struct ocrq_doc_cache *c = calloc(1, sizeof(*c));

    *out = NULL;
    if (!c || !(c->e = calloc((size_t)(entries > 0 ? entries : 1), sizeof(c->e[0])))) {
        free(c);
        return OCRQ_ERR_NOMEM;
    }
    c->n = entries > 0 ? entries : 1;
    *out = c;
    return OCRQ_OK;
}

static void entry_clear(struct entry *e)
{
    ocrq_document_free(e->doc);
    if (e->map && e->len > 0)
        munmap(e->map, e->len);
    memset(e, 0, sizeof(*e));
}

void ocrq_doc_cache_free(struct ocrq_doc_cache *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n; i++)
        entry_clear(&c->e[i]);
    free(c->e);
    free(c);
}

void ocrq_doc_cache_drop(struct ocrq_doc_cache *c, const char *blob_id)
{
    for (int i = 0; c && i < c->n; i++)
        if (strcmp(c->e[i].blob_id, blob_id) == 0)
            entry_clear(&c->e[i]);
}

/* blob_id into the (cleared) entry e: fetched into an unlinked file, mapped. */
static int fetch(struct entry *e, struct ocrq_db *db, const char *blob_id, const char **code,
                 char *why, size_t whylen)
{
    const char *tmp = getenv("TMPDIR");
    char path[4096];
    long long size = 0;
    int fd, st;

    snprintf(path, sizeof(path), "%s/ocrq-doc-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    fd = mkstemp(path);
    if (fd < 0) {
        snprintf(why, whylen, "cannot make a temporary file for a stored document: %s",
                 strerror(errno));
        *code = "io";
        return OCRQ_ERR_IO;
    }
    unlink(path); /* gone with the process, whatever happens to it */
    st = ocrq_blob_read_fd(db, blob_id, fd, &size);
    if (st == OCRQ_ERR_NOT_FOUND) {
        *code = "document_missing";
        snprintf(why, whylen,
                 "the stored document %s is not in the store (deleted after its job ended?)",
                 blob_id);
    } else if (st == OCRQ_ERR_IO) {
        *code = "io";
        snprintf(why, whylen, "cannot write the stored document %s to a temporary file", blob_id);
    } else if (st != OCRQ_OK) {
        *code = "database";
        snprintf(why, whylen, "cannot read the stored document %s", blob_id);
    }
    if (st == OCRQ_OK && size > 0) {
        e->map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (e->map == MAP_FAILED) {
            e->map = NULL;
            *code = "io";
            snprintf(why, whylen, "cannot map the stored document %s: %s", blob_id,
                     strerror(errno));
            st = OCRQ_ERR_IO;
        }
    }
    close(fd);
    if (st != OCRQ_OK)
        return st;
    e->len = (size_t)size;
    snprintf(e->blob_id, sizeof(e->blob_id), "%s", blob_id);
    log_debug(NULL, "stored document %s fetched: %lld bytes", blob_id, size);
    return OCRQ_OK;
}

/* The entry of blob_id, fetched into the least recently used one if need be. */
static int lookup(struct ocrq_doc_cache *c, struct ocrq_db *db, const char *blob_id,
                  struct entry **out, const char **code, char *why, size_t whylen)
{
    struct entry *victim = &c->e[0];
    int st;

    *out = NULL;
    for (int i = 0; i < c->n; i++) {
        if (strcmp(c->e[i].blob_id, blob_id) == 0) {
            c->e[i].used = ++c->clock;
            *out = &c->e[i];
            return OCRQ_OK;
        }
        if (c->e[i].used < victim->used)
            victim = &c->e[i];
    }
    entry_clear(victim);
    st = fetch(victim, db, blob_id, code, why, whylen);
    if (st != OCRQ_OK) {
        entry_clear(victim);
        return st;
    }
    victim->used = ++c->clock;
    *out = victim;
    return OCRQ_OK;
}

int ocrq_doc_cache_get(struct ocrq_doc_cache *c, struct ocrq_db *db, const char *blob_id,
                       const unsigned char **data, size_t *len, const char **code, char *why,
                       size_t whylen)
{
    struct entry *e;
    int st = lookup(c, db, blob_id, &e, code, why, whylen);

    *data = st == OCRQ_OK ? e->map : NULL;
    *len = st == OCRQ_OK ? e->len : 0;
    return st;
}

int ocrq_doc_cache_open(struct ocrq_doc_cache *c, struct ocrq_db *db, const char *blob_id,
                        const struct ocrq_doc_limits *lim, struct ocrq_document **doc,
                        const char **code, char *why, size_t whylen)
{
    struct entry *e;
    int st = lookup(c, db, blob_id, &e, code, why, whylen);

    *doc = NULL;
    if (st != OCRQ_OK)
        return st;
    if (!e->doc) {
        st = ocrq_document_open(e->map, e->len, lim, &e->doc, code, why, whylen);
        if (st != OCRQ_OK)
            return st;
    }
    *doc = e->doc;
    return OCRQ_OK;
}
