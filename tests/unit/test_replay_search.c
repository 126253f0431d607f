/* test_replay_search.c — --search's stage judgement and bracketing (replay/search.h) against
 * values computed by hand (the binomial orders with Python's math.comb): quantile confidence
 * intervals by order statistics, met / failed / undecided on each side of an SLO, failures
 * counted as never meeting, too few samples never "met", the Wilson interval of goodput, and
 * the search's sequence of stages for a known capacity, for an SLO nothing meets and for a
 * budget that runs out. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "search.h"

static struct slo_sample *ramp(size_t n)
{
    struct slo_sample *v = calloc(n, sizeof *v);
    for (size_t i = 0; i < n; i++) {
        v[i].ok = 1;
        v[i].ms[SLO_TTFT] = (double)(n - i); /* 1..n, shuffled order */
        v[i].ms[SLO_TPOT] = NAN;
        v[i].ms[SLO_E2E] = 10;
    }
    return v;
}

static void test_min_samples(void **state)
{
    (void)state;
    assert_int_equal(slo_min_samples(0.9, 0.05), 36);
    assert_int_equal(slo_min_samples(0.99, 0.05), 368);
}

static void judge_ttft(size_t n, double limit, struct slo_verdict *out)
{
    struct slo_sample *v = ramp(n);
    struct slo_target slo = {.quantile = 0.9, .alpha = 0.05};
    slo.limit_ms[SLO_TTFT] = limit;
    slo_judge(&slo, v, n, out);
    free(v);
}

static void test_quantile_verdicts(void **state)
{
    (void)state;
    struct slo_verdict r;
    /* n = 100, q = 0.9: orders 84 and 96, so the CI of p90 is [84, 96]; point 90.1 */
    judge_ttft(100, 100, &r);
    assert_int_equal(r.kind, SLO_MET);
    assert_true(fabs(r.est[SLO_TTFT].point - 90.1) < 1e-9);
    assert_true(r.est[SLO_TTFT].lo == 84 && r.est[SLO_TTFT].hi == 96);
    judge_ttft(100, 96, &r);
    assert_int_equal(r.kind, SLO_MET);
    judge_ttft(100, 95, &r);
    assert_int_equal(r.kind, SLO_UNDECIDED);
    assert_int_equal(r.deciding, SLO_TTFT);
    judge_ttft(100, 84, &r);
    assert_int_equal(r.kind, SLO_UNDECIDED);
    judge_ttft(100, 83.9, &r);
    assert_int_equal(r.kind, SLO_FAILED);
    /* 35 samples cannot bound p90 from above: never "met", however good */
    judge_ttft(35, 1e9, &r);
    assert_int_equal(r.kind, SLO_UNDECIDED);
    assert_true(isinf(r.est[SLO_TTFT].hi));
    assert_int_equal(r.min_n, 36);
    judge_ttft(36, 1e9, &r);
    assert_int_equal(r.kind, SLO_MET);
    /* TPOT has no SLO here and is not estimated */
    assert_int_equal(r.est[SLO_TPOT].present, 0);
}

static void test_failures_count_against(void **state)
{
    (void)state;
    struct slo_sample *v = ramp(100);
    for (int i = 0; i < 20; i++)
        v[i].ok = 0; /* the 20 slowest ramp values… are now failures: +Inf */
    struct slo_target slo = {.quantile = 0.9, .alpha = 0.05};
    slo.limit_ms[SLO_TTFT] = 1000;
    struct slo_verdict r;
    slo_judge(&slo, v, 100, &r);
    assert_int_equal(r.kind, SLO_FAILED);
    assert_true(isinf(r.est[SLO_TTFT].lo));
    assert_true(r.goodput == 0.8);
    free(v);
}

static void test_goodput(void **state)
{
    (void)state;
    struct slo_sample *v = ramp(100);
    struct slo_target slo = {.goodput_min = 0.8, .alpha = 0.05};
    slo.limit_ms[SLO_TTFT] = 90; /* 90 of 100 meet: Wilson CI [0.8256, 0.9448] */
    struct slo_verdict r;
    slo_judge(&slo, v, 100, &r);
    assert_true(r.goodput == 0.9);
    assert_true(fabs(r.goodput_lo - 0.8256343384950865) < 1e-9);
    assert_true(fabs(r.goodput_hi - 0.9447708629393249) < 1e-9);
    assert_int_equal(r.kind, SLO_MET);
    assert_int_equal(r.deciding, -1);
    slo.goodput_min = 0.9;
    slo_judge(&slo, v, 100, &r);
    assert_int_equal(r.kind, SLO_UNDECIDED);
    slo.goodput_min = 0.95;
    slo_judge(&slo, v, 100, &r);
    assert_int_equal(r.kind, SLO_FAILED);
    free(v);
}

/* Runs the search against "met up to cap" and returns the stages it ran. */
static int run_search(struct search_state *s, double start, double cap, double *seq, int max)
{
    int n = 0;
    double x = start;
    while (x > 0 && n < max) {
        seq[n++] = x;
        x = search_next(s, x, x <= cap ? SLO_MET : SLO_FAILED);
    }
    return n;
}

static void test_bracketing(void **state)
{
    (void)state;
    struct search_state s;
    double seq[32];
    search_init(&s, 1, 1, 2, 0.05, 20);
    int n = run_search(&s, 1, 12, seq, 32);
    double want[] = {1, 2, 4, 8, 16, 12, 14, 13};
    assert_int_equal(n, 8);
    for (int i = 0; i < n; i++)
        assert_true(seq[i] == want[i]);
    assert_true(s.lo == 12 && s.hi == 13);

    /* nothing meets: the probe fails and the search walks down to 1, then stops */
    search_init(&s, 1, 8, 2, 0.05, 20);
    n = run_search(&s, 8, 0, seq, 32);
    double down[] = {8, 4, 2, 1};
    assert_int_equal(n, 4);
    for (int i = 0; i < n; i++)
        assert_true(seq[i] == down[i]);
    assert_true(s.lo == 0);

    /* rates: bisect until within 5 % */
    search_init(&s, 0, 1, 2, 0.05, 30);
    n = run_search(&s, 1, 10, seq, 32);
    assert_true(s.lo <= 10 && s.hi > 10 && (s.hi - s.lo) / s.lo <= 0.05);
    assert_true(n < 15);

    /* the budget ends it */
    search_init(&s, 1, 1, 2, 0.05, 3);
    n = run_search(&s, 1, 100, seq, 32);
    assert_int_equal(n, 3);
}

/* --slo: a bare number is milliseconds (as vLLM's --goodput), never seconds; suffixes convert;
 * anything else is refused with a reason. */
static void test_parse_slo(void **state)
{
    (void)state;
    struct slo_target slo;
    char err[200];
    memset(&slo, 0, sizeof slo);
    assert_int_equal(search_parse_slo("ttft=500", &slo, err, sizeof err), 0);
    assert_true(slo.limit_ms[SLO_TTFT] == 500);
    memset(&slo, 0, sizeof slo);
    assert_int_equal(search_parse_slo("ttft=2s,tpot=50ms,e2e=1500us", &slo, err, sizeof err), 0);
    assert_true(slo.limit_ms[SLO_TTFT] == 2000);
    assert_true(slo.limit_ms[SLO_TPOT] == 50);
    assert_true(slo.limit_ms[SLO_E2E] == 1.5);
    const char *bad[] = {"ttft=500x", "ttft=", "ttft=-1", "speed=3", "ttft"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = 0;
        assert_int_equal(search_parse_slo(bad[i], &slo, err, sizeof err), -1);
        assert_true(err[0] != 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_min_samples),
        cmocka_unit_test(test_quantile_verdicts),
        cmocka_unit_test(test_failures_count_against),
        cmocka_unit_test(test_goodput),
        cmocka_unit_test(test_bracketing),
        cmocka_unit_test(test_parse_slo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
