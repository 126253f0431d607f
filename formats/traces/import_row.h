/* import_row.h — internal to formats/traces: the row container, messages, ids and arrival
 * processes every trace parser fills rows with (import_row.c). Not a stable API; tools use
 * import.h. */
#ifndef LLMTRACE_IMPORT_ROW_H
#define LLMTRACE_IMPORT_ROW_H

#include "import.h"

/* Appends a zeroed row (tokens/pin -1, resp unknown) for line of format f; NULL on no memory. */
struct import_row *import_row_new(struct import_trace *t, const struct import_opts *o,
                                  enum import_format f, int64_t line);
/* Frees and removes the last row (the one being filled when its input turned out bad). */
void import_row_drop_last(struct import_trace *t);
/* Reports a bad row "NAME: WHAT": with skip_bad counts it (keeping the first message) and
 * returns 0, else stores it in t->err and returns IMPORT_ERR_FORMAT. */
int import_report_bad(struct import_trace *t, const struct import_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Stores a fatal message "NAME: WHAT" in t->err (header problems, empty input). */
void import_set_error(struct import_trace *t, const struct import_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Quotes at most 40 bytes of an untrusted value into out for messages (control bytes → '?'). */
void import_quote_value(const char *s, size_t len, char *out, size_t outlen);
/* Generated record id "<format>[<input>]-<line>" (malloc'd; NULL on no memory). */
char *import_make_id(const struct import_opts *o, enum import_format f, int64_t line,
                     const char *suffix);
/* Arrival process for formats without times: the k-th call returns base + sum of gaps. */
struct import_clock {
    int64_t t_us;
    uint64_t rng;
    double rate;
    enum import_arrival arrival;
    int started;
};
void import_clock_init(struct import_clock *c, const struct import_opts *o);
int64_t import_clock_next(struct import_clock *c);

#endif
