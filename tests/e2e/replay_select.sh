# replay_select.sh — --limit, --skip, --from/--to on a large input: while the input is in start
# order (as llmtrace-convert writes it), reading stops once the selection is complete
# (source.records_read says how far it got); an input out of start order is read in full and
# sorted, with a warning naming the first record out of order.
source "$SRC_DIR/tests/e2e/lib.sh"
source "$SRC_DIR/tests/e2e/replay_lib.sh"
T=$TEST_TMP
PY=/usr/bin/python3
start_sim --profile zero
"$BIN/llmtrace-convert" "$DATA/AzureLLMInferenceTrace_conv.csv" -q -o "$T/azure.jsonl.gz"
# the converted trace's ids in start order, and their offsets from the first
$PY - "$T/azure.jsonl.gz" > "$T/order.json" <<'PY'
import gzip, json, sys
ex = [r for r in map(json.loads, gzip.open(sys.argv[1], "rt")) if r.get("type") == "exchange"]
ex.sort(key=lambda r: r["start_us"])
print(json.dumps([[r["id"], r["start_us"] - ex[0]["start_us"]] for r in ex]))
PY

/usr/bin/time -f "%M" -o "$T/rss" "$RP" "$T/azure.jsonl.gz" --url "$SIM_URL" -c 8 --max-tokens 2 \
  --limit 100 -o "$T/l.jsonl.gz" 2> "$T/l.err"
assert_eq "--limit 100: 100 requests" 100 "$(rq "$T/l.jsonl.gz" 'len(ex)')"
assert_eq "--limit 100: reading stopped at the 100th record" '[100, false]' "$(rq "$T/l.jsonl.gz" '[hdr["source"]["records_read"], hdr["source"]["read_all"]]')"
assert_eq "--limit 100: the first 100 by start time" true "$(rq "$T/l.jsonl.gz" '
o = json.load(open("'"$T"'/order.json")); sorted(x["replay"]["of"] for x in ex) == sorted(i for i, _ in o[:100])')"
assert_eq "--limit 100: no warning" "" "$(grep -v 'requests to' "$T/l.err" || true)"
# 19,366 requests read in full took 120+ MB; a hundred take what the client needs
if [ "${LLMTRACE_SANITIZE:-OFF}" != ON ]; then
  assert_le "--limit 100: resident memory (KB)" "$(cat "$T/rss")" 65536
fi

"$RP" "$T/azure.jsonl.gz" --url "$SIM_URL" -c 8 --max-tokens 2 --skip 50 --limit 10 -q \
  -o "$T/s.jsonl.gz"
assert_eq "--skip 50 --limit 10: records 51..60" true "$(rq "$T/s.jsonl.gz" '
o = json.load(open("'"$T"'/order.json")); sorted(x["replay"]["of"] for x in ex) == sorted(i for i, _ in o[50:60])')"
assert_eq "--skip 50 --limit 10: read 60" 60 "$(rq "$T/s.jsonl.gz" 'hdr["source"]["records_read"]')"

"$RP" "$T/azure.jsonl.gz" --url "$SIM_URL" -c 8 --max-tokens 2 --from 10s --to 12s -q \
  -o "$T/w.jsonl.gz"
assert_eq "--from 10s --to 12s: the records recorded in [10 s, 12 s)" true "$(rq "$T/w.jsonl.gz" '
o = json.load(open("'"$T"'/order.json")); sorted(x["replay"]["of"] for x in ex) == sorted(i for i, t in o if 10e6 <= t < 12e6)')"
assert_eq "--from 10s --to 12s: read up to the first record past 12 s" "$($PY -c '
import json, sys; print(sum(1 for _, t in json.load(open(sys.argv[1])) if t < 12e6) + 1)' "$T/order.json")" "$(rq "$T/w.jsonl.gz" 'hdr["source"]["records_read"]')"

# out of start order (mk_trace writes the latest first): read in full, sorted, and said so
mk_trace "$T/rev.jsonl.gz" 20 1000
"$RP" "$T/rev.jsonl.gz" --url "$SIM_URL" -c 2 --max-tokens 2 --limit 5 -o "$T/r.jsonl.gz" \
  2> "$T/r.err"
assert_eq "unsorted: the first 5 by start time" '["o0", "o1", "o2", "o3", "o4"]' "$(rq "$T/r.jsonl.gz" 'sorted(x["replay"]["of"] for x in ex)')"
assert_eq "unsorted: read in full" '[20, true]' "$(rq "$T/r.jsonl.gz" '[hdr["source"]["records_read"], hdr["source"]["read_all"]]')"
assert_eq "unsorted: warned" "llmtrace-replay: warning: $T/rev.jsonl.gz is not in start order (record 3 starts before the one read before it): read it all to select by start time" "$(head -1 "$T/r.err")"
# an unbounded selection reads everything and needs no warning
"$RP" "$T/rev.jsonl.gz" --url "$SIM_URL" -c 2 --max-tokens 2 --skip 15 -o "$T/k.jsonl.gz" 2> "$T/k.err"
assert_eq "unbounded: the last 5" '["o15", "o16", "o17", "o18", "o19"]' "$(rq "$T/k.jsonl.gz" 'sorted(x["replay"]["of"] for x in ex)')"
assert_eq "unbounded: no warning" 0 "$(grep -c warning "$T/k.err" || true)"
stop_pid "$SIM_PID" INT
