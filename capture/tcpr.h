/* tcpr.h — TCP stream reassembly for passive capture (RFC 9293 sequence-space rules).
 *
 * Tracks connections in a bounded flow table and turns each direction's segments into an
 * ordered byte stream for a consumer: out-of-order segments are held (bounded per direction),
 * retransmissions and overlaps are cut so every byte is delivered once, and bytes that will
 * never arrive (acknowledged by the peer but not captured, cut by the snaplen, or pushed out
 * by the out-of-order cap) are reported as a gap of known size instead of being joined
 * silently. A connection first seen without its SYN is picked up where the capture meets it;
 * the consumer decides where its messages resume. Flows end on FIN from both sides, RST,
 * idle expiry, or tcpr_flush at the end of the capture.
 *
 * Buffered bytes are delivered with the timestamp of the packet that completed them (the one
 * filling the hole), which is when a receiver could have used them. */
#ifndef LLMTRACE_CAPTURE_TCPR_H
#define LLMTRACE_CAPTURE_TCPR_H

#include <stddef.h>
#include <stdint.h>

#include "pkt.h"

struct tcpr_seg;                 /* private: one held out-of-order segment */

struct tcpr_dir {
    int started;                 /* a first sequence number is known */
    int syn_seen;
    int fin_seen;
    int ended;                   /* on_end delivered */
    uint32_t next_seq;           /* next byte to deliver */
    uint32_t fin_seq;            /* sequence number of FIN */
    struct tcpr_seg *ooo;        /* held segments sorted by seq */
    size_t ooo_bytes;
    uint64_t delivered;          /* bytes delivered */
};

enum tcpr_close { TCPR_CLOSE_FIN = 1, TCPR_CLOSE_RST, TCPR_CLOSE_IDLE, TCPR_CLOSE_FLUSH };

struct tcpr_flow {
    /* endpoint a = the sender of the first packet seen (or the SYN sender); dir 0 = a → b */
    int family;
    uint8_t addr[2][16];
    uint16_t port[2];
    int client;                  /* index of the connecting side when a SYN told; else -1 */
    int midstream;               /* no SYN seen: picked up mid-connection */
    uint64_t id;                 /* 1, 2, 3… in order of first packet */
    int64_t first_us, last_us;
    /* the handshake as captured (0 = not seen): the client's first SYN, and the client's ACK
     * of the server's SYN-ACK (the moment connect() returns on the client) */
    int64_t syn_us, established_us;
    struct tcpr_dir dir[2];
    void *app;                   /* consumer state */
    /* private */
    int ignored;                 /* on_open declined it: packets are dropped cheaply */
    int synack_seen;
    uint32_t synack_next;        /* the server's ISN + 1, which the client's ACK names */
    struct tcpr_flow *hnext;     /* hash chain */
    struct tcpr_flow *lprev, *lnext; /* LRU list, most recent first */
};

struct tcpr_callbacks {
    /* New flow. Return 0 to track it, non-zero to ignore its packets (not counted as a flow). */
    int (*on_open)(void *user, struct tcpr_flow *f);
    /* In-order bytes of direction dir (0: a → b), completed by the packet at ts_us. */
    void (*on_data)(void *user, struct tcpr_flow *f, int dir, const uint8_t *p, size_t len,
                    int64_t ts_us);
    /* bytes of direction dir will never be delivered; the stream continues after them. */
    void (*on_gap)(void *user, struct tcpr_flow *f, int dir, uint64_t bytes, int64_t ts_us);
    /* The flow is going away; app must be released here. */
    void (*on_close)(void *user, struct tcpr_flow *f, enum tcpr_close why, int64_t ts_us);
    /* Optional (may be NULL): direction dir delivered its last byte before FIN at ts_us. */
    void (*on_fin)(void *user, struct tcpr_flow *f, int dir, int64_t ts_us);
};

struct tcpr_opts {
    size_t max_flows;            /* default 65536; the least recently active flow is evicted */
    size_t max_ooo_bytes;        /* per direction; default 1 MiB */
    int64_t idle_us;             /* expire flows idle this long; 0 = default 300 s; < 0 never */
};

struct tcpr_stats {
    uint64_t segments, bytes, flows, flows_ignored;
    uint64_t retransmitted_bytes, overlap_bytes, ooo_segments, gaps, gap_bytes;
    uint64_t closed_fin, closed_rst, closed_idle, closed_evicted;
    uint64_t ooo_dropped;        /* segments that could not be held (cap / no memory) */
};

struct tcpr_table {
    struct tcpr_opts o;
    struct tcpr_callbacks cb;
    void *user;
    struct tcpr_flow **buckets;
    size_t nbuckets;
    size_t nflows;
    struct tcpr_flow *lru_head, *lru_tail;
    uint64_t next_id;
    int64_t last_expire_us;
    struct tcpr_stats st;
};

/* 0, or -1 when out of memory. o may be NULL for defaults. */
int tcpr_init(struct tcpr_table *t, const struct tcpr_opts *o, const struct tcpr_callbacks *cb,
              void *user);
/* Closes every flow (TCPR_CLOSE_FLUSH, delivering held bytes after gaps) and frees the table. */
void tcpr_free(struct tcpr_table *t, int64_t now_us);
/* Processes one decoded segment captured at ts_us. */
void tcpr_segment(struct tcpr_table *t, const struct pkt_tcp *s, int64_t ts_us);
/* Expires idle flows (call about once a second; tcpr_segment also calls it). */
void tcpr_expire(struct tcpr_table *t, int64_t now_us);
/* Closes every flow now, as at the end of a capture. */
void tcpr_flush(struct tcpr_table *t, int64_t now_us);

#endif
