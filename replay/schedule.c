/* schedule.c — replay schedules: recorded offsets and open-loop arrival processes (see
 * schedule.h). Gamma variates follow Marsaglia & Tsang, "A simple method for generating gamma
 * variables" (ACM TOMS 26(3), 2000); the generator is xoshiro256** (Blackman & Vigna). */
#include "schedule.h"

#include <math.h>
#include <string.h>

static uint64_t rng_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rng_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void sched_rng_seed(struct sched_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = rng_splitmix(&x);
}

uint64_t sched_rng_next(struct sched_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rng_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rng_rotl(s[3], 45);
    return out;
}

double sched_rng_uniform(struct sched_rng *r)
{
    /* 53 random bits, shifted by half a step so 0 is impossible. */
    return ((double)(sched_rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static double rng_normal(struct sched_rng *r)
{
    double u1 = sched_rng_uniform(r), u2 = sched_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Gamma(shape k, scale 1). */
static double rng_gamma(struct sched_rng *r, double k)
{
    if (k < 1.0) {
        /* Boost: Gamma(k) = Gamma(k + 1) * U^(1/k). */
        double u = sched_rng_uniform(r);
        return rng_gamma(r, k + 1.0) * pow(u, 1.0 / k);
    }
    double d = k - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = rng_normal(r), v = 1.0 + c * x;
        if (v <= 0)
            continue;
        v = v * v * v;
        double u = sched_rng_uniform(r);
        if (log(u) < 0.5 * x * x + d - d * v + d * log(v))
            return d * v;
    }
}

double sched_rng_gap_us(struct sched_rng *r, enum sched_arrival a, double rate, double k)
{
    double mean = 1e6 / rate;
    switch (a) {
    case ARRIVAL_POISSON:
        return -log(sched_rng_uniform(r)) * mean;
    case ARRIVAL_GAMMA:
        return rng_gamma(r, k) * mean / k;
    case ARRIVAL_CONSTANT:
    default:
        return mean;
    }
}

int sched_init(struct sched *s, const struct sched_params *p, const int64_t *offsets, size_t n)
{
    memset(s, 0, sizeof(*s));
    if (p->shard_n < 1 || p->shard_k < 1 || p->shard_k > p->shard_n)
        return -1;
    if (p->n_workers < 1 || p->worker < 0 || p->worker >= p->n_workers)
        return -1;
    if (p->mode == SCHED_ORIGINAL && !(p->speed > 0))
        return -1;
    if (p->mode == SCHED_RATE && (!(p->rate > 0) ||
                                  (p->arrival == ARRIVAL_GAMMA && !(p->burstiness > 0))))
        return -1;
    s->p = *p;
    s->offsets = offsets;
    s->n = n;
    sched_rng_seed(&s->rng, p->seed);
    if (n == 0)
        s->done = 1;
    if (p->mode == SCHED_ORIGINAL && n > 0) {
        /* One pass plus one mean gap, so the loop seam looks like the rest of the trace. */
        int64_t span = offsets[n - 1] - offsets[0];
        double period = span > 0 ? (double)span + (double)span / (double)(n > 1 ? n - 1 : 1)
                                 : 1e6;
        s->period_us = (int64_t)llround(period / p->speed);
        if (s->period_us < 1)
            s->period_us = 1;
    }
    return 0;
}

/* The offset of global item seq; advances the arrival process in rate mode. */
static int64_t sched_offset_of(struct sched *s, uint64_t seq)
{
    if (s->p.mode == SCHED_RATE) {
        int64_t off = (int64_t)llround(s->t_us);
        s->t_us += sched_rng_gap_us(&s->rng, s->p.arrival, s->p.rate, s->p.burstiness);
        return off;
    }
    uint64_t pass = seq / s->n;
    size_t rec = (size_t)(seq % s->n);
    return (int64_t)pass * s->period_us +
           (int64_t)llround((double)(s->offsets[rec] - s->offsets[0]) / s->p.speed);
}

int sched_next(struct sched *s, struct sched_item *it)
{
    while (!s->done) {
        uint64_t seq = s->seq++;
        if (!s->p.loop && seq >= s->n) {
            s->done = 1;
            break;
        }
        int64_t off = sched_offset_of(s, seq);
        if (s->p.duration_us > 0 && off >= s->p.duration_us) {
            s->done = 1;
            break;
        }
        if (seq % (uint64_t)s->p.shard_n != (uint64_t)(s->p.shard_k - 1))
            continue;
        uint64_t mine = s->mine++;
        if (mine % (uint64_t)s->p.n_workers != (uint64_t)s->p.worker)
            continue;
        it->seq = seq;
        it->rec = (size_t)(seq % s->n);
        it->offset_us = off;
        return 1;
    }
    return 0;
}
