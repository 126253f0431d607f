#!/usr/bin/env bash
# bench/sim/bench.sh — llmtrace-sim's speed: token events/s on the zero profile at several
# stream counts (with the simulator's own CPU time, so events per simulator CPU-second is known
# even when the load client or other processes compete for the cores), 10,000 connections, and
# emission-time lateness at 1,000 concurrent streams on the default profile.
# Usage: bench/sim/bench.sh BIN_DIR   (prints Markdown rows for bench/results/sim.md)
set -euo pipefail
bin=${1:-build/bin}
tmp=$(mktemp -d)
trap 'kill $sp 2>/dev/null || true; rm -rf "$tmp"' EXIT
hz=$(getconf CLK_TCK)

start() { # args for llmtrace-sim
  rm -f "$tmp/port"
  "$bin/llmtrace-sim" --listen 127.0.0.1:0 --port-file "$tmp/port" --quiet "$@" & sp=$!
  for _ in $(seq 1 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
  port=$(cat "$tmp/port")
}
cpu() { awk '{print $14 + $15}' "/proc/$sp/stat"; }
stop() { kill "$sp"; wait "$sp" 2>/dev/null || true; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }

echo "| test | streams | client-observed events/s | sim CPU s | events per sim CPU-s | notes |"
echo "|---|---|---|---|---|---|"
for c in 1 10 100 1000; do
  start --profile zero --max-batch 100000
  a=$(cpu)
  out=$("$bin/llmtrace-simload" --port "$port" -c "$c" --duration 6 --warmup 0 --max-tokens 1000 \
        --count '{"content":"')
  b=$(cpu)
  stop
  ev=$(field matches "$out"); rate=$(field match_rate "$out")
  s=$(awk -v t=$((b - a)) -v hz="$hz" 'BEGIN{printf "%.2f", t / hz}')
  per=$(awk -v e="$ev" -v s="$s" 'BEGIN{printf "%.0f", (s > 0 ? e / s : 0)}')
  echo "| zero profile, 1000-token streams | $c | $rate | $s | $per | errors $(field errors "$out") |"
done
if command -v wrk >/dev/null; then
  for c in 100 1000; do
    start --profile zero --max-batch 100000
    a=$(cpu)
    out=$(wrk -t1 -c"$c" -d6s -s "$(dirname "$0")/post.lua" "http://127.0.0.1:$port" 2>&1)
    b=$(cpu)
    stop
    rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' <<<"$out")
    n=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' <<<"$out")
    s=$(awk -v t=$((b - a)) -v hz="$hz" 'BEGIN{printf "%.2f", t / hz}')
    echo "| zero profile, wrk -t1 + post.lua (1000-token streams) | $c | $(awk -v r="$rps" 'BEGIN{printf "%.0f", r * 1000}') | $s | $(awk -v n="$n" -v s="$s" 'BEGIN{printf "%.0f", (s > 0 ? n * 1000 / s : 0)}') | $rps req/s × 1000 events |"
  done
fi
start --profile zero --max-batch 100000
a=$(cpu)
out=$("$bin/llmtrace-simload" --port "$port" -c 10000 --duration 10 --warmup 4 --max-tokens 100 \
      --count '{"content":"')
b=$(cpu)
rss=$(awk '/VmHWM/{print $2}' "/proc/$sp/status")
stop
echo "| zero profile, 10,000 connections (100-token streams) | 10000 | $(field match_rate "$out") | $(awk -v t=$((b - a)) -v hz="$hz" 'BEGIN{printf "%.2f", t / hz}') (10 s) | | errors $(field errors "$out"), sim peak RSS ${rss} kB |"
echo
echo "| emission lateness (write − model time) | streams | max-batch | p50 µs | p99 µs | max µs | samples |"
echo "|---|---|---|---|---|---|---|"
for mb in 32 1000; do
  start --max-batch "$mb" --log "$tmp/l.jsonl.gz"
  "$bin/llmtrace-simload" --port "$port" -c 1000 --duration 8 --warmup 1 --max-tokens 128 >/dev/null
  stop
  st=$(python3 -c "
import gzip, json
t = [json.loads(l) for l in gzip.open('$tmp/l.jsonl.gz', 'rt')][-1]['stats']
print(t['emission_lateness_p50_us'], t['emission_lateness_p99_us'], t['emission_lateness_max_us'], t['emission_lateness_samples'])")
  read -r p50 p99 mx n <<<"$st"
  echo "| default profile, with --log | 1000 | $mb | $p50 | $p99 | $mx | $n |"
done
