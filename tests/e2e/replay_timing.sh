# replay_timing.sh — each timing mode's actual send times against its schedule, on loopback
# against llmtrace-sim: original offsets, --speed, constant --rate with --loop/--duration,
# -c closed loop, --max-inflight, --shard and --start-at (open and closed loop). Tolerances are
# generous (shared CI machine); the scheduled times themselves are exact.
source "$SRC_DIR/tests/e2e/lib.sh"
source "$SRC_DIR/tests/e2e/replay_lib.sh"
start_sim --profile zero
T=$TEST_TMP
mk_trace "$T/t20.jsonl.gz" 20 50000

# Original timing: sched offsets are the recorded ones to the µs; sends within 50 ms.
"$RP" "$T/t20.jsonl.gz" --url "$SIM_URL" -q -o "$T/orig.jsonl.gz"
assert_eq "original: records" 20 "$(rq "$T/orig.jsonl.gz" 'len(ex)')"
assert_eq "original: all ok" 0 "$(rq "$T/orig.jsonl.gz" 'sum(1 for x in ex if x["error"])')"
assert_eq "original: sched offsets exact" "[]" "$(rq "$T/orig.jsonl.gz" '
s = {x["replay"]["of"]: x["replay"]["sched_us"] for x in ex}
[k for k in s if s[k] - s["o0"] != int(k[1:]) * 50000]')"
assert_le "original: max |send - sched| (us)" "$(rq "$T/orig.jsonl.gz" 'max(abs(x["start_us"] - x["replay"]["sched_us"]) for x in ex)')" 50000
assert_eq "original: mode" original "$(rq "$T/orig.jsonl.gz" 'ex[0]["replay"]["mode"]')"
assert_eq "original: stage null" None "$(rq "$T/orig.jsonl.gz" 'str(ex[0]["replay"]["stage"])')"

# --speed 2 halves the offsets.
"$RP" "$T/t20.jsonl.gz" --url "$SIM_URL" --speed 2 -q -o "$T/speed.jsonl.gz"
assert_eq "speed 2: sched offsets" "[]" "$(rq "$T/speed.jsonl.gz" '
s = {x["replay"]["of"]: x["replay"]["sched_us"] for x in ex}
[k for k in s if s[k] - s["o0"] != int(k[1:]) * 25000]')"
assert_le "speed 2: span (us)" "$(rq "$T/speed.jsonl.gz" 'max(x["start_us"] for x in ex) - min(x["start_us"] for x in ex)')" 500000

# Constant rate 40/s with --loop for 1 s: items at 0, 25, …, 975 ms → exactly 40 requests,
# cycling through the 20 records twice.
"$RP" "$T/t20.jsonl.gz" --url "$SIM_URL" --rate 40 --arrival constant --loop --duration 1s \
  -q -o "$T/rate.jsonl.gz"
assert_eq "rate: records" 40 "$(rq "$T/rate.jsonl.gz" 'len(ex)')"
assert_eq "rate: sched gaps 25 ms" "[25000]" "$(rq "$T/rate.jsonl.gz" '
s = sorted(x["replay"]["sched_us"] for x in ex)
sorted(set(b - a for a, b in zip(s, s[1:])))')"
assert_eq "rate: each record twice" "[2]" "$(rq "$T/rate.jsonl.gz" '
sorted(set(collections.Counter(x["replay"]["of"] for x in ex).values()))')"
assert_eq "rate: stage = rate" 40 "$(rq "$T/rate.jsonl.gz" 'int(ex[0]["replay"]["stage"])')"
assert_le "rate: max lag (us)" "$(rq "$T/rate.jsonl.gz" 'max(x["start_us"] - x["replay"]["sched_us"] for x in ex)')" 50000
assert_eq "rate: trailer count" 40 "$(rq "$T/rate.jsonl.gz" 'trl["records"]')"

# Poisson with a seed is reproducible: same schedule twice.
"$RP" "$T/t20.jsonl.gz" --url "$SIM_URL" --rate 100 --seed 7 -q -o "$T/p1.jsonl.gz"
"$RP" "$T/t20.jsonl.gz" --url "$SIM_URL" --rate 100 --seed 7 -q -o "$T/p2.jsonl.gz"
G='s = sorted(x["replay"]["sched_us"] for x in ex)
[b - s[0] for b in s]'
assert_eq "poisson: same seed, same schedule" "$(rq "$T/p1.jsonl.gz" "$G")" "$(rq "$T/p2.jsonl.gz" "$G")"

# Closed loop -c 3 against a slow profile: never more than 3 in flight, and 3 reached.
stop_pid "$SIM_PID"
start_sim --profile default
"$RP" "$T/t20.jsonl.gz" --url "$SIM_URL" -c 3 --max-tokens 20 --ignore-eos -q -o "$T/c3.jsonl.gz"
OVERLAP='
ev = sorted([(x["start_us"], 1) for x in ex] + [(x["start_us"] + x["response"]["end_us"], -1) for x in ex], key=lambda e: (e[0], e[1]))
cur = best = 0
for _, d in ev:
    cur += d; best = max(best, cur)
best'
assert_eq "c3: records" 20 "$(rq "$T/c3.jsonl.gz" 'len(ex)')"
assert_eq "c3: max in flight" 3 "$(rq "$T/c3.jsonl.gz" "$OVERLAP")"
assert_eq "c3: stage/mode" "3 concurrency" "$(rq "$T/c3.jsonl.gz" '"%d %s" % (ex[0]["replay"]["stage"], ex[0]["replay"]["mode"])')"

# --max-inflight 2 on a burst: at most 2 in flight, the waiting is recorded.
"$RP" "$T/t20.jsonl.gz" --url "$SIM_URL" --rate 200 --arrival constant --max-inflight 2 \
  --max-tokens 20 --ignore-eos -q -o "$T/mi.jsonl.gz"
assert_eq "max-inflight: max in flight" 2 "$(rq "$T/mi.jsonl.gz" "$OVERLAP")"
assert_le "max-inflight: some waited (count)" 1 "$(rq "$T/mi.jsonl.gz" 'sum(1 for x in ex if x["replay"]["wait_us"] > 0)')"
assert_eq "max-inflight: wait = t0 - sched (±2 ms)" "[]" "$(rq "$T/mi.jsonl.gz" '
[x["id"] for x in ex if x["replay"]["wait_us"] > 0 and abs(x["start_us"] - x["replay"]["sched_us"] - x["replay"]["wait_us"]) > 2000]')"

# --shard 2/3 takes items 1, 4, 7, … of the sequence; --start-at fixes the anchor.
AT=$(python3 -c 'import time; print("%.6f" % (time.time() + 1.0))')
"$RP" "$T/t20.jsonl.gz" --url "$SIM_URL" --shard 2/3 --start-at "$AT" -q -o "$T/shard.jsonl.gz"
assert_eq "shard 2/3: records" '["o1", "o10", "o13", "o16", "o19", "o4", "o7"]' "$(rq "$T/shard.jsonl.gz" 'sorted(x["replay"]["of"] for x in ex)')"
AT_US=$(python3 -c "print(round($AT * 1e6))")
assert_eq "start-at: first sched = start-at + 50 ms" "$((AT_US + 50000))" "$(rq "$T/shard.jsonl.gz" 'min(x["replay"]["sched_us"] for x in ex)')"
assert_le "start-at: nothing sent early" "$AT_US" "$(rq "$T/shard.jsonl.gz" 'min(x["start_us"] for x in ex)')"

# Closed loop with --start-at: nothing starts before it, the first request soon after.
AT=$(python3 -c 'import time; print("%.6f" % (time.time() + 1.0))')
AT_US=$(python3 -c "print(round($AT * 1e6))")
"$RP" "$T/t20.jsonl.gz" --url "$SIM_URL" -c 2 --limit 4 --start-at "$AT" -q -o "$T/c-at.jsonl.gz"
assert_le "closed start-at: nothing sent early" "$AT_US" "$(rq "$T/c-at.jsonl.gz" 'min(x["start_us"] for x in ex)')"
assert_le "closed start-at: first within 300 ms (us)" "$(rq "$T/c-at.jsonl.gz" 'min(x["start_us"] for x in ex) - '"$AT_US")" 300000
