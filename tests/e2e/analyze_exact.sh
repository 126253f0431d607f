# analyze_exact: --json and --csv write every double so that it reads back as the same double,
# and the values equal an independent computation from the log (tests/e2e/analyze_exact.py,
# Python's standard library, not analyze's code) to 1e-12 relative: TTFT, TPOT, ITL, ITL per
# token and E2E distributions and the throughputs, per stage of a real sweep against
# llmtrace-sim (several tokens per event, so ITL per token differs from ITL).
source "$(dirname "$0")/lib.sh"
A=$BIN/llmtrace-analyze
cd "$TEST_TMP"
start_sim --profile default --tokens-per-event 3
timeout 60 "$BIN/llmtrace-replay" "$SRC_DIR/examples/sample_trace.jsonl.gz" --url "$SIM_URL" \
  --sweep 1,4 --stage-requests 16 --max-tokens 20 --include-usage -o sweep.jsonl.gz --quiet
"$A" --json --by stage sweep.jsonl.gz > sweep.json
"$A" --csv --by stage sweep.jsonl.gz > sweep.csv
/usr/bin/python3 "$SRC_DIR/tests/e2e/analyze_exact.py" sweep.jsonl.gz sweep.json sweep.csv \
  || fail "analyze's numbers differ from the independent computation"
pass "sweep: every value equals the independent computation"
# the hand-made fixture too (errors, a warm-up record, a multi-token event)
"$A" --json --by stage "$SRC_DIR/tests/fixtures/analyze/basic.jsonl" > basic.json
"$A" --csv --by stage "$SRC_DIR/tests/fixtures/analyze/basic.jsonl" > basic.csv
/usr/bin/python3 "$SRC_DIR/tests/e2e/analyze_exact.py" "$SRC_DIR/tests/fixtures/analyze/basic.jsonl" \
  basic.json basic.csv || fail "basic.jsonl: analyze's numbers differ"
pass "basic.jsonl: every value equals the independent computation"
echo "analyze_exact: all passed"
