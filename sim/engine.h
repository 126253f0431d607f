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
 * emitting while long prompts are prefilled over several steps. */
#ifndef LLMTRACE_SIM_ENGINE_H
#define LLMTRACE_SIM_ENGINE_H

#include <stddef.h>
#include <stdint.h>

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
    uint64_t steps, tokens_out, prompt_tokens, admitted;
};

/* 0, or -1 when out of memory / bad arguments. The profile must outlive the engine. */
int engine_init(struct engine *e, const struct profile *prof, int max_batch,
                int tokens_per_event, engine_emit_fn emit, void *ctx);
void engine_free(struct engine *e);
/* Turns chunked prefill on with a budget of n tokens per step (n >= 1), or off (0). Call
 * before the first submit. */
void engine_set_chunked_prefill(struct engine *e, int64_t n);
/* Queues s (n_out, prompt_tokens, stall_* filled by the caller). When the engine is idle a
 * step starts at now_ns. */
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
