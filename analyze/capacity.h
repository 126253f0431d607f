/* capacity.h — the answer first: of a log's stages (replay --sweep or --search, grouped
 * --by stage), the highest load — and its output throughput — that meets every --slo at the
 * --slo-quantile, judged as replay --search judges (formats/base/slojudge: a confidence
 * interval of each quantile, "met" only when its upper bound is within the limit), and the
 * next stage up that does not. analyze/README.md "Capacity". */
#ifndef LLMTRACE_ANALYZE_CAPACITY_H
#define LLMTRACE_ANALYZE_CAPACITY_H

#include <stddef.h>

#include "metrics.h"
#include "slojudge.h"

struct cap_stage {
    size_t g;                /* its group */
    double stage;            /* replay.stage */
    double out_tok_s;        /* the group's output tokens/s */
    struct slo_verdict v;
    int from_record;         /* v is the stage record's (what replay --search decided) */
};

/* One label's stages, in increasing stage order. */
struct cap_label {
    int label_idx;
    int rate;                /* open-loop stages (req/s) rather than concurrency levels */
    struct cap_stage *st;
    size_t n;
    int best;                /* index of the highest stage that met; -1 none */
    int next;                /* the lowest stage above best (or the lowest of all when none
                                met) that did not meet; -1 when every stage above met */
};

/* The stage records of a replay --search log (SCHEMA.md "Stage record"), per label. */
struct cap_records {
    struct cap_rec {
        int label_idx;
        double stage, quantile;
        double slo_ms[SLO_N_METRICS];   /* NAN: no SLO on that metric */
        int64_t requests;
        int verdict;                    /* TLOG_VERDICT_* */
        int deciding;
        double point[SLO_N_METRICS], lo[SLO_N_METRICS], hi[SLO_N_METRICS];
        int present[SLO_N_METRICS];
    } *v;
    size_t n;
};
/* Keeps one stage record of label l. 0, or -1 on allocation failure. */
int cap_add_record(struct cap_records *r, int l, const struct tlog_stage *st);

struct cap_result {
    struct slo_target slo;
    int from_records;        /* stages whose verdict is their stage record's */
    struct cap_label *l;     /* labels with at least one stage */
    size_t n;
};

/* Judges every stage group of c (grouped by stage, sorted, summarized in sums). slo from
 * --slo (µs), quantile and alpha as given. A stage with a stage record (recs; NULL none)
 * judged at the same SLOs and quantile takes that record's verdict (the last one for its
 * stage: a lengthened stage's last run), so analyze says what the search decided; the
 * others are judged from their requests. 0, or -1 on allocation failure. A context not
 * grouped by stage, or without an SLO, gives n = 0. */
int cap_compute(const struct an_ctx *c, const struct an_summary *sums, const struct an_slo *slo,
                double quantile, double alpha, const struct cap_records *recs,
                struct cap_result *out);
void cap_free(struct cap_result *r);

/* The label's answer for people, one line without a newline: "highest output throughput
 * meeting the SLO (p90): 1234.5 tok/s at concurrency 16 [p90 E2E 812.0 ms, 95 % CI 790.1 to
 * 840.3, <= 1000 ms]; next stage (concurrency 32) fails on p90 E2E: …". */
void cap_line(const struct an_ctx *c, const struct cap_result *r, size_t i, char *out,
              size_t outlen);

/* The "capacity" array of --json (analyze/README.md). */
struct buf;
void cap_json(struct buf *b, const struct an_ctx *c, const struct cap_result *r);

#endif
