/* llmstream.h — response body bytes → a trace-log exchange's events, text, usage and errors.
 *
 * Glues framing (SSE / NDJSON / whole JSON) to the dialect decoder and records into a
 * struct tlog_exchange: one event per stream event with its offset, tokens and content flag,
 * the concatenated text, usage, finish reason, and the error kind when the stream is broken
 * (malformed event, server error event, missing terminator, HTTP status >= 400 with the
 * body's message). With DIALECT_UNKNOWN the first event whose shape is a known API's fixes the
 * dialect for the rest of the stream (and x->dialect when unset); a stream that shows none is
 * TLOG_ERROR_UNSUPPORTED ("unsupported_dialect"), its events recorded as not content. Replay feeds it libcurl's write callback data; capture feeds it reassembled
 * TCP payload, one packet at a time, so each event gets the time of the bytes that completed
 * it. */
#ifndef LLMTRACE_LLMSTREAM_H
#define LLMTRACE_LLMSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "dialect.h"
#include "ndjson.h"
#include "sse.h"
#include "tlog.h"

#define LLMSTREAM_MAX_EVENT   (4u << 20)   /* cap on one event's bytes */
#define LLMSTREAM_MAX_BODY    (64u << 20)  /* cap on a buffered (JSON / error) body */

struct llm_stream {
    enum dialect_id dialect;
    enum dialect_framing framing;
    int status;
    int keep_text;
    struct tlog_exchange *x;
    struct sse_decoder sse;
    struct ndjson_decoder nd;
    struct buf body;              /* whole-body framings and error bodies */
    struct buf scratch;
    struct dialect_shape shape;   /* the stream's chunk shape (formats/dialect/dialect.h) */
    int64_t now_us;               /* offset of the bytes being fed */
    int saw_done;
    int saw_first_byte;
    int failed;                   /* an error is already recorded */
    int unsupported;              /* the events are no known API's (DIALECT_ERR_UNSUPPORTED) */
    uint64_t bytes;
};

/* Prepares s to fill x (not owned). status: HTTP status (>= 400 → the body is an error body).
 * content_type: response Content-Type or NULL. keep_text: 0 drops the text (--no-bodies). */
void llm_stream_init(struct llm_stream *s, struct tlog_exchange *x, enum dialect_id d,
                     int status, const char *content_type, int keep_text);
void llm_stream_free(struct llm_stream *s);
/* Feeds decoded body bytes received at offset_us (from x->start_us). resp.ttfb_us and
 * resp.end_us stay the caller's to set (it sees the header bytes). Returns 0, or -1 once the
 * stream is unusable (the error is recorded in x; further feeds are ignored). */
int llm_stream_feed(struct llm_stream *s, const char *data, size_t len, int64_t offset_us);
/* End of body at offset_us: emits the single event of whole-JSON bodies, records a missing
 * terminator as TLOG_ERROR_TRUNCATED, the error message of >= 400 bodies, sets
 * resp.body_bytes / finish_reason / usage, and calls tlog_exchange_derive_tokens(). */
int llm_stream_finish(struct llm_stream *s, int64_t offset_us);

#endif
