/* tally.c — the per-worker output-token counts of llmtrace-replay's summary (see tally.h). */
#include "tally.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TALLY_MAX_SAMPLES (10u * 1000 * 1000) /* per worker: TPOT samples kept */

struct tally_worker {
    struct tally_counts c;
    int64_t *tpot_ns;
    size_t cap;
    struct slo_sample *samples;
    size_t samples_cap;
    char pad[64];              /* slots of different workers on different cache lines */
};

static struct tally_worker *g_w;
static int g_n;
static int g_keep, g_from_sched;

void tally_keep_samples(int on, int from_sched)
{
    g_keep = on;
    g_from_sched = from_sched;
}

int tally_init(int n_workers)
{
    tally_free();
    if (n_workers < 1 || n_workers > TALLY_MAX_WORKERS)
        return -1;
    g_w = calloc((size_t)n_workers, sizeof(*g_w));
    if (!g_w)
        return -1;
    g_n = n_workers;
    return 0;
}

void tally_free(void)
{
    for (int i = 0; i < g_n; i++) {
        free(g_w[i].tpot_ns);
        free(g_w[i].samples);
    }
    free(g_w);
    g_w = NULL;
    g_n = 0;
}

/* TPOT as analyze/README.md defines it: (last − first content event) / (n_out − 1), for a
 * successful exchange with n_out >= 2 and at least two content events; -1 otherwise. */
static int64_t tally_tpot_ns(const struct tlog_exchange *x)
{
    if (x->error_kind != TLOG_ERROR_NONE || x->tokens_out < 2)
        return -1;
    int64_t first = -1, last = -1;
    size_t n = 0;
    for (size_t i = 0; i < x->resp.n_events; i++)
        if (x->resp.events[i].is_content) {
            if (first < 0)
                first = x->resp.events[i].offset_us;
            last = x->resp.events[i].offset_us;
            n++;
        }
    if (n < 2)
        return -1;
    return (last - first) * 1000 / (x->tokens_out - 1);
}

/* One exchange as --search judges it: a failed one never met anything (ok = 0); a metric it
 * never reached is +Inf; TPOT undefined (one token) is NaN and left out. */
static void tally_push_sample(struct tally_worker *w, const struct tlog_exchange *x,
                              int64_t tpot_ns)
{
    if (w->c.n_samples == w->samples_cap) {
        if (w->samples_cap >= TALLY_MAX_SAMPLES)
            return;
        size_t cap = w->samples_cap ? w->samples_cap * 2 : 1024;
        struct slo_sample *p = realloc(w->samples, cap * sizeof(*p));
        if (!p)
            return;
        w->samples = p;
        w->samples_cap = cap;
    }
    struct slo_sample *s = &w->samples[w->c.n_samples++];
    double lag_ms = g_from_sched && x->replay.sched_us > 0
                        ? (double)(x->start_us - x->replay.sched_us) / 1e3
                        : 0;
    if (lag_ms < 0)
        lag_ms = 0;
    int64_t ttft = -1;
    for (size_t i = 0; i < x->resp.n_events; i++)
        if (x->resp.events[i].is_content) {
            ttft = x->resp.events[i].offset_us;
            break;
        }
    s->ok = x->error_kind == TLOG_ERROR_NONE;
    s->ms[SLO_TTFT] = ttft >= 0 ? (double)ttft / 1e3 + lag_ms : INFINITY;
    s->ms[SLO_TPOT] = tpot_ns >= 0 ? (double)tpot_ns / 1e6 : NAN;
    s->ms[SLO_E2E] = x->resp.end_us >= 0 ? (double)x->resp.end_us / 1e3 + lag_ms : INFINITY;
}

void tally_add(int worker, const struct replay_req *r, struct tlog_exchange *x)
{
    if (r)
        tlog_exchange_apply_pinned(x, r->pinned_out);
    if (worker < 0 || worker >= g_n)
        return;
    struct tally_worker *w = &g_w[worker];
    w->c.done++;
    if (x->tokens_source == TLOG_TOKENS_EVENTS)
        w->c.from_events++;
    else if (x->tokens_source == TLOG_TOKENS_MAX_TOKENS)
        w->c.pinned++;
    int64_t t = tally_tpot_ns(x);
    if (g_keep && !x->replay.warmup)
        tally_push_sample(w, x, t);
    if (t < 0)
        return;
    if (w->c.n_tpot == w->cap) {
        if (w->cap >= TALLY_MAX_SAMPLES)
            return;
        size_t cap = w->cap ? w->cap * 2 : 1024;
        int64_t *p = realloc(w->tpot_ns, cap * sizeof(*p));
        if (!p)
            return;
        w->tpot_ns = p;
        w->cap = cap;
    }
    w->tpot_ns[w->c.n_tpot++] = t;
}

void tally_mark(struct tally_mark *m)
{
    memset(m, 0, sizeof(*m));
    for (int i = 0; i < g_n; i++)
        m->w[i] = g_w[i].c;
}

static int tally_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double tally_pct(const int64_t *v, size_t n, double q)
{
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)pos;
    if (lo + 1 >= n)
        return (double)v[n - 1];
    return (double)v[lo] + (pos - (double)lo) * (double)(v[lo + 1] - v[lo]);
}

void tally_since(const struct tally_mark *m, struct tally_summary *s)
{
    memset(s, 0, sizeof(*s));
    s->tpot_p50_us = s->tpot_p99_us = NAN;
    for (int i = 0; i < g_n; i++) {
        const struct tally_counts *c = &g_w[i].c, *o = m ? &m->w[i] : NULL;
        s->done += c->done - (o ? o->done : 0);
        s->from_events += c->from_events - (o ? o->from_events : 0);
        s->pinned += c->pinned - (o ? o->pinned : 0);
        s->n_tpot += c->n_tpot - (o ? o->n_tpot : 0);
    }
    if (!s->n_tpot)
        return;
    int64_t *v = malloc(s->n_tpot * sizeof(*v));
    if (!v)
        return;
    size_t k = 0;
    for (int i = 0; i < g_n; i++)
        for (size_t j = m ? m->w[i].n_tpot : 0; j < g_w[i].c.n_tpot; j++)
            v[k++] = g_w[i].tpot_ns[j];
    qsort(v, k, sizeof(*v), tally_cmp);
    s->tpot_p50_us = tally_pct(v, k, 0.5) / 1000.0;
    s->tpot_p99_us = tally_pct(v, k, 0.99) / 1000.0;
    free(v);
}

struct slo_sample *tally_samples_since(const struct tally_mark *m, size_t *n)
{
    size_t total = 0;
    for (int i = 0; i < g_n; i++)
        total += g_w[i].c.n_samples - (m ? m->w[i].n_samples : 0);
    *n = 0;
    if (!total)
        return NULL;
    struct slo_sample *v = malloc(total * sizeof(*v));
    if (!v)
        return NULL;
    for (int i = 0; i < g_n; i++)
        for (size_t j = m ? m->w[i].n_samples : 0; j < g_w[i].c.n_samples; j++)
            v[(*n)++] = g_w[i].samples[j];
    return v;
}
