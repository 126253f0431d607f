/* server.c — server metrics series (server.h). The name table is the one replay/README.md
 * "Server metrics" documents; a stack exporting several names for one quantity (llmtrace-sim
 * --persona vllm exports its own and vLLM's) is read from the first name in table order. */
#include "server.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct srv_name {
    const char *name;
    enum srv_kind kind;
} srv_names[] = {
    {"vllm:num_requests_running", SRV_RUNNING},
    {"vllm:num_requests_waiting", SRV_WAITING},
    {"vllm:kv_cache_usage_perc", SRV_KV},
    {"vllm:gpu_cache_usage_perc", SRV_KV},       /* vLLM v0 */
    {"sglang:num_running_reqs", SRV_RUNNING},
    {"sglang:num_queue_reqs", SRV_WAITING},
    {"sglang:token_usage", SRV_KV},
    {"tgi_batch_current_size", SRV_RUNNING},
    {"tgi_queue_size", SRV_WAITING},
    {"llamacpp:requests_processing", SRV_RUNNING},
    {"llamacpp:requests_deferred", SRV_WAITING},
    {"llamacpp:kv_cache_usage_ratio", SRV_KV},
    {"llmtrace_sim_requests_running", SRV_RUNNING},
    {"llmtrace_sim_requests_waiting", SRV_WAITING},
    {"llmtrace_sim_kv_cache_usage_perc", SRV_KV},
};
#define SRV_N_NAMES (sizeof srv_names / sizeof srv_names[0])

void srv_init(struct srv_set *s)
{
    memset(s, 0, sizeof *s);
}

void srv_free(struct srv_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        for (int k = 0; k < SRV_KINDS; k++)
            free(s->l[i].p[k]);
        free(s->l[i].first_error);
    }
    free(s->l);
    memset(s, 0, sizeof *s);
}

static struct srv_label *srv_label_at(struct srv_set *s, size_t l)
{
    if (l >= s->n) {
        struct srv_label *nl = realloc(s->l, (l + 1) * sizeof *nl);
        if (!nl)
            return NULL;
        for (size_t i = s->n; i <= l; i++) {
            memset(&nl[i], 0, sizeof nl[i]);
            for (int k = 0; k < SRV_KINDS; k++)
                nl[i].prio[k] = -1;
        }
        s->l = nl;
        s->n = l + 1;
    }
    return &s->l[l];
}

int srv_add(struct srv_set *s, size_t l, const struct tlog_metrics *m)
{
    struct srv_label *L = srv_label_at(s, l);
    if (!L)
        return -1;
    if (!m->name) {
        L->failures++;
        if (!L->first_error && m->error_message && m->error_message[0])
            L->first_error = strdup(m->error_message);
        return 0;
    }
    L->samples++;
    size_t r = 0;
    while (r < SRV_N_NAMES && strcmp(srv_names[r].name, m->name))
        r++;
    if (r == SRV_N_NAMES || !isfinite(m->value))
        return 0;
    enum srv_kind k = srv_names[r].kind;
    if (L->prio[k] >= 0 && (int)r > L->prio[k])
        return 0;
    if ((int)r < L->prio[k] || L->prio[k] < 0) {
        L->n[k] = 0; /* a preferred name for the same quantity: start over with it */
        L->prio[k] = (int)r;
        L->name[k] = srv_names[r].name;
    }
    if (L->n[k] == L->cap[k]) {
        size_t nc = L->cap[k] ? 2 * L->cap[k] : 256;
        struct srv_point *np = realloc(L->p[k], nc * sizeof *np);
        if (!np)
            return -1;
        L->p[k] = np;
        L->cap[k] = nc;
    }
    L->p[k][L->n[k]++] = (struct srv_point){m->t_us, m->value};
    return 0;
}

static int srv_point_cmp(const void *a, const void *b)
{
    const struct srv_point *x = a, *y = b;
    return (x->t_us > y->t_us) - (x->t_us < y->t_us);
}

void srv_finish(struct srv_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        for (int k = 0; k < SRV_KINDS; k++) {
            struct srv_label *L = &s->l[i];
            struct srv_point *p = L->p[k];
            size_t n = L->n[k], w = 0;
            if (n == 0)
                continue;
            qsort(p, n, sizeof *p, srv_point_cmp);
            /* one scrape = one time: the label sets of one name (engines, models) merged */
            for (size_t a = 0; a < n;) {
                size_t b = a;
                double sum = 0;
                while (b < n && p[b].t_us == p[a].t_us)
                    sum += p[b++].v;
                p[w].t_us = p[a].t_us;
                p[w++].v = k == SRV_KV ? sum / (double)(b - a) : sum;
                a = b;
            }
            L->n[k] = w;
        }
}

int srv_has(const struct srv_set *s, size_t l)
{
    if (!s || l >= s->n)
        return 0;
    for (int k = 0; k < SRV_KINDS; k++)
        if (s->l[l].n[k])
            return 1;
    return 0;
}

int srv_any(const struct srv_set *s)
{
    for (size_t l = 0; s && l < s->n; l++)
        if (srv_has(s, l))
            return 1;
    return 0;
}

void srv_why(const struct srv_set *s, size_t l, char *out, size_t outlen)
{
    const struct srv_label *L = s && l < s->n ? &s->l[l] : NULL;
    if (L && srv_has(s, l))
        snprintf(out, outlen, "%s", "");
    else if (!L || (L->samples == 0 && L->failures == 0))
        snprintf(out, outlen, "no metrics records in the log (llmtrace-replay --scrape records "
                              "the server's)");
    else if (L->samples == 0)
        snprintf(out, outlen, "every scrape failed (%lld)%s%s", (long long)L->failures,
                 L->first_error ? ": " : "", L->first_error ? L->first_error : "");
    else
        snprintf(out, outlen, "%lld metrics samples, none of a known name (analyze/README.md "
                              "\"Server metrics\")", (long long)L->samples);
}
