#!/usr/bin/env bash
# bench/sessions/run.sh — conversations replayed as conversations, against llmtrace-sim with a
# prefix cache: the ShareGPT multi-turn sample (tests/fixtures/sessions) with --history live
# and --history recorded, each against a fresh sim (so neither inherits the other's cache),
# REPS times; and the Mooncake-derived sample. Prints Markdown: per run the prompt share
# served from the cache and TTFT p50 on turns >= 2 (turn index >= 1), the sim's own hit rate
# (/metrics), and the per-session checks (turns before their predecessor's end; schedule and
# send lateness against end + think time).
# usage: bench/sessions/run.sh [BIN_DIR] [REPS]   (default build/bin, 3)
set -euo pipefail
bin=$(cd "${1:-build/bin}" && pwd)
reps=${2:-3}
src=$(cd "$(dirname "$0")/../.." && pwd)
fx=$src/tests/fixtures/sessions
check=$src/tests/e2e/sessions_check.py
PY=/usr/bin/python3
tmp=$(mktemp -d)
sim_pid=
cleanup() { [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
SIM="--tokenizer words --prefix-cache 4096 --block-size 16 --profile linear:2,0.1,0.3"

start_sim() {
  rm -f "$tmp/port"
  "$bin/llmtrace-sim" --listen 127.0.0.1:0 --port-file "$tmp/port" --quiet "$@" &
  sim_pid=$!
  for _ in $(seq 1 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
  url=http://127.0.0.1:$(cat "$tmp/port")
}
stop_sim() { kill "$sim_pid"; wait "$sim_pid" 2>/dev/null || true; sim_pid=; }
hit_rate() { curl -s "$url/metrics" | awk '$1 == "llmtrace_sim_prefix_cache_hit_rate" {print $2}'; }
turns_ge2() { # LOG → "cached share, TTFT p50 ms" of turn index >= 1
  $PY - "$1" <<'PY'
import gzip, json, sys
c = t = 0; v = []
for l in gzip.open(sys.argv[1], 'rt'):
    r = json.loads(l)
    if r.get('type') != 'exchange' or r['session']['turn'] < 1 or r['error']: continue
    c += r['usage']['cached_tokens']; t += r['usage']['prompt_tokens']
    v.append(next(e[0] for e in r['response']['events'] if e[2]) / 1e3)
v.sort()
n = len(v); h = 0.5 * (n - 1); lo = int(h)
p50 = v[lo] + (h - lo) * (v[min(lo + 1, n - 1)] - v[lo])
print("%.1f %% | %.2f ms" % (100.0 * c / t, p50))
PY
}
checks() { # INPUT RUN [args] → "early, sched err, lag p50/p95/max, think err max"
  $PY "$check" "$@" | $PY -c 'import json,sys; d=json.load(sys.stdin); print("%d turns | %d | %g µs | %.0f / %.0f / %.0f µs | %.0f µs" % (d["turns"], d["early"], d["sched_err_max_us"], d["lag_p50_us"], d["lag_p95_us"], d["lag_max_us"], d["think_err_max_us"]))'
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ), commit $(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo ?)"
echo
"$bin/llmtrace-convert" -q --from sharegpt --rate 20 --arrival constant "$fx/sharegpt_multiturn.json" -o "$tmp/sg.jsonl.gz"
echo "ShareGPT sample (8 conversations, 31 turns), \`llmtrace-sim $SIM\`, \`llmtrace-replay sg.jsonl.gz --sessions -c 4 --think-time 100ms --history H\`, a fresh sim per run:"
echo
echo "| run | history | cached share, turns ≥ 2 | TTFT p50, turns ≥ 2 | sim hit rate (all turns) | turns sent | before predecessor's end | schedule − (end + think), max | send lag p50 / p95 / max | think error, max |"
echo "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|"
for i in $(seq 1 "$reps"); do
  for h in live recorded; do
    start_sim $SIM
    "$bin/llmtrace-replay" -q "$tmp/sg.jsonl.gz" --url "$url" --sessions -c 4 --think-time 100ms --history $h -o "$tmp/$h.$i.jsonl.gz"
    rate=$(hit_rate)
    stop_sim
    echo "| $i | $h | $(turns_ge2 "$tmp/$h.$i.jsonl.gz") | $rate | $(checks "$tmp/sg.jsonl.gz" "$tmp/$h.$i.jsonl.gz" --think-us 100000) |"
  done
done
echo
"$bin/llmtrace-analyze" --by turn live="$tmp/live.1.jsonl.gz" recorded="$tmp/recorded.1.jsonl.gz" --markdown | sed -n '1,13p'
echo
"$bin/llmtrace-convert" -q --sessions infer --tokens-per-word 1 "$fx/mooncake_conversation.jsonl" -o "$tmp/mc.jsonl.gz"
echo "Mooncake-derived sample (16 sessions, 42 requests, linked by hash_ids), \`llmtrace-sim --tokenizer words --prefix-cache 65536 --block-size 16 --profile linear:1,0.02,0.01\`, \`llmtrace-replay mc.jsonl.gz --sessions -c 8 --speed 1000 --max-tokens 16\` (think = the recorded start gap ÷ 1000):"
echo
echo "| run | cached share, turns ≥ 2 | TTFT p50, turns ≥ 2 | sim hit rate | turns sent | before predecessor's end | schedule − (end + think), max | send lag p50 / p95 / max | think error, max |"
echo "|---|--:|--:|--:|--:|--:|--:|--:|--:|"
for i in $(seq 1 "$reps"); do
  start_sim --tokenizer words --prefix-cache 65536 --block-size 16 --profile linear:1,0.02,0.01
  "$bin/llmtrace-replay" -q "$tmp/mc.jsonl.gz" --url "$url" --sessions -c 8 --speed 1000 --max-tokens 16 -o "$tmp/mc.$i.jsonl.gz"
  rate=$(hit_rate)
  stop_sim
  echo "| $i | $(turns_ge2 "$tmp/mc.$i.jsonl.gz") | $rate | $(checks "$tmp/mc.jsonl.gz" "$tmp/mc.$i.jsonl.gz" --speed 1000) |"
done
