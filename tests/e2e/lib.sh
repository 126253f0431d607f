# tests/e2e/lib.sh — shared helpers for end-to-end tests of the real binaries on loopback.
# Source it first thing: it sets strict mode, a scratch dir, a hard time limit and cleanup.
# Environment from ctest: LLMTRACE_BIN, SRC_DIR, DATA, TEST_TMP.
set -euo pipefail
: "${LLMTRACE_BIN:?}" "${TEST_TMP:?}"
rm -rf "$TEST_TMP"
mkdir -p "$TEST_TMP"
BIN=$LLMTRACE_BIN
_pids=()
_cleanup() {
  local p
  for p in "${_pids[@]:-}"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
trap _cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }
# assert_eq WHAT EXPECTED ACTUAL
assert_eq() { [ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"; pass "$1 = $3"; }
# assert_le WHAT A B  (numeric, A <= B)
assert_le() { awk -v a="$2" -v b="$3" 'BEGIN{exit !(a<=b)}' || fail "$1: $2 > $3"; pass "$1: $2 <= $3"; }

# start_sim [sim args...]: starts llmtrace-sim on 127.0.0.1 with a kernel-chosen port; sets
# SIM_PID, SIM_PORT and SIM_URL (http://127.0.0.1:PORT). Fails after 10 s without a port.
start_sim() {
  local pf="$TEST_TMP/sim.$RANDOM.port"
  rm -f "$pf"
  "$BIN/llmtrace-sim" --listen 127.0.0.1:0 --port-file "$pf" --quiet "$@" \
    2>>"$TEST_TMP/sim.stderr" &
  SIM_PID=$!
  _pids+=("$SIM_PID")
  local i
  for i in $(seq 1 100); do
    if [ -s "$pf" ]; then
      SIM_PORT=$(cat "$pf")
      SIM_URL="http://127.0.0.1:$SIM_PORT"
      return 0
    fi
    kill -0 "$SIM_PID" 2>/dev/null || fail "llmtrace-sim exited: $(tail -3 "$TEST_TMP/sim.stderr")"
    sleep 0.1
  done
  fail "llmtrace-sim did not report its port"
}

# stop_pid PID [SIGNAL]: signals and waits (at most 20 s) for a process we started.
stop_pid() {
  local pid=$1 sig=${2:-TERM} i
  kill -"$sig" "$pid" 2>/dev/null || return 0
  for i in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  fail "process $pid did not stop after SIG$sig"
}

# zjq FILE PYEXPR: evaluates a Python expression over the log's records (list `recs`,
# exchanges `ex`, header `hdr`, trailer `trl`) read with Python's gzip+json; prints the result.
zjq() {
  python3 - "$1" "$2" <<'PY'
import gzip, json, sys
path, expr = sys.argv[1], sys.argv[2]
op = gzip.open if open(path, 'rb').read(2) == b'\x1f\x8b' else open
with op(path, 'rt') as f:
    recs = [json.loads(l) for l in f if l.strip()]
ex = [r for r in recs if r.get('type') == 'exchange']
hdr = next((r for r in recs if r.get('type') == 'header'), None)
trl = next((r for r in recs if r.get('type') == 'trailer'), None)
v = eval(expr)
print(json.dumps(v) if not isinstance(v, str) else v)
PY
}

# npm_pinned DIR PACKAGE VERSION: PACKAGE@VERSION installed under DIR (reused when already
# there), three tries with a pause between (the registry is over the network).
npm_pinned() {
  local dir=$1 pkg=$2 ver=$3 try
  if [ -e "$dir/node_modules/$pkg/package.json" ] &&
     grep -q "\"version\": \"$ver\"" "$dir/node_modules/$pkg/package.json"; then
    return 0
  fi
  mkdir -p "$dir"
  for try in 1 2 3; do
    if timeout 240 npm install --prefix "$dir" --no-audit --no-fund --prefer-offline \
         --loglevel error "$pkg@$ver" > "$TEST_TMP/npm.log" 2>&1; then
      return 0
    fi
    sleep $((try * 5))
  done
  fail "npm install $pkg@$ver failed 3 times: $(tail -5 "$TEST_TMP/npm.log")"
}
