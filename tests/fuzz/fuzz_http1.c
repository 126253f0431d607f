/* fuzz_http1.c — libFuzzer harness for the HTTP/1.1 parser (formats/wire/http1.h).
 *
 * The first input byte picks the mode: bit 0 request/response, bit 1 gzip decoding, bit 2 a
 * small max_body, bit 3 a HEAD request queued first; the whole byte seeds the random split
 * points. Each input is parsed whole and split at random, and both runs must report the same
 * callbacks (body bytes hashed as one stream), the same error and the same error position; a
 * third run also pauses in random callbacks and resumes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

struct fz_state {
    uint64_t h;          /* FNV-1a over events and body bytes */
    uint64_t n_complete;
    uint32_t pause;      /* non-zero: callbacks pause now and then (a PRNG state) */
};

/* In pausing runs, about one callback in three asks the parser to pause. */
static int fz_ret(struct fz_state *s)
{
    if (!s->pause)
        return 0;
    s->pause = s->pause * 1103515245u + 12345u;
    return (s->pause >> 16) % 3 == 0 ? HTTP1_E_PAUSED : 0;
}

static void fz_mix(struct fz_state *s, const void *d, size_t n)
{
    const unsigned char *p = d;
    for (size_t i = 0; i < n; i++)
        s->h = (s->h ^ p[i]) * 1099511628211ull;
}

static void fz_fields(struct fz_state *s, const struct http1_header *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fz_mix(s, f[i].name, f[i].name_len);
        fz_mix(s, ":", 1);
        fz_mix(s, f[i].value, f[i].value_len);
        fz_mix(s, "\n", 1);
    }
}

static int fz_on_head(void *u, const struct http1_head *h)
{
    struct fz_state *s = u;
    int v[7] = {h->version_minor, h->status, h->chunked, h->gzip, h->keep_alive, h->no_body,
                (int)h->n_headers};
    fz_mix(s, "H", 1);
    if (h->method)
        fz_mix(s, h->method, h->method_len);
    if (h->target)
        fz_mix(s, h->target, h->target_len);
    if (h->reason)
        fz_mix(s, h->reason, h->reason_len);
    fz_mix(s, v, sizeof v);
    fz_mix(s, &h->content_length, sizeof h->content_length);
    fz_fields(s, h->headers, h->n_headers);
    if (h->n_headers > HTTP1_MAX_HEADERS)
        abort();
    return fz_ret(s);
}

static int fz_on_body(void *u, const char *d, size_t n)
{
    if (n == 0)
        abort(); /* empty on_body calls are never made */
    fz_mix(u, d, n);
    return fz_ret(u);
}

static int fz_on_trailers(void *u, const struct http1_header *h, size_t n)
{
    fz_mix(u, "T", 1);
    fz_fields(u, h, n);
    return fz_ret(u);
}

static int fz_on_complete(void *u)
{
    struct fz_state *s = u;
    fz_mix(s, "C", 1);
    s->n_complete++;
    return fz_ret(s);
}

static const struct http1_callbacks fz_cb = {fz_on_head, fz_on_body, fz_on_trailers,
                                             fz_on_complete};

static struct http1_parser fz_parser;

/* Parses data in pieces (split_seed 0 = whole); returns the final code, sets *pos. */
static int fz_run(uint8_t mode, const uint8_t *data, size_t size, uint32_t split_seed,
                  struct fz_state *s, size_t *pos)
{
    struct http1_parser *p = &fz_parser;
    http1_init(p, (mode & 1) ? HTTP1_RESPONSE : HTTP1_REQUEST, &fz_cb, s, (mode >> 1) & 1,
               (mode & 4) ? 300 : 0);
    if (mode & 8)
        http1_expect_response_to(p, "HEAD", 4);
    http1_expect_response_to(p, "GET", 3);
    int rc = 0;
    size_t off = 0, rounds = 0;
    uint32_t x = split_seed;
    while (off < size) {
        size_t n = size - off;
        if (++rounds > 4 * size + 100000)
            abort(); /* a pause that makes no progress */
        if (split_seed) {
            x = x * 1664525u + 1013904223u;
            size_t pick = (x >> 24) % 64 + 1;
            if (pick < n)
                n = pick;
        }
        ssize_t got = http1_feed(p, (const char *)data + off, n);
        if (got < 0) {
            rc = (int)got;
            break;
        }
        if ((size_t)got != n && !s->pause)
            abort();
        off += (size_t)got; /* after a pause the rest is fed again */
    }
    if (rc == 0)
        rc = http1_finish(p);
    *pos = rc < 0 ? http1_error_pos(p) : 0;
    if (rc < 0 && (http1_error(p) != rc || *pos > size))
        abort();
    http1_free(p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    struct fz_state a = {1469598103934665603ull, 0, 0}, b = a, c = a;
    size_t pa, pb, pc;
    c.pause = 0x85ebca6bu ^ mode;
    int ra = fz_run(mode, data + 1, size - 1, 0, &a, &pa);
    int rb = fz_run(mode, data + 1, size - 1, 0x9e3779b9u ^ mode, &b, &pb);
    int rc = fz_run(mode, data + 1, size - 1, 0x7f4a7c15u ^ mode, &c, &pc);
    if (ra != rb || ra != rc)
        abort();
    /* zlib may read ahead a few bytes and emit a little more or less before it notices bad
     * data, so after a gzip failure only the code is compared */
    if (ra == HTTP1_E_GZIP)
        return 0;
    if (ra == HTTP1_E_BODY_TOO_LARGE && (mode & 2))
        return 0;
    if (a.h != b.h || a.n_complete != b.n_complete || pa != pb)
        abort();
    if (a.h != c.h || a.n_complete != c.n_complete || pa != pc)
        abort();
    return 0;
}
