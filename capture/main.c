/* main.c — llmtrace-capture: the command line around the packet path (engine.h).
 *
 * Flags follow tcpdump(1): -i/-r sources, -s, -B, -c, -w, -C/-G rotation, -Z, and a BPF
 * expression (pcap-filter(7)) as trailing arguments. Sources are libpcap handles: live devices
 * (TPACKET_V3 blocks, delivered within 100 ms), or pcap/pcapng files (several -r are merged by
 * timestamp). Output is the trace log (formats/tlog/tlog.h); exit codes 0 ok, 1 runtime failure, 2 usage error. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "engine.h"
#include "proxy.h"
#include "redact.h"
#include "tlog.h"
#include "units.h"

#define CAP_MAX_FILES 64

static volatile sig_atomic_t cap_stop;

static void cap_on_signal(int sig)
{
    (void)sig;
    if (cap_stop < 2)
        cap_stop++;              /* 1: stop capturing; 2: stop draining too */
}

struct cap_args {
    const char *iface;
    const char *files[CAP_MAX_FILES];
    size_t n_files;
    const char *out;
    int snaplen;
    int64_t buffer_mb;
    int64_t count;
    int64_t duration_us;
    const char *user;
    uint64_t rotate_bytes;
    int64_t rotate_us;
    int max_files;               /* -W: with -C a ring of this many names; with -G a limit */
    int quiet;
    char *filter;
    struct capture_opts eo;
    /* the recording proxy (--listen): proxy.h */
    const char *listen;
    const char *upstream;
    const char *api_key_env;
    const char *port_file;
    const char *cacert;
    const char *tls_cert, *tls_key;
    int insecure;
    int http2;
    int64_t grace_us;
    int64_t connect_timeout_us;
    uint64_t max_pending;
    int argc;
    char **argv;
};

struct cap_out {                 /* the current output file and its rotation state */
    const struct cap_args *a;
    struct tlog_writer *w;
    struct tlog_writer_opts wo;
    struct capture_engine *e;
    struct proxy *px;            /* --listen: the proxy's counters go in the trailer */
    cJSON *source;
    int index;                   /* rotation number (the number in the file name) */
    int files;                   /* files opened so far */
    int64_t interval_us;         /* capture time the -G interval (or the capture) began: the
                                    time of strftime names, also for -C files within it */
    int64_t now_us;              /* latest capture time */
    int failed;
    int limit_hit;               /* -G -W: the last file is over; stop */
    struct buf line;             /* one serialized exchange */
    uint64_t pending;            /* uncompressed bytes since the last member flush */
    char path[4096];
};

static void cap_usage(FILE *f)
{
    fputs(
        "usage: llmtrace-capture (-i IFACE | -r FILE...) [-w OUT] [options] [BPF filter]\n"
        "       llmtrace-capture --listen ADDR:PORT --upstream URL [-w OUT] [options]\n"
        "\n"
        "Records LLM API traffic (HTTP/1.1 + SSE/NDJSON) from the wire into a trace log, with\n"
        "the time of every streamed event; or, as a recording reverse proxy, what passes\n"
        "through it (HTTPS and HTTP/2 upstreams too, no root needed).\n"
        "\n"
        "Sources:\n"
        "  -i IFACE           capture live on IFACE (lo, eth0, any)\n"
        "  -r FILE            read a pcap or pcapng file; repeat to merge files by time\n"
        "  --listen ADDR:PORT be a reverse proxy on ADDR:PORT (HTTP/1.1; port 0: any)\n"
        "  --upstream URL     …forwarding to URL (http:// or https://; a path is ignored)\n"
        "  -s SNAPLEN         bytes captured per packet (default 262144: whole packets)\n"
        "  -B MB              kernel capture buffer in MiB (default 64)\n"
        "  -c COUNT           stop after COUNT packets\n"
        "  --duration D       stop after D (30s, 5m); live: wall time, files: capture time\n"
        "  -Z USER            drop privileges to USER after opening the device (default when\n"
        "                     root: nobody; not by default with -C/-G, see README)\n"
        "  trailing args      BPF filter, as tcpdump: tcp port 8000\n"
        "Proxy (--listen):\n"
        "  --api-key-env VAR  send 'Authorization: Bearer $VAR' upstream instead of the\n"
        "                     client's Authorization (the key is never in argv or the log)\n"
        "  --insecure         HTTPS upstream: do not verify its certificate\n"
        "  --cacert FILE      HTTPS upstream: trust the CAs in FILE (PEM)\n"
        "  --http2            HTTPS upstream: offer HTTP/2 (ALPN h2)\n"
        "  --connect-timeout D  upstream connect + TLS handshake limit (default 10s)\n"
        "  --max-pending SIZE bytes waiting for a slow client before the upstream read\n"
        "                     pauses (default 1MiB)\n"
        "  --grace D          on SIGINT/SIGTERM, let in-flight streams finish for D (5s)\n"
        "  --port-file FILE   write the listening port to FILE (with port 0)\n"
        "  --tls-cert FILE    listen with TLS (HTTP/1.1 over TLS), this certificate chain (PEM)\n"
        "  --tls-key FILE     …and this private key (PEM)\n"
        "Selection:\n"
        "  --port P[,P..]     only connections with one end on port P\n"
        "  --path-prefix P    only requests whose path starts with P (repeatable; default:\n"
        "                     the LLM API paths the dialects know)\n"
        "  --all-paths        record every HTTP request\n"
        "  --host H           only requests with Host H (repeatable)\n"
        "Privacy:\n"
        "  --no-bodies        keep lengths and timings only (no prompts, no output text)\n"
        "  --hash-prompts     add request.body_sha256 (SHA-256 of the request body)\n"
        "  (credential headers are always redacted)\n"
        "Output:\n"
        "  -w OUT             trace log (.jsonl.gz), '-' = stdout (default)\n"
        "  -C MB              start a new file after MB (10^6 bytes) of output (or 100k, 2MB)\n"
        "  -G SECONDS         start a new file every SECONDS; strftime %-escapes in OUT expand\n"
        "  -W N               with -C: reuse N file names (a ring, oldest overwritten);\n"
        "                     with -G alone: stop after N files; with both: -C's ring only\n"
        "  --idle-timeout D   forget connections idle for D (default 300s)\n"
        "  --resend-window D  link a request that failed before any response byte on a\n"
        "                     reused connection to its re-send within D (default 1s; 0: off)\n"
        "  -q, --quiet        no progress, no summary\n"
        "  -h, --help         this text;   --version\n"
        "\n"
        "Examples:\n"
        "  llmtrace-capture -i lo -w trace.jsonl.gz tcp port 8000\n"
        "  llmtrace-capture -r prod.pcapng -w trace.jsonl.gz --no-bodies\n"
        "  llmtrace-capture -i eth0 -G 3600 -w 'llm-%Y%m%d-%H.jsonl.gz' --port 8000\n"
        "  llmtrace-capture -i eth0 -C 100 -W 10 -w ring.jsonl.gz      # last ~1 GB only\n"
        "  llmtrace-capture -r a.pcap -r b.pcap --path-prefix /v1/ -w - | zcat | jq .\n"
        "  llmtrace-capture --listen 127.0.0.1:8001 --upstream https://api.example.com \\\n"
        "      --api-key-env KEY -w prod.jsonl.gz\n"
        "      # then: OPENAI_BASE_URL=http://127.0.0.1:8001/v1 my-app\n"
        "\n"
        "Exit status: 0 ok, 1 runtime failure, 2 usage error.\n",
        f);
}

static int cap_usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "llmtrace-capture: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    fprintf(stderr, "Try 'llmtrace-capture --help'.\n");
    return 2;
}

enum {
    OPT_DURATION = 1000, OPT_PORT, OPT_PATH_PREFIX, OPT_ALL_PATHS, OPT_HOST, OPT_NO_BODIES,
    OPT_HASH_PROMPTS, OPT_IDLE, OPT_RESEND_WINDOW, OPT_VERSION, OPT_LISTEN, OPT_UPSTREAM,
    OPT_API_KEY_ENV, OPT_PORT_FILE, OPT_CACERT, OPT_INSECURE, OPT_HTTP2, OPT_GRACE,
    OPT_CONNECT_TIMEOUT, OPT_MAX_PENDING, OPT_TLS_CERT, OPT_TLS_KEY,
};

static int cap_parse_args(int argc, char **argv, struct cap_args *a)
{
    static const struct option longopts[] = {
        {"duration", required_argument, NULL, OPT_DURATION},
        {"port", required_argument, NULL, OPT_PORT},
        {"path-prefix", required_argument, NULL, OPT_PATH_PREFIX},
        {"all-paths", no_argument, NULL, OPT_ALL_PATHS},
        {"host", required_argument, NULL, OPT_HOST},
        {"no-bodies", no_argument, NULL, OPT_NO_BODIES},
        {"hash-prompts", no_argument, NULL, OPT_HASH_PROMPTS},
        {"idle-timeout", required_argument, NULL, OPT_IDLE},
        {"resend-window", required_argument, NULL, OPT_RESEND_WINDOW},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"upstream", required_argument, NULL, OPT_UPSTREAM},
        {"api-key-env", required_argument, NULL, OPT_API_KEY_ENV},
        {"port-file", required_argument, NULL, OPT_PORT_FILE},
        {"cacert", required_argument, NULL, OPT_CACERT},
        {"insecure", no_argument, NULL, OPT_INSECURE},
        {"http2", no_argument, NULL, OPT_HTTP2},
        {"grace", required_argument, NULL, OPT_GRACE},
        {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
        {"max-pending", required_argument, NULL, OPT_MAX_PENDING},
        {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
        {"tls-key", required_argument, NULL, OPT_TLS_KEY},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    a->out = "-";
    a->snaplen = 262144;
    a->buffer_mb = 64;
    a->argc = argc;
    a->argv = argv;
    int c;
    int64_t v;
    /* '+': stop at the first non-option so the BPF expression may contain anything */
    while ((c = getopt_long(argc, argv, "+i:r:w:s:B:c:Z:C:G:W:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'i': a->iface = optarg; break;
        case 'r':
            if (a->n_files == CAP_MAX_FILES)
                return cap_usage_error("too many -r files", NULL);
            a->files[a->n_files++] = optarg;
            break;
        case 'w': a->out = optarg; break;
        case 's':
            if (units_parse_int64(optarg, 0, 262144, &v))
                return cap_usage_error("bad -s snaplen", optarg);
            a->snaplen = v ? (int)v : 262144;
            break;
        case 'B':
            if (units_parse_int64(optarg, 1, 2047, &a->buffer_mb))
                return cap_usage_error("bad -B buffer size (1-2047 MiB)", optarg);
            break;
        case 'c':
            if (units_parse_int64(optarg, 1, INT64_MAX, &a->count))
                return cap_usage_error("bad -c count", optarg);
            break;
        case 'Z': a->user = optarg; break;
        case 'C':
            /* tcpdump's unit: a bare number is millions of bytes; "100k", "2MB" also work */
            if (units_parse_int64(optarg, 1, 1000000, &v) == 0) {
                a->rotate_bytes = (uint64_t)v * 1000000u;
            } else {
                uint64_t sz;
                if (units_parse_size(optarg, &sz) || sz == 0)
                    return cap_usage_error("bad -C size (MB, or 100k, 2MB…)", optarg);
                a->rotate_bytes = sz;
            }
            break;
        case 'G':
            if (units_parse_int64(optarg, 1, 86400 * 365, &v))
                return cap_usage_error("bad -G seconds", optarg);
            a->rotate_us = v * 1000000;
            break;
        case 'W':
            if (units_parse_int64(optarg, 1, 1000000, &v))
                return cap_usage_error("bad -W file count (1-1000000)", optarg);
            a->max_files = (int)v;
            break;
        case 'q': a->quiet = 1; break;
        case 'h': cap_usage(stdout); exit(0);
        case OPT_VERSION: printf("llmtrace-capture %s\n", LLMTRACE_VERSION); exit(0);
        case OPT_DURATION:
            if (units_parse_duration_us(optarg, &a->duration_us) || a->duration_us <= 0)
                return cap_usage_error("bad --duration", optarg);
            break;
        case OPT_RESEND_WINDOW:
            if (units_parse_duration_us(optarg, &a->eo.resend_window_us) ||
                a->eo.resend_window_us < 0 || a->eo.resend_window_us > 3600 * 1000000LL)
                return cap_usage_error("bad --resend-window (0 to 1h)", optarg);
            if (!a->eo.resend_window_us)
                a->eo.resend_window_us = -1;   /* 0 on the command line: off */
            break;
        case OPT_IDLE:
            if (units_parse_duration_us(optarg, &a->eo.tcp.idle_us) || a->eo.tcp.idle_us <= 0)
                return cap_usage_error("bad --idle-timeout", optarg);
            break;
        case OPT_PORT: {
            char *dup = strdup(optarg), *save = NULL;
            if (!dup)
                return cap_usage_error("out of memory", NULL);
            for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (units_parse_int64(t, 1, 65535, &v) || a->eo.n_ports == CAPTURE_MAX_FILTERS) {
                    free(dup);
                    return cap_usage_error("bad --port", optarg);
                }
                a->eo.ports[a->eo.n_ports++] = (uint16_t)v;
            }
            free(dup);
            break;
        }
        case OPT_PATH_PREFIX:
            if (a->eo.n_path_prefixes == CAPTURE_MAX_FILTERS || optarg[0] != '/')
                return cap_usage_error("bad --path-prefix (must start with /)", optarg);
            a->eo.path_prefixes[a->eo.n_path_prefixes++] = optarg;
            break;
        case OPT_ALL_PATHS: a->eo.all_paths = 1; break;
        case OPT_HOST:
            if (a->eo.n_hosts == CAPTURE_MAX_FILTERS)
                return cap_usage_error("too many --host", NULL);
            a->eo.hosts[a->eo.n_hosts++] = optarg;
            break;
        case OPT_NO_BODIES: a->eo.no_bodies = 1; break;
        case OPT_HASH_PROMPTS: a->eo.hash_prompts = 1; break;
        case OPT_LISTEN: a->listen = optarg; break;
        case OPT_UPSTREAM:
            if (strncasecmp(optarg, "http://", 7) && strncasecmp(optarg, "https://", 8))
                return cap_usage_error("bad --upstream (http://… or https://…)", NULL);
            a->upstream = optarg;
            break;
        case OPT_API_KEY_ENV: a->api_key_env = optarg; break;
        case OPT_PORT_FILE: a->port_file = optarg; break;
        case OPT_TLS_CERT: a->tls_cert = optarg; break;
        case OPT_TLS_KEY: a->tls_key = optarg; break;
        case OPT_CACERT: a->cacert = optarg; break;
        case OPT_INSECURE: a->insecure = 1; break;
        case OPT_HTTP2: a->http2 = 1; break;
        case OPT_GRACE:
            if (units_parse_duration_us(optarg, &a->grace_us) || a->grace_us < 0 ||
                a->grace_us > 3600 * 1000000LL)
                return cap_usage_error("bad --grace (0 to 1h)", optarg);
            if (!a->grace_us)
                a->grace_us = 1; /* 0 on the command line: cut at once */
            break;
        case OPT_CONNECT_TIMEOUT:
            if (units_parse_duration_us(optarg, &a->connect_timeout_us) ||
                a->connect_timeout_us <= 0 || a->connect_timeout_us > 3600 * 1000000LL)
                return cap_usage_error("bad --connect-timeout", optarg);
            break;
        case OPT_MAX_PENDING:
            if (units_parse_size(optarg, &a->max_pending) || a->max_pending < 4096 ||
                a->max_pending > (1ull << 30))
                return cap_usage_error("bad --max-pending (4k to 1G)", optarg);
            break;
        default: return cap_usage_error("bad option", NULL);
        }
    }
    if (a->listen || a->upstream) {
        if (!a->listen || !a->upstream)
            return cap_usage_error("--listen and --upstream go together", NULL);
        if (a->iface || a->n_files || optind < argc || a->user || a->count || a->eo.n_ports ||
            a->duration_us)
            return cap_usage_error("--listen takes no -i/-r, -c, -Z, --port, --duration or "
                                   "BPF filter", NULL);
        if (!a->tls_cert != !a->tls_key)
            return cap_usage_error("--tls-cert and --tls-key go together", NULL);
    } else if (a->api_key_env || a->port_file || a->cacert || a->insecure || a->http2 ||
               a->tls_cert || a->tls_key ||
               a->grace_us || a->connect_timeout_us || a->max_pending) {
        return cap_usage_error("proxy options need --listen and --upstream", NULL);
    }
    if (!a->listen && !a->iface == !a->n_files)
        return cap_usage_error("give exactly one source: -i IFACE or -r FILE...", NULL);
    if ((a->rotate_bytes || a->rotate_us) && strcmp(a->out, "-") == 0)
        return cap_usage_error("-C and -G need an output file (-w OUT)", NULL);
    if (a->max_files && !a->rotate_bytes && !a->rotate_us)
        return cap_usage_error("-W needs -C or -G", NULL);
    /* the BPF expression: remaining words joined by spaces, as tcpdump does */
    size_t flen = 0;
    for (int i = optind; i < argc; i++)
        flen += strlen(argv[i]) + 1;
    if (flen) {
        a->filter = calloc(1, flen);
        if (!a->filter)
            return cap_usage_error("out of memory", NULL);
        for (int i = optind; i < argc; i++) {
            if (i > optind)
                strcat(a->filter, " ");
            strcat(a->filter, argv[i]);
        }
    }
    return 0;
}

/* ---- output and rotation ----------------------------------------------------------------- */

static void cap_out_name(struct cap_out *o, int64_t now_us)
{
    const struct cap_args *a = o->a;
    if (!a->rotate_bytes && !a->rotate_us) {
        snprintf(o->path, sizeof o->path, "%s", a->out);
        return;
    }
    char base[4096];
    if (a->rotate_us && strchr(a->out, '%')) {
        time_t t = (time_t)(now_us / 1000000);
        struct tm tm;
        gmtime_r(&t, &tm);
        if (!strftime(base, sizeof base, a->out, &tm))
            snprintf(base, sizeof base, "%s", a->out);
        if (!a->rotate_bytes) {
            snprintf(o->path, sizeof o->path, "%s", base);
            return;
        }
    } else {
        snprintf(base, sizeof base, "%s", a->out);
    }
    /* numbered: trace.jsonl.gz → trace.000.jsonl.gz, trace.001.jsonl.gz, …; with -W N, as
     * many digits as N - 1 needs (tcpdump), at least 3 */
    int width = 3;
    for (int n = a->max_files - 1, d = 0; n > 0; n /= 10)
        if (++d > width)
            width = d;
    const char *ext = strstr(base, ".jsonl");
    if (!ext)
        ext = base + strlen(base);
    snprintf(o->path, sizeof o->path, "%.*s.%0*d%s", (int)(ext - base), base, width, o->index,
             ext);
}

static int cap_out_open(struct cap_out *o, int64_t now_us)
{
    char err[256];
    if (!o->interval_us)
        o->interval_us = now_us;
    cap_out_name(o, o->interval_us);
    o->w = tlog_writer_open(o->path, &o->wo, err, sizeof err);
    if (!o->w) {
        fprintf(stderr, "llmtrace-capture: %s\n", err);
        return -1;
    }
    o->files++;
    struct tlog_header h = {0};
    h.schema = TLOG_SCHEMA_VERSION;
    h.tool = "llmtrace-capture";
    h.version = LLMTRACE_VERSION;
    h.start_us = clock_epoch_us();
    h.command = cJSON_CreateArray();
    for (int i = 0; i < o->a->argc; i++) {
        char *shown = o->a->listen ? redact_url(o->a->argv[i]) : NULL;
        cJSON_AddItemToArray(h.command, cJSON_CreateString(shown ? shown : o->a->argv[i]));
        free(shown);
    }
    h.source = o->source;
    h.options = cJSON_CreateObject();
    cJSON_AddBoolToObject(h.options, "no_bodies", o->a->eo.no_bodies);
    cJSON_AddBoolToObject(h.options, "hash_prompts", o->a->eo.hash_prompts);
    cJSON_AddNumberToObject(h.options, "rotation_index", o->index);
    /* 1, 2, 3… over the whole capture: a -W ring reuses names, not numbers */
    cJSON_AddNumberToObject(h.options, "file_number", o->files);
    if (o->a->listen) {          /* the proxy: its own options (the key's variable, not the key) */
        const struct cap_args *a = o->a;
        cJSON_AddBoolToObject(h.options, "proxy_api_key", a->api_key_env != NULL);
        cJSON_AddBoolToObject(h.options, "insecure", a->insecure);
        cJSON_AddBoolToObject(h.options, "http2", a->http2);
        cJSON_AddNumberToObject(h.options, "grace_us",
                                (double)(a->grace_us ? a->grace_us : 5000000));
        cJSON_AddNumberToObject(h.options, "max_pending",
                                (double)(a->max_pending ? a->max_pending : 1u << 20));
    } else {
        int64_t rw = o->a->eo.resend_window_us;
        cJSON_AddNumberToObject(h.options, "resend_window_us",
                                (double)(rw < 0 ? 0 : rw ? rw : 1000000));
    }
    int rc = tlog_writer_header(o->w, &h);
    cJSON_Delete(h.command);
    cJSON_Delete(h.options);
    if (rc) {
        fprintf(stderr, "llmtrace-capture: %s: %s\n", o->path, tlog_writer_error(o->w));
        return -1;
    }
    return 0;
}

static cJSON *cap_stats_json(struct cap_out *o, const struct pcap_stat *ps)
{
    if (o->px)
        return proxy_stats_json(o->px);
    cJSON *st = capture_engine_stats_json(o->e);
    if (st && ps) {
        cJSON *p = cJSON_AddObjectToObject(st, "pcap");
        cJSON_AddNumberToObject(p, "received", ps->ps_recv);
        cJSON_AddNumberToObject(p, "dropped", ps->ps_drop);
        cJSON_AddNumberToObject(p, "if_dropped", ps->ps_ifdrop);
    }
    return st;
}

static int cap_out_close(struct cap_out *o, const struct pcap_stat *ps)
{
    if (!o->w)
        return 0;
    cJSON *st = cap_stats_json(o, ps);
    int rc = tlog_writer_close(o->w, st);
    cJSON_Delete(st);
    o->w = NULL;
    if (rc)
        fprintf(stderr, "llmtrace-capture: %s: write failed\n", o->path);
    return rc;
}

/* Rotation as tcpdump does it (-C, -G, -W; see README). by_time: -G's interval has passed
 * (checked before a packet is processed, so it opens the new file); else -C's size. */
static void cap_out_rotate(struct cap_out *o, int by_time)
{
    const struct cap_args *a = o->a;
    if (!o->w || o->failed || o->limit_hit)
        return;
    if (by_time ? !a->rotate_us || o->now_us - o->interval_us < a->rotate_us
                : !a->rotate_bytes || tlog_writer_bytes(o->w) < a->rotate_bytes)
        return;
    if (by_time && a->max_files && !a->rotate_bytes && o->files >= a->max_files) {
        o->limit_hit = 1;        /* -G -W N: N files written; the caller stops */
        return;
    }
    if (cap_out_close(o, NULL))
        o->failed = 1;
    o->pending = 0;
    if (by_time)
        o->interval_us = o->now_us;
    if (by_time && a->rotate_bytes && strchr(a->out, '%'))
        o->index = 0;            /* a new strftime name: its -C numbers start again */
    else
        o->index++;
    if (a->max_files && a->rotate_bytes && o->index >= a->max_files)
        o->index = 0;            /* -C -W N: the ring of N names wraps, overwriting */
    if (cap_out_open(o, o->now_us))
        o->failed = 1;
}

static int cap_emit(void *user, const struct tlog_exchange *x)
{
    struct cap_out *o = user;
    if (!o->w || o->failed)
        return -1;
    buf_reset(&o->line);
    if (tlog_exchange_to_line(x, &o->wo.w, &o->line) ||
        tlog_writer_line(o->w, o->line.p, o->line.len, 1, x->error_kind != TLOG_ERROR_NONE)) {
        fprintf(stderr, "llmtrace-capture: %s: %s\n", o->path, tlog_writer_error(o->w));
        o->failed = 1;
        return -1;
    }
    /* -C compares compressed bytes, which the writer only knows per closed member: close one
     * whenever the limit's worth of text is pending, so a file overshoots by one member */
    o->pending += o->line.len + 1;
    if (o->a->rotate_bytes && o->pending >= o->a->rotate_bytes) {
        tlog_writer_flush(o->w);
        o->pending = 0;
    }
    cap_out_rotate(o, 0);
    return 0;
}

/* ---- privileges -------------------------------------------------------------------------- */

/* Becomes user. first_file: the log already opened as root (or NULL), handed to user first so
 * that a -C/-W ring can later overwrite it and -G retention can remove it. */
static int cap_drop_privileges(const char *user, const char *first_file)
{
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        fprintf(stderr, "llmtrace-capture: -Z: no such user: %s\n", user);
        return -1;
    }
    if (first_file && strcmp(first_file, "-") && chown(first_file, pw->pw_uid, pw->pw_gid)) {
        fprintf(stderr, "llmtrace-capture: cannot give %s to %s: %s\n", first_file, user,
                strerror(errno));
        return -1;
    }
    if (initgroups(pw->pw_name, pw->pw_gid) || setgid(pw->pw_gid) || setuid(pw->pw_uid)) {
        fprintf(stderr, "llmtrace-capture: cannot drop privileges to %s: %s\n", user,
                strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- progress and summary ---------------------------------------------------------------- */

static void cap_progress(const struct cap_out *o, int final)
{
    const struct capture_stats *s = capture_engine_stats(o->e);
    const struct tcpr_stats *t = capture_engine_tcp_stats(o->e);
    fprintf(stderr, "\r%llu packets, %.1f MB, %llu flows, %llu exchanges (%llu incomplete)%s",
            (unsigned long long)s->packets, (double)s->bytes / 1e6,
            (unsigned long long)t->flows, (unsigned long long)s->exchanges,
            (unsigned long long)s->incomplete, final ? "\n" : "   ");
}

static void cap_summary(const struct cap_out *o, const struct pcap_stat *ps, int have_ps)
{
    const struct capture_stats *s = capture_engine_stats(o->e);
    const struct pkt_stats *p = capture_engine_pkt_stats(o->e);
    const struct tcpr_stats *t = capture_engine_tcp_stats(o->e);
    fprintf(stderr,
            "llmtrace-capture: %llu packets (%llu bytes), %llu flows, %llu exchanges, "
            "%llu incomplete, %llu filtered out\n",
            (unsigned long long)s->packets, (unsigned long long)s->bytes,
            (unsigned long long)t->flows, (unsigned long long)s->exchanges,
            (unsigned long long)s->incomplete, (unsigned long long)s->filtered);
    fprintf(stderr,
            "llmtrace-capture: parse errors: %llu truncated, %llu invalid, %llu unsupported link, "
            "%llu bad request, %llu bad response, %llu unpaired response; tcp: %llu gaps (%llu "
            "bytes), %llu retransmitted bytes\n",
            (unsigned long long)p->truncated, (unsigned long long)p->invalid,
            (unsigned long long)p->unsupported,
            (unsigned long long)s->http_errors[CAPTURE_HERR_REQUEST],
            (unsigned long long)s->http_errors[CAPTURE_HERR_RESPONSE],
            (unsigned long long)s->http_errors[CAPTURE_HERR_UNPAIRED],
            (unsigned long long)t->gaps, (unsigned long long)t->gap_bytes,
            (unsigned long long)t->retransmitted_bytes);
    if (s->resent || s->resend_expired || s->resend_cap || s->resend_end)
        fprintf(stderr, "llmtrace-capture: %llu transport re-sends linked (resent_as); failed "
                        "attempts left unlinked: %llu no re-send in the window, %llu hold full, "
                        "%llu capture ended\n",
                (unsigned long long)s->resent, (unsigned long long)s->resend_expired,
                (unsigned long long)s->resend_cap, (unsigned long long)s->resend_end);
    if (have_ps)
        fprintf(stderr, "llmtrace-capture: %u packets received by filter, %u dropped by kernel, "
                        "%u dropped by interface\n",
                ps->ps_recv, ps->ps_drop, ps->ps_ifdrop);
}

/* ---- sources ----------------------------------------------------------------------------- */

static int cap_set_filter(pcap_t *p, const char *filter, const char *what)
{
    if (!filter)
        return 0;
    struct bpf_program prog;
    if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) ||
        pcap_setfilter(p, &prog)) {
        fprintf(stderr, "llmtrace-capture: %s: filter '%s': %s\n", what, filter, pcap_geterr(p));
        return -1;
    }
    pcap_freecode(&prog);
    return 0;
}

struct cap_run {
    struct cap_out *o;
    const struct cap_args *a;
    int64_t first_us, last_us;
    uint64_t npkts;
    int64_t last_tick_mono;
    int64_t start_mono_us;
    int tty;
};

static int cap_limits_hit(struct cap_run *r, int64_t ts_us, int live)
{
    if (r->o->limit_hit)
        return 1;
    if (r->a->count && (int64_t)r->npkts >= r->a->count)
        return 1;
    if (r->a->duration_us) {
        /* live: wall time since the device opened; files: capture time since the first packet */
        int64_t now = live ? clock_mono_us() : ts_us;
        int64_t from = live ? r->start_mono_us : r->first_us;
        if ((live || r->first_us) && now - from >= r->a->duration_us)
            return 1;
    }
    return 0;
}

/* Once a second of wall time: flush the log, expire flows, show progress. */
static void cap_tick(struct cap_run *r, int64_t capture_now_us, int live)
{
    int64_t mono = clock_mono_us();
    if (mono - r->last_tick_mono < 1000000)
        return;
    r->last_tick_mono = mono;
    if (r->o->w)
        tlog_writer_tick(r->o->w, mono);
    if (live) {
        capture_engine_tick(r->o->e, capture_now_us);
        r->o->now_us = capture_now_us;
        cap_out_rotate(r->o, 1);
    }
    if (r->tty)
        cap_progress(r->o, 0);
}

static void cap_packet(struct cap_run *r, int dlt, const struct pcap_pkthdr *h,
                       const u_char *data)
{
    int64_t ts = (int64_t)h->ts.tv_sec * 1000000 + h->ts.tv_usec;
    r->o->now_us = ts;
    if (r->a->rotate_us) {
        cap_out_rotate(r->o, 1); /* like tcpdump: the packet goes to the file of its time */
        if (r->o->limit_hit)
            return;              /* -G -W: not processed; the loops stop */
    }
    if (!r->first_us)
        r->first_us = ts;
    r->last_us = ts;
    r->npkts++;
    if (!r->o->w && !r->o->failed && cap_out_open(r->o, ts))
        r->o->failed = 1;        /* files: opened at the first packet, so -G names use its time */
    capture_engine_packet(r->o->e, dlt, data, h->caplen, ts);
}

struct cap_live_ctx {
    struct cap_run *r;
    pcap_t *p;
    int dlt;
};

static void cap_live_cb(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
    struct cap_live_ctx *c = (struct cap_live_ctx *)user;
    cap_packet(c->r, c->dlt, h, data);
    if (c->r->o->limit_hit)
        pcap_breakloop(c->p);
}

static int cap_run_live(struct cap_run *r, pcap_t *p, struct pcap_stat *ps)
{
    struct cap_live_ctx ctx = {r, p, pcap_datalink(p)};
    int fd = pcap_get_selectable_fd(p);
    int rc = 0;
    while (!cap_stop && !r->o->failed) {
        if (fd >= 0) {
            struct pollfd pfd = {fd, POLLIN, 0};
            poll(&pfd, 1, 100);
        }
        int want = -1;           /* -c: never read past the count */
        if (r->a->count)
            want = (int)(r->a->count - (int64_t)r->npkts < 1000000 ? r->a->count - (int64_t)r->npkts : 1000000);
        int n = pcap_dispatch(p, want, cap_live_cb, (u_char *)&ctx);
        if (n == PCAP_ERROR) {
            fprintf(stderr, "llmtrace-capture: %s\n", pcap_geterr(p));
            rc = 1;
            break;
        }
        if (n == PCAP_ERROR_BREAK)
            break;
        cap_tick(r, clock_epoch_us(), 1);
        if (cap_limits_hit(r, 0, 1))
            break;
    }
    /* Packets the kernel already holds were on the wire before the stop: process them (a
     * busy capture can be seconds behind with a large -B), unless a second signal arrives. */
    int64_t drain_until = clock_mono_us() + 10 * 1000000;
    while (rc == 0 && cap_stop == 1 && !r->o->failed && clock_mono_us() < drain_until &&
           !cap_limits_hit(r, 0, 1)) {
        int n = pcap_dispatch(p, r->a->count ? 1 : -1, cap_live_cb, (u_char *)&ctx);
        if (n <= 0)
            break;
    }
    if (pcap_stats(p, ps) != 0)
        memset(ps, 0, sizeof *ps);
    return rc;
}

struct cap_file {
    pcap_t *p;
    const char *name;
    int dlt;
    struct pcap_pkthdr *h;
    const u_char *data;
    int done;
};

static int cap_file_next(struct cap_file *f, uint64_t *bad)
{
    int rc = pcap_next_ex(f->p, &f->h, &f->data);
    if (rc == 1)
        return 1;
    if (rc == PCAP_ERROR) {
        /* truncated or corrupt file: keep what was read, say why the file ended */
        fprintf(stderr, "llmtrace-capture: %s: %s (reading stopped)\n", f->name,
                pcap_geterr(f->p));
        (*bad)++;
    }
    f->done = 1;
    return 0;
}

static int cap_run_files(struct cap_run *r, struct cap_file *fs, size_t n, uint64_t *bad)
{
    for (size_t i = 0; i < n; i++)
        cap_file_next(&fs[i], bad);
    while (!cap_stop && !r->o->failed) {
        struct cap_file *best = NULL;
        for (size_t i = 0; i < n; i++) {
            if (fs[i].done)
                continue;
            if (!best || timercmp(&fs[i].h->ts, &best->h->ts, <))
                best = &fs[i];
        }
        if (!best)
            break;
        cap_packet(r, best->dlt, best->h, best->data);
        if (cap_limits_hit(r, r->last_us, 0))
            break;
        cap_file_next(best, bad);
        if ((r->npkts & 0xffff) == 0)
            cap_tick(r, r->last_us, 0);
    }
    return 0;
}

/* ---- the recording proxy (--listen) ------------------------------------------------------- */

static int cap_proxy_emit(void *user, const struct tlog_exchange *x)
{
    struct cap_out *o = user;
    o->now_us = clock_epoch_us();
    return cap_emit(o, x);
}

/* Four times a second: the log's member closes when due (crash durability) and -G rotation by
 * wall time; -G -W N: after N files the proxy stops as on SIGTERM (drains, then exits 0). */
static void cap_proxy_tick(void *user, int64_t epoch_us)
{
    struct cap_out *o = user;
    o->now_us = epoch_us;
    if (o->w)
        tlog_writer_tick(o->w, clock_mono_us());
    cap_out_rotate(o, 1);
    if (o->limit_hit && !cap_stop)
        cap_stop = 1;
}

static int cap_run_proxy(struct cap_args *a)
{
    const char *key = NULL;
    if (a->api_key_env) {
        key = getenv(a->api_key_env);
        if (!key || !*key) {
            fprintf(stderr, "llmtrace-capture: --api-key-env %s: not set or empty\n",
                    a->api_key_env);
            return 2;
        }
        if (strpbrk(key, "\r\n")) {
            fprintf(stderr, "llmtrace-capture: --api-key-env %s: the key holds a line break\n",
                    a->api_key_env);
            return 2;
        }
    }
    struct proxy_opts po = {0};
    po.listen = a->listen;
    po.port_file = a->port_file;
    po.tls_cert = a->tls_cert;
    po.tls_key = a->tls_key;
    po.upstream = a->upstream;
    po.api_key = key;
    po.insecure = a->insecure;
    po.cacert = a->cacert;
    po.http2 = a->http2;
    po.connect_timeout_us = a->connect_timeout_us;
    po.grace_us = a->grace_us;
    po.max_pending = (size_t)a->max_pending;
    po.filter = &a->eo;
    struct cap_out out = {0};
    out.a = a;
    out.wo.w.no_bodies = a->eo.no_bodies;
    buf_init(&out.line, 1u << 30);
    char err[512];
    out.px = proxy_new(&po, cap_proxy_emit, cap_proxy_tick, &out, err, sizeof err);
    if (!out.px) {
        fprintf(stderr, "llmtrace-capture: %s\n", err);
        buf_free(&out.line);
        return 1;
    }
    out.source = proxy_source_json(out.px);
    int rc = 0;
    if (cap_out_open(&out, clock_epoch_us())) {
        rc = 1;
    } else {
        if (!a->quiet)
            fprintf(stderr, "llmtrace-capture: proxy on %s → %s\n",
                    cJSON_GetStringValue(cJSON_GetObjectItem(out.source, "listen")),
                    cJSON_GetStringValue(cJSON_GetObjectItem(out.source, "upstream")));
        if (proxy_run(out.px, &cap_stop) || out.failed)
            rc = 1;
        if (!a->quiet && out.limit_hit)
            fprintf(stderr, "llmtrace-capture: maximum file limit reached: %d\n", a->max_files);
        if (!a->quiet) {
            const struct proxy_stats *s = proxy_get_stats(out.px);
            fprintf(stderr, "llmtrace-capture: %llu connections, %llu requests, %llu exchanges "
                            "recorded, %llu filtered out, %llu bad requests, %llu upstream "
                            "errors (502), %llu cancelled, %llu pauses; largest added latency "
                            "%lld us\n",
                    (unsigned long long)s->connections, (unsigned long long)s->requests,
                    (unsigned long long)s->exchanges, (unsigned long long)s->filtered,
                    (unsigned long long)s->bad_requests, (unsigned long long)s->upstream_errors,
                    (unsigned long long)s->cancelled, (unsigned long long)s->pauses,
                    (long long)s->added_max_us);
        }
        if (cap_out_close(&out, NULL))
            rc = 1;
    }
    if (out.w)
        tlog_writer_abort(out.w);
    proxy_free(out.px);
    cJSON_Delete(out.source);
    buf_free(&out.line);
    return rc;
}

int main(int argc, char **argv)
{
    struct cap_args a;
    int rc = cap_parse_args(argc, argv, &a);
    if (rc)
        return rc;
    /* before opening anything: a stop requested while a large -B ring (or the proxy's
     * listener) is being set up must not be lost (background jobs start with SIGINT ignored) */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = cap_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (a.listen)
        return cap_run_proxy(&a);

    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *live = NULL;
    struct cap_file files[CAP_MAX_FILES];
    memset(files, 0, sizeof files);
    cJSON *source = cJSON_CreateObject();
    cJSON_AddStringToObject(source, "kind", "capture");
    if (a.iface) {
        live = pcap_create(a.iface, errbuf);
        if (!live) {
            fprintf(stderr, "llmtrace-capture: %s: %s\n", a.iface, errbuf);
            return 1;
        }
        pcap_set_snaplen(live, a.snaplen);
        pcap_set_promisc(live, 0);
        pcap_set_buffer_size(live, (int)(a.buffer_mb << 20));
        /* not immediate mode: libpcap then packs packets into TPACKET_V3 blocks instead of a
         * ring of snaplen-sized frames (256 KiB each at the default -s, so a 64 MiB -B held only
         * 256 packets and a busy moment dropped some); every packet keeps its kernel time, so
         * delivering them in batches (within the 100 ms timeout below) costs no accuracy */
        pcap_set_timeout(live, 100);
        int act = pcap_activate(live);
        if (act < 0) {
            fprintf(stderr, "llmtrace-capture: %s: %s\n", a.iface,
                    act == PCAP_ERROR ? pcap_geterr(live) : pcap_statustostr(act));
            pcap_close(live);
            return 1;
        }
        if (!pkt_dlt_supported(pcap_datalink(live))) {
            fprintf(stderr, "llmtrace-capture: %s: unsupported link type %s\n", a.iface,
                    pcap_datalink_val_to_name(pcap_datalink(live)));
            pcap_close(live);
            return 1;
        }
        if (cap_set_filter(live, a.filter, a.iface)) {
            pcap_close(live);
            return 1;
        }
        pcap_setnonblock(live, 1, errbuf);
        cJSON_AddStringToObject(source, "interface", a.iface);
    } else {
        cJSON *arr = cJSON_AddArrayToObject(source, "files");
        for (size_t i = 0; i < a.n_files; i++) {
            files[i].name = a.files[i];
            /* our own FILE with a 1 MiB buffer: libpcap reads each record with two freads */
            FILE *fp = strcmp(a.files[i], "-") == 0 ? stdin : fopen(a.files[i], "rb");
            if (!fp) {
                fprintf(stderr, "llmtrace-capture: %s: %s\n", a.files[i], strerror(errno));
                return 1;
            }
            setvbuf(fp, NULL, _IOFBF, 1u << 20);
            files[i].p = pcap_fopen_offline(fp, errbuf);
            if (!files[i].p) {
                fprintf(stderr, "llmtrace-capture: %s: %s\n", a.files[i], errbuf);
                fclose(fp);
                return 1;
            }
            files[i].dlt = pcap_datalink(files[i].p);
            if (!pkt_dlt_supported(files[i].dlt))
                fprintf(stderr, "llmtrace-capture: %s: unsupported link type %s: its packets "
                                "are counted, not decoded\n",
                        a.files[i], pcap_datalink_val_to_name(files[i].dlt));
            if (cap_set_filter(files[i].p, a.filter, a.files[i]))
                return 1;
            cJSON_AddItemToArray(arr, cJSON_CreateString(a.files[i]));
        }
    }
    if (a.filter)
        cJSON_AddStringToObject(source, "filter", a.filter);
    else
        cJSON_AddNullToObject(source, "filter");
    cJSON_AddNumberToObject(source, "snaplen", a.snaplen);

    struct cap_out out = {0};
    out.a = &a;
    out.source = source;
    out.wo.w.no_bodies = a.eo.no_bodies;
    buf_init(&out.line, 1u << 30);
    out.e = capture_engine_new(&a.eo, cap_emit, &out);
    if (!out.e) {
        fprintf(stderr, "llmtrace-capture: out of memory\n");
        return 1;
    }
    if (live && cap_out_open(&out, clock_epoch_us()))
        return 1;

    /* like tcpdump: once the device is open, root is no longer needed */
    if (live && geteuid() == 0) {
        const char *user = a.user;
        if (!user && !a.rotate_bytes && !a.rotate_us)
            user = "nobody";
        if (!a.user && user && !getpwnam(user)) {
            fprintf(stderr, "llmtrace-capture: warning: no user '%s' to drop privileges to; "
                            "staying root (use -Z USER)\n", user);
            user = NULL;
        }
        if (user && strcmp(user, "root") != 0 && cap_drop_privileges(user, out.w ? out.path : NULL))
            return 1;
    } else if (a.user && geteuid() == 0 && strcmp(a.user, "root") != 0 &&
               cap_drop_privileges(a.user, out.w ? out.path : NULL)) {
        return 1;
    }


    struct cap_run run = {0};
    run.o = &out;
    run.a = &a;
    run.last_tick_mono = run.start_mono_us = clock_mono_us();
    run.tty = !a.quiet && isatty(STDERR_FILENO);
    struct pcap_stat ps;
    memset(&ps, 0, sizeof ps);
    uint64_t bad_files = 0;
    int runtime_rc = 0;
    if (live)
        runtime_rc = cap_run_live(&run, live, &ps);
    else
        runtime_rc = cap_run_files(&run, files, a.n_files, &bad_files);

    /* stop: every complete exchange is already written; in-flight ones become incomplete */
    int64_t end_ts = live ? clock_epoch_us() : run.last_us;
    capture_engine_finish(out.e, end_ts);
    if (run.tty)
        cap_progress(&out, 1);
    if (!a.quiet && out.limit_hit)
        fprintf(stderr, "llmtrace-capture: maximum file limit reached: %d\n", a.max_files);
    if (!a.quiet)
        cap_summary(&out, &ps, live != NULL);
    if (!out.w && !out.failed && cap_out_open(&out, clock_epoch_us()))
        out.failed = 1;          /* files without a packet still get a header and trailer */
    if (out.failed)
        runtime_rc = 1;
    if (out.w) {
        cJSON *st = cap_stats_json(&out, live ? &ps : NULL);
        if (st && bad_files)
            cJSON_AddNumberToObject(st, "file_errors", (double)bad_files);
        if (tlog_writer_close(out.w, st)) {
            fprintf(stderr, "llmtrace-capture: %s: write failed\n", out.path);
            runtime_rc = 1;
        }
        cJSON_Delete(st);
        out.w = NULL;
    }
    capture_engine_free(out.e);
    buf_free(&out.line);
    cJSON_Delete(source);
    free(a.filter);
    if (live)
        pcap_close(live);
    for (size_t i = 0; i < a.n_files; i++)
        if (files[i].p)
            pcap_close(files[i].p);
    return runtime_rc ? 1 : 0;
}
