/* metrics.h — per-exchange metrics and per-group aggregation for llmtrace-analyze.
 *
 * Implements the metric definitions of analyze/README.md exactly: every
 * exchange becomes one compact struct an_req (values in µs) plus samples in its group's
 * inter-token-latency histograms, so memory is O(exchanges) with a small constant and no
 * event arrays are kept. Groups are keyed by (input label, --by key). */
#ifndef LLMTRACE_ANALYZE_METRICS_H
#define LLMTRACE_ANALYZE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "stats.h"
#include "tlog.h"

enum an_by { AN_BY_LABEL = 0, AN_BY_STAGE, AN_BY_WINDOW, AN_BY_PATH, AN_BY_MODEL, AN_BY_STATUS,
             AN_BY_TURN };
enum an_latency_from { AN_FROM_AUTO = 0, AN_FROM_SEND, AN_FROM_SCHEDULE };

#define AN_REQ_OK        0x01
#define AN_REQ_FROM_SCHED 0x02  /* latencies measured from replay.sched_us */
#define AN_REQ_HAS_LAG   0x04
#define AN_REQ_RESENT    0x08   /* replay.attempts: sent more than once (transport re-send) */
#define AN_REQ_NOUT_EVENTS 0x10 /* n_out counted from stream events (tokens_source "events") */
#define AN_REQ_CONNECT   0x20   /* connect_us known (a new connection) */
#define AN_REQ_WITH_CONNECT 0x40 /* connect_us added to TTFT/TTFB/E2E (--include-connect) */
#define AN_REQ_RATE_STAGE 0x80  /* replay.mode "rate": an open-loop stage (no target in-flight) */

/* One exchange, compact. Times are µs; -1 (or < 0 for tpot) = undefined. */
struct an_req {
    int64_t t0_us;           /* start_us (absolute) */
    int64_t end_abs_us;      /* start_us + end_us (or the last known offset) */
    uint64_t of_hash;        /* hash of replay.of (paired comparison); 0 none */
    uint64_t sess_hash;      /* hash of session.id; 0 no session */
    double tpot_us;          /* (last - first content) / (n_out - 1); < 0 undefined */
    int64_t lag_us;          /* t0 - t_sched; valid with AN_REQ_HAS_LAG */
    int32_t ttft_us, ttfb_us, e2e_us;  /* from t0 or t_sched (AN_REQ_FROM_SCHED) */
    int32_t first_ev_us;     /* first event of any kind (compat: vLLM/GenAI-Perf TTFT) */
    int32_t last_content_us; /* from t0 (compat: guidellm) */
    int32_t n_in, n_out;     /* -1 unknown */
    int32_t connect_us;      /* new connection's connect (+ TLS) time; -1 unknown/reused */
    int32_t resend_us;       /* re-sent: first attempt's start → this attempt's start; else 0 */
    int32_t n_cached;        /* usage.cached_tokens (prompt tokens the server had cached); -1 */
    int32_t turn;            /* session.turn (0 = first); -1 no session */
    uint16_t attempts;       /* earlier attempts (replay.attempts) */
    float stage;             /* replay.stage (whatever --by is: capacity, --steady); NAN none */
    uint32_t group;
    uint16_t status;
    uint8_t err_kind;        /* enum tlog_error_kind */
    uint8_t flags;
};

struct an_slo {              /* 0 = not set; µs */
    int64_t ttft_us, tpot_us, e2e_us;
};

struct an_group {
    char *label;             /* input label */
    int label_idx;
    char *key;               /* display key for --by (stage "8", path, model, status, "+60s") */
    int has_stage;
    double stage;
    int64_t win;             /* window index (AN_BY_WINDOW) */
    struct hist itl;         /* one sample per gap between content events */
    struct hist itl_tok;     /* per token: a gap ending in a k-token event → k samples gap/k */
    struct hist itl_vllm;    /* compat: gaps between all consecutive events */
    int64_t warmup_excluded;
    int64_t steady_dropped;  /* --steady: ramp-up and drain requests left out */
    int64_t transport_retries; /* records with resent_as: transport attempts, not requests */
    int64_t tokens_src[4];   /* requests by tokens_source (none, usage, events, max_tokens) */
    /* Exact ITL samples while the context keeps them (an_ctx.itl_exact): one gap per entry,
     * with the token count of the event that ends it (itl_tok: k samples of gap / k). */
    double *gap_v;
    uint32_t *gap_k;
    size_t gap_n, gap_cap;
    double *vgap_v;          /* compat: vLLM's gaps (every content gap plus role → first) */
    size_t vgap_n, vgap_cap;
};

/* Exact ITL samples kept in all (beyond: every group falls back to its histogram). */
#define AN_ITL_EXACT_MAX ((size_t)8 << 20)

struct an_ctx {
    enum an_by by;
    int64_t window_us;
    enum an_latency_from from;
    int include_warmup;
    struct an_slo slo;
    struct an_req *reqs;
    size_t n_reqs, cap_reqs;
    struct an_group *groups;
    size_t n_groups, cap_groups;
    char **labels;           /* input labels in order */
    size_t n_labels;
    int compat;              /* 1: also fill the --compat histograms (itl_vllm) */
    int compat_connect;      /* 1 (--compat vllm): vLLM's TTFT includes connect_us */
    int include_connect;     /* 1: TTFT/TTFB/E2E from the send include connect_us */
    int itl_exact;           /* 1 while every ITL sample is kept (exact percentiles) */
    size_t itl_samples;      /* exact samples kept, over every group */
    size_t itl_exact_max;    /* budget of exact samples (AN_ITL_EXACT_MAX; tests lower it) */
    int64_t *lab_t0, *lab_end; /* per label: min t0, max end (window spans) */
    struct an_steady *steady; /* --steady: per (label, stage) window kept; NULL: keep all */
    size_t n_steady;
    size_t *goff;            /* after an_sort_groups: reqs of group g are [goff[g], goff[g+1]) */
};

/* --steady (analyze/README.md "Steady state"): of the requests of one label's stage, those
 * that started before keep_from_us or ended after keep_to_us are left out. */
struct an_steady {
    int label_idx;
    float stage;
    int rate;                /* open-loop stage: ramp-up ends at the first completion */
    int reached;             /* concurrency: in-flight reached the stage's target */
    int64_t keep_from_us, keep_to_us;
    int64_t requests, ramp_dropped, drain_dropped;
    /* Every request of the stage that ended inside [keep_from_us, keep_to_us] — kept or not:
     * the window's rates (README "Steady state"). n_in_unknown > 0: total tok/s unknown. */
    int64_t win_done, win_ok, win_out, win_in, win_in_unknown;
};

/* Computes the --steady windows of every (label, stage) from the requests read into c (a
 * first pass without a window). *out gets a new array (caller frees), *n its length. 0 or -1
 * on allocation failure. */
int an_steady_plan(const struct an_ctx *c, struct an_steady **out, size_t *n);

/* Initialises an empty context. */
void an_init(struct an_ctx *c, enum an_by by, int64_t window_us, enum an_latency_from from,
             int include_warmup);
void an_free(struct an_ctx *c);
/* Registers an input label; returns its index or -1 on allocation failure. */
int an_add_label(struct an_ctx *c, const char *label);
/* Adds one exchange of input label_idx. Returns 1 when counted, 0 when excluded (warm-up),
 * -1 on allocation failure. If group_out is non-NULL it receives the group index (also for
 * a warm-up record). */
int an_add(struct an_ctx *c, int label_idx, const struct tlog_exchange *x, size_t *group_out);
/* Computes one exchange's metrics without storing them (also used for --per-request). */
void an_req_compute(const struct an_ctx *c, const struct tlog_exchange *x, struct an_req *r);
/* Orders groups: by label, then stage / window / key; rewrites reqs[].group and orders reqs
 * by group (stable) so summaries visit only their own requests. */
void an_sort_groups(struct an_ctx *c);

/* Everything reported for one group. Distributions are in milliseconds. */
struct an_summary {
    int64_t requests, ok, errors;
    int64_t err_by_kind[TLOG_ERROR_KIND_COUNT];
    int64_t warmup_excluded;
    int64_t steady_dropped;
    struct stats_dist ttft, ttfb, tpot, itl, itl_tok, e2e, lag, n_in, n_out, user_tok_s;
    /* --compat: the same exchanges under other tools' definitions (README.md). */
    struct stats_dist vllm_ttft, vllm_tpot, vllm_itl;
    struct stats_dist gp_ttft, gp_itl;          /* GenAI-Perf: its "ITL" is a TPOT */
    struct stats_dist gl_tpot, gl_itl;          /* guidellm: TPOT includes TTFT */
    struct stats_dist lp_itl, lp_out_tok_s;     /* llmperf */
    double span_s;           /* seconds the rates divide by (README "Group span") */
    int64_t transport_retries;
    int64_t n_out_events;    /* requests whose n_out was counted from stream events */
    int64_t resent, resends; /* requests sent more than once; their earlier attempts */
    struct stats_dist resend_ms;  /* extra time of the earlier attempts, per re-sent request */
    struct stats_dist connect_ms; /* connect (+ TLS) time of requests on a new connection */
    int itl_exact;           /* ITL percentiles exact (1) or from the histogram (0) */
    /* Token sums over every request of the group whose count is known (errors included);
     * n_*_known = how many requests contributed. */
    int64_t sum_in, sum_out, n_in_known, n_out_known;
    /* Per second of span, over every request (analyze/README.md "Group throughput"): output_tok_s =
     * sum_out; total_tok_s = sum_in + sum_out, NAN unless every request's n_in is known;
     * req_s = requests; ok_req_s = successful requests; goodput_req_s = slo_met. */
    double output_tok_s, total_tok_s, req_s, ok_req_s, goodput_req_s;
    int64_t slo_met;
    int64_t tokens_src[4];
    int from_sched;          /* requests whose latency was measured from the schedule */
    /* prefix cache: over requests reporting both usage.cached_tokens and a prompt size */
    int64_t cached_tokens, cached_prompt_tokens, cached_known;
    double cached_share;     /* cached_tokens / cached_prompt_tokens; NAN when none */
};

/* Session-level figures of one label (analyze/README.md "Sessions"): its requests that carry
 * a session object, grouped by session id. */
struct an_sessions {
    int64_t sessions;        /* distinct session ids (0: the label has none) */
    int64_t completed;       /* sessions every turn of which succeeded */
    int64_t slo_met;         /* … and met every --slo */
    int64_t turns;           /* requests in sessions */
    struct stats_dist duration_ms;  /* first turn's t0 → last turn's end */
    struct stats_dist turns_per;    /* turns (requests) per session */
    struct stats_dist ok_turns_per; /* successful turns per session */
    double span_s;           /* the label's span: first t0 to last end */
    double sessions_s;       /* sessions / span */
    double goodput_sessions_s; /* slo_met / span */
};

/* Fills s for label l. 0, or -1 on allocation failure. */
int an_sessions_of(const struct an_ctx *c, size_t l, struct an_sessions *s);

/* Summarizes group g (0 <= g < n_groups). compat: also fill the compat distributions.
 * Returns 0 or -1 on allocation failure. */
int an_summarize(const struct an_ctx *c, size_t g, int compat, struct an_summary *s);

/* Collects the values (ms) of one per-request metric of group g into a new array, sorted;
 * metric is one of "ttft", "ttfb", "tpot", "e2e", "lag". ok-only. *n gets the count;
 * NULL when empty or out of memory. */
double *an_collect(const struct an_ctx *c, size_t g, const char *metric, size_t *n);

/* Parses "ttft=500ms,tpot=50ms,e2e=10s" into slo. 0 or -1 (err gets the reason). */
int an_parse_slo(const char *s, struct an_slo *slo, char *err, size_t errlen);

/* FNV-1a 64 of a string (never 0). */
uint64_t an_hash_str(const char *s);

#endif
