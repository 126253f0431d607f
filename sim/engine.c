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
    e->n_running--;
    if (i != e->n_running) {
        e->running[i] = e->running[e->n_running];
        e->running[i]->slot = i;
    }
    e->running[e->n_running] = NULL;
}

/* Admits waiting sequences and schedules the step that starts at t. */
static void step_begin(struct engine *e, int64_t t)
{
    int64_t prefill = 0;
    int i, runnable = 0;
    int64_t wake = -1;

    while (e->n_running < e->max_batch && e->qhead) {
        struct eng_seq *s = e->qhead;
        e->qhead = s->next;
        if (!e->qhead)
            e->qtail = NULL;
        e->n_waiting--;
        s->next = NULL;
        s->state = ENG_RUNNING;
        s->slot = e->n_running;
        s->admit_ns = t;
        e->running[e->n_running++] = s;
        e->admitted++;
        e->prompt_tokens += (uint64_t)s->prompt_tokens;
        if (e->chunk_budget > 0 && s->prompt_tokens > 0) {
            s->prefill_left = s->prompt_tokens;
            s->pnext = NULL;
            if (e->ptail)
                e->ptail->pnext = s;
            else
                e->phead = s;
            e->ptail = s;
            e->n_prefill++;
        } else {
            prefill += s->prompt_tokens;
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
