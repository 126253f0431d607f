/* hc_priv.h — internal to formats/net: the engine's connection and engine structs and the
 * functions its three files share (hc_engine.c: sockets, pool, HTTP/1.1; hc_tls.c: OpenSSL
 * over memory BIOs; hc_h2.c: nghttp2). Not an API: callers use hclient.h. */
#ifndef LLMTRACE_HC_PRIV_H
#define LLMTRACE_HC_PRIV_H

#include <stdint.h>
#include <sys/socket.h>

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include "buf.h"
#include "hclient.h"
#include "http1.h"

#define HC_MAX_ADDRS    8
#define HC_READ_BUF     65536         /* one recvmsg's worth */
#define HC_H2_STREAMS   100           /* assumed until the server's SETTINGS say otherwise */

enum hc_conn_state { HC_CONNECTING = 0, HC_HANDSHAKE, HC_READY, HC_CLOSED };
enum hc_proto { HC_PROTO_UNKNOWN = 0, HC_PROTO_H1, HC_PROTO_H2 };

struct hc_conn {
    struct hc_engine *e;
    struct hc_conn *next, *prev;    /* every open connection */
    struct hc_conn *idle_next;      /* idle HTTP/1.1 stack */
    int in_idle;
    int fd;
    enum hc_conn_state state;
    enum hc_proto proto;
    int ai;                         /* address index being tried */
    uint32_t ev;                    /* events registered with epoll */
    int n_paused;                   /* its requests under hc_pause: out of epoll while > 0 */
    uint32_t ev_want;               /* what to register again when the pause ends */
    int64_t open_ns;                /* connect() started */
    int64_t connect_ns;             /* ready − open (TCP + TLS), once ready */
    int first_pending;              /* the next request is the connection's first */
    int used;                       /* requests sent on it */
    int local_port;
    struct hc_req *reserved;        /* the request this connection was opened for (re-send) */
    /* output not yet accepted by the kernel: plaintext, or TLS records */
    struct buf out;
    size_t out_off;
    /* TLS */
    SSL *ssl;
    BIO *rbio, *wbio;
    int tls_closed;                 /* close_notify received */
    /* HTTP/1.1 */
    struct http1_parser *h1;
    struct hc_req *cur;             /* request in flight */
    int h1_complete;                /* cur's response is complete */
    int h1_interim;                 /* a 1xx head was seen: its completion is not the end */
    int h1_keep;                    /* the response allows reuse */
    int ka_max;                     /* Keep-Alive: max (0 none) */
    int64_t ka_timeout_ns;          /* Keep-Alive: timeout (0 none) */
    int64_t idle_since_ns;
    int64_t rx_ns;                  /* receive time of the bytes being parsed */
    /* HTTP/2 */
    nghttp2_session *h2;
    struct hc_req *reserved_list;   /* its open streams (chained through q_next/q_prev) */
    int h2_open;                    /* streams open */
    int h2_max;                     /* server's SETTINGS_MAX_CONCURRENT_STREAMS */
    int h2_done;                    /* streams finished on it */
    int h2_goaway;                  /* no new streams */
    int h2_in_recv;                 /* inside nghttp2_session_mem_recv (no sending from there) */
    struct buf h2_hdrs;             /* header block being received (name\0value\0…) */
    size_t h2_n_hdrs;
    int h2_status;
};

struct hc_engine {
    int epfd;
    struct hc_opts o;
    char host[256];                 /* for Host / :authority and SNI */
    char authority[300];            /* host[:port] as the URL gave it */
    int port;
    int tls;
    int is_ip;                      /* host is an address literal: no SNI */
    struct sockaddr_storage addr[HC_MAX_ADDRS];
    socklen_t addr_len[HC_MAX_ADDRS];
    int n_addr, good_addr;
    enum hc_proto target_proto;     /* what connections have negotiated (TLS + http2) */
    SSL_CTX *ssl_ctx;
    struct hc_conn *conns;
    struct hc_conn *dead;           /* closed, freed by hc_engine_reap */
    int n_conns, n_connecting;
    struct hc_conn *idle;           /* LIFO: the most recently used first */
    int n_idle;
    struct hc_req *pend_head, *pend_tail;
    int n_pend;
    char *rbuf;                     /* HC_READ_BUF */
    char *pbuf;                     /* TLS plaintext, HC_READ_BUF */
    struct buf req;                 /* request rendering scratch */
    int64_t real_minus_mono;        /* CLOCK_REALTIME − CLOCK_MONOTONIC (kernel stamps) */
    /* learning that the server closes every connection after its response (llama.cpp does,
     * without saying Connection: close): reused connections that answered, and ones that
     * were closed right after a response or died under the next request */
    uint64_t reuse_ok, reuse_dead;
    int64_t remap_ns;
    struct hc_stats st;
};

/* hc_engine.c, used by the others */
int hc_conn_send(struct hc_conn *c, const char *p, size_t n);       /* plaintext or records */
int hc_conn_send_raw(struct hc_conn *c, const char *p, size_t n);   /* to the socket */
void hc_conn_fail(struct hc_conn *c, enum hc_error err, const char *msg);
void hc_conn_ready(struct hc_conn *c);
void hc_req_start(struct hc_conn *c, struct hc_req *r);
void hc_req_finish(struct hc_req *r, enum hc_error err, const char *msg, int64_t end_ns);
/* The re-send rule: r failed before any response byte on a reused connection (or, unprocessed
 * = 1, the server said it did not process it). 1 when it is being re-sent (on_resend called),
 * 0 when the caller must fail it. */
int hc_req_try_resend(struct hc_engine *e, struct hc_req *r, enum hc_error err, const char *msg,
                      int64_t now_ns, int unprocessed);
void hc_conn_lost(struct hc_conn *c, enum hc_error err, const char *msg);
void hc_feed_plain(struct hc_conn *c, const char *p, size_t n, int64_t rx_ns);
void hc_conn_release(struct hc_conn *c);
void hc_conn_close(struct hc_conn *c);
void hc_dispatch(struct hc_engine *e);

/* hc_tls.c */
int hc_tls_ctx_init(struct hc_engine *e, char *err, size_t errlen);
void hc_tls_ctx_free(struct hc_engine *e);
int hc_tls_start(struct hc_conn *c);                   /* after TCP connect */
void hc_tls_recv(struct hc_conn *c, const char *p, size_t n, int64_t rx_ns);
int hc_tls_write(struct hc_conn *c, const char *p, size_t n);
void hc_tls_free(struct hc_conn *c);

/* hc_h2.c */
int hc_h2_init(struct hc_conn *c);
void hc_h2_free(struct hc_conn *c);
void hc_h2_recv(struct hc_conn *c, const char *p, size_t n, int64_t rx_ns);
int hc_h2_submit(struct hc_conn *c, struct hc_req *r);
void hc_h2_cancel(struct hc_conn *c, struct hc_req *r);
int hc_h2_flush(struct hc_conn *c);
/* r's stream was resumed: what it held goes back to its window (a WINDOW_UPDATE). */
void hc_h2_resume(struct hc_conn *c, struct hc_req *r);
void hc_h2_conn_lost(struct hc_conn *c, enum hc_error err, const char *msg, int64_t now_ns);
int hc_h2_capacity(const struct hc_conn *c);

#endif
