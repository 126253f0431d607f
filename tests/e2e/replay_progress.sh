# replay_progress.sh — the progress line, drawn only on a terminal (run here on a pty): each
# sweep stage shows its own output tokens over its own time, and the ETA of the whole sweep
# stays on through every stage. The simulator decodes every stream at 100 tokens/s
# (linear:10,0,0: 10 ms per step at any batch size), so a stage at c=N runs at N × 100 tok/s.
source "$SRC_DIR/tests/e2e/lib.sh"
source "$SRC_DIR/tests/e2e/replay_lib.sh"
T=$TEST_TMP
PY=/usr/bin/python3
start_sim --profile linear:10,0,0
mk_trace "$T/t4.jsonl.gz" 4 1000

# 24 requests of 20 tokens per stage: c=4 (~1.2 s at 400 tok/s), then c=1 (~4.8 s, 100 tok/s)
$PY - "$T/pty.out" "$RP" "$T/t4.jsonl.gz" --url "$SIM_URL" --sweep 4,1 --stage-requests 24 \
  --max-tokens 20 --ignore-eos -o "$T/s.jsonl.gz" <<'PY'
import os, pty, sys, time
out = sys.argv[1]
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
buf = b""
deadline = time.time() + 120
while time.time() < deadline:
    try:
        d = os.read(fd, 4096)
    except OSError:  # EIO: the child closed the terminal
        break
    if not d:
        break
    buf += d
_, st = os.waitpid(pid, 0)
open(out, "wb").write(buf)
sys.exit(os.waitstatus_to_exitcode(st))
PY
# progress lines: "\r\033[K[c=4] sent 12 | in flight 4 | done 8 | errors 0 | 402 tok/s | ETA 5s"
$PY - "$T/pty.out" > "$T/lines.json" <<'PY'
import json, re, sys
text = open(sys.argv[1], "rb").read().decode(errors="replace")
rx = re.compile(r"\[c=(\d+)\] sent (\d+) \| in flight \d+ \| done (\d+) \| errors \d+ \| (\d+) tok/s(?: \| ETA (\S+))?")
print(json.dumps([[int(m[1]), int(m[3]), int(m[4]), m[5]] for m in rx.finditer(text)]))
PY
echo "progress lines: $(cat "$T/lines.json")"
assert_eq "the results log is complete" 48 "$(rq "$T/s.jsonl.gz" 'len(ex)')"
assert_le "stage c=4 drew progress lines" 1 "$($PY -c 'import json,sys; print(sum(1 for l in json.load(open(sys.argv[1])) if l[0] == 4))' "$T/lines.json")"
assert_le "stage c=1 drew progress lines" 1 "$($PY -c 'import json,sys; print(sum(1 for l in json.load(open(sys.argv[1])) if l[0] == 1))' "$T/lines.json")"
# each stage's tok/s is its own: ~400 at c=4 and ~100 at c=1 (the run's tokens over the
# stage's time would read 1,300+ at c=1); bounds leave room for a loaded machine
assert_eq "stage c=4: tok/s in [150, 600]" "[]" "$($PY -c 'import json,sys; print([l for l in json.load(open(sys.argv[1])) if l[0] == 4 and not 150 <= l[2] <= 600])' "$T/lines.json")"
assert_eq "stage c=1: tok/s in [30, 150]" "[]" "$($PY -c 'import json,sys; print([l for l in json.load(open(sys.argv[1])) if l[0] == 1 and not 30 <= l[2] <= 150])' "$T/lines.json")"
# the ETA is on every line of both stages once a request has finished, and within 15 s
assert_eq "ETA on every line" "[]" "$($PY -c 'import json,sys; print([l for l in json.load(open(sys.argv[1])) if l[1] > 0 and l[3] is None])' "$T/lines.json")"
assert_eq "ETA plausible (<= 15 s)" "[]" "$($PY - "$T/lines.json" <<'PY'
import json, re, sys
def us(d):
    return sum(float(v) * {"h": 3600e6, "m": 60e6, "s": 1e6, "ms": 1e3, "us": 1}[u]
               for v, u in re.findall(r"([\d.]+)(h|ms|us|m|s)", d))
print([l for l in json.load(open(sys.argv[1])) if l[3] is not None and us(l[3]) > 15e6])
PY
)"
# no terminal, no progress line: stderr holds only the summary
"$RP" "$T/t4.jsonl.gz" --url "$SIM_URL" -c 2 --max-tokens 20 --ignore-eos --limit 4 \
  -o "$T/np.jsonl.gz" 2> "$T/np.err"
assert_eq "not a terminal: no progress" 0 "$(grep -c 'in flight' "$T/np.err" || true)"
stop_pid "$SIM_PID" INT
