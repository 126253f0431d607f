#!/usr/bin/env bash
# capture_proxy_wire.sh — the proxy's timestamps are honest: while llmtrace-replay drives
# llmtrace-sim through the recording proxy, a live capture on lo records the proxy's upstream
# side. Per exchange (matched by the X-Request-Id the proxy forwarded) the two logs agree:
# the capture's connection is the proxy's proxy.local_port, the event counts are equal, and
# the event times (the proxy's kernel receive time vs the packet's capture time) agree: none
# earlier than the packet (−1 ms), at least 95 % within 1 ms, all within 100 ms. (A read that
# takes several segments at once carries the receive time of the last one — TCP's
# SO_TIMESTAMPNS — so when the proxy is late to read, as under ASan, the earlier events of
# that read are stamped late by up to the delay.) Needs root (CI runs as root): exit 77 = skip.
. "$(dirname "$0")/lib.sh"
source "$SRC_DIR/tests/e2e/replay_lib.sh"
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: live capture on lo needs root (CI runs as root)"
  exit 77
fi
T=$TEST_TMP
start_sim --profile default
"$BIN/llmtrace-capture" -q -i lo -w "$T/wire.jsonl.gz" tcp port "$SIM_PORT" 2>"$T/cap.err" &
CAP_PID=$!
_pids+=("$CAP_PID")
for _ in $(seq 1 50); do # ready once the device is open (it then runs as nobody)
  uid=$(awk '/^Uid:/{print $2}' "/proc/$CAP_PID/status" 2>/dev/null || echo gone)
  [ "$uid" != 0 ] && break
  sleep 0.1
done
sleep 0.3
pf="$T/px.port"
"$BIN/llmtrace-capture" --listen 127.0.0.1:0 --port-file "$pf" --upstream "$SIM_URL" \
  -w "$T/proxy.jsonl.gz" -q 2>"$T/px.err" &
PX_PID=$!
_pids+=("$PX_PID")
for _ in $(seq 1 100); do [ -s "$pf" ] && break; sleep 0.1; done
[ -s "$pf" ] || fail "proxy did not start: $(cat "$T/px.err")"
mk_trace "$T/t24.jsonl.gz" 24 1000
"$RP" "$T/t24.jsonl.gz" --url "http://127.0.0.1:$(cat "$pf")" -c 6 --max-tokens 16 --ignore-eos \
  -q -o "$T/r.jsonl.gz"
sleep 0.3
stop_pid "$PX_PID" TERM
stop_pid "$CAP_PID" INT
stop_pid "$SIM_PID" INT
read -r n matched conn_ok ev_ok lo hi share <<<"$(python3 - "$T/proxy.jsonl.gz" "$T/wire.jsonl.gz" <<'PY'
import gzip, json, sys
def load(p):
    return [r for r in map(json.loads, gzip.open(p, "rt")) if r.get("type") == "exchange"]
def rid(e):
    return next((h[1] for h in e["request"]["headers"] if h[0].lower() == "x-request-id"), None)
px = load(sys.argv[1])
wire = {rid(e): e for e in load(sys.argv[2])}
matched = conn_ok = ev_ok = 0
d = []
for e in px:
    w = wire.get(rid(e))
    if not w:
        continue
    matched += 1
    if w["conn"].split(">")[0].endswith(":%d" % e["proxy"]["local_port"]):
        conn_ok += 1
    pe, we = e["response"]["events"], w["response"]["events"]
    if len(pe) == len(we):
        ev_ok += 1
        d += [(e["start_us"] + a[0]) - (w["start_us"] + b[0]) for a, b in zip(pe, we)]
d.sort()
share = sum(1 for x in d if abs(x) <= 1000) * 100 // max(len(d), 1)
print(len(px), matched, conn_ok, ev_ok, d[0] if d else 99999, d[-1] if d else 99999, share)
PY
)"
assert_eq "proxy: one record per request" 24 "$n"
assert_eq "every proxy record is in the wire capture (by X-Request-Id)" 24 "$matched"
assert_eq "the capture's connection is the record's proxy.local_port" 24 "$conn_ok"
assert_eq "event counts agree" 24 "$ev_ok"
assert_le "events: proxy − wire ≥ −1 ms (µs)" -1000 "$lo"
assert_le "events within 1 ms of their packet (%)" 95 "$share"
assert_le "events: proxy − wire ≤ 100 ms (µs)" "$hi" 100000
echo "proxy vs wire per event: min $lo µs, max $hi µs, $share % within 1 ms"
