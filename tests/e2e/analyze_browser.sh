# analyze_browser.sh — the HTML report checked in a real browser: Debian's Chromium, headless,
# driven by playwright-core from npm (installed under the build tree, like the DuckDB test's
# package). On a sweep of llmtrace-sim with server metrics and an SLO: no console error, no
# uncaught exception and no failed request (the page is self-contained); the capacity answer
# first; every chart drawn is an inline SVG with its axis mapping; hovering the answer's point
# on the throughput-latency chart reads back its p90 E2E and tok/s (within 3 %).
source "$SRC_DIR/tests/e2e/lib.sh"
source "$SRC_DIR/tests/e2e/replay_lib.sh"
T=$TEST_TMP
PY=/usr/bin/python3
AN=$BIN/llmtrace-analyze
[ -x /usr/bin/chromium ] || fail "chromium is missing (scripts/deps.sh installs it)"
command -v node >/dev/null && command -v npm >/dev/null || fail "node/npm missing (scripts/deps.sh installs them)"
command -v gnuplot >/dev/null || fail "gnuplot is missing (scripts/deps.sh installs it)"
PW_VERSION=1.64.1
NPM_DIR=$(cd "$BIN/.." && pwd)/npm-playwright
npm_pinned "$NPM_DIR" playwright-core "$PW_VERSION"
cp "$SRC_DIR/tests/e2e/analyze_browser.mjs" "$NPM_DIR/"

mk_trace "$T/t.jsonl.gz" 64 1000
start_sim --profile default --max-batch 4
"$RP" "$T/t.jsonl.gz" --url "$SIM_URL" --sweep 8,16,32,40 --stage-requests 200 --max-tokens 16 \
  --ignore-eos --scrape --scrape-interval 100ms -q -o "$T/sweep.jsonl.gz" || fail "sweep exited $?"
stop_pid "$SIM_PID"
"$AN" --by stage --slo e2e=306 --steady --html "$T/report.html" --json "sweep=$T/sweep.jsonl.gz" \
  >"$T/a.json" 2>"$T/a.err" || fail "analyze exited $?: $(cat "$T/a.err")"
read -r X Y <<<"$($PY -c '
import json, sys
j = json.load(open(sys.argv[1]))
a = j["capacity"][0]["answer"]["stage"]
g = [g for g in j["groups"] if float(g["key"]) == a][0]
print(g["e2e_ms"]["p90"], g["output_tok_s"])' "$T/a.json")"
(cd "$NPM_DIR" && timeout 120 node analyze_browser.mjs "$T/report.html" "$T/report.png" "$X" "$Y" "$T/hover.png") \
  >"$T/b.json" 2>"$T/b.err" || fail "browser driver exited $?: $(tail -5 "$T/b.err")"
cat "$T/b.json"
assert_eq "browser: no console error, exception or failed request" "[]" \
  "$($PY -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["errors"]))' "$T/b.json")"
assert_eq "browser: the answer first" "True True" "$($PY -c '
import json, sys
b = json.load(open(sys.argv[1]))
print(b["answer"].startswith("Capacity: sweep: highest output throughput meeting the SLO: ") and
      "at concurrency 32" in b["answer"], b["answer_before_inputs"])' "$T/b.json")"
assert_eq "browser: every chart drawn is an inline SVG with its axes, the rest listed" "True" "$($PY -c '
import json, sys
b = json.load(open(sys.argv[1]))
ids = {f["id"] for f in b["figures"]}
want = {"throughput_latency", "ttft_cdf", "tpot_cdf", "timeseries", "itl_hist"}
print(want <= ids and all(f["svg"] and f["axes"] and f["w"] > 300 for f in b["figures"])
      and "ttft_by_turn" in b["not_drawn"] and not (ids & set(b["not_drawn"])))' "$T/b.json")"
assert_eq "browser: hovering the answer reads back its p90 E2E and tok/s" "True" "$($PY -c '
import json, re, sys
b = json.load(open(sys.argv[1])); X, Y = float(sys.argv[2]), float(sys.argv[3])
m = re.match(r"x (\S+)\s+y (\S+)$", b["tip"])
print(bool(m) and abs(float(m.group(1)) - X) < 0.03 * X and abs(float(m.group(2)) - Y) < 0.03 * Y)' "$T/b.json" "$X" "$Y")"
[ -s "$T/report.png" ] && [ -s "$T/hover.png" ] || fail "no screenshot"
pass "screenshots $T/report.png $T/hover.png (docs/report.png, docs/report_hover.png are these)"
