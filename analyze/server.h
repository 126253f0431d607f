/* server.h — the server's own view beside the client's: the metrics records that
 * llmtrace-replay --scrape wrote (formats/SCHEMA.md "Metrics record"), reduced per label to
 * three series on the run's time axis — requests running, requests waiting and KV-cache usage —
 * from the names each server stack exports (vLLM, SGLang, TGI, llama.cpp --metrics,
 * llmtrace-sim; analyze/README.md "Server metrics"). */
#ifndef LLMTRACE_ANALYZE_SERVER_H
#define LLMTRACE_ANALYZE_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "tlog.h"

enum srv_kind { SRV_RUNNING = 0, SRV_WAITING, SRV_KV, SRV_KINDS };

struct srv_point {
    int64_t t_us;            /* epoch µs of the scrape */
    double v;                /* running/waiting: requests (summed over label sets, e.g.
                                engines); KV: fraction 0..1 (mean over label sets) */
};

struct srv_label {
    struct srv_point *p[SRV_KINDS];
    size_t n[SRV_KINDS], cap[SRV_KINDS];
    int prio[SRV_KINDS];     /* rank in the name table of the name kept; -1 none yet */
    const char *name[SRV_KINDS];
    int64_t samples;         /* metrics records with a sample (any name) */
    int64_t failures;        /* failed scrapes */
    char *first_error;       /* the first failed scrape's message */
};

struct srv_set {
    struct srv_label *l;     /* indexed by input label */
    size_t n;
};

void srv_init(struct srv_set *s);
void srv_free(struct srv_set *s);
/* Takes one metrics record of label l. 0, or -1 on allocation failure. */
int srv_add(struct srv_set *s, size_t l, const struct tlog_metrics *m);
/* Orders each series by time and merges the samples of one scrape (several label sets of
 * one name). Call once, after every record was added. */
void srv_finish(struct srv_set *s);
/* Label l has at least one series. */
int srv_has(const struct srv_set *s, size_t l);
/* Some label has a series (s may be NULL). */
int srv_any(const struct srv_set *s);
/* Why label l has no series, for the report ("no metrics records: …"); "" when it has. */
void srv_why(const struct srv_set *s, size_t l, char *out, size_t outlen);

#endif
