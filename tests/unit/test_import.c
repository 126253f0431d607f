/* test_import.c — trace importers (formats/traces/import.h): Azure, Mooncake, BurstGPT, ShareGPT,
 * OpenAI Batch and HAR parsers on the shared samples and on handcrafted quirk files, with
 * expected values computed by hand (epoch values checked with Python's datetime). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"
#include "import_row.h" /* import_clock: internal, tested here */

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
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

/* Parses a fixture with the given options; returns the rc. */
static int parse_fixture(const char *name, enum import_format f, struct import_opts *o,
                         struct import_trace *t)
{
    size_t len;
    char *data = slurp(FIXTURE_DIR "/convert", name, &len);
    o->name = name;
    int rc = import_parse(f, data, len, o, t);
    free(data);
    return rc;
}

static void test_timestamps(void **state)
{
    (void)state;
    static const struct { const char *s; int64_t us; } ok[] = {
        {"2023-11-16 18:15:46", 1700158546000000LL},
        {"2023-11-16 18:15:46.6805900", 1700158546680590LL},
        {"2023-11-16T18:15:46.68059", 1700158546680590LL},
        {"2023-11-16 18:15:47.123456789", 1700158547123456LL},
        {"2024-05-10T00:00:00.1234567+02:00", 1715292000123456LL},
        {"2024-05-10 00:00:00.000001Z", 1715299200000001LL},
        {"2024-05-10 02:00:00.1234567+0200", 1715299200123456LL},
        {"2024-05-10 02:00:00+02", 1715299200000000LL},
        {"2024-05-09 21:00:00-03:00", 1715299200000000LL},
        {"2000-02-29 23:59:59", 951868799000000LL},
        {"1970-01-01 00:00:00", 0},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        int64_t us = -7;
        assert_int_equal(import_parse_timestamp(ok[i].s, strlen(ok[i].s), &us), 0);
        assert_int_equal(us, ok[i].us);
    }
    static const char *const bad[] = {
        "", "2023-11-16", "2023-11-16 18:15", "2023-13-16 18:15:46", "2023-02-29 00:00:00",
        "2023-11-16 24:00:00", "2023-11-16 18:60:00", "2023-11-16 18:15:46.", "1969-12-31 23:59:59",
        "2023-11-16 18:15:46.1234567890", "2023-11-16 18:15:46 ", "2023-11-16 18:15:46+2",
        "2023-11-16x18:15:46", "23-11-16 18:15:46", "2023-11-16 18:15:46+25:00",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int64_t us;
        assert_int_equal(import_parse_timestamp(bad[i], strlen(bad[i]), &us), -1);
    }
}

static void test_detect(void **state)
{
    (void)state;
    static const struct { const char *file; enum import_format f; } cases[] = {
        {"azure_quirks.csv", IMPORT_AZURE},   {"burstgpt.csv", IMPORT_BURSTGPT},
        {"mooncake.jsonl", IMPORT_MOONCAKE},  {"sharegpt.json", IMPORT_SHAREGPT},
        {"batch.jsonl", IMPORT_BATCH},        {"sample.har", IMPORT_HAR},
        {"empty.csv", IMPORT_UNKNOWN},        {"azure_missing_col.csv", IMPORT_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t len;
        char *d = slurp(FIXTURE_DIR "/convert", cases[i].file, &len);
        assert_int_equal(import_detect(d, len), cases[i].f);
        free(d);
    }
    const char *bom = "\xEF\xBB\xBFTIMESTAMP,ContextTokens,GeneratedTokens";
    assert_int_equal(import_detect(bom, strlen(bom)), IMPORT_AZURE);
    assert_int_equal(import_format_parse("Mooncake"), IMPORT_MOONCAKE);
    assert_int_equal(import_format_parse("nope"), IMPORT_UNKNOWN);
    assert_string_equal(import_format_name(IMPORT_HAR), "har");
}

/* Token sums of the Azure sample computed without the importer: the last two comma fields. */
static void azure_sums(const char *path, int64_t *rows, int64_t *in, int64_t *out)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[256];
    *rows = *in = *out = 0;
    int header = 1;
    while (fgets(line, sizeof line, f)) {
        if (header) {
            header = 0;
            continue;
        }
        char *c1 = strchr(line, ',');
        assert_non_null(c1);
        char *c2 = strchr(c1 + 1, ',');
        assert_non_null(c2);
        *in += strtoll(c1 + 1, NULL, 10);
        *out += strtoll(c2 + 1, NULL, 10);
        (*rows)++;
    }
    fclose(f);
}

static void test_azure_sample(void **state)
{
    (void)state;
    size_t len;
    char *data = slurp(DATA_DIR, "AzureLLMInferenceTrace_conv.csv", &len);
    assert_int_equal(import_detect(data, len), IMPORT_AZURE);
    struct import_opts o = {.name = "AzureLLMInferenceTrace_conv.csv"};
    struct import_trace t;
    import_trace_init(&t);
    assert_int_equal(import_parse(IMPORT_AZURE, data, len, &o, &t), 0);
    int64_t rows, in, out;
    azure_sums(DATA_DIR "/AzureLLMInferenceTrace_conv.csv", &rows, &in, &out);
    assert_int_equal(rows, 19366);
    assert_int_equal(t.n, 19366);
    assert_int_equal(t.records, 19366);
    int64_t si = 0, so = 0;
    for (size_t i = 0; i < t.n; i++) {
        si += t.rows[i].tokens_in;
        so += t.rows[i].tokens_out;
        assert_int_equal(t.rows[i].pin_out, t.rows[i].tokens_out);
    }
    assert_int_equal(si, in);
    assert_int_equal(so, out);
    /* 2023-11-16 18:15:46.6805900 and (no final newline) 2023-11-16 19:14:08.4025270, UTC */
    assert_int_equal(t.rows[0].t_us, 1700158546680590LL);
    assert_int_equal(t.rows[t.n - 1].t_us, 1700162048402527LL);
    assert_int_equal(t.rows[t.n - 1].tokens_in, 197);
    assert_int_equal(t.rows[t.n - 1].tokens_out, 183);
    assert_int_equal(t.rows[t.n - 1].line, 19367);
    assert_string_equal(t.rows[0].id, "azure-2");
    assert_int_equal(t.out_of_order, 0);
    import_trace_free(&t);

    /* --time-scale 0.5 halves every gap from the first arrival */
    o.time_scale = 1e9; /* absurd scales clamp instead of overflowing */
    assert_int_equal(import_parse(IMPORT_AZURE, data, len, &o, &t), 0);
    assert_int_equal(t.rows[t.n - 1].t_us, IMPORT_MAX_TIME_US);
    import_trace_free(&t);
    o.time_scale = 0.5;
    assert_int_equal(import_parse(IMPORT_AZURE, data, len, &o, &t), 0);
    assert_int_equal(t.rows[0].t_us, 1700158546680590LL);
    assert_int_equal(t.rows[t.n - 1].t_us,
                     1700158546680590LL + (1700162048402527LL - 1700158546680590LL) / 2 + 1);
    import_trace_free(&t);
    free(data);
}

static void test_azure_quirks(void **state)
{
    (void)state;
    struct import_opts o = {0};
    struct import_trace t;
    import_trace_init(&t);
    assert_int_equal(parse_fixture("azure_quirks.csv", IMPORT_AZURE, &o, &t), 0);
    assert_int_equal(t.n, 5);
    assert_int_equal(t.records, 5);
    static const int64_t want_t[5] = {1700158546000000LL, 1700158546500000LL, 1700158547123456LL,
                                      1715292000123456LL, 1715299200000001LL};
    static const int64_t want_line[5] = {2, 3, 7, 5, 6};
    static const int64_t want_in[5] = {10, 20, 50, 30, 40};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(t.rows[i].t_us, want_t[i]);
        assert_int_equal(t.rows[i].line, want_line[i]);
        assert_int_equal(t.rows[i].tokens_in, want_in[i]);
        assert_int_equal(t.rows[i].tokens_out, want_in[i] / 10 + 1);
    }
    assert_int_equal(t.out_of_order, 1); /* line 7 (2023) after line 6 (2024) */
    import_trace_free(&t);

    assert_int_equal(parse_fixture("azure_unsorted.csv", IMPORT_AZURE, &o, &t), 0);
    assert_int_equal(t.n, 3);
    assert_int_equal(t.out_of_order, 1);
    assert_int_equal(t.rows[0].line, 3);
    assert_int_equal(t.rows[1].line, 2);
    assert_int_equal(t.rows[2].line, 4);
    import_trace_free(&t);
}

static void test_azure_bad(void **state)
{
    (void)state;
    struct import_opts o = {0};
    struct import_trace t;
    import_trace_init(&t);
    assert_int_equal(parse_fixture("azure_bad.csv", IMPORT_AZURE, &o, &t), IMPORT_ERR_FORMAT);
    assert_string_equal(t.err, "azure_bad.csv: line 3: field \"ContextTokens\": not a "
                               "non-negative integer: \"x\"");
    assert_int_equal(t.n, 0);
    import_trace_free(&t);

    o.skip_bad = 1;
    assert_int_equal(parse_fixture("azure_bad.csv", IMPORT_AZURE, &o, &t), 0);
    assert_int_equal(t.n, 2);
    assert_int_equal(t.bad, 4);
    assert_int_equal(t.records, 6);
    assert_int_equal(t.rows[0].line, 2);
    assert_int_equal(t.rows[1].line, 7);
    assert_string_equal(t.first_bad, "azure_bad.csv: line 3: field \"ContextTokens\": not a "
                                     "non-negative integer: \"x\"");
    import_trace_free(&t);

    /* each kind of bad row, alone, gives its own message */
    static const struct { const char *csv, *msg; } one[] = {
        {"TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:52,99999999999999999999,3",
         "x: line 2: field \"ContextTokens\": value \"99999999999999999999\" exceeds the cap of 2000000"},
        {"TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:52,2000001,3",
         "x: line 2: field \"ContextTokens\": value \"2000001\" exceeds the cap of 2000000"},
        {"TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:53,5\n",
         "x: line 2: field \"GeneratedTokens\": missing"},
        {"TIMESTAMP,ContextTokens,GeneratedTokens\n\n2023-13-16 18:15:53,5,1\n",
         "x: line 3: field \"TIMESTAMP\": bad timestamp \"2023-13-16 18:15:53\""},
        {"TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:53,-5,1\n",
         "x: line 2: field \"ContextTokens\": not a non-negative integer: \"-5\""},
        {"TIMESTAMP,ContextTokens\n2023-11-16 18:15:53,5\n",
         "x: line 1: header lacks column \"GeneratedTokens\" (want TIMESTAMP,ContextTokens,GeneratedTokens)"},
        {"2023-11-16 18:15:53,5,1\n",
         "x: line 1: header lacks column \"TIMESTAMP\" (want TIMESTAMP,ContextTokens,GeneratedTokens)"},
        {"", "x: empty file"},
        {"\n\n", "x: empty file"},
        {"TIMESTAMP,ContextTokens,GeneratedTokens\n", "x: no data rows"},
    };
    struct import_opts ox = {.name = "x"};
    for (size_t i = 0; i < sizeof one / sizeof *one; i++) {
        import_trace_init(&t);
        assert_true(import_parse(IMPORT_AZURE, one[i].csv, strlen(one[i].csv), &ox, &t) < 0);
        assert_string_equal(t.err, one[i].msg);
        import_trace_free(&t);
    }
    /* columns found by name in any order; quoted fields; extra columns */
    const char *re = "\"GeneratedTokens\", TIMESTAMP ,ContextTokens,Extra\n7,\"2023-11-16 18:15:53\",5,z";
    import_trace_init(&t);
    assert_int_equal(import_parse(IMPORT_AZURE, re, strlen(re), &ox, &t), 0);
    assert_int_equal(t.n, 1);
    assert_int_equal(t.rows[0].tokens_in, 5);
    assert_int_equal(t.rows[0].tokens_out, 7);
    assert_int_equal(t.rows[0].t_us, 1700158553000000LL);
    import_trace_free(&t);
    /* the shipped empty-file and missing-column fixtures */
    assert_int_equal(parse_fixture("empty.csv", IMPORT_AZURE, &o, &t), IMPORT_ERR_EMPTY);
    assert_string_equal(t.err, "empty.csv: empty file");
    import_trace_free(&t);
    assert_int_equal(parse_fixture("azure_missing_col.csv", IMPORT_AZURE, &o, &t),
                     IMPORT_ERR_FORMAT);
    import_trace_free(&t);
}

/* Mooncake sums computed without the importer: the numbers after the keys, line by line. */
static void mooncake_sums(const char *path, int64_t *rows, int64_t *in, int64_t *out,
                          int64_t *last_ts)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char line[1 << 16];
    *rows = *in = *out = 0;
    while (fgets(line, sizeof line, f)) {
        char *a = strstr(line, "\"input_length\":");
        char *b = strstr(line, "\"output_length\":");
        char *c = strstr(line, "\"timestamp\":");
        assert_true(a && b && c);
        *in += strtoll(a + 15, NULL, 10);
        *out += strtoll(b + 16, NULL, 10);
        *last_ts = strtoll(c + 12, NULL, 10);
        (*rows)++;
    }
    fclose(f);
}

static void test_mooncake_sample(void **state)
{
    (void)state;
    size_t len;
    char *data = slurp(DATA_DIR, "synthetic_trace.jsonl", &len);
    assert_int_equal(import_detect(data, len), IMPORT_MOONCAKE);
    struct import_opts o = {.name = "synthetic_trace.jsonl"};
    struct import_trace t;
    import_trace_init(&t);
    assert_int_equal(import_parse(IMPORT_MOONCAKE, data, len, &o, &t), 0);
    int64_t rows, in, out, last_ts;
    mooncake_sums(DATA_DIR "/synthetic_trace.jsonl", &rows, &in, &out, &last_ts);
    assert_int_equal(rows, 3993);
    assert_int_equal(t.n, 3993);
    int64_t si = 0, so = 0;
    size_t shared = 0;
    for (size_t i = 0; i < t.n; i++) {
        si += t.rows[i].tokens_in;
        so += t.rows[i].tokens_out;
        shared += t.rows[i].n_hash;
    }
    assert_int_equal(si, in);
    assert_int_equal(so, out);
    assert_true(shared > 3993);
    assert_int_equal(t.rows[0].t_us, IMPORT_DEFAULT_BASE_US);
    assert_int_equal(last_ts, 1022025);
    assert_int_equal(t.rows[t.n - 1].t_us, IMPORT_DEFAULT_BASE_US + 1022025LL * 1000);
    assert_int_equal(t.rows[0].n_hash, 79);
    assert_int_equal(t.rows[0].hash_ids[78], 78);
    import_trace_free(&t);

    o.base_us = 1700000000000000LL;
    assert_int_equal(import_parse(IMPORT_MOONCAKE, data, len, &o, &t), 0);
    assert_int_equal(t.rows[t.n - 1].t_us, 1700000000000000LL + 1022025LL * 1000);
    import_trace_free(&t);
    free(data);
}

static void test_mooncake_fixture(void **state)
{
    (void)state;
    struct import_opts o = {.base_us = 1000000};
    struct import_trace t;
    import_trace_init(&t);
    assert_int_equal(parse_fixture("mooncake.jsonl", IMPORT_MOONCAKE, &o, &t), 0);
    assert_int_equal(t.n, 3);
    assert_int_equal(t.rows[0].t_us, 1000000);
    assert_int_equal(t.rows[1].t_us, 1030500); /* 30.5 ms, line 4 */
    assert_int_equal(t.rows[1].line, 4);
    assert_int_equal(t.rows[2].t_us, 1040000);
    assert_int_equal(t.rows[2].line, 2);
    assert_int_equal(t.out_of_order, 1);
    assert_int_equal(t.rows[1].n_hash, 3);
    assert_int_equal(t.rows[1].hash_ids[2], 3);
    assert_int_equal(t.rows[1].tokens_in, 1100);
    assert_int_equal(t.rows[1].pin_out, 7);
    import_trace_free(&t);

    o.name = NULL;
    assert_int_equal(parse_fixture("mooncake_bad.jsonl", IMPORT_MOONCAKE, &o, &t),
                     IMPORT_ERR_FORMAT);
    assert_string_equal(t.err, "mooncake_bad.jsonl: line 2: field \"timestamp\": not a "
                               "non-negative number of ms");
    import_trace_free(&t);
    o.skip_bad = 1;
    assert_int_equal(parse_fixture("mooncake_bad.jsonl", IMPORT_MOONCAKE, &o, &t), 0);
    assert_int_equal(t.n, 2);
    assert_int_equal(t.bad, 5);
    assert_int_equal(t.rows[0].line, 1);
    assert_int_equal(t.rows[1].line, 7);
    import_trace_free(&t);

    static const struct { const char *j, *msg; } one[] = {
        {"{\"timestamp\": 5, \"input_length\": 3000000, \"output_length\": 1}",
         "m: line 1: field \"input_length\": value exceeds the cap of 2000000"},
        {"{\"timestamp\": 6, \"input_length\": 10, \"output_length\": 1, \"hash_ids\": [-1]}",
         "m: line 1: field \"hash_ids\": element 0 is not a non-negative integer"},
        {"\n\nnot json", "m: line 3: not a JSON object"},
        {"{\"timestamp\": 7, \"input_length\": 10, \"hash_ids\": [1]}",
         "m: line 1: field \"output_length\": missing"},
        {"{\"timestamp\": 7, \"input_length\": 1.5, \"output_length\": 1}",
         "m: line 1: field \"input_length\": not a non-negative integer"},
        {"{\"timestamp\": 1e13, \"input_length\": 1, \"output_length\": 1}",
         "m: line 1: field \"timestamp\": value exceeds the cap of 1000000000000 ms"},
        {"{\"input_length\": 1, \"output_length\": 1}", "m: line 1: field \"timestamp\": missing"},
        {"{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": 3}",
         "m: line 1: field \"hash_ids\": not an array"},
        {"", "m: no data rows"},
    };
    struct import_opts ox = {.name = "m"};
    for (size_t i = 0; i < sizeof one / sizeof *one; i++) {
        import_trace_init(&t);
        assert_true(import_parse(IMPORT_MOONCAKE, one[i].j, strlen(one[i].j), &ox, &t) < 0);
        assert_string_equal(t.err, one[i].msg);
        import_trace_free(&t);
    }
}

static void test_burstgpt(void **state)
{
    (void)state;
    struct import_opts o = {.base_us = 1000000};
    struct import_trace t;
    import_trace_init(&t);
    assert_int_equal(parse_fixture("burstgpt.csv", IMPORT_BURSTGPT, &o, &t), 0);
    assert_int_equal(t.n, 3);
    assert_int_equal(t.failed, 1);
    assert_int_equal(t.rows[0].t_us, 6000000);
    assert_string_equal(t.rows[0].model, "ChatGPT");
    assert_int_equal(t.rows[0].tokens_in, 472);
    assert_int_equal(t.rows[0].pin_out, 18);
    assert_int_equal(t.rows[1].t_us, 46000000);
    assert_int_equal(t.rows[1].failed, 1);
    assert_int_equal(t.rows[1].tokens_out, 0);
    assert_int_equal(t.rows[1].pin_out, -1);
    assert_string_equal(t.rows[2].model, "GPT-4");
    import_trace_free(&t);
    o.skip_failed = 1;
    assert_int_equal(parse_fixture("burstgpt.csv", IMPORT_BURSTGPT, &o, &t), 0);
    assert_int_equal(t.n, 2);
    assert_int_equal(t.skipped_failed, 1);
    assert_int_equal(t.rows[1].line, 4);
    import_trace_free(&t);
    const char *frac = "Timestamp,Request tokens,Response tokens\n0.25,1,2\n1.0000019,3,4";
    struct import_opts ox = {.name = "b", .base_us = 10};
    assert_int_equal(import_parse(IMPORT_BURSTGPT, frac, strlen(frac), &ox, &t), 0);
    assert_int_equal(t.rows[0].t_us, 250010);
    assert_int_equal(t.rows[1].t_us, 1000011);
    assert_null(t.rows[0].model);
    import_trace_free(&t);
    const char *huge = "Timestamp,Request tokens,Response tokens\n1000000001,1,2\n";
    assert_int_equal(import_parse(IMPORT_BURSTGPT, huge, strlen(huge), &ox, &t), IMPORT_ERR_FORMAT);
    assert_string_equal(t.err, "b: line 2: field \"Timestamp\": value \"1000000001\" too large");
    import_trace_free(&t);
    const char *bad = "Timestamp,Request tokens,Response tokens\n-3,1,2\n";
    assert_int_equal(import_parse(IMPORT_BURSTGPT, bad, strlen(bad), &ox, &t), IMPORT_ERR_FORMAT);
    assert_string_equal(t.err, "b: line 2: field \"Timestamp\": not seconds: \"-3\"");
    import_trace_free(&t);
}

static void test_sharegpt(void **state)
{
    (void)state;
    struct import_opts o = {.base_us = 1000000, .rate = 2, .arrival = IMPORT_ARRIVAL_CONSTANT};
    struct import_trace t;
    import_trace_init(&t);
    assert_int_equal(parse_fixture("sharegpt.json", IMPORT_SHAREGPT, &o, &t), 0);
    assert_int_equal(t.n, 3);
    assert_int_equal(t.ignored, 1);
    assert_string_equal(t.rows[0].id, "c1#1");
    assert_string_equal(t.rows[1].id, "c1#2");
    assert_string_equal(t.rows[2].id, "c3#1");
    assert_int_equal(t.rows[0].t_us, 1000000);
    assert_int_equal(t.rows[1].t_us, 1500000);
    assert_int_equal(t.rows[2].t_us, 2000000);
    assert_int_equal(cJSON_GetArraySize(t.rows[0].messages), 1);
    assert_int_equal(cJSON_GetArraySize(t.rows[1].messages), 3);
    assert_int_equal(cJSON_GetArraySize(t.rows[2].messages), 2);
    const cJSON *m = cJSON_GetArrayItem(t.rows[1].messages, 2);
    assert_string_equal(cJSON_GetObjectItem(m, "role")->valuestring, "user");
    assert_string_equal(cJSON_GetObjectItem(m, "content")->valuestring, "Why does it help?");
    assert_int_equal(t.rows[0].pin_out, 13); /* 10 words × 1.3 */
    assert_int_equal(t.rows[1].pin_out, 5);  /* 4 words × 1.3 = 5.2 */
    assert_int_equal(t.rows[2].pin_out, -1); /* no reply recorded */
    assert_int_equal(t.rows[0].tokens_in, -1);
    import_trace_free(&t);

    /* Poisson arrivals: same seed, same times; mean gap near 1/rate over many draws */
    o.arrival = IMPORT_ARRIVAL_POISSON;
    o.seed = 42;
    struct import_clock c1, c2;
    import_clock_init(&c1, &o);
    import_clock_init(&c2, &o);
    int64_t first = import_clock_next(&c1), last = first;
    assert_int_equal(import_clock_next(&c2), first);
    for (int i = 0; i < 20000; i++) {
        last = import_clock_next(&c1);
        assert_int_equal(import_clock_next(&c2), last);
    }
    double mean_gap = (double)(last - first) / 20000.0;
    assert_true(mean_gap > 480000 && mean_gap < 520000);

    struct import_opts ox = {.name = "s"};
    static const struct { const char *j, *msg; } one[] = {
        {"{}", "s: not a JSON array of conversations"},
        {"[{\"id\":\"a\"}]", "s: record 1: field \"conversations\": missing"},
        {"[{\"conversations\":[{\"from\":\"alien\",\"value\":\"x\"}]}]",
         "s: record 1: field \"conversations[0].from\": unknown speaker"},
        {"[{\"conversations\":[]}, {\"conversations\":[{\"from\":\"human\",\"value\":3}]}]",
         "s: record 2: field \"conversations[0].value\": not a string"},
        {"[1,", "s: not valid JSON (near byte 2)"},
    };
    for (size_t i = 0; i < sizeof one / sizeof *one; i++) {
        import_trace_init(&t);
        assert_true(import_parse(IMPORT_SHAREGPT, one[i].j, strlen(one[i].j), &ox, &t) < 0);
        assert_string_equal(t.err, one[i].msg);
        import_trace_free(&t);
    }
}

static void test_batch(void **state)
{
    (void)state;
    struct import_opts o = {.base_us = 5, .rate = 10, .arrival = IMPORT_ARRIVAL_CONSTANT};
    struct import_trace t;
    import_trace_init(&t);
    assert_int_equal(parse_fixture("batch.jsonl", IMPORT_BATCH, &o, &t), 0);
    assert_int_equal(t.n, 2);
    assert_string_equal(t.rows[0].id, "req-1");
    assert_string_equal(t.rows[0].path, "/v1/chat/completions");
    assert_string_equal(t.rows[0].method, "POST");
    assert_string_equal(t.rows[0].model, "gpt-4o-mini");
    assert_int_equal(t.rows[0].t_us, 5);
    assert_int_equal(t.rows[1].t_us, 100005);
    assert_string_equal(t.rows[1].path, "/v1/completions");
    assert_non_null(cJSON_GetObjectItem(t.rows[1].body, "prompt"));
    import_trace_free(&t);
    const char *bad = "{\"custom_id\":\"a\",\"url\":\"v1/x\",\"body\":{}}";
    struct import_opts ox = {.name = "b"};
    assert_int_equal(import_parse(IMPORT_BATCH, bad, strlen(bad), &ox, &t), IMPORT_ERR_FORMAT);
    assert_string_equal(t.err, "b: line 1: field \"url\": not a path starting with /");
    import_trace_free(&t);
}

static void test_har(void **state)
{
    (void)state;
    struct import_opts o = {0};
    struct import_trace t;
    import_trace_init(&t);
    assert_int_equal(parse_fixture("sample.har", IMPORT_HAR, &o, &t), 0);
    assert_int_equal(t.n, 1);
    assert_int_equal(t.ignored, 1);
    const struct import_row *r = &t.rows[0];
    /* 10:00:01.250+01:00 plus blocked 1.5 + dns 2 + connect 10.5 ms */
    assert_int_equal(r->t_us, 1709283601250000LL + 14000);
    assert_int_equal(r->resp.ttfb_us, 150500);
    assert_int_equal(r->resp.end_us, 286000);
    assert_int_equal(r->resp.status, 200);
    assert_string_equal(r->resp.text, "Hello");
    assert_int_equal(r->tokens_in, 9);
    assert_int_equal(r->tokens_out, 2);
    assert_string_equal(r->path, "/v1/chat/completions");
    assert_string_equal(r->model, "m1");
    assert_true(cJSON_IsObject(r->body));
    import_trace_free(&t);
    const char *none = "{\"log\":{\"entries\":[]}}";
    struct import_opts ox = {.name = "h"};
    assert_int_equal(import_parse(IMPORT_HAR, none, strlen(none), &ox, &t), IMPORT_ERR_EMPTY);
    import_trace_free(&t);
    /* base64 bodies (HAR 1.2 content.encoding): decoded, then read like any other; the text
     * is the SSE stream above, base64-encoded by Python with a line break after 20 chars */
    const char *b64 = "{\"log\":{\"entries\":[{\"startedDateTime\":\"2024-03-01T10:00:00Z\","
                      "\"request\":{\"method\":\"POST\",\"url\":\"http://h/v1/chat/completions\"},"
                      "\"response\":{\"status\":200,\"content\":{\"encoding\":\"base64\",\"text\":"
                      "\"%s\"}}}]}}";
    static const char *const bodies[] = {
        "ZGF0YTogeyJjaG9pY2Vz\nIjpbeyJkZWx0YSI6eyJjb250ZW50IjoiSGkifX1dfQoKZGF0YTogeyJjaG9pY2VzIjpbXSwidXNhZ2UiOnsicHJvbXB0X3Rva2VucyI6NCwiY29tcGxldGlvbl90b2tlbnMiOjF9fQoKZGF0YTogW0RPTkVdCgo=",
        "ZGF0YTogeyJjaG9pY2VzIjpbeyJkZWx0YSI6eyJjb250ZW50IjoiSGkifX1dfQ*=", /* '*' */
        "AGRhdGE6IA==",                                                    /* NUL inside */
        "ZGF0YT+/ZGF0YT-_",                                                /* mixed alphabets */
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        char doc[1024];
        snprintf(doc, sizeof(doc), b64, bodies[i]);
        assert_int_equal(import_parse(IMPORT_HAR, doc, strlen(doc), &ox, &t), 0);
        assert_int_equal(t.n, 1);
        if (i == 0) {
            assert_string_equal(t.rows[0].resp.text, "Hi");
            assert_int_equal(t.rows[0].tokens_in, 4);
            assert_int_equal(t.rows[0].tokens_out, 1);
        } else {
            assert_null(t.rows[0].resp.text);
            assert_int_equal(t.rows[0].tokens_out, -1);
        }
        import_trace_free(&t);
    }
    const char *bad = "{\"log\":{\"entries\":[{\"startedDateTime\":\"yesterday\",\"request\":"
                      "{\"method\":\"POST\",\"url\":\"http://h/v1/completions\"}}]}}";
    assert_int_equal(import_parse(IMPORT_HAR, bad, strlen(bad), &ox, &t), IMPORT_ERR_FORMAT);
    assert_string_equal(t.err, "h: record 1: field \"startedDateTime\": bad time \"yesterday\"");
    import_trace_free(&t);
}

/* Every prefix of every fixture parses to a result or an error, never a crash (run under ASan
 * in the sanitizer build); each prefix is copied to its own exact-size allocation so an
 * over-read is caught. */
static void test_truncations(void **state)
{
    (void)state;
    static const struct { const char *file; enum import_format f; } cases[] = {
        {"azure_quirks.csv", IMPORT_AZURE}, {"azure_bad.csv", IMPORT_AZURE},
        {"burstgpt.csv", IMPORT_BURSTGPT},  {"mooncake.jsonl", IMPORT_MOONCAKE},
        {"mooncake_bad.jsonl", IMPORT_MOONCAKE}, {"sharegpt.json", IMPORT_SHAREGPT},
        {"batch.jsonl", IMPORT_BATCH},      {"sample.har", IMPORT_HAR},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t len;
        char *d = slurp(FIXTURE_DIR "/convert", cases[i].file, &len);
        for (size_t n = 0; n <= len; n++) {
            char *p = malloc(n ? n : 1);
            assert_non_null(p);
            memcpy(p, d, n);
            struct import_opts o = {.name = "t", .skip_bad = (int)(n & 1)};
            struct import_trace t;
            import_trace_init(&t);
            int rc = import_parse(cases[i].f, p, n, &o, &t);
            assert_true(rc == 0 || rc == IMPORT_ERR_FORMAT || rc == IMPORT_ERR_EMPTY);
            if (rc)
                assert_true(t.err[0] != '\0');
            import_detect(p, n);
            import_trace_free(&t);
            free(p);
        }
        free(d);
    }
}


/* Sessions as recorded: a ShareGPT conversation is one, each user turn a turn, no think times. */
static void test_sharegpt_sessions(void **state)
{
    (void)state;
    struct import_opts o = {.base_us = 1000000, .rate = 2, .arrival = IMPORT_ARRIVAL_CONSTANT};
    struct import_trace t;
    import_trace_init(&t);
    assert_int_equal(parse_fixture("sharegpt.json", IMPORT_SHAREGPT, &o, &t), 0);
    assert_int_equal(t.n, 3);
    assert_string_equal(t.rows[0].session, "c1");
    assert_int_equal(t.rows[0].turn, 0);
    assert_string_equal(t.rows[1].session, "c1");
    assert_int_equal(t.rows[1].turn, 1);
    assert_string_equal(t.rows[2].session, "c3");
    assert_int_equal(t.rows[2].turn, 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(t.rows[i].think_us, -1);
    assert_int_equal(t.sessions, 2);
    assert_int_equal(t.linked, 1);
    struct import_build_opts bo = {0};
    struct tlog_exchange x;
    assert_int_equal(import_build_exchange(&t.rows[1], &bo, &x), 0);
    assert_true(x.session.present);
    assert_string_equal(x.session.id, "c1");
    assert_int_equal(x.session.turn, 1);
    assert_int_equal(x.session.think_us, -1);
    tlog_exchange_free(&x);
    import_trace_free(&t);
    /* without an id the session is named like the records */
    const char *noid = "[{\"conversations\":[{\"from\":\"human\",\"value\":\"a\"}]}]";
    struct import_opts on = {.name = "n", .input_index = 2};
    assert_int_equal(import_parse(IMPORT_SHAREGPT, noid, strlen(noid), &on, &t), 0);
    assert_string_equal(t.rows[0].session, "sharegpt2-1");
    import_trace_free(&t);
}

/* BurstGPT's newer layout: Session ID (or SessionID) and Elapsed time. Think time = this
 * request's timestamp − (the previous turn's timestamp + its elapsed time), hand-computed. */
static void test_burstgpt_sessions(void **state)
{
    (void)state;
    struct import_opts o = {.base_us = 1000000};
    struct import_trace t;
    import_trace_init(&t);
    assert_int_equal(parse_fixture("burstgpt_sessions.csv", IMPORT_BURSTGPT, &o, &t), 0);
    assert_int_equal(t.n, 6);
    /* rows in time order: 10 s1, 11 -, 20 s1, 21 s2, 22 s1 (failed), 30 s1 */
    assert_string_equal(t.rows[0].session, "burstgpt-s1");
    assert_int_equal(t.rows[0].turn, 0);
    assert_int_equal(t.rows[0].think_us, -1);
    assert_int_equal(t.rows[0].elapsed_us, 2500000);
    assert_null(t.rows[1].session);
    assert_int_equal(t.rows[1].turn, -1);
    assert_int_equal(t.rows[2].turn, 1);
    assert_int_equal(t.rows[2].think_us, 7500000); /* 20 − (10 + 2.5) */
    assert_string_equal(t.rows[3].session, "burstgpt-s2");
    assert_int_equal(t.rows[3].turn, 0);
    assert_int_equal(t.rows[4].turn, 2);
    assert_int_equal(t.rows[4].think_us, 0);       /* 22 − (20 + 3) < 0: clamped, counted */
    assert_int_equal(t.rows[4].failed, 1);
    assert_int_equal(t.rows[5].turn, 3);
    assert_int_equal(t.rows[5].think_us, -1);      /* the failed turn recorded no elapsed time */
    assert_int_equal(t.sessions, 2);
    assert_int_equal(t.linked, 3);
    assert_int_equal(t.think_clamped, 1);
    import_trace_free(&t);
    /* --time-scale scales think times like every other gap; SessionID is the other spelling */
    const char *alt = "Timestamp,Request tokens,Response tokens,SessionID,Elapsed time\n"
                      "0,1,2,x,1\n4,1,2,x,0.5\n";
    struct import_opts os = {.name = "b", .base_us = 10, .time_scale = 2};
    assert_int_equal(import_parse(IMPORT_BURSTGPT, alt, strlen(alt), &os, &t), 0);
    assert_int_equal(t.rows[1].t_us, 8000010);
    assert_int_equal(t.rows[1].think_us, 6000000); /* (4 − 1) × 2 */
    assert_string_equal(t.rows[1].session, "burstgpt-x");
    import_trace_free(&t);
    const char *bad = "Timestamp,Request tokens,Response tokens,Session ID,Elapsed time\n0,1,2,x,soon\n";
    assert_int_equal(import_parse(IMPORT_BURSTGPT, bad, strlen(bad), &os, &t), IMPORT_ERR_FORMAT);
    assert_string_equal(t.err, "b: line 2: field \"Elapsed time\": not seconds: \"soon\"");
    import_trace_free(&t);
}

/* Mooncake sessions from hash_ids (convert/README.md "Sessions"), every link worked out by hand:
 * a request continues the newest open earlier one whose full blocks (at least 2) it repeats,
 * which it outlasts by at least that one's output, and which arrived before it. */
static void test_mooncake_sessions(void **state)
{
    (void)state;
    struct import_opts o = {.base_us = 1000000};
    struct import_trace t;
    import_trace_init(&t);
    assert_int_equal(parse_fixture("mooncake_sessions.jsonl", IMPORT_MOONCAKE, &o, &t), 0);
    assert_null(t.rows[0].session); /* only when asked */
    import_trace_free(&t);
    o.infer_sessions = 1;
    assert_int_equal(parse_fixture("mooncake_sessions.jsonl", IMPORT_MOONCAKE, &o, &t), 0);
    static const struct { int64_t line; const char *s; int64_t turn; } want[] = {
        {1, "mooncake-1", 0}, /* [1,2 | 3]: full blocks [1,2] */
        {2, "mooncake-2", 0}, /* repeats [1,2] but arrived at the same time as line 1 */
        {3, "mooncake-3", 0}, /* one full block: never a previous turn */
        {4, "mooncake-1", 1}, /* [1,2] + 1300 ≥ 1100 + 100 */
        {5, "mooncake-5", 0}, /* line 4 is longer than it, line 1 already continued: a branch */
        {6, "mooncake-5", 1}, /* the newest open turn with [1,2]: line 5 */
        {7, "mooncake-1", 2}, /* then line 4 */
    };
    assert_int_equal(t.n, 7);
    for (size_t i = 0; i < 7; i++) {
        assert_int_equal(t.rows[i].line, want[i].line);
        assert_string_equal(t.rows[i].session, want[i].s);
        assert_int_equal(t.rows[i].turn, want[i].turn);
        assert_int_equal(t.rows[i].think_us, -1);
    }
    assert_int_equal(t.sessions, 4);
    assert_int_equal(t.linked, 3);
    import_trace_free(&t);
    /* one shared block is enough when asked: line 5 then continues line 3's [1] */
    o.session_min_blocks = 1;
    assert_int_equal(parse_fixture("mooncake_sessions.jsonl", IMPORT_MOONCAKE, &o, &t), 0);
    assert_string_equal(t.rows[4].session, "mooncake-3");
    assert_int_equal(t.rows[4].turn, 1);
    import_trace_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timestamps),     cmocka_unit_test(test_detect),
        cmocka_unit_test(test_azure_sample),   cmocka_unit_test(test_azure_quirks),
        cmocka_unit_test(test_azure_bad),      cmocka_unit_test(test_mooncake_sample),
        cmocka_unit_test(test_mooncake_fixture), cmocka_unit_test(test_burstgpt),
        cmocka_unit_test(test_sharegpt),       cmocka_unit_test(test_batch),
        cmocka_unit_test(test_har),            cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_sharegpt_sessions), cmocka_unit_test(test_burstgpt_sessions),
        cmocka_unit_test(test_mooncake_sessions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
