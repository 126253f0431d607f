/* test_sim_profile.c — llmtrace-sim's step-time profiles (sim/profile.h): CSV parsing with
 * averaging of repeated rows, interpolation/extrapolation over batch and prompt sizes, the
 * built-in default and zero profiles, and --profile resolution. Expected values by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profile.h"

/* Columns out of the usual order and one extra, to prove the header mapping. */
static const char csv_small[] =
    "hardware,model,prompt_size,batch_size,token_size,prompt_time,token_time,extra\n"
    "h1,m1,100,1,128,10,30,x\n"
    "h1,m1,100,1,128,12,32,x\n"
    "h1,m1,300,1,256,51,34,x\r\n"
    "h1,m1,100,4,128,999,44,x\n"
    "h1,m1,100,8,128,999,52,x\n"
    "h2,m1,100,1,128,1,1,x\n"
    "h1,m2,100,1,128,1,1,x\n"
    "\n";

static void test_csv_averages_and_interpolates(void **state)
{
    struct profile p;
    char err[128] = "";
    (void)state;
    assert_int_equal(profile_parse_csv(&p, csv_small, strlen(csv_small), "m1", "h1", err,
                                       sizeof(err)), 0);
    assert_int_equal(p.kind, PROFILE_TABLE);
    assert_string_equal(p.name, "m1/h1");
    assert_int_equal(p.n_decode, 3);  /* batch 1, 4, 8 */
    assert_int_equal(p.n_prefill, 2); /* prompt 100, 300 (batch 1 only) */
    /* decode(1) = mean(30, 32, 34) = 32 */
    assert_float_equal(profile_decode_ms(&p, 1), 32.0, 1e-12);
    /* decode(2) = 32 + (44 - 32) * (2 - 1) / (4 - 1) = 36 */
    assert_float_equal(profile_decode_ms(&p, 2), 36.0, 1e-12);
    assert_float_equal(profile_decode_ms(&p, 4), 44.0, 1e-12);
    assert_float_equal(profile_decode_ms(&p, 6), 48.0, 1e-12);
    assert_float_equal(profile_decode_ms(&p, 8), 52.0, 1e-12);
    /* beyond the table: last slope (52 - 44) / 4 = 2 per sequence → 52 + 8 * 2 = 68 */
    assert_float_equal(profile_decode_ms(&p, 16), 68.0, 1e-12);
    /* prefill(100) = mean(10, 12) = 11; prefill(300) = 51 */
    assert_float_equal(profile_prefill_ms(&p, 0), 0.0, 1e-12);
    assert_float_equal(profile_prefill_ms(&p, 50), 5.5, 1e-12);   /* 11 * 50 / 100 */
    assert_float_equal(profile_prefill_ms(&p, 100), 11.0, 1e-12);
    assert_float_equal(profile_prefill_ms(&p, 200), 31.0, 1e-12); /* halfway 11 → 51 */
    assert_float_equal(profile_prefill_ms(&p, 500), 91.0, 1e-12); /* 51 + 200 * 0.2 */
    /* step = K decode steps + prefill: (36 + 31) ms; 3 * 44 ms */
    assert_int_equal(profile_step_ns(&p, 2, 1, 200), 67000000);
    assert_int_equal(profile_step_ns(&p, 4, 3, 0), 132000000);
}

static void test_csv_errors(void **state)
{
    struct profile p;
    char err[128];
    static const char no_col[] = "model,hardware,prompt_size,batch_size,token_size,prompt_time\n"
                                 "m,h,1,1,1,1\n";
    static const char bad_num[] = "model,hardware,prompt_size,batch_size,token_size,prompt_time,"
                                  "token_time\nm,h,1,1,1,1,abc\n";
    static const char no_b1[] = "model,hardware,prompt_size,batch_size,token_size,prompt_time,"
                                "token_time\nm,h,100,2,1,1,1\n";
    (void)state;
    assert_int_equal(profile_parse_csv(&p, no_col, strlen(no_col), "m", "h", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "token_time"));
    assert_int_equal(profile_parse_csv(&p, bad_num, strlen(bad_num), "m", "h", err, sizeof(err)), -1);
    assert_string_equal(err, "line 2: bad token_time");
    assert_int_equal(profile_parse_csv(&p, no_b1, strlen(no_b1), "m", "h", err, sizeof(err)), -1);
    assert_int_equal(profile_parse_csv(&p, csv_small, strlen(csv_small), "m9", "h1", err,
                                       sizeof(err)), -1);
    assert_string_equal(err, "no rows for m9/h1 (with batch_size 1)");
    assert_int_equal(profile_parse_csv(&p, "", 0, "m", "h", err, sizeof(err)), -1);
}

static void test_default_and_zero(void **state)
{
    struct profile p;
    (void)state;
    profile_init_default(&p);
    /* 2 + 32/16 = 4 ms at b = 32: 32 tokens per 4 ms = 8,000 tokens/s */
    assert_float_equal(profile_decode_ms(&p, 32), 4.0, 1e-12);
    assert_int_equal(profile_step_ns(&p, 32, 1, 0), 4000000);
    /* b = 1: 2.0625 ms + 100 prompt tokens * 5 µs = 2.5625 ms */
    assert_int_equal(profile_step_ns(&p, 1, 1, 100), 2562500);
    assert_int_equal(profile_step_ns(&p, 16, 2, 0), 6000000); /* 2 * 3 ms */
    profile_init_zero(&p);
    assert_int_equal(profile_step_ns(&p, 32, 4, 1000), 0);
}

static void test_resolve(void **state)
{
    struct profile p;
    char err[256], path[] = "/tmp/test_sim_profile_XXXXXX";
    char spec[512];
    int fd;
    (void)state;
    assert_int_equal(profile_resolve(&p, "zero", err, sizeof(err)), 0);
    assert_int_equal(p.kind, PROFILE_ZERO);
    assert_int_equal(profile_resolve(&p, "default", err, sizeof(err)), 0);
    assert_int_equal(p.kind, PROFILE_LINEAR);
    /* built-in splitwise-sim rows: means computed with Python over sim/profiles/perf_model.csv */
    assert_int_equal(profile_resolve(&p, "llama2-70b/h100-80gb", err, sizeof(err)), 0);
    assert_int_equal(p.n_decode, 7);
    assert_int_equal(p.n_prefill, 7);
    assert_float_equal(profile_decode_ms(&p, 1), 32.36280894682453, 1e-9);
    assert_float_equal(profile_decode_ms(&p, 32), 42.67985719106993, 1e-9);
    assert_float_equal(profile_decode_ms(&p, 48), (42.67985719106993 + 48.08516661926121) / 2, 1e-9);
    assert_float_equal(profile_prefill_ms(&p, 512), 66.98528381616428, 1e-9);
    assert_float_equal(profile_prefill_ms(&p, 768), (66.98528381616428 + 114.14116093656048) / 2,
                       1e-9);
    /* linear:A,C,P — capacity 16 / (1 + 16 * 0.5) ms = 1,777.8 tokens/s at b = 16 */
    assert_int_equal(profile_resolve(&p, "linear:1,0.5,0.01", err, sizeof(err)), 0);
    assert_int_equal(p.kind, PROFILE_LINEAR);
    assert_string_equal(p.name, "linear:1,0.5,0.01");
    assert_int_equal(profile_step_ns(&p, 16, 1, 100), 10000000); /* 1 + 8 + 1 ms */
    assert_int_equal(profile_resolve(&p, "linear:1,0.5", err, sizeof(err)), -1);
    assert_int_equal(profile_resolve(&p, "linear:1,-0.5,0", err, sizeof(err)), -1);
    assert_int_equal(profile_resolve(&p, "linear:0,0,1", err, sizeof(err)), -1);
    assert_int_equal(profile_resolve(&p, "linear:1,2,3x", err, sizeof(err)), -1);
    assert_int_equal(profile_resolve(&p, "bloom-176b/a100-80gb", err, sizeof(err)), 0);
    assert_int_equal(profile_resolve(&p, "nosuch/h100-80gb", err, sizeof(err)), -1);
    assert_int_equal(profile_resolve(&p, "fast", err, sizeof(err)), -1);
    assert_int_equal(profile_resolve(&p, "x/", err, sizeof(err)), -1);
    /* FILE.csv:MODEL/HW */
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, csv_small, strlen(csv_small)), (ssize_t)strlen(csv_small));
    close(fd);
    snprintf(spec, sizeof(spec), "%s:m1/h1", path);
    assert_int_equal(profile_resolve(&p, spec, err, sizeof(err)), 0);
    assert_float_equal(profile_decode_ms(&p, 2), 36.0, 1e-12);
    unlink(path);
    assert_int_equal(profile_resolve(&p, spec, err, sizeof(err)), -1); /* file gone */
    assert_non_null(strstr(err, path));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_averages_and_interpolates),
        cmocka_unit_test(test_csv_errors),
        cmocka_unit_test(test_default_and_zero),
        cmocka_unit_test(test_resolve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
