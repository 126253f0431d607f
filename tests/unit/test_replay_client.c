/* test_replay_client.c — the replay client (replay/client.h) end to end inside one process:
 * a canned HTTP/1.1 server thread on 127.0.0.1 answers each path with fixed bytes and fixed
 * pauses, a worker replays one request per path, and the records read back from the log must
 * carry the exact events, tokens, statuses and error kinds — including the kinds the simulator
 * cannot produce (truncated stream, error event inside the stream, non-streaming JSON). Also
 * the engine's result → error kind table. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "client.h"

static void test_error_kinds(void **state)
{
    (void)state;
    assert_int_equal(client_error_kind(HC_OK), TLOG_ERROR_NONE);
    assert_int_equal(client_error_kind(HC_E_CONNECT), TLOG_ERROR_CONNECT);
    assert_int_equal(client_error_kind(HC_E_CONNECT_TIMEOUT), TLOG_ERROR_CONNECT_TIMEOUT);
    assert_int_equal(client_error_kind(HC_E_TLS), TLOG_ERROR_TLS);
    assert_int_equal(client_error_kind(HC_E_RESET), TLOG_ERROR_RESET);
    assert_int_equal(client_error_kind(HC_E_STREAM_RESET), TLOG_ERROR_RESET);
    assert_int_equal(client_error_kind(HC_E_PROTOCOL), TLOG_ERROR_MALFORMED);
    assert_int_equal(client_error_kind(HC_E_CANCELLED), TLOG_ERROR_CANCELLED);
    assert_int_equal(client_error_kind(HC_E_NOMEM), TLOG_ERROR_OTHER);
    assert_string_equal(tlog_error_kind_name(client_error_kind(HC_E_RESET)), "reset");
}

/* ---- canned server ------------------------------------------------------------------------ */

#define EV(s) "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" s "\"}}]}\n\n"

struct canned {
    const char *path;
    const char *head;          /* status line + headers, without Content-Length */
    const char *parts[6];      /* body pieces, written 20 ms apart */
    int cut;                   /* announce more bytes than sent, then close */
};

static const struct canned canned[] = {
    {"/ok", "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n",
     {EV("a"), EV("bc"), EV("d"),
      "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3}}\n\n",
      "data: [DONE]\n\n", NULL}, 0},
    {"/truncated", "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n",
     {EV("a"), EV("b"), NULL}, 0},
    {"/stream-error", "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n",
     {EV("a"), "data: {\"error\":{\"message\":\"engine died\"}}\n\n", NULL}, 0},
    {"/json", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n",
     {"{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"hello\"},"
      "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":2}}",
      NULL}, 0},
    {"/status", "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n",
     {"{\"error\":{\"message\":\"slow down\"}}", NULL}, 0},
    {"/cut", "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n", {EV("a"), NULL}, 1},
};
#define N_CANNED (sizeof(canned) / sizeof(canned[0]))

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Serves requests on one connection until the client closes it. */
static void *conn_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char req[65536];
    size_t have = 0;
    for (;;) {
        char *end;
        while (!(end = memmem(req, have, "\r\n\r\n", 4))) {
            if (have == sizeof(req))
                goto done;
            ssize_t r = read(fd, req + have, sizeof(req) - have);
            if (r <= 0)
                goto done;
            have += (size_t)r;
        }
        size_t head_len = (size_t)(end - req) + 4;
        size_t clen = 0;
        const char *cl = memmem(req, head_len, "Content-Length: ", 16);
        if (cl)
            clen = strtoul(cl + 16, NULL, 10);
        while (have < head_len + clen) {
            ssize_t r = read(fd, req + have, sizeof(req) - have);
            if (r <= 0)
                goto done;
            have += (size_t)r;
        }
        const struct canned *c = NULL;
        for (size_t i = 0; i < N_CANNED; i++) {
            size_t pl = strlen(canned[i].path);
            if (!strncmp(req + 5, canned[i].path, pl) && req[5 + pl] == ' ')
                c = &canned[i];
        }
        if (!c)
            goto done;
        size_t body = 0;
        for (int i = 0; c->parts[i]; i++)
            body += strlen(c->parts[i]);
        char head[512];
        snprintf(head, sizeof(head), "%sContent-Length: %zu\r\n\r\n", c->head,
                 body + (c->cut ? 100 : 0));
        if (write_all(fd, head, strlen(head)))
            goto done;
        for (int i = 0; c->parts[i]; i++) {
            sleep_ms(20);
            if (write_all(fd, c->parts[i], strlen(c->parts[i])))
                goto done;
        }
        if (c->cut)
            goto done;
        memmove(req, req + head_len + clen, have - head_len - clen);
        have -= head_len + clen;
    }
done:
    close(fd);
    return NULL;
}

static void *server_main(void *arg)
{
    int ls = (int)(intptr_t)arg;
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0)
            return NULL;
        pthread_t t;
        pthread_create(&t, NULL, conn_main, (void *)(intptr_t)fd);
        pthread_detach(t);
    }
}

static int server_start(void)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(ls, 16), 0);
    assert_int_equal(getsockname(ls, (struct sockaddr *)&a, &al), 0);
    pthread_t t;
    pthread_create(&t, NULL, server_main, (void *)(intptr_t)ls);
    pthread_detach(t);
    return ntohs(a.sin_port);
}

/* ---- the replay ---------------------------------------------------------------------------- */

static void test_canned_responses(void **state)
{
    (void)state;
    int port = server_start();
    struct replay_input in = {0};
    in.n = N_CANNED;
    in.reqs = calloc(N_CANNED, sizeof(*in.reqs));
    int64_t offsets[N_CANNED] = {0};
    for (size_t i = 0; i < N_CANNED; i++) {
        struct replay_req *r = &in.reqs[i];
        r->of = (char *)canned[i].path;
        r->method = "POST";
        r->path = (char *)canned[i].path;
        r->body = "{\"model\":\"m\"}";
        r->body_len = strlen(r->body);
        r->dialect = DIALECT_OPENAI_CHAT;
        r->stream = strcmp(canned[i].path, "/json") ? 1 : 0;
        r->tokens_out = -1;
    }
    char path[] = "/tmp/test_replay_client.XXXXXX";
    int tfd = mkstemp(path);
    assert_true(tfd >= 0);
    close(tfd);
    char err[256];
    struct tlog_writer_opts wo = {0};
    struct client_out out;
    memset(&out, 0, sizeof(out));
    pthread_mutex_init(&out.mu, NULL);
    out.w = tlog_writer_open(path, &wo, err, sizeof(err));
    assert_non_null(out.w);
    struct tlog_header h = {.schema = TLOG_SCHEMA_VERSION, .tool = "test", .version = "0"};
    assert_int_equal(tlog_writer_header(out.w, &h), 0);

    assert_int_equal(client_global_init(), 0);
    char base[64];
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
    atomic_int stop = 0;
    struct client_cfg cfg = {0};
    cfg.in = &in;
    cfg.offsets = offsets;
    cfg.base_url = base;
    cfg.target = base;
    cfg.host = "127.0.0.1";
    assert_int_equal(client_cfg_add_header(&cfg, "Content-Type: application/json"), 0);
    cfg.timeout_us = 10000000;
    cfg.connect_timeout_us = 2000000;
    cfg.idle_timeout_us = 2000000;
    cfg.keep_text = 1;
    cfg.mode = "concurrency";
    cfg.id_prefix = "t";
    cfg.out = &out;
    cfg.stop = &stop;
    clock_map_init(&cfg.cmap);

    struct client_phase ph;
    memset(&ph, 0, sizeof(ph));
    ph.kind = PHASE_CLOSED;
    ph.concurrency = 2;
    ph.has_stage = 1;
    ph.stage = 2;
    ph.shard_k = ph.shard_n = 1;
    struct client_worker w;
    assert_int_equal(client_worker_init(&w, 0, 1, &cfg), 0);
    w.ph = &ph;
    client_worker_run(&w);
    assert_int_equal(w.fatal, 0);
    assert_int_equal(atomic_load(&w.st.sent), N_CANNED);
    assert_int_equal(atomic_load(&w.st.done), N_CANNED);
    assert_int_equal(atomic_load(&w.st.errors), 4);
    assert_int_equal(w.inflight, 0);
    client_worker_free(&w);
    assert_int_equal(tlog_writer_close(out.w, NULL), 0);
    client_cfg_free_headers(&cfg);

    struct tlog_reader_opts ro = {0};
    struct tlog_reader *rd = tlog_reader_open(path, &ro, err, sizeof(err));
    assert_non_null(rd);
    struct tlog_record rec;
    tlog_record_init(&rec);
    int seen = 0;
    while (tlog_read(rd, &rec) == 1) {
        if (rec.type != TLOG_REC_EXCHANGE)
            continue;
        struct tlog_exchange *x = &rec.x;
        seen++;
        assert_true(x->replay.present);
        assert_int_equal(x->replay.stage, 2);
        assert_string_equal(x->replay.mode, "concurrency");
        assert_true(x->resp.ttfb_us >= 0 && x->resp.ttfb_us <= x->resp.end_us);
        assert_true(!strncmp(x->id, "t-", 2));
        const char *of = x->replay.of;
        if (!strcmp(of, "/ok")) {
            assert_int_equal(x->error_kind, TLOG_ERROR_NONE);
            assert_int_equal(x->resp.status, 200);
            assert_int_equal(x->resp.n_events, 5);
            assert_string_equal(x->resp.text, "abcd");
            assert_int_equal(x->tokens_out, 3);
            assert_int_equal(x->tokens_source, TLOG_TOKENS_USAGE);
            /* Parts were written 20 ms apart: each event arrives at least ~15 ms later. */
            for (size_t i = 1; i < x->resp.n_events; i++)
                assert_true(x->resp.events[i].offset_us - x->resp.events[i - 1].offset_us >
                            15000);
            assert_int_equal(x->resp.events[0].is_content, 1);
            assert_int_equal(x->resp.events[3].is_content, 0);
        } else if (!strcmp(of, "/truncated")) {
            assert_int_equal(x->error_kind, TLOG_ERROR_TRUNCATED);
            assert_int_equal(x->resp.n_events, 2);
        } else if (!strcmp(of, "/stream-error")) {
            assert_int_equal(x->error_kind, TLOG_ERROR_STREAM_ERROR);
            assert_string_equal(x->error_message, "engine died");
        } else if (!strcmp(of, "/json")) {
            assert_int_equal(x->error_kind, TLOG_ERROR_NONE);
            assert_int_equal(x->resp.n_events, 1);
            assert_string_equal(x->resp.text, "hello");
            assert_int_equal(x->tokens_out, 2);
        } else if (!strcmp(of, "/status")) {
            assert_int_equal(x->error_kind, TLOG_ERROR_HTTP_STATUS);
            assert_int_equal(x->resp.status, 429);
            assert_string_equal(x->error_message, "slow down");
        } else if (!strcmp(of, "/cut")) {
            assert_int_equal(x->error_kind, TLOG_ERROR_RESET);
            assert_int_equal(x->resp.n_events, 1);
        } else {
            fail_msg("unexpected record %s", of);
        }
    }
    assert_int_equal(seen, N_CANNED);
    tlog_record_free(&rec);
    tlog_reader_close(rd);
    unlink(path);
    free(in.reqs);
    pthread_mutex_destroy(&out.mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_kinds),
        cmocka_unit_test(test_canned_responses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
