#!/usr/bin/env bash
# analyze_sessions.sh — llmtrace-analyze on conversations: --by turn (TTFT and the cached share
# of prompt tokens per turn index), the session-level figures (sessions, completed, session
# duration, turns per session, sessions/s, goodput per session under --slo) in the table,
# JSON, Markdown and HTML, and the "TTFT by turn" chart — every number worked out by hand from
# tests/fixtures/analyze/sessions.jsonl (two sessions, A: three turns; B: two, the second
# failed; one request without a session).
source "$(dirname "$0")/lib.sh"
cd "$TEST_TMP"
A=$BIN/llmtrace-analyze
FX=$SRC_DIR/tests/fixtures/analyze/sessions.jsonl
PY=/usr/bin/python3
"$A" --json --by turn --slo ttft=110 s="$FX" >by_turn.json || fail "analyze --by turn"
j() { $PY -c "import json; d=json.load(open('by_turn.json')); print($1)"; }
assert_eq "groups by turn, no-session last" "0 1 2 -" "$(j '" ".join(g["key"] for g in d["groups"])')"
assert_eq "TTFT p50 per turn (ms)" "110 40 30 50" "$(j '" ".join("%g" % g["ttft_ms"]["p50"] for g in d["groups"])')"
assert_eq "cached share per turn" "0 0.8 0.96 None" "$(j '" ".join(str(g["cached_share"]) for g in d["groups"])')"
assert_eq "turn 1: 2 requests, 1 error, cached known for 1" "2 1 1" "$(j '"%d %d %d" % (d["groups"][1]["requests"], d["groups"][1]["errors"], d["groups"][1]["cached_known"])')"
s() { $PY -c "import json; d=json.load(open('by_turn.json'))['sessions'][0]; print($1)"; }
assert_eq "sessions, turns, completed, met every SLO" "2 5 1 1" "$(s '"%d %d %d %d" % (d["sessions"], d["turns"], d["completed"], d["slo_met"])')"
assert_eq "session duration p50, min, max (ms): (405 + 755) / 2" "580 405 755" "$(s '"%g %g %g" % (d["duration_ms"]["p50"], d["duration_ms"]["min"], d["duration_ms"]["max"])')"
assert_eq "turns per session mean, ok turns" "2.5 1 3" "$(s '"%g %g %g" % (d["turns_per_session"]["mean"], d["ok_turns_per_session"]["min"], d["ok_turns_per_session"]["max"])')"
assert_eq "span 0.755 s: sessions/s = 2/0.755, goodput = 1/0.755" "0.755 2.649 1.325" "$(s '"%g %.3f %.3f" % (d["span_s"], d["sessions_s"], d["goodput_sessions_s"])')"
"$A" --slo ttft=110 s="$FX" >table.txt
grep -q '^== sessions of s: 2 sessions, 5 turns; 1 completed (every turn ok), 1 met every SLO; 2.649 sessions/s, goodput 1.325 sessions/s$' table.txt || fail "table: $(grep 'sessions of' table.txt)"
grep -q 'prompt cached 65.9 % (448 of 680 tokens, 4' table.txt || fail "table cached line: $(grep cached table.txt)"
"$A" --markdown s="$FX" | grep -q '^| s | 2 | 5 | 1 | 1 | 2.649 | 1.325 | 580.00 | ' || fail "markdown sessions row"
"$A" --csv --by turn s="$FX" | $PY -c "import csv,sys; r=list(csv.DictReader(sys.stdin)); assert [x['cached_share'] for x in r] == ['0', '0.8', '0.96', ''], r" || fail "csv cached_share"
pass "markdown and csv"
command -v gnuplot >/dev/null || fail "gnuplot not installed"
mkdir -p charts
"$A" --plot charts --html report.html s="$FX" >/dev/null 2>charts.err || fail "plot: $(cat charts.err)"
head -c 200 charts/ttft_by_turn.svg | grep -q '<svg' || fail "ttft_by_turn.svg"
grep -q '<h2>Sessions</h2>' report.html || fail "HTML sessions section"
grep -q '<figure id="ttft_by_turn"[ >]' report.html || fail "HTML ttft_by_turn chart"
pass "chart and HTML"
# two labels (live and recorded history, as README's comparison): one series each, in order
"$A" --plot charts3 --by turn live="$FX" recorded="$FX" >/dev/null 2>c3.err || fail "plot, two labels: $(cat c3.err)"
assert_eq "TTFT by turn: a series per label" "live recorded" \
  "$($PY -c "import re; print(' '.join(t for t in re.findall(r'<text>([^<]*)</text>', open('charts3/ttft_by_turn.svg').read()) if t in ('live', 'recorded')))")"
# each series' path: its legend sample, then one vertex per turn (0, 1, 2), TTFT p50 110, 40,
# 30 ms falling left to right (SVG y grows downwards)
assert_eq "TTFT by turn: two lines of three turns each, falling" "3 True 3 True" "$($PY - charts3/ttft_by_turn.svg <<'PY'
import re, sys
out = []
for d in re.findall(r"<path stroke='rgb\([0-9, ]*\)'  d='(M[^']*)'", open(sys.argv[1]).read()):
    data = d.split("M")[2]
    ys = [float(p.split(",")[1]) for p in re.findall(r"[\d.]+,[\d.]+", data)]
    out += [str(len(ys)), str(ys == sorted(ys))]
print(" ".join(out))
PY
)"
# a log without sessions: no sessions block, the chart skipped with a reason
"$A" --plot charts2 "$SRC_DIR/tests/fixtures/analyze/basic.jsonl" >t2.txt 2>c2.err || true
grep -q 'sessions of' t2.txt && fail "sessions block without sessions"
grep -q 'ttft_by_turn skipped: no successful request belongs to a session' c2.err || fail "skip reason: $(cat c2.err)"
pass "no sessions, said so"
