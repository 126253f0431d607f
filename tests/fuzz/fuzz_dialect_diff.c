/* fuzz_dialect_diff.c — libFuzzer differential harness for the OpenAI chunk fast path in
 * formats/dialect.c and jscan's pull reader (formats/jscan.h).
 *
 * The fast path runs for DIALECT_OPENAI_CHAT / _COMPLETIONS; DIALECT_UNKNOWN never takes it
 * and, for an object whose first key is "choices", guesses openai-chat and runs the full path
 * (jscan_parse_tape + oa_decode). So for data that starts with {"choices" both calls must
 * give the same return code, reason and event, byte for byte — on valid and malformed input
 * alike. Byte 0 of the input picks the dialect and whether {"choices": is put in front of the
 * rest (so most inputs reach the choice/delta code). Independently, walking the input with the
 * pull reader must accept exactly what jscan_parse accepts. */
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

static void compare(const char *p, size_t n, enum dialect_id d)
{
    struct buf s1, s2;
    struct dialect_event e1, e2;
    const char *w1 = NULL, *w2 = NULL;
    buf_init(&s1, 1 << 20);
    buf_init(&s2, 1 << 20);
    int r1 = dialect_decode_event(d, NULL, 0, p, n, &e1, &s1, &w1);
    int r2 = dialect_decode_event(DIALECT_UNKNOWN, NULL, 0, p, n, &e2, &s2, &w2);
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
    buf_free(&s1);
    buf_free(&s2);
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
