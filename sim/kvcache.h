/* kvcache.h — llmtrace-sim's KV cache: a fixed pool of blocks of B tokens shared by the running
 * sequences, with automatic prefix caching as vLLM v1 does it (vllm/v1/core/kv_cache_manager.py,
 * block_pool.py).
 *
 * A sequence holds ceil(tokens / B) blocks. A block that is full and whose content is known gets
 * the hash of the token stream up to its end (prefix.h) and is registered under it. When a
 * sequence leaves, its blocks are released: a block nobody references goes to the tail of the
 * free queue (the sequence's last block first, so a sequence's tail is evicted before its head)
 * but keeps its hash, so a later prompt with the same prefix finds it. Allocation takes the head
 * of the free queue — the least recently released block — and drops its hash (eviction). A
 * prompt's cached prefix is the run of its leading block hashes that are registered, at most
 * (tokens − 1) tokens' worth of whole blocks: the last token is always computed (vLLM's
 * max_cache_hit_length = num_tokens − 1). Usage = blocks referenced / all blocks (vLLM's
 * kv_cache_usage_perc: cached blocks nobody uses count as free).
 *
 * Nothing here allocates after kv_init except a sequence's block table (kv_table), which grows
 * as the sequence does. */
#ifndef LLMTRACE_SIM_KVCACHE_H
#define LLMTRACE_SIM_KVCACHE_H

#include <stddef.h>
#include <stdint.h>

struct kv_block {
    uint64_t hash;
    int32_t ref;                 /* sequences holding it */
    int32_t prev, next;          /* free queue links (-1 none), valid while ref == 0 */
    uint8_t hashed;              /* registered under hash */
};

struct kvcache {
    int64_t n_blocks;
    int64_t block_size;          /* tokens per block */
    struct kv_block *b;
    int32_t free_head, free_tail;
    int64_t n_free;              /* blocks with ref == 0 (cached or empty) */
    int32_t *tab;                /* open addressing: hash → block index + 1; 0 empty, -1 deleted */
    size_t tab_mask;
    int64_t n_hashed;            /* registered blocks */
    uint64_t evictions;          /* hashed blocks reused for other content */
};

/* A sequence's blocks, in token order. */
struct kv_table {
    int32_t *ids;
    size_t n, cap;
    size_t n_reg;                /* blocks [0, n_reg) were considered for registration */
};

/* 0, or -1 on bad arguments (n_blocks in [1, 2^30], block_size >= 1) or no memory. */
int kv_init(struct kvcache *kv, int64_t n_blocks, int64_t block_size);
void kv_free(struct kvcache *kv);

/* Leading entries of hashes[0..n) registered in the cache (no reference taken). */
size_t kv_match(const struct kvcache *kv, const uint64_t *hashes, size_t n);

/* Gives a sequence of n_tokens tokens (t->n must be 0) its blocks: the cached prefix (at most
 * min(kv_match, (n_tokens − 1) / B) blocks) is referenced, the rest allocated from the free
 * queue, and the prompt's own full blocks (hashes[0..n_hashes), one per full block of the
 * stream) are registered. Returns the cached tokens (a multiple of B) or -1 when the free blocks
 * do not suffice (nothing changed) or on no memory. */
int64_t kv_admit(struct kvcache *kv, struct kv_table *t, const uint64_t *hashes, size_t n_hashes,
                 int64_t n_tokens);
/* Blocks a sequence of t->n blocks needs in addition to hold n_tokens tokens. */
int64_t kv_blocks_needed(const struct kvcache *kv, const struct kv_table *t, int64_t n_tokens);
/* Grows t to hold n_tokens tokens. 0, or -1 when not enough blocks are free (nothing changed)
 * or no memory. */
int kv_grow(struct kvcache *kv, struct kv_table *t, int64_t n_tokens);
/* Registers hashes[j] for every block j of t that is full at n_tokens tokens, not yet
 * registered, and whose hash no other block holds. */
void kv_register(struct kvcache *kv, struct kv_table *t, const uint64_t *hashes, size_t n_hashes,
                 int64_t n_tokens);
/* Drops t's references (last block first to the free queue's tail) and empties t; its memory
 * is kept for the next admission. */
void kv_release(struct kvcache *kv, struct kv_table *t);
/* Frees t's memory (after kv_release). */
void kv_table_free(struct kv_table *t);
/* Blocks referenced by some sequence. */
int64_t kv_used(const struct kvcache *kv);

#endif
