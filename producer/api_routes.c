/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * ocrq-api's routes: matching, authentication and early refusals once the
 * headers are in (before any body is read), then the handlers: POST
 * /v1/jobs goes to the pipeline, the reads are answered here from the pool
 * thread's own database connection. One table (routes[]) says what each
 * route allows and which handler answers it. Every error is
 * {"error": {"code": ..., "message": ...}}.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "api_ui.h"
#include "ocrq/clock.h"
#include "ocrq/config.h"
#include "ocrq/db.h"
#include "ocrq/db_api.h"
#include "ocrq/http.h"
#include "ocrq/formats.h"
#include "ocrq/job.h"
#include "ocrq/json.h"
#include "ocrq/log.h"
#include "ocrq/prom.h"
#include "ocrq/status.h"
#include "ocrq/utf8.h"
#include "ocrq/uuid.h"

#define ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_RELAXED)
#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define JSON_TYPE "application/json"

const int api_codes[API_CODES - 1] = {200, 202, 400, 401, 404, 405, 409,
                                      413, 415, 422, 429, 500, 503, 0};
const double api_hist_bounds_s[API_HIST_BOUNDS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                   0.1,   0.25,   0.5,   1,    2.5,   10};

/* A route's handler: the request is complete (body included); answer it. */
typedef void route_fn(struct api *api, struct ocrq_http_req *req, struct api_req *ar);

static route_fn post_job, get_job, cancel_job, get_text, get_batch, healthz, readyz, metrics;

/* What the {id} in a route's path must be before its handler runs. */
enum route_id {
    ID_NONE,
    ID_JOB,   /* a UUID, else 404 (no job has another id) */
    ID_BATCH, /* 1-MAX_BATCH_CHARS printable characters, else 400 */
};

/*
 * Every route, by enum api_route (match() finds it from the path): its name
 * in the metrics, the methods it answers (as its Allow header lists them;
 * another gets 405), whether it answers without an API key, what its {id}
 * must be, and its handlers. A submit route is refused while the broker is
 * down, and may stream a document in (api_upload.c).
 */
static const struct route {
    const char *name;
    const char *allow;
    int open;   /* answered without an API key */
    int submit; /* POST /v1/jobs */
    enum route_id id;
    route_fn *answer; /* GET and HEAD, or POST */
    route_fn *remove; /* DELETE; NULL: not allowed */
} routes[API_ROUTES] = {
    [API_R_JOBS_POST] = {"post_jobs", "POST", 0, 1, ID_NONE, post_job, NULL},
    [API_R_JOB_GET] = {"job", "GET, HEAD, DELETE", 0, 0, ID_JOB, get_job, cancel_job},
    [API_R_JOB_TEXT] = {"get_job_text", "GET, HEAD", 0, 0, ID_JOB, get_text, NULL},
    [API_R_BATCH_GET] = {"get_batch", "GET, HEAD", 0, 0, ID_BATCH, get_batch, NULL},
    [API_R_JOB_ARTIFACT] = {"get_job_artifact", "GET, HEAD", 0, 0, ID_JOB, api_get_artifact, NULL},
    [API_R_HEALTHZ] = {"healthz", "GET, HEAD", 1, 0, ID_NONE, healthz, NULL},
    [API_R_READYZ] = {"readyz", "GET, HEAD", 1, 0, ID_NONE, readyz, NULL},
    [API_R_METRICS] = {"metrics", "GET, HEAD", 1, 0, ID_NONE, metrics, NULL},
    [API_R_UI] = {"ui", "GET, HEAD, POST", 1, 0, ID_NONE, api_ui, NULL}, /* its own login */
    [API_R_OTHER] = {"other", NULL, 0, 0, ID_NONE, NULL, NULL},
};

/* ---- replies -------------------------------------------------------------- */

static void reply(struct ocrq_http_req *req, int status, const char *type, char *body, size_t len)
{
    struct api_req *ar = ocrq_http_user(req);
    if (ar && !ar->status)
        ar->status = status;
    ocrq_http_reply(req, status, type, body, len);
}

static void reply_owned(struct ocrq_http_req *req, int status, const char *type, char *s);

/* Answer the object o (taken) as JSON; bad: an add to o failed (out of memory). */
static void reply_json(struct ocrq_http_req *req, int status, struct ocrq_json *o, int bad)
{
    char *s = bad ? NULL : ocrq_json_dump(o, 0);
    ocrq_json_free(o);
    if (!s) {
        static const char oom[] =
            "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
        char *b = strdup(oom);
        reply(req, 500, JSON_TYPE, b, b ? strlen(b) : 0);
        return;
    }
    reply_owned(req, status, JSON_TYPE, s);
}

static void verror(struct ocrq_http_req *req, int status, int retry_after, const char *code,
                   const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;
    vsnprintf(msg, sizeof msg, fmt, ap);
    /* a name cut at %.64s (or one the client sent) may end inside a character: JSON wants UTF-8 */
    for (n = strlen(msg); n > 0 && !ocrq_utf8_valid(msg);)
        msg[--n] = '\0';
    if (retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", retry_after);
        ocrq_http_add_header(req, "Retry-After", ra);
    }
    struct ocrq_json *o = ocrq_json_object(), *e = ocrq_json_object();
    int bad = ocrq_json_set_str(e, "code", code);
    bad |= ocrq_json_set_str(e, "message", msg);
    bad |= ocrq_json_set(o, "error", e);
    reply_json(req, status, o, bad);
}

void api_error(struct ocrq_http_req *req, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(req, status, 0, code, fmt, ap);
    va_end(ap);
}

void api_error_retry(struct ocrq_http_req *req, int status, int retry_after, const char *code,
                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(req, status, retry_after, code, fmt, ap);
    va_end(ap);
}

void api_accepted(struct ocrq_http_req *req, const char *job_id, const char *status, int replayed)
{
    char self[64], text[80];
    snprintf(self, sizeof self, "/v1/jobs/%s", job_id);
    snprintf(text, sizeof text, "/v1/jobs/%s/text", job_id);
    ocrq_http_add_header(req, "Location", self);
    if (replayed)
        ocrq_http_add_header(req, "Idempotent-Replayed", "true");
    struct ocrq_json *o = ocrq_json_object(), *links = ocrq_json_object();
    int bad = ocrq_json_set_str(o, "job_id", job_id);
    bad |= ocrq_json_set_str(o, "status", status);
    bad |= ocrq_json_set_str(links, "self", self);
    bad |= ocrq_json_set_str(links, "text", text);
    bad |= ocrq_json_set(o, "links", links);
    reply_json(req, 202, o, bad);
}

/* Answer the malloc'd text s (taken) with a newline added. */
static void reply_owned(struct ocrq_http_req *req, int status, const char *type, char *s)
{
    size_t n = strlen(s);
    char *b = realloc(s, n + 2);
    if (!b) {
        free(s);
        api_error(req, 500, "internal", "out of memory");
        return;
    }
    b[n] = '\n';
    b[n + 1] = '\0';
    reply(req, status, type, b, n + 1);
}

/* ---- the database of this pool thread --------------------------------------- */

struct ocrq_db *api_db(struct api *api)
{
    struct ocrq_db *db = pthread_getspecific(api->db_key);
    if (db)
        return db;
    if (ocrq_db_connect(api->cfg, &db) != OCRQ_OK)
        return NULL;
    pthread_setspecific(api->db_key, db);
    return db;
}

/* After an error: drop a broken connection, so the next request makes a new one. */
static void db_check(struct api *api, struct ocrq_db *db)
{
    if (db && !ocrq_db_alive(db)) {
        pthread_setspecific(api->db_key, NULL);
        ocrq_db_free(db);
    }
}

struct ocrq_db *api_db_again(struct api *api, struct ocrq_db *db)
{
    if (!db || ocrq_db_alive(db))
        return NULL;
    db_check(api, db);
    return api_db(api);
}

void api_db_unavailable(struct api *api, struct ocrq_http_req *req, struct ocrq_db *db)
{
    db_check(api, db);
    api_error_retry(req, 503, api->cfg->api_retry_after_s, "database_unavailable",
                    "the database is unavailable");
}

/* ---- routing ---------------------------------------------------------------- */

/* "/text" or "/artifacts/{format}" after a job id into ar->route (and ar->format). */
static int match_job_sub(const char *sub, struct api_req *ar)
{
    static const char arts[] = "/artifacts/";

    if (strcmp(sub, "/text") == 0) {
        ar->route = API_R_JOB_TEXT;
        return 1;
    }
    if (strncmp(sub, arts, sizeof arts - 1) != 0)
        return 0;
    ar->format = ocrq_format_from_name(sub + sizeof arts - 1);
    /* the text is an artifact too: /artifacts/txt is /text */
    ar->route = ar->format == OCRQ_FMT_TXT ? API_R_JOB_TEXT : API_R_JOB_ARTIFACT;
    return ar->format != 0;
}

/* Match path into ar->route and ar->id. */
static int match(const char *path, struct api_req *ar)
{
    static const char jobs[] = "/v1/jobs", batches[] = "/v1/batches/";

    if (strcmp(path, "/healthz") == 0)
        ar->route = API_R_HEALTHZ;
    else if (strcmp(path, "/readyz") == 0)
        ar->route = API_R_READYZ;
    else if (strcmp(path, "/metrics") == 0)
        ar->route = API_R_METRICS;
    else if (strcmp(path, jobs) == 0)
        ar->route = API_R_JOBS_POST;
    else if (strcmp(path, "/ui") == 0 || strncmp(path, "/ui/", 4) == 0)
        ar->route = API_R_UI;
    else if (strncmp(path, jobs, sizeof jobs - 1) == 0 && path[sizeof jobs - 1] == '/') {
        const char *id = path + sizeof jobs;
        const char *slash = strchr(id, '/');
        size_t n = slash ? (size_t)(slash - id) : strlen(id);
        if (n == 0 || n >= sizeof ar->id || (slash && !match_job_sub(slash, ar)))
            return 0;
        memcpy(ar->id, id, n);
        ar->id[n] = '\0';
        if (!slash)
            ar->route = API_R_JOB_GET;
    } else if (strncmp(path, batches, sizeof batches - 1) == 0) {
        const char *b = path + sizeof batches - 1;
        size_t n = strlen(b);
        if (n == 0 || n >= sizeof ar->id)
            return 0;
        memcpy(ar->id, b, n + 1);
        ar->route = API_R_BATCH_GET;
    } else {
        return 0;
    }
    return 1;
}

/* 1 if method is one of the comma-separated methods in allow. */
static int method_in(const char *allow, const char *method)
{
    size_t n = strlen(method);

    for (const char *p = allow; *p; p += strspn(p, ", ")) {
        size_t len = strcspn(p, ", ");
        if (len == n && strncmp(p, method, n) == 0)
            return 1;
        p += len;
    }
    return 0;
}

void api_on_headers(void *arg, struct ocrq_http_req *req)
{
    struct api *api = arg;
    struct api_req *ar = calloc(1, sizeof *ar);
    const char *method = ocrq_http_method(req);

    if (!ar) {
        ocrq_http_reply(req, 500, "text/plain", NULL, 0);
        return;
    }
    ar->start_us = ocrq_now_us();
    ar->route = API_R_OTHER;
    ocrq_http_set_user(req, ar);
    if (!match(ocrq_http_path(req), ar)) {
        ar->route = API_R_OTHER;
        api_error(req, 404, "not_found", "no such endpoint: see docs/api.md");
        return;
    }
    const struct route *rt = &routes[ar->route];
    if (!method_in(rt->allow, method)) {
        ocrq_http_add_header(req, "Allow", rt->allow);
        api_error(req, 405, "method_not_allowed", "%s is not allowed here: use %s", method,
                  rt->allow);
        return;
    }
    if (rt->open)
        return; /* no key needed */
    if (api_authenticate(api, req, ocrq_http_header(req, "Authorization"), ar->key_name,
                         sizeof ar->key_name, ar->key_role) != 0)
        return;
    if (rt->submit && !__atomic_load_n(&api->broker_up, __ATOMIC_ACQUIRE)) {
        api_error_retry(req, 503, api->cfg->api_retry_after_s, "broker_unavailable",
                        "the message broker is unavailable");
        return;
    }
    /* a document: streamed as it comes, up to api.max_upload_bytes (api_upload.c) */
    const char *ctype = ocrq_http_header(req, "Content-Type");
    if (rt->submit && api_upload_is(ctype))
        api_upload_begin(api, req, ctype, &ar->up);
}

int api_on_body(void *arg, struct ocrq_http_req *req, const unsigned char *data, size_t len)
{
    struct api_req *ar = ocrq_http_user(req);
    (void)arg;

    if (!ar || !ar->up) {
        api_error(req, 500, "internal", "a body nobody takes");
        return OCRQ_ERR_INVALID;
    }
    return api_upload_feed(ar->up, req, data, len);
}

/* ---- handlers ---------------------------------------------------------------- */

static void post_job(struct api *api, struct ocrq_http_req *req, struct api_req *ar)
{
    struct api_job *j = NULL;

    if (ar->up && api_upload_finish(ar->up, req) != OCRQ_OK)
        return;
    if (api_parse_job(api, req, ar->key_name, ar->up, &j) != OCRQ_OK)
        return;
    int prio = j->job->priority >= api->cfg->priority_threshold;
    unsigned depth = __atomic_load_n(&api->depth[prio], __ATOMIC_RELAXED);
    if (api->cfg->api_max_queue_depth > 0 && depth >= (unsigned)api->cfg->api_max_queue_depth) {
        api_error_retry(req, 503, api->cfg->api_retry_after_s, "queue_full",
                        "the job queue holds %u jobs (limit %d): try again later", depth,
                        api->cfg->api_max_queue_depth);
        api_job_free(j);
        return;
    }
    ocrq_http_suspend(req);
    api_pipeline_submit(api->pipe, j);
}

static void get_job(struct api *api, struct ocrq_http_req *req, struct api_req *ar)
{
    const char *include = ocrq_http_query(req, "include");
    int with_text = 0;
    char *json = NULL;

    if (include && *include) {
        if (strcmp(include, "text") != 0) {
            api_error(req, 400, "invalid_parameter", "include: the only value is \"text\"");
            return;
        }
        with_text = 1;
    }
    struct ocrq_db *db = api_db(api);
    int st = db ? ocrq_db_api_job(db, ar->id, ar->key_name, with_text, &json) : OCRQ_ERR_DB;
    if (st == OCRQ_ERR_NOT_FOUND)
        api_error(req, 404, "not_found", "no job %.64s for this key", ar->id);
    else if (st != OCRQ_OK)
        api_db_unavailable(api, req, db);
    else
        reply_owned(req, 200, JSON_TYPE, json);
}

static void get_text(struct api *api, struct ocrq_http_req *req, struct api_req *ar)
{
    char status[16], *text = NULL;
    size_t len = 0;
    struct ocrq_db *db = api_db(api);
    int st = db ? ocrq_db_api_text(db, ar->id, ar->key_name, status, &text, &len) : OCRQ_ERR_DB;

    if (st == OCRQ_ERR_NOT_FOUND)
        api_error(req, 404, "not_found", "no job %.64s for this key", ar->id);
    else if (st != OCRQ_OK)
        api_db_unavailable(api, req, db);
    else if (strcmp(status, "succeeded") != 0 || !text)
        api_error(req, 409,
                  strcmp(status, "failed") == 0     ? "job_failed"
                  : strcmp(status, "canceled") == 0 ? "job_canceled"
                                                    : "not_ready",
                  "the job is %s: text is there once it has succeeded", status);
    else {
        reply(req, 200, "text/plain; charset=utf-8", text, len);
        text = NULL;
    }
    free(text);
}

/* DELETE /v1/jobs/{id}: cancel a job still queued; a worker that receives it acks it unrun. */
static void cancel_job(struct api *api, struct ocrq_http_req *req, struct api_req *ar)
{
    char status[16];
    int now = 0;
    struct ocrq_db *db = api_db(api);
    int st = db ? ocrq_db_api_cancel(db, ar->id, ar->key_name, status, &now) : OCRQ_ERR_DB;

    if (st == OCRQ_ERR_NOT_FOUND)
        api_error(req, 404, "not_found", "no job %.64s for this key", ar->id);
    else if (st != OCRQ_OK)
        api_db_unavailable(api, req, db);
    else if (strcmp(status, "canceled") != 0)
        api_error(req, 409, "not_cancelable", "the job is %s: only a queued job can be canceled",
                  status);
    else {
        struct ocrq_json *o = ocrq_json_object();
        int bad = ocrq_json_set_str(o, "job_id", ar->id);
        bad |= ocrq_json_set_str(o, "status", "canceled");
        bad |= ocrq_json_set_bool(o, "canceled_now", now);
        reply_json(req, 200, o, bad);
    }
}

static void get_batch(struct api *api, struct ocrq_http_req *req, struct api_req *ar)
{
    char *json = NULL;
    struct ocrq_db *db = api_db(api);
    int st = db ? ocrq_db_api_batch(db, ar->id, ar->key_name, &json) : OCRQ_ERR_DB;

    if (st == OCRQ_ERR_NOT_FOUND)
        api_error(req, 404, "not_found", "no jobs in batch %.64s for this key", ar->id);
    else if (st != OCRQ_OK)
        api_db_unavailable(api, req, db);
    else
        reply_owned(req, 200, JSON_TYPE, json);
}

static void healthz(struct api *api, struct ocrq_http_req *req, struct api_req *ar)
{
    (void)api, (void)ar;
    struct ocrq_json *o = ocrq_json_object();
    reply_json(req, 200, o, ocrq_json_set_str(o, "status", "ok"));
}

static void readyz(struct api *api, struct ocrq_http_req *req, struct api_req *ar)
{
    (void)ar;
    int broker = __atomic_load_n(&api->broker_up, __ATOMIC_ACQUIRE);
    struct ocrq_db *db = api_db(api);
    int database = db && ocrq_db_ping(db) == OCRQ_OK;

    if (!database)
        db_check(api, db);
    struct ocrq_json *o = ocrq_json_object();
    int bad = ocrq_json_set_str(o, "status", broker && database ? "ready" : "not_ready");
    bad |= ocrq_json_set_str(o, "broker", broker ? "up" : "down");
    bad |= ocrq_json_set_str(o, "database", database ? "up" : "down");
    reply_json(req, broker && database ? 200 : 503, o, bad);
}

static void metrics(struct api *api, struct ocrq_http_req *req, struct api_req *ar)
{
    (void)ar;
    struct ocrq_prom p;
    struct api_stats *s = &api->stats;
    char *text = NULL;
    size_t len = 0;

    ocrq_prom_init(&p);
    ocrq_prom_family(&p, "ocrq_api_requests_total", OCRQ_PROM_COUNTER,
                     "HTTP requests answered, by route and status code.");
    for (int r = 0; r < API_ROUTES; r++) {
        for (int c = 0; c < API_CODES; c++) {
            uint64_t v = LOAD(&s->requests[r][c]);
            char code[16];
            if (!v)
                continue;
            if (c < API_CODES - 1 && api_codes[c])
                snprintf(code, sizeof code, "%d", api_codes[c]);
            else
                snprintf(code, sizeof code, "other");
            struct ocrq_prom_label l[2] = {{"route", routes[r].name}, {"code", code}};
            ocrq_prom_uint(&p, l, 2, v);
        }
    }
    uint64_t buckets[API_HIST_BOUNDS + 1];
    for (int i = 0; i <= API_HIST_BOUNDS; i++)
        buckets[i] = LOAD(&s->post_hist[i]);
    struct ocrq_prom_hist h = {.bounds = api_hist_bounds_s,
                               .n_bounds = API_HIST_BOUNDS,
                               .buckets = buckets,
                               .sum = (double)LOAD(&s->post_sum_us) / 1e6};
    ocrq_prom_family(
        &p, "ocrq_api_post_duration_seconds", OCRQ_PROM_HISTOGRAM,
        "Every answer to POST /v1/jobs, from its headers to its answer (a 202 comes after"
        " the confirm; refusals count too).");
    ocrq_prom_histogram(&p, NULL, 0, &h);
    ocrq_prom_family(&p, "ocrq_api_jobs_accepted_total", OCRQ_PROM_COUNTER,
                     "New jobs recorded and confirmed by the broker (answered 202).");
    ocrq_prom_uint(&p, NULL, 0, LOAD(&s->accepted));
    ocrq_prom_family(&p, "ocrq_api_jobs_replayed_total", OCRQ_PROM_COUNTER,
                     "Repeated Idempotency-Keys answered with the original job.");
    ocrq_prom_uint(&p, NULL, 0, LOAD(&s->replayed));
    ocrq_prom_family(&p, "ocrq_api_publish_nacked_total", OCRQ_PROM_COUNTER,
                     "Publishes the broker refused (a full queue with overflow reject-publish).");
    ocrq_prom_uint(&p, NULL, 0, LOAD(&s->nacked));
    ocrq_prom_family(&p, "ocrq_api_batches_total", OCRQ_PROM_COUNTER,
                     "Pipeline rounds: one INSERT and one confirm wait each.");
    ocrq_prom_uint(&p, NULL, 0, LOAD(&s->batches));
    ocrq_prom_family(&p, "ocrq_api_batched_jobs_total", OCRQ_PROM_COUNTER,
                     "Jobs in those rounds (divided by the rounds: the mean batch).");
    ocrq_prom_uint(&p, NULL, 0, LOAD(&s->batched_jobs));
    ocrq_prom_family(&p, "ocrq_api_broker_reconnects_total", OCRQ_PROM_COUNTER,
                     "Broker connections made after the first.");
    ocrq_prom_uint(&p, NULL, 0, LOAD(&s->reconnects));
    ocrq_prom_family(&p, "ocrq_api_broker_up", OCRQ_PROM_GAUGE,
                     "1 while the pipeline's broker connection is up.");
    ocrq_prom_uint(&p, NULL, 0, (uint64_t)__atomic_load_n(&api->broker_up, __ATOMIC_RELAXED));
    ocrq_prom_family(&p, "ocrq_api_queue_ready", OCRQ_PROM_GAUGE,
                     "Ready jobs per job queue, as last seen by the pipeline.");
    struct ocrq_prom_label q0 = {"queue", api->cfg->queue_jobs};
    struct ocrq_prom_label q1 = {"queue", api->cfg->queue_priority};
    ocrq_prom_uint(&p, &q0, 1, LOAD(&api->depth[0]));
    ocrq_prom_uint(&p, &q1, 1, LOAD(&api->depth[1]));
    ocrq_prom_family(&p, "ocrq_api_requests_in_progress", OCRQ_PROM_GAUGE,
                     "Requests begun and not yet answered.");
    ocrq_prom_uint(&p, NULL, 0, ocrq_http_active(api->http));
    if (ocrq_prom_finish(&p, &text, &len) != OCRQ_OK) {
        api_error(req, 500, "internal", "cannot build the metrics");
        return;
    }
    reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

void api_on_request(void *arg, struct ocrq_http_req *req)
{
    struct api *api = arg;
    struct api_req *ar = ocrq_http_user(req);
    const struct route *rt = &routes[ar ? ar->route : API_R_OTHER];

    if (rt->id == ID_JOB && !ocrq_uuid_valid(ar->id)) {
        /* no job has such an id: no query (its ::uuid cast would fail), nothing logged */
        api_error(req, 404, "not_found", "no such job: a job id is a UUID");
        return;
    }
    if (rt->id == ID_BATCH && !api_printable(ar->id, MAX_BATCH_CHARS)) {
        api_error(req, 400, "invalid_parameter", "batch: 1-%d printable characters",
                  MAX_BATCH_CHARS);
        return;
    }
    route_fn *fn =
        rt->remove && strcmp(ocrq_http_method(req), "DELETE") == 0 ? rt->remove : rt->answer;
    if (fn)
        fn(api, req, ar);
    else
        api_error(req, 404, "not_found", "no such endpoint");
}

void api_on_done(void *arg, struct ocrq_http_req *req)
{
    struct api *api = arg;
    struct api_req *ar = ocrq_http_user(req);
    int c = 0;

    if (!ar)
        return;
    api_upload_end(ar->up, ocrq_http_aborted(req));
    ar->up = NULL;
    if (!ar->status) /* answered by the server itself (413) */
        ar->status = ocrq_http_status(req);
    while (c < API_CODES - 1 && api_codes[c] && api_codes[c] != ar->status)
        c++;
    if (c < API_CODES - 1 && !api_codes[c])
        c = API_CODES - 1;
    ADD(&api->stats.requests[ar->route][c], 1);
    if (ar->route == API_R_JOBS_POST) {
        int64_t us = ocrq_now_us() - ar->start_us;
        int b = 0;
        while (b < API_HIST_BOUNDS && (double)us / 1e6 > api_hist_bounds_s[b])
            b++;
        ADD(&api->stats.post_hist[b], 1);
        ADD(&api->stats.post_sum_us, (uint64_t)(us > 0 ? us : 0));
    }
    free(ar);
    ocrq_http_set_user(req, NULL);
}
