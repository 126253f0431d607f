/* ndjson.c — newline-delimited JSON splitter (see ndjson.h; the framing of ndjson.org and
 * JSON Lines, as Ollama streams use it: one JSON text per LF-terminated line, CRLF tolerated).
 * Complete lines inside one feed are handed out in place; only a line cut by a feed boundary
 * is copied. */
#include "ndjson.h"

#include <string.h>

void ndjson_init(struct ndjson_decoder *d, size_t max_line)
{
    memset(d, 0, sizeof *d);
    buf_init(&d->line, max_line);
}

void ndjson_free(struct ndjson_decoder *d)
{
    buf_free(&d->line);
}

/* A line without its LF; a trailing CR is dropped; blank lines are skipped. */
static int ndjson_emit(struct ndjson_decoder *d, const char *line, size_t len,
                       ndjson_line_cb cb, void *user)
{
    if (len && line[len - 1] == '\r')
        len--;
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
        i++;
    if (i == len)
        return 0;
    d->lines++;
    return cb ? cb(user, line, len) : 0;
}

int ndjson_feed(struct ndjson_decoder *d, const char *data, size_t len, ndjson_line_cb cb,
                void *user)
{
    if (d->error)
        return d->error;
    const char *p = data;
    const char *end = data + len;
    int rc = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            rc = buf_append(&d->line, p, (size_t)(end - p));
            if (rc) {
                rc = rc == BUF_ERR_TOO_BIG ? NDJSON_ERR_LINE_TOO_LONG : NDJSON_ERR_NOMEM;
                goto fail;
            }
            break;
        }
        if (d->line.len) {
            rc = buf_append(&d->line, p, (size_t)(nl - p));
            if (rc) {
                rc = rc == BUF_ERR_TOO_BIG ? NDJSON_ERR_LINE_TOO_LONG : NDJSON_ERR_NOMEM;
                goto fail;
            }
            rc = ndjson_emit(d, d->line.p, d->line.len, cb, user);
            buf_reset(&d->line);
        } else {
            if ((size_t)(nl - p) > d->line.max) {
                rc = NDJSON_ERR_LINE_TOO_LONG;
                goto fail;
            }
            rc = ndjson_emit(d, p, (size_t)(nl - p), cb, user);
        }
        p = nl + 1;
        if (rc) {
            rc = NDJSON_ERR_CALLBACK;
            goto fail;
        }
    }
    d->pos += len;
    return 0;
fail:
    d->pos += (uint64_t)(p - data);
    d->error = rc;
    return rc;
}

int ndjson_finish(struct ndjson_decoder *d, ndjson_line_cb cb, void *user)
{
    if (d->error)
        return d->error;
    int rc = 0;
    if (d->line.len)
        rc = ndjson_emit(d, d->line.p, d->line.len, cb, user);
    buf_reset(&d->line);
    return rc;
}
