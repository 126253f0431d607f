#!/usr/bin/env bash
# sim_personas.sh — each llmtrace-sim --persona's wire shapes on raw sockets (role chunks,
# usage placement, llama.cpp's timings and held-back tokens, finish reason placement, headers,
# error statuses and bodies, the Responses endpoint streamed and whole).
source "$(dirname "$0")/lib.sh"
T=$TEST_TMP
PY=/usr/bin/python3
for p in sim llama.cpp vllm sglang ollama tgi openai; do
  start_sim --profile zero --persona "$p" --seed 3
  echo "== $p"
  "$PY" "$SRC_DIR/tests/e2e/sim_personas.py" "$p" "$SIM_PORT" || fail "persona $p"
  stop_pid "$SIM_PID"
done
"$BIN/llmtrace-sim" --persona nginx 2>/dev/null && fail "unknown persona accepted"
pass "personas"
