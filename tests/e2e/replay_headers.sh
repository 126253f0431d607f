# replay_headers.sh — header and API-key handling: -H headers reach the server, the key given by
# --api-key-env is sent but never appears in the results log, stderr, or the command line of any
# process (/proc/*/cmdline, what ps shows); a secret passed with -H is redacted in the header
# record's command line; a missing variable is a usage error naming it. URL credentials (userinfo,
# credential query parameters) appear in no log, stderr line or error message of llmtrace-replay
# or llmtrace-convert --calibrate, while the requests still carry the query.
source "$SRC_DIR/tests/e2e/lib.sh"
source "$SRC_DIR/tests/e2e/replay_lib.sh"
T=$TEST_TMP
KEY="sk-test-$RANDOM$RANDOM-secretvalue"
start_sim --profile default --log "$T/sim.jsonl.gz"
mk_trace "$T/t6.jsonl.gz" 6 200000

export REPLAY_TEST_KEY="$KEY"
"$RP" "$T/t6.jsonl.gz" --url "$SIM_URL" --api-key-env REPLAY_TEST_KEY -H 'X-Team: blue' \
  -H 'x-api-key: hdr-secret-123' --max-tokens 30 --ignore-eos -o "$T/h.jsonl.gz" \
  2> "$T/stderr" &
RPID=$!
sleep 0.5
kill -0 "$RPID" || fail "replay finished before the cmdline check"
assert_eq "replay running with the key env var" 1 "$(tr '\0' '\n' < /proc/$RPID/environ | grep -c '^REPLAY_TEST_KEY=' || true)"
# Every process's command line (what ps shows), scanned by a process whose own argv does not
# hold the key (it reads it from the environment).
assert_eq "key in no /proc/*/cmdline" 0 "$(python3 -c '
import glob, os
key = os.environ["REPLAY_TEST_KEY"].encode()
n = 0
for p in glob.glob("/proc/[0-9]*/cmdline"):
    try:
        n += key in open(p, "rb").read()
    except OSError:
        pass
print(n)')"
wait "$RPID"
stop_pid "$SIM_PID" INT
assert_eq "records" 6 "$(rq "$T/h.jsonl.gz" 'len(ex)')"
assert_eq "key not in results log" 0 "$(zcat "$T/h.jsonl.gz" | grep -c "$KEY" || true)"
assert_eq "key not on stderr" 0 "$(grep -c "$KEY" "$T/stderr" || true)"
assert_eq "-H secret not in results log" 0 "$(zcat "$T/h.jsonl.gz" | grep -c "hdr-secret-123" || true)"
assert_eq "command keeps -H name, value redacted" true "$(rq "$T/h.jsonl.gz" '"x-api-key: <redacted>" in hdr["command"]')"
assert_eq "record: Authorization redacted" '["<redacted>"]' "$(rq "$T/h.jsonl.gz" 'sorted(set(v for x in ex for n, v in x["request"]["headers"] if n.lower() == "authorization"))')"
assert_eq "record: X-Request-Id = id" true "$(rq "$T/h.jsonl.gz" 'all(dict(x["request"]["headers"])["X-Request-Id"] == x["id"] for x in ex)')"
assert_eq "sim got X-Team and Authorization" '[6, 6]' "$(python3 - "$T/sim.jsonl.gz" <<'PY'
import gzip, json, sys
ex = [json.loads(l) for l in gzip.open(sys.argv[1], "rt") if '"exchange"' in l]
h = [{n.lower(): v for n, v in x["request"]["headers"]} for x in ex]
print(json.dumps([sum(1 for d in h if d.get("x-team") == "blue"), sum(1 for d in h if "authorization" in d)]))
PY
)"
assert_eq "header target has no credentials" "$SIM_URL" "$(rq "$T/h.jsonl.gz" 'hdr["source"]["target"]')"

# Missing variable: usage error (2) naming the variable, not a value.
set +e
env -u REPLAY_NOPE "$RP" "$T/t6.jsonl.gz" --url "$SIM_URL" --api-key-env REPLAY_NOPE -o "$T/x.jsonl.gz" 2> "$T/err2"
rc=$?
set -e
assert_eq "missing key env: exit 2" 2 "$rc"
assert_eq "missing key env: message" 1 "$(grep -c 'REPLAY_NOPE is not set' "$T/err2")"

# URL credentials never reach the records.
"$RP" "$T/t6.jsonl.gz" --url "http://user:pw-secret@127.0.0.1:${SIM_URL##*:}" --limit 1 -q -o "$T/u.jsonl.gz" || true
assert_eq "url credentials not in log" 0 "$(zcat "$T/u.jsonl.gz" | grep -c "pw-secret" || true)"

# Credentials in the URL: the userinfo and the values of credential query parameters (any case)
# reach no record (command, source.target, replay.target, error messages), no stderr line and no
# usage error, of llmtrace-replay and of llmtrace-convert --calibrate; the requests still carry
# the query.
S1="pw-$RANDOM$RANDOM-one"
S2="qk-$RANDOM$RANDOM-two"
S3="tk-$RANDOM$RANDOM-three"
no_secret() { # no_secret WHAT FILE...: none of S1 S2 S3 in the files
  local n=0 f
  for f in "${@:2}"; do
    n=$((n + $(grep -c -e "$S1" -e "$S2" -e "$S3" "$f" || true)))
  done
  assert_eq "$1: no URL secret" 0 "$n"
}
# Unreachable target: every record is a connect error.
rc=0
"$RP" "$T/t6.jsonl.gz" --url "http://u:$S1@127.0.0.1:1/base?api-key=$S2&x=1&TOKEN=$S3" --limit 2 \
  -o "$T/q.jsonl.gz" 2> "$T/q.stderr" || rc=$?
assert_eq "unreachable: exit 1" 1 "$rc"
zcat "$T/q.jsonl.gz" > "$T/q.jsonl"
no_secret "unreachable: log and stderr" "$T/q.jsonl" "$T/q.stderr"
RED='http://127.0.0.1:1/base?api-key=<redacted>&x=1&TOKEN=<redacted>'
assert_eq "unreachable: source.target" "$RED" "$(rq "$T/q.jsonl.gz" 'hdr["source"]["target"]')"
assert_eq "unreachable: replay.target" "[\"$RED\"]" "$(rq "$T/q.jsonl.gz" 'sorted(set(x["replay"]["target"] for x in ex))')"
assert_eq "unreachable: command" true "$(rq "$T/q.jsonl.gz" '"'"$RED"'" in hdr["command"]')"
assert_eq "unreachable: connect errors with messages" '[["connect", true], ["connect", true]]' "$(rq "$T/q.jsonl.gz" '[[x["error"]["kind"], len(x["error"]["message"]) > 0] for x in ex]')"
assert_eq "unreachable: stderr names the redacted target" 1 "$(grep -cF "no request could connect to $RED" "$T/q.stderr")"
# A usage error quoting the URL.
rc=0
"$RP" "$T/t6.jsonl.gz" --url="ftp://u:$S1@h/?Signature=$S2&apikey=$S3" -o "$T/x.jsonl.gz" 2> "$T/q2.stderr" || rc=$?
assert_eq "usage error: exit 2" 2 "$rc"
no_secret "usage error" "$T/q2.stderr"
assert_eq "usage error: redacted URL" 1 "$(grep -cF "got 'ftp://h/?Signature=<redacted>&apikey=<redacted>'" "$T/q2.stderr")"
# A live target: the query goes on every request (the sim logs it) but not into our records.
start_sim --profile default --log "$T/sim2.jsonl.gz"
"$RP" "$T/t6.jsonl.gz" --url "$SIM_URL/?api_key=$S2&v=2" --limit 3 -o "$T/q3.jsonl.gz" 2> "$T/q3.stderr"
zcat "$T/q3.jsonl.gz" > "$T/q3.jsonl"
no_secret "live: log and stderr" "$T/q3.jsonl" "$T/q3.stderr"
assert_eq "live: 3 ok" '[200, 200, 200]' "$(rq "$T/q3.jsonl.gz" '[x["response"]["status"] for x in ex]')"
assert_eq "live: target" "$SIM_URL?api_key=<redacted>&v=2" "$(rq "$T/q3.jsonl.gz" 'hdr["source"]["target"]')"
# llmtrace-convert --calibrate: the header's command line, and its messages.
CONV=$BIN/llmtrace-convert
FX=$SRC_DIR/tests/fixtures/convert
"$CONV" --calibrate "http://u:$S1@127.0.0.1:$SIM_PORT?Key=$S2&auth=$S3" "$FX/azure_quirks.csv" \
  -o "$T/c.jsonl.gz" 2> "$T/c.stderr"
zcat "$T/c.jsonl.gz" > "$T/c.jsonl"
no_secret "calibrate: log and stderr" "$T/c.jsonl" "$T/c.stderr"
assert_eq "calibrate: command" true "$(rq "$T/c.jsonl.gz" '"http://127.0.0.1:'"$SIM_PORT"'?Key=<redacted>&auth=<redacted>" in hdr["command"]')"
stop_pid "$SIM_PID" INT
assert_eq "sim got the query: replay and calibrate" '[3, 5]' "$(python3 - "$T/sim2.jsonl.gz" "$S2" "$S3" <<'PY'
import gzip, json, sys
ex = [json.loads(l) for l in gzip.open(sys.argv[1], "rt") if '"exchange"' in l]
p = [x["request"]["path"] for x in ex]
print(json.dumps([p.count("/v1/chat/completions?api_key=%s&v=2" % sys.argv[2]),
                  p.count("/v1/chat/completions?Key=%s&auth=%s" % (sys.argv[2], sys.argv[3]))]))
PY
)"
rc=0
"$CONV" --calibrate "http://u:$S1@127.0.0.1:1/?sig=$S2&password=$S3" "$FX/azure_quirks.csv" \
  -o "$T/c2.jsonl.gz" 2> "$T/c2.stderr" || rc=$?
assert_eq "calibrate unreachable: exit 1" 1 "$rc"
no_secret "calibrate unreachable: message" "$T/c2.stderr"
assert_eq "calibrate unreachable: redacted URL" 1 "$(grep -cF 'calibrate: http://127.0.0.1:1/v1/chat/completions?sig=<redacted>&password=<redacted>: ' "$T/c2.stderr")"
