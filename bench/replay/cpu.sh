#!/usr/bin/env bash
# bench/replay/cpu.sh — client CPU per streamed token, the number issue 17 is about, for
# llmtrace-replay, an older llmtrace-replay build (OLD_BIN, e.g. the libcurl client) and the
# Python aiohttp client (py_client.py, written like vLLM's benchmark_serving.py), in one run:
#   paced:  llmtrace-sim's default profile (one token per stream per engine step, so mostly
#           one SSE event per socket read, as from a real server);
#   bursty: --profile zero (steps take no time; many events per read).
# -c 32, 256 requests x 1024 tokens each regime; the simulator pinned to CPU 0, the client to
# CPU 1; the CPU of a 1-request run (process start, input, log) is subtracted for the C clients
# (the Python client measures its own rusage around the requests only).
# usage: bench/replay/cpu.sh [BIN_DIR]   (OLD_BIN=dir to compare another build)
set -euo pipefail
BIN=${1:-build/bin}
HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d /tmp/llmtrace-bench-cpu.XXXXXX)
SIM_PID=
trap '[ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null; rm -rf "$W"' EXIT
N=${N:-256}
TOK=${TOK:-1024}
C=${C:-32}
PY=${PYTHON_AIOHTTP:-/usr/bin/python3}

start_sim() {
  [ -n "$SIM_PID" ] && { kill -INT "$SIM_PID"; wait "$SIM_PID" 2>/dev/null || true; }
  rm -f "$W/port"
  taskset -c 0 "$BIN/llmtrace-sim" --listen 127.0.0.1:0 --port-file "$W/port" --quiet \
    --max-batch 100000 "$@" &
  SIM_PID=$!
  for _ in $(seq 100); do [ -s "$W/port" ] && break; sleep 0.05; done
  URL=http://127.0.0.1:$(cat "$W/port")
}

/usr/bin/python3 - "$W/t.jsonl.gz" "$C" <<'PY'
import gzip, json, sys
out, n = sys.argv[1], int(sys.argv[2])
with gzip.open(out, "wt") as f:
    f.write(json.dumps({"type": "header", "schema": 1, "tool": "bench", "version": "0", "start_us": 0}) + "\n")
    for i in range(n):
        f.write(json.dumps({"type": "exchange", "id": "b%d" % i, "start_us": i * 1000,
            "request": {"method": "POST", "path": "/v1/chat/completions", "headers": [],
                        "body": {"model": "m", "stream": True, "max_tokens": 1,
                                 "messages": [{"role": "user", "content": "benchmark %d" % i}]}}}) + "\n")
PY

# cpu_of BIN REQUESTS TOKENS: user+sys seconds of one llmtrace-replay run
cpu_of() {
  taskset -c 1 /usr/bin/time -f "%U %S" -o "$W/time" "$1/llmtrace-replay" "$W/t.jsonl.gz" \
    --url "$URL" --sweep "$C" --stage-requests "$2" --max-tokens "$3" --ignore-eos -q \
    -o "$W/out.jsonl.gz"
  awk '{ printf "%.3f", $1 + $2 }' "$W/time"
}

# measure NAME BIN: µs of client CPU per token, start-up subtracted
measure() {
  local base full
  base=$(cpu_of "$2" 1 1)
  full=$(cpu_of "$2" "$N" "$TOK")
  local toks
  toks=$(/usr/bin/python3 -c 'import gzip,json,sys; print(sum((json.loads(l).get("tokens_out") or 0) for l in gzip.open(sys.argv[1],"rt") if "\"exchange\"" in l))' "$W/out.jsonl.gz")
  awk -v n="$1" -v f="$full" -v b="$base" -v t="$toks" \
    'BEGIN { printf "  %-34s cpu %6.2fs - start %5.2fs over %d tokens: %6.2f us/token\n", n, f, b, t, 1e6 * (f - b) / t }'
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for regime in paced bursty; do
  if [ "$regime" = paced ]; then start_sim --profile default; else start_sim --profile zero --tokens-per-event 1; fi
  echo "== $regime (-c $C, $N requests x $TOK tokens, $([ $regime = paced ] && echo 'default profile' || echo 'zero profile'))"
  measure "llmtrace-replay" "$BIN"
  [ -n "${OLD_BIN:-}" ] && measure "llmtrace-replay (OLD_BIN)" "$OLD_BIN"
  if "$PY" -c 'import aiohttp' 2>/dev/null; then
    taskset -c 1 "$PY" "$HERE/py_client.py" "$URL" "$C" "$N" "$TOK" |
      awk '{ for (i = 1; i <= NF; i++) if ($i ~ /us\/event\)/) { v = $(i-1); gsub(/\(/, "", v) }
             print "  python aiohttp (vLLM benchmark style)  " v " us/token (" $0 ")" }'
  else
    echo "  python aiohttp: not installed (apt-get install python3-aiohttp)"
  fi
done
