/* compare.c — A/B comparison of two labelled logs (see compare.h). Verdict rule, stated in
 * every output and in analyze/README.md: a latency metric is "faster" (or "slower") when the
 * Mann–Whitney U p-value is below alpha AND the 95 % bootstrap CI of the difference of medians
 * (new - base) lies entirely below (above) zero; otherwise "no significant difference".
 * Paired comparisons (same original request in both logs) use the CI of the median paired
 * difference alone. */
#include "compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "capacity.h"
#include "report.h"

static const struct { const char *name, *json; } cmp_metrics[] = {
    {"TTFT ms", "ttft_ms"}, {"TTFB ms", "ttfb_ms"}, {"TPOT ms", "tpot_ms"}, {"E2E ms", "e2e_ms"},
};
static const char *const cmp_collect_names[] = {"ttft", "ttfb", "tpot", "e2e"};
#define CMP_N 4

/* A JSON number that reads back as the same double; null for NAN. */
static void cmp_json_num(struct buf *b, double v)
{
    char t[40];
    if (isnan(v) || isinf(v)) {
        buf_append_str(b, "null");
        return;
    }
    report_dbl(t, sizeof t, v);
    buf_append_str(b, t);
}

static const char *cmp_rule(void)
{
    return "faster/slower: Mann-Whitney p < alpha and the 95% bootstrap CI of the median "
           "difference (new - base) excludes 0; otherwise no significant difference";
}

/* Value of metric m (index into cmp_metrics) for one request, ms; NAN undefined. */
static double cmp_value(const struct an_req *r, int m)
{
    if (!(r->flags & AN_REQ_OK))
        return NAN;
    switch (m) {
    case 0: return r->ttft_us >= 0 ? r->ttft_us / 1e3 : NAN;
    case 1: return r->ttfb_us >= 0 ? r->ttfb_us / 1e3 : NAN;
    case 2: return r->tpot_us >= 0 ? r->tpot_us / 1e3 : NAN;
    case 3: return r->e2e_us >= 0 ? r->e2e_us / 1e3 : NAN;
    }
    return NAN;
}

const char *cmp_label_origin(const struct an_ctx *c, int label_idx)
{
    size_t n = 0, sched = 0;
    for (size_t i = 0; i < c->n_reqs; i++) {
        const struct an_req *r = &c->reqs[i];
        if (c->groups[r->group].label_idx != label_idx)
            continue;
        n++;
        sched += (r->flags & AN_REQ_FROM_SCHED) != 0;
    }
    return n == 0 ? "none" : sched == 0 ? "send" : sched == n ? "schedule" : "mixed";
}

struct cmp_row {
    size_t na, nb;
    double a50, b50, a99, b99, lo50, hi50, lo99, hi99, p, u;
    const char *verdict;
};

static double cmp_pct_change(double a, double b)
{
    return a != 0 && !isnan(a) && !isnan(b) ? (b - a) / fabs(a) * 100.0 : NAN;
}

static const char *cmp_verdict(double p, double lo, double hi, double alpha)
{
    if (!(p < alpha) || isnan(lo))
        return "no significant difference";
    if (hi < 0)
        return "faster";
    if (lo > 0)
        return "slower";
    return "no significant difference";
}

static void cmp_fmt(char *out, size_t n, double v, int sign)
{
    if (isnan(v))
        snprintf(out, n, "-");
    else
        snprintf(out, n, sign ? "%+.2f" : "%.2f", v);
}

struct pair { uint64_t h; size_t i; };

static int cmp_pair(const void *a, const void *b)
{
    uint64_t x = ((const struct pair *)a)->h, y = ((const struct pair *)b)->h;
    return (x > y) - (x < y);
}

/* Paired differences new - base of metric m over requests sharing replay.of. */
static size_t cmp_paired(const struct an_ctx *c, size_t ga, size_t gb, int m, double *out,
                         size_t *pairs)
{
    size_t n = 0, na = 0;
    struct pair *pa = malloc((c->n_reqs ? c->n_reqs : 1) * sizeof *pa);
    if (!pa)
        return 0;
    for (size_t i = 0; i < c->n_reqs; i++)
        if (c->reqs[i].group == ga && c->reqs[i].of_hash)
            pa[na++] = (struct pair){c->reqs[i].of_hash, i};
    qsort(pa, na, sizeof *pa, cmp_pair);
    *pairs = 0;
    for (size_t i = 0; i < c->n_reqs; i++) {
        const struct an_req *r = &c->reqs[i];
        if (r->group != gb || !r->of_hash || na == 0)
            continue;
        struct pair key = {r->of_hash, 0};
        struct pair *hit = bsearch(&key, pa, na, sizeof *pa, cmp_pair);
        if (!hit)
            continue;
        (*pairs)++;
        double va = cmp_value(&c->reqs[hit->i], m), vb = cmp_value(r, m);
        if (!isnan(va) && !isnan(vb))
            out[n++] = vb - va;
    }
    free(pa);
    stats_sort(out, n);
    return n;
}

/* The capacity at the SLO of both sides and new / base (README "compare"): first in the
 * table, "capacity" in JSON. */
static void cmp_capacity(FILE *f, struct buf *j, const struct an_ctx *c, const struct cmp_opts *o)
{
    const struct cap_label *side[2] = {NULL, NULL};
    for (size_t i = 0; o->cap && i < o->cap->n; i++)
        if (o->cap->l[i].label_idx < 2)
            side[o->cap->l[i].label_idx] = &o->cap->l[i];
    if (!side[0] && !side[1]) {
        buf_append_str(j, "\"capacity\":null,");
        return;
    }
    double tok[2] = {NAN, NAN};
    buf_append_str(j, "\"capacity\":{");
    if (!o->json)
        fprintf(f, "capacity at the SLO (p%g):", 100 * o->cap->slo.quantile);
    for (int k = 0; k < 2; k++) {
        const struct cap_label *L = side[k];
        buf_printf(j, "\"%s\":", k ? "new" : "base");
        if (L && L->best >= 0) {
            const struct cap_stage *b = &L->st[L->best];
            tok[k] = b->out_tok_s;
            buf_printf(j, "{\"stage\":%.17g,\"mode\":\"%s\",\"output_tok_s\":", b->stage,
                       L->rate ? "rate" : "concurrency");
            cmp_json_num(j, b->out_tok_s);
            buf_append_str(j, "},");
            if (!o->json)
                fprintf(f, "%s %s %.1f tok/s at %s %g", k ? "," : "", c->labels[k], b->out_tok_s,
                        L->rate ? "rate" : "concurrency", b->stage);
        } else {
            buf_append_str(j, "null,");
            if (!o->json)
                fprintf(f, "%s %s %s", k ? "," : "", c->labels[k],
                        L ? "no stage meets it" : "no stages");
        }
    }
    double ratio = tok[0] > 0 && isfinite(tok[1]) ? tok[1] / tok[0] : NAN;
    buf_append_str(j, "\"ratio\":");
    cmp_json_num(j, ratio);
    buf_append_str(j, "},");
    if (!o->json) {
        if (isfinite(ratio))
            fprintf(f, "; %s / %s = %.3f\n", c->labels[1], c->labels[0], ratio);
        else
            fputs("; no ratio\n", f);
    }
}

int cmp_run(FILE *f, const struct an_ctx *c, const struct cmp_opts *o, char *err,
            size_t errlen)
{
    if (c->n_labels != 2) {
        snprintf(err, errlen, "compare needs two logs");
        return -1;
    }
    struct stats_rng rng;
    stats_rng_seed(&rng, o->seed);
    size_t cap = c->n_reqs ? c->n_reqs : 1;
    double *scratch = malloc(cap * sizeof *scratch), *diffs = malloc(cap * sizeof *diffs);
    struct buf j;
    buf_init(&j, (size_t)1 << 28);
    if (!scratch || !diffs) {
        free(scratch);
        free(diffs);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    buf_printf(&j, "{\"tool\":\"llmtrace-analyze\",\"compare\":{\"base\":\"");
    buf_append_json_str(&j, c->labels[0], strlen(c->labels[0]));
    buf_append_str(&j, "\",\"new\":\"");
    buf_append_json_str(&j, c->labels[1], strlen(c->labels[1]));
    buf_printf(&j, "\",\"seed\":%llu,\"bootstrap\":%d,\"alpha\":", (unsigned long long)o->seed,
               o->rounds);
    cmp_json_num(&j, o->alpha);
    buf_printf(&j, ",\"rule\":\"%s\",", cmp_rule());
    cmp_capacity(f, &j, c, o);
    /* A latency from the schedule includes the client's queueing (coordinated omission
     * corrected), one from the send does not: a difference between them is no regression. */
    const char *oa = cmp_label_origin(c, 0), *ob = cmp_label_origin(c, 1);
    int origin_differs = strcmp(oa, ob) != 0 || !strcmp(oa, "mixed");
    buf_append_str(&j, "\"latency_from\":{\"base\":");
    buf_printf(&j, "\"%s\",\"new\":\"%s\"},\"latency_origin_note\":", oa, ob);
    if (o->origin_note || origin_differs) {
        const char *t = o->origin_note ? o->origin_note
                                       : "latency origins differ: TTFT/TTFB/E2E are not comparable";
        buf_append_char(&j, '"');
        buf_append_json_str(&j, t, strlen(t));
        buf_append_char(&j, '"');
    } else {
        buf_append_str(&j, "null");
    }
    buf_append_str(&j, ",\"group_note\":");
    if (o->group_note) {
        buf_append_char(&j, '"');
        buf_append_json_str(&j, o->group_note, strlen(o->group_note));
        buf_append_char(&j, '"');
    } else {
        buf_append_str(&j, "null");
    }
    buf_append_str(&j, ",\"unmatched\":[");
    /* groups of one side with no partner on the other: named, never silently dropped */
    int nu = 0;
    for (size_t g = 0; g < c->n_groups; g++) {
        int li = c->groups[g].label_idx, found = 0;
        for (size_t k = 0; k < c->n_groups && !found; k++)
            found = c->groups[k].label_idx == 1 - li && !strcmp(c->groups[k].key, c->groups[g].key);
        if (found || li > 1)
            continue;
        buf_append_str(&j, nu++ ? ",{\"side\":\"" : "{\"side\":\"");
        buf_append_str(&j, li == 0 ? "base" : "new");
        buf_append_str(&j, "\",\"key\":\"");
        buf_append_json_str(&j, c->groups[g].key, strlen(c->groups[g].key));
        buf_append_str(&j, "\"}");
        if (!o->json)
            fprintf(f, "note: %s %s only in %s: not compared\n", report_by_name(c->by),
                    c->groups[g].key, li == 0 ? "base" : "new");
    }
    buf_append_str(&j, "],");
    if (!o->json) {
        if (o->group_note)
            fprintf(f, "note: %s\n", o->group_note);
        fprintf(f, "latency from: base %s, new %s\n", oa, ob);
        if (origin_differs)
            fputs("WARNING: latency origins differ: TTFT/TTFB/E2E are not comparable "
                  "(use --latency-from send)\n", f);
        if (o->origin_note)
            fprintf(f, "note: %s\n", o->origin_note);
    }
    buf_append_str(&j, "\"groups\":[");
    int matched = 0;
    for (size_t ga = 0; ga < c->n_groups; ga++) {
        if (c->groups[ga].label_idx != 0)
            continue;
        size_t gb = c->n_groups;
        for (size_t k = 0; k < c->n_groups; k++)
            if (c->groups[k].label_idx == 1 && !strcmp(c->groups[k].key, c->groups[ga].key))
                gb = k;
        if (gb == c->n_groups)
            continue;
        struct cmp_row rows[CMP_N];
        for (int m = 0; m < CMP_N; m++) {
            struct cmp_row *r = &rows[m];
            double *a = an_collect(c, ga, cmp_collect_names[m], &r->na);
            double *b = an_collect(c, gb, cmp_collect_names[m], &r->nb);
            r->a50 = stats_percentile_sorted(a, r->na, 50);
            r->b50 = stats_percentile_sorted(b, r->nb, 50);
            r->a99 = stats_percentile_sorted(a, r->na, 99);
            r->b99 = stats_percentile_sorted(b, r->nb, 99);
            r->lo50 = r->hi50 = r->lo99 = r->hi99 = NAN;
            r->p = 1;
            r->u = NAN;
            if (a && b) {
                stats_bootstrap_diff(a, r->na, b, r->nb, 50, o->rounds, &rng, scratch, &r->lo50,
                                     &r->hi50);
                stats_bootstrap_diff(a, r->na, b, r->nb, 99, o->rounds, &rng, scratch, &r->lo99,
                                     &r->hi99);
                r->p = stats_mann_whitney(a, r->na, b, r->nb, &r->u);
            }
            r->verdict = cmp_verdict(r->p, r->lo50, r->hi50, o->alpha);
            free(a);
            free(b);
        }
        struct an_summary sa, sb;
        if (an_summarize(c, ga, 0, &sa) || an_summarize(c, gb, 0, &sb))
            continue;
        char key[300] = "";
        if (c->by != AN_BY_LABEL)
            snprintf(key, sizeof key, " [%s]", c->groups[ga].key);
        /* ---- table ---- */
        if (!o->json) {
            char v[6][40];
            fprintf(f, "%scompare%s: base=%s (%lld requests, %lld errors)  new=%s (%lld requests, "
                       "%lld errors)\n", matched ? "\n" : "", key, c->labels[0],
                    (long long)sa.requests, (long long)sa.errors, c->labels[1],
                    (long long)sb.requests, (long long)sb.errors);
            fprintf(f, "%-9s %9s %9s %8s %21s %8s  %s\n", "metric", "base p50", "new p50",
                    "change", "95% CI new-base", "p-value", "verdict");
            for (int m = 0; m < CMP_N; m++) {
                struct cmp_row *r = &rows[m];
                cmp_fmt(v[0], 40, r->a50, 0);
                cmp_fmt(v[1], 40, r->b50, 0);
                cmp_fmt(v[2], 40, cmp_pct_change(r->a50, r->b50), 1);
                cmp_fmt(v[3], 40, r->lo50, 1);
                cmp_fmt(v[4], 40, r->hi50, 1);
                char ci[96];
                snprintf(ci, sizeof ci, "[%s, %s]", v[3], v[4]);
                fprintf(f, "%-9s %9s %9s %7s%% %21s %8.4g  %s\n", cmp_metrics[m].name, v[0],
                        v[1], v[2], ci, r->p, r->verdict);
            }
            fprintf(f, "%-9s %9s %9s %8s %21s\n", "metric", "base p99", "new p99", "change",
                    "95% CI new-base");
            for (int m = 0; m < CMP_N; m++) {
                struct cmp_row *r = &rows[m];
                cmp_fmt(v[0], 40, r->a99, 0);
                cmp_fmt(v[1], 40, r->b99, 0);
                cmp_fmt(v[2], 40, cmp_pct_change(r->a99, r->b99), 1);
                cmp_fmt(v[3], 40, r->lo99, 1);
                cmp_fmt(v[4], 40, r->hi99, 1);
                char ci[96];
                snprintf(ci, sizeof ci, "[%s, %s]", v[3], v[4]);
                fprintf(f, "%-9s %9s %9s %7s%% %21s\n", cmp_metrics[m].name, v[0], v[1], v[2],
                        ci);
            }
            cmp_fmt(v[0], 40, sa.output_tok_s, 0);
            cmp_fmt(v[1], 40, sb.output_tok_s, 0);
            cmp_fmt(v[2], 40, cmp_pct_change(sa.output_tok_s, sb.output_tok_s), 1);
            fprintf(f, "%-9s %9s %9s %7s%%   (output tokens/s over each log's span)\n", "tok/s",
                    v[0], v[1], v[2]);
        } else {
            buf_append_str(&j, matched ? ",{\"key\":" : "{\"key\":");
            if (c->by == AN_BY_LABEL) {
                buf_append_str(&j, "null");
            } else {
                buf_append_char(&j, '"');
                buf_append_json_str(&j, c->groups[ga].key, strlen(c->groups[ga].key));
                buf_append_char(&j, '"');
            }
            buf_printf(&j, ",\"base_requests\":%lld,\"new_requests\":%lld,\"base_errors\":%lld,"
                           "\"new_errors\":%lld,\"metrics\":[",
                       (long long)sa.requests, (long long)sb.requests, (long long)sa.errors,
                       (long long)sb.errors);
            for (int m = 0; m < CMP_N; m++) {
                struct cmp_row *r = &rows[m];
                double vals[] = {r->a50, r->b50, cmp_pct_change(r->a50, r->b50), r->lo50,
                                 r->hi50, r->a99, r->b99, cmp_pct_change(r->a99, r->b99),
                                 r->lo99, r->hi99, r->u, r->p};
                const char *keys[] = {"base_p50", "new_p50", "p50_change_pct", "p50_diff_ci_lo",
                                      "p50_diff_ci_hi", "base_p99", "new_p99", "p99_change_pct",
                                      "p99_diff_ci_lo", "p99_diff_ci_hi", "mann_whitney_u",
                                      "p_value"};
                buf_printf(&j, "%s{\"metric\":\"%s\",\"base_n\":%zu,\"new_n\":%zu", m ? "," : "",
                           cmp_metrics[m].json, r->na, r->nb);
                for (size_t k = 0; k < sizeof vals / sizeof vals[0]; k++) {
                    buf_printf(&j, ",\"%s\":", keys[k]);
                    cmp_json_num(&j, vals[k]);
                }
                buf_printf(&j, ",\"verdict\":\"%s\"}", r->verdict);
            }
            buf_append_str(&j, "],\"base_output_tok_s\":");
            cmp_json_num(&j, sa.output_tok_s);
            buf_append_str(&j, ",\"new_output_tok_s\":");
            cmp_json_num(&j, sb.output_tok_s);
        }
        /* ---- paired by replay.of ---- */
        size_t pairs = 0;
        int printed_hdr = 0;
        if (o->json)
            buf_append_str(&j, ",\"paired\":");
        int any_pair = 0;
        for (int m = 0; m < CMP_N; m++) {
            size_t nd = cmp_paired(c, ga, gb, m, diffs, &pairs);
            if (pairs == 0)
                break;
            double lo = NAN, hi = NAN, med = stats_percentile_sorted(diffs, nd, 50);
            if (nd)
                stats_bootstrap_one(diffs, nd, 50, o->rounds, &rng, scratch, &lo, &hi);
            const char *verdict = isnan(lo) ? "no significant difference"
                                  : hi < 0  ? "faster"
                                  : lo > 0  ? "slower" : "no significant difference";
            if (!o->json) {
                if (!printed_hdr)
                    fprintf(f, "paired by replay.of: %zu pairs (verdict: 95%% CI of the median "
                               "paired difference excludes 0)\n%-9s %11s %21s  %s\n",
                            pairs, "metric", "median diff", "95% CI", "verdict");
                printed_hdr = 1;
                char v[3][40], ci[96];
                cmp_fmt(v[0], 40, med, 1);
                cmp_fmt(v[1], 40, lo, 1);
                cmp_fmt(v[2], 40, hi, 1);
                snprintf(ci, sizeof ci, "[%s, %s]", v[1], v[2]);
                fprintf(f, "%-9s %11s %21s  %s\n", cmp_metrics[m].name, v[0], ci, verdict);
            } else {
                buf_printf(&j, "%s\"%s\":{\"pairs\":%zu,\"n\":%zu,\"median_diff\":",
                           any_pair ? "," : "{", cmp_metrics[m].json, pairs, nd);
                cmp_json_num(&j, med);
                buf_append_str(&j, ",\"ci_lo\":");
                cmp_json_num(&j, lo);
                buf_append_str(&j, ",\"ci_hi\":");
                cmp_json_num(&j, hi);
                buf_printf(&j, ",\"verdict\":\"%s\"}", verdict);
                any_pair = 1;
            }
        }
        if (o->json)
            buf_append_str(&j, any_pair ? "}}" : "null}");
        matched++;
    }
    if (o->json) {
        buf_append_str(&j, "]}}\n");
        if (j.p)
            fwrite(j.p, 1, j.len, f);
    } else if (matched) {
        fprintf(f, "rule: faster/slower when Mann-Whitney p < %g and the 95%% bootstrap CI of the\n"
                   "      median difference excludes 0 (%d resamples, seed %llu)\n",
                o->alpha, o->rounds, (unsigned long long)o->seed);
    }
    buf_free(&j);
    free(scratch);
    free(diffs);
    if (!matched) {
        if (c->by == AN_BY_STAGE)
            snprintf(err, errlen, "compare: no stage of '%s' matches a stage of '%s' (notes "
                                  "above): --by label pools every stage", c->labels[0],
                     c->labels[1]);
        else
            snprintf(err, errlen, "compare: no group of '%s' matches a group of '%s'",
                     c->labels[0], c->labels[1]);
        return -1;
    }
    return 0;
}
