/* test_sim_kvcache.c — llmtrace-sim's KV block pool and prefix cache (sim/kvcache.h) and the
 * block hashes of its token stream (sim/prefix.h): cached prefixes capped at tokens − 1, LRU
 * eviction in release order, refusal when the free blocks do not suffice, the hash table under
 * random churn against a plain model, and which texts and markers make two prompts share
 * blocks (a conversation's next turn does; another role or other text does not). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "kvcache.h"
#include "prefix.h"
#include "rng.h"

static void test_admit_hit_and_cap(void **state)
{
    struct kvcache kv;
    struct kv_table a = {0}, b = {0}, c = {0}, d = {0};
    const uint64_t h[3] = {11, 22, 33};
    (void)state;
    assert_int_equal(kv_init(&kv, 4, 4), 0);
    /* 10 tokens: 3 blocks, the 2 full ones registered; nothing cached yet */
    assert_int_equal(kv_admit(&kv, &a, h, 2, 10), 0);
    assert_int_equal(a.n, 3);
    assert_int_equal(kv.n_free, 1);
    assert_int_equal(kv.n_hashed, 2);
    assert_int_equal(kv_used(&kv), 3);
    kv_release(&kv, &a);
    assert_int_equal(kv_used(&kv), 0);
    assert_int_equal(kv.n_hashed, 2); /* released blocks keep their content */
    assert_int_equal(kv_match(&kv, h, 3), 2);
    /* 9 tokens with the same first 8: both full blocks hit ((9 − 1) / 4 = 2), one new */
    assert_int_equal(kv_admit(&kv, &b, h, 2, 9), 8);
    assert_int_equal(b.n, 3);
    assert_int_equal(kv_used(&kv), 3);
    /* exactly 8 tokens: the last token is computed, so only the first block counts */
    assert_int_equal(kv_admit(&kv, &c, h, 2, 8), 4);
    assert_int_equal(c.n, 2);
    assert_int_equal(kv.b[c.ids[0]].ref, 2); /* shared with b */
    assert_int_equal(kv.n_hashed, 2);        /* c's copy of block 2 stays anonymous */
    assert_int_equal(kv.n_free, 0);
    /* no room: refused, nothing changed */
    assert_int_equal(kv_admit(&kv, &d, h, 0, 1), -1);
    assert_int_equal(d.n, 0);
    assert_int_equal(kv_grow(&kv, &c, 9), -1);
    assert_int_equal(c.n, 2);
    assert_int_equal(kv_grow(&kv, &c, 8), 0); /* already held */
    kv_release(&kv, &b);
    assert_int_equal(kv.b[c.ids[0]].ref, 1);
    assert_int_equal(kv_grow(&kv, &c, 9), 0);
    assert_int_equal(c.n, 3);
    kv_release(&kv, &c);
    assert_int_equal(kv.n_free, 4);
    kv_table_free(&a);
    kv_table_free(&b);
    kv_table_free(&c);
    kv_table_free(&d);
    kv_free(&kv);
}

static void test_lru_eviction(void **state)
{
    struct kvcache kv;
    struct kv_table x = {0}, y = {0}, z = {0};
    const uint64_t hx[1] = {100}, hy[1] = {200}, hz[2] = {300, 400};
    (void)state;
    assert_int_equal(kv_init(&kv, 3, 2), 0);
    assert_int_equal(kv_admit(&kv, &x, hx, 1, 2), 0); /* takes block 0 */
    kv_release(&kv, &x);                              /* free queue: 1 2 0 */
    assert_int_equal(kv_admit(&kv, &y, hy, 1, 2), 0); /* takes block 1 */
    kv_release(&kv, &y);                              /* free queue: 2 0 1 */
    assert_int_equal(kv_admit(&kv, &z, hz, 2, 4), 0); /* takes 2, then 0: x is evicted */
    assert_int_equal(kv.evictions, 1);
    assert_int_equal(kv_match(&kv, hx, 1), 0);
    assert_int_equal(kv_match(&kv, hy, 1), 1);
    assert_int_equal(kv_match(&kv, hz, 2), 2);
    kv_release(&kv, &z);
    /* a sequence's last block is released first, so it is evicted first */
    assert_int_equal(kv_admit(&kv, &x, hx, 1, 2), 0); /* queue 1 0 2: takes 1 (y) */
    assert_int_equal(kv_match(&kv, hy, 1), 0);
    assert_int_equal(kv_match(&kv, hz, 2), 2);
    kv_release(&kv, &x);
    kv_table_free(&x);
    kv_table_free(&y);
    kv_table_free(&z);
    kv_free(&kv);
}

static void test_register_full_blocks_only(void **state)
{
    struct kvcache kv;
    struct kv_table t = {0};
    const uint64_t h[4] = {1, 2, 3, 4};
    (void)state;
    assert_int_equal(kv_init(&kv, 8, 4), 0);
    assert_int_equal(kv_admit(&kv, &t, h, 4, 6), 0); /* hashes beyond the prompt wait */
    assert_int_equal(kv.n_hashed, 1);
    assert_int_equal(kv_grow(&kv, &t, 11), 0);
    kv_register(&kv, &t, h, 4, 11);
    assert_int_equal(kv.n_hashed, 2); /* block 3 (tokens 8..11) is not full at 11 */
    kv_register(&kv, &t, h, 4, 12);
    assert_int_equal(kv.n_hashed, 3);
    kv_register(&kv, &t, h, 4, 100); /* held blocks only */
    assert_int_equal(kv.n_hashed, 3);
    kv_release(&kv, &t);
    kv_table_free(&t);
    kv_free(&kv);
    assert_int_equal(kv_init(&kv, 0, 4), -1);
    assert_int_equal(kv_init(&kv, 4, 0), -1);
}

/* Random admissions and releases of one-block sequences against a plain model of which
 * contents are cached: exercises eviction and the table's backward-shift deletion. */
static void test_churn_against_model(void **state)
{
    enum { N = 16, IDS = 40, SEQS = 12 };
    struct kvcache kv;
    struct kv_table t[SEQS];
    uint64_t rng = 7, held[SEQS];
    int64_t cached_at[IDS]; /* block index holding content id, or -1 */
    (void)state;
    memset(t, 0, sizeof t);
    for (int i = 0; i < IDS; i++)
        cached_at[i] = -1;
    assert_int_equal(kv_init(&kv, N, 1), 0);
    for (int step = 0; step < 5000; step++) {
        int k = (int)(rng_next(&rng) % SEQS);
        if (t[k].n) {
            kv_release(&kv, &t[k]);
            continue;
        }
        uint64_t id = rng_next(&rng) % IDS, hs[2] = {id * 7919 + 1, 0};
        int64_t hit = cached_at[id] >= 0, idle = hit && kv.b[cached_at[id]].ref == 0;
        /* two tokens of one block each: the first may hit, the second is always computed */
        int64_t got = kv_admit(&kv, &t[k], hs, 1, 2);
        if (got < 0) {
            assert_true(2 - hit > kv.n_free - idle);
            continue;
        }
        assert_int_equal(got, cached_at[id] >= 0 ? 1 : 0);
        held[k] = id;
        /* refresh the model from the table: every cached content must be where kv says */
        for (int i = 0; i < IDS; i++) {
            uint64_t h = (uint64_t)i * 7919 + 1;
            cached_at[i] = -1;
            for (int64_t b = 0; b < N; b++)
                if (kv.b[b].hashed && kv.b[b].hash == h)
                    cached_at[i] = b;
            assert_int_equal(kv_match(&kv, &h, 1), cached_at[i] >= 0);
        }
        assert_true(kv_match(&kv, hs, 1) == 1);
        int64_t idle_blocks = 0;
        for (int64_t b = 0; b < N; b++)
            idle_blocks += kv.b[b].ref == 0;
        assert_int_equal(idle_blocks, kv.n_free);
        (void)held;
    }
    for (int k = 0; k < SEQS; k++) {
        kv_release(&kv, &t[k]);
        kv_table_free(&t[k]);
    }
    assert_int_equal(kv.n_free, N);
    kv_free(&kv);
}

/* ---- prefix hashes ---------------------------------------------------------------------- */

struct msg {
    const char *role, *text;
};

static void hash_msgs(struct prefix_hasher *h, int words, int64_t block, const struct msg *m,
                      int n)
{
    prefix_init(h, words, block, 1000);
    for (int i = 0; i < n; i++) {
        prefix_mark(h, m[i].role);
        prefix_text(h, m[i].text, strlen(m[i].text));
    }
}

static void test_prefix_words(void **state)
{
    struct prefix_hasher a, b, c, d;
    const struct msg t1[1] = {{"user", "a b c d e"}};
    const struct msg t2[3] = {{"user", "a b c d e"}, {"assistant", "f g h"}, {"user", "i j"}};
    const struct msg other_role[1] = {{"assistant", "a b c d e"}};
    const struct msg other_text[1] = {{"user", "a b x d e"}};
    (void)state;
    hash_msgs(&a, 1, 2, t1, 1);
    assert_int_equal(a.tokens, 5);
    assert_int_equal(a.n, 2);            /* the fifth word waits for a sixth */
    hash_msgs(&b, 1, 2, t2, 3);
    assert_int_equal(b.tokens, 10);
    assert_int_equal(b.n, 5);
    /* the next turn shares every full block of the previous one */
    assert_memory_equal(a.hashes, b.hashes, 2 * sizeof(uint64_t));
    hash_msgs(&c, 1, 2, other_role, 1);
    assert_true(c.hashes[0] != a.hashes[0]);
    hash_msgs(&d, 1, 2, other_text, 1);
    assert_true(d.hashes[0] == a.hashes[0]); /* "a b" */
    assert_true(d.hashes[1] != a.hashes[1]); /* "x d" vs "c d" */
    prefix_free(&a);
    prefix_free(&b);
    prefix_free(&c);
    prefix_free(&d);
    /* words do not run across texts: "a b" + "c" is three words, like "a b c" */
    prefix_init(&a, 1, 3, 10);
    prefix_text(&a, "a b", 3);
    prefix_text(&a, "c", 1);
    prefix_init(&b, 1, 3, 10);
    prefix_text(&b, "a  b\nc", 6);
    assert_int_equal(a.n, 1);
    assert_int_equal(b.n, 1);
    assert_true(a.hashes[0] == b.hashes[0]);
    prefix_free(&a);
    prefix_free(&b);
}

static void test_prefix_bytes_and_continuation(void **state)
{
    struct prefix_hasher a, b;
    (void)state;
    /* bytes: 4-byte groups run across texts; a partial group completes with the next bytes */
    prefix_init(&a, 0, 2, 10);
    prefix_text(&a, "abcdef", 6);
    assert_int_equal(a.tokens, 1);
    assert_int_equal(a.n, 0);
    prefix_text(&a, "gh", 2);
    assert_int_equal(a.tokens, 2);
    assert_int_equal(a.n, 1);
    prefix_init(&b, 0, 2, 10);
    prefix_text(&b, "abcdefgh", 8);
    assert_int_equal(b.n, 1);
    assert_true(a.hashes[0] == b.hashes[0]);
    prefix_free(&a);
    prefix_free(&b);
    /* at most max hashes are kept; token ids are tokens of their own */
    prefix_init(&a, 0, 1, 3);
    for (int i = 0; i < 10; i++)
        prefix_token_id(&a, i);
    assert_int_equal(a.tokens, 10);
    assert_int_equal(a.n, 3);
    prefix_init(&b, 0, 1, 3);
    prefix_token_id(&b, 0);
    prefix_token_id(&b, 1);
    prefix_token_id(&b, 7);
    assert_true(a.hashes[1] == b.hashes[1]);
    assert_true(a.hashes[2] != b.hashes[2]);
    prefix_free(&a);
    prefix_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admit_hit_and_cap),
        cmocka_unit_test(test_lru_eviction),
        cmocka_unit_test(test_register_full_blocks_only),
        cmocka_unit_test(test_churn_against_model),
        cmocka_unit_test(test_prefix_words),
        cmocka_unit_test(test_prefix_bytes_and_continuation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
