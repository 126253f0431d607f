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

/* Sessions of the rows [first, t->n) one parser just added (import_session.c). Rows whose
 * session holds a recorded key (BurstGPT Session ID) are grouped by it in arrival order: turns
 * numbered, think times from the previous turn's elapsed time, the key made into a session id.
 * 0 or IMPORT_ERR_NOMEM. */
int import_sessions_keyed(struct import_trace *t, const struct import_opts *o, size_t first);
/* Mooncake: links each row to the earlier row it continues (convert/README.md "Sessions"). */
int import_sessions_mooncake(struct import_trace *t, const struct import_opts *o, size_t first);

#endif
