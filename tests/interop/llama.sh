#!/usr/bin/env bash
# tests/interop/llama.sh — llmtrace-replay and llmtrace-capture against a real llama.cpp server
# (`make interop LLAMA_SERVER=… LLAMA_MODEL=…`; verified with llama.cpp b4747 and a tiny
# random-weight model). Nothing of llama.cpp is in this repository: the server and the model
# are the user's. Each run is checked three ways by tests/interop/check.py:
#   replay   its log (one record per request, re-sends in replay.attempts);
#   capture  its log of lo (exchanges by X-Request-Id; resent_as = a transport attempt), which
#            also holds what llama.cpp itself states per request on the wire: the usage of
#            its last chunk (the slot's n_decoded, the same counter as `timings.predicted_n`);
#   server   llama-server's own output during the run — one task per request (`launch_slot_`),
#            one `request: POST …` line with its status per chat request (it logs none for
#            /v1/completions), one `n_prompt_tokens = N` per task, one `eval time = … / N
#            tokens` per finished task — and /metrics (`--metrics`) before and after the run:
#            llamacpp:tokens_predicted_total. llama.cpp logs no request id, so these are
#            compared as counts and multisets.
# Runs: streaming chat and completions at -c 1 … 8, each with and without replay's
# --include-usage (LLAMA_RUN_REQUESTS each, default 16); then the acceptance run of issue 12:
# 10 runs of 40 chat requests (max_tokens 48, ignore_eos) at -c 4; and 3 of those through
# llmtrace-capture's recording proxy (--listen/--upstream), its log in the capture's place.
# Every run must show 0 errors and full agreement. Needs root (live capture on lo).
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ]; then
  echo "interop: live capture on lo needs root (run make interop as root)" >&2
  exit 1
fi
if [ -z "${LLAMA_SERVER:-}" ] || [ ! -x "$LLAMA_SERVER" ]; then
  fail "LLAMA_SERVER='${LLAMA_SERVER:-}' is not an executable llama-server"
fi
if [ -z "${LLAMA_MODEL:-}" ] || [ ! -f "$LLAMA_MODEL" ] ||
   [ "$(head -c 4 "$LLAMA_MODEL")" != GGUF ]; then
  fail "LLAMA_MODEL='${LLAMA_MODEL:-}' is not a GGUF model file"
fi
RUN_N=${LLAMA_RUN_REQUESTS:-16}
ACC_RUNS=${LLAMA_ACCEPTANCE_RUNS:-10}
LLOG=$TEST_TMP/llama-server.log

# a free port: llama-server binds with SO_REUSEPORT, so a second one on a taken port would
# silently share it; port_free's plain bind fails on any listener
LPORT=
for _ in $(seq 1 50); do
  p=$((20000 + RANDOM % 40000))
  if port_free "$p"; then LPORT=$p; break; fi
done
[ -n "$LPORT" ] || fail "no free port found for llama-server"
echo "llama-server: $("$LLAMA_SERVER" --version 2>&1 | head -1), model $LLAMA_MODEL, port $LPORT"
"$LLAMA_SERVER" -m "$LLAMA_MODEL" --alias tiny --host 127.0.0.1 --port "$LPORT" -c 4096 \
  --parallel 4 --cont-batching -t 1 --metrics >"$LLOG" 2>&1 &
LPID=$!
_pids+=("$LPID")
LURL=http://127.0.0.1:$LPORT
for i in $(seq 1 600); do
  curl -sf --max-time 2 "$LURL/health" >/dev/null && break
  kill -0 "$LPID" 2>/dev/null || fail "llama-server exited: $(tail -5 "$LLOG")"
  [ "$i" = 600 ] && fail "llama-server: /health not ready after 60 s: $(tail -5 "$LLOG")"
  sleep 0.1
done
ss -ltnpH "sport = :$LPORT" | grep -q "pid=$LPID," ||
  fail "port $LPORT is not served by the llama-server we started"

# finished_tasks FROM: tasks llama-server reported finished past byte offset FROM
finished_tasks() { tail -c +"$(($1 + 1))" "$LLOG" | grep -ac 'print_timing' || true; }

# run NAME TRACE N REPLAY_ARGS…  (VIA_PROXY=1: replay talks to llmtrace-capture's recording
# proxy in front of llama-server, and the proxy's log stands where the wire capture does)
RUNS=0
run() {
  local name=$1 trace=$2 n=$3 d="$TEST_TMP/$1" rc=0 off last cur i url=$LURL
  shift 3
  mkdir -p "$d"
  RUNS=$((RUNS + 1))
  off=$(stat -c %s "$LLOG")
  curl -sf --max-time 5 "$LURL/metrics" >"$d/metrics.before" || fail "$name: /metrics failed"
  if [ -n "${VIA_PROXY:-}" ]; then
    "$BIN/llmtrace-capture" -q --listen 127.0.0.1:0 --port-file "$d/px.port" --upstream "$LURL" \
      -w "$d/cap.jsonl.gz" 2>"$d/cap.jsonl.gz.err" &
    CAP_PID=$!
    _pids+=("$CAP_PID")
    for i in $(seq 1 100); do
      [ -s "$d/px.port" ] && break
      kill -0 "$CAP_PID" 2>/dev/null || fail "proxy exited: $(tail -3 "$d/cap.jsonl.gz.err")"
      sleep 0.1
    done
    [ -s "$d/px.port" ] || fail "$name: the proxy did not report its port"
    url=http://127.0.0.1:$(cat "$d/px.port")
  else
    start_capture "$d/cap.jsonl.gz" "$LPORT"
  fi
  timeout 600 "$BIN/llmtrace-replay" "$trace" --url "$url" -o "$d/replay.jsonl.gz" \
    --model tiny "$@" 2>"$d/replay.err" || rc=$?
  # llama-server may log a task's end after the client has read its response: wait (≤ 5 s)
  # until the count of finished tasks stops moving
  last=-1
  for i in $(seq 1 25); do
    cur=$(finished_tasks "$off")
    [ "$cur" = "$last" ] && [ "$cur" -ge "$n" ] && break
    last=$cur
    sleep 0.2
  done
  curl -sf --max-time 5 "$LURL/metrics" >"$d/metrics.after" || fail "$name: /metrics failed"
  sleep 0.2
  stop_pid "$CAP_PID" INT
  tail -c +"$((off + 1))" "$LLOG" >"$d/server.log"
  echo "== $name: replay exit $rc: $(grep -v '^$' "$d/replay.err" | tail -2 | tr '\n' ' ')"
  if [ "$rc" != 0 ]; then
    INTEROP_FAILED=$((INTEROP_FAILED + 1))
    echo "FAIL [$name] llmtrace-replay exited $rc"
    return 0
  fi
  run_check "$name" "$d" --llama-log "$d/server.log" \
    --llama-metrics "$d/metrics.before" "$d/metrics.after" --expect-requests "$n" --expect-errors 0
}

for path in chat completions; do
  $PY "$IDIR/mktrace.py" mixed "$TEST_TMP/$path.jsonl.gz" --n "$RUN_N" --path "$path" \
    --usage off --max-tokens 48
  for c in 1 2 3 4 5 6 7 8; do
    for usage in on off; do
      # shellcheck disable=SC2046
      run "$path-c$c-usage-$usage" "$TEST_TMP/$path.jsonl.gz" "$RUN_N" -c "$c" \
        $(replay_flag_usage "$usage")
    done
  done
done
$PY "$IDIR/mktrace.py" mixed "$TEST_TMP/acceptance.jsonl.gz" --n 40 --path chat --usage off \
  --max-tokens 48 --fixed
for k in $(seq 1 "$ACC_RUNS"); do
  run "acceptance-$k" "$TEST_TMP/acceptance.jsonl.gz" 40 -c 4 --ignore-eos
done
# the recording proxy in front of llama.cpp (issue 16): what passes through is what the client
# and the server say, request by request
for k in 1 2 3; do
  VIA_PROXY=1 run "proxy-$k" "$TEST_TMP/acceptance.jsonl.gz" 40 -c 4 --ignore-eos
done

# llama-server exits 134 (abort) on SIGTERM (b4747): its status and the shell's notice are ignored
{ stop_pid "$LPID" TERM; } 2>/dev/null
echo "== summary: $((RUNS - INTEROP_FAILED)) of $RUNS runs agree"
grep -h '^FAIL' "$TEST_TMP"/*/check.txt 2>/dev/null | sed 's/^FAIL \[[^]]*\] \([^:]*\):.*/\1/' |
  sort | uniq -c | sed 's/^/   disagreements on /' || true
[ "$INTEROP_FAILED" = 0 ] ||
  fail "$INTEROP_FAILED of $RUNS llama.cpp runs disagree (lines marked FAIL above)"
pass "replay, capture and llama.cpp agree on $RUNS runs"
