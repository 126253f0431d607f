/* client.c — the replay client's worker loop (see client.h). libcurl's multi socket API
 * (curl_multi_socket_action, CURLMOPT_SOCKETFUNCTION, CURLMOPT_TIMERFUNCTION) on an epoll set
 * plus one absolute CLOCK_MONOTONIC timerfd that serves curl's timeout, the schedule, the idle
 * timeout scan and the stop-flag poll. */
#include "client.h"

#include <errno.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "llmstream.h"

#define CLIENT_STOP_POLL_NS (100 * 1000000LL)   /* how soon a worker notices Ctrl-C */
#define CLIENT_MAX_SAMPLES  (10u * 1000 * 1000) /* cap on kept lag/ttft samples */
#define CLIENT_LINE_MAX     (256u << 20)        /* cap on one serialized record */
#define CLIENT_RECV_BUF     16384               /* libcurl's read size (CURLOPT_BUFFERSIZE) */
#define CLIENT_PEEK_MAX     CLIENT_RECV_BUF     /* a peek covers what one read will take */
#define CLIENT_PEEK_FRESH_NS 20000              /* a peek's time is used without a check */
#define CLIENT_REMAP_NS     1000000000LL        /* realtime → monotonic offset refresh */

struct client_xfer {
    struct client_xfer *prev, *next;
    struct client_worker *w;
    CURL *easy;
    const struct replay_req *req;
    struct tlog_exchange x;
    struct llm_stream st;
    int st_init;
    int64_t t0_ns, last_ns;
    int status;
    int got_first;
    curl_socket_t sock;        /* the connection's socket (from curl's socket callback) */
    int64_t read_ns;           /* receive time of libcurl's last read for it, or 0 */
    char ctype[128];
    enum tlog_error_kind abort_kind;
    const char *abort_msg;
    char idhdr[96];            /* "X-Request-Id: <id>" */
    struct curl_slist idnode;  /* idhdr, chained in front of the shared header list */
    struct buf url;
    char errbuf[CURL_ERROR_SIZE];
};

int client_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

enum tlog_error_kind client_error_kind(CURLcode c, int connected)
{
    switch (c) {
    case CURLE_OK:
        return TLOG_ERROR_NONE;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return TLOG_ERROR_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return connected ? TLOG_ERROR_TIMEOUT : TLOG_ERROR_CONNECT_TIMEOUT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
        return TLOG_ERROR_TLS;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return connected ? TLOG_ERROR_RESET : TLOG_ERROR_CONNECT;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return TLOG_ERROR_MALFORMED;
    case CURLE_ABORTED_BY_CALLBACK:
        return TLOG_ERROR_CANCELLED;
    default:
        return TLOG_ERROR_OTHER;
    }
}

/* ---- curl → epoll glue ------------------------------------------------------------------- */

static int worker_on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)socketp;
    struct client_worker *w = userp;
    struct client_xfer *t = NULL;
    /* curl reports each socket to every transfer that starts using it (a reused connection
     * too): that is how a receive timestamp finds its transfer */
    if (curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&t) == CURLE_OK && t) {
        if (what != CURL_POLL_REMOVE)
            t->sock = s;
        else if (t->sock == s) /* not a happy-eyeballs attempt that lost */
            t->sock = CURL_SOCKET_BAD;
    }
    if (what == CURL_POLL_REMOVE) {
        if (s >= 0 && (size_t)s < w->rx_cap)
            w->rx[s].turn = 0; /* the number may soon name a new connection */
        epoll_ctl(w->ep, EPOLL_CTL_DEL, s, NULL); /* EBADF when curl closed it first: fine */
        return 0;
    }
    struct epoll_event ev = {0};
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    ev.data.fd = s;
    if (epoll_ctl(w->ep, EPOLL_CTL_MOD, s, &ev) && errno == ENOENT)
        epoll_ctl(w->ep, EPOLL_CTL_ADD, s, &ev);
    return 0;
}

static int worker_on_timer(CURLM *m, long timeout_ms, void *userp)
{
    (void)m;
    struct client_worker *w = userp;
    /* Never call socket_action from here (curl forbids it): the loop does, at the deadline. */
    w->curl_deadline_ns = timeout_ms < 0 ? -1 : clock_mono_ns() + (int64_t)timeout_ms * 1000000;
    return 0;
}

/* ---- receive timestamps ------------------------------------------------------------------ */

/* --timestamps kernel: the socket reports, with each read, the kernel's receive time of the
 * newest segment read (SO_TIMESTAMPNS; segments merged in the receive queue keep the newest
 * time). The loop peeks at what libcurl is about to read and keeps that time, so an event is
 * stamped when its bytes reached this host, however long the worker took to get to them. */
static int xfer_on_sockopt(void *ud, curl_socket_t fd, curlsocktype purpose)
{
    (void)ud;
    int one = 1;
    if (purpose == CURLSOCKTYPE_IPCXN)
        setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)); /* else: user time */
    return CURL_SOCKOPT_OK;
}

static void worker_map_clocks(struct client_worker *w)
{
    struct clock_map m;
    clock_map_init(&m);
    w->real_minus_mono = m.epoch0_ns - m.mono0_ns;
    w->remap_ns = m.mono0_ns + CLIENT_REMAP_NS;
}

/* TCP_INFO's count of payload bytes received on fd (Linux ≥ 4.1), or UINT64_MAX. */
static uint64_t socket_bytes_received(int fd)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) ||
        len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof(ti.tcpi_bytes_received))
        return UINT64_MAX;
    return ti.tcpi_bytes_received;
}

/* Whether the application has read more from fd than the peek behind rx saw: read so far
 * (received − still queued, an upper bound: the queue is sampled first) against read before
 * the peek plus the peeked bytes. Unknown counts as yes. */
static int rx_overrun(int fd, const struct client_rx *rx)
{
    int queued = 0;
    if (rx->consumed0 == UINT64_MAX || ioctl(fd, SIOCINQ, &queued) || queued < 0)
        return 1;
    uint64_t rcvd = socket_bytes_received(fd);
    if (rcvd == UINT64_MAX || rcvd < (uint64_t)queued)
        return 1;
    return rcvd - (uint64_t)queued > rx->consumed0 + rx->seen;
}

/* Peeks at what fd holds and keeps the receive time (CLOCK_MONOTONIC) of its newest bytes for
 * this loop turn. Every socket epoll reported is peeked before libcurl runs at all, because
 * socket_action on one socket also runs other transfers whose timers expired, and those may
 * read their own sockets; a socket whose peek has aged is peeked again right before its own
 * socket_action, so bytes that arrived in between do not take an older time. */
static void worker_peek_rx(struct client_worker *w, int fd)
{
    if (fd < 0)
        return;
    if ((size_t)fd >= w->rx_cap) {
        size_t cap = w->rx_cap ? w->rx_cap : 1024;
        while (cap <= (size_t)fd)
            cap *= 2;
        struct client_rx *p = realloc(w->rx, cap * sizeof(*p));
        if (!p)
            return; /* user time for this socket */
        memset(p + w->rx_cap, 0, (cap - w->rx_cap) * sizeof(*p));
        w->rx = p;
        w->rx_cap = cap;
    }
    union {
        char buf[CMSG_SPACE(sizeof(struct timespec)) * 2];
        struct cmsghdr align;
    } ctl;
    /* MSG_TRUNC: TCP reports the bytes and their time without copying them */
    struct iovec io = {NULL, CLIENT_PEEK_MAX};
    struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = ctl.buf,
                       .msg_controllen = sizeof(ctl.buf)};
    struct client_rx *rx = &w->rx[fd];
    rx->turn = w->turn;
    rx->ns = -1;
    rx->used = 0;
    rx->consumed0 = UINT64_MAX;
    /* bytes read by libcurl so far = received − queued; sampled in this order, and before the
     * peek, arrivals in between can only make consumed0 smaller: the check stricter */
    uint64_t rcvd = UINT64_MAX;
    int queued = -1;
    if (!w->rx_plain) { /* plain HTTP counts libcurl's reads instead (xfer_read_stamp) */
        rcvd = socket_bytes_received(fd);
        if (ioctl(fd, SIOCINQ, &queued) != 0)
            queued = -1;
    }
    ssize_t n = recvmsg(fd, &m, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
    rx->peeked_ns = clock_mono_ns();
    if (n <= 0)
        return;
    rx->seen = (uint64_t)n; /* the receive time is the newest of these n bytes */
    uint64_t q = queued > n ? (uint64_t)queued : (uint64_t)n;
    if (rcvd != UINT64_MAX && queued >= 0 && rcvd >= q)
        rx->consumed0 = rcvd - q;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(c), sizeof(ts));
            rx->ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - w->real_minus_mono;
        }
}

/* The time of the bytes libcurl has just read for t: called from the debug callback, which
 * libcurl runs after every read and before handing that read's bytes to the header and write
 * callbacks (CURLINFO_HEADER_IN / CURLINFO_DATA_IN carry the raw bytes read). libcurl reads
 * again within one socket_action while the socket stays readable, and a socket_action on one
 * socket runs other transfers too, so a read may hold bytes that arrived after the peek. The
 * peek's time is used only for reads within the peeked bytes: on plain HTTP counted exactly
 * from the bytes libcurl reports; on TLS when the read is within CLIENT_PEEK_FRESH_NS of the
 * receive time (a segment is then stamped at most that much early) or the socket's byte counts
 * show that nothing past the peeked bytes has been read. Otherwise the clock. */
static int64_t xfer_read_stamp(struct client_xfer *t, size_t size)
{
    struct client_worker *w = t->w;
    if (t->sock < 0 || (size_t)t->sock >= w->rx_cap)
        return clock_mono_ns();
    struct client_rx *rx = &w->rx[t->sock];
    if (rx->turn != w->turn || rx->ns < t->t0_ns || rx->ns > rx->peeked_ns)
        return clock_mono_ns();
    if (w->rx_plain) {
        /* plain HTTP/1.1: the debug callback sees exactly the bytes read from the socket, so
         * counting them says whether any came from past the peek — no guess, no system call */
        rx->used += size;
        return rx->used <= rx->seen ? rx->ns : clock_mono_ns();
    }
    /* TLS: it reports decrypted bytes; ask the socket instead */
    int64_t now = clock_mono_ns();
    if (now - rx->ns <= CLIENT_PEEK_FRESH_NS || !rx_overrun(t->sock, rx))
        return rx->ns;
    return now;
}

static int xfer_on_debug(CURL *e, curl_infotype type, char *data, size_t size, void *ud)
{
    (void)e;
    (void)data;
    struct client_xfer *t = ud;
    /* everything else (CURLINFO_TEXT, HEADER_OUT with the Authorization header…) is dropped
     * here unread: nothing from it reaches a record or stderr */
    if ((type == CURLINFO_DATA_IN || type == CURLINFO_HEADER_IN) && size > 0)
        t->read_ns = xfer_read_stamp(t, size);
    return 0;
}

/* The time to record for bytes a header or write callback of t is handling now: their read's
 * receive time, else the clock; never before an earlier stamp of the same transfer (one read
 * may be stamped by the kernel, the next by the clock). */
static int64_t xfer_stamp(struct client_xfer *t)
{
    int64_t at = t->read_ns > 0 ? t->read_ns : clock_mono_ns();
    return at < t->last_ns ? t->last_ns : at;
}

/* ---- per-transfer callbacks (the hot path) ----------------------------------------------- */

static void xfer_stream_start(struct client_xfer *t)
{
    const struct replay_req *r = t->req;
    llm_stream_init(&t->st, &t->x, r->dialect, t->status, t->ctype[0] ? t->ctype : NULL,
                    t->w->cfg->keep_text);
    t->st_init = 1;
}

static void xfer_first_byte(struct client_xfer *t, int64_t now)
{
    t->got_first = 1;
    t->x.resp.ttfb_us = (now - t->t0_ns) / 1000;
}

static size_t xfer_on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct client_xfer *t = ud;
    size_t n = size * nmemb;
    int64_t now = xfer_stamp(t);
    t->last_ns = now;
    if (!t->got_first)
        xfer_first_byte(t, now);
    if (!t->st_init)
        xfer_stream_start(t);
    llm_stream_feed(&t->st, data, n, (now - t->t0_ns) / 1000);
    return n;
}

static size_t xfer_on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    struct client_xfer *t = ud;
    size_t n = size * nmemb;
    int64_t now = xfer_stamp(t);
    t->last_ns = now;
    if (!t->got_first)
        xfer_first_byte(t, now);
    size_t len = n;
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        len--;
    if (len >= 10 && !memcmp(data, "HTTP/", 5)) { /* "HTTP/2 200" is the shortest */
        /* Status line; a 1xx is followed by the real one, which replaces it. */
        const char *sp = memchr(data, ' ', len);
        if (sp && (size_t)(data + len - sp) >= 4 && sp[1] >= '1' && sp[1] <= '5' &&
            sp[2] >= '0' && sp[2] <= '9' && sp[3] >= '0' && sp[3] <= '9')
            t->status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
        return n;
    }
    if (t->status < 200 || len == 0)
        return n;
    const char *colon = memchr(data, ':', len);
    if (!colon)
        return n;
    size_t nlen = (size_t)(colon - data);
    const char *v = colon + 1;
    const char *end = data + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    size_t vlen = (size_t)(end - v);
    if (nlen == 12 && !strncasecmp(data, "content-type", 12)) {
        size_t c = vlen < sizeof(t->ctype) - 1 ? vlen : sizeof(t->ctype) - 1;
        memcpy(t->ctype, v, c);
        t->ctype[c] = 0;
    }
    tlog_exchange_add_header(&t->x, 1, data, nlen, v, vlen);
    return n;
}

/* ---- transfer life ----------------------------------------------------------------------- */

static void samples_push(struct client_samples *s, int64_t v)
{
    if (s->n == s->cap) {
        if (s->cap >= CLIENT_MAX_SAMPLES)
            return;
        size_t cap = s->cap ? s->cap * 2 : 1024;
        int64_t *p = realloc(s->v, cap * sizeof(*p));
        if (!p)
            return;
        s->v = p;
        s->cap = cap;
    }
    s->v[s->n++] = v;
}

static void list_unlink(struct client_xfer **head, struct client_xfer *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        *head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
}

static void list_push(struct client_xfer **head, struct client_xfer *t)
{
    t->prev = NULL;
    t->next = *head;
    if (*head)
        (*head)->prev = t;
    *head = t;
}

static void stat_add(atomic_uint_fast64_t *c, uint64_t v)
{
    /* Single writer: a relaxed load + store is enough and keeps the hot path lock-free. */
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
                          memory_order_relaxed);
}

static void worker_write_record(struct client_worker *w, struct client_xfer *t)
{
    const struct client_cfg *cfg = w->cfg;
    buf_reset(&w->line);
    t->x.req.body = t->req->body_json;           /* borrowed for serialization only */
    int rc = tlog_exchange_to_line(&t->x, &cfg->wopts, &w->line);
    t->x.req.body = NULL;
    struct client_out *out = cfg->out;
    pthread_mutex_lock(&out->mu);
    if (!atomic_load(&out->failed)) {
        if (rc) {
            atomic_store(&out->failed, 1);
            snprintf(out->err, sizeof(out->err), "cannot serialize record %s (error %d)",
                     t->x.id, rc);
        } else if (tlog_writer_line(out->w, w->line.p, w->line.len, 1,
                                    t->x.error_kind != TLOG_ERROR_NONE)) {
            atomic_store(&out->failed, 1);
            snprintf(out->err, sizeof(out->err), "%s", tlog_writer_error(out->w));
        }
    }
    pthread_mutex_unlock(&out->mu);
}

/* Finishes a transfer (done, failed, or aborted by us), records it and recycles it. */
static void xfer_complete(struct client_worker *w, struct client_xfer *t, CURLcode res)
{
    int64_t now = clock_mono_ns();
    curl_multi_remove_handle(w->multi, t->easy);
    list_unlink(&w->active, t);
    w->inflight--;

    struct tlog_exchange *x = &t->x;
    int64_t last = t->last_ns ? t->last_ns : now;
    if (!t->st_init)
        xfer_stream_start(t);
    llm_stream_finish(&t->st, (last - t->t0_ns) / 1000);
    x->resp.end_us = (last - t->t0_ns) / 1000;
    if (x->resp.status == 0)
        x->resp.status = t->status;

    long port = 0;
    curl_easy_getinfo(t->easy, CURLINFO_LOCAL_PORT, &port);
    char conn[48];
    snprintf(conn, sizeof(conn), "w%d:%ld", w->idx, port);
    x->conn = strdup(conn);

    if (t->abort_kind != TLOG_ERROR_NONE) {
        tlog_exchange_set_error(x, t->abort_kind, t->abort_msg);
    } else if (res != CURLE_OK) {
        curl_off_t sent = 0;
        curl_easy_getinfo(t->easy, CURLINFO_REQUEST_SIZE, &sent);
        enum tlog_error_kind k = client_error_kind(res, t->got_first || sent > 0);
        enum tlog_error_kind had = x->error_kind;
        /* The stream's own diagnosis is more specific than the transport's, except that a
         * missing terminator is what a reset looks like from the stream's side. */
        if (had == TLOG_ERROR_NONE || had == TLOG_ERROR_TRUNCATED)
            tlog_exchange_set_error(x, k, t->errbuf[0] ? t->errbuf : curl_easy_strerror(res));
    }

    worker_write_record(w, t);

    stat_add(&w->st.done, 1);
    if (x->error_kind != TLOG_ERROR_NONE) {
        stat_add(&w->st.errors, 1);
        if ((unsigned)x->error_kind < TLOG_ERROR_KIND_COUNT)
            stat_add(&w->st.by_kind[x->error_kind], 1);
    } else {
        for (size_t i = 0; i < x->resp.n_events; i++)
            if (x->resp.events[i].is_content) {
                samples_push(&w->ttft, x->resp.events[i].offset_us);
                break;
            }
    }
    if (x->tokens_out > 0)
        stat_add(&w->st.tokens_out, (uint64_t)x->tokens_out);
    atomic_store_explicit(&w->st.inflight, (uint64_t)w->inflight, memory_order_relaxed);

    llm_stream_free(&t->st);
    t->st_init = 0;
    tlog_exchange_free(x);
    list_push(&w->pool, t);
}

static struct client_xfer *xfer_new(struct client_worker *w)
{
    const struct client_cfg *cfg = w->cfg;
    struct client_xfer *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->easy = curl_easy_init();
    if (!t->easy) {
        free(t);
        return NULL;
    }
    t->w = w;
    buf_init(&t->url, 1u << 20);
    tlog_exchange_init(&t->x);
    CURL *e = t->easy;
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, xfer_on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, xfer_on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, (long)CLIENT_RECV_BUF);
    if (cfg->rx_kernel) {
        curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, xfer_on_sockopt);
        /* the debug callback is libcurl's one hook per socket read (see xfer_read_stamp) */
        curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, xfer_on_debug);
        curl_easy_setopt(e, CURLOPT_DEBUGDATA, t);
        curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
    }
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(cfg->connect_timeout_us / 1000));
    if (cfg->timeout_us > 0)
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(cfg->timeout_us / 1000));
    if (cfg->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                     cfg->http2 ? (long)CURL_HTTP_VERSION_2TLS : (long)CURL_HTTP_VERSION_1_1);
    return t;
}

static void xfer_destroy(struct client_xfer *t)
{
    curl_easy_cleanup(t->easy);
    buf_free(&t->url);
    tlog_exchange_free(&t->x);
    free(t);
}

/* Hands request rec to the connection now. sched_ns: when the schedule wanted it; wait_ns:
 * time it spent blocked by --max-inflight. Returns 0, or -1 when nothing could be started. */
static int xfer_start(struct client_worker *w, size_t rec, uint64_t seq, int64_t sched_ns,
                      int64_t wait_ns, int warm)
{
    const struct client_cfg *cfg = w->cfg;
    struct client_xfer *t = w->pool;
    if (t)
        list_unlink(&w->pool, t);
    else if (!(t = xfer_new(w)))
        return -1;
    const struct replay_req *r = &cfg->in->reqs[rec];
    t->req = r;
    t->status = 0;
    t->got_first = 0;
    t->sock = CURL_SOCKET_BAD;
    t->ctype[0] = 0;
    t->last_ns = 0;
    t->read_ns = 0;
    t->errbuf[0] = 0;
    t->abort_kind = TLOG_ERROR_NONE;
    t->abort_msg = NULL;
    CURL *e = t->easy;

    buf_reset(&t->url);
    const char *path = cfg->path ? cfg->path : r->path;
    if (buf_append_str(&t->url, cfg->base_url) ||
        (path[0] != '/' && buf_append_char(&t->url, '/')) || buf_append_str(&t->url, path) ||
        (cfg->base_query && (buf_append_char(&t->url, strchr(path, '?') ? '&' : '?') ||
                             buf_append_str(&t->url, cfg->base_query)))) {
        list_push(&w->pool, t);
        return -1;
    }
    int idlen = snprintf(t->idhdr, sizeof(t->idhdr), "X-Request-Id: %s-%llu", cfg->id_prefix,
                         (unsigned long long)(w->ph->seq_base + seq));
    t->idnode.data = t->idhdr;
    t->idnode.next = cfg->headers;
    curl_easy_setopt(e, CURLOPT_URL, t->url.p);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, &t->idnode);
    if (!strcmp(r->method, "GET")) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
    } else {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body ? r->body : "");
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, strcmp(r->method, "POST") ? r->method : NULL);
    }

    struct tlog_exchange *x = &t->x;
    const char *id = t->idhdr + 14;
    x->id = strdup(id);
    x->dialect = strdup(dialect_name(r->dialect));
    x->model = r->model ? strdup(r->model) : NULL;
    x->stream = r->stream;
    x->req.method = strdup(r->method);
    x->req.path = strdup(path);
    x->req.host = cfg->host ? strdup(cfg->host) : NULL;
    x->req.body_bytes = (int64_t)r->body_len;
    tlog_exchange_add_header(x, 0, "X-Request-Id", 12, id, (size_t)idlen - 14);
    for (size_t i = 0; i < cfg->n_rec_headers; i++)
        tlog_exchange_add_header(x, 0, cfg->rec_headers[i].name, strlen(cfg->rec_headers[i].name),
                                 cfg->rec_headers[i].value, strlen(cfg->rec_headers[i].value));
    x->replay.present = 1;
    x->replay.of = r->of ? strdup(r->of) : NULL;
    x->replay.has_stage = w->ph->has_stage;
    x->replay.stage = w->ph->stage;
    x->replay.mode = strdup(cfg->mode);
    x->replay.target = strdup(cfg->target);
    x->replay.warmup = warm;
    x->replay.worker = w->idx;

    t->t0_ns = clock_mono_ns();
    x->start_us = clock_map_epoch_us(&cfg->cmap, t->t0_ns);
    x->replay.sched_us = clock_map_epoch_us(&cfg->cmap, sched_ns);
    x->replay.wait_us = wait_ns > 0 ? wait_ns / 1000 : 0;
    list_push(&w->active, t);
    w->inflight++;
    w->issued++;
    stat_add(&w->st.sent, 1);
    atomic_store_explicit(&w->st.inflight, (uint64_t)w->inflight, memory_order_relaxed);
    if (w->ph->kind == PHASE_OPEN)
        samples_push(&w->lag, (t->t0_ns - sched_ns) / 1000);
    CURLMcode mc = curl_multi_add_handle(w->multi, e);
    if (mc != CURLM_OK) {
        /* Recorded like any failure (the multi handle is unusable for this transfer). */
        snprintf(t->errbuf, sizeof(t->errbuf), "curl_multi_add_handle: %s",
                 curl_multi_strerror(mc));
        t->abort_kind = TLOG_ERROR_OTHER;
        t->abort_msg = t->errbuf;
        xfer_complete(w, t, CURLE_FAILED_INIT);
    }
    return 0;
}

/* ---- the loop ---------------------------------------------------------------------------- */

int client_worker_init(struct client_worker *w, int idx, int n_workers,
                       const struct client_cfg *cfg)
{
    memset(w, 0, sizeof(*w));
    w->idx = idx;
    w->n_workers = n_workers;
    w->cfg = cfg;
    w->curl_deadline_ns = -1;
    w->armed_ns = -1;
    w->ep = w->tfd = -1;
    buf_init(&w->line, CLIENT_LINE_MAX);
    worker_map_clocks(w);
    w->rx_kernel = cfg->rx_kernel;
    w->rx_plain = cfg->base_url && strncasecmp(cfg->base_url, "http://", 7) == 0;
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    w->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    w->multi = curl_multi_init();
    if (w->ep < 0 || w->tfd < 0 || !w->multi) {
        snprintf(w->err, sizeof(w->err), "worker %d: cannot create its event loop: %s", idx,
                 strerror(errno));
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = w->tfd};
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->tfd, &ev)) {
        snprintf(w->err, sizeof(w->err), "worker %d: epoll: %s", idx, strerror(errno));
        return -1;
    }
    curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION, worker_on_socket);
    curl_multi_setopt(w->multi, CURLMOPT_SOCKETDATA, w);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION, worker_on_timer);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERDATA, w);
    curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, 100000L);
    return 0;
}

void client_worker_free(struct client_worker *w)
{
    if (!w)
        return;
    struct client_xfer *t;
    while ((t = w->active)) {
        curl_multi_remove_handle(w->multi, t->easy);
        list_unlink(&w->active, t);
        if (t->st_init)
            llm_stream_free(&t->st);
        xfer_destroy(t);
    }
    while ((t = w->pool)) {
        list_unlink(&w->pool, t);
        xfer_destroy(t);
    }
    if (w->multi)
        curl_multi_cleanup(w->multi);
    if (w->ep >= 0)
        close(w->ep);
    if (w->tfd >= 0)
        close(w->tfd);
    buf_free(&w->line);
    free(w->rx);
    w->rx = NULL;
    free(w->lag.v);
    free(w->ttft.v);
    memset(w, 0, sizeof(*w));
    w->ep = w->tfd = -1;
}

static void worker_drain_done(struct client_worker *w)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(w->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct client_xfer *t = NULL;
        CURLcode res = m->data.result;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        if (t)
            xfer_complete(w, t, res);
    }
}

static void worker_abort_all(struct client_worker *w, enum tlog_error_kind k, const char *msg)
{
    struct client_xfer *t;
    while ((t = w->active)) {
        t->abort_kind = k;
        t->abort_msg = msg;
        xfer_complete(w, t, CURLE_ABORTED_BY_CALLBACK);
    }
}

static void worker_scan_idle(struct client_worker *w, int64_t now)
{
    int64_t idle = w->cfg->idle_timeout_us * 1000;
    struct client_xfer *t = w->active, *next;
    for (; t; t = next) {
        next = t->next;
        int64_t since = t->last_ns ? t->last_ns : t->t0_ns;
        if (now - since > idle) {
            t->abort_kind = TLOG_ERROR_IDLE_TIMEOUT;
            t->abort_msg = "no data from the server within --idle-timeout";
            xfer_complete(w, t, CURLE_ABORTED_BY_CALLBACK);
        }
    }
}

static void worker_arm(struct client_worker *w, int64_t at_ns)
{
    if (at_ns == w->armed_ns)
        return;
    struct itimerspec its = {0};
    its.it_value.tv_sec = at_ns / 1000000000;
    its.it_value.tv_nsec = at_ns % 1000000000;
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
        its.it_value.tv_nsec = 1; /* all-zero would disarm */
    timerfd_settime(w->tfd, TFD_TIMER_ABSTIME, &its, NULL);
    w->armed_ns = at_ns;
}

static void worker_fail(struct client_worker *w, const char *why)
{
    snprintf(w->err, sizeof(w->err), "worker %d: %s", w->idx, why);
    w->fatal = 1;
}

static int64_t share_of(int64_t total, int idx, int n)
{
    return total / n + (idx < total % n ? 1 : 0);
}

void *client_worker_run(void *arg)
{
    struct client_worker *w = arg;
    struct client_phase *ph = w->ph;
    const struct client_cfg *cfg = w->cfg;
    size_t n_recs = cfg->in->n;
    int open = ph->kind == PHASE_OPEN;
    int exhausted = n_recs == 0;
    int stopping = 0;
    int64_t grace_end = 0;
    int blocked = 0;
    int64_t idle_scan_every = 0, next_scan = 0;
    w->issued = 0;
    w->has_pending = 0;

    if (open) {
        w->cap = ph->max_inflight > 0 ? share_of(ph->max_inflight, w->idx, w->n_workers)
                                      : INT64_MAX;
        struct sched_params sp = ph->sp;
        sp.worker = w->idx;
        sp.n_workers = w->n_workers;
        if (!exhausted && sched_init(&w->sch, &sp, cfg->offsets, n_recs)) {
            worker_fail(w, "invalid schedule parameters");
            return NULL;
        }
        w->has_pending = !exhausted && sched_next(&w->sch, &w->pending);
        exhausted = !w->has_pending;
    } else {
        w->cap = share_of(ph->concurrency, w->idx, w->n_workers);
        if (w->cap == 0)
            exhausted = 1;
    }
    if (cfg->idle_timeout_us > 0) {
        idle_scan_every = cfg->idle_timeout_us * 1000 / 10;
        if (idle_scan_every < 10000000)
            idle_scan_every = 10000000;
        if (idle_scan_every > 1000000000)
            idle_scan_every = 1000000000;
        next_scan = clock_mono_ns() + idle_scan_every;
    }

    struct epoll_event evs[256];
    for (;;) {
        int64_t now = clock_mono_ns();
        int failed = atomic_load_explicit(&cfg->out->failed, memory_order_relaxed);
        if (!stopping && (atomic_load_explicit(cfg->stop, memory_order_relaxed) || failed)) {
            stopping = 1;
            exhausted = 1;
            grace_end = now + (failed ? 0 : cfg->grace_us * 1000);
        }
        /* Issue what is due. */
        if (!exhausted && open) {
            while (w->has_pending) {
                int64_t due = ph->anchor_ns + w->pending.offset_us * 1000;
                if (due > now)
                    break;
                if (w->inflight >= w->cap) {
                    blocked = 1;
                    break;
                }
                /* Once the cap held it back, all of its lateness is waiting for the cap. */
                int64_t waited = blocked ? now - due : 0;
                blocked = 0;
                uint64_t seq = w->pending.seq;
                if (xfer_start(w, w->pending.rec, seq, due, waited, (int64_t)seq < ph->warmup)) {
                    worker_fail(w, "out of memory starting a request");
                    exhausted = 1;
                    break;
                }
                w->has_pending = sched_next(&w->sch, &w->pending);
                now = clock_mono_ns();
            }
            if (!w->has_pending)
                exhausted = 1;
        } else if (!exhausted) {
            while (w->inflight < w->cap) {
                if (ph->end_ns && now >= ph->end_ns) {
                    exhausted = 1;
                    break;
                }
                uint64_t j = atomic_fetch_add(&ph->next, 1);
                uint64_t g = j * (uint64_t)ph->shard_n + (uint64_t)(ph->shard_k - 1);
                if (ph->max_requests ? j >= ph->max_requests : (!ph->loop && g >= n_recs)) {
                    exhausted = 1;
                    break;
                }
                if (xfer_start(w, (size_t)(g % n_recs), g, now, 0, (int64_t)j < ph->warmup)) {
                    worker_fail(w, "out of memory starting a request");
                    exhausted = 1;
                    break;
                }
            }
        }
        if (stopping && w->inflight > 0 && now >= grace_end)
            worker_abort_all(w, TLOG_ERROR_CANCELLED, "cancelled: run interrupted");
        if (idle_scan_every && now >= next_scan) {
            worker_scan_idle(w, now);
            next_scan = now + idle_scan_every;
        }
        if (!w->rx_kernel && w->curl_deadline_ns >= 0 && now >= w->curl_deadline_ns) {
            /* (with receive timestamps this waits for the sockets to be peeked, below) */
            int running;
            w->curl_deadline_ns = -1;
            curl_multi_socket_action(w->multi, CURL_SOCKET_TIMEOUT, 0, &running);
            worker_drain_done(w);
            continue;
        }
        if (exhausted && w->inflight == 0)
            break;

        int64_t wake = now + CLIENT_STOP_POLL_NS;
        if (w->curl_deadline_ns >= 0 && w->curl_deadline_ns < wake)
            wake = w->curl_deadline_ns;
        if (!exhausted && open && w->has_pending && w->inflight < w->cap) {
            int64_t due = ph->anchor_ns + w->pending.offset_us * 1000;
            if (due < wake)
                wake = due;
        }
        if (!exhausted && !open && ph->end_ns && ph->end_ns < wake)
            wake = ph->end_ns;
        if (idle_scan_every && next_scan < wake)
            wake = next_scan;
        if (stopping && grace_end < wake)
            wake = grace_end;
        int timeout_ms = -1;
        if (wake <= now)
            timeout_ms = 0;
        else
            worker_arm(w, wake);
        int n = epoll_wait(w->ep, evs, (int)(sizeof(evs) / sizeof(evs[0])), timeout_ms);
        if (n < 0 && errno != EINTR) {
            worker_fail(w, strerror(errno));
            worker_abort_all(w, TLOG_ERROR_OTHER, "event loop failure");
            break;
        }
        if (n < 0)
            continue; /* EINTR: curl's timers wait for a turn whose sockets were peeked */
        w->turn++;
        if (w->rx_kernel)
            for (int i = 0; i < n; i++)
                if (evs[i].data.fd != w->tfd && (evs[i].events & EPOLLIN))
                    worker_peek_rx(w, evs[i].data.fd);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == w->tfd) {
                uint64_t ticks;
                if (read(w->tfd, &ticks, sizeof(ticks)) < 0) {
                    /* EAGAIN: a re-arm raced the expiry; nothing to do. */
                }
                w->armed_ns = -1;
                continue;
            }
            int mask = 0;
            if (evs[i].events & EPOLLIN)
                mask |= CURL_CSELECT_IN;
            if (evs[i].events & EPOLLOUT)
                mask |= CURL_CSELECT_OUT;
            if (evs[i].events & (EPOLLERR | EPOLLHUP))
                mask |= CURL_CSELECT_ERR;
            int running;
            if (w->rx_kernel && (mask & CURL_CSELECT_IN) && fd >= 0 && (size_t)fd < w->rx_cap &&
                clock_mono_ns() - w->rx[fd].peeked_ns > CLIENT_PEEK_FRESH_NS)
                worker_peek_rx(w, fd);
            curl_multi_socket_action(w->multi, fd, mask, &running);
        }
        if (w->rx_kernel && w->curl_deadline_ns >= 0 && clock_mono_ns() >= w->curl_deadline_ns) {
            int running;
            w->curl_deadline_ns = -1;
            curl_multi_socket_action(w->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        }
        worker_drain_done(w);
        if (w->rx_kernel && clock_mono_ns() >= w->remap_ns)
            worker_map_clocks(w); /* follows steps of CLOCK_REALTIME (slewing moves both clocks) */
    }
    return NULL;
}
