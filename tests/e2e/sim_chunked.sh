#!/usr/bin/env bash
# sim_chunked.sh — --chunked-prefill seen from real clients, on linear:2,1,0.01 (step = 2 ms +
# 1 ms per running sequence + 0.01 ms per prompt token). A 2,000-token prompt (8,000 bytes at
# bytes/4): whole, it costs one 23 ms step before its first token; chunked at 100 tokens per
# step, it takes 20 steps of at least 3 ms, and a stream decoding beside it keeps emitting a
# token every step meanwhile instead of waiting out one long step.
source "$(dirname "$0")/lib.sh"
T=$TEST_TMP
prompt=$(head -c 8000 /dev/zero | tr '\0' 'a')
long='{"stream":true,"max_tokens":2,"ignore_eos":true,"messages":[{"role":"user","content":"'$prompt'"}]}'
short='{"stream":true,"max_tokens":150,"ignore_eos":true,"messages":[{"role":"user","content":"hi"}]}'

# run MODE_ARGS...: a short stream starts, 30 ms later the long prompt arrives beside it
run() {
  start_sim --profile linear:2,1,0.01 --max-batch 4 --log "$T/l.jsonl.gz" "$@"
  curl -sN -H "X-Request-Id: short" "$SIM_URL/v1/chat/completions" -d "$short" >"$T/s.txt" &
  local p1=$!
  sleep 0.03
  curl -sN -H "X-Request-Id: long" "$SIM_URL/v1/chat/completions" -d "$long" >"$T/l.txt"
  wait "$p1"
  stop_pid "$SIM_PID" INT
}

run --chunked-prefill 100
assert_eq "chunked: header option" 100 "$(zjq "$T/l.jsonl.gz" 'hdr["options"]["chunked_prefill"]')"
assert_eq "chunked: long prompt's tokens" 2000 "$(zjq "$T/l.jsonl.gz" '[x for x in ex if x["id"] == "long"][0]["usage"]["prompt_tokens"]')"
# TTFT of the long request: from its arrival to its first content event
ttft=$(zjq "$T/l.jsonl.gz" '[[e[0] for e in x["response"]["events"] if e[2]][0] for x in ex if x["id"] == "long"][0]')
assert_le "chunked: long TTFT >= 20 steps x 3 ms + 20 ms prefill (us)" 80000 "$ttft"
# the short stream's largest gap while the long prompt was prefilled: one step (<= 2 + 2 + 0.99
# ms, plus scheduling slack), never a whole-prompt step
gap=$(zjq "$T/l.jsonl.gz" 'max(b - a for x in ex if x["id"] == "short" for t in [[e[0] for e in x["response"]["events"] if e[2]]] for a, b in zip(t, t[1:]))')
assert_le "chunked: short stream's largest token gap (us)" "$gap" 15000

run
assert_eq "whole prompts: header option" 0 "$(zjq "$T/l.jsonl.gz" 'hdr["options"]["chunked_prefill"]')"
ttft=$(zjq "$T/l.jsonl.gz" '[[e[0] for e in x["response"]["events"] if e[2]][0] for x in ex if x["id"] == "long"][0]')
assert_le "whole prompts: long TTFT (us)" "$ttft" 60000
gap=$(zjq "$T/l.jsonl.gz" 'max(b - a for x in ex if x["id"] == "short" for t in [[e[0] for e in x["response"]["events"] if e[2]]] for a, b in zip(t, t[1:]))')
assert_le "whole prompts: the short stream waits out the 2 + 2 + 20 ms step (us)" 23000 "$gap"

assert_eq "--chunked-prefill below --max-batch is a usage error" 2 "$("$BIN/llmtrace-sim" --chunked-prefill 3 --max-batch 4 2>/dev/null; echo $?)"
