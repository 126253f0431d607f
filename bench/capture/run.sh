#!/usr/bin/env bash
# bench/capture/run.sh — offline throughput of llmtrace-capture on a generated pcap of many
# concurrent SSE streams, against `tshark -r FILE -Y http` on the same file when tshark is
# installed (apt-get install tshark). One core: both tools are single-threaded for this.
# usage: bench/capture/run.sh BUILD_DIR [MB] [CONNECTIONS] [EVENTS]   (prints a Markdown table)
set -euo pipefail
build=${1:?usage: run.sh BUILD_DIR [MB] [CONNECTIONS] [EVENTS]}
mb=${2:-100} conns=${3:-256} events=${4:-200}
bin=$build/bin
tmp=$(mktemp -d /tmp/capbench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pcap=$tmp/bench.pcap
"$bin/capture-bench-gen" "$pcap" "$mb" "$conns" "$events" 2>"$tmp/gen.txt"
size=$(stat -c %s "$pcap")

# CPU seconds (user + sys) and wall seconds of a command, best of N runs
measure() {
  local n=$1; shift
  local best_cpu=999999 best_wall=0 i out
  for i in $(seq 1 "$n"); do
    /usr/bin/time -o "$tmp/time.txt" -f "%U %S %e" "$@" >/dev/null 2>&1
    out=$(tail -1 "$tmp/time.txt")
    read -r u s w <<<"$out"
    cpu=$(awk -v u="$u" -v s="$s" 'BEGIN{printf "%.3f", u+s}')
    if awk -v a="$cpu" -v b="$best_cpu" 'BEGIN{exit !(a<b)}'; then best_cpu=$cpu best_wall=$w; fi
  done
  echo "$best_cpu $best_wall"
}

read -r cap_cpu cap_wall < <(measure 3 taskset -c 0 "$bin/llmtrace-capture" -q -r "$pcap" -w "$tmp/out.jsonl.gz")
"$bin/llmtrace-capture" -r "$pcap" -w "$tmp/out.jsonl.gz" 2>"$tmp/cap.txt"
read -r capn_cpu capn_wall < <(measure 3 taskset -c 0 "$bin/llmtrace-capture" -q -r "$pcap" -w /dev/null --no-bodies)
mbps() { awk -v b="$size" -v s="$1" 'BEGIN{printf "%.0f", b / 1e6 / s}'; }

echo "Input: $(cat "$tmp/gen.txt")"
echo
echo "| tool | CPU s | wall s | MB/s per core (CPU) | MB/s (wall) |"
echo "|---|---|---|---|---|"
echo "| llmtrace-capture -r -w out.jsonl.gz | $cap_cpu | $cap_wall | $(mbps "$cap_cpu") | $(mbps "$cap_wall") |"
echo "| llmtrace-capture -r -w /dev/null --no-bodies | $capn_cpu | $capn_wall | $(mbps "$capn_cpu") | $(mbps "$capn_wall") |"
if command -v tshark >/dev/null; then
  read -r ts_cpu ts_wall < <(measure 1 taskset -c 0 tshark -r "$pcap" -Y http)
  echo "| tshark -r -Y http ($(tshark --version | head -1 | awk '{print $3}')) | $ts_cpu | $ts_wall | $(mbps "$ts_cpu") | $(mbps "$ts_wall") |"
  echo
  echo "Ratio (CPU): $(awk -v a="$ts_cpu" -v b="$cap_cpu" 'BEGIN{printf "%.1f", a/b}')x faster than tshark"
else
  echo
  echo "tshark not installed: no comparison"
fi
echo
echo "capture summary: $(head -1 "$tmp/cap.txt")"
