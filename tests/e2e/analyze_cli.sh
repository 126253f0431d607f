# analyze_cli: llmtrace-analyze on handcrafted logs (tests/fixtures/analyze/) — every output
# format, warm-up, SLO, bad logs, torn tails, charts and the HTML report. No network.
source "$(dirname "$0")/lib.sh"
A=$BIN/llmtrace-analyze
FX=$SRC_DIR/tests/fixtures/analyze
cd "$TEST_TMP"

# --- JSON: the fixed keys and the hand-computed values of basic.jsonl (see README.md) ---
"$A" --json "$FX/basic.jsonl" > basic.json
py() { /usr/bin/python3 -c "import json,sys; d=json.load(open('$1')); print($2)"; }
assert_eq "requests" 5 "$(py basic.json "d['groups'][0]['requests']")"
assert_eq "ok" 3 "$(py basic.json "d['groups'][0]['ok']")"
assert_eq "errors" 2 "$(py basic.json "d['groups'][0]['errors']")"
assert_eq "errors by kind" '{"http_status": 1, "reset": 1}' "$(py basic.json "json.dumps(d['groups'][0]['errors_by_kind'], sort_keys=True)")"
assert_eq "warm-up excluded" 1 "$(py basic.json "d['groups'][0]['warmup_excluded']")"
assert_eq "fixed keys" "True" "$(py basic.json "all(k in d['groups'][0] for k in ['label','stage','requests','ok','errors','ttft_ms','tpot_ms','itl_ms','e2e_ms','output_tok_s','total_tok_s','req_s','goodput_req_s'])")"
assert_eq "dist keys" "True" "$(py basic.json "all(set(['mean','stddev','min','p50','p90','p95','p99','p999','max']) <= set(d['groups'][0][k]) for k in ['ttft_ms','tpot_ms','itl_ms','e2e_ms'])")"
assert_eq "ttft p50/p90/p99" "100 140 149" "$(py basic.json "' '.join('%g' % d['groups'][0]['ttft_ms'][k] for k in ['p50','p90','p99'])")"
assert_eq "tpot p50 (100, 24)" "62" "$(py basic.json "'%g' % d['groups'][0]['tpot_ms']['p50']")"
assert_eq "e2e mean" "270" "$(py basic.json "'%g' % d['groups'][0]['e2e_ms']['mean']")"
# throughput over every request: e was reset after streaming 1 token, which counts
assert_eq "output tok/s = (3 + 6 + 1 + 1) / 0.47 s" "23.4043" "$(py basic.json "'%g' % d['groups'][0]['output_tok_s']")"
assert_eq "req/s = 5 requests / 0.47 s" "10.6383" "$(py basic.json "'%g' % d['groups'][0]['req_s']")"
assert_eq "ok req/s = 3 / 0.47 s" "6.38298" "$(py basic.json "'%g' % d['groups'][0]['ok_req_s']")"
# n_in known for a and c only: total tok/s is null, not a silent partial sum
assert_eq "total tok/s unknown" "None 2 15" "$(py basic.json "'%s %s %s' % (d['groups'][0]['total_tok_s'], d['groups'][0]['tokens_in_known'], d['groups'][0]['input_tokens'])")"
assert_eq "table shows - for total tok/s" "- 10.64" "$("$A" "$FX/basic.jsonl" | awk '$1 == "basic" { print $5, $6 }')"
assert_eq "itl p50 within 0.1 %" "True" "$(py basic.json "abs(d['groups'][0]['itl_ms']['p50'] - 90) <= 0.09")"

# --- SLO, warm-up, per-request, CSV, Markdown ---
"$A" --json --slo ttft=120ms "$FX/basic.jsonl" > slo.json
assert_eq "goodput (a, b meet ttft<=120ms) = 2 / 0.47 s" "4.25532" "$(py slo.json "'%g' % d['groups'][0]['goodput_req_s']")"
# a bare SLO number is milliseconds (vLLM's --goodput); units explicit; anything else exit 2
"$A" --json --slo ttft=120,tpot=0.1s,e2e=300000us "$FX/basic.jsonl" > slo2.json
assert_eq "bare --slo number = ms" "120 100 300" "$(py slo2.json "' '.join('%g' % d['slo'][k] for k in ('ttft_ms', 'tpot_ms', 'e2e_ms'))")"
# a (ttft 100, e2e 400 > 300) fails e2e; b (80, 250) meets all; c (150) fails ttft
assert_eq "goodput with bare numbers = 1 / 0.47 s" "2.127659574468085" "$(py slo2.json "repr(d['groups'][0]['goodput_req_s'])")"
for bad in ttft=500s5 ttft=fast ttft=-1 ttft=0 ttft=5m tpot=1h e2e=10x e2e= itl=5 ttft=5,ttft=6 ''; do
  set +e
  "$A" --slo "$bad" "$FX/basic.jsonl" > /dev/null 2> slo.err; rc=$?
  set -e
  [ "$rc" = 2 ] || fail "--slo '$bad': exit $rc, expected 2"
  [ "$(wc -l < slo.err)" = 1 ] && grep -q '^llmtrace-analyze: .*--slo' slo.err || fail "--slo '$bad' message: $(cat slo.err)"
done
pass "bad --slo values are usage errors"
assert_eq "per-request rows" 5 "$("$A" --per-request "$FX/basic.jsonl" | tail -n +2 | wc -l)"
assert_eq "per-request rows with warm-up" 6 "$("$A" --per-request --include-warmup "$FX/basic.jsonl" | tail -n +2 | wc -l)"
assert_eq "per-request row a" "basic,,a,1700000000000000,,200,,10,3,50,100,100,400,,send" \
  "$("$A" --per-request "$FX/basic.jsonl" | grep ',a,')"
"$A" --csv -o basic.csv "$FX/basic.jsonl"
assert_eq "csv lines" 2 "$(wc -l < basic.csv)"
assert_eq "csv ttft_ms_p50 column" 100 "$(/usr/bin/python3 -c "import csv; r=list(csv.DictReader(open('basic.csv'))); print('%g' % float(r[0]['ttft_ms_p50']))")"
"$A" --markdown "$FX/basic.jsonl" > basic.md
grep -q '^| basic |  | 5 | 2 |' basic.md || fail "markdown summary row"
pass "markdown summary row"
"$A" --compat vllm "$FX/basic.jsonl" | grep -q '^vllm TTFT ms' || fail "--compat rows"
"$A" --compat vllm "$FX/basic.jsonl" | grep -q '^llmperf' && fail "--compat vllm shows only vLLM's rows"
pass "--compat rows"
# compat values by hand: vLLM TTFT = first event of any kind (a 50, b 80, c 150 ms);
# GenAI-Perf "ITL" = (E2E - TTFT) / (n_out - 1) (a 350/2, b 170/5); guidellm TPOT = last
# content / n_out (a 300/3, b 200/6, c 150/1); llmperf tok/s = n_out / E2E (7.5, 24, 6.25).
cj() { "$A" --json --compat "$1" "${4:-$FX/basic.jsonl}" | /usr/bin/python3 -c "import json,sys; c=json.load(sys.stdin)['groups'][0]['compat']; print('%g' % c['$2']['$3'])"; }
assert_eq "vllm ttft p50" 80 "$(cj vllm vllm_ttft_ms p50)"
assert_eq "genai-perf itl p50" 104.5 "$(cj genai-perf genai_perf_itl_ms p50)"
assert_eq "guidellm tpot p50" 100 "$(cj guidellm guidellm_tpot_ms p50)"
assert_eq "llmperf tok/s p50" 7.5 "$(cj llmperf llmperf_req_out_tok_s p50)"
"$A" "$FX/basic.jsonl" | head -1 | grep -q 'out tok/s' || fail "table header"
width=$("$A" --by status "$FX/basic.jsonl" "$FX/basic.jsonl" | awk '{ if (length($0) > m) m = length($0) } END { print m }')
assert_le "table width" "$width" 100
assert_eq "--by status groups" "200 500" "$("$A" --json --by status "$FX/basic.jsonl" | /usr/bin/python3 -c "import json,sys; print(' '.join(g['key'] for g in json.load(sys.stdin)['groups']))")"

# --- n_out counted from events is flagged; transport attempts are no requests; re-sends and
# connect time (tests/fixtures/analyze/resend.jsonl, values by hand in the comments) ---
R=$FX/resend.jsonl
"$A" --json "$R" > rs.json
g() { py rs.json "$1"; }
assert_eq "b0 (resent_as) is no request" "4 1 1" "$(g "'%d %d %d' % (d['groups'][0]['requests'], d['groups'][0]['errors'], d['groups'][0]['transport_retries'])")"
assert_eq "re-sent c: 1 request, 1 earlier attempt, not a failure" "1 1 {'connect': 1}" "$(g "'%d %d %s' % (d['groups'][0]['resent'], d['groups'][0]['resends'], d['groups'][0]['errors_by_kind'])")"
assert_eq "c's extra time: 101000 - 100000 us" "1" "$(g "'%g' % d['groups'][0]['resend_ms']['max']")"
assert_eq "tokens_source incl. max_tokens" '{"events": 1, "max_tokens": 1, "none": 1, "usage": 1}' "$(g "json.dumps(d['groups'][0]['tokens_source'], sort_keys=True)")"
assert_eq "n_out from events: c only (max_tokens is exact)" "1 0.25" "$(g "'%d %r' % (d['groups'][0]['n_out_from_events'], d['groups'][0]['n_out_from_events_share'])")"
# span T … d's end T + 200300 us; tokens a 3 + b 4 + c 3
assert_eq "output tok/s = 10 / 0.2003 s" "$(/usr/bin/python3 -c 'print(repr(10 / 0.2003))')" "$(g "repr(d['groups'][0]['output_tok_s'])")"
assert_eq "ttft from the send: a 10, b 10, c 5 ms" "10 8.333333333333334" "$(g "'%g %r' % (d['groups'][0]['ttft_ms']['p50'], d['groups'][0]['ttft_ms']['mean'])")"
assert_eq "connect ms: a 2, b 1, c 0.8 (d unknown)" "3 1" "$(g "'%d %g' % (d['groups'][0]['connect_ms']['n'], d['groups'][0]['connect_ms']['p50'])")"
"$A" "$R" > rs.txt
grep -q '^resend      4     1    49.93\*         -   19.97   14.98    10.00   6.667\*    35.00$' rs.txt || fail "table marks tok/s and TPOT: $(cat rs.txt)"
grep -q '^\* n_out counted from stream events (tokens_source "events") for resend: 1 of 4 requests (25 %)' rs.txt || fail "table footnote"
tr '\n' ' ' < rs.txt | sed 's/  */ /g' | grep -q '1 re-sent (1 earlier attempts, not failures), 1 transport retries not counted' || fail "re-sends apart from failures"
"$A" --markdown "$R" | grep -q '^| resend |  | 4 | 1 | 49.93\* | - |' || fail "markdown marks tok/s"
"$A" --markdown "$R" | grep -q '^\\\* n_out counted from stream events' || fail "markdown footnote"
# a log whose every n_out comes from usage: nothing flagged
"$A" "$SRC_DIR/tests/fixtures/tlog/example.jsonl" | grep -q "n_out counted" && fail "exact n_out flagged"
pass "n_out from events flagged, re-sends and transport retries reported apart"
# --include-connect: a 10 + 2, b 10 + 1, c 5 + 0.8 ms; E2E 37, 41, 10.8
"$A" --json --include-connect "$R" > rc.json
assert_eq "ttft with connect" "11 9.6 true" "$(py rc.json "'%g %r %s' % (d['groups'][0]['ttft_ms']['p50'], round(d['groups'][0]['ttft_ms']['mean'], 12), d['connect_included'])" | sed 's/True/true/')"
assert_eq "e2e with connect" "37 41" "$(py rc.json "'%g %g' % (d['groups'][0]['e2e_ms']['p50'], d['groups'][0]['e2e_ms']['max'])")"
assert_eq "tpot unchanged by connect" "6.666666666666667" "$(py rc.json "repr(d['groups'][0]['tpot_ms']['p50'])")"
# --compat vllm: vLLM's TTFT (first event of any kind) includes the connect: a 9+2, b 10+1, c 5+0.8
assert_eq "vllm ttft includes connect" "11 11 5.8" "$(cj vllm vllm_ttft_ms p50 "$R") $(cj vllm vllm_ttft_ms max "$R") $(cj vllm vllm_ttft_ms min "$R")"

# --- open-loop replay: latency from the schedule by default, from the send on request ---
"$A" --json --by stage "$FX/replay_rate.jsonl" > rate.json
assert_eq "stages" "2 4" "$(py rate.json "' '.join('%g' % g['stage'] for g in d['groups'])")"
assert_eq "latency from" "schedule" "$(py rate.json "d['groups'][0]['latency_from']")"
# r1: first content 5 ms after a send 1 ms late → 6 ms; r2: 4 ms, on time
assert_eq "ttft p50 from schedule" 5 "$(py rate.json "'%g' % d['groups'][0]['ttft_ms']['p50']")"
assert_eq "e2e max from schedule" 9 "$(py rate.json "'%g' % d['groups'][0]['e2e_ms']['max']")"
assert_eq "schedule lag max" 1 "$(py rate.json "'%g' % d['groups'][0]['schedule_lag_ms']['max']")"
"$A" --json --by stage --latency-from send "$FX/replay_rate.jsonl" > send.json
assert_eq "ttft p50 from send" 4.5 "$(py send.json "'%g' % d['groups'][0]['ttft_ms']['p50']")"
assert_eq "latency from send" "send" "$(py send.json "d['groups'][0]['latency_from']")"

# --- bad logs: file and record named; exit 1 only when a whole input is unusable ---
set +e
"$A" "$FX/bad_record.jsonl" > bad.out 2> bad.err; rc=$?
set -e
assert_eq "bad record exit" 0 "$rc"
grep -q "llmtrace-analyze: $FX/bad_record.jsonl: record 3: bad \"response.events\"" bad.err || fail "bad record message: $(cat bad.err)"
pass "bad record named"
grep -q '^bad_record  *2 ' bad.out || fail "recovered records analyzed"
# "headers": {} (hand-written logs, other tools' exports) is read silently; a wrong type in a
# key the analysis does not use costs that key, reported once, not the record
/usr/bin/python3 - "$FX/basic.jsonl" <<'PY' > objhdr.jsonl
import json, sys
for i, l in enumerate(open(sys.argv[1])):
    r = json.loads(l)
    if r.get('type') == 'exchange':
        r['request']['headers'] = {} if i % 2 else {'Content-Type': 'application/json'}
        if i == 3:
            r['request']['host'] = 8000
            r['model'] = ['m']
    print(json.dumps(r))
PY
"$A" --json objhdr.jsonl > objhdr.json 2> objhdr.err
assert_eq "object headers: every record read" "5 2" "$(py objhdr.json "'%d %d' % (d['groups'][0]['requests'], d['groups'][0]['errors'])")"
assert_eq "wrong types reported once" 'llmtrace-analyze: objhdr.jsonl: 2 fields of the wrong type ignored (first: record 4: bad "model": expected string)' "$(cat objhdr.err)"
set +e
"$A" "$FX/not_a_log.txt" > nl.out 2> nl.err; rc=$?
set -e
assert_eq "unusable input exit" 1 "$rc"
grep -q "not_a_log.txt: no exchange record (" nl.err || fail "unusable message"
pass "unusable input named"
# torn tail: the first 100 kB of the gzip sample (members cut mid-way)
head -c 100000 "$SRC_DIR/examples/sample_trace.jsonl.gz" > torn.jsonl.gz
"$A" --json torn.jsonl.gz > torn.json 2> torn.err
grep -q 'torn.jsonl.gz: not closed cleanly: .* records recovered, torn tail' torn.err || fail "torn tail reported: $(cat torn.err)"
n=$(py torn.json "d['groups'][0]['requests']")
assert_le "recovered records > 0" 1 "$n"
assert_le "recovered records < 300" "$n" 299

# --- charts and HTML ---
# gnuplot is a dependency (scripts/deps.sh installs it): its absence fails, not skips, the test
command -v gnuplot >/dev/null || fail "gnuplot not installed"
"$A" --plot charts --html report.html a="$FX/basic.jsonl" b="$SRC_DIR/examples/sample_trace.jsonl.gz" > /dev/null
for c in throughput_latency ttft_cdf tpot_cdf timeseries itl_hist ttft_vs_input; do
  [ "$(head -c 8 charts/$c.png | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || fail "$c.png header"
  head -c 200 charts/$c.svg | grep -q '<svg' || fail "$c.svg header"
done
pass "6 charts with PNG/SVG headers"
for s in "a p50" "a p90" "b p50" "b p90"; do
  grep -q ">$s<" charts/throughput_latency.svg || fail "series '$s' in throughput_latency.svg"
done
pass "throughput_latency series names"
assert_eq "svg charts inline in HTML" 6 "$(grep -c '<svg' report.html)"
if grep -qE '(src|href)="(https?:)?//' report.html; then fail "HTML loads network resources"; fi
grep -q '<td class=l>a</td>' report.html || fail "HTML summary table"
pass "HTML self-contained with tables"
# crowded stages: every stage label on the throughput-latency chart stands apart from the others
/usr/bin/python3 "$SRC_DIR/tests/e2e/analyze_cluster.py" crowd.jsonl
"$A" --by stage crowd.jsonl --plot crowd > /dev/null 2>&1
/usr/bin/python3 - crowd/throughput_latency.svg <<'PY' || fail "stage labels overlap"
import re, sys
svg = open(sys.argv[1]).read()
labs = re.findall(r'<g transform="translate\(([\d.]+),([\d.]+)\)"[^>]*font-size="9\.00"[^>]*>\s*<text>([^<]*)</text>', svg)
assert len(labs) >= 8, "only %d stage labels drawn" % len(labs)
# a 9-pt label: ~5.5 px per character, from 9 px above its baseline to 2 px below
box = [(float(x), float(y) - 9, float(x) + 5.5 * len(t), float(y) + 2, t) for x, y, t in labs]
for i, a in enumerate(box):
    for b in box[i + 1:]:
        assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), "%s and %s overlap" % (a[4], b[4])
print("%d stage labels, none overlapping" % len(labs))
PY
pass "stage labels apart"
# the ITL histogram of gaps from 0 and 1 µs to 1 s: its x axis spans at most four decades below
# the largest gap (plus a bin), its tics are plain numbers (never 1e-05) inside the plot area
/usr/bin/python3 - > wide_itl.jsonl <<'PY'
import json
print(json.dumps({"type": "header", "schema": 1, "tool": "handmade", "version": "0",
                  "start_us": 1700000000000000, "command": ["handmade", "wide_itl"]}))
gaps = [0, 1, 3, 10, 30, 100, 300, 1000, 3000, 10000, 30000, 100000, 300000, 1000000]
for i in range(4):
    t, ev = 1000, [[1000, 1, True]]
    for g in gaps:
        t += g
        ev.append([t, 1, True])
    print(json.dumps({"type": "exchange", "id": "w%d" % i, "start_us": 1700000000000000 + i * 3000000,
                      "request": {"method": "POST", "path": "/v1/chat/completions", "headers": []},
                      "response": {"status": 200, "ttfb_us": 1000, "end_us": t, "events": ev},
                      "usage": {"prompt_tokens": 5, "completion_tokens": len(ev)},
                      "tokens_in": 5, "tokens_out": len(ev), "tokens_source": "usage", "error": None}))
PY
"$A" --plot wide wide_itl.jsonl > /dev/null 2>&1
/usr/bin/python3 - wide/itl_hist.svg <<'PY' || fail "ITL histogram axis"
import math, re, sys
svg = open(sys.argv[1]).read()
w = float(re.search(r'viewBox="0 0 (\d+)', svg).group(1))
# x tic labels: centred under the axis; numbers only (the title and axis label are words)
tics = [(float(x), t.strip()) for x, y, t in re.findall(
    r'<g transform="translate\(([\d.]+),([\d.]+)\)"[^>]*text-anchor="middle">\s*<text>([^<]*)</text>', svg)
    if re.fullmatch(r'\s*[-+0-9.eE]+\s*', t)]
assert len(tics) >= 3, "only %d x tics: %s" % (len(tics), tics)
for x, t in tics:
    assert re.fullmatch(r'\d+(\.\d+)?', t), "tic label %r is not a plain number" % t
    assert 0 < x < w, "tic %s at x=%s is outside the %s-px chart" % (t, x, w)
v = [float(t) for _, t in tics]
assert max(v) / min(v) <= 1e4 * 1.2, "x tics span %s … %s: more than four decades" % (min(v), max(v))
assert max(v) >= 500, "the largest gap (1000 ms) is off the axis: %s" % max(v)
print("%d x tics from %s to %s ms, plain" % (len(v), min(v), max(v)))
PY
grep -q 'gaps under 0.1 ms (0 us included) in the first bin' wide/itl_hist.svg ||
  fail "ITL histogram: the title says how many gaps the first bin holds"
pass "ITL histogram axis: four decades, plain tics"
# a gnuplot that fails: one line per chart in our words, never its own output, no file left
cat > fakegp.sh <<'SH'
#!/bin/sh
cat > /dev/null
echo 'gnuplot> plot $X using 1:2' >&2
echo '         line 7: all points y value undefined!' >&2
exit 1
SH
chmod +x fakegp.sh
set +e
LLMTRACE_GNUPLOT=$PWD/fakegp.sh "$A" --plot failed --html failed.html "$FX/basic.jsonl" > fg.out 2> fg.err; rc=$?
set -e
assert_eq "gnuplot failure exit" 1 "$rc"
assert_eq "one line per chart" 6 "$(grep -c '^llmtrace-analyze: --plot: [a-z_]* not drawn: gnuplot failed (exit status: line 7: all points y value undefined!)$' fg.err)"
grep -q '^gnuplot>\|^ *line 7' fg.err && fail "gnuplot's own output reached the user"
assert_eq "no file left" "" "$(ls failed)"
grep -q 'No charts: gnuplot was not available' failed.html && fail "HTML blames a missing gnuplot"
assert_eq "HTML lists the failures" 6 "$(grep -c '<li id="[a-z_]*">.*: failed: gnuplot failed' failed.html)"
pass "gnuplot failures reported in one line each"

# gnuplot missing: a clear message, the numbers still printed
set +e
LLMTRACE_GNUPLOT=/nonexistent/gnuplot "$A" --plot nochart "$FX/basic.jsonl" > ng.out 2> ng.err; rc=$?
set -e
assert_eq "gnuplot missing exit" 1 "$rc"
grep -q 'gnuplot not found' ng.err || fail "gnuplot missing message"
grep -q '^basic ' ng.out || fail "numbers printed without gnuplot"
LLMTRACE_GNUPLOT=/nonexistent/gnuplot "$A" --html ng.html "$FX/basic.jsonl" > /dev/null 2>&1
grep -q '<p>No charts: gnuplot was not available.</p>' ng.html || fail "HTML: gnuplot missing"
set +e
"$A" --plot nodir/sub --html nd.html "$FX/basic.jsonl" > /dev/null 2>&1
set -e
grep -q '<p>No charts: nodir/sub: No such file or directory.</p>' nd.html || fail "HTML: the real reason"
pass "gnuplot missing handled"

# --- several files, one label: one group; DIR/ and globs; rotated captures are one run ---
"$BIN/capture-bench-gen" g.pcap 12 16 50 2>/dev/null
mkdir -p rot
"$BIN/llmtrace-capture" -q -r g.pcap -w all.jsonl.gz
"$BIN/llmtrace-capture" -q -r g.pcap -w rot/trace.jsonl.gz -C 64k
nf=$(ls rot/trace.*.jsonl.gz | wc -l)
assert_le "capture -C made several files" 3 "$nf"
"$A" --json all.jsonl.gz > all.json
want=$(py all.json "'%d %r' % (d['groups'][0]['requests'], d['groups'][0]['ttft_ms']['p50'])")
for spec in "cap=rot/" "cap=rot" "cap=rot/trace.*" "$(for f in rot/trace.*.jsonl.gz; do printf 'cap=%s ' "$f"; done)"; do
  # shellcheck disable=SC2086
  "$A" --json $spec > multi.json 2> multi.err
  assert_eq "'$spec': one group" "1 cap $nf" "$(py multi.json "'%d %s %d' % (len(d['groups']), d['groups'][0]['label'], len(d['inputs']))")"
  assert_eq "'$spec': the run's numbers" "$want" "$(py multi.json "'%d %r' % (d['groups'][0]['requests'], d['groups'][0]['ttft_ms']['p50'])")"
  assert_eq "'$spec': nothing to report" "" "$(cat multi.err)"
done
"$A" rot/ | grep -q '^rot ' || fail "an unlabelled directory is labelled by its name"
# a rotation missing from the middle is a gap in the run
mkdir -p gap
cp rot/trace.*.jsonl.gz gap/ && rm gap/trace.001.jsonl.gz
"$A" cap=gap/ > /dev/null 2> gap.err
grep -q "^llmtrace-analyze: cap: rotated capture files 001 to 001 missing (files 000 to 00$((nf - 1)) given): the run has a gap$" gap.err || fail "rotation gap: $(cat gap.err)"
set +e
"$A" cap=gap/ --whole-run -q > /dev/null 2> gapw.err; rc=$?
"$A" cap=rot/ --whole-run > /dev/null 2> rotw.err; rc_whole=$?
set -e
assert_eq "--whole-run: a rotation gap fails (said even with -q); a whole rotation passes" \
  "1 llmtrace-analyze: --whole-run: 1 problem with shards or rotated files: not one whole run 0" \
  "$rc $(cat gapw.err) $rc_whole"
set +e
"$A" cap='nothing/here.*' > /dev/null 2> ng.err; rc=$?
set -e
assert_eq "a glob matching nothing" "1 llmtrace-analyze: nothing/here.*: no file matches" "$rc $(cat ng.err)"
pass "several files, one group"

# --- compare: reproducible with --seed; a log against itself is no significant difference ---
S=$SRC_DIR/examples/sample_trace.jsonl.gz
"$A" compare --seed 5 --bootstrap 300 base="$S" new=torn.jsonl.gz > c1.txt
"$A" compare --seed 5 --bootstrap 300 base="$S" new=torn.jsonl.gz > c2.txt
"$A" compare --seed 6 --bootstrap 300 base="$S" new=torn.jsonl.gz > c3.txt
cmp -s c1.txt c2.txt || fail "same seed, same output"
cmp -s c1.txt c3.txt && fail "another seed, another bootstrap"
pass "bootstrap reproducible with --seed"
"$A" compare --json base="$S" new="$S" > self.json
assert_eq "self-compare verdicts" "no significant difference" \
  "$(py self.json "' '.join(sorted(set(m['verdict'] for m in d['compare']['groups'][0]['metrics'])))")"
"$A" compare --html cmp.html base="$S" new=torn.jsonl.gz > /dev/null 2>&1
grep -q '<h2>Comparison</h2>' cmp.html || fail "compare --html shows the comparison"
assert_eq "compare --html charts" 6 "$(grep -c '<svg' cmp.html)"
# compare: a closed-loop / captured base (latency from the send) against an open-loop replay
# (from the schedule by default) is measured from the send on both sides, and says so.
# (--by label: replay_rate has two stages and basic none, so there is no stage to pair)
set +e
"$A" compare base="$FX/basic.jsonl" new="$FX/replay_rate.jsonl" > nostage.txt 2> nostage.err; rc=$?
set -e
assert_eq "stages against none: refused" 1 "$rc"
grep -q "compare: no stage of 'base' matches a stage of 'new' (notes above): --by label pools every stage" nostage.err || fail "refusal names --by label: $(cat nostage.err)"
grep -q '^note: stage 2 only in new: not compared$' nostage.txt || fail "unmatched stages named: $(cat nostage.txt)"
"$A" compare --by label --json base="$FX/basic.jsonl" new="$FX/replay_rate.jsonl" > orig.json 2> orig.err
grep -q 'compare: base latency from send, new from schedule by default: both measured from the send' orig.err \
  || fail "origin override on stderr: $(cat orig.err)"
assert_eq "both sides from the send" "send send" "$(py orig.json "d['compare']['latency_from']['base'] + ' ' + d['compare']['latency_from']['new']")"
assert_eq "override noted in the report" "True" "$(py orig.json "'both sides measured from the send' in d['compare']['latency_origin_note']")"
# replay_rate from the send: TTFT r1 5, r2 4, r3 3 ms → p50 4
assert_eq "new ttft p50 from the send" 4 "$(py orig.json "'%g' % [m for m in d['compare']['groups'][0]['metrics'] if m['metric'] == 'ttft_ms'][0]['new_p50']")"
"$A" compare --by label base="$FX/basic.jsonl" new="$FX/replay_rate.jsonl" 2>/dev/null | grep -q '^latency from: base send, new send$' || fail "table names the origin"
# an explicit --latency-from schedule cannot apply to a log without schedules: warned, not hidden
"$A" compare --by label --latency-from schedule base="$FX/basic.jsonl" new="$FX/replay_rate.jsonl" > sched.txt 2> sched.err
grep -q 'warning: base latency from send, new from schedule' sched.err || fail "origin warning on stderr"
grep -q '^WARNING: latency origins differ' sched.txt || fail "origin warning in the report"
pass "compare latency origins"
"$A" compare --json base="$S" new="$S" > self2.json
assert_eq "same origins: no note" "None" "$(py self2.json "d['compare']['latency_origin_note']")"
set +e
"$A" compare base="$S" > /dev/null 2>&1; rc=$?
set -e
assert_eq "compare usage error" 2 "$rc"
echo "analyze_cli: all passed"
