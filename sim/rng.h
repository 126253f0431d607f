/* rng.h — small seeded generators for llmtrace-sim: splitmix64 (Vigna, public domain
 * algorithm) both as a stateless hash (per-request and per-token draws that do not depend on
 * timing) and as a stream. Header-only because every sim module uses it on hot paths. */
#ifndef LLMTRACE_SIM_RNG_H
#define LLMTRACE_SIM_RNG_H

#include <stdint.h>

static inline uint64_t rng_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Next value of the stream whose state is *s. */
static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t r = rng_mix(*s);
    *s += 0x9e3779b97f4a7c15ULL;
    return r;
}

/* Uniform double in [0, 1). */
static inline double rng_unit(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform integer in [lo, hi] (hi >= lo). */
static inline int64_t rng_range(uint64_t *s, int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)(hi - lo) + 1;
    return lo + (int64_t)(rng_next(s) % span);
}

#endif
