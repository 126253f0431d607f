/* test_tlog.c — trace log writer, reader and record model (formats/tlog.h, SCHEMA.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tlog.h"

static void test_placeholder(void **state)
{
    (void)state;
    assert_string_equal(tlog_error_kind_name(TLOG_ERROR_RESET), "reset");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_placeholder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
