/* tcpr.c — per-direction TCP reassembly (RFC 9293 §3.4 sequence arithmetic modulo 2^32).
 *
 * Each direction keeps next_seq (the next byte owed to the consumer) and a sorted list of held
 * segments. A segment is cut to the part after next_seq (retransmission / overlap dedup: the
 * first copy of a byte wins), delivered when it starts at next_seq, held when it starts later.
 * Holes become gaps when the peer acknowledges past them (the bytes crossed the wire but not
 * the capture), when the hold cap is reached, or when the flow ends. */
#include "tcpr.h"

#include <stdlib.h>
#include <string.h>

struct tcpr_seg {
    struct tcpr_seg *next;
    uint32_t seq;
    size_t len;                  /* captured bytes in data[] */
    size_t tail;                 /* bytes after them the snaplen cut off */
    uint8_t data[];
};

static int tcpr_lt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

static int tcpr_le(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) <= 0;
}

int tcpr_init(struct tcpr_table *t, const struct tcpr_opts *o, const struct tcpr_callbacks *cb,
              void *user)
{
    memset(t, 0, sizeof *t);
    if (o)
        t->o = *o;
    if (!t->o.max_flows)
        t->o.max_flows = 65536;
    if (!t->o.max_ooo_bytes)
        t->o.max_ooo_bytes = 1u << 20;
    if (t->o.idle_us < 0)
        t->o.idle_us = 0;        /* never: stored as 0 from here on */
    else if (!t->o.idle_us)
        t->o.idle_us = 300 * 1000000LL;
    t->cb = *cb;
    t->user = user;
    t->nbuckets = 1;
    while (t->nbuckets < t->o.max_flows && t->nbuckets < (1u << 22))
        t->nbuckets <<= 1;
    t->buckets = calloc(t->nbuckets, sizeof *t->buckets);
    return t->buckets ? 0 : -1;
}

static uint64_t tcpr_hash_ep(const uint8_t *a, uint16_t port)
{
    /* word-wise multiply-xorshift over the 16 address bytes and the port */
    uint64_t w[2];
    memcpy(w, a, 16);
    uint64_t h = (w[0] ^ (w[1] * 0x9e3779b97f4a7c15ULL) ^ port) * 0xff51afd7ed558ccdULL;
    return h ^ (h >> 29);
}

/* Symmetric in the two endpoints, so both directions land in one bucket. */
static size_t tcpr_bucket(const struct tcpr_table *t, const struct pkt_tcp *s)
{
    uint64_t h = tcpr_hash_ep(s->src, s->sport) + tcpr_hash_ep(s->dst, s->dport);
    h *= 0xc4ceb9fe1a85ec53ULL;
    return (size_t)(h >> 32) & (t->nbuckets - 1);
}

static void tcpr_lru_unlink(struct tcpr_table *t, struct tcpr_flow *f)
{
    if (f->lprev)
        f->lprev->lnext = f->lnext;
    else
        t->lru_head = f->lnext;
    if (f->lnext)
        f->lnext->lprev = f->lprev;
    else
        t->lru_tail = f->lprev;
    f->lprev = f->lnext = NULL;
}

static void tcpr_lru_front(struct tcpr_table *t, struct tcpr_flow *f)
{
    f->lnext = t->lru_head;
    f->lprev = NULL;
    if (t->lru_head)
        t->lru_head->lprev = f;
    t->lru_head = f;
    if (!t->lru_tail)
        t->lru_tail = f;
}

static void tcpr_deliver(struct tcpr_table *t, struct tcpr_flow *f, int dir, const uint8_t *p,
                         size_t len, int64_t ts)
{
    if (!len)
        return;
    f->dir[dir].next_seq += (uint32_t)len;
    f->dir[dir].delivered += len;
    t->cb.on_data(t->user, f, dir, p, len, ts);
}

static void tcpr_gap(struct tcpr_table *t, struct tcpr_flow *f, int dir, uint64_t bytes,
                     int64_t ts)
{
    if (!bytes)
        return;
    f->dir[dir].next_seq += (uint32_t)bytes;
    t->st.gaps++;
    t->st.gap_bytes += bytes;
    t->cb.on_gap(t->user, f, dir, bytes, ts);
}

/* Hands on the part of [seq, seq+len+tail) after next_seq; requires seq <= next_seq. */
static void tcpr_take(struct tcpr_table *t, struct tcpr_flow *f, int dir, uint32_t seq,
                      const uint8_t *p, size_t len, size_t tail, int64_t ts)
{
    size_t k = (size_t)(f->dir[dir].next_seq - seq);
    if (k < len) {
        tcpr_deliver(t, f, dir, p + k, len - k, ts);
        k = 0;
    } else {
        k -= len;
    }
    if (tail > k)
        tcpr_gap(t, f, dir, tail - k, ts);
}

/* Delivers held segments that now touch next_seq. */
static void tcpr_drain(struct tcpr_table *t, struct tcpr_flow *f, int dir, int64_t ts)
{
    struct tcpr_dir *d = &f->dir[dir];
    while (d->ooo && tcpr_le(d->ooo->seq, d->next_seq)) {
        struct tcpr_seg *s = d->ooo;
        d->ooo = s->next;
        d->ooo_bytes -= s->len;
        uint32_t end = s->seq + (uint32_t)(s->len + s->tail);
        if (tcpr_lt(d->next_seq, end))
            tcpr_take(t, f, dir, s->seq, s->data, s->len, s->tail, ts);
        else
            t->st.retransmitted_bytes += s->len;
        free(s);
    }
}

/* Moves next_seq up to target, delivering held bytes and declaring the holes gaps. */
static void tcpr_advance(struct tcpr_table *t, struct tcpr_flow *f, int dir, uint32_t target,
                         int64_t ts)
{
    struct tcpr_dir *d = &f->dir[dir];
    for (int guard = 0; tcpr_lt(d->next_seq, target) && guard < 1 << 20; guard++) {
        if (d->ooo && tcpr_le(d->ooo->seq, d->next_seq)) {
            tcpr_drain(t, f, dir, ts);
            continue;
        }
        uint32_t limit = (d->ooo && tcpr_lt(d->ooo->seq, target)) ? d->ooo->seq : target;
        tcpr_gap(t, f, dir, (uint32_t)(limit - d->next_seq), ts);
    }
    tcpr_drain(t, f, dir, ts);
}

/* End of a direction: everything held is delivered after the holes before it. */
static void tcpr_dir_flush(struct tcpr_table *t, struct tcpr_flow *f, int dir, int64_t ts)
{
    struct tcpr_dir *d = &f->dir[dir];
    if (!d->started)
        return;
    while (d->ooo)
        tcpr_advance(t, f, dir, d->ooo->seq + 1, ts);
    if (d->fin_seen && tcpr_lt(d->next_seq, d->fin_seq))
        tcpr_gap(t, f, dir, (uint32_t)(d->fin_seq - d->next_seq), ts);
}

static void tcpr_close(struct tcpr_table *t, struct tcpr_flow *f, enum tcpr_close why, int64_t ts)
{
    if (!f->ignored) {
        tcpr_dir_flush(t, f, 0, ts);
        tcpr_dir_flush(t, f, 1, ts);
        t->cb.on_close(t->user, f, why, ts);
    }
    switch (why) {
    case TCPR_CLOSE_FIN: t->st.closed_fin++; break;
    case TCPR_CLOSE_RST: t->st.closed_rst++; break;
    case TCPR_CLOSE_IDLE: t->st.closed_idle++; break;
    case TCPR_CLOSE_FLUSH: break;
    }
    /* unlink from its bucket: recompute it from the stored endpoints */
    struct pkt_tcp key;
    memcpy(key.src, f->addr[0], 16);
    memcpy(key.dst, f->addr[1], 16);
    key.sport = f->port[0];
    key.dport = f->port[1];
    struct tcpr_flow **pp = &t->buckets[tcpr_bucket(t, &key)];
    while (*pp && *pp != f)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = f->hnext;
    tcpr_lru_unlink(t, f);
    for (int i = 0; i < 2; i++) {
        while (f->dir[i].ooo) {
            struct tcpr_seg *s = f->dir[i].ooo;
            f->dir[i].ooo = s->next;
            free(s);
        }
    }
    t->nflows--;
    free(f);
}

void tcpr_expire(struct tcpr_table *t, int64_t now_us)
{
    t->last_expire_us = now_us;
    if (!t->o.idle_us)
        return;
    while (t->lru_tail && now_us - t->lru_tail->last_us > t->o.idle_us)
        tcpr_close(t, t->lru_tail, TCPR_CLOSE_IDLE, now_us);
}

void tcpr_flush(struct tcpr_table *t, int64_t now_us)
{
    while (t->lru_tail)
        tcpr_close(t, t->lru_tail, TCPR_CLOSE_FLUSH, now_us);
}

void tcpr_free(struct tcpr_table *t, int64_t now_us)
{
    if (!t->buckets)
        return;
    tcpr_flush(t, now_us);
    free(t->buckets);
    t->buckets = NULL;
}

static struct tcpr_flow *tcpr_lookup(struct tcpr_table *t, const struct pkt_tcp *s, int *dir)
{
    for (struct tcpr_flow *f = t->buckets[tcpr_bucket(t, s)]; f; f = f->hnext) {
        if (f->family != s->family)
            continue;
        if (f->port[0] == s->sport && f->port[1] == s->dport && !memcmp(f->addr[0], s->src, 16) &&
            !memcmp(f->addr[1], s->dst, 16)) {
            *dir = 0;
            return f;
        }
        if (f->port[1] == s->sport && f->port[0] == s->dport && !memcmp(f->addr[1], s->src, 16) &&
            !memcmp(f->addr[0], s->dst, 16)) {
            *dir = 1;
            return f;
        }
    }
    return NULL;
}

static struct tcpr_flow *tcpr_create(struct tcpr_table *t, const struct pkt_tcp *s, int64_t ts)
{
    if (t->nflows >= t->o.max_flows && t->lru_tail) {
        t->st.closed_evicted++;
        tcpr_close(t, t->lru_tail, TCPR_CLOSE_IDLE, ts);
    }
    struct tcpr_flow *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->family = s->family;
    memcpy(f->addr[0], s->src, 16);
    memcpy(f->addr[1], s->dst, 16);
    f->port[0] = s->sport;
    f->port[1] = s->dport;
    f->client = -1;
    if (s->flags & PKT_TCP_SYN)
        f->client = (s->flags & PKT_TCP_ACK) ? 1 : 0;
    else
        f->midstream = 1;
    f->id = ++t->next_id;
    f->first_us = f->last_us = ts;
    size_t b = tcpr_bucket(t, s);
    f->hnext = t->buckets[b];
    t->buckets[b] = f;
    tcpr_lru_front(t, f);
    t->nflows++;
    if (t->cb.on_open(t->user, f)) {
        f->ignored = 1;
        t->st.flows_ignored++;
    } else {
        t->st.flows++;
    }
    return f;
}

/* Holds a segment that starts after next_seq (copying its bytes). */
static void tcpr_hold(struct tcpr_table *t, struct tcpr_flow *f, int dir, uint32_t seq,
                      const uint8_t *p, size_t len, size_t tail, int64_t ts)
{
    struct tcpr_dir *d = &f->dir[dir];
    /* over the cap: give up on the oldest hole so memory stays bounded */
    while (d->ooo && d->ooo_bytes + len > t->o.max_ooo_bytes)
        tcpr_advance(t, f, dir, d->ooo->seq + 1, ts);
    if (len > t->o.max_ooo_bytes || !tcpr_lt(d->next_seq, seq)) {
        if (!tcpr_lt(d->next_seq, seq)) {
            if (tcpr_lt(d->next_seq, seq + (uint32_t)(len + tail)))
                tcpr_take(t, f, dir, seq, p, len, tail, ts);
        } else {
            t->st.ooo_dropped++;
            tcpr_advance(t, f, dir, seq, ts);
            tcpr_take(t, f, dir, seq, p, len, tail, ts);
        }
        return;
    }
    struct tcpr_seg *s = malloc(sizeof *s + len);
    if (!s) {
        t->st.ooo_dropped++;
        return;
    }
    s->seq = seq;
    s->len = len;
    s->tail = tail;
    memcpy(s->data, p, len);
    struct tcpr_seg **pp = &d->ooo;
    while (*pp && tcpr_le((*pp)->seq, seq))
        pp = &(*pp)->next;
    s->next = *pp;
    *pp = s;
    d->ooo_bytes += len;
    t->st.ooo_segments++;
}

void tcpr_segment(struct tcpr_table *t, const struct pkt_tcp *s, int64_t ts)
{
    t->st.segments++;
    t->st.bytes += s->len;
    if (t->o.idle_us && ts - t->last_expire_us >= 1000000)
        tcpr_expire(t, ts);
    int dir = 0;
    struct tcpr_flow *f = tcpr_lookup(t, s, &dir);
    if (!f) {
        /* only a SYN or data opens a flow: the last ACKs and resets of a closed connection
         * must not resurrect it */
        if ((s->flags & PKT_TCP_RST) || (!(s->flags & PKT_TCP_SYN) && !s->wire_len))
            return;
        f = tcpr_create(t, s, ts);
        if (!f)
            return;
        dir = 0;
    }
    f->last_us = ts;
    if (t->lru_head != f) {
        tcpr_lru_unlink(t, f);
        tcpr_lru_front(t, f);
    }
    if (f->ignored)
        return;
    struct tcpr_dir *d = &f->dir[dir];
    if (s->flags & PKT_TCP_SYN) {
        if (!d->delivered && !d->ooo) {
            d->next_seq = s->seq + 1;
            d->started = 1;
            d->syn_seen = 1;
        }
        if (f->client < 0)
            f->client = (s->flags & PKT_TCP_ACK) ? 1 - dir : dir;
        if (!(s->flags & PKT_TCP_ACK) && dir == f->client && !f->syn_us)
            f->syn_us = ts;      /* the first SYN: a retransmitted one is part of connect */
        if ((s->flags & PKT_TCP_ACK) && dir != f->client) {
            f->synack_seen = 1;
            f->synack_next = s->seq + 1;
        }
    } else if ((s->flags & PKT_TCP_ACK) && f->synack_seen && !f->established_us &&
               dir == f->client && s->ack == f->synack_next) {
        f->established_us = ts;
    }
    if (s->flags & PKT_TCP_RST) {
        tcpr_close(t, f, TCPR_CLOSE_RST, ts);
        return;
    }
    uint32_t seq = (s->flags & PKT_TCP_SYN) ? s->seq + 1 : s->seq;
    size_t tail = s->wire_len - s->len;
    if (s->wire_len || (s->flags & PKT_TCP_FIN)) {
        if (!d->started) {       /* mid-connection pickup */
            d->started = 1;
            d->next_seq = seq;
        }
        if (s->flags & PKT_TCP_FIN) {
            d->fin_seen = 1;
            d->fin_seq = seq + (uint32_t)s->wire_len;
        }
        uint32_t end = seq + (uint32_t)s->wire_len;
        if (!tcpr_lt(d->next_seq, end)) {
            t->st.retransmitted_bytes += s->len;
        } else if (tcpr_le(seq, d->next_seq)) {
            size_t k = (size_t)(d->next_seq - seq);
            t->st.overlap_bytes += k < s->len ? k : s->len;
            tcpr_take(t, f, dir, seq, s->payload, s->len, tail, ts);
            tcpr_drain(t, f, dir, ts);
        } else {
            tcpr_hold(t, f, dir, seq, s->payload, s->len, tail, ts);
        }
    }
    /* the peer acknowledged bytes of the other direction: holes before the ack are lost */
    struct tcpr_dir *o = &f->dir[1 - dir];
    if ((s->flags & PKT_TCP_ACK) && o->started) {
        uint32_t target = s->ack;
        if (o->fin_seen && tcpr_lt(o->fin_seq, target))
            target = o->fin_seq;
        if (tcpr_lt(o->next_seq, target) && (uint32_t)(target - o->next_seq) < (1u << 30))
            tcpr_advance(t, f, 1 - dir, target, ts);
    }
    for (int i = 0; i < 2; i++) {
        struct tcpr_dir *x = &f->dir[i];
        if (x->fin_seen && !x->ended && x->next_seq == x->fin_seq) {
            x->ended = 1;
            if (t->cb.on_fin)
                t->cb.on_fin(t->user, f, i, ts);
        }
    }
    if (f->dir[0].ended && f->dir[1].ended)
        tcpr_close(t, f, TCPR_CLOSE_FIN, ts);
}
