/* http1.h — incremental HTTP/1.1 message parser (RFC 9112) for requests and responses.
 *
 * Used by the simulator (requests), capture (both directions) and tests. The caller embeds a
 * struct http1_parser and feeds it bytes as they arrive, split anywhere; the parser calls back
 * with the head, then decoded body bytes (chunked framing removed; Content-Encoding: gzip
 * inflated when enabled), then message completion, and carries on with the next message on the
 * same connection (keep-alive, pipelining). The head is collected in a fixed buffer inside the
 * struct (limits below), so the framing core never allocates; only gzip inflation uses zlib.
 *
 * Bodies: Content-Length, chunked (extensions ignored, trailers parsed and passed as headers of
 * the trailer callback), close-delimited for responses (complete at http1_finish), none for
 * HEAD responses, 1xx, 204 and 304. */
#ifndef LLMTRACE_HTTP1_H
#define LLMTRACE_HTTP1_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP1_MAX_HEAD     65536  /* request/status line + headers */
#define HTTP1_MAX_HEADERS  100
#define HTTP1_MAX_LINE     16384  /* any single line, incl. chunk-size lines */

enum http1_kind { HTTP1_REQUEST = 0, HTTP1_RESPONSE = 1 };

enum http1_error {
    HTTP1_OK = 0,
    HTTP1_E_BAD_START_LINE = -1,
    HTTP1_E_BAD_VERSION = -2,
    HTTP1_E_BAD_HEADER = -3,
    HTTP1_E_HEAD_TOO_LARGE = -4,
    HTTP1_E_TOO_MANY_HEADERS = -5,
    HTTP1_E_BAD_CONTENT_LENGTH = -6,
    HTTP1_E_BAD_CHUNK = -7,
    HTTP1_E_LINE_TOO_LONG = -8,
    HTTP1_E_GZIP = -9,
    HTTP1_E_TRUNCATED = -10,      /* EOF inside a message */
    HTTP1_E_CALLBACK = -11,       /* a callback returned non-zero */
    HTTP1_E_BODY_TOO_LARGE = -12, /* over max_body */
    HTTP1_E_NOMEM = -13,
    HTTP1_E_PAUSED = -14,         /* not an error: a callback asked to pause */
};
const char *http1_strerror(int err);

struct http1_header {
    const char *name;
    size_t name_len;
    const char *value;            /* leading/trailing whitespace removed */
    size_t value_len;
};

/* Valid only during the on_head callback (slices point into the parser's head buffer). */
struct http1_head {
    enum http1_kind kind;
    const char *method;           /* requests */
    size_t method_len;
    const char *target;           /* requests: request-target as sent */
    size_t target_len;
    int version_minor;            /* HTTP/1.x */
    int status;                   /* responses */
    const char *reason;
    size_t reason_len;
    struct http1_header headers[HTTP1_MAX_HEADERS];
    size_t n_headers;
    int64_t content_length;       /* -1 when absent */
    int chunked;
    int gzip;                     /* Content-Encoding: gzip (or x-gzip) */
    int keep_alive;               /* persistent connection after this message */
    int no_body;                  /* HEAD response, 1xx, 204, 304 */
};

struct http1_callbacks {
    /* Each returns 0 to go on, non-zero to stop (http1_feed then returns HTTP1_E_CALLBACK). */
    int (*on_head)(void *user, const struct http1_head *h);
    int (*on_body)(void *user, const char *data, size_t len);
    int (*on_trailers)(void *user, const struct http1_header *h, size_t n);
    int (*on_complete)(void *user);
};

struct http1_parser {
    /* all fields private; sized so the struct can be embedded */
    enum http1_kind kind;
    const struct http1_callbacks *cb;
    void *user;
    int state;
    int error;
    size_t err_pos;               /* stream offset of the byte that caused the error */
    uint64_t consumed;            /* total bytes consumed since init */
    int64_t remaining;            /* body bytes left (Content-Length or current chunk) */
    int gzip_on, decode_gzip, upgrade, paused, chunk_cr;
    int z_in_member, z_member_done, z_pending;
    uint64_t head_methods;        /* bit queue of "request was HEAD" for pipelined responses */
    int n_pending;
    uint64_t body_seen;
    uint64_t max_body;
    uint64_t bare_lf;             /* line ends accepted without CR */
    uint64_t lenient;             /* other accepted deviations (see http1_leniency_count) */
    void *z;                      /* z_stream for gzip, allocated on demand */
    uint64_t head_pos;            /* stream offset of head[0] */
    uint64_t line_pos;            /* stream offset of line[0] */
    size_t head_len;
    size_t line_start;            /* offset in head[] of the line being collected */
    size_t n_lines;               /* non-empty lines collected in head[] */
    size_t line_len;
    char line[HTTP1_MAX_LINE];    /* chunk-size line accumulation */
    char head[HTTP1_MAX_HEAD];    /* head, then trailer section */
};

/* Initialises p. decode_gzip: inflate gzip bodies before on_body. max_body: cap on decoded
 * body bytes per message (0 = unlimited). */
void http1_init(struct http1_parser *p, enum http1_kind kind, const struct http1_callbacks *cb,
                void *user, int decode_gzip, uint64_t max_body);
/* Frees zlib state. Safe to call twice. */
void http1_free(struct http1_parser *p);
/* Responses only: tells the parser the method of the next unanswered request, in order, so
 * HEAD responses are known to have no body (pipelining-safe queue of up to 64). */
void http1_expect_response_to(struct http1_parser *p, const char *method, size_t len);
/* Feeds bytes. Returns bytes consumed (== len unless a callback paused/stopped the parser) or
 * a negative HTTP1_E_*; after an error the parser stays in error until http1_init. */
ssize_t http1_feed(struct http1_parser *p, const char *data, size_t len);
/* Tells the parser the stream ended. Completes a close-delimited body (0), returns 0 when idle
 * between messages, HTTP1_E_TRUNCATED when inside a message. */
int http1_finish(struct http1_parser *p);
/* 1 when between messages (nothing buffered). */
int http1_idle(const struct http1_parser *p);
/* Byte offset (from init) of the error, and its code. */
size_t http1_error_pos(const struct http1_parser *p);
int http1_error(const struct http1_parser *p);

/* Case-insensitive header lookup in a head; NULL when absent. */
const struct http1_header *http1_find_header(const struct http1_head *h, const char *name);

/* Added: number of line ends accepted as a bare LF instead of CRLF (RFC 9112 section 2.2 lets a
 * recipient accept them; the count keeps that leniency visible). */
uint64_t http1_bare_lf_count(const struct http1_parser *p);
/* Added: every deviation from RFC 9112 the parser accepted instead of failing: bare LF line
 * ends, empty lines skipped before a start line, a status line without the SP before an
 * empty reason phrase. 0 for a strictly conforming stream. */
uint64_t http1_leniency_count(const struct http1_parser *p);
/* Added: 1 after a 101 (Switching Protocols) response completed. Later bytes on the connection
 * are not HTTP/1.1: http1_feed consumes them without callbacks, so the caller should stop. */
int http1_upgraded(const struct http1_parser *p);

#endif
