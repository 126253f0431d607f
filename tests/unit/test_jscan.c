/* test_jscan.c — the allocation-free JSON scanner (formats/dialect/jscan.h): grammar, errors with
 * offsets, truncation at every prefix, escapes and surrogates, numbers, lookups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "jscan.h"

static int parse(const char *s, struct jscan_val *v, size_t *off)
{
    return jscan_parse(s, strlen(s), v, off);
}

static void test_valid_documents(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "{}", "[]", " {\"a\" : [1, -2.5e+3, true, false, null, \"x\"] } ", "\"\"", "0", "-0",
        "1.5E10", "1e-2", "[[[]]]", "{\"\\u00e9\":{\"\":[]}}", "\"\\/\\b\\f\\n\\r\\t\\\"\\\\\"",
        "\"caf\xC3\xA9 \xF0\x9F\x98\x80\"", "\t\r\n[1]\n",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        struct jscan_val v;
        if (parse(ok[i], &v, NULL) != 0)
            fail_msg("rejected valid JSON: %s", ok[i]);
    }
    struct jscan_val v;
    assert_int_equal(parse(" [1, 2] ", &v, NULL), 0);
    assert_int_equal(v.type, JSCAN_ARRAY);
    assert_int_equal(v.len, 6);
    assert_memory_equal(v.p, "[1, 2]", 6);
    assert_int_equal(parse("\"a\\nb\"", &v, NULL), 0);
    assert_int_equal(v.type, JSCAN_STRING);
    assert_int_equal(v.len, 4); /* raw bytes between the quotes */
    assert_int_equal(v.escaped, 1);
}

static void test_invalid_documents(void **state)
{
    (void)state;
    static const struct { const char *s; int rc; size_t off; } bad[] = {
        { "", JSCAN_ERR_TRUNCATED, 0 },
        { "   ", JSCAN_ERR_TRUNCATED, 3 },
        { "{\"a\":1,}", JSCAN_ERR_SYNTAX, 7 },
        { "{a:1}", JSCAN_ERR_SYNTAX, 1 },
        { "[1 2]", JSCAN_ERR_SYNTAX, 3 },
        { "01", JSCAN_ERR_TRAILING, 1 },
        { "1.", JSCAN_ERR_TRUNCATED, 2 },
        { "1.x", JSCAN_ERR_SYNTAX, 2 },
        { ".5", JSCAN_ERR_SYNTAX, 0 },
        { "+1", JSCAN_ERR_SYNTAX, 0 },
        { "-", JSCAN_ERR_TRUNCATED, 1 },
        { "1e", JSCAN_ERR_TRUNCATED, 2 },
        { "1e+x", JSCAN_ERR_SYNTAX, 3 },
        { "tru", JSCAN_ERR_TRUNCATED, 3 },
        { "trux", JSCAN_ERR_SYNTAX, 3 },
        { "nul", JSCAN_ERR_TRUNCATED, 3 },
        { "\"a\\x\"", JSCAN_ERR_SYNTAX, 2 },
        { "\"\\u12G4\"", JSCAN_ERR_SYNTAX, 5 },
        { "\"a\nb\"", JSCAN_ERR_UTF8, 2 },            /* raw control byte */
        { "\"\xFF\"", JSCAN_ERR_UTF8, 1 },            /* invalid lead byte */
        { "\"\xC3\x28\"", JSCAN_ERR_UTF8, 1 },        /* bad continuation */
        { "\"\xC0\xAF\"", JSCAN_ERR_UTF8, 1 },        /* overlong */
        { "\"\xED\xA0\x80\"", JSCAN_ERR_UTF8, 1 },    /* UTF-16 surrogate in UTF-8 */
        { "\"\xF4\x90\x80\x80\"", JSCAN_ERR_UTF8, 1 }, /* above U+10FFFF */
        { "\"\xE2\x82", JSCAN_ERR_TRUNCATED, 1 },     /* cut inside a sequence */
        { "{} {}", JSCAN_ERR_TRAILING, 3 },
        { "{\"a\" 1}", JSCAN_ERR_SYNTAX, 5 },
        { "[,1]", JSCAN_ERR_SYNTAX, 1 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct jscan_val v;
        size_t off = 999;
        int rc = parse(bad[i].s, &v, &off);
        if (rc != bad[i].rc || off != bad[i].off)
            fail_msg("case %zu: got rc %d off %zu, want rc %d off %zu", i, rc, off, bad[i].rc,
                     bad[i].off);
        assert_int_equal(v.type, JSCAN_INVALID);
    }
    assert_string_equal(jscan_strerror(JSCAN_ERR_UTF8), "invalid UTF-8 or control byte in JSON string");
}

/* Every proper prefix of an object is truncated: an error, never a crash or a value. Each
 * prefix is copied to its own heap block so ASan catches any read past it. */
static void test_truncated_prefixes(void **state)
{
    (void)state;
    static const char doc[] =
        "{\"choices\":[{\"delta\":{\"content\":\"h\\u00e9\\ud83d\\ude00\"},\"n\":-1.5e3}],"
        "\"ok\":true,\"no\":false,\"nil\":null,\"s\":\"\xC3\xA9\"}";
    size_t len = sizeof doc - 1;
    struct jscan_val v;
    assert_int_equal(jscan_parse(doc, len, &v, NULL), 0);
    for (size_t n = 0; n < len; n++) {
        char *p = malloc(n ? n : 1);
        assert_non_null(p);
        memcpy(p, doc, n);
        int rc = jscan_parse(p, n, &v, NULL);
        if (rc != JSCAN_ERR_TRUNCATED)
            fail_msg("prefix of %zu bytes: rc %d", n, rc);
        free(p);
    }
}

static void test_depth_limit(void **state)
{
    (void)state;
    char deep[2 * JSCAN_MAX_DEPTH + 3];
    struct jscan_val v;
    size_t off;
    memset(deep, '[', JSCAN_MAX_DEPTH);
    memset(deep + JSCAN_MAX_DEPTH, ']', JSCAN_MAX_DEPTH);
    assert_int_equal(jscan_parse(deep, 2 * JSCAN_MAX_DEPTH, &v, NULL), 0);
    memset(deep, '[', JSCAN_MAX_DEPTH + 1);
    memset(deep + JSCAN_MAX_DEPTH + 1, ']', JSCAN_MAX_DEPTH + 1);
    assert_int_equal(jscan_parse(deep, 2 * JSCAN_MAX_DEPTH + 2, &v, &off), JSCAN_ERR_DEPTH);
    assert_int_equal(off, JSCAN_MAX_DEPTH);
}

static void unesc(const char *json, const char *want, size_t want_len)
{
    struct jscan_val v;
    struct buf b;
    assert_int_equal(parse(json, &v, NULL), 0);
    buf_init(&b, 1024);
    assert_int_equal(jscan_unescape(&v, &b), 0);
    assert_int_equal(b.len, want_len);
    assert_memory_equal(b.p, want, want_len);
    assert_true(b.len <= v.len);
    buf_free(&b);
}

static void test_unescape(void **state)
{
    (void)state;
    unesc("\"plain\"", "plain", 5);
    unesc("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", "a\"b\\c/d\b\f\n\r\t", 12);
    unesc("\"\\u0041\\u00e9\\u20AC\"", "A\xC3\xA9\xE2\x82\xAC", 6);
    unesc("\"\\ud83d\\ude00!\"", "\xF0\x9F\x98\x80!", 5);        /* surrogate pair */
    unesc("\"\\ud83dx\"", "\xEF\xBF\xBDx", 4);                   /* lone high → U+FFFD */
    unesc("\"\\ude00\"", "\xEF\xBF\xBD", 3);                      /* lone low → U+FFFD */
    unesc("\"\\ud83d\\u0041\"", "\xEF\xBF\xBD" "A", 4);          /* high + non-low */
    unesc("\"\\u0000\"", "\0", 1);
    /* not a string */
    struct jscan_val v;
    struct buf b;
    buf_init(&b, 16);
    assert_int_equal(parse("12", &v, NULL), 0);
    assert_int_equal(jscan_unescape(&v, &b), JSCAN_ERR_SYNTAX);
    /* the buffer cap is honoured */
    assert_int_equal(parse("\"0123456789abcdefXYZ\"", &v, NULL), 0);
    assert_int_equal(jscan_unescape(&v, &b), JSCAN_ERR_NOMEM);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void test_int64(void **state)
{
    (void)state;
    static const struct { const char *s; int rc; int64_t v; } cases[] = {
        { "0", 0, 0 }, { "12", 0, 12 }, { "-3", 0, -3 }, { "1e3", 0, 1000 }, { "12.0", 0, 12 },
        { "1.5", -1, 0 }, { "9223372036854775807", 0, INT64_MAX },
        { "-9223372036854775808", 0, INT64_MIN }, { "9223372036854775808", -1, 0 },
        { "99999999999999999999999", -1, 0 }, { "1e300", -1, 0 }, { "\"1\"", -1, 0 },
        { "true", -1, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct jscan_val v;
        int64_t out = 77;
        assert_int_equal(parse(cases[i].s, &v, NULL), 0);
        int rc = jscan_int64(&v, &out);
        if (rc != cases[i].rc || (rc == 0 && out != cases[i].v))
            fail_msg("%s: rc %d value %lld", cases[i].s, rc, (long long)out);
    }
}

static void test_lookup(void **state)
{
    (void)state;
    static const char doc[] =
        "{ \"id\" : \"x\", \"choices\" : [ {\"index\":0, \"delta\": {\"content\": \"Hi\"}}, "
        "{\"index\":1,\"delta\":{\"content\":null}} ], \"u\\u0073age\": {\"n\": [1, {\"k\": 2}]}, "
        "\"id\": \"second\" }";
    struct jscan_val root, v;
    assert_int_equal(parse(doc, &root, NULL), 0);
    assert_int_equal(jscan_get(&root, "id", &v), 1);
    assert_int_equal(v.type, JSCAN_STRING);
    assert_int_equal(v.len, 1); /* the first "id" wins */
    assert_int_equal(jscan_path(&root, "choices.0.delta.content", &v), 1);
    assert_int_equal(v.len, 2);
    assert_memory_equal(v.p, "Hi", 2);
    assert_int_equal(jscan_path(&root, "choices.1.delta.content", &v), 1);
    assert_int_equal(v.type, JSCAN_NULL);
    assert_int_equal(jscan_path(&root, "choices.2", &v), 0);
    assert_int_equal(jscan_path(&root, "choices.x", &v), 0);
    assert_int_equal(jscan_path(&root, "usage.n.1.k", &v), 1); /* escaped key matches */
    int64_t n = 0;
    assert_int_equal(jscan_int64(&v, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(jscan_get(&root, "missing", &v), 0);
    assert_int_equal(jscan_get(&v, "k", &v), 0); /* not an object */

    /* iteration sees every member in order */
    struct jscan_iter it;
    struct jscan_val k;
    int count = 0;
    jscan_iter_init(&it, &root);
    while (jscan_iter_next(&it, &k, &v) == 1)
        count++;
    assert_int_equal(count, 4);
    assert_true(jscan_key_is(&k, "id"));
    assert_false(jscan_key_is(&k, "i"));
    /* an empty container and a scalar */
    assert_int_equal(parse("[ ]", &root, NULL), 0);
    jscan_iter_init(&it, &root);
    assert_int_equal(jscan_iter_next(&it, NULL, &v), 0);
    assert_int_equal(parse("5", &root, NULL), 0);
    jscan_iter_init(&it, &root);
    assert_int_equal(jscan_iter_next(&it, NULL, &v), 0);
    assert_int_equal(jscan_index(&root, 0, &v), 0);
}

/* A tape gives the same answers as walking the bytes; a tape too small is abandoned. */
static void test_tape(void **state)
{
    (void)state;
    static const char doc[] =
        "{\"a\":[1,{\"b\":\"x\\ny\"},[],{}],\"c\":{\"d\":null,\"e\":true},\"f\":\"\"}";
    struct jscan_tape tape;
    struct jscan_tok toks[32];
    struct jscan_val root, v, w;
    assert_int_equal(jscan_parse_tape(doc, sizeof doc - 1, &tape, toks, 32, &root, NULL), 0);
    assert_ptr_equal(root.tape, &tape);
    /* root, a, [ 1 {b "x"} [] {} ], c, {d null e true}, f "" */
    assert_int_equal(tape.n, 1 + 2 + 1 + 1 + 2 + 1 + 1 + 2 + 4 + 2);
    assert_int_equal(toks[0].next, tape.n);
    assert_int_equal(jscan_path(&root, "a.1.b", &v), 1);
    assert_ptr_equal(v.tape, &tape);
    assert_int_equal(v.type, JSCAN_STRING);
    assert_int_equal(v.escaped, 1);
    assert_memory_equal(v.p, "x\\ny", 4);
    assert_int_equal(jscan_path(&root, "c.e", &v), 1);
    assert_int_equal(v.type, JSCAN_TRUE);
    assert_int_equal(jscan_path(&root, "a.3", &v), 1);
    assert_int_equal(v.type, JSCAN_OBJECT);
    assert_int_equal(v.len, 2);
    assert_int_equal(jscan_path(&root, "a.4", &v), 0);
    assert_int_equal(jscan_get(&root, "f", &v), 1);
    assert_int_equal(v.len, 0);
    /* the same walk without a tape */
    struct jscan_val plain;
    assert_int_equal(jscan_parse(doc, sizeof doc - 1, &plain, NULL), 0);
    assert_null(plain.tape);
    struct jscan_iter i1, i2;
    struct jscan_val k1, k2;
    jscan_iter_init(&i1, &root);
    jscan_iter_init(&i2, &plain);
    int n = 0;
    for (;;) {
        int r1 = jscan_iter_next(&i1, &k1, &v);
        int r2 = jscan_iter_next(&i2, &k2, &w);
        assert_int_equal(r1, r2);
        if (r1 != 1)
            break;
        assert_int_equal(k1.len, k2.len);
        assert_ptr_equal(k1.p, k2.p);
        assert_ptr_equal(v.p, w.p);
        assert_int_equal(v.len, w.len);
        assert_int_equal(v.type, w.type);
        n++;
    }
    assert_int_equal(n, 3);
    /* too small: parsed and validated, but lookups walk the bytes */
    assert_int_equal(jscan_parse_tape(doc, sizeof doc - 1, &tape, toks, 5, &root, NULL), 0);
    assert_null(root.tape);
    assert_int_equal(tape.overflow, 1);
    assert_int_equal(jscan_path(&root, "a.1.b", &v), 1);
    assert_memory_equal(v.p, "x\\ny", 4);
    /* errors are the same as jscan_parse's */
    size_t off;
    assert_int_equal(jscan_parse_tape("[1,", 3, &tape, toks, 32, &root, &off), JSCAN_ERR_TRUNCATED);
    assert_int_equal(off, 3);
    assert_null(root.tape);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_documents),
        cmocka_unit_test(test_invalid_documents),
        cmocka_unit_test(test_truncated_prefixes),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_unescape),
        cmocka_unit_test(test_int64),
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_tape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
