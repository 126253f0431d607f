# replay_headers.sh — header and API-key handling: -H headers reach the server, the key given by
# --api-key-env is sent but never appears in the results log, stderr, or the command line of any
# process (/proc/*/cmdline, what ps shows); a secret passed with -H is redacted in the header
# record's command line; a missing variable is a usage error naming it.
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
