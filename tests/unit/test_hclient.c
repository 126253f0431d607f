/* test_hclient.c — the HTTP client engine (formats/net/hclient.h) against scripted servers on
 * 127.0.0.1, one behaviour per test: connection reuse and the server's keep-alive rules, the
 * re-send rule (only a request that died before any response byte on a *reused* connection is
 * re-sent, once, on a new connection; never after a byte, never after a failure on a new
 * connection, never with no_resend), responses split at every byte, close-delimited bodies,
 * 1xx, malformed responses, connect failures, TLS (verification, close_notify vs reset, a
 * handshake that never completes) and HTTP/2 (multiplexing, REFUSED_STREAM and GOAWAY
 * re-sent, other RST_STREAM codes fail). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "clock.h"
#include "hclient.h"

/* ---- scripted servers ------------------------------------------------------------------- */

typedef void (*conn_fn)(int fd, int index);

struct server {
    int ls;
    int port;
    conn_fn fn;
    atomic_int accepted;
    atomic_int requests;       /* requests read by read_request, over all connections */
    pthread_t th;
    SSL_CTX *tls;              /* non-NULL: the handler gets the SSL via tls_of(fd) */
};
static struct server srv;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

struct conn_arg {
    int fd, index;
};

static void *conn_thread(void *p)
{
    struct conn_arg a = *(struct conn_arg *)p;
    free(p);
    srv.fn(a.fd, a.index);
    return NULL;
}

static void *accept_thread(void *p)
{
    (void)p;
    for (;;) {
        int fd = accept(srv.ls, NULL, NULL);
        if (fd < 0)
            return NULL;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn_arg *a = malloc(sizeof *a);
        a->fd = fd;
        a->index = atomic_fetch_add(&srv.accepted, 1);
        pthread_t t;
        pthread_create(&t, NULL, conn_thread, a);
        pthread_detach(t);
    }
}

static void server_start(conn_fn fn)
{
    memset(&srv, 0, sizeof srv);
    srv.fn = fn;
    srv.ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(srv.ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(srv.ls, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(srv.ls, 64), 0);
    assert_int_equal(getsockname(srv.ls, (struct sockaddr *)&a, &al), 0);
    srv.port = ntohs(a.sin_port);
    pthread_create(&srv.th, NULL, accept_thread, NULL);
}

static void server_stop(void)
{
    shutdown(srv.ls, SHUT_RDWR);
    close(srv.ls);
    pthread_join(srv.th, NULL);
    sleep_ms(20); /* connection threads finish on their own (their clients are gone) */
}

/* Reads one request (head + Content-Length body) into buf. Its length, 0 on EOF, -1 on error.
 * Leftover bytes are not expected (the engine never pipelines). */
static int read_request(int fd, char *buf, size_t cap)
{
    size_t have = 0;
    for (;;) {
        char *end = memmem(buf, have, "\r\n\r\n", 4);
        if (end) {
            size_t head = (size_t)(end - buf) + 4, clen = 0;
            const char *cl = memmem(buf, head, "Content-Length: ", 16);
            if (cl)
                clen = strtoul(cl + 16, NULL, 10);
            while (have < head + clen) {
                ssize_t r = read(fd, buf + have, cap - have);
                if (r <= 0)
                    return -1;
                have += (size_t)r;
            }
            atomic_fetch_add(&srv.requests, 1);
            return (int)have;
        }
        if (have == cap)
            return -1;
        ssize_t r = read(fd, buf + have, cap - have);
        if (r <= 0)
            return r == 0 && have == 0 ? 0 : -1;
        have += (size_t)r;
    }
}

static void write_str(int fd, const char *s)
{
    size_t n = strlen(s);
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* Closes with a RST (unread data or SO_LINGER 0), like a server that drops the connection. */
static void close_rst(int fd)
{
    struct linger l = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

#define OK_RESPONSE "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
#define STREAMED_RESPONSE                                                                      \
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"     \
    "Keep-Alive: timeout=5, max=100\r\n\r\n"                                                   \
    "6\r\ndata: \r\n2\r\nok\r\n0\r\n\r\n"

/* ---- the client side -------------------------------------------------------------------- */

struct tr {
    struct hc_req hr;
    int n_start;
    struct hc_start st[3];
    int resends;
    struct hc_attempt att;
    int status;
    char body[8192];
    size_t body_len;
    int done;
    struct hc_result res;
};

static void cb_start(void *u, const struct hc_start *s)
{
    struct tr *t = u;
    if (t->n_start < 3)
        t->st[t->n_start] = *s;
    t->n_start++;
}

static void cb_resend(void *u, const struct hc_attempt *a)
{
    struct tr *t = u;
    t->resends++;
    t->att = *a;
}

static void cb_head(void *u, int status, const struct hc_header *h, size_t n, int64_t rx)
{
    (void)h;
    (void)n;
    (void)rx;
    ((struct tr *)u)->status = status;
}

static void cb_body(void *u, const char *d, size_t n, int64_t rx)
{
    (void)rx;
    struct tr *t = u;
    if (t->body_len + n < sizeof t->body) {
        memcpy(t->body + t->body_len, d, n);
        t->body_len += n;
    }
}

static void cb_done(void *u, const struct hc_result *r)
{
    struct tr *t = u;
    t->done++;
    t->res = *r;
}

static const struct hc_callbacks cbs = {cb_start, cb_resend, cb_head, cb_body, cb_done};

struct client {
    int ep;
    struct hc_engine *e;
};

static void client_open(struct client *c, const char *scheme, int port, const struct hc_opts *extra)
{
    char url[128], err[256];
    snprintf(url, sizeof url, "%s://127.0.0.1:%d", scheme, port);
    struct hc_opts o = {0};
    if (extra)
        o = *extra;
    o.url = url;
    o.rx_kernel = 1;
    if (!o.connect_timeout_ns)
        o.connect_timeout_ns = 2000000000LL;
    c->ep = epoll_create1(0);
    c->e = hc_engine_new(c->ep, &o, err, sizeof err);
    if (!c->e)
        fail_msg("hc_engine_new: %s", err);
}

static void client_close(struct client *c)
{
    hc_engine_free(c->e);
    close(c->ep);
}

static void submit(struct client *c, struct tr *t, const char *path)
{
    memset(t, 0, sizeof *t);
    t->hr.method = "POST";
    t->hr.target = path;
    t->hr.headers = "Content-Type: application/json\r\n";
    t->hr.headers_len = strlen(t->hr.headers);
    t->hr.body = "{}";
    t->hr.body_len = 2;
    t->hr.cb = &cbs;
    t->hr.user = t;
    assert_int_equal(hc_submit(c->e, &t->hr), 0);
}

/* Runs the loop until every request in ts is done, at most ms milliseconds. */
static void run(struct client *c, struct tr **ts, int n, int ms)
{
    int64_t until = clock_mono_ns() + (int64_t)ms * 1000000;
    for (;;) {
        int all = 1;
        for (int i = 0; i < n; i++)
            all &= ts[i]->done > 0;
        if (all)
            return;
        if (clock_mono_ns() > until)
            fail_msg("requests not done within %d ms", ms);
        struct epoll_event ev[64];
        int k = epoll_wait(c->ep, ev, 64, 10);
        for (int i = 0; i < k; i++)
            hc_engine_handle(c->e, ev[i].data.ptr, ev[i].events);
        hc_engine_tick(c->e, clock_mono_ns());
        hc_engine_reap(c->e);
    }
}

static void run1(struct client *c, struct tr *t)
{
    struct tr *ts[] = {t};
    run(c, ts, 1, 5000);
}

/* Runs the loop for ms milliseconds (lets idle connections see their FIN). */
static void idle_for(struct client *c, int ms)
{
    int64_t until = clock_mono_ns() + (int64_t)ms * 1000000;
    while (clock_mono_ns() < until) {
        struct epoll_event ev[64];
        int k = epoll_wait(c->ep, ev, 64, 10);
        for (int i = 0; i < k; i++)
            hc_engine_handle(c->e, ev[i].data.ptr, ev[i].events);
        hc_engine_reap(c->e);
    }
}

/* ---- HTTP/1.1: reuse ------------------------------------------------------------------- */

static void srv_keepalive(int fd, int index)
{
    (void)index;
    char buf[65536];
    while (read_request(fd, buf, sizeof buf) > 0)
        write_str(fd, OK_RESPONSE);
    close(fd);
}

static void test_reuse(void **state)
{
    (void)state;
    server_start(srv_keepalive);
    struct client c;
    client_open(&c, "http", srv.port, NULL);
    struct tr a, b;
    submit(&c, &a, "/a");
    run1(&c, &a);
    submit(&c, &b, "/b");
    run1(&c, &b);
    assert_int_equal(a.res.err, HC_OK);
    assert_int_equal(b.res.err, HC_OK);
    assert_int_equal(a.status, 200);
    assert_int_equal(a.body_len, 2);
    assert_memory_equal(a.body, "ok", 2);
    assert_int_equal(a.st[0].conn_new, 1);
    assert_true(a.st[0].connect_ns >= 0);
    assert_int_equal(b.st[0].conn_new, 0);
    assert_int_equal(b.st[0].connect_ns, -1);
    assert_int_equal(a.st[0].local_port, b.st[0].local_port);
    assert_int_equal(atomic_load(&srv.accepted), 1);
    assert_int_equal(a.resends + b.resends, 0);
    client_close(&c);
    server_stop();
}

/* ---- the re-send rule -------------------------------------------------------------------- */

/* llama.cpp's pattern: a streamed response without Connection: close, then the next request
 * on that connection is met by a reset (the server closed it). A new connection works. */
static void srv_close_race(int fd, int index)
{
    char buf[65536];
    if (index == 0) {
        if (read_request(fd, buf, sizeof buf) > 0)
            write_str(fd, STREAMED_RESPONSE);
        if (read_request(fd, buf, sizeof buf) > 0) /* the next request arrives… */
            close_rst(fd);                         /* …and is reset, unanswered */
        else
            close(fd);
        return;
    }
    srv_keepalive(fd, index);
}

static void test_resend_reused_close_race(void **state)
{
    (void)state;
    server_start(srv_close_race);
    struct client c;
    client_open(&c, "http", srv.port, NULL);
    struct tr a, b;
    submit(&c, &a, "/a");
    run1(&c, &a);
    assert_int_equal(a.res.err, HC_OK);
    assert_int_equal(a.body_len, 8);
    assert_memory_equal(a.body, "data: ok", 8);
    submit(&c, &b, "/b");
    run1(&c, &b);
    assert_int_equal(b.res.err, HC_OK);
    assert_int_equal(b.resends, 1);
    assert_int_equal(b.att.err, HC_E_RESET);
    assert_int_equal(b.att.conn_new, 0);
    assert_int_equal(b.att.local_port, a.st[0].local_port);
    assert_int_equal(b.n_start, 2);
    assert_int_equal(b.st[0].conn_new, 0);
    assert_int_equal(b.st[1].conn_new, 1);
    assert_int_equal(b.st[1].attempt, 1);
    assert_true(b.st[1].local_port != a.st[0].local_port);
    assert_int_equal(atomic_load(&srv.accepted), 2);
    assert_int_equal(atomic_load(&srv.requests), 3); /* a, b, b again */
    struct hc_stats st;
    hc_engine_stats(c.e, &st);
    assert_int_equal(st.resends, 1);
    client_close(&c);
    server_stop();
}

static void test_no_resend_flag(void **state)
{
    (void)state;
    server_start(srv_close_race);
    struct client c;
    struct hc_opts o = {.no_resend = 1};
    client_open(&c, "http", srv.port, &o);
    struct tr a, b;
    submit(&c, &a, "/a");
    run1(&c, &a);
    submit(&c, &b, "/b");
    run1(&c, &b);
    assert_int_equal(b.res.err, HC_E_RESET);
    assert_int_equal(b.resends, 0);
    assert_int_equal(atomic_load(&srv.accepted), 1);
    client_close(&c);
    server_stop();
}

/* A drop before any byte on a *new* connection is a real failure: never re-sent. */
static void srv_rst_first(int fd, int index)
{
    (void)index;
    char buf[65536];
    read_request(fd, buf, sizeof buf);
    close_rst(fd);
}

static void test_no_resend_on_new_connection(void **state)
{
    (void)state;
    server_start(srv_rst_first);
    struct client c;
    client_open(&c, "http", srv.port, NULL);
    struct tr a;
    submit(&c, &a, "/a");
    run1(&c, &a);
    assert_int_equal(a.res.err, HC_E_RESET);
    assert_int_equal(a.res.started, 1);
    assert_int_equal(a.resends, 0);
    assert_int_equal(atomic_load(&srv.accepted), 1);
    client_close(&c);
    server_stop();
}

/* A reset after a response byte is a failure, reused connection or not. */
static void srv_rst_after_bytes(int fd, int index)
{
    (void)index;
    char buf[65536];
    if (read_request(fd, buf, sizeof buf) > 0)
        write_str(fd, OK_RESPONSE);
    if (read_request(fd, buf, sizeof buf) > 0) {
        write_str(fd, "HTTP/1.1 200 OK\r\n");
        sleep_ms(20);
    }
    close_rst(fd);
}

static void test_no_resend_after_a_byte(void **state)
{
    (void)state;
    server_start(srv_rst_after_bytes);
    struct client c;
    client_open(&c, "http", srv.port, NULL);
    struct tr a, b;
    submit(&c, &a, "/a");
    run1(&c, &a);
    submit(&c, &b, "/b");
    run1(&c, &b);
    assert_int_equal(a.res.err, HC_OK);
    assert_int_equal(b.res.err, HC_E_RESET);
    assert_int_equal(b.resends, 0);
    assert_int_equal(atomic_load(&srv.accepted), 1);
    client_close(&c);
    server_stop();
}

/* The re-send happens once: when the new connection fails too, the request fails. */
static void srv_race_then_drop(int fd, int index)
{
    if (index == 0)
        srv_close_race(fd, index);
    else
        srv_rst_first(fd, index);
}

static void test_resend_only_once(void **state)
{
    (void)state;
    server_start(srv_race_then_drop);
    struct client c;
    client_open(&c, "http", srv.port, NULL);
    struct tr a, b;
    submit(&c, &a, "/a");
    run1(&c, &a);
    submit(&c, &b, "/b");
    run1(&c, &b);
    assert_int_equal(b.res.err, HC_E_RESET);
    assert_int_equal(b.resends, 1);
    assert_int_equal(b.n_start, 2);
    assert_int_equal(atomic_load(&srv.accepted), 2);
    client_close(&c);
    server_stop();
}

/* A server that closes every connection after one response (llama.cpp, without Connection:
 * close): after two dead reuses and no reuse that ever answered, the engine stops reusing, so
 * later requests cost no doomed attempt. */
static void srv_always_race(int fd, int index)
{
    (void)index;
    char buf[65536];
    if (read_request(fd, buf, sizeof buf) > 0)
        write_str(fd, STREAMED_RESPONSE);
    if (read_request(fd, buf, sizeof buf) > 0)
        close_rst(fd);
    else
        close(fd);
}

static void test_learns_close_after_response(void **state)
{
    (void)state;
    server_start(srv_always_race);
    struct client c;
    client_open(&c, "http", srv.port, NULL);
    struct tr t[6];
    int resends = 0;
    for (int i = 0; i < 6; i++) {
        submit(&c, &t[i], "/x");
        run1(&c, &t[i]);
        assert_int_equal(t[i].res.err, HC_OK);
        resends += t[i].resends;
    }
    assert_int_equal(resends, 2);
    assert_int_equal(t[1].resends + t[2].resends, 2);
    for (int i = 3; i < 6; i++) {
        assert_int_equal(t[i].resends, 0);
        assert_int_equal(t[i].st[0].conn_new, 1);
    }
    struct hc_stats st;
    hc_engine_stats(c.e, &st);
    assert_int_equal(st.reuse_off, 1);
    assert_int_equal(st.resends, 2);
    client_close(&c);
    server_stop();
}

/* ---- the server's connection rules -------------------------------------------------------- */

static void srv_conn_close(int fd, int index)
{
    (void)index;
    char buf[65536];
    if (read_request(fd, buf, sizeof buf) > 0)
        write_str(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
    sleep_ms(50); /* the client must not wait for the close to reuse nothing */
    close(fd);
}

static void test_connection_close(void **state)
{
    (void)state;
    server_start(srv_conn_close);
    struct client c;
    client_open(&c, "http", srv.port, NULL);
    struct tr a, b;
    submit(&c, &a, "/a");
    run1(&c, &a);
    submit(&c, &b, "/b");
    run1(&c, &b);
    assert_int_equal(a.res.err, HC_OK);
    assert_int_equal(b.res.err, HC_OK);
    assert_int_equal(b.st[0].conn_new, 1);
    assert_int_equal(a.resends + b.resends, 0);
    assert_int_equal(atomic_load(&srv.accepted), 2);
    client_close(&c);
    server_stop();
}

/* An idle connection the server closes is dropped when its FIN arrives: the next request goes
 * out on a new one, with no failed attempt. */
static void srv_idle_close(int fd, int index)
{
    (void)index;
    char buf[65536];
    if (read_request(fd, buf, sizeof buf) > 0)
        write_str(fd, OK_RESPONSE);
    sleep_ms(30);
    if (index == 0) {
        close(fd);
        return;
    }
    srv_keepalive(fd, index);
}

static void test_idle_close_dropped(void **state)
{
    (void)state;
    server_start(srv_idle_close);
    struct client c;
    client_open(&c, "http", srv.port, NULL);
    struct tr a, b;
    submit(&c, &a, "/a");
    run1(&c, &a);
    idle_for(&c, 150);
    submit(&c, &b, "/b");
    run1(&c, &b);
    assert_int_equal(b.res.err, HC_OK);
    assert_int_equal(b.resends, 0);
    assert_int_equal(b.st[0].conn_new, 1);
    struct hc_stats st;
    hc_engine_stats(c.e, &st);
    assert_int_equal(st.closed_idle, 1);
    client_close(&c);
    server_stop();
}

/* Keep-Alive: timeout=1 — a connection idle for nearly that long is not reused. */
static void srv_ka_timeout(int fd, int index)
{
    (void)index;
    char buf[65536];
    while (read_request(fd, buf, sizeof buf) > 0)
        write_str(fd, "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=1\r\nContent-Length: 2\r\n\r\nok");
    close(fd);
}

static void test_keepalive_timeout_hint(void **state)
{
    (void)state;
    server_start(srv_ka_timeout);
    struct client c;
    client_open(&c, "http", srv.port, NULL);
    struct tr a, b, d;
    submit(&c, &a, "/a");
    run1(&c, &a);
    submit(&c, &b, "/b"); /* at once: reused */
    run1(&c, &b);
    idle_for(&c, 950);    /* past timeout − 10 % */
    submit(&c, &d, "/d");
    run1(&c, &d);
    assert_int_equal(b.st[0].conn_new, 0);
    assert_int_equal(d.st[0].conn_new, 1);
    assert_int_equal(d.resends, 0);
    assert_int_equal(atomic_load(&srv.accepted), 2);
    client_close(&c);
    server_stop();
}

/* ---- response framing ------------------------------------------------------------------ */

static const char split_response[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    "5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n";

static void srv_split(int fd, int index)
{
    (void)index;
    char buf[65536];
    if (read_request(fd, buf, sizeof buf) > 0)
        for (size_t i = 0; split_response[i]; i++) {
            if (write(fd, split_response + i, 1) != 1)
                break;
            sleep_ms(1); /* each byte its own segment */
        }
    read_request(fd, buf, sizeof buf);
    close(fd);
}

static void test_split_at_every_byte(void **state)
{
    (void)state;
    server_start(srv_split);
    struct client c;
    client_open(&c, "http", srv.port, NULL);
    struct tr a;
    submit(&c, &a, "/a");
    run1(&c, &a);
    assert_int_equal(a.res.err, HC_OK);
    assert_int_equal(a.status, 200);
    assert_int_equal(a.body_len, 11);
    assert_memory_equal(a.body, "hello world", 11);
    struct hc_stats st;
    hc_engine_stats(c.e, &st);
    assert_true(st.read_calls > 50); /* it did arrive in pieces */
    client_close(&c);
    server_stop();
}

static void srv_close_delimited(int fd, int index)
{
    (void)index;
    char buf[65536];
    if (read_request(fd, buf, sizeof buf) > 0) {
        write_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil");
        sleep_ms(10);
        write_str(fd, " the end");
    }
    close(fd);
}

static void test_close_delimited(void **state)
{
    (void)state;
    server_start(srv_close_delimited);
    struct client c;
    client_open(&c, "http", srv.port, NULL);
    struct tr a;
    submit(&c, &a, "/a");
    run1(&c, &a);
    assert_int_equal(a.res.err, HC_OK);
    assert_int_equal(a.body_len, 13);
    assert_memory_equal(a.body, "until the end", 13);
    client_close(&c);
    server_stop();
}

static void srv_interim(int fd, int index)
{
    (void)index;
    char buf[65536];
    if (read_request(fd, buf, sizeof buf) > 0)
        write_str(fd, "HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" OK_RESPONSE);
    srv_keepalive(fd, 1);
}

static void test_interim_response(void **state)
{
    (void)state;
    server_start(srv_interim);
    struct client c;
    client_open(&c, "http", srv.port, NULL);
    struct tr a, b;
    submit(&c, &a, "/a");
    run1(&c, &a);
    submit(&c, &b, "/b");
    run1(&c, &b);
    assert_int_equal(a.res.err, HC_OK);
    assert_int_equal(a.status, 200);
    assert_memory_equal(a.body, "ok", 2);
    assert_int_equal(b.st[0].conn_new, 0); /* the 1xx did not end the exchange early */
    client_close(&c);
    server_stop();
}

static void srv_malformed(int fd, int index)
{
    (void)index;
    char buf[65536];
    if (read_request(fd, buf, sizeof buf) > 0)
        write_str(fd, "HTTP/1.1 2x0 OK\r\n\r\n");
    sleep_ms(50);
    close(fd);
}

static void test_malformed(void **state)
{
    (void)state;
    server_start(srv_malformed);
    struct client c;
    client_open(&c, "http", srv.port, NULL);
    struct tr a;
    submit(&c, &a, "/a");
    run1(&c, &a);
    assert_int_equal(a.res.err, HC_E_PROTOCOL);
    assert_non_null(strstr(a.res.msg, "invalid HTTP/1.1 response"));
    client_close(&c);
    server_stop();
}

/* ---- hc_pause: a paused transfer reads nothing until resumed ----------------------------- */

static void srv_two_parts(int fd, int index)
{
    (void)index;
    char buf[65536];
    while (read_request(fd, buf, sizeof buf) > 0) {
        write_str(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\npart1\r\n");
        sleep_ms(50);
        write_str(fd, "5\r\npart2\r\n0\r\n\r\n");
    }
    close(fd);
}

static struct hc_engine *pause_engine;

static void cb_body_pause(void *u, const char *d, size_t n, int64_t rx)
{
    struct tr *t = u;
    cb_body(u, d, n, rx);
    hc_pause(pause_engine, &t->hr, 1); /* inside the callback, as the proxy does */
}

static void test_pause(void **state)
{
    (void)state;
    server_start(srv_two_parts);
    struct client c;
    client_open(&c, "http", srv.port, NULL);
    pause_engine = c.e;
    static const struct hc_callbacks pcbs = {cb_start, cb_resend, cb_head, cb_body_pause,
                                             cb_done};
    struct tr t;
    submit(&c, &t, "/p");
    t.hr.cb = &pcbs;
    /* the first part arrives and pauses the transfer; the second, sent 50 ms later, must
     * stay in the kernel while paused */
    int64_t until = clock_mono_ns() + 2000000000LL;
    while (t.body_len == 0 && clock_mono_ns() < until)
        idle_for(&c, 10);
    assert_int_equal(t.body_len, 5);
    idle_for(&c, 300);
    assert_int_equal(t.body_len, 5);
    assert_int_equal(t.done, 0);
    assert_int_equal(t.hr.paused, 1);
    /* resumed: the rest is read (and paused again by the callback: released when done) */
    hc_pause(c.e, &t.hr, 0);
    run1(&c, &t);
    assert_int_equal(t.res.err, HC_OK);
    assert_int_equal(t.status, 200);
    assert_int_equal(t.body_len, 10);
    assert_memory_equal(t.body, "part1part2", 10);
    /* the connection went back to the pool unpaused: the next request reuses it */
    struct tr t2;
    submit(&c, &t2, "/q");
    run1(&c, &t2);
    assert_int_equal(t2.res.err, HC_OK);
    assert_int_equal(t2.body_len, 10);
    assert_int_equal(t2.st[0].conn_new, 0);
    /* a paused request cancelled: nothing follows, the engine stays usable */
    struct tr t3;
    submit(&c, &t3, "/r");
    t3.hr.cb = &pcbs;
    until = clock_mono_ns() + 2000000000LL;
    while (t3.body_len == 0 && clock_mono_ns() < until)
        idle_for(&c, 10);
    assert_int_equal(t3.hr.paused, 1);
    hc_cancel(c.e, &t3.hr);
    assert_int_equal(t3.hr.paused, 0);
    idle_for(&c, 100);
    assert_int_equal(t3.done, 0);
    struct tr t4;
    submit(&c, &t4, "/s");
    run1(&c, &t4);
    assert_int_equal(t4.res.err, HC_OK);
    assert_int_equal(t4.body_len, 10);
    client_close(&c);
    server_stop();
}

static void test_connect_refused(void **state)
{
    (void)state;
    server_start(srv_keepalive);
    int port = srv.port;
    server_stop(); /* nothing listens there now */
    struct client c;
    client_open(&c, "http", port, NULL);
    struct tr a;
    submit(&c, &a, "/a");
    run1(&c, &a);
    assert_int_equal(a.res.err, HC_E_CONNECT);
    assert_int_equal(a.res.started, 0);
    assert_int_equal(a.n_start, 0);
    assert_non_null(strstr(a.res.msg, "Connection refused"));
    client_close(&c);
}

/* ---- TLS --------------------------------------------------------------------------------- */

static char cert_path[512], key_path[512];

static SSL_CTX *server_tls_ctx(const char *alpn)
{
    SSL_CTX *x = SSL_CTX_new(TLS_server_method());
    assert_non_null(x);
    assert_int_equal(SSL_CTX_use_certificate_file(x, cert_path, SSL_FILETYPE_PEM), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey_file(x, key_path, SSL_FILETYPE_PEM), 1);
    (void)alpn;
    return x;
}

static int tls_alpn_h2(SSL *s, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned inlen, void *arg)
{
    (void)s;
    (void)arg;
    for (unsigned i = 0; i < inlen; i += 1u + in[i])
        if (in[i] == 2 && i + 3 <= inlen && !memcmp(in + i + 1, "h2", 2)) {
            *out = in + i + 1;
            *outlen = 2;
            return SSL_TLSEXT_ERR_OK;
        }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static int tls_read_request(SSL *s, char *buf, size_t cap)
{
    size_t have = 0;
    while (!memmem(buf, have, "\r\n\r\n", 4)) {
        int r = SSL_read(s, buf + have, (int)(cap - have));
        if (r <= 0)
            return -1;
        have += (size_t)r;
    }
    const char *cl = memmem(buf, have, "Content-Length: ", 16);
    size_t head = (size_t)((char *)memmem(buf, have, "\r\n\r\n", 4) - buf) + 4;
    size_t clen = cl ? strtoul(cl + 16, NULL, 10) : 0;
    while (have < head + clen) {
        int r = SSL_read(s, buf + have, (int)(cap - have));
        if (r <= 0)
            return -1;
        have += (size_t)r;
    }
    return (int)have;
}

static int tls_mode; /* 0 close-delimited + close_notify, 1 partial then RST, 2 never handshake */

static void srv_tls(int fd, int index)
{
    (void)index;
    char buf[65536];
    if (tls_mode == 2) {
        sleep_ms(800);
        close(fd);
        return;
    }
    SSL *s = SSL_new(srv.tls);
    SSL_set_fd(s, fd);
    if (SSL_accept(s) != 1) {
        SSL_free(s);
        close(fd);
        return;
    }
    if (tls_read_request(s, buf, sizeof buf) > 0) {
        if (tls_mode == 0) {
            const char *r = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nsecret";
            SSL_write(s, r, (int)strlen(r));
            SSL_shutdown(s); /* close_notify */
        } else {
            const char *r = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf";
            SSL_write(s, r, (int)strlen(r));
            sleep_ms(20);
            SSL_free(s);
            close_rst(fd);
            return;
        }
    }
    SSL_free(s);
    close(fd);
}

static void test_tls(void **state)
{
    (void)state;
    server_start(srv_tls);
    srv.tls = server_tls_ctx(NULL);
    struct tr a;
    struct client c;

    /* certificate verification is on by default: a self-signed certificate fails */
    tls_mode = 0;
    client_open(&c, "https", srv.port, NULL);
    submit(&c, &a, "/a");
    run1(&c, &a);
    assert_int_equal(a.res.err, HC_E_TLS);
    assert_non_null(strstr(a.res.msg, "certificate verification"));
    client_close(&c);

    /* …and passes against it as the CA; a close-delimited body ends at close_notify */
    struct hc_opts o = {.cacert = cert_path};
    client_open(&c, "https", srv.port, &o);
    submit(&c, &a, "/a");
    run1(&c, &a);
    assert_int_equal(a.res.err, HC_OK);
    assert_int_equal(a.body_len, 6);
    assert_memory_equal(a.body, "secret", 6);
    assert_true(a.st[0].connect_ns > 0); /* TCP + TLS */
    client_close(&c);

    /* a reset mid-body is a reset, not a short success */
    tls_mode = 1;
    struct hc_opts ins = {.insecure = 1};
    client_open(&c, "https", srv.port, &ins);
    submit(&c, &a, "/a");
    run1(&c, &a);
    assert_int_equal(a.res.err, HC_E_RESET);
    assert_memory_equal(a.body, "half", 4);
    client_close(&c);

    /* a handshake that never completes is a connect timeout */
    tls_mode = 2;
    ins.connect_timeout_ns = 300000000LL;
    client_open(&c, "https", srv.port, &ins);
    submit(&c, &a, "/a");
    run1(&c, &a);
    assert_int_equal(a.res.err, HC_E_CONNECT_TIMEOUT);
    assert_non_null(strstr(a.res.msg, "TLS handshake"));
    client_close(&c);
    SSL_CTX_free(srv.tls);
    server_stop();
}

/* ---- HTTP/2 ------------------------------------------------------------------------------ */

/* A minimal HTTP/2 server over TLS (nghttp2): answers each stream "ok", except
 *   /refuse: RST_STREAM REFUSED_STREAM, unless it is a connection's first stream (so the
 *            re-send on a new connection is served);
 *   /rst:    RST_STREAM INTERNAL_ERROR;
 *   /goaway: GOAWAY with the previous stream as the last processed (same exception). */
struct h2s {
    SSL *ssl;
    int index;
    nghttp2_session *s;
    char path[64][32];
};

static ssize_t h2s_send(nghttp2_session *s, const uint8_t *d, size_t n, int flags, void *ud)
{
    (void)s;
    (void)flags;
    struct h2s *h = ud;
    int w = SSL_write(h->ssl, d, (int)n);
    return w > 0 ? w : NGHTTP2_ERR_CALLBACK_FAILURE;
}

static int h2s_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                      size_t nl, const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
    (void)s;
    (void)flags;
    struct h2s *h = ud;
    if (nl == 5 && !memcmp(name, ":path", 5) && f->hd.stream_id < 128 && vl < 32) {
        memcpy(h->path[f->hd.stream_id / 2], value, vl);
        h->path[f->hd.stream_id / 2][vl] = 0;
    }
    return 0;
}

static ssize_t h2s_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
                        uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    (void)s;
    (void)id;
    (void)len;
    (void)src;
    (void)ud;
    memcpy(buf, "ok", 2);
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    return 2;
}

static int h2s_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    struct h2s *h = ud;
    /* the request is whole at END_STREAM: on its HEADERS, or on its last DATA */
    if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) ||
        !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    int32_t id = f->hd.stream_id;
    const char *p = id < 128 ? h->path[id / 2] : "";
    if (!strcmp(p, "/refuse") && id > 1)
        return nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, id, NGHTTP2_REFUSED_STREAM);
    if (!strcmp(p, "/rst"))
        return nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, id, NGHTTP2_INTERNAL_ERROR);
    if (!strcmp(p, "/goaway") && id > 1)
        return nghttp2_submit_goaway(s, NGHTTP2_FLAG_NONE, id - 2, NGHTTP2_NO_ERROR, NULL, 0);
    nghttp2_nv nv[] = {{(uint8_t *)":status", (uint8_t *)"200", 7, 3, 0},
                       {(uint8_t *)"content-type", (uint8_t *)"text/plain", 12, 10, 0}};
    nghttp2_data_provider dp = {.read_callback = h2s_body};
    return nghttp2_submit_response(s, id, nv, 2, &dp);
}

static void srv_h2(int fd, int index)
{
    SSL *ssl = SSL_new(srv.tls);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) != 1) {
        SSL_free(ssl);
        close(fd);
        return;
    }
    struct h2s h = {.ssl = ssl, .index = index};
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_send_callback(cb, h2s_send);
    nghttp2_session_callbacks_set_on_header_callback(cb, h2s_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, h2s_frame);
    nghttp2_session_server_new(&h.s, cb, &h);
    nghttp2_session_callbacks_del(cb);
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 16}};
    nghttp2_submit_settings(h.s, NGHTTP2_FLAG_NONE, iv, 1);
    nghttp2_session_send(h.s);
    char buf[16384];
    for (int i = 0; i < 10000; i++) {
        int r = SSL_read(ssl, buf, sizeof buf);
        if (r <= 0)
            break;
        if (nghttp2_session_mem_recv(h.s, (uint8_t *)buf, (size_t)r) < 0 ||
            nghttp2_session_send(h.s))
            break;
        if (!nghttp2_session_want_read(h.s) && !nghttp2_session_want_write(h.s))
            break;
    }
    nghttp2_session_del(h.s);
    SSL_free(ssl);
    close(fd);
}

static void test_http2(void **state)
{
    (void)state;
    server_start(srv_h2);
    srv.tls = server_tls_ctx(NULL);
    SSL_CTX_set_alpn_select_cb(srv.tls, tls_alpn_h2, NULL);
    struct hc_opts o = {.insecure = 1, .http2 = 1};
    struct client c;
    client_open(&c, "https", srv.port, &o);

    /* four at once: one connection, multiplexed */
    struct tr m[4];
    struct tr *mp[4];
    for (int i = 0; i < 4; i++) {
        submit(&c, &m[i], "/ok");
        mp[i] = &m[i];
    }
    run(&c, mp, 4, 5000);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(m[i].res.err, HC_OK);
        assert_int_equal(m[i].status, 200);
        assert_memory_equal(m[i].body, "ok", 2);
        assert_int_equal(m[i].st[0].http2, 1);
    }
    assert_int_equal(atomic_load(&srv.accepted), 1);

    /* REFUSED_STREAM: not processed, so re-sent on a new connection */
    struct tr r;
    submit(&c, &r, "/refuse");
    run1(&c, &r);
    assert_int_equal(r.res.err, HC_OK);
    assert_int_equal(r.resends, 1);
    assert_int_equal(r.att.err, HC_E_STREAM_RESET);
    assert_int_equal(r.st[1].conn_new, 1);
    assert_int_equal(atomic_load(&srv.accepted), 2);

    /* any other RST_STREAM is a failure */
    struct tr x;
    submit(&c, &x, "/rst");
    run1(&c, &x);
    assert_int_equal(x.res.err, HC_E_STREAM_RESET);
    assert_int_equal(x.resends, 0);
    assert_non_null(strstr(x.res.msg, "INTERNAL_ERROR"));
    client_close(&c);

    /* GOAWAY below an open stream: that stream was not processed and goes out again */
    client_open(&c, "https", srv.port, &o);
    struct tr g1, g2;
    struct tr *gp[] = {&g1, &g2};
    int before = atomic_load(&srv.accepted);
    submit(&c, &g1, "/ok");
    run1(&c, &g1);
    submit(&c, &g2, "/goaway");
    run(&c, gp, 2, 5000);
    assert_int_equal(g1.res.err, HC_OK);
    assert_int_equal(g2.res.err, HC_OK);
    assert_int_equal(g2.resends, 1);
    assert_int_equal(atomic_load(&srv.accepted), before + 2);
    client_close(&c);
    SSL_CTX_free(srv.tls);
    server_stop();
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* the scripted servers write to sockets the client reset */
    const char *fx = getenv("FIXTURE_DIR");
    snprintf(cert_path, sizeof cert_path, "%s/tls/cert.pem", fx ? fx : FIXTURE_DIR);
    snprintf(key_path, sizeof key_path, "%s/tls/key.pem", fx ? fx : FIXTURE_DIR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuse),
        cmocka_unit_test(test_resend_reused_close_race),
        cmocka_unit_test(test_no_resend_flag),
        cmocka_unit_test(test_no_resend_on_new_connection),
        cmocka_unit_test(test_no_resend_after_a_byte),
        cmocka_unit_test(test_resend_only_once),
        cmocka_unit_test(test_learns_close_after_response),
        cmocka_unit_test(test_connection_close),
        cmocka_unit_test(test_idle_close_dropped),
        cmocka_unit_test(test_keepalive_timeout_hint),
        cmocka_unit_test(test_split_at_every_byte),
        cmocka_unit_test(test_close_delimited),
        cmocka_unit_test(test_interim_response),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_pause),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_http2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
