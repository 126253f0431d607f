/* test_capture_golden.c — golden captures: the suite writes each pcap itself (pcap_open_dead +
 * pcap_dump of frames built by capture/gen.c), reads it back through pcap_open_offline into
 * the capture engine, and checks every record against expectations computed by hand from the
 * packet times (T = 1700000000 s; offsets in µs). With CAPTURE_FIXTURE_OUT=DIR it also writes
 * DIR/NAME.pcap and DIR/NAME.expect.json, the data of the e2e test capture_golden.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <pcap/pcap.h>
#include <zlib.h>

#include "engine.h"
#include "gen.h"
#include "sha256.h"

#define T0 1700000000000000LL

static char tmpdir[256];

/* ---- pcap writing ------------------------------------------------------------------------ */

struct pw {
    pcap_t *dead;
    pcap_dumper_t *d;
    struct gen_frame_opts fo;
    long offsets[256];           /* file offset after each frame */
    int n;
};

static void pw_open(struct pw *w, const char *path, int dlt, int vlans, int v6ext)
{
    memset(w, 0, sizeof *w);
    w->fo.dlt = dlt;
    w->fo.vlans = vlans;
    w->fo.ipv6_ext = v6ext;
    w->dead = pcap_open_dead(dlt, 262144);
    assert_non_null(w->dead);
    w->d = pcap_dump_open(w->dead, path);
    assert_non_null(w->d);
}

static void pw_frame(struct pw *w, int64_t ts, const struct gen_ep *src, const struct gen_ep *dst,
                     uint32_t seq, uint32_t ack, uint8_t flags, const void *p, size_t len)
{
    static uint8_t fr[70000];
    size_t n = gen_frame(&w->fo, src, dst, seq, ack, flags, p, len, fr, sizeof fr);
    assert_true(n > 0);
    struct pcap_pkthdr h;
    h.ts.tv_sec = (time_t)(ts / 1000000);
    h.ts.tv_usec = (suseconds_t)(ts % 1000000);
    h.caplen = h.len = (bpf_u_int32)n;
    pcap_dump((u_char *)w->d, &h, fr);
    pcap_dump_flush(w->d);
    assert_true(w->n < 256);
    w->offsets[w->n++] = pcap_dump_ftell(w->d);
}

static void pw_close(struct pw *w)
{
    pcap_dump_close(w->d);
    pcap_close(w->dead);
}

/* A TCP connection being scripted: sequence numbers relative to ISNs 1000 and 5000. */
struct tc {
    struct pw *w;
    struct gen_ep c, s;
    uint32_t cseq, sseq;         /* next byte each side sends */
};

static void tc_init(struct tc *t, struct pw *w, const char *caddr, const char *saddr,
                    uint16_t cport)
{
    t->w = w;
    assert_int_equal(gen_ep_set(&t->c, caddr, cport), 0);
    assert_int_equal(gen_ep_set(&t->s, saddr, 8000), 0);
    t->cseq = 1001;
    t->sseq = 5001;
}

static void tc_handshake(struct tc *t, int64_t ts)
{
    pw_frame(t->w, ts, &t->c, &t->s, 1000, 0, PKT_TCP_SYN, NULL, 0);
    pw_frame(t->w, ts + 50, &t->s, &t->c, 5000, 1001, PKT_TCP_SYN | PKT_TCP_ACK, NULL, 0);
    pw_frame(t->w, ts + 100, &t->c, &t->s, 1001, 5001, PKT_TCP_ACK, NULL, 0);
}

static void tc_c(struct tc *t, int64_t ts, const char *s)
{
    size_t n = strlen(s);
    pw_frame(t->w, ts, &t->c, &t->s, t->cseq, t->sseq, PKT_TCP_ACK | PKT_TCP_PSH, s, n);
    t->cseq += (uint32_t)n;
}

static void tc_s_raw(struct tc *t, int64_t ts, uint32_t seq, const void *p, size_t n)
{
    pw_frame(t->w, ts, &t->s, &t->c, seq, t->cseq, PKT_TCP_ACK | PKT_TCP_PSH, p, n);
}

static void tc_s(struct tc *t, int64_t ts, const char *s)
{
    size_t n = strlen(s);
    tc_s_raw(t, ts, t->sseq, s, n);
    t->sseq += (uint32_t)n;
}

static void tc_close(struct tc *t, int64_t ts)
{
    pw_frame(t->w, ts, &t->s, &t->c, t->sseq, t->cseq, PKT_TCP_FIN | PKT_TCP_ACK, NULL, 0);
    pw_frame(t->w, ts + 50, &t->c, &t->s, t->cseq, t->sseq + 1, PKT_TCP_FIN | PKT_TCP_ACK, NULL, 0);
    pw_frame(t->w, ts + 100, &t->s, &t->c, t->sseq + 1, t->cseq + 1, PKT_TCP_ACK, NULL, 0);
}

/* The server resets the connection (no FIN before it). */
static void tc_rst(struct tc *t, int64_t ts)
{
    pw_frame(t->w, ts, &t->s, &t->c, t->sseq, t->cseq, PKT_TCP_RST | PKT_TCP_ACK, NULL, 0);
}

/* The server closes its side (FIN) and the client acknowledges it 50 µs later; the client's
 * side stays open, as after a keep-alive response the server decided to be the last. */
static void tc_server_fin(struct tc *t, int64_t ts)
{
    pw_frame(t->w, ts, &t->s, &t->c, t->sseq, t->cseq, PKT_TCP_FIN | PKT_TCP_ACK, NULL, 0);
    t->sseq++;
    pw_frame(t->w, ts + 50, &t->c, &t->s, t->cseq, t->sseq, PKT_TCP_ACK, NULL, 0);
}

/* ---- HTTP text ----------------------------------------------------------------------------- */

#define EV_ROLE "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n"
#define EV(x) "data: {\"choices\":[{\"delta\":{\"content\":\"" x "\"}}]}\n\n"
#define EV_DONE "data: [DONE]\n\n"
#define CHAT_BODY "{\"model\":\"m1\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
#define SSE_HEAD_CHUNKED \
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"

static const char *chat_request(char *out, size_t n, const char *path, const char *body)
{
    snprintf(out, n,
             "POST %s HTTP/1.1\r\nHost: api.local:8000\r\nAuthorization: Bearer sk-secret\r\n"
             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             path, strlen(body), body);
    return out;
}

static const char *chunk(char *out, size_t n, const char *data)
{
    snprintf(out, n, "%zx\r\n%s\r\n", strlen(data), data);
    return out;
}

static const char *sse_cl_head(char *out, size_t n, size_t body_len)
{
    snprintf(out, n, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: %zu\r\n\r\n",
             body_len);
    return out;
}

/* ---- running and checking ---------------------------------------------------------------- */

struct sink {
    cJSON *recs;                 /* array of exchange objects as written */
    int no_bodies;
};

static int sink_emit(void *user, const struct tlog_exchange *x)
{
    struct sink *s = user;
    struct buf b;
    buf_init(&b, 1u << 24);
    struct tlog_write_opts o = {0, s->no_bodies};
    assert_int_equal(tlog_exchange_to_line(x, &o, &b), 0);
    cJSON *j = cJSON_Parse(b.p);
    assert_non_null(j);
    cJSON_AddItemToArray(s->recs, j);
    buf_free(&b);
    return 0;
}

/* Reads path through libpcap into the engine; returns the records (caller frees). */
static cJSON *run_pcap(const char *path, const struct capture_opts *o, struct capture_stats *st,
                       int *file_error)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(path, err);
    assert_non_null(p);
    struct sink s = {cJSON_CreateArray(), o ? o->no_bodies : 0};
    struct capture_engine *e = capture_engine_new(o, sink_emit, &s);
    assert_non_null(e);
    struct pcap_pkthdr *h;
    const u_char *data;
    int rc;
    int64_t last = 0;
    while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
        last = (int64_t)h->ts.tv_sec * 1000000 + h->ts.tv_usec;
        capture_engine_packet(e, pcap_datalink(p), data, h->caplen, last);
    }
    if (file_error)
        *file_error = rc == PCAP_ERROR;
    capture_engine_finish(e, last);
    if (st)
        *st = *capture_engine_stats(e);
    capture_engine_free(e);
    pcap_close(p);
    return s.recs;
}

/* Every key of want is in got with an equal value (objects recursively; arrays and scalars
 * exactly). want's "absent" lists keys got must not have (keys_absent), so it is skipped. */
static int json_subset(const cJSON *want, const cJSON *got, char *where, size_t wn)
{
    if (cJSON_IsObject(want)) {
        if (!cJSON_IsObject(got))
            return 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, want) {
            if (!strcmp(it->string, "absent"))
                continue;
            const cJSON *g = cJSON_GetObjectItemCaseSensitive(got, it->string);
            if (!g || !json_subset(it, g, where, wn)) {
                size_t l = strlen(where);
                snprintf(where + l, wn - l, " <- %s", it->string);
                return 0;
            }
        }
        return 1;
    }
    return cJSON_Compare(want, got, 1);
}

/* Keys want says got must not have: the ones listed in want's "absent", and resent_as unless
 * want has it (no fixture may link a transport re-send it does not expect). */
static int keys_absent(const cJSON *want, const cJSON *got, char *where, size_t wn)
{
    const cJSON *abs = cJSON_GetObjectItemCaseSensitive(want, "absent");
    const cJSON *k;
    cJSON_ArrayForEach(k, abs) {
        if (cJSON_IsString(k) && cJSON_GetObjectItemCaseSensitive(got, k->valuestring)) {
            snprintf(where, wn, " %s (expected absent)", k->valuestring);
            return 0;
        }
    }
    if (!cJSON_GetObjectItemCaseSensitive(want, "resent_as") &&
        cJSON_GetObjectItemCaseSensitive(got, "resent_as")) {
        snprintf(where, wn, " resent_as (expected absent)");
        return 0;
    }
    return 1;
}

/* Runs a scenario's pcap and checks the records against the expected JSON array; fixture: also
 * write it to CAPTURE_FIXTURE_OUT when set (0 for options the command line cannot give). */
static void check_records_fx(const char *name, const char *path, const char *expect_json,
                             const struct capture_opts *o, int fixture)
{
    cJSON *want = cJSON_Parse(expect_json);
    if (!want)
        fail_msg("%s: expected JSON does not parse near: %.40s", name, cJSON_GetErrorPtr());
    cJSON *got = run_pcap(path, o, NULL, NULL);
    char *gs = cJSON_PrintUnformatted(got);
    if (cJSON_GetArraySize(want) != cJSON_GetArraySize(got))
        fail_msg("%s: %d records expected, got %d: %s", name, cJSON_GetArraySize(want),
                 cJSON_GetArraySize(got), gs);
    for (int i = 0; i < cJSON_GetArraySize(want); i++) {
        char where[256] = "";
        if (!keys_absent(cJSON_GetArrayItem(want, i), cJSON_GetArrayItem(got, i), where,
                         sizeof where)) {
            char *g1 = cJSON_PrintUnformatted(cJSON_GetArrayItem(got, i));
            fail_msg("%s: record %d has%s\n got: %s", name, i, where, g1);
        }
        if (!json_subset(cJSON_GetArrayItem(want, i), cJSON_GetArrayItem(got, i), where,
                         sizeof where)) {
            char *g1 = cJSON_PrintUnformatted(cJSON_GetArrayItem(got, i));
            fail_msg("%s: record %d differs at%s\n got: %s", name, i, where, g1);
        }
    }
    const char *fx = getenv("CAPTURE_FIXTURE_OUT");
    if (fixture && fx && *fx) {
        char dst[512], cmd[1200];
        snprintf(cmd, sizeof cmd, "cp '%s' '%s/%s.pcap'", path, fx, name); /* pcapng too */
        assert_int_equal(system(cmd), 0);
        snprintf(dst, sizeof dst, "%s/%s.expect.json", fx, name);
        FILE *f = fopen(dst, "w");
        assert_non_null(f);
        char *pretty = cJSON_Print(want);
        fprintf(f, "%s\n", pretty);
        free(pretty);
        fclose(f);
    }
    free(gs);
    cJSON_Delete(want);
    cJSON_Delete(got);
}

static void check_records(const char *name, const char *path, const char *expect_json,
                          const struct capture_opts *o)
{
    check_records_fx(name, path, expect_json, o, 1);
}

static const char *tpath(const char *name)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/%s.pcap", tmpdir, name);
    return p;
}

/* ---- scenarios --------------------------------------------------------------------------- */

/* One streamed chat exchange, chunked, one event per packet. Also the base of the truncated
 * and privacy cases. Returns the file offset after the "Hel" packet. */
static long write_one_end_offset;  /* file offset after the packet ending the response */

static long write_one(const char *path)
{
    struct pw w;
    struct tc t;
    char req[1024], ck[512];
    pw_open(&w, path, PKT_DLT_EN10MB, 0, 0);
    tc_init(&t, &w, "10.0.0.1", "10.0.0.2", 40001);
    tc_handshake(&t, T0);
    tc_c(&t, T0 + 1000, chat_request(req, sizeof req, "/v1/chat/completions", CHAT_BODY));
    tc_s(&t, T0 + 5000, SSE_HEAD_CHUNKED);
    tc_s(&t, T0 + 6000, chunk(ck, sizeof ck, EV_ROLE));
    tc_s(&t, T0 + 7000, chunk(ck, sizeof ck, EV("Hel")));
    long cut = w.offsets[w.n - 1];
    tc_s(&t, T0 + 8500, chunk(ck, sizeof ck, EV("lo")));
    tc_s(&t, T0 + 9000, chunk(ck, sizeof ck, EV_DONE));
    tc_s(&t, T0 + 9000, "0\r\n\r\n");
    write_one_end_offset = w.offsets[w.n - 1];
    tc_close(&t, T0 + 9100);
    pw_close(&w);
    return cut;
}

static const char *one_expect =
    "[{\"id\":\"1.1\",\"start_us\":1700000000001000,\"conn\":\"10.0.0.1:40001>10.0.0.2:8000\","
    "\"conn_new\":true,\"connect_us\":100,\"dialect\":\"openai-chat\",\"model\":\"m1\",\"stream\":true,"
    "\"request\":{\"method\":\"POST\",\"path\":\"/v1/chat/completions\",\"host\":\"api.local:8000\","
    "\"headers\":[[\"Host\",\"api.local:8000\"],[\"Authorization\",\"<redacted>\"],"
    "[\"Content-Type\",\"application/json\"],[\"Content-Length\",\"72\"]],"
    "\"body\":" CHAT_BODY ",\"body_bytes\":72,\"body_sha256\":null},"
    "\"response\":{\"status\":200,\"ttfb_us\":4000,\"end_us\":8000,"
    "\"events\":[[5000,0,0],[6000,0,1],[7500,0,1],[8000,0,0]],\"text\":\"Hello\"},"
    "\"tokens_out\":2,\"tokens_source\":\"events\",\"error\":null}]";

static void test_one_exchange(void **state)
{
    (void)state;
    write_one(tpath("one"));
    check_records("one", tpath("one"), one_expect, NULL);
}

/* The same capture cut inside the record after "Hel": libpcap reports a truncated file; what
 * was read is kept and the exchange it cut is recorded incomplete. */
static void test_truncated_file(void **state)
{
    (void)state;
    long cut = write_one(tpath("truncated_src"));
    FILE *f = fopen(tpath("truncated_src"), "rb");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_true((size_t)cut + 10 < n);
    f = fopen(tpath("truncated"), "wb");
    fwrite(buf, 1, (size_t)cut + 10, f);
    fclose(f);
    int file_error = 0;
    cJSON *got = run_pcap(tpath("truncated"), NULL, NULL, &file_error);
    assert_int_equal(file_error, 1);
    cJSON_Delete(got);
    check_records("truncated", tpath("truncated"),
                  "[{\"start_us\":1700000000001000,\"response\":{\"status\":200,\"ttfb_us\":4000,"
                  "\"end_us\":6000,\"events\":[[5000,0,0],[6000,0,1]],\"text\":\"Hel\"},"
                  "\"tokens_out\":1,\"error\":{\"kind\":\"incomplete\","
                  "\"message\":\"capture ended mid-exchange\"}}]",
                  NULL);
}

/* The "one" capture cut at every byte: never a crash; at most the one exchange, complete only
 * when the cut is past its last response packet, otherwise recorded incomplete (or not at all
 * when the cut falls before the request is whole). */
static void test_truncated_every_offset(void **state)
{
    (void)state;
    write_one(tpath("cuts"));
    FILE *f = fopen(tpath("cuts"), "rb");
    assert_non_null(f);
    static char img[1 << 16];
    size_t n = fread(img, 1, sizeof img, f);
    fclose(f);
    int complete = 0, incomplete = 0;
    for (size_t cut = 24; cut <= n; cut++) {
        FILE *m = fmemopen(img, cut, "rb");
        assert_non_null(m);
        char err[PCAP_ERRBUF_SIZE];
        pcap_t *p = pcap_fopen_offline(m, err);
        assert_non_null(p);
        struct sink s = {cJSON_CreateArray(), 0};
        struct capture_engine *e = capture_engine_new(NULL, sink_emit, &s);
        struct pcap_pkthdr *h;
        const u_char *data;
        int64_t last = 0;
        while (pcap_next_ex(p, &h, &data) == 1) {
            last = (int64_t)h->ts.tv_sec * 1000000 + h->ts.tv_usec;
            capture_engine_packet(e, pcap_datalink(p), data, h->caplen, last);
        }
        capture_engine_finish(e, last);
        capture_engine_free(e);
        pcap_close(p);
        assert_true(cJSON_GetArraySize(s.recs) <= 1);
        if (cJSON_GetArraySize(s.recs) == 1) {
            const cJSON *er = cJSON_GetObjectItem(cJSON_GetArrayItem(s.recs, 0), "error");
            if (cJSON_IsNull(er)) {
                complete++;
            } else {
                assert_string_equal(cJSON_GetObjectItem(er, "kind")->valuestring, "incomplete");
                incomplete++;
            }
        }
        cJSON_Delete(s.recs);
    }
    /* complete from the packet carrying "0\r\n\r\n" on: it and the 3 closing frames follow */
    assert_true(complete >= 1 && incomplete >= 1);
    assert_int_equal(complete, (int)(n - (size_t)write_one_end_offset) + 1);
}

static void test_privacy(void **state)
{
    (void)state;
    write_one(tpath("privacy"));
    struct capture_opts o = {0};
    o.no_bodies = 1;
    o.hash_prompts = 1;
    /* the digest of the body as sent, by the FIPS-tested implementation */
    struct sha256 s;
    char hex[65], want[1024];
    sha256_init(&s);
    sha256_update(&s, CHAT_BODY, strlen(CHAT_BODY));
    sha256_final_hex(&s, hex);
    snprintf(want, sizeof want,
             "[{\"request\":{\"body\":null,\"body_bytes\":72,\"body_sha256\":\"%s\"},"
             "\"response\":{\"text\":null,\"events\":[[5000,0,0],[6000,0,1],[7500,0,1],"
             "[8000,0,0]]},\"tokens_out\":2}]",
             hex);
    check_records("privacy", tpath("privacy"), want, &o);
}

/* Keep-alive: three exchanges on one connection — gzip'd whole-JSON completion, an SSE stream
 * framed by Content-Length, and a 429 error. */
static void test_keepalive_three(void **state)
{
    (void)state;
    struct pw w;
    struct tc t;
    char req[1024], head[512];
    pw_open(&w, tpath("keepalive"), PKT_DLT_EN10MB, 0, 0);
    tc_init(&t, &w, "10.0.0.1", "10.0.0.2", 40002);
    tc_handshake(&t, T0);
    /* 1: non-streaming completion, gzip body split over two packets */
    const char *json = "{\"choices\":[{\"text\":\"ok\",\"finish_reason\":\"stop\"}],"
                       "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}";
    uint8_t gz[512];
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (Bytef *)(uintptr_t)json;
    z.avail_in = (uInt)strlen(json);
    z.next_out = gz;
    z.avail_out = sizeof gz;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t gzlen = sizeof gz - z.avail_out;
    deflateEnd(&z);
    tc_c(&t, T0 + 1000, chat_request(req, sizeof req, "/v1/completions",
                                     "{\"model\":\"m2\",\"prompt\":\"x\",\"stream\":false}"));
    snprintf(head, sizeof head,
             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
             "Content-Length: %zu\r\n\r\n", gzlen);
    tc_s(&t, T0 + 3000, head);
    tc_s_raw(&t, T0 + 4000, t.sseq, gz, 10);
    t.sseq += 10;
    tc_s_raw(&t, T0 + 4500, t.sseq, gz + 10, gzlen - 10);
    t.sseq += (uint32_t)(gzlen - 10);
    /* 2: SSE with Content-Length framing */
    tc_c(&t, T0 + 10000, chat_request(req, sizeof req, "/v1/chat/completions", CHAT_BODY));
    const char *body2 = EV("a") EV("b") EV_DONE;
    tc_s(&t, T0 + 12000, sse_cl_head(head, sizeof head, strlen(body2)));
    tc_s(&t, T0 + 13000, EV("a"));
    tc_s(&t, T0 + 14000, EV("b") EV_DONE);
    /* 3: rate limited */
    tc_c(&t, T0 + 20000, chat_request(req, sizeof req, "/v1/chat/completions", CHAT_BODY));
    const char *err = "{\"error\":{\"message\":\"slow down\",\"type\":\"rate_limit\"}}";
    snprintf(head, sizeof head,
             "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n\r\n%s", strlen(err), err);
    tc_s(&t, T0 + 21000, head);
    tc_close(&t, T0 + 30000);
    pw_close(&w);
    check_records(
        "keepalive", tpath("keepalive"),
        "[{\"id\":\"1.1\",\"start_us\":1700000000001000,\"conn_new\":true,\"connect_us\":100,"
        "\"dialect\":\"openai-completions\",\"model\":\"m2\",\"stream\":false,\"request\":{\"path\":\"/v1/completions\"},"
        "\"response\":{\"status\":200,\"ttfb_us\":2000,\"end_us\":3500,"
        "\"events\":[[3500,0,1]],\"text\":\"ok\",\"finish_reason\":\"stop\"},"
        "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1},\"tokens_in\":3,\"tokens_out\":1,"
        "\"tokens_source\":\"usage\",\"error\":null},"
        "{\"id\":\"1.2\",\"start_us\":1700000000010000,\"conn_new\":false,\"connect_us\":null,"
        "\"response\":{\"status\":200,\"ttfb_us\":2000,\"end_us\":4000,\"events\":[[3000,0,1],[4000,0,1],[4000,0,0]],"
        "\"text\":\"ab\"},\"tokens_out\":2,\"error\":null},"
        "{\"id\":\"1.3\",\"start_us\":1700000000020000,\"conn_new\":false,"
        "\"response\":{\"status\":429,"
        "\"ttfb_us\":1000,\"end_us\":1000},\"error\":{\"kind\":\"http_status\","
        "\"message\":\"slow down\"}}]",
        NULL);
}

/* Pipelining: three requests in one packet (the middle one filtered out by the default path
 * filter); responses back to back, the second and third heads sharing packets with the
 * previous bodies. */
static void test_pipelining(void **state)
{
    (void)state;
    struct pw w;
    struct tc t;
    char r1[1024], r3[1024], all[3072], head[256], pkt[1024];
    pw_open(&w, tpath("pipeline"), PKT_DLT_EN10MB, 0, 0);
    tc_init(&t, &w, "10.0.0.1", "10.0.0.2", 40003);
    tc_handshake(&t, T0);
    chat_request(r1, sizeof r1, "/v1/chat/completions", CHAT_BODY);
    chat_request(r3, sizeof r3, "/v1/completions", "{\"model\":\"m3\",\"prompt\":\"p\",\"stream\":true}");
    snprintf(all, sizeof all, "%sGET /health HTTP/1.1\r\nHost: api.local\r\n\r\n%s", r1, r3);
    tc_c(&t, T0 + 1000, all);
    const char *b1 = EV("x") EV_DONE;
    sse_cl_head(head, sizeof head, strlen(b1));
    snprintf(pkt, sizeof pkt, "%s%s", head, EV("x"));
    tc_s(&t, T0 + 3000, pkt);
    snprintf(pkt, sizeof pkt, "%sHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", EV_DONE);
    tc_s(&t, T0 + 4000, pkt);
    const char *b3 = "data: {\"choices\":[{\"text\":\"y\"}]}\n\n" EV_DONE;
    sse_cl_head(head, sizeof head, strlen(b3));
    tc_s(&t, T0 + 4000, head);
    tc_s(&t, T0 + 6000, b3);
    tc_close(&t, T0 + 7000);
    pw_close(&w);
    check_records(
        "pipeline", tpath("pipeline"),
        "[{\"id\":\"1.1\",\"start_us\":1700000000001000,\"conn_new\":true,"
        "\"request\":{\"path\":\"/v1/chat/completions\"},\"response\":{\"ttfb_us\":2000,\"end_us\":3000,\"events\":[[2000,0,1],[3000,0,0]],"
        "\"text\":\"x\"},\"error\":null},"
        "{\"id\":\"1.3\",\"start_us\":1700000000001000,\"conn_new\":false,\"model\":\"m3\","
        "\"request\":{\"path\":\"/v1/completions\"},"
        "\"response\":{\"ttfb_us\":3000,\"end_us\":5000,\"events\":[[5000,0,1],[5000,0,0]],"
        "\"text\":\"y\"},\"error\":null}]",
        NULL);
}

/* Chunked SSE split at awkward points: inside the chunk-size line, between its CR and LF,
 * between the two LFs ending an event, inside "data:", and before the final CRLF. */
static void test_chunked_split(void **state)
{
    (void)state;
    struct pw w;
    struct tc t;
    char req[1024], cx[512], cy[512], szx[16], szy[16];
    pw_open(&w, tpath("split"), PKT_DLT_EN10MB, 0, 0);
    tc_init(&t, &w, "10.0.0.1", "10.0.0.2", 40004);
    tc_handshake(&t, T0);
    tc_c(&t, T0 + 1000, chat_request(req, sizeof req, "/v1/chat/completions", CHAT_BODY));
    /* chunk X = E1 + "da"; chunk Y = rest of E2 + E3 + E4 without its last LF; chunk Z = "\n" */
    snprintf(cx, sizeof cx, "%sda", EV("A"));
    const char *e2rest = &EV("B")[2];
    snprintf(cy, sizeof cy, "%s%s%s", e2rest, EV("C"), "data: [DONE]\n");
    snprintf(szx, sizeof szx, "%zx", strlen(cx));
    snprintf(szy, sizeof szy, "%zx", strlen(cy));
    assert_int_equal(strlen(szx), 2);
    char p[1024];
    snprintf(p, sizeof p, SSE_HEAD_CHUNKED "%c", szx[0]);
    tc_s(&t, T0 + 10000, p);                       /* P1: head + first hex digit */
    snprintf(p, sizeof p, "%c\r", szx[1]);
    tc_s(&t, T0 + 11000, p);                       /* P2: CR without LF */
    snprintf(p, sizeof p, "\n%.*s", (int)(strlen(EV("A")) - 1), cx);
    tc_s(&t, T0 + 12000, p);                       /* P3: E1 without its last LF */
    tc_s(&t, T0 + 13000, "\nda\r");                /* P4: E1 completes */
    size_t e2len = strlen(e2rest), e3part = 7;     /* "data: {" */
    snprintf(p, sizeof p, "\n%s\r\n%.*s", szy, (int)(e2len + e3part), cy);
    tc_s(&t, T0 + 14000, p);                       /* P5: E2 completes, E3 starts */
    snprintf(p, sizeof p, "%s\r\n1\r", cy + e2len + e3part);
    tc_s(&t, T0 + 16000, p);                       /* P6: E3 completes, E4 lacks its LF */
    tc_s(&t, T0 + 17000, "\n\n\r\n0\r\n");         /* P7: E4 completes */
    tc_s(&t, T0 + 18000, "\r\n");                  /* P8: end of message */
    tc_close(&t, T0 + 19000);
    pw_close(&w);
    check_records("split", tpath("split"),
                  "[{\"start_us\":1700000000001000,\"response\":{\"status\":200,\"ttfb_us\":9000,"
                  "\"end_us\":17000,\"events\":[[12000,0,1],[13000,0,1],[15000,0,1],"
                  "[16000,0,0]],\"text\":\"ABC\"},\"tokens_out\":3,\"error\":null}]",
                  NULL);
}

/* Out of order, retransmitted and overlapping segments on both sides. */
static void test_reorder(void **state)
{
    (void)state;
    struct pw w;
    struct tc t;
    char req[1024], head[256];
    pw_open(&w, tpath("reorder"), PKT_DLT_EN10MB, 0, 0);
    tc_init(&t, &w, "10.0.0.1", "10.0.0.2", 40005);
    tc_handshake(&t, T0);
    chat_request(req, sizeof req, "/v1/chat/completions", CHAT_BODY);
    size_t rl = strlen(req);
    /* request in two segments, the second first */
    pw_frame(&w, T0 + 1000, &t.c, &t.s, t.cseq + 40, t.sseq, PKT_TCP_ACK, req + 40, rl - 40);
    pw_frame(&w, T0 + 2000, &t.c, &t.s, t.cseq, t.sseq, PKT_TCP_ACK, req, 40);
    t.cseq += (uint32_t)rl;
    const char *e1 = EV("1"), *e2 = EV("2"), *e3 = EV("3");
    size_t l1 = strlen(e1), l2 = strlen(e2), l3 = strlen(e3);
    size_t body = l1 + l2 + l3 + strlen(EV_DONE);
    tc_s(&t, T0 + 5000, sse_cl_head(head, sizeof head, body));
    uint32_t b = t.sseq;
    tc_s_raw(&t, T0 + 6000, b + (uint32_t)l1, e2, l2);          /* e2 before e1 */
    tc_s_raw(&t, T0 + 7000, b, e1, l1);                          /* fills the hole */
    tc_s_raw(&t, T0 + 8000, b, e1, l1);                          /* retransmission */
    tc_s_raw(&t, T0 + 9000, b + (uint32_t)(l1 + l2), e3, 10);    /* e3 first 10 bytes */
    tc_s_raw(&t, T0 + 10000, b + (uint32_t)(l1 + l2 + 5), e3 + 5, l3 - 5); /* overlaps 5 */
    tc_s_raw(&t, T0 + 11000, b + (uint32_t)(l1 + l2 + l3), EV_DONE, strlen(EV_DONE));
    t.sseq += (uint32_t)body;
    tc_close(&t, T0 + 12000);
    pw_close(&w);
    check_records("reorder", tpath("reorder"),
                  "[{\"start_us\":1700000000002000,\"response\":{\"status\":200,\"ttfb_us\":3000,"
                  "\"end_us\":9000,\"events\":[[5000,0,1],[5000,0,1],[8000,0,1],[9000,0,0]],"
                  "\"text\":\"123\"},\"tokens_out\":3,\"error\":null}]",
                  NULL);
}

/* A response segment that never reached the capture (the client acknowledged past it): the
 * exchange is recorded incomplete with the gap size; the next exchange on the connection is
 * picked up at its status line. */
static void test_missing_segment(void **state)
{
    (void)state;
    struct pw w;
    struct tc t;
    char req[1024], ck1[256], ck2[256], ck3[256], head[256];
    pw_open(&w, tpath("missing"), PKT_DLT_EN10MB, 0, 0);
    tc_init(&t, &w, "10.0.0.1", "10.0.0.2", 40006);
    tc_handshake(&t, T0);
    tc_c(&t, T0 + 1000, chat_request(req, sizeof req, "/v1/chat/completions", CHAT_BODY));
    tc_s(&t, T0 + 5000, SSE_HEAD_CHUNKED);
    tc_s(&t, T0 + 6000, chunk(ck1, sizeof ck1, EV("p")));
    chunk(ck2, sizeof ck2, EV("q"));
    t.sseq += (uint32_t)strlen(ck2);                  /* lost */
    tc_s(&t, T0 + 8000, chunk(ck3, sizeof ck3, EV_DONE));
    tc_s(&t, T0 + 8000, "0\r\n\r\n");
    pw_frame(&w, T0 + 8500, &t.c, &t.s, t.cseq, t.sseq, PKT_TCP_ACK, NULL, 0);
    tc_c(&t, T0 + 20000, chat_request(req, sizeof req, "/v1/chat/completions", CHAT_BODY));
    const char *b2 = EV("r") EV_DONE;
    tc_s(&t, T0 + 21000, sse_cl_head(head, sizeof head, strlen(b2)));
    tc_s(&t, T0 + 22000, b2);
    tc_close(&t, T0 + 23000);
    pw_close(&w);
    char want[1024];
    snprintf(want, sizeof want,
             "[{\"id\":\"1.1\",\"start_us\":1700000000001000,\"response\":{\"status\":200,"
             "\"ttfb_us\":4000,\"end_us\":5000,\"events\":[[5000,0,1]],\"text\":\"p\"},"
             "\"error\":{\"kind\":\"incomplete\",\"message\":\"response: gap of %zu bytes in the "
             "capture\"}},"
             "{\"id\":\"1.2\",\"start_us\":1700000000020000,\"response\":{\"status\":200,"
             "\"ttfb_us\":1000,\"end_us\":2000,\"events\":[[2000,0,1],[2000,0,0]],\"text\":\"r\"},"
             "\"error\":null}]",
             strlen(ck2));
    assert_int_equal(strlen(ck2), 53); /* "2f\r\n" + 47-byte event + "\r\n" */
    check_records("missing", tpath("missing"), want, NULL);
}

/* The last 20 bytes of a request body never reached the capture (the server acknowledged
 * them): the exchange keeps its response but is recorded incomplete with the gap size. */
static void test_request_gap(void **state)
{
    (void)state;
    struct pw w;
    struct tc t;
    char req[1024], head[256];
    pw_open(&w, tpath("reqgap"), PKT_DLT_EN10MB, 0, 0);
    tc_init(&t, &w, "10.0.0.1", "10.0.0.2", 40011);
    tc_handshake(&t, T0);
    chat_request(req, sizeof req, "/v1/chat/completions", CHAT_BODY);
    size_t rl = strlen(req);
    pw_frame(&w, T0 + 1000, &t.c, &t.s, t.cseq, t.sseq, PKT_TCP_ACK, req, rl - 20);
    t.cseq += (uint32_t)rl;
    const char *b = EV("g") EV_DONE;
    tc_s(&t, T0 + 2000, sse_cl_head(head, sizeof head, strlen(b)));  /* acks the whole request */
    tc_s(&t, T0 + 3000, b);
    tc_close(&t, T0 + 4000);
    pw_close(&w);
    check_records("reqgap", tpath("reqgap"),
                  "[{\"start_us\":1700000000001000,\"request\":{\"path\":\"/v1/chat/completions\","
                  "\"body_bytes\":52},\"response\":{\"status\":200,\"ttfb_us\":1000,"
                  "\"end_us\":2000,\"events\":[[2000,0,1],[2000,0,0]],\"text\":\"g\"},"
                  "\"error\":{\"kind\":\"incomplete\","
                  "\"message\":\"request: gap of 20 bytes in the capture\"}}]",
                  NULL);
}

/* One connection, four HTTP situations in a row: a HEAD request (its response declares a
 * length but has no body), an Ollama NDJSON stream, a POST with Expect: 100-continue (the
 * interim response is skipped), and a response with a broken chunk size (recorded malformed;
 * the next exchange is picked up at its status line). */
static void test_http_variants(void **state)
{
    (void)state;
    struct pw w;
    struct tc t;
    char req[1024], ck[256];
    pw_open(&w, tpath("variants"), PKT_DLT_EN10MB, 0, 0);
    tc_init(&t, &w, "10.0.0.1", "10.0.0.2", 40012);
    tc_handshake(&t, T0);
    tc_c(&t, T0 + 1000, "HEAD /v1/chat/completions HTTP/1.1\r\nHost: api\r\n\r\n");
    tc_s(&t, T0 + 2000, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 100\r\n\r\n");
    /* 2: Ollama */
    tc_c(&t, T0 + 10000, chat_request(req, sizeof req, "/api/generate",
                                      "{\"model\":\"llama3\",\"prompt\":\"hi\"}"));
    tc_s(&t, T0 + 11000, "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n");
    tc_s(&t, T0 + 12000, chunk(ck, sizeof ck, "{\"model\":\"llama3\",\"response\":\"Hi\",\"done\":false}\n"));
    tc_s(&t, T0 + 13000, chunk(ck, sizeof ck, "{\"model\":\"llama3\",\"response\":\"!\",\"done\":false}\n"));
    tc_s(&t, T0 + 14000, chunk(ck, sizeof ck, "{\"model\":\"llama3\",\"response\":\"\",\"done\":true,"
                                              "\"prompt_eval_count\":5,\"eval_count\":2}\n"));
    tc_s(&t, T0 + 14000, "0\r\n\r\n");
    /* 3: Expect: 100-continue */
    snprintf(req, sizeof req,
             "POST /v1/chat/completions HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
             "Expect: 100-continue\r\nContent-Length: %zu\r\n\r\n", strlen(CHAT_BODY));
    tc_c(&t, T0 + 20000, req);
    tc_s(&t, T0 + 20500, "HTTP/1.1 100 Continue\r\n\r\n");
    tc_c(&t, T0 + 21000, CHAT_BODY);
    tc_s(&t, T0 + 23000, SSE_HEAD_CHUNKED);
    tc_s(&t, T0 + 24000, chunk(ck, sizeof ck, EV("k") EV_DONE));
    tc_s(&t, T0 + 24000, "0\r\n\r\n");
    /* 4: broken chunk framing, then a good exchange */
    tc_c(&t, T0 + 30000, chat_request(req, sizeof req, "/v1/chat/completions", CHAT_BODY));
    tc_s(&t, T0 + 31000, SSE_HEAD_CHUNKED);
    tc_s(&t, T0 + 32000, chunk(ck, sizeof ck, EV("m")));
    tc_s(&t, T0 + 33000, "zz\r\ndata: x\n\n\r\n");
    tc_c(&t, T0 + 40000, chat_request(req, sizeof req, "/v1/chat/completions", CHAT_BODY));
    tc_s(&t, T0 + 41000, SSE_HEAD_CHUNKED);
    tc_s(&t, T0 + 42000, chunk(ck, sizeof ck, EV("n") EV_DONE));
    tc_s(&t, T0 + 42000, "0\r\n\r\n");
    tc_close(&t, T0 + 50000);
    pw_close(&w);
    check_records(
        "variants", tpath("variants"),
        "[{\"id\":\"1.1\",\"start_us\":1700000000001000,\"request\":{\"method\":\"HEAD\"},"
        "\"response\":{\"status\":405,\"ttfb_us\":1000,\"end_us\":1000}},"
        "{\"id\":\"1.2\",\"start_us\":1700000000010000,\"dialect\":\"ollama-generate\","
        "\"model\":\"llama3\",\"response\":{\"status\":200,\"ttfb_us\":1000,\"end_us\":4000,"
        "\"events\":[[2000,0,1],[3000,0,1],[4000,0,0]],\"text\":\"Hi!\"},"
        "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2},\"tokens_out\":2,"
        "\"tokens_source\":\"usage\",\"error\":null},"
        "{\"id\":\"1.3\",\"start_us\":1700000000020000,\"request\":{\"body_bytes\":72},"
        "\"response\":{\"status\":200,\"ttfb_us\":3000,\"end_us\":4000,"
        "\"events\":[[4000,0,1],[4000,0,0]],\"text\":\"k\"},\"error\":null},"
        "{\"id\":\"1.4\",\"start_us\":1700000000030000,\"response\":{\"status\":200,"
        "\"ttfb_us\":1000,\"end_us\":2000,\"events\":[[2000,0,1]],\"text\":\"m\"},"
        "\"error\":{\"kind\":\"malformed\",\"message\":\"response: malformed chunked encoding\"}},"
        "{\"id\":\"1.5\",\"start_us\":1700000000040000,\"response\":{\"status\":200,"
        "\"ttfb_us\":1000,\"end_us\":2000,\"events\":[[2000,0,1],[2000,0,0]],\"text\":\"n\"},"
        "\"error\":null}]",
        NULL);
}

/* Writes one TCP segment as IPv4 fragments of at most fragsize payload bytes (a multiple of
 * 8), last fragment first, on Ethernet. */
static void pw_frame_fragmented(struct pw *w, int64_t ts, const struct gen_ep *src,
                                const struct gen_ep *dst, uint32_t seq, uint32_t ack,
                                const void *p, size_t len, size_t fragsize)
{
    static uint8_t whole[70000], fr[70000];
    size_t n = gen_frame(&w->fo, src, dst, seq, ack, PKT_TCP_ACK | PKT_TCP_PSH, p, len, whole,
                         sizeof whole);
    assert_true(n > 0 && w->fo.dlt == PKT_DLT_EN10MB);
    size_t ipl = n - 14 - 20;    /* IP payload: TCP header + data */
    size_t nfrag = (ipl + fragsize - 1) / fragsize;
    for (size_t k = nfrag; k-- > 0;) {
        size_t off = k * fragsize, fl = ipl - off < fragsize ? ipl - off : fragsize;
        memcpy(fr, whole, 14 + 20);
        memcpy(fr + 34, whole + 34 + off, fl);
        fr[14 + 2] = (uint8_t)((20 + fl) >> 8);
        fr[14 + 3] = (uint8_t)(20 + fl);
        fr[14 + 4] = 0x42;       /* identification */
        uint16_t fw = (uint16_t)((off / 8) | (k + 1 < nfrag ? 0x2000 : 0));
        fr[14 + 6] = (uint8_t)(fw >> 8);
        fr[14 + 7] = (uint8_t)fw;
        struct pcap_pkthdr h;
        h.ts.tv_sec = (time_t)(ts / 1000000);
        h.ts.tv_usec = (suseconds_t)(ts % 1000000);
        h.caplen = h.len = (bpf_u_int32)(34 + fl);
        pcap_dump((u_char *)w->d, &h, fr);
        ts += 100;
    }
}

/* A request carried in IPv4 fragments (arriving last first) is reassembled: t0 is the packet
 * that completed the datagram. */
static void test_ipv4_fragments(void **state)
{
    (void)state;
    struct pw w;
    struct tc t;
    char req[1024], head[256];
    pw_open(&w, tpath("frag"), PKT_DLT_EN10MB, 0, 0);
    tc_init(&t, &w, "10.0.0.1", "10.0.0.2", 40013);
    tc_handshake(&t, T0);
    chat_request(req, sizeof req, "/v1/chat/completions", CHAT_BODY);
    pw_frame_fragmented(&w, T0 + 1000, &t.c, &t.s, t.cseq, t.sseq, req, strlen(req), 64);
    t.cseq += (uint32_t)strlen(req);
    /* IP payload = 20 + 217 bytes → 4 fragments (64, 64, 64, 45) at 1000, 1100, 1200, 1300 */
    assert_int_equal(strlen(req), 217);
    const char *b = EV("f") EV_DONE;
    tc_s(&t, T0 + 2000, sse_cl_head(head, sizeof head, strlen(b)));
    tc_s(&t, T0 + 3000, b);
    tc_close(&t, T0 + 4000);
    pw_close(&w);
    check_records("frag", tpath("frag"),
                  "[{\"start_us\":1700000000001300,\"request\":{\"body_bytes\":72},"
                  "\"response\":{\"status\":200,\"ttfb_us\":700,\"end_us\":1700,"
                  "\"events\":[[1700,0,1],[1700,0,0]],\"text\":\"f\"},\"error\":null}]",
                  NULL);
}

/* --idle-timeout 1s: a connection silent mid-stream is expired when capture time moves on
 * (here: another connection's SYN 3 s later) and its exchange recorded incomplete. */
static void test_idle_expiry(void **state)
{
    (void)state;
    struct pw w;
    struct tc t, u;
    char req[1024], ck[256];
    pw_open(&w, tpath("idle"), PKT_DLT_EN10MB, 0, 0);
    tc_init(&t, &w, "10.0.0.1", "10.0.0.2", 40014);
    tc_handshake(&t, T0);
    tc_c(&t, T0 + 1000, chat_request(req, sizeof req, "/v1/chat/completions", CHAT_BODY));
    tc_s(&t, T0 + 2000, SSE_HEAD_CHUNKED);
    tc_s(&t, T0 + 3000, chunk(ck, sizeof ck, EV("i")));
    tc_init(&u, &w, "10.0.0.3", "10.0.0.2", 40015);
    tc_handshake(&u, T0 + 3000000);
    pw_close(&w);
    struct capture_opts o = {0};
    o.tcp.idle_us = 1000000;
    check_records("idle", tpath("idle"),
                  "[{\"start_us\":1700000000001000,\"response\":{\"status\":200,\"ttfb_us\":1000,"
                  "\"end_us\":2000,\"events\":[[2000,0,1]],\"text\":\"i\"},"
                  "\"error\":{\"kind\":\"incomplete\",\"message\":\"flow expired idle mid-exchange\"}}]",
                  &o);
}

/* A short exchange used by the link/IP variants. */
static void write_simple(struct pw *w, const char *caddr, const char *saddr)
{
    struct tc t;
    char req[1024], head[256];
    tc_init(&t, w, caddr, saddr, 40010);
    tc_handshake(&t, T0);
    tc_c(&t, T0 + 1000, chat_request(req, sizeof req, "/v1/chat/completions", CHAT_BODY));
    const char *b = EV("v") EV_DONE;
    tc_s(&t, T0 + 2000, sse_cl_head(head, sizeof head, strlen(b)));
    tc_s(&t, T0 + 2500, EV("v"));
    tc_s(&t, T0 + 3000, EV_DONE);
    tc_close(&t, T0 + 4000);
}

static const char *simple_expect(char *out, size_t n, const char *conn)
{
    snprintf(out, n,
             "[{\"start_us\":1700000000001000,\"conn\":\"%s\",\"response\":{\"status\":200,"
             "\"ttfb_us\":1000,\"end_us\":2000,\"events\":[[1500,0,1],[2000,0,0]],\"text\":\"v\"},"
             "\"error\":null}]",
             conn);
    return out;
}

static void test_ipv6(void **state)
{
    (void)state;
    struct pw w;
    char want[512];
    pw_open(&w, tpath("ipv6"), PKT_DLT_EN10MB, 0, 1);
    write_simple(&w, "fd00::1", "fd00::2");
    pw_close(&w);
    check_records("ipv6", tpath("ipv6"),
                  simple_expect(want, sizeof want, "[fd00::1]:40010>[fd00::2]:8000"), NULL);
}

static void test_vlan(void **state)
{
    (void)state;
    struct pw w;
    char want[512];
    pw_open(&w, tpath("vlan"), PKT_DLT_EN10MB, 2, 0);   /* QinQ: 802.1ad + 802.1Q */
    write_simple(&w, "192.168.1.5", "192.168.1.6");
    pw_close(&w);
    check_records("vlan", tpath("vlan"),
                  simple_expect(want, sizeof want, "192.168.1.5:40010>192.168.1.6:8000"), NULL);
}

static void test_sll2(void **state)
{
    (void)state;
    struct pw w;
    char want[512];
    pw_open(&w, tpath("sll2"), PKT_DLT_LINUX_SLL2, 0, 0);
    write_simple(&w, "127.0.0.1", "127.0.0.1");
    pw_close(&w);
    check_records("sll2", tpath("sll2"),
                  simple_expect(want, sizeof want, "127.0.0.1:40010>127.0.0.1:8000"), NULL);
}

/* The capture starts in the middle of a streamed response: those bytes are dropped; the next
 * exchange is picked up at its request line. No SYN, so the client is whoever sends one. */
static void test_midstream(void **state)
{
    (void)state;
    struct pw w;
    struct tc t;
    char req[1024], ck[256], head[256];
    pw_open(&w, tpath("midstream"), PKT_DLT_EN10MB, 0, 0);
    tc_init(&t, &w, "10.0.0.1", "10.0.0.2", 40007);
    t.cseq = 777777;
    t.sseq = 888888;
    tc_s(&t, T0 + 1000, chunk(ck, sizeof ck, EV("old")));
    tc_s(&t, T0 + 1500, chunk(ck, sizeof ck, EV_DONE));
    tc_s(&t, T0 + 1500, "0\r\n\r\n");
    pw_frame(&w, T0 + 1600, &t.c, &t.s, t.cseq, t.sseq, PKT_TCP_ACK, NULL, 0);
    tc_c(&t, T0 + 5000, chat_request(req, sizeof req, "/v1/chat/completions", CHAT_BODY));
    const char *b = EV("new") EV_DONE;
    tc_s(&t, T0 + 6000, sse_cl_head(head, sizeof head, strlen(b)));
    tc_s(&t, T0 + 7000, b);
    pw_close(&w);
    check_records("midstream", tpath("midstream"),
                  "[{\"id\":\"1.1\",\"start_us\":1700000000005000,"
                  "\"absent\":[\"conn_new\",\"connect_us\"],"
                  "\"conn\":\"10.0.0.1:40007>10.0.0.2:8000\",\"response\":{\"status\":200,"
                  "\"ttfb_us\":1000,\"end_us\":2000,\"events\":[[2000,0,1],[2000,0,0]],"
                  "\"text\":\"new\"},\"error\":null}]",
                  NULL);
}

/* RST in the middle of a stream: the events so far are kept, the record says reset. */
static void test_reset(void **state)
{
    (void)state;
    struct pw w;
    struct tc t;
    char req[1024], ck[256];
    pw_open(&w, tpath("reset"), PKT_DLT_EN10MB, 0, 0);
    tc_init(&t, &w, "10.0.0.1", "10.0.0.2", 40008);
    tc_handshake(&t, T0);
    tc_c(&t, T0 + 1000, chat_request(req, sizeof req, "/v1/chat/completions", CHAT_BODY));
    tc_s(&t, T0 + 2000, SSE_HEAD_CHUNKED);
    tc_s(&t, T0 + 3000, chunk(ck, sizeof ck, EV("z")));
    pw_frame(&w, T0 + 4000, &t.s, &t.c, t.sseq, t.cseq, PKT_TCP_RST, NULL, 0);
    pw_close(&w);
    check_records("reset", tpath("reset"),
                  "[{\"response\":{\"status\":200,\"ttfb_us\":1000,\"end_us\":2000,"
                  "\"events\":[[2000,0,1]],\"text\":\"z\"},\"error\":{\"kind\":\"reset\","
                  "\"message\":\"connection reset before the response ended\"}}]",
                  NULL);
}

/* A response framed by connection close (no Content-Length, not chunked): it ends with the
 * server's FIN, whose packet time is the end of the response. */
static void test_close_delimited(void **state)
{
    (void)state;
    struct pw w;
    struct tc t;
    char req[1024];
    pw_open(&w, tpath("close"), PKT_DLT_EN10MB, 0, 0);
    tc_init(&t, &w, "10.0.0.1", "10.0.0.2", 40009);
    tc_handshake(&t, T0);
    tc_c(&t, T0 + 1000, chat_request(req, sizeof req, "/v1/chat/completions", CHAT_BODY));
    tc_s(&t, T0 + 2000, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n");
    tc_s(&t, T0 + 3000, EV("c1"));
    tc_s(&t, T0 + 4000, EV("c2") EV_DONE);
    tc_close(&t, T0 + 6000);     /* server FIN at 6000, client FIN at 6050 */
    pw_close(&w);
    check_records("close", tpath("close"),
                  "[{\"start_us\":1700000000001000,\"response\":{\"status\":200,\"ttfb_us\":1000,"
                  "\"end_us\":5000,\"events\":[[2000,0,1],[3000,0,1],[3000,0,0]],"
                  "\"text\":\"c1c2\"},\"tokens_out\":2,\"error\":null}]",
                  NULL);
}

/* pcapng (SHB + IDB + EPBs, written by hand from the "one" capture): the same record. */
static void put32(FILE *f, uint32_t v)
{
    fwrite(&v, 4, 1, f);
}

static void test_pcapng(void **state)
{
    (void)state;
    write_one(tpath("pcapng_src"));
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *in = pcap_open_offline(tpath("pcapng_src"), err);
    assert_non_null(in);
    char ng[512];
    snprintf(ng, sizeof ng, "%s/one.pcapng", tmpdir);
    FILE *f = fopen(ng, "wb");
    assert_non_null(f);
    put32(f, 0x0A0D0D0A);        /* section header block, host byte order */
    put32(f, 28);
    put32(f, 0x1A2B3C4D);
    put32(f, 1);                 /* version 1.0 */
    put32(f, 0xffffffff);        /* section length unknown (-1, 64 bits) */
    put32(f, 0xffffffff);
    put32(f, 28);
    put32(f, 1);                 /* interface description block: Ethernet, µs timestamps */
    put32(f, 20);
    put32(f, PKT_DLT_EN10MB);
    put32(f, 0);
    put32(f, 20);
    struct pcap_pkthdr *h;
    const u_char *data;
    int n = 0;
    while (pcap_next_ex(in, &h, &data) == 1) {
        uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
        uint32_t pad = (4 - h->caplen % 4) % 4, tot = 32 + h->caplen + pad;
        put32(f, 6);             /* enhanced packet block */
        put32(f, tot);
        put32(f, 0);
        put32(f, (uint32_t)(ts >> 32));
        put32(f, (uint32_t)ts);
        put32(f, h->caplen);
        put32(f, h->len);
        fwrite(data, 1, h->caplen, f);
        fwrite("\0\0\0", 1, pad, f);
        put32(f, tot);
        n++;
    }
    fclose(f);
    pcap_close(in);
    assert_int_equal(n, 13);
    check_records("pcapng", ng, one_expect, NULL);
}

/* Malformed captures: garbage frames of every length and a frame with lying lengths are
 * counted, never crash, and do not disturb a good exchange around them. */
static void test_malformed_frames(void **state)
{
    (void)state;
    struct pw w;
    pw_open(&w, tpath("malformed"), PKT_DLT_EN10MB, 0, 0);
    struct pcap_pkthdr h;
    uint8_t junk[200];
    for (int i = 0; i < 200; i++)
        junk[i] = (uint8_t)(i * 37 + 11);
    junk[12] = 0x08;
    junk[13] = 0x00;             /* claims IPv4 */
    for (unsigned len = 0; len < 120; len += 7) {
        h.ts.tv_sec = (time_t)(T0 / 1000000);
        h.ts.tv_usec = (suseconds_t)len;
        h.caplen = h.len = len;
        pcap_dump((u_char *)w.d, &h, junk);
    }
    write_simple(&w, "10.1.1.1", "10.1.1.2");
    pw_close(&w);
    struct capture_stats st;
    cJSON *got = run_pcap(tpath("malformed"), NULL, &st, NULL);
    assert_int_equal(cJSON_GetArraySize(got), 1);
    assert_int_equal(st.packets, 18 + 10); /* lengths 0, 7, … 119; then 10 good frames */
    cJSON_Delete(got);
    char want[512];
    check_records("malformed", tpath("malformed"),
                  simple_expect(want, sizeof want, "10.1.1.1:40010>10.1.1.2:8000"), NULL);
}

/* ---- transport re-sends ------------------------------------------------------------------ */

#define BODY_OF(x) "{\"model\":\"m1\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"" x "\"}]}"

static void tc_ask(struct tc *t, int64_t ts, const char *body)
{
    char req[1024];
    tc_c(t, ts, chat_request(req, sizeof req, "/v1/chat/completions", body));
}

/* An SSE response framed by Content-Length: head at ts, one content event and [DONE] in one
 * packet 500 µs later. */
static void tc_reply(struct tc *t, int64_t ts, const char *text)
{
    char body[512], head[256];
    snprintf(body, sizeof body, "data: {\"choices\":[{\"delta\":{\"content\":\"%s\"}}]}\n\n" EV_DONE,
             text);
    tc_s(t, ts, sse_cl_head(head, sizeof head, strlen(body)));
    tc_s(t, ts + 500, body);
}

/* llama.cpp's pattern (issue 12): a streamed response without Connection: close, then the
 * server closes; the client's next request on that connection is reset before any response
 * byte and libcurl sends it again on a new connection. Returns the file offset after the RST
 * (the point where a capture stopped before the re-send would end). */
static long write_resend(const char *path)
{
    struct pw w;
    struct tc a, b;
    char ck[256];
    pw_open(&w, path, PKT_DLT_EN10MB, 0, 0);
    tc_init(&a, &w, "10.0.0.1", "10.0.0.2", 40020);
    tc_handshake(&a, T0);
    tc_ask(&a, T0 + 1000, BODY_OF("one"));
    tc_s(&a, T0 + 2000, SSE_HEAD_CHUNKED);
    tc_s(&a, T0 + 3000, chunk(ck, sizeof ck, EV("a")));
    tc_s(&a, T0 + 4000, chunk(ck, sizeof ck, EV_DONE));
    tc_s(&a, T0 + 4000, "0\r\n\r\n");
    tc_server_fin(&a, T0 + 4100);
    tc_ask(&a, T0 + 5000, BODY_OF("two"));   /* sent after the FIN: the keep-alive race */
    tc_rst(&a, T0 + 5250);
    long cut = w.offsets[w.n - 1];
    tc_init(&b, &w, "10.0.0.1", "10.0.0.2", 40021);
    tc_handshake(&b, T0 + 6000);
    tc_ask(&b, T0 + 6200, BODY_OF("two"));
    tc_reply(&b, T0 + 7000, "b");
    tc_close(&b, T0 + 8000);
    pw_close(&w);
    return cut;
}

#define RESEND_1_1 \
    "{\"id\":\"1.1\",\"start_us\":1700000000001000,\"conn_new\":true,\"connect_us\":100," \
    "\"response\":{\"status\":200,\"ttfb_us\":1000,\"end_us\":3000," \
    "\"events\":[[2000,0,1],[3000,0,0]],\"text\":\"a\"},\"error\":null}"
#define RESEND_1_2 \
    "{\"id\":\"1.2\",\"start_us\":1700000000005000,\"conn\":\"10.0.0.1:40020>10.0.0.2:8000\"," \
    "\"conn_new\":false,\"connect_us\":null,\"request\":{\"body\":" BODY_OF("two") "}," \
    "\"response\":{\"status\":null,\"ttfb_us\":null,\"end_us\":null,\"events\":[]}," \
    "\"error\":{\"kind\":\"reset\",\"message\":\"connection closed before the response ended\"}"
#define RESEND_2_1 \
    "{\"id\":\"2.1\",\"start_us\":1700000000006200,\"conn\":\"10.0.0.1:40021>10.0.0.2:8000\"," \
    "\"conn_new\":true,\"connect_us\":100,\"request\":{\"body\":" BODY_OF("two") "}," \
    "\"response\":{\"status\":200,\"ttfb_us\":800,\"end_us\":1300," \
    "\"events\":[[1300,0,1],[1300,0,0]],\"text\":\"b\"},\"error\":null}"

/* The attempt is written with resent_as just before the exchange that re-sent it: 2 requests,
 * 1 transport attempt. */
static void test_resend(void **state)
{
    (void)state;
    write_resend(tpath("resend"));
    check_records("resend", tpath("resend"),
                  "[" RESEND_1_1 "," RESEND_1_2 ",\"resent_as\":\"2.1\"}," RESEND_2_1 "]", NULL);
    struct capture_stats st;
    cJSON_Delete(run_pcap(tpath("resend"), NULL, &st, NULL));
    assert_int_equal(st.resent, 1);
    assert_int_equal(st.exchanges, 3);
    assert_int_equal(st.resend_expired + st.resend_cap + st.resend_end, 0);
}

/* The window is measured from the failure (the request sent after the FIN, T0+5000) to the
 * re-send's whole request (T0+6200): 1200 µs links, 1199 µs does not; off never links. */
static void test_resend_window(void **state)
{
    (void)state;
    write_resend(tpath("resendoff"));
    struct capture_opts o = {0};
    o.resend_window_us = 1200;
    check_records_fx("resendoff", tpath("resendoff"),
                     "[" RESEND_1_1 "," RESEND_1_2 ",\"resent_as\":\"2.1\"}," RESEND_2_1 "]", &o,
                     0);
    o.resend_window_us = 1199;
    struct capture_stats st;
    cJSON_Delete(run_pcap(tpath("resendoff"), &o, &st, NULL));
    assert_int_equal(st.resent, 0);
    assert_int_equal(st.resend_expired, 1);
    check_records_fx("resendoff", tpath("resendoff"),
                     "[" RESEND_1_1 "," RESEND_1_2 "}," RESEND_2_1 "]", &o, 0);
    o.resend_window_us = -1;     /* --resend-window 0 */
    check_records("resendoff", tpath("resendoff"),
                  "[" RESEND_1_1 "," RESEND_1_2 "}," RESEND_2_1 "]", &o);
}

/* The capture ends (Ctrl-C, end of file) while an attempt waits for its re-send: it is written
 * at the end, as the failure it is so far. */
static void test_resend_held_at_end(void **state)
{
    (void)state;
    long cut = write_resend(tpath("resend_src"));
    FILE *f = fopen(tpath("resend_src"), "rb");
    assert_non_null(f);
    static char img[1 << 16];
    size_t n = fread(img, 1, sizeof img, f);
    fclose(f);
    assert_true((size_t)cut < n);
    f = fopen(tpath("resendcut"), "wb");
    fwrite(img, 1, (size_t)cut, f);
    fclose(f);
    struct capture_stats st;
    cJSON_Delete(run_pcap(tpath("resendcut"), NULL, &st, NULL));
    assert_int_equal(st.resend_end, 1);
    assert_int_equal(st.exchanges, 2);
    check_records("resendcut", tpath("resendcut"), "[" RESEND_1_1 "," RESEND_1_2 "}]", NULL);
}

/* Two re-sends: the request dies on its keep-alive connection, libcurl sends it on another
 * pooled connection that died the same way (reset), then on a new one. Each attempt names the
 * next; 3 requests, 2 attempts. */
static void test_resend_twice(void **state)
{
    (void)state;
    struct pw w;
    struct tc a, b, c;
    pw_open(&w, tpath("resend2"), PKT_DLT_EN10MB, 0, 0);
    tc_init(&a, &w, "10.0.0.1", "10.0.0.2", 40030);
    tc_init(&b, &w, "10.0.0.1", "10.0.0.2", 40031);
    tc_handshake(&a, T0);
    tc_handshake(&b, T0 + 200);
    tc_ask(&a, T0 + 1000, BODY_OF("x1"));
    tc_ask(&b, T0 + 1200, BODY_OF("x2"));
    tc_reply(&a, T0 + 2000, "p");
    tc_reply(&b, T0 + 3000, "q");
    tc_ask(&a, T0 + 10000, BODY_OF("y"));
    tc_rst(&a, T0 + 10250);
    tc_ask(&b, T0 + 10300, BODY_OF("y"));
    tc_rst(&b, T0 + 10550);
    tc_init(&c, &w, "10.0.0.1", "10.0.0.2", 40032);
    tc_handshake(&c, T0 + 10600);
    tc_ask(&c, T0 + 10800, BODY_OF("y"));
    tc_reply(&c, T0 + 11800, "r");
    tc_close(&c, T0 + 13000);
    pw_close(&w);
    check_records(
        "resend2", tpath("resend2"),
        "[{\"id\":\"1.1\",\"start_us\":1700000000001000,\"conn_new\":true,\"connect_us\":100,"
        "\"response\":{\"status\":200,\"ttfb_us\":1000,\"end_us\":1500,"
        "\"events\":[[1500,0,1],[1500,0,0]],\"text\":\"p\"},\"error\":null},"
        "{\"id\":\"2.1\",\"start_us\":1700000000001200,\"conn_new\":true,\"connect_us\":100,"
        "\"response\":{\"status\":200,\"ttfb_us\":1800,\"end_us\":2300,\"text\":\"q\"},"
        "\"error\":null},"
        "{\"id\":\"1.2\",\"start_us\":1700000000010000,\"conn_new\":false,"
        "\"request\":{\"body\":" BODY_OF("y") "},\"response\":{\"status\":null,\"events\":[]},"
        "\"error\":{\"kind\":\"reset\",\"message\":\"connection reset before the response ended\"},"
        "\"resent_as\":\"2.2\"},"
        "{\"id\":\"2.2\",\"start_us\":1700000000010300,\"conn_new\":false,"
        "\"request\":{\"body\":" BODY_OF("y") "},\"response\":{\"status\":null,\"events\":[]},"
        "\"error\":{\"kind\":\"reset\",\"message\":\"connection reset before the response ended\"},"
        "\"resent_as\":\"3.1\"},"
        "{\"id\":\"3.1\",\"start_us\":1700000000010800,\"conn_new\":true,\"connect_us\":100,"
        "\"request\":{\"body\":" BODY_OF("y") "},\"response\":{\"status\":200,\"ttfb_us\":1000,"
        "\"end_us\":1500,\"text\":\"r\"},\"error\":null}]",
        NULL);
}

/* Real failures stay failures: a request reset on the connection opened for it (clients report
 * that, they do not re-send it), even when the same request follows on a new connection; and
 * a request reset on a reused connection that nobody re-sends within the window (written when
 * the window has passed, at the next packet 2 s later). */
static void test_resend_failure(void **state)
{
    (void)state;
    struct pw w;
    struct tc a, b, c;
    pw_open(&w, tpath("failure"), PKT_DLT_EN10MB, 0, 0);
    tc_init(&a, &w, "10.0.0.1", "10.0.0.2", 40040);
    tc_handshake(&a, T0);
    tc_ask(&a, T0 + 1000, BODY_OF("r1"));
    tc_rst(&a, T0 + 1250);
    tc_init(&b, &w, "10.0.0.1", "10.0.0.2", 40041);
    tc_handshake(&b, T0 + 2000);
    tc_ask(&b, T0 + 3000, BODY_OF("r1"));
    tc_reply(&b, T0 + 4000, "s");
    tc_ask(&b, T0 + 10000, BODY_OF("r2"));
    tc_rst(&b, T0 + 10250);
    tc_init(&c, &w, "10.0.0.1", "10.0.0.2", 40042);
    tc_handshake(&c, T0 + 2000000);
    tc_ask(&c, T0 + 2001000, BODY_OF("r3"));
    tc_reply(&c, T0 + 2002000, "t");
    tc_close(&c, T0 + 2003000);
    pw_close(&w);
    check_records(
        "failure", tpath("failure"),
        "[{\"id\":\"1.1\",\"start_us\":1700000000001000,\"conn_new\":true,\"connect_us\":100,"
        "\"request\":{\"body\":" BODY_OF("r1") "},\"response\":{\"status\":null,\"events\":[]},"
        "\"error\":{\"kind\":\"reset\",\"message\":\"connection reset before the response ended\"}},"
        "{\"id\":\"2.1\",\"start_us\":1700000000003000,\"conn_new\":true,\"connect_us\":100,"
        "\"request\":{\"body\":" BODY_OF("r1") "},\"response\":{\"status\":200,\"text\":\"s\"},"
        "\"error\":null},"
        "{\"id\":\"2.2\",\"start_us\":1700000000010000,\"conn_new\":false,"
        "\"request\":{\"body\":" BODY_OF("r2") "},\"response\":{\"status\":null,\"events\":[]},"
        "\"error\":{\"kind\":\"reset\",\"message\":\"connection reset before the response ended\"}},"
        "{\"id\":\"3.1\",\"start_us\":1700000002001000,\"conn_new\":true,\"connect_us\":100,"
        "\"request\":{\"body\":" BODY_OF("r3") "},\"response\":{\"status\":200,\"text\":\"t\"},"
        "\"error\":null}]",
        NULL);
    struct capture_stats st;
    cJSON_Delete(run_pcap(tpath("failure"), NULL, &st, NULL));
    assert_int_equal(st.resent, 0);
    assert_int_equal(st.resend_expired, 1);
    assert_int_equal(st.resend_end, 0);
}

/* A reset after response bytes is a failure, not a transport attempt, even when the same
 * request follows on a new connection: after a status line and an event, and after only the
 * first bytes of a status line. */
static void test_resend_after_bytes(void **state)
{
    (void)state;
    struct pw w;
    struct tc a, b, c;
    char ck[256];
    pw_open(&w, tpath("midresp"), PKT_DLT_EN10MB, 0, 0);
    tc_init(&a, &w, "10.0.0.1", "10.0.0.2", 40050);
    tc_handshake(&a, T0);
    tc_ask(&a, T0 + 1000, BODY_OF("one"));
    tc_reply(&a, T0 + 2000, "u");
    tc_ask(&a, T0 + 10000, BODY_OF("two"));
    tc_s(&a, T0 + 11000, SSE_HEAD_CHUNKED);
    tc_s(&a, T0 + 12000, chunk(ck, sizeof ck, EV("p")));
    tc_rst(&a, T0 + 12500);
    tc_init(&b, &w, "10.0.0.1", "10.0.0.2", 40051);
    tc_handshake(&b, T0 + 13000);
    tc_ask(&b, T0 + 14000, BODY_OF("two"));
    tc_reply(&b, T0 + 15000, "v");
    tc_ask(&b, T0 + 20000, BODY_OF("three"));
    tc_s(&b, T0 + 21000, "HTTP/1.");
    tc_rst(&b, T0 + 21500);
    tc_init(&c, &w, "10.0.0.1", "10.0.0.2", 40052);
    tc_handshake(&c, T0 + 22000);
    tc_ask(&c, T0 + 23000, BODY_OF("three"));
    tc_reply(&c, T0 + 24000, "w");
    tc_close(&c, T0 + 25000);
    pw_close(&w);
    check_records(
        "midresp", tpath("midresp"),
        "[{\"id\":\"1.1\",\"response\":{\"status\":200,\"text\":\"u\"},\"error\":null},"
        "{\"id\":\"1.2\",\"start_us\":1700000000010000,\"conn_new\":false,"
        "\"response\":{\"status\":200,\"ttfb_us\":1000,\"end_us\":2000,\"events\":[[2000,0,1]],"
        "\"text\":\"p\"},"
        "\"error\":{\"kind\":\"reset\",\"message\":\"connection reset before the response ended\"}},"
        "{\"id\":\"2.1\",\"start_us\":1700000000014000,\"conn_new\":true,"
        "\"response\":{\"status\":200,\"text\":\"v\"},\"error\":null},"
        "{\"id\":\"2.2\",\"start_us\":1700000000020000,\"conn_new\":false,"
        "\"request\":{\"body\":" BODY_OF("three") "},"
        "\"response\":{\"status\":null,\"ttfb_us\":null,\"events\":[]},"
        "\"error\":{\"kind\":\"reset\",\"message\":\"connection reset before the response ended\"}},"
        "{\"id\":\"3.1\",\"start_us\":1700000000023000,\"conn_new\":true,"
        "\"request\":{\"body\":" BODY_OF("three") "},\"response\":{\"status\":200,\"text\":\"w\"},"
        "\"error\":null}]",
        NULL);
}

/* Not the same request, so not a re-send: a different body of the same length, another client
 * sending the same request, the same body to another path. The attempt stays a failure,
 * written when the capture ends. */
static void test_resend_other_request(void **state)
{
    (void)state;
    struct pw w;
    struct tc a, b, c;
    char req[1024];
    pw_open(&w, tpath("resendbody"), PKT_DLT_EN10MB, 0, 0);
    tc_init(&a, &w, "10.0.0.1", "10.0.0.2", 40060);
    tc_handshake(&a, T0);
    tc_ask(&a, T0 + 1000, BODY_OF("one"));
    tc_reply(&a, T0 + 2000, "k");
    tc_ask(&a, T0 + 10000, BODY_OF("two"));
    tc_rst(&a, T0 + 10250);
    tc_init(&b, &w, "10.0.0.1", "10.0.0.2", 40061);
    tc_init(&c, &w, "10.0.0.9", "10.0.0.2", 40062);
    tc_handshake(&b, T0 + 10300);
    tc_handshake(&c, T0 + 10400);
    tc_ask(&b, T0 + 10500, BODY_OF("owt"));
    tc_ask(&c, T0 + 10600, BODY_OF("two"));
    tc_reply(&b, T0 + 11500, "l");
    tc_reply(&c, T0 + 12100, "m");
    tc_c(&b, T0 + 13000, chat_request(req, sizeof req, "/v1/completions", BODY_OF("two")));
    tc_reply(&b, T0 + 14000, "n");
    tc_close(&b, T0 + 15000);
    tc_close(&c, T0 + 15500);
    pw_close(&w);
    check_records(
        "resendbody", tpath("resendbody"),
        "[{\"id\":\"1.1\",\"error\":null},"
        "{\"id\":\"2.1\",\"conn\":\"10.0.0.1:40061>10.0.0.2:8000\","
        "\"request\":{\"body\":" BODY_OF("owt") "},\"error\":null},"
        "{\"id\":\"3.1\",\"conn\":\"10.0.0.9:40062>10.0.0.2:8000\","
        "\"request\":{\"body\":" BODY_OF("two") "},\"error\":null},"
        "{\"id\":\"2.2\",\"request\":{\"path\":\"/v1/completions\",\"body\":" BODY_OF("two") "},"
        "\"error\":null},"
        "{\"id\":\"1.2\",\"start_us\":1700000000010000,\"conn_new\":false,"
        "\"request\":{\"path\":\"/v1/chat/completions\",\"body\":" BODY_OF("two") "},"
        "\"response\":{\"status\":null,\"events\":[]},"
        "\"error\":{\"kind\":\"reset\",\"message\":\"connection reset before the response ended\"}}]",
        NULL);
}

/* The reset cut the request while it was being sent (head and 10 body bytes seen): the bytes
 * that went out are a prefix of the re-send, which is enough. The new connection's SYN was
 * sent twice: connect time counts from the first. */
static void test_resend_partial(void **state)
{
    (void)state;
    struct pw w;
    struct tc a, b;
    char req[1024];
    pw_open(&w, tpath("resendpart"), PKT_DLT_EN10MB, 0, 0);
    tc_init(&a, &w, "10.0.0.1", "10.0.0.2", 40070);
    tc_handshake(&a, T0);
    tc_ask(&a, T0 + 1000, BODY_OF("one"));
    tc_reply(&a, T0 + 2000, "o");
    chat_request(req, sizeof req, "/v1/chat/completions", BODY_OF("cut short"));
    size_t head = (size_t)(strstr(req, "\r\n\r\n") + 4 - req);
    pw_frame(&w, T0 + 10000, &a.c, &a.s, a.cseq, a.sseq, PKT_TCP_ACK, req, head + 10);
    a.cseq += (uint32_t)(head + 10);
    tc_rst(&a, T0 + 10100);
    tc_init(&b, &w, "10.0.0.1", "10.0.0.2", 40071);
    pw_frame(&w, T0 + 10200, &b.c, &b.s, 1000, 0, PKT_TCP_SYN, NULL, 0);
    tc_handshake(&b, T0 + 10230);   /* SYN again at +230, SYN-ACK +280, ACK +330 */
    tc_ask(&b, T0 + 10400, BODY_OF("cut short"));
    tc_reply(&b, T0 + 11400, "c");
    tc_close(&b, T0 + 12000);
    pw_close(&w);
    check_records(
        "resendpart", tpath("resendpart"),
        "[{\"id\":\"1.1\",\"error\":null},"
        "{\"id\":\"1.2\",\"start_us\":1700000000010000,\"conn_new\":false,"
        "\"request\":{\"body\":\"{\\\"model\\\":\\\"\",\"body_bytes\":10},"
        "\"response\":{\"status\":null,\"events\":[]},"
        "\"error\":{\"kind\":\"reset\",\"message\":\"connection reset before the response ended\"},"
        "\"resent_as\":\"2.1\"},"
        "{\"id\":\"2.1\",\"start_us\":1700000000010400,\"conn_new\":true,\"connect_us\":130,"
        "\"request\":{\"body\":" BODY_OF("cut short") "},\"response\":{\"status\":200,"
        "\"text\":\"c\"},\"error\":null}]",
        NULL);
}

/* At most resend_max_held attempts wait: one more, and the oldest is written as it is. */
static void test_resend_hold_cap(void **state)
{
    (void)state;
    struct pw w;
    struct tc a, b, c;
    pw_open(&w, tpath("resendcap"), PKT_DLT_EN10MB, 0, 0);
    tc_init(&a, &w, "10.0.0.1", "10.0.0.2", 40080);
    tc_init(&b, &w, "10.0.0.1", "10.0.0.2", 40081);
    tc_handshake(&a, T0);
    tc_handshake(&b, T0 + 200);
    tc_ask(&a, T0 + 1000, BODY_OF("a1"));
    tc_ask(&b, T0 + 1200, BODY_OF("b1"));
    tc_reply(&a, T0 + 2000, "p");
    tc_reply(&b, T0 + 3000, "q");
    tc_ask(&a, T0 + 10000, BODY_OF("a2"));
    tc_rst(&a, T0 + 10250);
    tc_ask(&b, T0 + 10300, BODY_OF("b2"));
    tc_rst(&b, T0 + 10550);
    tc_init(&c, &w, "10.0.0.1", "10.0.0.2", 40082);
    tc_handshake(&c, T0 + 10600);
    tc_ask(&c, T0 + 10800, BODY_OF("b2"));
    tc_reply(&c, T0 + 11800, "r");
    tc_ask(&c, T0 + 20000, BODY_OF("a2"));
    tc_reply(&c, T0 + 21000, "s");
    tc_close(&c, T0 + 22000);
    pw_close(&w);
    struct capture_opts o = {0};
    o.resend_max_held = 1;
    /* a2's attempt is pushed out by b2's before a2 is re-sent; b2's is linked */
    check_records_fx("resendcap", tpath("resendcap"),
                  "[{\"id\":\"1.1\"},{\"id\":\"2.1\"},{\"id\":\"1.2\",\"error\":{\"kind\":\"reset\"}},"
                  "{\"id\":\"2.2\",\"resent_as\":\"3.1\"},{\"id\":\"3.1\"},{\"id\":\"3.2\"}]",
                  &o, 0);
    struct capture_stats st;
    cJSON_Delete(run_pcap(tpath("resendcap"), &o, &st, NULL));
    assert_int_equal(st.resend_cap, 1);
    assert_int_equal(st.resent, 1);
    o.resend_max_held = 0;       /* the default holds both: both linked */
    check_records("resendcap", tpath("resendcap"),
                  "[{\"id\":\"1.1\"},{\"id\":\"2.1\"},{\"id\":\"2.2\",\"resent_as\":\"3.1\"},"
                  "{\"id\":\"3.1\"},{\"id\":\"1.2\",\"resent_as\":\"3.2\"},{\"id\":\"3.2\"}]",
                  &o);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/capture_golden.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_exchange),
        cmocka_unit_test(test_truncated_file),
        cmocka_unit_test(test_truncated_every_offset),
        cmocka_unit_test(test_privacy),
        cmocka_unit_test(test_keepalive_three),
        cmocka_unit_test(test_pipelining),
        cmocka_unit_test(test_chunked_split),
        cmocka_unit_test(test_reorder),
        cmocka_unit_test(test_missing_segment),
        cmocka_unit_test(test_request_gap),
        cmocka_unit_test(test_http_variants),
        cmocka_unit_test(test_ipv4_fragments),
        cmocka_unit_test(test_idle_expiry),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_vlan),
        cmocka_unit_test(test_sll2),
        cmocka_unit_test(test_midstream),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_close_delimited),
        cmocka_unit_test(test_pcapng),
        cmocka_unit_test(test_malformed_frames),
        cmocka_unit_test(test_resend),
        cmocka_unit_test(test_resend_window),
        cmocka_unit_test(test_resend_held_at_end),
        cmocka_unit_test(test_resend_twice),
        cmocka_unit_test(test_resend_failure),
        cmocka_unit_test(test_resend_after_bytes),
        cmocka_unit_test(test_resend_other_request),
        cmocka_unit_test(test_resend_partial),
        cmocka_unit_test(test_resend_hold_cap),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
