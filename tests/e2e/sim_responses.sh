#!/usr/bin/env bash
# sim_responses.sh — the OpenAI Responses API end to end through the library: llmtrace-sim
# serves /v1/responses (streamed and whole), its ground truth is replayed by llmtrace-replay
# against a second sim, and the replay log must record each exchange exactly as the second
# sim's ground truth says: dialect openai-responses, no error, one content event per token
# event, the text, and usage (input/output tokens).
source "$(dirname "$0")/lib.sh"
T=$TEST_TMP
PY=/usr/bin/python3
start_sim --profile zero --log "$T/a.jsonl.gz"
for i in 1 2 3; do
  curl -sf -o /dev/null -H "X-Request-Id: r$i" "$SIM_URL/v1/responses" \
    -d '{"stream":true,"max_output_tokens":5,"ignore_eos":true,"input":"say '$i'"}' || fail "curl $i"
done
curl -sf -o /dev/null -H "X-Request-Id: r4" "$SIM_URL/v1/responses" \
  -d '{"max_output_tokens":4,"ignore_eos":true,"input":[{"role":"user","content":"hi"}]}' || fail "curl 4"
stop_pid "$SIM_PID" INT
start_sim --profile zero --log "$T/b.jsonl.gz" --seed 9
"$BIN/llmtrace-replay" "$T/a.jsonl.gz" --url "$SIM_URL" -o "$T/rep.jsonl.gz" -c 1 --quiet \
  2>"$T/replay.err" || fail "replay: $(cat "$T/replay.err")"
stop_pid "$SIM_PID" INT
"$PY" - "$T/b.jsonl.gz" "$T/rep.jsonl.gz" <<'PY' || fail "replay log vs ground truth"
import gzip, json, sys
def ex(p):
    return [r for r in (json.loads(l) for l in gzip.open(p, 'rt') if l.strip()) if r.get('type') == 'exchange']
truth = {r['request']['body']['input'] if isinstance(r['request']['body']['input'], str) else 'items': r
         for r in ex(sys.argv[1])}
rep = ex(sys.argv[2])
assert len(rep) == 4, len(rep)
for r in rep:
    key = r['request']['body']['input'] if isinstance(r['request']['body']['input'], str) else 'items'
    t = truth[key]
    assert r['dialect'] == 'openai-responses', r['dialect']
    assert r['error'] is None, r['error']
    assert r['usage']['prompt_tokens'] == t['usage']['prompt_tokens'], (r['usage'], t['usage'])
    assert r['usage']['completion_tokens'] == t['usage']['completion_tokens'] == r['tokens_out']
    assert r['tokens_source'] == 'usage'
    assert r['response']['text'] == t['response']['text'], (r['response']['text'], t['response']['text'])
    nc = sum(1 for e in r['response']['events'] if e[2] == 1)
    tc = sum(1 for e in t['response']['events'] if e[2] == 1)
    assert nc == tc, (nc, tc)
    assert len(r['response']['events']) == len(t['response']['events']), r['id']
    print('ok:', r['id'], key, 'content events', nc, 'tokens', r['tokens_out'])
PY
pass "responses replayed as the sim served them"
