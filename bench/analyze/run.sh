#!/usr/bin/env bash
# bench/analyze/run.sh BIN_DIR [N] — analyzer throughput (MB/s of uncompressed log per core)
# and peak RSS on a generated replay-results log of N exchanges (default 1,000,000). Prints
# one Markdown row per run; bench/results/analyze.md keeps the recorded numbers.
set -euo pipefail
bin=${1:-build/bin}
n=${2:-1000000}
here=$(cd "$(dirname "$0")" && pwd)
tmp=${BENCH_TMP:-$(mktemp -d /tmp/llmtrace-bench-analyze.XXXXXX)}
log=$tmp/bench-$n.jsonl.gz
[ -s "$log" ] || python3 "$here/gen_log.py" "$log" "$n" 32
raw=$(gzip -dc "$log" | wc -c)
echo "| command | exchanges | uncompressed MB | CPU s (user+sys) | MB/s per core | wall s | peak RSS MB |"
echo "|---|--:|--:|--:|--:|--:|--:|"
for args in "--json" "--by stage --json"; do
  # shellcheck disable=SC2086
  /usr/bin/time -f "%U %S %e %M" -o "$tmp/time.txt" taskset -c 0 "$bin/llmtrace-analyze" $args \
    "$log" > "$tmp/out.json"
  read -r u s e m < "$tmp/time.txt"
  awk -v a="$args" -v n="$n" -v raw="$raw" -v u="$u" -v s="$s" -v e="$e" -v m="$m" 'BEGIN {
    cpu = u + s; printf "| analyze %s | %d | %.0f | %.2f | %.0f | %.2f | %.0f |\n",
    a, n, raw / 1e6, cpu, raw / 1e6 / cpu, e, m / 1024 }'
done
# the reader alone (no metrics): how much of the time is parsing
echo "(log: $log; zcat alone: $( { /usr/bin/time -f %e gzip -dc "$log" > /dev/null; } 2>&1 ) s)"
