/* import_build.c — turns imported trace rows into trace-log exchange records that
 * llmtrace-replay can send: a streaming request body of the chosen dialect (synthesized prompt
 * for length-only traces, real prompts otherwise), max_tokens pinned to the recorded output
 * length, the trace's recorded lengths as tokens_in/tokens_out (convert/README.md). */
#include "import.h"
#include "synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Anthropic requires max_tokens; this is what an unpinned request asks for. */
#define IMPORT_ANTHROPIC_DEFAULT_MAX 4096

const char *import_dialect_path(enum dialect_id d)
{
    switch (d) {
    case DIALECT_OPENAI_COMPLETIONS: return "/v1/completions";
    case DIALECT_ANTHROPIC: return "/v1/messages";
    case DIALECT_OLLAMA_GENERATE: return "/api/generate";
    case DIALECT_OLLAMA_CHAT: return "/api/chat";
    case DIALECT_TGI: return "/generate_stream";
    case DIALECT_OPENAI_RESPONSES: return "/v1/responses";
    default: return "/v1/chat/completions";
    }
}

static enum dialect_id import_dialect(const struct import_build_opts *o)
{
    return o->dialect == DIALECT_UNKNOWN || o->dialect >= DIALECT_COUNT ? DIALECT_OPENAI_CHAT
                                                                         : o->dialect;
}

static double import_tpw(const struct import_build_opts *o)
{
    return o->tokens_per_word > 0 ? o->tokens_per_word : SYNTH_DEFAULT_TOKENS_PER_WORD;
}

/* Per-request seed: distinct for every (input, line) so requests never share text by chance. */
static uint64_t import_row_seed(const struct import_row *r)
{
    return ((uint64_t)(uint32_t)r->input_index << 40) ^ (uint64_t)r->line;
}

/* The synthesized prompt of a length-only row, appended to b. The endpoint's own per-request
 * tokens (template) are part of the trace's count, so the text makes up the rest. */
static int import_synth_prompt(const struct import_row *r, const struct import_build_opts *o,
                               struct buf *b)
{
    double tpw = import_tpw(o);
    int64_t n = r->tokens_in;
    int64_t over = o->tokens_overhead > 0 && o->tokens_overhead < IMPORT_MAX_TOKENS
                       ? (int64_t)llround(o->tokens_overhead) : 0;
    if (n > 0 && over > 0)
        n = n - over >= 1 ? n - over : 1;
    if (r->n_hash)
        return synth_append_blocks(b, r->hash_ids, r->n_hash, n, import_row_seed(r), tpw);
    return synth_append_words(b, SYNTH_DOMAIN_REQUEST, import_row_seed(r),
                              synth_words_for_tokens(n, tpw));
}

static cJSON *import_user_messages(const char *text)
{
    cJSON *arr = cJSON_CreateArray();
    cJSON *m = cJSON_CreateObject();
    if (!arr || !m || !cJSON_AddStringToObject(m, "role", "user") ||
        !cJSON_AddStringToObject(m, "content", text)) {
        cJSON_Delete(arr);
        cJSON_Delete(m);
        return NULL;
    }
    cJSON_AddItemToArray(arr, m);
    return arr;
}

/* Contents of every message joined by blank lines: the prompt of a text-only dialect. */
static int import_flatten(const cJSON *msgs, struct buf *b)
{
    const cJSON *m;
    int rc = 0;
    cJSON_ArrayForEach(m, msgs) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (!cJSON_IsString(c))
            continue;
        if (b->len)
            rc = buf_append_str(b, "\n\n");
        if (!rc)
            rc = buf_append_str(b, c->valuestring);
        if (rc)
            return rc;
    }
    return 0;
}

static int import_set(cJSON *obj, const char *key, cJSON *v)
{
    if (!v)
        return -1;
    if (cJSON_GetObjectItemCaseSensitive(obj, key))
        return cJSON_ReplaceItemInObjectCaseSensitive(obj, key, v) ? 0 : -1;
    return cJSON_AddItemToObject(obj, key, v) ? 0 : -1;
}

/* A real body (Batch, HAR) replays as recorded, with the model overridden when asked and
 * streaming on for the OpenAI dialects (the replay measures TTFT from the stream). */
static cJSON *import_real_body(const struct import_row *r, const struct import_build_opts *o)
{
    cJSON *b = cJSON_Duplicate(r->body, 1);
    if (!b || !cJSON_IsObject(b))
        return b;
    if (o->model && import_set(b, "model", cJSON_CreateString(o->model))) {
        cJSON_Delete(b);
        return NULL;
    }
    /* (an "input" is the Responses API's only on its path: embeddings have one too) */
    const char *path = r->path ? r->path : "";
    size_t pl = strcspn(path, "?#");
    int responses = pl >= 10 && !memcmp(path + pl - 10, "/responses", 10);
    if ((cJSON_GetObjectItemCaseSensitive(b, "messages") ||
         cJSON_GetObjectItemCaseSensitive(b, "prompt") ||
         (responses && cJSON_GetObjectItemCaseSensitive(b, "input"))) &&
        import_set(b, "stream", cJSON_CreateTrue())) {
        cJSON_Delete(b);
        return NULL;
    }
    return b;
}

cJSON *import_build_body(const struct import_row *r, const struct import_build_opts *o)
{
    if (r->body)
        return import_real_body(r, o);
    enum dialect_id d = import_dialect(o);
    /* the Responses API takes the messages as its input items */
    int chat = d == DIALECT_OPENAI_CHAT || d == DIALECT_ANTHROPIC || d == DIALECT_OLLAMA_CHAT ||
               d == DIALECT_OPENAI_RESPONSES;
    const char *model = o->model ? o->model : r->model ? r->model : "default";
    int64_t pin = o->no_pin_output ? -1 : r->pin_out;
    struct buf text;
    buf_init(&text, (size_t)1 << 30);
    cJSON *msgs = NULL;
    int rc = 0;
    if (r->messages && chat)
        msgs = cJSON_Duplicate(r->messages, 1);
    else if (r->messages)
        rc = import_flatten(r->messages, &text);
    else
        rc = import_synth_prompt(r, o, &text);
    if (!rc && chat && !msgs)
        msgs = import_user_messages(text.p ? text.p : "");
    cJSON *b = cJSON_CreateObject();
    if (rc || !b || (chat && !msgs))
        goto fail;
    if (d != DIALECT_TGI && import_set(b, "model", cJSON_CreateString(model)))
        goto fail;
    if (d == DIALECT_ANTHROPIC) {
        /* Anthropic takes the system prompt beside the messages, not among them */
        cJSON *first = cJSON_GetArrayItem(msgs, 0);
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(first, "role");
        if (cJSON_IsString(role) && !strcmp(role->valuestring, "system")) {
            cJSON *sys = cJSON_DetachItemFromArray(msgs, 0);
            cJSON *c = cJSON_DetachItemFromObjectCaseSensitive(sys, "content");
            cJSON_Delete(sys);
            if (import_set(b, "system", c))
                goto fail;
        }
    }
    if (chat) {
        if (import_set(b, d == DIALECT_OPENAI_RESPONSES ? "input" : "messages", msgs))
            goto fail;
        msgs = NULL;
    } else if (import_set(b, d == DIALECT_TGI ? "inputs" : "prompt",
                          cJSON_CreateString(text.p ? text.p : ""))) {
        goto fail;
    }
    if (import_set(b, "stream", cJSON_CreateTrue()))
        goto fail;
    switch (d) {
    case DIALECT_ANTHROPIC:
        if (import_set(b, "max_tokens",
                       cJSON_CreateNumber((double)(pin > 0 ? pin : IMPORT_ANTHROPIC_DEFAULT_MAX))))
            goto fail;
        break;
    case DIALECT_OLLAMA_CHAT:
    case DIALECT_OLLAMA_GENERATE:
        if (pin > 0) {
            cJSON *opt = cJSON_CreateObject();
            if (import_set(b, "options", opt) ||
                !cJSON_AddNumberToObject(opt, "num_predict", (double)pin))
                goto fail;
        }
        break;
    case DIALECT_OPENAI_RESPONSES:
        /* no ignore_eos: the Responses API has no such knob, and OpenAI rejects unknown keys */
        if (pin > 0 &&
            import_set(b, "max_output_tokens", cJSON_CreateNumber((double)pin)))
            goto fail;
        break;
    case DIALECT_TGI:
        if (pin > 0) {
            cJSON *par = cJSON_CreateObject();
            if (import_set(b, "parameters", par) ||
                !cJSON_AddNumberToObject(par, "max_new_tokens", (double)pin))
                goto fail;
        }
        break;
    default:
        /* vLLM, SGLang, TGI's OpenAI API and llmtrace-sim honour ignore_eos, so the generated
         * length follows the trace rather than the model's whims */
        if (pin > 0 && (import_set(b, "max_tokens", cJSON_CreateNumber((double)pin)) ||
                        import_set(b, "ignore_eos", cJSON_CreateTrue())))
            goto fail;
    }
    buf_free(&text);
    return b;
fail:
    cJSON_Delete(msgs);
    cJSON_Delete(b);
    buf_free(&text);
    return NULL;
}

static char *import_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Length-only formats record token counts as facts of the original exchange. */
static int import_lengths_from_trace(const struct import_row *r)
{
    return (r->format == IMPORT_AZURE || r->format == IMPORT_MOONCAKE ||
            r->format == IMPORT_BURSTGPT) && (r->tokens_in >= 0 || r->tokens_out >= 0);
}

int import_build_exchange(const struct import_row *r, const struct import_build_opts *o,
                          struct tlog_exchange *x)
{
    tlog_exchange_init(x);
    enum dialect_id d = import_dialect(o);
    if (r->body && r->path) {
        enum dialect_id from = dialect_from_request(r->path, strlen(r->path), r->body);
        if (from != DIALECT_UNKNOWN)
            d = from;
    }
    const char *model = o->model ? o->model : r->model ? r->model : "default";
    x->id = import_strdup(r->id);
    x->start_us = r->t_us;
    x->dialect = import_strdup(dialect_name(d));
    x->model = d == DIALECT_TGI && !r->body ? NULL : import_strdup(model);
    x->stream = 1;
    x->req.method = import_strdup(r->method ? r->method : "POST");
    x->req.path = import_strdup(o->path ? o->path : r->path ? r->path : import_dialect_path(d));
    x->req.body = import_build_body(r, o);
    x->tokens_in = r->tokens_in;
    x->tokens_out = r->tokens_out;
    if (r->session && r->turn >= 0) {
        x->session.present = 1;
        x->session.turn = r->turn;
        x->session.think_us = r->think_us;
        if (!(x->session.id = strdup(r->session)))
            goto nomem;
    }
    if (import_lengths_from_trace(r)) {
        /* A length-only trace records what the original service reported: its usage. The
         * record's "trace" object says where the numbers came from. */
        x->usage.present = 1;
        x->usage.prompt_tokens = r->tokens_in;
        x->usage.completion_tokens = r->tokens_out;
        x->tokens_source = TLOG_TOKENS_USAGE;
    }
    if (!x->id || !x->dialect || (!x->model && !(d == DIALECT_TGI && !r->body)) ||
        !x->req.method || !x->req.path || !x->req.body)
        goto nomem;
    if (r->format == IMPORT_HAR) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(r->body, "stream");
        x->stream = cJSON_IsBool(st) ? cJSON_IsTrue(st) : -1;
        x->resp.status = r->resp.status;
        x->resp.ttfb_us = r->resp.ttfb_us;
        x->resp.end_us = r->resp.end_us;
        if (r->resp.text && tlog_exchange_append_text(x, r->resp.text, strlen(r->resp.text)))
            goto nomem;
        if (r->resp.prompt_tokens >= 0 || r->resp.completion_tokens >= 0) {
            x->usage.present = 1;
            x->usage.prompt_tokens = r->resp.prompt_tokens;
            x->usage.completion_tokens = r->resp.completion_tokens;
            x->tokens_source = TLOG_TOKENS_USAGE;
        }
        if (r->resp.status >= 400 &&
            tlog_exchange_set_error(x, TLOG_ERROR_HTTP_STATUS, "recorded in the HAR file"))
            goto nomem;
    }
    cJSON *tr = cJSON_CreateObject();
    if (!tr || !(x->extra = cJSON_CreateObject())) {
        cJSON_Delete(tr);
        goto nomem;
    }
    cJSON_AddItemToObject(x->extra, "trace", tr);
    if (!cJSON_AddStringToObject(tr, "format", import_format_name(r->format)) ||
        (o->input_name && !cJSON_AddStringToObject(tr, "input", o->input_name)) ||
        !cJSON_AddNumberToObject(tr, "line", (double)r->line) ||
        (r->failed && !cJSON_AddTrueToObject(tr, "failed")))
        goto nomem;
    return 0;
nomem:
    tlog_exchange_free(x);
    return IMPORT_ERR_NOMEM;
}

int import_row_to_line(const struct import_row *r, const struct import_build_opts *o,
                       struct buf *out)
{
    struct tlog_exchange x;
    if (import_build_exchange(r, o, &x))
        return IMPORT_ERR_NOMEM;
    struct tlog_write_opts wo = {0};
    int rc = tlog_exchange_to_line(&x, &wo, out);
    tlog_exchange_free(&x);
    if (rc)
        return IMPORT_ERR_NOMEM;
    return 0;
}

int import_lengths_are_trace(const struct tlog_exchange *x)
{
    if (x->tokens_source != TLOG_TOKENS_USAGE)
        return 0;
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(x->extra, "trace"), "format");
    if (!cJSON_IsString(f))
        return 0;
    enum import_format fm = import_format_parse(f->valuestring);
    return fm == IMPORT_AZURE || fm == IMPORT_MOONCAKE || fm == IMPORT_BURSTGPT;
}

cJSON *import_source_json(const char *const *names, const enum import_format *formats, size_t n)
{
    cJSON *s = cJSON_CreateObject();
    if (!s || !cJSON_AddStringToObject(s, "kind", "convert"))
        goto fail;
    if (n > 0 && (!cJSON_AddStringToObject(s, "format", import_format_name(formats[0])) ||
                  !cJSON_AddStringToObject(s, "input", names[0])))
        goto fail;
    if (n > 1) {
        cJSON *arr = cJSON_AddArrayToObject(s, "inputs");
        for (size_t i = 0; arr && i < n; i++) {
            cJSON *e = cJSON_CreateObject();
            if (!e)
                goto fail;
            cJSON_AddItemToArray(arr, e);
            if (!cJSON_AddStringToObject(e, "format", import_format_name(formats[i])) ||
                !cJSON_AddStringToObject(e, "input", names[i]))
                goto fail;
        }
        if (!arr)
            goto fail;
    }
    return s;
fail:
    cJSON_Delete(s);
    return NULL;
}
