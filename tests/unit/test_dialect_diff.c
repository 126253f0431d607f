/* test_dialect_diff.c — the OpenAI chunk fast path of dialect_decode_event must answer
 * exactly like the full path (jscan_parse_tape + oa_decode), on real chunk shapes and on
 * bounded deterministic mutations of them (byte changes, cuts, insertions).
 *
 * The reference: dialect_decode_event_reference, the same dialect on the full path only.
 * Also checks a few results by hand, and that
 * jscan's pull reader accepts exactly what jscan_parse accepts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dialect.h"
#include "jscan.h"

/* Chunk shapes seen from vLLM, SGLang, llama.cpp, OpenAI and gateways; every one starts with
 * {"choices" (mutations keep it, so they stay chunk-like). */
static const char *const seeds[] = {
    "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\" model\"},\"logprobs\":null,"
    "\"finish_reason\":null}],\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\","
    "\"created\":1732612345,\"model\":\"meta-llama/Llama-3.1-8B-Instruct\"}",
    "{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
    "\"finish_reason\":null}],\"usage\":null}",
    "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"caf\\u00e9 \\\"q\\\"\\n\\ud83d\\ude00\"},"
    "\"finish_reason\":null}]}",
    "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}",
    "{\"choices\":[{\"index\":0,\"delta\":{\"content\":null},\"finish_reason\":\"len\\u0067th\"}]}",
    "{\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":34,"
    "\"total_tokens\":46,\"prompt_tokens_details\":{\"cached_tokens\":8}}}",
    "{\"choices\":[{\"index\":0,\"text\":\" world\",\"logprobs\":null,\"finish_reason\":null}],"
    "\"object\":\"text_completion\"}",
    "{\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"think\"}}]}",
    "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
    "{\"arguments\":\"{\\\"a\\\":1}\"}}]}}]}",
    "{\"choices\":[{\"index\":0,\"delta\":{\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}}]}",
    "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"all\"},"
    "\"finish_reason\":\"stop\"}]}",
    "{\"choices\":null,\"object\":\"error\",\"message\":\"boom\",\"code\":500}",
    "{\"choices\":[],\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}",
    "{\"choices\":[{\"delta\":{\"content\":\"a\"}},{\"delta\":{\"content\":\"b\"}}]}",
    "{\"choices\":[{\"delta\":{\"content\":\"a\",\"content\":\"b\"},\"finish_reason\":\"x\","
    "\"finish_reason\":null}]}",
    "{\"choices\":[{\"delta\":{\"con\\u0074ent\":\"esc key\"}}],\"obj\\u0065ct\":\"x\"}",
    "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1},\"timings\":{\"n\":1.5e3}}",
    " { \"choices\" : [ { \"delta\" : { \"content\" : \"sp\" } , \"finish_reason\" : null } ] } ",
    "{\"choices\":[{\"delta\":{\"refusal\":\"no\",\"role\":null}}],\"deep\":[[[[{\"a\":[true,"
    "false,null,-0.5e-3,0,123]}]]]]}",
    "{\"choices\":[{\"delta\":{\"function_call\":{\"name\":\"f\",\"arguments\":\"{\\\"x\\\"\"}}}]}",
    "{\"choices\":[{\"delta\":{\"content\":\"\\u00e9t\\u00e9 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}}]}",
    /* tool calls: vLLM's first and later chunks, two calls, nulls, duplicates, objects (the
     * malformed ones are in test_fast_path_values) */
    "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"id\":\"call_1\",\"type\":"
    "\"function\",\"index\":0,\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]},"
    "\"finish_reason\":null}]}",
    "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
    "\"{\\\"city\\\": \\\"Par\"}},{\"index\":1,\"function\":{\"arguments\":\"is\\\"}\"}}]}}]}",
    "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":null},{\"function\":{\"arguments\":"
    "null,\"arguments\":\"late\"}},{\"function\":{\"name\":\"n\"},\"function\":{\"arguments\":"
    "\"dup\"}}]}}]}",
    "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{\"arguments\":{\"a\":1}}}]}}]}",
    "{\"choices\":[{\"delta\":{\"tool_calls\":null,\"content\":\"c\"}}]}",
};

static void same_bytes(const char *a, size_t an, const char *b, size_t bn)
{
    assert_int_equal(a == NULL, b == NULL);
    assert_int_equal(an, bn);
    if (an)
        assert_memory_equal(a, b, an);
}

/* Decodes p both ways and asserts the same answer; returns the return code. */
static int check_same(const char *p, size_t n, enum dialect_id d, struct buf *s1, struct buf *s2)
{
    struct dialect_event e1, e2;
    const char *w1 = NULL, *w2 = NULL;
    int r1 = dialect_decode_event(d, NULL, 0, p, n, &e1, s1, &w1);
    int r2 = dialect_decode_event_reference(d, NULL, 0, p, n, &e2, s2, &w2);
    assert_int_equal(r1, r2);
    assert_int_equal(w1 == NULL, w2 == NULL);
    if (w1)
        assert_string_equal(w1, w2);
    assert_int_equal(e1.is_content, e2.is_content);
    assert_int_equal(e1.tokens, e2.tokens);
    assert_int_equal(e1.is_role_only, e2.is_role_only);
    assert_int_equal(e1.is_done, e2.is_done);
    assert_int_equal(e1.has_usage, e2.has_usage);
    assert_int_equal(e1.prompt_tokens, e2.prompt_tokens);
    assert_int_equal(e1.completion_tokens, e2.completion_tokens);
    assert_int_equal(e1.cached_tokens, e2.cached_tokens);
    assert_int_equal(e1.is_error, e2.is_error);
    same_bytes(e1.text, e1.text_len, e2.text, e2.text_len);
    same_bytes(e1.finish_reason, e1.finish_reason_len, e2.finish_reason, e2.finish_reason_len);
    same_bytes(e1.error_message, e1.error_message_len, e2.error_message,
               e2.error_message_len);
    return r1;
}

static uint32_t next_rand(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* Bytes that matter to JSON and to the fast path's decisions. */
static const char interesting[] = "{}[]\":,\\ 0-1.eE\x01\x80\xc3\xa9tfnu";

static void test_seeds_agree(void **state)
{
    (void)state;
    struct buf s1, s2;
    buf_init(&s1, 1 << 20);
    buf_init(&s2, 1 << 20);
    int ok = 0;
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        size_t n = strlen(seeds[i]);
        if (check_same(seeds[i], n, DIALECT_OPENAI_CHAT, &s1, &s2) == 0)
            ok++;
        check_same(seeds[i], n, DIALECT_OPENAI_COMPLETIONS, &s1, &s2);
    }
    /* every seed is valid and well-typed: all decode */
    assert_int_equal(ok, (int)(sizeof seeds / sizeof seeds[0]));
    buf_free(&s1);
    buf_free(&s2);
}

static void test_mutations_agree(void **state)
{
    (void)state;
    struct buf s1, s2;
    buf_init(&s1, 1 << 20);
    buf_init(&s2, 1 << 20);
    uint32_t seed = 0x9e3779b9u;
    char m[1024];
    int ok = 0, bad = 0;
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        size_t n0 = strlen(seeds[i]);
        for (int round = 0; round < 3000; round++) {
            size_t n = n0;
            memcpy(m, seeds[i], n);
            int edits = 1 + (int)(next_rand(&seed) % 3);
            for (int k = 0; k < edits && n > 12; k++) {
                /* keep the leading {"choices" intact: the mutants stay chunk-like */
                size_t at = 10 + next_rand(&seed) % (n - 10);
                char c = interesting[next_rand(&seed) % (sizeof interesting - 1)];
                switch (next_rand(&seed) % 4) {
                case 0: m[at] = c; break;
                case 1: n = at; break;                                   /* cut */
                case 2:                                                  /* insert */
                    if (n + 1 < sizeof m) {
                        memmove(m + at + 1, m + at, n - at);
                        m[at] = c;
                        n++;
                    }
                    break;
                default:                                                 /* delete */
                    memmove(m + at, m + at + 1, n - at - 1);
                    n--;
                }
            }
            if (check_same(m, n, DIALECT_OPENAI_CHAT, &s1, &s2) == 0)
                ok++;
            else
                bad++;
        }
    }
    /* the mutations reach both outcomes, so both sides of the comparison were exercised */
    assert_true(ok > 1000);
    assert_true(bad > 1000);
    buf_free(&s1);
    buf_free(&s2);
}

static void test_fast_path_values(void **state)
{
    (void)state;
    struct buf s;
    struct dialect_event e;
    const char *why;
    buf_init(&s, 1 << 20);
    assert_int_equal(dialect_decode_event(DIALECT_OPENAI_CHAT, NULL, 0, seeds[0],
                                          strlen(seeds[0]), &e, &s, &why), 0);
    assert_int_equal(e.is_content, 1);
    assert_int_equal(e.text_len, 6);
    assert_memory_equal(e.text, " model", 6);
    assert_null(e.finish_reason);
    assert_int_equal(e.has_usage, 0);
    assert_int_equal(e.is_role_only, 0);

    assert_int_equal(dialect_decode_event(DIALECT_OPENAI_CHAT, NULL, 0, seeds[1],
                                          strlen(seeds[1]), &e, &s, &why), 0);
    assert_int_equal(e.is_role_only, 1);
    assert_int_equal(e.is_content, 0);

    /* escaped text: é, "q", newline, U+1F600 */
    assert_int_equal(dialect_decode_event(DIALECT_OPENAI_CHAT, NULL, 0, seeds[2],
                                          strlen(seeds[2]), &e, &s, &why), 0);
    assert_int_equal(e.text_len, 14);
    assert_memory_equal(e.text, "caf\xc3\xa9 \"q\"\n\xf0\x9f\x98\x80", 14);

    /* escaped finish reason is unescaped */
    assert_int_equal(dialect_decode_event(DIALECT_OPENAI_CHAT, NULL, 0, seeds[4],
                                          strlen(seeds[4]), &e, &s, &why), 0);
    assert_int_equal(e.finish_reason_len, 6);
    assert_memory_equal(e.finish_reason, "length", 6);

    /* two choices: text in document order */
    assert_int_equal(dialect_decode_event(DIALECT_OPENAI_CHAT, NULL, 0, seeds[13],
                                          strlen(seeds[13]), &e, &s, &why), 0);
    assert_int_equal(e.text_len, 2);
    assert_memory_equal(e.text, "ab", 2);

    /* tool calls: arguments of every call in order; the first "function" / "arguments" of
     * an item count (a null one hides a later duplicate) */
    static const struct { const char *chunk; const char *text; } tools[] = {
        {"{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
         "\"{\\\"city\\\": \\\"Par\"}},{\"index\":1,\"function\":{\"arguments\":\"is\\\"}\"}}]}}]}",
         "{\"city\": \"Paris\"}"},
        {"{\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":null},{\"function\":{\"arguments\":"
         "null,\"arguments\":\"late\"}},{\"function\":{\"name\":\"n\"},\"function\":{\"arguments\":"
         "\"dup\"}}]}}]}",
         ""},
        {"{\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{\"arguments\":{\"a\":1}}}]}}]}",
         "{\"a\":1}"},
    };
    for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++) {
        assert_int_equal(dialect_decode_event(DIALECT_OPENAI_CHAT, NULL, 0, tools[i].chunk,
                                              strlen(tools[i].chunk), &e, &s, &why), 0);
        assert_int_equal(e.text_len, strlen(tools[i].text));
        if (e.text_len)
            assert_memory_equal(e.text, tools[i].text, e.text_len);
    }
    static const char *const bad_tools[] = {
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{\"arguments\":7}}]}}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[1]}}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":\"f\"}]}}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":{}}}]}",
    };
    struct buf s2;
    buf_init(&s2, 1 << 20);
    for (size_t i = 0; i < sizeof bad_tools / sizeof bad_tools[0]; i++)
        assert_int_equal(check_same(bad_tools[i], strlen(bad_tools[i]), DIALECT_OPENAI_CHAT, &s,
                                    &s2), DIALECT_ERR_MALFORMED);
    buf_free(&s2);

    /* a trailing comma is still malformed, with the full path's reason */
    static const char bad[] = "{\"choices\":[{\"delta\":{\"content\":\"a\"}}],}";
    assert_int_equal(dialect_decode_event(DIALECT_OPENAI_CHAT, NULL, 0, bad, sizeof bad - 1, &e,
                                          &s, &why), DIALECT_ERR_MALFORMED);
    assert_string_equal(why, "event data is not valid JSON");
    assert_int_equal(e.is_content, 0);
    assert_null(e.text);

    /* a raw control byte inside an ignored string is still caught */
    static const char ctl[] = "{\"id\":\"a\x01\",\"choices\":[{\"delta\":{\"content\":\"a\"}}]}";
    assert_int_equal(dialect_decode_event(DIALECT_OPENAI_CHAT, NULL, 0, ctl, sizeof ctl - 1, &e,
                                          &s, &why), DIALECT_ERR_MALFORMED);
    assert_string_equal(why, "invalid UTF-8 in event JSON");

    /* wrong type of a field the fast path reads */
    static const char typ[] = "{\"choices\":[{\"delta\":{\"content\":5}}]}";
    assert_int_equal(dialect_decode_event(DIALECT_OPENAI_CHAT, NULL, 0, typ, sizeof typ - 1, &e,
                                          &s, &why), DIALECT_ERR_MALFORMED);
    assert_string_equal(why, "delta.content is not a string");
    buf_free(&s);
}

/* Walks every container with the pull reader. */
static int walk(struct jscan_reader *r)
{
    int c = jscan_reader_peek(r);
    if (c == '{' || c == '[') {
        int is_obj = c == '{';
        struct jscan_val k;
        int rc = jscan_reader_open(r);
        if (rc)
            return rc;
        for (int first = 1;; first = 0) {
            rc = jscan_reader_next(r, first, is_obj, &k);
            if (rc <= 0)
                return rc;
            rc = walk(r);
            if (rc)
                return rc;
        }
    }
    struct jscan_val v;
    return jscan_reader_value(r, &v);
}

static void test_reader_matches_parse(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "{}", "[]", " {\"a\" : [1, 2, {\"b\": null}]} ", "{\"a\":1,}", "[1,]", "{\"a\" 1}",
        "{\"a\":1", "[[[", "{\"a\":\"\\x\"}", "\"s\"", "12", "{} x", "{\"a\":tru}", "[-]",
        "{\"\\u00e9\":\"\xc3\"}", "{,}", "[,1]", "{\"a\":1 \"b\":2}", "",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        struct jscan_reader r;
        struct jscan_val root;
        size_t n = strlen(docs[i]);
        jscan_reader_init(&r, docs[i], n);
        int wr = walk(&r);
        if (wr == 0)
            wr = jscan_reader_end(&r);
        int pr = jscan_parse(docs[i], n, &root, NULL);
        assert_int_equal(wr == 0, pr == 0);
    }
    /* nesting: 64 levels are fine, 65 are not, for both */
    char deep[140];
    for (int levels = 64; levels <= 65; levels++) {
        for (int i = 0; i < levels; i++) {
            deep[i] = '[';
            deep[2 * levels - 1 - i] = ']';
        }
        struct jscan_reader r;
        struct jscan_val root;
        jscan_reader_init(&r, deep, (size_t)(2 * levels));
        int wr = walk(&r);
        if (wr == 0)
            wr = jscan_reader_end(&r);
        int pr = jscan_parse(deep, (size_t)(2 * levels), &root, NULL);
        assert_int_equal(wr, levels == 64 ? 0 : JSCAN_ERR_DEPTH);
        assert_int_equal(pr, levels == 64 ? 0 : JSCAN_ERR_DEPTH);
    }
}

/* ---- chunk shapes (struct dialect_shape) -------------------------------------------------- */

#define SH_PRE "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":7,\"model\":\"m\"," \
               "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":"
#define SH_SUF "},\"finish_reason\":null}]}"

/* Decodes `first` then `next` with one shape, and `next` alone; both results of `next` must
 * match field for field. Returns the shaped result's rc; its event and reason in *e / *why. */
static int shaped_pair(const char *first, const char *next, struct dialect_shape *sh,
                       struct buf *sc, struct dialect_event *e, const char **why)
{
    struct buf s0, s2;
    struct dialect_event e0, e2;
    const char *w0 = NULL, *w2 = NULL;
    buf_init(&s0, 1 << 20);
    buf_init(&s2, 1 << 20);
    if (first)
        dialect_decode_event_shaped(DIALECT_OPENAI_CHAT, NULL, 0, first, strlen(first), &e0, &s0,
                                    sh, &w0);
    int r1 = dialect_decode_event_shaped(DIALECT_OPENAI_CHAT, NULL, 0, next, strlen(next), e, sc,
                                         sh, why);
    int r2 = dialect_decode_event(DIALECT_OPENAI_CHAT, NULL, 0, next, strlen(next), &e2, &s2, &w2);
    assert_int_equal(r1, r2);
    assert_true((*why == NULL) == (w2 == NULL));
    if (w2)
        assert_string_equal(*why, w2);
    assert_int_equal(e->is_content, e2.is_content);
    assert_int_equal(e->is_role_only, e2.is_role_only);
    assert_int_equal(e->has_usage, e2.has_usage);
    assert_int_equal(e->text_len, e2.text_len);
    if (e->text_len)
        assert_memory_equal(e->text, e2.text, e->text_len);
    assert_int_equal(e->finish_reason_len, e2.finish_reason_len);
    if (e->finish_reason_len)
        assert_memory_equal(e->finish_reason, e2.finish_reason, e->finish_reason_len);
    buf_free(&s0);
    buf_free(&s2);
    return r1;
}

static void test_shape(void **state)
{
    (void)state;
    struct dialect_shape sh = {0};
    struct buf sc;
    struct dialect_event e;
    const char *why = NULL;
    buf_init(&sc, 1 << 20);
    const char *a = SH_PRE "\"Hel\"" SH_SUF;

    /* the first chunk leaves its shape: the bytes before and after its string */
    assert_int_equal(shaped_pair(NULL, a, &sh, &sc, &e, &why), 0);
    assert_true(sh.valid);
    assert_int_equal(sh.pre_len, strlen(SH_PRE));
    assert_memory_equal(sh.pre, SH_PRE, sh.pre_len);
    assert_int_equal(sh.suf_len, strlen(SH_SUF));
    assert_memory_equal(sh.suf, SH_SUF, sh.suf_len);
    /* same shape, new strings: plain, escaped (\n, é, a surrogate pair) */
    assert_int_equal(shaped_pair(a, SH_PRE "\"lo\"" SH_SUF, &sh, &sc, &e, &why), 0);
    assert_int_equal(e.text_len, 2);
    assert_memory_equal(e.text, "lo", 2);
    assert_int_equal(shaped_pair(a, SH_PRE "\"\\n\\u00e9\\ud83d\\ude00\"" SH_SUF, &sh, &sc, &e, &why), 0);
    assert_int_equal(e.text_len, 7);
    assert_memory_equal(e.text, "\n\xc3\xa9\xf0\x9f\x98\x80", 7);
    /* "" next to "role" is a role-only chunk, as on the full path */
    assert_int_equal(shaped_pair(a, SH_PRE "\"\"" SH_SUF, &sh, &sc, &e, &why), 0);
    assert_int_equal(e.is_role_only, 1);
    assert_int_equal(e.is_content, 0);
    /* broken strings are malformed with the full path's reason */
    assert_int_equal(shaped_pair(a, SH_PRE "\"a\x01b\"" SH_SUF, &sh, &sc, &e, &why),
                     DIALECT_ERR_MALFORMED);
    assert_int_equal(shaped_pair(a, SH_PRE "\"a\xff\"" SH_SUF, &sh, &sc, &e, &why),
                     DIALECT_ERR_MALFORMED);
    assert_int_equal(shaped_pair(a, SH_PRE "\"a\\q\"" SH_SUF, &sh, &sc, &e, &why),
                     DIALECT_ERR_MALFORMED);
    /* a string and more where the string was; something else than a string */
    assert_int_equal(shaped_pair(a, SH_PRE "\"a\",\"x\":\"b\"" SH_SUF, &sh, &sc, &e, &why), 0);
    assert_int_equal(e.text_len, 1);
    assert_int_equal(shaped_pair(a, SH_PRE "\"a\"\"b\"" SH_SUF, &sh, &sc, &e, &why),
                     DIALECT_ERR_MALFORMED);
    assert_int_equal(shaped_pair(a, SH_PRE "null" SH_SUF, &sh, &sc, &e, &why), 0);
    assert_int_equal(e.is_content, 0);
    /* the final chunk (finish_reason) does not match the shape and keeps it */
    const char *fin = SH_PRE "\"!\"},\"finish_reason\":\"stop\"}]}";
    assert_int_equal(shaped_pair(a, fin, &sh, &sc, &e, &why), 0);
    assert_int_equal(e.finish_reason_len, 4);
    assert_memory_equal(sh.suf, SH_SUF, sh.suf_len);
    /* a new prefix (created changed) takes the fast path and becomes the shape */
    const char *b2 = "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":8,"
                     "\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}"
                     "}]}";
    assert_int_equal(shaped_pair(NULL, b2, &sh, &sc, &e, &why), 0);
    assert_true(sh.valid);
    assert_non_null(memmem(sh.pre, sh.pre_len, "\"created\":8", 11));
    /* text from tool-call arguments is outside the content string: no shape from such a
     * chunk, whichever order content and tool_calls come in */
    dialect_shape_free(&sh);
    const char *tc1 = "{\"choices\":[{\"delta\":{\"content\":null,\"tool_calls\":[{\"index\":0,"
                      "\"function\":{\"arguments\":\"{\\\"\"}}]}}]}";
    const char *tc2 = "{\"choices\":[{\"delta\":{\"content\":\"hi\",\"tool_calls\":[{\"index\":0,"
                      "\"function\":{\"arguments\":\"{\\\"\"}}]}}]}";
    assert_int_equal(shaped_pair(tc1, tc2, &sh, &sc, &e, &why), 0);
    assert_false(sh.valid);
    assert_int_equal(e.text_len, 4);
    assert_memory_equal(e.text, "hi{\"", 4);
    const char *tc3 = "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{\"arguments\":\"x\"}}],"
                      "\"content\":\"\"}}]}";
    const char *tc4 = "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{\"arguments\":\"x\"}}],"
                      "\"content\":\"yy\"}}]}";
    assert_int_equal(shaped_pair(tc3, tc4, &sh, &sc, &e, &why), 0);
    assert_int_equal(e.text_len, 3);
    assert_memory_equal(e.text, "xyy", 3);
    /* chunks with two text values, usage or an error never become shapes */
    dialect_shape_free(&sh);
    assert_int_equal(shaped_pair(NULL, "{\"choices\":[{\"delta\":{\"reasoning_content\":\"r\","
                                       "\"content\":\"c\"}}]}", &sh, &sc, &e, &why), 0);
    assert_false(sh.valid);
    assert_int_equal(shaped_pair(NULL, "{\"choices\":[{\"text\":\"t\",\"finish_reason\":\"length\"}]}",
                                 &sh, &sc, &e, &why), 0);
    assert_false(sh.valid);
    dialect_shape_free(&sh);
    buf_free(&sc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seeds_agree),
        cmocka_unit_test(test_fast_path_values),
        cmocka_unit_test(test_mutations_agree),
        cmocka_unit_test(test_reader_matches_parse),
        cmocka_unit_test(test_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
