/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The dashboard's login sessions, in ocrq-api's memory: a bounded table of
 * random 32-byte ids (hex) with the admin key's name, a CSRF token of the
 * same kind and an expiry API_UI_SESSION_TTL_S after the login. A restart
 * of ocrq-api ends them all; each ocrq-api has its own (a load balancer in
 * front of several needs sticky sessions). Ids are compared in constant
 * time.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "api_ui.h"
#include "ocrq/clock.h"
#include "ocrq/random.h"
#include "ocrq/sign.h"

struct session {
    char id[API_UI_SESSION_CHARS + 1]; /* "" for a free slot */
    char csrf[API_UI_SESSION_CHARS + 1];
    char key_name[API_KEY_NAME_MAX];
    int64_t expires_ms;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct session table[API_UI_SESSIONS];

/* 32 random bytes as hex into out (API_UI_SESSION_CHARS + 1 bytes); -1 without randomness. */
static int random_hex(char *out)
{
    unsigned char b[API_UI_SESSION_CHARS / 2];

    if (ocrq_random_bytes(b, sizeof b) != 0)
        return -1;
    for (size_t i = 0; i < sizeof b; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    return 0;
}

/* The live slot of id (under mu); NULL if none. */
static struct session *find(const char *id, int64_t now)
{
    if (!id || strlen(id) != API_UI_SESSION_CHARS)
        return NULL;
    for (int i = 0; i < API_UI_SESSIONS; i++) {
        struct session *s = &table[i];
        if (s->id[0] && ocrq_equal_ct(s->id, id, API_UI_SESSION_CHARS)) {
            if (s->expires_ms > now)
                return s;
            memset(s, 0, sizeof *s); /* expired */
        }
    }
    return NULL;
}

int api_ui_session_new(const char *key_name, char *id, char *csrf)
{
    int64_t now = ocrq_now_ms();

    if (random_hex(id) != 0 || random_hex(csrf) != 0)
        return -1;
    pthread_mutex_lock(&mu);
    /* a free or expired slot, else the one that expires first */
    struct session *s = &table[0];
    for (int i = 0; i < API_UI_SESSIONS; i++) {
        if (!table[i].id[0] || table[i].expires_ms <= now) {
            s = &table[i];
            break;
        }
        if (table[i].expires_ms < s->expires_ms)
            s = &table[i];
    }
    snprintf(s->id, sizeof s->id, "%s", id);
    snprintf(s->csrf, sizeof s->csrf, "%s", csrf);
    snprintf(s->key_name, sizeof s->key_name, "%s", key_name);
    s->expires_ms = now + (int64_t)API_UI_SESSION_TTL_S * 1000;
    pthread_mutex_unlock(&mu);
    return 0;
}

int api_ui_session_get(const char *id, char *key_name, char *csrf)
{
    pthread_mutex_lock(&mu);
    struct session *s = find(id, ocrq_now_ms());
    if (s) {
        snprintf(key_name, API_KEY_NAME_MAX, "%s", s->key_name);
        snprintf(csrf, API_UI_SESSION_CHARS + 1, "%s", s->csrf);
    }
    pthread_mutex_unlock(&mu);
    return s ? 0 : -1;
}

int api_ui_session_end(const char *id)
{
    pthread_mutex_lock(&mu);
    struct session *s = find(id, ocrq_now_ms());
    if (s)
        memset(s, 0, sizeof *s);
    pthread_mutex_unlock(&mu);
    return s ? 0 : -1;
}
