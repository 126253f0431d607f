/* plot.c — gnuplot charts through a pipe (see plot.h). The data go inline as named
 * datablocks ($name << EOD … EOD, gnuplot >= 5.0), so no temporary data file is written;
 * each chart's commands are sent twice, once per terminal (pngcairo, svg). */
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"

const char *const plot_chart_names[] = {"throughput_latency", "ttft_cdf", "tpot_cdf",
                                        "timeseries", "itl_hist", "ttft_vs_input", NULL};

#define PLOT_MAX_LABELS 12
/* Colour-blind-safe palette that also separates in greyscale print (Okabe–Ito order),
 * paired with distinct dash and point types. */
static const char *const plot_colors[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                          "#E69F00", "#56B4E9", "#000000", "#F0E442"};

const char *plot_find_gnuplot(void)
{
    static char found[4096];
    const char *env = getenv("LLMTRACE_GNUPLOT");
    if (env && *env)
        return access(env, X_OK) == 0 ? env : NULL;
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        if (n > 0 && n < sizeof found - 10) {
            memcpy(found, path, n);
            memcpy(found + n, "/gnuplot", 9);
            if (access(found, X_OK) == 0)
                return found;
        }
        path += n;
        if (*path == ':')
            path++;
    }
    return NULL;
}

/* Quoted gnuplot string literal (double quotes: backslash escapes). */
static void plot_qstr(struct buf *b, const char *s)
{
    buf_append_char(b, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            buf_append_char(b, '\\');
        if ((unsigned char)*s >= 0x20)
            buf_append_char(b, *s);
    }
    buf_append_char(b, '"');
}

/* Single-quoted path (gnuplot: '' is a literal quote, no other escapes). */
static void plot_qpath(struct buf *b, const char *dir, const char *name, const char *ext)
{
    buf_append_char(b, '\'');
    for (const char *s = dir; *s; s++) {
        if (*s == '\'')
            buf_append_char(b, '\'');
        buf_append_char(b, *s);
    }
    buf_printf(b, "/%s.%s'", name, ext);
}

/* Emits one chart: body (set/plot commands using datablocks already defined) under each
 * terminal the options ask for. */
static void plot_emit(struct buf *b, const char *dir, const char *name, const char *body,
                      const struct plot_opts *o, int tall)
{
    int h = tall ? 900 : 620;
    if (o->png) {
        buf_printf(b, "set terminal pngcairo size 1000,%d noenhanced font 'Sans,11' "
                      "background rgb 'white'\nset output ", h);
        plot_qpath(b, dir, name, "png");
        buf_printf(b, "\n%s\nunset multiplot\nset output\n", body);
    }
    if (o->svg) {
        buf_printf(b, "set terminal svg size 1000,%d dynamic noenhanced font 'Sans,11' "
                      "background rgb 'white'\nset output ", h);
        plot_qpath(b, dir, name, "svg");
        buf_printf(b, "\n%s\nunset multiplot\nset output\n", body);
    }
    buf_append_str(b, "reset\n");
}

static const char *plot_lat_name(enum plot_latency l)
{
    return l == PLOT_LAT_TPOT ? "TPOT" : l == PLOT_LAT_TTFT ? "TTFT" : "E2E";
}

/* Line colour and width; a filled point of size ps when ps > 0, an open one of size -ps when
 * ps < 0, none when 0 (lines-only styles reject point options). */
static void plot_style(struct buf *b, int i, double ps)
{
    buf_printf(b, "lc rgb '%s' lw 2", plot_colors[i % 8]);
    if (ps > 0)
        buf_printf(b, " pt %d ps %.1f", 5 + 2 * (i % 4), ps);
    else if (ps < 0)
        buf_printf(b, " pt %d ps %.1f", 4 + 2 * (i % 4), -ps);
}

/* (1) output tokens/s against p50 and p90 latency, one point per group, one line per label. */
static void plot_throughput(struct buf *data, struct buf *body, const struct an_ctx *c,
                            const struct an_summary *sums, enum plot_latency lat)
{
    size_t nl = c->n_labels < PLOT_MAX_LABELS ? c->n_labels : PLOT_MAX_LABELS;
    for (size_t l = 0; l < nl; l++) {
        buf_printf(data, "$TL%zu << EOD\n", l);
        for (size_t g = 0; g < c->n_groups; g++) {
            const struct an_summary *s = &sums[g];
            if (c->groups[g].label_idx != (int)l || s->requests == 0)
                continue;
            const struct stats_dist *d = lat == PLOT_LAT_TPOT ? &s->tpot
                                         : lat == PLOT_LAT_TTFT ? &s->ttft : &s->e2e;
            if (isnan(d->p50) || isnan(s->output_tok_s))
                continue;
            buf_printf(data, "%.6g %.6g %.6g \"%s\"\n", d->p50, d->p90, s->output_tok_s,
                       c->by == AN_BY_LABEL ? "" : c->groups[g].key);
        }
        buf_append_str(data, "EOD\n");
    }
    buf_printf(body, "set title 'Output throughput vs %s latency (one point per %s)'\n"
                     "set xlabel '%s latency (ms)'\nset ylabel 'output tokens/s (all requests)'\n"
                     "set grid\nset key outside right top box\nset yrange [0:*]\nset xrange [0:*]\n"
                     "plot ",
               plot_lat_name(lat), c->by == AN_BY_STAGE ? "stage" : "group", plot_lat_name(lat));
    for (size_t l = 0; l < nl; l++) {
        buf_printf(body, "%s$TL%zu using 1:3 with linespoints ", l ? ", " : "", l);
        plot_style(body, (int)l, 1.2);
        buf_append_str(body, " dt 1 title ");
        struct buf t;
        buf_init(&t, 4096);
        buf_printf(&t, "%s p50", c->labels[l]);
        plot_qstr(body, t.p);
        buf_reset(&t);
        buf_printf(body, ", $TL%zu using 1:3:4 with labels offset 0.8,0.8 font ',9' notitle", l);
        buf_printf(body, ", $TL%zu using 2:3 with linespoints ", l);
        /* open markers for p90 so the two series separate in greyscale print too */
        plot_style(body, (int)l, -1.2);
        buf_append_str(body, " dt 2 title ");
        buf_printf(&t, "%s p90", c->labels[l]);
        plot_qstr(body, t.p);
        buf_free(&t);
    }
    buf_append_char(body, '\n');
}

/* Sorted values of one metric over every group of label l (ok requests). */
static double *plot_label_values(const struct an_ctx *c, size_t l, const char *metric, size_t *n)
{
    size_t total = 0, cap = 0;
    double *all = NULL;
    for (size_t g = 0; g < c->n_groups; g++) {
        if (c->groups[g].label_idx != (int)l)
            continue;
        size_t k;
        double *v = an_collect(c, g, metric, &k);
        if (!v)
            continue;
        if (total + k > cap) {
            cap = (total + k) * 2;
            double *na = realloc(all, cap * sizeof *na);
            if (!na) {
                free(v);
                break;
            }
            all = na;
        }
        memcpy(all + total, v, k * sizeof *v);
        total += k;
        free(v);
    }
    stats_sort(all, total);
    *n = total;
    return all;
}

/* (2) CDF of a per-request metric, labels overlaid; at most 400 points per label. */
static void plot_cdf(struct buf *data, struct buf *body, const struct an_ctx *c,
                     const char *metric, const char *title, const char *tag)
{
    size_t nl = c->n_labels < PLOT_MAX_LABELS ? c->n_labels : PLOT_MAX_LABELS;
    buf_printf(body, "set title '%s'\nset xlabel '%s (ms)'\nset ylabel 'fraction of requests'\n"
                     "set grid\nset key bottom right box\nset yrange [0:1]\nplot ",
               title, tag);
    int any = 0;
    for (size_t l = 0; l < nl; l++) {
        size_t n;
        double *v = plot_label_values(c, l, metric, &n);
        buf_printf(data, "$%s%zu << EOD\n", tag, l);
        size_t pts = n < 400 ? n : 400;
        for (size_t i = 0; i < pts && n; i++) {
            double q = pts > 1 ? (double)i / (double)(pts - 1) : 1.0;
            buf_printf(data, "%.6g %.6g\n", stats_percentile_sorted(v, n, q * 100), q);
        }
        if (n == 0)
            buf_append_str(data, "NaN NaN\n");
        buf_append_str(data, "EOD\n");
        free(v);
        buf_printf(body, "%s$%s%zu using 1:2 with lines ", any ? ", " : "", tag, l);
        plot_style(body, (int)l, 0);
        buf_append_str(body, " title ");
        plot_qstr(body, c->labels[l]);
        any = 1;
    }
    buf_append_char(body, '\n');
}

static double plot_nice_width(double span_s)
{
    static const double steps[] = {0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600,
                                   900, 1800, 3600};
    double want = span_s / 80;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if (steps[i] >= want)
            return steps[i];
    return want; /* longer than 80 hours: 80 bins, whatever their width */
}

/* Adds the overlap of [a, e) with each bin of width w to acc[] (weight per µs of overlap).
 * Times are µs from the label's first start, in double: log times are untrusted, and double
 * keeps every difference defined (exact below 2^53 µs, 285 years). */
static void plot_spread(double *acc, size_t nb, double w, double a, double e, double weight)
{
    if (!(e > a) || a < 0)
        return;
    for (size_t b = (size_t)(a / w); b < nb; b++) {
        double lo = (double)b * w, hi = lo + w;
        if (lo >= e)
            break;
        double x = a > lo ? a : lo, y = e < hi ? e : hi;
        if (y > x)
            acc[b] += (y - x) * weight;
    }
}

/* (3) time series per label: output tokens/s (tokens spread evenly between first content
 * and end), time-averaged in-flight requests, mean TTFT of requests started in the bin. */
static void plot_timeseries(struct buf *data, struct buf *body, const struct an_ctx *c)
{
    size_t nl = c->n_labels < PLOT_MAX_LABELS ? c->n_labels : PLOT_MAX_LABELS;
    for (size_t l = 0; l < nl; l++) {
        int64_t t_min = INT64_MAX, t_max = INT64_MIN;
        for (size_t i = 0; i < c->n_reqs; i++) {
            const struct an_req *r = &c->reqs[i];
            if (c->groups[r->group].label_idx != (int)l)
                continue;
            if (r->t0_us < t_min)
                t_min = r->t0_us;
            if (r->end_abs_us > t_max)
                t_max = r->end_abs_us;
        }
        buf_printf(data, "$TS%zu << EOD\n", l);
        double span = (double)t_max - (double)t_min;
        if (t_min < t_max) {
            double w = plot_nice_width(span / 1e6), wu = w * 1e6;
            size_t nb = (size_t)(span / wu) + 1;
            double *tok = calloc(nb, sizeof *tok), *inf = calloc(nb, sizeof *inf);
            double *ttft = calloc(nb, sizeof *ttft), *cnt = calloc(nb, sizeof *cnt);
            if (tok && inf && ttft && cnt) {
                for (size_t i = 0; i < c->n_reqs; i++) {
                    const struct an_req *r = &c->reqs[i];
                    if (c->groups[r->group].label_idx != (int)l)
                        continue;
                    double t0 = (double)r->t0_us - (double)t_min;
                    double te = (double)r->end_abs_us - (double)t_min;
                    /* in-flight: overlap of [t0, end] with each bin, in bin widths */
                    plot_spread(inf, nb, wu, t0, te, 1.0 / wu);
                    if (!(r->flags & AN_REQ_OK) || r->ttft_us < 0)
                        continue;
                    size_t sb = (size_t)(t0 / wu);
                    if (sb >= nb)
                        sb = nb - 1;
                    ttft[sb] += r->ttft_us / 1e3;
                    cnt[sb] += 1;
                    if (r->n_out <= 0)
                        continue;
                    double shift = (r->flags & AN_REQ_FROM_SCHED) ? (double)r->lag_us : 0;
                    double ts = t0 + r->ttft_us - shift;
                    if (te <= ts) {
                        size_t eb = te > 0 ? (size_t)(te / wu) : 0;
                        tok[eb < nb ? eb : nb - 1] += r->n_out;
                        continue;
                    }
                    plot_spread(tok, nb, wu, ts, te, r->n_out / (te - ts));
                }
                for (size_t b = 0; b < nb; b++) {
                    buf_printf(data, "%.6g %.6g %.6g ", (double)b * w + w / 2, tok[b] / w, inf[b]);
                    if (cnt[b] > 0)
                        buf_printf(data, "%.6g\n", ttft[b] / cnt[b]);
                    else
                        buf_append_str(data, "NaN\n");
                }
            }
            free(tok);
            free(inf);
            free(ttft);
            free(cnt);
        } else {
            buf_append_str(data, "NaN NaN NaN NaN\n");
        }
        buf_append_str(data, "EOD\n");
    }
    static const char *const panel[] = {"output tokens/s", "in-flight requests", "TTFT (ms)"};
    buf_append_str(body, "set multiplot layout 3,1 title \"Time series (x: seconds since the "
                         "label's first request)\"\nset grid\nset key top right box\n");
    for (int p = 0; p < 3; p++) {
        buf_printf(body, "set ylabel '%s'\n%s\nplot ", panel[p],
                   p == 2 ? "set xlabel 'time (s)'" : "unset xlabel");
        for (size_t l = 0; l < nl; l++) {
            buf_printf(body, "%s$TS%zu using 1:%d with linespoints ", l ? ", " : "", l, p + 2);
            plot_style(body, (int)l, 0.6);
            buf_append_str(body, " title ");
            plot_qstr(body, c->labels[l]);
        }
        buf_append_char(body, '\n');
    }
}

/* (4) ITL histogram: the log-linear histogram regrouped into 60 log-spaced bins. */
static void plot_itl(struct buf *data, struct buf *body, const struct an_ctx *c)
{
    size_t nl = c->n_labels < PLOT_MAX_LABELS ? c->n_labels : PLOT_MAX_LABELS;
    buf_append_str(body, "set title 'Inter-token latency (one sample per gap between content "
                         "events)'\nset xlabel 'ITL (ms, log scale)'\n"
                         "set ylabel 'fraction of gaps'\n"
                         "set logscale x\nset grid\nset key top right box\nplot ");
    for (size_t l = 0; l < nl; l++) {
        struct hist h;
        hist_init(&h);
        for (size_t g = 0; g < c->n_groups; g++)
            if (c->groups[g].label_idx == (int)l)
                hist_merge(&h, &c->groups[g].itl);
        buf_printf(data, "$IH%zu << EOD\n", l);
        if (h.n > 0 && h.b && h.max > 0) {
            double lo = h.min > HIST_MIN ? h.min : HIST_MIN, hi = h.max * 1.0001;
            double step = log(hi / lo) / 60;
            if (step <= 0)
                step = 0.01;
            double bins[61] = {0};
            for (int i = 0; i < HIST_BUCKETS; i++) {
                if (!h.b[i])
                    continue;
                double v = hist_bucket_value(i);
                int k = (int)(log(v / lo) / step);
                bins[k < 0 ? 0 : k > 60 ? 60 : k] += h.b[i];
            }
            for (int k = 0; k <= 60; k++)
                buf_printf(data, "%.6g %.6g\n", lo * exp((k + 0.5) * step) / 1e3,
                           bins[k] / (double)h.n);
        } else {
            buf_append_str(data, "NaN NaN\n");
        }
        buf_append_str(data, "EOD\n");
        hist_free(&h);
        buf_printf(body, "%s$IH%zu using 1:2 with histeps ", l ? ", " : "", l);
        plot_style(body, (int)l, 0);
        buf_append_str(body, " title ");
        plot_qstr(body, c->labels[l]);
    }
    buf_append_char(body, '\n');
}

/* (5) TTFT against input tokens, at most 5000 points per label (even stride). */
static void plot_scatter(struct buf *data, struct buf *body, const struct an_ctx *c)
{
    size_t nl = c->n_labels < PLOT_MAX_LABELS ? c->n_labels : PLOT_MAX_LABELS;
    buf_append_str(body, "set title 'TTFT vs input tokens'\nset xlabel 'input tokens'\n"
                         "set ylabel 'TTFT (ms)'\nset grid\nset key top left box\nplot ");
    for (size_t l = 0; l < nl; l++) {
        size_t n = 0;
        for (size_t i = 0; i < c->n_reqs; i++) {
            const struct an_req *r = &c->reqs[i];
            n += c->groups[r->group].label_idx == (int)l && (r->flags & AN_REQ_OK) &&
                 r->n_in >= 0 && r->ttft_us >= 0;
        }
        size_t stride = n > 5000 ? (n + 4999) / 5000 : 1, k = 0, w = 0;
        buf_printf(data, "$SC%zu << EOD\n", l);
        for (size_t i = 0; i < c->n_reqs; i++) {
            const struct an_req *r = &c->reqs[i];
            if (!(c->groups[r->group].label_idx == (int)l && (r->flags & AN_REQ_OK) &&
                  r->n_in >= 0 && r->ttft_us >= 0))
                continue;
            if (k++ % stride == 0) {
                buf_printf(data, "%d %.6g\n", r->n_in, r->ttft_us / 1e3);
                w++;
            }
        }
        if (w == 0)
            buf_append_str(data, "NaN NaN\n");
        buf_append_str(data, "EOD\n");
        buf_printf(body, "%s$SC%zu using 1:2 with points ", l ? ", " : "", l);
        plot_style(body, (int)l, 0.5);
        buf_append_str(body, " title ");
        plot_qstr(body, c->labels[l]);
    }
    buf_append_char(body, '\n');
}

int plot_all(const struct an_ctx *c, const struct an_summary *sums, const char *dir,
             const struct plot_opts *o, char *err, size_t errlen)
{
    const char *gp = plot_find_gnuplot();
    if (!gp) {
        snprintf(err, errlen, "gnuplot not found in PATH (install gnuplot-nox); no charts "
                              "written, the numbers above are complete");
        return -1;
    }
    struct stat st;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode) || access(dir, W_OK)) {
        snprintf(err, errlen, "%s: not a writable directory", dir);
        return -1;
    }
    struct buf data, all, body;
    buf_init(&data, (size_t)1 << 30);
    buf_init(&all, (size_t)1 << 30);
    buf_init(&body, (size_t)64 << 20);
    int charts = 0;
    for (int k = 0; plot_chart_names[k]; k++) {
        buf_reset(&body);
        buf_reset(&data);
        switch (k) {
        case 0: plot_throughput(&data, &body, c, sums, o->latency); break;
        case 1: plot_cdf(&data, &body, c, "ttft", "TTFT distribution (CDF)", "TTFT"); break;
        case 2: plot_cdf(&data, &body, c, "tpot", "TPOT distribution (CDF)", "TPOT"); break;
        case 3: plot_timeseries(&data, &body, c); break;
        case 4: plot_itl(&data, &body, c); break;
        case 5: plot_scatter(&data, &body, c); break;
        }
        if (data.p)
            buf_append(&all, data.p, data.len);
        plot_emit(&all, dir, plot_chart_names[k], body.p ? body.p : "", o, k == 3);
        charts++;
    }
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "'%s'", gp);
    /* The path came from PATH or LLMTRACE_GNUPLOT; refuse quotes rather than escape them. */
    if (strchr(gp, '\'')) {
        snprintf(err, errlen, "gnuplot path contains a quote: %s", gp);
        charts = -1;
        goto out;
    }
    FILE *p = popen(cmd, "w");
    if (!p) {
        snprintf(err, errlen, "cannot run gnuplot: %s", strerror(errno));
        charts = -1;
        goto out;
    }
    if (all.p)
        fwrite(all.p, 1, all.len, p);
    int st2 = pclose(p);
    if (st2 == -1 || !WIFEXITED(st2) || WEXITSTATUS(st2) != 0) {
        snprintf(err, errlen, "gnuplot failed (status %d)", WIFEXITED(st2) ? WEXITSTATUS(st2) : -1);
        charts = -1;
    }
out:
    buf_free(&data);
    buf_free(&all);
    buf_free(&body);
    return charts;
}
