/* test_tlog.c — trace log writer, reader and record model (formats/tlog/tlog.h, formats/SCHEMA.md):
 * round trip of every field, redaction, gzip member boundaries, torn and corrupt files at every
 * byte, bad records with exact messages, plain JSONL, Python reading a written log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "clock.h"
#include "tlog.h"

static char tmpdir[256];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_tlog.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void tmp_path(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", tmpdir, name);
}

/* Whole file into memory (test files are small). */
static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

static void spit(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

/* An exchange with every field set to a distinct, recognisable value. */
static void make_full(struct tlog_exchange *x, int i)
{
    char id[32];
    tlog_exchange_init(x);
    snprintf(id, sizeof id, "r%d", i);
    x->id = strdup(id);
    x->start_us = 1764150000000000LL + i * 1000;
    x->conn = strdup("10.0.0.1:51234>10.0.0.2:8000");
    x->dialect = strdup("openai-chat");
    x->model = strdup("llama-3-8b");
    x->stream = 1;
    x->req.method = strdup("POST");
    x->req.path = strdup("/v1/chat/completions?x=1");
    x->req.host = strdup("api.example.com");
    assert_int_equal(tlog_exchange_add_header(x, 0, "Content-Type", 12, "application/json", 16), 0);
    assert_int_equal(tlog_exchange_add_header(x, 0, "Authorization", 13, "Bearer sk-123", 13), 0);
    assert_int_equal(tlog_exchange_add_header(x, 0, "X-Dup", 5, "1", 1), 0);
    assert_int_equal(tlog_exchange_add_header(x, 0, "X-Dup", 5, "2", 1), 0);
    x->req.body = cJSON_Parse("{\"model\":\"llama-3-8b\",\"stream\":true,"
                              "\"messages\":[{\"role\":\"user\",\"content\":\"say \\\"hi\\\" {}\"}]}");
    assert_non_null(x->req.body);
    x->req.body_bytes = 123;
    x->req.body_sha256 = strdup("ab12");
    x->resp.status = 200;
    assert_int_equal(tlog_exchange_add_header(x, 1, "set-cookie", 10, "s=1", 3), 0);
    assert_int_equal(tlog_exchange_add_header(x, 1, "Content-Type", 12, "text/event-stream", 17), 0);
    x->resp.ttfb_us = 1500;
    x->resp.end_us = 9000 + i;
    assert_int_equal(tlog_exchange_add_event(x, 1600, 0, 0), 0);
    assert_int_equal(tlog_exchange_add_event(x, 2000, 1, 1), 0);
    assert_int_equal(tlog_exchange_add_event(x, 2500, 2, 1), 0);
    assert_int_equal(tlog_exchange_append_text(x, "Hello \"w\"\n\t", 11), 0);
    assert_int_equal(tlog_exchange_append_text(x, "é✓", strlen("é✓")), 0);
    x->resp.finish_reason = strdup("stop");
    x->resp.body_bytes = 4567;
    x->usage.present = 1;
    x->usage.prompt_tokens = 12;
    x->usage.completion_tokens = 3;
    x->usage.cached_tokens = 4;
    x->tokens_in = 12;
    x->tokens_out = 3;
    x->tokens_source = TLOG_TOKENS_USAGE;
    assert_int_equal(tlog_exchange_set_error(x, TLOG_ERROR_RESET, "peer reset"), 0);
    x->replay.present = 1;
    x->replay.of = strdup("orig-7");
    x->replay.sched_us = 1764150000000000LL - 5;
    x->replay.has_stage = 1;
    x->replay.stage = 2.5;
    x->replay.mode = strdup("rate");
    x->replay.target = strdup("http://127.0.0.1:8000");
    x->replay.warmup = 1;
    x->replay.wait_us = 77;
    x->replay.worker = 3;
    x->conn_new = i % 2;
    x->connect_us = i % 2 ? 321 : -1;
    x->resent_as = i % 5 == 1 ? strdup("r-next") : NULL;
    if (i % 3 == 0) {
        /* every third one was re-sent once: its first attempt died on a reused connection */
        struct tlog_attempt a = {x->start_us - 700, 250, "w0:4000", 0, TLOG_ERROR_RESET,
                                 "connection closed before any response byte"};
        assert_int_equal(tlog_exchange_add_attempt(x, &a), 0);
    }
    x->session.present = i % 2 == 0;
    if (x->session.present) {
        x->session.id = strdup("conv-9");
        x->session.turn = i / 2;
        x->session.think_us = i ? 4500000 : -1;
    }
}

static void assert_str_or_null(const char *a, const char *b)
{
    if (!a || !b)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

static void assert_headers_equal(const struct tlog_hdr *a, size_t na, const struct tlog_hdr *b,
                                 size_t nb)
{
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        assert_string_equal(a[i].name, b[i].name);
        assert_string_equal(a[i].value, b[i].value);
    }
}

/* Field-by-field equality, as the round-trip contract says. */
static void assert_exchange_equal(const struct tlog_exchange *a, const struct tlog_exchange *b)
{
    assert_str_or_null(a->id, b->id);
    assert_int_equal(a->start_us, b->start_us);
    assert_str_or_null(a->conn, b->conn);
    assert_str_or_null(a->dialect, b->dialect);
    assert_str_or_null(a->model, b->model);
    assert_int_equal(a->stream, b->stream);
    assert_str_or_null(a->req.method, b->req.method);
    assert_str_or_null(a->req.path, b->req.path);
    assert_str_or_null(a->req.host, b->req.host);
    assert_headers_equal(a->req.headers, a->req.n_headers, b->req.headers, b->req.n_headers);
    if (!a->req.body || !b->req.body)
        assert_ptr_equal(a->req.body, b->req.body);
    else
        assert_true(cJSON_Compare(a->req.body, b->req.body, 1));
    assert_int_equal(a->req.body_bytes, b->req.body_bytes);
    assert_str_or_null(a->req.body_sha256, b->req.body_sha256);
    assert_int_equal(a->resp.status, b->resp.status);
    assert_headers_equal(a->resp.headers, a->resp.n_headers, b->resp.headers, b->resp.n_headers);
    assert_int_equal(a->resp.ttfb_us, b->resp.ttfb_us);
    assert_int_equal(a->resp.end_us, b->resp.end_us);
    assert_int_equal(a->resp.n_events, b->resp.n_events);
    for (size_t i = 0; i < a->resp.n_events; i++) {
        assert_int_equal(a->resp.events[i].offset_us, b->resp.events[i].offset_us);
        assert_int_equal(a->resp.events[i].tokens, b->resp.events[i].tokens);
        assert_int_equal(a->resp.events[i].is_content, b->resp.events[i].is_content);
    }
    assert_str_or_null(a->resp.text, b->resp.text);
    assert_int_equal(a->resp.text_len, b->resp.text_len);
    assert_str_or_null(a->resp.finish_reason, b->resp.finish_reason);
    assert_int_equal(a->resp.body_bytes, b->resp.body_bytes);
    assert_int_equal(a->usage.present, b->usage.present);
    assert_int_equal(a->usage.prompt_tokens, b->usage.prompt_tokens);
    assert_int_equal(a->usage.completion_tokens, b->usage.completion_tokens);
    assert_int_equal(a->usage.cached_tokens, b->usage.cached_tokens);
    assert_int_equal(a->tokens_in, b->tokens_in);
    assert_int_equal(a->tokens_out, b->tokens_out);
    assert_int_equal(a->tokens_source, b->tokens_source);
    assert_int_equal(a->error_kind, b->error_kind);
    assert_str_or_null(a->error_message, b->error_message);
    assert_int_equal(a->replay.present, b->replay.present);
    assert_str_or_null(a->replay.of, b->replay.of);
    assert_int_equal(a->replay.sched_us, b->replay.sched_us);
    assert_int_equal(a->replay.has_stage, b->replay.has_stage);
    assert_true(a->replay.stage == b->replay.stage);
    assert_str_or_null(a->replay.mode, b->replay.mode);
    assert_str_or_null(a->replay.target, b->replay.target);
    assert_int_equal(a->replay.warmup, b->replay.warmup);
    assert_int_equal(a->replay.wait_us, b->replay.wait_us);
    assert_int_equal(a->replay.worker, b->replay.worker);
    assert_int_equal(a->replay.n_attempts, b->replay.n_attempts);
    for (size_t i = 0; i < a->replay.n_attempts; i++) {
        const struct tlog_attempt *p = &a->replay.attempts[i], *q = &b->replay.attempts[i];
        assert_int_equal(p->start_us, q->start_us);
        assert_int_equal(p->end_us, q->end_us);
        assert_str_or_null(p->conn, q->conn);
        assert_int_equal(p->conn_new, q->conn_new);
        assert_int_equal(p->error_kind, q->error_kind);
        assert_str_or_null(p->error_message, q->error_message);
    }
    assert_int_equal(a->conn_new, b->conn_new);
    assert_int_equal(a->connect_us, b->connect_us);
    assert_str_or_null(a->resent_as, b->resent_as);
    assert_int_equal(a->session.present, b->session.present);
    assert_str_or_null(a->session.id, b->session.id);
    assert_int_equal(a->session.turn, b->session.turn);
    assert_int_equal(a->session.think_us, b->session.think_us);
}

static void write_header(struct tlog_writer *w)
{
    struct tlog_header h = {0};
    h.schema = TLOG_SCHEMA_VERSION;
    h.tool = "test_tlog";
    h.version = "0.1.0";
    h.start_us = 1764150000000000LL;
    h.command = cJSON_Parse("[\"test_tlog\",\"-o\",\"x\"]");
    h.source = cJSON_Parse("{\"kind\":\"synthetic\"}");
    assert_int_equal(tlog_writer_header(w, &h), 0);
    cJSON_Delete(h.command);
    cJSON_Delete(h.source);
}

/* Writes a log of n full exchanges (member_records per member) and closes it cleanly. */
static void write_log(const char *path, int n, int64_t member_records,
                      const struct tlog_write_opts *wo, int clean)
{
    char err[256] = "";
    struct tlog_writer_opts o = {0};
    if (wo)
        o.w = *wo;
    o.member_records = member_records;
    o.member_interval_us = 3600LL * 1000000; /* only counts decide in tests */
    struct tlog_writer *w = tlog_writer_open(path, &o, err, sizeof err);
    assert_non_null(w);
    write_header(w);
    for (int i = 0; i < n; i++) {
        struct tlog_exchange x;
        make_full(&x, i);
        if (i % 2)
            tlog_exchange_set_error(&x, TLOG_ERROR_NONE, NULL);
        assert_int_equal(tlog_writer_exchange(w, &x), 0);
        tlog_exchange_free(&x);
    }
    assert_int_equal(tlog_writer_records(w), n);
    if (clean) {
        cJSON *stats = cJSON_Parse("{\"sent\":5}");
        assert_int_equal(tlog_writer_close(w, stats), 0);
        cJSON_Delete(stats);
    } else {
        tlog_writer_abort(w);
    }
}

/* Reads every record; returns the count of each kind and checks the status. */
struct read_result {
    int headers, exchanges, trailers, errors;
    struct tlog_reader_status st;
    char describe[256];
    char last_error[512];
};

static struct read_result read_all(struct tlog_reader *r)
{
    struct read_result res;
    memset(&res, 0, sizeof res);
    struct tlog_record rec;
    tlog_record_init(&rec);
    for (int i = 0; i < 100000; i++) {
        int rc = tlog_read(r, &rec);
        if (rc == 0)
            break;
        if (rc < 0) {
            res.errors++;
            snprintf(res.last_error, sizeof res.last_error, "%s", tlog_reader_error(r));
            if (rc != TLOG_ERR_FORMAT)
                break;
            continue;
        }
        if (rec.type == TLOG_REC_HEADER)
            res.headers++;
        else if (rec.type == TLOG_REC_EXCHANGE)
            res.exchanges++;
        else if (rec.type == TLOG_REC_TRAILER)
            res.trailers++;
    }
    tlog_record_free(&rec);
    tlog_reader_get_status(r, &res.st);
    tlog_reader_describe(r, res.describe, sizeof res.describe);
    return res;
}

/* The header carries the host clock's synchronisation (filled by the writer, or the caller's
 * object kept as given), and the reader returns it. */
static void test_header_clock(void **state)
{
    (void)state;
    for (int given = 0; given < 2; given++) {
        char path[300], err[256];
        tmp_path(path, sizeof path, given ? "clock2.jsonl.gz" : "clock1.jsonl.gz");
        struct tlog_writer_opts o = {0};
        struct tlog_writer *w = tlog_writer_open(path, &o, err, sizeof err);
        assert_non_null(w);
        struct tlog_header h = {.schema = TLOG_SCHEMA_VERSION, .tool = "t", .version = "0"};
        if (given)
            h.clock = cJSON_Parse("{\"synced\":true,\"est_error_us\":12,\"max_error_us\":900,"
                                  "\"source\":\"adjtimex\"}");
        assert_int_equal(tlog_writer_header(w, &h), 0);
        cJSON_Delete(h.clock);
        assert_int_equal(tlog_writer_close(w, NULL), 0);
        struct tlog_reader_opts ro = {0};
        struct tlog_reader *r = tlog_reader_open(path, &ro, err, sizeof err);
        struct tlog_record rec;
        tlog_record_init(&rec);
        assert_int_equal(tlog_read(r, &rec), 1);
        assert_int_equal(rec.type, TLOG_REC_HEADER);
        const cJSON *c = rec.header.clock;
        assert_true(cJSON_IsObject(c));
        const cJSON *src = cJSON_GetObjectItemCaseSensitive(c, "source");
        assert_true(cJSON_IsString(src));
        if (given) {
            assert_int_equal(cJSON_GetObjectItemCaseSensitive(c, "max_error_us")->valuedouble, 900);
            assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "synced")));
        } else if (!strcmp(src->valuestring, "adjtimex")) {
            /* this host's kernel answered: every field is there */
            assert_true(cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(c, "synced")));
            assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(c, "est_error_us")));
        } else {
            assert_string_equal(src->valuestring, "unknown");
        }
        tlog_record_free(&rec);
        tlog_reader_close(r);
    }
}

/* ---- model ------------------------------------------------------------------------------ */

static void test_error_kind_names(void **state)
{
    (void)state;
    for (int k = 0; k < TLOG_ERROR_KIND_COUNT; k++)
        assert_int_equal(tlog_error_kind_parse(tlog_error_kind_name((enum tlog_error_kind)k)), k);
    assert_string_equal(tlog_error_kind_name(TLOG_ERROR_CONNECT_TIMEOUT), "connect_timeout");
    assert_string_equal(tlog_error_kind_name(TLOG_ERROR_HTTP_STATUS), "http_status");
    assert_int_equal(tlog_error_kind_parse("gremlins"), TLOG_ERROR_OTHER);
    assert_int_equal(tlog_error_kind_parse(NULL), TLOG_ERROR_OTHER);
}

static void test_secret_headers(void **state)
{
    (void)state;
    const char *yes[] = {"Authorization", "proxy-authorization", "API-KEY", "x-api-key",
                         "Cookie", "Set-Cookie"};
    for (size_t i = 0; i < 6; i++)
        assert_true(tlog_header_is_secret(yes[i], strlen(yes[i])));
    assert_false(tlog_header_is_secret("Content-Type", 12));
    assert_false(tlog_header_is_secret("Authorizatio", 12));
    assert_false(tlog_header_is_secret("Authorization-X", 15));
    /* length, not NUL, bounds the name */
    assert_true(tlog_header_is_secret("cookies", 6));
}

static void test_derive_tokens(void **state)
{
    (void)state;
    struct tlog_exchange x;
    tlog_exchange_init(&x);
    /* nothing seen: unknown */
    tlog_exchange_derive_tokens(&x);
    assert_int_equal(x.tokens_out, -1);
    assert_int_equal(x.tokens_in, -1);
    assert_int_equal(x.tokens_source, TLOG_TOKENS_NONE);
    /* content events without counts: their number (role-only event not counted) */
    tlog_exchange_add_event(&x, 10, 0, 0);
    tlog_exchange_add_event(&x, 20, 0, 1);
    tlog_exchange_add_event(&x, 30, 0, 1);
    tlog_exchange_add_event(&x, 40, 0, 1);
    tlog_exchange_derive_tokens(&x);
    assert_int_equal(x.tokens_out, 3);
    assert_int_equal(x.tokens_source, TLOG_TOKENS_EVENTS);
    /* one content event without a count: still the number of events */
    x.resp.events[1].tokens = 5;
    x.resp.events[2].tokens = 2;
    tlog_exchange_derive_tokens(&x);
    assert_int_equal(x.tokens_out, 3);
    /* every content event counted: the sum (the non-content event's count is ignored) */
    x.resp.events[3].tokens = 4;
    x.resp.events[0].tokens = 100;
    tlog_exchange_derive_tokens(&x);
    assert_int_equal(x.tokens_out, 11);
    /* usage wins */
    x.usage.present = 1;
    x.usage.completion_tokens = 9;
    x.usage.prompt_tokens = 21;
    tlog_exchange_derive_tokens(&x);
    assert_int_equal(x.tokens_out, 9);
    assert_int_equal(x.tokens_in, 21);
    assert_int_equal(x.tokens_source, TLOG_TOKENS_USAGE);
    /* usage without completion_tokens falls back to events; prompt still used */
    x.usage.completion_tokens = -1;
    tlog_exchange_derive_tokens(&x);
    assert_int_equal(x.tokens_out, 11);
    assert_int_equal(x.tokens_in, 21);
    assert_int_equal(x.tokens_source, TLOG_TOKENS_EVENTS);
    tlog_exchange_free(&x);
    tlog_exchange_free(NULL);
}

/* A pinned output length (max_tokens + ignore_eos) is exact only when the response ended at
 * the cap ("length"), said no usage and nothing failed. */
static void test_apply_pinned(void **state)
{
    (void)state;
    struct tlog_exchange x;
    tlog_exchange_init(&x);
    for (int i = 0; i < 16; i++) /* 16 events of 4 tokens each, counted as 16 */
        tlog_exchange_add_event(&x, 100 * i, 0, 1);
    tlog_exchange_derive_tokens(&x);
    assert_int_equal(x.tokens_out, 16);
    assert_int_equal(tlog_exchange_apply_pinned(&x, 64), 0); /* no finish reason */
    x.resp.finish_reason = strdup("stop");
    assert_int_equal(tlog_exchange_apply_pinned(&x, 64), 0);
    free(x.resp.finish_reason);
    x.resp.finish_reason = strdup("length");
    assert_int_equal(tlog_exchange_apply_pinned(&x, 0), 0);  /* nothing pinned */
    assert_int_equal(tlog_exchange_apply_pinned(&x, -1), 0);
    assert_int_equal(tlog_exchange_apply_pinned(&x, 15), 0); /* more events than the cap */
    assert_int_equal(x.tokens_out, 16);
    assert_int_equal(x.tokens_source, TLOG_TOKENS_EVENTS);
    tlog_exchange_set_error(&x, TLOG_ERROR_RESET, "cut");
    assert_int_equal(tlog_exchange_apply_pinned(&x, 64), 0);
    tlog_exchange_set_error(&x, TLOG_ERROR_NONE, NULL);
    assert_int_equal(tlog_exchange_apply_pinned(&x, 64), 1);
    assert_int_equal(x.tokens_out, 64);
    assert_int_equal(x.tokens_source, TLOG_TOKENS_MAX_TOKENS);
    assert_string_equal(tlog_tokens_source_name(x.tokens_source), "max_tokens");
    /* usage is the server's own count: it wins */
    x.usage.present = 1;
    x.usage.completion_tokens = 63;
    tlog_exchange_derive_tokens(&x);
    assert_int_equal(tlog_exchange_apply_pinned(&x, 64), 0);
    assert_int_equal(x.tokens_out, 63);
    assert_int_equal(x.tokens_source, TLOG_TOKENS_USAGE);
    /* usage without completion_tokens says nothing about the output */
    x.usage.completion_tokens = -1;
    tlog_exchange_derive_tokens(&x);
    assert_int_equal(tlog_exchange_apply_pinned(&x, 64), 1);
    assert_int_equal(x.tokens_out, 64);
    tlog_exchange_free(&x);
}

/* tlog_reader_body hands back each exchange's request body exactly as the line holds it. */
static void test_reader_body(void **state)
{
    (void)state;
    static const char log[] =
        "{\"type\":\"header\",\"schema\":1}\n"
        "{\"type\": \"exchange\", \"id\": \"a\", \"start_us\": 5,"
        " \"request\": {\"method\": \"POST\", \"body\": {\"n\": 1.0, \"s\": \"\\u00e9\"} ,"
        " \"path\": \"/v1/x\"}}\r\n"
        "\n"
        "{\"type\":\"exchange\",\"id\":\"b\",\"request\":{\"body\":null}}\n"
        "{\"type\":\"exchange\",\"id\":\"c\",\"id\":\"d\",\"request\":{\"body\":[1 ]}}\n"
        "{\"type\":\"exchange\",\"id\":\"e\",\"request\":{\"body\":\"x\\ty\"}}";
    char err[256];
    struct tlog_reader_opts ro = {0};
    struct tlog_reader *r = tlog_reader_open_mem(log, sizeof log - 1, &ro, err, sizeof err);
    assert_non_null(r);
    size_t len = 99;
    assert_null(tlog_reader_body(r, &len));
    assert_int_equal(len, 0);
    struct tlog_record rec;
    tlog_record_init(&rec);
    assert_int_equal(tlog_read(r, &rec), 1);
    assert_int_equal(rec.type, TLOG_REC_HEADER);
    assert_null(tlog_reader_body(r, &len));
    assert_int_equal(tlog_read(r, &rec), 1);
    const char *b = tlog_reader_body(r, &len);
    assert_int_equal(len, 25);
    assert_memory_equal(b, "{\"n\": 1.0, \"s\": \"\\u00e9\"}", 25);
    assert_true(cJSON_IsObject(rec.x.req.body));
    assert_int_equal(tlog_read(r, &rec), 1); /* body null */
    assert_string_equal(rec.x.id, "b");
    assert_null(tlog_reader_body(r, &len));
    assert_int_equal(len, 0);
    assert_int_equal(tlog_read(r, &rec), 1); /* duplicate key: parsed in full, body as a tree */
    assert_string_equal(rec.x.id, "c");
    assert_true(cJSON_IsArray(rec.x.req.body));
    assert_null(tlog_reader_body(r, &len));
    assert_int_equal(tlog_read(r, &rec), 1); /* a string body: its JSON bytes, quotes included */
    b = tlog_reader_body(r, &len);
    assert_int_equal(len, 6);
    assert_memory_equal(b, "\"x\\ty\"", 6);
    assert_int_equal(tlog_read(r, &rec), 0);
    assert_null(tlog_reader_body(r, &len));
    tlog_record_free(&rec);
    tlog_reader_close(r);
}

static void test_model_growth(void **state)
{
    (void)state;
    struct tlog_exchange x;
    tlog_exchange_init(&x);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(tlog_exchange_add_event(&x, i, i % 3, i % 2), 0);
        assert_int_equal(tlog_exchange_append_text(&x, "ab", 2), 0);
        assert_int_equal(tlog_exchange_add_header(&x, i % 2, "N", 1, "v", 1), 0);
    }
    assert_int_equal(x.resp.n_events, 1000);
    assert_int_equal(x.resp.events[999].offset_us, 999);
    assert_int_equal(x.resp.events[999].is_content, 1);
    assert_int_equal(x.resp.text_len, 2000);
    assert_int_equal(strlen(x.resp.text), 2000);
    assert_int_equal(x.req.n_headers, 500);
    assert_int_equal(x.resp.n_headers, 500);
    /* an exact-size string from elsewhere can still be appended to */
    free(x.resp.text);
    x.resp.text = strdup("xyz");
    x.resp.text_len = 3;
    for (int i = 0; i < 100; i++)
        assert_int_equal(tlog_exchange_append_text(&x, "0123456789", 10), 0);
    assert_int_equal(x.resp.text_len, 1003);
    assert_memory_equal(x.resp.text + 993, "0123456789", 11);
    tlog_exchange_free(&x);
    assert_null(x.resp.text);
    assert_int_equal(x.stream, -1);
}

/* An endless or hostile stream cannot grow one exchange without bound: text and events stop at
 * their caps, the excess is counted, and the counts survive a write/read round trip. */
static void test_model_caps(void **state)
{
    (void)state;
    struct tlog_exchange x;
    tlog_exchange_init(&x);
    x.id = strdup("big");
    x.start_us = 1;
    size_t chunk = 1 << 20;
    char *mb = malloc(chunk);
    assert_non_null(mb);
    memset(mb, 'a', chunk);
    for (size_t i = 0; i < TLOG_MAX_TEXT / chunk; i++)
        assert_int_equal(tlog_exchange_append_text(&x, mb, chunk), 0);
    assert_int_equal(x.resp.text_len, TLOG_MAX_TEXT);
    assert_int_equal(tlog_exchange_append_text(&x, "0123456789", 10), 0);
    assert_int_equal(tlog_exchange_append_text(&x, "xyz", 3), 0);
    assert_int_equal(x.resp.text_len, TLOG_MAX_TEXT);
    assert_int_equal(x.resp.dropped_text_bytes, 13);
    for (size_t i = 0; i < TLOG_MAX_EVENTS + 5; i++)
        assert_int_equal(tlog_exchange_add_event(&x, (int64_t)i, 1, 1), 0);
    assert_int_equal(x.resp.n_events, TLOG_MAX_EVENTS);
    assert_int_equal(x.resp.dropped_events, 5);
    free(mb);

    struct buf line;
    buf_init(&line, 256u << 20);
    assert_int_equal(tlog_exchange_to_line(&x, NULL, &line), 0);
    assert_non_null(strstr(line.p, "\"dropped_text_bytes\":13,\"dropped_events\":5}"));
    assert_true(line.len < (64u << 20)); /* still fits the reader's default line cap */
    struct buf log;
    buf_init(&log, 256u << 20);
    assert_int_equal(buf_append_str(&log, "{\"type\":\"header\",\"schema\":1}\n"), 0);
    assert_int_equal(buf_append(&log, line.p, line.len), 0);
    assert_int_equal(buf_append_char(&log, '\n'), 0);
    char err[256];
    struct tlog_reader *r = tlog_reader_open_mem(log.p, log.len, NULL, err, sizeof err);
    assert_non_null(r);
    struct tlog_record rec;
    tlog_record_init(&rec);
    assert_int_equal(tlog_read(r, &rec), 1);
    assert_int_equal(tlog_read(r, &rec), 1);
    assert_int_equal(rec.type, TLOG_REC_EXCHANGE);
    assert_int_equal(rec.x.resp.text_len, TLOG_MAX_TEXT);
    assert_int_equal(rec.x.resp.n_events, TLOG_MAX_EVENTS);
    assert_int_equal(rec.x.resp.dropped_text_bytes, 13);
    assert_int_equal(rec.x.resp.dropped_events, 5);
    tlog_record_free(&rec);
    tlog_reader_close(r);
    buf_free(&log);
    buf_free(&line);
    tlog_exchange_free(&x);
}

/* ---- JSON ------------------------------------------------------------------------------- */

static void test_line_exact(void **state)
{
    (void)state;
    struct tlog_exchange x;
    tlog_exchange_init(&x);
    x.id = strdup("a");
    x.start_us = 1764150000123456LL;
    x.req.method = strdup("POST");
    x.req.path = strdup("/v1/completions");
    tlog_exchange_add_event(&x, 10, 0, 1);
    tlog_exchange_add_event(&x, 25, 2, 0);
    x.resp.status = 200;
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(buf_append_str(&b, "prefix:"), 0);
    assert_int_equal(tlog_exchange_to_line(&x, NULL, &b), 0);
    assert_string_equal(
        b.p,
        "prefix:{\"type\":\"exchange\",\"id\":\"a\",\"start_us\":1764150000123456,\"conn\":null,"
        "\"dialect\":null,\"model\":null,\"stream\":null,\"request\":{\"method\":\"POST\","
        "\"path\":\"/v1/completions\",\"host\":null,\"headers\":[],\"body\":null,"
        "\"body_bytes\":null,\"body_sha256\":null},\"response\":{\"status\":200,\"headers\":[],"
        "\"ttfb_us\":null,\"end_us\":null,\"events\":[[10,0,1],[25,2,0]],\"text\":null,"
        "\"finish_reason\":null,\"body_bytes\":null},\"usage\":null,\"tokens_in\":null,"
        "\"tokens_out\":null,\"tokens_source\":\"none\",\"error\":null}");
    /* a full buffer leaves the earlier contents untouched */
    struct buf small;
    buf_init(&small, 40);
    assert_int_equal(buf_append_str(&small, "keep"), 0);
    assert_int_equal(tlog_exchange_to_line(&x, NULL, &small), TLOG_ERR_LIMIT);
    assert_string_equal(small.p, "keep");
    buf_free(&small);
    buf_free(&b);
    tlog_exchange_free(&x);
}

static void test_json_roundtrip_memory(void **state)
{
    (void)state;
    struct tlog_exchange x, y;
    make_full(&x, 4);
    struct tlog_write_opts wo = {1, 0};
    cJSON *j = tlog_exchange_to_json(&x, &wo);
    assert_non_null(j);
    char err[128];
    assert_int_equal(tlog_exchange_from_json(j, &y, err, sizeof err), 0);
    assert_exchange_equal(&x, &y);
    cJSON_Delete(j);
    tlog_exchange_free(&y);
    tlog_exchange_free(&x);
}

static void test_bad_types(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        const char *msg;
    } cases[] = {
        {"{\"id\":7}", "bad \"id\": expected string"},
        {"{\"start_us\":\"x\"}", "bad \"start_us\": expected integer"},
        {"{\"start_us\":1.5}", "bad \"start_us\": expected integer"},
        {"{\"start_us\":1e300}", "bad \"start_us\": expected integer"},
        {"{\"request\":[]}", "bad \"request\": expected object"},
        {"{\"response\":{\"status\":\"200\"}}", "bad \"response.status\": expected integer"},
        {"{\"response\":{\"status\":1000}}", "bad \"response.status\": expected integer 0..999"},
        {"{\"response\":{\"events\":5}}", "bad \"response.events\": expected array"},
        {"{\"response\":{\"events\":[[1,2]]}}",
         "bad \"response.events\": expected array of [offset_us, tokens, is_content]"},
        {"{\"response\":{\"events\":[[1,2,3]]}}",
         "bad \"response.events\": expected array of [offset_us, tokens, is_content]"},
        {"{\"response\":{\"events\":[[1,-2,1]]}}",
         "bad \"response.events\": expected array of [offset_us, tokens, is_content]"},
        {"{\"response\":{\"ttfb_us\":true}}", "bad \"response.ttfb_us\": expected integer"},
        {"{\"usage\":5}", "bad \"usage\": expected object"},
        {"{\"usage\":{\"completion_tokens\":\"3\"}}",
         "bad \"usage.completion_tokens\": expected integer"},
        {"{\"tokens_out\":[]}", "bad \"tokens_out\": expected integer"},
        {"{\"tokens_source\":1}", "bad \"tokens_source\": expected string"},
        {"{\"error\":\"reset\"}", "bad \"error\": expected object"},
        {"{\"error\":{\"kind\":1}}", "bad \"error.kind\": expected string"},
        {"{\"replay\":{\"stage\":\"x\"}}", "bad \"replay.stage\": expected number"},
        {"{\"replay\":{\"sched_us\":\"x\"}}", "bad \"replay.sched_us\": expected integer"},
        {"{\"replay\":{\"warmup\":\"x\"}}", "bad \"replay.warmup\": expected boolean"},
        {"[]", "bad \"record\": expected object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *j = cJSON_Parse(cases[i].json);
        assert_non_null(j);
        struct tlog_exchange x;
        char err[128];
        assert_int_equal(tlog_exchange_from_json(j, &x, err, sizeof err), TLOG_ERR_FORMAT);
        assert_string_equal(err, cases[i].msg);
        assert_null(x.id); /* freed and re-initialised on error */
        cJSON_Delete(j);
    }
    /* a wrong type in a key the analysis does not use costs that key, not the record */
    static const struct {
        const char *json;
        const char *msg;
    } soft[] = {
        {"{\"stream\":1}", "bad \"stream\": expected boolean"},
        {"{\"request\":{\"method\":1}}", "bad \"request.method\": expected string"},
        {"{\"request\":{\"headers\":[[\"a\"]]}}",
         "bad \"request.headers\": expected array of [name, value] strings"},
        {"{\"request\":{\"headers\":{\"a\":\"1\",\"b\":2}}}",
         "bad \"request.headers\": expected array of [name, value] or an object of strings"},
        {"{\"request\":{\"headers\":\"x\"}}", "bad \"request.headers\": expected array"},
        {"{\"request\":{\"host\":5}}", "bad \"request.host\": expected string"},
        {"{\"response\":{\"text\":[]}}", "bad \"response.text\": expected string"},
        {"{\"response\":{\"finish_reason\":{}}}",
         "bad \"response.finish_reason\": expected string"},
        {"{\"response\":{\"headers\":7}}", "bad \"response.headers\": expected array"},
        {"{\"model\":[\"m\"]}", "bad \"model\": expected string"},
        {"{\"session\":\"s1\"}", "bad \"session\": expected object"},
        {"{\"error\":{\"kind\":\"reset\",\"message\":5}}",
         "bad \"error.message\": expected string"},
        {"{\"replay\":{\"worker\":\"w1\"}}", "bad \"replay.worker\": expected integer"},
        {"{\"usage\":{\"cached_tokens\":\"3\"}}", "bad \"usage.cached_tokens\": expected integer"},
    };
    for (size_t i = 0; i < sizeof soft / sizeof soft[0]; i++) {
        cJSON *j = cJSON_Parse(soft[i].json);
        assert_non_null(j);
        struct tlog_exchange x;
        char err[128];
        struct tlog_skips sk = {0};
        assert_int_equal(tlog_exchange_from_json_ex(j, &x, err, sizeof err, &sk), 0);
        assert_int_equal(sk.n, 1);
        assert_string_equal(sk.first, soft[i].msg);
        assert_string_equal(err, "");
        assert_int_equal(x.req.n_headers, 0); /* a bad headers value leaves none behind */
        assert_null(x.req.host);
        assert_null(x.model);
        assert_int_equal(x.stream, -1);
        tlog_exchange_free(&x);
        cJSON_Delete(j);
    }
    /* accepted variants: booleans for is_content, error kinds unknown to this reader */
    cJSON *j = cJSON_Parse("{\"response\":{\"events\":[[1,0,true],[2,3,false]]},"
                           "\"error\":{\"kind\":\"meteor\"},\"stream\":false}");
    struct tlog_exchange x;
    char err[128];
    assert_int_equal(tlog_exchange_from_json(j, &x, err, sizeof err), 0);
    assert_int_equal(x.resp.n_events, 2);
    assert_int_equal(x.resp.events[0].is_content, 1);
    assert_int_equal(x.resp.events[1].tokens, 3);
    assert_int_equal(x.resp.events[1].is_content, 0);
    assert_int_equal(x.error_kind, TLOG_ERROR_OTHER);
    assert_null(x.error_message);
    assert_int_equal(x.stream, 0);
    assert_int_equal(x.start_us, 0);
    assert_int_equal(x.resp.ttfb_us, -1);
    tlog_exchange_free(&x);
    cJSON_Delete(j);
}

/* ---- writer + reader -------------------------------------------------------------------- */

static void test_roundtrip_file(void **state)
{
    (void)state;
    char path[300];
    tmp_path(path, sizeof path, "rt.jsonl.gz");
    struct tlog_write_opts wo = {1, 0}; /* no_redact: every value must come back */
    write_log(path, 5, 2, &wo, 1);

    char err[256];
    struct tlog_reader *r = tlog_reader_open(path, NULL, err, sizeof err);
    assert_non_null(r);
    assert_string_equal(tlog_reader_path(r), path);
    struct tlog_record rec;
    tlog_record_init(&rec);
    assert_int_equal(tlog_read(r, &rec), 1);
    assert_int_equal(rec.type, TLOG_REC_HEADER);
    assert_int_equal(rec.line_no, 1);
    assert_int_equal(rec.header.schema, 1);
    assert_string_equal(rec.header.tool, "test_tlog");
    assert_string_equal(rec.header.version, "0.1.0");
    assert_int_equal(rec.header.start_us, 1764150000000000LL);
    assert_string_equal(cJSON_GetArrayItem(rec.header.command, 1)->valuestring, "-o");
    assert_string_equal(cJSON_GetObjectItem(rec.header.source, "kind")->valuestring, "synthetic");
    assert_true(cJSON_IsObject(rec.header.options));
    for (int i = 0; i < 5; i++) {
        assert_int_equal(tlog_read(r, &rec), 1);
        assert_int_equal(rec.type, TLOG_REC_EXCHANGE);
        assert_int_equal(rec.line_no, i + 2);
        struct tlog_exchange want;
        make_full(&want, i);
        if (i % 2)
            tlog_exchange_set_error(&want, TLOG_ERROR_NONE, NULL);
        assert_exchange_equal(&want, &rec.x);
        tlog_exchange_free(&want);
    }
    assert_int_equal(tlog_read(r, &rec), 1);
    assert_int_equal(rec.type, TLOG_REC_TRAILER);
    assert_int_equal(rec.trailer.records, 5);
    assert_int_equal(rec.trailer.errors, 3);
    assert_true(rec.trailer.end_us > 1764150000000000LL);
    assert_int_equal(cJSON_GetObjectItem(rec.trailer.stats, "sent")->valueint, 5);
    assert_int_equal(tlog_read(r, &rec), 0);
    assert_int_equal(tlog_read(r, &rec), 0);
    struct tlog_reader_status st;
    tlog_reader_get_status(r, &st);
    assert_int_equal(st.saw_header, 1);
    assert_int_equal(st.saw_trailer, 1);
    assert_int_equal(st.records, 5);
    assert_int_equal(st.truncated, 0);
    assert_int_equal(st.schema, 1);
    char d[128];
    tlog_reader_describe(r, d, sizeof d);
    assert_string_equal(d, "");
    tlog_record_free(&rec);
    tlog_reader_close(r);
}

static void test_redaction(void **state)
{
    (void)state;
    char path[300];
    tmp_path(path, sizeof path, "red.jsonl.gz");
    for (int optout = 0; optout < 2; optout++) {
        struct tlog_write_opts wo = {optout, 0};
        write_log(path, 1, 10, &wo, 1);
        char err[256];
        struct tlog_reader *r = tlog_reader_open(path, NULL, err, sizeof err);
        assert_non_null(r);
        struct tlog_record rec;
        tlog_record_init(&rec);
        assert_int_equal(tlog_read(r, &rec), 1);
        assert_int_equal(tlog_read(r, &rec), 1);
        assert_int_equal(rec.type, TLOG_REC_EXCHANGE);
        assert_string_equal(rec.x.req.headers[1].name, "Authorization");
        assert_string_equal(rec.x.req.headers[1].value, optout ? "Bearer sk-123" : "<redacted>");
        assert_string_equal(rec.x.req.headers[0].value, "application/json");
        assert_string_equal(rec.x.resp.headers[0].name, "set-cookie");
        assert_string_equal(rec.x.resp.headers[0].value, optout ? "s=1" : "<redacted>");
        tlog_record_free(&rec);
        tlog_reader_close(r);
        /* and the secret is nowhere in the decompressed bytes */
        char cmd[400];
        snprintf(cmd, sizeof cmd, "zcat '%s' | grep -q 'sk-123'", path);
        assert_int_equal(system(cmd) == 0, optout);
    }
}

static void test_no_bodies_and_skip(void **state)
{
    (void)state;
    char path[300];
    tmp_path(path, sizeof path, "nb.jsonl.gz");
    struct tlog_write_opts wo = {0, 1};
    write_log(path, 2, 10, &wo, 1);
    char err[256];
    struct tlog_reader *r = tlog_reader_open(path, NULL, err, sizeof err);
    struct tlog_record rec;
    tlog_record_init(&rec);
    assert_int_equal(tlog_read(r, &rec), 1);
    assert_int_equal(tlog_read(r, &rec), 1);
    assert_null(rec.x.req.body);
    assert_null(rec.x.resp.text);
    assert_int_equal(rec.x.req.body_bytes, 123);
    assert_int_equal(rec.x.resp.body_bytes, 4567);
    assert_int_equal(rec.x.resp.n_events, 3);
    tlog_record_free(&rec);
    tlog_reader_close(r);

    /* skip_bodies on a log with bodies: same record minus body and text */
    write_log(path, 3, 10, NULL, 1);
    struct tlog_reader_opts ro = {0};
    ro.skip_bodies = 1;
    r = tlog_reader_open(path, &ro, err, sizeof err);
    assert_int_equal(tlog_read(r, &rec), 1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tlog_read(r, &rec), 1);
        struct tlog_exchange want;
        make_full(&want, i);
        if (i % 2)
            tlog_exchange_set_error(&want, TLOG_ERROR_NONE, NULL);
        cJSON_Delete(want.req.body);
        want.req.body = NULL;
        free(want.resp.text);
        want.resp.text = NULL;
        want.resp.text_len = 0;
        free(want.req.headers[1].value);
        want.req.headers[1].value = strdup("<redacted>");
        free(want.resp.headers[0].value);
        want.resp.headers[0].value = strdup("<redacted>");
        assert_exchange_equal(&want, &rec.x);
        tlog_exchange_free(&want);
    }
    tlog_record_free(&rec);
    tlog_reader_close(r);
}

static void test_skip_bodies_tricky(void **state)
{
    (void)state;
    /* keys named body/text elsewhere, escapes, braces inside strings, nested bodies */
    const char *log =
        "{\"type\":\"exchange\",\"id\":\"q\\\"}{\",\"text\":\"top\",\"request\":{\"path\":\"/b\","
        "\"body\":{\"text\":\"x\\\\\",\"body\":[1,{\"a\":\"}]\"}]},\"body_bytes\":9},"
        "\"response\":{\"body\":\"keep?\",\"text\":\"a\\\\\\\"b}\",\"events\":[[1,1,1]],"
        "\"status\":200}}\n"
        "{\"type\":\"exchange\",\"request\":{\"body\":\"s\"},\"response\":{\"text\":\"\"}}\n";
    struct tlog_reader_opts ro = {0};
    ro.skip_bodies = 1;
    ro.keep_extra = 1;
    char err[128];
    struct tlog_reader *r = tlog_reader_open_mem(log, strlen(log), &ro, err, sizeof err);
    struct tlog_record rec;
    tlog_record_init(&rec);
    assert_int_equal(tlog_read(r, &rec), 1);
    assert_string_equal(rec.x.id, "q\"}{");
    assert_null(rec.x.req.body);
    assert_null(rec.x.resp.text);
    assert_string_equal(rec.x.req.path, "/b");
    assert_int_equal(rec.x.req.body_bytes, 9);
    assert_int_equal(rec.x.resp.status, 200);
    assert_int_equal(rec.x.resp.n_events, 1);
    /* a top-level "text" is not response.text: kept as an extra key */
    assert_string_equal(cJSON_GetObjectItem(rec.x.extra, "text")->valuestring, "top");
    /* short values are left in place but the record is still read */
    assert_int_equal(tlog_read(r, &rec), 1);
    assert_int_equal(tlog_read(r, &rec), 0);
    tlog_record_free(&rec);
    tlog_reader_close(r);
}

/* Offsets of the gzip members of a file, checking each holds whole lines. */
static size_t scan_members(const unsigned char *p, size_t n, size_t *offs, size_t max)
{
    size_t count = 0, pos = 0;
    unsigned char out[65536];
    while (pos < n) {
        z_stream z;
        memset(&z, 0, sizeof z);
        assert_int_equal(inflateInit2(&z, 31), Z_OK);
        z.next_in = (Bytef *)(p + pos);
        z.avail_in = (uInt)(n - pos);
        int zr;
        unsigned char last = 0;
        do {
            z.next_out = out;
            z.avail_out = sizeof out;
            zr = inflate(&z, Z_NO_FLUSH);
            assert_true(zr == Z_OK || zr == Z_STREAM_END);
            if (z.avail_out < sizeof out)
                last = out[sizeof out - z.avail_out - 1];
        } while (zr != Z_STREAM_END);
        assert_int_equal(last, '\n'); /* a member never ends mid-line */
        assert_true(count < max);
        offs[count++] = pos;
        pos = n - z.avail_in;
        inflateEnd(&z);
    }
    return count;
}

static void test_member_boundaries(void **state)
{
    (void)state;
    char path[300];
    tmp_path(path, sizeof path, "mem.jsonl.gz");
    /* header member, 35 records in members of 10, the last with the trailer */
    write_log(path, 35, 10, NULL, 1);
    size_t n;
    unsigned char *p = slurp(path, &n);
    size_t offs[64];
    assert_int_equal(scan_members(p, n, offs, 64), 5);
    free(p);

    /* time: a member older than the interval is closed by tick (and not before) */
    char err[256];
    struct tlog_writer_opts o = {0};
    o.member_interval_us = 1000000;
    struct tlog_writer *w = tlog_writer_open(path, &o, err, sizeof err);
    write_header(w);
    uint64_t after_header = tlog_writer_bytes(w);
    assert_true(after_header > 0); /* the header member is out at once */
    struct tlog_exchange x;
    make_full(&x, 0);
    assert_int_equal(tlog_writer_exchange(w, &x), 0);
    assert_int_equal(tlog_writer_tick(w, clock_mono_us()), 0);
    assert_int_equal(tlog_writer_bytes(w), after_header);
    assert_int_equal(tlog_writer_tick(w, clock_mono_us() + 1000001), 0);
    uint64_t after_tick = tlog_writer_bytes(w);
    assert_true(after_tick > after_header);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal((uint64_t)sb.st_size, after_tick); /* in the kernel, not in a buffer */
    /* nothing open: tick and flush are no-ops */
    assert_int_equal(tlog_writer_tick(w, clock_mono_us() + 5000000), 0);
    assert_int_equal(tlog_writer_flush(w), 0);
    assert_int_equal(tlog_writer_bytes(w), after_tick);
    assert_int_equal(tlog_writer_exchange(w, &x), 0);
    assert_int_equal(tlog_writer_flush(w), 0);
    assert_true(tlog_writer_bytes(w) > after_tick);
    tlog_exchange_free(&x);
    assert_int_equal(tlog_writer_close(w, NULL), 0);
    p = slurp(path, &n);
    assert_int_equal(scan_members(p, n, offs, 64), 4); /* header, tick, flush, trailer */
    free(p);
}

static void test_writer_misuse(void **state)
{
    (void)state;
    char path[300], err[256];
    tmp_path(path, sizeof path, "mis.jsonl.gz");
    struct tlog_writer *w = tlog_writer_open(path, NULL, err, sizeof err);
    assert_non_null(w);
    struct tlog_exchange x;
    make_full(&x, 0);
    assert_int_equal(tlog_writer_exchange(w, &x), TLOG_ERR_USAGE); /* before the header */
    write_header(w);
    struct tlog_header h = {0};
    assert_int_equal(tlog_writer_header(w, &h), TLOG_ERR_USAGE); /* twice */
    assert_int_equal(tlog_writer_line(w, "{}\n{}", 5, 1, 0), TLOG_ERR_USAGE);
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(tlog_exchange_to_line(&x, NULL, &b), 0);
    assert_int_equal(tlog_writer_line(w, b.p, b.len, 1, 1), 0);
    assert_int_equal(tlog_writer_records(w), 1);
    buf_free(&b);
    tlog_exchange_free(&x);
    assert_int_equal(tlog_writer_close(w, NULL), 0);

    assert_null(tlog_writer_open("/nonexistent-dir/x.gz", NULL, err, sizeof err));
    assert_string_equal(err, "/nonexistent-dir/x.gz: No such file or directory");
    assert_null(tlog_reader_open("/nonexistent-dir/x.gz", NULL, err, sizeof err));
    assert_string_equal(err, "/nonexistent-dir/x.gz: No such file or directory");
}

static void test_no_trailer(void **state)
{
    (void)state;
    char path[300], err[256];
    tmp_path(path, sizeof path, "abort.jsonl.gz");
    write_log(path, 3, 2, NULL, 0);
    struct tlog_reader *r = tlog_reader_open(path, NULL, err, sizeof err);
    struct read_result res = read_all(r);
    assert_int_equal(res.headers, 1);
    assert_int_equal(res.exchanges, 3);
    assert_int_equal(res.trailers, 0);
    assert_int_equal(res.errors, 0);
    assert_int_equal(res.st.truncated, 0);
    assert_string_equal(res.describe, "not closed cleanly: 3 records recovered");
    tlog_reader_close(r);
}

/* The records of a log as serialized lines, the reference for damaged copies. */
static int reference_lines(const void *p, size_t n, int skip, char **lines, int max)
{
    char err[128];
    struct tlog_reader_opts ro = {0};
    ro.skip_bodies = skip;
    struct tlog_reader *r = tlog_reader_open_mem(p, n, &ro, err, sizeof err);
    assert_non_null(r);
    struct tlog_record rec;
    tlog_record_init(&rec);
    int k = 0;
    int rc;
    while ((rc = tlog_read(r, &rec)) == 1) {
        assert_true(k < max);
        struct buf b;
        buf_init(&b, 1 << 20);
        if (rec.type == TLOG_REC_EXCHANGE)
            assert_int_equal(tlog_exchange_to_line(&rec.x, NULL, &b), 0);
        else
            buf_printf(&b, "type %d", (int)rec.type);
        lines[k++] = buf_steal(&b);
    }
    assert_int_equal(rc, 0);
    tlog_record_free(&rec);
    tlog_reader_close(r);
    return k;
}

static void test_truncated_every_offset(void **state)
{
    (void)state;
    char path[300];
    tmp_path(path, sizeof path, "trunc.jsonl.gz");
    write_log(path, 5, 2, NULL, 1);
    size_t n;
    unsigned char *p = slurp(path, &n);
    size_t offs[16];
    size_t nm = scan_members(p, n, offs, 16);
    assert_int_equal(nm, 4); /* header | 1,2 | 3,4 | 5,trailer */
    for (int skip = 0; skip < 2; skip++) {
        char *ref[16];
        int nref = reference_lines(p, n, skip, ref, 16);
        assert_int_equal(nref, 7);
        for (size_t cut = 0; cut < n; cut++) {
            char *got[16];
            int ngot = reference_lines(p, cut, skip, got, 16);
            /* a prefix, exactly equal */
            assert_true(ngot <= nref);
            for (int i = 0; i < ngot; i++) {
                assert_string_equal(got[i], ref[i]);
                free(got[i]);
            }
            char err[128];
            struct tlog_reader *r = tlog_reader_open_mem(p, cut, NULL, err, sizeof err);
            struct read_result res = read_all(r);
            tlog_reader_close(r);
            assert_int_equal(res.errors, 0);
            if (cut == 0) {
                assert_int_equal(res.st.truncated, 0);
                continue;
            }
            int boundary = 0;
            for (size_t k = 0; k < nm; k++)
                boundary |= offs[k] == cut;
            if (boundary) {
                /* whole members and no trailer: clean so far, but not closed */
                assert_int_equal(res.st.truncated, 0);
                assert_non_null(strstr(res.describe, "not closed cleanly: "));
                assert_null(strstr(res.describe, "torn"));
                continue;
            }
            /* every other cut is reported with the member where it happened */
            assert_int_equal(res.st.truncated, 1);
            size_t m = 0;
            while (m + 1 < nm && offs[m + 1] <= cut - 1)
                m++;
            assert_int_equal(res.st.stop_offset, offs[m]);
            assert_int_equal(res.st.skipped_bytes, cut - offs[m]);
            assert_int_equal(res.st.saw_trailer, 0 + (ngot == 7));
            /* all complete members come back whole */
            int whole = m == 0 ? 0 : m == 1 ? 1 : m == 2 ? 3 : 5;
            assert_true(ngot >= whole);
            assert_non_null(strstr(res.describe, "torn tail at byte"));
        }
        for (int i = 0; i < nref; i++)
            free(ref[i]);
    }
    free(p);
}

static void test_corrupt_middle_member(void **state)
{
    (void)state;
    char path[300];
    tmp_path(path, sizeof path, "corrupt.jsonl.gz");
    write_log(path, 7, 2, NULL, 1);
    size_t n;
    unsigned char *p = slurp(path, &n);
    size_t offs[16];
    size_t nm = scan_members(p, n, offs, 16);
    assert_int_equal(nm, 5); /* header | 1,2 | 3,4 | 5,6 | 7,trailer */
    char *ref[16];
    int nref = reference_lines(p, n, 0, ref, 16);
    assert_int_equal(nref, 9);
    /* damage the deflate data, then the CRC, then the length of member 3 (records 3,4) */
    size_t where[3] = {(offs[2] + offs[3]) / 2, offs[3] - 8, offs[3] - 2};
    for (int t = 0; t < 3; t++) {
        unsigned char *q = malloc(n);
        memcpy(q, p, n);
        q[where[t]] ^= 0x55;
        char *got[16];
        int ngot = reference_lines(q, n, 0, got, 16);
        assert_int_equal(ngot, 7);
        /* header, 1, 2, then 5, 6, 7, trailer */
        int map[7] = {0, 1, 2, 5, 6, 7, 8};
        for (int i = 0; i < ngot; i++) {
            assert_string_equal(got[i], ref[map[i]]);
            free(got[i]);
        }
        char err[128];
        struct tlog_reader *r = tlog_reader_open_mem(q, n, NULL, err, sizeof err);
        struct read_result res = read_all(r);
        tlog_reader_close(r);
        assert_int_equal(res.st.truncated, 1);
        assert_int_equal(res.st.stop_offset, offs[2]);
        assert_int_equal(res.st.skipped_bytes, offs[3] - offs[2]);
        assert_int_equal(res.st.saw_trailer, 1);
        char want[160];
        snprintf(want, sizeof want,
                 "damaged: 5 records recovered, corrupt data at byte %zu (%zu bytes skipped)",
                 offs[2], offs[3] - offs[2]);
        assert_string_equal(res.describe, want);
        free(q);
    }
    /* garbage between members and after the last one */
    unsigned char *q = malloc(n + 20);
    memcpy(q, p, offs[1]);
    memcpy(q + offs[1], "GARBAGE!!", 9);
    memcpy(q + offs[1] + 9, p + offs[1], n - offs[1]);
    memcpy(q + n + 9, "\x1f\x8b\x08tail", 7);
    char err[128];
    struct tlog_reader *r = tlog_reader_open_mem(q, n + 16, NULL, err, sizeof err);
    struct read_result res = read_all(r);
    tlog_reader_close(r);
    assert_int_equal(res.exchanges, 7);
    assert_int_equal(res.trailers, 1);
    assert_int_equal(res.st.stop_offset, offs[1]);
    assert_int_equal(res.st.skipped_bytes, 9 + 7);
    free(q);
    for (int i = 0; i < nref; i++)
        free(ref[i]);
    free(p);
}

/* Metrics and stage records come back parsed when asked (aux_records), as OTHER when not;
 * a wrong type or a value out of range is one bad line naming the key. */
static void test_aux_records(void **state)
{
    (void)state;
    const char *log =
        "{\"type\":\"header\",\"schema\":1,\"tool\":\"llmtrace-replay\",\"start_us\":5}\n"
        "{\"type\":\"metrics\",\"t_us\":1000,\"name\":\"vllm:num_requests_running\","
        "\"labels\":{\"engine\":\"0\",\"model_name\":\"m\"},\"value\":7,\"kind\":\"gauge\"}\n"
        "{\"type\":\"metrics\",\"t_us\":1001,\"name\":\"x\",\"labels\":{},\"value\":null,"
        "\"value_str\":\"NaN\",\"kind\":\"gauge\"}\n"
        "{\"type\":\"metrics\",\"t_us\":1002,\"url\":\"http://127.0.0.1:1/metrics\","
        "\"error\":{\"kind\":\"scrape\",\"message\":\"connection refused\"}}\n"
        "{\"type\":\"metrics\",\"t_us\":1.5,\"name\":\"x\",\"value\":1}\n"
        "{\"type\":\"metrics\",\"t_us\":1003,\"name\":\"x\",\"labels\":{\"a\":1},\"value\":1}\n"
        "{\"type\":\"metrics\",\"t_us\":1004,\"name\":\"x\",\"value\":\"7\"}\n"
        "{\"type\":\"stage\",\"t_us\":2000,\"mode\":\"concurrency\",\"stage\":16,"
        "\"verdict\":\"failed\",\"requests\":120,\"wall_us\":3000000,\"quantile\":0.9,"
        "\"alpha\":0.05,\"min_requests\":35,\"slo\":{\"e2e_ms\":1000},\"estimates\":{\"e2e_ms\":"
        "{\"n\":120,\"point\":1250.5,\"lo\":1200,\"hi\":null}},\"goodput\":{\"share\":0.25,"
        "\"lo\":0.18,\"hi\":0.33,\"min\":null},\"deciding\":\"e2e\"}\n"
        "{\"type\":\"stage\",\"t_us\":2001,\"stage\":-4,\"verdict\":\"met\"}\n"
        "{\"type\":\"stage\",\"t_us\":2002,\"stage\":4,\"verdict\":3}\n"
        "{\"type\":\"stage\",\"t_us\":2003,\"stage\":4,\"verdict\":\"met\",\"quantile\":1.5}\n"
        "{\"type\":\"stage\",\"t_us\":2004,\"stage\":4,\"verdict\":\"met\",\"estimates\":"
        "{\"ttft_ms\":{\"lo\":\"x\"}}}\n"
        "{\"type\":\"trailer\",\"end_us\":9,\"records\":0,\"errors\":0,\"stats\":{}}\n";
    char path[300], err[256];
    tmp_path(path, sizeof path, "aux.jsonl");
    spit(path, log, strlen(log));
    struct tlog_reader_opts ro = {0};
    ro.aux_records = 1;
    struct tlog_reader *r = tlog_reader_open(path, &ro, err, sizeof err);
    assert_non_null(r);
    struct tlog_record rec;
    tlog_record_init(&rec);
    assert_int_equal(tlog_read(r, &rec), 1);
    assert_int_equal(rec.type, TLOG_REC_HEADER);
    assert_int_equal(tlog_read(r, &rec), 1);
    assert_int_equal(rec.type, TLOG_REC_METRICS);
    assert_int_equal(rec.metrics.t_us, 1000);
    assert_string_equal(rec.metrics.name, "vllm:num_requests_running");
    assert_string_equal(rec.metrics.labels, "engine=0,model_name=m");
    assert_true(rec.metrics.value == 7);
    assert_string_equal(rec.metrics.kind, "gauge");
    assert_int_equal(tlog_read(r, &rec), 1);
    assert_string_equal(rec.metrics.labels, "");
    assert_true(isnan(rec.metrics.value));
    assert_int_equal(tlog_read(r, &rec), 1);
    assert_int_equal(rec.type, TLOG_REC_METRICS);
    assert_null(rec.metrics.name);
    assert_string_equal(rec.metrics.url, "http://127.0.0.1:1/metrics");
    assert_string_equal(rec.metrics.error_message, "connection refused");
    assert_int_equal(tlog_read(r, &rec), TLOG_ERR_FORMAT);
    assert_string_equal(tlog_reader_error(r), "record 5: bad \"t_us\": expected integer");
    assert_int_equal(tlog_read(r, &rec), TLOG_ERR_FORMAT);
    assert_string_equal(tlog_reader_error(r), "record 6: bad \"labels.a\": expected string");
    assert_int_equal(tlog_read(r, &rec), TLOG_ERR_FORMAT);
    assert_string_equal(tlog_reader_error(r), "record 7: bad \"value\": expected number or null");
    assert_int_equal(tlog_read(r, &rec), 1);
    assert_int_equal(rec.type, TLOG_REC_STAGE);
    assert_string_equal(rec.stage.mode, "concurrency");
    assert_true(rec.stage.stage == 16);
    assert_int_equal(rec.stage.verdict, TLOG_VERDICT_FAILED);
    assert_int_equal(rec.stage.requests, 120);
    assert_int_equal(rec.stage.wall_us, 3000000);
    assert_int_equal(rec.stage.min_requests, 35);
    assert_true(rec.stage.quantile == 0.9);
    assert_true(rec.stage.slo_ms[2] == 1000);
    assert_true(isnan(rec.stage.slo_ms[0]));
    assert_false(rec.stage.est[0].present);
    assert_true(rec.stage.est[2].present);
    assert_int_equal(rec.stage.est[2].n, 120);
    assert_true(rec.stage.est[2].point == 1250.5);
    assert_true(rec.stage.est[2].lo == 1200);
    assert_true(isinf(rec.stage.est[2].hi) && rec.stage.est[2].hi > 0);
    assert_true(rec.stage.goodput_share == 0.25);
    assert_true(isnan(rec.stage.goodput_min));
    assert_int_equal(rec.stage.deciding, 2);
    assert_string_equal(tlog_stage_metric_name(rec.stage.deciding), "e2e");
    assert_int_equal(tlog_read(r, &rec), TLOG_ERR_FORMAT);
    assert_string_equal(tlog_reader_error(r),
                        "record 9: bad \"stage\": expected a positive number");
    assert_int_equal(tlog_read(r, &rec), TLOG_ERR_FORMAT);
    assert_string_equal(tlog_reader_error(r), "record 10: bad \"verdict\": expected string");
    assert_int_equal(tlog_read(r, &rec), TLOG_ERR_FORMAT);
    assert_string_equal(tlog_reader_error(r),
                        "record 11: bad \"quantile\": expected a number between 0 and 1");
    assert_int_equal(tlog_read(r, &rec), TLOG_ERR_FORMAT);
    assert_string_equal(tlog_reader_error(r),
                        "record 12: bad \"estimates.ttft_ms.lo\": expected number or null");
    assert_int_equal(tlog_read(r, &rec), 1);
    assert_int_equal(rec.type, TLOG_REC_TRAILER);
    assert_int_equal(tlog_read(r, &rec), 0);
    tlog_record_free(&rec);
    tlog_reader_close(r);
    /* without aux_records they are records of another type, skipped by exchange readers */
    ro.aux_records = 0;
    r = tlog_reader_open(path, &ro, err, sizeof err);
    assert_non_null(r);
    int other = 0, bad = 0, rc;
    while ((rc = tlog_read(r, &rec)) != 0) {
        if (rc < 0)
            bad++;
        else if (rec.type == TLOG_REC_OTHER)
            other++;
    }
    assert_int_equal(other, 11);
    assert_int_equal(bad, 0);
    tlog_record_free(&rec);
    tlog_reader_close(r);
}

static void test_plain_jsonl_and_errors(void **state)
{
    (void)state;
    const char *log =
        "{\"type\":\"header\",\"schema\":1,\"tool\":\"hand\",\"start_us\":5}\r\n"
        "\n"
        "{\"type\":\"exchange\",\"id\":\"x\",\"response\":{\"events\":5}}\n"
        "   \n"
        "{\"type\":\"exchange\",\"id\":7}\n"
        "not json\n"
        "{\"type\":3}\n"
        "[1,2]\n"
        "{\"type\":\"future-kind\",\"a\":1}\n"
        "{\"id\":\"ok\",\"future\":{\"k\":[1]},\"start_us\":99}\n"
        "{\"type\":\"exchange\",\"id\":\"last\"}";
    char path[300], err[256];
    tmp_path(path, sizeof path, "plain.jsonl");
    spit(path, log, strlen(log));
    struct tlog_reader_opts ro = {0};
    ro.keep_extra = 1;
    struct tlog_reader *r = tlog_reader_open(path, &ro, err, sizeof err);
    assert_non_null(r);
    struct tlog_record rec;
    tlog_record_init(&rec);
    assert_int_equal(tlog_read(r, &rec), 1);
    assert_int_equal(rec.type, TLOG_REC_HEADER);
    assert_string_equal(rec.header.tool, "hand");
    assert_int_equal(tlog_read(r, &rec), TLOG_ERR_FORMAT);
    assert_string_equal(tlog_reader_error(r), "record 3: bad \"response.events\": expected array");
    assert_int_equal(tlog_read(r, &rec), TLOG_ERR_FORMAT);
    assert_string_equal(tlog_reader_error(r), "record 5: bad \"id\": expected string");
    assert_int_equal(tlog_read(r, &rec), TLOG_ERR_FORMAT);
    assert_string_equal(tlog_reader_error(r), "record 6: invalid JSON near byte 0 of the line");
    assert_int_equal(tlog_read(r, &rec), TLOG_ERR_FORMAT);
    assert_string_equal(tlog_reader_error(r), "record 7: bad \"type\": expected string");
    assert_int_equal(tlog_read(r, &rec), TLOG_ERR_FORMAT);
    assert_string_equal(tlog_reader_error(r), "record 8: expected a JSON object");
    assert_int_equal(tlog_read(r, &rec), 1);
    assert_int_equal(rec.type, TLOG_REC_OTHER);
    assert_int_equal(rec.line_no, 9);
    assert_int_equal(tlog_read(r, &rec), 1);
    assert_int_equal(rec.type, TLOG_REC_EXCHANGE);
    assert_string_equal(rec.x.id, "ok");
    assert_int_equal(rec.x.start_us, 99);
    const cJSON *fut = cJSON_GetObjectItem(rec.x.extra, "future");
    assert_int_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(fut, "k"), 0)->valueint, 1);
    /* extra keys are written back */
    struct buf b;
    buf_init(&b, 1 << 16);
    assert_int_equal(tlog_exchange_to_line(&rec.x, NULL, &b), 0);
    assert_non_null(strstr(b.p, ",\"future\":{\"k\":[1]}}"));
    buf_free(&b);
    assert_int_equal(tlog_read(r, &rec), 1); /* last line without a newline */
    assert_string_equal(rec.x.id, "last");
    assert_int_equal(rec.line_no, 11);
    assert_int_equal(tlog_read(r, &rec), 0);
    struct tlog_reader_status st;
    tlog_reader_get_status(r, &st);
    assert_int_equal(st.records, 2);
    assert_int_equal(st.bad_lines, 5);
    assert_int_equal(st.truncated, 0);
    tlog_record_free(&rec);
    tlog_reader_close(r);
}

static void test_newer_schema_and_limits(void **state)
{
    (void)state;
    const char *log = "{\"type\":\"header\",\"schema\":2,\"tool\":\"x\",\"new\":1}\n"
                      "{\"type\":\"exchange\",\"id\":\"a\",\"newkey\":[1,2]}\n"
                      "{\"type\":\"trailer\",\"records\":1,\"errors\":0}\n";
    char err[256];
    struct tlog_reader *r = tlog_reader_open_mem(log, strlen(log), NULL, err, sizeof err);
    struct read_result res = read_all(r);
    assert_int_equal(res.headers, 1);
    assert_int_equal(res.exchanges, 1);
    assert_int_equal(res.trailers, 1);
    assert_int_equal(res.st.schema, 2);
    assert_string_equal(res.describe,
                        "schema 2 is newer than this reader's 1: unknown fields ignored");
    assert_string_equal(tlog_reader_error(r),
                        "schema 2 is newer than this reader's 1: unknown fields ignored");
    tlog_reader_close(r);

    /* a line over max_line (the 47-byte header) is one bad record — not a crash, not a silent cut, and not the end
     * of the file: the lines after it are still read */
    struct tlog_reader_opts ro = {0};
    ro.max_line = 44;
    r = tlog_reader_open_mem(log, strlen(log), &ro, err, sizeof err);
    struct tlog_record rec;
    tlog_record_init(&rec);
    assert_int_equal(tlog_read(r, &rec), TLOG_ERR_FORMAT);
    assert_string_equal(tlog_reader_error(r), "record 1: line longer than 44 bytes (skipped)");
    assert_int_equal(tlog_read(r, &rec), 1);
    assert_int_equal(rec.type, TLOG_REC_EXCHANGE);
    assert_string_equal(rec.x.id, "a");
    assert_int_equal(rec.line_no, 2);
    assert_int_equal(tlog_read(r, &rec), 1); /* the 41-byte trailer line */
    assert_int_equal(rec.type, TLOG_REC_TRAILER);
    assert_int_equal(tlog_read(r, &rec), 0);
    struct tlog_reader_status st;
    tlog_reader_get_status(r, &st);
    assert_int_equal(st.bad_lines, 1);
    assert_int_equal(st.records, 1);
    tlog_record_free(&rec);
    tlog_reader_close(r);
}

struct thread_arg {
    struct tlog_writer *w;
    int base;
};

static void *writer_thread(void *p)
{
    struct thread_arg *a = p;
    for (int i = 0; i < 50; i++) {
        struct tlog_exchange x;
        make_full(&x, a->base + i);
        tlog_writer_exchange(a->w, &x);
        tlog_exchange_free(&x);
    }
    return NULL;
}

static void test_threads_and_python(void **state)
{
    (void)state;
    char path[300], err[256];
    tmp_path(path, sizeof path, "thr.jsonl.gz");
    struct tlog_writer_opts o = {0};
    o.member_records = 7;
    struct tlog_writer *w = tlog_writer_open(path, &o, err, sizeof err);
    write_header(w);
    pthread_t t[4];
    struct thread_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i].w = w;
        a[i].base = i * 1000;
        assert_int_equal(pthread_create(&t[i], NULL, writer_thread, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(tlog_writer_close(w, NULL), 0);
    struct tlog_reader *r = tlog_reader_open(path, NULL, err, sizeof err);
    struct read_result res = read_all(r);
    tlog_reader_close(r);
    assert_int_equal(res.exchanges, 200);
    assert_int_equal(res.errors, 0);
    assert_string_equal(res.describe, "");

    if (system("python3 -c 'import gzip, json' 2>/dev/null") != 0) {
        skip();
        return;
    }
    /* Python's gzip reads the multi-member file as one stream, and json every line */
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import gzip, json, sys\n"
             "recs = [json.loads(l) for l in gzip.open(sys.argv[1], \"rt\", encoding=\"utf-8\")]\n"
             "ex = [r for r in recs if r[\"type\"] == \"exchange\"]\n"
             "assert recs[0][\"type\"] == \"header\" and recs[0][\"schema\"] == 1\n"
             "assert recs[-1] [\"type\"] == \"trailer\" and recs[-1][\"records\"] == 200\n"
             "assert len(ex) == 200\n"
             "e = ex[0]\n"
             "assert e[\"response\"][\"events\"][1] == [2000, 1, 1], e[\"response\"][\"events\"]\n"
             "assert e[\"response\"][\"text\"] == \"Hello \\\"w\\\"\\n\\t\\u00e9\\u2713\"\n"
             "assert e[\"request\"][\"headers\"][1] == [\"Authorization\", \"<redacted>\"]\n"
             "assert e[\"usage\"][\"completion_tokens\"] == 3 and e[\"error\"][\"kind\"] == \"reset\"\n"
             "assert e[\"replay\"][\"stage\"] == 2.5\n"
             "' '%s'",
             path);
    assert_int_equal(system(cmd), 0);
}

/* The SCHEMA.md example: exact values, and each exchange re-serialized byte for byte. Read
 * through stdin for the gzip copy, from the path for the plain one. */
static void test_fixture_golden(void **state)
{
    (void)state;
    char plain[512], gz[512];
    snprintf(plain, sizeof plain, "%s/tlog/example.jsonl", FIXTURE_DIR);
    snprintf(gz, sizeof gz, "%s/tlog/example.jsonl.gz", FIXTURE_DIR);
    size_t n;
    char *text = (char *)slurp(plain, &n);
    text[n] = '\0';
    char *lines[8];
    int nl = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l && nl < 8;
         l = strtok_r(NULL, "\n", &save))
        lines[nl++] = l;
    assert_int_equal(nl, 4);
    for (int via_stdin = 0; via_stdin < 2; via_stdin++) {
        char err[256];
        int saved = -1;
        struct tlog_reader *r;
        if (via_stdin) {
            saved = dup(0);
            int fd = open(gz, O_RDONLY);
            assert_true(fd >= 0);
            assert_int_equal(dup2(fd, 0), 0);
            close(fd);
            r = tlog_reader_open("-", NULL, err, sizeof err);
        } else {
            r = tlog_reader_open(plain, NULL, err, sizeof err);
        }
        assert_non_null(r);
        struct tlog_record rec;
        tlog_record_init(&rec);
        assert_int_equal(tlog_read(r, &rec), 1);
        assert_int_equal(rec.type, TLOG_REC_HEADER);
        assert_string_equal(rec.header.tool, "llmtrace-replay");
        assert_int_equal(cJSON_GetObjectItem(rec.header.options, "concurrency")->valueint, 8);
        for (int i = 1; i <= 2; i++) {
            assert_int_equal(tlog_read(r, &rec), 1);
            assert_int_equal(rec.type, TLOG_REC_EXCHANGE);
            struct buf b;
            buf_init(&b, 1 << 16);
            assert_int_equal(tlog_exchange_to_line(&rec.x, NULL, &b), 0);
            assert_string_equal(b.p, lines[i]);
            buf_free(&b);
            if (i == 1) {
                assert_int_equal(rec.x.start_us, 1764150000250000LL);
                assert_int_equal(rec.x.resp.n_events, 4);
                assert_int_equal(rec.x.resp.events[1].offset_us, 52010);
                assert_int_equal(rec.x.resp.events[1].is_content, 1);
                assert_int_equal(rec.x.replay.sched_us, 1764150000249950LL);
                assert_true(rec.x.replay.stage == 8.0);
                assert_string_equal(rec.x.resp.text, "Hi!");
                assert_int_equal(rec.x.usage.cached_tokens, -1);
                tlog_exchange_derive_tokens(&rec.x);
                assert_int_equal(rec.x.tokens_out, 2);
                assert_int_equal(rec.x.tokens_in, 9);
            } else {
                assert_int_equal(rec.x.error_kind, TLOG_ERROR_RESET);
                assert_string_equal(rec.x.error_message, "connection reset by peer");
                assert_int_equal(rec.x.resp.status, 0);
                assert_int_equal(rec.x.resp.ttfb_us, -1);
                assert_null(rec.x.req.body);
                assert_int_equal(rec.x.usage.present, 0);
            }
        }
        assert_int_equal(tlog_read(r, &rec), 1);
        assert_int_equal(rec.type, TLOG_REC_TRAILER);
        assert_int_equal(rec.trailer.errors, 1);
        assert_int_equal(tlog_read(r, &rec), 0);
        assert_string_equal(tlog_reader_path(r), via_stdin ? "-" : plain);
        char d[64];
        tlog_reader_describe(r, d, sizeof d);
        assert_string_equal(d, "");
        tlog_record_free(&rec);
        tlog_reader_close(r);
        if (via_stdin) {
            dup2(saved, 0);
            close(saved);
        }
    }
    free(text);
}

/* "headers": {} and an object of strings are read silently; a wrong type in a key the analysis
 * does not use costs that key (counted, named once by describe), in a key it needs the record. */
static void test_soft_fields_in_a_log(void **state)
{
    (void)state;
    const char *log =
        "{\"type\":\"header\",\"schema\":1,\"tool\":\"t\"}\n"
        "{\"type\":\"exchange\",\"id\":\"a\",\"request\":{\"method\":\"POST\",\"headers\":{}},"
        "\"response\":{\"status\":200,\"headers\":{\"Content-Type\":\"text/event-stream\"}}}\n"
        "{\"type\":\"exchange\",\"id\":\"b\",\"request\":{\"host\":8000},\"stream\":\"yes\","
        "\"response\":{\"status\":200,\"end_us\":9}}\n"
        "{\"type\":\"exchange\",\"id\":\"c\",\"response\":{\"status\":\"200\"}}\n"
        "{\"type\":\"exchange\",\"id\":\"d\",\"session\":[1]}\n"
        "{\"type\":\"trailer\",\"records\":4}\n";
    char err[256];
    struct tlog_reader *r = tlog_reader_open_mem(log, strlen(log), NULL, err, sizeof err);
    assert_non_null(r);
    struct tlog_record rec;
    tlog_record_init(&rec);
    int n = 0, bad = 0, rc;
    const char *ids[3] = {"a", "b", "d"};
    while ((rc = tlog_read(r, &rec)) != 0) {
        if (rc == TLOG_ERR_FORMAT) {
            assert_string_equal(tlog_reader_error(r),
                                "record 4: bad \"response.status\": expected integer");
            bad++;
            continue;
        }
        assert_int_equal(rc, 1);
        if (rec.type != TLOG_REC_EXCHANGE)
            continue;
        assert_true(n < 3);
        assert_string_equal(rec.x.id, ids[n]);
        if (n == 0) {
            assert_int_equal(rec.x.req.n_headers, 0);
            assert_int_equal(rec.x.resp.n_headers, 1);
            assert_string_equal(rec.x.resp.headers[0].name, "Content-Type");
            assert_string_equal(rec.x.resp.headers[0].value, "text/event-stream");
        }
        if (n == 1) {
            assert_null(rec.x.req.host);
            assert_int_equal(rec.x.stream, -1);
            assert_int_equal(rec.x.resp.end_us, 9); /* the rest of the record is kept */
        }
        n++;
    }
    assert_int_equal(n, 3);
    assert_int_equal(bad, 1);
    struct tlog_reader_status st;
    tlog_reader_get_status(r, &st);
    assert_int_equal(st.skipped_fields, 3);
    assert_int_equal(st.bad_lines, 1);
    char desc[512];
    tlog_reader_describe(r, desc, sizeof desc);
    assert_string_equal(desc, "trailer says 4 records, 3 read; 3 fields of the wrong type "
                              "ignored (first: record 3: bad \"stream\": expected boolean)");
    tlog_record_free(&rec);
    tlog_reader_close(r);
}

/* response.write_us (the recording proxy's client write times): written with added_us after
 * the events, read back by the fast path and by cJSON (a duplicate key forces it), nulls as -1;
 * a wrong shape costs the key, not the record. */
static void test_write_times(void **state)
{
    (void)state;
    struct tlog_exchange x;
    tlog_exchange_init(&x);
    x.id = strdup("p1");
    x.start_us = 1000;
    x.req.method = strdup("POST");
    x.req.path = strdup("/v1/chat/completions");
    x.resp.status = 200;
    assert_int_equal(tlog_exchange_add_event(&x, 10, 0, 0), 0);
    assert_int_equal(tlog_exchange_add_event(&x, 20, 1, 1), 0);
    assert_int_equal(tlog_exchange_add_event(&x, 30, 1, 1), 0);
    int64_t w[3] = {15, 27, -1};
    assert_int_equal(tlog_exchange_set_write_times(&x, w, 3), 0);
    struct buf line;
    buf_init(&line, 1u << 20);
    assert_int_equal(tlog_exchange_to_line(&x, NULL, &line), 0);
    assert_non_null(strstr(line.p, "\"events\":[[10,0,0],[20,1,1],[30,1,1]],"
                                   "\"write_us\":[15,27,null],\"added_us\":[5,7,null],"));
    /* the same line twice more: once as written, once with a duplicate key (cJSON path) and
     * once with write_us of the wrong type */
    struct buf log;
    buf_init(&log, 1u << 20);
    buf_append_str(&log, "{\"type\":\"header\",\"schema\":1}\n");
    buf_append(&log, line.p, line.len);
    buf_append_str(&log, "\n");
    const char *dup = strstr(line.p, "\"id\":\"p1\"");
    assert_non_null(dup);
    buf_append(&log, line.p, (size_t)(dup - line.p));
    buf_append_str(&log, "\"id\":\"p1\",");
    buf_append_str(&log, dup);
    buf_append_str(&log, "\n");
    char *bad = strdup(line.p);
    char *wp = strstr(bad, "\"write_us\":[");
    memcpy(wp + 11, "\"", 1);            /* write_us: "15,27,null],… → a string */
    char *q = strchr(wp + 12, ']');
    *q = '"';
    buf_append_str(&log, bad);
    buf_append_str(&log, "\n");
    free(bad);
    char err[256];
    struct tlog_reader *r = tlog_reader_open_mem(log.p, log.len, NULL, err, sizeof err);
    assert_non_null(r);
    struct tlog_record rec;
    tlog_record_init(&rec);
    int n = 0, rc;
    while ((rc = tlog_read(r, &rec)) != 0) {
        assert_int_equal(rc, 1);
        if (rec.type != TLOG_REC_EXCHANGE)
            continue;
        assert_int_equal(rec.x.resp.n_events, 3);
        if (n < 2) {
            assert_int_equal(rec.x.resp.n_write_us, 3);
            assert_int_equal(rec.x.resp.write_us[0], 15);
            assert_int_equal(rec.x.resp.write_us[1], 27);
            assert_int_equal(rec.x.resp.write_us[2], -1);
        } else {
            assert_null(rec.x.resp.write_us);
            assert_int_equal(rec.x.resp.n_write_us, 0);
        }
        n++;
    }
    assert_int_equal(n, 3);
    struct tlog_reader_status st;
    tlog_reader_get_status(r, &st);
    assert_int_equal(st.skipped_fields, 1);
    tlog_record_free(&rec);
    tlog_reader_close(r);
    buf_free(&log);
    buf_free(&line);
    tlog_exchange_free(&x);
}

/* The reader's own exchange parser and the cJSON path (tlog_exchange_from_json) must agree on
 * every line, including the ones where the fast path hands over to cJSON. */
static void test_fast_path_matches_cjson(void **state)
{
    (void)state;
    struct buf full;
    buf_init(&full, 1 << 20);
    struct tlog_exchange fx;
    make_full(&fx, 9);
    assert_int_equal(tlog_exchange_to_line(&fx, NULL, &full), 0);
    tlog_exchange_free(&fx);
    const char *lines[] = {
        full.p,
        " { \"response\" : { \"events\" : [ [ 1 , 2 , true ] , [3,0,false] ] , \"text\" : "
        "\"\\u00e9\\ud83d\\ude00\\/\\b\\f\\r\\t\" , \"status\" : 0 } , \"id\" : \"z\" , "
        "\"type\" : \"exchange\" , \"start_us\" : -5 } ",
        "{\"id\":\"a\",\"start_us\":007,\"stream\":false,\"unknown\":{\"x\":[1,\"]\"]},"
        "\"request\":{\"headers\":[[\"A\",\"b\\\"c\"]],\"body\":\"plain text\",\"x\":1}}",
        "{\"id\":\"b\",\"replay\":{\"stage\":0.25,\"warmup\":1,\"worker\":2,\"of\":null},"
        "\"usage\":{\"prompt_tokens\":1.0,\"x\":null},\"error\":{\"kind\":\"none\"}}",
        "{\"id\":\"c\",\"response\":{\"events\":[[1,2,1.0]]},\"tokens_source\":\"later\"}",
        "{\"id\":\"d\",\"id\":\"e\"}",
        "{\"id\":\"\\u0041\\u00DF\",\"request\":null,\"response\":null,\"usage\":null,"
        "\"error\":null,\"replay\":null,\"tokens_in\":null,\"stream\":null}",
        "{\"id\":\"f\",\"start_us\":1234567890123456789}",
        "{\"id\":\"g\",\"error\":{\"kind\":\"tls\",\"message\":\"x\"},\"replay\":{\"warmup\":true}}",
        "{\"id\":\"h\",\"conn_new\":false,\"connect_us\":null,\"session\":{\"id\":\"s\",\"turn\":0,"
        "\"think_us\":null,\"later\":1},\"replay\":{\"attempts\":[]},\"tokens_source\":\"max_tokens\"}",
        "{\"id\":\"i\",\"conn_new\":1,\"connect_us\":88,\"resent_as\":\"j\",\"replay\":{\"attempts\":"
        "[{\"start_us\":5,\"end_us\":null,\"conn\":null,\"conn_new\":true,\"error\":{\"kind\":\"reset\"}},"
        "{\"start_us\":9,\"error\":null}]}}",
        /* headers as an object: the fast path reads it, object order kept */
        "{\"id\":\"k\",\"request\":{\"headers\":{\"Content-Type\":\"application/json\","
        "\"X-\\u0041\":\"v\\\"w\"}},\"response\":{\"headers\":{}}}",
        /* wrong types in keys the analysis does not use: the cJSON path drops them */
        "{\"id\":\"l\",\"request\":{\"host\":5,\"headers\":{\"a\":1}},\"model\":[],"
        "\"response\":{\"status\":200,\"finish_reason\":3}}",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        for (int skip = 0; skip < 2; skip++) {
            struct tlog_reader_opts ro = {0};
            ro.skip_bodies = skip;
            char err[128];
            struct tlog_reader *r =
                tlog_reader_open_mem(lines[i], strlen(lines[i]), &ro, err, sizeof err);
            struct tlog_record rec;
            tlog_record_init(&rec);
            int rrc = tlog_read(r, &rec);
            if (rrc != 1)
                fail_msg("line %zu skip %d: %s", i, skip, tlog_reader_error(r));
            assert_int_equal(rec.type, TLOG_REC_EXCHANGE);
            cJSON *j = cJSON_Parse(lines[i]);
            assert_non_null(j);
            struct tlog_exchange want;
            assert_int_equal(tlog_exchange_from_json(j, &want, err, sizeof err), 0);
            if (skip) {
                cJSON_Delete(want.req.body);
                want.req.body = NULL;
                free(want.resp.text);
                want.resp.text = NULL;
                want.resp.text_len = 0;
            }
            assert_exchange_equal(&want, &rec.x);
            tlog_exchange_free(&want);
            cJSON_Delete(j);
            tlog_record_free(&rec);
            tlog_reader_close(r);
        }
    }
    buf_free(&full);
}

/* kill -9 of a writer keeps every closed member: what was flushed is read back, the open
 * member is lost, and the reader says the log was not closed. */
static void test_kill9_keeps_closed_members(void **state)
{
    (void)state;
    char path[300];
    tmp_path(path, sizeof path, "kill9.jsonl.gz");
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(20); /* never outlive a broken parent */
        char err[256];
        struct tlog_writer_opts o = {0};
        o.member_interval_us = 3600LL * 1000000;
        struct tlog_writer *w = tlog_writer_open(path, &o, err, sizeof err);
        write_header(w);
        for (int i = 0; i < 7; i++) {
            struct tlog_exchange x;
            make_full(&x, i);
            tlog_writer_exchange(w, &x);
            tlog_exchange_free(&x);
            if (i == 4)
                tlog_writer_flush(w);
        }
        if (write(fds[1], "k", 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    char c;
    assert_int_equal(read(fds[0], &c, 1), 1);
    kill(pid, SIGKILL);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    close(fds[0]);
    close(fds[1]);
    char err[256];
    struct tlog_reader *r = tlog_reader_open(path, NULL, err, sizeof err);
    struct read_result res = read_all(r);
    tlog_reader_close(r);
    assert_int_equal(res.headers, 1);
    assert_int_equal(res.exchanges, 5);
    assert_int_equal(res.errors, 0);
    assert_string_equal(res.describe, "not closed cleanly: 5 records recovered");
}

/* A text made of escapes decodes exactly and in linear time (1,000,000 escapes; a rescan per
 * escape costs ~1 TB of memchr and fails the 20 s bound). */
static void test_many_escapes(void **state)
{
    (void)state;
    struct tlog_exchange x;
    tlog_exchange_init(&x);
    x.id = strdup("esc");
    /* no quote until the end, so finding the closing quote again per escape would cost */
    char nl[1000];
    memset(nl, '\n', sizeof nl);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(tlog_exchange_append_text(&x, nl, sizeof nl), 0);
    assert_int_equal(tlog_exchange_append_text(&x, "\"\\", 2), 0);
    struct buf b;
    buf_init(&b, 1 << 24);
    assert_int_equal(tlog_exchange_to_line(&x, NULL, &b), 0);
    char err[128];
    struct tlog_reader *r = tlog_reader_open_mem(b.p, b.len, NULL, err, sizeof err);
    struct tlog_record rec;
    tlog_record_init(&rec);
    int64_t t0 = clock_mono_us();
    assert_int_equal(tlog_read(r, &rec), 1);
    assert_true(clock_mono_us() - t0 < 20000000);
    assert_int_equal(rec.x.resp.text_len, 1000002);
    assert_memory_equal(rec.x.resp.text, x.resp.text, 1000002);
    tlog_record_free(&rec);
    tlog_reader_close(r);
    buf_free(&b);
    tlog_exchange_free(&x);
}

/* Serialized records + status of a reader, to compare two ways of reading the same bytes. */
static char *read_signature(struct tlog_reader *r)
{
    struct buf sig;
    buf_init(&sig, (size_t)1 << 30);
    struct tlog_record rec;
    tlog_record_init(&rec);
    int rc;
    for (int i = 0; i < 1000000 && (rc = tlog_read(r, &rec)) != 0; i++) {
        buf_printf(&sig, "%d %d %lld\n", rc, rc == 1 ? (int)rec.type : 0, (long long)rec.line_no);
        if (rc == 1 && rec.type == TLOG_REC_EXCHANGE)
            assert_int_equal(tlog_exchange_to_line(&rec.x, NULL, &sig), 0);
        if (rc < 0 && rc != TLOG_ERR_FORMAT)
            break;
    }
    tlog_record_free(&rec);
    char d[256];
    tlog_reader_describe(r, d, sizeof d);
    buf_printf(&sig, "\n%s\n", d);
    return buf_steal(&sig);
}

/* Files larger than the reader's 256 KiB input window: a long line arriving in many steps,
 * and damage near window boundaries, read from a file must give exactly what the in-memory
 * reader gives. */
static void test_file_windows(void **state)
{
    (void)state;
    char path[300], cut[300], err[256];
    tmp_path(path, sizeof path, "win.jsonl.gz");
    tmp_path(cut, sizeof cut, "win-cut.jsonl.gz");
    struct tlog_writer_opts o = {0};
    o.member_records = 50;
    o.level = 9;
    struct tlog_writer *w = tlog_writer_open(path, &o, err, sizeof err);
    write_header(w);
    for (int i = 0; i < 3000; i++) {
        struct tlog_exchange x;
        make_full(&x, i);
        if (i == 1500) {
            /* one 3 MB text: many read steps for a single line, incompressible-ish */
            unsigned s = 12345;
            for (int k = 0; k < 3 << 20; k++) {
                s = s * 1103515245u + 12345u;
                char ch = (char)('a' + (s >> 16) % 26);
                assert_int_equal(tlog_exchange_append_text(&x, &ch, 1), 0);
            }
        }
        assert_int_equal(tlog_writer_exchange(w, &x), 0);
        tlog_exchange_free(&x);
    }
    assert_int_equal(tlog_writer_close(w, NULL), 0);
    size_t n;
    unsigned char *p = slurp(path, &n);
    assert_true(n > 4 * 256 * 1024);

    size_t flips[] = {0, 256 * 1024 - 1, 256 * 1024, 256 * 1024 + 1, 2 * 256 * 1024 + 2, n / 2,
                      n - 5};
    for (size_t t = 0; t < sizeof flips / sizeof flips[0]; t++) {
        for (int mode = 0; mode < 2; mode++) {
            /* mode 0: one flipped byte; mode 1: cut there */
            unsigned char *q = malloc(n);
            memcpy(q, p, n);
            size_t len = n;
            if (mode == 0 && t > 0)
                q[flips[t]] ^= 0x20;
            if (mode == 1)
                len = flips[t] ? flips[t] : n;
            spit(cut, q, len);
            struct tlog_reader *rf = tlog_reader_open(cut, NULL, err, sizeof err);
            struct tlog_reader *rm = tlog_reader_open_mem(q, len, NULL, err, sizeof err);
            char *a = read_signature(rf);
            char *b = read_signature(rm);
            assert_string_equal(a, b);
            /* the last line of a signature is the reader's description */
            char *desc = a + strlen(a) - 1;
            while (desc > a && desc[-1] != '\n')
                desc--;
            if (t > 0)
                assert_true(strlen(desc) > 20); /* damage is always reported */
            if (t == 0) {
                /* the intact file: every record, clean */
                struct tlog_reader *rc = tlog_reader_open(cut, NULL, err, sizeof err);
                struct read_result res = read_all(rc);
                tlog_reader_close(rc);
                assert_int_equal(res.exchanges, 3000);
                assert_string_equal(res.describe, "");
            }
            free(a);
            free(b);
            tlog_reader_close(rf);
            tlog_reader_close(rm);
            free(q);
        }
    }
    /* the long line against a smaller cap: an error naming the record, not a cut record, and
     * every record after it still read */
    struct tlog_reader_opts ro = {0};
    ro.max_line = 1 << 20;
    struct tlog_reader *r = tlog_reader_open(path, &ro, err, sizeof err);
    struct read_result res = read_all(r);
    assert_int_equal(res.exchanges, 2999);
    assert_string_equal(res.last_error, "record 1502: line longer than 1048576 bytes (skipped)");
    tlog_reader_close(r);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_kind_names),
        cmocka_unit_test(test_secret_headers),
        cmocka_unit_test(test_derive_tokens),
        cmocka_unit_test(test_apply_pinned),
        cmocka_unit_test(test_reader_body),
        cmocka_unit_test(test_model_growth),
        cmocka_unit_test(test_model_caps),
        cmocka_unit_test(test_line_exact),
        cmocka_unit_test(test_header_clock),
        cmocka_unit_test(test_json_roundtrip_memory),
        cmocka_unit_test(test_bad_types),
        cmocka_unit_test(test_roundtrip_file),
        cmocka_unit_test(test_redaction),
        cmocka_unit_test(test_no_bodies_and_skip),
        cmocka_unit_test(test_skip_bodies_tricky),
        cmocka_unit_test(test_member_boundaries),
        cmocka_unit_test(test_writer_misuse),
        cmocka_unit_test(test_no_trailer),
        cmocka_unit_test(test_truncated_every_offset),
        cmocka_unit_test(test_corrupt_middle_member),
        cmocka_unit_test(test_plain_jsonl_and_errors),
        cmocka_unit_test(test_newer_schema_and_limits),
        cmocka_unit_test(test_threads_and_python),
        cmocka_unit_test(test_fixture_golden),
        cmocka_unit_test(test_fast_path_matches_cjson),
        cmocka_unit_test(test_soft_fields_in_a_log),
        cmocka_unit_test(test_kill9_keeps_closed_members),
        cmocka_unit_test(test_many_escapes),
        cmocka_unit_test(test_file_windows),
        cmocka_unit_test(test_aux_records),
        cmocka_unit_test(test_write_times),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
