#!/usr/bin/env bash
# make demo: simulator + concurrency sweep + analysis + chart, on loopback, in under 2 minutes.
set -euo pipefail
bin=${1:-build/bin}
for t in llmtrace-sim llmtrace-replay llmtrace-analyze; do
  [ -x "$bin/$t" ] || { echo "demo: $t is not built yet" >&2; exit 1; }
done
