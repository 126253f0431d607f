/* prefix.h — the identity of a prompt's prefix for llmtrace-sim's prefix cache: the prompt as the
 * sim's token stream (the tokens --tokenizer counts), cut into blocks of B tokens, each block
 * named by a 64-bit hash of every token and message boundary from the start of the stream to
 * the block's end (a chain, like vLLM's block hashes: a block's hash names its whole prefix).
 *
 * What counts (sim/README.md "Prefix cache"):
 *   tokens    --tokenizer words: each whitespace-separated word of a text (a text's last word
 *             ends with it); --tokenizer bytes: every 4 bytes of the texts run together, the
 *             last group completing only when more bytes follow (so a stream that continues
 *             hashes the same as one that was whole); a token id of a completions prompt is
 *             one token.
 *   texts     in prompt order: the system text first (OpenAI system messages, Anthropic
 *             "system", Ollama "system", Responses "instructions"), then each message's content
 *             (a string, or the "text" of each part; tool calls as their function name and
 *             arguments; Anthropic tool_use name and input, tool_result content).
 *   markers   every message start adds its role to the hash (between tokens, counting none),
 *             so "user: a b" and "assistant: a b" differ while a longer conversation that
 *             begins with the same messages shares their blocks.
 * Only full blocks get a hash. A conversation's next turn — the same messages, the reply and a
 * new message — therefore shares every full block of the previous turn's prompt and, when the
 * reply is the text the sim generated, of that reply too: the sim continues each request's
 * stream with an "assistant" marker and its own output text (the output of a plain prompt
 * continues it without a marker) and registers those blocks as they fill. */
#ifndef LLMTRACE_SIM_PREFIX_H
#define LLMTRACE_SIM_PREFIX_H

#include <stddef.h>
#include <stdint.h>

struct prefix_hasher {
    int words;                   /* 1: --tokenizer words; 0: bytes */
    int64_t block;               /* tokens per block */
    size_t max;                  /* block hashes kept at most (the cache's size) */
    uint64_t chain;              /* hash of the last full block (0 before the first) */
    uint64_t cur;                /* running hash of the block being filled */
    int open;                    /* something was fed into it */
    int64_t in_block;            /* tokens in it */
    int64_t tokens;              /* tokens completed */
    uint32_t grp;                /* bytes: the 4-byte group being filled */
    int grp_n;
    uint64_t word;               /* words: hash of the word being read */
    int in_word;
    uint64_t *hashes;            /* one per full block, owned */
    size_t n, cap;
    int nomem;                   /* an allocation failed: later blocks are not hashed */
};

/* Starts an empty stream of blocks of block_size tokens, keeping at most max hashes. */
void prefix_init(struct prefix_hasher *h, int words, int64_t block_size, size_t max);
void prefix_free(struct prefix_hasher *h);
/* Appends one text (a message content, a part, a system prompt). */
void prefix_text(struct prefix_hasher *h, const char *s, size_t len);
/* A message of role begins (role: any string, e.g. "user"). */
void prefix_mark(struct prefix_hasher *h, const char *role);
/* Appends one token id (completions prompts given as ids). */
void prefix_token_id(struct prefix_hasher *h, int64_t id);

#endif
