/* gen.c — synthetic frame builder (layouts per pcap-linktype(7), RFC 791, RFC 8200, RFC 9293).
 * Checksums are left zero: capture never verifies them (offloading makes them unreliable). */
#include "gen.h"

#include <arpa/inet.h>
#include <string.h>

#include "pkt.h"

int gen_ep_set(struct gen_ep *ep, const char *addr, uint16_t port)
{
    memset(ep, 0, sizeof *ep);
    ep->port = port;
    if (inet_pton(AF_INET, addr, ep->addr) == 1) {
        ep->family = 4;
        return 0;
    }
    if (inet_pton(AF_INET6, addr, ep->addr) == 1) {
        ep->family = 6;
        return 0;
    }
    return -1;
}

static void gen_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void gen_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

size_t gen_frame(const struct gen_frame_opts *o, const struct gen_ep *src,
                 const struct gen_ep *dst, uint32_t seq, uint32_t ack, uint8_t flags,
                 const void *payload, size_t len, uint8_t *out, size_t cap)
{
    size_t link = 0;
    uint16_t etype = src->family == 4 ? 0x0800 : 0x86dd;
    switch (o->dlt) {
    case PKT_DLT_EN10MB: link = 14 + 4 * (size_t)o->vlans; break;
    case PKT_DLT_LINUX_SLL: link = 16; break;
    case PKT_DLT_LINUX_SLL2: link = 20; break;
    case PKT_DLT_NULL: case PKT_DLT_LOOP: link = 4; break;
    default: link = 0; break;
    }
    size_t ext = (src->family == 6 && o->ipv6_ext) ? 16 : 0;
    size_t iph = src->family == 4 ? 20 : 40;
    size_t total = link + iph + ext + 20 + len;
    if (total > cap || len > 65000)
        return 0;
    memset(out, 0, link + iph + ext + 20);
    uint8_t *p = out;
    switch (o->dlt) {
    case PKT_DLT_EN10MB: {
        static const uint8_t mac_a[6] = {2, 0, 0, 0, 0, 1}, mac_b[6] = {2, 0, 0, 0, 0, 2};
        memcpy(p, mac_b, 6);
        memcpy(p + 6, mac_a, 6);
        p += 12;
        for (int i = 0; i < o->vlans; i++) {
            gen_put16(p, (i == 0 && o->vlans > 1) ? 0x88a8 : 0x8100);
            gen_put16(p + 2, (uint16_t)(100 + i));
            p += 4;
        }
        gen_put16(p, etype);
        p += 2;
        break;
    }
    case PKT_DLT_LINUX_SLL:
        gen_put16(p, 0);         /* packet type: to us */
        gen_put16(p + 2, 772);   /* ARPHRD_LOOPBACK */
        gen_put16(p + 4, 6);
        gen_put16(p + 14, etype);
        p += 16;
        break;
    case PKT_DLT_LINUX_SLL2:
        gen_put16(p, etype);
        gen_put32(p + 4, 1);     /* interface index */
        gen_put16(p + 8, 772);
        p[11] = 6;
        p += 20;
        break;
    case PKT_DLT_NULL: {
        uint32_t af = src->family == 4 ? 2 : 30;
        memcpy(p, &af, 4);       /* host byte order, as BSD writes it */
        p += 4;
        break;
    }
    case PKT_DLT_LOOP:
        gen_put32(p, src->family == 4 ? 2 : 30);
        p += 4;
        break;
    default:
        break;
    }
    if (src->family == 4) {
        p[0] = 0x45;
        gen_put16(p + 2, (uint16_t)(20 + 20 + len));
        p[8] = 64;
        p[9] = 6;
        memcpy(p + 12, src->addr, 4);
        memcpy(p + 16, dst->addr, 4);
        p += 20;
    } else {
        p[0] = 0x60;
        gen_put16(p + 4, (uint16_t)(ext + 20 + len));
        p[6] = ext ? 0 : 6;
        p[7] = 64;
        memcpy(p + 8, src->addr, 16);
        memcpy(p + 24, dst->addr, 16);
        p += 40;
        if (ext) {
            p[0] = 60;           /* hop-by-hop → destination options → TCP */
            p[1] = 0;
            p[8] = 6;
            p[9] = 0;
            p += 16;
        }
    }
    gen_put16(p, src->port);
    gen_put16(p + 2, dst->port);
    gen_put32(p + 4, seq);
    gen_put32(p + 8, ack);
    p[12] = 5 << 4;
    p[13] = flags;
    gen_put16(p + 14, 65535);
    p += 20;
    if (len)
        memcpy(p, payload, len);
    return total;
}
