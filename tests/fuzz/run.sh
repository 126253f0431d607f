#!/usr/bin/env bash
# Runs one libFuzzer harness for a bounded time over its seed corpus; new inputs go to a
# scratch corpus in the build tree so the source tree stays clean.
# usage: run.sh FUZZER SEED_DIR SCRATCH_DIR SECONDS [RANDOM_SEED]
# ctest passes RANDOM_SEED (1) so a finding in CI reproduces from the log; `make fuzz` omits it.
set -eu
fuzzer=$1 seeds=$2 scratch=$3 secs=$4 rseed=${5:-}
mkdir -p "$scratch"
dirs=("$scratch")
[ -d "$seeds" ] && dirs+=("$seeds")
opts=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
[ -n "$rseed" ] && opts+=(-seed="$rseed")
exec "$fuzzer" "${opts[@]}" "${dirs[@]}"
