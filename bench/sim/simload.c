/* simload.c — a small closed-loop HTTP/1.1 load client for llmtrace-sim's benchmarks and its
 * plateau test: C connections on one epoll loop, each sending the same request again as soon
 * as the previous response completes (keep-alive), responses framed by formats/wire/http1.h, and a
 * streaming substring counter (KMP) over the decoded bodies to count events or content chunks.
 * Counts only what arrives after --warmup, so the rate is the steady state. Prints one line of
 * key=value pairs. Not a general benchmark tool: loopback, one request shape, no TLS. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "http1.h"

struct lconn {
    int fd;
    int connected;
    size_t sent;
    int state_kmp;
    struct http1_parser hp;
    struct load *L;
    int64_t req_start_ns;
    int got_first;
};

struct load {
    const char *pattern;
    size_t plen;
    int *fail;                   /* KMP failure table */
    char *req;
    size_t req_len;
    int64_t warm_ns, stop_ns;
    uint64_t requests, matches, bytes, errors, non200, total_requests;
    uint64_t ttfb_sum_us, ttfb_n;
    int stopping;
    int status;
};

static void kmp_build(struct load *L)
{
    size_t i;
    int k = 0;
    L->fail = calloc(L->plen + 1, sizeof(int));
    for (i = 1; i < L->plen; i++) {
        while (k > 0 && L->pattern[i] != L->pattern[k])
            k = L->fail[k - 1];
        if (L->pattern[i] == L->pattern[k])
            k++;
        L->fail[i] = k;
    }
}

static int on_head(void *u, const struct http1_head *h)
{
    struct lconn *c = u;
    if (h->status != 200)
        c->L->non200++;
    return 0;
}

static int on_body(void *u, const char *d, size_t n)
{
    struct lconn *c = u;
    struct load *L = c->L;
    size_t i;
    int k = c->state_kmp;
    int64_t now = 0;
    if (!c->got_first) {
        c->got_first = 1;
        now = clock_mono_ns();
        if (now >= L->warm_ns) {
            L->ttfb_sum_us += (uint64_t)((now - c->req_start_ns) / 1000);
            L->ttfb_n++;
        }
    }
    for (i = 0; i < n; i++) {
        while (k > 0 && d[i] != L->pattern[k])
            k = L->fail[k - 1];
        if (d[i] == L->pattern[k])
            k++;
        if ((size_t)k == L->plen) {
            if (!now)
                now = clock_mono_ns();
            if (now >= L->warm_ns && now < L->stop_ns)
                L->matches++;
            k = L->fail[k - 1];
        }
    }
    c->state_kmp = k;
    L->bytes += n;
    return 0;
}

static int on_trailers(void *u, const struct http1_header *h, size_t n)
{
    (void)u;
    (void)h;
    (void)n;
    return 0;
}

static int on_complete(void *u)
{
    struct lconn *c = u;
    int64_t now = clock_mono_ns();
    c->L->total_requests++;
    if (now >= c->L->warm_ns && now < c->L->stop_ns)
        c->L->requests++;
    c->sent = 0; /* the next request goes out on the same connection */
    c->got_first = 0;
    c->state_kmp = 0;
    return 0;
}

static const struct http1_callbacks cbs = {on_head, on_body, on_trailers, on_complete};

static void usage(void)
{
    fputs("Usage: llmtrace-simload --port P [--host 127.0.0.1] [-c CONNS] [--duration S]\n"
          "         [--warmup S] [--path PATH] [--body JSON | --max-tokens N] [--count PATTERN]\n"
          "Closed-loop load on llmtrace-sim; counts PATTERN (default: an SSE event end) in\n"
          "response bodies received between warmup and duration. Prints key=value.\n"
          "  llmtrace-simload --port 8000 -c 64 --duration 4 --warmup 1 --count '{\"content\":\"'\n",
          stderr);
}

static int conn_open(struct lconn *c, struct sockaddr_in *sa, int ep)
{
    struct epoll_event e;
    int one = 1;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0)
        return -1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *)sa, sizeof(*sa)) < 0 && errno != EINPROGRESS) {
        close(c->fd);
        return -1;
    }
    e.events = EPOLLIN | EPOLLOUT;
    e.data.ptr = c;
    return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"host", required_argument, NULL, 'H'},   {"port", required_argument, NULL, 'p'},
        {"conns", required_argument, NULL, 'c'},  {"duration", required_argument, NULL, 'd'},
        {"warmup", required_argument, NULL, 'w'}, {"path", required_argument, NULL, 'P'},
        {"body", required_argument, NULL, 'b'},   {"max-tokens", required_argument, NULL, 'm'},
        {"count", required_argument, NULL, 'k'},  {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *host = "127.0.0.1", *path = "/v1/chat/completions", *body = NULL;
    int port = 0, nconn = 1, opt, ep, i;
    double dur = 3, warm = 0;
    long max_tokens = 128;
    char defbody[512];
    struct load L = {0};
    struct lconn *cs;
    struct sockaddr_in sa = {0};
    struct epoll_event evs[512];
    struct rlimit rl;
    static char rbuf[262144];
    int64_t t0;

    L.pattern = "\n\n";
    while ((opt = getopt_long(argc, argv, "c:d:h", lo, NULL)) != -1) {
        switch (opt) {
        case 'H': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'c': nconn = atoi(optarg); break;
        case 'd': dur = atof(optarg); break;
        case 'w': warm = atof(optarg); break;
        case 'P': path = optarg; break;
        case 'b': body = optarg; break;
        case 'm': max_tokens = atol(optarg); break;
        case 'k': L.pattern = optarg; break;
        default: usage(); return opt == 'h' ? 0 : 2;
        }
    }
    if (port <= 0 || nconn <= 0 || dur <= warm || !*L.pattern) {
        usage();
        return 2;
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (!body) {
        snprintf(defbody, sizeof(defbody),
                 "{\"model\":\"m\",\"stream\":true,\"max_tokens\":%ld,\"ignore_eos\":true,"
                 "\"messages\":[{\"role\":\"user\",\"content\":\"Say something.\"}]}",
                 max_tokens);
        body = defbody;
    }
    L.plen = strlen(L.pattern);
    kmp_build(&L);
    L.req = malloc(strlen(body) + strlen(path) + 256);
    L.req_len = (size_t)sprintf(L.req,
                                "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                                "Content-Length: %zu\r\n\r\n%s",
                                path, host, port, strlen(body), body);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "simload: --host must be an IPv4 address\n");
        return 2;
    }
    ep = epoll_create1(0);
    cs = calloc((size_t)nconn, sizeof(*cs));
    if (!cs || ep < 0)
        return 1;
    t0 = clock_mono_ns();
    L.warm_ns = t0 + (int64_t)(warm * 1e9);
    L.stop_ns = t0 + (int64_t)(dur * 1e9);
    for (i = 0; i < nconn; i++) {
        cs[i].L = &L;
        http1_init(&cs[i].hp, HTTP1_RESPONSE, &cbs, &cs[i], 0, 0);
        if (conn_open(&cs[i], &sa, ep) < 0) {
            fprintf(stderr, "simload: connection %d: %s\n", i, strerror(errno));
            return 1;
        }
    }
    for (;;) {
        int64_t now = clock_mono_ns();
        int n, left = (int)((L.stop_ns - now) / 1000000);
        if (now >= L.stop_ns)
            break;
        n = epoll_wait(ep, evs, 512, left > 0 ? left : 1);
        for (i = 0; i < n; i++) {
            struct lconn *c = evs[i].data.ptr;
            if (c->fd < 0)
                continue;
            if (evs[i].events & EPOLLOUT) {
                while (c->sent < L.req_len) {
                    ssize_t k = write(c->fd, L.req + c->sent, L.req_len - c->sent);
                    if (k <= 0)
                        break;
                    if (c->sent == 0)
                        c->req_start_ns = clock_mono_ns();
                    c->sent += (size_t)k;
                }
                if (c->sent == L.req_len) {
                    http1_expect_response_to(&c->hp, "POST", 4);
                    struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
                }
            }
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                ssize_t k = read(c->fd, rbuf, sizeof(rbuf));
                if (k > 0) {
                    if (http1_feed(&c->hp, rbuf, (size_t)k) < 0) {
                        L.errors++;
                        close(c->fd);
                        c->fd = -1;
                        continue;
                    }
                    if (c->sent == 0) { /* response complete: send the next request */
                        struct epoll_event e = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
                        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
                    }
                } else if (k == 0 || (errno != EAGAIN && errno != EINTR)) {
                    L.errors++;
                    close(c->fd);
                    c->fd = -1;
                }
            }
        }
    }
    {
        double win = dur - warm;
        printf("conns=%d window_s=%.3f requests=%" PRIu64 " matches=%" PRIu64
               " match_rate=%.1f req_rate=%.1f mean_ttfb_us=%.0f bytes=%" PRIu64
               " errors=%" PRIu64 " non200=%" PRIu64 "\n",
               nconn, win, L.requests, L.matches, (double)L.matches / win,
               (double)L.requests / win, L.ttfb_n ? (double)L.ttfb_sum_us / (double)L.ttfb_n : 0.0,
               L.bytes, L.errors, L.non200);
    }
    for (i = 0; i < nconn; i++) {
        if (cs[i].fd >= 0)
            close(cs[i].fd);
        http1_free(&cs[i].hp);
    }
    free(cs);
    free(L.req);
    free(L.fail);
    return L.errors ? 1 : 0;
}
