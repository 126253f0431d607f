/* test_analyze.c — llmtrace-analyze's metric engine and statistics (analyze/metrics.h,
 * analyze/stats.h) against values computed by hand from analyze/README.md "Metric definitions" and
 * NumPy's linear-interpolation percentiles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "report.h"
#include "server.h"
#include "stats.h"
#include "tlog.h"

#define T0 1700000000000000LL

#define assert_near(a, b, tol)                                                                 \
    do {                                                                                       \
        double a_ = (a), b_ = (b);                                                             \
        if (!(fabs(a_ - b_) <= (tol))) {                                                       \
            print_error("%s = %.9g, expected %.9g (tol %g)\n", #a, a_, b_, (double)(tol));     \
            fail();                                                                            \
        }                                                                                      \
    } while (0)

/* ---- statistics -------------------------------------------------------------------------- */

static void test_percentiles_reference(void **state)
{
    (void)state;
    /* numpy.percentile(ref, p) (method="linear"), evaluated by hand from the definition. */
    double ref[] = {3.2, 1.5, 9.75, 4.0, 4.0, 12.5, 0.25, 7.125, 6.0, 2.5, 100.0, 8.0, 5.5};
    size_t n = sizeof ref / sizeof ref[0];
    stats_sort(ref, n);
    assert_near(stats_percentile_sorted(ref, n, 0), 0.25, 1e-12);
    assert_near(stats_percentile_sorted(ref, n, 10), 1.7, 1e-12);
    assert_near(stats_percentile_sorted(ref, n, 25), 3.2, 1e-12);
    assert_near(stats_percentile_sorted(ref, n, 50), 5.5, 1e-12);
    assert_near(stats_percentile_sorted(ref, n, 75), 8.0, 1e-12);
    assert_near(stats_percentile_sorted(ref, n, 90), 11.95, 1e-9);
    assert_near(stats_percentile_sorted(ref, n, 95), 47.5, 1e-9);
    assert_near(stats_percentile_sorted(ref, n, 99), 89.5, 1e-9);
    assert_near(stats_percentile_sorted(ref, n, 99.9), 98.95, 1e-9);
    assert_near(stats_percentile_sorted(ref, n, 100), 100.0, 1e-12);
    double small[] = {50, 15, 40, 20, 35};
    struct stats_dist d;
    stats_summarize(small, 5, &d);
    assert_int_equal(d.n, 5);
    assert_near(d.mean, 32, 1e-12);
    assert_near(d.p50, 35, 1e-12);
    assert_near(d.p90, 46, 1e-12);
    assert_near(d.p99, 49.6, 1e-12);
    assert_near(d.stddev, sqrt(830.0 / 4), 1e-9); /* ddof = 1: Σ(x-32)² = 830 */
    assert_near(stats_percentile_sorted(small, 5, 40), 29, 1e-12);
    double one[] = {7};
    stats_summarize(one, 1, &d);
    assert_near(d.p999, 7, 0);
    assert_near(d.stddev, 0, 0);
    stats_summarize(NULL, 0, &d);
    assert_true(isnan(d.p50) && d.n == 0);
}

static void test_sort_patterns(void **state)
{
    (void)state;
    enum { N = 5000 };
    double *v = malloc(N * sizeof *v);
    assert_non_null(v);
    uint64_t r = 99;
    for (int pattern = 0; pattern < 5; pattern++) {
        for (size_t n = 0; n <= N; n = n ? n * 3 + 1 : 1) {
            double sum = 0, check = 0;
            for (size_t i = 0; i < n; i++) {
                r = r * 6364136223846793005ULL + 1442695040888963407ULL;
                v[i] = pattern == 0 ? (double)(r >> 61)          /* few distinct values */
                       : pattern == 1 ? (double)i                /* sorted */
                       : pattern == 2 ? (double)(n - i)          /* reversed */
                       : pattern == 3 ? 4.0                      /* all equal */
                                      : (double)(r >> 11) / 9007199254740992.0;
                sum += v[i];
            }
            stats_sort(v, n);
            for (size_t i = 0; i < n; i++) {
                if (i)
                    assert_true(v[i - 1] <= v[i]);
                check += v[i];
            }
            assert_near(check, sum, 1e-6 * (sum > 1 ? sum : 1)); /* a permutation */
        }
    }
    free(v);
}

static void test_hist_relative_error(void **state)
{
    (void)state;
    struct hist h;
    hist_init(&h);
    enum { N = 20000 };
    double *v = malloc(N * sizeof *v);
    assert_non_null(v);
    uint64_t s = 12345;
    for (int i = 0; i < N; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        /* log-uniform over 1 µs … 10 s */
        v[i] = exp(((double)(s >> 11) / 9007199254740992.0) * log(1e7));
        assert_int_equal(hist_record(&h, v[i], 1), 0);
    }
    struct stats_dist hd, ed;
    hist_summarize(&h, &hd);
    stats_summarize(v, N, &ed);
    assert_int_equal(hd.n, N);
    assert_near(hd.min, ed.min, 0);
    assert_near(hd.max, ed.max, 0);
    assert_near(hd.mean, ed.mean, ed.mean * 1e-9);
    double pe[] = {ed.p50, ed.p90, ed.p95, ed.p99, ed.p999};
    double ph[] = {hd.p50, hd.p90, hd.p95, hd.p99, hd.p999};
    for (int i = 0; i < 5; i++)
        assert_true(fabs(ph[i] - pe[i]) <= pe[i] * 0.001);
    /* Every single value is represented within 0.1 %. */
    for (int i = 0; i < N; i += 97) {
        struct hist one;
        hist_init(&one);
        hist_record(&one, v[i], 1);
        hist_record(&one, v[i], 1);
        struct stats_dist od;
        hist_summarize(&one, &od);
        assert_true(fabs(od.p50 - v[i]) <= v[i] * 0.001);
        hist_free(&one);
    }
    /* merge = recording both */
    struct hist h2;
    hist_init(&h2);
    hist_record(&h2, 0, 3);
    assert_int_equal(hist_merge(&h2, &h), 0);
    assert_int_equal(h2.n, N + 3);
    assert_int_equal(h2.zero, 3);
    hist_free(&h2);
    hist_free(&h);
    free(v);
}

static void test_mann_whitney(void **state)
{
    (void)state;
    double a[] = {1, 2, 3, 4, 5}, b[] = {6, 7, 8, 9, 10}, u;
    /* U = 0; z = (12.5 - 0.5) / sqrt(25/12 * 11); p = erfc(z / sqrt 2) */
    assert_near(stats_mann_whitney(a, 5, b, 5, &u), 0.012185780355344818, 1e-12);
    assert_near(u, 0, 0);
    /* ties: ranks averaged, variance tie-corrected (scipy asymptotic, continuity on) */
    double c[] = {1, 2, 2, 3, 5}, d[] = {2, 3, 3, 4, 6, 7};
    assert_near(stats_mann_whitney(c, 5, d, 6, &u), 0.16304505585423731, 1e-12);
    assert_near(u, 7, 0);
    double e[] = {4, 4, 4};
    assert_near(stats_mann_whitney(e, 3, e, 3, &u), 1.0, 0);
    assert_near(stats_mann_whitney(e, 0, e, 3, &u), 1.0, 0);
}

static void test_bootstrap_seeded(void **state)
{
    (void)state;
    enum { N = 400 };
    double a[N], b[N], scratch[N];
    for (int i = 0; i < N; i++) {
        a[i] = 100 + (i * 37 % N) * 0.1;      /* 100 … 139.9 */
        b[i] = 110 + (i * 53 % N) * 0.1;      /* shifted by +10 */
    }
    stats_sort(a, N);
    stats_sort(b, N);
    struct stats_rng r1, r2, r3;
    double lo1, hi1, lo2, hi2, lo3, hi3;
    stats_rng_seed(&r1, 7);
    stats_rng_seed(&r2, 7);
    stats_rng_seed(&r3, 8);
    assert_int_equal(stats_bootstrap_diff(a, N, b, N, 50, 500, &r1, scratch, &lo1, &hi1), 0);
    assert_int_equal(stats_bootstrap_diff(a, N, b, N, 50, 500, &r2, scratch, &lo2, &hi2), 0);
    assert_int_equal(stats_bootstrap_diff(a, N, b, N, 50, 500, &r3, scratch, &lo3, &hi3), 0);
    assert_true(lo1 == lo2 && hi1 == hi2);     /* same seed → same interval, bit for bit */
    assert_true(lo1 != lo3 || hi1 != hi3);     /* another seed → another resampling */
    assert_true(lo1 <= 10 && 10 <= hi1);       /* the true shift is inside */
    assert_true(lo1 > 5 && hi1 < 15);
    assert_int_equal(stats_bootstrap_diff(a, 0, b, N, 50, 500, &r1, scratch, &lo1, &hi1), -1);
    /* one-sample: CI of the median of a constant is that constant */
    double k[10] = {3, 3, 3, 3, 3, 3, 3, 3, 3, 3};
    assert_int_equal(stats_bootstrap_one(k, 10, 50, 100, &r1, scratch, &lo1, &hi1), 0);
    assert_near(lo1, 3, 0);
    assert_near(hi1, 3, 0);
}

/* ---- metrics on handcrafted exchanges --------------------------------------------------- */

static void ev(struct tlog_exchange *x, int64_t off, int tokens, int content)
{
    assert_int_equal(tlog_exchange_add_event(x, off, tokens, content), 0);
}

static void mk(struct tlog_exchange *x, const char *id, int64_t start, int status, int64_t ttfb,
               int64_t end)
{
    tlog_exchange_init(x);
    x->id = strdup(id);
    x->start_us = start;
    x->resp.status = status;
    x->resp.ttfb_us = ttfb;
    x->resp.end_us = end;
}

static void test_multi_token_and_n_out(void **state)
{
    (void)state;
    struct an_ctx c;
    an_init(&c, AN_BY_LABEL, 0, AN_FROM_AUTO, 0);
    c.compat = 1;
    assert_int_equal(an_add_label(&c, "x"), 0);
    struct tlog_exchange x;
    /* usage says 10 tokens over 3 content events: tpot = (700 - 100) / 9 µs */
    mk(&x, "u", T0, 200, 50, 800);
    ev(&x, 50, 0, 0);
    ev(&x, 100, 1, 1);
    ev(&x, 400, 4, 1);
    ev(&x, 700, 5, 1);
    x.usage.present = 1;
    x.usage.prompt_tokens = 20;
    x.usage.completion_tokens = 10;
    /* tokens_out left unknown: the analyzer derives it (usage first) */
    assert_int_equal(an_add(&c, 0, &x, NULL), 1);
    struct an_req *r = &c.reqs[0];
    assert_int_equal(r->n_out, 10);
    assert_int_equal(r->n_in, 20);
    assert_near(r->tpot_us, 600.0 / 9, 1e-9);
    assert_int_equal(r->ttft_us, 100);
    assert_int_equal(r->first_ev_us, 50);
    /* ITL per gap: 300, 300; per token: 4 × 75 and 5 × 60 */
    const struct an_group *g = &c.groups[0];
    assert_int_equal(g->itl.n, 2);
    assert_int_equal(g->itl_tok.n, 9);
    assert_near(g->itl_tok.sum, 600, 1e-9);
    assert_near(g->itl_tok.min, 60, 1e-9);
    assert_near(g->itl_tok.max, 75, 1e-9);
    /* vLLM-style gaps: first content after the role chunk (50) counts too */
    assert_int_equal(g->itl_vllm.n, 3);
    tlog_exchange_free(&x);

    /* no usage: the number of content events, or the sum of their counts when all have one */
    mk(&x, "e", T0 + 1000, 200, 10, 500);
    ev(&x, 100, 2, 1);
    ev(&x, 300, 3, 1);
    assert_int_equal(an_add(&c, 0, &x, NULL), 1);
    assert_int_equal(c.reqs[1].n_out, 5);
    assert_near(c.reqs[1].tpot_us, 200.0 / 4, 1e-9);
    assert_int_equal(c.reqs[1].n_in, -1);
    tlog_exchange_free(&x);
    mk(&x, "e2", T0 + 2000, 200, 10, 500);
    ev(&x, 100, 0, 1);
    ev(&x, 300, 3, 1);
    ev(&x, 350, 0, 0);
    assert_int_equal(an_add(&c, 0, &x, NULL), 1);
    assert_int_equal(c.reqs[2].n_out, 2);
    assert_near(c.reqs[2].tpot_us, 200, 1e-9);
    tlog_exchange_free(&x);

    /* n_out = 1: ttft defined, tpot not; a one-event body with 8 tokens has no tpot either */
    mk(&x, "one", T0 + 3000, 200, 90, 120);
    ev(&x, 100, 1, 1);
    x.tokens_out = 1;
    x.tokens_source = TLOG_TOKENS_EVENTS;
    assert_int_equal(an_add(&c, 0, &x, NULL), 1);
    assert_int_equal(c.reqs[3].ttft_us, 100);
    assert_true(c.reqs[3].tpot_us < 0);
    tlog_exchange_free(&x);
    mk(&x, "body", T0 + 4000, 200, 900, 1000);
    ev(&x, 1000, 8, 1);
    x.tokens_out = 8;
    x.tokens_source = TLOG_TOKENS_USAGE;
    assert_int_equal(an_add(&c, 0, &x, NULL), 1);
    assert_true(c.reqs[4].tpot_us < 0);
    assert_int_equal(c.reqs[4].n_out, 8);
    tlog_exchange_free(&x);
    /* a stream of only non-content events (role chunk, [DONE]): n_out = 0, as
     * tlog_exchange_derive_tokens says — not unknown */
    mk(&x, "empty", T0 + 4500, 200, 40, 60);
    ev(&x, 40, 0, 0);
    ev(&x, 60, 0, 0);
    assert_int_equal(an_add(&c, 0, &x, NULL), 1);
    assert_int_equal(c.reqs[5].n_out, 0);
    tlog_exchange_derive_tokens(&x);
    assert_int_equal(x.tokens_out, 0);
    tlog_exchange_free(&x);

    struct an_summary s;
    assert_int_equal(an_summarize(&c, 0, 1, &s), 0);
    assert_int_equal(s.requests, 6);
    assert_int_equal(s.ok, 6);
    assert_int_equal(s.tpot.n, 3);
    /* span: min t0 = T0, max end = T0 + 4000 + 1000 → 5 ms; Σ n_out = 10+5+2+1+8+0 = 26 */
    assert_near(s.span_s, 0.005, 1e-12);
    assert_near(s.output_tok_s, 26 / 0.005, 1e-6);
    assert_near(s.req_s, 6 / 0.005, 1e-6);
    assert_int_equal(s.tokens_src[TLOG_TOKENS_USAGE], 2);
    assert_int_equal(s.tokens_src[TLOG_TOKENS_EVENTS], 4);
    /* compat: guidellm TPOT = last content / n_out, llmperf tok/s = n_out / e2e */
    assert_near(s.gl_tpot.max, 0.3 / 2, 1e-12); /* "e2": 300 µs / 2 */
    assert_near(s.gl_tpot.min, 0.3 / 5, 1e-12);  /* "e": 300 µs / 5 */
    assert_near(s.lp_out_tok_s.min, 0, 1e-6); /* "empty": 0 tokens in 60 µs */
    assert_near(s.lp_out_tok_s.max, 10 / 0.0008, 1e-6);
    an_free(&c);
}

static void test_errors_warmup_schedule_slo(void **state)
{
    (void)state;
    struct an_ctx c;
    an_init(&c, AN_BY_STAGE, 0, AN_FROM_AUTO, 0);
    assert_int_equal(an_add_label(&c, "r"), 0);
    c.slo.ttft_us = 1000;
    struct tlog_exchange x;
    /* stage 4, open loop (mode rate): sent 300 µs late → latency measured from the schedule */
    mk(&x, "s1", T0 + 300, 200, 500, 2000);
    ev(&x, 800, 1, 1);
    ev(&x, 1800, 1, 1);
    x.tokens_out = 2;
    x.replay.present = 1;
    x.replay.sched_us = T0;
    x.replay.has_stage = 1;
    x.replay.stage = 4;
    x.replay.mode = strdup("rate");
    x.replay.of = strdup("orig-1");
    assert_int_equal(an_add(&c, 0, &x, NULL), 1);
    assert_int_equal(c.reqs[0].ttft_us, 1100);
    assert_int_equal(c.reqs[0].e2e_us, 2300);
    assert_int_equal(c.reqs[0].lag_us, 300);
    assert_near(c.reqs[0].tpot_us, 1000, 0);
    tlog_exchange_free(&x);
    /* stage 4, closed loop: latency from the send */
    mk(&x, "s2", T0 + 1000, 200, 500, 2000);
    ev(&x, 900, 1, 1);
    x.tokens_out = 1;
    x.replay.present = 1;
    x.replay.sched_us = T0 + 900;
    x.replay.has_stage = 1;
    x.replay.stage = 4;
    x.replay.mode = strdup("concurrency");
    assert_int_equal(an_add(&c, 0, &x, NULL), 1);
    assert_int_equal(c.reqs[1].ttft_us, 900);
    tlog_exchange_free(&x);
    /* stage 4: a 429 (error kind derived from the status) and a warm-up request */
    mk(&x, "s3", T0 + 1500, 429, 100, 100);
    x.replay.present = 1;
    x.replay.has_stage = 1;
    x.replay.stage = 4;
    assert_int_equal(an_add(&c, 0, &x, NULL), 1);
    tlog_exchange_free(&x);
    mk(&x, "w", T0 - 5000, 200, 100, 100);
    ev(&x, 100, 1, 1);
    x.replay.present = 1;
    x.replay.has_stage = 1;
    x.replay.stage = 4;
    x.replay.warmup = 1;
    assert_int_equal(an_add(&c, 0, &x, NULL), 0);
    tlog_exchange_free(&x);
    /* stage 1, added last: sorted first */
    mk(&x, "s4", T0, 200, 100, 200);
    ev(&x, 150, 1, 1);
    x.replay.present = 1;
    x.replay.has_stage = 1;
    x.replay.stage = 1;
    assert_int_equal(an_add(&c, 0, &x, NULL), 1);
    tlog_exchange_free(&x);

    an_sort_groups(&c);
    assert_int_equal(c.n_groups, 2);
    assert_near(c.groups[0].stage, 1, 0);
    assert_near(c.groups[1].stage, 4, 0);
    struct an_summary s;
    assert_int_equal(an_summarize(&c, 1, 0, &s), 0);
    assert_int_equal(s.requests, 3);
    assert_int_equal(s.ok, 2);
    assert_int_equal(s.errors, 1);
    assert_int_equal(s.err_by_kind[TLOG_ERROR_HTTP_STATUS], 1);
    assert_int_equal(s.warmup_excluded, 1);
    assert_int_equal(s.from_sched, 1);
    /* TTFT {1100, 900} µs → p50 1.0 ms; only s2 meets ttft <= 1 ms */
    assert_near(s.ttft.p50, 1.0, 1e-12);
    assert_int_equal(s.slo_met, 1);
    /* span: min t0 T0+300, max end T0+1000+2000 → 2700 µs; errors stay in it */
    assert_near(s.span_s, 0.0027, 1e-12);
    assert_near(s.goodput_req_s, 1 / 0.0027, 1e-6);
    /* request throughput over the group: the 429 counts; successes alone in ok_req_s */
    assert_near(s.req_s, 3 / 0.0027, 1e-6);
    assert_near(s.ok_req_s, 2 / 0.0027, 1e-6);
    /* n_out 2 + 1 (the 429 has none); no n_in anywhere → no in+out total */
    assert_int_equal(s.sum_out, 3);
    assert_int_equal(s.n_out_known, 2);
    assert_int_equal(s.n_in_known, 0);
    assert_true(isnan(s.total_tok_s));
    /* schedule lag over every request with a schedule: 300 and 100 µs */
    assert_int_equal(s.lag.n, 2);
    assert_near(s.lag.max, 0.3, 1e-12);
    an_free(&c);

    /* --include-warmup and --latency-from send */
    an_init(&c, AN_BY_LABEL, 0, AN_FROM_SEND, 1);
    an_add_label(&c, "r");
    mk(&x, "w", T0 + 300, 200, 100, 900);
    ev(&x, 400, 1, 1);
    x.replay.present = 1;
    x.replay.sched_us = T0;
    x.replay.warmup = 1;
    x.replay.mode = strdup("rate");
    assert_int_equal(an_add(&c, 0, &x, NULL), 1);
    assert_int_equal(c.reqs[0].ttft_us, 400);
    tlog_exchange_free(&x);
    an_free(&c);
}

/* The committed fixture read through the real trace-log reader; values in README.md order. */
static void test_fixture_basic(void **state)
{
    (void)state;
    char err[256];
    struct tlog_reader_opts ro = {.skip_bodies = 1};
    struct tlog_reader *rd = tlog_reader_open(FIXTURE_DIR "/analyze/basic.jsonl", &ro, err,
                                              sizeof err);
    assert_non_null(rd);
    struct an_ctx c;
    an_init(&c, AN_BY_LABEL, 0, AN_FROM_AUTO, 0);
    an_add_label(&c, "basic");
    struct tlog_record rec;
    tlog_record_init(&rec);
    int rc, n = 0;
    while ((rc = tlog_read(rd, &rec)) > 0)
        if (rec.type == TLOG_REC_EXCHANGE)
            n += an_add(&c, 0, &rec.x, NULL) >= 0;
    assert_int_equal(rc, 0);
    assert_int_equal(n, 6);
    tlog_record_free(&rec);
    tlog_reader_close(rd);
    struct an_summary s;
    assert_int_equal(an_summarize(&c, 0, 0, &s), 0);
    assert_int_equal(s.requests, 5);
    assert_int_equal(s.ok, 3);
    assert_int_equal(s.errors, 2);
    assert_int_equal(s.err_by_kind[TLOG_ERROR_HTTP_STATUS], 1);
    assert_int_equal(s.err_by_kind[TLOG_ERROR_RESET], 1);
    assert_int_equal(s.warmup_excluded, 1);
    /* TTFT a 100, b 80, c 150 ms */
    assert_near(s.ttft.mean, 110, 1e-9);
    assert_near(s.ttft.p50, 100, 1e-9);
    assert_near(s.ttft.p90, 140, 1e-9);
    assert_near(s.ttft.p99, 149, 1e-9);
    assert_near(s.ttft.stddev, sqrt(1300), 1e-9);
    /* TPOT a (300-100)/2 = 100, b (200-80)/5 = 24; c has n_out = 1 */
    assert_int_equal(s.tpot.n, 2);
    assert_near(s.tpot.p50, 62, 1e-9);
    assert_near(s.tpot.p90, 92.4, 1e-9);
    /* ITL per gap 100, 100, 40, 80 (histogram: 0.1 %) */
    assert_int_equal(s.itl.n, 4);
    assert_near(s.itl.mean, 80, 1e-9);
    assert_near(s.itl.p50, 90, 0.09);
    /* per token: 3 × 40/3, 2 × 40, 2 × 100 → p50 = 40 */
    assert_int_equal(s.itl_tok.n, 7);
    assert_near(s.itl_tok.p50, 40, 0.04);
    assert_near(s.e2e.p50, 250, 1e-9);
    assert_near(s.e2e.mean, 270, 1e-9);
    /* span: T0 … e's end T0 + 400 + 70 ms = 0.47 s. Σ n_out over every request with one:
     * a 3 + b 6 + c 1 + e 1 (reset after streaming a token; d has none) = 11. n_in is known
     * for a (10) and c (5) only: the in+out total is unknown, not 26. */
    assert_near(s.span_s, 0.47, 1e-12);
    assert_int_equal(s.sum_out, 11);
    assert_int_equal(s.n_out_known, 4);
    assert_near(s.output_tok_s, 11 / 0.47, 1e-9);
    assert_int_equal(s.sum_in, 15);
    assert_int_equal(s.n_in_known, 2);
    assert_true(isnan(s.total_tok_s));
    assert_near(s.req_s, 5 / 0.47, 1e-9);
    assert_near(s.ok_req_s, 3 / 0.47, 1e-9);
    assert_near(s.goodput_req_s, 3 / 0.47, 1e-9);
    an_free(&c);
}

/* analyze/README.md "Group throughput": Σ n_out / (max end − min t0) over the group — a request that
 * failed after streaming tokens delivered them; total (in+out) only when every n_in is known. */
static void test_throughput_counts_failed(void **state)
{
    (void)state;
    struct an_ctx c;
    an_init(&c, AN_BY_LABEL, 0, AN_FROM_AUTO, 0);
    an_add_label(&c, "t");
    struct tlog_exchange x;
    /* ok: 10 in, 4 out (usage), ends at T0 + 1000 */
    mk(&x, "ok", T0, 200, 100, 1000);
    for (int i = 0; i < 4; i++)
        ev(&x, 200 + 100 * i, 1, 1);
    x.usage.present = 1;
    x.usage.prompt_tokens = 10;
    x.usage.completion_tokens = 4;
    assert_int_equal(an_add(&c, 0, &x, NULL), 1);
    tlog_exchange_free(&x);
    /* timeout after 3 streamed tokens (n_out from the events), 7 in; ends at T0 + 3000 */
    mk(&x, "to", T0 + 500, 200, 100, 2500);
    ev(&x, 300, 1, 1);
    ev(&x, 600, 1, 1);
    ev(&x, 900, 1, 1);
    x.tokens_in = 7;
    x.error_kind = TLOG_ERROR_TIMEOUT;
    assert_int_equal(an_add(&c, 0, &x, NULL), 1);
    tlog_exchange_free(&x);
    /* reset before any token: n_out unknown, 5 in */
    mk(&x, "rs", T0 + 1000, 0, -1, 100);
    x.tokens_in = 5;
    x.error_kind = TLOG_ERROR_RESET;
    assert_int_equal(an_add(&c, 0, &x, NULL), 1);
    tlog_exchange_free(&x);

    struct an_summary s;
    assert_int_equal(an_summarize(&c, 0, 0, &s), 0);
    assert_int_equal(s.requests, 3);
    assert_int_equal(s.ok, 1);
    /* span T0 … T0 + 3000 µs; out 4 + 3 = 7; in 10 + 7 + 5 = 22 */
    assert_near(s.span_s, 0.003, 1e-12);
    assert_int_equal(s.sum_out, 7);
    assert_int_equal(s.n_out_known, 2);
    assert_near(s.output_tok_s, 7 / 0.003, 1e-6);
    assert_int_equal(s.sum_in, 22);
    assert_int_equal(s.n_in_known, 3);
    assert_near(s.total_tok_s, 29 / 0.003, 1e-6);
    assert_near(s.req_s, 3 / 0.003, 1e-6);
    assert_near(s.ok_req_s, 1 / 0.003, 1e-6);
    /* latency distributions stay success-only: the timeout's TTFT (300 µs) is not in them */
    assert_int_equal(s.ttft.n, 1);
    assert_near(s.ttft.p50, 0.2, 1e-12);

    /* one more success without usage or tokens_in: the in+out total becomes unknown */
    mk(&x, "noin", T0 + 1500, 200, 100, 500);
    ev(&x, 200, 2, 1);
    ev(&x, 400, 2, 1);
    assert_int_equal(an_add(&c, 0, &x, NULL), 1);
    tlog_exchange_free(&x);
    assert_int_equal(an_summarize(&c, 0, 0, &s), 0);
    assert_int_equal(s.n_in_known, 3);
    assert_int_equal(s.sum_out, 11);
    assert_near(s.output_tok_s, 11 / 0.003, 1e-6);
    assert_true(isnan(s.total_tok_s));
    assert_near(s.req_s, 4 / 0.003, 1e-6);
    an_free(&c);
}

/* README "SLOs and undefined values": an undefined TPOT passes a TPOT SLO, a missing TTFT
 * fails a TTFT SLO. */
static void test_slo_undefined_values(void **state)
{
    (void)state;
    for (int with_ttft = 0; with_ttft < 2; with_ttft++) {
        struct an_ctx c;
        an_init(&c, AN_BY_LABEL, 0, AN_FROM_AUTO, 0);
        an_add_label(&c, "s");
        c.slo.tpot_us = 50;
        c.slo.ttft_us = with_ttft ? 1000 : 0;
        struct tlog_exchange x;
        mk(&x, "one", T0, 200, 50, 200); /* n_out 1: TPOT undefined, TTFT 100 µs */
        ev(&x, 100, 1, 1);
        an_add(&c, 0, &x, NULL);
        tlog_exchange_free(&x);
        mk(&x, "none", T0, 200, 50, 200); /* no content event: TTFT undefined */
        ev(&x, 150, 0, 0);
        x.tokens_out = 0;
        x.tokens_source = TLOG_TOKENS_EVENTS;
        an_add(&c, 0, &x, NULL);
        tlog_exchange_free(&x);
        mk(&x, "slow", T0, 200, 50, 400); /* TPOT (300 − 100) / 2 = 100 µs > 50 µs */
        ev(&x, 100, 1, 1);
        ev(&x, 200, 1, 1);
        ev(&x, 300, 1, 1);
        an_add(&c, 0, &x, NULL);
        tlog_exchange_free(&x);
        struct an_summary s;
        assert_int_equal(an_summarize(&c, 0, 0, &s), 0);
        assert_int_equal(s.ok, 3);
        assert_true(c.reqs[0].tpot_us < 0 && c.reqs[1].ttft_us < 0);
        /* tpot only: "one" and "none" meet it; with ttft too, "none" fails */
        assert_int_equal(s.slo_met, with_ttft ? 1 : 2);
        an_free(&c);
    }
}

/* stddev of ITL from the histogram's running moments: values ~1e9 µs apart by 1 µs would
 * lose every digit to sumsq − sum²/n (sumsq ≈ 3e18, one ulp = 512). */
static void test_hist_stddev_stable(void **state)
{
    (void)state;
    struct hist h, h2;
    struct stats_dist d;
    hist_init(&h);
    hist_record(&h, 1e9 + 1, 1);
    hist_record(&h, 1e9 + 2, 1);
    hist_record(&h, 1e9 + 3, 1);
    hist_summarize(&h, &d);
    assert_near(d.stddev, 1.0, 1e-6);
    assert_near(d.mean, 1e9 + 2, 1e-6);
    hist_free(&h);
    /* counts: {1, 1, 4} + 1e9 → mean 2, Σ dev² = 1 + 1 + 4 = 6, var 6 / 2 = 3 */
    hist_init(&h);
    hist_record(&h, 1e9 + 1, 2);
    hist_record(&h, 1e9 + 4, 1);
    hist_summarize(&h, &d);
    assert_near(d.stddev, sqrt(3.0), 1e-6);
    /* merge = recording both: {1, 1, 4} ∪ {7} + 1e9 → mean 3.25,
     * Σ dev² = 2 × 2.25² + 0.75² + 3.75² = 24.75 */
    hist_init(&h2);
    hist_record(&h2, 1e9 + 7, 1);
    assert_int_equal(hist_merge(&h2, &h), 0);
    hist_summarize(&h2, &d);
    assert_near(d.stddev, sqrt(24.75 / 3), 1e-6);
    assert_near(d.mean, 1e9 + 3.25, 1e-6);
    /* small values agree with the exact two-pass summary */
    double v[] = {50, 15, 40, 20, 35};
    hist_free(&h);
    hist_init(&h);
    for (int i = 0; i < 5; i++)
        hist_record(&h, v[i], 1);
    hist_summarize(&h, &d);
    assert_near(d.stddev, sqrt(830.0 / 4), 1e-9);
    hist_free(&h);
    hist_free(&h2);
}

static void test_group_window_index(void **state)
{
    (void)state;
    struct an_ctx c;
    an_init(&c, AN_BY_WINDOW, 1000000, AN_FROM_AUTO, 0);
    an_add_label(&c, "w");
    struct tlog_exchange x;
    int64_t starts[] = {T0 + 2200000, T0, T0 + 500000, T0 + 900000};
    for (int i = 0; i < 4; i++) {
        mk(&x, "r", starts[i], 200, 10, 100);
        ev(&x, 50, 1, 1);
        assert_int_equal(an_add(&c, 0, &x, NULL), 1);
        tlog_exchange_free(&x);
    }
    an_sort_groups(&c);
    assert_int_equal(c.n_groups, 2);
    assert_string_equal(c.groups[0].key, "+0s");
    assert_string_equal(c.groups[1].key, "+2s");
    assert_non_null(c.goff);
    assert_int_equal(c.goff[0], 0);
    assert_int_equal(c.goff[1], 3);
    assert_int_equal(c.goff[2], 4);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(c.reqs[i].group, i < 3 ? 0 : 1);
    struct an_summary s;
    assert_int_equal(an_summarize(&c, 0, 0, &s), 0);
    assert_int_equal(s.requests, 3);
    /* a window's rates are per its length (1 s), not per its requests' span (0.9001 s):
     * under overload the last completion runs far past the window */
    assert_near(s.span_s, 1.0, 1e-12);
    assert_near(s.req_s, 3.0, 1e-12);
    assert_int_equal(an_summarize(&c, 1, 0, &s), 0);
    assert_int_equal(s.requests, 1);
    /* the label's last window is clipped to its run: T0 + 2 s … T0 + 2.2 s + 100 µs */
    assert_near(s.span_s, 0.2001, 1e-12);
    an_free(&c);
}

/* A group whose every request failed within a millisecond has no rate ("3,625 req/s" for five
 * refused connections), and neither has a span under 1 ms. */
static void test_no_rate_without_span(void **state)
{
    (void)state;
    struct an_ctx c;
    an_init(&c, AN_BY_LABEL, 0, AN_FROM_AUTO, 0);
    an_add_label(&c, "down");
    an_add_label(&c, "fast");
    an_add_label(&c, "ok");
    struct tlog_exchange x;
    for (int i = 0; i < 5; i++) { /* five refused connects over 1.38 ms */
        mk(&x, "f", T0 + i * 300, 0, -1, 180);
        tlog_exchange_set_error(&x, TLOG_ERROR_CONNECT, "refused");
        assert_int_equal(an_add(&c, 0, &x, NULL), 1);
        tlog_exchange_free(&x);
    }
    mk(&x, "one", T0, 200, 100, 800); /* one success, 0.8 ms */
    ev(&x, 300, 1, 1);
    assert_int_equal(an_add(&c, 1, &x, NULL), 1);
    tlog_exchange_free(&x);
    mk(&x, "ok", T0, 200, 100, 2000); /* 2 ms: 500 req/s */
    ev(&x, 300, 1, 1);
    assert_int_equal(an_add(&c, 2, &x, NULL), 1);
    tlog_exchange_free(&x);
    an_sort_groups(&c);
    struct an_summary s;
    assert_int_equal(an_summarize(&c, 0, 0, &s), 0);
    assert_int_equal(s.requests, 5);
    assert_int_equal(s.errors, 5);
    assert_near(s.span_s, 0.00138, 1e-12);
    assert_true(isnan(s.req_s) && isnan(s.output_tok_s) && isnan(s.ok_req_s) &&
                isnan(s.goodput_req_s));
    assert_int_equal(an_summarize(&c, 1, 0, &s), 0);
    assert_true(isnan(s.req_s));
    assert_int_equal(an_summarize(&c, 2, 0, &s), 0);
    assert_near(s.req_s, 500, 1e-9);
    assert_near(s.output_tok_s, 500, 1e-9);
    an_free(&c);
}

/* ITL percentiles are exact while the samples fit the budget, then every group falls back to
 * its histogram (within 0.1 %) and says so. */
static void test_itl_exact_then_histogram(void **state)
{
    (void)state;
    for (int budget = 0; budget < 2; budget++) {
        struct an_ctx c;
        an_init(&c, AN_BY_LABEL, 0, AN_FROM_AUTO, 0);
        if (budget)
            c.itl_exact_max = 3;
        an_add_label(&c, "l");
        struct tlog_exchange x;
        mk(&x, "a", T0, 200, 100, 2000);
        /* gaps 100, 300, 700, 1001 µs; the third event carries 2 tokens */
        ev(&x, 100, 1, 1);
        ev(&x, 200, 1, 1);
        ev(&x, 500, 2, 1);
        ev(&x, 1200, 1, 1);
        ev(&x, 2201, 1, 1);
        assert_int_equal(an_add(&c, 0, &x, NULL), 1);
        tlog_exchange_free(&x);
        an_sort_groups(&c);
        struct an_summary s;
        assert_int_equal(an_summarize(&c, 0, 0, &s), 0);
        assert_int_equal(s.itl_exact, !budget);
        assert_int_equal(s.itl.n, 4);
        /* sorted 0.1, 0.3, 0.7, 1.001 ms: p50 = 0.5, p90 = 0.7 + 0.7 × 0.301 */
        double tol = budget ? 1e-3 * 0.7 : 1e-15;
        assert_near(s.itl.p50, 0.5, budget ? 1e-3 * 0.5 : 1e-15);
        assert_near(s.itl.p90, 0.9107, tol * 1.4);
        assert_near(s.itl.mean, 2.101 / 4, 1e-12);
        /* per token: 0.1, 0.15, 0.15, 0.7, 1.001 → p50 0.15 */
        assert_int_equal(s.itl_tok.n, 5);
        assert_near(s.itl_tok.p50, 0.15, budget ? 1e-3 * 0.15 : 1e-15);
        an_free(&c);
    }
}

static void test_parse_slo(void **state)
{
    (void)state;
    struct an_slo slo;
    char err[128];
    assert_int_equal(an_parse_slo("ttft=500ms,tpot=50ms,e2e=10s", &slo, err, sizeof err), 0);
    assert_int_equal(slo.ttft_us, 500000);
    assert_int_equal(slo.tpot_us, 50000);
    assert_int_equal(slo.e2e_us, 10000000);
    assert_int_equal(an_parse_slo("ttft=fast", &slo, err, sizeof err), -1);
    assert_int_equal(an_parse_slo("itl=5ms", &slo, err, sizeof err), -1);
    assert_non_null(strstr(err, "itl"));
    /* a bare number is milliseconds, as vLLM's --goodput: never seconds */
    static const struct { const char *arg; int64_t ttft, tpot, e2e; } ok[] = {
        {"ttft=500", 500000, 0, 0},
        {"tpot=50", 0, 50000, 0},
        {"e2e=10000", 0, 0, 10000000},
        {"ttft=0.5s,tpot=2.5,e2e=1.5s", 500000, 2500, 1500000},
        {"ttft=500ms", 500000, 0, 0},
        {"tpot=800us", 0, 800, 0},
        {"e2e=750\xc2\xb5s", 0, 0, 750},
        {"ttft=1e3", 1000000, 0, 0},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(an_parse_slo(ok[i].arg, &slo, err, sizeof err), 0);
        assert_int_equal(slo.ttft_us, ok[i].ttft);
        assert_int_equal(slo.tpot_us, ok[i].tpot);
        assert_int_equal(slo.e2e_us, ok[i].e2e);
    }
    static const char *const bad[] = {
        "ttft=", "ttft=0", "ttft=-5", "ttft=5m", "ttft=1h", "ttft=5 ms", "ttft=5sec",
        "tpot=abc", "tpot=50x", "e2e=nan", "e2e=inf", "e2e=0.0001", "ttft=5,ttft=6", "",
        ",", "ttft=5,", "ttft", "TTFT=5", "ttft=+5", "ttft= 5",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        if (an_parse_slo(bad[i], &slo, err, sizeof err) != -1) {
            print_error("--slo '%s' accepted\n", bad[i]);
            fail();
        }
        assert_true(err[0] != '\0');
    }
}

/* Server metrics: names mapped per stack, the preferred name kept when a server exports two
 * for one quantity, the label sets of one scrape summed (running) or averaged (KV), and why a
 * label has none. */
static void srv_put(struct srv_set *s, size_t l, const char *name, int64_t t, double v)
{
    struct tlog_metrics m;
    memset(&m, 0, sizeof m);
    m.name = (char *)name;
    m.t_us = t;
    m.value = v;
    assert_int_equal(srv_add(s, l, &m), 0);
}

/* --json and --csv write every double so that it reads back to the same double (issue 13),
 * in the fewest of 15–17 significant digits that does: 13.49807 stays 13.49807, not 13.4981
 * (%g's 6) and not 13.497999999999999 (%.17g's noise). */
static void test_double_round_trip(void **state)
{
    (void)state;
    const double v[] = {13.49807, 31.578947368421051, 0.1 + 0.2, 1.0 / 3.0, 1e-300, 9007199254740993.0,
                        2.5, 0.0, -7.25e-9, 1.7976931348623157e308, 4.9406564584124654e-324};
    char t[40];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        report_dbl(t, sizeof t, v[i]);
        assert_true(strtod(t, NULL) == v[i]);
    }
    report_dbl(t, sizeof t, 13.49807);
    assert_string_equal(t, "13.49807");
    report_dbl(t, sizeof t, 0.1 + 0.2);
    assert_string_equal(t, "0.30000000000000004");
}

static void test_server_series(void **state)
{
    (void)state;
    struct srv_set s;
    srv_init(&s);
    srv_put(&s, 0, "llmtrace_sim_requests_running", 2000, 3);
    srv_put(&s, 0, "vllm:num_requests_running", 1000, 4); /* preferred: the sim's dropped */
    srv_put(&s, 0, "llmtrace_sim_requests_running", 3000, 9);
    srv_put(&s, 0, "vllm:num_requests_running", 2000, 1); /* two engines, one scrape */
    srv_put(&s, 0, "vllm:num_requests_running", 2000, 2);
    srv_put(&s, 0, "vllm:kv_cache_usage_perc", 2000, 0.25);
    srv_put(&s, 0, "vllm:kv_cache_usage_perc", 2000, 0.75);
    srv_put(&s, 0, "vllm:kv_cache_usage_perc", 1000, NAN); /* not a number: not a point */
    srv_put(&s, 0, "process_cpu_seconds_total", 1000, 5);
    srv_put(&s, 2, "some_other_metric", 1000, 1);
    struct tlog_metrics fail;
    memset(&fail, 0, sizeof fail);
    fail.error_message = "connection refused";
    assert_int_equal(srv_add(&s, 1, &fail), 0);
    srv_finish(&s);
    const struct srv_label *L = &s.l[0];
    assert_string_equal(L->name[SRV_RUNNING], "vllm:num_requests_running");
    assert_int_equal(L->n[SRV_RUNNING], 2);
    assert_true(L->p[SRV_RUNNING][0].t_us == 1000 && L->p[SRV_RUNNING][0].v == 4);
    assert_true(L->p[SRV_RUNNING][1].t_us == 2000 && L->p[SRV_RUNNING][1].v == 3);
    assert_int_equal(L->n[SRV_KV], 1);
    assert_true(fabs(L->p[SRV_KV][0].v - 0.5) < 1e-12);
    assert_int_equal(L->n[SRV_WAITING], 0);
    assert_true(srv_has(&s, 0) && !srv_has(&s, 1) && !srv_has(&s, 2) && srv_any(&s));
    char why[300];
    srv_why(&s, 1, why, sizeof why);
    assert_string_equal(why, "every scrape failed (1): connection refused");
    srv_why(&s, 2, why, sizeof why);
    assert_non_null(strstr(why, "1 metrics samples, none of a known name"));
    srv_why(&s, 3, why, sizeof why);
    assert_non_null(strstr(why, "no metrics records in the log"));
    srv_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percentiles_reference),
        cmocka_unit_test(test_sort_patterns),
        cmocka_unit_test(test_hist_relative_error),
        cmocka_unit_test(test_mann_whitney),
        cmocka_unit_test(test_bootstrap_seeded),
        cmocka_unit_test(test_multi_token_and_n_out),
        cmocka_unit_test(test_errors_warmup_schedule_slo),
        cmocka_unit_test(test_fixture_basic),
        cmocka_unit_test(test_throughput_counts_failed),
        cmocka_unit_test(test_hist_stddev_stable),
        cmocka_unit_test(test_slo_undefined_values),
        cmocka_unit_test(test_group_window_index),
        cmocka_unit_test(test_no_rate_without_span),
        cmocka_unit_test(test_itl_exact_then_histogram),
        cmocka_unit_test(test_parse_slo),
        cmocka_unit_test(test_server_series),
        cmocka_unit_test(test_double_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
