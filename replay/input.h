/* input.h — what llmtrace-replay sends: the requests of a trace log or of an OpenAI Batch API
 * input file, selected (--skip/--limit/--from/--to/--filter-path) and rewritten (--model,
 * --max-tokens, --ignore-eos, --stream, --include-usage) once, while the input is read.
 *
 * A body that no rewrite changes is sent as the input holds it, byte for byte. The input is
 * read in file order; while it is in start order, a bounded selection (--limit, --to) stops
 * reading once complete. A record that starts before the one read before it means the file
 * is not in start order: it is then read in full and sorted, as an unbounded selection is.
 *
 * Batch API input (https://platform.openai.com/docs/guides/batch): JSON Lines of
 * {"custom_id","method","url","body"}, plus llmtrace's optional "timestamp_ms". */
#ifndef LLMTRACE_REPLAY_INPUT_H
#define LLMTRACE_REPLAY_INPUT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "dialect.h"

struct replay_req {
    char *of;                  /* original record id (Batch: custom_id) */
    char *method;
    char *path;                /* recorded request target, e.g. "/v1/chat/completions" */
    cJSON *body_json;          /* the body; after rewriting, a cJSON raw item holding exactly
                                  the bytes to send (a string item for non-JSON bodies), which
                                  the record prints verbatim; NULL when absent */
    char *body;                /* bytes to send: after rewriting, body_json's valuestring
                                  (owned by body_json); NULL when absent */
    size_t body_len;
    int64_t offset_us;         /* recorded start - first selected start; -1 unknown */
    int64_t tokens_out;        /* recorded output tokens; -1 unknown */
    enum dialect_id dialect;
    int stream;                /* after rewriting: 1, 0, or -1 unknown */
    char *model;               /* after rewriting; NULL unknown */
    int64_t pinned_out;        /* the output length the sent body pins (OpenAI max_tokens with
                                  ignore_eos), for tlog_exchange_apply_pinned; -1 none */
    int untimed;               /* Batch line without timestamp_ms */
    char *session;             /* the recorded session.id; NULL: none */
    int64_t turn;              /* its session.turn; -1 unknown */
    int64_t think_us;          /* its session.think_us (recorded think time); -1 unknown */
    int64_t rec_end_us;        /* recorded response.end_us (µs from its start); -1 unknown */
};

enum input_kind { INPUT_TLOG = 0, INPUT_BATCH };

struct input_select {
    int64_t skip;              /* drop the first N selected records */
    int64_t limit;             /* keep at most N (0: all) */
    int64_t from_us, to_us;    /* keep recorded offsets in [from, to) (to 0: no end) */
    const char *filter_path;   /* glob (fnmatch) when it has * ? [, else a path prefix */
};

#define REWRITE_MAX_TOKENS_KEEP     (-1)
#define REWRITE_MAX_TOKENS_ORIGINAL (-2)

struct input_rewrite {
    const char *model;         /* NULL: keep */
    int64_t max_tokens;        /* >= 1, or REWRITE_MAX_TOKENS_KEEP / _ORIGINAL */
    int ignore_eos;
    int stream_on;             /* 1: force "stream": true; 0: keep */
    int include_usage;
    enum dialect_id dialect;   /* DIALECT_UNKNOWN: auto (path, then body shape) */
};

struct replay_input {
    enum input_kind kind;
    struct replay_req *reqs;
    size_t n, cap;
    int64_t read;              /* records/lines read */
    int64_t skipped_no_body;   /* POST records without a body (log written with --no-bodies) */
    int64_t skipped_attempts;  /* captured transport attempts (resent_as): not requests */
    int64_t bad_records;       /* unreadable records skipped */
    int64_t no_recorded_tokens;/* --max-tokens original without a recorded count */
    int truncated;             /* the input log had a torn tail (recovered) */
    int stopped_early;         /* reading stopped once the selection was complete */
    int64_t unsorted_at;       /* record (line) number of the first request that starts before
                                  the one read before it, found while selecting as reading;
                                  the input was then read in full and sorted. 0: none seen */
    int64_t untimed;           /* Batch lines without timestamp_ms (selected ones) */
    /* Per dialect: requests whose output length --max-tokens original / --ignore-eos asked to
     * pin but whose API has no ignore_eos (Anthropic, Ollama, TGI, OpenAI Responses): only a
     * cap was set. */
    int64_t unpinned[DIALECT_COUNT];
};

/* 1 when dialect d has no way to ignore the end-of-sequence token (so a max-tokens value is
 * only a cap, never a forced length): Anthropic, Ollama, TGI and OpenAI Responses. */
int input_dialect_cannot_pin(enum dialect_id d);

#define INPUT_STOPPED 1

/* Loads, rewrites and selects the requests of path ("-" = stdin, spooled to a temporary file),
 * a trace log or a Batch file (sniffed from the first line), in recorded start order. stop
 * (may be NULL) is polled between records: when it becomes non-zero, loading ends at once.
 * Returns 0, INPUT_STOPPED (in is empty), or -1 with a one-line reason in err (naming the
 * file and record). in is initialised by the callee; free with input_free. */
int input_load(const char *path, const struct input_select *sel, const struct input_rewrite *rw,
               const atomic_int *stop, struct replay_input *in, char *err, size_t errlen);
/* Rewrites one request's body_json, serializes it into body and turns body_json into a raw
 * item of the same bytes (so it cannot be rewritten twice); sets dialect, stream, model and
 * pinned_out. 0 or -1 (out of memory). Exposed for tests. */
int input_rewrite_req(struct replay_req *r, const struct input_rewrite *rw);
void input_free(struct replay_input *in);
/* Parses one Batch API line into r (initialised by the callee). 0, or -1 with err set. */
int input_parse_batch_line(const char *line, size_t len, struct replay_req *r, int64_t *ts_ms,
                           char *err, size_t errlen);

#endif
