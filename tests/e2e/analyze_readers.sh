# analyze_readers: formats/SCHEMA.md's promise that pandas and DuckDB read a trace log as is,
# as tests: the SCHEMA.md recipes (tests/e2e/analyze_readers.py with Debian's python3-pandas for
# /usr/bin/python3; tests/e2e/analyze_duckdb.mjs with DuckDB's Node API from npm) on a log of
# each tool — llmtrace-sim's ground truth, llmtrace-replay, llmtrace-capture, llmtrace-convert —
# whole and with a torn tail (cut inside its last gzip member), and the numbers they compute
# (exchanges, median TTFT, median tokens_out) equal llmtrace-analyze's.
# DuckDB is installed under the build tree (BUILD/npm-duckdb, not committed) on first use, from
# npm's cache when it has it; an install that fails is a test failure, never a skip.
source "$(dirname "$0")/lib.sh"
A=$BIN/llmtrace-analyze
cd "$TEST_TMP"
/usr/bin/python3 -c 'import pandas' 2>/dev/null || fail "python3-pandas is missing (scripts/deps.sh installs it)"
command -v node >/dev/null && command -v npm >/dev/null || fail "node/npm missing (scripts/deps.sh installs them)"
DUCK_VERSION=1.5.6-r.1
NPM_DIR=$(cd "$BIN/.." && pwd)/npm-duckdb
npm_pinned "$NPM_DIR" @duckdb/node-api "$DUCK_VERSION"
cp "$SRC_DIR/tests/e2e/analyze_duckdb.mjs" "$NPM_DIR/"

# one log per tool
start_sim --profile default --log sim.jsonl.gz
timeout 60 "$BIN/llmtrace-replay" "$SRC_DIR/examples/sample_trace.jsonl.gz" --url "$SIM_URL" \
  -c 4 --limit 60 --max-tokens 24 -o replay.jsonl.gz --quiet
stop_pid "$SIM_PID"
"$BIN/capture-bench-gen" g.pcap 12 16 50 2>/dev/null
"$BIN/llmtrace-capture" -q -r g.pcap -w capture.jsonl.gz
"$BIN/llmtrace-convert" -q "$DATA/AzureLLMInferenceTrace_conv.csv" -o convert.jsonl.gz

for t in sim replay capture convert; do
  # the torn copy: cut halfway into the last gzip member (found with Python's zlib)
  /usr/bin/python3 - "$t.jsonl.gz" "${t}_torn.jsonl.gz" <<'PY'
import sys, zlib
data = open(sys.argv[1], 'rb').read()
starts, off = [], 0
while off < len(data):
    starts.append(off)
    d = zlib.decompressobj(31)
    d.decompress(data[off:])
    off = len(data) - len(d.unused_data)
assert len(starts) >= 2, "%s: %d gzip member(s)" % (sys.argv[1], len(starts))
cut = starts[-1] + (len(data) - starts[-1]) // 2
open(sys.argv[2], 'wb').write(data[:cut])
print("%s: %d members, cut at byte %d of %d" % (sys.argv[1], len(starts), cut, len(data)))
PY
  for f in "$t.jsonl.gz" "${t}_torn.jsonl.gz"; do
    "$A" --json "$f" > "$f.json" 2> "$f.err" || fail "analyze $f: $(cat "$f.err")"
    /usr/bin/python3 "$SRC_DIR/tests/e2e/analyze_readers.py" "$f" "$f.json" || fail "pandas on $f"
    (cd "$NPM_DIR" && node analyze_duckdb.mjs "$TEST_TMP/$f" "$TEST_TMP/$f.json") || fail "duckdb on $f"
  done
  grep -q 'not closed cleanly' "${t}_torn.jsonl.gz.err" || fail "$t: torn copy not reported torn"
done
pass "pandas and DuckDB agree with analyze on every tool's log, whole and torn"
echo "analyze_readers: all passed"
