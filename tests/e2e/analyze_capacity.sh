# analyze_capacity.sh — the answer first: llmtrace-analyze --by stage --slo on a sweep of
# llmtrace-sim, whose model makes the answer predictable: with --max-batch B and the default
# profile (decode(b) = 2 + 0.0625·b ms per step), a closed loop of c streams of T tokens
# queues ceil(c/B) rounds of T·decode(B) ms, so an E2E SLO of 8.5 rounds is met up to c = 8·B
# and missed from 8·B + 1 on. Checked:
#   - the first line names the stage the model predicts and the next one up as failing, in the
#     table, Markdown, JSON and HTML; an SLO nothing meets says so with the lowest stage, exit 0;
#     stages too short for a bounded interval are "undecided", never "met";
#   - --steady leaves out exactly the documented ramp-up and drain (recomputed here from the
#     log), and the window's rates equal the stage's whole-run rate (saturated sim: flat);
#   - the throughput-latency chart marks the answer and draws the SLO; compare gives both
#     sides' capacity and their ratio.
source "$SRC_DIR/tests/e2e/lib.sh"
source "$SRC_DIR/tests/e2e/replay_lib.sh"
T=$TEST_TMP
PY=/usr/bin/python3
AN=$BIN/llmtrace-analyze
mk_trace "$T/t.jsonl.gz" 64 1000
B=4
TOK=16
SLO=$($PY -c "print(8.5 * $TOK * (2.0 + 0.0625 * $B))")   # 306 ms

start_sim --profile default --max-batch $B
"$RP" "$T/t.jsonl.gz" --url "$SIM_URL" --sweep 8,16,32,40,64 --stage-requests 400 \
  --max-tokens $TOK --ignore-eos -q -o "$T/b4.jsonl.gz" || fail "sweep exited $?"
stop_pid "$SIM_PID"

"$AN" --by stage --slo "e2e=$SLO" "sweep=$T/b4.jsonl.gz" >"$T/table.txt" 2>"$T/table.err" ||
  fail "analyze exited $?: $(cat "$T/table.err")"
head -1 "$T/table.txt"
assert_eq "table: the answer is the first line" 1 \
  "$(head -1 "$T/table.txt" | grep -c '^sweep: highest output throughput meeting the SLO: [0-9.]* tok/s at concurrency 32 (p90 E2E .* <= 306 ms, 95 % CI); next stage (concurrency 40) failed on p90 E2E .* > 306 ms$')"
"$AN" --by stage --slo "e2e=$SLO" --json "sweep=$T/b4.jsonl.gz" >"$T/a.json"
assert_eq "json: answer 32, next 40 failed, every stage judged as the model says" \
  "32 40 failed e2e True" "$($PY - "$T/a.json" $SLO <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["capacity"][0]
slo = float(sys.argv[2])
ok = all((s["verdict"] == "met") == (s["stage"] <= 32) for s in c["stages"])
ok = ok and all(s["estimates"]["e2e_ms"]["limit"] == slo for s in c["stages"])
print(c["answer"]["stage"], c["next"]["stage"], c["next"]["verdict"], c["next"]["deciding"], ok)
PY
)"
"$AN" --by stage --slo "e2e=$SLO" --markdown "sweep=$T/b4.jsonl.gz" >"$T/a.md"
assert_eq "markdown: the answer first" 1 "$(head -1 "$T/a.md" | grep -c '^- \*\*Capacity\*\* — sweep: highest output throughput meeting the SLO: .* at concurrency 32 ')"

# Nothing meets: said, with the lowest stage's numbers; exit 0.
"$AN" --by stage --slo e2e=1 "sweep=$T/b4.jsonl.gz" >"$T/none.txt" || fail "nothing meets: exit $?"
assert_eq "nothing meets: the lowest stage named" 1 \
  "$(head -1 "$T/none.txt" | grep -c '^sweep: no stage meets the SLO at p90 (5 stages); lowest stage (concurrency 8) failed on p90 E2E .* > 1 ms$')"
# p99 with 400 requests at alpha 0.05 is bounded; at p99.9 it cannot be: undecided, not met.
"$AN" --by stage --slo "e2e=10s" --slo-quantile 0.999 --json "sweep=$T/b4.jsonl.gz" >"$T/u.json"
assert_eq "too few requests for the quantile: undecided at every stage" "None undecided 5" \
  "$($PY -c 'import json,sys; c=json.load(open(sys.argv[1]))["capacity"][0]; print(c["answer"], c["next"]["verdict"], sum(s["verdict"]=="undecided" for s in c["stages"]))' "$T/u.json")"
"$AN" --by stage --slo "e2e=10s" --slo-quantile 0.999 "sweep=$T/b4.jsonl.gz" >"$T/u.txt"
assert_eq "undecided: says how many requests a bounded interval needs" 1 \
  "$(head -1 "$T/u.txt" | grep -c 'stage (concurrency 8) undecided on p99.9 E2E: 400 requests, [0-9]* needed for a bounded interval')"
rc=0; "$AN" --slo-quantile 1.5 "$T/b4.jsonl.gz" >/dev/null 2>&1 || rc=$?
assert_eq "--slo-quantile 1.5: usage error" 2 "$rc"

# --steady: the documented rule, recomputed from the log.
"$AN" --by stage --slo "e2e=$SLO" --steady --json "sweep=$T/b4.jsonl.gz" >"$T/s.json" \
  2>"$T/s.err" || fail "steady exited $?"
assert_eq "steady: dropped counts and window rates as documented" True "$($PY - "$T/b4.jsonl.gz" "$T/s.json" <<'PY'
import gzip, json, sys
R = [json.loads(l) for l in gzip.open(sys.argv[1], "rt")]
j = json.load(open(sys.argv[2]))
ok = True
for g in j["groups"]:
    c = int(g["key"])
    X = [r for r in R if r.get("type") == "exchange" and r["replay"]["stage"] == c]
    ev = sorted([(r["start_us"], 1) for r in X] + [(r["start_us"] + r["response"]["end_us"], -1) for r in X],
                key=lambda e: (e[0], e[1]))
    n, t_from = 0, None
    for t, d in ev:
        n += d
        if d > 0 and n >= c:
            t_from = t
            break
    t_to = max(r["start_us"] for r in X)
    kept = [r for r in X if r["start_us"] >= t_from and r["start_us"] + r["response"]["end_us"] <= t_to]
    done = [r for r in X if t_from <= r["start_us"] + r["response"]["end_us"] <= t_to]
    rate = sum(r["tokens_out"] for r in done) / ((t_to - t_from) / 1e6)
    whole = sum(r["tokens_out"] for r in X) / ((max(r["start_us"] + r["response"]["end_us"] for r in X) - min(r["start_us"] for r in X)) / 1e6)
    if g["requests"] != len(kept) or g["steady_dropped"] != len(X) - len(kept):
        ok = False; print("count", c, g["requests"], len(kept), file=sys.stderr)
    if abs(g["output_tok_s"] - rate) > 1e-6 * rate or abs(rate - whole) > 0.03 * whole:
        ok = False; print("rate", c, g["output_tok_s"], rate, whole, file=sys.stderr)
print(ok and j["capacity"][0]["answer"]["stage"] == 32)
PY
)"
"$AN" --by stage --steady "sweep=$T/b4.jsonl.gz" 2>&1 | tr '\n' ' ' >"$T/s.txt"
assert_eq "steady: the table says what was left out" 1 "$(grep -c 'note: --steady left out ramp-up + drain requests: sweep 8: 7 + 8 of 400,' "$T/s.txt")"
"$AN" --steady "$T/t.jsonl.gz" >/dev/null 2>"$T/nostage.err" || true
assert_eq "steady without stages: said" 1 "$(grep -c 'the logs have no stages' "$T/nostage.err")"
"$AN" --slo "e2e=$SLO" "$T/b4.jsonl.gz" >/dev/null 2>"$T/hint.err"
assert_eq "--slo without --by stage on a staged log: the hint" 1 "$(grep -c -- '--by stage gives the capacity answer' "$T/hint.err")"

# The chart marks the answer and the SLO; the HTML report says the answer first.
if command -v gnuplot >/dev/null; then
  "$AN" --by stage --slo "e2e=$SLO" --plot "$T/ch" --html "$T/r.html" "sweep=$T/b4.jsonl.gz" \
    >/dev/null 2>&1 || fail "plot exited $?"
  assert_eq "chart: SLO line and capacity mark" "1 1" \
    "$(grep -c 'SLO: p90 E2E &lt;= 306 ms' "$T/ch/throughput_latency.svg") $(grep -c 'capacity: [0-9]* tok/s at c=32' "$T/ch/throughput_latency.svg")"
  assert_eq "html: the answer before the inputs" 1 \
    "$($PY -c 'import sys; h=open(sys.argv[1]).read(); print(int(0 < h.find("class=answer") < h.find("<h2>Inputs")))' "$T/r.html")"
fi

# compare: both sides' capacity and the ratio. With --max-batch 8 decode is 2.5 ms per step,
# 40 ms per round of 16 tokens: 306 ms holds 7.65 rounds, so c = 40 meets and 64 does not;
# saturated throughput is B / decode(B): 8/2.5 against 4/2.25 tok/ms, a ratio of 1.8.
start_sim --profile default --max-batch 8
"$RP" "$T/t.jsonl.gz" --url "$SIM_URL" --sweep 8,16,32,40,64 --stage-requests 400 \
  --max-tokens $TOK --ignore-eos -q -o "$T/b8.jsonl.gz" || fail "sweep exited $?"
stop_pid "$SIM_PID"
"$AN" compare --slo "e2e=$SLO" --json "base=$T/b4.jsonl.gz" "new=$T/b8.jsonl.gz" >"$T/c.json" 2>/dev/null
assert_eq "compare json: capacity of both, ratio 1.8" "32 40 True" "$($PY -c '
import json, sys
k = json.load(open(sys.argv[1]))["compare"]["capacity"]
print(k["base"]["stage"], k["new"]["stage"], abs(k["ratio"] - 1.8) < 0.05 * 1.8)' "$T/c.json")"
"$AN" compare --slo "e2e=$SLO" "base=$T/b4.jsonl.gz" "new=$T/b8.jsonl.gz" >"$T/c.txt" 2>/dev/null
assert_eq "compare table: the capacity line first" 1 \
  "$(head -1 "$T/c.txt" | grep -c '^capacity at the SLO (p90): base [0-9.]* tok/s at concurrency 32, new [0-9.]* tok/s at concurrency 40; new / base = 1\.[78]')"

# Server metrics on the time series: the sim's running/waiting series, scraped during a sweep;
# a log without them says why. One CDF line per stage.
if command -v gnuplot >/dev/null; then
  start_sim --profile default --max-batch $B
  "$RP" "$T/t.jsonl.gz" --url "$SIM_URL" --sweep 8,32 --stage-requests 200 --max-tokens $TOK \
    --ignore-eos --scrape --scrape-interval 100ms -q -o "$T/sc.jsonl.gz" || fail "scrape sweep exited $?"
  stop_pid "$SIM_PID"
  "$AN" --by stage --plot "$T/sc" --html "$T/sc.html" "sc=$T/sc.jsonl.gz" >/dev/null 2>&1 ||
    fail "plot (scrape) exited $?"
  assert_eq "timeseries: server running and waiting panels" "1 1" \
    "$(grep -c 'sc server running' "$T/sc/timeseries.svg") $(grep -c 'server: waiting' "$T/sc/timeseries.svg")"
  assert_eq "ttft_cdf: one line per stage" "1 1" \
    "$(grep -c '>sc stage 8<' "$T/sc/ttft_cdf.svg") $(grep -c '>sc stage 32<' "$T/sc/ttft_cdf.svg")"
  assert_eq "html without metrics: says why" 1 \
    "$(grep -c 'sweep: no server metrics: no metrics records in the log' "$T/r.html")"
  assert_eq "html with metrics: no such note" 0 "$(grep -c 'no server metrics' "$T/sc.html" || true)"
fi

# A --search log: analyze takes each stage's verdict from its stage record when judged at the
# same SLO and quantile (a lengthened stage pools several runs in the log; the record says
# what the search decided), and judges from the requests otherwise.
start_sim --profile default --max-batch $B
"$RP" "$T/t.jsonl.gz" --url "$SIM_URL" --search concurrency --slo "e2e=$SLO" --max-tokens $TOK \
  --ignore-eos --stage-requests 40 --json -q -o "$T/search.jsonl.gz" >"$T/search.json" ||
  fail "search exited $?"
stop_pid "$SIM_PID"
"$AN" --by stage --slo "e2e=$SLO" --json "s=$T/search.jsonl.gz" >"$T/sa.json"
"$AN" --by stage --slo "e2e=400" --json "s=$T/search.jsonl.gz" >"$T/sb.json"
assert_eq "search log: analyze's answer is the search's, verdicts from the records" "True True True" "$($PY - "$T/search.json" "$T/sa.json" "$T/sb.json" <<'PY'
import json, sys
s, a, b = (json.load(open(p)) for p in sys.argv[1:4])
ca, cb = a["capacity"][0], b["capacity"][0]
print(ca["answer"]["stage"] == s["answer"]["stage"],
      all(x["verdict_from"] == "stage record" for x in ca["stages"]),
      all(x["verdict_from"] == "requests" for x in cb["stages"]))
PY
)"
"$AN" --by stage --slo "e2e=$SLO" "s=$T/search.jsonl.gz" >"$T/sa.txt"
assert_eq "search log: the line says where the verdicts come from" 1 "$(head -1 "$T/sa.txt" | grep -c "(verdicts of the search's stage records)$")"
