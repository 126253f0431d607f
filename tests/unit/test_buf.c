/* test_buf.c — the capped buffer and JSON string escaping (formats/buf.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static void test_append_and_cap(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 8);
    assert_int_equal(buf_append(&b, "abcd", 4), 0);
    assert_int_equal(buf_append_str(&b, "efgh"), 0);
    assert_int_equal(b.len, 8);
    assert_string_equal(b.p, "abcdefgh");
    /* one byte past the cap is refused and leaves the buffer unchanged */
    assert_int_equal(buf_append_char(&b, 'x'), BUF_ERR_TOO_BIG);
    assert_int_equal(b.len, 8);
    assert_string_equal(b.p, "abcdefgh");
    buf_consume(&b, 3);
    assert_string_equal(b.p, "defgh");
    buf_consume(&b, 100);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.p, "");
    buf_free(&b);
    buf_free(&b); /* twice is fine */
}

static void test_printf_grows(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1 << 20);
    char big[600];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(buf_printf(&b, "[%d:%s]", 42, big), 0);
    assert_int_equal(b.len, 4 + 599 + 1);
    assert_memory_equal(b.p, "[42:zz", 6);
    assert_int_equal(b.p[b.len - 1], ']');
    char *s = buf_steal(&b);
    assert_non_null(s);
    assert_null(b.p);
    free(s);
}

static void test_json_escape(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1024);
    const char in[] = "a\"b\\c\n\t\x01 \xC3\xA9 \xF0\x9F\x98\x80 \xFF \xC3";
    assert_int_equal(buf_append_json_str(&b, in, sizeof in - 1), 0);
    /* é and 😀 pass through; lone 0xFF and a truncated sequence become U+FFFD */
    assert_string_equal(b.p, "a\\\"b\\\\c\\n\\t\\u0001 \xC3\xA9 \xF0\x9F\x98\x80 \xEF\xBF\xBD \xEF\xBF\xBD");
    buf_reset(&b);
    /* surrogates encoded in UTF-8 (invalid) and overlongs are replaced */
    assert_int_equal(buf_append_json_str(&b, "\xED\xA0\x80\xC0\xAF", 5), 0);
    assert_string_equal(b.p, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    buf_reset(&b);
    assert_int_equal(buf_append_json_str(&b, "", 0), 0);
    assert_non_null(b.p);
    assert_string_equal(b.p, "");
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_cap),
        cmocka_unit_test(test_printf_grows),
        cmocka_unit_test(test_json_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
