# replay_signals.sh — interruption: Ctrl-C stops scheduling, waits --grace, records in-flight
# requests as cancelled and closes the log with its trailer; a second Ctrl-C exits at once with
# every record so far readable; kill -9 loses at most the last second of records.
source "$SRC_DIR/tests/e2e/lib.sh"
source "$SRC_DIR/tests/e2e/replay_lib.sh"
T=$TEST_TMP
mk_trace "$T/t4.jsonl.gz" 4 1000
# Every request stalls 20 s mid-stream: they stay in flight until we interrupt.
start_sim --profile zero --stall-rate 1 --stall-ms 20000

# One Ctrl-C: grace 300 ms, then cancelled.
"$RP" "$T/t4.jsonl.gz" --url "$SIM_URL" --rate 20 --arrival constant --loop --duration 60s \
  --grace 300ms --max-tokens 20 -q -o "$T/int.jsonl.gz" &
RPID=$!
sleep 1.2
t0=$(date +%s%N)
kill -INT "$RPID"
rc=0
wait "$RPID" || rc=$?
t1=$(date +%s%N)
assert_eq "ctrl-c: exit 1 (interrupted)" 1 "$rc"
assert_le "ctrl-c: stopped within grace + 1.7 s (ms)" $(( (t1 - t0) / 1000000 )) 2000
assert_eq "ctrl-c: trailer says interrupted" true "$(rq "$T/int.jsonl.gz" 'trl["stats"]["interrupted"]')"
assert_le "ctrl-c: requests sent before the signal" 15 "$(rq "$T/int.jsonl.gz" 'len(ex)')"
assert_eq "ctrl-c: all cancelled" '["cancelled"]' "$(rq "$T/int.jsonl.gz" 'sorted(set(x["error"]["kind"] for x in ex))')"
assert_eq "ctrl-c: partial streams kept" true "$(rq "$T/int.jsonl.gz" 'all(x["response"]["status"] == 200 for x in ex)')"

# Two Ctrl-Cs: out at once (grace 30 s not waited), log readable up to the last record.
"$RP" "$T/t4.jsonl.gz" --url "$SIM_URL" --rate 20 --arrival constant --loop --duration 60s \
  --grace 30s --max-tokens 20 -q -o "$T/int2.jsonl.gz" &
RPID=$!
sleep 1.0
kill -INT "$RPID"
sleep 0.3
t0=$(date +%s%N)
kill -INT "$RPID"
rc=0
wait "$RPID" || rc=$?
t1=$(date +%s%N)
assert_eq "2x ctrl-c: exit 1" 1 "$rc"
assert_le "2x ctrl-c: immediate, grace not waited (ms)" $(( (t1 - t0) / 1000000 )) 1000
assert_eq "2x ctrl-c: every member complete" true "$(RQ_TORN_OK=1 rq "$T/int2.jsonl.gz" "complete")"
assert_eq "2x ctrl-c: header, no trailer" "True None" "$(rq "$T/int2.jsonl.gz" '"%s %s" % (hdr is not None, trl)')"

# kill -9: records finished more than ~1 s before the kill are on disk. Requests here finish
# fast (no stall), 50/s.
stop_pid "$SIM_PID"
start_sim --profile zero
"$RP" "$T/t4.jsonl.gz" --url "$SIM_URL" --rate 50 --arrival constant --loop --duration 60s \
  --max-tokens 5 -q -o "$T/k9.jsonl.gz" &
RPID=$!
sleep 3
kill -9 "$RPID"
wait "$RPID" 2>/dev/null || true
# 3 s at 50/s = ~150 sent; at most the last ~1.2 s (60) may be lost; 60 leaves room for a
# loaded machine and still fails if records only reach the disk at exit or every 1,000.
assert_le "kill -9: records recovered" 60 "$(RQ_TORN_OK=1 rq "$T/k9.jsonl.gz" 'len(ex)')"
assert_eq "kill -9: header present" true "$(RQ_TORN_OK=1 rq "$T/k9.jsonl.gz" 'hdr is not None')"

# wait_gone PID SECONDS: PID must end within SECONDS (else it is killed and the test fails).
wait_gone() {
  local i
  for i in $(seq 1 $(( $2 * 10 ))); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$1"
  fail "process $1 still running ${2} s after the signal"
}

# wait_open PID FILE SECONDS: PID must have FILE open within SECONDS (else the test fails).
wait_open() {
  local i
  for i in $(seq 1 $(( $3 * 100 ))); do
    ls -l "/proc/$1/fd" 2>/dev/null | grep -qF -- "$2" && return 0
    sleep 0.01
  done
  fail "process $1 did not open $2 within ${3} s"
}

# Ctrl-C while the input loads stops the run: exit 1, the log has its header and a trailer
# saying "interrupted", and nothing is sent. From stdin that never ends (a FIFO kept open):
stop_pid "$SIM_PID"
start_sim --profile zero --log "$T/load.sim.jsonl.gz"
mkfifo "$T/in.fifo"
"$RP" - --url "$SIM_URL" -c 1 --max-tokens 5 -o "$T/ld.jsonl.gz" < "$T/in.fifo" 2> "$T/ld.err" &
RPID=$!
exec 7> "$T/in.fifo"
cat "$T/t4.jsonl.gz" >&7
sleep 0.3
kill -INT "$RPID"
wait_gone "$RPID" 5
rc=0
wait "$RPID" || rc=$?
exec 7>&-
assert_eq "ctrl-c while reading stdin: exit 1" 1 "$rc"
assert_eq "ctrl-c while reading stdin: trailer" '[true, false, 0, 0]' "$(rq "$T/ld.jsonl.gz" '
[trl["stats"]["interrupted"], trl["stats"]["input_complete"], trl["stats"]["sent"], len(ex)]')"
assert_eq "ctrl-c while reading stdin: says so" 1 "$(grep -c '^llmtrace-replay: interrupted while reading -: no request sent; .*ld.jsonl.gz holds the header and trailer only.$' "$T/ld.err")"
# From a file that takes a while to read (the Azure sample converted, three times over: 58,098
# requests, ~3 s to read here; replay reads the exchanges of all three logs), -c 1 and no
# --limit, so the whole input is read before the first request. SIGINT as soon as the file is
# open (signals are blocked before that): it lands while loading however fast the machine reads.
"$BIN/llmtrace-convert" "$DATA/AzureLLMInferenceTrace_conv.csv" -q -o "$T/azure1.jsonl.gz"
cat "$T/azure1.jsonl.gz" "$T/azure1.jsonl.gz" "$T/azure1.jsonl.gz" > "$T/azure.jsonl.gz"
rm -f "$T/azure1.jsonl.gz"
t0=$(date +%s%N)
"$RP" "$T/azure.jsonl.gz" --url "$SIM_URL" -c 1 --max-tokens 5 -o "$T/la.jsonl.gz" 2> "$T/la.err" &
RPID=$!
wait_open "$RPID" "$T/azure.jsonl.gz" 5
kill -INT "$RPID"
wait_gone "$RPID" 5
rc=0
wait "$RPID" || rc=$?
t1=$(date +%s%N)
assert_eq "ctrl-c while loading: exit 1" 1 "$rc"
assert_le "ctrl-c while loading: out at once (ms)" $(( (t1 - t0) / 1000000 )) 1500
assert_eq "ctrl-c while loading: trailer interrupted, nothing sent" '[true, 0, 0]' "$(rq "$T/la.jsonl.gz" '
[trl["stats"]["interrupted"], trl["stats"]["sent"], len(ex)]')"
grep -q 'interrupted while reading' "$T/la.err" || fail "ctrl-c while loading: message: $(cat "$T/la.err")"
stop_pid "$SIM_PID" INT
assert_eq "ctrl-c while loading: the server received nothing" 0 "$(rq "$T/load.sim.jsonl.gz" 'len(ex)')"
