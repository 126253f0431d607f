/* main.c — llmtrace-replay: replays a trace log or an OpenAI Batch API file against an endpoint
 * with original, scaled, rate, concurrency or sweep timing, recording every event's timestamp
 * into a trace log (formats/SCHEMA.md). This file parses the command
 * line, builds the run, handles signals, progress and the summary; client.c does the traffic. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "input.h"
#include "redact.h"
#include "schedule.h"
#include "scrape.h"
#include "search.h"
#include "sessions.h"
#include "tally.h"
#include "tlog.h"
#include "units.h"

#define PROG "llmtrace-replay"
#define MAX_STAGES 64
#define MAX_HEADERS 64
#define STAGE_REQUESTS_ALL (-1) /* --stage-requests all: one pass over the input per stage */

static const char usage_text[] =
    "Usage: " PROG " INPUT --url URL -o OUT.jsonl.gz [options]\n"
    "\n"
    "Replays the requests of INPUT (any llmtrace trace log, or an OpenAI Batch API .jsonl with\n"
    "optional \"timestamp_ms\" per line; '-' = stdin) against URL and records every response,\n"
    "with a timestamp per stream event, into a trace log.\n"
    "\n"
    "Target and rewriting:\n"
    "  --url URL               base URL (http:// or https://); the recorded path is appended\n"
    "  --path PATH             send every request to PATH instead of its recorded path\n"
    "  -H, --header 'N: V'     extra request header (repeatable)\n"
    "  --api-key-env VAR       send 'Authorization: Bearer $VAR' (the key is read from the\n"
    "                          environment only; it never appears in argv, logs or errors)\n"
    "  --insecure              do not verify TLS certificates\n"
    "  --http2                 use HTTP/2 (over TLS; h2c is not attempted)\n"
    "  --model NAME            replace the model of every request\n"
    "  --max-tokens original|N pin the output length (original: the recorded output count)\n"
    "  --ignore-eos            set ignore_eos (vLLM, SGLang, llama.cpp)\n"
    "  --stream on|keep        force streaming on, or keep the recorded setting (default)\n"
    "  --include-usage         ask streaming OpenAI requests for usage (the default):\n"
    "                          stream_options.include_usage, so n_out is the server's count\n"
    "  --no-include-usage      leave requests as recorded (byte for byte when nothing else\n"
    "                          is rewritten); n_out is then counted from stream events\n"
    "  --dialect D             auto (default), openai, anthropic, ollama, tgi, or a full name\n"
    "\n"
    "Timing (one absolute schedule; each record keeps its scheduled and actual send time):\n"
    "  --timing original       send each request at its recorded offset (default)\n"
    "  --speed X               divide recorded offsets by X (2 = twice as fast)\n"
    "  --rate R                open loop at R requests/s, ignoring recorded times\n"
    "  --arrival A             constant, poisson (default) or gamma, with --rate\n"
    "  --burstiness K          gamma shape (1 = Poisson, < 1 burstier); default 1\n"
    "  --seed S                arrival process seed (default 1)\n"
    "  -c, --concurrency N     closed loop: N requests in flight, the next when one finishes\n"
    "  --sweep 1,2,4,…         successive closed-loop stages, records tagged with their stage;\n"
    "                          needs --stage-requests or --stage-duration\n"
    "  --stage-requests N|all  requests per sweep stage (wrapping around the input); all: one\n"
    "                          pass over the selected input per stage\n"
    "  --stage-duration T      duration of each sweep stage (e.g. 30s)\n"
    "  --stage-pause T         pause between stages\n"
    "  --max-inflight N        cap open-loop concurrency (waiting time is recorded)\n"
    "  --duration T            stop scheduling after T\n"
    "  --warmup N              mark the first N requests (of each stage) as warm-up\n"
    "  --loop                  repeat the input until --duration (or Ctrl-C)\n"
    "  --shard K/N             send only this machine's share (K of N) of the sequence\n"
    "  --start-at EPOCH        start the schedule at this Unix time (seconds, may be fractional)\n"
    "\n"
    "Sessions (conversations replayed as conversations; see README):\n"
    "  --sessions              replay each session's turns in order: a turn is sent at its\n"
    "                          predecessor's response end + its recorded think time / --speed,\n"
    "                          never before; first turns follow the timing mode; -c N = N\n"
    "                          sessions in flight; a failed turn ends its session\n"
    "  --history live|recorded with --sessions: put the endpoint's own reply (text and tool\n"
    "                          calls) into the next turn's messages (live, the default), or\n"
    "                          send the recorded history\n"
    "  --think-time T          think time of turns that recorded none (default: the recorded\n"
    "                          gap, next start - previous end)\n"
    "\n"
    "Selection:\n"
    "  --limit N  --skip N     keep at most N requests / drop the first N\n"
    "  --from T  --to T        keep requests recorded in [T, T2) from the trace's first\n"
    "  --filter-path P         keep paths starting with P (or matching the glob P)\n"
    "  Requests go in recorded start order. --limit and --to stop reading once the selection\n"
    "  is complete while the input is in start order (as llmtrace-convert writes it); an input\n"
    "  out of order is read in full and sorted (warned).\n"
    "\n"
    "Capacity search (the largest load meeting latency SLOs, found automatically):\n"
    "  --search concurrency|rate  grow from --search-start by --search-factor until a stage\n"
    "                          fails, then bisect until the bracket is within --search-tolerance\n"
    "  --slo ttft=500,tpot=50,e2e=10s  the SLOs (bare numbers are ms; us, ms, s)\n"
    "  --slo-quantile Q        judge the Q-quantile of each metric (default 0.9) by a 95 %\n"
    "                          confidence interval: met, failed, or undecided (lengthened)\n"
    "  --goodput-min F         judge instead the share of requests meeting every SLO (e.g. 0.99)\n"
    "  --search-start X  --search-factor F  --search-tolerance T  --search-stages N\n"
    "                          (defaults 1, 2, 0.05, 12); --stage-requests N measured requests\n"
    "                          per stage (default: enough for the quantile's interval, >= 100),\n"
    "                          after --warmup N (default: the concurrency, or one second)\n"
    "  --json                  print the search's answer as JSON on stdout\n"
    "\n"
    "Server metrics:\n"
    "  --scrape [URL]          sample the endpoint's Prometheus metrics during the run (default\n"
    "                          URL: the target's /metrics) into the log as \"metrics\" records\n"
    "  --scrape-interval T     default 1s      --scrape-all  histogram buckets too\n"
    "\n"
    "Client and output:\n"
    "  -o, --output FILE       results trace log (.jsonl.gz; '-' = stdout)\n"
    "  --threads N             worker threads, each with its own event loop (default 1)\n"
    "  --timeout T             total time limit per request (default 10m; 0 = none)\n"
    "  --idle-timeout T        limit between received bytes (default 2m; 0 = none)\n"
    "  --connect-timeout T     default 10s\n"
    "  --grace T               on Ctrl-C, wait T for in-flight requests (default 5s)\n"
    "  --no-bodies             do not record request bodies and output text\n"
    "  --timestamps kernel|user  when bytes reached this host (the socket's receive time,\n"
    "                          default) or when the worker read them\n"
    "  --cacert FILE           verify TLS certificates against FILE (PEM)\n"
    "  --no-resend             never re-send; by default a request that dies on a reused\n"
    "                          connection before any response byte is re-sent once, on a\n"
    "                          new connection, and recorded (replay.attempts)\n"
    "  --connection-per-request  a new connection for every request (as vLLM's benchmark)\n"
    "  --no-preconnect         closed loop: do not open a stage's connections before it starts\n"
    "  --max-connect-errors N  stop after N connect failures in a row while nothing has ever\n"
    "                          connected (default 10; 0 = never)\n"
    "  -q, --quiet             no progress line and no summary\n"
    "  -h, --help  -V, --version\n"
    "\n"
    "Ctrl-C stops scheduling, waits --grace, records the rest as cancelled and closes the log\n"
    "(while the input is read: nothing is sent); a second Ctrl-C exits at once, leaving the\n"
    "log readable. Progress (on a terminal) shows the current stage's tok/s and the run's ETA;\n"
    "the summary marks tok/s and TPOT with * when n_out was counted from stream events.\n"
    "\n"
    "Exit status: 0 the run completed (failed requests are in the log and the summary);\n"
    "1 runtime failure (input unreadable, output unwritable, interrupted, or no request could\n"
    "connect, TLS included); 2 usage error.\n"
    "\n"
    "Examples:\n"
    "  " PROG " prod.jsonl.gz --url http://staging:8000 --speed 2 -o run.jsonl.gz\n"
    "  " PROG " prod.jsonl.gz --url http://localhost:8000 --sweep 1,2,4,8,16,32,64 \\\n"
    "      --stage-requests 200 --max-tokens original -o sweep.jsonl.gz\n"
    "  OPENAI_API_KEY=… " PROG " batch.jsonl --url https://api.example.com --rate 5 \\\n"
    "      --arrival poisson --duration 10m --loop --api-key-env OPENAI_API_KEY -o out.jsonl.gz\n"
    "  " PROG " chats.jsonl.gz --url http://localhost:8000 --sessions -c 16 -o s.jsonl.gz\n"
    "  " PROG " chats.jsonl.gz --url http://localhost:8000 --sessions --speed 4 \\\n"
    "      --history recorded -o s.jsonl.gz   # sessions start as recorded, think times / 4\n";

struct opts {
    const char *input, *output, *url, *path;
    const char *headers[MAX_HEADERS];
    int n_headers;
    const char *api_key_env;
    int insecure, http2;
    const char *model;
    int64_t max_tokens;
    int ignore_eos, stream_on, include_usage;
    enum dialect_id dialect;
    double speed;
    double rate;
    enum sched_arrival arrival;
    double burstiness;
    uint64_t seed;
    int64_t concurrency;
    int64_t sweep[MAX_STAGES];
    size_t n_sweep;
    int64_t stage_requests, stage_duration_us, stage_pause_us;
    int64_t max_inflight, duration_us, warmup;
    int loop;
    int shard_k, shard_n;
    int has_start_at;
    double start_at;
    struct input_select sel;
    int64_t threads;
    int64_t timeout_us, idle_timeout_us, connect_timeout_us, grace_us;
    int no_bodies, quiet;
    int user_timestamps;
    const char *cacert;
    int no_resend, conn_per_request, no_preconnect;
    int64_t max_connect_errors;
    int search;                /* 0 none, 1 concurrency, 2 rate */
    struct slo_target slo;
    int slo_given;
    double search_start, search_factor, search_tolerance;
    int64_t search_stages, search_lengthen;
    int warmup_given;
    int json;
    const char *scrape_url;    /* NULL: no scraping; "" the target's /metrics */
    int64_t scrape_interval_us;
    int scrape_all;
    int sessions, history_recorded, history_set;
    int64_t think_time_us;     /* -1: not given */
};

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, PROG ": ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry '" PROG " --help'.\n");
    return 2;
}

enum {
    O_URL = 256, O_PATH, O_API_KEY_ENV, O_INSECURE, O_HTTP2, O_MODEL, O_MAX_TOKENS, O_IGNORE_EOS,
    O_STREAM, O_INCLUDE_USAGE, O_DIALECT, O_TIMING, O_SPEED, O_RATE, O_ARRIVAL, O_BURSTINESS,
    O_SEED, O_SWEEP, O_STAGE_REQUESTS, O_STAGE_DURATION, O_STAGE_PAUSE, O_MAX_INFLIGHT,
    O_DURATION, O_WARMUP, O_LOOP, O_SHARD, O_START_AT, O_LIMIT, O_SKIP, O_FROM, O_TO,
    O_FILTER_PATH, O_THREADS, O_TIMEOUT, O_IDLE_TIMEOUT, O_CONNECT_TIMEOUT, O_GRACE, O_NO_BODIES,
    O_TIMESTAMPS, O_CACERT, O_NO_RESEND, O_CONN_PER_REQUEST, O_NO_PRECONNECT,
    O_MAX_CONNECT_ERRORS, O_NO_INCLUDE_USAGE, O_SEARCH, O_SLO, O_SLO_QUANTILE, O_GOODPUT_MIN,
    O_SEARCH_START, O_SEARCH_FACTOR, O_SEARCH_TOLERANCE, O_SEARCH_STAGES, O_SEARCH_LENGTHEN,
    O_JSON, O_SCRAPE, O_SCRAPE_INTERVAL, O_SCRAPE_ALL, O_SESSIONS, O_HISTORY, O_THINK_TIME
};

static const struct option long_opts[] = {
    {"url", required_argument, 0, O_URL},
    {"path", required_argument, 0, O_PATH},
    {"header", required_argument, 0, 'H'},
    {"api-key-env", required_argument, 0, O_API_KEY_ENV},
    {"insecure", no_argument, 0, O_INSECURE},
    {"http2", no_argument, 0, O_HTTP2},
    {"model", required_argument, 0, O_MODEL},
    {"max-tokens", required_argument, 0, O_MAX_TOKENS},
    {"ignore-eos", no_argument, 0, O_IGNORE_EOS},
    {"stream", required_argument, 0, O_STREAM},
    {"include-usage", no_argument, 0, O_INCLUDE_USAGE},
    {"no-include-usage", no_argument, 0, O_NO_INCLUDE_USAGE},
    {"dialect", required_argument, 0, O_DIALECT},
    {"timing", required_argument, 0, O_TIMING},
    {"speed", required_argument, 0, O_SPEED},
    {"rate", required_argument, 0, O_RATE},
    {"arrival", required_argument, 0, O_ARRIVAL},
    {"burstiness", required_argument, 0, O_BURSTINESS},
    {"seed", required_argument, 0, O_SEED},
    {"concurrency", required_argument, 0, 'c'},
    {"sweep", required_argument, 0, O_SWEEP},
    {"stage-requests", required_argument, 0, O_STAGE_REQUESTS},
    {"stage-duration", required_argument, 0, O_STAGE_DURATION},
    {"stage-pause", required_argument, 0, O_STAGE_PAUSE},
    {"max-inflight", required_argument, 0, O_MAX_INFLIGHT},
    {"duration", required_argument, 0, O_DURATION},
    {"warmup", required_argument, 0, O_WARMUP},
    {"loop", no_argument, 0, O_LOOP},
    {"shard", required_argument, 0, O_SHARD},
    {"start-at", required_argument, 0, O_START_AT},
    {"limit", required_argument, 0, O_LIMIT},
    {"skip", required_argument, 0, O_SKIP},
    {"from", required_argument, 0, O_FROM},
    {"to", required_argument, 0, O_TO},
    {"filter-path", required_argument, 0, O_FILTER_PATH},
    {"output", required_argument, 0, 'o'},
    {"threads", required_argument, 0, O_THREADS},
    {"timeout", required_argument, 0, O_TIMEOUT},
    {"idle-timeout", required_argument, 0, O_IDLE_TIMEOUT},
    {"connect-timeout", required_argument, 0, O_CONNECT_TIMEOUT},
    {"grace", required_argument, 0, O_GRACE},
    {"no-bodies", no_argument, 0, O_NO_BODIES},
    {"timestamps", required_argument, 0, O_TIMESTAMPS},
    {"cacert", required_argument, 0, O_CACERT},
    {"no-resend", no_argument, 0, O_NO_RESEND},
    {"connection-per-request", no_argument, 0, O_CONN_PER_REQUEST},
    {"no-preconnect", no_argument, 0, O_NO_PRECONNECT},
    {"max-connect-errors", required_argument, 0, O_MAX_CONNECT_ERRORS},
    {"search", required_argument, 0, O_SEARCH},
    {"slo", required_argument, 0, O_SLO},
    {"slo-quantile", required_argument, 0, O_SLO_QUANTILE},
    {"goodput-min", required_argument, 0, O_GOODPUT_MIN},
    {"search-start", required_argument, 0, O_SEARCH_START},
    {"search-factor", required_argument, 0, O_SEARCH_FACTOR},
    {"search-tolerance", required_argument, 0, O_SEARCH_TOLERANCE},
    {"search-stages", required_argument, 0, O_SEARCH_STAGES},
    {"search-lengthen", required_argument, 0, O_SEARCH_LENGTHEN},
    {"json", no_argument, 0, O_JSON},
    {"scrape", optional_argument, 0, O_SCRAPE},
    {"scrape-interval", required_argument, 0, O_SCRAPE_INTERVAL},
    {"scrape-all", no_argument, 0, O_SCRAPE_ALL},
    {"sessions", no_argument, 0, O_SESSIONS},
    {"history", required_argument, 0, O_HISTORY},
    {"think-time", required_argument, 0, O_THINK_TIME},
    {"quiet", no_argument, 0, 'q'},
    {"help", no_argument, 0, 'h'},
    {"version", no_argument, 0, 'V'},
    {0, 0, 0, 0},
};

/* Parses argv into o. Returns -1 to continue, or an exit status (0 after --help/--version). */
static int opts_parse(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof(*o));
    o->max_tokens = REWRITE_MAX_TOKENS_KEEP;
    o->speed = 1;
    o->arrival = ARRIVAL_POISSON;
    o->burstiness = 1;
    o->seed = 1;
    o->shard_k = o->shard_n = 1;
    o->threads = 1;
    o->timeout_us = 600 * 1000000LL;
    o->idle_timeout_us = 120 * 1000000LL;
    o->connect_timeout_us = 10 * 1000000LL;
    o->grace_us = 5 * 1000000LL;
    o->max_connect_errors = 10;
    o->slo.quantile = 0.9;
    o->slo.alpha = 0.05;
    o->search_factor = 2;
    o->search_tolerance = 0.05;
    o->search_stages = 12;
    o->search_lengthen = 2;
    o->scrape_interval_us = 1000000;
    o->include_usage = 1;
    o->think_time_us = -1;
    int c, speed_set = 0;
    int64_t v;
    while ((c = getopt_long(argc, argv, "H:c:o:qhV", long_opts, NULL)) != -1) {
        switch (c) {
        case O_URL: o->url = optarg; break;
        case O_PATH: o->path = optarg; break;
        case 'H':
            if (o->n_headers >= MAX_HEADERS)
                return usage_error("too many -H headers (max %s)", "64");
            if (!strchr(optarg, ':') || optarg[0] == ':')
                return usage_error("-H expects 'Name: value', got '%s'", optarg);
            o->headers[o->n_headers++] = optarg;
            break;
        case O_API_KEY_ENV: o->api_key_env = optarg; break;
        case O_INSECURE: o->insecure = 1; break;
        case O_HTTP2: o->http2 = 1; break;
        case O_MODEL: o->model = optarg; break;
        case O_MAX_TOKENS:
            if (!strcmp(optarg, "original"))
                o->max_tokens = REWRITE_MAX_TOKENS_ORIGINAL;
            else if (units_parse_int64(optarg, 1, INT32_MAX, &o->max_tokens))
                return usage_error("--max-tokens expects 'original' or a count >= 1, got '%s'",
                                   optarg);
            break;
        case O_IGNORE_EOS: o->ignore_eos = 1; break;
        case O_STREAM:
            if (!strcmp(optarg, "on"))
                o->stream_on = 1;
            else if (strcmp(optarg, "keep"))
                return usage_error("--stream expects on or keep, got '%s'", optarg);
            break;
        case O_INCLUDE_USAGE: o->include_usage = 1; break;
        case O_NO_INCLUDE_USAGE: o->include_usage = 0; break;
        case O_DIALECT:
            if (!strcmp(optarg, "auto"))
                o->dialect = DIALECT_UNKNOWN;
            else if ((o->dialect = dialect_parse_name(optarg)) == DIALECT_UNKNOWN)
                return usage_error("unknown dialect '%s'", optarg);
            break;
        case O_TIMING:
            if (strcmp(optarg, "original"))
                return usage_error("--timing accepts 'original' (use --rate or -c for the "
                                   "others), got '%s'", optarg);
            break;
        case O_SPEED:
            if (units_parse_double(optarg, &o->speed) || !(o->speed > 0))
                return usage_error("--speed expects a number > 0, got '%s'", optarg);
            speed_set = 1;
            break;
        case O_RATE:
            if (units_parse_double(optarg, &o->rate) || !(o->rate > 0))
                return usage_error("--rate expects requests/s > 0, got '%s'", optarg);
            break;
        case O_ARRIVAL:
            if (!strcmp(optarg, "constant"))
                o->arrival = ARRIVAL_CONSTANT;
            else if (!strcmp(optarg, "poisson"))
                o->arrival = ARRIVAL_POISSON;
            else if (!strcmp(optarg, "gamma"))
                o->arrival = ARRIVAL_GAMMA;
            else
                return usage_error("--arrival expects constant, poisson or gamma, got '%s'",
                                   optarg);
            break;
        case O_BURSTINESS:
            if (units_parse_double(optarg, &o->burstiness) || !(o->burstiness > 0))
                return usage_error("--burstiness expects a number > 0, got '%s'", optarg);
            break;
        case O_SEED:
            if (units_parse_int64(optarg, 0, INT64_MAX, &v))
                return usage_error("--seed expects an integer >= 0, got '%s'", optarg);
            o->seed = (uint64_t)v;
            break;
        case 'c':
            if (units_parse_int64(optarg, 1, 1000000, &o->concurrency))
                return usage_error("-c expects 1..1000000, got '%s'", optarg);
            break;
        case O_SWEEP:
            if (units_parse_int_list(optarg, 1, 1000000, o->sweep, MAX_STAGES, &o->n_sweep) ||
                o->n_sweep == 0)
                return usage_error("--sweep expects a list like 1,2,4,8 (1..1000000, at most 64),"
                                   " got '%s'", optarg);
            break;
        case O_STAGE_REQUESTS:
            if (!strcmp(optarg, "all"))
                o->stage_requests = STAGE_REQUESTS_ALL;
            else if (units_parse_int64(optarg, 1, INT64_MAX / 4, &o->stage_requests))
                return usage_error("--stage-requests expects a count >= 1 or 'all', got '%s'",
                                   optarg);
            break;
        case O_STAGE_DURATION:
            if (units_parse_duration_us(optarg, &o->stage_duration_us) || !o->stage_duration_us)
                return usage_error("--stage-duration expects a duration like 30s, got '%s'",
                                   optarg);
            break;
        case O_STAGE_PAUSE:
            if (units_parse_duration_us(optarg, &o->stage_pause_us))
                return usage_error("--stage-pause expects a duration, got '%s'", optarg);
            break;
        case O_MAX_INFLIGHT:
            if (units_parse_int64(optarg, 1, 1000000, &o->max_inflight))
                return usage_error("--max-inflight expects 1..1000000, got '%s'", optarg);
            break;
        case O_DURATION:
            if (units_parse_duration_us(optarg, &o->duration_us) || !o->duration_us)
                return usage_error("--duration expects a duration like 10m, got '%s'", optarg);
            break;
        case O_WARMUP:
            if (units_parse_int64(optarg, 0, INT64_MAX, &o->warmup))
                return usage_error("--warmup expects a count, got '%s'", optarg);
            o->warmup_given = 1;
            break;
        case O_LOOP: o->loop = 1; break;
        case O_SHARD: {
            int k, n, used = 0;
            if (sscanf(optarg, "%d/%d%n", &k, &n, &used) != 2 || optarg[used] || n < 1 ||
                k < 1 || k > n)
                return usage_error("--shard expects K/N with 1 <= K <= N, got '%s'", optarg);
            o->shard_k = k;
            o->shard_n = n;
            break;
        }
        case O_START_AT:
            if (units_parse_double(optarg, &o->start_at) || o->start_at <= 0)
                return usage_error("--start-at expects Unix time in seconds, got '%s'", optarg);
            o->has_start_at = 1;
            break;
        case O_LIMIT:
            if (units_parse_int64(optarg, 1, INT64_MAX, &o->sel.limit))
                return usage_error("--limit expects a count >= 1, got '%s'", optarg);
            break;
        case O_SKIP:
            if (units_parse_int64(optarg, 0, INT64_MAX, &o->sel.skip))
                return usage_error("--skip expects a count, got '%s'", optarg);
            break;
        case O_FROM:
            if (units_parse_duration_us(optarg, &o->sel.from_us))
                return usage_error("--from expects a duration, got '%s'", optarg);
            break;
        case O_TO:
            if (units_parse_duration_us(optarg, &o->sel.to_us) || !o->sel.to_us)
                return usage_error("--to expects a duration > 0, got '%s'", optarg);
            break;
        case O_FILTER_PATH: o->sel.filter_path = optarg; break;
        case 'o': o->output = optarg; break;
        case O_THREADS:
            if (units_parse_int64(optarg, 1, 256, &o->threads))
                return usage_error("--threads expects 1..256, got '%s'", optarg);
            break;
        case O_TIMEOUT:
            if (units_parse_duration_us(optarg, &o->timeout_us))
                return usage_error("--timeout expects a duration, got '%s'", optarg);
            break;
        case O_IDLE_TIMEOUT:
            if (units_parse_duration_us(optarg, &o->idle_timeout_us))
                return usage_error("--idle-timeout expects a duration, got '%s'", optarg);
            break;
        case O_CONNECT_TIMEOUT:
            if (units_parse_duration_us(optarg, &o->connect_timeout_us) ||
                o->connect_timeout_us < 1000)
                return usage_error("--connect-timeout expects a duration >= 1ms, got '%s'",
                                   optarg);
            break;
        case O_GRACE:
            if (units_parse_duration_us(optarg, &o->grace_us))
                return usage_error("--grace expects a duration, got '%s'", optarg);
            break;
        case O_NO_BODIES: o->no_bodies = 1; break;
        case O_TIMESTAMPS:
            if (strcmp(optarg, "kernel") && strcmp(optarg, "user"))
                return usage_error("--timestamps expects kernel or user, got '%s'", optarg);
            o->user_timestamps = !strcmp(optarg, "user");
            break;
        case O_CACERT: o->cacert = optarg; break;
        case O_NO_RESEND: o->no_resend = 1; break;
        case O_CONN_PER_REQUEST: o->conn_per_request = 1; break;
        case O_NO_PRECONNECT: o->no_preconnect = 1; break;
        case O_MAX_CONNECT_ERRORS:
            if (units_parse_int64(optarg, 0, 1000000000, &o->max_connect_errors))
                return usage_error("--max-connect-errors expects a count, got '%s'", optarg);
            break;
        case O_SEARCH:
            if (!strcmp(optarg, "concurrency"))
                o->search = 1;
            else if (!strcmp(optarg, "rate"))
                o->search = 2;
            else
                return usage_error("--search expects concurrency or rate, got '%s'", optarg);
            break;
        case O_SLO: {
            char e[200];
            if (search_parse_slo(optarg, &o->slo, e, sizeof e))
                return usage_error("%s", e);
            o->slo_given = 1;
            break;
        }
        case O_SLO_QUANTILE:
            if (units_parse_double(optarg, &o->slo.quantile) || !(o->slo.quantile > 0) ||
                !(o->slo.quantile < 1))
                return usage_error("--slo-quantile expects 0 < Q < 1, got '%s'", optarg);
            break;
        case O_GOODPUT_MIN:
            if (units_parse_double(optarg, &o->slo.goodput_min) || !(o->slo.goodput_min > 0) ||
                o->slo.goodput_min > 1)
                return usage_error("--goodput-min expects 0 < F <= 1, got '%s'", optarg);
            break;
        case O_SEARCH_START:
            if (units_parse_double(optarg, &o->search_start) || !(o->search_start > 0))
                return usage_error("--search-start expects a positive number, got '%s'", optarg);
            break;
        case O_SEARCH_FACTOR:
            if (units_parse_double(optarg, &o->search_factor) || !(o->search_factor > 1))
                return usage_error("--search-factor expects a number > 1, got '%s'", optarg);
            break;
        case O_SEARCH_TOLERANCE:
            if (units_parse_double(optarg, &o->search_tolerance) ||
                !(o->search_tolerance > 0) || o->search_tolerance >= 1)
                return usage_error("--search-tolerance expects 0 < T < 1, got '%s'", optarg);
            break;
        case O_SEARCH_STAGES:
            if (units_parse_int64(optarg, 1, MAX_STAGES, &o->search_stages))
                return usage_error("--search-stages expects 1…64, got '%s'", optarg);
            break;
        case O_SEARCH_LENGTHEN:
            if (units_parse_int64(optarg, 0, 6, &o->search_lengthen))
                return usage_error("--search-lengthen expects 0…6, got '%s'", optarg);
            break;
        case O_JSON: o->json = 1; break;
        case O_SCRAPE:
            /* --scrape alone: the target's /metrics; --scrape=URL or --scrape URL */
            if (optarg)
                o->scrape_url = optarg;
            else if (optind < argc && (!strncmp(argv[optind], "http://", 7) ||
                                       !strncmp(argv[optind], "https://", 8)))
                o->scrape_url = argv[optind++];
            else
                o->scrape_url = "";
            break;
        case O_SCRAPE_INTERVAL:
            if (units_parse_duration_us(optarg, &o->scrape_interval_us) ||
                o->scrape_interval_us < 10000)
                return usage_error("--scrape-interval expects a duration >= 10ms, got '%s'",
                                   optarg);
            break;
        case O_SCRAPE_ALL: o->scrape_all = 1; break;
        case O_SESSIONS: o->sessions = 1; break;
        case O_HISTORY:
            if (strcmp(optarg, "live") && strcmp(optarg, "recorded"))
                return usage_error("--history expects live or recorded, got '%s'", optarg);
            o->history_recorded = !strcmp(optarg, "recorded");
            o->history_set = 1;
            break;
        case O_THINK_TIME:
            if (units_parse_duration_us(optarg, &o->think_time_us))
                return usage_error("--think-time expects a duration like 2s, got '%s'", optarg);
            break;
        case 'q': o->quiet = 1; break;
        case 'h': fputs(usage_text, stdout); return 0;
        case 'V': printf(PROG " %s\n", LLMTRACE_VERSION); return 0;
        default: fprintf(stderr, "Try '" PROG " --help'.\n"); return 2;
        }
    }
    if (optind >= argc)
        return usage_error("missing INPUT (a trace log or Batch API .jsonl)%s", "");
    if (optind + 1 < argc)
        return usage_error("unexpected argument '%s'", argv[optind + 1]);
    o->input = argv[optind];
    if (!o->url)
        return usage_error("missing --url%s", "");
    if (strncmp(o->url, "http://", 7) && strncmp(o->url, "https://", 8)) {
        char *shown = redact_url(o->url);
        int rc = usage_error("--url must start with http:// or https://, got '%s'",
                             shown ? shown : "?");
        free(shown);
        return rc;
    }
    if (!o->output)
        return usage_error("missing -o OUTPUT (the results trace log)%s", "");
    int modes = (o->rate > 0) + (o->concurrency > 0) + (o->n_sweep > 0) + (o->search > 0);
    if (modes > 1)
        return usage_error("--rate, -c, --sweep and --search are exclusive%s", "");
    if (o->search && !o->slo_given)
        return usage_error("--search needs --slo (e.g. --slo ttft=500,e2e=10s)%s", "");
    if (!o->search && (o->slo_given || o->json || o->search_start || o->slo.goodput_min > 0))
        return usage_error("--slo, --goodput-min, --search-* and --json go with --search%s", "");
    if (o->search && (o->stage_duration_us || o->loop || o->duration_us))
        return usage_error("--search sizes its stages by requests (--stage-requests); "
                           "--stage-duration, --duration and --loop do not apply%s", "");
    if (o->json && !strcmp(o->output, "-"))
        return usage_error("--json writes to stdout: give -o a file%s", "");
    if (o->scrape_url && o->scrape_url[0] && strncmp(o->scrape_url, "http://", 7) &&
        strncmp(o->scrape_url, "https://", 8))
        return usage_error("--scrape expects an http:// or https:// URL, got '%s'", o->scrape_url);
    if (speed_set && modes && !o->sessions)
        return usage_error("--speed applies to original timing only (and to think times with "
                           "--sessions)%s", "");
    if ((o->history_set || o->think_time_us >= 0) && !o->sessions)
        return usage_error("--history and --think-time need --sessions%s", "");
    if (o->sessions && (o->n_sweep || o->search))
        return usage_error("--sessions does not take --sweep or --search: run one -c N per "
                           "level%s", "");
    if (o->sessions && o->loop)
        return usage_error("--sessions does not take --loop: each session is replayed once%s",
                           "");
    if ((o->stage_requests || o->stage_duration_us || o->stage_pause_us) && !o->n_sweep &&
        !o->search)
        return usage_error("--stage-* options need --sweep or --search%s", "");
    if (o->duration_us && o->n_sweep)
        return usage_error("--duration does not apply to --sweep; use --stage-duration%s", "");
    if (o->n_sweep && o->stage_requests && o->stage_duration_us)
        return usage_error("give --stage-requests or --stage-duration, not both%s", "");
    /* Each stage's size sets the run's length and each point's statistical weight; no default
     * fits a 20-request file and a 20,000-request trace alike, so the tool does not guess. */
    if (o->n_sweep && !o->stage_requests && !o->stage_duration_us)
        return usage_error("--sweep needs the size of each stage: --stage-requests N (or 'all':"
                           " one pass over the input) or --stage-duration T%s", "");
    if (o->n_sweep && o->loop)
        return usage_error("--loop does not apply to --sweep: stages wrap around the input "
                           "(use --stage-requests or --stage-duration)%s", "");
    if (o->max_inflight && (o->concurrency || o->n_sweep))
        return usage_error("--max-inflight caps open-loop timing; with -c/--sweep the "
                           "concurrency is the cap%s", "");
    if (o->api_key_env && (!getenv(o->api_key_env) || !*getenv(o->api_key_env)))
        return usage_error("--api-key-env: environment variable %s is not set", o->api_key_env);
    return -1;
}

/* ---- small helpers ----------------------------------------------------------------------- */

static int header_is_named(const char *h, const char *name)
{
    size_t n = strlen(name);
    return !strncasecmp(h, name, n) && (h[n] == ':' || h[n] == ' ');
}

/* argv for the header record: -H values of credential headers and URL credentials redacted.
 * (The API key itself is never in argv: it comes from the environment.) */
static cJSON *command_json(int argc, char **argv)
{
    cJSON *a = cJSON_CreateArray();
    if (!a)
        return NULL;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        const char *hv = NULL;
        char *tmp = NULL;
        if (i > 0 && (!strcmp(argv[i - 1], "-H") || !strcmp(argv[i - 1], "--header")))
            hv = s;
        else if (!strncmp(s, "--header=", 9))
            hv = s + 9;
        else if (!strncmp(s, "-H", 2) && s[2])
            hv = s + 2;
        if (hv) {
            const char *colon = strchr(hv, ':');
            if (colon && tlog_header_is_secret(hv, (size_t)(colon - hv))) {
                size_t pre = (size_t)(colon - s) + 1;
                tmp = malloc(pre + 13);
                if (tmp) {
                    memcpy(tmp, s, pre);
                    strcpy(tmp + pre, " <redacted>");
                }
            }
        } else if (strstr(s, "://")) {
            tmp = redact_url(s);
        }
        cJSON_AddItemToArray(a, cJSON_CreateString(tmp ? tmp : s));
        free(tmp);
    }
    return a;
}

static const char *arrival_name(enum sched_arrival a)
{
    return a == ARRIVAL_CONSTANT ? "constant" : a == ARRIVAL_GAMMA ? "gamma" : "poisson";
}

static cJSON *options_json(const struct opts *o, const char *mode)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    cJSON_AddStringToObject(j, "mode", mode);
    if (!strcmp(mode, "original"))
        cJSON_AddNumberToObject(j, "speed", o->speed);
    if (o->rate > 0) {
        cJSON_AddNumberToObject(j, "rate", o->rate);
        cJSON_AddStringToObject(j, "arrival", arrival_name(o->arrival));
        cJSON_AddNumberToObject(j, "burstiness", o->burstiness);
        cJSON_AddNumberToObject(j, "seed", (double)o->seed);
    }
    if (o->concurrency)
        cJSON_AddNumberToObject(j, "concurrency", (double)o->concurrency);
    if (o->n_sweep) {
        cJSON *s = cJSON_AddArrayToObject(j, "sweep");
        for (size_t i = 0; s && i < o->n_sweep; i++)
            cJSON_AddItemToArray(s, cJSON_CreateNumber((double)o->sweep[i]));
        if (o->stage_requests == STAGE_REQUESTS_ALL)
            cJSON_AddStringToObject(j, "stage_requests", "all");
        else if (o->stage_requests)
            cJSON_AddNumberToObject(j, "stage_requests", (double)o->stage_requests);
        if (o->stage_duration_us)
            cJSON_AddNumberToObject(j, "stage_duration_us", (double)o->stage_duration_us);
        if (o->stage_pause_us)
            cJSON_AddNumberToObject(j, "stage_pause_us", (double)o->stage_pause_us);
    }
    if (o->max_inflight)
        cJSON_AddNumberToObject(j, "max_inflight", (double)o->max_inflight);
    if (o->duration_us)
        cJSON_AddNumberToObject(j, "duration_us", (double)o->duration_us);
    cJSON_AddNumberToObject(j, "warmup", (double)o->warmup);
    cJSON_AddBoolToObject(j, "loop", o->loop);
    if (o->shard_n > 1) {
        char s[32];
        snprintf(s, sizeof(s), "%d/%d", o->shard_k, o->shard_n);
        cJSON_AddStringToObject(j, "shard", s);
    }
    if (o->has_start_at)
        cJSON_AddNumberToObject(j, "start_at", o->start_at);
    if (o->sel.limit)
        cJSON_AddNumberToObject(j, "limit", (double)o->sel.limit);
    if (o->sel.skip)
        cJSON_AddNumberToObject(j, "skip", (double)o->sel.skip);
    if (o->sel.from_us)
        cJSON_AddNumberToObject(j, "from_us", (double)o->sel.from_us);
    if (o->sel.to_us)
        cJSON_AddNumberToObject(j, "to_us", (double)o->sel.to_us);
    if (o->sel.filter_path)
        cJSON_AddStringToObject(j, "filter_path", o->sel.filter_path);
    if (o->path)
        cJSON_AddStringToObject(j, "path", o->path);
    if (o->model)
        cJSON_AddStringToObject(j, "model", o->model);
    if (o->max_tokens == REWRITE_MAX_TOKENS_ORIGINAL)
        cJSON_AddStringToObject(j, "max_tokens", "original");
    else if (o->max_tokens > 0)
        cJSON_AddNumberToObject(j, "max_tokens", (double)o->max_tokens);
    cJSON_AddBoolToObject(j, "ignore_eos", o->ignore_eos);
    cJSON_AddStringToObject(j, "stream", o->stream_on ? "on" : "keep");
    cJSON_AddBoolToObject(j, "include_usage", o->include_usage);
    cJSON_AddStringToObject(j, "dialect", o->dialect ? dialect_name(o->dialect) : "auto");
    cJSON_AddBoolToObject(j, "api_key", o->api_key_env != NULL);
    if (o->api_key_env)
        cJSON_AddStringToObject(j, "api_key_env", o->api_key_env);
    cJSON_AddNumberToObject(j, "threads", (double)o->threads);
    cJSON_AddNumberToObject(j, "timeout_us", (double)o->timeout_us);
    cJSON_AddNumberToObject(j, "idle_timeout_us", (double)o->idle_timeout_us);
    cJSON_AddNumberToObject(j, "connect_timeout_us", (double)o->connect_timeout_us);
    cJSON_AddBoolToObject(j, "insecure", o->insecure);
    cJSON_AddBoolToObject(j, "http2", o->http2);
    cJSON_AddBoolToObject(j, "no_bodies", o->no_bodies);
    cJSON_AddStringToObject(j, "timestamps", o->user_timestamps ? "user" : "kernel");
    cJSON_AddBoolToObject(j, "resend", !o->no_resend);
    cJSON_AddBoolToObject(j, "connection_per_request", o->conn_per_request);
    cJSON_AddBoolToObject(j, "preconnect", !o->no_preconnect);
    cJSON_AddNumberToObject(j, "max_connect_errors", (double)o->max_connect_errors);
    if (o->search) {
        cJSON *sj = cJSON_AddObjectToObject(j, "search");
        cJSON_AddStringToObject(sj, "by", o->search == 1 ? "concurrency" : "rate");
        cJSON *sl = cJSON_AddObjectToObject(sj, "slo");
        for (int m = 0; m < SLO_N_METRICS; m++)
            if (o->slo.limit_ms[m] > 0) {
                char k[16];
                snprintf(k, sizeof k, "%s_ms", slo_metric_name(m));
                cJSON_AddNumberToObject(sl, k, o->slo.limit_ms[m]);
            }
        cJSON_AddNumberToObject(sj, "quantile", o->slo.quantile);
        if (o->slo.goodput_min > 0)
            cJSON_AddNumberToObject(sj, "goodput_min", o->slo.goodput_min);
        cJSON_AddNumberToObject(sj, "start", o->search_start > 0 ? o->search_start : 1);
        cJSON_AddNumberToObject(sj, "factor", o->search_factor);
        cJSON_AddNumberToObject(sj, "tolerance", o->search_tolerance);
        cJSON_AddNumberToObject(sj, "max_stages", (double)o->search_stages);
        cJSON_AddNumberToObject(sj, "lengthen", (double)o->search_lengthen);
    }
    if (o->scrape_url) {
        cJSON *sj = cJSON_AddObjectToObject(j, "scrape");
        cJSON_AddNumberToObject(sj, "interval_us", (double)o->scrape_interval_us);
        cJSON_AddBoolToObject(sj, "all", o->scrape_all);
    }
    cJSON_AddBoolToObject(j, "sessions", o->sessions);
    if (o->sessions) {
        cJSON_AddStringToObject(j, "history", o->history_recorded ? "recorded" : "live");
        if (o->think_time_us >= 0)
            cJSON_AddNumberToObject(j, "think_time_us", (double)o->think_time_us);
        cJSON_AddNumberToObject(j, "think_speed", o->speed);
    }
    if (o->cacert)
        cJSON_AddStringToObject(j, "cacert", o->cacert);
    return j;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Linear interpolation between order statistics (NumPy's default), v sorted. */
static double percentile(const int64_t *v, size_t n, double q)
{
    if (n == 0)
        return NAN;
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)pos;
    if (lo + 1 >= n)
        return (double)v[n - 1];
    return (double)v[lo] + (pos - (double)lo) * (double)(v[lo + 1] - v[lo]);
}

/* ---- signals ----------------------------------------------------------------------------- */

static atomic_int g_stop;
static struct client_out *_Atomic g_out; /* NULL until the results log is open */
static atomic_int g_sending;             /* the run's first stage has begun */
static int g_quiet;

/* Signals are taken by this thread alone (sigwait), so no handler runs inside a worker. */
static void *signal_thread(void *arg)
{
    sigset_t *set = arg;
    int sig, count = 0;
    for (;;) {
        if (sigwait(set, &sig))
            continue;
        if (++count == 1) {
            atomic_store(&g_stop, 1);
            if (!g_quiet && atomic_load(&g_sending))
                fprintf(stderr, "\n" PROG ": stopping (waiting for in-flight requests; "
                                "Ctrl-C again to quit now)\n");
            else if (!g_quiet)
                fprintf(stderr, "\n" PROG ": stopping before any request is sent\n");
            continue;
        }
        /* Second signal: close the current gzip member so every record so far reads back, and
         * leave without a trailer. Holding the mutex means no record is half written. */
        struct client_out *out = atomic_load(&g_out);
        if (out) {
            pthread_mutex_lock(&out->mu);
            if (out->w)
                tlog_writer_flush(out->w);
        }
        _exit(1);
    }
    return NULL;
}

/* ---- the run ----------------------------------------------------------------------------- */

struct run_worker {
    struct client_worker w;
    pthread_t th;
    atomic_int *finished;
};

static void *run_worker_main(void *arg)
{
    struct run_worker *rw = arg;
    client_worker_run(&rw->w);
    atomic_fetch_add(rw->finished, 1);
    return NULL;
}

struct stage_result {
    double stage;
    int has_stage;
    uint64_t done, errors, tokens;
    int64_t wall_us;
    double ttft_p50, ttft_p99;
    struct tally_summary tally; /* n_out sources and TPOT of the stage's requests */
};

static uint64_t sum_stat(struct run_worker *ws, int n, size_t off)
{
    uint64_t s = 0;
    for (int i = 0; i < n; i++)
        s += atomic_load_explicit((atomic_uint_fast64_t *)((char *)&ws[i].w.st + off),
                                  memory_order_relaxed);
    return s;
}
#define SUM(ws, n, field) sum_stat(ws, n, offsetof(struct client_stats, field))

/* What the progress line needs to know about the run around the current stage. */
struct progress {
    const char *label;         /* "[c=8]", "[rate 5/s]" … */
    int64_t stage_t0_ns;       /* the stage's start */
    uint64_t done0, tok0;      /* run totals when the stage started */
    uint64_t stage_total;      /* requests this stage will send; 0 unknown (loop, duration) */
    int64_t stage_end_ns;      /* the stage stops issuing then; 0 none */
    int64_t run_t0_ns;         /* the run's first stage's start */
    size_t stages_after;       /* stages still to come after this one */
    uint64_t after_total;      /* requests of those stages (count stages) */
    int64_t after_ns;          /* their time (duration stages), pauses included */
};

/* ETA of the run: the rest of this stage at this stage's pace (or until its end time), then
 * the stages to come at the whole run's pace so far (or their durations). -1 unknown. */
static int64_t progress_eta_us(const struct progress *pg, uint64_t done, int64_t now)
{
    double st_s = (double)(now - pg->stage_t0_ns) / 1e9;
    double run_s = (double)(now - pg->run_t0_ns) / 1e9;
    uint64_t st_done = done - pg->done0;
    double left;
    if (pg->stage_end_ns)
        left = pg->stage_end_ns > now ? (double)(pg->stage_end_ns - now) / 1e9 : 0;
    else if (pg->stage_total && st_done > 0 && st_done <= pg->stage_total)
        left = (double)(pg->stage_total - st_done) * st_s / (double)st_done;
    else
        return -1;
    if (pg->after_ns) {
        left += (double)pg->after_ns / 1e9;
    } else if (pg->stages_after) {
        if (!pg->after_total || done == 0)
            return -1;
        left += (double)pg->after_total * run_s / (double)done;
    }
    return (int64_t)(left * 1e6);
}

/* The progress line: this stage's output tokens over this stage's time, and the ETA of the
 * whole run (present through every stage). */
static void progress_print(struct run_worker *ws, int n, const struct progress *pg)
{
    uint64_t sent = SUM(ws, n, sent), done = SUM(ws, n, done), errs = SUM(ws, n, errors);
    uint64_t infl = SUM(ws, n, inflight), tok = SUM(ws, n, tokens_out);
    int64_t now = clock_mono_ns();
    double el = (double)(now - pg->stage_t0_ns) / 1e9;
    char eta[32] = "";
    int64_t eta_us = progress_eta_us(pg, done, now);
    if (eta_us >= 0) {
        char d[24];
        units_format_duration(eta_us, d, sizeof(d));
        snprintf(eta, sizeof(eta), " | ETA %s", d);
    }
    fprintf(stderr, "\r\033[K%s sent %llu | in flight %llu | done %llu | errors %llu | "
                    "%.0f tok/s%s", pg->label, (unsigned long long)sent,
            (unsigned long long)infl, (unsigned long long)done, (unsigned long long)errs,
            el > 0 ? (double)(tok - pg->tok0) / el : 0, eta);
}

static int run_phase(struct run_worker *ws, int n, struct client_phase *ph,
                     struct client_out *out, int progress, struct progress *pg)
{
    atomic_int finished = 0;
    int started = 0;
    for (int i = 0; i < n; i++) {
        ws[i].w.ph = ph;
        ws[i].finished = &finished;
        if (pthread_create(&ws[i].th, NULL, run_worker_main, &ws[i]))
            break;
        started++;
    }
    if (started < n)
        atomic_store(&g_stop, 1);
    int64_t t0 = clock_mono_ns(), next_progress = t0 + 1000000000LL;
    pg->stage_t0_ns = t0;
    while (atomic_load(&finished) < started) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&out->mu);
        if (!atomic_load(&out->failed) && tlog_writer_tick(out->w, clock_mono_us())) {
            atomic_store(&out->failed, 1);
            snprintf(out->err, sizeof(out->err), "%s", tlog_writer_error(out->w));
        }
        pthread_mutex_unlock(&out->mu);
        int64_t now = clock_mono_ns();
        if (progress && now >= next_progress) {
            progress_print(ws, n, pg);
            next_progress = now + 1000000000LL;
        }
    }
    for (int i = 0; i < started; i++)
        pthread_join(ws[i].th, NULL);
    if (progress)
        fprintf(stderr, "\r\033[K");
    return started < n ? -1 : 0;
}

static void samples_slice_percentiles(struct run_worker *ws, int n, const size_t *from,
                                      double *p50, double *p99)
{
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += ws[i].w.ttft.n - from[i];
    *p50 = *p99 = NAN;
    if (!total)
        return;
    int64_t *v = malloc(total * sizeof(*v));
    if (!v)
        return;
    size_t k = 0;
    for (int i = 0; i < n; i++)
        for (size_t j = from[i]; j < ws[i].w.ttft.n; j++)
            v[k++] = ws[i].w.ttft.v[j];
    qsort(v, k, sizeof(*v), cmp_i64);
    *p50 = percentile(v, k, 0.5);
    *p99 = percentile(v, k, 0.99);
    free(v);
}

/* The n_out sources and TPOT of a run or stage, for the trailer's stats. */
static void stats_add_tally(cJSON *o, const struct tally_summary *t)
{
    cJSON_AddNumberToObject(o, "n_out_from_events", (double)t->from_events);
    cJSON_AddNumberToObject(o, "n_out_max_tokens", (double)t->pinned);
    if (!isnan(t->tpot_p50_us)) { /* to the ns: the samples' own precision */
        cJSON_AddNumberToObject(o, "tpot_p50_us", (double)llround(t->tpot_p50_us * 1e3) / 1e3);
        cJSON_AddNumberToObject(o, "tpot_p99_us", (double)llround(t->tpot_p99_us * 1e3) / 1e3);
    }
}

static void fmt_us(double us, char *out, size_t len)
{
    if (isnan(us))
        snprintf(out, len, "-");
    else
        units_format_duration((int64_t)llround(us), out, len);
}

int main(int argc, char **argv)
{
    struct opts o;
    int rc = opts_parse(argc, argv, &o);
    if (rc >= 0)
        return rc;
    g_quiet = o.quiet;
    signal(SIGPIPE, SIG_IGN);
    /* One descriptor per connection: thousands of concurrent streams need more than the usual
     * soft limit of 1024, and the hard limit is ours to take. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    /* Signals go to one thread from the start — Ctrl-C while the input loads stops the run as
     * well — and are blocked everywhere else (the threads created later inherit the mask).
     * Blocked, they are also delivered when the shell started us with SIGINT ignored. */
    static sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    pthread_t sig_th;
    if (pthread_create(&sig_th, NULL, signal_thread, &sigs)) {
        fprintf(stderr, PROG ": cannot start the signal thread\n");
        return 1;
    }
    pthread_detach(sig_th);

    /* Input. */
    struct replay_input in;
    char err[512];
    struct input_rewrite rwr = {
        .model = o.model, .max_tokens = o.max_tokens, .ignore_eos = o.ignore_eos,
        .stream_on = o.stream_on, .include_usage = o.include_usage, .dialect = o.dialect,
    };
    int lrc = input_load(o.input, &o.sel, &rwr, &g_stop, &in, err, sizeof(err));
    if (lrc < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return 1;
    }
    /* Interrupted while reading: the log still gets its header and an "interrupted" trailer,
     * and nothing is sent (the stages below do not start once g_stop is set). */
    int load_stopped = lrc == INPUT_STOPPED;
    if (in.n == 0 && !load_stopped) {
        fprintf(stderr, PROG ": %s: no request to replay (%lld read, %lld without a body)\n",
                o.input, (long long)in.read, (long long)in.skipped_no_body);
        input_free(&in);
        return 1;
    }
    if (!o.quiet && !load_stopped) {
        if (in.unsorted_at && (o.sel.limit || o.sel.to_us))
            fprintf(stderr, PROG ": warning: %s is not in start order (record %lld starts "
                            "before the one read before it): read it all to select by start "
                            "time\n", o.input, (long long)in.unsorted_at);
        if (in.skipped_no_body)
            fprintf(stderr, PROG ": warning: %lld records skipped: no request body (log "
                            "written with --no-bodies?)\n", (long long)in.skipped_no_body);
        if (in.skipped_attempts)
            fprintf(stderr, PROG ": %lld captured transport attempts not replayed (resent_as: "
                            "their re-sends are the requests)\n",
                    (long long)in.skipped_attempts);
        if (in.bad_records)
            fprintf(stderr, PROG ": warning: %lld unreadable records skipped\n",
                    (long long)in.bad_records);
        if (in.truncated)
            fprintf(stderr, PROG ": warning: %s was not closed cleanly; replaying the "
                            "records recovered\n", o.input);
        if (in.untimed == (int64_t)in.n && o.rate <= 0 && !o.concurrency && !o.n_sweep)
            fprintf(stderr, PROG ": warning: %s has no timestamps: original timing sends every "
                            "request at once (use --rate or -c)\n", o.input);
        if (in.no_recorded_tokens)
            fprintf(stderr, PROG ": warning: --max-tokens original: %lld requests have no "
                            "recorded output count and keep their own limit\n",
                    (long long)in.no_recorded_tokens);
        /* Once per dialect: --max-tokens original / --ignore-eos promise recorded lengths. */
        for (int d = 0; d < DIALECT_COUNT; d++)
            if (in.unpinned[d])
                fprintf(stderr, PROG ": warning: %s has no ignore_eos: cannot force the output "
                                "length of %lld requests (max tokens is only a cap); output "
                                "lengths may differ from the recording\n",
                        dialect_name((enum dialect_id)d), (long long)in.unpinned[d]);
    }

    const char *mode = o.rate > 0 || o.search == 2                      ? "rate"
                       : (o.concurrency || o.n_sweep || o.search == 1) ? "concurrency"
                                                                       : "original";
    int open = !strcmp(mode, "original") || !strcmp(mode, "rate");
    int64_t *offsets = malloc((in.n ? in.n : 1) * sizeof(*offsets));
    if (!offsets) {
        input_free(&in);
        return 1;
    }
    for (size_t i = 0; i < in.n; i++)
        offsets[i] = in.reqs[i].offset_us;
    struct sess_table sessions = {0};
    if (o.sessions) {
        if (sess_table_build(&sessions, &in)) {
            fprintf(stderr, PROG ": out of memory grouping the input into sessions\n");
            return 1;
        }
        if (!o.quiet && !load_stopped && in.n && sessions.with_id == 0)
            fprintf(stderr, PROG ": warning: --sessions: no request of %s has a session "
                            "(llmtrace-convert --sessions infer finds them in chat traffic): "
                            "each is a session of one turn\n", o.input);
    }

    /* Target and headers. */
    if (client_global_init()) {
        fprintf(stderr, PROG ": cannot initialise the HTTP client\n");
        return 1;
    }
    struct client_cfg cfg = {0};
    cfg.in = &in;
    cfg.offsets = offsets;
    /* "http://h/base/?api-version=1#f": requests go to "http://h/base" + path + "?api-version=1"
     * (the fragment never goes on the wire); records and messages name the redacted form. */
    size_t bl = strcspn(o.url, "?#");
    cfg.base_url = strndup(o.url, bl);
    if (o.url[bl] == '?')
        cfg.base_query = strndup(o.url + bl + 1, strcspn(o.url + bl + 1, "#"));
    if (!cfg.base_url || (o.url[bl] == '?' && !cfg.base_query)) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    while (bl > 0 && cfg.base_url[bl - 1] == '/')
        cfg.base_url[--bl] = 0;
    char *target = NULL;
    {
        size_t ql = cfg.base_query ? strlen(cfg.base_query) : 0;
        char *full = malloc(bl + ql + 2);
        if (full) {
            snprintf(full, bl + ql + 2, "%s%s%s", cfg.base_url, cfg.base_query ? "?" : "",
                     cfg.base_query ? cfg.base_query : "");
            target = redact_url(full);
            free(full);
        }
    }
    if (!target) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    cfg.target = target;
    char host[256] = "";
    {
        const char *h = strstr(target, "://") + 3;
        size_t hl = strcspn(h, "/?#");
        snprintf(host, sizeof(host), "%.*s", (int)(hl < 255 ? hl : 255), h);
        cfg.host = host;
    }
    cfg.path = o.path;
    cfg.insecure = o.insecure;
    cfg.http2 = o.http2;
    cfg.timeout_us = o.timeout_us;
    cfg.idle_timeout_us = o.idle_timeout_us;
    cfg.connect_timeout_us = o.connect_timeout_us;
    cfg.grace_us = o.grace_us;
    cfg.keep_text = !o.no_bodies;
    cfg.rx_kernel = !o.user_timestamps;
    cfg.cacert = o.cacert;
    cfg.no_resend = o.no_resend;
    cfg.conn_per_request = o.conn_per_request;
    cfg.preconnect = !o.no_preconnect;
    cfg.max_connect_errors = o.max_connect_errors;
    cfg.mode = mode;
    cfg.wopts.no_bodies = o.no_bodies;
    cfg.stop = &g_stop;
    if (o.sessions) {
        cfg.sessions = &sessions;
        cfg.history_live = !o.history_recorded;
        cfg.think_speed = o.speed;
        cfg.think_time_us = o.think_time_us;
    }

    struct tlog_hdr rec_headers[MAX_HEADERS + 2];
    size_t n_rec = 0;
    int has_ctype = 0;
    for (int i = 0; i < o.n_headers; i++) {
        const char *h = o.headers[i];
        const char *colon = strchr(h, ':');
        const char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        client_cfg_add_header(&cfg, h);
        has_ctype |= header_is_named(h, "content-type");
        rec_headers[n_rec].name = strndup(h, (size_t)(colon - h));
        rec_headers[n_rec].value =
            strdup(tlog_header_is_secret(h, (size_t)(colon - h)) ? "<redacted>" : v);
        n_rec++;
    }
    if (!has_ctype) {
        client_cfg_add_header(&cfg, "Content-Type: application/json");
        rec_headers[n_rec].name = strdup("Content-Type");
        rec_headers[n_rec].value = strdup("application/json");
        n_rec++;
    }
    /* (no "Expect: 100-continue" is ever sent: its round trip would sit inside t0→ttft) */
    if (o.api_key_env) {
        const char *key = getenv(o.api_key_env);
        size_t kl = strlen(key);
        char *h = malloc(kl + 32);
        if (h) {
            snprintf(h, kl + 32, "Authorization: Bearer %s", key);
            client_cfg_add_header(&cfg, h);
            explicit_bzero(h, kl + 32);
            free(h);
        }
        rec_headers[n_rec].name = strdup("Authorization");
        rec_headers[n_rec].value = strdup("<redacted>");
        n_rec++;
    }
    cfg.rec_headers = rec_headers;
    cfg.n_rec_headers = n_rec;
    clock_map_init(&cfg.cmap);
    char id_prefix[32];
    {
        uint64_t h = (uint64_t)clock_epoch_us() * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
        h ^= h >> 29;
        snprintf(id_prefix, sizeof(id_prefix), "r%06llx",
                 (unsigned long long)(h & 0xffffff));
    }
    cfg.id_prefix = id_prefix;

    /* Output. */
    struct client_out out;
    memset(&out, 0, sizeof(out));
    pthread_mutex_init(&out.mu, NULL);
    struct tlog_writer_opts wo = {0};
    wo.w = cfg.wopts;
    wo.member_interval_us = 1000000;
    wo.member_records = 1000;
    wo.level = 1;
    out.w = tlog_writer_open(o.output, &wo, err, sizeof(err));
    if (!out.w) {
        fprintf(stderr, PROG ": %s\n", err);
        return 1;
    }
    cfg.out = &out;
    atomic_store(&g_out, &out);
    struct tlog_header hdr = {0};
    hdr.schema = TLOG_SCHEMA_VERSION;
    hdr.tool = PROG;
    hdr.version = LLMTRACE_VERSION;
    hdr.start_us = clock_epoch_us();
    hdr.command = command_json(argc, argv);
    hdr.source = cJSON_CreateObject();
    cJSON_AddStringToObject(hdr.source, "kind", "replay");
    cJSON_AddStringToObject(hdr.source, "input", o.input);
    /* the trace's size tells shards of one run from shards of a same-named other trace (every
     * pod of a Kubernetes Job reads the same path) */
    struct stat ist;
    if (strcmp(o.input, "-") && stat(o.input, &ist) == 0 && S_ISREG(ist.st_mode))
        cJSON_AddNumberToObject(hdr.source, "input_bytes", (double)ist.st_size);
    cJSON_AddStringToObject(hdr.source, "input_format", in.kind == INPUT_BATCH ? "batch"
                                                                                : "tlog");
    /* how much of the input the selection saw: all of it, or its start when reading stopped
     * once a bounded selection was complete */
    cJSON_AddNumberToObject(hdr.source, "records_read", (double)in.read);
    cJSON_AddBoolToObject(hdr.source, "read_all", !in.stopped_early && !load_stopped);
    cJSON_AddStringToObject(hdr.source, "target", target);
    hdr.options = options_json(&o, mode);
    if (tlog_writer_header(out.w, &hdr) || tlog_writer_flush(out.w)) {
        fprintf(stderr, PROG ": %s: %s\n", o.output, tlog_writer_error(out.w));
        return 1;
    }
    cJSON_Delete(hdr.command);
    cJSON_Delete(hdr.source);
    cJSON_Delete(hdr.options);

    /* The server's own view beside the client's: its Prometheus metrics, sampled meanwhile. */
    struct scrape scr = {0};
    char *scrape_url = NULL;
    if (o.scrape_url) {
        if (o.scrape_url[0]) {
            scrape_url = strdup(o.scrape_url);
        } else if ((scrape_url = malloc(strlen(cfg.base_url) + 16))) {
            /* the target's origin: scheme://host[:port]/metrics */
            const char *h = strstr(cfg.base_url, "://");
            size_t ol = h ? (size_t)(h + 3 - cfg.base_url) + strcspn(h + 3, "/") : strlen(cfg.base_url);
            snprintf(scrape_url, strlen(cfg.base_url) + 16, "%.*s/metrics", (int)ol, cfg.base_url);
        }
        struct scrape_cfg sc = {.url = scrape_url, .interval_us = o.scrape_interval_us,
                                .all = o.scrape_all, .insecure = o.insecure, .cacert = o.cacert,
                                .cmap = &cfg.cmap, .out = &out};
        if (!scrape_url || scrape_start(&scr, &sc)) {
            fprintf(stderr, PROG ": --scrape: %s\n", scrape_url ? scr.err : "out of memory");
            return 1;
        }
    }

    /* Workers. */
    int nw = (int)o.threads;
    if (o.max_inflight && nw > o.max_inflight)
        nw = (int)o.max_inflight;
    struct run_worker *ws = calloc((size_t)nw, sizeof(*ws));
    int fatal = 0;
    for (int i = 0; ws && i < nw; i++)
        if (client_worker_init(&ws[i].w, i, nw, &cfg)) {
            fprintf(stderr, PROG ": %s\n", ws[i].w.err);
            fatal = 1;
        }
    if (!ws || tally_init(nw))
        fatal = 1;

    /* Closed loop has no schedule to anchor: --start-at simply delays the first stage. */
    if (!open && o.has_start_at) {
        int64_t at = (int64_t)llround(o.start_at * 1e6);
        while (clock_epoch_us() < at && !atomic_load(&g_stop)) {
            int64_t left = at - clock_epoch_us();
            struct timespec ts = {0, (long)(left > 50000 ? 50000000 : left * 1000)};
            nanosleep(&ts, NULL);
        }
    }
    int progress = !o.quiet && isatty(2);
    struct stage_result stages[MAX_STAGES];
    size_t n_stages = 0;
    int64_t run_t0 = clock_mono_ns();
    atomic_store(&g_sending, 1);
    /* one pass over this machine's share of the input (with --sessions the items are
     * sessions; progress counts their turns) */
    size_t n_items = o.sessions ? sessions.n : in.n;
    uint64_t pass = (n_items + (size_t)o.shard_n - 1 - (size_t)(o.shard_k - 1)) / (size_t)o.shard_n;
    uint64_t pass_requests = pass;
    if (o.sessions) {
        pass_requests = 0;
        for (size_t i = (size_t)(o.shard_k - 1); i < sessions.n; i += (size_t)o.shard_n)
            pass_requests += sessions.count[i];
    }
    uint64_t seq_base = 0;
    size_t n_phases = open ? 1 : (o.n_sweep ? o.n_sweep : 1);
    /* --search: stages chosen one after the other from the verdicts (search.c) */
    struct search_state ss;
    struct search_stage_result {
        double x;
        int64_t wall_us;
        struct slo_verdict v;
    } sres[MAX_STAGES * 4];
    size_t n_sres = 0;
    double sx = 0;
    int64_t stage_n = 0, stage_n_now = 0;
    int lengthened = 0;
    if (o.search) {
        size_t minn = slo_min_samples(o.slo.quantile, o.slo.alpha);
        stage_n = o.stage_requests > 0 ? o.stage_requests
                  : o.slo.goodput_min > 0
                      ? (int64_t)fmax(100, ceil(20 / fmax(1e-3, 1 - o.slo.goodput_min)))
                      : (int64_t)(2 * minn > 100 ? 2 * minn : 100);
        stage_n_now = stage_n;
        search_init(&ss, o.search == 1, o.search_start > 0 ? o.search_start : 1, o.search_factor,
                    o.search_tolerance, (int)o.search_stages);
        sx = ss.start;
        tally_keep_samples(1, o.search == 2); /* open loop: latency from the schedule */
    }
    struct buf sline;
    buf_init(&sline, 1u << 20);
    for (size_t p = 0; !fatal && (o.search ? sx > 0 : p < n_phases) && !atomic_load(&g_stop) &&
                       !atomic_load(&out.failed); p++) {
        struct client_phase *ph = calloc(1, sizeof(*ph));
        if (!ph) {
            fatal = 1;
            break;
        }
        ph->seq_base = seq_base;
        ph->warmup = o.warmup;
        double rate = o.search == 2 ? sx : o.rate;
        ph->shard_k = o.shard_k;
        ph->shard_n = o.shard_n;
        char label[48];
        uint64_t total = 0;
        if (open) {
            ph->kind = PHASE_OPEN;
            ph->sp.mode = rate > 0 ? SCHED_RATE : SCHED_ORIGINAL;
            ph->sp.speed = o.speed;
            ph->sp.rate = rate;
            ph->sp.arrival = o.arrival;
            ph->sp.burstiness = o.burstiness;
            ph->sp.seed = o.seed;
            ph->sp.loop = o.loop;
            ph->sp.duration_us = o.duration_us;
            ph->sp.shard_k = o.shard_k;
            ph->sp.shard_n = o.shard_n;
            ph->sp.n_workers = nw;
            ph->max_inflight = o.max_inflight;
            ph->has_stage = rate > 0;
            ph->stage = rate;
            if (o.search == 2) {
                /* one second of warm-up at the stage's rate, then its measured requests */
                ph->warmup = o.warmup_given ? o.warmup : (int64_t)ceil(rate);
                ph->sp.loop = 1;
                ph->sp.duration_us =
                    (int64_t)ceil((double)(stage_n_now + ph->warmup) / rate * 1e6);
            }
            int64_t now_epoch = clock_epoch_us();
            int64_t start_epoch = o.has_start_at ? (int64_t)llround(o.start_at * 1e6)
                                                 : now_epoch + 20000;
            if (o.has_start_at && start_epoch < now_epoch - 1000000 && !o.quiet)
                fprintf(stderr, PROG ": warning: --start-at is %.1fs in the past; late "
                                "requests go out at once\n",
                        (double)(now_epoch - start_epoch) / 1e6);
            ph->anchor_ns = clock_map_mono_ns(&cfg.cmap, start_epoch);
            if (!o.loop)
                total = pass_requests;
            if (rate > 0)
                snprintf(label, sizeof(label), "[rate %g/s]", rate);
            else
                snprintf(label, sizeof(label), "[original x%g]", o.speed);
        } else {
            ph->kind = PHASE_CLOSED;
            ph->concurrency = o.search ? (int64_t)sx : o.n_sweep ? o.sweep[p] : o.concurrency;
            ph->has_stage = 1;
            ph->stage = (double)ph->concurrency;
            if (o.search) {
                ph->warmup = o.warmup_given ? o.warmup : ph->concurrency;
                ph->max_requests = (uint64_t)(stage_n_now + ph->warmup);
                ph->loop = 1;
            } else if (o.n_sweep) {
                /* a count or a duration wraps around the input; "all" is one pass */
                int all = o.stage_requests == STAGE_REQUESTS_ALL;
                ph->max_requests = o.stage_requests > 0 ? (uint64_t)o.stage_requests : 0;
                ph->loop = !all;
                if (o.stage_duration_us)
                    ph->end_ns = clock_mono_ns() + o.stage_duration_us * 1000;
            } else {
                ph->loop = o.loop;
                if (o.duration_us)
                    ph->end_ns = clock_mono_ns() + o.duration_us * 1000;
            }
            total = ph->max_requests ? ph->max_requests : ph->loop ? 0 : pass_requests;
            snprintf(label, sizeof(label), "[c=%lld]", (long long)ph->concurrency);
        }
        uint64_t done0 = SUM(ws, nw, done), err0 = SUM(ws, nw, errors);
        uint64_t tok0 = SUM(ws, nw, tokens_out);
        size_t *ttft_from = calloc((size_t)nw, sizeof(*ttft_from));
        for (int i = 0; ttft_from && i < nw; i++)
            ttft_from[i] = ws[i].w.ttft.n;
        struct tally_mark tmark;
        tally_mark(&tmark);
        struct progress pg = {.label = label, .done0 = done0, .tok0 = tok0,
                              .stage_total = total, .stage_end_ns = ph->end_ns,
                              .run_t0_ns = run_t0,
                              .stages_after = o.search ? 0 : n_phases - 1 - p};
        if (o.stage_duration_us)
            pg.after_ns = (int64_t)pg.stages_after * (o.stage_duration_us + o.stage_pause_us) *
                          1000;
        else
            pg.after_total = pg.stages_after * total;
        int64_t ps = clock_mono_ns();
        if (run_phase(ws, nw, ph, &out, progress, &pg))
            fatal = 1;
        int64_t pe = clock_mono_ns();
        for (int i = 0; i < nw; i++)
            if (ws[i].w.fatal) {
                fprintf(stderr, PROG ": %s\n", ws[i].w.err);
                fatal = 1;
            }
        if (n_stages < MAX_STAGES) {
            struct stage_result *sr = &stages[n_stages++];
            sr->stage = ph->stage;
            sr->has_stage = ph->has_stage;
            sr->done = SUM(ws, nw, done) - done0;
            sr->errors = SUM(ws, nw, errors) - err0;
            sr->tokens = SUM(ws, nw, tokens_out) - tok0;
            sr->wall_us = (pe - ps) / 1000;
            sr->ttft_p50 = sr->ttft_p99 = NAN;
            if (ttft_from)
                samples_slice_percentiles(ws, nw, ttft_from, &sr->ttft_p50, &sr->ttft_p99);
            tally_since(&tmark, &sr->tally);
        }
        free(ttft_from);
        if (o.search && !atomic_load(&g_stop) && !fatal) {
            size_t ns = 0;
            struct slo_sample *sv = tally_samples_since(&tmark, &ns);
            struct slo_verdict v;
            slo_judge(&o.slo, sv, ns, &v);
            free(sv);
            if (search_stage_json(&sline, mode, sx, clock_epoch_us(), (pe - ps) / 1000, &o.slo,
                                  &v) == 0)
                tlog_writer_line(out.w, sline.p, sline.len, 0, 0);
            char why[600];
            slo_describe(&o.slo, &v, why, sizeof why);
            int again = v.kind == SLO_UNDECIDED && lengthened < o.search_lengthen;
            if (!o.quiet)
                fprintf(stderr, PROG ": search: %s %g: %s (%zu requests): %s%s\n",
                        o.search == 1 ? "concurrency" : "rate", sx, slo_verdict_name(v.kind),
                        v.n, why, again ? "; lengthening the stage" : "");
            if (n_sres < sizeof sres / sizeof sres[0]) {
                sres[n_sres].x = sx;
                sres[n_sres].wall_us = (pe - ps) / 1000;
                sres[n_sres].v = v;
                n_sres++;
            }
            if (again) {
                lengthened++;
                stage_n_now *= 2; /* the same load again, with twice the requests */
            } else {
                lengthened = 0;
                stage_n_now = stage_n;
                sx = search_next(&ss, sx, v.kind);
            }
        }
        if (ph->kind == PHASE_CLOSED) {
            uint64_t used = atomic_load(&ph->next);
            seq_base += used * (uint64_t)o.shard_n + (uint64_t)o.shard_n;
        }
        free(ph);
        if (o.stage_pause_us && (o.search ? sx > 0 : p + 1 < n_phases) &&
            !atomic_load(&g_stop)) {
            int64_t until = clock_mono_ns() + o.stage_pause_us * 1000;
            while (clock_mono_ns() < until && !atomic_load(&g_stop)) {
                struct timespec ts = {0, 50 * 1000000L};
                nanosleep(&ts, NULL);
                pthread_mutex_lock(&out.mu);
                tlog_writer_tick(out.w, clock_mono_us());
                pthread_mutex_unlock(&out.mu);
            }
        }
    }
    int64_t run_us = (clock_mono_ns() - run_t0) / 1000;
    buf_free(&sline);
    scrape_stop(&scr); /* one last sample, then the thread is gone */
    int gave_up = atomic_load(&out.gave_up);
    int interrupted = atomic_load(&g_stop) && !gave_up;

    /* Totals. */
    uint64_t sent = ws ? SUM(ws, nw, sent) : 0, done = ws ? SUM(ws, nw, done) : 0;
    uint64_t errors = ws ? SUM(ws, nw, errors) : 0, tokens = ws ? SUM(ws, nw, tokens_out) : 0;
    uint64_t resent = ws ? SUM(ws, nw, resent) : 0, new_conns = ws ? SUM(ws, nw, new_conns) : 0;
    struct hc_stats hs = {0};
    for (int i = 0; ws && i < nw; i++) {
        struct hc_stats one;
        hc_engine_stats(ws[i].w.hc, &one);
        hs.connects += one.connects;
        hs.connect_failures += one.connect_failures;
        hs.closed_idle += one.closed_idle;
        hs.reuse_off |= one.reuse_off;
    }
    uint64_t by_kind[TLOG_ERROR_KIND_COUNT] = {0};
    for (int k = 0; ws && k < TLOG_ERROR_KIND_COUNT; k++)
        for (int i = 0; i < nw; i++)
            by_kind[k] += atomic_load(&ws[i].w.st.by_kind[k]);
    size_t n_lag = 0;
    for (int i = 0; ws && i < nw; i++)
        n_lag += ws[i].w.lag.n;
    double lag_p50 = NAN, lag_p99 = NAN, lag_max = NAN;
    int64_t *lag = n_lag ? malloc(n_lag * sizeof(*lag)) : NULL;
    if (lag) {
        size_t k = 0;
        for (int i = 0; i < nw; i++)
            for (size_t j = 0; j < ws[i].w.lag.n; j++)
                lag[k++] = ws[i].w.lag.v[j];
        qsort(lag, k, sizeof(*lag), cmp_i64);
        lag_p50 = percentile(lag, k, 0.5);
        lag_p99 = percentile(lag, k, 0.99);
        lag_max = (double)lag[k - 1];
        free(lag);
    }

    struct tally_summary tt;
    tally_since(NULL, &tt);

    cJSON *stats = cJSON_CreateObject();
    cJSON_AddNumberToObject(stats, "sent", (double)sent);
    cJSON_AddNumberToObject(stats, "done", (double)done);
    cJSON_AddNumberToObject(stats, "errors", (double)errors);
    cJSON *bk = cJSON_AddObjectToObject(stats, "errors_by_kind");
    for (int k = 1; k < TLOG_ERROR_KIND_COUNT; k++)
        if (by_kind[k])
            cJSON_AddNumberToObject(bk, tlog_error_kind_name((enum tlog_error_kind)k),
                                    (double)by_kind[k]);
    cJSON_AddNumberToObject(stats, "tokens_out", (double)tokens);
    stats_add_tally(stats, &tt);
    cJSON_AddNumberToObject(stats, "elapsed_us", (double)run_us);
    cJSON_AddBoolToObject(stats, "interrupted", interrupted);
    cJSON_AddNumberToObject(stats, "resent", (double)resent);
    cJSON *cs = cJSON_AddObjectToObject(stats, "connections");
    cJSON_AddNumberToObject(cs, "opened", (double)hs.connects);
    cJSON_AddNumberToObject(cs, "failed", (double)hs.connect_failures);
    cJSON_AddNumberToObject(cs, "closed_idle_by_server", (double)hs.closed_idle);
    cJSON_AddNumberToObject(cs, "requests_on_new", (double)new_conns);
    cJSON_AddBoolToObject(cs, "reuse_off", hs.reuse_off);
    if (gave_up)
        cJSON_AddNumberToObject(stats, "gave_up_after_connect_errors",
                                (double)o.max_connect_errors);
    if (load_stopped)
        cJSON_AddBoolToObject(stats, "input_complete", 0);
    if (!isnan(lag_p99)) {
        cJSON_AddNumberToObject(stats, "sched_lag_p50_us", lag_p50);
        cJSON_AddNumberToObject(stats, "sched_lag_p99_us", lag_p99);
        cJSON_AddNumberToObject(stats, "sched_lag_max_us", lag_max);
    }
    if (o.scrape_url) {
        cJSON *sj = cJSON_AddObjectToObject(stats, "scrape");
        char *shown = redact_url(scrape_url);
        cJSON_AddStringToObject(sj, "url", shown ? shown : "");
        free(shown);
        cJSON_AddNumberToObject(sj, "scrapes", (double)scr.st.scrapes);
        cJSON_AddNumberToObject(sj, "failures", (double)scr.st.failures);
        cJSON_AddNumberToObject(sj, "samples", (double)scr.st.samples);
        cJSON_AddNumberToObject(sj, "skipped", (double)scr.st.skipped);
        cJSON_AddNumberToObject(sj, "bad_lines", (double)scr.st.bad_lines);
        if (scr.st.first_error[0])
            cJSON_AddStringToObject(sj, "first_error", scr.st.first_error);
    }
    /* --search's answer: the highest stage that met, and the lowest above it that did not */
    const struct search_stage_result *best = NULL, *above = NULL;
    for (size_t i = 0; i < n_sres; i++) {
        if (sres[i].v.kind == SLO_MET && (!best || sres[i].x > best->x))
            best = &sres[i];
    }
    for (size_t i = 0; i < n_sres; i++)
        if (sres[i].v.kind != SLO_MET && (!best || sres[i].x > best->x) &&
            (!above || sres[i].x < above->x || (sres[i].x == above->x)))
            above = &sres[i];
    cJSON *search_json = NULL;
    if (o.search) {
        search_json = cJSON_CreateObject();
        cJSON_AddStringToObject(search_json, "search", o.search == 1 ? "concurrency" : "rate");
        cJSON_AddNumberToObject(search_json, "stages", (double)n_sres);
        cJSON_AddNumberToObject(search_json, "elapsed_us", (double)run_us);
        cJSON_AddBoolToObject(search_json, "interrupted", interrupted);
        /* the bracket the stages left: converged when narrower than the tolerance */
        int conv = ss.lo > 0 && ss.hi > 0 &&
                   ((ss.hi - ss.lo) / ss.lo <= ss.tolerance || (ss.integer && ss.hi - ss.lo <= 1));
        cJSON *br = cJSON_AddObjectToObject(search_json, "bracket");
        if (ss.lo > 0)
            cJSON_AddNumberToObject(br, "met", ss.lo);
        else
            cJSON_AddNullToObject(br, "met");
        if (ss.hi > 0)
            cJSON_AddNumberToObject(br, "not_met", ss.hi);
        else
            cJSON_AddNullToObject(br, "not_met");
        cJSON_AddBoolToObject(search_json, "converged", conv);
        const struct search_stage_result *pick[2] = {best, above};
        const char *names[2] = {"answer", "next"};
        for (int k = 0; k < 2; k++) {
            if (!pick[k]) {
                cJSON_AddNullToObject(search_json, names[k]);
                continue;
            }
            struct buf jb;
            buf_init(&jb, 1u << 20);
            search_stage_json(&jb, mode, pick[k]->x, 0, pick[k]->wall_us, &o.slo, &pick[k]->v);
            cJSON *one = cJSON_Parse(jb.p ? jb.p : "null");
            buf_free(&jb);
            if (one) {
                cJSON_DeleteItemFromObject(one, "type");
                cJSON_DeleteItemFromObject(one, "t_us");
                cJSON_AddItemToObject(search_json, names[k], one);
            }
        }
        cJSON_AddItemReferenceToObject(stats, "search", search_json);
    }
    uint64_t ss_started = 0, ss_done = 0, ss_failed = 0, ss_cut = 0, ss_not_sent = 0;
    uint64_t hist[SESS_HIST_COUNT] = {0}, think_src[3] = {0};
    if (o.sessions && ws) {
        ss_started = SUM(ws, nw, sess_started);
        ss_done = SUM(ws, nw, sess_completed);
        ss_failed = SUM(ws, nw, sess_failed);
        ss_cut = SUM(ws, nw, sess_cut);
        ss_not_sent = SUM(ws, nw, turns_not_sent);
        for (int i = 0; i < nw; i++) {
            for (int h = 0; h < SESS_HIST_COUNT; h++)
                hist[h] += atomic_load(&ws[i].w.st.history[h]);
            for (int k = 0; k < 3; k++)
                think_src[k] += atomic_load(&ws[i].w.st.think_src[k]);
        }
        cJSON *so = cJSON_AddObjectToObject(stats, "sessions");
        cJSON_AddNumberToObject(so, "sessions", (double)sessions.n);
        cJSON_AddNumberToObject(so, "started", (double)ss_started);
        cJSON_AddNumberToObject(so, "completed", (double)ss_done);
        cJSON_AddNumberToObject(so, "ended_by_failure", (double)ss_failed);
        cJSON_AddNumberToObject(so, "cut", (double)ss_cut);
        cJSON_AddNumberToObject(so, "turns_not_sent", (double)ss_not_sent);
        cJSON_AddStringToObject(so, "history", o.history_recorded ? "recorded" : "live");
        if (!o.history_recorded) {
            cJSON *hh = cJSON_AddObjectToObject(so, "history_turns");
            for (int h = 0; h < SESS_HIST_COUNT; h++)
                cJSON_AddNumberToObject(hh, sess_history_name((enum sess_history)h),
                                        (double)hist[h]);
        }
        cJSON *ts = cJSON_AddObjectToObject(so, "think_from");
        cJSON_AddNumberToObject(ts, "recorded", (double)think_src[SESS_THINK_RECORDED]);
        cJSON_AddNumberToObject(ts, "think_time", (double)think_src[SESS_THINK_FIXED]);
        cJSON_AddNumberToObject(ts, "gap", (double)think_src[SESS_THINK_GAP]);
    }
    cJSON *sa = cJSON_AddArrayToObject(stats, "stages");
    for (size_t i = 0; i < n_stages; i++) {
        cJSON *s = cJSON_CreateObject();
        if (stages[i].has_stage)
            cJSON_AddNumberToObject(s, "stage", stages[i].stage);
        cJSON_AddNumberToObject(s, "done", (double)stages[i].done);
        cJSON_AddNumberToObject(s, "errors", (double)stages[i].errors);
        cJSON_AddNumberToObject(s, "tokens_out", (double)stages[i].tokens);
        stats_add_tally(s, &stages[i].tally);
        cJSON_AddNumberToObject(s, "elapsed_us", (double)stages[i].wall_us);
        cJSON_AddItemToArray(sa, s);
    }

    pthread_mutex_lock(&out.mu);
    int write_failed = atomic_load(&out.failed);
    int close_rc = tlog_writer_close(out.w, stats);
    out.w = NULL;
    pthread_mutex_unlock(&out.mu);
    cJSON_Delete(stats);
    if (write_failed || close_rc) {
        fprintf(stderr, PROG ": %s: %s\n", o.output, out.err[0] ? out.err : "write failed");
        fatal = 1;
    }

    if (!o.quiet && load_stopped) {
        fprintf(stderr, PROG ": interrupted while reading %s: no request sent; %s holds the "
                        "header and trailer only.\n", o.input, o.output);
    } else if (!o.quiet) {
        double secs = (double)run_us / 1e6;
        char kinds[512] = "";
        size_t kl = 0;
        for (int k = 1; k < TLOG_ERROR_KIND_COUNT && kl < sizeof(kinds) - 64; k++)
            if (by_kind[k])
                kl += (size_t)snprintf(kinds + kl, sizeof(kinds) - kl, "%s%s %llu",
                                       kl ? ", " : " (", tlog_error_kind_name(k),
                                       (unsigned long long)by_kind[k]);
        if (kl)
            snprintf(kinds + kl, sizeof(kinds) - kl, ")");
        /* "*": the number rests on n_out counted from stream events (footnote below) */
        const char *mark = tt.from_events ? "*" : "";
        fprintf(stderr, PROG ": %s%llu requests to %s in %.1fs (%.1f req/s): %llu ok, %llu "
                        "failed%s; %llu output tokens (%.0f tok/s%s)",
                interrupted ? "interrupted: " : "", (unsigned long long)done, target, secs,
                secs > 0 ? (double)done / secs : 0, (unsigned long long)(done - errors),
                (unsigned long long)errors, kinds, (unsigned long long)tokens,
                secs > 0 ? (double)tokens / secs : 0, mark);
        if (n_stages == 1 && !isnan(stages[0].ttft_p50)) {
            char a[24], b[24];
            fmt_us(stages[0].ttft_p50, a, sizeof(a));
            fmt_us(stages[0].ttft_p99, b, sizeof(b));
            fprintf(stderr, "; TTFT p50 %s, p99 %s", a, b);
        }
        if (n_stages == 1 && !isnan(tt.tpot_p50_us)) {
            char a[24];
            fmt_us(tt.tpot_p50_us, a, sizeof(a));
            fprintf(stderr, "; TPOT p50 %s%s", a, mark);
        }
        if (!isnan(lag_p99)) {
            char a[24], b[24], c[24];
            fmt_us(lag_p50, a, sizeof(a));
            fmt_us(lag_p99, b, sizeof(b));
            fmt_us(lag_max, c, sizeof(c));
            fprintf(stderr, "; schedule lag p50 %s, p99 %s, max %s", a, b, c);
        }
        fprintf(stderr, "; results in %s.\n", o.output);
        if (resent)
            fprintf(stderr, "  re-sent: %llu request%s died on a reused connection before any "
                            "response byte and went out again on a new one (not failures; "
                            "replay.attempts)\n",
                    (unsigned long long)resent, resent == 1 ? "" : "s");
        if (o.sessions) {
            fprintf(stderr, "  sessions: %llu of %zu started, %llu completed, %llu ended by a "
                            "failed turn, %llu cut short (stop, --duration); %llu turns not "
                            "sent\n", (unsigned long long)ss_started, sessions.n,
                    (unsigned long long)ss_done, (unsigned long long)ss_failed,
                    (unsigned long long)ss_cut, (unsigned long long)ss_not_sent);
            uint64_t rec = 0;
            for (int h = 1; h < SESS_HIST_COUNT; h++)
                rec += hist[h];
            if (!o.history_recorded && rec)
                fprintf(stderr, "  history: %llu next turns carried the endpoint's reply, %llu "
                                "went with the recorded one (%llu not chat, %llu not extending "
                                "the previous turn, %llu tool calls differ, %llu reply "
                                "unreadable)\n", (unsigned long long)hist[SESS_HIST_LIVE],
                        (unsigned long long)rec, (unsigned long long)hist[SESS_HIST_NOT_CHAT],
                        (unsigned long long)hist[SESS_HIST_NOT_EXTENDING],
                        (unsigned long long)hist[SESS_HIST_TOOLS_DIFFER],
                        (unsigned long long)hist[SESS_HIST_NO_REPLY]);
            if (think_src[SESS_THINK_GAP])
                fprintf(stderr, "  think times: %llu turns recorded none; the recorded gap "
                                "(next start - previous end) was used (--think-time sets one)\n",
                        (unsigned long long)think_src[SESS_THINK_GAP]);
        }
        if (hs.reuse_off)
            fprintf(stderr, "  connections: the server closed them right after their responses "
                            "without Connection: close; a new connection per request from then "
                            "on\n");
        for (size_t i = 0; i < n_stages && n_stages > 1; i++) {
            const struct stage_result *st = &stages[i];
            const char *sm = st->tally.from_events ? "*" : "";
            char a[24], b[24], c[24];
            fmt_us(st->ttft_p50, a, sizeof(a));
            fmt_us(st->ttft_p99, b, sizeof(b));
            fmt_us(st->tally.tpot_p50_us, c, sizeof(c));
            double sec = (double)st->wall_us / 1e6;
            fprintf(stderr, "  stage %g: %llu requests, %llu failed, %.1f req/s, %.0f tok/s%s, "
                            "TTFT p50 %s p99 %s, TPOT p50 %s%s\n", st->stage,
                    (unsigned long long)st->done, (unsigned long long)st->errors,
                    sec > 0 ? (double)st->done / sec : 0,
                    sec > 0 ? (double)st->tokens / sec : 0, sm, a, b, c,
                    isnan(st->tally.tpot_p50_us) ? "" : sm);
        }
        if (tt.from_events)
            fprintf(stderr, "  * n_out counted from stream events (tokens_source \"events\") for "
                            "%llu of %llu requests (%.0f %%): a lower bound when an event "
                            "carries several tokens, so tok/s may read low and TPOT high (%s)\n",
                    (unsigned long long)tt.from_events, (unsigned long long)tt.done,
                    tt.done ? 100.0 * (double)tt.from_events / (double)tt.done : 0,
                    o.include_usage ? "the endpoint reported no usage"
                                    : "--no-include-usage: requests did not ask for usage");
    }
    if (o.scrape_url && !o.quiet) {
        if (scr.st.samples)
            fprintf(stderr, "  server metrics: %llu scrapes, %llu samples in the log%s%s\n",
                    (unsigned long long)scr.st.scrapes, (unsigned long long)scr.st.samples,
                    scr.st.failures ? "; some failed: " : "",
                    scr.st.failures ? scr.st.first_error : "");
        else
            fprintf(stderr, "  server metrics: none (%llu scrapes of %s: %s)\n",
                    (unsigned long long)scr.st.scrapes, scrape_url,
                    scr.st.first_error[0] ? scr.st.first_error : "no samples");
    }
    if (o.search) {
        const char *what = o.search == 1 ? "concurrency" : "rate";
        char a[600] = "", b[600] = "";
        if (best)
            slo_describe(&o.slo, &best->v, a, sizeof a);
        if (above)
            slo_describe(&o.slo, &above->v, b, sizeof b);
        int conv = ss.lo > 0 && ss.hi > 0 &&
                   ((ss.hi - ss.lo) / ss.lo <= ss.tolerance || (ss.integer && ss.hi - ss.lo <= 1));
        if (!o.quiet && best)
            fprintf(stderr, PROG ": capacity at the SLO: %s %g (met: %s); %zu stages in %.1fs%s\n",
                    what, best->x, a, n_sres, (double)run_us / 1e6,
                    conv ? "" : ss.hi > 0 ? " — the stage budget ran out before the bracket "
                                            "narrowed to --search-tolerance"
                                          : " — nothing failed: raise --search-stages to go on");
        else if (!o.quiet)
            fprintf(stderr, PROG ": nothing meets the SLO: at %s %g, %s%s; %zu stages in %.1fs\n",
                    what, above ? above->x : 0, above ? b : "no stage ran",
                    above && above->v.kind == SLO_UNDECIDED ? " (undecided)" : "", n_sres,
                    (double)run_us / 1e6);
        if (!o.quiet && best && above)
            fprintf(stderr, PROG ": next: %s %g %s: %s\n", what, above->x,
                    slo_verdict_name(above->v.kind), b);
        if (o.json && search_json) {
            char *js = cJSON_PrintUnformatted(search_json);
            if (js) {
                printf("%s\n", js);
                cJSON_free(js);
            }
        }
    }
    cJSON_Delete(search_json);
    free(scrape_url);
    /* a failed TLS handshake is a connection that never carried a request, too */
    int no_connect = done > 0 && by_kind[TLOG_ERROR_CONNECT] + by_kind[TLOG_ERROR_CONNECT_TIMEOUT] +
                                         by_kind[TLOG_ERROR_TLS] == done;
    /* a run where every request got an HTTP error is not a measurement of the model */
    if (!o.quiet && done > 0 && by_kind[TLOG_ERROR_HTTP_STATUS] == done)
        fprintf(stderr, PROG ": warning: every request failed with an HTTP error status (see "
                        "error.message in the log): the endpoint answered, but not as asked\n");
    if (gave_up)
        fprintf(stderr, PROG ": gave up: %lld requests in a row could not connect to %s and none "
                        "ever did (--max-connect-errors)\n",
                (long long)o.max_connect_errors, target);
    else if (no_connect && !o.quiet)
        fprintf(stderr, PROG ": no request could connect to %s%s\n", target,
                by_kind[TLOG_ERROR_TLS] ? " (TLS failed; --insecure skips verification)" : "");

    for (int i = 0; ws && i < nw; i++)
        client_worker_free(&ws[i].w);
    free(ws);
    for (size_t i = 0; i < n_rec; i++) {
        free(rec_headers[i].name);
        free(rec_headers[i].value);
    }
    explicit_bzero(cfg.headers.p, cfg.headers.cap); /* the key may be in there */
    client_cfg_free_headers(&cfg);
    free(cfg.base_url);
    free(cfg.base_query);
    free(target);
    free(offsets);
    sess_table_free(&sessions);
    input_free(&in);
    tally_free();

    return fatal || interrupted || no_connect || gave_up ? 1 : 0;
}
