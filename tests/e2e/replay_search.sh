# replay_search.sh — capacity search and server metrics against llmtrace-sim, whose model makes
# the answer predictable: with --max-batch B and the default profile (decode(b) = 2 + 0.0625·b
# ms per step), a closed loop of c streams of T tokens queues ceil(c/B) rounds of T·decode(B)
# ms each, so an E2E SLO of 8.5 rounds is met up to c = 8·B and missed from 8·B + 1 on.
#   - --search concurrency finds exactly 8·B (the bracket converged to [8B, 8B+1]) in a bounded
#     number of stages, writes one stage record per stage, and --json says so;
#   - an SLO nothing meets: said, with the failing stage's numbers, exit 0;
#   - a flaky endpoint (failures count as never meeting): stages are "undecided", lengthened,
#     and reported as such, never as met;
#   - --scrape: the simulator's running/waiting samples equal what its own log says was in
#     flight at those times; a URL without metrics: the run completes and says why.
source "$SRC_DIR/tests/e2e/lib.sh"
source "$SRC_DIR/tests/e2e/replay_lib.sh"
T=$TEST_TMP
PY=/usr/bin/python3
mk_trace "$T/t.jsonl.gz" 64 1000
B=4
TOK=16
SLO=$($PY -c "print(8.5 * $TOK * (2.0 + 0.0625 * $B))")   # 306 ms

start_sim --profile default --max-batch $B --log "$T/truth.jsonl.gz"
"$RP" "$T/t.jsonl.gz" --url "$SIM_URL" --search concurrency --slo "e2e=$SLO" --max-tokens $TOK \
  --ignore-eos --stage-requests 40 --json --scrape --scrape-interval 200ms -o "$T/s.jsonl.gz" \
  >"$T/s.json" 2>"$T/s.err" || fail "search exited $?: $(tail -3 "$T/s.err")"
stop_pid "$SIM_PID" INT
cat "$T/s.err"
assert_eq "answer = the model's capacity, bracket converged, bounded stages" "32 33 True True" "$($PY - "$T/s.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
print(j["answer"]["stage"], j["next"]["stage"], j["converged"], j["stages"] <= 13)
PY
)"
assert_eq "one stage record per stage, verdicts as the model predicts" true "$(rq "$T/s.jsonl.gz" '
(lambda st: len(st) == json.load(open("'"$T/s.json"'"))["stages"] and all((s["verdict"] == "met") == (s["stage"] <= 32) for s in st))([r for r in recs if r.get("type") == "stage"])')"
assert_eq "stderr: the answer line" 1 "$(grep -c 'capacity at the SLO: concurrency 32 (met: p90 E2E' "$T/s.err")"
# the server's view: running + waiting at each scrape = what the simulator's log had in flight
# (running/waiting/KV: issue 14's "values match the sim's own log")
assert_eq "scrape: running/waiting match the simulator's log" True "$($PY - "$T/s.jsonl.gz" "$T/truth.jsonl.gz" $B <<'PY'
import gzip, json, sys
recs = [json.loads(l) for l in gzip.open(sys.argv[1], "rt")]
sim = [r for r in map(json.loads, gzip.open(sys.argv[2], "rt")) if r.get("type") == "exchange"
       and r["request"]["path"].startswith("/v1/")]
B = int(sys.argv[3])
iv = [(r["start_us"], r["start_us"] + r["response"]["end_us"]) for r in sim if r["response"]["end_us"] is not None]
def inflight(t):
    return sum(1 for a, b in iv if a <= t < b)
m = {}
for r in recs:
    if r.get("type") == "metrics" and r.get("name") in ("llmtrace_sim_requests_running", "llmtrace_sim_requests_waiting"):
        m.setdefault(r["t_us"], {})[r["name"]] = r["value"]
checked = bad = 0
for t, v in m.items():
    if len(v) != 2:
        continue
    n = inflight(t)
    # only where nothing started or ended within 5 ms: a scrape is not an instant
    if any(abs(a - t) < 5000 or abs(b - t) < 5000 for a, b in iv):
        continue
    checked += 1
    run, wait = v["llmtrace_sim_requests_running"], v["llmtrace_sim_requests_waiting"]
    if run + wait != n or run != min(n, B):
        bad += 1
        print("at %d: running %g waiting %g, the log has %d in flight" % (t, run, wait, n),
              file=sys.stderr)
print("running/waiting: %d samples checked, %d differ" % (checked, bad), file=sys.stderr)
print(checked >= 5 and bad == 0)
PY
)"
assert_eq "trailer: scrape counts" true "$(rq "$T/s.jsonl.gz" 'trl["stats"]["scrape"]["samples"] > 0 and trl["stats"]["scrape"]["failures"] == 0')"

# KV-cache usage as scraped = what the simulator's log implies: with --prefix-cache BLOCKS,
# every sequence that has started answering holds ceil((prompt + tokens generated so far) /
# block size) blocks (prompts of 5 tokens share no full block); one admitted but not yet
# answering holds its prompt's. A scrape is not an instant and a decode step is ~2 ms, so
# each sample is compared with the log's values around it: every sample within their range
# over ±10 ms, and most equal to one of them within ±2.5 ms.
start_sim --profile default --max-batch 4 --prefix-cache 64 --block-size 16 --log "$T/kv_truth.jsonl.gz"
"$RP" "$T/t.jsonl.gz" --url "$SIM_URL" -c 8 --max-tokens 40 --ignore-eos --scrape \
  --scrape-interval 50ms -q -o "$T/kv.jsonl.gz" || fail "kv run exited $?"
stop_pid "$SIM_PID" INT
assert_eq "scrape: KV-cache usage matches the simulator's log" True "$($PY - "$T/kv.jsonl.gz" "$T/kv_truth.jsonl.gz" <<'PY'
import gzip, json, math, sys
recs = [json.loads(l) for l in gzip.open(sys.argv[1], "rt")]
sim = [r for r in map(json.loads, gzip.open(sys.argv[2], "rt")) if r.get("type") == "exchange"
       and r["request"]["path"].startswith("/v1/")]
kv = [(r["t_us"], r["value"]) for r in recs if r.get("type") == "metrics"
      and r.get("name") == "llmtrace_sim_kv_cache_usage_perc"]
def at(t, waiting=False):
    # waiting: also a request received but not yet answering (the simulator may have
    # admitted it to the batch, prefilling, before its first event: the upper bound)
    blocks = 0
    for s in sim:
        a, ev = s["start_us"], s["response"]["events"]
        if not ev or not ((a if waiting else a + ev[0][0]) <= t < a + s["response"]["end_us"]):
            continue
        g = sum(e[1] for e in ev if e[2] and a + e[0] <= t)
        blocks += math.ceil((s["usage"]["prompt_tokens"] + g) / 16)
    return blocks / 64
inside = equal = 0
for t, v in kv:
    w = [at(t + d) for d in range(-2500, 2501, 250)]
    # the range: ±10 ms (t_us is when the scrape's answer arrived; a loaded machine delays it)
    lo = min(at(t + d) for d in range(-10000, 10001, 250))
    hi = max(at(t + d, True) for d in range(-10000, 10001, 250))
    inside += lo - 1e-9 <= v <= hi + 1e-9
    if not lo - 1e-9 <= v <= hi + 1e-9:
        print("kv at %d: %g, the log %g..%g" % (t, v, lo, hi), file=sys.stderr)
    equal += any(abs(v - x) < 1e-6 for x in w)
print("kv samples %d, inside %d, equal %d" % (len(kv), inside, equal), file=sys.stderr)
print(len(kv) >= 10 and inside == len(kv) and equal >= 0.8 * len(kv) and max(v for _, v in kv) > 0)
PY
)"

# Nothing meets: said, with the numbers of the stage that failed, and exit 0.
start_sim --profile default --max-batch $B
"$RP" "$T/t.jsonl.gz" --url "$SIM_URL" --search concurrency --slo e2e=1 --max-tokens $TOK \
  --ignore-eos --stage-requests 40 --json -o "$T/none.jsonl.gz" >"$T/none.json" 2>"$T/none.err" ||
  fail "search (nothing meets) exited $?"
stop_pid "$SIM_PID"
assert_eq "nothing meets: no answer, the failing stage named" "None 1 failed" "$($PY -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["answer"], j["next"]["stage"], j["next"]["verdict"])' "$T/none.json")"
assert_eq "nothing meets: stderr says so with the numbers" 1 "$(grep -c 'nothing meets the SLO: at concurrency 1, p90 E2E .* > 1 ms' "$T/none.err")"

# A flaky endpoint: 10 % of requests fail, so the p90 of E2E (failures never meet) cannot be
# bounded below the SLO: undecided, lengthened, reported as undecided, never as met.
start_sim --profile default --max-batch $B --fail-rate 0.1 --fail-status 503 --seed 11
"$RP" "$T/t.jsonl.gz" --url "$SIM_URL" --search concurrency --slo "e2e=$SLO" --max-tokens $TOK \
  --ignore-eos --stage-requests 40 --search-stages 3 --search-lengthen 1 --json \
  -o "$T/flaky.jsonl.gz" >"$T/flaky.json" 2>"$T/flaky.err" || fail "search (flaky) exited $?"
stop_pid "$SIM_PID"
assert_eq "flaky: undecided stages, lengthened, none met" true "$(rq "$T/flaky.jsonl.gz" '
(lambda st: any(s["verdict"] == "undecided" for s in st) and not any(s["verdict"] == "met" and s["estimates"]["e2e_ms"]["hi"] is None for s in st))([r for r in recs if r.get("type") == "stage"])')"
assert_eq "flaky: stderr says it lengthened" True "$(grep -q 'undecided .*lengthening the stage' "$T/flaky.err" && echo True || echo False)"

# A URL without metrics: the run completes and the summary says why there are none.
start_sim --profile zero
"$RP" "$T/t.jsonl.gz" --url "$SIM_URL" -c 2 --max-tokens 4 --ignore-eos --limit 10 \
  --scrape "$SIM_URL/no-metrics-here" --scrape-interval 100ms -o "$T/nometrics.jsonl.gz" \
  2>"$T/nometrics.err" || fail "replay with a failing scrape exited $?"
stop_pid "$SIM_PID"
assert_eq "no metrics: all requests done" 10 "$(rq "$T/nometrics.jsonl.gz" 'len(ex)')"
assert_eq "no metrics: failure records in the log" true "$(rq "$T/nometrics.jsonl.gz" 'all(r["error"]["message"] == "HTTP status 404" for r in recs if r.get("type") == "metrics") and any(r.get("type") == "metrics" for r in recs)')"
assert_eq "no metrics: the summary says why" 1 "$(grep -c 'server metrics: none (.* HTTP status 404)' "$T/nometrics.err")"
