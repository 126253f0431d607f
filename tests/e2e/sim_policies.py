"""sim_policies.py — raw-socket scenarios and ground-truth checks for tests/e2e/sim_policies.sh.

`wire NAME PORT` drives llmtrace-sim over raw sockets and asserts exact bytes, closes and
resets; `log NAME FILE` asserts what the sim's ground-truth log says about the same requests.
Every socket has a timeout; every loop is bounded."""
import gzip
import json
import socket
import sys
import time


def fail(msg):
    print('FAIL:', msg)
    sys.exit(1)


def check(name, cond, info=''):
    if not cond:
        fail('%s %s' % (name, info))
    print('ok:', name)


def req(rid, stream=True, n=3, path='/v1/chat/completions', close=False):
    body = json.dumps({'stream': stream, 'max_tokens': n, 'ignore_eos': True,
                       'messages': [{'role': 'user', 'content': 'x'}]}).encode()
    return (b'POST ' + path.encode() + b' HTTP/1.1\r\nHost: x\r\nX-Request-Id: ' + rid.encode() +
            b'\r\nContent-Type: application/json\r\nContent-Length: ' + str(len(body)).encode() +
            (b'\r\nConnection: close' if close else b'') + b'\r\n\r\n' + body)


def connect(port):
    return socket.create_connection(('127.0.0.1', port), timeout=5)


def read_response(s):
    """One whole response (Content-Length or chunked): (head bytes, body bytes)."""
    buf = b''
    deadline = time.time() + 5
    while b'\r\n\r\n' not in buf:
        d = s.recv(65536)
        if not d:
            fail('closed before a response head: %r' % buf[:200])
        buf += d
        if time.time() > deadline:
            fail('no response head')
    head, rest = buf.split(b'\r\n\r\n', 1)
    hl = head.lower()
    if b'transfer-encoding: chunked' in hl:
        while not rest.endswith(b'0\r\n\r\n'):
            d = s.recv(65536)
            if not d:
                fail('closed inside a chunked body')
            rest += d
            if time.time() > deadline:
                fail('chunked body did not end')
    else:
        n = int([l.split(b':')[1] for l in hl.split(b'\r\n') if l.startswith(b'content-length')][0])
        while len(rest) < n:
            d = s.recv(65536)
            if not d:
                fail('closed inside a body')
            rest += d
    return head, rest


def outcome(s, wait=2.0):
    """What the client sees next on s without sending: 'eof', 'reset', 'data', or 'open'."""
    s.settimeout(wait)
    try:
        d = s.recv(1)
    except socket.timeout:
        return 'open'
    except ConnectionResetError:
        return 'reset'
    return 'data' if d else 'eof'


def next_request_fate(s, rid):
    """Sends rid on s and says what came back first: 'reset', 'eof' or 'response'."""
    try:
        s.sendall(req(rid))
    except (BrokenPipeError, ConnectionResetError):
        return 'reset'
    s.settimeout(3)
    try:
        d = s.recv(65536)
    except ConnectionResetError:
        return 'reset'
    except socket.timeout:
        return 'timeout'
    return 'response' if d else 'eof'


def wire(name, port):
    if name == 'after_stream':
        s = connect(port)
        s.sendall(req('as-1'))
        head, body = read_response(s)
        check('streamed 200, keep-alive header', head.startswith(b'HTTP/1.1 200') and
              b'Connection: keep-alive' in head and b'Connection: close' not in head, head)
        check('then the server closes (FIN)', outcome(s) == 'eof')
        fate = next_request_fate(s, 'as-2')
        check('the next request meets a close/reset, no response byte', fate in ('reset', 'eof'), fate)
        # a non-streamed response keeps the connection (llama.cpp closes after streams only)
        s = connect(port)
        s.sendall(req('as-3', stream=False))
        head, _ = read_response(s)
        s.sendall(req('as-4', stream=False))
        head2, _ = read_response(s)
        check('JSON responses keep the connection', head2.startswith(b'HTTP/1.1 200'))
        s.close()
    elif name in ('keepalive_requests', 'connection_close'):
        n = 3 if name == 'keepalive_requests' else 1
        s = connect(port)
        for i in range(n):
            s.sendall(req('kr-%d' % i, stream=(i % 2 == 0)))
            head, _ = read_response(s)
            last = i == n - 1
            check('response %d of %d: Connection: %s' % (i + 1, n, 'close' if last else 'keep-alive'),
                  (b'Connection: close' in head) == last, head)
        check('closed after the last one', outcome(s) in ('eof', 'reset'))
        # pipelined past the limit: the extra request is never answered
        s = connect(port)
        s.sendall(b''.join(req('kp-%d' % i, stream=False) for i in range(n + 1)))
        got = b''
        s.settimeout(3)
        for _ in range(100):
            try:
                d = s.recv(65536)
            except ConnectionResetError:
                break
            if not d:
                break
            got += d
        check('pipelined: exactly %d responses' % n, got.count(b'HTTP/1.1 200') == n, got[:300])
    elif name == 'keepalive_timeout':
        s = connect(port)
        s.sendall(req('kt-1', stream=False))
        read_response(s)
        t0 = time.time()
        check('still open after 0.2 s', outcome(s, 0.2) == 'open')
        r = outcome(s, 3)
        dt = time.time() - t0
        check('FIN after the keep-alive timeout', r == 'eof', r)
        check('closed 0.4 s (±0.3) after the response', 0.3 <= dt <= 0.9, '%.3f' % dt)
        # a byte sent before the timeout cancels it; the request then completes normally
        s = connect(port)
        s.sendall(req('kt-2', stream=False))
        read_response(s)
        time.sleep(0.25)
        full = req('kt-3', stream=False)
        s.sendall(full[:10])
        time.sleep(0.35)   # past the deadline of the first timer
        s.sendall(full[10:])
        head, _ = read_response(s)
        check('a byte cancels the timer', head.startswith(b'HTTP/1.1 200'))
        s.close()
        # a connection that never had a response is not closed by it
        s = connect(port)
        check('fresh connection not closed by the keep-alive timeout', outcome(s, 0.8) == 'open')
        s.close()
    elif name == 'race':
        # --close-race-every 2: of the requests that arrive on reused connections, the 2nd, 4th…
        s = connect(port)
        s.sendall(req('rc-1'))       # first on its connection: never raced
        read_response(s)
        s.sendall(req('rc-2'))       # reused arrival 1: answered
        read_response(s)
        s.sendall(req('rc-3'))       # reused arrival 2: the FIN follows it
        check('raced request: EOF before any response byte', outcome(s, 3) == 'eof')
        s2 = connect(port)
        s2.sendall(req('rc-4'))
        read_response(s2)
        s2.sendall(req('rc-5'))      # reused arrival 3: answered
        head, _ = read_response(s2)
        check('the next reused arrival is answered', head.startswith(b'HTTP/1.1 200'))
        s2.sendall(req('rc-6'))      # reused arrival 4: cut
        check('every 2nd is cut', outcome(s2, 3) == 'eof')
    elif name == 'llamacpp_persona':
        s = connect(port)
        s.sendall(req('lp-1', n=4))
        head, body = read_response(s)
        check('llama.cpp headers', head.split(b'\r\n')[1] == b'Keep-Alive: timeout=5, max=100' and
              b'Server: llama.cpp' in head and b'Connection' not in head, head)
        check('no role-only chunk', b'"role"' not in body)
        check('usage and timings in the finish chunk', b'"finish_reason":"length","index":0,"delta":{}' in body
              and b'"timings":{"prompt_n":' in body and b'"completion_tokens":4' in body)
        check('closed after the stream', outcome(s) == 'eof')
        check('next request reset', next_request_fate(s, 'lp-2') in ('reset', 'eof'))
    else:
        fail('unknown case ' + name)


def log(name, path):
    ex = [json.loads(l) for l in gzip.open(path, 'rt') if l.strip()]
    ex = [r for r in ex if r.get('type') == 'exchange']
    by = {r['id']: r for r in ex}

    def cut(rid, word):
        r = by.get(rid)
        check('%s logged as reset (%s)' % (rid, word),
              r is not None and r['response']['status'] is None and r['error'] and
              r['error']['kind'] == 'reset' and word in r['error']['message'], r)

    def ok(rid):
        r = by.get(rid)
        check('%s answered' % rid, r is not None and r['response']['status'] == 200 and
              r['error'] is None, r)

    if name == 'after_stream':
        ok('as-1'); cut('as-2', '--close-after-stream'); ok('as-3'); ok('as-4')
        check('same connection', by['as-1']['conn'] == by['as-2']['conn'])
        check('nothing else logged', len(ex) == 4, [r['id'] for r in ex])
    elif name in ('keepalive_requests', 'connection_close'):
        n = 3 if name == 'keepalive_requests' else 1
        for i in range(n):
            ok('kr-%d' % i)
            ok('kp-%d' % i)
        cut('kp-%d' % n, '--keepalive-requests')
        check('nothing else logged', len(ex) == 2 * n + 1, [r['id'] for r in ex])
    elif name == 'keepalive_timeout':
        for rid in ('kt-1', 'kt-2', 'kt-3'):
            ok(rid)
        check('nothing else logged', len(ex) == 3, [r['id'] for r in ex])
    elif name == 'race':
        for rid in ('rc-1', 'rc-2', 'rc-4', 'rc-5'):
            ok(rid)
        cut('rc-3', '--close-race'); cut('rc-6', '--close-race')
        check('nothing else logged', len(ex) == 6, [r['id'] for r in ex])
    elif name == 'llamacpp_persona':
        ok('lp-1'); cut('lp-2', '--close-after-stream')
        check('nothing else logged', len(ex) == 2, [r['id'] for r in ex])


if __name__ == '__main__':
    if sys.argv[1] == 'wire':
        wire(sys.argv[2], int(sys.argv[3]))
    else:
        log(sys.argv[2], sys.argv[3])
