/* request.h — what llmtrace-sim makes of a request: the endpoint a path names, and the fields
 * of a JSON body it needs (model, stream, output cap, ignore_eos, include_usage, prompt size),
 * validated per dialect with each API's rules (OpenAI chat/completions, Anthropic Messages,
 * Ollama /api/generate and /api/chat, TGI, OpenAI Responses). Request bodies are rare-path: parsed with cJSON. */
#ifndef LLMTRACE_SIM_REQUEST_H
#define LLMTRACE_SIM_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "dialect.h"
#include "prefix.h"

enum request_endpoint {
    EP_NONE = 0, EP_CHAT, EP_COMPL, EP_MSG, EP_OGEN, EP_OCHAT, EP_TGI_STREAM, EP_TGI,
    EP_MODELS, EP_HEALTH, EP_METRICS, EP_RESP
};

struct request_prompt {
    size_t bytes, words;         /* of every prompt/message/system text */
    int64_t exact_tokens;        /* completions prompts given as token ids */
    struct prefix_hasher *hash;  /* when set (--prefix-cache), fed the prompt's token stream */
};

struct request_params {
    const char *model;           /* points into the body; NULL when absent */
    int stream;                  /* Ollama: 1 unless "stream": false; TGI: by endpoint */
    int include_usage;
    int ignore_eos;
    int64_t max_tokens;          /* -1 absent (callers set it before request_validate) */
    struct request_prompt prompt;
};

/* The endpoint of a path (query string excluded by the caller) and the one method it allows
 * in *allow. EP_NONE for unknown paths. */
enum request_endpoint request_route(const char *path, size_t len, const char **allow);
/* The dialect of an endpoint (OpenAI chat for the GET endpoints and EP_NONE: error shapes). */
enum dialect_id request_dialect(enum request_endpoint ep);
/* Fills p (zeroed, max_tokens = -1, by the caller; prompt.hash set or NULL) from body, a JSON
 * object. Every text of the prompt is counted, and hashed when prompt.hash is set, in prompt
 * order: system text first, then the messages (each starting with its role's marker), a
 * message's tool calls after its content (prefix.h says what counts). Returns NULL, or a
 * static message for the 400 answer (first problem found). */
const char *request_validate(enum request_endpoint ep, const cJSON *body,
                             struct request_params *p);
/* Prompt tokens: ceil(bytes / 4), or words when words != 0; token-id prompts count one per id;
 * at least 1. */
int64_t request_prompt_tokens(const struct request_params *p, int words);

#endif
