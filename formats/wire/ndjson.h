/* ndjson.h — newline-delimited JSON splitter (Ollama streams, JSON Lines).
 *
 * Feeds on bytes split anywhere and calls back once per non-empty line (without its LF/CRLF).
 * A line longer than the cap is an error. The line is not parsed here: the dialect decides. */
#ifndef LLMTRACE_NDJSON_H
#define LLMTRACE_NDJSON_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define NDJSON_ERR_LINE_TOO_LONG (-1)
#define NDJSON_ERR_NOMEM (-2)
#define NDJSON_ERR_CALLBACK (-3)

typedef int (*ndjson_line_cb)(void *user, const char *line, size_t len);

struct ndjson_decoder {
    struct buf line;
    uint64_t lines;
    uint64_t pos;
    int error;
};

void ndjson_init(struct ndjson_decoder *d, size_t max_line);
void ndjson_free(struct ndjson_decoder *d);
int ndjson_feed(struct ndjson_decoder *d, const char *data, size_t len, ndjson_line_cb cb,
                void *user);
/* End of stream: delivers a final line without newline; returns its cb result or 0. */
int ndjson_finish(struct ndjson_decoder *d, ndjson_line_cb cb, void *user);

#endif
