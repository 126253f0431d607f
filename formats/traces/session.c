/* session.c — sessions inferred from chat requests (see session.h). Each request's messages
 * are hashed message by message into a chain (the client first, then each message's canonical
 * value), so "R's first j messages are P's messages" is one hash lookup per j. Turns that may
 * still be continued live in a pool, indexed by that hash and listed by age for expiry. */
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dialect.h"

#define K_NULL 0x6e756c6cULL
#define K_FALSE 0x66616c73ULL
#define K_TRUE 0x74727565ULL
#define K_NUM 0x6e756dULL
#define K_STR 0x737472ULL
#define K_ARR 0x617272ULL
#define K_OBJ 0x6f626aULL
#define K_SYS 0x73797374656dULL
#define K_CLIENT 0x636c69656e74ULL

struct sturn {
    uint64_t key;                /* chain hash of (client, messages) */
    uint64_t client;
    uint64_t reply;              /* hash of the response text; 0 unknown */
    int64_t start_us, end_us;    /* end = start + response.end_us; -1 unknown */
    char *session;
    int64_t turn;
    uint32_t n_msgs;
    uint8_t failed, continued, live;
    int32_t bprev, bnext;        /* bucket chain */
    int32_t aprev, anext;        /* age list (oldest first); free list through anext */
};

struct session_infer {
    int64_t idle_us;
    size_t max_open;
    char *prefix;
    uint64_t counter;
    struct sturn *t;
    size_t cap, n_live;
    int32_t free_head;
    int32_t *bucket;
    size_t mask;
    int32_t old, young;
    uint64_t *chain;             /* per request: chain[j] = hash of its first j messages */
    size_t chain_cap;
    struct session_infer_stats st;
};

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static uint64_t fnv(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    return h;
}

static int key_cmp(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcmp(x->string ? x->string : "", y->string ? y->string : "");
}

/* Hash of a JSON value, object keys taken in sorted order so that two copies of a message
 * serialised differently hash alike. */
static uint64_t json_hash(const cJSON *v)
{
    const cJSON *e;
    uint64_t h;
    if (!v || cJSON_IsNull(v))
        return mix(K_NULL);
    if (cJSON_IsFalse(v))
        return mix(K_FALSE);
    if (cJSON_IsTrue(v))
        return mix(K_TRUE);
    if (cJSON_IsNumber(v)) {
        uint64_t bits;
        double d = v->valuedouble;
        memcpy(&bits, &d, sizeof bits);
        return mix(bits ^ K_NUM);
    }
    if (cJSON_IsString(v))
        return mix(fnv(v->valuestring, strlen(v->valuestring)) ^ K_STR);
    if (cJSON_IsArray(v)) {
        h = mix(K_ARR);
        cJSON_ArrayForEach(e, v)
            h = mix(h ^ json_hash(e));
        return h;
    }
    /* object */
    const cJSON *small[32], **keys = small;
    size_t n = 0, cap = 32;
    cJSON_ArrayForEach(e, v)
        n++;
    if (n > cap) {
        keys = malloc(n * sizeof *keys);
        if (!keys) {
            keys = small; /* no memory: the keys in their own order, still deterministic */
            h = mix(K_OBJ ^ 1);
            cJSON_ArrayForEach(e, v)
                h = mix(mix(h ^ fnv(e->string ? e->string : "", e->string ? strlen(e->string) : 0)) ^ json_hash(e));
            return h;
        }
    }
    n = 0;
    cJSON_ArrayForEach(e, v)
        keys[n++] = e;
    qsort(keys, n, sizeof *keys, key_cmp);
    h = mix(K_OBJ);
    for (size_t i = 0; i < n; i++) {
        const char *k = keys[i]->string ? keys[i]->string : "";
        h = mix(mix(h ^ fnv(k, strlen(k))) ^ json_hash(keys[i]));
    }
    if (keys != small)
        free(keys);
    return h;
}

/* ---- the pool of open turns ------------------------------------------------------------- */

struct session_infer *session_infer_new(const struct session_infer_opts *o)
{
    struct session_infer *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->idle_us = o && o->idle_us > 0 ? o->idle_us : SESSION_IDLE_US;
    s->max_open = o && o->max_open > 0 ? o->max_open : SESSION_MAX_OPEN;
    if (s->max_open > (size_t)1 << 28)
        s->max_open = (size_t)1 << 28;
    s->prefix = strdup(o && o->prefix ? o->prefix : "session-");
    size_t nb = 1024;
    while (nb < 2 * s->max_open && nb < ((size_t)1 << 29))
        nb *= 2;
    s->bucket = malloc(nb * sizeof *s->bucket);
    if (!s->prefix || !s->bucket) {
        session_infer_free(s);
        return NULL;
    }
    for (size_t i = 0; i < nb; i++)
        s->bucket[i] = -1;
    s->mask = nb - 1;
    s->free_head = s->old = s->young = -1;
    return s;
}

void session_infer_free(struct session_infer *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->cap; i++)
        if (s->t[i].live)
            free(s->t[i].session);
    free(s->t);
    free(s->bucket);
    free(s->chain);
    free(s->prefix);
    free(s);
}

void session_infer_get_stats(const struct session_infer *s, struct session_infer_stats *st)
{
    *st = s->st;
}

static void turn_remove(struct session_infer *s, int32_t i)
{
    struct sturn *t = &s->t[i];
    if (t->bprev >= 0)
        s->t[t->bprev].bnext = t->bnext;
    else
        s->bucket[t->key & s->mask] = t->bnext;
    if (t->bnext >= 0)
        s->t[t->bnext].bprev = t->bprev;
    if (t->aprev >= 0)
        s->t[t->aprev].anext = t->anext;
    else
        s->old = t->anext;
    if (t->anext >= 0)
        s->t[t->anext].aprev = t->aprev;
    else
        s->young = t->aprev;
    free(t->session);
    t->session = NULL;
    t->live = 0;
    t->anext = s->free_head;
    s->free_head = i;
    s->n_live--;
}

/* A free slot (growing the pool up to max_open), or -1 on no memory. */
static int32_t turn_alloc(struct session_infer *s)
{
    if (s->free_head < 0) {
        size_t nc = s->cap ? s->cap * 2 : 256;
        if (nc > s->max_open)
            nc = s->max_open;
        if (nc <= s->cap)
            return -1;
        struct sturn *nt = realloc(s->t, nc * sizeof *nt);
        if (!nt)
            return -1;
        s->t = nt;
        for (size_t i = nc; i-- > s->cap;) {
            nt[i] = (struct sturn){0};
            nt[i].anext = s->free_head;
            s->free_head = (int32_t)i;
        }
        s->cap = nc;
    }
    int32_t i = s->free_head;
    s->free_head = s->t[i].anext;
    return i;
}

static void turn_insert(struct session_infer *s, int32_t i)
{
    struct sturn *t = &s->t[i];
    size_t b = t->key & s->mask;
    t->live = 1;
    t->bprev = -1;
    t->bnext = s->bucket[b];
    if (t->bnext >= 0)
        s->t[t->bnext].bprev = i;
    s->bucket[b] = i;
    t->anext = -1;
    t->aprev = s->young;
    if (s->young >= 0)
        s->t[s->young].anext = i;
    else
        s->old = i;
    s->young = i;
    s->n_live++;
}

/* Forgets turns that ended more than idle_us before now. */
static void turn_expire(struct session_infer *s, int64_t now)
{
    while (s->old >= 0) {
        const struct sturn *t = &s->t[s->old];
        int64_t end = t->end_us >= 0 ? t->end_us : t->start_us;
        if (end > now - s->idle_us)
            break;
        turn_remove(s, s->old);
        s->st.expired++;
    }
}

/* ---- one request ------------------------------------------------------------------------- */

/* The message list of a chat request: Anthropic's system prompt (outside the list) as its
 * first element when present. NULL when the request is not chat. */
static const cJSON *chat_messages(const struct tlog_exchange *x, const cJSON **system)
{
    const cJSON *b = x->req.body;
    *system = NULL;
    if (!cJSON_IsObject(b) || !x->req.path)
        return NULL;
    enum dialect_id d = dialect_from_request(x->req.path, strlen(x->req.path), b);
    if (d == DIALECT_UNKNOWN && x->dialect)
        d = dialect_parse_name(x->dialect);
    if (d != DIALECT_OPENAI_CHAT && d != DIALECT_ANTHROPIC && d != DIALECT_OLLAMA_CHAT)
        return NULL;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(b, "messages");
    if (!cJSON_IsArray(m) || cJSON_GetArraySize(m) == 0)
        return NULL;
    const cJSON *e;
    cJSON_ArrayForEach(e, m)
        if (!cJSON_IsObject(e))
            return NULL;
    if (d == DIALECT_ANTHROPIC) {
        const cJSON *sys = cJSON_GetObjectItemCaseSensitive(b, "system");
        if (sys && !cJSON_IsNull(sys))
            *system = sys;
    }
    return m;
}

static int role_is(const cJSON *msg, const char *role)
{
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(msg, "role");
    return cJSON_IsString(r) && strcmp(r->valuestring, role) == 0;
}

/* Hash of an assistant message's text (content, text parts, tool-call arguments), as the
 * response's text would hold it; 0 when it has none. */
static uint64_t reply_hash(const cJSON *msg)
{
    struct buf b;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(msg, "content"), *e;
    uint64_t h = 0;
    buf_init(&b, (size_t)64 << 20);
    if (cJSON_IsString(c)) {
        buf_append_str(&b, c->valuestring);
    } else if (cJSON_IsArray(c)) {
        cJSON_ArrayForEach(e, c) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "text");
            if (cJSON_IsString(t))
                buf_append_str(&b, t->valuestring);
        }
    }
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(msg, "tool_calls")) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(e, "function"), "arguments");
        if (cJSON_IsString(a))
            buf_append_str(&b, a->valuestring);
    }
    if (b.len)
        h = fnv(b.p, b.len) | 1;
    buf_free(&b);
    return h;
}

/* The client a record comes from (session.h "client"). */
static uint64_t client_of(const struct tlog_exchange *x)
{
    const char *c = x->conn, *gt = c ? strchr(c, '>') : NULL;
    if (!gt)
        return mix(K_CLIENT);
    const char *end = gt; /* drop ":PORT" before '>' (after ']' for IPv6) */
    const char *colon = NULL;
    for (const char *p = c; p < gt; p++)
        if (*p == ':')
            colon = p;
    if (colon && (c[0] != '[' || (colon > c && colon[-1] == ']')))
        end = colon;
    return mix(fnv(c, (size_t)(end - c)) ^ mix(fnv(gt, strlen(gt))) ^ K_CLIENT);
}

static int ok_exchange(const struct tlog_exchange *x)
{
    return x->error_kind == TLOG_ERROR_NONE && x->resp.status > 0 && x->resp.status < 400;
}

static char *session_new_id(struct session_infer *s)
{
    char num[32];
    snprintf(num, sizeof num, "%llu", (unsigned long long)++s->counter);
    size_t a = strlen(s->prefix), b = strlen(num);
    char *id = malloc(a + b + 1);
    if (id) {
        memcpy(id, s->prefix, a);
        memcpy(id + a, num, b + 1);
    }
    return id;
}

int session_infer_add(struct session_infer *s, struct tlog_exchange *x)
{
    const cJSON *sys, *msgs, *e;
    s->st.records++;
    msgs = x->resent_as ? NULL : chat_messages(x, &sys);
    if (!msgs) {
        s->st.skipped++;
        return 0;
    }
    size_t m = (size_t)cJSON_GetArraySize(msgs) + (sys != NULL);
    if (m + 1 > s->chain_cap) {
        size_t nc = s->chain_cap ? s->chain_cap : 64;
        while (nc < m + 1)
            nc *= 2;
        uint64_t *nch = realloc(s->chain, nc * sizeof *nch);
        if (!nch)
            return TLOG_ERR_NOMEM;
        s->chain = nch;
        s->chain_cap = nc;
    }
    const cJSON **item = NULL; /* the list with the system prompt first, for indexing */
    item = malloc(m * sizeof *item);
    if (!item)
        return TLOG_ERR_NOMEM;
    size_t j = 0;
    uint64_t client = client_of(x);
    s->chain[0] = client;
    if (sys) {
        item[0] = NULL;
        s->chain[1] = mix(s->chain[0] ^ mix(json_hash(sys) ^ K_SYS));
        j = 1;
    }
    cJSON_ArrayForEach(e, msgs) {
        item[j] = e;
        s->chain[j + 1] = mix(s->chain[j] ^ json_hash(e));
        j++;
    }
    turn_expire(s, x->start_us);

    /* a retry of a failed turn: the same messages */
    int32_t rep = -1, prev = -1;
    for (int32_t i = s->bucket[s->chain[m] & s->mask]; i >= 0; i = s->t[i].bnext) {
        const struct sturn *t = &s->t[i];
        if (t->key == s->chain[m] && t->client == client && t->n_msgs == m && t->failed &&
            t->start_us < x->start_us && (rep < 0 || t->start_us >= s->t[rep].start_us))
            rep = i;
    }
    /* the turn it continues: the longest earlier message list, then the matching reply, then
     * the newest; a turn already continued only when no other qualifies (a branch) */
    for (size_t k = m >= 2 ? m - 2 : 0; k >= 1 && prev < 0; k--) {
        int ok_tail = 0, cands = 0, best_rank = -1;
        if (!item[k] || !role_is(item[k], "assistant"))
            continue;
        for (size_t q = k + 1; q < m; q++)
            ok_tail |= role_is(item[q], "user") || role_is(item[q], "tool");
        if (!ok_tail)
            continue;
        uint64_t rh = reply_hash(item[k]);
        for (int32_t i = s->bucket[s->chain[k] & s->mask]; i >= 0; i = s->t[i].bnext) {
            const struct sturn *t = &s->t[i];
            if (t->key != s->chain[k] || t->client != client || t->n_msgs != k || t->failed ||
                t->start_us >= x->start_us)
                continue;
            int rank = (!t->continued) * 2 + (rh && t->reply == rh);
            if (rank > best_rank || (rank == best_rank && t->start_us >= s->t[prev].start_us)) {
                cands = rank > best_rank ? 1 : cands + 1;
                best_rank = rank;
                prev = i;
            } else if (rank == best_rank) {
                cands++;
            }
        }
        if (cands > 1)
            s->st.ambiguous++;
    }

    /* decide */
    char *sid = NULL;
    int64_t turn, think = -1;
    if (prev >= 0) {
        const struct sturn *p = &s->t[prev];
        if (p->end_us >= 0) {
            think = x->start_us - p->end_us;
            if (think < 0) {
                think = 0;
                s->st.think_clamped++;
            }
        }
    }
    if (rep >= 0) {
        sid = strdup(s->t[rep].session);
        turn = s->t[rep].turn;
        s->st.repeats++;
    } else if (prev >= 0 && !s->t[prev].continued) {
        sid = strdup(s->t[prev].session);
        turn = s->t[prev].turn + 1;
        s->st.linked++;
    } else {
        sid = session_new_id(s);
        turn = prev >= 0 ? s->t[prev].turn + 1 : 0;
        think = prev >= 0 ? think : -1;
        s->st.sessions++;
        s->st.branches += prev >= 0;
    }
    free(item);
    if (!sid)
        return TLOG_ERR_NOMEM;

    /* what this request settles: its predecessor is continued, a retried failure is done */
    int ok = ok_exchange(x);
    if (ok && prev >= 0)
        s->t[prev].continued = 1;
    if (ok && rep >= 0)
        turn_remove(s, rep);
    /* remember this turn (the oldest goes when max_open are kept) */
    if (s->n_live >= s->max_open && s->old >= 0) {
        turn_remove(s, s->old);
        s->st.evicted++;
    }
    int32_t slot = turn_alloc(s);
    char *keep = slot >= 0 ? strdup(sid) : NULL;
    if (!keep) {
        if (slot >= 0) {
            s->t[slot].anext = s->free_head;
            s->free_head = slot;
        }
        free(sid);
        return TLOG_ERR_NOMEM;
    }
    struct sturn *t = &s->t[slot];
    *t = (struct sturn){0};
    t->key = s->chain[m];
    t->client = client;
    t->reply = ok && x->resp.text && x->resp.text_len ? fnv(x->resp.text, x->resp.text_len) | 1 : 0;
    t->start_us = x->start_us;
    t->end_us = x->resp.end_us >= 0 ? x->start_us + x->resp.end_us : -1;
    t->session = keep;
    t->turn = turn;
    t->n_msgs = (uint32_t)m;
    t->failed = !ok;
    turn_insert(s, slot);

    free(x->session.id);
    x->session.present = 1;
    x->session.id = sid;
    x->session.turn = turn;
    x->session.think_us = think;
    return 0;
}
