/* test_sim_gen.c — llmtrace-sim's response bytes (sim/gen.h): seeded words, each dialect's
 * streamed events and bodies byte for byte, the injected malformed event, error shapes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "gen.h"

static struct buf b;
static struct buf tb; /* text() result */

static int setup(void **state)
{
    (void)state;
    buf_init(&b, 1 << 20);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    buf_free(&b);
    buf_free(&tb);
    return 0;
}

static const char *text(uint64_t seed, int64_t from, int64_t n)
{
    buf_free(&tb);
    buf_init(&tb, 1 << 20);
    assert_int_equal(gen_append_text(&tb, seed, from, n), 0);
    return tb.p ? tb.p : "";
}

static void init(struct gen_req *r, enum dialect_id d)
{
    memset(r, 0, sizeof(*r));
    gen_req_init(r, d, 7, "m\"x", 3, 1700000000);
    r->n_in = 12;
    r->n_out = 3;
    r->seed = 42;
    r->stream = 1;
}

static void test_words(void **state)
{
    char all[256];
    (void)state;
    /* deterministic, printable, space-separated; any split gives the same text */
    snprintf(all, sizeof(all), "%s", text(42, 0, 5));
    assert_string_equal(all, text(42, 0, 5));
    {
        char joined[256];
        snprintf(joined, sizeof(joined), "%s", text(42, 0, 2));
        strcat(joined, text(42, 2, 3));
        assert_string_equal(all, joined);
    }
    assert_int_not_equal(all[0], ' ');
    assert_int_equal(text(42, 3, 1)[0], ' ');
    assert_string_not_equal(all, text(43, 0, 5));
    {
        const char *p;
        int spaces = 0;
        for (p = all; *p; p++) {
            assert_true((*p >= 'a' && *p <= 'z') || *p == ' ');
            spaces += *p == ' ';
        }
        assert_int_equal(spaces, 4);
    }
}

static void test_openai_chat(void **state)
{
    struct gen_req r;
    char want[1024];
    (void)state;
    init(&r, DIALECT_OPENAI_CHAT);
    r.include_usage = 1;
    r.finish_length = 1;
    assert_string_equal(r.id, "chatcmpl-sim-7");
    assert_string_equal(r.model, "m\\\"x");
    buf_reset(&b);
    assert_int_equal(gen_role_chunk(&b, &r), 0);
    assert_string_equal(b.p,
        "data: {\"id\":\"chatcmpl-sim-7\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
        "\"model\":\"m\\\"x\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
        "\"logprobs\":null,\"finish_reason\":null}]}\n\n");
    buf_reset(&b);
    assert_int_equal(gen_content(&b, &r, 1, 2, 0, 0, 0), 0);
    snprintf(want, sizeof(want),
             "data: {\"id\":\"chatcmpl-sim-7\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
             "\"model\":\"m\\\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s\"},"
             "\"logprobs\":null,\"finish_reason\":null}]}\n\n",
             text(42, 1, 2));
    assert_string_equal(b.p, want);
    assert_int_equal(gen_n_trailer(&r), 3);
    buf_reset(&b);
    gen_trailer(&b, &r, 0, 0, 0, 0);
    gen_trailer(&b, &r, 1, 0, 0, 0);
    gen_trailer(&b, &r, 2, 0, 0, 0);
    assert_string_equal(b.p,
        "data: {\"id\":\"chatcmpl-sim-7\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
        "\"model\":\"m\\\"x\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,"
        "\"finish_reason\":\"length\"}]}\n\n"
        "data: {\"id\":\"chatcmpl-sim-7\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
        "\"model\":\"m\\\"x\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3,"
        "\"total_tokens\":15}}\n\n"
        "data: [DONE]\n\n");
    r.include_usage = 0;
    assert_int_equal(gen_n_trailer(&r), 2);
    buf_reset(&b);
    gen_trailer(&b, &r, 1, 0, 0, 0);
    assert_string_equal(b.p, "data: [DONE]\n\n");
    /* non-streaming body: valid JSON with usage */
    buf_reset(&b);
    assert_int_equal(gen_body(&b, &r, 0, 0, 0), 0);
    {
        cJSON *j = cJSON_Parse(b.p);
        cJSON *u;
        assert_non_null(j);
        u = cJSON_GetObjectItem(j, "usage");
        assert_int_equal(cJSON_GetObjectItem(u, "completion_tokens")->valueint, 3);
        assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(
                                cJSON_GetObjectItem(j, "choices"), 0), "message"), "content")->valuestring,
                            text(42, 0, 3));
        cJSON_Delete(j);
    }
}

/* Regression (found by fuzz.sim_request): an empty model name must give "", not a read past
 * an unterminated buffer. */
static void test_empty_model(void **state)
{
    struct gen_req r;
    (void)state;
    gen_req_init(&r, DIALECT_OPENAI_CHAT, 1, "", 0, 1);
    assert_string_equal(r.model, "");
    gen_req_init(&r, DIALECT_OPENAI_CHAT, 1, "a\tb", 3, 1);
    assert_string_equal(r.model, "a\\tb");
}

static void test_malformed(void **state)
{
    struct gen_req r;
    char want[1024];
    (void)state;
    init(&r, DIALECT_OPENAI_COMPLETIONS);
    buf_reset(&b);
    assert_int_equal(gen_content(&b, &r, 0, 1, 0, 1, 0), 0);
    snprintf(want, sizeof(want),
             "data: {\"id\":\"cmpl-sim-7\",\"object\":\"text_completion\",\"created\":1700000000,"
             "\"model\":\"m\\\"x\",\"choices\":[{\"index\":0,\"text\":\"%s\n\n",
             text(42, 0, 1));
    assert_string_equal(b.p, want);
    assert_null(cJSON_Parse(b.p + 6)); /* the data is not JSON */
}

static void test_anthropic(void **state)
{
    struct gen_req r;
    char want[512];
    (void)state;
    init(&r, DIALECT_ANTHROPIC);
    assert_int_equal(gen_n_preamble(&r), 3);
    buf_reset(&b);
    gen_preamble(&b, &r, 0);
    gen_preamble(&b, &r, 1);
    gen_preamble(&b, &r, 2);
    assert_string_equal(b.p,
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_sim_7\","
        "\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\\\"x\",\"content\":[],"
        "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":12,"
        "\"output_tokens\":1}}}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
        "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
        "event: ping\ndata: {\"type\": \"ping\"}\n\n");
    buf_reset(&b);
    gen_content(&b, &r, 0, 1, 0, 0, 0);
    snprintf(want, sizeof(want),
             "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
             "\"delta\":{\"type\":\"text_delta\",\"text\":\"%s\"}}\n\n",
             text(42, 0, 1));
    assert_string_equal(b.p, want);
    buf_reset(&b);
    gen_trailer(&b, &r, 0, 0, 0, 0);
    gen_trailer(&b, &r, 1, 0, 0, 0);
    gen_trailer(&b, &r, 2, 0, 0, 0);
    assert_string_equal(b.p,
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
        "\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":3}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
}

static void test_ollama_and_tgi(void **state)
{
    struct gen_req r;
    char want[1024];
    const int64_t t = 1795686317123456LL; /* 2026-11-26T09:45:17.123456Z */
    (void)state;
    init(&r, DIALECT_OLLAMA_CHAT);
    buf_reset(&b);
    gen_content(&b, &r, 0, 1, 0, 0, t);
    snprintf(want, sizeof(want),
             "{\"model\":\"m\\\"x\",\"created_at\":\"2026-11-26T09:45:17.123456Z\",\"message\":"
             "{\"role\":\"assistant\",\"content\":\"%s\"},\"done\":false}\n",
             text(42, 0, 1));
    assert_string_equal(b.p, want);
    assert_int_equal(gen_n_trailer(&r), 1);
    buf_reset(&b);
    gen_trailer(&b, &r, 0, t, 5000, 7000);
    assert_string_equal(b.p,
        "{\"model\":\"m\\\"x\",\"created_at\":\"2026-11-26T09:45:17.123456Z\",\"message\":"
        "{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,\"done_reason\":\"stop\","
        "\"total_duration\":12000,\"load_duration\":0,\"prompt_eval_count\":12,"
        "\"prompt_eval_duration\":5000,\"eval_count\":3,\"eval_duration\":7000}\n");

    init(&r, DIALECT_TGI);
    r.finish_length = 1;
    assert_int_equal(gen_n_trailer(&r), 0);
    buf_reset(&b);
    gen_content(&b, &r, 2, 1, 1, 0, 0);
    {   /* the last event carries generated_text and details */
        cJSON *j;
        assert_memory_equal(b.p, "data:{\"index\":3,\"token\":{\"id\":", 30);
        assert_string_equal(b.p + b.len - 2, "\n\n");
        j = cJSON_Parse(b.p + 5);
        assert_non_null(j);
        assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "token"), "text")->valuestring,
                            text(42, 2, 1));
        assert_string_equal(cJSON_GetObjectItem(j, "generated_text")->valuestring, text(42, 0, 3));
        assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "details"), "finish_reason")
                                ->valuestring, "length");
        cJSON_Delete(j);
    }
}

static void test_errors(void **state)
{
    (void)state;
    buf_reset(&b);
    gen_error(&b, DIALECT_OPENAI_CHAT, 429, "slow \"down\"");
    assert_string_equal(b.p, "{\"error\":{\"message\":\"slow \\\"down\\\"\",\"type\":\"rate_limit_error\","
                             "\"param\":null,\"code\":\"rate_limit_exceeded\"}}");
    buf_reset(&b);
    gen_error(&b, DIALECT_ANTHROPIC, 400, "bad");
    assert_string_equal(b.p, "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
                             "\"message\":\"bad\"}}");
    buf_reset(&b);
    gen_error(&b, DIALECT_OLLAMA_GENERATE, 404, "nope");
    assert_string_equal(b.p, "{\"error\":\"nope\"}");
    buf_reset(&b);
    gen_error(&b, DIALECT_TGI, 503, "busy");
    assert_string_equal(b.p, "{\"error\":\"busy\",\"error_type\":\"overloaded\"}");
    assert_string_equal(gen_reason(405), "Method Not Allowed");
    assert_string_equal(gen_content_type(DIALECT_OLLAMA_CHAT, 1), "application/x-ndjson");
    assert_string_equal(gen_content_type(DIALECT_ANTHROPIC, 1), "text/event-stream");
    assert_string_equal(gen_content_type(DIALECT_ANTHROPIC, 0), "application/json");
}


/* --prefix-cache: the cached prompt tokens in each dialect's usage, as the servers report them
 * (vLLM prompt_tokens_details, Responses input_tokens_details, Anthropic cache reads). */
static void test_cached_usage(void **state)
{
    struct gen_req r;
    (void)state;
    init(&r, DIALECT_OPENAI_CHAT);
    r.include_usage = 1;
    r.n_cached = 8;
    buf_reset(&b);
    gen_trailer(&b, &r, 1, 0, 0, 0);
    assert_string_equal(b.p,
        "data: {\"id\":\"chatcmpl-sim-7\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
        "\"model\":\"m\\\"x\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3,"
        "\"total_tokens\":15,\"prompt_tokens_details\":{\"cached_tokens\":8}}}\n\n");
    gen_req_init_persona(&r, GEN_PERSONA_VLLM, DIALECT_OPENAI_CHAT, 7, "m", 1, 1700000000);
    r.n_in = 12;
    r.n_out = 3;
    r.include_usage = 1;
    r.stream = 1;
    r.n_cached = 4;
    buf_reset(&b);
    gen_trailer(&b, &r, 0, 0, 0, 0); /* vLLM: the finish reason rides on the last content chunk */
    assert_non_null(strstr(b.p, "\"usage\":{\"prompt_tokens\":12,\"total_tokens\":15,"
                                "\"completion_tokens\":3,\"prompt_tokens_details\":"
                                "{\"cached_tokens\":4}}"));
    gen_req_init_persona(&r, GEN_PERSONA_OPENAI, DIALECT_OPENAI_CHAT, 7, "m", 1, 1700000000);
    r.n_in = 12;
    r.n_out = 3;
    r.include_usage = 1;
    r.stream = 1;
    r.n_cached = 4;
    buf_reset(&b);
    gen_trailer(&b, &r, 1, 0, 0, 0);
    assert_non_null(strstr(b.p, "\"prompt_tokens_details\":{\"cached_tokens\":4}"));
    init(&r, DIALECT_OPENAI_CHAT);
    r.n_cached = 0;
    buf_reset(&b);
    gen_body(&b, &r, 0, 0, 0);
    assert_non_null(strstr(b.p, "\"total_tokens\":15,\"prompt_tokens_details\":"
                                "{\"cached_tokens\":0}}"));
    init(&r, DIALECT_OPENAI_CHAT);
    buf_reset(&b);
    gen_body(&b, &r, 0, 0, 0);
    assert_null(strstr(b.p, "prompt_tokens_details")); /* no cache, no details */
    init(&r, DIALECT_ANTHROPIC);
    r.n_cached = 8;
    buf_reset(&b);
    gen_trailer(&b, &r, 1, 0, 0, 0);
    assert_string_equal(b.p,
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
        "\"end_turn\",\"stop_sequence\":null},\"usage\":{\"input_tokens\":4,"
        "\"cache_read_input_tokens\":8,\"output_tokens\":3}}\n\n");
    buf_reset(&b);
    gen_body(&b, &r, 0, 0, 0);
    assert_non_null(strstr(b.p, "\"usage\":{\"input_tokens\":4,\"cache_read_input_tokens\":8,"
                                "\"output_tokens\":3}"));
    init(&r, DIALECT_OPENAI_RESPONSES);
    r.n_cached = 8;
    buf_reset(&b);
    gen_body(&b, &r, 0, 0, 0);
    assert_non_null(strstr(b.p, "\"input_tokens_details\":{\"cached_tokens\":8}"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_words),
        cmocka_unit_test(test_openai_chat),
        cmocka_unit_test(test_empty_model),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_anthropic),
        cmocka_unit_test(test_ollama_and_tgi),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_cached_usage),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
