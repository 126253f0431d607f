/* units.c — command-line value parsing (see units.h). */
#include "units.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int units_parse_double(const char *s, double *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

int units_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int units_parse_duration_us(const char *s, int64_t *out_us)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !isfinite(v) || v < 0)
        return -1;
    double mult;
    if (!strcmp(end, "") || !strcmp(end, "s"))
        mult = 1e6;
    else if (!strcmp(end, "ms"))
        mult = 1e3;
    else if (!strcmp(end, "us") || !strcmp(end, "µs"))
        mult = 1;
    else if (!strcmp(end, "m") || !strcmp(end, "min"))
        mult = 60e6;
    else if (!strcmp(end, "h"))
        mult = 3600e6;
    else
        return -1;
    double us = v * mult;
    if (us > 9.2e18)
        return -1;
    *out_us = (int64_t)llround(us);
    return 0;
}

int units_parse_size(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-')
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !isfinite(v) || v < 0)
        return -1;
    double mult;
    if (!*end || !strcmp(end, "B"))
        mult = 1;
    else if (!strcasecmp(end, "k") || !strcasecmp(end, "kb") || !strcasecmp(end, "kib"))
        mult = 1024.0;
    else if (!strcasecmp(end, "m") || !strcasecmp(end, "mb") || !strcasecmp(end, "mib"))
        mult = 1024.0 * 1024;
    else if (!strcasecmp(end, "g") || !strcasecmp(end, "gb") || !strcasecmp(end, "gib"))
        mult = 1024.0 * 1024 * 1024;
    else
        return -1;
    double b = v * mult;
    if (b > 1.8e19)
        return -1;
    *out = (uint64_t)b;
    return 0;
}

int units_parse_int_list(const char *s, int64_t min, int64_t max_v, int64_t *out, size_t max,
                         size_t *n)
{
    if (!s || !*s)
        return -1;
    size_t k = 0;
    const char *p = s;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[32];
        if (len == 0 || len >= sizeof item || k >= max)
            return -1;
        memcpy(item, p, len);
        item[len] = '\0';
        if (units_parse_int64(item, min, max_v, &out[k]))
            return -1;
        k++;
        if (!comma)
            break;
        p = comma + 1;
    }
    *n = k;
    return 0;
}

void units_format_duration(int64_t us, char *out, size_t outlen)
{
    int64_t a = us < 0 ? -us : us;
    const char *sign = us < 0 ? "-" : "";
    if (a < 1000)
        snprintf(out, outlen, "%s%lldus", sign, (long long)a);
    else if (a < 1000000)
        snprintf(out, outlen, "%s%.1fms", sign, a / 1e3);
    else if (a < 60000000)
        snprintf(out, outlen, "%s%.2fs", sign, a / 1e6);
    else
        snprintf(out, outlen, "%s%lldm%02llds", sign, (long long)(a / 60000000),
                 (long long)(a / 1000000 % 60));
}
