/* pkt.h — link layer, IPv4 and IPv6 decoding of one captured frame down to its TCP segment.
 *
 * Follows the libpcap link-type definitions (pcap-linktype(7)): Ethernet with 802.1Q / 802.1ad
 * (QinQ) tags, Linux cooked v1 (SLL) and v2 (SLL2), BSD NULL / LOOP, raw IP (DLT_RAW, IPV4,
 * IPV6); IPv4 per RFC 791 and IPv6 per RFC 8200 (extension headers skipped), both with
 * fragment reassembly in one bounded table, TCP header per RFC 9293. Every read is bounds-checked: a frame
 * shorter than its headers is "truncated", one whose fields contradict each other "invalid";
 * both are counted apart, as tcpdump does. */
#ifndef LLMTRACE_CAPTURE_PKT_H
#define LLMTRACE_CAPTURE_PKT_H

#include <stddef.h>
#include <stdint.h>

/* Link types as returned by pcap_datalink() (DLT_*) plus the LINKTYPE_RAW alias. */
#define PKT_DLT_NULL       0
#define PKT_DLT_EN10MB     1
#define PKT_DLT_RAW        12
#define PKT_DLT_RAW_BSD    14
#define PKT_LINKTYPE_RAW   101
#define PKT_DLT_LOOP       108
#define PKT_DLT_LINUX_SLL  113
#define PKT_DLT_IPV4       228
#define PKT_DLT_IPV6       229
#define PKT_DLT_LINUX_SLL2 276

#define PKT_TCP_FIN 0x01
#define PKT_TCP_SYN 0x02
#define PKT_TCP_RST 0x04
#define PKT_TCP_PSH 0x08
#define PKT_TCP_ACK 0x10

enum pkt_result {
    PKT_OK = 0,          /* out holds a TCP segment */
    PKT_NOT_TCP,         /* valid frame, not IP/TCP (ARP, UDP, ICMP…) */
    PKT_FRAG_HELD,       /* IP fragment kept for reassembly; nothing to hand on yet */
    PKT_TRUNCATED,       /* captured bytes end inside a header */
    PKT_INVALID,         /* header fields inconsistent (bad version, lengths, offsets) */
    PKT_UNSUPPORTED,     /* link type this decoder does not know */
};

struct pkt_tcp {
    int family;                  /* 4 or 6 */
    uint8_t src[16], dst[16];    /* IPv4 uses the first 4 bytes */
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;               /* PKT_TCP_* */
    const uint8_t *payload;      /* captured payload bytes (may be fewer than wire_len) */
    size_t len;
    size_t wire_len;             /* payload length the IP header claims (snaplen may cut it) */
};

struct pkt_stats {
    uint64_t frames, tcp, not_tcp, truncated, invalid, unsupported;
    uint64_t frags, frags_reassembled, frags_dropped;
};

#define PKT_FRAG_SLOTS 64          /* datagrams being reassembled at once */
#define PKT_FRAG_TIMEOUT_US 30000000
#define PKT_FRAG_MAX 65535

struct pkt_frag;                 /* private */

struct pkt_decoder {
    struct pkt_stats st;
    struct pkt_frag *frags;      /* PKT_FRAG_SLOTS entries, allocated on first fragment */
    uint8_t *reasm;              /* reassembled datagram handed out by the last PKT_OK */
};

void pkt_decoder_init(struct pkt_decoder *d);
void pkt_decoder_free(struct pkt_decoder *d);
/* Decodes one frame of link type dlt. caplen: bytes captured; ts_us: capture time (for fragment
 * expiry). On PKT_OK, out's payload points into data or into the decoder (valid until the next
 * call). Counters in d->st are updated for every frame. */
enum pkt_result pkt_decode(struct pkt_decoder *d, int dlt, const uint8_t *data, size_t caplen,
                           int64_t ts_us, struct pkt_tcp *out);
/* 1 when the decoder knows link type dlt. */
int pkt_dlt_supported(int dlt);

#endif
