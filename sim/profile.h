/* profile.h — llmtrace-sim's step-time model: how long one continuous-batching step takes for
 * a batch size and the prompt tokens prefilled in it.
 *
 * Three kinds: "zero" (no modelled delay), the built-in "default" (decode step = a + c·b ms,
 * prefill = p ms per prompt token, tuned so max-batch 32 plateaus at 8,000 output tokens/s), and
 * tables read from splitwise-sim's perf_model.csv columns (model, hardware, prompt_size,
 * batch_size, token_size, prompt_time, token_time; ms): repeated rows are averaged, then the
 * decode time is interpolated linearly over batch size and the prefill time over prompt tokens
 * (sim/README.md documents the rules). Pure computation: no I/O except profile_load_file. */
#ifndef LLMTRACE_SIM_PROFILE_H
#define LLMTRACE_SIM_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#define PROFILE_MAX_POINTS 64

enum profile_kind { PROFILE_ZERO = 0, PROFILE_LINEAR, PROFILE_TABLE };

/* Built-in default: decode step(b) = 2 + b/16 ms → b = 32 takes 4 ms → 8,000 tokens/s. */
#define PROFILE_DEFAULT_A_MS 2.0
#define PROFILE_DEFAULT_C_MS 0.0625
#define PROFILE_DEFAULT_PREFILL_MS 0.005

struct profile {
    enum profile_kind kind;
    char name[128];
    double a_ms, c_ms;              /* LINEAR: decode step = a + c·b */
    double prefill_ms_per_token;    /* LINEAR */
    size_t n_decode;                /* TABLE: (batch size, mean token_time) sorted by batch */
    double decode_b[PROFILE_MAX_POINTS], decode_ms[PROFILE_MAX_POINTS];
    size_t n_prefill;               /* TABLE: (prompt tokens, mean prompt_time at batch 1) */
    double prefill_p[PROFILE_MAX_POINTS], prefill_ms[PROFILE_MAX_POINTS];
};

/* Sets p to the zero or default profile. */
void profile_init_zero(struct profile *p);
void profile_init_default(struct profile *p);

/* Parses CSV text (header line naming at least the seven columns above, in any order) and
 * keeps the rows of model/hardware. Returns 0, or -1 with a reason in err (no rows for that
 * pair, missing column, bad number, too many distinct sizes). */
int profile_parse_csv(struct profile *p, const char *text, size_t len, const char *model,
                      const char *hardware, char *err, size_t errlen);

/* Resolves a --profile argument: "zero", "default", "linear:A,C,P" (decode = A + C·b ms,
 * prefill P ms per prompt token), "MODEL/HW" (from the CSV built into the binary,
 * sim/profiles/perf_model.csv) or "FILE.csv:MODEL/HW". 0 or -1 with err. */
int profile_resolve(struct profile *p, const char *spec, char *err, size_t errlen);

/* Decode step time for batch size b (b >= 1), in ms. TABLE: linear interpolation between the
 * two neighbouring measured batch sizes; beyond the table, the first/last segment's slope. */
double profile_decode_ms(const struct profile *p, double b);
/* Prefill time of `tokens` prompt tokens processed in one step, in ms (0 for 0 tokens).
 * TABLE: interpolation over prompt size at batch 1; below the smallest size, a straight line
 * from (0, 0); above the largest, the last segment's slope. */
double profile_prefill_ms(const struct profile *p, double tokens);
/* Duration of one step in ns: tokens_per_event decode steps for a batch of b plus the prefill
 * of prefill_tokens. 0 for the zero profile. */
int64_t profile_step_ns(const struct profile *p, int b, int tokens_per_event,
                        int64_t prefill_tokens);

/* The CSV compiled into the binary (sim/profiles/perf_model.csv). */
extern const char sim_profiles_csv[];
extern const size_t sim_profiles_csv_len;

#endif
