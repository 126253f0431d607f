/* request.c — request routing and body validation of llmtrace-sim (see request.h). */
#include "request.h"

#include <stdlib.h>
#include <string.h>

static void acc_text(struct request_prompt *a, const char *s)
{
    int in_word = 0;
    if (a->hash)
        prefix_text(a->hash, s, strlen(s));
    for (; *s; s++) {
        int sp = *s == ' ' || *s == '\n' || *s == '\t' || *s == '\r';
        a->bytes++;
        if (!sp && !in_word)
            a->words++;
        in_word = !sp;
    }
}

/* A JSON value that is prompt text: a string as is, anything else printed compactly (tool
 * arguments given as an object, Anthropic tool_use input). */
static void acc_json(struct request_prompt *a, const cJSON *v)
{
    if (cJSON_IsString(v)) {
        acc_text(a, v->valuestring);
    } else if (v && !cJSON_IsNull(v)) {
        char *t = cJSON_PrintUnformatted(v);
        if (t)
            acc_text(a, t);
        free(t);
    }
}

/* A message content: a string, null, or an array of parts with "text" (Anthropic tool_use
 * parts count their name and input, tool_result parts their content). depth bounds the
 * nesting of tool_result contents. */
static int acc_content_depth(struct request_prompt *a, const cJSON *content, int depth)
{
    const cJSON *part;
    if (!content || cJSON_IsNull(content))
        return 0;
    if (cJSON_IsString(content)) {
        acc_text(a, content->valuestring);
        return 0;
    }
    if (!cJSON_IsArray(content))
        return -1;
    cJSON_ArrayForEach(part, content) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(part, "type");
        if (cJSON_IsString(t)) {
            acc_text(a, t->valuestring);
        } else if (cJSON_IsString(ty) && strcmp(ty->valuestring, "tool_use") == 0) {
            acc_json(a, cJSON_GetObjectItemCaseSensitive(part, "name"));
            acc_json(a, cJSON_GetObjectItemCaseSensitive(part, "input"));
        } else if (cJSON_IsString(ty) && strcmp(ty->valuestring, "tool_result") == 0 && depth < 2) {
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(part, "content");
            if (cJSON_IsString(c) || cJSON_IsArray(c))
                acc_content_depth(a, c, depth + 1);
        }
    }
    return 0;
}

static int acc_content(struct request_prompt *a, const cJSON *content)
{
    return acc_content_depth(a, content, 0);
}

/* OpenAI and Ollama tool calls: [{"function": {"name", "arguments"}}…] (arguments a JSON
 * string in OpenAI's API, an object in Ollama's). */
static void acc_tool_calls(struct request_prompt *a, const cJSON *calls)
{
    const cJSON *c;
    if (!cJSON_IsArray(calls))
        return;
    cJSON_ArrayForEach(c, calls) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(c, "function");
        if (!cJSON_IsObject(f))
            continue;
        acc_json(a, cJSON_GetObjectItemCaseSensitive(f, "name"));
        acc_json(a, cJSON_GetObjectItemCaseSensitive(f, "arguments"));
    }
}

static void acc_mark(struct request_prompt *a, const cJSON *role)
{
    if (a->hash)
        prefix_mark(a->hash, cJSON_IsString(role) ? role->valuestring : "");
}

static const char *acc_messages(struct request_prompt *a, const cJSON *msgs)
{
    const cJSON *m;
    if (!cJSON_IsArray(msgs) || cJSON_GetArraySize(msgs) == 0)
        return "\"messages\" must be a non-empty array";
    cJSON_ArrayForEach(m, msgs) {
        if (!cJSON_IsObject(m))
            return "each message must be an object";
        acc_mark(a, cJSON_GetObjectItemCaseSensitive(m, "role"));
        if (acc_content(a, cJSON_GetObjectItemCaseSensitive(m, "content")) < 0)
            return "message \"content\" must be a string or an array of parts";
        acc_tool_calls(a, cJSON_GetObjectItemCaseSensitive(m, "tool_calls"));
    }
    return NULL;
}


/* Reads an optional non-negative integer field. -1 on a wrong type. */
static int get_int(const cJSON *obj, const char *key, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9e15 ||
        v->valuedouble != (double)(int64_t)v->valuedouble)
        return -1;
    *out = (int64_t)v->valuedouble;
    return 0;
}

static int get_bool(const cJSON *obj, const char *key, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsBool(v))
        return -1;
    *out = cJSON_IsTrue(v);
    return 0;
}

const char *request_validate(enum request_endpoint ep, const cJSON *b, struct request_params *p)
{
    const cJSON *v, *opts;
    const char *why;
    v = cJSON_GetObjectItemCaseSensitive(b, "model");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsString(v))
            return "\"model\" must be a string";
        p->model = v->valuestring;
    }
    if (get_bool(b, "stream", &p->stream) < 0)
        return "\"stream\" must be a boolean";
    if (get_bool(b, "ignore_eos", &p->ignore_eos) < 0)
        return "\"ignore_eos\" must be a boolean";
    switch (ep) {
    case EP_CHAT:
    case EP_COMPL:
        if (ep == EP_CHAT) {
            if ((why = acc_messages(&p->prompt, cJSON_GetObjectItemCaseSensitive(b, "messages"))))
                return why;
        } else {
            v = cJSON_GetObjectItemCaseSensitive(b, "prompt");
            if (cJSON_IsString(v)) {
                acc_text(&p->prompt, v->valuestring);
            } else if (cJSON_IsArray(v) && cJSON_GetArraySize(v) > 0) {
                const cJSON *it;
                cJSON_ArrayForEach(it, v) {
                    if (cJSON_IsString(it))
                        acc_text(&p->prompt, it->valuestring);
                    else if (cJSON_IsNumber(it)) {
                        p->prompt.exact_tokens++;
                        double d = it->valuedouble; /* out-of-range ids hash alike */
                        if (p->prompt.hash)
                            prefix_token_id(p->prompt.hash, d > -9e18 && d < 9e18 ? (int64_t)d : 0);
                    }
                    else
                        return "\"prompt\" must be a string, an array of strings or of token ids";
                }
            } else {
                return "\"prompt\" must be a string or a non-empty array";
            }
        }
        if (get_int(b, "max_tokens", &p->max_tokens) < 0)
            return "\"max_tokens\" must be a non-negative integer";
        if (get_int(b, "max_completion_tokens", &p->max_tokens) < 0)
            return "\"max_completion_tokens\" must be a non-negative integer";
        v = cJSON_GetObjectItemCaseSensitive(b, "stream_options");
        if (v && !cJSON_IsNull(v)) {
            if (!cJSON_IsObject(v) || get_bool(v, "include_usage", &p->include_usage) < 0)
                return "\"stream_options\" must be an object with a boolean \"include_usage\"";
        }
        return NULL;
    case EP_RESP:
        /* instructions: a string, the system prompt (first in the prompt); input: a string or
         * a non-empty array of input items ({"role","content"} messages, or strings) */
        v = cJSON_GetObjectItemCaseSensitive(b, "instructions");
        if (v && !cJSON_IsNull(v)) {
            if (!cJSON_IsString(v))
                return "\"instructions\" must be a string";
            if (p->prompt.hash)
                prefix_mark(p->prompt.hash, "system");
            acc_text(&p->prompt, v->valuestring);
        }
        v = cJSON_GetObjectItemCaseSensitive(b, "input");
        if (cJSON_IsString(v)) {
            if (p->prompt.hash)
                prefix_mark(p->prompt.hash, "user");
            acc_text(&p->prompt, v->valuestring);
        } else if (cJSON_IsArray(v) && cJSON_GetArraySize(v) > 0) {
            const cJSON *it;
            cJSON_ArrayForEach(it, v) {
                if (cJSON_IsString(it)) {
                    acc_text(&p->prompt, it->valuestring);
                    continue;
                }
                if (!cJSON_IsObject(it))
                    return "\"input\" items must be messages with string or part-list content";
                acc_mark(&p->prompt, cJSON_GetObjectItemCaseSensitive(it, "role"));
                if (acc_content(&p->prompt, cJSON_GetObjectItemCaseSensitive(it, "content")) < 0)
                    return "\"input\" items must be messages with string or part-list content";
            }
        } else {
            return "\"input\" must be a string or a non-empty array";
        }
        if (get_int(b, "max_output_tokens", &p->max_tokens) < 0)
            return "\"max_output_tokens\" must be a non-negative integer";
        return NULL;
    case EP_MSG:
        v = cJSON_GetObjectItemCaseSensitive(b, "system"); /* the prompt's start */
        if (v && !cJSON_IsNull(v) && p->prompt.hash)
            prefix_mark(p->prompt.hash, "system");
        if (v && acc_content(&p->prompt, v) < 0)
            return "\"system\" must be a string or an array of text blocks";
        if ((why = acc_messages(&p->prompt, cJSON_GetObjectItemCaseSensitive(b, "messages"))))
            return why;
        if (!cJSON_GetObjectItemCaseSensitive(b, "max_tokens"))
            return "max_tokens: Field required";
        if (get_int(b, "max_tokens", &p->max_tokens) < 0 || p->max_tokens < 0)
            return "max_tokens: Input should be a valid integer";
        return NULL;
    case EP_OGEN:
    case EP_OCHAT:
        p->stream = 1; /* Ollama streams unless told otherwise */
        if (get_bool(b, "stream", &p->stream) < 0)
            return "\"stream\" must be a boolean";
        if (ep == EP_OCHAT) {
            if ((why = acc_messages(&p->prompt, cJSON_GetObjectItemCaseSensitive(b, "messages"))))
                return why;
        } else {
            const cJSON *sys = cJSON_GetObjectItemCaseSensitive(b, "system");
            v = cJSON_GetObjectItemCaseSensitive(b, "prompt");
            if (!cJSON_IsString(v))
                return "\"prompt\" must be a string";
            if (cJSON_IsString(sys))
                acc_text(&p->prompt, sys->valuestring); /* the system prompt comes first */
            acc_text(&p->prompt, v->valuestring);
        }
        opts = cJSON_GetObjectItemCaseSensitive(b, "options");
        if (opts && !cJSON_IsNull(opts)) {
            if (!cJSON_IsObject(opts))
                return "\"options\" must be an object";
            if (get_int(opts, "num_predict", &p->max_tokens) < 0)
                return "\"options.num_predict\" must be a non-negative integer";
            if (get_bool(opts, "ignore_eos", &p->ignore_eos) < 0)
                return "\"options.ignore_eos\" must be a boolean";
        }
        return NULL;
    case EP_TGI:
    case EP_TGI_STREAM:
        v = cJSON_GetObjectItemCaseSensitive(b, "inputs");
        if (!cJSON_IsString(v))
            return "\"inputs\" must be a string";
        acc_text(&p->prompt, v->valuestring);
        opts = cJSON_GetObjectItemCaseSensitive(b, "parameters");
        if (opts && !cJSON_IsNull(opts)) {
            if (!cJSON_IsObject(opts))
                return "\"parameters\" must be an object";
            if (get_int(opts, "max_new_tokens", &p->max_tokens) < 0)
                return "\"parameters.max_new_tokens\" must be a non-negative integer";
            if (get_bool(opts, "ignore_eos", &p->ignore_eos) < 0)
                return "\"parameters.ignore_eos\" must be a boolean";
        }
        p->stream = ep == EP_TGI_STREAM;
        return NULL;
    default:
        return "unsupported endpoint";
    }
}

enum request_endpoint request_route(const char *path, size_t len, const char **allow)
{
    static const struct { const char *p; enum request_endpoint ep; const char *allow; } tbl[] = {
        {"/v1/chat/completions", EP_CHAT, "POST"},   {"/v1/completions", EP_COMPL, "POST"},
        {"/v1/messages", EP_MSG, "POST"},            {"/api/generate", EP_OGEN, "POST"},
        {"/api/chat", EP_OCHAT, "POST"},             {"/generate_stream", EP_TGI_STREAM, "POST"},
        {"/generate", EP_TGI, "POST"},               {"/v1/models", EP_MODELS, "GET"},
        {"/health", EP_HEALTH, "GET"},               {"/metrics", EP_METRICS, "GET"},
        {"/v1/responses", EP_RESP, "POST"},
    };
    size_t i;
    for (i = 0; i < sizeof(tbl) / sizeof(tbl[0]); i++) {
        if (strlen(tbl[i].p) == len && memcmp(tbl[i].p, path, len) == 0) {
            *allow = tbl[i].allow;
            return tbl[i].ep;
        }
    }
    return EP_NONE;
}

enum dialect_id request_dialect(enum request_endpoint ep)
{
    switch (ep) {
    case EP_COMPL: return DIALECT_OPENAI_COMPLETIONS;
    case EP_MSG: return DIALECT_ANTHROPIC;
    case EP_OGEN: return DIALECT_OLLAMA_GENERATE;
    case EP_OCHAT: return DIALECT_OLLAMA_CHAT;
    case EP_TGI: case EP_TGI_STREAM: return DIALECT_TGI;
    case EP_RESP: return DIALECT_OPENAI_RESPONSES;
    default: return DIALECT_OPENAI_CHAT;
    }
}

int64_t request_prompt_tokens(const struct request_params *p, int words)
{
    const struct request_prompt *a = &p->prompt;
    int64_t n;
    if (a->exact_tokens > 0 && a->bytes == 0)
        return a->exact_tokens;
    n = words ? (int64_t)a->words : (int64_t)((a->bytes + 3) / 4);
    n += a->exact_tokens;
    return n > 0 ? n : 1;
}
