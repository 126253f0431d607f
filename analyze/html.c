/* html.c — the self-contained HTML report (see html.h): inline CSS, inline SVG charts (the
 * files plot_all wrote, minus their XML prolog), the tables, the command line and each log's
 * header. No script, no external resource. */
#include "html.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "capacity.h"
#include "plot.h"
#include "server.h"

static void html_esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static void html_num(FILE *f, double v)
{
    if (isnan(v))
        fputs("–", f);
    else if (fabs(v) >= 1000)
        fprintf(f, "%.1f", v);
    else if (fabs(v) >= 10)
        fprintf(f, "%.2f", v);
    else
        fprintf(f, "%.3f", v);
}

/* Copies an SVG file into the page, starting at its <svg element (drops <?xml?>/DOCTYPE).
 * Files are ours (just written by gnuplot) but still read with a cap. */
static int html_svg(FILE *f, const char *dir, const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.svg", dir, name);
    struct buf svg;
    buf_init(&svg, (size_t)64 << 20);
    if (buf_append_file(&svg, path) != 0 || !svg.p) {
        buf_free(&svg);
        return -1;
    }
    const char *s = svg.p;
    size_t len = svg.len;
    const char *start = NULL;
    for (size_t i = 0; i + 4 <= len; i++)
        if (!memcmp(s + i, "<svg", 4)) {
            start = s + i;
            break;
        }
    if (start)
        fwrite(start, 1, len - (size_t)(start - s), f);
    buf_free(&svg);
    return start ? 0 : -1;
}

/* Under the time series: per label without server series, why (README "Server metrics"). */
static void html_server_why(FILE *f, const struct an_report *r)
{
    const struct an_ctx *c = r->ctx;
    for (size_t l = 0; l < c->n_labels; l++) {
        if (r->server && srv_has(r->server, l))
            continue;
        char why[300];
        srv_why(r->server, l, why, sizeof why);
        fputs("<br><span class=noserver>", f);
        html_esc(f, c->labels[l]);
        fputs(": no server metrics: ", f);
        html_esc(f, why);
        fputs("</span>", f);
    }
}

static const char *const html_titles[] = {
    "Output throughput vs latency", "TTFT distribution", "TPOT distribution", "Time series",
    "Inter-token latency histogram", "TTFT vs input tokens", "TTFT by turn"};

int html_write(const char *path, const struct an_report *r, const char *svg_dir,
               const struct plot_result *res, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    const struct an_ctx *c = r->ctx;
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<title>llmtrace-analyze report</title>\n<style>\n"
          "body{font-family:system-ui,sans-serif;margin:2em;color:#111;background:#fff;"
          "max-width:1100px}\n"
          "table{border-collapse:collapse;margin:0.5em 0 1.5em}\n"
          "th,td{border:1px solid #bbb;padding:3px 8px;text-align:right;font-size:0.9em}\n"
          "th{background:#eee}td.l,th.l{text-align:left}\n"
          "code,pre{background:#f4f4f4;padding:2px 4px;white-space:pre-wrap;word-break:break-all}\n"
          "figure{margin:1em 0}svg{max-width:100%;height:auto}\n"
          "p.answer{font-size:1.15em;border-left:4px solid #2a6;padding:4px 10px;"
          "background:#f2faf5}\n"
          "@media print{body{margin:0}figure{page-break-inside:avoid}}\n"
          "</style></head><body>\n<h1>llmtrace-analyze report</h1>\n", f);
    fputs("<p>Command: <code>", f);
    html_esc(f, r->command);
    fprintf(f, "</code><br>Grouped by <b>%s</b>. Metric definitions: "
               "analyze/README.md &ldquo;Metric definitions&rdquo;.</p>\n", report_by_name(c->by));
    for (size_t i = 0; r->cap && i < r->cap->n; i++) {
        char line[1200];
        cap_line(c, r->cap, i, line, sizeof line);
        fprintf(f, "<p class=answer id=\"capacity-%zu\"><b>Capacity</b>: ", i);
        html_esc(f, line);
        fputs("</p>\n", f);
    }
    fputs("<h2>Inputs</h2>\n<table><tr><th class=l>label</th><th class=l>file</th>"
          "<th class=l>written by</th><th class=l>command</th><th class=l>started</th>"
          "<th>records</th><th class=l>status</th></tr>\n", f);
    for (size_t i = 0; i < r->n_inputs; i++) {
        const struct an_input *in = &r->inputs[i];
        fputs("<tr><td class=l>", f);
        html_esc(f, in->label);
        fputs("</td><td class=l>", f);
        html_esc(f, in->path);
        fputs("</td><td class=l>", f);
        html_esc(f, in->tool ? in->tool : "–");
        fputs("</td><td class=l><code>", f);
        html_esc(f, in->command ? in->command : "");
        fputs("</code></td><td class=l>", f);
        html_esc(f, in->started ? in->started : "–");
        fprintf(f, "</td><td>%lld</td><td class=l>", in->records);
        html_esc(f, in->describe && in->describe[0] ? in->describe : "ok");
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
    if (r->preface) {
        fputs("<h2>Comparison</h2>\n<pre>", f);
        html_esc(f, r->preface);
        fputs("</pre>\n", f);
    }
    fputs("<h2>Summary</h2>\n<table><tr><th class=l>label</th>", f);
    if (c->by != AN_BY_LABEL)
        fprintf(f, "<th class=l>%s</th>", report_by_name(c->by));
    fputs("<th>requests</th><th>ok</th><th>errors</th><th>output tok/s</th><th>total tok/s</th>"
          "<th>req/s</th><th>goodput req/s</th><th>TTFT p50 ms</th><th>TTFT p99 ms</th>"
          "<th>TPOT p50 ms</th><th>ITL p50 ms</th><th>E2E p50 ms</th><th>E2E p99 ms</th></tr>\n",
          f);
    for (size_t g = 0; g < c->n_groups; g++) {
        const struct an_summary *s = &r->sums[g];
        if (s->requests == 0)
            continue;
        fputs("<tr><td class=l>", f);
        html_esc(f, c->groups[g].label);
        if (c->by != AN_BY_LABEL) {
            fputs("</td><td class=l>", f);
            html_esc(f, c->groups[g].key);
        }
        fprintf(f, "</td><td>%lld</td><td>%lld</td><td>%lld</td>", (long long)s->requests,
                (long long)s->ok, (long long)s->errors);
        double v[] = {s->output_tok_s, s->total_tok_s, s->req_s, s->goodput_req_s, s->ttft.p50,
                      s->ttft.p99, s->tpot.p50, s->itl.p50, s->e2e.p50, s->e2e.p99};
        /* output tok/s, total tok/s and TPOT rest on n_out: marked when it was counted */
        static const int on_n_out[] = {1, 1, 0, 0, 0, 0, 1, 0, 0, 0};
        for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
            fputs("<td>", f);
            html_num(f, v[k]);
            if (on_n_out[k] && s->n_out_events > 0 && !isnan(v[k]))
                fputs("*", f);
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
    char *notes = NULL;
    size_t nlen = 0;
    FILE *nf = open_memstream(&notes, &nlen);
    if (nf) {
        report_notes(nf, r, "*");
        fclose(nf);
        if (nlen) {
            fputs("<p class=note>", f);
            html_esc(f, notes);
            fputs("</p>\n", f);
        }
        free(notes);
    }
    int shdr = 0; /* sessions (README "Sessions"), for labels that have any */
    for (size_t l = 0; l < c->n_labels; l++) {
        struct an_sessions ss;
        if (an_sessions_of(c, l, &ss) || ss.sessions == 0)
            continue;
        if (!shdr)
            fputs("<h2>Sessions</h2>\n<table><tr><th class=l>label</th><th>sessions</th>"
                  "<th>turns</th><th>completed</th><th>met SLO</th><th>sessions/s</th>"
                  "<th>goodput sessions/s</th><th>duration p50 ms</th><th>duration p90 ms</th>"
                  "<th>turns mean</th></tr>\n", f);
        shdr = 1;
        fputs("<tr><td class=l>", f);
        html_esc(f, c->labels[l]);
        fprintf(f, "</td><td>%lld</td><td>%lld</td><td>%lld</td><td>%lld</td>",
                (long long)ss.sessions, (long long)ss.turns, (long long)ss.completed,
                (long long)ss.slo_met);
        double v[] = {ss.sessions_s, ss.goodput_sessions_s, ss.duration_ms.p50,
                      ss.duration_ms.p90, ss.turns_per.mean};
        for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
            fputs("<td>", f);
            html_num(f, v[k]);
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    if (shdr)
        fputs("</table>\n", f);
    if (svg_dir && res) {
        fputs("<h2>Charts</h2>\n", f);
        int missing = 0;
        for (int k = 0; plot_chart_names[k]; k++) {
            if (res[k].state != PLOT_DRAWN)
                continue;
            fprintf(f, "<figure id=\"%s\">\n", plot_chart_names[k]);
            if (html_svg(f, svg_dir, plot_chart_names[k]))
                fprintf(f, "<p>(chart %s could not be read back)</p>", plot_chart_names[k]);
            fprintf(f, "\n<figcaption>%s", html_titles[k]);
            if (!strcmp(plot_chart_names[k], "timeseries"))
                html_server_why(f, r);
            fputs("</figcaption></figure>\n", f);
        }
        for (int k = 0; plot_chart_names[k]; k++) {
            if (res[k].state == PLOT_DRAWN)
                continue;
            if (!missing++)
                fputs("<p>Not drawn:</p>\n<ul>\n", f);
            fprintf(f, "<li id=\"%s\">%s (<code>%s</code>): %s: ", plot_chart_names[k],
                    html_titles[k], plot_chart_names[k],
                    res[k].state == PLOT_SKIPPED ? "skipped" : "failed");
            html_esc(f, res[k].why);
            fputs("</li>\n", f);
        }
        if (missing)
            fputs("</ul>\n", f);
    } else {
        fputs("<p>No charts: ", f);
        html_esc(f, r->no_charts ? r->no_charts : "gnuplot was not available");
        fputs(".</p>\n", f);
    }
    fputs("<h2>Distributions</h2>\n", f);
    /* The Markdown renderer's per-group tables are plain enough to reuse as <pre>. */
    fputs("<pre>", f);
    char *md = NULL;
    size_t mdlen = 0;
    FILE *m = open_memstream(&md, &mdlen);
    if (m) {
        report_table(m, r);
        fclose(m);
        html_esc(f, md);
        free(md);
    }
    fputs("</pre>\n</body></html>\n", f);
    if (fclose(f)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
