/* reply.c — an endpoint's reply (text and tool calls) read back from its response body, and
 * the assistant message that carries it into a session's next turn (see reply.h). */
#include "reply.h"

#include <stdlib.h>
#include <string.h>

#define REPLY_MAX_EVENT (4u << 20)
#define REPLY_MAX_TEXT ((size_t)64 << 20)
#define REPLY_MAX_CALLS 1024

void reply_init(struct reply *r, enum dialect_id d, int stream, const char *content_type)
{
    memset(r, 0, sizeof *r);
    r->d = d;
    r->fr = dialect_framing_for(d, stream, content_type);
    sse_init(&r->sse, REPLY_MAX_EVENT);
    ndjson_init(&r->nd, REPLY_MAX_EVENT);
    buf_init(&r->body, REPLY_MAX_TEXT);
    buf_init(&r->text, REPLY_MAX_TEXT);
}

void reply_free(struct reply *r)
{
    sse_free(&r->sse);
    ndjson_free(&r->nd);
    buf_free(&r->body);
    buf_free(&r->text);
    for (size_t i = 0; i < r->n_calls; i++) {
        free(r->calls[i].id);
        free(r->calls[i].name);
        buf_free(&r->calls[i].args);
    }
    free(r->calls);
    memset(r, 0, sizeof *r);
}

/* The call with this index, created when new. NULL past the cap or on no memory. */
static struct reply_call *reply_call_at(struct reply *r, int index)
{
    for (size_t i = 0; i < r->n_calls; i++)
        if (r->calls[i].index == index)
            return &r->calls[i];
    if (r->n_calls >= REPLY_MAX_CALLS)
        return NULL;
    if (r->n_calls == r->cap_calls) {
        size_t nc = r->cap_calls ? r->cap_calls * 2 : 4;
        struct reply_call *p = realloc(r->calls, nc * sizeof *p);
        if (!p)
            return NULL;
        r->calls = p;
        r->cap_calls = nc;
    }
    struct reply_call *c = &r->calls[r->n_calls++];
    memset(c, 0, sizeof *c);
    c->index = index;
    buf_init(&c->args, REPLY_MAX_TEXT);
    return c;
}

static void set_str(char **dst, const cJSON *v)
{
    if (cJSON_IsString(v) && v->valuestring[0] && !*dst)
        *dst = strdup(v->valuestring);
}

static void add_text(struct reply *r, const cJSON *v)
{
    if (cJSON_IsString(v) && buf_append_str(&r->text, v->valuestring))
        r->bad = 1;
}

/* arguments as JSON text: a string as is (OpenAI), an object printed (Ollama). */
static void add_args(struct reply *r, struct reply_call *c, const cJSON *v)
{
    if (cJSON_IsString(v)) {
        if (buf_append_str(&c->args, v->valuestring))
            r->bad = 1;
    } else if (v && !cJSON_IsNull(v)) {
        char *s = cJSON_PrintUnformatted(v);
        if (!s || buf_append_str(&c->args, s))
            r->bad = 1;
        free(s);
    }
}

static int int_of(const cJSON *v, int dflt)
{
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 1e6 ? (int)v->valuedouble
                                                                             : dflt;
}

/* OpenAI tool_calls (deltas or whole) into r. */
static void oa_calls(struct reply *r, const cJSON *calls)
{
    const cJSON *tc;
    int k = 0;
    cJSON_ArrayForEach(tc, calls) {
        struct reply_call *c = reply_call_at(r, int_of(cJSON_GetObjectItemCaseSensitive(tc, "index"), k));
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(tc, "function");
        k++;
        if (!c) {
            r->bad = 1;
            continue;
        }
        set_str(&c->id, cJSON_GetObjectItemCaseSensitive(tc, "id"));
        set_str(&c->name, cJSON_GetObjectItemCaseSensitive(f, "name"));
        add_args(r, c, cJSON_GetObjectItemCaseSensitive(f, "arguments"));
    }
}

/* Ollama tool_calls: each item is a whole call, appended. */
static void ol_calls(struct reply *r, const cJSON *calls)
{
    const cJSON *tc;
    cJSON_ArrayForEach(tc, calls) {
        struct reply_call *c = reply_call_at(r, (int)r->n_calls);
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(tc, "function");
        if (!c) {
            r->bad = 1;
            continue;
        }
        set_str(&c->id, cJSON_GetObjectItemCaseSensitive(tc, "id"));
        set_str(&c->name, cJSON_GetObjectItemCaseSensitive(f, "name"));
        add_args(r, c, cJSON_GetObjectItemCaseSensitive(f, "arguments"));
    }
}

/* An Anthropic content block (content_block_start's, or one of a whole message's). */
static void an_block(struct reply *r, const cJSON *b, int index, int whole)
{
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(b, "type");
    if (!cJSON_IsString(ty))
        return;
    if (!strcmp(ty->valuestring, "text")) {
        add_text(r, cJSON_GetObjectItemCaseSensitive(b, "text"));
    } else if (!strcmp(ty->valuestring, "tool_use")) {
        struct reply_call *c = reply_call_at(r, index);
        if (!c) {
            r->bad = 1;
            return;
        }
        set_str(&c->id, cJSON_GetObjectItemCaseSensitive(b, "id"));
        set_str(&c->name, cJSON_GetObjectItemCaseSensitive(b, "name"));
        /* streamed input comes as input_json_delta; the start carries an empty object */
        if (whole)
            add_args(r, c, cJSON_GetObjectItemCaseSensitive(b, "input"));
    }
}

/* One event's JSON (a stream event, an NDJSON line, or the whole body). */
static void reply_event(struct reply *r, const cJSON *j)
{
    if (!cJSON_IsObject(j))
        return;
    const cJSON *e;
    switch (r->d) {
    case DIALECT_OPENAI_CHAT: {
        const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(ch, "delta");
        if (!m)
            m = cJSON_GetObjectItemCaseSensitive(ch, "message");
        add_text(r, cJSON_GetObjectItemCaseSensitive(m, "content"));
        oa_calls(r, cJSON_GetObjectItemCaseSensitive(m, "tool_calls"));
        break;
    }
    case DIALECT_OLLAMA_CHAT: {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
        add_text(r, cJSON_GetObjectItemCaseSensitive(m, "content"));
        ol_calls(r, cJSON_GetObjectItemCaseSensitive(m, "tool_calls"));
        break;
    }
    case DIALECT_ANTHROPIC: {
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(j, "type");
        int index = int_of(cJSON_GetObjectItemCaseSensitive(j, "index"), 0);
        if (!cJSON_IsString(ty))
            break;
        if (!strcmp(ty->valuestring, "message")) { /* a whole body */
            int k = 0;
            cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "content"))
                an_block(r, e, k++, 1);
        } else if (!strcmp(ty->valuestring, "content_block_start")) {
            an_block(r, cJSON_GetObjectItemCaseSensitive(j, "content_block"), index, 0);
        } else if (!strcmp(ty->valuestring, "content_block_delta")) {
            const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "delta");
            const cJSON *dt = cJSON_GetObjectItemCaseSensitive(d, "type");
            if (cJSON_IsString(dt) && !strcmp(dt->valuestring, "text_delta")) {
                add_text(r, cJSON_GetObjectItemCaseSensitive(d, "text"));
            } else if (cJSON_IsString(dt) && !strcmp(dt->valuestring, "input_json_delta")) {
                struct reply_call *c = reply_call_at(r, index);
                if (!c)
                    r->bad = 1;
                else
                    add_args(r, c, cJSON_GetObjectItemCaseSensitive(d, "partial_json"));
            }
        }
        break;
    }
    default:
        break;
    }
}

static void reply_json(struct reply *r, const char *p, size_t n)
{
    while (n && (*p == ' ' || *p == '\t'))
        p++, n--;
    if (!n || *p != '{')
        return; /* [DONE], keep-alives */
    cJSON *j = cJSON_ParseWithLength(p, n);
    if (!j) {
        r->bad = 1;
        return;
    }
    reply_event(r, j);
    cJSON_Delete(j);
}

static int reply_on_sse(void *user, const struct sse_event *ev)
{
    reply_json(user, ev->data, ev->data_len);
    return 0;
}

static int reply_on_line(void *user, const char *line, size_t len)
{
    reply_json(user, line, len);
    return 0;
}

void reply_feed(struct reply *r, const char *p, size_t n)
{
    switch (r->fr) {
    case FRAMING_SSE:
        if (sse_feed(&r->sse, p, n, reply_on_sse, r))
            r->bad = 1;
        break;
    case FRAMING_NDJSON:
        if (ndjson_feed(&r->nd, p, n, reply_on_line, r))
            r->bad = 1;
        break;
    default:
        if (buf_append(&r->body, p, n))
            r->bad = 1;
        break;
    }
}

void reply_finish(struct reply *r)
{
    if (r->fr == FRAMING_SSE)
        sse_finish(&r->sse);
    else if (r->fr == FRAMING_NDJSON)
        ndjson_finish(&r->nd, reply_on_line, r);
    else if (r->body.len)
        reply_json(r, r->body.p, r->body.len);
}

/* Arguments text as a JSON value (Anthropic input, Ollama arguments): an object when it
 * parses as one, else {}. */
static cJSON *args_value(const struct reply_call *c)
{
    cJSON *v = c->args.len ? cJSON_ParseWithLength(c->args.p, c->args.len) : NULL;
    if (v && !cJSON_IsObject(v)) {
        cJSON_Delete(v);
        v = NULL;
    }
    return v ? v : cJSON_CreateObject();
}

cJSON *reply_message(const struct reply *r)
{
    const char *text = r->text.p ? r->text.p : "";
    cJSON *m = cJSON_CreateObject(), *calls = NULL;
    if (!m || !cJSON_AddStringToObject(m, "role", "assistant"))
        goto fail;
    switch (r->d) {
    case DIALECT_OPENAI_CHAT:
        if (r->n_calls && !r->text.len ? !cJSON_AddNullToObject(m, "content")
                                       : !cJSON_AddStringToObject(m, "content", text))
            goto fail;
        if (r->n_calls && !(calls = cJSON_AddArrayToObject(m, "tool_calls")))
            goto fail;
        for (size_t i = 0; i < r->n_calls; i++) {
            const struct reply_call *c = &r->calls[i];
            cJSON *tc = cJSON_CreateObject(), *f;
            if (!tc)
                goto fail;
            cJSON_AddItemToArray(calls, tc);
            if ((c->id && !cJSON_AddStringToObject(tc, "id", c->id)) ||
                !cJSON_AddStringToObject(tc, "type", "function") ||
                !(f = cJSON_AddObjectToObject(tc, "function")) ||
                !cJSON_AddStringToObject(f, "name", c->name ? c->name : "") ||
                !cJSON_AddStringToObject(f, "arguments", c->args.p ? c->args.p : ""))
                goto fail;
        }
        return m;
    case DIALECT_OLLAMA_CHAT:
        if (!cJSON_AddStringToObject(m, "content", text))
            goto fail;
        if (r->n_calls && !(calls = cJSON_AddArrayToObject(m, "tool_calls")))
            goto fail;
        for (size_t i = 0; i < r->n_calls; i++) {
            cJSON *tc = cJSON_CreateObject(), *f, *a = args_value(&r->calls[i]);
            if (!tc || !a) {
                cJSON_Delete(tc);
                cJSON_Delete(a);
                goto fail;
            }
            cJSON_AddItemToArray(calls, tc);
            if (!(f = cJSON_AddObjectToObject(tc, "function")) ||
                !cJSON_AddStringToObject(f, "name", r->calls[i].name ? r->calls[i].name : "")) {
                cJSON_Delete(a);
                goto fail;
            }
            cJSON_AddItemToObject(f, "arguments", a);
        }
        return m;
    case DIALECT_ANTHROPIC: {
        if (!r->n_calls) {
            if (!cJSON_AddStringToObject(m, "content", text))
                goto fail;
            return m;
        }
        cJSON *blocks = cJSON_AddArrayToObject(m, "content");
        if (!blocks)
            goto fail;
        if (r->text.len) {
            cJSON *b = cJSON_CreateObject();
            if (!b)
                goto fail;
            cJSON_AddItemToArray(blocks, b);
            if (!cJSON_AddStringToObject(b, "type", "text") ||
                !cJSON_AddStringToObject(b, "text", text))
                goto fail;
        }
        for (size_t i = 0; i < r->n_calls; i++) {
            cJSON *b = cJSON_CreateObject(), *a = args_value(&r->calls[i]);
            if (!b || !a) {
                cJSON_Delete(b);
                cJSON_Delete(a);
                goto fail;
            }
            cJSON_AddItemToArray(blocks, b);
            if (!cJSON_AddStringToObject(b, "type", "tool_use") ||
                (r->calls[i].id && !cJSON_AddStringToObject(b, "id", r->calls[i].id)) ||
                !cJSON_AddStringToObject(b, "name", r->calls[i].name ? r->calls[i].name : "")) {
                cJSON_Delete(a);
                goto fail;
            }
            cJSON_AddItemToObject(b, "input", a);
        }
        return m;
    }
    default:
        break;
    }
fail:
    cJSON_Delete(m);
    return NULL;
}
