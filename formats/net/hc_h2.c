/* hc_h2.c — HTTP/2 for the client engine (RFC 9113), through nghttp2 fed from memory: the
 * engine's reads (with their receive times) go to nghttp2_session_mem_recv, and what
 * nghttp2_session_mem_send produces goes out through the connection (TLS). Many requests share
 * one connection, up to the server's SETTINGS_MAX_CONCURRENT_STREAMS. A stream the server
 * refused (REFUSED_STREAM, or above the last stream id of a GOAWAY: not processed, §8.7) is
 * re-sent on a new connection once, like HTTP/1.1's keep-alive race. Window updates are the
 * engine's, not nghttp2's automatic ones, so that a paused stream (hc_pause) stops its server
 * without stopping the connection's other streams. */
#include "hc_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"

#define HC_H2_WINDOW (16 << 20)      /* stream and connection receive windows */
#define HC_H2_MAX_STREAMS_CAP 256

static struct hc_req *hc_h2_req(struct hc_conn *c, int32_t id)
{
    return c->h2 ? nghttp2_session_get_stream_user_data(c->h2, id) : NULL;
}

/* Streams of a connection are chained through q_next/q_prev (unused once a request started). */
static struct hc_req *hc_h2_list(struct hc_conn *c)
{
    return (struct hc_req *)c->reserved_list;
}

static void hc_h2_link(struct hc_conn *c, struct hc_req *r)
{
    struct hc_req *head = hc_h2_list(c);
    r->q_prev = NULL;
    r->q_next = head;
    if (head)
        head->q_prev = r;
    c->reserved_list = r;
    c->h2_open++;
}

static void hc_h2_unlink(struct hc_conn *c, struct hc_req *r)
{
    if (r->q_prev)
        r->q_prev->q_next = r->q_next;
    else if (c->reserved_list == r)
        c->reserved_list = r->q_next;
    if (r->q_next)
        r->q_next->q_prev = r->q_prev;
    r->q_next = r->q_prev = NULL;
    c->h2_open--;
}

static int hc_h2_on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    (void)s;
    struct hc_conn *c = ud;
    if (f->hd.type != NGHTTP2_HEADERS)
        return 0;
    struct hc_req *r = hc_h2_req(c, f->hd.stream_id);
    if (r)
        r->got_bytes = 1;
    buf_reset(&c->h2_hdrs);
    c->h2_n_hdrs = 0;
    c->h2_status = 0;
    return 0;
}

static int hc_h2_on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                           size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags,
                           void *ud)
{
    (void)s;
    (void)flags;
    struct hc_conn *c = ud;
    if (f->hd.type != NGHTTP2_HEADERS)
        return 0;
    if (nlen == 7 && !memcmp(name, ":status", 7)) {
        int st = 0;
        for (size_t i = 0; i < vlen && i < 3; i++)
            st = st * 10 + (value[i] >= '0' && value[i] <= '9' ? value[i] - '0' : 0);
        c->h2_status = st;
        return 0;
    }
    if (nlen && name[0] == ':')
        return 0;
    if (c->h2_n_hdrs >= HTTP1_MAX_HEADERS || buf_append(&c->h2_hdrs, name, nlen) ||
        buf_append_char(&c->h2_hdrs, 0) || buf_append(&c->h2_hdrs, value, vlen) ||
        buf_append_char(&c->h2_hdrs, 0))
        return 0; /* over the caps: the rest of this block is not reported */
    c->h2_n_hdrs++;
    return 0;
}

static int hc_h2_on_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    (void)s;
    struct hc_conn *c = ud;
    if (f->hd.type == NGHTTP2_GOAWAY) {
        c->h2_goaway = 1; /* nghttp2 closes the unprocessed streams as REFUSED_STREAM */
        return 0;
    }
    if (f->hd.type != NGHTTP2_HEADERS || !(f->hd.flags & NGHTTP2_FLAG_END_HEADERS))
        return 0;
    struct hc_req *r = hc_h2_req(c, f->hd.stream_id);
    if (!r || c->h2_status < 200 || r->h2_head_seen)
        return 0; /* 1xx, trailers, or a stream we no longer track */
    r->h2_head_seen = 1;
    struct hc_header hs[HTTP1_MAX_HEADERS];
    const char *p = c->h2_hdrs.p;
    for (size_t i = 0; i < c->h2_n_hdrs; i++) {
        hs[i].name = p;
        hs[i].name_len = strlen(p);
        p += hs[i].name_len + 1;
        hs[i].value = p;
        hs[i].value_len = strlen(p);
        p += hs[i].value_len + 1;
    }
    r->cb->on_head(r->user, c->h2_status, hs, c->h2_n_hdrs, c->rx_ns);
    return 0;
}

static int hc_h2_on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *ud)
{
    (void)s;
    (void)flags;
    struct hc_conn *c = ud;
    struct hc_req *r = hc_h2_req(c, id);
    /* the connection's window is always given back: a paused stream must not stop the others */
    nghttp2_session_consume_connection(s, len);
    if (r && len) {
        r->got_bytes = 1;
        r->cb->on_body(r->user, (const char *)data, len, c->rx_ns);
    }
    r = hc_h2_req(c, id);        /* (on_body may have paused it) */
    if (r && r->paused)
        r->h2_held += len;
    else
        nghttp2_session_consume_stream(s, id, len);
    return 0;
}

static int hc_h2_on_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
    struct hc_conn *c = ud;
    struct hc_req *r = hc_h2_req(c, id);
    if (!r)
        return 0;
    nghttp2_session_set_stream_user_data(s, id, NULL);
    hc_h2_unlink(c, r);
    c->h2_done++;
    int64_t now = c->rx_ns > 0 ? c->rx_ns : clock_mono_ns();
    if (code == NGHTTP2_NO_ERROR && r->h2_head_seen) {
        hc_req_finish(r, HC_OK, NULL, now);
        return 0;
    }
    char m[160];
    if (code == NGHTTP2_NO_ERROR)
        snprintf(m, sizeof m, "HTTP/2 stream closed without a response");
    else
        snprintf(m, sizeof m, "HTTP/2 stream reset by the server: %s",
                 nghttp2_http2_strerror(code));
    /* REFUSED_STREAM (and GOAWAY's unprocessed streams) were never processed: safe to re-send */
    if (code == NGHTTP2_REFUSED_STREAM &&
        hc_req_try_resend(c->e, r, HC_E_STREAM_RESET, m, now, 1))
        return 0;
    hc_req_finish(r, code == NGHTTP2_NO_ERROR ? HC_E_PROTOCOL : HC_E_STREAM_RESET, m, now);
    return 0;
}

int hc_h2_init(struct hc_conn *c)
{
    nghttp2_session_callbacks *cb;
    if (nghttp2_session_callbacks_new(&cb))
        return -1;
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, hc_h2_on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, hc_h2_on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, hc_h2_on_frame);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, hc_h2_on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, hc_h2_on_close);
    nghttp2_option *opt;
    if (nghttp2_option_new(&opt)) {
        nghttp2_session_callbacks_del(cb);
        return -1;
    }
    nghttp2_option_set_no_auto_window_update(opt, 1);
    int rc = nghttp2_session_client_new2(&c->h2, cb, c, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    if (rc)
        return -1;
    size_t sw = c->e->o.h2_stream_window ? c->e->o.h2_stream_window : HC_H2_WINDOW;
    if (sw > HC_H2_WINDOW)
        sw = HC_H2_WINDOW;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, (uint32_t)sw},
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, HC_H2_MAX_STREAMS_CAP},
    };
    if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]) ||
        nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, HC_H2_WINDOW))
        return -1;
    return 0;
}

void hc_h2_free(struct hc_conn *c)
{
    if (c->h2)
        nghttp2_session_del(c->h2);
    c->h2 = NULL;
}

int hc_h2_capacity(const struct hc_conn *c)
{
    if (!c->h2 || c->h2_goaway)
        return 0;
    uint32_t max = nghttp2_session_get_remote_settings(c->h2,
                                                       NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
    int lim = max > HC_H2_MAX_STREAMS_CAP ? HC_H2_MAX_STREAMS_CAP : (int)max;
    return lim - c->h2_open;
}

int hc_h2_flush(struct hc_conn *c)
{
    for (;;) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(c->h2, &data);
        if (n < 0 || (n > 0 && hc_conn_send(c, (const char *)data, (size_t)n))) {
            hc_conn_lost(c, HC_E_RESET, n < 0 ? "HTTP/2 session failed" : "sending failed");
            return -1;
        }
        if (n == 0)
            break;
    }
    /* a session that wants neither (GOAWAY exchanged, nothing open) is finished */
    if (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2) &&
        c->h2_open == 0) {
        hc_conn_close(c);
        return -1;
    }
    return 0;
}

void hc_h2_resume(struct hc_conn *c, struct hc_req *r)
{
    if (!c->h2 || !r->h2_stream || !r->h2_held)
        return;
    nghttp2_session_consume_stream(c->h2, r->h2_stream, r->h2_held);
    r->h2_held = 0;
    /* the WINDOW_UPDATE goes out now, or after the receive that is calling us returns */
    if (!c->h2_in_recv)
        hc_h2_flush(c);
}

void hc_h2_recv(struct hc_conn *c, const char *p, size_t n, int64_t rx_ns)
{
    struct hc_engine *e = c->e;
    c->rx_ns = rx_ns;
    c->h2_in_recv = 1;
    ssize_t k = nghttp2_session_mem_recv(c->h2, (const uint8_t *)p, n);
    c->h2_in_recv = 0;
    if (c->state == HC_CLOSED)
        return;
    if (k < 0) {
        char m[160];
        snprintf(m, sizeof m, "invalid HTTP/2 from the server: %s", nghttp2_strerror((int)k));
        hc_conn_lost(c, HC_E_PROTOCOL, m);
        return;
    }
    if (hc_h2_flush(c) == 0)
        hc_dispatch(e); /* closed streams made room */
}

static ssize_t hc_h2_read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
                               uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    (void)s;
    (void)id;
    (void)ud;
    struct hc_req *r = src->ptr;
    size_t left = r->body_len - r->h2_body_off;
    size_t k = left < len ? left : len;
    if (k)
        memcpy(buf, r->body + r->h2_body_off, k);
    r->h2_body_off += k;
    if (r->h2_body_off == r->body_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)k;
}

/* Header names that do not exist in HTTP/2 (RFC 9113 §8.2.2) or that the engine writes. */
static int hc_h2_skip_header(const char *n, size_t l)
{
    static const char *const skip[] = {"host", "connection", "keep-alive", "proxy-connection",
                                       "transfer-encoding", "upgrade", "content-length", "te"};
    for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
        if (strlen(skip[i]) == l && !strncasecmp(n, skip[i], l))
            return 1;
    return 0;
}

int hc_h2_submit(struct hc_conn *c, struct hc_req *r)
{
    struct hc_engine *e = c->e;
    nghttp2_nv nv[HTTP1_MAX_HEADERS + 6];
    size_t n = 0;
    char clen[24];
#define HC_NV(N, NL, V, VL)                                                                    \
    do {                                                                                       \
        nv[n].name = (uint8_t *)(N);                                                           \
        nv[n].namelen = (NL);                                                                  \
        nv[n].value = (uint8_t *)(V);                                                          \
        nv[n].valuelen = (VL);                                                                 \
        nv[n].flags = NGHTTP2_NV_FLAG_NONE;                                                    \
        n++;                                                                                   \
    } while (0)
    HC_NV(":method", 7, r->method, strlen(r->method));
    HC_NV(":scheme", 7, "https", 5);
    HC_NV(":authority", 10, e->authority, strlen(e->authority));
    HC_NV(":path", 5, r->target, strlen(r->target));
    if (r->body_len || !strcmp(r->method, "POST")) {
        int l = snprintf(clen, sizeof clen, "%zu", r->body_len);
        HC_NV("content-length", 14, clen, (size_t)l);
    }
    /* the caller's header lines, names lower-cased (HTTP/2 requires it) */
    char *lower = malloc(r->headers_len + 1);
    if (!lower)
        return -2;
    memcpy(lower, r->headers, r->headers_len);
    lower[r->headers_len] = 0;
    char *p = lower, *end = lower + r->headers_len;
    while (p < end && n < sizeof nv / sizeof nv[0]) {
        char *eol = memchr(p, '\n', (size_t)(end - p));
        char *le = eol ? eol : end;
        char *colon = memchr(p, ':', (size_t)(le - p));
        if (colon) {
            size_t nl = (size_t)(colon - p);
            for (size_t i = 0; i < nl; i++)
                if (p[i] >= 'A' && p[i] <= 'Z')
                    p[i] = (char)(p[i] - 'A' + 'a');
            char *v = colon + 1, *ve = le;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            if (nl && !hc_h2_skip_header(p, nl))
                HC_NV(p, nl, v, (size_t)(ve - v));
        }
        p = eol ? eol + 1 : end;
    }
#undef HC_NV
    nghttp2_data_provider dp = {.source.ptr = r, .read_callback = hc_h2_read_body};
    r->h2_body_off = 0;
    r->h2_held = 0;
    r->h2_head_seen = 0;
    int32_t id = nghttp2_submit_request(c->h2, NULL, nv, n, r->body_len ? &dp : NULL, r);
    free(lower); /* nghttp2 copied the fields */
    if (id < 0)
        return -2;
    r->h2_stream = id;
    hc_h2_link(c, r);
    return 0;
}

void hc_h2_cancel(struct hc_conn *c, struct hc_req *r)
{
    if (!c->h2 || r->h2_stream <= 0)
        return;
    nghttp2_session_set_stream_user_data(c->h2, r->h2_stream, NULL);
    nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, r->h2_stream, NGHTTP2_CANCEL);
    hc_h2_unlink(c, r);
}

void hc_h2_conn_lost(struct hc_conn *c, enum hc_error err, const char *msg, int64_t now_ns)
{
    struct hc_req *r;
    while ((r = hc_h2_list(c))) {
        hc_h2_unlink(c, r);
        if (c->h2 && r->h2_stream > 0)
            nghttp2_session_set_stream_user_data(c->h2, r->h2_stream, NULL);
        if (!hc_req_try_resend(c->e, r, err, msg, now_ns, 0))
            hc_req_finish(r, err, msg, now_ns);
    }
}
