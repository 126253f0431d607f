/* tlog_writer.c — writes a trace log as a series of complete gzip members (RFC 1952), each
 * holding whole JSON lines (formats/SCHEMA.md), the way htslib's BGZF makes a compressed
 * record stream robust: a member is compressed in memory and handed to the kernel with
 * write(2) when it closes (every member_interval_us, every member_records records, at flush
 * and close), so a crash or kill -9 loses at most the member being filled. */
#include "tlog.h"
#include "clock.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

/* A member is also closed when this much uncompressed text went in, so memory stays bounded
 * when records carry large bodies. */
#define TLOG_MEMBER_MAX_IN ((uint64_t)16 << 20)
#define TLOG_OUT_MAX ((size_t)1 << 34)

struct tlog_writer {
    pthread_mutex_t mu;      /* records may come from several threads */
    int fd;
    int close_fd;            /* 0 for stdout */
    z_stream z;
    int z_ready;
    struct tlog_writer_opts o;
    struct buf out;          /* compressed bytes of the open member */
    struct buf line;         /* scratch for serialization under the lock */
    int member_open;         /* deflate has input since the last member end */
    int64_t member_start_us; /* clock_mono_us() when the open member got its first line */
    int64_t member_n;        /* lines in the open member */
    uint64_t member_in;      /* uncompressed bytes in the open member */
    int wrote_header;
    int64_t records;
    int64_t errors;
    uint64_t bytes;
    int err;                 /* first error seen (sticky) */
    char errmsg[256];
};

static void tlog_w_fail(struct tlog_writer *w, int code, const char *fmt, const char *arg)
{
    if (w->err)
        return;
    w->err = code;
    snprintf(w->errmsg, sizeof w->errmsg, fmt, arg ? arg : "");
}

/* write(2) all of p, retrying short writes and EINTR. */
static int tlog_w_write_all(struct tlog_writer *w, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(w->fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            tlog_w_fail(w, TLOG_ERR_IO, "write: %s", strerror(errno));
            return TLOG_ERR_IO;
        }
        p += k;
        n -= (size_t)k;
        w->bytes += (uint64_t)k;
    }
    return 0;
}

/* Runs deflate over in with flush mode, appending all output to w->out. */
static int tlog_w_deflate(struct tlog_writer *w, const void *in, size_t len, int flush)
{
    w->z.next_in = (Bytef *)(uintptr_t)in;
    w->z.avail_in = 0;
    size_t left = len;
    for (;;) {
        if (w->z.avail_in == 0 && left > 0) {
            /* avail_in is a uInt: feed huge lines in slices */
            uInt chunk = left > (1u << 30) ? (1u << 30) : (uInt)left;
            w->z.avail_in = chunk;
            left -= chunk;
        }
        if (buf_reserve(&w->out, 64 * 1024)) {
            tlog_w_fail(w, TLOG_ERR_NOMEM, "out of memory%s", NULL);
            return TLOG_ERR_NOMEM;
        }
        size_t room = w->out.cap - w->out.len - 1;
        if (room > (1u << 30))
            room = 1u << 30;
        w->z.next_out = (Bytef *)w->out.p + w->out.len;
        w->z.avail_out = (uInt)room;
        int zr = deflate(&w->z, left > 0 ? Z_NO_FLUSH : flush);
        w->out.len += room - w->z.avail_out;
        w->out.p[w->out.len] = '\0';
        if (zr == Z_STREAM_ERROR) {
            tlog_w_fail(w, TLOG_ERR_IO, "deflate failed%s", NULL);
            return TLOG_ERR_IO;
        }
        if (flush == Z_FINISH && left == 0) {
            if (zr == Z_STREAM_END)
                return 0;
            continue;
        }
        if (w->z.avail_in == 0 && left == 0 && w->z.avail_out != 0)
            return 0;
    }
}

/* Ends the open member (gzip trailer) and writes it out. No-op without an open member. */
static int tlog_w_close_member(struct tlog_writer *w)
{
    if (!w->member_open)
        return 0;
    int rc = tlog_w_deflate(w, NULL, 0, Z_FINISH);
    if (!rc)
        rc = tlog_w_write_all(w, w->out.p, w->out.len);
    buf_reset(&w->out);
    deflateReset(&w->z);
    w->member_open = 0;
    w->member_n = 0;
    w->member_in = 0;
    return rc;
}

static int tlog_w_due(const struct tlog_writer *w, int64_t now_us)
{
    return w->member_open && now_us - w->member_start_us >= w->o.member_interval_us;
}

/* Appends one line (+ newline) to the open member; closes it when a limit is reached. */
static int tlog_w_put_line(struct tlog_writer *w, const char *line, size_t len)
{
    if (w->err)
        return w->err;
    int64_t now = clock_mono_us();
    if (tlog_w_due(w, now)) {
        int rc = tlog_w_close_member(w);
        if (rc)
            return rc;
    }
    if (!w->member_open) {
        w->member_open = 1;
        w->member_start_us = now;
    }
    int rc = tlog_w_deflate(w, line, len, Z_NO_FLUSH);
    if (!rc)
        rc = tlog_w_deflate(w, "\n", 1, Z_NO_FLUSH);
    if (rc)
        return rc;
    w->member_n++;
    w->member_in += len + 1;
    if (w->member_n >= w->o.member_records || w->member_in >= TLOG_MEMBER_MAX_IN)
        return tlog_w_close_member(w);
    return 0;
}

struct tlog_writer *tlog_writer_open(const char *path, const struct tlog_writer_opts *o,
                                     char *err, size_t errlen)
{
    struct tlog_writer *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (o)
        w->o = *o;
    if (w->o.member_interval_us <= 0)
        w->o.member_interval_us = 1000000;
    if (w->o.member_records <= 0)
        w->o.member_records = 1000;
    if (w->o.level <= 0 || w->o.level > 9)
        w->o.level = 1;
    buf_init(&w->out, TLOG_OUT_MAX);
    buf_init(&w->line, TLOG_OUT_MAX);
    if (deflateInit2(&w->z, w->o.level, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        snprintf(err, errlen, "deflateInit2 failed");
        free(w);
        return NULL;
    }
    w->z_ready = 1;
    if (strcmp(path, "-") == 0) {
        w->fd = STDOUT_FILENO;
    } else {
        w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (w->fd < 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            deflateEnd(&w->z);
            free(w);
            return NULL;
        }
        w->close_fd = 1;
    }
    pthread_mutex_init(&w->mu, NULL);
    return w;
}

static cJSON *tlog_w_dup(const cJSON *v)
{
    return v ? cJSON_Duplicate(v, 1) : NULL;
}

/* Epoch-µs values exceed 2^53 soon enough and cJSON prints doubles in %g form
 * (1.79568748514093e+15): write integers as integers. */
static void tlog_w_add_i64(cJSON *obj, const char *key, int64_t v)
{
    char num[24];
    snprintf(num, sizeof num, "%" PRId64, v);
    cJSON_AddRawToObject(obj, key, num);
}

int tlog_writer_header(struct tlog_writer *w, const struct tlog_header *h)
{
    pthread_mutex_lock(&w->mu);
    int rc = 0;
    if (w->wrote_header) {
        rc = TLOG_ERR_USAGE;
        goto out;
    }
    cJSON *j = cJSON_CreateObject();
    if (!j) {
        rc = TLOG_ERR_NOMEM;
        goto out;
    }
    cJSON_AddStringToObject(j, "type", "header");
    cJSON_AddNumberToObject(j, "schema", h->schema > 0 ? h->schema : TLOG_SCHEMA_VERSION);
    if (h->tool)
        cJSON_AddStringToObject(j, "tool", h->tool);
    else
        cJSON_AddNullToObject(j, "tool");
    if (h->version)
        cJSON_AddStringToObject(j, "version", h->version);
    else
        cJSON_AddNullToObject(j, "version");
    tlog_w_add_i64(j, "start_us", h->start_us);
    cJSON *c = tlog_w_dup(h->command), *s = tlog_w_dup(h->source), *op = tlog_w_dup(h->options);
    cJSON_AddItemToObject(j, "command", c ? c : cJSON_CreateArray());
    cJSON_AddItemToObject(j, "source", s ? s : cJSON_CreateObject());
    cJSON_AddItemToObject(j, "options", op ? op : cJSON_CreateObject());
    cJSON *ck = tlog_w_dup(h->clock);
    if (!ck && (ck = cJSON_CreateObject())) {
        struct clock_sync cs;
        clock_sync_read(&cs);
        if (cs.known) {
            cJSON_AddBoolToObject(ck, "synced", cs.synced);
            cJSON_AddNumberToObject(ck, "est_error_us", (double)cs.est_error_us);
            cJSON_AddNumberToObject(ck, "max_error_us", (double)cs.max_error_us);
        }
        cJSON_AddStringToObject(ck, "source", cs.known ? "adjtimex" : "unknown");
    }
    if (ck)
        cJSON_AddItemToObject(j, "clock", ck);
    /* readers learn how the records were filtered without guessing */
    cJSON_AddBoolToObject(j, "redacted", !w->o.w.no_redact);
    cJSON_AddBoolToObject(j, "bodies", !w->o.w.no_bodies);
    char *line = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!line) {
        rc = TLOG_ERR_NOMEM;
        goto out;
    }
    rc = tlog_w_put_line(w, line, strlen(line));
    cJSON_free(line);
    /* the header goes out at once so `zcat | head -1` works on a live log */
    if (!rc)
        rc = tlog_w_close_member(w);
    if (!rc)
        w->wrote_header = 1;
out:
    pthread_mutex_unlock(&w->mu);
    return rc;
}

static int tlog_w_line_locked(struct tlog_writer *w, const char *line, size_t len,
                              int is_exchange, int is_error)
{
    if (!w->wrote_header)
        return TLOG_ERR_USAGE;
    int rc = tlog_w_put_line(w, line, len);
    if (!rc && is_exchange) {
        w->records++;
        if (is_error)
            w->errors++;
    }
    return rc;
}

int tlog_writer_exchange(struct tlog_writer *w, const struct tlog_exchange *x)
{
    pthread_mutex_lock(&w->mu);
    buf_reset(&w->line);
    int rc = tlog_exchange_to_line(x, &w->o.w, &w->line);
    if (!rc)
        rc = tlog_w_line_locked(w, w->line.p, w->line.len, 1,
                                x->error_kind != TLOG_ERROR_NONE);
    /* do not let one huge record pin memory for the writer's life */
    if (w->line.cap > (1u << 20))
        buf_free(&w->line);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int tlog_writer_line(struct tlog_writer *w, const char *line, size_t len, int is_exchange,
                     int is_error)
{
    if (memchr(line, '\n', len))
        return TLOG_ERR_USAGE; /* one line must stay one record */
    pthread_mutex_lock(&w->mu);
    int rc = tlog_w_line_locked(w, line, len, is_exchange, is_error);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int tlog_writer_tick(struct tlog_writer *w, int64_t now_us)
{
    pthread_mutex_lock(&w->mu);
    int rc = w->err;
    if (!rc && tlog_w_due(w, now_us))
        rc = tlog_w_close_member(w);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int tlog_writer_flush(struct tlog_writer *w)
{
    pthread_mutex_lock(&w->mu);
    int rc = w->err ? w->err : tlog_w_close_member(w);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

static void tlog_w_destroy(struct tlog_writer *w)
{
    if (w->z_ready)
        deflateEnd(&w->z);
    buf_free(&w->out);
    buf_free(&w->line);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

int tlog_writer_close(struct tlog_writer *w, const cJSON *stats)
{
    if (!w)
        return TLOG_ERR_USAGE;
    pthread_mutex_lock(&w->mu);
    int rc = 0;
    if (w->wrote_header && !w->err) {
        cJSON *j = cJSON_CreateObject();
        char *line = NULL;
        if (j) {
            cJSON_AddStringToObject(j, "type", "trailer");
            tlog_w_add_i64(j, "end_us", clock_epoch_us());
            tlog_w_add_i64(j, "records", w->records);
            tlog_w_add_i64(j, "errors", w->errors);
            cJSON *st = tlog_w_dup(stats);
            cJSON_AddItemToObject(j, "stats", st ? st : cJSON_CreateObject());
            line = cJSON_PrintUnformatted(j);
            cJSON_Delete(j);
        }
        if (!line)
            tlog_w_fail(w, TLOG_ERR_NOMEM, "out of memory%s", NULL);
        else
            tlog_w_put_line(w, line, strlen(line));
        cJSON_free(line);
    }
    if (!w->err)
        tlog_w_close_member(w);
    if (w->close_fd && close(w->fd) != 0)
        tlog_w_fail(w, TLOG_ERR_IO, "close: %s", strerror(errno));
    rc = w->err;
    pthread_mutex_unlock(&w->mu);
    tlog_w_destroy(w);
    return rc;
}

void tlog_writer_abort(struct tlog_writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    /* keep what was written so far readable: only the trailer is missing */
    if (!w->err)
        tlog_w_close_member(w);
    if (w->close_fd)
        close(w->fd);
    pthread_mutex_unlock(&w->mu);
    tlog_w_destroy(w);
}

const char *tlog_writer_error(const struct tlog_writer *w)
{
    return w->errmsg;
}

int64_t tlog_writer_records(const struct tlog_writer *w)
{
    return w->records;
}

uint64_t tlog_writer_bytes(const struct tlog_writer *w)
{
    return w->bytes;
}
