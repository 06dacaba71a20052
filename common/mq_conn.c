/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The broker connection: connect (the first node of a cluster that answers),
 * the translation of every RPC reply into our status, the closes the broker
 * sends (a closed channel is opened again with the same settings), and
 * teardown. The connection's socket (fd, TCP_CORK) is here too.
 */
#include "ocrq/mq.h"

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "mq_internal.h"
#include "ocrq/config.h"
#include "ocrq/log.h"
#include "ocrq/status.h"

#define CONNECT_TIMEOUT_S 10

int ocrq_mq_lib_fail(struct ocrq_mq *mq, int err, const char *what, const char *obj)
{
    log_error(NULL, "amqp: %s%s%s: %s", what, obj ? " " : "", obj ? obj : "",
              amqp_error_string2(err));
    mq->broken = 1;
    return OCRQ_ERR_MQ;
}

/* ---- closes from the broker ---------------------------------------------- */

void ocrq_mq_on_connection_close(struct ocrq_mq *mq, const amqp_connection_close_t *c,
                                 const char *what, const char *obj)
{
    amqp_connection_close_ok_t ok = {0};
    log_error(NULL, "amqp: %s%s%s: connection closed by broker: %u %.*s", what, obj ? " " : "",
              obj ? obj : "", c->reply_code, bytes_len(c->reply_text),
              (const char *)c->reply_text.bytes);
    (void)amqp_send_method(mq->conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
    mq->broken = 1;
}

/* One RPC while reopening the channel: anything but the expected reply is fatal. */
static int reopen_step(struct ocrq_mq *mq, const char *what)
{
    amqp_rpc_reply_t r = amqp_get_rpc_reply(mq->conn);
    if (r.reply_type == AMQP_RESPONSE_NORMAL)
        return OCRQ_OK;
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
        return ocrq_mq_lib_fail(mq, r.library_error, what, "(reopening channel)");
    log_error(NULL, "amqp: %s (reopening channel): refused by broker", what);
    mq->broken = 1;
    return OCRQ_ERR_MQ;
}

/*
 * The broker closed channel 1: answer close-ok and open it again with the same
 * settings. Unconfirmed publishes fail, buffered deliveries are dropped (the
 * broker requeues them) and consumers are gone.
 */
void ocrq_mq_on_channel_close(struct ocrq_mq *mq, const amqp_channel_close_t *c, const char *what,
                              const char *obj)
{
    amqp_channel_close_ok_t ok = {0};
    int lvl = c->reply_code == AMQP_NOT_FOUND ? OCRQ_LOG_WARN : OCRQ_LOG_ERROR;
    ocrq_log(lvl, NULL, "amqp: %s%s%s: channel closed by broker: %u %.*s", what, obj ? " " : "",
             obj ? obj : "", c->reply_code, bytes_len(c->reply_text),
             (const char *)c->reply_text.bytes);
    mq->refusal_code = c->reply_code;
    copy_bytes(mq->refusal_text, sizeof mq->refusal_text, c->reply_text);
    ocrq_mq_drain(mq);
    ocrq_mq_fail_unconfirmed(mq);
    ocrq_mq_dq_clear(mq);
    mq->n_consumers = 0;
    mq->gen++;
    if (mq->broken)
        return;
    int rc = amqp_send_method(mq->conn, CHAN, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
    if (rc != AMQP_STATUS_OK) {
        (void)ocrq_mq_lib_fail(mq, rc, "channel.close-ok", NULL);
        return;
    }
    (void)amqp_channel_open(mq->conn, CHAN);
    if (reopen_step(mq, "channel.open") != OCRQ_OK)
        return;
    if (mq->confirm) {
        (void)amqp_confirm_select(mq->conn, CHAN);
        if (reopen_step(mq, "confirm.select") != OCRQ_OK)
            return;
        mq->seq_offset = mq->next_seq - 1;
    }
    if (mq->qos_set) {
        (void)amqp_basic_qos(mq->conn, CHAN, 0, (uint16_t)mq->qos_n,
                             (amqp_boolean_t)mq->qos_global);
        (void)reopen_step(mq, "basic.qos");
    }
}

/*
 * Translate one RPC reply, once: log it, handle the close it may carry, and
 * return our status. Frames the library queued while waiting are folded into
 * our state before the caller goes on.
 */
int ocrq_mq_rpc_status(struct ocrq_mq *mq, amqp_rpc_reply_t r, const char *what, const char *obj)
{
    switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
        ocrq_mq_drain(mq);
        return mq->broken ? OCRQ_ERR_MQ : OCRQ_OK;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        return ocrq_mq_lib_fail(mq, r.library_error, what, obj);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
            ocrq_mq_on_connection_close(mq, r.reply.decoded, what, obj);
            return OCRQ_ERR_MQ;
        }
        if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            const amqp_channel_close_t *c = r.reply.decoded;
            int st = c->reply_code == AMQP_NOT_FOUND ? OCRQ_ERR_NOT_FOUND : OCRQ_ERR_MQ;
            ocrq_mq_on_channel_close(mq, c, what, obj);
            return mq->broken ? OCRQ_ERR_MQ : st;
        }
        log_error(NULL, "amqp: %s: unexpected reply method 0x%08x", what, (unsigned)r.reply.id);
        mq->broken = 1;
        return OCRQ_ERR_MQ;
    default:
        log_error(NULL, "amqp: %s: no reply", what);
        mq->broken = 1;
        return OCRQ_ERR_MQ;
    }
}

/* ---- connection ---------------------------------------------------------- */

int ocrq_mq_connect(const struct ocrq_config *cfg, const char *name, struct ocrq_mq **out)
{
    int st = OCRQ_ERR_MQ;

    if (!cfg || cfg->n_amqp_urls == 0)
        return ocrq_mq_connect_to(cfg, cfg ? cfg->amqp_url : NULL, name, out);
    /* a cluster: the first node that answers */
    for (int i = 0; i < cfg->n_amqp_urls; i++) {
        st = ocrq_mq_connect_to(cfg, cfg->amqp_urls[i], name, out);
        if (st == OCRQ_OK || st == OCRQ_ERR_CONFIG)
            break;
    }
    return st;
}

int ocrq_mq_connect_to(const struct ocrq_config *cfg, const char *broker, const char *name,
                       struct ocrq_mq **out)
{
    struct ocrq_mq *mq = NULL;
    char *url = NULL;
    struct amqp_connection_info ci;
    int st = OCRQ_ERR_MQ;

    if (out)
        *out = NULL;
    if (!cfg || !broker || !out)
        return OCRQ_ERR_INVALID;
    mq = calloc(1, sizeof(*mq));
    url = strdup(broker);
    if (!mq || !url) {
        st = OCRQ_ERR_NOMEM;
        goto out;
    }
    mq->next_seq = mq->base = 1;
    st = ocrq_mq_topo_init(&mq->topo, cfg);
    if (st != OCRQ_OK)
        goto out;
    amqp_default_connection_info(&ci);
    if (amqp_parse_url(url, &ci) != AMQP_STATUS_OK || ci.ssl) {
        log_error(NULL, "amqp: not an amqp://user:pass@host:port/vhost URL (amqp.url, amqp.urls)");
        st = OCRQ_ERR_CONFIG;
        goto out;
    }
    const char *vhost = ci.vhost && ci.vhost[0] ? ci.vhost : "/";
    mq->conn = amqp_new_connection();
    amqp_socket_t *sock = mq->conn ? amqp_tcp_socket_new(mq->conn) : NULL;
    if (!sock) {
        st = OCRQ_ERR_NOMEM;
        goto out;
    }
    struct timeval tv = {CONNECT_TIMEOUT_S, 0};
    int rc = amqp_socket_open_noblock(sock, ci.host, ci.port, &tv);
    if (rc != AMQP_STATUS_OK) {
        log_error(NULL, "amqp: connect %s:%d: %s", ci.host, ci.port, amqp_error_string2(rc));
        st = OCRQ_ERR_MQ;
        goto out;
    }
    (void)amqp_set_handshake_timeout(mq->conn, &tv);

    amqp_table_entry_t caps[] = {{amqp_cstring_bytes("consumer_cancel_notify"),
                                  {.kind = AMQP_FIELD_KIND_BOOLEAN, .value.boolean = 1}}};
    amqp_table_entry_t props[] = {
        {amqp_cstring_bytes("connection_name"),
         {.kind = AMQP_FIELD_KIND_UTF8, .value.bytes = amqp_cstring_bytes(name ? name : "ocrq")}},
        {amqp_cstring_bytes("capabilities"),
         {.kind = AMQP_FIELD_KIND_TABLE, .value.table = {1, caps}}},
    };
    amqp_table_t ptable = {2, props};
    amqp_rpc_reply_t r =
        amqp_login_with_properties(mq->conn, vhost, 0, cfg->amqp_frame_max, cfg->amqp_heartbeat_s,
                                   &ptable, AMQP_SASL_METHOD_PLAIN, ci.user, ci.password);
    char where[SHORTSTR_MAX + 64];
    snprintf(where, sizeof(where), "%s:%d vhost %s", ci.host, ci.port, vhost);
    st = ocrq_mq_rpc_status(mq, r, "login", where);
    if (st != OCRQ_OK)
        goto out;
    (void)amqp_channel_open(mq->conn, CHAN);
    st = ocrq_mq_rpc_status(mq, amqp_get_rpc_reply(mq->conn), "channel.open", NULL);
    if (st != OCRQ_OK)
        goto out;
    log_debug(NULL, "amqp: connected to %s as %s", where, name ? name : "ocrq");
    *out = mq;
    mq = NULL;
out:
    if (mq)
        mq->broken = 1; /* no polite close on a half-built connection */
    ocrq_mq_free(mq);
    free(url);
    return st == OCRQ_OK ? OCRQ_OK
                         : (st == OCRQ_ERR_CONFIG || st == OCRQ_ERR_NOMEM ? st : OCRQ_ERR_MQ);
}

void ocrq_mq_free(struct ocrq_mq *mq)
{
    if (!mq)
        return;
    if (mq->conn) {
        if (!mq->broken) {
            (void)amqp_channel_close(mq->conn, CHAN, AMQP_REPLY_SUCCESS);
            (void)amqp_connection_close(mq->conn, AMQP_REPLY_SUCCESS);
        }
        amqp_destroy_connection(mq->conn);
    }
    ocrq_mq_dq_clear(mq);
    free(mq->ring);
    free(mq);
}

const struct ocrq_mq_topo *ocrq_mq_topo_of(const struct ocrq_mq *mq)
{
    return &mq->topo;
}

int ocrq_mq_last_refusal(const struct ocrq_mq *mq, char *text, size_t len)
{
    if (text && len)
        snprintf(text, len, "%s", mq ? mq->refusal_text : "");
    return mq ? mq->refusal_code : 0;
}

/*
 * TCP_CORK on the connection's socket: while on, frames written are held
 * back and sent in full segments; turning it off sends what is held. A
 * burst of publishes then reaches the broker in a few large reads.
 */
int ocrq_mq_cork(struct ocrq_mq *mq, int on)
{
    int fd = ocrq_mq_fd(mq), v = on ? 1 : 0;

    if (fd < 0)
        return OCRQ_ERR_MQ;
    return setsockopt(fd, IPPROTO_TCP, TCP_CORK, &v, sizeof v) == 0 ? OCRQ_OK : OCRQ_ERR_IO;
}

/*
 * Frames may already sit in rabbitmq-c's buffer when the socket is quiet, so
 * a caller that polls this fd must still call ocrq_mq_service() (or _next)
 * at least every heartbeat/2 seconds. -1 once the connection is lost.
 */
int ocrq_mq_fd(const struct ocrq_mq *mq)
{
    return usable(mq) ? amqp_get_sockfd(mq->conn) : -1;
}
