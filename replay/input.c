/* input.c — loading, selecting and rewriting the requests to replay (see input.h). Trace logs
 * are read with formats/tlog (formats/SCHEMA.md); Batch API files line by line through zlib,
 * which reads plain and gzip-compressed files alike. */
#include "input.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "buf.h"
#include "tlog.h"

#define INPUT_MAX_LINE (64u << 20)

static void req_free(struct replay_req *r)
{
    free(r->of);
    free(r->method);
    free(r->path);
    cJSON_Delete(r->body_json);
    free(r->body);
    free(r->model);
    memset(r, 0, sizeof(*r));
}

static void req_init(struct replay_req *r)
{
    memset(r, 0, sizeof(*r));
    r->offset_us = -1;
    r->tokens_out = -1;
    r->stream = -1;
}

void input_free(struct replay_input *in)
{
    if (!in)
        return;
    for (size_t i = 0; i < in->n; i++)
        req_free(&in->reqs[i]);
    free(in->reqs);
    memset(in, 0, sizeof(*in));
}

static int input_push(struct replay_input *in, struct replay_req *r)
{
    if (in->n == in->cap) {
        size_t cap = in->cap ? in->cap * 2 : 256;
        struct replay_req *p = realloc(in->reqs, cap * sizeof(*p));
        if (!p)
            return -1;
        in->reqs = p;
        in->cap = cap;
    }
    in->reqs[in->n++] = *r;
    return 0;
}

static int path_selected(const struct input_select *sel, const char *path)
{
    const char *f = sel->filter_path;
    if (!f || !*f)
        return 1;
    if (!path)
        return 0;
    if (strpbrk(f, "*?["))
        return fnmatch(f, path, 0) == 0;
    return strncmp(path, f, strlen(f)) == 0;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

int input_parse_batch_line(const char *line, size_t len, struct replay_req *r, int64_t *ts_ms,
                           char *err, size_t errlen)
{
    req_init(r);
    *ts_ms = -1;
    cJSON *o = cJSON_ParseWithLength(line, len);
    if (!o || !cJSON_IsObject(o)) {
        snprintf(err, errlen, "not a JSON object");
        cJSON_Delete(o);
        return -1;
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "custom_id");
    const cJSON *method = cJSON_GetObjectItemCaseSensitive(o, "method");
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(o, "url");
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(o, "timestamp_ms");
    cJSON *body = cJSON_DetachItemFromObjectCaseSensitive(o, "body");
    const char *bad = NULL;
    if (!cJSON_IsString(url))
        bad = "\"url\": expected string";
    else if (id && !cJSON_IsString(id))
        bad = "\"custom_id\": expected string";
    else if (method && !cJSON_IsString(method))
        bad = "\"method\": expected string";
    else if (ts && !cJSON_IsNull(ts) && !(cJSON_IsNumber(ts) && ts->valuedouble >= 0))
        bad = "\"timestamp_ms\": expected a number >= 0";
    if (bad) {
        snprintf(err, errlen, "bad %s", bad);
        cJSON_Delete(body);
        cJSON_Delete(o);
        return -1;
    }
    r->of = dup_or_null(id ? id->valuestring : NULL);
    r->method = strdup(method ? method->valuestring : "POST");
    r->path = strdup(url->valuestring);
    r->body_json = body;
    if (cJSON_IsNumber(ts))
        *ts_ms = (int64_t)ts->valuedouble;
    cJSON_Delete(o);
    if (!r->method || !r->path) {
        req_free(r);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* Reads Batch API lines; offsets from timestamp_ms (a line without one inherits the previous
 * line's, so it is sent right after it in original timing). */
static int input_load_batch(gzFile f, const char *path, const struct input_select *sel,
                            struct replay_input *in, char *err, size_t errlen)
{
    struct buf line;
    buf_init(&line, INPUT_MAX_LINE);
    char chunk[65536];
    int64_t line_no = 0, last_ts = -1, first_ts = -1;
    int rc = 0, eof = 0;
    size_t scan = 0;
    while (!rc) {
        char *nl = line.len > scan ? memchr(line.p + scan, '\n', line.len - scan) : NULL;
        if (!nl && !eof) {
            scan = line.len;
            int got = gzread(f, chunk, sizeof(chunk));
            if (got < 0) {
                int zerr;
                snprintf(err, errlen, "%s: read error: %s", path, gzerror(f, &zerr));
                rc = -1;
            } else if (got == 0) {
                eof = 1;
            } else if (buf_append(&line, chunk, (size_t)got)) {
                snprintf(err, errlen, "%s: line %lld longer than %u bytes", path,
                         (long long)line_no + 1, INPUT_MAX_LINE);
                rc = -1;
            }
            continue;
        }
        if (!nl && line.len == 0)
            break;
        size_t len = nl ? (size_t)(nl - line.p) : line.len;
        line_no++;
        size_t l = len;
        while (l > 0 && (line.p[l - 1] == '\r' || line.p[l - 1] == ' '))
            l--;
        if (l > 0) {
            struct replay_req r;
            int64_t ts;
            char why[160];
            in->read++;
            if (input_parse_batch_line(line.p, l, &r, &ts, why, sizeof(why))) {
                snprintf(err, errlen, "%s: line %lld: %s", path, (long long)line_no, why);
                rc = -1;
                break;
            }
            if (ts >= 0) {
                if (first_ts < 0)
                    first_ts = ts;
                last_ts = ts;
            }
            r.offset_us = last_ts >= 0 ? (last_ts - first_ts) * 1000 : 0;
            r.untimed = ts < 0;
            if (!path_selected(sel, r.path)) {
                req_free(&r);
            } else if (input_push(in, &r)) {
                req_free(&r);
                snprintf(err, errlen, "out of memory");
                rc = -1;
            }
        }
        buf_consume(&line, nl ? len + 1 : len);
        scan = 0;
    }
    buf_free(&line);
    return rc;
}

static int input_load_tlog(const char *path, const struct input_select *sel,
                           struct replay_input *in, char *err, size_t errlen)
{
    struct tlog_reader_opts ro = {0};
    char oerr[256];
    struct tlog_reader *rd = tlog_reader_open(path, &ro, oerr, sizeof(oerr));
    if (!rd) {
        snprintf(err, errlen, "%s", oerr);
        return -1;
    }
    struct tlog_record rec;
    tlog_record_init(&rec);
    int rc = 0, got;
    while ((got = tlog_read(rd, &rec)) != 0) {
        if (got < 0) {
            if (got == TLOG_ERR_FORMAT) {
                in->bad_records++;
                continue;
            }
            snprintf(err, errlen, "%s: %s", path, tlog_reader_error(rd));
            rc = -1;
            break;
        }
        if (rec.type != TLOG_REC_EXCHANGE)
            continue;
        in->read++;
        struct tlog_exchange *x = &rec.x;
        if (!x->req.path || !path_selected(sel, x->req.path))
            continue;
        const char *method = x->req.method ? x->req.method : "POST";
        if (!x->req.body && strcmp(method, "GET") && strcmp(method, "HEAD")) {
            in->skipped_no_body++;
            continue;
        }
        struct replay_req r;
        req_init(&r);
        r.of = dup_or_null(x->id);
        r.method = strdup(method);
        r.path = strdup(x->req.path);
        r.body_json = x->req.body;
        x->req.body = NULL;
        r.offset_us = x->start_us;
        r.tokens_out = x->tokens_out;
        r.dialect = x->dialect ? dialect_parse_name(x->dialect) : DIALECT_UNKNOWN;
        if (!r.method || !r.path || input_push(in, &r)) {
            req_free(&r);
            snprintf(err, errlen, "out of memory");
            rc = -1;
            break;
        }
    }
    if (!rc) {
        struct tlog_reader_status st;
        tlog_reader_get_status(rd, &st);
        in->truncated = st.truncated;
    }
    tlog_record_free(&rec);
    tlog_reader_close(rd);
    return rc;
}

static int req_cmp_offset(const void *a, const void *b)
{
    const struct replay_req *x = a, *y = b;
    if (x->offset_us != y->offset_us)
        return x->offset_us < y->offset_us ? -1 : 1;
    return 0;
}

/* Sorts by recorded start (stable: merge sort on an index keeps file order for ties, which
 * qsort does not promise), then applies --from/--to, --skip, --limit and re-bases offsets. */
static int input_select_sorted(struct replay_input *in, const struct input_select *sel)
{
    size_t n = in->n;
    if (n == 0)
        return 0;
    struct replay_req *tmp = malloc(n * sizeof(*tmp));
    if (!tmp)
        return -1;
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = req_cmp_offset(&in->reqs[j], &in->reqs[i]) < 0 ? in->reqs[j++]
                                                                          : in->reqs[i++];
            while (i < mid)
                tmp[k++] = in->reqs[i++];
            while (j < hi)
                tmp[k++] = in->reqs[j++];
        }
        memcpy(in->reqs, tmp, n * sizeof(*tmp));
    }
    free(tmp);

    int64_t base = in->reqs[0].offset_us;
    size_t w = 0;
    int64_t skipped = 0;
    for (size_t i = 0; i < n; i++) {
        struct replay_req *r = &in->reqs[i];
        int64_t off = r->offset_us - base;
        int keep = off >= sel->from_us && (sel->to_us <= 0 || off < sel->to_us);
        if (keep && skipped < sel->skip) {
            skipped++;
            keep = 0;
        }
        if (keep && sel->limit > 0 && (int64_t)w >= sel->limit)
            keep = 0;
        if (!keep) {
            req_free(r);
            continue;
        }
        in->untimed += r->untimed;
        r->offset_us = off;
        in->reqs[w++] = *r;
    }
    in->n = w;
    if (w > 0) {
        int64_t first = in->reqs[0].offset_us;
        for (size_t i = 0; i < w; i++)
            in->reqs[i].offset_us -= first;
    }
    return 0;
}

/* Copies stdin to a temporary file so the format can be sniffed and then read by either
 * reader. The file is unlinked at once; /proc/self/fd keeps it reachable by path. */
static int input_spool_stdin(char *path, size_t pathlen, int *fd_out, char *err, size_t errlen)
{
    const char *dir = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof(tmpl), "%s/llmtrace-replay.XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(tmpl);
    if (fd < 0) {
        snprintf(err, errlen, "-: cannot create a temporary file: %s", strerror(errno));
        return -1;
    }
    unlink(tmpl);
    char chunk[65536];
    ssize_t got;
    while ((got = read(0, chunk, sizeof(chunk))) != 0) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 || write(fd, chunk, (size_t)got) != got) {
            snprintf(err, errlen, "-: %s", strerror(errno));
            close(fd);
            return -1;
        }
    }
    snprintf(path, pathlen, "/proc/self/fd/%d", fd);
    *fd_out = fd;
    return 0;
}

/* 1 when the first non-empty line is a Batch API line (has "custom_id" or "url" but no
 * "type"), 0 for a trace log, -1 when unreadable. */
static int input_sniff_batch(const char *path, char *err, size_t errlen)
{
    gzFile f = gzopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno ? errno : ENOENT));
        return -1;
    }
    gzbuffer(f, 1 << 16);
    struct buf line;
    buf_init(&line, INPUT_MAX_LINE);
    char chunk[4096];
    int got, batch = 0;
    /* start: first byte of the first non-blank line once found; scan: bytes already searched
     * for its newline. Each chunk is looked at once, so a long first line costs linear time. */
    size_t start = 0, scan = 0;
    int in_line = 0;
    while ((got = gzread(f, chunk, sizeof(chunk))) > 0) {
        if (buf_append(&line, chunk, (size_t)got))
            break;
        if (!in_line) {
            while (start < line.len &&
                   (line.p[start] == '\n' || line.p[start] == '\r' || line.p[start] == ' '))
                start++;
            if (start == line.len) { /* all blank so far: keep nothing */
                buf_reset(&line);
                start = 0;
                continue;
            }
            in_line = 1;
            scan = start;
        }
        char *nl = memchr(line.p + scan, '\n', line.len - scan);
        scan = line.len;
        if (nl) {
            char *p = line.p + start;
            cJSON *o = cJSON_ParseWithLength(p, (size_t)(nl - p));
            batch = o && !cJSON_GetObjectItemCaseSensitive(o, "type") &&
                    (cJSON_GetObjectItemCaseSensitive(o, "custom_id") ||
                     cJSON_GetObjectItemCaseSensitive(o, "url"));
            cJSON_Delete(o);
            break;
        }
    }
    if (got == 0 && line.len > 0) {
        cJSON *o = cJSON_ParseWithLength(line.p, line.len);
        batch = o && !cJSON_GetObjectItemCaseSensitive(o, "type") &&
                (cJSON_GetObjectItemCaseSensitive(o, "custom_id") ||
                 cJSON_GetObjectItemCaseSensitive(o, "url"));
        cJSON_Delete(o);
    }
    buf_free(&line);
    gzclose(f);
    return batch;
}

int input_load(const char *path, const struct input_select *sel, struct replay_input *in,
               char *err, size_t errlen)
{
    memset(in, 0, sizeof(*in));
    char spool[64];
    int spool_fd = -1;
    const char *name = path;
    if (!strcmp(path, "-")) {
        if (input_spool_stdin(spool, sizeof(spool), &spool_fd, err, errlen))
            return -1;
        path = spool;
    }
    int rc;
    int batch = input_sniff_batch(path, err, errlen);
    if (batch < 0) {
        rc = -1;
    } else if (batch) {
        in->kind = INPUT_BATCH;
        gzFile f = gzopen(path, "rb");
        if (!f) {
            snprintf(err, errlen, "%s: %s", name, strerror(errno ? errno : ENOENT));
            rc = -1;
        } else {
            gzbuffer(f, 1 << 16);
            rc = input_load_batch(f, name, sel, in, err, errlen);
            gzclose(f);
        }
    } else {
        in->kind = INPUT_TLOG;
        rc = input_load_tlog(path, sel, in, err, errlen);
    }
    if (spool_fd >= 0)
        close(spool_fd);
    if (!rc && input_select_sorted(in, sel)) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    }
    if (rc)
        input_free(in);
    return rc;
}

/* Serializes body_json into body, then replaces the tree by a cJSON raw item holding the same
 * bytes: the results log prints it verbatim, so each record costs a copy instead of a tree
 * walk, and request.body is byte for byte what was sent. */
static int input_body_to_raw(struct replay_req *r)
{
    r->body = cJSON_PrintUnformatted(r->body_json);
    if (!r->body)
        return -1;
    r->body_len = strlen(r->body);
    cJSON *raw = cJSON_CreateRaw(r->body);
    if (!raw)
        return -1;
    cJSON_Delete(r->body_json);
    r->body_json = raw;
    return 0;
}

int input_rewrite_req(struct replay_req *r, const struct input_rewrite *rw)
{
    cJSON *b = r->body_json;
    size_t plen = r->path ? strlen(r->path) : 0;
    if (rw->dialect != DIALECT_UNKNOWN)
        r->dialect = rw->dialect;
    else if (r->dialect == DIALECT_UNKNOWN)
        r->dialect = dialect_from_request(r->path ? r->path : "", plen, b);
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
    free(r->model);
    r->model = NULL;
    if (cJSON_IsObject(b)) {
        enum dialect_id d = r->dialect;
        if (rw->model && dialect_set_model(d, b, rw->model))
            return -1;
        if (rw->max_tokens >= 1 && dialect_set_max_tokens(d, b, rw->max_tokens))
            return -1;
        if (rw->max_tokens == REWRITE_MAX_TOKENS_ORIGINAL && r->tokens_out >= 1 &&
            dialect_set_max_tokens(d, b, r->tokens_out))
            return -1;
        if (rw->ignore_eos && dialect_set_ignore_eos(d, b, 1))
            return -1;
        if (rw->stream_on && dialect_set_stream(d, b, 1))
            return -1;
        struct dialect_request_info ri;
        if (dialect_request_info(d, b, &ri) == 0) {
            if (rw->include_usage && ri.stream == 1 && dialect_set_include_usage(d, b))
                return -1;
            r->stream = ri.stream;
            if (ri.model && !(r->model = strdup(ri.model)))
                return -1;
        }
        if (input_body_to_raw(r))
            return -1;
    } else if (cJSON_IsString(b)) {
        r->body = strdup(b->valuestring);
        if (!r->body)
            return -1;
        r->body_len = strlen(r->body);
    } else if (b && !cJSON_IsRaw(b)) {
        if (input_body_to_raw(r))
            return -1;
    } else if (b) {
        r->body = strdup(b->valuestring);
        if (!r->body)
            return -1;
        r->body_len = strlen(r->body);
    }
    return 0;
}

int input_dialect_cannot_pin(enum dialect_id d)
{
    return d == DIALECT_ANTHROPIC || d == DIALECT_OLLAMA_GENERATE || d == DIALECT_OLLAMA_CHAT ||
           d == DIALECT_TGI;
}

int input_rewrite_all(struct replay_input *in, const struct input_rewrite *rw)
{
    for (size_t i = 0; i < in->n; i++) {
        struct replay_req *r = &in->reqs[i];
        if (rw->max_tokens == REWRITE_MAX_TOKENS_ORIGINAL && r->tokens_out < 1)
            in->no_recorded_tokens++;
        if (input_rewrite_req(r, rw))
            return -1;
        if ((rw->max_tokens == REWRITE_MAX_TOKENS_ORIGINAL || rw->ignore_eos) &&
            input_dialect_cannot_pin(r->dialect))
            in->unpinned[r->dialect]++;
    }
    return 0;
}
