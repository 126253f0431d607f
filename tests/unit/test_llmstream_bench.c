/* test_llmstream_bench.c — events/s of llm_stream_feed on a realistic OpenAI chat SSE stream
 * (vLLM-shaped chunks, one event per feed as libcurl hands over single-token writes, and 16 KiB
 * bursts), against the same SSE decoding with a cJSON_Parse tree per event. The project's targets put a
 * full cJSON parse of a chunk at ~1.3 us; the point of jscan is to stay well under it.
 *
 * usage: bench_llmstream [events]   (default 2,000,000; the ctest smoke run uses 5,000 and
 * only checks that both paths record the same events and text) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "llmstream.h"

#define TOKENS_PER_EXCHANGE 1000

/* Thread CPU time: the machine is shared, and CPU seconds are what "events/s on one core"
 * means; wall time would charge us for other processes' slices. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One exchange's body: role chunk, TOKENS_PER_EXCHANGE content chunks, finish chunk, usage
 * chunk, [DONE]. ev_off[i] is where event i starts. */
static struct buf body;
static size_t ev_off[TOKENS_PER_EXCHANGE + 8];
static size_t n_ev;

static void build_body(void)
{
    static const char *const words[] = { " the", " model", " answers", ",", " and", " then",
                                         " \\\"quotes\\\"", " caf\\u00e9", "\\n", " tokens" };
    static const char pre[] =
        "data: {\"id\":\"chatcmpl-0d8f3c2b9a5e4d7f8a1b2c3d4e5f6a7b\",\"object\":\"chat.completion.chunk\","
        "\"created\":1732612345,\"model\":\"meta-llama/Llama-3.1-8B-Instruct\",\"choices\":[{\"index\":0,";
    buf_init(&body, 1 << 26);
    n_ev = 0;
    ev_off[n_ev++] = body.len;
    buf_printf(&body, "%s\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n", pre);
    for (int i = 0; i < TOKENS_PER_EXCHANGE; i++) {
        ev_off[n_ev++] = body.len;
        buf_printf(&body, "%s\"delta\":{\"content\":\"%s\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n",
                   pre, words[i % 10]);
    }
    ev_off[n_ev++] = body.len;
    buf_printf(&body, "%s\"delta\":{},\"logprobs\":null,\"finish_reason\":\"length\"}]}\n\n", pre);
    ev_off[n_ev++] = body.len;
    buf_printf(&body, "data: {\"id\":\"chatcmpl-0d8f\",\"object\":\"chat.completion.chunk\",\"created\":1732612345,"
               "\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":812,\"total_tokens\":1812,\"completion_tokens\":%d}}\n\n",
               TOKENS_PER_EXCHANGE);
    ev_off[n_ev++] = body.len;
    buf_append_str(&body, "data: [DONE]\n\n");
    ev_off[n_ev] = body.len;
}

/* ---- baseline: SSE decoder + a cJSON tree per event ------------------------------------- */

struct tree_ctx {
    struct tlog_exchange *x;
    int64_t now;
    int done;
};

static int tree_cb(void *user, const struct sse_event *ev)
{
    struct tree_ctx *c = user;
    if (ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0) {
        c->done = 1;
        return tlog_exchange_add_event(c->x, c->now, 0, 0);
    }
    cJSON *root = cJSON_ParseWithLength(ev->data, ev->data_len);
    if (!root)
        return -1;
    int content = 0;
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    const cJSON *ch = cJSON_GetArrayItem(choices, 0);
    const cJSON *delta = cJSON_GetObjectItemCaseSensitive(ch, "delta");
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(delta, "content");
    if (cJSON_IsString(text) && text->valuestring[0]) {
        content = 1;
        tlog_exchange_append_text(c->x, text->valuestring, strlen(text->valuestring));
    }
    const cJSON *fr = cJSON_GetObjectItemCaseSensitive(ch, "finish_reason");
    if (cJSON_IsString(fr) && !c->x->resp.finish_reason)
        c->x->resp.finish_reason = strdup(fr->valuestring);
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(root, "usage");
    if (cJSON_IsObject(u)) {
        c->x->usage.present = 1;
        c->x->usage.prompt_tokens = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens"));
        c->x->usage.completion_tokens = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(u, "completion_tokens"));
    }
    cJSON_Delete(root);
    return tlog_exchange_add_event(c->x, c->now, 0, content);
}

/* Runs `events` events through one path; feed = 0: one feed per event, else bytes per feed.
 * Returns seconds; *x_out gets the last exchange (caller frees). */
static double run(int use_tree, size_t feed, long events, struct tlog_exchange *last)
{
    long exchanges = (events + (long)n_ev - 1) / (long)n_ev;
    double t0 = now_s();
    for (long e = 0; e < exchanges; e++) {
        struct tlog_exchange x;
        tlog_exchange_init(&x);
        struct llm_stream s;
        struct sse_decoder d;
        struct tree_ctx c = { &x, 0, 0 };
        if (use_tree)
            sse_init(&d, LLMSTREAM_MAX_EVENT);
        else
            llm_stream_init(&s, &x, DIALECT_OPENAI_CHAT, 200, "text/event-stream", 1);
        size_t i = 0;
        int64_t t = 0;
        while (i < body.len) {
            size_t n;
            if (feed == 0) {
                n = ev_off[t + 1] - ev_off[t];
            } else {
                n = body.len - i < feed ? body.len - i : feed;
            }
            t++;
            if (use_tree) {
                c.now = t;
                if (sse_feed(&d, body.p + i, n, tree_cb, &c))
                    return -1;
            } else if (llm_stream_feed(&s, body.p + i, n, t)) {
                return -1;
            }
            i += n;
        }
        if (use_tree) {
            sse_finish(&d);
            sse_free(&d);
            tlog_exchange_derive_tokens(&x);
        } else {
            llm_stream_finish(&s, t);
            llm_stream_free(&s);
        }
        if (e == exchanges - 1) {
            *last = x;
        } else {
            tlog_exchange_free(&x);
        }
    }
    return now_s() - t0;
}

int main(int argc, char **argv)
{
    long events = argc > 1 ? atol(argv[1]) : 2000000;
    if (events < (long)TOKENS_PER_EXCHANGE)
        events = TOKENS_PER_EXCHANGE;
    build_body();
    long exchanges = (events + (long)n_ev - 1) / (long)n_ev;
    long total = exchanges * (long)n_ev;
    printf("timing: thread CPU time, best of 3\n");
    printf("stream: %zu events per exchange (%zu bytes, %.0f bytes/event), %ld exchanges, %ld events\n",
           n_ev, body.len, (double)body.len / (double)n_ev, exchanges, total);
    static const struct { const char *name; int tree; size_t feed; } cases[] = {
        { "llm_stream_feed (jscan), one feed per event", 0, 0 },
        { "llm_stream_feed (jscan), 16 KiB feeds", 0, 16384 },
        { "sse_feed + cJSON_Parse per event, one feed per event", 1, 0 },
        { "sse_feed + cJSON_Parse per event, 16 KiB feeds", 1, 16384 },
    };
    struct tlog_exchange ref;
    int ok = 1;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        double best = 1e9;
        struct tlog_exchange x;
        for (int rep = 0; rep < 3; rep++) {
            double s = run(cases[k].tree, cases[k].feed, events, &x);
            if (s < 0) {
                printf("FAIL: %s: decoding failed\n", cases[k].name);
                return 1;
            }
            if (s < best)
                best = s;
            if (rep < 2)
                tlog_exchange_free(&x);
        }
        printf("%-55s %8.3f M events/s  %6.3f us/event\n", cases[k].name,
               (double)total / best / 1e6, best / (double)total * 1e6);
        /* both paths must record the same thing */
        if (k == 0) {
            ref = x;
            ok &= ref.resp.n_events == n_ev && ref.tokens_out == TOKENS_PER_EXCHANGE &&
                  ref.error_kind == TLOG_ERROR_NONE;
        } else {
            ok &= x.resp.n_events == ref.resp.n_events && x.resp.text_len == ref.resp.text_len &&
                  memcmp(x.resp.text, ref.resp.text, x.resp.text_len) == 0 &&
                  x.tokens_out == ref.tokens_out;
            for (size_t i = 0; ok && i < x.resp.n_events; i++)
                ok &= x.resp.events[i].is_content == ref.resp.events[i].is_content;
            tlog_exchange_free(&x);
        }
    }
    tlog_exchange_free(&ref);
    buf_free(&body);
    if (!ok) {
        printf("FAIL: the jscan and cJSON paths recorded different events\n");
        return 1;
    }
    return 0;
}
