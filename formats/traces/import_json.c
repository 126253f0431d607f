/* import_json.c — JSON trace importers: Mooncake JSONL (kvcache-ai/Mooncake FAST'25 traces),
 * ShareGPT-style conversation JSON, HAR 1.2 (W3C Web Performance WG draft "HTTP Archive 1.2"),
 * and OpenAI Batch API input JSONL (platform.openai.com/docs/api-reference/batch). JSON Lines
 * per jsonlines.org: one value per line, blank lines ignored, final newline optional. */
#include "import_parsers.h"
#include "import_row.h"
#include "synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Integer-valued JSON number in [0, cap]: 0 ok, -1 wrong type / not an integer, -2 above cap. */
static int json_uint(const cJSON *v, double cap, int64_t *out)
{
    if (!cJSON_IsNumber(v))
        return -1;
    double d = v->valuedouble;
    if (!isfinite(d) || d < 0 || d != floor(d))
        return -1;
    if (d > cap)
        return -2;
    *out = (int64_t)d;
    return 0;
}

/* Reports a bad integer field of a JSONL line; returns import_report_bad's code. */
static int json_bad_uint(struct import_trace *t, const struct import_opts *o, const char *unit,
                         int64_t n, const char *field, int why, double cap)
{
    if (why == -2)
        return import_report_bad(t, o, "%s %lld: field \"%s\": value exceeds the cap of %.0f",
                                 unit, (long long)n, field, cap);
    return import_report_bad(t, o, "%s %lld: field \"%s\": %s", unit, (long long)n, field,
                             why == -3 ? "missing" : "not a non-negative integer");
}

struct jsonl_cursor {
    const char *p, *end;
    int64_t line;
};

/* Next non-blank line: 1 with (line, len), 0 at the end. */
static int jsonl_next(struct jsonl_cursor *c, const char **line, size_t *len)
{
    while (c->p < c->end) {
        const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
        const char *e = nl ? nl : c->end;
        const char *s = c->p;
        c->p = nl ? nl + 1 : c->end;
        c->line++;
        size_t n = (size_t)(e - s);
        size_t i = 0;
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
            i++;
        if (i == n)
            continue;
        if (c->line == 1 && n - i >= 3 && !memcmp(s + i, "\xEF\xBB\xBF", 3))
            i += 3;
        *line = s + i;
        *len = n - i;
        return 1;
    }
    return 0;
}

/* ---- Mooncake ------------------------------------------------------------------------------ */

int import_parse_mooncake(const char *data, size_t len, const struct import_opts *o,
                          struct import_trace *t)
{
    struct jsonl_cursor c = {data, data + len, 0};
    int64_t base = o->base_us ? o->base_us : IMPORT_DEFAULT_BASE_US;
    const char *line;
    size_t ll;
    while (jsonl_next(&c, &line, &ll)) {
        t->records++;
        cJSON *obj = cJSON_ParseWithLength(line, ll);
        int rc = 0;
        int64_t ms = 0, tin = 0, tout = 0;
        if (!cJSON_IsObject(obj)) {
            rc = import_report_bad(t, o, "line %lld: not a JSON object", (long long)c.line);
            goto next;
        }
        const cJSON *ts = cJSON_GetObjectItemCaseSensitive(obj, "timestamp");
        double tsv = cJSON_IsNumber(ts) ? ts->valuedouble : -1;
        if (!ts || !cJSON_IsNumber(ts) || !isfinite(tsv) || tsv < 0) {
            rc = import_report_bad(t, o, "line %lld: field \"timestamp\": %s", (long long)c.line,
                                   ts ? "not a non-negative number of ms" : "missing");
            goto next;
        }
        if (tsv > (double)IMPORT_MAX_OFFSET_MS) {
            rc = import_report_bad(t, o, "line %lld: field \"timestamp\": value exceeds the cap "
                                   "of %lld ms", (long long)c.line, IMPORT_MAX_OFFSET_MS);
            goto next;
        }
        ms = llround(tsv * 1000.0); /* µs; fractional ms are kept */
        const cJSON *in = cJSON_GetObjectItemCaseSensitive(obj, "input_length");
        const cJSON *out = cJSON_GetObjectItemCaseSensitive(obj, "output_length");
        int w;
        if ((w = in ? json_uint(in, IMPORT_MAX_TOKENS, &tin) : -3)) {
            rc = json_bad_uint(t, o, "line", c.line, "input_length", w, IMPORT_MAX_TOKENS);
            goto next;
        }
        if ((w = out ? json_uint(out, IMPORT_MAX_TOKENS, &tout) : -3)) {
            rc = json_bad_uint(t, o, "line", c.line, "output_length", w, IMPORT_MAX_TOKENS);
            goto next;
        }
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(obj, "hash_ids");
        if (h && !cJSON_IsArray(h) && !cJSON_IsNull(h)) {
            rc = import_report_bad(t, o, "line %lld: field \"hash_ids\": not an array",
                                   (long long)c.line);
            goto next;
        }
        int nh = cJSON_IsArray(h) ? cJSON_GetArraySize(h) : 0;
        if (nh > IMPORT_MAX_HASH_IDS) {
            rc = import_report_bad(t, o, "line %lld: field \"hash_ids\": %d ids exceed the cap "
                                   "of %d", (long long)c.line, nh, IMPORT_MAX_HASH_IDS);
            goto next;
        }
        uint64_t *ids = nh ? malloc((size_t)nh * sizeof *ids) : NULL;
        if (nh && !ids) {
            cJSON_Delete(obj);
            return IMPORT_ERR_NOMEM;
        }
        int k = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, h) {
            int64_t v;
            if (json_uint(e, 9007199254740992.0, &v)) {
                free(ids);
                rc = import_report_bad(t, o, "line %lld: field \"hash_ids\": element %d is not "
                                       "a non-negative integer", (long long)c.line, k);
                goto next;
            }
            ids[k++] = (uint64_t)v;
        }
        struct import_row *r = import_row_new(t, o, IMPORT_MOONCAKE, c.line);
        if (!r || !(r->id = import_make_id(o, IMPORT_MOONCAKE, c.line, NULL))) {
            free(ids);
            cJSON_Delete(obj);
            return IMPORT_ERR_NOMEM;
        }
        r->t_us = base + ms;
        r->tokens_in = tin;
        r->tokens_out = tout;
        r->pin_out = tout;
        r->hash_ids = ids;
        r->n_hash = (size_t)nh;
    next:
        cJSON_Delete(obj);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- OpenAI Batch input --------------------------------------------------------------------- */

int import_parse_batch(const char *data, size_t len, const struct import_opts *o,
                       struct import_trace *t)
{
    struct jsonl_cursor c = {data, data + len, 0};
    struct import_clock clk;
    import_clock_init(&clk, o);
    const char *line;
    size_t ll;
    while (jsonl_next(&c, &line, &ll)) {
        t->records++;
        cJSON *obj = cJSON_ParseWithLength(line, ll);
        int rc = 0;
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(obj, "custom_id");
        const cJSON *url = cJSON_GetObjectItemCaseSensitive(obj, "url");
        const cJSON *method = cJSON_GetObjectItemCaseSensitive(obj, "method");
        cJSON *body = cJSON_GetObjectItemCaseSensitive(obj, "body");
        if (!cJSON_IsObject(obj))
            rc = import_report_bad(t, o, "line %lld: not a JSON object", (long long)c.line);
        else if (!cJSON_IsString(id) || !id->valuestring[0])
            rc = import_report_bad(t, o, "line %lld: field \"custom_id\": %s", (long long)c.line,
                                   id ? "not a non-empty string" : "missing");
        else if (!cJSON_IsString(url) || url->valuestring[0] != '/')
            rc = import_report_bad(t, o, "line %lld: field \"url\": %s", (long long)c.line,
                                   url ? "not a path starting with /" : "missing");
        else if (method && !cJSON_IsString(method))
            rc = import_report_bad(t, o, "line %lld: field \"method\": not a string",
                                   (long long)c.line);
        else if (!cJSON_IsObject(body))
            rc = import_report_bad(t, o, "line %lld: field \"body\": %s", (long long)c.line,
                                   body ? "not an object" : "missing");
        else {
            struct import_row *r = import_row_new(t, o, IMPORT_BATCH, c.line);
            if (!r) {
                cJSON_Delete(obj);
                return IMPORT_ERR_NOMEM;
            }
            r->t_us = import_clock_next(&clk);
            r->id = strdup(id->valuestring);
            r->path = strdup(url->valuestring);
            r->method = strdup(method ? method->valuestring : "POST");
            r->body = cJSON_DetachItemViaPointer(obj, body);
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(r->body, "model");
            if (cJSON_IsString(m))
                r->model = strdup(m->valuestring);
            if (!r->id || !r->path || !r->method || (cJSON_IsString(m) && !r->model)) {
                cJSON_Delete(obj);
                return IMPORT_ERR_NOMEM;
            }
        }
        cJSON_Delete(obj);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- ShareGPT ------------------------------------------------------------------------------- */

/* ShareGPT speaker → chat role; NULL for speakers we do not know. */
static const char *sharegpt_role(const char *from)
{
    if (!strcasecmp(from, "human") || !strcasecmp(from, "user"))
        return "user";
    if (!strcasecmp(from, "gpt") || !strcasecmp(from, "chatgpt") || !strcasecmp(from, "bard") ||
        !strcasecmp(from, "bing") || !strcasecmp(from, "assistant") || !strcasecmp(from, "model"))
        return "assistant";
    if (!strcasecmp(from, "system"))
        return "system";
    return NULL;
}

static cJSON *sharegpt_message(const char *role, const char *content)
{
    cJSON *m = cJSON_CreateObject();
    if (!m || !cJSON_AddStringToObject(m, "role", role) ||
        !cJSON_AddStringToObject(m, "content", content)) {
        cJSON_Delete(m);
        return NULL;
    }
    return m;
}

/* One conversation: each user turn becomes a request carrying every earlier turn. */
static int sharegpt_conversation(const cJSON *conv, int64_t rec, const struct import_opts *o,
                                 struct import_trace *t, struct import_clock *clk)
{
    const cJSON *turns = cJSON_GetObjectItemCaseSensitive(conv, "conversations");
    if (!turns)
        turns = cJSON_GetObjectItemCaseSensitive(conv, "conversation");
    if (!cJSON_IsObject(conv))
        return import_report_bad(t, o, "record %lld: not an object", (long long)rec);
    if (!cJSON_IsArray(turns))
        return import_report_bad(t, o, "record %lld: field \"conversations\": %s",
                                 (long long)rec, turns ? "not an array" : "missing");
    /* validate first so a bad conversation adds no rows */
    int n = cJSON_GetArraySize(turns), users = 0;
    for (int i = 0; i < n; i++) {
        const cJSON *tu = cJSON_GetArrayItem(turns, i);
        const cJSON *from = cJSON_GetObjectItemCaseSensitive(tu, "from");
        const cJSON *val = cJSON_GetObjectItemCaseSensitive(tu, "value");
        if (!cJSON_IsString(from) || !sharegpt_role(from->valuestring))
            return import_report_bad(t, o, "record %lld: field \"conversations[%d].from\": %s",
                                     (long long)rec, i,
                                     cJSON_IsString(from) ? "unknown speaker" : "not a string");
        if (!cJSON_IsString(val))
            return import_report_bad(t, o, "record %lld: field \"conversations[%d].value\": "
                                     "not a string", (long long)rec, i);
        users += !strcmp(sharegpt_role(from->valuestring), "user");
    }
    if (users == 0) {
        t->ignored++;
        return 0;
    }
    const cJSON *cid = cJSON_GetObjectItemCaseSensitive(conv, "id");
    double tpw = o->tokens_per_word > 0 ? o->tokens_per_word : SYNTH_DEFAULT_TOKENS_PER_WORD;
    /* the conversation is the session: its id, else one made like a record id */
    char *sid = cJSON_IsString(cid) && cid->valuestring[0] ? strdup(cid->valuestring)
                                                           : import_make_id(o, IMPORT_SHAREGPT, rec, NULL);
    cJSON *hist = sid ? cJSON_CreateArray() : NULL;
    if (!hist) {
        free(sid);
        return IMPORT_ERR_NOMEM;
    }
    int turn = 0;
    for (int i = 0; i < n; i++) {
        const cJSON *tu = cJSON_GetArrayItem(turns, i);
        const char *role = sharegpt_role(cJSON_GetObjectItemCaseSensitive(tu, "from")->valuestring);
        const char *val = cJSON_GetObjectItemCaseSensitive(tu, "value")->valuestring;
        cJSON *m = sharegpt_message(role, val);
        if (!m) {
            cJSON_Delete(hist);
            free(sid);
            return IMPORT_ERR_NOMEM;
        }
        cJSON_AddItemToArray(hist, m);
        if (strcmp(role, "user"))
            continue;
        turn++;
        struct import_row *r = import_row_new(t, o, IMPORT_SHAREGPT, rec);
        if (!r || !(r->messages = cJSON_Duplicate(hist, 1)) || !(r->session = strdup(sid))) {
            cJSON_Delete(hist);
            free(sid);
            return IMPORT_ERR_NOMEM;
        }
        r->turn = turn - 1; /* 0-based: the user turns before this one */
        /* think_us stays unknown: ShareGPT records no times */
        char suffix[32];
        snprintf(suffix, sizeof suffix, "#%d", turn);
        if (cJSON_IsString(cid) && cid->valuestring[0]) {
            size_t a = strlen(cid->valuestring), b = strlen(suffix);
            r->id = malloc(a + b + 1);
            if (r->id) {
                memcpy(r->id, cid->valuestring, a);
                memcpy(r->id + a, suffix, b + 1);
            }
        } else {
            r->id = import_make_id(o, IMPORT_SHAREGPT, rec, suffix);
        }
        if (!r->id) {
            cJSON_Delete(hist);
            free(sid);
            return IMPORT_ERR_NOMEM;
        }
        r->t_us = import_clock_next(clk);
        /* the recorded reply's estimated length pins the output, as serving benchmarks do */
        const cJSON *nx = cJSON_GetArrayItem(turns, i + 1);
        if (nx) {
            const char *nrole = sharegpt_role(cJSON_GetObjectItemCaseSensitive(nx, "from")->valuestring);
            if (!strcmp(nrole, "assistant")) {
                const char *rv = cJSON_GetObjectItemCaseSensitive(nx, "value")->valuestring;
                int64_t est = synth_estimate_tokens(rv, strlen(rv), tpw);
                r->pin_out = est > 0 ? (est > IMPORT_MAX_TOKENS ? IMPORT_MAX_TOKENS : est) : -1;
            }
        }
    }
    cJSON_Delete(hist);
    free(sid);
    t->sessions++;
    t->linked += turn - 1;
    return 0;
}

int import_parse_sharegpt(const char *data, size_t len, const struct import_opts *o,
                          struct import_trace *t)
{
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(data, len, &end, 0);
    if (!doc) {
        size_t off = end && end >= data ? (size_t)(end - data) : 0;
        import_set_error(t, o, "not valid JSON (near byte %zu)", off);
        return IMPORT_ERR_FORMAT;
    }
    if (!cJSON_IsArray(doc)) {
        cJSON_Delete(doc);
        import_set_error(t, o, "not a JSON array of conversations");
        return IMPORT_ERR_FORMAT;
    }
    struct import_clock clk;
    import_clock_init(&clk, o);
    int64_t rec = 0;
    const cJSON *conv;
    cJSON_ArrayForEach(conv, doc) {
        rec++;
        t->records++;
        int rc = sharegpt_conversation(conv, rec, o, t, &clk);
        if (rc) {
            cJSON_Delete(doc);
            return rc;
        }
    }
    cJSON_Delete(doc);
    return 0;
}

/* ---- HAR 1.2 -------------------------------------------------------------------------------- */

/* Request paths of the LLM APIs llmtrace knows; other entries (pages, images) are ignored. */
static int har_is_llm_path(const char *path)
{
    static const char *const ends[] = {"/chat/completions", "/completions", "/messages",
                                       "/responses", "/api/generate", "/api/chat",
                                       "/generate_stream", "/generate", "/invocations"};
    size_t n = strcspn(path, "?#");
    for (size_t i = 0; i < sizeof ends / sizeof *ends; i++) {
        size_t el = strlen(ends[i]);
        if (n >= el && !memcmp(path + n - el, ends[i], el))
            return 1;
    }
    return 0;
}

/* "https://host:443/v1/chat/completions?x" → "/v1/chat/completions?x"; NULL when no path. */
static const char *har_path_of(const char *url)
{
    const char *s = strstr(url, "://");
    s = s ? s + 3 : url;
    return strchr(s, '/');
}

static double har_ms(const cJSON *timings, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(timings, k);
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble > 0 &&
                   v->valuedouble < 8.64e7 /* a day */
               ? v->valuedouble
               : 0;
}

static void har_usage(const cJSON *obj, struct import_resp *rs)
{
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(obj, "usage");
    if (!cJSON_IsObject(u))
        return;
    int64_t v;
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens");
    if (!pt)
        pt = cJSON_GetObjectItemCaseSensitive(u, "input_tokens");
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(u, "completion_tokens");
    if (!ct)
        ct = cJSON_GetObjectItemCaseSensitive(u, "output_tokens");
    if (!json_uint(pt, IMPORT_MAX_TOKENS, &v))
        rs->prompt_tokens = v;
    if (!json_uint(ct, IMPORT_MAX_TOKENS, &v))
        rs->completion_tokens = v;
}

/* Output text of one OpenAI-style JSON object (chunk or whole body), appended to b. */
static int har_text_of(const cJSON *obj, struct buf *b)
{
    const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(obj, "choices"), 0);
    const cJSON *s = NULL;
    if (ch) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(ch, "delta");
        if (!d)
            d = cJSON_GetObjectItemCaseSensitive(ch, "message");
        s = d ? cJSON_GetObjectItemCaseSensitive(d, "content")
              : cJSON_GetObjectItemCaseSensitive(ch, "text");
    }
    if (!s) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, "message"); /* Ollama chat */
        s = m ? cJSON_GetObjectItemCaseSensitive(m, "content")
              : cJSON_GetObjectItemCaseSensitive(obj, "response");
    }
    return cJSON_IsString(s) ? buf_append_str(b, s->valuestring) : 0;
}

/* RFC 4648 base64 (either alphabet, not mixed; padding optional; whitespace skipped) into b,
 * NUL-terminated. 0; IMPORT_ERR_FORMAT for a byte outside the alphabet, a decoded NUL, more
 * than b holds, or a bad tail; IMPORT_ERR_NOMEM. */
static int har_base64(const char *s, struct buf *b)
{
    uint32_t acc = 0;
    int bits = 0, pad = 0, alphabet = 0; /* 1: + and /, 2: - and _ (RFC 4648 §5) */
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int v, alpha = 0;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '+' || c == '/')
            v = c == '+' ? 62 : 63, alpha = 1;
        else if (c == '-' || c == '_')
            v = c == '-' ? 62 : 63, alpha = 2;
        else if (c == '=') {
            pad++;
            continue;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        else
            return IMPORT_ERR_FORMAT;
        if (pad)
            return IMPORT_ERR_FORMAT; /* data after padding */
        if (alpha && alphabet && alpha != alphabet)
            return IMPORT_ERR_FORMAT; /* the two alphabets mixed */
        if (alpha)
            alphabet = alpha;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            char byte = (char)((acc >> bits) & 0xFF);
            if (byte == 0)
                return IMPORT_ERR_FORMAT; /* a NUL: not a text body */
            int rc = buf_append_char(b, byte);
            if (rc)
                return rc == BUF_ERR_NOMEM ? IMPORT_ERR_NOMEM : IMPORT_ERR_FORMAT; /* too big */
        }
    }
    if (bits >= 6 || pad > 2 || (acc & ((1u << bits) - 1)) != 0)
        return IMPORT_ERR_FORMAT; /* a lone sextet, or leftover bits that are not zero */
    int rc = buf_append_char(b, 0);
    return rc == 0 ? 0 : rc == BUF_ERR_NOMEM ? IMPORT_ERR_NOMEM : IMPORT_ERR_FORMAT;
}

/* Recovers output text and usage from a recorded response body: one JSON object, an SSE
 * stream (data: lines) or NDJSON. Unknown shapes leave the text empty. */
static int har_response_body(const char *text, struct import_resp *rs)
{
    struct buf b;
    buf_init(&b, (size_t)64 << 20);
    cJSON *whole = cJSON_Parse(text);
    int rc = 0;
    if (cJSON_IsObject(whole)) {
        rc = har_text_of(whole, &b);
        har_usage(whole, rs);
    } else {
        const char *p = text;
        while (*p && !rc) {
            size_t n = strcspn(p, "\n");
            const char *l = p;
            size_t ln = n;
            if (ln && l[ln - 1] == '\r')
                ln--;
            if (ln >= 5 && !memcmp(l, "data:", 5)) {
                l += 5;
                ln -= 5;
                while (ln && *l == ' ') {
                    l++;
                    ln--;
                }
            }
            cJSON *ev = ln && *l == '{' ? cJSON_ParseWithLength(l, ln) : NULL;
            if (cJSON_IsObject(ev)) {
                rc = har_text_of(ev, &b);
                har_usage(ev, rs);
            }
            cJSON_Delete(ev);
            p += n + (p[n] == '\n');
        }
    }
    cJSON_Delete(whole);
    if (!rc && b.len)
        rs->text = buf_steal(&b);
    buf_free(&b);
    return rc ? IMPORT_ERR_NOMEM : 0;
}

static int har_entry(const cJSON *e, int64_t rec, const struct import_opts *o,
                     struct import_trace *t)
{
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(e, "request");
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(req, "url");
    const cJSON *method = cJSON_GetObjectItemCaseSensitive(req, "method");
    const cJSON *started = cJSON_GetObjectItemCaseSensitive(e, "startedDateTime");
    if (!cJSON_IsObject(e))
        return import_report_bad(t, o, "record %lld: not an object", (long long)rec);
    if (!cJSON_IsObject(req))
        return import_report_bad(t, o, "record %lld: field \"request\": missing",
                                 (long long)rec);
    if (!cJSON_IsString(url))
        return import_report_bad(t, o, "record %lld: field \"request.url\": not a string",
                                 (long long)rec);
    if (!cJSON_IsString(method))
        return import_report_bad(t, o, "record %lld: field \"request.method\": not a string",
                                 (long long)rec);
    const char *path = har_path_of(url->valuestring);
    if (!path || !har_is_llm_path(path)) {
        t->ignored++;
        return 0;
    }
    int64_t t0;
    if (!cJSON_IsString(started) ||
        import_parse_timestamp(started->valuestring, strlen(started->valuestring), &t0)) {
        char q[64] = "";
        if (cJSON_IsString(started))
            import_quote_value(started->valuestring, strlen(started->valuestring), q, sizeof q);
        return import_report_bad(t, o, "record %lld: field \"startedDateTime\": bad time \"%s\"",
                                 (long long)rec, q);
    }
    const cJSON *tm = cJSON_GetObjectItemCaseSensitive(e, "timings");
    const cJSON *resp = cJSON_GetObjectItemCaseSensitive(e, "response");
    struct import_row *r = import_row_new(t, o, IMPORT_HAR, rec);
    if (!r)
        return IMPORT_ERR_NOMEM;
    /* t0 is the first request byte on the wire: after blocked, dns and connect (ssl is part
     * of connect in HAR 1.2). TTFB = send + wait; end = TTFB + receive. */
    double pre = har_ms(tm, "blocked") + har_ms(tm, "dns") + har_ms(tm, "connect");
    r->t_us = t0 + llround(pre * 1000.0);
    r->id = import_make_id(o, IMPORT_HAR, rec, NULL);
    r->method = strdup(method->valuestring);
    r->path = strdup(path);
    if (!r->id || !r->method || !r->path)
        return IMPORT_ERR_NOMEM;
    const cJSON *pd = cJSON_GetObjectItemCaseSensitive(req, "postData");
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(pd, "text");
    if (cJSON_IsString(pt)) {
        r->body = cJSON_Parse(pt->valuestring);
        if (!r->body)
            r->body = cJSON_CreateString(pt->valuestring);
        if (!r->body)
            return IMPORT_ERR_NOMEM;
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(r->body, "model");
        if (cJSON_IsString(m) && !(r->model = strdup(m->valuestring)))
            return IMPORT_ERR_NOMEM;
    }
    if (cJSON_IsObject(resp)) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(resp, "status");
        int64_t sv;
        if (!json_uint(st, 999, &sv))
            r->resp.status = (int)sv;
        if (cJSON_IsObject(tm)) {
            double ttfb = har_ms(tm, "send") + har_ms(tm, "wait");
            r->resp.ttfb_us = llround(ttfb * 1000.0);
            r->resp.end_us = llround((ttfb + har_ms(tm, "receive")) * 1000.0);
        }
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(resp, "content");
        const cJSON *ct = cJSON_GetObjectItemCaseSensitive(content, "text");
        const cJSON *enc = cJSON_GetObjectItemCaseSensitive(content, "encoding");
        if (cJSON_IsString(ct) && !cJSON_IsString(enc) && har_response_body(ct->valuestring, &r->resp))
            return IMPORT_ERR_NOMEM;
        if (cJSON_IsString(ct) && cJSON_IsString(enc) && !strcmp(enc->valuestring, "base64")) {
            /* HAR 1.2 §content: binary or non-UTF-8 bodies are base64 ("encoding"); a body
             * that does not decode is kept out, like one in an encoding we do not know */
            struct buf raw;
            buf_init(&raw, (size_t)64 << 20);
            int brc = har_base64(ct->valuestring, &raw);
            if (brc == 0 && har_response_body(raw.p ? raw.p : "", &r->resp))
                brc = IMPORT_ERR_NOMEM;
            buf_free(&raw);
            if (brc == IMPORT_ERR_NOMEM)
                return brc;
        }
        r->tokens_in = r->resp.prompt_tokens;
        r->tokens_out = r->resp.completion_tokens;
    }
    return 0;
}

int import_parse_har(const char *data, size_t len, const struct import_opts *o,
                     struct import_trace *t)
{
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(data, len, &end, 0);
    if (!doc) {
        size_t off = end && end >= data ? (size_t)(end - data) : 0;
        import_set_error(t, o, "not valid JSON (near byte %zu)", off);
        return IMPORT_ERR_FORMAT;
    }
    const cJSON *log = cJSON_GetObjectItemCaseSensitive(doc, "log");
    const cJSON *entries = cJSON_GetObjectItemCaseSensitive(log, "entries");
    if (!cJSON_IsArray(entries)) {
        cJSON_Delete(doc);
        import_set_error(t, o, "field \"log.entries\": %s", log ? "not an array" : "missing");
        return IMPORT_ERR_FORMAT;
    }
    int64_t rec = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, entries) {
        rec++;
        t->records++;
        int rc = har_entry(e, rec, o, t);
        if (rc) {
            cJSON_Delete(doc);
            return rc;
        }
    }
    cJSON_Delete(doc);
    return 0;
}
