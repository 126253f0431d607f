/* stats.h — the statistics llmtrace-analyze reports: exact percentiles with linear
 * interpolation (NumPy's default, analyze/README.md "Metric definitions"), summaries, a log-linear
 * histogram with a stated relative error (HdrHistogram's idea), a seeded bootstrap and the
 * Mann–Whitney U test. Pure functions: no I/O, no global state. */
#ifndef LLMTRACE_ANALYZE_STATS_H
#define LLMTRACE_ANALYZE_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Summary of one distribution. n == 0 → every other field is NAN. */
struct stats_dist {
    size_t n;
    double mean, stddev, min, p50, p90, p95, p99, p999, max;
};

/* Percentile p in [0, 100] of sorted[0..n) by linear interpolation between order statistics:
 * h = (n - 1) * p / 100, x[floor h] + (h - floor h) * (x[floor h + 1] - x[floor h]).
 * NAN when n == 0. */
double stats_percentile_sorted(const double *sorted, size_t n, double p);
/* Sorts v[0..n) in place (ascending) and fills d. stddev is the sample standard deviation
 * (n - 1 denominator, pandas' default); 0 when n == 1. */
void stats_summarize(double *v, size_t n, struct stats_dist *d);
void stats_sort(double *v, size_t n);

/* A value that stands for w equal samples. */
struct stats_wv {
    double v;
    uint64_t w;
};
/* Sorts v[0..n) by value and fills d as stats_summarize would on the expanded list in which
 * each v[i].v appears v[i].w times (weights 0 are ignored): exact percentiles, mean, and the
 * sample standard deviation over Σ w samples. */
void stats_summarize_weighted(struct stats_wv *v, size_t n, struct stats_dist *d);

/* ---- log-linear histogram ----------------------------------------------------------------
 * Buckets grow by HIST_GAMMA: bucket i holds [HIST_MIN * g^i, HIST_MIN * g^(i+1)) and reports
 * the point 2*lo*hi/(lo+hi), whose relative distance to any value in the bucket is at most
 * (g-1)/(g+1) = 0.0999 % for g = 1.002. Values below HIST_MIN (including 0) count in an
 * exact "zero" bucket reported as 0; count, sum, min and max are exact, and the variance is
 * accumulated from the recorded values themselves (Welford), not from the buckets. */
#define HIST_GAMMA 1.002
#define HIST_MIN 0.01        /* in the caller's unit (analyze uses µs) */
#define HIST_BUCKETS 14000   /* HIST_MIN * 1.002^14000 ≈ 1.5e10: 4 hours in µs */

struct hist {
    uint32_t *b;             /* HIST_BUCKETS counters, allocated on first record */
    uint64_t zero;           /* values < HIST_MIN */
    uint64_t n;
    double sum, min, max;
    /* Welford's running mean and sum of squared deviations from it: sum of squares minus
     * sum²/n cancels catastrophically when the spread is small against the values. */
    double mean, m2;
};
void hist_init(struct hist *h);
void hist_free(struct hist *h);
/* Records value v (>= 0; negative counts as 0) count times. 0 or -1 on allocation failure. */
int hist_record(struct hist *h, double v, uint64_t count);
/* The bucket of v (-1: the zero bucket), so one value recorded into several histograms costs
 * one logarithm; hist_record_slot(h, hist_slot(v), v, n) == hist_record(h, v, n). */
int hist_slot(double v);
int hist_record_slot(struct hist *h, int slot, double v, uint64_t count);
/* Adds every count of src into dst. 0 or -1. */
int hist_merge(struct hist *dst, const struct hist *src);
/* Fills d: mean, stddev (n - 1 denominator), min and max from the recorded values (not the
 * buckets); percentiles interpolated as stats_percentile_sorted would on the bucket
 * representatives (relative error <= 0.1 %). */
void hist_summarize(const struct hist *h, struct stats_dist *d);
/* Representative value and bounds of bucket i (for plotting). */
double hist_bucket_value(int i);
double hist_bucket_low(int i);

/* ---- comparison --------------------------------------------------------------------------- */

/* splitmix64 generator: the seeded source of the bootstrap. */
struct stats_rng { uint64_t s; };
void stats_rng_seed(struct stats_rng *r, uint64_t seed);
uint64_t stats_rng_next(struct stats_rng *r);

/* 95 % percentile-bootstrap confidence interval of q(new) - q(base), q the p-th percentile
 * (p = 50 for medians), over `rounds` resamples of each side with replacement. a, b are
 * sorted (not modified); scratch must hold max(na, nb) doubles. lo/hi = 2.5th and 97.5th
 * percentiles of the resampled differences. -1 when a side is empty. */
int stats_bootstrap_diff(const double *a, size_t na, const double *b, size_t nb, double p,
                         int rounds, struct stats_rng *rng, double *scratch, double *lo,
                         double *hi);
/* Same for one sample of paired differences d[0..n): CI of its p-th percentile. */
int stats_bootstrap_one(const double *d, size_t n, double p, int rounds, struct stats_rng *rng,
                        double *scratch, double *lo, double *hi);

/* Two-sided Mann–Whitney U test of sorted a vs sorted b: normal approximation with tie
 * correction and continuity correction (scipy.stats.mannwhitneyu's asymptotic method).
 * Returns the p-value (1 when either side is empty or every value ties); *u gets U of a. */
double stats_mann_whitney(const double *a, size_t na, const double *b, size_t nb, double *u);

#endif
