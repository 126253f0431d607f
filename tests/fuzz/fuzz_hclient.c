/* fuzz_hclient.c — libFuzzer harness for the client engine's response side (formats/net):
 * the input is what a server sends back on a real loopback connection. Byte 0 picks where the
 * bytes are split into two writes; the rest is the response. Each run opens a connection (a
 * new one per request), reads the request, writes the response, closes, and drives the engine
 * until the request is done. The engine must finish it exactly once, deliver no more body
 * bytes than were sent, and never crash, hang or leak (ASan); over every run it must re-send
 * nothing (a connection is never reused here). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "hclient.h"

static int fz_ls = -1, fz_ep = -1;
static struct hc_engine *fz_e;

struct fz_req {
    struct hc_req hr;
    int done, resends;
    size_t body;
};

static void fz_start(void *u, const struct hc_start *s)
{
    (void)u;
    (void)s;
}
static void fz_resend(void *u, const struct hc_attempt *a)
{
    (void)a;
    ((struct fz_req *)u)->resends++;
}
static void fz_head(void *u, int st, const struct hc_header *h, size_t n, int64_t rx)
{
    (void)u;
    (void)rx;
    if (st < 200 || st > 999)
        abort();
    for (size_t i = 0; i < n; i++)
        if (h[i].name_len && !h[i].name)
            abort();
}
static void fz_body(void *u, const char *d, size_t n, int64_t rx)
{
    (void)d;
    (void)rx;
    ((struct fz_req *)u)->body += n;
}
static void fz_done(void *u, const struct hc_result *r)
{
    (void)r;
    ((struct fz_req *)u)->done++;
}
static const struct hc_callbacks fz_cb = {fz_start, fz_resend, fz_head, fz_body, fz_done};

static void fz_init(void)
{
    signal(SIGPIPE, SIG_IGN);
    fz_ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (bind(fz_ls, (struct sockaddr *)&a, sizeof a) || listen(fz_ls, 16) ||
        getsockname(fz_ls, (struct sockaddr *)&a, &al))
        abort();
    char url[64], err[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(a.sin_port));
    struct hc_opts o = {.url = url, .rx_kernel = 1, .no_reuse = 1,
                        .connect_timeout_ns = 2000000000LL};
    fz_ep = epoll_create1(0);
    fz_e = hc_engine_new(fz_ep, &o, err, sizeof err);
    if (!fz_e)
        abort();
}

static void fz_pump(int ms)
{
    struct epoll_event ev[16];
    int k = epoll_wait(fz_ep, ev, 16, ms);
    for (int i = 0; i < k; i++)
        hc_engine_handle(fz_e, ev[i].data.ptr, ev[i].events);
    hc_engine_tick(fz_e, clock_mono_ns());
    hc_engine_reap(fz_e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fz_ls < 0)
        fz_init();
    if (size < 1 || size > 65536)
        return 0;
    size_t split = data[0] % size;
    const char *resp = (const char *)data + 1;
    size_t n = size - 1;
    struct fz_req r = {0};
    r.hr.method = "POST";
    r.hr.target = "/v1/chat/completions";
    r.hr.headers = "Content-Type: application/json\r\n";
    r.hr.headers_len = strlen(r.hr.headers);
    r.hr.body = "{}";
    r.hr.body_len = 2;
    r.hr.cb = &fz_cb;
    r.hr.user = &r;
    if (hc_submit(fz_e, &r.hr))
        abort();
    int s = -1;
    for (int i = 0; i < 200 && s < 0; i++) {
        fz_pump(1);
        s = accept4(fz_ls, NULL, NULL, SOCK_NONBLOCK);
    }
    if (s < 0)
        abort();
    char req[4096];
    for (int i = 0; i < 200; i++) { /* the request, then the response in two writes */
        fz_pump(1);
        if (recv(s, req, sizeof req, MSG_DONTWAIT) > 0)
            break;
    }
    if (split > n)
        split = n;
    if (split && send(s, resp, split, MSG_NOSIGNAL) < 0) {
        /* the engine may already have given up on garbage: fine */
    }
    fz_pump(0);
    if (n > split && send(s, resp + split, n - split, MSG_NOSIGNAL) < 0) {
    }
    close(s);
    for (int i = 0; i < 2000 && !r.done; i++)
        fz_pump(1);
    if (r.done != 1 || r.resends != 0 || r.body > n)
        abort();
    return 0;
}
