/* fuzz_analyze.c — libFuzzer harness for llmtrace-analyze's engine: arbitrary bytes as a
 * trace-log image (formats/tlog/tlog_reader.c), every exchange fed to the metric engine under one
 * of the --by modes (with --steady's two readings on some inputs), metrics and stage records to
 * the server series and the capacity judgement, then every renderer that does not spawn a
 * process (table, JSON, CSV, Markdown, per-request rows, compare, the capacity line). Log times
 * are hostile here: no overflow, no out-of-range index, no leak may follow from them (run
 * under ASan + UBSan). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "capacity.h"
#include "compare.h"
#include "metrics.h"
#include "report.h"
#include "server.h"
#include "tlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One reading of the image into c (and, when given, the server series and stage records). */
static void feed(const uint8_t *data, size_t size, struct an_ctx *c, FILE *sink,
                 struct srv_set *srv, struct cap_records *recs)
{
    struct tlog_reader_opts o = {.skip_bodies = 1, .max_line = 1 << 20, .aux_records = 1};
    char err[256];
    struct tlog_reader *rd = tlog_reader_open_mem(data, size, &o, err, sizeof err);
    if (!rd)
        return;
    struct tlog_record rec;
    tlog_record_init(&rec);
    int n = 0;
    for (int i = 0; i < 100000; i++) {
        int rc = tlog_read(rd, &rec);
        if (rc == 0 || (rc < 0 && rc != TLOG_ERR_FORMAT))
            break;
        if (rc != 1)
            continue;
        if (rec.type == TLOG_REC_EXCHANGE) {
            size_t g;
            if (an_add(c, n & 1, &rec.x, &g) < 0)
                break;
            struct an_req q;
            an_req_compute(c, &rec.x, &q);
            if (sink)
                report_per_request_row(sink, "l", c->groups[g].key, &rec.x, &q);
            n++;
        } else if (rec.type == TLOG_REC_METRICS && srv) {
            if (srv_add(srv, (size_t)(n & 1), &rec.metrics))
                break;
        } else if (rec.type == TLOG_REC_STAGE && recs) {
            if (cap_add_record(recs, n & 1, &rec.stage))
                break;
        }
    }
    tlog_record_free(&rec);
    tlog_reader_close(rd);
}

static void setup(struct an_ctx *c, size_t size)
{
    an_init(c, (enum an_by)(size % 6), 1000000, (enum an_latency_from)(size % 3), size & 8);
    c->compat = 1;
    c->slo.ttft_us = 500000;
    c->slo.tpot_us = 50000;
    an_add_label(c, "base");
    an_add_label(c, "new");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *sink;
    if (!sink)
        sink = fopen("/dev/null", "w");
    if (!sink)
        return 0;
    struct an_ctx c;
    setup(&c, size);
    struct srv_set srv;
    srv_init(&srv);
    struct cap_records recs = {0};
    feed(data, size, &c, sink, &srv, &recs);
    srv_finish(&srv);
    struct an_steady *steady = NULL;
    size_t n_steady = 0;
    if ((size & 16) && an_steady_plan(&c, &steady, &n_steady) == 0) {
        an_free(&c);
        setup(&c, size);
        c.steady = steady;
        c.n_steady = n_steady;
        feed(data, size, &c, NULL, NULL, NULL);
    }
    an_sort_groups(&c);
    struct an_summary sums[64];
    if (c.n_groups <= 64) {
        int ok = 1;
        for (size_t g = 0; g < c.n_groups && ok; g++)
            ok = an_summarize(&c, g, 1, &sums[g]) == 0;
        struct cap_result cap = {0};
        if (ok && cap_compute(&c, sums, &c.slo, 0.9, 0.05, &recs, &cap) == 0) {
            struct an_report r = {.ctx = &c, .sums = sums, .compat = 1 + (int)(size % 4),
                                  .command = "fuzz", .cap = &cap, .server = &srv};
            report_table(sink, &r);
            report_json(sink, &r);
            report_csv(sink, &r);
            report_markdown(sink, &r);
            for (size_t l = 0; l < 3; l++) {
                char why[300];
                srv_why(&srv, l, why, sizeof why);
            }
            struct cmp_opts co = {.rounds = 20, .seed = 1, .alpha = 0.05, .json = (int)(size & 1),
                                  .cap = &cap};
            char err[256];
            cmp_run(sink, &c, &co, err, sizeof err);
            cap_free(&cap);
        }
    }
    an_free(&c);
    free(steady);
    srv_free(&srv);
    free(recs.v);
    return 0;
}
