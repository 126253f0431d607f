/* dialect.h — the LLM API dialects: what a request asks for and what each streamed event means.
 *
 * From a request path (+ body) it tells the dialect; from each stream event (an SSE event's
 * data, an NDJSON line, or a whole non-streaming JSON body) it tells whether it is a content
 * event (analyze/README.md: carries at least one output token — text, delta content, reasoning content
 * or tool-call arguments), the text delta, tokens carried when the server says, finish reason,
 * usage, terminator and server-side errors. Dialects: OpenAI chat completions and completions
 * (incl. stream_options.include_usage, role-only first chunks, llama.cpp's usage in the final
 * choice chunk, reasoning_content, tool-call deltas), OpenAI Responses (/v1/responses: typed
 * `response.*` events and the whole response object), Anthropic Messages, Ollama /api/generate
 * and /api/chat, TGI /generate_stream. A response whose API is none of these is "unsupported"
 * (DIALECT_ERR_UNSUPPORTED), never "malformed": only a known API's rules can be broken.
 *
 * The event decoder is the replay client's hot path: it recognises these fields with an
 * allocation-free JSON scanner rather than building a cJSON tree per chunk. The request-side
 * helpers (rare path) work on cJSON trees. */
#ifndef LLMTRACE_DIALECT_H
#define LLMTRACE_DIALECT_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "buf.h"

enum dialect_id {
    DIALECT_UNKNOWN = 0,
    DIALECT_OPENAI_CHAT,        /* /v1/chat/completions; also Databricks /serving-endpoints/…/invocations */
    DIALECT_OPENAI_COMPLETIONS, /* /v1/completions */
    DIALECT_ANTHROPIC,          /* /v1/messages */
    DIALECT_OLLAMA_GENERATE,    /* /api/generate */
    DIALECT_OLLAMA_CHAT,        /* /api/chat */
    DIALECT_TGI,                /* /generate_stream, /generate */
    DIALECT_OPENAI_RESPONSES,   /* /v1/responses (OpenAI Responses API) */
    DIALECT_COUNT
};

enum dialect_framing {
    FRAMING_UNKNOWN = 0,
    FRAMING_SSE,                /* text/event-stream */
    FRAMING_NDJSON,             /* application/x-ndjson (Ollama streams) */
    FRAMING_JSON,               /* one JSON body: one event at end of body */
};

/* "openai-chat", "openai-completions", "anthropic", "ollama-generate", "ollama-chat", "tgi",
 * "openai-responses", "unknown". */
const char *dialect_name(enum dialect_id d);
/* Accepts the names above plus the families "openai" (→ chat), "ollama" (→ chat); returns
 * DIALECT_UNKNOWN for anything else. */
enum dialect_id dialect_parse_name(const char *s);
/* From the request path (query string ignored). DIALECT_UNKNOWN when the path says nothing. */
enum dialect_id dialect_from_path(const char *path, size_t len);
/* Path first, then the body's shape ("messages" → openai-chat, "prompt" → openai-completions,
 * "inputs" → tgi, "input" → openai-responses unless the path names embeddings or moderations).
 * body may be NULL. */
enum dialect_id dialect_from_request(const char *path, size_t len, const cJSON *body);
/* Framing from the response Content-Type (may be NULL: then from the dialect and stream flag). */
enum dialect_framing dialect_framing_for(enum dialect_id d, int stream, const char *content_type);

/* What one event says. Slices point into the caller's scratch buffer or the event bytes and are
 * valid until the next decode with the same scratch. */
struct dialect_event {
    int is_content;
    int32_t tokens;             /* output tokens carried when the server says (TGI: 1); else 0 */
    const char *text;           /* unescaped output text delta (content, reasoning, tool args) */
    size_t text_len;
    int is_role_only;           /* OpenAI chat first chunk with only delta.role */
    int is_done;                /* terminator: [DONE], message_stop, "done":true, TGI final */
    int has_usage;
    int64_t prompt_tokens;      /* -1 when not given */
    int64_t completion_tokens;
    int64_t cached_tokens;
    const char *finish_reason;  /* NULL when absent/null */
    size_t finish_reason_len;
    int64_t reasoning_tokens;   /* of completion_tokens, when the server says (Responses) */
    int is_error;               /* server-side error object or `event: error` */
    const char *error_message;
    size_t error_message_len;
    enum dialect_id dialect;    /* the dialect that decoded it: d, or what an unknown d's event
                                 * showed itself to be (DIALECT_UNKNOWN: nothing to tell) */
};

#define DIALECT_ERR_MALFORMED (-1) /* not JSON / not an object / wrong types */
#define DIALECT_ERR_NOMEM (-2)
#define DIALECT_ERR_UNSUPPORTED (-3) /* d is DIALECT_UNKNOWN and the event is no known API's */

/* Decodes one event. event_type: the SSE `event:` field (NULL/"message" when absent). With
 * d = DIALECT_UNKNOWN the event's own shape picks the dialect (out->dialect says which) when it
 * is one of a known API (choices[], Anthropic or Responses "type"s, TGI's token, Ollama's done
 * and string response, an error object); anything else is DIALECT_ERR_UNSUPPORTED.
 * Returns 0, DIALECT_ERR_MALFORMED or DIALECT_ERR_UNSUPPORTED with a one-line reason in *why
 * (static string), or DIALECT_ERR_NOMEM. */
int dialect_decode_event(enum dialect_id d, const char *event_type, size_t type_len,
                         const char *data, size_t len, struct dialect_event *out,
                         struct buf *scratch, const char **why);

/* The shape of the last plain OpenAI content chunk of one stream: its bytes before and after
 * the text string. Servers repeat id, object, created, model and the rest on every chunk, so
 * a chunk that matches the shape byte for byte is decoded by checking only its new string —
 * with the same result as the full decode. Zero-initialise; one per stream. */
struct dialect_shape {
    char *pre, *suf;
    size_t pre_len, suf_len;
    int valid;
};
void dialect_shape_free(struct dialect_shape *s);
/* dialect_decode_event with a stream's shape (NULL: none), which it reads and updates. */
int dialect_decode_event_shaped(enum dialect_id d, const char *event_type, size_t type_len,
                                const char *data, size_t len, struct dialect_event *out,
                                struct buf *scratch, struct dialect_shape *shape,
                                const char **why);

/* dialect_decode_event on the reference path only: the OpenAI chunk fast path and shapes are
 * skipped, every event is parsed onto a token tape first. Same answers, slower: for the tests
 * and fuzzers that hold the fast path to it. */
int dialect_decode_event_reference(enum dialect_id d, const char *event_type, size_t type_len,
                                   const char *data, size_t len, struct dialect_event *out,
                                   struct buf *scratch, const char **why);

/* The human message of an error response body (JSON error object of any dialect, or the
 * body's first line when not JSON), copied into out (always NUL-terminated). */
void dialect_error_message(const char *body, size_t len, char *out, size_t outlen);

/* ---- request side (cJSON trees; rare path) --------------------------------------------- */

struct dialect_request_info {
    const char *model;          /* points into body; NULL when absent */
    int stream;                 /* 1/0; Ollama's default is streaming; -1 unknown */
    int64_t max_tokens;         /* -1 absent */
    int ignore_eos;
    int include_usage;
    size_t prompt_bytes;        /* bytes of prompt/message text (for token estimates) */
    size_t prompt_words;        /* whitespace-separated words of the same text */
};
/* Fills ri from a request body. Returns 0, or -1 when body is not an object. */
int dialect_request_info(enum dialect_id d, const cJSON *body, struct dialect_request_info *ri);

/* Rewriters for replay. Each edits body in place and returns 0, or -1 (no memory / not an
 * object). max tokens: OpenAI max_tokens (and max_completion_tokens when present), Responses
 * max_output_tokens, Anthropic max_tokens, Ollama options.num_predict, TGI
 * parameters.max_new_tokens. ignore_eos exists only in OpenAI chat/completions (a vLLM/SGLang
 * extension) and include_usage only where usage is optional (OpenAI chat/completions streams;
 * Responses always reports it): for the other dialects these two leave the body untouched. */
int dialect_set_model(enum dialect_id d, cJSON *body, const char *model);
int dialect_set_max_tokens(enum dialect_id d, cJSON *body, int64_t n);
int dialect_set_ignore_eos(enum dialect_id d, cJSON *body, int on);
int dialect_set_stream(enum dialect_id d, cJSON *body, int on);
int dialect_set_include_usage(enum dialect_id d, cJSON *body);

#endif
