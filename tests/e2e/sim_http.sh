#!/usr/bin/env bash
# sim_http.sh — llmtrace-sim's HTTP/1.1 behaviour on raw sockets: keep-alive, pipelined
# requests answered in order, chunked request bodies, HTTP/1.0 (close-delimited stream),
# garbage → 400 + close, bodies over --max-body → 400 in the dialect's shape, and 500
# connections at once on the zero profile.
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
