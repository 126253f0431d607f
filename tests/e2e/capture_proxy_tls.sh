#!/usr/bin/env bash
# capture_proxy_tls.sh — the recording proxy with an HTTPS upstream: llmtrace-sim behind the
# tests' TLS front (tests/e2e/tls_proxy.py, HTTP/1.1) and behind their HTTP/2 front
# (tests/e2e/h2_front.py), with the self-signed fixture certificate. Verified against the
# fixture (--cacert) and skipped (--insecure), refused without either (502, error kind tls);
# over HTTP/2 (--http2) the records say so and the chunked stream reaches curl whole; and the
# proxy's own TLS listener (--tls-cert/--tls-key). Events and tokens equal the simulator's
# ground truth; every event after the simulator wrote it. With an HTTP/2 upstream a slow client
# pauses its own stream only: another stream on the same upstream connection is not held up.
. "$(dirname "$0")/lib.sh"
CAP="$BIN/llmtrace-capture"
T=$TEST_TMP
source "$SRC_DIR/tests/e2e/proxy_lib.sh"
FX=$SRC_DIR/tests/fixtures/tls

chat() {
  printf '{"model":"m","stream":true,"max_tokens":%s,"ignore_eos":true,"messages":[{"role":"user","content":"hello"}]}' "$1"
}
# check TRUTH LOG N: N records, events and tokens equal the truth's (matched by X-Request-Id),
# no event before the simulator's write, none a second late
check() {
  python3 - "$1" "$2" "$3" <<'PY'
import gzip, json, sys
def load(p):
    return [r for r in map(json.loads, gzip.open(p, "rt")) if r.get("type") == "exchange"]
def rid(e):
    return next((h[1] for h in e["request"]["headers"] if h[0].lower() == "x-request-id"), None)
truth = {rid(e): e for e in load(sys.argv[1])}
px = load(sys.argv[2])
bad = []
for e in px:
    t = truth.get(rid(e))
    if not t or e["error"] or len(e["response"]["events"]) != len(t["response"]["events"]) \
            or e["tokens_out"] != t["tokens_out"]:
        bad.append(("mismatch", e["id"]))
        continue
    for a, b in zip(e["response"]["events"], t["response"]["events"]):
        d = (e["start_us"] + a[0]) - (t["start_us"] + b[0])
        if d < -200 or d > 1000000:
            bad.append(("time", e["id"], d))
            break
print("ok" if len(px) == int(sys.argv[3]) and not bad else "bad %d %s" % (len(px), bad[:3]))
PY
}

start_sim --log "$T/truth1.jsonl.gz"
python3 "$SRC_DIR/tests/e2e/tls_proxy.py" "$FX/cert.pem" "$FX/key.pem" "$SIM_PORT" "$T/tls.port" \
  2>"$T/front.stderr" &
_pids+=("$!")
for _ in $(seq 1 100); do [ -s "$T/tls.port" ] && break; sleep 0.1; done
[ -s "$T/tls.port" ] || fail "tls_proxy.py did not start: $(cat "$T/front.stderr")"
UP="https://127.0.0.1:$(cat "$T/tls.port")"

# verified against the fixture's certificate (CN and SAN 127.0.0.1)
start_proxy "$T/v.jsonl.gz" "$UP" --cacert "$FX/cert.pem"
for i in 1 2 3; do
  curl -sS -N -o "$T/v$i.b" -H 'Content-Type: application/json' -H "X-Request-Id: v$i" \
    -d "$(chat 20)" "$PX_URL/v1/chat/completions"
  grep -q '^data: \[DONE\]' "$T/v$i.b" || fail "https --cacert: stream $i incomplete"
done
stop_proxy
# --insecure
start_proxy "$T/i.jsonl.gz" "$UP" --insecure
curl -sS -N -o "$T/i1.b" -H 'Content-Type: application/json' -H "X-Request-Id: i1" \
  -d "$(chat 20)" "$PX_URL/v1/chat/completions"
grep -q '^data: \[DONE\]' "$T/i1.b" || fail "https --insecure: stream incomplete"
stop_proxy
# neither: the self-signed certificate is refused → 502, recorded as tls
start_proxy "$T/n.jsonl.gz" "$UP"
code=$(curl -sS -o "$T/n.b" -w '%{http_code}' -H 'Content-Type: application/json' \
  -d "$(chat 20)" "$PX_URL/v1/chat/completions")
assert_eq "unverifiable upstream certificate → 502" 502 "$code"
stop_proxy
assert_eq "recorded as a tls error" tls "$(zjq "$T/n.jsonl.gz" 'ex[0]["error"]["kind"]')"
stop_pid "$SIM_PID" INT
assert_eq "https --cacert: records = ground truth" ok "$(check "$T/truth1.jsonl.gz" "$T/v.jsonl.gz" 3)"
assert_eq "https --insecure: records = ground truth" ok "$(check "$T/truth1.jsonl.gz" "$T/i.jsonl.gz" 1)"
assert_eq "https: one upstream connection reused, TLS setup timed once" '[true, false, false]' \
  "$(zjq "$T/v.jsonl.gz" '[e["proxy"]["conn_new"] for e in ex]')"

# a TLS listener (--tls-cert/--tls-key, the fixture certificate): curl verifies it, keeps the
# connection alive for a second request, and is offered only http/1.1; plain HTTP to it is
# dropped without harm
start_sim --log "$T/truth3.jsonl.gz"
start_proxy "$T/tl.jsonl.gz" "$SIM_URL" --tls-cert "$FX/cert.pem" --tls-key "$FX/key.pem"
PX_TLS="https://127.0.0.1:${PX_URL##*:}"
got=$(curl -sS -N --cacert "$FX/cert.pem" -H 'Content-Type: application/json' \
  -H 'X-Request-Id: t1' -d "$(chat 20)" "$PX_TLS/v1/chat/completions" -o "$T/t1.b" \
  --next --cacert "$FX/cert.pem" -H 'Content-Type: application/json' -H 'X-Request-Id: t2' \
  -d "$(chat 20)" "$PX_TLS/v1/chat/completions" -o "$T/t2.b" -w '%{num_connects} ')
assert_eq "TLS listener: the second request reused the connection" "0" "$(echo $got | awk '{print $NF}')"
for i in 1 2; do grep -q '^data: \[DONE\]' "$T/t$i.b" || fail "TLS listener: stream $i incomplete"; done
rc=0; curl -sS -m 5 -o /dev/null "$PX_URL/v1/models" 2>/dev/null || rc=$?
assert_eq "plain HTTP to the TLS listener: dropped (curl 52: empty reply)" 52 "$rc"
assert_eq "TLS listener: ALPN is http/1.1 even when h2 is offered" 1.1 \
  "$(curl -sS --http2 --cacert "$FX/cert.pem" -o /dev/null -w '%{http_version}' "$PX_TLS/v1/models")"
stop_proxy
stop_pid "$SIM_PID" INT
assert_eq "TLS listener: records = ground truth" ok "$(check "$T/truth3.jsonl.gz" "$T/tl.jsonl.gz" 2)"
assert_eq "TLS listener: header says tls" true "$(zjq "$T/tl.jsonl.gz" 'hdr["source"]["tls"]')"
assert_eq "--tls-cert without --tls-key is a usage error" 2 \
  "$("$CAP" --listen 127.0.0.1:0 --upstream http://127.0.0.1:1 --tls-cert "$FX/cert.pem" -q 2>/dev/null; echo $?)"
assert_eq "a key that is not the certificate's: runtime error" 1 \
  "$("$CAP" --listen 127.0.0.1:0 --upstream http://127.0.0.1:1 --tls-cert "$FX/cert.pem" --tls-key "$FX/cert.pem" -q -w "$T/bad.jsonl.gz" 2>/dev/null; echo $?)"

# start_h2_front NAME: the HTTP/2 front before the simulator; sets H2_PID, H2_URL; stats in
# $T/NAME.stats (on SIGUSR1 and SIGTERM)
start_h2_front() {
  rm -f "$T/$1.port"
  python3 "$SRC_DIR/tests/e2e/h2_front.py" "$FX/cert.pem" "$FX/key.pem" "$SIM_PORT" "$T/$1.port" \
    "$T/$1.stats" 2>"$T/$1.stderr" &
  H2_PID=$!
  _pids+=("$H2_PID")
  for _ in $(seq 1 100); do [ -s "$T/$1.port" ] && break; sleep 0.1; done
  [ -s "$T/$1.port" ] || fail "h2_front.py did not start: $(cat "$T/$1.stderr")"
  H2_URL="https://127.0.0.1:$(cat "$T/$1.port")"
}

# HTTP/2 upstream
start_sim --log "$T/truth2.jsonl.gz"
start_h2_front h2
start_proxy "$T/h2.jsonl.gz" "$H2_URL" --insecure --http2
pids=()
for i in 1 2 3 4; do
  curl -sS -N -o "$T/h$i.b" -D "$T/h$i.h" -H 'Content-Type: application/json' \
    -H "X-Request-Id: h$i" -d "$(chat 30)" "$PX_URL/v1/chat/completions" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a curl through the HTTP/2 upstream failed"; done
for i in 1 2 3 4; do
  grep -q '^data: \[DONE\]' "$T/h$i.b" || fail "http2: stream $i incomplete"
  grep -qi '^transfer-encoding: chunked' "$T/h$i.h" || fail "http2: stream $i not chunked to curl"
done
stop_proxy
stop_pid "$H2_PID" TERM
stop_pid "$SIM_PID" INT
assert_eq "http2: records say http2" '[true, true, true, true]' \
  "$(zjq "$T/h2.jsonl.gz" '[e["proxy"]["http2"] for e in ex]')"
assert_eq "http2: records = ground truth" ok "$(check "$T/truth2.jsonl.gz" "$T/h2.jsonl.gz" 4)"

# HTTP/2 upstream and a slow client: only its stream pauses (its flow-control window is not
# given back), the other stream on the same upstream connection is not held up.
start_sim --profile zero
start_h2_front h2b
start_proxy "$T/h2slow.jsonl.gz" "$H2_URL" --insecure --http2 --max-pending 64k
# the slow client: 40,000 events (~7.7 MB; ~3 s through the front), not read until the other
# request is done ($T/h2go): the kernel's socket buffers fill within ~2 s, then the proxy pauses
# the stream (before the other request is sent, checked)
python3 - "${PX_URL##*:}" \
  '{"model":"m","stream":true,"max_tokens":40000,"ignore_eos":true,"messages":[{"role":"user","content":"x"}]}' \
  "$T/h2go" >"$T/h2slow.txt" <<'PY' &
import os, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
body = sys.argv[2].encode()
s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"X-Request-Id: slow\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
t0 = time.time()
while not os.path.exists(sys.argv[3]) and time.time() - t0 < 60:
    time.sleep(0.05)
data = b""
t0 = time.time()
s.settimeout(30)
while time.time() - t0 < 60:
    b = s.recv(65536)
    if not b:
        break
    data += b
print(data.count(b"data: "), data.count(b"data: [DONE]"))
PY
SLOW_PID=$!
_pids+=("$SLOW_PID")
# paused: the front is held back by that stream's own window, at two looks 0.3 s apart (a
# moment's wait for a WINDOW_UPDATE in normal flow is not a pause)
held=0
for _ in $(seq 1 100); do
  kill -USR1 "$H2_PID"
  sleep 0.3
  if [ "$(zjq "$T/h2b.stats" 'recs[0]["streams_held_by_window"]' 2>/dev/null || echo 0)" -ge 1 ]; then
    held=$((held + 1))
    [ "$held" -ge 2 ] && break
  else
    held=0
  fi
done
assert_eq "http2 slow client: its stream is held back by its own window" 2 "$held"
t_other=$(curl -sS -N --max-time 10 -o "$T/h2fast.b" -w '%{time_total}' -H 'Content-Type: application/json' \
  -H "X-Request-Id: fast" -d "$(chat 30)" "$PX_URL/v1/chat/completions") ||
  fail "the other stream through the HTTP/2 upstream failed"
grep -q '^data: \[DONE\]' "$T/h2fast.b" || fail "http2 slow client: the other stream is incomplete"
touch "$T/h2go"
# (held up by the slow client it would not end: the slow client reads only after it)
assert_le "http2 slow client: the other stream is not held up (ms)" \
  "$(/usr/bin/python3 -c "print(int(float('$t_other') * 1000))")" 2500
wait "$SLOW_PID" || fail "the slow client failed"
read -r nevents ndone <"$T/h2slow.txt"
stop_proxy
stop_pid "$H2_PID" TERM
stop_pid "$SIM_PID" INT
assert_eq "http2 slow client: its stream ended with [DONE]" 1 "$ndone"
assert_le "http2 slow client: every event arrived" 40001 "$nevents"
assert_le "http2 slow client: the stream paused" 1 "$(zjq "$T/h2slow.jsonl.gz" 'trl["stats"]["pauses"]')"
assert_eq "http2 slow client: both recorded whole, over HTTP/2" '[["fast", null, 30, true], ["slow", null, 40000, true]]' \
  "$(zjq "$T/h2slow.jsonl.gz" 'sorted([next(h[1] for h in e["request"]["headers"] if h[0].lower() == "x-request-id"), e["error"], e["tokens_out"], e["proxy"]["http2"]] for e in ex)')"
assert_eq "http2 slow client: the slow stream was paused while the other ran (no event of it then)" 0 \
  "$(python3 - "$T/h2slow.jsonl.gz" <<'PY'
import gzip, json, sys
ex = [r for r in map(json.loads, gzip.open(sys.argv[1], "rt")) if r.get("type") == "exchange"]
rid = lambda e: next(h[1] for h in e["request"]["headers"] if h[0].lower() == "x-request-id")
f = next(e for e in ex if rid(e) == "fast")
w = next(e for e in ex if rid(e) == "slow")
a, b = f["start_us"], f["start_us"] + f["response"]["end_us"]
print(sum(1 for v in w["response"]["events"] if a <= w["start_us"] + v[0] <= b))
PY
)"
assert_eq "http2 slow client: both streams on one upstream connection" '[1, 2]' \
  "$(zjq "$T/h2b.stats" '[recs[0]["connections"], recs[0]["max_streams_per_connection"]]')"
echo "all capture_proxy_tls checks passed"
