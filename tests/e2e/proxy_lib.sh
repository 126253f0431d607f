# tests/e2e/proxy_lib.sh — helpers shared by the capture_proxy*.sh tests (sourced after lib.sh,
# with CAP and T set): the recording proxy started on a kernel-chosen loopback port, and
# stopped with its exit status checked.

# start_proxy OUT UPSTREAM [args…]: sets PX_PID, PX_URL
start_proxy() {
  local out=$1 up=$2 pf="$T/px.$RANDOM.port"
  shift 2
  rm -f "$pf"
  "$CAP" --listen 127.0.0.1:0 --port-file "$pf" --upstream "$up" -w "$out" -q "$@" \
    2>>"$T/px.stderr" &
  PX_PID=$!
  _pids+=("$PX_PID")
  local i
  for i in $(seq 1 100); do
    if [ -s "$pf" ]; then
      PX_URL="http://127.0.0.1:$(cat "$pf")"
      return 0
    fi
    kill -0 "$PX_PID" 2>/dev/null || fail "proxy exited: $(tail -3 "$T/px.stderr")"
    sleep 0.1
  done
  fail "proxy did not report its port"
}
# stop_proxy: SIGTERM, and the exit status must be 0
stop_proxy() {
  kill -TERM "$PX_PID"
  local rc=0
  wait "$PX_PID" || rc=$?
  assert_eq "proxy exit status after SIGTERM" 0 "$rc"
}
