/* test_sim_engine.c — llmtrace-sim's continuous-batching model (sim/engine.h): admission at
 * step boundaries up to max-batch, prefill charged to the joining step, the absolute schedule,
 * K tokens per event, stalls, cancellation, and the zero profile's parking. Every emission
 * time below is worked out by hand from step = a + c·b + prefill. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "engine.h"
#include "kvcache.h"

#define MS 1000000LL

struct rec {
    int id, tokens, first, last;
    int64_t due;
};

struct log {
    struct rec r[64];
    int n;
    int cancel_id; /* return 1 for this sequence's first event */
};

static int on_emit(void *ctx, struct eng_seq *s, int tokens, int first, int last, int64_t due)
{
    struct log *l = ctx;
    int id = (int)(intptr_t)s->user;
    assert_true(l->n < 64);
    l->r[l->n++] = (struct rec){id, tokens, first, last, due};
    return id == l->cancel_id;
}

/* decode = 2 + 1·b ms, prefill = 0.01 ms per prompt token */
static void linear(struct profile *p)
{
    profile_init_default(p);
    p->a_ms = 2;
    p->c_ms = 1;
    p->prefill_ms_per_token = 0.01;
}

static void seq(struct eng_seq *s, int id, int64_t n_out, int64_t prompt)
{
    memset(s, 0, sizeof(*s));
    s->user = (void *)(intptr_t)id;
    s->n_out = n_out;
    s->prompt_tokens = prompt;
    s->stall_at = -1;
}

static void expect(const struct log *l, int i, int id, int tokens, int first, int last, int64_t due)
{
    assert_int_equal(l->r[i].id, id);
    assert_int_equal(l->r[i].tokens, tokens);
    assert_int_equal(l->r[i].first, first);
    assert_int_equal(l->r[i].last, last);
    assert_int_equal(l->r[i].due, due);
}

static void test_batching_schedule(void **state)
{
    struct profile p;
    struct engine e;
    struct log l = {.cancel_id = -1};
    struct eng_seq a, b, c;
    (void)state;
    linear(&p);
    assert_int_equal(engine_init(&e, &p, 2, 1, on_emit, &l), 0);
    seq(&a, 1, 3, 100);
    seq(&b, 2, 3, 100);
    seq(&c, 3, 2, 100);
    engine_submit(&e, &a, 0);  /* step 1: b=1, prefill 100 → 3 + 1 = 4 ms */
    engine_submit(&e, &b, 0);  /* waits for the next boundary */
    engine_submit(&e, &c, 0);
    assert_int_equal(engine_due(&e), 4 * MS);
    assert_int_equal(e.n_waiting, 2);
    assert_int_equal(engine_advance(&e, 4 * MS - 1, 100), 0); /* not yet */
    assert_int_equal(engine_advance(&e, 4 * MS, 100), 1);
    expect(&l, 0, 1, 1, 1, 0, 4 * MS);
    /* step 2 from 4: b joins (b=2, prefill 100) → 4 + 1 = 5 ms → 9 */
    assert_int_equal(engine_due(&e), 9 * MS);
    assert_int_equal(e.n_waiting, 1);
    /* a late caller gets every step on the absolute schedule (no drift) */
    assert_int_equal(engine_advance(&e, 100 * MS, 100), 4); /* ends 9, 13, 18, 21 */
    /* step 2 ends 9: a, b first */
    expect(&l, 1, 1, 1, 0, 0, 9 * MS);
    expect(&l, 2, 2, 1, 1, 0, 9 * MS);
    /* step 3: b=2 no prefill → 4 ms → 13: a last, b */
    expect(&l, 3, 1, 1, 0, 1, 13 * MS);
    expect(&l, 4, 2, 1, 0, 0, 13 * MS);
    /* step 4 from 13: c joins the free slot (b=2, prefill 1 ms) → 18: b last, c first */
    expect(&l, 5, 2, 1, 0, 1, 18 * MS);
    expect(&l, 6, 3, 1, 1, 0, 18 * MS);
    /* step 5 from 18: c alone → 3 ms → 21: c last */
    expect(&l, 7, 3, 1, 0, 1, 21 * MS);
    assert_int_equal(l.n, 8);
    assert_int_equal(engine_due(&e), -1);
    assert_int_equal(e.tokens_out, 8);
    assert_int_equal(e.steps, 5);
    assert_int_equal(a.state, ENG_DONE);
    /* idle engine: the next request starts a step at its arrival */
    seq(&a, 1, 1, 0);
    engine_submit(&e, &a, 50 * MS);
    assert_int_equal(engine_due(&e), 53 * MS);
    engine_free(&e);
}

static void test_tokens_per_event_and_stall(void **state)
{
    struct profile p;
    struct engine e;
    struct log l = {.cancel_id = -1};
    struct eng_seq a;
    (void)state;
    linear(&p);
    assert_int_equal(engine_init(&e, &p, 4, 2, on_emit, &l), 0);
    seq(&a, 1, 5, 0);
    a.stall_at = 2;        /* after the first event (2 tokens) */
    a.stall_ns = 10 * MS;
    engine_submit(&e, &a, 0);   /* each step: 2 decode steps of 3 ms = 6 ms */
    engine_advance(&e, 1000 * MS, 100);
    expect(&l, 0, 1, 2, 1, 0, 6 * MS);
    /* stalled until 16: steps ending 12 emit nothing; the step ending 18 does */
    expect(&l, 1, 1, 2, 0, 0, 18 * MS);
    expect(&l, 2, 1, 1, 0, 1, 24 * MS); /* the last event carries the remaining token */
    assert_int_equal(l.n, 3);
    engine_free(&e);
}

static void test_cancel(void **state)
{
    struct profile p;
    struct engine e;
    struct log l = {.cancel_id = 2};
    struct eng_seq a, b, c;
    (void)state;
    linear(&p);
    assert_int_equal(engine_init(&e, &p, 2, 1, on_emit, &l), 0);
    seq(&a, 1, 3, 0);
    seq(&b, 2, 3, 0);
    seq(&c, 3, 3, 0);
    engine_submit(&e, &a, 0);
    engine_submit(&e, &b, 0);
    engine_submit(&e, &c, 0);
    engine_cancel(&e, &c);        /* waiting → gone */
    assert_int_equal(e.n_waiting, 1);
    assert_int_equal(c.state, ENG_DONE);
    engine_advance(&e, 3 * MS, 100); /* a alone: 3 ms */
    engine_advance(&e, 7 * MS, 100); /* a + b: 4 ms; b's callback returns 1 → cancelled */
    assert_int_equal(l.n, 3);
    expect(&l, 2, 2, 1, 1, 0, 7 * MS);
    assert_int_equal(b.state, ENG_DONE);
    assert_int_equal(e.n_running, 1);
    engine_cancel(&e, &a);        /* running → gone; the step in flight still ends */
    assert_int_equal(e.n_running, 0);
    engine_advance(&e, 100 * MS, 100);
    assert_int_equal(l.n, 3);
    assert_int_equal(engine_due(&e), -1);
    engine_free(&e);
}

static void test_zero_profile(void **state)
{
    struct profile p;
    struct engine e;
    struct log l = {.cancel_id = -1};
    struct eng_seq a;
    (void)state;
    profile_init_zero(&p);
    assert_int_equal(engine_init(&e, &p, 8, 1, on_emit, &l), 0);
    seq(&a, 1, 10, 5);
    engine_submit(&e, &a, 7);
    assert_int_equal(engine_due(&e), 7);
    assert_int_equal(engine_advance(&e, 7, 3), 3); /* bounded by max_steps */
    assert_int_equal(l.n, 3);
    /* blocked (output buffer full): the engine parks instead of spinning */
    engine_set_blocked(&e, &a, 1, 8);
    assert_int_equal(engine_advance(&e, 8, 100), 1); /* the step already scheduled */
    assert_int_equal(l.n, 3);
    assert_int_equal(engine_due(&e), -1);
    engine_set_blocked(&e, &a, 0, 9);
    assert_int_equal(engine_due(&e), 9);
    assert_int_equal(engine_advance(&e, 9, 100), 7);
    assert_int_equal(l.n, 10);
    expect(&l, 9, 1, 1, 0, 1, 9);
    engine_free(&e);
}

static void test_init_rejects(void **state)
{
    struct profile p;
    struct engine e;
    (void)state;
    profile_init_zero(&p);
    assert_int_equal(engine_init(&e, &p, 0, 1, on_emit, NULL), -1);
    assert_int_equal(engine_init(&e, &p, 1, 0, on_emit, NULL), -1);
    assert_int_equal(engine_init(&e, &p, 1, 1, NULL, NULL), -1);
}

#define US 1000LL

/* Chunked prefill, budget 100 tokens per step: a 250-token prompt is processed 100 + 100 + 50
 * and the first token comes at the end of the third step. */
static void test_chunked_prefill_alone(void **state)
{
    struct profile p;
    struct engine e;
    struct log l = {.cancel_id = -1};
    struct eng_seq a;
    (void)state;
    linear(&p);
    assert_int_equal(engine_init(&e, &p, 2, 1, on_emit, &l), 0);
    engine_set_chunked_prefill(&e, 100);
    seq(&a, 1, 2, 250);
    engine_submit(&e, &a, 0); /* 2 + 1 + 100·0.01 = 4 ms */
    assert_int_equal(engine_due(&e), 4 * MS);
    assert_int_equal(e.step_prefill, 100);
    assert_int_equal(engine_advance(&e, 8 * MS, 100), 2); /* 4 ms more, still no token */
    assert_int_equal(l.n, 0);
    assert_int_equal(e.step_prefill, 50); /* 3 + 0.5 = 3.5 ms */
    assert_int_equal(engine_due(&e), 11500 * US);
    engine_advance(&e, 100 * MS, 100);
    assert_int_equal(l.n, 2);
    expect(&l, 0, 1, 1, 1, 0, 11500 * US);
    expect(&l, 1, 1, 1, 0, 1, 14500 * US); /* a decode step: 3 ms */
    assert_int_equal(e.n_prefill, 0);
    assert_null(e.ptail);
    assert_int_equal(engine_due(&e), -1);
    engine_free(&e);
}

/* A decoding sequence keeps its pace while another's prompt is chunked beside it: one token
 * of the budget goes to the decoder, 99 to the prompt (99 + 99 + 52). Without chunking the
 * whole 250-token prompt would sit in the first step (6.5 ms) for both. */
static void test_chunked_prefill_beside_decode(void **state)
{
    struct profile p;
    struct engine e;
    struct log l = {.cancel_id = -1};
    struct eng_seq a, b;
    (void)state;
    linear(&p);
    assert_int_equal(engine_init(&e, &p, 2, 1, on_emit, &l), 0);
    engine_set_chunked_prefill(&e, 100);
    seq(&a, 1, 10, 0);
    seq(&b, 2, 1, 250);
    engine_submit(&e, &a, 0);
    engine_submit(&e, &b, 0);
    /* a was admitted alone at 0 (no prompt): 3 ms; b joins the next step */
    engine_advance(&e, 3 * MS, 100);
    expect(&l, 0, 1, 1, 1, 0, 3 * MS);
    /* steps with b prefilling: 2 + 2 + 0.99 = 4.99 ms each, then 4 + 0.52 */
    engine_advance(&e, 100 * MS, 3);
    assert_int_equal(l.n, 5);
    expect(&l, 1, 1, 1, 0, 0, 7990 * US);
    expect(&l, 2, 1, 1, 0, 0, 12980 * US);
    expect(&l, 3, 1, 1, 0, 0, 17500 * US);
    expect(&l, 4, 2, 1, 1, 1, 17500 * US); /* b's first and only token */
    engine_free(&e);
}

/* With --tokens-per-event K a decoding sequence takes K tokens of the budget. */
static void test_chunked_prefill_tokens_per_event(void **state)
{
    struct profile p;
    struct engine e;
    struct log l = {.cancel_id = -1};
    struct eng_seq a, b;
    (void)state;
    linear(&p);
    assert_int_equal(engine_init(&e, &p, 2, 4, on_emit, &l), 0);
    engine_set_chunked_prefill(&e, 100);
    seq(&a, 1, 40, 0);
    seq(&b, 2, 4, 250);
    engine_submit(&e, &a, 0);
    engine_submit(&e, &b, 0);
    engine_advance(&e, engine_due(&e), 100); /* a alone, then b joins */
    assert_int_equal(e.step_prefill, 96);
    engine_free(&e);
}

/* A sequence cancelled mid-prompt leaves the prefill queue: the next step charges nothing. */
static void test_chunked_prefill_cancel(void **state)
{
    struct profile p;
    struct engine e;
    struct log l = {.cancel_id = -1};
    struct eng_seq a, b;
    (void)state;
    linear(&p);
    assert_int_equal(engine_init(&e, &p, 2, 1, on_emit, &l), 0);
    engine_set_chunked_prefill(&e, 100);
    seq(&a, 1, 5, 0);
    seq(&b, 2, 5, 1000);
    engine_submit(&e, &a, 0);
    engine_submit(&e, &b, 0);
    engine_advance(&e, 3 * MS, 100);       /* a alone: 3 ms */
    assert_int_equal(e.step_prefill, 99);  /* b's first chunk */
    assert_int_equal(e.n_prefill, 1);
    engine_cancel(&e, &b);
    assert_null(e.phead);
    assert_int_equal(e.n_prefill, 0);
    engine_advance(&e, 7990 * US, 100);    /* the step already scheduled ends */
    assert_int_equal(e.step_prefill, 0);
    assert_int_equal(engine_due(&e), 7990 * US + 3 * MS);
    engine_free(&e);
}


/* Prefix cache: a prompt whose first 8 tokens are cached prefills only the rest. decode =
 * 2 + 1·b ms, prefill 0.01 ms per token, blocks of 4 tokens. */
static void test_kv_prefix_hit(void **state)
{
    struct profile p;
    struct engine e;
    struct kvcache kv;
    struct log l = {.cancel_id = -1};
    struct eng_seq a, b;
    const uint64_t h[3] = {5, 6, 7};
    (void)state;
    linear(&p);
    assert_int_equal(kv_init(&kv, 8, 4), 0);
    assert_int_equal(engine_init(&e, &p, 4, 1, on_emit, &l), 0);
    engine_set_kvcache(&e, &kv);
    seq(&a, 1, 2, 8);
    a.hashes = h;
    a.n_hashes = 2;
    engine_submit(&e, &a, 0); /* 3 + 0.08 ms */
    assert_int_equal(engine_due(&e), 3080 * US);
    engine_advance(&e, 100 * MS, 100);
    expect(&l, 1, 1, 1, 0, 1, 6080 * US);
    assert_int_equal(a.cached_tokens, 0);
    assert_int_equal(kv_used(&kv), 0); /* released, still cached */
    seq(&b, 2, 1, 10);
    b.hashes = h;
    b.n_hashes = 3; /* its third block (tokens 8..11) is not full: never looked up */
    engine_submit(&e, &b, 10 * MS); /* 8 cached, 2 prefilled: 3 + 0.02 ms */
    assert_int_equal(engine_due(&e), 13020 * US);
    assert_int_equal(b.cached_tokens, 8);
    assert_int_equal(e.pc_queries, 18);
    assert_int_equal(e.pc_hits, 8);
    engine_advance(&e, 100 * MS, 100);
    expect(&l, 2, 2, 1, 1, 1, 13020 * US);
    engine_free(&e);
    kv_free(&kv);
}

/* A full cache preempts the newest sequence, which waits at the queue's head until its blocks
 * fit and is then recomputed (prompt + what it emitted), the part still cached excepted.
 * 4 blocks of 4 tokens; decode = 2 + 1·b ms; prefill 0.1 ms per token. */
static void test_kv_preemption(void **state)
{
    struct profile p;
    struct engine e;
    struct kvcache kv;
    struct log l = {.cancel_id = -1};
    struct eng_seq a, b;
    const uint64_t ha[2] = {1, 2}, hb[2] = {3, 4};
    (void)state;
    linear(&p);
    p.prefill_ms_per_token = 0.1;
    assert_int_equal(kv_init(&kv, 4, 4), 0);
    assert_int_equal(engine_init(&e, &p, 4, 1, on_emit, &l), 0);
    engine_set_kvcache(&e, &kv);
    seq(&a, 1, 4, 7);
    a.hashes = ha;
    a.n_hashes = 2;
    seq(&b, 2, 4, 7);
    b.hashes = hb;
    b.n_hashes = 2;
    engine_submit(&e, &a, 0);
    engine_submit(&e, &b, 0); /* waits for the boundary */
    /* step 1: a alone, 2 + 1 + 0.7 = 3.7 ms; b joins at 3.7: 2 blocks each, the cache full */
    engine_advance(&e, 3700 * US, 100);
    expect(&l, 0, 1, 1, 1, 0, 3700 * US);
    assert_int_equal(kv_used(&kv), 4);
    /* step 2 (4 + 0.7 ms) → 8.4: a's 2nd, b's 1st. a's KV then needs a 3rd block */
    engine_advance(&e, 8400 * US, 100);
    expect(&l, 1, 1, 1, 0, 0, 8400 * US);
    expect(&l, 2, 2, 1, 1, 0, 8400 * US);
    /* step 3: a needs 7 + 2 = 9 tokens → 3 blocks: b is preempted (newest); a alone → 11.4 */
    assert_int_equal(e.preemptions, 1);
    assert_int_equal(b.preemptions, 1);
    assert_int_equal(b.state, ENG_WAITING);
    assert_int_equal(e.n_waiting, 1);
    assert_int_equal(engine_due(&e), 11400 * US);
    /* step 4: b needs 8 tokens → 2 blocks, 1 free: it waits; a → 14.4 */
    engine_advance(&e, 11400 * US, 100);
    expect(&l, 3, 1, 1, 0, 0, 11400 * US);
    assert_int_equal(b.state, ENG_WAITING);
    engine_advance(&e, 14400 * US, 100);
    expect(&l, 4, 1, 1, 0, 1, 14400 * US); /* a done, its blocks released */
    /* step 5: b recomputes 7 + 1 tokens; its first block (hash 3) is still cached, its second
     * (hash 4: tokens 4..7, full only once its first output token's KV was computed) was
     * never registered: 4 cached, 4 prefilled → 3 + 0.4 ms → 17.8 */
    assert_int_equal(engine_due(&e), 17800 * US);
    assert_int_equal(b.state, ENG_RUNNING);
    engine_advance(&e, 100 * MS, 100);
    expect(&l, 5, 2, 1, 0, 0, 17800 * US);
    expect(&l, 6, 2, 1, 0, 0, 20800 * US);
    expect(&l, 7, 2, 1, 0, 1, 23800 * US);
    assert_int_equal(l.n, 8);
    assert_int_equal(b.cached_tokens, 0); /* usage reports its first admission */
    assert_int_equal(e.pc_queries, 14);
    assert_int_equal(e.pc_hits, 0);
    assert_int_equal(e.admitted, 2);
    assert_int_equal(kv_used(&kv), 0);
    engine_free(&e);
    kv_free(&kv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batching_schedule),
        cmocka_unit_test(test_tokens_per_event_and_stall),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_zero_profile),
        cmocka_unit_test(test_init_rejects),
        cmocka_unit_test(test_chunked_prefill_alone),
        cmocka_unit_test(test_chunked_prefill_beside_decode),
        cmocka_unit_test(test_chunked_prefill_cancel),
        cmocka_unit_test(test_chunked_prefill_tokens_per_event),
        cmocka_unit_test(test_kv_prefix_hit),
        cmocka_unit_test(test_kv_preemption),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
