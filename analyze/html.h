/* html.h — --html FILE: one self-contained page (inline SVG charts, tables, the command
 * line and each log's header), no network resources. */
#ifndef LLMTRACE_ANALYZE_HTML_H
#define LLMTRACE_ANALYZE_HTML_H

#include "report.h"

/* Writes the report to path. svg_dir holds the SVG charts from plot_all (NULL: no charts).
 * 0 or -1 with err set. */
int html_write(const char *path, const struct an_report *r, const char *svg_dir, char *err,
               size_t errlen);

#endif
