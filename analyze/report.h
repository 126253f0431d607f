/* report.h — llmtrace-analyze's outputs of group summaries: the aligned terminal table,
 * --json (key list in analyze/README.md), --csv and --markdown. Writes to a FILE it is given;
 * never exits. */
#ifndef LLMTRACE_ANALYZE_REPORT_H
#define LLMTRACE_ANALYZE_REPORT_H

#include <stdio.h>

#include "metrics.h"

struct cap_result;
struct srv_set;

/* What the reports say about each input log. */
struct an_input {
    char *label;
    char *path;
    char *tool;              /* header's tool; NULL when no header */
    char *command;           /* header's command line joined with spaces; may be NULL */
    char *started;           /* header start time, RFC 3339; may be NULL */
    char *describe;          /* tlog_reader_describe(); "" when clean */
    long long records, bad_lines;
    int rotation;            /* capture's header options.rotation_index; -1 when none */
    int saw_trailer;
    /* replay --shard K/N (header options.shard, .start_at, source.input); 0/0 when none */
    int shard_k, shard_n;
    double start_at;         /* seconds since the epoch; 0 when none */
    char *trace;             /* source.input of a replay: the trace it sent */
    double trace_bytes;      /* source.input_bytes: its size; -1 when not recorded */
    int64_t first_sched_us;  /* earliest replay.sched_us among its records; -1 none */
    int64_t first_start_us;  /* earliest start_us among its records; -1 none */
    int clock_known, clock_synced;
    int64_t clock_max_error_us;
};

struct an_report {
    const struct an_ctx *ctx;
    struct an_summary *sums;   /* one per group, in group order */
    const struct an_input *inputs;
    size_t n_inputs;
    int compat;                /* 0, or the --compat tool: report_compat_family(name) */
    const char *command;       /* analyze's own command line */
    const char *preface;       /* text shown before the summary (compare's table); may be NULL */
    const char *no_charts;     /* why there are no charts at all (HTML); NULL: gnuplot missing */
    const struct cap_result *cap; /* --slo with --by stage: the capacity answer (capacity.h),
                                     printed first; NULL or empty: none */
    const struct srv_set *server; /* server metrics series (server.h); NULL none */
};

/* The shortest decimal form of a finite v that reads back as the same double (%.15g, %.16g
 * or %.17g, whichever is shortest and exact), for --json and --csv. */
void report_dbl(char *out, size_t outlen, double v);
/* Group name for display: "label", "label key" when grouped by something else. */
void report_group_name(const struct an_ctx *c, size_t g, char *out, size_t outlen);
/* The footnotes every summary carries, one line each, the first starting with mark (the
 * marker of cells whose n_out was counted from stream events): that share, ITL from
 * histograms, connect time included. Nothing when none applies. */
void report_notes(FILE *f, const struct an_report *r, const char *mark);
/* Aligned table (<= 100 columns) plus a distribution block per group. */
void report_table(FILE *f, const struct an_report *r);
void report_json(FILE *f, const struct an_report *r);
void report_csv(FILE *f, const struct an_report *r);
void report_markdown(FILE *f, const struct an_report *r);
/* --per-request: the CSV header, then one row per exchange. */
void report_per_request_header(FILE *f);
void report_per_request_row(FILE *f, const char *label, const char *key,
                            const struct tlog_exchange *x, const struct an_req *q);
/* --compat tool name → family number (1 vllm, 2 genai-perf, 3 guidellm, 4 llmperf), 0 for
 * NULL or unknown. */
int report_compat_family(const char *name);
/* The capacity answer lines (one per label, prefix before each, "\n" after), first in every
 * report; nothing when r has none. */
void report_capacity(FILE *f, const struct an_report *r, const char *prefix);
/* Human name of a --by mode ("label", "stage", …). */
const char *report_by_name(enum an_by by);

#endif
