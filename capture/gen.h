/* gen.h — builds synthetic frames (link + IP + TCP headers around a payload) for the golden
 * pcaps of the test suite, the fuzzing corpus and the benchmark's generated capture. Not used
 * by the capture path itself. */
#ifndef LLMTRACE_CAPTURE_GEN_H
#define LLMTRACE_CAPTURE_GEN_H

#include <stddef.h>
#include <stdint.h>

struct gen_ep {
    int family;                  /* 4 or 6 */
    uint8_t addr[16];
    uint16_t port;
};

struct gen_frame_opts {
    int dlt;                     /* PKT_DLT_EN10MB, LINUX_SLL, LINUX_SLL2, NULL, LOOP, RAW */
    int vlans;                   /* EN10MB: number of stacked 802.1Q/802.1ad tags (0-2) */
    int ipv6_ext;                /* IPv6: insert a hop-by-hop + destination-options header */
};

/* Parses "10.0.0.1" or "::1" with a port into ep. 0 or -1. */
int gen_ep_set(struct gen_ep *ep, const char *addr, uint16_t port);
/* Writes one frame from src to dst into out (cap bytes). Returns its length, or 0 when it does
 * not fit. flags: PKT_TCP_*; payload may be NULL when len is 0. */
size_t gen_frame(const struct gen_frame_opts *o, const struct gen_ep *src,
                 const struct gen_ep *dst, uint32_t seq, uint32_t ack, uint8_t flags,
                 const void *payload, size_t len, uint8_t *out, size_t cap);

#endif
