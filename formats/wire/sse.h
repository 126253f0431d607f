/* sse.h — Server-Sent Events decoder (WHATWG HTML "event stream interpretation").
 *
 * Feeds on raw body bytes split anywhere and calls back once per dispatched event. Handles
 * `data:` (multi-line, joined with LF), `event:`, `id:`, `retry:`, comments (counted — LLM
 * servers use them as keep-alives), LF / CRLF / CR line ends (a CR at a feed boundary is
 * resolved on the next byte), a leading UTF-8 BOM, and a field with no colon. Lines and events
 * are capped; an over-long one is an error, not a silent truncation. */
#ifndef LLMTRACE_SSE_H
#define LLMTRACE_SSE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define SSE_ERR_LINE_TOO_LONG (-1)
#define SSE_ERR_EVENT_TOO_LARGE (-2)
#define SSE_ERR_NOMEM (-3)
#define SSE_ERR_CALLBACK (-4)

/* Valid only during the callback. data is NUL-terminated. */
struct sse_event {
    const char *type;         /* the `event:` field; "message" when absent */
    size_t type_len;
    const char *data;
    size_t data_len;
    const char *id;           /* last event id (persists across events, per spec) */
    size_t id_len;
    int64_t retry_ms;         /* -1 unless this event block set retry */
};

typedef int (*sse_event_cb)(void *user, const struct sse_event *ev);

struct sse_decoder {
    struct buf line;          /* partial line */
    struct buf data;          /* data of the event being built */
    struct buf type;
    struct buf id;
    int64_t retry_ms;
    int pending_cr;           /* last byte seen was CR */
    int bom_checked;
    int has_data_field;
    uint64_t comments;        /* comment lines seen (keep-alives) */
    uint64_t events;          /* events dispatched */
    uint64_t pos;             /* bytes consumed */
    int error;
};

/* max_event: cap on one event's data (and on one line). */
void sse_init(struct sse_decoder *d, size_t max_event);
void sse_free(struct sse_decoder *d);
/* Feeds bytes; calls cb for each complete event. Returns 0 or SSE_ERR_* (cb's non-zero return
 * stops decoding with SSE_ERR_CALLBACK). */
int sse_feed(struct sse_decoder *d, const char *data, size_t len, sse_event_cb cb, void *user);
/* End of stream: an incomplete final event is discarded per spec; returns 1 if something was
 * pending (a partial line or undispatched data), else 0. */
int sse_finish(struct sse_decoder *d);

#endif
