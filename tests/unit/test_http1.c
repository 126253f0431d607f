/* test_http1.c — the HTTP/1.1 parser (formats/wire/http1.h, RFC 9112): every fixture is fed whole,
 * split once at every byte boundary and byte by byte, each piece placed just before a guard
 * page so an over-read crashes; all ways must give the same callback log, which must equal
 * the log written down by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "http1.h"

/* ---- callback recorder ------------------------------------------------------------------ */

#define LOG_MAX (1 << 18)

struct rec {
    char log[LOG_MAX];
    size_t len;
    int in_body;
    int stop_on_head;  /* on_head returns this */
    int pause_on_head; /* on_head returns HTTP1_E_PAUSED */
    int pause_all;     /* every callback returns HTTP1_E_PAUSED */
};

static void rec_add(struct rec *r, const char *s, size_t n)
{
    assert_true(n < LOG_MAX - r->len);
    memcpy(r->log + r->len, s, n);
    r->len += n;
    r->log[r->len] = '\0'; /* so tests may strstr() the log */
}

static void rec_printf(struct rec *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rec_printf(struct rec *r, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof tmp);
    rec_add(r, tmp, (size_t)n);
}

static void rec_end_body(struct rec *r)
{
    if (r->in_body)
        rec_add(r, "\n", 1);
    r->in_body = 0;
}

static void rec_fields(struct rec *r, const struct http1_header *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rec_printf(r, "  %.*s: [", (int)h[i].name_len, h[i].name);
        rec_add(r, h[i].value, h[i].value_len);
        rec_add(r, "]\n", 2);
    }
}

static int rec_on_head(void *u, const struct http1_head *h)
{
    struct rec *r = u;
    rec_end_body(r);
    if (h->kind == HTTP1_REQUEST)
        rec_printf(r, "REQ %.*s %.*s 1.%d", (int)h->method_len, h->method, (int)h->target_len,
                   h->target, h->version_minor);
    else
        rec_printf(r, "RES 1.%d %d %.*s", h->version_minor, h->status, (int)h->reason_len,
                   h->reason);
    rec_printf(r, " cl=%lld ch=%d gz=%d ka=%d nb=%d\n", (long long)h->content_length, h->chunked,
               h->gzip, h->keep_alive, h->no_body);
    rec_fields(r, h->headers, h->n_headers);
    if (r->pause_on_head || r->pause_all)
        return HTTP1_E_PAUSED;
    return r->stop_on_head;
}

static int rec_on_body(void *u, const char *d, size_t n)
{
    struct rec *r = u;
    assert_true(n > 0);
    if (!r->in_body)
        rec_add(r, "BODY ", 5);
    r->in_body = 1;
    rec_add(r, d, n);
    return r->pause_all ? HTTP1_E_PAUSED : 0;
}

static int rec_on_trailers(void *u, const struct http1_header *h, size_t n)
{
    struct rec *r = u;
    rec_end_body(r);
    rec_add(r, "TRAILERS\n", 9);
    rec_fields(r, h, n);
    return r->pause_all ? HTTP1_E_PAUSED : 0;
}

static int rec_on_complete(void *u)
{
    struct rec *r = u;
    rec_end_body(r);
    rec_add(r, "DONE\n", 5);
    return r->pause_all ? HTTP1_E_PAUSED : 0;
}

static const struct http1_callbacks rec_cb = {rec_on_head, rec_on_body, rec_on_trailers,
                                              rec_on_complete};

/* ---- guard page ------------------------------------------------------------------------- */

static char *guard_base;  /* start of the readable area */
static char *guard_end;   /* first byte of the PROT_NONE page */

/* Copies n bytes so that they end exactly at the guard page and returns where they start. */
static const char *guard_place(const char *d, size_t n)
{
    if (!guard_base) {
        size_t pg = (size_t)sysconf(_SC_PAGESIZE), area = 1 << 20;
        char *m = mmap(NULL, area + pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        assert_true(m != MAP_FAILED);
        assert_int_equal(mprotect(m + area, pg, PROT_NONE), 0);
        guard_base = m;
        guard_end = m + area;
    }
    assert_true(n <= (size_t)(guard_end - guard_base));
    memcpy(guard_end - n, d, n);
    return guard_end - n;
}

/* ---- the driver ------------------------------------------------------------------------- */

struct opts {
    enum http1_kind kind;
    int gzip;
    uint64_t max_body;
    const char *methods; /* responses: space-separated request methods, in order */
    int no_finish;
};

static struct http1_parser parser; /* ~80 KiB: kept off the stack */
static struct rec rec_ref, rec_cur;

static void queue_methods(struct http1_parser *p, const char *m)
{
    while (m && *m) {
        size_t n = strcspn(m, " ");
        http1_expect_response_to(p, m, n);
        m += n;
        m += strspn(m, " ");
    }
}

/* Feeds in[0..n) as pieces: one piece (step 0, cut n), two pieces cut at `cut` (step 0), or
 * one byte at a time (step 1); then finishes. Writes the whole story into r. */
static void drive(const struct opts *o, const char *in, size_t n, size_t cut, int step,
                  struct rec *r)
{
    struct http1_parser *p = &parser;
    int rc = 0;
    r->len = 0;
    r->log[0] = '\0';
    r->in_body = 0;
    http1_init(p, o->kind, &rec_cb, r, o->gzip, o->max_body);
    queue_methods(p, o->methods);
    size_t off = 0, rounds = 0;
    while (off < n) {
        assert_true(++rounds <= 4 * n + 10000); /* pauses always make progress */
        size_t len = step ? 1 : (off < cut ? cut - off : n - off);
        if (len == 0) { /* an empty first piece must be harmless too */
            assert_int_equal(http1_feed(p, guard_place("", 0), 0), 0);
            cut = n;
            continue;
        }
        ssize_t got = http1_feed(p, guard_place(in + off, len), len);
        if (got < 0) {
            rc = (int)got;
            break;
        }
        /* less than len only when a callback paused: feed the rest again */
        if (!r->pause_all)
            assert_int_equal((size_t)got, len);
        off += (size_t)got;
    }
    rec_end_body(r);
    if (rc < 0) {
        assert_int_equal(http1_error(p), rc);
        assert_int_equal(http1_feed(p, "x", 1), rc); /* stays in error */
        rec_printf(r, "ERR %d @%zu\n", rc, http1_error_pos(p));
    } else if (!o->no_finish) {
        rc = http1_finish(p);
        rec_end_body(r);
        if (rc < 0)
            rec_printf(r, "FIN %d @%zu\n", rc, http1_error_pos(p));
        else
            rec_printf(r, "FIN 0 idle=%d\n", http1_idle(p));
    }
    rec_printf(r, "LF %llu", (unsigned long long)http1_bare_lf_count(p));
    if (http1_leniency_count(p) != http1_bare_lf_count(p))
        rec_printf(r, " LENIENT %llu", (unsigned long long)http1_leniency_count(p));
    rec_add(r, "\n", 1);
    http1_free(p);
    http1_free(p); /* twice is fine */
}

static void show_diff(const struct rec *a, const struct rec *b, const char *what)
{
    size_t i = 0;
    while (i < a->len && i < b->len && a->log[i] == b->log[i])
        i++;
    print_error("%s: logs differ at byte %zu\n--- expected:\n%.*s\n--- got:\n%.*s\n", what, i,
                (int)a->len, a->log, (int)b->len, b->log);
}

/* Runs the fixture every way and checks each log against `expect`. */
static void check_fixture(const struct opts *o, const char *in, size_t n, const char *expect)
{
    drive(o, in, n, n, 0, &rec_ref);
    if (rec_ref.len != strlen(expect) || memcmp(rec_ref.log, expect, rec_ref.len) != 0) {
        struct rec *want = &rec_cur;
        want->len = strlen(expect);
        memcpy(want->log, expect, want->len);
        show_diff(want, &rec_ref, "whole input");
        fail();
    }
    for (size_t cut = 0; cut <= n; cut++) {
        drive(o, in, n, cut, 0, &rec_cur);
        if (rec_cur.len != rec_ref.len || memcmp(rec_cur.log, rec_ref.log, rec_ref.len) != 0) {
            char what[64];
            snprintf(what, sizeof what, "split at %zu", cut);
            show_diff(&rec_ref, &rec_cur, what);
            fail();
        }
    }
    drive(o, in, n, 0, 1, &rec_cur);
    if (rec_cur.len != rec_ref.len || memcmp(rec_cur.log, rec_ref.log, rec_ref.len) != 0) {
        show_diff(&rec_ref, &rec_cur, "byte by byte");
        fail();
    }
    /* pausing in every callback and resuming changes nothing either */
    rec_cur.pause_all = 1;
    for (int k = 0; k < 3; k++) {
        drive(o, in, n, k == 0 ? n : n / 2, k == 2, &rec_cur);
        if (rec_cur.len != rec_ref.len || memcmp(rec_cur.log, rec_ref.log, rec_ref.len) != 0) {
            show_diff(&rec_ref, &rec_cur, "paused in every callback");
            rec_cur.pause_all = 0;
            fail();
        }
    }
    rec_cur.pause_all = 0;
}

#define CHECK(o, lit, expect) check_fixture((o), (lit), sizeof(lit) - 1, (expect))

static const struct opts REQ = {HTTP1_REQUEST, 0, 0, NULL, 0};
static const struct opts RES = {HTTP1_RESPONSE, 0, 0, NULL, 0};

/* ---- requests --------------------------------------------------------------------------- */

static void test_simple_get(void **state)
{
    (void)state;
    CHECK(&REQ,
          "GET /v1/models?x=1 HTTP/1.1\r\n"
          "Host: localhost:8000\r\n"
          "User-Agent:\tcurl/8.0 \t\r\n"
          "Accept:\r\n"
          "X-Obs: caf\xc3\xa9 \t and \x80\xff more text, long enough\r\n"
          "\r\n",
          "REQ GET /v1/models?x=1 1.1 cl=-1 ch=0 gz=0 ka=1 nb=0\n"
          "  Host: [localhost:8000]\n"
          "  User-Agent: [curl/8.0]\n"
          "  Accept: []\n"
          "  X-Obs: [caf\xc3\xa9 \t and \x80\xff more text, long enough]\n"
          "DONE\n"
          "FIN 0 idle=1\n"
          "LF 0\n");
}

static void test_post_content_length(void **state)
{
    (void)state;
    CHECK(&REQ,
          "POST /v1/chat/completions HTTP/1.1\r\n"
          "Content-Type: application/json\r\n"
          "content-length:  13 \r\n"
          "\r\n"
          "{\"stream\":1}\n",
          "REQ POST /v1/chat/completions 1.1 cl=13 ch=0 gz=0 ka=1 nb=0\n"
          "  Content-Type: [application/json]\n"
          "  content-length: [13]\n"
          "BODY {\"stream\":1}\n\n"
          "DONE\n"
          "FIN 0 idle=1\n"
          "LF 0\n");
}

static void test_chunked_extensions_trailers(void **state)
{
    (void)state;
    CHECK(&REQ,
          "POST /up HTTP/1.1\r\n"
          "Transfer-Encoding: chunked\r\n"
          "\r\n"
          "5;name=value\r\n"
          "hello\r\n"
          "6 ; a ; b=\"q;x\"\r\n"
          " world\r\n"
          "000A\r\n"
          "0123456789\r\n"
          "0;last\r\n"
          "X-Checksum: abc\r\n"
          "X-Other:  d e \r\n"
          "\r\n",
          "REQ POST /up 1.1 cl=-1 ch=1 gz=0 ka=1 nb=0\n"
          "  Transfer-Encoding: [chunked]\n"
          "BODY hello world0123456789\n"
          "TRAILERS\n"
          "  X-Checksum: [abc]\n"
          "  X-Other: [d e]\n"
          "DONE\n"
          "FIN 0 idle=1\n"
          "LF 0\n");
    /* no trailers: on_trailers is not called */
    CHECK(&REQ,
          "POST /up HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
          "REQ POST /up 1.1 cl=-1 ch=1 gz=0 ka=1 nb=0\n"
          "  Transfer-Encoding: [gzip, chunked]\n"
          "BODY abc\n"
          "DONE\n"
          "FIN 0 idle=1\n"
          "LF 0\n");
}

static void test_te_overrides_content_length(void **state)
{
    (void)state;
    /* both present: chunked frames the body, CL is reported absent, the connection closes */
    CHECK(&REQ,
          "POST / HTTP/1.1\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
          "2\r\nok\r\n0\r\n\r\n",
          "REQ POST / 1.1 cl=-1 ch=1 gz=0 ka=0 nb=0\n"
          "  Content-Length: [100]\n"
          "  Transfer-Encoding: [chunked]\n"
          "BODY ok\n"
          "DONE\n"
          "FIN 0 idle=1\n"
          "LF 0\n");
}

static void test_pipelined_requests(void **state)
{
    (void)state;
    /* three requests in one feed, with a stray CRLF between two of them (RFC 9112 2.2) */
    CHECK(&REQ,
          "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
          "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz"
          "\r\n"
          "POST /c HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
          "1\r\nQ\r\n0\r\n\r\n"
          "GET /d HTTP/1.0\r\n\r\n",
          "REQ GET /a 1.1 cl=-1 ch=0 gz=0 ka=1 nb=0\n"
          "  Host: [h]\n"
          "DONE\n"
          "REQ POST /b 1.1 cl=3 ch=0 gz=0 ka=1 nb=0\n"
          "  Content-Length: [3]\n"
          "BODY xyz\n"
          "DONE\n"
          "REQ POST /c 1.0 cl=-1 ch=1 gz=0 ka=1 nb=0\n"
          "  Connection: [keep-alive]\n"
          "  Transfer-Encoding: [chunked]\n"
          "BODY Q\n"
          "DONE\n"
          "REQ GET /d 1.0 cl=-1 ch=0 gz=0 ka=0 nb=0\n"
          "DONE\n"
          "FIN 0 idle=1\n"
          "LF 0 LENIENT 1\n");
}

static void test_bare_lf(void **state)
{
    (void)state;
    /* bare LF line ends are accepted and counted: 3 in the head, 2 chunk-size lines, 1 after
     * chunk data, 1 ending the trailer section */
    CHECK(&REQ,
          "POST / HTTP/1.1\nTransfer-Encoding: chunked\n\n"
          "2\nab\n0\r\n\n",
          "REQ POST / 1.1 cl=-1 ch=1 gz=0 ka=1 nb=0\n"
          "  Transfer-Encoding: [chunked]\n"
          "BODY ab\n"
          "DONE\n"
          "FIN 0 idle=1\n"
          "LF 6\n");
}

/* ---- responses -------------------------------------------------------------------------- */

static void test_keepalive_responses(void **state)
{
    (void)state;
    CHECK(&RES,
          "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
          "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\nA"
          "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
          "HTTP/1.1 500 Oops\r\nConnection: foo, close\r\nContent-Length: 1\r\n\r\nB"
          "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nC",
          "RES 1.1 200 OK cl=2 ch=0 gz=0 ka=1 nb=0\n"
          "  Content-Length: [2]\n"
          "BODY ok\n"
          "DONE\n"
          "RES 1.0 200 OK cl=1 ch=0 gz=0 ka=1 nb=0\n"
          "  Connection: [Keep-Alive]\n"
          "  Content-Length: [1]\n"
          "BODY A\n"
          "DONE\n"
          "RES 1.1 404 Not Found cl=0 ch=0 gz=0 ka=1 nb=0\n"
          "  Content-Length: [0]\n"
          "DONE\n"
          "RES 1.1 500 Oops cl=1 ch=0 gz=0 ka=0 nb=0\n"
          "  Connection: [foo, close]\n"
          "  Content-Length: [1]\n"
          "BODY B\n"
          "DONE\n"
          "RES 1.0 200 OK cl=1 ch=0 gz=0 ka=0 nb=0\n"
          "  Content-Length: [1]\n"
          "BODY C\n"
          "DONE\n"
          "FIN 0 idle=1\n"
          "LF 0\n");
}

static void test_no_body_responses(void **state)
{
    (void)state;
    struct opts o = RES;
    o.methods = "POST HEAD GET GET GET";
    CHECK(&o,
          "HTTP/1.1 100 Continue\r\n\r\n"
          "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
          "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
          "HTTP/1.1 204 No Content\r\n\r\n"
          "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n"
          "HTTP/1.1 200\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n",
          "RES 1.1 100 Continue cl=-1 ch=0 gz=0 ka=1 nb=1\n"
          "DONE\n"
          "RES 1.1 200 OK cl=3 ch=0 gz=0 ka=1 nb=0\n"
          "  Content-Length: [3]\n"
          "BODY abc\n"
          "DONE\n"
          "RES 1.1 200 OK cl=1000 ch=0 gz=0 ka=1 nb=1\n"
          "  Content-Length: [1000]\n"
          "DONE\n"
          "RES 1.1 204 No Content cl=-1 ch=0 gz=0 ka=1 nb=1\n"
          "DONE\n"
          "RES 1.1 304 Not Modified cl=50 ch=0 gz=0 ka=1 nb=1\n"
          "  Content-Length: [50]\n"
          "DONE\n"
          "RES 1.1 200  cl=-1 ch=1 gz=0 ka=1 nb=0\n"
          "  Transfer-Encoding: [chunked]\n"
          "BODY z\n"
          "DONE\n"
          "FIN 0 idle=1\n"
          "LF 0 LENIENT 1\n");
}

static void test_close_delimited(void **state)
{
    (void)state;
    CHECK(&RES,
          "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"
          "data: 1\n\ndata: 2\n\n",
          "RES 1.1 200 OK cl=-1 ch=0 gz=0 ka=0 nb=0\n"
          "  Content-Type: [text/event-stream]\n"
          "BODY data: 1\n\ndata: 2\n\n\n"
          "DONE\n"
          "FIN 0 idle=1\n"
          "LF 0\n");
    /* without http1_finish the message never completes */
    struct opts o = RES;
    o.no_finish = 1;
    CHECK(&o, "HTTP/1.0 200 OK\r\n\r\nabc",
          "RES 1.0 200 OK cl=-1 ch=0 gz=0 ka=0 nb=0\n"
          "BODY abc\n"
          "LF 0\n");
    /* a response whose transfer coding does not end in chunked is read until close */
    CHECK(&RES, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, foo\r\n\r\n0\r\n\r\n",
          "RES 1.1 200 OK cl=-1 ch=0 gz=0 ka=0 nb=0\n"
          "  Transfer-Encoding: [chunked, foo]\n"
          "BODY 0\r\n\r\n\n"
          "DONE\n"
          "FIN 0 idle=1\n"
          "LF 0\n");
}

static void test_upgrade(void **state)
{
    (void)state;
    CHECK(&RES,
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello",
          "RES 1.1 101 Switching Protocols cl=-1 ch=0 gz=0 ka=1 nb=1\n"
          "  Upgrade: [websocket]\n"
          "DONE\n"
          "FIN 0 idle=0\n"
          "LF 0\n");
    /* the bytes after 101 are consumed without callbacks and flagged */
    static const char in[] = "HTTP/1.1 101 Switching Protocols\r\n\r\nHTTP/1.1 200 OK\r\n\r\n";
    http1_init(&parser, HTTP1_RESPONSE, &rec_cb, &rec_cur, 0, 0);
    rec_cur.len = 0;
    rec_cur.log[0] = '\0';
    rec_cur.in_body = 0;
    assert_int_equal(http1_upgraded(&parser), 0);
    assert_int_equal(http1_feed(&parser, in, sizeof in - 1), (ssize_t)(sizeof in - 1));
    assert_int_equal(http1_upgraded(&parser), 1);
    assert_null(strstr(rec_cur.log, "200"));
    assert_int_equal(http1_finish(&parser), 0);
    http1_free(&parser);
}

static void test_head_queue(void **state)
{
    (void)state;
    /* 64 queued HEADs are honoured; a 65th is forgotten (documented), so its response is
     * read as a normal body */
    static char in[65 * 64];
    size_t n = 0;
    http1_init(&parser, HTTP1_RESPONSE, &rec_cb, &rec_cur, 0, 0);
    rec_cur.len = 0;
    rec_cur.log[0] = '\0';
    rec_cur.in_body = 0;
    for (int i = 0; i < 65; i++) {
        http1_expect_response_to(&parser, "HEAD", 4);
        n += (size_t)sprintf(in + n, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n");
    }
    in[n++] = 'Z';
    assert_int_equal(http1_feed(&parser, in, n), (ssize_t)n);
    assert_int_equal(http1_finish(&parser), 0);
    rec_end_body(&rec_cur);
    const char *first_body = strstr(rec_cur.log, "BODY");
    assert_non_null(first_body);
    assert_string_equal(first_body, "BODY Z\nDONE\n");
    size_t done = 0;
    for (const char *q = rec_cur.log; (q = strstr(q, "DONE")); q++)
        done++;
    assert_int_equal(done, 65);
    http1_free(&parser);
}

/* ---- truncation ------------------------------------------------------------------------- */

static void test_truncated(void **state)
{
    (void)state;
    CHECK(&REQ, "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n12345",
          "REQ POST / 1.1 cl=10 ch=0 gz=0 ka=1 nb=0\n"
          "  Content-Length: [10]\n"
          "BODY 12345\n"
          "FIN -10 @44\n"
          "LF 0\n");
    CHECK(&REQ, "GET / HTTP/1.1\r\nHost:", "FIN -10 @21\nLF 0\n");
    CHECK(&RES, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
          "RES 1.1 200 OK cl=-1 ch=1 gz=0 ka=1 nb=0\n"
          "  Transfer-Encoding: [chunked]\n"
          "BODY ab\n"
          "FIN -10 @52\n"
          "LF 0\n");
    /* trailer section not terminated */
    CHECK(&RES, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n",
          "RES 1.1 200 OK cl=-1 ch=1 gz=0 ka=1 nb=0\n"
          "  Transfer-Encoding: [chunked]\n"
          "FIN -10 @56\n"
          "LF 0\n");
    /* empty lines alone are not a message */
    CHECK(&REQ, "\r\n\r\n\n", "FIN 0 idle=1\nLF 1 LENIENT 4\n");

    /* every prefix of a pipelined stream: finish gives 0 exactly at message boundaries and
     * TRUNCATED at the end of input everywhere else */
    static const char in[] = "GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"
                             "PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n";
    const size_t ends[] = {0, 19, 60, 118};
    for (size_t n = 0; n < sizeof in; n++) {
        http1_init(&parser, HTTP1_REQUEST, &rec_cb, &rec_cur, 0, 0);
        rec_cur.len = 0;
        rec_cur.in_body = 0;
        assert_int_equal(http1_feed(&parser, guard_place(in, n), n), (ssize_t)n);
        int boundary = 0;
        for (size_t k = 0; k < sizeof ends / sizeof ends[0]; k++)
            boundary |= ends[k] == n;
        assert_int_equal(http1_idle(&parser), boundary);
        int rc = http1_finish(&parser);
        if (boundary) {
            assert_int_equal(rc, 0);
        } else {
            assert_int_equal(rc, HTTP1_E_TRUNCATED);
            assert_int_equal(http1_error_pos(&parser), n);
        }
        http1_free(&parser);
    }
}

/* ---- errors with exact positions -------------------------------------------------------- */

struct err_case {
    enum http1_kind kind;
    const char *in;
    int err;
    size_t pos;
    size_t len; /* 0: strlen(in) */
};

static void test_error_positions(void **state)
{
    (void)state;
    static const struct err_case cases[] = {
        /* start lines */
        {HTTP1_REQUEST, "GET  / HTTP/1.1\r\n\r\n", HTTP1_E_BAD_START_LINE, 4},
        {HTTP1_REQUEST, "G(T / HTTP/1.1\r\n\r\n", HTTP1_E_BAD_START_LINE, 1},
        {HTTP1_REQUEST, "GET /\x01 HTTP/1.1\r\n\r\n", HTTP1_E_BAD_START_LINE, 5},
        {HTTP1_RESPONSE, "HTTP/1.1 20 OK\r\n\r\n", HTTP1_E_BAD_START_LINE, 11},
        {HTTP1_RESPONSE, "HTTP/1.1 099 Odd\r\n\r\n", HTTP1_E_BAD_START_LINE, 9},
        {HTTP1_RESPONSE, "HTTP/1.1 2000 OK\r\n\r\n", HTTP1_E_BAD_START_LINE, 12},
        {HTTP1_RESPONSE, "HTTP/1.1\r\n\r\n", HTTP1_E_BAD_START_LINE, 8},
        {HTTP1_RESPONSE, "HTTP/1.1 200 O\rK\r\n\r\n", HTTP1_E_BAD_START_LINE, 14},
        /* versions */
        {HTTP1_REQUEST, "GET / HTTP/2.0\r\n\r\n", HTTP1_E_BAD_VERSION, 11},
        {HTTP1_REQUEST, "GET / HTTP/1.1x\r\n\r\n", HTTP1_E_BAD_VERSION, 14},
        {HTTP1_REQUEST, "GET / http/1.1\r\n\r\n", HTTP1_E_BAD_VERSION, 6},
        {HTTP1_REQUEST, "GET /\r\n\r\n", HTTP1_E_BAD_VERSION, 5},
        {HTTP1_REQUEST, "GET / HTTP/1.\r\n\r\n", HTTP1_E_BAD_VERSION, 13},
        {HTTP1_RESPONSE, "HTTX/1.1 200 OK\r\n\r\n", HTTP1_E_BAD_VERSION, 3},
        {HTTP1_RESPONSE, "HTTP/1.10 200 OK\r\n\r\n", HTTP1_E_BAD_VERSION, 8},
        /* header names and values */
        {HTTP1_REQUEST, "GET / HTTP/1.1\r\nHo st: x\r\n\r\n", HTTP1_E_BAD_HEADER, 18},
        {HTTP1_REQUEST, "GET / HTTP/1.1\r\nHost : x\r\n\r\n", HTTP1_E_BAD_HEADER, 20},
        {HTTP1_REQUEST, "GET / HTTP/1.1\r\n: x\r\n\r\n", HTTP1_E_BAD_HEADER, 16},
        {HTTP1_REQUEST, "GET / HTTP/1.1\r\nNoColon\r\n\r\n", HTTP1_E_BAD_HEADER, 23},
        {HTTP1_REQUEST, "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", HTTP1_E_BAD_HEADER, 20},
        {HTTP1_REQUEST, "GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n", HTTP1_E_BAD_HEADER, 20},
        /* long values and targets go through the 8-byte scan: the bad byte is still exact */
        {HTTP1_REQUEST, "GET / HTTP/1.1\r\nX-Long: 0123456789abcdef\x01xyz\r\n\r\n",
         HTTP1_E_BAD_HEADER, 40},
        {HTTP1_REQUEST, "GET / HTTP/1.1\r\nX-Long: 0123456789abcdef0123\x7f\r\n\r\n",
         HTTP1_E_BAD_HEADER, 44},
        {HTTP1_REQUEST, "GET / HTTP/1.1\r\nX-Long: 0123456789abcdef0123\0\r\n\r\n",
         HTTP1_E_BAD_HEADER, 44, 49},
        {HTTP1_REQUEST, "GET /0123456789abcdef\x7fz HTTP/1.1\r\n\r\n", HTTP1_E_BAD_START_LINE, 21},
        {HTTP1_REQUEST, "GET /0123456789abcdefghij\tk HTTP/1.1\r\n\r\n", HTTP1_E_BAD_START_LINE, 25},
        /* obs-fold */
        {HTTP1_REQUEST, "GET / HTTP/1.1\r\nA: b\r\n  c\r\n\r\n", HTTP1_E_BAD_HEADER, 22},
        {HTTP1_RESPONSE, "HTTP/1.1 200 OK\r\nA: b\r\n\tc\r\n\r\n", HTTP1_E_BAD_HEADER, 23},
        /* Content-Length */
        {HTTP1_REQUEST, "POST / HTTP/1.1\r\nContent-Length: 12a\r\n\r\n",
         HTTP1_E_BAD_CONTENT_LENGTH, 35},
        {HTTP1_REQUEST, "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
         HTTP1_E_BAD_CONTENT_LENGTH, 33},
        {HTTP1_REQUEST, "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n",
         HTTP1_E_BAD_CONTENT_LENGTH, 33},
        {HTTP1_REQUEST, "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n",
         HTTP1_E_BAD_CONTENT_LENGTH, 34},
        {HTTP1_REQUEST, "POST / HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n",
         HTTP1_E_BAD_CONTENT_LENGTH, 51},
        {HTTP1_REQUEST, "POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n",
         HTTP1_E_BAD_CONTENT_LENGTH, 52},
        /* Transfer-Encoding */
        {HTTP1_REQUEST, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
         HTTP1_E_BAD_HEADER, 45},
        {HTTP1_REQUEST, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n", HTTP1_E_BAD_HEADER, 64},
        /* chunks */
        {HTTP1_REQUEST, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
         HTTP1_E_BAD_CHUNK, 47},
        {HTTP1_REQUEST, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
         HTTP1_E_BAD_CHUNK, 47},
        {HTTP1_REQUEST, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n 1\r\n",
         HTTP1_E_BAD_CHUNK, 47},
        {HTTP1_REQUEST, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1x\r\n",
         HTTP1_E_BAD_CHUNK, 48},
        {HTTP1_REQUEST, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;a\rb\r\n",
         HTTP1_E_BAD_CHUNK, 50},
        {HTTP1_REQUEST, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "10000000000000000\r\n", HTTP1_E_BAD_CHUNK, 63},
        {HTTP1_REQUEST, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "8000000000000000\r\n", HTTP1_E_BAD_CHUNK, 62},
        {HTTP1_REQUEST, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY",
         HTTP1_E_BAD_CHUNK, 52},
        {HTTP1_REQUEST, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\r",
         HTTP1_E_BAD_CHUNK, 53},
        /* trailers use the field syntax */
        {HTTP1_REQUEST, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA:b\r\n c\r\n\r\n",
         HTTP1_E_BAD_HEADER, 55},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct err_case *c = &cases[i];
        struct opts o = c->kind == HTTP1_REQUEST ? REQ : RES;
        size_t n = c->len ? c->len : strlen(c->in);
        /* the expected log tail: no DONE, the error and its position */
        drive(&o, c->in, n, n, 0, &rec_ref);
        char want[64];
        snprintf(want, sizeof want, "ERR %d @%zu\n", c->err, c->pos);
        const char *tail = NULL;
        for (const char *s = rec_ref.log; s < rec_ref.log + rec_ref.len; s++)
            if (!tail && (size_t)(rec_ref.log + rec_ref.len - s) >= 4 && memcmp(s, "ERR ", 4) == 0)
                tail = s;
        if (!tail || strncmp(tail, want, strlen(want)) != 0) {
            print_error("case %zu %s: want %s got:\n%.*s\n", i, c->in, want, (int)rec_ref.len,
                        rec_ref.log);
            fail();
        }
        if (strstr(rec_ref.log, "DONE")) {
            print_error("case %zu completed a message:\n%.*s\n", i, (int)rec_ref.len, rec_ref.log);
            fail();
        }
        /* same result however it is split */
        for (size_t cut = 0; cut <= n; cut++) {
            drive(&o, c->in, n, cut, 0, &rec_cur);
            assert_int_equal(rec_cur.len, rec_ref.len);
            assert_memory_equal(rec_cur.log, rec_ref.log, rec_ref.len);
        }
        drive(&o, c->in, n, 0, 1, &rec_cur);
        assert_int_equal(rec_cur.len, rec_ref.len);
        assert_memory_equal(rec_cur.log, rec_ref.log, rec_ref.len);
    }
}

/* Builds "GET / HTTP/1.1\r\n" + fields into buf; returns its length. */
static size_t build_head(char *buf, size_t cap, size_t n_fields, size_t value_len, int end)
{
    size_t n = 0;
    memcpy(buf, "GET / HTTP/1.1\r\n", 16);
    n = 16;
    for (size_t i = 0; i < n_fields; i++) {
        assert_true(n + value_len + 16 < cap);
        n += (size_t)sprintf(buf + n, "F%03zu: ", i);
        memset(buf + n, 'v', value_len);
        n += value_len;
        memcpy(buf + n, "\r\n", 2);
        n += 2;
    }
    if (end) {
        memcpy(buf + n, "\r\n", 2);
        n += 2;
    }
    return n;
}

static void expect_error(const char *in, size_t n, int err, size_t pos)
{
    /* whole, and in two random-ish cuts: these inputs are too big for every split */
    size_t cuts[] = {n, 1, n / 3, n - 1};
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
        drive(&REQ, in, n, cuts[k], 0, &rec_cur);
        char want[64];
        int wl = snprintf(want, sizeof want, "ERR %d @%zu\nLF 0\n", err, pos);
        /* the log ends with the error (a head may come before it) */
        if (rec_cur.len < (size_t)wl ||
            memcmp(rec_cur.log + rec_cur.len - (size_t)wl, want, (size_t)wl) != 0) {
            print_error("cut %zu: want %s got %.*s\n", cuts[k], want,
                        (int)(rec_cur.len < 300 ? rec_cur.len : 300), rec_cur.log);
            fail();
        }
    }
}

static void test_limits(void **state)
{
    (void)state;
    static char buf[HTTP1_MAX_HEAD * 2];
    /* 100 fields parse; the 101st line is refused at its first byte */
    size_t n = build_head(buf, sizeof buf, 100, 1, 1);
    drive(&REQ, buf, n, n, 0, &rec_cur);
    assert_non_null(strstr(rec_cur.log, "  F099: [v]\nDONE\nFIN 0 idle=1\n"));
    n = build_head(buf, sizeof buf, 101, 1, 1);
    expect_error(buf, n, HTTP1_E_TOO_MANY_HEADERS, 16 + 100 * 9);

    /* a line of exactly HTTP1_MAX_LINE bytes (with CRLF) is fine; one more byte is not */
    n = build_head(buf, sizeof buf, 1, HTTP1_MAX_LINE - 8, 1);
    drive(&REQ, buf, n, n, 0, &rec_cur);
    assert_non_null(strstr(rec_cur.log, "DONE\nFIN 0"));
    n = build_head(buf, sizeof buf, 1, HTTP1_MAX_LINE - 7, 1);
    expect_error(buf, n, HTTP1_E_LINE_TOO_LONG, 16 + HTTP1_MAX_LINE);
    /* an overlong request line is caught before its end arrives */
    memset(buf, 'a', HTTP1_MAX_LINE + 10);
    expect_error(buf, HTTP1_MAX_LINE + 10, HTTP1_E_LINE_TOO_LONG, HTTP1_MAX_LINE);

    /* the whole head is capped: 5 lines of 16000 bytes cross 65536 inside the 5th */
    n = build_head(buf, sizeof buf, 5, 16000 - 8, 1);
    expect_error(buf, n, HTTP1_E_HEAD_TOO_LARGE, HTTP1_MAX_HEAD);

    /* an overlong chunk-size line (extensions) */
    static const char pre[] = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;";
    memcpy(buf, pre, sizeof pre - 1);
    memset(buf + sizeof pre - 1, 'e', HTTP1_MAX_LINE);
    expect_error(buf, sizeof pre - 1 + HTTP1_MAX_LINE, HTTP1_E_LINE_TOO_LONG,
                 47 + HTTP1_MAX_LINE);
}

static void test_max_body(void **state)
{
    (void)state;
    struct opts o = REQ;
    o.max_body = 4;
    CHECK(&o, "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabcdefghij",
          "REQ POST / 1.1 cl=10 ch=0 gz=0 ka=1 nb=0\n"
          "  Content-Length: [10]\n"
          "BODY abcd\n"
          "ERR -12 @43\n"
          "LF 0\n");
    CHECK(&o, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n3\r\ncde\r\n",
          "REQ POST / 1.1 cl=-1 ch=1 gz=0 ka=1 nb=0\n"
          "  Transfer-Encoding: [chunked]\n"
          "BODY abcd\n"
          "ERR -12 @59\n"
          "LF 0\n");
    /* exactly at the cap is fine, and the count restarts per message */
    CHECK(&o, "POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd"
              "POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nefgh",
          "REQ POST / 1.1 cl=4 ch=0 gz=0 ka=1 nb=0\n"
          "  Content-Length: [4]\n"
          "BODY abcd\n"
          "DONE\n"
          "REQ POST / 1.1 cl=4 ch=0 gz=0 ka=1 nb=0\n"
          "  Content-Length: [4]\n"
          "BODY efgh\n"
          "DONE\n"
          "FIN 0 idle=1\n"
          "LF 0\n");
}

/* ---- gzip ------------------------------------------------------------------------------- */

/* Compresses src as one gzip member (RFC 1952) into dst; returns its length. */
static size_t gzip_member(const char *src, size_t n, unsigned char *dst, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (unsigned char *)(uintptr_t)src;
    z.avail_in = (uInt)n;
    z.next_out = dst;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t out = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

static char gz_text[40000];
static unsigned char gz_body[50000];
static char gz_msg[60000];
static char gz_expect[120000];

/* Pseudo-random but compressible text, so output spans several 16 KiB inflate buffers. */
static size_t gz_make_text(void)
{
    uint32_t x = 12345;
    size_t n = 0;
    while (n < sizeof gz_text - 16) {
        x = x * 1103515245u + 12345u;
        n += (size_t)sprintf(gz_text + n, "tok%u ", (x >> 16) % 97);
    }
    return n;
}

static void test_gzip_bodies(void **state)
{
    (void)state;
    size_t tn = gz_make_text();
    /* two members: the text split in two (multi-member gzip is one stream, RFC 1952 2.2) */
    size_t b1 = gzip_member(gz_text, 1000, gz_body, sizeof gz_body);
    size_t bn = b1 + gzip_member(gz_text + 1000, tn - 1000, gz_body + b1, sizeof gz_body - b1);

    struct opts o = RES;
    o.gzip = 1;
    int hl = snprintf(gz_msg, sizeof gz_msg,
                      "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n",
                      bn);
    memcpy(gz_msg + hl, gz_body, bn);
    size_t mn = (size_t)hl + bn;
    int el = snprintf(gz_expect, sizeof gz_expect,
                      "RES 1.1 200 OK cl=%zu ch=0 gz=1 ka=1 nb=0\n"
                      "  Content-Encoding: [gzip]\n"
                      "  Content-Length: [%zu]\n"
                      "BODY ", bn, bn);
    memcpy(gz_expect + el, gz_text, tn);
    strcpy(gz_expect + el + tn, "\nDONE\nFIN 0 idle=1\nLF 0\n");
    check_fixture(&o, gz_msg, mn, gz_expect);

    /* chunked + x-gzip, chunk boundaries in the middle of the compressed data */
    hl = snprintf(gz_msg, sizeof gz_msg,
                  "HTTP/1.1 200 OK\r\nContent-Encoding: x-gzip\r\nTransfer-Encoding: chunked\r\n\r\n");
    size_t mlen = (size_t)hl;
    for (size_t off = 0; off < bn;) {
        size_t c = bn - off < 777 ? bn - off : 777;
        mlen += (size_t)sprintf(gz_msg + mlen, "%zx\r\n", c);
        memcpy(gz_msg + mlen, gz_body + off, c);
        mlen += c;
        memcpy(gz_msg + mlen, "\r\n", 2);
        mlen += 2;
        off += c;
    }
    memcpy(gz_msg + mlen, "0\r\n\r\n", 5);
    mlen += 5;
    el = snprintf(gz_expect, sizeof gz_expect,
                  "RES 1.1 200 OK cl=-1 ch=1 gz=1 ka=1 nb=0\n"
                  "  Content-Encoding: [x-gzip]\n"
                  "  Transfer-Encoding: [chunked]\n"
                  "BODY ");
    memcpy(gz_expect + el, gz_text, tn);
    strcpy(gz_expect + el + tn, "\nDONE\nFIN 0 idle=1\nLF 0\n");
    /* byte-by-byte and a sample of splits (every split of 30 KB would be slow) */
    drive(&o, gz_msg, mlen, mlen, 0, &rec_ref);
    assert_int_equal(rec_ref.len, strlen(gz_expect));
    assert_memory_equal(rec_ref.log, gz_expect, rec_ref.len);
    for (size_t cut = 0; cut <= mlen; cut += 97) {
        drive(&o, gz_msg, mlen, cut, 0, &rec_cur);
        assert_int_equal(rec_cur.len, rec_ref.len);
        assert_memory_equal(rec_cur.log, rec_ref.log, rec_ref.len);
    }
    drive(&o, gz_msg, mlen, 0, 1, &rec_cur);
    assert_int_equal(rec_cur.len, rec_ref.len);
    assert_memory_equal(rec_cur.log, rec_ref.log, rec_ref.len);
}

static void test_gzip_pending_output(void **state)
{
    (void)state;
    /* 100 kB of 'a' deflates to ~100 bytes: one small chunk leaves zlib holding output after
     * its input is used up. Paused runs must still deliver it all before the trailers. */
    static char plain[100000];
    memset(plain, 'a', sizeof plain);
    unsigned char z[1024];
    size_t zn = gzip_member(plain, sizeof plain, z, sizeof z);
    int hl = snprintf(gz_msg, sizeof gz_msg,
                      "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"
                      "\r\n%zx\r\n", zn);
    memcpy(gz_msg + hl, z, zn);
    size_t mn = (size_t)hl + zn;
    mn += (size_t)sprintf(gz_msg + mn, "\r\n0\r\nX-T: 1\r\n\r\n");
    int el = snprintf(gz_expect, sizeof gz_expect,
                      "RES 1.1 200 OK cl=-1 ch=1 gz=1 ka=1 nb=0\n"
                      "  Content-Encoding: [gzip]\n"
                      "  Transfer-Encoding: [chunked]\n"
                      "BODY ");
    memcpy(gz_expect + el, plain, sizeof plain);
    strcpy(gz_expect + el + sizeof plain, "\nTRAILERS\n  X-T: [1]\nDONE\nFIN 0 idle=1\nLF 0\n");
    struct opts o = RES;
    o.gzip = 1;
    check_fixture(&o, gz_msg, mn, gz_expect);
}

static void test_gzip_small_and_errors(void **state)
{
    (void)state;
    unsigned char z[256];
    size_t zn = gzip_member("hi there", 8, z, sizeof z);
    char msg[512];
    int hl = snprintf(msg, sizeof msg,
                      "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n",
                      zn);
    memcpy(msg + hl, z, zn);
    size_t mn = (size_t)hl + zn;
    struct opts o = RES;
    o.gzip = 1;
    char want[512];
    snprintf(want, sizeof want,
             "RES 1.1 200 OK cl=%zu ch=0 gz=1 ka=1 nb=0\n"
             "  Content-Encoding: [gzip]\n"
             "  Content-Length: [%zu]\n"
             "BODY hi there\n"
             "DONE\n"
             "FIN 0 idle=1\n"
             "LF 0\n", zn, zn);
    check_fixture(&o, msg, mn, want);

    /* decode_gzip off: the compressed bytes pass through untouched */
    o.gzip = 0;
    drive(&o, msg, mn, mn, 0, &rec_cur);
    assert_non_null(memmem(rec_cur.log, rec_cur.len, z, zn));

    /* a truncated member (body complete per Content-Length, gzip not) is HTTP1_E_GZIP at the
     * end of the body */
    o.gzip = 1;
    hl = snprintf(msg, sizeof msg,
                  "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n",
                  zn - 4);
    memcpy(msg + hl, z, zn - 4);
    mn = (size_t)hl + zn - 4;
    drive(&o, msg, mn, mn, 0, &rec_ref);
    snprintf(want, sizeof want, "ERR %d @%zu\n", HTTP1_E_GZIP, mn);
    assert_non_null(strstr(rec_ref.log, want));
    for (size_t cut = 0; cut <= mn; cut++) {
        drive(&o, msg, mn, cut, 0, &rec_cur);
        assert_non_null(strstr(rec_cur.log, want));
    }

    /* corrupt deflate data: the code is HTTP1_E_GZIP, the position inside the body */
    hl = snprintf(msg, sizeof msg,
                  "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n", zn);
    memcpy(msg + hl, z, zn);
    msg[hl + 10] = (char)0xff; /* first byte of the deflate stream: reserved block type */
    mn = (size_t)hl + zn;
    for (size_t cut = 0; cut <= mn; cut++) {
        drive(&o, msg, mn, cut, 0, &rec_cur);
        assert_null(strstr(rec_cur.log, "DONE"));
        assert_int_equal(http1_error(&parser), HTTP1_E_GZIP);
        assert_true(http1_error_pos(&parser) >= (size_t)hl && http1_error_pos(&parser) <= mn);
    }
    /* garbage after a complete member is not silently dropped */
    hl = snprintf(msg, sizeof msg,
                  "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n",
                  zn + 3);
    memcpy(msg + hl, z, zn);
    memcpy(msg + hl + zn, "abc", 3);
    drive(&o, msg, (size_t)hl + zn + 3, (size_t)hl + zn + 3, 0, &rec_cur);
    assert_non_null(strstr(rec_cur.log, "BODY hi there\nERR -9 @"));

    /* gzip + no body (HEAD) and empty body need no zlib data */
    o.methods = "HEAD";
    CHECK(&o,
          "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 20\r\n\r\n"
          "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 0\r\n\r\n",
          "RES 1.1 200 OK cl=20 ch=0 gz=1 ka=1 nb=1\n"
          "  Content-Encoding: [gzip]\n"
          "  Content-Length: [20]\n"
          "DONE\n"
          "RES 1.1 200 OK cl=0 ch=0 gz=1 ka=1 nb=0\n"
          "  Content-Encoding: [gzip]\n"
          "  Content-Length: [0]\n"
          "DONE\n"
          "FIN 0 idle=1\n"
          "LF 0\n");
}

/* ---- callbacks: stop and pause ---------------------------------------------------------- */

static void test_callback_stop_and_pause(void **state)
{
    (void)state;
    static const char in[] = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
    struct rec *r = &rec_cur;
    memset(r, 0, sizeof *r);
    r->stop_on_head = 1;
    http1_init(&parser, HTTP1_REQUEST, &rec_cb, r, 0, 0);
    assert_int_equal(http1_feed(&parser, in, sizeof in - 1), HTTP1_E_CALLBACK);
    assert_int_equal(http1_error(&parser), HTTP1_E_CALLBACK);
    assert_int_equal(http1_finish(&parser), HTTP1_E_CALLBACK);
    http1_free(&parser);

    /* a pause returns early with the head consumed; feeding the rest resumes */
    memset(r, 0, sizeof *r);
    r->pause_on_head = 1;
    http1_init(&parser, HTTP1_REQUEST, &rec_cb, r, 0, 0);
    assert_int_equal(http1_feed(&parser, in, sizeof in - 1), 19);
    assert_int_equal(http1_feed(&parser, in + 19, sizeof in - 1 - 19), 19);
    assert_int_equal(http1_feed(&parser, in + 38, 0), 0);
    assert_int_equal(http1_finish(&parser), 0);
    static const char want[] = "REQ GET /a 1.1 cl=-1 ch=0 gz=0 ka=1 nb=0\nDONE\n"
                               "REQ GET /b 1.1 cl=-1 ch=0 gz=0 ka=1 nb=0\nDONE\n";
    assert_int_equal(r->len, sizeof want - 1);
    assert_memory_equal(r->log, want, sizeof want - 1);
    http1_free(&parser);

    memset(r, 0, sizeof *r);

    /* no callbacks at all is allowed */
    http1_init(&parser, HTTP1_REQUEST, NULL, NULL, 0, 0);
    assert_int_equal(http1_feed(&parser, in, sizeof in - 1), (ssize_t)(sizeof in - 1));
    assert_int_equal(http1_finish(&parser), 0);
    http1_free(&parser);
}

/* ---- golden files: tests/fixtures/http1/NAME.http + NAME.expected (see make.py there) ---- */

static size_t read_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        print_error("cannot open %s\n", path);
    assert_non_null(f);
    size_t n = fread(buf, 1, cap, f);
    assert_true(n < cap);
    fclose(f);
    return n;
}

static void test_fixture_files(void **state)
{
    (void)state;
    static const char *names[] = {"req_openai_chat", "res_vllm_sse", "res_ollama_ndjson",
                                  "res_close_json"};
    static char in[1 << 16], expect[1 << 16];
    const char *dir = getenv("FIXTURE_DIR") ? getenv("FIXTURE_DIR") : FIXTURE_DIR;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/http1/%s.http", dir, names[i]);
        size_t n = read_file(path, in, sizeof in);
        snprintf(path, sizeof path, "%s/http1/%s.expected", dir, names[i]);
        size_t en = read_file(path, expect, sizeof expect - 1);
        expect[en] = '\0';
        check_fixture(names[i][2] == 'q' ? &REQ : &RES, in, n, expect);
    }
}

static void test_find_header_and_strerror(void **state)
{
    (void)state;
    struct http1_head h;
    memset(&h, 0, sizeof h);
    h.headers[0] = (struct http1_header){"Content-Type", 12, "a", 1};
    h.headers[1] = (struct http1_header){"X-Id", 4, "b", 1};
    h.n_headers = 2;
    assert_ptr_equal(http1_find_header(&h, "content-type"), &h.headers[0]);
    assert_ptr_equal(http1_find_header(&h, "X-ID"), &h.headers[1]);
    assert_null(http1_find_header(&h, "X-I"));
    for (int e = 0; e >= HTTP1_E_PAUSED; e--)
        assert_string_not_equal(http1_strerror(e), "unknown error");
    assert_string_equal(http1_strerror(7), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_get),
        cmocka_unit_test(test_post_content_length),
        cmocka_unit_test(test_chunked_extensions_trailers),
        cmocka_unit_test(test_te_overrides_content_length),
        cmocka_unit_test(test_pipelined_requests),
        cmocka_unit_test(test_bare_lf),
        cmocka_unit_test(test_keepalive_responses),
        cmocka_unit_test(test_no_body_responses),
        cmocka_unit_test(test_close_delimited),
        cmocka_unit_test(test_upgrade),
        cmocka_unit_test(test_head_queue),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_error_positions),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_max_body),
        cmocka_unit_test(test_gzip_bodies),
        cmocka_unit_test(test_gzip_pending_output),
        cmocka_unit_test(test_gzip_small_and_errors),
        cmocka_unit_test(test_callback_stop_and_pause),
        cmocka_unit_test(test_fixture_files),
        cmocka_unit_test(test_find_header_and_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
