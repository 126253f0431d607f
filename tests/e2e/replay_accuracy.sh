# replay_accuracy.sh — replay's timestamps against the simulator's ground truth (the time the
# simulator read its clock just before each write()). The replay process is stopped with
# SIGSTOP while every response arrives: with --timestamps kernel (the default) the records still
# carry when the bytes reached this host, within a few µs of the simulator's stamps; with
# --timestamps user they carry when the worker got to them, after SIGCONT. The second half is
# what makes the first able to fail. A plain run checks the same agreement without the stop.
source "$SRC_DIR/tests/e2e/lib.sh"
source "$SRC_DIR/tests/e2e/replay_lib.sh"
T=$TEST_TMP
mk_trace "$T/t8.jsonl.gz" 8 1000

# errors SIM_LOG REPLAY_LOG: "n min max" of replay − simulator over the head and every event
# of each request found in both (absolute epoch µs), matched by id and position.
errors() {
  python3 - "$1" "$2" <<'PY'
import gzip, json, sys
def load(p):
    return {r["id"]: r for r in map(json.loads, gzip.open(p, "rt")) if r.get("type") == "exchange"}
sim, rep = load(sys.argv[1]), load(sys.argv[2])
d = []
for k, r in rep.items():
    s = sim.get(k)
    if not s or r["error"] or s["error"]:
        continue
    a = [r["start_us"] + r["response"]["ttfb_us"]] + [r["start_us"] + e[0] for e in r["response"]["events"]]
    b = [s["start_us"] + s["response"]["ttfb_us"]] + [s["start_us"] + e[0] for e in s["response"]["events"]]
    if len(a) == len(b):
        d += [x - y for x, y in zip(a, b)]
print(len(d), min(d) if d else 0, max(d) if d else 0)
PY
}

# run_stopped MODE: 8 requests, responses 400 ms late; the replay sleeps through them.
run_stopped() {
  start_sim --profile default --slow-start-ms 400 --log "$T/truth.$1.jsonl.gz"
  "$RP" "$T/t8.jsonl.gz" --url "$SIM_URL" -c 8 --max-tokens 2 --ignore-eos --timestamps "$1" \
    --no-include-usage -q -o "$T/r.$1.jsonl.gz" &
  local rp=$!
  _pids+=("$rp")
  sleep 0.15
  kill -STOP "$rp"
  sleep 1.2 # every response is sent at ~0.4 s and ~0.4 s + a few ms
  kill -CONT "$rp"
  wait "$rp"
  stop_pid "$SIM_PID" INT
}

run_stopped kernel
assert_eq "kernel: header says so" kernel "$(zjq "$T/r.kernel.jsonl.gz" 'hdr["options"]["timestamps"]')"
read -r n lo hi <<<"$(errors "$T/truth.kernel.jsonl.gz" "$T/r.kernel.jsonl.gz")"
assert_eq "kernel: all 8 requests matched (head + 5 events each)" 48 "$n"
# the simulator stamps before write(); the receive time is set inside that write(). A segment
# that arrives after the worker's peek and is read with it may be stamped up to 20 µs early.
assert_le "kernel: no stamp before the simulator's (µs)" -50 "$lo"
assert_le "kernel: stamps are not the wake-up time (µs)" "$hi" 50000

run_stopped user
assert_eq "user: header says so" user "$(zjq "$T/r.user.jsonl.gz" 'hdr["options"]["timestamps"]')"
read -r n lo hi <<<"$(errors "$T/truth.user.jsonl.gz" "$T/r.user.jsonl.gz")"
assert_eq "user: all 8 requests matched" 48 "$n"
assert_le "user: every stamp is after SIGCONT (µs)" 300000 "$lo"

# Without the stop, at 16 concurrent streams on the default profile's steps.
start_sim --profile default --log "$T/truth.run.jsonl.gz"
mk_trace "$T/t64.jsonl.gz" 64 1000
"$RP" "$T/t64.jsonl.gz" --url "$SIM_URL" -c 16 --max-tokens 16 --ignore-eos --no-include-usage \
  -q -o "$T/r.run.jsonl.gz"
stop_pid "$SIM_PID" INT
read -r n lo hi <<<"$(errors "$T/truth.run.jsonl.gz" "$T/r.run.jsonl.gz")"
assert_eq "run: all 64 requests matched (head + 19 events each)" $((64 * 20)) "$n"
assert_le "run: no stamp before the simulator's (µs)" -50 "$lo"
assert_le "run: largest error (µs)" "$hi" 50000

assert_eq "bad --timestamps is a usage error" 2 "$("$RP" "$T/t8.jsonl.gz" --url "$SIM_URL" --timestamps wall -q -o "$T/x.jsonl.gz" 2>/dev/null; echo $?)"
