/* test_capture_net.c — capture's lower layers: SHA-256 (FIPS 180-2 appendix vectors), frame
 * decoding for every supported link type with truncation at every offset, and TCP reassembly
 * (in order, out of order, retransmission, overlap, ACKed holes, snaplen cuts, FIN/RST, idle
 * expiry, the hold cap). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "gen.h"
#include "pkt.h"
#include "sha256.h"
#include "tcpr.h"

static void hash_hex(const void *p, size_t n, char hex[65])
{
    struct sha256 s;
    sha256_init(&s);
    sha256_update(&s, p, n);
    sha256_final_hex(&s, hex);
}

static void test_sha256_vectors(void **state)
{
    (void)state;
    char hex[65];
    hash_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    hash_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    hash_hex(two, strlen(two), hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* one million 'a', fed in uneven pieces to cross block boundaries */
    static char a[1000];
    memset(a, 'a', sizeof a);
    struct sha256 s;
    sha256_init(&s);
    size_t left = 1000000, step = 1;
    while (left) {
        size_t n = step < left ? step : left;
        if (n > sizeof a)
            n = sizeof a;
        sha256_update(&s, a, n);
        left -= n;
        step = step * 7 % 997 + 1;
    }
    sha256_final_hex(&s, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    /* 55 and 56 bytes: the padding boundary */
    hash_hex(a, 55, hex);
    assert_string_equal(hex, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
    hash_hex(a, 56, hex);
    assert_string_equal(hex, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
}

/* ---- frame decoding ----------------------------------------------------------------------- */

static const struct { int dlt, vlans, v6, ext; } decode_cases[] = {
    {PKT_DLT_EN10MB, 0, 0, 0}, {PKT_DLT_EN10MB, 1, 0, 0}, {PKT_DLT_EN10MB, 2, 1, 0},
    {PKT_DLT_LINUX_SLL, 0, 0, 0}, {PKT_DLT_LINUX_SLL2, 0, 1, 0}, {PKT_DLT_NULL, 0, 0, 0},
    {PKT_DLT_NULL, 0, 1, 0}, {PKT_DLT_LOOP, 0, 0, 0}, {PKT_DLT_RAW, 0, 0, 0},
    {PKT_DLT_RAW, 0, 1, 1}, {PKT_DLT_IPV4, 0, 0, 0}, {PKT_DLT_IPV6, 0, 1, 1},
    {PKT_LINKTYPE_RAW, 0, 1, 0},
};

static void test_decode_link_types(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof decode_cases / sizeof decode_cases[0]; i++) {
        struct gen_ep a, b;
        gen_ep_set(&a, decode_cases[i].v6 ? "fd00::1" : "10.0.0.1", 51234);
        gen_ep_set(&b, decode_cases[i].v6 ? "fd00::2" : "10.0.0.2", 8000);
        struct gen_frame_opts o = {decode_cases[i].dlt, decode_cases[i].vlans, decode_cases[i].ext};
        uint8_t fr[256];
        size_t n = gen_frame(&o, &a, &b, 1000, 2000, PKT_TCP_ACK | PKT_TCP_PSH, "hello", 5, fr,
                             sizeof fr);
        assert_true(n > 0);
        struct pkt_decoder d;
        pkt_decoder_init(&d);
        struct pkt_tcp t;
        assert_int_equal(pkt_decode(&d, o.dlt, fr, n, 0, &t), PKT_OK);
        assert_int_equal(t.family, decode_cases[i].v6 ? 6 : 4);
        assert_memory_equal(t.src, a.addr, decode_cases[i].v6 ? 16 : 4);
        assert_memory_equal(t.dst, b.addr, decode_cases[i].v6 ? 16 : 4);
        assert_int_equal(t.sport, 51234);
        assert_int_equal(t.dport, 8000);
        assert_int_equal(t.seq, 1000);
        assert_int_equal(t.ack, 2000);
        assert_int_equal(t.flags, PKT_TCP_ACK | PKT_TCP_PSH);
        assert_int_equal(t.len, 5);
        assert_int_equal(t.wire_len, 5);
        assert_memory_equal(t.payload, "hello", 5);
        /* every shorter capture: headers cut → truncated; payload cut → OK with wire_len kept */
        for (size_t cut = 0; cut < n; cut++) {
            uint8_t tmp[256];
            memcpy(tmp, fr, cut);
            enum pkt_result r = pkt_decode(&d, o.dlt, tmp, cut, 0, &t);
            if (cut >= n - 5) {
                assert_int_equal(r, PKT_OK);
                assert_int_equal(t.len, cut - (n - 5));
                assert_int_equal(t.wire_len, 5);
            } else {
                assert_int_equal(r, PKT_TRUNCATED);
            }
        }
        assert_int_equal(d.st.truncated, n - 5);
        pkt_decoder_free(&d);
    }
}

static void test_decode_invalid_and_other(void **state)
{
    (void)state;
    struct gen_ep a, b;
    gen_ep_set(&a, "10.0.0.1", 1);
    gen_ep_set(&b, "10.0.0.2", 2);
    struct gen_frame_opts o = {PKT_DLT_RAW, 0, 0};
    uint8_t fr[128];
    size_t n = gen_frame(&o, &a, &b, 1, 1, PKT_TCP_ACK, "xy", 2, fr, sizeof fr);
    struct pkt_decoder d;
    pkt_decoder_init(&d);
    struct pkt_tcp t;
    uint8_t bad[128];
    memcpy(bad, fr, n);
    bad[0] = 0x44;               /* IHL 16 bytes < 20 */
    assert_int_equal(pkt_decode(&d, o.dlt, bad, n, 0, &t), PKT_INVALID);
    memcpy(bad, fr, n);
    bad[20 + 12] = 0x40;         /* TCP data offset 16 bytes */
    assert_int_equal(pkt_decode(&d, o.dlt, bad, n, 0, &t), PKT_INVALID);
    memcpy(bad, fr, n);
    bad[2] = 0;
    bad[3] = 30;                 /* total length shorter than IP + TCP headers */
    assert_int_equal(pkt_decode(&d, o.dlt, bad, n, 0, &t), PKT_INVALID);
    memcpy(bad, fr, n);
    bad[9] = 17;                 /* UDP */
    assert_int_equal(pkt_decode(&d, o.dlt, bad, n, 0, &t), PKT_NOT_TCP);
    assert_int_equal(pkt_decode(&d, 9999, fr, n, 0, &t), PKT_UNSUPPORTED);
    /* Ethernet padding past the IP total length is not payload */
    struct gen_frame_opts oe = {PKT_DLT_EN10MB, 0, 0};
    uint8_t eth[128] = {0};
    size_t ne = gen_frame(&oe, &a, &b, 1, 1, PKT_TCP_ACK, NULL, 0, eth, sizeof eth);
    assert_int_equal(ne, 54);
    assert_int_equal(pkt_decode(&d, oe.dlt, eth, 60, 0, &t), PKT_OK);
    assert_int_equal(t.len, 0);
    assert_int_equal(t.wire_len, 0);
    assert_int_equal(d.st.invalid, 3);
    assert_int_equal(d.st.not_tcp, 1);
    assert_int_equal(d.st.unsupported, 1);
    assert_int_equal(d.st.frames, 6);
    pkt_decoder_free(&d);
}

/* IPv4 fragments: a TCP segment split in three, delivered out of order. */
static void test_decode_ipv4_fragments(void **state)
{
    (void)state;
    struct gen_ep a, b;
    gen_ep_set(&a, "10.0.0.1", 40000);
    gen_ep_set(&b, "10.0.0.2", 80);
    struct gen_frame_opts o = {PKT_DLT_RAW, 0, 0};
    char payload[60];
    for (int i = 0; i < 60; i++)
        payload[i] = (char)('A' + i % 26);
    uint8_t whole[256];
    size_t n = gen_frame(&o, &a, &b, 7, 9, PKT_TCP_ACK, payload, 60, whole, sizeof whole);
    assert_int_equal(n, 100);
    /* IP payload = 80 bytes (TCP 20 + 60): fragments of 32, 32, 16 */
    uint8_t frag[3][128];
    size_t flen[3];
    for (int i = 0; i < 3; i++) {
        size_t off = 32 * (size_t)i, len = i < 2 ? 32 : 16;
        memcpy(frag[i], whole, 20);
        memcpy(frag[i] + 20, whole + 20 + off, len);
        frag[i][2] = 0;
        frag[i][3] = (uint8_t)(20 + len);
        frag[i][4] = 0x12;
        frag[i][5] = 0x34;
        uint16_t fw = (uint16_t)((off / 8) | (i < 2 ? 0x2000 : 0));
        frag[i][6] = (uint8_t)(fw >> 8);
        frag[i][7] = (uint8_t)fw;
        flen[i] = 20 + len;
    }
    struct pkt_decoder d;
    pkt_decoder_init(&d);
    struct pkt_tcp t;
    assert_int_equal(pkt_decode(&d, o.dlt, frag[2], flen[2], 0, &t), PKT_FRAG_HELD);
    assert_int_equal(pkt_decode(&d, o.dlt, frag[0], flen[0], 1, &t), PKT_FRAG_HELD);
    assert_int_equal(pkt_decode(&d, o.dlt, frag[1], flen[1], 2, &t), PKT_OK);
    assert_int_equal(t.seq, 7);
    assert_int_equal(t.len, 60);
    assert_memory_equal(t.payload, payload, 60);
    assert_int_equal(d.st.frags, 3);
    assert_int_equal(d.st.frags_reassembled, 1);
    /* a lone fragment expires after the timeout and is counted as dropped */
    assert_int_equal(pkt_decode(&d, o.dlt, frag[0], flen[0], 10, &t), PKT_FRAG_HELD);
    assert_int_equal(pkt_decode(&d, o.dlt, frag[2], flen[2], 10 + PKT_FRAG_TIMEOUT_US + 1, &t),
                     PKT_FRAG_HELD);
    assert_int_equal(d.st.frags_dropped, 1);
    pkt_decoder_free(&d);
}

/* IPv6 fragment i of a datagram: the 40-byte header of `whole` with Next Header 44, then the
 * fragment header (next header nx, offset, M, id) and `len` bytes of the fragmentable part. */
static size_t v6_frag(const uint8_t *whole, uint8_t nx, size_t off, int more, uint32_t id,
                      const uint8_t *part, size_t len, uint8_t *out)
{
    memcpy(out, whole, 40);
    out[4] = (uint8_t)((8 + len) >> 8);
    out[5] = (uint8_t)(8 + len);
    out[6] = 44;
    uint16_t fo = (uint16_t)(off | (more ? 1 : 0)); /* off is a multiple of 8 */
    uint8_t *f = out + 40;
    f[0] = nx;
    f[1] = 0;
    f[2] = (uint8_t)(fo >> 8);
    f[3] = (uint8_t)fo;
    f[4] = (uint8_t)(id >> 24);
    f[5] = (uint8_t)(id >> 16);
    f[6] = (uint8_t)(id >> 8);
    f[7] = (uint8_t)id;
    memcpy(out + 48, part, len);
    return 48 + len;
}

/* IPv6 fragments (RFC 8200 §4.5): a TCP segment split in three and delivered out of order,
 * interleaved with another datagram's fragment (same addresses, other id); an atomic fragment;
 * a fragment inside a reassembled datagram is invalid. */
static void test_decode_ipv6_fragments(void **state)
{
    (void)state;
    struct gen_ep a, b;
    assert_int_equal(gen_ep_set(&a, "fd00::1", 40000), 0);
    assert_int_equal(gen_ep_set(&b, "fd00::2", 80), 0);
    struct gen_frame_opts o = {PKT_DLT_RAW, 0, 0};
    char payload[60];
    for (int i = 0; i < 60; i++)
        payload[i] = (char)('a' + i % 26);
    uint8_t whole[256];
    size_t n = gen_frame(&o, &a, &b, 11, 13, PKT_TCP_ACK, payload, 60, whole, sizeof whole);
    assert_int_equal(n, 120);
    assert_int_equal(whole[6], 6);
    const uint8_t *part = whole + 40; /* TCP header + payload: 80 bytes */
    uint8_t f[4][160];
    size_t fl[4];
    fl[0] = v6_frag(whole, 6, 0, 1, 0xabcdef01u, part, 32, f[0]);
    fl[1] = v6_frag(whole, 6, 32, 1, 0xabcdef01u, part + 32, 32, f[1]);
    fl[2] = v6_frag(whole, 6, 64, 0, 0xabcdef01u, part + 64, 16, f[2]);
    fl[3] = v6_frag(whole, 6, 64, 0, 0x22u, part + 64, 16, f[3]); /* another datagram */

    struct pkt_decoder d;
    pkt_decoder_init(&d);
    struct pkt_tcp t;
    assert_int_equal(pkt_decode(&d, o.dlt, f[2], fl[2], 0, &t), PKT_FRAG_HELD);
    assert_int_equal(pkt_decode(&d, o.dlt, f[3], fl[3], 1, &t), PKT_FRAG_HELD);
    assert_int_equal(pkt_decode(&d, o.dlt, f[0], fl[0], 2, &t), PKT_FRAG_HELD);
    assert_int_equal(pkt_decode(&d, o.dlt, f[1], fl[1], 3, &t), PKT_OK);
    assert_int_equal(t.family, 6);
    assert_memory_equal(t.src, a.addr, 16);
    assert_memory_equal(t.dst, b.addr, 16);
    assert_int_equal(t.sport, 40000);
    assert_int_equal(t.dport, 80);
    assert_int_equal(t.seq, 11);
    assert_int_equal(t.len, 60);
    assert_memory_equal(t.payload, payload, 60);
    assert_int_equal(d.st.frags, 4);
    assert_int_equal(d.st.frags_reassembled, 1);

    /* an atomic fragment (offset 0, M 0) is a whole datagram */
    uint8_t at[160];
    size_t al = v6_frag(whole, 6, 0, 0, 7, part, 80, at);
    assert_int_equal(pkt_decode(&d, o.dlt, at, al, 4, &t), PKT_OK);
    assert_int_equal(t.len, 60);
    assert_int_equal(d.st.frags, 4);

    /* the first fragment says the fragmentable part starts with another fragment header */
    uint8_t g[2][160];
    size_t gl0 = v6_frag(whole, 44, 0, 1, 9, part, 32, g[0]);
    size_t gl1 = v6_frag(whole, 6, 32, 0, 9, part + 32, 48, g[1]);
    assert_int_equal(pkt_decode(&d, o.dlt, g[1], gl1, 5, &t), PKT_FRAG_HELD);
    assert_int_equal(pkt_decode(&d, o.dlt, g[0], gl0, 6, &t), PKT_INVALID);

    /* a non-last fragment that is not a multiple of 8 bytes is dropped */
    size_t bl = v6_frag(whole, 6, 0, 1, 10, part, 30, g[0]);
    uint64_t dropped = d.st.frags_dropped;
    assert_int_equal(pkt_decode(&d, o.dlt, g[0], bl, 7, &t), PKT_FRAG_HELD);
    assert_int_equal(d.st.frags_dropped, dropped + 1);
    pkt_decoder_free(&d);
}

/* ---- TCP reassembly ----------------------------------------------------------------------- */

struct rec {
    char out[2][512];            /* delivered bytes per direction, gaps shown as [gap N] */
    size_t n[2];
    int64_t last_ts[2];
    int opens, closes;
    enum tcpr_close why;
    int client;
    int decline;
};

static int rec_open(void *u, struct tcpr_flow *f)
{
    struct rec *r = u;
    (void)f;
    r->opens++;
    return r->decline;
}

static void rec_put(struct rec *r, int dir, const char *s, size_t n)
{
    if (r->n[dir] + n >= sizeof r->out[dir])
        n = sizeof r->out[dir] - 1 - r->n[dir];
    memcpy(r->out[dir] + r->n[dir], s, n);
    r->n[dir] += n;
    r->out[dir][r->n[dir]] = '\0';
}

static void rec_data(void *u, struct tcpr_flow *f, int dir, const uint8_t *p, size_t len,
                     int64_t ts)
{
    struct rec *r = u;
    (void)f;
    rec_put(r, dir, (const char *)p, len);
    r->last_ts[dir] = ts;
}

static void rec_gap(void *u, struct tcpr_flow *f, int dir, uint64_t bytes, int64_t ts)
{
    struct rec *r = u;
    (void)f;
    (void)ts;
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "[gap %llu]", (unsigned long long)bytes);
    rec_put(r, dir, tmp, (size_t)n);
}

static void rec_close(void *u, struct tcpr_flow *f, enum tcpr_close why, int64_t ts)
{
    struct rec *r = u;
    (void)ts;
    r->closes++;
    r->why = why;
    r->client = f->client;
}

static const struct tcpr_callbacks rec_cb = {rec_open, rec_data, rec_gap, rec_close};

struct seg {
    int from_b;                  /* 0: client a → b; 1: b → a */
    uint32_t seq, ack;
    uint8_t flags;
    const char *data;
    size_t wire_extra;           /* bytes the "snaplen" cut off */
};

static void run_segs(struct tcpr_table *t, const struct seg *s, size_t n, int64_t ts0)
{
    for (size_t i = 0; i < n; i++) {
        struct pkt_tcp p;
        memset(&p, 0, sizeof p);
        p.family = 4;
        p.src[0] = s[i].from_b ? 2 : 1;
        p.dst[0] = s[i].from_b ? 1 : 2;
        p.sport = s[i].from_b ? 80 : 5555;
        p.dport = s[i].from_b ? 5555 : 80;
        p.seq = s[i].seq;
        p.ack = s[i].ack;
        p.flags = s[i].flags;
        p.payload = (const uint8_t *)(s[i].data ? s[i].data : "");
        p.len = strlen((const char *)p.payload);
        p.wire_len = p.len + s[i].wire_extra;
        tcpr_segment(t, &p, ts0 + (int64_t)i * 1000);
    }
}

#define A PKT_TCP_ACK
#define S PKT_TCP_SYN
#define F PKT_TCP_FIN
#define R PKT_TCP_RST

static void test_tcpr_in_order_and_fin(void **state)
{
    (void)state;
    struct rec r = {0};
    struct tcpr_table t;
    assert_int_equal(tcpr_init(&t, NULL, &rec_cb, &r), 0);
    const struct seg segs[] = {
        {0, 100, 0, S, NULL, 0},
        {1, 500, 101, S | A, NULL, 0},
        {0, 101, 501, A, NULL, 0},
        {0, 101, 501, A, "GET / HTTP/1.1\r\n", 0},
        {0, 117, 501, A, "\r\n", 0},
        {1, 501, 119, A, "HTTP/1.1 200 OK\r\n", 0},
        {1, 518, 119, A | F, "\r\n", 0},
        {0, 119, 521, A | F, NULL, 0},
        {1, 521, 120, A, NULL, 0},
    };
    run_segs(&t, segs, sizeof segs / sizeof segs[0], 0);
    assert_string_equal(r.out[0], "GET / HTTP/1.1\r\n\r\n");
    assert_string_equal(r.out[1], "HTTP/1.1 200 OK\r\n\r\n");
    assert_int_equal(r.closes, 1);
    assert_int_equal(r.why, TCPR_CLOSE_FIN);
    assert_int_equal(r.client, 0);
    assert_int_equal(t.st.flows, 1);
    assert_int_equal(t.st.gaps, 0);
    tcpr_free(&t, 0);
    assert_int_equal(r.closes, 1);
}

static void test_tcpr_reorder_retransmit_overlap(void **state)
{
    (void)state;
    struct rec r = {0};
    struct tcpr_table t;
    assert_int_equal(tcpr_init(&t, NULL, &rec_cb, &r), 0);
    const struct seg segs[] = {
        {0, 100, 0, S, NULL, 0},
        {0, 107, 0, A, "world", 0},     /* out of order: held */
        {0, 112, 0, A, "!!", 0},        /* held, after the first */
        {0, 107, 0, A, "worXX", 0},     /* duplicate of a held one: the first copy wins */
        {0, 101, 0, A, "hello ", 0},    /* fills the hole: all delivered */
        {0, 101, 0, A, "hello ", 0},    /* retransmission */
        {0, 110, 0, A, "ldXX!?", 0},    /* overlaps 4 delivered bytes, adds "?" */
    };
    run_segs(&t, segs, sizeof segs / sizeof segs[0], 0);
    assert_string_equal(r.out[0], "hello world!!!?");
    assert_int_equal(r.last_ts[0], 6000);
    assert_int_equal(t.st.ooo_segments, 3);
    assert_int_equal(t.st.retransmitted_bytes, 5 + 6);
    assert_int_equal(t.st.overlap_bytes, 4);
    assert_int_equal(t.st.gaps, 0);
    tcpr_free(&t, 0);
    assert_int_equal(r.why, TCPR_CLOSE_FLUSH);
}

static void test_tcpr_gaps(void **state)
{
    (void)state;
    struct rec r = {0};
    struct tcpr_table t;
    assert_int_equal(tcpr_init(&t, NULL, &rec_cb, &r), 0);
    const struct seg segs[] = {
        {0, 1000, 0, A, "abc", 0},      /* mid-connection pickup at 1000 */
        {0, 1010, 0, A, "xyz", 0},      /* hole of 7 (1003..1009) */
        {1, 9000, 1013, A, "ok", 0},    /* the peer acked past the hole: it is lost */
        {0, 1013, 9002, A, "12", 3},    /* snaplen cut 3 bytes */
        {0, 1018, 9002, A, "Z", 0},
    };
    run_segs(&t, segs, sizeof segs / sizeof segs[0], 0);
    assert_string_equal(r.out[0], "abc[gap 7]xyz12[gap 3]Z");
    assert_string_equal(r.out[1], "ok");
    assert_int_equal(t.st.gaps, 2);
    assert_int_equal(t.st.gap_bytes, 10);
    /* a hole that is never acknowledged becomes a gap when the flow ends */
    const struct seg more[] = {{0, 1029, 0, A, "end", 0}};
    run_segs(&t, more, 1, 10000);
    assert_string_equal(r.out[0], "abc[gap 7]xyz12[gap 3]Z");
    tcpr_flush(&t, 20000);
    assert_string_equal(r.out[0], "abc[gap 7]xyz12[gap 3]Z[gap 10]end");
    assert_int_equal(r.client, -1);
    tcpr_free(&t, 0);
}

static void test_tcpr_rst_idle_cap_decline(void **state)
{
    (void)state;
    struct rec r = {0};
    struct tcpr_table t;
    struct tcpr_opts o = {.max_ooo_bytes = 8, .idle_us = 5000000};
    assert_int_equal(tcpr_init(&t, &o, &rec_cb, &r), 0);
    const struct seg segs[] = {
        {1, 500, 0, S | A, NULL, 0},    /* SYN-ACK first: its sender is endpoint 0, the server */
        {1, 501, 0, A, "abc", 0},
        {1, 510, 0, A, "0123", 0},      /* held: 4 bytes */
        {1, 520, 0, A, "456789", 0},    /* over the cap of 8: the first hole gives way */
        {1, 526, 0, R, NULL, 0},
    };
    run_segs(&t, segs, sizeof segs / sizeof segs[0], 0);
    assert_string_equal(r.out[0], "abc[gap 6]0123[gap 6]456789");
    assert_int_equal(r.closes, 1);
    assert_int_equal(r.why, TCPR_CLOSE_RST);
    assert_int_equal(r.client, 1);
    /* idle expiry */
    const struct seg idle[] = {{0, 1, 0, A, "x", 0}};
    run_segs(&t, idle, 1, 1000000);
    tcpr_expire(&t, 7000000);
    assert_int_equal(r.closes, 2);
    assert_int_equal(r.why, TCPR_CLOSE_IDLE);
    assert_int_equal(t.st.closed_idle, 1);
    /* declined flows deliver nothing */
    r.decline = 1;
    const struct seg d[] = {{0, 1, 0, A, "zzz", 0}};
    run_segs(&t, d, 1, 8000000);
    assert_int_equal(t.st.flows_ignored, 1);
    tcpr_free(&t, 0);
    assert_int_equal(r.closes, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_vectors),
        cmocka_unit_test(test_decode_link_types),
        cmocka_unit_test(test_decode_invalid_and_other),
        cmocka_unit_test(test_decode_ipv4_fragments),
        cmocka_unit_test(test_decode_ipv6_fragments),
        cmocka_unit_test(test_tcpr_in_order_and_fin),
        cmocka_unit_test(test_tcpr_reorder_retransmit_overlap),
        cmocka_unit_test(test_tcpr_gaps),
        cmocka_unit_test(test_tcpr_rst_idle_cap_decline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
