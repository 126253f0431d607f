/* scrape.h — replay's --scrape: the endpoint's own Prometheus metrics (running and waiting
 * requests, KV-cache use, preemptions…) sampled during the run by a thread of its own, written
 * into the results log as "metrics" records (formats/SCHEMA.md) beside the exchanges, so the
 * server's view and the client's share one time axis. A failed scrape is recorded and the run
 * goes on. */
#ifndef LLMTRACE_REPLAY_SCRAPE_H
#define LLMTRACE_REPLAY_SCRAPE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "client.h"

struct scrape_cfg {
    const char *url;           /* full URL of the exposition (…/metrics) */
    int64_t interval_us;       /* default 1 s */
    int all;                   /* 1: every sample (histogram buckets, summary quantiles too) */
    int insecure;
    const char *cacert;
    const struct clock_map *cmap;
    struct client_out *out;    /* the run's log (records written under its mutex) */
};

struct scrape_stats {
    uint64_t scrapes, failures, samples, skipped, bad_lines;
    char first_error[200];
};

struct scrape {
    struct scrape_cfg cfg;
    pthread_t th;
    atomic_int stop;
    int started;
    struct scrape_stats st;
    char err[256];
};

/* Starts the scraping thread (first scrape at once). 0, or -1 with s->err. */
int scrape_start(struct scrape *s, const struct scrape_cfg *cfg);
/* Takes one last scrape, stops the thread and fills s->st. */
void scrape_stop(struct scrape *s);

/* One exposition body → metrics records appended to the log at t_us (exposed for tests).
 * Returns the number of samples written. */
int64_t scrape_write_samples(struct client_out *out, const char *body, size_t len, int64_t t_us,
                             int all, struct scrape_stats *st);

#endif
