#!/usr/bin/env bash
# sim_http.sh — llmtrace-sim's HTTP/1.1 behaviour on raw sockets: keep-alive, pipelined
# requests answered in order, chunked request bodies, HTTP/1.0 (close-delimited stream),
# garbage → 400 + close, bodies over --max-body → 400 in the dialect's shape, 500
# connections at once on the zero profile, streams reset by their clients 32 at a time (a
# use-after-free regression), and --idle-timeout (idle close, 408 for dripped headers).
source "$(dirname "$0")/lib.sh"
T=$TEST_TMP
start_sim --max-body 2KB --profile zero
python3 - "$SIM_PORT" <<'PY' || fail "raw-socket checks"
import json, socket, sys, time
port = int(sys.argv[1])

def conn():
    s = socket.create_connection(('127.0.0.1', port), timeout=10)
    return s

def read_all(s):
    out = b''
    while True:
        d = s.recv(65536)
        if not d: return out
        out += d

def req(path, body, extra=b'', version=b'1.1'):
    b = body.encode()
    return (b'POST ' + path.encode() + b' HTTP/' + version + b'\r\nHost: x\r\nContent-Length: ' +
            str(len(b)).encode() + b'\r\n' + extra + b'\r\n' + b)

def check(name, cond, info=''):
    if not cond:
        print('FAIL:', name, info); sys.exit(1)
    print('ok:', name)

# pipelining: three requests in one write, three responses in order on one connection
s = conn()
bodies = ['{"max_tokens":%d,"ignore_eos":true,"messages":[{"role":"user","content":"x"}]}' % n for n in (1, 2, 3)]
s.sendall(b''.join(req('/v1/chat/completions', b) for b in bodies[:2]) +
          req('/v1/chat/completions', bodies[2], b'Connection: close\r\n'))
raw = read_all(s)
parts = raw.split(b'HTTP/1.1 200 OK\r\n')
check('three responses', len(parts) == 4, raw[:200])
toks = [json.loads(p.split(b'\r\n\r\n', 1)[1])['usage']['completion_tokens'] for p in parts[1:]]
check('in order', toks == [1, 2, 3], toks)
check('last says close', b'Connection: close' in parts[3])

# chunked request body
s = conn()
body = b'{"max_tokens":2,"ignore_eos":true,"prompt":"hello"}'
s.sendall(b'POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n' +
          b'%x\r\n' % 10 + body[:10] + b'\r\n' + b'%x\r\n' % (len(body) - 10) + body[10:] + b'\r\n0\r\n\r\n')
raw = read_all(s)
check('chunked body accepted', raw.startswith(b'HTTP/1.1 200') and b'"completion_tokens":2' in raw, raw[:200])

# HTTP/1.0 streaming: no chunked framing, closed at the end
s = conn()
s.sendall(req('/v1/chat/completions', '{"stream":true,"max_tokens":3,"ignore_eos":true,"messages":[{"role":"user","content":"x"}]}', version=b'1.0'))
raw = read_all(s)
head, bodyb = raw.split(b'\r\n\r\n', 1)
check('1.0 not chunked', b'Transfer-Encoding' not in head and b'Connection: close' in head, head)
check('1.0 stream ends with [DONE]', bodyb.endswith(b'data: [DONE]\n\n'), bodyb[-60:])

# garbage → 400 and the connection is closed
s = conn()
s.sendall(b'\x00\x01GARBAGE\r\n\r\n')
raw = read_all(s)
check('garbage → 400', raw.startswith(b'HTTP/1.1 400') and b'Connection: close' in raw, raw[:120])
s = conn()
s.sendall(b'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n')
raw = read_all(s)
check('bad Content-Length → 400', raw.startswith(b'HTTP/1.1 400'), raw[:120])

# body over --max-body (2 KB) → 400 in the dialect's shape (Anthropic here)
s = conn()
big = '{"max_tokens":1,"messages":[{"role":"user","content":"%s"}]}' % ('a' * 4000)
s.sendall(req('/v1/messages', big))
raw = read_all(s)
check('max-body → 400', raw.startswith(b'HTTP/1.1 400'), raw[:120])
j = json.loads(raw.split(b'\r\n\r\n', 1)[1])
check('max-body shape', j['type'] == 'error' and '--max-body' in j['error']['message'], j)

# the server survived all of it
s = conn()
s.sendall(b'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
check('still serving', read_all(s).startswith(b'HTTP/1.1 200'))
PY
# garbage: 400 mutated requests (seeded byte flips, truncations, insertions, split writes) on
# fresh connections, at most 12 s; the server must answer or close each, and keep serving
python3 - "$SIM_PORT" <<'PY' || fail "mutated requests"
import random, socket, sys, time
port = int(sys.argv[1])
rnd = random.Random(1234)
seeds = [
    b'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 88\r\n\r\n{"stream":true,"max_tokens":3,"ignore_eos":true,"messages":[{"role":"user","content":"x"}]}',
    b'POST /v1/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1a\r\n{"max_tokens":2,"messages":\r\n14\r\n[{"role":"user"}]}   \r\n0\r\n\r\n',
    b'POST /api/generate HTTP/1.1\r\nHost: x\r\nContent-Length: 45\r\n\r\n{"prompt":"hi","options":{"num_predict":2}}  ',
    b'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.0\r\n\r\n',
]
t_end = time.time() + 12
n = 0
while n < 400 and time.time() < t_end:
    m = bytearray(rnd.choice(seeds))
    for _ in range(rnd.randint(1, 6)):
        if not m: break
        op = rnd.randint(0, 3)
        i = rnd.randrange(len(m))
        if op == 0: m[i] = rnd.randrange(256)
        elif op == 1: del m[i:i + rnd.randint(1, 20)]
        elif op == 2: m[i:i] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 8)))
        else: m = m[:i]
    s = socket.create_connection(('127.0.0.1', port), timeout=5)
    cut = rnd.randrange(len(m) + 1)
    half = rnd.random() < 0.5
    try:  # the server may answer 400 and close before everything is sent
        s.sendall(bytes(m[:cut])); s.sendall(bytes(m[cut:]))
        if half: s.shutdown(socket.SHUT_WR)
        s.settimeout(0.05)
        while s.recv(65536): pass
    except (socket.timeout, OSError):
        pass
    s.close()
    n += 1
s = socket.create_connection(('127.0.0.1', port), timeout=5)
s.sendall(b'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
r = s.recv(4096)
if not r.startswith(b'HTTP/1.1 200'):
    print('FAIL: not serving after garbage', r[:100]); sys.exit(1)
print('ok: %d mutated requests survived' % n)
PY
kill -0 $SIM_PID || fail "llmtrace-sim died on mutated input"
# HEAD: 405 headers without content, and the connection stays usable
assert_eq "HEAD twice on one connection" "405 1 405 0" "$(curl -sI -o /dev/null -o /dev/null -w '%{http_code} %{num_connects}\n' "$SIM_URL/health" "$SIM_URL/health" | paste -sd' ')"
# keep-alive with curl: two requests, one connection
n=$(curl -s -w '%{num_connects}\n' "$SIM_URL/health" "$SIM_URL/health" -o /dev/null -o /dev/null | paste -sd' ')
assert_eq "curl reuses the connection" "1 0" "$n"
# 500 connections at once, each streaming 20 tokens repeatedly for 1.5 s
out=$("$BIN/llmtrace-simload" --port "$SIM_PORT" -c 500 --duration 1.5 --max-tokens 20 --count '{"content":"')
echo "$out"
grep -q 'errors=0 non200=0' <<<"$out" || fail "500 connections: $out"
req=$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<<"$out")
assert_le "500 conns: requests completed" 500 "$req"
stop_pid $SIM_PID

# stop_sim_clean WHAT: SIGTERM, then the exit status must be 0 and stderr free of sanitizer
# reports (an ASan abort exits non-zero).
stop_sim_clean() {
  local i rc=0
  kill -TERM "$SIM_PID" || fail "$1: llmtrace-sim already gone"
  for i in $(seq 1 150); do kill -0 "$SIM_PID" 2>/dev/null || break; sleep 0.1; done
  wait "$SIM_PID" || rc=$?
  assert_eq "$1: exit status after SIGTERM" 0 "$rc"
  if grep -q 'Sanitizer' "$TEST_TMP/sim.stderr"; then
    fail "$1: sanitizer report: $(grep -m1 -A4 'ERROR: .*Sanitizer' "$TEST_TMP/sim.stderr")"
  fi
}

# Connections reset (RST) while their streams are being written, 32 at a time, on a timed
# profile: their events still sit in the loop's epoll results when the connections are closed.
# Regression check for a use-after-free there: an ASan build aborted within 4-13 rounds (a
# release build could deliver the events to a connection accepted at the same address).
start_sim --profile default
python3 - "$SIM_PORT" <<'PY' || fail "connections reset mid-stream"
import socket, struct, sys, time
port = int(sys.argv[1])
body = b'{"stream":true,"max_tokens":2000,"ignore_eos":true,"messages":[{"role":"user","content":"hi"}]}'
req = b'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n' % len(body) + body
for rnd in range(30):
    ss = []
    for i in range(32):
        try:
            s = socket.create_connection(('127.0.0.1', port), timeout=5)
            s.sendall(req)
            ss.append(s)
        except OSError as e:
            print('FAIL: sim gone in round', rnd, e); sys.exit(1)
    time.sleep(0.05)
    for s in ss:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        s.close()
try:
    s = socket.create_connection(('127.0.0.1', port), timeout=5)
    s.sendall(b'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    r = s.recv(4096)
except OSError as e:
    r = repr(e).encode()
if not r.startswith(b'HTTP/1.1 200'):
    print('FAIL: no /health answer after the resets', r[:100]); sys.exit(1)
print('ok: 30 rounds of 32 reset streams survived')
PY
stop_sim_clean "resets mid-stream"

# --idle-timeout 0.5 s on a profile with a known pace (20 ms a step)
start_sim --profile linear:20,0,0 --idle-timeout 0.5
python3 - "$SIM_PORT" <<'PY' || fail "--idle-timeout"
import socket, sys, time
port = int(sys.argv[1])

def check(name, cond, info=''):
    if not cond:
        print('FAIL:', name, info); sys.exit(1)
    print('ok:', name)

def until_closed(s, limit=5.0):
    """Reads until EOF; returns (bytes, seconds from now to EOF); the socket times out at limit."""
    t0 = time.monotonic(); out = b''
    s.settimeout(limit)
    while True:
        d = s.recv(65536)
        if not d:
            return out, time.monotonic() - t0
        out += d

# nothing sent: closed (FIN, no bytes) about 0.5 s after the connect
s = socket.create_connection(('127.0.0.1', port), timeout=5)
raw, dt = until_closed(s)
check('idle connection closed after 0.5 s', raw == b'' and 0.4 <= dt <= 2.5, (raw[:80], dt))

# a request line and headers dripped a byte every 0.1 s: the drip does not restart the clock;
# the half-read request gets 408 and the close
s = socket.create_connection(('127.0.0.1', port), timeout=5)
t0 = time.monotonic()
drip = b'GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ' + b'a' * 100
got = b''
s.settimeout(0.1)
for b in drip:
    try:
        s.sendall(bytes([b]))
    except OSError:
        break
    try:
        d = s.recv(4096)
        got += d
        if not d or got.endswith(b'}'):
            break
    except socket.timeout:
        pass
    except OSError:  # the reset that follows the close when drip bytes were left unread
        break
    if time.monotonic() - t0 > 4:
        break
dt = time.monotonic() - t0
check('dripped headers → 408', got.startswith(b'HTTP/1.1 408 Request Timeout\r\n') and
      b'Connection: close' in got and b'--idle-timeout' in got, got[:200])
check('408 after about 0.5 s', 0.4 <= dt <= 2.5, dt)

# keep-alive: the clock starts when the last response is done, and a stream that lasts longer
# than the timeout is not cut (70 tokens at 20 ms a step ≈ 1.4 s)
s = socket.create_connection(('127.0.0.1', port), timeout=5)
time.sleep(0.3)
b = b'{"stream":true,"max_tokens":70,"ignore_eos":true,"messages":[{"role":"user","content":"x"}]}'
s.sendall(b'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n' % len(b) + b)
got = b''
t0 = time.monotonic()
while not got.endswith(b'data: [DONE]\n\n\r\n0\r\n\r\n') and time.monotonic() - t0 < 5:
    d = s.recv(65536)
    if not d:
        break
    got += d
stream_s = time.monotonic() - t0
check('stream longer than the timeout completes', got.startswith(b'HTTP/1.1 200') and
      got.endswith(b'data: [DONE]\n\n\r\n0\r\n\r\n') and stream_s >= 0.8, (got[-80:], stream_s))
raw, dt = until_closed(s)
check('closed 0.5 s after the response', raw == b'' and 0.4 <= dt <= 2.5, (raw[:80], dt))
PY
stop_sim_clean "idle timeout"
# the default timeout is long (60 s): an idle connection is still open after 1 s
start_sim --profile zero
python3 - "$SIM_PORT" <<'PY' || fail "default --idle-timeout"
import socket, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=1)
try:
    d = s.recv(1)
    print('FAIL: idle connection closed early', d); sys.exit(1)
except socket.timeout:
    pass
s.sendall(b'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
s.settimeout(5)
r = s.recv(4096)
if not r.startswith(b'HTTP/1.1 200'):
    print('FAIL: idle connection not served after 1 s', r[:80]); sys.exit(1)
print('ok: default timeout keeps a 1 s idle connection')
PY
stop_pid $SIM_PID
rc=0
"$BIN/llmtrace-sim" --idle-timeout -1 2>/dev/null || rc=$?
assert_eq "--idle-timeout -1 is a usage error" 2 "$rc"
