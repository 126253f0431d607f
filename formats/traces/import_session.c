/* import_session.c — sessions of imported traces (import_parsers.h): BurstGPT rows grouped by
 * their recorded Session ID, and Mooncake rows linked to the earlier request they continue,
 * told by hash_ids alone (convert/README.md "Sessions" states both rules and what the second
 * cannot tell apart). Both work on the rows one input just added, before they are sorted with
 * the other inputs' rows, through an index array in arrival order. */
#include "import_parsers.h"
#include "import_row.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A row's place in arrival order (t_us, then insertion order), and its recorded key. */
struct sess_key {
    int64_t t_us;
    uint64_t seq;
    const char *session;
    size_t row;
};

static int by_arrival(const void *a, const void *b)
{
    const struct sess_key *x = a, *y = b;
    if (x->t_us != y->t_us)
        return x->t_us < y->t_us ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int by_session_then_arrival(const void *a, const void *b)
{
    const struct sess_key *x = a, *y = b;
    int c = strcmp(x->session, y->session);
    return c ? c : by_arrival(a, b);
}

/* Keys of the rows [first, t->n) (only those with a session when keyed), sorted by cmp;
 * *n gets their number. NULL on no memory. */
static struct sess_key *sess_sorted(const struct import_trace *t, size_t first, int keyed,
                                    int (*cmp)(const void *, const void *), size_t *n)
{
    struct sess_key *k = malloc((t->n - first + 1) * sizeof *k);
    *n = 0;
    if (!k)
        return NULL;
    for (size_t i = first; i < t->n; i++)
        if (!keyed || t->rows[i].session)
            k[(*n)++] = (struct sess_key){t->rows[i].t_us, t->rows[i].seq, t->rows[i].session, i};
    qsort(k, *n, sizeof *k, cmp);
    return k;
}

/* "<format>[<input>]-<key>", like record ids. */
static char *session_name(const struct import_opts *o, enum import_format f, const char *key)
{
    char head[48];
    if (o->input_index > 0)
        snprintf(head, sizeof head, "%s%d-", import_format_name(f), o->input_index);
    else
        snprintf(head, sizeof head, "%s-", import_format_name(f));
    size_t a = strlen(head), b = strlen(key);
    char *s = malloc(a + b + 1);
    if (s) {
        memcpy(s, head, a);
        memcpy(s + a, key, b + 1);
    }
    return s;
}

int import_sessions_keyed(struct import_trace *t, const struct import_opts *o, size_t first)
{
    size_t n;
    struct sess_key *idx = sess_sorted(t, first, 1, by_session_then_arrival, &n);
    if (!idx)
        return IMPORT_ERR_NOMEM;
    int rc = 0;
    for (size_t k = 0; k < n && !rc; k++) {
        struct import_row *r = &t->rows[idx[k].row];
        const struct import_row *p = k > 0 ? &t->rows[idx[k - 1].row] : NULL;
        if (p && !strcmp(p->session, r->session)) {
            r->turn = p->turn + 1;
            t->linked++;
            if (p->elapsed_us >= 0) {
                /* think = this request's start − (the previous turn's start + its duration) */
                r->think_us = r->t_us - (p->t_us + p->elapsed_us);
                if (r->think_us < 0) {
                    r->think_us = 0;
                    t->think_clamped++;
                }
            }
        } else {
            r->turn = 0;
            t->sessions++;
        }
    }
    /* the recorded keys become session ids, once every comparison is done */
    for (size_t k = 0; k < n && !rc; k++) {
        struct import_row *r = &t->rows[idx[k].row];
        char *name = session_name(o, r->format, r->session);
        if (!name)
            rc = IMPORT_ERR_NOMEM;
        else {
            free(r->session);
            r->session = name;
        }
    }
    free(idx);
    return rc;
}

/* ---- Mooncake ------------------------------------------------------------------------------ */

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Hash of the first k ids, chained so that every prefix's hash comes on the way. */
static uint64_t prefix_step(uint64_t h, uint64_t id)
{
    return mix64(h ^ mix64(id + 1));
}

struct mc_index {                /* full-block prefix hash → rows ending there, newest first */
    uint64_t *key;
    size_t *head;                /* row index + 1; 0 = empty slot */
    size_t mask;
    size_t *next;                /* per row of the input (offset from first): next older row */
};

static size_t mc_slot(const struct mc_index *m, uint64_t k)
{
    size_t i = (size_t)mix64(k) & m->mask;
    while (m->head[i] && m->key[i] != k)
        i = (i + 1) & m->mask;
    return i;
}

/* Full blocks of a row: its hash ids, less a final partial block (whose id changes once the
 * prompt grows into it). */
static size_t mc_full(const struct import_row *r)
{
    size_t full = r->tokens_in > 0 ? (size_t)(r->tokens_in / IMPORT_MOONCAKE_BLOCK) : 0;
    return full < r->n_hash ? full : r->n_hash;
}

int import_sessions_mooncake(struct import_trace *t, const struct import_opts *o, size_t first)
{
    size_t n = t->n - first, sz = 16, k;
    size_t min_blocks = o->session_min_blocks > 0 ? (size_t)o->session_min_blocks
                                                  : IMPORT_SESSION_MIN_BLOCKS;
    if (n == 0)
        return 0;
    while (sz < 2 * n)
        sz *= 2;
    struct mc_index m = {calloc(sz, sizeof(uint64_t)), calloc(sz, sizeof(size_t)), sz - 1,
                         calloc(n, sizeof(size_t))};
    size_t nk;
    struct sess_key *idx = sess_sorted(t, first, 0, by_arrival, &nk);
    uint64_t *pre = malloc((IMPORT_MAX_HASH_IDS + 1) * sizeof *pre);
    char *closed = calloc(n, 1);
    int rc = 0;
    if (!m.key || !m.head || !m.next || !idx || !pre || !closed) {
        rc = IMPORT_ERR_NOMEM;
        goto out;
    }
    for (k = 0; k < nk && !rc; k++) {
        struct import_row *r = &t->rows[idx[k].row];
        const struct import_row *best = NULL;
        size_t best_i = 0;
        pre[0] = 0;
        for (size_t j = 0; j < r->n_hash; j++)
            pre[j + 1] = prefix_step(pre[j], r->hash_ids[j]);
        /* the longest earlier prefix first: a conversation's latest turn holds the most blocks */
        for (size_t len = r->n_hash; len >= min_blocks && len > 0 && !best; len--) {
            size_t s = mc_slot(&m, pre[len]);
            for (size_t h = m.head[s]; h && !best; h = m.next[h - 1 - first]) {
                const struct import_row *p = &t->rows[h - 1];
                size_t pi = h - 1 - first;
                if (closed[pi] || mc_full(p) != len || memcmp(p->hash_ids, r->hash_ids, len * sizeof *r->hash_ids))
                    continue;
                /* later, longer, and holding the previous prompt and its reply */
                if (p->t_us >= r->t_us || r->tokens_in <= p->tokens_in ||
                    r->tokens_in < p->tokens_in + (p->tokens_out > 0 ? p->tokens_out : 0))
                    continue;
                best = p;
                best_i = pi;
            }
        }
        if (best) {
            closed[best_i] = 1; /* one next turn per turn: a later extension is a branch */
            r->session = strdup(best->session);
            r->turn = best->turn + 1;
            t->linked++;
        } else {
            char key[32];
            snprintf(key, sizeof key, "%lld", (long long)r->line);
            r->session = session_name(o, IMPORT_MOONCAKE, key);
            r->turn = 0;
            t->sessions++;
        }
        if (!r->session) {
            rc = IMPORT_ERR_NOMEM;
            break;
        }
        size_t full = mc_full(r);
        if (full >= min_blocks && full > 0) {
            size_t s = mc_slot(&m, pre[full]);
            m.key[s] = pre[full];
            m.next[idx[k].row - first] = m.head[s];
            m.head[s] = idx[k].row + 1;
        }
    }
out:
    free(m.key);
    free(m.head);
    free(m.next);
    free(idx);
    free(pre);
    free(closed);
    return rc;
}
