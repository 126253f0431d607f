#!/usr/bin/env bash
# Runs one libFuzzer harness for a bounded time over its seed corpus; new inputs go to a
# scratch corpus in the build tree so the source tree stays clean.
# usage: run.sh FUZZER SEED_DIR SCRATCH_DIR SECONDS
set -eu
fuzzer=$1 seeds=$2 scratch=$3 secs=$4
mkdir -p "$scratch"
dirs=("$scratch")
[ -d "$seeds" ] && dirs+=("$seeds")
exec "$fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    "${dirs[@]}"
