#!/usr/bin/env bash
# sim_faults.sh — each fault flag of llmtrace-sim produces exactly its fault (rate 1.0, fixed
# seeds), nothing else does, and --queue-limit answers 429 with Retry-After. The ground-truth
# log records each fault's error kind.
source "$(dirname "$0")/lib.sh"
T=$TEST_TMP
body='{"stream":true,"max_tokens":20,"ignore_eos":true,"messages":[{"role":"user","content":"hi"}]}'
ok_stream() { grep -c '"delta":{"content"' "$1"; }

# --fail-rate 1 --fail-status 503: every request gets 503 + Retry-After in OpenAI's shape
start_sim --seed 5 --fail-rate 1 --fail-status 503
code=$(curl -s -D $T/h -o $T/b -w '%{http_code}' "$SIM_URL/v1/chat/completions" -d "$body")
assert_eq "fail status" 503 "$code"
grep -qi '^retry-after: 1' $T/h || fail "503 without Retry-After"
python3 -c "import json; j=json.load(open('$T/b')); assert j['error']['type']=='server_error'" || fail "503 shape"
code=$(curl -s -o $T/b -w '%{http_code}' "$SIM_URL/v1/messages" -d '{"max_tokens":3,"messages":[{"role":"user","content":"x"}]}')
assert_eq "fail status anthropic" 503 "$code"
python3 -c "import json; j=json.load(open('$T/b')); assert j['type']=='error' and j['error']['type']=='overloaded_error'" || fail "anthropic 503 shape"
assert_eq "GET endpoints are not failed" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$SIM_URL/health")"
stop_pid $SIM_PID

# --fail-rate 0.5: reproducible per seed (same statuses in the same order on a fresh sim)
runs=()
for k in 1 2; do
  start_sim --seed 9 --fail-rate 0.5 --fail-status 429
  s=""
  for i in $(seq 1 12); do s+=$(curl -s -o /dev/null -w '%{http_code},' "$SIM_URL/v1/chat/completions" -d "$body"); done
  runs+=("$s")
  stop_pid $SIM_PID
done
assert_eq "seeded fail pattern reproducible" "${runs[0]}" "${runs[1]}"
grep -q 429 <<<"${runs[0]}" && grep -q 200 <<<"${runs[0]}" || fail "rate 0.5 gave no mix: ${runs[0]}"
pass "rate 0.5 mixes 200 and 429: ${runs[0]}"

# --reset-rate 1: stream cut by RST after some tokens: curl error 56, no [DONE]
start_sim --seed 5 --reset-rate 1 --log $T/reset.jsonl.gz
set +e; curl -sN "$SIM_URL/v1/chat/completions" -d "$body" >$T/r.txt; rc=$?; set -e
assert_eq "reset: curl recv failure" 56 "$rc"
grep -q '\[DONE\]' $T/r.txt && fail "reset stream has [DONE]"
n=$(ok_stream $T/r.txt)
[ "$n" -ge 1 ] && [ "$n" -le 20 ] || fail "reset after $n tokens"
pass "reset after $n of 20 tokens"
stop_pid $SIM_PID
assert_eq "reset logged" "reset $n" "$(zjq $T/reset.jsonl.gz 'ex[0]["error"]["kind"] + " " + str(sum(e[1] for e in ex[0]["response"]["events"]))')"

# --drop-connection-rate 1: closed before any header: curl error 52 (empty reply)
start_sim --seed 5 --drop-connection-rate 1
set +e; curl -s "$SIM_URL/v1/chat/completions" -d "$body" >$T/d.txt; rc=$?; set -e
assert_eq "drop: empty reply" 52 "$rc"
assert_eq "drop: no bytes" 0 "$(stat -c %s $T/d.txt)"
stop_pid $SIM_PID

# --malformed-rate 1: exactly one event is not JSON, the rest of the stream is intact
start_sim --seed 5 --malformed-rate 1
curl -sN "$SIM_URL/v1/chat/completions" -d "$body" >$T/m.txt
assert_eq "malformed events" "1 [DONE]" "$(python3 - $T/m.txt <<'PY'
import json, sys
bad, last = 0, None
for block in open(sys.argv[1]).read().split('\n\n')[:-1]:
    data = block[6:]
    last = data
    if data == '[DONE]': continue
    try: json.loads(data)
    except ValueError: bad += 1
print(bad, last)
PY
)"
stop_pid $SIM_PID

# --stall-rate 1 --stall-ms 300: one gap of >= 300 ms between content events, others small
start_sim --seed 5 --stall-rate 1 --stall-ms 300 --log $T/stall.jsonl.gz
curl -sN "$SIM_URL/v1/chat/completions" -d "$body" >$T/s.txt
assert_eq "stall: stream complete" 20 "$(ok_stream $T/s.txt)"
stop_pid $SIM_PID
assert_eq "stall: gaps >= 290 ms (300 ms minus write lateness)" 1 "$(zjq $T/stall.jsonl.gz '(lambda ev: sum(1 for a, b in zip(ev, ev[1:]) if b[0] - a[0] >= 290000))([e for e in ex[0]["response"]["events"] if e[2]])')"
assert_eq "stall: largest other gap < 50 ms" true "$(zjq $T/stall.jsonl.gz '(lambda g: sorted(g)[-2] < 50000)([b[0]-a[0] for a, b in zip(ex[0]["response"]["events"], ex[0]["response"]["events"][1:])])')"

# --slow-start-ms 400: headers and first token at least 400 ms late
start_sim --seed 5 --slow-start-ms 400
t=$(curl -sN -o /dev/null -w '%{time_starttransfer}' "$SIM_URL/v1/chat/completions" -d "$body")
assert_le "slow start >= 0.4 s" 0.4 "$t"
assert_le "slow start < 1.5 s" "$t" 1.5
stop_pid $SIM_PID

# no fault flags: none of the above happens
start_sim --seed 5
curl -sN "$SIM_URL/v1/chat/completions" -d "$body" >$T/n.txt
assert_eq "clean stream" "20 1" "$(ok_stream $T/n.txt) $(grep -c '\[DONE\]' $T/n.txt)"
stop_pid $SIM_PID

# --queue-limit 1 with --max-batch 1: 1 running + 1 waiting; the third gets 429 + Retry-After
start_sim --seed 5 --max-batch 1 --queue-limit 1
long='{"stream":true,"max_tokens":200,"ignore_eos":true,"messages":[{"role":"user","content":"hi"}]}'
curl -sN "$SIM_URL/v1/chat/completions" -d "$long" >/dev/null & p1=$!
sleep 0.1
curl -sN "$SIM_URL/v1/chat/completions" -d "$long" >/dev/null & p2=$!
sleep 0.1
code=$(curl -s -D $T/hq -o $T/bq -w '%{http_code}' "$SIM_URL/v1/chat/completions" -d "$long")
assert_eq "queue-limit status" 429 "$code"
grep -qi '^retry-after:' $T/hq || fail "429 without Retry-After"
python3 -c "import json; j=json.load(open('$T/bq')); assert j['error']['type']=='rate_limit_error'" || fail "429 shape"
wait $p1 $p2
