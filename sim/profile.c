/* profile.c — step-time profiles of llmtrace-sim (see profile.h; data format: splitwise-sim's
 * perf_model.csv, MIT, shipped in sim/profiles/ with its NOTICE). */
#include "profile.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

void profile_init_zero(struct profile *p)
{
    memset(p, 0, sizeof(*p));
    p->kind = PROFILE_ZERO;
    snprintf(p->name, sizeof(p->name), "zero");
}

void profile_init_default(struct profile *p)
{
    memset(p, 0, sizeof(*p));
    p->kind = PROFILE_LINEAR;
    snprintf(p->name, sizeof(p->name), "default");
    p->a_ms = PROFILE_DEFAULT_A_MS;
    p->c_ms = PROFILE_DEFAULT_C_MS;
    p->prefill_ms_per_token = PROFILE_DEFAULT_PREFILL_MS;
}

/* Accumulates the rows of one axis before averaging. */
struct axis_acc {
    size_t n;
    double key[PROFILE_MAX_POINTS];
    double sum[PROFILE_MAX_POINTS];
    long cnt[PROFILE_MAX_POINTS];
};

static int axis_add(struct axis_acc *a, double key, double v)
{
    size_t i;
    for (i = 0; i < a->n; i++) {
        if (a->key[i] == key) {
            a->sum[i] += v;
            a->cnt[i]++;
            return 0;
        }
    }
    if (a->n == PROFILE_MAX_POINTS)
        return -1;
    a->key[a->n] = key;
    a->sum[a->n] = v;
    a->cnt[a->n] = 1;
    a->n++;
    return 0;
}

/* Averages and sorts by key into xs/ys. */
static size_t axis_finish(const struct axis_acc *a, double *xs, double *ys)
{
    size_t i, j;
    for (i = 0; i < a->n; i++) {
        double x = a->key[i], y = a->sum[i] / (double)a->cnt[i];
        for (j = i; j > 0 && xs[j - 1] > x; j--) {
            xs[j] = xs[j - 1];
            ys[j] = ys[j - 1];
        }
        xs[j] = x;
        ys[j] = y;
    }
    return a->n;
}

enum { COL_MODEL, COL_HW, COL_PROMPT, COL_BATCH, COL_TOKEN, COL_PTIME, COL_TTIME, COL_N };
static const char *const col_names[COL_N] = {"model",      "hardware",    "prompt_size", "batch_size",
                                             "token_size", "prompt_time", "token_time"};

/* Splits one line into at most max fields (slices, no copies). Returns the field count. */
static size_t csv_split(const char *p, const char *end, const char **f, size_t *fl, size_t max)
{
    size_t n = 0;
    while (n < max) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        const char *e = c ? c : end;
        f[n] = p;
        fl[n] = (size_t)(e - p);
        n++;
        if (!c)
            break;
        p = c + 1;
    }
    return n;
}

static int field_num(const char *s, size_t n, double *out)
{
    char tmp[64];
    char *e;
    if (n == 0 || n >= sizeof(tmp))
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    errno = 0;
    *out = strtod(tmp, &e);
    if (errno || *e != '\0' || !isfinite(*out))
        return -1;
    return 0;
}

static int field_eq(const char *s, size_t n, const char *want)
{
    return strlen(want) == n && memcmp(s, want, n) == 0;
}

int profile_parse_csv(struct profile *p, const char *text, size_t len, const char *model,
                      const char *hardware, char *err, size_t errlen)
{
    const char *cur = text, *end = text + len;
    int col[COL_N];
    size_t i, line_no = 0, rows = 0;
    struct axis_acc *dec = calloc(1, sizeof(*dec)), *pre = calloc(1, sizeof(*pre));
    int rc = -1;

    if (!dec || !pre) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (i = 0; i < COL_N; i++)
        col[i] = -1;
    while (cur < end) {
        const char *nl = memchr(cur, '\n', (size_t)(end - cur));
        const char *le = nl ? nl : end;
        const char *f[32];
        size_t fl[32], nf;
        if (le > cur && le[-1] == '\r')
            le--;
        line_no++;
        nf = csv_split(cur, le, f, fl, 32);
        cur = nl ? nl + 1 : end;
        if (le == f[0] && nf == 1)
            continue; /* blank line */
        if (line_no == 1) {
            size_t k, c;
            for (k = 0; k < nf; k++)
                for (c = 0; c < COL_N; c++)
                    if (field_eq(f[k], fl[k], col_names[c]))
                        col[c] = (int)k;
            for (c = 0; c < COL_N; c++) {
                if (col[c] < 0) {
                    snprintf(err, errlen, "CSV header lacks column \"%s\"", col_names[c]);
                    goto out;
                }
            }
            continue;
        }
        {
            double v[COL_N];
            size_t c;
            for (c = 0; c < COL_N; c++) {
                if ((size_t)col[c] >= nf) {
                    snprintf(err, errlen, "line %zu: too few fields", line_no);
                    goto out;
                }
            }
            if (!field_eq(f[col[COL_MODEL]], fl[col[COL_MODEL]], model) ||
                !field_eq(f[col[COL_HW]], fl[col[COL_HW]], hardware))
                continue;
            for (c = COL_PROMPT; c < COL_N; c++) {
                if (field_num(f[col[c]], fl[col[c]], &v[c]) < 0 || v[c] < 0) {
                    snprintf(err, errlen, "line %zu: bad %s", line_no, col_names[c]);
                    goto out;
                }
            }
            if (v[COL_BATCH] < 1) {
                snprintf(err, errlen, "line %zu: batch_size < 1", line_no);
                goto out;
            }
            if (axis_add(dec, v[COL_BATCH], v[COL_TTIME]) < 0 ||
                (v[COL_BATCH] == 1 && axis_add(pre, v[COL_PROMPT], v[COL_PTIME]) < 0)) {
                snprintf(err, errlen, "more than %d distinct sizes", PROFILE_MAX_POINTS);
                goto out;
            }
            rows++;
        }
    }
    if (line_no == 0) {
        snprintf(err, errlen, "empty CSV");
        goto out;
    }
    if (rows == 0 || pre->n == 0) {
        snprintf(err, errlen, "no rows for %s/%s (with batch_size 1)", model, hardware);
        goto out;
    }
    memset(p, 0, sizeof(*p));
    p->kind = PROFILE_TABLE;
    snprintf(p->name, sizeof(p->name), "%s/%s", model, hardware);
    p->n_decode = axis_finish(dec, p->decode_b, p->decode_ms);
    p->n_prefill = axis_finish(pre, p->prefill_p, p->prefill_ms);
    rc = 0;
out:
    free(dec);
    free(pre);
    return rc;
}

int profile_resolve(struct profile *p, const char *spec, char *err, size_t errlen)
{
    const char *colon, *slash;
    char model[64], hw[64];
    if (strcmp(spec, "zero") == 0) {
        profile_init_zero(p);
        return 0;
    }
    if (strcmp(spec, "default") == 0) {
        profile_init_default(p);
        return 0;
    }
    if (strncmp(spec, "linear:", 7) == 0) {
        double v[3];
        const char *q = spec + 7;
        char *e;
        int i;
        for (i = 0; i < 3; i++) {
            errno = 0;
            v[i] = strtod(q, &e);
            if (e == q || errno || !isfinite(v[i]) || v[i] < 0 || *e != (i < 2 ? ',' : '\0')) {
                snprintf(err, errlen, "profile \"%s\": expected linear:A,C,P (ms, >= 0)", spec);
                return -1;
            }
            q = e + 1;
        }
        if (v[0] + v[1] <= 0) {
            snprintf(err, errlen, "profile \"%s\": a decode step must take some time", spec);
            return -1;
        }
        profile_init_default(p);
        snprintf(p->name, sizeof(p->name), "%.120s", spec);
        p->a_ms = v[0];
        p->c_ms = v[1];
        p->prefill_ms_per_token = v[2];
        return 0;
    }
    colon = strrchr(spec, ':');
    slash = strrchr(colon ? colon : spec, '/');
    if (!slash || slash == (colon ? colon + 1 : spec) || slash[1] == '\0') {
        snprintf(err, errlen, "profile \"%s\": expected zero, default, MODEL/HW or FILE.csv:MODEL/HW",
                 spec);
        return -1;
    }
    {
        const char *ms = colon ? colon + 1 : spec;
        size_t ml = (size_t)(slash - ms), hl = strlen(slash + 1);
        if (ml >= sizeof(model) || hl >= sizeof(hw)) {
            snprintf(err, errlen, "profile \"%s\": name too long", spec);
            return -1;
        }
        memcpy(model, ms, ml);
        model[ml] = '\0';
        memcpy(hw, slash + 1, hl + 1);
    }
    if (colon) {
        char path[4096];
        size_t pl = (size_t)(colon - spec);
        struct buf text;
        int rc;
        if (pl == 0 || pl >= sizeof(path)) {
            snprintf(err, errlen, "profile \"%s\": bad file name", spec);
            return -1;
        }
        memcpy(path, spec, pl);
        path[pl] = '\0';
        buf_init(&text, (size_t)64 << 20);
        rc = buf_append_file(&text, path);
        if (rc != 0) {
            if (rc == BUF_ERR_IO)
                snprintf(err, errlen, "%s: %s", path, strerror(errno));
            else
                snprintf(err, errlen, "%s: %s", path,
                         rc == BUF_ERR_TOO_BIG ? "larger than 64 MiB" : "out of memory");
            buf_free(&text);
            return -1;
        }
        rc = profile_parse_csv(p, text.p ? text.p : "", text.len, model, hw, err, errlen);
        buf_free(&text);
        return rc;
    }
    return profile_parse_csv(p, sim_profiles_csv, sim_profiles_csv_len, model, hw, err, errlen);
}

/* Piecewise-linear through (xs, ys), extended by the end segments' slopes; flat with one point. */
static double interp(const double *xs, const double *ys, size_t n, double x)
{
    size_t i;
    if (n == 1)
        return ys[0];
    if (x <= xs[0])
        i = 0;
    else if (x >= xs[n - 1])
        i = n - 2;
    else
        for (i = 0; i + 2 < n && x > xs[i + 1]; i++)
            ;
    return ys[i] + (ys[i + 1] - ys[i]) * (x - xs[i]) / (xs[i + 1] - xs[i]);
}

double profile_decode_ms(const struct profile *p, double b)
{
    double v;
    switch (p->kind) {
    case PROFILE_LINEAR:
        return p->a_ms + p->c_ms * b;
    case PROFILE_TABLE:
        v = interp(p->decode_b, p->decode_ms, p->n_decode, b);
        return v > 0 ? v : 0;
    default:
        return 0;
    }
}

double profile_prefill_ms(const struct profile *p, double tokens)
{
    double v;
    if (tokens <= 0)
        return 0;
    switch (p->kind) {
    case PROFILE_LINEAR:
        return p->prefill_ms_per_token * tokens;
    case PROFILE_TABLE:
        if (p->prefill_p[0] <= 0) /* a measured 0-token prompt: no line through the origin */
            v = interp(p->prefill_p, p->prefill_ms, p->n_prefill, tokens);
        else if (tokens < p->prefill_p[0] || p->n_prefill == 1)
            v = p->prefill_ms[0] * tokens / p->prefill_p[0];
        else
            v = interp(p->prefill_p, p->prefill_ms, p->n_prefill, tokens);
        return v > 0 ? v : 0;
    default:
        return 0;
    }
}

int64_t profile_step_ns(const struct profile *p, int b, int tokens_per_event,
                        int64_t prefill_tokens)
{
    double ms;
    if (p->kind == PROFILE_ZERO)
        return 0;
    ms = profile_decode_ms(p, b) * (tokens_per_event > 0 ? tokens_per_event : 1) +
         profile_prefill_ms(p, (double)prefill_tokens);
    return (int64_t)llround(ms * 1e6);
}
