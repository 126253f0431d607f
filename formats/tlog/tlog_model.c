/* tlog_model.c — the trace log's in-memory record model (formats/tlog/tlog.h): construction,
 * ownership, error-kind names, redaction list and the token derivation of formats/SCHEMA.md
 * ("Metric definitions": n_out from usage, else content events, else unknown). */
#include "tlog.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const tlog_kind_names[TLOG_ERROR_KIND_COUNT] = {
    [TLOG_ERROR_NONE] = "none",
    [TLOG_ERROR_CONNECT] = "connect",
    [TLOG_ERROR_CONNECT_TIMEOUT] = "connect_timeout",
    [TLOG_ERROR_TLS] = "tls",
    [TLOG_ERROR_HTTP_STATUS] = "http_status",
    [TLOG_ERROR_RESET] = "reset",
    [TLOG_ERROR_TRUNCATED] = "truncated",
    [TLOG_ERROR_MALFORMED] = "malformed",
    [TLOG_ERROR_STREAM_ERROR] = "stream_error",
    [TLOG_ERROR_TIMEOUT] = "timeout",
    [TLOG_ERROR_IDLE_TIMEOUT] = "idle_timeout",
    [TLOG_ERROR_CANCELLED] = "cancelled",
    [TLOG_ERROR_INCOMPLETE] = "incomplete",
    [TLOG_ERROR_OTHER] = "other",
    [TLOG_ERROR_UNSUPPORTED] = "unsupported_dialect",
};

const char *tlog_error_kind_name(enum tlog_error_kind k)
{
    if ((unsigned)k >= TLOG_ERROR_KIND_COUNT)
        return "other";
    return tlog_kind_names[k];
}

enum tlog_error_kind tlog_error_kind_parse(const char *s)
{
    if (!s)
        return TLOG_ERROR_OTHER;
    for (int k = 0; k < TLOG_ERROR_KIND_COUNT; k++)
        if (strcmp(s, tlog_kind_names[k]) == 0)
            return (enum tlog_error_kind)k;
    return TLOG_ERROR_OTHER;
}

void tlog_exchange_init(struct tlog_exchange *x)
{
    memset(x, 0, sizeof *x);
    x->stream = -1;
    x->req.body_bytes = -1;
    x->resp.ttfb_us = -1;
    x->resp.end_us = -1;
    x->resp.body_bytes = -1;
    x->usage.prompt_tokens = -1;
    x->usage.completion_tokens = -1;
    x->usage.cached_tokens = -1;
    x->tokens_in = -1;
    x->tokens_out = -1;
    x->tokens_source = TLOG_TOKENS_NONE;
    x->error_kind = TLOG_ERROR_NONE;
    x->replay.sched_us = -1;
    x->conn_new = -1;
    x->connect_us = -1;
    x->session.turn = -1;
    x->session.think_us = -1;
}

static void tlog_headers_free(struct tlog_hdr *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(h[i].name);
        free(h[i].value);
    }
    free(h);
}

void tlog_exchange_free(struct tlog_exchange *x)
{
    if (!x)
        return;
    free(x->id);
    free(x->conn);
    free(x->dialect);
    free(x->model);
    free(x->req.method);
    free(x->req.path);
    free(x->req.host);
    tlog_headers_free(x->req.headers, x->req.n_headers);
    cJSON_Delete(x->req.body);
    free(x->req.body_sha256);
    tlog_headers_free(x->resp.headers, x->resp.n_headers);
    free(x->resp.events);
    free(x->resp.write_us);
    free(x->resp.text);
    free(x->resp.finish_reason);
    free(x->error_message);
    free(x->replay.of);
    free(x->replay.mode);
    free(x->replay.target);
    for (size_t i = 0; i < x->replay.n_attempts; i++) {
        free(x->replay.attempts[i].conn);
        free(x->replay.attempts[i].error_message);
    }
    free(x->replay.attempts);
    free(x->resent_as);
    free(x->session.id);
    cJSON_Delete(x->extra);
    tlog_exchange_init(x);
}

int tlog_exchange_set_write_times(struct tlog_exchange *x, const int64_t *w, size_t n)
{
    free(x->resp.write_us);
    x->resp.write_us = NULL;
    x->resp.n_write_us = 0;
    if (!n)
        return 0;
    x->resp.write_us = malloc(n * sizeof *w);
    if (!x->resp.write_us)
        return TLOG_ERR_NOMEM;
    memcpy(x->resp.write_us, w, n * sizeof *w);
    x->resp.n_write_us = n;
    return 0;
}

int tlog_exchange_add_event(struct tlog_exchange *x, int64_t offset_us, int32_t tokens,
                            int is_content)
{
    struct tlog_response *r = &x->resp;
    if (r->n_events >= TLOG_MAX_EVENTS) {
        r->dropped_events++;
        return 0;
    }
    if (r->n_events == r->cap_events) {
        size_t ncap = r->cap_events ? r->cap_events * 2 : 16;
        if (ncap > SIZE_MAX / sizeof *r->events)
            return TLOG_ERR_NOMEM;
        struct tlog_event *ne = realloc(r->events, ncap * sizeof *ne);
        if (!ne)
            return TLOG_ERR_NOMEM;
        r->events = ne;
        r->cap_events = ncap;
    }
    struct tlog_event *e = &r->events[r->n_events++];
    e->offset_us = offset_us;
    e->tokens = tokens;
    e->is_content = is_content ? 1 : 0;
    return 0;
}

/* Smallest power of two >= n (n itself when that would overflow). */
static size_t tlog_round_pow2(size_t n)
{
    size_t c = 16;
    while (c < n) {
        if (c > SIZE_MAX / 2)
            return n;
        c *= 2;
    }
    return c;
}

static char *tlog_strndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    if (n)
        memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

int tlog_exchange_append_text(struct tlog_exchange *x, const char *s, size_t n)
{
    struct tlog_response *r = &x->resp;
    if (r->text_len >= TLOG_MAX_TEXT || n > TLOG_MAX_TEXT - r->text_len) {
        size_t room = r->text_len >= TLOG_MAX_TEXT ? 0 : TLOG_MAX_TEXT - r->text_len;
        r->dropped_text_bytes += (int64_t)(n - room);
        n = room; /* may cut a UTF-8 sequence: the serializer replaces the partial bytes */
        if (n == 0)
            return 0;
    }
    /* the struct keeps no capacity (callers may hand over any malloc'd string), so the
     * allocation itself is asked how big it is; growing to powers of two keeps appends of
     * many small deltas linear, and realloc is only called when the block is full (some
     * allocators, ASan's among them, copy on every realloc) */
    size_t need = r->text_len + n + 1;
    if (!r->text || malloc_usable_size(r->text) < need) {
        char *nt = realloc(r->text, tlog_round_pow2(need));
        if (!nt)
            return TLOG_ERR_NOMEM;
        r->text = nt;
    }
    if (n)
        memcpy(r->text + r->text_len, s, n);
    r->text_len += n;
    r->text[r->text_len] = '\0';
    return 0;
}

int tlog_exchange_add_header(struct tlog_exchange *x, int which, const char *name, size_t nlen,
                             const char *value, size_t vlen)
{
    struct tlog_hdr **arr = which ? &x->resp.headers : &x->req.headers;
    size_t *n = which ? &x->resp.n_headers : &x->req.n_headers;
    if (*n >= SIZE_MAX / (2 * sizeof **arr))
        return TLOG_ERR_NOMEM;
    if (!*arr || malloc_usable_size(*arr) < (*n + 1) * sizeof **arr) {
        struct tlog_hdr *nh = realloc(*arr, tlog_round_pow2(*n + 1) * sizeof *nh);
        if (!nh)
            return TLOG_ERR_NOMEM;
        *arr = nh;
    }
    char *nm = tlog_strndup(name, nlen);
    char *vl = tlog_strndup(value ? value : "", value ? vlen : 0);
    if (!nm || !vl) {
        free(nm);
        free(vl);
        return TLOG_ERR_NOMEM;
    }
    (*arr)[*n].name = nm;
    (*arr)[*n].value = vl;
    (*n)++;
    return 0;
}

int tlog_exchange_add_attempt(struct tlog_exchange *x, const struct tlog_attempt *a)
{
    struct tlog_replay *r = &x->replay;
    if (r->n_attempts >= 1024) /* a client re-sends once; a log claiming more is bogus */
        return TLOG_ERR_LIMIT;
    struct tlog_attempt *na = realloc(r->attempts, (r->n_attempts + 1) * sizeof *na);
    if (!na)
        return TLOG_ERR_NOMEM;
    r->attempts = na;
    struct tlog_attempt *d = &na[r->n_attempts];
    *d = *a;
    d->conn = a->conn ? tlog_strndup(a->conn, strlen(a->conn)) : NULL;
    d->error_message =
        a->error_message ? tlog_strndup(a->error_message, strlen(a->error_message)) : NULL;
    if ((a->conn && !d->conn) || (a->error_message && !d->error_message)) {
        free(d->conn);
        free(d->error_message);
        return TLOG_ERR_NOMEM;
    }
    r->n_attempts++;
    return 0;
}

int tlog_exchange_set_error(struct tlog_exchange *x, enum tlog_error_kind k, const char *msg)
{
    char *m = NULL;
    if (msg) {
        m = tlog_strndup(msg, strlen(msg));
        if (!m)
            return TLOG_ERR_NOMEM;
    }
    free(x->error_message);
    x->error_message = m;
    x->error_kind = k;
    return 0;
}

void tlog_exchange_derive_tokens(struct tlog_exchange *x)
{
    x->tokens_in = (x->usage.present && x->usage.prompt_tokens >= 0) ? x->usage.prompt_tokens
                                                                        : -1;
    if (x->usage.present && x->usage.completion_tokens >= 0) {
        x->tokens_out = x->usage.completion_tokens;
        x->tokens_source = TLOG_TOKENS_USAGE;
        return;
    }
    if (x->resp.n_events == 0) {
        /* no stream seen at all: the output length is not known, never guessed */
        x->tokens_out = -1;
        x->tokens_source = TLOG_TOKENS_NONE;
        return;
    }
    int64_t count = 0, sum = 0;
    int all_counted = 1;
    for (size_t i = 0; i < x->resp.n_events; i++) {
        const struct tlog_event *e = &x->resp.events[i];
        if (!e->is_content)
            continue;
        count++;
        if (e->tokens > 0)
            sum += e->tokens;
        else
            all_counted = 0;
    }
    x->tokens_out = (count > 0 && all_counted) ? sum : count;
    x->tokens_source = TLOG_TOKENS_EVENTS;
}

int tlog_exchange_apply_pinned(struct tlog_exchange *x, int64_t max_tokens)
{
    if (max_tokens < 1 || x->error_kind != TLOG_ERROR_NONE ||
        (x->usage.present && x->usage.completion_tokens >= 0) || !x->resp.finish_reason ||
        strcmp(x->resp.finish_reason, "length"))
        return 0;
    /* more content events than the cap contradicts "exactly max_tokens": keep the count */
    if (x->tokens_source == TLOG_TOKENS_EVENTS && x->tokens_out > max_tokens)
        return 0;
    x->tokens_out = max_tokens;
    x->tokens_source = TLOG_TOKENS_MAX_TOKENS;
    return 1;
}

int tlog_header_is_secret(const char *name, size_t len)
{
    static const char *const secrets[] = {
        "authorization", "proxy-authorization", "api-key", "x-api-key", "cookie", "set-cookie",
    };
    if (!name)
        return 0;
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        if (strlen(secrets[i]) == len && strncasecmp(name, secrets[i], len) == 0)
            return 1;
    return 0;
}

void tlog_header_free(struct tlog_header *h)
{
    if (!h)
        return;
    free(h->tool);
    free(h->version);
    cJSON_Delete(h->command);
    cJSON_Delete(h->source);
    cJSON_Delete(h->options);
    cJSON_Delete(h->clock);
    memset(h, 0, sizeof *h);
}

void tlog_record_init(struct tlog_record *r)
{
    memset(r, 0, sizeof *r);
    tlog_exchange_init(&r->x);
    r->trailer.end_us = -1;
    r->trailer.records = -1;
    r->trailer.errors = -1;
    tlog_metrics_init(&r->metrics);
    tlog_stage_init(&r->stage);
}

void tlog_record_free(struct tlog_record *r)
{
    if (!r)
        return;
    tlog_header_free(&r->header);
    tlog_exchange_free(&r->x);
    cJSON_Delete(r->trailer.stats);
    tlog_metrics_free(&r->metrics);
    tlog_stage_free(&r->stage);
    tlog_record_init(r);
}

enum tlog_tokens_source tlog_tokens_source_parse(const char *s)
{
    if (!strcmp(s, "usage"))
        return TLOG_TOKENS_USAGE;
    if (!strcmp(s, "events"))
        return TLOG_TOKENS_EVENTS;
    if (!strcmp(s, "max_tokens"))
        return TLOG_TOKENS_MAX_TOKENS;
    return TLOG_TOKENS_NONE; /* unknown future sources read as none */
}

const char *tlog_tokens_source_name(enum tlog_tokens_source s)
{
    switch (s) {
    case TLOG_TOKENS_USAGE: return "usage";
    case TLOG_TOKENS_EVENTS: return "events";
    case TLOG_TOKENS_MAX_TOKENS: return "max_tokens";
    default: return "none";
    }
}
