#!/usr/bin/env bash
# convert_sessions.sh — llmtrace-convert --sessions infer: sessions found in logged chat traffic
# equal the conversations it came from. llmtrace-capture records lo while llmtrace-replay sends
# the ShareGPT multi-turn sample as sessions (live history) to llmtrace-sim; the capture has no
# session objects; inferred from it, every captured request belongs to exactly the conversation
# and turn the replay sent it as (matched through X-Request-Id): every turn linked, none
# invented. The replay's own log and a plain JSONL copy infer the same. Needs root for the
# capture (CI runs as root): without it only the log-based checks run.
source "$(dirname "$0")/lib.sh"
T=$TEST_TMP
PY=/usr/bin/python3
FX=$SRC_DIR/tests/fixtures/sessions

"$BIN/llmtrace-convert" -q --from sharegpt --rate 20 --arrival constant "$FX/sharegpt_multiturn.json" -o $T/sg.jsonl.gz
start_sim --tokenizer words --prefix-cache 4096 --block-size 16 --profile linear:2,0.1,0.05
CAP=0
if [ "$(id -u)" = 0 ]; then
  "$BIN/llmtrace-capture" -q -i lo -w $T/cap.jsonl.gz tcp port "$SIM_PORT" 2>$T/cap.err &
  CAP_PID=$!
  _pids+=("$CAP_PID")
  for _ in $(seq 1 50); do
    uid=$(awk '/^Uid:/{print $2}' "/proc/$CAP_PID/status" 2>/dev/null || echo gone)
    [ "$uid" != 0 ] && break
    sleep 0.1
  done
  sleep 0.3
  CAP=1
else
  echo "note: not root: the capture part is skipped"
fi
"$BIN/llmtrace-replay" -q $T/sg.jsonl.gz --url "$SIM_URL" --sessions -c 4 --think-time 30ms -o $T/run.jsonl.gz
sleep 0.3
[ $CAP = 1 ] && stop_pid "$CAP_PID" INT
stop_pid $SIM_PID

# compare: inferred sessions (by X-Request-Id of each request) against the replay's
compare() { # compare INFERRED.jsonl.gz → "pairs linked invented split"
  $PY - $T/run.jsonl.gz "$1" <<'PY'
import gzip, json, sys
def ex(p):
    op = gzip.open if open(p, 'rb').read(2) == b'\x1f\x8b' else open
    return [json.loads(l) for l in op(p, 'rt') if '"exchange"' in l]
truth = {r['id']: (r['session']['id'], r['session']['turn']) for r in ex(sys.argv[1])}
got = {}
for r in ex(sys.argv[2]):
    xid = dict((h[0].lower(), h[1]) for h in r['request']['headers']).get('x-request-id', r['id'])
    got[xid] = (r['session']['id'], r['session']['turn']) if r.get('session') else None
assert set(got) == set(truth), (len(got), len(truth))
fwd, back = {}, {}
bad_turn = 0
for k, (sid, turn) in truth.items():
    g = got[k]
    if g is None:
        bad_turn += 1
        continue
    fwd.setdefault(sid, set()).add(g[0])
    back.setdefault(g[0], set()).add(sid)
    bad_turn += g[1] != turn
split = sum(len(v) > 1 for v in fwd.values())      # a conversation cut in several sessions
invented = sum(len(v) > 1 for v in back.values())  # a session mixing conversations
print(len(truth), len(fwd), split, invented, bad_turn)
PY
}
"$BIN/llmtrace-convert" -q --sessions infer $T/run.jsonl.gz -o $T/run_inf.jsonl.gz
assert_eq "the replay's log: 31 turns, 8 conversations, none split, none mixed, turns equal" "31 8 0 0 0" "$(compare $T/run_inf.jsonl.gz)"
"$BIN/llmtrace-convert" -q --to jsonl $T/run.jsonl.gz -o $T/run.jsonl
"$BIN/llmtrace-convert" --sessions infer $T/run.jsonl -o $T/plain_inf.jsonl.gz 2>$T/inf.err
assert_eq "plain JSONL input infers the same" "31 8 0 0 0" "$(compare $T/plain_inf.jsonl.gz)"
grep -q '31 records: 8 sessions (23 next turns linked, 0 retries of a failed turn, 0 branches)' $T/inf.err || fail "summary: $(cat $T/inf.err)"
assert_eq "trailer stats" "8 23 0 0" "$(zjq $T/plain_inf.jsonl.gz '"%d %d %d %d" % (trl["stats"]["sessions"], trl["stats"]["linked"], trl["stats"]["branches"], trl["stats"]["ambiguous"])')"
# think times are the log's own gaps: each next turn's start − its predecessor's end
assert_eq "inferred think = start − previous end (as the replay recorded it)" true "$(zjq $T/run_inf.jsonl.gz 'all(r["session"]["turn"] == 0 or abs(r["session"]["think_us"] - (r["start_us"] - r["replay"]["sched_us"] + 30000)) <= 2 for r in ex)')"

if [ $CAP = 1 ]; then
  assert_eq "the capture has no sessions of its own" 0 "$(zjq $T/cap.jsonl.gz 'sum(1 for r in ex if r.get("session"))')"
  "$BIN/llmtrace-convert" -q --sessions infer $T/cap.jsonl.gz -o $T/cap_inf.jsonl.gz
  assert_eq "captured: 31 turns, 8 conversations, none split, none mixed, turns equal" "31 8 0 0 0" "$(compare $T/cap_inf.jsonl.gz)"
fi
# usage errors
"$BIN/llmtrace-convert" --sessions guess $T/run.jsonl.gz -o /dev/null 2>$T/e1 && fail "--sessions guess accepted"
grep -q 'expected infer' $T/e1 || fail "message: $(cat $T/e1)"
"$BIN/llmtrace-convert" --sessions infer --to csv $T/run.jsonl.gz -o /dev/null 2>$T/e2 && fail "--sessions with --to accepted"
grep -q 'not with --to' $T/e2 || fail "message: $(cat $T/e2)"
pass "usage errors"
