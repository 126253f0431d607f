/* jscan.h — allocation-free JSON scanner (RFC 8259) for the dialect hot path.
 *
 * Validates a document in one pass and then hands out values as slices of the caller's bytes:
 * no tree, no allocation. Lookups (object members, array items, dotted key paths) re-walk the
 * validated text with a cheap skipper — or, when the caller lends a token tape (an array it
 * owns, jsmn-style), jump from value to value without touching the bytes again, so a chunk is
 * read once. Strings are unescaped into a caller buffer only when
 * asked (\uXXXX incl. surrogate pairs; a lone surrogate becomes U+FFFD). cJSON stays for the
 * rare paths that need a tree (request bodies). */
#ifndef LLMTRACE_JSCAN_H
#define LLMTRACE_JSCAN_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum jscan_type {
    JSCAN_INVALID = 0,
    JSCAN_OBJECT,
    JSCAN_ARRAY,
    JSCAN_STRING,
    JSCAN_NUMBER,
    JSCAN_TRUE,
    JSCAN_FALSE,
    JSCAN_NULL,
};

struct jscan_tape;

/* A value inside the caller's bytes; valid as long as those bytes are (and the tape, when
 * it came from jscan_parse_tape). */
struct jscan_val {
    enum jscan_type type;
    const char *p;      /* strings: first byte after the opening quote; else first byte */
    size_t len;         /* strings: raw (still escaped) bytes between the quotes; objects and
                           arrays: bytes from the opening to the closing bracket inclusive */
    int escaped;        /* strings: the raw bytes contain a backslash */
    const struct jscan_tape *tape; /* NULL: walk the bytes */
    size_t tok;         /* this value's token on the tape */
};

/* One value on a tape, in document order; an object's members are key, value, key, value. */
struct jscan_tok {
    const char *p;
    size_t len;
    size_t next;        /* index of the token after this value's subtree */
    unsigned char type; /* enum jscan_type */
    unsigned char escaped;
};

struct jscan_tape {
    struct jscan_tok *tok; /* caller's array */
    size_t cap;
    size_t n;
    int overflow;       /* the document had more than cap values */
};

#define JSCAN_MAX_DEPTH 64

#define JSCAN_ERR_SYNTAX    (-1) /* not JSON */
#define JSCAN_ERR_TRUNCATED (-2) /* input ended inside a value */
#define JSCAN_ERR_DEPTH     (-3) /* nested deeper than JSCAN_MAX_DEPTH */
#define JSCAN_ERR_UTF8      (-4) /* a string holds invalid UTF-8 or a raw control byte */
#define JSCAN_ERR_TRAILING  (-5) /* bytes after the value */
#define JSCAN_ERR_NOMEM     (-6)

/* Validates p[0..len) as one JSON text (surrounding whitespace allowed) and returns its root
 * value in *root. Returns 0 or a JSCAN_ERR_* code; *err_off (may be NULL) gets the byte offset
 * of the problem. Never reads outside p[0..len); p need not be NUL-terminated. */
int jscan_parse(const char *p, size_t len, struct jscan_val *root, size_t *err_off);
/* Same validation as jscan_parse, recording every value on the caller's tape (toks[0..cap)),
 * so that lookups on *root and everything reached from it skip nothing byte by byte. When the
 * document has more than cap values the tape is abandoned (root->tape = NULL) and lookups fall
 * back to walking the bytes: same answers, slower. */
int jscan_parse_tape(const char *p, size_t len, struct jscan_tape *tape, struct jscan_tok *toks,
                     size_t cap, struct jscan_val *root, size_t *err_off);
/* Pull reader: the caller walks one document value by value (e.g. straight to the few fields
 * of an OpenAI chunk it needs) while the reader checks exactly the grammar jscan_parse
 * checks, so a document walked to jscan_reader_end without an error is one jscan_parse
 * accepts. Fields are private. Values read this way carry no tape. */
struct jscan_reader {
    const char *start;
    const char *p;
    const char *end;
    const char *err_at;
    int depth;
    struct jscan_tape *tape;
};
void jscan_reader_init(struct jscan_reader *r, const char *p, size_t len);
/* Skips whitespace; the next byte, or -1 at the end of the input. */
int jscan_reader_peek(struct jscan_reader *r);
/* Opens the object or array at the cursor. 0, or JSCAN_ERR_*. */
int jscan_reader_open(struct jscan_reader *r);
/* Steps to the next member of the innermost open container (is_obj: it is an object; first:
 * no member read yet): 1 with the cursor at the member's value and, for objects, its key in
 * *key; 0 when the container closed (cursor after the bracket); or JSCAN_ERR_*. The caller
 * must consume each member's value (jscan_reader_value, or open and walk it) before the next
 * step. */
int jscan_reader_next(struct jscan_reader *r, int first, int is_obj, struct jscan_val *key);
/* Reads (validates) the whole value at the cursor. 0, or JSCAN_ERR_*. */
int jscan_reader_value(struct jscan_reader *r, struct jscan_val *v);
/* 0 when every container is closed and only whitespace remains, else JSCAN_ERR_*. */
int jscan_reader_end(struct jscan_reader *r);

/* A short static description of a JSCAN_ERR_* code. */
const char *jscan_strerror(int rc);

/* Iterates the members of an object or the items of an array. The value must come from
 * jscan_parse (validated); on anything else the walk stays inside the value's bytes and may
 * stop early with -1. */
struct jscan_iter {
    const char *p;
    const char *end;    /* the closing bracket */
    enum jscan_type type;
    int first;
    const struct jscan_tape *tape;
    size_t cur;         /* tape: next child token */
    size_t stop;        /* tape: the token after the container */
};
void jscan_iter_init(struct jscan_iter *it, const struct jscan_val *container);
/* Returns 1 with the next member (key is filled for objects and may be NULL for arrays),
 * 0 at the end, -1 on bytes that are not a validated container. */
int jscan_iter_next(struct jscan_iter *it, struct jscan_val *key, struct jscan_val *val);

/* 1 when the string value key equals the NUL-terminated s after unescaping, else 0. */
int jscan_key_is(const struct jscan_val *key, const char *s);
/* First member of obj named key: 1 found (*out set), 0 absent or obj not an object. */
int jscan_get(const struct jscan_val *obj, const char *key, struct jscan_val *out);
/* Item i of an array: 1 found, 0 not. */
int jscan_index(const struct jscan_val *arr, size_t i, struct jscan_val *out);
/* Dotted path: "choices.0.delta.content" (a numeric segment indexes an array). 1 found, 0 not. */
int jscan_path(const struct jscan_val *root, const char *path, struct jscan_val *out);

/* Appends the unescaped bytes of a string value to out. Returns 0, JSCAN_ERR_SYNTAX when v is
 * not a string, or JSCAN_ERR_NOMEM (buffer cap or memory). The appended text is never longer
 * than v->len. */
int jscan_unescape(const struct jscan_val *v, struct buf *out);
/* Integral value of a number (e.g. 12, -3, 1e3, 12.0). 0, or -1 when v is not a number, has a
 * fractional part or is outside int64_t. */
int jscan_int64(const struct jscan_val *v, int64_t *out);

#endif
