/* dialect.c — the LLM API dialects (see dialect.h).
 *
 * Formats followed, from the providers' API references:
 *  - OpenAI Chat Completions / Completions streaming ("chat.completion.chunk": choices[].delta
 *    .content / .reasoning_content / .tool_calls[].function.arguments, finish_reason, usage chunk
 *    with empty choices under stream_options.include_usage, `data: [DONE]`), plus what vLLM,
 *    SGLang and llama.cpp add (usage and timings in the last choice chunk, {"object":"error"}).
 *  - Anthropic Messages streaming (message_start, content_block_start/_delta/_stop with
 *    text_delta, input_json_delta, thinking_delta, message_delta, message_stop, ping, error).
 *  - Ollama /api/generate and /api/chat (NDJSON objects, final "done": true with eval_count
 *    and prompt_eval_count; {"error": "..."}).
 *  - Hugging Face TGI /generate_stream (token.text, token.special, final generated_text and
 *    details.generated_tokens) and /generate.
 *  - OpenAI Responses (/v1/responses; API reference "Streaming events" and "The response
 *    object"): SSE events typed in their data's "type" (and `event:`); the *.delta events of
 *    output text, refusals, reasoning text and summaries, function-call and tool inputs carry
 *    output; response.completed / .incomplete / .failed end the stream with the response
 *    object (status, incomplete_details.reason, error, usage {input_tokens, output_tokens,
 *    input_tokens_details.cached_tokens, output_tokens_details.reasoning_tokens}); an `error`
 *    event ({"type":"error","code","message"}) is a server error. No [DONE].
 * Events are read with jscan (one validating pass, then slices): no tree per chunk. OpenAI
 * chunks of the common shape take a fast path that validates and extracts in the same pass
 * (see "OpenAI chunk fast path" below); everything else is parsed onto a token tape first.
 * Strings without escapes are returned in place; only escaped ones are unescaped into the
 * scratch. */
#include "dialect.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jscan.h"

/* Key test against a literal: length first, then an inlined fixed-size compare; escaped keys
 * (rare) go through the unescaping jscan_key_is. */
#define D_KEY(k, lit)                                                                  \
    ((k)->type == JSCAN_STRING &&                                                      \
     ((!(k)->escaped && (k)->len == sizeof(lit) - 1 && memcmp((k)->p, lit, sizeof(lit) - 1) == 0) || \
      ((k)->escaped && jscan_key_is((k), lit))))

static const char *const dialect_names[DIALECT_COUNT] = {
    [DIALECT_UNKNOWN] = "unknown",
    [DIALECT_OPENAI_CHAT] = "openai-chat",
    [DIALECT_OPENAI_COMPLETIONS] = "openai-completions",
    [DIALECT_ANTHROPIC] = "anthropic",
    [DIALECT_OLLAMA_GENERATE] = "ollama-generate",
    [DIALECT_OLLAMA_CHAT] = "ollama-chat",
    [DIALECT_TGI] = "tgi",
    [DIALECT_OPENAI_RESPONSES] = "openai-responses",
};

const char *dialect_name(enum dialect_id d)
{
    if ((int)d < 0 || d >= DIALECT_COUNT)
        return "unknown";
    return dialect_names[d];
}

enum dialect_id dialect_parse_name(const char *s)
{
    if (!s)
        return DIALECT_UNKNOWN;
    for (int i = 1; i < DIALECT_COUNT; i++)
        if (strcmp(s, dialect_names[i]) == 0)
            return (enum dialect_id)i;
    if (strcmp(s, "openai") == 0)
        return DIALECT_OPENAI_CHAT;
    if (strcmp(s, "ollama") == 0)
        return DIALECT_OLLAMA_CHAT;
    return DIALECT_UNKNOWN;
}

static int ends_with(const char *p, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && memcmp(p + len - n, suffix, n) == 0;
}

/* The path (query and trailing slashes ignored) ends with suffix. */
static int path_names(const char *path, size_t len, const char *suffix)
{
    if (!path)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (path[i] == '?' || path[i] == '#') {
            len = i;
            break;
        }
    }
    while (len > 1 && path[len - 1] == '/')
        len--;
    return ends_with(path, len, suffix);
}

enum dialect_id dialect_from_path(const char *path, size_t len)
{
    if (!path)
        return DIALECT_UNKNOWN;
    for (size_t i = 0; i < len; i++) {
        if (path[i] == '?' || path[i] == '#') {
            len = i;
            break;
        }
    }
    while (len > 1 && path[len - 1] == '/')
        len--;
    if (ends_with(path, len, "/chat/completions"))
        return DIALECT_OPENAI_CHAT;
    if (ends_with(path, len, "/completions"))
        return DIALECT_OPENAI_COMPLETIONS;
    if (ends_with(path, len, "/api/generate"))
        return DIALECT_OLLAMA_GENERATE;
    if (ends_with(path, len, "/api/chat"))
        return DIALECT_OLLAMA_CHAT;
    if (ends_with(path, len, "/v1/messages") || (len == 9 && memcmp(path, "/messages", 9) == 0))
        return DIALECT_ANTHROPIC;
    if (ends_with(path, len, "/generate_stream") || ends_with(path, len, "/generate"))
        return DIALECT_TGI;
    if (ends_with(path, len, "/responses"))
        return DIALECT_OPENAI_RESPONSES;
    /* Databricks model serving speaks OpenAI chat on /serving-endpoints/<name>/invocations */
    if (ends_with(path, len, "/invocations")) {
        static const char pre[] = "/serving-endpoints/";
        for (size_t i = 0; i + sizeof pre - 1 <= len; i++)
            if (memcmp(path + i, pre, sizeof pre - 1) == 0)
                return DIALECT_OPENAI_CHAT;
    }
    return DIALECT_UNKNOWN;
}

enum dialect_id dialect_from_request(const char *path, size_t len, const cJSON *body)
{
    enum dialect_id d = dialect_from_path(path, len);
    if (d != DIALECT_UNKNOWN || !cJSON_IsObject(body))
        return d;
    if (cJSON_GetObjectItemCaseSensitive(body, "messages"))
        return DIALECT_OPENAI_CHAT;
    if (cJSON_GetObjectItemCaseSensitive(body, "prompt"))
        return DIALECT_OPENAI_COMPLETIONS;
    if (cJSON_GetObjectItemCaseSensitive(body, "inputs"))
        return DIALECT_TGI;
    /* "input" is also the embeddings' and moderations' field: those paths stream no tokens */
    if (cJSON_GetObjectItemCaseSensitive(body, "input") && !path_names(path, len, "/embeddings") &&
        !path_names(path, len, "/moderations"))
        return DIALECT_OPENAI_RESPONSES;
    return DIALECT_UNKNOWN;
}

/* Case-insensitive match of the media type (before any ';' parameters). */
static int media_type_is(const char *ct, const char *type)
{
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strlen(type);
    if (strncasecmp(ct, type, n) != 0)
        return 0;
    char c = ct[n];
    return c == '\0' || c == ';' || c == ' ' || c == '\t';
}

enum dialect_framing dialect_framing_for(enum dialect_id d, int stream, const char *content_type)
{
    if (content_type) {
        if (media_type_is(content_type, "text/event-stream"))
            return FRAMING_SSE;
        if (media_type_is(content_type, "application/x-ndjson") ||
            media_type_is(content_type, "application/ndjson") ||
            media_type_is(content_type, "application/jsonl") ||
            media_type_is(content_type, "application/x-jsonlines"))
            return FRAMING_NDJSON;
        if (media_type_is(content_type, "application/json"))
            return FRAMING_JSON;
    }
    int ollama = d == DIALECT_OLLAMA_CHAT || d == DIALECT_OLLAMA_GENERATE;
    if (stream == 1)
        return ollama ? FRAMING_NDJSON : d == DIALECT_UNKNOWN ? FRAMING_UNKNOWN : FRAMING_SSE;
    if (stream == 0)
        return FRAMING_JSON;
    /* stream unknown: Ollama streams by default, the others answer with one body */
    if (ollama)
        return FRAMING_NDJSON;
    if (d == DIALECT_UNKNOWN || d == DIALECT_TGI)
        return FRAMING_UNKNOWN;
    return FRAMING_JSON;
}

/* ---- event decoding ----------------------------------------------------------------------- */

struct dctx {
    struct dialect_event *out;
    struct buf *scratch;
    const char *why;
    const char *tdirect;        /* the only text piece so far, unescaped in place */
    size_t tdirect_len;
    int pieces;
    int in_scratch;             /* the text lives at scratch[0 .. text_len) */
    size_t text_len;
    int has_finish;
    struct jscan_val finish;
    int has_errmsg;
    struct jscan_val errmsg;
    int text_strings;           /* OpenAI fast path: text values read (content-like strings or
                                 * null, tool arguments) */
    const char *t_open;         /* ... the first one's opening quote */
    const char *t_after;        /* ... and the byte after its closing quote */
};

#define D_MALFORMED(c, reason) ((c)->why = (reason), DIALECT_ERR_MALFORMED)

static int d_text_bytes(struct dctx *c, const char *p, size_t n, const struct jscan_val *esc)
{
    if (n == 0)
        return 0;
    if (c->pieces == 0 && !esc) {
        c->tdirect = p;
        c->tdirect_len = n;
        c->text_len = n;
        c->pieces = 1;
        return 0;
    }
    if (!c->in_scratch) {
        buf_reset(c->scratch);
        if (c->pieces && buf_append(c->scratch, c->tdirect, c->tdirect_len))
            return DIALECT_ERR_NOMEM;
        c->in_scratch = 1;
    }
    if (esc ? jscan_unescape(esc, c->scratch) : buf_append(c->scratch, p, n))
        return DIALECT_ERR_NOMEM;
    c->text_len = c->scratch->len;
    c->pieces++;
    return 0;
}

/* Appends a string value's text (escaped or not) to the event's text delta. */
static int d_text(struct dctx *c, const struct jscan_val *v)
{
    return d_text_bytes(c, v->p, v->len, v->escaped ? v : NULL);
}

/* A JSON value kept as raw JSON text (tool arguments sent as an object). */
static int d_text_raw(struct dctx *c, const struct jscan_val *v)
{
    if ((v->type == JSCAN_OBJECT || v->type == JSCAN_ARRAY) && v->len <= 2)
        return 0; /* {} / []: nothing generated yet */
    return d_text_bytes(c, v->p, v->len, NULL);
}

static int d_opt_string(struct dctx *c, const struct jscan_val *v, const char *reason)
{
    if (v->type == JSCAN_NULL)
        return 0;
    if (v->type != JSCAN_STRING)
        return D_MALFORMED(c, reason);
    return d_text(c, v);
}

static int d_int(struct dctx *c, const struct jscan_val *v, int64_t *dst, const char *reason)
{
    if (v->type == JSCAN_NULL)
        return 0;
    int64_t n;
    if (jscan_int64(v, &n) || n < 0)
        return D_MALFORMED(c, reason);
    *dst = n;
    return 0;
}

static int d_finish(struct dctx *c, const struct jscan_val *v, const char *reason)
{
    if (v->type == JSCAN_NULL)
        return 0;
    if (v->type != JSCAN_STRING)
        return D_MALFORMED(c, reason);
    c->has_finish = 1;
    c->finish = *v;
    return 0;
}

/* Error message of an error object/string: {"message": …} or "…". */
static void d_error_from(struct dctx *c, const struct jscan_val *v)
{
    struct jscan_val m;
    c->out->is_error = 1;
    if (v->type == JSCAN_STRING) {
        c->has_errmsg = 1;
        c->errmsg = *v;
    } else if (v->type == JSCAN_OBJECT && jscan_get(v, "message", &m) && m.type == JSCAN_STRING) {
        c->has_errmsg = 1;
        c->errmsg = m;
    } else if (v->type == JSCAN_OBJECT && jscan_get(v, "type", &m) && m.type == JSCAN_STRING) {
        c->has_errmsg = 1;
        c->errmsg = m;
    }
}

/* Moves text, finish reason and error message into the event (pointers fixed last because the
 * scratch may move while it grows). */
static int d_finalize(struct dctx *c)
{
    struct dialect_event *o = c->out;
    size_t foff = 0, flen = 0, eoff = 0, elen = 0;
    int fin_scratch = 0, err_scratch = 0;
    if (!c->in_scratch)
        buf_reset(c->scratch);
    if (c->has_finish) {
        if (c->finish.escaped) {
            foff = c->scratch->len;
            if (jscan_unescape(&c->finish, c->scratch))
                return DIALECT_ERR_NOMEM;
            flen = c->scratch->len - foff;
            fin_scratch = 1;
        } else {
            o->finish_reason = c->finish.p;
            o->finish_reason_len = c->finish.len;
        }
    }
    if (c->has_errmsg) {
        if (c->errmsg.escaped) {
            eoff = c->scratch->len;
            if (jscan_unescape(&c->errmsg, c->scratch))
                return DIALECT_ERR_NOMEM;
            elen = c->scratch->len - eoff;
            err_scratch = 1;
        } else {
            o->error_message = c->errmsg.p;
            o->error_message_len = c->errmsg.len;
        }
    }
    if (c->in_scratch) {
        o->text = c->scratch->p;
        o->text_len = c->text_len;
    } else if (c->pieces) {
        o->text = c->tdirect;
        o->text_len = c->tdirect_len;
    }
    if (fin_scratch) {
        o->finish_reason = c->scratch->p + foff;
        o->finish_reason_len = flen;
    }
    if (err_scratch) {
        o->error_message = c->scratch->p + eoff;
        o->error_message_len = elen;
    }
    if (o->text_len)
        o->is_content = 1;
    return 0;
}

/* A usage object's counts, read by a table: every dialect names the same few numbers
 * differently, some one level down (`prompt_tokens_details.cached_tokens`). Each found count
 * lands in vals[slot]; the others stay as the caller set them. */
struct d_usage_key {
    const char *key;
    const char *sub;  /* NULL: the count is the key's own value */
    int slot;
    const char *reason;
};

static int d_usage_counts(struct dctx *c, const struct jscan_val *u, const struct d_usage_key *keys,
                          size_t nkeys, int64_t *vals)
{
    if (u->type != JSCAN_OBJECT)
        return D_MALFORMED(c, "usage is not an object");
    struct jscan_iter it;
    struct jscan_val k, v, d;
    int rc = 0;
    jscan_iter_init(&it, u);
    while (rc == 0 && jscan_iter_next(&it, &k, &v) == 1) {
        for (size_t i = 0; i < nkeys; i++) {
            if (!jscan_key_is(&k, keys[i].key))
                continue;
            if (!keys[i].sub)
                rc = d_int(c, &v, &vals[keys[i].slot], keys[i].reason);
            else if (jscan_get(&v, keys[i].sub, &d))
                rc = d_int(c, &d, &vals[keys[i].slot], keys[i].reason);
            break;
        }
    }
    return rc;
}

enum { U_PROMPT, U_COMPLETION, U_CACHED, U_REASONING, U_CACHE_WRITE, U_SLOTS };

/* Stores what the usage object gave; -1 slots leave the event's field as it was. */
static void d_usage_store(struct dctx *c, const int64_t *vals)
{
    c->out->has_usage = 1;
    if (vals[U_PROMPT] >= 0)
        c->out->prompt_tokens = vals[U_PROMPT];
    if (vals[U_COMPLETION] >= 0)
        c->out->completion_tokens = vals[U_COMPLETION];
    if (vals[U_CACHED] >= 0)
        c->out->cached_tokens = vals[U_CACHED];
    if (vals[U_REASONING] >= 0)
        c->out->reasoning_tokens = vals[U_REASONING];
}

/* OpenAI: usage object (also vLLM/SGLang/llama.cpp). */
static int oa_usage(struct dctx *c, const struct jscan_val *u)
{
    static const struct d_usage_key keys[] = {
        {"prompt_tokens", NULL, U_PROMPT, "usage.prompt_tokens is not a count"},
        {"completion_tokens", NULL, U_COMPLETION, "usage.completion_tokens is not a count"},
        {"prompt_tokens_details", "cached_tokens", U_CACHED, "usage.cached_tokens is not a count"},
    };
    if (u->type == JSCAN_NULL)
        return 0;
    int64_t vals[U_SLOTS] = {-1, -1, -1, -1, -1};
    int rc = d_usage_counts(c, u, keys, sizeof keys / sizeof keys[0], vals);
    if (rc == 0)
        d_usage_store(c, vals);
    return rc;
}

/* Message content given as an array of parts: [{"type":"text","text":…}]. */
static int oa_content_parts(struct dctx *c, const struct jscan_val *arr)
{
    struct jscan_iter it;
    struct jscan_val part, t;
    jscan_iter_init(&it, arr);
    while (jscan_iter_next(&it, NULL, &part) == 1) {
        if (part.type != JSCAN_OBJECT)
            return D_MALFORMED(c, "content part is not an object");
        if (jscan_get(&part, "text", &t)) {
            int rc = d_opt_string(c, &t, "content part text is not a string");
            if (rc)
                return rc;
        }
    }
    return 0;
}

static int oa_tool_calls(struct dctx *c, const struct jscan_val *arr)
{
    if (arr->type == JSCAN_NULL)
        return 0;
    if (arr->type != JSCAN_ARRAY)
        return D_MALFORMED(c, "tool_calls is not an array");
    struct jscan_iter it;
    struct jscan_val call, fn, args;
    jscan_iter_init(&it, arr);
    while (jscan_iter_next(&it, NULL, &call) == 1) {
        if (call.type != JSCAN_OBJECT)
            return D_MALFORMED(c, "tool_calls item is not an object");
        if (!jscan_get(&call, "function", &fn) || fn.type == JSCAN_NULL)
            continue;
        if (fn.type != JSCAN_OBJECT)
            return D_MALFORMED(c, "tool_calls function is not an object");
        if (!jscan_get(&fn, "arguments", &args) || args.type == JSCAN_NULL)
            continue;
        int rc;
        if (args.type == JSCAN_STRING)
            rc = d_text(c, &args);
        else if (args.type == JSCAN_OBJECT)
            rc = d_text_raw(c, &args); /* Ollama and some gateways send an object */
        else
            rc = D_MALFORMED(c, "tool call arguments are not a string");
        if (rc)
            return rc;
    }
    return 0;
}

/* delta (streaming) or message (whole body) of a chat choice. */
static int oa_delta(struct dctx *c, const struct jscan_val *d, int *saw_role)
{
    if (d->type == JSCAN_NULL)
        return 0;
    if (d->type != JSCAN_OBJECT)
        return D_MALFORMED(c, "delta/message is not an object");
    struct jscan_iter it;
    struct jscan_val k, v;
    int rc = 0;
    jscan_iter_init(&it, d);
    while (rc == 0 && jscan_iter_next(&it, &k, &v) == 1) {
        if (D_KEY(&k, "content")) {
            if (v.type == JSCAN_ARRAY)
                rc = oa_content_parts(c, &v);
            else
                rc = d_opt_string(c, &v, "delta.content is not a string");
        } else if (D_KEY(&k, "reasoning_content") || D_KEY(&k, "reasoning")) {
            rc = d_opt_string(c, &v, "delta.reasoning_content is not a string");
        } else if (D_KEY(&k, "refusal")) {
            rc = d_opt_string(c, &v, "delta.refusal is not a string");
        } else if (D_KEY(&k, "tool_calls")) {
            rc = oa_tool_calls(c, &v);
        } else if (D_KEY(&k, "function_call") && v.type == JSCAN_OBJECT) {
            struct jscan_val args;
            if (jscan_get(&v, "arguments", &args))
                rc = d_opt_string(c, &args, "function_call.arguments is not a string");
        } else if (D_KEY(&k, "role")) {
            *saw_role = 1;
        }
    }
    return rc;
}

static int oa_choice(struct dctx *c, const struct jscan_val *ch, int *saw_role, int *saw_delta)
{
    if (ch->type != JSCAN_OBJECT)
        return D_MALFORMED(c, "choices item is not an object");
    struct jscan_iter it;
    struct jscan_val k, v;
    int rc = 0;
    jscan_iter_init(&it, ch);
    while (rc == 0 && jscan_iter_next(&it, &k, &v) == 1) {
        if (D_KEY(&k, "delta")) {
            *saw_delta = 1;
            rc = oa_delta(c, &v, saw_role);
        } else if (D_KEY(&k, "message")) {
            rc = oa_delta(c, &v, saw_role);
        } else if (D_KEY(&k, "text")) {
            rc = d_opt_string(c, &v, "choices.text is not a string");
        } else if (D_KEY(&k, "finish_reason")) {
            rc = d_finish(c, &v, "finish_reason is not a string");
        }
    }
    return rc;
}

static int oa_decode(struct dctx *c, const struct jscan_val *root)
{
    struct jscan_iter it;
    struct jscan_val k, v;
    int rc = 0, saw_role = 0, saw_delta = 0, object_error = 0, has_msg = 0;
    struct jscan_val msg;
    jscan_iter_init(&it, root);
    while (rc == 0 && jscan_iter_next(&it, &k, &v) == 1) {
        if (D_KEY(&k, "choices")) {
            if (v.type == JSCAN_NULL)
                continue;
            if (v.type != JSCAN_ARRAY)
                return D_MALFORMED(c, "choices is not an array");
            struct jscan_iter ci;
            struct jscan_val ch;
            jscan_iter_init(&ci, &v);
            while (rc == 0 && jscan_iter_next(&ci, NULL, &ch) == 1)
                rc = oa_choice(c, &ch, &saw_role, &saw_delta);
        } else if (D_KEY(&k, "usage")) {
            rc = oa_usage(c, &v);
        } else if (D_KEY(&k, "error")) {
            if (v.type != JSCAN_NULL)
                d_error_from(c, &v);
        } else if (D_KEY(&k, "object")) {
            /* vLLM's ErrorResponse: {"object":"error","message":…,"type":…,"code":…} */
            if (v.type == JSCAN_STRING && D_KEY(&v, "error"))
                object_error = 1;
        } else if (D_KEY(&k, "message") && v.type == JSCAN_STRING) {
            has_msg = 1;
            msg = v;
        }
    }
    if (rc)
        return rc;
    if (object_error) {
        c->out->is_error = 1;
        if (has_msg && !c->has_errmsg) {
            c->has_errmsg = 1;
            c->errmsg = msg;
        }
    }
    if (saw_delta && saw_role && c->pieces == 0)
        c->out->is_role_only = 1;
    return 0;
}

/* ---- OpenAI chunk fast path ---------------------------------------------------------------
 *
 * A streamed chat / completions chunk is read in one validating forward pass (jscan's pull
 * reader checks the same grammar as jscan_parse) that picks out choices[].delta.content /
 * .reasoning_content / .refusal / .role, choices[].text and choices[].finish_reason on the
 * way, with no token tape and no second walk; tool_calls[].function.arguments strings too.
 * Everything less common — usage objects, function_call, arguments sent as objects, content
 * parts, whole-body messages, error objects, escaped keys, any malformed byte —
 * answers OA_FAST_BAIL and the event goes through jscan_parse_tape + oa_decode, which stays
 * the reference (tests/fuzz/fuzz_dialect_diff.c checks that both paths agree). */

#define OA_FAST_BAIL 1

/* An unescaped key equal to lit. Escaped keys never match: they make the caller bail. */
#define OA_KEY(k, lit) ((k)->len == sizeof(lit) - 1 && memcmp((k)->p, lit, sizeof(lit) - 1) == 0)

/* A string (text delta) or null; anything else bails. */
static int oa_fast_text(struct dctx *c, struct jscan_reader *r)
{
    struct jscan_val v;
    jscan_reader_peek(r);
    const char *open = r->p;
    if (jscan_reader_value(r, &v))
        return OA_FAST_BAIL;
    if (c->text_strings++ == 0) {
        c->t_open = open;
        c->t_after = r->p;
    }
    if (v.type == JSCAN_NULL)
        return 0;
    if (v.type != JSCAN_STRING)
        return OA_FAST_BAIL;
    return d_text(c, &v);
}

/* tool_calls[].function.arguments as strings, like oa_tool_calls (first "function" and first
 * "arguments" of an item count); anything oa_tool_calls would reject, or an object as the
 * arguments, bails. */
static int oa_fast_tool_calls(struct dctx *c, struct jscan_reader *r)
{
    struct jscan_val k, v;
    int m, mi;
    if (jscan_reader_peek(r) != '[')
        return jscan_reader_value(r, &v) || v.type != JSCAN_NULL ? OA_FAST_BAIL : 0;
    if (jscan_reader_open(r))
        return OA_FAST_BAIL;
    for (int fi = 1; (mi = jscan_reader_next(r, fi, 0, NULL)) == 1; fi = 0) {
        int seen_fn = 0;
        if (jscan_reader_peek(r) != '{' || jscan_reader_open(r))
            return OA_FAST_BAIL;
        for (int first = 1; (m = jscan_reader_next(r, first, 1, &k)) == 1; first = 0) {
            if (k.escaped)
                return OA_FAST_BAIL;
            if (!OA_KEY(&k, "function") || seen_fn++) {
                if (jscan_reader_value(r, &v))
                    return OA_FAST_BAIL;
                continue;
            }
            int c0 = jscan_reader_peek(r);
            if (c0 != '{') {
                if (jscan_reader_value(r, &v) || v.type != JSCAN_NULL)
                    return OA_FAST_BAIL;
                continue;
            }
            if (jscan_reader_open(r))
                return OA_FAST_BAIL;
            int seen_args = 0, fm;
            for (int ff = 1; (fm = jscan_reader_next(r, ff, 1, &k)) == 1; ff = 0) {
                if (k.escaped || jscan_reader_value(r, &v))
                    return OA_FAST_BAIL;
                if (!OA_KEY(&k, "arguments") || seen_args++ || v.type == JSCAN_NULL)
                    continue;
                if (v.type != JSCAN_STRING)
                    return OA_FAST_BAIL;
                c->text_strings++; /* a text value too: such a chunk is never a shape */
                int rc = d_text(c, &v);
                if (rc)
                    return rc;
            }
            if (fm != 0)
                return OA_FAST_BAIL;
        }
        if (m != 0)
            return OA_FAST_BAIL;
    }
    return mi == 0 ? 0 : OA_FAST_BAIL;
}

static int oa_fast_delta(struct dctx *c, struct jscan_reader *r, int *saw_role)
{
    struct jscan_val k, v;
    int rc, m;
    if (jscan_reader_peek(r) != '{') {
        if (jscan_reader_value(r, &v) || v.type != JSCAN_NULL)
            return OA_FAST_BAIL;
        return 0;
    }
    if (jscan_reader_open(r))
        return OA_FAST_BAIL;
    for (int first = 1; (m = jscan_reader_next(r, first, 1, &k)) == 1; first = 0) {
        if (k.escaped)
            return OA_FAST_BAIL;
        if (OA_KEY(&k, "content") || OA_KEY(&k, "reasoning_content") ||
            OA_KEY(&k, "reasoning") || OA_KEY(&k, "refusal")) {
            rc = oa_fast_text(c, r);
        } else if (OA_KEY(&k, "tool_calls")) {
            rc = oa_fast_tool_calls(c, r);
        } else if (OA_KEY(&k, "function_call")) {
            return OA_FAST_BAIL;
        } else {
            if (OA_KEY(&k, "role"))
                *saw_role = 1;
            rc = jscan_reader_value(r, &v) ? OA_FAST_BAIL : 0;
        }
        if (rc)
            return rc;
    }
    return m == 0 ? 0 : OA_FAST_BAIL;
}

static int oa_fast_choice(struct dctx *c, struct jscan_reader *r, int *saw_role, int *saw_delta)
{
    struct jscan_val k, v;
    int rc, m;
    if (jscan_reader_peek(r) != '{' || jscan_reader_open(r))
        return OA_FAST_BAIL;
    for (int first = 1; (m = jscan_reader_next(r, first, 1, &k)) == 1; first = 0) {
        if (k.escaped || OA_KEY(&k, "message"))
            return OA_FAST_BAIL;
        if (OA_KEY(&k, "delta")) {
            *saw_delta = 1;
            rc = oa_fast_delta(c, r, saw_role);
        } else if (OA_KEY(&k, "text")) {
            rc = oa_fast_text(c, r);
        } else if (OA_KEY(&k, "finish_reason")) {
            if (jscan_reader_value(r, &v))
                return OA_FAST_BAIL;
            if (v.type == JSCAN_STRING) {
                c->has_finish = 1;
                c->finish = v;
            } else if (v.type != JSCAN_NULL) {
                return OA_FAST_BAIL;
            }
            rc = 0;
        } else {
            rc = jscan_reader_value(r, &v) ? OA_FAST_BAIL : 0;
        }
        if (rc)
            return rc;
    }
    return m == 0 ? 0 : OA_FAST_BAIL;
}

/* 0 with the event decoded into c (not yet finalized), OA_FAST_BAIL, or DIALECT_ERR_NOMEM. */
static int oa_fast(struct dctx *c, const char *p, size_t len)
{
    struct jscan_reader r;
    struct jscan_val k, v;
    int rc, m, saw_role = 0, saw_delta = 0;
    jscan_reader_init(&r, p, len);
    if (jscan_reader_peek(&r) != '{' || jscan_reader_open(&r))
        return OA_FAST_BAIL;
    for (int first = 1; (m = jscan_reader_next(&r, first, 1, &k)) == 1; first = 0) {
        if (k.escaped)
            return OA_FAST_BAIL;
        if (OA_KEY(&k, "choices")) {
            int c0 = jscan_reader_peek(&r);
            if (c0 == '[') {
                if (jscan_reader_open(&r))
                    return OA_FAST_BAIL;
                int mi;
                for (int fi = 1; (mi = jscan_reader_next(&r, fi, 0, NULL)) == 1; fi = 0) {
                    rc = oa_fast_choice(c, &r, &saw_role, &saw_delta);
                    if (rc)
                        return rc;
                }
                if (mi != 0)
                    return OA_FAST_BAIL;
            } else if (jscan_reader_value(&r, &v) || v.type != JSCAN_NULL) {
                return OA_FAST_BAIL;
            }
        } else if (OA_KEY(&k, "usage") || OA_KEY(&k, "error")) {
            /* null is the usual value on every chunk; an object takes the full path */
            if (jscan_reader_value(&r, &v) || v.type != JSCAN_NULL)
                return OA_FAST_BAIL;
        } else if (OA_KEY(&k, "object")) {
            if (jscan_reader_value(&r, &v))
                return OA_FAST_BAIL;
            if (v.type == JSCAN_STRING && (v.escaped || OA_KEY(&v, "error")))
                return OA_FAST_BAIL;
        } else if (jscan_reader_value(&r, &v)) {
            return OA_FAST_BAIL;
        }
    }
    if (m != 0 || jscan_reader_end(&r))
        return OA_FAST_BAIL;
    if (saw_delta && saw_role && c->pieces == 0)
        c->out->is_role_only = 1;
    return 0;
}

/* ---- OpenAI chunk shapes (see struct dialect_shape) ----------------------------------------
 *
 * A chunk P + S1 + Q that decoded on the fast path to exactly its one text string S1 (no
 * finish reason, usage, error or role-only flag, no other text value) is remembered as (P, Q).
 * A later chunk P + S2 + Q, S2 one valid JSON string, is then the same document with another
 * string in the same place: it is valid, and decodes to S2's text and nothing else. An empty
 * S2 goes the long way, since a delta with "role" and "" content is a role-only chunk. */

#define OA_SHAPE_MAX 4096 /* bytes kept for P and for Q */

void dialect_shape_free(struct dialect_shape *s)
{
    free(s->pre);
    free(s->suf);
    memset(s, 0, sizeof *s);
}

static int oa_shape_match(struct dctx *c, const struct dialect_shape *s, const char *p, size_t n)
{
    if (!s->valid || n < s->pre_len + s->suf_len + 2 || memcmp(p, s->pre, s->pre_len) != 0 ||
        memcmp(p + n - s->suf_len, s->suf, s->suf_len) != 0 || p[s->pre_len] != '"')
        return OA_FAST_BAIL;
    struct jscan_reader r;
    struct jscan_val v;
    jscan_reader_init(&r, p + s->pre_len, n - s->pre_len - s->suf_len);
    if (jscan_reader_value(&r, &v) || v.type != JSCAN_STRING || v.len == 0 || jscan_reader_end(&r))
        return OA_FAST_BAIL;
    return d_text(c, &v);
}

/* Remembers a chunk the fast path decoded, when it has the shape above. */
static void oa_shape_store(struct dialect_shape *s, const struct dctx *c, const char *p,
                           size_t n)
{
    const struct dialect_event *o = c->out;
    if (c->text_strings != 1 || c->pieces != 1 || c->has_finish || c->has_errmsg ||
        o->has_usage || o->is_role_only || o->is_error || !c->t_open || !c->t_after ||
        c->t_open < p || c->t_after > p + n)
        return;
    size_t pl = (size_t)(c->t_open - p), sl = (size_t)(p + n - c->t_after);
    if (pl > OA_SHAPE_MAX || sl > OA_SHAPE_MAX)
        return;
    if (s->valid && s->pre_len == pl && s->suf_len == sl && memcmp(s->pre, p, pl) == 0 &&
        memcmp(s->suf, c->t_after, sl) == 0)
        return;
    char *np = malloc(pl ? pl : 1), *ns = malloc(sl ? sl : 1);
    if (!np || !ns) { /* no shape: every chunk takes the fast path */
        free(np);
        free(ns);
        dialect_shape_free(s);
        return;
    }
    memcpy(np, p, pl);
    memcpy(ns, c->t_after, sl);
    dialect_shape_free(s);
    s->pre = np;
    s->pre_len = pl;
    s->suf = ns;
    s->suf_len = sl;
    s->valid = 1;
}

/* Anthropic usage: prompt = input + cache creation + cache read tokens (all processed input);
 * cached = cache read tokens. */
static int an_usage(struct dctx *c, const struct jscan_val *u)
{
    static const struct d_usage_key keys[] = {
        {"input_tokens", NULL, U_PROMPT, "usage.input_tokens is not a count"},
        {"output_tokens", NULL, U_COMPLETION, "usage.output_tokens is not a count"},
        {"cache_creation_input_tokens", NULL, U_CACHE_WRITE,
         "usage.cache_creation_input_tokens is not a count"},
        {"cache_read_input_tokens", NULL, U_CACHED, "usage.cache_read_input_tokens is not a count"},
    };
    if (u->type == JSCAN_NULL)
        return 0;
    int64_t vals[U_SLOTS] = {-1, -1, -1, -1, -1};
    int rc = d_usage_counts(c, u, keys, sizeof keys / sizeof keys[0], vals);
    if (rc)
        return rc;
    if (vals[U_PROMPT] >= 0)
        vals[U_PROMPT] += (vals[U_CACHE_WRITE] > 0 ? vals[U_CACHE_WRITE] : 0) +
                          (vals[U_CACHED] > 0 ? vals[U_CACHED] : 0);
    d_usage_store(c, vals);
    return 0;
}

/* A content block (content_block_start or a whole message's content[] item). */
static int an_block(struct dctx *c, const struct jscan_val *b, int whole)
{
    if (b->type != JSCAN_OBJECT)
        return D_MALFORMED(c, "content block is not an object");
    struct jscan_val t, v;
    if (!jscan_get(b, "type", &t) || t.type != JSCAN_STRING)
        return D_MALFORMED(c, "content block without a type");
    if (D_KEY(&t, "text") && jscan_get(b, "text", &v))
        return d_opt_string(c, &v, "content block text is not a string");
    if (D_KEY(&t, "thinking") && jscan_get(b, "thinking", &v))
        return d_opt_string(c, &v, "content block thinking is not a string");
    /* streamed tool input arrives as input_json_delta; a whole message carries it here */
    if (whole && D_KEY(&t, "tool_use") && jscan_get(b, "input", &v))
        return d_text_raw(c, &v);
    return 0;
}

static int an_decode(struct dctx *c, const char *etype, size_t etype_len,
                     const struct jscan_val *root)
{
    struct jscan_val t, v, w;
    struct jscan_val typ;
    if (jscan_get(root, "type", &t) && t.type == JSCAN_STRING) {
        typ = t;
    } else if (etype && etype_len) {
        typ.type = JSCAN_STRING;
        typ.p = etype;
        typ.len = etype_len;
        typ.escaped = 0;
        typ.tape = NULL;
        typ.tok = 0;
    } else {
        return D_MALFORMED(c, "anthropic event without a type");
    }
    if (D_KEY(&typ, "error")) {
        if (jscan_get(root, "error", &v))
            d_error_from(c, &v);
        c->out->is_error = 1;
        return 0;
    }
    if (D_KEY(&typ, "message_start")) {
        if (!jscan_get(root, "message", &v) || v.type != JSCAN_OBJECT)
            return D_MALFORMED(c, "message_start without a message object");
        if (jscan_get(&v, "usage", &w))
            return an_usage(c, &w);
        return 0;
    }
    if (D_KEY(&typ, "content_block_start")) {
        if (!jscan_get(root, "content_block", &v))
            return D_MALFORMED(c, "content_block_start without content_block");
        return an_block(c, &v, 0);
    }
    if (D_KEY(&typ, "content_block_delta")) {
        if (!jscan_get(root, "delta", &v) || v.type != JSCAN_OBJECT)
            return D_MALFORMED(c, "content_block_delta without a delta object");
        if (!jscan_get(&v, "type", &t) || t.type != JSCAN_STRING)
            return D_MALFORMED(c, "content_block_delta delta without a type");
        if (D_KEY(&t, "text_delta")) {
            if (!jscan_get(&v, "text", &w))
                return D_MALFORMED(c, "text_delta without text");
            return d_opt_string(c, &w, "text_delta text is not a string");
        }
        if (D_KEY(&t, "input_json_delta")) {
            if (!jscan_get(&v, "partial_json", &w))
                return D_MALFORMED(c, "input_json_delta without partial_json");
            return d_opt_string(c, &w, "partial_json is not a string");
        }
        if (D_KEY(&t, "thinking_delta")) {
            if (!jscan_get(&v, "thinking", &w))
                return D_MALFORMED(c, "thinking_delta without thinking");
            return d_opt_string(c, &w, "thinking is not a string");
        }
        return 0; /* signature_delta, citations_delta: no output tokens */
    }
    if (D_KEY(&typ, "message_delta")) {
        int rc = 0;
        if (jscan_get(root, "delta", &v) && v.type == JSCAN_OBJECT && jscan_get(&v, "stop_reason", &w))
            rc = d_finish(c, &w, "stop_reason is not a string");
        if (rc == 0 && jscan_get(root, "usage", &w))
            rc = an_usage(c, &w);
        return rc;
    }
    if (D_KEY(&typ, "message_stop")) {
        c->out->is_done = 1;
        return 0;
    }
    if (D_KEY(&typ, "message")) { /* non-streaming body */
        int rc = 0;
        if (jscan_get(root, "content", &v)) {
            if (v.type != JSCAN_ARRAY)
                return D_MALFORMED(c, "message content is not an array");
            struct jscan_iter it;
            struct jscan_val b;
            jscan_iter_init(&it, &v);
            while (rc == 0 && jscan_iter_next(&it, NULL, &b) == 1)
                rc = an_block(c, &b, 1);
        }
        if (rc == 0 && jscan_get(root, "stop_reason", &w))
            rc = d_finish(c, &w, "stop_reason is not a string");
        if (rc == 0 && jscan_get(root, "usage", &w))
            rc = an_usage(c, &w);
        c->out->is_done = 1;
        return rc;
    }
    return 0; /* ping, content_block_stop and future event types */
}

static int ol_decode(struct dctx *c, const struct jscan_val *root)
{
    struct jscan_iter it;
    struct jscan_val k, v;
    int rc = 0;
    jscan_iter_init(&it, root);
    while (rc == 0 && jscan_iter_next(&it, &k, &v) == 1) {
        if (D_KEY(&k, "response")) {
            rc = d_opt_string(c, &v, "response is not a string");
        } else if (D_KEY(&k, "thinking")) {
            rc = d_opt_string(c, &v, "thinking is not a string");
        } else if (D_KEY(&k, "message")) {
            int saw_role = 0;
            if (v.type != JSCAN_OBJECT && v.type != JSCAN_NULL)
                return D_MALFORMED(c, "message is not an object");
            struct jscan_val t;
            if (v.type == JSCAN_OBJECT && jscan_get(&v, "thinking", &t))
                rc = d_opt_string(c, &t, "message.thinking is not a string");
            if (rc == 0)
                rc = oa_delta(c, &v, &saw_role);
        } else if (D_KEY(&k, "done")) {
            if (v.type == JSCAN_TRUE)
                c->out->is_done = 1;
            else if (v.type != JSCAN_FALSE)
                return D_MALFORMED(c, "done is not a boolean");
        } else if (D_KEY(&k, "done_reason")) {
            rc = d_finish(c, &v, "done_reason is not a string");
        } else if (D_KEY(&k, "prompt_eval_count")) {
            c->out->has_usage = 1;
            rc = d_int(c, &v, &c->out->prompt_tokens, "prompt_eval_count is not a count");
        } else if (D_KEY(&k, "eval_count")) {
            c->out->has_usage = 1;
            rc = d_int(c, &v, &c->out->completion_tokens, "eval_count is not a count");
        } else if (D_KEY(&k, "error")) {
            if (v.type != JSCAN_NULL)
                d_error_from(c, &v);
        }
    }
    return rc;
}

static int tgi_decode(struct dctx *c, const struct jscan_val *root)
{
    struct jscan_iter it;
    struct jscan_val k, v, gen;
    int rc = 0, has_token = 0, has_gen = 0;
    jscan_iter_init(&it, root);
    while (rc == 0 && jscan_iter_next(&it, &k, &v) == 1) {
        if (D_KEY(&k, "token")) {
            if (v.type == JSCAN_NULL)
                continue;
            if (v.type != JSCAN_OBJECT)
                return D_MALFORMED(c, "token is not an object");
            struct jscan_val t, sp;
            int special = 0;
            has_token = 1;
            c->out->tokens = 1;
            if (jscan_get(&v, "special", &sp)) {
                if (sp.type == JSCAN_TRUE)
                    special = 1;
                else if (sp.type != JSCAN_FALSE)
                    return D_MALFORMED(c, "token.special is not a boolean");
            }
            if (!jscan_get(&v, "text", &t))
                return D_MALFORMED(c, "token without text");
            if (t.type != JSCAN_STRING)
                return D_MALFORMED(c, "token.text is not a string");
            /* special tokens (</s>, <|eot_id|>) are generated but are not output text */
            if (!special)
                rc = d_text(c, &t);
        } else if (D_KEY(&k, "generated_text")) {
            if (v.type == JSCAN_NULL)
                continue;
            if (v.type != JSCAN_STRING)
                return D_MALFORMED(c, "generated_text is not a string");
            has_gen = 1;
            gen = v;
        } else if (D_KEY(&k, "details")) {
            if (v.type == JSCAN_NULL)
                continue;
            if (v.type != JSCAN_OBJECT)
                return D_MALFORMED(c, "details is not an object");
            struct jscan_val f, n;
            if (jscan_get(&v, "finish_reason", &f))
                rc = d_finish(c, &f, "details.finish_reason is not a string");
            if (rc == 0 && jscan_get(&v, "generated_tokens", &n)) {
                c->out->has_usage = 1;
                rc = d_int(c, &n, &c->out->completion_tokens,
                           "details.generated_tokens is not a count");
            }
        } else if (D_KEY(&k, "error")) {
            if (v.type != JSCAN_NULL)
                d_error_from(c, &v);
        }
    }
    if (rc)
        return rc;
    if (has_gen) {
        /* the final stream event repeats the whole text: only a /generate body counts it */
        c->out->is_done = 1;
        if (!has_token)
            rc = d_text(c, &gen);
    }
    return rc;
}

/* For DIALECT_UNKNOWN: the API an event's top-level members show, or DIALECT_UNKNOWN when
 * nothing in it is positive evidence of one (an unsupported API, not a malformed event). */
static enum dialect_id d_guess(const struct jscan_val *root)
{
    static const char *const anthropic_types[] = {
        "message_start", "message_delta", "message_stop", "content_block_start",
        "content_block_delta", "content_block_stop", "ping", "message",
    };
    struct jscan_iter it;
    struct jscan_val k, v;
    enum dialect_id guess = DIALECT_UNKNOWN;
    int has_error = 0;
    jscan_iter_init(&it, root);
    while (jscan_iter_next(&it, &k, &v) == 1) {
        if (D_KEY(&k, "choices"))
            return DIALECT_OPENAI_CHAT;
        if (D_KEY(&k, "type") && v.type == JSCAN_STRING) {
            if (v.len > 9 && !v.escaped && memcmp(v.p, "response.", 9) == 0)
                return DIALECT_OPENAI_RESPONSES;
            for (size_t i = 0; i < sizeof anthropic_types / sizeof anthropic_types[0]; i++)
                if (jscan_key_is(&v, anthropic_types[i]))
                    return DIALECT_ANTHROPIC;
            if (jscan_key_is(&v, "error")) /* Anthropic nests an error object, Responses not */
                guess = jscan_get(root, "error", &v) ? DIALECT_ANTHROPIC : DIALECT_OPENAI_RESPONSES;
        } else if (D_KEY(&k, "object") && v.type == JSCAN_STRING) {
            if (jscan_key_is(&v, "response"))
                return DIALECT_OPENAI_RESPONSES;
            if (jscan_key_is(&v, "error")) /* vLLM's {"object":"error",…} */
                has_error = 1;
        } else if (D_KEY(&k, "token") || D_KEY(&k, "generated_text") || D_KEY(&k, "error_type")) {
            return DIALECT_TGI;
        } else if (D_KEY(&k, "done") || (D_KEY(&k, "response") && v.type == JSCAN_STRING)) {
            return DIALECT_OLLAMA_CHAT;
        } else if (D_KEY(&k, "error")) {
            has_error = 1;
        }
    }
    if (guess == DIALECT_UNKNOWN && has_error)
        guess = DIALECT_OPENAI_CHAT; /* an error object: its decoder reads every API's shape */
    return guess;
}

static int d_type_is(const char *t, size_t n, const char *s)
{
    size_t m = strlen(s);
    return t && n == m && memcmp(t, s, m) == 0;
}

/* ---- OpenAI Responses ----------------------------------------------------------------------
 *
 * A streamed event is read in one validating pass of jscan's pull reader that keeps the few
 * top-level members it needs ("type", "delta", "response", "message", "code") as slices: the
 * *.delta events that make up almost the whole stream cost that one pass and no tree. The
 * response object of the three terminal events and whole (non-streamed) bodies are rare and
 * are read from a token tape. */

/* Event types whose "delta" string is generated output (text, refusal, reasoning, tool input). */
static int rs_is_content_delta(const struct jscan_val *t)
{
    static const char *const types[] = {
        "response.output_text.delta", "response.refusal.delta",
        "response.reasoning_summary_text.delta", "response.reasoning_text.delta",
        "response.function_call_arguments.delta", "response.custom_tool_call_input.delta",
        "response.mcp_call_arguments.delta", "response.audio.transcript.delta",
        "response.code_interpreter_call_code.delta",
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (jscan_key_is(t, types[i]))
            return 1;
    return 0;
}

/* usage {input_tokens, output_tokens, input_tokens_details.cached_tokens,
 * output_tokens_details.reasoning_tokens} */
static int rs_usage(struct dctx *c, const struct jscan_val *u)
{
    static const struct d_usage_key keys[] = {
        {"input_tokens", NULL, U_PROMPT, "usage.input_tokens is not a count"},
        {"output_tokens", NULL, U_COMPLETION, "usage.output_tokens is not a count"},
        {"input_tokens_details", "cached_tokens", U_CACHED, "usage.cached_tokens is not a count"},
        {"output_tokens_details", "reasoning_tokens", U_REASONING,
         "usage.reasoning_tokens is not a count"},
    };
    if (u->type == JSCAN_NULL)
        return 0;
    int64_t vals[U_SLOTS] = {-1, -1, -1, -1, -1};
    int rc = d_usage_counts(c, u, keys, sizeof keys / sizeof keys[0], vals);
    if (rc == 0)
        d_usage_store(c, vals);
    return rc;
}

/* One item of a whole response's output[]: message content parts, reasoning summary and text,
 * function-call arguments. */
static int rs_output_item(struct dctx *c, const struct jscan_val *item)
{
    struct jscan_val t, v, parts, part, pt;
    struct jscan_iter it;
    int rc = 0;
    if (item->type != JSCAN_OBJECT)
        return D_MALFORMED(c, "output item is not an object");
    if (!jscan_get(item, "type", &t) || t.type != JSCAN_STRING)
        return D_MALFORMED(c, "output item without a type");
    if (jscan_key_is(&t, "function_call") || jscan_key_is(&t, "custom_tool_call")) {
        if (jscan_get(item, "arguments", &v) || jscan_get(item, "input", &v))
            return d_opt_string(c, &v, "function call arguments are not a string");
        return 0;
    }
    static const char *const lists[] = {"summary", "content"};
    for (size_t l = 0; l < 2 && rc == 0; l++) {
        if (!jscan_get(item, lists[l], &parts) || parts.type == JSCAN_NULL)
            continue;
        if (parts.type != JSCAN_ARRAY)
            return D_MALFORMED(c, "output item content is not an array");
        jscan_iter_init(&it, &parts);
        while (rc == 0 && jscan_iter_next(&it, NULL, &part) == 1) {
            if (part.type != JSCAN_OBJECT)
                return D_MALFORMED(c, "content part is not an object");
            if (!jscan_get(&part, "type", &pt) || pt.type != JSCAN_STRING)
                continue;
            if (jscan_get(&part, "text", &v) ||
                (jscan_key_is(&pt, "refusal") && jscan_get(&part, "refusal", &v)))
                rc = d_opt_string(c, &v, "content part text is not a string");
        }
    }
    return rc;
}

/* The response object (terminal events' "response", or a whole body): status and
 * incomplete_details.reason as the finish reason, error, usage; with_output: its text too. */
static int rs_response(struct dctx *c, const struct jscan_val *resp, int with_output)
{
    struct jscan_val v, r;
    int rc = 0;
    if (resp->type != JSCAN_OBJECT)
        return D_MALFORMED(c, "response is not an object");
    if (jscan_get(resp, "status", &v) && v.type == JSCAN_STRING) {
        c->has_finish = 1;
        c->finish = v;
    }
    if (jscan_get(resp, "incomplete_details", &v) && v.type == JSCAN_OBJECT &&
        jscan_get(&v, "reason", &r) && r.type == JSCAN_STRING) {
        c->has_finish = 1;
        c->finish = r;
    }
    if (jscan_get(resp, "error", &v) && v.type != JSCAN_NULL)
        d_error_from(c, &v);
    if (jscan_get(resp, "usage", &v))
        rc = rs_usage(c, &v);
    if (rc == 0 && with_output && jscan_get(resp, "output", &v) && v.type != JSCAN_NULL) {
        struct jscan_iter it;
        struct jscan_val item;
        if (v.type != JSCAN_ARRAY)
            return D_MALFORMED(c, "output is not an array");
        jscan_iter_init(&it, &v);
        while (rc == 0 && jscan_iter_next(&it, NULL, &item) == 1)
            rc = rs_output_item(c, &item);
    }
    return rc;
}

static const char *rs_syntax_why(int rc)
{
    return rc == JSCAN_ERR_UTF8 ? "invalid UTF-8 in event JSON"
         : rc == JSCAN_ERR_TRUNCATED ? "event JSON is truncated"
         : rc == JSCAN_ERR_DEPTH ? "event JSON nested too deeply"
         : "event data is not valid JSON";
}

/* A whole response body, or an event whose members could not all be kept on the fast pass. */
static int rs_decode_tree(struct dctx *c, const char *p, size_t len)
{
    struct jscan_val root, v, obj;
    struct jscan_tape tape;
    struct jscan_tok toks[256];
    int rc = jscan_parse_tape(p, len, &tape, toks, sizeof toks / sizeof toks[0], &root, NULL);
    if (rc)
        return D_MALFORMED(c, rs_syntax_why(rc));
    if (root.type != JSCAN_OBJECT)
        return D_MALFORMED(c, "event JSON is not an object");
    if (jscan_get(&root, "error", &v) && v.type != JSCAN_NULL && !jscan_get(&root, "object", &obj)) {
        d_error_from(c, &v); /* an error body: {"error": {…}} */
        return 0;
    }
    if (!jscan_get(&root, "output", &v) && !jscan_get(&root, "status", &v) &&
        !(jscan_get(&root, "object", &obj) && jscan_key_is(&obj, "response")))
        return D_MALFORMED(c, "body is neither a response object nor a typed event");
    c->out->is_done = 1;
    return rs_response(c, &root, 1);
}

/* One Responses event (or body). etype: the SSE event name, used when the data has no type. */
static int rs_decode(struct dctx *c, const char *etype, size_t etype_len, const char *p,
                     size_t len)
{
    struct jscan_reader r;
    struct jscan_val k, v, type = {0}, delta = {0}, resp = {0}, msg = {0}, code = {0};
    int m, rc;
    jscan_reader_init(&r, p, len);
    if (jscan_reader_peek(&r) != '{') {
        rc = jscan_reader_value(&r, &v);
        if (rc == 0)
            rc = jscan_reader_end(&r);
        return D_MALFORMED(c, rc ? rs_syntax_why(rc) : "event JSON is not an object");
    }
    if ((rc = jscan_reader_open(&r)) != 0)
        return D_MALFORMED(c, rs_syntax_why(rc));
    for (int first = 1; (m = jscan_reader_next(&r, first, 1, &k)) == 1; first = 0) {
        if ((rc = jscan_reader_value(&r, &v)) != 0)
            return D_MALFORMED(c, rs_syntax_why(rc));
        if (D_KEY(&k, "type") && !type.type)
            type = v;
        else if (D_KEY(&k, "delta") && !delta.type)
            delta = v;
        else if (D_KEY(&k, "response") && !resp.type)
            resp = v;
        else if (D_KEY(&k, "message") && !msg.type)
            msg = v;
        else if (D_KEY(&k, "code") && !code.type)
            code = v;
    }
    if (m != 0)
        return D_MALFORMED(c, rs_syntax_why(m));
    if ((rc = jscan_reader_end(&r)) != 0)
        return D_MALFORMED(c, rs_syntax_why(rc));
    if (!type.type && etype && etype_len && !d_type_is(etype, etype_len, "message")) {
        type.type = JSCAN_STRING;
        type.p = etype;
        type.len = etype_len;
    }
    if (!type.type)
        return rs_decode_tree(c, p, len); /* a whole response object, or an error body */
    if (type.type != JSCAN_STRING)
        return D_MALFORMED(c, "responses event type is not a string");
    if (rs_is_content_delta(&type)) {
        if (delta.type != JSCAN_STRING)
            return D_MALFORMED(c, delta.type ? "delta is not a string" : "delta event without delta");
        return d_text(c, &delta);
    }
    if (jscan_key_is(&type, "response.completed") || jscan_key_is(&type, "response.incomplete") ||
        jscan_key_is(&type, "response.failed")) {
        c->out->is_done = 1;
        if (!resp.type)
            return D_MALFORMED(c, "terminal event without a response object");
        if (resp.type != JSCAN_OBJECT)
            return D_MALFORMED(c, "response is not an object");
        /* the reader's slices carry no tape: the response object is walked from its bytes */
        rc = rs_response(c, &resp, 0);
        if (rc == 0 && jscan_key_is(&type, "response.failed"))
            c->out->is_error = 1;
        return rc;
    }
    if (jscan_key_is(&type, "error")) {
        c->out->is_error = 1;
        if (msg.type == JSCAN_STRING) {
            c->has_errmsg = 1;
            c->errmsg = msg;
        } else if (code.type == JSCAN_STRING) {
            c->has_errmsg = 1;
            c->errmsg = code;
        }
        return 0;
    }
    return 0; /* created, in_progress, *.added, *.done and future event types: no output */
}


static void d_event_clear(struct dialect_event *o)
{
    memset(o, 0, sizeof *o);
    o->prompt_tokens = -1;
    o->completion_tokens = -1;
    o->cached_tokens = -1;
    o->reasoning_tokens = -1;
}

/* A fresh context for decoding one event into out. */
static void dctx_start(struct dctx *c, struct dialect_event *out, struct buf *scratch)
{
    memset(c, 0, sizeof *c);
    c->out = out;
    c->scratch = scratch;
    d_event_clear(out);
}

int dialect_decode_event(enum dialect_id d, const char *event_type, size_t type_len,
                         const char *data, size_t len, struct dialect_event *out,
                         struct buf *scratch, const char **why)
{
    return dialect_decode_event_shaped(d, event_type, type_len, data, len, out, scratch, NULL,
                                       why);
}

static int d_decode(enum dialect_id d, const char *event_type, size_t type_len, const char *data,
                    size_t len, struct dialect_event *out, struct buf *scratch,
                    struct dialect_shape *shape, const char **why, int fast);

int dialect_decode_event_shaped(enum dialect_id d, const char *event_type, size_t type_len,
                                const char *data, size_t len, struct dialect_event *out,
                                struct buf *scratch, struct dialect_shape *shape,
                                const char **why)
{
    return d_decode(d, event_type, type_len, data, len, out, scratch, shape, why, 1);
}

int dialect_decode_event_reference(enum dialect_id d, const char *event_type, size_t type_len,
                                   const char *data, size_t len, struct dialect_event *out,
                                   struct buf *scratch, const char **why)
{
    return d_decode(d, event_type, type_len, data, len, out, scratch, NULL, why, 0);
}

static int d_decode(enum dialect_id d, const char *event_type, size_t type_len, const char *data,
                    size_t len, struct dialect_event *out, struct buf *scratch,
                    struct dialect_shape *shape, const char **why, int fast)
{
    struct dctx c;
    dctx_start(&c, out, scratch);
    out->dialect = d;
    if (why)
        *why = NULL;
    if (!data)
        len = 0;
    size_t b = 0, e = len;
    while (b < e && (data[b] == ' ' || data[b] == '\t' || data[b] == '\n' || data[b] == '\r'))
        b++;
    while (e > b && (data[e - 1] == ' ' || data[e - 1] == '\t' || data[e - 1] == '\n' ||
                     data[e - 1] == '\r'))
        e--;
    /* an empty data field (some proxies' keep-alive) carries nothing */
    if (b == e)
        return 0;
    if (e - b == 6 && memcmp(data + b, "[DONE]", 6) == 0) {
        out->is_done = 1;
        return 0;
    }
    int is_error_event = d_type_is(event_type, type_len, "error");
    if (d == DIALECT_OPENAI_RESPONSES) {
        if (!scratch) {
            if (why)
                *why = "no scratch buffer";
            return DIALECT_ERR_NOMEM;
        }
        int rrc = rs_decode(&c, event_type, type_len, data + b, e - b);
        if (rrc == 0)
            rrc = d_finalize(&c);
        if (rrc) {
            if (why)
                *why = rrc == DIALECT_ERR_NOMEM ? "out of memory" : c.why;
            d_event_clear(out);
            out->dialect = d;
        }
        return rrc;
    }
    if (fast && (d == DIALECT_OPENAI_CHAT || d == DIALECT_OPENAI_COMPLETIONS) && scratch &&
        !is_error_event) {
        int frc = shape ? oa_shape_match(&c, shape, data + b, e - b) : OA_FAST_BAIL;
        if (frc == 0)
            frc = d_finalize(&c);
        if (frc == 0)
            return 0;
        if (frc == OA_FAST_BAIL) {
            dctx_start(&c, out, scratch);
            frc = oa_fast(&c, data + b, e - b);
            if (frc == 0)
                frc = d_finalize(&c);
            if (frc == 0) {
                if (shape)
                    oa_shape_store(shape, &c, data + b, e - b);
                return 0;
            }
        }
        if (frc == DIALECT_ERR_NOMEM) {
            if (why)
                *why = "out of memory";
            d_event_clear(out);
            return frc;
        }
        /* bail: start over on the full path */
        dctx_start(&c, out, scratch);
    }
    struct jscan_val root;
    struct jscan_tape tape;
    /* a chunk has a few dozen values; bigger bodies fall back to walking the bytes */
    struct jscan_tok toks[256];
    int rc = jscan_parse_tape(data + b, e - b, &tape, toks, sizeof toks / sizeof toks[0], &root,
                              NULL);
    if (rc) {
        if (is_error_event) { /* an error event whose data is plain text */
            out->is_error = 1;
            out->error_message = data + b;
            out->error_message_len = e - b;
            return 0;
        }
        if (d == DIALECT_UNKNOWN) { /* not JSON: no known API's event at all */
            if (why)
                *why = "event data is not JSON and the API is not a known one";
            return DIALECT_ERR_UNSUPPORTED;
        }
        if (why)
            *why = rc == JSCAN_ERR_UTF8 ? "invalid UTF-8 in event JSON"
                 : rc == JSCAN_ERR_TRUNCATED ? "event JSON is truncated"
                 : rc == JSCAN_ERR_DEPTH ? "event JSON nested too deeply"
                 : "event data is not valid JSON";
        return DIALECT_ERR_MALFORMED;
    }
    if (root.type != JSCAN_OBJECT) {
        if (why)
            *why = d == DIALECT_UNKNOWN ? "event JSON is not an object and the API is not a known one"
                                        : "event JSON is not an object";
        return d == DIALECT_UNKNOWN ? DIALECT_ERR_UNSUPPORTED : DIALECT_ERR_MALFORMED;
    }
    if (!scratch) {
        if (why)
            *why = "no scratch buffer";
        return DIALECT_ERR_NOMEM;
    }
    if (d == DIALECT_UNKNOWN) {
        d = d_guess(&root);
        if (d == DIALECT_UNKNOWN) {
            if (why)
                *why = "the event matches no API llmtrace decodes";
            return DIALECT_ERR_UNSUPPORTED;
        }
        out->dialect = d;
        if (d == DIALECT_OPENAI_RESPONSES) {
            rc = rs_decode(&c, event_type, type_len, data + b, e - b);
            if (rc == 0)
                rc = d_finalize(&c);
            if (rc) {
                if (why)
                    *why = rc == DIALECT_ERR_NOMEM ? "out of memory" : c.why;
                d_event_clear(out);
                out->dialect = d;
            }
            return rc;
        }
    }
    switch (d) {
    case DIALECT_ANTHROPIC:
        rc = an_decode(&c, event_type, type_len, &root);
        break;
    case DIALECT_OLLAMA_GENERATE:
    case DIALECT_OLLAMA_CHAT:
        rc = ol_decode(&c, &root);
        break;
    case DIALECT_TGI:
        rc = tgi_decode(&c, &root);
        break;
    default:
        rc = oa_decode(&c, &root);
    }
    if (rc == 0 && is_error_event && !out->is_error) {
        struct jscan_val ev;
        out->is_error = 1;
        if (jscan_get(&root, "error", &ev))
            d_error_from(&c, &ev);
        else if (jscan_get(&root, "message", &ev) && ev.type == JSCAN_STRING)
            d_error_from(&c, &ev);
    }
    if (rc == 0)
        rc = d_finalize(&c);
    if (rc) {
        if (why)
            *why = rc == DIALECT_ERR_NOMEM ? "out of memory" : c.why;
        d_event_clear(out);
        out->dialect = d;
        return rc;
    }
    return 0;
}

static void copy_out(char *out, size_t outlen, const char *s, size_t n)
{
    if (!outlen)
        return;
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

void dialect_error_message(const char *body, size_t len, char *out, size_t outlen)
{
    if (!outlen)
        return;
    out[0] = '\0';
    if (!body)
        return;
    struct jscan_val root, v, m;
    int found = 0;
    if (jscan_parse(body, len, &root, NULL) == 0 && root.type == JSCAN_OBJECT) {
        if (jscan_get(&root, "error", &v)) {
            if (v.type == JSCAN_STRING) {
                m = v;
                found = 1;
            } else if (v.type == JSCAN_OBJECT && jscan_get(&v, "message", &m) &&
                       m.type == JSCAN_STRING) {
                found = 1;
            }
        }
        if (!found && jscan_get(&root, "message", &m) && m.type == JSCAN_STRING)
            found = 1;
        /* FastAPI validation errors: {"detail": "…"} or {"detail": [{"msg": "…"}]} */
        if (!found && jscan_get(&root, "detail", &v)) {
            if (v.type == JSCAN_STRING) {
                m = v;
                found = 1;
            } else if (v.type == JSCAN_ARRAY && jscan_index(&v, 0, &v) &&
                       jscan_get(&v, "msg", &m) && m.type == JSCAN_STRING) {
                found = 1;
            }
        }
    }
    if (found) {
        struct buf tmp;
        buf_init(&tmp, m.len);
        if (jscan_unescape(&m, &tmp) == 0 && tmp.p)
            copy_out(out, outlen, tmp.p, tmp.len);
        else
            copy_out(out, outlen, m.p, m.len);
        buf_free(&tmp);
        return;
    }
    size_t b = 0;
    while (b < len && (body[b] == ' ' || body[b] == '\t' || body[b] == '\r' || body[b] == '\n'))
        b++;
    size_t e = b;
    while (e < len && body[e] != '\n' && body[e] != '\r')
        e++;
    copy_out(out, outlen, body + b, e - b);
}

/* ---- request side ------------------------------------------------------------------------- */

static void count_text(struct dialect_request_info *ri, const char *s)
{
    int in_word = 0;
    for (const char *p = s; *p; p++) {
        int sp = *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' || *p == '\v';
        if (!sp && !in_word)
            ri->prompt_words++;
        in_word = !sp;
        ri->prompt_bytes++;
    }
}

/* A string, or an array of strings / {"text": …} parts. */
static void count_content(struct dialect_request_info *ri, const cJSON *c)
{
    if (cJSON_IsString(c)) {
        count_text(ri, c->valuestring);
        return;
    }
    if (!cJSON_IsArray(c))
        return;
    const cJSON *it;
    cJSON_ArrayForEach(it, c) {
        if (cJSON_IsString(it)) {
            count_text(ri, it->valuestring);
        } else if (cJSON_IsObject(it)) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "text");
            if (cJSON_IsString(t))
                count_text(ri, t->valuestring);
        }
    }
}

static void count_messages(struct dialect_request_info *ri, const cJSON *msgs)
{
    const cJSON *m;
    if (!cJSON_IsArray(msgs))
        return;
    cJSON_ArrayForEach(m, msgs) {
        if (cJSON_IsObject(m))
            count_content(ri, cJSON_GetObjectItemCaseSensitive(m, "content"));
    }
}

static int64_t json_count(const cJSON *v)
{
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9.0e18)
        return -1;
    return (int64_t)v->valuedouble;
}

int dialect_request_info(enum dialect_id d, const cJSON *body, struct dialect_request_info *ri)
{
    memset(ri, 0, sizeof *ri);
    ri->stream = -1;
    ri->max_tokens = -1;
    if (!cJSON_IsObject(body))
        return -1;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "model");
    if (cJSON_IsString(v))
        ri->model = v->valuestring;
    v = cJSON_GetObjectItemCaseSensitive(body, "stream");
    if (cJSON_IsBool(v))
        ri->stream = cJSON_IsTrue(v);
    else if (!v && (d == DIALECT_OLLAMA_CHAT || d == DIALECT_OLLAMA_GENERATE))
        ri->stream = 1; /* Ollama streams unless told otherwise */
    else if (!v && d != DIALECT_TGI && d != DIALECT_UNKNOWN)
        ri->stream = 0;
    v = cJSON_GetObjectItemCaseSensitive(body, "ignore_eos");
    ri->ignore_eos = cJSON_IsTrue(v);
    v = cJSON_GetObjectItemCaseSensitive(body, "stream_options");
    if (cJSON_IsObject(v))
        ri->include_usage = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "include_usage"));
    const cJSON *opt;
    switch (d) {
    case DIALECT_OLLAMA_CHAT:
    case DIALECT_OLLAMA_GENERATE:
        opt = cJSON_GetObjectItemCaseSensitive(body, "options");
        if (cJSON_IsObject(opt))
            ri->max_tokens = json_count(cJSON_GetObjectItemCaseSensitive(opt, "num_predict"));
        count_content(ri, cJSON_GetObjectItemCaseSensitive(body, "system"));
        count_content(ri, cJSON_GetObjectItemCaseSensitive(body, "prompt"));
        count_messages(ri, cJSON_GetObjectItemCaseSensitive(body, "messages"));
        break;
    case DIALECT_TGI:
        opt = cJSON_GetObjectItemCaseSensitive(body, "parameters");
        if (cJSON_IsObject(opt))
            ri->max_tokens = json_count(cJSON_GetObjectItemCaseSensitive(opt, "max_new_tokens"));
        count_content(ri, cJSON_GetObjectItemCaseSensitive(body, "inputs"));
        break;
    case DIALECT_OPENAI_RESPONSES:
        ri->max_tokens = json_count(cJSON_GetObjectItemCaseSensitive(body, "max_output_tokens"));
        count_content(ri, cJSON_GetObjectItemCaseSensitive(body, "instructions"));
        v = cJSON_GetObjectItemCaseSensitive(body, "input");
        if (cJSON_IsArray(v) && cJSON_GetArraySize(v) > 0 && cJSON_IsObject(cJSON_GetArrayItem(v, 0)))
            count_messages(ri, v); /* input items: {"role", "content": string or parts} */
        else
            count_content(ri, v);
        break;
    default: /* OpenAI chat/completions, Anthropic, unknown */
        v = cJSON_GetObjectItemCaseSensitive(body, "max_tokens");
        ri->max_tokens = json_count(v);
        if (ri->max_tokens < 0)
            ri->max_tokens = json_count(cJSON_GetObjectItemCaseSensitive(body, "max_completion_tokens"));
        count_content(ri, cJSON_GetObjectItemCaseSensitive(body, "system"));
        count_content(ri, cJSON_GetObjectItemCaseSensitive(body, "prompt"));
        count_messages(ri, cJSON_GetObjectItemCaseSensitive(body, "messages"));
    }
    return 0;
}

/* Sets obj[key] = item (replacing), taking ownership of item. 0 or -1. */
static int json_put(cJSON *obj, const char *key, cJSON *item)
{
    if (!item)
        return -1;
    if (cJSON_GetObjectItemCaseSensitive(obj, key)) {
        if (!cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item)) {
            cJSON_Delete(item);
            return -1;
        }
        return 0;
    }
    if (!cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        return -1;
    }
    return 0;
}

/* obj[key] as an object, created when absent (or replaced when not an object). */
static cJSON *json_child_object(cJSON *obj, const char *key)
{
    cJSON *c = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (cJSON_IsObject(c))
        return c;
    if (json_put(obj, key, cJSON_CreateObject()))
        return NULL;
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

int dialect_set_model(enum dialect_id d, cJSON *body, const char *model)
{
    if (!cJSON_IsObject(body) || !model)
        return -1;
    /* TGI's generate routes have no model field; adding one would be an unknown key */
    if (d == DIALECT_TGI && !cJSON_GetObjectItemCaseSensitive(body, "model"))
        return 0;
    return json_put(body, "model", cJSON_CreateString(model));
}

int dialect_set_max_tokens(enum dialect_id d, cJSON *body, int64_t n)
{
    if (!cJSON_IsObject(body))
        return -1;
    cJSON *o;
    switch (d) {
    case DIALECT_OLLAMA_CHAT:
    case DIALECT_OLLAMA_GENERATE:
        o = json_child_object(body, "options");
        return o ? json_put(o, "num_predict", cJSON_CreateNumber((double)n)) : -1;
    case DIALECT_TGI:
        o = json_child_object(body, "parameters");
        return o ? json_put(o, "max_new_tokens", cJSON_CreateNumber((double)n)) : -1;
    case DIALECT_ANTHROPIC:
        return json_put(body, "max_tokens", cJSON_CreateNumber((double)n));
    case DIALECT_OPENAI_RESPONSES:
        return json_put(body, "max_output_tokens", cJSON_CreateNumber((double)n));
    default: {
        int has_mct = cJSON_GetObjectItemCaseSensitive(body, "max_completion_tokens") != NULL;
        int has_mt = cJSON_GetObjectItemCaseSensitive(body, "max_tokens") != NULL;
        /* reasoning models reject max_tokens: a body that only uses the newer name keeps it */
        if (has_mct && json_put(body, "max_completion_tokens", cJSON_CreateNumber((double)n)))
            return -1;
        if (has_mct && !has_mt)
            return 0;
        return json_put(body, "max_tokens", cJSON_CreateNumber((double)n));
    }
    }
}

int dialect_set_ignore_eos(enum dialect_id d, cJSON *body, int on)
{
    if (!cJSON_IsObject(body))
        return -1;
    /* ignore_eos is a vLLM/SGLang extension of the OpenAI chat and completions APIs; the other
     * APIs (Responses included) have no such knob and OpenAI and Anthropic reject unknown keys,
     * so they are left untouched */
    if (d != DIALECT_OPENAI_CHAT && d != DIALECT_OPENAI_COMPLETIONS && d != DIALECT_UNKNOWN)
        return 0;
    if (!on) {
        cJSON_DeleteItemFromObjectCaseSensitive(body, "ignore_eos");
        return 0;
    }
    return json_put(body, "ignore_eos", cJSON_CreateTrue());
}

int dialect_set_stream(enum dialect_id d, cJSON *body, int on)
{
    (void)d;
    if (!cJSON_IsObject(body))
        return -1;
    /* OpenAI rejects stream_options on a non-streaming request */
    if (!on)
        cJSON_DeleteItemFromObjectCaseSensitive(body, "stream_options");
    return json_put(body, "stream", cJSON_CreateBool(on));
}

int dialect_set_include_usage(enum dialect_id d, cJSON *body)
{
    if (!cJSON_IsObject(body))
        return -1;
    /* only OpenAI chat/completions streams omit usage unless asked; Responses streams always
     * carry it in response.completed and have no include_usage */
    if (d != DIALECT_OPENAI_CHAT && d != DIALECT_OPENAI_COMPLETIONS)
        return 0;
    cJSON *so = json_child_object(body, "stream_options");
    return so ? json_put(so, "include_usage", cJSON_CreateTrue()) : -1;
}
