/* import_parsers.h — internal to formats/traces: one parser per trace format (import_csv.c:
 * Azure, BurstGPT; import_json.c: Mooncake, ShareGPT, HAR, Batch). import.c dispatches to them;
 * each appends rows through import_row.h and returns 0 or a negative IMPORT_ERR_*. */
#ifndef LLMTRACE_IMPORT_PARSERS_H
#define LLMTRACE_IMPORT_PARSERS_H

#include "import.h"

int import_parse_azure(const char *data, size_t len, const struct import_opts *o,
                       struct import_trace *t);
int import_parse_burstgpt(const char *data, size_t len, const struct import_opts *o,
                          struct import_trace *t);
int import_parse_mooncake(const char *data, size_t len, const struct import_opts *o,
                          struct import_trace *t);
int import_parse_sharegpt(const char *data, size_t len, const struct import_opts *o,
                          struct import_trace *t);
int import_parse_har(const char *data, size_t len, const struct import_opts *o,
                     struct import_trace *t);
int import_parse_batch(const char *data, size_t len, const struct import_opts *o,
                       struct import_trace *t);

#endif
