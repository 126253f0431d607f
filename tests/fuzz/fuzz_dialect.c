/* fuzz_dialect.c — libFuzzer harness for the dialect event decoder, the error-body reader and
 * llmstream (formats/dialect/dialect.h, llmstream.h). Byte 0 picks the dialect, byte 1 the framing,
 * status and split seed; the rest is the event / body. llmstream fed whole and in random
 * pieces must record the same events, text, usage and error. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dialect.h"
#include "llmstream.h"

static uint32_t next_rand(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static void summarize(const struct tlog_exchange *x, struct buf *o)
{
    for (size_t i = 0; i < x->resp.n_events; i++)
        buf_printf(o, "%d/%d ", (int)x->resp.events[i].tokens, x->resp.events[i].is_content);
    buf_printf(o, "|%zu|", x->resp.text_len);
    if (x->resp.text_len)
        buf_append(o, x->resp.text, x->resp.text_len);
    buf_printf(o, "|%s|%d %lld %lld %lld|%lld %lld %d|%d|%s", x->resp.finish_reason ? x->resp.finish_reason : "-",
               x->usage.present, (long long)x->usage.prompt_tokens,
               (long long)x->usage.completion_tokens, (long long)x->usage.cached_tokens,
               (long long)x->tokens_in, (long long)x->tokens_out, (int)x->tokens_source,
               (int)x->error_kind, x->error_message ? x->error_message : "-");
}

static void run_stream(enum dialect_id d, int status, const char *ct, const char *p, size_t n,
                       uint32_t seed, struct buf *out)
{
    struct tlog_exchange x;
    struct llm_stream s;
    tlog_exchange_init(&x);
    llm_stream_init(&s, &x, d, status, ct, 1);
    size_t at = 0;
    int64_t t = 0;
    while (at < n) {
        size_t step = seed ? 1 + next_rand(&seed) % 13 : n - at;
        if (step > n - at)
            step = n - at;
        llm_stream_feed(&s, p + at, step, t++);
        at += step;
    }
    llm_stream_finish(&s, t);
    for (size_t i = 0; i < x.resp.n_events; i++)
        if (x.resp.events[i].offset_us > t)
            abort();
    summarize(&x, out);
    llm_stream_free(&s);
    tlog_exchange_free(&x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const types[] = { NULL, "message", "error", "message_start",
                                         "content_block_delta", "message_stop",
                                         "response.output_text.delta", "response.completed" };
    static const char *const cts[] = { NULL, "text/event-stream", "application/x-ndjson",
                                       "application/json" };
    if (size < 2)
        return 0;
    enum dialect_id d = (enum dialect_id)(data[0] % DIALECT_COUNT);
    unsigned mode = data[1];
    const char *p = (const char *)data + 2;
    size_t n = size - 2;

    /* the event decoder, under each SSE event name */
    struct buf scratch;
    buf_init(&scratch, 1 << 20);
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        struct dialect_event ev;
        const char *why = NULL;
        const char *t = types[i];
        int rc = dialect_decode_event(d, t, t ? strlen(t) : 0, p, n, &ev, &scratch, &why);
        if ((rc == DIALECT_ERR_MALFORMED || rc == DIALECT_ERR_UNSUPPORTED) && !why)
            abort();
        if (rc == DIALECT_ERR_UNSUPPORTED && d != DIALECT_UNKNOWN)
            abort(); /* only an unknown API can be unsupported */
        if (rc == 0) {
            if ((ev.text_len > 0) != (ev.is_content != 0) || (ev.text_len && !ev.text))
                abort();
            /* touch every byte handed out so ASan sees a bad slice */
            volatile unsigned sum = 0;
            for (size_t k = 0; k < ev.text_len; k++)
                sum += (unsigned char)ev.text[k];
            for (size_t k = 0; k < ev.finish_reason_len; k++)
                sum += (unsigned char)ev.finish_reason[k];
            for (size_t k = 0; k < ev.error_message_len; k++)
                sum += (unsigned char)ev.error_message[k];
            (void)sum;
        }
    }
    buf_free(&scratch);

    char msg[64];
    dialect_error_message(p, n, msg, sizeof msg);
    if (strlen(msg) >= sizeof msg)
        abort();

    /* llmstream: whole vs random pieces */
    int status = (mode & 0x80) ? 500 : 200;
    const char *ct = cts[mode & 3];
    uint32_t seed = 0x2545f491u ^ mode;
    struct buf a, b;
    buf_init(&a, 1 << 22);
    buf_init(&b, 1 << 22);
    buf_append(&a, "", 0);
    buf_append(&b, "", 0);
    run_stream(d, status, ct, p, n, 0, &a);
    run_stream(d, status, ct, p, n, seed, &b);
    if (a.len != b.len || memcmp(a.p, b.p, a.len) != 0)
        abort();
    buf_free(&a);
    buf_free(&b);
    return 0;
}
