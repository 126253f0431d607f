/* reply.h — the endpoint's own reply to one turn of a session, kept so that `--history live`
 * can put it into the next turn's messages: its text and its tool calls, read from the
 * response body (SSE, NDJSON or one JSON body) of OpenAI chat, Anthropic Messages or Ollama
 * chat, and given back as an assistant message in that dialect's shape:
 *
 *   OpenAI chat   {"role":"assistant","content":TEXT|null,"tool_calls":[{"id","type":"function",
 *                  "function":{"name","arguments"}}]}     (chat.completion.chunk deltas
 *                  choices[0].delta.content / .tool_calls[index], or choices[0].message)
 *   Anthropic     {"role":"assistant","content":TEXT} or, with tool use, [{"type":"text",…},
 *                  {"type":"tool_use","id","name","input"}]   (text_delta, content_block_start
 *                  of tool_use, input_json_delta; or the message's content blocks)
 *   Ollama chat   {"role":"assistant","content":TEXT,"tool_calls":[{"function":{"name",
 *                  "arguments"}}]}                          (message.content / .tool_calls)
 *
 * Only session turns replayed with live history pay for this: each event is parsed with
 * cJSON (the rare path, not the per-token decoder of formats/dialect). Reasoning text is not
 * part of the reply (servers do not expect it back). */
#ifndef LLMTRACE_REPLAY_REPLY_H
#define LLMTRACE_REPLAY_REPLY_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "dialect.h"
#include "ndjson.h"
#include "sse.h"

struct reply_call {
    char *id;                  /* NULL when the server gave none */
    char *name;
    struct buf args;           /* arguments as JSON text, concatenated from the deltas */
    int index;                 /* OpenAI delta index / Anthropic content block index */
};

struct reply {
    enum dialect_id d;
    enum dialect_framing fr;
    struct sse_decoder sse;
    struct ndjson_decoder nd;
    struct buf body;           /* FRAMING_JSON: the whole body */
    struct buf text;
    struct reply_call *calls;
    size_t n_calls, cap_calls;
    int bad;                   /* an event could not be read: the reply may be incomplete */
};

/* Prepares r for a response of dialect d (stream: the request's stream flag, 1/0/-1) with
 * Content-Type content_type (may be NULL). */
void reply_init(struct reply *r, enum dialect_id d, int stream, const char *content_type);
/* Feeds response body bytes. */
void reply_feed(struct reply *r, const char *p, size_t n);
/* End of body (a whole JSON body is read now). */
void reply_finish(struct reply *r);
/* The reply as an assistant message in r's dialect's shape (caller frees); NULL on no memory
 * or for a dialect without messages. */
cJSON *reply_message(const struct reply *r);
void reply_free(struct reply *r);

#endif
