/* test_ndjson.c — the NDJSON line splitter (formats/wire/ndjson.h), fed whole, byte by byte and
 * split at every byte boundary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "ndjson.h"

static int record_cb(void *user, const char *line, size_t len)
{
    struct buf *o = user;
    buf_append(o, line, len);
    buf_append_char(o, ';');
    return 0;
}

static int run(const char *in, size_t len, const size_t *cuts, size_t ncuts, size_t max,
               struct buf *out)
{
    struct ndjson_decoder d;
    ndjson_init(&d, max);
    buf_reset(out);
    buf_append(out, "", 0);
    size_t at = 0;
    int rc = 0;
    for (size_t i = 0; i <= ncuts && rc == 0; i++) {
        size_t next = i < ncuts ? cuts[i] : len;
        rc = ndjson_feed(&d, in + at, next - at, record_cb, out);
        at = next;
    }
    if (rc == 0)
        rc = ndjson_finish(&d, record_cb, out);
    ndjson_free(&d);
    return rc;
}

static void check(const char *in, size_t len, const char *want)
{
    struct buf out;
    buf_init(&out, 1 << 16);
    assert_int_equal(run(in, len, NULL, 0, 64, &out), 0);
    assert_string_equal(out.p, want);
    size_t *cuts = malloc((len + 1) * sizeof *cuts);
    assert_non_null(cuts);
    for (size_t i = 0; i + 1 < len; i++)
        cuts[i] = i + 1;
    assert_int_equal(run(in, len, cuts, len ? len - 1 : 0, 64, &out), 0);
    assert_string_equal(out.p, want);
    for (size_t i = 1; i < len; i++) {
        assert_int_equal(run(in, len, &i, 1, 64, &out), 0);
        if (strcmp(out.p, want) != 0)
            fail_msg("split at %zu: want \"%s\" got \"%s\"", i, want, out.p);
    }
    free(cuts);
    buf_free(&out);
}

#define CHECK(in, want) check((in), sizeof(in) - 1, (want))

static void test_lines(void **state)
{
    (void)state;
    CHECK("{\"a\":1}\n{\"b\":2}\n", "{\"a\":1};{\"b\":2};");
    /* CRLF, blank and whitespace-only lines, a last line without LF */
    CHECK("{\"a\":1}\r\n\r\n  \n\n{\"b\":2}", "{\"a\":1};{\"b\":2};");
    /* a CR inside a line is kept; only the one before LF goes */
    CHECK("a\rb\r\n", "a\rb;");
    CHECK("", "");
    CHECK("\n\n", "");
}

static void test_counters(void **state)
{
    (void)state;
    struct ndjson_decoder d;
    struct buf out;
    buf_init(&out, 256);
    ndjson_init(&d, 64);
    assert_int_equal(ndjson_feed(&d, "x\n\ny\nz", 6, record_cb, &out), 0);
    assert_int_equal(d.lines, 2);
    assert_int_equal(d.pos, 6);
    assert_int_equal(ndjson_finish(&d, record_cb, &out), 0);
    assert_int_equal(d.lines, 3);
    assert_string_equal(out.p, "x;y;z;");
    ndjson_free(&d);
    buf_free(&out);
}

static void test_cap(void **state)
{
    (void)state;
    struct buf out;
    buf_init(&out, 256);
    static const char in[] = "0123456789\n0123456789ABCDEFG\nok\n";
    /* 17 bytes over a 16-byte cap: whole, and cut inside the long line */
    assert_int_equal(run(in, sizeof in - 1, NULL, 0, 16, &out), NDJSON_ERR_LINE_TOO_LONG);
    assert_string_equal(out.p, "0123456789;");
    size_t cut = 15;
    assert_int_equal(run(in, sizeof in - 1, &cut, 1, 16, &out), NDJSON_ERR_LINE_TOO_LONG);
    assert_string_equal(out.p, "0123456789;");
    /* sticky */
    struct ndjson_decoder d;
    ndjson_init(&d, 16);
    assert_int_equal(ndjson_feed(&d, in, sizeof in - 1, NULL, NULL), NDJSON_ERR_LINE_TOO_LONG);
    assert_int_equal(ndjson_feed(&d, "a\n", 2, NULL, NULL), NDJSON_ERR_LINE_TOO_LONG);
    assert_int_equal(ndjson_finish(&d, NULL, NULL), NDJSON_ERR_LINE_TOO_LONG);
    ndjson_free(&d);
    buf_free(&out);
}

static int stop_cb(void *user, const char *line, size_t len)
{
    (void)line;
    (void)len;
    int *n = user;
    return ++*n == 2 ? 7 : 0;
}

static void test_callback_stops(void **state)
{
    (void)state;
    struct ndjson_decoder d;
    int n = 0;
    ndjson_init(&d, 64);
    assert_int_equal(ndjson_feed(&d, "a\nb\nc\n", 6, stop_cb, &n), NDJSON_ERR_CALLBACK);
    assert_int_equal(n, 2);
    ndjson_free(&d);
    /* finish returns the callback's own result */
    n = 1;
    ndjson_init(&d, 64);
    assert_int_equal(ndjson_feed(&d, "tail", 4, stop_cb, &n), 0);
    assert_int_equal(ndjson_finish(&d, stop_cb, &n), 7);
    ndjson_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_counters),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_callback_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
