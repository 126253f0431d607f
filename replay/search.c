/* search.c — the bracketing of --search (search.h): which stage to run next, the --slo
 * parser, and the stage record. Each stage is judged by formats/base/slojudge. */
#include "search.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"

void search_init(struct search_state *s, int integer, double start, double factor,
                 double tolerance, int max_stages)
{
    memset(s, 0, sizeof *s);
    s->integer = integer;
    s->start = start > 0 ? start : 1;
    s->factor = factor > 1 ? factor : 2;
    s->tolerance = tolerance > 0 ? tolerance : 0.05;
    s->max_stages = max_stages > 0 ? max_stages : 12;
}

double search_next(struct search_state *s, double x, enum slo_verdict_kind v)
{
    if (v == SLO_MET) {
        if (x > s->lo)
            s->lo = x;
    } else if (s->hi == 0 || x < s->hi) {
        s->hi = x;
    }
    s->stages++;
    if (s->stages >= s->max_stages)
        return 0;
    double next;
    if (s->hi == 0) {
        next = x * s->factor; /* still growing */
        if (s->integer)
            next = ceil(next) > x ? ceil(next) : x + 1;
    } else if (s->lo == 0) {
        /* even the probe failed: go down until something meets */
        if (s->integer && s->hi <= 1)
            return 0;
        next = s->hi / s->factor;
        if (s->integer)
            next = floor(next) >= 1 ? floor(next) : 1;
        else if (next < s->start / 64)
            return 0;
    } else {
        if (s->hi <= s->lo || (s->hi - s->lo) / s->lo <= s->tolerance ||
            (s->integer && s->hi - s->lo <= 1))
            return 0;
        next = (s->lo + s->hi) / 2;
        if (s->integer)
            next = floor(next);
    }
    return next;
}

int search_parse_slo(const char *spec, struct slo_target *slo, char *err, size_t errlen)
{
    const char *p = spec;
    int any = 0;
    while (*p) {
        const char *eq = strchr(p, '=');
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        if (!eq || eq > end) {
            snprintf(err, errlen, "--slo expects KEY=VALUE[,…] (ttft, tpot, e2e), got '%s'", spec);
            return -1;
        }
        int m = -1;
        for (int k = 0; k < SLO_N_METRICS; k++)
            if ((size_t)(eq - p) == strlen(slo_metric_name(k)) &&
                !strncasecmp(p, slo_metric_name(k), (size_t)(eq - p)))
                m = k;
        if (m < 0) {
            snprintf(err, errlen, "--slo: unknown metric '%.*s' (ttft, tpot, e2e)",
                     (int)(eq - p), p);
            return -1;
        }
        char num[64];
        size_t nl = (size_t)(end - eq - 1);
        if (nl == 0 || nl >= sizeof num) {
            snprintf(err, errlen, "--slo: no value for %s", slo_metric_name(m));
            return -1;
        }
        memcpy(num, eq + 1, nl);
        num[nl] = 0;
        char *u;
        double v = strtod(num, &u);
        double scale = 1; /* a bare number is ms */
        if (!strcmp(u, "us") || !strcmp(u, "\xc2\xb5s"))
            scale = 1e-3;
        else if (!strcmp(u, "ms") || !*u)
            scale = 1;
        else if (!strcmp(u, "s"))
            scale = 1e3;
        else
            scale = -1;
        if (u == num || scale < 0 || !(v > 0) || !isfinite(v)) {
            snprintf(err, errlen, "--slo %s: expected a positive duration (500, 500ms, 0.5s), "
                                  "got '%s'", slo_metric_name(m), num);
            return -1;
        }
        slo->limit_ms[m] = v * scale;
        any = 1;
        p = *end ? end + 1 : end;
    }
    if (!any) {
        snprintf(err, errlen, "--slo: no SLO given");
        return -1;
    }
    return 0;
}

static void search_json_num(struct buf *b, double v)
{
    if (isfinite(v))
        buf_printf(b, "%.17g", v);
    else
        buf_append_str(b, "null"); /* an infinite bound: too few samples (or failures) */
}

int search_stage_json(struct buf *b, const char *mode, double x, int64_t t_us, int64_t wall_us,
                      const struct slo_target *slo, const struct slo_verdict *v)
{
    buf_reset(b);
    buf_printf(b, "{\"type\":\"stage\",\"t_us\":%lld,\"mode\":\"%s\",\"stage\":%.17g,"
                  "\"verdict\":\"%s\",\"requests\":%zu,\"wall_us\":%lld,\"quantile\":",
               (long long)t_us, mode, x, slo_verdict_name(v->kind), v->n, (long long)wall_us);
    search_json_num(b, slo->goodput_min > 0 ? NAN : slo->quantile);
    buf_printf(b, ",\"alpha\":%.17g,\"min_requests\":%zu,\"slo\":{",
               slo->alpha > 0 ? slo->alpha : 0.05, v->min_n);
    int first = 1;
    for (int m = 0; m < SLO_N_METRICS; m++)
        if (slo->limit_ms[m] > 0) {
            buf_printf(b, "%s\"%s_ms\":%.17g", first ? "" : ",", slo_metric_name(m),
                       slo->limit_ms[m]);
            first = 0;
        }
    buf_append_str(b, "},\"estimates\":{");
    first = 1;
    for (int m = 0; m < SLO_N_METRICS; m++) {
        const struct slo_estimate *e = &v->est[m];
        if (!e->present)
            continue;
        buf_printf(b, "%s\"%s_ms\":{\"n\":%zu,\"point\":", first ? "" : ",",
                   slo_metric_name(m), e->n);
        search_json_num(b, e->point);
        buf_append_str(b, ",\"lo\":");
        search_json_num(b, e->lo);
        buf_append_str(b, ",\"hi\":");
        search_json_num(b, e->hi);
        buf_append_char(b, '}');
        first = 0;
    }
    buf_append_str(b, "},\"goodput\":{\"share\":");
    search_json_num(b, v->goodput);
    buf_append_str(b, ",\"lo\":");
    search_json_num(b, v->goodput_lo);
    buf_append_str(b, ",\"hi\":");
    search_json_num(b, v->goodput_hi);
    buf_printf(b, ",\"min\":");
    search_json_num(b, slo->goodput_min > 0 ? slo->goodput_min : NAN);
    buf_append_str(b, "},\"deciding\":");
    if (v->deciding >= 0)
        buf_printf(b, "\"%s\"", slo_metric_name(v->deciding));
    else
        buf_append_str(b, v->deciding == -1 ? "\"goodput\"" : "null");
    return buf_append_char(b, '}');
}
