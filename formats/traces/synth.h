/* synth.h — deterministic prompt synthesis for length-only traces (Azure, Mooncake, BurstGPT).
 *
 * A trace that records only "this request had N prompt tokens" is replayed with a synthesized
 * prompt whose token count matches N under a stated estimate:
 *
 *     estimated tokens = round(words × F)        F = tokens per word, default 1.3
 *
 * where words are separated by single spaces. The words come from a fixed vocabulary of common
 * English words (one token each in the usual BPE vocabularies) picked by a seeded splitmix64
 * sequence, so the same seed always gives the same text on every machine. F can be fitted to a
 * real endpoint from (words, usage.prompt_tokens) pairs with synth_fit().
 *
 * Mooncake-style prefix blocks: block text depends only on the block's hash id, so requests that
 * share hash ids share identical prompt prefixes (prefix-cache reuse in the trace becomes
 * prefix-cache reuse at the endpoint). */
#ifndef LLMTRACE_SYNTH_H
#define LLMTRACE_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define SYNTH_DEFAULT_TOKENS_PER_WORD 1.3
#define SYNTH_BLOCK_TOKENS 512       /* Mooncake's hash-id block size */

/* Seed domains keep block text and per-request text from ever colliding. */
#define SYNTH_DOMAIN_BLOCK   1u
#define SYNTH_DOMAIN_REQUEST 2u

/* Words needed so that round(words × tpw) is as close to tokens as possible: round(tokens / tpw),
 * at least 1 when tokens > 0, 0 when tokens <= 0. tpw must be > 0 (else the default is used). */
int64_t synth_words_for_tokens(int64_t tokens, double tpw);

/* The documented estimate: round(words × tpw) where words are whitespace-separated runs in
 * text[0..len). */
int64_t synth_estimate_tokens(const char *text, size_t len, double tpw);

/* Whitespace-separated words in text[0..len). */
size_t synth_count_words(const char *text, size_t len);

/* Appends the first `words` words of the sequence identified by (domain, seed), separated by
 * single spaces (no leading or trailing space). The first k words of a sequence never depend on
 * how many follow. Returns 0 or a BUF_ERR_* code from out. */
int synth_append_words(struct buf *out, uint32_t domain, uint64_t seed, int64_t words);

/* Appends a Mooncake-style prompt: input_tokens of text made of blocks of SYNTH_BLOCK_TOKENS
 * tokens, block k's text taken from hash_ids[k] (a final partial block is a prefix of that id's
 * text); tokens beyond n_hash full blocks come from the request's own sequence (req_seed).
 * Block k covers words [round(min(512k, N)/tpw), round(min(512(k+1), N)/tpw)), so the whole
 * prompt has exactly synth_words_for_tokens(N) words (when N > 0) and two prompts whose hash_ids
 * agree on the first m ids agree on at least the words of their first m full blocks. */
int synth_append_blocks(struct buf *out, const uint64_t *hash_ids, size_t n_hash,
                        int64_t input_tokens, uint64_t req_seed, double tpw);

/* Least-squares fit of tokens = a + F × words over n points (n >= 1). With one point, or when
 * every point has the same word count, fits through the origin (a = 0). Returns 0 and sets *f
 * and *a, or -1 when the data cannot give a positive F. */
int synth_fit(const double *words, const double *tokens, size_t n, double *f, double *a);

/* splitmix64 step: the project's deterministic PRNG for synthesis and arrival processes.
 * Advances *state and returns the next 64-bit value. */
uint64_t synth_rand_next(uint64_t *state);
/* Uniform double in [0, 1) from the next value of *state. */
double synth_rand_unit(uint64_t *state);

#endif
