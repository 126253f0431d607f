/* plot.c — gnuplot charts through a pipe (see plot.h). The data go inline as named
 * datablocks ($name << EOD … EOD, gnuplot >= 5.0), so no temporary data file is written;
 * each chart's commands are sent twice, once per terminal (pngcairo, svg). */
#include "plot.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "capacity.h"
#include "server.h"

const char *const plot_chart_names[] = {"throughput_latency", "ttft_cdf", "tpot_cdf",
                                        "timeseries", "itl_hist", "ttft_vs_input",
                                        "ttft_by_turn", NULL};

#define PLOT_MAX_LABELS 12
#define PLOT_MAX_CDF_LINES 16 /* stages drawn in one CDF chart (the lowest ones) */
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
    int h = tall == 2 ? 1250 : tall ? 900 : 620;
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
        /* the labels the PNG pass set would be drawn twice */
        buf_append_str(b, "\nunset label\n");
        if (o->axes) {
            buf_append_str(b, "set print ");
            plot_qpath(b, dir, name, "axes");
            buf_append_char(b, '\n');
        }
        /* After each plot, for the HTML's hover readout: the axis ranges, the plot area in
         * terminal units, the terminal size and whether x/y are logarithmic. */
        int logx = 0, logy = 0;
        for (const char *l = body; *l;) {
            const char *e = strchr(l, '\n');
            size_t n = e ? (size_t)(e - l) : strlen(l);
            buf_append(b, l, n);
            buf_append_char(b, '\n');
            if (n >= 14 && !strncmp(l, "set logscale x", 14))
                logx = 1;
            if (n >= 14 && !strncmp(l, "set logscale y", 14))
                logy = 1;
            if (o->axes && n > 5 && !strncmp(l, "plot ", 5))
                /* a plot with nothing drawable leaves the ranges undefined: no line then
                 * (that panel has no readout) */
                buf_printf(b, "if (exists('GPVAL_X_MIN') && exists('GPVAL_TERM_XMIN')) { "
                              "print sprintf('%%.9g %%.9g %%.9g %%.9g %%d %%d %%d %%d %%d %%d "
                              "%d %d', GPVAL_X_MIN, GPVAL_X_MAX, GPVAL_Y_MIN, GPVAL_Y_MAX, "
                              "GPVAL_TERM_XMIN, GPVAL_TERM_XMAX, GPVAL_TERM_YMIN, "
                              "GPVAL_TERM_YMAX, GPVAL_TERM_XSIZE, GPVAL_TERM_YSIZE) }\n",
                           logx, logy);
            l += n + (e != NULL);
        }
        buf_append_str(b, "unset multiplot\nset output\n");
        if (o->axes)
            buf_append_str(b, "unset print\n");
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

/* A stage label's box in chart fractions (0..1 of the plot area), for overlap tests. */
struct plot_box { double x0, y0, x1, y1; };

static int plot_box_hit(const struct plot_box *a, const struct plot_box *b)
{
    return a->x0 < b->x1 && b->x0 < a->x1 && a->y0 < b->y1 && b->y0 < a->y1;
}

/* (1) output tokens/s against p50 and p90 latency, one point per group, one line per label.
 * Each point's group key is written beside it where it fits: four places are tried around
 * the point (right above, right below, left above, left below) against the labels already
 * placed and every marker; a key that fits nowhere is left out rather than printed over
 * another. Returns the number of points. */
static size_t plot_throughput(struct buf *data, struct buf *body, const struct an_ctx *c,
                              const struct an_summary *sums, enum plot_latency lat,
                              const struct cap_result *cap)
{
    size_t nl = c->n_labels < PLOT_MAX_LABELS ? c->n_labels : PLOT_MAX_LABELS;
    size_t npts = 0, *per = calloc(nl ? nl : 1, sizeof *per);
    double xmax = 0, ymax = 0;
    struct pt { double x50, x90, y; size_t g; } *pts = malloc((c->n_groups ? c->n_groups : 1) *
                                                               sizeof *pts);
    if (!pts || !per) {
        free(pts);
        free(per);
        return 0;
    }
    for (size_t g = 0; g < c->n_groups; g++) {
        const struct an_summary *s = &sums[g];
        int l = c->groups[g].label_idx;
        if (l >= (int)nl || s->requests == 0)
            continue;
        const struct stats_dist *d = lat == PLOT_LAT_TPOT ? &s->tpot
                                     : lat == PLOT_LAT_TTFT ? &s->ttft : &s->e2e;
        if (isnan(d->p50) || isnan(s->output_tok_s))
            continue;
        pts[npts++] = (struct pt){d->p50, d->p90, s->output_tok_s, g};
        per[l]++;
        xmax = d->p90 > xmax ? d->p90 : xmax;
        ymax = s->output_tok_s > ymax ? s->output_tok_s : ymax;
    }
    if (npts == 0) {
        free(pts);
        free(per);
        return 0;
    }
    /* the SLO of the x axis' metric, when the capacity answer judged one */
    int sm = lat == PLOT_LAT_TPOT ? SLO_TPOT : lat == PLOT_LAT_TTFT ? SLO_TTFT : SLO_E2E;
    double slo_ms = cap && cap->n ? cap->slo.limit_ms[sm] : 0;
    if (slo_ms > xmax)
        xmax = slo_ms;
    xmax = xmax > 0 ? xmax * 1.08 : 1;
    ymax = ymax > 0 ? ymax * 1.12 : 1;
    for (size_t l = 0; l < nl; l++) {
        if (!per[l])
            continue;
        buf_printf(data, "$TL%zu << EOD\n", l);
        for (size_t i = 0; i < npts; i++)
            if (c->groups[pts[i].g].label_idx == (int)l)
                buf_printf(data, "%.17g %.17g %.17g\n", pts[i].x50, pts[i].x90, pts[i].y);
        buf_append_str(data, "EOD\n");
    }
    buf_printf(body, "set title 'Output throughput vs %s latency (one point per %s)'\n"
                     "set xlabel '%s latency (ms)'\nset ylabel 'output tokens/s (all requests)'\n"
                     "set grid\nset key outside right top box\nset xrange [0:%.17g]\n"
                     "set yrange [0:%.17g]\n",
               plot_lat_name(lat), c->by == AN_BY_STAGE ? "stage" : "group", plot_lat_name(lat),
               xmax, ymax);
    if (c->by != AN_BY_LABEL) {
        /* The plot area of a 1000 x 620 chart with the key outside is about 780 x 518 px; a
         * 9 pt label is ~6 px per character and ~12 px high; points ~9 px across. */
        const double pw = 780, ph = 518, cw = 6.0 / pw, chh = 13.0 / ph, mk = 6.0;
        struct plot_box *placed = malloc((3 * npts + 1) * sizeof *placed);
        size_t np = 0;
        for (size_t i = 0; placed && i < npts; i++)
            for (int k = 0; k < 2; k++) {
                double u = (k ? pts[i].x90 : pts[i].x50) / xmax, v = pts[i].y / ymax;
                placed[np++] = (struct plot_box){u - mk / pw, v - mk / ph, u + mk / pw,
                                                 v + mk / ph};
            }
        for (size_t i = 0; placed && i < npts; i++) {
            const char *key = c->groups[pts[i].g].key;
            double u = pts[i].x50 / xmax, v = pts[i].y / ymax, w = (double)strlen(key) * cw;
            static const double off[4][2] = {{1, 1}, {1, -1}, {-1, 1}, {-1, -1}};
            for (int k = 0; k < 4; k++) {
                double gx = 8.0 / pw, gy = 7.0 / ph;
                struct plot_box b;
                b.x0 = off[k][0] > 0 ? u + gx : u - gx - w;
                b.x1 = b.x0 + w;
                b.y0 = off[k][1] > 0 ? v + gy : v - gy - chh;
                b.y1 = b.y0 + chh;
                if (b.x0 < 0 || b.x1 > 1 || b.y0 < 0 || b.y1 > 1)
                    continue;
                size_t j = 0;
                while (j < np && !plot_box_hit(&b, &placed[j]))
                    j++;
                if (j < np)
                    continue;
                placed[np++] = b;
                buf_append_str(body, "set label ");
                plot_qstr(body, key);
                /* at the box's lower-left corner, in graph coordinates */
                buf_printf(body, " at graph %.6f, graph %.6f left font ',9' front\n", b.x0,
                           b.y0 + 0.25 * chh);
                break;
            }
        }
        free(placed);
    }
    if (slo_ms > 0) {
        buf_printf(body, "set arrow from %.17g, graph 0 to %.17g, graph 1 nohead dt 3 lw 2 "
                         "lc rgb '#c00000' back\nset label 'SLO: p%g %s <= %g ms' at %.17g, "
                         "graph 0.97 right offset -0.5,0 tc rgb '#c00000' font ',9' front\n",
                   slo_ms, slo_ms, 100 * cap->slo.quantile, plot_lat_name(lat), slo_ms, slo_ms);
    }
    /* the answer: a ring around its p90 point, and what it is */
    int marked = 0;
    for (size_t i = 0; cap && i < cap->n; i++) {
        const struct cap_label *L = &cap->l[i];
        if (L->best < 0 || L->label_idx >= (int)nl)
            continue;
        const struct cap_stage *b = &L->st[L->best];
        const struct an_summary *s = &sums[b->g];
        const struct stats_dist *d = lat == PLOT_LAT_TPOT ? &s->tpot
                                     : lat == PLOT_LAT_TTFT ? &s->ttft : &s->e2e;
        if (isnan(d->p90) || isnan(s->output_tok_s))
            continue;
        if (!marked++)
            buf_append_str(data, "$CAP << EOD\n");
        buf_printf(data, "%.17g %.17g\n", d->p90, s->output_tok_s);
        buf_printf(body, "set label 'capacity: %.0f tok/s at %s%g' at %.17g, %.17g right "
                         "offset -1.5,-1.2 font ',9' tc rgb '#006400' front\n",
                   s->output_tok_s, L->rate ? "" : "c=", b->stage, d->p90, s->output_tok_s);
    }
    if (marked)
        buf_append_str(data, "EOD\n");
    buf_append_str(body, "plot ");
    int any = 0;
    if (marked) {
        buf_append_str(body, "$CAP using 1:2 with points pt 6 ps 3.5 lw 2 lc rgb '#006400' "
                             "title 'capacity at the SLO'");
        any = 1;
    }
    for (size_t l = 0; l < nl; l++) {
        if (!per[l])
            continue;
        buf_printf(body, "%s$TL%zu using 1:3 with linespoints ", any ? ", " : "", l);
        any = 1;
        plot_style(body, (int)l, 1.2);
        buf_append_str(body, " dt 1 title ");
        struct buf t;
        buf_init(&t, 4096);
        buf_printf(&t, "%s p50", c->labels[l]);
        plot_qstr(body, t.p);
        buf_reset(&t);
        buf_printf(body, ", $TL%zu using 2:3 with linespoints ", l);
        /* open markers for p90 so the two series separate in greyscale print too */
        plot_style(body, (int)l, -1.2);
        buf_append_str(body, " dt 2 title ");
        buf_printf(&t, "%s p90", c->labels[l]);
        plot_qstr(body, t.p);
        buf_free(&t);
    }
    buf_append_char(body, '\n');
    free(pts);
    free(per);
    return npts;
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

/* (2) CDF of a per-request metric, labels overlaid; at most 400 points per label. Labels
 * without a value are left out. Returns the number of labels drawn. */
static size_t plot_cdf(struct buf *data, struct buf *body, const struct an_ctx *c,
                       const char *metric, const char *title, const char *tag)
{
    size_t nl = c->n_labels < PLOT_MAX_LABELS ? c->n_labels : PLOT_MAX_LABELS;
    buf_printf(body, "set title '%s%s'\nset xlabel '%s (ms)'\nset ylabel 'fraction of requests'\n"
                     "set grid\nset key bottom right box\nset yrange [0:1]\nplot ",
               title, c->by == AN_BY_STAGE && c->n_groups > PLOT_MAX_CDF_LINES
                          ? " (the first 16 stages)" : "", tag);
    size_t any = 0;
    /* By stage, one line per stage: pooling the stages of a sweep draws a curve no load ever
     * produced. Otherwise one per label. */
    int per_stage = c->by == AN_BY_STAGE;
    size_t nlines = per_stage ? c->n_groups : nl;
    if (per_stage && nlines > PLOT_MAX_CDF_LINES)
        nlines = PLOT_MAX_CDF_LINES;
    for (size_t l = 0; l < nlines; l++) {
        size_t n = 0;
        double *v = per_stage ? an_collect(c, l, metric, &n) : plot_label_values(c, l, metric, &n);
        if (n == 0) {
            free(v);
            continue;
        }
        buf_printf(data, "$%s%zu << EOD\n", tag, l);
        size_t pts = n < 400 ? n : 400;
        for (size_t i = 0; i < pts; i++) {
            double q = pts > 1 ? (double)i / (double)(pts - 1) : 1.0;
            buf_printf(data, "%.17g %.6g\n", stats_percentile_sorted(v, n, q * 100), q);
        }
        buf_append_str(data, "EOD\n");
        free(v);
        buf_printf(body, "%s$%s%zu using 1:2 with lines ", any ? ", " : "", tag, l);
        plot_style(body, (int)l, 0);
        buf_append_str(body, " title ");
        if (per_stage) {
            char name[300];
            snprintf(name, sizeof name, "%s stage %s", c->groups[l].label, c->groups[l].key);
            plot_qstr(body, name);
        } else {
            plot_qstr(body, c->labels[l]);
        }
        any++;
    }
    buf_append_char(body, '\n');
    return any;
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
static size_t plot_timeseries(struct buf *data, struct buf *body, const struct an_ctx *c,
                              const struct srv_set *srv)
{
    size_t nl = c->n_labels < PLOT_MAX_LABELS ? c->n_labels : PLOT_MAX_LABELS;
    unsigned char drawn[PLOT_MAX_LABELS] = {0};
    unsigned char has_srv[PLOT_MAX_LABELS][SRV_KINDS] = {{0}};
    int any_srv[SRV_KINDS] = {0};
    double xspan = 0; /* seconds: the longest label's run, one x range for every panel */
    size_t any = 0;
    int has_ttft = 0;
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
        double span = (double)t_max - (double)t_min;
        if (!(t_min < t_max))
            continue;
        buf_printf(data, "$TS%zu << EOD\n", l);
        drawn[l] = 1;
        any++;
        {
            double w = plot_nice_width(span / 1e6), wu = w * 1e6;
            size_t nb = (size_t)(span / wu) + 1;
            if ((double)nb * w > xspan) /* the bins drawn, whole: a run shorter than a bin too */
                xspan = (double)nb * w;
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
                    if (cnt[b] > 0) {
                        buf_printf(data, "%.6g\n", ttft[b] / cnt[b]);
                        has_ttft = 1;
                    } else
                        buf_append_str(data, "NaN\n");
                }
            }
            free(tok);
            free(inf);
            free(ttft);
            free(cnt);
        }
        buf_append_str(data, "EOD\n");
        /* the server's series on the same axis: seconds since the label's first request */
        for (int k = 0; srv && l < srv->n && k < SRV_KINDS; k++) {
            const struct srv_label *L = &srv->l[l];
            if (!L->n[k])
                continue;
            buf_printf(data, "$SV%zu_%d << EOD\n", l, k);
            for (size_t i = 0; i < L->n[k]; i++)
                buf_printf(data, "%.6g %.6g\n", ((double)L->p[k][i].t_us - (double)t_min) / 1e6,
                           k == SRV_KV ? 100 * L->p[k][i].v : L->p[k][i].v);
            buf_append_str(data, "EOD\n");
            has_srv[l][k] = 1;
            any_srv[k] = 1;
        }
    }
    if (!any)
        return 0;
    /* panels: client throughput; client in-flight with the server's running; the server's
     * queue and KV cache when it exported them; client TTFT */
    enum { P_TOK, P_INF, P_WAIT, P_KV, P_TTFT };
    static const char *const panel[] = {"output tokens/s", "in-flight / running",
                                        "server: waiting", "server: KV cache %", "TTFT (ms)"};
    int show[5] = {1, 1, any_srv[SRV_WAITING], any_srv[SRV_KV], 1}, np = 0;
    for (int p = 0; p < 5; p++)
        np += show[p];
    char why[300] = "";
    if (srv && !any_srv[SRV_RUNNING] && !any_srv[SRV_WAITING] && !any_srv[SRV_KV])
        srv_why(srv, 0, why, sizeof why);
    buf_printf(body, "set xrange [0:%.6g]\n", xspan > 0 ? xspan : 1);
    buf_printf(body, "set multiplot layout %d,1 title \"Time series (x: seconds since the "
                     "label's first request)%s%s\"\nset grid\nset key top right box\n",
               np, why[0] ? "\\nno server metrics: " : "", why);
    for (int p = 0; p < 5; p++) {
        if (!show[p])
            continue;
        buf_printf(body, "set ylabel '%s'\n%s\nset yrange [0:%s]\n", panel[p],
                   p == P_TTFT ? "set xlabel 'time (s)'" : "unset xlabel",
                   p == P_KV ? "100" : "*");
        if (p == P_WAIT || p == P_KV) {
            int k = p == P_WAIT ? SRV_WAITING : SRV_KV;
            buf_append_str(body, "plot ");
            for (size_t l = 0, n = 0; l < nl; l++) {
                if (!has_srv[l][k])
                    continue;
                buf_printf(body, "%s$SV%zu_%d using 1:2 with steps ", n++ ? ", " : "", l, k);
                plot_style(body, (int)l, 0);
                buf_append_str(body, " title ");
                plot_qstr(body, c->labels[l]);
            }
            buf_append_char(body, '\n');
            continue;
        }
        if (p == P_TTFT && !has_ttft) {
            /* every request failed: an empty panel that says so (gnuplot refuses to plot
             * a column of NaN) */
            buf_append_str(body, "set label 1 'no TTFT: no successful request' at graph 0.5, "
                                 "graph 0.5 center\nset yrange [0:1]\nplot -1 notitle\n"
                                 "unset label 1\n");
            continue;
        }
        buf_append_str(body, "plot ");
        int col = p == P_TOK ? 2 : p == P_INF ? 3 : 4;
        for (size_t l = 0, k = 0; l < nl; l++) {
            if (!drawn[l])
                continue;
            buf_printf(body, "%s$TS%zu using 1:%d with linespoints ", k++ ? ", " : "", l, col);
            plot_style(body, (int)l, 0.6);
            buf_append_str(body, " title ");
            struct buf t;
            buf_init(&t, 4096);
            buf_printf(&t, "%s%s", c->labels[l], p == P_INF && any_srv[SRV_RUNNING] ?
                       " client in-flight" : "");
            plot_qstr(body, t.p ? t.p : "");
            buf_free(&t);
            if (p == P_INF && has_srv[l][SRV_RUNNING]) {
                buf_printf(body, ", $SV%zu_%d using 1:2 with steps dt 2 ", l, SRV_RUNNING);
                plot_style(body, (int)l, 0);
                buf_append_str(body, " title ");
                buf_init(&t, 4096);
                buf_printf(&t, "%s server running", c->labels[l]);
                plot_qstr(body, t.p ? t.p : "");
                buf_free(&t);
            }
        }
        buf_append_char(body, '\n');
    }
    return any;
}

/* (4) ITL histogram: the log-linear histogram regrouped into 60 log-spaced bins over at most
 * four decades below the largest gap (shorter gaps, and gaps of 0 µs — events that arrived in
 * one read — count in the first bin, and the title says how many). Returns the labels drawn. */
static size_t plot_itl(struct buf *data, struct buf *body, const struct an_ctx *c)
{
    size_t nl = c->n_labels < PLOT_MAX_LABELS ? c->n_labels : PLOT_MAX_LABELS;
    struct hist *hs = calloc(nl ? nl : 1, sizeof *hs);
    if (!hs)
        return 0;
    double lo = INFINITY, hi = 0;
    uint64_t below = 0, total = 0;
    for (size_t l = 0; l < nl; l++) {
        hist_init(&hs[l]);
        for (size_t g = 0; g < c->n_groups; g++)
            if (c->groups[g].label_idx == (int)l)
                hist_merge(&hs[l], &c->groups[g].itl);
        if (hs[l].n == 0 || !hs[l].b || !(hs[l].max > 0))
            continue;
        for (int i = 0; i < HIST_BUCKETS; i++)
            if (hs[l].b[i]) {
                double v = hist_bucket_value(i);
                lo = v < lo ? v : lo;
                break;
            }
        hi = hs[l].max > hi ? hs[l].max : hi;
    }
    size_t any = 0;
    if (hi > 0 && isfinite(lo)) {
        hi *= 1.0001;
        if (lo < hi / 1e4)
            lo = hi / 1e4;
        if (lo >= hi)
            lo = hi / 2;
        double step = log(hi / lo) / 60;
        for (size_t l = 0; l < nl; l++) {
            const struct hist *h = &hs[l];
            if (h->n == 0 || !h->b || !(h->max > 0))
                continue;
            double bins[61] = {0};
            bins[0] += (double)h->zero;
            below += h->zero;
            total += h->n;
            for (int i = 0; i < HIST_BUCKETS; i++) {
                if (!h->b[i])
                    continue;
                double v = hist_bucket_value(i);
                if (v < lo)
                    below += h->b[i];
                int k = v < lo ? 0 : (int)(log(v / lo) / step);
                bins[k < 0 ? 0 : k > 60 ? 60 : k] += h->b[i];
            }
            buf_printf(data, "$IH%zu << EOD\n", l);
            for (int k = 0; k <= 60; k++)
                buf_printf(data, "%.6g %.6g\n", lo * exp((k + 0.5) * step) / 1e3,
                           bins[k] / (double)h->n);
            buf_append_str(data, "EOD\n");
            any++;
        }
        buf_append_str(body, "set title \"Inter-token latency (one sample per gap between "
                             "content events)");
        if (below)
            buf_printf(body, "\\n%llu of %llu gaps under %.3g ms (0 us included) in the first "
                             "bin", (unsigned long long)below, (unsigned long long)total,
                       lo / 1e3);
        double x0 = lo / 1e3, x1 = hi * exp(step) / 1e3;
        buf_printf(body, "\"\nset xlabel 'ITL (ms, log scale)'\nset ylabel 'fraction of gaps'\n"
                         "set logscale x\nset xrange [%.6g:%.6g]\nset xtics (",
                   x0, x1);
        /* tics at 1, 2, 5 x 10^k inside the range, labelled plainly: a range under a decade
         * still gets several, and none reads 1e-05 */
        static const double m125[] = {1, 2, 5}, m19[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
        int nt = 0;
        for (int pass = 0; pass < 2 && nt < 3; pass++) {
            const double *mm = pass ? m19 : m125;
            int nm = pass ? 9 : 3, cnt = 0;
            for (int e = (int)floor(log10(x0)); e <= (int)ceil(log10(x1)); e++)
                for (int m = 0; m < nm; m++) {
                    double t = mm[m] * pow(10, e);
                    cnt += t >= x0 && t <= x1;
                }
            if (cnt < 3 && !pass)
                continue;
            for (int e = (int)floor(log10(x0)); e <= (int)ceil(log10(x1)); e++)
                for (int m = 0; m < nm; m++) {
                    double t = mm[m] * pow(10, e);
                    if (t >= x0 && t <= x1)
                        buf_printf(body, "%s\"%g\" %.6g", nt++ ? ", " : "", t, t);
                }
        }
        for (int i = 0, n0 = nt; n0 < 3 && i < 4; i++) {
            /* a range too narrow even for 1 … 9: four log-spaced tics */
            double t = x0 * pow(x1 / x0, (i + 0.5) / 4);
            buf_printf(body, "%s\"%.3g\" %.6g", nt++ ? ", " : "", t, t);
        }
        buf_append_str(body, ")\nset grid\nset key top right box\nplot ");
        for (size_t l = 0, k = 0; l < nl; l++) {
            const struct hist *h = &hs[l];
            if (h->n == 0 || !h->b || !(h->max > 0))
                continue;
            buf_printf(body, "%s$IH%zu using 1:2 with histeps ", k++ ? ", " : "", l);
            plot_style(body, (int)l, 0);
            buf_append_str(body, " title ");
            plot_qstr(body, c->labels[l]);
        }
        buf_append_char(body, '\n');
    }
    for (size_t l = 0; l < nl; l++)
        hist_free(&hs[l]);
    free(hs);
    return any;
}

/* (5) TTFT against input tokens, at most 5000 points per label (even stride). Labels without
 * a request whose n_in is known are left out. Returns the labels drawn. */
static size_t plot_scatter(struct buf *data, struct buf *body, const struct an_ctx *c)
{
    size_t nl = c->n_labels < PLOT_MAX_LABELS ? c->n_labels : PLOT_MAX_LABELS;
    buf_append_str(body, "set title 'TTFT vs input tokens'\nset xlabel 'input tokens'\n"
                         "set ylabel 'TTFT (ms)'\nset grid\nset key top left box\nplot ");
    size_t any = 0;
    for (size_t l = 0; l < nl; l++) {
        size_t n = 0;
        for (size_t i = 0; i < c->n_reqs; i++) {
            const struct an_req *r = &c->reqs[i];
            n += c->groups[r->group].label_idx == (int)l && (r->flags & AN_REQ_OK) &&
                 r->n_in >= 0 && r->ttft_us >= 0;
        }
        if (n == 0)
            continue;
        size_t stride = n > 5000 ? (n + 4999) / 5000 : 1, k = 0;
        buf_printf(data, "$SC%zu << EOD\n", l);
        for (size_t i = 0; i < c->n_reqs; i++) {
            const struct an_req *r = &c->reqs[i];
            if (!(c->groups[r->group].label_idx == (int)l && (r->flags & AN_REQ_OK) &&
                  r->n_in >= 0 && r->ttft_us >= 0))
                continue;
            if (k++ % stride == 0)
                buf_printf(data, "%d %.6g\n", r->n_in, r->ttft_us / 1e3);
        }
        buf_append_str(data, "EOD\n");
        buf_printf(body, "%s$SC%zu using 1:2 with points ", any ? ", " : "", l);
        plot_style(body, (int)l, 0.5);
        buf_append_str(body, " title ");
        plot_qstr(body, c->labels[l]);
        any++;
    }
    buf_append_char(body, '\n');
    return any;
}

#define PLOT_MAX_TURNS 64

/* TTFT p50 by session turn index (0 = first), one line per label: how much a conversation's
 * later turns gain from the prefix cache. Turns past PLOT_MAX_TURNS are left out. */
static size_t plot_by_turn(struct buf *data, struct buf *body, const struct an_ctx *c)
{
    size_t nl = c->n_labels < PLOT_MAX_LABELS ? c->n_labels : PLOT_MAX_LABELS, any = 0;
    double *v = malloc((c->n_reqs ? c->n_reqs : 1) * sizeof *v);
    if (!v)
        return 0;
    buf_append_str(body, "set title 'TTFT by turn (p50)'\nset xlabel 'turn of its session "
                         "(0 = first)'\nset ylabel 'TTFT p50 (ms)'\nset grid\n"
                         "set key top right box\nset xtics 1\nset yrange [0:*]\nplot ");
    for (size_t l = 0; l < nl; l++) {
        int rows = 0;
        for (int t = 0; t < PLOT_MAX_TURNS; t++) {
            size_t n = 0;
            for (size_t i = 0; i < c->n_reqs; i++) {
                const struct an_req *r = &c->reqs[i];
                if (r->turn == t && (r->flags & AN_REQ_OK) && r->ttft_us >= 0 &&
                    c->groups[r->group].label_idx == (int)l)
                    v[n++] = r->ttft_us / 1e3;
            }
            if (n == 0)
                continue;
            struct stats_dist d;
            stats_summarize(v, n, &d);
            if (!rows)
                buf_printf(data, "$TB%zu << EOD\n", l);
            buf_printf(data, "%d %.6g %zu\n", t, d.p50, n);
            rows++;
        }
        if (!rows)
            continue;
        buf_append_str(data, "EOD\n");
        buf_printf(body, "%s$TB%zu using 1:2 with linespoints ", any ? ", " : "", l);
        plot_style(body, (int)l, 1);
        buf_append_str(body, " title ");
        plot_qstr(body, c->labels[l]);
        any++;
    }
    buf_append_char(body, '\n');
    free(v);
    return any;
}

/* Why a chart has nothing to draw (README "Charts"). */
static const char *const plot_empty_why[PLOT_N_CHARTS] = {
    "no group has both a latency and a throughput (no successful request)",
    "no successful request has a TTFT (no content event)",
    "no request has a TPOT (it needs n_out >= 2 and two content events)",
    "no request with a start and an end",
    "no inter-token gap (no response had two content events)",
    ("the input token count of every request is unknown (no usage in the responses: "
     "llmtrace-replay asks for it unless run with --no-include-usage)"),
    ("no successful request belongs to a session (llmtrace-replay --sessions, "
     "llmtrace-convert --sessions infer)"),
};

/* Size of a file, -1 when it does not exist. */
static long long plot_fsize(const char *dir, const char *name, const char *ext)
{
    char p[4200];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s.%s", dir, name, ext);
    return stat(p, &st) ? -1 : (long long)st.st_size;
}

static void plot_unlink(const char *dir, const char *name, const char *ext)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s.%s", dir, name, ext);
    unlink(p);
}

/* Runs gnuplot on script with its stdout discarded and its stderr kept in a temporary file;
 * 0 when it exited 0, else -1 with gnuplot's first error line (trimmed) in why. */
static int plot_run(const char *gp, const char *script, size_t len, char *why, size_t whylen)
{
    FILE *ef = tmpfile();
    int pfd[2];
    if (!ef || pipe(pfd)) {
        snprintf(why, whylen, "cannot run gnuplot: %s", strerror(errno));
        if (ef)
            fclose(ef);
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int dn = open("/dev/null", O_WRONLY);
        dup2(pfd[0], 0);
        dup2(fileno(ef), 2);
        if (dn >= 0)
            dup2(dn, 1);
        close(pfd[0]);
        close(pfd[1]);
        execl(gp, gp, (char *)NULL);
        fprintf(stderr, "cannot run %s: %s\n", gp, strerror(errno));
        _exit(127);
    }
    close(pfd[0]);
    if (pid < 0) {
        close(pfd[1]);
        fclose(ef);
        snprintf(why, whylen, "cannot run gnuplot: %s", strerror(errno));
        return -1;
    }
    /* gnuplot may exit before reading everything: a write error, not a SIGPIPE */
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, &old);
    for (size_t off = 0; off < len;) {
        ssize_t w = write(pfd[1], script + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    close(pfd[1]);
    sigaction(SIGPIPE, &old, NULL);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    /* gnuplot reports an error as "gnuplot> command", a caret line, then "line N: what":
     * keep the last of these, which says what went wrong */
    char line[512], best[512] = "";
    rewind(ef);
    while (fgets(line, sizeof line, ef)) {
        char *t = line;
        while (*t == ' ' || *t == '\t')
            t++;
        t[strcspn(t, "\r\n")] = '\0';
        if (!*t || *t == '^' || !strncmp(t, "gnuplot>", 8))
            continue;
        if (!best[0] || !strncmp(t, "line ", 5))
            snprintf(best, sizeof best, "%s", t);
    }
    fclose(ef);
    if (ok)
        return 0;
    snprintf(why, whylen, "gnuplot failed (%s%s%s)",
             WIFEXITED(st) ? "exit status" : "killed", best[0] ? ": " : "", best);
    return -1;
}

int plot_all(const struct an_ctx *c, const struct an_summary *sums, const char *dir,
             const struct plot_opts *o, struct plot_result res[PLOT_N_CHARTS], char *err,
             size_t errlen)
{
    memset(res, 0, PLOT_N_CHARTS * sizeof *res);
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
        buf_reset(&all);
        size_t n = 0;
        switch (k) {
        case 0: n = plot_throughput(&data, &body, c, sums, o->latency, o->cap); break;
        case 1: n = plot_cdf(&data, &body, c, "ttft", "TTFT distribution (CDF)", "TTFT"); break;
        case 2: n = plot_cdf(&data, &body, c, "tpot", "TPOT distribution (CDF)", "TPOT"); break;
        case 3: n = plot_timeseries(&data, &body, c, o->server); break;
        case 4: n = plot_itl(&data, &body, c); break;
        case 5: n = plot_scatter(&data, &body, c); break;
        case 6: n = plot_by_turn(&data, &body, c); break;
        }
        const char *name = plot_chart_names[k];
        if (n == 0) {
            res[k].state = PLOT_SKIPPED;
            int zero_gaps = 0;
            for (size_t g = 0; k == 4 && g < c->n_groups; g++)
                zero_gaps |= c->groups[g].itl.n > 0;
            snprintf(res[k].why, sizeof res[k].why, "%s",
                     zero_gaps ? "every inter-token gap is 0 us (the events arrived together)"
                               : plot_empty_why[k]);
            continue;
        }
        if (data.p)
            buf_append(&all, data.p, data.len);
        int tall = k != 3 ? 0 : srv_any(o->server) ? 2 : 1;
        plot_emit(&all, dir, name, body.p ? body.p : "", o, tall);
        char why[320];
        int rc = strchr(gp, '\'') ? -1 : plot_run(gp, all.p ? all.p : "", all.len, why,
                                                  sizeof why);
        /* a chart counts when every file it should have is there and not empty */
        if (rc == 0 && ((o->png && plot_fsize(dir, name, "png") <= 0) ||
                        (o->svg && plot_fsize(dir, name, "svg") <= 0))) {
            rc = -1;
            snprintf(why, sizeof why, "gnuplot wrote no image");
        }
        if (rc) {
            res[k].state = PLOT_FAILED;
            snprintf(res[k].why, sizeof res[k].why, "%s", why);
            if (o->png)
                plot_unlink(dir, name, "png");
            if (o->svg)
                plot_unlink(dir, name, "svg");
            continue;
        }
        res[k].state = PLOT_DRAWN;
        charts++;
    }
    buf_free(&data);
    buf_free(&all);
    buf_free(&body);
    return charts;
}
