#!/usr/bin/env bash
# bench/capture/proxy.sh — the recording proxy's added latency (llmtrace-capture --listen):
# llmtrace-replay at N concurrent streams → proxy → llmtrace-sim, paced tokens
# (`linear:20,0.01,0`: one step every 20 ms + 0.01 ms per sequence in the batch, every stream
# decoding in the same step, so each step's events reach the proxy as one burst of N). Reports,
# from the proxy's own log, the added latency per event (response.added_us = written to the
# client − kernel receive time from upstream): p50, p99, p99.9, max; the proxy's CPU per event
# (user + sys from /proc); its max RSS; and whether every request got a whole record.
# With 2+ cores the proxy is pinned to the last core and the simulator and replay to the others
# (taskset), so the proxy's numbers are its own, not the queue for a core it shares.
# Each row is followed by the floor: the same load through capture-bench-fwd
# (bench/capture/fwd_floor.c), a bare forwarder that only does epoll_wait, recvmsg with the
# kernel receive time and send per upstream read ("added" per read; CPU per read).
# usage: bench/capture/proxy.sh BIN_DIR [STREAMS…]   (default 100 1000)
set -euo pipefail
bin=${1:?usage: proxy.sh BIN_DIR [STREAMS...]}
shift
[ -x "$bin/capture-bench-fwd" ] || { echo "proxy.sh: $bin/capture-bench-fwd not built" >&2; exit 1; }
[ $# -gt 0 ] || set -- 100 1000
tmp=$(mktemp -d /tmp/capproxy.XXXXXX)
pids=()
trap 'for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"' EXIT
tokens=64
ncpu=$(nproc)
pin_px="" pin_load=""
if [ "$ncpu" -ge 2 ] && command -v taskset >/dev/null; then
  pin_px="taskset -c $((ncpu - 1))"
  pin_load="taskset -c 0-$((ncpu - 2))"
fi
echo "| forwarder | streams | requests | events | added p50 µs | p99 µs | p99.9 µs | max µs | proxy CPU µs/event | proxy max RSS MB | whole records |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for n in "$@"; do
  req=$((n * 3))
  rm -f "$tmp/sim.port" "$tmp/px.port"
  $pin_load "$bin/llmtrace-sim" --listen 127.0.0.1:0 --port-file "$tmp/sim.port" --quiet \
    --profile linear:20,0.01,0 --max-batch "$n" & pids+=($!); sim=$!
  for _ in $(seq 1 100); do [ -s "$tmp/sim.port" ] && break; sleep 0.1; done
  $pin_px "$bin/llmtrace-capture" --listen 127.0.0.1:0 --port-file "$tmp/px.port" -q \
    --upstream "http://127.0.0.1:$(cat "$tmp/sim.port")" -w "$tmp/px.jsonl.gz" --no-bodies &
  pids+=($!); px=$!
  for _ in $(seq 1 100); do [ -s "$tmp/px.port" ] && break; sleep 0.1; done
  for i in $(seq 1 "$req"); do
    printf '{"custom_id":"b%d","method":"POST","url":"/v1/chat/completions","body":{"model":"m","stream":true,"max_tokens":%d,"messages":[{"role":"user","content":"bench request %d"}]}}\n' \
      "$i" "$tokens" "$i"
  done >"$tmp/in.jsonl"
  $pin_load "$bin/llmtrace-replay" "$tmp/in.jsonl" --url "http://127.0.0.1:$(cat "$tmp/px.port")" \
    -o "$tmp/rep.jsonl.gz" -c "$n" --max-tokens original --ignore-eos --no-bodies -q \
    2>"$tmp/rep.err" || true
  read -r ut st < <(awk '{print $14, $15}' /proc/$px/stat)
  rss=$(awk '/^VmHWM:/{print $2}' /proc/$px/status)
  hz=$(getconf CLK_TCK)
  kill -TERM "$px"; wait "$px" || true
  kill -INT "$sim"; wait "$sim" || true
  python3 - "$tmp/px.jsonl.gz" "$n" "$req" "$ut" "$st" "$hz" "$rss" "$tokens" <<'PY'
import gzip, json, sys
path, n, req, ut, st, hz, rss, tokens = sys.argv[1:]
recs = [json.loads(l) for l in gzip.open(path, "rt") if l.strip()]
ex = [r for r in recs if r.get("type") == "exchange"]
added = sorted(a for r in ex for a in r["response"].get("added_us", []) if a is not None)
def q(p):
    if not added:
        return float("nan")
    k = (len(added) - 1) * p
    i = int(k)
    j = min(i + 1, len(added) - 1)
    return added[i] + (added[j] - added[i]) * (k - i)
cpu_us = (int(ut) + int(st)) / int(hz) * 1e6
whole = sum(1 for r in ex if r["error"] is None and r["tokens_out"] == int(tokens))
print("| llmtrace-capture --listen | %s | %s | %d | %.0f | %.0f | %.0f | %d | %.2f | %.0f | %d/%s |" % (
    n, req, len(added), q(.5), q(.99), q(.999), added[-1] if added else -1,
    cpu_us / max(len(added), 1), int(rss) / 1024, whole, req))
PY
  # the floor: the same load through the bare forwarder
  rm -f "$tmp/sim.port" "$tmp/fw.port"
  $pin_load "$bin/llmtrace-sim" --listen 127.0.0.1:0 --port-file "$tmp/sim.port" --quiet \
    --profile linear:20,0.01,0 --max-batch "$n" & pids+=($!); sim=$!
  for _ in $(seq 1 100); do [ -s "$tmp/sim.port" ] && break; sleep 0.1; done
  $pin_px "$bin/capture-bench-fwd" "$tmp/fw.port" "$(cat "$tmp/sim.port")" >"$tmp/fw.out" &
  pids+=($!); fw=$!
  for _ in $(seq 1 100); do [ -s "$tmp/fw.port" ] && break; sleep 0.1; done
  $pin_load "$bin/llmtrace-replay" "$tmp/in.jsonl" --url "http://127.0.0.1:$(cat "$tmp/fw.port")" \
    -o "$tmp/rep2.jsonl.gz" -c "$n" --max-tokens original --ignore-eos --no-bodies -q \
    2>"$tmp/rep2.err" || true
  read -r ut st < <(awk '{print $14, $15}' /proc/$fw/stat)
  rss=$(awk '/^VmHWM:/{print $2}' /proc/$fw/status)
  kill -TERM "$fw"; wait "$fw" || true
  kill -INT "$sim"; wait "$sim" || true
  python3 - "$tmp/rep2.jsonl.gz" "$tmp/fw.out" "$n" "$req" "$ut" "$st" "$hz" "$rss" "$tokens" <<'PY'
import gzip, json, sys
path, out, n, req, ut, st, hz, rss, tokens = sys.argv[1:]
ex = [r for r in map(json.loads, gzip.open(path, "rt")) if r.get("type") == "exchange"]
f = open(out).read().split()
v = dict(zip(f[0::2], f[1::2]))
reads = int(v["reads"])
cpu_us = (int(ut) + int(st)) / int(hz) * 1e6
whole = sum(1 for r in ex if r["error"] is None and r["tokens_out"] == int(tokens))
print("| bare forwarder (floor) | %s | %s | %d reads | %s | %s | %s | %s | %.2f per read | %.0f | %d/%s |" % (
    n, req, reads, v["p50_us"], v["p99_us"], v["p999_us"], v["max_us"],
    cpu_us / max(reads, 1), int(rss) / 1024, whole, req))
PY
done
