/* input.c — loading, selecting and rewriting the requests to replay (see input.h). Trace logs
 * are read with formats/tlog (formats/SCHEMA.md); Batch API files line by line through zlib,
 * which reads plain and gzip-compressed files alike. Each request is rewritten as it is read,
 * so only the bytes to send are kept, never a request's JSON tree. */
#include "input.h"

#include <errno.h>
#include <fnmatch.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "buf.h"
#include "jscan.h"
#include "tlog.h"

#define INPUT_MAX_LINE (64u << 20)
#define INPUT_RESTART 2 /* internal: out of start order while selecting; read it all again */

static void req_free(struct replay_req *r)
{
    free(r->of);
    free(r->method);
    free(r->path);
    /* body is body_json's string once rewritten, else its own copy */
    if (r->body && !(r->body_json && r->body == r->body_json->valuestring))
        free(r->body);
    cJSON_Delete(r->body_json);
    free(r->model);
    free(r->session);
    memset(r, 0, sizeof(*r));
}

static void req_init(struct replay_req *r)
{
    memset(r, 0, sizeof(*r));
    r->offset_us = -1;
    r->tokens_out = -1;
    r->stream = -1;
    r->pinned_out = -1;
    r->turn = r->think_us = r->rec_end_us = -1;
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

/* ---- rewriting --------------------------------------------------------------------------- */

/* Makes body_json a raw item of `bytes` (taken over) and points body at them: the results log
 * prints the raw item verbatim, so each record costs a copy instead of a tree walk, and
 * request.body is byte for byte what was sent. */
static int req_set_body(struct replay_req *r, char *bytes)
{
    if (!bytes)
        return -1;
    cJSON *raw = cJSON_CreateRaw("");
    if (!raw) {
        free(bytes);
        return -1;
    }
    free(raw->valuestring);
    raw->valuestring = bytes;
    cJSON_Delete(r->body_json);
    r->body_json = raw;
    r->body = bytes;
    r->body_len = strlen(bytes);
    return 0;
}

static int dialect_is_openai(enum dialect_id d)
{
    return d == DIALECT_OPENAI_CHAT || d == DIALECT_OPENAI_COMPLETIONS;
}

/* The rewrite of one request. src/src_len: the body's bytes exactly as the input holds them
 * (NULL when unknown); when no rewrite applies to the body, those bytes are what is sent. */
static int req_rewrite(struct replay_req *r, const struct input_rewrite *rw, const char *src,
                       size_t src_len)
{
    cJSON *b = r->body_json;
    size_t plen = r->path ? strlen(r->path) : 0;
    if (rw->dialect != DIALECT_UNKNOWN)
        r->dialect = rw->dialect;
    else if (r->dialect == DIALECT_UNKNOWN)
        r->dialect = dialect_from_request(r->path ? r->path : "", plen, b);
    if (r->body && !(b && r->body == b->valuestring))
        free(r->body);
    r->body = NULL;
    r->body_len = 0;
    free(r->model);
    r->model = NULL;
    r->pinned_out = -1;
    if (cJSON_IsRaw(b) || cJSON_IsString(b)) { /* already bytes: sent as they are */
        r->body = b->valuestring;
        r->body_len = strlen(b->valuestring);
        return 0;
    }
    if (!b)
        return 0;
    if (!cJSON_IsObject(b)) /* JSON, but not an object: nothing to rewrite */
        return req_set_body(r, src ? strndup(src, src_len) : cJSON_PrintUnformatted(b));
    enum dialect_id d = r->dialect;
    struct dialect_request_info ri;
    int64_t max_tokens = rw->max_tokens >= 1 ? rw->max_tokens
                         : rw->max_tokens == REWRITE_MAX_TOKENS_ORIGINAL && r->tokens_out >= 1
                             ? r->tokens_out
                             : -1;
    /* only OpenAI's streams omit usage unless asked (dialect_set_include_usage); read here
     * without dialect_request_info, which also measures the prompt */
    int usage = 0;
    if (rw->include_usage && dialect_is_openai(d)) {
        const cJSON *so = cJSON_GetObjectItemCaseSensitive(b, "stream_options");
        usage = (rw->stream_on || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(b, "stream"))) &&
                !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(so, "include_usage"));
    }
    /* ignore_eos exists in the OpenAI dialects only (dialect_set_ignore_eos) */
    int eos = rw->ignore_eos && (dialect_is_openai(d) || d == DIALECT_UNKNOWN);
    if (!rw->model && max_tokens < 1 && !eos && !rw->stream_on && !usage) {
        /* nothing to change: the input's own bytes go out */
        dialect_request_info(d, b, &ri);
        r->stream = ri.stream;
        if (ri.model && !(r->model = strdup(ri.model)))
            return -1;
        if (dialect_is_openai(d) && ri.ignore_eos && ri.max_tokens >= 1)
            r->pinned_out = ri.max_tokens;
        return req_set_body(r, src ? strndup(src, src_len) : cJSON_PrintUnformatted(b));
    }
    if (rw->model && dialect_set_model(d, b, rw->model))
        return -1;
    if (max_tokens >= 1 && dialect_set_max_tokens(d, b, max_tokens))
        return -1;
    if (eos && dialect_set_ignore_eos(d, b, 1))
        return -1;
    if (rw->stream_on && dialect_set_stream(d, b, 1))
        return -1;
    if (usage && dialect_set_include_usage(d, b))
        return -1;
    if (dialect_request_info(d, b, &ri) == 0) {
        r->stream = ri.stream;
        if (ri.model && !(r->model = strdup(ri.model)))
            return -1;
        /* only OpenAI's dialects can force a length (input_dialect_cannot_pin) */
        if (dialect_is_openai(d) && ri.ignore_eos && ri.max_tokens >= 1)
            r->pinned_out = ri.max_tokens;
    }
    return req_set_body(r, cJSON_PrintUnformatted(b));
}

int input_rewrite_req(struct replay_req *r, const struct input_rewrite *rw)
{
    return req_rewrite(r, rw, NULL, 0);
}

int input_dialect_cannot_pin(enum dialect_id d)
{
    return d == DIALECT_ANTHROPIC || d == DIALECT_OLLAMA_GENERATE || d == DIALECT_OLLAMA_CHAT ||
           d == DIALECT_TGI || d == DIALECT_OPENAI_RESPONSES;
}

/* ---- selection while reading ------------------------------------------------------------- */

/* One pass over the input. In `streaming` mode, records are selected as they arrive (the file
 * is in start order so far) and reading stops once the selection is complete; the first
 * record out of start order ends the pass with INPUT_RESTART. Otherwise every record that
 * passes --filter-path is kept, to be sorted and selected at the end. */
struct loader {
    const struct input_select *sel;
    const struct input_rewrite *rw;
    const atomic_int *stop;
    struct replay_input *in;
    int streaming;
    int have_prev;
    int64_t base;              /* offset of the first record (--from/--to are relative to it) */
    int64_t prev;
    int64_t skipped;
    int done;                  /* streaming: the selection is complete */
};

static int loader_stopped(const struct loader *L)
{
    return L->stop && atomic_load_explicit(L->stop, memory_order_relaxed);
}

/* Takes candidate r (passed --filter-path; owned from here on), numbered recno in the input,
 * with its body's input bytes src (may be NULL). 0, INPUT_RESTART, or -1 (out of memory). */
static int loader_take(struct loader *L, struct replay_req *r, int64_t recno, const char *src,
                       size_t src_len)
{
    const struct input_select *sel = L->sel;
    if (L->streaming) {
        if (L->have_prev && r->offset_us < L->prev) {
            L->in->unsorted_at = recno;
            req_free(r);
            return INPUT_RESTART;
        }
        if (!L->have_prev)
            L->base = r->offset_us;
        L->have_prev = 1;
        L->prev = r->offset_us;
        int64_t off = r->offset_us - L->base;
        if (sel->to_us > 0 && off >= sel->to_us) {
            L->done = 1; /* in start order: nothing later can be before --to */
            req_free(r);
            return 0;
        }
        if (off < sel->from_us || L->skipped < sel->skip) {
            L->skipped += off >= sel->from_us;
            req_free(r);
            return 0;
        }
    }
    if (req_rewrite(r, L->rw, src, src_len) || input_push(L->in, r)) {
        req_free(r);
        return -1;
    }
    if (L->streaming && sel->limit > 0 && (int64_t)L->in->n >= sel->limit)
        L->done = 1;
    return 0;
}

/* The slice of member `key` of the JSON object text p[0..len) (objects and arrays only: a
 * string body is sent unescaped, which its tree already holds). NULL when absent or when the
 * text is not one jscan accepts. */
static const char *json_member_slice(const char *p, size_t len, const char *key, size_t *out_len)
{
    struct jscan_val root, v;
    if (jscan_parse(p, len, &root, NULL) || !jscan_get(&root, key, &v) ||
        (v.type != JSCAN_OBJECT && v.type != JSCAN_ARRAY))
        return NULL;
    *out_len = v.len;
    return v.p;
}

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
static int input_load_batch(gzFile f, const char *path, struct loader *L, char *err,
                            size_t errlen)
{
    struct replay_input *in = L->in;
    struct buf line;
    buf_init(&line, INPUT_MAX_LINE);
    char chunk[65536];
    int64_t line_no = 0, last_ts = -1, first_ts = -1;
    int rc = 0, eof = 0;
    size_t scan = 0;
    while (!rc && !L->done) {
        if (loader_stopped(L)) {
            rc = INPUT_STOPPED;
            break;
        }
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
            if (!path_selected(L->sel, r.path)) {
                req_free(&r);
            } else {
                size_t src_len = 0;
                const char *src = r.body_json ? json_member_slice(line.p, l, "body", &src_len)
                                              : NULL;
                rc = loader_take(L, &r, line_no, src, src_len);
                if (rc < 0)
                    snprintf(err, errlen, "out of memory");
            }
        }
        buf_consume(&line, nl ? len + 1 : len);
        scan = 0;
    }
    buf_free(&line);
    return rc;
}

static int input_load_tlog(const char *path, const char *name, struct loader *L, char *err,
                           size_t errlen)
{
    struct replay_input *in = L->in;
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
    while (!L->done && (got = tlog_read(rd, &rec)) != 0) {
        if (loader_stopped(L)) {
            rc = INPUT_STOPPED;
            break;
        }
        if (got < 0) {
            if (got == TLOG_ERR_FORMAT) {
                in->bad_records++;
                continue;
            }
            snprintf(err, errlen, "%s: %s", name, tlog_reader_error(rd));
            rc = -1;
            break;
        }
        if (rec.type != TLOG_REC_EXCHANGE)
            continue;
        in->read++;
        struct tlog_exchange *x = &rec.x;
        if (x->resent_as) {
            /* a captured transport attempt the client re-sent: the re-send is the request */
            in->skipped_attempts++;
            continue;
        }
        if (!x->req.path || !path_selected(L->sel, x->req.path))
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
        r.rec_end_us = x->resp.end_us;
        if (x->session.present && x->session.id) {
            r.session = x->session.id; /* taken over */
            x->session.id = NULL;
            r.turn = x->session.turn;
            r.think_us = x->session.think_us;
        }
        if (!r.method || !r.path) {
            req_free(&r);
            snprintf(err, errlen, "out of memory");
            rc = -1;
            break;
        }
        size_t src_len = 0;
        const char *src = tlog_reader_body(rd, &src_len);
        if (src && !(src_len && (src[0] == '{' || src[0] == '[')))
            src = NULL; /* a string body is sent unescaped: its tree holds that */
        rc = loader_take(L, &r, rec.line_no, src, src_len);
        if (rc < 0)
            snprintf(err, errlen, "out of memory");
        if (rc)
            break;
    }
    if (!rc && !L->done) {
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
 * qsort does not promise), then applies --from/--to, --skip and --limit. */
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
        in->reqs[w++] = *r;
    }
    in->n = w;
    return 0;
}

/* Re-bases offsets on the first kept request and counts what the tool warns about. */
static void input_finish(struct replay_input *in, const struct input_rewrite *rw)
{
    int64_t first = in->n ? in->reqs[0].offset_us : 0;
    for (size_t i = 0; i < in->n; i++) {
        struct replay_req *r = &in->reqs[i];
        r->offset_us -= first;
        in->untimed += r->untimed;
        if (rw->max_tokens == REWRITE_MAX_TOKENS_ORIGINAL && r->tokens_out < 1)
            in->no_recorded_tokens++;
        if ((rw->max_tokens == REWRITE_MAX_TOKENS_ORIGINAL || rw->ignore_eos) &&
            input_dialect_cannot_pin(r->dialect))
            in->unpinned[r->dialect]++;
    }
}

/* Copies stdin to a temporary file so the format can be sniffed and then read by either
 * reader (twice, when it turns out not to be in start order). The file is unlinked at once;
 * /proc/self/fd keeps it reachable by path. Polls stop while stdin is idle. */
static int input_spool_stdin(char *path, size_t pathlen, int *fd_out, const atomic_int *stop,
                             char *err, size_t errlen)
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
    for (;;) {
        if (stop && atomic_load_explicit(stop, memory_order_relaxed)) {
            close(fd);
            return INPUT_STOPPED;
        }
        struct pollfd pfd = {.fd = 0, .events = POLLIN};
        int pr = poll(&pfd, 1, 100);
        if (pr == 0 || (pr < 0 && errno == EINTR))
            continue;
        ssize_t got = pr < 0 ? -1 : read(0, chunk, sizeof(chunk));
        if (got == 0)
            break;
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
static int input_sniff_batch(const char *path, const char *name, char *err, size_t errlen)
{
    gzFile f = gzopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", name, strerror(errno ? errno : ENOENT));
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

/* One pass over path (a file the sniffer has seen) into in. */
static int input_pass(const char *path, const char *name, struct loader *L, char *err,
                      size_t errlen)
{
    if (L->in->kind == INPUT_TLOG)
        return input_load_tlog(path, name, L, err, errlen);
    gzFile f = gzopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", name, strerror(errno ? errno : ENOENT));
        return -1;
    }
    gzbuffer(f, 1 << 16);
    int rc = input_load_batch(f, name, L, err, errlen);
    gzclose(f);
    return rc;
}

int input_load(const char *path, const struct input_select *sel, const struct input_rewrite *rw,
               const atomic_int *stop, struct replay_input *in, char *err, size_t errlen)
{
    memset(in, 0, sizeof(*in));
    char spool[64];
    int spool_fd = -1;
    const char *name = path;
    if (!strcmp(path, "-")) {
        int sr = input_spool_stdin(spool, sizeof(spool), &spool_fd, stop, err, errlen);
        if (sr)
            return sr;
        path = spool;
    }
    int rc;
    int batch = input_sniff_batch(path, name, err, errlen);
    if (batch < 0) {
        rc = -1;
    } else {
        enum input_kind kind = batch ? INPUT_BATCH : INPUT_TLOG;
        /* a bounded selection is made while reading, as long as the input is in start order */
        struct loader L = {.sel = sel, .rw = rw, .stop = stop, .in = in,
                           .streaming = sel->limit > 0 || sel->to_us > 0};
        in->kind = kind;
        rc = input_pass(path, name, &L, err, errlen);
        if (rc == INPUT_RESTART) {
            int64_t at = in->unsorted_at;
            input_free(in);
            in->kind = kind;
            in->unsorted_at = at;
            L = (struct loader){.sel = sel, .rw = rw, .stop = stop, .in = in};
            rc = input_pass(path, name, &L, err, errlen);
        }
        in->stopped_early = L.done;
        if (!rc && !L.streaming && input_select_sorted(in, sel)) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        }
        if (!rc)
            input_finish(in, rw);
    }
    if (spool_fd >= 0)
        close(spool_fd);
    if (rc) {
        enum input_kind kind = in->kind;
        input_free(in);
        in->kind = kind;
        return rc == INPUT_STOPPED ? INPUT_STOPPED : -1;
    }
    return 0;
}
