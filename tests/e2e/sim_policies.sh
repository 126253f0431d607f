#!/usr/bin/env bash
# sim_policies.sh — llmtrace-sim's connection policies on raw sockets, each checked against
# the ground-truth log: --close-after-stream (FIN after a streamed response whose headers said
# keep-alive; the next request on it meets a reset before any response byte and is logged as
# reset), --keepalive-requests (the Nth response says Connection: close, then the close),
# --connection-close, --keepalive-timeout (FIN after T idle, not before; a byte cancels it), and
# --close-race-every (the request on the reused connection is met by the FIN). Also -q.
source "$(dirname "$0")/lib.sh"
T=$TEST_TMP
PY=/usr/bin/python3

"$BIN/llmtrace-sim" -q --version >/dev/null || fail "-q refused"

# policy_check NAME SIM_ARGS... -- runs the python scenario NAME against a fresh sim, then
# checks the log with the python assertions of the same NAME.
run_case() {
  local name=$1; shift
  start_sim --profile zero --log "$T/$name.jsonl.gz" "$@"
  "$PY" "$SRC_DIR/tests/e2e/sim_policies.py" wire "$name" "$SIM_PORT" || fail "$name: wire"
  stop_pid "$SIM_PID" INT
  "$PY" "$SRC_DIR/tests/e2e/sim_policies.py" log "$name" "$T/$name.jsonl.gz" || fail "$name: log"
}

run_case after_stream --close-after-stream
run_case keepalive_requests --keepalive-requests 3
run_case connection_close --connection-close
run_case keepalive_timeout --keepalive-timeout 400ms
run_case race --close-race-every 2
run_case llamacpp_persona --persona llama.cpp
pass "connection policies"
