/* convert/main.c — llmtrace-convert: imports public production traces and other tools' files
 * into replayable trace logs, and exports trace logs to CSV / plain JSONL / OpenAI Batch / HAR.
 * The importers and exporters are library code (formats/traces/import.h); this file parses arguments,
 * reads inputs, calibrates the prompt estimate over HTTP (libcurl), prints and exits.
 * Reference: convert/README.md. Exit codes: 0 ok, 1 runtime failure, 2 usage error. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "clock.h"
#include "import.h"
#include "redact.h"
#include "session.h"
#include "synth.h"
#include "tlog.h"
#include "units.h"

#if defined(__has_include)
#if __has_include(<curl/curl.h>)
#include <curl/curl.h>
#define CONVERT_HAVE_CURL 1
#endif
#endif

#define CONVERT_MAX_INPUTS 256
#define CONVERT_MAX_HEADERS 32

static const char usage_text[] =
    "Usage: llmtrace-convert [OPTIONS] INPUT... [-o OUT.jsonl.gz]     import traces\n"
    "       llmtrace-convert --to csv|jsonl|batch|har LOG... [-o OUT]  export trace logs\n"
    "Imports public traces and other tools' files into replayable llmtrace trace logs (format\n"
    "told from the content), or exports trace logs for pandas, spreadsheets and other tools.\n"
    "INPUT/LOG \"-\" reads stdin; OUT \"-\" (the default) writes stdout.\n"
    "\n"
    "Import:\n"
    "  --from FORMAT          azure | mooncake | burstgpt | sharegpt | har | batch (default:\n"
    "                         detected from each input's content)\n"
    "  --model NAME           model in every request (default: the trace's, else \"default\")\n"
    "  --dialect NAME         openai-chat (default) | openai-completions | openai-responses |\n"
    "                         anthropic | ollama-chat | ollama-generate | tgi: request shape\n"
    "                         and path\n"
    "  --path PATH            request path (default: the dialect's, e.g. /v1/chat/completions)\n"
    "  --no-pin-output        no max_tokens/ignore_eos from the trace's output length\n"
    "  --tokens-per-word F    synthesized prompts: estimated tokens = words x F (default 1.3)\n"
    "  --calibrate URL        fit F from an OpenAI-compatible endpoint's usage.prompt_tokens\n"
    "                         for 5 sample prompts (URL = base or full endpoint URL)\n"
    "  -H 'Name: value'       extra header for --calibrate (repeatable)\n"
    "  --connect-timeout T    --calibrate: connect (+ TLS) limit per request (default 10s)\n"
    "  --timeout T            --calibrate: total limit per request (default 2m; 0 = none)\n"
    "  --idle-timeout T       --calibrate: limit with nothing received (default 30s; 0 = none)\n"
    "  --time-scale S         multiply every gap from the first arrival by S (0.5 = twice as\n"
    "                         dense; default 1)\n"
    "  --base-time T          epoch of relative traces (Mooncake, BurstGPT, ShareGPT, Batch):\n"
    "                         RFC 3339 or Unix seconds (default 2025-01-01T00:00:00Z)\n"
    "  --rate R               requests/s for inputs without times (ShareGPT, Batch; default 1)\n"
    "  --arrival KIND         poisson (default) | constant gaps for --rate\n"
    "  --seed N               seed of the Poisson arrivals (default 1)\n"
    "  --skip-bad             skip bad rows and count them (default: stop at the first)\n"
    "  --skip-failed          drop requests the trace marks as failed (BurstGPT 0 tokens)\n"
    "  --max-input SIZE       largest input read into memory (default 4GiB)\n"
    "Sessions (see README \"Sessions\"):\n"
    "  --sessions infer       trace logs (captured, replayed, …): link each chat request to\n"
    "                         the earlier one from the same client it continues, and write\n"
    "                         the log again with session objects; Mooncake: link requests\n"
    "                         whose hash_ids repeat an earlier one's full blocks\n"
    "  --session-idle T       forget a turn not continued within T (default 30m)\n"
    "  --session-max-open N   turns kept open at most (default 100000)\n"
    "  --session-min-blocks N Mooncake: full blocks a previous turn needs (default 2)\n"
    "Export:\n"
    "  --to FORMAT            csv | jsonl (plain, uncompressed) | batch (OpenAI Batch input) | har\n"
    "Common:\n"
    "  -o, --output FILE      output file (default -, stdout)\n"
    "  -q, --quiet            no warnings or summary on stderr (errors still print)\n"
    "  -h, --help, --version\n"
    "\n"
    "Examples:\n"
    "  llmtrace-convert AzureLLMInferenceTrace_conv.csv -o azure.jsonl.gz\n"
    "  llmtrace-convert --model llama-3-8b --time-scale 0.1 synthetic_trace.jsonl -o mc.jsonl.gz\n"
    "  llmtrace-convert --calibrate http://127.0.0.1:8000 azure.csv -o azure.jsonl.gz\n"
    "  llmtrace-convert --from sharegpt --rate 5 --arrival poisson --seed 7 sg.json -o sg.jsonl.gz\n"
    "  zcat BurstGPT_1.csv.gz | llmtrace-convert --skip-failed - -o burst.jsonl.gz\n"
    "  llmtrace-convert --to csv run.jsonl.gz -o run.csv\n"
    "  llmtrace-convert --to batch azure.jsonl.gz -o batch_input.jsonl\n"
    "  llmtrace-convert --sessions infer capture.jsonl.gz -o sessions.jsonl.gz\n"
    "\n"
    "Exit status: 0 ok, 1 runtime failure (bad input, I/O, calibration), 2 usage error.\n";

enum {
    OPT_FROM = 256, OPT_MODEL, OPT_DIALECT, OPT_PATH, OPT_NO_PIN, OPT_TPW, OPT_CALIBRATE,
    OPT_TIME_SCALE, OPT_BASE_TIME, OPT_RATE, OPT_ARRIVAL, OPT_SEED, OPT_SKIP_BAD,
    OPT_SKIP_FAILED, OPT_MAX_INPUT, OPT_TO, OPT_VERSION, OPT_CONNECT_TIMEOUT, OPT_TIMEOUT,
    OPT_IDLE_TIMEOUT, OPT_SESSIONS, OPT_SESSION_IDLE, OPT_SESSION_MAX_OPEN, OPT_SESSION_MIN_BLOCKS,
};

static const struct option convert_options[] = {
    {"from", required_argument, NULL, OPT_FROM},
    {"model", required_argument, NULL, OPT_MODEL},
    {"dialect", required_argument, NULL, OPT_DIALECT},
    {"path", required_argument, NULL, OPT_PATH},
    {"no-pin-output", no_argument, NULL, OPT_NO_PIN},
    {"tokens-per-word", required_argument, NULL, OPT_TPW},
    {"calibrate", required_argument, NULL, OPT_CALIBRATE},
    {"header", required_argument, NULL, 'H'},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
    {"time-scale", required_argument, NULL, OPT_TIME_SCALE},
    {"base-time", required_argument, NULL, OPT_BASE_TIME},
    {"rate", required_argument, NULL, OPT_RATE},
    {"arrival", required_argument, NULL, OPT_ARRIVAL},
    {"seed", required_argument, NULL, OPT_SEED},
    {"skip-bad", no_argument, NULL, OPT_SKIP_BAD},
    {"skip-failed", no_argument, NULL, OPT_SKIP_FAILED},
    {"max-input", required_argument, NULL, OPT_MAX_INPUT},
    {"to", required_argument, NULL, OPT_TO},
    {"sessions", required_argument, NULL, OPT_SESSIONS},
    {"session-idle", required_argument, NULL, OPT_SESSION_IDLE},
    {"session-max-open", required_argument, NULL, OPT_SESSION_MAX_OPEN},
    {"session-min-blocks", required_argument, NULL, OPT_SESSION_MIN_BLOCKS},
    {"output", required_argument, NULL, 'o'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

struct convert_args {
    enum import_format from;
    struct import_build_opts bo;
    struct import_opts io;
    const char *calibrate;
    const char *headers[CONVERT_MAX_HEADERS];
    size_t n_headers;
    int64_t connect_timeout_us, timeout_us, idle_timeout_us; /* --calibrate; 0 = none */
    enum export_format to;
    const char *out;
    int quiet;
    uint64_t max_input;
    int tpw_given;
    int sessions_infer;              /* --sessions infer */
    struct session_infer_opts so;    /* --session-idle, --session-max-open */
};

/* Progress on stderr when it is a terminal (and not -q): what is being done and how far,
 * rewritten in place at most every 250 ms, erased when done. */
static int convert_progress_on;
static int64_t convert_progress_next;

/* The trailer's stats are the run's counts by name; closing the log is where a full disk shows
 * up, so a failed close is an error like a failed write. Returns 0 when every write landed. */
struct convert_count {
    const char *name;
    int64_t n;
};

static int convert_close(struct tlog_writer *w, int wrc, const struct convert_count *c, size_t n,
                         const char *out)
{
    cJSON *stats = cJSON_CreateObject();
    for (size_t i = 0; stats && i < n; i++)
        cJSON_AddNumberToObject(stats, c[i].name, (double)c[i].n);
    int crc = tlog_writer_close(w, stats);
    cJSON_Delete(stats);
    if (wrc || crc) {
        fprintf(stderr, "llmtrace-convert: %s: write failed\n", out);
        return -1;
    }
    return 0;
}

static void convert_progress(int force, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void convert_progress(int force, const char *fmt, ...)
{
    if (!convert_progress_on)
        return;
    int64_t now = clock_mono_us();
    if (!force && now < convert_progress_next)
        return;
    convert_progress_next = now + 250000;
    va_list ap;
    va_start(ap, fmt);
    fputs("\r\033[Kllmtrace-convert: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stderr);
}

static void convert_progress_done(void)
{
    if (convert_progress_on) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
}

static int convert_usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "llmtrace-convert: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'llmtrace-convert --help'.\n");
    return 2;
}

static const char *convert_display(const char *path)
{
    return strcmp(path, "-") ? path : "<stdin>";
}

/* Reads a whole file ("-" = stdin) into b, refusing more than b's cap. 0 or -1 with err. */
static int convert_read_all(const char *path, struct buf *b, char *err, size_t errlen)
{
    int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (;;) {
        if (buf_reserve(b, 1 << 16)) {
            snprintf(err, errlen, "%s: larger than --max-input (%zu bytes)",
                     convert_display(path), b->max);
            rc = -1;
            break;
        }
        ssize_t n = read(fd, b->p + b->len, b->cap - b->len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "%s: %s", convert_display(path), strerror(errno));
            rc = -1;
            break;
        }
        if (n == 0)
            break;
        b->len += (size_t)n;
        b->p[b->len] = '\0';
    }
    if (fd != STDIN_FILENO)
        close(fd);
    return rc;
}

/* ---- calibration ------------------------------------------------------------------------ */

#ifdef CONVERT_HAVE_CURL
static size_t convert_curl_write(char *p, size_t size, size_t n, void *ud)
{
    struct buf *b = ud;
    return buf_append(b, p, size * n) ? 0 : size * n;
}

/* --idle-timeout: libcurl's low-speed check averages over several seconds, so a request that
 * was sent and then got nothing would run on for ~5 s more; this counts from the last byte
 * moved either way (the progress callback runs at least about once a second). */
struct convert_idle {
    int64_t limit_us, last_us;
    curl_off_t last_dl, last_ul;
    int fired;
};

static int convert_curl_idle(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                             curl_off_t ulnow)
{
    (void)dltotal;
    (void)ultotal;
    struct convert_idle *s = ud;
    int64_t now = clock_mono_us();
    if (dlnow != s->last_dl || ulnow != s->last_ul) {
        s->last_dl = dlnow;
        s->last_ul = ulnow;
        s->last_us = now;
        return 0;
    }
    if (now - s->last_us >= s->limit_us) {
        s->fired = 1;
        return 1; /* CURLE_ABORTED_BY_CALLBACK */
    }
    return 0;
}

/* The endpoint URL: a base URL ("http://h:8000" or ".../", with or without a query such as
 * "?api-key=…") gets the dialect's path before its query; a URL with a path is used as is. */
static void convert_endpoint(const char *url, const struct import_build_opts *bo, struct buf *out)
{
    const char *s = strstr(url, "://");
    s = s ? s + 3 : url;
    const char *path = s + strcspn(s, "/?#");
    size_t plen = strcspn(path, "?#");
    if (plen > 1) {
        buf_append_str(out, url);
        return;
    }
    buf_append(out, url, (size_t)(path - url));
    buf_append_str(out, bo->path ? bo->path : import_dialect_path(bo->dialect));
    if (path[plen] == '?')
        buf_append(out, path + plen, strcspn(path + plen, "#"));
}

/* prompt tokens the endpoint reports: OpenAI usage.prompt_tokens, Anthropic input_tokens,
 * Ollama prompt_eval_count. -1 when absent. */
static int64_t convert_prompt_tokens(const cJSON *resp)
{
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(resp, "usage");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens");
    if (!v)
        v = cJSON_GetObjectItemCaseSensitive(u, "input_tokens");
    if (!v)
        v = cJSON_GetObjectItemCaseSensitive(resp, "prompt_eval_count");
    return cJSON_IsNumber(v) && v->valuedouble >= 0 ? (int64_t)v->valuedouble : -1;
}

static int convert_calibrate(const struct convert_args *a, double *f, double *icpt, char *err,
                             size_t errlen)
{
    static const int64_t sample_words[5] = {32, 64, 128, 256, 512};
    double w[5], t[5];
    struct buf url, resp, text;
    buf_init(&url, 1 << 16);
    buf_init(&resp, 1 << 20);
    buf_init(&text, 1 << 20);
    convert_endpoint(a->calibrate, &a->bo, &url);
    char *shown = url.p ? redact_url(url.p) : NULL; /* for messages */
    int rc = -1;
    CURL *c = curl_easy_init();
    struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: application/json");
    for (size_t i = 0; i < a->n_headers; i++)
        hl = curl_slist_append(hl, a->headers[i]);
    if (!c || !hl || !url.p) {
        snprintf(err, errlen, "calibrate: out of memory");
        goto out;
    }
    for (int i = 0; i < 5; i++) {
        buf_reset(&text);
        buf_reset(&resp);
        if (synth_append_words(&text, SYNTH_DOMAIN_REQUEST, 0xCA11B0000ULL + (uint64_t)i,
                               sample_words[i])) {
            snprintf(err, errlen, "calibrate: out of memory");
            goto out;
        }
        struct import_row r = {.format = IMPORT_SHAREGPT, .tokens_in = -1, .tokens_out = -1,
                               .pin_out = 1};
        r.messages = cJSON_CreateArray();
        cJSON *m = cJSON_CreateObject();
        cJSON_AddItemToArray(r.messages, m);
        cJSON_AddStringToObject(m, "role", "user");
        cJSON_AddStringToObject(m, "content", text.p);
        struct import_build_opts bo = a->bo;
        bo.no_pin_output = 0;
        cJSON *body = import_build_body(&r, &bo);
        cJSON_Delete(r.messages);
        if (body)
            cJSON_ReplaceItemInObjectCaseSensitive(body, "stream", cJSON_CreateFalse());
        char *js = body ? cJSON_PrintUnformatted(body) : NULL;
        cJSON_Delete(body);
        if (!js) {
            snprintf(err, errlen, "calibrate: out of memory");
            goto out;
        }
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, url.p);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, js);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, convert_curl_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
        /* An endpoint that accepts and never answers must not hold the conversion: the same
         * three limits as llmtrace-replay (connect, total, nothing received). */
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(a->connect_timeout_us / 1000));
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(a->timeout_us / 1000));
        struct convert_idle idle = {.limit_us = a->idle_timeout_us,
                                    .last_us = clock_mono_us(), .last_dl = -1, .last_ul = -1};
        if (a->idle_timeout_us > 0) {
            curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, convert_curl_idle);
            curl_easy_setopt(c, CURLOPT_XFERINFODATA, &idle);
            curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        }
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        char cerr[CURL_ERROR_SIZE] = "";
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
        CURLcode cc = curl_easy_perform(c);
        free(js);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (cc != CURLE_OK) {
            const char *which = "";
            if (cc == CURLE_OPERATION_TIMEDOUT) {
                double ct = 0;
                curl_easy_getinfo(c, CURLINFO_CONNECT_TIME, &ct);
                which = ct <= 0 && a->connect_timeout_us ? " (--connect-timeout)"
                        : strstr(cerr, "too slow") ? " (--idle-timeout)"
                                                   : " (--timeout)";
            }
            if (idle.fired)
                snprintf(err, errlen, "calibrate: %s: nothing received for %.3g s "
                                      "(--idle-timeout)", shown ? shown : "?",
                         (double)a->idle_timeout_us / 1e6);
            else
                snprintf(err, errlen, "calibrate: %s: %s%s", shown ? shown : "?",
                         cerr[0] ? cerr : curl_easy_strerror(cc), which);
            goto out;
        }
        cJSON *j = cJSON_ParseWithLength(resp.p ? resp.p : "", resp.len);
        int64_t pt = convert_prompt_tokens(j);
        cJSON_Delete(j);
        if (status >= 400 || pt < 0) {
            char msg[200];
            dialect_error_message(resp.p ? resp.p : "", resp.len, msg, sizeof msg);
            snprintf(err, errlen, "calibrate: %s: HTTP %ld%s%s", shown ? shown : "?", status,
                     pt < 0 ? ", no usage.prompt_tokens: " : ": ", msg);
            goto out;
        }
        w[i] = (double)sample_words[i];
        t[i] = (double)pt;
    }
    if (synth_fit(w, t, 5, f, icpt)) {
        snprintf(err, errlen, "calibrate: the endpoint's token counts do not grow with words");
        goto out;
    }
    rc = 0;
out:
    curl_slist_free_all(hl);
    if (c)
        curl_easy_cleanup(c);
    free(shown);
    buf_free(&url);
    buf_free(&resp);
    buf_free(&text);
    return rc;
}
#else
static int convert_calibrate(const struct convert_args *a, double *f, double *icpt, char *err,
                             size_t errlen)
{
    (void)a;
    (void)f;
    (void)icpt;
    snprintf(err, errlen, "calibrate: built without libcurl");
    return -1;
}
#endif

/* ---- import ----------------------------------------------------------------------------- */

/* argv for the header with -H values removed and URLs redacted (they may carry credentials). */
static cJSON *convert_command(int argc, char **argv)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < argc; i++) {
        const char *s = argv[i];
        char *tmp = NULL;
        if (i > 0 && (!strcmp(argv[i - 1], "-H") || !strcmp(argv[i - 1], "--header")))
            s = "<redacted>";
        else if (!strncmp(s, "--header=", 9) || (!strncmp(s, "-H", 2) && s[2]))
            s = "-H <redacted>";
        else if (strstr(s, "://") && !(tmp = redact_url(s)))
            s = "<redacted>"; /* out of memory: drop it rather than leak it */
        cJSON_AddItemToArray(arr, cJSON_CreateString(tmp ? tmp : s));
        free(tmp);
    }
    return arr;
}

static cJSON *convert_options_json(const struct convert_args *a, double tpw)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "dialect", dialect_name(a->bo.dialect));
    if (a->bo.model)
        cJSON_AddStringToObject(o, "model", a->bo.model);
    cJSON_AddBoolToObject(o, "pin_output", !a->bo.no_pin_output);
    cJSON_AddNumberToObject(o, "tokens_per_word", tpw);
    cJSON_AddBoolToObject(o, "calibrated", a->calibrate != NULL);
    cJSON_AddNumberToObject(o, "tokens_overhead", a->bo.tokens_overhead);
    cJSON_AddNumberToObject(o, "time_scale", a->io.time_scale > 0 ? a->io.time_scale : 1);
    cJSON_AddNumberToObject(o, "base_us", (double)(a->io.base_us ? a->io.base_us
                                                                 : IMPORT_DEFAULT_BASE_US));
    return o;
}

static int convert_import(struct convert_args *a, char **inputs, int n_in, int argc, char **argv)
{
    struct import_trace t;
    import_trace_init(&t);
    enum import_format fmts[CONVERT_MAX_INPUTS];
    const char *names[CONVERT_MAX_INPUTS];
    char err[600];
    int rc = 1;
    struct tlog_writer *w = NULL;
    struct buf line;
    buf_init(&line, (size_t)1 << 31);
    for (int i = 0; i < n_in; i++) {
        struct buf data;
        buf_init(&data, (size_t)a->max_input);
        names[i] = convert_display(inputs[i]);
        convert_progress(1, "%s: reading", names[i]);
        if (convert_read_all(inputs[i], &data, err, sizeof err)) {
            convert_progress_done();
            fprintf(stderr, "llmtrace-convert: %s\n", err);
            buf_free(&data);
            goto out;
        }
        enum import_format f = a->from != IMPORT_UNKNOWN ? a->from
                                                         : import_detect(data.p ? data.p : "", data.len);
        if (f == IMPORT_UNKNOWN) {
            fprintf(stderr, "llmtrace-convert: %s: %s; name it with --from\n", names[i],
                    data.len ? "cannot tell the format from the content" : "empty file");
            buf_free(&data);
            goto out;
        }
        fmts[i] = f;
        struct import_opts io = a->io;
        io.name = names[i];
        io.input_index = n_in > 1 ? i + 1 : 0;
        struct import_trace before = t; /* counters, to report this input's share */
        convert_progress(1, "%s: parsing %zu bytes", names[i], data.len);
        int prc = import_parse(f, data.p ? data.p : "", data.len, &io, &t);
        buf_free(&data);
        convert_progress_done();
        if (prc) {
            fprintf(stderr, "llmtrace-convert: %s\n", t.err);
            goto out;
        }
        if (!a->quiet) {
            if (t.out_of_order > before.out_of_order)
                fprintf(stderr, "llmtrace-convert: warning: %s: %" PRId64 " rows earlier than "
                        "the row before them; sorted by time\n", names[i],
                        t.out_of_order - before.out_of_order);
            if (t.bad > before.bad)
                fprintf(stderr, "llmtrace-convert: warning: skipped %" PRId64 " bad rows of %s "
                        "(first: %s)\n", t.bad - before.bad, names[i], t.first_bad);
            if (t.failed > before.failed)
                fprintf(stderr, "llmtrace-convert: %s: %" PRId64 " requests failed in the trace "
                        "(0 response tokens): %s\n", names[i], t.failed - before.failed,
                        a->io.skip_failed ? "dropped" : "kept, flagged \"trace.failed\"");
            if (t.ignored > before.ignored)
                fprintf(stderr, "llmtrace-convert: %s: %" PRId64 " records are not LLM requests "
                        "(ignored)\n", names[i], t.ignored - before.ignored);
        }
    }
    double tpw = a->bo.tokens_per_word > 0 ? a->bo.tokens_per_word : SYNTH_DEFAULT_TOKENS_PER_WORD;
    if (a->calibrate) {
        double f, icpt;
        if (convert_calibrate(a, &f, &icpt, err, sizeof err)) {
            fprintf(stderr, "llmtrace-convert: %s\n", err);
            goto out;
        }
        tpw = f;
        a->bo.tokens_overhead = icpt > 0 ? icpt : 0;
        if (!a->quiet)
            fprintf(stderr, "llmtrace-convert: calibrated: %.4f tokens per word (%+.1f tokens "
                    "per request) from 5 prompts\n", f, icpt);
    }
    a->bo.tokens_per_word = tpw;
    struct tlog_writer_opts wo = {0};
    w = tlog_writer_open(a->out, &wo, err, sizeof err);
    if (!w) {
        fprintf(stderr, "llmtrace-convert: %s\n", err);
        goto out;
    }
    struct tlog_header h = {.schema = TLOG_SCHEMA_VERSION, .tool = "llmtrace-convert",
                            .version = LLMTRACE_VERSION, .start_us = clock_epoch_us()};
    h.command = convert_command(argc, argv);
    h.source = import_source_json(names, fmts, (size_t)n_in);
    h.options = convert_options_json(a, tpw);
    int wrc = tlog_writer_header(w, &h);
    cJSON_Delete(h.command);
    cJSON_Delete(h.source);
    cJSON_Delete(h.options);
    for (size_t i = 0; !wrc && i < t.n; i++) {
        const struct import_row *r = &t.rows[i];
        struct import_build_opts bo = a->bo;
        bo.input_name = names[r->input_index > 0 ? r->input_index - 1 : 0];
        buf_reset(&line);
        if (import_row_to_line(r, &bo, &line)) {
            fprintf(stderr, "llmtrace-convert: out of memory building record %s\n", r->id);
            goto out;
        }
        wrc = tlog_writer_line(w, line.p, line.len, 1, r->resp.status >= 400);
        if (!wrc && (i & 255) == 0) {
            wrc = tlog_writer_tick(w, clock_mono_us());
            convert_progress(i == 0, "writing %zu of %zu records", i, t.n);
        }
    }
    convert_progress_done();
    const struct convert_count counts[] = {
        {"rows", t.records},
        {"bad", t.bad},
        {"failed", t.failed},
        {"skipped_failed", t.skipped_failed},
        {"out_of_order", t.out_of_order},
        {"ignored", t.ignored},
        {"sessions", t.sessions},
        {"sessions_linked", t.linked},
        {"think_clamped", t.think_clamped},
    };
    int crc = convert_close(w, wrc, counts, sizeof counts / sizeof counts[0], a->out);
    w = NULL;
    if (crc)
        goto out;
    if (!a->quiet && t.sessions)
        fprintf(stderr, "llmtrace-convert: %" PRId64 " sessions (%" PRId64 " turns after a "
                "first)\n", t.sessions, t.linked);
    if (!a->quiet && t.think_clamped)
        fprintf(stderr, "llmtrace-convert: warning: %" PRId64 " think times below 0 (a turn "
                "recorded before the previous one ended) written as 0\n", t.think_clamped);
    if (!a->quiet)
        fprintf(stderr, "llmtrace-convert: wrote %zu records to %s\n", t.n,
                strcmp(a->out, "-") ? a->out : "<stdout>");
    rc = 0;
out:
    if (w)
        tlog_writer_abort(w);
    buf_free(&line);
    import_trace_free(&t);
    return rc;
}

/* ---- export ----------------------------------------------------------------------------- */

static int convert_flush(FILE *f, struct buf *b)
{
    if (b->len && fwrite(b->p, 1, b->len, f) != b->len)
        return -1;
    buf_reset(b);
    return 0;
}

static int convert_export(const struct convert_args *a, char **inputs, int n_in)
{
    FILE *out = strcmp(a->out, "-") ? fopen(a->out, "w") : stdout;
    if (!out) {
        fprintf(stderr, "llmtrace-convert: %s: %s\n", a->out, strerror(errno));
        return 1;
    }
    struct buf b;
    buf_init(&b, (size_t)1 << 31);
    int rc = 1, first = 1, wrote_header = 0;
    int64_t n = 0, bad = 0, errors = 0;
    if (a->to == EXPORT_CSV)
        buf_append_str(&b, export_csv_header());
    else if (a->to == EXPORT_HAR)
        export_har_begin(&b, LLMTRACE_VERSION);
    struct tlog_record rec;
    tlog_record_init(&rec);
    for (int i = 0; i < n_in; i++) {
        char err[512];
        struct tlog_reader_opts ro = {.keep_extra = 1};
        struct tlog_reader *r = tlog_reader_open(inputs[i], &ro, err, sizeof err);
        if (!r) {
            fprintf(stderr, "llmtrace-convert: %s\n", err);
            goto out;
        }
        int k;
        convert_progress(1, "%s: %" PRId64 " exchanges exported", convert_display(inputs[i]), n);
        while ((k = tlog_read(r, &rec)) != 0) {
            if ((n & 1023) == 0)
                convert_progress(0, "%s: %" PRId64 " exchanges exported",
                                 convert_display(inputs[i]), n);
            if (k < 0) {
                convert_progress_done();
                if (k == TLOG_ERR_FORMAT && a->io.skip_bad) {
                    bad++;
                    continue;
                }
                fprintf(stderr, "llmtrace-convert: %s: %s\n", convert_display(inputs[i]),
                        tlog_reader_error(r));
                tlog_reader_close(r);
                goto out;
            }
            int erc = 0;
            if (rec.type == TLOG_REC_HEADER && a->to == EXPORT_JSONL && !wrote_header) {
                erc = export_header_line(&rec.header, &b);
                wrote_header = 1;
            } else if (rec.type == TLOG_REC_EXCHANGE) {
                n++;
                errors += rec.x.error_kind != TLOG_ERROR_NONE;
                switch (a->to) {
                case EXPORT_CSV: erc = export_csv_row(&rec.x, &b); break;
                case EXPORT_BATCH: erc = export_batch_line(&rec.x, &b); break;
                case EXPORT_HAR: erc = export_har_entry(&rec.x, first, &b); break;
                default: {
                    struct tlog_write_opts wo = {.no_redact = 1};
                    erc = export_jsonl_line(&rec.x, &wo, &b);
                    erc = erc ? erc : buf_append_char(&b, '\n');
                }
                }
                first = 0;
            }
            if (erc || (b.len > (1 << 20) && convert_flush(out, &b))) {
                fprintf(stderr, "llmtrace-convert: %s: write failed\n", a->out);
                tlog_reader_close(r);
                goto out;
            }
        }
        convert_progress_done();
        char desc[256];
        tlog_reader_describe(r, desc, sizeof desc);
        if (desc[0] && !a->quiet)
            fprintf(stderr, "llmtrace-convert: warning: %s: %s\n", convert_display(inputs[i]),
                    desc);
        tlog_reader_close(r);
    }
    if (a->to == EXPORT_HAR)
        export_har_end(&b);
    if (a->to == EXPORT_JSONL) {
        struct tlog_trailer tr = {.end_us = clock_epoch_us(), .records = n, .errors = errors};
        export_trailer_line(&tr, &b);
    }
    if (convert_flush(out, &b) || fflush(out)) {
        fprintf(stderr, "llmtrace-convert: %s: write failed\n", a->out);
        goto out;
    }
    if (!a->quiet) {
        if (bad)
            fprintf(stderr, "llmtrace-convert: warning: skipped %" PRId64 " bad records\n", bad);
        fprintf(stderr, "llmtrace-convert: exported %" PRId64 " exchanges\n", n);
    }
    rc = 0;
out:
    tlog_record_free(&rec);
    buf_free(&b);
    if (out != stdout && fclose(out) && rc == 0) {
        fprintf(stderr, "llmtrace-convert: %s: %s\n", a->out, strerror(errno));
        rc = 1;
    }
    return rc;
}

/* ---- sessions in trace logs (--sessions infer) ------------------------------------------ */

/* 1 when path holds a trace log (gzip, or a first line whose "type" is "header" or
 * "exchange"), 0 when not, -1 when unreadable. Reads at most 1 MiB. */
static int convert_is_tlog(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char *p = malloc(1 << 20);
    ssize_t n = p ? read(fd, p, (1 << 20) - 1) : -1;
    close(fd);
    if (n < 0) {
        free(p);
        return -1;
    }
    int r = 0;
    if (n >= 2 && (unsigned char)p[0] == 0x1f && (unsigned char)p[1] == 0x8b) {
        r = 1;
    } else {
        p[n] = 0;
        size_t i = 0;
        while (i < (size_t)n && (p[i] == ' ' || p[i] == '\r' || p[i] == '\n' || p[i] == '\t'))
            i++;
        size_t e = i;
        while (e < (size_t)n && p[e] != '\n')
            e++;
        cJSON *j = cJSON_ParseWithLength(p + i, e - i);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "type");
        r = cJSON_IsString(t) && (!strcmp(t->valuestring, "header") || !strcmp(t->valuestring, "exchange"));
        cJSON_Delete(j);
    }
    free(p);
    return r;
}

/* Rewrites trace logs with the sessions session.h infers (one client space per input). */
static int convert_sessions(const struct convert_args *a, char **inputs, int n_in, int argc,
                            char **argv)
{
    char err[512];
    struct tlog_writer_opts wo = {0};
    struct tlog_writer *w = tlog_writer_open(a->out, &wo, err, sizeof err);
    if (!w) {
        fprintf(stderr, "llmtrace-convert: %s\n", err);
        return 1;
    }
    struct tlog_header h = {.schema = TLOG_SCHEMA_VERSION, .tool = "llmtrace-convert",
                            .version = LLMTRACE_VERSION, .start_us = clock_epoch_us()};
    h.command = convert_command(argc, argv);
    h.source = cJSON_CreateObject();
    cJSON_AddStringToObject(h.source, "kind", "sessions");
    cJSON_AddStringToObject(h.source, "input", convert_display(inputs[0]));
    cJSON *ins = cJSON_AddArrayToObject(h.source, "inputs");
    for (int i = 0; ins && i < n_in; i++)
        cJSON_AddItemToArray(ins, cJSON_CreateString(convert_display(inputs[i])));
    h.options = cJSON_CreateObject();
    cJSON_AddStringToObject(h.options, "sessions", "infer");
    cJSON_AddNumberToObject(h.options, "session_idle_us",
                            (double)(a->so.idle_us ? a->so.idle_us : SESSION_IDLE_US));
    cJSON_AddNumberToObject(h.options, "session_max_open",
                            (double)(a->so.max_open ? a->so.max_open : SESSION_MAX_OPEN));
    int rc = 1, wrc = tlog_writer_header(w, &h);
    cJSON_Delete(h.command);
    cJSON_Delete(h.source);
    cJSON_Delete(h.options);
    struct session_infer_stats tot = {0};
    int64_t bad = 0, n = 0;
    struct tlog_record rec;
    tlog_record_init(&rec);
    for (int i = 0; !wrc && i < n_in; i++) {
        struct tlog_reader_opts ro = {.keep_extra = 1};
        struct tlog_reader *r = tlog_reader_open(inputs[i], &ro, err, sizeof err);
        if (!r) {
            fprintf(stderr, "llmtrace-convert: %s\n", err);
            goto out;
        }
        char prefix[32];
        if (n_in > 1)
            snprintf(prefix, sizeof prefix, "in%d-session-", i + 1);
        else
            snprintf(prefix, sizeof prefix, "session-");
        struct session_infer_opts so = a->so;
        so.prefix = prefix;
        struct session_infer *si = session_infer_new(&so);
        if (!si) {
            fprintf(stderr, "llmtrace-convert: out of memory\n");
            tlog_reader_close(r);
            goto out;
        }
        int k;
        while (!wrc && (k = tlog_read(r, &rec)) != 0) {
            if (k < 0) {
                if (k == TLOG_ERR_FORMAT && a->io.skip_bad) {
                    bad++;
                    continue;
                }
                fprintf(stderr, "llmtrace-convert: %s: %s\n", convert_display(inputs[i]),
                        tlog_reader_error(r));
                session_infer_free(si);
                tlog_reader_close(r);
                goto out;
            }
            if (rec.type != TLOG_REC_EXCHANGE)
                continue;
            if (session_infer_add(si, &rec.x)) {
                fprintf(stderr, "llmtrace-convert: out of memory inferring sessions\n");
                session_infer_free(si);
                tlog_reader_close(r);
                goto out;
            }
            wrc = tlog_writer_exchange(w, &rec.x);
            if (!wrc && (++n & 255) == 0) {
                wrc = tlog_writer_tick(w, clock_mono_us());
                convert_progress(0, "%s: %" PRId64 " records", convert_display(inputs[i]), n);
            }
        }
        convert_progress_done();
        struct session_infer_stats st;
        session_infer_get_stats(si, &st);
        session_infer_free(si);
        tot.records += st.records;
        tot.skipped += st.skipped;
        tot.sessions += st.sessions;
        tot.linked += st.linked;
        tot.repeats += st.repeats;
        tot.branches += st.branches;
        tot.ambiguous += st.ambiguous;
        tot.expired += st.expired;
        tot.evicted += st.evicted;
        tot.think_clamped += st.think_clamped;
        char desc[256];
        tlog_reader_describe(r, desc, sizeof desc);
        if (desc[0] && !a->quiet)
            fprintf(stderr, "llmtrace-convert: warning: %s: %s\n", convert_display(inputs[i]),
                    desc);
        tlog_reader_close(r);
    }
    const struct convert_count counts[] = {
        {"records", tot.records},
        {"bad", bad},
        {"without_session", tot.skipped},
        {"sessions", tot.sessions},
        {"linked", tot.linked},
        {"repeats", tot.repeats},
        {"branches", tot.branches},
        {"ambiguous", tot.ambiguous},
        {"expired", tot.expired},
        {"evicted", tot.evicted},
        {"think_clamped", tot.think_clamped},
    };
    int crc = convert_close(w, wrc, counts, sizeof counts / sizeof counts[0], a->out);
    w = NULL;
    if (crc)
        goto out;
    if (!a->quiet) {
        fprintf(stderr, "llmtrace-convert: %" PRId64 " records: %" PRId64 " sessions (%" PRId64
                " next turns linked, %" PRId64 " retries of a failed turn, %" PRId64
                " branches), %" PRId64 " without a session (not chat, no body, or a transport "
                "attempt)\n", tot.records, tot.sessions, tot.linked, tot.repeats, tot.branches,
                tot.skipped);
        if (tot.ambiguous)
            fprintf(stderr, "llmtrace-convert: warning: %" PRId64 " links chosen among equal "
                    "histories (the most recent turn was taken)\n", tot.ambiguous);
        if (tot.expired || tot.evicted)
            fprintf(stderr, "llmtrace-convert: %" PRId64 " turns forgotten after "
                    "--session-idle, %" PRId64 " past --session-max-open\n", tot.expired,
                    tot.evicted);
        if (bad)
            fprintf(stderr, "llmtrace-convert: warning: skipped %" PRId64 " bad records\n", bad);
    }
    rc = 0;
out:
    tlog_record_free(&rec);
    if (w)
        tlog_writer_abort(w);
    return rc;
}

/* ---- main ------------------------------------------------------------------------------- */

static int convert_parse_base(const char *s, int64_t *out)
{
    double v;
    if (!import_parse_timestamp(s, strlen(s), out))
        return 0;
    if (units_parse_double(s, &v) || v < 0 || v > 9.2e12)
        return -1;
    *out = llround(v * 1e6);
    return 0;
}

int main(int argc, char **argv)
{
    struct convert_args a = {.out = "-", .max_input = (uint64_t)4 << 30,
                             .connect_timeout_us = 10000000, .timeout_us = 120000000,
                             .idle_timeout_us = 30000000};
    a.io.seed = 1;
    a.bo.dialect = DIALECT_OPENAI_CHAT;
    int c;
    uint64_t sz;
    int64_t iv;
    double dv;
    while ((c = getopt_long(argc, argv, "o:qhH:", convert_options, NULL)) != -1) {
        switch (c) {
        case OPT_FROM:
            if ((a.from = import_format_parse(optarg)) == IMPORT_UNKNOWN)
                return convert_usage_error("--from %s: expected azure, mooncake, burstgpt, "
                                           "sharegpt, har or batch", optarg);
            break;
        case OPT_MODEL: a.bo.model = optarg; break;
        case OPT_DIALECT:
            if ((a.bo.dialect = dialect_parse_name(optarg)) == DIALECT_UNKNOWN)
                return convert_usage_error("--dialect %s: unknown dialect", optarg);
            break;
        case OPT_PATH:
            if (optarg[0] != '/')
                return convert_usage_error("--path %s: must start with /", optarg);
            a.bo.path = optarg;
            break;
        case OPT_NO_PIN: a.bo.no_pin_output = 1; break;
        case OPT_TPW:
            if (units_parse_double(optarg, &dv) || dv < 0.01 || dv > 100)
                return convert_usage_error("--tokens-per-word %s: expected a number in "
                                           "[0.01, 100]", optarg);
            a.bo.tokens_per_word = dv;
            a.tpw_given = 1;
            break;
        case OPT_CALIBRATE: a.calibrate = optarg; break;
        case OPT_CONNECT_TIMEOUT:
        case OPT_TIMEOUT:
        case OPT_IDLE_TIMEOUT:
            if (units_parse_duration_us(optarg, &iv) || iv > (int64_t)86400 * 1000000 ||
                (c == OPT_CONNECT_TIMEOUT && iv < 1000))
                return convert_usage_error("bad timeout '%s' (e.g. 500ms, 10s, 2m; 0 = none "
                                           "except for --connect-timeout)", optarg);
            if (iv > 0 && iv < 1000)
                iv = 1000; /* libcurl counts milliseconds: 0 would mean no limit */
            *(c == OPT_CONNECT_TIMEOUT ? &a.connect_timeout_us
              : c == OPT_TIMEOUT       ? &a.timeout_us : &a.idle_timeout_us) = iv;
            break;
        case 'H':
            if (a.n_headers == CONVERT_MAX_HEADERS || !strchr(optarg, ':'))
                return convert_usage_error("-H %s: expected 'Name: value' (at most 32)", optarg);
            a.headers[a.n_headers++] = optarg;
            break;
        case OPT_TIME_SCALE:
            if (units_parse_double(optarg, &dv) || dv <= 0 || dv > 1e6)
                return convert_usage_error("--time-scale %s: expected a positive number", optarg);
            a.io.time_scale = dv;
            break;
        case OPT_BASE_TIME:
            if (convert_parse_base(optarg, &a.io.base_us) || a.io.base_us == 0)
                return convert_usage_error("--base-time %s: expected RFC 3339 or Unix seconds "
                                           "> 0", optarg);
            break;
        case OPT_RATE:
            if (units_parse_double(optarg, &dv) || dv <= 0 || dv > 1e7)
                return convert_usage_error("--rate %s: expected requests/s > 0", optarg);
            a.io.rate = dv;
            break;
        case OPT_ARRIVAL:
            if (!strcmp(optarg, "poisson"))
                a.io.arrival = IMPORT_ARRIVAL_POISSON;
            else if (!strcmp(optarg, "constant"))
                a.io.arrival = IMPORT_ARRIVAL_CONSTANT;
            else
                return convert_usage_error("--arrival %s: expected poisson or constant", optarg);
            break;
        case OPT_SEED:
            if (units_parse_int64(optarg, 0, INT64_MAX, &iv))
                return convert_usage_error("--seed %s: expected a non-negative integer", optarg);
            a.io.seed = (uint64_t)iv;
            break;
        case OPT_SKIP_BAD: a.io.skip_bad = 1; break;
        case OPT_SKIP_FAILED: a.io.skip_failed = 1; break;
        case OPT_MAX_INPUT:
            if (units_parse_size(optarg, &sz) || sz == 0 || sz > ((uint64_t)1 << 40))
                return convert_usage_error("--max-input %s: expected a size like 512MB", optarg);
            a.max_input = sz;
            break;
        case OPT_TO:
            if ((a.to = export_format_parse(optarg)) == EXPORT_NONE)
                return convert_usage_error("--to %s: expected csv, jsonl, batch or har", optarg);
            break;
        case OPT_SESSIONS:
            if (strcmp(optarg, "infer"))
                return convert_usage_error("--sessions %s: expected infer", optarg);
            a.sessions_infer = a.io.infer_sessions = 1;
            break;
        case OPT_SESSION_IDLE:
            if (units_parse_duration_us(optarg, &iv) || iv < 1000)
                return convert_usage_error("--session-idle %s: expected a duration >= 1ms", optarg);
            a.so.idle_us = iv;
            break;
        case OPT_SESSION_MAX_OPEN:
            if (units_parse_int64(optarg, 1, (int64_t)1 << 28, &iv))
                return convert_usage_error("--session-max-open %s: expected 1..268435456", optarg);
            a.so.max_open = (size_t)iv;
            break;
        case OPT_SESSION_MIN_BLOCKS:
            if (units_parse_int64(optarg, 1, IMPORT_MAX_HASH_IDS, &iv))
                return convert_usage_error("--session-min-blocks %s: expected 1..8192", optarg);
            a.io.session_min_blocks = (int)iv;
            break;
        case 'o': a.out = optarg; break;
        case 'q': a.quiet = 1; break;
        case 'h': fputs(usage_text, stdout); return 0;
        case OPT_VERSION: printf("llmtrace-convert %s\n", LLMTRACE_VERSION); return 0;
        default: return convert_usage_error("%s", "bad option");
        }
    }
    int n_in = argc - optind;
    if (n_in < 1)
        return convert_usage_error("%s", "no input (use - for stdin)");
    convert_progress_on = !a.quiet && isatty(STDERR_FILENO);
    if (n_in > CONVERT_MAX_INPUTS)
        return convert_usage_error("%s", "too many inputs (at most 256)");
    int stdin_uses = 0;
    for (int i = optind; i < argc; i++)
        stdin_uses += !strcmp(argv[i], "-");
    if (stdin_uses > 1)
        return convert_usage_error("%s", "stdin (-) given more than once");
    if (a.calibrate && a.tpw_given)
        return convert_usage_error("%s", "--calibrate and --tokens-per-word exclude each other");
#ifdef CONVERT_HAVE_CURL
    if (a.calibrate)
        curl_global_init(CURL_GLOBAL_DEFAULT);
#endif
    int tlogs = 0;
    if (a.sessions_infer && a.to == EXPORT_NONE && a.from == IMPORT_UNKNOWN) {
        for (int i = optind; i < argc; i++) {
            int t = strcmp(argv[i], "-") ? convert_is_tlog(argv[i]) : 0;
            if (t < 0) {
                fprintf(stderr, "llmtrace-convert: %s: %s\n", argv[i], strerror(errno));
                return 1;
            }
            tlogs += t;
        }
        if (tlogs && tlogs != n_in)
            return convert_usage_error("%s", "--sessions infer takes trace logs or trace "
                                       "files to import, not both");
    }
    if (a.sessions_infer && a.to != EXPORT_NONE)
        return convert_usage_error("%s", "--sessions infer writes a trace log: not with --to");
    int rc = a.to != EXPORT_NONE ? convert_export(&a, argv + optind, n_in)
             : tlogs            ? convert_sessions(&a, argv + optind, n_in, argc, argv)
                                : convert_import(&a, argv + optind, n_in, argc, argv);
#ifdef CONVERT_HAVE_CURL
    if (a.calibrate)
        curl_global_cleanup();
#endif
    return rc;
}
