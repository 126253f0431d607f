/* plot.h — --plot DIR: charts drawn by gnuplot through a pipe (popen, data inline as
 * datablocks, no temporary data files), each written as PNG (pngcairo) and SVG. */
#ifndef LLMTRACE_ANALYZE_PLOT_H
#define LLMTRACE_ANALYZE_PLOT_H

#include <stddef.h>

#include "metrics.h"

enum plot_latency { PLOT_LAT_E2E = 0, PLOT_LAT_TPOT, PLOT_LAT_TTFT };

struct plot_opts {
    enum plot_latency latency;   /* x axis of the throughput–latency chart */
    int png, svg;                /* which formats to write */
};

/* Path of the gnuplot executable (LLMTRACE_GNUPLOT overrides; searched in PATH), or NULL. */
const char *plot_find_gnuplot(void);

/* Writes DIR/{throughput_latency,ttft_cdf,tpot_cdf,timeseries,itl_hist,ttft_vs_input}.{png,svg}.
 * sums[g] summarizes group g. Returns the number of charts written, or -1 with err set
 * (gnuplot missing, DIR not writable, gnuplot failed). */
int plot_all(const struct an_ctx *c, const struct an_summary *sums, const char *dir,
             const struct plot_opts *o, char *err, size_t errlen);

/* Names of the charts plot_all writes, NULL-terminated (for the HTML report). */
extern const char *const plot_chart_names[];

#endif
