/* jscan.c — allocation-free JSON scanner (see jscan.h). Grammar: RFC 8259; strings must be
 * valid UTF-8 (RFC 8259 §8.1) because the text ends up in a UTF-8 trace log. */
#include "jscan.h"

#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Byte classes for the string fast path: 0 = plain ASCII that needs no attention. */
enum { CL_PLAIN = 0, CL_QUOTE, CL_BSLASH, CL_CTRL, CL_HIGH };

static inline int str_class(unsigned char c)
{
    if (c >= 0x20 && c < 0x80)
        return c == '"' ? CL_QUOTE : c == '\\' ? CL_BSLASH : CL_PLAIN;
    return c < 0x20 ? CL_CTRL : CL_HIGH;
}

/* SWAR: eight bytes at a time, to skip the plain ASCII that makes up most of a chunk. The
 * "has a zero byte" test is exact about existence, which is all the loops need. */
#define JS_ONES 0x0101010101010101ull
#define JS_HIGHS 0x8080808080808080ull

static inline uint64_t js_load8(const unsigned char *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
    return x;
}

static inline uint64_t js_has_zero(uint64_t x)
{
    return (x - JS_ONES) & ~x & JS_HIGHS;
}

static inline uint64_t js_has_byte(uint64_t x, unsigned char c)
{
    return js_has_zero(x ^ (JS_ONES * c));
}

/* Any byte < 0x20, '"', '\\' or >= 0x80 among the eight. */
static inline uint64_t js_string_special(uint64_t x)
{
    return ((x - JS_ONES * 0x20) & ~x & JS_HIGHS) | js_has_byte(x, '"') | js_has_byte(x, '\\') |
           (x & JS_HIGHS);
}

/* Index of the lowest flagged byte of a non-zero mask from the tests above. That byte is
 * always a real hit: a false positive only ever sits above a real one (the borrow that
 * causes it comes from a lower flagged byte). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define JS_LITTLE_ENDIAN 1
static inline unsigned js_first_flag(uint64_t m)
{
    return (unsigned)__builtin_ctzll(m) >> 3;
}
#else
#define JS_LITTLE_ENDIAN 0
#endif

/* Any of '"' '{' '}' '[' ']' among the eight. */
static inline uint64_t js_struct_special(uint64_t x)
{
    return js_has_byte(x, '"') | js_has_byte(x, '{') | js_has_byte(x, '}') |
           js_has_byte(x, '[') | js_has_byte(x, ']');
}

/* Reserves the next tape slot; (size_t)-1 when not recording or full. */
static size_t jp_tape_reserve(struct jscan_reader *s)
{
    struct jscan_tape *t = s->tape;
    if (!t || t->overflow)
        return (size_t)-1;
    if (t->n == t->cap) {
        t->overflow = 1;
        return (size_t)-1;
    }
    return t->n++;
}

static void jp_tape_fill(struct jscan_reader *s, size_t i, const struct jscan_val *v)
{
    struct jscan_tape *t = s->tape;
    if (i == (size_t)-1 || t->overflow)
        return;
    struct jscan_tok *k = &t->tok[i];
    k->p = v->p;
    k->len = v->len;
    k->type = (unsigned char)v->type;
    k->escaped = (unsigned char)v->escaped;
    k->next = t->n;
}

static int jp_fail(struct jscan_reader *s, const char *at, int rc)
{
    s->err_at = at;
    return rc;
}

static inline const char *skip_ws(const char *p, const char *end)
{
    /* compact JSON: usually no whitespace at all, settled by one compare */
    if (p < end && (unsigned char)*p > ' ')
        return p;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Length of a valid UTF-8 sequence at p (2..4), 0 when invalid, -1 when cut short by end. */
static int utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    int n;
    unsigned cp, min;
    if ((c & 0xE0) == 0xC0) {
        n = 2; cp = c & 0x1F; min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3; cp = c & 0x0F; min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4; cp = c & 0x07; min = 0x10000;
    } else {
        return 0;
    }
    for (int i = 1; i < n; i++) {
        if (p + i >= end)
            return -1;
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* s->p at the opening quote. */
static int jp_string(struct jscan_reader *s, struct jscan_val *v)
{
    const unsigned char *p = (const unsigned char *)s->p + 1;
    const unsigned char *end = (const unsigned char *)s->end;
    int escaped = 0;
    for (;;) {
#if defined(__SSE2__)
        /* sixteen at a time: a signed compare with 0x20 flags both control bytes and bytes
         * >= 0x80 (negative as signed chars) */
        while (end - p >= 16) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
            __m128i hit = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                             _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
                _mm_cmplt_epi8(x, _mm_set1_epi8(0x20)));
            unsigned m = (unsigned)_mm_movemask_epi8(hit);
            if (m) {
                p += (unsigned)__builtin_ctz(m);
                goto special;
            }
            p += 16;
        }
#endif
#if JS_LITTLE_ENDIAN
        while (end - p >= 8) {
            uint64_t m = js_string_special(js_load8(p));
            if (m) {
                p += js_first_flag(m);
                goto special;
            }
            p += 8;
        }
#else
        while (end - p >= 8 && !js_string_special(js_load8(p)))
            p += 8;
#endif
        while (p < end && str_class(*p) == CL_PLAIN)
            p++;
        if (p >= end)
            return jp_fail(s, (const char *)p, JSCAN_ERR_TRUNCATED);
#if JS_LITTLE_ENDIAN || defined(__SSE2__)
    special:
#endif
        switch (str_class(*p)) {
        case CL_QUOTE:
            v->type = JSCAN_STRING;
            v->p = s->p + 1;
            v->len = (size_t)((const char *)p - v->p);
            v->escaped = escaped;
            s->p = (const char *)p + 1;
            return 0;
        case CL_BSLASH:
            escaped = 1;
            if (end - p < 2)
                return jp_fail(s, (const char *)p, JSCAN_ERR_TRUNCATED);
            switch (p[1]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                p += 2;
                break;
            case 'u':
                for (int i = 2; i < 6; i++) {
                    if (p + i >= end)
                        return jp_fail(s, (const char *)p, JSCAN_ERR_TRUNCATED);
                    if (hexval(p[i]) < 0)
                        return jp_fail(s, (const char *)p + i, JSCAN_ERR_SYNTAX);
                }
                p += 6;
                break;
            default:
                return jp_fail(s, (const char *)p, JSCAN_ERR_SYNTAX);
            }
            break;
        case CL_CTRL:
            return jp_fail(s, (const char *)p, JSCAN_ERR_UTF8);
        default: { /* CL_HIGH */
            int n = utf8_len(p, end);
            if (n < 0)
                return jp_fail(s, (const char *)p, JSCAN_ERR_TRUNCATED);
            if (n == 0)
                return jp_fail(s, (const char *)p, JSCAN_ERR_UTF8);
            p += n;
        }
        }
    }
}

static int jp_digits(const char **pp, const char *end)
{
    const char *p = *pp;
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    int n = (int)(p - *pp);
    *pp = p;
    return n;
}

static int jp_number(struct jscan_reader *s, struct jscan_val *v)
{
    const char *p = s->p;
    const char *end = s->end;
    if (*p == '-')
        p++;
    if (p >= end)
        return jp_fail(s, p, JSCAN_ERR_TRUNCATED);
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        jp_digits(&p, end);
    } else {
        return jp_fail(s, p, JSCAN_ERR_SYNTAX);
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end)
            return jp_fail(s, p, JSCAN_ERR_TRUNCATED);
        if (jp_digits(&p, end) == 0)
            return jp_fail(s, p, JSCAN_ERR_SYNTAX);
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end)
            return jp_fail(s, p, JSCAN_ERR_TRUNCATED);
        if (jp_digits(&p, end) == 0)
            return jp_fail(s, p, JSCAN_ERR_SYNTAX);
    }
    v->type = JSCAN_NUMBER;
    v->p = s->p;
    v->len = (size_t)(p - s->p);
    v->escaped = 0;
    s->p = p;
    return 0;
}

static int jp_literal(struct jscan_reader *s, struct jscan_val *v, const char *word, size_t n,
                      enum jscan_type t)
{
    size_t have = (size_t)(s->end - s->p);
    size_t cmp = have < n ? have : n;
    if (memcmp(s->p, word, cmp) != 0) {
        const char *q = s->p;
        while (q < s->p + cmp && *q == word[q - s->p])
            q++;
        return jp_fail(s, q, JSCAN_ERR_SYNTAX);
    }
    if (have < n)
        return jp_fail(s, s->end, JSCAN_ERR_TRUNCATED);
    v->type = t;
    v->p = s->p;
    v->len = n;
    v->escaped = 0;
    s->p += n;
    return 0;
}

static int jp_value(struct jscan_reader *s, struct jscan_val *v);

static int jp_container(struct jscan_reader *s, struct jscan_val *v)
{
    const char *open = s->p;
    int is_obj = *open == '{';
    char close = is_obj ? '}' : ']';
    if (++s->depth > JSCAN_MAX_DEPTH)
        return jp_fail(s, open, JSCAN_ERR_DEPTH);
    s->p = skip_ws(open + 1, s->end);
    if (s->p >= s->end)
        return jp_fail(s, s->p, JSCAN_ERR_TRUNCATED);
    if (*s->p != close) {
        for (;;) {
            struct jscan_val item;
            int rc;
            if (is_obj) {
                if (*s->p != '"')
                    return jp_fail(s, s->p, JSCAN_ERR_SYNTAX);
                size_t kt = jp_tape_reserve(s);
                rc = jp_string(s, &item);
                if (rc)
                    return rc;
                jp_tape_fill(s, kt, &item);
                s->p = skip_ws(s->p, s->end);
                if (s->p >= s->end)
                    return jp_fail(s, s->p, JSCAN_ERR_TRUNCATED);
                if (*s->p != ':')
                    return jp_fail(s, s->p, JSCAN_ERR_SYNTAX);
                s->p = skip_ws(s->p + 1, s->end);
            }
            rc = jp_value(s, &item);
            if (rc)
                return rc;
            s->p = skip_ws(s->p, s->end);
            if (s->p >= s->end)
                return jp_fail(s, s->p, JSCAN_ERR_TRUNCATED);
            if (*s->p == close)
                break;
            if (*s->p != ',')
                return jp_fail(s, s->p, JSCAN_ERR_SYNTAX);
            s->p = skip_ws(s->p + 1, s->end);
            if (s->p >= s->end)
                return jp_fail(s, s->p, JSCAN_ERR_TRUNCATED);
        }
    }
    s->depth--;
    s->p++;
    v->type = is_obj ? JSCAN_OBJECT : JSCAN_ARRAY;
    v->p = open;
    v->len = (size_t)(s->p - open);
    v->escaped = 0;
    return 0;
}

static int jp_value_raw(struct jscan_reader *s, struct jscan_val *v);

static int jp_value(struct jscan_reader *s, struct jscan_val *v)
{
    size_t t = jp_tape_reserve(s);
    int rc = jp_value_raw(s, v);
    if (rc == 0)
        jp_tape_fill(s, t, v);
    return rc;
}

static int jp_value_raw(struct jscan_reader *s, struct jscan_val *v)
{
    if (s->p >= s->end)
        return jp_fail(s, s->p, JSCAN_ERR_TRUNCATED);
    switch (*s->p) {
    case '{':
    case '[':
        return jp_container(s, v);
    case '"':
        return jp_string(s, v);
    case 't':
        return jp_literal(s, v, "true", 4, JSCAN_TRUE);
    case 'f':
        return jp_literal(s, v, "false", 5, JSCAN_FALSE);
    case 'n':
        return jp_literal(s, v, "null", 4, JSCAN_NULL);
    default:
        if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
            return jp_number(s, v);
        return jp_fail(s, s->p, JSCAN_ERR_SYNTAX);
    }
}

static int jscan_parse_common(const char *p, size_t len, struct jscan_tape *tape,
                              struct jscan_val *root, size_t *err_off)
{
    struct jscan_reader s = { p, p, p + len, NULL, 0, tape };
    root->type = JSCAN_INVALID;
    root->p = p;
    root->len = 0;
    root->escaped = 0;
    root->tape = NULL;
    root->tok = 0;
    s.p = skip_ws(s.p, s.end);
    int rc = jp_value(&s, root);
    if (rc == 0) {
        s.p = skip_ws(s.p, s.end);
        if (s.p != s.end)
            rc = jp_fail(&s, s.p, JSCAN_ERR_TRAILING);
    }
    if (rc) {
        root->type = JSCAN_INVALID;
        if (err_off)
            *err_off = (size_t)(s.err_at - p);
    } else if (err_off) {
        *err_off = 0;
    }
    return rc;
}

int jscan_parse(const char *p, size_t len, struct jscan_val *root, size_t *err_off)
{
    return jscan_parse_common(p, len, NULL, root, err_off);
}

int jscan_parse_tape(const char *p, size_t len, struct jscan_tape *tape, struct jscan_tok *toks,
                     size_t cap, struct jscan_val *root, size_t *err_off)
{
    tape->tok = toks;
    tape->cap = cap;
    tape->n = 0;
    tape->overflow = 0;
    int rc = jscan_parse_common(p, len, cap ? tape : NULL, root, err_off);
    if (rc == 0 && cap && !tape->overflow) {
        root->tape = tape;
        root->tok = 0;
    }
    return rc;
}

/* ---- pull reader ------------------------------------------------------------------------- */

/* Short plain string at p (the opening quote): when the closing quote comes within the next 16
 * bytes and every byte before it is printable ASCII other than a backslash, fills v and returns
 * the byte after the quote — exactly what jp_string would do. Else NULL: take jp_string. */
static inline const char *js_quick_string(const char *p, const char *end, struct jscan_val *v)
{
#if defined(__SSE2__)
    const char *q = p + 1;
    if (end - q < 16)
        return NULL;
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)q);
    __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                                            _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
                               _mm_cmplt_epi8(x, _mm_set1_epi8(0x20)));
    unsigned m = (unsigned)_mm_movemask_epi8(hit);
    if (!m)
        return NULL;
    unsigned i = (unsigned)__builtin_ctz(m);
    if (q[i] != '"')
        return NULL;
    v->type = JSCAN_STRING;
    v->p = q;
    v->len = i;
    v->escaped = 0;
    return q + i + 1;
#else
    (void)p;
    (void)end;
    (void)v;
    return NULL;
#endif
}

void jscan_reader_init(struct jscan_reader *r, const char *p, size_t len)
{
    r->start = p;
    r->p = p;
    r->end = p + len;
    r->err_at = NULL;
    r->depth = 0;
    r->tape = NULL;
}

int jscan_reader_peek(struct jscan_reader *r)
{
    r->p = skip_ws(r->p, r->end);
    return r->p < r->end ? (unsigned char)*r->p : -1;
}

int jscan_reader_open(struct jscan_reader *r)
{
    r->p = skip_ws(r->p, r->end);
    if (r->p >= r->end)
        return jp_fail(r, r->p, JSCAN_ERR_TRUNCATED);
    if (*r->p != '{' && *r->p != '[')
        return jp_fail(r, r->p, JSCAN_ERR_SYNTAX);
    if (++r->depth > JSCAN_MAX_DEPTH)
        return jp_fail(r, r->p, JSCAN_ERR_DEPTH);
    r->p++;
    return 0;
}

/* Same member grammar as jp_container, one step at a time. */
int jscan_reader_next(struct jscan_reader *r, int first, int is_obj, struct jscan_val *key)
{
    char close = is_obj ? '}' : ']';
    r->p = skip_ws(r->p, r->end);
    if (r->p >= r->end)
        return jp_fail(r, r->p, JSCAN_ERR_TRUNCATED);
    if (*r->p == close) {
        r->p++;
        r->depth--;
        return 0;
    }
    if (!first) {
        if (*r->p != ',')
            return jp_fail(r, r->p, JSCAN_ERR_SYNTAX);
        r->p = skip_ws(r->p + 1, r->end);
        if (r->p >= r->end)
            return jp_fail(r, r->p, JSCAN_ERR_TRUNCATED);
    }
    if (is_obj) {
        if (*r->p != '"')
            return jp_fail(r, r->p, JSCAN_ERR_SYNTAX);
        const char *after = js_quick_string(r->p, r->end, key);
        if (after) {
            r->p = after;
        } else {
            int rc = jp_string(r, key);
            if (rc)
                return rc;
        }
        key->tape = NULL;
        key->tok = 0;
        r->p = skip_ws(r->p, r->end);
        if (r->p >= r->end)
            return jp_fail(r, r->p, JSCAN_ERR_TRUNCATED);
        if (*r->p != ':')
            return jp_fail(r, r->p, JSCAN_ERR_SYNTAX);
        r->p = skip_ws(r->p + 1, r->end);
    }
    return 1;
}

int jscan_reader_value(struct jscan_reader *r, struct jscan_val *v)
{
    r->p = skip_ws(r->p, r->end);
    if (r->p < r->end && *r->p == '"') {
        const char *after = js_quick_string(r->p, r->end, v);
        if (after) {
            r->p = after;
            v->tape = NULL;
            v->tok = 0;
            return 0;
        }
    }
    int rc = jp_value_raw(r, v);
    if (rc == 0) {
        v->tape = NULL;
        v->tok = 0;
    }
    return rc;
}

int jscan_reader_end(struct jscan_reader *r)
{
    r->p = skip_ws(r->p, r->end);
    if (r->depth != 0)
        return jp_fail(r, r->p, JSCAN_ERR_TRUNCATED);
    if (r->p != r->end)
        return jp_fail(r, r->p, JSCAN_ERR_TRAILING);
    return 0;
}

const char *jscan_strerror(int rc)
{
    switch (rc) {
    case 0: return "ok";
    case JSCAN_ERR_SYNTAX: return "invalid JSON";
    case JSCAN_ERR_TRUNCATED: return "truncated JSON";
    case JSCAN_ERR_DEPTH: return "JSON nested too deeply";
    case JSCAN_ERR_UTF8: return "invalid UTF-8 or control byte in JSON string";
    case JSCAN_ERR_TRAILING: return "bytes after the JSON value";
    case JSCAN_ERR_NOMEM: return "out of memory";
    default: return "unknown JSON error";
    }
}

/* ---- walking validated values ------------------------------------------------------------ */

/* p at an opening quote: returns the byte after the closing quote, or NULL. memchr finds the
 * candidate quote; a quote preceded by an odd run of backslashes is escaped and skipped. */
static const char *skip_string(const char *p, const char *end, struct jscan_val *v)
{
    const char *q = p + 1;
    for (;;) {
        const char *quote = memchr(q, '"', (size_t)(end - q));
        if (!quote)
            return NULL;
        const char *b = quote;
        while (b > p + 1 && b[-1] == '\\')
            b--;
        if (((quote - b) & 1) == 0) {
            if (v) {
                v->type = JSCAN_STRING;
                v->p = p + 1;
                v->len = (size_t)(quote - (p + 1));
                v->escaped = memchr(p + 1, '\\', v->len) != NULL;
                v->tape = NULL;
            }
            return quote + 1;
        }
        q = quote + 1;
    }
}

/* Skips one validated value starting at p; fills v. NULL when the bytes do not fit. */
static const char *skip_value(const char *p, const char *end, struct jscan_val *v)
{
    if (p >= end)
        return NULL;
    char c = *p;
    if (c == '"')
        return skip_string(p, end, v);
    if (c == '{' || c == '[') {
        int depth = 0;
        const char *q = p;
        while (q < end) {
            while (end - q >= 8 && !js_struct_special(js_load8((const unsigned char *)q)))
                q += 8;
            if (q >= end)
                break;
            char k = *q;
            if (k == '"') {
                q = skip_string(q, end, NULL);
                if (!q)
                    return NULL;
                continue;
            }
            if (k == '{' || k == '[') {
                depth++;
            } else if (k == '}' || k == ']') {
                if (--depth == 0) {
                    q++;
                    v->type = c == '{' ? JSCAN_OBJECT : JSCAN_ARRAY;
                    v->p = p;
                    v->len = (size_t)(q - p);
                    v->escaped = 0;
                    v->tape = NULL;
                    return q;
                }
            }
            q++;
        }
        return NULL;
    }
    const char *q = p;
    while (q < end && *q != ',' && *q != '}' && *q != ']' && *q != ' ' && *q != '\t' &&
           *q != '\n' && *q != '\r')
        q++;
    if (q == p)
        return NULL;
    v->p = p;
    v->len = (size_t)(q - p);
    v->escaped = 0;
    v->tape = NULL;
    if (c == 't')
        v->type = JSCAN_TRUE;
    else if (c == 'f')
        v->type = JSCAN_FALSE;
    else if (c == 'n')
        v->type = JSCAN_NULL;
    else
        v->type = JSCAN_NUMBER;
    return q;
}

void jscan_iter_init(struct jscan_iter *it, const struct jscan_val *container)
{
    it->type = container->type;
    it->first = 1;
    it->tape = container->tape;
    if (it->tape) {
        it->cur = container->tok + 1;
        it->stop = it->tape->tok[container->tok].next;
    }
    if ((container->type == JSCAN_OBJECT || container->type == JSCAN_ARRAY) && container->len >= 2) {
        it->p = container->p + 1;
        it->end = container->p + container->len - 1;
    } else {
        it->p = it->end = container->p;
        it->type = JSCAN_INVALID;
    }
}

static void tape_val(const struct jscan_tape *t, size_t i, struct jscan_val *v)
{
    const struct jscan_tok *k = &t->tok[i];
    v->type = (enum jscan_type)k->type;
    v->p = k->p;
    v->len = k->len;
    v->escaped = k->escaped;
    v->tape = t;
    v->tok = i;
}

int jscan_iter_next(struct jscan_iter *it, struct jscan_val *key, struct jscan_val *val)
{
    if (it->type != JSCAN_OBJECT && it->type != JSCAN_ARRAY)
        return it->type == JSCAN_INVALID && it->p == it->end ? 0 : -1;
    if (it->tape) {
        const struct jscan_tape *t = it->tape;
        if (it->cur >= it->stop)
            return 0;
        if (it->type == JSCAN_OBJECT) {
            if (key)
                tape_val(t, it->cur, key);
            it->cur++;
        }
        tape_val(t, it->cur, val);
        it->cur = t->tok[it->cur].next;
        return 1;
    }
    const char *p = skip_ws(it->p, it->end);
    if (p >= it->end)
        return 0;
    if (!it->first) {
        if (*p != ',')
            return -1;
        p = skip_ws(p + 1, it->end);
    }
    struct jscan_val k;
    if (it->type == JSCAN_OBJECT) {
        if (p >= it->end || *p != '"')
            return -1;
        p = skip_string(p, it->end, &k);
        if (!p)
            return -1;
        p = skip_ws(p, it->end);
        if (p >= it->end || *p != ':')
            return -1;
        p = skip_ws(p + 1, it->end);
        if (key)
            *key = k;
    }
    p = skip_value(p, it->end, val);
    if (!p)
        return -1;
    it->p = p;
    it->first = 0;
    return 1;
}

/* Unescapes raw string bytes into out (room for len bytes); returns the bytes written. */
static size_t unescape_into(const char *p, size_t len, char *out)
{
    const char *end = p + len;
    char *o = out;
    while (p < end) {
        const char *bs = memchr(p, '\\', (size_t)(end - p));
        size_t run = bs ? (size_t)(bs - p) : (size_t)(end - p);
        memcpy(o, p, run);
        o += run;
        p += run;
        if (!bs)
            break;
        if (end - p < 2) { /* not validated input: keep the byte */
            *o++ = *p++;
            break;
        }
        char e = p[1];
        p += 2;
        switch (e) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned cp = 0;
            int ok = end - p >= 4;
            for (int i = 0; ok && i < 4; i++) {
                int h = hexval((unsigned char)p[i]);
                if (h < 0)
                    ok = 0;
                else
                    cp = cp << 4 | (unsigned)h;
            }
            if (!ok) { /* unvalidated input: drop the escape */
                break;
            }
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo = 0;
                int pair = end - p >= 6 && p[0] == '\\' && p[1] == 'u';
                for (int i = 2; pair && i < 6; i++) {
                    int h = hexval((unsigned char)p[i]);
                    if (h < 0)
                        pair = 0;
                    else
                        lo = lo << 4 | (unsigned)h;
                }
                if (pair && lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                } else {
                    cp = 0xFFFD;
                }
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                cp = 0xFFFD;
            }
            if (cp < 0x80) {
                *o++ = (char)cp;
            } else if (cp < 0x800) {
                *o++ = (char)(0xC0 | cp >> 6);
                *o++ = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                *o++ = (char)(0xE0 | cp >> 12);
                *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *o++ = (char)(0x80 | (cp & 0x3F));
            } else {
                *o++ = (char)(0xF0 | cp >> 18);
                *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
                *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *o++ = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default: /* '"', '\\', '/' and, on unvalidated input, anything else */
            *o++ = e;
        }
    }
    return (size_t)(o - out);
}

int jscan_unescape(const struct jscan_val *v, struct buf *out)
{
    if (v->type != JSCAN_STRING)
        return JSCAN_ERR_SYNTAX;
    if (!v->escaped)
        return buf_append(out, v->p, v->len) ? JSCAN_ERR_NOMEM : 0;
    if (buf_reserve(out, v->len))
        return JSCAN_ERR_NOMEM;
    size_t n = unescape_into(v->p, v->len, out->p + out->len);
    out->len += n;
    out->p[out->len] = '\0';
    return 0;
}

int jscan_key_is(const struct jscan_val *key, const char *s)
{
    if (key->type != JSCAN_STRING)
        return 0;
    if (!key->escaped) {
        /* no strlen: most keys differ in their first bytes (a raw JSON string holds no NUL) */
        size_t i = 0;
        for (; i < key->len; i++)
            if (key->p[i] != s[i])
                return 0;
        return s[i] == '\0';
    }
    size_t n = strlen(s);
    char tmp[256];
    if (key->len > sizeof tmp)
        return 0;
    size_t m = unescape_into(key->p, key->len, tmp);
    return m == n && memcmp(tmp, s, n) == 0;
}

int jscan_get(const struct jscan_val *obj, const char *key, struct jscan_val *out)
{
    if (obj->type != JSCAN_OBJECT)
        return 0;
    struct jscan_iter it;
    struct jscan_val k, v;
    jscan_iter_init(&it, obj);
    while (jscan_iter_next(&it, &k, &v) == 1) {
        if (jscan_key_is(&k, key)) {
            *out = v;
            return 1;
        }
    }
    return 0;
}

int jscan_index(const struct jscan_val *arr, size_t i, struct jscan_val *out)
{
    if (arr->type != JSCAN_ARRAY)
        return 0;
    struct jscan_iter it;
    struct jscan_val v;
    jscan_iter_init(&it, arr);
    size_t n = 0;
    while (jscan_iter_next(&it, NULL, &v) == 1) {
        if (n++ == i) {
            *out = v;
            return 1;
        }
    }
    return 0;
}

int jscan_path(const struct jscan_val *root, const char *path, struct jscan_val *out)
{
    struct jscan_val cur = *root;
    const char *seg = path;
    for (;;) {
        const char *dot = strchr(seg, '.');
        size_t n = dot ? (size_t)(dot - seg) : strlen(seg);
        char name[128];
        if (n >= sizeof name)
            return 0;
        memcpy(name, seg, n);
        name[n] = '\0';
        struct jscan_val next;
        if (cur.type == JSCAN_ARRAY) {
            if (n == 0 || n > 9 || strspn(name, "0123456789") != n)
                return 0;
            if (!jscan_index(&cur, (size_t)strtoul(name, NULL, 10), &next))
                return 0;
        } else if (!jscan_get(&cur, name, &next)) {
            return 0;
        }
        cur = next;
        if (!dot)
            break;
        seg = dot + 1;
    }
    *out = cur;
    return 1;
}

int jscan_int64(const struct jscan_val *v, int64_t *out)
{
    if (v->type != JSCAN_NUMBER || v->len == 0)
        return -1;
    const char *p = v->p;
    const char *end = p + v->len;
    int neg = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    uint64_t acc = 0;
    const char *q = p;
    while (q < end && *q >= '0' && *q <= '9') {
        unsigned d = (unsigned)(*q - '0');
        if (acc > (UINT64_MAX - d) / 10)
            return -1;
        acc = acc * 10 + d;
        q++;
    }
    if (q == p)
        return -1;
    if (q == end) {
        if (neg) {
            if (acc > (uint64_t)INT64_MAX + 1)
                return -1;
            *out = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
        } else {
            if (acc > (uint64_t)INT64_MAX)
                return -1;
            *out = (int64_t)acc;
        }
        return 0;
    }
    /* fraction or exponent: rare; let strtod judge on a bounded copy */
    char tmp[64];
    if (v->len >= sizeof tmp)
        return -1;
    memcpy(tmp, v->p, v->len);
    tmp[v->len] = '\0';
    char *ep;
    double d = strtod(tmp, &ep);
    if (*ep != '\0' || d != d || d < -9223372036854775808.0 || d >= 9223372036854775808.0)
        return -1;
    int64_t i = (int64_t)d;
    if ((double)i != d)
        return -1;
    *out = i;
    return 0;
}
