/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The webhook dispatcher of webhooks.h. One thread: a curl multi handle for
 * the deliveries in flight, the database connection for claims, outcomes and
 * LISTEN ocrq_webhooks (its socket is polled together with curl's, so a new
 * event is sent at once even while others are in flight). Through a
 * transaction pool (PgBouncer) LISTEN cannot work: the dispatcher then
 * polls for new events every POOLED_POLL_MS instead.
 */
#include "webhooks.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "ocrq/clock.h"
#include "ocrq/config.h"
#include "ocrq/db.h"
#include "ocrq/db_hooks.h"
#include "ocrq/log.h"
#include "ocrq/netguard.h"
#include "ocrq/sign.h"
#include "ocrq/status.h"
#include "ocrq/url.h"
#include "webhook_schedule.h"

#define IDLE_POLL_MS 1000  /* due retries are found at least this often */
#define POOLED_POLL_MS 200 /* without LISTEN (a transaction pool), new events this often */
#define LEASE_EXTRA_S 30   /* a claim outlives an attempt's time limit by this much */
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000

struct flight {
    struct ocrq_db_hook hook;
    CURL *easy;
    struct curl_slist *headers;
    struct ocrq_netguard_result guard;
    size_t got;      /* response bytes seen (read up to the cap, then dropped) */
    double started;  /* wall clock, seconds */
    long long t0_ms; /* monotonic */
    int in_use;
};

struct dispatcher {
    const struct ocrq_config *cfg;
    const char *name;
    struct ocrq_db *db;
    CURLM *multi;
    struct ocrq_netguard guard;
    struct ocrq_secret keys[OCRQ_SIGN_MAX_KEYS];
    int n_keys;
    struct flight *flights;
    int n_flights; /* webhooks.concurrency slots */
    int in_flight;
    int poll_ms;           /* IDLE_POLL_MS, or POOLED_POLL_MS without LISTEN */
    int64_t claimed_at_ms; /* the last claim */
    char user_agent[64];
};

static double wall_s(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

/* The response is read up to webhooks.max_response_bytes and not kept. */
static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct flight *f = arg;
    (void)p;
    f->got += size * n;
    return size * n;
}

/*
 * The secrets that sign f's event into keys: the submitting API key's own
 * (and its previous one while a rotation's overlap lasts), else the global
 * webhooks.secrets. Returns how many (0: unsigned). A key's secret that does
 * not parse signs nothing rather than falling back on the shared ones.
 */
static int signing_keys(const struct dispatcher *d, const struct flight *f,
                        struct ocrq_secret *keys)
{
    const char *own[2] = {f->hook.secret, f->hook.secret_prev}, *why = NULL;
    int n = 0;

    if (!f->hook.secret) {
        memcpy(keys, d->keys, sizeof(*keys) * (size_t)d->n_keys);
        return d->n_keys;
    }
    for (int i = 0; i < 2; i++) {
        if (!own[i])
            continue;
        if (ocrq_sign_parse_secret(own[i], &keys[n], &why) == OCRQ_OK)
            n++;
        else
            log_warn(NULL,
                     "webhook %s: the API key's secret does not parse (%s): not signed with"
                     " it",
                     f->hook.event_id, why ? why : "?");
    }
    return n;
}

/* Start POSTing f->hook; 0 on success (it is now in the multi handle). */
static int start_flight(struct dispatcher *d, struct flight *f)
{
    char hdr[OCRQ_SIGNATURE_MAX(OCRQ_SIGN_MAX_KEYS) + 64],
        sig[OCRQ_SIGNATURE_MAX(OCRQ_SIGN_MAX_KEYS)];
    long long ts = (long long)time(NULL);
    const struct ocrq_config *cfg = d->cfg;

    f->easy = curl_easy_init();
    if (f->easy == NULL)
        return -1;
    f->headers = curl_slist_append(NULL, "Content-Type: application/json");
    snprintf(hdr, sizeof(hdr), "webhook-id: %s", f->hook.event_id);
    f->headers = curl_slist_append(f->headers, hdr);
    snprintf(hdr, sizeof(hdr), "webhook-timestamp: %lld", ts);
    f->headers = curl_slist_append(f->headers, hdr);
    struct ocrq_secret keys[OCRQ_SIGN_MAX_KEYS];
    int n_keys = signing_keys(d, f, keys);
    if (n_keys > 0 && ocrq_sign(keys, n_keys, f->hook.event_id, ts, f->hook.body,
                                strlen(f->hook.body), sig, sizeof(sig)) == OCRQ_OK) {
        snprintf(hdr, sizeof(hdr), "webhook-signature: %s", sig);
        f->headers = curl_slist_append(f->headers, hdr);
    }
    f->headers = curl_slist_append(f->headers, "Expect:"); /* no 100-continue round trip */
    if (f->headers == NULL)
        return -1;
    curl_easy_setopt(f->easy, CURLOPT_URL, f->hook.url);
    curl_easy_setopt(f->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(f->easy, CURLOPT_POSTFIELDS, f->hook.body);
    curl_easy_setopt(f->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(f->hook.body));
    curl_easy_setopt(f->easy, CURLOPT_HTTPHEADER, f->headers);
    curl_easy_setopt(f->easy, CURLOPT_USERAGENT, d->user_agent);
    curl_easy_setopt(f->easy, CURLOPT_CONNECTTIMEOUT, (long)cfg->webhook_connect_timeout_s);
    curl_easy_setopt(f->easy, CURLOPT_TIMEOUT, (long)cfg->webhook_timeout_s);
    curl_easy_setopt(f->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(f->easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(f->easy, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(f->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(f->easy, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(f->easy, CURLOPT_MAXFILESIZE_LARGE,
                     (curl_off_t)cfg->webhook_max_response_bytes);
    curl_easy_setopt(f->easy, CURLOPT_PRIVATE, (char *)(void *)f);
    /* http(s) only, no redirects (a 3xx is a failed attempt), no proxy, SSRF guard */
    if (ocrq_netguard_curl_apply(f->easy, &d->guard, &f->guard) != OCRQ_OK)
        return -1;
    f->got = 0;
    f->started = wall_s();
    f->t0_ms = ocrq_now_ms();
    if (curl_multi_add_handle(d->multi, f->easy) != CURLM_OK)
        return -1;
    f->in_use = 1;
    d->in_flight++;
    return 0;
}

static void end_flight(struct dispatcher *d, struct flight *f)
{
    if (f->easy != NULL) {
        curl_multi_remove_handle(d->multi, f->easy);
        curl_easy_cleanup(f->easy);
    }
    curl_slist_free_all(f->headers);
    free(f->hook.url);
    free(f->hook.body);
    memset(f, 0, sizeof(*f));
    d->in_flight--;
}

/* Turn a finished transfer into an outcome and record it. */
static void finish(struct dispatcher *d, struct flight *f, CURLcode rc)
{
    struct ocrq_db_hook_outcome o = {.started_at = f->started};
    const struct ocrq_config *cfg = d->cfg;
    long http = 0;
    curl_off_t retry_after = 0;
    char err[300], shown[512];
    int permanent = 0;

    curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &http);
    curl_easy_getinfo(f->easy, CURLINFO_RETRY_AFTER, &retry_after);
    o.duration_ms = (int)(ocrq_now_ms() - f->t0_ms);
    o.http_status = (int)http;
    if (rc == CURLE_FILESIZE_EXCEEDED && http >= 200 && http < 300)
        rc = CURLE_OK; /* a long answer is fine: it is not read */
    if (rc == CURLE_OK && http >= 200 && http < 300) {
        o.status = "delivered";
    } else {
        if (f->guard.refused > 0) {
            /* the address it resolved to stays in the log; the receiver's owner reads err */
            log_warn(NULL, "webhook %s: refused by the SSRF guard: %s", f->hook.event_id,
                     f->guard.why);
            snprintf(err, sizeof(err),
                     "refused by the SSRF guard: the URL's host resolves to an"
                     " address that is not allowed");
            permanent = 1; /* the same address would be refused on every retry */
        } else if (rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT) {
            snprintf(err, sizeof(err), "%s (only http and https URLs)", curl_easy_strerror(rc));
            permanent = 1; /* the URL itself is wrong: no retry can help */
        } else if (rc != CURLE_OK) {
            snprintf(err, sizeof(err), "%s", curl_easy_strerror(rc));
        } else {
            snprintf(err, sizeof(err), "HTTP %ld", http);
        }
        o.error = err;
        if (permanent || f->hook.round_attempt > cfg->n_webhook_retry_s) {
            o.status = "failed";
        } else {
            o.status = "pending";
            o.retry_in_s =
                ocrq_webhook_retry_in_s(cfg, f->hook.round_attempt, (long long)retry_after);
        }
    }
    ocrq_url_redact(f->hook.url, shown, sizeof(shown), OCRQ_URL_SECRETS);
    if (strcmp(o.status, "delivered") == 0)
        log_info(NULL, "webhook %s delivered to %s (attempt %d, HTTP %ld, %d ms)", f->hook.event_id,
                 shown, f->hook.attempt, http, o.duration_ms);
    else
        log_warn(NULL, "webhook %s to %s: attempt %d: %s; %s", f->hook.event_id, shown,
                 f->hook.attempt, err,
                 strcmp(o.status, "failed") == 0 ? "giving up (ocrq-admin webhooks retry)"
                                                 : "will retry");
    if (ocrq_db_hook_done(d->db, &f->hook, &o) != OCRQ_OK)
        log_warn(NULL,
                 "webhook %s: could not record the attempt; the claim runs out and it is "
                 "sent again",
                 f->hook.event_id);
    end_flight(d, f);
}

static void collect(struct dispatcher *d)
{
    CURLMsg *m;
    int left, running;

    curl_multi_perform(d->multi, &running);
    while ((m = curl_multi_info_read(d->multi, &left)) != NULL) {
        char *priv = NULL;
        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        if (priv != NULL)
            finish(d, (struct flight *)(void *)priv, m->data.result);
    }
}

/* Claim as many due deliveries as there are free slots and start them. */
static int claim(struct dispatcher *d)
{
    struct ocrq_db_hook *hooks = NULL;
    int n = 0, free_slots = d->n_flights - d->in_flight, started = 0;

    if (free_slots <= 0)
        return 0;
    if (ocrq_db_hooks_claim(d->db, d->cfg->webhook_timeout_s + LEASE_EXTRA_S, free_slots, &hooks,
                            &n) != OCRQ_OK)
        return -1;
    for (int i = 0, slot = 0; i < n; i++) {
        while (d->flights[slot].in_use)
            slot++;
        struct flight *f = &d->flights[slot];
        f->hook = hooks[i];
        hooks[i].url = hooks[i].body = NULL; /* owned by the flight now */
        if (start_flight(d, f) != 0) {
            log_error(NULL,
                      "webhook %s: cannot start the request; retried when the claim runs "
                      "out",
                      f->hook.event_id);
            d->in_flight++; /* end_flight counts it down */
            end_flight(d, f);
            continue;
        }
        started++;
    }
    ocrq_db_hooks_free(hooks, n);
    return started;
}

static int setup(struct dispatcher *d)
{
    const struct ocrq_config *cfg = d->cfg;
    char why[256];
    const char *reason;

    if (ocrq_netguard_init(&d->guard, (const char *const *)cfg->url_allowlist, cfg->n_url_allowlist,
                           why, sizeof(why)) != OCRQ_OK) {
        log_error(NULL, "webhooks: security.url_allowlist: %s", why);
        return OCRQ_ERR_CONFIG;
    }
    for (int i = 0; i < cfg->n_webhook_secrets && d->n_keys < OCRQ_SIGN_MAX_KEYS; i++) {
        if (ocrq_sign_parse_secret(cfg->webhook_secrets[i], &d->keys[d->n_keys], &reason) !=
            OCRQ_OK) {
            log_error(NULL, "webhooks: secret %d: %s", i + 1, reason);
            return OCRQ_ERR_CONFIG;
        }
        d->n_keys++;
    }
    if (d->n_keys == 0)
        log_warn(NULL, "webhooks: no secret (webhooks.secrets, OCRQ_WEBHOOK_SECRETS): events are "
                       "sent without webhook-signature");
    d->n_flights = cfg->webhook_concurrency;
    d->flights = calloc((size_t)d->n_flights, sizeof(*d->flights));
    d->multi = curl_multi_init();
    if (d->flights == NULL || d->multi == NULL)
        return OCRQ_ERR_NOMEM;
    snprintf(d->user_agent, sizeof(d->user_agent), "ocrq-webhooks/%s", OCRQ_VERSION);
    return OCRQ_OK;
}

/* (Re)connect and LISTEN; backs off while the database is down. 0 once connected. */
static int ensure_db(struct dispatcher *d, volatile sig_atomic_t *stop, int *backoff)
{
    if (d->db != NULL && ocrq_db_alive(d->db))
        return 0;
    if (d->db == NULL ? ocrq_db_connect(d->cfg, &d->db) != OCRQ_OK
                      : ocrq_db_reconnect(d->db) != OCRQ_OK) {
        int ms = *backoff / 2 + (int)(random() % (*backoff / 2 + 1));
        log_warn(NULL, "webhooks: database unavailable: retrying in about %d ms", ms);
        for (int waited = 0; waited < ms && !*stop; waited += 100) {
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
        }
        *backoff = *backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : *backoff * 2;
        return -1;
    }
    *backoff = BACKOFF_MIN_MS;
    if (ocrq_db_pooled(d->db)) {
        d->poll_ms = POOLED_POLL_MS;
        return 0;
    }
    d->poll_ms = IDLE_POLL_MS;
    if (ocrq_db_listen(d->db, "ocrq_webhooks") != OCRQ_OK)
        return -1;
    return 0;
}

int ocrq_dispatcher_run(const struct ocrq_config *cfg, const char *name,
                        volatile sig_atomic_t *stop)
{
    struct dispatcher d = {.cfg = cfg, .name = name};
    int st, backoff = BACKOFF_MIN_MS, claim_again = 1;

    st = setup(&d);
    if (st != OCRQ_OK)
        goto out;
    srandom((unsigned)time(NULL) ^ (unsigned)getpid());
    log_info(NULL, "webhook dispatcher %s starting (%d in flight at most)", name, d.n_flights);
    while (!*stop || d.in_flight > 0) {
        if (ensure_db(&d, stop, &backoff) != 0) {
            if (*stop)
                break; /* what is in flight cannot be recorded; its claim runs out */
            continue;
        }
        if (!*stop && claim_again) {
            if (claim(&d) < 0)
                continue; /* the database broke: ensure_db reconnects */
            claim_again = 0;
            d.claimed_at_ms = ocrq_now_ms();
        }
        if (d.in_flight > 0) {
            struct curl_waitfd pg = {.fd = ocrq_db_socket(d.db), .events = CURL_WAIT_POLLIN};
            int numfds = 0;
            curl_multi_poll(d.multi, &pg, 1, d.poll_ms, &numfds);
            if (pg.revents && ocrq_db_wait_notify(d.db, 0) == OCRQ_OK)
                claim_again = 1;
            int before = d.in_flight;
            collect(&d);
            if (d.in_flight < before)
                claim_again = 1; /* free slots: more may be due */
            if (ocrq_now_ms() - d.claimed_at_ms >= d.poll_ms)
                claim_again = 1; /* new events without LISTEN, or retries come due */
        } else {
            st = ocrq_db_wait_notify(d.db, d.poll_ms);
            claim_again = 1; /* a notification, or time to look for due retries */
            (void)st;
        }
    }
    st = OCRQ_OK;
    log_info(NULL, "webhook dispatcher %s stopping", name);
out:
    for (int i = 0; d.flights && i < d.n_flights; i++)
        if (d.flights[i].in_use)
            end_flight(&d, &d.flights[i]);
    free(d.flights);
    if (d.multi)
        curl_multi_cleanup(d.multi);
    ocrq_db_free(d.db);
    return st;
}
