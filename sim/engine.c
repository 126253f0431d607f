/* engine.c — continuous-batching model of llmtrace-sim (see engine.h). */
#include "engine.h"

#include <stdlib.h>

int engine_init(struct engine *e, const struct profile *prof, int max_batch,
                int tokens_per_event, engine_emit_fn emit, void *ctx)
{
    if (max_batch < 1 || tokens_per_event < 1 || !prof || !emit)
        return -1;
    *e = (struct engine){0};
    e->prof = prof;
    e->max_batch = max_batch;
    e->tokens_per_event = tokens_per_event;
    e->emit = emit;
    e->ctx = ctx;
    e->running = calloc((size_t)max_batch, sizeof(*e->running));
    return e->running ? 0 : -1;
}

void engine_set_chunked_prefill(struct engine *e, int64_t n)
{
    e->chunk_budget = n > 0 ? n : 0;
}

void engine_set_kvcache(struct engine *e, struct kvcache *kv)
{
    e->kv = kv;
}

void engine_free(struct engine *e)
{
    free(e->running);
    e->running = NULL;
}

static void prefill_unlink(struct engine *e, struct eng_seq *s)
{
    struct eng_seq **pp = &e->phead, *prev = NULL;
    while (*pp && *pp != s) {
        prev = *pp;
        pp = &(*pp)->pnext;
    }
    if (*pp) {
        *pp = s->pnext;
        if (e->ptail == s)
            e->ptail = prev;
        e->n_prefill--;
    }
    s->pnext = NULL;
}

static void run_remove(struct engine *e, struct eng_seq *s)
{
    int i = s->slot;
    if (s->prefill_left > 0)
        prefill_unlink(e, s);
    if (e->kv)
        kv_release(e->kv, &s->kv);
    e->n_running--;
    if (i != e->n_running) {
        e->running[i] = e->running[e->n_running];
        e->running[i]->slot = i;
    }
    e->running[e->n_running] = NULL;
}

/* KV tokens a running sequence holds once this step is done: its prompt, and the KV of the
 * tokens it emitted, each computed in the step after the one that emitted it. */
static int64_t kv_tokens_after_step(const struct engine *e, const struct eng_seq *s)
{
    int64_t next = s->emitted + e->tokens_per_event;
    if (s->prefill_left > 0)
        return s->prompt_tokens + s->emitted; /* allocated whole at admission */
    return s->prompt_tokens + (next < s->n_out ? next : s->n_out) - 1;
}

/* Takes the most recently admitted running sequence out of the batch and puts it back at the
 * head of the queue, its blocks released; it will be recomputed. */
static void kv_preempt_newest(struct engine *e)
{
    struct eng_seq *v = e->running[0];
    for (int i = 1; i < e->n_running; i++)
        if (e->running[i]->order > v->order)
            v = e->running[i];
    run_remove(e, v); /* releases its blocks */
    v->prefill_left = v->chunk = 0;
    v->pnext = NULL;
    v->state = ENG_WAITING;
    v->next = e->qhead;
    e->qhead = v;
    if (!e->qtail)
        e->qtail = v;
    e->n_waiting++;
    v->preemptions++;
    e->preemptions++;
}

/* The running sequences' blocks for this step, preempting the newest until they fit. Returns
 * 1 when something was preempted. */
static int kv_schedule_running(struct engine *e)
{
    int preempted = 0, i;
    for (;;) {
        int64_t need = 0;
        for (i = 0; i < e->n_running; i++)
            need += kv_blocks_needed(e->kv, &e->running[i]->kv,
                                     kv_tokens_after_step(e, e->running[i]));
        if (need <= e->kv->n_free || e->n_running == 0)
            break;
        kv_preempt_newest(e);
        preempted = 1;
    }
    for (i = 0; i < e->n_running; i++) {
        struct eng_seq *s = e->running[i];
        int64_t n = kv_tokens_after_step(e, s);
        if (kv_grow(e->kv, &s->kv, n) == 0)
            kv_register(e->kv, &s->kv, s->hashes, s->n_hashes, n);
    }
    return preempted;
}

/* Admits waiting sequences and schedules the step that starts at t. */
static void step_begin(struct engine *e, int64_t t)
{
    int64_t prefill = 0;
    int i, runnable = 0;
    int64_t wake = -1;
    int preempted = e->kv ? kv_schedule_running(e) : 0;

    while (!preempted && e->n_running < e->max_batch && e->qhead) {
        struct eng_seq *s = e->qhead;
        /* a sequence preempted earlier recomputes what it emitted too */
        int64_t ntok = s->prompt_tokens + s->emitted, todo = ntok;
        if (e->kv) {
            int64_t hit = kv_admit(e->kv, &s->kv, s->hashes, s->n_hashes, ntok);
            if (hit < 0)
                break; /* the head waits for blocks; nothing overtakes it */
            if (s->preemptions == 0) {
                s->cached_tokens = hit;
                e->pc_queries += (uint64_t)ntok;
                e->pc_hits += (uint64_t)hit;
            }
            todo = ntok - hit;
        }
        e->qhead = s->next;
        if (!e->qhead)
            e->qtail = NULL;
        e->n_waiting--;
        s->next = NULL;
        s->state = ENG_RUNNING;
        s->slot = e->n_running;
        s->admit_ns = t;
        s->order = ++e->admit_seq;
        e->running[e->n_running++] = s;
        if (s->preemptions == 0) {
            e->admitted++;
            e->prompt_tokens += (uint64_t)s->prompt_tokens;
        }
        if (e->chunk_budget > 0 && todo > 0) {
            s->prefill_left = todo;
            s->pnext = NULL;
            if (e->ptail)
                e->ptail->pnext = s;
            else
                e->phead = s;
            e->ptail = s;
            e->n_prefill++;
        } else {
            prefill += todo;
        }
    }
    if (e->chunk_budget > 0) {
        /* K tokens of the budget per decoding sequence (a step is K decode iterations),
         * prompt chunks from the rest */
        int64_t budget = e->chunk_budget -
                         (int64_t)e->tokens_per_event * (e->n_running - e->n_prefill);
        struct eng_seq *q;
        if (budget < 1)
            budget = 1; /* the oldest prompt always advances (the CLI keeps N >= max-batch) */
        for (q = e->phead; q; q = q->pnext) {
            q->chunk = budget > 0 ? (q->prefill_left < budget ? q->prefill_left : budget) : 0;
            budget -= q->chunk;
            prefill += q->chunk;
        }
    }
    if (e->n_running == 0) {
        e->active = 0;
        return;
    }
    e->active = 1;
    e->step_start_ns = t;
    e->step_prefill = prefill;
    e->step_end_ns = t + profile_step_ns(e->prof, e->n_running, e->tokens_per_event, prefill);
    if (e->step_end_ns > t)
        return;
    /* Zero-length steps: never spin on a batch that cannot emit. */
    for (i = 0; i < e->n_running; i++) {
        struct eng_seq *s = e->running[i];
        if (s->blocked)
            continue;
        if (s->prefill_left > 0 && s->chunk == 0)
            continue; /* waits for budget: it cannot emit in this step */
        if (s->stall_until > t) {
            if (wake < 0 || s->stall_until < wake)
                wake = s->stall_until;
            continue;
        }
        runnable++;
    }
    if (runnable == 0) {
        if (wake >= 0)
            e->step_end_ns = wake;
        else
            e->active = 0; /* parked until a submit or an unblock */
    }
}

void engine_submit(struct engine *e, struct eng_seq *s, int64_t now_ns)
{
    s->next = NULL;
    s->state = ENG_WAITING;
    s->emitted = 0;
    s->stall_until = 0;
    s->blocked = 0;
    s->prefill_left = s->chunk = 0;
    s->pnext = NULL;
    if (e->qtail)
        e->qtail->next = s;
    else
        e->qhead = s;
    e->qtail = s;
    e->n_waiting++;
    if (!e->active)
        step_begin(e, now_ns);
}

void engine_cancel(struct engine *e, struct eng_seq *s)
{
    if (s->state == ENG_WAITING) {
        struct eng_seq **pp = &e->qhead, *prev = NULL;
        while (*pp && *pp != s) {
            prev = *pp;
            pp = &(*pp)->next;
        }
        if (*pp) {
            *pp = s->next;
            if (e->qtail == s)
                e->qtail = prev;
            e->n_waiting--;
        }
    } else if (s->state == ENG_RUNNING) {
        run_remove(e, s);
    }
    kv_table_free(&s->kv);
    s->prefill_left = 0;
    s->next = NULL;
    s->state = ENG_DONE;
}

void engine_set_blocked(struct engine *e, struct eng_seq *s, int blocked, int64_t now_ns)
{
    s->blocked = blocked;
    if (!blocked && !e->active && (e->n_running > 0 || e->qhead))
        step_begin(e, now_ns);
}

int64_t engine_due(const struct engine *e)
{
    return e->active ? e->step_end_ns : -1;
}

/* Emits the events of the step ending at e->step_end_ns. */
static void step_complete(struct engine *e)
{
    int64_t t = e->step_end_ns;
    int i = 0;
    struct eng_seq *q, *qn, **keep = &e->phead;
    e->steps++;
    /* this step's prompt chunks are done; finished prompts leave the prefill queue (one pass,
     * order kept) and emit below */
    e->ptail = NULL;
    for (q = e->phead; q; q = qn) {
        qn = q->pnext;
        q->prefill_left -= q->chunk;
        q->chunk = 0;
        if (q->prefill_left > 0) {
            *keep = q;
            keep = &q->pnext;
            e->ptail = q;
        } else {
            q->prefill_left = 0;
            q->pnext = NULL;
            e->n_prefill--;
        }
    }
    *keep = NULL;
    while (i < e->n_running) {
        struct eng_seq *s = e->running[i];
        int64_t left;
        int tokens, first, last;
        if (s->blocked || s->stall_until > t || s->prefill_left > 0) {
            i++;
            continue;
        }
        left = s->n_out - s->emitted;
        tokens = left < e->tokens_per_event ? (int)left : e->tokens_per_event;
        first = s->emitted == 0;
        s->emitted += tokens;
        e->tokens_out += (uint64_t)tokens;
        last = s->emitted >= s->n_out;
        if (!last && s->stall_at >= 0 && s->emitted >= s->stall_at) {
            s->stall_until = t + s->stall_ns;
            s->stall_at = -1;
        }
        if (e->emit(e->ctx, s, tokens, first, last, t) || last) {
            run_remove(e, s); /* moves another sequence into slot i */
            kv_table_free(&s->kv);
            s->state = ENG_DONE;
            continue;
        }
        i++;
    }
}

int engine_advance(struct engine *e, int64_t now_ns, int max_steps)
{
    int n = 0;
    int zero = e->prof->kind == PROFILE_ZERO;
    while (e->active && e->step_end_ns <= now_ns && n < max_steps) {
        step_complete(e);
        n++;
        step_begin(e, zero ? now_ns : e->step_end_ns);
    }
    return n;
}
