/* test_llmstream.c — response bodies → exchange records (formats/dialect/llmstream.h), checked against
 * the golden fixtures in tests/fixtures/dialect/ (whole, byte by byte, split at every byte
 * boundary) and against hand-computed offsets, errors and caps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llmstream.h"

#define FEED(s, str, off) llm_stream_feed((s), (str), strlen(str), (off))

static char *read_file(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/dialect/%s", FIXTURE_DIR, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    struct buf b;
    buf_init(&b, 1 << 20);
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        assert_int_equal(buf_append(&b, tmp, n), 0);
    fclose(f);
    if (!b.p)
        assert_int_equal(buf_append(&b, "", 0), 0);
    *len = b.len;
    return buf_steal(&b);
}

/* The value of "key: value" in an expected file, or NULL. */
static const char *expected_get(const char *exp, const char *key, char *out, size_t outlen)
{
    size_t kl = strlen(key);
    for (const char *l = exp; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, key, kl) == 0 && l[kl] == ':' && l[kl + 1] == ' ') {
            const char *v = l + kl + 2;
            const char *e = strchr(v, '\n');
            size_t n = e ? (size_t)(e - v) : strlen(v);
            if (n >= outlen)
                n = outlen - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return out;
        }
    }
    return NULL;
}

/* Renders what the stream recorded in the fixture's "expected" format. */
static void summarize(const struct tlog_exchange *x, const char *dialect, int status,
                      const char *ct, struct buf *o)
{
    buf_printf(o, "dialect: %s\nstatus: %d\ncontent_type: %s\nevents: ", dialect, status, ct);
    int any_tokens = 0;
    for (size_t i = 0; i < x->resp.n_events; i++) {
        buf_append_char(o, x->resp.events[i].is_content ? 'C' : '.');
        any_tokens |= x->resp.events[i].tokens != 0;
    }
    buf_append_char(o, '\n');
    if (any_tokens) {
        buf_append_str(o, "event_tokens:");
        for (size_t i = 0; i < x->resp.n_events; i++)
            buf_printf(o, " %d", (int)x->resp.events[i].tokens);
        buf_append_char(o, '\n');
    }
    buf_append_str(o, "text: ");
    for (size_t i = 0; i < x->resp.text_len; i++) {
        char c = x->resp.text[i];
        if (c == '\n')
            buf_append_str(o, "\\n");
        else if (c == '\\')
            buf_append_str(o, "\\\\");
        else
            buf_append_char(o, c);
    }
    buf_printf(o, "\nfinish_reason: %s\n", x->resp.finish_reason ? x->resp.finish_reason : "-");
    if (x->usage.present)
        buf_printf(o, "usage: %lld %lld %lld\n", (long long)x->usage.prompt_tokens,
                   (long long)x->usage.completion_tokens, (long long)x->usage.cached_tokens);
    else
        buf_append_str(o, "usage: none\n");
    static const char *const src[] = { "none", "usage", "events" };
    buf_printf(o, "tokens_in: %lld\ntokens_out: %lld %s\n", (long long)x->tokens_in,
               (long long)x->tokens_out, src[x->tokens_source]);
    if (x->error_kind == TLOG_ERROR_NONE)
        buf_append_str(o, "error: none\n");
    else
        buf_printf(o, "error: %s: %s\n", tlog_error_kind_name(x->error_kind),
                   x->error_message ? x->error_message : "");
}

/* Feeds body in the pieces given by cuts (sorted offsets), then finishes; renders. */
static void run_split(const char *body, size_t len, const size_t *cuts, size_t ncuts,
                      const char *dialect, int status, const char *ct, struct buf *out)
{
    struct tlog_exchange x;
    struct llm_stream s;
    tlog_exchange_init(&x);
    llm_stream_init(&s, &x, dialect_parse_name(dialect), status, strcmp(ct, "-") ? ct : NULL, 1);
    size_t at = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t next = i < ncuts ? cuts[i] : len;
        llm_stream_feed(&s, body + at, next - at, (int64_t)next);
        at = next;
    }
    llm_stream_finish(&s, (int64_t)len + 1);
    buf_reset(out);
    summarize(&x, dialect, status, ct, out);
    llm_stream_free(&s);
    tlog_exchange_free(&x);
}

static void check_fixture(const char *name)
{
    size_t len, elen;
    char *body = read_file(name, &len);
    char ename[256];
    snprintf(ename, sizeof ename, "%.*s.expected", (int)(strrchr(name, '.') - name), name);
    char *exp = read_file(ename, &elen);
    char dialect[64], status[16], ct[128];
    assert_non_null(expected_get(exp, "dialect", dialect, sizeof dialect));
    assert_non_null(expected_get(exp, "status", status, sizeof status));
    assert_non_null(expected_get(exp, "content_type", ct, sizeof ct));

    struct buf got, ref;
    buf_init(&got, 1 << 20);
    buf_init(&ref, 1 << 20);
    run_split(body, len, NULL, 0, dialect, atoi(status), ct, &got);
    if (strcmp(got.p, exp) != 0)
        fail_msg("%s (whole):\n--- expected\n%s--- got\n%s", name, exp, got.p);

    /* byte by byte */
    size_t *cuts = malloc(len * sizeof *cuts);
    assert_non_null(cuts);
    for (size_t i = 0; i + 1 < len; i++)
        cuts[i] = i + 1;
    run_split(body, len, cuts, len ? len - 1 : 0, dialect, atoi(status), ct, &got);
    if (strcmp(got.p, exp) != 0)
        fail_msg("%s (byte by byte):\n--- expected\n%s--- got\n%s", name, exp, got.p);
    /* every two-piece split */
    for (size_t i = 1; i < len; i++) {
        run_split(body, len, &i, 1, dialect, atoi(status), ct, &got);
        if (strcmp(got.p, exp) != 0)
            fail_msg("%s (split at %zu):\n--- expected\n%s--- got\n%s", name, i, exp, got.p);
    }
    free(cuts);
    buf_free(&got);
    buf_free(&ref);
    free(body);
    free(exp);
}

static void test_golden_fixtures(void **state)
{
    (void)state;
    size_t len;
    char *index = read_file("INDEX", &len);
    int n = 0;
    for (char *line = strtok(index, "\n"); line; line = strtok(NULL, "\n")) {
        check_fixture(line);
        n++;
    }
    assert_int_equal(n, 29);
    free(index);
}

/* Offsets: each event takes the offset of the feed that completed it. */
static void test_event_offsets(void **state)
{
    (void)state;
    struct tlog_exchange x;
    struct llm_stream s;
    tlog_exchange_init(&x);
    llm_stream_init(&s, &x, DIALECT_OPENAI_CHAT, 200, "text/event-stream", 1);
    assert_int_equal(FEED(&s, "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n", 100), 0);
    assert_int_equal(x.resp.n_events, 0); /* no blank line yet */
    assert_int_equal(FEED(&s, "\ndata: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\ndata: [DO", 250), 0);
    assert_int_equal(x.resp.n_events, 2);
    assert_int_equal(FEED(&s, "NE]\n\n", 300), 0);
    assert_int_equal(llm_stream_finish(&s, 310), 0);
    assert_int_equal(x.resp.n_events, 3);
    assert_int_equal(x.resp.events[0].offset_us, 250);
    assert_int_equal(x.resp.events[0].is_content, 1);
    assert_int_equal(x.resp.events[1].offset_us, 250);
    assert_int_equal(x.resp.events[1].is_content, 1);
    assert_int_equal(x.resp.events[2].offset_us, 300);
    assert_int_equal(x.resp.events[2].is_content, 0);
    assert_string_equal(x.resp.text, "ab");
    assert_int_equal(x.resp.body_bytes, 46 + 57 + 5);
    assert_int_equal(x.error_kind, TLOG_ERROR_NONE);
    assert_int_equal(x.tokens_out, 2);
    assert_int_equal(x.tokens_source, TLOG_TOKENS_EVENTS);
    assert_string_equal(x.dialect, "openai-chat");
    llm_stream_free(&s);
    tlog_exchange_free(&x);
}

/* keep_text = 0 (--no-bodies) records events and usage but no text. */
static void test_no_text(void **state)
{
    (void)state;
    struct tlog_exchange x;
    struct llm_stream s;
    static const char body[] =
        "{\"response\":\"x\",\"done\":false}\n{\"response\":\"\",\"done\":true,\"eval_count\":1}\n";
    tlog_exchange_init(&x);
    llm_stream_init(&s, &x, DIALECT_OLLAMA_GENERATE, 200, NULL, 0);
    assert_int_equal(llm_stream_feed(&s, body, sizeof body - 1, 5), 0);
    assert_int_equal(llm_stream_finish(&s, 6), 0);
    assert_int_equal(x.resp.n_events, 2);
    assert_null(x.resp.text);
    assert_int_equal(x.usage.completion_tokens, 1);
    assert_int_equal(x.error_kind, TLOG_ERROR_NONE);
    llm_stream_free(&s);
    tlog_exchange_free(&x);
}

/* Without a Content-Type, the first non-blank byte decides. */
static void test_sniffing(void **state)
{
    (void)state;
    struct tlog_exchange x;
    struct llm_stream s;
    /* SSE after leading blank lines, dialect unknown: guessed from the event keys */
    tlog_exchange_init(&x);
    llm_stream_init(&s, &x, DIALECT_UNKNOWN, 200, NULL, 1);
    assert_int_equal(FEED(&s, "\n", 1), 0);
    assert_int_equal(FEED(&s, "\ndata:{\"token\":{\"text\":\"hi\",\"special\":false}}\n\n", 2), 0);
    assert_int_equal(FEED(&s, "data:{\"token\":{\"text\":\"\",\"special\":true},\"generated_text\":\"hi\",\"details\":{\"finish_reason\":\"eos_token\",\"generated_tokens\":2}}\n\n", 3), 0);
    assert_int_equal(llm_stream_finish(&s, 4), 0);
    assert_int_equal(x.resp.n_events, 2);
    assert_string_equal(x.resp.text, "hi");
    assert_int_equal(x.tokens_out, 2);
    assert_int_equal(x.error_kind, TLOG_ERROR_NONE);
    assert_string_equal(x.dialect, "tgi"); /* learnt from the first event */
    llm_stream_free(&s);
    tlog_exchange_free(&x);

    /* whole JSON body, OpenAI */
    tlog_exchange_init(&x);
    llm_stream_init(&s, &x, DIALECT_OPENAI_CHAT, 200, "text/plain", 1);
    assert_int_equal(FEED(&s, " {\"choices\":[{\"message\":{\"content\":\"ok\"}}]", 10), 0);
    assert_int_equal(x.resp.n_events, 0);
    assert_int_equal(FEED(&s, "}", 20), 0);
    assert_int_equal(llm_stream_finish(&s, 30), 0);
    assert_int_equal(x.resp.n_events, 1);
    assert_int_equal(x.resp.events[0].offset_us, 30);
    assert_int_equal(x.resp.events[0].is_content, 1);
    assert_string_equal(x.resp.text, "ok");
    assert_int_equal(x.error_kind, TLOG_ERROR_NONE);
    llm_stream_free(&s);
    tlog_exchange_free(&x);

    /* blank bytes before the deciding one are kept: a leading space makes " data" an unknown
     * SSE field, whether it arrives alone or with the rest */
    for (int split = 0; split < 2; split++) {
        tlog_exchange_init(&x);
        llm_stream_init(&s, &x, DIALECT_OPENAI_CHAT, 200, NULL, 1);
        if (split) {
            assert_int_equal(FEED(&s, "\n ", 1), 0);
            assert_int_equal(FEED(&s, "data: [DONE]\n\ndata: [DONE]\n\n", 2), 0);
        } else {
            assert_int_equal(FEED(&s, "\n data: [DONE]\n\ndata: [DONE]\n\n", 2), 0);
        }
        assert_int_equal(llm_stream_finish(&s, 3), 0);
        assert_int_equal(x.resp.n_events, 1);
        assert_int_equal(x.resp.events[0].offset_us, 2);
        assert_int_equal(x.error_kind, TLOG_ERROR_NONE);
        llm_stream_free(&s);
        tlog_exchange_free(&x);
    }

    /* empty body, with or without a Content-Type */
    for (int json = 0; json < 2; json++) {
        tlog_exchange_init(&x);
        llm_stream_init(&s, &x, DIALECT_OPENAI_CHAT, 200, json ? "application/json" : NULL, 1);
        assert_int_equal(llm_stream_finish(&s, 30), 0);
        assert_int_equal(x.error_kind, TLOG_ERROR_TRUNCATED);
        assert_string_equal(x.error_message, "empty response body");
        assert_int_equal(x.resp.n_events, 0);
        assert_int_equal(x.tokens_source, TLOG_TOKENS_NONE);
        llm_stream_free(&s);
        tlog_exchange_free(&x);
    }
    /* a truncated JSON body */
    tlog_exchange_init(&x);
    llm_stream_init(&s, &x, DIALECT_ANTHROPIC, 200, "application/json", 1);
    assert_int_equal(FEED(&s, "{\"type\":\"message\",\"content\":[{\"type\":\"text\",\"te", 5), 0);
    assert_int_equal(llm_stream_finish(&s, 30), 0);
    assert_int_equal(x.error_kind, TLOG_ERROR_MALFORMED);
    assert_string_equal(x.error_message, "event 1: event JSON is truncated");
    assert_int_equal(x.resp.n_events, 1);
    assert_int_equal(x.resp.events[0].is_content, 0);
    llm_stream_free(&s);
    tlog_exchange_free(&x);
}

static void test_error_bodies(void **state)
{
    (void)state;
    struct tlog_exchange x;
    struct llm_stream s;
    /* a non-JSON error body: its first line is the message */
    tlog_exchange_init(&x);
    llm_stream_init(&s, &x, DIALECT_OPENAI_CHAT, 502, "text/html", 1);
    assert_int_equal(FEED(&s, "<html>Bad Gateway</html>\r\nmore", 5), 0);
    assert_int_equal(llm_stream_finish(&s, 6), 0);
    assert_int_equal(x.error_kind, TLOG_ERROR_HTTP_STATUS);
    assert_string_equal(x.error_message, "<html>Bad Gateway</html>");
    assert_int_equal(x.resp.n_events, 0);
    assert_int_equal(x.resp.status, 502);
    llm_stream_free(&s);
    tlog_exchange_free(&x);
    /* an empty error body */
    tlog_exchange_init(&x);
    llm_stream_init(&s, &x, DIALECT_OPENAI_CHAT, 429, NULL, 1);
    assert_int_equal(llm_stream_finish(&s, 6), 0);
    assert_int_equal(x.error_kind, TLOG_ERROR_HTTP_STATUS);
    assert_string_equal(x.error_message, "HTTP 429");
    llm_stream_free(&s);
    tlog_exchange_free(&x);
    /* a vLLM error object inside a 200 stream */
    tlog_exchange_init(&x);
    llm_stream_init(&s, &x, DIALECT_OPENAI_CHAT, 200, "text/event-stream", 1);
    static const char ev[] = "data: {\"object\":\"error\",\"message\":\"KV cache \\\"full\\\"\",\"type\":\"BadRequestError\",\"code\":400}\n\ndata: [DONE]\n\n";
    assert_int_equal(llm_stream_feed(&s, ev, sizeof ev - 1, 5), 0);
    assert_int_equal(llm_stream_finish(&s, 6), 0);
    assert_int_equal(x.error_kind, TLOG_ERROR_STREAM_ERROR);
    assert_string_equal(x.error_message, "KV cache \"full\"");
    assert_int_equal(x.resp.n_events, 2);
    llm_stream_free(&s);
    tlog_exchange_free(&x);
}

/* An SSE line over the 4 MiB cap makes the stream unusable: one error, later feeds refused. */
static void test_line_cap(void **state)
{
    (void)state;
    struct tlog_exchange x;
    struct llm_stream s;
    size_t n = LLMSTREAM_MAX_EVENT + 16;
    char *big = malloc(n);
    assert_non_null(big);
    memcpy(big, "data: ", 6);
    memset(big + 6, 'a', n - 6);
    tlog_exchange_init(&x);
    llm_stream_init(&s, &x, DIALECT_OPENAI_CHAT, 200, "text/event-stream", 1);
    assert_int_equal(llm_stream_feed(&s, big, n / 2, 1), 0);
    assert_int_equal(llm_stream_feed(&s, big + n / 2, n - n / 2, 2), -1);
    assert_int_equal(FEED(&s, "\n\n", 3), -1);
    assert_int_equal(llm_stream_finish(&s, 4), 0);
    assert_int_equal(x.error_kind, TLOG_ERROR_MALFORMED);
    assert_string_equal(x.error_message, "SSE line longer than the 4 MiB cap");
    assert_int_equal(x.resp.n_events, 0);
    llm_stream_free(&s);
    tlog_exchange_free(&x);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_fixtures),
        cmocka_unit_test(test_event_offsets),
        cmocka_unit_test(test_no_text),
        cmocka_unit_test(test_sniffing),
        cmocka_unit_test(test_error_bodies),
        cmocka_unit_test(test_line_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
