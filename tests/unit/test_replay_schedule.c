/* test_replay_schedule.c — the replay schedule (replay/schedule.h): exact offsets for original
 * and constant-rate timing, speed scaling, loop seams, duration cut-off, shard and worker
 * splits that add up to the single-machine sequence, and the statistics of Poisson and gamma
 * arrivals for a fixed seed. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "schedule.h"

static struct sched_params base_params(void)
{
    struct sched_params p = {0};
    p.mode = SCHED_ORIGINAL;
    p.speed = 1;
    p.rate = 1;
    p.arrival = ARRIVAL_CONSTANT;
    p.burstiness = 1;
    p.seed = 1;
    p.shard_k = p.shard_n = 1;
    p.n_workers = 1;
    return p;
}

/* Collects up to max items. */
static size_t collect(struct sched *s, struct sched_item *out, size_t max)
{
    size_t n = 0;
    while (n < max && sched_next(s, &out[n]))
        n++;
    return n;
}

static void test_original_offsets(void **state)
{
    (void)state;
    const int64_t offs[] = {0, 100000, 250000, 1000000};
    struct sched_params p = base_params();
    struct sched s;
    assert_int_equal(sched_init(&s, &p, offs, 4), 0);
    struct sched_item it[8];
    assert_int_equal(collect(&s, it, 8), 4);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(it[i].seq, i);
        assert_int_equal(it[i].rec, i);
        assert_int_equal(it[i].offset_us, offs[i]);
    }
    assert_int_equal(sched_next(&s, &it[0]), 0);
}

static void test_speed_scales(void **state)
{
    (void)state;
    const int64_t offs[] = {0, 100000, 250001, 1000000};
    struct sched_params p = base_params();
    p.speed = 2;
    struct sched s;
    assert_int_equal(sched_init(&s, &p, offs, 4), 0);
    struct sched_item it[4];
    assert_int_equal(collect(&s, it, 4), 4);
    assert_int_equal(it[1].offset_us, 50000);
    assert_int_equal(it[2].offset_us, 125001); /* 125000.5 rounds half away from zero */
    assert_int_equal(it[3].offset_us, 500000);
    p.speed = 0.5;
    assert_int_equal(sched_init(&s, &p, offs, 4), 0);
    assert_int_equal(collect(&s, it, 4), 4);
    assert_int_equal(it[3].offset_us, 2000000);
}

static void test_loop_and_duration(void **state)
{
    (void)state;
    /* span 300 ms over 3 gaps → mean gap 100 ms → period 400 ms. */
    const int64_t offs[] = {0, 100000, 200000, 300000};
    struct sched_params p = base_params();
    p.loop = 1;
    p.duration_us = 1000000;
    struct sched s;
    assert_int_equal(sched_init(&s, &p, offs, 4), 0);
    assert_int_equal(s.period_us, 400000);
    struct sched_item it[32];
    size_t n = collect(&s, it, 32);
    /* items at 0,100..300 | 400..700 | 800, 900 ms; 1000 ms is excluded. */
    assert_int_equal(n, 10);
    assert_int_equal(it[4].offset_us, 400000);
    assert_int_equal(it[4].rec, 0);
    assert_int_equal(it[9].offset_us, 900000);
    assert_int_equal(it[9].rec, 1);
    assert_int_equal(it[9].seq, 9);
}

static void test_constant_rate(void **state)
{
    (void)state;
    const int64_t offs[] = {0, 5, 7};
    struct sched_params p = base_params();
    p.mode = SCHED_RATE;
    p.rate = 4;
    p.loop = 1;
    p.duration_us = 2000000;
    struct sched s;
    assert_int_equal(sched_init(&s, &p, offs, 3), 0);
    struct sched_item it[16];
    assert_int_equal(collect(&s, it, 16), 8);
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(it[i].offset_us, (int64_t)i * 250000);
        assert_int_equal(it[i].rec, i % 3);
    }
    /* Without --loop each record goes once. */
    p.loop = 0;
    assert_int_equal(sched_init(&s, &p, offs, 3), 0);
    assert_int_equal(collect(&s, it, 16), 3);
    assert_int_equal(it[2].offset_us, 500000);
}

/* Shards × workers partition the single-machine sequence exactly. */
static void test_shard_worker_partition(void **state)
{
    (void)state;
    int64_t offs[50];
    for (int i = 0; i < 50; i++)
        offs[i] = i * 1000;
    struct sched_params p = base_params();
    p.mode = SCHED_RATE;
    p.arrival = ARRIVAL_POISSON;
    p.rate = 100;
    p.seed = 42;
    struct sched s;
    struct sched_item all[50], part[50];
    assert_int_equal(sched_init(&s, &p, offs, 50), 0);
    assert_int_equal(collect(&s, all, 50), 50);
    int seen[50] = {0};
    for (int k = 1; k <= 3; k++)
        for (int w = 0; w < 2; w++) {
            p.shard_k = k;
            p.shard_n = 3;
            p.worker = w;
            p.n_workers = 2;
            assert_int_equal(sched_init(&s, &p, offs, 50), 0);
            size_t n = collect(&s, part, 50);
            for (size_t i = 0; i < n; i++) {
                uint64_t q = part[i].seq;
                assert_int_equal(q % 3, (uint64_t)(k - 1));
                assert_int_equal((q / 3) % 2, (uint64_t)w);
                assert_int_equal(part[i].offset_us, all[q].offset_us);
                seen[q]++;
            }
        }
    for (int i = 0; i < 50; i++)
        assert_int_equal(seen[i], 1);
}

static void gap_stats(enum sched_arrival a, double k, double *mean, double *cv2)
{
    struct sched_rng r;
    sched_rng_seed(&r, 7);
    const int n = 200000;
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) {
        double g = sched_rng_gap_us(&r, a, 1000, k);
        s += g;
        s2 += g * g;
    }
    *mean = s / n;
    double var = s2 / n - *mean * *mean;
    *cv2 = var / (*mean * *mean);
}

static void test_arrival_statistics(void **state)
{
    (void)state;
    double mean, cv2;
    gap_stats(ARRIVAL_CONSTANT, 1, &mean, &cv2);
    assert_true(fabs(mean - 1000) < 1e-9);
    gap_stats(ARRIVAL_POISSON, 1, &mean, &cv2);
    assert_true(fabs(mean - 1000) < 10); /* 200k samples: standard error 2.2 µs */
    assert_true(fabs(cv2 - 1) < 0.03);
    gap_stats(ARRIVAL_GAMMA, 0.25, &mean, &cv2); /* CV² = 1/k = 4 */
    assert_true(fabs(mean - 1000) < 25);
    assert_true(fabs(cv2 - 4) < 0.3);
    gap_stats(ARRIVAL_GAMMA, 4, &mean, &cv2); /* CV² = 0.25 */
    assert_true(fabs(mean - 1000) < 5);
    assert_true(fabs(cv2 - 0.25) < 0.02);
}

static void test_seed_reproducible(void **state)
{
    (void)state;
    struct sched_rng a, b;
    sched_rng_seed(&a, 99);
    sched_rng_seed(&b, 99);
    for (int i = 0; i < 100; i++)
        assert_int_equal(sched_rng_next(&a), sched_rng_next(&b));
    sched_rng_seed(&b, 100);
    assert_int_not_equal(sched_rng_next(&a), sched_rng_next(&b));
    for (int i = 0; i < 100000; i++) {
        double u = sched_rng_uniform(&a);
        assert_true(u > 0 && u < 1);
    }
}

static void test_invalid_params(void **state)
{
    (void)state;
    const int64_t offs[] = {0};
    struct sched s;
    struct sched_params p = base_params();
    p.speed = 0;
    assert_int_equal(sched_init(&s, &p, offs, 1), -1);
    p = base_params();
    p.shard_k = 3;
    p.shard_n = 2;
    assert_int_equal(sched_init(&s, &p, offs, 1), -1);
    p = base_params();
    p.worker = 1;
    assert_int_equal(sched_init(&s, &p, offs, 1), -1);
    p = base_params();
    p.mode = SCHED_RATE;
    p.arrival = ARRIVAL_GAMMA;
    p.burstiness = 0;
    assert_int_equal(sched_init(&s, &p, offs, 1), -1);
    /* No records: a valid, empty schedule. */
    p = base_params();
    struct sched_item it;
    assert_int_equal(sched_init(&s, &p, offs, 0), 0);
    assert_int_equal(sched_next(&s, &it), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_original_offsets),
        cmocka_unit_test(test_speed_scales),
        cmocka_unit_test(test_loop_and_duration),
        cmocka_unit_test(test_constant_rate),
        cmocka_unit_test(test_shard_worker_partition),
        cmocka_unit_test(test_arrival_statistics),
        cmocka_unit_test(test_seed_reproducible),
        cmocka_unit_test(test_invalid_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
