/* redact.c — credentials out of URLs (see redact.h). */
#include "redact.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Query parameters whose values are credentials (Azure's api-key, signed URLs' sig, …). */
int redact_url_param_is_secret(const char *name, size_t len)
{
    static const char *const secret[] = {"key",  "api-key", "api_key", "apikey",    "token",
                                         "access_token", "auth", "sig",     "signature",
                                         "password",     "secret"};
    for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++)
        if (strlen(secret[i]) == len && !strncasecmp(name, secret[i], len))
            return 1;
    return 0;
}

char *redact_url(const char *url)
{
    static const char mask[] = "<redacted>";
    size_t n = strlen(url), seps = 1;
    for (const char *c = url; *c; c++)
        seps += *c == '&' || *c == '?' || *c == '#';
    char *out = malloc(n + seps * (sizeof(mask) - 1) + 1);
    if (!out)
        return NULL;
    char *o = out;
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    size_t alen = strcspn(host, "/?#");
    const char *p = host;
    for (const char *c = host; c < host + alen; c++)
        if (*c == '@') /* the last '@' ends the userinfo (passwords hold unescaped '@') */
            p = c + 1;
    memcpy(o, url, (size_t)(host - url));
    o += host - url;
    size_t plen = strcspn(p, "?#");
    memcpy(o, p, plen);
    o += plen;
    p += plen;
    while (*p) {
        if (*p == '?' || *p == '&' || *p == '#') {
            *o++ = *p++;
            continue;
        }
        size_t len = strcspn(p, "&#");
        const char *eq = memchr(p, '=', len);
        if (eq && redact_url_param_is_secret(p, (size_t)(eq - p))) {
            size_t keep = (size_t)(eq - p) + 1;
            memcpy(o, p, keep);
            o += keep;
            memcpy(o, mask, sizeof(mask) - 1);
            o += sizeof(mask) - 1;
        } else {
            memcpy(o, p, len);
            o += len;
        }
        p += len;
    }
    *o = 0;
    return out;
}
