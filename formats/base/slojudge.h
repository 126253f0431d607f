/* slojudge.h — is one stage within its latency SLOs? The judgement of a stage's requests
 * against TTFT/TPOT/E2E limits at a quantile, by a distribution-free confidence interval of
 * each quantile (qci.h), or by the share of requests meeting every SLO (Wilson interval):
 * "met", "failed", or "undecided" when the interval straddles the limit. llmtrace-replay's
 * --search decides its next stage with it and llmtrace-analyze judges a log's stages with it,
 * so both say the same thing of one run. */
#ifndef LLMTRACE_SLOJUDGE_H
#define LLMTRACE_SLOJUDGE_H

#include <stddef.h>

enum slo_metric { SLO_TTFT = 0, SLO_TPOT, SLO_E2E, SLO_N_METRICS };
const char *slo_metric_name(enum slo_metric m);   /* "ttft", "tpot", "e2e" */

struct slo_target {
    double limit_ms[SLO_N_METRICS]; /* ≤ 0: no SLO on that metric */
    double quantile;                   /* e.g. 0.9 (judging by quantiles) */
    double goodput_min;                /* > 0: judge by the share meeting every SLO instead */
    double alpha;                      /* confidence intervals at 1 − alpha (default 0.05) */
};

/* One measured request of a stage. A failed request, or a metric it never reached (no token),
 * counts as +Inf: it did not meet the SLO. TPOT undefined for one-token answers is NaN and is
 * left out of the TPOT quantile. */
struct slo_sample {
    double ms[SLO_N_METRICS];
    int ok;                            /* the request succeeded */
};

enum slo_verdict_kind { SLO_MET = 0, SLO_FAILED, SLO_UNDECIDED };
const char *slo_verdict_name(enum slo_verdict_kind v); /* "met", "failed", "undecided" */

struct slo_estimate {
    int present;                       /* an SLO on this metric */
    size_t n;                          /* values judged */
    double point;                      /* quantile (linear interpolation, NumPy's default) */
    double lo, hi;                     /* its CI (order statistics; ±Inf when n is too small) */
};

struct slo_verdict {
    enum slo_verdict_kind kind;
    struct slo_estimate est[SLO_N_METRICS];
    double goodput, goodput_lo, goodput_hi; /* share meeting every SLO, Clopper–Pearson CI */
    size_t n;
    int deciding;                      /* the metric that failed it (or kept it undecided), or
                                          -1 for goodput */
    size_t min_n;                      /* fewest requests for which the quantile's CI can be
                                          finite on the side the SLO needs */
};

/* Fewest samples for which a CI of quantile q at 1 − alpha has a finite upper bound. */
size_t slo_min_samples(double q, double alpha);

/* Judges one stage. v is reordered. */
void slo_judge(const struct slo_target *slo, struct slo_sample *v, size_t n,
                  struct slo_verdict *out);

/* "p90 TTFT 120.4 ms [110.2, 131.0] <= 500 ms; p90 E2E …" (or the goodput share) for people. */
void slo_describe(const struct slo_target *slo, const struct slo_verdict *v, char *out,
                     size_t outlen);

#endif
