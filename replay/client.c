/* client.c — the replay client's worker loop (see client.h): one epoll set per worker holding
 * the HTTP client engine's sockets (formats/net/hclient.h) and one absolute CLOCK_MONOTONIC
 * timerfd that serves the schedule, the engine's connect timeouts, the request timeout scan
 * and the stop-flag poll. Each request's life is four engine callbacks (started on a
 * connection, response head, body bytes, done) plus the rare re-send; each turns into fields of
 * the request's trace-log record. */
#include "client.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "llmstream.h"
#include "reply.h"
#include "sessions.h"
#include "tally.h" /* tally_add: pinned n_out + the summary's counts */

#define CLIENT_STOP_POLL_NS (100 * 1000000LL)   /* how soon a worker notices Ctrl-C */
#define CLIENT_MAX_SAMPLES  (10u * 1000 * 1000) /* cap on kept lag/ttft samples */
#define CLIENT_LINE_MAX     (256u << 20)        /* cap on one serialized record */
#define CLIENT_HEADERS_MAX  (1u << 20)

struct client_xfer {
    struct client_xfer *prev, *next;
    struct client_worker *w;
    const struct replay_req *req;
    struct tlog_exchange x;
    struct llm_stream st;
    int st_init;
    int64_t t0_ns, last_ns;
    int64_t sched_ns;
    int status;
    int got_first;
    int done;
    char ctype[128];
    char idhdr[96];            /* "<prefix>-<seq>" */
    struct buf hdrs;           /* X-Request-Id + the run's header lines */
    struct buf target;         /* path + the URL's query */
    struct hc_req hr;
    /* --sessions */
    struct sess_open *so;      /* the session this turn belongs to; NULL */
    struct reply reply;        /* --history live: the endpoint's reply, for the next turn */
    int reply_on;
    cJSON *body_rec;           /* the bytes sent when they are not the input's (live history),
                                  as a raw item for the record; owned */
};

/* One session in progress in a worker (--sessions): the turn in flight, or the next one
 * waiting for its due time in the worker's heap. Its history lives here, and only while the
 * session is open. */
struct sess_open {
    size_t s;                  /* index in cfg->sessions */
    size_t pos;                /* the turn in flight or due next: position among its turns */
    uint64_t seq;              /* the session's place in the run's sequence (ids, warm-up) */
    int warm;
    cJSON *sent;               /* live history: the messages sent with the last turn */
    cJSON *next_body;          /* live history: the next turn's bytes (raw item), or NULL:
                                  it goes with its recorded body */
    cJSON *next_sent;          /* … and the messages they send */
    int64_t prev_end_ns;       /* the last turn's response end */
    int64_t due_ns;            /* the next turn's due time */
    size_t heap_at;            /* its place in the worker's heap while waiting */
    int blocked;               /* the next turn was due while --max-inflight held it back */
};

int client_global_init(void)
{
    return 0; /* nothing global: OpenSSL 3 and nghttp2 initialise themselves */
}

int client_cfg_add_header(struct client_cfg *cfg, const char *line)
{
    if (!cfg->headers.max)
        buf_init(&cfg->headers, CLIENT_HEADERS_MAX);
    if (strpbrk(line, "\r\n"))
        return -1;
    return buf_append_str(&cfg->headers, line) || buf_append(&cfg->headers, "\r\n", 2) ? -1 : 0;
}

void client_cfg_free_headers(struct client_cfg *cfg)
{
    buf_free(&cfg->headers);
}

enum tlog_error_kind client_error_kind(enum hc_error e)
{
    switch (e) {
    case HC_OK: return TLOG_ERROR_NONE;
    case HC_E_CONNECT: return TLOG_ERROR_CONNECT;
    case HC_E_CONNECT_TIMEOUT: return TLOG_ERROR_CONNECT_TIMEOUT;
    case HC_E_TLS: return TLOG_ERROR_TLS;
    case HC_E_RESET:
    case HC_E_STREAM_RESET: return TLOG_ERROR_RESET;
    case HC_E_PROTOCOL: return TLOG_ERROR_MALFORMED;
    case HC_E_CANCELLED: return TLOG_ERROR_CANCELLED;
    default: return TLOG_ERROR_OTHER;
    }
}

/* ---- small helpers ----------------------------------------------------------------------- */

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

/* The time to record for bytes received at rx_ns: never before an earlier stamp of the same
 * transfer (reads are stamped by the kernel or the clock, and a re-mapped clock may step). */
static int64_t xfer_stamp(struct client_xfer *t, int64_t rx_ns)
{
    return rx_ns < t->last_ns ? t->last_ns : rx_ns;
}

static void xfer_conn_name(struct client_xfer *t, int port, char *out, size_t n)
{
    snprintf(out, n, "w%d:%d", t->w->idx, port);
}

static void xfer_stream_start(struct client_xfer *t)
{
    llm_stream_init(&t->st, &t->x, t->req->dialect, t->status, t->ctype[0] ? t->ctype : NULL,
                    t->w->cfg->keep_text);
    t->st_init = 1;
}

static void xfer_first_byte(struct client_xfer *t, int64_t now)
{
    t->got_first = 1;
    t->x.resp.ttfb_us = (now - t->t0_ns) / 1000;
}

/* ---- engine callbacks (the hot path is on_body) ------------------------------------------ */

static void xfer_on_start(void *ud, const struct hc_start *s)
{
    struct client_xfer *t = ud;
    struct client_worker *w = t->w;
    const struct client_cfg *cfg = w->cfg;
    t->t0_ns = s->t0_ns;
    t->last_ns = s->t0_ns;
    t->x.start_us = clock_map_epoch_us(&cfg->cmap, s->t0_ns);
    t->x.conn_new = s->conn_new;
    t->x.connect_us = s->conn_new && s->connect_ns >= 0 ? s->connect_ns / 1000 : -1;
    char conn[48];
    xfer_conn_name(t, s->local_port, conn, sizeof conn);
    free(t->x.conn);
    t->x.conn = strdup(conn);
    if (s->conn_new)
        stat_add(&w->st.new_conns, 1);
    if (s->attempt == 0 && w->ph->kind == PHASE_OPEN)
        samples_push(&w->lag, (s->t0_ns - t->sched_ns) / 1000);
    atomic_store_explicit(&cfg->out->connected, 1, memory_order_relaxed);
    atomic_store_explicit(&cfg->out->connect_errors_in_a_row, 0, memory_order_relaxed);
}

static void xfer_on_resend(void *ud, const struct hc_attempt *a)
{
    struct client_xfer *t = ud;
    struct client_worker *w = t->w;
    char conn[48];
    xfer_conn_name(t, a->local_port, conn, sizeof conn);
    struct tlog_attempt at = {
        .start_us = clock_map_epoch_us(&w->cfg->cmap, a->t0_ns),
        .end_us = (a->end_ns - a->t0_ns) / 1000,
        .conn = conn,
        .conn_new = a->conn_new,
        .error_kind = client_error_kind(a->err),
        .error_message = (char *)a->msg,
    };
    tlog_exchange_add_attempt(&t->x, &at); /* only fails on no memory: the record says less */
    stat_add(&w->st.resent, 1);
    /* nothing of the response was seen: the next attempt starts from scratch */
    t->got_first = 0;
    t->status = 0;
    if (t->reply_on) {
        reply_free(&t->reply);
        t->reply_on = 0;
    }
}

static void xfer_on_head(void *ud, int status, const struct hc_header *h, size_t n,
                         int64_t rx_ns)
{
    struct client_xfer *t = ud;
    int64_t now = xfer_stamp(t, rx_ns);
    t->last_ns = now;
    if (!t->got_first)
        xfer_first_byte(t, now);
    t->status = status;
    for (size_t i = 0; i < n; i++) {
        if (h[i].name_len == 12 && !strncasecmp(h[i].name, "content-type", 12)) {
            size_t c = h[i].value_len < sizeof(t->ctype) - 1 ? h[i].value_len
                                                              : sizeof(t->ctype) - 1;
            memcpy(t->ctype, h[i].value, c);
            t->ctype[c] = 0;
        }
        tlog_exchange_add_header(&t->x, 1, h[i].name, h[i].name_len, h[i].value,
                                 h[i].value_len);
    }
}

static void xfer_on_body(void *ud, const char *data, size_t len, int64_t rx_ns)
{
    struct client_xfer *t = ud;
    int64_t now = xfer_stamp(t, rx_ns);
    t->last_ns = now;
    if (!t->got_first)
        xfer_first_byte(t, now);
    if (!t->st_init)
        xfer_stream_start(t);
    llm_stream_feed(&t->st, data, len, (now - t->t0_ns) / 1000);
    if (t->so && t->w->cfg->history_live) {
        if (!t->reply_on) {
            reply_init(&t->reply, t->req->dialect, t->req->stream, t->ctype[0] ? t->ctype : NULL);
            t->reply_on = 1;
        }
        reply_feed(&t->reply, data, len);
    }
}

static void worker_write_record(struct client_worker *w, struct client_xfer *t)
{
    const struct client_cfg *cfg = w->cfg;
    buf_reset(&w->line);
    t->x.req.body = t->body_rec ? t->body_rec : t->req->body_json; /* borrowed for serialization */
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

/* A target that refuses every connection is given up on after --max-connect-errors failures
 * in a row, as long as nothing ever connected (a flaky endpoint that sometimes answers is
 * measured, not abandoned). */
static void worker_count_connect_error(struct client_worker *w, enum tlog_error_kind k)
{
    const struct client_cfg *cfg = w->cfg;
    struct client_out *out = cfg->out;
    if (k != TLOG_ERROR_CONNECT && k != TLOG_ERROR_CONNECT_TIMEOUT && k != TLOG_ERROR_TLS)
        return;
    int_fast64_t n = atomic_fetch_add(&out->connect_errors_in_a_row, 1) + 1;
    if (cfg->max_connect_errors > 0 && n >= cfg->max_connect_errors &&
        !atomic_load_explicit(&out->connected, memory_order_relaxed) &&
        !atomic_exchange(&out->gave_up, 1))
        atomic_store(cfg->stop, 1);
}


/* ---- sessions (--sessions) ---------------------------------------------------------------- */

static void sess_free(struct sess_open *so)
{
    if (!so)
        return;
    cJSON_Delete(so->sent);
    cJSON_Delete(so->next_body);
    cJSON_Delete(so->next_sent);
    free(so);
}

static void sq_set(struct client_worker *w, size_t i, struct sess_open *so)
{
    w->sq[i] = so;
    so->heap_at = i;
}

static void sq_up(struct client_worker *w, size_t i)
{
    struct sess_open *so = w->sq[i];
    while (i > 0 && w->sq[(i - 1) / 2]->due_ns > so->due_ns) {
        sq_set(w, i, w->sq[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    sq_set(w, i, so);
}

static void sq_down(struct client_worker *w, size_t i)
{
    struct sess_open *so = w->sq[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= w->sq_n)
            break;
        if (c + 1 < w->sq_n && w->sq[c + 1]->due_ns < w->sq[c]->due_ns)
            c++;
        if (w->sq[c]->due_ns >= so->due_ns)
            break;
        sq_set(w, i, w->sq[c]);
        i = c;
    }
    sq_set(w, i, so);
}

static int sq_push(struct client_worker *w, struct sess_open *so)
{
    if (w->sq_n == w->sq_cap) {
        size_t nc = w->sq_cap ? w->sq_cap * 2 : 64;
        struct sess_open **p = realloc(w->sq, nc * sizeof(*p));
        if (!p)
            return -1;
        w->sq = p;
        w->sq_cap = nc;
    }
    w->sq[w->sq_n++] = so;
    sq_up(w, w->sq_n - 1);
    return 0;
}

static struct sess_open *sq_pop(struct client_worker *w)
{
    struct sess_open *top = w->sq[0];
    if (--w->sq_n > 0) {
        sq_set(w, 0, w->sq[w->sq_n]);
        sq_down(w, 0);
    }
    return top;
}

/* Turns of so not sent yet, counting the one at so->pos. */
static size_t sess_left(const struct client_worker *w, const struct sess_open *so)
{
    return w->cfg->sessions->count[so->s] - so->pos;
}

static const struct replay_req *sess_req(const struct client_worker *w, const struct sess_open *so,
                                         size_t pos, size_t *rec)
{
    const struct sess_table *st = w->cfg->sessions;
    size_t i = st->turns[st->first[so->s] + pos];
    if (rec)
        *rec = i;
    return &w->cfg->in->reqs[i];
}

/* Ends a session that still had turns to send: they are counted, not sent. */
static void sess_close(struct client_worker *w, struct sess_open *so, atomic_uint_fast64_t *why,
                       size_t not_sent)
{
    stat_add(why, 1);
    stat_add(&w->st.turns_not_sent, not_sent);
    w->n_open--;
    sess_free(so);
}

/* The record's session: the recorded id and turn, and the think time of this run (this turn's
 * start − the previous turn's response end), so the log can be checked turn by turn. */
static void sess_turn_record(struct client_xfer *t, struct tlog_exchange *x)
{
    const struct replay_req *r = t->req;
    const struct sess_open *so = t->so;
    if (!r->session)
        return; /* a request without a session is one of its own, and says nothing */
    free(x->session.id);
    x->session.present = 1;
    x->session.id = strdup(r->session);
    x->session.turn = r->turn >= 0 ? r->turn : (int64_t)so->pos;
    x->session.think_us = so->pos > 0 ? (t->t0_ns - so->prev_end_ns) / 1000 : -1;
}

/* After turn so->pos finished at end_ns: the session ends (last turn, failure, stop, end of
 * the run's time) or waits for its next turn, due at end_ns + think ÷ --speed, with the body
 * that carries this reply when --history live. */
static void sess_turn_done(struct client_worker *w, struct client_xfer *t,
                           const struct tlog_exchange *x, int64_t end_ns)
{
    const struct client_cfg *cfg = w->cfg;
    const struct client_phase *ph = w->ph;
    struct sess_open *so = t->so;
    size_t left = sess_left(w, so) - 1;
    t->so = NULL;
    if (left == 0) {
        stat_add(&w->st.sess_completed, 1);
        w->n_open--;
        sess_free(so);
        return;
    }
    if (x->error_kind == TLOG_ERROR_CANCELLED || atomic_load(cfg->stop) ||
        atomic_load_explicit(&cfg->out->failed, memory_order_relaxed)) {
        sess_close(w, so, &w->st.sess_cut, left);
        return;
    }
    if (x->error_kind != TLOG_ERROR_NONE) { /* a failed turn ends its session */
        sess_close(w, so, &w->st.sess_failed, left);
        return;
    }
    const struct replay_req *prev = t->req, *next = sess_req(w, so, so->pos + 1, NULL);
    enum sess_think_source src;
    int64_t think = sess_think_us(prev, next, cfg->think_time_us, &src);
    stat_add(&w->st.think_src[src], 1);
    so->prev_end_ns = end_ns;
    so->due_ns = end_ns + (int64_t)llround((double)think / cfg->think_speed * 1000.0);
    if ((ph->kind == PHASE_OPEN && ph->sp.duration_us &&
         so->due_ns >= ph->anchor_ns + ph->sp.duration_us * 1000) ||
        (ph->kind == PHASE_CLOSED && ph->end_ns && so->due_ns >= ph->end_ns)) {
        sess_close(w, so, &w->st.sess_cut, left);
        return;
    }
    if (cfg->history_live) {
        cJSON *msg = t->reply_on && !t->reply.bad ? reply_message(&t->reply) : NULL;
        char *body = NULL;
        size_t len = 0;
        cJSON *sent_next = NULL;
        int h = so->sent ? sess_live_body(prev, next, so->sent, msg, &body, &len, &sent_next)
                         : SESS_HIST_NOT_CHAT;
        cJSON_Delete(msg);
        if (h == SESS_HIST_LIVE) {
            cJSON *raw = cJSON_CreateRaw("");
            if (raw) {
                free(raw->valuestring);
                raw->valuestring = body;
                so->next_body = raw;
                so->next_sent = sent_next;
            } else {
                free(body);
                cJSON_Delete(sent_next);
                h = SESS_HIST_NO_REPLY;
            }
        }
        if (h < 0)
            h = SESS_HIST_NO_REPLY; /* out of memory building it: sent as recorded */
        stat_add(&w->st.history[h], 1);
    }
    so->pos++;
    so->blocked = 0;
    if (sq_push(w, so))
        sess_close(w, so, &w->st.sess_cut, left);
}

/* Records the finished request (the engine is done with it, or it was withdrawn) and recycles
 * its transfer. kind/msg: an error decided here (timeouts, Ctrl-C); TLOG_ERROR_NONE to take
 * the engine's result r. */
static void xfer_finish(struct client_xfer *t, const struct hc_result *r, enum tlog_error_kind kind,
                        const char *msg)
{
    struct client_worker *w = t->w;
    const struct client_cfg *cfg = w->cfg;
    int64_t now = clock_mono_ns();
    t->done = 1;
    list_unlink(&w->active, t);
    w->inflight--;

    struct tlog_exchange *x = &t->x;
    if (r && !r->started) {
        /* it never reached a connected socket: t0 is when it was handed to the engine */
        t->t0_ns = t->hr.submit_ns;
        t->last_ns = t->t0_ns;
        x->start_us = clock_map_epoch_us(&cfg->cmap, t->t0_ns);
        x->conn_new = 1;
        x->connect_us = -1;
        if (w->ph->kind == PHASE_OPEN && t->hr.attempt == 0)
            samples_push(&w->lag, (t->t0_ns - t->sched_ns) / 1000);
    }
    int64_t last = t->last_ns > t->t0_ns ? t->last_ns : (r && r->end_ns > 0 ? r->end_ns : now);
    if (!t->st_init)
        xfer_stream_start(t);
    llm_stream_finish(&t->st, (last - t->t0_ns) / 1000);
    x->resp.end_us = (last - t->t0_ns) / 1000;
    if (x->resp.status == 0)
        x->resp.status = t->status;

    if (kind != TLOG_ERROR_NONE) {
        tlog_exchange_set_error(x, kind, msg);
    } else if (r && r->err != HC_OK) {
        enum tlog_error_kind k = client_error_kind(r->err);
        enum tlog_error_kind had = x->error_kind;
        /* The stream's own diagnosis is more specific than the transport's, except that a
         * missing terminator is what a reset looks like from the stream's side. */
        if (had == TLOG_ERROR_NONE || had == TLOG_ERROR_TRUNCATED)
            tlog_exchange_set_error(x, k, r->msg[0] ? r->msg : hc_strerror(r->err));
    }
    tally_add(w->idx, t->req, x); /* input.h's pinned_out → n_out; summary counts */
    if (t->so)
        sess_turn_record(t, x);

    worker_write_record(w, t);

    stat_add(&w->st.done, 1);
    if (x->error_kind != TLOG_ERROR_NONE) {
        stat_add(&w->st.errors, 1);
        if ((unsigned)x->error_kind < TLOG_ERROR_KIND_COUNT)
            stat_add(&w->st.by_kind[x->error_kind], 1);
        worker_count_connect_error(w, x->error_kind);
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
    if (t->so) {
        if (t->reply_on)
            reply_finish(&t->reply);
        sess_turn_done(w, t, x, last);
    }
    if (t->reply_on) {
        reply_free(&t->reply);
        t->reply_on = 0;
    }
    cJSON_Delete(t->body_rec);
    t->body_rec = NULL;

    llm_stream_free(&t->st);
    t->st_init = 0;
    tlog_exchange_free(x);
    list_push(&w->pool, t);
}

static void xfer_on_done(void *ud, const struct hc_result *r)
{
    xfer_finish(ud, r, TLOG_ERROR_NONE, NULL);
}

static const struct hc_callbacks xfer_callbacks = {
    .on_start = xfer_on_start,
    .on_resend = xfer_on_resend,
    .on_head = xfer_on_head,
    .on_body = xfer_on_body,
    .on_done = xfer_on_done,
};

/* Withdraws an in-flight request from the engine and records it with kind. */
static void xfer_abort(struct client_xfer *t, enum tlog_error_kind kind, const char *msg)
{
    hc_cancel(t->w->hc, &t->hr);
    xfer_finish(t, NULL, kind, msg);
}

/* ---- starting requests ------------------------------------------------------------------- */

static struct client_xfer *xfer_new(struct client_worker *w)
{
    struct client_xfer *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->w = w;
    buf_init(&t->target, 1u << 20);
    buf_init(&t->hdrs, CLIENT_HEADERS_MAX + 128);
    tlog_exchange_init(&t->x);
    return t;
}

static void xfer_destroy(struct client_xfer *t)
{
    buf_free(&t->target);
    buf_free(&t->hdrs);
    tlog_exchange_free(&t->x);
    free(t);
}

/* Hands request rec to the engine now. sched_ns: when the schedule wanted it; wait_ns: time it
 * spent blocked by --max-inflight. so: the session it is a turn of (NULL: none); body: the
 * bytes to send instead of the input's (a raw item, taken over; NULL: the input's). Returns 0,
 * or -1 when nothing could be started (body is then freed; so is not). */
static int xfer_start(struct client_worker *w, size_t rec, uint64_t seq, int64_t sched_ns,
                      int64_t wait_ns, int warm, struct sess_open *so, cJSON *body)
{
    const struct client_cfg *cfg = w->cfg;
    struct client_xfer *t = w->pool;
    if (t)
        list_unlink(&w->pool, t);
    else if (!(t = xfer_new(w))) {
        cJSON_Delete(body);
        return -1;
    }
    const struct replay_req *r = &cfg->in->reqs[rec];
    t->req = r;
    t->so = so;
    t->body_rec = body;
    t->status = 0;
    t->got_first = 0;
    t->done = 0;
    t->ctype[0] = 0;
    t->last_ns = 0;
    t->sched_ns = sched_ns;

    const char *path = cfg->path ? cfg->path : r->path;
    int idlen = so ? snprintf(t->idhdr, sizeof(t->idhdr), "%s-%llu.%zu", cfg->id_prefix,
                              (unsigned long long)(w->ph->seq_base + seq), so->pos)
                   : snprintf(t->idhdr, sizeof(t->idhdr), "%s-%llu", cfg->id_prefix,
                              (unsigned long long)(w->ph->seq_base + seq));
    buf_reset(&t->target);
    buf_reset(&t->hdrs);
    if ((path[0] != '/' && buf_append_char(&t->target, '/')) ||
        buf_append_str(&t->target, path) ||
        (cfg->base_query && (buf_append_char(&t->target, strchr(path, '?') ? '&' : '?') ||
                             buf_append_str(&t->target, cfg->base_query))) ||
        buf_printf(&t->hdrs, "X-Request-Id: %s\r\n", t->idhdr) ||
        (cfg->headers.len && buf_append(&t->hdrs, cfg->headers.p, cfg->headers.len))) {
        cJSON_Delete(t->body_rec);
        t->body_rec = NULL;
        t->so = NULL;
        list_push(&w->pool, t);
        return -1;
    }

    struct tlog_exchange *x = &t->x;
    x->id = strdup(t->idhdr);
    x->dialect = strdup(dialect_name(r->dialect));
    x->model = r->model ? strdup(r->model) : NULL;
    x->stream = r->stream;
    x->req.method = strdup(r->method);
    x->req.path = strdup(path);
    x->req.host = cfg->host ? strdup(cfg->host) : NULL;
    x->req.body_bytes = (int64_t)(body ? strlen(body->valuestring) : r->body_len);
    tlog_exchange_add_header(x, 0, "X-Request-Id", 12, t->idhdr, (size_t)idlen);
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
    x->replay.sched_us = clock_map_epoch_us(&cfg->cmap, sched_ns);
    x->replay.wait_us = wait_ns > 0 ? wait_ns / 1000 : 0;

    struct hc_req *h = &t->hr;
    memset(h, 0, sizeof *h);
    h->method = r->method;
    h->target = t->target.p;
    h->headers = t->hdrs.p;
    h->headers_len = t->hdrs.len;
    h->body = body ? body->valuestring : r->body;
    h->body_len = body ? strlen(body->valuestring) : r->body ? r->body_len : 0;
    h->cb = &xfer_callbacks;
    h->user = t;
    t->t0_ns = clock_mono_ns(); /* until on_start says when it really went out */
    x->start_us = clock_map_epoch_us(&cfg->cmap, t->t0_ns);
    list_push(&w->active, t);
    w->inflight++;
    w->issued++;
    stat_add(&w->st.sent, 1);
    atomic_store_explicit(&w->st.inflight, (uint64_t)w->inflight, memory_order_relaxed);
    if (hc_submit(w->hc, h)) {
        xfer_finish(t, NULL, TLOG_ERROR_OTHER, "request too large for the client");
        return 0;
    }
    /* (t may already be finished and recycled here: the engine can fail it at once) */
    return 0;
}

/* Starts session s (its first selected turn) now. */
static int sess_start(struct client_worker *w, size_t s, uint64_t seq, int64_t sched_ns,
                      int64_t wait_ns)
{
    const struct client_cfg *cfg = w->cfg;
    struct sess_open *so = calloc(1, sizeof(*so));
    if (!so)
        return -1;
    so->s = s;
    so->seq = seq;
    so->warm = (int64_t)seq < w->ph->warmup;
    size_t rec;
    const struct replay_req *r = sess_req(w, so, 0, &rec);
    if (cfg->history_live)
        so->sent = sess_messages_of(r);
    w->n_open++;
    stat_add(&w->st.sess_started, 1);
    if (xfer_start(w, rec, seq, sched_ns, wait_ns, so->warm, so, NULL)) {
        w->n_open--;
        sess_free(so);
        return -1;
    }
    return 0;
}

/* Sends so's next turn (its due time has come): with the body live history prepared, or its
 * recorded one. */
static int sess_send_next(struct client_worker *w, struct sess_open *so, int64_t wait_ns)
{
    size_t rec;
    const struct replay_req *r = sess_req(w, so, so->pos, &rec);
    cJSON *body = so->next_body;
    so->next_body = NULL;
    if (w->cfg->history_live) {
        cJSON_Delete(so->sent);
        so->sent = body ? so->next_sent : sess_messages_of(r);
        so->next_sent = NULL;
    }
    if (xfer_start(w, rec, so->seq, so->due_ns, wait_ns, so->warm, so, body)) {
        sess_close(w, so, &w->st.sess_cut, sess_left(w, so));
        return -1;
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
    w->armed_ns = -1;
    w->ep = w->tfd = -1;
    buf_init(&w->line, CLIENT_LINE_MAX);
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    w->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (w->ep < 0 || w->tfd < 0) {
        snprintf(w->err, sizeof(w->err), "worker %d: cannot create its event loop: %s", idx,
                 strerror(errno));
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &w->tfd};
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->tfd, &ev)) {
        snprintf(w->err, sizeof(w->err), "worker %d: epoll: %s", idx, strerror(errno));
        return -1;
    }
    struct hc_opts ho = {0};
    char url[1024];
    snprintf(url, sizeof url, "%s", cfg->base_url ? cfg->base_url : "");
    ho.url = url;
    ho.insecure = cfg->insecure;
    ho.cacert = cfg->cacert;
    ho.http2 = cfg->http2;
    ho.connect_timeout_ns = cfg->connect_timeout_us * 1000;
    ho.rx_kernel = cfg->rx_kernel;
    ho.no_resend = cfg->no_resend;
    ho.no_reuse = cfg->conn_per_request;
    char err[256];
    w->hc = hc_engine_new(w->ep, &ho, err, sizeof err);
    if (!w->hc) {
        snprintf(w->err, sizeof(w->err), "%s", err);
        return -1;
    }
    return 0;
}

void client_worker_free(struct client_worker *w)
{
    if (!w)
        return;
    struct client_xfer *t;
    while ((t = w->active)) {
        hc_cancel(w->hc, &t->hr);
        list_unlink(&w->active, t);
        if (t->st_init)
            llm_stream_free(&t->st);
        if (t->reply_on)
            reply_free(&t->reply);
        cJSON_Delete(t->body_rec);
        sess_free(t->so);
        xfer_destroy(t);
    }
    for (size_t i = 0; i < w->sq_n; i++)
        sess_free(w->sq[i]);
    free(w->sq);
    hc_engine_free(w->hc);
    while ((t = w->pool)) {
        list_unlink(&w->pool, t);
        xfer_destroy(t);
    }
    if (w->ep >= 0)
        close(w->ep);
    if (w->tfd >= 0)
        close(w->tfd);
    buf_free(&w->line);
    free(w->lag.v);
    free(w->ttft.v);
    memset(w, 0, sizeof(*w));
    w->ep = w->tfd = -1;
}

static void worker_abort_all(struct client_worker *w, enum tlog_error_kind k, const char *msg)
{
    struct client_xfer *t;
    while ((t = w->active))
        xfer_abort(t, k, msg);
}

/* --timeout (since t0) and --idle-timeout (since the last byte, or t0). */
static void worker_scan_timeouts(struct client_worker *w, int64_t now)
{
    const struct client_cfg *cfg = w->cfg;
    int64_t idle = cfg->idle_timeout_us * 1000, total = cfg->timeout_us * 1000;
    struct client_xfer *t = w->active, *next;
    for (; t; t = next) {
        next = t->next;
        int64_t since = t->last_ns > t->t0_ns ? t->last_ns : t->t0_ns;
        if (total > 0 && now - t->t0_ns > total)
            xfer_abort(t, TLOG_ERROR_TIMEOUT, "no complete response within --timeout");
        else if (idle > 0 && now - since > idle)
            xfer_abort(t, TLOG_ERROR_IDLE_TIMEOUT, "no data from the server within --idle-timeout");
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

/* One epoll_wait (until wake_ns at the latest) and everything it reports. -1 on a loop
 * failure. */
static int worker_turn(struct client_worker *w, int64_t now, int64_t wake)
{
    struct epoll_event evs[256];
    int64_t hd = hc_engine_next_deadline(w->hc);
    if (hd >= 0 && hd < wake)
        wake = hd;
    int timeout_ms = -1;
    if (wake <= now)
        timeout_ms = 0;
    else
        worker_arm(w, wake);
    int n = epoll_wait(w->ep, evs, (int)(sizeof(evs) / sizeof(evs[0])), timeout_ms);
    if (n < 0 && errno != EINTR)
        return -1;
    for (int i = 0; i < n; i++) {
        if (evs[i].data.ptr == &w->tfd) {
            uint64_t ticks;
            if (read(w->tfd, &ticks, sizeof(ticks)) < 0) {
                /* EAGAIN: a re-arm raced the expiry; nothing to do. */
            }
            w->armed_ns = -1;
            continue;
        }
        hc_engine_handle(w->hc, evs[i].data.ptr, evs[i].events);
    }
    int64_t t = clock_mono_ns();
    hd = hc_engine_next_deadline(w->hc);
    if (hd >= 0 && t >= hd)
        hc_engine_tick(w->hc, t);
    hc_engine_reap(w->hc);
    return 0;
}

/* Waits (bounded by the connect timeout) until no connection is connecting. */
static void worker_await_connects(struct client_worker *w)
{
    const struct client_cfg *cfg = w->cfg;
    int64_t until = clock_mono_ns() + cfg->connect_timeout_us * 1000 + 100000000;
    for (int turns = 0; turns < 100000; turns++) {
        int idle, connecting;
        hc_engine_counts(w->hc, &idle, &connecting);
        int64_t now = clock_mono_ns();
        if (connecting == 0 || now >= until || atomic_load(cfg->stop))
            return;
        if (worker_turn(w, now, now + CLIENT_STOP_POLL_NS < until ? now + CLIENT_STOP_POLL_NS
                                                                  : until))
            return;
    }
}

/* Closed loop: open the stage's connections before its clock starts, so the first requests do
 * not carry connection setup (--preconnect, the default). One first: when even that fails the
 * target is down or refuses us, and the requests themselves will say so, one failure each. */
static void worker_preconnect(struct client_worker *w)
{
    int want = w->cfg->http2 ? 1 : (int)w->cap;
    if (want <= 0)
        return;
    hc_preconnect(w->hc, 1);
    worker_await_connects(w);
    int idle;
    hc_engine_counts(w->hc, &idle, NULL);
    if (idle == 0)
        return;
    hc_preconnect(w->hc, want);
    worker_await_connects(w);
}

void *client_worker_run(void *arg)
{
    struct client_worker *w = arg;
    struct client_phase *ph = w->ph;
    const struct client_cfg *cfg = w->cfg;
    /* with --sessions the schedule's items are sessions (their first turns' offsets) */
    const struct sess_table *sess = cfg->sessions;
    size_t n_recs = sess ? sess->n : cfg->in->n;
    int open = ph->kind == PHASE_OPEN;
    int exhausted = n_recs == 0;
    int stopping = 0;
    int64_t grace_end = 0;
    int blocked = 0;
    int64_t scan_every = 0, next_scan = 0;
    w->issued = 0;
    w->has_pending = 0;

    if (open) {
        w->cap = ph->max_inflight > 0 ? share_of(ph->max_inflight, w->idx, w->n_workers)
                                      : INT64_MAX;
        struct sched_params sp = ph->sp;
        sp.worker = w->idx;
        sp.n_workers = w->n_workers;
        if (!exhausted && sched_init(&w->sch, &sp, sess ? sess->offsets : cfg->offsets, n_recs)) {
            worker_fail(w, "invalid schedule parameters");
            return NULL;
        }
        w->has_pending = !exhausted && sched_next(&w->sch, &w->pending);
        exhausted = !w->has_pending;
    } else {
        w->cap = share_of(ph->concurrency, w->idx, w->n_workers);
        if (w->cap == 0)
            exhausted = 1;
        else if (cfg->preconnect && !cfg->conn_per_request)
            worker_preconnect(w);
    }
    /* timeouts are checked every tenth of the smaller one (10 ms … 1 s) */
    int64_t lim = 0;
    if (cfg->idle_timeout_us > 0)
        lim = cfg->idle_timeout_us;
    if (cfg->timeout_us > 0 && (lim == 0 || cfg->timeout_us < lim))
        lim = cfg->timeout_us;
    if (lim > 0) {
        scan_every = lim * 1000 / 10;
        if (scan_every < 10000000)
            scan_every = 10000000;
        if (scan_every > 1000000000)
            scan_every = 1000000000;
        next_scan = clock_mono_ns() + scan_every;
    }

    for (;;) {
        int64_t now = clock_mono_ns();
        int failed = atomic_load_explicit(&cfg->out->failed, memory_order_relaxed);
        if (!stopping && (atomic_load_explicit(cfg->stop, memory_order_relaxed) || failed)) {
            stopping = 1;
            exhausted = 1;
            int gave_up = atomic_load_explicit(&cfg->out->gave_up, memory_order_relaxed);
            grace_end = now + (failed || gave_up ? 0 : cfg->grace_us * 1000);
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
                if (sess ? sess_start(w, w->pending.rec, seq, due, waited)
                         : xfer_start(w, w->pending.rec, seq, due, waited,
                                      (int64_t)seq < ph->warmup, NULL, NULL)) {
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
            /* closed loop: -c N requests in flight; with --sessions N sessions in progress */
            while (sess ? w->n_open < w->cap : w->inflight < w->cap) {
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
                if (sess ? sess_start(w, (size_t)(g % n_recs), g, now, 0)
                         : xfer_start(w, (size_t)(g % n_recs), g, now, 0,
                                      (int64_t)j < ph->warmup, NULL, NULL)) {
                    worker_fail(w, "out of memory starting a request");
                    exhausted = 1;
                    break;
                }
            }
        }
        /* sessions' next turns that are due (open loop: within --max-inflight) */
        while (sess && !stopping && w->sq_n && w->sq[0]->due_ns <= now &&
               (!open || w->inflight < w->cap)) {
            struct sess_open *so = sq_pop(w);
            sess_send_next(w, so, so->blocked ? now - so->due_ns : 0);
            now = clock_mono_ns();
        }
        if (sess && w->sq_n && w->sq[0]->due_ns <= now && open && w->inflight >= w->cap)
            w->sq[0]->blocked = 1; /* held back by --max-inflight: its wait is recorded */
        if (stopping) /* sessions waiting for a next turn end here */
            while (w->sq_n) {
                struct sess_open *so = sq_pop(w);
                sess_close(w, so, &w->st.sess_cut, sess_left(w, so));
            }
        hc_engine_reap(w->hc);
        if (stopping && w->inflight > 0 && now >= grace_end)
            worker_abort_all(w, TLOG_ERROR_CANCELLED, "cancelled: run interrupted");
        if (scan_every && now >= next_scan) {
            worker_scan_timeouts(w, now);
            next_scan = now + scan_every;
        }
        if (exhausted && w->inflight == 0 && w->n_open == 0)
            break;

        int64_t wake = now + CLIENT_STOP_POLL_NS;
        if (!exhausted && open && w->has_pending && w->inflight < w->cap) {
            int64_t due = ph->anchor_ns + w->pending.offset_us * 1000;
            if (due < wake)
                wake = due;
        }
        if (!exhausted && !open && ph->end_ns && ph->end_ns < wake)
            wake = ph->end_ns;
        if (sess && w->sq_n && (!open || w->inflight < w->cap) && w->sq[0]->due_ns < wake)
            wake = w->sq[0]->due_ns;
        if (scan_every && next_scan < wake)
            wake = next_scan;
        if (stopping && grace_end < wake)
            wake = grace_end;
        if (worker_turn(w, now, wake)) {
            worker_fail(w, strerror(errno));
            worker_abort_all(w, TLOG_ERROR_OTHER, "event loop failure");
            break;
        }
    }
    hc_engine_reap(w->hc);
    return NULL;
}
