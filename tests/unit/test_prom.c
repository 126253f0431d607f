/* test_prom.c — the Prometheus text parser (formats/wire/prom.h) on expositions as vLLM
 * (prometheus_client), llama.cpp (--metrics) and OpenMetrics write them: every sample with its
 * labels, value, timestamp and family kind, checked by hand; escapes; special values; bad lines
 * skipped and counted with the first reason; a callback that stops the parse. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "prom.h"

struct got {
    int n;
    char line[16][256];
    int stop_at;
};

/* "name{l=v,…} value ts kind" per sample, for exact comparison. */
static int collect(void *u, const struct prom_sample *s)
{
    struct got *g = u;
    if (g->n >= 16)
        return 0;
    char *o = g->line[g->n];
    int k = snprintf(o, 256, "%.*s{", (int)s->name_len, s->name);
    for (size_t i = 0; i < s->n_labels; i++)
        k += snprintf(o + k, (size_t)(256 - k), "%s%.*s=%.*s", i ? "," : "",
                      (int)s->labels[i].name_len, s->labels[i].name,
                      (int)s->labels[i].value_len, s->labels[i].value);
    snprintf(o + k, (size_t)(256 - k), "} %.17g %lld %.*s", s->value, (long long)s->ts_ms,
             (int)s->kind_len, s->kind);
    g->n++;
    return g->stop_at && g->n == g->stop_at ? 7 : 0;
}

static void test_vllm(void **state)
{
    (void)state;
    const char *t =
        "# HELP vllm:num_requests_running Number of requests currently running on GPU.\n"
        "# TYPE vllm:num_requests_running gauge\n"
        "vllm:num_requests_running{engine=\"0\",model_name=\"meta-llama/Llama-3-8B\"} 12.0\n"
        "# TYPE vllm:num_preemptions counter\n"
        "vllm:num_preemptions_total{engine=\"0\",model_name=\"m\"} 3.0\n"
        "# TYPE vllm:e2e_request_latency_seconds histogram\n"
        "vllm:e2e_request_latency_seconds_bucket{le=\"+Inf\",model_name=\"m\"} 40.0\n"
        "vllm:e2e_request_latency_seconds_sum{model_name=\"m\"} 1.5e+01\n"
        "vllm:kv_cache_usage_perc{model_name=\"m\"} 0.25\n";
    struct got g = {0};
    struct prom_stats st;
    assert_int_equal(prom_parse(t, strlen(t), collect, &g, &st), 0);
    assert_int_equal(g.n, 5);
    assert_int_equal(st.samples, 5);
    assert_int_equal(st.bad_lines, 0);
    assert_int_equal(st.lines, 9);
    assert_string_equal(g.line[0],
                        "vllm:num_requests_running{engine=0,model_name=meta-llama/Llama-3-8B} 12 -1 gauge");
    assert_string_equal(g.line[1], "vllm:num_preemptions_total{engine=0,model_name=m} 3 -1 counter");
    assert_string_equal(g.line[2],
                        "vllm:e2e_request_latency_seconds_bucket{le=+Inf,model_name=m} 40 -1 histogram");
    assert_string_equal(g.line[3], "vllm:e2e_request_latency_seconds_sum{model_name=m} 15 -1 histogram");
    /* not of the family of the last TYPE */
    assert_string_equal(g.line[4], "vllm:kv_cache_usage_perc{model_name=m} 0.25 -1 untyped");
}

static void test_llamacpp_and_forms(void **state)
{
    (void)state;
    const char *t =
        "# HELP llamacpp:kv_cache_usage_ratio KV-cache usage. 1 means 100 percent usage.\n"
        "# TYPE llamacpp:kv_cache_usage_ratio gauge\n"
        "llamacpp:kv_cache_usage_ratio 0.0625\n"
        "llamacpp:requests_processing 4\r\n"
        "  spaced_out   {  a = \"1\" , b=\"x\\\\y\\\"z\\n\" , }   -7.5e-3   1700000000123  \n"
        "nan_v NaN\n"
        "inf_v{x=\"\"} +Inf\n"
        "ninf_v -Inf 5\n"
        "om_v 1 # {trace_id=\"abc\"} 0.5\n"
        "# EOF\n";
    struct got g = {0};
    struct prom_stats st;
    assert_int_equal(prom_parse(t, strlen(t), collect, &g, &st), 0);
    assert_int_equal(g.n, 7);
    assert_string_equal(g.line[0], "llamacpp:kv_cache_usage_ratio{} 0.0625 -1 gauge");
    assert_string_equal(g.line[1], "llamacpp:requests_processing{} 4 -1 untyped");
    assert_string_equal(g.line[2], "spaced_out{a=1,b=x\\y\"z\n} -0.0074999999999999997 1700000000123 untyped");
    assert_string_equal(g.line[3], "nan_v{} nan -1 untyped");
    assert_string_equal(g.line[4], "inf_v{x=} inf -1 untyped");
    assert_string_equal(g.line[5], "ninf_v{} -inf 5 untyped");
    assert_string_equal(g.line[6], "om_v{} 1 -1 untyped");
}

static void test_bad_lines(void **state)
{
    (void)state;
    const char *t = "ok 1\n"
                    "9bad 1\n"               /* name */
                    "x{a=1} 2\n"             /* unquoted value */
                    "x{a=\"1} 2\n"           /* unterminated */
                    "x{a=\"\\t\"} 2\n"       /* bad escape */
                    "x 0x10\n"               /* hex is not a Prometheus float */
                    "x 1 12.5\n"             /* timestamp */
                    "x 1 2 3\n"              /* junk */
                    "x{a=\"1\" b=\"2\"} 1\n" /* missing comma */
                    "x\n"                    /* no value */
                    "ok2 2";                 /* no final newline */
    struct got g = {0};
    struct prom_stats st;
    assert_int_equal(prom_parse(t, strlen(t), collect, &g, &st), 0);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.line[1], "ok2{} 2 -1 untyped");
    assert_int_equal(st.bad_lines, 9);
    assert_int_equal(st.first_bad_line, 2);
    assert_string_equal(st.first_bad, "bad metric name");
}

static void test_caps_and_stop(void **state)
{
    (void)state;
    char t[70000];
    size_t k = (size_t)snprintf(t, sizeof t, "big{a=\"");
    memset(t + k, 'v', 9000);
    k += 9000;
    k += (size_t)snprintf(t + k, sizeof t - k, "\"} 1\nlabels{");
    for (int i = 0; i < 40; i++)
        k += (size_t)snprintf(t + k, sizeof t - k, "l%d=\"v\",", i);
    k += (size_t)snprintf(t + k, sizeof t - k, "} 1\na 1\nb 2\nc 3\n");
    struct got g = {.stop_at = 2};
    struct prom_stats st;
    assert_int_equal(prom_parse(t, k, collect, &g, &st), 7);
    assert_int_equal(g.n, 2);
    assert_int_equal(st.bad_lines, 2);
    assert_string_equal(st.first_bad, "label values too long");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vllm),
        cmocka_unit_test(test_llamacpp_and_forms),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_caps_and_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
