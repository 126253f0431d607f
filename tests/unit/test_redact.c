/* test_redact.c — credentials removed from URLs (formats/tlog/redact.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "redact.h"

static void check(const char *in, const char *want)
{
    char *got = redact_url(in);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_redact_url(void **state)
{
    (void)state;
    check("http://127.0.0.1:8000", "http://127.0.0.1:8000");
    check("https://u:p@w@h.example/v1?x=1", "https://h.example/v1?x=1");
    check("http://h/p?api-key=S&x=1&TOKEN=T#sig=Z", "http://h/p?api-key=<redacted>&x=1&TOKEN=<redacted>#sig=<redacted>");
    check("--url=http://a:b@h?key=1", "--url=http://h?key=<redacted>");
    check("http://h/p?keyring=1&key", "http://h/p?keyring=1&key"); /* names must match whole */
    check("http://h?=&&?", "http://h?=&&?");
    check("", "");
    assert_true(redact_url_param_is_secret("Api-Key", 7));
    assert_false(redact_url_param_is_secret("api", 3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redact_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
