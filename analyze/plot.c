/* plot.c — gnuplot charts through a pipe (see plot.h). */
#include "plot.h"

#include <stdio.h>

const char *const plot_chart_names[] = {"throughput_latency", "ttft_cdf", "tpot_cdf",
                                        "timeseries", "itl_hist", "ttft_vs_input", NULL};

const char *plot_find_gnuplot(void)
{
    return NULL;
}

int plot_all(const struct an_ctx *c, const struct an_summary *sums, const char *dir,
             const struct plot_opts *o, char *err, size_t errlen)
{
    (void)c;
    (void)sums;
    (void)o;
    snprintf(err, errlen, "%s: not implemented yet", dir);
    return -1;
}
