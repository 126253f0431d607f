#!/usr/bin/env bash
# convert_calibrate.sh — --calibrate against llmtrace-sim: with the sim's words tokenizer the fit
# is exactly 1 token per word; with its bytes tokenizer the calibrated prompts replay with
# prompt token counts (the sim's usage) close to the trace's. Skips when the sim is not built.
source "$SRC_DIR/tests/e2e/lib.sh"
CONV=$BIN/llmtrace-convert
FX=$SRC_DIR/tests/fixtures/convert
cd "$TEST_TMP"
[ -x "$BIN/llmtrace-sim" ] || fail "llmtrace-sim is not built"

start_sim --profile zero --tokenizer words
"$CONV" --calibrate "$SIM_URL" "$FX/azure_quirks.csv" -o w.jsonl.gz 2>err.txt
grep -q "calibrated: 1.0000 tokens per word (+0.0 tokens per request) from 5 prompts" err.txt \
  || fail "words calibration: $(cat err.txt)"
assert_eq "header tokens_per_word" 1 "$(zjq w.jsonl.gz 'hdr["options"]["tokens_per_word"]')"
assert_eq "header calibrated" true "$(zjq w.jsonl.gz 'hdr["options"]["calibrated"]')"
assert_eq "one word per token" "[10, 20, 50, 30, 40]" \
  "$(zjq w.jsonl.gz '[len(x["request"]["body"]["messages"][0]["content"].split()) for x in ex]')"
# a full endpoint URL is used as is
"$CONV" -q --calibrate "$SIM_URL/v1/chat/completions" "$FX/azure_quirks.csv" -o w2.jsonl.gz
assert_eq "full URL" 1 "$(zjq w2.jsonl.gz 'hdr["options"]["tokens_per_word"]')"
stop_pid "$SIM_PID"

start_sim --profile zero --tokenizer bytes
"$CONV" --calibrate "$SIM_URL" "$FX/mooncake.jsonl" -o b.jsonl.gz 2>err.txt
f=$(zjq b.jsonl.gz 'hdr["options"]["tokens_per_word"]')
assert_le "bytes tokenizer F lower" 1.0 "$f"
assert_le "bytes tokenizer F upper" "$f" 2.0
if [ -x "$BIN/llmtrace-replay" ]; then
  "$BIN/llmtrace-replay" b.jsonl.gz --url "$SIM_URL" --speed 10 --include-usage -q -o run.jsonl.gz
  # the sim's prompt token count of each calibrated prompt is within 5% of the trace's
  python3 - b.jsonl.gz run.jsonl.gz <<'PY' || fail "calibrated prompt lengths"
import gzip, json, sys
def ex(p):
    return [r for r in map(json.loads, gzip.open(p, 'rt')) if r['type'] == 'exchange']
want = {r['id']: r['tokens_in'] for r in ex(sys.argv[1])}
got = {r['replay']['of']: r['usage']['prompt_tokens'] for r in ex(sys.argv[2])}
assert sorted(got) == sorted(want), (got, want)
for k in want:
    assert abs(got[k] - want[k]) <= 0.05 * want[k], (k, got[k], want[k])
print('ok: calibrated prompt lengths', sorted((want[k], got[k]) for k in want))
PY
fi
stop_pid "$SIM_PID"

# an endpoint that is not there: exit 1 naming the URL
rc=0; "$CONV" --calibrate http://127.0.0.1:1 "$FX/azure_quirks.csv" -o x.jsonl.gz 2>err.txt || rc=$?
assert_eq "unreachable exit" 1 $rc
grep -q "^llmtrace-convert: calibrate: http://127.0.0.1:1/v1/chat/completions: " err.txt \
  || fail "unreachable message: $(cat err.txt)"
rc=0; "$CONV" --calibrate http://x --tokens-per-word 1.2 "$FX/azure_quirks.csv" 2>err.txt || rc=$?
assert_eq "calibrate + tokens-per-word exit" 2 $rc
