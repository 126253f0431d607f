/* gen_pcap.c — writes the capture benchmark's input: a pcap of many concurrent OpenAI-style
 * SSE streams on one server port (Ethernet, IPv4), the way a busy LLM gateway looks on the
 * wire. Each connection sends requests back to back; each response streams N content events,
 * one per packet, with the client's ACK every second packet. Deterministic (fixed seed).
 * usage: capture-bench-gen OUT.pcap TARGET_MB [CONNECTIONS] [EVENTS_PER_RESPONSE] */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"
#include "pkt.h"

struct bconn {
    struct gen_ep c, s;
    uint32_t cseq, sseq;
    int phase;                   /* 0 request, 1 head, 2.. events, then [DONE] */
    int ev;
    int64_t next_us;
    unsigned req_no;
};

static uint32_t bench_rand(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(*s >> 33);
}

static void bench_dump(pcap_dumper_t *d, int64_t ts, const uint8_t *fr, size_t n, uint64_t *bytes)
{
    struct pcap_pkthdr h;
    h.ts.tv_sec = (time_t)(ts / 1000000);
    h.ts.tv_usec = (suseconds_t)(ts % 1000000);
    h.caplen = h.len = (bpf_u_int32)n;
    pcap_dump((u_char *)d, &h, fr);
    *bytes += 16 + n;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s OUT.pcap TARGET_MB [CONNECTIONS] [EVENTS]\n", argv[0]);
        return 2;
    }
    uint64_t target = strtoull(argv[2], NULL, 10) * 1000000ULL;
    int nconn = argc > 3 ? atoi(argv[3]) : 256;
    int nev = argc > 4 ? atoi(argv[4]) : 200;
    pcap_t *dead = pcap_open_dead(DLT_EN10MB, 262144);
    pcap_dumper_t *d = pcap_dump_open(dead, argv[1]);
    if (!d) {
        fprintf(stderr, "%s\n", pcap_geterr(dead));
        return 1;
    }
    struct gen_frame_opts fo = {PKT_DLT_EN10MB, 0, 0};
    struct bconn *cs = calloc((size_t)nconn, sizeof *cs);
    uint64_t rng = 42, bytes = 24;
    int64_t t0 = 1700000000000000LL;
    for (int i = 0; i < nconn; i++) {
        char a[32];
        snprintf(a, sizeof a, "10.1.%d.%d", i / 250, i % 250 + 1);
        gen_ep_set(&cs[i].c, a, (uint16_t)(30000 + i));
        gen_ep_set(&cs[i].s, "10.0.0.10", 8000);
        cs[i].cseq = bench_rand(&rng);
        cs[i].sseq = bench_rand(&rng);
        cs[i].next_us = t0 + bench_rand(&rng) % 100000;
    }
    static uint8_t fr[70000];
    char prompt[1600], req[2200], ev[512], chunk[600];
    memset(prompt, 'w', sizeof prompt);
    for (size_t i = 0; i < sizeof prompt; i += 6)
        prompt[i] = ' ';
    uint64_t packets = 0, exchanges = 0;
    while (bytes < target) {
        /* the connection due next (linear scan: the generator is not what is measured) */
        struct bconn *b = &cs[0];
        for (int i = 1; i < nconn; i++)
            if (cs[i].next_us < b->next_us)
                b = &cs[i];
        int64_t ts = b->next_us;
        size_t n = 0;
        if (b->phase == 0) {
            int plen = 400 + (int)(bench_rand(&rng) % 1000);
            char body[1800];
            int bl = snprintf(body, sizeof body,
                              "{\"model\":\"llama-3-8b\",\"stream\":true,\"max_tokens\":%d,"
                              "\"messages\":[{\"role\":\"user\",\"content\":\"%.*s\"}]}",
                              nev, plen, prompt);
            int rl = snprintf(req, sizeof req,
                              "POST /v1/chat/completions HTTP/1.1\r\nHost: gw.internal:8000\r\n"
                              "Authorization: Bearer sk-bench\r\nContent-Type: application/json\r\n"
                              "Content-Length: %d\r\n\r\n%s", bl, body);
            n = gen_frame(&fo, &b->c, &b->s, b->cseq, b->sseq, PKT_TCP_ACK | PKT_TCP_PSH, req,
                          (size_t)rl, fr, sizeof fr);
            b->cseq += (uint32_t)rl;
            b->phase = 1;
            b->next_us = ts + 20000 + bench_rand(&rng) % 80000;   /* prefill */
        } else {
            int len;
            if (b->phase == 1) {
                len = snprintf(chunk, sizeof chunk,
                               "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                               "Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\n\r\n");
                b->phase = 2;
                b->ev = 0;
            } else if (b->ev < nev) {
                int el = snprintf(ev, sizeof ev,
                                  "data: {\"id\":\"chatcmpl-%u\",\"object\":\"chat.completion.chunk\","
                                  "\"created\":1700000000,\"model\":\"llama-3-8b\",\"choices\":[{"
                                  "\"index\":0,\"delta\":{\"content\":\" tok%d\"},\"logprobs\":null,"
                                  "\"finish_reason\":null}]}\n\n", b->req_no, b->ev);
                len = snprintf(chunk, sizeof chunk, "%x\r\n%s\r\n", el, ev);
                b->ev++;
            } else {
                len = snprintf(chunk, sizeof chunk, "e\r\ndata: [DONE]\n\n\r\n0\r\n\r\n");
                b->phase = 0;
                b->req_no++;
                exchanges++;
            }
            n = gen_frame(&fo, &b->s, &b->c, b->sseq, b->cseq, PKT_TCP_ACK | PKT_TCP_PSH, chunk,
                          (size_t)len, fr, sizeof fr);
            b->sseq += (uint32_t)len;
            b->next_us = ts + (b->phase == 0 ? 5000 : 15000 + bench_rand(&rng) % 20000);
            if (b->ev % 2 == 0) {
                bench_dump(d, ts, fr, n, &bytes);
                packets++;
                n = gen_frame(&fo, &b->c, &b->s, b->cseq, b->sseq, PKT_TCP_ACK, NULL, 0, fr,
                              sizeof fr);
                ts += 30;
            }
        }
        bench_dump(d, ts, fr, n, &bytes);
        packets++;
    }
    pcap_dump_close(d);
    pcap_close(dead);
    free(cs);
    fprintf(stderr, "%s: %llu bytes, %llu packets, %llu complete exchanges, %d connections\n",
            argv[1], (unsigned long long)bytes, (unsigned long long)packets,
            (unsigned long long)exchanges, nconn);
    return 0;
}
