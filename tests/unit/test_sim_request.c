/* test_sim_request.c — llmtrace-sim's request routing and body validation (sim/request.h):
 * every endpoint's required fields and types, the output cap of each dialect, Ollama's default
 * streaming, prompt sizes in bytes, words and token ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "request.h"

/* Validates json for ep; returns the 400 message or NULL, params in *p. */
static const char *run(enum request_endpoint ep, const char *json, struct request_params *p,
                       cJSON **keep)
{
    cJSON *b = cJSON_Parse(json);
    const char *why;
    assert_non_null(b);
    memset(p, 0, sizeof(*p));
    p->max_tokens = -1;
    why = request_validate(ep, b, p);
    *keep = b; /* p->model points into it */
    return why;
}

static void test_route(void **state)
{
    const char *allow = NULL;
    (void)state;
    assert_int_equal(request_route("/v1/chat/completions", 20, &allow), EP_CHAT);
    assert_string_equal(allow, "POST");
    assert_int_equal(request_route("/v1/models", 10, &allow), EP_MODELS);
    assert_string_equal(allow, "GET");
    assert_int_equal(request_route("/generate", 9, &allow), EP_TGI);
    assert_int_equal(request_route("/generate_stream", 16, &allow), EP_TGI_STREAM);
    assert_int_equal(request_route("/v1/chat/completionsX", 21, &allow), EP_NONE);
    assert_int_equal(request_route("/v1/chat/completions", 19, &allow), EP_NONE); /* prefix */
    assert_int_equal(request_route("", 0, &allow), EP_NONE);
    assert_int_equal(request_dialect(EP_MSG), DIALECT_ANTHROPIC);
    assert_int_equal(request_dialect(EP_OCHAT), DIALECT_OLLAMA_CHAT);
    assert_int_equal(request_dialect(EP_NONE), DIALECT_OPENAI_CHAT);
}

static void test_openai(void **state)
{
    struct request_params p;
    cJSON *b;
    (void)state;
    assert_null(run(EP_CHAT,
                    "{\"model\":\"m\",\"stream\":true,\"max_tokens\":9,\"ignore_eos\":true,"
                    "\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"system\","
                    "\"content\":\"be  brief\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\","
                    "\"text\":\"hello world!\"},{\"type\":\"image_url\"}]},{\"role\":\"assistant\","
                    "\"content\":null}]}", &p, &b));
    assert_string_equal(p.model, "m");
    assert_int_equal(p.stream, 1);
    assert_int_equal(p.include_usage, 1);
    assert_int_equal(p.ignore_eos, 1);
    assert_int_equal(p.max_tokens, 9);
    assert_int_equal(p.prompt.bytes, 9 + 12);  /* "be  brief" + "hello world!" */
    assert_int_equal(p.prompt.words, 4);
    assert_int_equal(request_prompt_tokens(&p, 0), 6); /* ceil(21 / 4) */
    assert_int_equal(request_prompt_tokens(&p, 1), 4);
    cJSON_Delete(b);
    /* max_completion_tokens wins when both are given (it is read second) */
    assert_null(run(EP_CHAT, "{\"max_tokens\":9,\"max_completion_tokens\":3,\"messages\":[{}]}", &p, &b));
    assert_int_equal(p.max_tokens, 3);
    assert_int_equal(request_prompt_tokens(&p, 0), 1); /* empty prompt still costs 1 */
    cJSON_Delete(b);
    assert_string_equal(run(EP_CHAT, "{\"messages\":[]}", &p, &b), "\"messages\" must be a non-empty array");
    cJSON_Delete(b);
    assert_string_equal(run(EP_CHAT, "{\"messages\":[1]}", &p, &b), "each message must be an object");
    cJSON_Delete(b);
    assert_non_null(run(EP_CHAT, "{\"messages\":[{\"content\":5}]}", &p, &b));
    cJSON_Delete(b);
    assert_non_null(run(EP_CHAT, "{\"model\":5,\"messages\":[{}]}", &p, &b));
    cJSON_Delete(b);
    assert_non_null(run(EP_CHAT, "{\"max_tokens\":-1,\"messages\":[{}]}", &p, &b));
    cJSON_Delete(b);
    assert_non_null(run(EP_CHAT, "{\"max_tokens\":1.5,\"messages\":[{}]}", &p, &b));
    cJSON_Delete(b);
    assert_non_null(run(EP_CHAT, "{\"stream_options\":[],\"messages\":[{}]}", &p, &b));
    cJSON_Delete(b);
    /* completions: string, array of strings, array of token ids */
    assert_null(run(EP_COMPL, "{\"prompt\":[\"ab\",\"cd ef\"]}", &p, &b));
    assert_int_equal(request_prompt_tokens(&p, 0), 2); /* 7 bytes */
    cJSON_Delete(b);
    assert_null(run(EP_COMPL, "{\"prompt\":[11,12,13]}", &p, &b));
    assert_int_equal(request_prompt_tokens(&p, 0), 3);
    cJSON_Delete(b);
    assert_non_null(run(EP_COMPL, "{\"prompt\":[{}]}", &p, &b));
    cJSON_Delete(b);
    assert_non_null(run(EP_COMPL, "{\"prompt\":[]}", &p, &b));
    cJSON_Delete(b);
    assert_non_null(run(EP_COMPL, "{}", &p, &b));
    cJSON_Delete(b);
}

static void test_other_dialects(void **state)
{
    struct request_params p;
    cJSON *b;
    (void)state;
    assert_null(run(EP_MSG, "{\"max_tokens\":4,\"system\":\"sys\",\"messages\":[{\"content\":\"hi\"}]}",
                    &p, &b));
    assert_int_equal(p.max_tokens, 4);
    assert_int_equal(p.stream, 0);
    assert_int_equal(p.prompt.bytes, 5);
    cJSON_Delete(b);
    assert_string_equal(run(EP_MSG, "{\"messages\":[{}]}", &p, &b), "max_tokens: Field required");
    cJSON_Delete(b);
    /* Ollama streams by default; num_predict and options.ignore_eos */
    assert_null(run(EP_OGEN, "{\"prompt\":\"a b c\",\"options\":{\"num_predict\":7,\"ignore_eos\":true}}",
                    &p, &b));
    assert_int_equal(p.stream, 1);
    assert_int_equal(p.max_tokens, 7);
    assert_int_equal(p.ignore_eos, 1);
    assert_int_equal(request_prompt_tokens(&p, 1), 3);
    cJSON_Delete(b);
    assert_null(run(EP_OCHAT, "{\"stream\":false,\"messages\":[{\"content\":\"x\"}]}", &p, &b));
    assert_int_equal(p.stream, 0);
    cJSON_Delete(b);
    assert_non_null(run(EP_OGEN, "{\"prompt\":1}", &p, &b));
    cJSON_Delete(b);
    assert_non_null(run(EP_OGEN, "{\"prompt\":\"x\",\"options\":3}", &p, &b));
    cJSON_Delete(b);
    /* TGI: streaming by endpoint, parameters.max_new_tokens */
    assert_null(run(EP_TGI_STREAM, "{\"inputs\":\"abcdefgh\",\"parameters\":{\"max_new_tokens\":5}}",
                    &p, &b));
    assert_int_equal(p.stream, 1);
    assert_int_equal(p.max_tokens, 5);
    assert_int_equal(request_prompt_tokens(&p, 0), 2);
    cJSON_Delete(b);
    assert_null(run(EP_TGI, "{\"inputs\":\"x\",\"stream\":true}", &p, &b));
    assert_int_equal(p.stream, 0);
    cJSON_Delete(b);
    assert_non_null(run(EP_TGI, "{\"inputs\":[\"x\"]}", &p, &b));
    cJSON_Delete(b);
    assert_non_null(run(EP_TGI, "{\"inputs\":\"x\",\"parameters\":{\"max_new_tokens\":\"5\"}}", &p, &b));
    cJSON_Delete(b);
}


/* Validates json for ep with the words tokenizer and a prefix hasher of 2-token blocks. */
static const char *run_hashed(enum request_endpoint ep, const char *json, struct request_params *p,
                              struct prefix_hasher *h)
{
    cJSON *b = cJSON_Parse(json);
    const char *why;
    assert_non_null(b);
    memset(p, 0, sizeof(*p));
    p->max_tokens = -1;
    prefix_init(h, 1, 2, 100);
    p->prompt.hash = h;
    why = request_validate(ep, b, p);
    p->model = NULL;
    cJSON_Delete(b);
    return why;
}

/* The prefix cache's view of a prompt: the system text first in every dialect, one marker per
 * message, tool calls and tool results counted as text (sim/prefix.h). */
static void test_prompt_hashes(void **state)
{
    struct request_params p;
    struct prefix_hasher oa, an, rs, t1, t2;
    (void)state;
    assert_null(run_hashed(EP_CHAT, "{\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
                                    "{\"role\":\"user\",\"content\":\"hi there\"}]}", &p, &oa));
    assert_int_equal(request_prompt_tokens(&p, 1), 4);
    assert_int_equal(oa.n, 2);
    assert_null(run_hashed(EP_MSG, "{\"max_tokens\":5,\"messages\":[{\"role\":\"user\","
                                   "\"content\":\"hi there\"}],\"system\":\"be brief\"}", &p, &an));
    assert_null(run_hashed(EP_RESP, "{\"input\":\"hi there\",\"instructions\":\"be brief\"}", &p,
                           &rs));
    assert_int_equal(an.n, 2);
    assert_int_equal(rs.n, 2);
    assert_memory_equal(oa.hashes, an.hashes, 2 * sizeof(uint64_t));
    assert_memory_equal(oa.hashes, rs.hashes, 2 * sizeof(uint64_t));
    /* an agent turn: the assistant's tool call and the tool's result are prompt text */
    assert_null(run_hashed(EP_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"weather in Oslo\"},"
                                    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\","
                                    "\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
                                    "\"arguments\":\"{\\\"city\\\": \\\"Oslo\\\"}\"}}]},"
                                    "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"rain\"}]}",
                           &p, &t1));
    /* weather in Oslo | get_weather | {"city": "Oslo"} | rain */
    assert_int_equal(request_prompt_tokens(&p, 1), 7);
    assert_int_equal(t1.tokens, 7);
    assert_null(run_hashed(EP_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"weather in Oslo\"},"
                                    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\","
                                    "\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
                                    "\"arguments\":\"{\\\"city\\\": \\\"Bergen\\\"}\"}}]}]}",
                           &p, &t2));
    assert_int_equal(t2.n, 3);
    assert_true(t1.hashes[0] == t2.hashes[0]);
    assert_true(t1.hashes[1] == t2.hashes[1]); /* "Oslo" + marker + "get_weather" */
    assert_true(t1.hashes[2] != t2.hashes[2]); /* another argument */
    prefix_free(&t2);
    /* Anthropic tool_use input (an object) and tool_result content */
    assert_null(run_hashed(EP_MSG, "{\"max_tokens\":5,\"messages\":[{\"role\":\"assistant\",\"content\":"
                                   "[{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\",\"input\":{\"a\":1}}]},"
                                   "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
                                   "\"tool_use_id\":\"t\",\"content\":[{\"type\":\"text\",\"text\":\"x y\"}]}]}]}",
                           &p, &t2));
    assert_int_equal(request_prompt_tokens(&p, 1), 4); /* f | {"a":1} | x y */
    prefix_free(&oa);
    prefix_free(&an);
    prefix_free(&rs);
    prefix_free(&t1);
    prefix_free(&t2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route),
        cmocka_unit_test(test_openai),
        cmocka_unit_test(test_other_dialects),
        cmocka_unit_test(test_prompt_hashes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
