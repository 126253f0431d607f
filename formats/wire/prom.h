/* prom.h — the Prometheus text exposition format (version 0.0.4, as prometheus_client, vLLM,
 * SGLang, TGI and llama.cpp's --metrics serve it; the OpenMetrics additions `# EOF` and
 * exemplars after ` # ` are accepted and ignored), parsed from a whole scrape body.
 *
 *   metric_name [ "{" label="value" { "," label="value" } [ "," ] "}" ] value [ timestamp_ms ]
 *
 * Names: [a-zA-Z_:][a-zA-Z0-9_:]*; label names [a-zA-Z_][a-zA-Z0-9_]*; label values escape
 * \\ \" \n; values are floats, NaN, +Inf, -Inf. `# TYPE name kind` gives the kind of the
 * family a sample belongs to (name, or name without _bucket/_sum/_count/_total/_created).
 * A line that does not parse is skipped and counted (the first one is kept for the message);
 * nothing here allocates. */
#ifndef LLMTRACE_PROM_H
#define LLMTRACE_PROM_H

#include <stddef.h>
#include <stdint.h>

#define PROM_MAX_LABELS 32
#define PROM_MAX_LABEL_BYTES 8192   /* unescaped label values of one sample */

struct prom_label {
    const char *name;
    size_t name_len;
    const char *value;              /* unescaped */
    size_t value_len;
};

/* Valid during the callback only. */
struct prom_sample {
    const char *name;
    size_t name_len;
    struct prom_label labels[PROM_MAX_LABELS];
    size_t n_labels;
    double value;
    int64_t ts_ms;                  /* -1 when the line has none */
    const char *kind;               /* "counter", "gauge", "histogram", "summary", "untyped"… */
    size_t kind_len;
    int64_t line;                   /* 1-based */
};

struct prom_stats {
    int64_t lines;
    int64_t samples;
    int64_t bad_lines;
    int64_t first_bad_line;         /* 0: none */
    char first_bad[96];             /* why the first bad line was skipped */
};

/* Returns 0 to go on, non-zero to stop parsing (prom_parse returns it). */
typedef int (*prom_sample_fn)(void *user, const struct prom_sample *s);

/* Parses text (need not be NUL-terminated) and calls fn once per sample. st is filled. Returns
 * 0, or the callback's non-zero value. */
int prom_parse(const char *text, size_t len, prom_sample_fn fn, void *user,
               struct prom_stats *st);

#endif
