/* engine.c — capture's packet path: pkt decode → TCP reassembly → HTTP/1.1 pairing →
 * llm_stream → exchange records (RFC 9112 message framing via formats/wire/http1.h; timing rules
 * of analyze/README.md "Metric definitions": t0 = first request byte, ttfb = first response byte,
 * each event at the packet that completed it). */
#include "engine.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dialect.h"
#include "http1.h"
#include "llmstream.h"
#include "sha256.h"

enum hx_mode {
    HX_SYNCED = 0,               /* parser owns the stream */
    HX_RESYNC,                   /* dropping bytes until a message start */
};

struct hx_ex {                   /* one request waiting for, or receiving, its response */
    struct hx_ex *next;
    struct tlog_exchange x;
    int skip;                    /* filtered out: pairs in order but is never recorded */
    int lost;                    /* placeholder for a request a gap swallowed */
    int req_done;
    int req_whole;               /* the request ended at its framing (not cut by a close) */
    int req_damaged;             /* a gap or a framing error hit the request */
    int resp_started;
    int resp_bytes;              /* a response byte arrived while this one was waiting */
    int digest_ok;               /* digest/digest_len hold the body's identity */
    uint64_t digest;             /* hx_digest of the decoded body (every byte seen) */
    size_t digest_len;
    int interim;                 /* a 1xx response is being parsed */
    int has_stream;
    int stream_done;             /* llm_stream_finish ran */
    int64_t resp_last;           /* offset of the last response byte seen */
    struct llm_stream ls;
    struct buf body;
    struct sha256 sha;
    char *content_type;
};

struct hx_conn;

struct hx_side {
    struct hx_conn *c;
    int dir;                     /* tcpr direction index */
    int is_client;
    enum hx_mode mode;
    int line_start;              /* the last byte dropped in RESYNC was '\n' (or none yet) */
    int64_t msg_t0;              /* packet time of the current message's first byte; -1 none */
    uint64_t fed;                /* bytes fed to the parser since its init */
    struct http1_parser p;
};

struct hx_conn {
    struct capture_engine *e;
    struct tcpr_flow *f;
    int cdir;                    /* tcpr direction of client → server bytes; -1 unknown */
    uint32_t n_ex;               /* exchanges started on this connection */
    int recorded;                /* at least one exchange passed the filters */
    int64_t now;                 /* time of the packet being processed */
    struct hx_ex *head, *tail;   /* pending exchanges, oldest first */
    struct hx_ex *req;           /* exchange whose request is being parsed */
    struct hx_side side[2];      /* [0] client parser, [1] server parser */
};

/* A failed attempt held for its re-send: the record, and what the re-send must match. */
struct hx_held {
    struct hx_held *next;
    struct tlog_exchange x;
    uint64_t flow;               /* its connection (tcpr flow id) */
    int family;
    uint8_t client[16], server[16];
    uint16_t server_port;
    int whole;                   /* the whole request was sent; else body is a prefix */
    int64_t body_len;
    uint64_t digest;
    int64_t fail_us;             /* capture time the failure was seen */
};

#define HX_RESEND_WINDOW_US 1000000
#define HX_MAX_HELD 1024
#define HX_MAX_HELD_BODY ((int64_t)64 << 20)   /* request body bytes held at once */

struct capture_engine {
    struct capture_opts o;
    capture_emit_fn emit;
    void *user;
    struct pkt_decoder pd;
    struct tcpr_table tcp;
    struct capture_stats st;
    int64_t last_tick;
    struct hx_held *held, *held_tail; /* oldest failure first */
    size_t n_held;
    int64_t held_body;
};

static const struct http1_callbacks hx_req_cb;
static const struct http1_callbacks hx_resp_cb;

/* ---- exchange lifecycle ------------------------------------------------------------------ */

static void hx_ex_free(struct hx_ex *q)
{
    if (!q)
        return;
    if (q->has_stream)
        llm_stream_free(&q->ls);
    buf_free(&q->body);
    free(q->content_type);
    tlog_exchange_free(&q->x);
    free(q);
}

static void hx_unlink(struct hx_conn *c, struct hx_ex *q)
{
    struct hx_ex **pp = &c->head;
    struct hx_ex *prev = NULL;
    while (*pp && *pp != q) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp)
        return;
    *pp = q->next;
    if (c->tail == q)
        c->tail = prev;
    if (c->req == q)
        c->req = NULL;
}

/* Hands one finished record to the emit callback and counts it. */
static void hx_write(struct capture_engine *e, const struct tlog_exchange *x)
{
    e->st.exchanges++;
    e->st.errors[x->error_kind < TLOG_ERROR_KIND_COUNT ? x->error_kind : TLOG_ERROR_OTHER]++;
    if (x->error_kind == TLOG_ERROR_INCOMPLETE)
        e->st.incomplete++;
    if (e->emit(e->user, x))
        e->st.emit_errors++;
}

/* ---- transport re-sends ------------------------------------------------------------------ */

/* 64-bit identity of a body (length mixed in), word at a time: it runs on every request, so
 * it must cost far less than the packet path; a match also needs method, path, client and
 * server, so a collision could only pair two requests of one client within the window. */
static uint64_t hx_digest(const char *p, size_t n)
{
    const uint64_t k = 0x9e3779b97f4a7c15ULL;
    uint64_t h = 0x243f6a8885a308d3ULL ^ ((uint64_t)n * k);
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * k;
        h ^= h >> 31;
    }
    uint64_t w = 0;
    if (n)
        memcpy(&w, p, n);
    h = (h ^ w ^ ((uint64_t)n << 59)) * 0xff51afd7ed558ccdULL;
    return h ^ (h >> 33);
}

static int64_t hx_window(const struct capture_engine *e)
{
    return e->o.resend_window_us ? e->o.resend_window_us : HX_RESEND_WINDOW_US;
}

/* Writes held attempt h (with resent_as = by when not NULL) and frees it. */
static void hx_held_write(struct capture_engine *e, struct hx_held *h, const char *by)
{
    struct hx_held **pp = &e->held;
    struct hx_held *prev = NULL;
    while (*pp && *pp != h) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (*pp) {
        *pp = h->next;
        if (e->held_tail == h)
            e->held_tail = prev;
    }
    e->n_held--;
    e->held_body -= h->body_len;
    if (by) {
        h->x.resent_as = strdup(by);
        e->st.resent++;
    }
    hx_write(e, &h->x);
    tlog_exchange_free(&h->x);
    free(h);
}

/* Held attempts whose window ended before now are failures after all. */
static void hx_held_expire(struct capture_engine *e, int64_t now)
{
    int64_t w = hx_window(e);
    while (e->held && now - e->held->fail_us > w) {
        e->st.resend_expired++;
        hx_held_write(e, e->held, NULL);
    }
}

/* q failed: could the client re-send it? Only a request that got no response byte, on a
 * connection that had carried an earlier request (libcurl's rule, lib/transfer.c
 * Curl_retry_request: a reused connection with nothing received; a failure on a connection
 * opened for the request is the server's answer, and clients report it). */
static int hx_resend_candidate(const struct hx_conn *c, const struct hx_ex *q)
{
    const struct tlog_exchange *x = &q->x;
    return hx_window(c->e) > 0 && x->error_kind == TLOG_ERROR_RESET && !q->skip && !q->lost &&
           q->req_done && q->digest_ok && !q->resp_started && !q->resp_bytes &&
           x->conn_new != 1 && x->req.method && x->req.path;
}

static void hx_endpoints(const struct hx_conn *c, int *family, uint8_t client[16],
                         uint8_t server[16], uint16_t *server_port)
{
    int cd = c->cdir < 0 ? 0 : c->cdir;
    *family = c->f->family;
    memcpy(client, c->f->addr[cd], 16);
    memcpy(server, c->f->addr[1 - cd], 16);
    *server_port = c->f->port[1 - cd];
}

/* Takes q's record into the hold (q keeps an empty one). */
static void hx_hold(struct hx_conn *c, struct hx_ex *q)
{
    struct capture_engine *e = c->e;
    struct hx_held *h = calloc(1, sizeof *h);
    if (!h) {
        hx_write(e, &q->x);      /* no memory to wait: written as the failure it looks like */
        return;
    }
    h->x = q->x;
    tlog_exchange_init(&q->x);
    h->flow = c->f->id;
    hx_endpoints(c, &h->family, h->client, h->server, &h->server_port);
    h->whole = q->req_whole;
    h->body_len = (int64_t)q->digest_len;
    h->digest = q->digest;
    h->fail_us = c->now;
    if (e->held_tail)
        e->held_tail->next = h;
    else
        e->held = h;
    e->held_tail = h;
    e->n_held++;
    e->held_body += h->body_len;
    size_t cap = e->o.resend_max_held ? e->o.resend_max_held : HX_MAX_HELD;
    while (e->held != h && (e->n_held > cap || e->held_body > HX_MAX_HELD_BODY)) {
        e->st.resend_cap++;
        hx_held_write(e, e->held, NULL);
    }
}

/* q's request is whole (its body still in q->body): if it is the re-send of a held attempt,
 * that attempt is written now, linked to q. The oldest matching attempt wins. */
static void hx_resend_match(struct hx_conn *c, struct hx_ex *q)
{
    struct capture_engine *e = c->e;
    if (!q->digest_ok || q->skip || !q->x.req.method || !q->x.req.path)
        return;
    int family;
    uint8_t client[16], server[16];
    uint16_t port;
    hx_endpoints(c, &family, client, server, &port);
    int64_t w = hx_window(e);
    for (struct hx_held *h = e->held; h; h = h->next) {
        if (h->flow == c->f->id || h->x.start_us >= q->x.start_us || c->now - h->fail_us > w ||
            h->family != family || h->server_port != port || memcmp(h->client, client, 16) ||
            memcmp(h->server, server, 16) || (size_t)h->body_len > q->body.len ||
            (h->whole && (size_t)h->body_len != q->body.len) ||
            strcmp(h->x.req.method, q->x.req.method) || strcmp(h->x.req.path, q->x.req.path))
            continue;
        uint64_t d = (size_t)h->body_len == q->body.len ? q->digest
                                                        : hx_digest(q->body.p, (size_t)h->body_len);
        if (d != h->digest)
            continue;
        hx_held_write(e, h, q->x.id);
        return;
    }
}

/* Records q (unless filtered) and frees it. why/msg (unless TLOG_ERROR_NONE): the capture's
 * verdict, which replaces any error the stream decoder recorded. A failure the client may
 * re-send is held instead (hx_hold). */
static void hx_emit(struct hx_conn *c, struct hx_ex *q, enum tlog_error_kind why, const char *msg)
{
    struct capture_engine *e = c->e;
    hx_unlink(c, q);
    if (q->skip && !q->lost) {
        hx_ex_free(q);
        return;
    }
    if (q->lost && !c->recorded) {   /* a gap on a connection never seen carrying LLM calls */
        hx_ex_free(q);
        return;
    }
    struct tlog_exchange *x = &q->x;
    if (q->has_stream && !q->stream_done) {
        /* cut short: keep the events seen; end = the last response byte captured */
        llm_stream_finish(&q->ls, q->resp_last);
        x->resp.end_us = q->resp_last;
    }
    /* the capture's verdict (gap, reset, end of capture) replaces the stream's own
     * "missing terminator", which is only a consequence of it */
    if (why != TLOG_ERROR_NONE)
        tlog_exchange_set_error(x, why, msg);
    if (!q->has_stream)
        tlog_exchange_derive_tokens(x);
    if (hx_resend_candidate(c, q))
        hx_hold(c, q);
    else
        hx_write(e, x);
    hx_ex_free(q);
}

static void hx_fmt_ep(const struct tcpr_flow *f, int i, char *out, size_t n)
{
    char a[INET6_ADDRSTRLEN];
    if (f->family == 4) {
        inet_ntop(AF_INET, f->addr[i], a, sizeof a);
        snprintf(out, n, "%s:%u", a, f->port[i]);
    } else {
        inet_ntop(AF_INET6, f->addr[i], a, sizeof a);
        snprintf(out, n, "[%s]:%u", a, f->port[i]);
    }
}

static struct hx_ex *hx_ex_new(struct hx_conn *c, int64_t t0)
{
    struct hx_ex *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    tlog_exchange_init(&q->x);
    buf_init(&q->body, c->e->o.max_request_body);
    sha256_init(&q->sha);
    q->x.start_us = t0;
    char id[48], cl[64], sv[64], conn[140];
    snprintf(id, sizeof id, "%llu.%u", (unsigned long long)c->f->id, ++c->n_ex);
    q->x.id = strdup(id);
    int cd = c->cdir < 0 ? 0 : c->cdir;
    hx_fmt_ep(c->f, cd, cl, sizeof cl);
    hx_fmt_ep(c->f, 1 - cd, sv, sizeof sv);
    snprintf(conn, sizeof conn, "%s>%s", cl, sv);
    q->x.conn = strdup(conn);
    /* the connection's first request went out on a connection opened for it, when the
     * capture saw the handshake; later ones on a reused connection */
    const struct tcpr_flow *f = c->f;
    if (c->n_ex > 1) {
        q->x.conn_new = 0;
    } else if (!f->midstream) {
        q->x.conn_new = 1;
        if (f->syn_us && f->established_us >= f->syn_us && f->established_us <= t0)
            q->x.connect_us = f->established_us - f->syn_us;
    }
    if (c->tail)
        c->tail->next = q;
    else
        c->head = q;
    c->tail = q;
    return q;
}

/* ---- filters ----------------------------------------------------------------------------- */

static int hx_path_wanted(const struct capture_engine *e, const char *p, size_t n)
{
    if (e->o.all_paths)
        return 1;
    if (!e->o.n_path_prefixes)
        return dialect_from_path(p, n) != DIALECT_UNKNOWN;
    for (size_t i = 0; i < e->o.n_path_prefixes; i++) {
        size_t l = strlen(e->o.path_prefixes[i]);
        if (l <= n && !memcmp(p, e->o.path_prefixes[i], l))
            return 1;
    }
    return 0;
}

static int hx_host_wanted(const struct capture_engine *e, const struct http1_head *h)
{
    if (!e->o.n_hosts)
        return 1;
    const struct http1_header *hh = http1_find_header(h, "host");
    if (!hh)
        return 0;
    size_t n = hh->value_len;
    const char *colon = memchr(hh->value, ':', n);
    if (colon && hh->value[0] != '[')
        n = (size_t)(colon - hh->value);
    for (size_t i = 0; i < e->o.n_hosts; i++)
        if (strlen(e->o.hosts[i]) == n && !strncasecmp(hh->value, e->o.hosts[i], n))
            return 1;
    return 0;
}

/* ---- request side ------------------------------------------------------------------------ */

static int hx_req_head(void *user, const struct http1_head *h)
{
    struct hx_side *s = user;
    struct hx_conn *c = s->c;
    struct capture_engine *e = c->e;
    struct hx_ex *q = hx_ex_new(c, s->msg_t0 >= 0 ? s->msg_t0 : c->now);
    if (!q)
        return 1;
    c->req = q;
    http1_expect_response_to(&c->side[1].p, h->method, h->method_len);
    if (!hx_path_wanted(e, h->target, h->target_len) || !hx_host_wanted(e, h)) {
        q->skip = 1;
        e->st.filtered++;
        return 0;
    }
    c->recorded = 1;
    q->x.req.method = strndup(h->method, h->method_len);
    q->x.req.path = strndup(h->target, h->target_len);
    const struct http1_header *host = http1_find_header(h, "host");
    if (host)
        q->x.req.host = strndup(host->value, host->value_len);
    for (size_t i = 0; i < h->n_headers; i++)
        tlog_exchange_add_header(&q->x, 0, h->headers[i].name, h->headers[i].name_len,
                                 h->headers[i].value, h->headers[i].value_len);
    q->x.req.body_bytes = 0;
    return 0;
}

static int hx_req_body(void *user, const char *data, size_t len)
{
    struct hx_side *s = user;
    struct hx_ex *q = s->c->req;
    if (!q || q->skip)
        return 0;
    q->x.req.body_bytes += (int64_t)len;
    if (s->c->e->o.hash_prompts)
        sha256_update(&q->sha, data, len);
    if (buf_append(&q->body, data, len) != 0)
        q->body.max = 0;         /* over the cap: keep counting, stop keeping */
    return 0;
}

/* The request is whole: body → JSON, dialect, model, stream flag, hash. */
static void hx_req_finish(struct hx_conn *c, struct hx_ex *q)
{
    if (q->req_done)
        return;
    q->req_done = 1;
    if (q->skip)
        return;
    struct tlog_exchange *x = &q->x;
    cJSON *body = NULL;
    if (q->body.len && q->body.max)
        body = cJSON_ParseWithLength(q->body.p, q->body.len);
    x->req.body = body;
    enum dialect_id d = dialect_from_request(x->req.path, x->req.path ? strlen(x->req.path) : 0,
                                             body);
    if (d != DIALECT_UNKNOWN && !x->dialect)  /* an early response may have set it */
        x->dialect = strdup(dialect_name(d));
    if (body) {
        struct dialect_request_info ri;
        if (dialect_request_info(d, body, &ri) == 0) {
            if (ri.model)
                x->model = strdup(ri.model);
            x->stream = ri.stream;
        }
    } else if (q->body.len && q->body.max && !c->e->o.no_bodies) {
        x->req.body = cJSON_CreateString(q->body.p);  /* not JSON: kept as a string */
    }
    if (c->e->o.hash_prompts) {
        char hex[65];
        sha256_final_hex(&q->sha, hex);
        x->req.body_sha256 = strdup(hex);
    }
    if (!q->req_damaged && q->body.max) {   /* every byte of the body seen and kept */
        q->digest = hx_digest(q->body.p, q->body.len);
        q->digest_len = q->body.len;
        q->digest_ok = 1;
        if (q->req_whole && c->e->held)
            hx_resend_match(c, q);
    }
    buf_free(&q->body);
}

/* The server's side has ended (FIN delivered): no response can come any more. */
static int hx_server_gone(const struct hx_conn *c)
{
    return c->cdir >= 0 && c->f->dir[1 - c->cdir].ended;
}

static int hx_req_complete(void *user)
{
    struct hx_side *s = user;
    struct hx_conn *c = s->c;
    struct hx_ex *q = c->req;
    c->req = NULL;
    s->msg_t0 = c->now;          /* a pipelined request may start in this same packet */
    if (!q)
        return 0;
    q->req_whole = 1;
    hx_req_finish(c, q);
    /* sent after the server closed (the keep-alive race): it has failed now, not when the
     * client gets round to closing */
    if (hx_server_gone(c) && !q->resp_started)
        hx_emit(c, q, TLOG_ERROR_RESET, "connection closed before the response ended");
    return 0;
}

static const struct http1_callbacks hx_req_cb = {hx_req_head, hx_req_body, NULL, hx_req_complete};

/* ---- response side ----------------------------------------------------------------------- */

static struct hx_ex *hx_resp_target(struct hx_conn *c)
{
    return c->head;
}

static int hx_resp_head(void *user, const struct http1_head *h)
{
    struct hx_side *s = user;
    struct hx_conn *c = s->c;
    struct hx_ex *q = hx_resp_target(c);
    if (!q) {
        c->e->st.http_errors[CAPTURE_HERR_UNPAIRED]++;
        return 1;                /* nothing asked for this: resynchronise */
    }
    if (h->status >= 100 && h->status < 200 && h->status != 101) {
        q->interim = 1;          /* 100 Continue & co.: the real response follows */
        return 0;
    }
    q->resp_started = 1;
    if (q->skip)
        return 0;
    struct tlog_exchange *x = &q->x;
    int64_t t = s->msg_t0 >= 0 ? s->msg_t0 : c->now;
    x->resp.status = h->status;
    x->resp.ttfb_us = t - x->start_us;
    q->resp_last = c->now - x->start_us;
    for (size_t i = 0; i < h->n_headers; i++)
        tlog_exchange_add_header(x, 1, h->headers[i].name, h->headers[i].name_len,
                                 h->headers[i].value, h->headers[i].value_len);
    const struct http1_header *ct = http1_find_header(h, "content-type");
    free(q->content_type);
    q->content_type = NULL;
    if (ct)
        q->content_type = strndup(ct->value, ct->value_len);
    enum dialect_id d = x->dialect ? dialect_parse_name(x->dialect) : DIALECT_UNKNOWN;
    if (d == DIALECT_UNKNOWN && x->req.path)
        d = dialect_from_path(x->req.path, strlen(x->req.path));
    if (q->has_stream)           /* a second final response for one request: the last wins */
        llm_stream_free(&q->ls);
    llm_stream_init(&q->ls, x, d, h->status, q->content_type, !c->e->o.no_bodies);
    q->has_stream = 1;
    return 0;
}

static int hx_resp_body(void *user, const char *data, size_t len)
{
    struct hx_side *s = user;
    struct hx_conn *c = s->c;
    struct hx_ex *q = hx_resp_target(c);
    if (!q || q->skip || !q->has_stream)
        return 0;
    q->resp_last = c->now - q->x.start_us;
    llm_stream_feed(&q->ls, data, len, q->resp_last);
    return 0;
}

static int hx_resp_complete(void *user)
{
    struct hx_side *s = user;
    struct hx_conn *c = s->c;
    struct hx_ex *q = hx_resp_target(c);
    s->msg_t0 = c->now;
    if (!q)
        return 0;
    if (q->interim) {
        q->interim = 0;
        return 0;
    }
    if (q->has_stream) {
        int64_t off = c->now - q->x.start_us;
        llm_stream_finish(&q->ls, off);
        q->stream_done = 1;
        q->x.resp.end_us = off;
    }
    if (!q->req_done && c->req == q) {
        /* the server answered before the request ended (e.g. 413): close the request side */
        hx_req_finish(c, q);
        c->req = NULL;
    }
    hx_emit(c, q, TLOG_ERROR_NONE, NULL);
    return 0;
}

static const struct http1_callbacks hx_resp_cb = {hx_resp_head, hx_resp_body, NULL,
                                                  hx_resp_complete};

/* ---- feeding and resynchronisation ------------------------------------------------------ */

static void hx_side_reset(struct hx_side *s, enum hx_mode mode)
{
    http1_free(&s->p);
    http1_init(&s->p, s->is_client ? HTTP1_REQUEST : HTTP1_RESPONSE,
               s->is_client ? &hx_req_cb : &hx_resp_cb, s, 1, 0);
    s->mode = mode;
    s->fed = 0;
    s->msg_t0 = -1;
    if (!s->is_client) {
        /* the new parser must know the methods of requests still unanswered */
        for (struct hx_ex *q = s->c->head; q; q = q->next)
            if (!q->resp_started)
                http1_expect_response_to(&s->p, q->x.req.method ? q->x.req.method : "GET",
                                         q->x.req.method ? strlen(q->x.req.method) : 3);
    }
}

static const char *const hx_methods[] = {"GET ", "POST ", "PUT ", "DELETE ", "HEAD ",
                                         "OPTIONS ", "PATCH "};

/* Does a message start at p (n bytes left in this packet)? A candidate cut by the end of the
 * packet counts: the parser will reject it if it was not one. */
static int hx_starts_message(int client, const char *p, size_t n)
{
    if (client) {
        for (size_t i = 0; i < sizeof hx_methods / sizeof hx_methods[0]; i++) {
            size_t l = strlen(hx_methods[i]);
            size_t k = n < l ? n : l;
            if (k >= 3 && !memcmp(p, hx_methods[i], k))
                return 1;
        }
        return 0;
    }
    size_t k = n < 7 ? n : 7;
    return k >= 5 && !memcmp(p, "HTTP/1.", k);
}

/* Offset of the first message start at a line start in data, or -1. */
static long hx_find_start(struct hx_side *s, const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        int at_line = i == 0 ? s->line_start : data[i - 1] == '\n';
        if (at_line && hx_starts_message(s->is_client, data + i, len - i))
            return (long)i;
    }
    if (len)
        s->line_start = data[len - 1] == '\n';
    return -1;
}

static void hx_parse_error(struct hx_conn *c, struct hx_side *s)
{
    struct capture_engine *e = c->e;
    char msg[96];
    snprintf(msg, sizeof msg, "%s: %s", s->is_client ? "request" : "response",
             http1_strerror(http1_error(&s->p)));
    e->st.http_errors[s->is_client ? CAPTURE_HERR_REQUEST : CAPTURE_HERR_RESPONSE]++;
    if (s->is_client) {
        if (c->req) {
            c->req->req_damaged = 1;
            tlog_exchange_set_error(&c->req->x, TLOG_ERROR_MALFORMED, msg);
            hx_req_finish(c, c->req);
            c->req = NULL;
        }
    } else {
        struct hx_ex *q = c->head;
        if (q && q->resp_started)
            hx_emit(c, q, TLOG_ERROR_MALFORMED, msg);
    }
}

static void hx_feed(struct hx_conn *c, struct hx_side *s, const char *data, size_t len)
{
    for (int guard = 0; len && guard < 64; guard++) {
        if (s->mode == HX_RESYNC) {
            if (!s->is_client && !c->head) {
                s->line_start = data[len - 1] == '\n';
                return;          /* no request waiting: whatever this is, it is not ours */
            }
            long at = hx_find_start(s, data, len);
            if (at < 0)
                return;
            data += at;
            len -= (size_t)at;
            hx_side_reset(s, HX_SYNCED);
            c->e->st.resyncs++;
        }
        if (s->msg_t0 < 0)
            s->msg_t0 = c->now;
        uint64_t before = s->fed;
        ssize_t r = http1_feed(&s->p, data, len);
        if (r >= 0) {
            s->fed += (uint64_t)r;
            if (http1_idle(&s->p))
                s->msg_t0 = -1;
            return;
        }
        /* framing broken: record what it hit, resume at the next message start after it */
        size_t pos = http1_error_pos(&s->p);
        size_t used = pos > before ? (size_t)(pos - before) + 1 : 1;
        if (used > len)
            used = len;
        hx_parse_error(c, s);
        s->mode = HX_RESYNC;
        s->line_start = data[used - 1] == '\n';
        data += used;
        len -= used;
    }
}

/* Which direction carries requests? Known from the SYN, the --port filter, or the first
 * request line seen. */
static void hx_pick_client(struct hx_conn *c, int dir, const uint8_t *p, size_t len)
{
    const struct tcpr_flow *f = c->f;
    if (f->client >= 0) {
        c->cdir = f->client == 0 ? 0 : 1;
        return;
    }
    for (size_t i = 0; i < c->e->o.n_ports; i++) {
        if (f->port[1] == c->e->o.ports[i]) {
            c->cdir = 0;
            return;
        }
        if (f->port[0] == c->e->o.ports[i]) {
            c->cdir = 1;
            return;
        }
    }
    struct hx_side probe = {.is_client = 1, .line_start = 1};
    if (hx_find_start(&probe, (const char *)p, len) >= 0)
        c->cdir = dir;
}

static void hx_conn_setup(struct hx_conn *c)
{
    for (int i = 0; i < 2; i++) {
        struct hx_side *s = &c->side[i];
        s->c = c;
        s->is_client = i == 0;
        s->dir = i == 0 ? c->cdir : 1 - c->cdir;
        s->line_start = 1;
        hx_side_reset(s, c->f->midstream ? HX_RESYNC : HX_SYNCED);
    }
}

/* ---- tcpr callbacks ---------------------------------------------------------------------- */

static int eng_on_open(void *user, struct tcpr_flow *f)
{
    struct capture_engine *e = user;
    if (e->o.n_ports) {
        int ok = 0;
        for (size_t i = 0; i < e->o.n_ports; i++)
            ok |= f->port[0] == e->o.ports[i] || f->port[1] == e->o.ports[i];
        if (!ok)
            return 1;
    }
    struct hx_conn *c = calloc(1, sizeof *c);
    if (!c)
        return 1;
    c->e = e;
    c->f = f;
    c->cdir = -1;
    f->app = c;
    return 0;
}

static void eng_on_data(void *user, struct tcpr_flow *f, int dir, const uint8_t *p, size_t len,
                        int64_t ts)
{
    (void)user;
    struct hx_conn *c = f->app;
    c->now = ts;
    if (c->cdir < 0) {
        hx_pick_client(c, dir, p, len);
        if (c->cdir < 0)
            return;              /* server bytes before any request: nothing to pair with */
        hx_conn_setup(c);
    }
    int client = dir == c->cdir;
    struct hx_side *s = &c->side[client ? 0 : 1];
    if (!client && c->head)
        c->head->resp_bytes = 1;
    hx_feed(c, s, (const char *)p, len);
    if (!client && c->head && !http1_idle(&s->p))
        c->head->resp_bytes = 1;  /* the start of its response, not yet a whole status line */
}

static void eng_on_gap(void *user, struct tcpr_flow *f, int dir, uint64_t bytes, int64_t ts)
{
    (void)user;
    struct hx_conn *c = f->app;
    c->now = ts;
    if (c->cdir < 0)
        return;
    char msg[96];
    int client = dir == c->cdir;
    struct hx_side *s = &c->side[client ? 0 : 1];
    snprintf(msg, sizeof msg, "%s: gap of %llu bytes in the capture",
             client ? "request" : "response", (unsigned long long)bytes);
    if (client) {
        if (s->mode == HX_SYNCED && c->req) {
            /* head seen, body cut: the exchange still pairs with its response */
            c->req->req_damaged = 1;
            tlog_exchange_set_error(&c->req->x, TLOG_ERROR_INCOMPLETE, msg);
            hx_req_finish(c, c->req);
            c->req = NULL;
        } else if (s->mode == HX_SYNCED || !c->f->midstream || c->head) {
            /* the gap swallowed (the start of) a request: hold its response's place */
            struct hx_ex *q = hx_ex_new(c, s->msg_t0 >= 0 ? s->msg_t0 : ts);
            if (q) {
                q->skip = q->lost = q->req_done = 1;
                tlog_exchange_set_error(&q->x, TLOG_ERROR_INCOMPLETE, msg);
                http1_expect_response_to(&c->side[1].p, "GET", 3);
            }
        }
    } else {
        struct hx_ex *q = c->head;
        if (q && (s->mode == HX_SYNCED || q->resp_started))
            hx_emit(c, q, TLOG_ERROR_INCOMPLETE, msg);
    }
    s->mode = HX_RESYNC;
    s->line_start = 0;
}

static void eng_on_close(void *user, struct tcpr_flow *f, enum tcpr_close why, int64_t ts)
{
    (void)user;
    struct hx_conn *c = f->app;
    if (!c)
        return;
    c->now = ts;
    enum tlog_error_kind k = why == TCPR_CLOSE_RST || why == TCPR_CLOSE_FIN
                                 ? TLOG_ERROR_RESET : TLOG_ERROR_INCOMPLETE;
    const char *msg = why == TCPR_CLOSE_RST   ? "connection reset before the response ended"
                      : why == TCPR_CLOSE_FIN ? "connection closed before the response ended"
                      : why == TCPR_CLOSE_IDLE ? "flow expired idle mid-exchange"
                                               : "capture ended mid-exchange";
    if (c->cdir >= 0) {
        struct hx_side *sv = &c->side[1];
        /* a close-delimited body ends here; an in-progress one is cut */
        if (sv->mode == HX_SYNCED && why == TCPR_CLOSE_FIN && c->head && c->head->resp_started)
            http1_finish(&sv->p);
        if (c->req) {             /* cut by the close: its body so far still identifies it */
            hx_req_finish(c, c->req);
            tlog_exchange_set_error(&c->req->x, k, msg);
            c->req = NULL;
        }
        while (c->head)
            hx_emit(c, c->head, k, msg);
        http1_free(&c->side[0].p);
        http1_free(&c->side[1].p);
    }
    free(c);
    f->app = NULL;
}

/* The server's FIN ends a close-delimited body at the FIN's packet time. */
static void eng_on_fin(void *user, struct tcpr_flow *f, int dir, int64_t ts)
{
    (void)user;
    struct hx_conn *c = f->app;
    if (!c || c->cdir < 0 || dir == c->cdir)
        return;
    struct hx_side *sv = &c->side[1];
    c->now = ts;
    if (sv->mode == HX_SYNCED && c->head && c->head->resp_started && http1_finish(&sv->p) < 0 &&
        c->head && c->head->resp_started)
        hx_emit(c, c->head, TLOG_ERROR_RESET, "connection closed before the response ended");
    /* nothing more can come from the server: requests sent and still waiting have failed
     * (the one still being sent fails when it ends, hx_req_complete) */
    for (struct hx_ex *q = c->head, *next; q; q = next) {
        next = q->next;
        if (q != c->req && !q->resp_started)
            hx_emit(c, q, TLOG_ERROR_RESET, "connection closed before the response ended");
    }
}

static const struct tcpr_callbacks eng_tcp_cb = {eng_on_open, eng_on_data, eng_on_gap,
                                                 eng_on_close, eng_on_fin};

/* ---- public ------------------------------------------------------------------------------ */

struct capture_engine *capture_engine_new(const struct capture_opts *opts, capture_emit_fn emit,
                                          void *user)
{
    struct capture_engine *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    if (opts)
        e->o = *opts;
    if (!e->o.max_request_body)
        e->o.max_request_body = 16u << 20;
    e->emit = emit;
    e->user = user;
    pkt_decoder_init(&e->pd);
    if (tcpr_init(&e->tcp, &e->o.tcp, &eng_tcp_cb, e) != 0) {
        free(e);
        return NULL;
    }
    return e;
}

void capture_engine_packet(struct capture_engine *e, int dlt, const uint8_t *data, size_t caplen,
                           int64_t ts_us)
{
    struct pkt_tcp t;
    e->st.packets++;
    e->st.bytes += caplen;
    if (e->held)
        hx_held_expire(e, ts_us);
    if (pkt_decode(&e->pd, dlt, data, caplen, ts_us, &t) == PKT_OK)
        tcpr_segment(&e->tcp, &t, ts_us);
}

void capture_engine_tick(struct capture_engine *e, int64_t ts_us)
{
    tcpr_expire(&e->tcp, ts_us);
    hx_held_expire(e, ts_us);
}

/* The capture is over: no re-send can come for what is held. */
static void hx_held_flush(struct capture_engine *e)
{
    while (e->held) {
        e->st.resend_end++;
        hx_held_write(e, e->held, NULL);
    }
}

void capture_engine_finish(struct capture_engine *e, int64_t ts_us)
{
    tcpr_flush(&e->tcp, ts_us);
    hx_held_flush(e);
}

void capture_engine_free(struct capture_engine *e)
{
    if (!e)
        return;
    tcpr_free(&e->tcp, 0);
    hx_held_flush(e);
    pkt_decoder_free(&e->pd);
    free(e);
}

const struct capture_stats *capture_engine_stats(const struct capture_engine *e)
{
    return &e->st;
}

const struct pkt_stats *capture_engine_pkt_stats(const struct capture_engine *e)
{
    return &e->pd.st;
}

const struct tcpr_stats *capture_engine_tcp_stats(const struct capture_engine *e)
{
    return &e->tcp.st;
}

cJSON *capture_engine_stats_json(const struct capture_engine *e)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    const struct capture_stats *s = &e->st;
    const struct pkt_stats *p = &e->pd.st;
    const struct tcpr_stats *t = &e->tcp.st;
    cJSON_AddNumberToObject(o, "packets", (double)s->packets);
    cJSON_AddNumberToObject(o, "bytes", (double)s->bytes);
    cJSON_AddNumberToObject(o, "flows", (double)t->flows);
    cJSON_AddNumberToObject(o, "exchanges", (double)s->exchanges);
    cJSON_AddNumberToObject(o, "incomplete", (double)s->incomplete);
    cJSON_AddNumberToObject(o, "filtered", (double)s->filtered);
    cJSON *rs = cJSON_AddObjectToObject(o, "resends");
    cJSON_AddNumberToObject(rs, "linked", (double)s->resent);
    cJSON_AddNumberToObject(rs, "unlinked_window", (double)s->resend_expired);
    cJSON_AddNumberToObject(rs, "unlinked_cap", (double)s->resend_cap);
    cJSON_AddNumberToObject(rs, "unlinked_end", (double)s->resend_end);
    cJSON *errs = cJSON_AddObjectToObject(o, "errors");
    for (int k = 1; k < TLOG_ERROR_KIND_COUNT; k++)
        if (s->errors[k])
            cJSON_AddNumberToObject(errs, tlog_error_kind_name((enum tlog_error_kind)k),
                                    (double)s->errors[k]);
    cJSON *pe = cJSON_AddObjectToObject(o, "parse_errors");
    cJSON_AddNumberToObject(pe, "truncated", (double)p->truncated);
    cJSON_AddNumberToObject(pe, "invalid", (double)p->invalid);
    cJSON_AddNumberToObject(pe, "unsupported_link", (double)p->unsupported);
    cJSON_AddNumberToObject(pe, "http_request", (double)s->http_errors[CAPTURE_HERR_REQUEST]);
    cJSON_AddNumberToObject(pe, "http_response", (double)s->http_errors[CAPTURE_HERR_RESPONSE]);
    cJSON_AddNumberToObject(pe, "unpaired_response", (double)s->http_errors[CAPTURE_HERR_UNPAIRED]);
    cJSON *ip = cJSON_AddObjectToObject(o, "ip");
    cJSON_AddNumberToObject(ip, "tcp", (double)p->tcp);
    cJSON_AddNumberToObject(ip, "not_tcp", (double)p->not_tcp);
    cJSON_AddNumberToObject(ip, "fragments", (double)p->frags);
    cJSON_AddNumberToObject(ip, "fragments_reassembled", (double)p->frags_reassembled);
    cJSON_AddNumberToObject(ip, "fragments_dropped", (double)p->frags_dropped);
    cJSON *tc = cJSON_AddObjectToObject(o, "tcp");
    cJSON_AddNumberToObject(tc, "segments", (double)t->segments);
    cJSON_AddNumberToObject(tc, "payload_bytes", (double)t->bytes);
    cJSON_AddNumberToObject(tc, "ooo_segments", (double)t->ooo_segments);
    cJSON_AddNumberToObject(tc, "retransmitted_bytes", (double)t->retransmitted_bytes);
    cJSON_AddNumberToObject(tc, "overlap_bytes", (double)t->overlap_bytes);
    cJSON_AddNumberToObject(tc, "gaps", (double)t->gaps);
    cJSON_AddNumberToObject(tc, "gap_bytes", (double)t->gap_bytes);
    cJSON_AddNumberToObject(tc, "resyncs", (double)s->resyncs);
    cJSON_AddNumberToObject(tc, "closed_fin", (double)t->closed_fin);
    cJSON_AddNumberToObject(tc, "closed_rst", (double)t->closed_rst);
    cJSON_AddNumberToObject(tc, "closed_idle", (double)t->closed_idle);
    cJSON_AddNumberToObject(tc, "evicted", (double)t->closed_evicted);
    return o;
}
