/* fwd_floor.c — the floor under the recording proxy's added-latency figure: a bare TCP
 * forwarder that does nothing but what any proxy must do per upstream read on this machine:
 * epoll_wait, one recvmsg(2) with its kernel receive time (SO_TIMESTAMPNS), one send(2) to the
 * client. No parsing, no HTTP, no log. Its added latency (send returned − kernel receive time,
 * the definition of response.added_us) under the same load as bench/capture/proxy.sh is what
 * a proxy on one thread cannot go below; the difference to llmtrace-capture --listen is the
 * proxy's own cost.
 *
 * usage: capture-bench-fwd PORT_FILE UPSTREAM_PORT
 *   listens on 127.0.0.1 (kernel-chosen port, written to PORT_FILE), opens one upstream
 *   connection to 127.0.0.1:UPSTREAM_PORT per client connection; on SIGTERM prints
 *   "reads N p50_us P p99_us P p999_us P max_us M" for the upstream reads and exits. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES (16u << 20)

struct end {
    int fd;
    int up;            /* 1: the upstream side (its reads are measured) */
    struct end *peer;
};

static volatile sig_atomic_t stop;
static int64_t *samples;
static size_t n_samples;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static int64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int64_t pct(double p)
{
    if (!n_samples)
        return -1;
    size_t k = (size_t)(p * (double)(n_samples - 1));
    return samples[k];
}

/* The whole buffer goes out: a partial send (the client's buffers are full) finishes blocking,
 * which a real proxy would not do, but it only makes the floor higher, never lower. */
static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
            int fl = fcntl(fd, F_GETFL);
            fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
            continue;
        }
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static void close_pair(int ep, struct end *e)
{
    struct end *q = e->peer;
    epoll_ctl(ep, EPOLL_CTL_DEL, e->fd, NULL);
    epoll_ctl(ep, EPOLL_CTL_DEL, q->fd, NULL);
    close(e->fd);
    close(q->fd);
    e->fd = q->fd = -1;
    /* both ends stay allocated: an event for either may still be in this epoll batch */
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: capture-bench-fwd PORT_FILE UPSTREAM_PORT\n");
        return 2;
    }
    int up_port = atoi(argv[2]);
    samples = malloc(MAX_SAMPLES * sizeof *samples);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (!samples || ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 4096) ||
        getsockname(ls, (struct sockaddr *)&a, &al)) {
        perror("capture-bench-fwd: listen");
        return 1;
    }
    FILE *pf = fopen(argv[1], "w");
    if (!pf) {
        perror(argv[1]);
        return 1;
    }
    fprintf(pf, "%d\n", ntohs(a.sin_port));
    fclose(pf);
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    static char buf[65536];
    union {
        char b[CMSG_SPACE(sizeof(struct timespec))];
        struct cmsghdr align;
    } ctl;
    struct epoll_event evs[256];
    while (!stop) {
        int n = epoll_wait(ep, evs, 256, 200);
        for (int i = 0; i < n; i++) {
            struct end *e = evs[i].data.ptr;
            if (!e) {
                int c = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
                if (c < 0)
                    continue;
                int u = socket(AF_INET, SOCK_STREAM, 0);
                struct sockaddr_in ua = {.sin_family = AF_INET, .sin_port = htons((uint16_t)up_port),
                                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
                if (u < 0 || connect(u, (struct sockaddr *)&ua, sizeof ua)) {
                    close(c);
                    if (u >= 0)
                        close(u);
                    continue;
                }
                fcntl(u, F_SETFL, fcntl(u, F_GETFL) | O_NONBLOCK);
                setsockopt(u, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
                setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                struct end *ce = calloc(1, sizeof *ce), *ue = calloc(1, sizeof *ue);
                if (!ce || !ue)
                    return 1;
                *ce = (struct end){.fd = c, .up = 0, .peer = ue};
                *ue = (struct end){.fd = u, .up = 1, .peer = ce};
                struct epoll_event ce_ev = {.events = EPOLLIN, .data.ptr = ce};
                struct epoll_event ue_ev = {.events = EPOLLIN, .data.ptr = ue};
                epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce_ev);
                epoll_ctl(ep, EPOLL_CTL_ADD, u, &ue_ev);
                continue;
            }
            if (e->fd < 0)
                continue;
            struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
            struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
                               .msg_controllen = e->up ? sizeof ctl.b : 0};
            ssize_t k = recvmsg(e->fd, &m, MSG_DONTWAIT);
            if (k < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (k <= 0 || send_all(e->peer->fd, buf, (size_t)k)) {
                close_pair(ep, e);
                continue;
            }
            if (!e->up)
                continue;
            int64_t now = real_ns();
            for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
                if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS &&
                    n_samples < MAX_SAMPLES) {
                    struct timespec ts;
                    memcpy(&ts, CMSG_DATA(cm), sizeof ts);
                    samples[n_samples++] =
                        (now - ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec)) / 1000;
                }
        }
    }
    qsort(samples, n_samples, sizeof *samples, cmp64);
    printf("reads %zu p50_us %lld p99_us %lld p999_us %lld max_us %lld\n", n_samples,
           (long long)pct(.5), (long long)pct(.99), (long long)pct(.999),
           (long long)(n_samples ? samples[n_samples - 1] : -1));
    return 0;
}
