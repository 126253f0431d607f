#!/usr/bin/env bash
# sim_cli.sh — llmtrace-sim's command-line contract: --help with examples, --version, exit code
# 2 on usage errors, --port-file format, [::1] listening, a CSV profile from the built-in
# splitwise-sim data (llama2-70b/h100-80gb: ~32 ms decode steps), --tokens-per-event,
# --tokenizer words, --model.
source "$(dirname "$0")/lib.sh"
T=$TEST_TMP
S=$BIN/llmtrace-sim
"$S" --help >$T/help.txt || fail "--help exit status"
grep -q '^Examples:' $T/help.txt || fail "--help has no examples"
grep -q -- '--drop-connection-rate' $T/help.txt || fail "--help lists the fault flags"
assert_eq "--version" "llmtrace-sim 0.1.0" "$("$S" --version)"
for bad in "--bogus" "--max-batch 0" "--fail-rate 2" "--profile nosuch/hw" "--tokenizer bpe" \
           "--listen nohost" "--stall-rate 0.5" "extra-arg" "--listen 127.0.0.1:99999"; do
  set +e; "$S" $bad >/dev/null 2>$T/err; rc=$?; set -e
  assert_eq "usage error: $bad" 2 "$rc"
  grep -q '^llmtrace-sim: \|^Try' $T/err || fail "no message for $bad"
done
set +e; "$S" --listen 203.0.113.1:0 --quiet 2>$T/err; rc=$?; set -e
assert_eq "bind failure is a runtime failure" 1 "$rc"

# port file: digits + newline
pf=$T/port.txt
"$S" --listen 127.0.0.1:0 --port-file $pf -q 2>$T/q.err & p=$!
_pids+=($p)
for i in $(seq 1 50); do [ -s $pf ] && break; sleep 0.1; done
grep -qxE '[0-9]+' $pf || fail "port file content: $(cat $pf)"
assert_eq "port file ends with newline" 1 "$(wc -l <$pf)"
assert_eq "health on port-file port" 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(cat $pf)/health")"
stop_pid $p
assert_eq "-q: nothing on stderr (the listening line and the summary are what it hides)" 0 "$(wc -c <$T/q.err)"

# IPv6 loopback
if python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
  "$S" --listen '[::1]:0' --port-file $T/p6 --quiet & p=$!
  _pids+=($p)
  for i in $(seq 1 50); do [ -s $T/p6 ] && break; sleep 0.1; done
  assert_eq "IPv6 health" 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://[::1]:$(cat $T/p6)/health")"
  stop_pid $p
fi

chat='"messages":[{"role":"user","content":"one two three four five six seven eight"}]'
# llama2-70b/h100-80gb: decode(1) = 32.36 ms; 5 tokens ≈ 4 steps apart ≈ 129 ms after the first
start_sim --profile llama2-70b/h100-80gb --log $T/l.jsonl.gz
curl -sN "$SIM_URL/v1/chat/completions" -d "{\"stream\":true,\"max_tokens\":5,\"ignore_eos\":true,$chat}" >/dev/null
stop_pid $SIM_PID
span=$(zjq $T/l.jsonl.gz '(lambda c: c[-1][0] - c[0][0])([e for e in ex[0]["response"]["events"] if e[2]])')
assert_le "4 steps >= 4*32.36 ms - 10 %" 116500 "$span"
assert_le "4 steps <= 4*32.36 ms + 10 %" "$span" 142400
assert_eq "profile in log header" "llama2-70b/h100-80gb" "$(zjq $T/l.jsonl.gz 'hdr["source"]["profile"]')"

# --tokens-per-event 4: 10 tokens → events of 4, 4, 2; usage still 10
start_sim --tokens-per-event 4 --tokenizer words --model served-x
curl -sN "$SIM_URL/v1/chat/completions" -d "{\"stream\":true,\"max_tokens\":10,\"ignore_eos\":true,\"stream_options\":{\"include_usage\":true},$chat}" >$T/k.txt
assert_eq "tokens per event" "4 4 2 | 8 10" "$(python3 - $T/k.txt <<'PY'
import json, sys
ev = [json.loads(b[6:]) for b in open(sys.argv[1]).read().split('\n\n')[:-1] if b.startswith('data: {')]
sizes = [len(e['choices'][0]['delta']['content'].split()) for e in ev if e['choices'] and e['choices'][0]['delta'].get('content')]
u = ev[-1]['usage']
print(' '.join(map(str, sizes)), '|', u['prompt_tokens'], u['completion_tokens'])
PY
)"
assert_eq "--model default name" served-x "$(curl -s "$SIM_URL/v1/models" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["id"])')"
stop_pid $SIM_PID

# --threads 2: two replicas share the port; every stream completes and /metrics adds both up
start_sim --threads 2 --log $T/t.jsonl.gz
pids=()
for i in 1 2 3 4 5 6; do
  curl -sN "$SIM_URL/v1/chat/completions" -d "{\"stream\":true,\"max_tokens\":20,\"ignore_eos\":true,$chat}" >$T/t$i.txt & pids+=($!)
done
wait "${pids[@]}"
for i in 1 2 3 4 5 6; do assert_eq "threads: stream $i" 20 "$(grep -c '"delta":{"content"' $T/t$i.txt)"; done
assert_eq "threads: metrics sum" 'llmtrace_sim_generation_tokens_total 120' "$(curl -s "$SIM_URL/metrics" | grep '^llmtrace_sim_generation_tokens_total')"
stop_pid $SIM_PID
assert_eq "threads: one log, 7 exchanges (+ /metrics), unique ids" "7 7" "$(zjq $T/t.jsonl.gz '"%d %d" % (len(ex), len(set(x["id"] for x in ex)))')"

# a profile read from a CSV file (the built-in data with an extra column, as splitwise-sim's
# own file has): it starts and names itself; a missing file is a usage error naming the file
awk -F, -v OFS=, '{ $6 = (NR == 1 ? "peak_power" : "1.0") OFS $6; print }' \
  "$SRC_DIR/sim/profiles/perf_model.csv" > $T/perf.csv
start_sim --profile "$T/perf.csv:llama2-70b/h100-80gb" --log $T/f.jsonl.gz
curl -sN "$SIM_URL/v1/chat/completions" -d "{\"stream\":true,\"max_tokens\":2,\"ignore_eos\":true,$chat}" >/dev/null
stop_pid $SIM_PID
assert_eq "csv file profile in log header" "llama2-70b/h100-80gb" "$(zjq $T/f.jsonl.gz 'hdr["source"]["profile"]')"
set +e
"$BIN/llmtrace-sim" --profile "$T/nosuch.csv:llama2-70b/h100-80gb" 2>$T/nf.err
rc=$?
set -e
assert_eq "missing profile file: exit 2" 2 "$rc"
assert_eq "missing profile file: message" "llmtrace-sim: --profile: $T/nosuch.csv: No such file or directory" "$(head -1 $T/nf.err)"
