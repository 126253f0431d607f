/* test_buf.c — the capped buffer and JSON string escaping (formats/base/buf.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* Whole files: exact contents (NULs included), a file exactly at the cap, one byte over it,
 * a missing file with errno kept, and growth past the 64 KiB read size. */
static void test_append_file(void **state)
{
    (void)state;
    char path[] = "/tmp/llmtrace-test-buf-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static char big[200000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)(i % 251);
    assert_int_equal(write(fd, big, sizeof big), (ssize_t)sizeof big);
    close(fd);
    struct buf b;
    buf_init(&b, sizeof big);
    assert_int_equal(buf_append_file(&b, path), 0);
    assert_int_equal(b.len, sizeof big);
    assert_memory_equal(b.p, big, sizeof big);
    assert_int_equal(b.p[b.len], 0);
    buf_free(&b);
    buf_init(&b, sizeof big - 1);
    assert_int_equal(buf_append_file(&b, path), BUF_ERR_TOO_BIG);
    buf_free(&b);
    buf_init(&b, 1 << 20);
    assert_int_equal(buf_append_str(&b, "x"), 0); /* appends after what is there */
    assert_int_equal(buf_append_file(&b, path), 0);
    assert_int_equal(b.len, sizeof big + 1);
    assert_memory_equal(b.p + 1, big, sizeof big);
    buf_free(&b);
    unlink(path);
    errno = 0;
    assert_int_equal(buf_append_file(&b, path), BUF_ERR_IO);
    assert_int_equal(errno, ENOENT);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_cap),
        cmocka_unit_test(test_append_file),
        cmocka_unit_test(test_printf_grows),
        cmocka_unit_test(test_json_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
