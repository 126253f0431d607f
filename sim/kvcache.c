/* kvcache.c — the KV block pool and prefix cache of llmtrace-sim (see kvcache.h). The hash
 * table is linear probing with backward-shift deletion, so evictions leave no tombstones. */
#include "kvcache.h"

#include <stdlib.h>

#include "rng.h"

#define KV_MAX_BLOCKS ((int64_t)1 << 30)

int kv_init(struct kvcache *kv, int64_t n_blocks, int64_t block_size)
{
    size_t sz = 16;
    *kv = (struct kvcache){0};
    if (n_blocks < 1 || n_blocks > KV_MAX_BLOCKS || block_size < 1)
        return -1;
    while (sz < (size_t)n_blocks * 2)
        sz *= 2;
    kv->b = calloc((size_t)n_blocks, sizeof(*kv->b));
    kv->tab = calloc(sz, sizeof(*kv->tab));
    if (!kv->b || !kv->tab) {
        kv_free(kv);
        return -1;
    }
    kv->n_blocks = n_blocks;
    kv->block_size = block_size;
    kv->tab_mask = sz - 1;
    for (int64_t i = 0; i < n_blocks; i++) {
        kv->b[i].prev = (int32_t)(i - 1);
        kv->b[i].next = i + 1 < n_blocks ? (int32_t)(i + 1) : -1;
    }
    kv->free_head = 0;
    kv->free_tail = (int32_t)(n_blocks - 1);
    kv->n_free = n_blocks;
    return 0;
}

void kv_free(struct kvcache *kv)
{
    free(kv->b);
    free(kv->tab);
    *kv = (struct kvcache){0};
}

static size_t kv_home(const struct kvcache *kv, uint64_t h)
{
    return (size_t)rng_mix(h) & kv->tab_mask;
}

static int32_t kv_lookup(const struct kvcache *kv, uint64_t h)
{
    for (size_t i = kv_home(kv, h);; i = (i + 1) & kv->tab_mask) {
        int32_t v = kv->tab[i];
        if (v == 0)
            return -1;
        if (kv->b[v - 1].hash == h)
            return v - 1;
    }
}

static void kv_tab_insert(struct kvcache *kv, int32_t idx)
{
    size_t i = kv_home(kv, kv->b[idx].hash);
    while (kv->tab[i])
        i = (i + 1) & kv->tab_mask;
    kv->tab[i] = idx + 1;
    kv->b[idx].hashed = 1;
    kv->n_hashed++;
}

static void kv_tab_delete(struct kvcache *kv, int32_t idx)
{
    size_t i = kv_home(kv, kv->b[idx].hash), j;
    while (kv->tab[i] != idx + 1)
        i = (i + 1) & kv->tab_mask;
    kv->tab[i] = 0;
    /* backward shift: move later entries of the run into the hole when their home allows */
    for (j = (i + 1) & kv->tab_mask; kv->tab[j]; j = (j + 1) & kv->tab_mask) {
        size_t k = kv_home(kv, kv->b[kv->tab[j] - 1].hash);
        int between = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!between) {
            kv->tab[i] = kv->tab[j];
            kv->tab[j] = 0;
            i = j;
        }
    }
    kv->b[idx].hashed = 0;
    kv->n_hashed--;
}

static void kv_unlink(struct kvcache *kv, int32_t idx)
{
    struct kv_block *b = &kv->b[idx];
    if (b->prev >= 0)
        kv->b[b->prev].next = b->next;
    else
        kv->free_head = b->next;
    if (b->next >= 0)
        kv->b[b->next].prev = b->prev;
    else
        kv->free_tail = b->prev;
    b->prev = b->next = -1;
    kv->n_free--;
}

static void kv_append_free(struct kvcache *kv, int32_t idx)
{
    struct kv_block *b = &kv->b[idx];
    b->next = -1;
    b->prev = kv->free_tail;
    if (kv->free_tail >= 0)
        kv->b[kv->free_tail].next = idx;
    else
        kv->free_head = idx;
    kv->free_tail = idx;
    kv->n_free++;
}

static void kv_ref(struct kvcache *kv, int32_t idx)
{
    if (kv->b[idx].ref++ == 0)
        kv_unlink(kv, idx);
}

/* The least recently released block, emptied (its hash dropped) and referenced once. */
static int32_t kv_take(struct kvcache *kv)
{
    int32_t idx = kv->free_head;
    kv_unlink(kv, idx);
    if (kv->b[idx].hashed) {
        kv_tab_delete(kv, idx);
        kv->evictions++;
    }
    kv->b[idx].ref = 1;
    return idx;
}

static int kv_reserve(struct kv_table *t, size_t n)
{
    if (n <= t->cap)
        return 0;
    size_t nc = t->cap ? t->cap : 8;
    while (nc < n)
        nc *= 2;
    int32_t *ni = realloc(t->ids, nc * sizeof(*ni));
    if (!ni)
        return -1;
    t->ids = ni;
    t->cap = nc;
    return 0;
}

size_t kv_match(const struct kvcache *kv, const uint64_t *hashes, size_t n)
{
    size_t i = 0;
    while (i < n && kv_lookup(kv, hashes[i]) >= 0)
        i++;
    return i;
}

static int64_t kv_blocks_for(const struct kvcache *kv, int64_t n_tokens)
{
    return n_tokens <= 0 ? 0 : (n_tokens + kv->block_size - 1) / kv->block_size;
}

int64_t kv_admit(struct kvcache *kv, struct kv_table *t, const uint64_t *hashes, size_t n_hashes,
                 int64_t n_tokens)
{
    int64_t total = kv_blocks_for(kv, n_tokens), max_hit = n_tokens > 0 ? (n_tokens - 1) / kv->block_size : 0;
    size_t hit = kv_match(kv, hashes, n_hashes < (size_t)max_hit ? n_hashes : (size_t)max_hit);
    int64_t idle_hits = 0;
    for (size_t i = 0; i < hit; i++)
        idle_hits += kv->b[kv_lookup(kv, hashes[i])].ref == 0;
    if (t->n != 0 || total - (int64_t)hit > kv->n_free - idle_hits || kv_reserve(t, (size_t)total))
        return -1;
    for (size_t i = 0; i < hit; i++) {
        int32_t idx = kv_lookup(kv, hashes[i]);
        kv_ref(kv, idx);
        t->ids[t->n++] = idx;
    }
    t->n_reg = hit;
    while ((int64_t)t->n < total)
        t->ids[t->n++] = kv_take(kv);
    kv_register(kv, t, hashes, n_hashes, n_tokens);
    return (int64_t)hit * kv->block_size;
}

int64_t kv_blocks_needed(const struct kvcache *kv, const struct kv_table *t, int64_t n_tokens)
{
    int64_t need = kv_blocks_for(kv, n_tokens) - (int64_t)t->n;
    return need > 0 ? need : 0;
}

int kv_grow(struct kvcache *kv, struct kv_table *t, int64_t n_tokens)
{
    int64_t need = kv_blocks_needed(kv, t, n_tokens);
    if (need == 0)
        return 0;
    if (need > kv->n_free || kv_reserve(t, t->n + (size_t)need))
        return -1;
    while (need-- > 0)
        t->ids[t->n++] = kv_take(kv);
    return 0;
}

void kv_register(struct kvcache *kv, struct kv_table *t, const uint64_t *hashes, size_t n_hashes,
                 int64_t n_tokens)
{
    size_t full = (size_t)(n_tokens / kv->block_size);
    size_t lim = full < t->n ? full : t->n;
    if (lim > n_hashes)
        lim = n_hashes;
    for (size_t j = t->n_reg; j < lim; j++) {
        int32_t idx = t->ids[j];
        if (kv->b[idx].hashed)
            continue; /* a cache hit, or registered by an earlier call */
        if (kv_lookup(kv, hashes[j]) >= 0)
            continue; /* another block holds this content: this copy stays anonymous */
        kv->b[idx].hash = hashes[j];
        kv_tab_insert(kv, idx);
    }
    if (lim > t->n_reg)
        t->n_reg = lim;
}

void kv_release(struct kvcache *kv, struct kv_table *t)
{
    while (t->n > 0) {
        int32_t idx = t->ids[--t->n];
        if (--kv->b[idx].ref == 0)
            kv_append_free(kv, idx);
    }
    t->n_reg = 0;
}

void kv_table_free(struct kv_table *t)
{
    free(t->ids);
    *t = (struct kv_table){0};
}

int64_t kv_used(const struct kvcache *kv)
{
    return kv->n_blocks - kv->n_free;
}
