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

#include "slojudge.h"

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
double search_next(struct search_state *s, double x, enum slo_verdict_kind v);

/* --slo "ttft=500,tpot=50ms,e2e=2s": a bare number is milliseconds (as vLLM's --goodput);
 * us/ms/s suffixes. Sets slo->limit_ms; 0, or -1 with a reason in err. */
int search_parse_slo(const char *spec, struct slo_target *slo, char *err, size_t errlen);

/* The log's stage record (one JSON line, formats/SCHEMA.md "Stage record"). 0 or -1. */
struct buf;
int search_stage_json(struct buf *b, const char *mode, double x, int64_t t_us, int64_t wall_us,
                      const struct slo_target *slo, const struct slo_verdict *v);

#endif
