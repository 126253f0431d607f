/* test_replay_scrape.c — replay's --scrape thread (replay/scrape.h) against a canned /metrics
 * server on 127.0.0.1 that counts its scrapes: samples become "metrics" records with exact
 * names, labels, values and kinds; histogram buckets are left out unless asked for; NaN is
 * null with value_str; a 500 and an unreachable URL are failure records, and the thread keeps
 * going. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "scrape.h"

static const char exposition[] =
    "# TYPE vllm:num_requests_running gauge\n"
    "vllm:num_requests_running{model_name=\"m\"} 7\n"
    "# TYPE vllm:e2e_request_latency_seconds histogram\n"
    "vllm:e2e_request_latency_seconds_bucket{le=\"1.0\"} 3\n"
    "vllm:e2e_request_latency_seconds_count 3\n"
    "odd NaN\n"
    "bad line here\n";

static atomic_int served;
static int fail_status;

static void *srv_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[8192];
    size_t have = 0;
    for (;;) {
        ssize_t r = read(fd, buf + have, sizeof buf - have);
        if (r <= 0)
            break;
        have += (size_t)r;
        char *e;
        while ((e = memmem(buf, have, "\r\n\r\n", 4))) {
            size_t n = (size_t)(e - buf) + 4;
            char resp[2048];
            int k = fail_status
                        ? snprintf(resp, sizeof resp, "HTTP/1.1 %d Oops\r\nContent-Length: 0\r\n\r\n",
                                   fail_status)
                        : snprintf(resp, sizeof resp,
                                   "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                   "Content-Length: %zu\r\n\r\n%s",
                                   strlen(exposition), exposition);
            if (write(fd, resp, (size_t)k) != k)
                goto out;
            atomic_fetch_add(&served, 1);
            memmove(buf, buf + n, have - n);
            have -= n;
        }
    }
out:
    close(fd);
    return NULL;
}

static void *srv_main(void *arg)
{
    int ls = (int)(intptr_t)arg;
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0)
            return NULL;
        pthread_t t;
        pthread_create(&t, NULL, srv_conn, (void *)(intptr_t)fd);
        pthread_detach(t);
    }
}

static int srv_start(int *ls_out)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(ls, 16), 0);
    assert_int_equal(getsockname(ls, (struct sockaddr *)&a, &al), 0);
    pthread_t t;
    pthread_create(&t, NULL, srv_main, (void *)(intptr_t)ls);
    pthread_detach(t);
    *ls_out = ls;
    return ntohs(a.sin_port);
}

/* Runs a scrape of url for ms, returns the log's metrics lines (caller frees). */
static char *scrape_for(const char *url, int ms, int all, struct scrape_stats *st, int *n_lines)
{
    char path[] = "/tmp/test_scrape.XXXXXX";
    int tfd = mkstemp(path);
    assert_true(tfd >= 0);
    close(tfd);
    char err[256];
    struct tlog_writer_opts wo = {0};
    struct client_out out;
    memset(&out, 0, sizeof out);
    pthread_mutex_init(&out.mu, NULL);
    out.w = tlog_writer_open(path, &wo, err, sizeof err);
    assert_non_null(out.w);
    struct tlog_header h = {.schema = TLOG_SCHEMA_VERSION, .tool = "test", .version = "0"};
    assert_int_equal(tlog_writer_header(out.w, &h), 0);
    struct clock_map cm;
    clock_map_init(&cm);
    struct scrape s;
    struct scrape_cfg cfg = {.url = url, .interval_us = 100000, .all = all, .cmap = &cm,
                             .out = &out};
    assert_int_equal(scrape_start(&s, &cfg), 0);
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    scrape_stop(&s);
    *st = s.st;
    assert_int_equal(tlog_writer_close(out.w, NULL), 0);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "zcat %s | grep '\"type\":\"metrics\"'", path);
    FILE *p = popen(cmd, "r");
    struct buf b;
    buf_init(&b, 1 << 24);
    char line[4096];
    *n_lines = 0;
    while (fgets(line, sizeof line, p)) {
        buf_append_str(&b, line);
        (*n_lines)++;
    }
    pclose(p);
    unlink(path);
    pthread_mutex_destroy(&out.mu);
    return buf_steal(&b);
}

static void test_samples(void **state)
{
    (void)state;
    int ls;
    int port = srv_start(&ls);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", port);
    struct scrape_stats st;
    int n;
    atomic_store(&served, 0);
    char *txt = scrape_for(url, 350, 0, &st, &n);
    /* a scrape at start, one per 100 ms, one at stop: 4 or 5 */
    assert_true(st.scrapes >= 4 && st.scrapes <= 6);
    assert_int_equal(st.scrapes, (uint64_t)atomic_load(&served));
    assert_int_equal(st.failures, 0);
    assert_int_equal(st.samples, st.scrapes * 3); /* running, _count, odd (bucket left out) */
    assert_int_equal(st.skipped, st.scrapes);
    assert_int_equal(st.bad_lines, st.scrapes);
    assert_int_equal((uint64_t)n, st.samples);
    assert_non_null(strstr(txt, "\"name\":\"vllm:num_requests_running\",\"labels\":{\"model_name\":\"m\"},\"value\":7,\"kind\":\"gauge\"}"));
    assert_non_null(strstr(txt, "\"name\":\"vllm:e2e_request_latency_seconds_count\",\"labels\":{},\"value\":3,\"kind\":\"histogram\"}"));
    assert_non_null(strstr(txt, "\"name\":\"odd\",\"labels\":{},\"value\":null,\"value_str\":\"NaN\",\"kind\":\"untyped\"}"));
    assert_null(strstr(txt, "_bucket"));
    free(txt);

    txt = scrape_for(url, 150, 1, &st, &n); /* --scrape-all keeps buckets */
    assert_non_null(strstr(txt, "\"name\":\"vllm:e2e_request_latency_seconds_bucket\",\"labels\":{\"le\":\"1.0\"},\"value\":3"));
    assert_int_equal(st.skipped, 0);
    free(txt);

    fail_status = 500;
    txt = scrape_for(url, 150, 0, &st, &n);
    fail_status = 0;
    assert_true(st.failures >= 2);
    assert_int_equal(st.samples, 0);
    assert_non_null(strstr(txt, "\"error\":{\"kind\":\"scrape\",\"message\":\"HTTP status 500\"}"));
    free(txt);
    close(ls);
}

static void test_unreachable(void **state)
{
    (void)state;
    int ls;
    int port = srv_start(&ls);
    close(ls); /* nothing listens there */
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", port);
    struct scrape_stats st;
    int n;
    char *txt = scrape_for(url, 250, 0, &st, &n);
    assert_true(st.failures >= 2); /* at start, each 100 ms, at stop: fewer on a loaded machine */
    assert_int_equal(st.failures, st.scrapes);
    assert_int_equal((uint64_t)n, st.failures);
    assert_non_null(strstr(txt, "Connection refused"));
    assert_non_null(strstr(st.first_error, "Connection refused"));
    free(txt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_samples),
        cmocka_unit_test(test_unreachable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
