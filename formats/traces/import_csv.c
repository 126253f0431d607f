/* import_csv.c — CSV trace importers: Azure LLM inference traces 2023/2024
 * (TIMESTAMP,ContextTokens,GeneratedTokens; https://github.com/Azure/AzurePublicDataset) and
 * BurstGPT (Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type, and in the
 * newer layout Session ID (SessionID) and Elapsed time; https://github.com/HPMLL/BurstGPT). CSV per RFC 4180 as far as these files need it: comma
 * separated, optional double quotes around a field, CRLF or LF, optional final newline, UTF-8
 * BOM ignored. Columns are found by name (case-insensitive), so order and extra columns do not
 * matter. */
#include "import_parsers.h"
#include "import_row.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CSV_MAX_FIELDS 32

struct csv_field {
    const char *p;
    size_t n;
};

/* Splits one line (no newline) into fields, trimming blanks and one level of quotes. A field
 * with an embedded comma inside quotes is kept whole. Returns the number of fields (at most
 * CSV_MAX_FIELDS; extra fields are ignored). */
static size_t csv_split(const char *line, size_t len, struct csv_field *f)
{
    size_t n = 0, i = 0;
    for (;;) {
        size_t start = i;
        int quoted = 0;
        while (i < len && (line[i] != ',' || quoted)) {
            if (line[i] == '"')
                quoted = !quoted;
            i++;
        }
        const char *p = line + start;
        size_t fl = i - start;
        while (fl && (*p == ' ' || *p == '\t')) {
            p++;
            fl--;
        }
        while (fl && (p[fl - 1] == ' ' || p[fl - 1] == '\t'))
            fl--;
        if (fl >= 2 && p[0] == '"' && p[fl - 1] == '"') {
            p++;
            fl -= 2;
        }
        if (n < CSV_MAX_FIELDS) {
            f[n].p = p;
            f[n].n = fl;
            n++;
        }
        if (i >= len)
            break;
        i++; /* the comma */
    }
    return n;
}

/* Line cursor: returns 1 with the next line (without CR/LF) or 0 at the end. */
struct csv_cursor {
    const char *p, *end;
    int64_t line;
};

static int csv_next_line(struct csv_cursor *c, const char **line, size_t *len)
{
    if (c->p >= c->end)
        return 0;
    const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
    const char *e = nl ? nl : c->end;
    *line = c->p;
    *len = (size_t)(e - c->p);
    if (*len && (*line)[*len - 1] == '\r')
        (*len)--;
    c->p = nl ? nl + 1 : c->end;
    c->line++;
    return 1;
}

static int csv_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != ',')
            return 0;
    return 1;
}

/* Unsigned decimal integer, capped. 0 ok, -1 not a number, -2 above cap. Accepts a ".0…"
 * fraction of zeros because spreadsheet round-trips write integers that way. */
static int csv_uint(const struct csv_field *f, int64_t cap, int64_t *out)
{
    size_t i = 0;
    int64_t v = 0;
    int big = 0;
    if (f->n == 0)
        return -1;
    while (i < f->n && f->p[i] >= '0' && f->p[i] <= '9') {
        if (v > (cap - (f->p[i] - '0')) / 10)
            big = 1;
        else
            v = v * 10 + (f->p[i] - '0');
        i++;
    }
    if (i == 0)
        return -1;
    if (i < f->n && f->p[i] == '.') {
        i++;
        while (i < f->n && f->p[i] == '0')
            i++;
    }
    if (i != f->n)
        return -1;
    if (big)
        return -2;
    *out = v;
    return 0;
}

/* Non-negative decimal seconds ("12", "12.5", "0.000001") → µs, truncated past 6 decimals. */
static int csv_seconds_us(const struct csv_field *f, int64_t *out)
{
    size_t i = 0;
    int64_t s = 0, us = 0;
    if (f->n == 0)
        return -1;
    while (i < f->n && f->p[i] >= '0' && f->p[i] <= '9') {
        if (s > IMPORT_MAX_OFFSET_MS / 1000) /* the Mooncake cap, ≈ 31.7 years */
            return -2;
        s = s * 10 + (f->p[i] - '0');
        i++;
    }
    size_t ni = i;
    if (i < f->n && f->p[i] == '.') {
        i++;
        int64_t scale = 100000;
        while (i < f->n && f->p[i] >= '0' && f->p[i] <= '9') {
            us += (f->p[i] - '0') * scale;
            scale /= 10;
            i++;
        }
        if (i == ni + 1 && ni == 0)
            return -1;
    }
    if (i != f->n || (ni == 0 && i == 0))
        return -1;
    if (s > IMPORT_MAX_OFFSET_MS / 1000)
        return -2;
    *out = s * 1000000 + us;
    return 0;
}

static int csv_name_eq(const struct csv_field *f, const char *name)
{
    return strlen(name) == f->n && !strncasecmp(f->p, name, f->n);
}

/* Finds each wanted column in the header; -1 for absent ones. Returns the first missing
 * required column's name, or NULL. */
static const char *csv_map_columns(const struct csv_field *hf, size_t nh, const char *const *names,
                                   size_t nn, size_t nrequired, int *col)
{
    for (size_t k = 0; k < nn; k++) {
        col[k] = -1;
        for (size_t j = 0; j < nh; j++)
            if (csv_name_eq(&hf[j], names[k])) {
                col[k] = (int)j;
                break;
            }
        if (col[k] < 0 && k < nrequired)
            return names[k];
    }
    return NULL;
}

/* Reads the header line (first non-blank line, BOM skipped). 0 ok; IMPORT_ERR_EMPTY. */
static int csv_header(struct csv_cursor *c, const char *data, size_t len, struct csv_field *hf,
                      size_t *nh)
{
    c->p = data;
    c->end = data + len;
    c->line = 0;
    if (len >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3))
        c->p += 3;
    const char *line;
    size_t ll;
    while (csv_next_line(c, &line, &ll))
        if (!csv_blank(line, ll)) {
            *nh = csv_split(line, ll, hf);
            return 0;
        }
    return IMPORT_ERR_EMPTY;
}

/* The next data row: blank lines skipped, split into f; a row lacking one of the three
 * required columns (col[0..2], named names[0..2]) is reported as bad and skipped. 1 with the
 * row, 0 at the end, IMPORT_ERR_FORMAT when bad rows must stop the import. */
static int csv_row(struct csv_cursor *c, struct csv_field *f, const int *col,
                   const char *const *names, struct import_trace *t,
                   const struct import_opts *o, size_t *nf)
{
    const char *line;
    size_t ll;
    while (csv_next_line(c, &line, &ll)) {
        if (csv_blank(line, ll))
            continue;
        t->records++;
        *nf = csv_split(line, ll, f);
        int k = 0;
        while (k < 3 && (size_t)col[k] < *nf)
            k++;
        if (k == 3)
            return 1;
        if (import_report_bad(t, o, "line %lld: field \"%s\": missing", (long long)c->line,
                              names[k]))
            return IMPORT_ERR_FORMAT;
    }
    return 0;
}

/* Reads an integer token column; reports the problem as a bad row. 1 ok, 0 bad-and-skipped,
 * <0 stop. */
static int csv_tokens(struct import_trace *t, const struct import_opts *o, int64_t line,
                      const struct csv_field *f, const char *name, int64_t *out)
{
    char q[64];
    int rc = csv_uint(f, IMPORT_MAX_TOKENS, out);
    if (rc == 0)
        return 1;
    import_quote_value(f->p, f->n, q, sizeof q);
    if (rc == -2)
        rc = import_report_bad(t, o, "line %lld: field \"%s\": value \"%s\" exceeds the cap of %d",
                               (long long)line, name, q, IMPORT_MAX_TOKENS);
    else
        rc = import_report_bad(t, o, "line %lld: field \"%s\": not a non-negative integer: \"%s\"",
                               (long long)line, name, q);
    return rc ? rc : 0;
}

int import_parse_azure(const char *data, size_t len, const struct import_opts *o,
                       struct import_trace *t)
{
    static const char *const names[3] = {"TIMESTAMP", "ContextTokens", "GeneratedTokens"};
    struct csv_cursor c;
    struct csv_field hf[CSV_MAX_FIELDS], f[CSV_MAX_FIELDS];
    size_t nh;
    int col[3];
    if (csv_header(&c, data, len, hf, &nh)) {
        import_set_error(t, o, "empty file");
        return IMPORT_ERR_EMPTY;
    }
    const char *missing = csv_map_columns(hf, nh, names, 3, 3, col);
    if (missing) {
        import_set_error(t, o, "line %lld: header lacks column \"%s\" (want %s,%s,%s)",
                         (long long)c.line, missing, names[0], names[1], names[2]);
        return IMPORT_ERR_FORMAT;
    }
    size_t nf;
    int rc;
    while ((rc = csv_row(&c, f, col, names, t, o, &nf)) != 0) {
        if (rc < 0)
            return rc;
        int64_t ts, tin, tout;
        const struct csv_field *tf = &f[col[0]];
        if (import_parse_timestamp(tf->p, tf->n, &ts)) {
            char q[64];
            import_quote_value(tf->p, tf->n, q, sizeof q);
            if (import_report_bad(t, o, "line %lld: field \"TIMESTAMP\": bad timestamp \"%s\"",
                                  (long long)c.line, q))
                return IMPORT_ERR_FORMAT;
            continue;
        }
        rc = csv_tokens(t, o, c.line, &f[col[1]], names[1], &tin);
        if (rc == 1)
            rc = csv_tokens(t, o, c.line, &f[col[2]], names[2], &tout);
        if (rc < 0)
            return rc;
        if (rc == 0)
            continue;
        struct import_row *r = import_row_new(t, o, IMPORT_AZURE, c.line);
        if (!r || !(r->id = import_make_id(o, IMPORT_AZURE, c.line, NULL)))
            return IMPORT_ERR_NOMEM;
        r->t_us = ts;
        r->tokens_in = tin;
        r->tokens_out = tout;
        r->pin_out = tout;
    }
    return 0;
}

int import_parse_burstgpt(const char *data, size_t len, const struct import_opts *o,
                          struct import_trace *t)
{
    static const char *const names[9] = {"Timestamp", "Request tokens", "Response tokens",
                                         "Model", "Total tokens", "Log Type", "Session ID",
                                         "SessionID", "Elapsed time"};
    struct csv_cursor c;
    struct csv_field hf[CSV_MAX_FIELDS], f[CSV_MAX_FIELDS];
    size_t nh;
    int col[9];
    int64_t base = o->base_us ? o->base_us : IMPORT_DEFAULT_BASE_US;
    if (csv_header(&c, data, len, hf, &nh)) {
        import_set_error(t, o, "empty file");
        return IMPORT_ERR_EMPTY;
    }
    const char *missing = csv_map_columns(hf, nh, names, 9, 3, col);
    if (missing) {
        import_set_error(t, o, "line %lld: header lacks column \"%s\" (want Timestamp,Model,"
                         "Request tokens,Response tokens,Total tokens,Log Type)",
                         (long long)c.line, missing);
        return IMPORT_ERR_FORMAT;
    }
    int scol = col[6] >= 0 ? col[6] : col[7], ecol = col[8];
    size_t nf;
    int rc;
    while ((rc = csv_row(&c, f, col, names, t, o, &nf)) != 0) {
        if (rc < 0)
            return rc;
        int64_t off, tin, tout;
        const struct csv_field *tf = &f[col[0]];
        int sr = csv_seconds_us(tf, &off);
        if (sr) {
            char q[64];
            import_quote_value(tf->p, tf->n, q, sizeof q);
            if (import_report_bad(t, o, sr == -2
                                      ? "line %lld: field \"Timestamp\": value \"%s\" too large"
                                      : "line %lld: field \"Timestamp\": not seconds: \"%s\"",
                                  (long long)c.line, q))
                return IMPORT_ERR_FORMAT;
            continue;
        }
        rc = csv_tokens(t, o, c.line, &f[col[1]], names[1], &tin);
        if (rc == 1)
            rc = csv_tokens(t, o, c.line, &f[col[2]], names[2], &tout);
        if (rc < 0)
            return rc;
        if (rc == 0)
            continue;
        int64_t elapsed = -1;
        const struct csv_field *sf = scol >= 0 && (size_t)scol < nf ? &f[scol] : NULL;
        if (ecol >= 0 && (size_t)ecol < nf && f[ecol].n > 0) {
            int er = csv_seconds_us(&f[ecol], &elapsed);
            if (er) {
                char q[64];
                import_quote_value(f[ecol].p, f[ecol].n, q, sizeof q);
                if (import_report_bad(t, o, "line %lld: field \"Elapsed time\": not seconds: \"%s\"",
                                      (long long)c.line, q))
                    return IMPORT_ERR_FORMAT;
                continue;
            }
        }
        if (sf && sf->n > IMPORT_MAX_SESSION_ID) {
            if (import_report_bad(t, o, "line %lld: field \"%s\": longer than %d bytes",
                                  (long long)c.line, names[col[6] >= 0 ? 6 : 7],
                                  IMPORT_MAX_SESSION_ID))
                return IMPORT_ERR_FORMAT;
            continue;
        }
        int failed = tout == 0;
        if (failed) {
            t->failed++;
            if (o->skip_failed) {
                t->skipped_failed++;
                continue;
            }
        }
        struct import_row *r = import_row_new(t, o, IMPORT_BURSTGPT, c.line);
        if (!r || !(r->id = import_make_id(o, IMPORT_BURSTGPT, c.line, NULL)))
            return IMPORT_ERR_NOMEM;
        r->t_us = base + off;
        r->tokens_in = tin;
        r->tokens_out = tout;
        r->pin_out = failed ? -1 : tout;
        r->failed = failed;
        r->elapsed_us = elapsed;
        if (sf && sf->n > 0 && !(r->session = strndup(sf->p, sf->n)))
            return IMPORT_ERR_NOMEM;
        if (col[3] >= 0 && (size_t)col[3] < nf && f[col[3]].n > 0) {
            r->model = strndup(f[col[3]].p, f[col[3]].n);
            if (!r->model)
                return IMPORT_ERR_NOMEM;
        }
    }
    return 0;
}
