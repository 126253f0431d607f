# convert_timeouts: llmtrace-convert --calibrate against a local socket that accepts and never
# answers stops after --idle-timeout or --timeout with one line naming the limit and exit 1,
# instead of hanging; bad limits are usage errors.
source "$SRC_DIR/tests/e2e/lib.sh"
CONV=$BIN/llmtrace-convert
FX=$SRC_DIR/tests/fixtures/convert
cd "$TEST_TMP"
# a listener on 127.0.0.1 that accepts every connection, reads, and never writes (bounded: 60 s)
/usr/bin/python3 - <<'PY' &
import socket, time
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen(16)
open('mute.port', 'w').write(str(s.getsockname()[1]))
s.settimeout(1.0)
held, t0 = [], time.time()
while time.time() - t0 < 60:
    try:
        c, _ = s.accept()
        held.append(c)
    except socket.timeout:
        pass
PY
_pids+=($!)
for i in $(seq 1 100); do [ -s mute.port ] && break; sleep 0.1; done
URL=http://127.0.0.1:$(cat mute.port)
run() { # run NAME ARGS…: rc and seconds
  local t0 t1 rc=0 name=$1
  shift
  t0=$(date +%s%N)
  timeout 30 "$CONV" -q --calibrate "$URL" "$@" "$FX/azure_quirks.csv" -o out.jsonl.gz 2> "$name.err" || rc=$?
  t1=$(date +%s%N)
  echo "$rc $(( (t1 - t0) / 1000000 ))"
}
read -r rc ms <<< "$(run idle --idle-timeout 1s)"
assert_eq "idle: exit 1" 1 "$rc"
assert_le "idle: stopped within 1 s + 2 s (ms)" "$ms" 3000
assert_le "idle: not before 0.9 s (ms)" 900 "$ms"
assert_eq "idle message" "llmtrace-convert: calibrate: $URL/v1/chat/completions: nothing received for 1 s (--idle-timeout)" "$(cat idle.err)"
read -r rc ms <<< "$(run total --idle-timeout 0 --timeout 1500ms)"
assert_eq "total: exit 1" 1 "$rc"
assert_le "total: stopped within 1.5 s + 2 s (ms)" "$ms" 3500
assert_le "total: not before 1.5 s (ms)" 1400 "$ms"
grep -q "(--timeout)$" total.err || fail "total message: $(cat total.err)"
assert_eq "one line" 1 "$(wc -l < total.err)"
for bad in "--timeout x" "--idle-timeout -1s" "--connect-timeout 0"; do
  # shellcheck disable=SC2086
  set +e; "$CONV" --calibrate "$URL" $bad "$FX/azure_quirks.csv" -o o.jsonl.gz 2>/dev/null; rc=$?; set -e
  assert_eq "'$bad' is a usage error" 2 "$rc"
done
echo "convert_timeouts: all passed"
