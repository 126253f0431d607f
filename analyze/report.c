/* report.c — table, JSON, CSV and Markdown renderings of group summaries (see report.h;
 * the JSON keys are listed in analyze/README.md and the fixed ones come from issue 5). */
#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "capacity.h"

const char *report_by_name(enum an_by by)
{
    switch (by) {
    case AN_BY_LABEL: return "label";
    case AN_BY_STAGE: return "stage";
    case AN_BY_WINDOW: return "window";
    case AN_BY_PATH: return "path";
    case AN_BY_MODEL: return "model";
    case AN_BY_STATUS: return "status";
    case AN_BY_TURN: return "turn";
    }
    return "?";
}

void report_group_name(const struct an_ctx *c, size_t g, char *out, size_t outlen)
{
    const struct an_group *grp = &c->groups[g];
    if (c->by == AN_BY_LABEL)
        snprintf(out, outlen, "%s", grp->label);
    else
        snprintf(out, outlen, "%s %s", grp->label, grp->key);
}

/* Fixed-width number: "-" for NAN, fewer decimals as values grow so columns stay narrow. */
static void report_num(char *out, size_t outlen, double v)
{
    if (isnan(v))
        snprintf(out, outlen, "-");
    else if (fabs(v) >= 100000)
        snprintf(out, outlen, "%.0f", v);
    else if (fabs(v) >= 1000)
        snprintf(out, outlen, "%.1f", v);
    else if (fabs(v) >= 10)
        snprintf(out, outlen, "%.2f", v);
    else
        snprintf(out, outlen, "%.3f", v);
}

/* The per-group numbers the table and the Markdown summary both show, formatted. */
struct report_cells {
    char out_tok_s[32], tot_tok_s[32], req_s[32], good_s[32], ttft[32], tpot[32], e2e[32];
};

/* Appends "*" to a number that rests on n_out counted from stream events. */
static void report_mark(char *cell, size_t len, int mark)
{
    size_t n = strlen(cell);
    if (mark && strcmp(cell, "-") && n + 1 < len) {
        cell[n] = '*';
        cell[n + 1] = '\0';
    }
}

static void report_summary_cells(const struct an_summary *s, struct report_cells *v)
{
    int m = s->n_out_events > 0;
    report_num(v->out_tok_s, sizeof v->out_tok_s, s->output_tok_s);
    report_mark(v->out_tok_s, sizeof v->out_tok_s, m);
    report_num(v->tot_tok_s, sizeof v->tot_tok_s, s->total_tok_s);
    report_mark(v->tot_tok_s, sizeof v->tot_tok_s, m);
    report_num(v->req_s, sizeof v->req_s, s->req_s);
    report_num(v->good_s, sizeof v->good_s, s->goodput_req_s);
    report_num(v->ttft, sizeof v->ttft, s->ttft.p50);
    report_num(v->tpot, sizeof v->tpot, s->tpot.p50);
    report_mark(v->tpot, sizeof v->tpot, m);
    report_num(v->e2e, sizeof v->e2e, s->e2e.p50);
}

/* Writes text word-wrapped to 99 columns, continuation lines indented by two spaces. */
static void report_wrap(FILE *f, const char *text)
{
    size_t col = 0;
    const char *p = text;
    while (*p) {
        size_t w = strcspn(p, " ");
        if (col && col + 1 + w > 99) {
            fputs("\n  ", f);
            col = 2;
        } else if (col) {
            fputc(' ', f);
            col++;
        }
        fwrite(p, 1, w, f);
        col += w;
        p += w;
        while (*p == ' ')
            p++;
    }
    fputc('\n', f);
}

void report_notes(FILE *f, const struct an_report *r, const char *mark)
{
    const struct an_ctx *c = r->ctx;
    size_t flagged = 0;
    int64_t ev = 0, req = 0;
    for (size_t g = 0; g < c->n_groups; g++)
        if (r->sums[g].n_out_events > 0 && r->sums[g].requests > 0) {
            flagged++;
            ev += r->sums[g].n_out_events;
            req += r->sums[g].requests;
        }
    if (flagged) {
        struct buf t;
        buf_init(&t, 1 << 16);
        buf_printf(&t, "%s n_out counted from stream events (tokens_source \"events\") for", mark);
        if (flagged > 6) {
            buf_printf(&t, " %lld of %lld requests (%.0f %%) of %zu groups", (long long)ev,
                       (long long)req, 100.0 * (double)ev / (double)req, flagged);
        } else {
            size_t k = 0;
            for (size_t g = 0; g < c->n_groups; g++) {
                const struct an_summary *s = &r->sums[g];
                if (s->n_out_events == 0 || s->requests == 0)
                    continue;
                char name[300];
                report_group_name(c, g, name, sizeof name);
                buf_printf(&t, "%s %s: %lld of %lld requests (%.0f %%)", k++ ? "," : "", name,
                           (long long)s->n_out_events, (long long)s->requests,
                           100.0 * (double)s->n_out_events / (double)s->requests);
            }
        }
        buf_append_str(&t, ". A lower bound when an event carries several tokens: tok/s may "
                           "read low and TPOT high (llmtrace-replay asks for usage unless run "
                           "with --no-include-usage).");
        if (t.p)
            report_wrap(f, t.p);
        buf_free(&t);
    }
    if (c->n_groups && !c->itl_exact)
        fprintf(f, "note: ITL percentiles from histograms (within 0.1 %%): more than %zu ITL "
                   "samples\n", (size_t)AN_ITL_EXACT_MAX);
    if (c->include_connect)
        fputs("note: TTFT, TTFB and E2E include the connect time of new connections "
              "(--include-connect)\n", f);
    if (c->n_steady) {
        /* --steady: what was left out of each stage, and stages too short to have a
         * steady state (fewer than half their requests kept) */
        struct buf t;
        buf_init(&t, 1 << 16);
        buf_append_str(&t, "note: --steady left out ramp-up + drain requests:");
        int64_t kept_short = 0;
        for (size_t i = 0; i < c->n_steady; i++) {
            const struct an_steady *w = &c->steady[i];
            int64_t kept = w->requests - w->ramp_dropped - w->drain_dropped;
            buf_printf(&t, "%s %s %g: %lld + %lld of %lld%s", i ? "," : "",
                       c->labels[w->label_idx], (double)w->stage, (long long)w->ramp_dropped,
                       (long long)w->drain_dropped, (long long)w->requests,
                       w->reached ? "" : " (in-flight never reached the stage's target)");
            kept_short += 2 * kept < w->requests;
        }
        buf_append_char(&t, '.');
        if (kept_short)
            buf_printf(&t, " %lld stages kept fewer than half their requests: too short for a "
                           "steady state (give each stage many times its concurrency in "
                           "requests).", (long long)kept_short);
        if (t.p)
            report_wrap(f, t.p);
        buf_free(&t);
    }
}


static const char *report_trunc(const char *s, char *tmp, size_t w)
{
    size_t n = strlen(s);
    if (n <= w)
        return s;
    memcpy(tmp, s, w - 1);
    tmp[w - 1] = '~';
    tmp[w] = '\0';
    return tmp;
}

static void report_errors_line(char *out, size_t outlen, const struct an_summary *s)
{
    size_t o = 0;
    out[0] = '\0';
    for (int k = 1; k < TLOG_ERROR_KIND_COUNT; k++) {
        if (!s->err_by_kind[k])
            continue;
        int w = snprintf(out + o, outlen - o, "%s%s %lld", o ? ", " : "",
                         tlog_error_kind_name((enum tlog_error_kind)k),
                         (long long)s->err_by_kind[k]);
        if (w < 0 || (size_t)w >= outlen - o)
            break;
        o += (size_t)w;
    }
}

struct report_metric {
    const char *name;        /* table label */
    const char *json;        /* JSON key */
    size_t off;              /* offset of the stats_dist in an_summary */
    int compat;              /* 0: ours; else the --compat family (report_compat_family) */
};

#define RM(n, j, f, c) { n, j, offsetof(struct an_summary, f), c }
static const struct report_metric report_metrics[] = {
    RM("TTFT ms", "ttft_ms", ttft, 0),
    RM("TTFB ms", "ttfb_ms", ttfb, 0),
    RM("TPOT ms", "tpot_ms", tpot, 0),
    RM("ITL ms", "itl_ms", itl, 0),
    RM("ITL/tok ms", "itl_token_ms", itl_tok, 0),
    RM("E2E ms", "e2e_ms", e2e, 0),
    RM("sched lag ms", "schedule_lag_ms", lag, 0),
    RM("tokens in", "tokens_in", n_in, 0),
    RM("tokens out", "tokens_out", n_out, 0),
    RM("user tok/s", "user_tok_s", user_tok_s, 0),
    RM("resend ms", "resend_ms", resend_ms, 0),
    RM("connect ms", "connect_ms", connect_ms, 0),
    RM("vllm TTFT ms", "vllm_ttft_ms", vllm_ttft, 1),
    RM("vllm TPOT ms", "vllm_tpot_ms", vllm_tpot, 1),
    RM("vllm ITL ms", "vllm_itl_ms", vllm_itl, 1),
    RM("gperf TTFT ms", "genai_perf_ttft_ms", gp_ttft, 2),
    RM("gperf ITL ms", "genai_perf_itl_ms", gp_itl, 2),
    RM("guidellm TPOT", "guidellm_tpot_ms", gl_tpot, 3),
    RM("guidellm ITL", "guidellm_itl_ms", gl_itl, 3),
    RM("llmperf ITL", "llmperf_itl_ms", lp_itl, 4),
    RM("llmperf tok/s", "llmperf_req_out_tok_s", lp_out_tok_s, 4),
};
#define REPORT_N_METRICS (sizeof report_metrics / sizeof report_metrics[0])

int report_compat_family(const char *name)
{
    static const char *const fam[] = {"vllm", "genai-perf", "guidellm", "llmperf"};
    for (int i = 0; name && i < 4; i++)
        if (!strcmp(name, fam[i]))
            return i + 1;
    return 0;
}

/* Our metrics always; another tool's only when --compat named that tool. */
static int report_show(const struct an_report *r, const struct report_metric *m)
{
    return m->compat == 0 || m->compat == r->compat;
}

static const struct stats_dist *report_dist(const struct an_summary *s,
                                            const struct report_metric *m)
{
    return (const struct stats_dist *)((const char *)s + m->off);
}

/* "== sessions of LABEL" blocks (analyze/README.md "Sessions"), for labels that have any. */
static void report_sessions_table(FILE *f, const struct an_report *r)
{
    const struct an_ctx *c = r->ctx;
    char a[32], b[32], d[32];
    for (size_t l = 0; l < c->n_labels; l++) {
        struct an_sessions s;
        if (an_sessions_of(c, l, &s) || s.sessions == 0)
            continue;
        report_num(a, sizeof a, s.sessions_s);
        report_num(b, sizeof b, s.goodput_sessions_s);
        fprintf(f, "\n== sessions of %s: %lld sessions, %lld turns; %lld completed (every turn "
                   "ok), %lld met every SLO; %s sessions/s, goodput %s sessions/s\n",
                c->labels[l], (long long)s.sessions, (long long)s.turns, (long long)s.completed,
                (long long)s.slo_met, a, b);
        fprintf(f, "%-13s %8s %8s %8s %8s %8s %8s %8s %8s %8s\n", "metric", "mean", "stddev",
                "min", "p50", "p90", "p95", "p99", "p99.9", "max");
        const struct { const char *n; const struct stats_dist *dd; } rows[] = {
            {"duration_ms", &s.duration_ms}, {"turns", &s.turns_per}, {"ok_turns", &s.ok_turns_per}};
        for (size_t k = 0; k < 3; k++) {
            const struct stats_dist *dd = rows[k].dd;
            double v[9] = {dd->mean, dd->stddev, dd->min, dd->p50, dd->p90, dd->p95, dd->p99,
                           dd->p999, dd->max};
            fprintf(f, "%-13s", rows[k].n);
            for (int i = 0; i < 9; i++) {
                report_num(d, sizeof d, v[i]);
                fprintf(f, " %8s", d);
            }
            fputc('\n', f);
        }
    }
}

void report_capacity(FILE *f, const struct an_report *r, const char *prefix)
{
    for (size_t i = 0; r->cap && i < r->cap->n; i++) {
        char line[1200];
        cap_line(r->ctx, r->cap, i, line, sizeof line);
        fprintf(f, "%s%s\n", prefix, line);
    }
}

void report_table(FILE *f, const struct an_report *r)
{
    const struct an_ctx *c = r->ctx;
    int keyed = c->by != AN_BY_LABEL;
    char a[32], t2[64], t3[32], lab[64];
    /* The numeric columns take 76 characters; label and key share the other 23 (key column
     * only when grouped by something else), so a row never exceeds 100 columns. */
    int lw = 5, kw = 0;
    for (size_t g = 0; g < c->n_groups; g++) {
        int ll = (int)strlen(c->groups[g].label), kl = (int)strlen(c->groups[g].key);
        lw = ll > lw ? ll : lw;
        kw = kl > kw ? kl : kw;
    }
    if (!keyed) {
        lw = lw > 23 ? 23 : lw;
    } else {
        lw = lw > 12 ? 12 : lw;
        kw = kw < 6 ? 6 : kw;
        kw = kw > 22 - lw ? 22 - lw : kw;
    }
    char head[128];
    snprintf(head, sizeof head, "%-*.*s%s%-*.*s", lw, lw, "label", keyed ? " " : "", kw, kw,
             keyed ? report_by_name(c->by) : "");
    if (r->cap && r->cap->n) {
        report_capacity(f, r, "");
        fputc('\n', f);
    }
    fprintf(f, "%s %6s %5s %9s %9s %7s %7s %8s %8s %8s\n", head, "reqs", "err", "out tok/s",
            "tot tok/s", "req/s", "good/s", "TTFT p50", "TPOT p50", "E2E p50");
    fprintf(f, "%*s %6s %5s %9s %9s %7s %7s %8s %8s %8s\n", (int)strlen(head), "", "", "", "", "",
            "", "", "ms", "ms", "ms");
    for (size_t g = 0; g < c->n_groups; g++) {
        const struct an_summary *s = &r->sums[g];
        if (s->requests == 0)
            continue;
        struct report_cells v;
        report_summary_cells(s, &v);
        snprintf(head, sizeof head, "%-*.*s%s%-*.*s", lw, lw,
                 report_trunc(c->groups[g].label, lab, (size_t)lw), keyed ? " " : "", kw, kw,
                 keyed ? report_trunc(c->groups[g].key, t2, (size_t)kw) : "");
        fprintf(f, "%s %6lld %5lld %9s %9s %7s %7s %8s %8s %8s\n", head, (long long)s->requests,
                (long long)s->errors, v.out_tok_s, v.tot_tok_s, v.req_s, v.good_s, v.ttft,
                v.tpot, v.e2e);
    }
    report_notes(f, r, "*");
    for (size_t g = 0; g < c->n_groups; g++) {
        const struct an_summary *s = &r->sums[g];
        if (s->requests == 0 && s->warmup_excluded == 0 && s->transport_retries == 0)
            continue;
        char name[300], errs[512];
        report_group_name(c, g, name, sizeof name);
        report_errors_line(errs, sizeof errs, s);
        struct buf h;
        buf_init(&h, 1 << 16);
        buf_printf(&h, "== %s: %lld requests, %lld ok, %lld errors%s%s%s", name,
                   (long long)s->requests, (long long)s->ok, (long long)s->errors,
                   errs[0] ? " (" : "", errs, errs[0] ? ")" : "");
        if (s->warmup_excluded)
            buf_printf(&h, ", %lld warm-up excluded", (long long)s->warmup_excluded);
        if (s->resent)
            buf_printf(&h, ", %lld re-sent (%lld earlier attempts, not failures)",
                       (long long)s->resent, (long long)s->resends);
        if (s->transport_retries)
            buf_printf(&h, ", %lld transport retries not counted",
                       (long long)s->transport_retries);
        if (s->n_out_events)
            buf_printf(&h, ", n_out from events for %lld (%.0f %%)", (long long)s->n_out_events,
                       100.0 * (double)s->n_out_events / (double)s->requests);
        if (s->cached_known)
            buf_printf(&h, ", prompt cached %.1f %% (%lld of %lld tokens, %lld requests)",
                       100.0 * s->cached_share, (long long)s->cached_tokens,
                       (long long)s->cached_prompt_tokens, (long long)s->cached_known);
        report_num(t3, sizeof t3, s->span_s);
        buf_printf(&h, ", span %s s%s", t3, s->from_sched ? ", latency from schedule" : "");
        fputc('\n', f);
        if (h.p)
            report_wrap(f, h.p);
        buf_free(&h);
        fprintf(f, "%-13s %8s %8s %8s %8s %8s %8s %8s %8s %8s\n", "metric", "mean", "stddev",
                "min", "p50", "p90", "p95", "p99", "p99.9", "max");
        for (size_t k = 0; k < REPORT_N_METRICS; k++) {
            const struct report_metric *m = &report_metrics[k];
            const struct stats_dist *dd = report_dist(s, m);
            if (!report_show(r, m))
                continue;
            if (dd->n == 0)
                continue;
            double v[9] = {dd->mean, dd->stddev, dd->min, dd->p50, dd->p90, dd->p95, dd->p99,
                           dd->p999, dd->max};
            fprintf(f, "%-13s", m->name);
            for (int i = 0; i < 9; i++) {
                report_num(a, sizeof a, v[i]);
                fprintf(f, " %8s", a);
            }
            fputc('\n', f);
        }
    }
    report_sessions_table(f, r);
}

/* ---- JSON ------------------------------------------------------------------------------- */

void report_dbl(char *out, size_t outlen, double v)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, outlen, "%.*g", prec, v);
        if (prec == 17 || strtod(out, NULL) == v)
            return;
    }
}

static void json_num(struct buf *b, double v)
{
    char t[40];
    if (isnan(v) || isinf(v)) {
        buf_append_str(b, "null");
        return;
    }
    report_dbl(t, sizeof t, v);
    buf_append_str(b, t);
}

static void json_str(struct buf *b, const char *s)
{
    if (!s) {
        buf_append_str(b, "null");
        return;
    }
    buf_append_char(b, '"');
    buf_append_json_str(b, s, strlen(s));
    buf_append_char(b, '"');
}

static void json_dist(struct buf *b, const struct stats_dist *d)
{
    buf_printf(b, "{\"n\":%zu,\"mean\":", d->n);
    json_num(b, d->mean);
    const char *k[] = {"stddev", "min", "p50", "p90", "p95", "p99", "p999", "max"};
    double v[] = {d->stddev, d->min, d->p50, d->p90, d->p95, d->p99, d->p999, d->max};
    for (int i = 0; i < 8; i++) {
        buf_printf(b, ",\"%s\":", k[i]);
        json_num(b, v[i]);
    }
    buf_append_char(b, '}');
}

void report_json(FILE *f, const struct an_report *r)
{
    const struct an_ctx *c = r->ctx;
    struct buf b;
    buf_init(&b, (size_t)1 << 30);
    buf_printf(&b, "{\"tool\":\"llmtrace-analyze\",\"version\":\"%s\",\"by\":\"%s\",",
               LLMTRACE_VERSION, report_by_name(c->by));
    buf_append_str(&b, "\"command\":");
    json_str(&b, r->command);
    buf_append_str(&b, ",\"slo\":{\"ttft_ms\":");
    json_num(&b, c->slo.ttft_us ? c->slo.ttft_us / 1e3 : NAN);
    buf_append_str(&b, ",\"tpot_ms\":");
    json_num(&b, c->slo.tpot_us ? c->slo.tpot_us / 1e3 : NAN);
    buf_append_str(&b, ",\"e2e_ms\":");
    json_num(&b, c->slo.e2e_us ? c->slo.e2e_us / 1e3 : NAN);
    buf_append_str(&b, "},\"capacity\":");
    if (r->cap && r->cap->n)
        cap_json(&b, c, r->cap);
    else
        buf_append_str(&b, "null");
    buf_printf(&b, ",\"connect_included\":%s,\"inputs\":[",
               c->include_connect ? "true" : "false");
    for (size_t i = 0; i < r->n_inputs; i++) {
        const struct an_input *in = &r->inputs[i];
        buf_append_str(&b, i ? ",{\"label\":" : "{\"label\":");
        json_str(&b, in->label);
        buf_append_str(&b, ",\"path\":");
        json_str(&b, in->path);
        buf_append_str(&b, ",\"tool\":");
        json_str(&b, in->tool);
        buf_append_str(&b, ",\"command\":");
        json_str(&b, in->command);
        buf_append_str(&b, ",\"started\":");
        json_str(&b, in->started);
        buf_printf(&b, ",\"records\":%lld,\"bad_lines\":%lld,\"status\":", in->records,
                   in->bad_lines);
        json_str(&b, in->describe && in->describe[0] ? in->describe : "ok");
        if (in->shard_n > 0) {
            buf_printf(&b, ",\"shard\":\"%d/%d\",\"start_at\":", in->shard_k, in->shard_n);
            json_num(&b, in->start_at > 0 ? in->start_at : NAN);
            buf_append_str(&b, ",\"first_start_after_start_at_ms\":");
            json_num(&b, in->start_at > 0 && in->first_start_us >= 0
                             ? ((double)in->first_start_us - in->start_at * 1e6) / 1e3
                             : NAN);
            buf_append_str(&b, ",\"first_sched_after_start_at_ms\":");
            json_num(&b, in->start_at > 0 && in->first_sched_us > 0
                             ? ((double)in->first_sched_us - in->start_at * 1e6) / 1e3
                             : NAN);
        }
        if (in->clock_known)
            buf_printf(&b, ",\"clock\":{\"synced\":%s,\"max_error_us\":%lld}",
                       in->clock_synced ? "true" : "false", (long long)in->clock_max_error_us);
        buf_append_char(&b, '}');
    }
    buf_append_str(&b, "],\"groups\":[");
    int first = 1;
    for (size_t g = 0; g < c->n_groups; g++) {
        const struct an_summary *s = &r->sums[g];
        const struct an_group *grp = &c->groups[g];
        if (s->requests == 0 && s->warmup_excluded == 0 && s->transport_retries == 0)
            continue;
        buf_append_str(&b, first ? "{\"label\":" : ",{\"label\":");
        first = 0;
        json_str(&b, grp->label);
        buf_append_str(&b, ",\"stage\":");
        json_num(&b, grp->has_stage ? grp->stage : NAN);
        buf_append_str(&b, ",\"key\":");
        json_str(&b, c->by == AN_BY_LABEL ? NULL : grp->key);
        buf_printf(&b, ",\"requests\":%lld,\"ok\":%lld,\"errors\":%lld,\"errors_by_kind\":{",
                   (long long)s->requests, (long long)s->ok, (long long)s->errors);
        int fk = 1;
        for (int k = 1; k < TLOG_ERROR_KIND_COUNT; k++) {
            if (!s->err_by_kind[k])
                continue;
            buf_printf(&b, "%s\"%s\":%lld", fk ? "" : ",",
                       tlog_error_kind_name((enum tlog_error_kind)k),
                       (long long)s->err_by_kind[k]);
            fk = 0;
        }
        buf_printf(&b, "},\"warmup_excluded\":%lld,\"latency_from\":\"%s\"",
                   (long long)s->warmup_excluded,
                   s->from_sched == 0                 ? "send"
                   : s->from_sched == s->requests     ? "schedule"
                                                      : "mixed");
        if (c->n_steady)
            buf_printf(&b, ",\"steady_dropped\":%lld", (long long)s->steady_dropped);
        buf_printf(&b, ",\"tokens_source\":{\"usage\":%lld,\"max_tokens\":%lld,\"events\":%lld,"
                       "\"none\":%lld},\"n_out_from_events\":%lld,\"n_out_from_events_share\":",
                   (long long)s->tokens_src[TLOG_TOKENS_USAGE],
                   (long long)s->tokens_src[TLOG_TOKENS_MAX_TOKENS],
                   (long long)s->tokens_src[TLOG_TOKENS_EVENTS],
                   (long long)s->tokens_src[TLOG_TOKENS_NONE], (long long)s->n_out_events);
        json_num(&b, s->requests ? (double)s->n_out_events / (double)s->requests : NAN);
        buf_printf(&b, ",\"transport_retries\":%lld,\"resent\":%lld,\"resends\":%lld",
                   (long long)s->transport_retries, (long long)s->resent,
                   (long long)s->resends);
        for (size_t k = 0; k < REPORT_N_METRICS; k++) {
            const struct report_metric *m = &report_metrics[k];
            if (m->compat)
                continue;
            buf_printf(&b, ",\"%s\":", m->json);
            json_dist(&b, report_dist(s, m));
        }
        if (r->compat) {
            buf_append_str(&b, ",\"compat\":{");
            int fc = 1;
            for (size_t k = 0; k < REPORT_N_METRICS; k++) {
                const struct report_metric *m = &report_metrics[k];
                if (!m->compat || !report_show(r, m))
                    continue;
                buf_printf(&b, "%s\"%s\":", fc ? "" : ",", m->json);
                fc = 0;
                json_dist(&b, report_dist(s, m));
            }
            buf_append_char(&b, '}');
        }
        buf_printf(&b,
                   ",\"input_tokens\":%lld,\"output_tokens\":%lld,\"tokens_in_known\":%lld,"
                   "\"tokens_out_known\":%lld,\"span_s\":",
                   (long long)s->sum_in, (long long)s->sum_out, (long long)s->n_in_known,
                   (long long)s->n_out_known);
        json_num(&b, s->span_s);
        buf_append_str(&b, ",\"output_tok_s\":");
        json_num(&b, s->output_tok_s);
        buf_append_str(&b, ",\"total_tok_s\":");
        json_num(&b, s->total_tok_s);
        buf_append_str(&b, ",\"req_s\":");
        json_num(&b, s->req_s);
        buf_append_str(&b, ",\"ok_req_s\":");
        json_num(&b, s->ok_req_s);
        buf_append_str(&b, ",\"goodput_req_s\":");
        json_num(&b, s->goodput_req_s);
        buf_printf(&b, ",\"slo_met\":%lld,\"itl_exact\":%s", (long long)s->slo_met,
                   s->itl_exact ? "true" : "false");
        buf_printf(&b, ",\"cached_tokens\":%lld,\"cached_prompt_tokens\":%lld,"
                       "\"cached_known\":%lld,\"cached_share\":",
                   (long long)s->cached_tokens, (long long)s->cached_prompt_tokens,
                   (long long)s->cached_known);
        json_num(&b, s->cached_share);
        buf_append_char(&b, '}');
    }
    buf_append_str(&b, "],\"sessions\":[");
    int fs = 1;
    for (size_t l = 0; l < c->n_labels; l++) {
        struct an_sessions ss;
        if (an_sessions_of(c, l, &ss) || ss.sessions == 0)
            continue;
        buf_append_str(&b, fs ? "{\"label\":" : ",{\"label\":");
        fs = 0;
        json_str(&b, c->labels[l]);
        buf_printf(&b, ",\"sessions\":%lld,\"turns\":%lld,\"completed\":%lld,\"slo_met\":%lld,"
                       "\"span_s\":",
                   (long long)ss.sessions, (long long)ss.turns, (long long)ss.completed,
                   (long long)ss.slo_met);
        json_num(&b, ss.span_s);
        buf_append_str(&b, ",\"sessions_s\":");
        json_num(&b, ss.sessions_s);
        buf_append_str(&b, ",\"goodput_sessions_s\":");
        json_num(&b, ss.goodput_sessions_s);
        buf_append_str(&b, ",\"duration_ms\":");
        json_dist(&b, &ss.duration_ms);
        buf_append_str(&b, ",\"turns_per_session\":");
        json_dist(&b, &ss.turns_per);
        buf_append_str(&b, ",\"ok_turns_per_session\":");
        json_dist(&b, &ss.ok_turns_per);
        buf_append_char(&b, '}');
    }
    buf_append_str(&b, "]}\n");
    if (b.p)
        fwrite(b.p, 1, b.len, f);
    buf_free(&b);
}

/* ---- CSV and Markdown --------------------------------------------------------------------- */

static void csv_field(FILE *f, const char *s)
{
    if (!s)
        return;
    if (strpbrk(s, ",\"\n\r")) {
        fputc('"', f);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', f);
            fputc(*s, f);
        }
        fputc('"', f);
    } else {
        fputs(s, f);
    }
}

static void csv_num(FILE *f, double v)
{
    char t[40];
    if (isnan(v) || isinf(v))
        return;
    report_dbl(t, sizeof t, v);
    fputs(t, f);
}

static const char *const report_stat_names[] = {"mean", "stddev", "min", "p50", "p90",
                                                "p95", "p99", "p999", "max"};

void report_csv(FILE *f, const struct an_report *r)
{
    const struct an_ctx *c = r->ctx;
    fputs("label,key,stage,requests,ok,errors,warmup_excluded,span_s,output_tok_s,total_tok_s,"
          "req_s,goodput_req_s,ok_req_s,tokens_in_known,n_out_from_events,transport_retries,"
          "resent,resends", f);
    for (size_t k = 0; k < REPORT_N_METRICS; k++) {
        if (!report_show(r, &report_metrics[k]))
            continue;
        for (int i = 0; i < 9; i++)
            fprintf(f, ",%s_%s", report_metrics[k].json, report_stat_names[i]);
    }
    fputs(",cached_share\n", f);
    for (size_t g = 0; g < c->n_groups; g++) {
        const struct an_summary *s = &r->sums[g];
        const struct an_group *grp = &c->groups[g];
        if (s->requests == 0 && s->warmup_excluded == 0 && s->transport_retries == 0)
            continue;
        csv_field(f, grp->label);
        fputc(',', f);
        csv_field(f, c->by == AN_BY_LABEL ? "" : grp->key);
        fputc(',', f);
        csv_num(f, grp->has_stage ? grp->stage : NAN);
        fprintf(f, ",%lld,%lld,%lld,%lld,", (long long)s->requests, (long long)s->ok,
                (long long)s->errors, (long long)s->warmup_excluded);
        csv_num(f, s->span_s);
        fputc(',', f);
        csv_num(f, s->output_tok_s);
        fputc(',', f);
        csv_num(f, s->total_tok_s);
        fputc(',', f);
        csv_num(f, s->req_s);
        fputc(',', f);
        csv_num(f, s->goodput_req_s);
        fputc(',', f);
        csv_num(f, s->ok_req_s);
        fprintf(f, ",%lld,%lld,%lld,%lld,%lld", (long long)s->n_in_known,
                (long long)s->n_out_events, (long long)s->transport_retries,
                (long long)s->resent, (long long)s->resends);
        for (size_t k = 0; k < REPORT_N_METRICS; k++) {
            if (!report_show(r, &report_metrics[k]))
                continue;
            const struct stats_dist *d = report_dist(s, &report_metrics[k]);
            double v[9] = {d->mean, d->stddev, d->min, d->p50, d->p90, d->p95, d->p99,
                           d->p999, d->max};
            for (int i = 0; i < 9; i++) {
                fputc(',', f);
                csv_num(f, v[i]);
            }
        }
        fputc(',', f);
        csv_num(f, s->cached_share);
        fputc('\n', f);
    }
}

void report_markdown(FILE *f, const struct an_report *r)
{
    const struct an_ctx *c = r->ctx;
    char a[32];
    if (r->cap && r->cap->n) {
        report_capacity(f, r, "- **Capacity** — ");
        fputc('\n', f);
    }
    fprintf(f, "| label | %s | requests | errors | output tok/s | total tok/s | req/s | "
               "goodput req/s | TTFT p50 ms | TPOT p50 ms | E2E p50 ms |\n",
            c->by == AN_BY_LABEL ? "" : report_by_name(c->by));
    fputs("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n", f);
    for (size_t g = 0; g < c->n_groups; g++) {
        const struct an_summary *s = &r->sums[g];
        if (s->requests == 0)
            continue;
        struct report_cells v;
        report_summary_cells(s, &v);
        fprintf(f, "| %s | %s | %lld | %lld | %s | %s | %s | %s | %s | %s | %s |\n",
                c->groups[g].label, c->by == AN_BY_LABEL ? "" : c->groups[g].key,
                (long long)s->requests, (long long)s->errors, v.out_tok_s, v.tot_tok_s, v.req_s,
                v.good_s, v.ttft, v.tpot, v.e2e);
    }
    char *notes = NULL;
    size_t nlen = 0;
    FILE *nf = open_memstream(&notes, &nlen);
    if (nf) {
        report_notes(nf, r, "\\*");
        fclose(nf);
        if (nlen)
            fprintf(f, "\n%s", notes);
        free(notes);
    }
    for (size_t g = 0; g < c->n_groups; g++) {
        const struct an_summary *s = &r->sums[g];
        if (s->requests == 0)
            continue;
        char name[300];
        report_group_name(c, g, name, sizeof name);
        fprintf(f, "\n### %s\n\n| metric | n | mean | stddev | min | p50 | p90 | p95 | p99 | "
                   "p99.9 | max |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n", name);
        for (size_t k = 0; k < REPORT_N_METRICS; k++) {
            const struct report_metric *m = &report_metrics[k];
            const struct stats_dist *dd = report_dist(s, m);
            if (!report_show(r, m) || dd->n == 0)
                continue;
            double v[9] = {dd->mean, dd->stddev, dd->min, dd->p50, dd->p90, dd->p95, dd->p99,
                           dd->p999, dd->max};
            fprintf(f, "| %s | %zu |", m->name, dd->n);
            for (int i = 0; i < 9; i++) {
                report_num(a, sizeof a, v[i]);
                fprintf(f, " %s |", a);
            }
            fputc('\n', f);
        }
    }
    int hdr = 0;
    for (size_t l = 0; l < c->n_labels; l++) {
        struct an_sessions ss;
        if (an_sessions_of(c, l, &ss) || ss.sessions == 0)
            continue;
        if (!hdr)
            fputs("\n### Sessions\n\n| label | sessions | turns | completed | met SLO | "
                  "sessions/s | goodput sessions/s | duration p50 ms | duration p90 ms | "
                  "turns mean |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n", f);
        hdr = 1;
        char x1[32], x2[32], x3[32], x4[32], x5[32];
        report_num(x1, sizeof x1, ss.sessions_s);
        report_num(x2, sizeof x2, ss.goodput_sessions_s);
        report_num(x3, sizeof x3, ss.duration_ms.p50);
        report_num(x4, sizeof x4, ss.duration_ms.p90);
        report_num(x5, sizeof x5, ss.turns_per.mean);
        fprintf(f, "| %s | %lld | %lld | %lld | %lld | %s | %s | %s | %s | %s |\n", c->labels[l],
                (long long)ss.sessions, (long long)ss.turns, (long long)ss.completed,
                (long long)ss.slo_met, x1, x2, x3, x4, x5);
    }
}

void report_per_request_header(FILE *f)
{
    fputs("label,key,id,start_us,stage,status,error,tokens_in,tokens_out,ttfb_ms,ttft_ms,"
          "tpot_ms,e2e_ms,schedule_lag_ms,latency_from\n", f);
}

void report_per_request_row(FILE *f, const char *label, const char *key,
                            const struct tlog_exchange *x, const struct an_req *q)
{
    csv_field(f, label);
    fputc(',', f);
    csv_field(f, key);
    fputc(',', f);
    csv_field(f, x->id);
    fprintf(f, ",%lld,", (long long)x->start_us);
    csv_num(f, x->replay.present && x->replay.has_stage ? x->replay.stage : NAN);
    fprintf(f, ",%d,%s,", x->resp.status,
            q->err_kind ? tlog_error_kind_name((enum tlog_error_kind)q->err_kind) : "");
    if (q->n_in >= 0)
        fprintf(f, "%d", q->n_in);
    fputc(',', f);
    if (q->n_out >= 0)
        fprintf(f, "%d", q->n_out);
    fputc(',', f);
    csv_num(f, q->ttfb_us >= 0 ? q->ttfb_us / 1e3 : NAN);
    fputc(',', f);
    csv_num(f, q->ttft_us >= 0 ? q->ttft_us / 1e3 : NAN);
    fputc(',', f);
    csv_num(f, q->tpot_us >= 0 ? q->tpot_us / 1e3 : NAN);
    fputc(',', f);
    csv_num(f, q->e2e_us >= 0 ? q->e2e_us / 1e3 : NAN);
    fputc(',', f);
    csv_num(f, (q->flags & AN_REQ_HAS_LAG) ? (double)q->lag_us / 1e3 : NAN);
    fprintf(f, ",%s\n", (q->flags & AN_REQ_FROM_SCHED) ? "schedule" : "send");
}
