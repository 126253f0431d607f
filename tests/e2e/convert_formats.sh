#!/usr/bin/env bash
# convert_formats.sh — llmtrace-convert's command line on the handcrafted fixtures: every
# format, detection and --from, stdin, several inputs, bad input (exit 1 naming file, line and
# field; --skip-bad), unsorted rows, BurstGPT failures, arrivals, exit codes 0/1/2.
source "$SRC_DIR/tests/e2e/lib.sh"
CONV=$BIN/llmtrace-convert
FX=$SRC_DIR/tests/fixtures/convert
cd "$TEST_TMP"

# exit codes
"$CONV" --help > help.txt; assert_eq "--help exit" 0 $?
grep -q "^Examples:" help.txt || fail "--help has no examples"
"$CONV" --version | grep -q "^llmtrace-convert " || fail "--version"
rc=0; "$CONV" 2>err.txt || rc=$?; assert_eq "no input exit" 2 $rc
rc=0; "$CONV" --from nope x 2>err.txt || rc=$?; assert_eq "bad --from exit" 2 $rc
rc=0; "$CONV" --to xls x 2>err.txt || rc=$?; assert_eq "bad --to exit" 2 $rc
rc=0; "$CONV" --time-scale 0 x 2>err.txt || rc=$?; assert_eq "bad --time-scale exit" 2 $rc
rc=0; "$CONV" - - 2>err.txt || rc=$?; assert_eq "stdin twice exit" 2 $rc
rc=0; "$CONV" does-not-exist.csv -o o.jsonl.gz 2>err.txt || rc=$?; assert_eq "missing file exit" 1 $rc
assert_eq "missing file message" "llmtrace-convert: does-not-exist.csv: No such file or directory" "$(cat err.txt)"

# bad rows: stop at the first, naming file, line and field
rc=0; "$CONV" "$FX/azure_bad.csv" -o o.jsonl.gz 2>err.txt || rc=$?
assert_eq "bad row exit" 1 $rc
assert_eq "bad row message" "llmtrace-convert: $FX/azure_bad.csv: line 3: field \"ContextTokens\": not a non-negative integer: \"x\"" "$(cat err.txt)"
"$CONV" --skip-bad "$FX/azure_bad.csv" -o skip.jsonl.gz 2>err.txt
assert_eq "skip-bad records" "[2, 7]" "$(zjq skip.jsonl.gz '[x["trace"]["line"] for x in ex]')"
grep -q "warning: skipped 4 bad rows of $FX/azure_bad.csv (first: $FX/azure_bad.csv: line 3:" err.txt \
  || fail "skip-bad warning: $(cat err.txt)"
assert_eq "skip-bad stats" 4 "$(zjq skip.jsonl.gz 'trl["stats"]["bad"]')"
rc=0; "$CONV" "$FX/empty.csv" -o o.jsonl.gz 2>err.txt || rc=$?
assert_eq "empty exit" 1 $rc
assert_eq "empty message" "llmtrace-convert: $FX/empty.csv: empty file; name it with --from" "$(cat err.txt)"
rc=0; "$CONV" --from azure "$FX/empty.csv" -o o.jsonl.gz 2>err.txt || rc=$?
assert_eq "empty --from exit" 1 $rc
assert_eq "empty --from message" "llmtrace-convert: $FX/empty.csv: empty file" "$(cat err.txt)"
rc=0; "$CONV" --from azure "$FX/azure_missing_col.csv" -o o.jsonl.gz 2>err.txt || rc=$?
assert_eq "missing column exit" 1 $rc
grep -q 'line 1: header lacks column "GeneratedTokens"' err.txt || fail "missing column: $(cat err.txt)"
rc=0; "$CONV" --from azure "$FX/mooncake.jsonl" -o o.jsonl.gz 2>err.txt || rc=$?
assert_eq "--from overrides detection" 1 $rc
printf 'hello\nworld\n' > prose.txt
rc=0; "$CONV" prose.txt -o o.jsonl.gz 2>err.txt || rc=$?
assert_eq "undetectable exit" 1 $rc
assert_eq "undetectable message" "llmtrace-convert: prose.txt: cannot tell the format from the content; name it with --from" "$(cat err.txt)"
rc=0; "$CONV" --from mooncake "$FX/mooncake_bad.jsonl" -o o.jsonl.gz 2>err.txt || rc=$?
assert_eq "mooncake bad exit" 1 $rc
assert_eq "mooncake bad message" "llmtrace-convert: $FX/mooncake_bad.jsonl: line 2: field \"timestamp\": not a non-negative number of ms" "$(cat err.txt)"

# unsorted rows are sorted, with a warning; --time-scale doubles gaps
"$CONV" "$FX/azure_unsorted.csv" --time-scale 2 -o uns.jsonl.gz 2>err.txt
grep -q "warning: $FX/azure_unsorted.csv: 1 rows earlier than the row before them; sorted by time" err.txt \
  || fail "unsorted warning: $(cat err.txt)"
assert_eq "sorted lines" "[3, 2, 4]" "$(zjq uns.jsonl.gz '[x["trace"]["line"] for x in ex]')"
assert_eq "scaled gaps" "[0, 2000000, 4000000]" "$(zjq uns.jsonl.gz '[x["start_us"] - ex[0]["start_us"] for x in ex]')"
"$CONV" -q "$FX/azure_unsorted.csv" -o q.jsonl.gz 2>err.txt
assert_eq "--quiet" "" "$(cat err.txt)"

# stdin, quirks (CRLF, zones, 0-9 decimals, no final newline)
"$CONV" -q - -o stdin.jsonl.gz < "$FX/azure_quirks.csv"
assert_eq "stdin records" "[2, 3, 7, 5, 6]" "$(zjq stdin.jsonl.gz '[x["trace"]["line"] for x in ex]')"
assert_eq "stdin source" "<stdin>" "$(zjq stdin.jsonl.gz 'hdr["source"]["input"]')"
assert_eq "quirk times" "[1700158546000000, 1700158546500000, 1700158547123456, 1715292000123456, 1715299200000001]" \
  "$(zjq stdin.jsonl.gz '[x["start_us"] for x in ex]')"

# several inputs merge by time; ids name the input
"$CONV" -q --base-time 2023-11-16T18:15:46.2Z "$FX/azure_quirks.csv" "$FX/mooncake.jsonl" -o multi.jsonl.gz
assert_eq "multi ids" '["azure1-2", "mooncake2-1", "mooncake2-4", "mooncake2-2", "azure1-3", "azure1-7", "azure1-5", "azure1-6"]' \
  "$(zjq multi.jsonl.gz '[x["id"] for x in ex]')"
assert_eq "multi inputs" 2 "$(zjq multi.jsonl.gz 'len(hdr["source"]["inputs"])')"

# dialects and model
"$CONV" -q --dialect anthropic --model claude-x "$FX/mooncake.jsonl" -o an.jsonl.gz
assert_eq "anthropic path" "/v1/messages" "$(zjq an.jsonl.gz 'ex[0]["request"]["path"]')"
assert_eq "anthropic body" '["claude-x", 10, true]' "$(zjq an.jsonl.gz '[ex[0]["request"]["body"][k] for k in ("model", "max_tokens", "stream")]')"
"$CONV" -q --dialect openai-completions --no-pin-output "$FX/mooncake.jsonl" -o cp.jsonl.gz
assert_eq "completions body keys" '["model", "prompt", "stream"]' "$(zjq cp.jsonl.gz 'sorted(ex[0]["request"]["body"])')"
rc=0; "$CONV" --dialect klingon x 2>err.txt || rc=$?; assert_eq "bad dialect exit" 2 $rc

# BurstGPT failures: flagged, or dropped with --skip-failed
"$CONV" -q "$FX/burstgpt.csv" -o b.jsonl.gz
assert_eq "burstgpt failed flag" "[null, true, null]" "$(zjq b.jsonl.gz '[x["trace"].get("failed") for x in ex]')"
assert_eq "burstgpt models" '["ChatGPT", "ChatGPT", "GPT-4"]' "$(zjq b.jsonl.gz '[x["model"] for x in ex]')"
"$CONV" --skip-failed "$FX/burstgpt.csv" -o b2.jsonl.gz 2>err.txt
assert_eq "skip-failed" "[2, 4]" "$(zjq b2.jsonl.gz '[x["trace"]["line"] for x in ex]')"
grep -q "1 requests failed in the trace (0 response tokens): dropped" err.txt || fail "skip-failed note"

# ShareGPT arrivals
"$CONV" -q --rate 2 --arrival constant "$FX/sharegpt.json" -o sg.jsonl.gz
assert_eq "sharegpt ids" '["c1#1", "c1#2", "c3#1"]' "$(zjq sg.jsonl.gz '[x["id"] for x in ex]')"
assert_eq "sharegpt gaps" "[0, 500000, 1000000]" "$(zjq sg.jsonl.gz '[x["start_us"] - ex[0]["start_us"] for x in ex]')"
"$CONV" -q --rate 2 --seed 9 "$FX/sharegpt.json" -o p1.jsonl.gz
"$CONV" -q --rate 2 --seed 9 "$FX/sharegpt.json" -o p2.jsonl.gz
assert_eq "poisson deterministic" "$(zjq p1.jsonl.gz '[x["start_us"] for x in ex]')" "$(zjq p2.jsonl.gz '[x["start_us"] for x in ex]')"

# HAR and Batch
"$CONV" -q "$FX/sample.har" -o har.jsonl.gz
assert_eq "har record" '[200, 150500, 286000, "Hello", 9, 2, "usage"]' \
  "$(zjq har.jsonl.gz '[ex[0]["response"][k] for k in ("status", "ttfb_us", "end_us", "text")] + [ex[0][k] for k in ("tokens_in", "tokens_out", "tokens_source")]')"
"$CONV" -q "$FX/batch.jsonl" -o batch.jsonl.gz
assert_eq "batch ids" '["req-1", "req-2"]' "$(zjq batch.jsonl.gz '[x["id"] for x in ex]')"

# export of the HAR-derived log: CSV metrics read back by Python
"$CONV" -q --to csv har.jsonl.gz -o har.csv
python3 - har.csv <<'PY' || fail "har csv"
import csv, sys
r = list(csv.DictReader(open(sys.argv[1], newline='')))
assert len(r) == 1 and r[0]['status'] == '200' and r[0]['ttfb_us'] == '150500' and r[0]['e2e_us'] == '286000'
assert r[0]['n_in'] == '9' and r[0]['n_out'] == '2' and r[0]['tokens_source'] == 'usage'
print('ok: har csv')
PY
