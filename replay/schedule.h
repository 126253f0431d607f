/* schedule.h — when each replayed request is due: recorded offsets (scaled by --speed), or an
 * open-loop arrival process (constant, Poisson, gamma), with --loop, --duration, --shard and the
 * split across worker threads.
 *
 * One absolute schedule anchored at start: every item carries its offset from the anchor, never
 * a delay from the previous item, so sleeps cannot accumulate drift (wrk2's rule). The global
 * sequence (item 0, 1, 2, …) is the same on every machine and every worker for a given seed;
 * shards and workers each take their own residue class of it, so N machines × T workers send
 * exactly what one machine with one worker would. */
#ifndef LLMTRACE_REPLAY_SCHEDULE_H
#define LLMTRACE_REPLAY_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

enum sched_mode { SCHED_ORIGINAL = 0, SCHED_RATE };
enum sched_arrival { ARRIVAL_CONSTANT = 0, ARRIVAL_POISSON, ARRIVAL_GAMMA };

/* xoshiro256** state, seeded through splitmix64: fast, reproducible across machines. */
struct sched_rng {
    uint64_t s[4];
};
void sched_rng_seed(struct sched_rng *r, uint64_t seed);
uint64_t sched_rng_next(struct sched_rng *r);
/* Uniform in (0, 1): never 0, so log() is always finite. */
double sched_rng_uniform(struct sched_rng *r);
/* Gap to the next arrival in µs (double) for mean rate `rate` req/s. Gamma: shape k, mean
 * 1/rate (k = 1 is Poisson, k < 1 burstier, k > 1 smoother). */
double sched_rng_gap_us(struct sched_rng *r, enum sched_arrival a, double rate, double k);

struct sched_params {
    enum sched_mode mode;
    double speed;              /* original: offsets are divided by it (> 0) */
    double rate;               /* rate: requests/s over the whole sequence (all shards) */
    enum sched_arrival arrival;
    double burstiness;         /* gamma shape; > 0 */
    uint64_t seed;
    int loop;                  /* repeat the records until duration (or forever) */
    int64_t duration_us;       /* 0: none; items at offset >= duration are not produced */
    int shard_k, shard_n;      /* this machine takes sequence items with seq % n == k - 1 */
    int worker, n_workers;     /* …and among those, every n_workers-th starting at worker */
};

struct sched_item {
    uint64_t seq;              /* position in the global sequence (ids, shards) */
    size_t rec;                /* record index: seq % n_records */
    int64_t offset_us;         /* from the schedule's anchor */
};

struct sched {
    struct sched_params p;
    const int64_t *offsets;    /* per record, µs from the first record, non-decreasing */
    size_t n;
    uint64_t seq;              /* next global sequence number to consider */
    uint64_t mine;             /* items of this shard seen so far (for the worker split) */
    double t_us;               /* rate mode: arrival time of item `seq` */
    int64_t period_us;         /* original + loop: one pass through the records */
    struct sched_rng rng;
    int done;
};

/* Prepares a generator over n records with the given recorded offsets (not copied; must stay
 * valid). Returns 0, or -1 on invalid parameters (speed/rate/burstiness <= 0, shard outside
 * 1..n, worker outside 0..n_workers-1). */
int sched_init(struct sched *s, const struct sched_params *p, const int64_t *offsets, size_t n);
/* Produces the next item of this shard and worker in time order. Returns 1, or 0 when the
 * schedule is exhausted (all records sent once without --loop, or past --duration). */
int sched_next(struct sched *s, struct sched_item *it);

#endif
