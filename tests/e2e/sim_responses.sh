#!/usr/bin/env bash
# sim_responses.sh — the OpenAI Responses API end to end through the library: llmtrace-sim
# serves /v1/responses (streamed and whole), its ground truth is replayed by llmtrace-replay
# against a second sim, and the replay log must record each exchange exactly as the second
# sim's ground truth says: dialect openai-responses, no error, one content event per token
# event, the text, and usage (input/output tokens). Then the other tools: llmtrace-capture's
# recording proxy records Responses exchanges with the sim's tokens, llmtrace-analyze reports
# them, llmtrace-convert --dialect openai-responses builds /v1/responses requests (input items,
# max_output_tokens) that replay against the sim, and a capture exported to HAR imports back.
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

# ---- capture (the recording proxy) and analyze ----------------------------------------------
CAP="$BIN/llmtrace-capture"
T=$TEST_TMP
source "$SRC_DIR/tests/e2e/proxy_lib.sh"
start_sim --profile zero --log "$T/truth_c.jsonl.gz"
start_proxy "$T/cap.jsonl.gz" "$SIM_URL"
for i in 1 2; do
  curl -sf -o /dev/null -H "X-Request-Id: c$i" "$PX_URL/v1/responses" \
    -d '{"stream":true,"max_output_tokens":'$((6 * i))',"ignore_eos":true,"input":[{"role":"user","content":"hello '$i'"}]}' ||
    fail "curl through the proxy $i"
done
curl -sf -o /dev/null -H "X-Request-Id: c3" "$PX_URL/v1/responses" \
  -d '{"max_output_tokens":7,"ignore_eos":true,"input":"whole"}' || fail "curl through the proxy 3"
stop_proxy
stop_pid "$SIM_PID" INT
"$PY" - "$T/truth_c.jsonl.gz" "$T/cap.jsonl.gz" <<'PY' || fail "capture log vs ground truth"
import gzip, json, sys
def ex(p):
    return [r for r in (json.loads(l) for l in gzip.open(p, 'rt') if l.strip()) if r.get('type') == 'exchange']
rid = lambda r: next(h[1] for h in r['request']['headers'] if h[0].lower() == 'x-request-id')
truth = {r['id']: r for r in ex(sys.argv[1])}
cap = ex(sys.argv[2])
assert sorted(rid(r) for r in cap) == ['c1', 'c2', 'c3'], [rid(r) for r in cap]
for r in cap:
    t = truth[rid(r)]
    assert r['dialect'] == 'openai-responses', r['dialect']
    assert r['error'] is None, r['error']
    assert r['tokens_source'] == 'usage', r['tokens_source']
    assert r['tokens_out'] == t['tokens_out'] == {'c1': 6, 'c2': 12, 'c3': 7}[rid(r)], (r['tokens_out'], t['tokens_out'])
    assert r['tokens_in'] == t['tokens_in'], (r['tokens_in'], t['tokens_in'])
    assert len(r['response']['events']) == len(t['response']['events']), rid(r)
    print('ok: captured', rid(r), 'tokens', r['tokens_out'], 'events', len(r['response']['events']))
PY
pass "the proxy recorded Responses exchanges as the sim served them"
"$BIN/llmtrace-analyze" "$T/cap.jsonl.gz" --json >"$T/an.json" 2>"$T/an.err" ||
  fail "analyze of the capture: $(cat "$T/an.err")"
assert_eq "analyze: 3 requests, 0 errors, 25 output tokens, all from usage" "3 0 25 3" "$(zjq "$T/an.json" \
  '"%d %d %d %d" % (recs[0]["groups"][0]["requests"], recs[0]["groups"][0]["errors"], recs[0]["groups"][0]["output_tokens"], recs[0]["groups"][0]["tokens_source"]["usage"])')"

# ---- convert: a length-only trace as Responses requests, replayed --------------------------
printf 'TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,10,5\n2023-11-16 18:15:46.2,20,9\n' \
  >"$T/az.csv"
"$BIN/llmtrace-convert" --dialect openai-responses "$T/az.csv" -o "$T/conv.jsonl.gz" -q \
  2>"$T/conv.err" || fail "convert: $(cat "$T/conv.err")"
assert_eq "convert: /v1/responses requests with input items and max_output_tokens, no other knobs" \
  '[["/v1/responses", ["input", "max_output_tokens", "model", "stream"], "user", 5], ["/v1/responses", ["input", "max_output_tokens", "model", "stream"], "user", 9]]' \
  "$(zjq "$T/conv.jsonl.gz" '[[e["request"]["path"], sorted(e["request"]["body"]), e["request"]["body"]["input"][0]["role"], e["request"]["body"]["max_output_tokens"]] for e in ex]')"
start_sim --profile zero
"$BIN/llmtrace-replay" "$T/conv.jsonl.gz" --url "$SIM_URL" --speed 10 -o "$T/conv_rep.jsonl.gz" \
  -q 2>"$T/conv_rep.err" || fail "replay of the converted trace: $(cat "$T/conv_rep.err")"
stop_pid "$SIM_PID" INT
assert_eq "convert → replay: answered as Responses, within the pinned lengths" \
  '[["openai-responses", null, "usage", true], ["openai-responses", null, "usage", true]]' \
  "$(zjq "$T/conv_rep.jsonl.gz" '[[e["dialect"], e["error"], e["tokens_source"], 0 < e["tokens_out"] <= e["request"]["body"]["max_output_tokens"]] for e in ex]')"

# ---- a capture exported to HAR imports back as Responses requests --------------------------
"$BIN/llmtrace-convert" --to har "$T/cap.jsonl.gz" -o "$T/cap.har" -q 2>"$T/har.err" ||
  fail "export to HAR: $(cat "$T/har.err")"
"$BIN/llmtrace-convert" "$T/cap.har" -o "$T/har.jsonl.gz" -q 2>"$T/har2.err" ||
  fail "import of the HAR: $(cat "$T/har2.err")"
assert_eq "HAR round trip: 3 /v1/responses requests, streamed, the input kept" \
  '[["/v1/responses", true, "hello 1"], ["/v1/responses", true, "hello 2"], ["/v1/responses", true, "whole"]]' \
  "$(zjq "$T/har.jsonl.gz" 'sorted([e["request"]["path"], e["request"]["body"]["stream"], e["request"]["body"]["input"] if isinstance(e["request"]["body"]["input"], str) else e["request"]["body"]["input"][0]["content"]] for e in ex)')"
pass "Responses through capture, analyze and convert"
