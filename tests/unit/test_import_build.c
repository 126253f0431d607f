/* test_import_build.c — exchange records built from imported rows (formats/traces/import.h): request
 * bodies per dialect, pinning, the trace's lengths as usage, the "trace" object, Mooncake prefix sharing
 * on the shared sample, and that tlog's reader accepts every record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"
#include "synth.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    p[n] = '\0';
    *len = (size_t)n;
    return p;
}

static void parse_text(enum import_format f, const char *text, struct import_trace *t)
{
    struct import_opts o = {.name = "in", .base_us = 1000000, .rate = 1,
                            .arrival = IMPORT_ARRIVAL_CONSTANT};
    import_trace_init(t);
    assert_int_equal(import_parse(f, text, strlen(text), &o, t), 0);
}

static void parse_file(enum import_format f, const char *path, struct import_trace *t)
{
    size_t len;
    char *d = slurp(path, &len);
    struct import_opts o = {.name = "in", .base_us = 1000000, .rate = 1,
                            .arrival = IMPORT_ARRIVAL_CONSTANT};
    import_trace_init(t);
    assert_int_equal(import_parse(f, d, len, &o, t), 0);
    free(d);
}

/* Serializes row i and parses the line back as JSON (and through tlog's reader). */
static cJSON *line_of(const struct import_trace *t, size_t i, const struct import_build_opts *bo)
{
    struct buf b;
    buf_init(&b, (size_t)256 << 20);
    assert_int_equal(import_row_to_line(&t->rows[i], bo, &b), 0);
    cJSON *j = cJSON_ParseWithLength(b.p, b.len);
    assert_non_null(j);
    struct tlog_exchange x;
    char err[256] = "";
    assert_int_equal(tlog_exchange_from_json(j, &x, err, sizeof err), 0);
    tlog_exchange_free(&x);
    buf_free(&b);
    return j;
}

static const cJSON *at(const cJSON *j, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, a);
    return b ? cJSON_GetObjectItemCaseSensitive(v, b) : v;
}

static void test_azure_chat(void **state)
{
    (void)state;
    struct import_trace t;
    parse_text(IMPORT_AZURE, "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                             "2023-11-16 18:15:46.6805900,374,44\n", &t);
    struct import_build_opts bo = {.model = "m", .input_name = "in"};
    cJSON *j = line_of(&t, 0, &bo);
    assert_string_equal(at(j, "type", NULL)->valuestring, "exchange");
    assert_string_equal(at(j, "id", NULL)->valuestring, "azure-2");
    assert_int_equal((int64_t)at(j, "start_us", NULL)->valuedouble, 1700158546680590LL);
    assert_string_equal(at(j, "request", "method")->valuestring, "POST");
    assert_string_equal(at(j, "request", "path")->valuestring, "/v1/chat/completions");
    assert_string_equal(at(j, "dialect", NULL)->valuestring, "openai-chat");
    const cJSON *body = at(j, "request", "body");
    assert_string_equal(at(body, "model", NULL)->valuestring, "m");
    assert_true(cJSON_IsTrue(at(body, "stream", NULL)));
    assert_int_equal(at(body, "max_tokens", NULL)->valueint, 44);
    assert_true(cJSON_IsTrue(at(body, "ignore_eos", NULL)));
    const cJSON *m0 = cJSON_GetArrayItem(at(body, "messages", NULL), 0);
    assert_string_equal(at(m0, "role", NULL)->valuestring, "user");
    const char *text = at(m0, "content", NULL)->valuestring;
    assert_int_equal(synth_count_words(text, strlen(text)), 288); /* round(374 / 1.3) */
    assert_int_equal(synth_estimate_tokens(text, strlen(text), 1.3), 374);
    assert_int_equal(at(j, "tokens_in", NULL)->valueint, 374);
    assert_int_equal(at(j, "tokens_out", NULL)->valueint, 44);
    assert_string_equal(at(j, "tokens_source", NULL)->valuestring, "usage");
    assert_int_equal(at(j, "usage", "prompt_tokens")->valueint, 374);
    assert_int_equal(at(j, "usage", "completion_tokens")->valueint, 44);
    assert_string_equal(at(j, "trace", "format")->valuestring, "azure");
    assert_string_equal(at(j, "trace", "input")->valuestring, "in");
    assert_int_equal(at(j, "trace", "line")->valueint, 2);
    assert_null(at(j, "trace", "failed"));
    cJSON_Delete(j);

    bo.no_pin_output = 1;
    bo.tokens_per_word = 1.0;
    j = line_of(&t, 0, &bo);
    body = at(j, "request", "body");
    assert_null(at(body, "max_tokens", NULL));
    assert_null(at(body, "ignore_eos", NULL));
    text = at(cJSON_GetArrayItem(at(body, "messages", NULL), 0), "content", NULL)->valuestring;
    assert_int_equal(synth_count_words(text, strlen(text)), 374);
    cJSON_Delete(j);
    /* a calibrated per-request overhead (chat template) is left to the endpoint */
    bo.tokens_overhead = 9.6;
    j = line_of(&t, 0, &bo);
    body = at(j, "request", "body");
    text = at(cJSON_GetArrayItem(at(body, "messages", NULL), 0), "content", NULL)->valuestring;
    assert_int_equal(synth_count_words(text, strlen(text)), 364);
    assert_int_equal(at(j, "tokens_in", NULL)->valueint, 374);
    cJSON_Delete(j);
    bo.tokens_overhead = 1000; /* never below one token */
    j = line_of(&t, 0, &bo);
    body = at(j, "request", "body");
    text = at(cJSON_GetArrayItem(at(body, "messages", NULL), 0), "content", NULL)->valuestring;
    assert_int_equal(synth_count_words(text, strlen(text)), 1);
    cJSON_Delete(j);
    import_trace_free(&t);
}

static void test_dialects(void **state)
{
    (void)state;
    struct import_trace t;
    parse_text(IMPORT_AZURE, "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                             "2023-11-16 18:15:46,13,7\n", &t);
    struct import_build_opts bo = {.dialect = DIALECT_OPENAI_COMPLETIONS};
    cJSON *j = line_of(&t, 0, &bo);
    assert_string_equal(at(j, "request", "path")->valuestring, "/v1/completions");
    const cJSON *body = at(j, "request", "body");
    assert_true(cJSON_IsString(at(body, "prompt", NULL)));
    assert_string_equal(at(body, "model", NULL)->valuestring, "default");
    assert_int_equal(at(body, "max_tokens", NULL)->valueint, 7);
    cJSON_Delete(j);

    bo.dialect = DIALECT_ANTHROPIC;
    j = line_of(&t, 0, &bo);
    body = at(j, "request", "body");
    assert_string_equal(at(j, "request", "path")->valuestring, "/v1/messages");
    assert_int_equal(at(body, "max_tokens", NULL)->valueint, 7);
    assert_null(at(body, "ignore_eos", NULL));
    assert_true(cJSON_IsArray(at(body, "messages", NULL)));
    cJSON_Delete(j);
    bo.no_pin_output = 1;
    j = line_of(&t, 0, &bo);
    assert_int_equal(at(at(j, "request", "body"), "max_tokens", NULL)->valueint, 4096);
    cJSON_Delete(j);
    bo.no_pin_output = 0;

    bo.dialect = DIALECT_TGI;
    j = line_of(&t, 0, &bo);
    body = at(j, "request", "body");
    assert_string_equal(at(j, "request", "path")->valuestring, "/generate_stream");
    assert_true(cJSON_IsString(at(body, "inputs", NULL)));
    assert_int_equal(at(body, "parameters", "max_new_tokens")->valueint, 7);
    assert_null(at(body, "model", NULL));
    cJSON_Delete(j);

    bo.dialect = DIALECT_OLLAMA_CHAT;
    bo.path = "/custom/chat";
    j = line_of(&t, 0, &bo);
    body = at(j, "request", "body");
    assert_string_equal(at(j, "request", "path")->valuestring, "/custom/chat");
    assert_int_equal(at(body, "options", "num_predict")->valueint, 7);
    cJSON_Delete(j);
    import_trace_free(&t);
}

/* Words shared at the start of two strings. */
static size_t common_words(const char *a, const char *b)
{
    size_t i = 0, w = 0;
    while (a[i] && a[i] == b[i]) {
        if (a[i] == ' ')
            w++;
        i++;
    }
    if (!a[i] && (b[i] == ' ' || !b[i]))
        w++;
    return w;
}

static char *prompt_of(const struct import_trace *t, size_t i, const struct import_build_opts *bo)
{
    cJSON *body = import_build_body(&t->rows[i], bo);
    assert_non_null(body);
    const cJSON *m0 = cJSON_GetArrayItem(cJSON_GetObjectItem(body, "messages"), 0);
    char *s = strdup(cJSON_GetObjectItem(m0, "content")->valuestring);
    cJSON_Delete(body);
    return s;
}

static void test_mooncake_prefix(void **state)
{
    (void)state;
    struct import_trace t;
    parse_file(IMPORT_MOONCAKE, FIXTURE_DIR "/convert/mooncake.jsonl", &t);
    struct import_build_opts bo = {0};
    /* rows sorted: t=0 [0,1] 1000 tok; t=30.5 [0,1,3] 1100 tok; t=40 [0,2] 700 tok */
    char *a = prompt_of(&t, 0, &bo), *b = prompt_of(&t, 1, &bo), *c = prompt_of(&t, 2, &bo);
    assert_int_equal(synth_count_words(a, strlen(a)), 769);
    assert_int_equal(synth_count_words(b, strlen(b)), 846);
    assert_int_equal(synth_count_words(c, strlen(c)), 538);
    /* a's 769 words are all blocks 0,1 and b starts with the same full block 0 and 1 */
    assert_true(common_words(a, b) >= 769);
    assert_true(common_words(a, c) >= 394 && common_words(a, c) < 500);
    free(a);
    free(b);
    free(c);
    import_trace_free(&t);

    /* the shared sample: any two requests whose hash_ids agree on their first k ids agree on
     * the words of those k blocks. Checked over the first 1000 requests for every pair sharing
     * the first id: 101 pairs (counted independently with Python). Prompts of requests whose
     * first id nobody else has are not kept. */
    parse_file(IMPORT_MOONCAKE, DATA_DIR "/synthetic_trace.jsonl", &t);
    size_t n = t.n < 1000 ? t.n : 1000, pairs = 0;
    char **p = calloc(n, sizeof *p);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) {
        const struct import_row *ri = &t.rows[i];
        int shares = 0;
        for (size_t j = 0; j < n && !shares; j++)
            shares = j != i && ri->n_hash && t.rows[j].n_hash &&
                     t.rows[j].hash_ids[0] == ri->hash_ids[0];
        if (!shares)
            continue;
        p[i] = prompt_of(&t, i, &bo);
        for (size_t j = 0; j < i; j++) {
            const struct import_row *rj = &t.rows[j];
            if (!p[j] || rj->hash_ids[0] != ri->hash_ids[0])
                continue;
            size_t k = 0;
            while (k < ri->n_hash && k < rj->n_hash && ri->hash_ids[k] == rj->hash_ids[k])
                k++;
            int64_t shared_tok = (int64_t)k * SYNTH_BLOCK_TOKENS;
            int64_t lim = ri->tokens_in < rj->tokens_in ? ri->tokens_in : rj->tokens_in;
            if (shared_tok > lim)
                shared_tok = lim;
            size_t want = (size_t)synth_words_for_tokens(shared_tok, 1.3);
            assert_true(common_words(p[i], p[j]) >= want);
            /* and they differ right after the shared blocks when both go on */
            if (k < ri->n_hash && k < rj->n_hash)
                assert_true(common_words(p[i], p[j]) < want + 20);
            pairs++;
        }
    }
    assert_int_equal(pairs, 101);
    for (size_t i = 0; i < n; i++)
        free(p[i]);
    free(p);
    import_trace_free(&t);
}

static void test_real_bodies(void **state)
{
    (void)state;
    struct import_trace t;
    struct import_build_opts bo = {.model = "over"};
    parse_file(IMPORT_SHAREGPT, FIXTURE_DIR "/convert/sharegpt.json", &t);
    cJSON *j = line_of(&t, 1, &bo);
    const cJSON *body = at(j, "request", "body");
    assert_int_equal(cJSON_GetArraySize(at(body, "messages", NULL)), 3);
    assert_int_equal(at(body, "max_tokens", NULL)->valueint, 5);
    assert_string_equal(at(j, "id", NULL)->valuestring, "c1#2");
    assert_string_equal(at(j, "tokens_source", NULL)->valuestring, "none");
    assert_true(cJSON_IsNull(at(j, "tokens_in", NULL)));
    cJSON_Delete(j);
    bo.dialect = DIALECT_OPENAI_COMPLETIONS;
    j = line_of(&t, 1, &bo);
    assert_string_equal(at(at(j, "request", "body"), "prompt", NULL)->valuestring,
                        "What is a prefix cache?\n\nIt keeps the attention keys and values of "
                        "earlier tokens.\n\nWhy does it help?");
    cJSON_Delete(j);
    bo.dialect = DIALECT_ANTHROPIC;
    j = line_of(&t, 2, &bo); /* c3: system prompt moves beside the messages */
    assert_string_equal(at(at(j, "request", "body"), "system", NULL)->valuestring, "Be brief.");
    assert_int_equal(cJSON_GetArraySize(at(at(j, "request", "body"), "messages", NULL)), 1);
    cJSON_Delete(j);
    import_trace_free(&t);

    bo.dialect = DIALECT_UNKNOWN;
    parse_file(IMPORT_BATCH, FIXTURE_DIR "/convert/batch.jsonl", &t);
    j = line_of(&t, 1, &bo);
    assert_string_equal(at(j, "request", "path")->valuestring, "/v1/completions");
    assert_string_equal(at(j, "dialect", NULL)->valuestring, "openai-completions");
    body = at(j, "request", "body");
    assert_string_equal(at(body, "model", NULL)->valuestring, "over");
    assert_true(cJSON_IsTrue(at(body, "stream", NULL)));
    assert_int_equal(at(body, "max_tokens", NULL)->valueint, 5);
    assert_string_equal(at(j, "id", NULL)->valuestring, "req-2");
    cJSON_Delete(j);
    import_trace_free(&t);

    bo.model = NULL;
    parse_file(IMPORT_HAR, FIXTURE_DIR "/convert/sample.har", &t);
    j = line_of(&t, 0, &bo);
    assert_int_equal(at(j, "response", "status")->valueint, 200);
    assert_int_equal(at(j, "response", "ttfb_us")->valueint, 150500);
    assert_int_equal(at(j, "response", "end_us")->valueint, 286000);
    assert_string_equal(at(j, "response", "text")->valuestring, "Hello");
    assert_int_equal(at(j, "usage", "prompt_tokens")->valueint, 9);
    assert_string_equal(at(j, "tokens_source", NULL)->valuestring, "usage");
    assert_string_equal(at(at(j, "request", "body"), "model", NULL)->valuestring, "m1");
    cJSON_Delete(j);
    import_trace_free(&t);

    parse_file(IMPORT_BURSTGPT, FIXTURE_DIR "/convert/burstgpt.csv", &t);
    j = line_of(&t, 1, &bo);
    assert_true(cJSON_IsTrue(at(j, "trace", "failed")));
    assert_null(at(at(j, "request", "body"), "max_tokens", NULL));
    assert_string_equal(at(at(j, "request", "body"), "model", NULL)->valuestring, "ChatGPT");
    assert_int_equal(at(j, "tokens_out", NULL)->valueint, 0);
    assert_string_equal(at(j, "tokens_source", NULL)->valuestring, "usage");
    cJSON_Delete(j);
    import_trace_free(&t);
}

static void test_source(void **state)
{
    (void)state;
    const char *names[] = {"a.csv", "b.jsonl"};
    enum import_format fm[] = {IMPORT_AZURE, IMPORT_MOONCAKE};
    cJSON *s = import_source_json(names, fm, 2);
    char *txt = cJSON_PrintUnformatted(s);
    assert_string_equal(txt, "{\"kind\":\"convert\",\"format\":\"azure\",\"input\":\"a.csv\","
                             "\"inputs\":[{\"format\":\"azure\",\"input\":\"a.csv\"},"
                             "{\"format\":\"mooncake\",\"input\":\"b.jsonl\"}]}");
    free(txt);
    cJSON_Delete(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_azure_chat),      cmocka_unit_test(test_dialects),
        cmocka_unit_test(test_mooncake_prefix), cmocka_unit_test(test_real_bodies),
        cmocka_unit_test(test_source),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
