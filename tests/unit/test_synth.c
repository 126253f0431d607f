/* test_synth.c — prompt synthesis (formats/traces/synth.h): the documented token estimate, determinism,
 * prefix stability, Mooncake block sharing and the tokens-per-word fit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "synth.h"

static void test_estimate(void **state)
{
    (void)state;
    assert_int_equal(synth_words_for_tokens(0, 1.3), 0);
    assert_int_equal(synth_words_for_tokens(-5, 1.3), 0);
    assert_int_equal(synth_words_for_tokens(1, 1.3), 1);     /* 0.77 → at least one word */
    assert_int_equal(synth_words_for_tokens(512, 1.3), 394); /* 393.8 */
    assert_int_equal(synth_words_for_tokens(1000, 1.3), 769); /* 769.2 */
    assert_int_equal(synth_words_for_tokens(100, 1.0), 100);
    assert_int_equal(synth_words_for_tokens(100, 0), 77);    /* default 1.3 */
    assert_int_equal(synth_words_for_tokens(100, -2), 77);
    assert_int_equal(synth_count_words("", 0), 0);
    assert_int_equal(synth_count_words("  a b\t\nc  ", 10), 3);
    assert_int_equal(synth_estimate_tokens("one two three four", 18, 1.3), 5); /* 5.2 */
    assert_int_equal(synth_estimate_tokens("one two three four", 18, 1.0), 4);
}

static void test_words(void **state)
{
    (void)state;
    struct buf a, b;
    buf_init(&a, 1 << 20);
    buf_init(&b, 1 << 20);
    assert_int_equal(synth_append_words(&a, SYNTH_DOMAIN_REQUEST, 7, 300), 0);
    assert_int_equal(synth_count_words(a.p, a.len), 300);
    assert_true(a.p[0] != ' ' && a.p[a.len - 1] != ' ');
    assert_null(strstr(a.p, "  "));
    /* deterministic, and a shorter sequence is a prefix of a longer one */
    assert_int_equal(synth_append_words(&b, SYNTH_DOMAIN_REQUEST, 7, 120), 0);
    assert_int_equal(memcmp(a.p, b.p, b.len), 0);
    assert_int_equal(a.p[b.len], ' ');
    /* other seed or domain: different text */
    buf_reset(&b);
    assert_int_equal(synth_append_words(&b, SYNTH_DOMAIN_REQUEST, 8, 300), 0);
    assert_true(strcmp(a.p, b.p) != 0);
    buf_reset(&b);
    assert_int_equal(synth_append_words(&b, SYNTH_DOMAIN_BLOCK, 7, 300), 0);
    assert_true(strcmp(a.p, b.p) != 0);
    /* 0 words: nothing */
    buf_reset(&b);
    assert_int_equal(synth_append_words(&b, SYNTH_DOMAIN_BLOCK, 7, 0), 0);
    assert_int_equal(b.len, 0);
    /* the cap is honoured */
    struct buf small;
    buf_init(&small, 16);
    assert_int_equal(synth_append_words(&small, SYNTH_DOMAIN_BLOCK, 1, 100), BUF_ERR_TOO_BIG);
    buf_free(&small);
    buf_free(&a);
    buf_free(&b);
}

static void test_blocks(void **state)
{
    (void)state;
    struct buf a, b, c;
    buf_init(&a, 1 << 22);
    buf_init(&b, 1 << 22);
    buf_init(&c, 1 << 22);
    const uint64_t ia[] = {0, 1, 2};
    const uint64_t ib[] = {0, 1, 9};
    /* exact total: round(1300 / 1.3) = 1000 words */
    assert_int_equal(synth_append_blocks(&a, ia, 3, 1300, 11, 1.3), 0);
    assert_int_equal(synth_count_words(a.p, a.len), 1000);
    assert_int_equal(synth_estimate_tokens(a.p, a.len, 1.3), 1300);
    assert_int_equal(synth_append_blocks(&b, ib, 3, 1300, 12, 1.3), 0);
    /* the first two blocks (1024 tokens → 788 words) are identical, the third differs */
    size_t i = 0, words = 0;
    while (i < a.len && i < b.len && a.p[i] == b.p[i]) {
        if (a.p[i] == ' ')
            words++;
        i++;
    }
    assert_true(words >= 788);
    assert_true(i < a.len);
    /* block 0 alone equals the first 394 words of hash id 0's sequence */
    assert_int_equal(synth_append_words(&c, SYNTH_DOMAIN_BLOCK, 0, 394), 0);
    assert_int_equal(memcmp(a.p, c.p, c.len), 0);
    assert_int_equal(a.p[c.len], ' ');
    /* a partial last block is a prefix of the same id's full block */
    buf_reset(&b);
    assert_int_equal(synth_append_blocks(&b, ia, 2, 600, 13, 1.3), 0); /* 462 words */
    assert_int_equal(synth_count_words(b.p, b.len), 462);
    assert_int_equal(memcmp(a.p, b.p, b.len), 0);
    /* tokens beyond the blocks come from the request's own sequence */
    buf_reset(&b);
    buf_reset(&c);
    assert_int_equal(synth_append_blocks(&b, ia, 1, 1024, 14, 1.0), 0);
    assert_int_equal(synth_count_words(b.p, b.len), 1024);
    assert_int_equal(synth_append_words(&c, SYNTH_DOMAIN_REQUEST, 14, 512), 0);
    assert_string_equal(b.p + b.len - c.len, c.p);
    /* no blocks and no tokens */
    buf_reset(&b);
    assert_int_equal(synth_append_blocks(&b, NULL, 0, 0, 1, 1.3), 0);
    assert_int_equal(b.len, 0);
    buf_free(&a);
    buf_free(&b);
    buf_free(&c);
}

static void test_fit(void **state)
{
    (void)state;
    double f, a;
    const double w[] = {50, 100, 200, 400};
    const double t[] = {3 + 62.5, 3 + 125, 3 + 250, 3 + 500}; /* tokens = 3 + 1.25 words */
    assert_int_equal(synth_fit(w, t, 4, &f, &a), 0);
    assert_true(fabs(f - 1.25) < 1e-9);
    assert_true(fabs(a - 3) < 1e-9);
    const double w1[] = {100};
    const double t1[] = {130};
    assert_int_equal(synth_fit(w1, t1, 1, &f, &a), 0);
    assert_true(fabs(f - 1.3) < 1e-9);
    assert_true(a == 0);
    const double ws[] = {100, 100};
    const double ts[] = {120, 140};
    assert_int_equal(synth_fit(ws, ts, 2, &f, &a), 0); /* same x: through the origin */
    assert_true(fabs(f - 1.3) < 1e-9);
    const double tneg[] = {500, 400, 300, 200};
    assert_int_equal(synth_fit(w, tneg, 4, &f, &a), -1);
    assert_int_equal(synth_fit(w, t, 0, &f, &a), -1);
    const double wz[] = {0};
    assert_int_equal(synth_fit(wz, t1, 1, &f, &a), -1);
}

static void test_rand(void **state)
{
    (void)state;
    uint64_t s1 = 1, s2 = 1;
    for (int i = 0; i < 1000; i++) {
        double u = synth_rand_unit(&s1);
        assert_true(u >= 0 && u < 1);
        assert_true(u == synth_rand_unit(&s2));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_estimate), cmocka_unit_test(test_words),
        cmocka_unit_test(test_blocks),   cmocka_unit_test(test_fit),
        cmocka_unit_test(test_rand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
