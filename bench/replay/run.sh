#!/usr/bin/env bash
# bench/replay/run.sh — llmtrace-replay against llmtrace-sim on this machine (loopback):
#  1. streamed token events per CPU-second of the replay client (one worker thread),
#  2. schedule lag at 1,000 requests/s open loop,
#  3. timestamp error against the simulator's ground-truth log (tserr.py),
#  4. many concurrent streams (default 5,000),
#  5. the same streams through a Python aiohttp client (py_client.py; needs python3-aiohttp)
#     next to llmtrace-replay recording bodies and text, events per CPU-second of each,
#  6. the same comparison on the default profile, where every token arrives on its own,
#  7. client CPU per token, paced and bursty, pinned to one core (cpu.sh; OLD_BIN=dir adds
#     another build, e.g. the libcurl client of before formats/net).
# usage: bench/replay/run.sh [BIN_DIR]   (default build/bin); results go to stdout.
# Numbers from a shared 2-core machine are noisy; run it once on a quiet machine to quote them.
set -euo pipefail
BIN=${1:-build/bin}
HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d /tmp/llmtrace-bench-replay.XXXXXX)
SIM_PID=
trap '[ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null; rm -rf "$W"' EXIT
CONC=${CONC:-5000}

start_sim() {
  [ -n "$SIM_PID" ] && { kill -INT "$SIM_PID"; wait "$SIM_PID" 2>/dev/null || true; }
  rm -f "$W/port"
  "$BIN/llmtrace-sim" --listen 127.0.0.1:0 --port-file "$W/port" --quiet "$@" &
  SIM_PID=$!
  for _ in $(seq 100); do [ -s "$W/port" ] && break; sleep 0.05; done
  URL=http://127.0.0.1:$(cat "$W/port")
}

# trace N MAX_TOKENS: N streaming chat requests.
trace() {
  python3 - "$W/t$1.jsonl.gz" "$1" "$2" <<'PY'
import gzip, json, sys
out, n, mt = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with gzip.open(out, "wt") as f:
    f.write(json.dumps({"type": "header", "schema": 1, "tool": "bench", "version": "0", "start_us": 0}) + "\n")
    for i in range(n):
        f.write(json.dumps({"type": "exchange", "id": "b%d" % i, "start_us": i * 1000,
            "request": {"method": "POST", "path": "/v1/chat/completions", "headers": [],
                        "body": {"model": "m", "stream": True, "max_tokens": mt,
                                 "messages": [{"role": "user", "content": "benchmark %d" % i}]}},
            "response": {"status": 200, "events": []}, "error": None}) + "\n")
PY
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== 1. token events per CPU-second (1 worker, -c 64, 2000 tokens/request, 1 token/event)"
start_sim --profile zero --max-batch 100000 --tokens-per-event 1
trace 64 2000
/usr/bin/time -f "%U %S %e" -o "$W/time" "$BIN/llmtrace-replay" "$W/t64.jsonl.gz" --url "$URL" \
  --sweep 64 --stage-requests 300 --ignore-eos --no-bodies -q -o "$W/ev.jsonl.gz"
python3 - "$W/ev.jsonl.gz" "$W/time" <<'PY'
import gzip, json, sys
ev = sum(len(json.loads(l)["response"]["events"]) for l in gzip.open(sys.argv[1], "rt") if '"exchange"' in l)
u, s, e = map(float, open(sys.argv[2]).read().split())
print("events %d, replay cpu %.2fs (user %.2f sys %.2f), wall %.2fs -> %.0f events per cpu-second, %.0f events/s wall"
      % (ev, u + s, u, s, e, ev / (u + s), ev / e))
PY

echo "== 2. schedule lag at 1,000 req/s open loop (poisson, 10 s, 16 tokens/request)"
trace 1000 16
"$BIN/llmtrace-replay" "$W/t1000.jsonl.gz" --url "$URL" --rate 1000 --loop --duration 10s \
  --ignore-eos -q -o "$W/lag.jsonl.gz"
python3 - "$W/lag.jsonl.gz" <<'PY'
import gzip, json, sys
recs = [json.loads(l) for l in gzip.open(sys.argv[1], "rt")]
ex = [r for r in recs if r["type"] == "exchange"]
lag = sorted(r["start_us"] - r["replay"]["sched_us"] for r in ex)
def pct(v, q):
    pos = q * (len(v) - 1); lo = int(pos)
    return v[-1] if lo + 1 >= len(v) else v[lo] + (pos - lo) * (v[lo + 1] - v[lo])
err = sum(1 for r in ex if r["error"])
print("requests %d (errors %d): lag p50 %.0f us, p99 %.0f us, p99.9 %.0f us, max %d us"
      % (len(ex), err, pct(lag, .5), pct(lag, .99), pct(lag, .999), lag[-1]))
PY

echo "== 3. timestamp error vs the simulator's ground truth (200 req/s, 5 s, 64 tokens/request)"
start_sim --profile default --max-batch 256 --log "$W/truth.jsonl.gz"
trace 200 64
"$BIN/llmtrace-replay" "$W/t200.jsonl.gz" --url "$URL" --rate 200 --loop --duration 5s \
  --ignore-eos -q -o "$W/ts.jsonl.gz"
kill -INT "$SIM_PID"; wait "$SIM_PID" 2>/dev/null || true; SIM_PID=
python3 "$HERE/tserr.py" "$W/ts.jsonl.gz" "$W/truth.jsonl.gz"

echo "== 4. $CONC concurrent streams (-c $CONC, 200 tokens/request, default profile)"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
start_sim --profile default --max-batch "$CONC"
trace 100 200
/usr/bin/time -f "%U %S %e %M" -o "$W/time4" "$BIN/llmtrace-replay" "$W/t100.jsonl.gz" --url "$URL" \
  --sweep "$CONC" --stage-requests "$CONC" --ignore-eos --no-bodies -q -o "$W/conc.jsonl.gz"
python3 - "$W/conc.jsonl.gz" "$W/time4" <<'PY'
import gzip, json, sys
ex = [json.loads(l) for l in gzip.open(sys.argv[1], "rt") if '"exchange"' in l]
ev = sorted([(r["start_us"], 1) for r in ex] + [(r["start_us"] + r["response"]["end_us"], -1) for r in ex])
cur = best = 0
for _, d in ev:
    cur += d; best = max(best, cur)
u, s, e, m = open(sys.argv[2]).read().split()
print("requests %d, errors %d, max in flight %d, tokens %d, wall %ss, replay cpu %.2fs, max rss %s kB"
      % (len(ex), sum(1 for r in ex if r["error"]), best, sum(r["tokens_out"] or 0 for r in ex), e, float(u) + float(s), m))
PY

# compare N TOKENS SIM_ARGS...: the Python client and llmtrace-replay (recording bodies and
# text), one after the other, -c 64, N requests of TOKENS tokens each, events per CPU-second.
compare() {
  local n=$1 tok=$2
  shift 2
  start_sim "$@"
  if "$PY" -c 'import aiohttp' 2>/dev/null; then
    "$PY" "$HERE/py_client.py" "$URL" 64 "$n" "$tok"
  else
    echo "python aiohttp: not installed (apt-get install python3-aiohttp), skipped"
  fi
  /usr/bin/time -f "%U %S %e" -o "$W/time5" "$BIN/llmtrace-replay" "$W/t64.jsonl.gz" --url "$URL" \
    --sweep 64 --stage-requests "$n" --max-tokens "$tok" --ignore-eos -q -o "$W/cmp.jsonl.gz"
  python3 - "$W/cmp.jsonl.gz" "$W/time5" <<'PY'
import gzip, json, sys
ev = sum(len(json.loads(l)["response"]["events"]) for l in gzip.open(sys.argv[1], "rt") if '"exchange"' in l)
u, s, e = map(float, open(sys.argv[2]).read().split())
print("llmtrace-replay: events %d, cpu %.2fs, wall %.2fs -> %.0f events per cpu-second (%.2f us/event), %.0f events/s wall"
      % (ev, u + s, e, ev / (u + s), 1e6 * (u + s) / ev, ev / e))
PY
}
PY=${PYTHON_AIOHTTP:-/usr/bin/python3}
echo "== 5. Python aiohttp client vs llmtrace-replay, zero profile (-c 64, 512 requests x 2000 tokens; events arrive in bursts)"
compare 512 2000 --profile zero --max-batch 100000 --tokens-per-event 1
echo "== 6. the same on the default profile (-c 64, 128 requests x 1000 tokens; one event per read, as from a real server)"
compare 128 1000 --profile default --max-batch 64
echo "== 7. client CPU per token, paced and bursty (cpu.sh)"
bash "$HERE/cpu.sh" "$BIN"
