#!/usr/bin/env bash
# sim_batching.sh — llmtrace-sim's continuous-batching model seen from real clients: with
# --max-batch 4, five concurrent 200-token streams: the first four arrivals start at once, the
# fifth's first token waits for a slot — exactly one step after the first finisher's last
# token; inter-token gaps follow decode(4) of the default profile (2 + 4/16 ms).
source "$(dirname "$0")/lib.sh"
T=$TEST_TMP
start_sim --max-batch 4 --log $T/b.jsonl.gz
body='{"stream":true,"max_tokens":200,"ignore_eos":true,"messages":[{"role":"user","content":"hi"}]}'
pids=()
for i in 1 2 3 4 5; do
  curl -sN -H "X-Request-Id: r$i" "$SIM_URL/v1/chat/completions" -d "$body" >$T/o$i.txt & pids+=($!)
  sleep 0.02
done
wait "${pids[@]}"
stop_pid $SIM_PID
for i in 1 2 3 4 5; do assert_eq "r$i tokens" 200 "$(grep -c '"delta":{"content"' $T/o$i.txt)"; done
# the five exchanges in arrival order: (start, first content, last content) in epoch µs
zjq $T/b.jsonl.gz '"\n".join("%d %d %d" % (x["start_us"], x["start_us"] + c[0][0], x["start_us"] + c[-1][0]) for x in sorted(ex, key=lambda x: x["start_us"]) for c in [[e for e in x["response"]["events"] if e[2]]])' >$T/times
cat $T/times
mapfile -t rows <$T/times
[ "${#rows[@]}" = 5 ] || fail "expected 5 exchanges"
first_end=
for i in 0 1 2 3; do
  read -r s f l <<<"${rows[$i]}"
  assert_le "arrival $((i+1)) TTFT (us)" $((f - s)) 60000
  if [ -z "$first_end" ] || [ "$l" -lt "$first_end" ]; then first_end=$l; fi
done
read -r s5 f5 l5 <<<"${rows[4]}"
assert_le "5th arrival waits for a slot: TTFT (us) >= 200 ms" 200000 $((f5 - s5))
gap=$((f5 - first_end))
# the joining step: decode(4) 2.25 ms + prefill 1 token; timing noise allowed up to 10 ms
assert_le "5th first token after the first finisher" 1 "$gap"
assert_le "5th first token <= 10 ms after the first finisher" "$gap" 10000
# inter-token gap while four run: decode(4) = 2.25 ms; median within 10 %
med=$(zjq $T/b.jsonl.gz '(lambda ev: sorted(b - a for a, b in zip(ev, ev[1:]))[len(ev) // 2])([e[0] for e in sorted(ex, key=lambda x: x["start_us"])[0]["response"]["events"] if e[2]][100:180])')
assert_le "median ITL >= 2025 us" 2025 "$med"
assert_le "median ITL <= 2475 us" "$med" 2475
