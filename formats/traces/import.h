/* import.h — importers of public production traces and other tools' files into trace-log
 * exchange records, and exporters of trace logs to CSV / plain JSONL / OpenAI Batch / HAR.
 *
 * Importers parse a whole input held in memory into rows (struct import_row): when the request
 * arrived, its recorded token counts, and whatever real request it carries. Rows are then
 * turned into exchange records that llmtrace-replay can send (import_row_to_line): POST to the
 * dialect's path, a valid streaming request body, max_tokens pinned to the recorded output
 * length. Formats (see convert/README.md for every field):
 *   azure     Azure LLM inference trace 2023/2024 CSV: TIMESTAMP,ContextTokens,GeneratedTokens
 *   mooncake  Mooncake JSONL: timestamp (ms from trace start), input_length, output_length,
 *             hash_ids (512-token prefix blocks)
 *   burstgpt  BurstGPT CSV: Timestamp (s from start), Model, Request tokens, Response tokens,
 *             Total tokens, Log Type; 0 response tokens = failure; the newer layout's
 *             Session ID (or SessionID) and Elapsed time (s) make sessions
 *   sharegpt  ShareGPT JSON: [{id, conversations:[{from,value}]}]; each conversation a session
 *   har       HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/)
 *   batch     OpenAI Batch API input JSONL: {custom_id, method, url, body}
 *
 * Sessions (formats/SCHEMA.md "session"): ShareGPT conversations and BurstGPT Session IDs are
 * sessions as recorded; Mooncake requests are linked into sessions by their hash_ids only when
 * asked (import_opts.infer_sessions), by the rule convert/README.md "Sessions" states.
 *
 * Errors: functions return 0 or a negative IMPORT_ERR_*; the first error's detail, naming the
 * input, line (or record) and field, is kept in import_trace.err. Nothing here prints. */
#ifndef LLMTRACE_IMPORT_H
#define LLMTRACE_IMPORT_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "dialect.h"
#include "tlog.h"

#define IMPORT_ERR_FORMAT (-1) /* a bad row/record (or wrong header / missing column) */
#define IMPORT_ERR_NOMEM  (-2)
#define IMPORT_ERR_EMPTY  (-3) /* no data rows at all */
#define IMPORT_ERR_DETECT (-4) /* the content matches no known format */
#define IMPORT_ERR_USAGE  (-5) /* bad options */

/* Caps: a value above them is a bad row (so hostile input cannot make the synthesizer write
 * gigabytes): token counts per request, hash ids per request, Mooncake offsets (ms). */
#define IMPORT_MAX_TOKENS   2000000
#define IMPORT_MAX_HASH_IDS 8192
#define IMPORT_MAX_OFFSET_MS 1000000000000LL  /* ≈ 31.7 years */
/* Arrival times are clamped here (≈ year 2255) so scaling and arrival processes cannot
 * overflow int64 µs. */
#define IMPORT_MAX_TIME_US 9000000000000000LL

/* Default epoch for traces with relative times (Mooncake, BurstGPT, ShareGPT, Batch):
 * 2025-01-01T00:00:00Z. */
#define IMPORT_DEFAULT_BASE_US 1735689600000000LL

enum import_format {
    IMPORT_UNKNOWN = 0,
    IMPORT_AZURE,
    IMPORT_MOONCAKE,
    IMPORT_BURSTGPT,
    IMPORT_SHAREGPT,
    IMPORT_HAR,
    IMPORT_BATCH,
    IMPORT_FORMAT_COUNT
};

/* "azure", "mooncake", "burstgpt", "sharegpt", "har", "batch", "unknown". */
const char *import_format_name(enum import_format f);
/* Inverse of import_format_name (case-insensitive); IMPORT_UNKNOWN for anything else. */
enum import_format import_format_parse(const char *s);
/* Tells the format from the first bytes of the content; IMPORT_UNKNOWN when unsure. */
enum import_format import_detect(const char *data, size_t len);

enum import_arrival { IMPORT_ARRIVAL_POISSON = 0, IMPORT_ARRIVAL_CONSTANT };

struct import_opts {
    const char *name;        /* input name used in messages and ids; NULL → "<input>" */
    int input_index;         /* 0 for the first input; >0 adds the index to generated ids */
    int skip_bad;            /* 1: skip bad rows and count them instead of stopping */
    int skip_failed;         /* 1: drop rows the trace marks as failed (BurstGPT) */
    int64_t base_us;         /* epoch µs of relative time 0; 0 → IMPORT_DEFAULT_BASE_US */
    double time_scale;       /* gaps from the input's first arrival × this; 0 → 1 */
    double rate;             /* req/s for formats without times (ShareGPT, Batch); 0 → 1 */
    enum import_arrival arrival;
    uint64_t seed;           /* Poisson arrivals */
    double tokens_per_word;  /* estimate for ShareGPT reply lengths; 0 → default */
    int infer_sessions;      /* 1: link Mooncake requests into sessions by hash_ids */
    int session_min_blocks;  /* Mooncake: full blocks a previous turn needs to be linked to;
                                0 → IMPORT_SESSION_MIN_BLOCKS */
};

/* Mooncake's block size, and the full blocks of a previous turn its next turn must repeat
 * (convert/README.md "Sessions": a single shared block is usually a system prompt). */
#define IMPORT_MOONCAKE_BLOCK 512
#define IMPORT_SESSION_MIN_BLOCKS 2
/* Longest BurstGPT Session ID kept (a longer one is a bad row). */
#define IMPORT_MAX_SESSION_ID 256

/* What a HAR entry recorded about the response. */
struct import_resp {
    int status;              /* 0 = none */
    int64_t ttfb_us;         /* -1 unknown */
    int64_t end_us;          /* -1 unknown */
    char *text;              /* output text; NULL none */
    int64_t prompt_tokens;   /* usage; -1 unknown */
    int64_t completion_tokens;
};

/* One request of a trace. Every pointer is owned by the row (freed by import_trace_free). */
struct import_row {
    int64_t t_us;            /* arrival, epoch µs (after --time-scale) */
    int64_t line;            /* 1-based line (CSV, JSONL) or record index (JSON arrays) */
    uint64_t seq;            /* insertion order: ties in t_us keep it */
    int input_index;
    enum import_format format;
    int64_t tokens_in;       /* recorded prompt length; -1 unknown */
    int64_t tokens_out;      /* recorded output length; -1 unknown */
    int64_t pin_out;         /* output length to pin with max_tokens; -1 none */
    int failed;              /* the trace marks this request as failed */
    char *id;                /* record id */
    char *model;             /* the trace's model name; NULL */
    uint64_t *hash_ids;      /* Mooncake prefix blocks */
    size_t n_hash;
    cJSON *messages;         /* ShareGPT: [{role, content}…] up to this turn; NULL */
    cJSON *body;             /* Batch/HAR: the real request body; NULL */
    char *method;            /* Batch/HAR: real method and path; NULL → POST + dialect path */
    char *path;
    struct import_resp resp; /* HAR only */
    char *session;           /* session id; NULL: the request belongs to none */
    int64_t turn;            /* 0-based turn in its session; -1 none */
    int64_t think_us;        /* previous turn's end → this request, after --time-scale; -1 */
    int64_t elapsed_us;      /* BurstGPT Elapsed time (request duration); -1 unknown */
};

struct import_trace {
    struct import_row *rows;
    size_t n, cap;
    uint64_t next_seq;
    int64_t records;         /* data rows/records read (good + bad + skipped failures) */
    int64_t bad;             /* rows skipped because of --skip-bad */
    int64_t failed;          /* rows marked failed (kept unless skip_failed) */
    int64_t skipped_failed;  /* of those, dropped because of skip_failed */
    int64_t out_of_order;    /* rows earlier than the row before them in their input */
    int64_t ignored;         /* records that are not requests: HAR entries that are not LLM
                                API calls, ShareGPT conversations without a user turn */
    int64_t sessions;        /* sessions formed (a session of one turn counts) */
    int64_t linked;          /* turns linked to a previous turn (turn index > 0) */
    int64_t think_clamped;   /* BurstGPT: think times below 0 (a turn sent before the previous
                                one's recorded end) written as 0 */
    char err[512];           /* first error: "NAME: line N: field \"F\": why" */
    char first_bad[512];     /* first skipped bad row's message (skip_bad) */
};

void import_trace_init(struct import_trace *t);
/* Frees every row; the trace is empty and reusable. */
void import_trace_free(struct import_trace *t);

/* Parses one whole input of format f (not IMPORT_UNKNOWN) and appends its rows to t, then
 * sorts all of t's rows by arrival (stable). Returns 0, IMPORT_ERR_FORMAT (first bad row, or
 * the header/column problem; rows of this input are removed), IMPORT_ERR_EMPTY (no data row),
 * IMPORT_ERR_NOMEM. With skip_bad, bad rows are counted in t->bad and 0 is returned as long as
 * the header is usable. data need not be NUL-terminated. */
int import_parse(enum import_format f, const char *data, size_t len, const struct import_opts *o,
                 struct import_trace *t);

/* Parses a timestamp "YYYY-MM-DD[ T]HH:MM:SS[.fraction][Z|±HH[:MM]]" (fraction 0–9 digits,
 * truncated to µs; no zone = UTC) into epoch µs. 0 or -1. */
int import_parse_timestamp(const char *s, size_t len, int64_t *out_us);

/* ---- building records ------------------------------------------------------------------ */

struct import_build_opts {
    enum dialect_id dialect; /* DIALECT_UNKNOWN → openai-chat */
    const char *path;        /* request path; NULL → the dialect's default */
    const char *model;       /* overrides the trace's model; NULL → trace's, else "default" */
    int no_pin_output;       /* 1: no max_tokens/ignore_eos from the trace's output length */
    double tokens_per_word;  /* synthesis estimate; 0 → SYNTH_DEFAULT_TOKENS_PER_WORD */
    const char *input_name;  /* written in the record's "trace" object; may be NULL */
    double tokens_overhead;  /* tokens the endpoint adds per request (chat template), from
                                --calibrate; subtracted from the prompt length before
                                synthesis (at least 1 token is kept); 0 = none */
};

/* Default request path of a dialect: "/v1/chat/completions", "/v1/completions",
 * "/v1/messages", "/api/generate", "/api/chat", "/generate_stream". */
const char *import_dialect_path(enum dialect_id d);

/* Builds the request body the row is replayed with (caller frees). Length-only rows get a
 * synthesized prompt (synth.h); ShareGPT rows their real messages; Batch/HAR rows a copy of
 * their body with stream forced on for the OpenAI dialects. NULL on allocation failure. */
cJSON *import_build_body(const struct import_row *r, const struct import_build_opts *o);

/* Fills x (initialised by the callee) with the exchange record of r. */
int import_build_exchange(const struct import_row *r, const struct import_build_opts *o,
                          struct tlog_exchange *x);

/* Appends the row's exchange record as one JSON line (no newline) to out: the tlog record plus
 * usage (tokens_source "usage") from the lengths a length-only trace recorded, and a "trace" object
 * {"format","input","line"[,"failed":true]}. 0, IMPORT_ERR_NOMEM. */
int import_row_to_line(const struct import_row *r, const struct import_build_opts *o,
                       struct buf *out);

/* True when a record's tokens_in/tokens_out are the lengths a length-only trace recorded
 * (usage taken from the trace: tokens_source "usage" and a "trace" object naming azure,
 * mooncake or burstgpt). */
int import_lengths_are_trace(const struct tlog_exchange *x);

/* The header record's source object: {"kind":"convert","format":F,"input":NAME} (caller
 * frees). With several inputs, format/input are the first's and "inputs" lists all. */
cJSON *import_source_json(const char *const *names, const enum import_format *formats, size_t n);

/* ---- exports --------------------------------------------------------------------------- */

enum export_format { EXPORT_NONE = 0, EXPORT_CSV, EXPORT_JSONL, EXPORT_BATCH, EXPORT_HAR };
/* "csv", "jsonl", "batch", "har" → the enum; EXPORT_NONE otherwise. */
enum export_format export_format_parse(const char *s);

/* Metrics of one exchange as analyze/README.md defines them (µs; -1 when undefined). */
struct export_metrics {
    int64_t ttft_us;         /* first content event offset */
    int64_t tpot_us;         /* (last − first content) / (n_out − 1), n_out >= 2 */
    int64_t e2e_us;          /* response.end_us */
    int64_t n_in, n_out;     /* tokens_in / tokens_out */
};
void export_metrics_of(const struct tlog_exchange *x, struct export_metrics *m);

/* The CSV header line (with "\n"). Columns: id,replay_of,start_us,sched_us,status,n_in,n_out,
 * tokens_source,ttfb_us,ttft_us,tpot_us,e2e_us,error_kind,error_message (RFC 4180 quoting;
 * empty cell = unknown). */
const char *export_csv_header(void);
/* Appends one CSV row (with "\n"). */
int export_csv_row(const struct tlog_exchange *x, struct buf *out);
/* Appends one OpenAI Batch input line {"custom_id","method","url","body"} (with "\n"). */
int export_batch_line(const struct tlog_exchange *x, struct buf *out);
/* HAR 1.2: export_har_begin appends the document head, export_har_entry one entry (first=1 for
 * the first, which gets no leading comma), export_har_end the tail. */
/* Plain JSONL export: the header and trailer records as JSON lines (with "\n"), so the output
 * is itself a readable (uncompressed) trace log. */
int export_header_line(const struct tlog_header *h, struct buf *out);
/* One exchange as a plain JSON line (no newline); converted records keep their "trace" object
 * when read with keep_extra. */
int export_jsonl_line(const struct tlog_exchange *x, const struct tlog_write_opts *o,
                      struct buf *out);
int export_trailer_line(const struct tlog_trailer *t, struct buf *out);
int export_har_begin(struct buf *out, const char *creator_version);
int export_har_entry(const struct tlog_exchange *x, int first, struct buf *out);
int export_har_end(struct buf *out);

#endif
