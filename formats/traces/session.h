/* session.h — sessions inferred from logged chat traffic (captured, replayed, or any trace
 * log): which requests are turns of one conversation, told from the requests alone
 * (`llmtrace-convert --sessions infer`; convert/README.md "Sessions" is the reference).
 *
 * A chat request R (OpenAI chat, Anthropic messages with its system prompt taken as the first
 * message, Ollama chat) is the next turn of an earlier request P when both come from the same
 * client and R's messages are P's messages, then one assistant message (P's reply: text or tool
 * calls), then at least one new message, one of them from the user or a tool (tool results:
 * agent turns count). Messages are compared by value (object keys in any order). Where several
 * earlier requests qualify, the one with the most messages wins (a conversation's latest turn);
 * among equals, the one whose reply text equals R's assistant message, then the most recent
 * (counted as ambiguous). P must have succeeded (status < 400, no error) and started before R.
 *
 *   client   capture's conn "IP:PORT>SERVER": the client's address without its port (a client
 *            opens new connections) and the server; any other conn form (llmtrace-replay's and
 *            llmtrace-sim's "wNcM", none): the whole log is one client.
 *   repeats  a request whose messages equal those of a failed earlier turn is that turn again
 *            (a retry): same session and turn index.
 *   branches a request that extends a turn another request already continued (a regenerated
 *            reply, an edited question) starts a session of its own whose first turn keeps its
 *            index (the turn it branched from + 1).
 *   memory   a turn not continued within idle_us of its end is forgotten, and at most max_open
 *            turns are kept (the oldest goes first), so a log of any length is read in bounded
 *            memory; a next turn after that starts a new session.
 *
 * Records are taken in log order: a turn must come after the one it continues. Logs are written
 * as exchanges complete, and a turn completes before the next one starts, so every llmtrace log
 * qualifies. Requests that are not chat (other dialects, no body: --no-bodies) and transport
 * attempts (resent_as) get no session (they keep what they had); every other request gets one
 * (a session of one turn is a session). */
#ifndef LLMTRACE_SESSION_H
#define LLMTRACE_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "tlog.h"

#define SESSION_IDLE_US (30LL * 60 * 1000000) /* 30 minutes */
#define SESSION_MAX_OPEN 100000

struct session_infer_opts {
    int64_t idle_us;         /* 0 → SESSION_IDLE_US */
    size_t max_open;         /* 0 → SESSION_MAX_OPEN */
    const char *prefix;      /* session ids are prefix + a counter from 1; NULL → "session-" */
};

struct session_infer_stats {
    int64_t records;         /* exchanges seen */
    int64_t skipped;         /* not chat, no body, or a transport attempt: no session */
    int64_t sessions;        /* sessions started (branches included) */
    int64_t linked;          /* requests linked as the next turn of an earlier one */
    int64_t repeats;         /* requests that repeated a failed turn */
    int64_t branches;        /* requests that extended an already continued turn */
    int64_t ambiguous;       /* links chosen among equal candidates */
    int64_t expired;         /* turns forgotten after idle_us */
    int64_t evicted;         /* turns forgotten because max_open were kept */
    int64_t think_clamped;   /* a next turn sent before its predecessor's recorded end: 0 */
};

struct session_infer;

/* NULL on no memory. o may be NULL (defaults). */
struct session_infer *session_infer_new(const struct session_infer_opts *o);
/* Decides x's session (replacing any x->session) from x and the records added before it, and
 * remembers x as a turn later requests may continue. x keeps no reference into s. 0, or
 * TLOG_ERR_NOMEM (x unchanged). */
int session_infer_add(struct session_infer *s, struct tlog_exchange *x);
void session_infer_get_stats(const struct session_infer *s, struct session_infer_stats *st);
/* session_infer_free(NULL) is a no-op. */
void session_infer_free(struct session_infer *s);

#endif
