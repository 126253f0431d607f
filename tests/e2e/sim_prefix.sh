#!/usr/bin/env bash
# sim_prefix.sh — llmtrace-sim --prefix-cache from real clients: a conversation's second turn
# carrying the sim's own reply hits every full block of turn 1's prompt and reply (hand-counted),
# one carrying another reply only the prompt's; the cached tokens skip their prefill (TTFT from
# the ground-truth log, linear profile: 5 ms per prefilled token); usage and /metrics report
# them as vLLM does; a full cache preempts and every stream still completes; a request larger
# than the cache is refused with 400.
source "$(dirname "$0")/lib.sh"
T=$TEST_TMP
PY=/usr/bin/python3
L=$T/truth.jsonl.gz
start_sim --tokenizer words --prefix-cache 64 --block-size 4 --profile linear:2,0,5 --log $L \
  --persona vllm --model m

words40="w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12 w13 w14 w15 w16 w17 w18 w19 w20 w21 w22 w23 w24 w25 w26 w27 w28 w29 w30 w31 w32 w33 w34 w35 w36 w37 w38 w39"
chat() { # chat FILE MESSAGES_JSON: one streamed turn, 8 tokens, usage asked for
  curl -sN "$SIM_URL/v1/chat/completions" -d "{\"stream\":true,\"max_tokens\":8,\"ignore_eos\":true,\"stream_options\":{\"include_usage\":true},\"messages\":$2}" >"$1"
}
usage() { $PY -c '
import json, sys
for b in open(sys.argv[1]).read().split("\n\n"):
    if b.startswith("data: {") and json.loads(b[6:]).get("usage"):
        u = json.loads(b[6:])["usage"]; print(u["prompt_tokens"], u["prompt_tokens_details"]["cached_tokens"])' "$1"; }
reply() { $PY -c '
import json, sys
print("".join(c["delta"].get("content") or "" for b in open(sys.argv[1]).read().split("\n\n") if b.startswith("data: {") for c in json.loads(b[6:])["choices"]))' "$1"; }

u1="{\"role\":\"user\",\"content\":\"$words40\"}"
chat $T/t1.txt "[$u1]"
assert_eq "turn 1: 40 prompt tokens, none cached" "40 0" "$(usage $T/t1.txt)"
r1=$(reply $T/t1.txt)
assert_eq "the reply is 8 words" 8 "$(echo "$r1" | wc -w)"
# turn 2 with the sim's reply: 40 + 8 + 3 = 51 tokens. Cached: the KV of the prompt and of the
# reply's first 7 tokens (the last token's KV is never computed) = 47 tokens → 11 full blocks
chat $T/t2.txt "[$u1,{\"role\":\"assistant\",\"content\":\"$r1\"},{\"role\":\"user\",\"content\":\"k l m\"}]"
assert_eq "turn 2, live reply: 44 of 51 cached" "51 44" "$(usage $T/t2.txt)"
# turn 2 with a reply the sim did not write: only the prompt's 10 full blocks
chat $T/t3.txt "[$u1,{\"role\":\"assistant\",\"content\":\"x y z q r s t u\"},{\"role\":\"user\",\"content\":\"k l m\"}]"
assert_eq "turn 2, another reply: 40 of 51 cached" "51 40" "$(usage $T/t3.txt)"
# another role for the same text shares nothing
chat $T/t4.txt "[{\"role\":\"system\",\"content\":\"$words40\"}]"
assert_eq "same text as a system message: nothing cached" "40 0" "$(usage $T/t4.txt)"

m=$(curl -s "$SIM_URL/metrics")
metric() { echo "$m" | awk -v k="$1" '$1 == k {print $2}'; }
assert_eq "prefix_cache_queries_total" 182 "$(metric llmtrace_sim_prefix_cache_queries_total)"
assert_eq "prefix_cache_hits_total" 84 "$(metric llmtrace_sim_prefix_cache_hits_total)"
assert_eq "hit rate" 0.461538 "$(metric llmtrace_sim_prefix_cache_hit_rate)"
assert_eq "idle: kv usage 0" 0.000000 "$(metric llmtrace_sim_kv_cache_usage_perc)"
assert_eq "vLLM's names (persona vllm)" "84 182 0" "$(metric 'vllm:prefix_cache_hits_total{engine="0",model_name="m"}') $(metric 'vllm:prefix_cache_queries_total{engine="0",model_name="m"}') $(metric 'vllm:num_preemptions_total{engine="0",model_name="m"}')"

# prompt + max_tokens beyond 64 × 4 tokens
code=$(curl -s -o $T/big.json -w '%{http_code}' "$SIM_URL/v1/chat/completions" -d "{\"max_tokens\":250,\"messages\":[$u1]}")
assert_eq "larger than the cache: 400" 400 "$code"
grep -q 'exceed the KV cache of 64 blocks of 4 tokens' $T/big.json || fail "400 message: $(cat $T/big.json)"
stop_pid $SIM_PID

# the ground truth: cached tokens in usage, and TTFT = decode (2 ms) + 5 ms per prefilled token
# (upper bounds leave 30 ms for a loaded machine)
assert_eq "log usage.cached_tokens" "[0, 44, 40, 0]" "$(zjq $L '[x["usage"]["cached_tokens"] for x in ex[:4]]')"
ttft() { zjq $L "next(e[0] for e in ex[$1]['response']['events'] if e[2]) / 1000"; }
t1=$(ttft 0); t2=$(ttft 1); t3=$(ttft 2)
assert_le "turn 1 TTFT (2 + 40 × 5 = 202 ms modelled)" 201.5 "$t1"
assert_le "turn 1 TTFT upper" "$t1" 232
assert_le "live turn 2 TTFT (2 + 7 × 5 = 37 ms modelled)" 36.5 "$t2"
assert_le "live turn 2 TTFT upper" "$t2" 67
assert_le "other-reply turn 2 TTFT (2 + 11 × 5 = 57 ms)" 56.5 "$t3"
assert_le "other-reply turn 2 TTFT upper" "$t3" 87

# a cache of 8 blocks (32 tokens) and three 10-token prompts generating 12 tokens each: the
# third waits for blocks, the running two outgrow the cache, the newer is preempted and
# recomputed; every stream completes with its 12 tokens
start_sim --tokenizer words --prefix-cache 8 --block-size 4 --profile linear:5,0,0.1
cps=()
for i in 1 2 3; do
  curl -sN -m 20 "$SIM_URL/v1/chat/completions" -d "{\"stream\":true,\"max_tokens\":12,\"ignore_eos\":true,\"messages\":[{\"role\":\"user\",\"content\":\"p$i a b c d e f g h i\"}]}" >$T/p$i.txt &
  cps+=($!)
done
wait "${cps[@]}" || fail "a stream failed"
for i in 1 2 3; do
  assert_eq "stream $i complete" "12 1" "$(grep -c '"delta":{"content"' $T/p$i.txt) $(grep -c '\[DONE\]' $T/p$i.txt)"
done
m=$(curl -s "$SIM_URL/metrics")
pre=$(metric llmtrace_sim_num_preemptions_total)
assert_le "preemptions" 1 "$pre"
assert_eq "no blocks held after" 0.000000 "$(metric llmtrace_sim_kv_cache_usage_perc)"
stop_pid $SIM_PID
