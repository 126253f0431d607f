# replay_connect.sh — issue 11 item 6: a request's start_us is when its first byte left, not
# when the client began connecting. At -c 64 (with the default --preconnect, and without it)
# every request's start_us is within 1 ms of its first request byte as llmtrace-capture saw it
# on lo (it used to be up to 12 ms early for the first 64), and each record says whether its
# connection was new and how long connecting took (conn_new, connect_us, spent before t0).
# Then --connection-per-request: a new connection for every request, each with its connect
# time. Needs root for the capture (exit 77 otherwise).
source "$SRC_DIR/tests/e2e/lib.sh"
source "$SRC_DIR/tests/e2e/replay_lib.sh"
T=$TEST_TMP
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: live capture on lo needs root (CI runs as root)"
  exit 77
fi
mk_trace "$T/t.jsonl.gz" 128 1000
# 1 ms is the promise (the bug was up to 12 ms, 50 µs at the least); a sanitizer build on a
# shared machine can be preempted for longer between its clock read and the write
TOL_US=1000
[ "${LLMTRACE_SANITIZE:-OFF}" = ON ] && TOL_US=3000
for mode in preconnect no_preconnect; do
  start_sim --profile default --max-batch 128
  "$BIN/llmtrace-capture" -q -i lo -B 256 -w "$T/$mode.cap.jsonl.gz" tcp port "$SIM_PORT" 2>"$T/cap.err" &
  CAP=$!
  _pids+=("$CAP")
  sleep 1
  extra=""
  [ "$mode" = no_preconnect ] && extra=--no-preconnect
  # shellcheck disable=SC2086
  "$RP" "$T/t.jsonl.gz" --url "$SIM_URL" -c 64 --max-tokens 8 --ignore-eos -q $extra \
    -o "$T/$mode.rep.jsonl.gz"
  sleep 0.5
  stop_pid "$CAP" INT
  stop_pid "$SIM_PID"
  assert_eq "$mode: start_us within $((TOL_US / 1000)) ms of the first request byte on the wire; connection fields" "ok" "$(/usr/bin/python3 - "$T/$mode.rep.jsonl.gz" "$T/$mode.cap.jsonl.gz" "$TOL_US" <<'PY'
import gzip, json, sys
def ex(p):
    return [r for r in map(json.loads, gzip.open(p, "rt")) if r.get("type") == "exchange"]
rep, cap = ex(sys.argv[1]), ex(sys.argv[2])
def rid(c):
    return next((h[1] for h in c["request"]["headers"] if h[0].lower() == "x-request-id"), None)
cmap = {rid(c): c for c in cap}
bad = []
first = sorted(rep, key=lambda x: x["start_us"])[:64]
for x in rep:
    c = cmap.get(x["id"])
    if c is None:
        bad.append("not captured: " + x["id"]); continue
    d = x["start_us"] - c["start_us"]
    if abs(d) > int(sys.argv[3]):
        bad.append("%s: start_us %+d us from the wire" % (x["id"], d))
    if x.get("conn_new") not in (True, False):
        bad.append("%s: no conn_new" % x["id"])
    if x.get("conn_new") and not (isinstance(x.get("connect_us"), int) and x["connect_us"] >= 0):
        bad.append("%s: new connection without connect_us" % x["id"])
if sum(1 for x in first if x["conn_new"]) != 64:
    bad.append("the first 64 requests are not all on new connections")
if len(rep) != 128:
    bad.append("%d records" % len(rep))
print("; ".join(bad[:4]) if bad else "ok")
PY
)"
done

# --connection-per-request (vLLM's benchmark opens one per request): every record on a new
# connection of its own, with its connect time, and all succeed
start_sim --profile zero
"$RP" "$T/t.jsonl.gz" --url "$SIM_URL" -c 8 --max-tokens 8 --ignore-eos -q --connection-per-request \
  -o "$T/cpr.jsonl.gz"
stop_pid "$SIM_PID"
assert_eq "--connection-per-request: records, errors, new connections, with connect_us, distinct connections" \
  "128 0 128 128 128" \
  "$(zjq "$T/cpr.jsonl.gz" '" ".join(map(str, [len(ex), sum(1 for e in ex if e["error"]), sum(1 for e in ex if e["conn_new"] is True), sum(1 for e in ex if isinstance(e.get("connect_us"), int) and e["connect_us"] >= 0), len({(e["conn"], e["replay"].get("conn")) for e in ex})]))')"
