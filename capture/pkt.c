/* pkt.c — frame → TCP segment decoding (pcap-linktype(7), RFC 791, RFC 8200, RFC 9293).
 *
 * Bytes are read only through the cursor helpers below, which check the remaining length
 * first (tcpdump's GET_* discipline). */
#include "pkt.h"

#include <stdlib.h>
#include <string.h>

struct pkt_frag {
    int used;
    int family;                  /* 4 or 6 */
    uint8_t src[16], dst[16];    /* IPv4 uses the first 4 bytes */
    uint32_t id;                 /* IPv4: 16 bits; IPv6 fragment header: 32 */
    uint8_t proto;               /* IPv4 protocol / IPv6 next header of the fragmentable part */
    int64_t first_us;
    int32_t total;               /* payload length once the last fragment arrived; else -1 */
    uint8_t *data;               /* PKT_FRAG_MAX bytes */
    uint8_t have[PKT_FRAG_MAX / 8 / 8 + 1]; /* bitmap of 8-byte blocks received */
};

struct pkt_cur {
    const uint8_t *p, *end;
};

static int pkt_need(const struct pkt_cur *c, size_t n)
{
    return n <= (size_t)(c->end - c->p);
}

static uint16_t pkt_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t pkt_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void pkt_decoder_init(struct pkt_decoder *d)
{
    memset(d, 0, sizeof *d);
}

void pkt_decoder_free(struct pkt_decoder *d)
{
    if (!d)
        return;
    if (d->frags) {
        for (int i = 0; i < PKT_FRAG_SLOTS; i++)
            free(d->frags[i].data);
        free(d->frags);
    }
    free(d->reasm);
    memset(d, 0, sizeof *d);
}

int pkt_dlt_supported(int dlt)
{
    switch (dlt) {
    case PKT_DLT_NULL: case PKT_DLT_EN10MB: case PKT_DLT_RAW: case PKT_DLT_RAW_BSD:
    case PKT_LINKTYPE_RAW: case PKT_DLT_LOOP: case PKT_DLT_LINUX_SLL: case PKT_DLT_IPV4:
    case PKT_DLT_IPV6: case PKT_DLT_LINUX_SLL2:
        return 1;
    default:
        return 0;
    }
}

/* TCP header at c (the IP payload); claimed: payload length the IP header states. */
static enum pkt_result pkt_tcp_parse(struct pkt_cur c, size_t claimed, struct pkt_tcp *out)
{
    if (!pkt_need(&c, 20))
        return claimed < 20 ? PKT_INVALID : PKT_TRUNCATED;
    size_t thl = (size_t)(c.p[12] >> 4) * 4;
    if (thl < 20 || thl > claimed)
        return PKT_INVALID;
    if (!pkt_need(&c, thl))
        return PKT_TRUNCATED;
    out->sport = pkt_be16(c.p);
    out->dport = pkt_be16(c.p + 2);
    out->seq = pkt_be32(c.p + 4);
    out->ack = pkt_be32(c.p + 8);
    out->flags = c.p[13] & 0x3f;
    c.p += thl;
    out->wire_len = claimed - thl;
    size_t avail = (size_t)(c.end - c.p);
    out->len = avail < out->wire_len ? avail : out->wire_len;
    out->payload = c.p;
    return PKT_OK;
}

static void pkt_frag_expire(struct pkt_decoder *d, int64_t now_us)
{
    for (int i = 0; i < PKT_FRAG_SLOTS; i++) {
        struct pkt_frag *f = &d->frags[i];
        if (f->used && now_us - f->first_us > PKT_FRAG_TIMEOUT_US) {
            f->used = 0;
            d->st.frags_dropped++;
        }
    }
}

static int pkt_frag_complete(const struct pkt_frag *f)
{
    if (f->total < 0)
        return 0;
    size_t blocks = ((size_t)f->total + 7) / 8;
    for (size_t b = 0; b < blocks; b++)
        if (!(f->have[b / 8] & (1u << (b % 8))))
            return 0;
    return 1;
}

static enum pkt_result pkt_ipv6_walk(struct pkt_decoder *d, const uint8_t *src,
                                     const uint8_t *dst, uint8_t next, struct pkt_cur c,
                                     size_t plen, int64_t ts_us, int reassembled,
                                     struct pkt_tcp *out);

/* Which datagram a fragment belongs to (RFC 791 §3.2: source, destination, protocol,
 * identification; RFC 8200 §4.5: source, destination, identification). */
struct pkt_frag_key {
    int family;
    const uint8_t *src, *dst;    /* 4 or 16 bytes */
    uint32_t id;
    uint8_t proto;
};

/* One fragment (payload bytes at c, offset in bytes, more = MF / M flag). Returns PKT_OK with
 * out filled once the datagram is whole, PKT_FRAG_HELD while waiting. */
static enum pkt_result pkt_frag_add(struct pkt_decoder *d, const struct pkt_frag_key *k,
                                    struct pkt_cur c, size_t claimed, size_t off, int more,
                                    int64_t ts_us, struct pkt_tcp *out)
{
    size_t alen = k->family == 6 ? 16 : 4;
    d->st.frags++;
    if (!d->frags) {
        d->frags = calloc(PKT_FRAG_SLOTS, sizeof *d->frags);
        if (!d->frags) {
            d->st.frags_dropped++;
            return PKT_FRAG_HELD;
        }
    }
    pkt_frag_expire(d, ts_us);
    if ((size_t)(c.end - c.p) < claimed || off + claimed > PKT_FRAG_MAX ||
        (more && claimed % 8)) {
        d->st.frags_dropped++;  /* snaplen cut a fragment, or it overflows the datagram */
        return PKT_FRAG_HELD;
    }
    struct pkt_frag *f = NULL, *freeslot = NULL, *oldest = NULL;
    for (int i = 0; i < PKT_FRAG_SLOTS; i++) {
        struct pkt_frag *s = &d->frags[i];
        if (!s->used) {
            if (!freeslot)
                freeslot = s;
            continue;
        }
        if (s->family == k->family && s->id == k->id &&
            (k->family == 6 || s->proto == k->proto) && !memcmp(s->src, k->src, alen) &&
            !memcmp(s->dst, k->dst, alen)) {
            f = s;
            break;
        }
        if (!oldest || s->first_us < oldest->first_us)
            oldest = s;
    }
    if (!f) {
        if (!freeslot) {         /* table full: the oldest datagram gives way */
            freeslot = oldest;
            d->st.frags_dropped++;
        }
        f = freeslot;
        if (!f->data && !(f->data = malloc(PKT_FRAG_MAX)))
            return PKT_FRAG_HELD;
        f->used = 1;
        f->family = k->family;
        f->id = k->id;
        f->proto = k->proto;
        memset(f->src, 0, 16);
        memset(f->dst, 0, 16);
        memcpy(f->src, k->src, alen);
        memcpy(f->dst, k->dst, alen);
        f->first_us = ts_us;
        f->total = -1;
        memset(f->have, 0, sizeof f->have);
    }
    if (off == 0)
        f->proto = k->proto; /* IPv6: only the first fragment's Next Header counts (§4.5) */
    memcpy(f->data + off, c.p, claimed);
    for (size_t b = off / 8; b < (off + claimed + 7) / 8; b++)
        f->have[b / 8] |= (uint8_t)(1u << (b % 8));
    if (!more)
        f->total = (int32_t)(off + claimed);
    if (!pkt_frag_complete(f))
        return PKT_FRAG_HELD;
    f->used = 0;
    d->st.frags_reassembled++;
    if (f->family == 4 && f->proto != 6)
        return PKT_NOT_TCP;
    /* hand out a copy so the slot can be reused by the next frame */
    if (!d->reasm && !(d->reasm = malloc(PKT_FRAG_MAX)))
        return PKT_FRAG_HELD;
    memcpy(d->reasm, f->data, (size_t)f->total);
    if (f->family == 6) {        /* the fragmentable part: more extension headers, then TCP */
        struct pkt_cur r6 = {d->reasm, d->reasm + f->total};
        return pkt_ipv6_walk(d, f->src, f->dst, f->proto, r6, (size_t)f->total, ts_us, 1, out);
    }
    out->family = 4;
    memset(out->src, 0, 16);
    memset(out->dst, 0, 16);
    memcpy(out->src, f->src, 4);
    memcpy(out->dst, f->dst, 4);
    struct pkt_cur r = {d->reasm, d->reasm + f->total};
    return pkt_tcp_parse(r, (size_t)f->total, out);
}

static enum pkt_result pkt_ipv4(struct pkt_decoder *d, struct pkt_cur c, int64_t ts_us,
                                struct pkt_tcp *out)
{
    if (!pkt_need(&c, 20))
        return PKT_TRUNCATED;
    const uint8_t *ip = c.p;
    if (ip[0] >> 4 != 4)
        return PKT_INVALID;
    size_t ihl = (size_t)(ip[0] & 15) * 4;
    size_t tot = pkt_be16(ip + 2);
    if (tot == 0)                /* TSO on the capturing host: the length is not filled in */
        tot = (size_t)(c.end - c.p);
    if (ihl < 20 || tot < ihl)
        return PKT_INVALID;
    if (!pkt_need(&c, ihl))
        return PKT_TRUNCATED;
    uint16_t fragw = pkt_be16(ip + 6);
    size_t off = (size_t)(fragw & 0x1fff) * 8;
    int more = (fragw & 0x2000) != 0;
    c.p += ihl;
    if ((size_t)(c.end - c.p) > tot - ihl)  /* drop Ethernet padding */
        c.end = c.p + (tot - ihl);
    if (off || more) {
        struct pkt_frag_key k = {4, ip + 12, ip + 16, pkt_be16(ip + 4), ip[9]};
        return pkt_frag_add(d, &k, c, tot - ihl, off, more, ts_us, out);
    }
    if (ip[9] != 6)
        return PKT_NOT_TCP;
    out->family = 4;
    memset(out->src, 0, 16);
    memset(out->dst, 0, 16);
    memcpy(out->src, ip + 12, 4);
    memcpy(out->dst, ip + 16, 4);
    return pkt_tcp_parse(c, tot - ihl, out);
}

/* RFC 8200 §4: walks extension headers from `next` at c (plen bytes of IPv6 payload left) to
 * the TCP header; each is (next, len in 8-octet units - 1). reassembled: c is a datagram put
 * back together from fragments, which cannot hold another fragment header. */
static enum pkt_result pkt_ipv6_walk(struct pkt_decoder *d, const uint8_t *src,
                                     const uint8_t *dst, uint8_t next, struct pkt_cur c,
                                     size_t plen, int64_t ts_us, int reassembled,
                                     struct pkt_tcp *out)
{
    for (int hops = 0; hops < 16; hops++) {
        switch (next) {
        case 6:
            out->family = 6;
            memcpy(out->src, src, 16);
            memcpy(out->dst, dst, 16);
            return pkt_tcp_parse(c, plen, out);
        case 0: case 43: case 60: case 135: case 139: case 140: {
            if (!pkt_need(&c, 8))
                return PKT_TRUNCATED;
            size_t hl = ((size_t)c.p[1] + 1) * 8;
            if (hl > plen)
                return PKT_INVALID;
            if (!pkt_need(&c, hl))
                return PKT_TRUNCATED;
            next = c.p[0];
            c.p += hl;
            plen -= hl;
            break;
        }
        case 44: {               /* fragment header (RFC 8200 §4.5) */
            if (!pkt_need(&c, 8))
                return PKT_TRUNCATED;
            if (plen < 8 || reassembled)
                return PKT_INVALID;
            uint16_t fo = pkt_be16(c.p + 2);
            size_t off = fo & 0xfff8;  /* 13-bit offset in 8-octet units, already × 8 */
            int more = fo & 1;
            uint8_t nx = c.p[0];
            uint32_t id = pkt_be32(c.p + 4);
            c.p += 8;
            plen -= 8;
            if (!off && !more) { /* an atomic fragment (RFC 6946): a whole datagram */
                next = nx;
                break;
            }
            struct pkt_frag_key k = {6, src, dst, id, nx};
            if ((size_t)(c.end - c.p) > plen)
                c.end = c.p + plen;
            return pkt_frag_add(d, &k, c, plen, off, more, ts_us, out);
        }
        case 51: {               /* AH: length in 4-octet units - 2 */
            if (!pkt_need(&c, 8))
                return PKT_TRUNCATED;
            size_t hl = ((size_t)c.p[1] + 2) * 4;
            if (hl > plen)
                return PKT_INVALID;
            if (!pkt_need(&c, hl))
                return PKT_TRUNCATED;
            next = c.p[0];
            c.p += hl;
            plen -= hl;
            break;
        }
        default:                 /* 59 no next header, ESP, ICMPv6, UDP… */
            return PKT_NOT_TCP;
        }
    }
    return PKT_INVALID;
}

static enum pkt_result pkt_ipv6(struct pkt_decoder *d, struct pkt_cur c, int64_t ts_us,
                                struct pkt_tcp *out)
{
    if (!pkt_need(&c, 40))
        return PKT_TRUNCATED;
    const uint8_t *ip = c.p;
    if (ip[0] >> 4 != 6)
        return PKT_INVALID;
    size_t plen = pkt_be16(ip + 4);
    if (plen == 0)               /* jumbogram or TSO: trust the captured length */
        plen = (size_t)(c.end - c.p) - 40;
    c.p += 40;
    if ((size_t)(c.end - c.p) > plen)
        c.end = c.p + plen;
    return pkt_ipv6_walk(d, ip + 8, ip + 24, ip[6], c, plen, ts_us, 0, out);
}

/* Dispatches on an EtherType-like value. */
static enum pkt_result pkt_ethertype(struct pkt_decoder *d, uint16_t type, struct pkt_cur c,
                                     int64_t ts_us, struct pkt_tcp *out)
{
    if (type == 0x0800)
        return pkt_ipv4(d, c, ts_us, out);
    if (type == 0x86dd)
        return pkt_ipv6(d, c, ts_us, out);
    return PKT_NOT_TCP;
}

/* Raw IP: the version nibble says which. */
static enum pkt_result pkt_rawip(struct pkt_decoder *d, struct pkt_cur c, int64_t ts_us,
                                 struct pkt_tcp *out)
{
    if (!pkt_need(&c, 1))
        return PKT_TRUNCATED;
    switch (c.p[0] >> 4) {
    case 4: return pkt_ipv4(d, c, ts_us, out);
    case 6: return pkt_ipv6(d, c, ts_us, out);
    default: return PKT_INVALID;
    }
}

static enum pkt_result pkt_link(struct pkt_decoder *d, int dlt, struct pkt_cur c, int64_t ts_us,
                                struct pkt_tcp *out)
{
    switch (dlt) {
    case PKT_DLT_EN10MB: {
        if (!pkt_need(&c, 14))
            return PKT_TRUNCATED;
        uint16_t type = pkt_be16(c.p + 12);
        c.p += 14;
        /* 802.1Q (0x8100), 802.1ad (0x88a8) and the old QinQ 0x9100: 4-byte tags, stacked */
        for (int tags = 0; type == 0x8100 || type == 0x88a8 || type == 0x9100; tags++) {
            if (tags == 8)
                return PKT_INVALID;
            if (!pkt_need(&c, 4))
                return PKT_TRUNCATED;
            type = pkt_be16(c.p + 2);
            c.p += 4;
        }
        if (type <= 1500)        /* 802.3 length field: LLC, not IP */
            return PKT_NOT_TCP;
        return pkt_ethertype(d, type, c, ts_us, out);
    }
    case PKT_DLT_LINUX_SLL:
        if (!pkt_need(&c, 16))
            return PKT_TRUNCATED;
        c.p += 16;
        return pkt_ethertype(d, pkt_be16(c.p - 2), c, ts_us, out);
    case PKT_DLT_LINUX_SLL2: {
        if (!pkt_need(&c, 20))
            return PKT_TRUNCATED;
        uint16_t type = pkt_be16(c.p);
        c.p += 20;
        return pkt_ethertype(d, type, c, ts_us, out);
    }
    case PKT_DLT_NULL:
    case PKT_DLT_LOOP: {
        if (!pkt_need(&c, 4))
            return PKT_TRUNCATED;
        /* NULL: AF in the capturing host's byte order; LOOP: network order. Accept either. */
        uint32_t af = pkt_be32(c.p);
        uint32_t swapped = (af >> 24) | ((af >> 8) & 0xff00) | ((af << 8) & 0xff0000) | (af << 24);
        if (dlt == PKT_DLT_NULL && af > 0xffff)
            af = swapped;
        c.p += 4;
        if (af == 2)
            return pkt_ipv4(d, c, ts_us, out);
        if (af == 10 || af == 24 || af == 28 || af == 30)
            return pkt_ipv6(d, c, ts_us, out);
        return PKT_NOT_TCP;
    }
    case PKT_DLT_RAW:
    case PKT_DLT_RAW_BSD:
    case PKT_LINKTYPE_RAW:
        return pkt_rawip(d, c, ts_us, out);
    case PKT_DLT_IPV4:
        return pkt_ipv4(d, c, ts_us, out);
    case PKT_DLT_IPV6:
        return pkt_ipv6(d, c, ts_us, out);
    default:
        return PKT_UNSUPPORTED;
    }
}

enum pkt_result pkt_decode(struct pkt_decoder *d, int dlt, const uint8_t *data, size_t caplen,
                           int64_t ts_us, struct pkt_tcp *out)
{
    struct pkt_cur c = {data, data + caplen};
    d->st.frames++;
    enum pkt_result r = pkt_link(d, dlt, c, ts_us, out);
    switch (r) {
    case PKT_OK: d->st.tcp++; break;
    case PKT_NOT_TCP: d->st.not_tcp++; break;
    case PKT_TRUNCATED: d->st.truncated++; break;
    case PKT_INVALID: d->st.invalid++; break;
    case PKT_UNSUPPORTED: d->st.unsupported++; break;
    case PKT_FRAG_HELD: break;
    }
    return r;
}
