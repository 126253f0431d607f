#!/usr/bin/env bash
# capture_resend.sh — transport re-sends on the wire (issue 12 §3): llmtrace-capture -i lo
# records the clients' requests, not their HTTP libraries' re-sends. Real clients against
#   1. a server that behaves like llama.cpp (it answers one streamed request per connection
#      without "Connection: close", then resets the next request sent on that connection),
#      with curl (libcurl re-sends a request that got nothing on a reused connection) and a
#      Python client that re-sends the same way or reports the failure;
#   2. the same server with llmtrace-replay -c 2 (its client re-sends like libcurl, recorded in
#      replay.attempts);
#   3. llmtrace-sim --drop-connection-rate (closes before the headers, on new and reused
#      connections), with curl.
# In each, the exchanges without resent_as must be exactly the clients' requests (same count,
# same failures), every resent_as must name a later exchange with the same request on another
# connection, and captured exchanges must equal the requests the servers received.
# Needs root (CI runs as root): exit 77 = skip.
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: live capture on lo needs root (CI runs as root)"
  exit 77
fi
command -v curl >/dev/null || fail "curl not installed (scripts/deps.sh installs it)"
[ -x "$BIN/llmtrace-sim" ] || fail "llmtrace-sim not built"
PY=/usr/bin/python3
CAP="$BIN/llmtrace-capture"

# start_capture PORT OUT: live capture of tcp port PORT on lo; sets CAP_PID once the device is
# open (the process has dropped root).
start_capture() {
  "$CAP" -q -i lo -w "$2" tcp port "$1" 2>>"$TEST_TMP/cap.err" &
  CAP_PID=$!
  _pids+=("$CAP_PID")
  local uid=0
  for _ in $(seq 1 50); do
    uid=$(awk '/^Uid:/{print $2}' "/proc/$CAP_PID/status" 2>/dev/null || echo gone)
    [ "$uid" != 0 ] && break
    sleep 0.1
  done
  [ "$uid" != 0 ] || fail "capture did not open lo"
  sleep 0.3
}

# ---- 1. llama.cpp-like server ------------------------------------------------------------
# One request per connection is answered (a chunked SSE stream, no Connection: close); the
# next request on it is read and answered with a reset. Content "fail-new" is reset on any
# connection; "cut" gets the head and one event, then a reset. Each request read is appended
# to the log (the server's ground truth: attempts included).
cat >"$TEST_TMP/llama_like.py" <<'PY'
import json, socket, struct, sys, threading, time
port_file, log_path = sys.argv[1], sys.argv[2]
lock = threading.Lock()

def log(content, conn_no, what):
    with lock, open(log_path, 'a') as f:
        f.write(json.dumps({'content': content, 'conn': conn_no, 'what': what}) + '\n')

def read_request(s, buf):
    while b'\r\n\r\n' not in buf:
        d = s.recv(65536)
        if not d:
            return None, buf
        buf += d
    head, rest = buf.split(b'\r\n\r\n', 1)
    n = 0
    for line in head.split(b'\r\n')[1:]:
        k, _, v = line.partition(b':')
        if k.strip().lower() == b'content-length':
            n = int(v)
    while len(rest) < n:
        d = s.recv(65536)
        if not d:
            return None, b''
        rest += d
    return rest[:n], rest[n:]

def reset(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    s.close()

def chunk(b):
    return b'%x\r\n%s\r\n' % (len(b), b)

def event(text):
    return ('data: ' + json.dumps({'choices': [{'delta': {'content': text}}]}) + '\n\n').encode()

def serve(s, conn_no):
    buf, served = b'', 0
    s.settimeout(30)
    try:
        while True:
            body, buf = read_request(s, buf)
            if body is None:
                s.close()
                return
            content = json.loads(body)['messages'][0]['content']
            if served or content == 'fail-new':
                log(content, conn_no, 'reset')
                reset(s)
                return
            served += 1
            s.sendall(b'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n'
                      b'Transfer-Encoding: chunked\r\n\r\n')
            time.sleep(0.005)
            s.sendall(chunk(event('x')))
            if content == 'cut':
                log(content, conn_no, 'cut')
                time.sleep(0.005)
                reset(s)
                return
            for t in ('y', 'z'):
                time.sleep(0.005)
                s.sendall(chunk(event(t)))
            s.sendall(chunk(b'data: [DONE]\n\n') + b'0\r\n\r\n')
            log(content, conn_no, 'ok')
    except OSError:
        s.close()

ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(('127.0.0.1', 0))
ls.listen(64)
with open(port_file + '.tmp', 'w') as f:
    f.write(str(ls.getsockname()[1]))
import os
os.rename(port_file + '.tmp', port_file)
n = 0
while True:
    c, _ = ls.accept()
    n += 1
    threading.Thread(target=serve, args=(c, n), daemon=True).start()
PY

# A Python client on one keep-alive connection. resend=1: a request that got nothing on a
# reused connection is sent again on a new one, once (libcurl's rule); resend=0: reported as
# a failure. Prints {"requests": n, "failures": n, "resends": n}.
cat >"$TEST_TMP/client.py" <<'PY'
import http.client, json, sys
port, resend, contents = int(sys.argv[1]), sys.argv[2] == '1', sys.argv[3:]
tally = {'requests': 0, 'failures': 0, 'resends': 0}
conn, used = None, False
def body(c):
    return json.dumps({'model': 'm', 'stream': True, 'messages': [{'role': 'user', 'content': c}]})
for c in contents:
    tally['requests'] += 1
    for attempt in (0, 1):
        if conn is None:
            conn, used = http.client.HTTPConnection('127.0.0.1', port, timeout=20), False
        try:
            conn.request('POST', '/v1/chat/completions', body(c),
                         {'Content-Type': 'application/json'})
            r = conn.getresponse()
            r.read()
            used = True
            break
        except (ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError):
            was_reused = used
            conn.close()
            conn = None
            if resend and was_reused and attempt == 0:
                tally['resends'] += 1
                continue
            tally['failures'] += 1
            break
print(json.dumps(tally))
PY

pf="$TEST_TMP/llama.port"
"$PY" "$TEST_TMP/llama_like.py" "$pf" "$TEST_TMP/llama.log" 2>"$TEST_TMP/llama.err" &
_pids+=("$!")
LLAMA_PID=$!
for _ in $(seq 1 100); do [ -s "$pf" ] && break; sleep 0.1; done
[ -s "$pf" ] || fail "llama-like server did not start: $(cat "$TEST_TMP/llama.err")"
LPORT=$(cat "$pf")
URL="http://127.0.0.1:$LPORT/v1/chat/completions"
start_capture "$LPORT" "$TEST_TMP/llama.jsonl.gz"

req() {  # req CONTENT: curl arguments of one streamed chat request
  printf '%s\0' -sN -o /dev/null -w '%{http_code} %{exitcode}\n' "$URL" \
    -H 'Content-Type: application/json' \
    -d "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"$1\"}]}"
}
curl_run() {  # curl_run CONTENT...: one curl process, one transfer per content, in order
  local args=() first=1 c
  for c in "$@"; do
    [ $first = 1 ] || args+=(--next)
    first=0
    while IFS= read -r -d '' a; do args+=("$a"); done < <(req "$c")
  done
  timeout 60 curl "${args[@]}" || true
}
{
  curl_run c1 c2 c3 c4            # c2-c4 each reset on the reused connection, re-sent
  curl_run fail-new               # reset on a new connection: curl fails, no re-send
  curl_run cut                    # reset after response bytes: curl fails, no re-send
} >"$TEST_TMP/curl.out"
"$PY" "$TEST_TMP/client.py" "$LPORT" 1 p1 p2 >"$TEST_TMP/py1.out" || fail "python client"
# last: a failure nobody re-sends, just before the capture stops (held, then written at exit)
"$PY" "$TEST_TMP/client.py" "$LPORT" 0 p3 p4 >"$TEST_TMP/py2.out" || fail "python client"
sleep 0.2
stop_pid "$CAP_PID" INT
stop_pid "$LLAMA_PID" TERM

assert_eq "curl: 6 transfers, 2 failed" "200 0|200 0|200 0|200 0|000 56|200 56" \
  "$(paste -sd'|' "$TEST_TMP/curl.out")"
assert_eq "python (re-sends): 2 requests, 1 re-send" '{"requests": 2, "failures": 0, "resends": 1}' \
  "$(cat "$TEST_TMP/py1.out")"
assert_eq "python (no re-send): 2 requests, 1 failure" '{"requests": 2, "failures": 1, "resends": 0}' \
  "$(cat "$TEST_TMP/py2.out")"

# check_log LOG CLIENT_REQUESTS CLIENT_FAILURES RESENDS SERVER_RECEIVED [CONTENTS_JSON]
check_log() {
  "$PY" - "$@" <<'PY' || fail "$1: captured records do not match the clients"
import gzip, json, sys
path, n_req, n_fail, n_resend, n_server = sys.argv[1], *map(int, sys.argv[2:6])
with gzip.open(path, 'rt') as f:
    recs = [json.loads(l) for l in f if l.strip()]
assert recs[-1]['type'] == 'trailer', 'capture log not closed cleanly'
ex = [r for r in recs if r['type'] == 'exchange']
content = lambda r: r['request']['body']['messages'][0]['content']
requests = [r for r in ex if 'resent_as' not in r]
attempts = [r for r in ex if 'resent_as' in r]
desc = [(r['id'], content(r), r.get('resent_as'), (r['error'] or {}).get('kind')) for r in ex]
assert len(ex) == n_server, f'{len(ex)} exchanges captured, server received {n_server}: {desc}'
assert len(requests) == n_req, f'{len(requests)} requests captured, clients sent {n_req}: {desc}'
assert sum(r['error'] is not None for r in requests) == n_fail, f'failures: {desc}'
assert len(attempts) == n_resend, f'{len(attempts)} attempts linked, {n_resend} re-sent: {desc}'
pos = {r['id']: i for i, r in enumerate(ex)}
for i, a in enumerate(attempts):
    j = pos[a['resent_as']]
    b = ex[j]
    assert j > pos[a['id']], f"{a['id']}: resent_as {b['id']} written before it"
    assert content(b) == content(a) and b['conn'] != a['conn'], (a['id'], b['id'])
    assert a['error']['kind'] == 'reset' and a['response']['status'] is None, a['id']
    assert a['conn_new'] is False, a['id']
for r in ex:
    if r['conn_new']:
        assert isinstance(r['connect_us'], int) and 0 <= r['connect_us'] < 1000000, r['id']
    else:
        assert r['connect_us'] is None, r['id']
st = recs[-1]['stats']['resends']
assert st['linked'] == n_resend, st
if len(sys.argv) > 6:
    assert sorted(content(r) for r in requests) == sorted(json.loads(sys.argv[6])), desc
print(f'ok: {len(ex)} exchanges = {len(requests)} requests ({n_fail} failed) + {len(attempts)} transport attempts; {st}')
PY
}
server_received=$(wc -l <"$TEST_TMP/llama.log")
assert_eq "llama-like server received 10 requests + 4 re-sent" 14 "$server_received"
check_log "$TEST_TMP/llama.jsonl.gz" 10 3 4 "$server_received" \
  '["c1","c2","c3","c4","fail-new","cut","p1","p2","p3","p4"]'
pass "llama-like server: requests = clients' requests, re-sends linked"
# p4's attempt (reset on the reused connection, never re-sent) is a failure, written at exit or
# when the window passed, whichever came first
assert_eq "unsent attempt kept as a failure" '[["reset", null]]' \
  "$(zjq "$TEST_TMP/llama.jsonl.gz" "[[r['error']['kind'], r.get('resent_as')] for r in ex if r['request']['body']['messages'][0]['content'] == 'p4']")"
assert_eq "held attempt written, none lost" 1 \
  "$(zjq "$TEST_TMP/llama.jsonl.gz" "trl['stats']['resends']['unlinked_window'] + trl['stats']['resends']['unlinked_end']")"

# ---- 2. llmtrace-replay against the same server --------------------------------------------
# replay's client re-sends like libcurl (once, on a new connection, recorded in
# replay.attempts): the capture's requests are replay's records, its attempts replay's.
"$PY" - "$TEST_TMP/input.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], 'w') as f:
    f.write(json.dumps({'type': 'header', 'schema': 1, 'tool': 'test'}) + '\n')
    for i in range(8):
        body = {'model': 'm', 'stream': True, 'messages': [{'role': 'user', 'content': f'q{i}'}]}
        f.write(json.dumps({'type': 'exchange', 'id': f'q{i}', 'start_us': 1700000000000000 + i * 1000,
                            'request': {'method': 'POST', 'path': '/v1/chat/completions',
                                        'headers': [['Content-Type', 'application/json']],
                                        'body': body}}) + '\n')
PY
rm -f "$TEST_TMP/llama.log"
"$PY" "$TEST_TMP/llama_like.py" "$pf.2" "$TEST_TMP/llama.log" 2>"$TEST_TMP/llama.err" &
_pids+=("$!")
LLAMA_PID=$!
for _ in $(seq 1 100); do [ -s "$pf.2" ] && break; sleep 0.1; done
[ -s "$pf.2" ] || fail "llama-like server did not start: $(cat "$TEST_TMP/llama.err")"
LPORT=$(cat "$pf.2")
start_capture "$LPORT" "$TEST_TMP/replay_cap.jsonl.gz"
timeout 60 "$BIN/llmtrace-replay" "$TEST_TMP/input.jsonl" --url "http://127.0.0.1:$LPORT" -c 2 \
  -o "$TEST_TMP/replay.jsonl.gz" 2>"$TEST_TMP/replay.err" || fail "replay: $(tail -3 "$TEST_TMP/replay.err")"
sleep 0.2
stop_pid "$CAP_PID" INT
stop_pid "$LLAMA_PID" TERM
assert_eq "replay: 8 requests, no failure" "8 0" \
  "$(zjq "$TEST_TMP/replay.jsonl.gz" "f'{len(ex)} {sum(r[\"error\"] is not None for r in ex)}'")"
replay_attempts=$(zjq "$TEST_TMP/replay.jsonl.gz" "sum(len(r['replay'].get('attempts') or []) for r in ex)")
assert_le "replay re-sent some requests" 1 "$replay_attempts"
check_log "$TEST_TMP/replay_cap.jsonl.gz" 8 0 "$replay_attempts" "$(wc -l <"$TEST_TMP/llama.log")" \
  '["q0","q1","q2","q3","q4","q5","q6","q7"]'
pass "llmtrace-replay: captured requests = replay's records, attempts = replay.attempts"

# ---- 3. llmtrace-sim dropping connections before the headers ------------------------------
# seed 3: r6 dropped on the reused connection, re-sent, dropped again on the new one (curl
# fails); r7, r8 dropped on new connections (curl fails); r12 dropped on the reused one and
# re-sent: 12 requests, 3 failures, 2 re-sends, 14 requests received by the sim.
start_sim --drop-connection-rate 0.3 --seed 3 --log "$TEST_TMP/truth.jsonl.gz"
start_capture "$SIM_PORT" "$TEST_TMP/sim.jsonl.gz"
URL="$SIM_URL/v1/chat/completions"
curl_run r1 r2 r3 r4 r5 r6 r7 r8 r9 r10 r11 r12 >"$TEST_TMP/curl2.out"
sleep 0.2
stop_pid "$CAP_PID" INT
stop_pid "$SIM_PID" INT
failures=$(grep -vc '^200 0$' "$TEST_TMP/curl2.out" || true)
assert_eq "curl: 12 transfers" 12 "$(wc -l <"$TEST_TMP/curl2.out")"
sim_received=$(zjq "$TEST_TMP/truth.jsonl.gz" "len(ex)")
resends=$((sim_received - 12))
assert_le "the sim dropped some reused connections (re-sends happened)" 1 "$resends"
assert_le "and some requests failed for good" 1 "$failures"
check_log "$TEST_TMP/sim.jsonl.gz" 12 "$failures" "$resends" "$sim_received"
pass "llmtrace-sim --drop-connection-rate: requests = curl's, re-sends linked"
