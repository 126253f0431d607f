/* capacity.c — the capacity answer of a staged log (capacity.h). The judgement is
 * formats/base/slojudge's, over the same per-request values the summaries use, so a stage
 * replay --search called "met" is met here too when the log is read the same way. */
#include "capacity.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "report.h"

static int cap_stage_cmp(const void *a, const void *b)
{
    const struct cap_stage *x = a, *y = b;
    return (x->stage > y->stage) - (x->stage < y->stage);
}

/* The per-request values slo_judge wants: a metric the request never reached (failed, or
 * no content) is +Inf — it did not meet the SLO; a one-token answer's TPOT is NaN (left out). */
static void cap_sample(const struct an_req *q, struct slo_sample *s)
{
    s->ok = (q->flags & AN_REQ_OK) != 0;
    s->ms[SLO_TTFT] = q->ttft_us >= 0 ? q->ttft_us / 1e3 : INFINITY;
    s->ms[SLO_TPOT] = q->tpot_us >= 0 ? q->tpot_us / 1e3 : NAN;
    s->ms[SLO_E2E] = q->e2e_us >= 0 ? q->e2e_us / 1e3 : INFINITY;
}

static int cap_judge_group(const struct an_ctx *c, size_t g, const struct slo_target *t,
                           struct slo_verdict *v)
{
    size_t lo = 0, hi = c->n_reqs;
    if (c->goff) {
        lo = c->goff[g];
        hi = c->goff[g + 1];
    }
    struct slo_sample *s = malloc((hi > lo ? hi - lo : 1) * sizeof *s);
    if (!s)
        return -1;
    size_t n = 0;
    for (size_t i = lo; i < hi; i++)
        if (c->reqs[i].group == g)
            cap_sample(&c->reqs[i], &s[n++]);
    slo_judge(t, s, n, v);
    free(s);
    return 0;
}

int cap_add_record(struct cap_records *r, int l, const struct tlog_stage *st)
{
    struct cap_rec *nv = realloc(r->v, (r->n + 1) * sizeof *nv);
    if (!nv)
        return -1;
    r->v = nv;
    struct cap_rec *e = &r->v[r->n++];
    memset(e, 0, sizeof *e);
    e->label_idx = l;
    e->stage = st->stage;
    e->quantile = st->quantile;
    e->requests = st->requests;
    e->verdict = (int)st->verdict;
    e->deciding = st->deciding;
    for (int m = 0; m < SLO_N_METRICS && m < TLOG_STAGE_METRICS; m++) {
        e->slo_ms[m] = st->slo_ms[m];
        e->present[m] = st->est[m].present;
        e->point[m] = st->est[m].point;
        e->lo[m] = st->est[m].lo;
        e->hi[m] = st->est[m].hi;
    }
    return 0;
}

/* The last stage record of (label, stage) judged at t's SLOs and quantile; NULL none. */
static const struct cap_rec *cap_find_record(const struct cap_records *recs, int l, double stage,
                                             const struct slo_target *t)
{
    const struct cap_rec *hit = NULL;
    for (size_t i = 0; recs && i < recs->n; i++) {
        const struct cap_rec *e = &recs->v[i];
        if (e->label_idx != l || e->stage != stage || e->verdict == TLOG_VERDICT_UNKNOWN ||
            !(fabs(e->quantile - t->quantile) < 1e-12))
            continue;
        int same = 1;
        for (int m = 0; m < SLO_N_METRICS; m++) {
            double a = isnan(e->slo_ms[m]) ? 0 : e->slo_ms[m], b = t->limit_ms[m];
            same &= fabs(a - b) <= 1e-9 * (fabs(b) + 1);
        }
        if (same)
            hit = e;
    }
    return hit;
}

static void cap_take_record(const struct cap_rec *e, struct slo_verdict *v)
{
    v->kind = e->verdict == TLOG_VERDICT_MET      ? SLO_MET
              : e->verdict == TLOG_VERDICT_FAILED ? SLO_FAILED
                                                  : SLO_UNDECIDED;
    v->n = e->requests > 0 ? (size_t)e->requests : 0;
    v->deciding = e->deciding >= 0 && e->deciding < SLO_N_METRICS ? e->deciding
                  : e->deciding == 3 ? -1 : -2;
    for (int m = 0; m < SLO_N_METRICS; m++) {
        v->est[m].present = e->present[m];
        v->est[m].point = e->point[m];
        v->est[m].lo = e->lo[m];
        v->est[m].hi = e->hi[m];
    }
}

int cap_compute(const struct an_ctx *c, const struct an_summary *sums, const struct an_slo *slo,
                double quantile, double alpha, const struct cap_records *recs,
                struct cap_result *out)
{
    memset(out, 0, sizeof *out);
    out->slo.limit_ms[SLO_TTFT] = slo->ttft_us / 1e3;
    out->slo.limit_ms[SLO_TPOT] = slo->tpot_us / 1e3;
    out->slo.limit_ms[SLO_E2E] = slo->e2e_us / 1e3;
    out->slo.quantile = quantile;
    out->slo.alpha = alpha;
    if (c->by != AN_BY_STAGE || (!slo->ttft_us && !slo->tpot_us && !slo->e2e_us))
        return 0;
    for (size_t li = 0; li < c->n_labels; li++) {
        struct cap_label L = {.label_idx = (int)li, .best = -1, .next = -1};
        for (size_t g = 0; g < c->n_groups; g++) {
            const struct an_group *gr = &c->groups[g];
            if (gr->label_idx != (int)li || !gr->has_stage || sums[g].requests == 0)
                continue;
            struct cap_stage *ns = realloc(L.st, (L.n + 1) * sizeof *ns);
            if (!ns) {
                free(L.st);
                cap_free(out);
                return -1;
            }
            L.st = ns;
            struct cap_stage *st = &L.st[L.n++];
            memset(st, 0, sizeof *st);
            st->g = g;
            st->stage = gr->stage;
            st->out_tok_s = sums[g].output_tok_s;
            if (cap_judge_group(c, g, &out->slo, &st->v)) {
                free(L.st);
                cap_free(out);
                return -1;
            }
            const struct cap_rec *e = cap_find_record(recs, (int)li, gr->stage, &out->slo);
            if (e) {
                size_t min_n = st->v.min_n;
                cap_take_record(e, &st->v);
                st->v.min_n = min_n;
                st->from_record = 1;
                out->from_records++;
            }
        }
        if (L.n == 0)
            continue;
        qsort(L.st, L.n, sizeof *L.st, cap_stage_cmp);
        /* a label is open-loop when its requests say replay.mode "rate" */
        for (size_t i = 0; i < c->n_reqs && !L.rate; i++)
            if (c->groups[c->reqs[i].group].label_idx == (int)li &&
                (c->reqs[i].flags & AN_REQ_RATE_STAGE))
                L.rate = 1;
        /* The highest stage that met: the largest load the endpoint takes within the SLO
         * (what --search reports). On a sound run throughput grows with load up to
         * saturation, so it is also the highest throughput; a lower stage with more tok/s
         * (short stages dominated by ramp-up and drain, or an endpoint that thrashes) is
         * named beside it (cap_line). */
        for (size_t k = 0; k < L.n; k++)
            if (L.st[k].v.kind == SLO_MET)
                L.best = (int)k;
        for (size_t k = L.best < 0 ? 0 : (size_t)L.best + 1; k < L.n; k++)
            if (L.st[k].v.kind != SLO_MET) {
                L.next = (int)k;
                break;
            }
        struct cap_label *nl = realloc(out->l, (out->n + 1) * sizeof *nl);
        if (!nl) {
            free(L.st);
            cap_free(out);
            return -1;
        }
        out->l = nl;
        out->l[out->n++] = L;
    }
    return 0;
}

void cap_free(struct cap_result *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->l[i].st);
    free(r->l);
    r->l = NULL;
    r->n = 0;
}

static void cap_ms(char *out, size_t n, double v)
{
    if (isinf(v))
        snprintf(out, n, "%s", v > 0 ? "inf" : "-inf");
    else if (isnan(v))
        snprintf(out, n, "-");
    else
        snprintf(out, n, "%.1f", v);
}

static const char *const cap_up[SLO_N_METRICS] = {"TTFT", "TPOT", "E2E"};

/* "p90 E2E 812.0 ms [790.1, 840.3] <= 1000 ms" for metric m of v. */
static void cap_est(const struct slo_target *t, const struct slo_verdict *v, int m, char *out,
                    size_t n)
{
    const struct slo_estimate *e = &v->est[m];
    char a[32], lo[32], hi[32];
    cap_ms(a, sizeof a, e->point);
    cap_ms(lo, sizeof lo, e->lo);
    cap_ms(hi, sizeof hi, e->hi);
    const char *rel = e->hi <= t->limit_ms[m] ? "<=" : e->lo > t->limit_ms[m] ? ">" : "vs";
    snprintf(out, n, "p%g %s %s ms [%s, %s] %s %g ms", 100 * t->quantile, cap_up[m], a, lo, hi,
             rel, t->limit_ms[m]);
}

/* The metric whose upper bound is closest to its limit: what limits a stage that met. */
static int cap_tightest(const struct slo_target *t, const struct slo_verdict *v)
{
    int best = -1;
    double r = -INFINITY;
    for (int m = 0; m < SLO_N_METRICS; m++)
        if (v->est[m].present && t->limit_ms[m] > 0 && v->est[m].hi / t->limit_ms[m] > r) {
            r = v->est[m].hi / t->limit_ms[m];
            best = m;
        }
    return best;
}

static void cap_stage_name(const struct cap_label *L, double x, char *out, size_t n)
{
    if (L->rate)
        snprintf(out, n, "%g req/s", x);
    else
        snprintf(out, n, "concurrency %g", x);
}

void cap_line(const struct an_ctx *c, const struct cap_result *r, size_t i, char *out,
              size_t outlen)
{
    const struct cap_label *L = &r->l[i];
    char e[200], nm[64], tail[400] = "";
    int ci = (int)lround(100 * (1 - (r->slo.alpha > 0 ? r->slo.alpha : 0.05)));
    if (L->next >= 0) {
        const struct cap_stage *s = &L->st[L->next];
        int m = s->v.deciding;
        cap_stage_name(L, s->stage, nm, sizeof nm);
        if (m >= 0 && m < SLO_N_METRICS) {
            cap_est(&r->slo, &s->v, m, e, sizeof e);
            if (s->v.kind == SLO_UNDECIDED && isinf(s->v.est[m].hi))
                snprintf(tail, sizeof tail, "%s (%s) undecided on p%g %s: %zu requests, %zu "
                                            "needed for a bounded interval",
                         L->best >= 0 ? "; next stage" : "; stage", nm, 100 * r->slo.quantile,
                         cap_up[m], s->v.n, s->v.min_n);
            else
                snprintf(tail, sizeof tail, "%s (%s) %s on %s", L->best >= 0 ? "; next stage" :
                         "; lowest stage", nm, slo_verdict_name(s->v.kind), e);
        } else {
            snprintf(tail, sizeof tail, "; next stage (%s) %s", nm, slo_verdict_name(s->v.kind));
        }
    } else if (L->best >= 0) {
        snprintf(tail, sizeof tail, "; every stage above met too: the capacity is above the "
                                    "highest stage run");
    }
    if (L->best < 0) {
        snprintf(out, outlen, "%s: no stage meets the SLO at p%g (%zu stages)%s",
                 c->labels[L->label_idx], 100 * r->slo.quantile, L->n, tail);
        return;
    }
    const struct cap_stage *b = &L->st[L->best];
    int m = cap_tightest(&r->slo, &b->v);
    cap_stage_name(L, b->stage, nm, sizeof nm);
    if (m >= 0)
        cap_est(&r->slo, &b->v, m, e, sizeof e);
    else
        snprintf(e, sizeof e, "-");
    size_t k = (size_t)snprintf(out, outlen, "%s: highest output throughput meeting the SLO: "
                                             "%.1f tok/s at %s (%s, %d %% CI)%s",
                                c->labels[L->label_idx], b->out_tok_s, nm, e, ci, tail);
    for (int s = 0; s < L->best; s++)
        if (L->st[s].v.kind == SLO_MET && L->st[s].out_tok_s > 1.01 * b->out_tok_s && k < outlen) {
            char lower[64];
            cap_stage_name(L, L->st[s].stage, lower, sizeof lower);
            k += (size_t)snprintf(out + k, outlen - k, "; %s gave more: %.1f tok/s (short "
                                  "stages? --steady)", lower, L->st[s].out_tok_s);
            break;
        }
    int rec = 0;
    for (size_t s = 0; s < L->n; s++)
        rec |= L->st[s].from_record;
    if (rec && k < outlen)
        snprintf(out + k, outlen - k, " (verdicts of the search's stage records)");
}

static void cap_num(struct buf *b, double v)
{
    if (!isfinite(v)) {
        buf_append_str(b, "null");
        return;
    }
    char t[40];
    report_dbl(t, sizeof t, v);
    buf_append_str(b, t);
}

static void cap_stage_json(struct buf *b, const struct cap_result *r, const struct cap_stage *s)
{
    buf_append_str(b, "{\"stage\":");
    cap_num(b, s->stage);
    buf_printf(b, ",\"verdict\":\"%s\",\"verdict_from\":\"%s\",\"requests\":%zu,"
                  "\"output_tok_s\":",
               slo_verdict_name(s->v.kind), s->from_record ? "stage record" : "requests", s->v.n);
    cap_num(b, s->out_tok_s);
    buf_printf(b, ",\"deciding\":");
    if (s->v.deciding >= 0 && s->v.deciding < SLO_N_METRICS)
        buf_printf(b, "\"%s\"", slo_metric_name(s->v.deciding));
    else
        buf_append_str(b, "null");
    buf_append_str(b, ",\"estimates\":{");
    int k = 0;
    for (int m = 0; m < SLO_N_METRICS; m++) {
        const struct slo_estimate *e = &s->v.est[m];
        if (!e->present || !(r->slo.limit_ms[m] > 0))
            continue;
        buf_printf(b, "%s\"%s_ms\":{\"n\":%zu,\"point\":", k++ ? "," : "", slo_metric_name(m),
                   e->n);
        cap_num(b, e->point);
        buf_append_str(b, ",\"lo\":");
        cap_num(b, e->lo);
        buf_append_str(b, ",\"hi\":");
        cap_num(b, e->hi);
        buf_append_str(b, ",\"limit\":");
        cap_num(b, r->slo.limit_ms[m]);
        buf_append_char(b, '}');
    }
    buf_append_str(b, "}}");
}

void cap_json(struct buf *b, const struct an_ctx *c, const struct cap_result *r)
{
    buf_append_char(b, '[');
    for (size_t i = 0; i < r->n; i++) {
        const struct cap_label *L = &r->l[i];
        buf_append_str(b, i ? ",{\"label\":" : "{\"label\":");
        buf_append_char(b, '"');
        buf_append_json_str(b, c->labels[L->label_idx], strlen(c->labels[L->label_idx]));
        buf_printf(b, "\",\"mode\":\"%s\",\"quantile\":", L->rate ? "rate" : "concurrency");
        cap_num(b, r->slo.quantile);
        buf_append_str(b, ",\"alpha\":");
        cap_num(b, r->slo.alpha > 0 ? r->slo.alpha : 0.05);
        buf_append_str(b, ",\"answer\":");
        if (L->best >= 0)
            cap_stage_json(b, r, &L->st[L->best]);
        else
            buf_append_str(b, "null");
        buf_append_str(b, ",\"next\":");
        if (L->next >= 0)
            cap_stage_json(b, r, &L->st[L->next]);
        else
            buf_append_str(b, "null");
        buf_append_str(b, ",\"stages\":[");
        for (size_t k = 0; k < L->n; k++) {
            if (k)
                buf_append_char(b, ',');
            cap_stage_json(b, r, &L->st[k]);
        }
        buf_append_str(b, "]}");
    }
    buf_append_char(b, ']');
}
