/* buf.c — growable byte buffer with a hard cap (see buf.h). */
#include "buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void buf_free(struct buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
}

int buf_reserve(struct buf *b, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return BUF_ERR_TOO_BIG;
    size_t need = b->len + n + 1; /* +1: terminator */
    if (need <= b->cap)
        return 0;
    size_t ncap = b->cap ? b->cap : 64;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    char *np = realloc(b->p, ncap);
    if (!np)
        return BUF_ERR_NOMEM;
    b->p = np;
    b->cap = ncap;
    b->p[b->len] = '\0'; /* a fresh allocation must satisfy the terminator promise too */
    return 0;
}

int buf_append(struct buf *b, const void *data, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int buf_append_str(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int buf_append_char(struct buf *b, char c)
{
    return buf_append(b, &c, 1);
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    char small[256];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return BUF_ERR_NOMEM;
    if ((size_t)n < sizeof small)
        return buf_append(b, small, (size_t)n);
    int rc = buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int buf_append_file(struct buf *b, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return BUF_ERR_IO;
    int rc = 0;
    for (;;) {
        size_t want = b->max - b->len < 65536 ? b->max - b->len : 65536;
        if (want == 0) { /* at the cap: fine only if the file ends exactly here */
            char c;
            if (fread(&c, 1, 1, f) == 1)
                rc = BUF_ERR_TOO_BIG;
            else if (ferror(f))
                rc = BUF_ERR_IO;
            break;
        }
        if ((rc = buf_reserve(b, want)) != 0)
            break;
        size_t n = fread(b->p + b->len, 1, want, f);
        b->len += n;
        b->p[b->len] = '\0';
        if (n < want) {
            if (ferror(f))
                rc = BUF_ERR_IO;
            break;
        }
    }
    int saved = errno; /* a failed read left its cause (EISDIR, EIO…) there */
    fclose(f);
    errno = saved;
    return rc;
}

void buf_consume(struct buf *b, size_t n)
{
    if (n >= b->len) {
        buf_reset(b);
        return;
    }
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
    b->p[b->len] = '\0';
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when the bytes are not valid UTF-8. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned min;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0) {
        len = 2; cp = c & 0x1F; min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3; cp = c & 0x0F; min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4; cp = c & 0x07; min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

int buf_append_json_str(struct buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        /* copy the longest run that needs no escaping in one append */
        size_t run = i;
        while (run < n && u[run] >= 0x20 && u[run] < 0x80 && u[run] != '"' && u[run] != '\\')
            run++;
        if (run > i) {
            int rc = buf_append(b, s + i, run - i);
            if (rc)
                return rc;
            i = run;
            continue;
        }
        unsigned char c = u[i];
        int rc;
        if (c >= 0x80) {
            size_t l = utf8_seq_len(u + i, n - i);
            if (l == 0) {
                rc = buf_append(b, "\xEF\xBF\xBD", 3);
                l = 1;
            } else {
                rc = buf_append(b, s + i, l);
            }
            if (rc)
                return rc;
            i += l;
            continue;
        }
        char esc[7];
        size_t el = 2;
        esc[0] = '\\';
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
            esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
            el = 6;
        }
        rc = buf_append(b, esc, el);
        if (rc)
            return rc;
        i++;
    }
    return buf_reserve(b, 0);
}

char *buf_steal(struct buf *b)
{
    char *p = b->p;
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
