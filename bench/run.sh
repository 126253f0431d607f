#!/usr/bin/env bash
# bench/run.sh — runs every benchmark in bench/ against a build and prints Markdown to stdout.
# usage: bench/run.sh [BIN_DIR]   (default build/bin; `make bench` passes it)
# Each area's script can also run alone; bench/README.md says what each one measures.
# Everything talks to 127.0.0.1 only and stops by itself. Takes ~15 minutes on 2 cores (bench/search ~4 of them).
set -euo pipefail
bin=${1:-build/bin}
build=$(cd "$bin/.." && pwd)
here=$(cd "$(dirname "$0")" && pwd)
cmake --build "$build" -j2 --target bench_tlog bench_llmstream llmtrace-simload capture-bench-gen capture-bench-fwd >/dev/null

section() { printf '\n## %s\n\n' "$1"; echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"; echo; }

section "trace log (formats/tlog): writer records/s, reader MB/s"
"$bin/bench_tlog" 100000 "${TMPDIR:-/tmp}"
section "stream decoding (formats/llmstream): events/s"
"$bin/bench_llmstream" 1000000
section "llmtrace-sim"
bash "$here/sim/bench.sh" "$bin"
section "llmtrace-replay"
bash "$here/replay/run.sh" "$bin"
section "llmtrace-capture (offline)"
bash "$here/capture/run.sh" "$build" 100
section "llmtrace-capture --listen (recording proxy): added latency per event"
bash "$here/capture/proxy.sh" "$bin" 100 1000
section "llmtrace-analyze"
bash "$here/analyze/run.sh" "$bin" 1000000
section "sessions (llmtrace-replay --sessions vs llmtrace-sim --prefix-cache)"
bash "$here/sessions/run.sh" "$bin" 3
section "capacity search (llmtrace-replay --search vs --sweep, same answer)"
bash "$here/search/run.sh" "$bin"
