#!/usr/bin/env bash
# sim_dialects.sh — golden shapes of llmtrace-sim's responses for every dialect with curl -N:
# the exact sequence of SSE event types / NDJSON lines and their key fields, the chat role-only
# first chunk, include_usage's usage-only final chunk, [DONE], non-streaming JSON with usage,
# and the 400/404/405 error shapes of each dialect.
source "$(dirname "$0")/lib.sh"
start_sim --seed 3
U=$SIM_URL
chat='"messages":[{"role":"user","content":"Tell me a story about a fox."}]'

# shape FILE KIND: prints one line per event: SSE "type|keys" or NDJSON fields, for comparison.
shape() {
  python3 - "$1" "$2" <<'PY'
import json, sys
path, kind = sys.argv[1], sys.argv[2]
raw = open(path, 'rb').read().decode()
out = []
if kind == 'ndjson':
    for line in raw.split('\n'):
        if not line: continue
        j = json.loads(line)
        text = j['message']['content'] if 'message' in j else j['response']
        out.append('done=%s content=%r' % (j['done'], 'text' if text else 'empty'))
        if j['done']:
            out[-1] += ' eval_count=%d prompt_eval_count=%d reason=%s' % (j['eval_count'], j['prompt_eval_count'], j['done_reason'])
else:
    assert raw.endswith('\n\n'), 'stream must end with a blank line'
    for block in raw.split('\n\n')[:-1]:
        ev, data = 'message', None
        for line in block.split('\n'):
            if line.startswith('event: '): ev = line[7:]
            elif line.startswith('data:'): data = line[5:].lstrip(' ')
        if data == '[DONE]':
            out.append('[DONE]'); continue
        j = json.loads(data)
        if kind == 'chat':
            if not j['choices']:
                u = j['usage']; out.append('usage %d+%d=%d' % (u['prompt_tokens'], u['completion_tokens'], u['total_tokens'])); continue
            c = j['choices'][0]; d = c['delta']
            if 'role' in d: out.append('role=%s content=%r' % (d['role'], d['content']))
            elif 'content' in d: out.append('content')
            else: out.append('finish=%s' % c['finish_reason'])
        elif kind == 'completions':
            if not j['choices']:
                u = j['usage']; out.append('usage %d+%d' % (u['prompt_tokens'], u['completion_tokens'])); continue
            c = j['choices'][0]
            out.append('finish=%s' % c['finish_reason'] if c['finish_reason'] else 'text')
        elif kind == 'anthropic':
            assert j['type'] == ev, (j['type'], ev)
            extra = ''
            if ev == 'message_delta': extra = ' %s out=%d' % (j['delta']['stop_reason'], j['usage']['output_tokens'])
            if ev == 'message_start': extra = ' in=%d' % j['message']['usage']['input_tokens']
            out.append(ev + extra)
        elif kind == 'tgi':
            out.append('token final=%s' % (j['details']['finish_reason'] if j['generated_text'] is not None else 'no'))
# collapse runs of identical lines: "content x5"
res, prev, n = [], None, 0
for o in out + [None]:
    if o == prev: n += 1; continue
    if prev is not None: res.append(prev + (' x%d' % n if n > 1 else ''))
    prev, n = o, 1
print('\n'.join(res))
PY
}
expect_shape() { # NAME FILE KIND EXPECTED
  local got; got=$(shape "$2" "$3") || fail "$1: unparsable stream: $(head -c 300 "$2")"
  [ "$got" = "$4" ] || fail "$1: shape differs:
--- expected
$4
--- got
$got"
  pass "$1 shape"
}
T=$TEST_TMP

# OpenAI chat, streaming, include_usage, ignore_eos: role chunk, 5 content, finish, usage, [DONE].
curl -sN -D $T/h1 "$U/v1/chat/completions" -H 'Content-Type: application/json' \
  -d "{\"model\":\"fox\",\"stream\":true,\"max_tokens\":5,\"ignore_eos\":true,\"stream_options\":{\"include_usage\":true},$chat}" >$T/chat.txt
expect_shape chat $T/chat.txt chat "role=assistant content=''
content x5
finish=length
usage 7+5=12
[DONE]"
grep -qi '^content-type: text/event-stream' $T/h1 || fail "chat content-type"
grep -qi '^transfer-encoding: chunked' $T/h1 || fail "chat chunked"
assert_eq "chat model echoed" fox "$(sed -n 3p $T/chat.txt | python3 -c 'import sys,json; print(json.loads(sys.stdin.read()[6:])["model"])')"

# without include_usage: no usage chunk
curl -sN "$U/v1/chat/completions" -d "{\"stream\":true,\"max_tokens\":2,\"ignore_eos\":true,$chat}" >$T/chat2.txt
expect_shape chat-no-usage $T/chat2.txt chat "role=assistant content=''
content x2
finish=length
[DONE]"

# max_tokens without ignore_eos: length drawn in [ceil(max/2), max] (document: uniform)
for i in 1 2 3 4 5 6; do
  n=$(curl -sN "$U/v1/chat/completions" -d "{\"stream\":true,\"max_tokens\":10,$chat}" | grep -c '"delta":{"content"')
  [ "$n" -ge 5 ] && [ "$n" -le 10 ] || fail "drawn length $n outside [5,10]"
done
pass "drawn lengths within [5,10]"

# non-streaming chat: JSON with usage and the text
curl -s -D $T/h2 "$U/v1/chat/completions" -d "{\"max_tokens\":4,\"ignore_eos\":true,$chat}" >$T/chat.json
grep -qi '^content-length:' $T/h2 || fail "non-streaming has Content-Length"
assert_eq "chat non-stream" "chat.completion 4 7 11 length assistant 4" "$(python3 -c '
import json; j=json.load(open("'$T/chat.json'")); u=j["usage"]; c=j["choices"][0]
print(j["object"], u["completion_tokens"], u["prompt_tokens"], u["total_tokens"], c["finish_reason"], c["message"]["role"], len(c["message"]["content"].split()))')"

# OpenAI completions
curl -sN "$U/v1/completions" -d '{"prompt":"Once upon a time","max_tokens":3,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}}' >$T/compl.txt
expect_shape completions $T/compl.txt completions "text x3
finish=length
usage 4+3
[DONE]"
assert_eq "completions prompt as token ids" 5 "$(curl -s "$U/v1/completions" -d '{"prompt":[1,2,3,4,5],"max_tokens":1}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["usage"]["prompt_tokens"])')"

# Anthropic messages
curl -sN "$U/v1/messages" -d "{\"model\":\"c\",\"max_tokens\":3,\"ignore_eos\":true,\"stream\":true,$chat}" >$T/msg.txt
expect_shape anthropic $T/msg.txt anthropic "message_start in=7
content_block_start
ping
content_block_delta x3
content_block_stop
message_delta max_tokens out=3
message_stop"
assert_eq "anthropic non-stream" "message max_tokens 7 3" "$(curl -s "$U/v1/messages" -d "{\"max_tokens\":3,\"ignore_eos\":true,$chat}" | python3 -c '
import json,sys; j=json.load(sys.stdin); print(j["type"], j["stop_reason"], j["usage"]["input_tokens"], j["usage"]["output_tokens"])')"

# Ollama: streams by default; num_predict + ignore_eos
curl -sN -D $T/h3 "$U/api/generate" -d '{"model":"llama","prompt":"Why is the sky blue?","options":{"num_predict":3,"ignore_eos":true}}' >$T/ogen.txt
grep -qi '^content-type: application/x-ndjson' $T/h3 || fail "ollama content-type"
expect_shape ollama-generate $T/ogen.txt ndjson "done=False content='text' x3
done=True content='empty' eval_count=3 prompt_eval_count=5 reason=length"
curl -sN "$U/api/chat" -d "{\"model\":\"llama\",\"options\":{\"num_predict\":2,\"ignore_eos\":true},$chat}" >$T/ochat.txt
expect_shape ollama-chat $T/ochat.txt ndjson "done=False content='text' x2
done=True content='empty' eval_count=2 prompt_eval_count=7 reason=length"
assert_eq "ollama non-stream" "True 2 2" "$(curl -s "$U/api/generate" -d '{"prompt":"hi","stream":false,"options":{"num_predict":2,"ignore_eos":true}}' | python3 -c '
import json,sys; j=json.load(sys.stdin); print(j["done"], j["eval_count"], len(j["response"].split()))')"

# TGI
curl -sN "$U/generate_stream" -d '{"inputs":"Hello","parameters":{"max_new_tokens":3,"ignore_eos":true}}' >$T/tgi.txt
expect_shape tgi $T/tgi.txt tgi "token final=no x2
token final=length"
assert_eq "tgi /generate" "3" "$(curl -s "$U/generate" -d '{"inputs":"Hello","parameters":{"max_new_tokens":3,"ignore_eos":true}}' | python3 -c '
import json,sys; j=json.load(sys.stdin); print(len(j["generated_text"].split()))')"

# Errors: status + the dialect's own shape
err() { # NAME EXPECTED_STATUS EXPECTED_SHAPE_EXPR curl-args...
  local name=$1 st=$2 expr=$3; shift 3
  local got; got=$(curl -s -o $T/err.json -w '%{http_code}' "$@")
  assert_eq "$name status" "$st" "$got"
  python3 -c "import json; j=json.load(open('$T/err.json')); assert $expr, j" || fail "$name shape: $(cat $T/err.json)"
}
err "chat invalid json" 400 "j['error']['type']=='invalid_request_error' and j['error']['message']=='invalid JSON body'" "$U/v1/chat/completions" -d '{"messages":'
err "chat missing messages" 400 "'messages' in j['error']['message']" "$U/v1/chat/completions" -d '{"model":"m"}'
err "chat wrong type" 400 "'max_tokens' in j['error']['message']" "$U/v1/chat/completions" -d "{\"max_tokens\":\"ten\",$chat}"
err "chat stream wrong type" 400 "'stream' in j['error']['message']" "$U/v1/chat/completions" -d "{\"stream\":1,$chat}"
err "anthropic missing max_tokens" 400 "j['type']=='error' and j['error']['type']=='invalid_request_error'" "$U/v1/messages" -d "{$chat}"
err "ollama missing prompt" 400 "isinstance(j['error'], str)" "$U/api/generate" -d '{"model":"x"}'
err "tgi missing inputs" 400 "j['error_type']=='validation'" "$U/generate_stream" -d '{"parameters":{}}'
err "unknown path" 404 "j['error']['type']=='not_found_error'" "$U/v2/nothing"
err "wrong method" 405 "'POST' in j['error']['message']" "$U/v1/chat/completions"
curl -s -D $T/h4 -o /dev/null "$U/v1/messages"
grep -qi '^allow: POST' $T/h4 || fail "405 carries Allow"
err "GET-only endpoint" 405 "'GET' in j['error']['message']" -X POST "$U/health" -d '{}'

# GET endpoints
assert_eq "/health" '{"status":"ok"}' "$(curl -s "$U/health")"
assert_eq "/v1/models" "list llmtrace-sim" "$(curl -s "$U/v1/models" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["object"], j["data"][0]["id"])')"
m=$(curl -s "$U/metrics")
for k in llmtrace_sim_requests_waiting llmtrace_sim_requests_running llmtrace_sim_generation_tokens_total 'llmtrace_sim_requests_total{status="404"} 1' 'llmtrace_sim_requests_total{status="405"} 3'; do
  grep -qF "$k" <<<"$m" || fail "/metrics lacks $k"
done
pass "/metrics"
