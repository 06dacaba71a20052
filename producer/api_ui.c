/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * ocrq-api's dashboard under /ui/ (docs/dashboard.md): the page and its
 * files, embedded at build time (api_ui_assets.c); login with an admin key
 * into a session cookie (api_ui_sessions.c); and the JSON reads and
 * operations under /ui/api/, which need that cookie, and for a POST the
 * session's CSRF token in X-CSRF-Token. Every answer carries a strict
 * Content-Security-Policy; the JSON ones are never cached. Logins, logouts
 * and operations are logged with the key's name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_ui.h"
#include "ocrq/db_failed.h"
#include "ocrq/db_hooks.h"
#include "ocrq/db_ui.h"
#include "ocrq/http.h"
#include "ocrq/json.h"
#include "ocrq/log.h"
#include "ocrq/sign.h"
#include "ocrq/status.h"
#include "ocrq/timestamp.h"
#include "ocrq/uuid.h"

#define JSON_TYPE "application/json"
#define COOKIE "ocrq_session"
#define PER_PAGE_DEFAULT 50
#define PER_PAGE_MAX 200

static const char csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
                          "frame-ancestors 'none'; base-uri 'none'";

/* A logged-in request: its session's key and CSRF token. */
struct ui_session {
    char id[API_UI_SESSION_CHARS + 1];
    char key_name[API_KEY_NAME_MAX];
    char csrf[API_UI_SESSION_CHARS + 1];
};

/* Answer the malloc'd JSON text s (taken; NULL: out of memory), never cached. */
static void reply_text(struct ocrq_http_req *req, int status, char *s)
{
    if (!s) {
        api_error(req, 500, "internal", "out of memory");
        return;
    }
    ocrq_http_add_header(req, "Cache-Control", "no-store");
    ocrq_http_reply(req, status, JSON_TYPE, s, strlen(s));
}

static void reply_json(struct ocrq_http_req *req, int status, struct ocrq_json *o, int bad)
{
    char *s = bad ? NULL : ocrq_json_dump(o, 0);
    ocrq_json_free(o);
    reply_text(req, status, s);
}

/* The value of cookie name in the Cookie header into out (n bytes); 0, or -1 if absent. */
static int cookie(struct ocrq_http_req *req, const char *name, char *out, size_t n)
{
    const char *h = ocrq_http_header(req, "Cookie");
    size_t nl = strlen(name);

    for (const char *p = h; p && *p;) {
        p += strspn(p, " ;");
        size_t len = strcspn(p, ";");
        if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t vl = len - nl - 1;
            if (vl >= n)
                return -1;
            memcpy(out, p + nl + 1, vl);
            out[vl] = '\0';
            return 0;
        }
        p += len;
    }
    return -1;
}

/*
 * The request's live session into *s, its key still an active admin key (a
 * revoked key's sessions end at their next request); else answers 401 (503
 * without the database) and returns -1.
 */
static int need_session(struct api *api, struct ocrq_http_req *req, struct ui_session *s)
{
    int active = 0;

    if (cookie(req, COOKIE, s->id, sizeof s->id) != 0 ||
        api_ui_session_get(s->id, s->key_name, s->csrf) != 0) {
        api_error(req, 401, "unauthorized", "no session: log in at /ui/ with an admin key");
        return -1;
    }
    struct ocrq_db *db = api_db(api);
    int st = db ? ocrq_db_ui_admin_active(db, s->key_name, &active) : OCRQ_ERR_DB;
    if (st != OCRQ_OK) {
        api_db_unavailable(api, req, db);
        return -1;
    }
    if (!active) {
        api_ui_session_end(s->id);
        log_info(NULL, "ui: session of key '%s' ended: the key is revoked", s->key_name);
        api_error(req, 401, "unauthorized", "the session's key is revoked: log in again");
        return -1;
    }
    return 0;
}

/* A POST's X-CSRF-Token must be the session's token; else answers 403 and returns -1. */
static int need_csrf(struct ocrq_http_req *req, const struct ui_session *s)
{
    const char *t = ocrq_http_header(req, "X-CSRF-Token");

    if (!t || strlen(t) != API_UI_SESSION_CHARS ||
        !ocrq_equal_ct(t, s->csrf, API_UI_SESSION_CHARS)) {
        api_error(req, 403, "csrf", "a POST needs the session's X-CSRF-Token header");
        return -1;
    }
    return 0;
}

/* {"key", "role", "csrf"} of a session. */
static void reply_session(struct ocrq_http_req *req, const char *key_name, const char *csrf)
{
    struct ocrq_json *o = ocrq_json_object();
    int bad = ocrq_json_set_str(o, "key", key_name);
    bad |= ocrq_json_set_str(o, "role", "admin");
    bad |= ocrq_json_set_str(o, "csrf", csrf);
    reply_json(req, 200, o, bad);
}

/* POST /ui/login {"key": "ocrq_..."}: an admin key gets a session cookie. */
static void login(struct api *api, struct ocrq_http_req *req)
{
    size_t len = 0, klen = 0;
    const unsigned char *body = ocrq_http_body(req, &len);
    const char *ctype = ocrq_http_header(req, "Content-Type");
    struct ocrq_json *o = NULL;
    char auth[256], name[API_KEY_NAME_MAX], role[8] = "", id[API_UI_SESSION_CHARS + 1];
    char csrf[API_UI_SESSION_CHARS + 1], set[256];

    /* JSON only: a cross-site form cannot send it */
    if (!ctype || strncmp(ctype, JSON_TYPE, sizeof JSON_TYPE - 1) != 0) {
        api_error(req, 415, "unsupported_media_type", "log in with {\"key\": ...} as JSON");
        return;
    }
    if (ocrq_json_parse((const char *)body, len, 0, &o, NULL, 0) != OCRQ_OK) {
        api_error(req, 400, "invalid_json", "log in with {\"key\": ...} as JSON");
        return;
    }
    const char *key = ocrq_json_str(ocrq_json_get(o, "key"), &klen);
    if (!key || klen + 8 > sizeof auth) {
        ocrq_json_free(o);
        api_error(req, 400, "invalid_parameter", "key: the API key, a string");
        return;
    }
    snprintf(auth, sizeof auth, "Bearer %s", key);
    ocrq_json_free(o);
    if (api_authenticate(api, req, auth, name, sizeof name, role) != 0) {
        log_info(NULL, "ui: login refused (a wrong or revoked key)");
        return;
    }
    if (strcmp(role, "admin") != 0) {
        log_info(NULL, "ui: login of key '%s' refused: role %s", name, role);
        api_error(req, 403, "forbidden", "the dashboard needs an admin key");
        return;
    }
    if (api_ui_session_new(name, id, csrf) != 0) {
        api_error(req, 500, "internal", "no randomness for a session");
        return;
    }
    snprintf(set, sizeof set, COOKIE "=%s; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=%d", id,
             API_UI_SESSION_TTL_S);
    ocrq_http_add_header(req, "Set-Cookie", set);
    log_info(NULL, "ui: key '%s' logged in", name);
    reply_session(req, name, csrf);
}

static void logout(struct ocrq_http_req *req, const struct ui_session *s)
{
    api_ui_session_end(s->id);
    ocrq_http_add_header(req, "Set-Cookie",
                         COOKIE "=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0");
    log_info(NULL, "ui: key '%s' logged out", s->key_name);
    struct ocrq_json *o = ocrq_json_object();
    reply_json(req, 200, o, ocrq_json_set_bool(o, "logged_out", 1));
}

static void overview(struct api *api, struct ocrq_http_req *req)
{
    unsigned depth[4];
    char *json = NULL;

    for (int i = 0; i < 4; i++)
        depth[i] = __atomic_load_n(&api->depth[i], __ATOMIC_RELAXED);
    struct ocrq_db *db = api_db(api);
    int st = db ? ocrq_db_ui_overview(db, depth, &json) : OCRQ_ERR_DB;
    if (st != OCRQ_OK)
        api_db_unavailable(api, req, db);
    else
        reply_text(req, 200, json);
}

static void workers(struct api *api, struct ocrq_http_req *req)
{
    char *json = NULL;
    struct ocrq_db *db = api_db(api);
    int st = db ? ocrq_db_ui_workers(db, &json) : OCRQ_ERR_DB;

    if (st != OCRQ_OK)
        api_db_unavailable(api, req, db);
    else
        reply_text(req, 200, json);
}

/* A query parameter, NULL when absent or empty. */
static const char *param(struct ocrq_http_req *req, const char *name)
{
    const char *v = ocrq_http_query(req, name);
    return v && *v ? v : NULL;
}

/* A positive integer parameter, def when absent; -1 if bad or above max. */
static int int_param(struct ocrq_http_req *req, const char *name, int def, int max)
{
    const char *v = param(req, name);
    char *end;
    long n;

    if (!v)
        return def;
    n = strtol(v, &end, 10);
    return *end || n < 1 || n > max ? -1 : (int)n;
}

static void jobs(struct api *api, struct ocrq_http_req *req)
{
    static const char *const statuses[] = {"queued", "running", "succeeded", "failed", "canceled"};
    struct ocrq_db_ui_filter f = {
        .status = param(req, "status"),
        .batch = param(req, "batch"),
        .code = param(req, "code"),
        .since = param(req, "since"),
        .until = param(req, "until"),
        .page = int_param(req, "page", 1, 1000000),
        .per_page = int_param(req, "per_page", PER_PAGE_DEFAULT, PER_PAGE_MAX),
    };
    int known = !f.status;
    char *json = NULL;

    for (size_t i = 0; !known && i < sizeof statuses / sizeof statuses[0]; i++)
        known = strcmp(f.status, statuses[i]) == 0;
    if (!known) {
        api_error(req, 400, "invalid_parameter",
                  "status: queued, running, succeeded, failed or canceled");
        return;
    }
    if ((f.batch && !api_printable(f.batch, MAX_BATCH_CHARS)) ||
        (f.code && !api_printable(f.code, 64))) {
        api_error(req, 400, "invalid_parameter", "batch, code: printable text");
        return;
    }
    if ((f.since && !ocrq_timestamp_valid(f.since)) ||
        (f.until && !ocrq_timestamp_valid(f.until))) {
        api_error(req, 400, "invalid_parameter", "since, until: RFC 3339 timestamps");
        return;
    }
    if (f.page < 0 || f.per_page < 0) {
        api_error(req, 400, "invalid_parameter", "page: 1 or more; per_page: 1-%d", PER_PAGE_MAX);
        return;
    }
    struct ocrq_db *db = api_db(api);
    int st = db ? ocrq_db_ui_jobs(db, &f, &json) : OCRQ_ERR_DB;
    if (st != OCRQ_OK)
        api_db_unavailable(api, req, db);
    else
        reply_text(req, 200, json);
}

static void job(struct api *api, struct ocrq_http_req *req, const char *id)
{
    char *json = NULL;
    struct ocrq_db *db = api_db(api);
    int st = db ? ocrq_db_ui_job(db, id, &json) : OCRQ_ERR_DB;

    if (st == OCRQ_ERR_NOT_FOUND)
        api_error(req, 404, "not_found", "no job %.64s", id);
    else if (st != OCRQ_OK)
        api_db_unavailable(api, req, db);
    else
        reply_text(req, 200, json);
}

/* What ocrq_db_cancel() said about the job. */
struct cancel_seen {
    int found, canceled_now;
    char status[16];
};

static void cancel_seen(void *arg, const struct ocrq_db_cancel_info *c)
{
    struct cancel_seen *s = arg;
    s->found = 1;
    s->canceled_now = c->canceled_now;
    snprintf(s->status, sizeof s->status, "%s", c->status);
}

static void cancel(struct api *api, struct ocrq_http_req *req, const struct ui_session *s,
                   const char *id)
{
    struct cancel_seen seen = {0};
    struct ocrq_db *db = api_db(api);
    int st = db ? ocrq_db_cancel(db, id, NULL, cancel_seen, &seen) : OCRQ_ERR_DB;

    if (st != OCRQ_OK) {
        api_db_unavailable(api, req, db);
        return;
    }
    if (!seen.found) {
        api_error(req, 404, "not_found", "no job %.64s", id);
        return;
    }
    log_info(NULL, "ui: key '%s' canceled job %s: %s", s->key_name, id,
             seen.canceled_now ? "canceled" : seen.status);
    if (!seen.canceled_now) {
        api_error(req, 409, "not_cancelable", "the job is %s: only a queued job can be canceled",
                  seen.status);
        return;
    }
    struct ocrq_json *o = ocrq_json_object();
    reply_json(req, 200, o, ocrq_json_set_bool(o, "canceled", 1));
}

/* POST /ui/api/webhooks/{id}/retry: a delivery not delivered is due now, with the whole schedule.
 */
static void retry_webhook(struct api *api, struct ocrq_http_req *req, const struct ui_session *s,
                          long long id)
{
    long long n = 0;
    struct ocrq_db *db = api_db(api);
    int st = db ? ocrq_db_hooks_retry(db, id, &n) : OCRQ_ERR_DB;

    if (st != OCRQ_OK) {
        api_db_unavailable(api, req, db);
        return;
    }
    log_info(NULL, "ui: key '%s' retried webhook delivery %lld: %s", s->key_name, id,
             n ? "due now" : "nothing to retry");
    if (!n) {
        api_error(req, 409, "not_retryable", "no delivery %lld that is not delivered", id);
        return;
    }
    struct ocrq_json *o = ocrq_json_object();
    reply_json(req, 200, o, ocrq_json_set_bool(o, "retried", 1));
}

/* The positive number at the start of p, ended by "/retry"; 0 if it is not one. */
static long long retry_id(const char *p)
{
    char *end;
    long long id = strtoll(p, &end, 10);

    return p[0] >= '1' && p[0] <= '9' && strcmp(end, "/retry") == 0 && id > 0 ? id : 0;
}

/* 405 unless the method is want (HEAD goes with GET). */
static int method_is(struct ocrq_http_req *req, const char *want)
{
    const char *m = ocrq_http_method(req);

    if (strcmp(m, want) == 0 || (strcmp(want, "GET") == 0 && strcmp(m, "HEAD") == 0))
        return 1;
    ocrq_http_add_header(req, "Allow", strcmp(want, "GET") == 0 ? "GET, HEAD" : want);
    api_error(req, 405, "method_not_allowed", "%s is not allowed here: use %s", m, want);
    return 0;
}

/* /ui/api/...: path is what follows "/ui/api". */
static void api_calls(struct api *api, struct ocrq_http_req *req, const char *path)
{
    static const char jobs_prefix[] = "/jobs/";
    struct ui_session s;
    int post = strcmp(ocrq_http_method(req), "POST") == 0;

    if (need_session(api, req, &s) != 0 || (post && need_csrf(req, &s) != 0))
        return;
    if (strcmp(path, "/session") == 0) {
        if (method_is(req, "GET"))
            reply_session(req, s.key_name, s.csrf);
    } else if (strcmp(path, "/overview") == 0) {
        if (method_is(req, "GET"))
            overview(api, req);
    } else if (strcmp(path, "/workers") == 0) {
        if (method_is(req, "GET"))
            workers(api, req);
    } else if (strcmp(path, "/jobs") == 0) {
        if (method_is(req, "GET"))
            jobs(api, req);
    } else if (strncmp(path, jobs_prefix, sizeof jobs_prefix - 1) == 0) {
        char id[OCRQ_UUID_LEN + 1];
        const char *p = path + sizeof jobs_prefix - 1;
        size_t n = strcspn(p, "/");
        if (n >= sizeof id) {
            api_error(req, 404, "not_found", "no such job: a job id is a UUID");
            return;
        }
        memcpy(id, p, n);
        id[n] = '\0';
        if (!ocrq_uuid_valid(id)) {
            api_error(req, 404, "not_found", "no such job: a job id is a UUID");
            return;
        }
        if (p[n] == '\0') {
            if (method_is(req, "GET"))
                job(api, req, id);
        } else if (strcmp(p + n, "/cancel") == 0) {
            if (method_is(req, "POST"))
                cancel(api, req, &s, id);
        } else {
            api_error(req, 404, "not_found", "no such endpoint: see docs/dashboard.md");
        }
    } else if (strncmp(path, "/webhooks/", 10) == 0 && retry_id(path + 10) > 0) {
        if (method_is(req, "POST"))
            retry_webhook(api, req, &s, retry_id(path + 10));
    } else {
        api_error(req, 404, "not_found", "no such endpoint: see docs/dashboard.md");
    }
}

/* One of the embedded files, by name. */
static void asset(struct ocrq_http_req *req, const char *name)
{
    for (size_t i = 0; i < api_ui_n_assets; i++) {
        const struct api_ui_asset *a = &api_ui_assets[i];
        if (strcmp(a->name, name) != 0)
            continue;
        char *b = malloc(a->len ? a->len : 1);
        if (!b) {
            api_error(req, 500, "internal", "out of memory");
            return;
        }
        memcpy(b, a->data, a->len);
        ocrq_http_add_header(req, "Cache-Control", "no-cache");
        ocrq_http_reply(req, 200, a->type, b, a->len);
        return;
    }
    api_error(req, 404, "not_found", "no such file under /ui/");
}

void api_ui(struct api *api, struct ocrq_http_req *req, struct api_req *ar)
{
    const char *path = ocrq_http_path(req) + 3; /* after "/ui" */
    (void)ar;

    ocrq_http_add_header(req, "Content-Security-Policy", csp);
    ocrq_http_add_header(req, "X-Content-Type-Options", "nosniff");
    ocrq_http_add_header(req, "Referrer-Policy", "no-referrer");
    ocrq_http_add_header(req, "X-Frame-Options", "DENY");
    if (strncmp(path, "/api/", 5) == 0) {
        api_calls(api, req, path + 4);
    } else if (strcmp(path, "/login") == 0) {
        if (method_is(req, "POST"))
            login(api, req);
    } else if (strcmp(path, "/logout") == 0) {
        struct ui_session s;
        if (method_is(req, "POST") && need_session(api, req, &s) == 0 && need_csrf(req, &s) == 0)
            logout(req, &s);
    } else if (strcmp(path, "") == 0) {
        ocrq_http_add_header(req, "Location", "/ui/");
        api_error(req, 308, "moved", "the dashboard is at /ui/");
    } else if (method_is(req, "GET")) {
        asset(req, strcmp(path, "/") == 0 ? "index.html" : path + 1);
    }
}
