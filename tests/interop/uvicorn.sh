#!/usr/bin/env bash
# tests/interop/uvicorn.sh — llmtrace-replay and llmtrace-capture against FastAPI + uvicorn (the
# HTTP stack of vLLM's OpenAI server; tests/interop/server.py streams as vLLM does), with a 1 s
# keep-alive timeout, while llmtrace-capture records lo. Each phase is checked three ways by
# tests/interop/check.py — replay's log, capture's log and the server's own request log must
# agree on every request (by X-Request-Id), every token count and every error, with 0 errors:
#   keepalive-h11, keepalive-httptools   original timing, bursts of 8 connections reused after
#       gaps just under, at and just over the keep-alive timeout (the close racing the next
#       request, RFC 9112 §9.3.1), on both of uvicorn's HTTP implementations;
#   c8-mixed     -c 8, chat and completions, usage on every other request, ignore_eos on 3 of 4;
#   c8-usage     -c 8 with replay's --include-usage (replay adds stream_options itself).
# INTEROP_REQUESTS=N (default 1000) sets the total: a quarter for each keep-alive phase, the rest
# split between the -c 8 phases (make interop runs 1,000+). Needs root (live capture): exit 77.
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib.sh"
need_root
command -v curl >/dev/null || fail "curl not installed (scripts/deps.sh installs it)"
$PY -c 'import fastapi, uvicorn, httptools' 2>/dev/null ||
  fail "python3-fastapi, -uvicorn or -httptools missing (scripts/deps.sh installs them)"
for t in llmtrace-replay llmtrace-capture; do [ -x "$BIN/$t" ] || fail "$t not built"; done

KA=1            # uvicorn timeout_keep_alive, seconds
WIDTH=8         # connections per keep-alive burst
TOTAL=${INTEROP_REQUESTS:-1000}
[ "$TOTAL" -ge 32 ] 2>/dev/null || fail "INTEROP_REQUESTS must be a number >= 32"
BURSTS=$(( (TOTAL / 4 + WIDTH - 1) / WIDTH ))
NC=$(( (TOTAL - 2 * BURSTS * WIDTH) / 2 ))
[ "$NC" -ge 8 ] || NC=8

# phase NAME SERVER_ARGS TRACE EXPECTED REPLAY_ARGS…
phase() {
  local name=$1 sargs=$2 trace=$3 n=$4 d="$TEST_TMP/$1" rc=0
  shift 4
  mkdir -p "$d"
  # shellcheck disable=SC2086
  start_uvicorn "$d" --keep-alive "$KA" $sargs
  start_capture "$d/cap.jsonl.gz" "$UV_PORT"
  timeout 300 "$BIN/llmtrace-replay" "$trace" --url "http://127.0.0.1:$UV_PORT" \
    -o "$d/replay.jsonl.gz" "$@" 2>"$d/replay.err" || rc=$?
  sleep 0.3
  stop_pid "$CAP_PID" INT
  stop_pid "$UV_PID" TERM
  echo "== $name: replay exit $rc: $(tail -1 "$d/replay.err")"
  [ "$rc" = 0 ] || fail "$name: llmtrace-replay exited $rc: $(tail -3 "$d/replay.err")"
  run_check "$name" "$d" --uvicorn-log "$d/server.jsonl" --expect-requests "$n" --expect-errors 0
}

$PY "$IDIR/mktrace.py" keepalive "$TEST_TMP/ka.jsonl.gz" --timeout "$KA" --bursts "$BURSTS" \
  --width "$WIDTH" --tokens 4
$PY "$IDIR/mktrace.py" mixed "$TEST_TMP/mixed.jsonl.gz" --n "$NC" --usage mixed
$PY "$IDIR/mktrace.py" mixed "$TEST_TMP/nousage.jsonl.gz" --n "$NC" --usage off

phase keepalive-h11 "--http h11" "$TEST_TMP/ka.jsonl.gz" $((BURSTS * WIDTH))
phase keepalive-httptools "--http httptools" "$TEST_TMP/ka.jsonl.gz" $((BURSTS * WIDTH))
phase c8-mixed "--token-ms 0.5" "$TEST_TMP/mixed.jsonl.gz" "$NC" -c 8
phase c8-usage "--token-ms 0.5" "$TEST_TMP/nousage.jsonl.gz" "$NC" -c 8 --include-usage

[ "$INTEROP_FAILED" = 0 ] || fail "$INTEROP_FAILED of 4 phases disagree (lines marked FAIL above)"
pass "replay, capture and uvicorn agree on $((2 * BURSTS * WIDTH + 2 * NC)) requests"
