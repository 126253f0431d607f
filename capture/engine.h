/* engine.h — the capture packet path: frames in, trace-log exchanges out.
 *
 * Frames are decoded (pkt.h), reassembled per TCP direction (tcpr.h), and parsed as HTTP/1.1
 * (formats/wire/http1.h): a request parser on the client side, a response parser told each
 * request's method on the server side, so keep-alive and pipelined exchanges pair in order.
 * Response bodies are fed to formats/dialect/llmstream.h packet by packet, so every stream event gets
 * the time of the packet whose bytes completed it; t0 is the time of the packet carrying the
 * request's first byte and ttfb that of the response's first byte.
 *
 * Connections picked up mid-way resume at the next request line (client side) and status line
 * (server side). A gap in either direction records the exchange it hits as
 * TLOG_ERROR_INCOMPLETE with the gap size and resynchronises the same way. Exchanges are handed
 * to the emit callback in completion order; the engine never prints or exits.
 *
 * Transport re-sends: a request that failed before any response byte on a reused connection
 * (the keep-alive race of RFC 9112 §9.3.1, which libcurl answers by re-sending the request on
 * another connection) is held, not emitted, until the same request (method, path, body; same
 * client address and server endpoint) completes on another connection within the window: it
 * is then emitted with resent_as = that exchange's id, just before it. A held attempt no
 * re-send claimed is emitted unchanged when the window passes, when the hold is full (the
 * oldest first) and at capture_engine_finish. */
#ifndef LLMTRACE_CAPTURE_ENGINE_H
#define LLMTRACE_CAPTURE_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "pkt.h"
#include "tcpr.h"
#include "tlog.h"

#define CAPTURE_MAX_FILTERS 16

struct capture_opts {
    int no_bodies;               /* keep lengths and timings only (text dropped early) */
    int hash_prompts;            /* request.body_sha256 = SHA-256 of the decoded request body */
    uint16_t ports[CAPTURE_MAX_FILTERS]; /* --port: only flows with one end on these */
    size_t n_ports;
    const char *path_prefixes[CAPTURE_MAX_FILTERS]; /* --path-prefix; none: the dialects' paths */
    size_t n_path_prefixes;
    int all_paths;               /* 1: record every request whatever its path */
    const char *hosts[CAPTURE_MAX_FILTERS]; /* --host: Host header (port ignored) */
    size_t n_hosts;
    size_t max_request_body;     /* bytes kept per request body; default 16 MiB */
    int64_t resend_window_us;    /* transport re-sends: how long a failed attempt waits for
                                    its re-send; 0 = default 1 s, < 0 = never linked */
    size_t resend_max_held;      /* failed attempts waiting at once; 0 = default 1024 */
    struct tcpr_opts tcp;
};

/* Called once per finished exchange. The engine frees x after the call returns; the callee
 * copies what it keeps. Returning non-zero counts an output error. */
typedef int (*capture_emit_fn)(void *user, const struct tlog_exchange *x);

enum capture_http_error {        /* parse errors by kind, beyond pkt/tcpr counters */
    CAPTURE_HERR_REQUEST = 0,    /* request framing invalid (http1 error on the client side) */
    CAPTURE_HERR_RESPONSE,       /* response framing invalid */
    CAPTURE_HERR_UNPAIRED,       /* a response with no request waiting for it */
    CAPTURE_HERR_COUNT
};

struct capture_stats {
    uint64_t packets;            /* frames handed to the engine */
    uint64_t bytes;              /* captured bytes of those frames */
    uint64_t exchanges;          /* records emitted */
    uint64_t incomplete;         /* … of which TLOG_ERROR_INCOMPLETE */
    uint64_t errors[TLOG_ERROR_KIND_COUNT]; /* records by error kind */
    uint64_t filtered;           /* requests skipped by the path / host filters */
    uint64_t http_errors[CAPTURE_HERR_COUNT];
    uint64_t resyncs;            /* times a side resumed at a later message start */
    uint64_t emit_errors;
    /* transport re-sends: failed attempts written with resent_as, and held ones written
     * without it because the window passed, the hold was full, or the capture ended */
    uint64_t resent;
    uint64_t resend_expired, resend_cap, resend_end;
};

struct capture_engine;

/* NULL on allocation failure. opts is copied (the strings it points to must outlive it). */
struct capture_engine *capture_engine_new(const struct capture_opts *opts, capture_emit_fn emit,
                                          void *user);
/* One captured frame of link type dlt: caplen bytes at data, captured at ts_us (epoch µs). */
void capture_engine_packet(struct capture_engine *e, int dlt, const uint8_t *data, size_t caplen,
                           int64_t ts_us);
/* Expires idle flows; call about once a second of capture time on live captures. */
void capture_engine_tick(struct capture_engine *e, int64_t ts_us);
/* Ends every flow as at the end of the capture: complete exchanges are emitted, in-flight ones
 * recorded as TLOG_ERROR_INCOMPLETE, held attempts emitted as they are. The engine stays
 * usable. */
void capture_engine_finish(struct capture_engine *e, int64_t ts_us);
void capture_engine_free(struct capture_engine *e);
const struct capture_stats *capture_engine_stats(const struct capture_engine *e);
const struct pkt_stats *capture_engine_pkt_stats(const struct capture_engine *e);
const struct tcpr_stats *capture_engine_tcp_stats(const struct capture_engine *e);
/* Counters as a JSON object for the trailer (caller frees). */
cJSON *capture_engine_stats_json(const struct capture_engine *e);

#endif
