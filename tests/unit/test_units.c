/* test_units.c — command-line value parsing (formats/base/units.h) and the clock map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "clock.h"
#include "units.h"

static void test_durations(void **state)
{
    (void)state;
    int64_t us;
    assert_int_equal(units_parse_duration_us("30s", &us), 0);
    assert_int_equal(us, 30000000);
    assert_int_equal(units_parse_duration_us("500ms", &us), 0);
    assert_int_equal(us, 500000);
    assert_int_equal(units_parse_duration_us("250us", &us), 0);
    assert_int_equal(us, 250);
    assert_int_equal(units_parse_duration_us("1.5", &us), 0);
    assert_int_equal(us, 1500000);
    assert_int_equal(units_parse_duration_us("2m", &us), 0);
    assert_int_equal(us, 120000000);
    assert_int_equal(units_parse_duration_us("1h", &us), 0);
    assert_int_equal(us, 3600000000LL);
    assert_int_equal(units_parse_duration_us("", &us), -1);
    assert_int_equal(units_parse_duration_us("5x", &us), -1);
    assert_int_equal(units_parse_duration_us("-1s", &us), -1);
    assert_int_equal(units_parse_duration_us("1e30h", &us), -1);
    assert_int_equal(units_parse_duration_us("nan", &us), -1);
}

static void test_sizes_ints_lists(void **state)
{
    (void)state;
    uint64_t sz;
    assert_int_equal(units_parse_size("64k", &sz), 0);
    assert_int_equal(sz, 65536);
    assert_int_equal(units_parse_size("10MB", &sz), 0);
    assert_int_equal(sz, 10485760);
    assert_int_equal(units_parse_size("-1", &sz), -1);
    assert_int_equal(units_parse_size("3 MB", &sz), -1);

    int64_t v;
    assert_int_equal(units_parse_int64("42", 0, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(units_parse_int64("101", 0, 100, &v), -1);
    assert_int_equal(units_parse_int64("99999999999999999999", 0, INT64_MAX, &v), -1);
    assert_int_equal(units_parse_int64("4 ", 0, 100, &v), -1);

    int64_t l[8];
    size_t n;
    assert_int_equal(units_parse_int_list("1,2,4,64", 1, 100000, l, 8, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(l[3], 64);
    assert_int_equal(units_parse_int_list("1,,2", 1, 10, l, 8, &n), -1);
    assert_int_equal(units_parse_int_list("1,2,", 1, 10, l, 8, &n), -1);
    assert_int_equal(units_parse_int_list("0,1", 1, 10, l, 8, &n), -1);
    assert_int_equal(units_parse_int_list("1,2,3", 1, 10, l, 2, &n), -1);

    double d;
    assert_int_equal(units_parse_double("0.25", &d), 0);
    assert_true(d == 0.25);
    assert_int_equal(units_parse_double("inf", &d), -1);
}

static void test_format(void **state)
{
    (void)state;
    char s[32];
    units_format_duration(812, s, sizeof s);
    assert_string_equal(s, "812us");
    units_format_duration(12345, s, sizeof s);
    assert_string_equal(s, "12.3ms");
    units_format_duration(4560000, s, sizeof s);
    assert_string_equal(s, "4.56s");
    units_format_duration(192000000, s, sizeof s);
    assert_string_equal(s, "3m12s");
    clock_format_rfc3339(1700000000123456LL, s, sizeof s);
    assert_string_equal(s, "2023-11-14T22:13:20.123456Z");
}

static void test_clock_map(void **state)
{
    (void)state;
    struct clock_map m;
    clock_map_init(&m);
    int64_t mono = clock_mono_ns();
    int64_t e1 = clock_map_epoch_us(&m, mono);
    int64_t e2 = clock_epoch_us();
    /* the mapping agrees with the wall clock within 50 ms (generous: NTP slew, load) */
    assert_true(e2 - e1 < 50000 && e1 - e2 < 50000);
    /* and round-trips exactly at µs resolution */
    int64_t back = clock_map_mono_ns(&m, e1);
    assert_true(back / 1000 == mono / 1000 || back / 1000 == mono / 1000 - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_sizes_ints_lists),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_clock_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
