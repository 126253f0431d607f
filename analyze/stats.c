/* stats.c — percentiles, summaries, log-linear histogram, bootstrap and Mann–Whitney U
 * (see stats.h; percentile definition: NumPy's default "linear" method). */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Quicksort specialised for doubles (no comparator calls: summaries sort every metric of
 * every group, ~2x faster than qsort). Median-of-three pivot, insertion sort below 16
 * elements, recursion on the smaller side only (depth <= log2 n). Values are never NaN:
 * callers filter undefined metrics out first. */
static void stats_isort(double *v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        double x = v[i];
        size_t j = i;
        while (j > 0 && v[j - 1] > x) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

static void stats_qsort(double *v, size_t n)
{
    while (n > 16) {
        double a = v[0], b = v[n / 2], c = v[n - 1];
        double pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        size_t i = 0, j = n - 1;
        for (;;) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i >= j)
                break;
            double t = v[i];
            v[i] = v[j];
            v[j] = t;
            i++;
            j--;
        }
        /* v[0..j] <= pivot <= v[j+1..n) */
        size_t left = j + 1;
        if (left < n - left) {
            stats_qsort(v, left);
            v += left;
            n -= left;
        } else {
            stats_qsort(v + left, n - left);
            n = left;
        }
    }
    stats_isort(v, n);
}

void stats_sort(double *v, size_t n)
{
    if (n > 1)
        stats_qsort(v, n);
}

double stats_percentile_sorted(const double *sorted, size_t n, double p)
{
    if (n == 0)
        return NAN;
    double h = (double)(n - 1) * p / 100.0;
    size_t lo = (size_t)floor(h);
    if (lo >= n - 1)
        return sorted[n - 1];
    double f = h - (double)lo;
    return sorted[lo] + f * (sorted[lo + 1] - sorted[lo]);
}

static void stats_dist_nan(struct stats_dist *d)
{
    d->n = 0;
    d->mean = d->stddev = d->min = d->p50 = d->p90 = d->p95 = d->p99 = d->p999 = d->max = NAN;
}

void stats_summarize(double *v, size_t n, struct stats_dist *d)
{
    stats_dist_nan(d);
    if (n == 0)
        return;
    stats_sort(v, n);
    /* Two passes: the mean first, then squared deviations (no cancellation). */
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    double mean = s / (double)n, ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (v[i] - mean) * (v[i] - mean);
    d->n = n;
    d->mean = mean;
    d->stddev = n > 1 ? sqrt(ss / (double)(n - 1)) : 0.0;
    d->min = v[0];
    d->max = v[n - 1];
    d->p50 = stats_percentile_sorted(v, n, 50);
    d->p90 = stats_percentile_sorted(v, n, 90);
    d->p95 = stats_percentile_sorted(v, n, 95);
    d->p99 = stats_percentile_sorted(v, n, 99);
    d->p999 = stats_percentile_sorted(v, n, 99.9);
}

static int stats_wv_cmp(const void *a, const void *b)
{
    double x = ((const struct stats_wv *)a)->v, y = ((const struct stats_wv *)b)->v;
    return (x > y) - (x < y);
}

/* Value at index i of the expanded list; k and cum walk forward only (percentiles ascend). */
static double stats_wv_at(const struct stats_wv *v, size_t n, uint64_t i, size_t *k,
                          uint64_t *cum)
{
    while (*k < n && *cum + v[*k].w <= i) {
        *cum += v[*k].w;
        (*k)++;
    }
    return v[*k < n ? *k : n - 1].v;
}

static double stats_wv_percentile(const struct stats_wv *v, size_t n, uint64_t total, double p,
                                  size_t *k, uint64_t *cum)
{
    double h = (double)(total - 1) * p / 100.0;
    uint64_t lo = (uint64_t)floor(h);
    double a = stats_wv_at(v, n, lo, k, cum);
    if (lo >= total - 1)
        return a;
    size_t k2 = *k;
    uint64_t cum2 = *cum;
    double b = stats_wv_at(v, n, lo + 1, &k2, &cum2);
    return a + (h - (double)lo) * (b - a);
}

void stats_summarize_weighted(struct stats_wv *v, size_t n, struct stats_dist *d)
{
    stats_dist_nan(d);
    size_t m = 0;
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i].w) {
            v[m++] = v[i];
            total += v[i].w;
        }
    if (total == 0)
        return;
    qsort(v, m, sizeof *v, stats_wv_cmp);
    double s = 0;
    for (size_t i = 0; i < m; i++)
        s += v[i].v * (double)v[i].w;
    double mean = s / (double)total, ss = 0;
    for (size_t i = 0; i < m; i++)
        ss += (double)v[i].w * (v[i].v - mean) * (v[i].v - mean);
    d->n = (size_t)total;
    d->mean = mean;
    d->stddev = total > 1 ? sqrt(ss / (double)(total - 1)) : 0.0;
    d->min = v[0].v;
    d->max = v[m - 1].v;
    size_t k = 0;
    uint64_t cum = 0;
    d->p50 = stats_wv_percentile(v, m, total, 50, &k, &cum);
    d->p90 = stats_wv_percentile(v, m, total, 90, &k, &cum);
    d->p95 = stats_wv_percentile(v, m, total, 95, &k, &cum);
    d->p99 = stats_wv_percentile(v, m, total, 99, &k, &cum);
    d->p999 = stats_wv_percentile(v, m, total, 99.9, &k, &cum);
}

/* ---- histogram ----------------------------------------------------------------------------- */

static double hist_log_gamma(void)
{
    static double lg; /* constant; benign if computed twice */
    if (lg == 0)
        lg = log(HIST_GAMMA);
    return lg;
}

double hist_bucket_low(int i)
{
    return HIST_MIN * exp((double)i * hist_log_gamma());
}

double hist_bucket_value(int i)
{
    double lo = hist_bucket_low(i), hi = lo * HIST_GAMMA;
    return 2 * lo * hi / (lo + hi);
}

static int hist_index(double v)
{
    /* No fix-up against exp() of the bounds: a value that rounding puts one bucket off lies
     * within 1e-12 (relative) of the shared boundary, so the 0.1 % bound still holds — and
     * this is the analyzer's hottest line (one call per token gap). */
    static double inv_lg; /* constant; benign if computed twice */
    if (inv_lg == 0)
        inv_lg = 1.0 / hist_log_gamma();
    int i = (int)(log(v * (1.0 / HIST_MIN)) * inv_lg);
    if (i < 0)
        i = 0;
    if (i >= HIST_BUCKETS)
        i = HIST_BUCKETS - 1;
    return i;
}

void hist_init(struct hist *h)
{
    memset(h, 0, sizeof *h);
    h->min = INFINITY;
    h->max = -INFINITY;
}

void hist_free(struct hist *h)
{
    free(h->b);
    hist_init(h);
}

int hist_slot(double v)
{
    return (v > 0 && v >= HIST_MIN) ? hist_index(v) : -1;
}

int hist_record_slot(struct hist *h, int slot, double v, uint64_t count)
{
    if (count == 0)
        return 0;
    if (!(v > 0))
        v = 0;
    if (slot < 0) {
        h->zero += count;
    } else {
        if (!h->b) {
            h->b = calloc(HIST_BUCKETS, sizeof *h->b);
            if (!h->b)
                return -1;
        }
        /* Counters are 32-bit to keep per-group histograms small; saturate rather than wrap. */
        uint64_t c = (uint64_t)h->b[slot] + count;
        h->b[slot] = c > UINT32_MAX ? UINT32_MAX : (uint32_t)c;
    }
    /* Welford, batched: count copies of v join n values with mean `mean`; the copies have
     * no spread of their own, so m2 grows by delta² · n · count / (n + count). */
    double na = (double)h->n, nb = (double)count, nt = na + nb, delta = v - h->mean;
    h->mean += delta * (nb / nt);
    h->m2 += delta * delta * (na * nb / nt);
    h->n += count;
    h->sum += v * (double)count;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
    return 0;
}

int hist_record(struct hist *h, double v, uint64_t count)
{
    return hist_record_slot(h, hist_slot(v), v, count);
}

int hist_merge(struct hist *dst, const struct hist *src)
{
    if (src->n == 0)
        return 0;
    if (src->b) {
        if (!dst->b) {
            dst->b = calloc(HIST_BUCKETS, sizeof *dst->b);
            if (!dst->b)
                return -1;
        }
        for (int i = 0; i < HIST_BUCKETS; i++) {
            uint64_t c = (uint64_t)dst->b[i] + src->b[i];
            dst->b[i] = c > UINT32_MAX ? UINT32_MAX : (uint32_t)c;
        }
    }
    /* Chan et al.'s pairwise combination of two (n, mean, m2) summaries. */
    double na = (double)dst->n, nb = (double)src->n, nt = na + nb, delta = src->mean - dst->mean;
    dst->mean += delta * (nb / nt);
    dst->m2 += src->m2 + delta * delta * (na * nb / nt);
    dst->zero += src->zero;
    dst->n += src->n;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    return 0;
}

/* The bucket of the smallest recorded value: every bucket below it is empty (hist_slot is
 * deterministic, so min was counted exactly there). */
static int hist_first_slot(const struct hist *h)
{
    int s = h->min >= HIST_MIN ? hist_slot(h->min) : 0;
    return s < 0 ? 0 : s;
}

/* Walks the buckets to the value of order statistic k (0-based), clamped to [min, max] so
 * the extremes are exact. cursor and cum carry the walk between increasing k. */
static double hist_order_stat(const struct hist *h, uint64_t k, int *cursor, uint64_t *cum)
{
    if (k < *cum) { /* behind the walk: start over */
        *cursor = hist_first_slot(h);
        *cum = h->zero;
    }
    if (k < h->zero)
        return 0; /* values below HIST_MIN (0.01 µs) are reported as 0 */
    while (*cursor < HIST_BUCKETS) {
        uint32_t c = h->b ? h->b[*cursor] : 0;
        if (k < *cum + c) {
            double v = hist_bucket_value(*cursor);
            if (v < h->min)
                v = h->min;
            if (v > h->max)
                v = h->max;
            return v;
        }
        *cum += c;
        (*cursor)++;
    }
    return h->max;
}

/* cursor/cum: the bucket walk, shared by calls with increasing p (one pass for all). */
static double hist_percentile(const struct hist *h, double p, int *cursor, uint64_t *cum)
{
    double hh = (double)(h->n - 1) * p / 100.0;
    uint64_t lo = (uint64_t)floor(hh);
    double a = hist_order_stat(h, lo, cursor, cum);
    if (lo + 1 >= h->n)
        return a;
    double b = hist_order_stat(h, lo + 1, cursor, cum);
    return a + (hh - (double)lo) * (b - a);
}

void hist_summarize(const struct hist *h, struct stats_dist *d)
{
    stats_dist_nan(d);
    if (h->n == 0)
        return;
    double n = (double)h->n;
    d->n = (size_t)h->n;
    d->mean = h->sum / n;
    double var = h->n > 1 ? h->m2 / (n - 1) : 0;
    d->stddev = var > 0 ? sqrt(var) : 0;
    d->min = h->min;
    d->max = h->max;
    int cursor = hist_first_slot(h);
    uint64_t cum = h->zero;
    d->p50 = hist_percentile(h, 50, &cursor, &cum);
    d->p90 = hist_percentile(h, 90, &cursor, &cum);
    d->p95 = hist_percentile(h, 95, &cursor, &cum);
    d->p99 = hist_percentile(h, 99, &cursor, &cum);
    d->p999 = hist_percentile(h, 99.9, &cursor, &cum);
}

/* ---- bootstrap and rank test ------------------------------------------------------------- */

void stats_rng_seed(struct stats_rng *r, uint64_t seed)
{
    r->s = seed;
}

uint64_t stats_rng_next(struct stats_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static size_t stats_rng_below(struct stats_rng *r, size_t n)
{
    /* Multiply-shift: bias below 2^-32 for the sample sizes analyzed here. */
    return (size_t)(((stats_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* p-th percentile of one resample of sorted x: draws n indices, counts them (the resample is
 * then x in order with multiplicities), walks the counts. O(n) per resample, no sort. */
static double stats_resample_pct(const double *x, size_t n, double p, struct stats_rng *r,
                                 double *counts)
{
    memset(counts, 0, n * sizeof *counts);
    for (size_t i = 0; i < n; i++)
        counts[stats_rng_below(r, n)] += 1;
    double h = (double)(n - 1) * p / 100.0;
    size_t lo = (size_t)floor(h);
    double f = h - (double)lo, cum = 0, a = NAN;
    for (size_t i = 0; i < n; i++) {
        cum += counts[i];
        if (isnan(a) && (double)lo < cum)
            a = x[i];
        if (!isnan(a) && (double)(lo + 1) < cum)
            return a + f * (x[i] - a);
    }
    return a;
}

static void stats_ci(double *diffs, int rounds, double *lo, double *hi)
{
    stats_sort(diffs, (size_t)rounds);
    *lo = stats_percentile_sorted(diffs, (size_t)rounds, 2.5);
    *hi = stats_percentile_sorted(diffs, (size_t)rounds, 97.5);
}

int stats_bootstrap_diff(const double *a, size_t na, const double *b, size_t nb, double p,
                         int rounds, struct stats_rng *rng, double *scratch, double *lo,
                         double *hi)
{
    if (na == 0 || nb == 0 || rounds < 1)
        return -1;
    double *diffs = malloc((size_t)rounds * sizeof *diffs);
    if (!diffs)
        return -1;
    for (int i = 0; i < rounds; i++) {
        double qa = stats_resample_pct(a, na, p, rng, scratch);
        double qb = stats_resample_pct(b, nb, p, rng, scratch);
        diffs[i] = qb - qa;
    }
    stats_ci(diffs, rounds, lo, hi);
    free(diffs);
    return 0;
}

int stats_bootstrap_one(const double *d, size_t n, double p, int rounds, struct stats_rng *rng,
                        double *scratch, double *lo, double *hi)
{
    if (n == 0 || rounds < 1)
        return -1;
    double *qs = malloc((size_t)rounds * sizeof *qs);
    if (!qs)
        return -1;
    for (int i = 0; i < rounds; i++)
        qs[i] = stats_resample_pct(d, n, p, rng, scratch);
    stats_ci(qs, rounds, lo, hi);
    free(qs);
    return 0;
}

double stats_mann_whitney(const double *a, size_t na, const double *b, size_t nb, double *u)
{
    *u = NAN;
    if (na == 0 || nb == 0)
        return 1.0;
    /* Merge the two sorted samples, giving each run of ties its average rank. */
    double ra = 0, tie_sum = 0;
    size_t i = 0, j = 0, rank = 1;
    while (i < na || j < nb) {
        double v = (j >= nb || (i < na && a[i] <= b[j])) ? a[i] : b[j];
        size_t ca = 0, cb = 0;
        while (i < na && a[i] == v) {
            i++;
            ca++;
        }
        while (j < nb && b[j] == v) {
            j++;
            cb++;
        }
        double t = (double)(ca + cb);
        double avg = (double)rank + (t - 1) / 2.0;
        ra += avg * (double)ca;
        tie_sum += t * t * t - t;
        rank += ca + cb;
    }
    double n1 = (double)na, n2 = (double)nb, n = n1 + n2;
    double u1 = ra - n1 * (n1 + 1) / 2.0;
    *u = u1;
    double mu = n1 * n2 / 2.0;
    double var = n1 * n2 / 12.0 * ((n + 1) - tie_sum / (n * (n - 1)));
    if (!(var > 0))
        return 1.0;
    double z = (fabs(u1 - mu) - 0.5) / sqrt(var);
    if (z < 0)
        z = 0;
    double pv = erfc(z / sqrt(2.0));
    return pv > 1 ? 1 : pv;
}
