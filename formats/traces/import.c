/* import.c — the importers' front: content detection and import_parse, which hands one input
 * to its format's parser (import_parsers.h), forms its sessions, then scales its gaps and sorts the rows (see
 * import.h; every format is described in convert/README.md). */
#include "import.h"
#include "import_parsers.h"
#include "import_row.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* memmem limited to the detection window, case-sensitive. */
static int import_has(const char *p, size_t n, const char *needle)
{
    return memmem(p, n, needle, strlen(needle)) != NULL;
}

enum import_format import_detect(const char *data, size_t len)
{
    size_t n = len < 65536 ? len : 65536;
    const char *p = data;
    if (n >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) {
        p += 3;
        n -= 3;
    }
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    if (i == n)
        return IMPORT_UNKNOWN;
    if (p[i] == '[')
        return import_has(p + i, n - i, "\"conversations\"") ? IMPORT_SHAREGPT : IMPORT_UNKNOWN;
    if (p[i] == '{') {
        /* JSONL formats are told by the keys of their first line; HAR is one document. */
        const char *nl = memchr(p + i, '\n', n - i);
        size_t ln = nl ? (size_t)(nl - (p + i)) : n - i;
        if (import_has(p + i, ln, "\"hash_ids\"") || import_has(p + i, ln, "\"input_length\""))
            return IMPORT_MOONCAKE;
        if (import_has(p + i, ln, "\"custom_id\""))
            return IMPORT_BATCH;
        if (import_has(p + i, n - i, "\"entries\"") && import_has(p + i, n - i, "\"log\""))
            return IMPORT_HAR;
        if (import_has(p + i, n - i, "\"conversations\""))
            return IMPORT_SHAREGPT;
        return IMPORT_UNKNOWN;
    }
    const char *nl = memchr(p + i, '\n', n - i);
    size_t ln = nl ? (size_t)(nl - (p + i)) : n - i;
    if (import_has(p + i, ln, "ContextTokens") && import_has(p + i, ln, "GeneratedTokens"))
        return IMPORT_AZURE;
    if (import_has(p + i, ln, "Response tokens") && import_has(p + i, ln, "Request tokens"))
        return IMPORT_BURSTGPT;
    return IMPORT_UNKNOWN;
}

/* ---- finishing an input -------------------------------------------------------------------- */

static int import_row_cmp(const void *a, const void *b)
{
    const struct import_row *x = a, *y = b;
    if (x->t_us != y->t_us)
        return x->t_us < y->t_us ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Scales this input's gaps, counts rows earlier than their predecessor, and sorts the trace. */
static void import_finish(struct import_trace *t, const struct import_opts *o, size_t first)
{
    if (first >= t->n)
        return;
    int64_t t0 = t->rows[first].t_us;
    for (size_t i = first; i < t->n; i++) {
        if (t->rows[i].t_us < t0)
            t0 = t->rows[i].t_us;
        if (i > first && t->rows[i].t_us < t->rows[i - 1].t_us)
            t->out_of_order++;
    }
    double s = o->time_scale > 0 ? o->time_scale : 1.0;
    if (s != 1.0)
        for (size_t i = first; i < t->n; i++) {
            double v = (double)t0 + (double)(t->rows[i].t_us - t0) * s;
            /* a huge scale must not overflow: times past ~year 2255 are pinned there */
            t->rows[i].t_us = v < IMPORT_MAX_TIME_US ? (int64_t)llround(v) : IMPORT_MAX_TIME_US;
            if (t->rows[i].think_us > 0) { /* a recorded gap, scaled like the others */
                double th = (double)t->rows[i].think_us * s;
                t->rows[i].think_us = th < IMPORT_MAX_TIME_US ? (int64_t)llround(th) : IMPORT_MAX_TIME_US;
            }
        }
    qsort(t->rows, t->n, sizeof *t->rows, import_row_cmp);
}

int import_parse(enum import_format f, const char *data, size_t len, const struct import_opts *o,
                 struct import_trace *t)
{
    size_t first = t->n;
    int64_t bad0 = t->bad;
    int rc;
    if (o->time_scale < 0 || o->rate < 0 || !isfinite(o->time_scale) || !isfinite(o->rate)) {
        import_set_error(t, o, "bad options: time scale and rate must be positive");
        return IMPORT_ERR_USAGE;
    }
    switch (f) {
    case IMPORT_AZURE: rc = import_parse_azure(data, len, o, t); break;
    case IMPORT_MOONCAKE: rc = import_parse_mooncake(data, len, o, t); break;
    case IMPORT_BURSTGPT: rc = import_parse_burstgpt(data, len, o, t); break;
    case IMPORT_SHAREGPT: rc = import_parse_sharegpt(data, len, o, t); break;
    case IMPORT_HAR: rc = import_parse_har(data, len, o, t); break;
    case IMPORT_BATCH: rc = import_parse_batch(data, len, o, t); break;
    default:
        import_set_error(t, o, "unknown format");
        return IMPORT_ERR_USAGE;
    }
    if (rc == 0 && t->n == first && t->bad == bad0 && t->skipped_failed == 0) {
        import_set_error(t, o, "no data rows");
        rc = IMPORT_ERR_EMPTY;
    }
    if (rc == 0 && f == IMPORT_BURSTGPT)
        rc = import_sessions_keyed(t, o, first);
    else if (rc == 0 && f == IMPORT_MOONCAKE && o->infer_sessions)
        rc = import_sessions_mooncake(t, o, first);
    if (rc == IMPORT_ERR_NOMEM)
        import_set_error(t, o, "out of memory");
    if (rc) {
        while (t->n > first)
            import_row_drop_last(t);
        return rc;
    }
    import_finish(t, o, first);
    return 0;
}
