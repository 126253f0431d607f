#!/usr/bin/env bash
# sim_plateau.sh — the default profile's throughput curve measured by a real closed-loop client
# (bench/sim/simload.c): output tokens/s rises with concurrency as b / (2 + b/16) ms and
# plateaus at max-batch 32 → 8,000 tokens/s; 64 streams stay on the plateau (queueing only
# adds latency). Each point must be within 10 % of the model.
source "$(dirname "$0")/lib.sh"
[ -x "$BIN/llmtrace-simload" ] || fail "llmtrace-simload not built"
start_sim
# concurrency → model tokens/s (128-token outputs; prefill of 4 prompt tokens is ~0.1 %)
for pt in "1 485" "4 1778" "16 5333" "32 8000" "64 8000"; do
  read -r c want <<<"$pt"
  out=$("$BIN/llmtrace-simload" --port "$SIM_PORT" -c "$c" --duration 2.5 --warmup 0.5 \
        --max-tokens 128 --count '{"content":"')
  echo "c=$c: $out"
  rate=$(sed -n 's/.*match_rate=\([0-9.]*\).*/\1/p' <<<"$out")
  grep -q 'errors=0 non200=0' <<<"$out" || fail "c=$c: errors: $out"
  assert_le "c=$c tokens/s >= 90 % of $want" "$(awk -v w="$want" 'BEGIN{print w*0.9}')" "$rate"
  assert_le "c=$c tokens/s <= 110 % of $want" "$rate" "$(awk -v w="$want" 'BEGIN{print w*1.1}')"
done
