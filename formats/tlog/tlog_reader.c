/* tlog_reader.c — streams records out of a trace log (formats/SCHEMA.md): gzip members
 * (RFC 1952, one or many) or plain JSON Lines, from a file, stdin or memory.
 *
 * Memory stays bounded: input is read in fixed chunks and inflated into a line buffer capped
 * at max_line plus a hold window. Lines of a gzip member are held back until the member's
 * CRC32 and length check out, so a corrupt member never yields a wrong record; after damage
 * the reader resynchronises on the next gzip magic (1f 8b 08) and keeps going. A torn tail
 * (the file simply ends mid-member, as after kill -9) releases every complete line inflated
 * so far, since truncation only ever cuts the output short, and drops the partial last one. */
#include "tlog.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define TLOG_IN_CHUNK ((size_t)256 * 1024)
#define TLOG_OUT_STEP ((size_t)64 * 1024)
/* Unverified lines of one member held at most this long before they are released anyway
 * (a single huge member, e.g. `gzip big.jsonl`, must not be loaded whole). */
#define TLOG_HOLD_MAX ((size_t)8 << 20)
#define TLOG_DEFAULT_MAX_LINE ((size_t)64 << 20)

enum tlog_mode { TLOG_MODE_UNKNOWN = 0, TLOG_MODE_GZIP, TLOG_MODE_PLAIN };

/* Allocations taken back from the record passed to tlog_read, one slot per string field, so
 * the next line's strings and event array reuse them instead of a malloc/free pair per field
 * per line (the records of a log have the same shape line after line). */
enum {
    TLOG_SLOT_ID, TLOG_SLOT_CONN, TLOG_SLOT_DIALECT, TLOG_SLOT_MODEL, TLOG_SLOT_METHOD,
    TLOG_SLOT_PATH, TLOG_SLOT_HOST, TLOG_SLOT_SHA, TLOG_SLOT_TEXT, TLOG_SLOT_FINISH,
    TLOG_SLOT_ERRMSG, TLOG_SLOT_OF, TLOG_SLOT_MODE, TLOG_SLOT_TARGET, TLOG_SLOT_RESENT,
    TLOG_SLOT_SESSION,
    TLOG_SLOT_TMP1, TLOG_SLOT_TMP2, /* header name/value, error kind, tokens_source */
    TLOG_SLOTS
};

struct tlog_reader {
    struct tlog_reader_opts o;
    char *path;
    int fd;
    int close_fd;
    const unsigned char *mem;     /* memory image (tlog_reader_open_mem) or NULL */
    size_t mem_len;
    int mem_given;
    unsigned char *inbuf;         /* owned chunk buffer (fd mode) */
    const unsigned char *in;      /* current input window */
    size_t in_len, in_pos;
    uint64_t in_off;              /* file offset of in[0] */
    int eof;                      /* no more input after the window */
    enum tlog_mode mode;
    z_stream z;
    int z_ready;
    int in_member;
    uint64_t member_off;          /* offset of the open member's first byte */
    int after_resync;             /* open member was found by resynchronising */
    int skipping;                 /* between a damaged spot and the next good member */
    uint64_t skip_from;
    struct buf pend;              /* inflated text not yet returned */
    size_t pos;                   /* next unread byte of pend */
    size_t ready;                 /* pend[0..ready) may be returned */
    size_t scanned;               /* pend[pos..scanned) holds no newline: long lines arrive
                                     in many steps and must not be rescanned each time */
    int done;                     /* no more input will arrive in pend */
    int drop_partial;             /* the text after the last newline is torn */
    int fatal;
    int skip_long;            /* discarding the rest of an over-long line */
    int64_t line_no;
    const char *body_src;         /* request.body of the last record as its line holds it */
    size_t body_src_len;          /* (tlog_reader_body); points into pend */
    struct tlog_reader_status st;
    int damage_in_middle;         /* damage followed by good data */
    int64_t trailer_records;
    char warn[160];               /* e.g. newer schema; reported by describe */
    char skip_first[300];         /* the first field dropped for its type */
    char err[512];
    char *pool[TLOG_SLOTS];       /* see TLOG_SLOT_*; owned by the reader */
    struct tlog_event *spare_events;
    size_t spare_cap;
};

static void tlog_r_seterr(struct tlog_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void tlog_r_seterr(struct tlog_reader *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
}

/* Makes more input available, keeping the unconsumed tail of the window. Returns 1 when bytes
 * were added, 0 at end of input, TLOG_ERR_IO on a read error. */
static int tlog_r_refill(struct tlog_reader *r)
{
    if (r->eof)
        return 0;
    if (r->mem_given) {
        /* the whole image is the window from the start */
        r->eof = 1;
        return 0;
    }
    size_t keep = r->in_len - r->in_pos;
    if (keep && r->in_pos)
        memmove(r->inbuf, r->inbuf + r->in_pos, keep);
    r->in_off += r->in_pos;
    r->in_pos = 0;
    r->in_len = keep;
    r->in = r->inbuf;
    for (;;) {
        ssize_t k = read(r->fd, r->inbuf + keep, TLOG_IN_CHUNK - keep);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            tlog_r_seterr(r, "%s: read: %s", r->path, strerror(errno));
            return TLOG_ERR_IO;
        }
        if (k == 0) {
            r->eof = 1;
            return 0;
        }
        r->in_len = keep + (size_t)k;
        return 1;
    }
}

static uint64_t tlog_r_end_off(const struct tlog_reader *r)
{
    return r->in_off + r->in_len;
}

/* Records damage that starts at off (a member or stray bytes there). */
static void tlog_r_damage(struct tlog_reader *r, uint64_t off)
{
    if (!r->st.truncated) {
        r->st.truncated = 1;
        r->st.stop_offset = off;
    }
    if (!r->skipping) {
        r->skipping = 1;
        r->skip_from = off;
    }
}

/* Drops inflated text that is not verified, and a partial line before it: resynchronised
 * data must start on a fresh line. */
static void tlog_r_drop_unverified(struct tlog_reader *r)
{
    size_t keep = r->ready;
    while (keep > r->pos && r->pend.p[keep - 1] != '\n')
        keep--;
    r->pend.len = keep;
    if (r->pend.p)
        r->pend.p[keep] = '\0';
    r->ready = keep;
    if (r->scanned > keep)
        r->scanned = keep;
}

/* Moves consumed text out of pend so it does not grow with the file. */
static void tlog_r_compact(struct tlog_reader *r)
{
    if (r->pos == 0)
        return;
    if (r->pos < TLOG_OUT_STEP && r->pos < r->pend.len)
        return;
    buf_consume(&r->pend, r->pos);
    r->ready -= r->pos;
    r->scanned = r->scanned > r->pos ? r->scanned - r->pos : 0;
    r->pos = 0;
}

static void tlog_r_finish(struct tlog_reader *r)
{
    if (r->in_member) {
        /* the file ends inside a member: a torn tail (kill -9, copy in progress) */
        tlog_r_damage(r, r->member_off);
        r->in_member = 0;
        if (r->after_resync) {
            tlog_r_drop_unverified(r);
        } else {
            r->ready = r->pend.len;
            r->drop_partial = 1;
        }
    }
    if (r->skipping) {
        r->st.skipped_bytes += tlog_r_end_off(r) - r->skip_from;
        r->skipping = 0;
    }
    r->done = 1;
}

/* One step of the gzip state machine: start a member, inflate some, or skip damage. Returns
 * 0 to keep going, or a negative error (fatal). */
static int tlog_r_step_gzip(struct tlog_reader *r)
{
    if (!r->in_member) {
        if (r->in_len - r->in_pos < 3 && !r->eof) {
            int k = tlog_r_refill(r);
            if (k < 0)
                return k;
            return 0;
        }
        size_t avail = r->in_len - r->in_pos;
        if (avail == 0) {
            tlog_r_finish(r);
            return 0;
        }
        const unsigned char *p = r->in + r->in_pos;
        if (avail >= 3 && p[0] == 0x1f && p[1] == 0x8b && p[2] == 0x08) {
            r->in_member = 1;
            r->member_off = r->in_off + r->in_pos;
            r->after_resync = r->skipping;
            inflateReset(&r->z);
            return 0;
        }
        /* not a member start: damage; look for the next magic */
        tlog_r_damage(r, r->in_off + r->in_pos);
        const unsigned char *q = p + 1, *end = r->in + r->in_len;
        while (q < end) {
            q = memchr(q, 0x1f, (size_t)(end - q));
            if (!q)
                break;
            if ((size_t)(end - q) < 3 || (q[1] == 0x8b && q[2] == 0x08))
                break;
            q++;
        }
        if (!q) {
            r->in_pos = r->in_len;
            if (r->eof)
                tlog_r_finish(r);
        } else {
            r->in_pos = (size_t)(q - r->in);
            if (r->eof && (size_t)(end - q) < 3) {
                r->in_pos = r->in_len;
                tlog_r_finish(r);
            }
        }
        return 0;
    }

    if (r->in_pos == r->in_len) {
        int k = tlog_r_refill(r);
        if (k < 0)
            return k;
        if (k == 0)
            tlog_r_finish(r);
        return 0;
    }
    size_t max_out = TLOG_OUT_STEP;
    if (buf_reserve(&r->pend, max_out)) {
        /* full: release held lines so the caller can drain them, or give up on one line
         * longer than the cap */
        if (r->ready < r->pend.len && !r->after_resync) {
            r->ready = r->pend.len;
            return 0;
        }
        tlog_r_seterr(r, "record %" PRId64 ": line longer than %zu bytes", r->line_no + 1,
                      r->o.max_line);
        r->fatal = TLOG_ERR_LIMIT;
        return TLOG_ERR_LIMIT;
    }
    size_t in_avail = r->in_len - r->in_pos;
    uInt given = in_avail > (1u << 30) ? (1u << 30) : (uInt)in_avail;
    r->z.next_in = (Bytef *)(uintptr_t)(r->in + r->in_pos);
    r->z.avail_in = given;
    r->z.next_out = (Bytef *)r->pend.p + r->pend.len;
    r->z.avail_out = (uInt)max_out;
    int zr = inflate(&r->z, Z_NO_FLUSH);
    r->in_pos += given - r->z.avail_in;
    r->pend.len += max_out - r->z.avail_out;
    r->pend.p[r->pend.len] = '\0';
    if (zr == Z_STREAM_END) {
        r->in_member = 0;
        r->ready = r->pend.len;
        if (r->skipping) {
            r->st.skipped_bytes += r->member_off - r->skip_from;
            r->skipping = 0;
            r->damage_in_middle = 1;
        }
        r->after_resync = 0;
        return 0;
    }
    if (zr == Z_OK || zr == Z_BUF_ERROR) {
        if (!r->after_resync && r->pend.len - r->ready > TLOG_HOLD_MAX)
            r->ready = r->pend.len;
        return 0;
    }
    if (zr == Z_MEM_ERROR) {
        tlog_r_seterr(r, "%s: out of memory", r->path);
        r->fatal = TLOG_ERR_NOMEM;
        return TLOG_ERR_NOMEM;
    }
    /* Z_DATA_ERROR / Z_NEED_DICT / Z_STREAM_ERROR: a corrupt member. Its unverified text
     * goes; the scan for the next member starts one byte after this one's start when that
     * byte is still in the window, else where inflate stopped. */
    tlog_r_damage(r, r->member_off);
    tlog_r_drop_unverified(r);
    r->in_member = 0;
    r->after_resync = 0;
    if (r->member_off + 1 >= r->in_off && r->member_off + 1 <= tlog_r_end_off(r))
        r->in_pos = (size_t)(r->member_off + 1 - r->in_off);
    return 0;
}

static int tlog_r_step_plain(struct tlog_reader *r)
{
    /* plain text: the window goes straight into pend */
    size_t avail = r->in_len - r->in_pos;
    if (avail == 0) {
        int k = tlog_r_refill(r);
        if (k < 0)
            return k;
        if (k == 0)
            r->done = 1;
        return 0;
    }
    if (buf_append(&r->pend, r->in + r->in_pos, avail)) {
        tlog_r_seterr(r, "record %" PRId64 ": line longer than %zu bytes", r->line_no + 1,
                      r->o.max_line);
        r->fatal = TLOG_ERR_LIMIT;
        return TLOG_ERR_LIMIT;
    }
    r->in_pos = r->in_len;
    r->ready = r->pend.len;
    return 0;
}

static int tlog_r_detect(struct tlog_reader *r)
{
    while (r->in_len - r->in_pos < 2 && !r->eof) {
        int k = tlog_r_refill(r);
        if (k < 0)
            return k;
    }
    const unsigned char *p = r->in + r->in_pos;
    size_t avail = r->in_len - r->in_pos;
    /* a lone 0x1f is a gzip file cut after one byte, not a JSON line */
    if (avail >= 1 && p[0] == 0x1f && (avail == 1 || p[1] == 0x8b)) {
        r->mode = TLOG_MODE_GZIP;
        if (inflateInit2(&r->z, 15 + 16) != Z_OK) {
            tlog_r_seterr(r, "%s: inflateInit2 failed", r->path);
            return TLOG_ERR_NOMEM;
        }
        r->z_ready = 1;
    } else {
        r->mode = TLOG_MODE_PLAIN;
    }
    return 0;
}

static struct tlog_reader *tlog_r_new(const char *path, const struct tlog_reader_opts *o)
{
    struct tlog_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    if (o)
        r->o = *o;
    if (r->o.max_line == 0)
        r->o.max_line = TLOG_DEFAULT_MAX_LINE;
    r->path = strdup(path ? path : "(memory)");
    r->fd = -1;
    r->trailer_records = -1;
    size_t cap = r->o.max_line + TLOG_HOLD_MAX + TLOG_OUT_STEP;
    if (cap < r->o.max_line)
        cap = r->o.max_line;
    buf_init(&r->pend, cap);
    if (!r->path) {
        free(r);
        return NULL;
    }
    return r;
}

struct tlog_reader *tlog_reader_open(const char *path, const struct tlog_reader_opts *o,
                                     char *err, size_t errlen)
{
    struct tlog_reader *r = tlog_r_new(path, o);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (strcmp(path, "-") == 0) {
        r->fd = STDIN_FILENO;
    } else {
        r->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (r->fd < 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            tlog_reader_close(r);
            return NULL;
        }
        r->close_fd = 1;
    }
    r->inbuf = malloc(TLOG_IN_CHUNK);
    if (!r->inbuf) {
        snprintf(err, errlen, "out of memory");
        tlog_reader_close(r);
        return NULL;
    }
    r->in = r->inbuf;
    if (tlog_r_detect(r) < 0) {
        snprintf(err, errlen, "%s", r->err);
        tlog_reader_close(r);
        return NULL;
    }
    return r;
}

struct tlog_reader *tlog_reader_open_mem(const void *data, size_t len,
                                         const struct tlog_reader_opts *o, char *err,
                                         size_t errlen)
{
    struct tlog_reader *r = tlog_r_new("(memory)", o);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->mem_given = 1;
    r->mem = data;
    r->mem_len = len;
    r->in = data ? data : (const unsigned char *)"";
    r->in_len = data ? len : 0;
    r->eof = 1;
    if (tlog_r_detect(r) < 0) {
        snprintf(err, errlen, "%s", r->err);
        tlog_reader_close(r);
        return NULL;
    }
    return r;
}

/* ---- cheap body skipping ------------------------------------------------------------- */

static const char *tlog_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    return p;
}

/* p at an opening quote: returns the byte after the closing quote, or NULL. */
static const char *tlog_skip_str(const char *p, const char *end)
{
    p++;
    for (;;) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q)
            return NULL;
        /* an odd run of backslashes before the quote escapes it */
        size_t bs = 0;
        while (q - bs > p && q[-1 - (ptrdiff_t)bs] == '\\')
            bs++;
        if (bs % 2 == 0)
            return q + 1;
        p = q + 1;
    }
}

/* Skips one JSON value (not validated: cJSON does that later). NULL when malformed. */
static const char *tlog_skip_value(const char *p, const char *end)
{
    p = tlog_ws(p, end);
    if (p >= end)
        return NULL;
    if (*p == '"')
        return tlog_skip_str(p, end);
    if (*p == '{' || *p == '[') {
        size_t depth = 0;
        while (p < end) {
            char c = *p;
            if (c == '"') {
                p = tlog_skip_str(p, end);
                if (!p)
                    return NULL;
                continue;
            }
            if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                if (--depth == 0)
                    return p + 1;
            }
            p++;
        }
        return NULL;
    }
    while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\t' &&
           *p != '\r' && *p != '\n')
        p++;
    return p;
}

static int tlog_key_is(const char *k, const char *kend, const char *lit)
{
    size_t n = strlen(lit);
    /* k includes both quotes */
    return (size_t)(kend - k) == n + 2 && memcmp(k + 1, lit, n) == 0;
}

/* Replaces the value at [a, b) by null, closing the gap; returns the new end. */
static char *tlog_nullify(char *a, char *b, char *end)
{
    if (b - a <= 4)
        return end;
    memcpy(a, "null", 4);
    memmove(a + 4, b, (size_t)(end - b));
    return end - (b - a - 4);
}

/* Walks the members of the object at p. depth 1: descend into request/response; depth 2:
 * null out the body/text value. Returns the byte after the object (adjusted for removed
 * bytes) and updates *endp, or NULL when the text is not what was expected. */
static char *tlog_blank_object(char *p, char **endp, int depth, int which)
{
    char *end = *endp;
    p = (char *)tlog_ws(p, end);
    if (p >= end || *p != '{')
        return NULL;
    p++;
    for (;;) {
        p = (char *)tlog_ws(p, end);
        if (p >= end)
            return NULL;
        if (*p == '}')
            return p + 1;
        if (*p != '"')
            return NULL;
        char *k = p;
        p = (char *)tlog_skip_str(p, end);
        if (!p)
            return NULL;
        char *kend = p;
        p = (char *)tlog_ws(p, end);
        if (p >= end || *p != ':')
            return NULL;
        p = (char *)tlog_ws(p + 1, end);
        if (p >= end)
            return NULL;
        if (depth == 1 && *p == '{' &&
            (tlog_key_is(k, kend, "request") || tlog_key_is(k, kend, "response"))) {
            p = tlog_blank_object(p, &end, 2, tlog_key_is(k, kend, "request") ? 0 : 1);
            if (!p)
                return NULL;
            *endp = end;
        } else {
            char *v = p;
            p = (char *)tlog_skip_value(p, end);
            if (!p)
                return NULL;
            if (depth == 2 && (which == 0 ? tlog_key_is(k, kend, "body")
                                          : tlog_key_is(k, kend, "text"))) {
                char *nend = tlog_nullify(v, p, end);
                if (nend != end)
                    p = v + 4;
                end = nend;
                *endp = end;
            }
        }
        p = (char *)tlog_ws(p, end);
        if (p >= end)
            return NULL;
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == '}')
            return p + 1;
        return NULL;
    }
}

/* Blanks request.body and response.text of the line in place; returns the new length. */
static size_t tlog_blank_bodies(char *line, size_t len)
{
    char *end = line + len;
    tlog_blank_object(line, &end, 1, 0);
    return (size_t)(end - line);
}

/* ---- fast exchange parser ------------------------------------------------------------
 *
 * Exchange lines are most of a log and cJSON spends most of its time building ~300 nodes per
 * record (one per event number). This parser fills struct tlog_exchange straight from the
 * text. It only ever accepts what the cJSON path would read the same way; anything else —
 * a wrong type, a duplicate key, an exotic number or escape, another record type — makes it
 * answer TLOG_FP_FALLBACK and the line goes through cJSON, which also words the errors. */

#define TLOG_FP_OK 0
#define TLOG_FP_FALLBACK 1

struct tlog_fp {
    const char *p;
    const char *end;
    struct tlog_reader *r;    /* allocation pool; NULL: plain malloc */
};

/* n + 1 bytes for the string of a field, reusing the block kept in slot when it is big
 * enough. */
static char *tlog_fp_alloc(struct tlog_fp *c, int slot, size_t n)
{
    if (c->r && slot >= 0) {
        char *p = c->r->pool[slot];
        if (p) {
            c->r->pool[slot] = NULL;
            if (malloc_usable_size(p) >= n + 1)
                return p;
            free(p);
        }
    }
    return malloc(n + 1);
}

/* Gives a block back to its slot (or frees it when the slot is taken). */
static void tlog_fp_release(struct tlog_fp *c, int slot, char *p)
{
    if (p && c->r && !c->r->pool[slot]) {
        c->r->pool[slot] = p;
        return;
    }
    free(p);
}

static inline void tlog_fp_ws(struct tlog_fp *c)
{
    /* the writer emits no whitespace: one compare settles the common case */
    if (c->p < c->end && (unsigned char)*c->p > ' ')
        return;
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r' || *c->p == '\n'))
        c->p++;
}

/* Consumes ch (after whitespace); 0 when it is not there. */
static inline int tlog_fp_eat(struct tlog_fp *c, char ch)
{
    tlog_fp_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

static int tlog_fp_lit(struct tlog_fp *c, const char *lit, size_t n)
{
    if (n > (size_t)(c->end - c->p) || memcmp(c->p, lit, n) != 0)
        return 0;
    c->p += n;
    return 1;
}

/* After whitespace: 1 and consumed when the next value is null. */
static int tlog_fp_null(struct tlog_fp *c)
{
    tlog_fp_ws(c);
    return tlog_fp_lit(c, "null", 4);
}

static int tlog_fp_hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char h = p[i];
        v <<= 4;
        if (h >= '0' && h <= '9')
            v |= (unsigned)(h - '0');
        else if (h >= 'a' && h <= 'f')
            v |= (unsigned)(h - 'a' + 10);
        else if (h >= 'A' && h <= 'F')
            v |= (unsigned)(h - 'A' + 10);
        else
            return 0;
    }
    *out = v;
    return 1;
}

/* A string value, decoded into a new allocation. FALLBACK for anything unusual (not a
 * string, \u0000, lone surrogates), TLOG_ERR_NOMEM. */
static int tlog_fp_str(struct tlog_fp *c, int slot, char **out)
{
    tlog_fp_ws(c);
    if (c->p >= c->end || *c->p != '"')
        return TLOG_FP_FALLBACK;
    const char *s = ++c->p;
    const char *q = s;
    const char *hit = NULL;
    int escaped = 0;
    for (;;) {
        if (q >= c->end)
            return TLOG_FP_FALLBACK;
        /* keep the quote found last time while it is still ahead: rescanning from every
         * escape would make texts full of \n quadratic */
        if (!hit || hit < q)
            hit = memchr(q, '"', (size_t)(c->end - q));
        if (!hit)
            return TLOG_FP_FALLBACK;
        const char *bs = memchr(q, '\\', (size_t)(hit - q));
        if (!bs) {
            q = hit;
            break;
        }
        escaped = 1;
        if (bs + 1 >= c->end)
            return TLOG_FP_FALLBACK;
        q = bs + 2; /* skip the escaped byte, whatever it is */
    }
    size_t n = (size_t)(q - s);
    char *d = tlog_fp_alloc(c, slot, n);
    if (!d)
        return TLOG_ERR_NOMEM;
    if (!escaped) {
        memcpy(d, s, n);
        d[n] = '\0';
    } else {
        char *o = d;
        const char *p = s;
        while (p < q) {
            if (*p != '\\') {
                *o++ = *p++;
                continue;
            }
            p++;
            char e = *p++;
            unsigned cp;
            switch (e) {
            case '"': *o++ = '"'; break;
            case '\\': *o++ = '\\'; break;
            case '/': *o++ = '/'; break;
            case 'b': *o++ = '\b'; break;
            case 'f': *o++ = '\f'; break;
            case 'n': *o++ = '\n'; break;
            case 'r': *o++ = '\r'; break;
            case 't': *o++ = '\t'; break;
            case 'u':
                if ((size_t)(q - p) < 4 || !tlog_fp_hex4(p, &cp))
                    goto fallback;
                p += 4;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    unsigned lo;
                    if ((size_t)(q - p) < 6 || p[0] != '\\' || p[1] != 'u' ||
                        !tlog_fp_hex4(p + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                        goto fallback;
                    p += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    goto fallback;
                }
                if (cp == 0)
                    goto fallback; /* cJSON would cut the string there */
                /* \uXXXX is 6 bytes of input for at most 3 of output, a pair 12 for 4 */
                if (cp < 0x80) {
                    *o++ = (char)cp;
                } else if (cp < 0x800) {
                    *o++ = (char)(0xC0 | (cp >> 6));
                    *o++ = (char)(0x80 | (cp & 0x3F));
                } else if (cp < 0x10000) {
                    *o++ = (char)(0xE0 | (cp >> 12));
                    *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                    *o++ = (char)(0x80 | (cp & 0x3F));
                } else {
                    *o++ = (char)(0xF0 | (cp >> 18));
                    *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
                    *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                    *o++ = (char)(0x80 | (cp & 0x3F));
                }
                break;
            default:
                goto fallback;
            }
        }
        *o = '\0';
    }
    c->p = q + 1;
    *out = d;
    return TLOG_FP_OK;
fallback:
    tlog_fp_release(c, slot, d);
    return TLOG_FP_FALLBACK;
}

/* Optional string: null → NULL. */
static int tlog_fp_opt_str(struct tlog_fp *c, int slot, char **out)
{
    if (tlog_fp_null(c))
        return TLOG_FP_OK;
    return tlog_fp_str(c, slot, out);
}

/* A plain integer (no fraction or exponent, at most 18 digits). */
static int tlog_fp_int(struct tlog_fp *c, int64_t *out)
{
    tlog_fp_ws(c);
    const char *p = c->p;
    int neg = 0;
    if (p < c->end && *p == '-') {
        neg = 1;
        p++;
    }
    const char *d0 = p;
    int64_t v = 0;
    while (p < c->end && *p >= '0' && *p <= '9' && p - d0 < 18) {
        v = v * 10 + (*p - '0');
        p++;
    }
    if (p == d0 || (p < c->end && ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' ||
                                   *p == 'E')))
        return TLOG_FP_FALLBACK;
    c->p = p;
    *out = neg ? -v : v;
    return TLOG_FP_OK;
}

/* Optional integer: null → dflt. */
static int tlog_fp_opt_int(struct tlog_fp *c, int64_t dflt, int64_t *out)
{
    if (tlog_fp_null(c)) {
        *out = dflt;
        return TLOG_FP_OK;
    }
    return tlog_fp_int(c, out);
}

/* Reads the next key of an object into [*k, *k + *kn) (raw, must have no escapes). Returns
 * 1 with a key, 0 at the closing brace, FALLBACK on anything else. first: no comma before. */
static int tlog_fp_key(struct tlog_fp *c, int first, const char **k, size_t *kn)
{
    tlog_fp_ws(c);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        return 0;
    }
    if (!first && !tlog_fp_eat(c, ','))
        return -1;
    tlog_fp_ws(c);
    if (c->p >= c->end || *c->p != '"')
        return -1;
    const char *s = c->p + 1;
    const char *q = s;
    /* keys are short: a byte loop beats two memchr calls */
    while (q < c->end && *q != '"' && *q != '\\')
        q++;
    if (q >= c->end || *q != '"')
        return -1;
    c->p = q + 1;
    if (!tlog_fp_eat(c, ':'))
        return -1;
    *k = s;
    *kn = (size_t)(q - s);
    return 1;
}

#define TLOG_FP_KEY(k, kn, lit) ((kn) == sizeof(lit) - 1 && memcmp((k), (lit), (kn)) == 0)

/* Marks key bit b as seen; a second sighting (duplicate key) means fallback. */
#define TLOG_FP_ONCE(seen, b)                                                                  \
    do {                                                                                       \
        if ((seen) & (1u << (b)))                                                              \
            return TLOG_FP_FALLBACK;                                                           \
        (seen) |= 1u << (b);                                                                   \
    } while (0)

#define TLOG_FP_TRY(expr)                                                                      \
    do {                                                                                       \
        int tlog_fp_rc_ = (expr);                                                              \
        if (tlog_fp_rc_)                                                                       \
            return tlog_fp_rc_;                                                                \
    } while (0)

static int tlog_fp_skip(struct tlog_fp *c)
{
    const char *e = tlog_skip_value(c->p, c->end);
    if (!e)
        return TLOG_FP_FALLBACK;
    c->p = e;
    return TLOG_FP_OK;
}

/* Headers as an object {name: value, …} (hand-written logs, other tools' exports). Anything
 * but string values goes to the cJSON path, which drops the field and counts it. */
static int tlog_fp_headers_obj(struct tlog_fp *c, struct tlog_exchange *x, int which)
{
    if (tlog_fp_eat(c, '}'))
        return TLOG_FP_OK;
    do {
        char *n = NULL, *v = NULL;
        int rc = tlog_fp_str(c, TLOG_SLOT_TMP1, &n);
        if (!rc && !tlog_fp_eat(c, ':'))
            rc = TLOG_FP_FALLBACK;
        if (!rc)
            rc = tlog_fp_str(c, TLOG_SLOT_TMP2, &v);
        if (!rc && tlog_exchange_add_header(x, which, n, strlen(n), v, strlen(v)))
            rc = TLOG_ERR_NOMEM;
        tlog_fp_release(c, TLOG_SLOT_TMP1, n);
        tlog_fp_release(c, TLOG_SLOT_TMP2, v);
        if (rc)
            return rc;
    } while (tlog_fp_eat(c, ','));
    return tlog_fp_eat(c, '}') ? TLOG_FP_OK : TLOG_FP_FALLBACK;
}

static int tlog_fp_headers(struct tlog_fp *c, struct tlog_exchange *x, int which)
{
    if (tlog_fp_null(c))
        return TLOG_FP_OK;
    if (tlog_fp_eat(c, '{'))
        return tlog_fp_headers_obj(c, x, which);
    if (!tlog_fp_eat(c, '['))
        return TLOG_FP_FALLBACK;
    if (tlog_fp_eat(c, ']'))
        return TLOG_FP_OK;
    do {
        char *n = NULL, *v = NULL;
        int rc;
        if (!tlog_fp_eat(c, '['))
            return TLOG_FP_FALLBACK;
        rc = tlog_fp_str(c, TLOG_SLOT_TMP1, &n);
        if (!rc && !tlog_fp_eat(c, ','))
            rc = TLOG_FP_FALLBACK;
        if (!rc)
            rc = tlog_fp_str(c, TLOG_SLOT_TMP2, &v);
        if (!rc && !tlog_fp_eat(c, ']'))
            rc = TLOG_FP_FALLBACK;
        if (!rc && tlog_exchange_add_header(x, which, n, strlen(n), v, strlen(v)))
            rc = TLOG_ERR_NOMEM;
        tlog_fp_release(c, TLOG_SLOT_TMP1, n);
        tlog_fp_release(c, TLOG_SLOT_TMP2, v);
        if (rc)
            return rc;
    } while (tlog_fp_eat(c, ','));
    return tlog_fp_eat(c, ']') ? TLOG_FP_OK : TLOG_FP_FALLBACK;
}

/* The writer's own shape of one event, "[off,tok,0|1]" with no whitespace, at c->p: 1 with
 * the values and c->p past it, 0 (c->p unchanged) for anything else, which the general
 * parser then reads — so this accepts only what that parser would read the same way. */
static int tlog_fp_event_compact(struct tlog_fp *c, int64_t *off, int64_t *tok, int *content)
{
    const char *p = c->p;
    const char *end = c->end;
    /* shortest: [0,0,0] */
    if (end - p < 7 || *p != '[')
        return 0;
    p++;
    int neg = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    const char *d0 = p;
    int64_t v = 0;
    while (p < end && (unsigned)(*p - '0') < 10 && p - d0 < 18)
        v = v * 10 + (*p++ - '0');
    if (p == d0 || p >= end || *p != ',')
        return 0;
    p++;
    d0 = p;
    int64_t t = 0;
    while (p < end && (unsigned)(*p - '0') < 10 && p - d0 < 10)
        t = t * 10 + (*p++ - '0');
    if (p == d0 || t > 2147483647 || end - p < 4 || p[0] != ',' ||
        (p[1] != '0' && p[1] != '1') || p[2] != ']')
        return 0;
    *off = neg ? -v : v;
    *tok = t;
    *content = p[1] == '1';
    c->p = p + 3;
    return 1;
}

static int tlog_fp_events(struct tlog_fp *c, struct tlog_exchange *x)
{
    if (tlog_fp_null(c))
        return TLOG_FP_OK;
    if (!tlog_fp_eat(c, '['))
        return TLOG_FP_FALLBACK;
    if (tlog_fp_eat(c, ']'))
        return TLOG_FP_OK;
    struct tlog_response *rs = &x->resp;
    if (!rs->events && c->r && c->r->spare_events) {
        rs->events = c->r->spare_events;
        rs->cap_events = c->r->spare_cap;
        c->r->spare_events = NULL;
        c->r->spare_cap = 0;
    }
    do {
        int64_t off, tok;
        int content;
        tlog_fp_ws(c);
        if (tlog_fp_event_compact(c, &off, &tok, &content)) {
            if (rs->n_events < rs->cap_events) {
                struct tlog_event *e = &rs->events[rs->n_events++];
                e->offset_us = off;
                e->tokens = (int32_t)tok;
                e->is_content = (uint8_t)content;
            } else if (tlog_exchange_add_event(x, off, (int32_t)tok, content)) {
                return TLOG_ERR_NOMEM;
            }
            continue; /* the loop condition eats the comma */
        }
        if (!tlog_fp_eat(c, '['))
            return TLOG_FP_FALLBACK;
        TLOG_FP_TRY(tlog_fp_int(c, &off));
        if (!tlog_fp_eat(c, ','))
            return TLOG_FP_FALLBACK;
        TLOG_FP_TRY(tlog_fp_int(c, &tok));
        if (tok < 0 || tok > 2147483647 || !tlog_fp_eat(c, ','))
            return TLOG_FP_FALLBACK;
        tlog_fp_ws(c);
        if (tlog_fp_lit(c, "1", 1) || tlog_fp_lit(c, "true", 4))
            content = 1;
        else if (tlog_fp_lit(c, "0", 1) || tlog_fp_lit(c, "false", 5))
            content = 0;
        else
            return TLOG_FP_FALLBACK;
        if (!tlog_fp_eat(c, ']'))
            return TLOG_FP_FALLBACK;
        if (tlog_exchange_add_event(x, off, (int32_t)tok, content))
            return TLOG_ERR_NOMEM;
    } while (tlog_fp_eat(c, ','));
    return tlog_fp_eat(c, ']') ? TLOG_FP_OK : TLOG_FP_FALLBACK;
}

/* response.write_us (recording proxy): integers or nulls; anything else → the full parser,
 * which drops the key. */
static int tlog_fp_write_times(struct tlog_fp *c, struct tlog_exchange *x)
{
    if (tlog_fp_null(c))
        return TLOG_FP_OK;
    if (!tlog_fp_eat(c, '['))
        return TLOG_FP_FALLBACK;
    if (tlog_fp_eat(c, ']'))
        return TLOG_FP_OK;
    struct tlog_response *rs = &x->resp;
    size_t cap = rs->n_events ? rs->n_events : 16;
    int64_t *w = malloc(cap * sizeof *w);
    size_t n = 0;
    if (!w)
        return TLOG_ERR_NOMEM;
    do {
        int64_t v = -1;
        if (!tlog_fp_null(c) && (tlog_fp_int(c, &v) != TLOG_FP_OK || v < 0)) {
            free(w);
            return TLOG_FP_FALLBACK;
        }
        if (n == cap) {
            int64_t *nw = cap > SIZE_MAX / 2 / sizeof *w ? NULL : realloc(w, 2 * cap * sizeof *w);
            if (!nw) {
                free(w);
                return TLOG_ERR_NOMEM;
            }
            w = nw;
            cap *= 2;
        }
        w[n++] = v;
    } while (tlog_fp_eat(c, ','));
    if (!tlog_fp_eat(c, ']')) {
        free(w);
        return TLOG_FP_FALLBACK;
    }
    free(rs->write_us);
    rs->write_us = w;
    rs->n_write_us = n;
    return TLOG_FP_OK;
}

/* Reads a boolean (or 0/1 when nums) into *out; null leaves *out alone. */
static int tlog_fp_bool(struct tlog_fp *c, int nums, int *out)
{
    tlog_fp_ws(c);
    if (tlog_fp_lit(c, "null", 4))
        return TLOG_FP_OK;
    if (tlog_fp_lit(c, "true", 4) || (nums && tlog_fp_lit(c, "1", 1)))
        *out = 1;
    else if (tlog_fp_lit(c, "false", 5) || (nums && tlog_fp_lit(c, "0", 1)))
        *out = 0;
    else
        return TLOG_FP_FALLBACK;
    /* "10" must not read as 1 followed by junk */
    if (c->p < c->end && ((*c->p >= '0' && *c->p <= '9') || *c->p == '.' || *c->p == 'e' ||
                          *c->p == 'E'))
        return TLOG_FP_FALLBACK;
    return TLOG_FP_OK;
}

static int tlog_fp_request(struct tlog_fp *c, struct tlog_exchange *x, int skip_bodies)
{
    struct tlog_request *q = &x->req;
    unsigned seen = 0;
    const char *k;
    size_t kn;
    int r;
    if (tlog_fp_null(c))
        return TLOG_FP_OK;
    if (!tlog_fp_eat(c, '{'))
        return TLOG_FP_FALLBACK;
    for (int first = 1; (r = tlog_fp_key(c, first, &k, &kn)) == 1; first = 0) {
        if (TLOG_FP_KEY(k, kn, "method")) {
            TLOG_FP_ONCE(seen, 0);
            TLOG_FP_TRY(tlog_fp_opt_str(c, TLOG_SLOT_METHOD, &q->method));
        } else if (TLOG_FP_KEY(k, kn, "path")) {
            TLOG_FP_ONCE(seen, 1);
            TLOG_FP_TRY(tlog_fp_opt_str(c, TLOG_SLOT_PATH, &q->path));
        } else if (TLOG_FP_KEY(k, kn, "host")) {
            TLOG_FP_ONCE(seen, 2);
            TLOG_FP_TRY(tlog_fp_opt_str(c, TLOG_SLOT_HOST, &q->host));
        } else if (TLOG_FP_KEY(k, kn, "headers")) {
            TLOG_FP_ONCE(seen, 3);
            TLOG_FP_TRY(tlog_fp_headers(c, x, 0));
        } else if (TLOG_FP_KEY(k, kn, "body")) {
            TLOG_FP_ONCE(seen, 4);
            tlog_fp_ws(c);
            const char *v = c->p;
            TLOG_FP_TRY(tlog_fp_skip(c));
            if (!skip_bodies && !(c->p - v == 4 && memcmp(v, "null", 4) == 0)) {
                q->body = cJSON_ParseWithLength(v, (size_t)(c->p - v));
                if (!q->body)
                    return TLOG_FP_FALLBACK;
                if (c->r) {
                    c->r->body_src = v;
                    c->r->body_src_len = (size_t)(c->p - v);
                }
            }
        } else if (TLOG_FP_KEY(k, kn, "body_bytes")) {
            TLOG_FP_ONCE(seen, 5);
            TLOG_FP_TRY(tlog_fp_opt_int(c, -1, &q->body_bytes));
        } else if (TLOG_FP_KEY(k, kn, "body_sha256")) {
            TLOG_FP_ONCE(seen, 6);
            TLOG_FP_TRY(tlog_fp_opt_str(c, TLOG_SLOT_SHA, &q->body_sha256));
        } else {
            TLOG_FP_TRY(tlog_fp_skip(c));
        }
    }
    return r == 0 ? TLOG_FP_OK : TLOG_FP_FALLBACK;
}

static int tlog_fp_response(struct tlog_fp *c, struct tlog_exchange *x, int skip_bodies)
{
    struct tlog_response *s = &x->resp;
    unsigned seen = 0;
    const char *k;
    size_t kn;
    int r;
    if (tlog_fp_null(c))
        return TLOG_FP_OK;
    if (!tlog_fp_eat(c, '{'))
        return TLOG_FP_FALLBACK;
    for (int first = 1; (r = tlog_fp_key(c, first, &k, &kn)) == 1; first = 0) {
        if (TLOG_FP_KEY(k, kn, "status")) {
            int64_t st;
            TLOG_FP_ONCE(seen, 0);
            TLOG_FP_TRY(tlog_fp_opt_int(c, 0, &st));
            if (st < 0 || st > 999)
                return TLOG_FP_FALLBACK;
            s->status = (int)st;
        } else if (TLOG_FP_KEY(k, kn, "headers")) {
            TLOG_FP_ONCE(seen, 1);
            TLOG_FP_TRY(tlog_fp_headers(c, x, 1));
        } else if (TLOG_FP_KEY(k, kn, "ttfb_us")) {
            TLOG_FP_ONCE(seen, 2);
            TLOG_FP_TRY(tlog_fp_opt_int(c, -1, &s->ttfb_us));
        } else if (TLOG_FP_KEY(k, kn, "end_us")) {
            TLOG_FP_ONCE(seen, 3);
            TLOG_FP_TRY(tlog_fp_opt_int(c, -1, &s->end_us));
        } else if (TLOG_FP_KEY(k, kn, "events")) {
            TLOG_FP_ONCE(seen, 4);
            TLOG_FP_TRY(tlog_fp_events(c, x));
        } else if (TLOG_FP_KEY(k, kn, "write_us")) {
            TLOG_FP_ONCE(seen, 10);
            TLOG_FP_TRY(tlog_fp_write_times(c, x));
        } else if (TLOG_FP_KEY(k, kn, "text")) {
            TLOG_FP_ONCE(seen, 5);
            if (skip_bodies) {
                TLOG_FP_TRY(tlog_fp_skip(c));
            } else {
                TLOG_FP_TRY(tlog_fp_opt_str(c, TLOG_SLOT_TEXT, &s->text));
                s->text_len = s->text ? strlen(s->text) : 0;
            }
        } else if (TLOG_FP_KEY(k, kn, "finish_reason")) {
            TLOG_FP_ONCE(seen, 6);
            TLOG_FP_TRY(tlog_fp_opt_str(c, TLOG_SLOT_FINISH, &s->finish_reason));
        } else if (TLOG_FP_KEY(k, kn, "body_bytes")) {
            TLOG_FP_ONCE(seen, 7);
            TLOG_FP_TRY(tlog_fp_opt_int(c, -1, &s->body_bytes));
        } else if (TLOG_FP_KEY(k, kn, "dropped_text_bytes")) {
            TLOG_FP_ONCE(seen, 8);
            TLOG_FP_TRY(tlog_fp_opt_int(c, 0, &s->dropped_text_bytes));
        } else if (TLOG_FP_KEY(k, kn, "dropped_events")) {
            TLOG_FP_ONCE(seen, 9);
            TLOG_FP_TRY(tlog_fp_opt_int(c, 0, &s->dropped_events));
        } else {
            TLOG_FP_TRY(tlog_fp_skip(c));
        }
    }
    return r == 0 ? TLOG_FP_OK : TLOG_FP_FALLBACK;
}

static int tlog_fp_usage(struct tlog_fp *c, struct tlog_exchange *x)
{
    unsigned seen = 0;
    const char *k;
    size_t kn;
    int r;
    if (tlog_fp_null(c))
        return TLOG_FP_OK;
    if (!tlog_fp_eat(c, '{'))
        return TLOG_FP_FALLBACK;
    x->usage.present = 1;
    for (int first = 1; (r = tlog_fp_key(c, first, &k, &kn)) == 1; first = 0) {
        if (TLOG_FP_KEY(k, kn, "prompt_tokens")) {
            TLOG_FP_ONCE(seen, 0);
            TLOG_FP_TRY(tlog_fp_opt_int(c, -1, &x->usage.prompt_tokens));
        } else if (TLOG_FP_KEY(k, kn, "completion_tokens")) {
            TLOG_FP_ONCE(seen, 1);
            TLOG_FP_TRY(tlog_fp_opt_int(c, -1, &x->usage.completion_tokens));
        } else if (TLOG_FP_KEY(k, kn, "cached_tokens")) {
            TLOG_FP_ONCE(seen, 2);
            TLOG_FP_TRY(tlog_fp_opt_int(c, -1, &x->usage.cached_tokens));
        } else {
            TLOG_FP_TRY(tlog_fp_skip(c));
        }
    }
    return r == 0 ? TLOG_FP_OK : TLOG_FP_FALLBACK;
}

static int tlog_fp_error(struct tlog_fp *c, struct tlog_exchange *x)
{
    unsigned seen = 0;
    const char *k;
    size_t kn;
    int r;
    if (tlog_fp_null(c))
        return TLOG_FP_OK;
    if (!tlog_fp_eat(c, '{'))
        return TLOG_FP_FALLBACK;
    x->error_kind = TLOG_ERROR_OTHER;
    for (int first = 1; (r = tlog_fp_key(c, first, &k, &kn)) == 1; first = 0) {
        if (TLOG_FP_KEY(k, kn, "kind")) {
            char *kind = NULL;
            TLOG_FP_ONCE(seen, 0);
            TLOG_FP_TRY(tlog_fp_opt_str(c, TLOG_SLOT_TMP1, &kind));
            x->error_kind = tlog_error_kind_parse(kind);
            if (x->error_kind == TLOG_ERROR_NONE)
                x->error_kind = TLOG_ERROR_OTHER;
            tlog_fp_release(c, TLOG_SLOT_TMP1, kind);
        } else if (TLOG_FP_KEY(k, kn, "message")) {
            TLOG_FP_ONCE(seen, 1);
            TLOG_FP_TRY(tlog_fp_opt_str(c, TLOG_SLOT_ERRMSG, &x->error_message));
        } else {
            TLOG_FP_TRY(tlog_fp_skip(c));
        }
    }
    return r == 0 ? TLOG_FP_OK : TLOG_FP_FALLBACK;
}

static int tlog_fp_replay(struct tlog_fp *c, struct tlog_exchange *x)
{
    struct tlog_replay *p = &x->replay;
    unsigned seen = 0;
    const char *k;
    size_t kn;
    int r;
    if (tlog_fp_null(c))
        return TLOG_FP_OK;
    if (!tlog_fp_eat(c, '{'))
        return TLOG_FP_FALLBACK;
    p->present = 1;
    for (int first = 1; (r = tlog_fp_key(c, first, &k, &kn)) == 1; first = 0) {
        if (TLOG_FP_KEY(k, kn, "of")) {
            TLOG_FP_ONCE(seen, 0);
            TLOG_FP_TRY(tlog_fp_opt_str(c, TLOG_SLOT_OF, &p->of));
        } else if (TLOG_FP_KEY(k, kn, "sched_us")) {
            TLOG_FP_ONCE(seen, 1);
            TLOG_FP_TRY(tlog_fp_opt_int(c, -1, &p->sched_us));
        } else if (TLOG_FP_KEY(k, kn, "stage")) {
            int64_t st;
            TLOG_FP_ONCE(seen, 2);
            if (!tlog_fp_null(c)) {
                /* integral stages are the rule; fractional rates take the cJSON path */
                TLOG_FP_TRY(tlog_fp_int(c, &st));
                p->has_stage = 1;
                p->stage = (double)st;
            }
        } else if (TLOG_FP_KEY(k, kn, "mode")) {
            TLOG_FP_ONCE(seen, 3);
            TLOG_FP_TRY(tlog_fp_opt_str(c, TLOG_SLOT_MODE, &p->mode));
        } else if (TLOG_FP_KEY(k, kn, "target")) {
            TLOG_FP_ONCE(seen, 4);
            TLOG_FP_TRY(tlog_fp_opt_str(c, TLOG_SLOT_TARGET, &p->target));
        } else if (TLOG_FP_KEY(k, kn, "warmup")) {
            TLOG_FP_ONCE(seen, 5);
            TLOG_FP_TRY(tlog_fp_bool(c, 1, &p->warmup));
        } else if (TLOG_FP_KEY(k, kn, "wait_us")) {
            TLOG_FP_ONCE(seen, 6);
            TLOG_FP_TRY(tlog_fp_opt_int(c, 0, &p->wait_us));
        } else if (TLOG_FP_KEY(k, kn, "worker")) {
            int64_t wk;
            TLOG_FP_ONCE(seen, 7);
            TLOG_FP_TRY(tlog_fp_opt_int(c, 0, &wk));
            if (wk < -2147483647 || wk > 2147483647)
                return TLOG_FP_FALLBACK;
            p->worker = (int)wk;
        } else if (TLOG_FP_KEY(k, kn, "attempts")) {
            /* rare (a re-sent request): the cJSON path reads them, unless there are none */
            TLOG_FP_ONCE(seen, 8);
            tlog_fp_ws(c);
            if (!tlog_fp_null(c) && !(tlog_fp_eat(c, '[') && tlog_fp_eat(c, ']')))
                return TLOG_FP_FALLBACK;
        } else {
            TLOG_FP_TRY(tlog_fp_skip(c));
        }
    }
    return r == 0 ? TLOG_FP_OK : TLOG_FP_FALLBACK;
}

static int tlog_fp_session(struct tlog_fp *c, struct tlog_exchange *x)
{
    struct tlog_session *s = &x->session;
    unsigned seen = 0;
    const char *k;
    size_t kn;
    int r;
    if (tlog_fp_null(c))
        return TLOG_FP_OK;
    if (!tlog_fp_eat(c, '{'))
        return TLOG_FP_FALLBACK;
    s->present = 1;
    for (int first = 1; (r = tlog_fp_key(c, first, &k, &kn)) == 1; first = 0) {
        if (TLOG_FP_KEY(k, kn, "id")) {
            TLOG_FP_ONCE(seen, 0);
            TLOG_FP_TRY(tlog_fp_opt_str(c, TLOG_SLOT_SESSION, &s->id));
        } else if (TLOG_FP_KEY(k, kn, "turn")) {
            TLOG_FP_ONCE(seen, 1);
            TLOG_FP_TRY(tlog_fp_opt_int(c, -1, &s->turn));
        } else if (TLOG_FP_KEY(k, kn, "think_us")) {
            TLOG_FP_ONCE(seen, 2);
            TLOG_FP_TRY(tlog_fp_opt_int(c, -1, &s->think_us));
        } else {
            TLOG_FP_TRY(tlog_fp_skip(c));
        }
    }
    return r == 0 ? TLOG_FP_OK : TLOG_FP_FALLBACK;
}

static int tlog_fp_exchange(struct tlog_fp *c, struct tlog_exchange *x, int skip_bodies,
                            int keep_extra)
{
    unsigned seen = 0;
    const char *k;
    size_t kn;
    int r;
    if (!tlog_fp_eat(c, '{'))
        return TLOG_FP_FALLBACK;
    for (int first = 1; (r = tlog_fp_key(c, first, &k, &kn)) == 1; first = 0) {
        if (TLOG_FP_KEY(k, kn, "type")) {
            TLOG_FP_ONCE(seen, 0);
            tlog_fp_ws(c);
            if (!tlog_fp_lit(c, "\"exchange\"", 10))
                return TLOG_FP_FALLBACK; /* headers, trailers, bad types */
        } else if (TLOG_FP_KEY(k, kn, "id")) {
            TLOG_FP_ONCE(seen, 1);
            TLOG_FP_TRY(tlog_fp_opt_str(c, TLOG_SLOT_ID, &x->id));
        } else if (TLOG_FP_KEY(k, kn, "start_us")) {
            TLOG_FP_ONCE(seen, 2);
            TLOG_FP_TRY(tlog_fp_opt_int(c, 0, &x->start_us));
        } else if (TLOG_FP_KEY(k, kn, "conn")) {
            TLOG_FP_ONCE(seen, 3);
            TLOG_FP_TRY(tlog_fp_opt_str(c, TLOG_SLOT_CONN, &x->conn));
        } else if (TLOG_FP_KEY(k, kn, "dialect")) {
            TLOG_FP_ONCE(seen, 4);
            TLOG_FP_TRY(tlog_fp_opt_str(c, TLOG_SLOT_DIALECT, &x->dialect));
        } else if (TLOG_FP_KEY(k, kn, "model")) {
            TLOG_FP_ONCE(seen, 5);
            TLOG_FP_TRY(tlog_fp_opt_str(c, TLOG_SLOT_MODEL, &x->model));
        } else if (TLOG_FP_KEY(k, kn, "stream")) {
            TLOG_FP_ONCE(seen, 6);
            TLOG_FP_TRY(tlog_fp_bool(c, 0, &x->stream));
        } else if (TLOG_FP_KEY(k, kn, "request")) {
            TLOG_FP_ONCE(seen, 7);
            TLOG_FP_TRY(tlog_fp_request(c, x, skip_bodies));
        } else if (TLOG_FP_KEY(k, kn, "response")) {
            TLOG_FP_ONCE(seen, 8);
            TLOG_FP_TRY(tlog_fp_response(c, x, skip_bodies));
        } else if (TLOG_FP_KEY(k, kn, "usage")) {
            TLOG_FP_ONCE(seen, 9);
            TLOG_FP_TRY(tlog_fp_usage(c, x));
        } else if (TLOG_FP_KEY(k, kn, "tokens_in")) {
            TLOG_FP_ONCE(seen, 10);
            TLOG_FP_TRY(tlog_fp_opt_int(c, -1, &x->tokens_in));
        } else if (TLOG_FP_KEY(k, kn, "tokens_out")) {
            TLOG_FP_ONCE(seen, 11);
            TLOG_FP_TRY(tlog_fp_opt_int(c, -1, &x->tokens_out));
        } else if (TLOG_FP_KEY(k, kn, "tokens_source")) {
            char *src = NULL;
            TLOG_FP_ONCE(seen, 12);
            TLOG_FP_TRY(tlog_fp_opt_str(c, TLOG_SLOT_TMP1, &src));
            if (src) {
                x->tokens_source = tlog_tokens_source_parse(src);
                tlog_fp_release(c, TLOG_SLOT_TMP1, src);
            }
        } else if (TLOG_FP_KEY(k, kn, "error")) {
            TLOG_FP_ONCE(seen, 13);
            TLOG_FP_TRY(tlog_fp_error(c, x));
        } else if (TLOG_FP_KEY(k, kn, "replay")) {
            TLOG_FP_ONCE(seen, 14);
            TLOG_FP_TRY(tlog_fp_replay(c, x));
        } else if (TLOG_FP_KEY(k, kn, "conn_new")) {
            TLOG_FP_ONCE(seen, 15);
            TLOG_FP_TRY(tlog_fp_bool(c, 1, &x->conn_new));
        } else if (TLOG_FP_KEY(k, kn, "connect_us")) {
            TLOG_FP_ONCE(seen, 16);
            TLOG_FP_TRY(tlog_fp_opt_int(c, -1, &x->connect_us));
        } else if (TLOG_FP_KEY(k, kn, "resent_as")) {
            TLOG_FP_ONCE(seen, 17);
            TLOG_FP_TRY(tlog_fp_opt_str(c, TLOG_SLOT_RESENT, &x->resent_as));
        } else if (TLOG_FP_KEY(k, kn, "session")) {
            TLOG_FP_ONCE(seen, 18);
            TLOG_FP_TRY(tlog_fp_session(c, x));
        } else {
            if (keep_extra)
                return TLOG_FP_FALLBACK; /* cJSON keeps unknown keys */
            TLOG_FP_TRY(tlog_fp_skip(c));
        }
    }
    return r == 0 ? TLOG_FP_OK : TLOG_FP_FALLBACK;
}

/* Fast path for one line: TLOG_FP_OK with x filled, TLOG_FP_FALLBACK with x reset, or
 * TLOG_ERR_NOMEM. */
static int tlog_fp_line(struct tlog_reader *r, const char *line, size_t len,
                        struct tlog_exchange *x, int skip_bodies, int keep_extra)
{
    struct tlog_fp c = {line, line + len, r};
    tlog_exchange_init(x);
    int rc = tlog_fp_exchange(&c, x, skip_bodies, keep_extra);
    if (rc != TLOG_FP_OK)
        tlog_exchange_free(x);
    return rc;
}

/* ---- records ------------------------------------------------------------------------- */

static int tlog_r_bad(struct tlog_reader *r, const char *detail)
{
    tlog_r_seterr(r, "record %" PRId64 ": %s", r->line_no, detail);
    r->st.bad_lines++;
    return TLOG_ERR_FORMAT;
}

static int tlog_r_header(struct tlog_reader *r, const cJSON *j, struct tlog_record *rec)
{
    struct tlog_header *h = &rec->header;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "schema");
    if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 1e6)
        return tlog_r_bad(r, "bad \"schema\": expected positive integer");
    h->schema = (int)v->valuedouble;
    static const struct { const char *key; size_t off; } strs[] = {
        {"tool", offsetof(struct tlog_header, tool)},
        {"version", offsetof(struct tlog_header, version)},
    };
    for (size_t i = 0; i < 2; i++) {
        v = cJSON_GetObjectItemCaseSensitive(j, strs[i].key);
        if (!v || cJSON_IsNull(v))
            continue;
        if (!cJSON_IsString(v)) {
            char m[64];
            snprintf(m, sizeof m, "bad \"%s\": expected string", strs[i].key);
            return tlog_r_bad(r, m);
        }
        char *s = strdup(v->valuestring);
        if (!s)
            return TLOG_ERR_NOMEM;
        *(char **)((char *)h + strs[i].off) = s;
    }
    v = cJSON_GetObjectItemCaseSensitive(j, "start_us");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsNumber(v) || !(v->valuedouble > -9e18 && v->valuedouble < 9e18))
            return tlog_r_bad(r, "bad \"start_us\": expected integer");
        h->start_us = (int64_t)v->valuedouble;
    }
    const char *objs[] = {"command", "source", "options", "clock"};
    cJSON **dst[] = {&h->command, &h->source, &h->options, &h->clock};
    for (size_t i = 0; i < 4; i++) {
        v = cJSON_GetObjectItemCaseSensitive(j, objs[i]);
        if (!v || cJSON_IsNull(v))
            continue;
        if (!(*dst[i] = cJSON_Duplicate(v, 1)))
            return TLOG_ERR_NOMEM;
    }
    r->st.saw_header = 1;
    r->st.schema = h->schema;
    if (h->schema > TLOG_SCHEMA_VERSION) {
        /* newer major schema: read what this reader understands and say so */
        snprintf(r->warn, sizeof r->warn,
                 "schema %d is newer than this reader's %d: unknown fields ignored", h->schema,
                 TLOG_SCHEMA_VERSION);
        tlog_r_seterr(r, "%s", r->warn);
    }
    rec->type = TLOG_REC_HEADER;
    return 1;
}

static int tlog_r_trailer(struct tlog_reader *r, const cJSON *j, struct tlog_record *rec)
{
    struct tlog_trailer *t = &rec->trailer;
    const char *keys[] = {"end_us", "records", "errors"};
    int64_t *dst[] = {&t->end_us, &t->records, &t->errors};
    for (size_t i = 0; i < 3; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, keys[i]);
        if (!v || cJSON_IsNull(v))
            continue;
        if (!cJSON_IsNumber(v) || !(v->valuedouble > -9e18 && v->valuedouble < 9e18)) {
            char m[64];
            snprintf(m, sizeof m, "bad \"%s\": expected integer", keys[i]);
            return tlog_r_bad(r, m);
        }
        *dst[i] = (int64_t)v->valuedouble;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "stats");
    if (v && !cJSON_IsNull(v) && !(t->stats = cJSON_Duplicate(v, 1)))
        return TLOG_ERR_NOMEM;
    r->st.saw_trailer = 1;
    r->trailer_records = t->records;
    rec->type = TLOG_REC_TRAILER;
    return 1;
}

static int tlog_r_parse_line(struct tlog_reader *r, char *line, size_t len,
                             struct tlog_record *rec)
{
    int fp = tlog_fp_line(r, line, len, &rec->x, r->o.skip_bodies, r->o.keep_extra);
    if (fp == TLOG_FP_OK) {
        rec->type = TLOG_REC_EXCHANGE;
        r->st.records++;
        return 1;
    }
    if (fp == TLOG_ERR_NOMEM) {
        tlog_r_seterr(r, "record %" PRId64 ": out of memory", r->line_no);
        return TLOG_ERR_NOMEM;
    }
    if (r->o.skip_bodies)
        len = tlog_blank_bodies(line, len);
    const char *endp = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(line, len, &endp, 0);
    if (!j) {
        char m[96];
        size_t col = endp && endp >= line && endp <= line + len ? (size_t)(endp - line) : 0;
        snprintf(m, sizeof m, "invalid JSON near byte %zu of the line", col);
        return tlog_r_bad(r, m);
    }
    int rc;
    if (!cJSON_IsObject(j)) {
        rc = tlog_r_bad(r, "expected a JSON object");
        goto out;
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "type");
    if (t && !cJSON_IsString(t)) {
        rc = tlog_r_bad(r, "bad \"type\": expected string");
        goto out;
    }
    /* a line without a type is read as an exchange (hand-made JSONL) */
    const char *type = t ? t->valuestring : "exchange";
    if (strcmp(type, "header") == 0) {
        rc = tlog_r_header(r, j, rec);
    } else if (strcmp(type, "trailer") == 0) {
        rc = tlog_r_trailer(r, j, rec);
    } else if (strcmp(type, "exchange") == 0) {
        char e[256];
        struct tlog_skips sk = {0};
        rc = tlog_exchange_from_json_ex(j, &rec->x, e, sizeof e, &sk);
        if (rc == 0 && sk.n) {
            if (r->st.skipped_fields == 0)
                snprintf(r->skip_first, sizeof r->skip_first, "record %" PRId64 ": %s",
                         r->line_no, sk.first);
            r->st.skipped_fields += sk.n;
        }
        if (rc == TLOG_ERR_FORMAT) {
            rc = tlog_r_bad(r, e);
        } else if (rc == 0) {
            if (r->o.keep_extra && tlog_exchange_copy_extra(j, &rec->x)) {
                rc = TLOG_ERR_NOMEM;
            } else {
                rec->type = TLOG_REC_EXCHANGE;
                r->st.records++;
                rc = 1;
            }
        }
    } else if (r->o.aux_records && strcmp(type, "metrics") == 0) {
        char e[256];
        rc = tlog_metrics_from_json(j, &rec->metrics, e, sizeof e);
        if (rc == TLOG_ERR_FORMAT)
            rc = tlog_r_bad(r, e);
        else if (rc == 0) {
            rec->type = TLOG_REC_METRICS;
            rc = 1;
        }
    } else if (r->o.aux_records && strcmp(type, "stage") == 0) {
        char e[256];
        rc = tlog_stage_from_json(j, &rec->stage, e, sizeof e);
        if (rc == TLOG_ERR_FORMAT)
            rc = tlog_r_bad(r, e);
        else if (rc == 0) {
            rec->type = TLOG_REC_STAGE;
            rc = 1;
        }
    } else {
        rec->type = TLOG_REC_OTHER; /* a record type from a newer writer */
        rc = 1;
    }
    if (rc == TLOG_ERR_NOMEM)
        tlog_r_seterr(r, "record %" PRId64 ": out of memory", r->line_no);
out:
    cJSON_Delete(j);
    if (rc < 0 && rc != TLOG_ERR_FORMAT)
        tlog_record_free(rec);
    if (rc == TLOG_ERR_FORMAT)
        tlog_record_free(rec);
    return rc;
}

/* Takes the previous record's strings and event array into the reader's pool before the
 * record is freed; a slot already holding a block leaves the field to be freed. */
static void tlog_r_harvest(struct tlog_reader *r, struct tlog_exchange *x)
{
    char **f[TLOG_SLOT_TMP1] = {
        [TLOG_SLOT_ID] = &x->id, [TLOG_SLOT_CONN] = &x->conn,
        [TLOG_SLOT_DIALECT] = &x->dialect, [TLOG_SLOT_MODEL] = &x->model,
        [TLOG_SLOT_METHOD] = &x->req.method, [TLOG_SLOT_PATH] = &x->req.path,
        [TLOG_SLOT_HOST] = &x->req.host, [TLOG_SLOT_SHA] = &x->req.body_sha256,
        [TLOG_SLOT_TEXT] = &x->resp.text, [TLOG_SLOT_FINISH] = &x->resp.finish_reason,
        [TLOG_SLOT_ERRMSG] = &x->error_message, [TLOG_SLOT_OF] = &x->replay.of,
        [TLOG_SLOT_MODE] = &x->replay.mode, [TLOG_SLOT_TARGET] = &x->replay.target,
        [TLOG_SLOT_RESENT] = &x->resent_as, [TLOG_SLOT_SESSION] = &x->session.id,
    };
    for (int i = 0; i < TLOG_SLOT_TMP1; i++) {
        if (*f[i] && !r->pool[i]) {
            r->pool[i] = *f[i];
            *f[i] = NULL;
        }
    }
    if (x->resp.events && !r->spare_events) {
        r->spare_events = x->resp.events;
        r->spare_cap = x->resp.cap_events;
        x->resp.events = NULL;
        x->resp.n_events = x->resp.cap_events = 0;
    }
}

int tlog_read(struct tlog_reader *r, struct tlog_record *rec)
{
    r->body_src = NULL;
    r->body_src_len = 0;
    if (rec)
        tlog_r_harvest(r, &rec->x);
    tlog_record_free(rec);
    if (r->fatal)
        return r->fatal;
    for (;;) {
        char *base = r->pend.p;
        if (r->skip_long && r->ready > r->pos) {
            /* the tail of a line already reported as too long: drop it through its newline */
            char *nl = memchr(base + r->pos, '\n', r->ready - r->pos);
            r->pos = nl ? (size_t)(nl - base) + 1 : r->ready;
            r->skip_long = !nl;
            continue;
        }
        if (r->ready > r->pos) {
            size_t from = r->scanned > r->pos ? r->scanned : r->pos;
            char *nl = from < r->ready ? memchr(base + from, '\n', r->ready - from) : NULL;
            if (!nl)
                r->scanned = r->ready;
            char *line = NULL;
            size_t len = 0;
            if (nl) {
                line = base + r->pos;
                len = (size_t)(nl - line);
                r->pos = (size_t)(nl - base) + 1;
            } else if (r->done && r->ready == r->pend.len) {
                /* last line without a newline: whole when the data was verified or plain,
                 * torn when the member was cut */
                if (r->drop_partial) {
                    r->pos = r->ready;
                    continue;
                }
                line = base + r->pos;
                len = r->ready - r->pos;
                r->pos = r->ready;
            } else if (r->ready - r->pos > r->o.max_line) {
                /* an over-long line is one bad record, not the end of the file: report it,
                 * drop what is buffered and the rest of it as it arrives */
                r->line_no++;
                r->st.bad_lines++;
                tlog_r_seterr(r, "record %" PRId64 ": line longer than %zu bytes (skipped)",
                              r->line_no, r->o.max_line);
                r->pos = r->ready;
                r->skip_long = 1;
                return TLOG_ERR_FORMAT;
            }
            if (line) {
                r->line_no++;
                if (len > r->o.max_line) {
                    r->st.bad_lines++;
                    tlog_r_seterr(r, "record %" PRId64 ": line longer than %zu bytes (skipped)",
                                  r->line_no, r->o.max_line);
                    return TLOG_ERR_FORMAT;
                }
                size_t k = 0;
                while (k < len && (line[k] == ' ' || line[k] == '\t' || line[k] == '\r'))
                    k++;
                if (k == len)
                    continue; /* blank line */
                rec->line_no = r->line_no;
                return tlog_r_parse_line(r, line, len, rec);
            }
        }
        if (r->done)
            return 0;
        tlog_r_compact(r);
        int rc = r->mode == TLOG_MODE_GZIP ? tlog_r_step_gzip(r) : tlog_r_step_plain(r);
        if (rc < 0) {
            r->fatal = rc;
            return rc;
        }
    }
}

const char *tlog_reader_body(const struct tlog_reader *r, size_t *len)
{
    *len = r->body_src_len;
    return r->body_src;
}

void tlog_reader_get_status(const struct tlog_reader *r, struct tlog_reader_status *st)
{
    *st = r->st;
}

void tlog_reader_describe(const struct tlog_reader *r, char *out, size_t outlen)
{
    if (!outlen)
        return;
    out[0] = '\0';
    const struct tlog_reader_status *s = &r->st;
    struct buf b;
    buf_init(&b, 4096);
    int tail = s->truncated && !r->damage_in_middle;
    if (!s->saw_trailer)
        buf_printf(&b, "not closed cleanly: %" PRId64 " records recovered", s->records);
    else if (s->truncated)
        buf_printf(&b, "damaged: %" PRId64 " records recovered", s->records);
    if (s->truncated)
        buf_printf(&b, ", %s at byte %" PRIu64 " (%" PRIu64 " bytes skipped)",
                   tail ? "torn tail" : "corrupt data", s->stop_offset, s->skipped_bytes);
    if (s->saw_trailer && !s->truncated && r->trailer_records >= 0 &&
        r->trailer_records != s->records)
        buf_printf(&b, "trailer says %" PRId64 " records, %" PRId64 " read",
                   r->trailer_records, s->records);
    if (s->skipped_fields)
        buf_printf(&b, "%s%" PRId64 " field%s of the wrong type ignored (first: %s)",
                   b.len ? "; " : "", s->skipped_fields, s->skipped_fields == 1 ? "" : "s",
                   r->skip_first);
    if (r->warn[0])
        buf_printf(&b, "%s%s", b.len ? "; " : "", r->warn);
    if (b.p)
        snprintf(out, outlen, "%s", b.p);
    buf_free(&b);
}

const char *tlog_reader_error(const struct tlog_reader *r)
{
    return r->err;
}

const char *tlog_reader_path(const struct tlog_reader *r)
{
    return r->path;
}

void tlog_reader_close(struct tlog_reader *r)
{
    if (!r)
        return;
    if (r->close_fd && r->fd >= 0)
        close(r->fd);
    if (r->z_ready)
        inflateEnd(&r->z);
    buf_free(&r->pend);
    for (int i = 0; i < TLOG_SLOTS; i++)
        free(r->pool[i]);
    free(r->spare_events);
    free(r->inbuf);
    free(r->path);
    free(r);
}
