/* test_dialect.c — the LLM API dialects (formats/dialect/dialect.h): event decoding per dialect,
 * malformed events, error objects, error bodies, path/name/framing detection and the
 * request-side helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "dialect.h"

static struct buf scratch;

static int setup(void **state)
{
    (void)state;
    buf_init(&scratch, 1 << 20);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    buf_free(&scratch);
    return 0;
}

static int dec(enum dialect_id d, const char *type, const char *data, struct dialect_event *ev,
               const char **why)
{
    return dialect_decode_event(d, type, type ? strlen(type) : 0, data, strlen(data), ev,
                                &scratch, why);
}

static void assert_slice(const char *p, size_t n, const char *want)
{
    if (!want) {
        assert_null(p);
        assert_int_equal(n, 0);
        return;
    }
    assert_non_null(p);
    if (n != strlen(want) || memcmp(p, want, n) != 0)
        fail_msg("want \"%s\" got \"%.*s\"", want, (int)n, p);
}

static void test_openai_chat_events(void **state)
{
    (void)state;
    struct dialect_event ev;
    const char *why;
    /* role-only first chunk (content "" is no output) */
    assert_int_equal(dec(DIALECT_OPENAI_CHAT, NULL,
        "{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}",
        &ev, &why), 0);
    assert_int_equal(ev.is_role_only, 1);
    assert_int_equal(ev.is_content, 0);
    assert_null(ev.finish_reason);
    /* content with escapes, unescaped into the scratch */
    assert_int_equal(dec(DIALECT_OPENAI_CHAT, "message",
        "{\"choices\":[{\"delta\":{\"content\":\"a\\nb\\u00e9\"},\"finish_reason\":null}]}",
        &ev, &why), 0);
    assert_int_equal(ev.is_content, 1);
    assert_int_equal(ev.is_role_only, 0);
    assert_int_equal(ev.tokens, 0);
    assert_slice(ev.text, ev.text_len, "a\nb\xC3\xA9");
    assert_int_equal(ev.has_usage, 0);
    assert_int_equal(ev.prompt_tokens, -1);
    /* reasoning + content + tool args in one chunk concatenate in order */
    assert_int_equal(dec(DIALECT_OPENAI_CHAT, NULL,
        "{\"choices\":[{\"delta\":{\"reasoning_content\":\"r\",\"content\":\"c\\\"\",\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{}\"}}]},\"finish_reason\":\"st\\u006fp\"}]}",
        &ev, &why), 0);
    assert_slice(ev.text, ev.text_len, "rc\"{}");
    assert_slice(ev.finish_reason, ev.finish_reason_len, "stop");
    /* usage-only final chunk */
    assert_int_equal(dec(DIALECT_OPENAI_CHAT, NULL,
        "{\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":22,\"prompt_tokens_details\":{\"cached_tokens\":3}}}",
        &ev, &why), 0);
    assert_int_equal(ev.is_content, 0);
    assert_int_equal(ev.has_usage, 1);
    assert_int_equal(ev.prompt_tokens, 11);
    assert_int_equal(ev.completion_tokens, 22);
    assert_int_equal(ev.cached_tokens, 3);
    /* [DONE], with whitespace around it */
    assert_int_equal(dec(DIALECT_OPENAI_CHAT, NULL, " [DONE]\n", &ev, &why), 0);
    assert_int_equal(ev.is_done, 1);
    assert_int_equal(ev.is_content, 0);
    /* usage: null (non-final chunks of include_usage streams) */
    assert_int_equal(dec(DIALECT_OPENAI_CHAT, NULL, "{\"choices\":[],\"usage\":null}", &ev, &why), 0);
    assert_int_equal(ev.has_usage, 0);
    /* non-streaming message with content parts */
    assert_int_equal(dec(DIALECT_OPENAI_CHAT, NULL,
        "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"x\"},{\"type\":\"text\",\"text\":\"y\"}]},\"finish_reason\":\"length\"}]}",
        &ev, &why), 0);
    assert_slice(ev.text, ev.text_len, "xy");
    assert_int_equal(ev.is_role_only, 0); /* a whole message is never "role only" */
    /* completions */
    assert_int_equal(dec(DIALECT_OPENAI_COMPLETIONS, NULL,
        "{\"choices\":[{\"text\":\" world\",\"index\":0,\"finish_reason\":null}]}", &ev, &why), 0);
    assert_slice(ev.text, ev.text_len, " world");
    /* an empty data field (proxy keep-alive) carries nothing and is no error */
    assert_int_equal(dec(DIALECT_OPENAI_CHAT, NULL, "  ", &ev, &why), 0);
    assert_int_equal(ev.is_content + ev.is_done + ev.is_error, 0);
}

static void test_anthropic_events(void **state)
{
    (void)state;
    struct dialect_event ev;
    const char *why;
    assert_int_equal(dec(DIALECT_ANTHROPIC, "message_start",
        "{\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":5,\"cache_read_input_tokens\":7,\"cache_creation_input_tokens\":1,\"output_tokens\":1}}}",
        &ev, &why), 0);
    assert_int_equal(ev.has_usage, 1);
    assert_int_equal(ev.prompt_tokens, 13);
    assert_int_equal(ev.cached_tokens, 7);
    assert_int_equal(ev.completion_tokens, 1);
    assert_int_equal(dec(DIALECT_ANTHROPIC, "content_block_delta",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}",
        &ev, &why), 0);
    assert_int_equal(ev.is_content, 1);
    assert_slice(ev.text, ev.text_len, "Hi");
    assert_int_equal(dec(DIALECT_ANTHROPIC, "content_block_delta",
        "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\"\"}}",
        &ev, &why), 0);
    assert_slice(ev.text, ev.text_len, "{\"a\"");
    assert_int_equal(dec(DIALECT_ANTHROPIC, "content_block_delta",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"abc\"}}",
        &ev, &why), 0);
    assert_int_equal(ev.is_content, 0);
    assert_int_equal(dec(DIALECT_ANTHROPIC, "message_delta",
        "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":9}}",
        &ev, &why), 0);
    assert_slice(ev.finish_reason, ev.finish_reason_len, "max_tokens");
    assert_int_equal(ev.completion_tokens, 9);
    assert_int_equal(ev.prompt_tokens, -1);
    assert_int_equal(dec(DIALECT_ANTHROPIC, "ping", "{\"type\": \"ping\"}", &ev, &why), 0);
    assert_int_equal(ev.is_content + ev.is_done + ev.is_error + ev.has_usage, 0);
    assert_int_equal(dec(DIALECT_ANTHROPIC, "message_stop", "{\"type\":\"message_stop\"}", &ev, &why), 0);
    assert_int_equal(ev.is_done, 1);
    /* the JSON "type" is authoritative; the SSE event name is the fallback */
    assert_int_equal(dec(DIALECT_ANTHROPIC, "message_stop", "{}", &ev, &why), 0);
    assert_int_equal(ev.is_done, 1);
    assert_int_equal(dec(DIALECT_ANTHROPIC, "error",
        "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}", &ev, &why), 0);
    assert_int_equal(ev.is_error, 1);
    assert_slice(ev.error_message, ev.error_message_len, "Overloaded");
    /* an error event whose data is not JSON */
    assert_int_equal(dec(DIALECT_ANTHROPIC, "error", "upstream died", &ev, &why), 0);
    assert_int_equal(ev.is_error, 1);
    assert_slice(ev.error_message, ev.error_message_len, "upstream died");
}

static void test_ollama_and_tgi_events(void **state)
{
    (void)state;
    struct dialect_event ev;
    const char *why;
    assert_int_equal(dec(DIALECT_OLLAMA_GENERATE, NULL,
        "{\"model\":\"m\",\"response\":\" sky\",\"done\":false}", &ev, &why), 0);
    assert_slice(ev.text, ev.text_len, " sky");
    assert_int_equal(ev.is_done, 0);
    assert_int_equal(dec(DIALECT_OLLAMA_CHAT, NULL,
        "{\"message\":{\"role\":\"assistant\",\"content\":\"\",\"thinking\":\"hm\"},\"done\":false}", &ev, &why), 0);
    assert_slice(ev.text, ev.text_len, "hm");
    assert_int_equal(dec(DIALECT_OLLAMA_CHAT, NULL,
        "{\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":{\"name\":\"f\",\"arguments\":{\"x\":1}}}]},\"done\":false}",
        &ev, &why), 0);
    assert_slice(ev.text, ev.text_len, "{\"x\":1}");
    assert_int_equal(dec(DIALECT_OLLAMA_CHAT, NULL,
        "{\"done\":true,\"done_reason\":\"length\",\"prompt_eval_count\":26,\"eval_count\":290}", &ev, &why), 0);
    assert_int_equal(ev.is_done, 1);
    assert_int_equal(ev.is_content, 0);
    assert_int_equal(ev.has_usage, 1);
    assert_int_equal(ev.prompt_tokens, 26);
    assert_int_equal(ev.completion_tokens, 290);
    assert_slice(ev.finish_reason, ev.finish_reason_len, "length");
    assert_int_equal(dec(DIALECT_OLLAMA_GENERATE, NULL, "{\"error\":\"model not found\"}", &ev, &why), 0);
    assert_int_equal(ev.is_error, 1);
    assert_slice(ev.error_message, ev.error_message_len, "model not found");

    assert_int_equal(dec(DIALECT_TGI, NULL,
        "{\"token\":{\"id\":1,\"text\":\" a\",\"logprob\":-1.0,\"special\":false},\"generated_text\":null,\"details\":null}",
        &ev, &why), 0);
    assert_int_equal(ev.tokens, 1);
    assert_int_equal(ev.is_content, 1);
    assert_slice(ev.text, ev.text_len, " a");
    /* special token: generated (1 token) but not content */
    assert_int_equal(dec(DIALECT_TGI, NULL,
        "{\"token\":{\"id\":2,\"text\":\"</s>\",\"logprob\":0,\"special\":true},\"generated_text\":\" a\",\"details\":{\"finish_reason\":\"eos_token\",\"generated_tokens\":2,\"seed\":null}}",
        &ev, &why), 0);
    assert_int_equal(ev.tokens, 1);
    assert_int_equal(ev.is_content, 0);
    assert_null(ev.text);
    assert_int_equal(ev.is_done, 1);
    assert_int_equal(ev.completion_tokens, 2);
    assert_slice(ev.finish_reason, ev.finish_reason_len, "eos_token");
    assert_int_equal(dec(DIALECT_TGI, NULL, "{\"error\":\"Request failed during generation\",\"error_type\":\"generation\"}", &ev, &why), 0);
    assert_int_equal(ev.is_error, 1);
    assert_slice(ev.error_message, ev.error_message_len, "Request failed during generation");
}

static void test_unknown_dialect_guess(void **state)
{
    (void)state;
    struct dialect_event ev;
    const char *why;
    assert_int_equal(dec(DIALECT_UNKNOWN, NULL, "{\"choices\":[{\"delta\":{\"content\":\"o\"}}]}", &ev, &why), 0);
    assert_slice(ev.text, ev.text_len, "o");
    assert_int_equal(dec(DIALECT_UNKNOWN, NULL, "{\"type\":\"message_stop\"}", &ev, &why), 0);
    assert_int_equal(ev.is_done, 1);
    assert_int_equal(dec(DIALECT_UNKNOWN, NULL, "{\"response\":\"r\",\"done\":false}", &ev, &why), 0);
    assert_slice(ev.text, ev.text_len, "r");
    assert_int_equal(dec(DIALECT_UNKNOWN, NULL, "{\"token\":{\"text\":\"t\",\"special\":false}}", &ev, &why), 0);
    assert_int_equal(ev.tokens, 1);
    assert_int_equal(dec(DIALECT_UNKNOWN, NULL, "{\"error\":{\"message\":\"m\"}}", &ev, &why), 0);
    assert_int_equal(ev.is_error, 1);
}

/* OpenAI Responses: typed events, terminal events with the response object, error events,
 * whole bodies; and what an unknown dialect makes of them and of an API nobody knows. */
static void test_responses_events(void **state)
{
    (void)state;
    struct dialect_event ev;
    const char *why;
    const enum dialect_id R = DIALECT_OPENAI_RESPONSES;
    assert_int_equal(dec(R, "response.output_text.delta",
                         "{\"type\":\"response.output_text.delta\",\"sequence_number\":4,"
                         "\"item_id\":\"m\",\"output_index\":0,\"content_index\":0,"
                         "\"delta\":\"Hi \\u00e9\",\"logprobs\":[]}", &ev, &why), 0);
    assert_int_equal(ev.is_content, 1);
    assert_slice(ev.text, ev.text_len, "Hi \xc3\xa9");
    assert_int_equal(ev.dialect, R);
    /* the SSE event name stands in for a missing type */
    assert_int_equal(dec(R, "response.reasoning_text.delta", "{\"delta\":\"hm\"}", &ev, &why), 0);
    assert_slice(ev.text, ev.text_len, "hm");
    assert_int_equal(dec(R, NULL, "{\"type\":\"response.function_call_arguments.delta\","
                                  "\"delta\":\"{\\\"a\\\"\"}", &ev, &why), 0);
    assert_slice(ev.text, ev.text_len, "{\"a\"");
    /* the .done events repeat the text: not content */
    assert_int_equal(dec(R, NULL, "{\"type\":\"response.output_text.done\",\"text\":\"Hi\"}", &ev, &why), 0);
    assert_int_equal(ev.is_content, 0);
    assert_null(ev.text);
    assert_int_equal(dec(R, NULL, "{\"type\":\"response.created\",\"response\":{\"status\":"
                                  "\"in_progress\",\"usage\":null}}", &ev, &why), 0);
    assert_int_equal(ev.is_done, 0);
    assert_int_equal(ev.has_usage, 0);
    assert_int_equal(dec(R, NULL, "{\"type\":\"response.completed\",\"response\":{\"status\":"
                                  "\"completed\",\"output\":[{\"type\":\"message\",\"content\":"
                                  "[{\"type\":\"output_text\",\"text\":\"not again\"}]}],\"usage\":"
                                  "{\"input_tokens\":9,\"input_tokens_details\":{\"cached_tokens\":"
                                  "4},\"output_tokens\":7,\"output_tokens_details\":"
                                  "{\"reasoning_tokens\":3},\"total_tokens\":16}}}", &ev, &why), 0);
    assert_int_equal(ev.is_done, 1);
    assert_int_equal(ev.is_content, 0); /* the final object's text was streamed already */
    assert_int_equal(ev.has_usage, 1);
    assert_int_equal(ev.prompt_tokens, 9);
    assert_int_equal(ev.completion_tokens, 7);
    assert_int_equal(ev.cached_tokens, 4);
    assert_int_equal(ev.reasoning_tokens, 3);
    assert_slice(ev.finish_reason, ev.finish_reason_len, "completed");
    assert_int_equal(dec(R, NULL, "{\"type\":\"response.incomplete\",\"response\":{\"status\":"
                                  "\"incomplete\",\"incomplete_details\":{\"reason\":"
                                  "\"max_output_tokens\"}}}", &ev, &why), 0);
    assert_slice(ev.finish_reason, ev.finish_reason_len, "max_output_tokens");
    assert_int_equal(dec(R, NULL, "{\"type\":\"response.failed\",\"response\":{\"status\":"
                                  "\"failed\",\"error\":{\"code\":\"server_error\",\"message\":"
                                  "\"boom\"}}}", &ev, &why), 0);
    assert_int_equal(ev.is_error, 1);
    assert_int_equal(ev.is_done, 1);
    assert_slice(ev.error_message, ev.error_message_len, "boom");
    assert_int_equal(dec(R, "error", "{\"type\":\"error\",\"code\":\"rate_limit_exceeded\","
                                     "\"message\":\"slow down\",\"param\":null}", &ev, &why), 0);
    assert_int_equal(ev.is_error, 1);
    assert_slice(ev.error_message, ev.error_message_len, "slow down");
    /* whole body */
    assert_int_equal(dec(R, NULL, "{\"object\":\"response\",\"status\":\"completed\",\"output\":"
                                  "[{\"type\":\"message\",\"content\":[{\"type\":\"refusal\","
                                  "\"refusal\":\"no\"}]}],\"usage\":{\"input_tokens\":1,"
                                  "\"output_tokens\":1}}", &ev, &why), 0);
    assert_slice(ev.text, ev.text_len, "no");
    assert_int_equal(ev.is_done, 1);
    /* broken events of a known API are malformed, with the reason */
    struct { const char *data, *why; } bad[] = {
        {"{\"type\":\"response.output_text.delta\",\"delta\":7}", "delta is not a string"},
        {"{\"type\":\"response.output_text.delta\"}", "delta event without delta"},
        {"{\"type\":5}", "responses event type is not a string"},
        {"{\"type\":\"response.completed\"}", "terminal event without a response object"},
        {"{\"type\":\"response.completed\",\"response\":{\"usage\":{\"input_tokens\":-1}}}",
         "usage.input_tokens is not a count"},
        {"{\"type\":\"response.output_text.delta\",\"delta\":\"x\"", "event JSON is truncated"},
        {"[1]", "event JSON is not an object"},
        {"{\"id\":\"x\"}", "body is neither a response object nor a typed event"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why = NULL;
        assert_int_equal(dec(R, NULL, bad[i].data, &ev, &why), DIALECT_ERR_MALFORMED);
        assert_string_equal(why, bad[i].why);
        assert_int_equal(ev.is_content, 0);
    }
    /* unknown dialect: a Responses event says what it is; no known shape → unsupported */
    assert_int_equal(dec(DIALECT_UNKNOWN, NULL, "{\"type\":\"response.output_text.delta\","
                                                "\"delta\":\"d\"}", &ev, &why), 0);
    assert_int_equal(ev.dialect, R);
    assert_slice(ev.text, ev.text_len, "d");
    assert_int_equal(dec(DIALECT_UNKNOWN, NULL, "{\"object\":\"response\",\"output\":[]}", &ev, &why), 0);
    assert_int_equal(ev.dialect, R);
    assert_int_equal(dec(DIALECT_UNKNOWN, NULL, "{\"type\":\"error\",\"code\":\"c\",\"message\":"
                                                "\"m\"}", &ev, &why), 0);
    assert_int_equal(ev.dialect, R);
    assert_int_equal(ev.is_error, 1);
    assert_int_equal(dec(DIALECT_UNKNOWN, NULL, "{\"type\":\"error\",\"error\":{\"type\":"
                                                "\"overloaded_error\",\"message\":\"o\"}}", &ev, &why), 0);
    assert_int_equal(ev.dialect, DIALECT_ANTHROPIC);
    static const char *const unknown[] = {"{\"seq\":1,\"piece\":\"x\"}", "{\"type\":\"token\"}",
                                          "{\"response\":{\"text\":\"x\"}}", "plain text", "[1,2]"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        why = NULL;
        assert_int_equal(dec(DIALECT_UNKNOWN, NULL, unknown[i], &ev, &why), DIALECT_ERR_UNSUPPORTED);
        assert_non_null(why);
        assert_int_equal(ev.is_content, 0);
    }
}

static void test_malformed_events(void **state)
{
    (void)state;
    static const struct { enum dialect_id d; const char *type; const char *data; const char *why; } bad[] = {
        { DIALECT_OPENAI_CHAT, NULL, "{\"choices\":[", "event JSON is truncated" },
        { DIALECT_OPENAI_CHAT, NULL, "not json", "event data is not valid JSON" },
        { DIALECT_OPENAI_CHAT, NULL, "[1,2]", "event JSON is not an object" },
        { DIALECT_OPENAI_CHAT, NULL, "\"str\"", "event JSON is not an object" },
        { DIALECT_OPENAI_CHAT, NULL, "{\"choices\":[{\"delta\":{\"content\":\"\xC3\x28\"}}]}", "invalid UTF-8 in event JSON" },
        { DIALECT_OPENAI_CHAT, NULL, "{\"choices\":\"x\"}", "choices is not an array" },
        { DIALECT_OPENAI_CHAT, NULL, "{\"choices\":[7]}", "choices item is not an object" },
        { DIALECT_OPENAI_CHAT, NULL, "{\"choices\":[{\"delta\":[]}]}", "delta/message is not an object" },
        { DIALECT_OPENAI_CHAT, NULL, "{\"choices\":[{\"delta\":{\"content\":5}}]}", "delta.content is not a string" },
        { DIALECT_OPENAI_CHAT, NULL, "{\"choices\":[{\"finish_reason\":1}]}", "finish_reason is not a string" },
        { DIALECT_OPENAI_CHAT, NULL, "{\"choices\":[],\"usage\":{\"prompt_tokens\":\"9\"}}", "usage.prompt_tokens is not a count" },
        { DIALECT_OPENAI_CHAT, NULL, "{\"choices\":[],\"usage\":{\"completion_tokens\":-2}}", "usage.completion_tokens is not a count" },
        { DIALECT_OPENAI_CHAT, NULL, "{\"choices\":[],\"usage\":[]}", "usage is not an object" },
        { DIALECT_OPENAI_CHAT, NULL, "{\"choices\":[{\"delta\":{\"tool_calls\":{}}}]}", "tool_calls is not an array" },
        { DIALECT_ANTHROPIC, "content_block_delta", "{\"type\":\"content_block_delta\"}", "content_block_delta without a delta object" },
        { DIALECT_ANTHROPIC, "content_block_delta", "{\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\"}}", "text_delta without text" },
        { DIALECT_ANTHROPIC, "content_block_delta", "{\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":1}}", "text_delta text is not a string" },
        { DIALECT_ANTHROPIC, "message_start", "{\"type\":\"message_start\"}", "message_start without a message object" },
        { DIALECT_ANTHROPIC, NULL, "{\"x\":1}", "anthropic event without a type" },
        { DIALECT_ANTHROPIC, "message_delta", "{\"type\":\"message_delta\",\"usage\":{\"output_tokens\":1.5}}", "usage.output_tokens is not a count" },
        { DIALECT_OLLAMA_CHAT, NULL, "{\"done\":\"yes\"}", "done is not a boolean" },
        { DIALECT_OLLAMA_CHAT, NULL, "{\"message\":\"hi\"}", "message is not an object" },
        { DIALECT_OLLAMA_GENERATE, NULL, "{\"response\":1}", "response is not a string" },
        { DIALECT_OLLAMA_GENERATE, NULL, "{\"eval_count\":\"3\"}", "eval_count is not a count" },
        { DIALECT_TGI, NULL, "{\"token\":{\"text\":\"a\",\"special\":\"no\"}}", "token.special is not a boolean" },
        { DIALECT_TGI, NULL, "{\"token\":{\"id\":1}}", "token without text" },
        { DIALECT_TGI, NULL, "{\"token\":[]}", "token is not an object" },
        { DIALECT_TGI, NULL, "{\"generated_text\":3}", "generated_text is not a string" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct dialect_event ev;
        const char *why = NULL;
        int rc = dec(bad[i].d, bad[i].type, bad[i].data, &ev, &why);
        if (rc != DIALECT_ERR_MALFORMED || !why || strcmp(why, bad[i].why) != 0)
            fail_msg("case %zu (%s): rc %d why \"%s\", want \"%s\"", i, bad[i].data, rc,
                     why ? why : "(null)", bad[i].why);
        /* a failed decode leaves a cleared event */
        assert_int_equal(ev.is_content, 0);
        assert_null(ev.text);
    }
}

static void test_error_message(void **state)
{
    (void)state;
    char out[64];
    static const struct { const char *body; const char *want; } cases[] = {
        { "{\"error\":{\"message\":\"Rate limit \\\"x\\\"\",\"type\":\"requests\"}}", "Rate limit \"x\"" },
        { "{\"type\":\"error\",\"error\":{\"type\":\"not_found_error\",\"message\":\"nope\"}}", "nope" },
        { "{\"error\":\"model 'x' not found\"}", "model 'x' not found" },
        { "{\"error\":\"Input validation error\",\"error_type\":\"validation\"}", "Input validation error" },
        { "{\"object\":\"error\",\"message\":\"vllm says no\",\"code\":400}", "vllm says no" },
        { "{\"detail\":\"Not Found\"}", "Not Found" },
        { "{\"detail\":[{\"loc\":[\"body\"],\"msg\":\"field required\"}]}", "field required" },
        { "\n  upstream connect error\r\nsecond line", "upstream connect error" },
        { "{\"unrelated\":1}", "{\"unrelated\":1}" },
        { "", "" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dialect_error_message(cases[i].body, strlen(cases[i].body), out, sizeof out);
        assert_string_equal(out, cases[i].want);
    }
    /* truncated to the output size, always terminated */
    char small[5];
    static const char body[] = "{\"error\":\"abcdefgh\"}";
    dialect_error_message(body, sizeof body - 1, small, sizeof small);
    assert_string_equal(small, "abcd");
    dialect_error_message(NULL, 0, small, sizeof small);
    assert_string_equal(small, "");
}

static void test_names_paths_framing(void **state)
{
    (void)state;
    for (int d = 0; d < DIALECT_COUNT; d++)
        assert_int_equal(dialect_parse_name(dialect_name((enum dialect_id)d)), d);
    assert_int_equal(dialect_parse_name("openai"), DIALECT_OPENAI_CHAT);
    assert_int_equal(dialect_parse_name("ollama"), DIALECT_OLLAMA_CHAT);
    assert_int_equal(dialect_parse_name("OpenAI"), DIALECT_UNKNOWN);
    assert_string_equal(dialect_name((enum dialect_id)99), "unknown");

    static const struct { const char *path; enum dialect_id d; } paths[] = {
        { "/v1/chat/completions", DIALECT_OPENAI_CHAT },
        { "/openai/v1/chat/completions?api-version=2024", DIALECT_OPENAI_CHAT },
        { "/v1/completions/", DIALECT_OPENAI_COMPLETIONS },
        { "/v1/messages", DIALECT_ANTHROPIC },
        { "/v1/messages/count_tokens", DIALECT_UNKNOWN },
        { "/api/generate", DIALECT_OLLAMA_GENERATE },
        { "/api/chat", DIALECT_OLLAMA_CHAT },
        { "/generate_stream", DIALECT_TGI },
        { "/generate", DIALECT_TGI },
        { "/serving-endpoints/llama/invocations", DIALECT_OPENAI_CHAT },
        { "/invocations", DIALECT_UNKNOWN },
        { "/v1/responses", DIALECT_OPENAI_RESPONSES },
        { "/openai/v1/responses/?api-version=preview", DIALECT_OPENAI_RESPONSES },
        { "/health", DIALECT_UNKNOWN },
        { "", DIALECT_UNKNOWN },
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (dialect_from_path(paths[i].path, strlen(paths[i].path)) != paths[i].d)
            fail_msg("%s", paths[i].path);

    cJSON *b = cJSON_Parse("{\"inputs\":\"x\"}");
    assert_int_equal(dialect_from_request("/x", 2, b), DIALECT_TGI);
    assert_int_equal(dialect_from_request("/v1/messages", 12, b), DIALECT_ANTHROPIC);
    cJSON_Delete(b);
    b = cJSON_Parse("{\"messages\":[]}");
    assert_int_equal(dialect_from_request("/proxy", 6, b), DIALECT_OPENAI_CHAT);
    cJSON_Delete(b);
    b = cJSON_Parse("{\"prompt\":\"p\"}");
    assert_int_equal(dialect_from_request("/proxy", 6, b), DIALECT_OPENAI_COMPLETIONS);
    cJSON_Delete(b);
    assert_int_equal(dialect_from_request("/proxy", 6, NULL), DIALECT_UNKNOWN);
    b = cJSON_Parse("{\"model\":\"m\",\"input\":\"hi\"}");
    assert_int_equal(dialect_from_request("/proxy", 6, b), DIALECT_OPENAI_RESPONSES);
    assert_int_equal(dialect_from_request("/v1/embeddings", 14, b), DIALECT_UNKNOWN);
    assert_int_equal(dialect_from_request("/v1/moderations?x", 17, b), DIALECT_UNKNOWN);
    assert_int_equal(dialect_from_request(NULL, 0, b), DIALECT_OPENAI_RESPONSES);
    cJSON_Delete(b);
    assert_int_equal(dialect_framing_for(DIALECT_OPENAI_RESPONSES, 1, NULL), FRAMING_SSE);
    assert_int_equal(dialect_framing_for(DIALECT_OPENAI_RESPONSES, -1, NULL), FRAMING_JSON);
    struct dialect_request_info rri;
    /* Responses request: max_output_tokens, instructions + input (string or items) */
    b = cJSON_Parse("{\"model\":\"o4\",\"stream\":true,\"max_output_tokens\":64,"
                    "\"instructions\":\"be brief\",\"input\":[{\"role\":\"user\",\"content\":"
                    "\"two words\"},{\"role\":\"user\",\"content\":[{\"type\":\"input_text\","
                    "\"text\":\"abc\"}]}]}");
    assert_int_equal(dialect_request_info(DIALECT_OPENAI_RESPONSES, b, &rri), 0);
    assert_string_equal(rri.model, "o4");
    assert_int_equal(rri.stream, 1);
    assert_int_equal(rri.max_tokens, 64);
    assert_int_equal(rri.prompt_bytes, 8 + 9 + 3);
    assert_int_equal(rri.prompt_words, 2 + 2 + 1);
    cJSON_Delete(b);
    b = cJSON_Parse("{\"input\":\"one two three\"}");
    assert_int_equal(dialect_request_info(DIALECT_OPENAI_RESPONSES, b, &rri), 0);
    assert_int_equal(rri.stream, 0);
    assert_int_equal(rri.max_tokens, -1);
    assert_int_equal(rri.prompt_words, 3);
    cJSON_Delete(b);

    assert_int_equal(dialect_framing_for(DIALECT_OPENAI_CHAT, 0, "Text/Event-Stream; charset=utf-8"), FRAMING_SSE);
    assert_int_equal(dialect_framing_for(DIALECT_OLLAMA_CHAT, 1, "application/x-ndjson"), FRAMING_NDJSON);
    assert_int_equal(dialect_framing_for(DIALECT_OPENAI_CHAT, 1, "application/json"), FRAMING_JSON);
    assert_int_equal(dialect_framing_for(DIALECT_OPENAI_CHAT, 1, "application/jsonx"), FRAMING_SSE);
    assert_int_equal(dialect_framing_for(DIALECT_OPENAI_CHAT, 1, NULL), FRAMING_SSE);
    assert_int_equal(dialect_framing_for(DIALECT_OLLAMA_GENERATE, 1, NULL), FRAMING_NDJSON);
    assert_int_equal(dialect_framing_for(DIALECT_OLLAMA_GENERATE, -1, NULL), FRAMING_NDJSON);
    assert_int_equal(dialect_framing_for(DIALECT_ANTHROPIC, 0, NULL), FRAMING_JSON);
    assert_int_equal(dialect_framing_for(DIALECT_OPENAI_CHAT, -1, NULL), FRAMING_JSON);
    assert_int_equal(dialect_framing_for(DIALECT_UNKNOWN, -1, "text/plain"), FRAMING_UNKNOWN);
}

static void test_request_info(void **state)
{
    (void)state;
    struct dialect_request_info ri;
    cJSON *b = cJSON_Parse(
        "{\"model\":\"llama\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
        "\"max_tokens\":128,\"ignore_eos\":true,\"messages\":[{\"role\":\"system\",\"content\":\"be  brief\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi there\"}]}]}");
    assert_int_equal(dialect_request_info(DIALECT_OPENAI_CHAT, b, &ri), 0);
    assert_string_equal(ri.model, "llama");
    assert_int_equal(ri.stream, 1);
    assert_int_equal(ri.include_usage, 1);
    assert_int_equal(ri.max_tokens, 128);
    assert_int_equal(ri.ignore_eos, 1);
    assert_int_equal(ri.prompt_bytes, 9 + 8);
    assert_int_equal(ri.prompt_words, 4);
    cJSON_Delete(b);

    b = cJSON_Parse("{\"model\":\"m\",\"prompt\":\"a b c\",\"options\":{\"num_predict\":42}}");
    assert_int_equal(dialect_request_info(DIALECT_OLLAMA_GENERATE, b, &ri), 0);
    assert_int_equal(ri.stream, 1); /* Ollama's default */
    assert_int_equal(ri.max_tokens, 42);
    assert_int_equal(ri.prompt_words, 3);
    cJSON_Delete(b);

    b = cJSON_Parse("{\"inputs\":\"x y\",\"parameters\":{\"max_new_tokens\":20}}");
    assert_int_equal(dialect_request_info(DIALECT_TGI, b, &ri), 0);
    assert_int_equal(ri.stream, -1);
    assert_int_equal(ri.max_tokens, 20);
    assert_null(ri.model);
    cJSON_Delete(b);

    b = cJSON_Parse("{\"model\":\"claude\",\"max_tokens\":1024,\"system\":\"s\",\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]}");
    assert_int_equal(dialect_request_info(DIALECT_ANTHROPIC, b, &ri), 0);
    assert_int_equal(ri.stream, 0);
    assert_int_equal(ri.max_tokens, 1024);
    assert_int_equal(ri.prompt_bytes, 2);
    cJSON_Delete(b);

    b = cJSON_Parse("{\"max_completion_tokens\":64}");
    assert_int_equal(dialect_request_info(DIALECT_OPENAI_CHAT, b, &ri), 0);
    assert_int_equal(ri.max_tokens, 64);
    cJSON_Delete(b);

    b = cJSON_Parse("[1]");
    assert_int_equal(dialect_request_info(DIALECT_OPENAI_CHAT, b, &ri), -1);
    cJSON_Delete(b);
}

static char *set_and_print(enum dialect_id d, const char *json, int which, int64_t n)
{
    cJSON *b = cJSON_Parse(json);
    assert_non_null(b);
    int rc = -9;
    switch (which) {
    case 0: rc = dialect_set_model(d, b, "new"); break;
    case 1: rc = dialect_set_max_tokens(d, b, n); break;
    case 2: rc = dialect_set_ignore_eos(d, b, (int)n); break;
    case 3: rc = dialect_set_stream(d, b, (int)n); break;
    case 4: rc = dialect_set_include_usage(d, b); break;
    }
    assert_int_equal(rc, 0);
    char *s = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    return s;
}

#define ASSERT_SET(d, json, which, n, want) do { \
        char *s_ = set_and_print((d), (json), (which), (n)); \
        assert_string_equal(s_, (want)); \
        free(s_); \
    } while (0)

static void test_rewriters(void **state)
{
    (void)state;
    ASSERT_SET(DIALECT_OPENAI_CHAT, "{\"model\":\"old\",\"x\":1}", 0, 0, "{\"model\":\"new\",\"x\":1}");
    ASSERT_SET(DIALECT_OPENAI_CHAT, "{}", 0, 0, "{\"model\":\"new\"}");
    ASSERT_SET(DIALECT_TGI, "{\"inputs\":\"i\"}", 0, 0, "{\"inputs\":\"i\"}");
    ASSERT_SET(DIALECT_OPENAI_CHAT, "{\"max_tokens\":5}", 1, 77, "{\"max_tokens\":77}");
    ASSERT_SET(DIALECT_OPENAI_CHAT, "{\"max_tokens\":5,\"max_completion_tokens\":5}", 1, 77,
               "{\"max_tokens\":77,\"max_completion_tokens\":77}");
    ASSERT_SET(DIALECT_OPENAI_CHAT, "{\"max_completion_tokens\":5}", 1, 77, "{\"max_completion_tokens\":77}");
    ASSERT_SET(DIALECT_OPENAI_COMPLETIONS, "{}", 1, 3, "{\"max_tokens\":3}");
    ASSERT_SET(DIALECT_ANTHROPIC, "{\"max_tokens\":1024}", 1, 8, "{\"max_tokens\":8}");
    ASSERT_SET(DIALECT_OLLAMA_CHAT, "{}", 1, 9, "{\"options\":{\"num_predict\":9}}");
    ASSERT_SET(DIALECT_OLLAMA_CHAT, "{\"options\":{\"temperature\":0}}", 1, 9,
               "{\"options\":{\"temperature\":0,\"num_predict\":9}}");
    ASSERT_SET(DIALECT_TGI, "{\"parameters\":{\"max_new_tokens\":1}}", 1, 20,
               "{\"parameters\":{\"max_new_tokens\":20}}");
    ASSERT_SET(DIALECT_OPENAI_CHAT, "{}", 2, 1, "{\"ignore_eos\":true}");
    ASSERT_SET(DIALECT_OPENAI_CHAT, "{\"ignore_eos\":true}", 2, 0, "{}");
    ASSERT_SET(DIALECT_ANTHROPIC, "{}", 2, 1, "{}");
    ASSERT_SET(DIALECT_OPENAI_CHAT, "{\"stream\":false}", 3, 1, "{\"stream\":true}");
    ASSERT_SET(DIALECT_OPENAI_CHAT, "{\"stream\":true,\"stream_options\":{\"include_usage\":true}}", 3, 0,
               "{\"stream\":false}");
    ASSERT_SET(DIALECT_OPENAI_CHAT, "{}", 4, 0, "{\"stream_options\":{\"include_usage\":true}}");
    ASSERT_SET(DIALECT_OPENAI_CHAT, "{\"stream_options\":{\"include_usage\":false}}", 4, 0,
               "{\"stream_options\":{\"include_usage\":true}}");
    ASSERT_SET(DIALECT_ANTHROPIC, "{}", 4, 0, "{}");
    /* Responses: max_output_tokens; no ignore_eos and no include_usage in that API */
    ASSERT_SET(DIALECT_OPENAI_RESPONSES, "{\"max_output_tokens\":5}", 1, 9, "{\"max_output_tokens\":9}");
    ASSERT_SET(DIALECT_OPENAI_RESPONSES, "{\"input\":\"x\"}", 1, 9, "{\"input\":\"x\",\"max_output_tokens\":9}");
    ASSERT_SET(DIALECT_OPENAI_RESPONSES, "{}", 2, 1, "{}");
    ASSERT_SET(DIALECT_OPENAI_RESPONSES, "{}", 4, 0, "{}");
    ASSERT_SET(DIALECT_OPENAI_RESPONSES, "{\"model\":\"a\"}", 0, 0, "{\"model\":\"new\"}");
    ASSERT_SET(DIALECT_OPENAI_RESPONSES, "{}", 3, 1, "{\"stream\":true}");
    cJSON *arr = cJSON_Parse("[]");
    assert_int_equal(dialect_set_model(DIALECT_OPENAI_CHAT, arr, "m"), -1);
    assert_int_equal(dialect_set_max_tokens(DIALECT_OPENAI_CHAT, arr, 1), -1);
    assert_int_equal(dialect_set_stream(DIALECT_OPENAI_CHAT, arr, 1), -1);
    assert_int_equal(dialect_set_include_usage(DIALECT_OPENAI_CHAT, arr), -1);
    assert_int_equal(dialect_set_ignore_eos(DIALECT_OPENAI_CHAT, arr, 1), -1);
    cJSON_Delete(arr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openai_chat_events),
        cmocka_unit_test(test_anthropic_events),
        cmocka_unit_test(test_ollama_and_tgi_events),
        cmocka_unit_test(test_unknown_dialect_guess),
        cmocka_unit_test(test_responses_events),
        cmocka_unit_test(test_malformed_events),
        cmocka_unit_test(test_error_message),
        cmocka_unit_test(test_names_paths_framing),
        cmocka_unit_test(test_request_info),
        cmocka_unit_test(test_rewriters),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
