/* import_row.c — what every trace parser builds on (import_row.h): format names, the row
 * container, error reporting, record ids, timestamps and arrival processes. It depends on no
 * parser, so the parsers and the dispatcher (import.c) both sit on top of it. */
#include "import_row.h"
#include "synth.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const import_format_names[IMPORT_FORMAT_COUNT] = {
    "unknown", "azure", "mooncake", "burstgpt", "sharegpt", "har", "batch",
};

const char *import_format_name(enum import_format f)
{
    return (unsigned)f < IMPORT_FORMAT_COUNT ? import_format_names[f] : "unknown";
}

enum import_format import_format_parse(const char *s)
{
    if (!s)
        return IMPORT_UNKNOWN;
    for (int i = 1; i < IMPORT_FORMAT_COUNT; i++)
        if (!strcasecmp(s, import_format_names[i]))
            return (enum import_format)i;
    return IMPORT_UNKNOWN;
}

/* ---- rows ---------------------------------------------------------------------------------- */

void import_trace_init(struct import_trace *t)
{
    memset(t, 0, sizeof *t);
}

static void import_row_release(struct import_row *r)
{
    free(r->id);
    free(r->model);
    free(r->hash_ids);
    cJSON_Delete(r->messages);
    cJSON_Delete(r->body);
    free(r->method);
    free(r->path);
    free(r->resp.text);
    free(r->session);
}

void import_trace_free(struct import_trace *t)
{
    for (size_t i = 0; i < t->n; i++)
        import_row_release(&t->rows[i]);
    free(t->rows);
    import_trace_init(t);
}

struct import_row *import_row_new(struct import_trace *t, const struct import_opts *o,
                                  enum import_format f, int64_t line)
{
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 1024;
        if (ncap > SIZE_MAX / sizeof *t->rows)
            return NULL;
        struct import_row *nr = realloc(t->rows, ncap * sizeof *nr);
        if (!nr)
            return NULL;
        t->rows = nr;
        t->cap = ncap;
    }
    struct import_row *r = &t->rows[t->n++];
    memset(r, 0, sizeof *r);
    r->line = line;
    r->seq = t->next_seq++;
    r->input_index = o->input_index;
    r->format = f;
    r->tokens_in = r->tokens_out = r->pin_out = -1;
    r->resp.ttfb_us = r->resp.end_us = -1;
    r->resp.prompt_tokens = r->resp.completion_tokens = -1;
    r->turn = r->think_us = r->elapsed_us = -1;
    return r;
}

void import_row_drop_last(struct import_trace *t)
{
    if (t->n == 0)
        return;
    import_row_release(&t->rows[--t->n]);
}

static const char *import_name(const struct import_opts *o)
{
    if (!o->name)
        return "<input>";
    return strcmp(o->name, "-") ? o->name : "<stdin>";
}

static void import_vformat(char *out, size_t outlen, const struct import_opts *o,
                           const char *fmt, va_list ap)
{
    int n = snprintf(out, outlen, "%s: ", import_name(o));
    if (n < 0 || (size_t)n >= outlen)
        return;
    vsnprintf(out + n, outlen - (size_t)n, fmt, ap);
}

int import_report_bad(struct import_trace *t, const struct import_opts *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (o->skip_bad) {
        if (t->bad == 0)
            import_vformat(t->first_bad, sizeof t->first_bad, o, fmt, ap);
        t->bad++;
        va_end(ap);
        return 0;
    }
    import_vformat(t->err, sizeof t->err, o, fmt, ap);
    va_end(ap);
    return IMPORT_ERR_FORMAT;
}

void import_set_error(struct import_trace *t, const struct import_opts *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    import_vformat(t->err, sizeof t->err, o, fmt, ap);
    va_end(ap);
}

void import_quote_value(const char *s, size_t len, char *out, size_t outlen)
{
    if (outlen == 0)
        return;
    size_t n = 0;
    size_t max = len < 40 ? len : 40;
    for (size_t i = 0; i < max && n + 1 < outlen; i++) {
        unsigned char c = (unsigned char)s[i];
        out[n++] = (c < 0x20 || c == 0x7f || c == '"') ? '?' : (char)c;
    }
    if (len > max && n + 3 < outlen) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

char *import_make_id(const struct import_opts *o, enum import_format f, int64_t line,
                     const char *suffix)
{
    char tmp[64];
    if (o->input_index > 0)
        snprintf(tmp, sizeof tmp, "%s%d-%lld", import_format_name(f), o->input_index,
                 (long long)line);
    else
        snprintf(tmp, sizeof tmp, "%s-%lld", import_format_name(f), (long long)line);
    size_t a = strlen(tmp), b = suffix ? strlen(suffix) : 0;
    char *id = malloc(a + b + 1);
    if (!id)
        return NULL;
    memcpy(id, tmp, a);
    if (b)
        memcpy(id + a, suffix, b);
    id[a + b] = '\0';
    return id;
}

/* ---- timestamps ---------------------------------------------------------------------------- */

static int import_is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int64_t import_leaps_before(int64_t y) /* leap years in [1, y) */
{
    y -= 1;
    return y / 4 - y / 100 + y / 400;
}

/* Days from 1970-01-01 to y-m-d (valid date, y >= 1970). */
static int64_t import_days(int64_t y, int m, int d)
{
    static const int cum[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    int64_t days = 365 * (y - 1970) + import_leaps_before(y) - import_leaps_before(1970);
    days += cum[m - 1] + (m > 2 && import_is_leap(y)) + (d - 1);
    return days;
}

/* Reads exactly n digits at s[*i]; -1 when they are not all digits. */
static int64_t import_digits(const char *s, size_t len, size_t *i, int n)
{
    if ((size_t)n > len - *i)
        return -1;
    int64_t v = 0;
    for (int k = 0; k < n; k++) {
        char c = s[*i + (size_t)k];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *i += (size_t)n;
    return v;
}

static int import_expect(const char *s, size_t len, size_t *i, char c)
{
    if (*i >= len || s[*i] != c)
        return -1;
    (*i)++;
    return 0;
}

int import_parse_timestamp(const char *s, size_t len, int64_t *out_us)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    size_t i = 0;
    int64_t y = import_digits(s, len, &i, 4);
    if (y < 1970 || import_expect(s, len, &i, '-'))
        return -1;
    int64_t mo = import_digits(s, len, &i, 2);
    if (mo < 1 || mo > 12 || import_expect(s, len, &i, '-'))
        return -1;
    int64_t d = import_digits(s, len, &i, 2);
    if (d < 1 || d > mdays[mo - 1] + (mo == 2 && import_is_leap(y)))
        return -1;
    if (i >= len || (s[i] != ' ' && s[i] != 'T' && s[i] != 't'))
        return -1;
    i++;
    int64_t hh = import_digits(s, len, &i, 2);
    if (hh < 0 || hh > 23 || import_expect(s, len, &i, ':'))
        return -1;
    int64_t mm = import_digits(s, len, &i, 2);
    if (mm < 0 || mm > 59 || import_expect(s, len, &i, ':'))
        return -1;
    int64_t ss = import_digits(s, len, &i, 2);
    if (ss < 0 || ss > 60)
        return -1;
    int64_t frac_us = 0;
    if (i < len && s[i] == '.') {
        i++;
        int nd = 0;
        int64_t scale = 100000;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (++nd > 9)
                return -1;
            frac_us += (s[i] - '0') * scale; /* digits past the 6th weigh 0: truncation */
            scale /= 10;
            i++;
        }
        if (nd == 0)
            return -1;
    }
    int64_t off_s = 0;
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        int neg = s[i] == '-';
        i++;
        int64_t oh = import_digits(s, len, &i, 2), om = 0;
        if (oh < 0 || oh > 23)
            return -1;
        if (i < len && s[i] == ':')
            i++;
        if (i < len) {
            om = import_digits(s, len, &i, 2);
            if (om < 0 || om > 59)
                return -1;
        }
        off_s = (oh * 3600 + om * 60) * (neg ? -1 : 1);
    }
    if (i != len)
        return -1;
    int64_t secs = import_days(y, (int)mo, (int)d) * 86400 + hh * 3600 + mm * 60 + ss - off_s;
    if (secs < 0)
        return -1;
    *out_us = secs * 1000000 + frac_us;
    return 0;
}

/* ---- arrivals ------------------------------------------------------------------------------ */

void import_clock_init(struct import_clock *c, const struct import_opts *o)
{
    c->t_us = o->base_us ? o->base_us : IMPORT_DEFAULT_BASE_US;
    c->rng = o->seed;
    c->rate = o->rate > 0 ? o->rate : 1.0;
    c->arrival = o->arrival;
    c->started = 0;
}

/* The first request arrives at the base; then gaps of 1/rate (constant) or exponential with
 * mean 1/rate (Poisson). --time-scale applies on top, like for timed traces. */
int64_t import_clock_next(struct import_clock *c)
{
    if (!c->started) {
        c->started = 1;
        return c->t_us;
    }
    double gap_s = 1.0 / c->rate;
    if (c->arrival == IMPORT_ARRIVAL_POISSON)
        gap_s = -log(1.0 - synth_rand_unit(&c->rng)) / c->rate;
    double gap_us = gap_s * 1e6;
    if (gap_us > 3.6e12) /* an hour: only absurdly low rates get here */
        gap_us = 3.6e12;
    c->t_us += (int64_t)llround(gap_us);
    if (c->t_us > IMPORT_MAX_TIME_US)
        c->t_us = IMPORT_MAX_TIME_US;
    return c->t_us;
}
