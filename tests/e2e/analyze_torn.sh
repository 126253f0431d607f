# analyze_torn: one rule for empty and torn logs — no exchange record → exit 1 with the reason;
# otherwise every recoverable exchange is analyzed and the damage reported. At every cut offset
# of a small multi-member log (tests/e2e/analyze_torn.py), and on the log a second Ctrl-C
# leaves behind (llmtrace-replay against a stalling llmtrace-sim: header only).
source "$(dirname "$0")/lib.sh"
A=$BIN/llmtrace-analyze
cd "$TEST_TMP"
/usr/bin/python3 "$SRC_DIR/tests/e2e/analyze_torn.py" "$A" "$TEST_TMP" || fail "cut offsets"
pass "every cut offset"

# every request stalls mid-stream: none is written before the two Ctrl-Cs
start_sim --profile zero --stall-rate 1 --stall-ms 20000
"$BIN/llmtrace-replay" "$SRC_DIR/examples/sample_trace.jsonl.gz" --url "$SIM_URL" -c 2 \
  --limit 4 --grace 30s --max-tokens 20 -q -o int2.jsonl.gz &
RPID=$!
_pids+=("$RPID")
sleep 1.0
kill -INT "$RPID"
sleep 0.3
kill -INT "$RPID"
wait "$RPID" || true
set +e
"$A" int2.jsonl.gz > int2.out 2> int2.err; rc=$?
set -e
assert_eq "second Ctrl-C log: exit" 1 "$rc"
assert_eq "no table printed" "" "$(cat int2.out)"
assert_eq "the reason" "llmtrace-analyze: int2.jsonl.gz: no exchange record (the log holds only a header, not closed cleanly)" "$(cat int2.err)"
# a header and a trailer and nothing between: also nothing to analyze
printf '%s\n%s\n' '{"type":"header","schema":1,"tool":"t","version":"0","start_us":1}' \
  '{"type":"trailer","end_us":2,"records":0,"errors":0,"stats":{}}' > empty_run.jsonl
set +e
"$A" --json empty_run.jsonl > er.out 2> er.err; rc=$?
set -e
assert_eq "header and trailer only: exit" 1 "$rc"
assert_eq "header and trailer only: reason" "llmtrace-analyze: empty_run.jsonl: no exchange record (the log holds only a header and a trailer)" "$(cat er.err)"
echo "analyze_torn: all passed"
