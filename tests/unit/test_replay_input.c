/* test_replay_input.c — what llmtrace-replay sends (replay/input.h): Batch API lines, trace
 * logs written with the real tlog writer, sorting by recorded start, selection flags and the
 * request rewrites, checked on the exact bytes that go on the wire. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "input.h"
#include "tlog.h"

static char tmpdir[256];
/* No rewrite at all (what --no-include-usage alone asks for). */
static const struct input_rewrite keep = {.max_tokens = REWRITE_MAX_TOKENS_KEEP};

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_replay_input.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *write_file(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_batch_line(void **state)
{
    (void)state;
    struct replay_req r;
    int64_t ts;
    char err[128];
    const char *l = "{\"custom_id\":\"a1\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\","
                    "\"body\":{\"model\":\"m\",\"messages\":[]},\"timestamp_ms\":1500}";
    assert_int_equal(input_parse_batch_line(l, strlen(l), &r, &ts, err, sizeof(err)), 0);
    assert_string_equal(r.of, "a1");
    assert_string_equal(r.method, "POST");
    assert_string_equal(r.path, "/v1/chat/completions");
    assert_int_equal(ts, 1500);
    assert_true(cJSON_IsObject(r.body_json));
    free(r.of);
    free(r.method);
    free(r.path);
    cJSON_Delete(r.body_json);

    const char *bad = "{\"custom_id\":\"a1\",\"body\":{}}";
    assert_int_equal(input_parse_batch_line(bad, strlen(bad), &r, &ts, err, sizeof(err)), -1);
    assert_string_equal(err, "bad \"url\": expected string");
    const char *bad_ts = "{\"url\":\"/x\",\"timestamp_ms\":\"soon\"}";
    assert_int_equal(input_parse_batch_line(bad_ts, strlen(bad_ts), &r, &ts, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "bad \"timestamp_ms\": expected a number >= 0");
    assert_int_equal(input_parse_batch_line("[1]", 3, &r, &ts, err, sizeof(err)), -1);
    assert_string_equal(err, "not a JSON object");
}

static void test_batch_file(void **state)
{
    (void)state;
    /* Line 3 has no timestamp: it inherits line 2's (sent right after it). CRLF and a blank
     * line are tolerated; no final newline. */
    const char *p = write_file(
        "b.jsonl",
        "{\"custom_id\":\"a\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"model\":"
        "\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]},\"timestamp_ms\":1000}\r\n"
        "{\"custom_id\":\"b\",\"method\":\"POST\",\"url\":\"/v1/completions\",\"body\":{\"model\":"
        "\"m\",\"prompt\":\"y\"},\"timestamp_ms\":1250}\n"
        "\n"
        "{\"custom_id\":\"c\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"model\":"
        "\"m\",\"messages\":[]}}\n"
        "{\"custom_id\":\"d\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"model\":"
        "\"m\",\"messages\":[]},\"timestamp_ms\":3000}");
    struct input_select sel = {0};
    struct replay_input in;
    char err[256];
    assert_int_equal(input_load(p, &sel, &keep, NULL, &in, err, sizeof(err)), 0);
    assert_int_equal(in.kind, INPUT_BATCH);
    assert_int_equal(in.n, 4);
    assert_int_equal(in.read, 4);
    assert_string_equal(in.reqs[0].of, "a");
    assert_int_equal(in.reqs[0].offset_us, 0);
    assert_int_equal(in.reqs[1].offset_us, 250000);
    assert_string_equal(in.reqs[2].of, "c");
    assert_int_equal(in.reqs[2].offset_us, 250000);
    assert_int_equal(in.reqs[3].offset_us, 2000000);
    assert_int_equal(in.untimed, 1);
    assert_int_equal(in.reqs[2].untimed, 1);
    input_free(&in);

    /* --filter-path prefix, then --skip 1 --limit 1 over what is left (a, c, d). */
    sel.filter_path = "/v1/chat";
    sel.skip = 1;
    sel.limit = 1;
    assert_int_equal(input_load(p, &sel, &keep, NULL, &in, err, sizeof(err)), 0);
    assert_int_equal(in.n, 1);
    assert_string_equal(in.reqs[0].of, "c");
    assert_int_equal(in.reqs[0].offset_us, 0); /* re-based on the first kept record */
    input_free(&in);

    /* A glob. */
    struct input_select g = {.filter_path = "/v1/*completions"};
    assert_int_equal(input_load(p, &g, &keep, NULL, &in, err, sizeof(err)), 0);
    assert_int_equal(in.n, 4);
    input_free(&in);

    const char *bad = write_file("bad.jsonl", "{\"url\":\"/a\"}\n{\"custom_id\":\"x\"}\n");
    assert_int_equal(input_load(bad, &sel, &keep, NULL, &in, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "bad.jsonl: line 2: bad \"url\": expected string"));
}

/* Writes a trace log whose records are out of start order (as completion-ordered logs are). */
static const char *write_tlog(void)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/t.jsonl.gz", tmpdir);
    struct tlog_writer_opts wo = {0};
    char err[256];
    struct tlog_writer *w = tlog_writer_open(path, &wo, err, sizeof(err));
    assert_non_null(w);
    struct tlog_header h = {.schema = TLOG_SCHEMA_VERSION, .tool = "test", .version = "0",
                            .start_us = 1000};
    assert_int_equal(tlog_writer_header(w, &h), 0);
    const int64_t starts[] = {5000000, 1000000, 3000000, 2000000};
    const int64_t toks[] = {7, 11, -1, 13};
    for (int i = 0; i < 4; i++) {
        struct tlog_exchange x;
        tlog_exchange_init(&x);
        char id[8];
        snprintf(id, sizeof(id), "x%d", i);
        x.id = strdup(id);
        x.start_us = starts[i];
        x.req.method = strdup("POST");
        x.req.path = strdup("/v1/chat/completions");
        if (i != 2)
            x.req.body = cJSON_Parse("{\"model\":\"orig\",\"messages\":[{\"role\":\"user\","
                                     "\"content\":\"hi\"}],\"max_tokens\":500}");
        x.tokens_out = toks[i];
        assert_int_equal(tlog_writer_exchange(w, &x), 0);
        tlog_exchange_free(&x);
    }
    assert_int_equal(tlog_writer_close(w, NULL), 0);
    return path;
}

static void test_tlog_sorted_selected(void **state)
{
    (void)state;
    const char *p = write_tlog();
    struct input_select sel = {0};
    struct replay_input in;
    char err[256];
    assert_int_equal(input_load(p, &sel, &keep, NULL, &in, err, sizeof(err)), 0);
    assert_int_equal(in.kind, INPUT_TLOG);
    assert_int_equal(in.read, 4);
    assert_int_equal(in.skipped_no_body, 1); /* x2 has no body */
    assert_int_equal(in.n, 3);
    assert_string_equal(in.reqs[0].of, "x1");
    assert_string_equal(in.reqs[1].of, "x3");
    assert_string_equal(in.reqs[2].of, "x0");
    assert_int_equal(in.reqs[1].offset_us, 1000000);
    assert_int_equal(in.reqs[2].offset_us, 4000000);
    assert_int_equal(in.reqs[0].tokens_out, 11);
    input_free(&in);

    /* --from 1s --to 4s keeps offsets [1 s, 4 s) of the trace: x3 only (x0 is at 4 s). */
    sel.from_us = 1000000;
    sel.to_us = 4000000;
    assert_int_equal(input_load(p, &sel, &keep, NULL, &in, err, sizeof(err)), 0);
    assert_int_equal(in.n, 1);
    assert_string_equal(in.reqs[0].of, "x3");
    assert_int_equal(in.reqs[0].offset_us, 0);
    input_free(&in);

    assert_int_equal(
        input_load("/nonexistent/x.jsonl.gz", &sel, &keep, NULL, &in, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent/x.jsonl.gz"));
}

/* A captured transport attempt (resent_as) is not a request: its re-send is. */
static void test_transport_attempts_skipped(void **state)
{
    (void)state;
    const char *p = write_file("att.jsonl",
        "{\"type\":\"exchange\",\"id\":\"a1\",\"start_us\":10,\"resent_as\":\"a2\","
        "\"request\":{\"method\":\"POST\",\"path\":\"/v1/chat/completions\",\"body\":{\"model\":\"m\"}},"
        "\"error\":{\"kind\":\"reset\",\"message\":null}}\n"
        "{\"type\":\"exchange\",\"id\":\"a2\",\"start_us\":20,"
        "\"request\":{\"method\":\"POST\",\"path\":\"/v1/chat/completions\",\"body\":{\"model\":\"m\"}}}\n");
    struct input_select sel = {0};
    struct replay_input in;
    char err[256];
    assert_int_equal(input_load(p, &sel, &keep, NULL, &in, err, sizeof(err)), 0);
    assert_int_equal(in.n, 1);
    assert_string_equal(in.reqs[0].of, "a2");
    assert_int_equal(in.skipped_attempts, 1);
    input_free(&in);
}

static void test_rewrite(void **state)
{
    (void)state;
    const char *p = write_tlog();
    struct input_select sel = {0};
    struct replay_input in;
    char err[256];
    struct input_rewrite rw = {.model = "new", .max_tokens = REWRITE_MAX_TOKENS_ORIGINAL,
                               .stream_on = 1, .include_usage = 1, .ignore_eos = 1};
    assert_int_equal(input_load(p, &sel, &rw, NULL, &in, err, sizeof(err)), 0);
    assert_int_equal(in.no_recorded_tokens, 0);
    struct replay_req *r = &in.reqs[0]; /* x1: 11 recorded tokens */
    assert_int_equal(r->dialect, DIALECT_OPENAI_CHAT);
    assert_int_equal(r->stream, 1);
    assert_string_equal(r->model, "new");
    assert_string_equal(r->body,
                        "{\"model\":\"new\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                        "\"max_tokens\":11,\"ignore_eos\":true,\"stream\":true,"
                        "\"stream_options\":{\"include_usage\":true}}");
    assert_int_equal(r->body_len, strlen(r->body));
    assert_int_equal(r->pinned_out, 11); /* max_tokens with ignore_eos: n_out is known */
    /* The record prints exactly the bytes sent. */
    assert_true(cJSON_IsRaw(r->body_json));
    assert_string_equal(r->body_json->valuestring, r->body);
    assert_non_null(strstr(in.reqs[1].body, "\"max_tokens\":13"));
    assert_int_equal(in.reqs[1].pinned_out, 13);
    input_free(&in);

    /* Fixed count, no other change; keep leaves stream unknown-as-recorded (absent → 0). */
    struct input_rewrite fixed = {.max_tokens = 64};
    assert_int_equal(input_load(p, &sel, &fixed, NULL, &in, err, sizeof(err)), 0);
    assert_string_equal(in.reqs[2].body,
                        "{\"model\":\"orig\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                        "\"max_tokens\":64}");
    assert_int_equal(in.reqs[2].stream, 0);
    assert_int_equal(in.reqs[2].pinned_out, -1); /* a cap without ignore_eos pins nothing */
    input_free(&in);

    /* A non-JSON body is sent as recorded. */
    struct replay_req raw = {0};
    raw.method = "POST";
    raw.path = "/generate";
    raw.body_json = cJSON_CreateString("plain text");
    raw.tokens_out = -1;
    assert_int_equal(input_rewrite_req(&raw, &keep), 0);
    assert_string_equal(raw.body, "plain text");
    assert_int_equal(raw.body_len, 10);
    assert_ptr_equal(raw.body, raw.body_json->valuestring); /* owned by body_json */
    cJSON_Delete(raw.body_json);
    free(raw.model);
}

/* Writes a trace log by hand, as another tool (Python's json.dumps) would: spaces after
 * separators, 1.0, a \u escape and an integer beyond 2^53 — bytes a re-serialization changes. */
static const char *write_spaced_tlog(void)
{
    return write_file(
        "spaced.jsonl",
        "{\"type\": \"header\", \"schema\": 1}\n"
        "{\"type\": \"exchange\", \"id\": \"s0\", \"start_us\": 10, \"request\": "
        "{\"method\": \"POST\", \"path\": \"/v1/chat/completions\", \"body\": "
        "{\"model\": \"m\", \"stream\": true, \"temperature\": 1.0, "
        "\"seed\": 12345678901234567890, \"messages\": [{\"role\": \"user\", \"content\": \"caf\\u00e9\"}]}}}\n"
        "{\"type\": \"exchange\", \"id\": \"s1\", \"start_us\": 20, \"request\": "
        "{\"method\": \"POST\", \"path\": \"/v1/completions\", \"body\": "
        "{\"model\": \"m\", \"prompt\": \"x\",  \"max_tokens\": 8, \"ignore_eos\": true}}}\n");
}

/* A body no rewrite changes goes out exactly as the input holds it. */
static void test_bytes_kept(void **state)
{
    (void)state;
    const char *p = write_spaced_tlog();
    const char *b0 = "{\"model\": \"m\", \"stream\": true, \"temperature\": 1.0, \"seed\": "
                     "12345678901234567890, \"messages\": [{\"role\": \"user\", \"content\": "
                     "\"caf\\u00e9\"}]}";
    const char *b1 = "{\"model\": \"m\", \"prompt\": \"x\",  \"max_tokens\": 8, \"ignore_eos\": "
                     "true}";
    struct input_select sel = {0};
    struct replay_input in;
    char err[256];
    assert_int_equal(input_load(p, &sel, &keep, NULL, &in, err, sizeof(err)), 0);
    assert_int_equal(in.n, 2);
    assert_string_equal(in.reqs[0].body, b0);
    assert_int_equal(in.reqs[0].body_len, strlen(b0));
    assert_true(cJSON_IsRaw(in.reqs[0].body_json)); /* the record prints the same bytes */
    assert_string_equal(in.reqs[1].body, b1);
    assert_int_equal(in.reqs[1].pinned_out, 8);  /* pinned in the recording itself */
    assert_int_equal(in.reqs[0].pinned_out, -1);
    input_free(&in);

    /* include_usage (the default): the streaming request gains stream_options and is
     * re-serialized; the non-streaming one is untouched, byte for byte. */
    struct input_rewrite usage = {.max_tokens = REWRITE_MAX_TOKENS_KEEP, .include_usage = 1};
    assert_int_equal(input_load(p, &sel, &usage, NULL, &in, err, sizeof(err)), 0);
    assert_non_null(strstr(in.reqs[0].body, "\"stream_options\":{\"include_usage\":true}"));
    assert_null(strstr(in.reqs[0].body, ": ")); /* re-serialized */
    assert_string_equal(in.reqs[1].body, b1);
    input_free(&in);
    /* Any rewrite that applies re-serializes, even one that changes no value. */
    struct input_rewrite same = {.max_tokens = REWRITE_MAX_TOKENS_KEEP, .model = "m"};
    assert_int_equal(input_load(p, &sel, &same, NULL, &in, err, sizeof(err)), 0);
    assert_string_equal(in.reqs[1].body, "{\"model\":\"m\",\"prompt\":\"x\",\"max_tokens\":8,"
                                         "\"ignore_eos\":true}");
    input_free(&in);
    /* --ignore-eos does not apply to Anthropic: its bytes stay. */
    const char *a = write_file(
        "a.jsonl", "{\"custom_id\": \"a\", \"url\": \"/v1/messages\", \"body\": "
                   "{\"model\": \"m\", \"max_tokens\": 9, \"messages\": []}}\n");
    struct input_rewrite eos = {.max_tokens = REWRITE_MAX_TOKENS_KEEP, .ignore_eos = 1,
                                .include_usage = 1};
    assert_int_equal(input_load(a, &sel, &eos, NULL, &in, err, sizeof(err)), 0);
    assert_string_equal(in.reqs[0].body, "{\"model\": \"m\", \"max_tokens\": 9, \"messages\": []}");
    assert_int_equal(in.reqs[0].pinned_out, -1);
    input_free(&in);

    /* A stream already asking for usage is left alone. */
    const char *u = write_file(
        "u.jsonl", "{\"custom_id\": \"u\", \"url\": \"/v1/chat/completions\", \"body\": "
                   "{\"model\": \"m\", \"stream\": true, \"stream_options\": {\"include_usage\": "
                   "true}, \"messages\": []}}\n");
    assert_int_equal(input_load(u, &sel, &usage, NULL, &in, err, sizeof(err)), 0);
    assert_int_equal(in.kind, INPUT_BATCH);
    assert_string_equal(in.reqs[0].body, "{\"model\": \"m\", \"stream\": true, \"stream_options\": "
                                         "{\"include_usage\": true}, \"messages\": []}");
    input_free(&in);
}

/* Writes n exchanges e0..e{n-1} in file order with the given starts (µs). */
static const char *write_starts(const char *name, const int64_t *starts, int n)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    struct tlog_writer_opts wo = {0};
    char err[256];
    struct tlog_writer *w = tlog_writer_open(path, &wo, err, sizeof(err));
    assert_non_null(w);
    struct tlog_header h = {.schema = TLOG_SCHEMA_VERSION, .tool = "test", .version = "0"};
    assert_int_equal(tlog_writer_header(w, &h), 0);
    for (int i = 0; i < n; i++) {
        struct tlog_exchange x;
        tlog_exchange_init(&x);
        char id[16];
        snprintf(id, sizeof(id), "e%d", i);
        x.id = strdup(id);
        x.start_us = starts[i];
        x.req.method = strdup("POST");
        x.req.path = strdup("/v1/completions");
        x.req.body = cJSON_Parse("{\"model\":\"m\",\"prompt\":\"p\"}");
        assert_int_equal(tlog_writer_exchange(w, &x), 0);
        tlog_exchange_free(&x);
    }
    assert_int_equal(tlog_writer_close(w, NULL), 0);
    return path;
}

/* A bounded selection stops reading once complete while the input is in start order; a record
 * out of order before then makes it read everything and sort, with the same result. */
static void test_select_while_reading(void **state)
{
    (void)state;
    int64_t sorted[100];
    for (int i = 0; i < 100; i++)
        sorted[i] = 1000000 + 10000 * i;
    const char *p = write_starts("sorted.jsonl.gz", sorted, 100);
    struct replay_input in;
    char err[256];
    struct input_select lim = {.skip = 3, .limit = 5};
    assert_int_equal(input_load(p, &lim, &keep, NULL, &in, err, sizeof(err)), 0);
    assert_int_equal(in.n, 5);
    assert_string_equal(in.reqs[0].of, "e3");
    assert_string_equal(in.reqs[4].of, "e7");
    assert_int_equal(in.reqs[4].offset_us, 40000);
    assert_int_equal(in.read, 8); /* stopped at the 5th kept record */
    assert_int_equal(in.stopped_early, 1);
    assert_int_equal(in.unsorted_at, 0);
    input_free(&in);

    /* --from 50ms --to 100ms: e5..e9, stopping at the first record past the end (e10) */
    struct input_select win = {.from_us = 50000, .to_us = 100000};
    assert_int_equal(input_load(p, &win, &keep, NULL, &in, err, sizeof(err)), 0);
    assert_int_equal(in.n, 5);
    assert_string_equal(in.reqs[0].of, "e5");
    assert_string_equal(in.reqs[4].of, "e9");
    assert_int_equal(in.read, 11);
    assert_int_equal(in.stopped_early, 1);
    input_free(&in);

    /* Unbounded: everything is read. */
    struct input_select all = {.skip = 98};
    assert_int_equal(input_load(p, &all, &keep, NULL, &in, err, sizeof(err)), 0);
    assert_int_equal(in.n, 2);
    assert_int_equal(in.read, 100);
    assert_int_equal(in.stopped_early, 0);
    input_free(&in);

    /* e4 starts before e3 (as in a completion-ordered log), and e50 before all. --limit 5
     * meets e4 before it is complete: reading goes on to the end and the selection is by
     * start time. */
    int64_t unsorted[100];
    memcpy(unsorted, sorted, sizeof(unsorted));
    unsorted[4] = sorted[2] + 1;
    unsorted[50] = 10;
    p = write_starts("unsorted.jsonl.gz", unsorted, 100);
    struct input_select five = {.limit = 5};
    assert_int_equal(input_load(p, &five, &keep, NULL, &in, err, sizeof(err)), 0);
    assert_int_equal(in.unsorted_at, 6); /* line 6: the header is line 1 */
    assert_int_equal(in.read, 100);
    assert_int_equal(in.stopped_early, 0);
    assert_int_equal(in.n, 5);
    const char *want[] = {"e50", "e0", "e1", "e2", "e4"};
    for (int i = 0; i < 5; i++)
        assert_string_equal(in.reqs[i].of, want[i]);
    assert_int_equal(in.reqs[1].offset_us, 1000000 - 10);
    input_free(&in);
    /* --limit 3 is complete (e0 e1 e2, in order) before anything out of order is read: what
     * lies further in the file is not seen (README: "Selection") */
    struct input_select three = {.limit = 3};
    assert_int_equal(input_load(p, &three, &keep, NULL, &in, err, sizeof(err)), 0);
    assert_int_equal(in.stopped_early, 1);
    assert_int_equal(in.unsorted_at, 0);
    assert_string_equal(in.reqs[0].of, "e0");
    input_free(&in);

    /* A stop request: nothing kept. */
    atomic_int stop = 1;
    assert_int_equal(input_load(p, &five, &keep, &stop, &in, err, sizeof(err)), INPUT_STOPPED);
    assert_int_equal(in.n, 0);
    assert_null(in.reqs);
}

/* Writes prefix, then a Batch line whose one message holds n bytes of 'a', then suffix. */
static const char *write_long_line(const char *name, const char *prefix, size_t n,
                                   const char *suffix)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    char *fill = malloc(n);
    assert_non_null(fill);
    memset(fill, 'a', n);
    fputs(prefix, f);
    fputs("{\"custom_id\":\"big\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":"
          "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"", f);
    assert_int_equal(fwrite(fill, 1, n, f), n);
    fputs("\"}]}}", f);
    fputs(suffix, f);
    free(fill);
    assert_int_equal(fclose(f), 0);
    return path;
}

static size_t first_content_len(const struct replay_req *r)
{
    cJSON *b = cJSON_Parse(r->body);
    const cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(b, "messages"), 0);
    const cJSON *c = cJSON_GetObjectItem(m, "content");
    size_t n = cJSON_IsString(c) ? strlen(c->valuestring) : 0;
    cJSON_Delete(b);
    return n;
}

/* A 16 MiB first line: the format sniffer must search each read chunk for the newline once
 * (it used to rescan the whole line per 4 KiB, quadratic: minutes at 100 MiB). The behaviour
 * is asserted; the old code passes too, only far slower, which ctest's timeout catches. */
static void test_long_first_line(void **state)
{
    (void)state;
    const size_t n = (size_t)16 << 20;
    struct input_select sel = {0};
    struct replay_input in;
    char err[256];

    /* Blank lines first, then the long line, then a short one. */
    const char *p = write_long_line("long.jsonl", "\n \r\n\n", n,
                                    "\n{\"custom_id\":\"s\",\"url\":\"/v1/completions\","
                                    "\"body\":{\"model\":\"m\",\"prompt\":\"y\"}}\n");
    assert_int_equal(input_load(p, &sel, &keep, NULL, &in, err, sizeof(err)), 0);
    assert_int_equal(in.kind, INPUT_BATCH);
    assert_int_equal(in.n, 2);
    assert_string_equal(in.reqs[0].of, "big");
    assert_int_equal(first_content_len(&in.reqs[0]), n);
    assert_string_equal(in.reqs[1].of, "s");
    input_free(&in);

    /* The same line alone, no final newline: sniffed at end of file. */
    p = write_long_line("long1.jsonl", "", n, "");
    assert_int_equal(input_load(p, &sel, &keep, NULL, &in, err, sizeof(err)), 0);
    assert_int_equal(in.kind, INPUT_BATCH);
    assert_int_equal(in.n, 1);
    assert_int_equal(first_content_len(&in.reqs[0]), n);
    input_free(&in);

    /* 16 MiB of a line that is neither format (cut off mid-string): read as a trace log whose
     * one record is unreadable, so nothing is replayed. */
    p = write_long_line("cut.jsonl", "", n, "\n");
    FILE *f = fopen(p, "r+");
    assert_non_null(f);
    assert_int_equal(ftruncate(fileno(f), (off_t)n), 0);
    fclose(f);
    assert_int_equal(input_load(p, &sel, &keep, NULL, &in, err, sizeof(err)), 0);
    assert_int_equal(in.kind, INPUT_TLOG);
    assert_int_equal(in.n, 0); /* the tool then exits 1: "no request to replay" */
    assert_int_equal(in.bad_records, 1);
    input_free(&in);
}

/* --ignore-eos / --max-tokens original on APIs without ignore_eos: counted per dialect (the
 * tool warns once per dialect) and the body gets no ignore_eos key. */
static void test_unpinned(void **state)
{
    (void)state;
    const char *p = write_file(
        "d.jsonl",
        "{\"custom_id\":\"o\",\"url\":\"/v1/chat/completions\",\"body\":{\"model\":\"m\","
        "\"messages\":[]}}\n"
        "{\"custom_id\":\"a\",\"url\":\"/v1/messages\",\"body\":{\"model\":\"m\",\"max_tokens\":9,"
        "\"messages\":[]}}\n"
        "{\"custom_id\":\"a2\",\"url\":\"/v1/messages\",\"body\":{\"model\":\"m\",\"max_tokens\":9,"
        "\"messages\":[]}}\n"
        "{\"custom_id\":\"l\",\"url\":\"/api/chat\",\"body\":{\"model\":\"m\",\"messages\":[]}}\n"
        "{\"custom_id\":\"t\",\"url\":\"/generate\",\"body\":{\"inputs\":\"x\"}}\n");
    struct input_select sel = {0};
    struct replay_input in;
    char err[256];
    struct input_rewrite rw = {.max_tokens = 20, .ignore_eos = 1};
    assert_int_equal(input_load(p, &sel, &rw, NULL, &in, err, sizeof(err)), 0);
    assert_int_equal(in.unpinned[DIALECT_OPENAI_CHAT], 0);
    assert_int_equal(in.unpinned[DIALECT_ANTHROPIC], 2);
    assert_int_equal(in.unpinned[DIALECT_OLLAMA_CHAT], 1);
    assert_int_equal(in.unpinned[DIALECT_TGI], 1);
    assert_int_equal(in.unpinned[DIALECT_OLLAMA_GENERATE], 0);
    assert_string_equal(in.reqs[1].body,
                        "{\"model\":\"m\",\"max_tokens\":20,\"messages\":[]}");
    assert_non_null(strstr(in.reqs[0].body, "\"ignore_eos\":true"));
    assert_int_equal(in.reqs[0].pinned_out, 20);
    assert_int_equal(in.reqs[1].pinned_out, -1); /* Anthropic: only a cap */
    input_free(&in);

    /* A fixed cap alone promises no length: nothing counted. */
    struct input_rewrite cap = {.max_tokens = 20};
    assert_int_equal(input_load(p, &sel, &cap, NULL, &in, err, sizeof(err)), 0);
    for (int d = 0; d < DIALECT_COUNT; d++)
        assert_int_equal(in.unpinned[d], 0);
    input_free(&in);

    /* --max-tokens original alone counts too. */
    struct input_rewrite orig = {.max_tokens = REWRITE_MAX_TOKENS_ORIGINAL};
    assert_int_equal(input_load(p, &sel, &orig, NULL, &in, err, sizeof(err)), 0);
    assert_int_equal(in.unpinned[DIALECT_ANTHROPIC], 2);
    assert_int_equal(in.unpinned[DIALECT_OPENAI_CHAT], 0);
    input_free(&in);

    assert_int_equal(input_dialect_cannot_pin(DIALECT_OLLAMA_GENERATE), 1);
    assert_int_equal(input_dialect_cannot_pin(DIALECT_OPENAI_COMPLETIONS), 0);
    assert_int_equal(input_dialect_cannot_pin(DIALECT_OPENAI_RESPONSES), 1);
    assert_int_equal(input_dialect_cannot_pin(DIALECT_UNKNOWN), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_line),
        cmocka_unit_test(test_batch_file),
        cmocka_unit_test(test_tlog_sorted_selected),
        cmocka_unit_test(test_transport_attempts_skipped),
        cmocka_unit_test(test_rewrite),
        cmocka_unit_test(test_bytes_kept),
        cmocka_unit_test(test_select_while_reading),
        cmocka_unit_test(test_long_first_line),
        cmocka_unit_test(test_unpinned),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
