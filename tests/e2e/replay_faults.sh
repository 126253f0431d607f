# replay_faults.sh — every llmtrace-sim fault flag gives its error kind per request and the run
# completes (exit 0, one record per request, trailer written): --fail-rate/--fail-status →
# http_status with the body's message, --reset-rate and --drop-connection-rate → reset,
# --malformed-rate → malformed, --stall-rate with --idle-timeout → idle_timeout and with
# --timeout → timeout; a closed port → connect; https to a plain-HTTP listener → tls; https to
# a silent listener (no TLS answer) with --connect-timeout → connect_timeout. Half-rate runs keep
# the good requests good.
source "$SRC_DIR/tests/e2e/lib.sh"
source "$SRC_DIR/tests/e2e/replay_lib.sh"
T=$TEST_TMP
mk_trace "$T/t8.jsonl.gz" 8 5000

# run_fault NAME "SIM FLAGS" "REPLAY FLAGS" EXPECTED_KIND_COUNTS
run_fault() {
  local name=$1 simflags=$2 rflags=$3 want=$4
  # shellcheck disable=SC2086
  start_sim --profile zero --seed 3 $simflags
  local rc=0
  # shellcheck disable=SC2086
  "$RP" "$T/t8.jsonl.gz" --url "$SIM_URL" --max-tokens 40 --ignore-eos -c 4 -q $rflags \
    -o "$T/$name.jsonl.gz" || rc=$?
  stop_pid "$SIM_PID"
  assert_eq "$name: exit status" 0 "$rc"
  assert_eq "$name: records" 8 "$(rq "$T/$name.jsonl.gz" 'len(ex)')"
  assert_eq "$name: trailer" 8 "$(rq "$T/$name.jsonl.gz" 'trl["records"]')"
  assert_eq "$name: kinds" "$want" "$(rq "$T/$name.jsonl.gz" '
dict(sorted(collections.Counter((x["error"] or {}).get("kind", "ok") for x in ex).items()))')"
}

run_fault fail "--fail-rate 1 --fail-status 503" "" '{"http_status": 8}'
start_sim --profile zero --fail-rate 1 --fail-status 500
"$RP" "$T/t8.jsonl.gz" --url "$SIM_URL" -c 2 -o "$T/all500.jsonl.gz" 2>"$T/all500.err" || true
stop_pid "$SIM_PID"
assert_eq "all 500: a warning line says so" 1 "$(grep -c 'warning: every request failed with an HTTP error status' "$T/all500.err")"
assert_eq "fail: status and message" '[[503, "injected failure (--fail-rate)"]]' "$(rq "$T/fail.jsonl.gz" '
sorted(set((x["response"]["status"], x["error"]["message"]) for x in ex))')"
run_fault reset "--reset-rate 1" "" '{"reset": 8}'
run_fault drop "--drop-connection-rate 1" "" '{"reset": 8}'
run_fault malformed "--malformed-rate 1" "" '{"malformed": 8}'
run_fault idle "--stall-rate 1 --stall-ms 3000" "--idle-timeout 300ms" '{"idle_timeout": 8}'
run_fault total "--stall-rate 1 --stall-ms 3000" "--timeout 400ms --idle-timeout 0" '{"timeout": 8}'
assert_le "total: ended near 400 ms (us)" "$(rq "$T/total.jsonl.gz" 'max(x["response"]["end_us"] for x in ex)')" 1500000

# Half the requests fail: the others are complete and correct.
start_sim --profile zero --seed 5 --fail-rate 0.5 --fail-status 429
"$RP" "$T/t8.jsonl.gz" --url "$SIM_URL" --max-tokens 40 --ignore-eos -q --loop --rate 200 --arrival constant \
  --duration 200ms -o "$T/half.jsonl.gz"
stop_pid "$SIM_PID"
assert_eq "half: 40 records" 40 "$(rq "$T/half.jsonl.gz" 'len(ex)')"
assert_eq "half: only 429s and full successes" true "$(rq "$T/half.jsonl.gz" '
all((x["error"] and x["error"]["kind"] == "http_status" and x["response"]["status"] == 429) or (not x["error"] and x["tokens_out"] == 40) for x in ex)')"
assert_le "half: some of each" 1 "$(rq "$T/half.jsonl.gz" 'min(sum(1 for x in ex if x["error"]), sum(1 for x in ex if not x["error"]))')"

# Nothing listening: connect errors, and exit 1 because nothing could connect.
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
rc=0
"$RP" "$T/t8.jsonl.gz" --url "http://127.0.0.1:$PORT" -q -o "$T/refused.jsonl.gz" || rc=$?
assert_eq "refused: exit 1" 1 "$rc"
assert_eq "refused: kinds" '{"connect": 8}' "$(rq "$T/refused.jsonl.gz" '
dict(collections.Counter(x["error"]["kind"] for x in ex))')"

# A target that never answers is given up on: --max-connect-errors (default 10) failures in a
# row with nothing ever connected stop the run (exit 1) instead of scheduling 200 requests.
mk_trace "$T/t200.jsonl.gz" 200 20000
rc=0
"$RP" "$T/t200.jsonl.gz" --url "http://127.0.0.1:$PORT" --speed 10 -o "$T/gaveup.jsonl.gz" \
  2>"$T/gaveup.stderr" || rc=$?
assert_eq "gave up: exit 1" 1 "$rc"
# 10 in a row stop the run; requests already connecting on the other worker when the 10th
# failed end as what they are (a connect failure, or cancelled): a few, never the 200.
assert_eq "gave up: 10 connect failures, the few in flight then, nothing sent after" true "$(rq "$T/gaveup.jsonl.gz" '
(lambda k: 10 <= k.get("connect", 0) and sum(k.values()) <= 14 and set(k) <= {"connect", "cancelled"})(collections.Counter(x["error"]["kind"] for x in ex))')"
assert_eq "gave up: the trailer says why" 10 "$(rq "$T/gaveup.jsonl.gz" 'trl["stats"]["gave_up_after_connect_errors"]')"
assert_eq "gave up: stderr says why" 1 "$(grep -c 'gave up: 10 requests in a row could not connect' "$T/gaveup.stderr")"
rc=0
"$RP" "$T/t200.jsonl.gz" --url "http://127.0.0.1:$PORT" --rate 1000 --limit 30 --max-connect-errors 0 -q \
  -o "$T/nogiveup.jsonl.gz" || rc=$?
assert_eq "never give up: every request tried" 30 "$(rq "$T/nogiveup.jsonl.gz" 'len(ex)')"

# TLS failure: https to a plain-HTTP listener that answers at once → the handshake fails (tls).
python3 - "$T/plain.port" <<'PY' &
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
open(sys.argv[1], "w").write("%d\n" % s.getsockname()[1])
s.settimeout(60)
while True:
    c, _ = s.accept()
    c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    c.close()
PY
_pids+=("$!")
for _ in $(seq 50); do [ -s "$T/plain.port" ] && break; sleep 0.1; done
rc=0
"$RP" "$T/t8.jsonl.gz" --url "https://127.0.0.1:$(cat "$T/plain.port")" --limit 2 -q \
  -o "$T/tls.jsonl.gz" || rc=$?
assert_eq "tls: exit 1 (no request got past the handshake)" 1 "$rc"
assert_eq "tls: kinds" '{"tls": 2}' "$(rq "$T/tls.jsonl.gz" '
dict(collections.Counter(x["error"]["kind"] for x in ex))')"

# Connect timeout: https to a listener that accepts and then neither reads nor writes, with
# --connect-timeout 300ms. (Not the simulator: a ClientHello's random bytes can hold a '\n', and
# the simulator answers that "request line" with a 400, which is a tls failure, not a timeout.)
python3 - "$T/silent.port" <<'PY' &
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
open(sys.argv[1], "w").write("%d\n" % s.getsockname()[1])
s.settimeout(60)
held = []
while True:
    c, _ = s.accept()
    held.append(c)
PY
_pids+=("$!")
for _ in $(seq 50); do [ -s "$T/silent.port" ] && break; sleep 0.1; done
rc=0
"$RP" "$T/t8.jsonl.gz" --url "https://127.0.0.1:$(cat "$T/silent.port")" --connect-timeout 300ms --limit 2 -q \
  -o "$T/ct.jsonl.gz" || rc=$?
assert_eq "connect timeout: exit 1 (nothing connected)" 1 "$rc"
assert_eq "connect timeout: kinds" '{"connect_timeout": 2}' "$(rq "$T/ct.jsonl.gz" '
dict(collections.Counter(x["error"]["kind"] for x in ex))')"
assert_le "connect timeout: ended near 300 ms (us)" "$(rq "$T/ct.jsonl.gz" 'max(x["response"]["end_us"] for x in ex)')" 1000000
