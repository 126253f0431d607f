/* proxy.c — the recording reverse proxy (proxy.h): an HTTP/1.1 server (plain, or TLS through
 * OpenSSL memory BIOs so each decrypted byte keeps its read's receive time) on one epoll loop,
 * each request forwarded through formats/net/hclient on the same loop, each response streamed back
 * as it arrives and recorded through formats/dialect/llmstream as capture's engine records
 * wire exchanges (engine.c: same keys, same filters, same event rules).
 *
 * Epoll tokens: hclient registers its own connection structs (heap pointers, so bit 0 is
 * clear); ours carry bit 0 set, which is how one loop tells them apart.
 *
 * One exchange at a time per client connection (responses must go back in request order):
 * bytes of a pipelined next request wait in the connection's input buffer. Work that must not
 * happen inside hclient's callbacks (hc_cancel, hc_submit, freeing) is done for the
 * connections marked dirty after each epoll batch (px_sweep). */
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "clock.h"
#include "dialect.h"
#include "hclient.h"
#include "http1.h"
#include "llmstream.h"
#include "redact.h"
#include "sha256.h"

#define PX_READ_BUF      65536
#define PX_MAX_SEGS      32           /* buffered client reads (pipelined requests) */
#define PX_MAX_IN        (1u << 20)   /* buffered client bytes while an exchange is active */
#define PX_MAX_EVENTS    256
#define PX_IDLE_NS       (300 * 1000000000LL) /* a client connection with nothing in flight */

enum px_tok_kind { PX_TOK_LISTEN = 1, PX_TOK_CONN };
enum px_out_mode { PX_OUT_LENGTH = 0, PX_OUT_CHUNKED, PX_OUT_CLOSE, PX_OUT_NONE };

struct px_conn;

struct px_ex {                        /* one request: read, forwarded, answered, recorded */
    struct px_conn *c;
    struct hc_req r;
    struct tlog_exchange x;
    int record;                       /* passes the filters */
    int req_done;                     /* the request is whole */
    int submitted;                    /* handed to hclient */
    int up_done;                      /* hclient's on_done ran */
    int head_sent;                    /* a response head went to the client */
    int failed_mid;                   /* upstream failed after the head: cut the client */
    int http2;
    int is_head;                      /* HEAD request: no body comes back */
    int client_minor;                 /* HTTP/1.x of the client */
    int client_keep;                  /* the client allows keep-alive */
    enum px_out_mode mode;
    int has_stream;
    struct llm_stream ls;
    char *method, *target;
    struct buf hdrs;                  /* header lines forwarded upstream */
    struct buf body;                  /* request body */
    struct sha256 sha;
    int64_t t0_ns;                    /* kernel receive time of the request's first byte */
    uint64_t end_pos;                 /* c->queued after the response's last byte */
    uint64_t *ev_pos;                 /* per event: c->queued once its bytes were queued */
    int64_t *ev_write;                /* per event: write time (mono ns), -1 not yet */
    size_t n_ev, cap_ev, n_stamped;
    enum hc_error up_err;
    char up_msg[200];
    int upstream_port, upstream_new;
    int64_t upstream_connect_ns;
    int client_status;                /* what the client was answered (502 on a failure) */
    struct px_ex *rec_next;           /* waiting to be recorded (px_finish) */
    enum tlog_error_kind rec_why;
    char rec_msg[200];
    int64_t rec_since_ns;
    int64_t last_rx_ns;               /* receive time of the last response bytes */
};

struct px_tok {
    enum px_tok_kind kind;
};

struct px_conn {
    struct px_tok tok;
    struct proxy *p;
    struct px_conn *next, *prev;      /* every client connection */
    struct px_conn *dirty_next;
    int dirty;
    int fd;
    uint32_t ev;
    uint64_t id;
    unsigned n_ex;
    char peer[64], self[64];
    struct http1_parser *hp;
    int parse_err;                    /* the request parser failed: answered, closing */
    struct buf in;                    /* client bytes not yet parsed */
    size_t in_off;
    struct { size_t end; int64_t rx; } seg[PX_MAX_SEGS];
    int n_seg;
    int64_t msg_t0;                   /* receive time of the current message's first byte */
    int in_msg;                       /* a message's first byte has been fed */
    struct buf out;                   /* to the client, not yet taken by the socket */
    size_t out_off;
    uint64_t queued, written;         /* cumulative bytes */
    struct px_ex *ex;                 /* the current exchange */
    int gone;                         /* the client closed or failed: stop everything */
    int eof;                          /* the client's FIN arrived */
    int closing;                      /* close once out is drained */
    int paused;                       /* upstream paused for this connection's backlog */
    int64_t active_ns;                /* last byte read from or written to the client */
    SSL *ssl;                         /* --tls-cert: the client's TLS, over memory BIOs */
    BIO *rbio, *wbio;
};

struct proxy {
    struct proxy_opts o;
    struct capture_opts f;
    proxy_emit_fn emit;
    proxy_tick_fn tick;
    void *user;
    int epfd;
    int lfd;
    struct px_tok ltok;
    char listen_name[80];
    char *upstream_shown;
    struct hc_engine *hc;
    SSL_CTX *tls;                     /* the TLS listener's context; NULL: plain HTTP */
    struct clock_map map;             /* mono → epoch for start_us */
    int64_t real_minus_mono;          /* for kernel receive stamps (CLOCK_REALTIME) */
    struct px_conn *conns;
    int n_conns;
    struct px_conn *dirty;
    uint64_t next_id;
    int accepting;
    int listen_off;                   /* at max_conns: the listener is out of epoll's set */
    int emit_failed;
    struct px_ex *rec_head, *rec_tail; /* finished exchanges not yet recorded */
    size_t n_rec;
    char *rbuf;
    struct buf line;
    struct proxy_stats st;
};

static const struct hc_callbacks px_hc_cb;
static const struct http1_callbacks px_req_cb;

static void *px_token(void *p) { return (char *)p + 1; }

static void px_mark(struct px_conn *c)
{
    if (c->dirty)
        return;
    c->dirty = 1;
    c->dirty_next = c->p->dirty;
    c->p->dirty = c;
}

static int64_t px_mono_from_real(const struct proxy *p, const struct timespec *ts)
{
    int64_t t = (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec - p->real_minus_mono;
    int64_t now = clock_mono_ns();
    return t <= now ? t : now;
}

static void px_epoll(struct px_conn *c, uint32_t ev)
{
    if (c->fd < 0 || ev == c->ev)
        return;
    struct epoll_event ee = {.events = ev, .data.ptr = px_token(&c->tok)};
    if (epoll_ctl(c->p->epfd, c->ev ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ee) == 0)
        c->ev = ev;
}

/* ---- exchanges ------------------------------------------------------------------------------ */

static void px_ex_free(struct px_ex *q)
{
    if (!q)
        return;
    if (q->has_stream)
        llm_stream_free(&q->ls);
    tlog_exchange_free(&q->x);
    buf_free(&q->hdrs);
    buf_free(&q->body);
    free(q->method);
    free(q->target);
    free(q->ev_pos);
    free(q->ev_write);
    free(q);
}

static enum tlog_error_kind px_kind(enum hc_error e)
{
    switch (e) {
    case HC_OK: return TLOG_ERROR_NONE;
    case HC_E_CONNECT: return TLOG_ERROR_CONNECT;
    case HC_E_CONNECT_TIMEOUT: return TLOG_ERROR_CONNECT_TIMEOUT;
    case HC_E_TLS: return TLOG_ERROR_TLS;
    case HC_E_RESET: case HC_E_STREAM_RESET: return TLOG_ERROR_RESET;
    case HC_E_PROTOCOL: return TLOG_ERROR_MALFORMED;
    case HC_E_CANCELLED: return TLOG_ERROR_CANCELLED;
    default: return TLOG_ERROR_OTHER;
    }
}

/* Writes q's record (when it passes the filters). why: the proxy's verdict, which replaces
 * the stream decoder's own "missing terminator" (only a consequence of it). */
static void px_record(struct proxy *p, struct px_ex *q, enum tlog_error_kind why, const char *msg)
{
    struct tlog_exchange *x = &q->x;
    if (!q->record || p->emit_failed)
        return;
    if (q->has_stream && x->resp.end_us < 0) {
        /* cut short (client gone, proxy stopped): the last response byte that arrived */
        int64_t end = ((q->last_rx_ns > 0 ? q->last_rx_ns : q->rec_since_ns) - q->t0_ns) / 1000;
        llm_stream_finish(&q->ls, end);
        x->resp.end_us = end;
    } else if (q->has_stream) {
        llm_stream_finish(&q->ls, x->resp.end_us);
    }
    if (why != TLOG_ERROR_NONE)
        tlog_exchange_set_error(x, why, msg);
    if (!q->has_stream)
        tlog_exchange_derive_tokens(x);
    /* write times, parallel to the events the record keeps */
    size_t n = x->resp.n_events < q->n_ev ? x->resp.n_events : q->n_ev;
    if (x->resp.n_events) {
        int64_t *w = malloc(x->resp.n_events * sizeof *w);
        if (w) {
            for (size_t i = 0; i < x->resp.n_events; i++) {
                w[i] = -1;
                if (i < n && q->ev_write[i] >= 0) {
                    w[i] = (q->ev_write[i] - q->t0_ns) / 1000;
                    if (w[i] < x->resp.events[i].offset_us)
                        w[i] = x->resp.events[i].offset_us; /* µs rounding */
                    int64_t added = w[i] - x->resp.events[i].offset_us;
                    if (added > p->st.added_max_us)
                        p->st.added_max_us = added;
                }
            }
            tlog_exchange_set_write_times(x, w, x->resp.n_events);
            free(w);
        }
    }
    cJSON *up = cJSON_CreateObject();
    if (up) {
        if (q->upstream_port)
            cJSON_AddNumberToObject(up, "local_port", q->upstream_port);
        if (q->submitted && q->upstream_port) {
            cJSON_AddBoolToObject(up, "conn_new", q->upstream_new);
            if (q->upstream_new && q->upstream_connect_ns >= 0)
                cJSON_AddNumberToObject(up, "connect_us",
                                        (double)(q->upstream_connect_ns / 1000));
            cJSON_AddBoolToObject(up, "http2", q->http2);
        }
        cJSON_AddNumberToObject(up, "client_status", q->client_status);
        if (!x->extra)
            x->extra = cJSON_CreateObject();
        if (x->extra)
            cJSON_AddItemToObject(x->extra, "proxy", up);
        else
            cJSON_Delete(up);
    }
    p->st.exchanges++;
    p->st.events += x->resp.n_events;
    p->st.errors[x->error_kind < TLOG_ERROR_KIND_COUNT ? x->error_kind : TLOG_ERROR_OTHER]++;
    if (p->emit(p->user, x))
        p->emit_failed = 1;
}

/* q is over (its last byte written, or never to be): it is recorded when the loop has nothing
 * to forward (px_record_some), so that serializing and compressing records never delays the
 * events of other streams arriving in the same burst. Takes q from its connection. */
static void px_finish(struct proxy *p, struct px_ex *q, enum tlog_error_kind why, const char *msg)
{
    if (!q->record || !q->submitted || p->emit_failed) {
        px_ex_free(q);
        return;
    }
    q->c = NULL;
    q->rec_why = why;
    snprintf(q->rec_msg, sizeof q->rec_msg, "%s", msg ? msg : "");
    q->rec_since_ns = clock_mono_ns();
    q->rec_next = NULL;
    if (p->rec_tail)
        p->rec_tail->rec_next = q;
    else
        p->rec_head = q;
    p->rec_tail = q;
    p->n_rec++;
}

/* Records up to max finished exchanges (max 0: all), oldest first. */
static void px_record_some(struct proxy *p, size_t max)
{
    for (size_t i = 0; p->rec_head && (!max || i < max); i++) {
        struct px_ex *q = p->rec_head;
        p->rec_head = q->rec_next;
        if (!p->rec_head)
            p->rec_tail = NULL;
        p->n_rec--;
        px_record(p, q, q->rec_why, q->rec_why == TLOG_ERROR_NONE ? NULL : q->rec_msg);
        px_ex_free(q);
    }
}

/* ---- output to the client ------------------------------------------------------------------- */

static int px_queue_raw(struct px_conn *c, const void *d, size_t n)
{
    if (c->gone)
        return -1;
    if (c->out_off && c->out_off == c->out.len) {
        buf_reset(&c->out);
        c->out_off = 0;
    } else if (c->out_off > 65536 && c->out_off > c->out.len / 2) {
        buf_consume(&c->out, c->out_off);
        c->out_off = 0;
    }
    if (buf_append(&c->out, d, n)) {
        c->gone = 1;             /* out of memory: give up this client */
        px_mark(c);
        return -1;
    }
    c->queued += n;
    return 0;
}

/* Moves what OpenSSL wrote (handshake, records) to the output. */
static int px_tls_drain(struct px_conn *c)
{
    char tmp[16384];
    int n;
    while ((n = BIO_read(c->wbio, tmp, sizeof tmp)) > 0)
        if (px_queue_raw(c, tmp, (size_t)n))
            return -1;
    return 0;
}

/* Queues plaintext for the client (encrypted first on a TLS listener). c->queued and
 * c->written count the bytes on the socket, so event positions work the same either way. */
static int px_queue(struct px_conn *c, const void *d, size_t n)
{
    if (!c->ssl)
        return px_queue_raw(c, d, n);
    if (c->gone)
        return -1;
    if (n && SSL_write(c->ssl, d, (int)n) != (int)n) {
        ERR_clear_error();
        c->gone = 1;
        px_mark(c);
        return -1;
    }
    return px_tls_drain(c);
}

static size_t px_pending(const struct px_conn *c)
{
    return c->out.len - c->out_off;
}

static void px_conn_events(struct px_conn *c);

/* Hands what it can to the socket, stamps the events whose bytes are all taken, and ends a
 * pause once the backlog has halved. */
static void px_flush(struct px_conn *c)
{
    while (!c->gone && c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c->out_off += (size_t)n;
            c->written += (uint64_t)n;
            c->active_ns = clock_mono_ns();
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            break;
        c->gone = 1;             /* EPIPE, ECONNRESET: the client is gone */
        px_mark(c);
        break;
    }
    struct px_ex *q = c->ex;
    if (q && !c->gone && q->n_stamped < q->n_ev && q->ev_pos[q->n_stamped] <= c->written) {
        int64_t now = clock_mono_ns();
        while (q->n_stamped < q->n_ev && q->ev_pos[q->n_stamped] <= c->written)
            q->ev_write[q->n_stamped++] = now;
    }
    if (q && c->paused && !c->gone && px_pending(c) <= c->p->o.max_pending / 2) {
        c->paused = 0;
        hc_pause(c->p->hc, &q->r, 0);
    }
    if (q && q->up_done && c->written >= q->end_pos)
        px_mark(c);
    px_conn_events(c);
}

/* Which epoll events the connection wants now. */
static void px_conn_events(struct px_conn *c)
{
    if (c->gone || c->fd < 0)
        return;
    uint32_t ev = c->eof ? 0 : EPOLLRDHUP;
    /* reading: always between exchanges and while a request is read; during a response
     * only while the input buffer has room (its bytes are the next requests), but EPOLLRDHUP
     * stays so a client that leaves is seen at once */
    if (!c->eof && c->n_seg < PX_MAX_SEGS && c->in.len - c->in_off < PX_MAX_IN && !c->closing)
        ev |= EPOLLIN;
    if (c->out_off < c->out.len)
        ev |= EPOLLOUT;
    px_epoll(c, ev);
}

static const char *px_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
    }
}

/* An answer of the proxy's own (400, 413, 502…): a JSON error body in the request's dialect
 * (Anthropic's shape for /v1/messages, Ollama's for /api/…, OpenAI's otherwise). */
static void px_answer(struct px_conn *c, int status, const char *type, const char *msg,
                      const char *path, int close_after)
{
    struct buf b;
    buf_init(&b, 1u << 16);
    enum dialect_id d = path ? dialect_from_path(path, strlen(path)) : DIALECT_UNKNOWN;
    struct buf m;
    buf_init(&m, 4096);
    buf_append_json_str(&m, msg, strlen(msg) > 1000 ? 1000 : strlen(msg));
    const char *ms = m.p ? m.p : "";
    if (d == DIALECT_ANTHROPIC)
        buf_printf(&b, "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":\"%s\"}}",
                   type, ms);
    else if (d == DIALECT_OLLAMA_GENERATE || d == DIALECT_OLLAMA_CHAT)
        buf_printf(&b, "{\"error\":\"%s\"}", ms);
    else
        buf_printf(&b, "{\"error\":{\"message\":\"%s\",\"type\":\"%s\",\"code\":%d}}", ms,
                   type, status);
    char head[256];
    int hn = snprintf(head, sizeof head,
                      "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\n%s\r\n",
                      status, px_reason(status), b.len, close_after ? "Connection: close\r\n" : "");
    px_queue(c, head, (size_t)hn);
    px_queue(c, b.p ? b.p : "", b.len);
    buf_free(&b);
    buf_free(&m);
    if (close_after)
        c->closing = 1;
}

/* ---- upstream callbacks (inside hclient: no hc_submit / hc_cancel / free here) -------------- */

static void px_on_start(void *user, const struct hc_start *s)
{
    struct px_ex *q = user;
    q->upstream_port = s->local_port;
    q->upstream_new = s->conn_new;
    q->upstream_connect_ns = s->connect_ns;
    q->http2 = s->http2;
}

static void px_on_resend(void *user, const struct hc_attempt *a)
{
    (void)user;
    (void)a;                     /* hclient re-sends only what no byte answered: invisible */
}

static int px_hop_header(const char *n, size_t l)
{
    static const char *const hop[] = {"connection", "keep-alive", "transfer-encoding", "te",
                                      "trailer", "upgrade", "proxy-connection",
                                      "proxy-authenticate", "proxy-authorization"};
    for (size_t i = 0; i < sizeof hop / sizeof hop[0]; i++)
        if (strlen(hop[i]) == l && !strncasecmp(n, hop[i], l))
            return 1;
    return 0;
}

static int px_is(const char *n, size_t l, const char *what)
{
    return strlen(what) == l && !strncasecmp(n, what, l);
}

static void px_on_head(void *user, int status, const struct hc_header *h, size_t n, int64_t rx)
{
    struct px_ex *q = user;
    struct px_conn *c = q->c;
    struct tlog_exchange *x = &q->x;
    x->resp.status = status;
    x->resp.ttfb_us = (rx - q->t0_ns) / 1000;
    q->last_rx_ns = rx;
    const char *ct = NULL;
    size_t ct_len = 0;
    int64_t clen = -1;
    int te = 0;                  /* a Transfer-Encoding: its framing wins over Content-Length */
    int inflated = 0;            /* hclient inflates gzip on HTTP/1.1 */
    for (size_t i = 0; i < n; i++) {
        if (q->record)
            tlog_exchange_add_header(x, 1, h[i].name, h[i].name_len, h[i].value, h[i].value_len);
        if (px_is(h[i].name, h[i].name_len, "content-type")) {
            ct = h[i].value;
            ct_len = h[i].value_len;
        } else if (px_is(h[i].name, h[i].name_len, "content-length")) {
            char tmp[32];
            size_t l = h[i].value_len < sizeof tmp - 1 ? h[i].value_len : sizeof tmp - 1;
            memcpy(tmp, h[i].value, l);
            tmp[l] = 0;
            char *end;
            long long v = strtoll(tmp, &end, 10);
            if (end != tmp && !*end && v >= 0)
                clen = v;
        } else if (px_is(h[i].name, h[i].name_len, "transfer-encoding")) {
            te = 1;
        } else if (!q->http2 && px_is(h[i].name, h[i].name_len, "content-encoding") &&
                   (px_is(h[i].value, h[i].value_len, "gzip") ||
                    px_is(h[i].value, h[i].value_len, "x-gzip"))) {
            inflated = 1;
        }
    }
    if (q->is_head || status == 204 || status == 304)
        q->mode = PX_OUT_NONE;
    else if (clen >= 0 && !inflated && !te)
        q->mode = PX_OUT_LENGTH;
    else if (q->client_minor >= 1)
        q->mode = PX_OUT_CHUNKED;
    else
        q->mode = PX_OUT_CLOSE;
    if (q->mode == PX_OUT_CLOSE || !q->client_keep)
        c->closing = 1;
    q->client_status = status;
    if (!c->gone) {
        struct buf b;
        buf_init(&b, 4u << 20); /* (HTTP/2 header lists are not bounded by http1's 64 KiB) */
        buf_printf(&b, "HTTP/1.1 %d %s\r\n", status, px_reason(status));
        for (size_t i = 0; i < n; i++) {
            if (px_hop_header(h[i].name, h[i].name_len) ||
                (h[i].name_len && h[i].name[0] == ':'))
                continue;
            if (px_is(h[i].name, h[i].name_len, "content-length") && q->mode != PX_OUT_LENGTH &&
                q->mode != PX_OUT_NONE)
                continue;
            if (inflated && px_is(h[i].name, h[i].name_len, "content-encoding"))
                continue;
            buf_append(&b, h[i].name, h[i].name_len);
            buf_append(&b, ": ", 2);
            buf_append(&b, h[i].value, h[i].value_len);
            buf_append(&b, "\r\n", 2);
        }
        if (q->mode == PX_OUT_CHUNKED)
            buf_append_str(&b, "Transfer-Encoding: chunked\r\n");
        if (c->closing)
            buf_append_str(&b, "Connection: close\r\n");
        buf_append(&b, "\r\n", 2);
        px_queue(c, b.p, b.len);
        buf_free(&b);
        q->head_sent = 1;
    }
    if (q->record) {
        char ctb[256];
        size_t l = ct_len < sizeof ctb - 1 ? ct_len : sizeof ctb - 1;
        if (ct)
            memcpy(ctb, ct, l);
        ctb[l] = 0;
        enum dialect_id d = x->dialect ? dialect_parse_name(x->dialect) : DIALECT_UNKNOWN;
        if (d == DIALECT_UNKNOWN && x->req.path)
            d = dialect_from_path(x->req.path, strlen(x->req.path));
        llm_stream_init(&q->ls, x, d, status, ct ? ctb : NULL, !c->p->f.no_bodies);
        q->has_stream = 1;
    }
    px_flush(c);
}

static int px_ev_reserve(struct px_ex *q, size_t need)
{
    if (need <= q->cap_ev)
        return 0;
    size_t nc = q->cap_ev ? q->cap_ev * 2 : 64;
    while (nc < need)
        nc *= 2;
    uint64_t *np = realloc(q->ev_pos, nc * sizeof *np);
    if (!np)
        return -1;
    q->ev_pos = np;
    int64_t *nw = realloc(q->ev_write, nc * sizeof *nw);
    if (!nw)
        return -1;
    q->ev_write = nw;
    q->cap_ev = nc;
    return 0;
}

static void px_on_body(void *user, const char *data, size_t len, int64_t rx)
{
    struct px_ex *q = user;
    struct px_conn *c = q->c;
    q->last_rx_ns = rx;
    if (!c->gone && q->mode != PX_OUT_NONE) {
        if (q->mode == PX_OUT_CHUNKED) {
            char sz[24];
            int k = snprintf(sz, sizeof sz, "%zx\r\n", len);
            px_queue(c, sz, (size_t)k);
            px_queue(c, data, len);
            px_queue(c, "\r\n", 2);
        } else {
            px_queue(c, data, len);
        }
    }
    if (q->has_stream) {
        size_t before = q->x.resp.n_events;
        llm_stream_feed(&q->ls, data, len, (rx - q->t0_ns) / 1000);
        size_t after = q->x.resp.n_events;
        if (after > before && px_ev_reserve(q, after) == 0) {
            for (size_t i = q->n_ev; i < after; i++) {
                q->ev_pos[i] = c->queued;
                q->ev_write[i] = -1;
            }
            q->n_ev = after;
        }
    }
    px_flush(c);
    if (!c->gone && !c->paused && px_pending(c) > c->p->o.max_pending) {
        c->paused = 1;           /* a slow client: let TCP hold the upstream back */
        c->p->st.pauses++;
        hc_pause(c->p->hc, &q->r, 1);
    }
}

static void px_on_done(void *user, const struct hc_result *r)
{
    struct px_ex *q = user;
    struct px_conn *c = q->c;
    q->up_done = 1;
    q->up_err = r->err;
    snprintf(q->up_msg, sizeof q->up_msg, "%s", r->msg);
    c->paused = 0;               /* the finished request's pause is released by hclient */
    if (r->end_ns > 0 && q->t0_ns > 0)
        q->x.resp.end_us = (r->end_ns - q->t0_ns) / 1000;
    if (r->err != HC_OK && !q->head_sent) {
        c->p->st.upstream_errors++;
        q->client_status = 502;
        char m[300];
        snprintf(m, sizeof m, "upstream: %s", r->msg[0] ? r->msg : hc_strerror(r->err));
        if (!c->gone)
            px_answer(c, 502, "upstream_error", m, q->target, !q->client_keep);
    } else if (r->err != HC_OK) {
        q->failed_mid = 1;       /* the client's stream ends the way the upstream's did */
        c->closing = 1;
    } else if (q->mode == PX_OUT_CHUNKED && !c->gone) {
        px_queue(c, "0\r\n\r\n", 5);
    }
    q->end_pos = c->queued;
    px_mark(c);
    px_flush(c);
}

static const struct hc_callbacks px_hc_cb = {px_on_start, px_on_resend, px_on_head, px_on_body,
                                             px_on_done};

/* ---- the request side ----------------------------------------------------------------------- */

static int px_path_wanted(const struct capture_opts *f, const char *p, size_t n)
{
    if (f->all_paths)
        return 1;
    if (!f->n_path_prefixes)
        return dialect_from_path(p, n) != DIALECT_UNKNOWN;
    for (size_t i = 0; i < f->n_path_prefixes; i++) {
        size_t l = strlen(f->path_prefixes[i]);
        if (l <= n && !memcmp(p, f->path_prefixes[i], l))
            return 1;
    }
    return 0;
}

static int px_host_wanted(const struct capture_opts *f, const struct http1_head *h)
{
    if (!f->n_hosts)
        return 1;
    const struct http1_header *hh = http1_find_header(h, "host");
    if (!hh)
        return 0;
    size_t n = hh->value_len;
    const char *colon = memchr(hh->value, ':', n);
    if (colon && hh->value[0] != '[')
        n = (size_t)(colon - hh->value);
    for (size_t i = 0; i < f->n_hosts; i++)
        if (strlen(f->hosts[i]) == n && !strncasecmp(hh->value, f->hosts[i], n))
            return 1;
    return 0;
}

static int px_req_head(void *user, const struct http1_head *h)
{
    struct px_conn *c = user;
    struct proxy *p = c->p;
    struct px_ex *q = calloc(1, sizeof *q);
    if (!q)
        return 1;
    q->c = c;
    c->ex = q;
    tlog_exchange_init(&q->x);
    buf_init(&q->hdrs, HTTP1_MAX_HEAD + 1024);
    buf_init(&q->body, p->o.max_request_body);
    sha256_init(&q->sha);
    q->t0_ns = c->msg_t0;
    q->client_minor = h->version_minor;
    q->client_keep = h->keep_alive;
    q->method = strndup(h->method, h->method_len);
    q->target = strndup(h->target, h->target_len);
    q->is_head = h->method_len == 4 && !memcmp(h->method, "HEAD", 4);
    if (!q->method || !q->target)
        return 1;
    c->n_ex++;
    q->record = px_path_wanted(&p->f, h->target, h->target_len) && px_host_wanted(&p->f, h);
    if (!q->record)
        p->st.filtered++;
    struct tlog_exchange *x = &q->x;
    int expect = 0;
    for (size_t i = 0; i < h->n_headers; i++) {
        const struct http1_header *hh = &h->headers[i];
        if (q->record)
            tlog_exchange_add_header(x, 0, hh->name, hh->name_len, hh->value, hh->value_len);
        if (px_is(hh->name, hh->name_len, "expect")) {
            expect = hh->value_len == 12 && !strncasecmp(hh->value, "100-continue", 12);
            continue;
        }
        /* the engine writes Host (the upstream's), Content-Length and Connection */
        if (px_hop_header(hh->name, hh->name_len) || px_is(hh->name, hh->name_len, "host") ||
            px_is(hh->name, hh->name_len, "content-length"))
            continue;
        if (p->o.api_key && px_is(hh->name, hh->name_len, "authorization"))
            continue;
        buf_append(&q->hdrs, hh->name, hh->name_len);
        buf_append(&q->hdrs, ": ", 2);
        buf_append(&q->hdrs, hh->value, hh->value_len);
        buf_append(&q->hdrs, "\r\n", 2);
    }
    if (p->o.api_key)
        buf_printf(&q->hdrs, "Authorization: Bearer %s\r\n", p->o.api_key);
    if (q->record) {
        x->req.method = strdup(q->method);
        x->req.path = strdup(q->target);
        const struct http1_header *host = http1_find_header(h, "host");
        if (host)
            x->req.host = strndup(host->value, host->value_len);
        x->req.body_bytes = 0;
        char id[48], conn[140];
        snprintf(id, sizeof id, "%llu.%u", (unsigned long long)c->id, c->n_ex);
        x->id = strdup(id);
        snprintf(conn, sizeof conn, "%s>%s", c->peer, c->self);
        x->conn = strdup(conn);
        x->conn_new = c->n_ex == 1;
    }
    if (h->content_length > (int64_t)p->o.max_request_body) {
        p->st.bad_requests++;
        px_answer(c, 413, "invalid_request_error", "request body too large", q->target, 1);
        return 1;
    }
    if (expect && h->content_length != 0)
        px_queue(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    return 0;
}

static int px_req_body(void *user, const char *data, size_t len)
{
    struct px_conn *c = user;
    struct px_ex *q = c->ex;
    if (!q)
        return 1;
    if (buf_append(&q->body, data, len)) {
        c->p->st.bad_requests++;
        px_answer(c, 413, "invalid_request_error", "request body too large", q->target, 1);
        return 1;
    }
    if (c->p->f.hash_prompts)
        sha256_update(&q->sha, data, len);
    return 0;
}

static int px_req_complete(void *user)
{
    struct px_conn *c = user;
    if (c->ex)
        c->ex->req_done = 1;
    c->in_msg = 0;
    return HTTP1_E_PAUSED;       /* one exchange at a time: the rest waits in c->in */
}

static const struct http1_callbacks px_req_cb = {px_req_head, px_req_body, NULL, px_req_complete};

/* The request is whole: record its body, hand it upstream. */
static void px_submit(struct px_conn *c)
{
    struct proxy *p = c->p;
    struct px_ex *q = c->ex;
    struct tlog_exchange *x = &q->x;
    if (q->record) {
        x->start_us = clock_map_epoch_us(&p->map, q->t0_ns);
        x->req.body_bytes = (int64_t)q->body.len;
        cJSON *body = q->body.len ? cJSON_ParseWithLength(q->body.p, q->body.len) : NULL;
        x->req.body = body;
        enum dialect_id d = dialect_from_request(q->target, strlen(q->target), body);
        if (d != DIALECT_UNKNOWN)
            x->dialect = strdup(dialect_name(d));
        if (body) {
            struct dialect_request_info ri;
            if (dialect_request_info(d, body, &ri) == 0) {
                if (ri.model)
                    x->model = strdup(ri.model);
                x->stream = ri.stream;
            }
        } else if (q->body.len && !p->f.no_bodies) {
            x->req.body = cJSON_CreateString(q->body.p);
        }
        if (p->f.hash_prompts) {
            char hex[65];
            sha256_final_hex(&q->sha, hex);
            x->req.body_sha256 = strdup(hex);
        }
    }
    q->r.method = q->method;
    q->r.target = q->target;
    q->r.headers = q->hdrs.p ? q->hdrs.p : "";
    q->r.headers_len = q->hdrs.len;
    q->r.body = q->body.p;
    q->r.body_len = q->body.len;
    q->r.cb = &px_hc_cb;
    q->r.user = q;
    q->submitted = 1;
    p->st.requests++;
    if (hc_submit(p->hc, &q->r)) {
        struct hc_result r = {.err = HC_E_NOMEM, .end_ns = clock_mono_ns()};
        snprintf(r.msg, sizeof r.msg, "request too large or out of memory");
        q->submitted = 0;
        px_on_done(q, &r);
    }
}

/* Feeds buffered client bytes to the request parser until an exchange is under way. */
static void px_parse(struct px_conn *c)
{
    while (!c->ex || !c->ex->req_done) {
        if (c->gone || c->parse_err || c->closing || c->in_off >= c->in.len)
            break;
        size_t end = c->n_seg ? c->seg[0].end : c->in.len;
        int64_t rx = c->n_seg ? c->seg[0].rx : clock_mono_ns();
        if (!c->in_msg) {        /* this byte starts a message: its t0 */
            c->in_msg = 1;
            c->msg_t0 = rx;
        }
        ssize_t k = http1_feed(c->hp, c->in.p + c->in_off, end - c->in_off);
        if (k < 0) {
            c->parse_err = 1;
            if (!c->closing) {   /* (a 413 from a callback has answered already) */
                c->p->st.bad_requests++;
                char m[160];
                snprintf(m, sizeof m, "bad request: %s at byte %zu", http1_strerror((int)k),
                         http1_error_pos(c->hp));
                int big = k == HTTP1_E_HEAD_TOO_LARGE || k == HTTP1_E_TOO_MANY_HEADERS ||
                          k == HTTP1_E_LINE_TOO_LONG;
                px_answer(c, big ? 431 : 400,
                          "invalid_request_error", m, c->ex ? c->ex->target : NULL, 1);
            }
            px_ex_free(c->ex);   /* never forwarded: nothing to record */
            c->ex = NULL;
            break;
        }
        c->in_off += (size_t)k;
        while (c->n_seg && c->seg[0].end <= c->in_off) {
            memmove(c->seg, c->seg + 1, (size_t)(c->n_seg - 1) * sizeof c->seg[0]);
            c->n_seg--;
        }
        if (k == 0 && !(c->ex && c->ex->req_done))
            break;
    }
    if (c->in_off == c->in.len) {
        buf_reset(&c->in);
        c->in_off = 0;
        c->n_seg = 0;
    }
    if (c->ex && c->ex->req_done && !c->ex->submitted && !c->ex->up_done)
        px_submit(c);
}

/* ---- client connections --------------------------------------------------------------------- */

static void px_fmt_addr(const struct sockaddr_storage *ss, char *out, size_t n)
{
    char a[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof a);
        snprintf(out, n, "[%s]:%u", a, ntohs(s6->sin6_port));
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &s4->sin_addr, a, sizeof a);
        snprintf(out, n, "%s:%u", a, ntohs(s4->sin_port));
    }
}

static void px_conn_free(struct px_conn *c)
{
    struct proxy *p = c->p;
    if (c->fd >= 0) {
        epoll_ctl(p->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        p->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    p->n_conns--;
    if (p->listen_off && p->accepting && p->n_conns < p->o.max_conns) {
        struct epoll_event ee = {.events = EPOLLIN, .data.ptr = px_token(&p->ltok)};
        if (epoll_ctl(p->epfd, EPOLL_CTL_MOD, p->lfd, &ee) == 0)
            p->listen_off = 0;
    }
    if (c->hp) {
        http1_free(c->hp);
        free(c->hp);
    }
    buf_free(&c->in);
    buf_free(&c->out);
    SSL_free(c->ssl);            /* (frees both BIOs) */
    free(c);
}

static void px_accept(struct proxy *p)
{
    if (p->n_conns >= p->o.max_conns && !p->listen_off) {
        /* full: leave the rest in the backlog until a connection ends */
        struct epoll_event ee = {.events = 0, .data.ptr = px_token(&p->ltok)};
        if (epoll_ctl(p->epfd, EPOLL_CTL_MOD, p->lfd, &ee) == 0)
            p->listen_off = 1;
        return;
    }
    for (int i = 0; i < 64 && p->accepting && p->n_conns < p->o.max_conns; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(p->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;              /* EAGAIN, or a client that left before accept */
        struct px_conn *c = calloc(1, sizeof *c);
        struct http1_parser *hp = c ? malloc(sizeof *hp) : NULL;
        if (!hp) {
            free(c);
            close(fd);
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
        c->tok.kind = PX_TOK_CONN;
        c->p = p;
        c->fd = fd;
        c->hp = hp;
        c->id = ++p->next_id;
        c->active_ns = clock_mono_ns();
        http1_init(hp, HTTP1_REQUEST, &px_req_cb, c, 0, p->o.max_request_body);
        buf_init(&c->in, PX_MAX_IN + 4 * PX_READ_BUF);
        /* the cap bounds memory; a response is paused well before it (max_pending) */
        buf_init(&c->out, p->o.max_pending + (64u << 20));
        if (p->tls) {
            c->ssl = SSL_new(p->tls);
            c->rbio = BIO_new(BIO_s_mem());
            c->wbio = BIO_new(BIO_s_mem());
            if (!c->ssl || !c->rbio || !c->wbio) {
                SSL_free(c->ssl);
                BIO_free(c->rbio);
                BIO_free(c->wbio);
                http1_free(hp);
                free(hp);
                free(c);
                close(fd);
                return;
            }
            SSL_set_bio(c->ssl, c->rbio, c->wbio);
            SSL_set_accept_state(c->ssl);
        }
        px_fmt_addr(&ss, c->peer, sizeof c->peer);
        struct sockaddr_storage me;
        socklen_t ml = sizeof me;
        if (getsockname(fd, (struct sockaddr *)&me, &ml) == 0)
            px_fmt_addr(&me, c->self, sizeof c->self);
        c->next = p->conns;
        if (p->conns)
            p->conns->prev = c;
        p->conns = c;
        p->n_conns++;
        p->st.connections++;
        px_conn_events(c);
    }
}

/* Feeds ciphertext to OpenSSL and appends the plaintext to c->in. -1 when the client is gone
 * (a failed handshake, a bad record) or said close_notify (then eof). */
static int px_tls_input(struct px_conn *c, const char *d, size_t n)
{
    if (BIO_write(c->rbio, d, (int)n) != (int)n) {
        c->gone = 1;
        return -1;
    }
    if (!SSL_is_init_finished(c->ssl)) {
        int r = SSL_do_handshake(c->ssl);
        px_tls_drain(c);
        if (r != 1) {
            int e = SSL_get_error(c->ssl, r);
            ERR_clear_error();
            if (e == SSL_ERROR_WANT_READ)
                return 0;
            c->gone = 1;         /* not TLS, no shared cipher, a bad certificate… */
            return -1;
        }
    }
    char tmp[16384];
    for (;;) {
        if (c->in.len + sizeof tmp > c->in.max) {
            c->gone = 1;         /* cannot happen: a read is 64 KiB, the buffer 1 MiB more */
            return -1;
        }
        int k = SSL_read(c->ssl, tmp, sizeof tmp);
        if (k > 0) {
            buf_append(&c->in, tmp, (size_t)k);
            continue;
        }
        int e = SSL_get_error(c->ssl, k);
        ERR_clear_error();
        px_tls_drain(c);         /* TLS 1.3 tickets, alerts */
        if (e == SSL_ERROR_WANT_READ)
            return 0;
        if (e == SSL_ERROR_ZERO_RETURN) {
            c->eof = 1;
            return -1;
        }
        c->gone = 1;
        return -1;
    }
}

static void px_readable(struct px_conn *c, uint32_t events)
{
    struct proxy *p = c->p;
    for (int i = 0; i < 4 && !c->gone && !c->eof; i++) {
        if (c->n_seg == PX_MAX_SEGS || c->in.len - c->in_off >= PX_MAX_IN) {
            if (events & EPOLLRDHUP)
                c->eof = 1;      /* no room to read up to the FIN: it is one anyway */
            break;
        }
        union {
            char b[CMSG_SPACE(sizeof(struct timespec)) * 2];
            struct cmsghdr align;
        } ctl;
        struct iovec io = {p->rbuf, PX_READ_BUF};
        struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = ctl.b,
                           .msg_controllen = sizeof ctl.b};
        ssize_t n = recvmsg(c->fd, &m, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                break;
            c->gone = 1;
            break;
        }
        if (n == 0) {
            c->eof = 1;
            break;
        }
        int64_t rx = -1;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
                struct timespec ts;
                memcpy(&ts, CMSG_DATA(cm), sizeof ts);
                rx = px_mono_from_real(p, &ts);
            }
        if (rx < 0)
            rx = clock_mono_ns();
        int stop = 0;
        if (c->ssl) {
            /* ciphertext in, plaintext out: every byte decrypted from this read carries its
             * receive time */
            size_t before = c->in.len;
            stop = px_tls_input(c, p->rbuf, (size_t)n) != 0;
            if (c->in.len == before) {
                if (stop)
                    break;
                continue;        /* handshake or a partial record */
            }
        } else if (buf_append(&c->in, p->rbuf, (size_t)n)) {
            c->gone = 1;
            break;
        }
        c->seg[c->n_seg].end = c->in.len;
        c->seg[c->n_seg].rx = rx;
        c->active_ns = rx;
        c->n_seg++;
        if (stop)
            break;
        if ((size_t)n < PX_READ_BUF)
            break;
    }
    px_mark(c);
}

/* After each epoll batch: the work hclient's callbacks must not do. */
static void px_service(struct px_conn *c)
{
    struct proxy *p = c->p;
    struct px_ex *q = c->ex;
    if (!c->gone && c->eof && q && !(q->up_done && c->written >= q->end_pos))
        c->gone = 1;             /* the client left mid-request or with its response under way */
    int answered = q && q->submitted && q->up_done && c->written >= q->end_pos;
    if (c->gone) {
        c->ex = NULL;
        if (answered) {          /* every byte went out before it left */
            px_finish(p, q, q->up_err == HC_OK ? TLOG_ERROR_NONE : px_kind(q->up_err),
                      q->up_msg);
        } else if (q && q->submitted) {
            if (!q->up_done) {
                hc_cancel(p->hc, &q->r);
                q->up_done = 1;
            }
            if (q->up_err != HC_OK) {
                px_finish(p, q, px_kind(q->up_err), q->up_msg);
            } else {
                p->st.cancelled++;
                px_finish(p, q, TLOG_ERROR_CANCELLED,
                          "client closed the connection before the response was written");
            }
        } else {
            px_ex_free(q);       /* never forwarded: nothing to record */
        }
        px_conn_free(c);
        return;
    }
    if (q && q->up_done && c->written >= q->end_pos) {
        int cut = q->failed_mid; /* no terminating chunk: the connection closes */
        c->ex = NULL;
        px_finish(p, q, q->up_err == HC_OK ? TLOG_ERROR_NONE : px_kind(q->up_err), q->up_msg);
        if (cut) {
            px_conn_free(c);
            return;
        }
    }
    if ((!c->ex && !c->closing) || (c->ex && !c->ex->req_done && !c->parse_err))
        px_parse(c);             /* the next request, or more of the one being read */
    if (!c->ex && c->eof && c->in_off >= c->in.len)
        c->closing = 1;          /* the client is done; answer what it sent, then close */
    if (c->closing && !c->ex && c->out_off >= c->out.len) {
        px_conn_free(c);
        return;
    }
    px_flush(c);
}

static void px_sweep(struct proxy *p)
{
    while (p->dirty) {
        struct px_conn *c = p->dirty;
        p->dirty = c->dirty_next;
        c->dirty = 0;
        c->dirty_next = NULL;
        px_service(c);           /* may free c, may mark others */
    }
}

/* ---- setup ---------------------------------------------------------------------------------- */

static int px_listen(struct proxy *p, char *err, size_t errlen)
{
    char host[256];
    const char *s = p->o.listen, *colon;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':') {
            snprintf(err, errlen, "bad --listen address: %s (want HOST:PORT)", s);
            return -1;
        }
        snprintf(host, sizeof host, "%.*s", (int)(rb - s - 1), s + 1);
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon) {
            snprintf(err, errlen, "bad --listen address: %s (want HOST:PORT)", s);
            return -1;
        }
        snprintf(host, sizeof host, "%.*s", (int)(colon - s), s);
    }
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int g = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai);
    if (g) {
        snprintf(err, errlen, "--listen %s: %s", s, gai_strerror(g));
        return -1;
    }
    p->lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (p->lfd >= 0)
        setsockopt(p->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (p->lfd < 0 || bind(p->lfd, ai->ai_addr, ai->ai_addrlen) || listen(p->lfd, 4096)) {
        snprintf(err, errlen, "--listen %s: %s", s, strerror(errno));
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    setsockopt(p->lfd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(p->lfd, (struct sockaddr *)&ss, &sl);
    px_fmt_addr(&ss, p->listen_name, sizeof p->listen_name);
    int port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                        : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (p->o.port_file) {
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s.tmp", p->o.port_file);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) || rename(tmp, p->o.port_file)) {
            snprintf(err, errlen, "--port-file %s: %s", p->o.port_file, strerror(errno));
            return -1;
        }
    }
    p->ltok.kind = PX_TOK_LISTEN;
    struct epoll_event ee = {.events = EPOLLIN, .data.ptr = px_token(&p->ltok)};
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->lfd, &ee)) {
        snprintf(err, errlen, "epoll: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* ALPN: the listener speaks HTTP/1.1 only; a client that offers no http/1.1 gets none. */
static int px_alpn(SSL *s, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)s;
    (void)arg;
    for (unsigned int i = 0; i < inlen;) {
        unsigned int l = in[i];
        if (i + 1 + l > inlen)
            break;
        if (l == 8 && !memcmp(in + i + 1, "http/1.1", 8)) {
            *out = in + i + 1;
            *outlen = (unsigned char)l;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + l;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

struct proxy *proxy_new(const struct proxy_opts *o, proxy_emit_fn emit, proxy_tick_fn tick,
                        void *user, char *err, size_t errlen)
{
    struct proxy *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->o = *o;
    if (o->filter)
        p->f = *o->filter;
    if (!p->o.grace_us)
        p->o.grace_us = 5000000;
    if (!p->o.max_pending)
        p->o.max_pending = 1u << 20;
    if (!p->o.max_request_body)
        p->o.max_request_body = 16u << 20;
    if (!p->o.max_conns)
        p->o.max_conns = 10000;
    p->emit = emit;
    p->tick = tick;
    p->user = user;
    p->lfd = -1;
    p->accepting = 1;
    p->rbuf = malloc(PX_READ_BUF);
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    clock_map_init(&p->map);
    p->real_minus_mono = p->map.epoch0_ns - p->map.mono0_ns;
    p->upstream_shown = redact_url(o->upstream);
    if (!p->rbuf || p->epfd < 0 || !p->upstream_shown) {
        snprintf(err, errlen, "out of memory");
        proxy_free(p);
        return NULL;
    }
    struct hc_opts ho = {0};
    ho.url = o->upstream;
    ho.insecure = o->insecure;
    ho.cacert = o->cacert;
    ho.http2 = o->http2;
    ho.connect_timeout_ns = o->connect_timeout_us * 1000;
    ho.rx_kernel = 1;
    ho.max_request = p->o.max_request_body + HTTP1_MAX_HEAD + 4096;
    /* HTTP/2: a paused stream may still be sent one window, so the window is the backlog's
     * size: a slow client then costs at most twice --max-pending (plus one read) */
    ho.h2_stream_window = p->o.max_pending < 65536 ? 65536 : p->o.max_pending;
    char e2[256];
    p->hc = hc_engine_new(p->epfd, &ho, e2, sizeof e2);
    if (!p->hc) {
        snprintf(err, errlen, "--upstream %s: %s", p->upstream_shown, e2);
        proxy_free(p);
        return NULL;
    }
    if (o->tls_cert) {
        p->tls = SSL_CTX_new(TLS_server_method());
        if (!p->tls) {
            snprintf(err, errlen, "cannot create a TLS context");
            proxy_free(p);
            return NULL;
        }
        SSL_CTX_set_min_proto_version(p->tls, TLS1_2_VERSION);
        SSL_CTX_set_alpn_select_cb(p->tls, px_alpn, NULL);
        if (SSL_CTX_use_certificate_chain_file(p->tls, o->tls_cert) != 1 ||
            SSL_CTX_use_PrivateKey_file(p->tls, o->tls_key, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(p->tls) != 1) {
            unsigned long e = ERR_get_error();
            snprintf(err, errlen, "--tls-cert %s / --tls-key %s: %s", o->tls_cert, o->tls_key,
                     e ? ERR_reason_error_string(e) : "cannot load");
            ERR_clear_error();
            proxy_free(p);
            return NULL;
        }
    }
    if (px_listen(p, err, errlen)) {
        proxy_free(p);
        return NULL;
    }
    return p;
}

static void px_stop_accepting(struct proxy *p)
{
    if (!p->accepting)
        return;
    p->accepting = 0;
    if (p->lfd >= 0) {
        epoll_ctl(p->epfd, EPOLL_CTL_DEL, p->lfd, NULL);
        close(p->lfd);
        p->lfd = -1;
    }
}

/* In flight: a client connection with an exchange forwarded and not yet fully answered. */
static int px_in_flight(const struct proxy *p)
{
    int n = 0;
    for (const struct px_conn *c = p->conns; c; c = c->next)
        if (c->ex && c->ex->submitted)
            n++;
    return n;
}

int proxy_run(struct proxy *p, volatile sig_atomic_t *stop)
{
    struct epoll_event evs[PX_MAX_EVENTS];
    int64_t last_tick = clock_mono_ns();
    int64_t drain_until = -1;
    int rc = 0;
    for (;;) {
        if (*stop && drain_until < 0) {
            px_stop_accepting(p);
            drain_until = clock_mono_ns() + p->o.grace_us * 1000;
            /* idle keep-alive connections have nothing to finish */
            for (struct px_conn *c = p->conns, *nx; c; c = nx) {
                nx = c->next;
                c->closing = 1;
                px_mark(c);
            }
            px_sweep(p);
        }
        if (drain_until >= 0 &&
            (px_in_flight(p) == 0 || *stop >= 2 || clock_mono_ns() >= drain_until))
            break;
        if (p->emit_failed) {
            rc = -1;
            break;
        }
        int64_t now = clock_mono_ns();
        int timeout = 200;
        int64_t dl = hc_engine_next_deadline(p->hc);
        if (dl >= 0) {
            int64_t ms = (dl - now) / 1000000 + 1;
            if (ms < timeout)
                timeout = ms < 0 ? 0 : (int)ms;
        }
        /* records wait while there is traffic to forward, but not for long (200 ms) nor in
         * great numbers (4096) */
        if (p->rec_head && (p->n_rec > 4096 || now - p->rec_head->rec_since_ns > 200000000))
            px_record_some(p, 64);
        int n = epoll_wait(p->epfd, evs, PX_MAX_EVENTS, p->rec_head ? 0 : timeout);
        if (n == 0 && p->rec_head)
            px_record_some(p, 16);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "llmtrace-capture: epoll_wait: %s\n", strerror(errno));
            rc = -1;
            break;
        }
        for (int i = 0; i < n; i++) {
            void *tok = evs[i].data.ptr;
            if (!((uintptr_t)tok & 1)) {
                hc_engine_handle(p->hc, tok, evs[i].events);
                continue;
            }
            struct px_tok *t = (struct px_tok *)((char *)tok - 1);
            if (t->kind == PX_TOK_LISTEN) {
                px_accept(p);
                continue;
            }
            struct px_conn *c = (struct px_conn *)t;
            if (c->fd < 0 || c->gone)
                continue;
            if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                px_readable(c, evs[i].events);
            if (evs[i].events & EPOLLOUT)
                px_flush(c);
            if (evs[i].events & (EPOLLHUP | EPOLLERR))
                c->gone = 1;     /* reset, or both directions closed: nobody to answer */
            px_mark(c);
        }
        /* conns freed in the sweep cannot appear later in this batch: the sweep runs after it */
        px_sweep(p);
        hc_engine_reap(p->hc);
        now = clock_mono_ns();
        hc_engine_tick(p->hc, now);
        px_sweep(p);
        hc_engine_reap(p->hc);
        /* four times a second: the writer closes a member once it is a second old, so a
         * crash loses at most ~1.25 s of records */
        if (now - last_tick >= 250000000) {
            last_tick = now;
            /* idle clients (keep-alive, or a request head or body sent too slowly) are
             * closed after 300 s, so they cannot hold every connection slot */
            for (struct px_conn *c = p->conns; c; c = c->next)
                if (!(c->ex && c->ex->submitted) && now - c->active_ns > PX_IDLE_NS) {
                    c->gone = 1;
                    px_mark(c);
                }
            px_sweep(p);
            if (p->tick)
                p->tick(p->user, clock_map_epoch_us(&p->map, now));
        }
    }
    /* what is still in flight after the grace period is cut and recorded as cancelled */
    px_stop_accepting(p);
    while (p->conns) {
        struct px_conn *c = p->conns;
        struct px_ex *q = c->ex;
        if (q && q->submitted) {
            if (!q->up_done) {
                hc_cancel(p->hc, &q->r);
                q->up_done = 1;
            }
            p->st.cancelled++;
            px_finish(p, q, TLOG_ERROR_CANCELLED, "proxy stopped before the response ended");
        } else {
            px_ex_free(q);
        }
        c->ex = NULL;
        px_conn_free(c);
    }
    p->dirty = NULL;
    px_record_some(p, 0);
    hc_engine_reap(p->hc);
    if (p->emit_failed)
        rc = -1;
    return rc;
}

void proxy_free(struct proxy *p)
{
    if (!p)
        return;
    while (p->rec_head) {
        struct px_ex *q = p->rec_head;
        p->rec_head = q->rec_next;
        px_ex_free(q);
    }
    while (p->conns) {
        struct px_conn *c = p->conns;
        if (c->ex && c->ex->submitted && !c->ex->up_done)
            hc_cancel(p->hc, &c->ex->r);
        px_ex_free(c->ex);
        c->ex = NULL;
        px_conn_free(c);
    }
    if (p->hc)
        hc_engine_free(p->hc);
    if (p->lfd >= 0)
        close(p->lfd);
    if (p->epfd >= 0)
        close(p->epfd);
    SSL_CTX_free(p->tls);
    free(p->rbuf);
    free(p->upstream_shown);
    buf_free(&p->line);
    free(p);
}

const struct proxy_stats *proxy_get_stats(const struct proxy *p)
{
    return &p->st;
}

cJSON *proxy_stats_json(const struct proxy *p)
{
    const struct proxy_stats *s = &p->st;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "connections", (double)s->connections);
    cJSON_AddNumberToObject(o, "requests", (double)s->requests);
    cJSON_AddNumberToObject(o, "exchanges", (double)s->exchanges);
    cJSON_AddNumberToObject(o, "filtered", (double)s->filtered);
    cJSON_AddNumberToObject(o, "bad_requests", (double)s->bad_requests);
    cJSON_AddNumberToObject(o, "upstream_errors", (double)s->upstream_errors);
    cJSON_AddNumberToObject(o, "cancelled", (double)s->cancelled);
    cJSON_AddNumberToObject(o, "pauses", (double)s->pauses);
    cJSON_AddNumberToObject(o, "events", (double)s->events);
    cJSON_AddNumberToObject(o, "added_max_us", (double)s->added_max_us);
    cJSON *e = cJSON_AddObjectToObject(o, "errors");
    for (int k = 1; k < TLOG_ERROR_KIND_COUNT; k++)
        if (s->errors[k])
            cJSON_AddNumberToObject(e, tlog_error_kind_name((enum tlog_error_kind)k),
                                    (double)s->errors[k]);
    struct hc_stats hs;
    hc_engine_stats(p->hc, &hs);
    cJSON *u = cJSON_AddObjectToObject(o, "upstream");
    cJSON_AddNumberToObject(u, "connects", (double)hs.connects);
    cJSON_AddNumberToObject(u, "connect_failures", (double)hs.connect_failures);
    cJSON_AddNumberToObject(u, "resends", (double)hs.resends);
    return o;
}

cJSON *proxy_source_json(const struct proxy *p)
{
    cJSON *s = cJSON_CreateObject();
    if (!s)
        return NULL;
    cJSON_AddStringToObject(s, "kind", "proxy");
    cJSON_AddStringToObject(s, "listen", p->listen_name);
    cJSON_AddStringToObject(s, "upstream", p->upstream_shown);
    cJSON_AddBoolToObject(s, "tls", p->tls != NULL);
    return s;
}
