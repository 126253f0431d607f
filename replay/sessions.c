/* sessions.c — sessions of a replay's input, think times, and live history (see sessions.h).
 * Runs once at load (the table) and once per turn (a body): JSON trees are fine here. */
#include "sessions.h"

#include <stdlib.h>
#include <string.h>

struct sess_key {
    const char *sid;           /* NULL: a session of its own */
    int64_t turn, offset;
    size_t i;
};

static int key_cmp(const void *a, const void *b)
{
    const struct sess_key *x = a, *y = b;
    if (!x->sid != !y->sid)
        return x->sid ? -1 : 1;
    if (x->sid) {
        int c = strcmp(x->sid, y->sid);
        if (c)
            return c;
        if (x->turn != y->turn)
            return x->turn < y->turn ? -1 : 1;
        if (x->offset != y->offset)
            return x->offset < y->offset ? -1 : 1;
    }
    return x->i < y->i ? -1 : x->i > y->i;
}

struct sess_order {
    int64_t offset;
    size_t first_req, s;
};

static int order_cmp(const void *a, const void *b)
{
    const struct sess_order *x = a, *y = b;
    if (x->offset != y->offset)
        return x->offset < y->offset ? -1 : 1;
    return x->first_req < y->first_req ? -1 : x->first_req > y->first_req;
}

void sess_table_free(struct sess_table *t)
{
    free(t->first);
    free(t->count);
    free(t->turns);
    free(t->offsets);
    memset(t, 0, sizeof *t);
}

int sess_table_build(struct sess_table *t, const struct replay_input *in)
{
    size_t n = in->n, ns = 0;
    memset(t, 0, sizeof *t);
    struct sess_key *k = malloc((n + 1) * sizeof *k);
    size_t *first = malloc((n + 1) * sizeof *first), *count = malloc((n + 1) * sizeof *count);
    struct sess_order *ord = malloc((n + 1) * sizeof *ord);
    t->turns = malloc((n + 1) * sizeof *t->turns);
    t->first = malloc((n + 1) * sizeof *t->first);
    t->count = malloc((n + 1) * sizeof *t->count);
    t->offsets = malloc((n + 1) * sizeof *t->offsets);
    if (!k || !first || !count || !ord || !t->turns || !t->first || !t->count || !t->offsets) {
        free(k);
        free(first);
        free(count);
        free(ord);
        sess_table_free(t);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        k[i] = (struct sess_key){in->reqs[i].session, in->reqs[i].turn, in->reqs[i].offset_us, i};
    qsort(k, n, sizeof *k, key_cmp);
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || !k[i].sid || !k[i - 1].sid || strcmp(k[i].sid, k[i - 1].sid)) {
            first[ns] = i;
            count[ns] = 0;
            ns++;
        }
        count[ns - 1]++;
    }
    /* sessions in the order their first selected turn was recorded */
    for (size_t s = 0; s < ns; s++) {
        size_t r0 = k[first[s]].i;
        ord[s] = (struct sess_order){in->reqs[r0].offset_us, r0, s};
    }
    qsort(ord, ns, sizeof *ord, order_cmp);
    size_t pos = 0;
    for (size_t j = 0; j < ns; j++) {
        size_t s = ord[j].s;
        t->first[j] = pos;
        t->count[j] = count[s];
        t->offsets[j] = ord[j].offset;
        t->with_id += k[first[s]].sid != NULL;
        t->multi += count[s] > 1;
        for (size_t q = 0; q < count[s]; q++)
            t->turns[pos++] = k[first[s] + q].i;
    }
    t->n = ns;
    free(k);
    free(first);
    free(count);
    free(ord);
    return 0;
}

int64_t sess_think_us(const struct replay_req *prev, const struct replay_req *next,
                      int64_t think_default_us, enum sess_think_source *src)
{
    if (next->think_us >= 0) {
        *src = SESS_THINK_RECORDED;
        return next->think_us;
    }
    if (think_default_us >= 0) {
        *src = SESS_THINK_FIXED;
        return think_default_us;
    }
    *src = SESS_THINK_GAP;
    int64_t end = prev->offset_us + (prev->rec_end_us > 0 ? prev->rec_end_us : 0);
    int64_t gap = next->offset_us - end;
    return gap > 0 ? gap : 0;
}

const char *sess_history_name(enum sess_history h)
{
    static const char *const names[SESS_HIST_COUNT] = {"live", "not_chat", "not_extending",
                                                       "tools_differ", "no_reply"};
    return (unsigned)h < SESS_HIST_COUNT ? names[h] : "?";
}

static int chat_dialect(enum dialect_id d)
{
    return d == DIALECT_OPENAI_CHAT || d == DIALECT_ANTHROPIC || d == DIALECT_OLLAMA_CHAT;
}

static cJSON *parse_body(const struct replay_req *r)
{
    cJSON *b = r->body ? cJSON_ParseWithLength(r->body, r->body_len) : NULL;
    if (b && !cJSON_IsObject(b)) {
        cJSON_Delete(b);
        b = NULL;
    }
    return b;
}

cJSON *sess_messages_of(const struct replay_req *r)
{
    if (!chat_dialect(r->dialect))
        return NULL;
    cJSON *b = parse_body(r);
    cJSON *m = cJSON_DetachItemFromObjectCaseSensitive(b, "messages");
    cJSON_Delete(b);
    if (m && !cJSON_IsArray(m)) {
        cJSON_Delete(m);
        m = NULL;
    }
    return m;
}

static int role_is(const cJSON *m, const char *role)
{
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(m, "role");
    return cJSON_IsString(r) && !strcmp(r->valuestring, role);
}

/* The tool-call ids of an assistant message, in order (NULL entries for calls without one);
 * returns the count, at most cap. */
static size_t tool_ids(const cJSON *m, const char **ids, size_t cap)
{
    size_t n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(m, "tool_calls")) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
        if (n < cap)
            ids[n] = cJSON_IsString(id) ? id->valuestring : NULL;
        n++;
    }
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
    if (cJSON_IsArray(c))
        cJSON_ArrayForEach(e, c) {
            const cJSON *ty = cJSON_GetObjectItemCaseSensitive(e, "type");
            if (!cJSON_IsString(ty) || strcmp(ty->valuestring, "tool_use"))
                continue;
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
            if (n < cap)
                ids[n] = cJSON_IsString(id) ? id->valuestring : NULL;
            n++;
        }
    return n;
}

/* Renames a recorded tool-call id to the live one wherever a tool result names it. */
static int rename_ids(cJSON *msg, const char **from, const char **to, size_t n)
{
    cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "tool_call_id"), *e;
    for (size_t j = 0; cJSON_IsString(id) && j < n; j++)
        if (from[j] && to[j] && !strcmp(id->valuestring, from[j])) {
            if (!cJSON_SetValuestring(id, to[j]))
                return -1;
            break;
        }
    cJSON *c = cJSON_GetObjectItemCaseSensitive(msg, "content");
    if (cJSON_IsArray(c))
        cJSON_ArrayForEach(e, c) {
            cJSON *u = cJSON_GetObjectItemCaseSensitive(e, "tool_use_id");
            for (size_t j = 0; cJSON_IsString(u) && j < n; j++)
                if (from[j] && to[j] && !strcmp(u->valuestring, from[j])) {
                    if (!cJSON_SetValuestring(u, to[j]))
                        return -1;
                    break;
                }
        }
    return 0;
}

#define SESS_MAX_TOOL_IDS 256

int sess_live_body(const struct replay_req *prev, const struct replay_req *next,
                   const cJSON *sent_prev, const cJSON *reply, char **body, size_t *len,
                   cJSON **sent_next)
{
    if (!chat_dialect(next->dialect) || prev->dialect != next->dialect)
        return SESS_HIST_NOT_CHAT;
    cJSON *p = parse_body(prev), *nb = parse_body(next), *arr = NULL;
    const cJSON *pm = cJSON_GetObjectItemCaseSensitive(p, "messages");
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(nb, "messages");
    int rc = SESS_HIST_NOT_EXTENDING;
    if (!cJSON_IsArray(pm) || !cJSON_IsArray(nm) || !cJSON_IsArray(sent_prev)) {
        rc = SESS_HIST_NOT_CHAT;
        goto out;
    }
    int np = cJSON_GetArraySize(pm), nn = cJSON_GetArraySize(nm);
    const cJSON *ps = cJSON_GetObjectItemCaseSensitive(p, "system");
    const cJSON *ns = cJSON_GetObjectItemCaseSensitive(nb, "system");
    if (nn <= np || (ps || ns ? !(ps && ns && cJSON_Compare(ps, ns, 1)) : 0))
        goto out;
    for (int i = 0; i < np; i++)
        if (!cJSON_Compare(cJSON_GetArrayItem(pm, i), cJSON_GetArrayItem(nm, i), 1))
            goto out;
    const cJSON *recorded = cJSON_GetArrayItem(nm, np);
    if (!role_is(recorded, "assistant"))
        goto out;
    if (!reply) {
        rc = SESS_HIST_NO_REPLY;
        goto out;
    }
    const char *from[SESS_MAX_TOOL_IDS], *to[SESS_MAX_TOOL_IDS];
    size_t nf = tool_ids(recorded, from, SESS_MAX_TOOL_IDS);
    size_t nt = tool_ids(reply, to, SESS_MAX_TOOL_IDS);
    if (nf != nt) {
        rc = SESS_HIST_TOOLS_DIFFER;
        goto out;
    }
    if (nf > SESS_MAX_TOOL_IDS)
        nf = SESS_MAX_TOOL_IDS;
    rc = -1;
    if (!(arr = cJSON_Duplicate(sent_prev, 1)))
        goto out;
    cJSON *rm = cJSON_Duplicate(reply, 1);
    if (!rm)
        goto out;
    cJSON_AddItemToArray(arr, rm);
    for (int i = np + 1; i < nn; i++) {
        cJSON *m = cJSON_Duplicate(cJSON_GetArrayItem(nm, i), 1);
        if (!m)
            goto out;
        cJSON_AddItemToArray(arr, m);
        if (nf && rename_ids(m, from, to, nf))
            goto out;
    }
    cJSON *keep = cJSON_Duplicate(arr, 1);
    if (!keep)
        goto out;
    if (!cJSON_ReplaceItemInObjectCaseSensitive(nb, "messages", arr)) {
        cJSON_Delete(keep);
        goto out;
    }
    arr = NULL;
    char *s = cJSON_PrintUnformatted(nb);
    if (!s) {
        cJSON_Delete(keep);
        goto out;
    }
    *body = s;
    *len = strlen(s);
    *sent_next = keep;
    rc = SESS_HIST_LIVE;
out:
    cJSON_Delete(arr);
    cJSON_Delete(p);
    cJSON_Delete(nb);
    return rc;
}
