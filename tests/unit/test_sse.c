/* test_sse.c — the SSE decoder (formats/wire/sse.h) against the WHATWG "event stream
 * interpretation" rules, fed whole, byte by byte and split at every byte boundary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"

/* Each event rendered as "type|id|retry|data;" so a whole run compares as one string. */
static int record_cb(void *user, const struct sse_event *ev)
{
    struct buf *o = user;
    assert_int_equal(ev->data[ev->data_len], '\0');
    buf_append(o, ev->type, ev->type_len);
    buf_append_char(o, '|');
    buf_append(o, ev->id, ev->id_len);
    buf_printf(o, "|%lld|", (long long)ev->retry_ms);
    buf_append(o, ev->data, ev->data_len);
    buf_append_char(o, ';');
    return 0;
}

/* Runs input through a fresh decoder in pieces cut at cuts[]; returns sse_feed's first error
 * and sse_finish's result in *pending. */
static int run(const char *in, size_t len, const size_t *cuts, size_t ncuts, size_t max,
               struct buf *out, int *pending)
{
    struct sse_decoder d;
    sse_init(&d, max);
    buf_reset(out);
    buf_append(out, "", 0);
    size_t at = 0;
    int rc = 0;
    for (size_t i = 0; i <= ncuts && rc == 0; i++) {
        size_t next = i < ncuts ? cuts[i] : len;
        rc = sse_feed(&d, in + at, next - at, record_cb, out);
        at = next;
    }
    *pending = sse_finish(&d);
    sse_free(&d);
    return rc;
}

/* Checks in → want whole, byte by byte and at every two-piece split. */
static void check(const char *in, size_t len, const char *want, int want_pending)
{
    struct buf out;
    int pending;
    buf_init(&out, 1 << 16);
    assert_int_equal(run(in, len, NULL, 0, 1024, &out, &pending), 0);
    if (strcmp(out.p, want) != 0)
        fail_msg("whole: want \"%s\" got \"%s\"", want, out.p);
    assert_int_equal(pending, want_pending);
    size_t *cuts = malloc((len + 1) * sizeof *cuts);
    assert_non_null(cuts);
    for (size_t i = 0; i + 1 < len; i++)
        cuts[i] = i + 1;
    assert_int_equal(run(in, len, cuts, len ? len - 1 : 0, 1024, &out, &pending), 0);
    if (strcmp(out.p, want) != 0)
        fail_msg("bytewise: want \"%s\" got \"%s\"", want, out.p);
    assert_int_equal(pending, want_pending);
    for (size_t i = 1; i < len; i++) {
        assert_int_equal(run(in, len, &i, 1, 1024, &out, &pending), 0);
        if (strcmp(out.p, want) != 0)
            fail_msg("split at %zu: want \"%s\" got \"%s\"", i, want, out.p);
        assert_int_equal(pending, want_pending);
    }
    free(cuts);
    buf_free(&out);
}

#define CHECK(in, want, pending) check((in), sizeof(in) - 1, (want), (pending))

static void test_basic_fields(void **state)
{
    (void)state;
    CHECK("data: hello\n\n", "message||-1|hello;", 0);
    CHECK("data: a\ndata: b\n\n", "message||-1|a\nb;", 0);
    CHECK("event: add\ndata: 1\n\ndata: 2\n\n", "add||-1|1;message||-1|2;", 0);
    /* only one leading space is removed; no space is fine too */
    CHECK("data:  two\n\ndata:none\n\n", "message||-1| two;message||-1|none;", 0);
    /* a colon in the value stays */
    CHECK("data: {\"a\":1}\n\n", "message||-1|{\"a\":1};", 0);
    /* unknown fields are ignored; a field name is case-sensitive */
    CHECK("foo: bar\nData: x\ndata: y\n\n", "message||-1|y;", 0);
    /* "event:" with an empty value means "message" */
    CHECK("event:\ndata: z\n\n", "message||-1|z;", 0);
}

static void test_spec_example_no_colon(void **state)
{
    (void)state;
    /* The WHATWG example: "data" alone is a data field with an empty value. The first block
     * dispatches "", the second "\n", the last (no blank line) is never dispatched. */
    CHECK("data\n\ndata\ndata\n\ndata:", "message||-1|;message||-1|\n;", 1);
}

static void test_id_and_retry(void **state)
{
    (void)state;
    /* the last event id persists across events */
    CHECK("id: 7\ndata: a\n\ndata: b\n\n", "message|7|-1|a;message|7|-1|b;", 0);
    /* an id containing NUL is ignored; "id" alone resets it to empty */
    static const char nul[] = "id: 5\ndata: a\n\nid: x\0y\ndata: b\n\nid\ndata: c\n\n";
    check(nul, sizeof nul - 1, "message|5|-1|a;message|5|-1|b;message||-1|c;", 0);
    /* retry: digits only; anything else is ignored; it belongs to its event block */
    CHECK("retry: 1500\ndata: a\n\nretry: 15x\ndata: b\n\nretry:\ndata: c\n\n",
          "message||1500|a;message||-1|b;message||-1|c;", 0);
}

static void test_comments_and_empty_events(void **state)
{
    (void)state;
    CHECK(": ping\n\n:\n\n", "", 0);
    /* blank lines and event blocks without data dispatch nothing and reset the type */
    CHECK("\n\n\nevent: x\n\ndata: y\n\n", "message||-1|y;", 0);
    struct sse_decoder d;
    sse_init(&d, 64);
    assert_int_equal(sse_feed(&d, ": a\n: b\r\n:c\r", 12, NULL, NULL), 0);
    assert_int_equal(d.comments, 3);
    assert_int_equal(d.events, 0);
    assert_int_equal(d.pos, 12);
    assert_int_equal(sse_finish(&d), 0);
    sse_free(&d);
}

static void test_line_endings(void **state)
{
    (void)state;
    CHECK("data: a\r\ndata: b\r\n\r\n", "message||-1|a\nb;", 0);
    CHECK("data: a\rdata: b\r\r", "message||-1|a\nb;", 0);
    CHECK("data: a\n\r\ndata: b\r\n\n", "message||-1|a;message||-1|b;", 0);
    /* CR CR is two line ends (the second one blank), the LF after it belongs to it */
    CHECK("data: x\r\r\n", "message||-1|x;", 0);
    CHECK("data: x\r\n\r", "message||-1|x;", 0);
}

static void test_bom(void **state)
{
    (void)state;
    CHECK("\xEF\xBB\xBF" "data: x\n\n", "message||-1|x;", 0);
    /* only the first BOM is skipped: a second one is part of the field name */
    CHECK("\xEF\xBB\xBF\xEF\xBB\xBF" "data: x\n\n", "", 0);
    /* a partial BOM is ordinary bytes */
    CHECK("\xEF\xBB" "data: x\n\ndata: y\n\n", "message||-1|y;", 0);
}

static void test_unterminated_event_discarded(void **state)
{
    (void)state;
    CHECK("data: a\n\ndata: b\n", "message||-1|a;", 1);
    CHECK("data: a\n\ndata: b", "message||-1|a;", 1);
    CHECK("data: a\n\n", "message||-1|a;", 0);
}

static void test_caps(void **state)
{
    (void)state;
    struct buf out;
    int pending;
    buf_init(&out, 4096);
    /* a 17-byte line under a 16-byte cap, whole and split */
    static const char longline[] = "data: 0123456789a\n\n";
    assert_int_equal(run(longline, sizeof longline - 1, NULL, 0, 16, &out, &pending),
                     SSE_ERR_LINE_TOO_LONG);
    size_t cut = 8;
    assert_int_equal(run(longline, sizeof longline - 1, &cut, 1, 16, &out, &pending),
                     SSE_ERR_LINE_TOO_LONG);
    /* exactly at the cap is fine */
    static const char fits[] = "data: 0123456789\n\n";
    assert_int_equal(run(fits, sizeof fits - 1, NULL, 0, 16, &out, &pending), 0);
    assert_string_equal(out.p, "message||-1|0123456789;");
    /* many short data lines adding up past the cap */
    static const char many[] = "data: 12345\ndata: 12345\ndata: 12345\n\n";
    assert_int_equal(run(many, sizeof many - 1, NULL, 0, 16, &out, &pending),
                     SSE_ERR_EVENT_TOO_LARGE);
    assert_string_equal(out.p, "");
    /* the error is sticky */
    struct sse_decoder d;
    sse_init(&d, 16);
    assert_int_equal(sse_feed(&d, longline, sizeof longline - 1, record_cb, &out), SSE_ERR_LINE_TOO_LONG);
    assert_int_equal(sse_feed(&d, "data: x\n\n", 9, record_cb, &out), SSE_ERR_LINE_TOO_LONG);
    /* the broken line counts as pending, whether it was seen whole or in pieces */
    assert_int_equal(sse_finish(&d), 1);
    sse_free(&d);
    buf_free(&out);
}

static int stop_cb(void *user, const struct sse_event *ev)
{
    (void)ev;
    int *n = user;
    return ++*n == 2;
}

static void test_callback_stops(void **state)
{
    (void)state;
    struct sse_decoder d;
    int n = 0;
    sse_init(&d, 64);
    assert_int_equal(sse_feed(&d, "data: 1\n\ndata: 2\n\ndata: 3\n\n", 27, stop_cb, &n),
                     SSE_ERR_CALLBACK);
    assert_int_equal(n, 2);
    assert_int_equal(sse_feed(&d, "data: 4\n\n", 9, stop_cb, &n), SSE_ERR_CALLBACK);
    assert_int_equal(n, 2);
    sse_free(&d);
}

static void test_llm_stream_shape(void **state)
{
    (void)state;
    /* the shape of an OpenAI stream with a keep-alive, CRLF and [DONE] */
    CHECK(": keep-alive\r\n\r\n"
          "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\r\n\r\n"
          "event: error\r\ndata: {\"error\":{\"message\":\"boom\"}}\r\n\r\n"
          "data: [DONE]\r\n\r\n",
          "message||-1|{\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]};"
          "error||-1|{\"error\":{\"message\":\"boom\"}};message||-1|[DONE];", 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_fields),
        cmocka_unit_test(test_spec_example_no_colon),
        cmocka_unit_test(test_id_and_retry),
        cmocka_unit_test(test_comments_and_empty_events),
        cmocka_unit_test(test_line_endings),
        cmocka_unit_test(test_bom),
        cmocka_unit_test(test_unterminated_event_discarded),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_callback_stops),
        cmocka_unit_test(test_llm_stream_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
