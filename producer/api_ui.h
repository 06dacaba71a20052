/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * ocrq-api's dashboard at /ui/ (api_ui.c): its embedded files
 * (api_ui_assets.c, generated at build time from producer/ui/ by
 * producer/ui/embed.cmake) and its login sessions (api_ui_sessions.c).
 */
#ifndef OCRQ_PRODUCER_API_UI_H
#define OCRQ_PRODUCER_API_UI_H

#include <stddef.h>

#include "api.h"

/* ---- api_ui.c -------------------------------------------------------------- */

/* Answer a request under /ui (the page, its files, login, logout, /ui/api/...). */
void api_ui(struct api *api, struct ocrq_http_req *req, struct api_req *ar);

/* ---- api_ui_assets.c (generated) ------------------------------------------ */

struct api_ui_asset {
    const char *name; /* "index.html" */
    const char *type; /* its Content-Type */
    const unsigned char *data;
    size_t len;
};
extern const struct api_ui_asset api_ui_assets[];
extern const size_t api_ui_n_assets;

/* ---- api_ui_sessions.c ---------------------------------------------------- */

#define API_UI_SESSION_CHARS 64 /* a session id and a CSRF token: 32 random bytes in hex */
#define API_UI_SESSION_TTL_S (12 * 3600)
#define API_UI_SESSIONS 256 /* live sessions at most; a new one replaces the oldest */

/*
 * A new session of key_name: its id and CSRF token (each
 * API_UI_SESSION_CHARS hex digits and a NUL). 0, or -1 without randomness.
 */
int api_ui_session_new(const char *key_name, char *id, char *csrf);

/*
 * The live session id (NULL: none): its key name and CSRF token into
 * key_name (API_KEY_NAME_MAX bytes) and csrf. 0, or -1 if there is none.
 */
int api_ui_session_get(const char *id, char *key_name, char *csrf);

/* End session id; 0 if it was live, else -1. */
int api_ui_session_end(const char *id);

#endif
