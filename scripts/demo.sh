#!/usr/bin/env bash
# make demo: simulator + concurrency sweep + analysis + chart, on loopback, in under 2 minutes.
# Starts llmtrace-sim (default profile) on a kernel-chosen loopback port, replays the shipped
# sample trace (examples/sample_trace.jsonl.gz, made by examples/gen_sample_trace.py) at
# concurrency 1…64 while scraping the simulator's /metrics, analyzes the sweep per stage against
# an SLO (p90 TTFT <= 100 ms and TPOT <= 5 ms: the capacity answer comes first) and writes
# demo-out/report.html and demo-out/throughput_latency.png (+ .svg and the other charts). The simulator is stopped on
# every exit path (trap).
set -euo pipefail
bin=${1:-build/bin}
for t in llmtrace-sim llmtrace-replay llmtrace-analyze; do
  [ -x "$bin/$t" ] || { echo "demo: $t is not built yet" >&2; exit 1; }
done
here=$(cd "$(dirname "$0")/.." && pwd)
trace=$here/examples/sample_trace.jsonl.gz
out=${DEMO_OUT:-demo-out}
# 96 requests per stage: the c=1 stage takes ~20 s with the default profile, the whole sweep
# ~45 s, and the c=64 stage still sees more than one wave of requests.
stage_requests=${DEMO_STAGE_REQUESTS:-96}
[ -f "$trace" ] || { echo "demo: $trace missing (python3 examples/gen_sample_trace.py)" >&2; exit 1; }
mkdir -p "$out"
rm -f "$out/sim.port"

sim_pid=
cleanup() {
  if [ -n "$sim_pid" ]; then
    kill "$sim_pid" 2>/dev/null || true
    wait "$sim_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$bin/llmtrace-sim" --listen 127.0.0.1:0 --port-file "$out/sim.port" --quiet \
  --profile default --prefix-cache 2048 --log "$out/sim-truth.jsonl.gz" 2>"$out/sim.stderr" &
sim_pid=$!
for _ in $(seq 1 100); do
  [ -s "$out/sim.port" ] && break
  kill -0 "$sim_pid" 2>/dev/null || { echo "demo: llmtrace-sim exited:" >&2; cat "$out/sim.stderr" >&2; exit 1; }
  sleep 0.1
done
[ -s "$out/sim.port" ] || { echo "demo: llmtrace-sim did not report its port" >&2; exit 1; }
port=$(cat "$out/sim.port")
echo "demo: llmtrace-sim on 127.0.0.1:$port; replaying $stage_requests requests per stage at concurrency 1,2,4,8,16,32,64 …"

start=$(date +%s)
"$bin/llmtrace-replay" "$trace" --url "http://127.0.0.1:$port" --sweep 1,2,4,8,16,32,64 \
  --stage-requests "$stage_requests" --scrape --scrape-interval 250ms -o "$out/sweep.jsonl.gz" \
  --quiet
echo "demo: sweep done in $(( $(date +%s) - start )) s; analyzing"
echo

status=0
"$bin/llmtrace-analyze" --by stage --slo ttft=100,tpot=5 --plot "$out" --html "$out/report.html" \
  default="$out/sweep.jsonl.gz" -o "$out/table.txt" || status=$?
# The answer, the table's header and one row per stage; the full table (distributions) is in
# table.txt.
awk 'NF==0{if (++blank == 2) exit} {print}' "$out/table.txt"
echo
echo "demo: files"
echo "  $out/report.html               self-contained report (charts inline)"
echo "  $out/throughput_latency.png    output tokens/s vs p50/p90 E2E latency, one point per stage"
echo "  $out/throughput_latency.svg"
echo "  $out/table.txt                 full table with every distribution"
echo "  $out/sweep.jsonl.gz            replay results (trace log)"
echo "  $out/sim-truth.jsonl.gz        simulator's ground truth"
if [ "$status" -ne 0 ]; then
  echo "demo: llmtrace-analyze exited with status $status (message above); the table is complete" >&2
  exit "$status"
fi
