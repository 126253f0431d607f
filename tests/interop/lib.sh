# tests/interop/lib.sh — helpers of the interop tests (sourced after tests/e2e/lib.sh): the
# uvicorn server, a live capture on lo, one replay + capture + three-way check per phase.
PY=/usr/bin/python3
IDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
INTEROP_FAILED=0

need_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "SKIP: live capture on lo needs root (CI runs as root)"
    exit 77
  fi
}

# port_free P: true when nothing listens on 127.0.0.1:P (a plain bind succeeds; a listener
# with SO_REUSEPORT, as llama-server's, still makes it fail)
port_free() {
  $PY - "$1" <<'EOF'
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
}

# start_uvicorn DIR [server.py args…]: sets UV_PID, UV_PORT; the request log is DIR/server.jsonl
start_uvicorn() {
  local dir=$1 pf
  shift
  pf="$dir/server.port"
  rm -f "$pf"
  $PY "$IDIR/server.py" --port-file "$pf" --log "$dir/server.jsonl" "$@" 2>>"$dir/server.err" &
  UV_PID=$!
  _pids+=("$UV_PID")
  for _ in $(seq 1 100); do
    if [ -s "$pf" ]; then
      UV_PORT=$(cat "$pf")
      # answering: uvicorn has started its loop
      for _ in $(seq 1 100); do
        curl -sf --max-time 2 "http://127.0.0.1:$UV_PORT/health" >/dev/null && return 0
        sleep 0.1
      done
      fail "uvicorn server on port $UV_PORT does not answer /health"
    fi
    kill -0 "$UV_PID" 2>/dev/null || fail "server.py exited: $(tail -3 "$dir/server.err")"
    sleep 0.1
  done
  fail "server.py did not report its port"
}

# start_capture OUT PORT: live capture of tcp port PORT on lo; returns once the device is open
# (the capture has dropped root). Sets CAP_PID.
start_capture() {
  local out=$1 port=$2 uid=0
  "$BIN/llmtrace-capture" -q -i lo -w "$out" tcp port "$port" 2>"$out.err" &
  CAP_PID=$!
  _pids+=("$CAP_PID")
  for _ in $(seq 1 100); do
    uid=$(awk '/^Uid:/{print $2}' "/proc/$CAP_PID/status" 2>/dev/null || echo gone)
    [ "$uid" != 0 ] && break
    sleep 0.1
  done
  [ "$uid" != gone ] || fail "llmtrace-capture exited: $(tail -3 "$out.err")"
  [ "$uid" != 0 ] || fail "llmtrace-capture did not open lo within 10 s"
  sleep 0.3
}

# replay_flag_usage on|off: replay's spelling for asking (or not asking) for stream usage
replay_flag_usage() {
  if [ "$1" = on ]; then
    echo --include-usage
  elif "$BIN/llmtrace-replay" --help 2>&1 | grep -q -- '--no-include-usage'; then
    echo --no-include-usage
  fi
}

# run_check LABEL DIR check.py-server-args… : the three-way check of DIR/{replay,cap}.jsonl.gz;
# prints its lines (and keeps them in DIR/check.txt); a disagreement marks the test failed
# without stopping it, so every phase is reported.
run_check() {
  local label=$1 dir=$2 rc=0
  shift 2
  $PY "$IDIR/check.py" --label "$label" --replay "$dir/replay.jsonl.gz" \
    --capture "$dir/cap.jsonl.gz" "$@" >"$dir/check.txt" 2>&1 || rc=$?
  cat "$dir/check.txt"
  if [ "$rc" != 0 ]; then
    INTEROP_FAILED=$((INTEROP_FAILED + 1))
    echo "  (logs: $dir)"
  fi
  return 0
}
