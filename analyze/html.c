/* html.c — the self-contained HTML report (see html.h): inline CSS, inline SVG charts (the
 * files plot_all wrote, minus their XML prolog), the tables, the command line and each log's
 * header. One small inline script (html_hover_js) reads values under the pointer off each
 * chart from the axis mapping gnuplot printed (plot_opts.axes); no external resource. */
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

/* The figure's axis mapping as a data attribute: one "x0 x1 y0 y1 tx0 tx1 ty0 ty1 W H lx ly"
 * group per plot (multiplot panels in order), ';'-separated. Only digits, signs, dots, 'e',
 * spaces and ';' are copied: the file is ours, but the page must stay well-formed. */
static void html_axes_attr(FILE *f, const char *dir, const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.axes", dir, name);
    FILE *a = fopen(path, "r");
    if (!a)
        return;
    char line[512];
    fputs(" data-axes=\"", f);
    while (fgets(line, sizeof line, a)) {
        for (const char *p = line; *p; p++)
            if (strchr("0123456789+-.e ", *p))
                fputc(*p, f);
        fputc(';', f);
    }
    fputc('"', f);
    fclose(a);
}

/* Hover readout: maps the pointer from SVG units to data through the panel it is over. */
static const char html_hover_js[] =
    "<script>\n(function(){\n"
    "function fmt(v){var a=Math.abs(v);return a>=1000?v.toFixed(0):a>=10?v.toFixed(1):"
    "v.toPrecision(3);}\n"
    "function map(lo,hi,f,lg){return lg?Math.pow(10,Math.log10(lo)+f*(Math.log10(hi)-"
    "Math.log10(lo))):lo+f*(hi-lo);}\n"
    "document.querySelectorAll('figure[data-axes]').forEach(function(fig){\n"
    " var svg=fig.querySelector('svg');if(!svg||!svg.viewBox)return;\n"
    " var P=fig.getAttribute('data-axes').split(';').map(function(s){return s.trim();})"
    ".filter(function(s){return s.length;}).map(function(s){return s.split(/\\s+/)"
    ".map(Number);}).filter(function(a){return a.length==12;});\n"
    " var tip=document.createElement('div');tip.className='tip';fig.appendChild(tip);\n"
    " svg.addEventListener('mousemove',function(ev){\n"
    "  var vb=svg.viewBox.baseVal,pt=svg.createSVGPoint();pt.x=ev.clientX;pt.y=ev.clientY;\n"
    "  var m=svg.getScreenCTM();if(!m){return;}var p=pt.matrixTransform(m.inverse());\n"
    /* GPVAL_TERM_[XY]MIN/MAX are in pixels, the sizes in gnuplot's SVG units (1/100 px) */
    "  for(var i=0;i<P.length;i++){var a=P[i],sx=vb.width*100/a[8],sy=vb.height*100/a[9];\n"
    "   var x0=a[4]*sx,x1=a[5]*sx,y0=vb.height-a[6]*sy,y1=vb.height-a[7]*sy;\n"
    "   if(p.x>=x0&&p.x<=x1&&p.y<=y0&&p.y>=y1&&x1>x0&&y0>y1){\n"
    "    var X=map(a[0],a[1],(p.x-x0)/(x1-x0),a[10]),Y=map(a[2],a[3],(y0-p.y)/(y0-y1),a[11]);\n"
    "    var r=fig.getBoundingClientRect();tip.textContent='x '+fmt(X)+'   y '+fmt(Y);\n"
    "    tip.style.left=(ev.clientX-r.left+14)+'px';tip.style.top=(ev.clientY-r.top+14)+'px';\n"
    "    tip.style.display='block';return;}}\n"
    "  tip.style.display='none';});\n"
    " svg.addEventListener('mouseleave',function(){tip.style.display='none';});\n"
    "});\n})();\n</script>\n";

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
          "figure{margin:1em 0;position:relative}svg{max-width:100%;height:auto}\n"
          ".tip{position:absolute;display:none;background:#fffbe6;border:1px solid #999;"
          "padding:1px 6px;font-size:0.85em;pointer-events:none;white-space:nowrap}\n"
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
            fprintf(f, "<figure id=\"%s\"", plot_chart_names[k]);
            html_axes_attr(f, svg_dir, plot_chart_names[k]);
            fputs(">\n", f);
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
    fputs("</pre>\n", f);
    if (svg_dir && res)
        fputs(html_hover_js, f);
    fputs("</body></html>\n", f);
    if (fclose(f)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
