/* sim.h — llmtrace-sim's options and entry point, shared by main.c (argument parsing) and
 * server.c (the epoll server, request handling, faults and the ground-truth log). */
#ifndef LLMTRACE_SIM_SIM_H
#define LLMTRACE_SIM_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "profile.h"

struct sim_opts {
    char host[256];              /* numeric address from --listen (brackets removed) */
    char port[16];
    const char *listen;          /* as given */
    const char *port_file;
    const char *log_path;
    const char *model;           /* served model name (GET /v1/models, default "model") */
    int quiet;
    uint64_t seed;
    struct profile prof;
    const char *profile_spec;
    int max_batch;
    int tokens_per_event;
    int64_t chunked_prefill;     /* tokens per step, 0 = off (engine_set_chunked_prefill) */
    int64_t prefix_cache;        /* KV cache blocks with prefix caching, 0 = off (kvcache.h) */
    int64_t block_size;          /* tokens per KV block (--block-size) */
    int64_t queue_limit;         /* 0: unlimited */
    int threads;
    int64_t drain_us;
    int64_t idle_timeout_us;     /* close connections idle this long; 0: never */
    uint64_t max_body;
    int tokenizer_words;
    int64_t default_max_tokens;
    /* faults */
    double fail_rate;
    int fail_status;
    double reset_rate;
    double stall_rate;
    int64_t stall_ms;
    int64_t slow_start_ms;
    double malformed_rate;
    double drop_rate;
    /* wire behaviour of real servers (sim/README.md "Connection policies", "Personas") */
    int persona;                 /* enum gen_persona */
    int close_after_stream;      /* FIN after a streamed response, no Connection: close */
    int64_t keepalive_requests;  /* close after N responses (the Nth says close); 0: unlimited */
    int64_t keepalive_timeout_us; /* FIN when idle this long after a response; 0: off */
    int64_t close_race_every;    /* cut every Nth request arriving on a reused connection */
    double close_race_rate;      /* ... or each with this probability (seeded) */
    int64_t sse_comment_every;   /* an SSE comment before every Nth content event; 0: none */
    /* for the log header */
    int argc;
    char **argv;
};

/* Runs the server until SIGINT/SIGTERM and the drain that follows. Returns the process exit
 * code (0 clean, 1 runtime failure) and writes a one-line reason into err on failure. */
int sim_run(const struct sim_opts *o, char *err, size_t errlen);

#endif
