/* units.h — parsing of the command-line values every tool shares: durations ("30s", "500ms"),
 * sizes ("64MB"), bounded integers and comma lists ("1,2,4,8"). All parsers reject trailing
 * garbage, overflow and empty input, returning 0 on success and -1 otherwise. */
#ifndef LLMTRACE_UNITS_H
#define LLMTRACE_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* "250us", "500ms", "30s", "2m", "1h", "1.5s"; a bare number is seconds. */
int units_parse_duration_us(const char *s, int64_t *out_us);
/* "512", "64k", "64KB", "10MB", "1GiB" (k/M/G = 1024 powers, as tcpdump's -C uses 10^6:
 * callers that want decimal megabytes multiply themselves). */
int units_parse_size(const char *s, uint64_t *out);
int units_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out);
int units_parse_double(const char *s, double *out);
/* "1,2,4,8" → out[0..n). Fails if more than max items or any item is out of [min, max_v]. */
int units_parse_int_list(const char *s, int64_t min, int64_t max_v, int64_t *out, size_t max,
                         size_t *n);
/* Human form of a duration in µs: "812us", "12.3ms", "4.56s", "3m12s". */
void units_format_duration(int64_t us, char *out, size_t outlen);

#endif
