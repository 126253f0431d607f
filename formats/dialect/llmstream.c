/* llmstream.c — response body bytes → trace-log exchange (see llmstream.h).
 *
 * Framing: the Content-Type decides (text/event-stream, application/x-ndjson,
 * application/json); without a recognised one the first non-blank body byte does: '{' or '['
 * is one JSON body (NDJSON for Ollama, whose streams are JSON lines), anything else SSE.
 *
 * Recording rules (analyze/README.md "content event", "ITL"):
 *  - every dispatched stream event (SSE event, NDJSON line, the one whole JSON body) adds
 *    exactly one tlog event — content or not ([DONE], role-only, usage-only, ping, malformed)
 *    — with the offset of the feed that completed it, so analysis can pick the content ones
 *    for TTFT/ITL and still see keep-alive and trailer timing. SSE comments are not events.
 *  - the first problem wins: a malformed event marks the exchange TLOG_ERROR_MALFORMED, but
 *    decoding and timing go on (later events are still recorded); a server error event gives
 *    TLOG_ERROR_STREAM_ERROR; a streaming body that ends without its terminator gives
 *    TLOG_ERROR_TRUNCATED; status >= 400 gives TLOG_ERROR_HTTP_STATUS with the body's message.
 *  - a framing failure (line or event over LLMSTREAM_MAX_EVENT) makes the stream unusable.
 *  - an unknown dialect is learnt from the first event of a known API's shape; events that
 *    show no known API give TLOG_ERROR_UNSUPPORTED (an API llmtrace cannot read, not a broken
 *    stream), and such a stream is not held to any terminator. */
#include "llmstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


void llm_stream_init(struct llm_stream *s, struct tlog_exchange *x, enum dialect_id d,
                     int status, const char *content_type, int keep_text)
{
    memset(s, 0, sizeof *s);
    s->dialect = d;
    s->status = status;
    s->keep_text = keep_text;
    s->x = x;
    /* The Content-Type alone: without it, the first body byte is a better witness than the
     * request's stream flag (servers ignore flags they do not know). */
    s->framing = dialect_framing_for(DIALECT_UNKNOWN, -1, content_type);
    sse_init(&s->sse, LLMSTREAM_MAX_EVENT);
    ndjson_init(&s->nd, LLMSTREAM_MAX_EVENT);
    buf_init(&s->body, LLMSTREAM_MAX_BODY);
    buf_init(&s->scratch, LLMSTREAM_MAX_BODY);
    if (x && !x->dialect && d != DIALECT_UNKNOWN)
        x->dialect = strdup(dialect_name(d));
}

void llm_stream_free(struct llm_stream *s)
{
    sse_free(&s->sse);
    ndjson_free(&s->nd);
    buf_free(&s->body);
    buf_free(&s->scratch);
    dialect_shape_free(&s->shape);
}

static void ls_fail(struct llm_stream *s, enum tlog_error_kind k, const char *msg)
{
    if (s->failed)
        return;
    s->failed = 1;
    tlog_exchange_set_error(s->x, k, msg);
}

static void ls_usage(struct llm_stream *s, const struct dialect_event *ev)
{
    struct tlog_usage *u = &s->x->usage;
    if (!u->present) {
        u->present = 1;
        u->prompt_tokens = -1;
        u->completion_tokens = -1;
        u->cached_tokens = -1;
    }
    /* later events refine earlier ones (Anthropic: message_start, then message_delta) */
    if (ev->prompt_tokens >= 0)
        u->prompt_tokens = ev->prompt_tokens;
    if (ev->completion_tokens >= 0)
        u->completion_tokens = ev->completion_tokens;
    if (ev->cached_tokens >= 0)
        u->cached_tokens = ev->cached_tokens;
}

/* One stream event: decode, record. Returns 0, or -1 when memory ran out. */
static int ls_event(struct llm_stream *s, const char *type, size_t type_len, const char *data,
                    size_t len)
{
    struct dialect_event ev;
    const char *why = NULL;
    int rc = dialect_decode_event_shaped(s->dialect, type, type_len, data, len, &ev, &s->scratch,
                                         &s->shape, &why);
    if (rc == DIALECT_ERR_NOMEM)
        return -1;
    if (tlog_exchange_add_event(s->x, s->now_us, rc ? 0 : ev.tokens, rc ? 0 : ev.is_content))
        return -1;
    if (rc == DIALECT_ERR_UNSUPPORTED) {
        char msg[200];
        snprintf(msg, sizeof msg, "unsupported dialect: event %zu: %s", s->x->resp.n_events,
                 why ? why : "no known API");
        s->unsupported = 1;
        ls_fail(s, TLOG_ERROR_UNSUPPORTED, msg);
        return 0;
    }
    if (rc == 0 && s->dialect == DIALECT_UNKNOWN && ev.dialect != DIALECT_UNKNOWN && !ev.is_error) {
        /* the stream has shown its API: the rest of it is held to that API's rules */
        s->dialect = ev.dialect;
        if (!s->x->dialect && !(s->x->dialect = strdup(dialect_name(ev.dialect))))
            return -1;
    }
    if (rc) {
        char msg[160];
        snprintf(msg, sizeof msg, "event %zu: %s", s->x->resp.n_events,
                 why ? why : "undecodable event");
        ls_fail(s, TLOG_ERROR_MALFORMED, msg);
        return 0;
    }
    if (ev.text_len && s->keep_text &&
        tlog_exchange_append_text(s->x, ev.text, ev.text_len))
        return -1;
    if (ev.has_usage)
        ls_usage(s, &ev);
    if (ev.finish_reason) {
        char *f = strndup(ev.finish_reason, ev.finish_reason_len);
        if (!f)
            return -1;
        free(s->x->resp.finish_reason);
        s->x->resp.finish_reason = f;
    }
    if (ev.is_done)
        s->saw_done = 1;
    if (ev.is_error) {
        char msg[512];
        size_t n = ev.error_message_len < sizeof msg - 1 ? ev.error_message_len : sizeof msg - 1;
        if (n)
            memcpy(msg, ev.error_message, n);
        else
            n = (size_t)snprintf(msg, sizeof msg, "error event");
        msg[n] = '\0';
        ls_fail(s, TLOG_ERROR_STREAM_ERROR, msg);
    }
    return 0;
}

static int ls_sse_cb(void *user, const struct sse_event *ev)
{
    struct llm_stream *s = user;
    return ls_event(s, ev->type, ev->type_len, ev->data, ev->data_len);
}

static int ls_nd_cb(void *user, const char *line, size_t len)
{
    return ls_event(user, NULL, 0, line, len);
}

/* Chooses a framing from the first non-blank byte; 0 while the body is still blank. */
static int ls_sniff(struct llm_stream *s, const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)data[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        if (c == '{' || c == '[')
            s->framing = s->dialect == DIALECT_OLLAMA_CHAT || s->dialect == DIALECT_OLLAMA_GENERATE
                             ? FRAMING_NDJSON : FRAMING_JSON;
        else
            s->framing = FRAMING_SSE;
        return 1;
    }
    return 0;
}

static int ls_framing_error(struct llm_stream *s, int rc, int is_sse)
{
    if (rc == (is_sse ? SSE_ERR_NOMEM : NDJSON_ERR_NOMEM)) {
        ls_fail(s, TLOG_ERROR_OTHER, "out of memory decoding the stream");
    } else if (rc == (is_sse ? SSE_ERR_CALLBACK : NDJSON_ERR_CALLBACK)) {
        ls_fail(s, TLOG_ERROR_OTHER, "out of memory recording the stream");
    } else if (is_sse && rc == SSE_ERR_EVENT_TOO_LARGE) {
        ls_fail(s, TLOG_ERROR_MALFORMED, "SSE event larger than the 4 MiB cap");
    } else {
        ls_fail(s, TLOG_ERROR_MALFORMED,
                is_sse ? "SSE line longer than the 4 MiB cap" : "NDJSON line longer than the 4 MiB cap");
    }
    return -1;
}

/* Bytes of a whole-body framing (JSON, or an error status): kept up to the cap; the rest only
 * counts toward body_bytes and makes the body unusable. */
static int ls_buffer(struct llm_stream *s, const char *data, size_t len)
{
    size_t room = s->body.max - s->body.len;
    if (buf_append(&s->body, data, len < room ? len : room)) {
        ls_fail(s, TLOG_ERROR_OTHER, "out of memory buffering the body");
        return -1;
    }
    return 0;
}

/* Bytes for the chosen framing. */
static int ls_decode(struct llm_stream *s, const char *data, size_t len)
{
    int rc;
    switch (s->framing) {
    case FRAMING_JSON:
        return ls_buffer(s, data, len);
    case FRAMING_NDJSON:
        rc = ndjson_feed(&s->nd, data, len, ls_nd_cb, s);
        return rc ? ls_framing_error(s, rc, 0) : 0;
    default:
        rc = sse_feed(&s->sse, data, len, ls_sse_cb, s);
        return rc ? ls_framing_error(s, rc, 1) : 0;
    }
}

int llm_stream_feed(struct llm_stream *s, const char *data, size_t len, int64_t offset_us)
{
    if (s->sse.error || s->nd.error)
        return -1;
    if (len == 0)
        return 0;
    s->now_us = offset_us;
    s->saw_first_byte = 1;
    s->bytes += len;
    if (s->status >= 400)
        return ls_buffer(s, data, len);
    if (s->framing == FRAMING_UNKNOWN) {
        /* blank so far: keep the bytes (spaces matter to SSE) until a byte decides */
        if (!ls_sniff(s, data, len))
            return ls_buffer(s, data, len);
        if (s->framing != FRAMING_JSON && s->body.len) {
            struct buf held = s->body;
            buf_init(&s->body, LLMSTREAM_MAX_BODY);
            int rc = ls_decode(s, held.p, held.len);
            buf_free(&held);
            if (rc)
                return rc;
        }
    }
    return ls_decode(s, data, len);
}

int llm_stream_finish(struct llm_stream *s, int64_t offset_us)
{
    struct tlog_exchange *x = s->x;
    s->now_us = offset_us;
    x->resp.body_bytes = (int64_t)s->bytes;
    if (x->resp.status == 0 && s->status > 0)
        x->resp.status = s->status;
    int rc = 0;
    if (s->status >= 400) {
        char msg[512];
        dialect_error_message(s->body.p, s->body.len, msg, sizeof msg);
        if (!msg[0])
            snprintf(msg, sizeof msg, "HTTP %d", s->status);
        /* the status is the primary fact: it replaces anything decoded earlier */
        s->failed = 0;
        ls_fail(s, TLOG_ERROR_HTTP_STATUS, msg);
    } else if (!s->sse.error && !s->nd.error) {
        if (s->framing == FRAMING_JSON) {
            if (s->body.len >= s->body.max) {
                ls_fail(s, TLOG_ERROR_MALFORMED, "JSON body larger than the 64 MiB cap");
            } else if (s->body.len) {
                if (ls_event(s, NULL, 0, s->body.p, s->body.len))
                    rc = -1;
            } else {
                /* a 2xx with no body at all: the response was cut, not garbled */
                ls_fail(s, TLOG_ERROR_TRUNCATED, "empty response body");
            }
        } else if (s->framing == FRAMING_NDJSON) {
            if (ndjson_finish(&s->nd, ls_nd_cb, s))
                rc = -1;
        } else if (s->framing == FRAMING_SSE) {
            /* an event without its blank line is discarded (WHATWG): it was not delivered */
            sse_finish(&s->sse);
        }
        if (s->framing != FRAMING_JSON && !s->saw_done && !s->unsupported) {
            if (s->framing == FRAMING_UNKNOWN)
                ls_fail(s, TLOG_ERROR_TRUNCATED, "empty response body");
            else
                ls_fail(s, TLOG_ERROR_TRUNCATED, "stream ended without its terminator");
        }
    }
    tlog_exchange_derive_tokens(x);
    return rc;
}
