/* request.c — request routing and body validation of llmtrace-sim (see request.h). */
#include "request.h"

#include <string.h>

static void acc_text(struct request_prompt *a, const char *s)
{
    int in_word = 0;
    for (; *s; s++) {
        int sp = *s == ' ' || *s == '\n' || *s == '\t' || *s == '\r';
        a->bytes++;
        if (!sp && !in_word)
            a->words++;
        in_word = !sp;
    }
}

/* A message content: a string, null, or an array of parts with "text". */
static int acc_content(struct request_prompt *a, const cJSON *content)
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
        if (cJSON_IsString(t))
            acc_text(a, t->valuestring);
    }
    return 0;
}

static const char *acc_messages(struct request_prompt *a, const cJSON *msgs)
{
    const cJSON *m;
    if (!cJSON_IsArray(msgs) || cJSON_GetArraySize(msgs) == 0)
        return "\"messages\" must be a non-empty array";
    cJSON_ArrayForEach(m, msgs) {
        if (!cJSON_IsObject(m))
            return "each message must be an object";
        if (acc_content(a, cJSON_GetObjectItemCaseSensitive(m, "content")) < 0)
            return "message \"content\" must be a string or an array of parts";
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
                    else if (cJSON_IsNumber(it))
                        p->prompt.exact_tokens++;
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
        /* input: a string or a non-empty array of input items ({"role","content"} messages,
         * or strings); instructions: a string */
        v = cJSON_GetObjectItemCaseSensitive(b, "input");
        if (cJSON_IsString(v)) {
            acc_text(&p->prompt, v->valuestring);
        } else if (cJSON_IsArray(v) && cJSON_GetArraySize(v) > 0) {
            const cJSON *it;
            cJSON_ArrayForEach(it, v) {
                if (cJSON_IsString(it))
                    acc_text(&p->prompt, it->valuestring);
                else if (!cJSON_IsObject(it) ||
                         acc_content(&p->prompt, cJSON_GetObjectItemCaseSensitive(it, "content")) < 0)
                    return "\"input\" items must be messages with string or part-list content";
            }
        } else {
            return "\"input\" must be a string or a non-empty array";
        }
        v = cJSON_GetObjectItemCaseSensitive(b, "instructions");
        if (v && !cJSON_IsNull(v)) {
            if (!cJSON_IsString(v))
                return "\"instructions\" must be a string";
            acc_text(&p->prompt, v->valuestring);
        }
        if (get_int(b, "max_output_tokens", &p->max_tokens) < 0)
            return "\"max_output_tokens\" must be a non-negative integer";
        return NULL;
    case EP_MSG:
        if ((why = acc_messages(&p->prompt, cJSON_GetObjectItemCaseSensitive(b, "messages"))))
            return why;
        v = cJSON_GetObjectItemCaseSensitive(b, "system");
        if (v && acc_content(&p->prompt, v) < 0)
            return "\"system\" must be a string or an array of text blocks";
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
            v = cJSON_GetObjectItemCaseSensitive(b, "prompt");
            if (!cJSON_IsString(v))
                return "\"prompt\" must be a string";
            acc_text(&p->prompt, v->valuestring);
            v = cJSON_GetObjectItemCaseSensitive(b, "system");
            if (cJSON_IsString(v))
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
