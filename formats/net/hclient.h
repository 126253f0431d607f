/* hclient.h — the HTTP client engine: HTTP/1.1 and HTTP/2, plain or over TLS, on non-blocking
 * sockets driven by the caller's epoll loop (wrk's and h2load's shape). llmtrace-replay runs one
 * engine per worker thread; anything else that needs to be an HTTP client with exact receive
 * times (capture's recording proxy) uses it the same way.
 *
 * Why not libcurl: a benchmark must decide, and record, every transport decision. libcurl
 * re-sends a request silently (up to five times, on other pooled connections that died the same
 * way) and costs about four system calls per streamed event. Here each readable socket costs one
 * recvmsg(2), which returns the bytes together with the kernel's receive time (SO_TIMESTAMPNS),
 * and each connection decision is explicit:
 *   - connections are opened on demand (or ahead of time: hc_preconnect) and reused while the
 *     server keeps them alive (Connection, Keep-Alive: timeout/max, HTTP/1.0 rules); an idle
 *     connection the server closes is dropped the moment its FIN arrives; a server seen to
 *     close connections right after their responses (twice, with no reused connection ever
 *     answering) gets a new connection per request from then on (hc_stats.reuse_off);
 *   - a request is re-sent only when it went out on a *reused* connection and that connection
 *     was closed or reset before any response byte (the keep-alive race of RFC 9112 §9.3.1; for
 *     HTTP/2, a stream the server refused or did not process before GOAWAY, RFC 9113 §8.7), at
 *     most once, and always on a new connection. The caller hears of each re-send
 *     (on_resend) so it can record the failed attempt. Nothing is ever re-sent after a response
 *     byte, nor after a failure on a new connection.
 * TLS is OpenSSL with the ciphertext read by that same recvmsg into a memory BIO, so decrypted
 * bytes carry the receive time of the segment that brought them; HTTP/2 is nghttp2 fed from
 * memory. HTTP/1.1 responses are parsed by formats/wire/http1.
 *
 * Threading: an engine and its requests belong to one thread. Callbacks run inside
 * hc_engine_handle, hc_engine_tick, hc_submit and hc_cancel; they must not call hc_submit or
 * hc_cancel themselves (do that after the call returns). */
#ifndef LLMTRACE_HCLIENT_H
#define LLMTRACE_HCLIENT_H

#include <stddef.h>
#include <stdint.h>

/* Results (hc_result.err). */
enum hc_error {
    HC_OK = 0,
    HC_E_CONNECT,          /* refused, unreachable, name not resolved */
    HC_E_CONNECT_TIMEOUT,  /* TCP connect + TLS handshake took longer than connect_timeout */
    HC_E_TLS,              /* handshake or certificate failure */
    HC_E_RESET,            /* connection reset or closed after the request was sent */
    HC_E_PROTOCOL,         /* invalid HTTP/1.1 or HTTP/2 from the server */
    HC_E_STREAM_RESET,     /* HTTP/2: the server reset the stream (RST_STREAM) */
    HC_E_NOMEM,
    HC_E_CANCELLED,        /* hc_engine_free with the request still in flight */
};
const char *hc_strerror(enum hc_error e);

struct hc_opts {
    const char *url;           /* http://host[:port] or https://host[:port]; a path is ignored */
    int insecure;              /* TLS: verify neither the certificate nor the host name */
    const char *cacert;        /* TLS: CA bundle (PEM file) instead of the system's; NULL */
    int http2;                 /* TLS: offer h2 (then http/1.1) in ALPN; h2c is not spoken */
    int64_t connect_timeout_ns;/* TCP connect + TLS handshake; 0: 10 s */
    int rx_kernel;             /* stamp reads with the kernel's receive time (SO_TIMESTAMPNS);
                                  0: with CLOCK_MONOTONIC when the read returns */
    int no_resend;             /* never re-send (a reused connection's race is then a failure) */
    int no_reuse;              /* one new connection per request, closed after it */
    size_t max_request;        /* cap on one request (head + body); 0: 256 MiB */
    size_t h2_stream_window;   /* HTTP/2 receive window per stream, which is what a paused
                                  stream may still be sent (hc_pause); 0: 16 MiB */
};

/* One response header (slices valid during on_head only). */
struct hc_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* What on_start tells about the attempt that has just been handed to a connected socket. */
struct hc_start {
    int64_t t0_ns;             /* CLOCK_MONOTONIC just before the first request byte was written */
    int conn_new;              /* 1: the connection was opened for this request (or opened
                                  ahead by hc_preconnect and used for the first time) */
    int64_t connect_ns;        /* conn_new: TCP connect + TLS handshake time; else -1 */
    int local_port;            /* of the connection (its id in records) */
    int attempt;               /* 0 first, 1 the re-send */
    int http2;                 /* 1 when the request went out as an HTTP/2 stream */
};

/* A failed attempt that is being re-sent (on_resend). */
struct hc_attempt {
    int64_t t0_ns;             /* its on_start time */
    int64_t end_ns;            /* when the failure was seen */
    int local_port;
    int conn_new;              /* always 0 for HTTP/1.1: only reused connections are re-sent */
    enum hc_error err;
    char msg[160];
};

struct hc_result {
    enum hc_error err;
    char msg[200];             /* "" on success */
    int64_t end_ns;            /* when the last response byte (or the failure) arrived */
    int started;               /* on_start was called (else nothing reached a connected socket) */
};

struct hc_callbacks {
    void (*on_start)(void *user, const struct hc_start *s);
    void (*on_resend)(void *user, const struct hc_attempt *a);
    /* Final status line (1xx are skipped) and headers; rx_ns is the receive time of the bytes
     * that completed the head. */
    void (*on_head)(void *user, int status, const struct hc_header *h, size_t n, int64_t rx_ns);
    /* Decoded body bytes (chunked framing removed, gzip inflated) received at rx_ns. */
    void (*on_body)(void *user, const char *data, size_t len, int64_t rx_ns);
    /* The request is finished (complete or failed); the engine no longer refers to it. */
    void (*on_done)(void *user, const struct hc_result *r);
};

/* One request. The caller owns it (embed it in its own transfer struct), fills the public part
 * before hc_submit and keeps it and the strings it points to alive until on_done or hc_cancel. */
struct hc_req {
    const char *method;        /* "POST" */
    const char *target;        /* request-target: "/v1/chat/completions?x=1" */
    const char *headers;       /* extra header lines, each "Name: value\r\n" (no Host,
                                  Content-Length, Connection: the engine writes those) */
    size_t headers_len;
    const char *body;          /* may be NULL when body_len is 0 */
    size_t body_len;
    const struct hc_callbacks *cb;
    void *user;
    /* engine-private below */
    struct hc_req *q_next, *q_prev;
    struct hc_conn *conn;
    int64_t submit_ns;
    int attempt;
    int fresh_only;            /* must go out on a new connection (the re-send) */
    int started;
    int got_bytes;             /* a response byte arrived for the current attempt */
    int reused;                /* the current attempt went out on a reused connection */
    int32_t h2_stream;
    int h2_head_seen;
    size_t h2_body_off;
    int64_t t0_ns;
    int local_port;
    int paused;                /* hc_pause(r, 1) in force */
    size_t h2_held;            /* HTTP/2: bytes delivered while paused, not yet given back to
                                  the stream's flow-control window */
};

struct hc_engine;

/* Creates an engine whose sockets are registered in epfd (epoll_event.data.ptr = an engine
 * token: pass every event whose data.ptr is not the caller's own to hc_engine_handle). Resolves
 * the URL's host now. NULL with a one-line reason in err. */
struct hc_engine *hc_engine_new(int epfd, const struct hc_opts *o, char *err, size_t errlen);
/* Closes every connection; requests still in flight get on_done with HC_E_CANCELLED. */
void hc_engine_free(struct hc_engine *e);

/* Hands r to the engine: sent now on an idle connection, or queued until one is connected.
 * 0, or -1 when r is too large or memory is short (nothing was queued; no callback). */
int hc_submit(struct hc_engine *e, struct hc_req *r);
/* Withdraws r (timeouts, Ctrl-C): its connection is closed (HTTP/1.1) or its stream reset
 * (HTTP/2). No callback follows. */
void hc_cancel(struct hc_engine *e, struct hc_req *r);

/* Stops (on = 1) or resumes (on = 0) r's transfer, for a caller that forwards the response to
 * a slower consumer (capture's recording proxy) and must hold bounded memory. HTTP/1.1: the
 * socket is taken out of epoll, so the kernel's receive window fills and TCP flow control
 * stalls the server; bytes of a read already being parsed are still delivered (up to 64 KiB).
 * HTTP/2: r's stream alone stops: what arrives for it is no longer given back to its
 * flow-control window (the connection's is), so the server stops sending on that stream once
 * the window (hc_opts.h2_stream_window) is used up, while the other streams of the connection
 * go on; a paused stream may thus still receive up to one window. Resuming returns what was
 * held to the window. Safe inside callbacks; a finished or cancelled request releases its
 * pause. */
void hc_pause(struct hc_engine *e, struct hc_req *r, int on);

/* Opens connections until n are open or opening (idle ones count). HTTP/2 targets need one. */
void hc_preconnect(struct hc_engine *e, int n);
/* Connections connected and idle, and connections still connecting. */
void hc_engine_counts(const struct hc_engine *e, int *idle, int *connecting);

/* Handles one epoll event of the engine's (data.ptr, events). */
void hc_engine_handle(struct hc_engine *e, void *token, uint32_t events);
/* Frees the connections closed since the last call. Call it after each epoll_wait batch has
 * been handled (never in between: later events of the batch may name a closed connection). */
void hc_engine_reap(struct hc_engine *e);
/* Runs timers (connect timeouts) at now_ns (CLOCK_MONOTONIC). */
void hc_engine_tick(struct hc_engine *e, int64_t now_ns);
/* CLOCK_MONOTONIC time at which hc_engine_tick must next run, or -1 for none. */
int64_t hc_engine_next_deadline(const struct hc_engine *e);

/* Counters for the run's summary (since hc_engine_new). */
struct hc_stats {
    uint64_t connects;         /* connections opened (successfully connected) */
    uint64_t connect_failures;
    uint64_t resends;          /* requests re-sent on a new connection */
    uint64_t closed_idle;      /* idle connections the server closed */
    uint64_t read_calls;       /* recvmsg calls that returned data */
    int reuse_off;             /* the server closed connections after their responses without
                                  saying so, and never answered on a reused one: connections
                                  are no longer reused (no more doomed attempts) */
};
void hc_engine_stats(const struct hc_engine *e, struct hc_stats *st);

#endif
