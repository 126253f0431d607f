/* test_replay_sessions.c — llmtrace-replay --sessions building blocks: the session table
 * (grouping, turn order, sessions ordered by their first selected turn), the think-time rule,
 * the endpoint's reply read back from OpenAI / Anthropic / Ollama responses split at every
 * byte (text and tool calls), and the next turn's body under --history live: the sent history
 * + the live reply + the new messages, tool results renamed to the live call ids, and each
 * case where the recorded history is kept instead. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "sessions.h"

static void req(struct replay_req *r, const char *sid, int64_t turn, int64_t off, int64_t think,
                int64_t end, enum dialect_id d, const char *body)
{
    memset(r, 0, sizeof *r);
    r->session = sid ? strdup(sid) : NULL;
    r->turn = turn;
    r->offset_us = off;
    r->think_us = think;
    r->rec_end_us = end;
    r->dialect = d;
    r->body = body ? strdup(body) : NULL;
    r->body_len = body ? strlen(body) : 0;
    r->stream = 1;
}

static void req_release(struct replay_req *r)
{
    free(r->session);
    free(r->body);
}

static void test_table_and_think(void **state)
{
    (void)state;
    struct replay_req rs[6];
    /* b's turn 1 recorded before a's first turn; x has no session; a's turns out of order */
    req(&rs[0], "a", 1, 300, 50, 100, DIALECT_OPENAI_CHAT, NULL);
    req(&rs[1], "b", 1, 100, -1, 20, DIALECT_OPENAI_CHAT, NULL);
    req(&rs[2], "a", 0, 200, -1, 40, DIALECT_OPENAI_CHAT, NULL);
    req(&rs[3], NULL, -1, 150, -1, -1, DIALECT_OPENAI_CHAT, NULL);
    req(&rs[4], "b", 2, 400, -1, -1, DIALECT_OPENAI_CHAT, NULL);
    req(&rs[5], "a", 2, 500, -1, -1, DIALECT_OPENAI_CHAT, NULL);
    struct replay_input in = {.reqs = rs, .n = 6};
    struct sess_table t;
    assert_int_equal(sess_table_build(&t, &in), 0);
    assert_int_equal(t.n, 3);
    assert_int_equal(t.with_id, 2);
    assert_int_equal(t.multi, 2);
    /* by first selected turn: b (100), x (150), a (200) */
    assert_int_equal(t.offsets[0], 100);
    assert_int_equal(t.offsets[1], 150);
    assert_int_equal(t.offsets[2], 200);
    assert_int_equal(t.count[0], 2);
    assert_int_equal(t.turns[t.first[0]], 1);
    assert_int_equal(t.turns[t.first[0] + 1], 4);
    assert_int_equal(t.count[1], 1);
    assert_int_equal(t.turns[t.first[1]], 3);
    assert_int_equal(t.count[2], 3);
    assert_int_equal(t.turns[t.first[2]], 2);
    assert_int_equal(t.turns[t.first[2] + 1], 0);
    assert_int_equal(t.turns[t.first[2] + 2], 5);
    enum sess_think_source src;
    /* recorded think wins */
    assert_int_equal(sess_think_us(&rs[2], &rs[0], 7, &src), 50);
    assert_int_equal(src, SESS_THINK_RECORDED);
    /* none recorded: --think-time, else the recorded gap 500 − (300 + 100) */
    assert_int_equal(sess_think_us(&rs[0], &rs[5], 7, &src), 7);
    assert_int_equal(src, SESS_THINK_FIXED);
    assert_int_equal(sess_think_us(&rs[0], &rs[5], -1, &src), 100);
    assert_int_equal(src, SESS_THINK_GAP);
    /* a previous end unknown: start to start; a negative gap: 0 */
    assert_int_equal(sess_think_us(&rs[4], &rs[5], -1, &src), 100);
    assert_int_equal(sess_think_us(&rs[1], &rs[3], -1, &src), 30);
    assert_int_equal(sess_think_us(&rs[5], &rs[4], -1, &src), 0);
    sess_table_free(&t);
    for (int i = 0; i < 6; i++)
        req_release(&rs[i]);
}

/* Feeds body in pieces of `step` bytes and returns the reply's message, printed. */
static char *reply_of(enum dialect_id d, int stream, const char *ctype, const char *body, size_t step)
{
    struct reply r;
    reply_init(&r, d, stream, ctype);
    size_t n = strlen(body);
    for (size_t i = 0; i < n; i += step)
        reply_feed(&r, body + i, n - i < step ? n - i : step);
    reply_finish(&r);
    assert_false(r.bad);
    cJSON *m = reply_message(&r);
    assert_non_null(m);
    char *s = cJSON_PrintUnformatted(m);
    cJSON_Delete(m);
    reply_free(&r);
    return s;
}

static void each_split(enum dialect_id d, int stream, const char *ctype, const char *body,
                       const char *want)
{
    size_t n = strlen(body);
    for (size_t step = 1; step <= n; step += step < 8 ? 1 : 37) {
        char *got = reply_of(d, stream, ctype, body, step);
        assert_string_equal(got, want);
        free(got);
    }
}

static void test_reply_openai(void **state)
{
    (void)state;
    const char *sse =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Let me \"}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"check.\"}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_9\","
        "\"type\":\"function\",\"function\":{\"name\":\"weather\",\"arguments\":\"\"}}]}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
        "{\"arguments\":\"{\\\"city\\\":\"}}]}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
        "{\"arguments\":\"\\\"Oslo\\\"}\"}}]}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
        "data: [DONE]\n\n";
    each_split(DIALECT_OPENAI_CHAT, 1, "text/event-stream", sse,
               "{\"role\":\"assistant\",\"content\":\"Let me check.\",\"tool_calls\":[{\"id\":"
               "\"call_9\",\"type\":\"function\",\"function\":{\"name\":\"weather\",\"arguments\":"
               "\"{\\\"city\\\":\\\"Oslo\\\"}\"}}]}");
    const char *whole = "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"hi\"}}]}";
    each_split(DIALECT_OPENAI_CHAT, 0, "application/json", whole,
               "{\"role\":\"assistant\",\"content\":\"hi\"}");
}

static void test_reply_anthropic_ollama(void **state)
{
    (void)state;
    const char *sse =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"content\":[]}}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
        "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"text_delta\",\"text\":\"On it.\"}}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,"
        "\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"f\",\"input\":{}}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
        "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\":\"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
        "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"1}\"}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    each_split(DIALECT_ANTHROPIC, 1, "text/event-stream", sse,
               "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"On it.\"},"
               "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"f\",\"input\":{\"a\":1}}]}");
    const char *text_only =
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"text_delta\",\"text\":\"yes\"}}\n\n";
    each_split(DIALECT_ANTHROPIC, 1, "text/event-stream", text_only,
               "{\"role\":\"assistant\",\"content\":\"yes\"}");
    const char *nd =
        "{\"message\":{\"role\":\"assistant\",\"content\":\"a \"},\"done\":false}\n"
        "{\"message\":{\"role\":\"assistant\",\"content\":\"b\",\"tool_calls\":[{\"function\":"
        "{\"name\":\"g\",\"arguments\":{\"x\":[1,2]}}}]},\"done\":false}\n"
        "{\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true}\n";
    each_split(DIALECT_OLLAMA_CHAT, 1, "application/x-ndjson", nd,
               "{\"role\":\"assistant\",\"content\":\"a b\",\"tool_calls\":[{\"function\":"
               "{\"name\":\"g\",\"arguments\":{\"x\":[1,2]}}}]}");
}

#define U(t) "{\"role\":\"user\",\"content\":\"" t "\"}"
#define A(t) "{\"role\":\"assistant\",\"content\":\"" t "\"}"

/* Live history: turn 2 = what turn 1 sent + the endpoint's reply + turn 2's new messages. */
static void test_live_body(void **state)
{
    (void)state;
    struct replay_req p, n;
    req(&p, "s", 0, 0, -1, -1, DIALECT_OPENAI_CHAT,
        "{\"model\":\"m\",\"messages\":[" U("q1") "],\"stream\":true}");
    req(&n, "s", 1, 0, -1, -1, DIALECT_OPENAI_CHAT,
        "{\"model\":\"m\",\"messages\":[" U("q1") "," A("recorded") "," U("q2") "],\"stream\":true,"
        "\"max_tokens\":5}");
    cJSON *sent = cJSON_Parse("[" U("q1") "]");
    cJSON *live = cJSON_Parse(A("live answer"));
    char *body = NULL;
    size_t len = 0;
    cJSON *next = NULL;
    assert_int_equal(sess_live_body(&p, &n, sent, live, &body, &len, &next), SESS_HIST_LIVE);
    assert_string_equal(body, "{\"model\":\"m\",\"messages\":[" U("q1") "," A("live answer") ","
                              U("q2") "],\"stream\":true,\"max_tokens\":5}");
    assert_int_equal(len, strlen(body));
    char *ns = cJSON_PrintUnformatted(next);
    assert_string_equal(ns, "[" U("q1") "," A("live answer") "," U("q2") "]");
    free(ns);
    free(body);
    cJSON_Delete(next);
    /* turn 3 continues from what turn 2 sent (with the live reply), not from the recording */
    struct replay_req n3;
    req(&n3, "s", 2, 0, -1, -1, DIALECT_OPENAI_CHAT,
        "{\"messages\":[" U("q1") "," A("recorded") "," U("q2") "," A("r2") "," U("q3") "]}");
    cJSON *sent2 = cJSON_Parse("[" U("q1") "," A("live answer") "," U("q2") "]");
    cJSON *live2 = cJSON_Parse(A("second"));
    assert_int_equal(sess_live_body(&n, &n3, sent2, live2, &body, &len, &next), SESS_HIST_LIVE);
    assert_string_equal(body, "{\"messages\":[" U("q1") "," A("live answer") "," U("q2") ","
                              A("second") "," U("q3") "]}");
    free(body);
    cJSON_Delete(next);
    /* cases kept recorded */
    assert_int_equal(sess_live_body(&p, &n, sent, NULL, &body, &len, &next), SESS_HIST_NO_REPLY);
    struct replay_req other;
    req(&other, "s", 1, 0, -1, -1, DIALECT_OPENAI_CHAT,
        "{\"messages\":[" U("edited q1") "," A("recorded") "," U("q2") "]}");
    assert_int_equal(sess_live_body(&p, &other, sent, live, &body, &len, &next),
                     SESS_HIST_NOT_EXTENDING);
    req_release(&other);
    req(&other, "s", 1, 0, -1, -1, DIALECT_OPENAI_CHAT, "{\"messages\":[" U("q1") "," U("q2") "]}");
    assert_int_equal(sess_live_body(&p, &other, sent, live, &body, &len, &next),
                     SESS_HIST_NOT_EXTENDING); /* no assistant message where the reply goes */
    req_release(&other);
    req(&other, "s", 1, 0, -1, -1, DIALECT_OPENAI_COMPLETIONS, "{\"prompt\":\"q1 recorded q2\"}");
    assert_int_equal(sess_live_body(&p, &other, sent, live, &body, &len, &next),
                     SESS_HIST_NOT_CHAT);
    req_release(&other);
    assert_string_equal(sess_history_name(SESS_HIST_TOOLS_DIFFER), "tools_differ");
    cJSON_Delete(sent);
    cJSON_Delete(live);
    cJSON_Delete(sent2);
    cJSON_Delete(live2);
    req_release(&p);
    req_release(&n);
    req_release(&n3);
}

/* Agent turns: the recorded tool call's id in the tool result becomes the live call's id; a
 * live reply with another number of tool calls keeps the recorded history. Anthropic: the
 * system prompt must be the same, tool_use_id renamed. */
static void test_live_tools(void **state)
{
    (void)state;
    struct replay_req p, n;
    req(&p, "s", 0, 0, -1, -1, DIALECT_OPENAI_CHAT, "{\"messages\":[" U("weather?") "]}");
    req(&n, "s", 1, 0, -1, -1, DIALECT_OPENAI_CHAT,
        "{\"messages\":[" U("weather?") ",{\"role\":\"assistant\",\"content\":null,\"tool_calls\":"
        "[{\"id\":\"rec_1\",\"type\":\"function\",\"function\":{\"name\":\"w\",\"arguments\":\"{}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"rec_1\",\"content\":\"rain\"}]}");
    cJSON *sent = cJSON_Parse("[" U("weather?") "]");
    cJSON *live = cJSON_Parse("{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":"
                              "\"live_7\",\"type\":\"function\",\"function\":{\"name\":\"w\","
                              "\"arguments\":\"{\\\"c\\\":1}\"}}]}");
    char *body = NULL;
    size_t len;
    cJSON *next = NULL;
    assert_int_equal(sess_live_body(&p, &n, sent, live, &body, &len, &next), SESS_HIST_LIVE);
    assert_string_equal(body,
        "{\"messages\":[" U("weather?") ",{\"role\":\"assistant\",\"content\":null,\"tool_calls\":"
        "[{\"id\":\"live_7\",\"type\":\"function\",\"function\":{\"name\":\"w\",\"arguments\":"
        "\"{\\\"c\\\":1}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"live_7\",\"content\":\"rain\"}]}");
    free(body);
    cJSON_Delete(next);
    cJSON *text = cJSON_Parse(A("no tools today"));
    assert_int_equal(sess_live_body(&p, &n, sent, text, &body, &len, &next), SESS_HIST_TOOLS_DIFFER);
    cJSON_Delete(text);
    cJSON_Delete(sent);
    cJSON_Delete(live);
    req_release(&p);
    req_release(&n);

    req(&p, "s", 0, 0, -1, -1, DIALECT_ANTHROPIC,
        "{\"system\":\"sys\",\"max_tokens\":9,\"messages\":[" U("go") "]}");
    req(&n, "s", 1, 0, -1, -1, DIALECT_ANTHROPIC,
        "{\"system\":\"sys\",\"max_tokens\":9,\"messages\":[" U("go") ",{\"role\":\"assistant\","
        "\"content\":[{\"type\":\"tool_use\",\"id\":\"toolu_rec\",\"name\":\"f\",\"input\":{}}]},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_rec\","
        "\"content\":\"42\"}]}]}");
    sent = cJSON_Parse("[" U("go") "]");
    live = cJSON_Parse("{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":"
                       "\"toolu_live\",\"name\":\"f\",\"input\":{\"k\":2}}]}");
    assert_int_equal(sess_live_body(&p, &n, sent, live, &body, &len, &next), SESS_HIST_LIVE);
    assert_non_null(strstr(body, "\"tool_use_id\":\"toolu_live\""));
    assert_non_null(strstr(body, "\"system\":\"sys\""));
    assert_null(strstr(body, "toolu_rec"));
    free(body);
    cJSON_Delete(next);
    struct replay_req other;
    req(&other, "s", 1, 0, -1, -1, DIALECT_ANTHROPIC,
        "{\"system\":\"other\",\"max_tokens\":9,\"messages\":[" U("go") "," A("x") "," U("y") "]}");
    assert_int_equal(sess_live_body(&p, &other, sent, live, &body, &len, &next),
                     SESS_HIST_NOT_EXTENDING);
    req_release(&other);
    cJSON_Delete(sent);
    cJSON_Delete(live);
    req_release(&p);
    req_release(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_and_think),
        cmocka_unit_test(test_reply_openai),
        cmocka_unit_test(test_reply_anthropic_ollama),
        cmocka_unit_test(test_live_body),
        cmocka_unit_test(test_live_tools),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
