/* buf.h — growable byte buffer with a hard cap.
 *
 * Every buffer that the network or a file fills is created with a cap and refuses to grow past
 * it, so hostile input costs at most the cap (the habit of curl's dynbuf). The contents are
 * always NUL-terminated so text can be handed to str* functions, but may also hold NULs. */
#ifndef LLMTRACE_BUF_H
#define LLMTRACE_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *p;      /* contents, NUL-terminated when p != NULL */
    size_t len;   /* bytes used, excluding the terminator */
    size_t cap;   /* bytes allocated */
    size_t max;   /* hard limit on len */
};

#define BUF_ERR_NOMEM (-1)
#define BUF_ERR_TOO_BIG (-2)

/* Initialises an empty buffer that will never hold more than max bytes. Allocates nothing. */
void buf_init(struct buf *b, size_t max);
/* Frees the contents; the buffer is empty and reusable afterwards. */
void buf_free(struct buf *b);
/* Empties the buffer, keeping its allocation. */
void buf_reset(struct buf *b);
/* Makes room for n more bytes. 0, BUF_ERR_TOO_BIG past max, BUF_ERR_NOMEM. */
int buf_reserve(struct buf *b, size_t n);
/* Appends n bytes. Returns 0 or a BUF_ERR_* code (the buffer is unchanged on error). */
int buf_append(struct buf *b, const void *data, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_append_char(struct buf *b, char c);
/* printf-style append. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Appends the whole file at path. 0, BUF_ERR_TOO_BIG past max, BUF_ERR_NOMEM, or
 * BUF_ERR_IO with errno set (open or read failed); the buffer may hold a prefix on error. */
#define BUF_ERR_IO (-3)
int buf_append_file(struct buf *b, const char *path);
/* Removes the first n bytes (n <= len), moving the rest to the front. */
void buf_consume(struct buf *b, size_t n);
/* Appends s as the inside of a JSON string literal (escapes ", \, control bytes; invalid
 * UTF-8 bytes become U+FFFD). Does not add the surrounding quotes. */
int buf_append_json_str(struct buf *b, const char *s, size_t n);
/* Hands the contents to the caller (malloc'd, NUL-terminated, may be NULL when empty) and
 * leaves the buffer empty. */
char *buf_steal(struct buf *b);

#endif
