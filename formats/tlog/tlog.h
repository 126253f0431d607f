/* tlog.h — the trace log: llmtrace's one record format (gzip-compressed JSON Lines).
 *
 * Captured traffic, converted public traces, replay results and the simulator's ground truth
 * are all written and read through this module, so any log can be analyzed, replayed or
 * compared. The file is a series of complete gzip members (RFC 1952), each holding whole
 * lines: `zcat | jq` reads it, a crash loses at most the member being filled (closed at least
 * once a second), and a reader recovers every complete member before a torn tail.
 * Line 1 is a header record, then one exchange record per request/response, then a trailer
 * at clean close. formats/SCHEMA.md is the normative description of every key.
 *
 * Ownership: every char* and pointer in the structs below is owned by the struct and freed by
 * the matching *_free(); strings are NUL-terminated UTF-8. */
#ifndef LLMTRACE_TLOG_H
#define LLMTRACE_TLOG_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "buf.h"

#define TLOG_SCHEMA_VERSION 1

/* Error codes returned by tlog functions (0 = success). */
#define TLOG_ERR_IO      (-1) /* open/read/write failed; detail in the handle's error text */
#define TLOG_ERR_NOMEM   (-2)
#define TLOG_ERR_FORMAT  (-3) /* a line is not valid JSON or a core key has the wrong type */
#define TLOG_ERR_GZIP    (-4) /* corrupt or truncated gzip member */
#define TLOG_ERR_LIMIT   (-5) /* a value or line over a cap (serializer) */
#define TLOG_ERR_USAGE   (-6) /* API misuse (e.g. exchange before header) */

/* ---- the record model ------------------------------------------------------------------ */

struct tlog_hdr {            /* one HTTP header, in wire order */
    char *name;
    char *value;             /* "<redacted>" for credentials unless the writer opts out */
};

struct tlog_event {          /* one streamed event (SSE event / NDJSON line / whole body) */
    int64_t offset_us;       /* from the exchange's start_us */
    int32_t tokens;          /* output tokens it carries; 0 when the stream does not say */
    uint8_t is_content;      /* 1 when it carries output (analyze/README.md "content event") */
};

/* Where tokens_in/tokens_out come from (formats/SCHEMA.md fixes these three values). */
enum tlog_tokens_source {
    TLOG_TOKENS_NONE = 0,
    TLOG_TOKENS_USAGE,       /* usage.completion_tokens */
    TLOG_TOKENS_EVENTS,      /* counted from content events (a guess when events carry
                                several tokens and say nothing) */
    TLOG_TOKENS_MAX_TOKENS,  /* the request pinned max_tokens with ignore_eos and the
                                response ended with finish_reason "length" */
};

/* "usage" / "events" / "max_tokens" → the source; anything else (incl. "none") →
 * TLOG_TOKENS_NONE. */
enum tlog_tokens_source tlog_tokens_source_parse(const char *s);
/* The string form of a source ("none" for TLOG_TOKENS_NONE). */
const char *tlog_tokens_source_name(enum tlog_tokens_source s);

/* Error kinds. The string forms ("connect", "reset", …) are the `error.kind` values. */
enum tlog_error_kind {
    TLOG_ERROR_NONE = 0,
    TLOG_ERROR_CONNECT,        /* connection refused / unreachable */
    TLOG_ERROR_CONNECT_TIMEOUT,
    TLOG_ERROR_TLS,
    TLOG_ERROR_HTTP_STATUS,    /* status >= 400; message from the body's error object */
    TLOG_ERROR_RESET,          /* connection reset or closed mid-response */
    TLOG_ERROR_TRUNCATED,      /* stream ended without its terminator ([DONE], message_stop…) */
    TLOG_ERROR_MALFORMED,      /* undecodable event, bad framing, invalid JSON */
    TLOG_ERROR_STREAM_ERROR,   /* the server sent an error object/event inside the stream */
    TLOG_ERROR_TIMEOUT,        /* total time limit */
    TLOG_ERROR_IDLE_TIMEOUT,   /* no event for too long */
    TLOG_ERROR_CANCELLED,      /* stopped by the user (Ctrl-C) */
    TLOG_ERROR_INCOMPLETE,     /* capture: gap in the TCP stream or capture ended mid-exchange */
    TLOG_ERROR_OTHER,
    TLOG_ERROR_UNSUPPORTED,    /* the response's API is none the dialect layer decodes */
    TLOG_ERROR_KIND_COUNT
};
const char *tlog_error_kind_name(enum tlog_error_kind k);
/* Unknown strings map to TLOG_ERROR_OTHER (readers ignore what they do not know). */
enum tlog_error_kind tlog_error_kind_parse(const char *s);

struct tlog_request {
    char *method;            /* "POST" */
    char *path;              /* request target as sent: "/v1/chat/completions?x=1" */
    char *host;              /* Host header or target host; may be NULL */
    struct tlog_hdr *headers;
    size_t n_headers;
    cJSON *body;             /* JSON value of the body; a JSON string when the body is not
                                JSON; NULL when absent or skipped */
    int64_t body_bytes;      /* bytes on the wire (decoded); -1 unknown */
    char *body_sha256;       /* hex, when bodies were hashed (--hash-prompts); else NULL */
};

struct tlog_response {
    int status;              /* 0 = no response status seen */
    struct tlog_hdr *headers;
    size_t n_headers;
    int64_t ttfb_us;         /* first response byte, offset from start_us; -1 unknown */
    int64_t end_us;          /* last response byte, offset from start_us; -1 unknown */
    struct tlog_event *events;
    size_t n_events;
    size_t cap_events;
    char *text;              /* concatenated output text; NULL when none or skipped */
    size_t text_len;
    char *finish_reason;     /* "stop", "length", "end_turn"…; NULL unknown */
    int64_t body_bytes;      /* -1 unknown */
    int64_t dropped_text_bytes; /* output text past TLOG_MAX_TEXT, counted, not kept */
    int64_t dropped_events;  /* events past TLOG_MAX_EVENTS, counted, not kept */
    int64_t *write_us;       /* recording proxy: per event, when its last byte was written to
                                the client (µs from start_us; -1 never written); parallel to
                                events, NULL when not a proxy record (response.write_us) */
    size_t n_write_us;
};

/* Caps on what one exchange keeps from a (possibly hostile or endless) stream: 16 MiB of
 * output text and 1 Mi events, so a capped record still fits the reader's default 64 MiB line.
 * Beyond them data is counted, not stored. */
#define TLOG_MAX_TEXT   ((size_t)16 << 20)
#define TLOG_MAX_EVENTS ((size_t)1 << 20)

struct tlog_usage {
    int present;             /* 0: the response reported no usage → JSON null */
    int64_t prompt_tokens;   /* -1 when the usage object lacks it */
    int64_t completion_tokens;
    int64_t cached_tokens;   /* -1 unknown */
};

/* One transport attempt of a request that ended before any response byte (the connection was
 * closed or reset) and was re-sent on a new connection (replay.attempts). */
struct tlog_attempt {
    int64_t start_us;        /* epoch µs the attempt's request was handed to its connection */
    int64_t end_us;          /* µs from start_us when it was seen to have failed; -1 unknown */
    char *conn;              /* connection id; may be NULL */
    int conn_new;            /* 1 new connection, 0 reused, -1 unknown */
    enum tlog_error_kind error_kind;
    char *error_message;
};

struct tlog_replay {
    int present;             /* 1 on records written by llmtrace-replay */
    char *of;                /* id of the original record */
    int64_t sched_us;        /* epoch µs when the schedule wanted it sent */
    int has_stage;
    double stage;            /* concurrency level (closed loop) or rate req/s (rate stages) */
    char *mode;              /* "original" | "rate" | "concurrency" */
    char *target;            /* base URL, credentials removed */
    int warmup;              /* 1: warm-up request, excluded from analysis by default */
    int64_t wait_us;         /* time spent waiting for --max-inflight; 0 when none */
    int worker;              /* worker thread index */
    struct tlog_attempt *attempts; /* earlier attempts, oldest first (replay.attempts) */
    size_t n_attempts;
};

/* The conversation a request belongs to (session object; absent when unknown). */
struct tlog_session {
    int present;
    char *id;                /* session id, unique within the log */
    int64_t turn;            /* 0-based turn index */
    int64_t think_us;        /* recorded previous response end → this request's start; -1 */
};

struct tlog_exchange {
    char *id;                /* unique within its log */
    int64_t start_us;        /* epoch µs of t0 (analyze/README.md) */
    char *conn;              /* connection id ("10.0.0.1:51234>10.0.0.2:8000", "w0c12"); may be NULL */
    int conn_new;            /* 1: the request went out on a connection opened for it; 0: a
                                reused one; -1 unknown */
    int64_t connect_us;      /* connect (+ TLS handshake) time of that new connection, µs,
                                spent before start_us; -1 unknown or reused */
    char *resent_as;         /* capture: this exchange is a transport attempt (no response
                                byte) that the client re-sent as exchange resent_as; NULL */
    char *dialect;           /* "openai-chat", "anthropic", …; NULL unknown */
    char *model;             /* from the request body; NULL unknown */
    int stream;              /* 1 streaming, 0 not, -1 unknown */
    struct tlog_request req;
    struct tlog_response resp;
    struct tlog_usage usage;
    int64_t tokens_in;       /* -1 unknown → null */
    int64_t tokens_out;      /* -1 unknown → null */
    enum tlog_tokens_source tokens_source;
    enum tlog_error_kind error_kind;   /* TLOG_ERROR_NONE → "error": null */
    char *error_message;
    struct tlog_replay replay;
    struct tlog_session session;
    cJSON *extra;            /* unknown keys kept by the reader when asked; else NULL */
};

/* Zeroes x and sets every "unknown" field to its sentinel (-1, stream -1). */
void tlog_exchange_init(struct tlog_exchange *x);
/* Frees everything x owns and re-initialises it. tlog_exchange_free(NULL) is a no-op. */
void tlog_exchange_free(struct tlog_exchange *x);
/* Appends one event, growing the array. 0 or TLOG_ERR_NOMEM. Past TLOG_MAX_EVENTS the event
 * is only counted in resp.dropped_events (still 0). */
int tlog_exchange_add_event(struct tlog_exchange *x, int64_t offset_us, int32_t tokens,
                            int is_content);
/* Sets resp.write_us to a copy of the n values (n is normally resp.n_events). 0 or
 * TLOG_ERR_NOMEM. */
int tlog_exchange_set_write_times(struct tlog_exchange *x, const int64_t *w, size_t n);
/* Appends text to resp.text. What would pass TLOG_MAX_TEXT is counted in
 * resp.dropped_text_bytes instead (still 0). */
int tlog_exchange_append_text(struct tlog_exchange *x, const char *s, size_t n);
/* Adds a header (copies both strings) to the request (which = 0) or response (which = 1). */
int tlog_exchange_add_header(struct tlog_exchange *x, int which, const char *name, size_t nlen,
                             const char *value, size_t vlen);
/* Appends a copy of a (its strings are copied) to x->replay.attempts. 0 or TLOG_ERR_NOMEM. */
int tlog_exchange_add_attempt(struct tlog_exchange *x, const struct tlog_attempt *a);
/* Sets error kind and a copy of message (may be NULL). Replaces an earlier error. */
int tlog_exchange_set_error(struct tlog_exchange *x, enum tlog_error_kind k, const char *msg);
/* Fills tokens_in/tokens_out/tokens_source from usage and events as analyze/README.md defines:
 * usage.completion_tokens when present, else the number of content events (sum of their
 * tokens when every content event carries a count), else unknown. */
void tlog_exchange_derive_tokens(struct tlog_exchange *x);
/* Called on a completed exchange whose request pinned its output length (max_tokens with
 * ignore_eos), with that max_tokens (< 1: nothing pinned, no-op). When the response reported
 * no usage, carries no error, ended with finish_reason "length" and counted no more content
 * events than max_tokens, exactly max_tokens were generated: tokens_out = max_tokens,
 * tokens_source = TLOG_TOKENS_MAX_TOKENS. Returns 1 when it applied, else 0 (x unchanged).
 * Call after the usage, events, finish reason and error are final (llm_stream_finish and any
 * transport error), before the record is written. */
int tlog_exchange_apply_pinned(struct tlog_exchange *x, int64_t max_tokens);

/* Header record. */
struct tlog_header {
    int schema;              /* TLOG_SCHEMA_VERSION when writing */
    char *tool;              /* "llmtrace-replay" */
    char *version;
    int64_t start_us;
    cJSON *command;          /* array of argv strings, secrets removed; may be NULL */
    cJSON *source;           /* object: {"kind":"capture","interface":"lo","filter":…} etc. */
    cJSON *options;          /* object of tool options; may be NULL */
    cJSON *clock;            /* {"synced","est_error_us","max_error_us","source"}; the writer
                                fills it from the host (clock_sync_read) when NULL */
};
void tlog_header_free(struct tlog_header *h);

/* Trailer record (clean close). */
struct tlog_trailer {
    int64_t end_us;
    int64_t records;         /* exchange records written */
    int64_t errors;          /* of which with error != null */
    cJSON *stats;            /* tool-specific counters; may be NULL */
};

/* ---- JSON conversion ------------------------------------------------------------------- */

/* Serialization options shared by writer and to_json. */
struct tlog_write_opts {
    int no_redact;           /* 1: keep credential header values (explicit opt-out) */
    int no_bodies;           /* 1: drop request.body and response.text (lengths kept) */
};

/* Appends x as one JSON line (no trailing newline) to out. Thread-safe: no shared state.
 * Writing is done without building a cJSON tree except for request.body. */
int tlog_exchange_to_line(const struct tlog_exchange *x, const struct tlog_write_opts *o,
                          struct buf *out);
/* Builds a cJSON object for x (caller frees). NULL on allocation failure. */
cJSON *tlog_exchange_to_json(const struct tlog_exchange *x, const struct tlog_write_opts *o);
/* Fields of the wrong type that were dropped instead of the record (formats/SCHEMA.md
 * "Versioning": the keys analysis does not need). */
struct tlog_skips {
    int64_t n;               /* fields dropped */
    char first[256];         /* the first one: "bad \"request.host\": expected string" */
};

/* Fills x (initialised by the callee) from a parsed exchange object. On a key the analysis
 * needs with the wrong type returns TLOG_ERR_FORMAT and writes "bad \"key\": expected …" into
 * err; a wrong type in another key (SCHEMA.md "Versioning") leaves that field unset and is
 * not an error. Headers may be [[name, value], …] or an object {name: value}. Takes no
 * ownership of obj. */
int tlog_exchange_from_json(const cJSON *obj, struct tlog_exchange *x, char *err, size_t errlen);
/* The same, counting the fields dropped in *sk (may be NULL). */
int tlog_exchange_from_json_ex(const cJSON *obj, struct tlog_exchange *x, char *err,
                               size_t errlen, struct tlog_skips *sk);

/* Fill m / st (initialised by the callee) from a parsed metrics / stage record. A key with
 * the wrong type or out of range (t_us, name, labels, value, verdict, stage, estimates…)
 * returns TLOG_ERR_FORMAT with "bad \"key\": expected …" in err; unknown keys are ignored.
 * Take no ownership of obj. tlog_metrics_free / tlog_stage_free release and re-initialise.
 * (The structs are defined with the reader below.) */
struct tlog_metrics;
struct tlog_stage;
int tlog_metrics_from_json(const cJSON *obj, struct tlog_metrics *m, char *err, size_t errlen);
int tlog_stage_from_json(const cJSON *obj, struct tlog_stage *st, char *err, size_t errlen);
void tlog_metrics_init(struct tlog_metrics *m);
void tlog_metrics_free(struct tlog_metrics *m);
void tlog_stage_init(struct tlog_stage *st);
void tlog_stage_free(struct tlog_stage *st);
/* "ttft" / "tpot" / "e2e" for 0..2, "goodput" for 3. */
const char *tlog_stage_metric_name(int k);

/* Copies into x->extra (created on demand) every top-level key of obj that schema 1 does not
 * define, so a rewrite keeps fields added by newer writers. 0 or TLOG_ERR_NOMEM. */
int tlog_exchange_copy_extra(const cJSON *obj, struct tlog_exchange *x);

/* True when a header name is a credential redacted by default (case-insensitive):
 * Authorization, Proxy-Authorization, api-key, x-api-key, Cookie, Set-Cookie. */
int tlog_header_is_secret(const char *name, size_t len);

/* ---- writer ---------------------------------------------------------------------------- */

struct tlog_writer_opts {
    struct tlog_write_opts w;
    int64_t member_interval_us; /* close a gzip member at least this often; default 1 s */
    int64_t member_records;     /* …or after this many records; default 1000 */
    int level;                  /* zlib level; default 1 (fast) */
};

struct tlog_writer;

/* Opens path for writing ("-" = stdout), truncating it. Returns NULL with a message in err. */
struct tlog_writer *tlog_writer_open(const char *path, const struct tlog_writer_opts *o,
                                     char *err, size_t errlen);
/* The header must be written first and once. */
int tlog_writer_header(struct tlog_writer *w, const struct tlog_header *h);
int tlog_writer_exchange(struct tlog_writer *w, const struct tlog_exchange *x);
/* Writes one already-serialized line (from tlog_exchange_to_line; no newline). Counts it as
 * an exchange record when is_exchange, with is_error saying whether its error was set. */
int tlog_writer_line(struct tlog_writer *w, const char *line, size_t len, int is_exchange,
                     int is_error);
/* Closes the current gzip member if it is older than member_interval_us (call from a timer
 * at least every second; cheap when there is nothing to do). now_us: any monotonic µs. */
int tlog_writer_tick(struct tlog_writer *w, int64_t now_us);
/* Closes the current member and hands it to the kernel now. */
int tlog_writer_flush(struct tlog_writer *w);
/* Writes the trailer (records/errors counted by the writer; stats may be NULL, not taken),
 * closes the file and frees w. Returns 0 or the first error seen during the writer's life. */
int tlog_writer_close(struct tlog_writer *w, const cJSON *stats);
/* Frees w without a trailer (the log then reads as "not closed cleanly"). */
void tlog_writer_abort(struct tlog_writer *w);
const char *tlog_writer_error(const struct tlog_writer *w);
int64_t tlog_writer_records(const struct tlog_writer *w);
uint64_t tlog_writer_bytes(const struct tlog_writer *w); /* compressed bytes written */

/* ---- reader ---------------------------------------------------------------------------- */

struct tlog_reader_opts {
    int skip_bodies;         /* 1: do not parse request.body / response.text (cheap skip) */
    int keep_extra;          /* 1: keep unknown keys in tlog_exchange.extra */
    int aux_records;         /* 1: return metrics and stage records parsed (TLOG_REC_METRICS,
                                TLOG_REC_STAGE); 0: they read as TLOG_REC_OTHER */
    size_t max_line;         /* default 64 MiB */
};

enum tlog_record_type { TLOG_REC_HEADER = 1, TLOG_REC_EXCHANGE, TLOG_REC_TRAILER, TLOG_REC_OTHER,
                        TLOG_REC_METRICS, TLOG_REC_STAGE };

/* A metrics record (SCHEMA.md "Metrics record", written by replay --scrape): one Prometheus
 * sample, or one failed scrape (name NULL, error_message set). */
struct tlog_metrics {
    int64_t t_us;            /* epoch µs the scrape's response arrived */
    char *name;              /* "vllm:num_requests_running"; NULL for a failed scrape */
    char *labels;            /* the labels as "k=v,k2=v2" in the record's order; "" none */
    double value;            /* NAN when null (NaN/±Inf in the exposition) */
    char *kind;              /* "gauge", "counter", …; NULL unknown */
    char *url;               /* failed scrape: the URL; else NULL */
    char *error_message;     /* failed scrape: error.message (or ""); else NULL */
};

/* The SLO metrics a stage record judges, in this order ("ttft_ms", "tpot_ms", "e2e_ms"). */
#define TLOG_STAGE_METRICS 3
/* A stage record (SCHEMA.md "Stage record", written by replay --search after each stage).
 * Numbers the record leaves null or out are NAN (counts -1). */
struct tlog_stage {
    int64_t t_us;
    char *mode;              /* "concurrency" | "rate"; NULL unknown */
    double stage;            /* = replay.stage of its exchanges */
    enum { TLOG_VERDICT_UNKNOWN = 0, TLOG_VERDICT_MET, TLOG_VERDICT_FAILED,
           TLOG_VERDICT_UNDECIDED } verdict;
    int64_t requests, wall_us, min_requests;
    double quantile, alpha;
    double slo_ms[TLOG_STAGE_METRICS];       /* NAN: no SLO on that metric */
    struct tlog_stage_est {
        int present;
        int64_t n;
        double point, lo, hi;                /* NAN point: none; ±INFINITY: unbounded side */
    } est[TLOG_STAGE_METRICS];
    double goodput_share, goodput_lo, goodput_hi, goodput_min;
    int deciding;            /* 0..2 the metric above, 3 "goodput", -1 none */
};

struct tlog_record {
    enum tlog_record_type type;
    struct tlog_header header;     /* valid when type == TLOG_REC_HEADER */
    struct tlog_exchange x;        /* valid when type == TLOG_REC_EXCHANGE */
    struct tlog_trailer trailer;   /* valid when type == TLOG_REC_TRAILER */
    struct tlog_metrics metrics;   /* valid when type == TLOG_REC_METRICS */
    struct tlog_stage stage;       /* valid when type == TLOG_REC_STAGE */
    int64_t line_no;               /* 1-based line number in the uncompressed stream */
};
void tlog_record_init(struct tlog_record *r);
void tlog_record_free(struct tlog_record *r);

struct tlog_reader;

/* Opens a log ("-" = stdin). Accepts gzip (one or many members) and plain JSONL. */
struct tlog_reader *tlog_reader_open(const char *path, const struct tlog_reader_opts *o,
                                     char *err, size_t errlen);
/* Same as tlog_reader_open over a memory image of a log (data must outlive the reader;
 * not copied). For fuzzing and tests. */
struct tlog_reader *tlog_reader_open_mem(const void *data, size_t len,
                                         const struct tlog_reader_opts *o, char *err,
                                         size_t errlen);
/* Reads the next record into r (freed and reinitialised first).
 * Returns 1 on a record, 0 at the end (clean or recovered: see tlog_reader_status), or a
 * negative TLOG_ERR_* for a bad record, with tlog_reader_error() naming line and key; the
 * caller may continue reading after TLOG_ERR_FORMAT (the bad line is skipped; a line longer
 * than max_line is such a bad line too, discarded through its newline). */
int tlog_read(struct tlog_reader *r, struct tlog_record *rec);

struct tlog_reader_status {
    int saw_header;
    int saw_trailer;         /* 0 → "not closed cleanly" */
    int64_t records;         /* exchange records returned */
    int64_t bad_lines;       /* lines skipped as TLOG_ERR_FORMAT */
    int truncated;           /* 1 when reading stopped at a torn or corrupt tail */
    uint64_t stop_offset;    /* compressed byte offset where the torn/corrupt data begins */
    uint64_t skipped_bytes;  /* compressed bytes skipped (corrupt middles + torn tail) */
    int schema;              /* header's schema version; 0 if no header */
    int64_t skipped_fields;  /* fields of the wrong type dropped from records that were kept
                                (SCHEMA.md "Versioning"); the first is named by describe */
};
void tlog_reader_get_status(const struct tlog_reader *r, struct tlog_reader_status *st);
/* One line for the user, e.g. "not closed cleanly: 1042 records recovered, torn tail at byte
 * 88231 (311 bytes skipped)". Empty string when the log was closed cleanly and whole. */
void tlog_reader_describe(const struct tlog_reader *r, char *out, size_t outlen);
/* The bytes of request.body (a non-null value) of the exchange the last tlog_read returned,
 * exactly as its line holds them, so a caller can keep the value as written (replay sends
 * bodies byte for byte). NULL (*len 0) when there is none, when bodies are skipped, and for
 * the rare line the reader has to parse in full (a duplicate key, a key of an unexpected
 * type…): rec->x.req.body is the value then. Valid until the next tlog_read or close. */
const char *tlog_reader_body(const struct tlog_reader *r, size_t *len);
const char *tlog_reader_error(const struct tlog_reader *r);
const char *tlog_reader_path(const struct tlog_reader *r);
void tlog_reader_close(struct tlog_reader *r);

#endif
