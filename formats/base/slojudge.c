/* slojudge.c — stage judgement against SLOs (slojudge.h).
 *
 * Quantile intervals (qci.c) are the classic distribution-free ones: with n samples sorted,
 * the q-quantile lies in [x(l), x(u)] with probability >= 1 - alpha. When there are too few
 * samples for an order u <= n, the upper bound is +Inf: the stage cannot be called "met" on
 * that metric, and says so (undecided), instead of trusting a point estimate. */
#include "slojudge.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qci.h"

const char *slo_metric_name(enum slo_metric m)
{
    static const char *const n[SLO_N_METRICS] = {"ttft", "tpot", "e2e"};
    return (unsigned)m < SLO_N_METRICS ? n[m] : "?";
}

const char *slo_verdict_name(enum slo_verdict_kind v)
{
    return v == SLO_MET ? "met" : v == SLO_FAILED ? "failed" : "undecided";
}

static int slo_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

size_t slo_min_samples(double q, double alpha)
{
    return qci_min_samples(q, alpha);
}

void slo_judge(const struct slo_target *slo, struct slo_sample *v, size_t n,
                  struct slo_verdict *out)
{
    memset(out, 0, sizeof *out);
    out->n = n;
    out->deciding = -2;
    double alpha = slo->alpha > 0 ? slo->alpha : 0.05;
    out->min_n = slo->quantile > 0 && slo->quantile < 1 ? slo_min_samples(slo->quantile, alpha)
                                                        : 0;
    double *x = malloc((n ? n : 1) * sizeof *x);
    int any_failed = 0, any_undecided = 0;
    for (int m = 0; m < SLO_N_METRICS; m++) {
        struct slo_estimate *e = &out->est[m];
        if (slo->limit_ms[m] <= 0)
            continue;
        e->present = 1;
        size_t k = 0;
        for (size_t i = 0; x && i < n; i++) {
            double val = v[i].ok ? v[i].ms[m] : INFINITY;
            if (isnan(val))
                continue; /* TPOT of a one-token answer: no decode timing */
            x[k++] = val;
        }
        e->n = k;
        if (slo->goodput_min > 0 || k == 0) {
            e->point = NAN;
            e->lo = -INFINITY;
            e->hi = INFINITY;
            continue;
        }
        qsort(x, k, sizeof *x, slo_cmp);
        qci_quantile_ci(x, k, slo->quantile, alpha, &e->point, &e->lo, &e->hi);
        if (slo->goodput_min > 0)
            continue;
        if (e->lo > slo->limit_ms[m]) {
            if (!any_failed)
                out->deciding = m;
            any_failed = 1;
        } else if (!(e->hi <= slo->limit_ms[m])) {
            if (!any_failed && !any_undecided)
                out->deciding = m;
            any_undecided = 1;
        }
    }
    /* the share of requests that met every SLO */
    size_t good = 0;
    for (size_t i = 0; i < n; i++) {
        int ok = v[i].ok;
        for (int m = 0; ok && m < SLO_N_METRICS; m++)
            if (slo->limit_ms[m] > 0 && !isnan(v[i].ms[m]) && !(v[i].ms[m] <= slo->limit_ms[m]))
                ok = 0;
        good += ok;
    }
    out->goodput = n ? (double)good / (double)n : NAN;
    if (n)
        qci_wilson(out->goodput, n, alpha, &out->goodput_lo, &out->goodput_hi);
    free(x);
    if (slo->goodput_min > 0) {
        out->deciding = -1;
        out->kind = n == 0 ? SLO_UNDECIDED
                    : out->goodput_lo >= slo->goodput_min ? SLO_MET
                    : out->goodput_hi < slo->goodput_min  ? SLO_FAILED
                                                          : SLO_UNDECIDED;
        return;
    }
    out->kind = any_failed ? SLO_FAILED : any_undecided ? SLO_UNDECIDED : SLO_MET;
}

static void slo_fmt_ms(double v, char *out, size_t n)
{
    if (isinf(v))
        snprintf(out, n, v > 0 ? "inf" : "-inf");
    else if (isnan(v))
        snprintf(out, n, "-");
    else
        snprintf(out, n, "%.1f", v);
}

void slo_describe(const struct slo_target *slo, const struct slo_verdict *v, char *out,
                     size_t outlen)
{
    size_t k = 0;
    out[0] = 0;
    if (slo->goodput_min > 0) {
        snprintf(out, outlen, "goodput %.1f %% [%.1f, %.1f] %s %.1f %%", 100 * v->goodput,
                 100 * v->goodput_lo, 100 * v->goodput_hi,
                 v->kind == SLO_MET ? ">=" : v->kind == SLO_FAILED ? "<" : "vs",
                 100 * slo->goodput_min);
        return;
    }
    static const char *const up[SLO_N_METRICS] = {"TTFT", "TPOT", "E2E"};
    for (int m = 0; m < SLO_N_METRICS && k + 1 < outlen; m++) {
        const struct slo_estimate *e = &v->est[m];
        if (!e->present)
            continue;
        char a[24], lo[24], hi[24];
        slo_fmt_ms(e->point, a, sizeof a);
        slo_fmt_ms(e->lo, lo, sizeof lo);
        slo_fmt_ms(e->hi, hi, sizeof hi);
        const char *rel = e->hi <= slo->limit_ms[m]  ? "<="
                          : e->lo > slo->limit_ms[m] ? ">"
                                                     : "vs";
        int w = snprintf(out + k, outlen - k, "%sp%g %s %s ms [%s, %s] %s %g ms", k ? "; " : "",
                         100 * slo->quantile, up[m], a, lo, hi, rel, slo->limit_ms[m]);
        if (w < 0)
            break;
        k += (size_t)w < outlen - k ? (size_t)w : outlen - k - 1;
    }
}

