/* client.h — the replay client: worker threads, each with its own HTTP client engine
 * (formats/net/hclient.h) on its own epoll + timerfd loop (wrk's shape: one loop per thread,
 * plain per-worker counters merged after join, no locks on the hot path). Every request gets
 * timestamps for its start, first byte, every stream event (decoded by formats/llmstream) and
 * end — the kernel's receive time of the bytes by default —, mapped to epoch µs; the finished
 * exchange is serialized by its worker and handed to the one trace-log writer under a mutex
 * (once per request, never per token). */
#ifndef LLMTRACE_REPLAY_CLIENT_H
#define LLMTRACE_REPLAY_CLIENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include "buf.h"
#include "clock.h"
#include "hclient.h"
#include "input.h"
#include "schedule.h"
#include "sessions.h"
#include "tlog.h"

/* The results log shared by all workers. */
struct client_out {
    pthread_mutex_t mu;
    struct tlog_writer *w;
    atomic_int failed;         /* a write failed: the run stops */
    char err[256];
    /* the run gives up on a target that never answers (--max-connect-errors) */
    atomic_int connected;      /* some request reached a connected socket */
    atomic_int_fast64_t connect_errors_in_a_row;
    atomic_int gave_up;
};

/* Read-only run configuration shared by every worker. */
struct client_cfg {
    const struct replay_input *in;
    char *base_url;            /* --url up to '?', no trailing slash (may carry credentials) */
    char *base_query;          /* --url's query without '?' (appended to every request) or NULL */
    const char *path;          /* --path override or NULL */
    const char *target;        /* base URL with credentials removed (records) */
    const char *host;          /* host[:port] of the target (request.host) */
    struct buf headers;        /* header lines sent with every request ("Name: value\r\n"):
                                  Content-Type, -H…, Authorization (client_cfg_add_header) */
    struct tlog_hdr *rec_headers; /* the same for the records, secrets redacted */
    size_t n_rec_headers;
    int insecure, http2;
    const char *cacert;        /* --cacert or NULL */
    int no_resend;             /* --no-resend */
    int conn_per_request;      /* --connection-per-request (vLLM's benchmark does this) */
    int preconnect;            /* closed loop: open the stage's connections before it starts */
    int64_t max_connect_errors;/* stop after this many connect failures in a row with nothing
                                  ever connected (0: never) */
    int64_t timeout_us;        /* 0: none */
    int64_t idle_timeout_us;   /* 0: none */
    int64_t connect_timeout_us;
    int64_t grace_us;
    int keep_text;
    int rx_kernel;             /* --timestamps kernel: the socket's receive times */
    const char *mode;          /* "original" | "rate" | "concurrency" */
    const char *id_prefix;
    struct tlog_write_opts wopts;
    struct clock_map cmap;
    struct client_out *out;
    atomic_int *stop;          /* 1: stop scheduling, wait grace, cancel the rest */
    const int64_t *offsets;    /* per record offset_us, for the schedule */
    /* --sessions (replay/README.md "Sessions"): the schedule's items are sessions, a turn is
     * due at its predecessor's response end + its think time; NULL when off */
    const struct sess_table *sessions;
    int history_live;          /* --history live: the endpoint's replies in the next turns */
    double think_speed;        /* think times are divided by this (--speed) */
    int64_t think_time_us;     /* --think-time for turns without a recorded one; -1: the gap */
};

enum phase_kind { PHASE_OPEN = 0, PHASE_CLOSED };

/* One stage of the run (a whole open-loop run is one phase). */
struct client_phase {
    enum phase_kind kind;
    struct sched_params sp;    /* open: worker/n_workers are set per worker */
    int64_t anchor_ns;         /* CLOCK_MONOTONIC of schedule offset 0 */
    int64_t max_inflight;      /* open: cap over all workers (0: none) */
    int64_t concurrency;       /* closed: requests in flight over all workers */
    uint64_t max_requests;     /* closed: requests in this stage (0: one pass, or loop) */
    int loop;                  /* closed: wrap around the records */
    int64_t end_ns;            /* closed: stop issuing at this time (0: none) */
    int has_stage;
    double stage;
    int64_t warmup;            /* first N requests of the phase are marked warm-up */
    uint64_t seq_base;         /* ids continue across phases */
    int shard_k, shard_n;      /* closed: this machine's share of the sequence */
    atomic_uint_fast64_t next; /* closed: next sequence number (shared) */
};

/* Counters one worker owns; other threads only read them (relaxed) for progress. */
struct client_stats {
    atomic_uint_fast64_t sent, done, errors, inflight, tokens_out;
    atomic_uint_fast64_t by_kind[TLOG_ERROR_KIND_COUNT];
    atomic_uint_fast64_t resent;       /* requests re-sent on a new connection */
    atomic_uint_fast64_t new_conns;    /* requests that went out on a new connection */
    /* --sessions */
    atomic_uint_fast64_t sess_started, sess_completed, sess_failed, sess_cut;
    atomic_uint_fast64_t turns_not_sent;       /* after a failed turn, a stop or --duration */
    atomic_uint_fast64_t history[SESS_HIST_COUNT]; /* live-history turns, by outcome */
    atomic_uint_fast64_t think_src[3];         /* turns by where their think time came from */
};

/* Samples kept for the end summary (µs). */
struct client_samples {
    int64_t *v;
    size_t n, cap;
};

struct client_xfer;
struct sess_open;

struct client_worker {
    int idx, n_workers;
    const struct client_cfg *cfg;
    struct client_phase *ph;
    struct hc_engine *hc;
    int ep, tfd;
    int64_t armed_ns;          /* what the timerfd is set to */
    struct client_xfer *active;/* in-flight transfers (list) */
    struct client_xfer *pool;  /* finished transfers kept for reuse (easy handles) */
    int64_t inflight, cap;
    struct sched sch;
    struct sched_item pending;
    int has_pending;
    int64_t issued;            /* requests issued in this phase by this worker */
    struct sess_open **sq;     /* --sessions: sessions waiting for their next turn (min-heap
                                  by due time) */
    size_t sq_n, sq_cap;
    int64_t n_open;            /* sessions in progress here (a turn in flight or waiting) */
    struct buf line;
    struct client_stats st;
    struct client_samples lag, ttft;
    uint64_t ttft_sum_n;
    int fatal;
    char err[256];
};

int client_global_init(void);
/* Adds one "Name: value" header line (no CR/LF) to what every request carries. 0 or -1. */
int client_cfg_add_header(struct client_cfg *cfg, const char *line);
void client_cfg_free_headers(struct client_cfg *cfg);
/* Prepares a worker (multi handle, epoll, timerfd). 0, or -1 with w->err. */
int client_worker_init(struct client_worker *w, int idx, int n_workers,
                       const struct client_cfg *cfg);
void client_worker_free(struct client_worker *w);
/* Runs one phase to its end (pthread start routine: arg is the worker, w->ph set). */
void *client_worker_run(void *arg);
/* The engine's result → error kind mapping (exposed for tests). */
enum tlog_error_kind client_error_kind(enum hc_error e);

#endif
