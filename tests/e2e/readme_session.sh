# readme_session.sh — README.md's "typical session", run as written: the commands are taken
# from the README itself (so the two cannot drift apart), with only the remote parts pointed at
# this machine — eth0 → lo, port 8000 and the two https endpoints → two llmtrace-sim instances
# (A the default profile, B a slower one), each sweep stage 20 requests instead of 200 (the
# machine's time), and `export KEY=…` given a value. The capture runs
# (root) while the first replay goes on. Every step must succeed; the compare must find B
# slower; the report and charts must exist, with no chart failing. Then the same analyze step on
# a replay without usage (--no-include-usage): charts that need input-token counts are skipped
# with a reason, the others are drawn, the HTML says what was skipped, exit 0.
source "$SRC_DIR/tests/e2e/lib.sh"
T=$TEST_TMP
PY=/usr/bin/python3
export PATH="$BIN:$PATH"
command -v gnuplot >/dev/null || fail "gnuplot not installed (scripts/deps.sh installs it)"

start_sim --profile default --max-batch 64
A_URL=$SIM_URL A_PORT=$SIM_PORT A_PID=$SIM_PID
start_sim --profile linear:4,0.2,0.01 --max-batch 64
B_URL=$SIM_URL B_PID=$SIM_PID

# the session's lines, continuation lines joined, comments dropped
$PY - "$SRC_DIR/README.md" >"$T/session.txt" <<'PY'
import sys
text = open(sys.argv[1]).read()
block = text.split("A typical session:\n", 1)[1].lstrip("\n").split("\n\n", 1)[0]
cmds, cur = [], ""
for line in block.splitlines():
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    cur += (" " if cur else "") + line.rstrip("\\").strip()
    if not line.endswith("\\"):
        cmds.append(cur)
        cur = ""
print("\n".join(cmds))
PY
[ "$(wc -l <"$T/session.txt")" -ge 7 ] || fail "README's typical session not found: $(cat "$T/session.txt")"
cd "$T"
ln -sf "$SRC_DIR/data" data
n=0
while IFS= read -r cmd; do
  n=$((n + 1))
  cmd=${cmd//-i eth0/-i lo}
  cmd=${cmd//tcp port 8000/tcp port $A_PORT}
  cmd=${cmd//https:\/\/a.example/$A_URL}
  cmd=${cmd//https:\/\/b.example/$B_URL}
  cmd=${cmd//--stage-requests 200/--stage-requests 20}
  case "$cmd" in
    "export KEY="*) export KEY=sk-readme-session; continue ;;
    llmtrace-capture*)
      if [ "$(id -u)" != 0 ]; then echo "note: not root, the capture step is skipped"; continue; fi
      # shellcheck disable=SC2086
      ${cmd/llmtrace-capture /llmtrace-capture -q } 2>"$T/capture.err" &
      CAP_PID=$!
      _pids+=("$CAP_PID")
      sleep 1
      continue ;;
  esac
  echo "+ $cmd"
  # shellcheck disable=SC2086
  eval "$cmd" >"$T/step$n.out" 2>"$T/step$n.err" || fail "step $n failed ($cmd): $(tail -5 "$T/step$n.err")"
  # the capture records the first replay, then stops
  case "$cmd" in
    llmtrace-replay*) if [ -n "${CAP_PID:-}" ]; then sleep 0.5; stop_pid "$CAP_PID" INT; CAP_PID=; fi ;;
  esac
done <"$T/session.txt"
pass "every command of README's typical session ran"

if [ "$(id -u)" = 0 ]; then
  assert_eq "capture recorded the first replay's traffic, no bodies" true "$(zjq "$T/prod.jsonl.gz" 'len(ex) > 100 and all(x["request"]["body"] is None for x in ex)')"
fi
assert_eq "both replays: 7 stages of 20, no errors" "140 0 140 0" "$(zjq "$T/a.jsonl.gz" '"%d %d" % (len(ex), sum(1 for x in ex if x["error"]))') $(zjq "$T/b.jsonl.gz" '"%d %d" % (len(ex), sum(1 for x in ex if x["error"]))')"
grep -q "slower\|faster" "$T"/step*.out || fail "compare printed no verdict: $(cat "$T"/step*.out | head -20)"
for f in report.html charts/throughput_latency.png charts/throughput_latency.svg; do
  [ -s "$T/$f" ] || fail "$f missing or empty"
done
pass "report.html and the throughput-latency chart written"

# the same report on a replay without usage: no input-token counts
"$BIN/llmtrace-replay" "$T/azure.jsonl.gz" --url "$A_URL" --max-tokens original --ignore-eos \
  --sweep 1,4 --stage-requests 40 --no-include-usage -q -o "$T/nousage.jsonl.gz"
rc=0
"$BIN/llmtrace-analyze" --by stage x=nousage.jsonl.gz --plot nu-charts/ --html nu.html \
  >"$T/nu.out" 2>"$T/nu.err" || rc=$?
assert_eq "no usage: analyze exits 0" 0 "$rc"
assert_eq "no usage: the chart needing n_in skipped with its reason" 1 "$(grep -c 'ttft_vs_input skipped: the input token count of every request is unknown' "$T/nu.err")"
assert_eq "no usage: no empty chart file" "" "$(find "$T/nu-charts" -size 0 -print)"
[ -s "$T/nu-charts/throughput_latency.png" ] || fail "no usage: the throughput-latency chart was not drawn"
assert_eq "no usage: the report lists what was skipped" 1 "$(grep -c 'ttft_vs_input' "$T/nu.html" | awk '{print ($1 > 0)}')"
stop_pid "$A_PID"
stop_pid "$B_PID"
