/* metrics.c — The metric definitions of analyze/README.md applied to trace-log exchanges, and per-group
 * aggregation (see metrics.h; the definitions are restated in analyze/README.md). */
#include "metrics.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "units.h"

uint64_t an_hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h ? h : 1;
}

void an_init(struct an_ctx *c, enum an_by by, int64_t window_us, enum an_latency_from from,
             int include_warmup)
{
    memset(c, 0, sizeof *c);
    c->by = by;
    c->window_us = window_us > 0 ? window_us : 60000000;
    c->from = from;
    c->include_warmup = include_warmup;
    c->itl_exact = 1;
    c->itl_exact_max = AN_ITL_EXACT_MAX;
}

static void an_group_drop_exact(struct an_group *g)
{
    free(g->gap_v);
    free(g->gap_k);
    free(g->vgap_v);
    g->gap_v = NULL;
    g->gap_k = NULL;
    g->vgap_v = NULL;
    g->gap_n = g->gap_cap = g->vgap_n = g->vgap_cap = 0;
}

void an_free(struct an_ctx *c)
{
    for (size_t i = 0; i < c->n_groups; i++) {
        free(c->groups[i].label);
        free(c->groups[i].key);
        hist_free(&c->groups[i].itl);
        hist_free(&c->groups[i].itl_tok);
        hist_free(&c->groups[i].itl_vllm);
        an_group_drop_exact(&c->groups[i]);
    }
    free(c->lab_t0);
    free(c->lab_end);
    for (size_t i = 0; i < c->n_labels; i++)
        free(c->labels[i]);
    free(c->labels);
    free(c->goff);
    free(c->groups);
    free(c->reqs);
    memset(c, 0, sizeof *c);
}

int an_add_label(struct an_ctx *c, const char *label)
{
    char **nl = realloc(c->labels, (c->n_labels + 1) * sizeof *nl);
    if (!nl)
        return -1;
    c->labels = nl;
    int64_t *a = realloc(c->lab_t0, (c->n_labels + 1) * sizeof *a);
    if (!a)
        return -1;
    c->lab_t0 = a;
    a = realloc(c->lab_end, (c->n_labels + 1) * sizeof *a);
    if (!a)
        return -1;
    c->lab_end = a;
    c->lab_t0[c->n_labels] = INT64_MAX;
    c->lab_end[c->n_labels] = INT64_MIN;
    nl[c->n_labels] = strdup(label);
    if (!nl[c->n_labels])
        return -1;
    return (int)c->n_labels++;
}

/* Saturating int64 arithmetic: every time in a log is untrusted, and start_us + end_us or
 * start_us - sched_us of a hostile record must not overflow (UB) — it saturates instead. */
static int64_t an_add64(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static int64_t an_sub(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r))
        return b < 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static int32_t an_clamp32(int64_t v)
{
    if (v > INT32_MAX)
        return INT32_MAX;
    if (v < 0)
        return -1;
    return (int32_t)v;
}

void an_req_compute(const struct an_ctx *c, const struct tlog_exchange *x, struct an_req *r)
{
    memset(r, 0, sizeof *r);
    const struct tlog_response *rs = &x->resp;
    int64_t fc = -1, lc = -1, first_ev = -1, last_ev = -1, sum_tok = 0;
    size_t nce = 0, with_count = 0;
    for (size_t i = 0; i < rs->n_events; i++) {
        const struct tlog_event *e = &rs->events[i];
        if (first_ev < 0)
            first_ev = e->offset_us;
        last_ev = e->offset_us;
        if (!e->is_content)
            continue;
        if (fc < 0)
            fc = e->offset_us;
        lc = e->offset_us;
        nce++;
        if (e->tokens > 0) {
            with_count++;
            sum_tok += e->tokens;
        }
    }
    /* n_out: the record's derived count; when the writer left it unknown, derive it the same
     * way tlog_exchange_derive_tokens does (usage, else content events). */
    int64_t n_out = x->tokens_out;
    enum tlog_tokens_source src = x->tokens_source;
    if (n_out < 0) {
        src = TLOG_TOKENS_NONE;
        if (x->usage.present && x->usage.completion_tokens >= 0) {
            n_out = x->usage.completion_tokens;
            src = TLOG_TOKENS_USAGE;
        } else if (x->resp.n_events > 0) { /* a stream was seen: 0 content events is n_out 0 */
            n_out = nce > 0 && with_count == nce ? sum_tok : (int64_t)nce;
            src = TLOG_TOKENS_EVENTS;
        }
    }
    if (src == TLOG_TOKENS_EVENTS)
        r->flags |= AN_REQ_NOUT_EVENTS;
    int64_t n_in = x->tokens_in;
    if (n_in < 0 && x->usage.present && x->usage.prompt_tokens >= 0)
        n_in = x->usage.prompt_tokens;

    r->t0_us = x->start_us;
    r->stage = x->replay.present && x->replay.has_stage ? (float)x->replay.stage : NAN;
    if (x->replay.present && x->replay.mode && !strcmp(x->replay.mode, "rate"))
        r->flags |= AN_REQ_RATE_STAGE;
    r->status = (uint16_t)(x->resp.status > 0 && x->resp.status < 65536 ? x->resp.status : 0);
    enum tlog_error_kind ek = x->error_kind;
    if (ek == TLOG_ERROR_NONE && x->resp.status >= 400)
        ek = TLOG_ERROR_HTTP_STATUS;
    r->err_kind = (uint8_t)ek;
    if (ek == TLOG_ERROR_NONE)
        r->flags |= AN_REQ_OK;

    int64_t shift = 0;
    if (x->replay.present && x->replay.sched_us > 0) {
        r->lag_us = an_sub(x->start_us, x->replay.sched_us);
        r->flags |= AN_REQ_HAS_LAG;
        int open_loop = x->replay.mode &&
                        (!strcmp(x->replay.mode, "rate") || !strcmp(x->replay.mode, "original"));
        if (c->from == AN_FROM_SCHEDULE || (c->from == AN_FROM_AUTO && open_loop)) {
            shift = r->lag_us;
            r->flags |= AN_REQ_FROM_SCHED;
        }
    }
    r->connect_us = x->conn_new == 1 && x->connect_us >= 0 ? an_clamp32(x->connect_us) : -1;
    if (r->connect_us >= 0)
        r->flags |= AN_REQ_CONNECT;
    /* From the schedule, t0 - t_sched already holds the connect time spent after t_sched. */
    if (c->include_connect && r->connect_us >= 0 && !(r->flags & AN_REQ_FROM_SCHED)) {
        shift = r->connect_us;
        r->flags |= AN_REQ_WITH_CONNECT;
    }
    if (x->replay.present && x->replay.n_attempts > 0) {
        r->flags |= AN_REQ_RESENT;
        r->attempts = x->replay.n_attempts > 65535 ? 65535 : (uint16_t)x->replay.n_attempts;
        int64_t first = x->replay.attempts[0].start_us;
        r->resend_us = first > 0 ? an_clamp32(an_sub(x->start_us, first)) : -1;
    }
    r->ttft_us = fc >= 0 ? an_clamp32(an_add64(fc, shift)) : -1;
    r->ttfb_us = rs->ttfb_us >= 0 ? an_clamp32(an_add64(rs->ttfb_us, shift)) : -1;
    r->e2e_us = rs->end_us >= 0 ? an_clamp32(an_add64(rs->end_us, shift)) : -1;
    r->first_ev_us = first_ev >= 0 ? an_clamp32(an_add64(first_ev, shift)) : -1;
    r->last_content_us = lc >= 0 ? an_clamp32(an_add64(lc, shift)) : -1;
    r->n_out = n_out >= 0 ? an_clamp32(n_out) : -1;
    r->n_in = n_in >= 0 ? an_clamp32(n_in) : -1;
    /* tpot needs two content events: one event holding every token (a non-streamed body)
     * carries no decode timing, and the formula would report 0. */
    r->tpot_us = (n_out >= 2 && nce >= 2) ? ((double)lc - (double)fc) / (double)(n_out - 1)
                                          : -1.0;
    int64_t end = rs->end_us;
    if (end < 0)
        end = last_ev > rs->ttfb_us ? last_ev : rs->ttfb_us;
    if (end < 0)
        end = 0;
    r->end_abs_us = an_add64(x->start_us, end);
    r->of_hash = (x->replay.present && x->replay.of) ? an_hash_str(x->replay.of) : 0;
    r->n_cached = x->usage.present && x->usage.cached_tokens >= 0 ? an_clamp32(x->usage.cached_tokens)
                                                                  : -1;
    r->turn = x->session.present && x->session.turn >= 0 ? an_clamp32(x->session.turn) : -1;
    r->sess_hash = x->session.present && x->session.id ? an_hash_str(x->session.id) : 0;
}

/* ---- groups ------------------------------------------------------------------------------- */

static void an_group_key(const struct an_ctx *c, const struct tlog_exchange *x,
                         const struct an_req *r, char *key, size_t keylen, int *has_stage,
                         double *stage, int64_t *win)
{
    *has_stage = 0;
    *stage = 0;
    *win = 0;
    switch (c->by) {
    case AN_BY_LABEL:
        snprintf(key, keylen, "%s", "");
        break;
    case AN_BY_STAGE:
        if (x->replay.present && x->replay.has_stage) {
            *has_stage = 1;
            *stage = x->replay.stage;
            snprintf(key, keylen, "%g", x->replay.stage);
        } else {
            snprintf(key, keylen, "-");
        }
        break;
    case AN_BY_WINDOW: {
        int64_t t = r->t0_us;
        *win = t >= 0 ? t / c->window_us : -1 - (-1 - t) / c->window_us;
        snprintf(key, keylen, "%lld", (long long)*win);
        break;
    }
    case AN_BY_PATH: {
        const char *p = x->req.path ? x->req.path : "-";
        size_t n = strcspn(p, "?");
        if (n >= keylen)
            n = keylen - 1;
        memcpy(key, p, n);
        key[n] = '\0';
        break;
    }
    case AN_BY_MODEL:
        snprintf(key, keylen, "%s", x->model ? x->model : "-");
        break;
    case AN_BY_STATUS:
        if (r->status)
            snprintf(key, keylen, "%u", (unsigned)r->status);
        else
            snprintf(key, keylen, "%s", r->err_kind ? tlog_error_kind_name(r->err_kind) : "-");
        break;
    case AN_BY_TURN:
        if (r->turn >= 0)
            snprintf(key, keylen, "%d", (int)r->turn);
        else
            snprintf(key, keylen, "-");
        break;
    }
}

static long an_find_group(struct an_ctx *c, int label_idx, const char *key, int has_stage,
                          double stage, int64_t win)
{
    /* Linear scan from the most recent group: logs arrive in runs of one group (stages,
     * windows), and group counts stay small (stages, windows, paths, models). */
    for (size_t k = c->n_groups; k-- > 0;) {
        struct an_group *g = &c->groups[k];
        if (g->label_idx == label_idx && !strcmp(g->key, key))
            return (long)k;
    }
    if (c->n_groups == c->cap_groups) {
        size_t nc = c->cap_groups ? c->cap_groups * 2 : 16;
        struct an_group *ng = realloc(c->groups, nc * sizeof *ng);
        if (!ng)
            return -1;
        c->groups = ng;
        c->cap_groups = nc;
    }
    struct an_group *g = &c->groups[c->n_groups];
    memset(g, 0, sizeof *g);
    g->label = strdup(c->labels[label_idx]);
    g->key = strdup(key);
    if (!g->label || !g->key) {
        free(g->label);
        free(g->key);
        return -1;
    }
    g->label_idx = label_idx;
    g->has_stage = has_stage;
    g->stage = stage;
    g->win = win;
    hist_init(&g->itl);
    hist_init(&g->itl_tok);
    hist_init(&g->itl_vllm);
    return (long)c->n_groups++;
}

/* Keeps one exact ITL sample in g while the context's budget lasts; past it every group's
 * exact samples go and the histograms answer (an_ctx.itl_exact = 0). */
static int an_keep_gap(struct an_ctx *c, struct an_group *g, double gap, uint32_t k, int vllm)
{
    if (!c->itl_exact)
        return 0;
    if (c->itl_samples >= c->itl_exact_max) {
        for (size_t i = 0; i < c->n_groups; i++)
            an_group_drop_exact(&c->groups[i]);
        c->itl_exact = 0;
        return 0;
    }
    if (vllm) {
        if (g->vgap_n == g->vgap_cap) {
            size_t nc = g->vgap_cap ? g->vgap_cap * 2 : 256;
            double *nv = realloc(g->vgap_v, nc * sizeof *nv);
            if (!nv)
                return -1;
            g->vgap_v = nv;
            g->vgap_cap = nc;
        }
        g->vgap_v[g->vgap_n++] = gap;
    } else {
        if (g->gap_n == g->gap_cap) {
            size_t nc = g->gap_cap ? g->gap_cap * 2 : 256;
            double *nv = realloc(g->gap_v, nc * sizeof *nv);
            if (!nv)
                return -1;
            g->gap_v = nv;
            uint32_t *nk = realloc(g->gap_k, nc * sizeof *nk);
            if (!nk)
                return -1;
            g->gap_k = nk;
            g->gap_cap = nc;
        }
        g->gap_v[g->gap_n] = gap;
        g->gap_k[g->gap_n++] = k;
    }
    c->itl_samples++;
    return 0;
}

static int an_record_itl(struct an_ctx *c, struct an_group *g, const struct tlog_exchange *x)
{
    const struct tlog_response *rs = &x->resp;
    int64_t prev = -1, prev_any = -1;
    int rc = 0, compat = c->compat;
    for (size_t i = 0; i < rs->n_events; i++) {
        const struct tlog_event *e = &rs->events[i];
        if (!e->is_content) {
            if (prev_any < 0)
                prev_any = e->offset_us;
            continue;
        }
        if (prev >= 0) {
            double gap = (double)e->offset_us - (double)prev;
            uint64_t k = e->tokens > 1 ? (uint64_t)e->tokens : 1;
            int slot = hist_slot(gap);
            rc |= hist_record_slot(&g->itl, slot, gap, 1);
            if (k == 1)
                rc |= hist_record_slot(&g->itl_tok, slot, gap, 1);
            else
                rc |= hist_record(&g->itl_tok, gap / (double)k, k);
            rc |= an_keep_gap(c, g, gap, (uint32_t)k, 0);
            if (compat) {
                rc |= hist_record_slot(&g->itl_vllm, slot, gap, 1);
                rc |= an_keep_gap(c, g, gap, 1, 1);
            }
        } else if (prev_any >= 0 && compat) {
            /* vLLM times its TTFT at the first chunk with choices (often role-only), so the
             * first content chunk after it is already an inter-token gap there. */
            double gap = (double)e->offset_us - (double)prev_any;
            rc |= hist_record(&g->itl_vllm, gap, 1);
            rc |= an_keep_gap(c, g, gap, 1, 1);
        }
        prev = e->offset_us;
        prev_any = e->offset_us;
    }
    return rc ? -1 : 0;
}

int an_add(struct an_ctx *c, int label_idx, const struct tlog_exchange *x, size_t *group_out)
{
    struct an_req r;
    an_req_compute(c, x, &r);
    char key[256];
    int has_stage;
    double stage;
    int64_t win;
    an_group_key(c, x, &r, key, sizeof key, &has_stage, &stage, &win);
    long g = an_find_group(c, label_idx, key, has_stage, stage, win);
    if (g < 0)
        return -1;
    struct an_group *grp = &c->groups[g];
    if (group_out)
        *group_out = (size_t)g;
    /* A transport attempt the client sent again (capture's resent_as) is not a request. */
    if (x->resent_as) {
        grp->transport_retries++;
        return 0;
    }
    if (x->replay.present && x->replay.warmup && !c->include_warmup) {
        grp->warmup_excluded++;
        return 0;
    }
    for (size_t i = 0; i < c->n_steady && !isnan(r.stage); i++) {
        struct an_steady *w = &c->steady[i];
        if (w->label_idx != label_idx || w->stage != r.stage)
            continue;
        int ramp = r.t0_us < w->keep_from_us, drain = r.end_abs_us > w->keep_to_us;
        if (ramp || drain) {
            w->ramp_dropped += ramp;
            w->drain_dropped += !ramp && drain;
            grp->steady_dropped++;
            return 0;
        }
        break;
    }
    if (c->n_reqs == c->cap_reqs) {
        size_t nc = c->cap_reqs ? c->cap_reqs * 2 : 1024;
        struct an_req *nr = realloc(c->reqs, nc * sizeof *nr);
        if (!nr)
            return -1;
        c->reqs = nr;
        c->cap_reqs = nc;
    }
    r.group = (uint32_t)g;
    c->reqs[c->n_reqs++] = r;
    free(c->goff); /* a request added after sorting: back to scanning */
    c->goff = NULL;
    if (r.t0_us < c->lab_t0[label_idx])
        c->lab_t0[label_idx] = r.t0_us;
    if (r.end_abs_us > c->lab_end[label_idx])
        c->lab_end[label_idx] = r.end_abs_us;
    enum tlog_tokens_source src = r.n_out < 0 ? TLOG_TOKENS_NONE
                                  : (r.flags & AN_REQ_NOUT_EVENTS) ? TLOG_TOKENS_EVENTS
                                  : x->tokens_out >= 0 ? x->tokens_source
                                  : TLOG_TOKENS_USAGE;
    if ((int)src >= 0 && (int)src < 4)
        grp->tokens_src[src]++;
    if (r.flags & AN_REQ_OK)
        return an_record_itl(c, grp, x) ? -1 : 1;
    return 1;
}

static int an_group_cmp(const struct an_group *a, const struct an_group *b, enum an_by by)
{
    if (a->label_idx != b->label_idx)
        return a->label_idx < b->label_idx ? -1 : 1;
    if (by == AN_BY_STAGE) {
        if (a->has_stage != b->has_stage)
            return a->has_stage ? -1 : 1;
        if (a->stage != b->stage)
            return a->stage < b->stage ? -1 : 1;
    }
    if (by == AN_BY_WINDOW && a->win != b->win)
        return a->win < b->win ? -1 : 1;
    if (by == AN_BY_STATUS) {
        long sa = strtol(a->key, NULL, 10), sb = strtol(b->key, NULL, 10);
        if (sa != sb)
            return sa < sb ? -1 : 1;
    }
    if (by == AN_BY_TURN) { /* turn 0, 1, 2 …; requests without a session last */
        long sa = a->key[0] == '-' ? LONG_MAX : strtol(a->key, NULL, 10);
        long sb = b->key[0] == '-' ? LONG_MAX : strtol(b->key, NULL, 10);
        if (sa != sb)
            return sa < sb ? -1 : 1;
    }
    return strcmp(a->key, b->key);
}

/* Counting sort of reqs by group (stable), recording each group's range in goff. Without
 * memory for it the summaries fall back to scanning every request. */
static void an_index_groups(struct an_ctx *c)
{
    free(c->goff);
    c->goff = calloc(c->n_groups + 1, sizeof *c->goff);
    struct an_req *sorted = malloc((c->n_reqs ? c->n_reqs : 1) * sizeof *sorted);
    if (!c->goff || !sorted) {
        free(c->goff);
        c->goff = NULL;
        free(sorted);
        return;
    }
    for (size_t i = 0; i < c->n_reqs; i++)
        c->goff[c->reqs[i].group + 1]++;
    for (size_t g = 0; g < c->n_groups; g++)
        c->goff[g + 1] += c->goff[g];
    size_t *next = malloc((c->n_groups ? c->n_groups : 1) * sizeof *next);
    if (!next) {
        free(c->goff);
        c->goff = NULL;
        free(sorted);
        return;
    }
    memcpy(next, c->goff, c->n_groups * sizeof *next);
    for (size_t i = 0; i < c->n_reqs; i++)
        sorted[next[c->reqs[i].group]++] = c->reqs[i];
    free(next);
    free(c->reqs);
    c->reqs = sorted;
    c->cap_reqs = c->n_reqs ? c->n_reqs : 1;
}

void an_sort_groups(struct an_ctx *c)
{
    size_t n = c->n_groups;
    if (n < 2) {
        an_index_groups(c);
        return;
    }
    /* Insertion sort over an index (group counts are small), then permute. */
    size_t *ord = malloc(n * sizeof *ord), *inv = malloc(n * sizeof *inv);
    struct an_group *ng = malloc(n * sizeof *ng);
    if (!ord || !inv || !ng) {
        free(ord);
        free(inv);
        free(ng);
        return; /* unsorted output is still correct */
    }
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        while (j > 0 && an_group_cmp(&c->groups[ord[j - 1]], &c->groups[i], c->by) > 0) {
            ord[j] = ord[j - 1];
            j--;
        }
        ord[j] = i;
    }
    for (size_t i = 0; i < n; i++) {
        ng[i] = c->groups[ord[i]];
        inv[ord[i]] = i;
    }
    memcpy(c->groups, ng, n * sizeof *ng);
    for (size_t i = 0; i < c->n_reqs; i++)
        c->reqs[i].group = (uint32_t)inv[c->reqs[i].group];
    /* Windows are shown relative to the label's first window. */
    if (c->by == AN_BY_WINDOW) {
        for (size_t i = 0; i < n; i++) {
            size_t first = i;
            while (first > 0 && c->groups[first - 1].label_idx == c->groups[i].label_idx)
                first--;
            char d[64];
            snprintf(d, sizeof d, "+%gs",
                     ((double)c->groups[i].win - (double)c->groups[first].win) *
                         (double)c->window_us / 1e6);
            char *k = strdup(d);
            if (k) {
                free(c->groups[i].key);
                c->groups[i].key = k;
            }
        }
    }
    free(ord);
    free(inv);
    free(ng);
    an_index_groups(c);
}

/* ---- summaries ------------------------------------------------------------------------------ */

enum an_metric { M_TTFT, M_TTFB, M_TPOT, M_E2E, M_LAG, M_NIN, M_NOUT, M_USER, M_VTTFT, M_VTPOT,
                 M_GPITL, M_GLTPOT, M_LPITL, M_LPTOK, M_RESEND, M_CONNECT };

/* Value of metric m for r in display units (ms, tokens, tok/s); NAN when undefined. */
static double an_value(const struct an_ctx *c, const struct an_req *r, enum an_metric m)
{
    /* vLLM's client opens a connection per request inside its TTFT clock (--compat vllm) */
    double vc = c->compat_connect && (r->flags & AN_REQ_CONNECT) &&
                        !(r->flags & (AN_REQ_WITH_CONNECT | AN_REQ_FROM_SCHED))
                    ? r->connect_us / 1e3 : 0;
    switch (m) {
    case M_TTFT: return r->ttft_us >= 0 ? r->ttft_us / 1e3 : NAN;
    case M_TTFB: return r->ttfb_us >= 0 ? r->ttfb_us / 1e3 : NAN;
    case M_TPOT: return r->tpot_us >= 0 ? r->tpot_us / 1e3 : NAN;
    case M_E2E: return r->e2e_us >= 0 ? r->e2e_us / 1e3 : NAN;
    case M_LAG: return (r->flags & AN_REQ_HAS_LAG) ? (double)r->lag_us / 1e3 : NAN;
    case M_NIN: return r->n_in >= 0 ? (double)r->n_in : NAN;
    case M_NOUT: return r->n_out >= 0 ? (double)r->n_out : NAN;
    case M_USER: return r->tpot_us > 0 ? 1e6 / r->tpot_us : NAN;
    case M_VTTFT: return r->first_ev_us >= 0 ? r->first_ev_us / 1e3 + vc : NAN;
    case M_RESEND: return (r->flags & AN_REQ_RESENT) && r->resend_us >= 0 ? r->resend_us / 1e3
                                                                         : NAN;
    case M_CONNECT: return (r->flags & AN_REQ_CONNECT) ? r->connect_us / 1e3 : NAN;
    case M_VTPOT:
        return (r->first_ev_us >= 0 && r->e2e_us >= 0 && r->n_out >= 2)
                   ? (r->e2e_us - r->first_ev_us) / 1e3 / (r->n_out - 1) : NAN;
    case M_GPITL:
        return (r->first_ev_us >= 0 && r->e2e_us >= 0 && r->n_out >= 2)
                   ? (r->e2e_us - r->first_ev_us) / 1e3 / (r->n_out - 1) : NAN;
    case M_GLTPOT:
        return (r->last_content_us >= 0 && r->n_out >= 1)
                   ? r->last_content_us / 1e3 / r->n_out : NAN;
    case M_LPITL:
        return (r->last_content_us >= 0 && r->n_out >= 1)
                   ? r->last_content_us / 1e3 / r->n_out : NAN;
    case M_LPTOK:
        return (r->e2e_us > 0 && r->n_out >= 0) ? r->n_out / (r->e2e_us / 1e6) : NAN;
    }
    return NAN;
}

/* The slice of reqs to visit for group g (all of them before an_sort_groups). */
static void an_range(const struct an_ctx *c, size_t g, size_t *lo, size_t *hi)
{
    *lo = c->goff ? c->goff[g] : 0;
    *hi = c->goff ? c->goff[g + 1] : c->n_reqs;
}

static size_t an_gather(const struct an_ctx *c, size_t g, enum an_metric m, double *out)
{
    size_t n = 0, lo, hi;
    an_range(c, g, &lo, &hi);
    for (size_t i = lo; i < hi; i++) {
        const struct an_req *r = &c->reqs[i];
        if (r->group != g)
            continue;
        /* Token counts describe every request that has them; latencies only successes. */
        if (!(r->flags & AN_REQ_OK) && m != M_NIN && m != M_LAG && m != M_RESEND &&
            m != M_CONNECT)
            continue;
        double v = an_value(c, r, m);
        if (!isnan(v))
            out[n++] = v;
    }
    return n;
}

static const struct { const char *name; enum an_metric m; } an_metric_names[] = {
    {"ttft", M_TTFT}, {"ttfb", M_TTFB}, {"tpot", M_TPOT}, {"e2e", M_E2E}, {"lag", M_LAG},
    {"n_in", M_NIN}, {"n_out", M_NOUT},
};

double *an_collect(const struct an_ctx *c, size_t g, const char *metric, size_t *n)
{
    *n = 0;
    for (size_t k = 0; k < sizeof an_metric_names / sizeof an_metric_names[0]; k++) {
        if (strcmp(metric, an_metric_names[k].name))
            continue;
        double *v = malloc((c->n_reqs ? c->n_reqs : 1) * sizeof *v);
        if (!v)
            return NULL;
        *n = an_gather(c, g, an_metric_names[k].m, v);
        if (*n == 0) {
            free(v);
            return NULL;
        }
        stats_sort(v, *n);
        return v;
    }
    return NULL;
}

static void an_hist_ms(const struct hist *h, struct stats_dist *d)
{
    hist_summarize(h, d);
    double *f[] = {&d->mean, &d->stddev, &d->min, &d->p50, &d->p90, &d->p95, &d->p99,
                   &d->p999, &d->max};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        *f[i] /= 1e3;
}

/* Exact ITL summaries of group g from its kept samples. -1 on allocation failure. */
static int an_exact_itl(const struct an_group *g, int compat, struct an_summary *s)
{
    size_t n = g->gap_n > g->vgap_n ? g->gap_n : g->vgap_n;
    double *v = malloc((n ? n : 1) * sizeof *v);
    struct stats_wv *w = malloc((g->gap_n ? g->gap_n : 1) * sizeof *w);
    if (!v || !w) {
        free(v);
        free(w);
        return -1;
    }
    if (g->gap_n)
        memcpy(v, g->gap_v, g->gap_n * sizeof *v);
    for (size_t i = 0; i < g->gap_n; i++)
        w[i] = (struct stats_wv){g->gap_v[i] / 1e3 / (double)g->gap_k[i], g->gap_k[i]};
    for (size_t i = 0; i < g->gap_n; i++)
        v[i] /= 1e3;
    stats_summarize(v, g->gap_n, &s->itl);
    stats_summarize_weighted(w, g->gap_n, &s->itl_tok);
    for (size_t i = 0; i < g->vgap_n; i++)
        v[i] = g->vgap_v[i] / 1e3;
    stats_summarize(v, compat ? g->vgap_n : 0, &s->vllm_itl);
    free(v);
    free(w);
    return 0;
}

/* The seconds group g's rates divide by: its span (first t0 to last end), or for a time window
 * the window's length, clipped to its label's run so a partly covered first or last window
 * is not understated. NAN when no rate can be told (README "Group span"). */
static double an_span_s(const struct an_ctx *c, const struct an_group *grp, int64_t min_t0,
                        int64_t max_end)
{
    if (c->by == AN_BY_WINDOW) {
        double w0 = (double)grp->win * (double)c->window_us, w1 = w0 + (double)c->window_us;
        double l0 = (double)c->lab_t0[grp->label_idx], l1 = (double)c->lab_end[grp->label_idx];
        double a = w0 > l0 ? w0 : l0, b = w1 < l1 ? w1 : l1;
        return b > a ? (b - a) / 1e6 : NAN;
    }
    return max_end > min_t0 ? ((double)max_end - (double)min_t0) / 1e6 : NAN;
}

int an_summarize(const struct an_ctx *c, size_t g, int compat, struct an_summary *s)
{
    memset(s, 0, sizeof *s);
    const struct an_group *grp = &c->groups[g];
    double *v = malloc((c->n_reqs ? c->n_reqs : 1) * sizeof *v);
    if (!v)
        return -1;
    int64_t min_t0 = INT64_MAX, max_end = INT64_MIN, min_end = INT64_MAX;
    size_t lo, hi;
    an_range(c, g, &lo, &hi);
    for (size_t i = lo; i < hi; i++) {
        const struct an_req *r = &c->reqs[i];
        if (r->group != g)
            continue;
        s->requests++;
        if (r->t0_us < min_t0)
            min_t0 = r->t0_us;
        if (r->end_abs_us > max_end)
            max_end = r->end_abs_us;
        if (r->end_abs_us < min_end)
            min_end = r->end_abs_us;
        if (r->flags & AN_REQ_FROM_SCHED)
            s->from_sched++;
        if (r->flags & AN_REQ_NOUT_EVENTS)
            s->n_out_events++;
        if (r->flags & AN_REQ_RESENT) {
            s->resent++;
            s->resends += r->attempts;
        }
        /* Throughput counts every request of the group ("over the group"): tokens
         * streamed before a reset or a timeout were produced and delivered all the same. */
        if (r->n_out >= 0) {
            s->sum_out += r->n_out;
            s->n_out_known++;
        }
        if (r->n_in >= 0) {
            s->sum_in += r->n_in;
            s->n_in_known++;
        }
        if (r->n_cached >= 0 && r->n_in >= 0) {
            s->cached_tokens += r->n_cached;
            s->cached_prompt_tokens += r->n_in;
            s->cached_known++;
        }
        if (!(r->flags & AN_REQ_OK)) {
            s->errors++;
            s->err_by_kind[r->err_kind < TLOG_ERROR_KIND_COUNT ? r->err_kind : TLOG_ERROR_OTHER]++;
            continue;
        }
        s->ok++;
        int met = 1;
        if (c->slo.ttft_us && !(r->ttft_us >= 0 && r->ttft_us <= c->slo.ttft_us))
            met = 0;
        if (c->slo.tpot_us && r->tpot_us >= 0 && r->tpot_us > (double)c->slo.tpot_us)
            met = 0;
        if (c->slo.e2e_us && !(r->e2e_us >= 0 && r->e2e_us <= c->slo.e2e_us))
            met = 0;
        s->slo_met += met;
    }
    s->cached_share = s->cached_prompt_tokens > 0
                          ? (double)s->cached_tokens / (double)s->cached_prompt_tokens : NAN;
    s->warmup_excluded = grp->warmup_excluded;
    s->steady_dropped = grp->steady_dropped;
    s->transport_retries = grp->transport_retries;
    memcpy(s->tokens_src, grp->tokens_src, sizeof s->tokens_src);
    struct { enum an_metric m; struct stats_dist *d; int compat; } want[] = {
        {M_TTFT, &s->ttft, 0}, {M_TTFB, &s->ttfb, 0}, {M_TPOT, &s->tpot, 0},
        {M_E2E, &s->e2e, 0}, {M_LAG, &s->lag, 0}, {M_NIN, &s->n_in, 0},
        {M_NOUT, &s->n_out, 0}, {M_USER, &s->user_tok_s, 0},
        {M_RESEND, &s->resend_ms, 0}, {M_CONNECT, &s->connect_ms, 0},
        {M_VTTFT, &s->vllm_ttft, 1}, {M_VTPOT, &s->vllm_tpot, 1}, {M_VTTFT, &s->gp_ttft, 1},
        {M_GPITL, &s->gp_itl, 1}, {M_GLTPOT, &s->gl_tpot, 1}, {M_TPOT, &s->gl_itl, 1},
        {M_LPITL, &s->lp_itl, 1}, {M_LPTOK, &s->lp_out_tok_s, 1},
    };
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        if (want[k].compat && !compat) {
            stats_summarize(v, 0, want[k].d);
            continue;
        }
        size_t n = an_gather(c, g, want[k].m, v);
        stats_summarize(v, n, want[k].d);
    }
    free(v);
    s->itl_exact = c->itl_exact;
    if (c->itl_exact) {
        if (an_exact_itl(grp, compat, s))
            return -1;
    } else {
        an_hist_ms(&grp->itl, &s->itl);
        an_hist_ms(&grp->itl_tok, &s->itl_tok);
        if (compat)
            an_hist_ms(&grp->itl_vllm, &s->vllm_itl);
        else
            hist_summarize(&(struct hist){0}, &s->vllm_itl);
    }
    /* A rate needs a time to divide by and something served in it: a group whose every
     * request failed (often within a millisecond) has no throughput to state. */
    s->span_s = s->requests ? an_span_s(c, grp, min_t0, max_end) : NAN;
    if (s->span_s >= 1e-3 && s->ok > 0) {
        s->output_tok_s = (double)s->sum_out / s->span_s;
        /* n_in is never guessed: with one request's prompt size unknown the group's in+out
         * total is unknown too, and a partial sum would pass for the whole. */
        s->total_tok_s = s->n_in_known == s->requests
                             ? (double)(s->sum_out + s->sum_in) / s->span_s
                             : NAN;
        s->req_s = (double)s->requests / s->span_s;
        s->ok_req_s = (double)s->ok / s->span_s;
        s->goodput_req_s = (double)s->slo_met / s->span_s;
    } else {
        s->output_tok_s = s->total_tok_s = s->req_s = s->ok_req_s = s->goodput_req_s = NAN;
    }
    /* --steady: a stage's rates are those of its window, over every request that completed
     * in it (the kept ones alone would leave out the completions of requests started during
     * the ramp-up and count their time). Goodput is the kept requests' share meeting the SLO
     * times the window's request rate. README "Steady state". */
    for (size_t i = 0; grp->has_stage && i < c->n_steady; i++) {
        const struct an_steady *w = &c->steady[i];
        if (w->label_idx != grp->label_idx || w->stage != (float)grp->stage)
            continue;
        double ws = ((double)w->keep_to_us - (double)w->keep_from_us) / 1e6;
        if (!(ws >= 1e-3) || w->keep_from_us == INT64_MIN || w->win_done == 0)
            break;
        s->span_s = ws;
        s->output_tok_s = (double)w->win_out / ws;
        s->total_tok_s = w->win_in_unknown ? NAN : (double)(w->win_out + w->win_in) / ws;
        s->req_s = (double)w->win_done / ws;
        s->ok_req_s = (double)w->win_ok / ws;
        s->goodput_req_s = s->requests ? s->req_s * (double)s->slo_met / (double)s->requests
                                       : NAN;
        break;
    }
    return 0;
}

/* ---- sessions ----------------------------------------------------------------------------- */

struct an_sess_ref {
    uint64_t h;
    int64_t t0;
    size_t i;
};

static int an_sess_cmp(const void *a, const void *b)
{
    const struct an_sess_ref *x = a, *y = b;
    if (x->h != y->h)
        return x->h < y->h ? -1 : 1;
    if (x->t0 != y->t0)
        return x->t0 < y->t0 ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* The request meets every --slo (the README's SLO rules; a failed one does not). */
static int an_meets_slo(const struct an_ctx *c, const struct an_req *r)
{
    if (!(r->flags & AN_REQ_OK))
        return 0;
    if (c->slo.ttft_us && !(r->ttft_us >= 0 && r->ttft_us <= c->slo.ttft_us))
        return 0;
    if (c->slo.tpot_us && r->tpot_us >= 0 && r->tpot_us > (double)c->slo.tpot_us)
        return 0;
    if (c->slo.e2e_us && !(r->e2e_us >= 0 && r->e2e_us <= c->slo.e2e_us))
        return 0;
    return 1;
}

int an_sessions_of(const struct an_ctx *c, size_t l, struct an_sessions *s)
{
    memset(s, 0, sizeof *s);
    size_t n = 0;
    struct an_sess_ref *v = malloc((c->n_reqs ? c->n_reqs : 1) * sizeof *v);
    double *dur = malloc((c->n_reqs ? c->n_reqs : 1) * sizeof *dur);
    double *tn = malloc((c->n_reqs ? c->n_reqs : 1) * sizeof *tn);
    double *tok = malloc((c->n_reqs ? c->n_reqs : 1) * sizeof *tok);
    if (!v || !dur || !tn || !tok) {
        free(v);
        free(dur);
        free(tn);
        free(tok);
        return -1;
    }
    for (size_t i = 0; i < c->n_reqs; i++) {
        const struct an_req *r = &c->reqs[i];
        if (r->sess_hash && c->groups[r->group].label_idx == (int)l)
            v[n++] = (struct an_sess_ref){r->sess_hash, r->t0_us, i};
    }
    qsort(v, n, sizeof *v, an_sess_cmp);
    size_t ns = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        int64_t t0 = INT64_MAX, end = INT64_MIN, ok = 0, met = 1;
        for (; j < n && v[j].h == v[i].h; j++) {
            const struct an_req *r = &c->reqs[v[j].i];
            t0 = r->t0_us < t0 ? r->t0_us : t0;
            end = r->end_abs_us > end ? r->end_abs_us : end;
            ok += (r->flags & AN_REQ_OK) != 0;
            met &= an_meets_slo(c, r);
        }
        dur[ns] = ((double)end - (double)t0) / 1e3;
        tn[ns] = (double)(j - i);
        tok[ns] = (double)ok;
        s->completed += ok == (int64_t)(j - i);
        s->slo_met += met;
        ns++;
        i = j;
    }
    s->sessions = (int64_t)ns;
    s->turns = (int64_t)n;
    stats_summarize(dur, ns, &s->duration_ms);
    stats_summarize(tn, ns, &s->turns_per);
    stats_summarize(tok, ns, &s->ok_turns_per);
    s->span_s = c->lab_end[l] > c->lab_t0[l] ? ((double)c->lab_end[l] - (double)c->lab_t0[l]) / 1e6
                                             : NAN;
    s->sessions_s = ns && s->span_s >= 1e-3 ? (double)ns / s->span_s : NAN;
    s->goodput_sessions_s = ns && s->span_s >= 1e-3 ? (double)s->slo_met / s->span_s : NAN;
    free(v);
    free(dur);
    free(tn);
    free(tok);
    return 0;
}

/* One SLO value: a bare number is milliseconds (vLLM's --goodput), or a number with the unit
 * us, µs, ms or s. 0 or -1. */
static int an_parse_slo_value(const char *s, int64_t *us)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !isfinite(v) || !(v > 0) || *s == '+' || isspace((unsigned char)*s))
        return -1;
    double mult;
    if (!*end || !strcmp(end, "ms"))
        mult = 1e3;
    else if (!strcmp(end, "s"))
        mult = 1e6;
    else if (!strcmp(end, "us") || !strcmp(end, "\xc2\xb5s"))
        mult = 1;
    else
        return -1;
    double r = v * mult;
    if (!(r >= 1) || r > 9.2e18)
        return -1; /* below a microsecond: no request can meet it, so it is a typo */
    *us = (int64_t)llround(r);
    return 0;
}

int an_parse_slo(const char *s, struct an_slo *slo, char *err, size_t errlen)
{
    memset(slo, 0, sizeof *slo);
    char tmp[256];
    if (strlen(s) >= sizeof tmp) {
        snprintf(err, errlen, "--slo too long");
        return -1;
    }
    if (!*s) {
        snprintf(err, errlen, "empty --slo (want ttft=500ms,tpot=50ms,e2e=10s)");
        return -1;
    }
    memcpy(tmp, s, strlen(s) + 1);
    if (tmp[0] == ',' || tmp[strlen(tmp) - 1] == ',' || strstr(tmp, ",,")) {
        snprintf(err, errlen, "bad --slo '%s': empty item (want ttft=500ms,tpot=50ms,e2e=10s)", s);
        return -1;
    }
    char *save = NULL;
    for (char *tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) {
            snprintf(err, errlen, "bad --slo item '%s' (want ttft=500ms,tpot=50ms,e2e=10s)", tok);
            return -1;
        }
        *eq = '\0';
        int64_t *dst = !strcmp(tok, "ttft") ? &slo->ttft_us
                       : !strcmp(tok, "tpot") ? &slo->tpot_us
                       : !strcmp(tok, "e2e") ? &slo->e2e_us : NULL;
        if (!dst) {
            snprintf(err, errlen, "unknown --slo metric '%s' (ttft, tpot, e2e)", tok);
            return -1;
        }
        if (*dst) {
            snprintf(err, errlen, "--slo %s given twice", tok);
            return -1;
        }
        if (an_parse_slo_value(eq + 1, dst)) {
            snprintf(err, errlen,
                     "bad --slo %s value '%s' (a positive number of milliseconds, or with a "
                     "unit: 500ms, 0.5s, 800us)", tok, eq + 1);
            return -1;
        }
    }
    return 0;
}

/* One request's start (+1) or end (-1), for the in-flight sweep of --steady. */
struct an_edge {
    int64_t t;
    int d;
};

static int an_edge_cmp(const void *a, const void *b)
{
    const struct an_edge *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->d - y->d; /* an end before a start at the same µs: never over-count */
}

int an_steady_plan(const struct an_ctx *c, struct an_steady **out, size_t *n)
{
    struct an_steady *v = NULL;
    size_t nv = 0;
    *out = NULL;
    *n = 0;
    for (size_t i = 0; i < c->n_reqs; i++) {
        const struct an_req *r = &c->reqs[i];
        if (isnan(r->stage))
            continue;
        int l = c->groups[r->group].label_idx;
        size_t k = 0;
        while (k < nv && !(v[k].label_idx == l && v[k].stage == r->stage))
            k++;
        if (k == nv) {
            struct an_steady *nw = realloc(v, (nv + 1) * sizeof *nw);
            if (!nw) {
                free(v);
                return -1;
            }
            v = nw;
            v[nv++] = (struct an_steady){.label_idx = l, .stage = r->stage,
                                         .rate = !!(r->flags & AN_REQ_RATE_STAGE),
                                         .keep_from_us = INT64_MAX, .keep_to_us = INT64_MIN};
        }
        struct an_steady *w = &v[k];
        w->requests++;
        if (r->t0_us > w->keep_to_us)
            w->keep_to_us = r->t0_us; /* the stage's last send */
        if (w->rate && r->end_abs_us < w->keep_from_us)
            w->keep_from_us = r->end_abs_us; /* its first completion */
    }
    for (size_t k = 0; k < nv; k++) {
        struct an_steady *w = &v[k];
        if (w->rate) {
            w->reached = 1;
            continue;
        }
        struct an_edge *e = malloc((size_t)w->requests * 2 * sizeof *e);
        if (!e) {
            free(v);
            return -1;
        }
        size_t ne = 0;
        for (size_t i = 0; i < c->n_reqs; i++) {
            const struct an_req *r = &c->reqs[i];
            if (r->stage != w->stage || c->groups[r->group].label_idx != w->label_idx)
                continue;
            e[ne++] = (struct an_edge){r->t0_us, +1};
            e[ne++] = (struct an_edge){r->end_abs_us > r->t0_us ? r->end_abs_us : r->t0_us, -1};
        }
        qsort(e, ne, sizeof *e, an_edge_cmp);
        int64_t target = (int64_t)llround(w->stage), in = 0;
        w->keep_from_us = INT64_MIN; /* never reached: no ramp-up is cut (said in the report) */
        for (size_t i = 0; i < ne; i++) {
            in += e[i].d;
            if (e[i].d > 0 && in >= target) {
                w->keep_from_us = e[i].t;
                w->reached = 1;
                break;
            }
        }
        free(e);
    }
    for (size_t i = 0; i < c->n_reqs; i++) {
        const struct an_req *r = &c->reqs[i];
        if (isnan(r->stage))
            continue;
        int l = c->groups[r->group].label_idx;
        for (size_t k = 0; k < nv; k++) {
            struct an_steady *w = &v[k];
            if (w->label_idx != l || w->stage != r->stage)
                continue;
            if (r->end_abs_us >= w->keep_from_us && r->end_abs_us <= w->keep_to_us) {
                w->win_done++;
                w->win_ok += (r->flags & AN_REQ_OK) != 0;
                w->win_out += r->n_out > 0 ? r->n_out : 0;
                if (r->n_in >= 0)
                    w->win_in += r->n_in;
                else
                    w->win_in_unknown++;
            }
            break;
        }
    }
    *out = v;
    *n = nv;
    return 0;
}
