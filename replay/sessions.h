/* sessions.h — llmtrace-replay --sessions: the input's requests grouped into conversations,
 * the think time before each turn, and the body of a turn with the endpoint's own replies in
 * its history (--history live). replay/README.md "Sessions" is the reference.
 *
 * A session is the requests that carry the same `session.id`, in turn order (turn index, then
 * recorded start); a request without one is a session of its own. Sessions are ordered by the
 * recorded start of their first selected turn, which is what the timing mode schedules; a
 * session whose earlier turns were not selected starts at its first selected one.
 *
 * Live history: turn k+1's recorded messages are expected to be turn k's recorded messages,
 * then the recorded reply (an assistant message), then new messages. The body sent for turn
 * k+1 is its recorded body with those messages replaced by: the messages sent for turn k in
 * this run, the endpoint's reply to it (reply.h), then the new messages — tool results' ids
 * (OpenAI tool_call_id, Anthropic tool_use_id) renamed to the live reply's tool-call ids, by
 * position. Where that cannot be done the turn goes with its recorded history, and says why. */
#ifndef LLMTRACE_REPLAY_SESSIONS_H
#define LLMTRACE_REPLAY_SESSIONS_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "input.h"

struct sess_table {
    size_t n;                  /* sessions */
    size_t *first;             /* per session: its first turn's position in turns[] */
    size_t *count;             /* per session: its selected turns */
    size_t *turns;             /* request indices (in->reqs), grouped by session, in turn order */
    int64_t *offsets;          /* per session: its first turn's offset_us (non-decreasing) */
    size_t with_id;            /* sessions that have a recorded id (the others: one request) */
    size_t multi;              /* sessions of more than one turn */
};

/* Groups in's requests into sessions. 0, or -1 on no memory. t is initialised by the callee. */
int sess_table_build(struct sess_table *t, const struct replay_input *in);
void sess_table_free(struct sess_table *t);

/* Where a think time came from. */
enum sess_think_source { SESS_THINK_RECORDED = 0, SESS_THINK_FIXED, SESS_THINK_GAP };

/* The think time before `next` (µs, >= 0, before --speed): its recorded session.think_us;
 * else think_default_us when >= 0 (--think-time); else the recorded gap: next's start − (prev's
 * start + prev's recorded response end; its start alone when that end is unknown). */
int64_t sess_think_us(const struct replay_req *prev, const struct replay_req *next,
                      int64_t think_default_us, enum sess_think_source *src);

/* Why a turn went with its recorded history under --history live. */
enum sess_history {
    SESS_HIST_LIVE = 0,        /* the endpoint's reply is in it */
    SESS_HIST_NOT_CHAT,        /* not OpenAI chat, Anthropic or Ollama chat (no messages) */
    SESS_HIST_NOT_EXTENDING,   /* its messages do not start with the previous turn's and a reply */
    SESS_HIST_TOOLS_DIFFER,    /* the live reply called another number of tools than the
                                  recorded one, whose results follow it */
    SESS_HIST_NO_REPLY,        /* the endpoint's reply could not be read */
    SESS_HIST_COUNT
};
/* "live", "not_chat", "not_extending", "tools_differ", "no_reply". */
const char *sess_history_name(enum sess_history h);

/* The messages a turn's recorded body sends, as a new array (Anthropic: its "messages"; the
 * system prompt stays in the body); NULL when the body has none. */
cJSON *sess_messages_of(const struct replay_req *r);

/* Builds turn `next`'s body for live history. sent_prev: the messages sent with `prev` in this
 * run (not taken); reply: the endpoint's reply to it as an assistant message (not taken; NULL
 * when unreadable). On SESS_HIST_LIVE *body (malloc'd bytes, *len) and *sent_next (the
 * messages it sends, caller owns) are set; otherwise nothing is, and the turn should be sent
 * with its recorded body. Returns the enum, or -1 on no memory. */
int sess_live_body(const struct replay_req *prev, const struct replay_req *next,
                   const cJSON *sent_prev, const cJSON *reply, char **body, size_t *len,
                   cJSON **sent_next);

#endif
