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

void gen_req_init(struct gen_req *r, enum dialect_id d, uint64_t n, const char *model,
                  size_t model_len, int64_t created)
{
    struct buf m;
    int k = 0;
    r->d = d;
    r->created = created;
    switch (d) {
    case DIALECT_OPENAI_CHAT:
        snprintf(r->id, sizeof(r->id), "chatcmpl-sim-%" PRIu64, n);
        break;
    case DIALECT_ANTHROPIC:
        snprintf(r->id, sizeof(r->id), "msg_sim_%" PRIu64, n);
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
    switch (d) {
    case DIALECT_OPENAI_CHAT:
        k = snprintf(r->prefix, sizeof(r->prefix),
                     "data: {\"id\":\"%s\",\"object\":\"chat.completion.chunk\",\"created\":%" PRId64
                     ",\"model\":\"%s\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"",
                     r->id, created, r->model);
        break;
    case DIALECT_OPENAI_COMPLETIONS:
        k = snprintf(r->prefix, sizeof(r->prefix),
                     "data: {\"id\":\"%s\",\"object\":\"text_completion\",\"created\":%" PRId64
                     ",\"model\":\"%s\",\"choices\":[{\"index\":0,\"text\":\"",
                     r->id, created, r->model);
        break;
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

int gen_n_preamble(const struct gen_req *r)
{
    return r->d == DIALECT_ANTHROPIC ? 3 : 0;
}

int gen_preamble(struct buf *b, const struct gen_req *r, int idx)
{
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
    return r->finish_length ? "length" : "stop";
}

static int append_ts(struct buf *b, int64_t now_us)
{
    char ts[40];
    clock_format_rfc3339(now_us, ts, sizeof(ts));
    return buf_append_str(b, ts);
}

int gen_content(struct buf *b, const struct gen_req *r, int64_t from, int64_t ntok, int last,
                int malformed, int64_t now_us)
{
    const char *suffix = "";
    int rc = 0;
    switch (r->d) {
    case DIALECT_OPENAI_CHAT:
    case DIALECT_OPENAI_COMPLETIONS:
    case DIALECT_ANTHROPIC:
        rc = buf_append(b, r->prefix, r->prefix_len);
        suffix = r->d == DIALECT_ANTHROPIC ? "\"}}\n\n"
                                           : (r->d == DIALECT_OPENAI_CHAT
                                                  ? "\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
                                                  : "\",\"logprobs\":null,\"finish_reason\":null}]}\n\n");
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
        return r->include_usage ? 3 : 2;
    case DIALECT_ANTHROPIC:
        return 3;
    case DIALECT_OLLAMA_GENERATE:
    case DIALECT_OLLAMA_CHAT:
        return 1;
    default:
        return 0;
    }
}

static int append_usage(struct buf *b, const struct gen_req *r)
{
    return buf_printf(b, "\"usage\":{\"prompt_tokens\":%" PRId64 ",\"completion_tokens\":%" PRId64
                         ",\"total_tokens\":%" PRId64 "}",
                      r->n_in, r->n_out, r->n_in + r->n_out);
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

int gen_trailer(struct buf *b, const struct gen_req *r, int idx, int64_t now_us,
                int64_t prompt_eval_ns, int64_t eval_ns)
{
    switch (r->d) {
    case DIALECT_OPENAI_CHAT:
    case DIALECT_OPENAI_COMPLETIONS:
        if (idx == 0)
            return buf_printf(b,
                              "data: {\"id\":\"%s\",\"object\":\"%s\",\"created\":%" PRId64
                              ",\"model\":\"%s\",\"choices\":[{\"index\":0,%s,\"logprobs\":null,"
                              "\"finish_reason\":\"%s\"}]}\n\n",
                              r->id,
                              r->d == DIALECT_OPENAI_CHAT ? "chat.completion.chunk" : "text_completion",
                              r->created, r->model,
                              r->d == DIALECT_OPENAI_CHAT ? "\"delta\":{}" : "\"text\":\"\"",
                              gen_finish_name(r));
        if (idx == 1 && r->include_usage) {
            int rc = buf_printf(b,
                                "data: {\"id\":\"%s\",\"object\":\"%s\",\"created\":%" PRId64
                                ",\"model\":\"%s\",\"choices\":[],",
                                r->id,
                                r->d == DIALECT_OPENAI_CHAT ? "chat.completion.chunk"
                                                            : "text_completion",
                                r->created, r->model);
            if (!rc)
                rc = append_usage(b, r);
            return rc ? rc : buf_append_str(b, "}\n\n");
        }
        return buf_append_str(b, "data: [DONE]\n\n");
    case DIALECT_ANTHROPIC:
        if (idx == 0)
            return buf_append_str(b, "event: content_block_stop\ndata: {\"type\":"
                                     "\"content_block_stop\",\"index\":0}\n\n");
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
        if (!rc)
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

const char *gen_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
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
