/* test_session.c — sessions inferred from logged chat traffic (formats/traces/session.h), on
 * hand-made logs: plain conversations side by side, clients told apart by capture's conn,
 * tool-call (agent) turns, Anthropic's system prompt, Ollama chat, ambiguous prefixes settled
 * by the reply and counted, failed turns and their retries, branches, expiry and the cap,
 * think times, and the requests that get no session. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"

#define S 1000000LL

/* An exchange: start (s), response end offset (ms), status, conn, path, the request body
 * (JSON text) and the response text. */
static void mk(struct tlog_exchange *x, double start_s, int64_t end_ms, int status,
               const char *conn, const char *path, const char *body, const char *text)
{
    tlog_exchange_init(x);
    x->id = strdup("x");
    x->start_us = (int64_t)(start_s * S);
    x->conn = conn ? strdup(conn) : NULL;
    x->req.method = strdup("POST");
    x->req.path = strdup(path);
    x->req.body = body ? cJSON_Parse(body) : NULL;
    if (body)
        assert_non_null(x->req.body);
    x->resp.status = status;
    x->resp.end_us = end_ms * 1000;
    if (status >= 400)
        tlog_exchange_set_error(x, TLOG_ERROR_HTTP_STATUS, "x");
    if (text)
        tlog_exchange_append_text(x, text, strlen(text));
}

/* Adds one request; returns its session as "id/turn/think_ms" ("-" for none). */
static const char *add(struct session_infer *s, double start_s, int64_t end_ms, int status,
                       const char *conn, const char *path, const char *body, const char *text)
{
    static char out[128];
    struct tlog_exchange x;
    mk(&x, start_s, end_ms, status, conn, path, body, text);
    assert_int_equal(session_infer_add(s, &x), 0);
    if (!x.session.present)
        snprintf(out, sizeof out, "-");
    else if (x.session.think_us < 0)
        snprintf(out, sizeof out, "%s/%lld/-", x.session.id, (long long)x.session.turn);
    else
        snprintf(out, sizeof out, "%s/%lld/%lld", x.session.id, (long long)x.session.turn,
                 (long long)(x.session.think_us / 1000));
    tlog_exchange_free(&x);
    return out;
}

#define CHAT "/v1/chat/completions"
#define U(t) "{\"role\":\"user\",\"content\":\"" t "\"}"
#define A(t) "{\"role\":\"assistant\",\"content\":\"" t "\"}"
#define MSGS1(a) "{\"model\":\"m\",\"messages\":[" a "]}"
#define MSGS3(a, b, c) MSGS1(a "," b "," c)
#define MSGS5(a, b, c, d, e) MSGS1(a "," b "," c "," d "," e)

static void test_conversations(void **state)
{
    (void)state;
    struct session_infer *s = session_infer_new(NULL);
    const char *c1 = "10.0.0.1:5000>10.0.0.9:8000", *c1b = "10.0.0.1:5001>10.0.0.9:8000";
    const char *c2 = "10.0.0.2:5000>10.0.0.9:8000";
    assert_string_equal(add(s, 1, 500, 200, c1, CHAT, MSGS1(U("hi")), "hello"), "session-1/0/-");
    /* the same first message from another client is another conversation */
    assert_string_equal(add(s, 1.2, 500, 200, c2, CHAT, MSGS1(U("hi")), "hey"), "session-2/0/-");
    assert_string_equal(add(s, 1.3, 400, 200, c1, CHAT, MSGS1(U("what is 2+2")), "4"), "session-3/0/-");
    /* turn 2 on a new connection of the same client: think = 3.0 − (1 + 0.5) s */
    assert_string_equal(add(s, 3, 200, 200, c1b, CHAT, MSGS3(U("hi"), A("hello"), U("how are you")), "fine"),
                        "session-1/1/1500");
    assert_string_equal(add(s, 3.5, 100, 200, c2, CHAT, MSGS3(U("hi"), A("hey"), U("bye")), "ciao"),
                        "session-2/1/1800");
    /* keys in another order are the same message */
    assert_string_equal(add(s, 4, 100, 200, c1, CHAT,
                            "{\"messages\":[{\"content\":\"what is 2+2\",\"role\":\"user\"}," A("4") "," U("and 3+3") "]}",
                            "6"),
                        "session-3/1/2300");
    assert_string_equal(add(s, 5, 100, 200, c1, CHAT,
                            MSGS5(U("hi"), A("hello"), U("how are you"), A("fine"), U("good")), "ok"),
                        "session-1/2/1800");
    /* the same messages again, without a new one: not a next turn (and not a retry: the turn
     * succeeded), so it branches from the turn before */
    assert_string_equal(add(s, 6, 100, 200, c1, CHAT, MSGS3(U("hi"), A("hello"), U("how are you")), "fine"),
                        "session-4/1/4500");
    struct session_infer_stats st;
    session_infer_get_stats(s, &st);
    assert_int_equal(st.records, 8);
    assert_int_equal(st.sessions, 4);
    assert_int_equal(st.linked, 4);
    assert_int_equal(st.branches, 1);
    assert_int_equal(st.ambiguous, 0);
    session_infer_free(s);
}

/* Agent turns: the assistant's tool call and the tool's result make a turn. */
static void test_tool_calls(void **state)
{
    (void)state;
    struct session_infer *s = session_infer_new(&(struct session_infer_opts){.prefix = "a"});
    const char *call = "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\","
                       "\"type\":\"function\",\"function\":{\"name\":\"weather\","
                       "\"arguments\":\"{\\\"city\\\":\\\"Oslo\\\"}\"}}]}";
    const char *result = "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"rain\"}";
    char b2[1024], b3[1024];
    assert_string_equal(add(s, 0, 100, 200, "w0c1", CHAT, MSGS1(U("weather in Oslo?")),
                            "{\"city\":\"Oslo\"}"), "a1/0/-");
    snprintf(b2, sizeof b2, MSGS1(U("weather in Oslo?") ",%s,%s"), call, result);
    assert_string_equal(add(s, 0.3, 100, 200, "w0c2", CHAT, b2, "It rains."), "a1/1/200");
    snprintf(b3, sizeof b3, MSGS1(U("weather in Oslo?") ",%s,%s," A("It rains.") "," U("and Bergen?")),
             call, result);
    assert_string_equal(add(s, 1, 100, 200, "w0c1", CHAT, b3, "{}"), "a1/2/600");
    /* a tool result alone after the reply is a new message too; an assistant one is not */
    snprintf(b3, sizeof b3, MSGS1(U("weather in Oslo?") ",%s," A("x")), call);
    assert_string_equal(add(s, 2, 100, 200, "w0c1", CHAT, b3, "y"), "a2/0/-");
    session_infer_free(s);
}

/* Anthropic: the system prompt is part of the history; Ollama chat works like OpenAI's. */
static void test_anthropic_ollama(void **state)
{
    (void)state;
    struct session_infer *s = session_infer_new(NULL);
    assert_string_equal(add(s, 0, 100, 200, NULL, "/v1/messages",
                            "{\"max_tokens\":9,\"system\":\"be brief\",\"messages\":[" U("hi") "]}", "yo"),
                        "session-1/0/-");
    assert_string_equal(add(s, 1, 100, 200, NULL, "/v1/messages",
                            "{\"max_tokens\":9,\"system\":\"be verbose\",\"messages\":[" U("hi") ","
                            "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"yo\"}]},"
                            U("more") "]}", "ok"),
                        "session-2/0/-");
    assert_string_equal(add(s, 2, 100, 200, NULL, "/v1/messages",
                            "{\"max_tokens\":9,\"system\":\"be brief\",\"messages\":[" U("hi") ","
                            "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"yo\"}]},"
                            U("more") "]}", "ok"),
                        "session-1/1/1900");
    assert_string_equal(add(s, 3, 100, 200, NULL, "/api/chat", MSGS1(U("q")), "a"), "session-3/0/-");
    assert_string_equal(add(s, 4, 100, 200, NULL, "/api/chat", MSGS3(U("q"), A("a"), U("q2")), "b"),
                        "session-3/1/900");
    session_infer_free(s);
}

/* Two open conversations with the same history so far: the one whose reply the new request
 * carries wins; when neither does (a replay of the recorded history), the newest, counted. */
static void test_ambiguous(void **state)
{
    (void)state;
    struct session_infer *s = session_infer_new(NULL);
    struct session_infer_stats st;
    assert_string_equal(add(s, 0, 100, 200, NULL, CHAT, MSGS1(U("hi")), "hello A"), "session-1/0/-");
    assert_string_equal(add(s, 1, 100, 200, NULL, CHAT, MSGS1(U("hi")), "hello B"), "session-2/0/-");
    assert_string_equal(add(s, 2, 100, 200, NULL, CHAT, MSGS3(U("hi"), A("hello A"), U("x")), "r"),
                        "session-1/1/1900");
    session_infer_get_stats(s, &st);
    assert_int_equal(st.ambiguous, 0);
    assert_string_equal(add(s, 3, 100, 200, NULL, CHAT, MSGS1(U("hi")), "hello C"), "session-3/0/-");
    assert_string_equal(add(s, 4, 100, 200, NULL, CHAT, MSGS3(U("hi"), A("recorded"), U("y")), "r"),
                        "session-3/1/900");
    session_infer_get_stats(s, &st);
    assert_int_equal(st.ambiguous, 1);
    session_infer_free(s);
}

/* A failed turn is a turn; its retry (the same messages) is that turn again; the failure does
 * not continue its predecessor, a success does, and a second success branches. */
static void test_failures_and_branches(void **state)
{
    (void)state;
    struct session_infer *s = session_infer_new(NULL);
    struct session_infer_stats st;
    assert_string_equal(add(s, 0, 100, 200, NULL, CHAT, MSGS1(U("a")), "b"), "session-1/0/-");
    assert_string_equal(add(s, 1, 5, 500, NULL, CHAT, MSGS3(U("a"), A("b"), U("c")), NULL),
                        "session-1/1/900");
    assert_string_equal(add(s, 2, 100, 200, NULL, CHAT, MSGS3(U("a"), A("b"), U("c")), "d"),
                        "session-1/1/1900");
    assert_string_equal(add(s, 3, 100, 200, NULL, CHAT, MSGS5(U("a"), A("b"), U("c"), A("d"), U("e")), "f"),
                        "session-1/2/900");
    /* another continuation of turn 0 (a regenerated reply): its own session, turn index kept */
    assert_string_equal(add(s, 4, 100, 200, NULL, CHAT, MSGS3(U("a"), A("b"), U("other")), "g"),
                        "session-2/1/3900");
    /* a request is never the next turn of one that started at the same time or later: the
     * longest list that qualifies is turn 0's, already continued, so this is a branch too */
    assert_string_equal(add(s, 4, 100, 200, NULL, CHAT, MSGS5(U("a"), A("b"), U("other"), A("g"), U("h")), "i"),
                        "session-3/1/3900");
    session_infer_get_stats(s, &st);
    assert_int_equal(st.repeats, 1);
    assert_int_equal(st.branches, 2);
    assert_int_equal(st.linked, 2);
    session_infer_free(s);
}

/* Bounded memory: a turn not continued within idle_us is forgotten; at most max_open kept. */
static void test_expiry_and_cap(void **state)
{
    (void)state;
    struct session_infer_stats st;
    struct session_infer *s = session_infer_new(&(struct session_infer_opts){.idle_us = 5 * S});
    assert_string_equal(add(s, 0, 1000, 200, NULL, CHAT, MSGS1(U("a")), "b"), "session-1/0/-");
    assert_string_equal(add(s, 5.9, 100, 200, NULL, CHAT, MSGS3(U("a"), A("b"), U("c")), "d"),
                        "session-1/1/4900");
    assert_string_equal(add(s, 12, 100, 200, NULL, CHAT, MSGS5(U("a"), A("b"), U("c"), A("d"), U("e")), "f"),
                        "session-2/0/-");
    session_infer_get_stats(s, &st);
    assert_int_equal(st.expired, 2); /* turn 0 (kept after it was continued) and turn 1 */
    session_infer_free(s);
    s = session_infer_new(&(struct session_infer_opts){.max_open = 2});
    assert_string_equal(add(s, 0, 100, 200, NULL, CHAT, MSGS1(U("1")), "x"), "session-1/0/-");
    assert_string_equal(add(s, 1, 100, 200, NULL, CHAT, MSGS1(U("2")), "x"), "session-2/0/-");
    assert_string_equal(add(s, 2, 100, 200, NULL, CHAT, MSGS1(U("3")), "x"), "session-3/0/-");
    assert_string_equal(add(s, 3, 100, 200, NULL, CHAT, MSGS3(U("1"), A("x"), U("y")), "z"), "session-4/0/-");
    assert_string_equal(add(s, 4, 100, 200, NULL, CHAT, MSGS3(U("3"), A("x"), U("y")), "z"), "session-3/1/1900");
    session_infer_get_stats(s, &st);
    assert_int_equal(st.evicted, 3);
    session_infer_free(s);
}

/* What gets no session, and a think time clamped at 0. */
static void test_skipped(void **state)
{
    (void)state;
    struct session_infer_stats st;
    struct session_infer *s = session_infer_new(NULL);
    assert_string_equal(add(s, 0, 100, 200, NULL, "/v1/completions", "{\"prompt\":\"a\"}", "b"), "-");
    assert_string_equal(add(s, 0, 100, 200, NULL, CHAT, NULL, "b"), "-");
    assert_string_equal(add(s, 0, 100, 200, NULL, CHAT, "{\"messages\":[1]}", "b"), "-");
    struct tlog_exchange x;
    mk(&x, 0, 100, 0, NULL, CHAT, MSGS1(U("a")), NULL);
    x.resent_as = strdup("y");
    assert_int_equal(session_infer_add(s, &x), 0);
    assert_false(x.session.present);
    tlog_exchange_free(&x);
    /* sent 50 ms before its predecessor's last byte (a stream's trailer still coming) */
    assert_string_equal(add(s, 1, 1000, 200, NULL, CHAT, MSGS1(U("a")), "b"), "session-1/0/-");
    assert_string_equal(add(s, 1.95, 100, 200, NULL, CHAT, MSGS3(U("a"), A("b"), U("c")), "d"),
                        "session-1/1/0");
    session_infer_get_stats(s, &st);
    assert_int_equal(st.skipped, 4);
    assert_int_equal(st.think_clamped, 1);
    session_infer_free(s);
    session_infer_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conversations),
        cmocka_unit_test(test_tool_calls),
        cmocka_unit_test(test_anthropic_ollama),
        cmocka_unit_test(test_ambiguous),
        cmocka_unit_test(test_failures_and_branches),
        cmocka_unit_test(test_expiry_and_cap),
        cmocka_unit_test(test_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
