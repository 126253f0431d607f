/* html.h — --html FILE: one self-contained page (inline SVG charts, tables, the command
 * line and each log's header), no network resources. */
#ifndef LLMTRACE_ANALYZE_HTML_H
#define LLMTRACE_ANALYZE_HTML_H

#include "report.h"

#include "plot.h"

/* Writes the report to path. svg_dir holds the SVG charts plot_all wrote and res what became
 * of each (NULL, NULL: gnuplot was not available): drawn charts are embedded, the others
 * listed with the reason. 0 or -1 with err set. */
int html_write(const char *path, const struct an_report *r, const char *svg_dir,
               const struct plot_result *res, char *err, size_t errlen);

#endif
