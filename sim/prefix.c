/* prefix.c — block hashes of the sim's token stream (see prefix.h). Each token is hashed on
 * its own (FNV-1a of a word's bytes, the 4 bytes of a group, or the id), then folded into the
 * block's running hash with splitmix64's finalizer; a block's hash seeds the next one's. */
#include "prefix.h"

#include <stdlib.h>

#include "rng.h"

#define PREFIX_FNV_OFFSET 0xcbf29ce484222325ULL
#define PREFIX_FNV_PRIME 0x100000001b3ULL
#define PREFIX_K_GROUP 0x6279746573ULL   /* domain separation of the token kinds */
#define PREFIX_K_ID 0x746f6b656eULL
#define PREFIX_K_MARK 0x726f6c65ULL

void prefix_init(struct prefix_hasher *h, int words, int64_t block_size, size_t max)
{
    *h = (struct prefix_hasher){0};
    h->words = words;
    h->block = block_size > 0 ? block_size : 1;
    h->max = max;
}

void prefix_free(struct prefix_hasher *h)
{
    free(h->hashes);
    h->hashes = NULL;
    h->n = h->cap = 0;
}

static void prefix_push(struct prefix_hasher *h, uint64_t v)
{
    if (h->n >= h->max || h->nomem)
        return;
    if (h->n == h->cap) {
        size_t nc = h->cap ? h->cap * 2 : 16;
        uint64_t *nh = realloc(h->hashes, nc * sizeof(*nh));
        if (!nh) {
            h->nomem = 1;
            return;
        }
        h->hashes = nh;
        h->cap = nc;
    }
    h->hashes[h->n++] = v;
}

/* Folds v into the block being filled; the first thing in a block is seeded with the chain. */
static void prefix_feed(struct prefix_hasher *h, uint64_t v)
{
    if (!h->open) {
        h->cur = h->chain;
        h->open = 1;
    }
    h->cur = rng_mix(h->cur ^ v);
}

static void prefix_token(struct prefix_hasher *h, uint64_t t)
{
    prefix_feed(h, t);
    h->tokens++;
    if (++h->in_block == h->block) {
        h->chain = h->cur;
        prefix_push(h, h->chain);
        h->open = 0;
        h->in_block = 0;
    }
}

static void prefix_end_word(struct prefix_hasher *h)
{
    if (h->in_word)
        prefix_token(h, h->word);
    h->in_word = 0;
}

void prefix_text(struct prefix_hasher *h, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!h->words) {
            h->grp = (h->grp << 8) | c;
            if (++h->grp_n == 4) {
                prefix_token(h, rng_mix(h->grp ^ PREFIX_K_GROUP));
                h->grp = 0;
                h->grp_n = 0;
            }
            continue;
        }
        if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
            prefix_end_word(h);
            continue;
        }
        if (!h->in_word) {
            h->in_word = 1;
            h->word = PREFIX_FNV_OFFSET;
        }
        h->word = (h->word ^ c) * PREFIX_FNV_PRIME;
    }
    if (h->words)
        prefix_end_word(h); /* a text's last word ends with it, as the word count has it */
}

void prefix_mark(struct prefix_hasher *h, const char *role)
{
    uint64_t r = PREFIX_FNV_OFFSET;
    for (const char *p = role; p && *p; p++)
        r = (r ^ (unsigned char)*p) * PREFIX_FNV_PRIME;
    prefix_feed(h, r ^ PREFIX_K_MARK);
}

void prefix_token_id(struct prefix_hasher *h, int64_t id)
{
    prefix_token(h, rng_mix((uint64_t)id ^ PREFIX_K_ID));
}
