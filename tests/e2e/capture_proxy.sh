#!/usr/bin/env bash
# capture_proxy.sh — llmtrace-capture --listen/--upstream, the recording reverse proxy, with
# llmtrace-sim upstream and curl, a Python client and llmtrace-replay as clients: streams pass
# through byte for byte, records agree with the simulator's ground truth (events, tokens,
# times), credentials never reach the log, and every fault has its record: refused upstream
# (502), client gone mid-stream (cancelled), upstream reset mid-stream (reset), a slow client
# (the upstream read pauses, nothing is lost), SIGTERM mid-stream (drained within --grace).
. "$(dirname "$0")/lib.sh"
source "$SRC_DIR/tests/e2e/replay_lib.sh"
CAP="$BIN/llmtrace-capture"
T=$TEST_TMP
source "$SRC_DIR/tests/e2e/proxy_lib.sh"

chat() { # chat MAX_TOKENS [content]: a streamed chat completion body
  printf '{"model":"m","stream":true,"max_tokens":%s,"ignore_eos":true,"messages":[{"role":"user","content":"%s"}]}' \
    "$1" "${2:-tell me a story}"
}

# ---- 1. a streamed completion through the proxy is the direct one, byte for byte ----------
# Two simulators with the same seed answer their first request identically (the id and text
# come from its draws); only "created" (a wall-clock second) may differ.
start_sim --log "$T/truth_a.jsonl.gz"
SIM_A=$SIM_URL; SIM_A_PID=$SIM_PID
start_sim --log "$T/truth_b.jsonl.gz"
SIM_B=$SIM_URL; SIM_B_PID=$SIM_PID
start_proxy "$T/p1.jsonl.gz" "$SIM_B"
curl -sS -N -D "$T/direct.h" -o "$T/direct.b" -H 'Content-Type: application/json' \
  -H 'X-Request-Id: rq-1' -d "$(chat 24)" "$SIM_A/v1/chat/completions"
curl -sS -N -D "$T/proxied.h" -o "$T/proxied.b" -H 'Content-Type: application/json' \
  -H 'X-Request-Id: rq-1' -H 'Authorization: Bearer sk-SECRET-in-header-42' \
  -d "$(chat 24)" "$PX_URL/v1/chat/completions"
norm() { sed -E 's/"created":[0-9]+/"created":0/g' "$1"; }
assert_eq "proxied body = direct body (created normalised)" "$(norm "$T/direct.b" | md5sum)" \
  "$(norm "$T/proxied.b" | md5sum)"
assert_le "the body is a whole stream" 25 "$(grep -c '^data: ' "$T/proxied.b")"
grep -q '^data: \[DONE\]' "$T/proxied.b" || fail "no [DONE] through the proxy"
hdrs() { tr -d '\r' <"$1" | grep -viE '^(connection|transfer-encoding|keep-alive):' | sort; }
assert_eq "response headers minus hop-by-hop" "$(hdrs "$T/direct.h")" "$(hdrs "$T/proxied.h")"
grep -qi '^transfer-encoding: chunked' "$T/proxied.h" || fail "stream not chunked to the client"

# keep-alive toward the client: two requests on one curl connection, one client connection
curl -sS -N -o "$T/ka1.b" -o "$T/ka2.b" -H 'Content-Type: application/json' \
  -H 'X-Request-Id: rq-ka' -d "$(chat 3)" "$PX_URL/v1/chat/completions" "$PX_URL/v1/chat/completions"
stop_proxy
stop_pid "$SIM_A_PID" INT
stop_pid "$SIM_B_PID" INT             # (its ground truth is complete once it has stopped)
assert_eq "three records" 3 "$(zjq "$T/p1.jsonl.gz" 'len(ex)')"
assert_eq "keep-alive: one client connection for the last two" \
  '[true, true, false]' "$(zjq "$T/p1.jsonl.gz" '[e["conn_new"] for e in ex]')"
assert_eq "header source" '["proxy", "'"$SIM_B"'"]' \
  "$(zjq "$T/p1.jsonl.gz" '[hdr["source"]["kind"], hdr["source"]["upstream"]]')"
assert_eq "header options: the proxy's" '[false, 5000000, 1048576, false]' \
  "$(zjq "$T/p1.jsonl.gz" '[hdr["options"]["proxy_api_key"], hdr["options"]["grace_us"], hdr["options"]["max_pending"], "resend_window_us" in hdr["options"]]')"
assert_eq "trailer present, no errors" '[3, 0]' "$(zjq "$T/p1.jsonl.gz" '[trl["records"], trl["errors"]]')"
# the secret went upstream (the simulator saw an Authorization header) but not into our log
assert_eq "client's Authorization reached upstream" 1 \
  "$(zjq "$T/truth_b.jsonl.gz" 'sum(1 for e in ex for h in e["request"]["headers"] if h[0].lower()=="authorization")')"
assert_eq "secret never in the proxy's log" 0 "$(zcat "$T/p1.jsonl.gz" | grep -c 'SECRET-in-header' || true)"
assert_eq "Authorization recorded redacted" '<redacted>' \
  "$(zjq "$T/p1.jsonl.gz" '[h[1] for h in ex[0]["request"]["headers"] if h[0]=="Authorization"][0]')"

# the record against the simulator's ground truth: same events, tokens, and times
read -r nev ntok lo hi wbad <<<"$(python3 - "$T/truth_b.jsonl.gz" "$T/p1.jsonl.gz" <<'PY'
import gzip, json, sys
def load(p):
    return [r for r in map(json.loads, gzip.open(p, "rt")) if r.get("type") == "exchange"]
s, p = load(sys.argv[1])[0], load(sys.argv[2])[0]
se, pe = s["response"]["events"], p["response"]["events"]
d = [(p["start_us"] + a[0]) - (s["start_us"] + b[0]) for a, b in zip(pe, se)]
w, ad = p["response"]["write_us"], p["response"]["added_us"]
bad = sum(1 for e, wi, a in zip(pe, w, ad) if wi is None or wi < e[0] or a != wi - e[0])
print(len(pe) - len(se), p["tokens_out"] - s["tokens_out"], min(d), max(d), bad + abs(len(w) - len(pe)))
PY
)"
assert_eq "event count = ground truth" 0 "$nev"
assert_eq "tokens_out = ground truth" 0 "$ntok"
# the simulator stamps just before write(); the proxy has the kernel's receive time
assert_le "no event stamped before the simulator's (µs)" -200 "$lo"
assert_le "event times within 50 ms of the simulator's (µs)" "$hi" 50000
assert_eq "write_us/added_us: one per event, write ≥ receive, added = write − receive" 0 "$wbad"

# ---- 2. llmtrace-replay through the proxy vs the simulator's ground truth -------------------
start_sim --log "$T/truth_r.jsonl.gz"
start_proxy "$T/p2.jsonl.gz" "$SIM_URL" --hash-prompts
mk_trace "$T/t32.jsonl.gz" 32 1000
"$RP" "$T/t32.jsonl.gz" --url "$PX_URL" -c 8 --max-tokens 12 --ignore-eos -q -o "$T/r.jsonl.gz"
stop_proxy
stop_pid "$SIM_PID" INT
read -r n ntruth tokbad ttftbad nohash <<<"$(python3 - "$T/truth_r.jsonl.gz" "$T/p2.jsonl.gz" "$T/r.jsonl.gz" <<'PY'
import gzip, json, sys
def load(p):
    return [r for r in map(json.loads, gzip.open(p, "rt")) if r.get("type") == "exchange"]
def rid(e):
    return next((h[1] for h in e["request"]["headers"] if h[0].lower() == "x-request-id"), e["id"])
truth = {rid(e): e for e in load(sys.argv[1])}
px = load(sys.argv[2])
rep = {e["replay"]["of"]: e for e in load(sys.argv[3])}
def ttft(e):
    return next(x[0] for x in e["response"]["events"] if x[2] == 1)
tokbad = ttftbad = nohash = 0
for e in px:
    t = truth.get(rid(e))
    if t is None or e["tokens_out"] != t["tokens_out"] or e["error"] is not None:
        tokbad += 1
        continue
    # TTFT as the proxy saw it vs as the simulator wrote it: within 50 ms (generous)
    if abs((e["start_us"] + ttft(e)) - (t["start_us"] + ttft(t))) > 50000:
        ttftbad += 1
    if not e["request"].get("body_sha256"):
        nohash += 1
print(len(px), len(truth), tokbad, ttftbad, nohash)
PY
)"
assert_eq "replay via proxy: one record per request" 32 "$n"
assert_eq "simulator saw the same count" 32 "$ntruth"
assert_eq "tokens_out equal to ground truth, no errors" 0 "$tokbad"
assert_eq "first content event within 50 ms of ground truth" 0 "$ttftbad"
assert_eq "--hash-prompts: every record has body_sha256" 0 "$nohash"
assert_eq "replay saw no errors" 0 "$(zjq "$T/r.jsonl.gz" 'sum(1 for e in ex if e["error"])')"

# ---- 3. --api-key-env: the proxy's key replaces the client's, and stays out of log and argv -
python3 - "$T/echo.port" <<'PY' &
import http.server, sys, socketserver
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        b = ("auth=%s" % self.headers.get("Authorization")).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
s = socketserver.TCPServer(("127.0.0.1", 0), H)
open(sys.argv[1] + ".tmp", "w").write("%d\n" % s.server_address[1])
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.serve_forever()
PY
ECHO_PID=$!
_pids+=("$ECHO_PID")
for i in $(seq 1 50); do [ -s "$T/echo.port" ] && break; sleep 0.1; done
ECHO_URL="http://127.0.0.1:$(cat "$T/echo.port")"
export PROXY_TEST_KEY="sk-proxy-KEY-7f3a"
start_proxy "$T/p3.jsonl.gz" "$ECHO_URL" --api-key-env PROXY_TEST_KEY
got=$(curl -sS -H 'Authorization: Bearer client-key' -H 'Content-Type: application/json' \
  -d "$(chat 2)" "$PX_URL/v1/chat/completions")
assert_eq "upstream got the proxy's key, not the client's" "auth=Bearer sk-proxy-KEY-7f3a" "$got"
tr '\0' ' ' </proc/"$PX_PID"/cmdline | grep -q 'KEY-7f3a' && fail "key in the proxy's argv"
# request bodies read over many reads (2 MB, Expect: 100-continue) and chunked ones
python3 -c 'import json; print(json.dumps({"model": "m", "messages": [{"role": "user", "content": "x" * 2000000}]}))' >"$T/big.json"
got=$(curl -sS -m 20 -H 'Content-Type: application/json' -H 'Expect: 100-continue' \
  --data-binary @"$T/big.json" "$PX_URL/v1/chat/completions")
assert_eq "2 MB request body forwarded" "auth=Bearer sk-proxy-KEY-7f3a" "$got"
got=$(curl -sS -m 20 -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' \
  -d "$(chat 2)" "$PX_URL/v1/chat/completions")
assert_eq "chunked request body forwarded" "auth=Bearer sk-proxy-KEY-7f3a" "$got"
stop_proxy
assert_eq "body sizes recorded" "[$(chat 2 | wc -c), $(stat -c %s "$T/big.json"), $(chat 2 | wc -c)]" \
  "$(zjq "$T/p3.jsonl.gz" '[e["request"]["body_bytes"] for e in ex]')"
unset PROXY_TEST_KEY
assert_eq "key never in the log" 0 "$(zcat "$T/p3.jsonl.gz" | grep -c 'KEY-7f3a' || true)"
assert_eq "client key never in the log" 0 "$(zcat "$T/p3.jsonl.gz" | grep -c 'client-key' || true)"
assert_eq "an unset --api-key-env is a usage error" 2 \
  "$("$CAP" --listen 127.0.0.1:0 --upstream "$ECHO_URL" --api-key-env NO_SUCH_VAR_X -q -w "$T/x.jsonl.gz" 2>/dev/null; echo $?)"

# ---- 4. upstream refused: 502 with a JSON error, recorded as connect -------------------------
DEAD=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_proxy "$T/p4.jsonl.gz" "http://127.0.0.1:$DEAD"
code=$(curl -sS -o "$T/502.b" -w '%{http_code}' -H 'Content-Type: application/json' \
  -d "$(chat 2)" "$PX_URL/v1/chat/completions")
assert_eq "refused upstream → 502" 502 "$code"
assert_eq "502 body: OpenAI-style upstream_error" upstream_error \
  "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["error"]["type"])' "$T/502.b")"
code=$(curl -sS -o "$T/502a.b" -w '%{http_code}' -H 'Content-Type: application/json' \
  -d '{"model":"m","max_tokens":2,"messages":[]}' "$PX_URL/v1/messages")
assert_eq "Anthropic path → 502 in Anthropic's shape" "502 error" \
  "$code $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["type"])' "$T/502a.b")"
code=$(curl -sS -o "$T/502o.b" -w '%{http_code}' -H 'Content-Type: application/json' \
  -d '{"model":"m","messages":[]}' "$PX_URL/api/chat")
assert_eq "Ollama path → 502 in Ollama's shape (a string error)" "502 str" \
  "$code $(python3 -c 'import json,sys; print(type(json.load(open(sys.argv[1]))["error"]).__name__)' "$T/502o.b")"
# a malformed request: 400, nothing forwarded, the connection closed, the proxy unharmed
printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n' |
  timeout 5 python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(sys.stdin.buffer.read())
print(s.recv(4096).split(b"\r\n")[0].decode())' "${PX_URL##*:}" >"$T/400.txt"
assert_eq "bad request → 400" "HTTP/1.1 400 Bad Request" "$(cat "$T/400.txt")"
timeout 5 python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n")
print(s.recv(4096).split(b"\r\n")[0].decode())' "${PX_URL##*:}" >"$T/431.txt" 2>/dev/null || true
assert_eq "head over 64 KiB → 431" "HTTP/1.1 431 Request Header Fields Too Large" "$(cat "$T/431.txt")"
head -c 17000000 /dev/zero >"$T/big.bin"
code=$(curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
  --data-binary @"$T/big.bin" "$PX_URL/v1/chat/completions" 2>/dev/null || true)
assert_eq "body over 16 MiB → 413" 413 "$code"
stop_proxy
assert_eq "refused: three records, error kind connect, no upstream status, client saw 502" \
  '[["connect", null, 502], ["connect", null, 502], ["connect", null, 502]]' \
  "$(zjq "$T/p4.jsonl.gz" '[[e["error"]["kind"], e["response"]["status"], e["proxy"]["client_status"]] for e in ex]')"
assert_eq "trailer counts the 502s and the three bad requests" '[3, 3]' \
  "$(zjq "$T/p4.jsonl.gz" '[trl["stats"]["upstream_errors"], trl["stats"]["bad_requests"]]')"

# upstream that never answers the SYN (a listen backlog kept full): 502, connect_timeout
python3 - "$T/bh.port" <<'PY' &
import os, socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(0)
fill = []
for i in range(3):                     # fill the accept queue; later SYNs are dropped
    c = socket.socket()
    c.setblocking(False)
    try:
        c.connect(s.getsockname())
    except BlockingIOError:
        pass
    fill.append(c)
open(sys.argv[1] + ".tmp", "w").write("%d\n" % s.getsockname()[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(30)
PY
BH_PID=$!
_pids+=("$BH_PID")
for i in $(seq 1 50); do [ -s "$T/bh.port" ] && break; sleep 0.1; done
start_proxy "$T/p4b.jsonl.gz" "http://127.0.0.1:$(cat "$T/bh.port")" --connect-timeout 300ms
code=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
  -d "$(chat 2)" "$PX_URL/v1/chat/completions")
assert_eq "upstream connect timed out → 502" 502 "$code"
stop_proxy
kill "$BH_PID" 2>/dev/null || true
assert_eq "recorded connect_timeout" connect_timeout "$(zjq "$T/p4b.jsonl.gz" 'ex[0]["error"]["kind"]')"

# ---- 5. client gone mid-stream → cancelled; upstream reset mid-stream → reset ---------------
start_sim --log "$T/truth_c.jsonl.gz"
start_proxy "$T/p5.jsonl.gz" "$SIM_URL"
# 400 tokens at ~2 ms each: curl gives up after 0.3 s
curl -sS -N -m 0.3 -o /dev/null -H 'Content-Type: application/json' \
  -d "$(chat 400)" "$PX_URL/v1/chat/completions" 2>/dev/null && fail "curl should have timed out"
sleep 0.5
stop_proxy
stop_pid "$SIM_PID" INT
assert_eq "client gone: recorded cancelled" cancelled "$(zjq "$T/p5.jsonl.gz" 'ex[0]["error"]["kind"]')"
read -r nev nw <<<"$(zjq "$T/p5.jsonl.gz" '"%d %d" % (len(ex[0]["response"]["events"]), sum(1 for w in ex[0]["response"]["write_us"] if w is not None))')"
assert_le "cancelled: the events before it are kept" 20 "$nev"
assert_le "cancelled: stopped well before the end" "$nev" 300
# the upstream transfer was aborted: the simulator did not stream all 400 tokens to anyone
assert_le "simulator's stream was cut too" "$(zjq "$T/truth_c.jsonl.gz" 'len(ex[0]["response"]["events"])')" 300

start_sim --reset-rate 1 --log "$T/truth_d.jsonl.gz"
start_proxy "$T/p6.jsonl.gz" "$SIM_URL"
rc=0
curl -sS -N -o "$T/reset.b" -H 'Content-Type: application/json' -d "$(chat 50)" \
  "$PX_URL/v1/chat/completions" 2>/dev/null || rc=$?
assert_eq "upstream reset: curl sees the stream cut (18: partial transfer)" 18 "$rc"
grep -q '\[DONE\]' "$T/reset.b" && fail "a cut stream must not end with [DONE]"
stop_proxy
stop_pid "$SIM_PID" INT
assert_eq "upstream reset: recorded reset" reset "$(zjq "$T/p6.jsonl.gz" 'ex[0]["error"]["kind"]')"

# ---- 6. a slow client: the upstream read pauses, the whole stream arrives ---------------------
start_sim --profile zero
start_proxy "$T/p7.jsonl.gz" "$SIM_URL" --max-pending 64k
# 40,000 events (~7.7 MB): more than the kernel's socket buffers hold (a 64 KiB receive
# buffer at the client, the proxy's send buffer autotuned up to tcp_wmem's 4 MiB)
python3 - "${PX_URL##*:}" \
  '{"model":"m","stream":true,"max_tokens":40000,"ignore_eos":true,"messages":[{"role":"user","content":"x"}]}' \
  >"$T/slow.txt" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
body = sys.argv[2].encode()
s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
time.sleep(1.5)                      # the proxy's backlog fills: it must pause, not buffer
data = b""
t0 = time.time()
while time.time() - t0 < 30:
    b = s.recv(65536)
    if not b:
        break
    data += b
head, _, rest = data.partition(b"\r\n\r\n")
body = b""
while rest:                          # undo the chunked framing toward the client
    size, _, rest = rest.partition(b"\r\n")
    n = int(size, 16)
    if n == 0:
        break
    body += rest[:n]
    rest = rest[n + 2:]
print(body.count(b"data: "), body.count(b"data: [DONE]"), len(body))
PY
read -r nevents ndone nbytes <"$T/slow.txt"
stop_proxy
stop_pid "$SIM_PID" INT
assert_eq "slow client: the stream ended with [DONE]" 1 "$ndone"
assert_le "slow client: every event arrived" 40001 "$nevents"
assert_le "slow client: the upstream read paused" 1 "$(zjq "$T/p7.jsonl.gz" 'trl["stats"]["pauses"]')"
assert_eq "slow client: recorded whole" '[null, 40000]' \
  "$(zjq "$T/p7.jsonl.gz" '[ex[0]["error"], ex[0]["tokens_out"]]')"

# ---- 7. SIGTERM mid-stream: no new connections, the stream finishes, the log is closed ------
start_sim
start_proxy "$T/p8.jsonl.gz" "$SIM_URL" --grace 10s
curl -sS -N -o "$T/drain.b" -H 'Content-Type: application/json' -d "$(chat 150)" \
  "$PX_URL/v1/chat/completions" &
CURL_PID=$!
sleep 0.1
kill -TERM "$PX_PID"
sleep 0.1
curl -sS -m 2 -o /dev/null "$PX_URL/v1/models" 2>/dev/null && fail "accepted after SIGTERM"
wait "$CURL_PID" || fail "the in-flight stream was cut by SIGTERM"
rc=0; wait "$PX_PID" || rc=$?
assert_eq "proxy exit status after draining" 0 "$rc"
grep -q '\[DONE\]' "$T/drain.b" || fail "drained stream incomplete"
assert_eq "drained exchange recorded whole, log closed" '[null, 150, true]' \
  "$(zjq "$T/p8.jsonl.gz" '[ex[0]["error"], ex[0]["tokens_out"], trl is not None]')"
stop_pid "$SIM_PID" INT

# a stream longer than --grace: cut when the grace period ends, recorded cancelled
start_sim
start_proxy "$T/p8b.jsonl.gz" "$SIM_URL" --grace 300ms
curl -sS -N -o "$T/cut.b" -H 'Content-Type: application/json' -d "$(chat 400)" \
  "$PX_URL/v1/chat/completions" 2>/dev/null &
CURL_PID=$!
sleep 0.2
t0=$(date +%s%N)
stop_proxy
ms=$((($(date +%s%N) - t0) / 1000000))
assert_le "stopped within grace + 0.7 s (ms)" "$ms" 1000
wait "$CURL_PID" && fail "curl should see its stream cut"
grep -q '\[DONE\]' "$T/cut.b" && fail "a stream cut by the stop must not end with [DONE]"
assert_eq "cut by the stop: recorded cancelled, trailer written" '["cancelled", "proxy stopped before the response ended", true]' \
  "$(zjq "$T/p8b.jsonl.gz" '[ex[0]["error"]["kind"], ex[0]["error"]["message"], trl is not None]')"
stop_pid "$SIM_PID" INT

# ---- 8. kill -9: every record older than a second survives -----------------------------------
start_sim
start_proxy "$T/p9.jsonl.gz" "$SIM_URL"
for i in 1 2 3; do
  curl -sS -N -o /dev/null -H 'Content-Type: application/json' -d "$(chat 3)" \
    "$PX_URL/v1/chat/completions"
done
sleep 1.6                              # the writer closes a member at least once a second
kill -9 "$PX_PID"
wait "$PX_PID" 2>/dev/null || true
stop_pid "$SIM_PID" INT
assert_eq "kill -9: the three records were on disk" 3 \
  "$(RQ_TORN_OK=1 rq "$T/p9.jsonl.gz" 'sum(1 for r in recs if r.get("type") == "exchange")')"

# ---- 9. filters, rotation, an HTTP/1.0 client ------------------------------------------------
start_sim
start_proxy "$T/f.jsonl.gz" "$SIM_URL" --no-bodies --path-prefix /v1/completions
curl -sS -N -o "$T/f1.b" -H 'Content-Type: application/json' -d "$(chat 3)" "$SIM_URL/v1/chat/completions"
curl -sS -N -o "$T/f2.b" -H 'Content-Type: application/json' -d "$(chat 3)" "$PX_URL/v1/chat/completions"
grep -q '^data: \[DONE\]' "$T/f2.b" || fail "a filtered request is still forwarded"
curl -sS -o "$T/f3.b" -H 'Content-Type: application/json' \
  -d '{"model":"m","prompt":"secret prompt text","max_tokens":3}' "$PX_URL/v1/completions"
stop_proxy
assert_eq "--path-prefix: only /v1/completions recorded, the other counted" \
  '["/v1/completions", 1]' "$(zjq "$T/f.jsonl.gz" '[ex[0]["request"]["path"] if len(ex) == 1 else len(ex), trl["stats"]["filtered"]]')"
assert_eq "--no-bodies: no prompt, no text, lengths kept" '[null, null, true]' \
  "$(zjq "$T/f.jsonl.gz" '[ex[0]["request"]["body"], ex[0]["response"]["text"], ex[0]["request"]["body_bytes"] > 0]')"
assert_eq "--no-bodies: the prompt is nowhere in the log" 0 "$(zcat "$T/f.jsonl.gz" | grep -c 'secret prompt' || true)"

# -G 1: a new file every second of wall time, each a whole log
start_proxy "$T/rot.jsonl.gz" "$SIM_URL" -G 1
for i in $(seq 1 5); do
  curl -sS -N -o /dev/null -H 'Content-Type: application/json' -d "$(chat 2)" "$PX_URL/v1/chat/completions"
  sleep 0.5
done
stop_proxy
n=0 sum=0
for f in "$T"/rot.*.jsonl.gz; do
  n=$((n + 1))
  assert_eq "$(basename "$f"): header and trailer" "[true, true]" "$(zjq "$f" '[hdr is not None, trl is not None]')"
  sum=$((sum + $(zjq "$f" 'len(ex)')))
done
assert_le "-G 1 over ~2.5 s: several files" 2 "$n"
assert_eq "-G files hold every exchange once" 5 "$sum"

# -G 1 -W 2: after two files the proxy stops by itself (as capture does), exit 0
start_proxy "$T/lim.jsonl.gz" "$SIM_URL" -G 1 -W 2
rc=0
for i in $(seq 1 60); do kill -0 "$PX_PID" 2>/dev/null || break; sleep 0.1; done
wait "$PX_PID" || rc=$?
assert_eq "-G 1 -W 2: stopped by itself with status 0" 0 "$rc"
assert_eq "-G 1 -W 2: two files" 2 "$(ls "$T"/lim.*.jsonl.gz | wc -l)"

# an HTTP/1.0 client: no chunked coding toward it, the body ends with the connection
start_proxy "$T/h10.jsonl.gz" "$SIM_URL"
python3 - "${PX_URL##*:}" "$(chat 5)" >"$T/h10.txt" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
b = sys.argv[2].encode()
s.sendall(b"POST /v1/chat/completions HTTP/1.0\r\nContent-Type: application/json\r\n"
          b"Content-Length: %d\r\n\r\n" % len(b) + b)
s.settimeout(10)
data = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    data += d
head, _, body = data.partition(b"\r\n\r\n")
print(int(b"chunked" in head.lower()), body.count(b"data: "), int(body.rstrip().endswith(b"data: [DONE]")))
PY
stop_proxy
stop_pid "$SIM_PID" INT
assert_eq "HTTP/1.0 client: not chunked, 8 events, ends with [DONE] then close" "0 8 1" "$(cat "$T/h10.txt")"

# pipelined requests (two in one write) are answered in order; a request sent a byte at a time
# works; garbage gets 400 or a close, and the proxy serves the next client
start_sim
start_proxy "$T/pl.jsonl.gz" "$SIM_URL"
python3 - "${PX_URL##*:}" "$(chat 3 first)" "$(chat 4 second)" >"$T/pl.txt" <<'PY'
import os, random, socket, sys, time
port = int(sys.argv[1])
def req(body, rid):
    b = body.encode()
    return (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"X-Request-Id: " + rid + b"\r\nContent-Length: %d\r\n\r\n" % len(b) + b)
def read_all(s, n_responses):
    s.settimeout(10)
    data = b""
    while data.count(b"0\r\n\r\n") < n_responses:
        d = s.recv(65536)
        if not d:
            break
        data += d
    return data
s = socket.create_connection(("127.0.0.1", port))
s.sendall(req(sys.argv[2], b"pl-1") + req(sys.argv[3], b"pl-2"))
d = read_all(s, 2)
ids = [l.split(b": ")[1].decode() for l in d.split(b"\r\n") if l.lower().startswith(b"x-request-id")]
print("order", ",".join(ids))
s.close()
s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
for ch in req(sys.argv[2], b"slow-1"):
    s.send(bytes([ch]))
    time.sleep(0.0005)
d = read_all(s, 1)
print("slow", int(b"data: [DONE]" in d))
s.close()
random.seed(7)
for i in range(20):
    g = socket.create_connection(("127.0.0.1", port))
    g.sendall(os.urandom(random.randint(1, 4000)) + b"\r\n\r\n")
    g.settimeout(5)
    try:
        r = g.recv(100)
    except (ConnectionResetError, socket.timeout):
        r = b""
    assert r == b"" or r.startswith(b"HTTP/1.1 4"), r
    g.close()
s = socket.create_connection(("127.0.0.1", port))
s.sendall(req(sys.argv[2], b"after"))
print("after", int(b"data: [DONE]" in read_all(s, 1)))
PY
stop_proxy
stop_pid "$SIM_PID" INT
assert_eq "pipelined: answered in order" "order pl-1,pl-2" "$(sed -n 1p "$T/pl.txt")"
assert_eq "a byte at a time: answered" "slow 1" "$(sed -n 2p "$T/pl.txt")"
assert_eq "after 20 garbage clients: still serving" "after 1" "$(sed -n 3p "$T/pl.txt")"
assert_eq "pipelined: the second request's t0 is not before the first's" true \
  "$(zjq "$T/pl.jsonl.gz" 'ex[1]["start_us"] >= ex[0]["start_us"] and len(ex) == 4')"

# URL credentials of --upstream stay out of the header (command and source)
start_proxy "$T/u.jsonl.gz" "http://user:hunter2@127.0.0.1:$DEAD/?api-key=S3CR3T"
stop_proxy
assert_eq "upstream URL credentials redacted in the header" 0 \
  "$(zcat "$T/u.jsonl.gz" | grep -c 'hunter2\|S3CR3T' || true)"

# ---- usage errors ----------------------------------------------------------------------------
assert_eq "--listen without --upstream" 2 "$("$CAP" --listen 127.0.0.1:0 -q 2>/dev/null; echo $?)"
assert_eq "--listen with -i" 2 "$("$CAP" --listen 127.0.0.1:0 --upstream http://127.0.0.1:1 -i lo -q 2>/dev/null; echo $?)"
assert_eq "--upstream not a URL" 2 "$("$CAP" --listen 127.0.0.1:0 --upstream 127.0.0.1:1 -q 2>/dev/null; echo $?)"
assert_eq "proxy flag without --listen" 2 "$("$CAP" -r /dev/null --grace 1s -q 2>/dev/null; echo $?)"
echo "all capture_proxy checks passed"
