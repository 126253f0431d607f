/* fuzz_dialect_diff.c — libFuzzer differential harness for the OpenAI chunk fast path in
 * formats/dialect/dialect.c and jscan's pull reader (formats/dialect/jscan.h).
 *
 * The fast path runs for DIALECT_OPENAI_CHAT / _COMPLETIONS; dialect_decode_event_reference
 * runs the same dialect on the full path (jscan_parse_tape + oa_decode). So for data that
 * starts with {"choices" both calls must give the same return code, reason and event, byte for byte — on valid and malformed input
 * alike. Byte 0 of the input picks the dialect and whether {"choices": is put in front of the
 * rest (so most inputs reach the choice/delta code). Independently, walking the input with the
 * pull reader must accept exactly what jscan_parse accepts. With bit 2 of byte 0 set, the
 * chunk-shape cache is checked instead: a second event decoded with the shape the first one
 * left must equal the same event decoded alone. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dialect.h"
#include "jscan.h"

static void same_bytes(const char *a, size_t an, const char *b, size_t bn)
{
    if ((a == NULL) != (b == NULL) || an != bn || (an && memcmp(a, b, an) != 0))
        abort();
}

static void same_event(int r1, const struct dialect_event *p1, const char *w1, int r2,
                       const struct dialect_event *p2, const char *w2)
{
    struct dialect_event e1 = *p1, e2 = *p2;
    if (r1 != r2 || (w1 == NULL) != (w2 == NULL) || (w1 && strcmp(w1, w2) != 0))
        abort();
    if (e1.is_content != e2.is_content || e1.tokens != e2.tokens ||
        e1.is_role_only != e2.is_role_only || e1.is_done != e2.is_done ||
        e1.has_usage != e2.has_usage || e1.prompt_tokens != e2.prompt_tokens ||
        e1.completion_tokens != e2.completion_tokens || e1.cached_tokens != e2.cached_tokens ||
        e1.is_error != e2.is_error)
        abort();
    same_bytes(e1.text, e1.text_len, e2.text, e2.text_len);
    same_bytes(e1.finish_reason, e1.finish_reason_len, e2.finish_reason, e2.finish_reason_len);
    same_bytes(e1.error_message, e1.error_message_len, e2.error_message,
               e2.error_message_len);
}

static void compare(const char *p, size_t n, enum dialect_id d)
{
    struct buf s1, s2;
    struct dialect_event e1, e2;
    const char *w1 = NULL, *w2 = NULL;
    buf_init(&s1, 1 << 20);
    buf_init(&s2, 1 << 20);
    int r1 = dialect_decode_event(d, NULL, 0, p, n, &e1, &s1, &w1);
    int r2 = dialect_decode_event_reference(d, NULL, 0, p, n, &e2, &s2, &w2);
    same_event(r1, &e1, w1, r2, &e2, w2);
    buf_free(&s1);
    buf_free(&s2);
}

/* A stream's shape (struct dialect_shape) must never change a result: event b decoded after
 * event a with the shape a left equals b decoded alone, which compare() ties to the full path. */
static void compare_shaped(const char *a, size_t an, const char *b, size_t bn, enum dialect_id d)
{
    struct dialect_shape sh = {0};
    struct buf s0, s1, s2;
    struct dialect_event e0, e1, e2;
    const char *w0 = NULL, *w1 = NULL, *w2 = NULL;
    buf_init(&s0, 1 << 20);
    buf_init(&s1, 1 << 20);
    buf_init(&s2, 1 << 20);
    dialect_decode_event_shaped(d, NULL, 0, a, an, &e0, &s0, &sh, &w0);
    int r1 = dialect_decode_event_shaped(d, NULL, 0, b, bn, &e1, &s1, &sh, &w1);
    int r2 = dialect_decode_event(d, NULL, 0, b, bn, &e2, &s2, &w2);
    same_event(r1, &e1, w1, r2, &e2, w2);
    dialect_shape_free(&sh);
    buf_free(&s0);
    buf_free(&s1);
    buf_free(&s2);
}

/* vLLM's chunk around a content string: the usual shape */
static const char shape_pre[] = "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\","
                                "\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
                                "\"delta\":{\"role\":\"assistant\",\"content\":";
static const char shape_suf[] = "},\"logprobs\":null,\"finish_reason\":null}]}";

static void compare_shape_modes(const char *rest, size_t n, enum dialect_id d)
{
    /* 1: a known-good chunk, then one whose string is the input; 2: the input split at its
     * first newline into two events */
    size_t pl = sizeof shape_pre - 1, sl = sizeof shape_suf - 1;
    char *a = malloc(pl + 5 + sl), *b = malloc(pl + n + sl + 1);
    if (a && b) {
        memcpy(a, shape_pre, pl);
        memcpy(a + pl, "\"hi\"", 4);
        memcpy(a + pl + 4, shape_suf, sl);
        memcpy(b, shape_pre, pl);
        if (n)
            memcpy(b + pl, rest, n);
        memcpy(b + pl + n, shape_suf, sl);
        compare_shaped(a, pl + 4 + sl, b, pl + n + sl, d);
    }
    free(a);
    free(b);
    const char *nl = n ? memchr(rest, '\n', n) : NULL;
    if (nl) {
        size_t k = (size_t)(nl - rest);
        char *x = malloc(k + 1), *y = malloc(n - k);
        if (x && y) { /* exact-size copies, so an over-read is caught under ASan */
            memcpy(x, rest, k);
            memcpy(y, nl + 1, n - k - 1);
            compare_shaped(x, k, y, n - k - 1, d);
        }
        free(x);
        free(y);
    }
}

/* Walks one value with the pull reader, descending into every container. */
static int walk(struct jscan_reader *r, int depth)
{
    int c = jscan_reader_peek(r);
    if ((c == '{' || c == '[') && depth < 80) {
        int is_obj = c == '{';
        struct jscan_val k;
        int rc = jscan_reader_open(r);
        if (rc)
            return rc;
        for (int first = 1;; first = 0) {
            rc = jscan_reader_next(r, first, is_obj, &k);
            if (rc <= 0)
                return rc;
            rc = walk(r, depth + 1);
            if (rc)
                return rc;
        }
    }
    struct jscan_val v;
    return jscan_reader_value(r, &v);
}

static int has_choices_first(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    if (i >= n || p[i] != '{')
        return 0;
    i++;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    return n - i >= 9 && memcmp(p + i, "\"choices\"", 9) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum dialect_id d = (data[0] & 1) ? DIALECT_OPENAI_COMPLETIONS : DIALECT_OPENAI_CHAT;
    const char *rest = (const char *)data + 1;
    size_t n = size - 1;

    struct jscan_reader rd;
    struct jscan_val root;
    jscan_reader_init(&rd, rest, n);
    int wr = walk(&rd, 0);
    if (wr == 0)
        wr = jscan_reader_end(&rd);
    int pr = jscan_parse(rest, n, &root, NULL);
    /* the walk stops descending at depth 80, where jscan_parse has already failed */
    if ((wr == 0) != (pr == 0))
        abort();

    if (data[0] & 4) {
        compare_shape_modes(rest, n, d);
        return 0;
    }
    if (data[0] & 2) {
        static const char pre[] = "{\"choices\":";
        char *q = malloc(sizeof pre - 1 + n);
        if (!q)
            return 0;
        memcpy(q, pre, sizeof pre - 1);
        if (n)
            memcpy(q + sizeof pre - 1, rest, n);
        compare(q, sizeof pre - 1 + n, d);
        free(q);
    } else if (has_choices_first(rest, n)) {
        compare(rest, n, d);
    } else {
        /* no reference here: the fast path must still not crash or read out of bounds */
        struct buf s;
        struct dialect_event e;
        const char *why;
        buf_init(&s, 1 << 20);
        dialect_decode_event(d, NULL, 0, rest, n, &e, &s, &why);
        buf_free(&s);
    }
    return 0;
}
