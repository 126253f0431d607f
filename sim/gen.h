/* gen.h — the bytes llmtrace-sim sends: deterministic seeded output words and each dialect's
 * response framing (OpenAI chat/completions SSE chunks and JSON bodies, Anthropic Messages SSE
 * events, Ollama NDJSON lines, TGI SSE), plus error bodies in each dialect's own shape.
 *
 * Shapes follow the public API references (OpenAI "Chat Completions streaming" and "Legacy
 * completions", Anthropic "Streaming Messages", Ollama docs/api.md, TGI's OpenAPI for
 * /generate_stream). Streamed chunks are written with memcpy of a per-request prefix and
 * snprintf for numbers — no JSON library on the per-token path. Every gen_* call appends
 * exactly one event (or one body) to the buffer and returns 0 or a BUF_ERR_* code.
 *
 * A persona (sim/README.md "Personas") makes the OpenAI chat/completions streams and the error
 * bodies look like one real server's: llama.cpp b4747, vLLM, SGLang, Ollama's and TGI's OpenAI
 * APIs, api.openai.com. The Responses dialect follows the API reference's streaming events. */
#ifndef LLMTRACE_SIM_GEN_H
#define LLMTRACE_SIM_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "dialect.h"

enum gen_persona {
    GEN_PERSONA_SIM = 0,         /* llmtrace-sim's own shapes */
    GEN_PERSONA_LLAMACPP,
    GEN_PERSONA_VLLM,
    GEN_PERSONA_SGLANG,
    GEN_PERSONA_OLLAMA,
    GEN_PERSONA_TGI,
    GEN_PERSONA_OPENAI,
    GEN_PERSONA_COUNT
};

/* "sim", "llama.cpp", "vllm", "sglang", "ollama", "tgi", "openai"; -1 for an unknown name. */
int gen_persona_parse(const char *s);
const char *gen_persona_name(int p);

struct gen_req {
    enum dialect_id d;
    int persona;                 /* enum gen_persona */
    int stream;
    int include_usage;
    int finish_length;           /* 1: stopped by max_tokens ("length"/"max_tokens") */
    int64_t n_in, n_out;
    int64_t n_cached;            /* prompt tokens served by the prefix cache, reported in usage
                                    (OpenAI prompt_tokens_details.cached_tokens, Responses
                                    input_tokens_details, Anthropic cache_read_input_tokens);
                                    -1: no prefix cache, not reported (gen_req_init sets -1) */
    uint64_t seed;               /* text seed */
    int64_t created;             /* Unix seconds */
    char id[48];                 /* "chatcmpl-sim-12", "msg_sim_12", "cmpl-sim-12" */
    char model[256];             /* JSON-escaped model name */
    char prefix[512];            /* private: content-chunk prefix */
    size_t prefix_len;
    char suffix[512];            /* private: content-chunk suffix (after the text) */
    size_t suffix_len;
    int64_t seq_no;              /* private: Responses sequence_number of the next event */
    int content_sent;            /* private: content events written so far */
};

/* Fills the per-request constants (id from seq number n, model escaped, chunk prefix). */
void gen_req_init(struct gen_req *r, enum dialect_id d, uint64_t n, const char *model,
                  size_t model_len, int64_t created);
/* Same, with a persona's chunk layout (gen_req_init = GEN_PERSONA_SIM). */
void gen_req_init_persona(struct gen_req *r, int persona, enum dialect_id d, uint64_t n,
                          const char *model, size_t model_len, int64_t created);
/* Whether r's stream opens with a role-only chunk before its first token (OpenAI chat, for
 * the personas whose servers send one). */
int gen_has_role_chunk(const struct gen_req *r);
/* llama.cpp holds back a token whose text is an incomplete UTF-8 sequence (byte-fallback
 * tokens) and sends it with the next one: 1 when token i of r is such a token (persona
 * llama.cpp: a seeded 1 in 8 of the tokens that are not the last). */
int gen_token_held(const struct gen_req *r, int64_t i);

/* The word for output token i of a request: one printable ASCII word; tokens after the first
 * are preceded by a space. Appends ntok tokens from token index from. */
int gen_append_text(struct buf *b, uint64_t seed, int64_t from, int64_t ntok);

/* Number of events sent before the first token (Anthropic: message_start, content_block_start,
 * ping; others 0) and each of them. */
/* The dialect's finish reason for r ("stop", "length", "end_turn", "eos_token"…): what the
 * response says and what the ground-truth log records. Static string. */
const char *gen_finish_name(const struct gen_req *r);
int gen_n_preamble(const struct gen_req *r);
int gen_preamble(struct buf *b, struct gen_req *r, int idx);
/* OpenAI chat's role-only first chunk (only for DIALECT_OPENAI_CHAT). */
int gen_role_chunk(struct buf *b, const struct gen_req *r);
/* One content event carrying tokens [from, from+ntok). last: the sequence's last tokens (TGI
 * puts generated_text and details in that one). malformed: cut the JSON short on purpose.
 * now_us: epoch µs, for Ollama's created_at. */
int gen_content(struct buf *b, struct gen_req *r, int64_t from, int64_t ntok, int last,
                int malformed, int64_t now_us);
/* Events after the last token: OpenAI finish chunk, usage chunk (include_usage), [DONE];
 * Anthropic content_block_stop, message_delta, message_stop; Ollama the done line; TGI none. */
int gen_n_trailer(const struct gen_req *r);
/* durations (ns) feed Ollama's final line: prompt eval (arrival → first token) and eval. */
int gen_trailer(struct buf *b, struct gen_req *r, int idx, int64_t now_us,
                int64_t prompt_eval_ns, int64_t eval_ns);
/* Whole non-streaming body. */
int gen_body(struct buf *b, const struct gen_req *r, int64_t now_us, int64_t prompt_eval_ns,
             int64_t eval_ns);
/* Error body in dialect d's shape for status (400, 404, 405, 413, 429, 500, 503…). */
int gen_error(struct buf *b, enum dialect_id d, int status, const char *msg);
/* Same in a persona's shape (its OpenAI-compatible error body, or its native one). */
int gen_error_persona(struct buf *b, int persona, enum dialect_id d, int status, const char *msg);
/* HTTP reason phrase for the statuses the simulator sends. */
const char *gen_reason(int status);
/* Content-Type of d's responses (stream or not). */
const char *gen_content_type(enum dialect_id d, int stream);

#endif
