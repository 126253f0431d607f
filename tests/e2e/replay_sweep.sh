# replay_sweep.sh — --sweep stages against llmtrace-sim: each stage's records tagged with its
# concurrency, exact per-stage counts with --stage-requests, stages strictly one after the
# other, --warmup marks per stage, unique ids, and --stage-duration bounding a stage in time.
source "$SRC_DIR/tests/e2e/lib.sh"
source "$SRC_DIR/tests/e2e/replay_lib.sh"
start_sim --profile default
T=$TEST_TMP
mk_trace "$T/t5.jsonl.gz" 5 100000

"$RP" "$T/t5.jsonl.gz" --url "$SIM_URL" --sweep 1,2,4 --stage-requests 8 --warmup 2 \
  --threads 2 --max-tokens 10 --ignore-eos -q -o "$T/sw.jsonl.gz"
assert_eq "sweep: per-stage counts" '{"1": 8, "2": 8, "4": 8}' "$(rq "$T/sw.jsonl.gz" '
dict(sorted((str(int(k)), v) for k, v in collections.Counter(x["replay"]["stage"] for x in ex).items()))')"
assert_eq "sweep: unique ids" 24 "$(rq "$T/sw.jsonl.gz" 'len(set(x["id"] for x in ex))')"
assert_eq "sweep: stages do not overlap" true "$(rq "$T/sw.jsonl.gz" '
st = sorted(set(x["replay"]["stage"] for x in ex))
all(max(x["start_us"] + x["response"]["end_us"] for x in ex if x["replay"]["stage"] == a) <= min(x["start_us"] for x in ex if x["replay"]["stage"] == b) for a, b in zip(st, st[1:]))')"
assert_eq "sweep: warm-up marks per stage" '[2, 2, 2]' "$(rq "$T/sw.jsonl.gz" '
[sum(1 for x in ex if x["replay"]["stage"] == s and x["replay"]["warmup"]) for s in (1, 2, 4)]')"
assert_eq "sweep: records wrap around the input" '["o0", "o1", "o2"]' "$(rq "$T/sw.jsonl.gz" '
sorted(set(x["replay"]["of"] for x in ex if x["replay"]["stage"] == 4 and x["replay"]["warmup"] is False and x["replay"]["of"] in ("o0","o1","o2")))')"
assert_eq "sweep: header options" '[1, 2, 4]' "$(rq "$T/sw.jsonl.gz" 'hdr["options"]["sweep"]')"
assert_eq "sweep: no errors" 0 "$(rq "$T/sw.jsonl.gz" 'sum(1 for x in ex if x["error"])')"
assert_eq "sweep: trailer stages" '[8, 8, 8]' "$(rq "$T/sw.jsonl.gz" '[s["done"] for s in trl["stats"]["stages"]]')"

# Stage duration: each stage issues for 0.6 s (with a 0.3 s pause between), then drains.
"$RP" "$T/t5.jsonl.gz" --url "$SIM_URL" --sweep 1,3 --stage-duration 600ms --stage-pause 300ms \
  --max-tokens 10 --ignore-eos -q -o "$T/sd.jsonl.gz"
assert_le "stage-duration: stage 1 issue span (us)" "$(rq "$T/sd.jsonl.gz" '
s = [x["start_us"] for x in ex if x["replay"]["stage"] == 1]; max(s) - min(s)')" 650000
assert_le "stage-duration: stage 1 got several requests" 3 "$(rq "$T/sd.jsonl.gz" 'sum(1 for x in ex if x["replay"]["stage"] == 1)')"
assert_le "stage-duration: pause between stages (us)" 300000 "$(rq "$T/sd.jsonl.gz" '
min(x["start_us"] for x in ex if x["replay"]["stage"] == 3) - max(x["start_us"] + x["response"]["end_us"] for x in ex if x["replay"]["stage"] == 1)')"

# A sweep needs each stage's size: without it, a usage error naming both flags (it used to
# replay the whole input per stage, silently); 'all' asks for one pass per stage explicitly.
rc=0
"$RP" "$T/t5.jsonl.gz" --url "$SIM_URL" --sweep 1,2 -o "$T/no.jsonl.gz" 2> "$T/no.err" || rc=$?
assert_eq "sweep without a stage size: exit 2" 2 "$rc"
assert_eq "sweep without a stage size: message" "llmtrace-replay: --sweep needs the size of each stage: --stage-requests N (or 'all': one pass over the input) or --stage-duration T" "$(head -1 "$T/no.err")"
[ ! -e "$T/no.jsonl.gz" ] || fail "a usage error wrote a log"
rc=0
"$RP" "$T/t5.jsonl.gz" --url "$SIM_URL" --sweep 1,2 --stage-requests 4 --loop -o "$T/no.jsonl.gz" 2>/dev/null || rc=$?
assert_eq "sweep with --loop: exit 2" 2 "$rc"
"$RP" --help > "$T/help.txt"
grep -q -- "--stage-requests N|all" "$T/help.txt" || fail "--help names --stage-requests all"
"$RP" "$T/t5.jsonl.gz" --url "$SIM_URL" --sweep 1,2 --stage-requests all --max-tokens 5 \
  --ignore-eos -q -o "$T/all.jsonl.gz"
assert_eq "stage-requests all: each stage replays the input once" '[["1", ["o0", "o1", "o2", "o3", "o4"]], ["2", ["o0", "o1", "o2", "o3", "o4"]]]' "$(rq "$T/all.jsonl.gz" '
[[str(int(s)), sorted(x["replay"]["of"] for x in ex if x["replay"]["stage"] == s)] for s in (1, 2)]')"
assert_eq "stage-requests all: header option" all "$(rq "$T/all.jsonl.gz" 'hdr["options"]["stage_requests"]')"
