/* fuzz_sse.c — libFuzzer harness for the SSE and NDJSON decoders (formats/wire/sse.h, ndjson.h).
 * The first input byte seeds the split points; the rest is fed whole and in random pieces,
 * and both runs must dispatch exactly the same events, errors and pending state. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ndjson.h"
#include "sse.h"

static int sse_rec(void *user, const struct sse_event *ev)
{
    struct buf *o = user;
    if (ev->data[ev->data_len] != '\0')
        abort();
    buf_append(o, ev->type, ev->type_len);
    buf_append_char(o, 0x1e);
    buf_append(o, ev->id, ev->id_len);
    buf_printf(o, "\x1e%lld\x1e", (long long)ev->retry_ms);
    buf_append(o, ev->data, ev->data_len);
    buf_append_char(o, 0x1f);
    return 0;
}

static int nd_rec(void *user, const char *line, size_t len)
{
    struct buf *o = user;
    buf_append(o, line, len);
    buf_append_char(o, 0x1f);
    return 0;
}

/* xorshift: split points reproducible from the seed byte */
static uint32_t next_rand(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static void run_sse(const char *p, size_t n, uint32_t seed, struct buf *out, int *rc, int *pend)
{
    struct sse_decoder d;
    sse_init(&d, 64);
    size_t at = 0;
    *rc = 0;
    while (at < n && *rc == 0) {
        size_t step = seed ? 1 + next_rand(&seed) % 9 : n - at;
        if (step > n - at)
            step = n - at;
        *rc = sse_feed(&d, p + at, step, sse_rec, out);
        at += step;
    }
    *pend = sse_finish(&d);
    sse_free(&d);
}

static void run_nd(const char *p, size_t n, uint32_t seed, struct buf *out, int *rc)
{
    struct ndjson_decoder d;
    ndjson_init(&d, 64);
    size_t at = 0;
    *rc = 0;
    while (at < n && *rc == 0) {
        size_t step = seed ? 1 + next_rand(&seed) % 9 : n - at;
        if (step > n - at)
            step = n - at;
        *rc = ndjson_feed(&d, p + at, step, nd_rec, out);
        at += step;
    }
    if (*rc == 0)
        *rc = ndjson_finish(&d, nd_rec, out);
    ndjson_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint32_t seed = 0x9e3779b9u ^ data[0];
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    struct buf a, b;
    int rca, rcb, pa, pb;
    buf_init(&a, 1 << 20);
    buf_init(&b, 1 << 20);
    buf_append(&a, "", 0);
    buf_append(&b, "", 0);
    run_sse(p, n, 0, &a, &rca, &pa);
    run_sse(p, n, seed, &b, &rcb, &pb);
    if (rca != rcb || pa != pb || a.len != b.len || memcmp(a.p, b.p, a.len) != 0)
        abort();
    buf_reset(&a);
    buf_reset(&b);
    run_nd(p, n, 0, &a, &rca);
    run_nd(p, n, seed, &b, &rcb);
    if (rca != rcb || a.len != b.len || memcmp(a.p, b.p, a.len) != 0)
        abort();
    buf_free(&a);
    buf_free(&b);
    return 0;
}
