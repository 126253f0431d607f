/* fuzz_request.c — libFuzzer harness for llmtrace-sim's request path short of the socket: the
 * first byte picks an endpoint (and whether the prompt is hashed for the prefix cache,
 * sim/prefix.h), the rest is a request body parsed with cJSON, validated (sim/request.h) and,
 * when valid, answered: every streamed event, trailer and the JSON body
 * (sim/gen.h) into capped buffers. Built only with -DLLMTRACE_FUZZ=ON. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "gen.h"
#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum request_endpoint eps[] = {EP_CHAT, EP_COMPL,      EP_MSG, EP_OGEN,
                                                EP_OCHAT, EP_TGI_STREAM, EP_TGI, EP_RESP};
    enum request_endpoint ep;
    struct request_params p;
    struct gen_req g;
    struct buf b;
    struct prefix_hasher h;
    cJSON *body;
    int64_t i, n;
    if (size < 1)
        return 0;
    ep = eps[(data[0] >> 2) % (sizeof(eps) / sizeof(eps[0]))];
    body = cJSON_ParseWithLength((const char *)data + 1, size - 1);
    if (!body)
        return 0;
    memset(&p, 0, sizeof(p));
    p.max_tokens = -1;
    prefix_init(&h, data[0] & 1, 1 + (data[0] & 2), 64);
    if (data[0] & 2)
        p.prompt.hash = &h;
    if (cJSON_IsObject(body) && request_validate(ep, body, &p) == NULL) {
        const char *model = p.model ? p.model : "m";
        n = p.max_tokens > 0 && p.max_tokens < 64 ? p.max_tokens : 8;
        gen_req_init(&g, request_dialect(ep), 1, model, strlen(model), 1700000000);
        g.stream = p.stream;
        g.include_usage = p.include_usage;
        g.n_in = request_prompt_tokens(&p, data[0] & 1);
        g.n_out = n;
        g.n_cached = data[0] & 2 ? g.n_in / 2 : -1;
        g.seed = size;
        buf_init(&b, 1 << 20);
        for (i = 0; i < gen_n_preamble(&g); i++)
            gen_preamble(&b, &g, (int)i);
        gen_role_chunk(&b, &g);
        for (i = 0; i < n; i++)
            gen_content(&b, &g, i, 1, i == n - 1, (int)(i == 2), 1795686317123456LL);
        for (i = 0; i < gen_n_trailer(&g); i++)
            gen_trailer(&b, &g, (int)i, 1795686317123456LL, 1000, 2000);
        gen_body(&b, &g, 1795686317123456LL, 1000, 2000);
        gen_error(&b, g.d, 400, model);
        buf_free(&b);
    }
    prefix_free(&h);
    cJSON_Delete(body);
    return 0;
}
