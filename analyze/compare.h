/* compare.h — `llmtrace-analyze compare base=A new=B`: per metric, both medians and p99s,
 * change in %, 95 % bootstrap CI of the difference, Mann–Whitney U p-value and a verdict
 * (rule in analyze/README.md), plus a paired comparison by replay.of when both logs replay
 * one trace. */
#ifndef LLMTRACE_ANALYZE_COMPARE_H
#define LLMTRACE_ANALYZE_COMPARE_H

#include <stdint.h>
#include <stdio.h>

#include "metrics.h"

struct cap_result;

struct cmp_opts {
    int rounds;              /* bootstrap resamples (default 1000) */
    uint64_t seed;           /* bootstrap seed (default 1) */
    double alpha;            /* significance level (0.05) */
    int json;                /* 1: JSON instead of the table */
    const char *command;     /* analyze's command line (JSON) */
    /* Why both sides' latency origin was chosen (e.g. "base open loop, new closed loop: both
     * measured from the send"); NULL when nothing was overridden. Shown in the report. */
    const char *origin_note;
    /* Why groups are what they are (e.g. stage by stage by default); NULL when chosen. */
    const char *group_note;
    /* --slo with stages: both sides' capacity answer (capacity.h), given first with the ratio
     * new / base; NULL or empty: none. */
    const struct cap_result *cap;
};

/* Latency origin of every counted request of label_idx: "send", "schedule", "mixed" (some of
 * each), or "none" when the label has no request. */
const char *cmp_label_origin(const struct an_ctx *c, int label_idx);

/* Compares label 0 (base) with label 1 (new) of c, group by group (groups matched by key).
 * The report names each side's latency origin and carries a warning when they differ (the
 * caller should make them equal first: README.md "compare"). Returns 0, or -1 when there is
 * nothing to compare (message in err). */
int cmp_run(FILE *f, const struct an_ctx *c, const struct cmp_opts *o, char *err,
            size_t errlen);

#endif
