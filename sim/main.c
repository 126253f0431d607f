/* main.c — llmtrace-sim's command line: parses and checks options (sim/README.md is the
 * reference), prints --help/--version, and hands over to sim_run(). Exit codes: 0 clean stop,
 * 1 runtime failure, 2 usage error. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "gen.h"
#include "sim.h"
#include "units.h"

static const char usage_text[] =
    "Usage: llmtrace-sim [OPTIONS]\n"
    "A simulated LLM endpoint (OpenAI chat/completions, Anthropic messages, Ollama, TGI) with a\n"
    "continuous-batching timing model, fault injection and a ground-truth trace log.\n"
    "\n"
    "Serving:\n"
    "  --listen ADDR:PORT       address to bind (default 127.0.0.1:8000; [::1]:PORT for IPv6;\n"
    "                           port 0 lets the kernel choose)\n"
    "  --port-file FILE         write the bound port + newline to FILE once listening\n"
    "  --threads N              worker threads; each models an independent replica (default 1)\n"
    "  --max-body SIZE          largest request body, e.g. 1MB (default 4MB); larger → 400\n"
    "  --drain-seconds S        on SIGINT/SIGTERM, let streams finish this long (default 5);\n"
    "                           a second signal stops at once\n"
    "  --idle-timeout S         close a connection after S seconds with no request in progress\n"
    "                           (a half-sent request counts as none and gets 408); default 60,\n"
    "                           0 = never\n"
    "  --model NAME             model name served by /v1/models and used when a request has none\n"
    "Real servers (see README; explicit flags override a persona's defaults):\n"
    "  --persona NAME           sim | llama.cpp | vllm | sglang | ollama | tgi | openai: that\n"
    "                           server's stream shapes, headers, error bodies and connection\n"
    "                           policy\n"
    "  --close-after-stream     close (FIN) after each streamed response, headers saying\n"
    "                           keep-alive (llama.cpp); a request sent after it gets a reset\n"
    "  --keepalive-requests N   close after N responses, the last with Connection: close\n"
    "  --keepalive-timeout T    close (FIN) a connection idle T after its last response\n"
    "  --connection-close       Connection: close on every response (= --keepalive-requests 1)\n"
    "  --close-race-every N     close instead of answering every Nth request that arrives on\n"
    "                           a reused connection (the FIN follows the request)\n"
    "  --close-race-rate P      ... each such request with probability P (seeded)\n"
    "  --sse-comment-every N    an SSE comment (\": keep-alive\") before every Nth content\n"
    "                           event, as TGI and gateways send on idle streams\n"
    "Model:\n"
    "  --profile P              zero | default | linear:A,C,P (step = A + C*batch ms, P ms per\n"
    "                           prompt token) | MODEL/HW (built-in splitwise-sim data, e.g.\n"
    "                           llama2-70b/h100-80gb) | FILE.csv:MODEL/HW (default: default)\n"
    "  --max-batch N            sequences decoded together (default 32)\n"
    "  --tokens-per-event K     tokens per streamed event (default 1)\n"
    "  --chunked-prefill N      at most N tokens per step: K per decoding sequence, the rest\n"
    "                           as prompt chunks (vLLM's max-num-batched-tokens; N >= max-batch;\n"
    "                           default 0 = whole prompts in the step they join)\n"
    "  --prefix-cache BLOCKS    a KV cache of BLOCKS blocks with automatic prefix caching (vLLM's):\n"
    "                           a prompt's cached prefix skips its prefill, usage reports\n"
    "                           prompt_tokens_details.cached_tokens; full cache = preemption\n"
    "  --block-size N           tokens per KV block (default 16)\n"
    "  --queue-limit N          answer 429 + Retry-After when N requests already wait (0 = off)\n"
    "  --tokenizer bytes|words  prompt tokens = ceil(bytes/4) or whitespace words (default bytes)\n"
    "  --default-max-tokens N   output cap when a request gives none (default 256)\n"
    "  --seed N                 seed of every random draw (default 1)\n"
    "Faults (each rate in [0,1], drawn per request from --seed and the request number):\n"
    "  --fail-rate P --fail-status 500|503|429   answer with that error status\n"
    "  --reset-rate P           reset the connection (RST) after a random number of tokens\n"
    "  --stall-rate P --stall-ms M   pause the stream M ms after a random token\n"
    "  --slow-start-ms M        every response starts M ms late (headers included)\n"
    "  --malformed-rate P       one streamed event of the response is cut short (broken JSON)\n"
    "  --drop-connection-rate P close the connection before sending headers\n"
    "Output:\n"
    "  --log FILE.jsonl.gz      ground-truth trace log: one exchange per request with the time\n"
    "                           each event was written to the socket\n"
    "  -q, --quiet              no status lines on stderr\n"
    "  --help, --version\n"
    "\n"
    "Examples:\n"
    "  llmtrace-sim                                   # default profile on 127.0.0.1:8000\n"
    "  llmtrace-sim --listen 127.0.0.1:0 --port-file port.txt --log truth.jsonl.gz\n"
    "  llmtrace-sim --profile llama2-70b/h100-80gb --max-batch 64\n"
    "  llmtrace-sim --profile zero --tokens-per-event 1    # as fast as possible (benchmarks)\n"
    "  llmtrace-sim --fail-rate 0.05 --fail-status 503 --reset-rate 0.01 --seed 7\n"
    "  llmtrace-sim --persona llama.cpp             # llama.cpp b4747's shapes and closes\n"
    "  llmtrace-sim --tokenizer words --prefix-cache 4096 --block-size 16   # conversations\n"
    "  curl -sN localhost:8000/v1/chat/completions -d '{\"model\":\"m\",\"stream\":true,\n"
    "       \"max_tokens\":8,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}'\n"
    "\n"
    "Exit status: 0 stopped cleanly, 1 runtime failure, 2 usage error.\n";

enum {
    OPT_LISTEN = 256, OPT_PORT_FILE, OPT_LOG, OPT_SEED, OPT_PROFILE, OPT_MAX_BATCH, OPT_TPE,
    OPT_QUEUE, OPT_THREADS, OPT_DRAIN, OPT_MAX_BODY, OPT_TOKENIZER, OPT_FAIL_RATE, OPT_FAIL_STATUS,
    OPT_RESET, OPT_STALL_RATE, OPT_STALL_MS, OPT_SLOW, OPT_MALF, OPT_DROP, OPT_QUIET, OPT_HELP,
    OPT_VERSION, OPT_MODEL, OPT_DEFMAX, OPT_IDLE, OPT_CHUNKED, OPT_PERSONA, OPT_CAS, OPT_KAREQ,
    OPT_KATIME, OPT_CONNCLOSE, OPT_RACE_EVERY, OPT_RACE_RATE, OPT_SSE_COMMENT, OPT_PREFIX, OPT_BLOCK
};

static const struct option long_opts[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"port-file", required_argument, NULL, OPT_PORT_FILE},
    {"log", required_argument, NULL, OPT_LOG},
    {"seed", required_argument, NULL, OPT_SEED},
    {"profile", required_argument, NULL, OPT_PROFILE},
    {"max-batch", required_argument, NULL, OPT_MAX_BATCH},
    {"tokens-per-event", required_argument, NULL, OPT_TPE},
    {"chunked-prefill", required_argument, NULL, OPT_CHUNKED},
    {"prefix-cache", required_argument, NULL, OPT_PREFIX},
    {"block-size", required_argument, NULL, OPT_BLOCK},
    {"queue-limit", required_argument, NULL, OPT_QUEUE},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"drain-seconds", required_argument, NULL, OPT_DRAIN},
    {"idle-timeout", required_argument, NULL, OPT_IDLE},
    {"max-body", required_argument, NULL, OPT_MAX_BODY},
    {"tokenizer", required_argument, NULL, OPT_TOKENIZER},
    {"fail-rate", required_argument, NULL, OPT_FAIL_RATE},
    {"fail-status", required_argument, NULL, OPT_FAIL_STATUS},
    {"reset-rate", required_argument, NULL, OPT_RESET},
    {"stall-rate", required_argument, NULL, OPT_STALL_RATE},
    {"stall-ms", required_argument, NULL, OPT_STALL_MS},
    {"slow-start-ms", required_argument, NULL, OPT_SLOW},
    {"malformed-rate", required_argument, NULL, OPT_MALF},
    {"drop-connection-rate", required_argument, NULL, OPT_DROP},
    {"model", required_argument, NULL, OPT_MODEL},
    {"default-max-tokens", required_argument, NULL, OPT_DEFMAX},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"persona", required_argument, NULL, OPT_PERSONA},
    {"close-after-stream", no_argument, NULL, OPT_CAS},
    {"keepalive-requests", required_argument, NULL, OPT_KAREQ},
    {"keepalive-timeout", required_argument, NULL, OPT_KATIME},
    {"connection-close", no_argument, NULL, OPT_CONNCLOSE},
    {"close-race-every", required_argument, NULL, OPT_RACE_EVERY},
    {"close-race-rate", required_argument, NULL, OPT_RACE_RATE},
    {"sse-comment-every", required_argument, NULL, OPT_SSE_COMMENT},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static int usage_error(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "llmtrace-sim: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\nTry 'llmtrace-sim --help'.\n");
    return 2;
}

static int parse_rate(const char *name, const char *s, double *out)
{
    if (units_parse_double(s, out) < 0 || *out < 0 || *out > 1)
        return usage_error("--%s %s: expected a probability in [0,1]", name, s);
    return 0;
}

static int parse_int(const char *name, const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (units_parse_int64(s, min, max, out) < 0)
        return usage_error("--%s %s: expected an integer in range", name, s);
    return 0;
}

/* Splits ADDR:PORT ([v6]:PORT) into o->host / o->port. */
static int parse_listen(struct sim_opts *o, const char *s)
{
    const char *colon;
    size_t hl;
    int64_t port;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':')
            return usage_error("--listen %s: expected [ADDR]:PORT%s", s, "");
        hl = (size_t)(rb - s - 1);
        if (hl >= sizeof(o->host))
            return usage_error("--listen %s: address too long%s", s, "");
        memcpy(o->host, s + 1, hl);
        o->host[hl] = '\0';
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return usage_error("--listen %s: expected ADDR:PORT%s", s, "");
        hl = (size_t)(colon - s);
        if (hl >= sizeof(o->host))
            return usage_error("--listen %s: address too long%s", s, "");
        memcpy(o->host, s, hl);
        o->host[hl] = '\0';
    }
    if (units_parse_int64(colon + 1, 0, 65535, &port) < 0)
        return usage_error("--listen %s: bad port%s", s, "");
    snprintf(o->port, sizeof(o->port), "%" PRId64, port);
    o->listen = s;
    return 0;
}

int main(int argc, char **argv)
{
    struct sim_opts o = {0};
    const char *profile = "default";
    char err[512];
    int c, rc;
    int64_t v;
    uint64_t sz;
    int set_cas = 0, set_kareq = 0, set_katime = 0, set_block = 0;

    snprintf(o.host, sizeof(o.host), "127.0.0.1");
    snprintf(o.port, sizeof(o.port), "8000");
    o.listen = "127.0.0.1:8000";
    o.model = "llmtrace-sim";
    o.seed = 1;
    o.max_batch = 32;
    o.tokens_per_event = 1;
    o.threads = 1;
    o.drain_us = 5000000;
    o.idle_timeout_us = 60000000;
    o.max_body = (uint64_t)4 << 20;
    o.default_max_tokens = 256;
    o.block_size = 16;
    o.fail_status = 500;
    o.stall_ms = 0;
    o.argc = argc;
    o.argv = argv;

    while ((c = getopt_long(argc, argv, "hVq", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_LISTEN:
            if ((rc = parse_listen(&o, optarg)))
                return rc;
            break;
        case OPT_PORT_FILE: o.port_file = optarg; break;
        case OPT_LOG: o.log_path = optarg; break;
        case OPT_MODEL:
            if (!*optarg)
                return usage_error("--model: empty name%s%s", "", "");
            o.model = optarg;
            break;
        case OPT_SEED:
            if (units_parse_int64(optarg, 0, INT64_MAX, &v) < 0)
                return usage_error("--seed %s: expected a non-negative integer%s", optarg, "");
            o.seed = (uint64_t)v;
            break;
        case OPT_PROFILE: profile = optarg; break;
        case OPT_MAX_BATCH:
            if ((rc = parse_int("max-batch", optarg, 1, 100000, &v)))
                return rc;
            o.max_batch = (int)v;
            break;
        case OPT_TPE:
            if ((rc = parse_int("tokens-per-event", optarg, 1, 4096, &v)))
                return rc;
            o.tokens_per_event = (int)v;
            break;
        case OPT_CHUNKED:
            if ((rc = parse_int("chunked-prefill", optarg, 0, 100000000, &o.chunked_prefill)))
                return rc;
            break;
        case OPT_PREFIX:
            if ((rc = parse_int("prefix-cache", optarg, 1, (int64_t)1 << 24, &o.prefix_cache)))
                return rc;
            break;
        case OPT_BLOCK:
            if ((rc = parse_int("block-size", optarg, 1, 65536, &o.block_size)))
                return rc;
            set_block = 1;
            break;
        case OPT_QUEUE:
            if ((rc = parse_int("queue-limit", optarg, 0, INT64_MAX, &o.queue_limit)))
                return rc;
            break;
        case OPT_THREADS:
            if ((rc = parse_int("threads", optarg, 1, 256, &v)))
                return rc;
            o.threads = (int)v;
            break;
        case OPT_DRAIN:
            if (units_parse_duration_us(optarg, &o.drain_us) < 0 || o.drain_us < 0)
                return usage_error("--drain-seconds %s: expected seconds (or a duration)%s", optarg, "");
            break;
        case OPT_IDLE:
            if (units_parse_duration_us(optarg, &o.idle_timeout_us) < 0 || o.idle_timeout_us < 0 ||
                o.idle_timeout_us > (int64_t)86400 * 1000000)
                return usage_error("--idle-timeout %s: expected seconds (or a duration) up to 1 day%s",
                                   optarg, "");
            break;
        case OPT_MAX_BODY:
            if (units_parse_size(optarg, &sz) < 0 || sz == 0 || sz > ((uint64_t)1 << 30))
                return usage_error("--max-body %s: expected a size up to 1GB%s", optarg, "");
            o.max_body = sz;
            break;
        case OPT_TOKENIZER:
            if (strcmp(optarg, "words") == 0)
                o.tokenizer_words = 1;
            else if (strcmp(optarg, "bytes") != 0)
                return usage_error("--tokenizer %s: expected bytes or words%s", optarg, "");
            break;
        case OPT_FAIL_RATE:
            if ((rc = parse_rate("fail-rate", optarg, &o.fail_rate)))
                return rc;
            break;
        case OPT_FAIL_STATUS:
            if ((rc = parse_int("fail-status", optarg, 400, 599, &v)))
                return rc;
            o.fail_status = (int)v;
            break;
        case OPT_RESET:
            if ((rc = parse_rate("reset-rate", optarg, &o.reset_rate)))
                return rc;
            break;
        case OPT_STALL_RATE:
            if ((rc = parse_rate("stall-rate", optarg, &o.stall_rate)))
                return rc;
            break;
        case OPT_STALL_MS:
            if ((rc = parse_int("stall-ms", optarg, 0, 3600000, &o.stall_ms)))
                return rc;
            break;
        case OPT_SLOW:
            if ((rc = parse_int("slow-start-ms", optarg, 0, 3600000, &o.slow_start_ms)))
                return rc;
            break;
        case OPT_MALF:
            if ((rc = parse_rate("malformed-rate", optarg, &o.malformed_rate)))
                return rc;
            break;
        case OPT_DROP:
            if ((rc = parse_rate("drop-connection-rate", optarg, &o.drop_rate)))
                return rc;
            break;
        case OPT_DEFMAX:
            if ((rc = parse_int("default-max-tokens", optarg, 1, 1000000, &o.default_max_tokens)))
                return rc;
            break;
        case OPT_QUIET:
        case 'q': o.quiet = 1; break;
        case OPT_PERSONA:
            if ((o.persona = gen_persona_parse(optarg)) < 0)
                return usage_error("--persona %s: expected sim, llama.cpp, vllm, sglang, ollama, "
                                   "tgi or openai%s", optarg, "");
            break;
        case OPT_CAS: o.close_after_stream = set_cas = 1; break;
        case OPT_KAREQ:
            if ((rc = parse_int("keepalive-requests", optarg, 0, INT64_MAX, &o.keepalive_requests)))
                return rc;
            set_kareq = 1;
            break;
        case OPT_CONNCLOSE:
            o.keepalive_requests = 1;
            set_kareq = 1;
            break;
        case OPT_KATIME:
            if (units_parse_duration_us(optarg, &o.keepalive_timeout_us) < 0 ||
                o.keepalive_timeout_us < 0 || o.keepalive_timeout_us > (int64_t)86400 * 1000000)
                return usage_error("--keepalive-timeout %s: expected seconds (or a duration) up to "
                                   "1 day%s", optarg, "");
            set_katime = 1;
            break;
        case OPT_RACE_EVERY:
            if ((rc = parse_int("close-race-every", optarg, 1, INT64_MAX, &o.close_race_every)))
                return rc;
            break;
        case OPT_RACE_RATE:
            if ((rc = parse_rate("close-race-rate", optarg, &o.close_race_rate)))
                return rc;
            break;
        case OPT_SSE_COMMENT:
            if ((rc = parse_int("sse-comment-every", optarg, 1, 1000000, &o.sse_comment_every)))
                return rc;
            break;
        case OPT_HELP:
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        case OPT_VERSION:
        case 'V':
            printf("llmtrace-sim %s\n", LLMTRACE_VERSION);
            return 0;
        default:
            fprintf(stderr, "Try 'llmtrace-sim --help'.\n");
            return 2;
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'%s", argv[optind], "");
    if (o.chunked_prefill > 0 && o.chunked_prefill < o.max_batch) {
        char mb[24];
        snprintf(mb, sizeof(mb), "%d", o.max_batch);
        return usage_error("--chunked-prefill must be 0 or at least --max-batch (%s)%s", mb, "");
    }
    /* a persona brings its server's connection policy (sim/README.md "Personas") */
    if (o.persona == GEN_PERSONA_LLAMACPP) {
        if (!set_cas)
            o.close_after_stream = 1;     /* server.cpp: the stream's provider returns false */
        if (!set_kareq)
            o.keepalive_requests = 100;   /* CPPHTTPLIB_KEEPALIVE_MAX_COUNT */
        if (!set_katime)
            o.keepalive_timeout_us = 5000000; /* CPPHTTPLIB_KEEPALIVE_TIMEOUT_SECOND */
    } else if ((o.persona == GEN_PERSONA_VLLM || o.persona == GEN_PERSONA_SGLANG) && !set_katime) {
        o.keepalive_timeout_us = 5000000; /* uvicorn timeout_keep_alive */
    }
    if (set_block && o.prefix_cache == 0)
        return usage_error("--block-size needs --prefix-cache%s%s", "", "");
    if (o.stall_rate > 0 && o.stall_ms == 0)
        return usage_error("--stall-rate needs --stall-ms%s%s", "", "");
    if (profile_resolve(&o.prof, profile, err, sizeof(err)) < 0)
        return usage_error("--profile: %s%s", err, "");
    o.profile_spec = profile;
    {   /* one descriptor per connection: take the whole hard limit (10,000+ connections) */
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
        }
    }
    rc = sim_run(&o, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "llmtrace-sim: %s\n", err);
    return rc;
}
