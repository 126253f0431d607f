/* proxy.h — capture's third source: a streaming reverse proxy that records what passes through.
 *
 * Where a sniffer cannot look (TLS to the endpoint, no root), an application points its base
 * URL at the proxy instead. The client side is HTTP/1.1 (optionally over TLS) on non-blocking
 * sockets; the upstream side is formats/net/hclient (HTTP/1.1, HTTP/2, TLS) on the same epoll
 * loop. Every upstream read is forwarded to the client before the next is awaited, and each
 * exchange becomes one trace-log record of the same shape as a wire capture's: t0 = the kernel
 * receive time of the request's first byte from the client, each event at the kernel receive
 * time of the upstream bytes that completed it, plus (response.write_us) when the proxy handed
 * its bytes to the client's socket. Records go to the caller's emit callback; the proxy never
 * prints records. */
#ifndef LLMTRACE_CAPTURE_PROXY_H
#define LLMTRACE_CAPTURE_PROXY_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "engine.h"
#include "tlog.h"

struct proxy_opts {
    const char *listen;          /* "127.0.0.1:8001", "[::1]:8001"; port 0: the kernel picks */
    const char *port_file;       /* after listen(): the bound port + "\n" (rename); NULL */
    const char *tls_cert;        /* TLS listener: certificate chain (PEM); NULL: plain HTTP */
    const char *tls_key;         /* …and its private key (PEM) */
    const char *upstream;        /* http[s]://host[:port] (a path is ignored) */
    const char *api_key;         /* sent upstream as "Authorization: Bearer …" instead of the
                                    client's Authorization; NULL: the client's headers go */
    int insecure;                /* TLS upstream: no certificate or host name check */
    const char *cacert;          /* TLS upstream: CA bundle instead of the system's */
    int http2;                   /* TLS upstream: offer h2 in ALPN */
    int64_t connect_timeout_us;  /* upstream TCP + TLS setup; 0: 10 s */
    int64_t grace_us;            /* on stop: how long in-flight exchanges may finish; 0: 5 s */
    size_t max_pending;          /* per client connection, bytes not yet taken by its socket
                                    before the upstream read pauses; 0: 1 MiB */
    size_t max_request_body;     /* larger request bodies get 413; 0: 16 MiB */
    int max_conns;               /* client connections at once (more wait in the backlog);
                                    0: 10000 */
    const struct capture_opts *filter; /* --path-prefix, --all-paths, --host, --no-bodies,
                                          --hash-prompts (the other fields are not used) */
};

/* Called once per recorded exchange (x freed after the call). Non-zero: an output error,
 * which stops the proxy. */
typedef int (*proxy_emit_fn)(void *user, const struct tlog_exchange *x);
/* Called four times a second with the epoch µs (close the log's member when due, rotate by
 * time). */
typedef void (*proxy_tick_fn)(void *user, int64_t epoch_us);

struct proxy_stats {
    uint64_t connections;        /* client connections accepted */
    uint64_t requests;           /* requests forwarded upstream */
    uint64_t exchanges;          /* records emitted */
    uint64_t filtered;           /* forwarded, not recorded (path / host filters) */
    uint64_t bad_requests;       /* answered 400 / 413 / 431 without forwarding */
    uint64_t upstream_errors;    /* answered 502 */
    uint64_t cancelled;          /* the client left before its response was written */
    uint64_t pauses;             /* upstream reads paused by a slow client */
    uint64_t errors[TLOG_ERROR_KIND_COUNT]; /* records by error kind */
    uint64_t events;             /* events recorded */
    int64_t added_max_us;        /* largest write − receive over every event */
};

struct proxy;

/* Creates the listener and the upstream engine. NULL with a one-line reason in err. */
struct proxy *proxy_new(const struct proxy_opts *o, proxy_emit_fn emit, proxy_tick_fn tick,
                        void *user, char *err, size_t errlen);
/* Runs until *stop becomes non-zero (a signal handler's flag), then stops accepting, lets
 * in-flight exchanges finish for grace_us (a second signal, *stop >= 2, cuts them at once),
 * and records the ones cut as cancelled ("proxy stopped"). 0, or -1 after an emit error or a
 * failure of the loop itself (message on stderr). */
int proxy_run(struct proxy *p, volatile sig_atomic_t *stop);
void proxy_free(struct proxy *p);
const struct proxy_stats *proxy_get_stats(const struct proxy *p);
/* Counters as a JSON object for the trailer (caller frees). */
cJSON *proxy_stats_json(const struct proxy *p);
/* The header's source object: {"kind":"proxy","listen":…,"upstream":… (credentials removed)}
 * (caller frees). */
cJSON *proxy_source_json(const struct proxy *p);

#endif
