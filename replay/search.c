/* search.c — stage judgement and bracketing for --search (search.h).
 *
 * Quantile intervals (formats/base/qci.c) are the classic distribution-free ones: with n samples sorted, the
 * q-quantile lies in [x(l), x(u)] with probability ≥ 1 − alpha when l is the largest and u the
 * smallest order with P(B ≤ l − 1) ≤ alpha/2 and P(B ≤ u − 1) ≥ 1 − alpha/2, B ~ Binomial(n, q).
 * When there are too few samples for an order u ≤ n, the upper bound is +Inf: the stage cannot
 * be called "met" on that metric, and says so (undecided), instead of trusting a point
 * estimate. The goodput share uses the Wilson score interval. */
#include "search.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "qci.h"

const char *search_metric_name(enum search_metric m)
{
    static const char *const n[SEARCH_N_METRICS] = {"ttft", "tpot", "e2e"};
    return (unsigned)m < SEARCH_N_METRICS ? n[m] : "?";
}

const char *search_verdict_name(enum search_verdict_kind v)
{
    return v == SEARCH_MET ? "met" : v == SEARCH_FAILED ? "failed" : "undecided";
}

static int search_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

size_t search_min_samples(double q, double alpha)
{
    return qci_min_samples(q, alpha);
}

void search_judge(const struct search_slo *slo, struct search_sample *v, size_t n,
                  struct search_verdict *out)
{
    memset(out, 0, sizeof *out);
    out->n = n;
    out->deciding = -2;
    double alpha = slo->alpha > 0 ? slo->alpha : 0.05;
    out->min_n = slo->quantile > 0 && slo->quantile < 1 ? search_min_samples(slo->quantile, alpha)
                                                        : 0;
    double *x = malloc((n ? n : 1) * sizeof *x);
    int any_failed = 0, any_undecided = 0;
    for (int m = 0; m < SEARCH_N_METRICS; m++) {
        struct search_estimate *e = &out->est[m];
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
        qsort(x, k, sizeof *x, search_cmp);
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
        for (int m = 0; ok && m < SEARCH_N_METRICS; m++)
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
        out->kind = n == 0 ? SEARCH_UNDECIDED
                    : out->goodput_lo >= slo->goodput_min ? SEARCH_MET
                    : out->goodput_hi < slo->goodput_min  ? SEARCH_FAILED
                                                          : SEARCH_UNDECIDED;
        return;
    }
    out->kind = any_failed ? SEARCH_FAILED : any_undecided ? SEARCH_UNDECIDED : SEARCH_MET;
}

void search_init(struct search_state *s, int integer, double start, double factor,
                 double tolerance, int max_stages)
{
    memset(s, 0, sizeof *s);
    s->integer = integer;
    s->start = start > 0 ? start : 1;
    s->factor = factor > 1 ? factor : 2;
    s->tolerance = tolerance > 0 ? tolerance : 0.05;
    s->max_stages = max_stages > 0 ? max_stages : 12;
}

double search_next(struct search_state *s, double x, enum search_verdict_kind v)
{
    if (v == SEARCH_MET) {
        if (x > s->lo)
            s->lo = x;
    } else if (s->hi == 0 || x < s->hi) {
        s->hi = x;
    }
    s->stages++;
    if (s->stages >= s->max_stages)
        return 0;
    double next;
    if (s->hi == 0) {
        next = x * s->factor; /* still growing */
        if (s->integer)
            next = ceil(next) > x ? ceil(next) : x + 1;
    } else if (s->lo == 0) {
        /* even the probe failed: go down until something meets */
        if (s->integer && s->hi <= 1)
            return 0;
        next = s->hi / s->factor;
        if (s->integer)
            next = floor(next) >= 1 ? floor(next) : 1;
        else if (next < s->start / 64)
            return 0;
    } else {
        if (s->hi <= s->lo || (s->hi - s->lo) / s->lo <= s->tolerance ||
            (s->integer && s->hi - s->lo <= 1))
            return 0;
        next = (s->lo + s->hi) / 2;
        if (s->integer)
            next = floor(next);
    }
    return next;
}

int search_parse_slo(const char *spec, struct search_slo *slo, char *err, size_t errlen)
{
    const char *p = spec;
    int any = 0;
    while (*p) {
        const char *eq = strchr(p, '=');
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        if (!eq || eq > end) {
            snprintf(err, errlen, "--slo expects KEY=VALUE[,…] (ttft, tpot, e2e), got '%s'", spec);
            return -1;
        }
        int m = -1;
        for (int k = 0; k < SEARCH_N_METRICS; k++)
            if ((size_t)(eq - p) == strlen(search_metric_name(k)) &&
                !strncasecmp(p, search_metric_name(k), (size_t)(eq - p)))
                m = k;
        if (m < 0) {
            snprintf(err, errlen, "--slo: unknown metric '%.*s' (ttft, tpot, e2e)",
                     (int)(eq - p), p);
            return -1;
        }
        char num[64];
        size_t nl = (size_t)(end - eq - 1);
        if (nl == 0 || nl >= sizeof num) {
            snprintf(err, errlen, "--slo: no value for %s", search_metric_name(m));
            return -1;
        }
        memcpy(num, eq + 1, nl);
        num[nl] = 0;
        char *u;
        double v = strtod(num, &u);
        double scale = 1; /* a bare number is ms */
        if (!strcmp(u, "us") || !strcmp(u, "\xc2\xb5s"))
            scale = 1e-3;
        else if (!strcmp(u, "ms") || !*u)
            scale = 1;
        else if (!strcmp(u, "s"))
            scale = 1e3;
        else
            scale = -1;
        if (u == num || scale < 0 || !(v > 0) || !isfinite(v)) {
            snprintf(err, errlen, "--slo %s: expected a positive duration (500, 500ms, 0.5s), "
                                  "got '%s'", search_metric_name(m), num);
            return -1;
        }
        slo->limit_ms[m] = v * scale;
        any = 1;
        p = *end ? end + 1 : end;
    }
    if (!any) {
        snprintf(err, errlen, "--slo: no SLO given");
        return -1;
    }
    return 0;
}

static void search_fmt_ms(double v, char *out, size_t n)
{
    if (isinf(v))
        snprintf(out, n, v > 0 ? "inf" : "-inf");
    else if (isnan(v))
        snprintf(out, n, "-");
    else
        snprintf(out, n, "%.1f", v);
}

void search_describe(const struct search_slo *slo, const struct search_verdict *v, char *out,
                     size_t outlen)
{
    size_t k = 0;
    out[0] = 0;
    if (slo->goodput_min > 0) {
        snprintf(out, outlen, "goodput %.1f %% [%.1f, %.1f] %s %.1f %%", 100 * v->goodput,
                 100 * v->goodput_lo, 100 * v->goodput_hi,
                 v->kind == SEARCH_MET ? ">=" : v->kind == SEARCH_FAILED ? "<" : "vs",
                 100 * slo->goodput_min);
        return;
    }
    static const char *const up[SEARCH_N_METRICS] = {"TTFT", "TPOT", "E2E"};
    for (int m = 0; m < SEARCH_N_METRICS && k + 1 < outlen; m++) {
        const struct search_estimate *e = &v->est[m];
        if (!e->present)
            continue;
        char a[24], lo[24], hi[24];
        search_fmt_ms(e->point, a, sizeof a);
        search_fmt_ms(e->lo, lo, sizeof lo);
        search_fmt_ms(e->hi, hi, sizeof hi);
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

static void search_json_num(struct buf *b, double v)
{
    if (isfinite(v))
        buf_printf(b, "%.17g", v);
    else
        buf_append_str(b, "null"); /* an infinite bound: too few samples (or failures) */
}

int search_stage_json(struct buf *b, const char *mode, double x, int64_t t_us, int64_t wall_us,
                      const struct search_slo *slo, const struct search_verdict *v)
{
    buf_reset(b);
    buf_printf(b, "{\"type\":\"stage\",\"t_us\":%lld,\"mode\":\"%s\",\"stage\":%.17g,"
                  "\"verdict\":\"%s\",\"requests\":%zu,\"wall_us\":%lld,\"quantile\":",
               (long long)t_us, mode, x, search_verdict_name(v->kind), v->n, (long long)wall_us);
    search_json_num(b, slo->goodput_min > 0 ? NAN : slo->quantile);
    buf_printf(b, ",\"alpha\":%.17g,\"min_requests\":%zu,\"slo\":{",
               slo->alpha > 0 ? slo->alpha : 0.05, v->min_n);
    int first = 1;
    for (int m = 0; m < SEARCH_N_METRICS; m++)
        if (slo->limit_ms[m] > 0) {
            buf_printf(b, "%s\"%s_ms\":%.17g", first ? "" : ",", search_metric_name(m),
                       slo->limit_ms[m]);
            first = 0;
        }
    buf_append_str(b, "},\"estimates\":{");
    first = 1;
    for (int m = 0; m < SEARCH_N_METRICS; m++) {
        const struct search_estimate *e = &v->est[m];
        if (!e->present)
            continue;
        buf_printf(b, "%s\"%s_ms\":{\"n\":%zu,\"point\":", first ? "" : ",",
                   search_metric_name(m), e->n);
        search_json_num(b, e->point);
        buf_append_str(b, ",\"lo\":");
        search_json_num(b, e->lo);
        buf_append_str(b, ",\"hi\":");
        search_json_num(b, e->hi);
        buf_append_char(b, '}');
        first = 0;
    }
    buf_append_str(b, "},\"goodput\":{\"share\":");
    search_json_num(b, v->goodput);
    buf_append_str(b, ",\"lo\":");
    search_json_num(b, v->goodput_lo);
    buf_append_str(b, ",\"hi\":");
    search_json_num(b, v->goodput_hi);
    buf_printf(b, ",\"min\":");
    search_json_num(b, slo->goodput_min > 0 ? slo->goodput_min : NAN);
    buf_append_str(b, "},\"deciding\":");
    if (v->deciding >= 0)
        buf_printf(b, "\"%s\"", search_metric_name(v->deciding));
    else
        buf_append_str(b, v->deciding == -1 ? "\"goodput\"" : "null");
    return buf_append_char(b, '}');
}
