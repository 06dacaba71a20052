/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The webhook outbox in the PostgreSQL store (ocrq/db.h, docs/webhooks.md):
 * claiming due deliveries, recording attempts, listing and retrying them;
 * and LISTEN for the notifications of new ones. Same rules as db.h.
 */
#ifndef OCRQ_DB_HOOKS_H
#define OCRQ_DB_HOOKS_H

struct ocrq_db;

/* A delivery claimed for sending. url and body are malloc'd (ocrq_db_hooks_free). */
struct ocrq_db_hook {
    long long id;
    char event_id[64]; /* webhook-id */
    char *url;
    char *body;
    int attempt;       /* this attempt's number, over the delivery's whole life */
    int round_attempt; /* ... and since the latest ocrq-admin webhooks retry (1 = first) */
    char *secret;      /* the submitting API key's whsec_ secret; NULL: webhooks.secrets */
    char *secret_prev; /* its previous one, while the rotation's overlap lasts; or NULL */
};

/*
 * Claim up to max due deliveries for lease_s seconds (FOR UPDATE SKIP LOCKED,
 * then a lease): *out gets *n of them (free with ocrq_db_hooks_free), counting
 * the attempt. Returns OCRQ_OK or OCRQ_ERR_DB.
 */
int ocrq_db_hooks_claim(struct ocrq_db *db, int lease_s, int max, struct ocrq_db_hook **out,
                        int *n);
void ocrq_db_hooks_free(struct ocrq_db_hook *hooks, int n);

/* What became of one attempt. */
struct ocrq_db_hook_outcome {
    double started_at; /* seconds since the epoch */
    int http_status;   /* 0: no response */
    const char *error; /* NULL if delivered */
    int duration_ms;
    const char *status; /* "delivered", "pending" (again, in retry_in_s) or "failed" */
    double retry_in_s;
};

/* Record the attempt and the delivery's new state in one statement. */
int ocrq_db_hook_done(struct ocrq_db *db, const struct ocrq_db_hook *hook,
                      const struct ocrq_db_hook_outcome *o);

/* One delivery for ocrq-admin webhooks list. Strings are borrowed for the call. */
struct ocrq_db_hook_info {
    long long id;
    const char *event_id, *job_id, *event_type, *url, *status;
    int attempts;
    int last_http_status;                                                 /* 0: none */
    const char *last_error, *created_at, *next_attempt_at, *delivered_at; /* may be NULL */
};

typedef void (*ocrq_db_hook_info_fn)(void *arg, const struct ocrq_db_hook_info *h);

/* The newest limit deliveries (only failed ones with failed_only), newest first. */
int ocrq_db_hooks_list(struct ocrq_db *db, int failed_only, int limit, ocrq_db_hook_info_fn fn,
                       void *arg);

/*
 * Make delivery id (0: every failed one) due now with the whole retry schedule
 * again; a delivered one is left alone. *count gets how many changed.
 */
int ocrq_db_hooks_retry(struct ocrq_db *db, long long id, long long *count);

/* The connection's socket, to poll beside others; -1 if none. */
int ocrq_db_socket(const struct ocrq_db *db);

/* LISTEN on channel (again after a reconnect). */
int ocrq_db_listen(struct ocrq_db *db, const char *channel);

/*
 * Wait up to timeout_ms for a notification on a channel listened to.
 * Returns OCRQ_OK (one or more came; all are consumed), OCRQ_ERR_TIMEOUT, or
 * OCRQ_ERR_DB (the connection broke).
 */
int ocrq_db_wait_notify(struct ocrq_db *db, int timeout_ms);

#endif
