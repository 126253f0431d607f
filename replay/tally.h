/* tally.h — what llmtrace-replay's end summary says about output tokens, counted per worker
 * as exchanges complete: how many had n_out counted from stream events (a lower bound when an
 * event carries several tokens) or taken from a pinned max_tokens, and each request's TPOT.
 *
 * The client passes every completed exchange through tally_add once, before writing it; each
 * worker writes only its own slot, and the summary reads them after the workers joined. */
#ifndef LLMTRACE_REPLAY_TALLY_H
#define LLMTRACE_REPLAY_TALLY_H

#include <stddef.h>
#include <stdint.h>

#include "input.h"
#include "search.h"
#include "tlog.h"

#define TALLY_MAX_WORKERS 256

/* Prepares n_workers slots (1..TALLY_MAX_WORKERS). 0, or -1 (out of memory / bad count). */
int tally_init(int n_workers);
void tally_free(void);

/* Finishes the output count of completed exchange x of request r — when r pinned its output
 * length and the response ended at it, tokens_out becomes that length
 * (tlog_exchange_apply_pinned, tokens_source "max_tokens") — and counts x for the summary of
 * worker `worker`. Call once per exchange, after its usage, events and error are final and
 * before it is written. A worker outside the initialised slots is not counted. */
void tally_add(int worker, const struct replay_req *r, struct tlog_exchange *x);

/* --search: also keep each non-warm-up exchange's TTFT, TPOT and E2E (ms; measured from the
 * scheduled send time when from_sched, else from t0) for the stage's judgement. */
void tally_keep_samples(int on, int from_sched);

/* Where each worker's counts stood at one moment (the start of a stage). */
struct tally_counts {
    uint64_t done, from_events, pinned;
    size_t n_tpot;
    size_t n_samples;
};
struct tally_mark {
    struct tally_counts w[TALLY_MAX_WORKERS];
};
void tally_mark(struct tally_mark *m);

struct tally_summary {
    uint64_t done;             /* completed exchanges */
    uint64_t from_events;      /* of which tokens_source "events" */
    uint64_t pinned;           /* of which tokens_source "max_tokens" */
    size_t n_tpot;             /* TPOT samples (successful, n_out >= 2, >= 2 content events) */
    double tpot_p50_us, tpot_p99_us; /* NAN without samples */
};
/* Sums every worker's counts since m (NULL: since tally_init), with TPOT percentiles (linear
 * interpolation, NumPy's default). Only while no worker runs. */
void tally_since(const struct tally_mark *m, struct tally_summary *s);
/* The samples kept since m (tally_keep_samples), in one array the caller frees; *n their
 * count. NULL with *n = 0 when there are none. Only while no worker runs. */
struct slo_sample *tally_samples_since(const struct tally_mark *m, size_t *n);

#endif
