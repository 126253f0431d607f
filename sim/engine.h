/* engine.h — llmtrace-sim's continuous-batching model (the scheduling vLLM does, without a GPU).
 *
 * Requests (sequences) wait in a FIFO queue and join the batch at the next step boundary, up to
 * max_batch running at once. A step lasts profile_step_ns(batch, K, prefill tokens of the
 * sequences that joined in it) and, at its end, emits one event of K tokens (fewer for the last
 * one) for every running sequence; finished sequences leave the batch then. Steps follow an
 * absolute schedule (each starts where the previous one ended), so lateness of the caller never
 * accumulates. The engine is pure: the caller supplies the time and performs the I/O in the
 * emit callback. With the zero profile steps take no time and each step starts at `now`.
 *
 * Chunked prefill (engine_set_chunked_prefill, vLLM's --enable-chunked-prefill with
 * --max-num-batched-tokens N): a step processes at most N tokens, K per decoding sequence
 * (--tokens-per-event K) and the rest as prompt chunks of the admitted sequences in admission order; a sequence emits
 * its first token at the end of the step that finishes its prompt, and decoding sequences keep
 * emitting while long prompts are prefilled over several steps.
 *
 * KV cache (engine_set_kvcache, llmtrace-sim --prefix-cache; vLLM v1's scheduler,
 * vllm/v1/core/sched/scheduler.py): each running sequence holds the KV blocks of its tokens
 * (kvcache.h). At every step boundary the running sequences first get the blocks this step's
 * tokens need; when the free blocks do not suffice, the most recently admitted sequence is
 * preempted — its blocks released, itself put back at the head of the queue, to be recomputed
 * (prompt + the tokens it already emitted) when admitted again — until they do, and no sequence
 * is admitted in a step that preempted. A waiting sequence is admitted only when its blocks can
 * be allocated (the queue's head waits; none behind it overtakes). Its cached prefix is not
 * prefilled: the step it joins charges prefill(tokens − cached). A sequence's prompt blocks are
 * registered at admission, its output blocks as they are computed (the KV of an emitted token
 * is computed in the step after), under the hashes the caller gives (eng_seq.hashes). */
#ifndef LLMTRACE_SIM_ENGINE_H
#define LLMTRACE_SIM_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "kvcache.h"
#include "profile.h"

enum eng_state { ENG_IDLE = 0, ENG_WAITING, ENG_RUNNING, ENG_DONE };

struct eng_seq {
    struct eng_seq *next;        /* private: wait-queue link */
    enum eng_state state;
    int slot;                    /* private: index in running[] */
    int blocked;                 /* private: see engine_set_blocked */
    int64_t prompt_tokens;
    int64_t n_out;               /* tokens to generate (>= 1) */
    int64_t emitted;             /* tokens emitted so far */
    int64_t stall_at;            /* stall once emitted reaches this; -1 = never */
    int64_t stall_ns;            /* length of that stall */
    int64_t stall_until;         /* private: model time the current stall ends */
    int64_t admit_ns;            /* model time of the step it joined */
    int64_t prefill_left;        /* private: chunked prefill, prompt tokens still to process */
    int64_t chunk;               /* private: ... of them processed in the current step */
    struct eng_seq *pnext;       /* private: ... prefill queue link (admission order) */
    /* KV cache (engine_set_kvcache); the caller zeroes these before the first submit */
    const uint64_t *hashes;      /* block hashes of its token stream: the prompt's full blocks,
                                    then the output's (prefix.h); the caller's, kept alive */
    size_t n_hashes;
    int64_t cached_tokens;       /* prompt tokens served by the cache at its first admission */
    int64_t preemptions;         /* times it was preempted */
    uint64_t order;              /* private: admission order */
    struct kv_table kv;          /* private: its blocks */
    void *user;
};

/* Called at the end of a step for each sequence that emits. tokens: carried by this event;
 * first/last: first and last event of the sequence; due_ns: the model's emission time.
 * Return 0, or 1 to cancel the sequence (it leaves the batch; no further calls for it). The
 * callback must not call other engine functions. */
typedef int (*engine_emit_fn)(void *ctx, struct eng_seq *s, int tokens, int first, int last,
                              int64_t due_ns);

struct engine {
    const struct profile *prof;
    int max_batch;
    int tokens_per_event;
    engine_emit_fn emit;
    void *ctx;
    struct eng_seq *qhead, *qtail;
    size_t n_waiting;
    struct eng_seq **running;
    int n_running;
    int active;                  /* a step is scheduled */
    int64_t step_start_ns, step_end_ns;
    int64_t step_prefill;        /* prompt tokens prefilled in the current step */
    int64_t chunk_budget;        /* chunked prefill: tokens per step; 0 = whole prompts */
    struct eng_seq *phead, *ptail; /* chunked prefill: admitted, prompt not done */
    int n_prefill;               /* ... how many */
    struct kvcache *kv;          /* NULL: no KV limit, no prefix cache */
    uint64_t admit_seq;
    uint64_t steps, tokens_out, prompt_tokens, admitted;
    uint64_t preemptions;        /* KV cache: sequences preempted */
    uint64_t pc_queries, pc_hits; /* prefix cache: prompt tokens looked up / found, counted at
                                     each sequence's first admission (vLLM's
                                     prefix_cache_queries / prefix_cache_hits) */
};

/* 0, or -1 when out of memory / bad arguments. The profile must outlive the engine. */
int engine_init(struct engine *e, const struct profile *prof, int max_batch,
                int tokens_per_event, engine_emit_fn emit, void *ctx);
void engine_free(struct engine *e);
/* Turns chunked prefill on with a budget of n tokens per step (n >= 1), or off (0). Call
 * before the first submit. */
void engine_set_chunked_prefill(struct engine *e, int64_t n);
/* Gives the engine a KV cache (kvcache.h; the caller owns it, it must outlive the engine), or
 * none (NULL). Call before the first submit. A sequence whose prompt plus output needs more
 * blocks than the whole cache would wait forever: the caller refuses such requests. */
void engine_set_kvcache(struct engine *e, struct kvcache *kv);
/* Queues s (n_out, prompt_tokens, stall_*, hashes filled by the caller). When the engine is
 * idle a step starts at now_ns. */
void engine_submit(struct engine *e, struct eng_seq *s, int64_t now_ns);
/* Removes s from the queue or the batch (no-op when it already finished). */
void engine_cancel(struct engine *e, struct eng_seq *s);
/* Zero profile backpressure: a blocked sequence keeps its slot but emits nothing. */
void engine_set_blocked(struct engine *e, struct eng_seq *s, int blocked, int64_t now_ns);
/* Model time at which the current step ends; -1 when idle. */
int64_t engine_due(const struct engine *e);
/* Completes every step that ended at or before now_ns, at most max_steps of them. Returns the
 * number of steps completed. */
int engine_advance(struct engine *e, int64_t now_ns, int max_steps);

#endif
