/* hc_engine.c — the client engine's core (hclient.h): the target, the connection pool, sockets
 * on the caller's epoll set, one recvmsg per readable socket with its receive time, the re-send
 * rule, and HTTP/1.1 (requests written here, responses parsed by formats/wire/http1).
 * TLS (hc_tls.c) and HTTP/2 (hc_h2.c) plug in below and above the socket layer. */
#include "hc_priv.h"

#include <errno.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

#define HC_DEFAULT_CONNECT_TIMEOUT_NS (10 * 1000000000LL)
#define HC_DEFAULT_MAX_REQUEST ((size_t)256 << 20)
#define HC_REMAP_NS 1000000000LL
#define HC_READS_PER_EVENT 8         /* a socket that keeps filling the buffer yields after this */

static const struct http1_callbacks hc_h1_callbacks;

static const char *const hc_error_names[] = {
    [HC_OK] = "ok",
    [HC_E_CONNECT] = "connect failed",
    [HC_E_CONNECT_TIMEOUT] = "connect timed out",
    [HC_E_TLS] = "TLS failed",
    [HC_E_RESET] = "connection reset",
    [HC_E_PROTOCOL] = "protocol error",
    [HC_E_STREAM_RESET] = "stream reset",
    [HC_E_NOMEM] = "out of memory",
    [HC_E_CANCELLED] = "cancelled",
};

const char *hc_strerror(enum hc_error e)
{
    return (unsigned)e < sizeof hc_error_names / sizeof hc_error_names[0] && hc_error_names[e]
               ? hc_error_names[e]
               : "error";
}

/* ---- clocks ------------------------------------------------------------------------------ */

static void hc_map_clocks(struct hc_engine *e)
{
    struct clock_map m;
    clock_map_init(&m);
    e->real_minus_mono = m.epoch0_ns - m.mono0_ns;
    e->remap_ns = m.mono0_ns + HC_REMAP_NS;
}

/* ---- target ------------------------------------------------------------------------------ */

/* Splits http[s]://host[:port][/…] (host may be [v6]). 0 or -1 with err. */
static int hc_parse_url(struct hc_engine *e, const char *url, char *err, size_t errlen)
{
    const char *p;
    if (!strncasecmp(url, "http://", 7)) {
        p = url + 7;
        e->port = 80;
    } else if (!strncasecmp(url, "https://", 8)) {
        p = url + 8;
        e->port = 443;
        e->tls = 1;
    } else {
        snprintf(err, errlen, "unsupported URL scheme (http:// or https://): %.80s", url);
        return -1;
    }
    const char *at = NULL;
    size_t alen = strcspn(p, "/?#");
    for (size_t i = 0; i < alen; i++)
        if (p[i] == '@')
            at = p + i;
    if (at) { /* user:pass@ is not sent by this engine (the caller adds Authorization) */
        alen -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    if (alen == 0 || alen >= sizeof e->authority) {
        snprintf(err, errlen, "URL has no usable host");
        return -1;
    }
    memcpy(e->authority, p, alen);
    e->authority[alen] = 0;
    const char *hs = e->authority, *he, *portp = NULL;
    if (*hs == '[') {
        he = strchr(hs, ']');
        if (!he) {
            snprintf(err, errlen, "URL host: unterminated [");
            return -1;
        }
        hs++;
        if (he[1] == ':')
            portp = he + 2;
        else if (he[1]) {
            snprintf(err, errlen, "URL host: junk after ]");
            return -1;
        }
    } else {
        he = strchr(hs, ':');
        if (he)
            portp = he + 1;
        else
            he = hs + strlen(hs);
    }
    size_t hl = (size_t)(he - hs);
    if (hl == 0 || hl >= sizeof e->host) {
        snprintf(err, errlen, "URL has no usable host");
        return -1;
    }
    memcpy(e->host, hs, hl);
    e->host[hl] = 0;
    if (portp) {
        char *end;
        long v = strtol(portp, &end, 10);
        if (end == portp || *end || v < 1 || v > 65535) {
            snprintf(err, errlen, "URL port: %.20s", portp);
            return -1;
        }
        e->port = (int)v;
    }
    return 0;
}

static int hc_resolve(struct hc_engine *e, char *err, size_t errlen)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char port[8];
    snprintf(port, sizeof port, "%d", e->port);
    int rc = getaddrinfo(e->host, port, &hints, &res);
    if (rc) {
        snprintf(err, errlen, "cannot resolve %s: %s", e->host, gai_strerror(rc));
        return -1;
    }
    for (struct addrinfo *a = res; a && e->n_addr < HC_MAX_ADDRS; a = a->ai_next) {
        if (a->ai_addrlen > sizeof e->addr[0])
            continue;
        memcpy(&e->addr[e->n_addr], a->ai_addr, a->ai_addrlen);
        e->addr_len[e->n_addr] = a->ai_addrlen;
        e->n_addr++;
    }
    freeaddrinfo(res);
    if (!e->n_addr) {
        snprintf(err, errlen, "cannot resolve %s: no address", e->host);
        return -1;
    }
    struct in6_addr a6;
    struct in_addr a4;
    e->is_ip = inet_pton(AF_INET, e->host, &a4) == 1 || inet_pton(AF_INET6, e->host, &a6) == 1;
    return 0;
}

struct hc_engine *hc_engine_new(int epfd, const struct hc_opts *o, char *err, size_t errlen)
{
    struct hc_engine *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->epfd = epfd;
    e->o = *o;
    if (e->o.connect_timeout_ns <= 0)
        e->o.connect_timeout_ns = HC_DEFAULT_CONNECT_TIMEOUT_NS;
    if (!e->o.max_request)
        e->o.max_request = HC_DEFAULT_MAX_REQUEST;
    buf_init(&e->req, e->o.max_request);
    e->rbuf = malloc(HC_READ_BUF);
    e->pbuf = malloc(HC_READ_BUF);
    if (!e->rbuf || !e->pbuf) {
        snprintf(err, errlen, "out of memory");
        hc_engine_free(e);
        return NULL;
    }
    if (hc_parse_url(e, o->url, err, errlen) || hc_resolve(e, err, errlen) ||
        (e->tls && hc_tls_ctx_init(e, err, errlen))) {
        hc_engine_free(e);
        return NULL;
    }
    e->o.url = NULL; /* not kept: the caller's string */
    if (!e->tls || !e->o.http2)
        e->target_proto = HC_PROTO_H1;
    hc_map_clocks(e);
    return e;
}

/* ---- connections ------------------------------------------------------------------------- */

static void hc_epoll_set(struct hc_conn *c, uint32_t ev)
{
    if (c->n_paused > 0) {
        c->ev_want = ev;         /* registered when the pause ends */
        return;
    }
    if (c->fd < 0 || ev == c->ev)
        return;
    struct epoll_event ee = {.events = ev, .data.ptr = c};
    if (epoll_ctl(c->e->epfd, c->ev ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ee) == 0)
        c->ev = ev;
}

/* delta +1 / -1 paused requests on c; crossing zero takes the socket out of epoll or puts
 * it back (level-triggered, so data and a FIN that arrived meanwhile are reported then) */
static void hc_conn_pause_add(struct hc_conn *c, int delta)
{
    int was = c->n_paused > 0;
    c->n_paused += delta;
    if (c->n_paused < 0)
        c->n_paused = 0;
    int now = c->n_paused > 0;
    if (was == now || c->state == HC_CLOSED || c->fd < 0)
        return;
    if (now) {
        c->ev_want = c->ev;
        if (c->ev)
            epoll_ctl(c->e->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        c->ev = 0;
    } else {
        uint32_t w = c->ev_want;
        c->ev_want = 0;
        hc_epoll_set(c, w);
    }
}

void hc_pause(struct hc_engine *e, struct hc_req *r, int on)
{
    (void)e;
    on = on ? 1 : 0;
    if (r->paused == on)
        return;
    r->paused = on;
    if (!r->conn)
        return;
    if (r->conn->proto == HC_PROTO_H2) {
        if (!on)                 /* (pausing is the stream's window, see hc_h2.c) */
            hc_h2_resume(r->conn, r);
        return;
    }
    hc_conn_pause_add(r->conn, on ? 1 : -1);
}

static void hc_idle_remove(struct hc_conn *c)
{
    if (!c->in_idle)
        return;
    struct hc_conn **pp = &c->e->idle;
    while (*pp && *pp != c)
        pp = &(*pp)->idle_next;
    if (*pp)
        *pp = c->idle_next;
    c->idle_next = NULL;
    c->in_idle = 0;
    c->e->n_idle--;
}

static void hc_conn_free(struct hc_conn *c)
{
    hc_tls_free(c);
    hc_h2_free(c);
    if (c->h1) {
        http1_free(c->h1);
        free(c->h1);
    }
    buf_free(&c->out);
    buf_free(&c->h2_hdrs);
    free(c);
}

void hc_conn_close(struct hc_conn *c)
{
    struct hc_engine *e = c->e;
    if (c->state == HC_CLOSED)
        return;
    if (c->state == HC_CONNECTING || c->state == HC_HANDSHAKE)
        e->n_connecting--;
    hc_idle_remove(c);
    if (c->fd >= 0) {
        epoll_ctl(e->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    c->state = HC_CLOSED;
    if (c->prev)
        c->prev->next = c->next;
    else
        e->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    e->n_conns--;
    /* freed by hc_engine_reap, after the caller's epoll batch: callers up the stack and later
     * events of the same batch may still hold c, and see HC_CLOSED */
    c->next = e->dead;
    c->prev = NULL;
    e->dead = c;
}

void hc_engine_reap(struct hc_engine *e)
{
    while (e->dead) {
        struct hc_conn *c = e->dead;
        e->dead = c->next;
        hc_conn_free(c);
    }
}

/* Starts a non-blocking connect to address index ai. 0 (in progress or done), -1 failed now. */
static int hc_conn_dial(struct hc_conn *c, int ai)
{
    struct hc_engine *e = c->e;
    c->ai = ai;
    const struct sockaddr *sa = (const struct sockaddr *)&e->addr[ai];
    c->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (e->o.rx_kernel)
        setsockopt(c->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    c->ev = 0;
    if (connect(c->fd, sa, e->addr_len[ai]) && errno != EINPROGRESS) {
        int saved = errno;
        close(c->fd);
        c->fd = -1;
        errno = saved;
        return -1;
    }
    hc_epoll_set(c, EPOLLOUT | EPOLLIN | EPOLLRDHUP);
    return 0;
}

/* Opens a new connection (reserved for r when r is not NULL). NULL when no socket could be
 * made at all (then the caller fails a request with the reason in msg). */
static struct hc_conn *hc_conn_open(struct hc_engine *e, struct hc_req *reserved, char *msg,
                                    size_t msglen)
{
    struct hc_conn *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(msg, msglen, "out of memory");
        return NULL;
    }
    c->e = e;
    c->fd = -1;
    c->reserved = reserved;
    c->proto = e->tls ? HC_PROTO_UNKNOWN : HC_PROTO_H1;
    buf_init(&c->out, e->o.max_request + (1u << 20));
    buf_init(&c->h2_hdrs, 1u << 20);
    c->open_ns = clock_mono_ns();
    int ai = e->good_addr, tried = 0;
    while (hc_conn_dial(c, ai)) {
        if (++tried >= e->n_addr) {
            snprintf(msg, msglen, "connect to %.100s port %d failed: %s", e->host, e->port,
                     strerror(errno));
            hc_conn_free(c);
            return NULL;
        }
        ai = (ai + 1) % e->n_addr;
    }
    c->next = e->conns;
    if (e->conns)
        e->conns->prev = c;
    e->conns = c;
    e->n_conns++;
    e->n_connecting++;
    return c;
}

/* Takes the oldest queued request, or NULL. */
static struct hc_req *hc_pend_pop(struct hc_engine *e)
{
    struct hc_req *r = e->pend_head;
    if (!r)
        return NULL;
    e->pend_head = r->q_next;
    if (e->pend_head)
        e->pend_head->q_prev = NULL;
    else
        e->pend_tail = NULL;
    r->q_next = r->q_prev = NULL;
    e->n_pend--;
    return r;
}

static void hc_pend_unlink(struct hc_engine *e, struct hc_req *r)
{
    if (r->q_prev)
        r->q_prev->q_next = r->q_next;
    else if (e->pend_head == r)
        e->pend_head = r->q_next;
    else
        return; /* not queued */
    if (r->q_next)
        r->q_next->q_prev = r->q_prev;
    else
        e->pend_tail = r->q_prev;
    r->q_next = r->q_prev = NULL;
    e->n_pend--;
}

void hc_req_finish(struct hc_req *r, enum hc_error err, const char *msg, int64_t end_ns)
{
    struct hc_result res = {0};
    res.err = err;
    res.end_ns = end_ns;
    res.started = r->started;
    snprintf(res.msg, sizeof res.msg, "%s", msg ? msg : "");
    if (r->paused && r->conn && r->conn->proto != HC_PROTO_H2)
        hc_conn_pause_add(r->conn, -1);
    r->paused = 0;
    r->conn = NULL;
    r->cb->on_done(r->user, &res);
}

/* A connection that never became ready: it fails the request it was opened for, or else the
 * oldest queued one (each connection attempt answers for one request, so a dead target fails
 * requests one by one, as they would have failed each on its own connect). */
void hc_conn_fail(struct hc_conn *c, enum hc_error err, const char *msg)
{
    struct hc_engine *e = c->e;
    struct hc_req *victim = c->reserved ? c->reserved : hc_pend_pop(e);
    c->reserved = NULL;
    e->st.connect_failures++;
    hc_conn_close(c);
    if (victim)
        hc_req_finish(victim, err, msg, clock_mono_ns());
    hc_dispatch(e);
}

/* ---- sending ----------------------------------------------------------------------------- */

int hc_conn_send_raw(struct hc_conn *c, const char *p, size_t n)
{
    if (c->out.len == c->out_off && n > 0) {
        ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        if (k > 0) {
            p += k;
            n -= (size_t)k;
        }
    }
    if (n == 0)
        return 0;
    if (c->out_off == c->out.len) {
        buf_reset(&c->out);
        c->out_off = 0;
    }
    if (buf_append(&c->out, p, n)) {
        errno = ENOMEM;
        return -1;
    }
    hc_epoll_set(c, EPOLLIN | EPOLLRDHUP | EPOLLOUT);
    return 0;
}

int hc_conn_send(struct hc_conn *c, const char *p, size_t n)
{
    return c->ssl ? hc_tls_write(c, p, n) : hc_conn_send_raw(c, p, n);
}

static int hc_conn_flush(struct hc_conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t k = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return 0;
            return -1;
        }
        c->out_off += (size_t)k;
    }
    buf_reset(&c->out);
    c->out_off = 0;
    hc_epoll_set(c, EPOLLIN | EPOLLRDHUP);
    return 0;
}

/* HTTP/1.1 request: head rendered here, body appended (one send for both). */
static int hc_h1_send(struct hc_conn *c, struct hc_req *r)
{
    struct hc_engine *e = c->e;
    struct buf *b = &e->req;
    buf_reset(b);
    int has_body = r->body_len > 0 || !strcmp(r->method, "POST") || !strcmp(r->method, "PUT") ||
                   !strcmp(r->method, "PATCH");
    int rc = buf_printf(b, "%s %s HTTP/1.1\r\nHost: %s\r\n", r->method, r->target, e->authority);
    if (!rc && r->headers_len)
        rc = buf_append(b, r->headers, r->headers_len);
    if (!rc && has_body)
        rc = buf_printf(b, "Content-Length: %zu\r\n", r->body_len);
    if (!rc && e->o.no_reuse)
        rc = buf_append_str(b, "Connection: close\r\n");
    if (!rc)
        rc = buf_append(b, "\r\n", 2);
    if (!rc && r->body_len)
        rc = buf_append(b, r->body, r->body_len);
    if (rc)
        return -2;
    c->cur = r;
    c->h1_complete = 0;
    c->h1_keep = 0;
    http1_expect_response_to(c->h1, r->method, strlen(r->method));
    return hc_conn_send(c, b->p, b->len);
}

/* The connection broke while it was READY: what it carried fails, or is re-sent. */
/* See hc_stats.reuse_off. */
static void hc_learn_dead_reuse(struct hc_engine *e)
{
    e->reuse_dead++;
    if (e->reuse_dead >= 2 && e->reuse_ok == 0 && !e->st.reuse_off) {
        e->st.reuse_off = 1;
        while (e->idle) /* they would die the same way */
            hc_conn_close(e->idle);
    }
}

void hc_conn_lost(struct hc_conn *c, enum hc_error err, const char *msg)
{
    struct hc_engine *e = c->e;
    int64_t now = clock_mono_ns();
    if (c->proto == HC_PROTO_H2 && c->h2) {
        hc_h2_conn_lost(c, err, msg, now);
        hc_conn_close(c);
        hc_dispatch(e);
        return;
    }
    struct hc_req *r = c->cur;
    c->cur = NULL;
    if (!r) {
        e->st.closed_idle++;
        if (c->proto == HC_PROTO_H1 && c->used > 0 && now - c->idle_since_ns < 100000000)
            hc_learn_dead_reuse(e); /* closed right after its response */
    } else if (r->reused && !r->got_bytes) {
        hc_learn_dead_reuse(e);
    }
    hc_conn_close(c);
    if (r && !hc_req_try_resend(e, r, err, msg, now, 0))
        hc_req_finish(r, err, msg, now);
    hc_dispatch(e);
}

void hc_req_start(struct hc_conn *c, struct hc_req *r)
{
    struct hc_start s = {0};
    r->conn = c;
    r->started = 1;
    r->got_bytes = 0;
    r->reused = c->used > 0;
    r->local_port = c->local_port;
    s.t0_ns = r->t0_ns = clock_mono_ns();
    s.conn_new = c->used == 0;
    s.connect_ns = s.conn_new ? c->connect_ns : -1;
    s.local_port = c->local_port;
    s.attempt = r->attempt;
    s.http2 = c->proto == HC_PROTO_H2;
    c->used++;
    r->cb->on_start(r->user, &s);
    int rc = c->proto == HC_PROTO_H2 ? hc_h2_submit(c, r) : hc_h1_send(c, r);
    if (rc == -2) { /* could not even render it: this request alone fails */
        if (c->proto == HC_PROTO_H1)
            c->cur = NULL;
        hc_req_finish(r, HC_E_NOMEM, "request too large or out of memory", clock_mono_ns());
        if (c->proto == HC_PROTO_H1)
            hc_conn_release(c);
        return;
    }
    if (rc) {
        char m[160];
        snprintf(m, sizeof m, "sending the request failed: %s", strerror(errno));
        hc_conn_lost(c, HC_E_RESET, m);
    }
}

int hc_req_try_resend(struct hc_engine *e, struct hc_req *r, enum hc_error err, const char *msg,
                      int64_t now_ns, int unprocessed)
{
    if (e->o.no_resend || r->attempt > 0 || r->got_bytes || (!r->reused && !unprocessed))
        return 0;
    struct hc_attempt a = {0};
    a.t0_ns = r->t0_ns;
    a.end_ns = now_ns;
    a.local_port = r->local_port;
    a.conn_new = 0;
    a.err = err;
    snprintf(a.msg, sizeof a.msg, "%s", msg ? msg : "");
    r->cb->on_resend(r->user, &a);
    r->attempt = 1;
    r->fresh_only = 1;
    r->started = 0;
    r->conn = NULL;
    e->st.resends++;
    char m[200];
    if (!hc_conn_open(e, r, m, sizeof m))
        hc_req_finish(r, HC_E_CONNECT, m, clock_mono_ns());
    return 1;
}

/* ---- the pool ---------------------------------------------------------------------------- */

/* An idle connection whose server has asked to be left alone by now is not reused: Keep-Alive
 * max reached, or idle for nearly its Keep-Alive timeout (the close may already be on its way). */
static int hc_conn_expired(const struct hc_conn *c, int64_t now)
{
    if (c->ka_max > 0 && c->used >= c->ka_max)
        return 1;
    if (c->ka_timeout_ns > 0) {
        int64_t margin = c->ka_timeout_ns / 10 < 250000000 ? c->ka_timeout_ns / 10 : 250000000;
        if (now - c->idle_since_ns >= c->ka_timeout_ns - margin)
            return 1;
    }
    return 0;
}

void hc_conn_release(struct hc_conn *c)
{
    struct hc_engine *e = c->e;
    if (c->n_paused > 0) {       /* idle: nothing of anyone's is paused on it any more */
        c->n_paused = 1;
        hc_conn_pause_add(c, -1);
    }
    c->idle_since_ns = clock_mono_ns();
    if (hc_conn_expired(c, c->idle_since_ns)) {
        hc_conn_close(c);
        return;
    }
    c->idle_next = e->idle;
    e->idle = c;
    c->in_idle = 1;
    e->n_idle++;
}

static struct hc_conn *hc_idle_pop(struct hc_engine *e, int64_t now)
{
    while (e->idle) {
        struct hc_conn *c = e->idle;
        e->idle = c->idle_next;
        c->idle_next = NULL;
        c->in_idle = 0;
        e->n_idle--;
        if (!hc_conn_expired(c, now))
            return c;
        hc_conn_close(c);
    }
    return NULL;
}

/* Sends what is queued on connections that can take it, then opens connections for the rest:
 * enough that each queued request has one (an HTTP/2 connection counts for its streams). */
void hc_dispatch(struct hc_engine *e)
{
    int64_t now = clock_mono_ns();
    while (e->n_pend > 0) {
        struct hc_conn *c = NULL;
        for (struct hc_conn *h = e->conns; h; h = h->next)
            if (h->state == HC_READY && h->proto == HC_PROTO_H2 && hc_h2_capacity(h) > 0) {
                c = h;
                break;
            }
        if (!c)
            c = hc_idle_pop(e, now);
        if (!c)
            break;
        struct hc_req *r = hc_pend_pop(e);
        hc_req_start(c, r);
        if (c->proto == HC_PROTO_H2 && c->state == HC_READY)
            hc_h2_flush(c);
    }
    int cap = 0;
    for (struct hc_conn *h = e->conns; h; h = h->next)
        if ((h->state == HC_CONNECTING || h->state == HC_HANDSHAKE) && !h->reserved)
            cap += e->target_proto == HC_PROTO_H1 ? 1 : HC_H2_STREAMS;
    while (e->n_pend > cap) {
        char m[200];
        if (hc_conn_open(e, NULL, m, sizeof m)) {
            cap += e->target_proto == HC_PROTO_H1 ? 1 : HC_H2_STREAMS;
            continue;
        }
        struct hc_req *r = hc_pend_pop(e);
        e->st.connect_failures++;
        hc_req_finish(r, HC_E_CONNECT, m, now);
    }
}

void hc_conn_ready(struct hc_conn *c)
{
    struct hc_engine *e = c->e;
    c->state = HC_READY;
    e->n_connecting--;
    c->connect_ns = clock_mono_ns() - c->open_ns;
    e->good_addr = c->ai;
    e->st.connects++;
    if (c->proto == HC_PROTO_UNKNOWN)
        c->proto = HC_PROTO_H1;
    if (e->tls)
        e->target_proto = c->proto;
    if (c->proto == HC_PROTO_H1) {
        c->h1 = malloc(sizeof *c->h1);
        if (!c->h1) {
            hc_conn_fail(c, HC_E_NOMEM, "out of memory");
            return;
        }
        http1_init(c->h1, HTTP1_RESPONSE, &hc_h1_callbacks, c, 1, 0);
    } else if (hc_h2_init(c)) {
        hc_conn_fail(c, HC_E_NOMEM, "cannot start an HTTP/2 session");
        return;
    }
    struct hc_req *r = c->reserved;
    c->reserved = NULL;
    if (r) {
        hc_req_start(c, r);
    } else if (c->proto == HC_PROTO_H1) {
        struct hc_req *q = hc_pend_pop(e);
        if (q)
            hc_req_start(c, q);
        else
            hc_conn_release(c);
    }
    hc_dispatch(e);
    /* HTTP/2: dispatch put the queued requests on it; the preface and SETTINGS go out now
     * even when there were none */
    if (c->proto == HC_PROTO_H2 && c->state == HC_READY)
        hc_h2_flush(c);
}

/* TCP connect finished (EPOLLOUT): check it, then TLS or ready. */
static void hc_conn_connected(struct hc_conn *c)
{
    struct hc_engine *e = c->e;
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
        if (!err)
            err = errno;
        /* another address of the host may answer */
        int next = (c->ai + 1) % e->n_addr;
        if (next != e->good_addr && e->n_addr > 1) {
            epoll_ctl(e->epfd, EPOLL_CTL_DEL, c->fd, NULL);
            close(c->fd);
            c->fd = -1;
            if (hc_conn_dial(c, next) == 0)
                return;
        }
        char m[200];
        snprintf(m, sizeof m, "connect to %.100s port %d failed: %s", e->host, e->port,
                 strerror(err));
        hc_conn_fail(c, HC_E_CONNECT, m);
        return;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(c->fd, (struct sockaddr *)&ss, &sl) == 0)
        c->local_port = ss.ss_family == AF_INET6
                            ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                            : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    hc_epoll_set(c, EPOLLIN | EPOLLRDHUP);
    if (e->tls) {
        c->state = HC_HANDSHAKE;
        if (hc_tls_start(c))
            hc_conn_fail(c, HC_E_TLS, "cannot start TLS");
        return;
    }
    hc_conn_ready(c);
}

/* ---- HTTP/1.1 responses ------------------------------------------------------------------ */

/* Keep-Alive: timeout=5, max=100 (a hint servers send; RFC 2068 §19.7.1.1). */
static void hc_h1_keepalive_hint(struct hc_conn *c, const struct http1_header *h)
{
    const char *p = h->value, *end = h->value + h->value_len;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == ','))
            p++;
        const char *k = p;
        while (p < end && *p != '=' && *p != ',')
            p++;
        size_t kl = (size_t)(p - k);
        long v = -1;
        if (p < end && *p == '=') {
            p++;
            v = 0;
            while (p < end && *p >= '0' && *p <= '9' && v < 100000000)
                v = v * 10 + (*p++ - '0');
        }
        while (p < end && *p != ',')
            p++;
        if (v >= 0 && kl == 7 && !strncasecmp(k, "timeout", 7))
            c->ka_timeout_ns = (int64_t)v * 1000000000;
        else if (v >= 0 && kl == 3 && !strncasecmp(k, "max", 3))
            c->ka_max = (int)v + c->used; /* max counts the requests still allowed */
    }
}

static int hc_h1_on_head(void *user, const struct http1_head *h)
{
    struct hc_conn *c = user;
    struct hc_req *r = c->cur;
    if (h->status < 200) {
        c->h1_interim = 1; /* 1xx: completes as a message of its own; the final one follows */
        return 0;
    }
    c->h1_keep = h->keep_alive;
    struct hc_header hs[HTTP1_MAX_HEADERS];
    for (size_t i = 0; i < h->n_headers; i++) {
        hs[i].name = h->headers[i].name;
        hs[i].name_len = h->headers[i].name_len;
        hs[i].value = h->headers[i].value;
        hs[i].value_len = h->headers[i].value_len;
        if (h->headers[i].name_len == 10 && !strncasecmp(h->headers[i].name, "keep-alive", 10))
            hc_h1_keepalive_hint(c, &h->headers[i]);
    }
    if (r)
        r->cb->on_head(r->user, h->status, hs, h->n_headers, c->rx_ns);
    return 0;
}

static int hc_h1_on_body(void *user, const char *data, size_t len)
{
    struct hc_conn *c = user;
    if (c->cur && len)
        c->cur->cb->on_body(c->cur->user, data, len, c->rx_ns);
    return 0;
}

static int hc_h1_on_complete(void *user)
{
    struct hc_conn *c = user;
    if (c->h1_interim) {
        c->h1_interim = 0;
        return 0;
    }
    c->h1_complete = 1;
    return HTTP1_E_PAUSED; /* http1_feed returns here: what follows is not this response's */
}

static const struct http1_callbacks hc_h1_callbacks = {
    .on_head = hc_h1_on_head,
    .on_body = hc_h1_on_body,
    .on_complete = hc_h1_on_complete,
};

void hc_feed_plain(struct hc_conn *c, const char *p, size_t n, int64_t rx_ns)
{
    if (c->proto == HC_PROTO_H2) {
        hc_h2_recv(c, p, n, rx_ns);
        return;
    }
    struct hc_req *r = c->cur;
    if (!r) {
        /* bytes on an idle connection: nothing was asked; it cannot be trusted any more */
        hc_conn_close(c);
        return;
    }
    c->rx_ns = rx_ns;
    if (!r->got_bytes && r->reused)
        c->e->reuse_ok++;
    r->got_bytes = 1;
    while (n > 0) {
        ssize_t k = http1_feed(c->h1, p, n);
        if (k < 0) {
            char m[200];
            snprintf(m, sizeof m, "invalid HTTP/1.1 response at byte %zu: %s",
                     http1_error_pos(c->h1), http1_strerror((int)k));
            c->cur = NULL;
            hc_conn_close(c);
            hc_req_finish(r, HC_E_PROTOCOL, m, rx_ns);
            return;
        }
        if (c->h1_complete) {
            /* the request is done; the connection goes back to the pool when the server
             * allows it and nothing unexpected followed the response */
            struct hc_engine *e = c->e;
            c->cur = NULL;
            if ((size_t)k == n && c->h1_keep && !e->o.no_reuse && !e->st.reuse_off)
                hc_conn_release(c);
            else
                hc_conn_close(c);
            hc_req_finish(r, HC_OK, NULL, rx_ns);
            hc_dispatch(e);
            return;
        }
        p += k;
        n -= (size_t)k;
    }
}

/* ---- reading ----------------------------------------------------------------------------- */

/* The socket said EOF. */
static void hc_conn_eof(struct hc_conn *c)
{
    if (c->state == HC_HANDSHAKE) {
        hc_conn_fail(c, HC_E_TLS, "TLS handshake failed: the server closed the connection");
        return;
    }
    if (c->proto == HC_PROTO_H1 && c->cur && c->cur->got_bytes) {
        /* a close-delimited body ends here; anything else was cut short */
        struct hc_req *r = c->cur;
        struct hc_engine *e = c->e;
        if (http1_finish(c->h1) == 0 && c->h1_complete) {
            c->cur = NULL;
            hc_conn_close(c);
            hc_req_finish(r, HC_OK, NULL, c->rx_ns);
            hc_dispatch(e);
            return;
        }
        hc_conn_lost(c, HC_E_RESET, "connection closed mid-response");
        return;
    }
    hc_conn_lost(c, HC_E_RESET, c->proto == HC_PROTO_H2 ? "connection closed by the server"
                                                        : "connection closed before any response byte");
}

static int64_t hc_rx_time(struct hc_engine *e, struct msghdr *m)
{
    if (e->o.rx_kernel)
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR(m, cm))
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
                struct timespec ts;
                memcpy(&ts, CMSG_DATA(cm), sizeof ts);
                int64_t t = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - e->real_minus_mono;
                int64_t now = clock_mono_ns();
                /* a stamp from the future can only be a clock step between remaps */
                return t <= now ? t : now;
            }
    return clock_mono_ns();
}

static void hc_conn_readable(struct hc_conn *c)
{
    struct hc_engine *e = c->e;
    for (int i = 0; i < HC_READS_PER_EVENT; i++) {
        union {
            char b[CMSG_SPACE(sizeof(struct timespec)) * 2];
            struct cmsghdr align;
        } ctl;
        struct iovec io = {e->rbuf, HC_READ_BUF};
        struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = ctl.b,
                           .msg_controllen = e->o.rx_kernel ? sizeof ctl.b : 0};
        ssize_t n = recvmsg(c->fd, &m, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            char msg[160];
            snprintf(msg, sizeof msg, "%s", errno == ECONNRESET ? "connection reset by peer"
                                                                : strerror(errno));
            if (c->state == HC_HANDSHAKE)
                hc_conn_fail(c, HC_E_TLS, msg);
            else
                hc_conn_lost(c, HC_E_RESET, msg);
            return;
        }
        if (n == 0) {
            /* (over TLS, an EOF without close_notify ends a close-delimited body too: many
             * servers never send one, and the framing of the others is checked anyway) */
            hc_conn_eof(c);
            return;
        }
        int64_t rx = hc_rx_time(e, &m);
        e->st.read_calls++;
        if (c->ssl)
            hc_tls_recv(c, e->rbuf, (size_t)n, rx);
        else
            hc_feed_plain(c, e->rbuf, (size_t)n, rx);
        if (c->state == HC_CLOSED || c->n_paused > 0 || (size_t)n < HC_READ_BUF)
            return;
    }
}

void hc_engine_handle(struct hc_engine *e, void *token, uint32_t events)
{
    (void)e;
    struct hc_conn *c = token;
    if (c->state == HC_CLOSED)
        return; /* closed earlier in the same epoll batch (freed by hc_engine_reap) */
    if (c->state == HC_CONNECTING) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            hc_conn_connected(c);
        return;
    }
    if ((events & EPOLLOUT) && c->out_off < c->out.len) {
        if (hc_conn_flush(c)) {
            char m[160];
            snprintf(m, sizeof m, "sending failed: %s", strerror(errno));
            if (c->state == HC_HANDSHAKE)
                hc_conn_fail(c, HC_E_TLS, m);
            else
                hc_conn_lost(c, HC_E_RESET, m);
            return;
        }
        if (c->proto == HC_PROTO_H2 && c->state == HC_READY)
            hc_h2_flush(c);
    }
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && c->state != HC_CLOSED &&
        c->n_paused == 0)        /* paused later in the same epoll batch: read on resume */
        hc_conn_readable(c);
}

/* ---- requests ---------------------------------------------------------------------------- */

int hc_submit(struct hc_engine *e, struct hc_req *r)
{
    if (r->body_len + r->headers_len > e->o.max_request)
        return -1;
    r->q_next = r->q_prev = NULL;
    r->conn = NULL;
    r->submit_ns = clock_mono_ns();
    r->attempt = 0;
    r->fresh_only = 0;
    r->started = 0;
    r->got_bytes = 0;
    r->reused = 0;
    r->h2_stream = 0;
    r->h2_body_off = 0;
    r->t0_ns = -1;
    r->local_port = 0;
    r->paused = 0;
    r->h2_held = 0;
    if (e->o.no_reuse) {
        /* its own connection, like a client that opens one per request */
        char m[200];
        r->fresh_only = 1;
        if (!hc_conn_open(e, r, m, sizeof m)) {
            e->st.connect_failures++;
            hc_req_finish(r, HC_E_CONNECT, m, clock_mono_ns());
        }
        return 0;
    }
    if (e->pend_tail) {
        e->pend_tail->q_next = r;
        r->q_prev = e->pend_tail;
    } else {
        e->pend_head = r;
    }
    e->pend_tail = r;
    e->n_pend++;
    hc_dispatch(e);
    return 0;
}

void hc_cancel(struct hc_engine *e, struct hc_req *r)
{
    if (r->paused && r->conn && r->conn->proto != HC_PROTO_H2)
        hc_conn_pause_add(r->conn, -1);
    r->paused = 0;
    hc_pend_unlink(e, r);
    for (struct hc_conn *c = e->conns; c; c = c->next)
        if (c->reserved == r) {
            c->reserved = NULL;
            hc_conn_close(c);
            break;
        }
    struct hc_conn *c = r->conn;
    r->conn = NULL;
    if (!c)
        return;
    if (c->proto == HC_PROTO_H2) {
        hc_h2_cancel(c, r);
        hc_h2_flush(c);
    } else if (c->cur == r) {
        c->cur = NULL;
        hc_conn_close(c);
    }
}

void hc_preconnect(struct hc_engine *e, int n)
{
    char m[200];
    while (e->n_conns < n)
        if (!hc_conn_open(e, NULL, m, sizeof m))
            break;
}

void hc_engine_counts(const struct hc_engine *e, int *idle, int *connecting)
{
    int h2 = 0;
    for (const struct hc_conn *c = e->conns; c; c = c->next)
        if (c->state == HC_READY && c->proto == HC_PROTO_H2)
            h2++;
    if (idle)
        *idle = e->n_idle + h2;
    if (connecting)
        *connecting = e->n_connecting;
}

void hc_engine_tick(struct hc_engine *e, int64_t now_ns)
{
    if (e->o.rx_kernel && now_ns >= e->remap_ns)
        hc_map_clocks(e); /* follows steps of CLOCK_REALTIME (slewing moves both clocks) */
    for (int again = e->n_connecting > 0; again;) { /* (no scan when nothing connects) */
        again = 0;
        for (struct hc_conn *c = e->conns; c; c = c->next)
            if ((c->state == HC_CONNECTING || c->state == HC_HANDSHAKE) &&
                now_ns - c->open_ns >= e->o.connect_timeout_ns) {
                char m[160];
                snprintf(m, sizeof m, "%s to %.100s port %d timed out after %lld ms",
                         c->state == HC_CONNECTING ? "connect" : "TLS handshake", e->host,
                         e->port, (long long)(e->o.connect_timeout_ns / 1000000));
                hc_conn_fail(c, HC_E_CONNECT_TIMEOUT, m);
                again = 1; /* the list changed */
                break;
            }
    }
}

int64_t hc_engine_next_deadline(const struct hc_engine *e)
{
    int64_t d = e->o.rx_kernel ? e->remap_ns : -1;
    for (const struct hc_conn *c = e->n_connecting > 0 ? e->conns : NULL; c; c = c->next)
        if (c->state == HC_CONNECTING || c->state == HC_HANDSHAKE) {
            int64_t t = c->open_ns + e->o.connect_timeout_ns;
            if (d < 0 || t < d)
                d = t;
        }
    return d;
}

void hc_engine_stats(const struct hc_engine *e, struct hc_stats *st)
{
    *st = e->st;
}

void hc_engine_free(struct hc_engine *e)
{
    if (!e)
        return;
    while (e->conns) {
        struct hc_conn *c = e->conns;
        struct hc_req *r = c->cur;
        c->cur = NULL;
        if (c->reserved) {
            r = c->reserved;
            c->reserved = NULL;
        }
        if (c->proto == HC_PROTO_H2 && c->h2)
            hc_h2_conn_lost(c, HC_E_CANCELLED, "cancelled", clock_mono_ns());
        hc_conn_close(c);
        if (r)
            hc_req_finish(r, HC_E_CANCELLED, "cancelled", clock_mono_ns());
    }
    struct hc_req *r;
    while ((r = hc_pend_pop(e)))
        hc_req_finish(r, HC_E_CANCELLED, "cancelled", clock_mono_ns());
    hc_engine_reap(e);
    hc_tls_ctx_free(e);
    buf_free(&e->req);
    free(e->rbuf);
    free(e->pbuf);
    free(e);
}
