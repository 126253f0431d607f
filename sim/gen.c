/* gen.c — response bytes of llmtrace-sim for every dialect (see gen.h for the specs). */
#include "gen.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "rng.h"

/* 64 short words: printable, no JSON escaping needed, so text is copied as is. */
struct gen_word {
    const char *s;
    unsigned char len;
};
#define W(x) {x, sizeof(x) - 1}
static const struct gen_word gen_words[64] = {
    W("the"), W("model"), W("token"), W("stream"), W("batch"), W("queue"), W("latency"), W("prefill"),
    W("decode"), W("cache"), W("server"), W("client"), W("replay"), W("trace"), W("request"), W("reply"),
    W("alpha"), W("beta"), W("gamma"), W("delta"), W("river"), W("stone"), W("cloud"), W("light"),
    W("quick"), W("brown"), W("fox"), W("jumps"), W("over"), W("lazy"), W("dog"), W("and"),
    W("a"), W("of"), W("to"), W("in"), W("is"), W("it"), W("that"), W("for"),
    W("on"), W("with"), W("as"), W("was"), W("at"), W("by"), W("from"), W("this"),
    W("green"), W("blue"), W("red"), W("small"), W("large"), W("fast"), W("slow"), W("warm"),
    W("cold"), W("north"), W("south"), W("east"), W("west"), W("simple"), W("exact"), W("ready"),
};
#undef W

static const char *word_at(uint64_t seed, int64_t i, size_t *len)
{
    unsigned w = (unsigned)(rng_mix(seed ^ (uint64_t)i * 0xd1342543de82ef95ULL) & 63);
    *len = gen_words[w].len;
    return gen_words[w].s;
}

int gen_append_text(struct buf *b, uint64_t seed, int64_t from, int64_t ntok)
{
    int64_t i;
    int rc;
    if ((rc = buf_reserve(b, (size_t)ntok * 9)) != 0)
        return rc;
    for (i = from; i < from + ntok; i++) {
        size_t n;
        const char *w = word_at(seed, i, &n);
        if (i > 0)
            b->p[b->len++] = ' ';
        memcpy(b->p + b->len, w, n);
        b->len += n;
    }
    b->p[b->len] = '\0';
    return 0;
}

static const char *const persona_names[GEN_PERSONA_COUNT] = {
    "sim", "llama.cpp", "vllm", "sglang", "ollama", "tgi", "openai",
};

int gen_persona_parse(const char *s)
{
    for (int i = 0; i < GEN_PERSONA_COUNT; i++)
        if (strcmp(s, persona_names[i]) == 0)
            return i;
    return -1;
}

const char *gen_persona_name(int p)
{
    return p >= 0 && p < GEN_PERSONA_COUNT ? persona_names[p] : "sim";
}

static int is_oa(const struct gen_req *r)
{
    return r->d == DIALECT_OPENAI_CHAT || r->d == DIALECT_OPENAI_COMPLETIONS;
}

static const char *oa_object(const struct gen_req *r)
{
    return r->d == DIALECT_OPENAI_CHAT ? "chat.completion.chunk" : "text_completion";
}

/* An OpenAI chunk's bytes up to its "choices" array, in the persona's key order. */
static int oa_head(struct buf *b, const struct gen_req *r)
{
    switch (r->persona) {
    case GEN_PERSONA_LLAMACPP: /* nlohmann::json sorts: choices first, the rest after */
        return buf_append_str(b, "data: {\"choices\":[");
    case GEN_PERSONA_TGI:      /* axum's Event::json_data: "data:" without a space */
        return buf_printf(b, "data:{\"object\":\"%s\",\"id\":\"\",\"created\":%" PRId64
                             ",\"model\":\"%s\",\"system_fingerprint\":\"3.3.6-native\","
                             "\"choices\":[", oa_object(r), r->created, r->model);
    case GEN_PERSONA_OLLAMA:
        return buf_printf(b, "data: {\"id\":\"%s\",\"object\":\"%s\",\"created\":%" PRId64
                             ",\"model\":\"%s\",\"system_fingerprint\":\"fp_ollama\",\"choices\":[",
                          r->id, oa_object(r), r->created, r->model);
    case GEN_PERSONA_OPENAI:
        return buf_printf(b, "data: {\"id\":\"%s\",\"object\":\"%s\",\"created\":%" PRId64
                             ",\"model\":\"%s\",\"service_tier\":\"default\",\"system_fingerprint\":"
                             "\"fp_llmtrace_sim\",\"choices\":[",
                          r->id, oa_object(r), r->created, r->model);
    default:
        return buf_printf(b, "data: {\"id\":\"%s\",\"object\":\"%s\",\"created\":%" PRId64
                             ",\"model\":\"%s\",\"choices\":[",
                          r->id, oa_object(r), r->created, r->model);
    }
}

/* The bytes after a chunk's "choices" array (extra: further members such as usage, or ""). */
static int oa_tail(struct buf *b, const struct gen_req *r, const char *extra)
{
    switch (r->persona) {
    case GEN_PERSONA_LLAMACPP:
        return buf_printf(b, "],\"created\":%" PRId64 ",\"id\":\"%s\",\"model\":\"%s\","
                             "\"system_fingerprint\":\"b4747-llmtrace-sim\",\"object\":\"%s\"%s}\n\n",
                          r->created, r->id, r->model, oa_object(r), extra);
    case GEN_PERSONA_SGLANG:
    case GEN_PERSONA_TGI:
        return buf_printf(b, "]%s}\n\n", *extra ? extra : ",\"usage\":null");
    case GEN_PERSONA_OPENAI:
        return buf_printf(b, "]%s}\n\n", *extra ? extra : r->include_usage ? ",\"usage\":null" : "");
    default:
        return buf_printf(b, "]%s}\n\n", extra);
    }
}

/* A choice's bytes before its text (first: the stream's first content chunk) and after it
 * (finish: the finish reason this chunk carries, or NULL). */
static int oa_choice_pre(struct buf *b, const struct gen_req *r, int first)
{
    if (r->d == DIALECT_OPENAI_COMPLETIONS)
        return buf_append_str(b, r->persona == GEN_PERSONA_LLAMACPP ? "{\"text\":\""
                                                                    : "{\"index\":0,\"text\":\"");
    switch (r->persona) {
    case GEN_PERSONA_LLAMACPP:
        return buf_append_str(b, "{\"finish_reason\":null,\"index\":0,\"delta\":{\"content\":\"");
    case GEN_PERSONA_SGLANG:
        return buf_append_str(b, "{\"index\":0,\"delta\":{\"role\":null,\"content\":\"");
    case GEN_PERSONA_TGI:
        return buf_append_str(b, "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"");
    case GEN_PERSONA_OLLAMA:
        return buf_append_str(b, first ? "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\""
                                       : "{\"index\":0,\"delta\":{\"content\":\"");
    default:
        return buf_append_str(b, "{\"index\":0,\"delta\":{\"content\":\"");
    }
}

static int oa_choice_suf(struct buf *b, const struct gen_req *r, const char *finish)
{
    char f[40];
    if (finish)
        snprintf(f, sizeof f, "\"%s\"", finish);
    else
        snprintf(f, sizeof f, "null");
    if (r->d == DIALECT_OPENAI_COMPLETIONS) {
        if (r->persona == GEN_PERSONA_LLAMACPP)
            return buf_printf(b, "\",\"index\":0,\"logprobs\":null,\"finish_reason\":%s}", f);
        return buf_printf(b, "\",\"logprobs\":null,\"finish_reason\":%s%s}", f,
                          r->persona == GEN_PERSONA_VLLM ? ",\"stop_reason\":null" : "");
    }
    switch (r->persona) {
    case GEN_PERSONA_LLAMACPP:
        return buf_append_str(b, "\"}}");
    case GEN_PERSONA_SGLANG:
        return buf_printf(b, "\",\"reasoning_content\":null,\"tool_calls\":null},\"logprobs\":null,"
                             "\"finish_reason\":%s,\"matched_stop\":null}", f);
    case GEN_PERSONA_OLLAMA:
        return buf_printf(b, "\"},\"finish_reason\":%s}", f);
    case GEN_PERSONA_VLLM:
        return buf_printf(b, "\"},\"logprobs\":null,\"finish_reason\":%s%s}", f,
                          finish ? ",\"stop_reason\":null" : "");
    default:
        return buf_printf(b, "\"},\"logprobs\":null,\"finish_reason\":%s}", f);
    }
}

/* vLLM and TGI put the finish reason on the chunk of the last token; the others send a
 * chunk of its own after it. */
static int oa_finish_in_last(const struct gen_req *r)
{
    return r->persona == GEN_PERSONA_VLLM || r->persona == GEN_PERSONA_TGI;
}

static void copy_piece(char *dst, size_t cap, size_t *len, const struct buf *b)
{
    if (b->p && b->len < cap) {
        memcpy(dst, b->p, b->len);
        dst[b->len] = '\0';
        *len = b->len;
    } else {
        *len = 0;
    }
}

void gen_req_init(struct gen_req *r, enum dialect_id d, uint64_t n, const char *model,
                  size_t model_len, int64_t created)
{
    gen_req_init_persona(r, GEN_PERSONA_SIM, d, n, model, model_len, created);
}

void gen_req_init_persona(struct gen_req *r, int persona, enum dialect_id d, uint64_t n,
                          const char *model, size_t model_len, int64_t created)
{
    struct buf m;
    int k = 0;
    r->d = d;
    r->persona = persona >= 0 && persona < GEN_PERSONA_COUNT ? persona : GEN_PERSONA_SIM;
    r->created = created;
    r->seq_no = 0;
    r->content_sent = 0;
    r->n_cached = -1;
    switch (d) {
    case DIALECT_OPENAI_CHAT:
        snprintf(r->id, sizeof(r->id), "chatcmpl-sim-%" PRIu64, n);
        break;
    case DIALECT_ANTHROPIC:
        snprintf(r->id, sizeof(r->id), "msg_sim_%" PRIu64, n);
        break;
    case DIALECT_OPENAI_RESPONSES:
        snprintf(r->id, sizeof(r->id), "resp_sim_%" PRIu64, n);
        break;
    default:
        snprintf(r->id, sizeof(r->id), "cmpl-sim-%" PRIu64, n);
        break;
    }
    buf_init(&m, sizeof(r->model) - 1);
    if (model_len > 120)
        model_len = 120; /* escaped form fits the fixed field */
    /* copy by length: an empty append may leave m.p allocated but unterminated */
    if (buf_append_json_str(&m, model, model_len) == 0 && m.p && m.len < sizeof(r->model)) {
        memcpy(r->model, m.p, m.len);
        r->model[m.len] = '\0';
    } else {
        r->model[0] = '\0';
    }
    buf_free(&m);
    r->suffix_len = 0;
    r->prefix_len = 0;
    if (is_oa(r)) {
        struct buf t;
        buf_init(&t, sizeof(r->prefix) - 1);
        if (oa_head(&t, r) == 0 && oa_choice_pre(&t, r, 0) == 0)
            copy_piece(r->prefix, sizeof r->prefix, &r->prefix_len, &t);
        buf_reset(&t);
        if (oa_choice_suf(&t, r, NULL) == 0 && oa_tail(&t, r, "") == 0)
            copy_piece(r->suffix, sizeof r->suffix, &r->suffix_len, &t);
        buf_free(&t);
        return;
    }
    switch (d) {
    case DIALECT_ANTHROPIC:
        k = snprintf(r->prefix, sizeof(r->prefix),
                     "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
                     "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"");
        break;
    case DIALECT_OLLAMA_GENERATE:
    case DIALECT_OLLAMA_CHAT:
        k = snprintf(r->prefix, sizeof(r->prefix), "{\"model\":\"%s\",\"created_at\":\"",
                     r->model);
        break;
    default:
        k = 0;
        break;
    }
    r->prefix_len = k > 0 && (size_t)k < sizeof(r->prefix) ? (size_t)k : 0;
}

int gen_has_role_chunk(const struct gen_req *r)
{
    return r->d == DIALECT_OPENAI_CHAT &&
           (r->persona == GEN_PERSONA_SIM || r->persona == GEN_PERSONA_VLLM ||
            r->persona == GEN_PERSONA_SGLANG || r->persona == GEN_PERSONA_OPENAI);
}

int gen_token_held(const struct gen_req *r, int64_t i)
{
    if (r->persona != GEN_PERSONA_LLAMACPP || !is_oa(r) || i + 1 >= r->n_out)
        return 0;
    return (rng_mix(r->seed ^ 0x6c6c616d61ULL ^ (uint64_t)i * 0x9e3779b97f4a7c15ULL) & 7) == 0;
}

int gen_n_preamble(const struct gen_req *r)
{
    return r->d == DIALECT_ANTHROPIC ? 3 : r->d == DIALECT_OPENAI_RESPONSES ? 4 : 0;
}

/* The Responses API's response object: status "in_progress", "completed" or "incomplete";
 * done: with the output message and usage. */
static int rs_object(struct buf *b, const struct gen_req *r, int done)
{
    int rc = buf_printf(b, "{\"id\":\"%s\",\"object\":\"response\",\"created_at\":%" PRId64
                           ",\"status\":\"%s\",\"error\":null,\"incomplete_details\":%s,"
                           "\"model\":\"%s\",\"output\":[",
                        r->id, r->created,
                        !done ? "in_progress" : r->finish_length ? "incomplete" : "completed",
                        done && r->finish_length ? "{\"reason\":\"max_output_tokens\"}" : "null",
                        r->model);
    if (!rc && done) {
        rc = buf_printf(b, "{\"id\":\"msg_%s\",\"type\":\"message\",\"status\":\"%s\","
                           "\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\","
                           "\"text\":\"", r->id + 5, r->finish_length ? "incomplete" : "completed");
        if (!rc)
            rc = gen_append_text(b, r->seed, 0, r->n_out);
        if (!rc)
            rc = buf_append_str(b, "\",\"annotations\":[]}]}");
    }
    if (!rc && done)
        rc = buf_printf(b, "],\"usage\":{\"input_tokens\":%" PRId64 ",\"input_tokens_details\":"
                           "{\"cached_tokens\":%" PRId64 "},\"output_tokens\":%" PRId64 ","
                           "\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":%"
                           PRId64 "}}", r->n_in, r->n_cached > 0 ? r->n_cached : 0, r->n_out,
                        r->n_in + r->n_out);
    else if (!rc)
        rc = buf_append_str(b, "],\"usage\":null}");
    return rc;
}

/* "event: T\ndata: {"type":"T","sequence_number":N," — the caller writes the rest. */
static int rs_event_head(struct buf *b, struct gen_req *r, const char *type)
{
    return buf_printf(b, "event: %s\ndata: {\"type\":\"%s\",\"sequence_number\":%" PRId64 ",",
                      type, type, r->seq_no++);
}

static int rs_preamble(struct buf *b, struct gen_req *r, int idx)
{
    int rc;
    switch (idx) {
    case 0:
    case 1:
        rc = rs_event_head(b, r, idx == 0 ? "response.created" : "response.in_progress");
        if (!rc)
            rc = buf_append_str(b, "\"response\":");
        if (!rc)
            rc = rs_object(b, r, 0);
        return rc ? rc : buf_append_str(b, "}\n\n");
    case 2:
        rc = rs_event_head(b, r, "response.output_item.added");
        return rc ? rc : buf_printf(b, "\"output_index\":0,\"item\":{\"id\":\"msg_%s\",\"type\":"
                                       "\"message\",\"status\":\"in_progress\",\"role\":"
                                       "\"assistant\",\"content\":[]}}\n\n", r->id + 5);
    default:
        rc = rs_event_head(b, r, "response.content_part.added");
        return rc ? rc : buf_printf(b, "\"item_id\":\"msg_%s\",\"output_index\":0,"
                                       "\"content_index\":0,\"part\":{\"type\":\"output_text\","
                                       "\"text\":\"\",\"annotations\":[]}}\n\n", r->id + 5);
    }
}

int gen_preamble(struct buf *b, struct gen_req *r, int idx)
{
    if (r->d == DIALECT_OPENAI_RESPONSES)
        return rs_preamble(b, r, idx);
    switch (idx) {
    case 0:
        return buf_printf(b,
                          "event: message_start\ndata: {\"type\":\"message_start\",\"message\":"
                          "{\"id\":\"%s\",\"type\":\"message\",\"role\":\"assistant\",\"model\":"
                          "\"%s\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
                          "\"usage\":{\"input_tokens\":%" PRId64 ",\"output_tokens\":1}}}\n\n",
                          r->id, r->model, r->n_in);
    case 1:
        return buf_append_str(b, "event: content_block_start\ndata: {\"type\":"
                                 "\"content_block_start\",\"index\":0,\"content_block\":"
                                 "{\"type\":\"text\",\"text\":\"\"}}\n\n");
    default:
        return buf_append_str(b, "event: ping\ndata: {\"type\": \"ping\"}\n\n");
    }
}

int gen_role_chunk(struct buf *b, const struct gen_req *r)
{
    if (r->persona == GEN_PERSONA_SGLANG || r->persona == GEN_PERSONA_OPENAI) {
        int rc = oa_head(b, r);
        if (!rc)
            rc = buf_append_str(b, r->persona == GEN_PERSONA_SGLANG
                                       ? "{\"index\":0,\"delta\":{\"role\":\"assistant\","
                                         "\"content\":\"\",\"reasoning_content\":null,\"tool_calls\":"
                                         "null},\"logprobs\":null,\"finish_reason\":null,"
                                         "\"matched_stop\":null}"
                                       : "{\"index\":0,\"delta\":{\"role\":\"assistant\","
                                         "\"content\":\"\",\"refusal\":null},\"logprobs\":null,"
                                         "\"finish_reason\":null}");
        return rc ? rc : oa_tail(b, r, "");
    }
    return buf_printf(b,
                      "data: {\"id\":\"%s\",\"object\":\"chat.completion.chunk\",\"created\":%" PRId64
                      ",\"model\":\"%s\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
                      "\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}"
                      "\n\n",
                      r->id, r->created, r->model);
}

const char *gen_finish_name(const struct gen_req *r)
{
    if (r->d == DIALECT_ANTHROPIC)
        return r->finish_length ? "max_tokens" : "end_turn";
    if (r->d == DIALECT_TGI)
        return r->finish_length ? "length" : "eos_token";
    if (r->d == DIALECT_OPENAI_RESPONSES)
        return r->finish_length ? "max_output_tokens" : "completed";
    return r->finish_length ? "length" : "stop";
}

static int append_ts(struct buf *b, int64_t now_us)
{
    char ts[40];
    clock_format_rfc3339(now_us, ts, sizeof(ts));
    return buf_append_str(b, ts);
}

int gen_content(struct buf *b, struct gen_req *r, int64_t from, int64_t ntok, int last,
                int malformed, int64_t now_us)
{
    const char *suffix = "";
    int rc = 0, first = r->content_sent++ == 0;
    switch (r->d) {
    case DIALECT_OPENAI_CHAT:
    case DIALECT_OPENAI_COMPLETIONS:
        if (first && r->persona == GEN_PERSONA_OLLAMA && r->d == DIALECT_OPENAI_CHAT) {
            rc = oa_head(b, r); /* Ollama's first chunk carries the role with the text */
            if (!rc)
                rc = oa_choice_pre(b, r, 1);
        } else {
            rc = buf_append(b, r->prefix, r->prefix_len);
        }
        if (!rc)
            rc = gen_append_text(b, r->seed, from, ntok);
        if (rc || malformed)
            return rc ? rc : buf_append_str(b, "\n\n");
        if (last && oa_finish_in_last(r)) {
            rc = oa_choice_suf(b, r, gen_finish_name(r));
            return rc ? rc : oa_tail(b, r, "");
        }
        return buf_append(b, r->suffix, r->suffix_len);
    case DIALECT_OPENAI_RESPONSES:
        rc = rs_event_head(b, r, "response.output_text.delta");
        if (!rc)
            rc = buf_printf(b, "\"item_id\":\"msg_%s\",\"output_index\":0,\"content_index\":0,"
                               "\"delta\":\"", r->id + 5);
        if (!rc)
            rc = gen_append_text(b, r->seed, from, ntok);
        if (rc || malformed)
            return rc ? rc : buf_append_str(b, "\n\n");
        return buf_append_str(b, "\",\"logprobs\":[]}\n\n");
    case DIALECT_ANTHROPIC:
        rc = buf_append(b, r->prefix, r->prefix_len);
        suffix = "\"}}\n\n";
        break;
    case DIALECT_OLLAMA_GENERATE:
    case DIALECT_OLLAMA_CHAT:
        rc = buf_append(b, r->prefix, r->prefix_len);
        if (!rc)
            rc = append_ts(b, now_us);
        if (!rc)
            rc = buf_append_str(b, r->d == DIALECT_OLLAMA_CHAT
                                       ? "\",\"message\":{\"role\":\"assistant\",\"content\":\""
                                       : "\",\"response\":\"");
        suffix = r->d == DIALECT_OLLAMA_CHAT ? "\"},\"done\":false}\n" : "\",\"done\":false}\n";
        break;
    case DIALECT_TGI:
        rc = buf_printf(b, "data:{\"index\":%" PRId64 ",\"token\":{\"id\":%u,\"text\":\"",
                        from + ntok, (unsigned)(rng_mix(r->seed ^ (uint64_t)from) % 32000));
        suffix = "\",\"logprob\":-0.25,\"special\":false},\"generated_text\":null,\"details\":null}\n\n";
        break;
    default:
        return BUF_ERR_TOO_BIG;
    }
    if (!rc)
        rc = gen_append_text(b, r->seed, from, ntok);
    if (rc)
        return rc;
    if (malformed) /* the JSON stops mid-string: undecodable by any client */
        return buf_append_str(b, r->d == DIALECT_OLLAMA_GENERATE || r->d == DIALECT_OLLAMA_CHAT
                                     ? "\n" : "\n\n");
    if (r->d == DIALECT_TGI && last) {
        rc = buf_append_str(b, "\",\"logprob\":-0.25,\"special\":false},\"generated_text\":\"");
        if (!rc)
            rc = gen_append_text(b, r->seed, 0, r->n_out);
        if (!rc)
            rc = buf_printf(b, "\",\"details\":{\"finish_reason\":\"%s\",\"generated_tokens\":%" PRId64
                               ",\"seed\":null}}\n\n",
                            gen_finish_name(r), r->n_out);
        return rc;
    }
    return buf_append_str(b, suffix);
}

int gen_n_trailer(const struct gen_req *r)
{
    switch (r->d) {
    case DIALECT_OPENAI_CHAT:
    case DIALECT_OPENAI_COMPLETIONS:
        /* [finish chunk] [usage chunk] [DONE]: llama.cpp's usage rides on its finish chunk */
        return !oa_finish_in_last(r) + (r->include_usage && r->persona != GEN_PERSONA_LLAMACPP) + 1;
    case DIALECT_ANTHROPIC:
    case DIALECT_OPENAI_RESPONSES:
        return r->d == DIALECT_ANTHROPIC ? 3 : 4;
    case DIALECT_OLLAMA_GENERATE:
    case DIALECT_OLLAMA_CHAT:
        return 1;
    default:
        return 0;
    }
}

/* vLLM's usage with --enable-prompt-tokens-details: the cached prompt tokens (prefix cache). */
static const char *cached_details(const struct gen_req *r, char *tmp, size_t n)
{
    if (r->n_cached < 0)
        return "";
    snprintf(tmp, n, ",\"prompt_tokens_details\":{\"cached_tokens\":%" PRId64 "}", r->n_cached);
    return tmp;
}

static int append_usage(struct buf *b, const struct gen_req *r)
{
    char det[80];
    return buf_printf(b, "\"usage\":{\"prompt_tokens\":%" PRId64 ",\"completion_tokens\":%" PRId64
                         ",\"total_tokens\":%" PRId64 "%s}",
                      r->n_in, r->n_out, r->n_in + r->n_out, cached_details(r, det, sizeof det));
}

static int ollama_final(struct buf *b, const struct gen_req *r, int64_t now_us,
                        int64_t prompt_eval_ns, int64_t eval_ns, int with_text)
{
    int rc = buf_printf(b, "{\"model\":\"%s\",\"created_at\":\"", r->model);
    if (!rc)
        rc = append_ts(b, now_us);
    if (!rc)
        rc = buf_append_str(b, r->d == DIALECT_OLLAMA_CHAT
                                   ? "\",\"message\":{\"role\":\"assistant\",\"content\":\""
                                   : "\",\"response\":\"");
    if (!rc && with_text)
        rc = gen_append_text(b, r->seed, 0, r->n_out);
    if (!rc)
        rc = buf_printf(b,
                        "\"%s,\"done\":true,\"done_reason\":\"%s\",\"total_duration\":%" PRId64
                        ",\"load_duration\":0,\"prompt_eval_count\":%" PRId64
                        ",\"prompt_eval_duration\":%" PRId64 ",\"eval_count\":%" PRId64
                        ",\"eval_duration\":%" PRId64 "}\n",
                        r->d == DIALECT_OLLAMA_CHAT ? "}" : "", gen_finish_name(r),
                        prompt_eval_ns + eval_ns, r->n_in, prompt_eval_ns, r->n_out, eval_ns);
    return rc;
}

/* llama.cpp's finish chunk: usage and its timings object, whatever stream_options says. */
static int llama_usage_timings(struct buf *b, const struct gen_req *r, int64_t pe_ns, int64_t ev_ns)
{
    double pms = (double)pe_ns / 1e6, ems = (double)ev_ns / 1e6;
    double nin = (double)(r->n_in > 0 ? r->n_in : 1), nout = (double)(r->n_out > 0 ? r->n_out : 1);
    return buf_printf(b, ",\"usage\":{\"completion_tokens\":%" PRId64 ",\"prompt_tokens\":%" PRId64
                         ",\"total_tokens\":%" PRId64 "},\"timings\":{\"prompt_n\":%" PRId64
                         ",\"prompt_ms\":%.3f,\"prompt_per_token_ms\":%.6f,\"prompt_per_second\":%.3f,"
                         "\"predicted_n\":%" PRId64 ",\"predicted_ms\":%.3f,\"predicted_per_token_ms\":"
                         "%.6f,\"predicted_per_second\":%.3f}",
                      r->n_out, r->n_in, r->n_in + r->n_out, r->n_in, pms, pms / nin,
                      pms > 0 ? nin * 1000.0 / pms : 0.0, r->n_out, ems, ems / nout,
                      ems > 0 ? nout * 1000.0 / ems : 0.0);
}

static int oa_finish_chunk(struct buf *b, const struct gen_req *r, int64_t pe_ns, int64_t ev_ns)
{
    const char *f = gen_finish_name(r);
    int rc = oa_head(b, r);
    if (rc)
        return rc;
    if (r->d == DIALECT_OPENAI_COMPLETIONS)
        rc = r->persona == GEN_PERSONA_LLAMACPP
                 ? buf_printf(b, "{\"text\":\"\",\"index\":0,\"logprobs\":null,\"finish_reason\":\"%s\"}", f)
                 : buf_printf(b, "{\"index\":0,\"text\":\"\",\"logprobs\":null,\"finish_reason\":\"%s\"}", f);
    else if (r->persona == GEN_PERSONA_LLAMACPP)
        rc = buf_printf(b, "{\"finish_reason\":\"%s\",\"index\":0,\"delta\":{}}", f);
    else if (r->persona == GEN_PERSONA_SGLANG)
        rc = buf_printf(b, "{\"index\":0,\"delta\":{\"role\":null,\"content\":null,\"reasoning_content\":"
                           "null,\"tool_calls\":null},\"logprobs\":null,\"finish_reason\":\"%s\","
                           "\"matched_stop\":null}", f);
    else if (r->persona == GEN_PERSONA_OLLAMA)
        rc = buf_printf(b, "{\"index\":0,\"delta\":{},\"finish_reason\":\"%s\"}", f);
    else
        rc = buf_printf(b, "{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"%s\"}", f);
    if (rc)
        return rc;
    if (r->persona == GEN_PERSONA_LLAMACPP) {
        struct buf u;
        buf_init(&u, 1024);
        rc = llama_usage_timings(&u, r, pe_ns, ev_ns);
        if (!rc)
            rc = oa_tail(b, r, u.p ? u.p : "");
        buf_free(&u);
        return rc;
    }
    return oa_tail(b, r, "");
}

static int oa_usage_chunk(struct buf *b, const struct gen_req *r)
{
    char u[320], det[80];
    int rc = oa_head(b, r);
    if (rc)
        return rc;
    if (r->persona == GEN_PERSONA_VLLM) /* vLLM's UsageInfo field order */
        snprintf(u, sizeof u, ",\"usage\":{\"prompt_tokens\":%" PRId64 ",\"total_tokens\":%" PRId64
                              ",\"completion_tokens\":%" PRId64 "%s}",
                 r->n_in, r->n_in + r->n_out, r->n_out, cached_details(r, det, sizeof det));
    else if (r->persona == GEN_PERSONA_OPENAI)
        snprintf(u, sizeof u, ",\"usage\":{\"prompt_tokens\":%" PRId64 ",\"completion_tokens\":%" PRId64
                              ",\"total_tokens\":%" PRId64 ",\"prompt_tokens_details\":{\"cached_tokens\":"
                              "%" PRId64 "},\"completion_tokens_details\":{\"reasoning_tokens\":0}}",
                 r->n_in, r->n_out, r->n_in + r->n_out, r->n_cached > 0 ? r->n_cached : 0);
    else
        snprintf(u, sizeof u, ",\"usage\":{\"prompt_tokens\":%" PRId64 ",\"completion_tokens\":%" PRId64
                              ",\"total_tokens\":%" PRId64 "%s}",
                 r->n_in, r->n_out, r->n_in + r->n_out, cached_details(r, det, sizeof det));
    return oa_tail(b, r, u);
}

static int rs_trailer(struct buf *b, struct gen_req *r, int idx)
{
    int rc;
    const char *mid = r->id + 5;
    switch (idx) {
    case 0:
        rc = rs_event_head(b, r, "response.output_text.done");
        if (!rc)
            rc = buf_printf(b, "\"item_id\":\"msg_%s\",\"output_index\":0,\"content_index\":0,\"text\":\"", mid);
        if (!rc)
            rc = gen_append_text(b, r->seed, 0, r->n_out);
        return rc ? rc : buf_append_str(b, "\",\"logprobs\":[]}\n\n");
    case 1:
        rc = rs_event_head(b, r, "response.content_part.done");
        if (!rc)
            rc = buf_printf(b, "\"item_id\":\"msg_%s\",\"output_index\":0,\"content_index\":0,"
                               "\"part\":{\"type\":\"output_text\",\"text\":\"", mid);
        if (!rc)
            rc = gen_append_text(b, r->seed, 0, r->n_out);
        return rc ? rc : buf_append_str(b, "\",\"annotations\":[]}}\n\n");
    case 2:
        rc = rs_event_head(b, r, "response.output_item.done");
        if (!rc)
            rc = buf_printf(b, "\"output_index\":0,\"item\":{\"id\":\"msg_%s\",\"type\":\"message\","
                               "\"status\":\"%s\",\"role\":\"assistant\",\"content\":[{\"type\":"
                               "\"output_text\",\"text\":\"", mid,
                            r->finish_length ? "incomplete" : "completed");
        if (!rc)
            rc = gen_append_text(b, r->seed, 0, r->n_out);
        return rc ? rc : buf_append_str(b, "\",\"annotations\":[]}]}}\n\n");
    default:
        rc = rs_event_head(b, r, r->finish_length ? "response.incomplete" : "response.completed");
        if (!rc)
            rc = buf_append_str(b, "\"response\":");
        if (!rc)
            rc = rs_object(b, r, 1);
        return rc ? rc : buf_append_str(b, "}\n\n");
    }
}

int gen_trailer(struct buf *b, struct gen_req *r, int idx, int64_t now_us,
                int64_t prompt_eval_ns, int64_t eval_ns)
{
    switch (r->d) {
    case DIALECT_OPENAI_CHAT:
    case DIALECT_OPENAI_COMPLETIONS:
        if (oa_finish_in_last(r))
            idx++; /* no finish chunk of its own */
        if (idx == 0)
            return oa_finish_chunk(b, r, prompt_eval_ns, eval_ns);
        if (idx == 1 && r->include_usage && r->persona != GEN_PERSONA_LLAMACPP)
            return oa_usage_chunk(b, r);
        return buf_append_str(b, "data: [DONE]\n\n");
    case DIALECT_OPENAI_RESPONSES:
        return rs_trailer(b, r, idx);
    case DIALECT_ANTHROPIC:
        if (idx == 0)
            return buf_append_str(b, "event: content_block_stop\ndata: {\"type\":"
                                     "\"content_block_stop\",\"index\":0}\n\n");
        if (idx == 1 && r->n_cached >= 0) /* with a prefix cache: Anthropic's cache fields */
            return buf_printf(b,
                              "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":"
                              "{\"stop_reason\":\"%s\",\"stop_sequence\":null},\"usage\":"
                              "{\"input_tokens\":%" PRId64 ",\"cache_read_input_tokens\":%" PRId64
                              ",\"output_tokens\":%" PRId64 "}}\n\n",
                              gen_finish_name(r), r->n_in - r->n_cached, r->n_cached, r->n_out);
        if (idx == 1)
            return buf_printf(b,
                              "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":"
                              "{\"stop_reason\":\"%s\",\"stop_sequence\":null},\"usage\":"
                              "{\"output_tokens\":%" PRId64 "}}\n\n",
                              gen_finish_name(r), r->n_out);
        return buf_append_str(b, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    case DIALECT_OLLAMA_GENERATE:
    case DIALECT_OLLAMA_CHAT:
        return ollama_final(b, r, now_us, prompt_eval_ns, eval_ns, 0);
    default:
        return 0;
    }
}

int gen_body(struct buf *b, const struct gen_req *r, int64_t now_us, int64_t prompt_eval_ns,
             int64_t eval_ns)
{
    int rc;
    switch (r->d) {
    case DIALECT_OPENAI_CHAT:
        rc = buf_printf(b,
                        "{\"id\":\"%s\",\"object\":\"chat.completion\",\"created\":%" PRId64
                        ",\"model\":\"%s\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
                        "\"assistant\",\"content\":\"",
                        r->id, r->created, r->model);
        if (!rc)
            rc = gen_append_text(b, r->seed, 0, r->n_out);
        if (!rc)
            rc = buf_printf(b, "\"},\"logprobs\":null,\"finish_reason\":\"%s\"}],",
                            gen_finish_name(r));
        if (!rc)
            rc = append_usage(b, r);
        return rc ? rc : buf_append_str(b, "}");
    case DIALECT_OPENAI_COMPLETIONS:
        rc = buf_printf(b,
                        "{\"id\":\"%s\",\"object\":\"text_completion\",\"created\":%" PRId64
                        ",\"model\":\"%s\",\"choices\":[{\"index\":0,\"text\":\"",
                        r->id, r->created, r->model);
        if (!rc)
            rc = gen_append_text(b, r->seed, 0, r->n_out);
        if (!rc)
            rc = buf_printf(b, "\",\"logprobs\":null,\"finish_reason\":\"%s\"}],",
                            gen_finish_name(r));
        if (!rc)
            rc = append_usage(b, r);
        return rc ? rc : buf_append_str(b, "}");
    case DIALECT_ANTHROPIC:
        rc = buf_printf(b,
                        "{\"id\":\"%s\",\"type\":\"message\",\"role\":\"assistant\",\"model\":"
                        "\"%s\",\"content\":[{\"type\":\"text\",\"text\":\"",
                        r->id, r->model);
        if (!rc)
            rc = gen_append_text(b, r->seed, 0, r->n_out);
        if (!rc && r->n_cached >= 0)
            rc = buf_printf(b,
                            "\"}],\"stop_reason\":\"%s\",\"stop_sequence\":null,\"usage\":"
                            "{\"input_tokens\":%" PRId64 ",\"cache_read_input_tokens\":%" PRId64
                            ",\"output_tokens\":%" PRId64 "}}",
                            gen_finish_name(r), r->n_in - r->n_cached, r->n_cached, r->n_out);
        else if (!rc)
            rc = buf_printf(b,
                            "\"}],\"stop_reason\":\"%s\",\"stop_sequence\":null,\"usage\":"
                            "{\"input_tokens\":%" PRId64 ",\"output_tokens\":%" PRId64 "}}",
                            gen_finish_name(r), r->n_in, r->n_out);
        return rc;
    case DIALECT_OLLAMA_GENERATE:
    case DIALECT_OLLAMA_CHAT:
        rc = ollama_final(b, r, now_us, prompt_eval_ns, eval_ns, 1);
        if (!rc && b->len && b->p[b->len - 1] == '\n')
            b->p[--b->len] = '\0';
        return rc;
    case DIALECT_OPENAI_RESPONSES:
        return rs_object(b, r, 1);
    case DIALECT_TGI:
        rc = buf_append_str(b, "{\"generated_text\":\"");
        if (!rc)
            rc = gen_append_text(b, r->seed, 0, r->n_out);
        if (!rc)
            rc = buf_printf(b, "\",\"details\":{\"finish_reason\":\"%s\",\"generated_tokens\":%" PRId64
                               ",\"seed\":null}}",
                            gen_finish_name(r), r->n_out);
        return rc;
    default:
        return BUF_ERR_TOO_BIG;
    }
}

static const char *openai_err_type(int status)
{
    switch (status) {
    case 404: return "not_found_error";
    case 429: return "rate_limit_error";
    case 500: case 503: return "server_error";
    default: return "invalid_request_error";
    }
}

static const char *anthropic_err_type(int status)
{
    switch (status) {
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 500: return "api_error";
    case 503: return "overloaded_error";
    default: return "invalid_request_error";
    }
}

static const char *tgi_err_type(int status)
{
    switch (status) {
    case 429: return "overloaded";
    case 500: return "generation";
    case 503: return "overloaded";
    case 404: return "not_found";
    default: return "validation";
    }
}

int gen_error(struct buf *b, enum dialect_id d, int status, const char *msg)
{
    int rc;
    size_t n = strlen(msg);
    switch (d) {
    case DIALECT_ANTHROPIC:
        rc = buf_printf(b, "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":\"",
                        anthropic_err_type(status));
        if (!rc)
            rc = buf_append_json_str(b, msg, n);
        return rc ? rc : buf_append_str(b, "\"}}");
    case DIALECT_OLLAMA_GENERATE:
    case DIALECT_OLLAMA_CHAT:
        rc = buf_append_str(b, "{\"error\":\"");
        if (!rc)
            rc = buf_append_json_str(b, msg, n);
        return rc ? rc : buf_append_str(b, "\"}");
    case DIALECT_TGI:
        rc = buf_append_str(b, "{\"error\":\"");
        if (!rc)
            rc = buf_append_json_str(b, msg, n);
        return rc ? rc : buf_printf(b, "\",\"error_type\":\"%s\"}", tgi_err_type(status));
    default:
        rc = buf_append_str(b, "{\"error\":{\"message\":\"");
        if (!rc)
            rc = buf_append_json_str(b, msg, n);
        return rc ? rc : buf_printf(b, "\",\"type\":\"%s\",\"param\":null,\"code\":%s}}",
                                    openai_err_type(status),
                                    status == 429 ? "\"rate_limit_exceeded\"" : "null");
    }
}

int gen_error_persona(struct buf *b, int persona, enum dialect_id d, int status, const char *msg)
{
    int rc;
    size_t n = strlen(msg);
    int oa = d == DIALECT_OPENAI_CHAT || d == DIALECT_OPENAI_COMPLETIONS ||
             d == DIALECT_OPENAI_RESPONSES;
    const char *t;
    if (!oa || persona == GEN_PERSONA_SIM || persona == GEN_PERSONA_OPENAI)
        return gen_error(b, d, status, msg);
    switch (persona) {
    case GEN_PERSONA_LLAMACPP: /* server.cpp format_error_response, wrapped in "error" */
        t = status == 404 ? "not_found_error" : status == 401 ? "authentication_error"
          : status == 503 ? "unavailable_error" : status >= 500 ? "server_error"
          : "invalid_request_error";
        rc = buf_printf(b, "{\"error\":{\"code\":%d,\"message\":\"", status);
        if (!rc)
            rc = buf_append_json_str(b, msg, n);
        return rc ? rc : buf_printf(b, "\",\"type\":\"%s\"}}", t);
    case GEN_PERSONA_VLLM:     /* protocol.py ErrorResponse{error: ErrorInfo}, code = status */
    case GEN_PERSONA_SGLANG:   /* protocol.py ErrorResponse: flat, "object": "error" */
        t = status == 404 ? "NotFoundError" : status >= 500 ? "InternalServerError" : "BadRequestError";
        rc = buf_append_str(b, persona == GEN_PERSONA_VLLM ? "{\"error\":{\"message\":\""
                                                           : "{\"object\":\"error\",\"message\":\"");
        if (!rc)
            rc = buf_append_json_str(b, msg, n);
        return rc ? rc : buf_printf(b, "\",\"type\":\"%s\",\"param\":null,\"code\":%d}%s", t, status,
                                    persona == GEN_PERSONA_VLLM ? "}" : "");
    case GEN_PERSONA_OLLAMA:   /* openai/openai.go NewError */
        t = status == 400 ? "invalid_request_error" : status == 404 ? "not_found_error" : "api_error";
        rc = buf_append_str(b, "{\"error\":{\"message\":\"");
        if (!rc)
            rc = buf_append_json_str(b, msg, n);
        return rc ? rc : buf_printf(b, "\",\"type\":\"%s\",\"param\":null,\"code\":null}}", t);
    case GEN_PERSONA_TGI:      /* router ErrorResponse on its OpenAI routes too */
        return gen_error(b, DIALECT_TGI, status, msg);
    default:
        return gen_error(b, d, status, msg);
    }
}

const char *gen_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
    }
}

const char *gen_content_type(enum dialect_id d, int stream)
{
    if (!stream)
        return "application/json";
    if (d == DIALECT_OLLAMA_GENERATE || d == DIALECT_OLLAMA_CHAT)
        return "application/x-ndjson";
    return "text/event-stream";
}
