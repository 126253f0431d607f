/* tlog_aux.c — the log's records beside the exchanges: metrics samples (replay --scrape) and
 * stage verdicts (replay --search), parsed from JSON into plain structs (tlog.h) so a reader
 * (analyze) can draw the server's own view and reuse the search's verdicts. The records come
 * from a log anyone may hand us: every value is type- and range-checked, and a bad one makes
 * the record bad with the key named, never a crash. */
#include "tlog.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static const char *const aux_metric[TLOG_STAGE_METRICS + 1] = {"ttft", "tpot", "e2e", "goodput"};

const char *tlog_stage_metric_name(int k)
{
    return k >= 0 && k <= TLOG_STAGE_METRICS ? aux_metric[k] : "?";
}

void tlog_metrics_init(struct tlog_metrics *m)
{
    memset(m, 0, sizeof *m);
    m->value = NAN;
}

void tlog_metrics_free(struct tlog_metrics *m)
{
    if (!m)
        return;
    free(m->name);
    free(m->labels);
    free(m->kind);
    free(m->url);
    free(m->error_message);
    tlog_metrics_init(m);
}

void tlog_stage_init(struct tlog_stage *st)
{
    memset(st, 0, sizeof *st);
    st->stage = st->quantile = st->alpha = NAN;
    st->requests = st->wall_us = st->min_requests = -1;
    for (int k = 0; k < TLOG_STAGE_METRICS; k++) {
        st->slo_ms[k] = NAN;
        st->est[k].n = -1;
        st->est[k].point = st->est[k].lo = st->est[k].hi = NAN;
    }
    st->goodput_share = st->goodput_lo = st->goodput_hi = st->goodput_min = NAN;
    st->deciding = -1;
}

void tlog_stage_free(struct tlog_stage *st)
{
    if (!st)
        return;
    free(st->mode);
    tlog_stage_init(st);
}

static int aux_bad(char *err, size_t errlen, const char *key, const char *want)
{
    snprintf(err, errlen, "bad \"%s\": expected %s", key, want);
    return TLOG_ERR_FORMAT;
}

/* An integer count or time: a JSON number with no fraction within ±2^53. */
static int aux_int(const cJSON *o, const char *key, int need, int64_t *out, char *err,
                   size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v))
        return need ? aux_bad(err, errlen, key, "integer") : 0;
    double d = v->valuedouble;
    if (!cJSON_IsNumber(v) || !isfinite(d) || d != floor(d) || fabs(d) > 9007199254740992.0)
        return aux_bad(err, errlen, key, "integer");
    *out = (int64_t)d;
    return 0;
}

/* A finite number; null or absent leave *out (NAN) unless need. */
static int aux_num(const cJSON *o, const char *key, const char *dotted, int need, double *out,
                   char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v))
        return need ? aux_bad(err, errlen, dotted, "number") : 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return aux_bad(err, errlen, dotted, "number");
    *out = v->valuedouble;
    return 0;
}

static int aux_str(const cJSON *o, const char *key, char **out, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsString(v))
        return aux_bad(err, errlen, key, "string");
    if (!(*out = strdup(v->valuestring)))
        return TLOG_ERR_NOMEM;
    return 0;
}

int tlog_metrics_from_json(const cJSON *obj, struct tlog_metrics *m, char *err, size_t errlen)
{
    tlog_metrics_init(m);
    int rc = 0;
    if (!cJSON_IsObject(obj))
        return aux_bad(err, errlen, "metrics", "object");
    if ((rc = aux_int(obj, "t_us", 1, &m->t_us, err, errlen)))
        goto fail;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(obj, "error");
    if (e && !cJSON_IsNull(e)) {
        /* a failed scrape: the URL and why, no sample */
        if (!cJSON_IsObject(e)) {
            rc = aux_bad(err, errlen, "error", "object");
            goto fail;
        }
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
        if (msg && !cJSON_IsNull(msg) && !cJSON_IsString(msg)) {
            rc = aux_bad(err, errlen, "error.message", "string");
            goto fail;
        }
        m->error_message = strdup(cJSON_IsString(msg) ? msg->valuestring : "");
        if (!m->error_message || (rc = aux_str(obj, "url", &m->url, err, errlen))) {
            rc = rc ? rc : TLOG_ERR_NOMEM;
            goto fail;
        }
        return 0;
    }
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(obj, "name");
    if (!cJSON_IsString(n) || !n->valuestring[0]) {
        rc = aux_bad(err, errlen, "name", "non-empty string");
        goto fail;
    }
    if (!(m->name = strdup(n->valuestring))) {
        rc = TLOG_ERR_NOMEM;
        goto fail;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "value");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
            rc = aux_bad(err, errlen, "value", "number or null");
            goto fail;
        }
        m->value = v->valuedouble;
    } else if (!v) {
        rc = aux_bad(err, errlen, "value", "number or null");
        goto fail;
    }
    if ((rc = aux_str(obj, "kind", &m->kind, err, errlen)))
        goto fail;
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(obj, "labels");
    if (l && !cJSON_IsNull(l) && !cJSON_IsObject(l)) {
        rc = aux_bad(err, errlen, "labels", "object");
        goto fail;
    }
    struct buf b; /* capped: a label set past 64 KiB is cut, never unbounded */
    buf_init(&b, 1 << 16);
    const cJSON *it;
    cJSON_ArrayForEach(it, l)
    {
        if (!cJSON_IsString(it)) {
            buf_free(&b);
            snprintf(err, errlen, "bad \"labels.%.64s\": expected string",
                     it->string ? it->string : "?");
            rc = TLOG_ERR_FORMAT;
            goto fail;
        }
        if (b.len)
            buf_append_char(&b, ',');
        buf_printf(&b, "%s=%s", it->string ? it->string : "", it->valuestring);
    }
    m->labels = b.len ? buf_steal(&b) : strdup("");
    buf_free(&b);
    if (!m->labels) {
        rc = TLOG_ERR_NOMEM;
        goto fail;
    }
    return 0;
fail:
    tlog_metrics_free(m);
    return rc;
}

static int aux_bound(const cJSON *o, const char *key, const char *dotted, double inf,
                     double *out, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v)
        return 0;
    if (cJSON_IsNull(v)) {
        *out = inf; /* too few samples (or failures) to bound that side */
        return 0;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return aux_bad(err, errlen, dotted, "number or null");
    *out = v->valuedouble;
    return 0;
}

int tlog_stage_from_json(const cJSON *obj, struct tlog_stage *st, char *err, size_t errlen)
{
    tlog_stage_init(st);
    int rc = 0;
    if (!cJSON_IsObject(obj))
        return aux_bad(err, errlen, "stage", "object");
    if ((rc = aux_int(obj, "t_us", 1, &st->t_us, err, errlen)) ||
        (rc = aux_str(obj, "mode", &st->mode, err, errlen)))
        goto fail;
    if ((rc = aux_num(obj, "stage", "stage", 1, &st->stage, err, errlen)))
        goto fail;
    if (!(st->stage > 0)) {
        rc = aux_bad(err, errlen, "stage", "a positive number");
        goto fail;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "verdict");
    if (!cJSON_IsString(v)) {
        rc = aux_bad(err, errlen, "verdict", "string");
        goto fail;
    }
    st->verdict = !strcmp(v->valuestring, "met")         ? TLOG_VERDICT_MET
                  : !strcmp(v->valuestring, "failed")    ? TLOG_VERDICT_FAILED
                  : !strcmp(v->valuestring, "undecided") ? TLOG_VERDICT_UNDECIDED
                                                         : TLOG_VERDICT_UNKNOWN;
    if ((rc = aux_int(obj, "requests", 0, &st->requests, err, errlen)) ||
        (rc = aux_int(obj, "wall_us", 0, &st->wall_us, err, errlen)) ||
        (rc = aux_int(obj, "min_requests", 0, &st->min_requests, err, errlen)) ||
        (rc = aux_num(obj, "quantile", "quantile", 0, &st->quantile, err, errlen)) ||
        (rc = aux_num(obj, "alpha", "alpha", 0, &st->alpha, err, errlen)))
        goto fail;
    if (!isnan(st->quantile) && !(st->quantile > 0 && st->quantile < 1)) {
        rc = aux_bad(err, errlen, "quantile", "a number between 0 and 1");
        goto fail;
    }
    const cJSON *slo = cJSON_GetObjectItemCaseSensitive(obj, "slo");
    const cJSON *est = cJSON_GetObjectItemCaseSensitive(obj, "estimates");
    const cJSON *gp = cJSON_GetObjectItemCaseSensitive(obj, "goodput");
    if (slo && !cJSON_IsNull(slo) && !cJSON_IsObject(slo)) {
        rc = aux_bad(err, errlen, "slo", "object");
        goto fail;
    }
    if (est && !cJSON_IsNull(est) && !cJSON_IsObject(est)) {
        rc = aux_bad(err, errlen, "estimates", "object");
        goto fail;
    }
    if (gp && !cJSON_IsNull(gp) && !cJSON_IsObject(gp)) {
        rc = aux_bad(err, errlen, "goodput", "object");
        goto fail;
    }
    for (int k = 0; k < TLOG_STAGE_METRICS; k++) {
        char key[16], dotted[64];
        snprintf(key, sizeof key, "%s_ms", aux_metric[k]);
        snprintf(dotted, sizeof dotted, "slo.%s", key);
        if ((rc = aux_num(slo, key, dotted, 0, &st->slo_ms[k], err, errlen)))
            goto fail;
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(est, key);
        if (!e || cJSON_IsNull(e))
            continue;
        snprintf(dotted, sizeof dotted, "estimates.%s", key);
        if (!cJSON_IsObject(e)) {
            rc = aux_bad(err, errlen, dotted, "object");
            goto fail;
        }
        struct tlog_stage_est *x = &st->est[k];
        x->present = 1;
        char d2[80];
        snprintf(d2, sizeof d2, "%s.n", dotted);
        if ((rc = aux_int(e, "n", 0, &x->n, err, errlen)))
            goto fail;
        snprintf(d2, sizeof d2, "%s.point", dotted);
        if ((rc = aux_num(e, "point", d2, 0, &x->point, err, errlen)))
            goto fail;
        snprintf(d2, sizeof d2, "%s.lo", dotted);
        if ((rc = aux_bound(e, "lo", d2, -INFINITY, &x->lo, err, errlen)))
            goto fail;
        snprintf(d2, sizeof d2, "%s.hi", dotted);
        if ((rc = aux_bound(e, "hi", d2, INFINITY, &x->hi, err, errlen)))
            goto fail;
    }
    if ((rc = aux_num(gp, "share", "goodput.share", 0, &st->goodput_share, err, errlen)) ||
        (rc = aux_num(gp, "lo", "goodput.lo", 0, &st->goodput_lo, err, errlen)) ||
        (rc = aux_num(gp, "hi", "goodput.hi", 0, &st->goodput_hi, err, errlen)) ||
        (rc = aux_num(gp, "min", "goodput.min", 0, &st->goodput_min, err, errlen)))
        goto fail;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(obj, "deciding");
    if (d && !cJSON_IsNull(d)) {
        if (!cJSON_IsString(d)) {
            rc = aux_bad(err, errlen, "deciding", "string or null");
            goto fail;
        }
        for (int k = 0; k <= TLOG_STAGE_METRICS; k++)
            if (!strcmp(d->valuestring, aux_metric[k]))
                st->deciding = k;
    }
    return 0;
fail:
    tlog_stage_free(st);
    return rc;
}
