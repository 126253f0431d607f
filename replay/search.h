/* search.h — replay's capacity search (--search concurrency|rate): the judgement of one stage
 * against latency SLOs, with a distribution-free confidence interval for each quantile (or for
 * the share of requests meeting every SLO, --goodput-min), and the choice of the next stage:
 * grow geometrically from a probe until a stage fails, then bisect between the highest stage
 * that met and the lowest that did not, until the bracket is within the tolerance or the stage
 * budget is spent. Pure functions over per-request values, so every decision is unit-tested. */
#ifndef LLMTRACE_REPLAY_SEARCH_H
#define LLMTRACE_REPLAY_SEARCH_H

#include <stddef.h>
#include <stdint.h>

enum search_metric { SEARCH_TTFT = 0, SEARCH_TPOT, SEARCH_E2E, SEARCH_N_METRICS };
const char *search_metric_name(enum search_metric m);   /* "ttft", "tpot", "e2e" */

struct search_slo {
    double limit_ms[SEARCH_N_METRICS]; /* ≤ 0: no SLO on that metric */
    double quantile;                   /* e.g. 0.9 (judging by quantiles) */
    double goodput_min;                /* > 0: judge by the share meeting every SLO instead */
    double alpha;                      /* confidence intervals at 1 − alpha (default 0.05) */
};

/* One measured request of a stage. A failed request, or a metric it never reached (no token),
 * counts as +Inf: it did not meet the SLO. TPOT undefined for one-token answers is NaN and is
 * left out of the TPOT quantile. */
struct search_sample {
    double ms[SEARCH_N_METRICS];
    int ok;                            /* the request succeeded */
};

enum search_verdict_kind { SEARCH_MET = 0, SEARCH_FAILED, SEARCH_UNDECIDED };
const char *search_verdict_name(enum search_verdict_kind v); /* "met", "failed", "undecided" */

struct search_estimate {
    int present;                       /* an SLO on this metric */
    size_t n;                          /* values judged */
    double point;                      /* quantile (linear interpolation, NumPy's default) */
    double lo, hi;                     /* its CI (order statistics; ±Inf when n is too small) */
};

struct search_verdict {
    enum search_verdict_kind kind;
    struct search_estimate est[SEARCH_N_METRICS];
    double goodput, goodput_lo, goodput_hi; /* share meeting every SLO, Clopper–Pearson CI */
    size_t n;
    int deciding;                      /* the metric that failed it (or kept it undecided), or
                                          -1 for goodput */
    size_t min_n;                      /* fewest requests for which the quantile's CI can be
                                          finite on the side the SLO needs */
};

/* Fewest samples for which a CI of quantile q at 1 − alpha has a finite upper bound. */
size_t search_min_samples(double q, double alpha);

/* Judges one stage. v is reordered. */
void search_judge(const struct search_slo *slo, struct search_sample *v, size_t n,
                  struct search_verdict *out);

/* The bracketing: values are concurrency levels (integers) or rates (req/s). */
struct search_state {
    int integer;                       /* concurrency: stop when hi − lo ≤ 1 */
    double start, factor, tolerance;   /* probe, growth (2), relative bracket width (0.05) */
    int max_stages;
    int stages;                        /* judged so far */
    double lo;                         /* highest that met; 0 when none yet */
    double hi;                         /* lowest that failed (or stayed undecided); 0: none */
};

void search_init(struct search_state *s, int integer, double start, double factor,
                 double tolerance, int max_stages);
/* Records the verdict of the stage run at value x and returns the next value to run, or 0 when
 * the search is over (bracket narrow enough, budget spent, or nothing meets at the probe). An
 * undecided stage counts as not met for the search (the report says it was undecided). */
double search_next(struct search_state *s, double x, enum search_verdict_kind v);

/* --slo "ttft=500,tpot=50ms,e2e=2s": a bare number is milliseconds (as vLLM's --goodput);
 * us/ms/s suffixes. Sets slo->limit_ms; 0, or -1 with a reason in err. */
int search_parse_slo(const char *spec, struct search_slo *slo, char *err, size_t errlen);

/* "p90 TTFT 120.4 ms [110.2, 131.0] <= 500 ms; p90 E2E …" (or the goodput share) for people. */
void search_describe(const struct search_slo *slo, const struct search_verdict *v, char *out,
                     size_t outlen);

/* The log's stage record (one JSON line, formats/SCHEMA.md "Stage record"). 0 or -1. */
struct buf;
int search_stage_json(struct buf *b, const char *mode, double x, int64_t t_us, int64_t wall_us,
                      const struct search_slo *slo, const struct search_verdict *v);

#endif
