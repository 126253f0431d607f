/* fuzz_analyze.c — libFuzzer harness for llmtrace-analyze's engine: arbitrary bytes as a
 * trace-log image (formats/tlog/tlog_reader.c), every exchange fed to the metric engine under one
 * of the --by modes, then every renderer that does not spawn a process (table, JSON, CSV,
 * Markdown, per-request rows, compare). Log times are hostile here: no overflow, no
 * out-of-range index, no leak may follow from them (run under ASan + UBSan). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "compare.h"
#include "metrics.h"
#include "report.h"
#include "tlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *sink;
    if (!sink)
        sink = fopen("/dev/null", "w");
    if (!sink)
        return 0;
    struct tlog_reader_opts o = {.skip_bodies = 1, .max_line = 1 << 20};
    char err[256];
    struct tlog_reader *rd = tlog_reader_open_mem(data, size, &o, err, sizeof err);
    if (!rd)
        return 0;
    struct an_ctx c;
    an_init(&c, (enum an_by)(size % 6), 1000000, (enum an_latency_from)(size % 3), size & 8);
    c.compat = 1;
    c.slo.ttft_us = 500000;
    c.slo.tpot_us = 50000;
    an_add_label(&c, "base");
    an_add_label(&c, "new");
    struct tlog_record rec;
    tlog_record_init(&rec);
    int n = 0;
    for (int i = 0; i < 100000; i++) {
        int rc = tlog_read(rd, &rec);
        if (rc == 0 || (rc < 0 && rc != TLOG_ERR_FORMAT))
            break;
        if (rc == 1 && rec.type == TLOG_REC_EXCHANGE) {
            size_t g;
            if (an_add(&c, n & 1, &rec.x, &g) < 0)
                break;
            struct an_req q;
            an_req_compute(&c, &rec.x, &q);
            report_per_request_row(sink, "l", c.groups[g].key, &rec.x, &q);
            n++;
        }
    }
    tlog_record_free(&rec);
    tlog_reader_close(rd);
    an_sort_groups(&c);
    struct an_summary sums[64];
    if (c.n_groups <= 64) {
        int ok = 1;
        for (size_t g = 0; g < c.n_groups && ok; g++)
            ok = an_summarize(&c, g, 1, &sums[g]) == 0;
        if (ok) {
            struct an_report r = {.ctx = &c, .sums = sums, .compat = 1 + (int)(size % 4),
                                  .command = "fuzz"};
            report_table(sink, &r);
            report_json(sink, &r);
            report_csv(sink, &r);
            report_markdown(sink, &r);
            struct cmp_opts co = {.rounds = 20, .seed = 1, .alpha = 0.05, .json = (int)(size & 1)};
            cmp_run(sink, &c, &co, err, sizeof err);
        }
    }
    an_free(&c);
    return 0;
}
