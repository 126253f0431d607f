# replay_chain.sh — a replay's output is itself a valid input: replaying it sends the same
# requests (bodies as rewritten the first time), replay.of points at the first run's ids, and
# the --skip / --limit selection and stdin input work on it; the simulator's ground-truth log
# replays the same way.
source "$SRC_DIR/tests/e2e/lib.sh"
source "$SRC_DIR/tests/e2e/replay_lib.sh"
T=$TEST_TMP
start_sim --profile zero
mk_trace "$T/t6.jsonl.gz" 6 20000

"$RP" "$T/t6.jsonl.gz" --url "$SIM_URL" --max-tokens original --ignore-eos -q -o "$T/r1.jsonl.gz"
"$RP" "$T/r1.jsonl.gz" --url "$SIM_URL" --speed 4 -q -o "$T/r2.jsonl.gz"
assert_eq "chain: records" 6 "$(rq "$T/r2.jsonl.gz" 'len(ex)')"
assert_eq "chain: of = first run ids" "$(rq "$T/r1.jsonl.gz" 'sorted(x["id"] for x in ex)')" "$(rq "$T/r2.jsonl.gz" 'sorted(x["replay"]["of"] for x in ex)')"
assert_eq "chain: same bodies" True "$(python3 - "$T/r1.jsonl.gz" "$T/r2.jsonl.gz" <<'PY'
import gzip, json, sys
a = {x["id"]: x for x in map(json.loads, gzip.open(sys.argv[1], "rt")) if x["type"] == "exchange"}
b = [x for x in map(json.loads, gzip.open(sys.argv[2], "rt")) if x["type"] == "exchange"]
print(all(x["request"]["body"] == a[x["replay"]["of"]]["request"]["body"] for x in b))
PY
)"
assert_eq "chain: same output lengths" True "$(python3 - "$T/r1.jsonl.gz" "$T/r2.jsonl.gz" <<'PY'
import gzip, json, sys
a = {x["id"]: x for x in map(json.loads, gzip.open(sys.argv[1], "rt")) if x["type"] == "exchange"}
b = [x for x in map(json.loads, gzip.open(sys.argv[2], "rt")) if x["type"] == "exchange"]
print(all(x["tokens_out"] == a[x["replay"]["of"]]["tokens_out"] for x in b))
PY
)"
# The first run's start times become the schedule: /4 speed keeps their order.
assert_eq "chain: order kept" True "$(python3 - "$T/r1.jsonl.gz" "$T/r2.jsonl.gz" <<'PY'
import gzip, json, sys
a = {x["id"]: x["start_us"] for x in map(json.loads, gzip.open(sys.argv[1], "rt")) if x["type"] == "exchange"}
b = sorted((x["replay"]["sched_us"], a[x["replay"]["of"]]) for x in map(json.loads, gzip.open(sys.argv[2], "rt")) if x["type"] == "exchange")
print([o for _, o in b] == sorted(o for _, o in b))
PY
)"
"$RP" "$T/r1.jsonl.gz" --url "$SIM_URL" --skip 1 --limit 2 -c 1 -q -o "$T/r3.jsonl.gz"
assert_eq "chain: skip/limit" 2 "$(rq "$T/r3.jsonl.gz" 'len(ex)')"
# Input from stdin.
zcat "$T/r1.jsonl.gz" | "$RP" - --url "$SIM_URL" -c 2 -q -o "$T/r4.jsonl.gz"
assert_eq "chain: stdin input" 6 "$(rq "$T/r4.jsonl.gz" 'len(ex)')"

# The simulator's ground-truth log is an input too: its ids are our first run's ids.
stop_pid "$SIM_PID"
start_sim --profile zero --log "$T/truth.jsonl.gz"
"$RP" "$T/t6.jsonl.gz" --url "$SIM_URL" --max-tokens original --ignore-eos -q -o "$T/r5.jsonl.gz"
stop_pid "$SIM_PID" INT
start_sim --profile zero
"$RP" "$T/truth.jsonl.gz" --url "$SIM_URL" -c 3 -q -o "$T/r6.jsonl.gz"
assert_eq "chain: sim truth replayed" "$(rq "$T/r5.jsonl.gz" 'sorted(x["id"] for x in ex)')" "$(rq "$T/r6.jsonl.gz" 'sorted(x["replay"]["of"] for x in ex)')"
assert_eq "chain: sim truth, same lengths" "[]" "$(rq "$T/r6.jsonl.gz" '[x["id"] for x in ex if x["error"] or x["tokens_out"] != x["request"]["body"]["max_tokens"]]')"
