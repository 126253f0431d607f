/* plot.h — --plot DIR: charts drawn by gnuplot through a pipe (popen, data inline as
 * datablocks, no temporary data files), each written as PNG (pngcairo) and SVG. */
#ifndef LLMTRACE_ANALYZE_PLOT_H
#define LLMTRACE_ANALYZE_PLOT_H

#include <stddef.h>

#include "metrics.h"

struct cap_result;
struct srv_set;

enum plot_latency { PLOT_LAT_E2E = 0, PLOT_LAT_TPOT, PLOT_LAT_TTFT };

struct plot_opts {
    enum plot_latency latency;   /* x axis of the throughput–latency chart */
    int png, svg;                /* which formats to write */
    const struct cap_result *cap;/* the capacity answer to mark (capacity.h); NULL none */
    const struct srv_set *server;/* server metrics series (server.h); NULL none */
    int axes;                    /* also DIR/NAME.axes: each plot's axis mapping, one line per
                                    plot (the HTML report's hover readout); html.h */
};

/* Path of the gnuplot executable (LLMTRACE_GNUPLOT overrides; searched in PATH), or NULL. */
const char *plot_find_gnuplot(void);

#define PLOT_N_CHARTS 7

/* What became of one chart. */
struct plot_result {
    enum { PLOT_DRAWN = 1, PLOT_SKIPPED, PLOT_FAILED } state;
    char why[320];           /* SKIPPED: what data is missing; FAILED: gnuplot's first error */
};

/* Writes DIR/{throughput_latency,ttft_cdf,tpot_cdf,timeseries,itl_hist,ttft_vs_input,
 * ttft_by_turn}.{png,svg}.
 * sums[g] summarizes group g. A chart without data is skipped (no file written) and a chart
 * gnuplot could not draw leaves no file; res[k] says which and why (one gnuplot process per
 * chart, its messages captured, never passed through). Returns the number of charts drawn,
 * or -1 with err set when nothing can be drawn at all (gnuplot missing, DIR not writable). */
int plot_all(const struct an_ctx *c, const struct an_summary *sums, const char *dir,
             const struct plot_opts *o, struct plot_result res[PLOT_N_CHARTS], char *err,
             size_t errlen);

/* Names of the charts plot_all writes, NULL-terminated (for the HTML report). */
extern const char *const plot_chart_names[];

#endif
