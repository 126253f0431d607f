#!/usr/bin/env bash
# capture_proxy_gzip.sh — the recording proxy in front of an upstream that compresses its
# answers (Content-Encoding: gzip, as gateways and nginx's gzip module do): a stream flushed
# per event (Z_SYNC_FLUSH) reaches the client inflated, chunked and without Content-Encoding,
# each event as it arrives (the upstream waits between events), and the record has every
# event and the usage's tokens; a gzip JSON answer with Content-Length is inflated the same
# way. A body that is not gzip although it says so is an error record, never a crash.
. "$(dirname "$0")/lib.sh"
CAP="$BIN/llmtrace-capture"
T=$TEST_TMP
source "$SRC_DIR/tests/e2e/proxy_lib.sh"

# ---- the upstream: Python's standard library, gzip on every answer ----------------------
python3 - "$T/up.port" <<'PY' 2>"$T/up.stderr" &
import http.server, json, sys, time, zlib

N = 6  # content events per stream

def sse():
    ev = []
    for i in range(N):
        c = {"id": "gz-1", "object": "chat.completion.chunk", "model": "m",
             "choices": [{"index": 0, "delta": {"content": "tok%d " % i}, "finish_reason": None}]}
        ev.append("data: " + json.dumps(c) + "\n\n")
    last = {"id": "gz-1", "object": "chat.completion.chunk", "model": "m",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 12, "total_tokens": 19}}
    ev.append("data: " + json.dumps(last) + "\n\n")
    ev.append("data: [DONE]\n\n")
    return ev

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        z = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: a gzip member
        self.send_response(200)
        self.send_header("Content-Encoding", "gzip")
        if body.get("model") == "bad":
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Content-Length", "16")
            self.end_headers()
            self.wfile.write(b"not gzip at all!")
            return
        if not body.get("stream"):
            data = json.dumps({"id": "gz-2", "object": "chat.completion", "model": "m",
                               "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello there"},
                                            "finish_reason": "stop"}],
                               "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}}).encode()
            gz = z.compress(data) + z.flush()
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(gz)))
            self.end_headers()
            self.wfile.write(gz)
            return
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for e in sse():
            piece = z.compress(e.encode()) + z.flush(zlib.Z_SYNC_FLUSH)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.flush()
            time.sleep(0.03)
        tail = z.flush()
        if tail:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(tail), tail))
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.timeout = 0.2
deadline = time.time() + 60  # bounded: the test is done long before
while time.time() < deadline:
    s.handle_request()
PY
UP_PID=$!
_pids+=("$UP_PID")
for i in $(seq 1 50); do [ -s "$T/up.port" ] && break; sleep 0.1; done
[ -s "$T/up.port" ] || fail "gzip upstream did not start: $(cat "$T/up.stderr")"
UP="http://127.0.0.1:$(cat "$T/up.port")"

start_proxy "$T/gz.jsonl.gz" "$UP"
# curl without --compressed: whatever reaches it is what the proxy sent
curl -sS -N -D "$T/s.h" -o "$T/s.b" -H 'Content-Type: application/json' -H 'X-Request-Id: gz-s' \
  -d '{"model":"m","stream":true,"max_tokens":12,"messages":[{"role":"user","content":"hi"}]}' \
  "$PX_URL/v1/chat/completions" || fail "streamed request through the proxy failed"
curl -sS -D "$T/j.h" -o "$T/j.b" -H 'Content-Type: application/json' -H 'X-Request-Id: gz-j' \
  -d '{"model":"m","messages":[{"role":"user","content":"hi"}]}' \
  "$PX_URL/v1/chat/completions" || fail "JSON request through the proxy failed"
curl -sS -o /dev/null -H 'Content-Type: application/json' -H 'X-Request-Id: gz-bad' \
  -d '{"model":"bad","stream":true,"messages":[{"role":"user","content":"hi"}]}' \
  "$PX_URL/v1/chat/completions" || true
stop_proxy
kill "$UP_PID" 2>/dev/null || true

assert_eq "stream reaches the client inflated: 8 data lines" 8 "$(grep -c '^data: ' "$T/s.b")"
grep -q '^data: \[DONE\]' "$T/s.b" || fail "no [DONE] in the inflated stream"
grep -q '"content": "tok5 "' "$T/s.b" || fail "last content event missing from the inflated stream"
grep -qi '^content-encoding' "$T/s.h" && fail "Content-Encoding forwarded on an inflated stream"
grep -qi '^transfer-encoding: chunked' "$T/s.h" || fail "inflated stream not chunked to the client"
assert_eq "JSON answer inflated" "hello there" \
  "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["choices"][0]["message"]["content"])' "$T/j.b")"
grep -qi '^content-encoding' "$T/j.h" && fail "Content-Encoding forwarded on an inflated answer"

assert_eq "three records" 3 "$(zjq "$T/gz.jsonl.gz" 'len(ex)')"
# 8 events: six content chunks, the usage chunk, [DONE]; tokens from the usage
assert_eq "stream record: events, tokens out/in and their source, error" '[8, 12, 7, "usage", null]' \
  "$(zjq "$T/gz.jsonl.gz" '[[len(e["response"]["events"]), e["tokens_out"], e["tokens_in"], e["tokens_source"], e["error"]] for e in ex if any(h[1] == "gz-s" for h in e["request"]["headers"])][0]')"
assert_eq "stream record: the inflated text" "tok0 tok1 tok2 tok3 tok4 tok5 " \
  "$(zjq "$T/gz.jsonl.gz" '[e["response"]["text"] for e in ex if any(h[1] == "gz-s" for h in e["request"]["headers"])][0]')"
# the events were forwarded as they came: the upstream waited 30 ms between them, so the
# record's event times span at least 5 × 30 ms minus scheduling slack
assert_le "events recorded as they arrived (span, µs)" 120000 \
  "$(zjq "$T/gz.jsonl.gz" '[e["response"]["events"][-1][0] - e["response"]["events"][0][0] for e in ex if any(h[1] == "gz-s" for h in e["request"]["headers"])][0]')"
assert_le "and written to the client as they arrived, not at the end (span, µs)" 120000 \
  "$(zjq "$T/gz.jsonl.gz" '[e["response"]["write_us"][-1] - e["response"]["write_us"][0] for e in ex if any(h[1] == "gz-s" for h in e["request"]["headers"])][0]')"
assert_eq "JSON record: tokens from usage" 3 \
  "$(zjq "$T/gz.jsonl.gz" '[e["tokens_out"] for e in ex if any(h[1] == "gz-j" for h in e["request"]["headers"])][0]')"
bad=$(zjq "$T/gz.jsonl.gz" '[(e["error"] or {}).get("kind") for e in ex if any(h[1] == "gz-bad" for h in e["request"]["headers"])][0]')
[ -n "$bad" ] && [ "$bad" != "null" ] || fail "a body that is not gzip was recorded without an error"
pass "a body that is not gzip is an error record ($bad)"
kill -0 "$PX_PID" 2>/dev/null && fail "proxy still running"
pass "capture_proxy_gzip"
