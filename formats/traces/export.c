/* export.c — trace-log exchanges to the formats people open elsewhere: CSV (RFC 4180, one row
 * per exchange with the metrics of analyze/README.md), plain JSON Lines, OpenAI Batch API input JSONL and
 * HAR 1.2 (see import.h and convert/README.md for the columns and mappings). */
#include "import.h"
#include "clock.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum export_format export_format_parse(const char *s)
{
    if (!s)
        return EXPORT_NONE;
    if (!strcasecmp(s, "csv"))
        return EXPORT_CSV;
    if (!strcasecmp(s, "jsonl"))
        return EXPORT_JSONL;
    if (!strcasecmp(s, "batch"))
        return EXPORT_BATCH;
    if (!strcasecmp(s, "har"))
        return EXPORT_HAR;
    return EXPORT_NONE;
}

void export_metrics_of(const struct tlog_exchange *x, struct export_metrics *m)
{
    int64_t first = -1, last = -1;
    for (size_t i = 0; i < x->resp.n_events; i++) {
        if (!x->resp.events[i].is_content)
            continue;
        if (first < 0)
            first = x->resp.events[i].offset_us;
        last = x->resp.events[i].offset_us;
    }
    m->n_in = x->tokens_in;
    m->n_out = x->tokens_out;
    m->ttft_us = first;
    m->tpot_us = first >= 0 && m->n_out >= 2 ? (last - first) / (m->n_out - 1) : -1;
    m->e2e_us = x->resp.end_us >= 0 ? x->resp.end_us : -1;
}

const char *export_csv_header(void)
{
    return "id,replay_of,start_us,sched_us,status,n_in,n_out,tokens_source,ttfb_us,ttft_us,"
           "tpot_us,e2e_us,error_kind,error_message\n";
}

/* RFC 4180: quote when the field holds a comma, quote, CR or LF; double inner quotes. */
static int export_csv_str(struct buf *b, const char *s)
{
    if (!s)
        return 0;
    if (!strpbrk(s, ",\"\r\n"))
        return buf_append_str(b, s);
    int rc = buf_append_char(b, '"');
    for (const char *p = s; !rc && *p; p++)
        rc = *p == '"' ? buf_append_str(b, "\"\"") : buf_append_char(b, *p);
    return rc ? rc : buf_append_char(b, '"');
}

static int export_csv_i64(struct buf *b, int64_t v, int known)
{
    return known ? buf_printf(b, "%" PRId64, v) : 0;
}

static const char *export_source_name(const struct tlog_exchange *x)
{
    return x->tokens_source == TLOG_TOKENS_USAGE    ? "usage"
           : x->tokens_source == TLOG_TOKENS_EVENTS ? "events"
                                                    : "none";
}

int export_jsonl_line(const struct tlog_exchange *x, const struct tlog_write_opts *o,
                      struct buf *out)
{
    return tlog_exchange_to_line(x, o, out);
}

int export_csv_row(const struct tlog_exchange *x, struct buf *out)
{
    struct export_metrics m;
    export_metrics_of(x, &m);
    int rc = export_csv_str(out, x->id);
    rc = rc ? rc : buf_append_char(out, ',');
    rc = rc ? rc : export_csv_str(out, x->replay.present ? x->replay.of : NULL);
    rc = rc ? rc : buf_append_char(out, ',');
    rc = rc ? rc : export_csv_i64(out, x->start_us, 1);
    rc = rc ? rc : buf_append_char(out, ',');
    rc = rc ? rc : export_csv_i64(out, x->replay.sched_us, x->replay.present);
    rc = rc ? rc : buf_append_char(out, ',');
    rc = rc ? rc : export_csv_i64(out, x->resp.status, x->resp.status > 0);
    rc = rc ? rc : buf_append_char(out, ',');
    rc = rc ? rc : export_csv_i64(out, m.n_in, m.n_in >= 0);
    rc = rc ? rc : buf_append_char(out, ',');
    rc = rc ? rc : export_csv_i64(out, m.n_out, m.n_out >= 0);
    rc = rc ? rc : buf_append_char(out, ',');
    rc = rc ? rc : buf_append_str(out, export_source_name(x));
    rc = rc ? rc : buf_append_char(out, ',');
    rc = rc ? rc : export_csv_i64(out, x->resp.ttfb_us, x->resp.ttfb_us >= 0);
    rc = rc ? rc : buf_append_char(out, ',');
    rc = rc ? rc : export_csv_i64(out, m.ttft_us, m.ttft_us >= 0);
    rc = rc ? rc : buf_append_char(out, ',');
    rc = rc ? rc : export_csv_i64(out, m.tpot_us, m.tpot_us >= 0);
    rc = rc ? rc : buf_append_char(out, ',');
    rc = rc ? rc : export_csv_i64(out, m.e2e_us, m.e2e_us >= 0);
    rc = rc ? rc : buf_append_char(out, ',');
    if (!rc && x->error_kind != TLOG_ERROR_NONE)
        rc = buf_append_str(out, tlog_error_kind_name(x->error_kind));
    rc = rc ? rc : buf_append_char(out, ',');
    rc = rc ? rc : export_csv_str(out, x->error_kind != TLOG_ERROR_NONE ? x->error_message : NULL);
    return rc ? rc : buf_append_char(out, '\n');
}

/* Appends a cJSON value unformatted; frees it. */
static int export_put_json(struct buf *out, cJSON *v)
{
    if (!v)
        return BUF_ERR_NOMEM;
    char *s = cJSON_PrintUnformatted(v);
    cJSON_Delete(v);
    if (!s)
        return BUF_ERR_NOMEM;
    int rc = buf_append_str(out, s);
    free(s);
    return rc;
}

int export_batch_line(const struct tlog_exchange *x, struct buf *out)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *body = x->req.body ? cJSON_Duplicate(x->req.body, 1) : cJSON_CreateObject();
    if (!o || !body || !cJSON_AddStringToObject(o, "custom_id", x->id ? x->id : "") ||
        !cJSON_AddStringToObject(o, "method", x->req.method ? x->req.method : "POST") ||
        !cJSON_AddStringToObject(o, "url", x->req.path ? x->req.path : "/v1/chat/completions")) {
        cJSON_Delete(o);
        cJSON_Delete(body);
        return BUF_ERR_NOMEM;
    }
    /* the Batch API rejects streaming requests */
    cJSON_DeleteItemFromObjectCaseSensitive(body, "stream");
    cJSON_DeleteItemFromObjectCaseSensitive(body, "stream_options");
    cJSON_AddItemToObject(o, "body", body);
    int rc = export_put_json(out, o);
    return rc ? rc : buf_append_char(out, '\n');
}

int export_har_begin(struct buf *out, const char *creator_version)
{
    int rc = buf_append_str(out, "{\"log\":{\"version\":\"1.2\",\"creator\":{\"name\":"
                                 "\"llmtrace-convert\",\"version\":\"");
    rc = rc ? rc : buf_append_json_str(out, creator_version, strlen(creator_version));
    return rc ? rc : buf_append_str(out, "\"},\"entries\":[\n");
}

static cJSON *export_har_headers(const struct tlog_hdr *h, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        if (!e || !cJSON_AddStringToObject(e, "name", h[i].name ? h[i].name : "") ||
            !cJSON_AddStringToObject(e, "value", h[i].value ? h[i].value : "")) {
            cJSON_Delete(e);
            cJSON_Delete(arr);
            return NULL;
        }
        cJSON_AddItemToArray(arr, e);
    }
    return arr;
}

/* µs → HAR milliseconds; -1 stays "not applicable". */
static double export_ms(int64_t us)
{
    return us < 0 ? -1 : (double)us / 1000.0;
}

static cJSON *export_har_json(const struct tlog_exchange *x)
{
    char when[64];
    clock_format_rfc3339(x->start_us, when, sizeof when);
    cJSON *e = cJSON_CreateObject();
    cJSON *req = cJSON_CreateObject(), *resp = cJSON_CreateObject();
    cJSON *tm = cJSON_CreateObject(), *content = cJSON_CreateObject();
    char *body = NULL;
    if (!e || !req || !resp || !tm || !content)
        goto fail;
    cJSON_AddItemToObject(e, "request", req);
    cJSON_AddItemToObject(e, "response", resp);
    cJSON_AddItemToObject(e, "timings", tm);
    cJSON_AddItemToObject(resp, "content", content);
    req = resp = tm = NULL;
    cJSON *r = cJSON_GetObjectItem(e, "request"), *s = cJSON_GetObjectItem(e, "response");
    cJSON *t = cJSON_GetObjectItem(e, "timings");
    struct buf url;
    buf_init(&url, 1 << 16);
    int rc = buf_printf(&url, "http://%s%s", x->req.host ? x->req.host : "localhost",
                        x->req.path ? x->req.path : "/");
    if (rc || !cJSON_AddStringToObject(e, "startedDateTime", when) ||
        !cJSON_AddNumberToObject(e, "time", x->resp.end_us >= 0 ? export_ms(x->resp.end_us) : 0) ||
        !cJSON_AddStringToObject(r, "method", x->req.method ? x->req.method : "POST") ||
        !cJSON_AddStringToObject(r, "url", url.p) ||
        !cJSON_AddStringToObject(r, "httpVersion", "HTTP/1.1")) {
        buf_free(&url);
        goto fail;
    }
    buf_free(&url);
    cJSON_AddItemToObject(r, "cookies", cJSON_CreateArray());
    cJSON_AddItemToObject(r, "headers", export_har_headers(x->req.headers, x->req.n_headers));
    cJSON_AddItemToObject(r, "queryString", cJSON_CreateArray());
    if (x->req.body) {
        body = cJSON_IsString(x->req.body) ? strdup(x->req.body->valuestring)
                                           : cJSON_PrintUnformatted(x->req.body);
        cJSON *pd = cJSON_AddObjectToObject(r, "postData");
        if (!body || !pd || !cJSON_AddStringToObject(pd, "mimeType", "application/json") ||
            !cJSON_AddStringToObject(pd, "text", body))
            goto fail;
    }
    cJSON_AddNumberToObject(r, "headersSize", -1);
    cJSON_AddNumberToObject(r, "bodySize", (double)(x->req.body_bytes >= 0 ? x->req.body_bytes
                                                   : body ? (int64_t)strlen(body) : 0));
    cJSON_AddNumberToObject(s, "status", x->resp.status);
    cJSON_AddStringToObject(s, "statusText", "");
    cJSON_AddStringToObject(s, "httpVersion", "HTTP/1.1");
    cJSON_AddItemToObject(s, "cookies", cJSON_CreateArray());
    cJSON_AddItemToObject(s, "headers", export_har_headers(x->resp.headers, x->resp.n_headers));
    cJSON *c = cJSON_GetObjectItem(s, "content");
    cJSON_AddNumberToObject(c, "size", (double)(x->resp.text ? x->resp.text_len : 0));
    /* the log keeps the concatenated output text, not the wire bytes */
    cJSON_AddStringToObject(c, "mimeType", "text/plain; charset=utf-8");
    if (x->resp.text)
        cJSON_AddStringToObject(c, "text", x->resp.text);
    cJSON_AddStringToObject(s, "redirectURL", "");
    cJSON_AddNumberToObject(s, "headersSize", -1);
    cJSON_AddNumberToObject(s, "bodySize", (double)(x->resp.body_bytes >= 0 ? x->resp.body_bytes : -1));
    cJSON_AddItemToObject(e, "cache", cJSON_CreateObject());
    cJSON_AddNumberToObject(t, "send", 0);
    cJSON_AddNumberToObject(t, "wait", export_ms(x->resp.ttfb_us));
    cJSON_AddNumberToObject(t, "receive", x->resp.ttfb_us >= 0 && x->resp.end_us >= x->resp.ttfb_us
                                              ? export_ms(x->resp.end_us - x->resp.ttfb_us) : -1);
    if (x->id)
        cJSON_AddStringToObject(e, "comment", x->id);
    free(body);
    return e;
fail:
    free(body);
    cJSON_Delete(e);
    cJSON_Delete(req);
    cJSON_Delete(resp);
    cJSON_Delete(tm);
    return NULL;
}

int export_har_entry(const struct tlog_exchange *x, int first, struct buf *out)
{
    int rc = first ? 0 : buf_append_str(out, ",\n");
    return rc ? rc : export_put_json(out, export_har_json(x));
}

int export_har_end(struct buf *out)
{
    return buf_append_str(out, "\n]}}\n");
}

static int export_add_dup(cJSON *o, const char *k, const cJSON *v)
{
    if (!v)
        return 0;
    cJSON *d = cJSON_Duplicate(v, 1);
    return d && cJSON_AddItemToObject(o, k, d) ? 0 : -1;
}

int export_header_line(const struct tlog_header *h, struct buf *out)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "type", "header") ||
        !cJSON_AddNumberToObject(o, "schema", h->schema) ||
        (h->tool && !cJSON_AddStringToObject(o, "tool", h->tool)) ||
        (h->version && !cJSON_AddStringToObject(o, "version", h->version)) ||
        !cJSON_AddNumberToObject(o, "start_us", (double)h->start_us) ||
        export_add_dup(o, "command", h->command) || export_add_dup(o, "source", h->source) ||
        export_add_dup(o, "options", h->options)) {
        cJSON_Delete(o);
        return BUF_ERR_NOMEM;
    }
    int rc = export_put_json(out, o);
    return rc ? rc : buf_append_char(out, '\n');
}

int export_trailer_line(const struct tlog_trailer *t, struct buf *out)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "type", "trailer") ||
        !cJSON_AddNumberToObject(o, "end_us", (double)t->end_us) ||
        !cJSON_AddNumberToObject(o, "records", (double)t->records) ||
        !cJSON_AddNumberToObject(o, "errors", (double)t->errors) ||
        export_add_dup(o, "stats", t->stats)) {
        cJSON_Delete(o);
        return BUF_ERR_NOMEM;
    }
    int rc = export_put_json(out, o);
    return rc ? rc : buf_append_char(out, '\n');
}
