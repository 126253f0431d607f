/* redact.h — keeping credentials out of logs, argv copies and messages.
 *
 * Header values are redacted by the trace-log writer (tlog_header_is_secret in tlog.h); this
 * module covers the other place keys travel: URLs ("https://user:pass@host/p?api-key=S"). */
#ifndef LLMTRACE_REDACT_H
#define LLMTRACE_REDACT_H

#include <stddef.h>

/* True when a URL query (or fragment) parameter name carries a credential, case-insensitive:
 * key, api-key, api_key, apikey, token, access_token, auth, sig, signature, password, secret. */
int redact_url_param_is_secret(const char *name, size_t len);

/* The URL as records and messages show it; the request itself uses the real one.
 * "scheme://user:pass@host/p?api-key=S&x=1" → "scheme://host/p?api-key=<redacted>&x=1": the
 * userinfo goes, and so does the value of every credential query or fragment parameter. Text
 * before "://" (as in "--url=…") is kept. Percent-encoded names are not decoded. Returns a
 * malloc'd string, or NULL when out of memory. */
char *redact_url(const char *url);

#endif
