/* test_export.c — exports of trace-log exchanges (formats/traces/import.h): analyze/README.md metrics computed
 * by hand, exact CSV bytes (RFC 4180 quoting, empty = unknown), Batch lines, HAR entries and
 * plain JSONL keeping a converted record's usage and "trace" object. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"

/* An exchange with content events at 100, 150, 250 ms (first one role-only, not content). */
static void make_exchange(struct tlog_exchange *x)
{
    tlog_exchange_init(x);
    x->id = strdup("r-1");
    x->start_us = 1700000000000000LL;
    x->req.method = strdup("POST");
    x->req.path = strdup("/v1/chat/completions");
    x->req.body = cJSON_Parse("{\"model\":\"m\",\"stream\":true,\"stream_options\":"
                              "{\"include_usage\":true},\"messages\":[]}");
    x->resp.status = 200;
    x->resp.ttfb_us = 90000;
    x->resp.end_us = 260000;
    assert_int_equal(tlog_exchange_add_event(x, 90000, 0, 0), 0);
    assert_int_equal(tlog_exchange_add_event(x, 100000, 1, 1), 0);
    assert_int_equal(tlog_exchange_add_event(x, 150000, 1, 1), 0);
    assert_int_equal(tlog_exchange_add_event(x, 250000, 1, 1), 0);
    x->tokens_in = 12;
    x->tokens_out = 3;
    x->tokens_source = TLOG_TOKENS_USAGE;
}

static void test_metrics_csv(void **state)
{
    (void)state;
    struct tlog_exchange x;
    make_exchange(&x);
    struct export_metrics m;
    export_metrics_of(&x, &m);
    assert_int_equal(m.ttft_us, 100000);
    assert_int_equal(m.tpot_us, 75000); /* (250 - 100) ms / (3 - 1) */
    assert_int_equal(m.e2e_us, 260000);
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(export_csv_row(&x, &b), 0);
    assert_string_equal(b.p, "r-1,,1700000000000000,,200,12,3,usage,90000,100000,75000,260000,,\n");
    assert_string_equal(export_csv_header(),
                        "id,replay_of,start_us,sched_us,status,n_in,n_out,tokens_source,ttfb_us,"
                        "ttft_us,tpot_us,e2e_us,error_kind,error_message\n");

    /* a failed replay record: quoting of the message, unknowns empty, tpot undefined */
    buf_reset(&b);
    x.tokens_out = 1;
    x.tokens_in = -1;
    x.replay.present = 1;
    x.replay.of = strdup("a,b");
    x.replay.sched_us = 1699999999999000LL;
    assert_int_equal(tlog_exchange_set_error(&x, TLOG_ERROR_RESET, "peer said \"bye\"\nthen left"), 0);
    assert_int_equal(export_csv_row(&x, &b), 0);
    assert_string_equal(b.p, "r-1,\"a,b\",1700000000000000,1699999999999000,200,,1,usage,90000,"
                             "100000,,260000,reset,\"peer said \"\"bye\"\"\nthen left\"\n");
    tlog_exchange_free(&x);

    /* no events, no response */
    tlog_exchange_init(&x);
    x.id = strdup("n");
    buf_reset(&b);
    assert_int_equal(export_csv_row(&x, &b), 0);
    assert_string_equal(b.p, "n,,0,,,,,none,,,,,,\n");
    tlog_exchange_free(&x);
    buf_free(&b);
}

static void test_batch_har(void **state)
{
    (void)state;
    struct tlog_exchange x;
    make_exchange(&x);
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(export_batch_line(&x, &b), 0);
    assert_string_equal(b.p, "{\"custom_id\":\"r-1\",\"method\":\"POST\",\"url\":"
                             "\"/v1/chat/completions\",\"body\":{\"model\":\"m\",\"messages\":[]}}\n");
    buf_reset(&b);
    assert_int_equal(export_har_begin(&b, "9.9"), 0);
    assert_int_equal(tlog_exchange_append_text(&x, "Hi!", 3), 0);
    assert_int_equal(export_har_entry(&x, 1, &b), 0);
    assert_int_equal(export_har_entry(&x, 0, &b), 0);
    assert_int_equal(export_har_end(&b), 0);
    cJSON *doc = cJSON_Parse(b.p);
    assert_non_null(doc);
    const cJSON *log = cJSON_GetObjectItem(doc, "log");
    assert_string_equal(cJSON_GetObjectItem(log, "version")->valuestring, "1.2");
    const cJSON *es = cJSON_GetObjectItem(log, "entries");
    assert_int_equal(cJSON_GetArraySize(es), 2);
    const cJSON *e = cJSON_GetArrayItem(es, 0);
    assert_string_equal(cJSON_GetObjectItem(e, "startedDateTime")->valuestring,
                        "2023-11-14T22:13:20.000000Z");
    assert_true(cJSON_GetObjectItem(e, "time")->valuedouble == 260.0);
    const cJSON *tm = cJSON_GetObjectItem(e, "timings");
    assert_true(cJSON_GetObjectItem(tm, "wait")->valuedouble == 90.0);
    assert_true(cJSON_GetObjectItem(tm, "receive")->valuedouble == 170.0);
    const cJSON *rq = cJSON_GetObjectItem(e, "request");
    assert_string_equal(cJSON_GetObjectItem(rq, "url")->valuestring,
                        "http://localhost/v1/chat/completions");
    const cJSON *c = cJSON_GetObjectItem(cJSON_GetObjectItem(e, "response"), "content");
    assert_string_equal(cJSON_GetObjectItem(c, "text")->valuestring, "Hi!");
    cJSON_Delete(doc);
    tlog_exchange_free(&x);
    buf_free(&b);
}

static void test_jsonl_trace_source(void **state)
{
    (void)state;
    /* a converted record read back keeps its trace-recorded usage and its "trace" object */
    const char *line = "{\"type\":\"exchange\",\"id\":\"azure-2\",\"start_us\":5,\"request\":"
                       "{\"method\":\"POST\",\"path\":\"/v1/chat/completions\",\"body\":"
                       "{\"tokens_source\":\"none\"}},\"usage\":{\"prompt_tokens\":374,"
                       "\"completion_tokens\":44},\"tokens_in\":374,\"tokens_out\":44,"
                       "\"tokens_source\":\"usage\",\"trace\":{\"format\":\"azure\",\"line\":2}}";
    cJSON *j = cJSON_Parse(line);
    struct tlog_exchange x;
    char err[128];
    assert_int_equal(tlog_exchange_from_json(j, &x, err, sizeof err), 0);
    assert_int_equal(tlog_exchange_copy_extra(j, &x), 0);
    cJSON_Delete(j);
    assert_true(import_lengths_are_trace(&x));
    struct buf b;
    buf_init(&b, 1 << 20);
    struct tlog_write_opts wo = {0};
    assert_int_equal(export_jsonl_line(&x, &wo, &b), 0);
    cJSON *back = cJSON_Parse(b.p);
    assert_string_equal(cJSON_GetObjectItem(back, "tokens_source")->valuestring, "usage");
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(back, "trace"), "format")->valuestring, "azure");
    /* the body's own key of the same name is left alone */
    const cJSON *body = cJSON_GetObjectItem(cJSON_GetObjectItem(back, "request"), "body");
    assert_string_equal(cJSON_GetObjectItem(body, "tokens_source")->valuestring, "none");
    cJSON_Delete(back);
    buf_reset(&b);
    assert_int_equal(export_csv_row(&x, &b), 0);
    assert_string_equal(b.p, "azure-2,,5,,,374,44,usage,,,,,,\n");
    tlog_exchange_free(&x);
    buf_free(&b);
    assert_int_equal(export_format_parse("CSV"), EXPORT_CSV);
    assert_int_equal(export_format_parse("har"), EXPORT_HAR);
    assert_int_equal(export_format_parse("xlsx"), EXPORT_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_csv),
        cmocka_unit_test(test_batch_har),
        cmocka_unit_test(test_jsonl_trace_source),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
