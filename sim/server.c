/* server.c — llmtrace-sim's HTTP/1.1 server (RFC 9112 via formats/wire/http1.h): one epoll loop per
 * worker thread, non-blocking sockets, keep-alive and pipelining, per-connection output buffers
 * with a cap, a timerfd that wakes the loop exactly at the engine's next step end (absolute
 * schedule), request validation per dialect, injected faults, /metrics, and the ground-truth
 * trace log (formats/tlog/tlog.h) with the time each event was written to the socket. */
#include "sim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "clock.h"
#include "dialect.h"
#include "engine.h"
#include "gen.h"
#include "http1.h"
#include "kvcache.h"
#include "prefix.h"
#include "request.h"
#include "rng.h"
#include "tlog.h"

#define SIM_READ_CHUNK 65536
#define SIM_MAX_PIPELINE 64
#define SIM_OUT_HIGH (256 * 1024)          /* zero profile: pause a stream above this */
#define SIM_OUT_CAP ((size_t)64 << 20)     /* a client that lets more pile up is dropped */
#define SIM_LATE_BUCKETS 10001             /* µs; the last bucket holds everything later */
#define SIM_MAX_TOKENS_LIMIT 1000000
#define SIM_ZERO_STEPS 64                  /* zero profile: steps per loop turn (coalescing) */
#define SIM_SPIN_NS 100000                 /* wake this early for a step, then watch the clock */
#define SIM_LINGER_NS 30000000000LL        /* a connection closed by a policy (FIN) waits this long
                                            * for the client's late request or FIN */

#define TAG_LISTEN 1u
#define TAG_TIMER 2u
#define TAG_STOP 3u



enum req_state { R_PARSED = 0, R_DELAYED, R_ACTIVE, R_FLUSHING };

struct conn;

struct req {
    struct req *next;            /* connection's queue, in arrival order */
    struct req *dnext;           /* worker's slow-start list */
    struct req *lnext;           /* worker's to-log list */
    int logged;
    struct conn *c;
    enum req_state state;
    uint64_t n;                  /* global request number (ids, seeds) */
    char method[16];
    char *target;
    char *xid;                   /* X-Request-Id */
    int keep_alive, http10;
    char *body;
    size_t body_len;
    int body_too_big;
    int preset_status;           /* answer with this error (parse failures) */
    char preset_msg[160];
    int64_t start_ns;            /* first read of the request (t0) */
    int64_t due_ns;              /* slow start: when the response may begin */
    enum dialect_id d;
    struct gen_req g;
    struct eng_seq seq;
    struct prefix_hasher ph;     /* --prefix-cache: the block hashes seq.hashes points at */
    int64_t reset_at;            /* -1, or reset once this many tokens were emitted */
    int64_t held_from;           /* llama.cpp persona: first token not yet sent, or -1 */
    int64_t malformed_at;        /* -1, or 1-based content event to break */
    int64_t content_events;
    int status;
    int chunked;
    int ended;                   /* all response bytes queued */
    int end_written;             /* ... and written (ground truth complete) */
    int64_t first_tok_ns;
    int logging;
    struct tlog_exchange x;
    enum tlog_error_kind err;
    char errmsg[160];
};

enum mark_kind { MK_HEAD = 1, MK_EVENT, MK_END };

struct mark {                    /* an event whose write time the log wants */
    uint64_t end;                /* stream offset just past its last byte */
    struct req *r;
    int32_t tokens;
    uint8_t kind;
    uint8_t content;
};

struct worker;

/* Timer lists of connections, each sorted by its start time (constant delay per list). */
enum { L_KA = 0, L_HC, L_COUNT };     /* --keepalive-timeout; half-closed linger */
struct clink {
    struct conn *prev, *next;
    int64_t since;
    int on;
};

struct conn {
    int fd;
    uint32_t ev;                 /* epoll mask currently registered */
    struct worker *w;
    uint64_t id;
    struct conn *prev, *next;    /* worker's list */
    struct conn *dnext;          /* dirty list */
    struct conn *fnext;          /* worker's retired list, freed at the end of the loop turn */
    struct conn *iprev, *inext;  /* worker's idle list (oldest first), while in_idle */
    int64_t idle_since;          /* when the connection last had nothing queued */
    int dirty, dead, closing, rd_stopped, reset_pending, peer_closed, retired, in_idle;
    struct http1_parser *hp;     /* borrowed from the pool while a request is half-read */
    struct buf body;
    struct req *cur_in;          /* request being parsed */
    struct req *qhead, *qtail;
    int n_reqs;
    int64_t msg_start_ns;
    struct buf out;
    size_t out_off;              /* bytes of out already written */
    uint64_t out_base;           /* stream offset of out.p[0] */
    struct mark *marks;
    size_t n_marks, cap_marks, mark_head;
    int64_t late_due;            /* model time of the last event queued; -1 none */
    struct eng_seq *blocked_seq;
    enum tlog_error_kind dead_kind;
    const char *dead_msg;
    /* connection policies */
    int64_t n_heads;             /* responses started (--keepalive-requests) */
    int64_t n_done;              /* responses written whole: > 0 means a reused connection */
    int64_t ka_mark;             /* n_done when the keep-alive timer was last armed */
    int fin_after_flush;         /* --close-after-stream: FIN once this response is out */
    int half_closed;             /* FIN sent by a policy; a late request gets a reset */
    int late_arrival;            /* a request head arrived while half-closed */
    int race_pending;            /* --close-race: the request just read is to be cut */
    const char *policy_msg;      /* how the policy ended the requests it cut (logged) */
    struct clink lk[L_COUNT];
};

struct wstats {                  /* read by /metrics from any worker: relaxed atomics */
    _Atomic uint64_t requests, tokens, events, prompt_tokens, steps, conns, waiting, running;
    _Atomic uint64_t by_status[8]; /* 200 400 404 405 429 500 503 other */
    _Atomic uint64_t drops, resets, stalls, malformed, fails;
    _Atomic uint64_t preemptions, pc_queries, pc_hits, kv_used, kv_total; /* --prefix-cache */
};

struct sim;

struct worker {
    int idx;
    struct sim *sim;
    pthread_t th;
    int epfd, lfd, tfd;
    int draining;
    int64_t drain_deadline;
    int64_t timer_armed;
    struct engine eng;
    struct kvcache kv;           /* --prefix-cache; kv.n_blocks 0 when off */
    struct conn *conns;
    struct conn *dirty;
    struct conn *retired;        /* closed, unlinked; memory kept until worker_reap() */
    struct conn *idle_head, *idle_tail; /* --idle-timeout candidates, by idle_since */
    struct conn *lh[L_COUNT], *lt[L_COUNT]; /* policy timer lists (enum L_*) */
    uint64_t race_seen;          /* requests that arrived on reused connections */
    struct req *dhead, *dtail;   /* slow-start list (constant delay: FIFO is sorted) */
    struct req *lhead, *ltail;   /* complete exchanges to log once this turn's writes are done */
    struct http1_parser **pool;
    size_t n_pool, cap_pool;
    struct buf scratch;
    struct buf ev;
    struct buf line;             /* a finished exchange, serialized outside the log's lock */
    char *rbuf;
    uint64_t conn_seq;
    uint32_t late[SIM_LATE_BUCKETS];
    uint64_t late_n;
    int64_t late_max;
    struct wstats st;
    int64_t last_tick;
    int failed;
};

struct sim {
    const struct sim_opts *o;
    struct tlog_writer *log;       /* locks itself: workers hand it serialized lines */
    struct tlog_write_opts log_opts;
    struct clock_map cm;
    int stopfd;
    struct worker *w;
    int nw;
    _Atomic uint64_t req_counter;
    char listen_str[300];
    int64_t start_ns;
};

static int g_stopfd = -1;

#define ST_ADD(w, f, v) \
    atomic_store_explicit(&(w)->st.f, atomic_load_explicit(&(w)->st.f, memory_order_relaxed) + (v), \
                          memory_order_relaxed)
#define ST_GET(w, f) atomic_load_explicit(&(w)->st.f, memory_order_relaxed)

static int64_t epoch_us_of(const struct sim *s, int64_t mono_ns)
{
    return clock_map_epoch_us(&s->cm, mono_ns);
}

/* ---- small helpers ---------------------------------------------------------------------- */

static void conn_mark_dirty(struct conn *c)
{
    if (c->dirty || c->retired)
        return;
    c->dirty = 1;
    c->dnext = c->w->dirty;
    c->w->dirty = c;
}

static void conn_kill(struct conn *c, enum tlog_error_kind k, const char *msg)
{
    if (!c->dead) {
        c->dead = 1;
        c->dead_kind = k;
        c->dead_msg = msg;
    }
    conn_mark_dirty(c);
}

static void conn_update_events(struct conn *c)
{
    uint32_t want = 0;
    struct epoll_event e;
    if (c->dead)
        return;
    if (!c->rd_stopped && c->n_reqs < SIM_MAX_PIPELINE)
        want |= EPOLLIN;
    if (c->out_off < c->out.len)
        want |= EPOLLOUT;
    if (want == c->ev)
        return;
    e.events = want;
    e.data.ptr = c;
    if (epoll_ctl(c->w->epfd, EPOLL_CTL_MOD, c->fd, &e) == 0)
        c->ev = want;
}

static int mark_push(struct conn *c, struct req *r, int kind, int32_t tokens, int content)
{
    struct mark *m;
    if (!r->logging)
        return 0;
    if (c->n_marks == c->cap_marks) {
        size_t ncap = c->cap_marks ? c->cap_marks * 2 : 16;
        struct mark *nm = malloc(ncap * sizeof(*nm));
        size_t i;
        if (!nm)
            return -1;
        for (i = 0; i < c->n_marks; i++)
            nm[i] = c->marks[(c->mark_head + i) % c->cap_marks];
        free(c->marks);
        c->marks = nm;
        c->cap_marks = ncap;
        c->mark_head = 0;
    }
    m = &c->marks[(c->mark_head + c->n_marks) % c->cap_marks];
    m->end = c->out_base + c->out.len;
    m->r = r;
    m->tokens = tokens;
    m->kind = (uint8_t)kind;
    m->content = (uint8_t)content;
    c->n_marks++;
    return 0;
}

/* Queues one event's bytes (chunk-framed when the response is chunked) and its log mark. */
static void out_event(struct conn *c, struct req *r, const char *data, size_t len, int32_t tokens,
                      int content)
{
    char hex[24];
    int rc = 0;
    if (r->chunked) {
        int k = snprintf(hex, sizeof(hex), "%zx\r\n", len);
        rc = buf_append(&c->out, hex, (size_t)k);
    }
    if (!rc)
        rc = buf_append(&c->out, data, len);
    if (!rc && r->chunked)
        rc = buf_append(&c->out, "\r\n", 2);
    if (rc) {
        conn_kill(c, TLOG_ERROR_OTHER, "output buffer over its cap (client not reading)");
        return;
    }
    mark_push(c, r, MK_EVENT, tokens, content);
}

/* An SSE comment line (WHATWG HTML §9.2.6: a line starting with ':' is ignored), as TGI's
 * axum KeepAlive and many gateways send on a stream: bytes on the wire, never an event. */
static void out_comment(struct conn *c, struct req *r)
{
    static const char line[] = ": keep-alive\n\n";
    int rc = 0;
    if (r->chunked)
        rc = buf_append(&c->out, "e\r\n", 3);
    if (!rc)
        rc = buf_append(&c->out, line, sizeof line - 1);
    if (!rc && r->chunked)
        rc = buf_append(&c->out, "\r\n", 2);
    if (rc)
        conn_kill(c, TLOG_ERROR_OTHER, "output buffer over its cap (client not reading)");
}

static void stat_status(struct worker *w, int status)
{
    int i;
    switch (status) {
    case 200: i = 0; break;
    case 400: i = 1; break;
    case 404: i = 2; break;
    case 405: i = 3; break;
    case 429: i = 4; break;
    case 500: i = 5; break;
    case 503: i = 6; break;
    default: i = 7; break;
    }
    ST_ADD(w, by_status[i], 1);
}

/* RFC 9110 IMF-fixdate of now, for the personas whose servers send Date. */
static void http_date(char *out, size_t n)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* The persona's Content-Type for a JSON body or an event stream. */
static const char *persona_ctype(int persona, const char *ctype)
{
    int sse = strcmp(ctype, "text/event-stream") == 0, json = strcmp(ctype, "application/json") == 0;
    switch (persona) {
    case GEN_PERSONA_LLAMACPP:
    case GEN_PERSONA_OLLAMA:
        return json ? "application/json; charset=utf-8" : ctype;
    case GEN_PERSONA_VLLM:
    case GEN_PERSONA_SGLANG: /* Starlette's StreamingResponse(media_type="text/event-stream") */
        return sse ? "text/event-stream; charset=utf-8" : ctype;
    default:
        return ctype;
    }
}

/* Queues the status line and headers. clen >= 0: Content-Length; -1: streamed (chunked, or
 * close-delimited for HTTP/1.0 clients). Headers and their case follow the persona's server. */
static void send_head(struct conn *c, struct req *r, int status, const char *ctype, int64_t clen,
                      const char *extra)
{
    struct buf *b = &c->out;
    const struct sim_opts *o = c->w->sim->o;
    int rc, persona = o->persona;
    char date[64];
    if (!r->keep_alive || (clen < 0 && r->http10) || c->w->draining)
        c->closing = 1;
    if (o->keepalive_requests > 0 && ++c->n_heads >= o->keepalive_requests) {
        c->closing = 1; /* nginx keepalive_requests, cpp-httplib's max count: the last says so */
        if (!c->policy_msg)
            c->policy_msg = "not answered: the server closed the connection after its last "
                            "keep-alive response (--keepalive-requests)";
    }
    r->status = status;
    r->chunked = clen < 0 && !r->http10;
    ctype = persona_ctype(persona, ctype);
    rc = buf_printf(b, "HTTP/1.1 %d %s\r\n", status, gen_reason(status));
    switch (persona) {
    case GEN_PERSONA_LLAMACPP: /* cpp-httplib: Keep-Alive (or close) first, no Date */
        if (!rc && c->closing)
            rc = buf_append_str(b, "Connection: close\r\n");
        else if (!rc)
            rc = buf_printf(b, "Keep-Alive: timeout=%" PRId64 ", max=%" PRId64 "\r\n",
                            o->keepalive_timeout_us / 1000000,
                            o->keepalive_requests > 0 ? o->keepalive_requests : 100);
        if (!rc)
            rc = buf_printf(b, "Content-Type: %s\r\nServer: llama.cpp\r\n", ctype);
        if (!rc && clen >= 0)
            rc = buf_printf(b, "Content-Length: %" PRId64 "\r\n", clen);
        if (!rc && r->chunked)
            rc = buf_append_str(b, "Transfer-Encoding: chunked\r\n");
        if (!rc && extra)
            rc = buf_append_str(b, extra);
        if (!rc)
            rc = buf_append_str(b, "Access-Control-Allow-Origin: \r\n\r\n");
        break;
    case GEN_PERSONA_VLLM:
    case GEN_PERSONA_SGLANG:
    case GEN_PERSONA_TGI: /* uvicorn/h11 and hyper write lower-case names */
        http_date(date, sizeof date);
        if (persona == GEN_PERSONA_TGI)
            rc = rc ? rc : buf_printf(b, "content-type: %s\r\n", ctype);
        else
            rc = rc ? rc : buf_printf(b, "date: %s\r\nserver: uvicorn\r\ncontent-type: %s\r\n",
                                      date, ctype);
        if (!rc && clen >= 0)
            rc = buf_printf(b, "content-length: %" PRId64 "\r\n", clen);
        if (!rc && r->chunked)
            rc = buf_append_str(b, persona == GEN_PERSONA_TGI
                                       ? "cache-control: no-cache\r\ntransfer-encoding: chunked\r\n"
                                       : "transfer-encoding: chunked\r\n");
        if (!rc && extra)
            rc = buf_append_str(b, extra);
        if (!rc && c->closing)
            rc = buf_append_str(b, "connection: close\r\n");
        if (!rc && persona == GEN_PERSONA_TGI)
            rc = buf_printf(b, "date: %s\r\n", date);
        if (!rc)
            rc = buf_append_str(b, "\r\n");
        break;
    case GEN_PERSONA_OLLAMA: /* Go net/http: canonical case, Date, no Connection unless closing */
        http_date(date, sizeof date);
        rc = rc ? rc : buf_printf(b, "Content-Type: %s\r\nDate: %s\r\n", ctype, date);
        if (!rc && clen >= 0)
            rc = buf_printf(b, "Content-Length: %" PRId64 "\r\n", clen);
        if (!rc && r->chunked)
            rc = buf_append_str(b, "Transfer-Encoding: chunked\r\n");
        if (!rc && extra)
            rc = buf_append_str(b, extra);
        if (!rc && c->closing)
            rc = buf_append_str(b, "Connection: close\r\n");
        if (!rc)
            rc = buf_append_str(b, "\r\n");
        break;
    default:
        rc = rc ? rc : buf_printf(b, "Content-Type: %s\r\n", ctype);
        if (!rc && clen >= 0)
            rc = buf_printf(b, "Content-Length: %" PRId64 "\r\n", clen);
        if (!rc && r->chunked)
            rc = buf_append_str(b, "Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\n");
        if (!rc && r->xid && persona == GEN_PERSONA_SIM)
            rc = buf_printf(b, "X-Request-Id: %s\r\n", r->xid);
        if (!rc && extra)
            rc = buf_append_str(b, extra);
        if (!rc)
            rc = buf_printf(b, "Server: llmtrace-sim/%s\r\nConnection: %s\r\n\r\n", LLMTRACE_VERSION,
                            c->closing ? "close" : "keep-alive");
        break;
    }
    if (rc) {
        conn_kill(c, TLOG_ERROR_OTHER, "output buffer over its cap (client not reading)");
        return;
    }
    stat_status(c->w, status);
    if (r->logging) {
        char num[32];
        tlog_exchange_add_header(&r->x, 1, "Content-Type", 12, ctype, strlen(ctype));
        if (clen >= 0) {
            int k = snprintf(num, sizeof(num), "%" PRId64, clen);
            tlog_exchange_add_header(&r->x, 1, "Content-Length", 14, num, (size_t)k);
        } else if (r->chunked) {
            tlog_exchange_add_header(&r->x, 1, "Transfer-Encoding", 17, "chunked", 7);
        }
        /* extra holds whole "Name: value\r\n" lines (Retry-After, Allow…) */
        for (const char *p = extra; p && *p;) {
            const char *eol = strstr(p, "\r\n");
            const char *colon = memchr(p, ':', eol ? (size_t)(eol - p) : strlen(p));
            if (!eol || !colon)
                break;
            const char *v = colon + 1 + (colon[1] == ' ');
            tlog_exchange_add_header(&r->x, 1, p, (size_t)(colon - p), v, (size_t)(eol - v));
            p = eol + 2;
        }
        mark_push(c, r, MK_HEAD, 0, 0);
    }
}

/* Ends a response: terminator, END mark, state. */
static void req_end(struct conn *c, struct req *r)
{
    if (r->chunked && !c->dead)
        buf_append(&c->out, "0\r\n\r\n", 5);
    /* llama.cpp b4747: its chunked content provider returns false after the last chunk, so
     * cpp-httplib ends the keep-alive loop and closes; the headers said Keep-Alive */
    if (c->w->sim->o->close_after_stream && r->g.stream && r->status == 200 && r->chunked)
        c->fin_after_flush = 1;
    r->ended = 1;
    r->state = R_FLUSHING;
    mark_push(c, r, MK_END, 0, 0);
    if (!r->logging)
        r->end_written = 1;
    ST_ADD(c->w, requests, 1);
}

static void respond_simple(struct conn *c, struct req *r, int status, const char *ctype,
                           const char *body, size_t len, const char *extra)
{
    send_head(c, r, status, ctype, (int64_t)len, extra);
    if (c->dead)
        return;
    if (strcmp(r->method, "HEAD") == 0)
        len = 0; /* RFC 9110 9.3.2: same headers, no content */
    if (len && buf_append(&c->out, body, len) != 0) {
        conn_kill(c, TLOG_ERROR_OTHER, "output buffer over its cap");
        return;
    }
    req_end(c, r); /* error and GET bodies are not stream events: no MK_EVENT */
}

static void respond_error(struct conn *c, struct req *r, int status, const char *msg,
                          const char *extra)
{
    struct buf *s = &c->w->scratch;
    buf_reset(s);
    gen_error_persona(s, c->w->sim->o->persona, r->d, status, msg);
    if (r->logging && status >= 400 && r->err == TLOG_ERROR_NONE) {
        r->err = TLOG_ERROR_HTTP_STATUS;
        snprintf(r->errmsg, sizeof(r->errmsg), "%s", msg);
    }
    respond_simple(c, r, status, "application/json", s->p ? s->p : "", s->len, extra);
}

/* ---- GET endpoints ----------------------------------------------------------------------- */

static void late_quantiles(const struct worker *w, double q, int64_t *out)
{
    uint64_t target, acc = 0;
    size_t i;
    *out = 0;
    if (w->late_n == 0)
        return;
    target = (uint64_t)((double)w->late_n * q);
    if (target >= w->late_n)
        target = w->late_n - 1;
    for (i = 0; i < SIM_LATE_BUCKETS; i++) {
        acc += w->late[i];
        if (acc > target) {
            *out = (int64_t)i;
            return;
        }
    }
}

static void metrics_text(struct worker *self, struct buf *b)
{
    struct sim *s = self->sim;
    static const char *const st_names[8] = {"200", "400", "404", "405", "429", "500", "503", "other"};
    uint64_t v[8] = {0}, byst[8] = {0};
    int i, k;
    int64_t p50, p99;
    for (i = 0; i < s->nw; i++) {
        struct worker *w = &s->w[i];
        v[0] += ST_GET(w, waiting);
        v[1] += ST_GET(w, running);
        v[2] += ST_GET(w, tokens);
        v[3] += ST_GET(w, prompt_tokens);
        v[4] += ST_GET(w, events);
        v[5] += ST_GET(w, steps);
        v[6] += ST_GET(w, conns);
        v[7] += ST_GET(w, requests);
        for (k = 0; k < 8; k++)
            byst[k] += ST_GET(w, by_status[k]);
    }
    buf_printf(b,
               "# HELP llmtrace_sim_requests_waiting Requests waiting for a batch slot.\n"
               "# TYPE llmtrace_sim_requests_waiting gauge\nllmtrace_sim_requests_waiting %" PRIu64 "\n"
               "# HELP llmtrace_sim_requests_running Sequences in the running batch.\n"
               "# TYPE llmtrace_sim_requests_running gauge\nllmtrace_sim_requests_running %" PRIu64 "\n"
               "# HELP llmtrace_sim_generation_tokens_total Output tokens generated.\n"
               "# TYPE llmtrace_sim_generation_tokens_total counter\n"
               "llmtrace_sim_generation_tokens_total %" PRIu64 "\n"
               "# HELP llmtrace_sim_prompt_tokens_total Prompt tokens prefilled.\n"
               "# TYPE llmtrace_sim_prompt_tokens_total counter\n"
               "llmtrace_sim_prompt_tokens_total %" PRIu64 "\n"
               "# HELP llmtrace_sim_token_events_total Streamed token events.\n"
               "# TYPE llmtrace_sim_token_events_total counter\n"
               "llmtrace_sim_token_events_total %" PRIu64 "\n"
               "# HELP llmtrace_sim_steps_total Engine steps completed.\n"
               "# TYPE llmtrace_sim_steps_total counter\nllmtrace_sim_steps_total %" PRIu64 "\n"
               "# HELP llmtrace_sim_connections Open client connections.\n"
               "# TYPE llmtrace_sim_connections gauge\nllmtrace_sim_connections %" PRIu64 "\n"
               "# HELP llmtrace_sim_requests_completed_total Responses fully queued.\n"
               "# TYPE llmtrace_sim_requests_completed_total counter\n"
               "llmtrace_sim_requests_completed_total %" PRIu64 "\n"
               "# HELP llmtrace_sim_requests_total Responses by HTTP status.\n"
               "# TYPE llmtrace_sim_requests_total counter\n",
               v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
    for (k = 0; k < 8; k++)
        buf_printf(b, "llmtrace_sim_requests_total{status=\"%s\"} %" PRIu64 "\n", st_names[k],
                   byst[k]);
    {
        uint64_t used = 0, total = 0, pre = 0, q = 0, h = 0;
        double usage, rate;
        for (i = 0; i < s->nw; i++) {
            struct worker *w = &s->w[i];
            used += ST_GET(w, kv_used);
            total += ST_GET(w, kv_total);
            pre += ST_GET(w, preemptions);
            q += ST_GET(w, pc_queries);
            h += ST_GET(w, pc_hits);
        }
        usage = total ? (double)used / (double)total : 0.0;
        rate = q ? (double)h / (double)q : 0.0;
        buf_printf(b,
                   "# HELP llmtrace_sim_kv_cache_usage_perc KV-cache blocks held by running sequences, "
                   "as a fraction of all blocks (0 without --prefix-cache).\n"
                   "# TYPE llmtrace_sim_kv_cache_usage_perc gauge\n"
                   "llmtrace_sim_kv_cache_usage_perc %.6f\n"
                   "# HELP llmtrace_sim_kv_cache_blocks KV-cache blocks (--prefix-cache, all workers).\n"
                   "# TYPE llmtrace_sim_kv_cache_blocks gauge\nllmtrace_sim_kv_cache_blocks %" PRIu64 "\n"
                   "# HELP llmtrace_sim_num_preemptions_total Sequences preempted because the KV cache "
                   "was full.\n"
                   "# TYPE llmtrace_sim_num_preemptions_total counter\n"
                   "llmtrace_sim_num_preemptions_total %" PRIu64 "\n"
                   "# HELP llmtrace_sim_prefix_cache_queries_total Prompt tokens looked up in the prefix "
                   "cache.\n"
                   "# TYPE llmtrace_sim_prefix_cache_queries_total counter\n"
                   "llmtrace_sim_prefix_cache_queries_total %" PRIu64 "\n"
                   "# HELP llmtrace_sim_prefix_cache_hits_total Prompt tokens served by the prefix "
                   "cache.\n"
                   "# TYPE llmtrace_sim_prefix_cache_hits_total counter\n"
                   "llmtrace_sim_prefix_cache_hits_total %" PRIu64 "\n"
                   "# HELP llmtrace_sim_prefix_cache_hit_rate Prefix-cache hits / queries since start, "
                   "in tokens (0 before the first query).\n"
                   "# TYPE llmtrace_sim_prefix_cache_hit_rate gauge\n"
                   "llmtrace_sim_prefix_cache_hit_rate %.6f\n",
                   usage, total, pre, q, h, rate);
        if (s->o->persona == GEN_PERSONA_VLLM) {
            /* vLLM v1's names (vllm/v1/metrics/loggers.py), for scrapers that know only those */
            char lab[300];
            struct buf m;
            buf_init(&m, sizeof(lab) - 40);
            buf_append_json_str(&m, s->o->model, strlen(s->o->model));
            snprintf(lab, sizeof lab, "{engine=\"0\",model_name=\"%s\"}", m.p ? m.p : "");
            buf_free(&m);
            buf_printf(b,
                       "# HELP vllm:num_requests_running Number of requests in model execution batches.\n"
                       "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running%s %" PRIu64 "\n"
                       "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.\n"
                       "# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting%s %" PRIu64 "\n"
                       "# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.\n"
                       "# TYPE vllm:kv_cache_usage_perc gauge\nvllm:kv_cache_usage_perc%s %.6f\n"
                       "# HELP vllm:num_preemptions_total Cumulative number of preemption from the "
                       "engine.\n"
                       "# TYPE vllm:num_preemptions_total counter\nvllm:num_preemptions_total%s %" PRIu64 "\n"
                       "# HELP vllm:prefix_cache_queries_total Prefix cache queries, in terms of number "
                       "of queried tokens.\n"
                       "# TYPE vllm:prefix_cache_queries_total counter\n"
                       "vllm:prefix_cache_queries_total%s %" PRIu64 "\n"
                       "# HELP vllm:prefix_cache_hits_total Prefix cache hits, in terms of number of "
                       "cached tokens.\n"
                       "# TYPE vllm:prefix_cache_hits_total counter\n"
                       "vllm:prefix_cache_hits_total%s %" PRIu64 "\n",
                       lab, v[1], lab, v[0], lab, usage, lab, pre, lab, q, lab, h);
        }
    }
    late_quantiles(self, 0.5, &p50);
    late_quantiles(self, 0.99, &p99);
    buf_printf(b,
               "# HELP llmtrace_sim_emission_lateness_seconds Write time minus the model's emission "
               "time (this worker).\n"
               "# TYPE llmtrace_sim_emission_lateness_seconds summary\n"
               "llmtrace_sim_emission_lateness_seconds{quantile=\"0.5\"} %.6f\n"
               "llmtrace_sim_emission_lateness_seconds{quantile=\"0.99\"} %.6f\n"
               "llmtrace_sim_emission_lateness_seconds_count %" PRIu64 "\n",
               (double)p50 / 1e6, (double)p99 / 1e6, self->late_n);
}

/* ---- starting a request ------------------------------------------------------------------ */

static void begin_generation(struct worker *w, struct conn *c, struct req *r, int64_t now)
{
    int i;
    r->state = R_ACTIVE;
    if (r->g.stream) {
        send_head(c, r, 200, gen_content_type(r->d, 1), -1, NULL);
        for (i = 0; i < gen_n_preamble(&r->g) && !c->dead; i++) {
            buf_reset(&w->ev);
            gen_preamble(&w->ev, &r->g, i);
            out_event(c, r, w->ev.p, w->ev.len, 0, 0);
        }
    }
    if (c->dead)
        return;
    engine_submit(&w->eng, &r->seq, now);
    conn_mark_dirty(c);
}

/* --prefix-cache: continues the prompt's token stream with the reply the sim will generate —
 * after an "assistant" marker for the chat dialects, as the next turn's messages will carry
 * it — so the engine can register the reply's blocks as they are computed. Only as many
 * tokens as the cache can hold are hashed. */
static void hash_reply(struct worker *w, struct req *r)
{
    int64_t room = w->kv.n_blocks * w->kv.block_size, n = r->g.n_out < room ? r->g.n_out : room;
    struct buf *s = &w->scratch;
    if (r->d == DIALECT_OPENAI_CHAT || r->d == DIALECT_ANTHROPIC || r->d == DIALECT_OLLAMA_CHAT ||
        r->d == DIALECT_OPENAI_RESPONSES)
        prefix_mark(&r->ph, "assistant");
    buf_reset(s);
    if (n > 0 && gen_append_text(s, r->g.seed, 0, n) == 0 && s->p)
        prefix_text(&r->ph, s->p, s->len);
    r->seq.hashes = r->ph.hashes;
    r->seq.n_hashes = r->ph.n;
}

/* Decides what to answer to r (the connection's next request) and starts it. */
static void req_start(struct worker *w, struct conn *c, struct req *r, int64_t now)
{
    const struct sim_opts *o = w->sim->o;
    const char *allow = NULL, *why, *q;
    size_t plen;
    enum request_endpoint ep;
    cJSON *body = NULL;
    struct request_params p = {0};
    uint64_t rs;
    double u_drop, u_fail, u_reset, u_stall, u_malf;
    int body_in_log = 0;
    /* what each server answers an invalid body with: llama.cpp's handlers throw (500, as
     * b4747 does on a wrong "messages" or broken JSON), TGI validates with 422 */
    int bad_status = o->persona == GEN_PERSONA_LLAMACPP ? 500 : o->persona == GEN_PERSONA_TGI ? 422 : 400;

    r->state = R_ACTIVE;
    if (r->preset_status) {
        c->closing = 1;
        respond_error(c, r, r->preset_status, r->preset_msg, NULL);
        return;
    }
    q = strchr(r->target, '?');
    plen = q ? (size_t)(q - r->target) : strlen(r->target);
    ep = request_route(r->target, plen, &allow);
    r->d = request_dialect(ep);
    if (r->logging && ep != EP_NONE && strcmp(allow, "POST") == 0)
        r->x.dialect = strdup(dialect_name(r->d));
    if (ep == EP_NONE) {
        char msg[160];
        snprintf(msg, sizeof(msg), "no such endpoint: %.*s", (int)(plen > 100 ? 100 : plen),
                 r->target);
        respond_error(c, r, 404, msg, NULL);
        return;
    }
    if (strcmp(r->method, allow) != 0) {
        char extra[64], msg[64];
        snprintf(extra, sizeof(extra), "Allow: %s\r\n", allow);
        snprintf(msg, sizeof(msg), "method not allowed: use %s", allow);
        respond_error(c, r, 405, msg, extra);
        return;
    }
    if (ep == EP_HEALTH) {
        respond_simple(c, r, 200, "application/json", "{\"status\":\"ok\"}", 15, NULL);
        return;
    }
    if (ep == EP_MODELS) {
        struct buf *s = &w->scratch;
        buf_reset(s);
        buf_append_str(s, "{\"object\":\"list\",\"data\":[{\"id\":\"");
        buf_append_json_str(s, o->model, strlen(o->model));
        buf_printf(s, "\",\"object\":\"model\",\"created\":%" PRId64
                      ",\"owned_by\":\"llmtrace-sim\"}]}",
                   epoch_us_of(w->sim, w->sim->start_ns) / 1000000);
        respond_simple(c, r, 200, "application/json", s->p, s->len, NULL);
        return;
    }
    if (ep == EP_METRICS) {
        struct buf *s = &w->scratch;
        buf_reset(s);
        metrics_text(w, s);
        respond_simple(c, r, 200, "text/plain; version=0.0.4", s->p ? s->p : "", s->len, NULL);
        return;
    }
    if (r->body_too_big) {
        char msg[128];
        snprintf(msg, sizeof(msg), "request body larger than --max-body (%" PRIu64 " bytes)",
                 o->max_body);
        c->closing = 1;
        respond_error(c, r, 400, msg, NULL);
        return;
    }
    body = r->body ? cJSON_ParseWithLength(r->body, r->body_len) : NULL;
    if (r->logging) {
        /* the log record takes the parsed tree (validation only reads it) */
        r->x.req.body = body ? body : (r->body_len ? cJSON_CreateString(r->body) : NULL);
        body_in_log = body != NULL;
    }
    if (!body) {
        respond_error(c, r, bad_status, r->body_len ? "invalid JSON body" : "empty request body", NULL);
        return;
    }
    if (!cJSON_IsObject(body)) {
        if (!body_in_log)
        cJSON_Delete(body);
        respond_error(c, r, bad_status, "request body must be a JSON object", NULL);
        return;
    }
    p.max_tokens = -1;
    if (o->prefix_cache > 0) {
        prefix_init(&r->ph, o->tokenizer_words, o->block_size, (size_t)o->prefix_cache);
        p.prompt.hash = &r->ph;
    }
    if ((why = request_validate(ep, body, &p)) != NULL) {
        char msg[160];
        snprintf(msg, sizeof(msg), "%s", why);
        if (!body_in_log)
        cJSON_Delete(body);
        respond_error(c, r, bad_status, msg, NULL);
        return;
    }
    if (p.max_tokens > SIM_MAX_TOKENS_LIMIT || p.max_tokens == 0) {
        if (!body_in_log)
        cJSON_Delete(body);
        respond_error(c, r, bad_status,
                      p.max_tokens ? "max_tokens larger than 1000000" : "max_tokens must be at least 1",
                      NULL);
        return;
    }

    /* Every draw is made for every request, so each fault's decision for request N depends
     * only on the seed and N, not on which other flags are set. */
    rs = rng_mix(o->seed * 0x9e3779b97f4a7c15ULL ^ rng_mix(r->n));
    u_drop = rng_unit(&rs);
    u_fail = rng_unit(&rs);
    u_reset = rng_unit(&rs);
    u_stall = rng_unit(&rs);
    u_malf = rng_unit(&rs);
    {
        int64_t max = p.max_tokens > 0 ? p.max_tokens : o->default_max_tokens;
        int64_t lo = (max + 1) / 2;
        int64_t n_draw = rng_range(&rs, lo, max);
        int64_t n_out = p.ignore_eos ? max : n_draw;
        int64_t reset_pt = rng_range(&rs, 1, n_out);
        int64_t stall_pt = rng_range(&rs, 1, n_out > 1 ? n_out - 1 : 1); /* before the last */
        int64_t n_events = (n_out + o->tokens_per_event - 1) / o->tokens_per_event;
        int64_t malf_pt = rng_range(&rs, 1, n_events);
        const char *model = p.model ? p.model : o->model;

        r->g.stream = p.stream;
        r->g.include_usage = p.include_usage;
        gen_req_init_persona(&r->g, o->persona, r->d, r->n, model, strlen(model),
                             epoch_us_of(w->sim, now) / 1000000);
        r->g.n_in = request_prompt_tokens(&p, o->tokenizer_words);
        r->g.n_out = n_out;
        r->g.finish_length = n_out == max;
        r->g.seed = rng_next(&rs);
        if (r->logging) {
            r->x.model = strdup(model);
            r->x.stream = p.stream;
        }
        if (o->prefix_cache > 0 &&
            (r->g.n_in + max + o->block_size - 1) / o->block_size > o->prefix_cache) {
            char msg[160];
            if (!body_in_log)
                cJSON_Delete(body);
            snprintf(msg, sizeof(msg), "prompt (%" PRId64 " tokens) plus max_tokens (%" PRId64
                     ") exceed the KV cache of %" PRId64 " blocks of %" PRId64 " tokens "
                     "(--prefix-cache)", r->g.n_in, max, o->prefix_cache, o->block_size);
            respond_error(c, r, bad_status, msg, NULL);
            return;
        }
        r->seq = (struct eng_seq){0};
        r->seq.user = r;
        r->seq.n_out = n_out;
        r->seq.prompt_tokens = r->g.n_in;
        r->seq.stall_at = -1;
        if (o->prefix_cache > 0)
            hash_reply(w, r);
        r->reset_at = -1;
        r->malformed_at = -1;
        if (u_reset < o->reset_rate)
            r->reset_at = reset_pt;
        if (u_stall < o->stall_rate && o->stall_ms > 0) {
            r->seq.stall_at = stall_pt;
            r->seq.stall_ns = o->stall_ms * 1000000;
            ST_ADD(w, stalls, 1);
        }
        if (u_malf < o->malformed_rate && p.stream)
            r->malformed_at = malf_pt;
    }
    if (!body_in_log)
        cJSON_Delete(body);

    if (u_drop < o->drop_rate) {
        ST_ADD(w, drops, 1);
        conn_kill(c, TLOG_ERROR_RESET, "connection closed before headers (injected fault)");
        return;
    }
    if (u_fail < o->fail_rate) {
        ST_ADD(w, fails, 1);
        respond_error(c, r, o->fail_status, "injected failure (--fail-rate)",
                      o->fail_status == 429 || o->fail_status == 503 ? "Retry-After: 1\r\n" : NULL);
        return;
    }
    if (o->queue_limit > 0 && (int64_t)w->eng.n_waiting >= o->queue_limit) {
        respond_error(c, r, 429, "too many requests waiting (--queue-limit)", "Retry-After: 1\r\n");
        return;
    }
    if (o->slow_start_ms > 0) {
        r->state = R_DELAYED;
        r->due_ns = now + o->slow_start_ms * 1000000;
        r->dnext = NULL;
        if (w->dtail)
            w->dtail->dnext = r;
        else
            w->dhead = r;
        w->dtail = r;
        return;
    }
    begin_generation(w, c, r, now);
}

/* ---- the engine's callback: one event of one sequence ------------------------------------ */

static void req_finish_body(struct worker *w, struct conn *c, struct req *r, int64_t due)
{
    int64_t now_us = epoch_us_of(w->sim, due);
    int64_t pe = r->first_tok_ns - r->start_ns, ev = due - r->first_tok_ns;
    int i;
    if (w->kv.n_blocks > 0)
        r->g.n_cached = r->seq.cached_tokens;
    if (r->g.stream) {
        for (i = 0; i < gen_n_trailer(&r->g) && !c->dead; i++) {
            buf_reset(&w->ev);
            gen_trailer(&w->ev, &r->g, i, now_us, pe, ev);
            out_event(c, r, w->ev.p, w->ev.len, 0, 0);
        }
    } else {
        buf_reset(&w->ev);
        if (gen_body(&w->ev, &r->g, now_us, pe, ev) != 0) {
            conn_kill(c, TLOG_ERROR_OTHER, "response body over its cap");
            return;
        }
        send_head(c, r, 200, "application/json", (int64_t)w->ev.len, NULL);
        if (c->dead)
            return;
        if (buf_append(&c->out, w->ev.p, w->ev.len) != 0) {
            conn_kill(c, TLOG_ERROR_OTHER, "output buffer over its cap");
            return;
        }
        mark_push(c, r, MK_EVENT, (int32_t)r->g.n_out, 1);
    }
    req_end(c, r);
}

static int on_emit(void *ctx, struct eng_seq *s, int tokens, int first, int last, int64_t due)
{
    struct worker *w = ctx;
    struct req *r = s->user;
    struct conn *c = r->c;
    int64_t from = s->emitted - tokens;

    if (c->dead)
        return 1;
    if (first)
        r->first_tok_ns = due;
    ST_ADD(w, tokens, (uint64_t)tokens);
    if (r->g.stream && !last && gen_token_held(&r->g, s->emitted - 1)) {
        /* llama.cpp: an incomplete UTF-8 piece waits for the next token's chunk */
        if (r->held_from < 0)
            r->held_from = from;
    } else if (r->g.stream) {
        int malformed;
        if (first && gen_has_role_chunk(&r->g)) {
            buf_reset(&w->ev);
            gen_role_chunk(&w->ev, &r->g);
            out_event(c, r, w->ev.p, w->ev.len, 0, 0);
        }
        if (r->held_from >= 0) {
            tokens += (int)(from - r->held_from);
            from = r->held_from;
            r->held_from = -1;
        }
        r->content_events++;
        if (w->sim->o->sse_comment_every > 0 && r->d != DIALECT_OLLAMA_CHAT &&
            r->d != DIALECT_OLLAMA_GENERATE &&
            r->content_events % w->sim->o->sse_comment_every == 0)
            out_comment(c, r); /* not an event: the log and the client's count must skip it */
        malformed = r->content_events == r->malformed_at;
        buf_reset(&w->ev);
        gen_content(&w->ev, &r->g, from, tokens, last, malformed,
                    r->d == DIALECT_OLLAMA_CHAT || r->d == DIALECT_OLLAMA_GENERATE
                        ? epoch_us_of(w->sim, due) : 0);
        out_event(c, r, w->ev.p, w->ev.len, tokens, 1);
        ST_ADD(w, events, 1);
        if (malformed) {
            ST_ADD(w, malformed, 1);
            r->err = TLOG_ERROR_MALFORMED;
            snprintf(r->errmsg, sizeof(r->errmsg), "event %" PRId64 " cut short (injected fault)",
                     r->content_events);
        }
    }
    if (r->g.stream || last)
        c->late_due = due; /* a write is due now: its lateness is measured */
    conn_mark_dirty(c);
    if (r->reset_at >= 0 && s->emitted >= r->reset_at) {
        ST_ADD(w, resets, 1);
        c->reset_pending = 1;
        r->err = TLOG_ERROR_RESET;
        snprintf(r->errmsg, sizeof(r->errmsg),
                 "connection reset after %" PRId64 " tokens (injected fault)", s->emitted);
        return 1;
    }
    if (last) {
        req_finish_body(w, c, r, due);
        return 0;
    }
    if (w->sim->o->prof.kind == PROFILE_ZERO && c->out.len - c->out_off > SIM_OUT_HIGH) {
        engine_set_blocked(&w->eng, s, 1, due);
        c->blocked_seq = s;
    }
    return 0;
}

/* ---- ground truth --------------------------------------------------------------------- */

static void req_log(struct worker *w, struct req *r)
{
    struct sim *s = w->sim;
    struct tlog_exchange *x = &r->x;
    if (!s->log || !r->logging)
        return;
    if (r->g.n_out > 0 && r->state != R_PARSED) {
        struct buf t;
        int64_t n = r->seq.emitted;
        buf_init(&t, (size_t)1 << 30);
        if (n > 0 && gen_append_text(&t, r->g.seed, 0, n) == 0 && t.p)
            tlog_exchange_append_text(x, t.p, t.len);
        buf_free(&t);
        if (r->status == 200 && r->end_written) {
            x->usage.present = 1;
            x->usage.prompt_tokens = r->g.n_in;
            x->usage.completion_tokens = r->g.n_out;
            x->usage.cached_tokens = w->kv.n_blocks > 0 ? r->seq.cached_tokens : -1;
            x->resp.finish_reason = strdup(gen_finish_name(&r->g));
        }
    }
    x->resp.status = r->status;
    if (r->err != TLOG_ERROR_NONE)
        tlog_exchange_set_error(x, r->err, r->errmsg[0] ? r->errmsg : NULL);
    tlog_exchange_derive_tokens(x);
    buf_reset(&w->line);
    if (tlog_exchange_to_line(x, &s->log_opts, &w->line) == 0)
        tlog_writer_line(s->log, w->line.p, w->line.len, 1, x->error_kind != TLOG_ERROR_NONE);
    if (w->line.cap > ((size_t)1 << 20))
        buf_free(&w->line); /* one huge record must not pin memory for the worker's life */
}

static void req_free(struct req *r)
{
    if (!r)
        return;
    if (r->logging)
        tlog_exchange_free(&r->x);
    prefix_free(&r->ph);
    free(r->target);
    free(r->xid);
    free(r->body);
    free(r);
}

/* ---- connections ------------------------------------------------------------------------ */

static void delayed_remove(struct worker *w, struct req *r)
{
    struct req **pp = &w->dhead, *prev = NULL;
    while (*pp && *pp != r) {
        prev = *pp;
        pp = &(*pp)->dnext;
    }
    if (*pp) {
        *pp = r->dnext;
        if (w->dtail == r)
            w->dtail = prev;
    }
}

static void pool_put(struct worker *w, struct http1_parser *p)
{
    if (!p)
        return;
    http1_free(p);
    if (w->n_pool < w->cap_pool)
        w->pool[w->n_pool++] = p;
    else
        free(p);
}

/* The idle list holds connections with no complete request queued, in the order they became
 * idle, so its head is always the next --idle-timeout deadline. */
static void idle_remove(struct worker *w, struct conn *c)
{
    if (!c->in_idle)
        return;
    if (c->iprev)
        c->iprev->inext = c->inext;
    else
        w->idle_head = c->inext;
    if (c->inext)
        c->inext->iprev = c->iprev;
    else
        w->idle_tail = c->iprev;
    c->iprev = c->inext = NULL;
    c->in_idle = 0;
}

static void idle_append(struct worker *w, struct conn *c, int64_t now)
{
    if (c->in_idle || w->sim->o->idle_timeout_us <= 0)
        return;
    /* callers' clocks are read at slightly different moments: clamping keeps the list sorted */
    if (w->idle_tail && now < w->idle_tail->idle_since)
        now = w->idle_tail->idle_since;
    c->idle_since = now;
    c->inext = NULL;
    c->iprev = w->idle_tail;
    if (w->idle_tail)
        w->idle_tail->inext = c;
    else
        w->idle_head = c;
    w->idle_tail = c;
    c->in_idle = 1;
}

static void clist_remove(struct worker *w, struct conn *c, int l)
{
    struct clink *k = &c->lk[l];
    if (!k->on)
        return;
    if (k->prev)
        k->prev->lk[l].next = k->next;
    else
        w->lh[l] = k->next;
    if (k->next)
        k->next->lk[l].prev = k->prev;
    else
        w->lt[l] = k->prev;
    k->prev = k->next = NULL;
    k->on = 0;
}

static void clist_append(struct worker *w, struct conn *c, int l, int64_t now)
{
    struct clink *k = &c->lk[l];
    if (k->on)
        return;
    if (w->lt[l] && now < w->lt[l]->lk[l].since)
        now = w->lt[l]->lk[l].since; /* keep the list sorted */
    k->since = now;
    k->next = NULL;
    k->prev = w->lt[l];
    if (w->lt[l])
        w->lt[l]->lk[l].next = c;
    else
        w->lh[l] = c;
    w->lt[l] = c;
    k->on = 1;
}

/* A connection policy ends the connection the way the server it copies does: a FIN without
 * Connection: close (the headers said keep-alive). Requests already read or queued on it are
 * cut, and the socket closes with a reset, as a kernel answers data for a closed socket; with
 * none, the socket is half-closed and read on, so that a request the client sends after the
 * FIN is logged (with msg) before it gets its reset. */
static void conn_policy_close(struct worker *w, struct conn *c, const char *msg, int64_t now)
{
    if (c->dead || c->half_closed)
        return;
    c->closing = 1;
    c->policy_msg = msg;
    c->fin_after_flush = 0;
    clist_remove(w, c, L_KA);
    idle_remove(w, c);
    if (c->qhead || c->cur_in) {
        c->reset_pending = 1;
        conn_kill(c, TLOG_ERROR_RESET, msg);
        return;
    }
    if (shutdown(c->fd, SHUT_WR) < 0) {
        conn_kill(c, TLOG_ERROR_OTHER, msg);
        return;
    }
    c->half_closed = 1;
    clist_append(w, c, L_HC, now);
}

/* Closes the socket, settles and frees the connection's requests and unlinks it from every
 * worker list, but keeps the struct itself on w->retired: an event for it may still sit in
 * this turn's epoll_wait() results, and the loop must find it there marked dead rather than
 * read freed memory (or a newer connection that took the same address). worker_reap()
 * frees it once the turn is over. */
static void conn_retire(struct worker *w, struct conn *c)
{
    struct req *r, *nx;
    if (c->retired)
        return;
    if (c->reset_pending) {
        struct linger lg = {1, 0}; /* RST instead of FIN */
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    close(c->fd);
    for (r = c->qhead; r; r = nx) {
        nx = r->next;
        if (r->state == R_ACTIVE)
            engine_cancel(&w->eng, &r->seq);
        if (r->state == R_DELAYED)
            delayed_remove(w, r);
        if (!r->end_written || r->err != TLOG_ERROR_NONE) {
            if (r->err == TLOG_ERROR_NONE) {
                r->err = c->dead_kind ? c->dead_kind : TLOG_ERROR_RESET;
                snprintf(r->errmsg, sizeof(r->errmsg), "%s",
                         c->dead_msg ? c->dead_msg : c->policy_msg ? c->policy_msg
                                                                   : "connection closed");
            }
            if (r->logging && !r->end_written) {
                int64_t now = clock_mono_ns();
                r->x.resp.end_us = (now - r->start_ns) / 1000;
                req_log(w, r);
            }
        }
        req_free(r);
    }
    c->qhead = c->qtail = NULL;
    c->n_reqs = 0;
    if (c->cur_in && c->policy_msg && c->cur_in->logging) {
        /* half-read when the policy cut it: logged too, with what arrived of it */
        struct req *q = c->cur_in;
        q->err = TLOG_ERROR_RESET;
        snprintf(q->errmsg, sizeof(q->errmsg), "%s", c->policy_msg);
        q->x.resp.end_us = (clock_mono_ns() - q->start_ns) / 1000;
        req_log(w, q);
    }
    req_free(c->cur_in);
    c->cur_in = NULL;
    if (c->hp)
        pool_put(w, c->hp);
    c->hp = NULL;
    c->blocked_seq = NULL;
    buf_free(&c->body);
    buf_free(&c->out);
    free(c->marks);
    c->marks = NULL;
    c->n_marks = c->cap_marks = 0;
    idle_remove(w, c);
    for (int l = 0; l < L_COUNT; l++)
        clist_remove(w, c, l);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    ST_ADD(w, conns, (uint64_t)-1);
    c->dead = 1;
    c->retired = 1;
    c->fd = -1;
    c->fnext = w->retired;
    w->retired = c;
}

/* Frees the connections retired since the last call. Only called where no epoll_wait()
 * result is being walked: at the top of the loop turn, and after the threads stopped. */
static void worker_reap(struct worker *w)
{
    while (w->retired) {
        struct conn *c = w->retired;
        w->retired = c->fnext;
        free(c);
    }
}

/* Writes what it can; records write times of completed marks. The time is taken just
 * before the write() that handed the bytes to the kernel: a reader can see them from then on,
 * and a stamp taken after write() returns would run late whenever the call is preempted. */
static void conn_flush(struct worker *w, struct conn *c)
{
    int64_t now = -1;
    while (c->out_off < c->out.len) {
        int64_t t = clock_mono_ns();
        ssize_t n = write(c->fd, c->out.p + c->out_off, c->out.len - c->out_off);
        if (n > 0) {
            c->out_off += (size_t)n;
            now = t;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        conn_kill(c, TLOG_ERROR_RESET, "client closed the connection");
        return;
    }
    if (now < 0)
        now = clock_mono_ns();
    while (c->n_marks) {
        struct mark *m = &c->marks[c->mark_head];
        struct req *r = m->r;
        int64_t off = (now - r->start_ns) / 1000;
        if (m->end > c->out_base + c->out_off)
            break;
        if (m->kind == MK_HEAD) {
            r->x.resp.ttfb_us = off;
        } else if (m->kind == MK_EVENT) {
            tlog_exchange_add_event(&r->x, off, m->tokens, m->content);
        } else {
            r->x.resp.end_us = off;
            r->end_written = 1;
            if (r->x.resp.ttfb_us < 0)
                r->x.resp.ttfb_us = off;
            /* serialised later: logging must not delay other streams' writes */
            r->lnext = NULL;
            if (w->ltail)
                w->ltail->lnext = r;
            else
                w->lhead = r;
            w->ltail = r;
        }
        c->mark_head = (c->mark_head + 1) % c->cap_marks;
        c->n_marks--;
    }
    if (c->out_off == c->out.len) {
        if (c->late_due >= 0 && w->sim->o->prof.kind != PROFILE_ZERO) {
            int64_t late = (now - c->late_due) / 1000;
            if (late < 0)
                late = 0;
            if (late > w->late_max)
                w->late_max = late;
            w->late[late < SIM_LATE_BUCKETS - 1 ? late : SIM_LATE_BUCKETS - 1]++;
            w->late_n++;
        }
        c->late_due = -1;
        c->out_base += c->out.len;
        c->out_off = 0;
        if (c->out.cap > 65536)
            buf_free(&c->out);
        else
            buf_reset(&c->out);
    }
    if (c->blocked_seq && c->out.len - c->out_off < SIM_OUT_HIGH / 2) {
        struct eng_seq *s = c->blocked_seq;
        c->blocked_seq = NULL;
        if (s->state == ENG_RUNNING)
            engine_set_blocked(&w->eng, s, 0, clock_mono_ns());
    }
}

/* Frees finished requests and starts the next one. Returns 1 when something changed. */
static int conn_pump(struct worker *w, struct conn *c, int64_t now)
{
    int changed = 0;
    struct req *r;
    while ((r = c->qhead) && r->state == R_FLUSHING && r->end_written &&
           (!r->logging || r->logged)) {
        c->qhead = r->next;
        if (!c->qhead)
            c->qtail = NULL;
        c->n_reqs--;
        c->n_done++;
        req_free(r);
        changed = 1;
    }
    for (r = c->qhead; r && !c->dead; r = r->next) {
        if (r->state == R_FLUSHING)
            continue;
        if (r->state != R_PARSED)
            break; /* one response in progress at a time */
        if (c->closing)
            break; /* an earlier response said Connection: close */
        req_start(w, c, r, now);
        changed = 1;
        if (r->state != R_FLUSHING)
            break;
    }
    return changed;
}

static void conn_service(struct worker *w, struct conn *c, int64_t now)
{
    int guard;
    for (guard = 0; guard < 1000 && !c->dead; guard++) {
        conn_flush(w, c);
        if (c->dead || !conn_pump(w, c, now))
            break;
    }
    if (!c->dead && c->reset_pending)
        c->dead = 1;
    if (!c->dead && c->fin_after_flush && c->out_off == c->out.len &&
        (!c->qhead || c->qhead->state == R_PARSED))
        conn_policy_close(w, c, "not answered: the server closed the connection after a streamed "
                                "response without Connection: close (--close-after-stream)", now);
    if (!c->dead && c->reset_pending)
        c->dead = 1;
    if (!c->dead && c->out_off == c->out.len &&
        ((c->closing && !c->half_closed && (!c->qhead || c->qhead->state == R_PARSED)) ||
         (c->peer_closed && !c->qhead) || (w->draining && !c->qhead && !c->cur_in)))
        c->dead = 1;
    if (!c->dead) {
        if (c->qhead)
            idle_remove(w, c);
        else if (!c->half_closed)
            idle_append(w, c, now);
        /* uvicorn's timeout_keep_alive: armed when a response completes on an idle
         * connection, cancelled by any byte the client sends */
        if (w->sim->o->keepalive_timeout_us > 0 && !c->qhead && !c->hp && !c->cur_in &&
            !c->closing && c->n_done > c->ka_mark) {
            c->ka_mark = c->n_done;
            clist_append(w, c, L_KA, now);
        }
        conn_update_events(c);
    }
}

/* Timed profiles: when a step is due in the middle of other work (a burst of new requests),
 * emits it and writes its events now, without freeing anything (callers hold pointers). */
static void emit_if_due(struct worker *w)
{
    struct conn *c;
    int64_t due = engine_due(&w->eng), now;
    if (due < 0 || w->sim->o->prof.kind == PROFILE_ZERO)
        return;
    now = clock_mono_ns();
    if (due > now)
        return;
    ST_ADD(w, steps, (uint64_t)engine_advance(&w->eng, now, 100000));
    for (c = w->dirty; c; c = c->dnext)
        if (!c->dead)
            conn_flush(w, c);
}

/* Writes the exchanges completed this turn to the log; their connections then free them. */
static void logq_flush(struct worker *w)
{
    while (w->lhead) {
        struct req *r = w->lhead;
        w->lhead = r->lnext;
        if (!w->lhead)
            w->ltail = NULL;
        req_log(w, r);
        r->logged = 1;
        conn_mark_dirty(r->c);
        emit_if_due(w); /* serialising a long record takes a while */
    }
}

static void process_dirty(struct worker *w)
{
    int64_t now = clock_mono_ns();
    while (w->dirty) {
        struct conn *c;
        emit_if_due(w); /* one clock read: starting a request can cost tens of µs */
        c = w->dirty;
        w->dirty = c->dnext;
        c->dirty = 0;
        conn_service(w, c, now);
        if (c->dead && !c->dirty && w->lhead)
            logq_flush(w); /* none of its requests may stay queued for the log */
        if (c->dead && !c->dirty)
            conn_retire(w, c);
    }
}

/* ---- HTTP parsing callbacks ---------------------------------------------------------------- */

static int cb_head(void *user, const struct http1_head *h)
{
    struct conn *c = user;
    struct worker *w = c->w;
    struct req *r = calloc(1, sizeof(*r));
    const struct http1_header *xh;
    size_t i, ml;
    if (!r)
        return -1;
    r->c = c;
    r->n = atomic_fetch_add(&w->sim->req_counter, 1) + 1;
    ml = h->method_len < sizeof(r->method) - 1 ? h->method_len : sizeof(r->method) - 1;
    memcpy(r->method, h->method, ml);
    r->target = strndup(h->target, h->target_len);
    r->keep_alive = h->keep_alive;
    r->http10 = h->version_minor == 0;
    r->start_ns = c->msg_start_ns;
    r->reset_at = r->malformed_at = -1;
    r->held_from = -1;
    xh = http1_find_header(h, "X-Request-Id");
    if (xh && xh->value_len > 0 && xh->value_len <= 200)
        r->xid = strndup(xh->value, xh->value_len);
    if (w->sim->log) {
        char idbuf[32];
        r->logging = 1;
        tlog_exchange_init(&r->x);
        r->x.resp.ttfb_us = -1;
        r->x.resp.end_us = -1;
        snprintf(idbuf, sizeof(idbuf), "sim-%" PRIu64, r->n);
        r->x.id = strdup(r->xid ? r->xid : idbuf);
        r->x.start_us = epoch_us_of(w->sim, r->start_ns);
        snprintf(idbuf, sizeof(idbuf), "w%dc%" PRIu64, w->idx, c->id);
        r->x.conn = strdup(idbuf);
        r->x.req.method = strndup(h->method, h->method_len);
        r->x.req.path = strdup(r->target ? r->target : "");
        for (i = 0; i < h->n_headers; i++)
            tlog_exchange_add_header(&r->x, 0, h->headers[i].name, h->headers[i].name_len,
                                     h->headers[i].value, h->headers[i].value_len);
        xh = http1_find_header(h, "Host");
        if (xh)
            r->x.req.host = strndup(xh->value, xh->value_len);
    }
    if (!r->target) {
        req_free(r);
        return -1;
    }
    if (c->half_closed) {
        c->late_arrival = 1; /* sent after the policy's FIN: reset, as a closed socket would */
    } else if (c->n_done > 0 && !c->qhead && !c->closing) {
        /* --close-race: the next request on an idle keep-alive connection meets the close */
        const struct sim_opts *o = w->sim->o;
        uint64_t seen = ++w->race_seen, rs = rng_mix(o->seed ^ 0x636c6f7365ULL ^ rng_mix(r->n));
        if ((o->close_race_every > 0 && seen % (uint64_t)o->close_race_every == 0) ||
            (o->close_race_rate > 0 && rng_unit(&rs) < o->close_race_rate))
            c->race_pending = 1;
    }
    if (h->content_length > 0 && (uint64_t)h->content_length > w->sim->o->max_body)
        r->body_too_big = 1;
    /* curl waits up to 1 s for this before sending a large body; only sent when no response
     * is in progress, since interim bytes must not land inside another response */
    xh = http1_find_header(h, "Expect");
    if (xh && !r->http10 && !r->body_too_big && !c->qhead && !c->closing && xh->value_len == 12 &&
        strncasecmp(xh->value, "100-continue", 12) == 0 &&
        buf_append_str(&c->out, "HTTP/1.1 100 Continue\r\n\r\n") == 0)
        conn_mark_dirty(c);
    req_free(c->cur_in);
    c->cur_in = r;
    buf_reset(&c->body);
    return 0;
}

static int cb_body(void *user, const char *data, size_t len)
{
    struct conn *c = user;
    if (c->cur_in && buf_append(&c->body, data, len) != 0)
        c->cur_in->body_too_big = 1;
    return 0;
}

static void conn_enqueue(struct conn *c, struct req *r)
{
    r->next = NULL;
    if (c->qtail)
        c->qtail->next = r;
    else
        c->qhead = r;
    c->qtail = r;
    c->n_reqs++;
}

static int cb_complete(void *user)
{
    struct conn *c = user;
    struct req *r = c->cur_in;
    if (!r)
        return 0;
    c->cur_in = NULL;
    r->body_len = c->body.len;
    r->body = buf_steal(&c->body);
    if (r->logging)
        r->x.req.body_bytes = (int64_t)r->body_len;
    conn_enqueue(c, r);
    if (!r->keep_alive)
        c->rd_stopped = 1; /* nothing after a Connection: close request is answered */
    return 0;
}

static const struct http1_callbacks sim_http_cb = {cb_head, cb_body, NULL, cb_complete};

/* Queues an error answer (status, msg) for the request being read — the half-read one if its
 * head arrived, else a blank one — and stops reading: the connection closes after it. */
static struct req *conn_reject(struct worker *w, struct conn *c, int status, const char *msg)
{
    struct req *r = c->cur_in;
    c->cur_in = NULL;
    if (!r) {
        r = calloc(1, sizeof(*r));
        if (!r) {
            conn_kill(c, TLOG_ERROR_OTHER, "out of memory");
            return NULL;
        }
        r->c = c;
        r->n = atomic_fetch_add(&w->sim->req_counter, 1) + 1;
        r->target = strdup("");
        r->start_ns = c->msg_start_ns;
        r->reset_at = r->malformed_at = -1;
    }
    r->keep_alive = 0;
    snprintf(r->preset_msg, sizeof(r->preset_msg), "%s", msg);
    if (r->target) {
        const char *allow;
        const char *q = strchr(r->target, '?');
        r->d = request_dialect(request_route(r->target, q ? (size_t)(q - r->target) : strlen(r->target), &allow));
    }
    r->preset_status = status;
    conn_enqueue(c, r);
    c->rd_stopped = 1;
    return r;
}

static void conn_parse_error(struct worker *w, struct conn *c, int err)
{
    char msg[160];
    struct req *r;
    if (err == HTTP1_E_BODY_TOO_LARGE)
        snprintf(msg, sizeof(msg), "request body larger than --max-body (%" PRIu64 " bytes)",
                 w->sim->o->max_body);
    else
        snprintf(msg, sizeof(msg), "malformed HTTP request: %s", http1_strerror(err));
    r = conn_reject(w, c, 400, msg);
    if (r && err == HTTP1_E_BODY_TOO_LARGE)
        r->body_too_big = 1;
}

/* --idle-timeout: a connection whose queue has been empty for that long is closed. The clock
 * is not restarted by the bytes of an incomplete request, so a request line or headers sent a
 * byte at a time cannot hold the connection: such a half-read request is answered 408
 * (RFC 9110 15.5.9) before the close; a connection with nothing sent is just closed. */
static void idle_sweep(struct worker *w, int64_t now)
{
    int64_t limit = w->sim->o->idle_timeout_us * 1000;
    struct conn *c;
    while ((c = w->idle_head) && now - c->idle_since >= limit) {
        idle_remove(w, c);
        if (c->dead || c->qhead)
            continue; /* busy again: listed anew once its queue empties */
        if (c->hp || c->cur_in) {
            conn_reject(w, c, 408, "request not complete within --idle-timeout");
            pool_put(w, c->hp);
            c->hp = NULL;
            buf_reset(&c->body);
            conn_mark_dirty(c);
        } else {
            conn_kill(c, TLOG_ERROR_OTHER, "idle connection closed (--idle-timeout)");
        }
    }
}

/* --close-race: the request that just arrived on an idle keep-alive connection is not
 * answered; the server's FIN follows it, as when a keep-alive timeout fires while the request
 * is on its way. The request is logged as reset; the rest of its bytes are read and dropped. */
static void conn_race_close(struct worker *w, struct conn *c)
{
    static const char msg[] = "not answered: the server closed the idle keep-alive connection as "
                              "this request arrived (--close-race)";
    struct req *r;
    int64_t now = clock_mono_ns();
    while ((r = c->qhead) && r->state == R_PARSED) {
        c->qhead = r->next;
        if (!c->qhead)
            c->qtail = NULL;
        c->n_reqs--;
        r->err = TLOG_ERROR_RESET;
        snprintf(r->errmsg, sizeof(r->errmsg), "%s", msg);
        r->x.resp.end_us = (now - r->start_ns) / 1000;
        req_log(w, r);
        req_free(r);
    }
    if ((r = c->cur_in)) {
        c->cur_in = NULL; /* its body, still coming, goes nowhere */
        r->err = TLOG_ERROR_RESET;
        snprintf(r->errmsg, sizeof(r->errmsg), "%s", msg);
        r->x.resp.end_us = (now - r->start_ns) / 1000;
        req_log(w, r);
        req_free(r);
    }
    conn_policy_close(w, c, msg, now);
}

/* The policy timers: --keepalive-timeout (FIN to a connection idle that long after its last
 * response) and the linger of half-closed connections (closed after SIM_LINGER_NS). */
static void policy_sweep(struct worker *w, int64_t now)
{
    const struct sim_opts *o = w->sim->o;
    struct conn *c;
    while ((c = w->lh[L_KA]) && now - c->lk[L_KA].since >= o->keepalive_timeout_us * 1000) {
        clist_remove(w, c, L_KA);
        if (c->dead || c->qhead || c->hp || c->cur_in)
            continue;
        conn_policy_close(w, c, "not answered: the server closed the idle keep-alive connection "
                                "(--keepalive-timeout) before this request arrived", now);
        conn_mark_dirty(c);
    }
    while ((c = w->lh[L_HC]) && now - c->lk[L_HC].since >= SIM_LINGER_NS) {
        clist_remove(w, c, L_HC);
        if (!c->dead)
            conn_kill(c, TLOG_ERROR_OTHER, "closed connection lingered out");
    }
}

static void conn_on_read(struct worker *w, struct conn *c)
{
    int turns;
    clist_remove(w, c, L_KA); /* a byte from the client cancels the keep-alive timer */
    for (turns = 0; turns < 4 && !c->dead && !c->rd_stopped; turns++) {
        ssize_t n = read(c->fd, w->rbuf, SIM_READ_CHUNK), used;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                conn_kill(c, TLOG_ERROR_RESET, "connection reset by the client");
            break;
        }
        if (n == 0) {
            c->peer_closed = 1;
            c->rd_stopped = 1;
            if (c->qhead || c->cur_in)
                conn_kill(c, TLOG_ERROR_RESET, "client closed the connection");
            break;
        }
        if (!c->hp) {
            if (w->n_pool)
                c->hp = w->pool[--w->n_pool];
            else if (!(c->hp = malloc(sizeof(*c->hp)))) {
                conn_kill(c, TLOG_ERROR_OTHER, "out of memory");
                break;
            }
            http1_init(c->hp, HTTP1_REQUEST, &sim_http_cb, c, 1, w->sim->o->max_body);
        }
        if (http1_idle(c->hp))
            c->msg_start_ns = clock_mono_ns();
        used = http1_feed(c->hp, w->rbuf, (size_t)n);
        if (used < 0) {
            conn_parse_error(w, c, (int)used);
            pool_put(w, c->hp);
            c->hp = NULL;
            break;
        }
        if (http1_idle(c->hp)) {
            pool_put(w, c->hp);
            c->hp = NULL;
        }
        if (c->n_reqs >= SIM_MAX_PIPELINE || n < SIM_READ_CHUNK)
            break;
    }
    if (!c->dead && c->late_arrival) {
        c->reset_pending = 1;
        conn_kill(c, TLOG_ERROR_RESET, c->policy_msg);
    } else if (!c->dead && c->race_pending) {
        c->race_pending = 0;
        conn_race_close(w, c);
    }
    conn_mark_dirty(c);
}

static void worker_accept(struct worker *w)
{
    int i;
    for (i = 0; i < 256; i++) {
        int fd = accept4(w->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
        struct conn *c;
        struct epoll_event e;
        if (fd < 0)
            return;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c = calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->w = w;
        c->id = ++w->conn_seq;
        c->late_due = -1;
        buf_init(&c->body, w->sim->o->max_body + 1);
        buf_init(&c->out, SIM_OUT_CAP);
        e.events = EPOLLIN;
        e.data.ptr = c;
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
            close(fd);
            free(c);
            continue;
        }
        c->ev = EPOLLIN;
        c->next = w->conns;
        if (w->conns)
            w->conns->prev = c;
        w->conns = c;
        idle_append(w, c, clock_mono_ns());
        ST_ADD(w, conns, 1);
    }
}

/* ---- the loop ----------------------------------------------------------------------------- */

static void worker_arm_timer(struct worker *w, int64_t due)
{
    struct itimerspec its = {0};
    if (due == w->timer_armed)
        return;
    w->timer_armed = due;
    if (due > 0) {
        its.it_value.tv_sec = due / 1000000000;
        its.it_value.tv_nsec = due % 1000000000;
    }
    timerfd_settime(w->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void worker_start_drain(struct worker *w, int64_t now)
{
    struct conn *c;
    if (w->draining)
        return;
    w->draining = 1;
    w->drain_deadline = now + w->sim->o->drain_us * 1000;
    if (w->lfd >= 0) {
        epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->lfd, NULL);
        close(w->lfd);
        w->lfd = -1;
    }
    for (c = w->conns; c; c = c->next) {
        c->rd_stopped = 1;
        conn_mark_dirty(c);
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    const struct sim_opts *o = w->sim->o;
    int zero = o->prof.kind == PROFILE_ZERO;
    struct epoll_event evs[256];

    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); /* timerfd wake-ups within ~µs of the schedule */
    for (;;) {
        int64_t now = clock_mono_ns(), due = engine_due(&w->eng), wake = due;
        int timeout = -1, n, i;

        worker_reap(w); /* nothing from the last epoll_wait() is read any more */
        if (w->dhead && (wake < 0 || w->dhead->due_ns < wake))
            wake = w->dhead->due_ns;
        if (w->idle_head) {
            int64_t idle_due = w->idle_head->idle_since + o->idle_timeout_us * 1000;
            if (wake < 0 || idle_due < wake)
                wake = idle_due;
        }
        if (w->lh[L_KA]) {
            int64_t ka_due = w->lh[L_KA]->lk[L_KA].since + o->keepalive_timeout_us * 1000;
            if (wake < 0 || ka_due < wake)
                wake = ka_due;
        }
        if (w->lh[L_HC]) {
            int64_t hc_due = w->lh[L_HC]->lk[L_HC].since + SIM_LINGER_NS;
            if (wake < 0 || hc_due < wake)
                wake = hc_due;
        }
        if (w->draining) {
            if (!w->conns && !w->dhead)
                break;
            if (now >= w->drain_deadline) {
                struct conn *c;
                for (c = w->conns; c; c = c->next)
                    conn_kill(c, TLOG_ERROR_CANCELLED, "cut at the end of the drain (--drain-seconds)");
                process_dirty(w);
                continue;
            }
            if (wake < 0 || w->drain_deadline < wake)
                wake = w->drain_deadline;
        }
        if (wake >= 0 && wake <= now) {
            timeout = 0;
        } else if (wake >= 0 && wake - now <= SIM_SPIN_NS) {
            /* the timer's wake-up latency is tens of µs on a busy machine: the last stretch
             * before an emission is waited out on the clock instead */
            while (clock_mono_ns() < wake)
                ;
            timeout = 0;
        } else {
            worker_arm_timer(w, wake >= 0 ? wake - SIM_SPIN_NS : 0);
        }
        if (w->idx == 0 && w->sim->log && timeout != 0)
            timeout = 500; /* the log's once-a-second member close */
        n = epoll_wait(w->epfd, evs, 256, timeout);
        if (n < 0 && errno != EINTR) {
            w->failed = 1;
            break;
        }
        if (!zero) {
            /* A step that is due goes out before this turn's reads and request parsing. */
            now = clock_mono_ns();
            ST_ADD(w, steps, (uint64_t)engine_advance(&w->eng, now, 100000));
            process_dirty(w);
        }
        for (i = 0; i < n; i++) {
            uint64_t tag = evs[i].data.u64;
            emit_if_due(w);
            if (tag == TAG_LISTEN) {
                if (!w->draining)
                    worker_accept(w);
            } else if (tag == TAG_TIMER) {
                uint64_t x;
                if (read(w->tfd, &x, sizeof(x)) < 0) {
                    /* EAGAIN after a re-arm: nothing to do */
                }
                w->timer_armed = -1;
            } else if (tag == TAG_STOP) {
                /* edge-triggered, never read: one wake-up per signal; a second one cuts now */
                if (w->draining)
                    w->drain_deadline = clock_mono_ns();
                else
                    worker_start_drain(w, clock_mono_ns());
            } else {
                struct conn *c = evs[i].data.ptr;
                if (c->dead)
                    continue;
                if (evs[i].events & (EPOLLERR | EPOLLHUP) && !(evs[i].events & EPOLLIN)) {
                    conn_kill(c, TLOG_ERROR_RESET, "connection reset by the client");
                    continue;
                }
                if (evs[i].events & EPOLLIN)
                    conn_on_read(w, c);
                if (evs[i].events & EPOLLOUT)
                    conn_mark_dirty(c);
            }
        }
        if (w->idle_head)
            idle_sweep(w, clock_mono_ns());
        if (w->lh[L_KA] || w->lh[L_HC])
            policy_sweep(w, clock_mono_ns());
        process_dirty(w); /* new requests join the engine before the step boundary passes */
        now = clock_mono_ns();
        while (w->dhead && w->dhead->due_ns <= now) {
            struct req *r = w->dhead;
            w->dhead = r->dnext;
            if (!w->dhead)
                w->dtail = NULL;
            begin_generation(w, r->c, r, now);
        }
        ST_ADD(w, steps, (uint64_t)engine_advance(&w->eng, now, zero ? SIM_ZERO_STEPS : 100000));
        process_dirty(w);
        if (w->lhead) {
            logq_flush(w);
            process_dirty(w);
        }
        atomic_store_explicit(&w->st.waiting, w->eng.n_waiting, memory_order_relaxed);
        atomic_store_explicit(&w->st.running, (uint64_t)w->eng.n_running, memory_order_relaxed);
        ST_ADD(w, prompt_tokens, w->eng.prompt_tokens - ST_GET(w, prompt_tokens));
        if (w->kv.n_blocks > 0) {
            atomic_store_explicit(&w->st.kv_used, (uint64_t)kv_used(&w->kv), memory_order_relaxed);
            atomic_store_explicit(&w->st.preemptions, w->eng.preemptions, memory_order_relaxed);
            atomic_store_explicit(&w->st.pc_queries, w->eng.pc_queries, memory_order_relaxed);
            atomic_store_explicit(&w->st.pc_hits, w->eng.pc_hits, memory_order_relaxed);
        }
        if (w->idx == 0 && w->sim->log && now - w->last_tick >= 250000000) {
            w->last_tick = now;
            tlog_writer_tick(w->sim->log, now / 1000);
        }
    }
    return NULL;
}

/* ---- setup -------------------------------------------------------------------------------- */

static void on_signal(int sig)
{
    uint64_t one = 1;
    (void)sig;
    if (g_stopfd >= 0 && write(g_stopfd, &one, sizeof(one)) < 0) {
        /* nothing else is async-signal-safe to do */
    }
}

static int open_listener(const struct sim_opts *o, const char *port, int reuse, char *err,
                         size_t errlen, int *out_port, char *bound, size_t boundlen)
{
    struct addrinfo hints = {0}, *ai = NULL;
    int fd, one = 1, rc;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char host[INET6_ADDRSTRLEN];
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    rc = getaddrinfo(o->host[0] ? o->host : NULL, port, &hints, &ai);
    if (rc != 0) {
        snprintf(err, errlen, "--listen %s: %s", o->listen, gai_strerror(rc));
        return -1;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        freeaddrinfo(ai);
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuse)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 4096) < 0) {
        snprintf(err, errlen, "--listen %s: %s", o->listen, strerror(errno));
        close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
            *out_port = ntohs(s6->sin6_port);
            snprintf(bound, boundlen, "[%s]:%d", host, *out_port);
        } else {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
            *out_port = ntohs(s4->sin_port);
            snprintf(bound, boundlen, "%s:%d", host, *out_port);
        }
    }
    return fd;
}

static int write_port_file(const char *path, int port, char *err, size_t errlen)
{
    char tmp[4200];
    FILE *f;
    snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
    f = fopen(tmp, "w");
    if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        snprintf(err, errlen, "--port-file %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static cJSON *options_json(const struct sim_opts *o)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "seed", (double)o->seed);
    cJSON_AddStringToObject(j, "profile", o->prof.name);
    cJSON_AddNumberToObject(j, "max_batch", o->max_batch);
    cJSON_AddNumberToObject(j, "tokens_per_event", o->tokens_per_event);
    cJSON_AddNumberToObject(j, "chunked_prefill", (double)o->chunked_prefill);
    cJSON_AddNumberToObject(j, "prefix_cache", (double)o->prefix_cache);
    cJSON_AddNumberToObject(j, "block_size", (double)o->block_size);
    cJSON_AddNumberToObject(j, "queue_limit", (double)o->queue_limit);
    cJSON_AddNumberToObject(j, "threads", o->threads);
    cJSON_AddStringToObject(j, "tokenizer", o->tokenizer_words ? "words" : "bytes");
    cJSON_AddNumberToObject(j, "default_max_tokens", (double)o->default_max_tokens);
    cJSON_AddNumberToObject(j, "fail_rate", o->fail_rate);
    cJSON_AddNumberToObject(j, "fail_status", o->fail_status);
    cJSON_AddNumberToObject(j, "reset_rate", o->reset_rate);
    cJSON_AddNumberToObject(j, "stall_rate", o->stall_rate);
    cJSON_AddNumberToObject(j, "stall_ms", (double)o->stall_ms);
    cJSON_AddNumberToObject(j, "slow_start_ms", (double)o->slow_start_ms);
    cJSON_AddNumberToObject(j, "malformed_rate", o->malformed_rate);
    cJSON_AddNumberToObject(j, "drop_connection_rate", o->drop_rate);
    cJSON_AddStringToObject(j, "model", o->model);
    cJSON_AddNumberToObject(j, "drain_us", (double)o->drain_us);
    cJSON_AddNumberToObject(j, "idle_timeout_us", (double)o->idle_timeout_us);
    cJSON_AddNumberToObject(j, "max_body", (double)o->max_body);
    cJSON_AddStringToObject(j, "persona", gen_persona_name(o->persona));
    cJSON_AddBoolToObject(j, "close_after_stream", o->close_after_stream);
    cJSON_AddNumberToObject(j, "keepalive_requests", (double)o->keepalive_requests);
    cJSON_AddNumberToObject(j, "keepalive_timeout_us", (double)o->keepalive_timeout_us);
    cJSON_AddNumberToObject(j, "close_race_every", (double)o->close_race_every);
    cJSON_AddNumberToObject(j, "sse_comment_every", (double)o->sse_comment_every);
    cJSON_AddNumberToObject(j, "close_race_rate", o->close_race_rate);
    return j;
}

static cJSON *trailer_stats(struct sim *s)
{
    cJSON *j = cJSON_CreateObject();
    uint64_t req = 0, tok = 0, ev = 0, steps = 0, drops = 0, resets = 0, stalls = 0, malf = 0,
             fails = 0, late_n = 0;
    int64_t late_max = 0, p50 = 0, p99 = 0;
    int i;
    for (i = 0; i < s->nw; i++) {
        struct worker *w = &s->w[i];
        req += ST_GET(w, requests);
        tok += ST_GET(w, tokens);
        ev += ST_GET(w, events);
        steps += ST_GET(w, steps);
        drops += ST_GET(w, drops);
        resets += ST_GET(w, resets);
        stalls += ST_GET(w, stalls);
        malf += ST_GET(w, malformed);
        fails += ST_GET(w, fails);
        late_n += w->late_n;
        if (w->late_max > late_max)
            late_max = w->late_max;
        if (i > 0) {
            size_t k;
            for (k = 0; k < SIM_LATE_BUCKETS; k++)
                s->w[0].late[k] += w->late[k];
        }
    }
    s->w[0].late_n = late_n;
    late_quantiles(&s->w[0], 0.5, &p50);
    late_quantiles(&s->w[0], 0.99, &p99);
    cJSON_AddNumberToObject(j, "responses", (double)req);
    cJSON_AddNumberToObject(j, "tokens_out", (double)tok);
    cJSON_AddNumberToObject(j, "token_events", (double)ev);
    cJSON_AddNumberToObject(j, "steps", (double)steps);
    cJSON_AddNumberToObject(j, "injected_drops", (double)drops);
    cJSON_AddNumberToObject(j, "injected_resets", (double)resets);
    cJSON_AddNumberToObject(j, "injected_stalls", (double)stalls);
    cJSON_AddNumberToObject(j, "injected_malformed", (double)malf);
    cJSON_AddNumberToObject(j, "injected_failures", (double)fails);
    cJSON_AddNumberToObject(j, "emission_lateness_samples", (double)late_n);
    cJSON_AddNumberToObject(j, "emission_lateness_p50_us", (double)p50);
    cJSON_AddNumberToObject(j, "emission_lateness_p99_us", (double)p99);
    cJSON_AddNumberToObject(j, "emission_lateness_max_us", (double)late_max);
    return j;
}

int sim_run(const struct sim_opts *o, char *err, size_t errlen)
{
    struct sim s = {0};
    struct sigaction sa = {0};
    int i, port = 0, rc = 0;
    char portstr[16];

    s.o = o;
    s.nw = o->threads;
    clock_map_init(&s.cm);
    s.start_ns = clock_mono_ns();
    s.stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    s.w = calloc((size_t)s.nw, sizeof(*s.w));
    if (s.stopfd < 0 || !s.w) {
        snprintf(err, errlen, "out of memory or eventfd failed");
        free(s.w);
        return 1;
    }
    g_stopfd = s.stopfd;
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    snprintf(portstr, sizeof(portstr), "%s", o->port);
    for (i = 0; i < s.nw; i++) {
        struct worker *w = &s.w[i];
        struct epoll_event e;
        w->idx = i;
        w->sim = &s;
        w->timer_armed = -1;
        w->lfd = open_listener(o, portstr, s.nw > 1, err, errlen, &port, s.listen_str,
                               sizeof(s.listen_str));
        if (w->lfd < 0) {
            rc = 1;
            break;
        }
        snprintf(portstr, sizeof(portstr), "%d", port); /* later workers share the port */
        w->epfd = epoll_create1(EPOLL_CLOEXEC);
        w->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        w->rbuf = malloc(SIM_READ_CHUNK);
        w->cap_pool = 64;
        w->pool = calloc(w->cap_pool, sizeof(*w->pool));
        buf_init(&w->scratch, (size_t)256 << 20);
        buf_init(&w->ev, (size_t)256 << 20);
        buf_init(&w->line, (size_t)256 << 20);
        if (w->epfd < 0 || w->tfd < 0 || !w->rbuf || !w->pool ||
            engine_init(&w->eng, &o->prof, o->max_batch, o->tokens_per_event, on_emit, w) < 0) {
            snprintf(err, errlen, "worker setup failed: %s", strerror(errno));
            rc = 1;
            break;
        }
        engine_set_chunked_prefill(&w->eng, o->chunked_prefill);
        if (o->prefix_cache > 0) {
            if (kv_init(&w->kv, o->prefix_cache, o->block_size) < 0) {
                snprintf(err, errlen, "--prefix-cache %" PRId64 ": out of memory", o->prefix_cache);
                rc = 1;
                break;
            }
            engine_set_kvcache(&w->eng, &w->kv);
            atomic_store_explicit(&w->st.kv_total, (uint64_t)o->prefix_cache, memory_order_relaxed);
        }
        e.events = EPOLLIN;
        e.data.u64 = TAG_LISTEN;
        epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->lfd, &e);
        e.data.u64 = TAG_TIMER;
        epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->tfd, &e);
        e.events = EPOLLIN | EPOLLET;
        e.data.u64 = TAG_STOP;
        epoll_ctl(w->epfd, EPOLL_CTL_ADD, s.stopfd, &e);
    }
    if (rc == 0 && o->log_path) {
        struct tlog_writer_opts wo = {0};
        struct tlog_header h = {0};
        char lerr[256];
        int k;
        wo.member_interval_us = 1000000;
        s.log_opts = wo.w;
        s.log = tlog_writer_open(o->log_path, &wo, lerr, sizeof(lerr));
        if (!s.log) {
            snprintf(err, errlen, "--log %s", lerr);
            rc = 1;
        } else {
            h.schema = TLOG_SCHEMA_VERSION;
            h.tool = strdup("llmtrace-sim");
            h.version = strdup(LLMTRACE_VERSION);
            h.start_us = epoch_us_of(&s, s.start_ns);
            h.command = cJSON_CreateArray();
            for (k = 0; k < o->argc; k++)
                cJSON_AddItemToArray(h.command, cJSON_CreateString(o->argv[k]));
            h.source = cJSON_CreateObject();
            cJSON_AddStringToObject(h.source, "kind", "sim");
            cJSON_AddStringToObject(h.source, "listen", s.listen_str);
            cJSON_AddStringToObject(h.source, "profile", o->prof.name);
            cJSON_AddItemToObject(h.source, "options", options_json(o));
            h.options = options_json(o);
            if (tlog_writer_header(s.log, &h) != 0) {
                snprintf(err, errlen, "--log %s: %s", o->log_path, tlog_writer_error(s.log));
                rc = 1;
            }
            tlog_header_free(&h);
        }
    }
    if (rc == 0 && o->port_file && write_port_file(o->port_file, port, err, errlen) < 0)
        rc = 1;
    if (rc == 0) {
        if (!o->quiet)
            fprintf(stderr, "llmtrace-sim: listening on %s (profile %s, max-batch %d, %d thread%s)\n",
                    s.listen_str, o->prof.name, o->max_batch, s.nw, s.nw > 1 ? "s" : "");
        for (i = 0; i < s.nw; i++) {
            if (pthread_create(&s.w[i].th, NULL, worker_main, &s.w[i]) != 0) {
                snprintf(err, errlen, "pthread_create failed");
                rc = 1;
                s.nw = i;
                on_signal(0);
                break;
            }
        }
        for (i = 0; i < s.nw; i++) {
            pthread_join(s.w[i].th, NULL);
            if (s.w[i].failed) {
                snprintf(err, errlen, "worker %d: epoll_wait failed", i);
                rc = 1;
            }
        }
    }
    if (s.log) {
        if (rc == 0) {
            cJSON *st = trailer_stats(&s);
            if (tlog_writer_close(s.log, st) != 0 && rc == 0) {
                snprintf(err, errlen, "--log %s: write failed", o->log_path);
                rc = 1;
            }
            cJSON_Delete(st);
        } else {
            tlog_writer_abort(s.log);
        }
    }
    if (!o->quiet && rc == 0) {
        uint64_t req = 0, tok = 0;
        for (i = 0; i < s.nw; i++) {
            req += ST_GET(&s.w[i], requests);
            tok += ST_GET(&s.w[i], tokens);
        }
        fprintf(stderr, "llmtrace-sim: stopped: %" PRIu64 " responses, %" PRIu64 " tokens\n", req,
                tok);
    }
    for (i = 0; i < o->threads; i++) {
        struct worker *w = &s.w[i];
        size_t k;
        logq_flush(w);
        while (w->conns)
            conn_retire(w, w->conns);
        worker_reap(w);
        for (k = 0; k < w->n_pool; k++)
            free(w->pool[k]);
        free(w->pool);
        free(w->rbuf);
        buf_free(&w->scratch);
        buf_free(&w->ev);
        buf_free(&w->line);
        engine_free(&w->eng);
        kv_free(&w->kv);
        if (w->lfd > 0)
            close(w->lfd);
        if (w->epfd > 0)
            close(w->epfd);
        if (w->tfd > 0)
            close(w->tfd);
    }
    g_stopfd = -1;
    close(s.stopfd);
    free(s.w);
    return rc;
}
