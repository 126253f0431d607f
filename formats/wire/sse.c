/* sse.c — Server-Sent Events decoder following the WHATWG HTML Living Standard, section
 * "Interpreting an event stream" (9.2.6): BOM, LF/CRLF/CR lines, fields, dispatch on blank
 * lines. Complete lines inside one feed are processed in place; only a line cut by a feed
 * boundary is copied. */
#include "sse.h"

#include <string.h>

static const unsigned char sse_bom[3] = { 0xEF, 0xBB, 0xBF };

void sse_init(struct sse_decoder *d, size_t max_event)
{
    memset(d, 0, sizeof *d);
    buf_init(&d->line, max_event);
    /* +1: the data buffer also holds the LF that follows each data line */
    buf_init(&d->data, max_event + 1);
    buf_init(&d->type, max_event);
    buf_init(&d->id, max_event);
    d->retry_ms = -1;
}

void sse_free(struct sse_decoder *d)
{
    buf_free(&d->line);
    buf_free(&d->data);
    buf_free(&d->type);
    buf_free(&d->id);
}

static int sse_map_buf_err(int rc, int too_big)
{
    return rc == BUF_ERR_TOO_BIG ? too_big : SSE_ERR_NOMEM;
}

static void sse_reset_event(struct sse_decoder *d)
{
    buf_reset(&d->data);
    buf_reset(&d->type);
    d->has_data_field = 0;
    d->retry_ms = -1;
}

static int sse_dispatch(struct sse_decoder *d, sse_event_cb cb, void *user)
{
    /* the spec dispatches nothing when the data buffer is empty (no data field at all) */
    if (!d->has_data_field) {
        sse_reset_event(d);
        return 0;
    }
    struct sse_event ev;
    /* drop the LF appended after the last data line */
    d->data.len--;
    d->data.p[d->data.len] = '\0';
    ev.data = d->data.p;
    ev.data_len = d->data.len;
    if (d->type.len) {
        ev.type = d->type.p;
        ev.type_len = d->type.len;
    } else {
        ev.type = "message";
        ev.type_len = 7;
    }
    ev.id = d->id.p ? d->id.p : "";
    ev.id_len = d->id.len;
    ev.retry_ms = d->retry_ms;
    d->events++;
    int rc = cb ? cb(user, &ev) : 0;
    sse_reset_event(d);
    return rc ? SSE_ERR_CALLBACK : 0;
}

static int sse_field_is(const char *f, size_t n, const char *name, size_t nn)
{
    return n == nn && memcmp(f, name, n) == 0;
}

/* One complete line without its terminator. */
static int sse_line(struct sse_decoder *d, const char *line, size_t len, sse_event_cb cb,
                    void *user)
{
    if (len == 0)
        return sse_dispatch(d, cb, user);
    if (line[0] == ':') {
        d->comments++;
        return 0;
    }
    const char *colon = memchr(line, ':', len);
    size_t flen = colon ? (size_t)(colon - line) : len;
    const char *val = colon ? colon + 1 : line + len;
    size_t vlen = (size_t)(line + len - val);
    if (vlen && *val == ' ') {
        val++;
        vlen--;
    }
    int rc;
    if (sse_field_is(line, flen, "data", 4)) {
        rc = buf_reserve(&d->data, vlen + 1);
        if (rc)
            return sse_map_buf_err(rc, SSE_ERR_EVENT_TOO_LARGE);
        if (vlen)
            memcpy(d->data.p + d->data.len, val, vlen);
        d->data.len += vlen;
        d->data.p[d->data.len++] = '\n';
        d->data.p[d->data.len] = '\0';
        d->has_data_field = 1;
    } else if (sse_field_is(line, flen, "event", 5)) {
        buf_reset(&d->type);
        rc = buf_append(&d->type, val, vlen);
        if (rc)
            return sse_map_buf_err(rc, SSE_ERR_LINE_TOO_LONG);
    } else if (sse_field_is(line, flen, "id", 2)) {
        /* an id containing NUL is ignored so it cannot truncate Last-Event-ID */
        if (!memchr(val, '\0', vlen)) {
            buf_reset(&d->id);
            rc = buf_append(&d->id, val, vlen);
            if (rc)
                return sse_map_buf_err(rc, SSE_ERR_LINE_TOO_LONG);
        }
    } else if (sse_field_is(line, flen, "retry", 5)) {
        int64_t ms = 0;
        int ok = vlen > 0;
        for (size_t i = 0; ok && i < vlen; i++) {
            if (val[i] < '0' || val[i] > '9')
                ok = 0;
            else if (ms > (INT64_MAX - 9) / 10)
                ms = INT64_MAX; /* saturate: still "only digits" per spec */
            else
                ms = ms * 10 + (val[i] - '0');
        }
        if (ok)
            d->retry_ms = ms;
    }
    /* any other field name is ignored, per spec */
    return 0;
}

int sse_feed(struct sse_decoder *d, const char *data, size_t len, sse_event_cb cb, void *user)
{
    if (d->error)
        return d->error;
    const char *p = data;
    const char *end = data + len;
    int rc = 0;

    /* A UTF-8 BOM is only skipped at the very start; its bytes may arrive one by one, so the
     * prefix seen so far waits in the line buffer. */
    while (!d->bom_checked && p < end) {
        if ((unsigned char)*p == sse_bom[d->line.len]) {
            rc = buf_append(&d->line, p, 1);
            if (rc)
                goto fail_line;
            p++;
            if (d->line.len == 3) {
                buf_reset(&d->line);
                d->bom_checked = 1;
            }
        } else {
            d->bom_checked = 1;
        }
    }
    if (d->pending_cr && p < end) {
        d->pending_cr = 0;
        if (*p == '\n')
            p++;
    }
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *lim = nl ? nl : end;
        const char *cr = memchr(p, '\r', (size_t)(lim - p));
        const char *eol = cr ? cr : nl;
        if (!eol) {
            rc = buf_append(&d->line, p, (size_t)(end - p));
            if (rc)
                goto fail_line;
            p = end;
            break;
        }
        if (d->line.len) {
            rc = buf_append(&d->line, p, (size_t)(eol - p));
            if (rc)
                goto fail_line;
            rc = sse_line(d, d->line.p, d->line.len, cb, user);
            buf_reset(&d->line);
        } else {
            if ((size_t)(eol - p) > d->line.max) {
                rc = SSE_ERR_LINE_TOO_LONG;
                goto fail;
            }
            rc = sse_line(d, p, (size_t)(eol - p), cb, user);
        }
        if (*eol == '\r') {
            if (eol + 1 < end) {
                if (eol[1] == '\n')
                    eol++;
            } else {
                d->pending_cr = 1;
            }
        }
        p = eol + 1;
        if (rc)
            goto fail;
    }
    d->pos += len;
    return 0;

fail_line:
    rc = sse_map_buf_err(rc, SSE_ERR_LINE_TOO_LONG);
fail:
    d->pos += (uint64_t)(p - data);
    d->error = rc;
    return rc;
}

int sse_finish(struct sse_decoder *d)
{
    /* after an error the over-long line itself was pending, however it was fed */
    int pending = d->error || d->line.len > 0 || d->has_data_field;
    buf_reset(&d->line);
    sse_reset_event(d);
    d->pending_cr = 0;
    return pending;
}
