#!/usr/bin/env bash
# bench/capture/live.sh — live capture on lo while llmtrace-replay drives llmtrace-sim at full
# speed (zero-latency profile, closed loop): reports kernel drops and whether every replayed
# exchange was captured with the same number of events. Needs root.
# usage: bench/capture/live.sh BUILD_DIR [SECONDS] [CONCURRENCY] [BUFFER_MB]
set -euo pipefail
build=${1:?usage: live.sh BUILD_DIR [SECONDS] [CONCURRENCY] [BUFFER_MB]}
secs=${2:-5} conc=${3:-64} bufmb=${4:-256}
bin=$build/bin
tmp=$(mktemp -d /tmp/caplive.XXXXXX)
pids=()
trap 'for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"' EXIT
"$bin/llmtrace-sim" --listen 127.0.0.1:0 --port-file "$tmp/port" --quiet --profile zero \
  --log "$tmp/truth.jsonl.gz" & pids+=($!); sim=$!
for _ in $(seq 1 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
port=$(cat "$tmp/port")
"$bin/llmtrace-capture" -i lo -B "$bufmb" -w "$tmp/cap.jsonl.gz" tcp port "$port" \
  2>"$tmp/cap.err" & pids+=($!); cap=$!
# ready once it runs as nobody (the device and its -B ring are set up first)
for _ in $(seq 1 300); do
  [ "$(awk '/^Uid:/{print $2}' /proc/$cap/status 2>/dev/null || echo 0)" != 0 ] && break
  sleep 0.1
done
for i in $(seq 1 50); do
  printf '{"custom_id":"b%d","method":"POST","url":"/v1/chat/completions","body":{"model":"m","stream":true,"max_tokens":%d,"messages":[{"role":"user","content":"bench request %d"}]}}\n' \
    "$i" $((100 + i * 4)) "$i"
done >"$tmp/in.jsonl"
"$bin/llmtrace-replay" "$tmp/in.jsonl" --url "http://127.0.0.1:$port" -o "$tmp/rep.jsonl.gz" \
  -c "$conc" --loop --duration "${secs}s" 2>"$tmp/rep.err"
sleep 0.5
kill -INT "$cap"; wait "$cap" || true
kill -INT "$sim"; wait "$sim" || true
tail -1 "$tmp/rep.err"
cat "$tmp/cap.err"
python3 - "$tmp/rep.jsonl.gz" "$tmp/cap.jsonl.gz" <<'PY'
import gzip, json, sys
def ex(p):
    with gzip.open(p, 'rt') as f:
        recs = [json.loads(l) for l in f if l.strip()]
    return [r for r in recs if r['type'] == 'exchange'], recs[-1]
rep, _ = ex(sys.argv[1])
cap, trl = ex(sys.argv[2])
ev_rep = sum(len(r['response']['events']) for r in rep)
ev_cap = sum(len(r['response']['events']) for r in cap)
ok = sum(1 for r in cap if r['error'] is None)
print(f"replay: {len(rep)} exchanges, {ev_rep} events; capture: {len(cap)} exchanges ({ok} complete), {ev_cap} events")
print(f"pcap: {trl['stats'].get('pcap')}, tcp gaps: {trl['stats']['tcp']['gaps']}")
PY
