/* prom.c — Prometheus text exposition parser (prom.h), following the format's spec
 * ("Exposition formats", text format 0.0.4): one sample per line, HELP/TYPE comments, label
 * values with three escapes, Go-style float values. Every read goes through the line cursor
 * {p, end}; the only storage is the caller's stack frame (labels unescaped into a fixed
 * buffer). */
#include "prom.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct prom_cur {
    const char *p, *end;
};

static int prom_is_name0(char c, int colon)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}

static int prom_is_name(char c, int colon)
{
    return prom_is_name0(c, colon) || (c >= '0' && c <= '9');
}

static void prom_ws(struct prom_cur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

/* A name at the cursor; its length, 0 when there is none. */
static size_t prom_name(struct prom_cur *c, int colon)
{
    const char *s = c->p;
    if (c->p >= c->end || !prom_is_name0(*c->p, colon))
        return 0;
    while (c->p < c->end && prom_is_name(*c->p, colon))
        c->p++;
    return (size_t)(c->p - s);
}

/* A token up to whitespace or the end of the line. */
static size_t prom_token(struct prom_cur *c, const char **tok)
{
    *tok = c->p;
    while (c->p < c->end && *c->p != ' ' && *c->p != '\t')
        c->p++;
    return (size_t)(c->p - *tok);
}

/* Go's ParseFloat as Prometheus writes it: decimal or exponent forms, NaN, [+-]Inf. */
static int prom_float(const char *s, size_t n, double *out)
{
    char tmp[64];
    if (n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    const char *t = tmp + (tmp[0] == '+' || tmp[0] == '-');
    if (!strcasecmp(t, "inf") || !strcasecmp(t, "infinity")) {
        *out = tmp[0] == '-' ? -INFINITY : INFINITY;
        return 0;
    }
    if (!strcasecmp(tmp, "nan")) {
        *out = NAN;
        return 0;
    }
    for (const char *q = tmp; *q; q++) /* strtod would take hex floats and "inity" tails */
        if (!((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' || *q == 'E' || *q == '+' ||
              *q == '-'))
            return -1;
    char *end;
    *out = strtod(tmp, &end);
    return *end == 0 && end != tmp ? 0 : -1;
}

static int prom_int(const char *s, size_t n, int64_t *out)
{
    int neg = n && s[0] == '-';
    size_t i = neg;
    if (i == n || n - i > 18)
        return -1;
    int64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

/* {a="x",b="y"} into sm (values unescaped into buf). NULL on success, else why. */
static const char *prom_labels(struct prom_cur *c, struct prom_sample *sm, char *buf)
{
    size_t used = 0;
    c->p++; /* '{' */
    for (;;) {
        prom_ws(c);
        if (c->p < c->end && *c->p == '}') {
            c->p++;
            return NULL;
        }
        const char *ln = c->p;
        size_t ll = prom_name(c, 0);
        if (!ll)
            return "bad label name";
        prom_ws(c);
        if (c->p >= c->end || *c->p != '=')
            return "expected = after a label name";
        c->p++;
        prom_ws(c);
        if (c->p >= c->end || *c->p != '"')
            return "expected a quoted label value";
        c->p++;
        char *v = buf + used;
        size_t vl = 0;
        for (;;) {
            if (c->p >= c->end)
                return "unterminated label value";
            char ch = *c->p++;
            if (ch == '"')
                break;
            if (ch == '\\') {
                if (c->p >= c->end)
                    return "unterminated label value";
                char e = *c->p++;
                ch = e == 'n' ? '\n' : e == '\\' ? '\\' : e == '"' ? '"' : 0;
                if (!ch)
                    return "bad escape in a label value";
            }
            if (used + vl >= PROM_MAX_LABEL_BYTES)
                return "label values too long";
            v[vl++] = ch;
        }
        if (sm->n_labels == PROM_MAX_LABELS)
            return "too many labels";
        struct prom_label *l = &sm->labels[sm->n_labels++];
        l->name = ln;
        l->name_len = ll;
        l->value = v;
        l->value_len = vl;
        used += vl;
        prom_ws(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end && *c->p == '}') {
            c->p++;
            return NULL;
        }
        return "expected , or } after a label";
    }
}

/* The family a sample name belongs to: the name itself or without a histogram/summary/counter
 * suffix, when that matches the last # TYPE. */
static int prom_in_family(const char *n, size_t nl, const char *fam, size_t fl)
{
    static const char *const suf[] = {"_bucket", "_sum", "_count", "_total", "_created"};
    if (nl == fl && !memcmp(n, fam, fl))
        return 1;
    for (size_t i = 0; i < sizeof suf / sizeof suf[0]; i++) {
        size_t sl = strlen(suf[i]);
        if (nl == fl + sl && !memcmp(n, fam, fl) && !memcmp(n + fl, suf[i], sl))
            return 1;
    }
    return 0;
}

static void prom_bad(struct prom_stats *st, int64_t line, const char *why)
{
    if (st->bad_lines++ == 0) {
        st->first_bad_line = line;
        snprintf(st->first_bad, sizeof st->first_bad, "%s", why);
    }
}

int prom_parse(const char *text, size_t len, prom_sample_fn fn, void *user,
               struct prom_stats *st)
{
    memset(st, 0, sizeof *st);
    const char *p = text, *end = text + len;
    const char *fam = NULL, *kind = "untyped";
    size_t fam_len = 0, kind_len = 7;
    char buf[PROM_MAX_LABEL_BYTES];
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        struct prom_cur c = {p, le > p && le[-1] == '\r' ? le - 1 : le};
        p = nl ? nl + 1 : end;
        int64_t line = ++st->lines;
        prom_ws(&c);
        if (c.p == c.end)
            continue;
        if (*c.p == '#') {
            c.p++;
            prom_ws(&c);
            const char *w;
            size_t wl = prom_token(&c, &w);
            if (wl == 4 && !memcmp(w, "TYPE", 4)) {
                prom_ws(&c);
                const char *n = c.p;
                size_t l = prom_name(&c, 1);
                prom_ws(&c);
                const char *k;
                size_t kl = prom_token(&c, &k);
                if (l && kl) {
                    fam = n;
                    fam_len = l;
                    kind = k;
                    kind_len = kl;
                }
            }
            continue; /* HELP, EOF and other comments */
        }
        struct prom_sample sm;
        sm.n_labels = 0;
        sm.name = c.p;
        sm.name_len = prom_name(&c, 1);
        sm.line = line;
        if (!sm.name_len) {
            prom_bad(st, line, "bad metric name");
            continue;
        }
        prom_ws(&c);
        if (c.p < c.end && *c.p == '{') {
            const char *why = prom_labels(&c, &sm, buf);
            if (why) {
                prom_bad(st, line, why);
                continue;
            }
            prom_ws(&c);
        }
        const char *v;
        size_t vl = prom_token(&c, &v);
        if (prom_float(v, vl, &sm.value)) {
            prom_bad(st, line, "bad value");
            continue;
        }
        prom_ws(&c);
        sm.ts_ms = -1;
        if (c.p < c.end && *c.p != '#') {
            const char *t;
            size_t tl = prom_token(&c, &t);
            if (prom_int(t, tl, &sm.ts_ms)) {
                prom_bad(st, line, "bad timestamp");
                continue;
            }
            prom_ws(&c);
        }
        if (c.p < c.end && *c.p != '#') { /* (an OpenMetrics exemplar follows " # ") */
            prom_bad(st, line, "junk after the value");
            continue;
        }
        int in = fam && prom_in_family(sm.name, sm.name_len, fam, fam_len);
        sm.kind = in ? kind : "untyped";
        sm.kind_len = in ? kind_len : 7;
        st->samples++;
        int rc = fn(user, &sm);
        if (rc)
            return rc;
    }
    return 0;
}
