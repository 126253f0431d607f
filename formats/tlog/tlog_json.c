/* tlog_json.c — exchange records to and from JSON, following formats/SCHEMA.md (schema 1).
 *
 * Writing is on the replay client's hot path (one line per request, ~50 events each), so the
 * line is produced by a hand-written serializer straight into a struct buf; cJSON is used only
 * to print request.body, which is already a cJSON tree. Reading goes through cJSON: the reader
 * blanks bodies before parsing when asked, so the tree stays small. */
#include "tlog.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TLOG_REDACTED "<redacted>"

/* ---- writing ------------------------------------------------------------------------- */

/* Appends the decimal form of v (no allocation, no printf: this runs per event). */
static int tlog_put_i64(struct buf *b, int64_t v)
{
    char tmp[24];
    char *p = tmp + sizeof tmp;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    return buf_append(b, p, (size_t)(tmp + sizeof tmp - p));
}

/* -1 (any negative) means unknown → null. */
static int tlog_put_opt_i64(struct buf *b, int64_t v)
{
    return v < 0 ? buf_append(b, "null", 4) : tlog_put_i64(b, v);
}

static int tlog_put_str(struct buf *b, const char *s)
{
    if (!s)
        return buf_append(b, "null", 4);
    int rc = buf_append_char(b, '"');
    if (!rc)
        rc = buf_append_json_str(b, s, strlen(s));
    if (!rc)
        rc = buf_append_char(b, '"');
    return rc;
}

static int tlog_put_key(struct buf *b, const char *key)
{
    /* keys are literals of this file: no escaping needed; no printf per key (35 a record) */
    size_t n = strlen(key);
    int rc = buf_reserve(b, n + 4);
    if (rc)
        return rc;
    char *o = b->p + b->len;
    o[0] = ',';
    o[1] = '"';
    memcpy(o + 2, key, n);
    o[n + 2] = '"';
    o[n + 3] = ':';
    b->len += n + 4;
    b->p[b->len] = '\0';
    return 0;
}

static int tlog_put_headers(struct buf *b, const struct tlog_hdr *h, size_t n, int no_redact)
{
    int rc = buf_append_char(b, '[');
    for (size_t i = 0; i < n && !rc; i++) {
        const char *name = h[i].name ? h[i].name : "";
        const char *val = h[i].value ? h[i].value : "";
        if (!no_redact && tlog_header_is_secret(name, strlen(name)))
            val = TLOG_REDACTED;
        rc = buf_append_str(b, i ? ",[" : "[");
        if (!rc)
            rc = tlog_put_str(b, name);
        if (!rc)
            rc = buf_append_char(b, ',');
        if (!rc)
            rc = tlog_put_str(b, val);
        if (!rc)
            rc = buf_append_char(b, ']');
    }
    if (!rc)
        rc = buf_append_char(b, ']');
    return rc;
}

/* response.write_us and response.added_us (recording proxy): when each event went out to the
 * client, and that minus when it arrived from upstream; null for an event never written. */
static int tlog_put_write_times(struct buf *b, const struct tlog_response *s)
{
    int rc = 0;
    for (int pass = 0; pass < 2 && !rc; pass++) {
        rc = tlog_put_key(b, pass ? "added_us" : "write_us");
        if (!rc) rc = buf_append_char(b, '[');
        for (size_t i = 0; i < s->n_write_us && !rc; i++) {
            if (i) rc = buf_append_char(b, ',');
            int64_t w = s->write_us[i];
            if (!rc && pass && i >= s->n_events)
                w = -1;
            if (!rc)
                rc = w < 0 ? buf_append_str(b, "null")
                           : tlog_put_i64(b, pass ? w - s->events[i].offset_us : w);
        }
        if (!rc) rc = buf_append_char(b, ']');
    }
    return rc;
}

static int tlog_put_events(struct buf *b, const struct tlog_event *e, size_t n)
{
    int rc = buf_append_char(b, '[');
    for (size_t i = 0; i < n && !rc; i++) {
        rc = buf_append_str(b, i ? ",[" : "[");
        if (!rc)
            rc = tlog_put_i64(b, e[i].offset_us);
        if (!rc)
            rc = buf_append_char(b, ',');
        if (!rc)
            rc = tlog_put_i64(b, e[i].tokens);
        if (!rc)
            rc = buf_append(b, e[i].is_content ? ",1]" : ",0]", 3);
    }
    if (!rc)
        rc = buf_append_char(b, ']');
    return rc;
}

static int tlog_put_cjson(struct buf *b, const cJSON *v)
{
    if (!v)
        return buf_append(b, "null", 4);
    char *s = cJSON_PrintUnformatted(v);
    if (!s)
        return TLOG_ERR_NOMEM;
    int rc = buf_append_str(b, s);
    cJSON_free(s);
    return rc;
}

static int tlog_put_double(struct buf *b, double d)
{
    if (!isfinite(d))
        return buf_append(b, "null", 4);
    /* integral values (the common case: concurrency 8) print as integers */
    if (d > -9e15 && d < 9e15 && (double)(int64_t)d == d)
        return tlog_put_i64(b, (int64_t)d);
    return buf_printf(b, "%.17g", d);
}

static int tlog_put_error(struct buf *b, enum tlog_error_kind k, const char *msg)
{
    if (k == TLOG_ERROR_NONE)
        return buf_append_str(b, "null");
    int rc = buf_append_str(b, "{\"kind\":");
    if (!rc) rc = tlog_put_str(b, tlog_error_kind_name(k));
    if (!rc) rc = tlog_put_key(b, "message");
    if (!rc) rc = tlog_put_str(b, msg);
    if (!rc) rc = buf_append_char(b, '}');
    return rc;
}

static int tlog_put_attempts(struct buf *b, const struct tlog_attempt *a, size_t n)
{
    int rc = buf_append_str(b, ",\"attempts\":[");
    for (size_t i = 0; i < n && !rc; i++) {
        rc = buf_append_str(b, i ? ",{\"start_us\":" : "{\"start_us\":");
        if (!rc) rc = tlog_put_i64(b, a[i].start_us);
        if (!rc) rc = tlog_put_key(b, "end_us");
        if (!rc) rc = tlog_put_opt_i64(b, a[i].end_us);
        if (!rc) rc = tlog_put_key(b, "conn");
        if (!rc) rc = tlog_put_str(b, a[i].conn);
        if (!rc) rc = tlog_put_key(b, "conn_new");
        if (!rc) rc = buf_append_str(b, a[i].conn_new < 0 ? "null" : a[i].conn_new ? "true"
                                                                                  : "false");
        if (!rc) rc = tlog_put_key(b, "error");
        if (!rc) rc = tlog_put_error(b, a[i].error_kind, a[i].error_message);
        if (!rc) rc = buf_append_char(b, '}');
    }
    if (!rc) rc = buf_append_char(b, ']');
    return rc;
}

/* Keys the serializer writes at top level; extra keys with these names are not repeated. */
static const char *const tlog_top_keys[] = {
    "type", "id", "start_us", "conn", "dialect", "model", "stream", "request", "response",
    "usage", "tokens_in", "tokens_out", "tokens_source", "error", "replay",
    "conn_new", "connect_us", "resent_as", "session",
};

static int tlog_is_top_key(const char *k)
{
    for (size_t i = 0; i < sizeof tlog_top_keys / sizeof tlog_top_keys[0]; i++)
        if (strcmp(k, tlog_top_keys[i]) == 0)
            return 1;
    return 0;
}

static int tlog_put_exchange(const struct tlog_exchange *x, const struct tlog_write_opts *o,
                             struct buf *b)
{
    int no_redact = o && o->no_redact;
    int no_bodies = o && o->no_bodies;
    int rc = buf_append_str(b, "{\"type\":\"exchange\",\"id\":");
    if (!rc) rc = tlog_put_str(b, x->id);
    if (!rc) rc = tlog_put_key(b, "start_us");
    if (!rc) rc = tlog_put_i64(b, x->start_us);
    if (!rc) rc = tlog_put_key(b, "conn");
    if (!rc) rc = tlog_put_str(b, x->conn);
    /* written only by tools that know them, so other records stay as they were */
    if (!rc && x->conn_new >= 0) {
        rc = tlog_put_key(b, "conn_new");
        if (!rc) rc = buf_append_str(b, x->conn_new ? "true" : "false");
        if (!rc) rc = tlog_put_key(b, "connect_us");
        if (!rc) rc = tlog_put_opt_i64(b, x->connect_us);
    }
    if (!rc && x->resent_as) {
        rc = tlog_put_key(b, "resent_as");
        if (!rc) rc = tlog_put_str(b, x->resent_as);
    }
    if (!rc && x->session.present) {
        rc = tlog_put_key(b, "session");
        if (!rc) rc = buf_append_str(b, "{\"id\":");
        if (!rc) rc = tlog_put_str(b, x->session.id);
        if (!rc) rc = tlog_put_key(b, "turn");
        if (!rc) rc = tlog_put_opt_i64(b, x->session.turn);
        if (!rc) rc = tlog_put_key(b, "think_us");
        if (!rc) rc = tlog_put_opt_i64(b, x->session.think_us);
        if (!rc) rc = buf_append_char(b, '}');
    }
    if (!rc) rc = tlog_put_key(b, "dialect");
    if (!rc) rc = tlog_put_str(b, x->dialect);
    if (!rc) rc = tlog_put_key(b, "model");
    if (!rc) rc = tlog_put_str(b, x->model);
    if (!rc) rc = tlog_put_key(b, "stream");
    if (!rc) rc = buf_append_str(b, x->stream < 0 ? "null" : x->stream ? "true" : "false");

    const struct tlog_request *q = &x->req;
    if (!rc) rc = buf_append_str(b, ",\"request\":{\"method\":");
    if (!rc) rc = tlog_put_str(b, q->method);
    if (!rc) rc = tlog_put_key(b, "path");
    if (!rc) rc = tlog_put_str(b, q->path);
    if (!rc) rc = tlog_put_key(b, "host");
    if (!rc) rc = tlog_put_str(b, q->host);
    if (!rc) rc = tlog_put_key(b, "headers");
    if (!rc) rc = tlog_put_headers(b, q->headers, q->n_headers, no_redact);
    if (!rc) rc = tlog_put_key(b, "body");
    if (!rc) rc = tlog_put_cjson(b, no_bodies ? NULL : q->body);
    if (!rc) rc = tlog_put_key(b, "body_bytes");
    if (!rc) rc = tlog_put_opt_i64(b, q->body_bytes);
    if (!rc) rc = tlog_put_key(b, "body_sha256");
    if (!rc) rc = tlog_put_str(b, q->body_sha256);

    const struct tlog_response *s = &x->resp;
    if (!rc) rc = buf_append_str(b, "},\"response\":{\"status\":");
    if (!rc) rc = s->status > 0 ? tlog_put_i64(b, s->status) : buf_append_str(b, "null");
    if (!rc) rc = tlog_put_key(b, "headers");
    if (!rc) rc = tlog_put_headers(b, s->headers, s->n_headers, no_redact);
    if (!rc) rc = tlog_put_key(b, "ttfb_us");
    if (!rc) rc = tlog_put_opt_i64(b, s->ttfb_us);
    if (!rc) rc = tlog_put_key(b, "end_us");
    if (!rc) rc = tlog_put_opt_i64(b, s->end_us);
    if (!rc) rc = tlog_put_key(b, "events");
    if (!rc) rc = tlog_put_events(b, s->events, s->n_events);
    if (!rc && s->write_us) rc = tlog_put_write_times(b, s);
    if (!rc) rc = tlog_put_key(b, "text");
    if (!rc) {
        if (no_bodies || !s->text) {
            rc = buf_append_str(b, "null");
        } else {
            rc = buf_append_char(b, '"');
            if (!rc) rc = buf_append_json_str(b, s->text, s->text_len);
            if (!rc) rc = buf_append_char(b, '"');
        }
    }
    if (!rc) rc = tlog_put_key(b, "finish_reason");
    if (!rc) rc = tlog_put_str(b, s->finish_reason);
    if (!rc) rc = tlog_put_key(b, "body_bytes");
    if (!rc) rc = tlog_put_opt_i64(b, s->body_bytes);
    /* only when a cap was hit, so ordinary records stay as they were */
    if (!rc && s->dropped_text_bytes > 0) {
        rc = tlog_put_key(b, "dropped_text_bytes");
        if (!rc) rc = tlog_put_opt_i64(b, s->dropped_text_bytes);
    }
    if (!rc && s->dropped_events > 0) {
        rc = tlog_put_key(b, "dropped_events");
        if (!rc) rc = tlog_put_opt_i64(b, s->dropped_events);
    }
    if (!rc) rc = buf_append_str(b, "},\"usage\":");
    if (!rc) {
        if (!x->usage.present) {
            rc = buf_append_str(b, "null");
        } else {
            rc = buf_append_str(b, "{\"prompt_tokens\":");
            if (!rc) rc = tlog_put_opt_i64(b, x->usage.prompt_tokens);
            if (!rc) rc = tlog_put_key(b, "completion_tokens");
            if (!rc) rc = tlog_put_opt_i64(b, x->usage.completion_tokens);
            if (!rc) rc = tlog_put_key(b, "cached_tokens");
            if (!rc) rc = tlog_put_opt_i64(b, x->usage.cached_tokens);
            if (!rc) rc = buf_append_char(b, '}');
        }
    }
    if (!rc) rc = tlog_put_key(b, "tokens_in");
    if (!rc) rc = tlog_put_opt_i64(b, x->tokens_in);
    if (!rc) rc = tlog_put_key(b, "tokens_out");
    if (!rc) rc = tlog_put_opt_i64(b, x->tokens_out);
    if (!rc) rc = tlog_put_key(b, "tokens_source");
    if (!rc) rc = tlog_put_str(b, tlog_tokens_source_name(x->tokens_source));
    if (!rc) rc = tlog_put_key(b, "error");
    if (!rc) rc = tlog_put_error(b, x->error_kind, x->error_message);
    const struct tlog_replay *r = &x->replay;
    if (!rc && r->present) {
        rc = buf_append_str(b, ",\"replay\":{\"of\":");
        if (!rc) rc = tlog_put_str(b, r->of);
        if (!rc) rc = tlog_put_key(b, "sched_us");
        if (!rc) rc = tlog_put_opt_i64(b, r->sched_us);
        if (!rc) rc = tlog_put_key(b, "stage");
        if (!rc) rc = r->has_stage ? tlog_put_double(b, r->stage) : buf_append_str(b, "null");
        if (!rc) rc = tlog_put_key(b, "mode");
        if (!rc) rc = tlog_put_str(b, r->mode);
        if (!rc) rc = tlog_put_key(b, "target");
        if (!rc) rc = tlog_put_str(b, r->target);
        if (!rc) rc = tlog_put_key(b, "warmup");
        if (!rc) rc = buf_append_str(b, r->warmup ? "true" : "false");
        if (!rc) rc = tlog_put_key(b, "wait_us");
        if (!rc) rc = tlog_put_i64(b, r->wait_us);
        if (!rc) rc = tlog_put_key(b, "worker");
        if (!rc) rc = tlog_put_i64(b, r->worker);
        if (!rc && r->n_attempts > 0)
            rc = tlog_put_attempts(b, r->attempts, r->n_attempts);
        if (!rc) rc = buf_append_char(b, '}');
    }
    if (!rc && x->extra && cJSON_IsObject(x->extra)) {
        const cJSON *it;
        cJSON_ArrayForEach(it, x->extra) {
            if (!it->string || tlog_is_top_key(it->string))
                continue;
            rc = buf_append_str(b, ",\"");
            if (!rc) rc = buf_append_json_str(b, it->string, strlen(it->string));
            if (!rc) rc = buf_append_str(b, "\":");
            if (!rc) rc = tlog_put_cjson(b, it);
            if (rc)
                break;
        }
    }
    if (!rc)
        rc = buf_append_char(b, '}');
    return rc;
}

int tlog_exchange_to_line(const struct tlog_exchange *x, const struct tlog_write_opts *o,
                          struct buf *out)
{
    size_t mark = out->len;
    int rc = tlog_put_exchange(x, o, out);
    if (rc) {
        /* leave the buffer as it was: a half line must never reach a log */
        out->len = mark;
        if (out->p)
            out->p[mark] = '\0';
        return rc == BUF_ERR_TOO_BIG ? TLOG_ERR_LIMIT : TLOG_ERR_NOMEM;
    }
    return 0;
}

cJSON *tlog_exchange_to_json(const struct tlog_exchange *x, const struct tlog_write_opts *o)
{
    /* one serializer for both forms keeps them identical by construction */
    struct buf b;
    buf_init(&b, (size_t)1 << 40);
    if (tlog_exchange_to_line(x, o, &b)) {
        buf_free(&b);
        return NULL;
    }
    cJSON *j = cJSON_ParseWithLength(b.p, b.len);
    buf_free(&b);
    return j;
}

/* ---- reading ------------------------------------------------------------------------- */

static int tlog_bad(char *err, size_t errlen, const char *key, const char *what)
{
    if (err && errlen)
        snprintf(err, errlen, "bad \"%s\": expected %s", key, what);
    return TLOG_ERR_FORMAT;
}

/* A soft field (formats/SCHEMA.md "Versioning"): a wrong type costs that field, left at its
 * default, not the record; sk counts it and keeps the first message. Other codes pass. */
static int tlog_soft(struct tlog_skips *sk, int rc, const char *err)
{
    if (rc != TLOG_ERR_FORMAT)
        return rc;
    if (sk) {
        if (sk->n == 0)
            snprintf(sk->first, sizeof sk->first, "%s", err ? err : "");
        sk->n++;
    }
    return 0;
}

/* Integral JSON number within int64 range (checked before the cast: out-of-range casts are
 * undefined behaviour and the input is untrusted). */
static int tlog_num_i64(const cJSON *v, int64_t *out)
{
    if (!cJSON_IsNumber(v))
        return 0;
    double d = v->valuedouble;
    if (!isfinite(d) || d < -9.2e18 || d > 9.2e18 || (double)(int64_t)d != d)
        return 0;
    *out = (int64_t)d;
    return 1;
}

/* Optional integer: absent or null → dflt. 0 or TLOG_ERR_FORMAT. */
static int tlog_get_i64(const cJSON *obj, const char *key, const char *path, int64_t dflt,
                        int64_t *out, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) {
        *out = dflt;
        return 0;
    }
    if (!tlog_num_i64(v, out))
        return tlog_bad(err, errlen, path, "integer");
    return 0;
}

static int tlog_get_int(const cJSON *obj, const char *key, const char *path, int dflt,
                        int *out, char *err, size_t errlen)
{
    int64_t v;
    int rc = tlog_get_i64(obj, key, path, dflt, &v, err, errlen);
    if (rc)
        return rc;
    if (v < -2147483647 || v > 2147483647)
        return tlog_bad(err, errlen, path, "integer");
    *out = (int)v;
    return 0;
}

/* Optional string: absent or null → NULL. */
static int tlog_get_str(const cJSON *obj, const char *key, const char *path, char **out,
                        char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsString(v) || !v->valuestring)
        return tlog_bad(err, errlen, path, "string");
    *out = strdup(v->valuestring);
    return *out ? 0 : TLOG_ERR_NOMEM;
}

/* Optional object: absent or null → NULL. */
static int tlog_get_obj(const cJSON *obj, const char *key, const char *path, const cJSON **out,
                        char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsObject(v))
        return tlog_bad(err, errlen, path, "object");
    *out = v;
    return 0;
}

/* Optional boolean (also 0/1): absent or null → -1. */
static int tlog_get_tri(const cJSON *obj, const char *key, const char *path, int *out,
                        char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = -1;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (cJSON_IsBool(v))
        *out = cJSON_IsTrue(v);
    else if (cJSON_IsNumber(v) && (v->valuedouble == 0 || v->valuedouble == 1))
        *out = v->valuedouble == 1;
    else
        return tlog_bad(err, errlen, path, "boolean");
    return 0;
}

/* An error object {kind, message} (never "none": an error object means a failure). */
static int tlog_get_error(const cJSON *e, const char *kpath, const char *mpath,
                          enum tlog_error_kind *kind, char **msg, char *err, size_t errlen,
                          struct tlog_skips *sk)
{
    char *k = NULL;
    int rc = tlog_get_str(e, "kind", kpath, &k, err, errlen);
    if (rc)
        return rc;
    *kind = tlog_error_kind_parse(k);
    free(k);
    if (*kind == TLOG_ERROR_NONE)
        *kind = TLOG_ERROR_OTHER;
    return tlog_soft(sk, tlog_get_str(e, "message", mpath, msg, err, errlen), err);
}

static int tlog_get_attempts(const cJSON *r, struct tlog_exchange *x, char *err, size_t errlen)
{
    const char *path = "replay.attempts";
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, "attempts");
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsArray(v))
        return tlog_bad(err, errlen, path, "array");
    const cJSON *a;
    cJSON_ArrayForEach(a, v) {
        if (!cJSON_IsObject(a))
            return tlog_bad(err, errlen, path, "array of objects");
        struct tlog_attempt at = {.error_kind = TLOG_ERROR_NONE};
        const cJSON *e;
        int rc;
        if ((rc = tlog_get_i64(a, "start_us", "replay.attempts.start_us", 0, &at.start_us, err,
                               errlen)) ||
            (rc = tlog_get_i64(a, "end_us", "replay.attempts.end_us", -1, &at.end_us, err,
                               errlen)) ||
            (rc = tlog_get_tri(a, "conn_new", "replay.attempts.conn_new", &at.conn_new, err,
                               errlen)) ||
            (rc = tlog_get_obj(a, "error", "replay.attempts.error", &e, err, errlen)))
            return rc;
        if (e && (rc = tlog_get_error(e, "replay.attempts.error.kind",
                                      "replay.attempts.error.message", &at.error_kind,
                                      &at.error_message, err, errlen, NULL)))
            return rc;
        if ((rc = tlog_get_str(a, "conn", "replay.attempts.conn", &at.conn, err, errlen))) {
            free(at.error_message);
            return rc;
        }
        rc = tlog_exchange_add_attempt(x, &at);
        free(at.conn);
        free(at.error_message);
        if (rc == TLOG_ERR_LIMIT)
            return tlog_bad(err, errlen, path, "at most 1024 attempts");
        if (rc)
            return rc;
    }
    return 0;
}

/* Drops the headers added after the first n0 (a headers value that turned out bad). */
static void tlog_headers_undo(struct tlog_exchange *x, int which, size_t n0)
{
    struct tlog_hdr *h = which ? x->resp.headers : x->req.headers;
    size_t *n = which ? &x->resp.n_headers : &x->req.n_headers;
    for (size_t i = n0; i < *n; i++) {
        free(h[i].name);
        free(h[i].value);
    }
    *n = n0;
}

/* Headers as the writer puts them, [[name, value], …], or as an object {name: value, …}
 * (hand-written logs, other tools' exports; object order kept). */
static int tlog_get_headers(const cJSON *obj, const char *path, struct tlog_exchange *x,
                            int which, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "headers");
    if (!v || cJSON_IsNull(v))
        return 0;
    size_t n0 = which ? x->resp.n_headers : x->req.n_headers;
    const cJSON *h;
    if (cJSON_IsObject(v)) {
        cJSON_ArrayForEach(h, v) {
            if (!h->string || !cJSON_IsString(h)) {
                tlog_headers_undo(x, which, n0);
                return tlog_bad(err, errlen, path, "array of [name, value] or an object of "
                                                   "strings");
            }
            if (tlog_exchange_add_header(x, which, h->string, strlen(h->string),
                                         h->valuestring, strlen(h->valuestring)))
                return TLOG_ERR_NOMEM;
        }
        return 0;
    }
    if (!cJSON_IsArray(v))
        return tlog_bad(err, errlen, path, "array");
    cJSON_ArrayForEach(h, v) {
        const cJSON *n = cJSON_GetArrayItem(h, 0);
        const cJSON *val = cJSON_GetArrayItem(h, 1);
        if (!cJSON_IsArray(h) || cJSON_GetArraySize(h) != 2 || !cJSON_IsString(n) ||
            !cJSON_IsString(val)) {
            tlog_headers_undo(x, which, n0);
            return tlog_bad(err, errlen, path, "array of [name, value] strings");
        }
        if (tlog_exchange_add_header(x, which, n->valuestring, strlen(n->valuestring),
                                     val->valuestring, strlen(val->valuestring)))
            return TLOG_ERR_NOMEM;
    }
    return 0;
}

static int tlog_get_events(const cJSON *resp, struct tlog_exchange *x, char *err, size_t errlen)
{
    const char *path = "response.events";
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(resp, "events");
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsArray(v))
        return tlog_bad(err, errlen, path, "array");
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
        const cJSON *a = e ? e->child : NULL;
        const cJSON *t = a ? a->next : NULL;
        const cJSON *c = t ? t->next : NULL;
        int64_t off, tok;
        int content;
        if (!cJSON_IsArray(e) || !c || c->next || !tlog_num_i64(a, &off) ||
            !tlog_num_i64(t, &tok) || tok < 0 || tok > 2147483647)
            return tlog_bad(err, errlen, path, "array of [offset_us, tokens, is_content]");
        if (cJSON_IsBool(c))
            content = cJSON_IsTrue(c);
        else if (cJSON_IsNumber(c) && (c->valuedouble == 0 || c->valuedouble == 1))
            content = c->valuedouble == 1;
        else
            return tlog_bad(err, errlen, path, "array of [offset_us, tokens, is_content]");
        if (tlog_exchange_add_event(x, off, (int32_t)tok, content))
            return TLOG_ERR_NOMEM;
    }
    return 0;
}

/* response.write_us: integers or nulls (-1); any other shape costs the key (soft). */
static int tlog_get_write_times(const cJSON *resp, struct tlog_exchange *x, char *err,
                                size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(resp, "write_us");
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsArray(v))
        return tlog_bad(err, errlen, "response.write_us", "array of integers");
    size_t n = (size_t)cJSON_GetArraySize(v), i = 0;
    if (!n)
        return 0;
    int64_t *w = malloc(n * sizeof *w);
    if (!w)
        return TLOG_ERR_NOMEM;
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
        if (cJSON_IsNull(e)) {
            w[i++] = -1;
        } else if (!tlog_num_i64(e, &w[i]) || w[i] < 0) {
            free(w);
            return tlog_bad(err, errlen, "response.write_us", "array of integers");
        } else {
            i++;
        }
    }
    int rc = tlog_exchange_set_write_times(x, w, n);
    free(w);
    return rc;
}

static int tlog_from_json(const cJSON *obj, struct tlog_exchange *x, char *err, size_t errlen,
                          struct tlog_skips *sk)
{
    int rc;
    const cJSON *v;
    if (!cJSON_IsObject(obj))
        return tlog_bad(err, errlen, "record", "object");
    if ((rc = tlog_get_str(obj, "id", "id", &x->id, err, errlen)))
        return rc;
    if ((rc = tlog_get_i64(obj, "start_us", "start_us", 0, &x->start_us, err, errlen)))
        return rc;
    if ((rc = tlog_soft(sk, tlog_get_str(obj, "conn", "conn", &x->conn, err, errlen), err)) ||
        (rc = tlog_soft(sk, tlog_get_str(obj, "dialect", "dialect", &x->dialect, err, errlen),
                        err)) ||
        (rc = tlog_soft(sk, tlog_get_str(obj, "model", "model", &x->model, err, errlen), err)) ||
        (rc = tlog_get_tri(obj, "conn_new", "conn_new", &x->conn_new, err, errlen)) ||
        (rc = tlog_get_i64(obj, "connect_us", "connect_us", -1, &x->connect_us, err, errlen)) ||
        (rc = tlog_get_str(obj, "resent_as", "resent_as", &x->resent_as, err, errlen)))
        return rc;
    const cJSON *ses;
    if ((rc = tlog_soft(sk, tlog_get_obj(obj, "session", "session", &ses, err, errlen), err)))
        return rc;
    if (ses) {
        x->session.present = 1;
        if ((rc = tlog_soft(sk, tlog_get_str(ses, "id", "session.id", &x->session.id, err,
                                             errlen), err)) ||
            (rc = tlog_soft(sk, tlog_get_i64(ses, "turn", "session.turn", -1, &x->session.turn,
                                             err, errlen), err)) ||
            (rc = tlog_soft(sk, tlog_get_i64(ses, "think_us", "session.think_us", -1,
                                             &x->session.think_us, err, errlen), err)))
            return rc;
    }
    v = cJSON_GetObjectItemCaseSensitive(obj, "stream");
    if (v && !cJSON_IsNull(v)) {
        if (cJSON_IsBool(v))
            x->stream = cJSON_IsTrue(v);
        else if ((rc = tlog_soft(sk, tlog_bad(err, errlen, "stream", "boolean"), err)))
            return rc;
    }

    const cJSON *q;
    if ((rc = tlog_get_obj(obj, "request", "request", &q, err, errlen)))
        return rc;
    if (q) {
        if ((rc = tlog_soft(sk, tlog_get_str(q, "method", "request.method", &x->req.method, err,
                                             errlen), err)) ||
            (rc = tlog_get_str(q, "path", "request.path", &x->req.path, err, errlen)) ||
            (rc = tlog_soft(sk, tlog_get_str(q, "host", "request.host", &x->req.host, err,
                                             errlen), err)) ||
            (rc = tlog_soft(sk, tlog_get_headers(q, "request.headers", x, 0, err, errlen),
                            err)) ||
            (rc = tlog_soft(sk, tlog_get_i64(q, "body_bytes", "request.body_bytes", -1,
                                             &x->req.body_bytes, err, errlen), err)) ||
            (rc = tlog_soft(sk, tlog_get_str(q, "body_sha256", "request.body_sha256",
                                             &x->req.body_sha256, err, errlen), err)))
            return rc;
        v = cJSON_GetObjectItemCaseSensitive(q, "body");
        if (v && !cJSON_IsNull(v)) {
            x->req.body = cJSON_Duplicate(v, 1);
            if (!x->req.body)
                return TLOG_ERR_NOMEM;
        }
    }

    const cJSON *s;
    if ((rc = tlog_get_obj(obj, "response", "response", &s, err, errlen)))
        return rc;
    if (s) {
        int64_t st;
        if ((rc = tlog_get_i64(s, "status", "response.status", 0, &st, err, errlen)))
            return rc;
        if (st < 0 || st > 999)
            return tlog_bad(err, errlen, "response.status", "integer 0..999");
        x->resp.status = (int)st;
        if ((rc = tlog_soft(sk, tlog_get_headers(s, "response.headers", x, 1, err, errlen),
                            err)) ||
            (rc = tlog_get_i64(s, "ttfb_us", "response.ttfb_us", -1, &x->resp.ttfb_us, err,
                               errlen)) ||
            (rc = tlog_get_i64(s, "end_us", "response.end_us", -1, &x->resp.end_us, err,
                               errlen)) ||
            (rc = tlog_get_events(s, x, err, errlen)) ||
            (rc = tlog_soft(sk, tlog_get_write_times(s, x, err, errlen), err)) ||
            (rc = tlog_soft(sk, tlog_get_str(s, "finish_reason", "response.finish_reason",
                                             &x->resp.finish_reason, err, errlen), err)) ||
            (rc = tlog_soft(sk, tlog_get_i64(s, "body_bytes", "response.body_bytes", -1,
                                             &x->resp.body_bytes, err, errlen), err)) ||
            (rc = tlog_soft(sk, tlog_get_i64(s, "dropped_text_bytes",
                                             "response.dropped_text_bytes", 0,
                                             &x->resp.dropped_text_bytes, err, errlen), err)) ||
            (rc = tlog_soft(sk, tlog_get_i64(s, "dropped_events", "response.dropped_events", 0,
                                             &x->resp.dropped_events, err, errlen), err)))
            return rc;
        if ((rc = tlog_soft(sk, tlog_get_str(s, "text", "response.text", &x->resp.text, err,
                                             errlen), err)))
            return rc;
        x->resp.text_len = x->resp.text ? strlen(x->resp.text) : 0;
    }

    const cJSON *u;
    if ((rc = tlog_get_obj(obj, "usage", "usage", &u, err, errlen)))
        return rc;
    if (u) {
        x->usage.present = 1;
        if ((rc = tlog_get_i64(u, "prompt_tokens", "usage.prompt_tokens", -1,
                               &x->usage.prompt_tokens, err, errlen)) ||
            (rc = tlog_get_i64(u, "completion_tokens", "usage.completion_tokens", -1,
                               &x->usage.completion_tokens, err, errlen)) ||
            (rc = tlog_soft(sk, tlog_get_i64(u, "cached_tokens", "usage.cached_tokens", -1,
                                             &x->usage.cached_tokens, err, errlen), err)))
            return rc;
    }
    if ((rc = tlog_get_i64(obj, "tokens_in", "tokens_in", -1, &x->tokens_in, err, errlen)) ||
        (rc = tlog_get_i64(obj, "tokens_out", "tokens_out", -1, &x->tokens_out, err, errlen)))
        return rc;
    v = cJSON_GetObjectItemCaseSensitive(obj, "tokens_source");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsString(v))
            return tlog_bad(err, errlen, "tokens_source", "string");
        x->tokens_source = tlog_tokens_source_parse(v->valuestring);
    }

    const cJSON *e;
    if ((rc = tlog_get_obj(obj, "error", "error", &e, err, errlen)))
        return rc;
    /* an error object always means a failed exchange, whatever its kind says */
    if (e && (rc = tlog_get_error(e, "error.kind", "error.message", &x->error_kind,
                                  &x->error_message, err, errlen, sk)))
        return rc;

    const cJSON *r;
    if ((rc = tlog_get_obj(obj, "replay", "replay", &r, err, errlen)))
        return rc;
    if (r) {
        struct tlog_replay *p = &x->replay;
        p->present = 1;
        if ((rc = tlog_get_str(r, "of", "replay.of", &p->of, err, errlen)) ||
            (rc = tlog_get_i64(r, "sched_us", "replay.sched_us", -1, &p->sched_us, err,
                               errlen)) ||
            (rc = tlog_get_str(r, "mode", "replay.mode", &p->mode, err, errlen)) ||
            (rc = tlog_soft(sk, tlog_get_str(r, "target", "replay.target", &p->target, err,
                                             errlen), err)) ||
            (rc = tlog_soft(sk, tlog_get_i64(r, "wait_us", "replay.wait_us", 0, &p->wait_us,
                                             err, errlen), err)) ||
            (rc = tlog_soft(sk, tlog_get_int(r, "worker", "replay.worker", 0, &p->worker, err,
                                             errlen), err)) ||
            (rc = tlog_get_attempts(r, x, err, errlen)))
            return rc;
        v = cJSON_GetObjectItemCaseSensitive(r, "stage");
        if (v && !cJSON_IsNull(v)) {
            if (!cJSON_IsNumber(v))
                return tlog_bad(err, errlen, "replay.stage", "number");
            p->has_stage = 1;
            p->stage = v->valuedouble;
        }
        v = cJSON_GetObjectItemCaseSensitive(r, "warmup");
        if (v && !cJSON_IsNull(v)) {
            if (cJSON_IsBool(v))
                p->warmup = cJSON_IsTrue(v);
            else if (cJSON_IsNumber(v) && (v->valuedouble == 0 || v->valuedouble == 1))
                p->warmup = v->valuedouble == 1;
            else
                return tlog_bad(err, errlen, "replay.warmup", "boolean");
        }
    }
    return 0;
}

int tlog_exchange_from_json(const cJSON *obj, struct tlog_exchange *x, char *err, size_t errlen)
{
    return tlog_exchange_from_json_ex(obj, x, err, errlen, NULL);
}

int tlog_exchange_from_json_ex(const cJSON *obj, struct tlog_exchange *x, char *err,
                               size_t errlen, struct tlog_skips *sk)
{
    tlog_exchange_init(x);
    if (err && errlen)
        err[0] = '\0';
    char serr[256];
    /* soft-field messages go to sk, never to err: the record is fine */
    int rc = tlog_from_json(obj, x, err ? err : serr, err ? errlen : sizeof serr, sk);
    if (rc == 0 && err && errlen)
        err[0] = '\0';
    if (rc) {
        tlog_exchange_free(x);
        if (rc == TLOG_ERR_NOMEM && err && errlen)
            snprintf(err, errlen, "out of memory");
    }
    return rc;
}

int tlog_exchange_copy_extra(const cJSON *obj, struct tlog_exchange *x)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        if (!it->string || tlog_is_top_key(it->string))
            continue;
        if (!x->extra && !(x->extra = cJSON_CreateObject()))
            return TLOG_ERR_NOMEM;
        cJSON *d = cJSON_Duplicate(it, 1);
        if (!d)
            return TLOG_ERR_NOMEM;
        cJSON_AddItemToObject(x->extra, it->string, d);
    }
    return 0;
}
