/* http1.c — incremental HTTP/1.1 parser: message syntax and framing per RFC 9112, field
 * semantics (Connection, Content-Length, Transfer-Encoding, Content-Encoding) per RFC 9110,
 * gzip content coding (RFC 1952) inflated with zlib.
 *
 * Exists so the simulator, capture and tests share one strict parser that never allocates in
 * its framing core: the head is copied into the fixed buffer of struct http1_parser, located
 * with memchr, and parsed in one pass once complete, so a message costs one copy of its head
 * and no per-byte indirect calls. Leniency, all of it deliberate:
 *   - a bare LF is accepted as a line end (RFC 9112 section 2.2);
 *   - empty lines before a start line are skipped (RFC 9112 section 2.2);
 *   - a status line may lack the SP before an empty reason phrase;
 * each is counted (http1_leniency_count, http1_bare_lf_count), never silent. Everything else
 * that RFC 9112 lets a recipient reject is rejected: obs-fold, whitespace before the colon,
 * bare CR, Content-Length lists or disagreeing duplicates, chunked applied twice or not last
 * in a request. Not enforced (server policy, not framing): Host presence in 1.1 requests. */
#define ZLIB_CONST
#include "http1.h"

#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum http1_state {
    HTTP1_S_HEAD = 0,   /* collecting start line + field lines */
    HTTP1_S_BODY_LEN,   /* Content-Length body */
    HTTP1_S_CHUNK_SIZE, /* collecting a chunk-size line */
    HTTP1_S_CHUNK_DATA,
    HTTP1_S_CHUNK_END,  /* CRLF after chunk data */
    HTTP1_S_TRAILERS,
    HTTP1_S_BODY_CLOSE, /* response body delimited by connection close */
    HTTP1_S_MSG_END,    /* framing done; completion pending (runs without input) */
    HTTP1_S_TUNNEL,     /* after 101 Switching Protocols: bytes are not HTTP */
};

/* Character classes: T = tchar (RFC 9110 5.6.2), V = field-value octet incl. SP/HTAB
 * (RFC 9110 5.5, obs-text allowed), R = request-target / visible octet. */
#define HTTP1_T 1
#define HTTP1_V 2
#define HTTP1_R 4
static const unsigned char http1_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    2, 7, 6, 7, 7, 7, 7, 7, 6, 6, 7, 7, 6, 7, 7, 6,
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 6, 6, 6,
    6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 7, 6, 7, 0,
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
};

#define HTTP1_IS(c, cls) (http1_class[(unsigned char)(c)] & (cls))

static const struct http1_callbacks http1_no_callbacks = {0};

const char *http1_strerror(int err)
{
    switch (err) {
    case HTTP1_OK: return "ok";
    case HTTP1_E_BAD_START_LINE: return "malformed request or status line";
    case HTTP1_E_BAD_VERSION: return "unsupported or malformed HTTP version";
    case HTTP1_E_BAD_HEADER: return "malformed header field";
    case HTTP1_E_HEAD_TOO_LARGE: return "message head too large";
    case HTTP1_E_TOO_MANY_HEADERS: return "too many header fields";
    case HTTP1_E_BAD_CONTENT_LENGTH: return "invalid Content-Length";
    case HTTP1_E_BAD_CHUNK: return "malformed chunked encoding";
    case HTTP1_E_LINE_TOO_LONG: return "line too long";
    case HTTP1_E_GZIP: return "invalid gzip body";
    case HTTP1_E_TRUNCATED: return "stream ended inside a message";
    case HTTP1_E_CALLBACK: return "stopped by callback";
    case HTTP1_E_BODY_TOO_LARGE: return "body larger than the configured maximum";
    case HTTP1_E_NOMEM: return "out of memory";
    case HTTP1_E_PAUSED: return "paused by callback";
    default: return "unknown error";
    }
}

static int http1_fail(struct http1_parser *p, int err, uint64_t pos)
{
    p->error = err;
    p->err_pos = (size_t)pos;
    return err;
}

/* Interprets a callback's return: 0 goes on, HTTP1_E_PAUSED makes http1_feed return early
 * (the parser state is already consistent), anything else stops for good. */
static int http1_cb_result(struct http1_parser *p, int rc, uint64_t pos)
{
    if (rc == 0)
        return 0;
    if (rc == HTTP1_E_PAUSED) {
        p->paused = 1;
        return 0;
    }
    return http1_fail(p, HTTP1_E_CALLBACK, pos);
}

/* Skips 8 bytes at a time while no byte is below `below` or equals DEL (classic SWAR tests,
 * exact on whether any byte matches); the caller's byte loop then handles the word that held
 * a stop byte, so only speed depends on this. Bytes >= 0x80 (obs-text) never stop it. */
static const char *http1_skip_fast(const char *q, const char *le, unsigned char below)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    const uint64_t lim = ones * below, del = ones * 0x7f;
    while (le - q >= 8) {
        uint64_t w, x;
        memcpy(&w, q, 8);
        x = w ^ del;
        if ((((w - lim) & ~w) | ((x - ones) & ~x)) & highs)
            break;
        q += 8;
    }
    return q;
}

static uint64_t http1_head_off(const struct http1_parser *p, const char *at)
{
    return p->head_pos + (uint64_t)(at - p->head);
}

/* ASCII case-insensitive comparison of a slice with a lowercase literal. */
static int http1_eq_ci(const char *a, size_t n, const char *lower)
{
    if (strlen(lower) != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)a[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + ('a' - 'A'));
        if (c != (unsigned char)lower[i])
            return 0;
    }
    return 1;
}

void http1_init(struct http1_parser *p, enum http1_kind kind, const struct http1_callbacks *cb,
                void *user, int decode_gzip, uint64_t max_body)
{
    /* the two buffers are never read before being written, so only the header is cleared */
    memset(p, 0, offsetof(struct http1_parser, line));
    p->kind = kind;
    p->cb = cb ? cb : &http1_no_callbacks;
    p->user = user;
    p->decode_gzip = decode_gzip;
    p->max_body = max_body;
    p->state = HTTP1_S_HEAD;
}

void http1_free(struct http1_parser *p)
{
    if (!p || !p->z)
        return;
    inflateEnd((z_stream *)p->z);
    free(p->z);
    p->z = NULL;
}

void http1_expect_response_to(struct http1_parser *p, const char *method, size_t len)
{
    /* beyond 64 outstanding requests the queue forgets: such responses count as non-HEAD */
    if (p->n_pending >= 64)
        return;
    if (len == 4 && memcmp(method, "HEAD", 4) == 0)
        p->head_methods |= (uint64_t)1 << p->n_pending;
    p->n_pending++;
}

int http1_idle(const struct http1_parser *p)
{
    return !p->error && p->state == HTTP1_S_HEAD && p->head_len == 0;
}

size_t http1_error_pos(const struct http1_parser *p)
{
    return p->err_pos;
}

int http1_error(const struct http1_parser *p)
{
    return p->error;
}

uint64_t http1_bare_lf_count(const struct http1_parser *p)
{
    return p->bare_lf;
}

uint64_t http1_leniency_count(const struct http1_parser *p)
{
    return p->bare_lf + p->lenient;
}

int http1_upgraded(const struct http1_parser *p)
{
    return p->state == HTTP1_S_TUNNEL;
}

const struct http1_header *http1_find_header(const struct http1_head *h, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < h->n_headers; i++) {
        const struct http1_header *f = &h->headers[i];
        if (f->name_len != n)
            continue;
        size_t k = 0;
        for (; k < n; k++) {
            unsigned char a = (unsigned char)f->name[k], b = (unsigned char)name[k];
            if (a >= 'A' && a <= 'Z')
                a = (unsigned char)(a + 32);
            if (b >= 'A' && b <= 'Z')
                b = (unsigned char)(b + 32);
            if (a != b)
                break;
        }
        if (k == n)
            return f;
    }
    return NULL;
}

/* ---- body delivery ---------------------------------------------------------------------- */

/* Hands decoded body bytes to on_body, enforcing max_body: the part that fits is delivered,
 * then the message fails. pos is the stream offset of d[0] when exact, else of the input that
 * produced d (gzip). */
static int http1_deliver(struct http1_parser *p, const char *d, size_t n, uint64_t pos, int exact)
{
    if (p->max_body && n > p->max_body - p->body_seen) {
        size_t room = (size_t)(p->max_body - p->body_seen);
        if (room > 0 && p->cb->on_body) {
            int rc = p->cb->on_body(p->user, d, room);
            if (rc != 0 && rc != HTTP1_E_PAUSED)
                return http1_fail(p, HTTP1_E_CALLBACK, pos);
        }
        p->body_seen = p->max_body;
        return http1_fail(p, HTTP1_E_BODY_TOO_LARGE, exact ? pos + room : pos);
    }
    p->body_seen += n;
    if (n && p->cb->on_body)
        return http1_cb_result(p, p->cb->on_body(p->user, d, n), pos);
    return 0;
}

/* Inflates in[0..len) (a gzip stream of one or more members) and delivers the output. Sets
 * *used to the input consumed, which is less than len only when a callback paused. With
 * len == 0 it drains output zlib still holds. pos: stream offset of in[0]. */
static int http1_inflate(struct http1_parser *p, const char *in, size_t len, size_t *used,
                         uint64_t pos)
{
    z_stream *z = p->z;
    unsigned char out[16384];
    *used = 0;
    while (len > 0 || p->z_pending) {
        if (len > 0 && p->z_member_done) {
            /* another gzip member follows (RFC 1952 section 2.2) */
            inflateReset(z);
            p->z_member_done = 0;
        }
        uInt avail = len > UINT_MAX ? UINT_MAX : (uInt)len;
        z->next_in = (const Bytef *)in;
        z->avail_in = avail;
        z->next_out = out;
        z->avail_out = sizeof out;
        if (avail > 0)
            p->z_in_member = 1;
        int zr = inflate(z, Z_NO_FLUSH);
        size_t took = avail - z->avail_in;
        size_t made = sizeof out - z->avail_out;
        if (took) /* in may be NULL when draining */
            in += took;
        len -= took;
        *used += took;
        int bad = 0;
        if (zr == Z_STREAM_END) {
            p->z_member_done = 1;
            p->z_in_member = 0;
            p->z_pending = 0;
        } else if (zr == Z_OK) {
            /* a full output buffer may leave more output inside zlib */
            p->z_pending = z->avail_out == 0;
        } else if (zr == Z_BUF_ERROR) {
            p->z_pending = 0;
        } else {
            bad = 1;
        }
        /* output decoded before an error is still delivered, so what on_body sees does not
         * depend on how the input was split */
        if (made) {
            int rc = http1_deliver(p, (const char *)out, made, pos + *used, 0);
            if (rc < 0)
                return rc;
            if (p->paused && !bad)
                return 0;
        }
        if (bad) {
            p->paused = 0;
            return http1_fail(p, zr == Z_MEM_ERROR ? HTTP1_E_NOMEM : HTTP1_E_GZIP, pos + *used);
        }
        if (!took && !made)
            break;
    }
    return 0;
}

static int http1_gzip_start(struct http1_parser *p)
{
    if (!p->z) {
        z_stream *z = calloc(1, sizeof *z);
        if (!z)
            return HTTP1_E_NOMEM;
        if (inflateInit2(z, 15 + 16) != Z_OK) {
            free(z);
            return HTTP1_E_NOMEM;
        }
        p->z = z;
    } else {
        inflateReset((z_stream *)p->z);
    }
    p->z_in_member = 0;
    p->z_member_done = 0;
    p->z_pending = 0;
    return 0;
}

/* ---- head ------------------------------------------------------------------------------- */

/* Copies lines into head[] until an empty line. Returns 1 when the section is complete (*n
 * bytes used), 0 when all of d was used, or an error. skip_leading drops empty lines before
 * the first line (allowed before a start line); max_lines caps non-empty lines. */
static int http1_collect(struct http1_parser *p, const char *d, size_t len, size_t *n,
                         int skip_leading, size_t max_lines)
{
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(d + i, '\n', len - i);
        size_t take = nl ? (size_t)(nl - (d + i)) + 1 : len - i;
        size_t line_have = p->head_len - p->line_start;
        /* whichever limit is crossed at the earlier byte wins, independent of how the input
         * was split */
        size_t line_room = HTTP1_MAX_LINE - line_have;
        size_t head_room = HTTP1_MAX_HEAD - p->head_len;
        if (take > line_room || take > head_room) {
            uint64_t base = p->consumed + i;
            if (line_room <= head_room)
                return http1_fail(p, HTTP1_E_LINE_TOO_LONG, base + line_room);
            return http1_fail(p, HTTP1_E_HEAD_TOO_LARGE, base + head_room);
        }
        if (p->head_len == 0)
            p->head_pos = p->consumed + i;
        memcpy(p->head + p->head_len, d + i, take);
        p->head_len += take;
        i += take;
        if (!nl)
            break;
        size_t ll = p->head_len - p->line_start;
        if (ll == 1 || (ll == 2 && p->head[p->line_start] == '\r')) {
            if (skip_leading && p->line_start == 0) {
                if (ll == 1)
                    p->bare_lf++;
                p->lenient++;
                p->head_len = 0;
                continue;
            }
            *n = i;
            return 1;
        }
        if (++p->n_lines > max_lines)
            return http1_fail(p, HTTP1_E_TOO_MANY_HEADERS, p->head_pos + p->line_start);
        p->line_start = p->head_len;
    }
    *n = i;
    return 0;
}

/* Returns the end of the line content starting at s (CR LF or bare LF stripped) and sets
 * *next past the LF, which the caller guarantees exists before end. */
static const char *http1_line_end(struct http1_parser *p, const char *s, const char *end,
                                  const char **next)
{
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    *next = nl + 1;
    if (nl > s && nl[-1] == '\r')
        return nl - 1;
    p->bare_lf++;
    return nl;
}

/* Parses field lines from *cur up to and including the empty line into hv (RFC 9112 section 5:
 * field-name ":" OWS field-value OWS). */
static int http1_parse_fields(struct http1_parser *p, const char **cur, struct http1_header *hv,
                              size_t *nh)
{
    const char *s = *cur, *end = p->head + p->head_len;
    size_t n = 0;
    for (;;) {
        const char *next;
        const char *le = http1_line_end(p, s, end, &next);
        if (le == s)
            break;
        if (*s == ' ' || *s == '\t') /* obs-fold (RFC 9112 section 5.2), rejected */
            return http1_fail(p, HTTP1_E_BAD_HEADER, http1_head_off(p, s));
        const char *q = s;
        while (q < le && HTTP1_IS(*q, HTTP1_T))
            q++;
        /* no whitespace allowed between name and colon (RFC 9112 section 5.1) */
        if (q == s || q == le || *q != ':')
            return http1_fail(p, HTTP1_E_BAD_HEADER, http1_head_off(p, q));
        if (n == HTTP1_MAX_HEADERS)
            return http1_fail(p, HTTP1_E_TOO_MANY_HEADERS, http1_head_off(p, s));
        hv[n].name = s;
        hv[n].name_len = (size_t)(q - s);
        q++;
        while (q < le && (*q == ' ' || *q == '\t'))
            q++;
        const char *v = q;
        q = http1_skip_fast(q, le, 0x20);
        while (q < le && HTTP1_IS(*q, HTTP1_V))
            q++;
        if (q != le) /* CTL or bare CR in a value */
            return http1_fail(p, HTTP1_E_BAD_HEADER, http1_head_off(p, q));
        while (q > v && (q[-1] == ' ' || q[-1] == '\t'))
            q--;
        hv[n].value = v;
        hv[n].value_len = (size_t)(q - v);
        n++;
        s = next;
    }
    *nh = n;
    *cur = s;
    return 0;
}

/* Checks "HTTP/1.x" (case-sensitive, RFC 9112 section 2.3) at s; sets *minor. */
static int http1_parse_version(struct http1_parser *p, const char *s, const char *le, int *minor)
{
    static const char want[] = "HTTP/1.";
    size_t n = (size_t)(le - s);
    for (size_t i = 0; i < 7; i++)
        if (i >= n || s[i] != want[i])
            return http1_fail(p, HTTP1_E_BAD_VERSION, http1_head_off(p, s + (i < n ? i : n)));
    if (n < 8 || s[7] < '0' || s[7] > '9')
        return http1_fail(p, HTTP1_E_BAD_VERSION, http1_head_off(p, s + (n < 8 ? n : 7)));
    *minor = s[7] - '0';
    return 0;
}

/* Iterates the comma-separated elements of a list-valued field (RFC 9110 section 5.6.1),
 * skipping empty ones. Returns 0 at the end. */
static int http1_next_item(const char **cur, const char *end, const char **item, size_t *len)
{
    const char *s = *cur;
    for (;;) {
        while (s < end && (*s == ' ' || *s == '\t' || *s == ','))
            s++;
        if (s == end) {
            *cur = s;
            return 0;
        }
        const char *e = s;
        while (e < end && *e != ',')
            e++;
        const char *t = e;
        while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        *item = s;
        *len = (size_t)(t - s);
        *cur = e;
        return 1;
    }
}

/* Cuts transfer/content-coding parameters (";q=...") off a list element. */
static size_t http1_coding_len(const char *s, size_t n)
{
    size_t k = 0;
    while (k < n && s[k] != ';' && s[k] != ' ' && s[k] != '\t')
        k++;
    return k;
}

static int http1_parse_head(struct http1_parser *p)
{
    struct http1_head h;
    const char *s = p->head, *end = p->head + p->head_len, *next;
    const char *le = http1_line_end(p, s, end, &next);
    int rc;

    h.kind = p->kind;
    h.method = h.target = h.reason = NULL;
    h.method_len = h.target_len = h.reason_len = 0;
    h.status = 0;
    if (p->kind == HTTP1_REQUEST) {
        /* request-line = method SP request-target SP HTTP-version */
        const char *q = s;
        while (q < le && HTTP1_IS(*q, HTTP1_T))
            q++;
        if (q == s || q == le || *q != ' ')
            return http1_fail(p, HTTP1_E_BAD_START_LINE, http1_head_off(p, q));
        h.method = s;
        h.method_len = (size_t)(q - s);
        const char *t = ++q;
        q = http1_skip_fast(q, le, 0x21);
        while (q < le && HTTP1_IS(*q, HTTP1_R))
            q++;
        if (q == t)
            return http1_fail(p, HTTP1_E_BAD_START_LINE, http1_head_off(p, q));
        if (q == le) /* no version: HTTP/0.9 style */
            return http1_fail(p, HTTP1_E_BAD_VERSION, http1_head_off(p, q));
        if (*q != ' ')
            return http1_fail(p, HTTP1_E_BAD_START_LINE, http1_head_off(p, q));
        h.target = t;
        h.target_len = (size_t)(q - t);
        q++;
        if ((rc = http1_parse_version(p, q, le, &h.version_minor)) < 0)
            return rc;
        if (le - q != 8)
            return http1_fail(p, HTTP1_E_BAD_VERSION, http1_head_off(p, q + 8));
    } else {
        /* status-line = HTTP-version SP status-code SP [ reason-phrase ]; the SP before an
         * empty reason is often missing and accepted */
        if ((rc = http1_parse_version(p, s, le, &h.version_minor)) < 0)
            return rc;
        const char *q = s + 8;
        if (q == le)
            return http1_fail(p, HTTP1_E_BAD_START_LINE, http1_head_off(p, q));
        if (*q != ' ')
            return http1_fail(p, HTTP1_E_BAD_VERSION, http1_head_off(p, q));
        q++;
        for (int k = 0; k < 3; k++, q++) {
            if (q == le || *q < '0' || *q > '9' || (k == 0 && *q == '0'))
                return http1_fail(p, HTTP1_E_BAD_START_LINE, http1_head_off(p, q));
            h.status = h.status * 10 + (*q - '0');
        }
        if (q < le && *q != ' ')
            return http1_fail(p, HTTP1_E_BAD_START_LINE, http1_head_off(p, q));
        if (q < le)
            q++;
        else
            p->lenient++; /* "HTTP/1.1 200" without the SP before an empty reason */
        h.reason = q;
        while (q < le && HTTP1_IS(*q, HTTP1_V))
            q++;
        if (q != le)
            return http1_fail(p, HTTP1_E_BAD_START_LINE, http1_head_off(p, q));
        h.reason_len = (size_t)(q - h.reason);
    }

    s = next;
    if ((rc = http1_parse_fields(p, &s, h.headers, &h.n_headers)) < 0)
        return rc;

    int64_t cl = -1;
    int conn_close = 0, conn_keep = 0, te = 0, te_chunked = 0, te_last_chunked = 0;
    int ce_count = 0, ce_gzip = 0;
    const char *te_at = NULL;
    for (size_t i = 0; i < h.n_headers; i++) {
        const struct http1_header *f = &h.headers[i];
        const char *v = f->value, *ve = f->value + f->value_len, *it;
        size_t il;
        /* only four names matter for framing; their lengths filter the rest cheaply */
        if (f->name_len != 14 && f->name_len != 17 && f->name_len != 10 && f->name_len != 16)
            continue;
        if (http1_eq_ci(f->name, f->name_len, "content-length")) {
            /* 1*DIGIT only; no lists; duplicates must agree (RFC 9112 section 6.3) */
            int64_t x = 0;
            const char *q = v;
            if (q == ve)
                return http1_fail(p, HTTP1_E_BAD_CONTENT_LENGTH, http1_head_off(p, q));
            for (; q < ve; q++) {
                if (*q < '0' || *q > '9')
                    return http1_fail(p, HTTP1_E_BAD_CONTENT_LENGTH, http1_head_off(p, q));
                int dgt = *q - '0';
                if (x > (INT64_MAX - dgt) / 10)
                    return http1_fail(p, HTTP1_E_BAD_CONTENT_LENGTH, http1_head_off(p, q));
                x = x * 10 + dgt;
            }
            if (cl >= 0 && x != cl)
                return http1_fail(p, HTTP1_E_BAD_CONTENT_LENGTH, http1_head_off(p, v));
            cl = x;
        } else if (http1_eq_ci(f->name, f->name_len, "transfer-encoding")) {
            te = 1;
            te_at = v;
            while (http1_next_item(&v, ve, &it, &il)) {
                if (http1_eq_ci(it, http1_coding_len(it, il), "chunked")) {
                    /* chunked must not be applied twice (RFC 9112 section 6.1) */
                    if (te_chunked)
                        return http1_fail(p, HTTP1_E_BAD_HEADER, http1_head_off(p, it));
                    te_chunked = te_last_chunked = 1;
                } else {
                    te_last_chunked = 0;
                    te_at = it;
                }
            }
        } else if (http1_eq_ci(f->name, f->name_len, "connection")) {
            while (http1_next_item(&v, ve, &it, &il)) {
                if (http1_eq_ci(it, il, "close"))
                    conn_close = 1;
                else if (http1_eq_ci(it, il, "keep-alive"))
                    conn_keep = 1;
            }
        } else if (http1_eq_ci(f->name, f->name_len, "content-encoding")) {
            while (http1_next_item(&v, ve, &it, &il)) {
                size_t cn = http1_coding_len(it, il);
                if (http1_eq_ci(it, cn, "identity"))
                    continue;
                ce_count++;
                ce_gzip = http1_eq_ci(it, cn, "gzip") || http1_eq_ci(it, cn, "x-gzip");
            }
        }
    }

    /* RFC 9112 section 9.3: 1.1 persists unless "close"; 1.0 only with "keep-alive" */
    int keep = h.version_minor >= 1 ? !conn_close : (conn_keep && !conn_close);
    int no_body = 0, chunked = 0, close_delim = 0;
    int next_state;
    if (te) {
        if (!te_last_chunked) {
            /* a request must end in chunked (RFC 9112 section 6.3 item 4); a response that
             * does not is read until close */
            if (p->kind == HTTP1_REQUEST)
                return http1_fail(p, HTTP1_E_BAD_HEADER, http1_head_off(p, te_at));
            close_delim = 1;
        } else {
            chunked = 1;
        }
        if (cl >= 0) {
            /* Transfer-Encoding overrides Content-Length; the connection must not be reused
             * (RFC 9112 section 6.3 item 3) */
            keep = 0;
            cl = -1;
        }
    } else if (cl < 0 && p->kind == HTTP1_RESPONSE) {
        close_delim = 1;
    }
    p->upgrade = 0;
    if (p->kind == HTTP1_RESPONSE) {
        int was_head = 0;
        if (h.status >= 200 && p->n_pending > 0) {
            was_head = (int)(p->head_methods & 1);
            p->head_methods >>= 1;
            p->n_pending--;
        }
        if (h.status < 200 || h.status == 204 || h.status == 304 || was_head) {
            no_body = 1;
            close_delim = 0;
        }
        p->upgrade = h.status == 101;
    }
    if (close_delim)
        keep = 0;
    if (no_body)
        next_state = HTTP1_S_MSG_END;
    else if (chunked)
        next_state = HTTP1_S_CHUNK_SIZE;
    else if (close_delim)
        next_state = HTTP1_S_BODY_CLOSE;
    else if (cl > 0)
        next_state = HTTP1_S_BODY_LEN;
    else
        next_state = HTTP1_S_MSG_END;

    h.content_length = cl;
    h.chunked = chunked;
    h.gzip = ce_count == 1 && ce_gzip;
    h.keep_alive = keep;
    h.no_body = no_body;

    p->state = next_state;
    p->remaining = cl > 0 ? cl : 0;
    p->body_seen = 0;
    p->gzip_on = h.gzip && p->decode_gzip && next_state != HTTP1_S_MSG_END;
    p->line_len = 0;
    p->chunk_cr = 0;
    if (p->gzip_on && (rc = http1_gzip_start(p)) < 0)
        return http1_fail(p, rc, http1_head_off(p, end));
    rc = 0;
    if (p->cb->on_head)
        rc = http1_cb_result(p, p->cb->on_head(p->user, &h), http1_head_off(p, end));
    p->head_len = 0;
    p->line_start = 0;
    p->n_lines = 0;
    return rc;
}

static int http1_parse_trailers(struct http1_parser *p)
{
    struct http1_header tv[HTTP1_MAX_HEADERS];
    size_t n = 0;
    const char *s = p->head;
    int rc = http1_parse_fields(p, &s, tv, &n);
    if (rc < 0)
        return rc;
    p->state = HTTP1_S_MSG_END;
    if (n && p->cb->on_trailers)
        rc = http1_cb_result(p, p->cb->on_trailers(p->user, tv, n),
                             http1_head_off(p, p->head + p->head_len));
    p->head_len = 0;
    p->line_start = 0;
    p->n_lines = 0;
    return rc;
}

/* ---- framing steps: each uses a prefix of d, sets *n, returns 0 or an error ----------- */

static int http1_step_body(struct http1_parser *p, const char *d, size_t len, size_t *n)
{
    size_t take = len;
    int rc;
    if (p->state != HTTP1_S_BODY_CLOSE && (uint64_t)p->remaining < take)
        take = (size_t)p->remaining;
    size_t used = take;
    if (p->gzip_on)
        rc = http1_inflate(p, d, take, &used, p->consumed);
    else
        rc = http1_deliver(p, d, take, p->consumed, 1);
    *n = used;
    if (rc == 0 && used == 0 && take > 0 && !p->paused) /* zlib made no progress */
        return http1_fail(p, HTTP1_E_GZIP, p->consumed);
    if (p->state != HTTP1_S_BODY_CLOSE) {
        p->remaining -= (int64_t)used;
        if (p->remaining == 0)
            p->state = p->state == HTTP1_S_CHUNK_DATA ? HTTP1_S_CHUNK_END : HTTP1_S_MSG_END;
    }
    return rc;
}

static int http1_hex(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* chunk = chunk-size [ chunk-ext ] CRLF (RFC 9112 section 7.1); extensions are ignored. */
static int http1_parse_chunk_size(struct http1_parser *p)
{
    const char *s = p->line, *e = p->line + p->line_len - 1, *q = s;
    uint64_t base = p->line_pos;
    if (e > s && e[-1] == '\r')
        e--;
    else
        p->bare_lf++;
    int64_t size = 0;
    int v;
    while (q < e && (v = http1_hex((unsigned char)*q)) >= 0) {
        if (size > (INT64_MAX >> 4))
            return http1_fail(p, HTTP1_E_BAD_CHUNK, base + (uint64_t)(q - s));
        size = size * 16 + v;
        q++;
    }
    if (q == s)
        return http1_fail(p, HTTP1_E_BAD_CHUNK, base);
    while (q < e && (*q == ' ' || *q == '\t'))
        q++;
    if (q < e && *q != ';')
        return http1_fail(p, HTTP1_E_BAD_CHUNK, base + (uint64_t)(q - s));
    const char *cr = q < e ? memchr(q, '\r', (size_t)(e - q)) : NULL;
    if (cr)
        return http1_fail(p, HTTP1_E_BAD_CHUNK, base + (uint64_t)(cr - s));
    p->line_len = 0;
    if (size == 0) {
        p->state = HTTP1_S_TRAILERS;
        p->head_len = 0;
        p->line_start = 0;
        p->n_lines = 0;
    } else {
        p->remaining = size;
        p->state = HTTP1_S_CHUNK_DATA;
    }
    return 0;
}

static int http1_step_chunk_size(struct http1_parser *p, const char *d, size_t len, size_t *n)
{
    const char *nl = memchr(d, '\n', len);
    size_t take = nl ? (size_t)(nl - d) + 1 : len;
    if (take > HTTP1_MAX_LINE - p->line_len)
        return http1_fail(p, HTTP1_E_LINE_TOO_LONG,
                          p->consumed + (HTTP1_MAX_LINE - p->line_len));
    if (p->line_len == 0)
        p->line_pos = p->consumed;
    memcpy(p->line + p->line_len, d, take);
    p->line_len += take;
    *n = take;
    return nl ? http1_parse_chunk_size(p) : 0;
}

static int http1_step_chunk_end(struct http1_parser *p, const char *d, size_t *n)
{
    *n = 1;
    if (*d == '\r' && !p->chunk_cr) {
        p->chunk_cr = 1;
        return 0;
    }
    if (*d == '\n') {
        if (!p->chunk_cr)
            p->bare_lf++;
        p->chunk_cr = 0;
        p->state = HTTP1_S_CHUNK_SIZE;
        return 0;
    }
    return http1_fail(p, HTTP1_E_BAD_CHUNK, p->consumed);
}

/* Completes the current message and readies the parser for the next one. */
static int http1_step_end(struct http1_parser *p)
{
    if (p->gzip_on && (p->z_in_member || p->z_pending))
        return http1_fail(p, HTTP1_E_GZIP, p->consumed);
    p->state = p->upgrade ? HTTP1_S_TUNNEL : HTTP1_S_HEAD;
    p->gzip_on = 0;
    p->remaining = 0;
    p->body_seen = 0;
    p->head_len = 0;
    p->line_start = 0;
    p->n_lines = 0;
    p->line_len = 0;
    if (p->cb->on_complete)
        return http1_cb_result(p, p->cb->on_complete(p->user), p->consumed);
    return 0;
}

ssize_t http1_feed(struct http1_parser *p, const char *data, size_t len)
{
    size_t i = 0;
    if (p->error)
        return p->error;
    for (;;) {
        size_t n = 0;
        int rc;
        if (p->gzip_on && p->z_pending) {
            rc = http1_inflate(p, NULL, 0, &n, p->consumed);
        } else if (p->state == HTTP1_S_MSG_END) {
            rc = http1_step_end(p);
        } else if (i == len) {
            break;
        } else {
            const char *d = data + i;
            size_t avail = len - i;
            switch (p->state) {
            case HTTP1_S_HEAD:
                rc = http1_collect(p, d, avail, &n, 1, HTTP1_MAX_HEADERS + 1);
                if (rc == 1)
                    rc = http1_parse_head(p);
                break;
            case HTTP1_S_TRAILERS:
                rc = http1_collect(p, d, avail, &n, 0, HTTP1_MAX_HEADERS);
                if (rc == 1)
                    rc = http1_parse_trailers(p);
                break;
            case HTTP1_S_BODY_LEN:
            case HTTP1_S_CHUNK_DATA:
            case HTTP1_S_BODY_CLOSE:
                rc = http1_step_body(p, d, avail, &n);
                break;
            case HTTP1_S_CHUNK_SIZE:
                rc = http1_step_chunk_size(p, d, avail, &n);
                break;
            case HTTP1_S_CHUNK_END:
                rc = http1_step_chunk_end(p, d, &n);
                break;
            default: /* HTTP1_S_TUNNEL */
                n = avail;
                rc = 0;
                break;
            }
        }
        i += n;
        p->consumed += n;
        if (rc < 0)
            return rc;
        if (p->paused) {
            p->paused = 0;
            return (ssize_t)i;
        }
    }
    return (ssize_t)len;
}

int http1_finish(struct http1_parser *p)
{
    ssize_t r;
    if (p->error)
        return p->error;
    /* run completion work that needs no input (a pause only delays it) */
    do {
        if ((r = http1_feed(p, NULL, 0)) < 0)
            return (int)r;
    } while (p->state == HTTP1_S_MSG_END || (p->gzip_on && p->z_pending));
    switch (p->state) {
    case HTTP1_S_HEAD:
        if (p->head_len == 0)
            return 0;
        break;
    case HTTP1_S_TUNNEL:
        return 0;
    case HTTP1_S_BODY_CLOSE:
        p->state = HTTP1_S_MSG_END;
        do {
            if ((r = http1_feed(p, NULL, 0)) < 0)
                return (int)r;
        } while (p->state == HTTP1_S_MSG_END);
        return 0;
    default:
        break;
    }
    return http1_fail(p, HTTP1_E_TRUNCATED, p->consumed);
}
